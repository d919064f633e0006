package main

import (
	"encoding/hex"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/stretchr/testify/require"
)

// devChain is geth --dev as the chain tests drive it: its clients and its
// dev account, whose transactions geth signs (eth_sendTransaction).
type devChain struct {
	t   *testing.T
	RPC *rpc.Client
	Eth *ethclient.Client
	Dev common.Address
}

// dialDevChain connects to geth --dev at url for the test's duration.
func dialDevChain(t *testing.T, url string) *devChain {
	t.Helper()
	rc, err := rpc.DialContext(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(rc.Close)
	return &devChain{t: t, RPC: rc, Eth: ethclient.NewClient(rc),
		Dev: common.HexToAddress("0x71562b71999873DB5b286dF957af199Ec94617F7")}
}

// Send sends a transaction from the dev account (to nil: a contract
// creation; value and data optional) and returns its receipt, which must
// be successful.
func (c *devChain) Send(to *common.Address, value *big.Int, data []byte) *types.Receipt {
	t := c.t
	t.Helper()
	arg := map[string]any{"from": c.Dev}
	if to != nil {
		arg["to"] = *to
	}
	if value != nil {
		arg["value"] = "0x" + value.Text(16)
	}
	if len(data) > 0 {
		arg["data"] = "0x" + hex.EncodeToString(data)
	}
	var h common.Hash
	require.Eventually(t, func() bool {
		return c.RPC.CallContext(t.Context(), &h, "eth_sendTransaction", arg) == nil
	}, 10*time.Second, 50*time.Millisecond)
	var r *types.Receipt
	require.Eventually(t, func() bool {
		var err error
		r, err = c.Eth.TransactionReceipt(t.Context(), h)
		return err == nil
	}, 30*time.Second, 20*time.Millisecond)
	require.Equal(t, types.ReceiptStatusSuccessful, r.Status)
	return r
}

package evm_test

import (
	"crypto/ecdsa"
	"encoding/hex"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/indexer/evm/alephsync"
)

// devAccount is geth --dev's funded, unlocked account.
var devAccount = common.HexToAddress("0x71562b71999873DB5b286dF957af199Ec94617F7")

// devChain is a geth --dev node from scripts/test-servers.sh.
type devChain struct {
	t      *testing.T
	rpc    *rpc.Client
	client *ethclient.Client
	id     *big.Int
}

// gethDev connects to the test harness's geth; the test fails without
// it (never skipped).
func gethDev(t *testing.T) *devChain {
	t.Helper()
	url := os.Getenv("ALEPHQL_TEST_ETH_RPC")
	if url == "" {
		t.Fatal("ALEPHQL_TEST_ETH_RPC is not set: start the test servers (scripts/test-servers.sh start DIR && . DIR/env)")
	}
	rc, err := rpc.DialContext(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(rc.Close)
	c := ethclient.NewClient(rc)
	id, err := c.ChainID(t.Context())
	require.NoError(t, err)
	return &devChain{t: t, rpc: rc, client: c, id: id}
}

// devSend sends a transaction from the dev account and waits for it.
func (d *devChain) devSend(to common.Address, value *big.Int, data []byte) *types.Receipt {
	d.t.Helper()
	arg := map[string]any{"from": devAccount, "to": to, "value": (*hexBig)(value)}
	if len(data) > 0 {
		arg["data"] = "0x" + hex.EncodeToString(data)
	}
	var h common.Hash
	require.Eventually(d.t, func() bool { // a dev node just started may refuse
		return d.rpc.CallContext(d.t.Context(), &h, "eth_sendTransaction", arg) == nil
	}, 10*time.Second, 50*time.Millisecond)
	return d.wait(h)
}

type hexBig big.Int

func (h *hexBig) MarshalText() ([]byte, error) {
	if h == nil {
		return []byte("0x0"), nil
	}
	return []byte("0x" + (*big.Int)(h).Text(16)), nil
}

// wait waits for a transaction's receipt (retrying while the node says
// transaction indexing is in progress).
func (d *devChain) wait(h common.Hash) *types.Receipt {
	d.t.Helper()
	var rc *types.Receipt
	require.Eventually(d.t, func() bool {
		r, err := d.client.TransactionReceipt(d.t.Context(), h)
		if err != nil {
			return false
		}
		rc = r
		return true
	}, 30*time.Second, 20*time.Millisecond)
	require.Equal(d.t, types.ReceiptStatusSuccessful, rc.Status, "tx %s failed", h)
	return rc
}

// account is a key funded by the dev account.
type account struct {
	key  *ecdsa.PrivateKey
	addr common.Address
	opts *bind.TransactOpts
}

func (d *devChain) newAccount() *account {
	d.t.Helper()
	k, err := crypto.GenerateKey()
	require.NoError(d.t, err)
	a := &account{key: k, addr: crypto.PubkeyToAddress(k.PublicKey), opts: bind.NewKeyedTransactor(k, d.id)}
	eth := new(big.Int).Exp(big.NewInt(10), big.NewInt(19), nil)
	d.devSend(a.addr, eth, nil)
	return a
}

// deploy deploys AlephSync from a and returns the bound contract and the
// deployment block.
func (d *devChain) deploy(a *account) (*bind.BoundContract, uint64) {
	d.t.Helper()
	code := common.FromHex(strings.TrimSpace(alephsync.AlephSyncMetaData.Bin))
	addr, tx, err := bind.DeployContract(a.opts, code, d.client, nil)
	require.NoError(d.t, err)
	rc := d.wait(tx.Hash())
	return alephsync.NewAlephSync().Instance(d.client, addr), rc.BlockNumber.Uint64()
}

// emit calls doEmit(msg) from a.
func (d *devChain) emit(c *bind.BoundContract, a *account, msg string) *types.Receipt {
	d.t.Helper()
	tx, err := bind.Transact(c, a.opts, alephsync.NewAlephSync().PackDoEmit(msg))
	require.NoError(d.t, err)
	return d.wait(tx.Hash())
}

// message calls doMessage(typ, content) from a.
func (d *devChain) message(c *bind.BoundContract, a *account, typ, content string) *types.Receipt {
	d.t.Helper()
	tx, err := bind.Transact(c, a.opts, alephsync.NewAlephSync().PackDoMessage(typ, content))
	require.NoError(d.t, err)
	return d.wait(tx.Hash())
}

// finalize mines empty blocks until the finalized block reaches n
// (geth --dev finalizes at multiples of 32).
func (d *devChain) finalize(n uint64) {
	d.t.Helper()
	for {
		h, err := d.client.HeaderByNumber(d.t.Context(), big.NewInt(int64(rpc.FinalizedBlockNumber)))
		require.NoError(d.t, err)
		if h.Number.Uint64() >= n {
			return
		}
		d.devSend(devAccount, big.NewInt(0), nil)
	}
}

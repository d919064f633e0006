// Command chainpub is the chain catch-up benchmark's publisher
// (scripts/bench-chain.sh): on a geth --dev node it deploys the AlephSync
// contract from the dev account and calls doEmit once per line of its
// input (each an aleph-offchain payload), then mines until the finalized
// block covers the last event. It prints "CONTRACT START_HEIGHT EMITTER".
package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/alephql/alephql/indexer/evm/alephsync"
)

func main() {
	url := flag.String("rpc", "", "geth --dev JSON-RPC URL")
	in := flag.String("payloads", "", "file of doEmit payloads, one per line")
	flag.Parse()
	if err := run(context.Background(), *url, *in); err != nil {
		fmt.Fprintln(os.Stderr, "chainpub:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url, in string) error {
	rc, err := rpc.DialContext(ctx, url)
	if err != nil {
		return err
	}
	defer rc.Close()
	ec := ethclient.NewClient(rc)
	var accounts []common.Address
	if err := rc.CallContext(ctx, &accounts, "eth_accounts"); err != nil || len(accounts) == 0 {
		return fmt.Errorf("no dev account: %v", err)
	}
	dev := accounts[0]
	send := func(to *common.Address, data []byte) (*types.Receipt, error) {
		arg := map[string]any{"from": dev}
		if to != nil {
			arg["to"] = *to
		}
		if len(data) > 0 {
			arg["data"] = "0x" + hex.EncodeToString(data)
		}
		var h common.Hash
		if err := rc.CallContext(ctx, &h, "eth_sendTransaction", arg); err != nil {
			return nil, err
		}
		for range 3000 {
			r, err := ec.TransactionReceipt(ctx, h)
			if err == nil {
				return r, nil
			}
			time.Sleep(10 * time.Millisecond)
		}
		return nil, fmt.Errorf("no receipt for %s", h)
	}
	dep, err := send(nil, common.FromHex(strings.TrimSpace(alephsync.AlephSyncMetaData.Bin)))
	if err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	contract := dep.ContractAddress
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	last := dep.BlockNumber
	a := alephsync.NewAlephSync()
	for sc.Scan() {
		r, err := send(&contract, a.PackDoEmit(sc.Text()))
		if err != nil {
			return fmt.Errorf("doEmit: %w", err)
		}
		last = r.BlockNumber
	}
	if err := sc.Err(); err != nil {
		return err
	}
	for { // geth --dev finalizes at multiples of 32
		h, err := ec.HeaderByNumber(ctx, big.NewInt(int64(rpc.FinalizedBlockNumber)))
		if err != nil {
			return err
		}
		if h.Number.Cmp(last) >= 0 {
			break
		}
		if _, err := send(&dev, nil); err != nil {
			return err
		}
	}
	fmt.Println(contract.Hex(), dep.BlockNumber, dev.Hex())
	return nil
}

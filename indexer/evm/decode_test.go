package evm

import (
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/alephql/alephql/indexer/evm/alephsync"
)

// TestDecodeBadLogs: log data that is not the event's ABI encoding, under
// either topic, gives a chain transaction recorded with its error. (Not a
// fuzz target: this package's test binary links go-ethereum's simulated
// node, too heavy to instrument for fuzz.sh's short runs.)
func TestDecodeBadLogs(t *testing.T) {
	f := t
	a := alephsync.NewAlephSync()
	ev := a.GetABI().Events["SyncEvent"]
	good, err := ev.Inputs.NonIndexed().Pack(common.Big1, common.HexToAddress("0x01"), `{"protocol":"aleph","version":1,"content":{"messages":[]}}`)
	if err != nil {
		f.Fatal(err)
	}
	r, err := New(Config{Chain: "ETH", Contract: common.HexToAddress("0x02"), Emitters: []common.Address{common.HexToAddress("0x01")}},
		Deps{Client: nilClient{}, Sink: nil})
	if err == nil || r != nil {
		f.Fatal("a reader without sink must be refused")
	}
	r = &Reader{cfg: Config{Chain: "ETH"}.withDefaults(), abi: a, auth: map[common.Address]bool{common.HexToAddress("0x01"): true}}
	for _, c := range []struct {
		data    []byte
		message bool
		valid   bool
	}{{good, false, true}, {[]byte("not abi"), false, false}, {[]byte("not abi"), true, false}, {good, true, false}, {nil, true, false}, {nil, false, false}} {
		data, message := c.data, c.message
		topic := SyncEventTopic
		if message {
			topic = MessageEventTopic
		}
		l := &types.Log{Topics: []common.Hash{topic}, Data: data, BlockNumber: 7}
		tx := r.decode(l, map[common.Hash]int{})
		if tx.Error == "" && tx.Protocol == "" {
			t.Fatal("a valid transaction without protocol")
		}
		if tx.Height != 7 {
			t.Fatal("height lost")
		}
		if (tx.Error == "") != c.valid {
			t.Fatalf("data %q under message=%v: error %q", data, message, tx.Error)
		}
	}
}

type nilClient struct{ Client }

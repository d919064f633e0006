package indexer_test

import (
	"encoding/json"
	"math"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/indexer"
)

const conformance = "../../shared/conformance/chains/"

// TestSmartContractVectors reproduces the smart-contract vectors: exact
// item_content bytes (Python json.dumps for STORE_IPFS) and item_hash.
func TestSmartContractVectors(t *testing.T) {
	raw, err := os.ReadFile(conformance + "vectors.json")
	require.NoError(t, err)
	var vectors []struct {
		Source string `json:"source"`
		Kind   string `json:"kind"`
		Input  struct {
			ChainTx *struct {
				Chain   string          `json:"chain"`
				Unix    float64         `json:"datetime_unix"`
				Content json.RawMessage `json:"content"`
			} `json:"chain_tx"`
			Event json.RawMessage `json:"indexer_message_event"`
		} `json:"input"`
		Expected struct {
			ChainTx *struct {
				Chain   string          `json:"chain"`
				Unix    float64         `json:"datetime_unix"`
				Content json.RawMessage `json:"content"`
			} `json:"chain_tx"`
			Messages []map[string]any `json:"messages"`
		} `json:"expected"`
	}
	require.NoError(t, json.Unmarshal(raw, &vectors))
	n := 0
	for _, v := range vectors {
		if v.Kind != "smart-contract" {
			continue
		}
		t.Run(v.Source, func(t *testing.T) {
			src := v.Input.ChainTx
			if src == nil {
				src = v.Expected.ChainTx
			}
			require.NotNil(t, src)
			tx := indexer.ChainTx{Chain: src.Chain, Time: unixTime(src.Unix), Content: src.Content}
			got, err := indexer.SmartContractMessage(tx)
			require.NoError(t, err)
			var m map[string]any
			require.NoError(t, json.Unmarshal(got, &m))
			want := v.Expected.Messages[0]
			for _, k := range []string{"sender", "chain", "signature", "item_type", "time", "type", "item_content", "item_hash"} {
				require.Equal(t, want[k], m[k], k)
			}
		})
		n++
	}
	require.Equal(t, 5, n)
}

func unixTime(f float64) time.Time {
	return time.UnixMicro(int64(math.Round(f * 1e6))).UTC()
}

// TestPyFloat checks Python repr formatting of floats.
func TestPyFloat(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{
		{1668611900, "1668611900.0"},
		{1677248195.123, "1677248195.123"},
		{1697718147.2695966, "1697718147.2695966"},
		{0, "0.0"},
		{-2.5, "-2.5"},
		{1e16, "1e+16"},
		{1.5e-5, "1.5e-05"},
		{0.0001, "0.0001"},
		{1e15, "1000000000000000.0"},
	} {
		require.Equal(t, c.want, indexer.PyFloat(c.in), "%v", c.in)
	}
}

// TestPyJSONString checks Python json.dumps string escaping.
func TestPyJSONString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"abc", `"abc"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"é", `"\u00e9"`},
		{"😀", `"\ud83d\ude00"`},
		{"\x01\n\t/<>&", `"\u0001\n\t/<>&"`},
		{"\u2028", `"\u2028"`},
	} {
		require.Equal(t, c.want, indexer.PyJSONString(c.in), "%q", c.in)
	}
}

// TestSmartContractBadInput: payloads that cannot make a message.
func TestSmartContractBadInput(t *testing.T) {
	for name, content := range map[string]string{
		"not json":          `nope`,
		"no timestamp":      `{"address":"0xabc","type":"POST","content":"{}"}`,
		"no address":        `{"timestamp":1,"type":"POST","content":"{}"}`,
		"no type":           `{"timestamp":1,"address":"0xabc","content":"{}"}`,
		"store_ipfs no cid": `{"timestamp":1,"address":"0xabc","type":"STORE_IPFS","content":"not-a-cid"}`,
	} {
		_, err := indexer.SmartContractMessage(indexer.ChainTx{Chain: "ETH", Content: json.RawMessage(content)})
		require.ErrorIs(t, err, indexer.ErrBadPayload, name)
	}
}

// FuzzParseSyncPayload: any SyncEvent message string is decoded or
// refused, never panics.
func FuzzParseSyncPayload(f *testing.F) {
	f.Add(`{"protocol":"aleph-offchain","version":1,"content":"QmV9tkuBEoSnmSuh7SakL7J33zCuUgDTckA17qyRpz3oDx"}`)
	f.Add(`{"protocol": "on_chain_sync", "version": 1, "content": {"test": "data"}}`)
	f.Add(`not json`)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := indexer.ParseSyncPayload(s)
		if err == nil && p.Protocol == "" {
			t.Fatal("accepted a payload without protocol")
		}
	})
}

// FuzzSmartContractMessage: any contract payload gives a message whose
// item_hash is the sha256 of its item_content, or an error.
func FuzzSmartContractMessage(f *testing.F) {
	f.Add(`{"timestamp":1677248195000,"address":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266","type":"STORE_IPFS","content":"QmaMLRsvmDRCezZe2iebcKWtEzKNjBaQfwcu7mcpdm8eY2"}`)
	f.Add(`{"timestamp":1668611900,"addr":"KT1VBeLD7hzKpj17aRJ3Kc6QQFeikCEXi7W6","msgtype":"POST","msgcontent":"{\"a\": \"é\"}"}`)
	f.Fuzz(func(t *testing.T, s string) {
		m, err := indexer.SmartContractMessage(indexer.ChainTx{Chain: "ETH", Content: json.RawMessage(s)})
		if err != nil {
			return
		}
		var w struct {
			ItemContent string `json:"item_content"`
			ItemHash    string `json:"item_hash"`
		}
		require.NoError(t, json.Unmarshal(m, &w))
		require.Len(t, w.ItemHash, 64)
	})
}

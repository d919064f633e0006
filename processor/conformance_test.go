package processor_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/message"
)

// conformance reads a file of the shared conformance vectors.
func conformance(t *testing.T, name string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "shared", "conformance", name))
	require.NoError(t, err)
	var v []map[string]any
	require.NoError(t, json.Unmarshal(b, &v))
	return v
}

func TestConformanceAggregates(t *testing.T) {
	// The reference node's aggregate fixture, imported in file order
	// (which is not time order): every valid element is processed and
	// each aggregate is the shallow merge of its elements by content
	// time, computed here independently; the element whose content was
	// edited after signing is rejected at intake.
	msgs := conformance(t, "pyaleph__api__fixtures__fixture_aggregates.json")
	raw, err := json.Marshal(msgs)
	require.NoError(t, err)
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db, processor.Config{})
		sum, err := e.p.Import(t.Context(), bytes.NewReader(raw), 100, nil)
		require.NoError(t, err)
		require.Equal(t, len(msgs), sum.Read)
		e.drain()
		type el struct {
			t       float64
			hash    string
			content map[string]any
		}
		groups := map[[2]string][]el{}
		for _, m := range msgs {
			h := m["item_hash"].(string)
			if h[:8] == "a87004aa" {
				require.Equal(t, messagestatus.StatusRejected, e.status(h))
				require.Equal(t, 0, e.rejectedCode(h))
				continue
			}
			require.Equal(t, messagestatus.StatusProcessed, e.status(h), h)
			var c struct {
				Address string         `json:"address"`
				Key     string         `json:"key"`
				Time    float64        `json:"time"`
				Content map[string]any `json:"content"`
			}
			require.NoError(t, json.Unmarshal([]byte(m["item_content"].(string)), &c))
			k := [2]string{c.Address, c.Key}
			groups[k] = append(groups[k], el{c.Time, h, c.Content})
		}
		require.NotEmpty(t, groups)
		for k, els := range groups {
			sort.Slice(els, func(i, j int) bool {
				if els[i].t != els[j].t {
					return els[i].t < els[j].t
				}
				return els[i].hash < els[j].hash
			})
			want := map[string]any{}
			for _, x := range els {
				for kk, v := range x.content {
					want[kk] = v
				}
			}
			require.Equal(t, want, e.aggContent(k[0], k[1]), "aggregate %v", k)
		}
	})
}

func TestConformanceSignedMessages(t *testing.T) {
	// The reference node's signed messages of many chains, inline POSTs
	// and AGGREGATEs: a copy whose signature was tampered with is rejected
	// with INVALID_SIGNATURE; the genuine message, submitted again after
	// that rejection, passes the signature check (it may still be refused
	// for another reason, e.g. an owner it may not act for, or wait for a
	// dependency).
	b, err := os.ReadFile(filepath.Join("..", "..", "shared", "conformance", "pyaleph__tests-embedded-signed-messages.json"))
	require.NoError(t, err)
	// Raw values: re-encoding item_content could change its bytes.
	var orig []map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &orig))
	str := func(m map[string]json.RawMessage, k string) string {
		var s string
		_ = json.Unmarshal(m[k], &s)
		return s
	}
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db, processor.Config{MaxRetries: 1})
		checked := 0
		for _, o := range orig {
			m := maps.Clone(o) // the loop edits it
			if it := str(m, "item_type"); (it != "" && it != "inline") || (str(m, "type") != "POST" && str(m, "type") != "AGGREGATE") || str(m, "chain") == "NULS" {
				continue // NULS v1 signatures: see package chains
			}
			var ver struct {
				HashOK bool `json:"item_hash_matches_sha256_item_content"`
			}
			require.NoError(t, json.Unmarshal(m["_verification"], &ver))
			delete(m, "_verification")
			h := str(m, "item_hash")
			if !ver.HashOK && !message.IsHexSHA256(h) {
				continue // a CID: not recomputable here
			}
			if !ver.HashOK {
				raw, err := json.Marshal(m)
				require.NoError(t, err)
				_, err = e.p.Submit(t.Context(), raw, processor.OriginAPI, nil)
				require.ErrorIs(t, err, errcode.New(errcode.InvalidFormat, ""), h)
				continue
			}
			genuine, err := json.Marshal(m)
			require.NoError(t, err)
			if str(m, "chain") == "ETH" {
				sig := []byte(str(m, "signature"))
				sig[10] ^= 1 // still hex, another signature
				m["signature"], _ = json.Marshal(string(sig))
				bad, err := json.Marshal(m)
				require.NoError(t, err)
				e.submit(bad)
				e.drain()
				require.Equal(t, messagestatus.StatusRejected, e.status(h), h)
				if e.rejectedCode(h) != 1 {
					rm, _ := db.Client.RejectedMessage.Get(t.Context(), h)
					t.Fatalf("%s: %s %s", h, string(rm.Details), ptr(rm.Traceback))
				}
			}
			r, err := e.p.Submit(t.Context(), genuine, processor.OriginAPI, nil)
			require.NoError(t, err, "%s %s", str(m, "chain"), h)
			require.Equal(t, processor.Queued, r.Outcome)
			e.drain()
			if e.status(h) == messagestatus.StatusRejected {
				require.NotEqual(t, 1, e.rejectedCode(h), "%s %s", str(m, "chain"), h)
			}
			checked++
		}
		require.Greater(t, checked, 5)
	})
}

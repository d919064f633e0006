package rest_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/rest"
)

// TestNormalizedContentRoute: GET /api/v0/messages/{hash} of a processed
// PROGRAM, INSTANCE and V-PROGRAM serves their content as pyaleph's models dump it
// (absent optional fields null or their default, nested models too),
// while messages.json serves the raw stored content; on both back-ends.
func TestNormalizedContentRoute(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		n := newNode(t, db, rest.Config{})
		ctx := t.Context()
		const acct = "0x0000000000000000000000000000000000000001"
		for _, tt := range []struct {
			typ     string
			content string
			check   func(t *testing.T, c map[string]any)
		}{
			{"PROGRAM", `{"address":"` + acct + `","time":1750000000,"allow_amend":false,"type":"vm-function",
				"code":{"encoding":"zip","entrypoint":"main:app","ref":"` + sha256hex([]byte("code")) + `"},
				"runtime":{"ref":"` + sha256hex([]byte("rt")) + `","comment":"python"},"on":{"http":true},
				"environment":{"internet":true},"resources":{"vcpus":1,"memory":256,"seconds":30}}`,
				func(t *testing.T, c map[string]any) {
					code := c["code"].(map[string]any)
					require.Contains(t, code, "interface")
					require.Nil(t, code["interface"])
					require.Equal(t, false, code["use_latest"])
					require.Equal(t, true, c["runtime"].(map[string]any)["use_latest"])
					require.Equal(t, map[string]any{"http": true, "message": nil, "persistent": nil}, c["on"])
					require.Equal(t, map[string]any{"reproducible": false, "internet": true, "aleph_api": false, "shared_cache": false}, c["environment"])
					for _, k := range []string{"data", "export", "metadata", "payment", "requirements", "replaces", "variables", "authorized_keys"} {
						require.Contains(t, c, k)
						require.Nil(t, c[k], k)
					}
					require.Equal(t, []any{}, c["volumes"])
				}},
			{"INSTANCE", `{"address":"` + acct + `","time":1750000000,"allow_amend":false,
				"rootfs":{"parent":{"ref":"` + sha256hex([]byte("os")) + `"},"persistence":"host","size_mib":20480},
				"environment":{"internet":true},"resources":{"vcpus":2,"memory":4096},"payment":{"type":"hold","chain":"ETH"}}`,
				func(t *testing.T, c map[string]any) {
					require.Equal(t, true, c["rootfs"].(map[string]any)["parent"].(map[string]any)["use_latest"])
					env := c["environment"].(map[string]any)
					require.Contains(t, env, "hypervisor")
					require.Contains(t, env, "trusted_execution")
					require.InDelta(t, 1.0, c["resources"].(map[string]any)["seconds"], 0)
					require.Contains(t, c["resources"], "published_ports")
					require.Equal(t, map[string]any{"type": "hold", "chain": "ETH", "receiver": nil}, c["payment"])
					require.Equal(t, []any{}, c["volumes"])
				}},
			{"V-PROGRAM", `{"address":"` + acct + `","time":1750000000,"allow_amend":false,"payment":{"type":"credit"},
				"environment":{},"resources":{"vcpus":2,"memory":2048},"runtime":{"ref":"` + sha256hex([]byte("rt")) + `"},
				"workload":{"ref":"` + sha256hex([]byte("w")) + `","hash_tree":"` + sha256hex([]byte("wt")) + `","roothash":"` + sha256hex([]byte("root")) + `"},
				"verification":{"backend":"sev_snp","measurements":[{"platform":"sev_snp","digest":"` + sha256hex([]byte("m")) + `"}]},
				"volumes":[{"ref":"` + sha256hex([]byte("v")) + `","hash_tree":"` + sha256hex([]byte("vt")) + `","roothash":"` + sha256hex([]byte("vr")) + `"}]}`,
				func(t *testing.T, c map[string]any) {
					require.Equal(t, map[string]any{"type": "credit", "chain": nil, "receiver": nil}, c["payment"])
					require.Equal(t, map[string]any{"internet": false}, c["environment"])
					require.Equal(t, "", c["runtime"].(map[string]any)["comment"])
					require.NotContains(t, c["runtime"], "use_latest", "a V-PROGRAM runtime has no use_latest")
					require.InDelta(t, 196608.0, c["verification"].(map[string]any)["policy"], 0)
					vol := c["volumes"].([]any)[0].(map[string]any)
					require.Equal(t, "", vol["comment"])
					require.NotContains(t, vol, "mount", "verified volumes are not machine volumes")
					for _, k := range []string{"metadata", "requirements", "replaces", "variables", "authorized_keys"} {
						require.Contains(t, c, k)
						require.Nil(t, c[k], k)
					}
				}},
		} {
			t.Run(tt.typ, func(t *testing.T) {
				var compact map[string]any
				require.NoError(t, json.Unmarshal([]byte(tt.content), &compact))
				raw, err := json.Marshal(compact)
				require.NoError(t, err)
				hash := sha256hex(raw)
				now := time.Now().UTC()
				db.Client.MessageStatus.Create().SetID(hash).SetStatus(messagestatus.StatusProcessed).SetReceptionTime(now).SetUpdatedAt(now).ExecX(ctx)
				db.Client.Message.Create().SetID(hash).SetType(tt.typ).SetChain("ETH").SetSender(acct).SetItemType("inline").
					SetItemContent(string(raw)).SetContent(raw).SetTime(time.Unix(1750000000, 0)).SetReceptionTime(now).
					SetOwner(acct).ExecX(ctx)

				var one struct {
					Status  string `json:"status"`
					Message struct {
						Content map[string]any `json:"content"`
					} `json:"message"`
				}
				require.Equal(t, http.StatusOK, n.get("/api/v0/messages/"+hash, &one))
				require.Equal(t, "processed", one.Status)
				tt.check(t, one.Message.Content)

				var list struct {
					Messages []struct {
						Content map[string]any `json:"content"`
					} `json:"messages"`
				}
				require.Equal(t, http.StatusOK, n.get("/api/v0/messages.json?hashes="+hash, &list))
				require.Len(t, list.Messages, 1)
				require.Equal(t, compact, list.Messages[0].Content, "lists serve the raw content")
			})
		}
	})
}

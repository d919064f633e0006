package rest_test

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/file"
	"github.com/alephql/alephql/ent/filepin"
	"github.com/alephql/alephql/ent/nodemetric"
	"github.com/alephql/alephql/rest"
)

// walk reads every page of a page-mode list (pagination per page) and
// returns the items' keys, failing on a duplicate; the total must match.
func walk(t *testing.T, n *node, path, item string, per int, key func(map[string]any) string) []string {
	t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	var out []string
	seen := map[string]bool{}
	total := -1
	for page := 1; page < 100; page++ {
		var body map[string]any
		require.Equal(t, http.StatusOK, n.get(fmt.Sprintf("%s%spagination=%d&page=%d", path, sep, per, page), &body))
		items := body[item].([]any)
		total = int(body["pagination_total"].(float64))
		require.Equal(t, float64(per), body["pagination_per_page"])
		for _, it := range items {
			k := key(it.(map[string]any))
			require.False(t, seen[k], "duplicate %s on page %d of %s", k, page, path)
			seen[k] = true
			out = append(out, k)
		}
		if len(items) < per {
			break
		}
	}
	require.Len(t, out, total, "pages of %s add up to pagination_total", path)
	return out
}

// TestAccountRoutes: balance, balances, credit_balances, credit_history
// (+ summary) and files over rows the processor's handlers write, with
// page walks (no duplicate, no gap), filters and 422s, on both back-ends.
func TestAccountRoutes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		n := newNode(t, db, rest.Config{})
		ctx := t.Context()
		c := db.Client
		now := time.Now().UTC().Truncate(time.Second)
		for i := range 7 {
			for _, chain := range []string{"ETH", "AVAX"} {
				c.Balance.Create().SetAddress(fmt.Sprintf("0xA%02d", i)).SetChain(chain).SetEthHeight(1).
					SetBalance(fmt.Sprintf("%d.5", i*10)).SetLastUpdate(now).ExecX(ctx)
			}
		}
		c.Balance.Create().SetAddress("0xA01").SetChain("ETH").SetDapp("game").SetEthHeight(1).SetBalance("1000").SetLastUpdate(now).ExecX(ctx)
		for i := range 5 {
			lot := c.CreditBalance.Create().SetAddress(fmt.Sprintf("0xA%02d", i)).SetCreditRef("ref").SetCreditIndex(i).
				SetAmountRemaining(int64(100 * (i + 1))).SetMessageTimestamp(now).SetLastUpdate(now)
			if i == 4 {
				lot.SetExpirationDate(now.Add(-time.Hour)) // expired: not counted
			}
			lot.ExecX(ctx)
		}
		c.CreditBalance.Create().SetAddress("0xA01").SetCreditRef("ref2").SetCreditIndex(0).SetAmountRemaining(50).
			SetExpirationDate(now.Add(time.Hour)).SetMessageTimestamp(now).SetLastUpdate(now).ExecX(ctx)
		for i := range 9 {
			amt := int64(10 * (i + 1))
			if i%3 == 2 {
				amt = -amt
			}
			c.CreditHistory.Create().SetAddress("0xA01").SetCreditRef(fmt.Sprintf("h%d", i)).SetCreditIndex(0).
				SetAmount(amt).SetMessageTimestamp(now.Add(time.Duration(i) * time.Minute)).SetLastUpdate(now).ExecX(ctx)
		}
		for i := range 5 {
			h := fmt.Sprintf("%064x", i+1)
			c.File.Create().SetID(h).SetSize(int64(1000 * (i + 1))).SetCreatedAt(now).ExecX(ctx)
			c.FilePin.Create().SetFileHash(h).SetType(filepin.TypeMessage).SetOwner("0xA01").SetItemHash(fmt.Sprintf("%064x", 100+i)).
				SetCreated(now.Add(time.Duration(i) * time.Second)).ExecX(ctx)
		}

		t.Run("balance", func(t *testing.T) {
			var b map[string]any
			require.Equal(t, http.StatusOK, n.get("/api/v0/addresses/0xA01/balance?include_credit_details=true", &b))
			require.Equal(t, "0xA01", b["address"])
			require.InDelta(t, 21.0, b["balance"], 1e-9, "ETH + AVAX, the dApp balance left out")
			require.Equal(t, map[string]any{"ETH": 10.5, "AVAX": 10.5}, b["details"])
			require.InDelta(t, 0.0, b["locked_amount"], 0, "no cost lines (GraphQL's account tests cover the sum)")
			require.InDelta(t, 250.0, b["credit_balance"], 0)
			require.Len(t, b["credit_balance_details"], 2)
			require.Equal(t, http.StatusOK, n.get("/api/v0/addresses/0xA01/balance?chain=ETH", &b))
			require.InDelta(t, 10.5, b["balance"], 1e-9)
			require.Nil(t, b["credit_balance_details"])
			var e map[string]any
			require.Equal(t, http.StatusUnprocessableEntity, n.get("/api/v0/addresses/0xA01/balance?include_credit_details=maybe", &e))
			require.Equal(t, "include_credit_details", e["param"])
		})
		t.Run("balances", func(t *testing.T) {
			keys := walk(t, n, "/api/v0/balances", "balances", 3, func(m map[string]any) string {
				return m["address"].(string) + "/" + m["chain"].(string)
			})
			require.Len(t, keys, 14)
			require.True(t, sort.StringsAreSorted(keys))
			keys = walk(t, n, "/api/v0/balances?chains=ETH&min_balance=30", "balances", 2, func(m map[string]any) string {
				require.GreaterOrEqual(t, m["balance"].(float64), 30.0)
				return m["address"].(string)
			})
			require.Equal(t, []string{"0xA03", "0xA04", "0xA05", "0xA06"}, keys)
			// Cursor mode walks the same list.
			var walked []string
			cursor := ""
			for range 20 {
				var body struct {
					Balances []map[string]any `json:"balances"`
					Next     *string          `json:"next_cursor"`
				}
				require.Equal(t, http.StatusOK, n.get("/api/v0/balances?pagination=3&cursor="+cursor, &body))
				for _, b := range body.Balances {
					walked = append(walked, b["address"].(string)+"/"+b["chain"].(string))
				}
				if body.Next == nil {
					break
				}
				cursor = *body.Next
			}
			all := walk(t, n, "/api/v0/balances", "balances", 100, func(m map[string]any) string {
				return m["address"].(string) + "/" + m["chain"].(string)
			})
			require.Equal(t, all, walked, "cursor mode: no duplicate, no gap")
			var e map[string]any
			require.Equal(t, http.StatusUnprocessableEntity, n.get("/api/v0/balances?cursor=!!", &e))
			require.Equal(t, "cursor", e["param"])
			require.Equal(t, http.StatusUnprocessableEntity, n.get("/api/v0/balances?min_balance=lots", &e))
			require.Equal(t, "min_balance", e["param"])
		})
		t.Run("credit_balances", func(t *testing.T) {
			var got []string
			walkCredits := walk(t, n, "/api/v0/credit_balances", "credit_balances", 2, func(m map[string]any) string {
				got = append(got, fmt.Sprintf("%s=%v", m["address"], m["credits"]))
				return m["address"].(string)
			})
			require.Len(t, walkCredits, 4, "the expired lot's address has no credits")
			require.Equal(t, []string{"0xA00=100", "0xA01=250", "0xA02=300", "0xA03=400"}, got)
		})
		t.Run("credit_history", func(t *testing.T) {
			refs := walk(t, n, "/api/v0/addresses/0xA01/credit_history", "credit_history", 4, func(m map[string]any) string {
				return m["credit_ref"].(string)
			})
			require.Equal(t, []string{"h8", "h7", "h6", "h5", "h4", "h3", "h2", "h1", "h0"}, refs, "newest first")
			refs = walk(t, n, "/api/v0/addresses/0xA01/credit_history?direction=outgoing&sort_order=1", "credit_history", 4,
				func(m map[string]any) string { return m["credit_ref"].(string) })
			require.Equal(t, []string{"h2", "h5", "h8"}, refs)
			var s map[string]any
			require.Equal(t, http.StatusOK, n.get("/api/v0/addresses/0xA01/credit_history/summary", &s))
			require.Equal(t, map[string]any{"address": "0xA01", "entry_count": 9.0, "total_amount": 90.0,
				"total_incoming": 270.0, "total_outgoing": 180.0}, s)
			var e map[string]any
			require.Equal(t, http.StatusUnprocessableEntity, n.get("/api/v0/addresses/0xA01/credit_history?direction=sideways", &e))
			require.Equal(t, "direction", e["param"])
		})
		t.Run("files", func(t *testing.T) {
			hashes := walk(t, n, "/api/v0/addresses/0xA01/files?sort_order=1", "files", 2, func(m map[string]any) string {
				return m["file_hash"].(string)
			})
			require.Len(t, hashes, 5)
			require.Equal(t, fmt.Sprintf("%064x", 1), hashes[0], "oldest first with sort_order=1")
			var body map[string]any
			require.Equal(t, http.StatusOK, n.get("/api/v0/addresses/0xA01/files", &body))
			require.InDelta(t, 15000.0, body["total_size"], 0)
			require.Equal(t, http.StatusNotFound, n.get("/api/v0/addresses/0xNobody/files", nil))
		})
		t.Run("storage metadata", func(t *testing.T) {
			h := fmt.Sprintf("%064x", 2)
			var m map[string]any
			require.Equal(t, http.StatusOK, n.get("/api/v0/storage/metadata/"+h, &m))
			require.Equal(t, map[string]any{"file_hash": h, "type": "file", "size": 2000.0, "download_url": "/api/v0/storage/raw/" + h}, m)
			var count int
			require.Equal(t, http.StatusOK, n.get("/api/v0/storage/count/"+h, &count))
			require.Equal(t, 1, count)
			require.Equal(t, http.StatusOK, n.get("/api/v0/storage/by-message-hash/"+fmt.Sprintf("%064x", 101), &m))
			require.Equal(t, h, m["file_hash"])
			require.Equal(t, "0xA01", m["owner"])
			m = nil
			c.FileTag.Create().SetID("0xA01/avatar").SetOwner("0xA01").SetFileHash(h).SetLastUpdated(now).ExecX(ctx)
			require.Equal(t, http.StatusOK, n.get("/api/v0/storage/by-ref/0xA01/avatar", &m))
			require.Equal(t, map[string]any{"ref": "avatar", "owner": "0xA01", "file_hash": h, "size": 2000.0,
				"download_url": "/api/v0/storage/raw/" + h}, m)
			require.Equal(t, http.StatusNotFound, n.get("/api/v0/storage/metadata/"+strings.Repeat("f", 64), nil))
			require.Equal(t, http.StatusBadRequest, n.get("/api/v0/storage/count/nothex", nil))
			require.Equal(t, http.StatusBadRequest, n.get("/api/v0/storage/by-ref/avatar", nil))
			require.Equal(t, http.StatusNotFound, n.get("/api/v0/storage/by-ref/"+strings.Repeat("e", 64), nil))
			var lim map[string]map[string]float64
			require.Equal(t, http.StatusOK, n.get("/api/v0/storage/limits.json", &lim))
			require.Equal(t, float64(100<<20), lim["storage"]["max_file_size"])
			require.Equal(t, float64(4<<30), lim["ipfs"]["max_upload_car_size"])
			require.Equal(t, file.TypeFile, file.Type("file"))
		})
	})
}

// TestActivityRoutes: stats (v0 and v1, with a page walk), channels,
// post types, authorizations granted and received, programs on message,
// node metrics, version and info, over the demo dataset, on both
// back-ends; GET routes answer HEAD.
func TestActivityRoutes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		n := newNode(t, db, rest.Config{Node: rest.NodeInfo{Version: "1.2.3", MultiAddresses: []string{"/ip4/127.0.0.1/tcp/4025/p2p/Qm"}}})
		d := n.seed(120)
		a0, a1 := d.Accounts[0].Address(), d.Accounts[1].Address()

		var st struct {
			Data map[string]map[string]float64 `json:"data"`
		}
		require.Equal(t, http.StatusOK, n.get("/api/v0/addresses/stats.json?addresses[]="+a0+"&addresses[]="+a1, &st))
		require.Len(t, st.Data, 2)
		for addr, s := range st.Data {
			sum := 0.0
			for k, v := range s {
				if k != "messages" {
					sum += v
				}
			}
			require.Positive(t, s["messages"], addr)
			require.Equal(t, s["messages"], sum, "%s: the types add up to the total", addr)
		}
		senders := walk(t, n, "/api/v1/addresses/stats.json", "data", 1, func(m map[string]any) string { return m["address"].(string) })
		require.Len(t, senders, len(d.Accounts))
		var top map[string]any
		require.Equal(t, http.StatusOK, n.get("/api/v1/addresses/stats.json?sortBy=post&pagination=1&addressContains="+strings.ToUpper(a1[2:10]), &top))
		require.Equal(t, a1, top["data"].([]any)[0].(map[string]any)["address"])
		require.Equal(t, "addresses", top["pagination_item"])
		var e map[string]any
		require.Equal(t, http.StatusUnprocessableEntity, n.get("/api/v1/addresses/stats.json?sortBy=size", &e))
		require.Equal(t, "sortBy", e["param"])

		var ch map[string][]string
		require.Equal(t, http.StatusOK, n.get("/api/v0/channels/list.json", &ch))
		require.NotEmpty(t, ch["channels"])
		require.True(t, sort.StringsAreSorted(ch["channels"]))
		var ach map[string]any
		require.Equal(t, http.StatusOK, n.get("/api/v0/addresses/"+a0+"/channels", &ach))
		require.NotEmpty(t, ach["channels"])
		var pt map[string]any
		require.Equal(t, http.StatusOK, n.get("/api/v0/addresses/"+a0+"/post_types", &pt))
		require.Subset(t, []any{"note", "blog", "chat"}, pt["post_types"])

		var granted map[string]any
		require.Equal(t, http.StatusOK, n.get("/api/v0/authorizations/granted/"+a0+".json", &granted))
		require.Equal(t, map[string]any{a1: []any{map[string]any{"types": []any{"POST"}, "post_types": []any{"note"}}}}, granted["authorizations"])
		require.Equal(t, 1.0, granted["pagination_total"])
		require.Equal(t, http.StatusOK, n.get("/api/v0/authorizations/granted/"+a0+".json?types=STORE", &granted))
		require.Empty(t, granted["authorizations"])
		var received map[string]any
		require.Equal(t, http.StatusOK, n.get("/api/v0/authorizations/received/"+a1+".json", &received))
		require.Contains(t, received["authorizations"], a0)
		require.Equal(t, http.StatusOK, n.get("/api/v0/authorizations/received/"+a0+".json", &received))
		require.Empty(t, received["authorizations"])

		var progs []any
		require.Equal(t, http.StatusOK, n.get("/api/v0/programs/on/message", &progs))
		require.NotNil(t, progs)

		now := time.Now().UTC()
		for i := range 3 {
			db.Client.NodeMetric.Create().SetItemHash(fmt.Sprintf("%064x", i)).SetNodeType(nodemetric.NodeTypeCcn).SetNodeID("node1").
				SetMeasuredAt(now.Add(-time.Duration(i) * time.Hour)).SetData([]byte(fmt.Sprintf(`{"base_latency": %d, "node_id": "node1"}`, i))).
				ExecX(t.Context())
		}
		var met struct {
			Metrics map[string][]any `json:"metrics"`
		}
		require.Equal(t, http.StatusOK, n.get("/api/v0/core/node1/metrics?sort=desc", &met))
		require.Equal(t, []any{0.0, 1.0, 2.0}, met.Metrics["base_latency"])
		require.Len(t, met.Metrics["measured_at"], 3)
		require.Equal(t, http.StatusNotFound, n.get("/api/v0/compute/node1/metrics", nil))

		var v map[string]string
		require.Equal(t, http.StatusOK, n.get("/api/v0/version", &v))
		require.Equal(t, map[string]string{"version": "1.2.3"}, v)
		require.Equal(t, http.StatusOK, n.get("/version", &v))
		var info map[string][]string
		require.Equal(t, http.StatusOK, n.get("/api/v0/info/public.json", &info))
		require.Equal(t, []string{"/ip4/127.0.0.1/tcp/4025/p2p/Qm"}, info["node_multi_addresses"])

		var all struct {
			Data map[string]map[string]float64 `json:"data"`
		}
		q := ""
		for _, a := range d.Accounts {
			q += "&addresses[]=" + a.Address()
		}
		require.Equal(t, http.StatusOK, n.get("/api/v0/addresses/stats.json?"+q[1:], &all))
		total := 0.0
		for _, s := range all.Data {
			total += s["messages"]
		}
		var mj map[string]any
		require.Equal(t, http.StatusOK, n.get("/metrics.json", &mj))
		require.Equal(t, total, mj["pyaleph_status_sync_messages_total"], "every processed message, by the counters")
		require.Equal(t, 0.0, mj["pyaleph_status_sync_pending_messages_total"])

		res, err := http.Head(n.url + "/api/v0/channels/list.json")
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
	})
}

package rest_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/countkey"
	"github.com/alephql/alephql/ent/filepin"
	"github.com/alephql/alephql/rest"
)

// cursorWalk reads every page of a list in cursor mode (pagination per
// page) and returns the items' keys; cursor-mode envelopes carry
// next_cursor and no page fields.
func cursorWalk(t *testing.T, n *node, path, item string, per int, key func(map[string]any) string) []string {
	t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	var out []string
	cursor := ""
	for range 100 {
		var body map[string]any
		require.Equal(t, http.StatusOK, n.get(fmt.Sprintf("%s%spagination=%d&cursor=%s", path, sep, per, cursor), &body))
		for _, f := range []string{"pagination_page", "pagination_total", "pagination_item"} {
			require.NotContains(t, body, f, "cursor mode of %s", path)
		}
		require.Equal(t, float64(per), body["pagination_per_page"])
		require.Contains(t, body, "next_cursor")
		items := body[item].([]any)
		require.LessOrEqual(t, len(items), per)
		for _, it := range items {
			out = append(out, key(it.(map[string]any)))
		}
		next, _ := body["next_cursor"].(string)
		if next == "" {
			require.Nil(t, body["next_cursor"])
			return out
		}
		require.Len(t, items, per, "a page before the end is full")
		cursor = next
	}
	t.Fatalf("%s: no end after 100 pages", path)
	return nil
}

// TestCursorLists: files, credit_history, credit_balances and v1
// addresses/stats.json walked in cursor mode give the page-mode list
// exactly (no duplicate, no gap), both orders, over rows with ties on
// the leading order column; a bad cursor is a 422 naming it; on both
// back-ends.
func TestCursorLists(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		n := newNode(t, db, rest.Config{})
		ctx := t.Context()
		c := db.Client
		now := time.Now().UTC().Truncate(time.Second)
		for i := range 8 {
			h := fmt.Sprintf("%064x", 500+i)
			c.File.Create().SetID(h).SetSize(int64(10 * (i + 1))).SetCreatedAt(now).ExecX(ctx)
			c.FilePin.Create().SetFileHash(h).SetType(filepin.TypeMessage).SetOwner("0xB01").SetItemHash(fmt.Sprintf("%064x", 600+i)).
				SetCreated(now.Add(time.Duration(i/3) * time.Second)).ExecX(ctx) // ties by three
		}
		for i := range 9 {
			c.CreditHistory.Create().SetAddress("0xB01").SetCreditRef(fmt.Sprintf("c%d", i/2)).SetCreditIndex(i % 2).
				SetAmount(int64(i + 1)).SetMessageTimestamp(now.Add(time.Duration(i/3) * time.Minute)).SetLastUpdate(now).ExecX(ctx)
		}
		for i := range 7 {
			c.CreditBalance.Create().SetAddress(fmt.Sprintf("0xC%02d", i)).SetCreditRef("lot").SetCreditIndex(i).
				SetAmountRemaining(int64(10 + i)).SetMessageTimestamp(now).SetLastUpdate(now).ExecX(ctx)
		}
		for i, count := range []int64{5, 5, 3, 5, 1, 3, 2} {
			s := fmt.Sprintf("0xD%02d", i)
			c.MessageCounter.Create().SetID(countkey.Key(map[string]string{"sender": s})).SetCount(count).ExecX(ctx)
			c.MessageCounter.Create().SetID(countkey.Key(map[string]string{"sender": s, "type": "POST"})).SetCount(count % 3).ExecX(ctx)
		}

		field := func(name string) func(map[string]any) string {
			return func(m map[string]any) string { return fmt.Sprint(m[name]) }
		}
		credit := func(m map[string]any) string { return fmt.Sprintf("%v/%v", m["credit_ref"], m["credit_index"]) }
		for _, tt := range []struct {
			name, path, item string
			key              func(map[string]any) string
			want             int
		}{
			{"files newest first", "/api/v0/addresses/0xB01/files", "files", field("file_hash"), 8},
			{"files oldest first", "/api/v0/addresses/0xB01/files?sort_order=1", "files", field("file_hash"), 8},
			{"files of one hash", "/api/v0/addresses/0xB01/files?file_hash=" + fmt.Sprintf("%064x", 503), "files", field("file_hash"), 1},
			{"credit_history newest first", "/api/v0/addresses/0xB01/credit_history", "credit_history", credit, 9},
			{"credit_history oldest first", "/api/v0/addresses/0xB01/credit_history?sort_order=1", "credit_history", credit, 9},
			{"credit_history filtered", "/api/v0/addresses/0xB01/credit_history?startDate=" + fmt.Sprint(now.Add(time.Minute).Unix()), "credit_history", credit, 6},
			{"credit_balances", "/api/v0/credit_balances", "credit_balances", field("address"), 7},
			{"credit_balances over a minimum", "/api/v0/credit_balances?min_balance=13", "credit_balances", field("address"), 4},
			{"stats by total", "/api/v1/addresses/stats.json", "data", field("address"), 7},
			{"stats by total ascending", "/api/v1/addresses/stats.json?sortOrder=1", "data", field("address"), 7},
			{"stats by posts", "/api/v1/addresses/stats.json?sortBy=post", "data", field("address"), 7},
			{"stats of some", "/api/v1/addresses/stats.json?addressContains=0xd0", "data", field("address"), 7},
		} {
			t.Run(tt.name, func(t *testing.T) {
				paged := walk(t, n, tt.path, tt.item, 100, tt.key)
				require.Len(t, paged, tt.want)
				require.Equal(t, paged, walk(t, n, tt.path, tt.item, 2, tt.key), "page mode, small pages")
				for _, per := range []int{1, 2, 3, 100} {
					require.Equal(t, paged, cursorWalk(t, n, tt.path, tt.item, per, tt.key), "cursor mode by %d: no duplicate, no gap", per)
				}
				sep := "?"
				if strings.Contains(tt.path, "?") {
					sep = "&"
				}
				for _, bad := range []string{"!!", "e30", "bm90IGpzb24"} { // not base64, {}, "not json"
					var e map[string]any
					require.Equal(t, http.StatusUnprocessableEntity, n.get(tt.path+sep+"cursor="+bad, &e), bad)
					require.Equal(t, "cursor", e["param"], bad)
				}
				var e map[string]any
				require.Equal(t, http.StatusUnprocessableEntity, n.get(tt.path+sep+"cursor=&pagination=0", &e))
				require.Equal(t, "pagination", e["param"])
			})
		}
		var stats map[string]any
		require.Equal(t, http.StatusOK, n.get("/api/v1/addresses/stats.json?pagination=3&cursor=", &stats))
		first := stats["data"].([]any)[0].(map[string]any)
		require.Equal(t, "0xD00", first["address"], "count 5, then counter key")
		require.InDelta(t, 5.0, first["total"], 0)
		var files map[string]any
		require.Equal(t, http.StatusOK, n.get("/api/v0/addresses/0xB01/files?pagination=3&cursor=", &files))
		require.Equal(t, "0xB01", files["address"])
		require.InDelta(t, 360.0, files["total_size"], 0, "the total size in cursor mode too")
		require.Equal(t, http.StatusNotFound, n.get("/api/v0/addresses/0xNobody/files?cursor=", nil))
	})
}

// authWalk reads every page of an authorizations list (an object keyed
// by grantee or granter) in page mode (cursor nil) or cursor mode, and
// returns the parties in the order served, failing on a duplicate.
func authWalk(t *testing.T, n *node, path string, per int, cursorMode bool) []string {
	t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	var out []string
	seen := map[string]bool{}
	cursor := ""
	for page := 1; page < 100; page++ {
		q := fmt.Sprintf("%s%spagination=%d&page=%d", path, sep, per, page)
		if cursorMode {
			q = fmt.Sprintf("%s%spagination=%d&cursor=%s", path, sep, per, cursor)
		}
		var body map[string]any
		require.Equal(t, http.StatusOK, n.get(q, &body))
		groups := body["authorizations"].(map[string]any)
		require.LessOrEqual(t, len(groups), per)
		keys := make([]string, 0, len(groups))
		for k := range groups {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			require.False(t, seen[k], "duplicate %s on page %d of %s", k, page, q)
			seen[k] = true
			out = append(out, k)
		}
		if !cursorMode {
			if len(groups) < per {
				require.Len(t, out, int(body["pagination_total"].(float64)))
				return out
			}
			continue
		}
		require.NotContains(t, body, "pagination_total")
		next, _ := body["next_cursor"].(string)
		if next == "" {
			require.Nil(t, body["next_cursor"])
			return out
		}
		require.Len(t, groups, per, "a page before the end is full")
		cursor = next
	}
	t.Fatalf("%s: no end after 100 pages", path)
	return nil
}

// TestAuthorizationsCursor: authorizations granted (by grantee) and
// received (by granter), walked in cursor mode by 1, 2, 3 and 100, give
// the page-mode parties exactly (no duplicate, no gap), filters applied
// before paging; a bad cursor is a 422 naming it; on both back-ends.
func TestAuthorizationsCursor(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		n := newNode(t, db, rest.Config{})
		ctx := t.Context()
		now := time.Now().UTC()
		security := func(owner string, entries ...string) {
			t.Helper()
			content := `{"authorizations":[` + strings.Join(entries, ",") + `]}`
			db.Client.Aggregate.Create().SetOwner(owner).SetKey("security").SetContent([]byte(content)).
				SetCreationDatetime(now).SetLastUpdated(now).SetLastRevisionHash(fmt.Sprintf("%064x", len(owner))).
				SetElementCount(1).ExecX(ctx)
		}
		// 0xG00 grants to seven grantees (0xE03 twice, 0xE05 for STOREs
		// only); six granters (mixed case, which sorts apart) grant to
		// 0xE00.
		var grants []string
		for i := range 7 {
			grants = append(grants, fmt.Sprintf(`{"address":"0xE%02d","types":["POST"]}`, i))
		}
		grants = append(grants, `{"address":"0xE03","chain":"ETH"}`)
		grants[5] = `{"address":"0xE05","types":["STORE"]}`
		security("0xG00", grants...)
		for _, g := range []string{"0xA01", "0xa02", "0xB03", "0xb04", "0xC05", "0xc06"} {
			security(g, `{"address":"0xE00"}`)
		}

		for _, tt := range []struct {
			name, path string
			want       int
		}{
			{"granted", "/api/v0/authorizations/granted/0xG00.json", 7},
			{"granted, POSTs", "/api/v0/authorizations/granted/0xG00.json?types=POST", 6},
			{"granted, some grantees", "/api/v0/authorizations/granted/0xG00.json?grantee=0xE01,0xE03,0xE06", 3},
			{"received", "/api/v0/authorizations/received/0xE00.json", 7},
			{"received, some granters", "/api/v0/authorizations/received/0xE00.json?granter=0xa02,0xB03", 2},
			{"received, none", "/api/v0/authorizations/received/0xE09.json", 0},
		} {
			t.Run(tt.name, func(t *testing.T) {
				paged := authWalk(t, n, tt.path, 100, false)
				require.Len(t, paged, tt.want)
				require.True(t, slices.IsSorted(paged))
				require.Equal(t, paged, authWalk(t, n, tt.path, 2, false), "page mode, small pages")
				for _, per := range []int{1, 2, 3, 100} {
					require.Equal(t, paged, authWalk(t, n, tt.path, per, true), "cursor mode by %d: no duplicate, no gap", per)
				}
				sep := "?"
				if strings.Contains(tt.path, "?") {
					sep = "&"
				}
				for _, bad := range []string{"!!", "e30", "bm90IGpzb24"} {
					var e map[string]any
					require.Equal(t, http.StatusUnprocessableEntity, n.get(tt.path+sep+"cursor="+bad, &e), bad)
					require.Equal(t, "cursor", e["param"], bad)
				}
			})
		}
		var page map[string]any
		require.Equal(t, http.StatusOK, n.get("/api/v0/authorizations/granted/0xG00.json?pagination=1&cursor=", &page))
		require.Equal(t, "0xG00", page["address"])
		require.Equal(t, map[string]any{"0xE00": []any{map[string]any{"types": []any{"POST"}}}}, page["authorizations"])
		require.Equal(t, http.StatusOK, n.get("/api/v0/authorizations/granted/0xG00.json?pagination=1&cursor="+page["next_cursor"].(string), &page))
		require.Equal(t, []any{map[string]any{"types": []any{"POST"}}}, page["authorizations"].(map[string]any)["0xE01"])
	})
}

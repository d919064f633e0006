package graph_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/removedmessage"
	"github.com/alephql/alephql/graph"
)

// TestRemovedListingPages: statuses [REMOVED] lists the finalized removal
// snapshots (read.RemovedPage, the builder REST's msgStatuses=removed
// uses) in (time, hash) order: forward and backward walks in both
// directions see every snapshot once, with no gap, ties broken by hash,
// unfinalized ones left out, time bounds and totalCount applied.
func TestRemovedListingPages(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		c := db.Client
		base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		type snap struct {
			hash string
			at   time.Time
		}
		var all []snap
		for i := range 9 {
			h := hashOf(fmt.Sprint("removed-", i))
			tm := base.Add(time.Duration(i/2) * time.Minute) // pairs share a time: ties by hash
			cr := c.RemovedMessage.Create().SetID(h).SetType("POST").SetChain("ETH").SetSender("0xs").SetItemType("inline").
				SetTime(tm).SetOwner("0xs").SetRemovingSince(base).SetReason(removedmessage.ReasonBalanceInsufficient)
			if i == 4 {
				cr.SaveX(ctx) // still removing: not listed
				continue
			}
			cr.SetRemovedAt(base.Add(time.Hour)).SaveX(ctx)
			all = append(all, snap{h, tm})
		}
		slices.SortFunc(all, func(a, b snap) int {
			if c := a.at.Compare(b.at); c != 0 {
				return c
			}
			return strings.Compare(a.hash, b.hash)
		})
		asc := make([]string, len(all))
		for i, s := range all {
			asc[i] = s.hash
		}
		desc := slices.Clone(asc)
		slices.Reverse(desc)
		srv := newServer(t, c, graph.Limits{}, graph.HandlerConfig{})

		type page struct {
			Messages struct {
				TotalCount int
				Edges      []struct{ Node struct{ Hash string } }
				PageInfo   struct {
					HasNextPage, HasPreviousPage bool
					StartCursor, EndCursor       *string
				}
			}
		}
		// walk pages through the list two at a time, forward (first/after)
		// or backward (last/before), and returns the hashes in list order.
		walk := func(dir, filter string, backward bool) ([]string, int) {
			var got []string
			var cur *string
			total := -1
			for range 20 {
				args := `first: 2, after: $c`
				if backward {
					args = `last: 2, before: $c`
				}
				q := `query($c: Cursor) { messages(filter: {statuses: [REMOVED]` + filter + `}, orderBy: {direction: ` + dir + `}, ` + args + `) {
					totalCount edges { node { hash } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`
				out := query(t, srv.URL+"/graphql", q, map[string]any{"c": cur})
				require.Empty(t, out.Errors)
				var p page
				require.NoError(t, json.Unmarshal(out.Data, &p))
				total = p.Messages.TotalCount
				var hs []string
				for _, e := range p.Messages.Edges {
					hs = append(hs, e.Node.Hash)
				}
				if backward {
					got = append(hs, got...)
					if !p.Messages.PageInfo.HasPreviousPage {
						return got, total
					}
					cur = p.Messages.PageInfo.StartCursor
				} else {
					got = append(got, hs...)
					if !p.Messages.PageInfo.HasNextPage {
						return got, total
					}
					cur = p.Messages.PageInfo.EndCursor
				}
			}
			t.Fatal("the walk does not end")
			return nil, 0
		}
		from, to := base.Add(time.Minute).Format(time.RFC3339), base.Add(3*time.Minute).Format(time.RFC3339)
		var bounded []string
		for _, s := range all {
			if !s.at.Before(base.Add(time.Minute)) && s.at.Before(base.Add(3*time.Minute)) {
				bounded = append(bounded, s.hash)
			}
		}
		require.Len(t, bounded, 3, "times 1 and 2 minutes, the removing one left out")
		for _, tc := range []struct {
			name, dir, filter string
			backward          bool
			want              []string
		}{
			{"desc forward", "DESC", "", false, desc},
			{"desc backward", "DESC", "", true, desc},
			{"asc forward", "ASC", "", false, asc},
			{"asc backward", "ASC", "", true, asc},
			{"time bounds", "ASC", `, timeFrom: "` + from + `", timeTo: "` + to + `"`, false, bounded},
			{"owner none", "ASC", `, owners: ["0xnobody"]`, false, nil},
		} {
			got, total := walk(tc.dir, tc.filter, tc.backward)
			require.Equal(t, tc.want, got, tc.name)
			require.Equal(t, len(tc.want), total, tc.name)
		}
	})
}

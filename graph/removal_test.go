package graph_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/message"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/ent/removedmessage"
	"github.com/alephql/alephql/graph"
)

// TestRemovalStatus: a REMOVING message serves its reason and since when
// it is removing, a REMOVED one its removal time too, from the
// removed_messages snapshot; the statuses filter lists the REMOVING ones.
func TestRemovalStatus(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		c := db.Client
		hashes := seed(t, c, 3)
		removing, removed := hashes[1], hashes[2]
		since := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
		at := since.Add(26 * time.Hour)
		for _, h := range hashes {
			st := messagestatus.StatusProcessed
			switch h {
			case removing:
				st = messagestatus.StatusRemoving
			case removed:
				st = messagestatus.StatusRemoved
			}
			c.MessageStatus.Create().SetID(h).SetStatus(st).SetReceptionTime(since).SetUpdatedAt(since).SaveX(ctx)
		}
		c.Message.UpdateOneID(removing).SetStatus(message.StatusRemoving).ExecX(ctx)
		m := c.Message.GetX(ctx, removed)
		c.Message.DeleteOneID(removed).ExecX(ctx)
		for _, h := range []string{removing, removed} {
			cr := c.RemovedMessage.Create().SetID(h).SetType(m.Type).SetChain(m.Chain).SetSender(m.Sender).
				SetItemType(m.ItemType).SetTime(m.Time).SetOwner(m.Owner).SetRemovingSince(since)
			if h == removing {
				cr.SetReason(removedmessage.ReasonCreditInsufficient)
			} else {
				cr.SetReason(removedmessage.ReasonBalanceInsufficient).SetRemovedAt(at)
			}
			cr.SaveX(ctx)
		}
		srv := newServer(t, c, graph.Limits{}, graph.HandlerConfig{})
		q := `query($h: String!) { messageStatus(hash: $h) { status removalReason removingSince removedAt } }`
		for _, tc := range []struct{ hash, want string }{
			{hashes[0], `{"status":"PROCESSED","removalReason":null,"removingSince":null,"removedAt":null}`},
			{removing, `{"status":"REMOVING","removalReason":"CREDIT_INSUFFICIENT","removingSince":"2026-12-01T10:00:00.000000Z","removedAt":null}`},
			{removed, `{"status":"REMOVED","removalReason":"BALANCE_INSUFFICIENT","removingSince":"2026-12-01T10:00:00.000000Z","removedAt":"2026-12-02T12:00:00.000000Z"}`},
		} {
			out := query(t, srv.URL+"/graphql", q, map[string]any{"h": tc.hash})
			require.Empty(t, out.Errors)
			require.JSONEq(t, `{"messageStatus":`+tc.want+`}`, string(out.Data), tc.hash)
		}
		out := query(t, srv.URL+"/graphql", `{ messages(filter: {statuses: [REMOVING]}) { edges { node { hash status { status removalReason } } } } }`, nil)
		require.Empty(t, out.Errors)
		require.JSONEq(t, fmt.Sprintf(`{"messages":{"edges":[{"node":{"hash":%q,"status":{"status":"REMOVING","removalReason":"CREDIT_INSUFFICIENT"}}}]}}`, removing), string(out.Data))

		// REMOVED lists the finalized snapshots, alone.
		out = query(t, srv.URL+"/graphql", `query($o: [String!]) { messages(filter: {statuses: [REMOVED], owners: $o}) {
			totalCount edges { node { hash type owner status { status removedAt } } } } }`, map[string]any{"o": []string{m.Owner}})
		require.Empty(t, out.Errors)
		require.JSONEq(t, fmt.Sprintf(`{"messages":{"totalCount":1,"edges":[{"node":{"hash":%q,"type":"POST","owner":%q,
			"status":{"status":"REMOVED","removedAt":"2026-12-02T12:00:00.000000Z"}}}]}}`, removed, m.Owner), string(out.Data))
		out = query(t, srv.URL+"/graphql", `{ messages(filter: {statuses: [REMOVED], owners: ["0xnobody"]}) { totalCount edges { node { hash } } } }`, nil)
		require.Empty(t, out.Errors)
		require.JSONEq(t, `{"messages":{"totalCount":0,"edges":[]}}`, string(out.Data))
		for _, bad := range []string{`statuses: [REMOVED, PROCESSED]`, `statuses: [REMOVED], tags: ["x"]`} {
			out = query(t, srv.URL+"/graphql", `{ messages(filter: {`+bad+`}) { edges { node { hash } } } }`, nil)
			require.Len(t, out.Errors, 1, bad)
			require.Equal(t, "BAD_USER_INPUT", out.Errors[0].Extensions["code"], bad)
		}
	})
}

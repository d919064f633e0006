package billing_test

import (
	"context"
	"testing"
	"time"

	gqlclient "github.com/99designs/gqlgen/client"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/graph"
	"github.com/alephql/alephql/processor/billing"
)

// TestGraphQLSubscriptionRemovingAndRemoved: a GraphQL subscriber to an
// owner's messages receives MessageRemoving (with its reason) when the
// balance job runs, then MessageRemoved when the collector finalizes; a
// subscriber resuming after the REMOVING event gets the REMOVED one.
func TestGraphQLSubscriptionRemovingAndRemoved(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		hub, err := graph.NewHub(graph.HubConfig{}, db.Client, e.bus, dbtest.Logger())
		require.NoError(t, err)
		hctx, stop := context.WithCancel(e.ctx)
		done := make(chan error, 1)
		go func() { done <- hub.Run(hctx) }()
		defer func() { stop(); require.NoError(t, <-done) }()
		select {
		case <-hub.Ready():
		case err := <-done:
			done <- err
			t.Fatalf("hub stopped: %v", err)
		}
		schema, err := graph.NewSchema(graph.Limits{}, db.Client, dbtest.Logger(), graph.WithHub(hub))
		require.NoError(t, err)
		c := gqlclient.New(graph.NewHandler(graph.HandlerConfig{}, schema, dbtest.Logger()))

		rootfs := e.rootfs()
		alice := newSigner(t)
		e.balances(1, map[string]any{alice.addr(): 2000})
		vm := alice.instance(t, tHold+1, rootfs, "hold")
		e.process(vm)
		e.confirm(vm, high)

		const q = `subscription($o: [String!], $after: Cursor) { messages(filter: {owners: $o, types: [INSTANCE]}, after: $after) {
			__typename cursor hash ... on MessageRemoving { reason } message { status { status removalReason } } } }`
		type event struct {
			Messages struct {
				Typename string `json:"__typename"`
				Cursor   string
				Hash     string
				Reason   *string
				Message  struct {
					Status struct{ Status, RemovalReason string }
				}
			}
		}
		// lifecycle reads the next removal event, skipping those of the
		// set-up the hub may still deliver (processed, confirmed).
		lifecycle := func(sub *gqlclient.Subscription) event {
			for {
				var ev event
				require.NoError(t, sub.Next(&ev))
				if ev.Messages.Typename == "MessageRemoving" || ev.Messages.Typename == "MessageRemoved" {
					return ev
				}
			}
		}
		sub := c.Websocket(q, gqlclient.Var("o", []string{alice.addr()}))
		defer sub.Close()
		require.Eventually(t, func() bool { return hub.Subscribers() == 1 }, 10*time.Second, 10*time.Millisecond)

		e.balances(2, map[string]any{alice.addr(): 0})
		require.Equal(t, 1, e.run(billing.JobBalance).Removing)
		got := lifecycle(sub)
		require.Equal(t, "MessageRemoving", got.Messages.Typename)
		require.Equal(t, vm.hash, got.Messages.Hash)
		require.Equal(t, "BALANCE_INSUFFICIENT", *got.Messages.Reason)
		require.Equal(t, "REMOVING", got.Messages.Message.Status.Status)
		require.Equal(t, "BALANCE_INSUFFICIENT", got.Messages.Message.Status.RemovalReason)
		removing := got.Messages.Cursor

		_, err = e.gc.Collect(e.ctx, e.clk.Now())
		require.NoError(t, err)
		got = lifecycle(sub)
		require.Equal(t, "MessageRemoved", got.Messages.Typename)
		require.Equal(t, vm.hash, got.Messages.Hash)
		require.Equal(t, "REMOVED", got.Messages.Message.Status.Status)

		resumed := c.Websocket(q, gqlclient.Var("o", []string{alice.addr()}), gqlclient.Var("after", removing))
		defer resumed.Close()
		again := lifecycle(resumed)
		require.Equal(t, "MessageRemoved", again.Messages.Typename, "a resume after REMOVING replays REMOVED")
		require.Equal(t, vm.hash, again.Messages.Hash)
	})
}

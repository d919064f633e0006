package graph_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/graph"
)

// TestWebsocketOutlivesItsHandlerAndEndsOnShutdown checks that a websocket
// is served apart from its HTTP request once upgraded (the handler returns,
// releasing net/http's goroutine and buffers), keeps delivering events,
// and ends when the server shuts down.
func TestWebsocketOutlivesItsHandlerAndEndsOnShutdown(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		bus := events.NewLocal(64)
		hub, err := graph.NewHub(graph.HubConfig{}, db.Client, bus, dbtest.Logger())
		require.NoError(t, err)
		ctx, stop := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- hub.Run(ctx) }()
		waitReady(t, hub, done)
		t.Cleanup(func() { stop(); require.NoError(t, <-done) })
		schema, err := graph.NewSchema(graph.Limits{}, db.Client, dbtest.Logger(), graph.WithHub(hub))
		require.NoError(t, err)
		h := graph.NewHandler(graph.HandlerConfig{}, schema, dbtest.Logger())
		var inFlight atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			inFlight.Add(1)
			defer inFlight.Add(-1)
			h.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)

		sub := subscribe(t, srv, `subscription { messages(filter: {channels: ["DETACH"]}) { hash } }`, nil)
		require.Eventually(t, func() bool { return hub.Subscribers() == 1 }, 10*time.Second, 10*time.Millisecond)
		require.Eventually(t, func() bool { return inFlight.Load() == 0 }, 10*time.Second, 10*time.Millisecond,
			"the upgrade request's handler returned")
		for i := range 3 {
			h := processed(t, db, bus, "detach "+string(rune('a'+i)), "DETACH", i, nil)
			require.Equal(t, h, sub.next()["messages"].(map[string]any)["hash"])
		}

		sctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		require.NoError(t, srv.Config.Shutdown(sctx))
		rctx, rcancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer rcancel()
		for err == nil { // pings may come first
			_, _, err = sub.conn.Read(rctx)
		}
		require.NoError(t, rctx.Err(), "the node closed the websocket on shutdown")
		require.Eventually(t, func() bool { return hub.Subscribers() == 0 }, 10*time.Second, 10*time.Millisecond)
	})
}

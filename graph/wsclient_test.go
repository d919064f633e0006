package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/graph"
)

// wsClientDir holds the npm graphql-ws client the subscription test runs.
const wsClientDir = "testdata/wsclient"

// nodeClient makes sure the npm client is installed (npm ci from the lock
// file) and returns the node binary. Missing node or npm fails the test:
// the subscription protocol is tested with a real client or not at all.
func nodeClient(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	require.NoError(t, err, "node is required for the graphql-ws client test")
	if _, err := os.Stat(filepath.Join(wsClientDir, "node_modules", "graphql-ws")); err != nil {
		npm, err := exec.LookPath("npm")
		require.NoError(t, err, "npm is required to install the graphql-ws client")
		cmd := exec.CommandContext(t.Context(), npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error")
		cmd.Dir = wsClientDir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "npm ci: %s", out)
	}
	return node
}

// pipelineSubmitter stands in for the processor: it processes a submitted
// {item_hash, channel} at once, writing the message, its status and its
// outbox row in one transaction, then publishes the event.
func pipelineSubmitter(t *testing.T, db *database.DB, bus events.Publisher) graph.Submitter {
	return graph.SubmitterFunc(func(ctx context.Context, raw json.RawMessage) (string, error) {
		var w struct {
			ItemHash string `json:"item_hash"`
			Channel  string `json:"channel"`
		}
		if err := json.Unmarshal(raw, &w); err != nil || w.ItemHash == "" {
			return "", &graph.InvalidMessageError{Code: 1, Reason: "item_hash is required"}
		}
		now := time.Now().UTC()
		tx, err := db.Client.Tx(ctx)
		if err != nil {
			return "", err
		}
		defer func() { _ = tx.Rollback() }()
		if err := tx.Message.Create().SetID(w.ItemHash).SetType("POST").SetChain("ETH").SetSender("0xalice").SetItemType("inline").
			SetTime(now).SetReceptionTime(now).SetOwner("0xalice").SetChannel(w.Channel).Exec(ctx); err != nil {
			return "", err
		}
		if err := tx.MessageStatus.Create().SetID(w.ItemHash).SetStatus(messagestatus.StatusProcessed).
			SetReceptionTime(now).SetUpdatedAt(now).Exec(ctx); err != nil {
			return "", err
		}
		row, err := tx.MessageEvent.Create().SetItemHash(w.ItemHash).SetKind(string(events.Processed)).SetCreatedAt(now).Save(ctx)
		if err != nil {
			return "", err
		}
		if err := tx.Commit(); err != nil {
			return "", err
		}
		return w.ItemHash, bus.Publish(ctx, events.Event{Seq: row.ID, Kind: events.Processed, At: now, ItemHash: w.ItemHash,
			Type: "POST", Chain: "ETH", Sender: "0xalice", Owner: "0xalice", Channel: w.Channel, Time: now})
	})
}

// TestGraphQLWSClientResumesWithoutGapOrDuplicate drives the
// graphql-transport-ws protocol with the npm graphql-ws client: messages
// submitted through the mutation arrive live; after a disconnect, the
// client resumes from its last cursor and sees every message once, in
// order, including those submitted while it was away.
func TestGraphQLWSClientResumesWithoutGapOrDuplicate(t *testing.T) {
	node := nodeClient(t)
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		bus := events.NewLocal(64)
		hub, err := graph.NewHub(graph.HubConfig{}, db.Client, bus, dbtest.Logger())
		require.NoError(t, err)
		ctx, stop := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- hub.Run(ctx) }()
		waitReady(t, hub, done)
		defer func() { stop(); require.NoError(t, <-done) }()

		schema, err := graph.NewSchema(graph.Limits{}, db.Client, dbtest.Logger(),
			graph.WithHub(hub), graph.WithSubmitter(pipelineSubmitter(t, db, bus)))
		require.NoError(t, err)
		srv := httptest.NewServer(graph.NewHandler(graph.HandlerConfig{}, schema, dbtest.Logger()))
		defer srv.Close()

		const total, before, away = 30, 10, 7
		cctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(cctx, node, "resume.mjs")
		cmd.Dir = wsClientDir
		cmd.Env = append(os.Environ(), "HTTP_URL="+srv.URL, "WS_URL="+strings.Replace(srv.URL, "http://", "ws://", 1),
			fmt.Sprint("TOTAL=", total), fmt.Sprint("BEFORE=", before), fmt.Sprint("AWAY=", away))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		require.NoError(t, err, "node client: %s", stderr.String())

		type event struct {
			Typename string `json:"__typename"`
			Cursor   string
			Seq      int
			Hash     string
		}
		var res struct{ First, Second []event }
		require.NoError(t, json.Unmarshal(out, &res))
		require.Len(t, res.First, before)
		all := append(res.First, res.Second...)
		require.Len(t, all, total)
		// The client submits concurrently, so commit order may differ from
		// submission order: events come in outbox order, each exactly once.
		seen := map[string]bool{}
		for i, e := range all {
			require.False(t, seen[e.Hash], "event %d: %s delivered twice", i, e.Hash)
			seen[e.Hash] = true
			require.Equal(t, "MessageProcessed", e.Typename)
			if i > 0 {
				require.Greater(t, e.Seq, all[i-1].Seq, "event %d out of outbox order", i)
			}
		}
		for i := range total {
			require.True(t, seen[fmt.Sprintf("msg-%04d", i)], "msg-%04d never delivered", i)
		}
		require.Eventually(t, func() bool { return hub.Subscribers() == 0 }, 5*time.Second, 10*time.Millisecond,
			"disconnected clients leave the hub")
	})
}

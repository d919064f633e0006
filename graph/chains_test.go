package graph_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/graph"
	"github.com/alephql/alephql/graph/model"
)

// TestChainSources: the chainSources query answers what the wired
// ChainStatus reports, an empty list without one, and a typed internal
// error when the status fails.
func TestChainSources(t *testing.T) {
	db := dbtest.Open(t, dbtest.Backends()[0].URL(t))
	h, cur, lag := 120, "0xabc", 2.5
	cid := "QmWNCZ5U2Pf7hCGFVuagqfWwE3QBfQjPPSfTQbyGZcNJpy"
	for _, tc := range []struct {
		name   string
		status graph.ChainStatus
		want   string
		code   string
	}{
		{"no chain readers", nil, `{"chainSources":[]}`, ""},
		{"a reader and its publisher", graph.ChainStatusFunc(func(context.Context) ([]*model.ChainSource, error) {
			return []*model.ChainSource{{Chain: "ETH", Kind: "sync", HoldsLease: true, CursorHeight: &h, CursorHash: &cur,
				LagSeconds: &lag, PendingTxs: 3, Publisher: &model.ChainPublisher{Address: "0x71", HoldsLease: true, LastCid: &cid}}}, nil
		}), `{"chainSources":[{"chain":"ETH","kind":"sync","holdsLease":true,"cursorHeight":120,"cursorHash":"0xabc","safeHead":null,
			"lagBlocks":null,"lagSeconds":2.5,"pendingTxs":3,"lastError":null,
			"publisher":{"address":"0x71","holdsLease":true,"lastCid":"` + cid + `","lastTxHash":null}}]}`, ""},
		{"status failure", graph.ChainStatusFunc(func(context.Context) ([]*model.ChainSource, error) {
			return nil, errors.New("database down")
		}), `null`, "INTERNAL_SERVER_ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []graph.Option
			if tc.status != nil {
				opts = append(opts, graph.WithChainStatus(tc.status))
			}
			schema, err := graph.NewSchema(graph.Limits{}, db.Client, dbtest.Logger(), opts...)
			require.NoError(t, err)
			srv := httptest.NewServer(graph.NewHandler(graph.HandlerConfig{}, schema, dbtest.Logger()))
			defer srv.Close()
			out := query(t, srv.URL, `{ chainSources { chain kind holdsLease cursorHeight cursorHash safeHead lagBlocks lagSeconds
				pendingTxs lastError publisher { address holdsLease lastCid lastTxHash } } }`, nil)
			if tc.code != "" {
				require.Len(t, out.Errors, 1)
				require.Equal(t, tc.code, out.Errors[0].Extensions["code"])
				require.NotContains(t, out.Errors[0].Message, "database down", "details stay in the logs")
				return
			}
			require.Empty(t, out.Errors)
			require.JSONEq(t, tc.want, string(out.Data))
		})
	}
}

package graph_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/graph"
)

func TestFileDownloadURL(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		hashes := []string{
			"QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",
			"2bbf3d43b1c4c1b8aa4b1c5b4b1d4c2e8a0f6b2c1d3e4f5a6b7c8d9e0f1a2b3c",
		}
		for _, h := range hashes {
			db.Client.File.Create().SetID(h).SetSize(12).SetCreatedAt(time.Now().UTC()).SaveX(t.Context())
		}
		srv := newServer(t, db.Client, graph.Limits{}, graph.HandlerConfig{})
		for _, h := range hashes {
			out := query(t, srv.URL, `query($h: String!) { files(filter: {hashes: [$h]}) { edges { node { hash size downloadUrl } } } }`,
				map[string]any{"h": h})
			require.Empty(t, out.Errors)
			require.JSONEq(t, fmt.Sprintf(`{"files":{"edges":[{"node":{"hash":%q,"size":12,"downloadUrl":"/api/v0/storage/raw/%s"}}]}}`, h, h), string(out.Data))
		}
	})
}

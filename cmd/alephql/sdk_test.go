package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/chains"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/processor/demo"
)

// sdkDir holds the pinned official TypeScript SDK and its driver script.
var sdkDir = filepath.Join("..", "..", "rest", "sdktest")

// installSDK runs npm ci once: offline-safe after the first install (npm's
// cache), and a no-op while node_modules matches the lock file.
func installSDK(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(sdkDir, "node_modules", ".package-lock.json")); err == nil {
		return
	}
	cmd := exec.CommandContext(t.Context(), "npm", "ci", "--prefer-offline", "--no-audit", "--no-fund")
	cmd.Dir = sdkDir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "npm ci in %s: %s", sdkDir, out)
}

// graphQL runs a query against the node and decodes data into out.
func graphQL(t *testing.T, base, query string, out any) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"query": query})
	res, err := http.Post(base+"graphql", "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer res.Body.Close()
	var body struct {
		Data   json.RawMessage `json:"data"`
		Errors []any           `json:"errors"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
	require.Empty(t, body.Errors, query)
	require.NoError(t, json.Unmarshal(body.Data, out))
}

// TestOfficialSDK runs the official TypeScript SDK (@aleph-sdk/client and
// @aleph-sdk/ethereum 1.7.4, unchanged) against a real node on SQLite and
// on PostgreSQL, and checks each result against the node's state through
// GraphQL.
func TestOfficialSDK(t *testing.T) {
	installSDK(t)
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		runSDK(t, "--data-dir", dir, "--db", filepath.Join(dir, "alephql.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		runSDK(t, "--data-dir", t.TempDir(), "--db", dbtest.NewPostgresDatabase(t))
	})
}

// runSDK starts a node with args and runs sdk.cjs against it.
func runSDK(t *testing.T, args ...string) {
	base, stop := startServe(t, args...)
	defer stop()

	// A message the node rejects (a forged signature), for getMessageError.
	forger, err := demo.NewAccount()
	require.NoError(t, err)
	raw, rejected, err := forger.Post(float64(time.Now().Unix()), "SDKTEST", "note", map[string]any{"body": "forged"}, "")
	require.NoError(t, err)
	var w map[string]any
	require.NoError(t, json.Unmarshal(raw, &w))
	w["signature"] = "0x" + strings.Repeat("11", 65)
	b, _ := json.Marshal(map[string]any{"message": w, "sync": true})
	res, err := http.Post(base+"api/v0/messages", "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)

	key, err := crypto.GenerateKey()
	require.NoError(t, err)
	signer, err := chains.NewEthereumSigner(key)
	require.NoError(t, err)
	cmd := exec.CommandContext(t.Context(), "node", "sdk.cjs")
	cmd.Dir = sdkDir
	cmd.Env = append(os.Environ(), "NODE_URL="+base, "PRIVATE_KEY=0x"+hex.EncodeToString(crypto.FromECDSA(key)), "REJECTED_HASH="+rejected)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	require.NoError(t, err, "sdk.cjs: %s", stderr.String())
	_, result, ok := strings.Cut(string(stdout), "\nRESULT\n")
	require.True(t, ok, "sdk.cjs printed no result: %s", stdout)
	stdout = []byte(result)
	var got struct {
		Address        string           `json:"address"`
		SyncPost       string           `json:"syncPost"`
		SyncPostStatus string           `json:"syncPostStatus"`
		AsyncPost      string           `json:"asyncPost"`
		SyncAgg        string           `json:"syncAgg"`
		SyncAggStatus  string           `json:"syncAggStatus"`
		AsyncAgg       string           `json:"asyncAgg"`
		Page1          []string         `json:"page1"`
		PageTotal      int              `json:"pageTotal"`
		ChannelPosts   []string         `json:"channelPosts"`
		GotMessage     map[string]any   `json:"gotMessage"`
		MessageError   any              `json:"messageError"`
		RejectedError  map[string]any   `json:"rejectedError"`
		Posts          []map[string]any `json:"posts"`
		Aggregate      map[string]any   `json:"aggregate"`
		Aggregates     map[string]any   `json:"aggregates"`
		Forget         string           `json:"forget"`
		Forgotten      string           `json:"forgottenStatus"`
		Store          string           `json:"store"`
		StoreFile      string           `json:"storeFile"`
		Downloaded     bool             `json:"downloaded"`
		Watched        []string         `json:"watched"`
	}
	require.NoError(t, json.Unmarshal(stdout, &got), "%s", stdout)
	var pages struct {
		Page2 []string `json:"page2"`
	}
	require.NoError(t, json.Unmarshal(stdout, &pages))
	require.Equal(t, signer.Address(), got.Address)

	// The node's view, through GraphQL.
	var state struct {
		Messages struct {
			TotalCount int
			Edges      []struct {
				Node struct{ Hash, Type, Channel string }
			}
		}
		Profile  struct{ Content map[string]any }
		Settings struct{ Content map[string]any }
		Posts    struct {
			Edges []struct{ Node struct{ Hash string } }
		}
	}
	graphQL(t, base, `{
		messages(filter: {senders: ["`+got.Address+`"]}, first: 50) { totalCount edges { node { hash type channel } } }
		profile: aggregate(owner: "`+got.Address+`", key: "profile") { content }
		settings: aggregate(owner: "`+got.Address+`", key: "settings") { content }
		posts(filter: {owners: ["`+got.Address+`"]}) { edges { node { hash } } }
	}`, &state)
	var nodeHashes []string
	for _, e := range state.Messages.Edges {
		nodeHashes = append(nodeHashes, e.Node.Hash)
	}

	require.Equal(t, "processed", got.SyncPostStatus, "createPost sync returned after processing")
	require.Equal(t, "processed", got.SyncAggStatus, "createAggregate sync returned after processing")
	// Before the FORGET and the STORE: 4 messages by the account.
	require.Equal(t, 4, got.PageTotal)
	require.Len(t, got.Page1, 2)
	require.Len(t, pages.Page2, 2)
	require.ElementsMatch(t, []string{got.SyncPost, got.AsyncPost, got.SyncAgg, got.AsyncAgg}, append(got.Page1, pages.Page2...))
	require.NotContains(t, got.Page1, pages.Page2[0], "no page overlap")
	require.ElementsMatch(t, []string{got.SyncPost, got.AsyncPost}, got.ChannelPosts)
	require.Equal(t, map[string]any{"item_hash": got.SyncPost, "type": "POST", "sender": got.Address, "content": map[string]any{"body": "sdk sync"}}, got.GotMessage)
	require.Nil(t, got.MessageError)
	require.Equal(t, float64(1), got.RejectedError["error_code"], "getMessageError of the forged message")
	require.ElementsMatch(t, []string{got.SyncPost, got.AsyncPost}, mapField(got.Posts, "item_hash"))
	require.Equal(t, state.Profile.Content, got.Aggregate)
	require.Equal(t, map[string]any{"name": "sdk"}, got.Aggregate)
	require.Equal(t, map[string]any{"profile": state.Profile.Content, "settings": state.Settings.Content}, got.Aggregates)
	require.Equal(t, "forgotten", got.Forgotten, "forget sync")
	require.Contains(t, nodeHashes, got.Forget)
	require.NotContains(t, nodeHashes, got.AsyncPost, "the forgotten post left the messages")
	require.Contains(t, nodeHashes, got.Store, "%s\n%+v", stdout, state)
	require.True(t, got.Downloaded, "downloadFile returns the stored bytes")
	require.Equal(t, []string{got.SyncPost, got.AsyncPost, got.SyncAgg, got.AsyncAgg}, got.Watched, "watchMessages saw each message once, in order")
	for _, e := range state.Messages.Edges {
		if e.Node.Hash == got.Store {
			require.Equal(t, "STORE", e.Node.Type)
		}
	}
}

func mapField(ms []map[string]any, k string) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i], _ = m[k].(string)
	}
	return out
}

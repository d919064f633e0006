package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/processor/demo"
)

// lyingPeer serves messages in the reference node's response shapes
// (messages.json cursor mode, /api/ws0/messages, /api/v0/storage), mixing
// good messages with tampered, badly signed and forged ones, repeating
// some, and cutting the connection in the middle of a page once.
type lyingPeer struct {
	t       *testing.T
	pages   [][]json.RawMessage
	storage map[string][]byte
	live    [][]byte

	mu        sync.Mutex
	cutOnce   bool
	walked    bool // the backfill read the last page
	liveSent  bool
	wsConns   int
	pageCalls int
	cursors   []string // of the backfill's requests (no startDate)
}

func (p *lyingPeer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/api/v0/messages.json":
		p.messages(w, r)
	case r.URL.Path == "/api/ws0/messages":
		p.ws(w, r)
	case strings.HasPrefix(r.URL.Path, "/api/v0/storage/"):
		h := strings.TrimPrefix(r.URL.Path, "/api/v0/storage/")
		b, ok := p.storage[h]
		if !ok {
			http.NotFound(w, r)
			return
		}
		// base64.encodebytes: a newline every 76 characters.
		enc := base64.StdEncoding.EncodeToString(b)
		var lines []string
		for len(enc) > 76 {
			lines, enc = append(lines, enc[:76]), enc[76:]
		}
		lines = append(lines, enc)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "hash": h, "engine": "storage",
			"content": strings.Join(lines, "\n") + "\n"})
	default:
		http.NotFound(w, r)
	}
}

func (p *lyingPeer) messages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	require.Equal(p.t, "1", q.Get("sortOrder"))
	if q.Get("msgStatuses") == "forgotten" {
		// The forgotten skeletons (page mode): none here.
		require.False(p.t, q.Has("cursor"), "no cursor mode for forgotten messages")
		_ = json.NewEncoder(w).Encode(map[string]any{"messages": []any{}, "pagination_page": 1, "pagination_per_page": 200,
			"pagination_total": 0, "pagination_item": "messages"})
		return
	}
	require.True(p.t, q.Has("cursor"), "cursor mode")
	i := 0
	if c := q.Get("cursor"); c != "" {
		_, err := fmtSscan(c, &i)
		require.NoError(p.t, err)
	}
	p.mu.Lock()
	p.pageCalls++
	if !q.Has("startDate") {
		p.cursors = append(p.cursors, q.Get("cursor"))
		p.walked = p.walked || i == len(p.pages)-1
	}
	cut := i == 1 && !p.cutOnce
	p.cutOnce = p.cutOnce || cut
	p.mu.Unlock()
	body := map[string]any{"messages": p.pages[i], "pagination_per_page": len(p.pages[i]), "next_cursor": nil}
	if i+1 < len(p.pages) {
		body["next_cursor"] = "c" + string(rune('0'+i+1))
	}
	b, err := json.Marshal(body)
	require.NoError(p.t, err)
	if cut {
		// Half a page, then the connection drops.
		w.Header().Set("Content-Length", "100000")
		_, _ = w.Write(b[:len(b)/2])
		if hj, ok := w.(http.Hijacker); ok {
			c, _, err := hj.Hijack()
			if err == nil {
				_ = c.Close()
			}
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// fmtSscan reads the page number of a cursor "cN".
func fmtSscan(c string, i *int) (int, error) {
	if len(c) != 2 || c[0] != 'c' || c[1] < '0' || c[1] > '9' {
		return 0, errBadCursor
	}
	*i = int(c[1] - '0')
	return 1, nil
}

var errBadCursor = &json.UnsupportedValueError{Str: "bad cursor"}

func (p *lyingPeer) ws(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	p.mu.Lock()
	p.wsConns++
	// The follower's first handshake, before its walk, only looks for
	// the peer's position (there is none: a reference node's feed).
	first := p.walked && !p.liveSent
	p.liveSent = p.liveSent || first
	p.mu.Unlock()
	if first {
		// The live frames, then the connection drops: the follower must
		// reconnect and catch up.
		for _, m := range p.live {
			if c.Write(r.Context(), websocket.MessageText, m) != nil {
				return
			}
		}
		return
	}
	<-r.Context().Done()
}

// withFields returns a message's JSON with fields set (nil: removed).
func withFields(t *testing.T, raw []byte, set map[string]any) json.RawMessage {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	for k, v := range set {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func TestFollowALyingPeer(t *testing.T) {
	// A node follows a peer that lies: tampered content, a bad signature,
	// a forged FORGET, tampered storage content, duplicates, list entries
	// whose extra fields (content, status) lie, a connection cut in the
	// middle of a page and a websocket that drops. Nothing false gets in;
	// the good messages beside the bad ones do.
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			alice, err := demo.NewAccount()
			require.NoError(t, err)
			mallory, err := demo.NewAccount()
			require.NoError(t, err)
			t0 := float64(time.Now().Add(-time.Hour).Unix())
			post := func(i int, body string) ([]byte, string) {
				raw, h, err := alice.Post(t0+float64(i), "FOLLOW", "note", map[string]any{"body": body}, "")
				require.NoError(t, err)
				return raw, h
			}
			good1, hGood1 := post(1, "good one")
			tamperedRaw, hTampered := post(2, "original")
			badSigRaw, hBadSig := post(3, "bad signature")
			forgeRaw, hForge, err := mallory.Forget(t0+4, "FOLLOW", hGood1)
			require.NoError(t, err)
			storeRaw, hStore, storeContent, err := alice.SignStorage(demo.Msg{Type: "POST", Channel: "FOLLOW", Time: t0 + 5,
				Content: map[string]any{"type": "note", "content": map[string]any{"body": "by storage"}}})
			require.NoError(t, err)
			liarRaw, hLiar, _, err := alice.SignStorage(demo.Msg{Type: "POST", Channel: "FOLLOW", Time: t0 + 6,
				Content: map[string]any{"type": "note", "content": map[string]any{"body": "storage, tampered"}}})
			require.NoError(t, err)
			liveRaw, hLive := post(7, "live")
			liveBadRaw, hLiveBad := post(8, "live, tampered")
			good9, hGood9 := post(9, "after the cut")

			var ga map[string]any
			require.NoError(t, json.Unmarshal(good1, &ga))
			peer := &lyingPeer{t: t,
				pages: [][]json.RawMessage{
					{
						// Extra fields lie; only the wire fields count.
						withFields(t, good1, map[string]any{"content": map[string]any{"body": "LIE"}, "status": "forgotten", "size": 1}),
						withFields(t, tamperedRaw, map[string]any{"item_content": `{"type":"note","content":{"body":"changed"}}`}),
						withFields(t, badSigRaw, map[string]any{"signature": ga["signature"]}),
					},
					{json.RawMessage(forgeRaw), json.RawMessage(storeRaw), json.RawMessage(liarRaw), json.RawMessage(good1)},
					// A tampered copy first does not keep the genuine one out.
					{withFields(t, good9, map[string]any{"item_content": `{"type":"note","content":{"body":"forged"}}`}), json.RawMessage(good9), json.RawMessage(good1)},
				},
				storage: map[string][]byte{hStore: storeContent, hLiar: []byte(`{"type":"note","content":{"body":"LIE"}}`)},
			}
			// Live frames as the websocket dumps them: ISO times, content
			// with nulls.
			var lv map[string]any
			require.NoError(t, json.Unmarshal(liveRaw, &lv))
			iso := time.Unix(int64(t0+7), 0).UTC().Format("2006-01-02T15:04:05.000000Z07:00")
			peer.live = [][]byte{
				withFields(t, liveRaw, map[string]any{"time": iso, "content": map[string]any{"body": "live", "ref": nil}}),
				withFields(t, liveBadRaw, map[string]any{"item_content": `{"x":1}`, "time": iso}),
			}
			srv := httptest.NewServer(peer)
			t.Cleanup(srv.Close)

			args := []string{"--data-dir", t.TempDir(), "--log-level", "warn", "--follow", srv.URL}
			if backend == "postgres" {
				args = append(args, "--db", dbtest.NewPostgresDatabase(t))
			}
			base, stop := startServe(t, args...)
			for _, h := range []string{hGood1, hStore, hGood9, hLive} {
				require.Eventually(t, func() bool { return messageStatus(t, base, h) == "PROCESSED" }, 30*time.Second, 50*time.Millisecond, h)
			}
			// 90 s: the forged FORGET may have been checked while its
			// target was being applied at intake, then wait for its
			// back-off (a dependency committed between a dependent's
			// check and its retry's commit does not wake it, see
			// processor/dependents.go); under a loaded CI that took
			// over 30 s once.
			for _, h := range []string{hForge, hTampered, hBadSig} {
				require.Eventually(t, func() bool { return messageStatus(t, base, h) == "REJECTED" }, 90*time.Second, 50*time.Millisecond, h)
			}
			for name, h := range map[string]string{"tampered": hTampered, "bad signature": hBadSig, "tampered storage": hLiar, "tampered live": hLiveBad} {
				require.NotEqual(t, "PROCESSED", messageStatus(t, base, h), name)
			}
			require.Equal(t, "PROCESSED", messageStatus(t, base, hGood1), "the forged FORGET changed nothing")

			out := gql(t, base, `{ networkStatus { name kind received accepted rejected duplicate state } }`, nil)
			require.Nil(t, out["errors"], out)
			st := out["data"].(map[string]any)["networkStatus"].([]any)
			require.Len(t, st, 1)
			s := st[0].(map[string]any)
			require.Equal(t, srv.URL, s["name"])
			require.Equal(t, "follow", s["kind"])
			require.Greater(t, s["duplicate"].(float64), 0.0)
			require.Eventually(t, func() bool {
				peer.mu.Lock()
				defer peer.mu.Unlock()
				return peer.liveSent && peer.wsConns >= 3
			}, 30*time.Second, 50*time.Millisecond, "the follower reconnects (after its probe and its first feed)")
			peer.mu.Lock()
			require.True(t, peer.cutOnce, "a page was cut")
			peer.mu.Unlock()
			scrape := func() string {
				resp, err := http.Get(base + "metrics")
				require.NoError(t, err)
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				return string(b)
			}
			require.Regexp(t, `(?m)^alephql_indexer_source_messages_total\{kind="follow",outcome="accepted",source="`+regexp.QuoteMeta(srv.URL)+`"\} [1-9]`, scrape())
			live := regexp.MustCompile(`(?m)^alephql_indexer_source_state\{kind="follow",source="` + regexp.QuoteMeta(srv.URL) + `",state="live"\} 1$`)
			require.Eventually(t, func() bool { return live.MatchString(scrape()) }, 30*time.Second, 50*time.Millisecond)
			require.Equal(t, 0, stop())
		})
	}
}

func TestFollowResumesFromItsCursor(t *testing.T) {
	// The follower's cursor survives a restart: the second run's backfill
	// starts at the last page, not at the beginning.
	alice, err := demo.NewAccount()
	require.NoError(t, err)
	t0 := float64(time.Now().Add(-time.Hour).Unix())
	peer := &lyingPeer{t: t}
	var hashes []string
	for p := range 3 {
		var page []json.RawMessage
		for i := range 3 {
			raw, h, err := alice.Post(t0+float64(p*3+i), "RESUME", "note", map[string]any{"n": p*3 + i}, "")
			require.NoError(t, err)
			page, hashes = append(page, raw), append(hashes, h)
		}
		peer.pages = append(peer.pages, page)
	}
	peer.cutOnce = true // no cut here
	srv := httptest.NewServer(peer)
	t.Cleanup(srv.Close)
	args := []string{"--data-dir", t.TempDir(), "--log-level", "warn", "--follow", srv.URL}
	base, stop := startServe(t, args...)
	for _, h := range hashes {
		require.Eventually(t, func() bool { return messageStatus(t, base, h) == "PROCESSED" }, 30*time.Second, 50*time.Millisecond)
	}
	require.Equal(t, 0, stop())
	peer.mu.Lock()
	require.Equal(t, []string{"", "c1", "c2"}, peer.cursors)
	peer.cursors = nil
	peer.mu.Unlock()

	_, stop = startServe(t, args...)
	require.Eventually(t, func() bool {
		peer.mu.Lock()
		defer peer.mu.Unlock()
		return len(peer.cursors) > 0
	}, 30*time.Second, 50*time.Millisecond)
	peer.mu.Lock()
	require.Equal(t, "c2", peer.cursors[0], "the backfill resumes at the last page")
	peer.mu.Unlock()
	require.Equal(t, 0, stop())
}

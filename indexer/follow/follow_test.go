package follow_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/indexer/follow"
	"github.com/alephql/alephql/indexer/netstat"
)

func TestWireKeepsOnlyWhatAClientSends(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		time           time.Time
		bad            bool
	}{
		{
			name: "list entry",
			in: `{"item_hash":"ab","type":"POST","chain":"ETH","sender":"0x1","signature":"0x2","item_type":"inline",
				"item_content":"{}","time":1700000000.5,"channel":"C","content":{"lie":1},"size":2,"confirmed":true,"confirmations":[]}`,
			want: `{"chain":"ETH","channel":"C","item_content":"{}","item_hash":"ab","item_type":"inline","sender":"0x1","signature":"0x2","time":1700000000.5,"type":"POST"}`,
			time: time.Unix(1700000000, 500000000).UTC(),
		},
		{
			name: "websocket frame with an ISO time and nulls",
			in:   `{"item_hash":"ab","type":"POST","time":"2023-11-14T22:13:20.250000Z","channel":null,"item_content":null}`,
			want: `{"item_hash":"ab","time":1700000000.25,"type":"POST"}`,
			time: time.Unix(1700000000, 250000000).UTC(),
		},
		{
			name: "naive ISO time",
			in:   `{"item_hash":"ab","time":"2023-11-14T22:13:20"}`,
			want: `{"item_hash":"ab","time":1700000000}`,
			time: time.Unix(1700000000, 0).UTC(),
		},
		{name: "no item hash", in: `{"type":"POST"}`, bad: true},
		{name: "bad time", in: `{"item_hash":"ab","time":"yesterday"}`, bad: true},
		{name: "not an object", in: `[1]`, bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, h, tm, err := follow.Wire(json.RawMessage(tc.in))
			if tc.bad {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.JSONEq(t, tc.want, string(w))
			require.Equal(t, "ab", h)
			require.True(t, tc.time.Equal(tm), "%s != %s", tm, tc.time)
		})
	}
}

func FuzzWire(f *testing.F) {
	for _, s := range []string{
		`{"item_hash":"ab","time":1700000000.5,"item_content":"{}"}`,
		`{"item_hash":"ab","time":"2023-11-14T22:13:20.250000+00:00"}`,
		`{"item_hash":"","time":null}`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		w, h, _, err := follow.Wire(b)
		if err != nil {
			return
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(w, &m) != nil || h == "" {
			t.Fatalf("Wire(%q) = %q", b, w)
		}
		for k := range m {
			switch k {
			case "chain", "sender", "type", "item_hash", "item_type", "item_content", "signature", "time", "channel":
			default:
				t.Fatalf("Wire kept %q", k)
			}
		}
	})
}

func TestFollowerDropsMalformedEntriesKeepingThePage(t *testing.T) {
	// A page whose entries include some that are not messages (not an
	// object, no item hash, a bad time) is taken for its good messages;
	// the others are counted rejected.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/api/v0/messages.json" || q.Get("cursor") != "" || q.Get("msgStatuses") != "" {
			_, _ = io.WriteString(w, `{"messages":[],"next_cursor":null}`)
			return
		}
		_, _ = io.WriteString(w, `{"messages":[1,"x",{"item_hash":"good1","time":1700000000},{"type":"POST"},`+
			`{"item_hash":"bad-time","time":"yesterday"},[2],{"item_hash":"good2","time":1700000001,"channel":null}],"next_cursor":null}`)
	}))
	t.Cleanup(srv.Close)
	k := &taker{}
	reg := netstat.NewRegistry()
	f, err := follow.New(follow.Config{URL: srv.URL}, follow.Deps{Submitter: k, Cursors: &memCursors{}, Stats: reg.Source(srv.URL, netstat.KindFollow)})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool { return k.has("good1", "good2") }, 10*time.Second, 5*time.Millisecond)
	st := reg.Snapshot()[0]
	require.EqualValues(t, 7, st.Received)
	require.EqualValues(t, 5, st.Rejected)
	require.EqualValues(t, 2, st.Accepted)
}

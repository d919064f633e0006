package indexer_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/indexer"
)

func TestDecodePayload(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		bad            bool
	}{
		{name: "plain JSON", in: `{"a":1}`, want: `{"a":1}`},
		{name: "percent-quoted", in: `%7B%22a%22%3A1%7D`, want: `{"a":1}`},
		{name: "surrounding spaces", in: " {\"a\":1}\n", want: `{"a":1}`},
		{name: "invalid escape kept", in: `{"a":"100%"}`, want: `{"a":"100%"}`},
		{name: "not an object", in: `[1]`, bad: true},
		{name: "not JSON", in: `{"a":`, bad: true},
		{name: "empty", in: ``, bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := indexer.DecodePayload([]byte(tc.in))
			if tc.bad {
				require.ErrorIs(t, err, indexer.ErrBadPubsubPayload)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
		})
	}
	big := make([]byte, indexer.MaxPayload+1)
	_, err := indexer.DecodePayload(big)
	require.ErrorIs(t, err, indexer.ErrBadPubsubPayload)
}

func FuzzDecodePayload(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `%7B%22a%22%3A1%7D`, `{"item_hash":"%zz"}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := indexer.DecodePayload(b)
		if err == nil && (len(out) == 0 || out[0] != '{') {
			t.Fatalf("accepted %q as %q", b, out)
		}
		_, _, _ = indexer.ParseAlive(b)
	})
}

func TestParseAlive(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		kind     indexer.PeerKind
		bad      bool
	}{
		{name: "p2p", in: `{"address":"/ip4/1.2.3.4/tcp/4025/p2p/Qm","interests":null,"peer_type":"P2P","version":"v1"}`, kind: indexer.PeerP2P},
		{name: "http", in: `{"address":"http://1.2.3.4:4024","peer_type":"HTTP"}`, kind: indexer.PeerHTTP},
		{name: "ipfs", in: `{"address":"/ip4/1.2.3.4/tcp/4001/p2p/Qm","peer_type":"IPFS"}`, kind: indexer.PeerIPFS},
		{name: "unknown type", in: `{"address":"x","peer_type":"FTP"}`, bad: true},
		{name: "no address", in: `{"peer_type":"HTTP"}`, bad: true},
		{name: "not JSON", in: `hello`, bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, k, err := indexer.ParseAlive([]byte(tc.in))
			if tc.bad {
				require.ErrorIs(t, err, indexer.ErrBadPubsubPayload)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.kind, k)
		})
	}
}

func TestDedupeForgetsTheOldest(t *testing.T) {
	d := indexer.NewDedupe(2)
	require.False(t, d.Seen([]byte("a")))
	require.True(t, d.Seen([]byte("a")))
	require.False(t, d.Seen([]byte("b")))
	require.False(t, d.Seen([]byte("c"))) // evicts a
	require.False(t, d.Seen([]byte("a")))
	require.True(t, d.Seen([]byte("c")))
	d.Forget([]byte("c"))
	require.False(t, d.Seen([]byte("c")))
}

// backlog is a queue length set by the test.
type backlog struct{ n atomic.Int64 }

func (b *backlog) Pending(context.Context) (int, error) { return int(b.n.Load()), nil }

func TestThrottleWaitsWhileTheQueueIsLong(t *testing.T) {
	b := &backlog{}
	th := indexer.NewThrottle(b, 10, time.Millisecond)
	require.NoError(t, th.Wait(t.Context()))

	b.n.Store(10)
	th = indexer.NewThrottle(b, 10, time.Millisecond) // no cached reading
	done := make(chan error, 1)
	go func() { done <- th.Wait(t.Context()) }()
	require.Never(t, func() bool { return len(done) > 0 }, 50*time.Millisecond, 5*time.Millisecond)
	b.n.Store(9)
	require.Eventually(t, func() bool { return len(done) > 0 }, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, <-done)

	b.n.Store(100)
	ctx, cancel := context.WithCancel(t.Context())
	go func() { done <- th.Wait(ctx) }()
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}

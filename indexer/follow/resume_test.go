package follow_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/indexer/follow"
	"github.com/alephql/alephql/indexer/netstat"
)

// t0 is the message time of a fake peer's first message.
const t0 = 1_700_000_000

// peerMsg is a message a fake peer processed: its item hash and message
// time (seconds after t0).
type peerMsg struct {
	hash string
	at   int
}

// fakePeer is a node as the follower sees it, with our API's semantics:
// messages.json in cursor mode orders by message time (a cursor is the
// last (time, hash) given, so a message processed later with an older
// time is behind every later page); /api/ws0/messages sends the messages
// in processing order. As an alephql peer (seq) its handshake names its
// outbox position (X-Event-Seq), its frames carry event_seq and after=
// replays from its log, 410 when the position is gone; as a reference
// peer, none of that.
type fakePeer struct {
	t   *testing.T
	seq bool

	mu      sync.Mutex
	log     []peerMsg     // processing order: event_seq = index + 1
	changed chan struct{} // closed (and replaced) at each process
	kick    chan struct{} // closed (and replaced) to cut every feed
	start   int           // event_seqs up to start are gone (410)
	pages   int           // cursor-mode pages of the walk served
	onPage  func(n int)   // called before the n-th page of the walk

	forgot  map[string]string // item hash -> the FORGET that forgot it (msgStatuses=forgotten)
	content map[string]string // item hash -> item_content, for the messages that have one
	quoted  map[string]string // item hash -> item_content already as a JSON string

	down     atomic.Bool  // refuse the websocket (503)
	refused  atomic.Int32 // handshakes refused while down
	feeds    atomic.Int32 // feeds open
	afters   []string     // the after= of every handshake ("" when none)
	cutAfter int          // a feed is closed after that many frames (0: never)
	written  atomic.Int64 // frames written, every feed
}

func newFakePeer(t *testing.T, seq bool, n int) (*fakePeer, *httptest.Server) {
	p := &fakePeer{t: t, seq: seq, changed: make(chan struct{}), kick: make(chan struct{})}
	for i := range n {
		p.log = append(p.log, peerMsg{fmt.Sprintf("m%03d", i), i})
	}
	srv := httptest.NewServer(p)
	t.Cleanup(func() { p.cut(); srv.Close() })
	return p, srv
}

// process appends a message to the peer's log, as processed now.
func (p *fakePeer) process(hash string, at int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = append(p.log, peerMsg{hash, at})
	close(p.changed)
	p.changed = make(chan struct{})
}

// cut closes every open feed.
func (p *fakePeer) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	close(p.kick)
	p.kick = make(chan struct{})
}

func (p *fakePeer) item(m peerMsg, seq int) json.RawMessage {
	typ := "POST"
	if strings.HasPrefix(m.hash, "forget") {
		typ = "FORGET"
	}
	s := fmt.Sprintf(`{"item_hash":%q,"type":%q,"item_type":"inline","time":%d`, m.hash, typ, t0+m.at)
	if c, ok := p.content[m.hash]; ok {
		s += fmt.Sprintf(`,"item_content":%q`, c)
	}
	if c, ok := p.quoted[m.hash]; ok {
		s += `,"item_content":` + c
	}
	if p.seq && seq > 0 {
		s += fmt.Sprintf(`,"event_seq":%d`, seq)
	}
	return json.RawMessage(s + "}")
}

func (p *fakePeer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/api/v0/messages.json":
		p.list(w, r)
	case "/api/ws0/messages":
		p.feed(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (p *fakePeer) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	body := map[string]any{"messages": []any{}, "next_cursor": nil}
	if q.Get("msgStatuses") != "" {
		// As the real API: startDate and endDate bound forgotten_at,
		// the time of the FORGET (not when the peer processed it).
		from, to := math.Inf(-1), math.Inf(1)
		if v := q.Get("startDate"); v != "" {
			from, _ = strconv.ParseFloat(v, 64)
		}
		if v := q.Get("endDate"); v != "" {
			to, _ = strconv.ParseFloat(v, 64)
		}
		var sks []any
		p.mu.Lock()
		for h, by := range p.forgot {
			i := slices.IndexFunc(p.log, func(m peerMsg) bool { return m.hash == by })
			if i < 0 {
				continue // forgotten with its FORGET's processing
			}
			if at := float64(t0 + p.log[i].at); at < from || at >= to {
				continue
			}
			sks = append(sks, map[string]any{"item_hash": h, "type": "POST", "status": "forgotten", "forgotten_by": []string{by}})
		}
		p.mu.Unlock()
		if sks != nil {
			body["messages"] = sks
		}
		_ = json.NewEncoder(w).Encode(body)
		return
	}
	p.mu.Lock()
	if q.Get("startDate") == "" {
		p.pages++
		n, hook := p.pages, p.onPage
		p.mu.Unlock()
		if hook != nil {
			hook(n)
		}
		p.mu.Lock()
	}
	sorted := slices.Clone(p.log)
	p.mu.Unlock()
	slices.SortFunc(sorted, func(a, b peerMsg) int {
		if a.at != b.at {
			return a.at - b.at
		}
		return strings.Compare(a.hash, b.hash)
	})
	size, _ := strconv.Atoi(q.Get("pagination"))
	var since float64
	if v := q.Get("startDate"); v != "" {
		since, _ = strconv.ParseFloat(v, 64)
	}
	var after *peerMsg
	if c := q.Get("cursor"); c != "" {
		var m peerMsg
		_, err := fmt.Sscanf(c, "%d/%s", &m.at, &m.hash)
		require.NoError(p.t, err)
		after = &m
	}
	var msgs []json.RawMessage
	var last peerMsg
	more := false
	for _, m := range sorted {
		if float64(t0+m.at) < since || (after != nil && (m.at < after.at || (m.at == after.at && m.hash <= after.hash))) {
			continue
		}
		if len(msgs) == size {
			more = true
			break
		}
		msgs = append(msgs, p.item(m, 0))
		last = m
	}
	body["messages"] = msgs
	if more {
		body["next_cursor"] = fmt.Sprintf("%d/%s", last.at, last.hash)
	}
	_ = json.NewEncoder(w).Encode(body)
}

func (p *fakePeer) feed(w http.ResponseWriter, r *http.Request) {
	if p.down.Load() {
		p.refused.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	p.mu.Lock()
	a := r.URL.Query().Get("after")
	p.afters = append(p.afters, a)
	pos, start, end := len(p.log), p.start, len(p.log)
	p.mu.Unlock()
	if p.seq && a != "" {
		n, err := strconv.Atoi(a)
		require.NoError(p.t, err)
		if n > end || n < start {
			http.Error(w, `{"error":"gone","code":"EVENT_SEQ_GONE"}`, http.StatusGone)
			return
		}
		pos = n
	}
	if p.seq {
		w.Header().Set("X-Event-Seq", strconv.Itoa(pos))
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	p.feeds.Add(1)
	defer p.feeds.Add(-1)
	ctx := c.CloseRead(r.Context())
	p.mu.Lock()
	cutAfter := p.cutAfter
	p.mu.Unlock()
	sent := 0
	for {
		p.mu.Lock()
		todo := slices.Clone(p.log[pos:])
		changed, kick := p.changed, p.kick
		p.mu.Unlock()
		for _, m := range todo {
			if cutAfter > 0 && sent == cutAfter {
				return
			}
			pos++
			if c.Write(ctx, websocket.MessageText, p.item(m, pos)) != nil {
				return
			}
			sent++
			p.written.Add(1)
		}
		select {
		case <-changed:
		case <-kick:
			return
		case <-ctx.Done():
			return
		}
	}
}

// taker records the item hashes submitted.
type taker struct {
	mu  sync.Mutex
	got map[string]int
}

func (k *taker) SubmitRaw(_ context.Context, _ indexer.Origin, raws [][]byte) ([]indexer.Result, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.got == nil {
		k.got = map[string]int{}
	}
	for _, h := range hashes(raws) {
		k.got[h]++
	}
	return make([]indexer.Result, len(raws)), nil
}

func (k *taker) has(hs ...string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, h := range hs {
		if k.got[h] == 0 {
			return false
		}
	}
	return true
}

// runFollower runs a follower of srv until the test ends or the returned
// stop is called.
func runFollower(t *testing.T, url string, sub indexer.Submitter, cur follow.Cursors) (stop func()) {
	return runFollowerWith(t, url, follow.Deps{Submitter: sub, Cursors: cur})
}

// runFollowerWith is runFollower with every collaborator given.
func runFollowerWith(t *testing.T, url string, deps follow.Deps) (stop func()) {
	f, err := follow.New(follow.Config{URL: url, PageSize: 10, CatchUp: time.Minute, MaxBackoff: 50 * time.Millisecond}, deps)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func TestFollowerTakesLateProcessedOldMessages(t *testing.T) {
	// An alephql peer processes, while the follower walks its history by
	// message time, a message whose time the walk has passed; and, while
	// the follower is cut off, one older than the time catch-up's window
	// (CatchUp before the newest message seen). The follower resumes the
	// peer's feed after the event_seq it learned before the walk, then
	// after the last one it took: both arrive. A reference peer (no
	// event_seq) is caught up by message time, which takes what the peer
	// processed within the window, not before it. A peer that can no
	// longer replay after the follower's position (410) is caught up by
	// message time too, and resumed by event_seq afterwards.
	for _, tc := range []struct {
		name string
		seq  bool // an alephql peer
		gone bool // the peer cannot resume after the follower's position
	}{
		{name: "alephql peer", seq: true},
		{name: "reference peer"},
		{name: "alephql peer whose outbox was pruned", seq: true, gone: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, srv := newFakePeer(t, tc.seq, 100)
			p.onPage = func(n int) {
				if n == 5 { // the walk stands at about time 40
					p.process("late-in-walk", 5)
				}
			}
			k := &taker{}
			reg := netstat.NewRegistry()
			stats := reg.Source(srv.URL, netstat.KindFollow)
			runFollowerWith(t, srv.URL, follow.Deps{Submitter: k, Cursors: &memCursors{}, Stats: stats})
			all := make([]string, 100)
			for i := range all {
				all[i] = fmt.Sprintf("m%03d", i)
			}
			require.Eventually(t, func() bool { return k.has(all...) && p.feeds.Load() == 1 }, 10*time.Second, 5*time.Millisecond)
			p.process("live", 150)
			require.Eventually(t, func() bool { return k.has("live") }, 10*time.Second, 5*time.Millisecond)

			// Cut off; the peer processes one message older than the
			// window (newest 150, CatchUp 60 s) and one within it.
			p.down.Store(true)
			p.cut()
			p.process("late-while-away", 10)
			p.process("recent-while-away", 120)
			if tc.gone {
				p.mu.Lock()
				p.start = len(p.log)
				p.mu.Unlock()
			}
			require.Eventually(t, func() bool { return p.refused.Load() >= 2 }, 10*time.Second, 5*time.Millisecond)
			p.down.Store(false)
			require.Eventually(t, func() bool { return k.has("recent-while-away") && p.feeds.Load() == 1 }, 10*time.Second, 5*time.Millisecond)
			p.process("live-again", 160)
			require.Eventually(t, func() bool { return k.has("live-again") }, 10*time.Second, 5*time.Millisecond)

			if tc.seq && !tc.gone {
				require.True(t, k.has("late-in-walk", "late-while-away"), "what the peer processed late arrives")
			} else {
				require.False(t, k.has("late-while-away"), "by message time, what is older than the window is not seen")
			}
			if tc.seq {
				require.True(t, k.has("late-in-walk"))
				p.mu.Lock()
				afters := slices.Clone(p.afters)
				p.mu.Unlock()
				require.Equal(t, "", afters[0], "the position is learned before the walk")
				require.Equal(t, "100", afters[1], "the feed resumes after the position learned before the walk")
				if tc.gone {
					// 410, then a feed from now, then resumable again.
					p.process("after-fallback", 170)
					require.Eventually(t, func() bool { return k.has("after-fallback") }, 10*time.Second, 5*time.Millisecond)
					p.cut()
					require.Eventually(t, func() bool {
						p.mu.Lock()
						defer p.mu.Unlock()
						return len(p.afters) >= 5 && p.feeds.Load() == 1
					}, 10*time.Second, 5*time.Millisecond)
					p.mu.Lock()
					afters = slices.Clone(p.afters)
					p.mu.Unlock()
					require.Equal(t, []string{"", "100", "102", "", "106"}, afters)
				}
			}
			gone := int64(0)
			if tc.gone {
				gone = 1 // once, at the reconnection after the pruning
			}
			require.Equal(t, gone, stats.Status().ResumeGone, "410 fallbacks counted")
			k.mu.Lock()
			defer k.mu.Unlock()
			for h, n := range k.got {
				require.Equal(t, 1, n, "%s taken once", h)
			}
		})
	}
}

func TestFollowerRestartedMidBackfillResumesFromItsEventSeq(t *testing.T) {
	// A follower stopped in the middle of its backfill saved the peer's
	// position learned before the walk; the peer then processes a
	// message older than where the walk stands. The restarted follower
	// (same cursors) finishes the walk, then resumes the feed after that
	// saved position: the message arrives.
	p, srv := newFakePeer(t, true, 100)
	p.process("before", 200) // event_seq 101
	stopped, release := make(chan struct{}), make(chan struct{})
	p.onPage = func(n int) {
		if n == 5 {
			close(stopped)
			<-release // no page more until the follower is stopped
		}
	}
	cur := &memCursors{}
	k := &taker{}
	stop := runFollower(t, srv.URL, k, cur)
	<-stopped
	stop()
	close(release)
	pos, err := cur.Load(context.Background(), srv.URL)
	require.NoError(t, err)
	require.True(t, pos.Resume)
	require.EqualValues(t, 101, pos.EventSeq, "the position learned before the walk")
	require.False(t, k.has("m099"), "stopped mid-walk")

	p.mu.Lock()
	p.onPage = nil
	p.mu.Unlock()
	p.process("late", 3)
	runFollower(t, srv.URL, k, cur)
	require.Eventually(t, func() bool { return k.has("late", "m000", "m099", "before") && p.feeds.Load() == 1 }, 10*time.Second, 5*time.Millisecond)
	p.mu.Lock()
	defer p.mu.Unlock()
	require.Equal(t, []string{"", "101"}, p.afters, "one probe, before the first walk; the restart resumes after it")
}

// forgetRecorder records the skeletons handed over with each FORGET.
type forgetRecorder struct {
	mu    sync.Mutex
	calls map[string][]string // FORGET item hash -> skeleton item hashes
}

func (r *forgetRecorder) ForgetSkeletons(_ context.Context, forget []byte, skels []json.RawMessage) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls == nil {
		r.calls = map[string][]string{}
	}
	h := hashes([][]byte{forget})[0]
	for _, sk := range skels {
		r.calls[h] = append(r.calls[h], hashes([][]byte{sk})[0])
	}
	return len(skels), nil
}

func TestFollowerHandsOverWhatEachForgetForgot(t *testing.T) {
	// Whenever the peer processed a FORGET, and whatever its time, the
	// skeletons of what it forgot there go with it, once: one processed
	// before the follower came (the forgotten listing read before the
	// walk); one processed while the follower walks, with a time ahead
	// of the walk (the walk takes it after the listing was read); one
	// processed while the follower is live, with a time older than any
	// window a clock would give (the peer filters its listing on
	// forgotten_at, the FORGET's time). A FORGET whose targets the peer
	// did not forget (nothing listed) is taken as it is. Each FORGET is
	// taken once, though the feed replays the walk's.
	p, srv := newFakePeer(t, true, 100)
	p.forgot = map[string]string{"gone0": "forget-0"}
	p.process("forget-0", 2) // event_seq 101, before the follower came
	p.onPage = func(n int) {
		if n == 2 {
			p.mu.Lock()
			p.forgot["gone1"] = "forget-1"
			p.mu.Unlock()
			p.process("forget-1", 95)
		}
	}
	k := &taker{}
	rec := &forgetRecorder{}
	f, err := follow.New(follow.Config{URL: srv.URL, PageSize: 10, MaxBackoff: 50 * time.Millisecond},
		follow.Deps{Submitter: k, Cursors: &memCursors{}, Forgotten: rec})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool { return k.has("m099", "forget-0", "forget-1") && p.feeds.Load() == 1 }, 10*time.Second, 5*time.Millisecond)

	p.mu.Lock()
	p.forgot["gone2"] = "forget-2"
	p.mu.Unlock()
	p.process("forget-2", 1) // live, dated before everything
	p.process("forget-3", 3) // forgot nothing the peer lists
	p.process("live", 200)
	require.Eventually(t, func() bool { return k.has("forget-2", "forget-3", "live") }, 10*time.Second, 5*time.Millisecond)

	rec.mu.Lock()
	require.Equal(t, map[string][]string{"forget-0": {"gone0"}, "forget-1": {"gone1"}, "forget-2": {"gone2"}}, rec.calls)
	rec.mu.Unlock()
	k.mu.Lock()
	defer k.mu.Unlock()
	for h, n := range k.got {
		require.Equal(t, 1, n, "%s taken once", h)
	}
}

// batcher records each submission's item hashes; while hold is open,
// submissions wait.
type batcher struct {
	mu      sync.Mutex
	batches [][]string
	hold    chan struct{}
}

func (b *batcher) SubmitRaw(ctx context.Context, _ indexer.Origin, raws [][]byte) ([]indexer.Result, error) {
	b.mu.Lock()
	h := b.hold
	b.mu.Unlock()
	if h != nil {
		select {
		case <-h:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	hs := make([]string, len(raws))
	for i, r := range raws {
		// The wire message's item hash, without decoding it (large
		// frames decode slowly under the race detector).
		_, after, _ := bytes.Cut(r, []byte(`"item_hash":"`))
		h, _, _ := bytes.Cut(after, []byte(`"`))
		hs[i] = string(h)
	}
	b.mu.Lock()
	b.batches = append(b.batches, hs)
	b.mu.Unlock()
	return make([]indexer.Result, len(raws)), nil
}

// prepBatcher is a batcher that is a follow.Preparer: batches are
// prepared, then stored.
type prepBatcher struct{ *batcher }

func (b prepBatcher) SubmitRaw(context.Context, indexer.Origin, [][]byte) ([]indexer.Result, error) {
	panic("a Preparer's batches go through Prepare and SubmitPrepared")
}

func (b prepBatcher) Prepare(_ indexer.Origin, raws [][]byte) (follow.Prepared, error) {
	return raws, nil
}

func (b prepBatcher) SubmitPrepared(ctx context.Context, p follow.Prepared) ([]indexer.Result, error) {
	return b.batcher.SubmitRaw(ctx, indexer.OriginPeer, p.([][]byte))
}

// taken returns every hash submitted, in order, and the submissions.
func (b *batcher) taken() ([]string, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, hs := range b.batches {
		out = append(out, hs...)
	}
	return out, len(b.batches)
}

// setHold makes the submissions wait until the returned release.
func (b *batcher) setHold() (release func()) {
	h := make(chan struct{})
	b.mu.Lock()
	b.hold = h
	b.mu.Unlock()
	return func() { close(h) }
}

func TestFollowerTakesAReplayInBatches(t *testing.T) {
	// A follower cut off while the peer processes n messages is replayed
	// them after its position on reconnecting: the frames already read
	// are taken together, in far fewer submissions than frames, in the
	// peer's order. When the peer cuts the replay in the middle, the
	// follower resumes after what it stored: every message is taken
	// once, in order.
	const n = 1000
	for _, tc := range []struct {
		name     string
		cutAfter int
		prepare  bool // the submitter is a Preparer
	}{
		{name: "whole replay"},
		{name: "replay cut in the middle", cutAfter: 400},
		{name: "replay cut in the middle, prepared then stored", cutAfter: 400, prepare: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, srv := newFakePeer(t, true, 0)
			b := &batcher{}
			var sub indexer.Submitter = b
			if tc.prepare {
				sub = prepBatcher{b}
			}
			cur := &memCursors{}
			runFollower(t, srv.URL, sub, cur)
			require.Eventually(t, func() bool { // live: the probe, then the feed
				p.mu.Lock()
				defer p.mu.Unlock()
				return len(p.afters) == 2 && p.feeds.Load() == 1
			}, 10*time.Second, 5*time.Millisecond)

			p.down.Store(true)
			p.cut()
			require.Eventually(t, func() bool { return p.refused.Load() >= 1 }, 10*time.Second, 5*time.Millisecond)
			want := make([]string, n)
			for i := range want {
				want[i] = fmt.Sprintf("r%04d", i)
				p.process(want[i], i)
			}
			p.mu.Lock()
			p.cutAfter = tc.cutAfter
			p.mu.Unlock()
			// Submissions wait until the peer has written the replay
			// (or its first part): the frames are read meanwhile.
			first := n
			if tc.cutAfter > 0 {
				first = tc.cutAfter
			}
			release := b.setHold()
			p.down.Store(false)
			require.Eventually(t, func() bool { return p.written.Load() == int64(first) }, 10*time.Second, 5*time.Millisecond)
			release()
			if tc.cutAfter > 0 {
				// The peer closed the feed after cutAfter frames: they
				// are stored, the position saved past them; the rest
				// comes on the next connection (a second after).
				require.Eventually(t, func() bool { got, _ := b.taken(); return len(got) == first }, 10*time.Second, 5*time.Millisecond)
				p.mu.Lock()
				p.cutAfter = 0
				p.mu.Unlock()
				release = b.setHold()
				require.Eventually(t, func() bool { return p.written.Load() == n }, 10*time.Second, 5*time.Millisecond)
				release()
			}
			require.Eventually(t, func() bool { got, _ := b.taken(); return len(got) >= n }, 10*time.Second, 5*time.Millisecond)
			got, subs := b.taken()
			require.Equal(t, want, got, "every message once, in the peer's order")
			t.Logf("%d frames in %d submissions", n, subs)
			require.LessOrEqual(t, subs, 10, "%d frames in %d submissions", n, subs)

			// A new connection resumes after the replay.
			p.cut()
			require.Eventually(t, func() bool {
				p.mu.Lock()
				defer p.mu.Unlock()
				return len(p.afters) > 0 && p.afters[len(p.afters)-1] == strconv.Itoa(n) && p.feeds.Load() == 1
			}, 10*time.Second, 5*time.Millisecond)
			p.mu.Lock()
			afters := slices.Clone(p.afters)
			p.mu.Unlock()
			wantAfters := []string{"", "0", "0"}
			if tc.cutAfter > 0 {
				wantAfters = append(wantAfters, strconv.Itoa(tc.cutAfter))
			}
			require.Equal(t, append(wantAfters, strconv.Itoa(n)), afters, "each connection resumes after what was stored")
			pos, err := cur.Load(context.Background(), srv.URL)
			require.NoError(t, err)
			require.EqualValues(t, n, pos.EventSeq, "the position saved when the feed ended")
		})
	}
}

func TestFollowerBoundsTheFramesItReadsAhead(t *testing.T) {
	// While its intake is held up, the follower reads ahead a bounded
	// number of bytes of frames (a few of the largest), not every frame
	// the peer sends; once the intake goes on, every frame is taken.
	const n, size = 100, 1 << 20
	p, srv := newFakePeer(t, true, 0)
	big := `"` + strings.Repeat("x", size) + `"`
	p.quoted = map[string]string{}
	for i := range n {
		p.quoted[fmt.Sprintf("big%03d", i)] = big
	}
	b := &batcher{}
	runFollower(t, srv.URL, b, &memCursors{})
	require.Eventually(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.afters) == 2 && p.feeds.Load() == 1
	}, 10*time.Second, 5*time.Millisecond)
	release := b.setHold()
	for i := range n {
		p.process(fmt.Sprintf("big%03d", i), i)
	}
	// 16 MiB read ahead, the batch held up, and what the sockets hold:
	// up to the kernel's largest receive and send buffers (loopback
	// autotuning grew the receive buffer to tcp_rmem's 32 MiB maximum on
	// one machine), and a frame on each side in flight.
	bound := int64(16 + 2 + (tcpBufMax(t, "tcp_rmem")+tcpBufMax(t, "tcp_wmem"))/size)
	require.Less(t, bound, int64(n), "the peer has more to send than the bound")
	require.Eventually(t, func() bool { return p.written.Load() >= 16 }, 30*time.Second, 10*time.Millisecond)
	require.Never(t, func() bool { return p.written.Load() > bound }, time.Second, 10*time.Millisecond)
	release()
	require.Eventually(t, func() bool { got, _ := b.taken(); return len(got) == n }, 60*time.Second, 10*time.Millisecond,
		func() string {
			got, subs := b.taken()
			return fmt.Sprintf("%d taken in %d, %d written", len(got), subs, p.written.Load())
		}())
}

// tcpBufMax is the largest buffer the kernel gives a TCP socket on one
// side (name tcp_rmem or tcp_wmem: min, default, max), in bytes.
func tcpBufMax(t *testing.T, name string) int {
	t.Helper()
	raw, err := os.ReadFile("/proc/sys/net/ipv4/" + name)
	require.NoError(t, err)
	f := strings.Fields(string(raw))
	require.Len(t, f, 3, name)
	v, err := strconv.Atoi(f[2])
	require.NoError(t, err)
	return v
}

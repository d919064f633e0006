// Package follow mirrors another node over its HTTP API, in the reference
// node's response shapes (spec §9.2, §9.4): a backfill through
// GET /api/v0/messages.json in cursor mode, oldest first, resumable from a
// cursor persisted in the database; then live through the websocket
// /api/ws0/messages, reconnecting with back-off.
//
// The gap left by a disconnection (and by the backfill itself) is closed
// in the peer's processing order when the peer is an alephql node: its
// websocket handshake names its outbox position (X-Event-Seq) and its
// frames carry event_seq, so the follower learns that position before
// the backfill's first page, persists the last event_seq it took, and
// reconnects with after=<it>: everything the peer processed meanwhile is
// replayed, whatever its message time. A reference node (no event_seq),
// or a peer that can no longer replay from there (410), is caught up by
// message time through messages.json instead: every message of time at
// least CatchUp before the newest seen, which misses a message the peer
// processes late with an older time.
//
// The peer is never trusted: only the fields a client signs are taken from
// it, and every message goes through the same intake as a client's (hash,
// signature, schema, permissions), so the peer's statuses are never copied
// (a FORGET seen there is applied by processing it here). Non-inline
// content and STORE files are fetched by the processor, from the peer's
// /api/v0/storage/{hash} among others, and checked against their hash.
package follow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/sync/semaphore"

	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/indexer/netstat"
)

// Defaults of Config.
const (
	DefaultPageSize    = 200 // the reference node's cursor-mode cap
	DefaultMaxBackoff  = 60 * time.Second
	DefaultTimeout     = 60 * time.Second
	DefaultCatchUp     = 10 * time.Minute
	DefaultDedupe      = 200000
	DefaultProgress    = 10 * time.Second
	DefaultMaxResponse = 64 << 20
	maxFrame           = 4 << 20
)

// Config configures a Follower.
type Config struct {
	// URL is the followed node's API base URL (https://node.example).
	URL string
	// PageSize is messages.json's pagination. Default DefaultPageSize.
	PageSize int
	// MaxBackoff bounds the wait between reconnections. Default
	// DefaultMaxBackoff.
	MaxBackoff time.Duration
	// Timeout bounds one page request. Default DefaultTimeout.
	Timeout time.Duration
	// CatchUp is how far back in message time a catch-up after a
	// disconnection starts before the newest message seen, for messages
	// the peer processed late (messages.json orders by message time).
	// Default DefaultCatchUp.
	CatchUp time.Duration
	// Dedupe is how many recent messages are remembered (by their wire
	// bytes) so that a message seen twice (page overlap, websocket and
	// catch-up) is submitted once. Default DefaultDedupe.
	Dedupe int
	// Progress is the period of the backfill's progress log line. Default
	// DefaultProgress.
	Progress time.Duration
	// MaxResponse bounds one page's body. Default DefaultMaxResponse.
	MaxResponse int64
}

func (c *Config) withDefaults() {
	if c.PageSize <= 0 {
		c.PageSize = DefaultPageSize
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.CatchUp <= 0 {
		c.CatchUp = DefaultCatchUp
	}
	if c.Dedupe <= 0 {
		c.Dedupe = DefaultDedupe
	}
	if c.Progress <= 0 {
		c.Progress = DefaultProgress
	}
	if c.MaxResponse <= 0 {
		c.MaxResponse = DefaultMaxResponse
	}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("follow: URL %q: want http(s)://host[:port]", c.URL)
	}
	if c.PageSize > 200 {
		return fmt.Errorf("follow: page size %d: the reference node allows at most 200 in cursor mode", c.PageSize)
	}
	return nil
}

// Position is where a follower stands in a peer's history.
type Position struct {
	// Cursor is the messages.json cursor to continue the backfill with
	// ("" = from the start).
	Cursor string
	// Newest is the largest message time taken from the peer (catch-up
	// starts CatchUp before it).
	Newest time.Time
	// Resume is set when EventSeq is known (an alephql peer): the live
	// feed reconnects with after=EventSeq and the peer replays what it
	// processed since, whatever its message time.
	Resume bool
	// EventSeq is the peer's outbox position every message processed
	// after which is still to be taken: learned before the backfill
	// starts, then the event_seq of the last live frame taken.
	EventSeq int64
}

// Cursors persists a follower's position per followed URL.
type Cursors interface {
	Load(ctx context.Context, url string) (Position, error)
	Save(ctx context.Context, url string, p Position) error
}

// Forgotten records the targets a peer forgot before this node followed
// it, from their skeletons (processor.ForgetSkeletons: each is checked,
// none trusted), before the FORGET naming them is submitted.
type Forgotten interface {
	ForgetSkeletons(ctx context.Context, forget []byte, skels []json.RawMessage) (int, error)
}

// Preparer is a Submitter that splits a submission in two: Prepare
// touches no database (decoding, signature checks), SubmitPrepared stores
// (processor.PrepareImport, SubmitPrepared). The backfill then prepares a
// batch while the one before is stored.
type Preparer interface {
	indexer.Submitter
	Prepare(origin indexer.Origin, raws [][]byte) (Prepared, error)
	SubmitPrepared(ctx context.Context, b Prepared) ([]indexer.Result, error)
}

// Prepared is a batch made by Preparer.Prepare.
type Prepared any

// Deps are a Follower's collaborators.
type Deps struct {
	// Submitter takes the messages in (required).
	Submitter indexer.Submitter
	// Cursors persists the position (required).
	Cursors Cursors
	// Throttle slows the follower while the queue is long (nil: never).
	Throttle *indexer.Throttle
	// Stats counts the messages (nil: not counted).
	Stats *netstat.Source
	// Forgotten takes the skeletons of what the peer forgot (nil: the
	// peer's forgotten messages are not read; their FORGETs wait for
	// targets that never come).
	Forgotten Forgotten
	// HTTP is the client (nil: a default one).
	HTTP *http.Client
	// Log is the logger.
	Log *slog.Logger
}

// Follower follows one node.
type Follower struct {
	cfg   Config
	deps  Deps
	base  string
	seen  *indexer.Dedupe
	log   *slog.Logger
	pos   Position
	total int64
	// timeCatchUp asks the next connection for a time catch-up even if
	// it resumes after EventSeq: the backfill resumed from a cursor saved
	// before EventSeq was known.
	timeCatchUp bool
	// skels are the peer's forgotten skeletons by the FORGETs that
	// forgot them (loadForgotten), until handed over with them.
	skels map[string][]json.RawMessage
}

// New returns a Follower.
func New(cfg Config, deps Deps) (*Follower, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Submitter == nil || deps.Cursors == nil {
		return nil, errors.New("follow: Submitter and Cursors are required")
	}
	cfg.withDefaults()
	if deps.HTTP == nil {
		deps.HTTP = &http.Client{}
	}
	if deps.Log == nil {
		deps.Log = slog.Default()
	}
	return &Follower{cfg: cfg, deps: deps, base: strings.TrimRight(cfg.URL, "/"), seen: indexer.NewDedupe(cfg.Dedupe),
		log: deps.Log.With("component", "indexer", "source", "follow", "peer", cfg.URL)}, nil
}

// Run follows the node until ctx ends: backfill, then live with
// catch-ups after every reconnection.
func (f *Follower) Run(ctx context.Context) error {
	defer f.deps.Stats.SetState(netstat.Stopped)
	var err error
	if f.pos, err = f.deps.Cursors.Load(ctx, f.cfg.URL); err != nil {
		return fmt.Errorf("follow %s: load cursor: %w", f.cfg.URL, err)
	}
	backoff := time.Second
	backfilled := false
	for {
		err := f.session(ctx, &backfilled)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			backoff = time.Second
		}
		f.deps.Stats.SetState(netstat.Disconnected)
		f.deps.Stats.SetError(err)
		f.log.Warn("following interrupted; reconnecting", "err", err, "in", backoff)
		if indexer.Sleep(ctx, backoff) != nil {
			return ctx.Err()
		}
		backoff = min(backoff*2, f.cfg.MaxBackoff)
	}
}

// session runs the backfill if not done yet in this run, then one
// websocket connection: connect, catch up, take live messages until the
// connection fails.
func (f *Follower) session(ctx context.Context, backfilled *bool) error {
	if !*backfilled {
		f.deps.Stats.SetState(netstat.Backfilling)
		if !f.pos.Resume {
			// The peer's position is learned before the first page is
			// read, so that resuming after it covers the whole walk.
			fresh := f.pos.Cursor == ""
			if err := f.probe(ctx); err != nil {
				return err
			}
			f.timeCatchUp = f.pos.Resume && !fresh
		}
		if err := f.loadForgotten(ctx, time.Time{}, time.Time{}, ""); err != nil {
			return err
		}
		if err := f.backfill(ctx); err != nil {
			return err
		}
		*backfilled = true
	}
	f.deps.Stats.SetState(netstat.Connecting)
	conn, resumed, err := f.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.CloseNow()
	defer f.saveNow(ctx)
	// The websocket is open: what the peer processes from now on arrives
	// there. A resumed feed first replays what the peer processed after
	// EventSeq; otherwise catch up by message time on what it may have
	// processed since the newest message seen (or while disconnected).
	if !resumed || f.timeCatchUp {
		if err := f.catchUp(ctx); err != nil {
			return err
		}
		f.timeCatchUp = false
	}
	f.deps.Stats.SetState(netstat.Live)
	f.deps.Stats.SetLag(0)
	return f.live(ctx, conn)
}

// probe learns the peer's processing position from a websocket
// handshake (EventSeqHeader) and saves it. A peer that answers without it
// (the reference node) or refuses the feed is followed by message time.
func (f *Follower) probe(ctx context.Context) error {
	conn, seq, ok, err := f.dial(ctx, nil)
	var he *handshakeError
	if errors.As(err, &he) {
		f.log.Warn("the peer refuses its live feed; following it by message time", "err", err)
		return nil
	}
	if err != nil {
		return err
	}
	conn.CloseNow()
	if !ok {
		f.log.Info("the peer does not give its processing position; following it by message time")
		return nil
	}
	f.pos.Resume, f.pos.EventSeq = true, seq
	f.log.Info("following the peer in its processing order", "event_seq", seq)
	if err := f.deps.Cursors.Save(ctx, f.cfg.URL, f.pos); err != nil {
		return fmt.Errorf("save cursor: %w", err)
	}
	return nil
}

// connect opens the live feed: after EventSeq when it is known (resumed),
// else from now, falling back to that (and to a time catch-up) when the
// peer can no longer replay after EventSeq.
func (f *Follower) connect(ctx context.Context) (*websocket.Conn, bool, error) {
	if f.pos.Resume {
		after := f.pos.EventSeq
		conn, _, _, err := f.dial(ctx, &after)
		var he *handshakeError
		if !errors.As(err, &he) || he.status != http.StatusGone {
			return conn, err == nil, err
		}
		f.log.Warn("the peer cannot replay its feed after our position; catching up by message time",
			"event_seq", after, "err", err, "catch_up", f.cfg.CatchUp)
		f.deps.Stats.SetError(err)
		f.deps.Stats.ResumeGone()
		f.pos.Resume, f.pos.EventSeq = false, 0
	}
	conn, seq, ok, err := f.dial(ctx, nil)
	if err != nil {
		return nil, false, err
	}
	if ok {
		// What this connection brings comes after seq: a later
		// reconnection resumes from there.
		f.pos.Resume, f.pos.EventSeq = true, seq
	}
	return conn, false, nil
}

// saveNow saves the position, even once ctx ended (a stop).
func (f *Follower) saveNow(ctx context.Context) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.cfg.Timeout)
	defer cancel()
	if err := f.deps.Cursors.Save(sctx, f.cfg.URL, f.pos); err != nil {
		f.log.Warn("saving the position failed", "err", err)
	}
}

// page is a messages.json answer in cursor mode, its messages decoded
// once, with the page (an entry that is not an object is left empty,
// and dropped as malformed).
type page struct {
	Messages   []apiMessage `json:"messages"`
	NextCursor *string      `json:"next_cursor"`
}

// listing is a messages.json answer read as raw entries.
type listing struct {
	Messages []json.RawMessage `json:"messages"`
}

// fetched is a page read ahead by the backfill's reader.
type fetched struct {
	p      page
	cursor string // the cursor that fetched p
	err    error
}

// backfill reads the peer's history from the persisted cursor to its end,
// saving the cursor after each page. The next page is fetched while the
// current one is submitted.
func (f *Follower) backfill(ctx context.Context) error {
	start, last := time.Now(), time.Now()
	f.log.Info("backfill starting", "from_cursor", f.pos.Cursor != "")
	rctx, cancel := context.WithCancel(ctx)
	pages := make(chan fetched, 4)
	go func() {
		defer close(pages)
		cursor := f.pos.Cursor
		for {
			p, err := f.fetch(rctx, cursor, time.Time{})
			select {
			case pages <- fetched{p, cursor, err}:
			case <-rctx.Done():
				return
			}
			if err != nil || p.NextCursor == nil || *p.NextCursor == "" {
				return
			}
			cursor = *p.NextCursor
		}
	}()
	defer func() {
		cancel()
		for range pages { //nolint:revive // drain so the reader ends
		}
	}()
	var pending error // a read failure after pages still to take
	// One batch is stored while the next is gathered and prepared; the
	// cursor is saved once a batch is stored, batches in order.
	pp := &pipe{f: f, stored: func(cur *inflight) error {
		f.pos.Cursor = cur.cursor
		if err := f.deps.Cursors.Save(ctx, f.cfg.URL, f.pos); err != nil {
			return fmt.Errorf("save cursor: %w", err)
		}
		if !f.pos.Newest.IsZero() {
			f.deps.Stats.SetLag(time.Since(f.pos.Newest))
		}
		if time.Since(last) >= f.cfg.Progress || cur.end {
			last = time.Now()
			el := time.Since(start).Seconds()
			f.log.Info("backfill progress", "messages", f.total, "newest", f.pos.Newest.Format(time.RFC3339),
				"per_second", math.Round(float64(f.total)/max(el, 1e-3)), "done", cur.end)
		}
		return nil
	}}
	for fp := range pages {
		if fp.err != nil {
			return errors.Join(fp.err, pp.wait())
		}
		p, cursor := fp.p, fp.cursor
		msgs := p.Messages
		// Take the pages already read with this one, up to mergeMax
		// messages: fewer, larger intake transactions.
	merge:
		for len(msgs) < mergeMax && p.NextCursor != nil && *p.NextCursor != "" {
			select {
			case nx, ok := <-pages:
				if !ok {
					break merge
				}
				if nx.err != nil {
					pending = nx.err
					break merge
				}
				p, cursor = nx.p, nx.cursor
				msgs = append(msgs, p.Messages...)
			default:
				break merge
			}
		}
		end := p.NextCursor == nil || *p.NextCursor == ""
		// At the end the cursor stays the last page's: a later backfill
		// re-reads that page (dedupe drops what was taken) and goes on.
		next := cursor
		if !end {
			next = *p.NextCursor
		}
		g, err := f.gather(ctx, msgs)
		if err != nil {
			return errors.Join(err, pp.wait())
		}
		if err := pp.send(ctx, g, &inflight{cursor: next, end: end}); err != nil {
			return err
		}
		if end {
			return pp.wait()
		}
		if pending != nil {
			return errors.Join(pending, pp.wait())
		}
	}
	return errors.Join(ctx.Err(), pp.wait())
}

// inflight is a batch being stored, and where the follower stands once
// it is.
type inflight struct {
	g      batch
	done   chan error
	cursor string // backfill: the cursor after the batch
	end    bool   // backfill: the last batch
	seq    int64  // live: the largest event_seq of the batch's frames (0: none)
}

// pipe stores gathered batches in order, one at a time, while the next is
// gathered and prepared (Preparer.Prepare: decoding and signature checks
// while the batch before is being stored). A stored batch's position is
// saved (stored) while the next one is being stored, so that the save's
// commit is not on the way of the next batch's.
type pipe struct {
	f *Follower
	// stored is called once a batch is stored, batches in order, from
	// the pipe's caller's goroutine.
	stored func(*inflight) error
	prev   *inflight
}

// send prepares g, waits until the batch before is stored, starts storing
// g, then calls stored for the batch before. On failure g is forgotten by
// the dedupe, to be taken again.
func (p *pipe) send(ctx context.Context, g batch, cur *inflight) error {
	f := p.f
	sub := f.deps.Submitter
	if pr, ok := sub.(Preparer); ok && len(g.raws) > 0 {
		b, err := pr.Prepare(indexer.OriginPeer, g.raws)
		if err != nil {
			f.unsee(g)
			return errors.Join(err, p.wait())
		}
		sub = indexer.SubmitterFunc(func(ctx context.Context, _ indexer.Origin, _ [][]byte) ([]indexer.Result, error) {
			return pr.SubmitPrepared(ctx, b)
		})
	}
	prev := p.prev
	p.prev = nil
	if prev != nil {
		if err := <-prev.done; err != nil {
			f.unsee(g)
			return err
		}
		f.took(prev.g)
	}
	cur.g = g
	cur.done = make(chan error, 1)
	go func() { cur.done <- f.store(ctx, g, sub) }()
	p.prev = cur
	if prev != nil {
		if err := p.stored(prev); err != nil {
			return errors.Join(err, p.wait())
		}
	}
	return nil
}

// wait waits until the batch being stored (if any) is, and calls stored.
func (p *pipe) wait() error {
	if p.prev == nil {
		return nil
	}
	cur := p.prev
	p.prev = nil
	if err := <-cur.done; err != nil {
		return err
	}
	p.f.took(cur.g)
	return p.stored(cur)
}

// mergeMax bounds the messages of pages (or frames) taken together.
const mergeMax = 1000

// catchUp reads every message of time at least Newest - CatchUp.
func (f *Follower) catchUp(ctx context.Context) error {
	var since time.Time
	if !f.pos.Newest.IsZero() {
		since = f.pos.Newest.Add(-f.cfg.CatchUp)
	}
	if err := f.loadForgotten(ctx, since, time.Time{}, ""); err != nil {
		return err
	}
	cursor := ""
	for {
		p, err := f.fetch(ctx, cursor, since)
		if err != nil {
			return err
		}
		if err := f.take(ctx, p.Messages); err != nil {
			return err
		}
		if p.NextCursor == nil || *p.NextCursor == "" {
			return f.deps.Cursors.Save(ctx, f.cfg.URL, f.pos)
		}
		cursor = *p.NextCursor
	}
}

// loadForgotten reads the skeletons of the messages the peer forgot,
// messages.json?msgStatuses=forgotten in page mode (the reference node has
// no cursor for them), and keeps them by the FORGETs that forgot them
// (only by the FORGET by, if set): gather hands them over with those
// FORGETs. since and until (if set) bound forgotten_at, which is the time
// of the FORGET that first forgot the message (spec §4.7), not when the
// peer processed it: a FORGET processed late with an older time is behind
// any since taken from a clock. A follower never sees a message its peer
// forgot before it joined (its content is gone); this is how the FORGET
// still finds its target here (see processor.ForgetSkeletons). Skeletons
// are few beside the messages.
func (f *Follower) loadForgotten(ctx context.Context, since, until time.Time, by string) error {
	if f.deps.Forgotten == nil {
		return nil
	}
	if f.skels == nil {
		f.skels = map[string][]json.RawMessage{}
	}
	stamp := func(t time.Time) string {
		return strconv.FormatFloat(float64(t.UnixMicro())/1e6, 'f', -1, 64)
	}
	for pg := 1; ; pg++ {
		q := url.Values{}
		q.Set("msgStatuses", "forgotten")
		q.Set("sortOrder", "1")
		q.Set("pagination", strconv.Itoa(f.cfg.PageSize))
		q.Set("page", strconv.Itoa(pg))
		if !since.IsZero() {
			q.Set("startDate", stamp(since))
		}
		if !until.IsZero() {
			q.Set("endDate", stamp(until))
		}
		var p listing
		if err := f.get(ctx, q, &p); err != nil {
			return fmt.Errorf("forgotten messages: %w", err)
		}
		skels := 0
		for _, m := range p.Messages {
			var sk struct {
				ItemHash    string   `json:"item_hash"`
				Status      string   `json:"status"`
				ForgottenBy []string `json:"forgotten_by"`
			}
			if json.Unmarshal(m, &sk) != nil || sk.ItemHash == "" || sk.Status != "forgotten" {
				continue
			}
			skels++
			for _, fh := range sk.ForgottenBy {
				if by != "" && fh != by {
					continue
				}
				if !slices.ContainsFunc(f.skels[fh], func(o json.RawMessage) bool { return bytes.Equal(o, m) }) {
					f.skels[fh] = append(f.skels[fh], m)
				}
			}
		}
		// A short page ends the listing; so does a page of no skeleton
		// (a node that ignores msgStatuses, or the page parameter).
		if len(p.Messages) < f.cfg.PageSize || skels == 0 || pg >= maxForgottenPages {
			return nil
		}
	}
}

// forgottenBy reads the skeletons of what the FORGET hash, of message time
// t, forgot on the peer, unless they are held already: those it forgot
// first have forgotten_at t (forgetWindow on either side absorbs the
// rounding of times through JSON floats). A target another FORGET forgot
// first came with that one.
func (f *Follower) forgottenBy(ctx context.Context, hash string, t time.Time) error {
	if _, ok := f.skels[hash]; ok || f.deps.Forgotten == nil {
		return nil
	}
	return f.loadForgotten(ctx, t.Add(-forgetWindow), t.Add(forgetWindow), hash)
}

// forgetWindow is the margin around a FORGET's time when its targets are
// looked up by forgotten_at.
const forgetWindow = time.Millisecond

// maxForgottenPages bounds one reading of the peer's forgotten listing
// (200 000 skeletons at the default page size).
const maxForgottenPages = 1000

// fetch reads one page, oldest first, from cursor (and since, if set).
func (f *Follower) fetch(ctx context.Context, cursor string, since time.Time) (page, error) {
	q := url.Values{}
	q.Set("sortOrder", "1")
	q.Set("pagination", strconv.Itoa(f.cfg.PageSize))
	q.Set("cursor", cursor)
	if !since.IsZero() {
		q.Set("startDate", strconv.FormatFloat(float64(since.UnixMicro())/1e6, 'f', -1, 64))
	}
	var p page
	err := f.get(ctx, q, &p)
	return p, err
}

// get reads one messages.json answer into v. Entries of the wrong JSON
// type are left empty (json.Unmarshal goes on past them): the page's
// other messages are taken.
func (f *Follower) get(ctx context.Context, q url.Values, v any) error {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.base+"/api/v0/messages.json?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := f.deps.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("messages.json: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("messages.json: HTTP %d", resp.StatusCode)
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, f.cfg.MaxResponse))
	var te *json.UnmarshalTypeError
	if err := dec.Decode(v); err != nil && !(errors.As(err, &te) && strings.HasPrefix(te.Field, "messages")) {
		return fmt.Errorf("messages.json: %w", err)
	}
	return nil
}

// take submits the messages of a page (or frame) that are new to this
// follower, in order.
func (f *Follower) take(ctx context.Context, msgs []apiMessage) error {
	g, err := f.gather(ctx, msgs)
	if err != nil {
		return err
	}
	return f.submit(ctx, g, f.deps.Submitter)
}

// batch is what gather kept of some messages: the wire messages new to
// this follower, their newest time and the largest event_seq of the
// frames they came in (0: none).
type batch struct {
	raws   [][]byte
	newest time.Time
	seq    int64
}

// gather turns messages as the peer shows them into wire messages,
// counting them and dropping the malformed and those already taken; the
// skeletons of what a FORGET among them forgot on the peer are recorded
// first (loadForgotten).
func (f *Follower) gather(ctx context.Context, msgs []apiMessage) (batch, error) {
	f.deps.Stats.Received(len(msgs))
	g := batch{raws: make([][]byte, 0, len(msgs))}
	bad := 0
	for _, m := range msgs {
		mw, err := m.wire()
		w, hash, typ, t := mw.raw, mw.hash, mw.typ, mw.time
		if mw.eventSeq > g.seq {
			g.seq = mw.eventSeq
		}
		if err != nil {
			bad++
			f.log.Debug("dropping a malformed message from the peer", "err", err)
			continue
		}
		if t.After(g.newest) {
			g.newest = t
		}
		// Keyed by the wire bytes, not the item hash: a tampered copy
		// must not keep the genuine one out.
		if f.seen.Seen(w) {
			f.deps.Stats.Duplicate(1)
			continue
		}
		if typ == "FORGET" {
			// What it forgot on the peer after the listing was read
			// (the FORGET was processed there since).
			if err := f.forgottenBy(ctx, hash, t); err != nil {
				f.seen.Forget(w)
				f.unsee(g)
				return batch{}, err
			}
		}
		if sk, ok := f.skels[hash]; ok {
			// A FORGET of messages the peer forgot before this node
			// saw them: their skeletons first.
			if _, err := f.deps.Forgotten.ForgetSkeletons(ctx, w, sk); err != nil {
				f.seen.Forget(w)
				f.unsee(g)
				return batch{}, fmt.Errorf("forgotten skeletons: %w", err)
			}
			delete(f.skels, hash)
		}
		g.raws = append(g.raws, w)
	}
	if bad > 0 {
		rs := make([]indexer.Result, bad)
		for i := range rs {
			rs[i].Outcome = indexer.Rejected
		}
		f.deps.Stats.Record(rs)
	}
	return g, nil
}

// unsee forgets a batch that was not submitted, so that it is taken again.
func (f *Follower) unsee(g batch) {
	for _, w := range g.raws {
		f.seen.Forget(w)
	}
}

// submit hands a gathered batch to sub, retrying until it is taken or
// ctx ends, and counts it taken.
func (f *Follower) submit(ctx context.Context, g batch, sub indexer.Submitter) error {
	if err := f.store(ctx, g, sub); err != nil {
		return err
	}
	f.took(g)
	return nil
}

// store hands a gathered batch to sub, retrying until it is taken or ctx
// ends. It changes none of the follower's position (a pipe runs it beside
// the follower's goroutine).
func (f *Follower) store(ctx context.Context, g batch, sub indexer.Submitter) error {
	if len(g.raws) == 0 {
		return nil
	}
	if err := indexer.SubmitRetry(ctx, sub, f.deps.Throttle, f.deps.Stats, indexer.OriginPeer, g.raws, f.cfg.MaxBackoff, f.log); err != nil {
		f.unsee(g)
		return err
	}
	return nil
}

// took counts a stored batch in the follower's position.
func (f *Follower) took(g batch) {
	f.total += int64(len(g.raws))
	if g.newest.After(f.pos.Newest) {
		f.pos.Newest = g.newest
	}
}

// eventSeqHeader is the handshake header of an alephql peer's feed: the
// outbox position the feed starts after (rest.EventSeqHeader).
const eventSeqHeader = "X-Event-Seq"

// handshakeError is a websocket handshake the peer answered without
// upgrading (410: it cannot resume after the position asked).
type handshakeError struct {
	status int
	err    error
}

func (e *handshakeError) Error() string {
	return fmt.Sprintf("websocket: HTTP %d: %v", e.status, e.err)
}
func (e *handshakeError) Unwrap() error { return e.err }

// dial opens the peer's message websocket with no history (the catch-up
// reads it through messages.json), after the given position if any. It
// returns the position the feed starts after when the peer names it.
func (f *Follower) dial(ctx context.Context, after *int64) (*websocket.Conn, int64, bool, error) {
	u := "ws" + strings.TrimPrefix(f.base, "http") + "/api/ws0/messages?history=0"
	if after != nil {
		u += "&after=" + strconv.FormatInt(*after, 10)
	}
	dctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	conn, resp, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPClient: f.deps.HTTP})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode != 0 {
			return nil, 0, false, &handshakeError{status: resp.StatusCode, err: err}
		}
		return nil, 0, false, fmt.Errorf("websocket: %w", err)
	}
	conn.SetReadLimit(maxFrame)
	seq, perr := strconv.ParseInt(resp.Header.Get(eventSeqHeader), 10, 64)
	return conn, seq, perr == nil && seq >= 0, nil
}

// savePeriod bounds how often the live feed's position is saved (it is
// also saved when the connection ends): a restart replays at most that
// much again, and the dedupe drops it.
const savePeriod = time.Second

// linger bounds how long the live feed waits for more frames once it
// has two: a replay (after a reconnection) or a burst is taken in batches
// of up to mergeMax, a lone frame at once.
const linger = 3 * time.Millisecond

// maxReadAhead bounds the bytes of the frames read ahead of the live
// feed's intake (four frames of the largest size; a thousand ordinary
// ones).
const maxReadAhead = 4 * maxFrame

// frame is a websocket frame read ahead by the live feed's reader, or
// the error that ended the connection.
type frame struct {
	b   []byte
	err error
}

// live takes the websocket's messages until it fails. The frames already
// read are taken together (up to mergeMax) through the same intake as the
// backfill's pages, one batch being stored while the next is gathered;
// EventSeq advances past a batch once it is stored.
func (f *Follower) live(ctx context.Context, conn *websocket.Conn) error {
	f.log.Info("following live", "resumable", f.pos.Resume, "event_seq", f.pos.EventSeq)
	rctx, cancel := context.WithCancel(ctx)
	frames := make(chan frame, mergeMax)
	ahead := semaphore.NewWeighted(maxReadAhead)
	go func() {
		defer close(frames)
		for {
			typ, b, err := conn.Read(rctx)
			if err != nil {
				select {
				case frames <- frame{err: fmt.Errorf("websocket: %w", err)}:
				case <-rctx.Done():
				}
				return
			}
			if typ != websocket.MessageText {
				continue
			}
			if ahead.Acquire(rctx, weight(b)) != nil {
				return
			}
			select {
			case frames <- frame{b: b}:
			case <-rctx.Done():
				return
			}
		}
	}()
	defer func() {
		cancel()
		for range frames { //nolint:revive // drain so the reader ends
		}
	}()
	saved := time.Now()
	pp := &pipe{f: f, stored: func(cur *inflight) error {
		if cur.seq <= 0 {
			return nil
		}
		f.pos.Resume, f.pos.EventSeq = true, cur.seq
		if time.Since(saved) < savePeriod {
			return nil
		}
		saved = time.Now()
		if err := f.deps.Cursors.Save(ctx, f.cfg.URL, f.pos); err != nil {
			return fmt.Errorf("save cursor: %w", err)
		}
		return nil
	}}
	msgs := make([]apiMessage, 0, mergeMax)
	for {
		if len(frames) == 0 {
			// Nothing more to take now: the batch being stored
			// advances the position before the feed waits.
			if err := pp.wait(); err != nil {
				return err
			}
		}
		var fr frame
		var ok bool
		select {
		case fr, ok = <-frames:
		case <-ctx.Done():
		}
		if !ok {
			// The reader ends without an error only once ctx has.
			return errors.Join(ctx.Err(), pp.wait())
		}
		msgs = msgs[:0]
		ended := fr.err
		if ended == nil {
			msgs = append(msgs, decodeFrame(fr.b))
			held := weight(fr.b)
			ended = f.more(&msgs, &held, frames)
			ahead.Release(held)
		}
		if len(msgs) > 0 {
			g, err := f.gather(ctx, msgs)
			if err != nil {
				return errors.Join(err, pp.wait())
			}
			if err := pp.send(ctx, g, &inflight{seq: g.seq}); err != nil {
				return err
			}
		}
		if ended != nil {
			return errors.Join(ended, pp.wait())
		}
	}
}

// weight is what a frame counts against maxReadAhead.
func weight(b []byte) int64 { return int64(min(len(b), maxReadAhead)) }

// more adds to msgs the frames already read, up to mergeMax, waiting up
// to linger for more once there are two, and adds their weight to held.
// It returns the error that ended the connection if it comes among them.
func (f *Follower) more(msgs *[]apiMessage, held *int64, frames <-chan frame) error {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for len(*msgs) < mergeMax {
		var fr frame
		var ok bool
		select {
		case fr, ok = <-frames:
		default:
			if len(*msgs) < 2 {
				return nil
			}
			if timer == nil {
				timer = time.NewTimer(linger)
			}
			select {
			case fr, ok = <-frames:
			case <-timer.C:
				return nil
			}
		}
		if !ok {
			// The reader ends without an error only once the
			// context has.
			return context.Canceled
		}
		if fr.err != nil {
			return fr.err
		}
		*msgs = append(*msgs, decodeFrame(fr.b))
		*held += weight(fr.b)
	}
	return nil
}

// Wire turns a message as a node's API shows it (list entry or websocket
// frame) into the wire message a client would have sent: only the wire
// fields, the time as epoch seconds. It also returns the item hash and the
// time.
func Wire(m json.RawMessage) ([]byte, string, time.Time, error) {
	w, err := wire(m)
	return w.raw, w.hash, w.time, err
}

// apiMessage is a message as a node's API shows it: the wire fields,
// raw, and the websocket frame's event_seq (the rest is ignored).
type apiMessage struct {
	Chain       json.RawMessage `json:"chain"`
	Channel     json.RawMessage `json:"channel"`
	ItemContent json.RawMessage `json:"item_content"`
	ItemHash    json.RawMessage `json:"item_hash"`
	ItemType    json.RawMessage `json:"item_type"`
	Sender      json.RawMessage `json:"sender"`
	Signature   json.RawMessage `json:"signature"`
	Time        json.RawMessage `json:"time"`
	Type        json.RawMessage `json:"type"`
	EventSeq    json.RawMessage `json:"event_seq"`
	// bad is why the message could not be decoded (decodeFrame).
	bad error
}

// wired is a message turned into a wire message by wire.
type wired struct {
	raw      []byte
	hash     string
	typ      string // "" if none
	time     time.Time
	eventSeq int64 // the frame's event_seq (0: none)
}

// decodeFrame decodes a websocket frame (or any message) as an
// apiMessage; one that does not decode is kept as such, to be dropped as
// malformed.
func decodeFrame(m []byte) apiMessage {
	var a apiMessage
	if err := json.Unmarshal(m, &a); err != nil {
		return apiMessage{bad: fmt.Errorf("message: %w", err)}
	}
	return a
}

// wire is Wire, also returning the message type and the frame's
// event_seq.
func wire(m json.RawMessage) (wired, error) {
	return decodeFrame(m).wire()
}

// wire turns a decoded message into a wire message. It is written field
// by field, in the order of the names (as json.Marshal writes a map),
// from the values as the peer gave them: decoding every message into a
// map and marshalling it again cost a backfill a tenth of its CPU.
// Intake parses and verifies the result like any client's message.
func (a apiMessage) wire() (wired, error) {
	if a.bad != nil {
		return wired{}, a.bad
	}
	var w wired
	if len(a.EventSeq) > 0 {
		// Known even for a malformed message: the feed's position
		// moves past it.
		w.eventSeq, _ = strconv.ParseInt(string(a.EventSeq), 10, 64)
	}
	if err := json.Unmarshal(a.ItemHash, &w.hash); err != nil || w.hash == "" {
		return wired{eventSeq: w.eventSeq}, errors.New("message: no item_hash")
	}
	_ = json.Unmarshal(a.Type, &w.typ) // intake judges a bad type
	if present(a.Time) {
		var err error
		if w.time, a.Time, err = epoch(a.Time); err != nil {
			return wired{eventSeq: w.eventSeq}, err
		}
	}
	n := 16 * 9
	for _, v := range [...]json.RawMessage{a.Chain, a.Channel, a.ItemContent, a.ItemHash, a.ItemType, a.Sender, a.Signature, a.Time, a.Type} {
		n += len(v)
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for _, f := range [...]struct {
		key string
		v   json.RawMessage
	}{
		{`"chain":`, a.Chain}, {`"channel":`, a.Channel}, {`"item_content":`, a.ItemContent},
		{`"item_hash":`, a.ItemHash}, {`"item_type":`, a.ItemType}, {`"sender":`, a.Sender},
		{`"signature":`, a.Signature}, {`"time":`, a.Time}, {`"type":`, a.Type},
	} {
		if !present(f.v) {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, f.key...)
		if f.v[0] == '{' || f.v[0] == '[' {
			// Whitespace inside a (malformed) object or array value.
			var c bytes.Buffer
			if err := json.Compact(&c, f.v); err != nil {
				return wired{eventSeq: w.eventSeq}, fmt.Errorf("message: %w", err)
			}
			b = append(b, c.Bytes()...)
			continue
		}
		b = append(b, f.v...)
	}
	w.raw = append(b, '}')
	return w, nil
}

// present reports whether a field was given a value other than null.
func present(v json.RawMessage) bool { return len(v) > 0 && string(v) != "null" }

// epoch reads a time given as epoch seconds or as an ISO 8601 string (the
// websocket's pydantic dump) and returns it with its epoch-seconds JSON.
func epoch(v json.RawMessage) (time.Time, json.RawMessage, error) {
	var f float64
	if err := json.Unmarshal(v, &f); err == nil {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3).UTC(), v, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return time.Time{}, nil, fmt.Errorf("message: time: %w", err)
	}
	var t time.Time
	var err error
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999", "2006-01-02T15:04:05.999999Z07:00"} {
		if t, err = time.Parse(layout, s); err == nil {
			break
		}
	}
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("message: time %q: %w", s, err)
	}
	return t.UTC(), json.RawMessage(strconv.FormatFloat(float64(t.UnixMicro())/1e6, 'f', -1, 64)), nil
}

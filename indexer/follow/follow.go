// Package follow mirrors another node over its HTTP API, in the reference
// node's response shapes (spec §9.2, §9.4): a backfill through
// GET /api/v0/messages.json in cursor mode, oldest first, resumable from a
// cursor persisted in the database; then live through the websocket
// /api/ws0/messages, reconnecting with back-off and catching up on the gap
// through messages.json again.
//
// The peer is never trusted: only the fields a client signs are taken from
// it, and every message goes through the same intake as a client's (hash,
// signature, schema, permissions), so the peer's statuses are never copied
// (a FORGET seen there is applied by processing it here). Non-inline
// content and STORE files are fetched by the processor, from the peer's
// /api/v0/storage/{hash} among others, and checked against their hash.
package follow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

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
}

// Cursors persists a follower's position per followed URL.
type Cursors interface {
	Load(ctx context.Context, url string) (Position, error)
	Save(ctx context.Context, url string, p Position) error
}

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
		if err := f.backfill(ctx); err != nil {
			return err
		}
		*backfilled = true
	}
	f.deps.Stats.SetState(netstat.Connecting)
	conn, err := f.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.CloseNow()
	// The websocket is open: what the peer processes from now on arrives
	// there. Catch up on what it may have processed since the newest
	// message seen (or while disconnected), then read live.
	if err := f.catchUp(ctx); err != nil {
		return err
	}
	f.deps.Stats.SetState(netstat.Live)
	f.deps.Stats.SetLag(0)
	return f.live(ctx, conn)
}

// page is a messages.json answer in cursor mode.
type page struct {
	Messages   []json.RawMessage `json:"messages"`
	NextCursor *string           `json:"next_cursor"`
}

// backfill reads the peer's history from the persisted cursor to its end,
// saving the cursor after each page.
func (f *Follower) backfill(ctx context.Context) error {
	start, last := time.Now(), time.Now()
	f.log.Info("backfill starting", "from_cursor", f.pos.Cursor != "")
	for {
		p, err := f.fetch(ctx, f.pos.Cursor, time.Time{})
		if err != nil {
			return err
		}
		if err := f.take(ctx, p.Messages); err != nil {
			return err
		}
		end := p.NextCursor == nil || *p.NextCursor == ""
		if !end {
			f.pos.Cursor = *p.NextCursor
		}
		// At the end the cursor stays the last page's: a later backfill
		// re-reads that page (dedupe drops what was taken) and goes on.
		if err := f.deps.Cursors.Save(ctx, f.cfg.URL, f.pos); err != nil {
			return fmt.Errorf("save cursor: %w", err)
		}
		if !f.pos.Newest.IsZero() {
			f.deps.Stats.SetLag(time.Since(f.pos.Newest))
		}
		if time.Since(last) >= f.cfg.Progress || end {
			last = time.Now()
			el := time.Since(start).Seconds()
			f.log.Info("backfill progress", "messages", f.total, "newest", f.pos.Newest.Format(time.RFC3339),
				"per_second", math.Round(float64(f.total)/max(el, 1e-3)), "done", end)
		}
		if end {
			return nil
		}
	}
}

// catchUp reads every message of time at least Newest - CatchUp.
func (f *Follower) catchUp(ctx context.Context) error {
	var since time.Time
	if !f.pos.Newest.IsZero() {
		since = f.pos.Newest.Add(-f.cfg.CatchUp)
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

// fetch reads one page, oldest first, from cursor (and since, if set).
func (f *Follower) fetch(ctx context.Context, cursor string, since time.Time) (page, error) {
	q := url.Values{}
	q.Set("sortOrder", "1")
	q.Set("pagination", strconv.Itoa(f.cfg.PageSize))
	q.Set("cursor", cursor)
	if !since.IsZero() {
		q.Set("startDate", strconv.FormatFloat(float64(since.UnixMicro())/1e6, 'f', -1, 64))
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.base+"/api/v0/messages.json?"+q.Encode(), nil)
	if err != nil {
		return page{}, err
	}
	resp, err := f.deps.HTTP.Do(req)
	if err != nil {
		return page{}, fmt.Errorf("messages.json: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return page{}, fmt.Errorf("messages.json: HTTP %d", resp.StatusCode)
	}
	var p page
	dec := json.NewDecoder(io.LimitReader(resp.Body, f.cfg.MaxResponse))
	if err := dec.Decode(&p); err != nil {
		return page{}, fmt.Errorf("messages.json: %w", err)
	}
	return p, nil
}

// take submits the messages of a page (or frame) that are new to this
// follower, in order.
func (f *Follower) take(ctx context.Context, msgs []json.RawMessage) error {
	f.deps.Stats.Received(len(msgs))
	raws := make([][]byte, 0, len(msgs))
	var newest time.Time
	bad := 0
	for _, m := range msgs {
		w, _, t, err := Wire(m)
		if err != nil {
			bad++
			f.log.Debug("dropping a malformed message from the peer", "err", err)
			continue
		}
		if t.After(newest) {
			newest = t
		}
		// Keyed by the wire bytes, not the item hash: a tampered copy
		// must not keep the genuine one out.
		if f.seen.Seen(w) {
			f.deps.Stats.Duplicate(1)
			continue
		}
		raws = append(raws, w)
	}
	if bad > 0 {
		rs := make([]indexer.Result, bad)
		for i := range rs {
			rs[i].Outcome = indexer.Rejected
		}
		f.deps.Stats.Record(rs)
	}
	if len(raws) > 0 {
		if err := indexer.SubmitRetry(ctx, f.deps.Submitter, f.deps.Throttle, f.deps.Stats, indexer.OriginPeer, raws, f.cfg.MaxBackoff, f.log); err != nil {
			for _, w := range raws {
				f.seen.Forget(w)
			}
			return err
		}
		f.total += int64(len(raws))
	}
	if newest.After(f.pos.Newest) {
		f.pos.Newest = newest
	}
	return nil
}

// dial opens the peer's message websocket with no history (the catch-up
// reads it through messages.json).
func (f *Follower) dial(ctx context.Context) (*websocket.Conn, error) {
	u := "ws" + strings.TrimPrefix(f.base, "http") + "/api/ws0/messages?history=0"
	dctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPClient: f.deps.HTTP})
	if err != nil {
		return nil, fmt.Errorf("websocket: %w", err)
	}
	conn.SetReadLimit(maxFrame)
	return conn, nil
}

// live takes the websocket's messages until it fails.
func (f *Follower) live(ctx context.Context, conn *websocket.Conn) error {
	f.log.Info("following live")
	for {
		typ, b, err := conn.Read(ctx)
		if err != nil {
			return fmt.Errorf("websocket: %w", err)
		}
		if typ != websocket.MessageText {
			continue
		}
		if err := f.take(ctx, []json.RawMessage{b}); err != nil {
			return err
		}
	}
}

// wireFields are the fields a client sends (and signs or hashes); nothing
// else is taken from a peer.
var wireFields = []string{"chain", "sender", "type", "item_hash", "item_type", "item_content", "signature", "time", "channel"}

// Wire turns a message as a node's API shows it (list entry or websocket
// frame) into the wire message a client would have sent: only the wire
// fields, the time as epoch seconds. It also returns the item hash and the
// time.
func Wire(m json.RawMessage) ([]byte, string, time.Time, error) {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(m, &all); err != nil {
		return nil, "", time.Time{}, fmt.Errorf("message: %w", err)
	}
	var hash string
	if err := json.Unmarshal(all["item_hash"], &hash); err != nil || hash == "" {
		return nil, "", time.Time{}, errors.New("message: no item_hash")
	}
	out := make(map[string]json.RawMessage, len(wireFields))
	for _, k := range wireFields {
		if v, ok := all[k]; ok && string(v) != "null" {
			out[k] = v
		}
	}
	var t time.Time
	if tv, ok := out["time"]; ok {
		var err error
		t, out["time"], err = epoch(tv)
		if err != nil {
			return nil, "", time.Time{}, err
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, "", time.Time{}, err
	}
	return b, hash, t, nil
}

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

// Package subload is the subscription benchmark's load client: it opens
// many filtered graphql-transport-ws subscriptions on a running node,
// submits signed messages through the node's GraphQL mutation at a fixed
// rate, and measures what issue 5 asks of the live feed: delivery latency,
// the node's CPU and RSS per idle subscriber (from /proc), and that no
// subscriber loses or duplicates an event while a share of them disconnect
// and resume from their last cursor periodically. It runs in its own
// process (cmd/alephql-subload) so its own work does not count as the
// node's.
package subload

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
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/sync/errgroup"

	"github.com/alephql/alephql/processor/demo"
)

// Config is one benchmark run.
type Config struct {
	// URL is the node's base URL (http://host:port).
	URL string
	// Subscribers is the number of concurrent subscriptions, each on its
	// own websocket. Default 10 000.
	Subscribers int
	// Rate is the number of messages submitted per second. Default 100.
	Rate float64
	// Duration is how long messages are submitted. Default 60 s.
	Duration time.Duration
	// Channels is the number of channels messages are spread over;
	// subscriber i filters on channel i mod Channels, so each message
	// matches Subscribers/Channels of them. Default 100.
	Channels int
	// ResumeFraction of the subscribers disconnect and resume with `after`
	// every ResumeEvery. Defaults 0.1 and 10 s; a negative ResumeFraction
	// means no resumes.
	ResumeFraction float64
	ResumeEvery    time.Duration
	// NodePID is the node's process id, for CPU and RSS from /proc; 0
	// skips those figures.
	NodePID int
	// DialConcurrency bounds connections opened at once. Default 64.
	DialConcurrency int
	// Drain bounds the wait for the last deliveries after the last
	// submission. Default 30 s.
	Drain time.Duration
}

func (c *Config) validate() error {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Subscribers, 10000)
	def(&c.Channels, 100)
	def(&c.DialConcurrency, 64)
	if c.Rate == 0 {
		c.Rate = 100
	}
	if c.Duration == 0 {
		c.Duration = time.Minute
	}
	if c.ResumeFraction == 0 {
		c.ResumeFraction = 0.1
	}
	if c.ResumeEvery == 0 {
		c.ResumeEvery = 10 * time.Second
	}
	if c.Drain == 0 {
		c.Drain = 30 * time.Second
	}
	switch {
	case c.URL == "":
		return errors.New("the node's URL is required")
	case c.Subscribers < 1 || c.Channels < 1 || c.Rate <= 0 || c.Duration <= 0 || c.DialConcurrency < 1:
		return errors.New("subscribers, channels, rate, duration and dial concurrency must be positive")
	case c.ResumeFraction > 1:
		return errors.New("resume fraction must be at most 1")
	}
	return nil
}

// Report holds the figures of a run.
type Report struct {
	Subscribers, Channels int
	Rate                  float64
	Duration              time.Duration
	Submitted, SubmitErrs int
	// Delivered counts MessageProcessed events received (all subscribers).
	Delivered int64
	// Expected is the number of deliveries the filters call for.
	Expected int64
	// Lost and Duplicated count deliveries missing at the end and events
	// received twice by one subscriber; OutOfOrder counts events whose seq
	// was not above the subscriber's previous one.
	Lost, Duplicated, OutOfOrder int64
	// Resumes is the number of disconnect-and-resume cycles done.
	Resumes int64
	// Latency from submission to receipt, and from the event's commit time
	// (its `at`) to receipt, in milliseconds, over every delivery.
	SubmitP50, SubmitP99, CommitP50, CommitP99 float64
	// LiveP50 and LiveP99 are the latency from commit of the live
	// deliveries: events committed while their subscriber was connected
	// (its subscription sent). The others are the replay a resuming
	// subscriber asks for, late by as long as it was away, which says how
	// long the client took to reconnect rather than how fast the node
	// delivers; they are in CommitP50/CommitP99. The latency targets apply
	// to live deliveries.
	LiveP50, LiveP99 float64
	// Live counts the live deliveries.
	Live int64
	// CPUPercent is the node's CPU time over the submission phase, in
	// percent of one core; CPUMachine divides it by the machine's cores.
	CPUPercent, CPUMachine float64
	// RSS before subscribing, with every subscriber idle, and its peak.
	RSSBefore, RSSIdle, RSSPeak int64
	// IdleBytesPerSub is (RSSIdle-RSSBefore)/Subscribers.
	IdleBytesPerSub float64
	// Closed counts connections the node closed (not by the client).
	Closed int64
}

// Pass tells whether the report meets issue 5's targets.
func (r *Report) Pass() bool {
	return r.Lost == 0 && r.Duplicated == 0 && r.OutOfOrder == 0 && r.LiveP50 < 50 && r.LiveP99 < 250 &&
		(r.CPUMachine == 0 || r.CPUMachine < 60) && (r.IdleBytesPerSub == 0 || r.IdleBytesPerSub <= 20*1024)
}

// Print writes the report, one figure a line, with the targets.
func (r *Report) Print(w io.Writer) {
	ok := func(b bool) string {
		if b {
			return "ok"
		}
		return "MISSED"
	}
	p := func(format string, a ...any) { _, _ = fmt.Fprintf(w, format+"\n", a...) }
	p("subscribers %d, channels %d (each message matches %d), %.0f msgs/s for %s", r.Subscribers, r.Channels,
		r.Subscribers/max(r.Channels, 1), r.Rate, r.Duration)
	p("submitted %d (%d errors), deliveries %d of %d expected, resumes %d, node-closed connections %d",
		r.Submitted, r.SubmitErrs, r.Delivered, r.Expected, r.Resumes, r.Closed)
	p("lost %d, duplicated %d, out of order %d  [target 0: %s]", r.Lost, r.Duplicated, r.OutOfOrder,
		ok(r.Lost == 0 && r.Duplicated == 0 && r.OutOfOrder == 0))
	p("delivery latency from commit, live deliveries (%d, committed while connected): p50 %.1f ms [< 50: %s], p99 %.1f ms [< 250: %s]",
		r.Live, r.LiveP50, ok(r.LiveP50 < 50), r.LiveP99, ok(r.LiveP99 < 250))
	p("delivery latency from commit, every delivery (replays after a resume included): p50 %.1f ms, p99 %.1f ms", r.CommitP50, r.CommitP99)
	p("delivery latency from submission: p50 %.1f ms, p99 %.1f ms", r.SubmitP50, r.SubmitP99)
	if r.RSSBefore > 0 {
		p("node CPU: %.1f%% of one core, %.1f%% of the machine [< 60: %s]", r.CPUPercent, r.CPUMachine, ok(r.CPUMachine < 60))
		p("node RSS: %.1f MiB before, %.1f MiB idle with subscribers, %.1f MiB peak", mib(r.RSSBefore), mib(r.RSSIdle), mib(r.RSSPeak))
		p("RSS per idle subscriber: %.1f KiB [<= 20: %s]", r.IdleBytesPerSub/1024, ok(r.IdleBytesPerSub <= 20*1024))
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// Queries: two selection sets, as two apps would use.
var queries = []string{
	`subscription($f: MessageFilter, $after: Cursor) { messages(filter: $f, after: $after) { __typename cursor seq at hash } }`,
	`subscription($f: MessageFilter, $after: Cursor) { messages(filter: $f, after: $after) { __typename cursor seq at hash message { sender channel type time } } }`,
}

// sub is one subscriber: its filter and what it received.
type sub struct {
	id      int
	channel string
	query   string
	filter  map[string]any

	mu         sync.Mutex
	conn       *websocket.Conn
	since      time.Time // when conn's subscription was sent
	cursor     string
	lastSeq    int64
	seqs       map[int64]struct{}
	got        map[string]int // item hash -> MessageProcessed deliveries
	dups       int64
	outOfOrder int64
	resumes    int
}

type run struct {
	cfg    Config
	log    *slog.Logger
	http   *http.Client
	subs   []*sub
	sentAt sync.Map // item hash -> time.Time
	chanOf sync.Map // item hash -> channel

	latMu     sync.Mutex
	fromSub   []float64
	fromAt    []float64
	fromLive  []float64
	delivered atomic.Int64
	closed    atomic.Int64
	resumes   atomic.Int64
}

// Run runs the benchmark and returns its figures.
func Run(ctx context.Context, cfg Config, log *slog.Logger) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, log: log, http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	rep := &Report{Subscribers: cfg.Subscribers, Channels: cfg.Channels, Rate: cfg.Rate, Duration: cfg.Duration}

	// Messages are signed before anything is measured.
	n := int(math.Ceil(cfg.Rate * cfg.Duration.Seconds()))
	log.Info("signing messages", "n", n)
	msgs, err := signMessages(n, cfg.Channels)
	if err != nil {
		return nil, err
	}
	start, err := r.lastEventSeq(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.NodePID > 0 {
		if rep.RSSBefore, err = settledRSS(ctx, cfg.NodePID); err != nil {
			return nil, err
		}
	}

	log.Info("opening subscriptions", "n", cfg.Subscribers, "after", start)
	for i := range cfg.Subscribers {
		ch := channelName(i % cfg.Channels)
		f := map[string]any{"channels": []string{ch}}
		if i%10 == 9 { // a second, non-indexed criterion
			f["types"] = []string{"POST"}
		}
		r.subs = append(r.subs, &sub{id: i, channel: ch, query: queries[i%len(queries)], filter: f, cursor: start,
			seqs: map[int64]struct{}{}, got: map[string]int{}})
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	readers, rctx := errgroup.WithContext(ctx)
	dials := make(chan struct{}, cfg.DialConcurrency)
	var dg errgroup.Group
	for _, s := range r.subs {
		dials <- struct{}{}
		dg.Go(func() error {
			defer func() { <-dials }()
			return r.connect(rctx, readers, s)
		})
	}
	if err := dg.Wait(); err != nil {
		return nil, err
	}
	if cfg.NodePID > 0 {
		if rep.RSSIdle, err = settledRSS(ctx, cfg.NodePID); err != nil {
			return nil, err
		}
		rep.IdleBytesPerSub = float64(rep.RSSIdle-rep.RSSBefore) / float64(cfg.Subscribers)
	}

	log.Info("submitting", "rate", cfg.Rate, "duration", cfg.Duration)
	cpu0, wall0 := cpuTicks(cfg.NodePID), time.Now()
	resumeCtx, stopResume := context.WithCancel(ctx)
	resumeDone := make(chan struct{})
	go func() { defer close(resumeDone); r.resumeLoop(resumeCtx, rctx, readers) }()
	rep.Submitted, rep.SubmitErrs = r.submit(ctx, msgs)
	cpu1, wall1 := cpuTicks(cfg.NodePID), time.Now()
	stopResume()
	<-resumeDone
	if cfg.NodePID > 0 {
		rep.CPUPercent = 100 * float64(cpu1-cpu0) / clockTicks / wall1.Sub(wall0).Seconds()
		rep.CPUMachine = rep.CPUPercent / float64(runtime.NumCPU())
		rep.RSSPeak, _ = procStatus(cfg.NodePID, "VmHWM:")
	}

	// Wait for the last deliveries.
	expected := r.expected()
	deadline := time.Now().Add(cfg.Drain)
	for time.Now().Before(deadline) && r.missing(expected) > 0 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	cancel()
	for _, s := range r.subs {
		s.mu.Lock()
		if s.conn != nil {
			_ = s.conn.Close(websocket.StatusNormalClosure, "done")
		}
		s.mu.Unlock()
	}
	_ = readers.Wait()

	for _, s := range r.subs {
		s.mu.Lock()
		rep.Duplicated += s.dups
		rep.OutOfOrder += s.outOfOrder
		s.mu.Unlock()
	}
	for _, e := range expected {
		rep.Expected += int64(len(e))
	}
	rep.Lost = r.missing(expected)
	r.logMissing(expected)
	rep.Delivered = r.delivered.Load()
	rep.Resumes = r.resumes.Load()
	rep.Closed = r.closed.Load()
	r.latMu.Lock()
	rep.SubmitP50, rep.SubmitP99 = percentile(r.fromSub, 50), percentile(r.fromSub, 99)
	rep.CommitP50, rep.CommitP99 = percentile(r.fromAt, 50), percentile(r.fromAt, 99)
	rep.LiveP50, rep.LiveP99 = percentile(r.fromLive, 50), percentile(r.fromLive, 99)
	rep.Live = int64(len(r.fromLive))
	r.latMu.Unlock()
	return rep, nil
}

// channelName is the name of channel i, unique to this process so that
// runs on the same node do not see each other's messages.
func channelName(i int) string { return fmt.Sprintf("SUBLOAD-%d-%03d", os.Getpid(), i) }

type signed struct {
	raw     json.RawMessage
	hash    string
	channel string
}

// signMessages signs n POSTs spread over channels, from a few accounts.
func signMessages(n, channels int) ([]signed, error) {
	accts := make([]*demo.Account, 8)
	for i := range accts {
		a, err := demo.NewAccount()
		if err != nil {
			return nil, err
		}
		accts[i] = a
	}
	now := float64(time.Now().UnixNano()) / 1e9
	out := make([]signed, n)
	for i := range out {
		ch := channelName(i % channels)
		raw, hash, err := accts[i%len(accts)].Post(now+float64(i)/1000, ch, "subload", map[string]any{"n": i}, "")
		if err != nil {
			return nil, err
		}
		out[i] = signed{raw: raw, hash: hash, channel: ch}
	}
	return out, nil
}

// gql posts a GraphQL request and returns its raw response.
func (r *run) gql(ctx context.Context, query string, vars map[string]any, into any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.cfg.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("graphql answered %s: %s", resp.Status, b)
	}
	return json.Unmarshal(b, into)
}

// lastEventSeq asks the node for its outbox position (the freshness
// extension): every subscriber starts after it, so none misses an event
// submitted later.
func (r *run) lastEventSeq(ctx context.Context) (string, error) {
	var resp struct {
		Extensions struct {
			Freshness struct {
				LastEventSeq json.Number `json:"lastEventSeq"`
			}
		}
	}
	if err := r.gql(ctx, `{ __typename }`, nil, &resp); err != nil {
		return "", fmt.Errorf("read the node's outbox position: %w", err)
	}
	if resp.Extensions.Freshness.LastEventSeq == "" {
		return "0", nil
	}
	return resp.Extensions.Freshness.LastEventSeq.String(), nil
}

// connect opens s's websocket, subscribes after its cursor and starts its
// reader in g.
func (r *run) connect(ctx context.Context, g *errgroup.Group, s *sub) error {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, "ws"+strings.TrimPrefix(r.cfg.URL, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPClient: r.http})
	if err != nil {
		return fmt.Errorf("subscriber %d: dial: %w", s.id, err)
	}
	write := func(v any) error {
		b, _ := json.Marshal(v)
		return conn.Write(dctx, websocket.MessageText, b)
	}
	if err := write(map[string]any{"type": "connection_init"}); err != nil {
		return fmt.Errorf("subscriber %d: init: %w", s.id, err)
	}
	_, ack, err := conn.Read(dctx)
	if err != nil || !bytes.Contains(ack, []byte(`"connection_ack"`)) {
		return fmt.Errorf("subscriber %d: no connection_ack (%s): %w", s.id, ack, err)
	}
	s.mu.Lock()
	vars := map[string]any{"f": s.filter, "after": s.cursor}
	s.conn = conn
	s.since = time.Now()
	s.mu.Unlock()
	if err := write(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{"query": s.query, "variables": vars}}); err != nil {
		return fmt.Errorf("subscriber %d: subscribe: %w", s.id, err)
	}
	g.Go(func() error { r.read(ctx, s, conn); return nil })
	return nil
}

// read takes s's messages until its connection ends.
func (r *run) read(ctx context.Context, s *sub, conn *websocket.Conn) {
	// One cancellation hook per connection rather than one per read (a
	// context.AfterFunc each), and one buffer reused for every frame.
	stop := context.AfterFunc(ctx, func() { _ = conn.CloseNow() })
	defer stop()
	var buf bytes.Buffer
	for {
		b, err := readFrame(conn, &buf)
		if err != nil {
			s.mu.Lock()
			mine := s.conn == conn
			s.mu.Unlock()
			if mine && ctx.Err() == nil {
				r.closed.Add(1)
				r.log.Warn("connection ended", "subscriber", s.id, "err", err)
			}
			return
		}
		now := time.Now()
		e, typ, ok := parseNext(b)
		if !ok {
			if typ == "error" || typ == "complete" {
				r.log.Warn("subscription ended", "subscriber", s.id, "message", string(b))
			}
			continue
		}
		s.mu.Lock()
		if s.conn != conn { // being resumed: the new connection replays it
			s.mu.Unlock()
			continue
		}
		if _, dup := s.seqs[e.Seq]; dup {
			s.dups++
		} else if e.Seq <= s.lastSeq {
			s.outOfOrder++
		}
		s.seqs[e.Seq] = struct{}{}
		s.lastSeq = max(s.lastSeq, e.Seq)
		s.cursor = e.Cursor
		if e.Typename == "MessageProcessed" {
			s.got[e.Hash]++
		}
		live := !e.At.Before(s.since)
		s.mu.Unlock()
		if e.Typename != "MessageProcessed" {
			continue
		}
		r.delivered.Add(1)
		if t, ok := r.sentAt.Load(e.Hash); ok {
			r.latMu.Lock()
			r.fromSub = append(r.fromSub, ms(now.Sub(t.(time.Time))))
			r.fromAt = append(r.fromAt, ms(now.Sub(e.At)))
			if live {
				r.fromLive = append(r.fromLive, ms(now.Sub(e.At)))
			}
			r.latMu.Unlock()
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// resumeLoop disconnects ResumeFraction of the subscribers every
// ResumeEvery (a different slice each time) until ctx ends, and reconnects
// them after their last cursor; the new connections live until connCtx
// ends.
func (r *run) resumeLoop(ctx, connCtx context.Context, g *errgroup.Group) {
	k := int(math.Round(r.cfg.ResumeFraction * float64(len(r.subs))))
	if k <= 0 {
		return
	}
	t := time.NewTicker(r.cfg.ResumeEvery)
	defer t.Stop()
	next := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var eg errgroup.Group
		eg.SetLimit(r.cfg.DialConcurrency)
		for range k {
			s := r.subs[next%len(r.subs)]
			next++
			eg.Go(func() error {
				s.mu.Lock()
				old := s.conn
				s.conn = nil
				s.mu.Unlock()
				if old != nil {
					_ = old.CloseNow()
				}
				if err := r.connect(connCtx, g, s); err != nil && connCtx.Err() == nil {
					r.log.Warn("resume", "err", err)
					return nil
				}
				r.resumes.Add(1)
				s.mu.Lock()
				s.resumes++
				s.mu.Unlock()
				return nil
			})
		}
		_ = eg.Wait()
	}
}

// submit sends msgs at the configured rate and returns how many the node
// accepted and how many it refused.
func (r *run) submit(ctx context.Context, msgs []signed) (int, int) {
	const mutation = `mutation($m: JSON!) { submitMessage(message: $m) { hash status } }`
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / r.cfg.Rate)
	begin := time.Now()
	sem := make(chan struct{}, 64)
	for i, m := range msgs {
		if d := time.Until(begin.Add(time.Duration(i) * interval)); d > 0 {
			select {
			case <-ctx.Done():
				return int(ok.Load()), int(failed.Load())
			case <-time.After(d):
			}
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			r.chanOf.Store(m.hash, m.channel)
			r.sentAt.Store(m.hash, time.Now())
			var resp struct{ Errors json.RawMessage }
			if err := r.gql(ctx, mutation, map[string]any{"m": m.raw}, &resp); err != nil || len(resp.Errors) > 0 {
				r.sentAt.Delete(m.hash)
				r.chanOf.Delete(m.hash)
				failed.Add(1)
				r.log.Warn("submit", "err", err, "errors", string(resp.Errors))
				return
			}
			ok.Add(1)
		}()
	}
	wg.Wait()
	return int(ok.Load()), int(failed.Load())
}

// expected returns, per subscriber, the hashes its filter selects among
// the accepted submissions.
func (r *run) expected() [][]string {
	byChan := map[string][]string{}
	r.chanOf.Range(func(k, v any) bool {
		byChan[v.(string)] = append(byChan[v.(string)], k.(string))
		return true
	})
	out := make([][]string, len(r.subs))
	for i, s := range r.subs {
		out[i] = byChan[s.channel]
	}
	return out
}

// logMissing logs a few of the deliveries that never came, to debug.
func (r *run) logMissing(expected [][]string) {
	n := 0
	for i, s := range r.subs {
		s.mu.Lock()
		for _, h := range expected[i] {
			if s.got[h] == 0 && n < 10 {
				n++
				r.log.Warn("missing delivery", "subscriber", s.id, "hash", h, "channel", s.channel, "resumes", s.resumes,
					"cursor", s.cursor, "received", len(s.got))
			}
		}
		s.mu.Unlock()
	}
}

// missing counts expected deliveries not received yet.
func (r *run) missing(expected [][]string) int64 {
	var n int64
	for i, s := range r.subs {
		s.mu.Lock()
		for _, h := range expected[i] {
			if s.got[h] == 0 {
				n++
			}
		}
		s.mu.Unlock()
	}
	return n
}

func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times (100 on Linux).
const clockTicks = 100

// cpuTicks returns the process's user+system time in clock ticks.
func cpuTicks(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) start at ")".
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// procStatus returns a "kB" field of /proc/PID/status in bytes.
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("%s not in /proc/%d/status", field, pid)
}

// settledRSS waits until the process's RSS stops moving (less than 1% over
// a second, at most 15 s) and returns it.
func settledRSS(ctx context.Context, pid int) (int64, error) {
	prev, err := procStatus(pid, "VmRSS:")
	if err != nil {
		return 0, err
	}
	for range 15 {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Second):
		}
		cur, err := procStatus(pid, "VmRSS:")
		if err != nil {
			return 0, err
		}
		if math.Abs(float64(cur-prev)) < 0.01*float64(prev) {
			return cur, nil
		}
		prev = cur
	}
	return prev, nil
}

// nextEvent is what the benchmark reads of a delivered event.
type nextEvent struct {
	Typename string `json:"__typename"`
	Cursor   string
	Seq      int64
	At       time.Time
	Hash     string
}

// parseNext reads a graphql-transport-ws message without decoding it
// all: the load client runs on the node's cores, and a full JSON decode
// of 10 000 deliveries a second would weigh on the figures it measures.
// It returns the message type ("" if unknown) and, for a next message
// carrying a messages event, its fields. The fields are found by their
// keys after "messages":{ (the event's scalar fields are selected before
// any nested object), so the order of the frame's members does not
// matter.
func parseNext(b []byte) (e nextEvent, typ string, ok bool) {
	for _, t := range []string{"next", "error", "complete", "pong", "ping", "connection_ack"} {
		if bytes.Contains(b, []byte(`"type":"`+t+`"`)) {
			typ = t
			break
		}
	}
	if typ != "next" {
		return e, typ, false
	}
	i := bytes.Index(b, []byte(`"messages":{`))
	if i < 0 {
		return e, typ, false
	}
	m := b[i:]
	str := func(key string) (string, bool) {
		k := []byte(`"` + key + `":"`)
		j := bytes.Index(m, k)
		if j < 0 {
			return "", false
		}
		v := m[j+len(k):]
		end := bytes.IndexByte(v, '"')
		if end < 0 {
			return "", false
		}
		return string(v[:end]), true
	}
	var at string
	var okT, okC, okA, okH bool
	e.Typename, okT = str("__typename")
	e.Cursor, okC = str("cursor")
	at, okA = str("at")
	e.Hash, okH = str("hash")
	j := bytes.Index(m, []byte(`"seq":`))
	if !okT || !okC || !okA || !okH || j < 0 {
		return e, typ, false
	}
	v := m[j+len(`"seq":`):]
	end := 0
	for end < len(v) && v[end] >= '0' && v[end] <= '9' {
		end++
	}
	seq, err := strconv.ParseInt(string(v[:end]), 10, 64)
	if err != nil {
		return e, typ, false
	}
	e.Seq = seq
	if e.At, err = time.Parse(time.RFC3339Nano, at); err != nil {
		return e, typ, false
	}
	return e, typ, true
}

// readFrame reads the next message into buf (reused) and returns its bytes,
// valid until the next call.
func readFrame(conn *websocket.Conn, buf *bytes.Buffer) ([]byte, error) {
	_, rd, err := conn.Reader(context.Background())
	if err != nil {
		return nil, err
	}
	buf.Reset()
	if _, err := buf.ReadFrom(rd); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

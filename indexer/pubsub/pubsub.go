// Package pubsub joins the network over IPFS pubsub, through kubo's RPC
// API (spec §8.2): it submits every message heard on the message topic
// (ALEPH-TEST), publishes the messages clients submit to this node, and
// announces this node on ALEPH_ALIVE while recording the peers heard
// there.
package pubsub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/indexer/netstat"
	"github.com/alephql/alephql/ipfs"
)

// Defaults of Config.
const (
	DefaultTopic         = "ALEPH-TEST"
	DefaultAliveTopic    = "ALEPH_ALIVE"
	DefaultAliveInterval = 120 * time.Second
	DefaultBatchSize     = 100
	DefaultBatchDelay    = 20 * time.Millisecond
	DefaultMaxBackoff    = 30 * time.Second
	DefaultDedupe        = 100000
)

// Config configures a Source.
type Config struct {
	// Topic is the message topic. Default DefaultTopic.
	Topic string
	// AliveTopic is the aliveness topic. Default DefaultAliveTopic.
	AliveTopic string
	// AliveInterval is the period of this node's announcements. Default
	// DefaultAliveInterval; negative: never announce.
	AliveInterval time.Duration
	// HTTPAddress, if set, is this node's public API URL, announced as an
	// HTTP peer beside the kubo swarm address.
	HTTPAddress string
	// Version is announced with the address.
	Version string
	// BatchSize is the most messages submitted at once. Default
	// DefaultBatchSize.
	BatchSize int
	// BatchDelay is how long a batch waits for more messages. Default
	// DefaultBatchDelay.
	BatchDelay time.Duration
	// MaxBackoff bounds the wait between reconnections. Default
	// DefaultMaxBackoff.
	MaxBackoff time.Duration
	// Dedupe is how many recent payloads are remembered to drop repeats.
	// Default DefaultDedupe.
	Dedupe int
}

func (c *Config) withDefaults() {
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.AliveTopic == "" {
		c.AliveTopic = DefaultAliveTopic
	}
	if c.AliveInterval == 0 {
		c.AliveInterval = DefaultAliveInterval
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.BatchDelay == 0 {
		c.BatchDelay = DefaultBatchDelay
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.Dedupe == 0 {
		c.Dedupe = DefaultDedupe
	}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	if c.BatchSize < 0 || c.BatchDelay < 0 || c.MaxBackoff < 0 || c.Dedupe < 0 {
		return errors.New("pubsub: sizes and durations must not be negative")
	}
	if c.HTTPAddress != "" && !strings.HasPrefix(c.HTTPAddress, "http://") && !strings.HasPrefix(c.HTTPAddress, "https://") {
		return fmt.Errorf("pubsub: HTTP address %q: want an http(s) URL", c.HTTPAddress)
	}
	return nil
}

// Subscription is a kubo topic subscription (*ipfs.Subscription).
type Subscription interface {
	Next(ctx context.Context) (ipfs.PubSubMessage, error)
	Close() error
}

// Kubo is the part of the content service the source uses
// (*ipfs.Service, through FromService).
type Kubo interface {
	Subscribe(ctx context.Context, topic string) (Subscription, error)
	Publish(ctx context.Context, topic string, data []byte) error
	ID(ctx context.Context) (ipfs.Identity, error)
}

// service adapts *ipfs.Service to Kubo.
type service struct{ *ipfs.Service }

func (s service) Subscribe(ctx context.Context, topic string) (Subscription, error) {
	return s.Service.Subscribe(ctx, topic)
}

// FromService returns the Kubo of a content service.
func FromService(s *ipfs.Service) Kubo { return service{s} }

// Allowlist says whether aliveness announcements from a peer are taken.
type Allowlist interface {
	Allowed(ctx context.Context, peerID string) bool
}

// Deps are a Source's collaborators.
type Deps struct {
	// Kubo is the daemon (required).
	Kubo Kubo
	// Submitter takes the messages in (required).
	Submitter indexer.Submitter
	// Throttle slows the source down while the queue is long (nil: never).
	Throttle *indexer.Throttle
	// Peers records the peers heard on the alive topic (nil: not recorded).
	Peers indexer.PeerRecorder
	// Allow filters alive announcements by sender, the allowlist of spec
	// §8.2 shared with the libp2p ALIVE topic (*indexer.Allowlist). Nil:
	// no announcement is taken.
	Allow Allowlist
	// Stats counts the messages (nil: not counted).
	Stats *netstat.Source
	// Log is the logger.
	Log *slog.Logger
}

// Source is the IPFS pubsub source and publisher.
type Source struct {
	cfg   Config
	deps  Deps
	dedup *indexer.Dedupe
	log   *slog.Logger
}

// New returns a Source.
func New(cfg Config, deps Deps) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Kubo == nil || deps.Submitter == nil {
		return nil, errors.New("pubsub: Kubo and Submitter are required")
	}
	if deps.Log == nil {
		deps.Log = slog.Default()
	}
	cfg.withDefaults()
	return &Source{cfg: cfg, deps: deps, dedup: indexer.NewDedupe(cfg.Dedupe),
		log: deps.Log.With("component", "indexer", "source", "ipfs-pubsub", "topic", cfg.Topic)}, nil
}

// Publish publishes a message a client submitted to this node on the
// message topic (compact JSON).
func (s *Source) Publish(ctx context.Context, raw []byte) error {
	b, err := compact(raw)
	if err != nil {
		return err
	}
	s.dedup.Seen(b) // our own copy coming back is not news
	if err := s.deps.Kubo.Publish(ctx, s.cfg.Topic, b); err != nil {
		return fmt.Errorf("pubsub: publish: %w", err)
	}
	return nil
}

// Run listens on the topics until ctx ends, reconnecting with back-off
// when the daemon goes away, and announces this node periodically.
func (s *Source) Run(ctx context.Context) error {
	done := make(chan struct{})
	defer func() { <-done }()
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(done)
		s.aliveLoop(actx)
	}()
	err := s.messageLoop(ctx)
	s.deps.Stats.SetState(netstat.Stopped)
	return err
}

// messageLoop subscribes to the message topic and submits what it hears,
// resubscribing after a failure.
func (s *Source) messageLoop(ctx context.Context) error {
	backoff := time.Second
	for {
		s.deps.Stats.SetState(netstat.Connecting)
		err := s.listen(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.deps.Stats.SetState(netstat.Disconnected)
		s.deps.Stats.SetError(err)
		s.log.Warn("pubsub subscription ended; resubscribing", "err", err, "in", backoff)
		if indexer.Sleep(ctx, backoff) != nil {
			return ctx.Err()
		}
		backoff = min(backoff*2, s.cfg.MaxBackoff)
	}
}

// listen runs one subscription until it fails.
func (s *Source) listen(ctx context.Context) error {
	id, err := s.deps.Kubo.ID(ctx)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, err := s.deps.Kubo.Subscribe(sctx, s.cfg.Topic)
	if err != nil {
		return err
	}
	defer sub.Close()
	s.deps.Stats.SetState(netstat.Live)
	s.log.Info("listening on ipfs pubsub")

	// One reader feeds a bounded channel; the batcher below submits.
	// When the processor is slow the channel fills and the reader stops
	// reading: back-pressure reaches kubo, nothing is dropped here.
	in := make(chan []byte, s.cfg.BatchSize*4)
	rerr := make(chan error, 1)
	go func() {
		defer close(in)
		for {
			m, err := sub.Next(sctx)
			if err != nil {
				rerr <- err
				return
			}
			if m.From == id.ID {
				continue
			}
			select {
			case in <- m.Data:
			case <-sctx.Done():
				rerr <- sctx.Err()
				return
			}
		}
	}()
	err = s.batch(ctx, in)
	cancel()
	for range in { //nolint:revive // drain so the reader ends
	}
	if err != nil {
		return err
	}
	return <-rerr
}

// batch takes payloads from in and submits them in batches until in is
// closed (nil) or a submit fails for good (ctx done).
func (s *Source) batch(ctx context.Context, in <-chan []byte) error {
	raws := make([][]byte, 0, s.cfg.BatchSize)
	for {
		raws = raws[:0]
		b, ok := <-in
		if !ok {
			return nil
		}
		raws = s.take(raws, b)
		timer := time.NewTimer(s.cfg.BatchDelay)
	fill:
		for len(raws) < s.cfg.BatchSize {
			select {
			case b, ok := <-in:
				if !ok {
					break fill
				}
				raws = s.take(raws, b)
			case <-timer.C:
				break fill
			}
		}
		timer.Stop()
		if len(raws) == 0 {
			continue
		}
		if err := indexer.SubmitRetry(ctx, s.deps.Submitter, s.deps.Throttle, s.deps.Stats, indexer.OriginIPFS, raws, s.cfg.MaxBackoff, s.log); err != nil {
			return err
		}
	}
}

// take decodes one payload and appends it unless it is malformed or a
// repeat.
func (s *Source) take(raws [][]byte, b []byte) [][]byte {
	s.deps.Stats.Received(1)
	raw, err := indexer.DecodePayload(b)
	if err != nil {
		// Not even a message: nothing to record as rejected.
		s.deps.Stats.Record([]indexer.Result{{Outcome: indexer.Rejected, Err: err}})
		s.log.Debug("dropping malformed pubsub payload", "err", err)
		return raws
	}
	if s.dedup.Seen(raw) {
		s.deps.Stats.Duplicate(1)
		return raws
	}
	return append(raws, raw)
}

// aliveLoop announces this node every AliveInterval and records the peers
// that announce themselves.
func (s *Source) aliveLoop(ctx context.Context) {
	go s.announce(ctx)
	backoff := time.Second
	for ctx.Err() == nil {
		err := s.listenAlive(ctx)
		if ctx.Err() != nil {
			return
		}
		s.log.Debug("alive subscription ended", "err", err)
		if indexer.Sleep(ctx, backoff) != nil {
			return
		}
		backoff = min(backoff*2, s.cfg.MaxBackoff)
	}
}

// announce publishes this node's addresses until ctx ends.
func (s *Source) announce(ctx context.Context) {
	if s.cfg.AliveInterval < 0 {
		return
	}
	for {
		if err := s.AnnounceOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.Debug("alive announcement failed", "err", err)
		}
		if indexer.Sleep(ctx, s.cfg.AliveInterval) != nil {
			return
		}
	}
}

// AnnounceOnce publishes this node's aliveness messages: the kubo swarm
// address (IPFS) and, if configured, the API URL (HTTP).
func (s *Source) AnnounceOnce(ctx context.Context) error {
	id, err := s.deps.Kubo.ID(ctx)
	if err != nil {
		return err
	}
	var msgs []indexer.Alive
	if a := pickAddress(id.Addresses); a != "" {
		msgs = append(msgs, indexer.Alive{Address: a, PeerType: "IPFS", Version: s.cfg.Version})
	}
	if s.cfg.HTTPAddress != "" {
		msgs = append(msgs, indexer.Alive{Address: s.cfg.HTTPAddress, PeerType: "HTTP", Version: s.cfg.Version})
	}
	for _, m := range msgs {
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		if err := s.deps.Kubo.Publish(ctx, s.cfg.AliveTopic, b); err != nil {
			return err
		}
	}
	return nil
}

// pickAddress prefers a non-loopback swarm address.
func pickAddress(addrs []string) string {
	for _, a := range addrs {
		if !strings.HasPrefix(a, "/ip4/127.") && !strings.HasPrefix(a, "/ip6/::1/") {
			return a
		}
	}
	if len(addrs) > 0 {
		return addrs[0]
	}
	return ""
}

// listenAlive records the peers announcing themselves until the
// subscription fails.
func (s *Source) listenAlive(ctx context.Context) error {
	id, err := s.deps.Kubo.ID(ctx)
	if err != nil {
		return err
	}
	sub, err := s.deps.Kubo.Subscribe(ctx, s.cfg.AliveTopic)
	if err != nil {
		return err
	}
	defer sub.Close()
	for {
		m, err := sub.Next(ctx)
		if err != nil {
			return err
		}
		if m.From == id.ID {
			continue // our own announcement
		}
		a, kind, err := indexer.ParseAlive(m.Data)
		if err != nil {
			continue
		}
		if s.deps.Allow == nil || !s.deps.Allow.Allowed(ctx, m.From) {
			s.log.Debug("ignoring alive message from a peer outside the allowlist", "peer", m.From)
			continue
		}
		if s.deps.Peers == nil {
			continue
		}
		if err := s.deps.Peers.RecordPeer(ctx, indexer.Peer{
			ID: m.From, Kind: kind, Address: a.Address, Source: "ipfs", LastSeen: time.Now(),
		}); err != nil && ctx.Err() == nil {
			s.log.Warn("recording peer failed", "peer", m.From, "err", err)
		}
	}
}

// compact returns raw as compact JSON, or an error if it is not JSON.
func compact(raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("pubsub: publish: %w", err)
	}
	return buf.Bytes(), nil
}

// Interface guards
var (
	_ indexer.Publisher = (*Source)(nil)
	_ Kubo              = service{}
	_ Allowlist         = (*indexer.Allowlist)(nil)
)

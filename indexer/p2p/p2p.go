// Package p2p joins the network's libp2p gossip (spec §8.1, §8.2): a
// libp2p host with its own identity, gossipsub with signed messages and
// strict validation, message ids taken from the payload so identical
// payloads deduplicate, payloads of at most 256 KiB. Messages heard on
// ALEPH-TEST are submitted; messages clients submit to this node are
// published there; aliveness announcements on ALIVE are taken only from
// the allowlist (bootstrap peers and the corechannel aggregate's nodes).
package p2p

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/indexer/netstat"
)

// Defaults of Config.
const (
	DefaultTopic          = "ALEPH-TEST"
	DefaultAliveTopic     = "ALIVE"
	DefaultListen         = "/ip4/0.0.0.0/tcp/4025"
	DefaultAliveInterval  = 120 * time.Second
	DefaultReconnect      = 60 * time.Second
	DefaultBatchSize      = 100
	DefaultBatchDelay     = 20 * time.Millisecond
	DefaultMaxBackoff     = 30 * time.Second
	DefaultAllowlistCache = 300 * time.Second
	// MaxMessageSize is gossipsub's max_transmit_size on the network.
	MaxMessageSize = 256 << 10
)

// Config configures a Node.
type Config struct {
	// KeyFile holds the node's private key; generated (Ed25519) on first
	// start when missing. Required.
	KeyFile string
	// Listen are the multiaddrs to listen on. Default DefaultListen.
	Listen []string
	// Bootstrap are peers to dial, multiaddrs ending in /p2p/<id>; their
	// ids are in the alive allowlist.
	Bootstrap []string
	// Topic is the message topic. Default DefaultTopic.
	Topic string
	// AliveTopic is the aliveness topic. Default DefaultAliveTopic.
	AliveTopic string
	// AliveInterval is the period of this node's announcements. Default
	// DefaultAliveInterval; negative: never announce.
	AliveInterval time.Duration
	// Announce are the addresses announced (multiaddrs without /p2p/);
	// default the host's listen addresses.
	Announce []string
	// HTTPAddress, if set, is this node's API URL, announced as HTTP.
	HTTPAddress string
	// Version is announced with the addresses.
	Version string
	// Reconnect is the period of re-dialling the bootstrap peers. Default
	// DefaultReconnect.
	Reconnect time.Duration
	// BatchSize and BatchDelay bound the submit batches. Defaults
	// DefaultBatchSize, DefaultBatchDelay.
	BatchSize  int
	BatchDelay time.Duration
	// MaxBackoff bounds the wait between failed submits. Default
	// DefaultMaxBackoff.
	MaxBackoff time.Duration
	// AllowlistCache is how long the corechannel node list is cached.
	// Default DefaultAllowlistCache.
	AllowlistCache time.Duration
}

func (c *Config) withDefaults() {
	if len(c.Listen) == 0 {
		c.Listen = []string{DefaultListen}
	}
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.AliveTopic == "" {
		c.AliveTopic = DefaultAliveTopic
	}
	if c.AliveInterval == 0 {
		c.AliveInterval = DefaultAliveInterval
	}
	if c.Reconnect <= 0 {
		c.Reconnect = DefaultReconnect
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.BatchDelay <= 0 {
		c.BatchDelay = DefaultBatchDelay
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.AllowlistCache <= 0 {
		c.AllowlistCache = DefaultAllowlistCache
	}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	if c.KeyFile == "" {
		return errors.New("p2p: KeyFile is required")
	}
	for _, l := range c.Listen {
		if _, err := ma.NewMultiaddr(l); err != nil {
			return fmt.Errorf("p2p: listen address %q: %w", l, err)
		}
	}
	for _, b := range c.Bootstrap {
		if _, err := peer.AddrInfoFromString(b); err != nil {
			return fmt.Errorf("p2p: bootstrap peer %q: want a multiaddr ending in /p2p/<peer id>: %w", b, err)
		}
	}
	for _, a := range c.Announce {
		if _, err := ma.NewMultiaddr(a); err != nil {
			return fmt.Errorf("p2p: announced address %q: %w", a, err)
		}
	}
	return nil
}

// LoadOrCreateKey reads the private key in path, or generates an Ed25519
// key and writes it there (mode 0600) when the file does not exist.
func LoadOrCreateKey(path string) (crypto.PrivKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := crypto.UnmarshalPrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("p2p: key file %s: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("p2p: key file: %w", err)
	}
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return nil, fmt.Errorf("p2p: generate key: %w", err)
	}
	if b, err = crypto.MarshalPrivateKey(k); err != nil {
		return nil, fmt.Errorf("p2p: marshal key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("p2p: key file: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, fmt.Errorf("p2p: key file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("p2p: key file: %w", err)
	}
	return k, nil
}

// NodeLister returns the multiaddrs of the network's core channel nodes
// (the corechannel aggregate's nodes[].multiaddress), whose peer ids are
// in the alive allowlist.
type NodeLister = indexer.NodeLister

// Deps are a Node's collaborators.
type Deps struct {
	// Submitter takes the messages in (required).
	Submitter indexer.Submitter
	// Throttle slows intake while the queue is long (nil: never).
	Throttle *indexer.Throttle
	// Peers records the peers announcing themselves (nil: not recorded).
	Peers indexer.PeerRecorder
	// Nodes extends the allowlist (nil: bootstrap peers only). Unused
	// when Allow is set.
	Nodes NodeLister
	// Allow is the alive allowlist (nil: the bootstrap peers and Nodes,
	// cached AllowlistCache).
	Allow *indexer.Allowlist
	// Stats counts the messages (nil: not counted).
	Stats *netstat.Source
	// Log is the logger.
	Log *slog.Logger
}

// Node is this node on the libp2p network.
type Node struct {
	cfg   Config
	deps  Deps
	log   *slog.Logger
	host  host.Host
	ps    *pubsub.PubSub
	topic *pubsub.Topic
	alive *pubsub.Topic
	boot  []peer.AddrInfo
	in    chan []byte
	allow *indexer.Allowlist
}

// New starts the libp2p host and joins the topics; Run then takes the
// messages in. Close (or the end of Run) stops the host.
func New(ctx context.Context, cfg Config, deps Deps) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Submitter == nil {
		return nil, errors.New("p2p: Submitter is required")
	}
	if deps.Log == nil {
		deps.Log = slog.Default()
	}
	cfg.withDefaults()
	key, err := LoadOrCreateKey(cfg.KeyFile)
	if err != nil {
		return nil, err
	}
	h, err := libp2p.New(libp2p.Identity(key), libp2p.ListenAddrStrings(cfg.Listen...), libp2p.DisableRelay())
	if err != nil {
		return nil, fmt.Errorf("p2p: host: %w", err)
	}
	n := &Node{cfg: cfg, deps: deps, host: h, in: make(chan []byte, cfg.BatchSize*4),
		log: deps.Log.With("component", "indexer", "source", "p2p", "peer_id", h.ID().String())}
	for _, b := range cfg.Bootstrap {
		ai, _ := peer.AddrInfoFromString(b) // checked by Validate
		n.boot = append(n.boot, *ai)
	}
	n.allow = deps.Allow
	if n.allow == nil {
		n.allow = indexer.NewAllowlist(cfg.Bootstrap, deps.Nodes, cfg.AllowlistCache, n.log)
	}
	n.ps, err = pubsub.NewGossipSub(ctx, h,
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		pubsub.WithMessageIdFn(MessageID),
		pubsub.WithMaxMessageSize(MaxMessageSize),
	)
	if err != nil {
		_ = h.Close()
		return nil, fmt.Errorf("p2p: gossipsub: %w", err)
	}
	if err := n.join(); err != nil {
		_ = h.Close()
		return nil, err
	}
	return n, nil
}

// MessageID is gossipsub's message id: a hash of the payload alone, so the
// same payload published by two nodes is one message.
func MessageID(m *pb.Message) string {
	s := sha256.Sum256(m.Data)
	return string(s[:])
}

// join registers the validators and joins both topics.
func (n *Node) join() error {
	if err := n.ps.RegisterTopicValidator(n.cfg.Topic, n.validateMessage); err != nil {
		return fmt.Errorf("p2p: validator: %w", err)
	}
	if err := n.ps.RegisterTopicValidator(n.cfg.AliveTopic, n.validateAlive); err != nil {
		return fmt.Errorf("p2p: validator: %w", err)
	}
	var err error
	if n.topic, err = n.ps.Join(n.cfg.Topic); err != nil {
		return fmt.Errorf("p2p: join %s: %w", n.cfg.Topic, err)
	}
	// Announcements repeat the same bytes every period: on ALIVE the
	// message id is gossipsub's default (author and sequence number), so
	// a repeat is not dropped as a duplicate of the last one.
	if n.alive, err = n.ps.Join(n.cfg.AliveTopic, pubsub.WithTopicMessageIdFn(pubsub.DefaultMsgIdFn)); err != nil {
		return fmt.Errorf("p2p: join %s: %w", n.cfg.AliveTopic, err)
	}
	return nil
}

// validateMessage accepts payloads that decode to a JSON object; the
// processor verifies the message itself.
func (n *Node) validateMessage(_ context.Context, _ peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	if _, err := indexer.DecodePayload(m.Data); err != nil {
		return pubsub.ValidationReject
	}
	return pubsub.ValidationAccept
}

// validateAlive accepts well-formed announcements from allowlisted
// authors (and this node's own); the others are ignored, not relayed.
func (n *Node) validateAlive(ctx context.Context, _ peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	if _, _, err := indexer.ParseAlive(m.Data); err != nil {
		return pubsub.ValidationReject
	}
	if m.GetFrom() == n.host.ID() || n.Allowed(ctx, m.GetFrom()) {
		return pubsub.ValidationAccept
	}
	n.log.Debug("ignoring alive message from a peer outside the allowlist", "from", m.GetFrom().String())
	return pubsub.ValidationIgnore
}

// Allowed reports whether id is in the alive allowlist (spec §8.2): a
// bootstrap peer or a core channel node.
func (n *Node) Allowed(ctx context.Context, id peer.ID) bool {
	return n.allow.Allowed(ctx, id.String())
}

// ID is the node's peer id.
func (n *Node) ID() string { return n.host.ID().String() }

// Addrs are the node's listen addresses with /p2p/<id>.
func (n *Node) Addrs() []string {
	var out []string
	for _, a := range n.host.Addrs() {
		out = append(out, a.String()+"/p2p/"+n.host.ID().String())
	}
	return out
}

// Publish publishes a message a client submitted to this node.
func (n *Node) Publish(ctx context.Context, raw []byte) error {
	if len(raw) > MaxMessageSize {
		return fmt.Errorf("p2p: publish: message of %d bytes is over %d", len(raw), MaxMessageSize)
	}
	if err := n.topic.Publish(ctx, raw); err != nil {
		return fmt.Errorf("p2p: publish: %w", err)
	}
	return nil
}

// Close stops the host.
func (n *Node) Close() error { return n.host.Close() }

// Run takes the network's messages in until ctx ends, keeps the bootstrap
// peers connected and announces this node; the host is closed when it
// returns.
func (n *Node) Run(ctx context.Context) error {
	defer n.Close()
	msgs, err := n.topic.Subscribe()
	if err != nil {
		return fmt.Errorf("p2p: subscribe: %w", err)
	}
	defer msgs.Cancel()
	alive, err := n.alive.Subscribe()
	if err != nil {
		return fmt.Errorf("p2p: subscribe: %w", err)
	}
	defer alive.Cancel()
	n.deps.Stats.SetState(netstat.Live)
	defer n.deps.Stats.SetState(netstat.Stopped)
	n.log.Info("joined the p2p network", "addrs", n.Addrs())

	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Add(4)
	go func() { defer wg.Done(); n.dialLoop(ctx) }()
	go func() { defer wg.Done(); n.announceLoop(ctx) }()
	go func() { defer wg.Done(); n.aliveLoop(ctx, alive) }()
	go func() {
		defer wg.Done()
		defer close(n.in)
		for {
			m, err := msgs.Next(ctx)
			if err != nil {
				return
			}
			if m.ReceivedFrom == n.host.ID() {
				continue // our own publication: taken in by the API already
			}
			raw, err := indexer.DecodePayload(m.Data)
			if err != nil {
				continue
			}
			n.deps.Stats.Received(1)
			select {
			case n.in <- raw:
			case <-ctx.Done():
				return
			}
		}
	}()
	err = n.batch(ctx)
	cancel()
	for range n.in { //nolint:revive // drain so the reader ends
	}
	if errors.Is(err, context.Canceled) {
		return ctx.Err()
	}
	return err
}

// batch submits what the reader takes, in batches, until it stops.
func (n *Node) batch(ctx context.Context) error {
	raws := make([][]byte, 0, n.cfg.BatchSize)
	for {
		raws = raws[:0]
		b, ok := <-n.in
		if !ok {
			return ctx.Err()
		}
		raws = append(raws, b)
		timer := time.NewTimer(n.cfg.BatchDelay)
	fill:
		for len(raws) < n.cfg.BatchSize {
			select {
			case b, ok := <-n.in:
				if !ok {
					break fill
				}
				raws = append(raws, b)
			case <-timer.C:
				break fill
			}
		}
		timer.Stop()
		if err := indexer.SubmitRetry(ctx, n.deps.Submitter, n.deps.Throttle, n.deps.Stats, indexer.OriginP2P, raws, n.cfg.MaxBackoff, n.log); err != nil {
			return err
		}
	}
}

// dialLoop dials the bootstrap peers now and every Reconnect.
func (n *Node) dialLoop(ctx context.Context) {
	for {
		for _, b := range n.boot {
			if len(n.host.Network().ConnsToPeer(b.ID)) > 0 {
				continue
			}
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := n.host.Connect(dctx, b)
			cancel()
			if err != nil && ctx.Err() == nil {
				n.deps.Stats.SetError(fmt.Errorf("dial %s: %w", b.ID, err))
				n.log.Debug("dialling a bootstrap peer failed", "peer", b.ID.String(), "err", err)
			}
		}
		if indexer.Sleep(ctx, n.cfg.Reconnect) != nil {
			return
		}
	}
}

// announceLoop publishes this node's addresses every AliveInterval, the
// first time as soon as a peer listens on the topic.
func (n *Node) announceLoop(ctx context.Context) {
	if n.cfg.AliveInterval < 0 {
		return
	}
	for len(n.alive.ListPeers()) == 0 {
		if indexer.Sleep(ctx, 100*time.Millisecond) != nil {
			return
		}
	}
	for {
		if err := n.AnnounceOnce(ctx); err != nil && ctx.Err() == nil {
			n.log.Debug("alive announcement failed", "err", err)
		}
		if indexer.Sleep(ctx, n.cfg.AliveInterval) != nil {
			return
		}
	}
}

// AnnounceOnce publishes this node's aliveness messages: its P2P address
// and, if configured, its API URL.
func (n *Node) AnnounceOnce(ctx context.Context) error {
	var msgs []indexer.Alive
	addrs := n.cfg.Announce
	if len(addrs) == 0 {
		for _, a := range n.host.Addrs() {
			addrs = append(addrs, a.String())
		}
	}
	for _, a := range addrs {
		if !strings.Contains(a, "/p2p/") {
			a += "/p2p/" + n.host.ID().String()
		}
		msgs = append(msgs, indexer.Alive{Address: a, PeerType: "P2P", Version: n.cfg.Version})
		break // one P2P address, as the reference node announces
	}
	if n.cfg.HTTPAddress != "" {
		msgs = append(msgs, indexer.Alive{Address: n.cfg.HTTPAddress, PeerType: "HTTP", Version: n.cfg.Version})
	}
	for _, m := range msgs {
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		if err := n.alive.Publish(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// aliveLoop records the peers whose announcements passed validation.
func (n *Node) aliveLoop(ctx context.Context, sub *pubsub.Subscription) {
	for {
		m, err := sub.Next(ctx)
		if err != nil {
			return
		}
		if m.GetFrom() == n.host.ID() || n.deps.Peers == nil {
			continue
		}
		a, kind, err := indexer.ParseAlive(m.Data)
		if err != nil {
			continue
		}
		if err := n.deps.Peers.RecordPeer(ctx, indexer.Peer{
			ID: m.GetFrom().String(), Kind: kind, Address: a.Address, Source: "p2p", LastSeen: time.Now(),
		}); err != nil && ctx.Err() == nil {
			n.log.Warn("recording peer failed", "err", err)
		}
	}
}

// Interface guards
var _ indexer.Publisher = (*Node)(nil)

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/aggregate"
	"github.com/alephql/alephql/ent/chainsyncstatus"
	"github.com/alephql/alephql/ent/peer"
	"github.com/alephql/alephql/graph"
	"github.com/alephql/alephql/graph/model"
	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/indexer/follow"
	"github.com/alephql/alephql/indexer/netstat"
	"github.com/alephql/alephql/indexer/p2p"
	"github.com/alephql/alephql/indexer/pubsub"
	"github.com/alephql/alephql/ipfs"
	"github.com/alephql/alephql/processor"
)

// stringList is a repeatable flag; each value may also hold several
// comma-separated items (as in an environment variable).
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// networkFlags are the settings of the network sources.
type networkFlags struct {
	ipfsPubsub    bool
	publicURL     string
	highWater     int
	p2p           bool
	p2pListen     stringList
	p2pBootstrap  stringList
	p2pAnnounce   stringList
	p2pKey        string
	aliveInterval time.Duration
	aliveAllow    stringList
	follow        stringList
}

func (f *networkFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.ipfsPubsub, "ipfs-pubsub", false, "join the network over IPFS pubsub (needs --ipfs-api with a daemon online): take messages from topic ALEPH-TEST, publish clients' messages there, announce this node on ALEPH_ALIVE (env ALEPHQL_IPFS_PUBSUB)")
	fs.StringVar(&f.publicURL, "public-url", "", "this node's public API URL, announced to peers as an HTTP peer; empty: not announced (env ALEPHQL_PUBLIC_URL)")
	fs.BoolVar(&f.p2p, "p2p", false, "join the network's libp2p gossip (topics ALEPH-TEST and ALIVE) (env ALEPHQL_P2P)")
	fs.Var(&f.p2pListen, "p2p-listen", "libp2p listen multiaddr, repeatable; default "+p2p.DefaultListen+" (env ALEPHQL_P2P_LISTEN, comma-separated)")
	fs.Var(&f.p2pBootstrap, "p2p-bootstrap", "libp2p peer to dial, a multiaddr ending in /p2p/<peer id>, repeatable; their announcements are trusted (env ALEPHQL_P2P_BOOTSTRAP, comma-separated)")
	fs.Var(&f.p2pAnnounce, "p2p-announce", "libp2p address announced to peers on ALIVE, repeatable; default the first listen address (env ALEPHQL_P2P_ANNOUNCE, comma-separated)")
	fs.StringVar(&f.p2pKey, "p2p-key", "", "libp2p identity key file, generated on first start; default DATA_DIR/node-key (env ALEPHQL_P2P_KEY)")
	fs.DurationVar(&f.aliveInterval, "alive-interval", 120*time.Second, "period of this node's aliveness announcements (env ALEPHQL_ALIVE_INTERVAL)")
	fs.Var(&f.aliveAllow, "alive-allow", "peer id (or multiaddr ending in /p2p/<id>) whose aliveness announcements are taken on ALIVE and ALEPH_ALIVE, beside the bootstrap peers and the corechannel nodes; repeatable (env ALEPHQL_ALIVE_ALLOW, comma-separated)")
	fs.Var(&f.follow, "follow", "mirror the node at this API URL (https://node.example): backfill its messages, then follow them live; every message is verified here; repeatable (env ALEPHQL_FOLLOW, comma-separated)")
	fs.IntVar(&f.highWater, "network-queue-high-water", indexer.DefaultHighWater, "network sources pause while the processing queue holds this many messages (env ALEPHQL_NETWORK_QUEUE_HIGH_WATER)")
}

// networkNode is the wired network side of the node.
type networkNode struct {
	// Stats are the sources' figures (the status query, /metrics).
	Stats *netstat.Registry
	// runs are the sources' Run functions.
	runs []func(context.Context) error
	// publishers broadcast client submissions.
	publishers []indexer.Publisher
	closers    []func() error
	log        *slog.Logger
}

// newNetwork builds the configured network sources.
func newNetwork(ctx context.Context, f networkFlags, dataDir string, proc *processor.Processor, client *ent.Client, content *ipfs.Service, reg prometheus.Registerer, log *slog.Logger) (*networkNode, error) {
	n := &networkNode{Stats: netstat.NewRegistry(), log: log}
	if err := reg.Register(n.Stats); err != nil {
		return nil, err
	}
	if f.highWater < 1 {
		return nil, usageError{fmt.Errorf("--network-queue-high-water (ALEPHQL_NETWORK_QUEUE_HIGH_WATER): must be at least 1, got %d", f.highWater)}
	}
	throttle := indexer.NewThrottle(proc, f.highWater, 0)
	sub := netSubmitter{proc}
	peers := entPeers{client}
	// One allowlist for both aliveness topics (spec §8.2).
	allow := indexer.NewAllowlist(append(slices.Clone(f.p2pBootstrap), f.aliveAllow...), coreChannelNodes{client}, 0, log)
	if f.ipfsPubsub {
		if content == nil || !content.KuboConfigured() {
			return nil, usageError{errors.New("--ipfs-pubsub (ALEPHQL_IPFS_PUBSUB) needs --ipfs-api")}
		}
		src, err := pubsub.New(pubsub.Config{HTTPAddress: f.publicURL, Version: version, AliveInterval: f.aliveInterval}, pubsub.Deps{
			Kubo: pubsub.FromService(content), Submitter: sub, Throttle: throttle, Peers: peers, Allow: allow,
			Stats: n.Stats.Source("ipfs-pubsub", "ipfs"), Log: log,
		})
		if err != nil {
			return nil, usageError{fmt.Errorf("--ipfs-pubsub: %w", err)}
		}
		n.runs = append(n.runs, src.Run)
		n.publishers = append(n.publishers, src)
	}
	if f.p2p {
		key := f.p2pKey
		if key == "" {
			key = filepath.Join(dataDir, "node-key")
		}
		node, err := p2p.New(ctx, p2p.Config{
			KeyFile: key, Listen: f.p2pListen, Bootstrap: f.p2pBootstrap, Announce: f.p2pAnnounce,
			HTTPAddress: f.publicURL, Version: version, AliveInterval: f.aliveInterval,
		}, p2p.Deps{
			Submitter: sub, Throttle: throttle, Peers: peers, Allow: allow,
			Stats: n.Stats.Source("p2p-gossip", "p2p"), Log: log,
		})
		if err != nil {
			return nil, usageError{fmt.Errorf("--p2p-*: %w", err)}
		}
		n.runs = append(n.runs, node.Run)
		n.publishers = append(n.publishers, node)
		n.closers = append(n.closers, node.Close)
	}
	for _, u := range f.follow {
		fl, err := follow.New(follow.Config{URL: u}, follow.Deps{
			Submitter: bulkSubmitter{proc}, Cursors: followCursors{client}, Throttle: throttle, Forgotten: skeletons{proc},
			Stats: n.Stats.Source(u, netstat.KindFollow), Log: log,
		})
		if err != nil {
			return nil, usageError{fmt.Errorf("--follow (ALEPHQL_FOLLOW): %w", err)}
		}
		n.runs = append(n.runs, fl.Run)
	}
	return n, nil
}

// Peers implements ipfs.PeerLister: the followed nodes serve the content
// of the messages taken from them (checked against its hash).
func (f networkFlags) Peers(context.Context) ([]string, error) { return f.follow, nil }

// followCursors keeps each followed node's position in
// chains_sync_status (chain = the URL, type = "follow"; block_hash holds
// the messages.json cursor, height the newest message time in
// microseconds), with the peer's event_seq in a second row (type
// "follow-seq", height) while it is known.
type followCursors struct{ c *ent.Client }

const (
	followSyncType = "follow"
	followSeqType  = "follow-seq"
)

// Load implements follow.Cursors.
func (fc followCursors) Load(ctx context.Context, url string) (follow.Position, error) {
	rows, err := fc.c.ChainSyncStatus.Query().
		Where(chainsyncstatus.Chain(url), chainsyncstatus.TypeIn(followSyncType, followSeqType)).All(ctx)
	if err != nil {
		return follow.Position{}, err
	}
	var p follow.Position
	for _, row := range rows {
		switch row.Type {
		case followSyncType:
			p.Cursor = row.BlockHash
			if row.Height > 0 {
				p.Newest = time.UnixMicro(row.Height).UTC()
			}
		case followSeqType:
			p.Resume, p.EventSeq = true, row.Height
		}
	}
	return p, nil
}

// Save implements follow.Cursors: both rows in one transaction.
func (fc followCursors) Save(ctx context.Context, url string, p follow.Position) error {
	var h int64
	if !p.Newest.IsZero() {
		h = p.Newest.UnixMicro()
	}
	tx, err := fc.c.Tx(ctx)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	put := func(typ, hash string, height int64) error {
		n, err := tx.ChainSyncStatus.Update().Where(chainsyncstatus.Chain(url), chainsyncstatus.Type(typ)).
			SetBlockHash(hash).SetHeight(height).SetLastUpdate(now).Save(ctx)
		if err != nil || n > 0 {
			return err
		}
		return tx.ChainSyncStatus.Create().SetChain(url).SetType(typ).
			SetBlockHash(hash).SetHeight(height).SetLastUpdate(now).Exec(ctx)
	}
	err = put(followSyncType, p.Cursor, h)
	if err == nil && p.Resume {
		err = put(followSeqType, "", p.EventSeq)
	} else if err == nil {
		_, err = tx.ChainSyncStatus.Delete().Where(chainsyncstatus.Chain(url), chainsyncstatus.Type(followSeqType)).Exec(ctx)
	}
	if err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

// Sources implements graph.NetworkStatus.
func (n *networkNode) Sources() []*model.NetworkSource {
	snap := n.Stats.Snapshot()
	out := make([]*model.NetworkSource, len(snap))
	for i, s := range snap {
		out[i] = &model.NetworkSource{
			Name: s.Name, Kind: s.Kind, Received: int(s.Received), Accepted: int(s.Accepted),
			Rejected: int(s.Rejected), Duplicate: int(s.Duplicate), LagSeconds: s.Lag.Seconds(), State: string(s.State),
		}
		if s.LastError != "" {
			e, at := s.LastError, s.LastErrorAt
			out[i].LastError, out[i].LastErrorAt = &e, &at
		}
	}
	return out
}

// Close releases what the sources hold before they run (the libp2p host).
func (n *networkNode) Close() {
	for _, c := range n.closers {
		_ = c()
	}
}

// Publish broadcasts a client's message on every configured network; a
// failure is logged, never returned: the message is already taken in.
func (n *networkNode) Publish(ctx context.Context, raw []byte) {
	for _, p := range n.publishers {
		if err := p.Publish(ctx, raw); err != nil {
			n.log.Warn("publishing a client message failed", "err", err)
		}
	}
}

// publishingSubmitter is the API's intake that also broadcasts every
// message it takes in, as the reference node does (spec §9.5).
type publishingSubmitter struct {
	graph.Submitter
	net *networkNode
}

// Submit implements graph.Submitter.
func (s publishingSubmitter) Submit(ctx context.Context, raw json.RawMessage) (string, error) {
	h, err := s.Submitter.Submit(ctx, raw)
	if err == nil {
		s.net.Publish(ctx, raw)
	}
	return h, err
}

// netSubmitter is the network sources' intake over the processor.
type netSubmitter struct{ p *processor.Processor }

// SubmitRaw implements indexer.Submitter.
func (s netSubmitter) SubmitRaw(ctx context.Context, origin indexer.Origin, raws [][]byte) ([]indexer.Result, error) {
	ins := make([]processor.Input, len(raws))
	for i, r := range raws {
		ins[i] = processor.Input{Raw: r, Origin: processorOrigin(origin)}
	}
	res, err := s.p.SubmitBatch(ctx, ins)
	if err != nil {
		return nil, err
	}
	return indexerResults(res), nil
}

// processorOrigin is the processor's name of a network origin.
func processorOrigin(o indexer.Origin) processor.Origin {
	switch o {
	case indexer.OriginP2P:
		return processor.OriginP2P
	case indexer.OriginIPFS:
		return processor.OriginIPFS
	}
	return processor.OriginPeer
}

// indexerResults turns intake results into the sources' verdicts.
func indexerResults(res []processor.SubmitResult) []indexer.Result {
	out := make([]indexer.Result, len(res))
	for i, r := range res {
		out[i] = indexer.Result{ItemHash: r.ItemHash, Err: r.Err}
		switch r.Outcome {
		case processor.Queued:
			out[i].Outcome = indexer.Accepted
		case processor.Rejected:
			out[i].Outcome = indexer.Rejected
		default:
			out[i].Outcome = indexer.Duplicate
		}
	}
	return out
}

// bulkSubmitter is a followed node's intake: its pages are history in
// time order, so they go through the processor's import path
// (ImportBatch: the same intake and verification; inline POSTs and
// AGGREGATEs applied in the transaction that takes them in, signatures
// checked on all cores). The messages are recorded with origin "peer":
// the reference node has no intake from another node's API (its origins
// are p2p, ipfs and onchain, spec §3.1, §10), so this node names it
// apart rather than pass such messages off as gossip or as a local
// import.
type bulkSubmitter struct{ p *processor.Processor }

// SubmitRaw implements indexer.Submitter.
func (s bulkSubmitter) SubmitRaw(ctx context.Context, origin indexer.Origin, raws [][]byte) ([]indexer.Result, error) {
	ins := make([]processor.Input, len(raws))
	for i, r := range raws {
		ins[i] = processor.Input{Raw: r, Origin: processorOrigin(origin)}
	}
	res, err := s.p.ImportBatch(ctx, ins)
	if err != nil {
		return nil, err
	}
	return indexerResults(res), nil
}

// skeletons hands a followed node's forgotten skeletons to the processor.
type skeletons struct{ p *processor.Processor }

// ForgetSkeletons implements follow.Forgotten.
func (s skeletons) ForgetSkeletons(ctx context.Context, forget []byte, raws []json.RawMessage) (int, error) {
	sks := make([]processor.Skeleton, 0, len(raws))
	for _, r := range raws {
		var sk processor.Skeleton
		if json.Unmarshal(r, &sk) == nil {
			sks = append(sks, sk)
		}
	}
	done, err := s.p.ForgetSkeletons(ctx, forget, sks)
	return len(done), err
}

// Prepare implements follow.Preparer: decoding and signature checks.
func (s bulkSubmitter) Prepare(origin indexer.Origin, raws [][]byte) (follow.Prepared, error) {
	ins := make([]processor.Input, len(raws))
	for i, r := range raws {
		ins[i] = processor.Input{Raw: r, Origin: processorOrigin(origin)}
	}
	return s.p.PrepareImport(ins)
}

// SubmitPrepared implements follow.Preparer.
func (s bulkSubmitter) SubmitPrepared(ctx context.Context, b follow.Prepared) ([]indexer.Result, error) {
	pb, ok := b.(*processor.Prepared)
	if !ok {
		return nil, fmt.Errorf("follow: prepared batch of type %T", b)
	}
	res, err := s.p.SubmitPrepared(ctx, pb)
	if err != nil {
		return nil, err
	}
	return indexerResults(res), nil
}

// entPeers records peers in the peers table.
type entPeers struct{ c *ent.Client }

// RecordPeer implements indexer.PeerRecorder: an upsert on (peer id, kind).
func (e entPeers) RecordPeer(ctx context.Context, p indexer.Peer) error {
	src := peer.Source(p.Source)
	if peer.SourceValidator(src) != nil {
		src = peer.SourceConfig
	}
	kind := peer.PeerType(p.Kind)
	if err := peer.PeerTypeValidator(kind); err != nil {
		return err
	}
	seen := p.LastSeen.UTC()
	if seen.IsZero() {
		seen = time.Now().UTC()
	}
	for try := 0; ; try++ {
		n, err := e.c.Peer.Update().Where(peer.PeerID(p.ID), peer.PeerTypeEQ(kind)).
			SetAddress(p.Address).SetSource(src).SetLastSeen(seen).Save(ctx)
		if err != nil || n > 0 {
			return err
		}
		err = e.c.Peer.Create().SetPeerID(p.ID).SetPeerType(kind).SetAddress(p.Address).
			SetSource(src).SetLastSeen(seen).Exec(ctx)
		if err == nil || !ent.IsConstraintError(err) || try > 0 {
			return err
		}
	}
}

// Core channel aggregate: its nodes' peer ids may announce themselves on
// ALIVE (spec §8.2).
const (
	coreChannelOwner = "0xa1B3bb7d2332383D96b7796B908fB7f7F3c2Be10"
	coreChannelKey   = "corechannel"
)

// coreChannelNodes reads the nodes' multiaddrs from the corechannel
// aggregate.
type coreChannelNodes struct{ c *ent.Client }

// NodeAddrs implements p2p.NodeLister.
func (c coreChannelNodes) NodeAddrs(ctx context.Context) ([]string, error) {
	a, err := c.c.Aggregate.Query().Where(aggregate.Owner(coreChannelOwner), aggregate.Key(coreChannelKey)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var doc struct {
		Nodes []struct {
			Multiaddress string `json:"multiaddress"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal(a.Content, &doc); err != nil {
		return nil, fmt.Errorf("corechannel aggregate: %w", err)
	}
	out := make([]string, 0, len(doc.Nodes))
	for _, n := range doc.Nodes {
		if n.Multiaddress != "" {
			out = append(out, n.Multiaddress)
		}
	}
	return out, nil
}

// Interface guards
var (
	_ indexer.Submitter    = netSubmitter{}
	_ follow.Preparer      = bulkSubmitter{}
	_ indexer.PeerRecorder = entPeers{}
	_ p2p.NodeLister       = coreChannelNodes{}
	_ follow.Cursors       = followCursors{}
	_ follow.Forgotten     = skeletons{}
	_ ipfs.PeerLister      = networkFlags{}
	_ graph.Submitter      = publishingSubmitter{}
	_ graph.NetworkStatus  = (*networkNode)(nil)
)

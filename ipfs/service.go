package ipfs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ipfs/boxo/files"
	"github.com/ipfs/kubo/client/rpc"
	caopts "github.com/ipfs/kubo/core/coreiface/options"
	ma "github.com/multiformats/go-multiaddr"
)

// Defaults of Config, from the reference node's settings.
const (
	DefaultFetchTimeout    = 15 * time.Second // small STORE file fetch, per attempt
	DefaultStatTimeout     = 30 * time.Second // ipfs.stat_timeout
	DefaultPinStallTimeout = 60 * time.Second // 2 × 30 half-second ticks without progress
	DefaultMaxSize         = 100 << 20        // storage.max_file_size and the cat cap
	DefaultCacheMaxSize    = 1 << 20          // CID content cached in the local store
	peerResponseOverhead   = 4096             // JSON envelope around the base64 body
	maxPeerConnsPerHost    = 5                // as the reference node's aiohttp session
	kuboNotConfigured      = "kubo is not configured (set --ipfs-api)"
	defaultPeerErrorPrefix = "peer "
)

// Config configures a Service.
type Config struct {
	// Dir is the local content store directory (required).
	Dir string
	// API is kubo's RPC API as a URL (http://127.0.0.1:5001) or a
	// multiaddr (/ip4/127.0.0.1/tcp/5001). Empty: no kubo; storage content
	// and uploads still work, CID fetches fail with ErrUnavailable.
	API string
	// FetchTimeout bounds one attempt to fetch bytes (kubo cat, one peer).
	// Default DefaultFetchTimeout.
	FetchTimeout time.Duration
	// StatTimeout bounds one kubo stat, hash check or unpin. Default
	// DefaultStatTimeout.
	StatTimeout time.Duration
	// PinStallTimeout ends a pin that reports no progress for that long.
	// Default DefaultPinStallTimeout.
	PinStallTimeout time.Duration
	// MaxSize is the limit Get applies when its caller passes max <= 0.
	// Default DefaultMaxSize.
	MaxSize int64
	// CacheMaxSize: CID content up to this size fetched from kubo or peers
	// is also kept in the local store. Default DefaultCacheMaxSize; negative
	// disables the cache.
	CacheMaxSize int64
}

func (c *Config) withDefaults() {
	if c.FetchTimeout == 0 {
		c.FetchTimeout = DefaultFetchTimeout
	}
	if c.StatTimeout == 0 {
		c.StatTimeout = DefaultStatTimeout
	}
	if c.PinStallTimeout == 0 {
		c.PinStallTimeout = DefaultPinStallTimeout
	}
	if c.MaxSize == 0 {
		c.MaxSize = DefaultMaxSize
	}
	if c.CacheMaxSize == 0 {
		c.CacheMaxSize = DefaultCacheMaxSize
	}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	if c.Dir == "" {
		return errors.New("ipfs: Dir (the local content store) is required")
	}
	if c.FetchTimeout < 0 || c.StatTimeout < 0 || c.PinStallTimeout < 0 {
		return errors.New("ipfs: timeouts must not be negative")
	}
	if c.MaxSize < 0 {
		return errors.New("ipfs: MaxSize must not be negative")
	}
	if c.API != "" {
		if _, err := kuboURL(c.API); err != nil {
			return err
		}
	}
	return nil
}

// kuboURL turns the API setting into the base URL of the RPC API.
func kuboURL(api string) (string, error) {
	if strings.HasPrefix(api, "/") {
		a, err := ma.NewMultiaddr(api)
		if err != nil {
			return "", fmt.Errorf("ipfs: API multiaddr %q: %w", api, err)
		}
		host, err := a.ValueForProtocol(ma.P_IP4)
		if err != nil {
			if host, err = a.ValueForProtocol(ma.P_IP6); err == nil {
				host = "[" + host + "]"
			} else if host, err = a.ValueForProtocol(ma.P_DNS); err != nil {
				return "", fmt.Errorf("ipfs: API multiaddr %q: no ip4, ip6 or dns host", api)
			}
		}
		port, err := a.ValueForProtocol(ma.P_TCP)
		if err != nil {
			return "", fmt.Errorf("ipfs: API multiaddr %q: no tcp port", api)
		}
		return "http://" + host + ":" + port, nil
	}
	u, err := url.Parse(api)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("ipfs: API %q: want http://host:port or a multiaddr", api)
	}
	return strings.TrimRight(api, "/"), nil
}

// PeerLister names the base URLs of other nodes' HTTP APIs
// (https://node.example:4024) to fetch storage content from.
type PeerLister interface {
	Peers(ctx context.Context) ([]string, error)
}

// PeerListerFunc adapts a function to PeerLister.
type PeerListerFunc func(ctx context.Context) ([]string, error)

// Peers calls f.
func (f PeerListerFunc) Peers(ctx context.Context) ([]string, error) { return f(ctx) }

// Service is the content service. It is safe for concurrent use.
type Service struct {
	cfg   Config
	store *Store
	kubo  *rpc.HttpApi // nil: not configured
	peers PeerLister   // nil: none
	http  *http.Client // peers
	log   *slog.Logger
}

// New returns a Service. peers may be nil (no peer fetches).
func New(cfg Config, peers PeerLister, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.withDefaults()
	store, err := NewStore(cfg.Dir)
	if err != nil {
		return nil, err
	}
	s := &Service{
		cfg:   cfg,
		store: store,
		peers: peers,
		log:   log.With("component", "ipfs"),
		http: &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxConnsPerHost:       maxPeerConnsPerHost,
			MaxIdleConnsPerHost:   maxPeerConnsPerHost,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: cfg.FetchTimeout,
		}},
	}
	if cfg.API != "" {
		base, _ := kuboURL(cfg.API) // checked by Validate
		// No client-wide timeout: cat and add stream large bodies; every
		// call carries its own deadline instead.
		c := &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
		}}
		s.kubo, err = rpc.NewURLApiWithClient(base, c)
		if err != nil {
			return nil, fmt.Errorf("ipfs: kubo client: %w", err)
		}
	}
	return s, nil
}

// Store returns the local content store.
func (s *Service) Store() *Store { return s.store }

// KuboConfigured reports whether a kubo API is configured.
func (s *Service) KuboConfigured() bool { return s.kubo != nil }

func (s *Service) limit(max int64) int64 {
	if max <= 0 {
		return s.cfg.MaxSize
	}
	return max
}

// Get returns the bytes of hash, at most max bytes (max <= 0: Config.MaxSize).
// A sha256 storage hash is read from the local store, then from peers; a
// CID from the local store, then kubo, then peers (verified by kubo).
// Content obtained from the network is verified, then stored locally
// (CIDs only up to Config.CacheMaxSize).
func (s *Service) Get(ctx context.Context, hash string, max int64) ([]byte, error) {
	kind, version, err := ParseHash(hash)
	if err != nil {
		return nil, err
	}
	max = s.limit(max)
	b, err := s.store.Read(hash, max)
	if !errors.Is(err, ErrNotFound) {
		return b, err
	}
	if kind == KindStorage {
		b, err = s.fromPeers(ctx, hash, kind, version, max)
		if err != nil {
			return nil, err
		}
		if err := s.store.Write(hash, b); err != nil {
			s.log.Warn("cannot keep fetched content", "hash", hash, "err", err)
		}
		return b, nil
	}
	if s.kubo == nil {
		return nil, fmt.Errorf("get %s: %s: %w", hash, kuboNotConfigured, ErrUnavailable)
	}
	b, kerr := s.cat(ctx, hash, max)
	if kerr != nil {
		if errors.Is(kerr, ErrTooLarge) || errors.Is(kerr, ErrIsDirectory) || ctx.Err() != nil {
			return nil, kerr
		}
		var perr error
		b, perr = s.fromPeers(ctx, hash, kind, version, max)
		if perr != nil {
			if errors.Is(perr, ErrHashMismatch) || errors.Is(perr, ErrTooLarge) {
				return nil, perr
			}
			return nil, errors.Join(kerr, perr)
		}
	}
	if s.cfg.CacheMaxSize >= 0 && int64(len(b)) <= s.cfg.CacheMaxSize {
		if err := s.store.Write(hash, b); err != nil {
			s.log.Warn("cannot keep fetched content", "hash", hash, "err", err)
		}
	}
	return b, nil
}

// Stat returns the size of hash and whether it is a directory. For
// directories the size is kubo's CumulativeSize, as the reference node
// records it.
func (s *Service) Stat(ctx context.Context, hash string) (size int64, dir bool, err error) {
	kind, _, err := ParseHash(hash)
	if err != nil {
		return 0, false, err
	}
	size, err = s.store.Size(hash)
	if !errors.Is(err, ErrNotFound) || kind == KindStorage {
		return size, false, err
	}
	if s.kubo == nil {
		return 0, false, fmt.Errorf("stat %s: %s: %w", hash, kuboNotConfigured, ErrUnavailable)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StatTimeout)
	defer cancel()
	var st struct {
		Size           int64
		CumulativeSize int64
		Type           string
	}
	if err := s.kubo.Request("files/stat", "/ipfs/"+hash).Exec(ctx, &st); err != nil {
		return 0, false, s.kuboError(ctx, "stat "+hash, err)
	}
	if st.Type == "directory" {
		return st.CumulativeSize, true, nil
	}
	return st.Size, false, nil
}

// Pin makes hash durable on this node: a CID is pinned in kubo (with its
// whole DAG); a storage hash is fetched into the local store if missing.
// A pin that reports no progress for Config.PinStallTimeout fails with
// ErrUnavailable.
func (s *Service) Pin(ctx context.Context, hash string) error {
	kind, _, err := ParseHash(hash)
	if err != nil {
		return err
	}
	if kind == KindStorage {
		if _, err := s.store.Size(hash); err == nil {
			return nil
		}
		_, err := s.Get(ctx, hash, 0)
		return err
	}
	if s.kubo == nil {
		return fmt.Errorf("pin %s: %s: %w", hash, kuboNotConfigured, ErrUnavailable)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	errStalled := fmt.Errorf("pin %s: no progress for %s: %w", hash, s.cfg.PinStallTimeout, ErrUnavailable)
	stall := time.AfterFunc(s.cfg.PinStallTimeout, func() { cancel(errStalled) })
	defer stall.Stop()
	resp, err := s.kubo.Request("pin/add", "/ipfs/"+hash).Option("progress", true).Send(ctx)
	if err == nil && resp.Error != nil {
		err = resp.Error
	}
	if err != nil {
		if context.Cause(ctx) == errStalled {
			return errStalled
		}
		return s.kuboError(ctx, "pin "+hash, err)
	}
	defer resp.Close()
	dec := json.NewDecoder(resp.Output)
	for {
		var ev struct {
			Pins     []string
			Progress int
		}
		err := dec.Decode(&ev)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if context.Cause(ctx) == errStalled {
				return errStalled
			}
			return s.kuboError(ctx, "pin "+hash, err)
		}
		stall.Reset(s.cfg.PinStallTimeout)
	}
}

// Unpin releases kubo's pin on a CID; unpinning what is not pinned is not
// an error. It does nothing for storage hashes (see Delete).
func (s *Service) Unpin(ctx context.Context, hash string) error {
	kind, _, err := ParseHash(hash)
	if err != nil {
		return err
	}
	if kind == KindStorage {
		return nil
	}
	if s.kubo == nil {
		return fmt.Errorf("unpin %s: %s: %w", hash, kuboNotConfigured, ErrUnavailable)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StatTimeout)
	defer cancel()
	err = s.kubo.Request("pin/rm", "/ipfs/"+hash).Exec(ctx, nil)
	if err != nil && strings.Contains(err.Error(), "not pinned") {
		return nil
	}
	if err != nil {
		return s.kuboError(ctx, "unpin "+hash, err)
	}
	return nil
}

// Delete removes hash from this node, for the garbage collector: the local
// store's copy, and for CIDs kubo's pin (kubo's own GC reclaims blocks).
// Without kubo, a CID's local copy is still removed.
func (s *Service) Delete(ctx context.Context, hash string) error {
	kind, _, err := ParseHash(hash)
	if err != nil {
		return err
	}
	if kind == KindIPFS && s.kubo != nil {
		if err := s.Unpin(ctx, hash); err != nil {
			return err
		}
	}
	return s.store.Remove(hash)
}

// AddOptions tunes Add.
type AddOptions struct {
	// CIDVersion is 0 (the default, as the reference node adds) or 1
	// (kubo's --cid-version=1 defaults, raw leaves included).
	CIDVersion int
	// Pin pins the content in kubo.
	Pin bool
	// OnlyHash computes the CID without storing anything.
	OnlyHash bool
}

// Add adds bytes to kubo as one UnixFS file and returns its CID.
func (s *Service) Add(ctx context.Context, r io.Reader, opts AddOptions) (string, error) {
	if s.kubo == nil {
		return "", fmt.Errorf("add: %s: %w", kuboNotConfigured, ErrUnavailable)
	}
	if opts.CIDVersion != 0 && opts.CIDVersion != 1 {
		return "", fmt.Errorf("add: CID version %d: want 0 or 1", opts.CIDVersion)
	}
	p, err := s.kubo.Unixfs().Add(ctx, files.NewReaderFile(r),
		caopts.Unixfs.CidVersion(opts.CIDVersion),
		caopts.Unixfs.Pin(opts.Pin, ""),
		caopts.Unixfs.HashOnly(opts.OnlyHash))
	if err != nil {
		return "", s.kuboError(ctx, "add", err)
	}
	return p.RootCid().String(), nil
}

// ImportCAR imports a CARv1 archive into kubo (`dag import`, pinning its
// root) and returns the root CID. An archive kubo refuses, or with other
// than one root, fails with ErrInvalidCAR; kubo down or not configured
// with ErrUnavailable.
func (s *Service) ImportCAR(ctx context.Context, r io.Reader) (string, error) {
	if s.kubo == nil {
		return "", fmt.Errorf("dag import: %s: %w", kuboNotConfigured, ErrUnavailable)
	}
	res, err := s.kubo.Request("dag/import").Option("pin-roots", true).FileBody(r).Send(ctx)
	if err != nil {
		return "", s.kuboError(ctx, "dag import", err)
	}
	defer res.Close()
	if res.Error != nil {
		return "", fmt.Errorf("kubo dag import: %w: %s", ErrInvalidCAR, res.Error.Message)
	}
	var roots []string
	dec := json.NewDecoder(res.Output)
	for {
		var line struct {
			Root *struct {
				Cid struct {
					Link string `json:"/"`
				}
				PinErrorMsg string
			}
		}
		err := dec.Decode(&line)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", s.kuboError(ctx, "dag import", err)
		}
		if line.Root == nil {
			continue // stats
		}
		if line.Root.PinErrorMsg != "" {
			return "", fmt.Errorf("kubo dag import: root %s not pinned: %w: %s", line.Root.Cid.Link, ErrInvalidCAR, line.Root.PinErrorMsg)
		}
		roots = append(roots, line.Root.Cid.Link)
	}
	if len(roots) != 1 {
		return "", fmt.Errorf("kubo dag import: %d roots, want 1: %w", len(roots), ErrInvalidCAR)
	}
	return roots[0], nil
}

// AddStorage stores r in the local store under its sha256 ("storage"
// engine) and returns the hash and size. More than max bytes (max <= 0:
// Config.MaxSize) fail with ErrTooLarge.
func (s *Service) AddStorage(_ context.Context, r io.Reader, max int64) (hash string, size int64, err error) {
	return s.store.WriteFrom(r, s.limit(max))
}

// AddJSON stores a JSON document as the reference node's add_json does:
// its canonical form (CanonicalJSON) goes to the local store, named by its
// sha256 (KindStorage) or by its CIDv0 after a pinned add to kubo
// (KindIPFS). It returns the hash and the size of the stored bytes.
func (s *Service) AddJSON(ctx context.Context, doc []byte, kind Kind) (hash string, size int64, err error) {
	b, err := CanonicalJSON(doc)
	if err != nil {
		return "", 0, err
	}
	switch kind {
	case KindStorage:
		sum := sha256.Sum256(b)
		hash = hex.EncodeToString(sum[:])
	case KindIPFS:
		hash, err = s.Add(ctx, bytes.NewReader(b), AddOptions{Pin: true})
		if err != nil {
			return "", 0, err
		}
	default:
		return "", 0, fmt.Errorf("add json: unknown engine %v", kind)
	}
	if err := s.store.Write(hash, b); err != nil {
		return "", 0, err
	}
	return hash, int64(len(b)), nil
}

// Open streams the bytes of a file: the local copy if there is one, else
// kubo's (a CID). Directories fail with ErrIsDirectory (see OpenArchive).
// The caller closes the reader; size is the exact byte count.
func (s *Service) Open(ctx context.Context, hash string) (rc io.ReadCloser, size int64, err error) {
	kind, _, err := ParseHash(hash)
	if err != nil {
		return nil, 0, err
	}
	f, size, err := s.store.Open(hash)
	if !errors.Is(err, ErrNotFound) || kind == KindStorage {
		return f, size, err
	}
	size, dir, err := s.Stat(ctx, hash)
	if err != nil {
		return nil, 0, err
	}
	if dir {
		return nil, 0, fmt.Errorf("open %s: %w", hash, ErrIsDirectory)
	}
	resp, err := s.kubo.Request("cat", "/ipfs/"+hash).Send(ctx)
	if err == nil && resp.Error != nil {
		err = resp.Error
	}
	if err != nil {
		return nil, 0, s.kuboError(ctx, "cat "+hash, err)
	}
	return resp.Output, size, nil
}

// OpenArchive streams a directory CID as a tar archive (kubo get
// --archive), as the reference node serves directories.
func (s *Service) OpenArchive(ctx context.Context, hash string) (io.ReadCloser, error) {
	if kind, _, err := ParseHash(hash); err != nil {
		return nil, err
	} else if kind != KindIPFS {
		return nil, fmt.Errorf("archive %s: not a CID: %w", hash, ErrInvalidHash)
	}
	if s.kubo == nil {
		return nil, fmt.Errorf("archive %s: %s: %w", hash, kuboNotConfigured, ErrUnavailable)
	}
	resp, err := s.kubo.Request("get", "/ipfs/"+hash).Option("archive", true).Send(ctx)
	if err == nil && resp.Error != nil {
		err = resp.Error
	}
	if err != nil {
		return nil, s.kuboError(ctx, "get "+hash, err)
	}
	return resp.Output, nil
}

// cat reads at most max bytes of a CID from kubo, in one attempt bounded by
// Config.FetchTimeout.
func (s *Service) cat(ctx context.Context, hash string, max int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.FetchTimeout)
	defer cancel()
	resp, err := s.kubo.Request("cat", "/ipfs/"+hash).Option("length", max+1).Send(ctx)
	if err == nil && resp.Error != nil {
		err = resp.Error
	}
	if err != nil {
		return nil, s.kuboError(ctx, "cat "+hash, err)
	}
	defer resp.Cancel()
	b, err := io.ReadAll(io.LimitReader(resp.Output, max+1))
	if err != nil {
		return nil, s.kuboError(ctx, "cat "+hash, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("cat %s: more than %d bytes: %w", hash, max, ErrTooLarge)
	}
	return b, nil
}

// kuboError classifies an error of a kubo call.
func (s *Service) kuboError(ctx context.Context, op string, err error) error {
	msg := err.Error()
	var rerr *rpc.Error
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("kubo %s: %w: %w", op, ErrUnavailable, context.Cause(ctx))
	case errors.As(err, &rerr) && strings.Contains(msg, "is a directory"):
		return fmt.Errorf("kubo %s: %w", op, ErrIsDirectory)
	case strings.Contains(msg, "not found") || strings.Contains(msg, "no link named"):
		return fmt.Errorf("kubo %s: %s: %w", op, msg, ErrNotFound)
	default:
		// Connection refused, a daemon error, a cut stream: kubo is the
		// problem, not the content; callers retry.
		return fmt.Errorf("kubo %s: %w: %w", op, ErrUnavailable, err)
	}
}

// fromPeers asks every peer, in random order, for hash and returns the
// first answer that verifies. If no peer has it: ErrNotFound, or
// ErrHashMismatch when at least one peer served wrong bytes (and none the
// right ones).
func (s *Service) fromPeers(ctx context.Context, hash string, kind Kind, version int, max int64) ([]byte, error) {
	if s.peers == nil {
		return nil, fmt.Errorf("get %s: not in the local store and no peers: %w", hash, ErrNotFound)
	}
	if kind == KindIPFS && s.kubo == nil {
		return nil, fmt.Errorf("get %s: %s: %w", hash, kuboNotConfigured, ErrUnavailable)
	}
	peers, err := s.peers.Peers(ctx)
	if err != nil {
		return nil, fmt.Errorf("get %s: list peers: %w: %w", hash, ErrUnavailable, err)
	}
	rand.Shuffle(len(peers), func(i, j int) { peers[i], peers[j] = peers[j], peers[i] })
	var errs []error
	var mismatch, tooLarge error
	for _, peer := range peers {
		b, err := s.fromPeer(ctx, peer, hash, max)
		if err == nil {
			err = s.verify(ctx, hash, kind, version, b)
			if err == nil {
				return b, nil
			}
		}
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("get %s: %w", hash, ctx.Err())
		case errors.Is(err, ErrHashMismatch):
			mismatch = fmt.Errorf("get %s from %s: %w", hash, peer, err)
			s.log.Warn("peer served content that does not match its hash", "peer", peer, "hash", hash)
		case errors.Is(err, ErrTooLarge):
			tooLarge = fmt.Errorf("get %s from %s: %w", hash, peer, err)
		default:
			errs = append(errs, err)
		}
	}
	if mismatch != nil {
		return nil, mismatch
	}
	if tooLarge != nil {
		return nil, tooLarge
	}
	return nil, fmt.Errorf("get %s: no peer of %d has it: %w", hash, len(peers), errors.Join(append([]error{ErrNotFound}, errs...)...))
}

// fromPeer fetches /api/v0/storage/{hash} from one peer: a JSON envelope
// with the content in base64 (with newlines, as Python's encodebytes
// writes it).
func (s *Service) fromPeer(ctx context.Context, peer, hash string, max int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.FetchTimeout)
	defer cancel()
	u := strings.TrimRight(peer, "/") + "/api/v0/storage/" + hash
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%s%s: %w", defaultPeerErrorPrefix, peer, err)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s%s: %w", defaultPeerErrorPrefix, peer, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusRequestEntityTooLarge {
		return nil, fmt.Errorf("%s%s: %w", defaultPeerErrorPrefix, peer, ErrTooLarge)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s%s: HTTP %d", defaultPeerErrorPrefix, peer, resp.StatusCode)
	}
	// base64 is 4/3 of the bytes plus a newline every 76 characters.
	encMax := (max+2)/3*4 + (max/57 + 1) + peerResponseOverhead
	body, err := io.ReadAll(io.LimitReader(resp.Body, encMax+1))
	if err != nil {
		return nil, fmt.Errorf("%s%s: %w", defaultPeerErrorPrefix, peer, err)
	}
	if int64(len(body)) > encMax {
		return nil, fmt.Errorf("%s%s: more than %d bytes: %w", defaultPeerErrorPrefix, peer, max, ErrTooLarge)
	}
	var env struct {
		Status  string `json:"status"`
		Content string `json:"content"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%s%s: bad answer: %w", defaultPeerErrorPrefix, peer, err)
	}
	if env.Status != "success" {
		return nil, fmt.Errorf("%s%s: status %q", defaultPeerErrorPrefix, peer, env.Status)
	}
	b, err := base64.StdEncoding.DecodeString(env.Content) // ignores \n and \r
	if err != nil {
		return nil, fmt.Errorf("%s%s: bad base64: %w", defaultPeerErrorPrefix, peer, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s%s: %d bytes, limit %d: %w", defaultPeerErrorPrefix, peer, len(b), max, ErrTooLarge)
	}
	return b, nil
}

// verify checks bytes received from the network against their hash:
// sha256, or for a CID a hash-only add to kubo with the CID's version.
func (s *Service) verify(ctx context.Context, hash string, kind Kind, version int, b []byte) error {
	if kind == KindStorage {
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != hash {
			return fmt.Errorf("sha256 is %x: %w", sum, ErrHashMismatch)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StatTimeout)
	defer cancel()
	got, err := s.Add(ctx, bytes.NewReader(b), AddOptions{CIDVersion: version, OnlyHash: true})
	if err != nil {
		return err
	}
	if !sameCID(got, hash) {
		return fmt.Errorf("bytes hash to %s: %w", got, ErrHashMismatch)
	}
	return nil
}

// IsPinned reports whether kubo pins a CID (directly or recursively).
func (s *Service) IsPinned(ctx context.Context, hash string) (bool, error) {
	if _, _, err := ParseHash(hash); err != nil {
		return false, err
	}
	if s.kubo == nil {
		return false, fmt.Errorf("pin ls %s: %s: %w", hash, kuboNotConfigured, ErrUnavailable)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StatTimeout)
	defer cancel()
	err := s.kubo.Request("pin/ls", "/ipfs/"+hash).Option("type", "recursive").Exec(ctx, nil)
	if err == nil {
		return true, nil
	}
	if strings.Contains(err.Error(), "not pinned") {
		return false, nil
	}
	return false, s.kuboError(ctx, "pin ls "+hash, err)
}

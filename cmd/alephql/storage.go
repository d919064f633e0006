package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ipfs"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/filegc"
	"github.com/alephql/alephql/rest/storage"
)

// storageFlags are the settings of the content service, the storage
// routes and the garbage collector.
type storageFlags struct {
	ipfsAPI   string
	gcPeriod  time.Duration
	grace     time.Duration
	maxUpload int64
}

func (f *storageFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.ipfsAPI, "ipfs-api", "", "kubo RPC API, http://host:port or a multiaddr; empty: no IPFS, storage content only (env ALEPHQL_IPFS_API)")
	fs.DurationVar(&f.gcPeriod, "storage-gc-period", filegc.DefaultPeriod, "period of the garbage collector of unpinned files (env ALEPHQL_STORAGE_GC_PERIOD)")
	fs.DurationVar(&f.grace, "storage-grace-period", storage.DefaultGracePeriod, "how long an unauthenticated upload is kept without a STORE message (env ALEPHQL_STORAGE_GRACE_PERIOD)")
	fs.Int64Var(&f.maxUpload, "storage-max-unauthenticated-upload", storage.DefaultMaxUnauthenticated, "largest upload accepted without a STORE message, in bytes (env ALEPHQL_STORAGE_MAX_UNAUTHENTICATED_UPLOAD)")
}

// storageNode is the wired storage side of the node.
type storageNode struct {
	Content *ipfs.Service
	// Routes are the storage routes; signed uploads answer 501 until
	// acceptSigned wires the processor.
	Routes  map[string]http.Handler
	GC      *filegc.Collector
	handler *storage.Handler
}

// acceptSigned rebuilds Routes so that uploads with a signed STORE message
// are verified and submitted to p.
func (s *storageNode) acceptSigned(p *processor.Processor, client *ent.Client) {
	s.acceptSignedPublishing(p, client, nil)
}

// acceptSignedPublishing is acceptSigned with every message taken in
// broadcast through publish (nil: none).
func (s *storageNode) acceptSignedPublishing(p *processor.Processor, client *ent.Client, publish func(context.Context, []byte)) {
	s.Routes = s.handler.WithSubmitter(storeSubmitter{p: p, client: client, publish: publish}).Routes()
}

// newStorage builds the content service (files under DATA_DIR/files), the
// storage routes and the garbage collector.
func newStorage(f storageFlags, dataDir string, client *ent.Client, log *slog.Logger) (*storageNode, error) {
	return newStorageWithPeers(f, dataDir, client, nil, log)
}

// newStorageWithPeers is newStorage with the nodes whose
// /api/v0/storage/{hash} serves content (nil: none).
func newStorageWithPeers(f storageFlags, dataDir string, client *ent.Client, peers ipfs.PeerLister, log *slog.Logger) (*storageNode, error) {
	svc, err := ipfs.New(ipfs.Config{Dir: filepath.Join(dataDir, "files"), API: f.ipfsAPI}, peers, log)
	if err != nil {
		return nil, usageError{fmt.Errorf("--ipfs-api (ALEPHQL_IPFS_API) / --data-dir: %w", err)}
	}
	h, err := storage.New(storage.Config{GracePeriod: f.grace, MaxUnauthenticatedUpload: f.maxUpload},
		contentAdapter{svc}, storage.EntFiles{Client: client}, log)
	if err != nil {
		return nil, usageError{fmt.Errorf("--storage-*: %w", err)}
	}
	gc, err := filegc.New(filegc.Config{Period: f.gcPeriod}, client, svc, log)
	if err != nil {
		return nil, usageError{fmt.Errorf("--storage-gc-period: %w", err)}
	}
	return &storageNode{Content: svc, Routes: h.Routes(), GC: gc, handler: h}, nil
}

// contentAdapter gives the storage routes the content service, with its
// errors mapped onto the routes' sentinels.
type contentAdapter struct{ s *ipfs.Service }

func routeErr(err error) error {
	if err == nil {
		return nil
	}
	var kind error
	switch {
	case errors.Is(err, ipfs.ErrNotFound):
		kind = storage.ErrNotFound
	case errors.Is(err, ipfs.ErrTooLarge):
		kind = storage.ErrTooLarge
	case errors.Is(err, ipfs.ErrIsDirectory):
		kind = storage.ErrIsDirectory
	case errors.Is(err, ipfs.ErrInvalidHash), errors.Is(err, ipfs.ErrInvalidJSON), errors.Is(err, ipfs.ErrInvalidCAR):
		kind = storage.ErrInvalid
	case errors.Is(err, ipfs.ErrUnavailable), errors.Is(err, ipfs.ErrHashMismatch):
		kind = storage.ErrUnavailable
	default:
		return err
	}
	return fmt.Errorf("%w: %w", kind, err)
}

func (a contentAdapter) Open(ctx context.Context, hash string) (io.ReadCloser, int64, error) {
	rc, n, err := a.s.Open(ctx, hash)
	return rc, n, routeErr(err)
}

func (a contentAdapter) OpenArchive(ctx context.Context, hash string) (io.ReadCloser, error) {
	rc, err := a.s.OpenArchive(ctx, hash)
	return rc, routeErr(err)
}

func (a contentAdapter) Get(ctx context.Context, hash string, max int64) ([]byte, error) {
	b, err := a.s.Get(ctx, hash, max)
	return b, routeErr(err)
}

func (a contentAdapter) AddStorage(ctx context.Context, r io.Reader, max int64) (string, int64, error) {
	h, n, err := a.s.AddStorage(ctx, r, max)
	return h, n, routeErr(err)
}

func (a contentAdapter) AddJSON(ctx context.Context, doc []byte, toIPFS bool) (string, int64, error) {
	if toIPFS && !a.s.KuboConfigured() {
		return "", 0, storage.ErrDisabled
	}
	kind := ipfs.KindStorage
	if toIPFS {
		kind = ipfs.KindIPFS
	}
	h, n, err := a.s.AddJSON(ctx, doc, kind)
	return h, n, routeErr(err)
}

func (a contentAdapter) ImportCAR(ctx context.Context, r io.Reader) (string, error) {
	if !a.s.KuboConfigured() {
		return "", storage.ErrDisabled
	}
	root, err := a.s.ImportCAR(ctx, r)
	return root, routeErr(err)
}

func (a contentAdapter) AddIPFS(ctx context.Context, r io.Reader) (string, error) {
	if !a.s.KuboConfigured() {
		return "", storage.ErrDisabled
	}
	cid, err := a.s.Add(ctx, r, ipfs.AddOptions{Pin: true})
	return cid, routeErr(err)
}

// Interface guards
var (
	_ storage.Content = contentAdapter{}
	_ filegc.Deleter  = (*ipfs.Service)(nil)
)

package storage

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/alephql/alephql/database"
)

// Content is the content service the routes use (implemented by an adapter
// over *ipfs.Service in cmd). Errors wrap this package's sentinels.
type Content interface {
	// Open streams a file's bytes and returns its exact size.
	Open(ctx context.Context, hash string) (io.ReadCloser, int64, error)
	// OpenArchive streams a directory as a tar archive.
	OpenArchive(ctx context.Context, hash string) (io.ReadCloser, error)
	// Get returns at most max bytes of a file.
	Get(ctx context.Context, hash string, max int64) ([]byte, error)
	// AddStorage stores at most max bytes under their sha256.
	AddStorage(ctx context.Context, r io.Reader, max int64) (hash string, size int64, err error)
	// AddJSON stores the canonical form of a JSON document under its
	// sha256 (ipfs false) or its CIDv0 (ipfs true).
	AddJSON(ctx context.Context, doc []byte, ipfs bool) (hash string, size int64, err error)
	// AddIPFS adds a file to kubo (CIDv0, pinned).
	AddIPFS(ctx context.Context, r io.Reader) (cid string, err error)
	// ImportCAR imports a CARv1 archive with one root into kubo (root
	// pinned) and returns the root CID; ErrInvalid when kubo refuses it.
	ImportCAR(ctx context.Context, r io.Reader) (root string, err error)
}

// Defaults of Config (the reference node's settings).
const (
	DefaultMaxFileSize          = 100 << 20 // storage.max_file_size
	DefaultMaxUnauthenticated   = 25 << 20  // *.max_unauthenticated_upload_file_size
	DefaultMaxIPFSFileSize      = 1 << 30   // ipfs.max_upload_file_size
	DefaultMaxCARSize           = 4 << 30   // ipfs.max_upload_car_size
	DefaultGracePeriod          = 24 * time.Hour
	DefaultSyncTimeout          = 30 * time.Second
	multipartOverhead           = 64 << 10
	contentTypeOctetStream      = "application/octet-stream"
	contentTypeTar              = "application/x-tar"
	signedUploadsNotImplemented = "this node does not take signed uploads; upload without metadata, then send the STORE message to /api/v0/messages"
)

// Config configures the routes.
type Config struct {
	// MaxFileSize caps GET /api/v0/storage/{hash} (413 above). Default
	// DefaultMaxFileSize.
	MaxFileSize int64
	// MaxRawSize caps GET /api/v0/storage/raw/{hash} (413 above); 0, the
	// default, streams any size, as the reference node does.
	MaxRawSize int64
	// MaxUnauthenticatedUpload caps uploads without a STORE message (413
	// above). Default DefaultMaxUnauthenticated.
	MaxUnauthenticatedUpload int64
	// MaxIPFSFileSize caps ipfs/add_file uploads with a signed STORE
	// message (413 above). Default DefaultMaxIPFSFileSize. Signed
	// storage/add_file uploads are capped by MaxFileSize.
	MaxIPFSFileSize int64
	// MaxCARSize caps ipfs/add_car archives (413 above). Default
	// DefaultMaxCARSize.
	MaxCARSize int64
	// GracePeriod keeps an upload that long without a message pin (every
	// upload gets it, signed or not). Default DefaultGracePeriod.
	GracePeriod time.Duration
	// SyncTimeout bounds how long a signed upload with "sync": true waits
	// for its message to be processed. Default DefaultSyncTimeout.
	SyncTimeout time.Duration
	// Now returns the current time (tests); default time.Now.
	Now func() time.Time
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	if c.MaxFileSize < 0 || c.MaxRawSize < 0 || c.MaxUnauthenticatedUpload < 0 || c.MaxIPFSFileSize < 0 || c.MaxCARSize < 0 ||
		c.GracePeriod < 0 || c.SyncTimeout < 0 {
		return errors.New("storage routes: limits, grace period and sync timeout must not be negative")
	}
	return nil
}

// Handler serves the routes.
type Handler struct {
	cfg       Config
	content   Content
	files     Files
	submitter Submitter // nil: signed uploads answer 501
	log       *slog.Logger
}

// New returns the routes' handler.
func New(cfg Config, content Content, files Files, log *slog.Logger) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxFileSize == 0 {
		cfg.MaxFileSize = DefaultMaxFileSize
	}
	if cfg.MaxUnauthenticatedUpload == 0 {
		cfg.MaxUnauthenticatedUpload = DefaultMaxUnauthenticated
	}
	if cfg.MaxIPFSFileSize == 0 {
		cfg.MaxIPFSFileSize = DefaultMaxIPFSFileSize
	}
	if cfg.MaxCARSize == 0 {
		cfg.MaxCARSize = DefaultMaxCARSize
	}
	if cfg.GracePeriod == 0 {
		cfg.GracePeriod = DefaultGracePeriod
	}
	if cfg.SyncTimeout == 0 {
		cfg.SyncTimeout = DefaultSyncTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Handler{cfg: cfg, content: content, files: files, log: log.With("component", "storage-api")}, nil
}

// Routes returns the handlers by ServeMux pattern, for server.Routes.Extra.
// GET patterns also answer HEAD.
func (h *Handler) Routes() map[string]http.Handler {
	return map[string]http.Handler{
		"GET /api/v0/storage/raw/{hash}": http.HandlerFunc(h.raw),
		"GET /api/v0/storage/{hash}":     http.HandlerFunc(h.base64),
		"POST /api/v0/storage/add_json":  h.addJSON(false),
		"POST /api/v0/ipfs/add_json":     h.addJSON(true),
		"POST /api/v0/storage/add_file":  http.HandlerFunc(h.addStorageFile),
		"POST /api/v0/ipfs/add_file":     http.HandlerFunc(h.addIPFSFile),
		"POST /api/v0/ipfs/add_car":      http.HandlerFunc(h.addCAR),
		"POST /api/v0/storage/add_car":   http.HandlerFunc(h.addCAR),
	}
}

// engineOf infers the engine of a hash as pyaleph's item_type_from_hash
// does (leniently).
func engineOf(hash string) (string, bool) {
	switch {
	case len(hash) == 64:
		return "storage", true
	case strings.HasPrefix(hash, "Qm") && len(hash) >= 44 && len(hash) <= 46:
		return "ipfs", true
	case strings.HasPrefix(hash, "bafy") && len(hash) == 59:
		return "ipfs", true
	}
	return "", false
}

// fail answers an error with the status its kind calls for.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	var maxBytes *http.MaxBytesError
	switch {
	case errors.Is(err, ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrTooLarge), errors.As(err, &maxBytes):
		status = http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrDisabled):
		status = http.StatusForbidden
	case errors.Is(err, ErrUnavailable):
		status = http.StatusServiceUnavailable
	case errors.Is(err, ErrInvalid):
		status = http.StatusUnprocessableEntity
	case errors.Is(err, ErrForbidden):
		status = http.StatusForbidden
	case errors.Is(err, errNoSubmitter):
		status = http.StatusNotImplemented
	case database.IsFull(err):
		// Nothing was stored; the same upload succeeds once space is
		// freed.
		h.log.Error("storage route: disk full", "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "1")
		http.Error(w, "the node's disk is full: retry later", http.StatusInsufficientStorage)
		return
	case database.IsUnavailable(err):
		w.Header().Set("Retry-After", "1")
		http.Error(w, "the database is unavailable: retry later", http.StatusServiceUnavailable)
		return
	}
	if status == http.StatusInternalServerError {
		h.log.Error("storage route failed", "path", r.URL.Path, "err", err)
		http.Error(w, "internal error", status)
		return
	}
	http.Error(w, err.Error(), status)
}

func (h *Handler) raw(w http.ResponseWriter, r *http.Request) {
	hash := r.PathValue("hash")
	if _, ok := engineOf(hash); !ok {
		http.Error(w, "Invalid hash", http.StatusBadRequest)
		return
	}
	info, err := h.files.File(r.Context(), hash)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if h.cfg.MaxRawSize > 0 && info.Size > h.cfg.MaxRawSize {
		h.fail(w, r, fmt.Errorf("%s is %d bytes, limit %d: %w", hash, info.Size, h.cfg.MaxRawSize, ErrTooLarge))
		return
	}
	hdr := w.Header()
	hdr.Set("Accept-Ranges", "none")
	if info.Dir {
		// No Content-Length: the tar archive's size is not the recorded
		// cumulative size.
		hdr.Set("Content-Type", contentTypeTar)
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusOK)
			return
		}
		rc, err := h.content.OpenArchive(r.Context(), hash)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		defer rc.Close()
		w.WriteHeader(http.StatusOK)
		_, _ = io.Copy(w, rc)
		return
	}
	hdr.Set("Content-Type", contentTypeOctetStream)
	if r.Method == http.MethodHead {
		hdr.Set("Content-Length", strconv.FormatInt(info.Size, 10))
		w.WriteHeader(http.StatusOK)
		return
	}
	rc, size, err := h.content.Open(r.Context(), hash)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer rc.Close()
	hdr.Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	if n, err := io.Copy(w, rc); err != nil && r.Context().Err() == nil {
		h.log.Warn("raw download cut", "hash", hash, "sent", n, "size", size, "err", err)
	}
}

// encodeBytes is Python's base64.encodebytes: lines of 76 characters, each
// ending with a newline.
func encodeBytes(b []byte) string {
	enc := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	out.Grow(len(enc) + len(enc)/76 + 1)
	for len(enc) > 76 {
		out.WriteString(enc[:76])
		out.WriteByte('\n')
		enc = enc[76:]
	}
	if enc != "" {
		out.WriteString(enc)
		out.WriteByte('\n')
	}
	return out.String()
}

func (h *Handler) base64(w http.ResponseWriter, r *http.Request) {
	hash := r.PathValue("hash")
	engine, ok := engineOf(hash)
	if !ok {
		http.Error(w, "Invalid hash provided", http.StatusBadRequest)
		return
	}
	info, err := h.files.File(r.Context(), hash)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if info.Size > h.cfg.MaxFileSize {
		h.fail(w, r, fmt.Errorf("%s is %d bytes, limit %d: %w", hash, info.Size, h.cfg.MaxFileSize, ErrTooLarge))
		return
	}
	b, err := h.content.Get(r.Context(), hash, h.cfg.MaxFileSize)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// Field order and ", " separators as aiohttp's json_response writes them.
	writeJSON(w, http.StatusOK, [][2]any{{"status", "success"}, {"hash", hash}, {"engine", engine}, {"content", encodeBytes(b)}})
}

// writeJSON writes an object with its fields in order, as Python's
// json.dumps does by default (", " and ": ").
func writeJSON(w http.ResponseWriter, status int, fields [][2]any) {
	var b strings.Builder
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteString(", ")
		}
		k, _ := json.Marshal(f[0])
		v, _ := json.Marshal(f[1])
		b.Write(k)
		b.WriteString(": ")
		b.Write(v)
	}
	b.WriteByte('}')
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, b.String())
}

func (h *Handler) record(ctx context.Context, hash string, size int64) error {
	now := h.cfg.Now().UTC()
	return h.files.RecordUpload(ctx, hash, size, now, now.Add(h.cfg.GracePeriod))
}

func (h *Handler) addJSON(ipfs bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxUnauthenticatedUpload))
		if err != nil {
			h.fail(w, r, err)
			return
		}
		hash, size, err := h.content.AddJSON(r.Context(), body, ipfs)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if err := h.record(r.Context(), hash, size); err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, [][2]any{{"status", "success"}, {"hash", hash}})
	})
}

// upload is one file received by an upload route.
type upload struct {
	hash, name  string
	size        int64
	hasMetadata bool
	md          metadata // the signed upload's metadata, when hasMetadata
	ref         StoreRef // what its message stores
}

// storeFunc stores at most max bytes of an uploaded file.
type storeFunc func(r io.Reader, max int64) (hash string, size int64, err error)

// receive reads a multipart upload (or, when raw is allowed, a raw body)
// and hands the "file" part to store, with the unauthenticated limit, or
// signedMax when a valid "metadata" field came before the file. A file
// sent before its metadata keeps the unauthenticated limit (the field
// order of the reference clients puts metadata first).
func (h *Handler) receive(w http.ResponseWriter, r *http.Request, raw bool, signedMax int64, store storeFunc) (upload, error) {
	var up upload
	limit := h.cfg.MaxUnauthenticatedUpload
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		if !raw {
			return up, fmt.Errorf("expected Content-Type: multipart/form-data: %w", ErrInvalid)
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit+1)
		hash, size, err := store(r.Body, limit)
		up.hash, up.size = hash, size
		return up, err
	}
	r.Body = http.MaxBytesReader(w, r.Body, max(limit, signedMax)+maxMetadataSize+multipartOverhead)
	mr, err := r.MultipartReader()
	if err != nil {
		return up, fmt.Errorf("multipart: %w: %w", ErrInvalid, err)
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return up, fmt.Errorf("multipart: %w: %w", ErrInvalid, err)
		}
		switch part.FormName() {
		case "file":
			if up.hash != "" {
				return up, fmt.Errorf("more than one file: %w", ErrInvalid)
			}
			up.name = part.FileName()
			if up.name == "" {
				up.name = "file"
			}
			fileMax := limit
			if up.hasMetadata {
				fileMax = signedMax
			}
			up.hash, up.size, err = store(part, fileMax)
			if err != nil {
				return up, err
			}
		case "metadata":
			if up.hasMetadata {
				return up, fmt.Errorf("more than one metadata field: %w", ErrInvalid)
			}
			up.hasMetadata = true
			if up.md, up.ref, err = h.readMetadata(part); err != nil {
				return up, err
			}
		}
	}
	if up.hash == "" {
		return up, fmt.Errorf("missing 'file' in multipart form: %w", ErrInvalid)
	}
	return up, nil
}

func (h *Handler) addStorageFile(w http.ResponseWriter, r *http.Request) {
	up, err := h.receive(w, r, true, h.cfg.MaxFileSize, func(body io.Reader, max int64) (string, int64, error) {
		return h.content.AddStorage(r.Context(), body, max)
	})
	h.finishUpload(w, r, up, err, "storage", [][2]any{{"status", "success"}, {"hash", up.hash}})
}

func (h *Handler) addIPFSFile(w http.ResponseWriter, r *http.Request) {
	up, err := h.receive(w, r, false, h.cfg.MaxIPFSFileSize, func(body io.Reader, max int64) (string, int64, error) {
		return addCounted(body, max, func(body io.Reader) (string, error) { return h.content.AddIPFS(r.Context(), body) })
	})
	h.finishUpload(w, r, up, err, "ipfs", [][2]any{{"status", "success"}, {"hash", up.hash}, {"name", up.name}, {"size", up.size}})
}

// addCAR serves POST /api/v0/ipfs/add_car (and /storage/add_car): a
// multipart "file" holding a CARv1 archive with one root, imported into
// kubo with dag/import (root pinned), and its mandatory "metadata", a
// signed STORE message of item_type ipfs whose item_hash is the root
// (422 otherwise; the size checked is not the archive's). The answer is
// add_file's: {"status":"success","hash":<root>,"name","size":<archive
// bytes>}; 503 when kubo is down, 413 over MaxCARSize.
func (h *Handler) addCAR(w http.ResponseWriter, r *http.Request) {
	up, err := h.receive(w, r, false, h.cfg.MaxCARSize, func(body io.Reader, max int64) (string, int64, error) {
		return addCounted(body, max, func(body io.Reader) (string, error) { return h.content.ImportCAR(r.Context(), body) })
	})
	if err == nil && !up.hasMetadata {
		// Imported and pinned already: recorded with a grace pin, so the
		// collector removes it.
		if rerr := h.record(r.Context(), up.hash, up.size); rerr != nil {
			h.fail(w, r, rerr)
			return
		}
		h.failJSON(w, fmt.Errorf("metadata with a signed STORE message is required: %w", ErrInvalid))
		return
	}
	up.ref.Size = nil // the message's size is the file's, not the archive's
	h.finishUpload(w, r, up, err, "ipfs", [][2]any{{"status", "success"}, {"hash", up.hash}, {"name", up.name}, {"size", up.size}})
}

// finishUpload records the stored file, submits the message of a signed
// upload and answers.
func (h *Handler) finishUpload(w http.ResponseWriter, r *http.Request, up upload, err error, engine string, answer [][2]any) {
	// Record every stored file, even one refused for its metadata: its
	// grace pin lets the garbage collector remove the bytes. A signed
	// upload gets it too (the reference node skips it), so that a message
	// rejected later leaves no orphan file; the message's own pin keeps
	// the file once the message is processed.
	if up.hash != "" {
		if rerr := h.record(r.Context(), up.hash, up.size); rerr != nil {
			h.fail(w, r, rerr)
			return
		}
	}
	status := http.StatusOK
	if err == nil && up.hasMetadata {
		status, err = h.submitSigned(r.Context(), up, engine)
	}
	if err != nil {
		if up.hasMetadata && (errors.Is(err, ErrInvalid) || errors.Is(err, ErrForbidden)) {
			h.failJSON(w, err)
			return
		}
		h.fail(w, r, err)
		return
	}
	writeJSON(w, status, answer)
}

// failJSON answers a refused signed upload with a JSON body:
// {"status": "error", "error": reason} (422, or 403 for a bad signature).
func (h *Handler) failJSON(w http.ResponseWriter, err error) {
	status := http.StatusUnprocessableEntity
	if errors.Is(err, ErrForbidden) {
		status = http.StatusForbidden
	}
	writeJSON(w, status, [][2]any{{"status", "error"}, {"error", err.Error()}})
}

// addCounted streams body into add (kubo: add or dag/import), at most max
// bytes, and returns add's hash and the bytes read; past max, ErrTooLarge
// whatever add answered.
func addCounted(body io.Reader, max int64, add func(io.Reader) (string, error)) (string, int64, error) {
	counted := &limitedCounter{r: body, max: max}
	hash, err := add(counted)
	if counted.over {
		return "", 0, fmt.Errorf("more than %d bytes: %w", counted.max, ErrTooLarge)
	}
	return hash, counted.n, err
}

// limitedCounter counts bytes read and fails past max, so a streamed
// upload to kubo stops at the limit.
type limitedCounter struct {
	r    io.Reader
	max  int64
	n    int64
	over bool
}

func (c *limitedCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.max {
		c.over = true
		return n, fmt.Errorf("more than %d bytes: %w", c.max, ErrTooLarge)
	}
	return n, err
}

// Package rest serves the reference node's (pyaleph's) REST API over the
// read layer (package read): messages, posts, aggregates, message
// submission. Each route is a func(w, r) error registered in routes(); it
// parses its parameters with a params value (422 naming the parameter on a
// bad one), reads through read.Reader, and writes JSON with writeJSON.
// Errors are *Error values carrying the HTTP status; anything else is a
// 500 with the detail logged, never shown.
//
// To add a route: write a method func (a *API) x(w http.ResponseWriter,
// r *http.Request) error in a new file and add its pattern to routes().
// GET routes answer HEAD too; every route gets CORS and the JSON error
// body; lists page with pageParams (page mode, capped at MaxPageSize) or
// a keyset cursor.
package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/alephql/alephql/cache"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/live"
	"github.com/alephql/alephql/read"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// Defaults of Config.
const (
	DefaultMaxPageSize     = 200
	DefaultPageSize        = 20
	DefaultMaxBodyBytes    = 1 << 20
	DefaultSyncTimeout     = 10 * time.Second
	DefaultMaxFilterValues = 200
	DefaultMaxFeeds        = 10000
)

// Config configures the API.
type Config struct {
	// MaxPageSize caps the pagination parameter of every list (and
	// pagination=0, which the reference node reads as "unlimited").
	// Default DefaultMaxPageSize.
	MaxPageSize int
	// MaxFilterValues caps the values of one list parameter (422 above).
	// Default DefaultMaxFilterValues.
	MaxFilterValues int
	// MaxBodyBytes caps request bodies (413 above). Default 1 MiB.
	MaxBodyBytes int64
	// SyncTimeout bounds how long POST /api/v0/messages with "sync": true
	// waits for the message to be processed (then 202). Default 10 s: well
	// under the server's request timeout.
	SyncTimeout time.Duration
	// Node describes the node for info, version, storage limits and
	// admin routes (see node.go).
	Node NodeInfo
	// CacheMaxBytes bounds the answers stored in the cache (see
	// WithCache). Default DefaultCacheMaxBytes.
	CacheMaxBytes int
	// MaxFeeds caps open /api/ws0/messages websockets; one more is closed
	// with 1013 "Too many connections", as the reference node does.
	// Default DefaultMaxFeeds.
	MaxFeeds int
}

// Validate fills defaults and reports invalid settings.
func (c *Config) Validate() error {
	if c.MaxPageSize == 0 {
		c.MaxPageSize = DefaultMaxPageSize
	}
	if c.MaxFilterValues == 0 {
		c.MaxFilterValues = DefaultMaxFilterValues
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.SyncTimeout == 0 {
		c.SyncTimeout = DefaultSyncTimeout
	}
	c.Node.defaults()
	if c.MaxFeeds == 0 {
		c.MaxFeeds = DefaultMaxFeeds
	}
	if c.CacheMaxBytes == 0 {
		c.CacheMaxBytes = DefaultCacheMaxBytes
	}
	if c.CacheMaxBytes < 1 || c.MaxPageSize < 1 || c.MaxFilterValues < 1 || c.MaxBodyBytes < 1 || c.SyncTimeout < 0 || c.MaxFeeds < 1 {
		return errors.New("rest: page size, filter values, body size and sync timeout must be positive")
	}
	return nil
}

// Submitter takes a wire message into the processing pipeline (the same
// intake as GraphQL's submitMessage; implemented in cmd over the
// processor). A message refused at intake is an error wrapping
// ErrInvalidMessage.
type Submitter interface {
	Submit(ctx context.Context, raw json.RawMessage) (itemHash string, err error)
}

// SubmitterFunc adapts a function to Submitter.
type SubmitterFunc func(ctx context.Context, raw json.RawMessage) (string, error)

// Submit calls f.
func (f SubmitterFunc) Submit(ctx context.Context, raw json.RawMessage) (string, error) {
	return f(ctx, raw)
}

// ErrInvalidMessage marks a submission refused by validation (422).
var ErrInvalidMessage = errors.New("invalid message")

// API is the REST API's handler set.
type API struct {
	cfg       Config
	reader    *read.Reader
	submitter Submitter         // nil: submissions answer 503
	events    events.Subscriber // nil: sync submissions poll the status
	pricer    Pricer            // nil: estimates and recalculation answer 503
	adminKey  *secp256k1.PublicKey
	docState
	metrics *Metrics     // nil: none
	cache   *cache.Store // nil: no answer cache
	log     *slog.Logger
	feeds   atomic.Int64
	hub     *live.Hub // nil: the websocket feed answers 503
}

// New returns the API over reader. submitter and sub may be nil.
func New(cfg Config, reader *read.Reader, submitter Submitter, sub events.Subscriber, log *slog.Logger, opts ...Option) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if reader == nil {
		return nil, errors.New("rest: nil reader")
	}
	key, err := parseAdminKey(cfg.Node.AdminPublicKey)
	if err != nil {
		return nil, fmt.Errorf("rest: admin public key: %w", err)
	}
	a := &API{cfg: cfg, reader: reader, submitter: submitter, events: sub, adminKey: key, log: log.With("component", "rest")}
	for _, o := range opts {
		o(a)
	}
	return a, nil
}

// Option adds an optional dependency to the API.
type Option func(*API)

// WithPricer lets the API estimate prices and recalculate costs.
func WithPricer(p Pricer) Option { return func(a *API) { a.pricer = p } }

// WithMetrics makes the API count into m.
func WithMetrics(m *Metrics) Option { return func(a *API) { a.metrics = m } }

// routes lists the handlers by ServeMux pattern. ServeMux wildcards are
// whole segments: "{n}.json" paths are matched as "{n}" and the handler
// strips the suffix (pathJSON).
func (a *API) routes() map[string]func(http.ResponseWriter, *http.Request) error {
	return map[string]func(http.ResponseWriter, *http.Request) error{
		"GET /api/ws0/messages":             a.messagesWS,
		"GET /api/v0/messages.json":         a.cachedRoute(messageListDeps, a.messageList),
		"GET /api/v0/messages/{hash}":       a.cachedRoute(messageDeps, a.message),
		"GET /api/v0/messages/{hash}/{sub}": a.cachedRoute(messageSubDeps, a.messageSub),
		"POST /api/v0/messages":             a.submit,
		"POST /api/v0/ipfs/pubsub/pub":      a.pubsub,
		"POST /api/v0/p2p/pubsub/pub":       a.pubsub,
		"GET /api/v0/posts.json":            a.cachedRoute(postListDeps, a.postsV0),
		"GET /api/v0/posts/page/{page}":     a.cachedRoute(postListDeps, a.postsV0),
		"GET /api/v1/posts.json":            a.cachedRoute(postListDeps, a.postsV1),
		"GET /api/v1/posts/page/{page}":     a.cachedRoute(postListDeps, a.postsV1),
		"GET /api/v0/aggregates/{address}":  a.cachedRoute(addressAggregatesDeps, a.addressAggregates),
		"GET /api/v0/aggregates":            a.aggregateList,
		"GET /api/v0/aggregates.json":       a.aggregateList,

		"GET /api/v0/addresses/{address}/balance":                a.accountBalance,
		"GET /api/v0/addresses/{address}/files":                  a.accountFiles,
		"GET /api/v0/addresses/{address}/post_types":             a.accountPostTypes,
		"GET /api/v0/addresses/{address}/channels":               a.accountChannels,
		"GET /api/v0/addresses/{address}/credit_history":         a.creditHistory,
		"GET /api/v0/addresses/{address}/credit_history/summary": a.creditSummary,
		"GET /api/v0/addresses/stats.json":                       a.statsV0,
		"GET /api/v1/addresses/stats.json":                       a.statsV1,
		"GET /api/v0/balances":                                   a.balances,
		"GET /api/v0/credit_balances":                            a.creditBalances,
		"GET /api/v0/authorizations/granted/{address}":           a.authorizations(false),
		"GET /api/v0/authorizations/received/{address}":          a.authorizations(true),
		"GET /api/v0/channels/list.json":                         a.channelList,
		"GET /api/v0/programs/on/message":                        a.programsOnMessage,
		"GET /api/v0/storage/by-message-hash/{hash}":             a.fileByMessage,
		"GET /api/v0/storage/by-ref/{ref}":                       a.fileByRef,
		"GET /api/v0/storage/by-ref/{address}/{ref}":             a.fileByRef,
		"GET /api/v0/storage/metadata/{hash}":                    a.fileMetadata,
		"GET /api/v0/storage/count/{hash}":                       a.filePinCount,
		"GET /api/v0/storage/limits.json":                        a.storageLimits,
		"GET /api/v0/info/public.json":                           a.publicInfo,
		"GET /api/v0/version":                                    a.version,
		"GET /version":                                           a.version,
		"GET /api/v0/core/{id}/metrics":                          a.nodeMetrics("ccn"),
		"GET /api/v0/compute/{id}/metrics":                       a.nodeMetrics("crn"),
		"GET /metrics.json":                                      a.metricsJSON,
		"GET /api/openapi.json":                                  a.openAPI,
		"GET /api/docs":                                          a.docs,
		"GET /api/docs/{asset}":                                  a.docs,
		"GET /api/v0/costs":                                      a.costs,
		"GET /api/v0/price/{hash}":                               a.messagePrice,
		"POST /api/v0/price/estimate":                            a.estimate(false),
		"POST /api/v0/price/estimate/instance":                   a.estimate(true),
		"POST /api/v0/price/recalculate":                         a.recalculate,
		"POST /api/v0/price/{hash}/recalculate":                  a.recalculate,
	}
}

// Routes returns the handlers by ServeMux pattern, for server.Routes.Extra,
// each with CORS, the body limit and JSON errors; GET patterns answer HEAD
// too. It includes the CORS preflight for every /api/ path.
func (a *API) Routes() map[string]http.Handler {
	out := map[string]http.Handler{}
	for p, h := range a.routes() {
		out[p] = CORS(a.Handler(h))
	}
	out["OPTIONS /api/"] = CORS(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	return out
}

// Handler adapts a route function: body limit, HEAD answered like GET
// without a body, errors written as JSON.
func (a *API) Handler(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes)
		}
		if r.Method == http.MethodHead {
			w = headWriter{w}
		}
		if err := h(w, r); err != nil {
			a.fail(w, r, err)
		}
	})
}

// headWriter drops the body of a HEAD answer.
type headWriter struct{ http.ResponseWriter }

func (h headWriter) Write(b []byte) (int, error) { return len(b), nil }

// CORS allows every origin, method and header, as the reference node
// does, and exposes every header.
func CORS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Access-Control-Allow-Origin", "*")
		hdr.Set("Access-Control-Expose-Headers", "*")
		if r.Method == http.MethodOptions {
			hdr.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS")
			if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
				hdr.Set("Access-Control-Allow-Headers", req)
			} else {
				hdr.Set("Access-Control-Allow-Headers", "*")
			}
			hdr.Set("Access-Control-Max-Age", "86400")
		}
		h.ServeHTTP(w, r)
	})
}

// messageSub dispatches /api/v0/messages/{hash}/{sub}: status, content,
// consumed_credits, and /messages/page/{n}.json (one pattern, since
// ServeMux cannot tell "page" from a hash).
func (a *API) messageSub(w http.ResponseWriter, r *http.Request) error {
	if r.PathValue("hash") == "page" {
		return a.messageList(w, r)
	}
	switch r.PathValue("sub") {
	case "status":
		return a.messageStatus(w, r)
	case "content":
		return a.messageContent(w, r)
	case "consumed_credits":
		return a.consumedCredits(w, r)
	}
	return errorf(http.StatusNotFound, "not found")
}

// pagePath is the page number of a /page/{n}.json path, "" if none.
func pagePath(r *http.Request) string {
	if s := r.PathValue("page"); s != "" {
		return strings.TrimSuffix(s, ".json")
	}
	if r.PathValue("hash") == "page" {
		return strings.TrimSuffix(r.PathValue("sub"), ".json")
	}
	return ""
}

// pathJSON returns a path value without its ".json" suffix.
func pathJSON(r *http.Request, name string) string {
	return strings.TrimSuffix(r.PathValue(name), ".json")
}

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return nil
}

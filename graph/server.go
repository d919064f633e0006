package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/alephql/alephql/wsconn"
)

// HandlerConfig configures the HTTP side of the API.
type HandlerConfig struct {
	Limits Limits
	// MaxBodyBytes bounds a request body. Default 1 MiB.
	MaxBodyBytes int64
	// RequestTimeout bounds a query or mutation (not a subscription).
	// Default 30 s.
	RequestTimeout time.Duration
	// KeepAlive is the websocket keep-alive interval: a ka message
	// (graphql-ws) or an unsolicited pong (graphql-transport-ws). Default
	// 15 s.
	KeepAlive time.Duration
	// InitTimeout is how long a websocket client has to send
	// connection_init before it is closed with 4408. Default 10 s.
	InitTimeout time.Duration
	// WriteTimeout bounds one websocket write: a client that stopped
	// reading (its socket buffers full) is cut off after it, with close
	// code WebsocketCloseSlowClient and a reason, instead of making the
	// node hold its events. Default 30 s.
	WriteTimeout time.Duration
	// OnSlowClient, if set, is called each time a websocket client is cut
	// off as too slow (for metrics).
	OnSlowClient func()
	// PersistedQueries, if set, is the only operations served (see
	// LoadPersistedQueries); automatic persisted queries register none.
	PersistedQueries map[string]string
	// Freshness, if set, adds extensions.freshness to every response.
	Freshness *Freshness
	// NoAnswerCache turns off the cache of whole feed answers (see
	// feedCache), which is on when the schema has a cache and a hub.
	NoAnswerCache bool
}

type handlerState struct {
	log    *slog.Logger
	detach *wsconn.Detacher // serves websockets apart from their requests
}

// NewHandler returns the /graphql HTTP handler: queries over GET and POST,
// subscriptions over websockets (graphql-transport-ws and the legacy
// graphql-ws) and server-sent events, with automatic persisted queries and
// the depth, complexity, body size and time limits.
func NewHandler(cfg HandlerConfig, schema graphql.ExecutableSchema, log *slog.Logger) http.Handler {
	if err := cfg.Limits.Validate(); err != nil {
		// Limits were validated by NewSchema already; defaults only here.
		log.Warn("graphql limits", "err", err)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 15 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	st := &handlerState{log: log.With("component", "graphql")}
	st.detach = &wsconn.Detacher{Log: st.log}

	srv := handler.New(schema)
	srv.AddTransport(transport.SSE{})
	srv.AddTransport(&wsTransport{keepAlive: cfg.KeepAlive, initTimeout: cfg.InitTimeout, readLimit: cfg.MaxBodyBytes, log: st.log,
		upgrader: wsconn.Upgrader{WriteTimeout: cfg.WriteTimeout, Log: st.log, OnSlow: cfg.OnSlowClient}})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(postTransport{}) // gqlgen's POST, answers written without a second JSON pass
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.Introspection{})
	if cfg.PersistedQueries != nil {
		srv.Use(persistedOnly{queries: cfg.PersistedQueries})
	} else {
		srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	}
	srv.Use(extension.FixedComplexityLimit(cfg.Limits.MaxComplexity))
	srv.Use(DepthLimit{Max: cfg.Limits.MaxDepth})
	if cfg.Freshness != nil {
		if ls, ok := schema.(loaderSchema); ok && ls.r.opts.Hub != nil {
			cfg.Freshness.followHub(ls.r.opts.Hub)
		}
		srv.Use(cfg.Freshness)
	}
	if ls, ok := schema.(loaderSchema); ok && !cfg.NoAnswerCache && ls.r.store != nil {
		srv.Use(newFeedCache(ls.r)) // inside Freshness: cached answers get fresh extensions
	}
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		h := next(ctx)
		if oc := graphql.GetOperationContext(ctx); oc == nil || oc.Operation == nil || oc.Operation.Operation == ast.Subscription {
			return h // for subscriptions nil ends the stream
		}
		// A query or mutation whose deadline passed gets no response from
		// the executor; answer the timeout instead of a bare null.
		return func(ctx context.Context) *graphql.Response {
			resp := h(ctx)
			if resp == nil && ctx.Err() != nil {
				return &graphql.Response{Errors: gqlerror.List{userError(CodeTimeout, "request timed out")}}
			}
			return resp
		}
	})
	srv.SetErrorPresenter(st.presentError)
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		st.log.ErrorContext(ctx, "graphql resolver panicked", "panic", p, "stack", string(debug.Stack()))
		return userError(CodeInternal, "internal error")
	})

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > cfg.MaxBodyBytes {
			writeError(w, http.StatusRequestEntityTooLarge, CodeRequestTooLarge,
				fmt.Sprintf("request body of %d bytes exceeds the limit of %d", r.ContentLength, cfg.MaxBodyBytes))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, cfg.MaxBodyBytes)
		if refuseTransport(w, r) {
			return
		}
		if r.Header.Get("Upgrade") != "" {
			st.detach.Serve(srv, w, r) // see wsconn.Detacher
			return
		} else if r.Header.Get("Accept") != "text/event-stream" {
			ctx, cancel := context.WithTimeout(r.Context(), cfg.RequestTimeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		srv.ServeHTTP(w, r)
	})
}

// writeError answers a request refused before GraphQL execution, in the
// GraphQL response shape with a code.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []any{map[string]any{"message": msg, "extensions": map[string]any{"code": code}}},
	})
}

// refuseTransport answers, with a code, the requests no transport takes:
// a POST whose body is not application/json (415) and methods other than
// GET, POST and OPTIONS (405). It reports whether it answered.
func refuseTransport(w http.ResponseWriter, r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodOptions:
		return false
	case http.MethodPost:
		if r.Header.Get("Upgrade") != "" {
			return false
		}
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err == nil && mt == "application/json" {
			return false
		}
		writeError(w, http.StatusUnsupportedMediaType, CodeUnsupportedMediaType,
			"a POST body must be application/json (a JSON object with query, variables and operationName)")
		return true
	}
	w.Header().Set("Allow", "GET, POST, OPTIONS")
	writeError(w, http.StatusMethodNotAllowed, CodeBadRequest, "method "+r.Method+" is not allowed: use GET or POST")
	return true
}

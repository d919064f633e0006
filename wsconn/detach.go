package wsconn

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
)

// refKey is the context key of the request's *Ref.
type refKey struct{}

// Ref lets code serving an upgrade request reach its websocket: the
// Detacher puts an empty one in the request's context, Accept fills it.
type Ref struct {
	mu       sync.Mutex
	conn     *Conn
	upgraded chan struct{} // closed once the connection is hijacked
	release  func()        // ends the connection's context
	handed   bool          // a transport took the connection over
}

// RefFrom returns the Ref in ctx, or nil.
func RefFrom(ctx context.Context) *Ref {
	ref, _ := ctx.Value(refKey{}).(*Ref)
	return ref
}

// upgradedTo records the accepted connection.
func (ref *Ref) upgradedTo(c *Conn) {
	ref.mu.Lock()
	ref.conn = c
	ref.mu.Unlock()
	if ref.upgraded != nil {
		close(ref.upgraded)
	}
}

// TakeOver tells the Detacher that the caller serves the connection past
// the handler's return (on a goroutine of its own), and returns the
// function that ends the connection's context, which the caller must
// call when the connection ends. It returns nil when the request is not
// served detached: the caller then serves the connection before
// returning.
func (ref *Ref) TakeOver() (release func()) {
	if ref == nil {
		return nil
	}
	ref.mu.Lock()
	defer ref.mu.Unlock()
	if ref.release == nil {
		return nil
	}
	ref.handed = true
	return ref.release
}

// CutOffSlowClient closes the websocket serving ctx's request with
// CloseSlowClient and SlowClientReason (a subscription that could not
// deliver its events in time). Over other transports (server-sent
// events) ending the stream is all there is to do: it does nothing.
func CutOffSlowClient(ctx context.Context) {
	ref := RefFrom(ctx)
	if ref == nil {
		return
	}
	ref.mu.Lock()
	c := ref.conn
	ref.mu.Unlock()
	if c != nil {
		_ = c.WriteClose(CloseSlowClient, SlowClientReason)
	}
}

// Detacher serves websocket upgrade requests apart from net/http's
// connection goroutine: once the connection is upgraded (hijacked) the
// handler returns, which releases that goroutine's stack, net/http's
// connection state and its 4 KiB read and write buffers (a Conn has no
// buffers of its own), all of which net/http otherwise keeps for the
// life of the websocket. The websocket then runs with the request's
// context values but not its cancellation (net/http cancels it when the
// handler returns); it ends when the client goes or when the server
// shuts down. A handler that takes the connection over (Ref.TakeOver)
// returns at once and ends the context itself when the connection ends.
// The zero Detacher is ready to use.
type Detacher struct {
	// Log, if set, logs the handlers' panics.
	Log *slog.Logger

	mu       sync.Mutex
	shutdown map[*http.Server]context.Context // done when the server shuts down
}

// Serve serves the upgrade request r with h, detached.
func (d *Detacher) Serve(h http.Handler, w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	stop := context.AfterFunc(d.shutdownContext(r), cancel)
	ref := &Ref{upgraded: make(chan struct{})}
	ref.release = func() { stop(); cancel() }
	r = r.WithContext(context.WithValue(ctx, refKey{}, ref))
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			ref.mu.Lock()
			handed := ref.handed
			ref.mu.Unlock()
			if !handed {
				ref.release()
			}
		}()
		defer func() { // net/http no longer recovers for this goroutine
			if p := recover(); p != nil && d.Log != nil {
				d.Log.Error("websocket handler panicked", "panic", p, "stack", string(debug.Stack()))
			}
		}()
		h.ServeHTTP(w, r)
	}()
	select {
	case <-ref.upgraded: // w is not used past the upgrade
	case <-done: // refused: the answer is written
	}
}

// shutdownContext returns a context that is done when the http.Server
// serving r shuts down (never, for requests without one).
func (d *Detacher) shutdownContext(r *http.Request) context.Context {
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	if srv == nil {
		return context.Background()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	ctx, ok := d.shutdown[srv]
	if !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(context.Background())
		srv.RegisterOnShutdown(cancel)
		if d.shutdown == nil {
			d.shutdown = map[*http.Server]context.Context{}
		}
		d.shutdown[srv] = ctx
	}
	return ctx
}

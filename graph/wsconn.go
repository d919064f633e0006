package graph

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// WebsocketCloseSlowClient is the close code (RFC 6455 "policy
// violation") of a websocket whose client did not read a subscription's
// events in time. The close reason says so; the client may reconnect and
// resume from its last cursor.
const WebsocketCloseSlowClient = int(websocket.StatusPolicyViolation)

// slowClientReason is the close reason sent with WebsocketCloseSlowClient
// (at most 123 bytes).
const slowClientReason = "slow consumer: subscription events were not read in time; resume with after"

// wsImplementation accepts websockets for wsTransport with
// github.com/coder/websocket, with what a node serving many subscribers
// needs: a write that waits longer than
// writeTimeout (the client stopped reading, its socket buffers are full)
// closes the connection with WebsocketCloseSlowClient and a reason, so a
// slow client costs at most one pending message and never holds a
// goroutine forever; and a subscription can close its connection the same
// way (see closeSlowClient).
type wsImplementation struct {
	writeTimeout time.Duration
	log          *slog.Logger
	onSlow       func()
}

// wsConnRefKey is the context key of the request's *wsConnRef.
type wsConnRefKey struct{}

// wsConnRef lets a subscription reach the websocket it is served on. The
// HTTP handler puts an empty one in the upgrade request's context; Accept
// fills it.
type wsConnRef struct {
	mu       sync.Mutex
	conn     *wsConn
	upgraded chan struct{} // closed once the connection is hijacked
	release  func()        // cancels the connection's context
	handed   bool          // a transport took the connection over
}

// takeOver tells serveDetached that the caller serves the connection past
// the handler's return, and returns the function that ends its context.
func (ref *wsConnRef) takeOver() (release func()) {
	ref.mu.Lock()
	defer ref.mu.Unlock()
	ref.handed = true
	return ref.release
}

// closeSlowClient closes the websocket of the subscription whose context
// is ctx with WebsocketCloseSlowClient. Over other transports (SSE) ending
// the stream is all there is to do.
func closeSlowClient(ctx context.Context) {
	ref, _ := ctx.Value(wsConnRefKey{}).(*wsConnRef)
	if ref == nil {
		return
	}
	ref.mu.Lock()
	c := ref.conn
	ref.mu.Unlock()
	if c != nil {
		_ = c.WriteClose(WebsocketCloseSlowClient, slowClientReason)
	}
}

// Accept upgrades the request to a websocket speaking one of
// subprotocols (or none, if the client names none of them).
func (u wsImplementation) Accept(w http.ResponseWriter, r *http.Request, subprotocols []string) (*wsConn, error) {
	conn, err := websocket.Accept(smallBufWriter{w}, r, &websocket.AcceptOptions{
		Subprotocols:    slices.Clone(subprotocols),
		CompressionMode: websocket.CompressionDisabled, // a flate writer per connection costs far more than the bytes it saves
	})
	if err != nil {
		return nil, err
	}
	c := &wsConn{conn: conn, writeTimeout: u.writeTimeout, log: u.log, onSlow: u.onSlow, remote: r.RemoteAddr}
	if ref, _ := r.Context().Value(wsConnRefKey{}).(*wsConnRef); ref != nil {
		ref.mu.Lock()
		ref.conn = c
		ref.mu.Unlock()
		if ref.upgraded != nil {
			close(ref.upgraded)
		}
	}
	return c, nil
}

// Buffer sizes of an upgraded connection. Client messages are small and
// an event larger than the write buffer is written in two parts; net/http
// gives 4 KiB each, for as long as the websocket lives.
const (
	wsReadBufSize  = 256
	wsWriteBufSize = 1024
)

// smallBufWriter hands websocket.Accept the hijacked connection with
// buffers of wsReadBufSize and wsWriteBufSize instead of net/http's.
type smallBufWriter struct{ http.ResponseWriter }

// Hijack implements http.Hijacker.
func (w smallBufWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	conn, brw, err := h.Hijack()
	if err != nil {
		return nil, nil, err
	}
	rd, wr := brw.Reader, brw.Writer
	if rd.Buffered() == 0 { // else the client already sent frames: keep them
		rd = bufio.NewReaderSize(conn, wsReadBufSize)
	}
	if wr.Buffered() == 0 {
		wr = bufio.NewWriterSize(conn, wsWriteBufSize)
	}
	return conn, bufio.NewReadWriter(rd, wr), nil
}

// wsConn is a *websocket.Conn with the slow-client cut-off and a close
// handshake that never blocks the caller.
type wsConn struct {
	conn         *websocket.Conn
	writeTimeout time.Duration
	log          *slog.Logger
	onSlow       func()
	remote       string

	wmu       sync.Mutex   // serializes writeFrame, guards wtimer
	wtimer    *time.Timer  // writeFrame's slow-client timer, reused
	lastWrite atomic.Int64 // unix nanoseconds of the last frame written

	mu        sync.Mutex
	closing   chan struct{} // non-nil once a close handshake started
	closeOnce sync.Once
}

// writeFrame writes one text message as is. A write that waits longer
// than the write timeout closes the connection as a slow consumer: the
// close frame follows the pending data if the client reads within 5 s,
// else the connection is dropped.
func (c *wsConn) writeFrame(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.writeTimeout > 0 {
		if c.wtimer == nil {
			c.wtimer = time.AfterFunc(c.writeTimeout, c.cutOff)
		} else {
			c.wtimer.Reset(c.writeTimeout)
		}
		defer c.wtimer.Stop()
	}
	c.lastWrite.Store(time.Now().UnixNano())
	return c.conn.Write(context.Background(), websocket.MessageText, b)
}

// cutOff closes the connection of a client too slow to read.
func (c *wsConn) cutOff() {
	if c.log != nil {
		c.log.Warn("websocket client cut off as too slow", "remote", c.remote, "waited", c.writeTimeout)
	}
	if c.onSlow != nil {
		c.onSlow()
	}
	_ = c.WriteClose(WebsocketCloseSlowClient, slowClientReason)
}

// WriteClose starts the close handshake in the background (it may wait
// seconds for the peer) and returns; only the first call has an effect.
func (c *wsConn) WriteClose(code int, reason string) error {
	c.closeOnce.Do(func() {
		done := make(chan struct{})
		c.mu.Lock()
		c.closing = done
		c.mu.Unlock()
		go func() {
			defer close(done)
			_ = c.conn.Close(websocket.StatusCode(code), reason)
		}()
	})
	return nil
}

// Close closes the connection, unless a close handshake is under way.
func (c *wsConn) Close() error {
	c.mu.Lock()
	closing := c.closing != nil
	c.mu.Unlock()
	if closing {
		return nil // the handshake closes the connection
	}
	return c.conn.CloseNow()
}

// Subprotocol returns the negotiated subprotocol.
func (c *wsConn) Subprotocol() string { return c.conn.Subprotocol() }

// SetReadLimit bounds a client message.
func (c *wsConn) SetReadLimit(n int64) { c.conn.SetReadLimit(n) }

// Interface guards
var _ http.Hijacker = smallBufWriter{}

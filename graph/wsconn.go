package graph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// WebsocketCloseSlowClient is the close code (RFC 6455 "policy
// violation") of a websocket whose client did not read a subscription's
// events in time. The close reason says so; the client may reconnect and
// resume from its last cursor.
const WebsocketCloseSlowClient = int(ws.StatusPolicyViolation)

// slowClientReason is the close reason sent with WebsocketCloseSlowClient
// (at most 123 bytes).
const slowClientReason = "slow consumer: subscription events were not read in time; resume with after"

// wsCloseTimeout bounds each step of a close handshake: waiting for a
// pending write before the close frame, and for the peer's answer.
const wsCloseTimeout = 5 * time.Second

// wsImplementation accepts websockets for wsTransport. The handshake is
// github.com/gobwas/ws's; framing is wsConn's own, with the least state a
// connection can have (an idle subscriber's connection is most of its
// memory): no buffers of its own, no goroutine but the transport's
// reader. A write that waits longer than writeTimeout (the client stopped
// reading, its socket buffers are full) closes the connection with
// WebsocketCloseSlowClient and a reason, so a slow client costs at most one
// pending message and never holds a goroutine forever; and a subscription
// can close its connection the same way (see closeSlowClient).
//
// Any origin may connect: the node has no cookies or credentials a page
// of another origin could borrow, and frontends of other origins are its
// users (its HTTP API answers them too).
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

// selectSubprotocol returns the first of ours (in our order of preference)
// that the client offers, or "".
func selectSubprotocol(r *http.Request, ours []string) string {
	var offered []string
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			offered = append(offered, strings.TrimSpace(p))
		}
	}
	for _, p := range ours {
		for _, o := range offered {
			if o == p {
				return p
			}
		}
	}
	return ""
}

// Accept upgrades the request to a websocket speaking one of
// subprotocols (or none, if the client names none of them). A bad
// handshake is answered (400, or 426 for another websocket version) and
// returns an error.
func (u wsImplementation) Accept(w http.ResponseWriter, r *http.Request, subprotocols []string) (*wsConn, error) {
	proto := selectSubprotocol(r, subprotocols)
	up := ws.HTTPUpgrader{Timeout: 10 * time.Second}
	if proto != "" {
		up.Protocol = func(p string) bool { return p == proto }
	}
	nc, rw, _, err := up.Upgrade(r, w)
	if err != nil {
		if nc != nil {
			_ = nc.Close()
		}
		return nil, err
	}
	c := &wsConn{nc: nc, rd: nc, subprotocol: proto, readLimit: wsDefaultReadLimit,
		writeTimeout: u.writeTimeout, log: u.log, onSlow: u.onSlow, remote: r.RemoteAddr,
		wsem: make(chan struct{}, 1)}
	if n := rw.Reader.Buffered(); n > 0 {
		// The client sent frames before the handshake's answer: keep them,
		// not net/http's 4 KiB buffer.
		early, _ := rw.Reader.Peek(n)
		c.rd = io.MultiReader(bytes.NewReader(bytes.Clone(early)), nc)
	}
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

// wsMessageText and wsMessageBinary are the data message types Read
// returns.
const (
	wsMessageText   = ws.OpText
	wsMessageBinary = ws.OpBinary
)

// wsCloseError is the error Read returns once the connection closed.
type wsCloseError struct {
	Code   int // the peer's close code; 0 if it sent none or the close was ours
	Reason string
}

func (e *wsCloseError) Error() string {
	return fmt.Sprintf("websocket closed: %d %s", e.Code, e.Reason)
}

// errWSClosing refuses data frames once a close frame is on its way.
var errWSClosing = errors.New("websocket closing")

// wsConn is a server-side websocket (RFC 6455) on a hijacked connection:
// one reader (Read, the transport's goroutine) and any number of writers,
// whose frames go out whole, one at a time. Nothing is buffered: a data
// frame is one writev of its header and payload.
type wsConn struct {
	nc           net.Conn
	rd           io.Reader // nc, after what the client sent early
	subprotocol  string
	readLimit    int64
	writeTimeout time.Duration
	log          *slog.Logger
	onSlow       func()
	remote       string

	// Reader state (Read only).
	rhdr [ws.MaxHeaderSize - 2]byte

	// Writer state: wsem is held while a frame is written (a channel, so
	// that the close handshake can give up waiting for a stuck write).
	wsem      chan struct{}
	whdr      [ws.MaxHeaderSize]byte
	wvec      [2][]byte
	wtimer    *time.Timer  // writeFrame's slow-client timer, reused
	lastWrite atomic.Int64 // unix nanoseconds of the last frame written

	closeOnce sync.Once
	closeSent atomic.Bool    // a close frame is sent or on its way: no more data frames
	closing   sync.WaitGroup // the goroutine sending our close frame
}

// Subprotocol returns the negotiated subprotocol.
func (c *wsConn) Subprotocol() string { return c.subprotocol }

// SetReadLimit bounds a client message (all its fragments).
func (c *wsConn) SetReadLimit(n int64) { c.readLimit = n }

// writeFrame writes one text message as is. A write that waits longer
// than the write timeout closes the connection as a slow consumer: the
// close frame follows the pending data if the client reads within
// wsCloseTimeout, else the connection is dropped.
func (c *wsConn) writeFrame(b []byte) error {
	c.wsem <- struct{}{}
	defer func() { <-c.wsem }()
	if c.closeSent.Load() {
		return errWSClosing
	}
	if c.writeTimeout > 0 {
		if c.wtimer == nil {
			c.wtimer = time.AfterFunc(c.writeTimeout, c.cutOff)
		} else {
			c.wtimer.Reset(c.writeTimeout)
		}
		defer c.wtimer.Stop()
	}
	c.lastWrite.Store(time.Now().UnixNano())
	return c.writeLocked(ws.OpText, b)
}

// writeLocked writes one frame; the caller holds wsem.
func (c *wsConn) writeLocked(op ws.OpCode, p []byte) error {
	h := c.whdr[:2]
	h[0] = 0x80 | byte(op) // FIN: never fragmented
	switch n := len(p); {
	case n < 126:
		h[1] = byte(n)
	case n <= 0xffff:
		h[1] = 126
		h = append(h, byte(n>>8), byte(n))
	default:
		h[1] = 127
		for s := 56; s >= 0; s -= 8 {
			h = append(h, byte(uint64(n)>>s))
		}
	}
	c.wvec = [2][]byte{h, p}
	bufs := net.Buffers(c.wvec[:])
	_, err := bufs.WriteTo(c.nc)
	c.wvec = [2][]byte{}
	return err
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

// sendClose writes a close frame once the pending write (if any) is done,
// waiting at most wsCloseTimeout for it; false if it could not.
func (c *wsConn) sendClose(code ws.StatusCode, reason string) bool {
	t := time.NewTimer(wsCloseTimeout)
	defer t.Stop()
	select {
	case c.wsem <- struct{}{}:
	case <-t.C:
		return false // a write is stuck: the client does not read
	}
	defer func() { <-c.wsem }()
	_ = c.nc.SetWriteDeadline(time.Now().Add(wsCloseTimeout))
	return c.writeLocked(ws.OpClose, ws.NewCloseFrameBody(code, reason)) == nil
}

// WriteClose starts the close handshake in the background and returns;
// only the first call (or the peer's close) has an effect. The reader
// then waits at most wsCloseTimeout for the peer's close frame.
func (c *wsConn) WriteClose(code int, reason string) error {
	c.closeOnce.Do(func() {
		c.closeSent.Store(true)
		c.closing.Add(1)
		go func() {
			defer c.closing.Done()
			if c.sendClose(ws.StatusCode(code), reason) {
				_ = c.nc.SetReadDeadline(time.Now().Add(wsCloseTimeout))
			} else {
				_ = c.nc.Close()
			}
		}()
	})
	return nil
}

// Close closes the connection once a close frame on its way is sent.
func (c *wsConn) Close() error {
	c.closing.Wait()
	return c.nc.Close()
}

// Read returns the next data message, answering pings and the close
// handshake on the way. After a close frame of ours, data messages are
// discarded until the peer's close frame. A protocol error closes the
// connection with 1002, a message over the read limit with 1009.
func (c *wsConn) Read() (ws.OpCode, []byte, error) {
	var (
		op   ws.OpCode
		msg  []byte
		frag bool
	)
	for {
		h, err := ws.ReadHeaderBuffer(c.rd, c.rhdr[:])
		if err != nil {
			return 0, nil, err
		}
		state := ws.StateServerSide
		if frag {
			state |= ws.StateFragmented
		}
		if err := ws.CheckHeader(h, state); err != nil {
			return 0, nil, c.fail(ws.StatusProtocolError, err)
		}
		if !h.OpCode.IsControl() && int64(len(msg))+h.Length > c.readLimit {
			return 0, nil, c.fail(ws.StatusMessageTooBig, fmt.Errorf("message over %d bytes", c.readLimit))
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(c.rd, payload); err != nil {
			return 0, nil, err
		}
		ws.Cipher(payload, h.Mask, 0)
		switch h.OpCode {
		case ws.OpPing:
			if !c.closeSent.Load() {
				c.wsem <- struct{}{}
				err := c.writeLocked(ws.OpPong, payload)
				<-c.wsem
				if err != nil {
					return 0, nil, err
				}
			}
			continue
		case ws.OpPong:
			continue
		case ws.OpClose:
			return 0, nil, c.peerClosed(payload)
		case ws.OpContinuation:
			msg = append(msg, payload...)
		default:
			op, msg = h.OpCode, payload
		}
		if frag = !h.Fin; frag {
			continue
		}
		if c.closeSent.Load() {
			op, msg = 0, nil // closing: the peer's late messages are not acted on
			continue
		}
		return op, msg, nil
	}
}

// peerClosed completes the close handshake on the peer's close frame:
// echo its code if the close is the peer's, then close the connection.
func (c *wsConn) peerClosed(payload []byte) error {
	code, reason := ws.ParseCloseFrameData(payload)
	echo := code
	switch {
	case len(payload) == 1:
		echo = ws.StatusProtocolError
	case code.Empty():
		echo = ws.StatusNormalClosure
	case ws.CheckCloseFrameData(code, reason) != nil:
		echo = ws.StatusProtocolError
	}
	ours := false
	c.closeOnce.Do(func() { ours = true; c.closeSent.Store(true) })
	if ours {
		c.sendClose(echo, "")
	} else {
		c.closing.Wait() // our close frame went first
	}
	_ = c.nc.Close()
	return &wsCloseError{Code: int(code), Reason: reason}
}

// fail closes the connection on a protocol violation by the peer.
func (c *wsConn) fail(code ws.StatusCode, err error) error {
	_ = c.WriteClose(int(code), err.Error())
	c.closing.Wait()
	_ = c.nc.Close()
	return err
}

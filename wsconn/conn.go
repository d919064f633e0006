// Package wsconn owns the server side of websockets (RFC 6455) for the
// node's two faces: the GraphQL subscription transport (graph/) and the
// REST message feed (rest/). It upgrades requests, frames messages,
// answers pings and runs the close handshake, cuts off clients too slow
// to read, refuses websockets over a limit with 1013, and lets a
// connection be served apart from its HTTP request (Detacher). The
// protocols spoken over a websocket stay with their face.
//
// The handshake and header parsing are github.com/gobwas/ws's; framing is
// Conn's own, with the least state a connection can have (an idle
// subscriber's connection is most of its memory): no buffers of its own
// while idle and no goroutine but its reader. A writer with several
// messages ready queues them (Queue) and writes them with one system
// call (Flush) into a pooled buffer held only until then.
package wsconn

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

// Close codes (RFC 6455 §7.4.1) the node sends.
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001
	CloseProtocolError   = 1002
	ClosePolicyViolation = 1008
	CloseMessageTooBig   = 1009
	CloseInternalError   = 1011
	// CloseTryAgainLater (1013) closes a websocket refused by a limit.
	CloseTryAgainLater = 1013
	// CloseSlowClient is the close code of a websocket whose client did
	// not read in time ("policy violation"); the reason says so, and the
	// client may reconnect and resume from its last cursor.
	CloseSlowClient = ClosePolicyViolation
)

// SlowClientReason is the close reason sent with CloseSlowClient (at
// most 123 bytes).
const SlowClientReason = "slow consumer: subscription events were not read in time; resume with after"

// DefaultReadLimit bounds a client message unless SetReadLimit says
// otherwise.
const DefaultReadLimit = 64 << 10

// flushSize bounds the frames Queue keeps pending: past it they are
// written at once (with the message that passed it, in one writev).
const flushSize = 16 << 10

// keptBuffer is the largest pending-frames buffer put back in the pool.
const keptBuffer = 64 << 10

// closeTimeout bounds each step of a close handshake: waiting for a
// pending write before the close frame, and for the peer's answer.
const closeTimeout = 5 * time.Second

// Errors of Write.
var (
	// ErrClosing refuses data messages once a close frame is on its way.
	ErrClosing = errors.New("websocket closing")
	// ErrSlowClient is returned by a write that waited longer than the
	// write timeout: the client is cut off with CloseSlowClient.
	ErrSlowClient = errors.New("websocket client too slow: cut off")
)

// CloseError is the error Read returns once the peer closed the
// connection.
type CloseError struct {
	Code   int // the peer's close code; 0 if it sent none
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("websocket closed: %d %s", e.Code, e.Reason)
}

// MessageType is the type of a data message.
type MessageType int

// Data message types.
const (
	MessageText   MessageType = MessageType(ws.OpText)
	MessageBinary MessageType = MessageType(ws.OpBinary)
)

// Upgrader accepts websockets. A write that waits longer than
// WriteTimeout (the client stopped reading, its socket buffers are full)
// closes the connection with CloseSlowClient and SlowClientReason, so a
// slow client costs at most one pending message and never holds a
// goroutine forever.
//
// Any origin may connect: the node has no cookies or credentials a page
// of another origin could borrow, and frontends of other origins are its
// users (its HTTP API answers them too).
type Upgrader struct {
	// WriteTimeout bounds one write; 0: none.
	WriteTimeout time.Duration
	// Log, if set, logs the clients cut off as too slow.
	Log *slog.Logger
	// OnSlow, if set, is called each time a client is cut off as too
	// slow (for metrics).
	OnSlow func()
}

// selectSubprotocol returns the first of ours (in our order of
// preference) that the client offers, or "".
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
// returns an error. The headers already set on w go with the answer. If
// the request's context holds a Ref (see Detacher),
// Accept fills it.
func (u Upgrader) Accept(w http.ResponseWriter, r *http.Request, subprotocols []string) (*Conn, error) {
	proto := selectSubprotocol(r, subprotocols)
	// Headers the handler set before the upgrade (e.g. rest's
	// X-Event-Seq) are sent with the handshake's answer, as net/http
	// would send them with any other.
	up := ws.HTTPUpgrader{Timeout: 10 * time.Second, Header: w.Header()}
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
	c := newConn(nc, nc)
	c.subprotocol, c.writeTimeout, c.log, c.onSlow, c.remote = proto, u.WriteTimeout, u.Log, u.OnSlow, r.RemoteAddr
	if n := rw.Reader.Buffered(); n > 0 {
		// The client sent frames before the handshake's answer: keep them,
		// not net/http's 4 KiB buffer.
		early, _ := rw.Reader.Peek(n)
		c.rd = io.MultiReader(bytes.NewReader(bytes.Clone(early)), nc)
	}
	if ref := RefFrom(r.Context()); ref != nil {
		ref.upgradedTo(c)
	}
	return c, nil
}

// Conn is a server-side websocket on a hijacked connection: one reader
// (Read) and any number of writers, whose frames go out whole, one at a
// time. A message given to Write goes out at once, after the queued ones,
// in one writev of the queued frames, its header and its payload. Queued
// messages (Queue) wait in a pooled buffer for the next Flush or Write
// (or until they pass flushSize): an idle connection holds no buffer.
type Conn struct {
	nc           net.Conn
	rd           io.Reader // nc, after what the client sent early
	subprotocol  string
	readLimit    int64
	writeTimeout time.Duration
	log          *slog.Logger
	onSlow       func()
	remote       string

	// Reader state (Read only).
	rhdr     [ws.MaxHeaderSize - 2]byte
	readDone chan struct{} // closed when CloseRead's reader returns

	// Writer state: wsem is held while a frame is written or queued (a
	// channel, so that the close handshake can give up waiting for a
	// stuck write).
	wsem      chan struct{}
	w         *wstate      // while frames are queued or written; nil when idle
	wtimer    *time.Timer  // the slow-client timer, reused
	lastWrite atomic.Int64 // unix nanoseconds of the last data frame written
	cut       atomic.Bool  // cut off as too slow

	closeOnce sync.Once
	closeSent atomic.Bool // a close frame is sent or on its way: no more data frames
	// closeDone is closed once the goroutine sending our close frame is
	// done (nil: none started). Not a WaitGroup: Close may wait while
	// another goroutine starts the close (a server shutting down), and a
	// WaitGroup's Add must not race its Wait.
	closeMu   sync.Mutex
	closeDone chan struct{}
}

// waitClosing waits for our close frame's goroutine, if one started.
func (c *Conn) waitClosing() {
	c.closeMu.Lock()
	done := c.closeDone
	c.closeMu.Unlock()
	if done != nil {
		<-done
	}
}

func newConn(nc net.Conn, rd io.Reader) *Conn {
	return &Conn{nc: nc, rd: rd, readLimit: DefaultReadLimit, wsem: make(chan struct{}, 1)}
}

// Subprotocol returns the negotiated subprotocol.
func (c *Conn) Subprotocol() string { return c.subprotocol }

// SetReadLimit bounds a client message (all its fragments). Call it
// before reading.
func (c *Conn) SetReadLimit(n int64) { c.readLimit = n }

// LastWrite returns when the last data message was written (the zero
// time if none was).
func (c *Conn) LastWrite() time.Time {
	if n := c.lastWrite.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// wstate is what a connection needs while it writes: the frames queued
// and the vector of one writev. It comes from a pool, so that an idle
// connection holds none.
type wstate struct {
	buf    []byte // queued frames
	hdr    [ws.MaxHeaderSize]byte
	frames int         // frames in buf
	vec    [3][]byte   // queued frames, a frame's header, its payload
	bufs   net.Buffers // vec's slices being written (here, not on the heap per write)
}

var wstates = sync.Pool{New: func() any { return new(wstate) }}

// state returns the connection's write state, taking one from the pool
// if it has none; the caller holds wsem.
func (c *Conn) state() *wstate {
	if c.w == nil {
		c.w = wstates.Get().(*wstate)
	}
	return c.w
}

// release puts the write state back in the pool once nothing is queued;
// the caller holds wsem.
func (c *Conn) release() {
	w := c.w
	if w == nil || len(w.buf) > 0 {
		return
	}
	c.w = nil
	if cap(w.buf) > keptBuffer {
		w.buf = nil
	}
	wstates.Put(w)
}

// closedErr is the error of a write refused once a close frame is on its
// way.
func (c *Conn) closedErr() error {
	if !c.closeSent.Load() {
		return nil
	}
	if c.cut.Load() {
		return ErrSlowClient
	}
	return ErrClosing
}

// Write writes one text message as is, at once, after the messages
// queued before it (in one system call with them). A write that waits
// longer than the write timeout closes the connection as a slow consumer
// and returns ErrSlowClient: the close frame follows the pending data if
// the client reads within closeTimeout, else the connection is dropped.
// Once a close frame is on its way, Write returns ErrClosing (or
// ErrSlowClient).
func (c *Conn) Write(b []byte) error {
	c.wsem <- struct{}{}
	defer func() { <-c.wsem }()
	if err := c.closedErr(); err != nil {
		return err
	}
	return c.timedLocked(true, b)
}

// Queue adds one text message to the connection's queued frames (copying
// b), which the next Flush or Write writes in one system call: a writer
// with several messages ready queues them and flushes when it has nothing
// more to send. Queued frames past flushSize are written at once, with b,
// as Write would. A caller that queued must Flush (the queue holds a
// buffer until then). Errors are Write's.
func (c *Conn) Queue(b []byte) error {
	c.wsem <- struct{}{}
	defer func() { <-c.wsem }()
	if err := c.closedErr(); err != nil {
		return err
	}
	queued := 0
	if c.w != nil {
		queued = len(c.w.buf)
	}
	if queued+ws.MaxHeaderSize+len(b) > flushSize {
		return c.timedLocked(true, b)
	}
	w := c.state()
	if w.buf == nil {
		w.buf = make([]byte, 0, min(flushSize, max(4<<10, 2*(ws.MaxHeaderSize+len(b)))))
	}
	w.buf = append(appendHeader(w.buf, ws.OpText, len(b)), b...)
	w.frames++
	return nil
}

// Flush writes the queued frames, in one system call, with Write's
// bound on the wait. With nothing queued it returns nil, or ErrClosing
// (ErrSlowClient) once a close frame is on its way: the frames queued
// before it went first.
func (c *Conn) Flush() error {
	c.wsem <- struct{}{}
	defer func() { <-c.wsem }()
	if c.w == nil || len(c.w.buf) == 0 {
		return c.closedErr()
	}
	return c.timedLocked(false, nil)
}

// timedLocked writes the queued frames, then b as a text frame if frame
// is set, under the slow-client timer; the caller holds wsem.
func (c *Conn) timedLocked(frame bool, b []byte) error {
	if c.writeTimeout > 0 {
		if c.wtimer == nil {
			c.wtimer = time.AfterFunc(c.writeTimeout, c.cutOff)
		} else {
			c.wtimer.Reset(c.writeTimeout)
		}
		defer c.wtimer.Stop()
	}
	c.lastWrite.Store(time.Now().UnixNano())
	var err error
	if frame {
		err = c.writeLocked(ws.OpText, b, true)
	} else {
		err = c.flushLocked()
	}
	if err != nil && c.cut.Load() {
		return fmt.Errorf("%w: %w", ErrSlowClient, err)
	}
	return err
}

// appendHeader appends the header of an unfragmented, unmasked frame.
func appendHeader(h []byte, op ws.OpCode, n int) []byte {
	h = append(h, 0x80|byte(op)) // FIN: never fragmented
	switch {
	case n < 126:
		return append(h, byte(n))
	case n <= 0xffff:
		return append(h, 126, byte(n>>8), byte(n))
	default:
		h = append(h, 127)
		for s := 56; s >= 0; s -= 8 {
			h = append(h, byte(uint64(n)>>s))
		}
		return h
	}
}

// writeLocked writes one frame, after the queued frames if withQueued is
// set, in one writev; the caller holds wsem. The queued frames are
// dropped whatever the outcome (after an error the connection is lost).
func (c *Conn) writeLocked(op ws.OpCode, p []byte, withQueued bool) error {
	w := c.state()
	var queued []byte
	if withQueued {
		queued = w.buf
	}
	w.vec = [3][]byte{queued, appendHeader(w.hdr[:0], op, len(p)), p}
	w.bufs = w.vec[:]
	if len(queued) == 0 {
		w.bufs = w.bufs[1:]
	}
	frames := 1
	if withQueued {
		frames += w.frames
	}
	counted(frames) // before the write: a reader that got the frames sees them counted
	_, err := w.bufs.WriteTo(c.nc)
	w.vec, w.bufs = [3][]byte{}, nil
	if withQueued {
		w.buf, w.frames = w.buf[:0], 0
	}
	c.release()
	return err
}

// flushLocked writes the queued frames (one write); the caller holds
// wsem and there are some.
func (c *Conn) flushLocked() error {
	w := c.w
	counted(w.frames)
	_, err := c.nc.Write(w.buf)
	w.buf, w.frames = w.buf[:0], 0
	c.release()
	return err
}

// cutOff closes the connection of a client too slow to read.
func (c *Conn) cutOff() {
	c.cut.Store(true)
	if c.log != nil {
		c.log.Warn("websocket client cut off as too slow", "remote", c.remote, "waited", c.writeTimeout)
	}
	if c.onSlow != nil {
		c.onSlow()
	}
	_ = c.WriteClose(CloseSlowClient, SlowClientReason)
}

// sendClose writes a close frame once the pending write (if any) is done,
// waiting at most closeTimeout for it; false if it could not.
func (c *Conn) sendClose(code ws.StatusCode, reason string) bool {
	t := time.NewTimer(closeTimeout)
	defer t.Stop()
	select {
	case c.wsem <- struct{}{}:
	case <-t.C:
		return false // a write is stuck: the client does not read
	}
	defer func() { <-c.wsem }()
	_ = c.nc.SetWriteDeadline(time.Now().Add(closeTimeout))
	// The frames queued before the close go first.
	return c.writeLocked(ws.OpClose, ws.NewCloseFrameBody(code, reason), true) == nil
}

// WriteClose starts the close handshake in the background and returns;
// only the first call (or the peer's close) has an effect. The reader
// then waits at most closeTimeout for the peer's close frame.
func (c *Conn) WriteClose(code int, reason string) error {
	c.closeOnce.Do(func() {
		c.closeSent.Store(true)
		done := make(chan struct{})
		c.closeMu.Lock()
		c.closeDone = done
		c.closeMu.Unlock()
		go func() {
			defer close(done)
			if c.sendClose(ws.StatusCode(code), reason) {
				_ = c.nc.SetReadDeadline(time.Now().Add(closeTimeout))
			} else {
				_ = c.nc.Close()
			}
		}()
	})
	return nil
}

// Close closes the connection once a close frame on its way is sent.
func (c *Conn) Close() error {
	c.waitClosing()
	return c.nc.Close()
}

// CloseRead reads on a goroutine of its own for a connection whose
// client only listens: its data messages are discarded, pings answered.
// The returned context ends with ctx or when the connection's reading
// ends (the client closed or went). Finish such a connection with
// CloseWith.
func (c *Conn) CloseRead(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	c.readDone = make(chan struct{})
	go func() {
		defer close(c.readDone)
		defer cancel()
		for {
			if _, _, err := c.Read(); err != nil {
				return
			}
		}
	}()
	return ctx
}

// CloseWith closes a connection read by CloseRead: it sends a close
// frame (unless one went already), waits for the peer's answer (at most
// closeTimeout after the frame is sent), then closes the connection.
func (c *Conn) CloseWith(code int, reason string) error {
	_ = c.WriteClose(code, reason)
	if c.readDone != nil {
		<-c.readDone
	}
	return c.Close()
}

// Read returns the next data message, answering pings and the close
// handshake on the way. After a close frame of ours, data messages are
// discarded until the peer's close frame. A protocol error closes the
// connection with 1002, a message over the read limit with 1009. Once
// the peer closed, Read returns a *CloseError.
func (c *Conn) Read() (MessageType, []byte, error) {
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
				err := c.writeLocked(ws.OpPong, payload, false) // the queue waits for its Flush
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
		return MessageType(op), msg, nil
	}
}

// peerClosed completes the close handshake on the peer's close frame:
// echo its code if the close is the peer's, then close the connection.
func (c *Conn) peerClosed(payload []byte) error {
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
		c.waitClosing() // our close frame went first
	}
	_ = c.nc.Close()
	return &CloseError{Code: int(code), Reason: reason}
}

// fail closes the connection on a protocol violation by the peer.
func (c *Conn) fail(code ws.StatusCode, err error) error {
	_ = c.WriteClose(int(code), err.Error())
	c.waitClosing()
	_ = c.nc.Close()
	return err
}

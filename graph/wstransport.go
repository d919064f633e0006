package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"sync"
	"time"
	"unique"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/alephql/alephql/wsconn"
)

// WebsocketCloseSlowClient is the close code (RFC 6455 "policy
// violation") of a websocket whose client did not read a subscription's
// events in time. The close reason says so; the client may reconnect and
// resume from its last cursor.
const WebsocketCloseSlowClient = wsconn.CloseSlowClient

// GraphQL over websockets, both subprotocols (the websocket itself,
// framing, pings, the close handshake and slow clients, is wsconn's):
//
//   - graphql-transport-ws (the graphql-ws library's protocol):
//     connection_init/connection_ack, ping/pong, subscribe, next, error,
//     complete; connection-level problems close the socket with the
//     protocol's 44xx codes.
//   - graphql-ws (the legacy subscriptions-transport-ws protocol, also
//     chosen when the client names no subprotocol): connection_init/
//     connection_ack, ka keep-alives, start, data, error, complete, stop,
//     connection_terminate.
//
// gqlgen's transport.Websocket runs, per connection, a read loop, a
// keep-alive loop and a cancel watcher, and one goroutine per
// subscription waiting for its next event: 4+ goroutine stacks for an
// idle subscriber. This one runs one goroutine per connection, its reader,
// blocked in a socket read while the client is quiet. Keep-alives and the
// init timeout are timers. A `messages` subscription (the hub's pull-based
// stream, see liveFeed) has no goroutine: its stream calls the
// connection's notify when the hub queues events for it, and a writer
// goroutine, started only while subscriptions have something to send,
// pulls each ready subscription's next response through gqlgen's
// executor, one frame per event, and writes the frames it has ready in
// one system call. Other operations (queries and
// mutations sent over the socket, messageStatus subscriptions) run on a
// goroutine of their own while they last.

// Websocket subprotocols.
const (
	subprotocolTransportWS = "graphql-transport-ws"
	subprotocolGraphQLWS   = "graphql-ws" // legacy
)

// Close codes of graphql-transport-ws (legacy connections use them too).
// 4403 (forbidden) is never sent: the node has no authentication, so
// connection_init is always acknowledged.
const (
	wsCloseBadRequest    = 4400 // an invalid or unexpected message
	wsCloseUnauthorized  = 4401 // subscribe before connection_ack
	wsCloseInitTimeout   = 4408 // no connection_init in time
	wsCloseSubscriberDup = 4409 // subscribe with an id already running
	wsCloseTooManyInits  = 4429 // a second connection_init
	wsCloseInternalError = 4500 // the node failed
	wsCloseNormal        = wsconn.CloseNormal
	wsCloseGoingAway     = wsconn.CloseGoingAway
	wsDefaultInitTimeout = 10 * time.Second
	wsDefaultReadLimit   = wsconn.DefaultReadLimit
)

// wsTransport is the websocket graphql.Transport.
type wsTransport struct {
	upgrader    wsconn.Upgrader
	keepAlive   time.Duration // ka (legacy) or pong (graphql-transport-ws) interval; 0: none
	initTimeout time.Duration // connection_init deadline; default 10 s
	readLimit   int64         // largest client message; default 64 KiB
	log         *slog.Logger
}

// Supports implements graphql.Transport.
func (t *wsTransport) Supports(r *http.Request) bool { return r.Header.Get("Upgrade") != "" }

// Do implements graphql.Transport: it upgrades the request and serves the
// connection until it closes.
func (t *wsTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ws, err := t.upgrader.Accept(w, r, []string{subprotocolTransportWS, subprotocolGraphQLWS})
	if err != nil {
		return // Accept answered the request
	}
	limit := t.readLimit
	if limit <= 0 {
		limit = wsDefaultReadLimit
	}
	ws.SetReadLimit(limit)
	ctx, cancel := context.WithCancel(r.Context())
	c := &wsServerConn{t: t, ws: ws, exec: exec, ctx: ctx, cancel: cancel,
		legacy: ws.Subprotocol() != subprotocolTransportWS}
	if release := wsconn.RefFrom(r.Context()).TakeOver(); release != nil {
		// Served detached: a fresh goroutine (a small stack) that holds
		// neither r nor w, so net/http's connection state, buffers and the
		// request's headers go as soon as the handler returns.
		c.cancel = func() { cancel(); release() }
		go c.serve()
		return
	}
	c.serve()
}

// wsServerConn is one websocket connection's state.
type wsServerConn struct {
	t      *wsTransport
	ws     *wsconn.Conn
	exec   graphql.GraphExecutor
	ctx    context.Context // the connection's; cancelled when it closes
	cancel context.CancelFunc
	legacy bool

	mu        sync.Mutex
	inited    bool // connection_init received (and acknowledged)
	closed    bool
	subs      []*wsSub // running operations: few per connection, a slice is smaller than a map
	ready     []*wsSub // subscriptions the writer should pull
	writing   bool     // a writer goroutine is running
	initTimer *time.Timer
	kaTimer   *time.Timer
}

// wsSub is one operation running on a connection.
//
// A polled `messages` subscription lets go of its executed operation
// (gqlgen's operation context, field contexts and arguments, about 5 KiB)
// whenever its feed is idle, keeping only what executes it again: the
// query (interned), its operation name and variables. Most events never
// need it: a subscriber with the same selection set wrote the payload
// already (liveFeed.encodedNext). When one does, the writer executes the
// operation again on the same feed (revive).
type wsSub struct {
	c      *wsServerConn
	id     string
	prefix []byte                // `{"id":…,"type":"next","payload":` for this id
	query  unique.Handle[string] // keeps the operation's text interned while it runs
	ctx    context.Context
	cancel context.CancelFunc

	// Set once a polled subscription started; used by the writer only.
	// handler and rctx are nil while the operation is let go.
	handler graphql.ResponseHandler
	rctx    context.Context
	feed    *liveFeed
	opName  string
	vars    json.RawMessage

	queued bool // in c.ready (guarded by c.mu)
}

// wsPollKey is the context key of a *wsPoll.
type wsPollKey struct{}

// wsPoll lets loaderSchema hand the transport the liveFeed of a
// `messages` subscription and make it polled: notify is called when the
// feed may have an event, and the feed's stream lives as long as life.
// With feed set, the operation is executed again on that feed.
type wsPoll struct {
	notify func()
	life   context.Context
	feed   *liveFeed
}

// wsClientMessage is a message from the client, of either protocol.
type wsClientMessage struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

func (c *wsServerConn) serve() {
	defer c.shutdown()
	defer func() {
		if p := recover(); p != nil {
			c.t.log.Error("websocket connection panicked", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	stop := context.AfterFunc(c.ctx, func() { c.closeWith(wsCloseGoingAway, "server shutting down") })
	defer stop()
	initTimeout := c.t.initTimeout
	if initTimeout <= 0 {
		initTimeout = wsDefaultInitTimeout
	}
	c.mu.Lock()
	c.initTimer = time.AfterFunc(initTimeout, func() {
		c.mu.Lock()
		inited := c.inited
		c.mu.Unlock()
		if !inited {
			c.closeWith(wsCloseInitTimeout, "Connection initialisation timeout")
		}
	})
	c.mu.Unlock()
	for {
		_, data, err := c.ws.Read()
		if err != nil {
			return
		}
		if !c.handle(data) {
			// The close frame is on its way: read on until the client's
			// answer (or wsconn's close timeout) ends the connection.
			c.closeWith(wsCloseNormal, "")
		}
	}
}

// shutdown lets go of everything the connection holds.
func (c *wsServerConn) shutdown() {
	c.mu.Lock()
	c.closed = true
	if c.initTimer != nil {
		c.initTimer.Stop()
	}
	if c.kaTimer != nil {
		c.kaTimer.Stop()
	}
	subs := c.subs
	c.subs, c.ready = nil, nil
	c.mu.Unlock()
	for _, s := range subs {
		s.cancel()
	}
	c.cancel()
	_ = c.ws.Close()
}

// closeWith closes the connection with a close code and reason (once).
func (c *wsServerConn) closeWith(code int, reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	_ = c.ws.WriteClose(code, reason)
}

// handle acts on one client message; false ends the connection.
func (c *wsServerConn) handle(data []byte) bool {
	var m wsClientMessage
	if err := json.Unmarshal(data, &m); err != nil || m.Type == "" {
		c.closeWith(wsCloseBadRequest, "Invalid message received")
		return false
	}
	switch m.Type {
	case "connection_init":
		return c.init()
	case "ping":
		if !c.legacy {
			c.write([]byte(`{"type":"pong"}`))
			return true
		}
	case "pong":
		if !c.legacy {
			return true
		}
	case "subscribe":
		if !c.legacy {
			return c.subscribe(m)
		}
	case "complete":
		if !c.legacy {
			c.stop(m.ID)
			return true
		}
	case "start":
		if c.legacy {
			return c.subscribe(m)
		}
	case "stop":
		if c.legacy {
			c.stop(m.ID)
			return true
		}
	case "connection_terminate":
		if c.legacy {
			c.closeWith(wsCloseNormal, "terminated")
			return false
		}
	}
	if c.legacy { // subscriptions-transport-ws answers an error and goes on
		c.write(c.errorFrame(m.ID, gqlerror.List{{Message: "Invalid message type!"}}))
		return true
	}
	c.closeWith(wsCloseBadRequest, "Invalid message received")
	return false
}

func (c *wsServerConn) init() bool {
	c.mu.Lock()
	if c.inited {
		c.mu.Unlock()
		c.closeWith(wsCloseTooManyInits, "Too many initialisation requests")
		return false
	}
	c.inited = true
	c.initTimer.Stop()
	c.initTimer = nil
	if ka := c.t.keepAlive; ka > 0 {
		// The first one at a random point of the interval: connections
		// opened together must not all send their keep-alives together.
		c.kaTimer = time.AfterFunc(ka/2+rand.N(ka/2+1), c.keepAlive)
	}
	c.mu.Unlock()
	c.write([]byte(`{"type":"connection_ack"}`))
	if c.legacy && c.t.keepAlive > 0 {
		c.write([]byte(`{"type":"ka"}`))
	}
	return true
}

// keepAlive sends a ka (legacy) or an unsolicited pong (a heartbeat
// graphql-transport-ws allows) unless the connection wrote something
// within the interval, and re-arms its timer.
func (c *wsServerConn) keepAlive() {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return
	}
	next := c.t.keepAlive
	if since := time.Since(c.ws.LastWrite()); since < next {
		next -= since // events went out: the client knows the node is there
	} else if c.legacy {
		c.write([]byte(`{"type":"ka"}`))
	} else {
		c.write([]byte(`{"type":"pong"}`))
	}
	c.mu.Lock()
	if !c.closed {
		c.kaTimer.Reset(next)
	}
	c.mu.Unlock()
}

// write sends one frame; a failed write is the reader's to notice.
func (c *wsServerConn) write(frame []byte) {
	_ = c.ws.Write(frame)
}

func (c *wsServerConn) subscribe(m wsClientMessage) bool {
	c.mu.Lock()
	if !c.inited {
		c.mu.Unlock()
		c.closeWith(wsCloseUnauthorized, "Unauthorized")
		return false
	}
	if m.ID == "" {
		c.mu.Unlock()
		c.closeWith(wsCloseBadRequest, "Invalid message received")
		return false
	}
	if i := c.find(m.ID); i >= 0 {
		old := c.subs[i]
		if !c.legacy {
			c.mu.Unlock()
			c.closeWith(wsCloseSubscriberDup, "Subscriber for "+truncate(m.ID, 80)+" already exists")
			return false
		}
		// subscriptions-transport-ws stops the running operation first.
		c.drop(i)
		old.cancel()
	}
	id, _ := json.Marshal(m.ID)
	typ := `"next"`
	if c.legacy {
		typ = `"data"`
	}
	s := &wsSub{c: c, id: m.ID}
	s.prefix = append(append(append(append([]byte(`{"id":`), id...), `,"type":`...), typ...), `,"payload":`...)
	s.ctx, s.cancel = context.WithCancel(c.ctx)
	c.subs = append(c.subs, s)
	c.mu.Unlock()
	go c.start(s, m.Payload)
	return true
}

// truncate bounds a client string quoted in a close reason (at most 123
// bytes in all).
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// find returns the index in c.subs of the operation id, or -1. Called
// with mu held.
func (c *wsServerConn) find(id string) int {
	for i, s := range c.subs {
		if s.id == id {
			return i
		}
	}
	return -1
}

// drop removes c.subs[i]. Called with mu held.
func (c *wsServerConn) drop(i int) {
	last := len(c.subs) - 1
	c.subs[i], c.subs[last] = c.subs[last], nil
	if c.subs = c.subs[:last]; len(c.subs) == 0 {
		c.subs = nil
	}
}

// stop ends a running operation at the client's request.
func (c *wsServerConn) stop(id string) {
	c.mu.Lock()
	var s *wsSub
	if i := c.find(id); i >= 0 {
		s = c.subs[i]
		c.drop(i)
	}
	c.mu.Unlock()
	if s != nil {
		s.cancel()
	}
}

// remove forgets s (if it is still the operation of its id).
func (c *wsServerConn) remove(s *wsSub) {
	c.mu.Lock()
	if i := c.find(s.id); i >= 0 && c.subs[i] == s {
		c.drop(i)
	}
	c.mu.Unlock()
	s.cancel()
}

// start executes an operation: parse, validate, dispatch; a `messages`
// subscription is then handed to the writer, anything else runs here.
func (c *wsServerConn) start(s *wsSub, payload json.RawMessage) {
	defer func() {
		if p := recover(); p != nil {
			c.t.log.Error("websocket operation panicked", "panic", p, "stack", string(debug.Stack()))
			c.closeWith(wsCloseInternalError, "Internal server error")
		}
	}()
	start := graphql.Now()
	var params graphql.RawParams
	if err := decodeParams(payload, &params); err != nil {
		c.failed(s, gqlerror.List{{Message: "invalid json"}})
		return
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	// The operation context keeps the query text for the subscription's
	// life: thousands of subscribers sending the same one share one copy.
	s.query = unique.Make(params.Query)
	params.Query = s.query.Value()
	ctx := graphql.StartOperationTrace(s.ctx)
	rc, errs := c.exec.CreateOperationContext(ctx, &params)
	var err error
	if errs != nil {
		resp := c.exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		if errcode.GetErrorKind(errs) == errcode.KindProtocol {
			c.failed(s, resp.Errors)
			return
		}
		c.send(s, &graphql.Response{Errors: resp.Errors})
		c.complete(s)
		return
	}
	poll := &wsPoll{notify: func() { c.notify(s) }, life: s.ctx}
	responses, rctx := c.exec.DispatchOperation(context.WithValue(ctx, wsPollKey{}, poll), rc)
	if poll.feed != nil {
		s.handler, s.rctx, s.feed = responses, rctx, poll.feed
		// What executes it again: the query as run (an automatic persisted
		// query's text included), its operation and variables.
		s.query = unique.Make(rc.RawQuery)
		s.opName = rc.OperationName
		if len(params.Variables) > 0 {
			if s.vars, err = json.Marshal(params.Variables); err != nil {
				s.vars = nil
			}
		}
		c.notify(s)
		return
	}
	for {
		resp := responses(rctx)
		if resp == nil {
			break
		}
		if !c.send(s, resp) || rc.Operation == nil || rc.Operation.Operation != ast.Subscription {
			break
		}
	}
	c.complete(s)
}

// decodeParams reads an operation's parameters, numbers kept exact.
func decodeParams(payload []byte, params *graphql.RawParams) error {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	return dec.Decode(params)
}

// revive executes a polled subscription's operation again, on its running
// feed, after it was let go. It fails only if the operation that ran
// before no longer does (the error is logged).
func (c *wsServerConn) revive(s *wsSub) bool {
	params := graphql.RawParams{Query: s.query.Value(), OperationName: s.opName}
	if len(s.vars) > 0 {
		dec := json.NewDecoder(bytes.NewReader(s.vars))
		dec.UseNumber()
		if err := dec.Decode(&params.Variables); err != nil {
			c.t.log.Error("subscription variables", "err", err)
			return false
		}
	}
	now := graphql.Now()
	params.ReadTime = graphql.TraceTiming{Start: now, End: now}
	ctx := graphql.StartOperationTrace(s.ctx)
	rc, errs := c.exec.CreateOperationContext(ctx, &params)
	if errs != nil {
		c.t.log.Error("subscription could not run again", "errs", errs)
		return false
	}
	poll := &wsPoll{notify: func() { c.notify(s) }, life: s.ctx, feed: s.feed}
	s.handler, s.rctx = c.exec.DispatchOperation(context.WithValue(ctx, wsPollKey{}, poll), rc)
	if st := s.feed.stats; st != nil {
		st.mu.Lock()
		st.revived++
		st.mu.Unlock()
	}
	return true
}

// failed answers an operation that could not start with an error message.
func (c *wsServerConn) failed(s *wsSub, errs gqlerror.List) {
	if s.ctx.Err() == nil {
		c.write(c.errorFrame(s.id, errs))
		if c.legacy {
			c.write(c.completeFrame(s.id))
		}
	}
	c.remove(s)
}

// complete tells the client an operation ended (unless it asked for it,
// or the connection is going) and forgets it.
func (c *wsServerConn) complete(s *wsSub) {
	if s.ctx.Err() == nil {
		c.write(c.completeFrame(s.id))
	}
	c.remove(s)
}

// send writes resp as s's next (data) message; false if the connection
// failed or s ended.
func (c *wsServerConn) send(s *wsSub, resp *graphql.Response) bool {
	if s.ctx.Err() != nil {
		return false
	}
	frame := appendResponse(append([]byte(nil), s.prefix...), resp)
	return c.ws.Write(append(frame, '}')) == nil
}

func (c *wsServerConn) errorFrame(id string, errs gqlerror.List) []byte {
	b, err := json.Marshal(struct {
		ID      string        `json:"id,omitempty"`
		Type    string        `json:"type"`
		Payload gqlerror.List `json:"payload"`
	}{id, "error", errs})
	if err != nil {
		return []byte(`{"type":"error","payload":[{"message":"internal error"}]}`)
	}
	return b
}

func (c *wsServerConn) completeFrame(id string) []byte {
	b, _ := json.Marshal(struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}{id, "complete"})
	return b
}

// notify marks s ready for the writer, starting one if none runs. It is
// called by the hub while it dispatches: it never blocks.
func (c *wsServerConn) notify(s *wsSub) {
	c.mu.Lock()
	if s.queued || c.closed || s.ctx.Err() != nil {
		c.mu.Unlock()
		return
	}
	s.queued = true
	c.ready = append(c.ready, s)
	run := !c.writing
	c.writing = true
	c.mu.Unlock()
	if run {
		go c.writeLoop()
	}
}

// writeLoop pulls ready subscriptions' events and queues their frames,
// one event per subscription per round (so none waits behind another's
// backlog), until none is ready; then it writes what it queued in one
// system call (wsconn's Queue and Flush) and looks again, so events that
// arrived during the write go out together with the next flush.
func (c *wsServerConn) writeLoop() {
	defer func() {
		if p := recover(); p != nil {
			c.t.log.Error("websocket writer panicked", "panic", p, "stack", string(debug.Stack()))
			c.mu.Lock()
			c.writing = false
			c.mu.Unlock()
			c.closeWith(wsCloseInternalError, "Internal server error")
		}
	}()
	var buf []byte
	var batch []*wsSub
	queued := false // frames wait for a Flush
	for {
		c.mu.Lock()
		if queued && (len(c.ready) == 0 || c.closed) {
			c.mu.Unlock()
			queued = false
			if err := c.ws.Flush(); err != nil {
				c.closeWith(wsCloseNormal, "")
			}
			continue
		}
		if len(c.ready) == 0 || c.closed {
			c.ready = nil
			c.writing = false
			c.mu.Unlock()
			return
		}
		batch, c.ready = c.ready, batch[:0]
		for _, s := range batch {
			s.queued = false
		}
		c.mu.Unlock()
		for i, s := range batch {
			batch[i] = nil
			if s.ctx.Err() != nil {
				continue
			}
			ctx := s.rctx
			if ctx == nil {
				ctx = s.ctx
			}
			if payload, ok := s.feed.encodedNext(ctx); ok {
				buf = append(append(append(buf[:0], s.prefix...), payload...), '}')
			} else if s.feed.takeIdle() {
				s.handler, s.rctx = nil, nil // let the operation go; notify brings it back
				continue
			} else {
				if s.handler == nil && !c.revive(s) {
					c.failed(s, gqlerror.List{{Message: "internal error", Extensions: map[string]any{"code": CodeInternal}}})
					continue
				}
				resp := s.handler(s.rctx)
				if resp == nil {
					if s.feed.idle && s.ctx.Err() == nil {
						s.handler, s.rctx = nil, nil // let the operation go; notify brings it back
						continue
					}
					c.complete(s)
					continue
				}
				buf = appendResponse(append(buf[:0], s.prefix...), resp)
				s.feed.shareEncoded(buf[len(s.prefix):])
				buf = append(buf, '}')
			}
			if err := c.ws.Queue(buf); err != nil {
				c.closeWith(wsCloseNormal, "")
				continue
			}
			queued = true
			if s.feed.hasMore() {
				c.notify(s)
			} else {
				s.handler, s.rctx = nil, nil // nothing waiting: let the operation go
			}
		}
	}
}

// Interface guards
var _ graphql.Transport = (*wsTransport)(nil)

package wsconn

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"
)

// clientFrame encodes a frame as a client sends it: masked unless
// unmasked is set.
func clientFrame(op ws.OpCode, fin bool, payload []byte, unmasked bool) []byte {
	f := ws.NewFrame(op, fin, bytes.Clone(payload))
	if !unmasked {
		f = ws.MaskFrameInPlaceWith(f, [4]byte{1, 2, 3, 4})
	}
	var b bytes.Buffer
	if err := ws.WriteFrame(&b, f); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// pipeConn is one end of a connection whose other end is a test's
// client: what the server writes is collected, what it reads comes from
// the client's bytes (then EOF).
type pipeConn struct {
	net.Conn // unused methods panic
	in       io.Reader
	mu       sync.Mutex
	out      bytes.Buffer
	writes   int // Write calls
	closed   bool
}

func (p *pipeConn) Read(b []byte) (int, error) { return p.in.Read(b) }
func (p *pipeConn) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, net.ErrClosed
	}
	p.writes++
	return p.out.Write(b)
}
func (p *pipeConn) Close() error                     { p.mu.Lock(); p.closed = true; p.mu.Unlock(); return nil }
func (p *pipeConn) SetReadDeadline(time.Time) error  { return nil }
func (p *pipeConn) SetWriteDeadline(time.Time) error { return nil }

// written decodes the frames the server wrote.
func (p *pipeConn) written(t testing.TB) []ws.Frame {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []ws.Frame
	r := bytes.NewReader(p.out.Bytes())
	for r.Len() > 0 {
		f, err := ws.ReadFrame(r)
		require.NoError(t, err)
		require.False(t, f.Header.Masked, "server frames are not masked")
		out = append(out, f)
	}
	return out
}

func newTestConn(in []byte, limit int64) (*Conn, *pipeConn) {
	pc := &pipeConn{in: bytes.NewReader(in)}
	c := newConn(pc, pc)
	c.SetReadLimit(limit)
	return c, pc
}

// TestWSConnReadsAsRFC6455 drives the server side of the framing with
// client byte streams: fragments, control frames in between, masking,
// limits and both ways of closing.
func TestWSConnReadsAsRFC6455(t *testing.T) {
	cat := func(frames ...[]byte) []byte { return bytes.Join(frames, nil) }
	closeBody := func(code ws.StatusCode, reason string) []byte { return ws.NewCloseFrameBody(code, reason) }
	tests := []struct {
		name     string
		in       []byte
		messages []string        // data messages Read returns, in order
		closeErr *CloseError     // the error ending the stream, if a close
		errIs    error           // else an error it wraps, if any
		written  []ws.OpCode     // frames the server wrote
		codes    []ws.StatusCode // codes of the close frames it wrote
	}{
		{name: "one text frame", in: clientFrame(ws.OpText, true, []byte(`{"type":"ping"}`), false),
			messages: []string{`{"type":"ping"}`}, errIs: io.EOF},
		{name: "fragments with a ping between", in: cat(
			clientFrame(ws.OpText, false, []byte(`{"ty`), false),
			clientFrame(ws.OpPing, true, []byte("hb"), false),
			clientFrame(ws.OpContinuation, false, []byte(`pe":"conn`), false),
			clientFrame(ws.OpContinuation, true, []byte(`ection_init"}`), false),
			clientFrame(ws.OpBinary, true, []byte(`{}`), false)),
			messages: []string{`{"type":"connection_init"}`, `{}`}, errIs: io.EOF, written: []ws.OpCode{ws.OpPong}},
		{name: "pong ignored", in: cat(clientFrame(ws.OpPong, true, nil, false), clientFrame(ws.OpText, true, []byte("x"), false)),
			messages: []string{"x"}, errIs: io.EOF},
		{name: "peer closes: its code echoed", in: clientFrame(ws.OpClose, true, closeBody(4000, "bye"), false),
			closeErr: &CloseError{Code: 4000, Reason: "bye"}, written: []ws.OpCode{ws.OpClose}, codes: []ws.StatusCode{4000}},
		{name: "peer closes without code: 1000", in: clientFrame(ws.OpClose, true, nil, false),
			closeErr: &CloseError{}, written: []ws.OpCode{ws.OpClose}, codes: []ws.StatusCode{ws.StatusNormalClosure}},
		{name: "peer closes with a reserved code: 1002", in: clientFrame(ws.OpClose, true, closeBody(1005, ""), false),
			closeErr: &CloseError{Code: 1005}, written: []ws.OpCode{ws.OpClose}, codes: []ws.StatusCode{ws.StatusProtocolError}},
		{name: "unmasked frame: 1002", in: clientFrame(ws.OpText, true, []byte("x"), true),
			errIs: ws.ErrProtocolMaskRequired, written: []ws.OpCode{ws.OpClose}, codes: []ws.StatusCode{ws.StatusProtocolError}},
		{name: "continuation without a start: 1002", in: clientFrame(ws.OpContinuation, true, []byte("x"), false),
			errIs: ws.ErrProtocolContinuationUnexpected, written: []ws.OpCode{ws.OpClose}, codes: []ws.StatusCode{ws.StatusProtocolError}},
		{name: "new message inside a fragmented one: 1002", in: cat(
			clientFrame(ws.OpText, false, []byte("a"), false), clientFrame(ws.OpText, true, []byte("b"), false)),
			errIs: ws.ErrProtocolContinuationExpected, written: []ws.OpCode{ws.OpClose}, codes: []ws.StatusCode{ws.StatusProtocolError}},
		{name: "fragmented ping: 1002", in: clientFrame(ws.OpPing, false, nil, false),
			errIs: ws.ErrProtocolControlNotFinal, written: []ws.OpCode{ws.OpClose}, codes: []ws.StatusCode{ws.StatusProtocolError}},
		{name: "message over the limit: 1009", in: clientFrame(ws.OpText, true, bytes.Repeat([]byte("x"), 65), false),
			written: []ws.OpCode{ws.OpClose}, codes: []ws.StatusCode{ws.StatusMessageTooBig}},
		{name: "fragments over the limit: 1009", in: cat(
			clientFrame(ws.OpText, false, bytes.Repeat([]byte("x"), 40), false),
			clientFrame(ws.OpContinuation, true, bytes.Repeat([]byte("x"), 40), false)),
			written: []ws.OpCode{ws.OpClose}, codes: []ws.StatusCode{ws.StatusMessageTooBig}},
		{name: "truncated frame", in: clientFrame(ws.OpText, true, []byte("hello"), false)[:5], errIs: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, pc := newTestConn(tt.in, 64)
			var got []string
			var err error
			for {
				var msg []byte
				if _, msg, err = c.Read(); err != nil {
					break
				}
				got = append(got, string(msg))
			}
			require.Equal(t, tt.messages, got)
			var ce *CloseError
			switch {
			case tt.closeErr != nil:
				require.ErrorAs(t, err, &ce)
				require.Equal(t, tt.closeErr, ce)
			case tt.errIs != nil:
				require.ErrorIs(t, err, tt.errIs)
			default:
				require.Error(t, err)
			}
			c.waitClosing()
			var ops []ws.OpCode
			var codes []ws.StatusCode
			for _, f := range pc.written(t) {
				ops = append(ops, f.Header.OpCode)
				if f.Header.OpCode == ws.OpClose {
					code, _ := ws.ParseCloseFrameData(f.Payload)
					codes = append(codes, code)
				}
				if f.Header.OpCode == ws.OpPong {
					require.Equal(t, "hb", string(f.Payload), "a pong carries the ping's payload")
				}
			}
			require.Equal(t, tt.written, ops)
			require.Equal(t, tt.codes, codes)
		})
	}
}

// TestWSConnWritesFramesOfEverySize: frames of every length encoding (7,
// 16 and 64 bits) decode to their payload, whole and unmasked; after a
// close frame no data frame goes out.
func TestWSConnWritesFramesOfEverySize(t *testing.T) {
	c, pc := newTestConn(nil, 64)
	sizes := []int{0, 1, 125, 126, 127, 65535, 65536, 70000}
	for _, n := range sizes {
		require.NoError(t, c.Write([]byte(strings.Repeat("a", n))))
	}
	require.NoError(t, c.WriteClose(4400, "bad"))
	c.waitClosing()
	require.ErrorIs(t, c.Write([]byte("late")), ErrClosing)
	frames := pc.written(t)
	require.Len(t, frames, len(sizes)+1)
	for i, n := range sizes {
		f := frames[i]
		require.True(t, f.Header.Fin)
		require.Equal(t, ws.OpText, f.Header.OpCode)
		require.Equal(t, n, len(f.Payload), "frame %d", i)
	}
	code, reason := ws.ParseCloseFrameData(frames[len(sizes)].Payload)
	require.Equal(t, ws.StatusCode(4400), code)
	require.Equal(t, "bad", reason)
}

// FuzzWSConnRead: whatever a client sends, Read returns messages within
// the read limit or an error, and never panics or hangs.
func FuzzWSConnRead(f *testing.F) {
	f.Add(clientFrame(ws.OpText, true, []byte(`{"type":"connection_init"}`), false))
	f.Add(append(clientFrame(ws.OpText, false, []byte("a"), false), clientFrame(ws.OpContinuation, true, []byte("b"), false)...))
	f.Add(clientFrame(ws.OpClose, true, ws.NewCloseFrameBody(1000, ""), false))
	f.Add(clientFrame(ws.OpPing, true, []byte("p"), false))
	f.Add([]byte{0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		c, _ := newTestConn(in, 256)
		for range len(in) + 1 {
			_, msg, err := c.Read()
			if err != nil {
				var ce *CloseError
				if !errors.As(err, &ce) && len(msg) != 0 {
					t.Fatal("a message with an error")
				}
				c.waitClosing()
				return
			}
			if len(msg) > 256 {
				t.Fatalf("message of %d bytes over the limit", len(msg))
			}
		}
		t.Fatal("Read never ended")
	})
}

// TestCloseWhileAnotherGoroutineCloses: Close (a handler ending) while
// another goroutine sends the close frame (a server shutting down) is not
// a race, and both return, nothing but the close frame written. A CI run
// under -race caught the WaitGroup this replaced (its Add raced a Wait
// that blocked); this loop guards the path, though the race detector sees
// that interleaving only when Close blocks on a close frame in flight.
func TestCloseWhileAnotherGoroutineCloses(t *testing.T) {
	for range 200 {
		c, pc := newTestConn(nil, 64)
		start := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			<-start
			_ = c.WriteClose(1001, "going away")
		}()
		close(start)
		require.NoError(t, c.Close())
		<-done
		require.NoError(t, c.Close())
		for _, f := range pc.written(t) {
			require.Equal(t, ws.OpClose, f.Header.OpCode)
		}
	}
}

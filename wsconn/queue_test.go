package wsconn

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"
)

// TestQueuedFramesGoInOneWrite: queued messages wait for a Flush (or a
// Write, or flushSize) and then go out in order in one write; the close
// frame follows the queued ones; a pong does not wait for them; once
// nothing is queued the connection holds no write buffer.
func TestQueuedFramesGoInOneWrite(t *testing.T) {
	ping := clientFrame(ws.OpPing, true, []byte("hb"), false)
	big := strings.Repeat("b", 5000)
	tests := []struct {
		name string
		in   []byte // what the client sends (read once, after run)
		run  func(t *testing.T, c *Conn, pc *pipeConn)
		want []string // frames written at the end: text payloads, "close:<code>" or "pong"
	}{
		{name: "queue then flush: one write", run: func(t *testing.T, c *Conn, pc *pipeConn) {
			for _, m := range []string{"a", "b", "c"} {
				require.NoError(t, c.Queue([]byte(m)))
			}
			require.Zero(t, pc.writes, "nothing written before the flush")
			require.NotNil(t, c.w, "the queue holds a buffer until the flush")
			require.NoError(t, c.Flush())
			require.Equal(t, 1, pc.writes, "three frames, one write")
		}, want: []string{"a", "b", "c"}},
		{name: "flush with nothing queued writes nothing", run: func(t *testing.T, c *Conn, pc *pipeConn) {
			require.NoError(t, c.Flush())
			require.Zero(t, pc.writes)
		}},
		{name: "write goes after the queued frames", run: func(t *testing.T, c *Conn, pc *pipeConn) {
			require.NoError(t, c.Queue([]byte("a")))
			require.NoError(t, c.Queue([]byte("b")))
			require.NoError(t, c.Write([]byte("c")))
			require.NoError(t, c.Flush())
		}, want: []string{"a", "b", "c"}},
		{name: "queue past flushSize writes at once", run: func(t *testing.T, c *Conn, pc *pipeConn) {
			for range 3 {
				require.NoError(t, c.Queue([]byte(big)))
			}
			require.Zero(t, pc.writes)
			require.NoError(t, c.Queue([]byte(big)), "15 000 queued bytes + 5 000 pass flushSize")
			require.NotZero(t, pc.writes)
			require.Nil(t, c.w, "written: nothing left queued")
		}, want: []string{big, big, big, big}},
		{name: "message over flushSize alone is written at once", run: func(t *testing.T, c *Conn, pc *pipeConn) {
			require.NoError(t, c.Queue(bytes.Repeat([]byte("x"), flushSize)))
			require.NotZero(t, pc.writes)
		}, want: []string{strings.Repeat("x", flushSize)}},
		{name: "close frame follows the queued frames", run: func(t *testing.T, c *Conn, pc *pipeConn) {
			require.NoError(t, c.Queue([]byte("a")))
			require.NoError(t, c.Queue([]byte("b")))
			require.NoError(t, c.WriteClose(4400, "bad"))
			c.waitClosing()
			require.ErrorIs(t, c.Queue([]byte("late")), ErrClosing)
			require.ErrorIs(t, c.Flush(), ErrClosing)
			require.ErrorIs(t, c.Write([]byte("late")), ErrClosing)
		}, want: []string{"a", "b", "close:4400"}},
		{name: "a pong does not wait for the queued frames", in: ping, run: func(t *testing.T, c *Conn, pc *pipeConn) {
			require.NoError(t, c.Queue([]byte("a")))
			_, _, err := c.Read() // answers the ping, then EOF
			require.Error(t, err)
			require.NotNil(t, c.w, "still queued")
			require.NoError(t, c.Flush())
		}, want: []string{"pong", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, pc := newTestConn(tt.in, 64)
			tt.run(t, c, pc)
			require.Nil(t, c.w, "an idle connection holds no write buffer")
			var got []string
			for _, f := range pc.written(t) {
				switch f.Header.OpCode {
				case ws.OpText:
					got = append(got, string(f.Payload))
				case ws.OpPong:
					got = append(got, "pong")
				case ws.OpClose:
					code, _ := ws.ParseCloseFrameData(f.Payload)
					got = append(got, "close:"+strconv.Itoa(int(code)))
				default:
					t.Fatalf("unexpected frame %v", f.Header.OpCode)
				}
			}
			require.Equal(t, tt.want, got)
		})
	}
}

// TestWriteCountersCountFramesAndWrites: the Prometheus counters count
// every frame written and each write carrying them.
func TestWriteCountersCountFramesAndWrites(t *testing.T) {
	c, _ := newTestConn(nil, 64)
	frames, writes := framesWritten.Load(), writeCalls.Load()
	for _, m := range []string{"a", "b", "c"} {
		require.NoError(t, c.Queue([]byte(m)))
	}
	require.NoError(t, c.Flush())
	require.NoError(t, c.Queue([]byte("d")))
	require.NoError(t, c.Write([]byte("e")))
	require.Equal(t, uint64(5), framesWritten.Load()-frames)
	require.Equal(t, uint64(2), writeCalls.Load()-writes)
	require.Len(t, Collectors(), 2)
}

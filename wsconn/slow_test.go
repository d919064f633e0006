package wsconn

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSlowClientIsCutOffWithReason: a client that stops reading makes a
// write wait past the write timeout: OnSlow is called, the writer gets
// ErrSlowClient, and once the client reads again it gets the pending data
// then a close frame with CloseSlowClient and SlowClientReason, which it
// answers to end the handshake (CloseWith returns). The same whether the
// writer writes each message (Write) or queues them and flushes (Queue,
// Flush; the wait is then in a Flush or in a Queue past flushSize).
func TestSlowClientIsCutOffWithReason(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 256<<10)
	small := bytes.Repeat([]byte("y"), 1<<10)
	tests := []struct {
		name  string
		write func(c *Conn, i int) error
	}{
		{"write", func(c *Conn, _ int) error { return c.Write(big) }},
		{"queue and flush", func(c *Conn, i int) error {
			if err := c.Queue(small); err != nil || i%8 != 7 {
				return err
			}
			return c.Flush()
		}},
		{"queue only", func(c *Conn, _ int) error { return c.Queue(small) }}, // writes past flushSize
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testSlowClientCutOff(t, tt.write)
		})
	}
}

func testSlowClientCutOff(t *testing.T, write func(c *Conn, i int) error) {
	slow := make(chan struct{})
	done := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := Upgrader{WriteTimeout: 100 * time.Millisecond, OnSlow: func() { close(slow) }}
		c, err := u.Accept(w, r, nil)
		if err != nil {
			done <- err
			return
		}
		ctx := c.CloseRead(r.Context())
		for i := 0; ; i++ {
			if err = write(c, i); err != nil {
				break
			}
		}
		_ = c.CloseWith(CloseNormal, "") // the slow-client close went first
		assert.Error(t, ctx.Err(), "the reader ended with the handshake")
		done <- err
	}))
	defer srv.Close()
	nc, br, _, err := ws.Dial(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http"))
	require.NoError(t, err)
	defer nc.Close()
	var rd io.Reader = nc
	if br != nil { // frames that came with the handshake's answer
		rd = io.MultiReader(br, nc)
	}
	select {
	case <-slow:
	case <-time.After(10 * time.Second):
		t.Fatal("the client was not cut off")
	}
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(10*time.Second)))
	for {
		f, err := ws.ReadFrame(rd)
		require.NoError(t, err)
		if f.Header.OpCode == ws.OpText {
			continue
		}
		require.Equal(t, ws.OpClose, f.Header.OpCode)
		code, reason := ws.ParseCloseFrameData(f.Payload)
		require.Equal(t, ws.StatusCode(CloseSlowClient), code)
		require.Equal(t, SlowClientReason, reason)
		break
	}
	require.NoError(t, ws.WriteFrame(nc, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "")))))
	select {
	case err := <-done:
		require.ErrorIs(t, err, ErrSlowClient)
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not end the connection")
	}
}

// TestCloseReadEndsWhenTheClientCloses: a listen-only connection's
// context ends when the client closes, and the client's close code is
// echoed.
func TestCloseReadEndsWhenTheClientCloses(t *testing.T) {
	ended := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Upgrader{}.Accept(w, r, []string{"a", "b"})
		if err != nil {
			return
		}
		assert.Equal(t, "b", c.Subprotocol())
		ctx := c.CloseRead(context.WithoutCancel(r.Context()))
		assert.NoError(t, c.Write([]byte("hello")))
		<-ctx.Done()
		_ = c.CloseWith(CloseNormal, "")
		close(ended)
	}))
	defer srv.Close()
	d := ws.Dialer{Protocols: []string{"b"}}
	nc, br, _, err := d.Dial(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http"))
	require.NoError(t, err)
	defer nc.Close()
	var rd io.Reader = nc
	if br != nil {
		rd = io.MultiReader(br, nc)
	}
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(10*time.Second)))
	f, err := ws.ReadFrame(rd)
	require.NoError(t, err)
	require.Equal(t, "hello", string(f.Payload))
	require.NoError(t, ws.WriteFrame(nc, ws.MaskFrame(ws.NewTextFrame([]byte("ignored")))))
	require.NoError(t, ws.WriteFrame(nc, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(4000, "bye")))))
	f, err = ws.ReadFrame(rd)
	require.NoError(t, err)
	require.Equal(t, ws.OpClose, f.Header.OpCode)
	code, _ := ws.ParseCloseFrameData(f.Payload)
	require.Equal(t, ws.StatusCode(4000), code, "the client's code echoed")
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the connection's context did not end")
	}
}

// TestHandshakeCarriesHeadersSetBeforeAccept: a header the handler set on
// the ResponseWriter before Accept (rest's X-Event-Seq) is in the
// handshake's answer.
func TestHandshakeCarriesHeadersSetBeforeAccept(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Event-Seq", "42")
		c, err := Upgrader{}.Accept(w, r, nil)
		if !assert.NoError(t, err) {
			return
		}
		_ = c.CloseWith(CloseNormal, "")
	}))
	defer srv.Close()
	var got http.Header
	d := ws.Dialer{OnHeader: func(key, value []byte) error {
		if got == nil {
			got = http.Header{}
		}
		got.Add(string(key), string(value))
		return nil
	}}
	nc, _, _, err := d.Dial(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http"))
	require.NoError(t, err)
	defer nc.Close()
	require.Equal(t, "42", got.Get("X-Event-Seq"))
}

package live

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestEndReaderNeverAnswersAnOlderRead: a request arriving while a read
// runs gets the next read, started after it arrived; requests waiting
// together share one read.
func TestEndReaderNeverAnswersAnOlderRead(t *testing.T) {
	var reads atomic.Int64
	release := make(chan int64)
	started := make(chan struct{}, 10)
	e := NewEndReader(func(ctx context.Context) (int64, error) {
		reads.Add(1)
		started <- struct{}{}
		select {
		case v := <-release:
			return v, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	type got struct {
		end int64
		err error
	}
	call := func() chan got {
		ch := make(chan got, 1)
		go func() {
			end, err := e.End(t.Context())
			ch <- got{end, err}
		}()
		return ch
	}
	a := call()
	<-started // read 1 runs: B and C arrive after it began
	b, c := call(), call()
	require.Eventually(t, func() bool { // both wait for the next read
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.next != nil && e.next.waiting == 2
	}, 5*time.Second, time.Millisecond)
	release <- 1
	require.Equal(t, got{end: 1}, <-a)
	<-started // read 2, shared by B and C
	release <- 2
	require.Equal(t, got{end: 2}, <-b)
	require.Equal(t, got{end: 2}, <-c)
	require.Equal(t, int64(2), reads.Load())

	// Alone, a request starts a read at once.
	d := call()
	<-started
	release <- 3
	require.Equal(t, got{end: 3}, <-d)

	// A canceled request stops waiting.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := e.End(ctx)
	require.ErrorIs(t, err, context.Canceled)
	<-started
	release <- 4 // the read it started still ends
}

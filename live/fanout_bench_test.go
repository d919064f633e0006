package live

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/read"
)

// BenchmarkHubFanout measures the hub's dispatch of one event to its
// subscribers (index lookup, filter match, queueing), without the
// database: subs subscriptions spread over 100 channels, plus 1 in 100
// filtering on nothing indexable. Each op dispatches one event of one
// channel; the queues are drained, as subscribers would, often enough
// that none lags.
//
//	go test ./live -run '^$' -bench HubFanout
func BenchmarkHubFanout(b *testing.B) {
	for _, subs := range []int{1000, 10000} {
		b.Run(fmt.Sprint(subs), func(b *testing.B) {
			h, err := NewHub(Config{}, nil, events.NewLocal(1), slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				b.Fatal(err)
			}
			close(h.ready)
			var all, unindexed []*Sub
			for i := range subs {
				f := &read.MessageFilter{Channels: []string{fmt.Sprint("ch", i%100)}}
				if i%100 == 99 {
					f = &read.MessageFilter{Statuses: []string{"processed"}}
				}
				s, _, err := h.Register(b.Context(), f, nil)
				if err != nil {
					b.Fatal(err)
				}
				all = append(all, s)
				if i%100 == 99 {
					unindexed = append(unindexed, s)
				}
			}
			msgs := make([]*ent.Message, 100)
			for i := range msgs {
				ch := fmt.Sprint("ch", i)
				msgs[i] = &ent.Message{ID: fmt.Sprintf("%064x", i), Type: "POST", Chain: "ETH", Sender: "0xs", Owner: "0xs", Channel: &ch, Status: "processed"}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				e := &Event{Ev: events.Event{Seq: int64(i + 1), Kind: events.Processed, ItemHash: msgs[i%100].ID}, Message: msgs[i%100], live: true}
				h.mu.Lock()
				h.dispatch(e)
				h.mu.Unlock()
				// Queues stay under Buffer (256): a channel's subscriber
				// gets one event in 100, an unindexed one every event.
				if i%200 == 199 {
					for _, s := range unindexed {
						s.Drain()
					}
				}
				if i%10000 == 9999 {
					for _, s := range all {
						s.Drain()
					}
				}
			}
		})
	}
}

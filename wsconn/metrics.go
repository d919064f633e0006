package wsconn

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// The process's websocket writes: frames, and the writes (system calls)
// that carried them. Frames per write tells how much Queue coalesces.
var framesWritten, writeCalls atomic.Uint64

// counted records one write carrying frames frames (called before the
// write, so that a client that read them finds them counted).
func counted(frames int) {
	framesWritten.Add(uint64(frames))
	writeCalls.Add(1)
}

// Collectors returns the Prometheus collectors of the process's websocket
// writes (every Conn's): alephql_websocket_frames_written_total and
// alephql_websocket_writes_total; their ratio is the frames each system
// call carried. Register them once per registry.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "alephql", Subsystem: "websocket", Name: "frames_written_total",
			Help: "Websocket frames written (data and control), all connections.",
		}, func() float64 { return float64(framesWritten.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "alephql", Subsystem: "websocket", Name: "writes_total",
			Help: "Writes (system calls) carrying websocket frames: queued frames go out together.",
		}, func() float64 { return float64(writeCalls.Load()) }),
	}
}

package graph_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/wsconn"
)

// wsWrites returns the process's websocket frames written and the writes
// (system calls) that carried them, from wsconn's counters.
func wsWrites(t *testing.T) (frames, writes float64) {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(wsconn.Collectors()...)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		v := mf.GetMetric()[0].GetCounter().GetValue()
		switch mf.GetName() {
		case "alephql_websocket_frames_written_total":
			frames = v
		case "alephql_websocket_writes_total":
			writes = v
		}
	}
	return frames, writes
}

// TestReadyFramesOfOneConnectionShareWrites: an event for 20
// subscriptions of one connection makes 20 frames, which the writer
// queues while subscriptions are ready and writes together: fewer writes
// (system calls) than frames, where writing each frame on its own made
// one write per frame. Every subscription still gets its frame.
func TestReadyFramesOfOneConnectionShareWrites(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		const n = 20
		_, s, ids := subscribedScript(t, db, n)
		frames0, writes0 := wsWrites(t)
		for range 3 {
			s.nexts("next", s.event(), ids...)
		}
		frames1, writes1 := wsWrites(t)
		frames, writes := frames1-frames0, writes1-writes0
		t.Logf("%v frames in %v writes", frames, writes)
		require.GreaterOrEqual(t, frames, float64(3*n))
		require.Less(t, writes, frames, "frames ready together share a write")
	})
}

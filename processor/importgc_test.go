package processor_test

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/processor"
)

// TestTuneImportGC: the import's collector settings apply and are
// restored, and GOGC or GOMEMLIMIT in the environment win.
func TestTuneImportGC(t *testing.T) {
	pct := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(pct) })

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	restore := processor.TuneImportGC()
	require.Equal(t, processor.ImportGCPercent, debug.SetGCPercent(processor.ImportGCPercent))
	require.Equal(t, int64(processor.ImportMemoryLimit), debug.SetMemoryLimit(-1))
	restore()
	require.Equal(t, 100, debug.SetGCPercent(100))
	require.Equal(t, limit, debug.SetMemoryLimit(-1))

	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, "200")
			restore := processor.TuneImportGC()
			require.Equal(t, 100, debug.SetGCPercent(100), "the environment's choice stands")
			require.Equal(t, limit, debug.SetMemoryLimit(-1))
			restore()
		})
	}
}

// TestTuneGCWithoutLimit: a limit of 0 means none (the serve command's
// --memory-limit 0), and the previous limit comes back.
func TestTuneGCWithoutLimit(t *testing.T) {
	pct := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(256 << 20)
	t.Cleanup(func() { debug.SetGCPercent(pct); debug.SetMemoryLimit(limit) })
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	restore := processor.TuneGC(300, 0)
	require.Equal(t, 300, debug.SetGCPercent(300))
	require.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1))
	restore()
	require.Equal(t, 100, debug.SetGCPercent(100))
	require.Equal(t, int64(256<<20), debug.SetMemoryLimit(-1))
}

package processor

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/ent/countkey"
)

// TestCountersSumPerKey: summing deltas per dimension set, then expanding
// them into keys, gives every counter key the same delta as expanding
// each message's keys one by one, and drops keys whose deltas cancel.
func TestCountersSumPerKey(t *testing.T) {
	ch := "TEST"
	empty := ""
	adds := []struct {
		d     dimSet
		delta int64
	}{
		{counterDims("POST", "ETH", "0xa", "0xa", "processed", &ch), 1},
		{counterDims("POST", "ETH", "0xa", "0xa", "processed", &ch), 1},
		{counterDims("AGGREGATE", "ETH", "0xa", "0xb", "processed", nil), 1},
		{counterDims("POST", "SOL", "0xc", "0xc", "processed", &empty), 1},
		{counterDims("POST", "SOL", "0xc", "0xc", "processed", &empty), -1},
		{counterDims("POST", "ETH", "0xa", "0xa", "forgotten", &ch), -1},
	}
	want := map[string]int64{}
	c := counters{}
	for _, a := range adds {
		c.add(a.d, a.delta)
		for _, k := range countkey.Keys(a.d.dims()) {
			want[k] += a.delta
		}
	}
	for k, n := range want {
		if n == 0 {
			delete(want, k)
		}
	}
	got := c.deltas()
	for k, n := range got {
		if n == 0 {
			delete(got, k)
		}
	}
	require.Equal(t, want, got)
	require.Equal(t, int64(1), got["channel=TEST|type=POST"])
	require.Equal(t, int64(2), got["*"])
	require.NotContains(t, got, "chain=SOL", "cancelled deltas are dropped")
	require.NotContains(t, got, "channel=", "an empty channel is no dimension")
}

package graph

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMessageCursorEncodeMatchesJSON checks that the hand-written cursor
// encoding writes encodeCursor's (encoding/json's) bytes: whole and
// fractional seconds, confirmation times, hashes that JSON escapes, times
// it cannot write, and random ones.
func TestMessageCursorEncodeMatchesJSON(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return tm.UTC()
	}
	conf := at("2024-05-01T13:00:00.5Z")
	cases := []messageCursor{
		{T: at("2024-05-01T12:00:02Z"), H: "3f1a"},
		{T: at("2024-05-01T12:00:02.123456Z"), H: "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"},
		{T: at("2024-05-01T12:00:02.100000Z"), H: ""},
		{T: at("0001-01-01T00:00:00Z"), H: "a"},
		{C: &conf, T: at("2024-05-01T12:00:02.000001Z"), H: "ff"},
		{T: at("2024-05-01T12:00:02Z"), H: `a"b\c<d>&e é` + "\x01\u2028"},
		{T: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), H: "x"},
		{T: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), H: "x"},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		c := messageCursor{T: time.Unix(rng.Int64N(1<<36), rng.Int64N(1e9)).UTC(), H: string(rune(0x20 + rng.IntN(0x60)))}
		if rng.IntN(2) == 0 {
			ct := time.Unix(rng.Int64N(1<<35), rng.Int64N(1e9)/1000*1000).UTC()
			c.C = &ct
		}
		cases = append(cases, c)
	}
	for _, c := range cases {
		require.Equal(t, encodeCursor(c), c.encode(), "%+v", c)
		if rfc3339Year(c.T) {
			var back messageCursor
			require.NoError(t, decodeCursor(c.encode(), &back))
			require.Equal(t, c.H, back.H)
			require.True(t, c.T.Equal(back.T))
		}
	}
}

package ipfs

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCanonicalJSONGolden checks byte equality with what the reference
// node's add_json stores, on vectors produced by orjson 3.8.3 and Python's
// json module (testdata/gen_canonical_json.py).
func TestCanonicalJSONGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/canonical_json.json")
	require.NoError(t, err)
	var cases [][2]*string
	require.NoError(t, json.Unmarshal(raw, &cases))
	require.Greater(t, len(cases), 300)
	for i, c := range cases {
		in := *c[0]
		got, err := CanonicalJSON([]byte(in))
		if c[1] == nil {
			require.ErrorIs(t, err, ErrInvalidJSON, "case %d %q: reference refuses it", i, in)
			continue
		}
		require.NoError(t, err, "case %d %q", i, in)
		require.Equal(t, *c[1], string(got), "case %d %q", i, in)
	}
}

func TestCanonicalJSONErrors(t *testing.T) {
	for name, in := range map[string]string{
		"invalid utf-8": "\"\xff\"",
		"too deep":      string(make([]byte, 0)) + repeat("[", 2000) + repeat("]", 2000),
		"empty":         "",
		"bare word":     "abc",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := CanonicalJSON([]byte(in))
			require.ErrorIs(t, err, ErrInvalidJSON)
		})
	}
}

func repeat(s string, n int) string {
	b := make([]byte, 0, len(s)*n)
	for range n {
		b = append(b, s...)
	}
	return string(b)
}

// FuzzCanonicalJSON checks that canonical output is a fixed point: the
// canonical form of a canonical document is itself.
func FuzzCanonicalJSON(f *testing.F) {
	raw, err := os.ReadFile("testdata/canonical_json.json")
	require.NoError(f, err)
	var cases [][2]*string
	require.NoError(f, json.Unmarshal(raw, &cases))
	for _, c := range cases {
		f.Add([]byte(*c[0]))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := CanonicalJSON(in)
		if err != nil {
			return
		}
		again, err := CanonicalJSON(out)
		require.NoError(t, err)
		require.Equal(t, string(out), string(again))
	})
}

package countkey_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/ent/countkey"
)

func TestKey(t *testing.T) {
	tests := []struct {
		name string
		dims map[string]string
		want string
	}{
		{"all", nil, "*"},
		{"empty values dropped", map[string]string{"channel": ""}, "*"},
		{"one", map[string]string{"channel": "TEST"}, "channel=TEST"},
		{"sorted", map[string]string{"type": "POST", "channel": "TEST"}, "channel=TEST|type=POST"},
		{"escaped", map[string]string{"channel": "a|type=POST"}, "channel=a%7Ctype%3DPOST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, countkey.Key(tt.dims))
		})
	}
}

func TestKeysCoverSinglesAndPairs(t *testing.T) {
	keys := countkey.Keys(map[string]string{"type": "POST", "channel": "C", "sender": "0xa"})
	require.ElementsMatch(t, []string{
		"*", "channel=C", "sender=0xa", "type=POST",
		"channel=C|sender=0xa", "channel=C|type=POST", "sender=0xa|type=POST",
	}, keys)
	require.True(t, countkey.Countable(map[string]string{"type": "POST", "channel": "C"}))
	require.False(t, countkey.Countable(map[string]string{"type": "POST", "channel": "C", "sender": "x"}))
	require.False(t, countkey.Countable(map[string]string{"tag": "x"}))
}

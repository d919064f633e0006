package message

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		ok   bool
		chk  func(t *testing.T, v value)
	}{
		{"object", ` {"a": [1, -2.5e3, true, false, null, "x"]} `, true, nil},
		{"escapes", `"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"`, true, func(t *testing.T, v value) {
			require.Equal(t, "\"\\/\b\f\n\r\té😀", v.s)
		}},
		{"unescaped string is a substring", `"abc"`, true, func(t *testing.T, v value) { require.Equal(t, "abc", v.s) }},
		{"duplicate keys: last wins", `{"a":1,"a":2}`, true, func(t *testing.T, v value) {
			x, ok := v.get("a")
			require.True(t, ok)
			require.InDelta(t, 2.0, x.f, 0)
		}},
		{"int64 min", `-9223372036854775808`, true, func(t *testing.T, v value) { require.True(t, v.isInt) }},
		{"uint64 max is an int", `18446744073709551615`, true, func(t *testing.T, v value) { require.True(t, v.isInt) }},
		{"beyond uint64 is a float", `18446744073709551616`, true, func(t *testing.T, v value) {
			require.False(t, v.isInt)
			require.InDelta(t, 1.8446744073709552e19, v.f, 0)
		}},
		{"huge integer overflows", strings.Repeat("9", 400), false, nil},
		{"float overflow", `1e400`, false, nil},
		{"float underflow is zero", `1e-400`, true, nil},
		{"NaN", `NaN`, false, nil},
		{"Infinity", `[Infinity]`, false, nil},
		{"-Infinity", `[-Infinity]`, false, nil},
		{"leading zero", `01`, false, nil},
		{"plus sign", `+1`, false, nil},
		{"dot without digits", `1.`, false, nil},
		{"lone high surrogate", `"\ud800"`, false, nil},
		{"lone low surrogate", `"\udc00"`, false, nil},
		{"high surrogate then letter", `"\ud800\u0041"`, false, nil},
		{"invalid UTF-8", "\"\xff\"", false, nil},
		{"overlong UTF-8", "\"\xc0\xaf\"", false, nil},
		{"encoded surrogate UTF-8", "\"\xed\xa0\x80\"", false, nil},
		{"raw control character", "\"a\x01\"", false, nil},
		{"raw newline in string", "\"a\n\"", false, nil},
		{"trailing comma", `[1,]`, false, nil},
		{"comment", `{} // x`, false, nil},
		{"single quotes", `{'a':1}`, false, nil},
		{"empty", ``, false, nil},
		{"two documents", `{} {}`, false, nil},
		{"depth 1024", strings.Repeat("[", 1024) + strings.Repeat("]", 1024), true, nil},
		{"depth 1025", strings.Repeat("[", 1025) + strings.Repeat("]", 1025), false, nil},
		{"object depth 1025", strings.Repeat(`{"a":`, 1025) + "1" + strings.Repeat("}", 1025), false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := parseJSON(tt.in)
			if !tt.ok {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			if tt.chk != nil {
				tt.chk(t, v)
			}
		})
	}
}

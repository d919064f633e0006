package subload

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestParseNextAgreesWithJSON checks the load client's shortcut reader
// against a full decode, on frames of both member orders, with nested
// objects and extensions holding look-alike keys.
func TestParseNextAgreesWithJSON(t *testing.T) {
	ev := `{"__typename":"MessageProcessed","cursor":"42","seq":42,"at":"2026-11-22T01:02:03.456789Z","hash":"abc"`
	cases := []struct {
		name  string
		frame string
		typ   string
		ok    bool
	}{
		{"ours", `{"id":"1","type":"next","payload":{"data":{"messages":` + ev + `}},"extensions":{"freshness":{"lastEventAt":"2020-01-01T00:00:00Z","lastEventSeq":7}}}}`, "next", true},
		{"gqlgen order", `{"payload":{"data":{"messages":` + ev + `}}},"id":"1","type":"next"}`, "next", true},
		{"nested message", `{"id":"1","type":"next","payload":{"data":{"messages":` + ev + `,"message":{"sender":"0x","channel":"C","type":"POST","time":"2026-01-01T00:00:00Z"}}}}}`, "next", true},
		{"complete", `{"id":"1","type":"complete"}`, "complete", false},
		{"error", `{"id":"1","type":"error","payload":[{"message":"x"}]}`, "error", false},
		{"pong", `{"type":"pong"}`, "pong", false},
		{"next without event", `{"id":"1","type":"next","payload":{"data":null,"errors":[{"message":"x"}]}}`, "next", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, typ, ok := parseNext([]byte(tc.frame))
			require.Equal(t, tc.typ, typ)
			require.Equal(t, tc.ok, ok)
			if !ok {
				return
			}
			var m struct {
				Payload struct{ Data struct{ Messages nextEvent } }
			}
			require.NoError(t, json.Unmarshal([]byte(tc.frame), &m))
			want := m.Payload.Data.Messages
			require.Equal(t, want.Typename, e.Typename)
			require.Equal(t, want.Cursor, e.Cursor)
			require.Equal(t, want.Seq, e.Seq)
			require.Equal(t, want.Hash, e.Hash)
			require.True(t, want.At.Equal(e.At))
			require.Equal(t, time.Date(2026, 11, 22, 1, 2, 3, 456789000, time.UTC), e.At.UTC())
		})
	}
}

package message

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/chains"
	"github.com/alephql/alephql/processor/errcode"
)

// wireJSON builds a wire message. fields override or (with a nil value)
// delete keys of a valid inline ETH POST; "content" is turned into
// item_content with the matching item_hash unless item_hash is given.
func wireJSON(t testing.TB, fields map[string]any) []byte {
	t.Helper()
	m := map[string]any{
		"chain":     "ETH",
		"sender":    "0x696879aE4F6d8DaDD5b8F1cbb1e663B89b08f106",
		"type":      "POST",
		"signature": "0x00",
		"time":      1652803407.1179411,
		"channel":   "TEST",
	}
	content := any(map[string]any{"type": "test", "content": map[string]any{"a": 1}})
	for k, v := range fields {
		if k == "content" {
			content = v
			continue
		}
		m[k] = v
	}
	if _, ok := m["item_content"]; !ok && content != nil {
		var ic string
		if s, ok := content.(string); ok {
			ic = s
		} else {
			b, err := json.Marshal(content)
			require.NoError(t, err)
			ic = string(b)
		}
		m["item_content"] = ic
	}
	if _, ok := m["item_hash"]; !ok {
		if ic, ok := m["item_content"].(string); ok {
			m["item_hash"] = InlineHash(ic)
		}
	}
	for k, v := range m {
		if v == nil {
			delete(m, k)
		}
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

const (
	cidV0   = "QmTQPocJ8n3r7jhwYxmCDR5bJ4SNsEhdVm8WwkNbGctgJF"
	cidV1   = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
	sha256H = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		raw    []byte
		opts   []Option
		code   errcode.Code // checked when field != "" or ok is false
		field  string
		ok     bool
		check  func(t *testing.T, w *Wire)
		noWire bool
	}{
		{name: "inline post", raw: wireJSON(t, nil), ok: true, check: func(t *testing.T, w *Wire) {
			require.Equal(t, ItemInline, w.ItemType)
			require.Equal(t, TypePost, w.Type)
			require.Equal(t, chains.Chain("ETH"), w.Chain)
			require.True(t, w.HasChannel)
			require.InDelta(t, 1652803407.1179411, w.Time, 0)
		}},
		{name: "unknown top-level fields ignored", raw: wireJSON(t, map[string]any{"size": 3, "confirmed": true, "_id": map[string]any{"$oid": "x"}}), ok: true},
		{name: "null channel", raw: wireJSON(t, map[string]any{"channel": nil}), ok: true, check: func(t *testing.T, w *Wire) {
			require.False(t, w.HasChannel)
		}},
		{name: "unknown chain", raw: wireJSON(t, map[string]any{"chain": "FOO"}), field: "chain"},
		{name: "lower-case chain", raw: wireJSON(t, map[string]any{"chain": "eth"}), field: "chain"},
		{name: "chain in enum without verifier", raw: wireJSON(t, map[string]any{"chain": "AURORA"}), field: "chain"},
		{name: "chain without verifier, no signature check", raw: wireJSON(t, map[string]any{"chain": "AURORA", "signature": nil}), opts: []Option{WithoutSignature()}, ok: true},
		{name: "unknown type", raw: wireJSON(t, map[string]any{"type": "post"}), field: "type"},
		{name: "V-PROGRAM type", raw: wireJSON(t, map[string]any{"type": "V-PROGRAM"}), ok: true},
		{name: "missing sender", raw: wireJSON(t, map[string]any{"sender": nil}), field: "sender"},
		{name: "sender not a string", raw: wireJSON(t, map[string]any{"sender": 12}), field: "sender"},
		{name: "missing item_hash", raw: wireJSON(t, map[string]any{"item_hash": nil, "content": nil}), field: "item_hash"},
		{name: "upper-case item_type", raw: wireJSON(t, map[string]any{"item_type": "INLINE"}), field: "item_type"},
		{name: "hash mismatch", raw: wireJSON(t, map[string]any{"item_hash": sha256H}), field: "item_hash"},
		{name: "upper-case hex hash", raw: wireJSON(t, map[string]any{"item_hash": strings.ToUpper(InlineHash(`{"type":"test"}`)), "content": `{"type":"test"}`}), field: "item_hash"},
		{name: "storage", raw: wireJSON(t, map[string]any{"item_hash": sha256H, "content": nil}), ok: true, check: func(t *testing.T, w *Wire) {
			require.Equal(t, ItemStorage, w.ItemType)
			require.Empty(t, w.ItemContent)
		}},
		{name: "ipfs v0 inferred", raw: wireJSON(t, map[string]any{"item_hash": cidV0, "content": nil}), ok: true, check: func(t *testing.T, w *Wire) {
			require.Equal(t, ItemIPFS, w.ItemType)
		}},
		{name: "ipfs v1 inferred", raw: wireJSON(t, map[string]any{"item_hash": cidV1, "content": nil}), ok: true, check: func(t *testing.T, w *Wire) {
			require.Equal(t, ItemIPFS, w.ItemType)
		}},
		{name: "lenient inference: 64 chars of anything", raw: wireJSON(t, map[string]any{"item_hash": strings.Repeat("Z", 64), "content": nil}), ok: true},
		{name: "unknown hash shape", raw: wireJSON(t, map[string]any{"item_hash": sha256H[:63], "content": nil}), field: "item_hash"},
		{name: "item_type mismatching the hash", raw: wireJSON(t, map[string]any{"item_hash": cidV0, "item_type": "storage", "content": nil}), field: "item_type"},
		{name: "storage with item_content", raw: wireJSON(t, map[string]any{"item_hash": sha256H, "item_type": "storage"}), field: "item_content"},
		{name: "inline without item_content", raw: wireJSON(t, map[string]any{"item_hash": sha256H, "item_type": "inline", "content": nil}), field: "item_content"},
		{name: "item_content with escapes hashed decoded", raw: []byte(`{"chain":"ETH","sender":"a","type":"POST","signature":"s","time":1,"item_content":"{\"type\":\"\u00e9\"}","item_hash":"` + InlineHash(`{"type":"é"}`) + `"}`), ok: true},
		{name: "200000 characters", raw: wireJSON(t, map[string]any{"content": `"` + strings.Repeat("é", MaxInlineSize-2) + `"`}), ok: true},
		{name: "200001 characters", raw: wireJSON(t, map[string]any{"content": `"` + strings.Repeat("é", MaxInlineSize-1) + `"`}), field: "item_content"},
		{name: "negative time", raw: wireJSON(t, map[string]any{"time": -1}), field: "time"},
		{name: "year 10000", raw: wireJSON(t, map[string]any{"time": 253402300800}), field: "time"},
		{name: "year 9999", raw: wireJSON(t, map[string]any{"time": 253402300799.5}), ok: true},
		{name: "string time", raw: wireJSON(t, map[string]any{"time": "1652803407"}), field: "time"},
		{name: "missing time", raw: wireJSON(t, map[string]any{"time": nil}), field: "time"},
		{name: "missing signature", raw: wireJSON(t, map[string]any{"signature": nil}), code: errcode.InvalidSignature, field: "signature"},
		{name: "missing signature allowed", raw: wireJSON(t, map[string]any{"signature": nil}), opts: []Option{WithoutSignature()}, ok: true},
		{name: "not an object", raw: []byte(`[1]`), noWire: true},
		{name: "NaN", raw: []byte(`{"time": NaN}`), noWire: true},
		{name: "lone surrogate", raw: []byte(`{"chain":"ETH","sender":"\ud800"}`), noWire: true},
		{name: "invalid UTF-8", raw: []byte("{\"chain\":\"ETH\xff\"}"), noWire: true},
		{name: "trailing data", raw: append(wireJSON(t, nil), []byte(" x")...), noWire: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, err := Parse(tt.raw, tt.opts...)
			if tt.ok {
				require.NoError(t, err)
				if tt.check != nil {
					tt.check(t, w)
				}
				return
			}
			require.Nil(t, w)
			code := tt.code
			if tt.field == "" && code == 0 {
				code = errcode.InvalidFormat
			}
			requireCode(t, err, code)
			var e *errcode.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tt.field, e.Field, "error: %v", err)
		})
	}
}

func TestNewMatchesParse(t *testing.T) {
	t.Parallel()
	raw := wireJSON(t, nil)
	parsed, err := Parse(raw)
	require.NoError(t, err)
	built, err := New(*parsed)
	require.NoError(t, err)
	require.Equal(t, parsed, built)

	bad := *parsed
	bad.ItemContent += " "
	_, err = New(bad)
	requireCode(t, err, errcode.InvalidFormat)
}

func TestItemTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		hash   string
		lax    ItemType
		strict ItemType
	}{
		{cidV0, ItemIPFS, ItemIPFS},
		{cidV1, ItemIPFS, ItemIPFS},
		{sha256H, ItemStorage, ItemStorage},
		{strings.ToUpper(sha256H), ItemStorage, ""},
		{"Qm" + strings.Repeat("0", 44), ItemIPFS, ""}, // 0 is not base58
		{"bafy" + strings.Repeat("A", 55), ItemIPFS, ""},
		{"Qm" + strings.Repeat("a", 41), "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.hash, func(t *testing.T) {
			t.Parallel()
			got, ok := InferItemType(tt.hash)
			require.Equal(t, tt.lax != "", ok)
			require.Equal(t, tt.lax, got)
			got, ok = StrictItemType(tt.hash)
			require.Equal(t, tt.strict != "", ok)
			require.Equal(t, tt.strict, got)
		})
	}
}

func TestMicrosecondTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want float64
	}{
		{1619017773.8950577, 1619017773.895058},
		{1652803407.1179411, 1652803407.117941},
		{1700000000, 1700000000},
		{0.0000005, 0},        // half to even
		{0.0000015, 0.000002}, // half to even
	}
	for _, tt := range tests {
		require.InDelta(t, tt.want, MicrosecondTime(tt.in), 0, "%v", tt.in)
	}
	require.Equal(t, "2021-04-21T15:09:33.895058Z", Timestamp(1619017773.8950577).Format("2006-01-02T15:04:05.999999Z"))
}

func TestDecodeDoesNotAliasInput(t *testing.T) {
	t.Parallel()
	raw := wireJSON(t, nil)
	m, err := Decode(raw)
	require.NoError(t, err)
	want := *m
	for i := range raw {
		raw[i] = 'X'
	}
	require.Equal(t, want.Wire, m.Wire)
	require.Equal(t, "0x696879aE4F6d8DaDD5b8F1cbb1e663B89b08f106", m.Sender)
	require.Equal(t, "TEST", m.Channel)
	require.Equal(t, TypePost, m.Type)
}

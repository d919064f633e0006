package indexer_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/indexer"
)

// archiveVector is the conformance "archive" vector of the packer.
func archiveVector(t testing.TB) (in []indexer.ArchiveMessage, bytes, sum, onchain string, cid string) {
	raw, err := os.ReadFile(conformance + "vectors.json")
	require.NoError(t, err)
	var vectors []struct {
		Kind  string `json:"kind"`
		Input struct {
			Messages []struct {
				ItemHash    string  `json:"item_hash"`
				Type        string  `json:"type"`
				Chain       string  `json:"chain"`
				Sender      string  `json:"sender"`
				Signature   *string `json:"signature"`
				ItemType    string  `json:"item_type"`
				ItemContent *string `json:"item_content"`
				Time        string  `json:"time"`
				Channel     *string `json:"channel"`
			} `json:"messages_db"`
		} `json:"input"`
		Expected struct {
			Bytes   string `json:"derived_archive_bytes"`
			Len     int    `json:"derived_archive_len"`
			Sum     string `json:"derived_archive_sha256"`
			CID     string `json:"derived_archive_cidv0"`
			OnChain string `json:"derived_onchain_string"`
		} `json:"expected"`
	}
	require.NoError(t, json.Unmarshal(raw, &vectors))
	for _, v := range vectors {
		if v.Kind != "archive" || v.Expected.Bytes == "" {
			continue
		}
		require.Len(t, v.Expected.Bytes, v.Expected.Len)
		for _, m := range v.Input.Messages {
			tm, err := time.Parse(time.RFC3339Nano, m.Time)
			require.NoError(t, err)
			in = append(in, indexer.ArchiveMessage{
				Sender: m.Sender, Chain: m.Chain, Signature: m.Signature, Type: m.Type,
				ItemContent: m.ItemContent, ItemType: m.ItemType, ItemHash: m.ItemHash,
				Time: tm, Channel: m.Channel,
			})
		}
		return in, v.Expected.Bytes, v.Expected.Sum, v.Expected.OnChain, v.Expected.CID
	}
	t.Fatal("no archive vector with derived bytes")
	return
}

// TestWriteArchiveVector reproduces the packer's archive byte for byte,
// and its on-chain payload.
func TestWriteArchiveVector(t *testing.T) {
	in, want, sum, onchain, cid := archiveVector(t)
	got, err := indexer.WriteArchive(in)
	require.NoError(t, err)
	require.Equal(t, want, string(got))
	s := sha256.Sum256(got)
	require.Equal(t, sum, hex.EncodeToString(s[:]))
	require.Equal(t, onchain, indexer.OnChainPayload(cid))
}

func ptr(s string) *string { return &s }

// TestWriteArchiveEncoding checks the string escaping and time forms
// that differ from encoding/json and Go's float formatting.
func TestWriteArchiveEncoding(t *testing.T) {
	base := indexer.ArchiveMessage{Sender: "s", Chain: "ETH", Type: "POST", ItemType: "inline", ItemHash: "h", Time: time.Unix(0, 0)}
	const head = `{"protocol":"aleph","version":1,"content":{"messages":[{"sender":"s","chain":"ETH","signature":null,"type":"POST","item_content":`
	for _, tc := range []struct {
		name    string
		content *string
		time    time.Time
		want    string // item_content...end of the message
	}{
		{"null content, epoch", nil, time.Unix(0, 0), `null,"item_type":"inline","item_hash":"h","time":0.0,"channel":null}`},
		{"html and separators raw", ptr("<a>&\u2028\u2029/é😀"), time.Unix(1697718147, 0), "\"<a>&\u2028\u2029/é😀\",\"item_type\":\"inline\",\"item_hash\":\"h\",\"time\":1697718147.0,\"channel\":null}"},
		{"escapes", ptr("\"\\\n\r\t\b\f\x00\x1f\x7f"), time.Unix(1697718147, 269707_000), `"\"\\\n\r\t\b\f\u0000\u001f` + "\x7f" + `","item_type":"inline","item_hash":"h","time":1697718147.269707,"channel":null}`},
		{"nanoseconds truncated to µs", ptr(""), time.Unix(1632832208, 826_000_999), `"","item_type":"inline","item_hash":"h","time":1632832208.826,"channel":null}`},
		{"tiny time in exponent form", ptr(""), time.Unix(0, 50_000), `"","item_type":"inline","item_hash":"h","time":5e-05,"channel":null}`},
		{"before 1970", ptr(""), time.Unix(-2, 500_000_000), `"","item_type":"inline","item_hash":"h","time":-1.5,"channel":null}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := base
			m.ItemContent, m.Time = tc.content, tc.time
			got, err := indexer.WriteArchive([]indexer.ArchiveMessage{m})
			require.NoError(t, err)
			require.Equal(t, head+tc.want+"]}}", string(got))
		})
	}
	_, err := indexer.WriteArchive([]indexer.ArchiveMessage{{Sender: "\xff"}})
	require.ErrorIs(t, err, indexer.ErrArchiveText)
	got, err := indexer.WriteArchive(nil)
	require.NoError(t, err)
	require.Equal(t, `{"protocol":"aleph","version":1,"content":{"messages":[]}}`, string(got))
}

// FuzzWriteArchive: what the writer writes parses back (as JSON, the
// way readers read archives) to the same messages.
func FuzzWriteArchive(f *testing.F) {
	in, _, _, _, _ := archiveVector(f)
	m := in[0]
	f.Add(m.Sender, *m.Signature, *m.ItemContent, *m.Channel, m.Time.UnixMicro(), false)
	f.Add("<&>\u2028", "\x00\"\\", "é\n", "", int64(-1), true)
	f.Fuzz(func(t *testing.T, sender, sig, content, channel string, us int64, nulls bool) {
		if us > 1<<52 || us < -(1<<52) {
			return // beyond float64's exact integers; not a datetime
		}
		msg := indexer.ArchiveMessage{Sender: sender, Chain: "ETH", Signature: &sig, Type: "POST",
			ItemContent: &content, ItemType: "inline", ItemHash: content, Time: time.UnixMicro(us), Channel: &channel}
		if nulls {
			msg.Signature, msg.ItemContent, msg.Channel = nil, nil, nil
		}
		b, err := indexer.WriteArchive([]indexer.ArchiveMessage{msg, msg})
		valid := utf8.ValidString(sender) && utf8.ValidString(content) && (nulls || utf8.ValidString(sig) && utf8.ValidString(channel))
		if !valid {
			require.ErrorIs(t, err, indexer.ErrArchiveText)
			return
		}
		require.NoError(t, err)
		var a struct {
			Protocol string `json:"protocol"`
			Version  int    `json:"version"`
			Content  struct {
				Messages []struct {
					Sender      string  `json:"sender"`
					Signature   *string `json:"signature"`
					ItemContent *string `json:"item_content"`
					ItemHash    string  `json:"item_hash"`
					Time        float64 `json:"time"`
					Channel     *string `json:"channel"`
				} `json:"messages"`
			} `json:"content"`
		}
		require.NoError(t, json.Unmarshal(b, &a), "%s", b)
		require.Equal(t, "aleph", a.Protocol)
		require.Len(t, a.Content.Messages, 2)
		got := a.Content.Messages[1]
		require.Equal(t, sender, got.Sender)
		require.Equal(t, content, got.ItemHash)
		require.Equal(t, msg.Signature, got.Signature)
		require.Equal(t, msg.ItemContent, got.ItemContent)
		require.Equal(t, msg.Channel, got.Channel)
		require.Equal(t, float64(us)/1e6, got.Time)
	})
}

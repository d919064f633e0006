package indexer

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ArchiveMessage is one message of a sync archive, as the packer writes
// it (spec §6.2): the stored message's fields, nullable ones as
// pointers (a nil is written as null).
type ArchiveMessage struct {
	Sender      string
	Chain       string
	Signature   *string
	Type        string
	ItemContent *string
	ItemType    string
	ItemHash    string
	// Time is the stored datetime; it is written as its Unix timestamp
	// at microsecond precision (Python float repr).
	Time    time.Time
	Channel *string
}

// ErrArchiveText: a string to write into an archive is not valid UTF-8.
var ErrArchiveText = errors.New("indexer: archive text is not valid UTF-8")

// WriteArchive returns the exact bytes of a sync archive holding msgs,
// as pyaleph's packer writes them (pydantic model_dump_json): compact,
// key order protocol, version, content{messages[{sender, chain,
// signature, type, item_content, item_type, item_hash, time, channel}]},
// nulls kept, strings raw UTF-8 with only '"', '\' and control
// characters escaped.
func WriteArchive(msgs []ArchiveMessage) ([]byte, error) {
	var b strings.Builder
	b.WriteString(`{"protocol":"aleph","version":1,"content":{"messages":[`)
	for i, m := range msgs {
		if i > 0 {
			b.WriteByte(',')
		}
		fields := []struct {
			key string
			val *string
		}{
			{"sender", &m.Sender}, {"chain", &m.Chain}, {"signature", m.Signature},
			{"type", &m.Type}, {"item_content", m.ItemContent}, {"item_type", &m.ItemType},
			{"item_hash", &m.ItemHash},
		}
		b.WriteByte('{')
		for _, f := range fields {
			b.WriteByte('"')
			b.WriteString(f.key)
			b.WriteString(`":`)
			if err := writeNullableString(&b, f.val); err != nil {
				return nil, fmt.Errorf("message %d %s: %w", i, f.key, err)
			}
			b.WriteByte(',')
		}
		b.WriteString(`"time":`)
		b.WriteString(PyTimestamp(m.Time))
		b.WriteString(`,"channel":`)
		if err := writeNullableString(&b, m.Channel); err != nil {
			return nil, fmt.Errorf("message %d channel: %w", i, err)
		}
		b.WriteByte('}')
	}
	b.WriteString(`]}}`)
	return []byte(b.String()), nil
}

// OnChainPayload is the string a publisher emits for an archive CID:
// {"protocol":"aleph-offchain","version":1,"content":"<CID>"}.
func OnChainPayload(cid string) string {
	var b strings.Builder
	b.WriteString(`{"protocol":"aleph-offchain","version":1,"content":`)
	_ = writeString(&b, cid) // a CID is ASCII
	b.WriteByte('}')
	return b.String()
}

// PyTimestamp writes t's Unix timestamp at microsecond precision the
// way Python's repr(datetime.timestamp()) does: shortest round-trip
// digits, ".0" on whole seconds, exponent form outside [1e-4, 1e16).
func PyTimestamp(t time.Time) string {
	us := t.Unix()*1_000_000 + int64(t.Nanosecond()/1000)
	f := float64(us) / 1e6
	a := math.Abs(f)
	if a != 0 && (a < 1e-4 || a >= 1e16) {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsRune(s, '.') {
		s += ".0"
	}
	return s
}

func writeNullableString(b *strings.Builder, s *string) error {
	if s == nil {
		b.WriteString("null")
		return nil
	}
	return writeString(b, *s)
}

const hexDigits = "0123456789abcdef"

// writeString writes s as a JSON string the way pydantic-core (serde)
// does: only '"', '\' and control characters below 0x20 are escaped.
func writeString(b *strings.Builder, s string) error {
	if !utf8.ValidString(s) {
		return ErrArchiveText
	}
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b.WriteString(s[start:i])
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			b.WriteString(`\u00`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		}
		start = i + 1
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
	return nil
}

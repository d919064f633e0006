package message

import (
	"encoding/json"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alephql/alephql/processor/errcode"
)

// maxContentTime is aleph-message's upper bound of content.time
// (MAX_CONTENT_TIME, year 2262).
const maxContentTime = 9_223_372_036.0

// Content is the validated content of a message: one of *PostContent,
// *AggregateContent, *StoreContent, *ForgetContent, *ProgramContent,
// *InstanceContent and *VProgramContent.
type Content interface {
	// Base returns the fields every content has.
	Base() *BaseContent
	// MessageType returns the message type this content belongs to.
	MessageType() Type
}

// BaseContent holds what every content has: the owner address, the content
// time, the raw JSON the node stores and serves, and the denormalized tags.
type BaseContent struct {
	// Address is the owner of the content (content.address, defaulting to
	// the sender).
	Address string
	// Time is content.time in epoch seconds (defaulting to the message
	// time, rounded to the microsecond as the reference node stores it).
	Time float64
	// Raw is the content JSON exactly as received (the item_content of an
	// inline message, the fetched bytes otherwise).
	Raw string
	// Size is the stored messages.size: characters for inline content,
	// bytes for storage and ipfs content.
	Size int

	tags     []string
	defaults []splice // edits that apply the address/time defaults to Raw
}

// Base returns b itself; it lets every content type satisfy Content.
func (b *BaseContent) Base() *BaseContent { return b }

// Tags returns the content's tags as the reference node denormalizes them:
// content.content.tags for POST and AGGREGATE, content.tags for STORE,
// content.metadata.tags for PROGRAM, INSTANCE and V-PROGRAM; only the
// strings of the list, nil when there are none.
func (b *BaseContent) Tags() []string { return b.tags }

// JSON returns the content dict the node stores and serves: Raw, with
// "address" and "time" added (or their null replaced) when they were
// defaulted. Nothing else is re-serialised.
func (b *BaseContent) JSON() []byte {
	if len(b.defaults) == 0 {
		return []byte(b.Raw)
	}
	edits := slices.Clone(b.defaults)
	slices.SortStableFunc(edits, func(x, y splice) int { return x.start - y.start })
	out := make([]byte, 0, len(b.Raw)+64)
	last := 0
	for _, sp := range edits {
		out = append(out, b.Raw[last:sp.start]...)
		out = append(out, sp.text...)
		last = sp.end
	}
	return append(out, b.Raw[last:]...)
}

// splice replaces Raw[start:end] with text.
type splice struct {
	start, end int
	text       string
}

// ParseContent validates the content of a message: inline content
// (w.ItemContent) or the bytes fetched for a storage or ipfs message. It
// applies the reference node's rules in order: the literal "\u0000" text
// is refused, the JSON must be strict and an object, "address" defaults to
// the sender and "time" to the message time, then the content must match
// the schema of the message type. Failures are INVALID_FORMAT
// *errcode.Error values naming the offending field.
func ParseContent(w *Wire, raw []byte) (Content, error) {
	return parseContent(w, string(raw), len(raw))
}

// parseContent is ParseContent on a string; size is the stored size.
func parseContent(w *Wire, raw string, size int) (Content, error) {
	if strings.Contains(raw, `\u0000`) {
		return nil, errcode.Field(errcode.InvalidFormat, "content", `content contains the text \u0000`)
	}
	doc, err := parseJSON(raw)
	if err != nil {
		return nil, &errcode.Error{Code: errcode.InvalidFormat, Field: "content", Detail: "content is not valid JSON", Err: err}
	}
	root := path{key: "content", idx: -1}
	if doc.kind != kindObject {
		return nil, wrongType(&root, "an object", &doc)
	}
	base := BaseContent{Raw: raw, Size: size}
	if err := base.read(&doc, &root, w); err != nil {
		return nil, err
	}
	switch w.Type {
	case TypePost:
		return parsePost(&doc, &root, base)
	case TypeAggregate:
		return parseAggregate(&doc, &root, base)
	case TypeStore:
		return parseStore(&doc, &root, base)
	case TypeForget:
		return parseForget(&doc, &root, base)
	case TypeProgram:
		return parseProgram(&doc, &root, base)
	case TypeInstance:
		return parseInstance(&doc, &root, base)
	case TypeVProgram:
		return parseVProgram(&doc, &root, base)
	}
	return nil, errcode.Field(errcode.InvalidFormat, "type", "unknown message type "+strconv.Quote(string(w.Type)))
}

// read fills address and time, applying the defaults.
func (b *BaseContent) read(doc *value, root *path, w *Wire) error {
	if v, ok := doc.getSet("address"); ok {
		fp := root.field("address")
		s, err := asStr(v, &fp)
		if err != nil {
			return err
		}
		b.Address = s
	} else {
		b.Address = w.Sender
		b.addDefault(doc, "address", appendJSONString(nil, w.Sender))
	}
	if v, ok := doc.getSet("time"); ok {
		fp := root.field("time")
		t, err := asFloat(v, &fp)
		if err != nil {
			return err
		}
		if !(t >= 0) || t > maxContentTime {
			return fail(&fp, "time_range", "must be between 0 and 9223372036")
		}
		b.Time = t
	} else {
		b.Time = MicrosecondTime(w.Time)
		b.addDefault(doc, "time", formatPyFloat(b.Time))
	}
	return nil
}

// addDefault records the edit that sets key to the JSON text val in the
// stored dict: in place of a null, or appended as Python appends a new key.
func (b *BaseContent) addDefault(doc *value, key string, val []byte) {
	if v, ok := doc.get(key); ok { // present and null
		b.defaults = append(b.defaults, splice{start: v.start, end: v.end, text: string(val)})
		return
	}
	text := make([]byte, 0, len(key)+len(val)+4)
	if len(doc.members) > 0 || b.appended() {
		text = append(text, ',')
	}
	text = appendJSONString(text, key)
	text = append(text, ':')
	text = append(text, val...)
	end := doc.end - 1 // the closing brace
	b.defaults = append(b.defaults, splice{start: end, end: end, text: string(text)})
}

// appended reports whether a default was already appended at the end.
func (b *BaseContent) appended() bool {
	for _, sp := range b.defaults {
		if sp.start == sp.end {
			return true
		}
	}
	return false
}

// MicrosecondTime rounds an epoch time to the microsecond like Python's
// datetime.fromtimestamp (half to even) and back to a float like
// datetime.timestamp: the value the reference node stores for a message
// time, and uses when it defaults content.time.
func MicrosecondTime(t float64) float64 {
	us := microseconds(t)
	if us > -(1<<53) && us < 1<<53 {
		return float64(us) / 1e6
	}
	f, _ := new(big.Rat).SetFrac64(us, 1_000_000).Float64()
	return f
}

// microseconds returns t in whole microseconds, rounded like CPython.
func microseconds(t float64) int64 {
	intPart, frac := math.Modf(t)
	us := math.RoundToEven(frac * 1e6)
	if us >= 1e6 {
		us -= 1e6
		intPart++
	} else if us < 0 {
		us += 1e6
		intPart--
	}
	return int64(intPart)*1_000_000 + int64(us)
}

// Timestamp converts an epoch time to a UTC time with the reference node's
// microsecond rounding.
func Timestamp(t float64) time.Time {
	return time.UnixMicro(microseconds(t)).UTC()
}

// formatPyFloat formats f as Python's repr would for the times this
// package writes: fixed notation with at least one decimal.
func formatPyFloat(f float64) []byte {
	b := strconv.AppendFloat(nil, f, 'f', -1, 64)
	for _, c := range b {
		if c == '.' {
			return b
		}
	}
	return append(b, '.', '0')
}

// appendJSONString appends s as a JSON string, escaping only what JSON
// requires (orjson style).
func appendJSONString(dst []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
			i++
		case c < 0x20:
			switch c {
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
		}
	}
	return append(dst, '"')
}

// rawText returns the JSON text of v in the content, or nil for a JSON
// null.
func rawText(src string, v *value) json.RawMessage {
	if v == nil || v.kind == kindNull {
		return nil
	}
	return json.RawMessage(src[v.start:v.end])
}

// tagsOf returns the string items of a tags list, as pyaleph's
// extract_tags does: nil unless v is a non-empty list with strings.
func tagsOf(v *value) []string {
	if v == nil || v.kind != kindArray || len(v.items) == 0 {
		return nil
	}
	var out []string
	for i := range v.items {
		if v.items[i].kind == kindString {
			out = append(out, v.items[i].s)
		}
	}
	return out
}

// Tag limits (aleph-message Tag, MAX_N_TAGS).
const (
	maxTags      = 16
	maxTagLength = 256
)

// checkNestedTags applies aleph-message's nested tags rule to a user
// content dict: when it has a non-null "tags", it must be a list of at most
// 16 strings of 1 to 256 characters. It returns the denormalized tags.
func checkNestedTags(v *value, p *path) ([]string, error) {
	if v == nil || v.kind != kindObject {
		return nil, nil
	}
	tags, ok := v.getSet("tags")
	if !ok {
		return nil, nil
	}
	tp := p.field("tags")
	if _, err := asStrList(tags, &tp, maxTags, 1, maxTagLength); err != nil {
		return nil, err
	}
	return tagsOf(tags), nil
}

// errContent is the INVALID_FORMAT error for a model-level rule.
func errContent(p *path, detail string) *errcode.Error { return fail(p, "value_error", detail) }

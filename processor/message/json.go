package message

import (
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// The strict JSON reader of the package. It accepts exactly what orjson,
// the reference node's parser, accepts, because a message one node rejects
// and another accepts makes the nodes diverge:
//
//   - RFC 8259 grammar only: no NaN, Infinity, comments, trailing commas,
//     leading zeros, or raw control characters in strings;
//   - valid UTF-8 only, and no lone surrogate in \u escapes;
//   - at most maxDepth nested arrays and objects;
//   - integers in [-2^63, 2^64-1] are integers; longer integer literals
//     become floats, as orjson makes them; any number that overflows a
//     float64 is an error.
//
// It reads from a string so that every unescaped string value is a
// substring of the input: a whole message costs one copy of its bytes plus
// one allocation per escaped string, array and object.

// maxDepth is the deepest nesting of arrays and objects accepted.
const maxDepth = 1024

// kind is the JSON type of a value.
type kind uint8

// JSON value kinds.
const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

// String names the kind as error messages do.
func (k kind) String() string {
	switch k {
	case kindNull:
		return "null"
	case kindBool:
		return "a boolean"
	case kindNumber:
		return "a number"
	case kindString:
		return "a string"
	case kindArray:
		return "an array"
	case kindObject:
		return "an object"
	}
	return "?"
}

// value is one parsed JSON value.
type value struct {
	kind kind
	// isInt marks a number literal without fraction or exponent that fits
	// in [-2^63, 2^64-1].
	isInt bool
	// b is the value of a boolean.
	b bool
	// s is the decoded text of a string, or the literal of a number.
	s string
	// f is the float64 value of a number.
	f float64
	// items are the elements of an array.
	items []value
	// members are the members of an object, in input order, duplicates
	// included (lookups take the last, as Python dicts do).
	members []member
	// start and end delimit the value in the input.
	start, end int
}

// member is one key/value pair of an object.
type member struct {
	key string
	val value
}

// get returns the value of key in an object: the last one when the key is
// repeated, as in a Python dict.
func (v *value) get(key string) (*value, bool) {
	for i := len(v.members) - 1; i >= 0; i-- {
		if v.members[i].key == key {
			return &v.members[i].val, true
		}
	}
	return nil, false
}

// getSet returns the value of key when it is present and not null, which
// is how the reference node treats optional fields.
func (v *value) getSet(key string) (*value, bool) {
	x, ok := v.get(key)
	if !ok || x.kind == kindNull {
		return nil, false
	}
	return x, true
}

// truthy reports Python truthiness of the decoded value.
func (v *value) truthy() bool {
	switch v.kind {
	case kindBool:
		return v.b
	case kindNumber:
		return v.f != 0
	case kindString:
		return v.s != ""
	case kindArray:
		return len(v.items) > 0
	case kindObject:
		return len(v.members) > 0
	}
	return false
}

// int64Value returns the integer value of an integer number literal.
func (v *value) int64Value() (int64, bool) {
	if v.kind != kindNumber || !v.isInt {
		return 0, false
	}
	n, err := strconv.ParseInt(v.s, 10, 64)
	return n, err == nil
}

// jsonError is a syntax error at a byte offset.
type jsonError struct {
	off int
	msg string
}

func (e *jsonError) Error() string { return e.msg + " at offset " + strconv.Itoa(e.off) }

// decoder holds the parser's state. Arrays and objects collect their
// children on a scratch stack, then copy them into a slab sized for the
// whole document, so a document costs a few allocations whatever its shape.
type decoder struct {
	s   string
	pos int

	memStack []member
	valStack []value
	memSlab  []member
	valSlab  []value
}

// parseJSON parses one JSON document, with optional surrounding
// whitespace, from s.
func parseJSON(s string) (value, error) {
	d := decoder{s: s}
	// Slabs grow by append: a reallocation leaves the sub-slices already
	// handed out pointing at the old, still valid, backing array.
	d.memStack = make([]member, 0, 16)
	d.skipSpace()
	v, err := d.value(0)
	if err != nil {
		return value{}, err
	}
	d.skipSpace()
	if d.pos != len(d.s) {
		return value{}, d.errf("trailing data after the JSON document")
	}
	return v, nil
}

func (d *decoder) errf(msg string) error { return &jsonError{off: d.pos, msg: msg} }

func (d *decoder) skipSpace() {
	for d.pos < len(d.s) {
		switch d.s[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) value(depth int) (value, error) {
	if d.pos >= len(d.s) {
		return value{}, d.errf("unexpected end of JSON input")
	}
	start := d.pos
	switch c := d.s[d.pos]; {
	case c == '{':
		return d.object(depth + 1)
	case c == '[':
		return d.array(depth + 1)
	case c == '"':
		s, err := d.str()
		if err != nil {
			return value{}, err
		}
		return value{kind: kindString, s: s, start: start, end: d.pos}, nil
	case c == 't':
		return d.literal("true", value{kind: kindBool, b: true})
	case c == 'f':
		return d.literal("false", value{kind: kindBool})
	case c == 'n':
		return d.literal("null", value{kind: kindNull})
	case c == '-' || ('0' <= c && c <= '9'):
		return d.number()
	default:
		return value{}, d.errf("invalid character " + strconv.QuoteRune(rune(c)) + " looking for a value")
	}
}

func (d *decoder) literal(lit string, v value) (value, error) {
	if len(d.s)-d.pos < len(lit) || d.s[d.pos:d.pos+len(lit)] != lit {
		return value{}, d.errf("invalid literal")
	}
	v.start = d.pos
	d.pos += len(lit)
	v.end = d.pos
	return v, nil
}

func (d *decoder) object(depth int) (value, error) {
	if depth > maxDepth {
		return value{}, d.errf("JSON nested too deeply")
	}
	v := value{kind: kindObject, start: d.pos}
	d.pos++ // {
	d.skipSpace()
	if d.pos < len(d.s) && d.s[d.pos] == '}' {
		d.pos++
		v.end = d.pos
		return v, nil
	}
	base := len(d.memStack)
	for {
		if d.pos >= len(d.s) || d.s[d.pos] != '"' {
			return value{}, d.errf("expected a string object key")
		}
		key, err := d.str()
		if err != nil {
			return value{}, err
		}
		d.skipSpace()
		if d.pos >= len(d.s) || d.s[d.pos] != ':' {
			return value{}, d.errf("expected ':' after object key")
		}
		d.pos++
		d.skipSpace()
		val, err := d.value(depth)
		if err != nil {
			return value{}, err
		}
		d.memStack = append(d.memStack, member{key: key, val: val})
		d.skipSpace()
		if d.pos >= len(d.s) {
			return value{}, d.errf("unexpected end of JSON input in object")
		}
		switch d.s[d.pos] {
		case ',':
			d.pos++
			d.skipSpace()
		case '}':
			d.pos++
			v.end = d.pos
			start := len(d.memSlab)
			d.memSlab = append(d.memSlab, d.memStack[base:]...)
			v.members = d.memSlab[start:len(d.memSlab):len(d.memSlab)]
			d.memStack = d.memStack[:base]
			return v, nil
		default:
			return value{}, d.errf("expected ',' or '}' in object")
		}
	}
}

func (d *decoder) array(depth int) (value, error) {
	if depth > maxDepth {
		return value{}, d.errf("JSON nested too deeply")
	}
	v := value{kind: kindArray, start: d.pos}
	d.pos++ // [
	d.skipSpace()
	if d.pos < len(d.s) && d.s[d.pos] == ']' {
		d.pos++
		v.end = d.pos
		return v, nil
	}
	base := len(d.valStack)
	for {
		item, err := d.value(depth)
		if err != nil {
			return value{}, err
		}
		d.valStack = append(d.valStack, item)
		d.skipSpace()
		if d.pos >= len(d.s) {
			return value{}, d.errf("unexpected end of JSON input in array")
		}
		switch d.s[d.pos] {
		case ',':
			d.pos++
			d.skipSpace()
		case ']':
			d.pos++
			v.end = d.pos
			start := len(d.valSlab)
			d.valSlab = append(d.valSlab, d.valStack[base:]...)
			v.items = d.valSlab[start:len(d.valSlab):len(d.valSlab)]
			d.valStack = d.valStack[:base]
			return v, nil
		default:
			return value{}, d.errf("expected ',' or ']' in array")
		}
	}
}

// str reads a string starting at the opening quote and returns its decoded
// text: a substring of the input when it has no escape.
func (d *decoder) str() (string, error) {
	d.pos++ // opening quote
	start := d.pos
	for d.pos < len(d.s) {
		c := d.s[d.pos]
		switch {
		case c == '"':
			s := d.s[start:d.pos]
			d.pos++
			return s, nil
		case c == '\\':
			return d.strEscaped(start)
		case c < 0x20:
			return "", d.errf("control character in string")
		case c < utf8.RuneSelf:
			d.pos++
		default:
			r, size := utf8.DecodeRuneInString(d.s[d.pos:])
			if r == utf8.RuneError && size == 1 {
				return "", d.errf("invalid UTF-8 in string")
			}
			d.pos += size
		}
	}
	return "", d.errf("unterminated string")
}

// strEscaped decodes the rest of a string that has an escape; start is the
// offset of its first character.
func (d *decoder) strEscaped(start int) (string, error) {
	buf := make([]byte, 0, d.pos-start+16)
	buf = append(buf, d.s[start:d.pos]...)
	for d.pos < len(d.s) {
		c := d.s[d.pos]
		switch {
		case c == '"':
			d.pos++
			// buf is fresh and never written again: share it.
			return unsafe.String(unsafe.SliceData(buf), len(buf)), nil
		case c == '\\':
			d.pos++
			if d.pos >= len(d.s) {
				return "", d.errf("unterminated string")
			}
			e := d.s[d.pos]
			d.pos++
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, err := d.hex4()
				if err != nil {
					return "", err
				}
				if utf16.IsSurrogate(r) {
					if r >= 0xdc00 {
						return "", d.errf("lone low surrogate in \\u escape")
					}
					if d.pos+1 >= len(d.s) || d.s[d.pos] != '\\' || d.s[d.pos+1] != 'u' {
						return "", d.errf("lone high surrogate in \\u escape")
					}
					d.pos += 2
					r2, err := d.hex4()
					if err != nil {
						return "", err
					}
					r = utf16.DecodeRune(r, r2)
					if r == utf8.RuneError {
						return "", d.errf("invalid surrogate pair in \\u escape")
					}
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", d.errf("invalid escape in string")
			}
		case c < 0x20:
			return "", d.errf("control character in string")
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			d.pos++
		default:
			r, size := utf8.DecodeRuneInString(d.s[d.pos:])
			if r == utf8.RuneError && size == 1 {
				return "", d.errf("invalid UTF-8 in string")
			}
			buf = append(buf, d.s[d.pos:d.pos+size]...)
			d.pos += size
		}
	}
	return "", d.errf("unterminated string")
}

func (d *decoder) hex4() (rune, error) {
	if len(d.s)-d.pos < 4 {
		return 0, d.errf("short \\u escape")
	}
	var r rune
	for i := 0; i < 4; i++ {
		c := d.s[d.pos+i]
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, d.errf("invalid \\u escape")
		}
	}
	d.pos += 4
	return r, nil
}

// number reads a number with the RFC 8259 grammar.
func (d *decoder) number() (value, error) {
	start := d.pos
	if d.s[d.pos] == '-' {
		d.pos++
	}
	digits := d.pos
	if d.pos >= len(d.s) {
		return value{}, d.errf("invalid number")
	}
	switch c := d.s[d.pos]; {
	case c == '0':
		d.pos++
	case '1' <= c && c <= '9':
		for d.pos < len(d.s) && '0' <= d.s[d.pos] && d.s[d.pos] <= '9' {
			d.pos++
		}
	default:
		return value{}, d.errf("invalid number")
	}
	nDigits := d.pos - digits
	isInt := true
	if d.pos < len(d.s) && d.s[d.pos] == '.' {
		isInt = false
		d.pos++
		if !d.digits() {
			return value{}, d.errf("invalid number: no digit after the decimal point")
		}
	}
	if d.pos < len(d.s) && (d.s[d.pos] == 'e' || d.s[d.pos] == 'E') {
		isInt = false
		d.pos++
		if d.pos < len(d.s) && (d.s[d.pos] == '+' || d.s[d.pos] == '-') {
			d.pos++
		}
		if !d.digits() {
			return value{}, d.errf("invalid number: no digit in the exponent")
		}
	}
	lit := d.s[start:d.pos]
	v := value{kind: kindNumber, s: lit, start: start, end: d.pos}
	if isInt && nDigits < 19 {
		// Fast path: fits in an int64, exact in the float when < 2^53.
		var n int64
		for i := digits; i < d.pos; i++ {
			n = n*10 + int64(d.s[i]-'0')
		}
		if start != digits {
			n = -n
		}
		v.isInt, v.f = true, float64(n)
		return v, nil
	}
	if isInt {
		if start != digits {
			if _, err := strconv.ParseInt(lit, 10, 64); err == nil {
				v.isInt = true
			}
		} else if _, err := strconv.ParseUint(lit, 10, 64); err == nil {
			v.isInt = true
		}
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsInf(f, 0) {
		return value{}, &jsonError{off: start, msg: "number out of range"}
	}
	v.f = f
	return v, nil
}

func (d *decoder) digits() bool {
	start := d.pos
	for d.pos < len(d.s) && '0' <= d.s[d.pos] && d.s[d.pos] <= '9' {
		d.pos++
	}
	return d.pos > start
}

package ipfs

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// CanonicalJSON re-serializes a JSON document the way the reference node's
// add_json endpoints do before hashing it (protocol reference §12 item 2):
// the body is parsed as Python's json.loads parses it, then written by
// orjson with sorted keys and no whitespace (orjson.OPT_SORT_KEYS). The
// hash of an uploaded document is the hash of these bytes, not of the
// uploaded ones.
//
// The rules that matter for byte equality, all checked against orjson:
//   - keys sorted by code point, the last of duplicate keys wins;
//   - strings keep non-ASCII characters as UTF-8 and escape only '"', '\',
//     and control characters (\b \t \n \f \r, else \u00xx in lowercase);
//   - integers are written digit for digit; numbers with a fraction or an
//     exponent are doubles written in shortest round-trip form ("1.0",
//     "1e16", "0.00001", "1e-6"); NaN and ±Infinity (which json.loads
//     accepts) and overflowing literals such as 1e400 become null.
//
// Where orjson refuses the value (an integer outside the 64-bit range or a
// lone UTF-16 surrogate), the reference node falls back to Python's
// json.dumps(sort_keys=True): ", " and ": " separators, ASCII output with
// \uXXXX escapes, Python float repr ("1e+16"), NaN and Infinity literals.
// CanonicalJSON does the same.
func CanonicalJSON(doc []byte) ([]byte, error) {
	if !utf8.Valid(doc) {
		return nil, fmt.Errorf("%w: not UTF-8", ErrInvalidJSON)
	}
	p := jsonParser{s: doc}
	p.skipSpace()
	if bytes.HasPrefix(p.s[p.i:], []byte("\uFEFF")) {
		return nil, fmt.Errorf("%w: unexpected byte order mark", ErrInvalidJSON)
	}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("%w: extra data at offset %d", ErrInvalidJSON, p.i)
	}
	var out bytes.Buffer
	out.Grow(len(doc))
	if orjsonRefuses(v) {
		writePython(&out, v)
	} else {
		writeOrjson(&out, v)
	}
	return out.Bytes(), nil
}

// maxJSONDepth approximates the nesting at which Python's json.loads runs
// out of recursion.
const maxJSONDepth = 990

type jsonKind uint8

const (
	jNull jsonKind = iota
	jFalse
	jTrue
	jInt
	jFloat
	jString
	jArray
	jObject
)

type jsonValue struct {
	kind jsonKind
	text string // jInt: digits; jString: WTF-8 (lone surrogates kept)
	big  bool   // jInt outside orjson's range [-2^63, 2^64-1]
	f    float64
	arr  []*jsonValue
	keys []string // jObject: sorted, unique
	vals []*jsonValue
}

type jsonParser struct {
	s []byte
	i int
}

// orjsonRefuses reports whether the parsed document holds a value orjson
// cannot serialize (so the reference node's json.dumps fallback writes it).
// It looks at the final tree: a value dropped as a duplicate key does not
// count.
func orjsonRefuses(v *jsonValue) bool {
	switch v.kind {
	case jInt:
		return v.big
	case jString:
		return hasSurrogate(v.text)
	case jArray:
		return slices.ContainsFunc(v.arr, orjsonRefuses)
	case jObject:
		return slices.ContainsFunc(v.keys, hasSurrogate) || slices.ContainsFunc(v.vals, orjsonRefuses)
	}
	return false
}

// hasSurrogate reports whether a WTF-8 string holds an encoded surrogate.
func hasSurrogate(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == 0xED && s[i+1] >= 0xA0 {
			return true
		}
	}
	return false
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", ErrInvalidJSON, fmt.Sprintf(format, args...), p.i)
}

func (p *jsonParser) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) literal(word string) bool {
	if bytes.HasPrefix(p.s[p.i:], []byte(word)) {
		p.i += len(word)
		return true
	}
	return false
}

func (p *jsonParser) value(depth int) (*jsonValue, error) {
	if depth > maxJSONDepth {
		return nil, p.errorf("nesting deeper than %d", maxJSONDepth)
	}
	p.skipSpace()
	if p.i >= len(p.s) {
		return nil, p.errorf("unexpected end")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return &jsonValue{kind: jString, text: s}, nil
	case p.literal("null"):
		return &jsonValue{kind: jNull}, nil
	case p.literal("true"):
		return &jsonValue{kind: jTrue}, nil
	case p.literal("false"):
		return &jsonValue{kind: jFalse}, nil
	case p.literal("NaN"):
		return &jsonValue{kind: jFloat, f: math.NaN()}, nil
	case p.literal("Infinity"):
		return &jsonValue{kind: jFloat, f: math.Inf(1)}, nil
	case p.literal("-Infinity"):
		return &jsonValue{kind: jFloat, f: math.Inf(-1)}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		return nil, p.errorf("unexpected character %q", c)
	}
}

func (p *jsonParser) object(depth int) (*jsonValue, error) {
	p.i++ // {
	fields := map[string]*jsonValue{}
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return &jsonValue{kind: jObject}, nil
	}
	for {
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, p.errorf("expected a property name")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.errorf("expected ':'")
		}
		p.i++
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		fields[k] = v // the last duplicate wins, as in a Python dict
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, p.errorf("unexpected end")
		}
		if p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.s[p.i] == '}' {
			p.i++
			break
		}
		return nil, p.errorf("expected ',' or '}'")
	}
	o := &jsonValue{kind: jObject, keys: make([]string, 0, len(fields))}
	for k := range fields {
		o.keys = append(o.keys, k)
	}
	// Byte order of UTF-8 (and of WTF-8 for lone surrogates) is code point
	// order, which is how Python and orjson sort keys.
	slices.Sort(o.keys)
	o.vals = make([]*jsonValue, len(o.keys))
	for i, k := range o.keys {
		o.vals[i] = fields[k]
	}
	return o, nil
}

func (p *jsonParser) array(depth int) (*jsonValue, error) {
	p.i++ // [
	a := &jsonValue{kind: jArray}
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return a, nil
	}
	for {
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a.arr = append(a.arr, v)
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, p.errorf("unexpected end")
		}
		if p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.s[p.i] == ']' {
			p.i++
			return a, nil
		}
		return nil, p.errorf("expected ',' or ']'")
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (p *jsonParser) number() (*jsonValue, error) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.s) && p.s[p.i] == '0':
		p.i++
	case p.i < len(p.s) && p.s[p.i] >= '1' && p.s[p.i] <= '9':
		for p.i < len(p.s) && isDigit(p.s[p.i]) {
			p.i++
		}
	default:
		return nil, p.errorf("invalid number")
	}
	isFloat := false
	// Like Python's scanner, a '.' or 'e' not followed by digits ends the
	// number there (and the leftover character is then a syntax error).
	if p.i+1 < len(p.s) && p.s[p.i] == '.' && isDigit(p.s[p.i+1]) {
		isFloat = true
		p.i++
		for p.i < len(p.s) && isDigit(p.s[p.i]) {
			p.i++
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		j := p.i + 1
		if j < len(p.s) && (p.s[j] == '+' || p.s[j] == '-') {
			j++
		}
		if j < len(p.s) && isDigit(p.s[j]) {
			isFloat = true
			for j < len(p.s) && isDigit(p.s[j]) {
				j++
			}
			p.i = j
		}
	}
	text := string(p.s[start:p.i])
	if !isFloat {
		if text == "-0" {
			text = "0"
		}
		_, errSigned := strconv.ParseInt(text, 10, 64)
		_, errUnsigned := strconv.ParseUint(text, 10, 64)
		// orjson: "Integer exceeds 64-bit range"
		return &jsonValue{kind: jInt, text: text, big: errSigned != nil && errUnsigned != nil}, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !isRangeError(err) {
		return nil, p.errorf("invalid number %q", text)
	}
	return &jsonValue{kind: jFloat, f: f}, nil // ±Inf on overflow, like float()
}

func isRangeError(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	var r rune
	for k := 0; k < 4; k++ {
		h := hexVal(p.s[p.i+k])
		if h < 0 {
			return 0, false
		}
		r = r<<4 | rune(h)
	}
	p.i += 4
	return r, true
}

// str parses a string literal. Lone surrogates from \u escapes are kept in
// WTF-8 form.
func (p *jsonParser) str() (string, error) {
	p.i++ // "
	var b strings.Builder
	for {
		if p.i >= len(p.s) {
			return "", p.errorf("unterminated string")
		}
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), nil
		case c < 0x20:
			return "", p.errorf("invalid control character in string")
		case c != '\\':
			b.WriteByte(c)
			p.i++
			continue
		}
		p.i++ // backslash
		if p.i >= len(p.s) {
			return "", p.errorf("unterminated string")
		}
		e := p.s[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.errorf("invalid \\u escape")
			}
			if r >= 0xD800 && r <= 0xDBFF && p.i+6 <= len(p.s) && p.s[p.i] == '\\' && p.s[p.i+1] == 'u' {
				save := p.i
				p.i += 2
				if lo, ok := p.hex4(); ok && lo >= 0xDC00 && lo <= 0xDFFF {
					b.WriteRune(0x10000 + (r-0xD800)<<10 + (lo - 0xDC00))
					continue
				}
				p.i = save
			}
			if r >= 0xD800 && r <= 0xDFFF { // orjson refuses these: see orjsonRefuses
				b.WriteByte(byte(0xE0 | r>>12))
				b.WriteByte(byte(0x80 | (r>>6)&0x3F))
				b.WriteByte(byte(0x80 | r&0x3F))
				continue
			}
			b.WriteRune(r)
		default:
			return "", p.errorf("invalid escape \\%c", e)
		}
	}
}

const hexDigits = "0123456789abcdef"

// jsonStyle is how one serializer spells JSON: orjson's compact form, or
// Python's json.dumps defaults.
type jsonStyle struct {
	itemSep, keySep string
	float           func(float64) string
	str             func(*bytes.Buffer, string)
}

var (
	orjsonStyle = jsonStyle{itemSep: ",", keySep: ":", float: orjsonFloat, str: writeOrjsonString}
	pythonStyle = jsonStyle{itemSep: ", ", keySep: ": ", float: pythonFloat, str: writePythonString}
)

// write serializes v in this style.
func (st *jsonStyle) write(out *bytes.Buffer, v *jsonValue) {
	switch v.kind {
	case jNull:
		out.WriteString("null")
	case jTrue:
		out.WriteString("true")
	case jFalse:
		out.WriteString("false")
	case jInt:
		out.WriteString(v.text)
	case jFloat:
		out.WriteString(st.float(v.f))
	case jString:
		st.str(out, v.text)
	case jArray:
		out.WriteByte('[')
		for i, e := range v.arr {
			if i > 0 {
				out.WriteString(st.itemSep)
			}
			st.write(out, e)
		}
		out.WriteByte(']')
	case jObject:
		out.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				out.WriteString(st.itemSep)
			}
			st.str(out, k)
			out.WriteString(st.keySep)
			st.write(out, v.vals[i])
		}
		out.WriteByte('}')
	}
}

func writeOrjson(out *bytes.Buffer, v *jsonValue) { orjsonStyle.write(out, v) }

func writeOrjsonString(out *bytes.Buffer, s string) {
	out.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			out.WriteString(`\"`)
		case c == '\\':
			out.WriteString(`\\`)
		case c >= 0x20:
			out.WriteByte(c)
		case c == '\b':
			out.WriteString(`\b`)
		case c == '\t':
			out.WriteString(`\t`)
		case c == '\n':
			out.WriteString(`\n`)
		case c == '\f':
			out.WriteString(`\f`)
		case c == '\r':
			out.WriteString(`\r`)
		default:
			out.WriteString(`\u00`)
			out.WriteByte(hexDigits[c>>4])
			out.WriteByte(hexDigits[c&0xF])
		}
	}
	out.WriteByte('"')
}

// shortestDigits returns the shortest decimal digits d1d2…dn that round
// trip to |f|, and the exponent x with |f| = d1.d2…dn × 10^x.
func shortestDigits(f float64) (string, int) {
	s := strconv.FormatFloat(math.Abs(f), 'e', -1, 64) // d.ddde±xx
	mant, exp, _ := strings.Cut(s, "e")
	x, _ := strconv.Atoi(exp)
	return strings.Replace(mant, ".", "", 1), x
}

// orjsonFloat formats a double as orjson does (ryu's "pretty" layout).
func orjsonFloat(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "null"
	}
	digits, x := shortestDigits(f)
	n := len(digits)
	e := x - (n - 1) // f = digits × 10^e
	kk := x + 1      // position of the decimal point
	var b strings.Builder
	if math.Signbit(f) {
		b.WriteByte('-')
	}
	switch {
	case e >= 0 && kk <= 16:
		b.WriteString(digits)
		b.WriteString(strings.Repeat("0", e))
		b.WriteString(".0")
	case kk > 0 && kk <= 16:
		b.WriteString(digits[:kk])
		b.WriteByte('.')
		b.WriteString(digits[kk:])
	case kk > -5 && kk <= 0:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -kk))
		b.WriteString(digits)
	default:
		b.WriteByte(digits[0])
		if n > 1 {
			b.WriteByte('.')
			b.WriteString(digits[1:])
		}
		b.WriteByte('e')
		b.WriteString(strconv.Itoa(kk - 1))
	}
	return b.String()
}

// pythonFloat formats a double as Python's json.dumps does (float repr).
func pythonFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	digits, x := shortestDigits(f)
	n := len(digits)
	var b strings.Builder
	if math.Signbit(f) {
		b.WriteByte('-')
	}
	switch {
	case x < -4 || x >= 16:
		b.WriteByte(digits[0])
		if n > 1 {
			b.WriteByte('.')
			b.WriteString(digits[1:])
		}
		b.WriteByte('e')
		if x < 0 {
			b.WriteByte('-')
			x = -x
		} else {
			b.WriteByte('+')
		}
		if x < 10 {
			b.WriteByte('0')
		}
		b.WriteString(strconv.Itoa(x))
	case x >= n-1:
		b.WriteString(digits)
		b.WriteString(strings.Repeat("0", x-(n-1)))
		b.WriteString(".0")
	case x >= 0:
		b.WriteString(digits[:x+1])
		b.WriteByte('.')
		b.WriteString(digits[x+1:])
	default:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -x-1))
		b.WriteString(digits)
	}
	return b.String()
}

func writePython(out *bytes.Buffer, v *jsonValue) { pythonStyle.write(out, v) }

// writePythonString writes s (WTF-8) as json.dumps with ensure_ascii does.
func writePythonString(out *bytes.Buffer, s string) {
	u4 := func(r rune) {
		out.WriteString(`\u`)
		out.WriteByte(hexDigits[r>>12&0xF])
		out.WriteByte(hexDigits[r>>8&0xF])
		out.WriteByte(hexDigits[r>>4&0xF])
		out.WriteByte(hexDigits[r&0xF])
	}
	out.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			switch {
			case c == '"':
				out.WriteString(`\"`)
			case c == '\\':
				out.WriteString(`\\`)
			case c == '\n':
				out.WriteString(`\n`)
			case c == '\r':
				out.WriteString(`\r`)
			case c == '\t':
				out.WriteString(`\t`)
			case c == '\b':
				out.WriteString(`\b`)
			case c == '\f':
				out.WriteString(`\f`)
			case c < 0x20 || c == 0x7F:
				u4(rune(c))
			default:
				out.WriteByte(c)
			}
			i++
			continue
		}
		// A WTF-8 encoded surrogate (ED A0..BF xx) that utf8 refuses.
		if c == 0xED && i+2 < len(s) && s[i+1] >= 0xA0 {
			u4(rune(c&0x0F)<<12 | rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F))
			i += 3
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r >= 0x10000 {
			r -= 0x10000
			u4(0xD800 + r>>10)
			u4(0xDC00 + r&0x3FF)
		} else {
			u4(r)
		}
		i += size
	}
	out.WriteByte('"')
}

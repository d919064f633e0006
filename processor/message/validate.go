package message

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/alephql/alephql/processor/errcode"
)

// This file holds the building blocks of the content schemas: field paths
// for error messages, and readers that coerce JSON values the way the
// reference node's pydantic models do in their default "lax" mode, so that
// alephql accepts exactly the messages pyaleph accepts:
//
//   - str fields take only strings;
//   - bool fields take booleans, the integers 0 and 1 (and 0.0, 1.0), and
//     the strings pydantic knows ("true", "no", "1", ...);
//   - int fields take integers, floats without fraction, booleans and
//     decimal strings; "strict" int fields take only integers;
//   - float fields take numbers and booleans (pydantic also parses numeric
//     strings, but the reference node then fails outside validation on a
//     string time, so alephql rejects them).

// Issue is one validation problem, shaped like one entry of pydantic's
// ValidationError.errors(): it is what rejected_messages.details holds for
// an INVALID_FORMAT rejection.
type Issue struct {
	// Loc is the path of the field: keys (strings) and list indexes (ints).
	Loc []any `json:"loc"`
	// Msg is the human reason.
	Msg string `json:"msg"`
	// Type is a short machine-readable category, e.g. "missing".
	Type string `json:"type"`
}

// path is a JSON path built on the stack while validating; it is turned
// into a string only when a field fails.
type path struct {
	parent *path
	key    string
	idx    int // -1 for an object key
}

func (p *path) field(key string) path { return path{parent: p, key: key, idx: -1} }
func (p *path) index(i int) path      { return path{parent: p, idx: i} }

// loc returns the path as pydantic-style location items.
func (p *path) loc() []any {
	var out []any
	for q := p; q != nil; q = q.parent {
		if q.idx >= 0 {
			out = append(out, q.idx)
		} else if q.key != "" {
			out = append(out, q.key)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// String returns the path as "content.volumes[2].size_mib".
func (p *path) String() string {
	var b strings.Builder
	for i, l := range p.loc() {
		switch x := l.(type) {
		case int:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(x))
			b.WriteByte(']')
		case string:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(x)
		}
	}
	return b.String()
}

// fail returns the INVALID_FORMAT error for the field at p.
func fail(p *path, typ, detail string) *errcode.Error {
	field := p.String()
	return &errcode.Error{
		Code:    errcode.InvalidFormat,
		Field:   field,
		Detail:  detail,
		Details: []Issue{{Loc: p.loc(), Msg: detail, Type: typ}},
	}
}

func missing(p *path) *errcode.Error { return fail(p, "missing", "field required") }

func wrongType(p *path, want string, v *value) *errcode.Error {
	return fail(p, "type_error", "must be "+want+", not "+v.kind.String())
}

// runeLen is Python's len() of a str: the number of code points.
func runeLen(s string) int { return utf8.RuneCountInString(s) }

// getStr reads a required string field.
func getStr(o *value, p *path, key string) (string, error) {
	fp := p.field(key)
	v, ok := o.get(key)
	if !ok {
		return "", missing(&fp)
	}
	return asStr(v, &fp)
}

// getOptStr reads an optional string field: "" when absent or null.
func getOptStr(o *value, p *path, key string, maxLen int) (string, error) {
	v, ok := o.getSet(key)
	if !ok {
		return "", nil
	}
	fp := p.field(key)
	s, err := asStr(v, &fp)
	if err != nil {
		return "", err
	}
	if maxLen > 0 && len(s) > maxLen && runeLen(s) > maxLen {
		return "", fail(&fp, "string_too_long", "must have at most "+strconv.Itoa(maxLen)+" characters")
	}
	return s, nil
}

func asStr(v *value, p *path) (string, error) {
	if v.kind != kindString {
		return "", wrongType(p, "a string", v)
	}
	return v.s, nil
}

// asBool coerces like pydantic's lax bool.
func asBool(v *value, p *path) (bool, error) {
	switch v.kind {
	case kindBool:
		return v.b, nil
	case kindNumber:
		if v.f == 0 {
			return false, nil
		}
		if v.f == 1 {
			return true, nil
		}
	case kindString:
		switch strings.ToLower(strings.TrimSpace(v.s)) {
		case "0", "off", "f", "false", "n", "no":
			return false, nil
		case "1", "on", "t", "true", "y", "yes":
			return true, nil
		}
	}
	return false, fail(p, "bool_parsing", "must be a boolean")
}

// getBool reads a bool field with a default.
func getBool(o *value, p *path, key string, def bool) (bool, error) {
	v, ok := o.get(key)
	if !ok {
		return def, nil
	}
	fp := p.field(key)
	return asBool(v, &fp)
}

// getOptBool reads an Optional[bool] field: nil when absent or null.
func getOptBool(o *value, p *path, key string) (*bool, error) {
	v, ok := o.getSet(key)
	if !ok {
		return nil, nil
	}
	fp := p.field(key)
	b, err := asBool(v, &fp)
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// asInt coerces like pydantic's int; strict accepts only integer literals.
func asInt(v *value, p *path, strict bool) (int64, error) {
	switch v.kind {
	case kindNumber:
		if v.isInt {
			if n, ok := v.int64Value(); ok {
				return n, nil
			}
			return 0, fail(p, "int_range", "integer out of range")
		}
		if strict {
			return 0, fail(p, "int_type", "must be an integer")
		}
		if v.f != float64(int64(v.f)) || v.f >= 9.2e18 || v.f <= -9.2e18 {
			return 0, fail(p, "int_from_float", "must be an integer, got a number with a fractional part or out of range")
		}
		return int64(v.f), nil
	case kindBool:
		if strict {
			return 0, fail(p, "int_type", "must be an integer")
		}
		if v.b {
			return 1, nil
		}
		return 0, nil
	case kindString:
		if strict {
			return 0, fail(p, "int_type", "must be an integer")
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(v.s), 10, 64); err == nil {
			return n, nil
		}
		return 0, fail(p, "int_parsing", "must be an integer")
	}
	return 0, wrongType(p, "an integer", v)
}

// getInt reads an int field bounded by [lo, hi], with a default when absent.
func getInt(o *value, p *path, key string, def, lo, hi int64, strict bool) (int64, error) {
	v, ok := o.get(key)
	if !ok {
		return def, nil
	}
	fp := p.field(key)
	return boundedInt(v, &fp, lo, hi, strict)
}

func boundedInt(v *value, p *path, lo, hi int64, strict bool) (int64, error) {
	n, err := asInt(v, p, strict)
	if err != nil {
		return 0, err
	}
	if n < lo {
		return 0, fail(p, "greater_than_equal", "must be at least "+strconv.FormatInt(lo, 10))
	}
	if n > hi {
		return 0, fail(p, "less_than_equal", "must be at most "+strconv.FormatInt(hi, 10))
	}
	return n, nil
}

// asFloat coerces a number or a boolean to a float.
func asFloat(v *value, p *path) (float64, error) {
	switch v.kind {
	case kindNumber:
		return v.f, nil
	case kindBool:
		if v.b {
			return 1, nil
		}
		return 0, nil
	}
	return 0, wrongType(p, "a number", v)
}

// asEnum reads a string that must be one of allowed.
func asEnum(v *value, p *path, allowed ...string) (string, error) {
	if v.kind == kindString {
		for _, a := range allowed {
			if v.s == a {
				return a, nil
			}
		}
	}
	return "", fail(p, "enum", "must be one of "+quoteList(allowed))
}

func quoteList(list []string) string {
	var b strings.Builder
	for i, s := range list {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(s))
	}
	return b.String()
}

// asObject checks that v is an object.
func asObject(v *value, p *path) error {
	if v.kind != kindObject {
		return wrongType(p, "an object", v)
	}
	return nil
}

// asList checks that v is an array of at most maxItems items.
func asList(v *value, p *path, maxItems int) error {
	if v.kind != kindArray {
		return wrongType(p, "an array", v)
	}
	if maxItems >= 0 && len(v.items) > maxItems {
		return fail(p, "too_long", "must have at most "+strconv.Itoa(maxItems)+" items")
	}
	return nil
}

// forbidExtra rejects any key of o not in allowed (pydantic extra=forbid).
func forbidExtra(o *value, p *path, allowed ...string) error {
next:
	for i := range o.members {
		k := o.members[i].key
		for _, a := range allowed {
			if k == a {
				continue next
			}
		}
		fp := p.field(k)
		return fail(&fp, "extra_forbidden", "extra field not permitted")
	}
	return nil
}

// getStrList reads an optional list of strings, each at most maxLen
// characters (0: unbounded), at most maxItems long. It returns nil when the
// field is absent or null.
func getStrList(o *value, p *path, key string, maxItems, minLen, maxLen int) ([]string, error) {
	v, ok := o.getSet(key)
	if !ok {
		return nil, nil
	}
	fp := p.field(key)
	return asStrList(v, &fp, maxItems, minLen, maxLen)
}

func asStrList(v *value, p *path, maxItems, minLen, maxLen int) ([]string, error) {
	if err := asList(v, p, maxItems); err != nil {
		return nil, err
	}
	out := make([]string, len(v.items))
	for i := range v.items {
		ip := p.index(i)
		s, err := asStr(&v.items[i], &ip)
		if err != nil {
			return nil, err
		}
		if maxLen > 0 || minLen > 0 {
			n := runeLen(s)
			if n < minLen {
				return nil, fail(&ip, "string_too_short", "must have at least "+strconv.Itoa(minLen)+" characters")
			}
			if maxLen > 0 && n > maxLen {
				return nil, fail(&ip, "string_too_long", "must have at most "+strconv.Itoa(maxLen)+" characters")
			}
		}
		out[i] = s
	}
	return out, nil
}

// getItemHash reads a required ItemHash field.
func getItemHash(o *value, p *path, key string) (string, error) {
	fp := p.field(key)
	v, ok := o.get(key)
	if !ok {
		return "", missing(&fp)
	}
	return asItemHash(v, &fp)
}

// getOptItemHash reads an Optional[ItemHash] field.
func getOptItemHash(o *value, p *path, key string) (string, error) {
	v, ok := o.getSet(key)
	if !ok {
		return "", nil
	}
	fp := p.field(key)
	return asItemHash(v, &fp)
}

func asItemHash(v *value, p *path) (string, error) {
	s, err := asStr(v, p)
	if err != nil {
		return "", err
	}
	if _, ok := StrictItemType(s); !ok {
		return "", fail(p, "item_hash", "could not determine hash type: "+strconv.Quote(truncate(s, 80)))
	}
	return s, nil
}

// truncate shortens s for error messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

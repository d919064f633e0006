package rest

import (
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// params reads query parameters by their documented name or its
// snake_case alias, remembering the first bad one.
type params struct {
	q   url.Values
	max int // values per list
	err *Error
}

func newParams(q url.Values, maxValues int) *params { return &params{q: q, max: maxValues} }

// snake is the snake_case form of a camelCase name.
func snake(name string) string {
	var b strings.Builder
	for i, c := range name {
		if c >= 'A' && c <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(c + 'a' - 'A')
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// raw returns the parameter's value and whether it was given.
func (p *params) raw(name string) (string, bool) {
	for _, n := range []string{name, snake(name)} {
		if vs, ok := p.q[n]; ok && len(vs) > 0 {
			return vs[len(vs)-1], true
		}
	}
	return "", false
}

func (p *params) bad(name, format string, args ...any) {
	if p.err == nil {
		p.err = badParam(name, format, args...)
	}
}

// list reads a comma-separated list (repeated parameters add up); check,
// if set, validates each value.
func (p *params) list(name string, check func(string) bool) []string {
	var out []string
	for _, n := range []string{name, snake(name)} {
		for _, v := range p.q[n] {
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					out = append(out, s)
				}
			}
		}
		if n == snake(name) {
			break
		}
	}
	if len(out) > p.max {
		p.bad(name, "%d values, at most %d allowed", len(out), p.max)
		return nil
	}
	if check != nil {
		for _, s := range out {
			if !check(s) {
				p.bad(name, "invalid value %q", s)
				return nil
			}
		}
	}
	return out
}

// str reads a string, def when absent.
func (p *params) str(name, def string) string {
	if v, ok := p.raw(name); ok {
		return v
	}
	return def
}

// oneOf reads a string among allowed, def when absent.
func (p *params) oneOf(name, def string, allowed ...string) string {
	v, ok := p.raw(name)
	if !ok {
		return def
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.bad(name, "must be one of %s", strings.Join(allowed, ", "))
	return def
}

// integer reads an integer in [lo, hi], def when absent.
func (p *params) integer(name string, def, lo, hi int64) int64 {
	v, ok := p.raw(name)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < lo || n > hi {
		p.bad(name, "must be an integer between %d and %d", lo, hi)
		return def
	}
	return n
}

// optInt reads an optional integer.
func (p *params) optInt(name string) *int64 {
	if _, ok := p.raw(name); !ok {
		return nil
	}
	n := p.integer(name, 0, math.MinInt64, math.MaxInt64)
	return &n
}

// boolean reads a boolean (true/false/1/0), def when absent.
func (p *params) boolean(name string, def bool) bool {
	v, ok := p.raw(name)
	if !ok {
		return def
	}
	switch strings.ToLower(v) {
	case "true", "1", "yes", "on":
		return true
	case "false", "0", "no", "off":
		return false
	}
	p.bad(name, "must be a boolean")
	return def
}

// epoch reads a time in epoch seconds (float); 0 or absent is no bound.
func (p *params) epoch(name string) *time.Time {
	v, ok := p.raw(name)
	if !ok {
		return nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 253402300799 {
		p.bad(name, "must be a time in epoch seconds")
		return nil
	}
	if f == 0 {
		return nil
	}
	t := epochTime(f)
	return &t
}

// epochTime converts epoch seconds to a UTC time, to the microsecond.
func epochTime(f float64) time.Time {
	sec := math.Floor(f)
	return time.Unix(int64(sec), int64(math.Round((f-sec)*1e6))*1e3).UTC()
}

// epochOf is a time as epoch seconds.
func epochOf(t time.Time) float64 {
	return float64(t.UnixMicro()) / 1e6
}

var (
	hexHash  = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	cidV0    = regexp.MustCompile(`^Qm[1-9A-HJ-NP-Za-km-z]{42,44}$`)
	cidV1    = regexp.MustCompile(`^bafy[a-z2-7]{55}$`)
	msgTypes = []string{"POST", "AGGREGATE", "STORE", "PROGRAM", "INSTANCE", "FORGET", "V-PROGRAM"}
	statuses = []string{"pending", "processed", "rejected", "forgotten", "removing", "removed"}
	payments = []string{"hold", "superfluid", "credit"}
)

// isItemHash reports whether s is an item hash (sha256 hex or an IPFS CID).
func isItemHash(s string) bool {
	return hexHash.MatchString(s) || cidV0.MatchString(s) || cidV1.MatchString(s)
}

func among(set []string) func(string) bool {
	return func(s string) bool {
		for _, v := range set {
			if s == v {
				return true
			}
		}
		return false
	}
}

// isoTime is Python's datetime.isoformat() of a UTC time: microseconds
// only when not zero, "+00:00".
func isoTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05+00:00")
	}
	return t.Format("2006-01-02T15:04:05.000000+00:00")
}

// strTime is Python's str() of a UTC datetime (a space, not a T).
func strTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02 15:04:05+00:00")
	}
	return t.Format("2006-01-02 15:04:05.000000+00:00")
}

// Package countkey builds the keys of the message_counters table, shared by
// the processor (which maintains the counters in the same transaction as
// each state change) and the API (which reads totals in O(1)).
//
// A key is the sorted list of dimension=value pairs joined by "|", e.g.
// "channel=TEST|type=POST"; All ("*") counts every processed message. The
// processor maintains a counter for every key in Keys(m), that is every
// single dimension and every pair of dimensions of the message.
package countkey

import (
	"sort"
	"strings"
)

// All is the key counting every message.
const All = "*"

// Dimensions are the message attributes counters exist for.
var Dimensions = []string{"chain", "channel", "owner", "sender", "status", "type"}

// Key returns the key for the given dimension values; empty values are
// left out. Unknown dimensions are kept (callers should use Dimensions).
func Key(dims map[string]string) string {
	parts := make([]string, 0, len(dims))
	for d, v := range dims {
		if v == "" {
			continue
		}
		parts = append(parts, d+"="+escape(v))
	}
	if len(parts) == 0 {
		return All
	}
	sort.Strings(parts)
	return strings.Join(parts, "|")
}

// Keys returns All plus the key of every single dimension and every pair of
// dimensions of the given values: the counters a message contributes to.
func Keys(dims map[string]string) []string {
	var present []string
	for _, d := range Dimensions {
		if dims[d] != "" {
			present = append(present, d)
		}
	}
	out := []string{All}
	for i, a := range present {
		out = append(out, Key(map[string]string{a: dims[a]}))
		for _, b := range present[i+1:] {
			out = append(out, Key(map[string]string{a: dims[a], b: dims[b]}))
		}
	}
	return out
}

// Countable reports whether a filter with these dimensions has a counter:
// at most two dimensions, all of them in Dimensions, each with one value.
func Countable(dims map[string]string) bool {
	n := 0
	for d, v := range dims {
		if v == "" {
			continue
		}
		if !known(d) {
			return false
		}
		n++
	}
	return n <= 2
}

func known(d string) bool {
	for _, k := range Dimensions {
		if k == d {
			return true
		}
	}
	return false
}

// escape keeps "|" and "=" inside values from forging other keys.
func escape(v string) string {
	if !strings.ContainsAny(v, "|=%") {
		return v
	}
	r := strings.NewReplacer("%", "%25", "|", "%7C", "=", "%3D")
	return r.Replace(v)
}

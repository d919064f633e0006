package handler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/alephql/alephql/processor/cost"
	"github.com/alephql/alephql/processor/errcode"
)

// The credit post schemas (pyaleph schemas/credit_transfer.py, pydantic):
// unknown keys are ignored, amounts are strictly positive JSON integers,
// addresses non-blank strings, prices decimal strings or numbers.

type distEntry struct {
	address, price, txHash, provider string
	origin, ref, paymentMethod       string
	amount                           int64
	expiration                       *time.Time
	bonus                            *int64
}

type distribution struct {
	token, chain string
	credits      []distEntry
}

type expenseEntry struct {
	address, ref, executionID, nodeID string
	amount                            int64
	price                             *string
	count, size                       *int64
}

type transferEntry struct {
	address    string
	amount     int64
	expiration *time.Time
}

// fields is a JSON object read with numbers kept as text.
type fields map[string]json.RawMessage

func invalidCredit(kind, format string, args ...any) error {
	return errcode.Field(errcode.InvalidFormat, "content.content", "invalid credit "+kind+" content: "+fmt.Sprintf(format, args...))
}

func decodeObject(raw json.RawMessage) (fields, bool) {
	var f fields
	if err := json.Unmarshal(raw, &f); err != nil || f == nil {
		return nil, false
	}
	return f, true
}

// creditList reads content[key].credits (a non-empty list of objects) and
// returns the key's object too.
func creditList(content json.RawMessage, kind, key string) (fields, []fields, error) {
	top, ok := decodeObject(content)
	if !ok {
		return nil, nil, invalidCredit(kind, "not an object")
	}
	inner, ok := decodeObject(top[key])
	if !ok {
		return nil, nil, invalidCredit(kind, "%s: object required", key)
	}
	var list []json.RawMessage
	if err := json.Unmarshal(inner["credits"], &list); err != nil || len(list) == 0 {
		return nil, nil, invalidCredit(kind, "%s.credits: non-empty list required", key)
	}
	out := make([]fields, len(list))
	for i, r := range list {
		if out[i], ok = decodeObject(r); !ok {
			return nil, nil, invalidCredit(kind, "%s.credits[%d]: object required", key, i)
		}
	}
	return inner, out, nil
}

// isNull reports an absent or null field.
func isNull(raw json.RawMessage) bool {
	s := string(bytes.TrimSpace(raw))
	return s == "" || s == "null"
}

// reqString reads a required string.
func reqString(f fields, key string) (string, bool) {
	var s string
	if isNull(f[key]) || json.Unmarshal(f[key], &s) != nil {
		return "", false
	}
	return s, true
}

// optString reads an optional string; ok is false for a non-string.
func optString(f fields, key string) (string, bool) {
	if isNull(f[key]) {
		return "", true
	}
	return reqString(f, key)
}

// address reads a non-blank address.
func address(f fields) (string, bool) {
	s, ok := reqString(f, "address")
	return s, ok && strings.TrimSpace(s) != ""
}

// jsonInt reads a JSON integer literal (no fraction, no exponent, not a
// boolean).
func jsonInt(raw json.RawMessage) (int64, bool) {
	s := string(bytes.TrimSpace(raw))
	i, err := strconv.ParseInt(s, 10, 64)
	return i, err == nil
}

// amount reads a strictly positive integer amount.
func amount(f fields) (int64, bool) {
	a, ok := jsonInt(f["amount"])
	return a, ok && a > 0
}

// optInt reads an optional integer, also accepting a float without
// fraction as pydantic's lax mode does.
func optInt(raw json.RawMessage) (*int64, bool) {
	if isNull(raw) {
		return nil, true
	}
	if i, ok := jsonInt(raw); ok {
		return &i, true
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(string(raw)), 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<62 {
		return nil, false
	}
	i := int64(f)
	return &i, true
}

// expiration reads an optional expiration in milliseconds since the epoch.
func expiration(f fields) (*time.Time, bool) {
	ms, ok := optInt(f["expiration"])
	if !ok || ms == nil || *ms == 0 { // 0 is falsy: no expiration
		return nil, ok
	}
	t := time.UnixMilli(*ms).UTC()
	return &t, true
}

// price reads a price: a decimal string, or a number written as Python's
// str() writes it.
func price(raw json.RawMessage) (*string, bool) {
	if isNull(raw) {
		return nil, true
	}
	s := strings.TrimSpace(string(raw))
	var v string
	switch {
	case s[0] == '"':
		if json.Unmarshal(raw, &v) != nil {
			return nil, false
		}
	case s == "true" || s == "false" || s[0] == '[' || s[0] == '{':
		return nil, false
	case !strings.ContainsAny(s, ".eE"):
		v = s
	default:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, false
		}
		v = cost.PythonFloatText(f)
	}
	if _, err := cost.ParseDecimal(strings.TrimSpace(v)); err != nil {
		return nil, false
	}
	return &v, true
}

func parseDistribution(content json.RawMessage) (*distribution, error) {
	const kind = "distribution"
	inner, list, err := creditList(content, kind, "distribution")
	if err != nil {
		return nil, err
	}
	d := &distribution{}
	var ok bool
	if d.token, ok = reqString(inner, "token"); !ok {
		return nil, invalidCredit(kind, "distribution.token: string required")
	}
	if d.chain, ok = reqString(inner, "chain"); !ok {
		return nil, invalidCredit(kind, "distribution.chain: string required")
	}
	for i, f := range list {
		var e distEntry
		var ok1, ok2, ok3, ok4, ok5, ok6, ok7, ok8 bool
		e.address, ok1 = address(f)
		e.amount, ok2 = amount(f)
		p, ok3 := price(f["price"])
		if p == nil {
			ok3 = false
		} else {
			e.price = *p
		}
		e.txHash, ok4 = reqString(f, "tx_hash")
		e.provider, ok5 = reqString(f, "provider")
		e.expiration, ok6 = expiration(f)
		e.origin, ok7 = optString(f, "origin")
		var okRef, okPM bool
		e.ref, okRef = optString(f, "ref")
		e.paymentMethod, okPM = optString(f, "payment_method")
		e.bonus, ok8 = optInt(f["bonus_amount"])
		if !ok8 { // bonus_amount is Any: kept only when it is an integer
			e.bonus, ok8 = nil, true
		}
		if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8 && okRef && okPM) {
			return nil, invalidCredit(kind, "distribution.credits[%d]: needs address, positive integer amount, decimal price, tx_hash and provider", i)
		}
		d.credits = append(d.credits, e)
	}
	return d, nil
}

func parseExpense(content json.RawMessage) ([]expenseEntry, error) {
	const kind = "expense"
	_, list, err := creditList(content, kind, "expense")
	if err != nil {
		return nil, err
	}
	var out []expenseEntry
	for i, f := range list {
		var e expenseEntry
		var oks [8]bool
		e.address, oks[0] = address(f)
		e.amount, oks[1] = amount(f)
		e.ref, oks[2] = optString(f, "ref")
		e.executionID, oks[3] = optString(f, "execution_id")
		e.nodeID, oks[4] = optString(f, "node_id")
		e.price, oks[5] = price(f["price"])
		e.count, oks[6] = optInt(f["count"])
		if e.count != nil && *e.count < 0 {
			oks[6] = false
		}
		oks[7] = true
		if !isNull(f["size"]) {
			sz, err := strconv.ParseFloat(strings.TrimSpace(string(f["size"])), 64)
			if err != nil || sz < 0 {
				oks[7] = false
			} else {
				// expense_size_mib is an integer column: whole MiB.
				v := int64(sz)
				e.size = &v
			}
		}
		if !isNull(f["time"]) {
			if _, err := strconv.ParseFloat(strings.TrimSpace(string(f["time"])), 64); err != nil {
				oks[7] = false
			}
		}
		for _, ok := range oks {
			if !ok {
				return nil, invalidCredit(kind, "expense.credits[%d]: needs address and positive integer amount; optional fields must have their types", i)
			}
		}
		out = append(out, e)
	}
	return out, nil
}

func parseTransfer(content json.RawMessage) ([]transferEntry, error) {
	const kind = "transfer"
	_, list, err := creditList(content, kind, "transfer")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []transferEntry
	for i, f := range list {
		var e transferEntry
		var ok1, ok2, ok3 bool
		e.address, ok1 = address(f)
		e.amount, ok2 = amount(f)
		e.expiration, ok3 = expiration(f)
		if !(ok1 && ok2 && ok3) {
			return nil, invalidCredit(kind, "transfer.credits[%d]: needs address and positive integer amount", i)
		}
		if seen[e.address] {
			return nil, invalidCredit(kind, "duplicate recipient addresses are not allowed in a single transfer")
		}
		seen[e.address] = true
		out = append(out, e)
	}
	return out, nil
}

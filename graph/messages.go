package graph

import (
	"context"
	"encoding/base64"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/alephql/alephql/graph/model"
	"github.com/alephql/alephql/read"
)

// messageCursor is the keyset position of a message in a list: its first
// confirmation time (CONFIRMATION_TIME order only), time and item hash.
type messageCursor struct {
	C *time.Time `json:"c,omitempty"`
	T time.Time  `json:"t"`
	H string     `json:"h"`
}

// encode returns the cursor as encodeCursor does, without encoding/json
// for the usual cursor (a time within years 0-9999 and a hash of plain
// ASCII): a page encodes one per edge.
func (c messageCursor) encode() string {
	if !plainJSONString(c.H) || !rfc3339Year(c.T) || (c.C != nil && !rfc3339Year(*c.C)) {
		return encodeCursor(c)
	}
	var buf [160]byte
	b := append(buf[:0], '{')
	if c.C != nil {
		b = append(b, `"c":"`...)
		b = c.C.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `",`...)
	}
	b = append(b, `"t":"`...)
	b = c.T.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","h":"`...)
	b = append(b, c.H...)
	b = append(b, `"}`...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// rfc3339Year reports whether encoding/json can write t (years 0-9999).
func rfc3339Year(t time.Time) bool { return t.Year() >= 0 && t.Year() <= 9999 }

// plainJSONString reports whether encoding/json writes s as is between
// quotes: printable ASCII other than the characters it escapes.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// pageRequest is a validated first/after/last/before quadruple.
type pageRequest struct {
	n        int
	backward bool    // last/before: scan the reverse order, then flip
	cursor   *string // after (forward) or before (backward)
	hasAfter bool
	hasBefor bool
}

// pageArgs validates Relay arguments against the limits: one direction at
// a time, non-negative, at most MaxPageSize; DefaultPageSize when none.
func (r *Resolver) pageArgs(first *int, after *string, last *int, before *string) (pageRequest, error) {
	if first != nil && last != nil {
		return pageRequest{}, userError(CodeBadUserInput, "first and last cannot be combined")
	}
	p := pageRequest{n: r.limits.DefaultPageSize, cursor: after, hasAfter: after != nil, hasBefor: before != nil}
	for _, n := range []*int{first, last} {
		if n == nil {
			continue
		}
		if *n < 0 {
			return p, userError(CodeBadUserInput, "first and last must not be negative")
		}
		if *n > r.limits.MaxPageSize {
			return p, userError(CodeBadUserInput, "page size %d exceeds the maximum of %d", *n, r.limits.MaxPageSize)
		}
		p.n = *n
	}
	if last != nil || (first == nil && before != nil) {
		p.backward, p.cursor = true, before
	}
	return p, nil
}

// pageInfo builds the Relay page info of a page read with p, whose scan
// found more items beyond it when more is true.
func (p pageRequest) pageInfo(more bool, start, end *string) *model.PageInfo {
	pi := &model.PageInfo{StartCursor: start, EndCursor: end}
	if p.backward {
		pi.HasPreviousPage, pi.HasNextPage = more, p.hasBefor
	} else {
		pi.HasNextPage, pi.HasPreviousPage = more, p.hasAfter
	}
	return pi
}

// checkList bounds the number of values of one filter criterion.
func (r *Resolver) checkList(name string, n int) error {
	if n > r.limits.MaxPageSize {
		return userError(CodeBadUserInput, "filter %s has %d values, at most %d allowed", name, n, r.limits.MaxPageSize)
	}
	return nil
}

// messageFilter validates a filter against the limits and maps it onto
// the read layer's.
func (r *Resolver) messageFilter(f *model.MessageFilter) (read.MessageFilter, error) {
	if f == nil {
		return read.MessageFilter{}, nil
	}
	lists := map[string]int{
		"hashes": len(f.Hashes), "senders": len(f.Senders), "owners": len(f.Owners), "channels": len(f.Channels),
		"types": len(f.Types), "chains": len(f.Chains), "statuses": len(f.Statuses), "tags": len(f.Tags),
		"refs": len(f.Refs), "contentTypes": len(f.ContentTypes), "contentKeys": len(f.ContentKeys),
		"contentHashes": len(f.ContentHashes), "paymentTypes": len(f.PaymentTypes),
	}
	for name, n := range lists {
		if err := r.checkList(name, n); err != nil {
			return read.MessageFilter{}, err
		}
	}
	out := read.MessageFilter{
		Hashes: f.Hashes, Senders: f.Senders, Owners: f.Owners, Channels: f.Channels, Chains: f.Chains,
		Refs: f.Refs, ContentTypes: f.ContentTypes, ContentKeys: f.ContentKeys, ContentHashes: f.ContentHashes,
		Tags: f.Tags, TimeFrom: f.TimeFrom, TimeTo: f.TimeTo,
		Types:        mapSlice(f.Types, storedMessageType),
		Statuses:     mapSlice(f.Statuses, storedEnum[model.MessageStatus]),
		PaymentTypes: mapSlice(f.PaymentTypes, storedEnum[model.PaymentType]),
	}
	if f.ConfirmationHeightFrom != nil {
		h := int64(*f.ConfirmationHeightFrom)
		out.HeightFrom = &h
	}
	if f.ConfirmationHeightTo != nil {
		h := int64(*f.ConfirmationHeightTo)
		out.HeightTo = &h
	}
	return out, nil
}

func mapSlice[A, B any](in []A, f func(A) B) []B {
	out := make([]B, len(in))
	for i, a := range in {
		out[i] = f(a)
	}
	return out
}

// messages answers Query.messages: a keyset page over an index ending in
// (time, item_hash), never OFFSET (read.Reader.Messages).
func (r *Resolver) messages(ctx context.Context, f *model.MessageFilter, o *model.MessageOrder, first *int, after *string, last *int, before *string) (*model.MessageConnection, error) {
	p, err := r.pageArgs(first, after, last, before)
	if err != nil {
		return nil, err
	}
	if removed, err := onlyRemoved(f); err != nil || removed {
		if err != nil {
			return nil, err
		}
		return r.removedMessages(ctx, f, o, p)
	}
	rf, err := r.messageFilter(f)
	if err != nil {
		return nil, err
	}
	order := read.MessageOrder{
		ByConfirmation: o != nil && o.Field == model.MessageOrderFieldConfirmationTime,
		Desc:           o == nil || o.Direction == model.OrderDirectionDesc,
	}
	q := read.MessageQuery{Filter: rf, Order: order, N: p.n, Backward: p.backward}
	if p.cursor != nil {
		var c messageCursor
		if err := decodeCursor(*p.cursor, &c); err != nil {
			return nil, err
		}
		q.After = &read.MessageCursor{C: c.C, T: c.T, H: c.H}
	}
	counter := model.NewCounter(func(ctx context.Context) (int64, bool, error) {
		return r.reader.CountMessages(ctx, rf)
	})
	if !selectsPage(ctx) {
		// Only totalCount/countIsExact asked: the page is never read.
		return &model.MessageConnection{Edges: []*model.MessageEdge{}, PageInfo: p.pageInfo(false, nil, nil), Counter: counter}, nil
	}
	q.Columns = messageColumns(ctx, order.ByConfirmation)
	rows, more, err := r.reader.Messages(ctx, q)
	if err != nil {
		return nil, err
	}
	conn := &model.MessageConnection{Edges: make([]*model.MessageEdge, len(rows))}
	for i, m := range rows {
		c := order.CursorOf(m)
		conn.Edges[i] = &model.MessageEdge{Node: m, Cursor: messageCursor{C: c.C, T: c.T, H: c.H}.encode()}
	}
	var start, end *string
	if len(rows) > 0 {
		start, end = &conn.Edges[0].Cursor, &conn.Edges[len(rows)-1].Cursor
	}
	conn.PageInfo = p.pageInfo(more, start, end)
	conn.Counter = counter
	return conn, nil
}

// selectsPage reports whether the connection being resolved has edges or
// pageInfo among its selected fields; outside a GraphQL operation it
// answers true.
func selectsPage(ctx context.Context) bool {
	if !graphql.HasOperationContext(ctx) || graphql.GetFieldContext(ctx) == nil {
		return true
	}
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		if f.Name == "edges" || f.Name == "pageInfo" {
			return true
		}
	}
	return false
}

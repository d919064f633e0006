package graph

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"time"

	"entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/graphql"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/countkey"
	"github.com/alephql/alephql/ent/message"
	"github.com/alephql/alephql/ent/messagecounter"
	"github.com/alephql/alephql/ent/messagetag"
	"github.com/alephql/alephql/ent/predicate"
	"github.com/alephql/alephql/graph/model"
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

// messagePredicates turns a filter into ent predicates.
func (r *Resolver) messagePredicates(f *model.MessageFilter) ([]predicate.Message, error) {
	if f == nil {
		return nil, nil
	}
	lists := map[string]int{
		"hashes": len(f.Hashes), "senders": len(f.Senders), "owners": len(f.Owners), "channels": len(f.Channels),
		"types": len(f.Types), "chains": len(f.Chains), "statuses": len(f.Statuses), "tags": len(f.Tags),
		"refs": len(f.Refs), "contentTypes": len(f.ContentTypes), "contentKeys": len(f.ContentKeys),
		"contentHashes": len(f.ContentHashes), "paymentTypes": len(f.PaymentTypes),
	}
	for name, n := range lists {
		if err := r.checkList(name, n); err != nil {
			return nil, err
		}
	}
	var ps []predicate.Message
	add := func(ok bool, p predicate.Message) {
		if ok {
			ps = append(ps, p)
		}
	}
	add(len(f.Hashes) > 0, message.IDIn(f.Hashes...))
	add(len(f.Senders) > 0, message.SenderIn(f.Senders...))
	add(len(f.Owners) > 0, message.OwnerIn(f.Owners...))
	add(len(f.Channels) > 0, message.ChannelIn(f.Channels...))
	add(len(f.Chains) > 0, message.ChainIn(f.Chains...))
	add(len(f.Refs) > 0, message.ContentRefIn(f.Refs...))
	add(len(f.ContentTypes) > 0, message.ContentTypeIn(f.ContentTypes...))
	add(len(f.ContentKeys) > 0, message.ContentKeyIn(f.ContentKeys...))
	add(len(f.ContentHashes) > 0, message.ContentItemHashIn(f.ContentHashes...))
	if len(f.Types) > 0 {
		ps = append(ps, message.TypeIn(mapSlice(f.Types, storedMessageType)...))
	}
	if len(f.Statuses) > 0 {
		ps = append(ps, message.StatusIn(mapSlice(f.Statuses, func(s model.MessageStatus) message.Status {
			return message.Status(storedEnum(s))
		})...))
	}
	if len(f.PaymentTypes) > 0 {
		ps = append(ps, message.PaymentTypeIn(mapSlice(f.PaymentTypes, storedEnum[model.PaymentType])...))
	}
	if len(f.Tags) > 0 {
		ps = append(ps, message.HasTagRowsWith(messagetag.TagIn(f.Tags...)))
	}
	if f.TimeFrom != nil {
		ps = append(ps, message.TimeGTE(f.TimeFrom.UTC()))
	}
	if f.TimeTo != nil {
		ps = append(ps, message.TimeLT(f.TimeTo.UTC()))
	}
	if f.ConfirmationHeightFrom != nil {
		ps = append(ps, message.FirstConfirmedHeightGTE(int64(*f.ConfirmationHeightFrom)))
	}
	if f.ConfirmationHeightTo != nil {
		ps = append(ps, message.FirstConfirmedHeightLT(int64(*f.ConfirmationHeightTo)))
	}
	return ps, nil
}

func mapSlice[A, B any](in []A, f func(A) B) []B {
	out := make([]B, len(in))
	for i, a := range in {
		out[i] = f(a)
	}
	return out
}

// messages answers Query.messages: a keyset page over an index ending in
// (time, item_hash), never OFFSET.
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
	preds, err := r.messagePredicates(f)
	if err != nil {
		return nil, err
	}
	byConfirmation := o != nil && o.Field == model.MessageOrderFieldConfirmationTime
	desc := o == nil || o.Direction == model.OrderDirectionDesc
	scanDesc := desc != p.backward
	var cursor *messageCursor
	if p.cursor != nil {
		cursor = &messageCursor{}
		if err := decodeCursor(*p.cursor, cursor); err != nil {
			return nil, err
		}
	}
	counter := model.NewCounter(func(ctx context.Context) (int64, bool, error) {
		return r.countMessages(ctx, f, preds)
	})
	if !selectsPage(ctx) {
		// Only totalCount/countIsExact asked: the page is never read.
		return &model.MessageConnection{Edges: []*model.MessageEdge{}, PageInfo: p.pageInfo(false, nil, nil), Counter: counter}, nil
	}

	rows, err := r.queryMessages(ctx, messageColumns(ctx, byConfirmation), func(s *sql.Selector) {
		for _, p := range preds {
			p(s)
		}
		if cursor != nil {
			messageKeyset(*cursor, byConfirmation, scanDesc)(s)
		}
		dir := sql.Asc
		if scanDesc {
			dir = sql.Desc
		}
		if byConfirmation {
			// NULL (unconfirmed) sorts as the latest on both back-ends.
			s.OrderExpr(sql.Expr("CASE WHEN " + s.C(message.FieldFirstConfirmedAt) + " IS NULL THEN 1 ELSE 0 END" + dirSuffix(scanDesc)))
			s.OrderBy(dir(s.C(message.FieldFirstConfirmedAt)))
		}
		s.OrderBy(dir(s.C(message.FieldTime)), dir(s.C(message.FieldID)))
		s.Limit(p.n + 1)
	})
	if err != nil {
		return nil, err
	}
	more := len(rows) > p.n
	if more {
		rows = rows[:p.n]
	}
	if p.backward {
		slices.Reverse(rows)
	}
	conn := &model.MessageConnection{Edges: make([]*model.MessageEdge, len(rows))}
	for i, m := range rows {
		c := messageCursor{T: m.Time.UTC(), H: m.ID}
		if byConfirmation && m.FirstConfirmedAt != nil {
			t := m.FirstConfirmedAt.UTC()
			c.C = &t
		}
		conn.Edges[i] = &model.MessageEdge{Node: m, Cursor: c.encode()}
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

func dirSuffix(desc bool) string {
	if desc {
		return " DESC"
	}
	return " ASC"
}

// messageKeyset selects the messages strictly beyond c in the scan order.
// For CONFIRMATION_TIME, unconfirmed messages (NULL) count as the latest.
func messageKeyset(c messageCursor, byConfirmation, desc bool) predicate.Message {
	return func(s *sql.Selector) {
		cols := []string{s.C(message.FieldTime), s.C(message.FieldID)}
		beyond := sql.CompositeGT(cols, c.T.UTC(), c.H)
		if desc {
			beyond = sql.CompositeLT(cols, c.T.UTC(), c.H)
		}
		if !byConfirmation {
			s.Where(beyond)
			return
		}
		conf := s.C(message.FieldFirstConfirmedAt)
		switch {
		case c.C == nil && !desc:
			s.Where(sql.And(sql.IsNull(conf), beyond))
		case c.C == nil && desc:
			s.Where(sql.Or(sql.NotNull(conf), sql.And(sql.IsNull(conf), beyond)))
		case !desc:
			s.Where(sql.Or(sql.IsNull(conf), sql.GT(conf, c.C.UTC()), sql.And(sql.EQ(conf, c.C.UTC()), beyond)))
		default:
			s.Where(sql.And(sql.NotNull(conf), sql.Or(sql.LT(conf, c.C.UTC()), sql.And(sql.EQ(conf, c.C.UTC()), beyond))))
		}
	}
}

// counterDims returns the counter dimensions of a filter, and false if the
// filter uses a criterion counters do not cover or several values of one.
func counterDims(f *model.MessageFilter) (map[string]string, bool) {
	dims := map[string]string{}
	if f == nil {
		return dims, true
	}
	if len(f.Hashes)+len(f.Tags)+len(f.Refs)+len(f.ContentTypes)+len(f.ContentKeys)+len(f.ContentHashes)+len(f.PaymentTypes) > 0 ||
		f.TimeFrom != nil || f.TimeTo != nil || f.ConfirmationHeightFrom != nil || f.ConfirmationHeightTo != nil {
		return nil, false
	}
	one := func(dim string, vs []string) bool {
		switch len(vs) {
		case 0:
			return true
		case 1:
			dims[dim] = vs[0]
			return true
		}
		return false
	}
	ok := one("sender", f.Senders) && one("owner", f.Owners) && one("channel", f.Channels) && one("chain", f.Chains) &&
		one("type", mapSlice(f.Types, storedMessageType)) &&
		one("status", mapSlice(f.Statuses, storedEnum[model.MessageStatus]))
	return dims, ok && countkey.Countable(dims)
}

// countMessages answers totalCount: O(1) from message_counters when the
// filter has a counter, else COUNT(*) bounded by CountTimeout, else an
// estimate (the smallest counter of the filter's counted criteria, an
// upper bound).
func (r *Resolver) countMessages(ctx context.Context, f *model.MessageFilter, preds []predicate.Message) (int64, bool, error) {
	if dims, ok := counterDims(f); ok {
		n, err := r.counter(ctx, countkey.Key(dims))
		return n, true, err
	}
	cctx, cancel := context.WithTimeout(ctx, r.opts.CountTimeout)
	defer cancel()
	n, err := r.client.Message.Query().Where(preds...).Count(cctx)
	if err == nil {
		return int64(n), true, nil
	}
	if ctx.Err() != nil || (!errors.Is(err, context.DeadlineExceeded) && cctx.Err() == nil) {
		return 0, false, err
	}
	est, err := r.estimateMessages(ctx, f)
	return est, false, err
}

// estimateMessages bounds a count from above with the counters of the
// filter's single criteria.
func (r *Resolver) estimateMessages(ctx context.Context, f *model.MessageFilter) (int64, error) {
	best, err := r.counter(ctx, countkey.All)
	if err != nil || f == nil {
		return best, err
	}
	sum := func(dim string, vs []string) error {
		if len(vs) == 0 {
			return nil
		}
		keys := make([]string, len(vs))
		for i, v := range vs {
			keys[i] = countkey.Key(map[string]string{dim: v})
		}
		rows, err := r.client.MessageCounter.Query().Where(messagecounter.IDIn(keys...)).All(ctx)
		if err != nil {
			return err
		}
		var total int64
		for _, c := range rows {
			total += c.Count
		}
		best = min(best, total)
		return nil
	}
	for dim, vs := range map[string][]string{
		"sender": f.Senders, "owner": f.Owners, "channel": f.Channels, "chain": f.Chains,
		"type":   mapSlice(f.Types, storedMessageType),
		"status": mapSlice(f.Statuses, storedEnum[model.MessageStatus]),
	} {
		if err := sum(dim, vs); err != nil {
			return 0, err
		}
	}
	return best, nil
}

// counter reads one message counter; a missing counter is zero.
func (r *Resolver) counter(ctx context.Context, key string) (int64, error) {
	c, err := r.client.MessageCounter.Get(ctx, key)
	if ent.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return c.Count, nil
}

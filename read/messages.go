package read

import (
	"context"
	"errors"
	"slices"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/countkey"
	"github.com/alephql/alephql/ent/message"
	"github.com/alephql/alephql/ent/messagecounter"
	"github.com/alephql/alephql/ent/messagetag"
	"github.com/alephql/alephql/ent/predicate"
)

// MessageFilter selects rows of the messages table (processed and removing
// messages). Every value is as stored: types as "POST" or "V-PROGRAM",
// statuses and payment types in lower case. Empty lists do not filter;
// several lists are ANDed, the values of one list ORed.
type MessageFilter struct {
	Hashes        []string
	Senders       []string
	Owners        []string
	Channels      []string
	Chains        []string
	Types         []string
	Statuses      []string
	Refs          []string
	ContentTypes  []string
	ContentKeys   []string
	ContentHashes []string
	PaymentTypes  []string
	// Tags matches messages with any of the tags (the message_tags side
	// table).
	Tags []string
	// TimeFrom (inclusive) and TimeTo (exclusive) bound the message time.
	TimeFrom, TimeTo *time.Time
	// HeightFrom (inclusive) and HeightTo (exclusive) bound the height of
	// the first confirmation.
	HeightFrom, HeightTo *int64
	// UnconfirmedPassHeightFrom lets unconfirmed messages through
	// HeightFrom, as the reference node's startBlock does.
	UnconfirmedPassHeightFrom bool
}

// Predicates turns the filter into ent predicates.
func (f *MessageFilter) Predicates() []predicate.Message {
	if f == nil {
		return nil
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
	add(len(f.Types) > 0, message.TypeIn(f.Types...))
	if len(f.Statuses) > 0 {
		st := make([]message.Status, len(f.Statuses))
		for i, s := range f.Statuses {
			st[i] = message.Status(s)
		}
		ps = append(ps, message.StatusIn(st...))
	}
	add(len(f.PaymentTypes) > 0, message.PaymentTypeIn(f.PaymentTypes...))
	add(len(f.Tags) > 0, message.HasTagRowsWith(messagetag.TagIn(f.Tags...)))
	if f.TimeFrom != nil {
		ps = append(ps, message.TimeGTE(f.TimeFrom.UTC()))
	}
	if f.TimeTo != nil {
		ps = append(ps, message.TimeLT(f.TimeTo.UTC()))
	}
	if f.HeightFrom != nil {
		p := message.FirstConfirmedHeightGTE(*f.HeightFrom)
		if f.UnconfirmedPassHeightFrom {
			p = message.Or(message.FirstConfirmedHeightIsNil(), p)
		}
		ps = append(ps, p)
	}
	if f.HeightTo != nil {
		ps = append(ps, message.FirstConfirmedHeightLT(*f.HeightTo))
	}
	return ps
}

// MessageOrder is the order of a message list: by time, or by the first
// confirmation's time (unconfirmed messages counting as the latest) then
// time; ties by item hash, in the same direction.
type MessageOrder struct {
	ByConfirmation bool
	Desc           bool
}

// MessageCursor is the keyset position of a message in a list: its first
// confirmation time (ByConfirmation order only), time and item hash.
type MessageCursor struct {
	C *time.Time
	T time.Time
	H string
}

// CursorOf returns the position of m in a list of order o.
func (o MessageOrder) CursorOf(m *ent.Message) MessageCursor {
	c := MessageCursor{T: m.Time.UTC(), H: m.ID}
	if o.ByConfirmation && m.FirstConfirmedAt != nil {
		t := m.FirstConfirmedAt.UTC()
		c.C = &t
	}
	return c
}

// MessageQuery is one page of a message list.
type MessageQuery struct {
	Filter MessageFilter
	Order  MessageOrder
	// N is the page size.
	N int
	// Backward reads the N items before After in the list order (After is
	// then the "before" cursor); the rows still come in list order.
	Backward bool
	// After is the keyset position the page starts beyond; nil: the start.
	After *MessageCursor
	// Offset skips rows (page mode of the REST API); prefer After.
	Offset int
	// Columns are the columns to read besides the id; nil: every column.
	// The order's columns must be among them.
	Columns []string
}

// MessageListColumns are the columns a message list reads for its cursors
// and order (ByConfirmation adds first_confirmed_at).
func MessageListColumns(byConfirmation bool) []string {
	if byConfirmation {
		return []string{message.FieldTime, message.FieldFirstConfirmedAt}
	}
	return []string{message.FieldTime}
}

// Messages reads a page: at most q.N rows in list order, and whether more
// rows lie beyond them in the direction read. It scans an index ending in
// (time, item_hash) from the cursor, never skipping rows unless q.Offset
// asks.
func (r *Reader) Messages(ctx context.Context, q MessageQuery) ([]*ent.Message, bool, error) {
	preds := q.Filter.Predicates()
	scanDesc := q.Order.Desc != q.Backward
	rows, err := r.queryMessages(ctx, q.Columns, func(s *sql.Selector) {
		for _, p := range preds {
			p(s)
		}
		if q.After != nil {
			messageKeyset(*q.After, q.Order.ByConfirmation, scanDesc)(s)
		}
		dir := sql.Asc
		if scanDesc {
			dir = sql.Desc
		}
		if q.Order.ByConfirmation {
			// NULL (unconfirmed) sorts as the latest on both back-ends.
			s.OrderExpr(sql.Expr("CASE WHEN " + s.C(message.FieldFirstConfirmedAt) + " IS NULL THEN 1 ELSE 0 END" + dirSuffix(scanDesc)))
			s.OrderBy(dir(s.C(message.FieldFirstConfirmedAt)))
		}
		s.OrderBy(dir(s.C(message.FieldTime)), dir(s.C(message.FieldID)))
		s.Limit(q.N + 1)
		if q.Offset > 0 {
			s.Offset(q.Offset)
		}
	})
	if err != nil {
		return nil, false, err
	}
	more := len(rows) > q.N
	if more {
		rows = rows[:q.N]
	}
	if q.Backward {
		slices.Reverse(rows)
	}
	return rows, more, nil
}

func dirSuffix(desc bool) string {
	if desc {
		return " DESC"
	}
	return " ASC"
}

// messageKeyset selects the messages strictly beyond c in the scan order.
// For the confirmation order, unconfirmed messages (NULL) count as the
// latest.
func messageKeyset(c MessageCursor, byConfirmation, desc bool) predicate.Message {
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
func counterDims(f *MessageFilter) (map[string]string, bool) {
	dims := map[string]string{}
	if len(f.Hashes)+len(f.Tags)+len(f.Refs)+len(f.ContentTypes)+len(f.ContentKeys)+len(f.ContentHashes)+len(f.PaymentTypes) > 0 ||
		f.TimeFrom != nil || f.TimeTo != nil || f.HeightFrom != nil || f.HeightTo != nil {
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
		one("type", f.Types) && one("status", f.Statuses)
	return dims, ok && countkey.Countable(dims)
}

// CountMessages counts the messages of a filter: O(1) from
// message_counters when the filter has a counter, else COUNT(*) bounded by
// CountTimeout, else an estimate (the smallest counter of the filter's
// counted criteria, an upper bound) with exact false.
func (r *Reader) CountMessages(ctx context.Context, f MessageFilter) (n int64, exact bool, err error) {
	if dims, ok := counterDims(&f); ok {
		n, err := r.Counter(ctx, countkey.Key(dims))
		return n, true, err
	}
	cctx, cancel := context.WithTimeout(ctx, r.cfg.CountTimeout)
	defer cancel()
	c, err := r.client.Message.Query().Where(f.Predicates()...).Count(cctx)
	if err == nil {
		return int64(c), true, nil
	}
	if ctx.Err() != nil || (!errors.Is(err, context.DeadlineExceeded) && cctx.Err() == nil) {
		return 0, false, err
	}
	est, err := r.estimateMessages(ctx, &f)
	return est, false, err
}

// estimateMessages bounds a count from above with the counters of the
// filter's single criteria.
func (r *Reader) estimateMessages(ctx context.Context, f *MessageFilter) (int64, error) {
	best, err := r.Counter(ctx, countkey.All)
	if err != nil {
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
		"type": f.Types, "status": f.Statuses,
	} {
		if err := sum(dim, vs); err != nil {
			return 0, err
		}
	}
	return best, nil
}

// Counter reads one message counter (keys from package countkey); a
// missing counter is zero.
func (r *Reader) Counter(ctx context.Context, key string) (int64, error) {
	c, err := r.client.MessageCounter.Get(ctx, key)
	if ent.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return c.Count, nil
}

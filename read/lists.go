package read

import (
	"context"
	"errors"
	"slices"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/aggregate"
	"github.com/alephql/alephql/ent/aggregateelement"
	"github.com/alephql/alephql/ent/messagetag"
	"github.com/alephql/alephql/ent/post"
	"github.com/alephql/alephql/ent/predicate"
)

// KeyCursor is the keyset position of a row in a list ordered by two
// columns (the second one unique within the first).
type KeyCursor struct {
	A any
	B string
}

// Page is the paging of a list over a KeyCursor.
type Page struct {
	// N is the page size.
	N int
	// Desc orders the list by descending keys.
	Desc bool
	// Backward reads the N items before After in the list order; the rows
	// still come in list order.
	Backward bool
	// After is the position the page starts beyond; nil: the start.
	After *KeyCursor
	// Offset skips rows (page mode of the REST API); prefer After.
	Offset int
}

// Keyset returns the predicate selecting rows beyond the page's cursor in
// the scan order, and the scan's ordering (with limit and offset), over
// columns (a, b).
func (p Page) Keyset(a, b string) (where, order func(*sql.Selector)) {
	scanDesc := p.Desc != p.Backward
	where = func(s *sql.Selector) {
		if p.After == nil {
			return
		}
		va := p.After.A
		if t, ok := va.(time.Time); ok {
			va = t.UTC()
		}
		cols := []string{s.C(a), s.C(b)}
		if scanDesc {
			s.Where(sql.CompositeLT(cols, va, p.After.B))
		} else {
			s.Where(sql.CompositeGT(cols, va, p.After.B))
		}
	}
	order = func(s *sql.Selector) {
		dir := sql.Asc
		if scanDesc {
			dir = sql.Desc
		}
		s.OrderBy(dir(s.C(a)), dir(s.C(b)))
		s.Limit(p.N + 1)
		if p.Offset > 0 {
			s.Offset(p.Offset)
		}
	}
	return where, order
}

// keysetAfter selects the rows beyond the position pos in an order over
// cols, all ascending or all descending (the last column unique among
// rows equal on the others).
func keysetAfter(s *sql.Selector, desc bool, cols []string, pos ...any) {
	if desc {
		s.Where(sql.CompositeLT(cols, pos...))
	} else {
		s.Where(sql.CompositeGT(cols, pos...))
	}
}

// Trim cuts the N+1 rows of a scan to the page and restores the list
// order; more reports whether rows lie beyond the page.
func Trim[T any](p Page, rows []T) (page []T, more bool) {
	more = len(rows) > p.N
	if more {
		rows = rows[:p.N]
	}
	if p.Backward {
		slices.Reverse(rows)
	}
	return rows, more
}

// BoundedCount runs count within CountTimeout; past it, it answers the
// table's estimated size (an upper bound) with exact false.
func (r *Reader) BoundedCount(ctx context.Context, table string, count func(ctx context.Context) (int, error)) (int64, bool, error) {
	cctx, cancel := context.WithTimeout(ctx, r.cfg.CountTimeout)
	defer cancel()
	n, err := count(cctx)
	if err == nil {
		return int64(n), true, nil
	}
	if ctx.Err() != nil || (!errors.Is(err, context.DeadlineExceeded) && cctx.Err() == nil) {
		return 0, false, err
	}
	est, err := r.TableEstimate(ctx, table)
	return est, false, err
}

// TableEstimate is a cheap estimate of a table's row count: the planner's
// statistics on PostgreSQL, the largest rowid on SQLite.
func (r *Reader) TableEstimate(ctx context.Context, table string) (int64, error) {
	q := `SELECT COALESCE(MAX(rowid), 0) FROM "` + table + `"`
	var args []any
	if r.IsPostgres(ctx) {
		q, args = `SELECT GREATEST(reltuples, 0)::bigint FROM pg_class WHERE relname = $1`, []any{table}
	}
	rows, err := r.client.QueryContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, err
		}
	}
	return n, rows.Err()
}

// PostFilter selects original posts (amends are never listed).
type PostFilter struct {
	Hashes   []string
	Owners   []string
	Types    []string
	Refs     []string
	Channels []string
	// Tags matches posts whose latest version has any of the tags.
	Tags []string
	// CreatedFrom (inclusive) and CreatedTo (exclusive) bound the
	// original's content time.
	CreatedFrom, CreatedTo *time.Time
}

func (f *PostFilter) predicates() []predicate.Post {
	ps := []predicate.Post{post.AmendsIsNil()}
	if len(f.Hashes) > 0 {
		ps = append(ps, post.IDIn(f.Hashes...))
	}
	if len(f.Owners) > 0 {
		ps = append(ps, post.OwnerIn(f.Owners...))
	}
	if len(f.Types) > 0 {
		ps = append(ps, post.TypeIn(f.Types...))
	}
	if len(f.Refs) > 0 {
		ps = append(ps, post.RefIn(f.Refs...))
	}
	if len(f.Channels) > 0 {
		ps = append(ps, post.ChannelIn(f.Channels...))
	}
	if f.CreatedFrom != nil {
		ps = append(ps, post.CreationDatetimeGTE(f.CreatedFrom.UTC()))
	}
	if f.CreatedTo != nil {
		ps = append(ps, post.CreationDatetimeLT(f.CreatedTo.UTC()))
	}
	if len(f.Tags) > 0 {
		tags := f.Tags
		ps = append(ps, func(s *sql.Selector) {
			// The latest version's tags are its message's tag rows.
			t := sql.Table(messagetag.Table)
			args := make([]any, len(tags))
			for i, v := range tags {
				args[i] = v
			}
			s.Where(sql.Exists(sql.Select(t.C(messagetag.FieldItemHash)).From(t).Where(sql.And(
				sql.ColumnsEQ(t.C(messagetag.FieldItemHash), "COALESCE("+s.C(post.FieldLatestAmend)+", "+s.C(post.FieldID)+")"),
				sql.In(t.C(messagetag.FieldTag), args...),
			))))
		})
	}
	return ps
}

// PostCursor is the position of a post in a post list.
func PostCursor(p *ent.Post) KeyCursor { return KeyCursor{A: p.CreationDatetime.UTC(), B: p.ID} }

// Posts reads a page of original posts ordered by creation time then hash
// (After's A is a time.Time). cols are the columns to read (nil: all).
func (r *Reader) Posts(ctx context.Context, f PostFilter, p Page, cols []string) ([]*ent.Post, bool, error) {
	where, order := p.Keyset(post.FieldCreationDatetime, post.FieldID)
	q := r.client.Post.Query().Where(f.predicates()...).Where(where).Modify(order)
	if cols != nil {
		q.Select(cols...)
	}
	rows, err := q.All(ctx)
	if err != nil {
		return nil, false, err
	}
	rows, more := Trim(p, rows)
	return rows, more, nil
}

// CountPosts counts the posts of a filter within CountTimeout.
func (r *Reader) CountPosts(ctx context.Context, f PostFilter) (int64, bool, error) {
	return r.BoundedCount(ctx, post.Table, r.client.Post.Query().Where(f.predicates()...).Count)
}

// PostsByHash reads posts (originals or amends) by hash.
func (r *Reader) PostsByHash(ctx context.Context, hashes []string) (map[string]*ent.Post, error) {
	rows, err := r.client.Post.Query().Where(post.IDIn(hashes...)).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*ent.Post, len(rows))
	for _, p := range rows {
		out[p.ID] = p
	}
	return out, nil
}

// AggregateFilter selects aggregates.
type AggregateFilter struct {
	Owners []string
	Keys   []string
}

func (f *AggregateFilter) predicates() []predicate.Aggregate {
	var ps []predicate.Aggregate
	if len(f.Owners) > 0 {
		ps = append(ps, aggregate.OwnerIn(f.Owners...))
	}
	if len(f.Keys) > 0 {
		ps = append(ps, aggregate.KeyIn(f.Keys...))
	}
	return ps
}

// AggregateOrder is the order of an aggregate list.
type AggregateOrder int

// Orders of aggregate lists.
const (
	// ByOwnerKey orders by (owner, key); cursors are KeyCursor{owner, key}.
	ByOwnerKey AggregateOrder = iota
	// ByLastUpdated orders by (last_updated, owner/key).
	ByLastUpdated
	// ByCreated orders by (creation_datetime, owner/key).
	ByCreated
)

// AggregateCursor returns the position of a in a list of order o.
func (o AggregateOrder) AggregateCursor(a *ent.Aggregate) KeyCursor {
	switch o {
	case ByLastUpdated:
		return KeyCursor{A: a.LastUpdated.UTC(), B: a.Owner + "/" + a.Key}
	case ByCreated:
		return KeyCursor{A: a.CreationDatetime.UTC(), B: a.Owner + "/" + a.Key}
	}
	return KeyCursor{A: a.Owner, B: a.Key}
}

// Aggregates reads a page of aggregates in order o. cols are the columns
// to read (nil: all).
func (r *Reader) Aggregates(ctx context.Context, f AggregateFilter, o AggregateOrder, p Page, cols []string) ([]*ent.Aggregate, bool, error) {
	q := r.client.Aggregate.Query().Where(f.predicates()...)
	switch o {
	case ByOwnerKey:
		where, order := p.Keyset(aggregate.FieldOwner, aggregate.FieldKey)
		q.Where(where).Modify(order)
	default:
		col := aggregate.FieldLastUpdated
		if o == ByCreated {
			col = aggregate.FieldCreationDatetime
		}
		q.Modify(func(s *sql.Selector) {
			tie := "(" + s.C(aggregate.FieldOwner) + " || '/' || " + s.C(aggregate.FieldKey) + ")"
			scanDesc := p.Desc != p.Backward
			if p.After != nil {
				va := p.After.A
				if t, ok := va.(time.Time); ok {
					va = t.UTC()
				}
				op := ">"
				if scanDesc {
					op = "<"
				}
				s.Where(sql.P(func(b *sql.Builder) {
					b.WriteString("(" + s.C(col) + ", " + tie + ") " + op + " (")
					b.Arg(va)
					b.WriteString(", ")
					b.Arg(p.After.B)
					b.WriteString(")")
				}))
			}
			s.OrderExpr(sql.Expr(s.C(col) + dirSuffix(scanDesc)))
			s.OrderExpr(sql.Expr(tie + dirSuffix(scanDesc)))
			s.Limit(p.N + 1)
			if p.Offset > 0 {
				s.Offset(p.Offset)
			}
		})
	}
	if cols != nil {
		q.Select(cols...)
	}
	rows, err := q.All(ctx)
	if err != nil {
		return nil, false, err
	}
	rows, more := Trim(p, rows)
	return rows, more, nil
}

// CountAggregates counts the aggregates of a filter within CountTimeout.
func (r *Reader) CountAggregates(ctx context.Context, f AggregateFilter) (int64, bool, error) {
	return r.BoundedCount(ctx, aggregate.Table, r.client.Aggregate.Query().Where(f.predicates()...).Count)
}

// AggregatesOf reads the aggregates of one owner (exact case), of the
// given keys or all, by key.
func (r *Reader) AggregatesOf(ctx context.Context, owner string, keys []string) ([]*ent.Aggregate, error) {
	q := r.client.Aggregate.Query().Where(aggregate.Owner(owner))
	if len(keys) > 0 {
		q.Where(aggregate.KeyIn(keys...))
	}
	return q.Order(ent.Asc(aggregate.FieldKey)).All(ctx)
}

// FirstElements returns, per key of owner's aggregates (of keys, or all),
// the hash of its earliest element (the original_item_hash of the REST
// API): the first in (content time, item hash) order, the merge order.
// One indexed lookup per key.
func (r *Reader) FirstElements(ctx context.Context, owner string, keys []string) (map[string]string, error) {
	if len(keys) == 0 {
		var err error
		keys, err = r.client.Aggregate.Query().Where(aggregate.Owner(owner)).Select(aggregate.FieldKey).Strings(ctx)
		if err != nil {
			return nil, err
		}
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		id, err := r.client.AggregateElement.Query().Where(aggregateelement.Owner(owner), aggregateelement.Key(k)).
			Order(ent.Asc(aggregateelement.FieldCreationDatetime), ent.Asc(aggregateelement.FieldID)).FirstID(ctx)
		if ent.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[k] = id
	}
	return out, nil
}

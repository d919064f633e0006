package graph

import (
	"context"
	"errors"
	"slices"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/aggregate"
	"github.com/alephql/alephql/ent/aggregateelement"
	"github.com/alephql/alephql/ent/countkey"
	"github.com/alephql/alephql/ent/file"
	"github.com/alephql/alephql/ent/filepin"
	"github.com/alephql/alephql/ent/filetag"
	"github.com/alephql/alephql/ent/message"
	"github.com/alephql/alephql/ent/post"
	"github.com/alephql/alephql/ent/predicate"
	"github.com/alephql/alephql/ent/vm"
	"github.com/alephql/alephql/graph/model"
)

// keyCursor is the keyset position of a row in a list ordered by two
// columns (the second one unique within the first).
type keyCursor struct {
	A any    `json:"a"`
	B string `json:"b"`
}

// keyset returns the predicate selecting rows beyond cursor in the scan
// order, and the ordering of the scan, over columns (a, b).
func keyset(p pageRequest, desc bool, a, b string, cursor *keyCursor) (where, order func(*sql.Selector)) {
	scanDesc := desc != p.backward
	where = func(s *sql.Selector) {
		if cursor == nil {
			return
		}
		va := cursor.A
		if t, ok := va.(time.Time); ok {
			va = t.UTC()
		}
		cols := []string{s.C(a), s.C(b)}
		if scanDesc {
			s.Where(sql.CompositeLT(cols, va, cursor.B))
		} else {
			s.Where(sql.CompositeGT(cols, va, cursor.B))
		}
	}
	order = func(s *sql.Selector) {
		dir := sql.Asc
		if scanDesc {
			dir = sql.Desc
		}
		s.OrderBy(dir(s.C(a)), dir(s.C(b)))
	}
	return where, order
}

// decodeKeyCursor decodes p's cursor; time-ordered lists get A as a time.
func decodeKeyCursor(p pageRequest, timeKey bool) (*keyCursor, error) {
	if p.cursor == nil {
		return nil, nil
	}
	var raw struct {
		A json0  `json:"a"`
		B string `json:"b"`
	}
	if err := decodeCursor(*p.cursor, &raw); err != nil {
		return nil, err
	}
	c := &keyCursor{A: string(raw.A), B: raw.B}
	if timeKey {
		t, err := time.Parse(time.RFC3339Nano, string(raw.A))
		if err != nil {
			return nil, userError(CodeBadUserInput, "malformed cursor %q", *p.cursor)
		}
		c.A = t
	}
	return c, nil
}

// json0 is a JSON string field of a cursor.
type json0 string

// page trims the n+1 rows of a scan to the page, restores the list order,
// and makes the edges and page info.
func page[T, E any](p pageRequest, rows []T, cursor func(T) keyCursor, edge func(T, string) E) ([]E, *model.PageInfo) {
	more := len(rows) > p.n
	if more {
		rows = rows[:p.n]
	}
	if p.backward {
		slices.Reverse(rows)
	}
	edges := make([]E, len(rows))
	var start, end *string
	for i, row := range rows {
		c := encodeCursor(cursor(row))
		edges[i] = edge(row, c)
		if i == 0 {
			start = &c
		}
		end = &c
	}
	return edges, p.pageInfo(more, start, end)
}

// boundedCount runs count within CountTimeout; past it, answers the
// table's estimated size (an upper bound) as inexact.
func (r *Resolver) boundedCount(table string, count func(ctx context.Context) (int, error)) *model.Counter {
	return model.NewCounter(func(ctx context.Context) (int64, bool, error) {
		cctx, cancel := context.WithTimeout(ctx, r.opts.CountTimeout)
		defer cancel()
		n, err := count(cctx)
		if err == nil {
			return int64(n), true, nil
		}
		if ctx.Err() != nil || (!errors.Is(err, context.DeadlineExceeded) && cctx.Err() == nil) {
			return 0, false, err
		}
		est, err := r.tableEstimate(ctx, table)
		return est, false, err
	})
}

// tableEstimate is a cheap estimate of a table's row count: the planner's
// statistics on PostgreSQL, the largest rowid on SQLite.
func (r *Resolver) tableEstimate(ctx context.Context, table string) (int64, error) {
	q := `SELECT COALESCE(MAX(rowid), 0) FROM "` + table + `"`
	var args []any
	if r.isPostgres(ctx) {
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

// posts answers Query.posts: originals (never amends), by creation time.
func (r *Resolver) posts(ctx context.Context, f *model.PostFilter, first *int, after *string, last *int, before *string) (*model.PostConnection, error) {
	p, err := r.pageArgs(first, after, last, before)
	if err != nil {
		return nil, err
	}
	preds := []func(*sql.Selector){post.AmendsIsNil()}
	if f != nil {
		for name, vs := range map[string][]string{"hashes": f.Hashes, "owners": f.Owners, "types": f.Types, "refs": f.Refs, "channels": f.Channels} {
			if err := r.checkList(name, len(vs)); err != nil {
				return nil, err
			}
		}
		if len(f.Hashes) > 0 {
			preds = append(preds, post.IDIn(f.Hashes...))
		}
		if len(f.Owners) > 0 {
			preds = append(preds, post.OwnerIn(f.Owners...))
		}
		if len(f.Types) > 0 {
			preds = append(preds, post.TypeIn(f.Types...))
		}
		if len(f.Refs) > 0 {
			preds = append(preds, post.RefIn(f.Refs...))
		}
		if len(f.Channels) > 0 {
			preds = append(preds, post.ChannelIn(f.Channels...))
		}
		if f.CreatedFrom != nil {
			preds = append(preds, post.CreationDatetimeGTE(f.CreatedFrom.UTC()))
		}
		if f.CreatedTo != nil {
			preds = append(preds, post.CreationDatetimeLT(f.CreatedTo.UTC()))
		}
	}
	c, err := decodeKeyCursor(p, true)
	if err != nil {
		return nil, err
	}
	where, order := keyset(p, true, post.FieldCreationDatetime, post.FieldID, c)
	base := func() *ent.PostQuery { return r.client.Post.Query().Where(selectorPreds[predicate.Post](preds)...) }
	q := base().Where(where).Order(order).Limit(p.n + 1)
	if cols := postColumns(ctx); cols != nil {
		q.Select(cols...)
	}
	rows, err := q.All(ctx)
	if err != nil {
		return nil, err
	}
	edges, pi := page(p, rows, func(x *ent.Post) keyCursor { return keyCursor{A: x.CreationDatetime.UTC(), B: x.ID} },
		func(x *ent.Post, c string) *model.PostEdge { return &model.PostEdge{Node: x, Cursor: c} })
	return &model.PostConnection{Edges: edges, PageInfo: pi, Counter: r.boundedCount(post.Table, base().Count)}, nil
}

// selectorPreds converts selector functions to an ent predicate type.
func selectorPreds[P ~func(*sql.Selector)](in []func(*sql.Selector)) []P {
	out := make([]P, len(in))
	for i, f := range in {
		out[i] = P(f)
	}
	return out
}

// latestVersion is the post whose content a merged post shows: its latest
// amend, or itself.
func (r *Resolver) latestVersion(ctx context.Context, p *ent.Post) (*ent.Post, error) {
	if p.LatestAmend == nil || *p.LatestAmend == p.ID {
		return p, nil
	}
	latest, err := r.loadersFor(ctx).post().Load(ctx, *p.LatestAmend)()
	if err != nil || latest == nil {
		return p, err
	}
	return latest, nil
}

// aggregates answers Query.aggregates, ordered by (owner, key).
func (r *Resolver) aggregates(ctx context.Context, f *model.AggregateFilter, first *int, after *string, last *int, before *string) (*model.AggregateConnection, error) {
	p, err := r.pageArgs(first, after, last, before)
	if err != nil {
		return nil, err
	}
	var preds []func(*sql.Selector)
	if f != nil {
		if err := errors.Join(r.checkList("owners", len(f.Owners)), r.checkList("keys", len(f.Keys))); err != nil {
			return nil, err
		}
		if len(f.Owners) > 0 {
			preds = append(preds, aggregate.OwnerIn(f.Owners...))
		}
		if len(f.Keys) > 0 {
			preds = append(preds, aggregate.KeyIn(f.Keys...))
		}
	}
	c, err := decodeKeyCursor(p, false)
	if err != nil {
		return nil, err
	}
	where, order := keyset(p, false, aggregate.FieldOwner, aggregate.FieldKey, c)
	base := func() *ent.AggregateQuery {
		return r.client.Aggregate.Query().Where(selectorPreds[predicate.Aggregate](preds)...)
	}
	q := base().Where(where).Order(order).Limit(p.n + 1)
	if cols := aggregateColumns(ctx); cols != nil {
		q.Select(cols...)
	}
	rows, err := q.All(ctx)
	if err != nil {
		return nil, err
	}
	edges, pi := page(p, rows, func(x *ent.Aggregate) keyCursor { return keyCursor{A: x.Owner, B: x.Key} },
		func(x *ent.Aggregate, c string) *model.AggregateEdge { return &model.AggregateEdge{Node: x, Cursor: c} })
	return &model.AggregateConnection{Edges: edges, PageInfo: pi, Counter: r.boundedCount(aggregate.Table, base().Count)}, nil
}

// aggregateElements answers Aggregate.elements, newest first.
func (r *Resolver) aggregateElements(ctx context.Context, a *ent.Aggregate, first *int, after *string) (*model.AggregateElementConnection, error) {
	p, err := r.pageArgs(first, after, nil, nil)
	if err != nil {
		return nil, err
	}
	c, err := decodeKeyCursor(p, true)
	if err != nil {
		return nil, err
	}
	where, order := keyset(p, true, aggregateelement.FieldCreationDatetime, aggregateelement.FieldID, c)
	rows, err := r.client.AggregateElement.Query().
		Where(aggregateelement.Owner(a.Owner), aggregateelement.Key(a.Key), where).Order(order).Limit(p.n + 1).All(ctx)
	if err != nil {
		return nil, err
	}
	edges, pi := page(p, rows, func(x *ent.AggregateElement) keyCursor { return keyCursor{A: x.CreationDatetime.UTC(), B: x.ID} },
		func(x *ent.AggregateElement, c string) *model.AggregateElementEdge {
			return &model.AggregateElementEdge{Node: x, Cursor: c}
		})
	n := int64(a.ElementCount)
	return &model.AggregateElementConnection{Edges: edges, PageInfo: pi, Counter: model.NewCounter(func(context.Context) (int64, bool, error) {
		return n, true, nil
	})}, nil
}

// files answers Query.files, ordered by hash.
func (r *Resolver) files(ctx context.Context, f *model.FileFilter, first *int, after *string, last *int, before *string) (*model.FileConnection, error) {
	p, err := r.pageArgs(first, after, last, before)
	if err != nil {
		return nil, err
	}
	var preds []func(*sql.Selector)
	if f != nil {
		if err := errors.Join(r.checkList("hashes", len(f.Hashes)), r.checkList("owners", len(f.Owners)),
			r.checkList("tags", len(f.Tags)), r.checkList("refs", len(f.Refs))); err != nil {
			return nil, err
		}
		if len(f.Hashes) > 0 {
			preds = append(preds, file.IDIn(f.Hashes...))
		}
		if len(f.Owners) > 0 {
			preds = append(preds, file.HasPinsWith(filepin.OwnerIn(f.Owners...)))
		}
		if len(f.Refs) > 0 {
			preds = append(preds, file.HasPinsWith(filepin.RefIn(f.Refs...)))
		}
		if len(f.Tags) > 0 {
			preds = append(preds, file.HasTagsWith(filetag.IDIn(f.Tags...)))
		}
	}
	var c *keyCursor
	if p.cursor != nil {
		c = &keyCursor{}
		if err := decodeCursor(*p.cursor, c); err != nil {
			return nil, err
		}
	}
	// One-column keyset: (hash, hash).
	where, order := keyset(p, false, file.FieldID, file.FieldID, c)
	base := func() *ent.FileQuery { return r.client.File.Query().Where(selectorPreds[predicate.File](preds)...) }
	rows, err := base().Where(where).Order(order).Limit(p.n + 1).All(ctx)
	if err != nil {
		return nil, err
	}
	edges, pi := page(p, rows, func(x *ent.File) keyCursor { return keyCursor{A: x.ID, B: x.ID} },
		func(x *ent.File, c string) *model.FileEdge { return &model.FileEdge{Node: x, Cursor: c} })
	return &model.FileConnection{Edges: edges, PageInfo: pi, Counter: r.boundedCount(file.Table, base().Count)}, nil
}

// vms answers Query.vms, newest first.
func (r *Resolver) vms(ctx context.Context, f *model.VMFilter, first *int, after *string, last *int, before *string) (*model.VMConnection, error) {
	p, err := r.pageArgs(first, after, last, before)
	if err != nil {
		return nil, err
	}
	var preds []func(*sql.Selector)
	if f != nil {
		if err := errors.Join(r.checkList("hashes", len(f.Hashes)), r.checkList("owners", len(f.Owners)), r.checkList("types", len(f.Types))); err != nil {
			return nil, err
		}
		if len(f.Hashes) > 0 {
			preds = append(preds, vm.IDIn(f.Hashes...))
		}
		if len(f.Owners) > 0 {
			preds = append(preds, vm.OwnerIn(f.Owners...))
		}
		if len(f.Types) > 0 {
			preds = append(preds, vm.TypeIn(mapSlice(f.Types, func(t model.VMType) vm.Type { return vm.Type(storedEnum(t)) })...))
		}
	}
	c, err := decodeKeyCursor(p, true)
	if err != nil {
		return nil, err
	}
	where, order := keyset(p, true, vm.FieldCreated, vm.FieldID, c)
	base := func() *ent.VMQuery { return r.client.VM.Query().Where(selectorPreds[predicate.VM](preds)...) }
	rows, err := base().Where(where).Order(order).Limit(p.n + 1).All(ctx)
	if err != nil {
		return nil, err
	}
	edges, pi := page(p, rows, func(x *ent.VM) keyCursor { return keyCursor{A: x.Created.UTC(), B: x.ID} },
		func(x *ent.VM, c string) *model.VMEdge { return &model.VMEdge{Node: x, Cursor: c} })
	return &model.VMConnection{Edges: edges, PageInfo: pi, Counter: r.boundedCount(vm.Table, base().Count)}, nil
}

// channels answers Query.channels: distinct channels in name order, read
// from the (channel, time, item_hash) index.
func (r *Resolver) channels(ctx context.Context, first *int, after *string) (*model.ChannelConnection, error) {
	p, err := r.pageArgs(first, after, nil, nil)
	if err != nil {
		return nil, err
	}
	q := r.client.Message.Query().Where(message.ChannelNotNil())
	if p.cursor != nil {
		var c keyCursor
		if err := decodeCursor(*p.cursor, &c); err != nil {
			return nil, err
		}
		q.Where(message.ChannelGT(c.B))
	}
	names, err := q.Unique(true).Order(ent.Asc(message.FieldChannel)).Limit(p.n + 1).Select(message.FieldChannel).Strings(ctx)
	if err != nil {
		return nil, err
	}
	edges, pi := page(p, names, func(n string) keyCursor { return keyCursor{A: n, B: n} },
		func(n string, c string) *model.ChannelEdge {
			return &model.ChannelEdge{Node: &model.Channel{Name: n}, Cursor: c}
		})
	count := func(ctx context.Context) (int, error) {
		var v []struct {
			N int `json:"n"`
		}
		err := r.client.Message.Query().Where(message.ChannelNotNil()).Modify(func(s *sql.Selector) {
			s.Select(sql.As("COUNT(DISTINCT "+s.C(message.FieldChannel)+")", "n"))
		}).Scan(ctx, &v)
		if err != nil || len(v) == 0 {
			return 0, err
		}
		return v[0].N, nil
	}
	return &model.ChannelConnection{Edges: edges, PageInfo: pi, Counter: r.boundedCount(message.Table, count)}, nil
}

// isPostgres reports whether the database is PostgreSQL (pg_class exists).
func (r *Resolver) isPostgres(ctx context.Context) bool {
	r.dialectOnce.Do(func() {
		rows, err := r.client.QueryContext(ctx, "SELECT 1 FROM pg_class LIMIT 1")
		if err == nil {
			r.postgres = true
			_ = rows.Close()
		}
	})
	return r.postgres
}

// channelCount is Channel.messageCount, from the channel counter.
func (r *Resolver) channelCount(ctx context.Context, name string) (int, error) {
	n, err := r.counter(ctx, countkey.Key(map[string]string{"channel": name}))
	return int(n), err
}

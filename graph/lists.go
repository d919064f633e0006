package graph

import (
	"context"
	"errors"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/aggregateelement"
	"github.com/alephql/alephql/ent/countkey"
	"github.com/alephql/alephql/ent/file"
	"github.com/alephql/alephql/ent/filepin"
	"github.com/alephql/alephql/ent/filetag"
	"github.com/alephql/alephql/ent/message"
	"github.com/alephql/alephql/ent/predicate"
	"github.com/alephql/alephql/ent/vm"
	"github.com/alephql/alephql/graph/model"
	"github.com/alephql/alephql/read"
)

// keyCursor is the JSON form of a read.KeyCursor in GraphQL cursors.
type keyCursor struct {
	A any    `json:"a"`
	B string `json:"b"`
}

// readPage maps a page request onto the read layer's paging.
func readPage(p pageRequest, desc bool, c *keyCursor) read.Page {
	rp := read.Page{N: p.n, Desc: desc, Backward: p.backward}
	if c != nil {
		rp.After = &read.KeyCursor{A: c.A, B: c.B}
	}
	return rp
}

// keyset returns the predicate selecting rows beyond cursor in the scan
// order, and the ordering of the scan (with its limit), over columns (a, b).
func keyset(p pageRequest, desc bool, a, b string, cursor *keyCursor) (where, order func(*sql.Selector)) {
	return readPage(p, desc, cursor).Keyset(a, b)
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
	rows, more := read.Trim(read.Page{N: p.n, Backward: p.backward}, rows)
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

// boundedCount counts within CountTimeout, else estimates
// (read.Reader.BoundedCount).
func (r *Resolver) boundedCount(table string, count func(ctx context.Context) (int, error)) *model.Counter {
	return model.NewCounter(func(ctx context.Context) (int64, bool, error) {
		return r.reader.BoundedCount(ctx, table, count)
	})
}

// posts answers Query.posts: originals (never amends), by creation time.
func (r *Resolver) posts(ctx context.Context, f *model.PostFilter, first *int, after *string, last *int, before *string) (*model.PostConnection, error) {
	p, err := r.pageArgs(first, after, last, before)
	if err != nil {
		return nil, err
	}
	var rf read.PostFilter
	if f != nil {
		for name, vs := range map[string][]string{"hashes": f.Hashes, "owners": f.Owners, "types": f.Types, "refs": f.Refs, "channels": f.Channels} {
			if err := r.checkList(name, len(vs)); err != nil {
				return nil, err
			}
		}
		rf = read.PostFilter{Hashes: f.Hashes, Owners: f.Owners, Types: f.Types, Refs: f.Refs, Channels: f.Channels,
			CreatedFrom: f.CreatedFrom, CreatedTo: f.CreatedTo}
	}
	c, err := decodeKeyCursor(p, true)
	if err != nil {
		return nil, err
	}
	rows, more, err := r.reader.Posts(ctx, rf, readPage(p, true, c), postColumns(ctx))
	if err != nil {
		return nil, err
	}
	edges, pi := pageOf(p, rows, more, func(x *ent.Post) keyCursor { return keyCursor{A: x.CreationDatetime.UTC(), B: x.ID} },
		func(x *ent.Post, c string) *model.PostEdge { return &model.PostEdge{Node: x, Cursor: c} })
	return &model.PostConnection{Edges: edges, PageInfo: pi, Counter: model.NewCounter(func(ctx context.Context) (int64, bool, error) {
		return r.reader.CountPosts(ctx, rf)
	})}, nil
}

// pageOf makes the edges and page info of rows already trimmed to the
// page and in list order.
func pageOf[T, E any](p pageRequest, rows []T, more bool, cursor func(T) keyCursor, edge func(T, string) E) ([]E, *model.PageInfo) {
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
	var rf read.AggregateFilter
	if f != nil {
		if err := errors.Join(r.checkList("owners", len(f.Owners)), r.checkList("keys", len(f.Keys))); err != nil {
			return nil, err
		}
		rf = read.AggregateFilter{Owners: f.Owners, Keys: f.Keys}
	}
	c, err := decodeKeyCursor(p, false)
	if err != nil {
		return nil, err
	}
	rows, more, err := r.reader.Aggregates(ctx, rf, read.ByOwnerKey, readPage(p, false, c), aggregateColumns(ctx))
	if err != nil {
		return nil, err
	}
	edges, pi := pageOf(p, rows, more, func(x *ent.Aggregate) keyCursor { return keyCursor{A: x.Owner, B: x.Key} },
		func(x *ent.Aggregate, c string) *model.AggregateEdge { return &model.AggregateEdge{Node: x, Cursor: c} })
	return &model.AggregateConnection{Edges: edges, PageInfo: pi, Counter: model.NewCounter(func(ctx context.Context) (int64, bool, error) {
		return r.reader.CountAggregates(ctx, rf)
	})}, nil
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

// channelCount is Channel.messageCount, from the channel counter.
func (r *Resolver) channelCount(ctx context.Context, name string) (int, error) {
	n, err := r.reader.Counter(ctx, countkey.Key(map[string]string{"channel": name}))
	return int(n), err
}

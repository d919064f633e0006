package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/aggregate"
	"github.com/alephql/alephql/ent/aggregateelement"
	"github.com/alephql/alephql/ent/predicate"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/message"
)

// Aggregate handles AGGREGATE messages (spec 4.3): every message is an
// element of the (owner, key) aggregate, whose content is the shallow
// merge of its elements' contents in content-time order (ties by hash).
//
// Improvement on the reference node: there is no "dirty" state. An element
// that arrives in order (the usual case) is merged onto the current
// content at O(1) cost; one that arrives out of order makes the aggregate
// recomputed from all its elements, so the merged content is always the
// fold of the elements in order, whatever the arrival order, and
// permission and pricing lookups never read a stale aggregate.
type Aggregate struct {
	Base
	deps    Deps
	dialect string
}

// NewAggregate returns the AGGREGATE handler.
func NewAggregate(deps Deps, dialectName string) *Aggregate {
	return &Aggregate{deps: deps.withDefaults(), dialect: dialectName}
}

// Process implements Handler: it stores the element and updates the
// aggregate.
func (h *Aggregate) Process(ctx context.Context, tx *ent.Tx, m *message.Message) error {
	c, ok := m.Content.(*message.AggregateContent)
	if !ok {
		return errcode.Newf(errcode.InternalError, "AGGREGATE handler got %T content", m.Content)
	}
	t := message.Timestamp(c.Time)
	el := tx.AggregateElement.Create().
		SetID(m.ItemHash).SetKey(c.Key).SetOwner(c.Address).
		SetContent(c.Content).SetCreationDatetime(t)
	b := BatchFrom(ctx)
	if b != nil {
		b.DeferElement(el)
	} else if err := el.OnConflictColumns(aggregateelement.FieldID).DoNothing().Exec(ctx); err != nil && !isNoRows(err) {
		return errcode.Wrap(errcode.InternalError, err, "insert aggregate element")
	}
	if c.Address == h.deps.Config.FrozenAggregateOwner {
		return nil // the reference node never merges this owner's aggregates
	}
	if b != nil {
		return h.processBatched(ctx, tx, b, c, m.ItemHash, t)
	}
	if err := Lock(ctx, tx, h.dialect, aggKey(c.Address, c.Key)); err != nil {
		return err
	}
	cur, err := tx.Aggregate.Query().Where(aggregate.Owner(c.Address), aggregate.Key(c.Key)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return h.recompute(ctx, tx, c.Address, c.Key)
	case err != nil:
		return errcode.Wrap(errcode.InternalError, err, "read aggregate")
	}
	if !newer(t, m.ItemHash, cur.LastUpdated, cur.LastRevisionHash) {
		return h.recompute(ctx, tx, c.Address, c.Key)
	}
	merged, err := mergeObjects(cur.Content, c.Content)
	if err != nil {
		return h.recompute(ctx, tx, c.Address, c.Key)
	}
	err = tx.Aggregate.UpdateOne(cur).
		SetContent(merged).SetLastUpdated(t).SetLastRevisionHash(m.ItemHash).
		AddElementCount(1).Exec(ctx)
	if err != nil {
		return errcode.Wrap(errcode.InternalError, err, "update aggregate")
	}
	return nil
}

// aggState is an aggregate being merged in a batch; row is nil for an
// aggregate that does not exist yet.
type aggState struct {
	row   *ent.Aggregate
	dirty bool
	// obj is row.Content split into members once an element is merged
	// into it (nil until then): later elements of the batch merge into it
	// without parsing the whole aggregate again, and writeAggregates
	// encodes it once. Its encoding is byte for byte what mergeObjects
	// would have returned for the same elements.
	obj *object
}

// processBatched merges an in-order element into the batch's cached copy
// of its aggregate (read once per batch, written once at flush); an
// out-of-order element flushes the batch and recomputes the aggregate.
func (h *Aggregate) processBatched(ctx context.Context, tx *ent.Tx, b Batch, c *message.AggregateContent, hash string, t time.Time) error {
	k := aggKey(c.Address, c.Key)
	cache := b.Cache()
	st, _ := cache[k].(*aggState)
	if st == nil {
		if err := Lock(ctx, tx, h.dialect, k); err != nil {
			return err
		}
		row, err := tx.Aggregate.Query().Where(aggregate.Owner(c.Address), aggregate.Key(c.Key)).Only(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return errcode.Wrap(errcode.InternalError, err, "read aggregate")
		}
		st = &aggState{row: row}
		if len(cache) == 0 {
			b.OnFlush(writeAggregates(b))
		}
		cache[k] = st
	}
	switch {
	case st.row == nil:
		st.row = &ent.Aggregate{Owner: c.Address, Key: c.Key, Content: c.Content,
			CreationDatetime: t, LastUpdated: t, LastRevisionHash: hash, ElementCount: 1}
	case newer(t, hash, st.row.LastUpdated, st.row.LastRevisionHash):
		if st.obj == nil {
			obj, err := parseObject(st.row.Content)
			if err != nil {
				return errcode.Wrap(errcode.InternalError, err, "merge aggregate")
			}
			st.obj = obj
		}
		if err := st.obj.merge(c.Content); err != nil {
			return errcode.Wrap(errcode.InternalError, err, "merge aggregate")
		}
		st.row.LastUpdated, st.row.LastRevisionHash = t, hash
		st.row.ElementCount++
	default:
		if err := b.Flush(ctx); err != nil {
			return errcode.Wrap(errcode.InternalError, err, "flush batch")
		}
		return h.recompute(ctx, tx, c.Address, c.Key)
	}
	st.dirty = true
	return nil
}

// aggKey is the lock and batch cache key of the (owner, key) aggregate.
func aggKey(owner, key string) string { return "aggregate:" + owner + "\x00" + key }

// Prefetch locks and reads the aggregates that the AGGREGATE messages ms
// are about to merge into in batch b, one statement for the locks and one
// read per 500 aggregates, and puts them in the batch's cache, where
// processBatched finds them instead of locking and reading each one on its
// first element (two round trips per aggregate and batch). It takes the
// locks in key order. Messages of other types, of the frozen owner, or
// whose aggregate is cached already are skipped. What processBatched then
// does is the same: the cache holds what it would have read, since
// nothing but the batch itself writes a locked aggregate, and the batch
// writes it only at a flush, which empties the cache.
func (h *Aggregate) Prefetch(ctx context.Context, tx *ent.Tx, b Batch, ms []*message.Message) error {
	cache := b.Cache()
	type ownerKey struct{ owner, key string }
	want := map[string]ownerKey{}
	for _, m := range ms {
		c, ok := m.Content.(*message.AggregateContent)
		if !ok || c.Address == h.deps.Config.FrozenAggregateOwner {
			continue
		}
		k := aggKey(c.Address, c.Key)
		if _, cached := cache[k]; !cached {
			want[k] = ownerKey{c.Address, c.Key}
		}
	}
	if len(want) == 0 {
		return nil
	}
	keys := slices.Sorted(maps.Keys(want))
	if err := LockAll(ctx, tx, h.dialect, keys); err != nil {
		return err
	}
	found := make(map[string]*ent.Aggregate, len(keys))
	for i := 0; i < len(keys); i += 500 {
		chunk := keys[i:min(i+500, len(keys))]
		preds := make([]predicate.Aggregate, len(chunk))
		for j, k := range chunk {
			preds[j] = aggregate.And(aggregate.Owner(want[k].owner), aggregate.Key(want[k].key))
		}
		rows, err := tx.Aggregate.Query().Where(aggregate.Or(preds...)).All(ctx)
		if err != nil {
			return errcode.Wrap(errcode.InternalError, err, "read aggregates")
		}
		for _, r := range rows {
			found[aggKey(r.Owner, r.Key)] = r
		}
	}
	if len(cache) == 0 {
		b.OnFlush(writeAggregates(b))
	}
	for _, k := range keys {
		cache[k] = &aggState{row: found[k]}
	}
	return nil
}

// writeAggregates returns the flush hook writing the batch's merged
// aggregates.
func writeAggregates(b Batch) func(ctx context.Context, tx *ent.Tx) error {
	return func(ctx context.Context, tx *ent.Tx) error {
		var rows []*ent.AggregateCreate
		for _, v := range b.Cache() {
			st, ok := v.(*aggState)
			if !ok || !st.dirty {
				continue
			}
			r := st.row
			if st.obj != nil {
				r.Content = st.obj.encode()
			}
			rows = append(rows, tx.Aggregate.Create().SetOwner(r.Owner).SetKey(r.Key).SetContent(r.Content).
				SetCreationDatetime(r.CreationDatetime).SetLastUpdated(r.LastUpdated).
				SetLastRevisionHash(r.LastRevisionHash).SetElementCount(r.ElementCount))
		}
		for i := 0; i < len(rows); i += 500 {
			err := tx.Aggregate.CreateBulk(rows[i:min(i+500, len(rows))]...).
				OnConflict(sql.ConflictColumns(aggregate.FieldOwner, aggregate.FieldKey)).
				UpdateNewValues().Exec(ctx)
			if err != nil {
				return fmt.Errorf("write aggregates: %w", err)
			}
		}
		return nil
	}
}

// Forget implements Handler: it deletes the element and recomputes the
// aggregate from the remaining ones (deleting it when none remain).
func (h *Aggregate) Forget(ctx context.Context, tx *ent.Tx, target *ent.Message) ([]string, error) {
	if err := flushBatch(ctx); err != nil {
		return nil, errcode.Wrap(errcode.InternalError, err, "flush batch")
	}
	el, err := tx.AggregateElement.Get(ctx, target.ID)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, errcode.Wrap(errcode.InternalError, err, "read aggregate element")
	}
	if err := Lock(ctx, tx, h.dialect, "aggregate:"+el.Owner+"\x00"+el.Key); err != nil {
		return nil, err
	}
	if err := tx.AggregateElement.DeleteOneID(el.ID).Exec(ctx); err != nil {
		return nil, errcode.Wrap(errcode.InternalError, err, "delete aggregate element")
	}
	return nil, h.recompute(ctx, tx, el.Owner, el.Key)
}

// recompute rebuilds the (owner, key) aggregate from its elements.
func (h *Aggregate) recompute(ctx context.Context, tx *ent.Tx, owner, key string) error {
	els, err := tx.AggregateElement.Query().
		Where(aggregateelement.Owner(owner), aggregateelement.Key(key)).
		Order(aggregateelement.ByCreationDatetime(), aggregateelement.ByID()).
		All(ctx)
	if err != nil {
		return errcode.Wrap(errcode.InternalError, err, "read aggregate elements")
	}
	if len(els) == 0 {
		_, err := tx.Aggregate.Delete().Where(aggregate.Owner(owner), aggregate.Key(key)).Exec(ctx)
		if err != nil {
			return errcode.Wrap(errcode.InternalError, err, "delete aggregate")
		}
		return nil
	}
	content := json.RawMessage("{}")
	for _, el := range els {
		if content, err = mergeObjects(content, el.Content); err != nil {
			return errcode.Wrap(errcode.InternalError, err, "merge aggregate element "+el.ID)
		}
	}
	first, last := els[0], els[len(els)-1]
	return upsertAggregate(ctx, tx, owner, key, content, first.CreationDatetime, last.CreationDatetime, last.ID, len(els))
}

// upsertAggregate writes the whole aggregate row.
func upsertAggregate(ctx context.Context, tx *ent.Tx, owner, key string, content json.RawMessage, created, updated time.Time, last string, n int) error {
	err := tx.Aggregate.Create().
		SetOwner(owner).SetKey(key).SetContent(content).
		SetCreationDatetime(created).SetLastUpdated(updated).
		SetLastRevisionHash(last).SetElementCount(n).
		OnConflict(sql.ConflictColumns(aggregate.FieldOwner, aggregate.FieldKey)).
		UpdateNewValues().Exec(ctx)
	if err != nil {
		return errcode.Wrap(errcode.InternalError, err, "write aggregate")
	}
	return nil
}

// mergeObjects is the shallow merge of two JSON objects (PostgreSQL's
// jsonb ||): the keys of add replace those of base, nested objects are
// replaced whole, null values are kept. The keys keep base's order, new
// keys follow in add's order.
func mergeObjects(base, add json.RawMessage) (json.RawMessage, error) {
	o, err := parseObject(base)
	if err != nil {
		return nil, err
	}
	if err := o.merge(add); err != nil {
		return nil, err
	}
	return o.encode(), nil
}

// object is a JSON object as its members in order, for mergeObjects.
type object struct {
	keys []string
	vals []json.RawMessage
	idx  map[string]int // key -> position
}

// parseObject splits a JSON object into an object.
func parseObject(raw json.RawMessage) (*object, error) {
	keys, vals, err := members(raw)
	if err != nil {
		return nil, err
	}
	idx := make(map[string]int, len(keys))
	for i, k := range keys {
		idx[k] = i
	}
	return &object{keys: keys, vals: vals, idx: idx}, nil
}

// merge merges the JSON object add into o (see mergeObjects).
func (o *object) merge(add json.RawMessage) error {
	ak, av, err := members(add)
	if err != nil {
		return err
	}
	for i, k := range ak {
		if j, ok := o.idx[k]; ok {
			o.vals[j] = av[i]
			continue
		}
		o.idx[k] = len(o.keys)
		o.keys = append(o.keys, k)
		o.vals = append(o.vals, av[i])
	}
	return nil
}

// encode returns o as a JSON object.
func (o *object) encode() json.RawMessage {
	n := 2
	for i, k := range o.keys {
		n += len(k) + len(o.vals[i]) + 4
	}
	var buf bytes.Buffer
	buf.Grow(n)
	buf.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(o.vals[i])
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// members splits a JSON object into its keys and raw values; a repeated
// key keeps its last value, as JSON decoders do.
func members(obj json.RawMessage) ([]string, []json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, fmt.Errorf("aggregate content is not an object")
	}
	var keys []string
	var vals []json.RawMessage
	seen := map[string]int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		k, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		if i, ok := seen[k]; ok {
			vals[i] = v
			continue
		}
		seen[k] = len(keys)
		keys = append(keys, k)
		vals = append(vals, v)
	}
	return keys, vals, nil
}

// Interface guards
var _ Handler = (*Aggregate)(nil)

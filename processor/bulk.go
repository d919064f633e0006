package processor

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/aggregateelement"
	"github.com/alephql/alephql/ent/message"
	"github.com/alephql/alephql/ent/messageconfirmation"
	"github.com/alephql/alephql/ent/messageevent"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/ent/messagetag"
	"github.com/alephql/alephql/ent/pendingmessage"
	"github.com/alephql/alephql/ent/post"
)

// Bulk inserts on PostgreSQL: one INSERT ... SELECT FROM unnest($1, $2,
// ...) statement per table and batch, with one array parameter per column.
// The statement text is the same whatever the number of rows, so the
// server parses and plans it once per connection, and the rows travel as
// a few binary arrays instead of thousands of bound parameters; ent's
// multi-row VALUES builder cost as much CPU as the database work itself.
// The rows come from the same ent builders as on SQLite (through their
// mutations), with ent's defaults and validators applied here, so both
// back-ends store the same values and refuse the same ones.

// pgColumn is one column of a bulk insert.
type pgColumn struct {
	field string // ent field name ("" with id: the builder's ID)
	id    bool
	typ   string // element type: text, jsonb, timestamptz, bigint, boolean
	def   any    // value when the builder leaves the field unset (nil: NULL)
	check func(string) error
}

// pgTable describes the bulk insert of one table.
type pgTable struct {
	name   string
	cols   []pgColumn
	suffix string // ON CONFLICT ... / RETURNING ...
	query  string
}

// mutation is what bulk inserts read of an ent builder's mutation.
type mutation interface {
	Field(name string) (ent.Value, bool)
}

// build returns the statement of t.
func (t *pgTable) build() string {
	if t.query != "" {
		return t.query
	}
	names := make([]string, len(t.cols))
	sel := make([]string, len(t.cols))
	args := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = `"` + c.column() + `"`
		sel[i] = fmt.Sprintf("c%d", i+1)
		arr := c.typ
		if c.typ == "jsonb" {
			arr = "text" // cast per element below: ent sends JSON as text too
			sel[i] += "::jsonb"
		}
		args[i] = fmt.Sprintf("$%d::%s[]", i+1, arr)
	}
	aliases := make([]string, len(t.cols))
	for i := range t.cols {
		aliases[i] = fmt.Sprintf("c%d", i+1)
	}
	t.query = fmt.Sprintf(`INSERT INTO %q (%s) SELECT %s FROM unnest(%s) WITH ORDINALITY AS u(%s, ord) ORDER BY ord %s`,
		t.name, strings.Join(names, ", "), strings.Join(sel, ", "), strings.Join(args, ", "), strings.Join(aliases, ", "), t.suffix)
	return t.query
}

// column is the column name of c.
func (c pgColumn) column() string { return c.field }

// pgRows accumulates the column arrays of one statement.
type pgRows struct {
	t    *pgTable
	cols []any // per column: []*string, []*time.Time, []*int64 or []*bool
	n    int
}

// newRows starts the arrays of t.
func newRows(t *pgTable, capacity int) *pgRows {
	r := &pgRows{t: t, cols: make([]any, len(t.cols))}
	for i, c := range t.cols {
		switch c.typ {
		case "text", "jsonb":
			r.cols[i] = make([]*string, 0, capacity)
		case "timestamptz":
			r.cols[i] = make([]*time.Time, 0, capacity)
		case "bigint":
			r.cols[i] = make([]*int64, 0, capacity)
		case "boolean":
			r.cols[i] = make([]*bool, 0, capacity)
		default:
			panic("processor: bulk column type " + c.typ)
		}
	}
	return r
}

// add appends the row of one builder: id is its ID (nil when the table
// has no ID column in t), m its mutation.
func (r *pgRows) add(id any, m mutation) error {
	for i, c := range r.t.cols {
		var v any
		ok := false
		if c.id {
			v, ok = id, id != nil
		} else {
			v, ok = m.Field(c.field)
		}
		if !ok {
			v = c.def
		}
		if err := r.set(i, c, v); err != nil {
			return fmt.Errorf("%s.%s: %w", r.t.name, c.column(), err)
		}
	}
	r.n++
	return nil
}

// set appends v to column i.
func (r *pgRows) set(i int, c pgColumn, v any) error {
	switch c.typ {
	case "text":
		var p *string
		if v != nil {
			s, ok := v.(string)
			if !ok {
				// Enums are named string types.
				rv := reflect.ValueOf(v)
				if rv.Kind() != reflect.String {
					return fmt.Errorf("%T is not a string", v)
				}
				s = rv.String()
			}
			if c.check != nil {
				if err := c.check(s); err != nil {
					return err
				}
			}
			p = &s
		}
		r.cols[i] = append(r.cols[i].([]*string), p)
	case "jsonb":
		var p *string
		if raw, ok := v.(json.RawMessage); ok && len(raw) > 0 {
			// Raw JSON as is: the server parses it into jsonb, which drops
			// the whitespace and escapes that json.Marshal would compact,
			// and refuses what it would refuse, so the stored value is the
			// same without a second pass over every content in Go.
			s := string(raw)
			p = &s
		} else if v != nil {
			b, err := json.Marshal(v) // as ent does
			if err != nil {
				return err
			}
			s := string(b)
			p = &s
		}
		r.cols[i] = append(r.cols[i].([]*string), p)
	case "timestamptz":
		var p *time.Time
		if v != nil {
			t, ok := v.(time.Time)
			if !ok {
				return fmt.Errorf("%T is not a time", v)
			}
			p = &t
		}
		r.cols[i] = append(r.cols[i].([]*time.Time), p)
	case "bigint":
		var p *int64
		if v != nil {
			rv := reflect.ValueOf(v)
			if !rv.CanInt() {
				return fmt.Errorf("%T is not an integer", v)
			}
			n := rv.Int()
			p = &n
		}
		r.cols[i] = append(r.cols[i].([]*int64), p)
	case "boolean":
		var p *bool
		if v != nil {
			b, ok := v.(bool)
			if !ok {
				return fmt.Errorf("%T is not a bool", v)
			}
			p = &b
		}
		r.cols[i] = append(r.cols[i].([]*bool), p)
	}
	return nil
}

// exec runs the statement.
func (r *pgRows) exec(ctx context.Context, tx *ent.Tx) error {
	if r.n == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, r.t.build(), r.cols...); err != nil {
		return fmt.Errorf("insert %s: %w", r.t.name, err)
	}
	return nil
}

// returningIDs runs a statement that ends in RETURNING id and returns the
// ids in row order (identity values are drawn in the SELECT's order).
func (r *pgRows) returningIDs(ctx context.Context, tx *ent.Tx) ([]int64, error) {
	if r.n == 0 {
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, r.t.build(), r.cols...)
	if err != nil {
		return nil, fmt.Errorf("insert %s: %w", r.t.name, err)
	}
	defer rows.Close()
	ids := make([]int64, 0, r.n)
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("insert %s: %w", r.t.name, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insert %s: %w", r.t.name, err)
	}
	if len(ids) != r.n {
		return nil, fmt.Errorf("insert %s: %d ids for %d rows", r.t.name, len(ids), r.n)
	}
	slices.Sort(ids)
	return ids, nil
}

// The tables written in bulk.
var (
	pgMessages = &pgTable{name: message.Table, cols: []pgColumn{
		{field: message.FieldID, id: true, typ: "text", check: message.IDValidator},
		{field: message.FieldType, typ: "text"},
		{field: message.FieldChain, typ: "text"},
		{field: message.FieldSender, typ: "text"},
		{field: message.FieldSignature, typ: "text"},
		{field: message.FieldItemType, typ: "text"},
		{field: message.FieldItemContent, typ: "text"},
		{field: message.FieldContent, typ: "jsonb"},
		{field: message.FieldTime, typ: "timestamptz"},
		{field: message.FieldChannel, typ: "text"},
		{field: message.FieldSize, typ: "bigint", def: message.DefaultSize},
		{field: message.FieldStatus, typ: "text", def: string(message.DefaultStatus), check: func(s string) error {
			return message.StatusValidator(message.Status(s))
		}},
		{field: message.FieldReceptionTime, typ: "timestamptz"},
		{field: message.FieldOwner, typ: "text"},
		{field: message.FieldContentType, typ: "text"},
		{field: message.FieldContentRef, typ: "text"},
		{field: message.FieldContentKey, typ: "text"},
		{field: message.FieldContentItemHash, typ: "text"},
		{field: message.FieldFirstConfirmedAt, typ: "timestamptz"},
		{field: message.FieldFirstConfirmedHeight, typ: "bigint"},
		{field: message.FieldPaymentType, typ: "text"},
		{field: message.FieldTags, typ: "jsonb"},
	}}
	pgPosts = &pgTable{name: post.Table, suffix: "ON CONFLICT (" + post.FieldID + ") DO NOTHING", cols: []pgColumn{
		{field: post.FieldID, id: true, typ: "text", check: post.IDValidator},
		{field: post.FieldOwner, typ: "text"},
		{field: post.FieldType, typ: "text"},
		{field: post.FieldRef, typ: "text"},
		{field: post.FieldChannel, typ: "text"},
		{field: post.FieldContent, typ: "jsonb"},
		{field: post.FieldCreationDatetime, typ: "timestamptz"},
		{field: post.FieldLatestAmend, typ: "text", check: post.LatestAmendValidator},
		{field: post.FieldTags, typ: "jsonb"},
		{field: post.FieldAmends, typ: "text", check: post.AmendsValidator},
	}}
	pgElements = &pgTable{name: aggregateelement.Table, suffix: "ON CONFLICT (" + aggregateelement.FieldID + ") DO NOTHING", cols: []pgColumn{
		{field: aggregateelement.FieldID, id: true, typ: "text", check: aggregateelement.IDValidator},
		{field: aggregateelement.FieldKey, typ: "text"},
		{field: aggregateelement.FieldOwner, typ: "text"},
		{field: aggregateelement.FieldContent, typ: "jsonb"},
		{field: aggregateelement.FieldCreationDatetime, typ: "timestamptz"},
	}}
	// No ON CONFLICT for tags (SQLite keeps ent's DO NOTHING): a message's
	// tags are written once (uniq), right after its messages row in the
	// same transaction, and that insert has no ON CONFLICT: had any
	// transaction written tags for the hash, its messages row would make
	// ours fail first (deleting the row cascades to its tags). The clause
	// made PostgreSQL probe the unique index and confirm a speculative
	// insertion (one more WAL record) for every tag.
	pgTags = &pgTable{name: messagetag.Table, cols: []pgColumn{
		{field: messagetag.FieldItemHash, typ: "text", check: messagetag.ItemHashValidator},
		{field: messagetag.FieldTag, typ: "text", check: messagetag.TagValidator},
		{field: messagetag.FieldTime, typ: "timestamptz"},
	}}
	pgConfirmations = &pgTable{name: messageconfirmation.Table,
		suffix: "ON CONFLICT (" + messageconfirmation.FieldItemHash + ", " + messageconfirmation.FieldTxHash + ") DO NOTHING",
		cols: []pgColumn{
			{field: messageconfirmation.FieldItemHash, typ: "text", check: messageconfirmation.ItemHashValidator},
			{field: messageconfirmation.FieldTxHash, typ: "text"},
		}}
	pgStatuses = &pgTable{name: messagestatus.Table, suffix: "ON CONFLICT (" + messagestatus.FieldID + ") DO NOTHING", cols: []pgColumn{
		{field: messagestatus.FieldID, id: true, typ: "text", check: messagestatus.IDValidator},
		{field: messagestatus.FieldStatus, typ: "text", check: func(s string) error {
			return messagestatus.StatusValidator(messagestatus.Status(s))
		}},
		{field: messagestatus.FieldReceptionTime, typ: "timestamptz"},
		{field: messagestatus.FieldUpdatedAt, typ: "timestamptz"},
	}}
	pgPending = &pgTable{name: pendingmessage.Table,
		suffix: "ON CONFLICT (" + pendingmessage.FieldSender + ", " + pendingmessage.FieldItemHash + ", " + pendingmessage.FieldSignature + ") DO NOTHING",
		cols: []pgColumn{
			{field: pendingmessage.FieldItemHash, typ: "text", check: pendingmessage.ItemHashValidator},
			{field: pendingmessage.FieldType, typ: "text"},
			{field: pendingmessage.FieldChain, typ: "text"},
			{field: pendingmessage.FieldSender, typ: "text"},
			{field: pendingmessage.FieldSignature, typ: "text", def: pendingmessage.DefaultSignature},
			{field: pendingmessage.FieldItemType, typ: "text"},
			{field: pendingmessage.FieldItemContent, typ: "text"},
			{field: pendingmessage.FieldContent, typ: "jsonb"},
			{field: pendingmessage.FieldTime, typ: "timestamptz"},
			{field: pendingmessage.FieldChannel, typ: "text"},
			{field: pendingmessage.FieldReceptionTime, typ: "timestamptz"},
			{field: pendingmessage.FieldCheckMessage, typ: "boolean", def: pendingmessage.DefaultCheckMessage},
			{field: pendingmessage.FieldNextAttempt, typ: "timestamptz"},
			{field: pendingmessage.FieldRetries, typ: "bigint", def: pendingmessage.DefaultRetries},
			{field: pendingmessage.FieldFetched, typ: "boolean", def: pendingmessage.DefaultFetched},
			{field: pendingmessage.FieldOrigin, typ: "text", check: func(s string) error {
				return pendingmessage.OriginValidator(pendingmessage.Origin(s))
			}},
			{field: pendingmessage.FieldLastErrorCode, typ: "bigint"},
			{field: pendingmessage.FieldLastError, typ: "text"},
			{field: pendingmessage.FieldClaimedBy, typ: "text"},
			{field: pendingmessage.FieldClaimedUntil, typ: "timestamptz"},
			{field: pendingmessage.FieldTxHash, typ: "text"},
		}}
	pgEvents = &pgTable{name: messageevent.Table, suffix: "RETURNING " + messageevent.FieldID, cols: []pgColumn{
		{field: messageevent.FieldItemHash, typ: "text", check: messageevent.ItemHashValidator},
		{field: messageevent.FieldKind, typ: "text"},
		{field: messageevent.FieldCreatedAt, typ: "timestamptz"},
		{field: messageevent.FieldRelated, typ: "text"},
		{field: messageevent.FieldErrorCode, typ: "bigint"},
	}}
)

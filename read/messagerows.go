package read

import (
	"context"
	stdsql "database/sql"
	"encoding/json"
	"fmt"

	"entgo.io/ent/dialect/sql"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/message"
)

// queryMessages reads a page of messages rows: the statement ent writes
// for Message.Query().Where(...).Order(...).Limit(...).Select(cols...) (the
// id first, then cols; every column when cols is nil), with build adding
// the predicates, order and limit, scanned into ent.Message values as ent
// scans them, but with content kept as the raw bytes the driver returns:
// ent decodes each content with encoding/json (a validating scan and a
// copy per row, a tenth of a feed page's CPU) only for the JSON scalar to
// compact it again. The database stores content as JSON (jsonb on
// PostgreSQL, checked on write), so the bytes are the document.
func (r *Reader) queryMessages(ctx context.Context, cols []string, build func(*sql.Selector)) ([]*ent.Message, error) {
	if cols == nil {
		cols = message.Columns
	}
	names := make([]string, 1, len(cols)+1)
	names[0] = message.FieldID
	for _, c := range cols {
		if c != message.FieldID {
			names = append(names, c)
		}
	}
	d, _ := r.sqlDialect.Load().(string)
	if d == "" {
		// The first list reads through ent, which shows the dialect to
		// its selector: no statement of its own to ask the database.
		return r.client.Message.Query().Select(cols...).Modify(func(s *sql.Selector) {
			r.sqlDialect.Store(s.Dialect())
			build(s)
		}).All(ctx)
	}
	s := sql.Dialect(d).Select().From(sql.Table(message.Table))
	s.Select(s.Columns(names...)...)
	build(s)
	query, args := s.Query()
	rows, err := r.client.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query messages: %w", err)
	}
	defer rows.Close()
	sc := newMessageScanner(names)
	var out []*ent.Message
	for rows.Next() {
		m, err := sc.scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query messages: %w", err)
	}
	return out, nil
}

// messageScanner scans messages rows of given columns, reusing its
// destinations from row to row (database/sql copies what it stores in
// them).
type messageScanner struct {
	names []string
	dest  []any
}

func newMessageScanner(names []string) *messageScanner {
	sc := &messageScanner{names: names, dest: make([]any, len(names))}
	for i, n := range names {
		switch n {
		case message.FieldContent, message.FieldTags:
			sc.dest[i] = new([]byte)
		case message.FieldTime, message.FieldReceptionTime, message.FieldFirstConfirmedAt:
			sc.dest[i] = new(stdsql.NullTime)
		case message.FieldSize, message.FieldFirstConfirmedHeight:
			sc.dest[i] = new(stdsql.NullInt64)
		default:
			sc.dest[i] = new(stdsql.NullString)
		}
	}
	return sc
}

// scan reads the current row as ent's Message.assignValues does, except
// for content (see queryMessages).
func (sc *messageScanner) scan(rows *stdsql.Rows) (*ent.Message, error) {
	for _, d := range sc.dest {
		if b, ok := d.(*[]byte); ok {
			*b = nil // a NULL leaves the destination as it was
		}
	}
	if err := rows.Scan(sc.dest...); err != nil {
		return nil, fmt.Errorf("scan message: %w", err)
	}
	m := &ent.Message{}
	optString := func(v *stdsql.NullString) *string {
		if !v.Valid {
			return nil
		}
		s := v.String
		return &s
	}
	for i, n := range sc.names {
		switch v := sc.dest[i].(type) {
		case *stdsql.NullString:
			if !v.Valid {
				continue
			}
			switch n {
			case message.FieldID:
				m.ID = v.String
			case message.FieldType:
				m.Type = v.String
			case message.FieldChain:
				m.Chain = v.String
			case message.FieldSender:
				m.Sender = v.String
			case message.FieldSignature:
				m.Signature = optString(v)
			case message.FieldItemType:
				m.ItemType = v.String
			case message.FieldItemContent:
				m.ItemContent = optString(v)
			case message.FieldChannel:
				m.Channel = optString(v)
			case message.FieldStatus:
				m.Status = message.Status(v.String)
			case message.FieldOwner:
				m.Owner = v.String
			case message.FieldContentType:
				m.ContentType = optString(v)
			case message.FieldContentRef:
				m.ContentRef = optString(v)
			case message.FieldContentKey:
				m.ContentKey = optString(v)
			case message.FieldContentItemHash:
				m.ContentItemHash = optString(v)
			case message.FieldPaymentType:
				m.PaymentType = optString(v)
			default:
				return nil, fmt.Errorf("scan message: unexpected column %q", n)
			}
		case *stdsql.NullTime:
			if !v.Valid {
				continue
			}
			switch n {
			case message.FieldTime:
				m.Time = v.Time
			case message.FieldReceptionTime:
				m.ReceptionTime = v.Time
			case message.FieldFirstConfirmedAt:
				t := v.Time
				m.FirstConfirmedAt = &t
			}
		case *stdsql.NullInt64:
			if !v.Valid {
				continue
			}
			switch n {
			case message.FieldSize:
				m.Size = v.Int64
			case message.FieldFirstConfirmedHeight:
				h := v.Int64
				m.FirstConfirmedHeight = &h
			}
		case *[]byte:
			if len(*v) == 0 {
				continue
			}
			switch n {
			case message.FieldContent:
				m.Content = json.RawMessage(*v)
			case message.FieldTags:
				if err := json.Unmarshal(*v, &m.Tags); err != nil {
					return nil, fmt.Errorf("scan message: unmarshal tags: %w", err)
				}
			}
		}
	}
	return m, nil
}

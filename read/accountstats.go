package read

import (
	"context"
	"strings"

	"entgo.io/ent/dialect/sql"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/countkey"
	"github.com/alephql/alephql/ent/messagecounter"
)

// StatTypes are the message types of an address's statistics, as the
// reference node names them (lower case), with their stored type.
var StatTypes = map[string]string{
	"aggregate": "AGGREGATE", "forget": "FORGET", "instance": "INSTANCE",
	"post": "POST", "program": "PROGRAM", "store": "STORE",
}

// AddressStats are the processed messages of one sender: "messages" (all
// types) and one count per StatTypes key.
type AddressStats map[string]int64

// Stats reads the processed-message counters of senders: O(1) per address
// and type.
func (r *Reader) Stats(ctx context.Context, senders []string) (map[string]AddressStats, error) {
	keys := make([]string, 0, len(senders)*(len(StatTypes)+1))
	for _, s := range senders {
		keys = append(keys, countkey.Key(map[string]string{"sender": s}))
		for _, t := range StatTypes {
			keys = append(keys, countkey.Key(map[string]string{"sender": s, "type": t}))
		}
	}
	rows, err := r.client.MessageCounter.Query().Where(messagecounter.IDIn(keys...)).All(ctx)
	if err != nil {
		return nil, err
	}
	got := make(map[string]int64, len(rows))
	for _, c := range rows {
		got[c.ID] = c.Count
	}
	out := make(map[string]AddressStats, len(senders))
	for _, s := range senders {
		st := AddressStats{"messages": got[countkey.Key(map[string]string{"sender": s})]}
		for name, t := range StatTypes {
			st[name] = got[countkey.Key(map[string]string{"sender": s, "type": t})]
		}
		out[s] = st
	}
	return out, nil
}

// StatsOrder lists senders for /api/v1/addresses/stats.json.
type StatsOrder struct {
	// Type is a StatTypes key, or "" for the total.
	Type string
	Desc bool
	// Contains keeps senders containing this text (case-insensitive).
	Contains string
}

// senderKeys selects the counters of every sender (of one type when t is
// set), optionally containing text.
func senderKeys(t, contains string) func(*sql.Selector) {
	return func(s *sql.Selector) {
		id := s.C(messagecounter.FieldID)
		if t == "" {
			s.Where(sql.And(sql.HasPrefix(id, "sender="), sql.P(func(b *sql.Builder) {
				b.Ident(id).WriteString(" NOT LIKE ").Arg("%|%")
			})))
		} else {
			suffix := "|type=" + t
			s.Where(sql.And(sql.HasPrefix(id, "sender="), sql.HasSuffix(id, suffix)))
		}
		if contains != "" {
			s.Where(sql.P(func(b *sql.Builder) {
				b.WriteString("LOWER(").Ident(id).WriteString(") LIKE ").Arg("%" + likeEscape(strings.ToLower(contains)) + "%").WriteString(" ESCAPE '\\'")
			}))
		}
	}
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// senderOf is the sender of a "sender=X" or "sender=X|type=T" key.
func senderOf(key string) string {
	key = strings.TrimPrefix(key, "sender=")
	if i := strings.LastIndex(key, "|type="); i >= 0 {
		key = key[:i]
	}
	return strings.NewReplacer("%7C", "|", "%3D", "=", "%25", "%").Replace(key)
}

// StatsSender is a sender of StatsSenders with its position.
type StatsSender struct {
	Sender string
	// Key and Count are the counter the list is ordered by.
	Key   string
	Count int64
}

// StatsCursor is the position of a sender in StatsSenders: its counter.
type StatsCursor struct {
	Count int64
	Key   string
}

// StatsSenders lists senders with processed messages by their count of
// o.Type (or total; descending when o.Desc), then by counter key
// (ascending), n beyond after (keyset; nil: the start) or from offset;
// more reports rows beyond the page.
func (r *Reader) StatsSenders(ctx context.Context, o StatsOrder, n, offset int, after *StatsCursor) ([]StatsSender, bool, error) {
	ord := ent.Asc
	if o.Desc {
		ord = ent.Desc
	}
	t := StatTypes[o.Type]
	q := r.client.MessageCounter.Query().Where(func(s *sql.Selector) { senderKeys(t, o.Contains)(s) })
	if after != nil {
		q.Where(func(s *sql.Selector) {
			cnt, id := s.C(messagecounter.FieldCount), s.C(messagecounter.FieldID)
			beyond := sql.GT(cnt, after.Count)
			if o.Desc {
				beyond = sql.LT(cnt, after.Count)
			}
			s.Where(sql.Or(beyond, sql.And(sql.EQ(cnt, after.Count), sql.GT(id, after.Key))))
		})
	}
	rows, err := q.Order(ord(messagecounter.FieldCount), ent.Asc(messagecounter.FieldID)).Limit(n + 1).Offset(offset).All(ctx)
	if err != nil {
		return nil, false, err
	}
	rows, more := Trim(Page{N: n}, rows)
	out := make([]StatsSender, len(rows))
	for i, c := range rows {
		out[i] = StatsSender{Sender: senderOf(c.ID), Key: c.ID, Count: c.Count}
	}
	return out, more, nil
}

// CountStatsSenders counts the senders StatsSenders lists.
func (r *Reader) CountStatsSenders(ctx context.Context, o StatsOrder) (int, error) {
	return r.client.MessageCounter.Query().Where(func(s *sql.Selector) { senderKeys(StatTypes[o.Type], o.Contains)(s) }).Count(ctx)
}

package graph

import (
	"context"
	"slices"

	"entgo.io/ent/dialect/sql"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/predicate"
	"github.com/alephql/alephql/ent/removedmessage"
	"github.com/alephql/alephql/graph/model"
	"github.com/alephql/alephql/read"
)

// onlyRemoved reports whether a filter asks for REMOVED messages: they
// left the messages table, so they are listed from their removed_messages
// snapshots (removedMessages). REMOVED with another status is refused.
func onlyRemoved(f *model.MessageFilter) (bool, error) {
	if f == nil || !slices.Contains(f.Statuses, model.MessageStatusRemoved) {
		return false, nil
	}
	if slices.ContainsFunc(f.Statuses, func(s model.MessageStatus) bool { return s != model.MessageStatusRemoved }) {
		return false, userError(CodeBadUserInput, "statuses REMOVED cannot be combined with other statuses")
	}
	return true, nil
}

// removedMessages answers Query.messages for statuses [REMOVED]: a keyset
// page over the finalized removal snapshots in (time, item_hash) order,
// with the criteria a snapshot has (hashes, senders, owners, channels,
// types, chains, payment types, times); the others are refused, as the
// reference node refuses them for removed messages. REMOVED cannot be
// combined with other statuses.
func (r *Resolver) removedMessages(ctx context.Context, f *model.MessageFilter, o *model.MessageOrder, p pageRequest) (*model.MessageConnection, error) {
	if len(f.Tags)+len(f.Refs)+len(f.ContentTypes)+len(f.ContentKeys)+len(f.ContentHashes) > 0 ||
		f.ConfirmationHeightFrom != nil || f.ConfirmationHeightTo != nil {
		return nil, userError(CodeBadUserInput, "statuses REMOVED filters only by hashes, senders, owners, channels, types, chains, payment types and times")
	}
	if o != nil && o.Field == model.MessageOrderFieldConfirmationTime {
		return nil, userError(CodeBadUserInput, "statuses REMOVED orders by TIME only")
	}
	for name, n := range map[string]int{"hashes": len(f.Hashes), "senders": len(f.Senders), "owners": len(f.Owners),
		"channels": len(f.Channels), "types": len(f.Types), "chains": len(f.Chains), "paymentTypes": len(f.PaymentTypes)} {
		if err := r.checkList(name, n); err != nil {
			return nil, err
		}
	}
	ps := []predicate.RemovedMessage{removedmessage.RemovedAtNotNil()}
	add := func(ok bool, p predicate.RemovedMessage) {
		if ok {
			ps = append(ps, p)
		}
	}
	add(len(f.Hashes) > 0, removedmessage.IDIn(f.Hashes...))
	add(len(f.Senders) > 0, removedmessage.SenderIn(f.Senders...))
	add(len(f.Owners) > 0, removedmessage.OwnerIn(f.Owners...))
	add(len(f.Channels) > 0, removedmessage.ChannelIn(f.Channels...))
	add(len(f.Chains) > 0, removedmessage.ChainIn(f.Chains...))
	add(len(f.Types) > 0, removedmessage.TypeIn(mapSlice(f.Types, storedMessageType)...))
	add(len(f.PaymentTypes) > 0, removedmessage.PaymentTypeIn(mapSlice(f.PaymentTypes, storedEnum[model.PaymentType])...))
	add(f.TimeFrom != nil, func(s *sql.Selector) { removedmessage.TimeGTE(f.TimeFrom.UTC())(s) })
	add(f.TimeTo != nil, func(s *sql.Selector) { removedmessage.TimeLT(f.TimeTo.UTC())(s) })
	counter := model.NewCounter(func(ctx context.Context) (int64, bool, error) {
		n, err := r.client.RemovedMessage.Query().Where(ps...).Count(ctx)
		return int64(n), err == nil, err
	})
	desc := o == nil || o.Direction == model.OrderDirectionDesc
	scanDesc := desc != p.backward
	q := r.client.RemovedMessage.Query().Where(ps...)
	if p.cursor != nil {
		var c messageCursor
		if err := decodeCursor(*p.cursor, &c); err != nil {
			return nil, err
		}
		q.Where(func(s *sql.Selector) {
			cols := []string{s.C(removedmessage.FieldTime), s.C(removedmessage.FieldID)}
			if scanDesc {
				s.Where(sql.CompositeLT(cols, c.T.UTC(), c.H))
			} else {
				s.Where(sql.CompositeGT(cols, c.T.UTC(), c.H))
			}
		})
	}
	order := ent.Asc
	if scanDesc {
		order = ent.Desc
	}
	rows, err := q.Order(order(removedmessage.FieldTime), order(removedmessage.FieldID)).Limit(p.n + 1).All(ctx)
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
	conn := &model.MessageConnection{Edges: make([]*model.MessageEdge, len(rows)), Counter: counter}
	for i, rm := range rows {
		conn.Edges[i] = &model.MessageEdge{Node: read.RemovedMessage(rm), Cursor: messageCursor{T: rm.Time.UTC(), H: rm.ID}.encode()}
	}
	var start, end *string
	if len(rows) > 0 {
		start, end = &conn.Edges[0].Cursor, &conn.Edges[len(rows)-1].Cursor
	}
	conn.PageInfo = p.pageInfo(more, start, end)
	return conn, nil
}

package graph

import (
	"context"
	"slices"

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
	f2 := read.SnapshotFilter{Hashes: f.Hashes, Senders: f.Senders, Owners: f.Owners, Channels: f.Channels, Chains: f.Chains,
		Types:        mapSlice(f.Types, storedMessageType),
		PaymentTypes: mapSlice(f.PaymentTypes, storedEnum[model.PaymentType]),
		TimeFrom:     f.TimeFrom, TimeTo: f.TimeTo}
	counter := model.NewCounter(func(ctx context.Context) (int64, bool, error) {
		return r.reader.CountRemoved(ctx, f2)
	})
	page := read.Page{N: p.n, Desc: o == nil || o.Direction == model.OrderDirectionDesc, Backward: p.backward}
	if p.cursor != nil {
		var c messageCursor
		if err := decodeCursor(*p.cursor, &c); err != nil {
			return nil, err
		}
		page.After = &read.KeyCursor{A: c.T.UTC(), B: c.H}
	}
	rows, more, err := r.reader.RemovedPage(ctx, f2, removedmessage.FieldTime, page)
	if err != nil {
		return nil, err
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

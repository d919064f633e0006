package rest

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/message"
	"github.com/alephql/alephql/read"
)

// confirmationItem is a confirmation in a message item.
type confirmationItem struct {
	Chain  string `json:"chain"`
	Hash   string `json:"hash"`
	Height int64  `json:"height"`
}

// messageItem is a message in lists (pyaleph's message_to_dict), fields
// in sorted order as the reference node writes them.
type messageItem struct {
	Chain         string             `json:"chain"`
	Channel       *string            `json:"channel"`
	Confirmations []confirmationItem `json:"confirmations"`
	Confirmed     bool               `json:"confirmed"`
	Content       any                `json:"content,omitempty"`
	ItemContent   *string            `json:"item_content"`
	ItemHash      string             `json:"item_hash"`
	ItemType      string             `json:"item_type"`
	Sender        string             `json:"sender"`
	Signature     *string            `json:"signature"`
	Size          *int64             `json:"size,omitempty"`
	Time          float64            `json:"time"`
	Type          string             `json:"type"`
}

// contentFormat is what a list item carries as content.
type contentFormat string

const (
	formatFull    contentFormat = "full"
	formatHeaders contentFormat = "headers"
	formatNone    contentFormat = "none"
)

// messageColumns are the columns a list of format f reads.
func messageColumns(f contentFormat) []string {
	cols := []string{message.FieldType, message.FieldChain, message.FieldSender, message.FieldSignature,
		message.FieldItemType, message.FieldItemContent, message.FieldTime, message.FieldChannel, message.FieldSize,
		message.FieldFirstConfirmedAt}
	switch f {
	case formatFull:
		cols = append(cols, message.FieldContent)
	case formatHeaders:
		cols = append(cols, message.FieldOwner, message.FieldContentType, message.FieldContentRef,
			message.FieldContentKey, message.FieldContentItemHash)
	}
	return cols
}

// headers is contentFormat=headers: the content's main fields, from
// columns.
func headers(m *ent.Message) map[string]any {
	h := map[string]any{"address": m.Owner}
	switch m.Type {
	case "POST":
		h["type"], h["ref"] = m.ContentType, m.ContentRef
	case "AGGREGATE":
		h["key"] = m.ContentKey
	case "STORE":
		h["item_hash"], h["ref"] = m.ContentItemHash, m.ContentRef
	}
	return h
}

// messageItems makes the list items of rows, reading their confirmations
// in one query.
func (a *API) messageItems(ctx context.Context, rows []*ent.Message, f contentFormat, withSize bool) ([]messageItem, error) {
	var confirmed []string
	for _, m := range rows {
		if m.FirstConfirmedAt != nil {
			confirmed = append(confirmed, m.ID)
		}
	}
	confs, err := read.Confirmations(ctx, a.reader.Client(), confirmed)
	if err != nil {
		return nil, err
	}
	out := make([]messageItem, len(rows))
	for i, m := range rows {
		it := messageItem{
			Chain: m.Chain, Channel: m.Channel, Confirmations: []confirmationItem{}, Confirmed: m.FirstConfirmedAt != nil,
			ItemContent: m.ItemContent, ItemHash: m.ID, ItemType: m.ItemType, Sender: m.Sender, Signature: m.Signature,
			Time: epochOf(m.Time), Type: m.Type,
		}
		if withSize {
			size := m.Size
			it.Size = &size
		}
		for _, c := range confs[m.ID] {
			it.Confirmations = append(it.Confirmations, confirmationItem{Chain: c.Chain, Hash: c.TxHash, Height: c.Height})
		}
		switch f {
		case formatFull:
			if len(m.Content) > 0 {
				it.Content = json.RawMessage(m.Content)
			}
		case formatHeaders:
			it.Content = headers(m)
		}
		out[i] = it
	}
	return out, nil
}

// snapshotItem is a forgotten or removed message in lists and in
// GET /api/v0/messages/{hash}.
type snapshotItem struct {
	Chain       string   `json:"chain"`
	Channel     *string  `json:"channel"`
	ForgottenAt *string  `json:"forgotten_at,omitempty"`
	ForgottenBy []string `json:"forgotten_by,omitempty"`
	ItemHash    string   `json:"item_hash"`
	ItemType    string   `json:"item_type"`
	Owner       string   `json:"owner"`
	PaymentType *string  `json:"payment_type"`
	RemovedAt   *string  `json:"removed_at,omitempty"`
	Sender      string   `json:"sender"`
	Signature   *string  `json:"signature"`
	Size        int64    `json:"size"`
	Status      string   `json:"status"`
	Time        float64  `json:"time"`
	Type        string   `json:"type"`
}

func forgottenItem(f *ent.ForgottenMessage) snapshotItem {
	at := isoTime(f.ForgottenAt)
	by := f.ForgottenBy
	if by == nil {
		by = []string{}
	}
	return snapshotItem{Chain: f.Chain, Channel: f.Channel, ForgottenAt: &at, ForgottenBy: by, ItemHash: f.ID, ItemType: f.ItemType,
		Owner: f.Owner, PaymentType: f.PaymentType, Sender: f.Sender, Signature: f.Signature, Size: f.Size, Status: "forgotten",
		Time: epochOf(f.Time), Type: f.Type}
}

func removedItem(rm *ent.RemovedMessage) snapshotItem {
	it := snapshotItem{Chain: rm.Chain, Channel: rm.Channel, ItemHash: rm.ID, ItemType: rm.ItemType, Owner: rm.Owner,
		PaymentType: rm.PaymentType, Sender: rm.Sender, Signature: rm.Signature, Size: rm.Size, Status: "removed",
		Time: epochOf(rm.Time), Type: rm.Type}
	if rm.RemovedAt != nil {
		at := isoTime(*rm.RemovedAt)
		it.RemovedAt = &at
	}
	return it
}

// messageListQuery is a parsed messages.json request.
type messageListQuery struct {
	filter   read.MessageFilter
	order    read.MessageOrder
	format   contentFormat
	paging   paging
	terminal string // "forgotten" or "removed": a snapshot listing
}

// parseMessageList reads the parameters of §9.2 in their documented and
// snake_case names. history is the websocket's extra parameter (unused
// here).
func (a *API) parseMessageList(r *http.Request) (messageListQuery, error) {
	p := newParams(r.URL.Query(), a.cfg.MaxFilterValues)
	var q messageListQuery
	sortBy := p.oneOf("sortBy", "time", "time", "tx-time")
	sortOrder := p.oneOf("sortOrder", "-1", "-1", "1")
	types := p.list("msgTypes", among(msgTypes))
	if t, ok := p.raw("msgType"); ok {
		if !among(msgTypes)(t) {
			p.bad("msgType", "invalid message type %q", t)
		}
		types = append(types, t)
	}
	sts := p.list("msgStatuses", among(statuses))
	f := read.MessageFilter{
		Hashes:        p.list("hashes", isItemHash),
		Senders:       p.list("addresses", nil),
		Owners:        p.list("owners", nil),
		Refs:          p.list("refs", nil),
		ContentHashes: p.list("contentHashes", isItemHash),
		ContentKeys:   p.list("contentKeys", isItemHash),
		ContentTypes:  p.list("contentTypes", nil),
		Chains:        p.list("chains", nil),
		Channels:      p.list("channels", nil),
		Tags:          p.list("tags", nil),
		PaymentTypes:  p.list("paymentTypes", among(payments)),
		Types:         types,
		TimeFrom:      p.epoch("startDate"),
		TimeTo:        p.epoch("endDate"),
		HeightFrom:    p.optInt("startBlock"),
		HeightTo:      p.optInt("endBlock"),
	}
	f.UnconfirmedPassHeightFrom = true
	format := contentFormat(p.oneOf("contentFormat", "full", "full", "headers", "none"))
	if p.boolean("excludeContent", false) {
		format = formatNone
	}
	q.paging = a.paging(p, r, DefaultPageSize)
	if p.err != nil {
		return q, p.err
	}
	if len(sts) == 0 {
		sts = []string{"processed", "removing"}
	}
	for _, t := range []string{"forgotten", "removed"} {
		if !slices.Contains(sts, t) {
			continue
		}
		if len(sts) > 1 {
			return q, errorf(http.StatusBadRequest, "msgStatuses=%s cannot be combined with other statuses", t)
		}
		if len(f.Refs)+len(f.ContentTypes)+len(f.ContentHashes)+len(f.ContentKeys)+len(f.Tags) > 0 ||
			f.HeightFrom != nil || f.HeightTo != nil || q.paging.cursor != nil {
			return q, errorf(http.StatusBadRequest, "msgStatuses=%s does not take refs, contentTypes, contentHashes, contentKeys, tags, startBlock, endBlock or cursor", t)
		}
		q.terminal = t
	}
	f.Statuses = sts
	// Block filters order by confirmation as tx-time does, in page mode:
	// cursors ({"h","t"}) carry no confirmation time, so cursor pages
	// order by time.
	byTx := sortBy == "tx-time" || (q.paging.cursor == nil && (f.HeightFrom != nil || f.HeightTo != nil))
	if q.paging.cursor != nil && sortBy == "tx-time" {
		return q, badParam("cursor", "cursor pagination does not work with sortBy=tx-time")
	}
	q.filter, q.format = f, format
	q.order = read.MessageOrder{ByConfirmation: byTx, Desc: sortOrder == "-1"}
	return q, nil
}

// messageList serves GET /api/v0/messages.json and /messages/page/{n}.json.
func (a *API) messageList(w http.ResponseWriter, r *http.Request) error {
	q, err := a.parseMessageList(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if q.terminal != "" {
		return a.snapshotList(w, r, q)
	}
	rq := read.MessageQuery{Filter: q.filter, Order: q.order, N: q.paging.perPage, Columns: messageColumns(q.format)}
	if q.paging.cursor != nil {
		c, cerr := decodeTimeCursor(*q.paging.cursor)
		if cerr != nil {
			return cerr
		}
		if c != nil {
			rq.After = &read.MessageCursor{T: c.Time, H: c.Hash}
		}
	} else {
		rq.Offset = q.paging.offset()
	}
	rows, more, err := a.reader.Messages(ctx, rq)
	if err != nil {
		return err
	}
	items, err := a.messageItems(ctx, rows, q.format, true)
	if err != nil {
		return err
	}
	if q.paging.cursor != nil {
		var next *string
		if more && len(rows) > 0 {
			last := rows[len(rows)-1]
			c := encodeTimeCursor(last.ID, last.Time)
			next = &c
		}
		return writeJSON(w, http.StatusOK, cursorEnvelope("messages", items, q.paging, next))
	}
	total, err := pageTotal(q.paging, len(rows), func() (int64, error) {
		n, _, err := a.reader.CountMessages(ctx, q.filter)
		return n, err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, pageEnvelope("messages", items, q.paging, total))
}

// snapshotList serves msgStatuses=forgotten or removed (page mode).
func (a *API) snapshotList(w http.ResponseWriter, r *http.Request, q messageListQuery) error {
	ctx := r.Context()
	f := read.SnapshotFilter{Hashes: q.filter.Hashes, Senders: q.filter.Senders, Owners: q.filter.Owners, Channels: q.filter.Channels,
		Chains: q.filter.Chains, Types: q.filter.Types, PaymentTypes: q.filter.PaymentTypes, From: q.filter.TimeFrom, To: q.filter.TimeTo}
	var items []snapshotItem
	var count func() (int64, error)
	if q.terminal == "forgotten" {
		rows, _, err := a.reader.Forgotten(ctx, f, q.order.Desc, q.paging.perPage, q.paging.offset())
		if err != nil {
			return err
		}
		for _, x := range rows {
			items = append(items, forgottenItem(x))
		}
		count = func() (int64, error) { n, _, err := a.reader.CountForgotten(ctx, f); return n, err }
	} else {
		rows, _, err := a.reader.Removed(ctx, f, q.order.Desc, q.paging.perPage, q.paging.offset())
		if err != nil {
			return err
		}
		for _, x := range rows {
			items = append(items, removedItem(x))
		}
		count = func() (int64, error) { n, _, err := a.reader.CountRemoved(ctx, f); return n, err }
	}
	if items == nil {
		items = []snapshotItem{}
	}
	total, err := pageTotal(q.paging, len(items), count)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, pageEnvelope("messages", items, q.paging, total))
}

// hashParam reads and checks the {hash} path value (400 if malformed).
func hashParam(r *http.Request) (string, error) {
	h := r.PathValue("hash")
	if !isItemHash(h) {
		return "", errorf(http.StatusBadRequest, "invalid item hash %q", h)
	}
	return h, nil
}

// status reads a message's status (404 if unknown).
func (a *API) status(ctx context.Context, hash string) (*read.Status, error) {
	sts, err := read.Statuses(ctx, a.reader.Client(), []string{hash})
	if err != nil {
		return nil, err
	}
	st := sts[hash]
	if st == nil {
		return nil, errorf(http.StatusNotFound, "message %s not found", hash)
	}
	return st, nil
}

// pendingItem is a queued copy in GET /api/v0/messages/{hash}.
type pendingItem struct {
	Chain         string          `json:"chain"`
	Channel       *string         `json:"channel"`
	Content       json.RawMessage `json:"content"`
	ItemContent   *string         `json:"item_content"`
	ItemHash      string          `json:"item_hash"`
	ItemType      string          `json:"item_type"`
	ReceptionTime string          `json:"reception_time"`
	Sender        string          `json:"sender"`
	Signature     *string         `json:"signature"`
	Time          string          `json:"time"`
	Type          string          `json:"type"`
}

// reasonOf is the removal reason of a message: the one its removal
// snapshot records (the billing jobs write it), else the one its payment
// type implies.
func reasonOf(rm *ent.RemovedMessage, paymentType *string) string {
	if rm != nil && rm.Reason != nil {
		return string(*rm.Reason)
	}
	if paymentType != nil && *paymentType == "credit" {
		return "credit_insufficient"
	}
	return "balance_insufficient"
}

// message serves GET /api/v0/messages/{hash} for every status (§9.3).
func (a *API) message(w http.ResponseWriter, r *http.Request) error {
	hash, err := hashParam(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	st, err := a.status(ctx, hash)
	if err != nil {
		return err
	}
	out := map[string]any{"status": string(st.Status), "item_hash": hash, "reception_time": isoTime(st.ReceptionTime)}
	if st.Status != "processed" {
		noStore(w) // only a processed message's changes are all outbox events of it
	}
	switch st.Status {
	case "pending":
		copies, err := a.reader.PendingCopies(ctx, hash)
		if err != nil {
			return err
		}
		msgs := make([]pendingItem, 0, len(copies))
		for _, p := range copies {
			var sig *string
			if p.Signature != "" {
				sig = &p.Signature
			}
			content := p.Content
			if content == nil {
				content = json.RawMessage("null")
			}
			msgs = append(msgs, pendingItem{Chain: p.Chain, Channel: p.Channel, Content: content, ItemContent: p.ItemContent,
				ItemHash: p.ItemHash, ItemType: p.ItemType, ReceptionTime: isoTime(p.ReceptionTime), Sender: p.Sender,
				Signature: sig, Time: isoTime(p.Time), Type: p.Type})
		}
		out["messages"] = msgs
	case "processed", "removing":
		ms, err := a.reader.MessagesByHash(ctx, []string{hash})
		if err != nil {
			return err
		}
		m := ms[hash]
		if m == nil {
			return errorf(http.StatusNotFound, "message %s not found", hash)
		}
		items, err := a.messageItems(ctx, []*ent.Message{m}, formatFull, false)
		if err != nil {
			return err
		}
		if c, ok := items[0].Content.(json.RawMessage); ok {
			items[0].Content = normalizedContent(m.Type, c) // §9.3: optional fields dumped as null
		}
		out["message"] = items[0]
		if st.Status == "removing" {
			out["reason"] = reasonOf(st.Removed, m.PaymentType)
		}
	case "forgotten":
		if st.Forgotten == nil {
			return errorf(http.StatusGone, "message %s was forgotten", hash)
		}
		it := forgottenItem(st.Forgotten)
		out["message"], out["forgotten_by"] = it, it.ForgottenBy
	case "rejected":
		if st.Rejected == nil {
			return errorf(http.StatusNotFound, "message %s not found", hash)
		}
		out["message"], out["error_code"] = st.Rejected.Message, st.Rejected.ErrorCode
		details := st.Rejected.Details
		if details == nil {
			details = json.RawMessage("null")
		}
		out["details"] = details
	case "removed":
		if st.Removed == nil {
			return errorf(http.StatusGone, "message %s was removed", hash)
		}
		it := removedItem(st.Removed)
		out["message"], out["reason"], out["removed_at"], out["size"] = it, reasonOf(st.Removed, st.Removed.PaymentType), it.RemovedAt, it.Size
	}
	return writeJSON(w, http.StatusOK, out)
}

// messageStatus serves GET /api/v0/messages/{hash}/status.
func (a *API) messageStatus(w http.ResponseWriter, r *http.Request) error {
	hash, err := hashParam(r)
	if err != nil {
		return err
	}
	st, err := a.status(r.Context(), hash)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"status": string(st.Status), "item_hash": hash, "reception_time": isoTime(st.ReceptionTime)})
}

// messageContent serves GET /api/v0/messages/{hash}/content: processed
// messages only (422 otherwise); a POST's content.content, any other
// type's whole content.
func (a *API) messageContent(w http.ResponseWriter, r *http.Request) error {
	hash, err := hashParam(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	st, err := a.status(ctx, hash)
	if err != nil {
		return err
	}
	if st.Status != "processed" {
		return badParam("item_hash", "message is %s, not processed", st.Status)
	}
	ms, err := a.reader.MessagesByHash(ctx, []string{hash})
	if err != nil {
		return err
	}
	m := ms[hash]
	if m == nil {
		return errorf(http.StatusNotFound, "message %s not found", hash)
	}
	content := json.RawMessage(m.Content)
	if m.Type == "POST" {
		var c struct {
			Content json.RawMessage `json:"content"`
		}
		if err := json.Unmarshal(m.Content, &c); err == nil && c.Content != nil {
			content = c.Content
		}
	}
	if content == nil {
		content = json.RawMessage("null")
	}
	return writeJSON(w, http.StatusOK, content)
}

// consumedCredits serves GET /api/v0/messages/{hash}/consumed_credits.
// The node keeps no per-message credit consumption yet: 0 for a known
// message.
func (a *API) consumedCredits(w http.ResponseWriter, r *http.Request) error {
	hash, err := hashParam(r)
	if err != nil {
		return err
	}
	if _, err := a.status(r.Context(), hash); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"item_hash": hash, "consumed_credits": 0})
}

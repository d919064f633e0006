package read

import (
	"context"
	"encoding/json"
	"time"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/forgottenmessage"
	"github.com/alephql/alephql/ent/pendingmessage"
	"github.com/alephql/alephql/ent/rejectedmessage"
	"github.com/alephql/alephql/ent/removedmessage"
)

// FindMessage returns a message by hash from wherever it is: the messages
// table (processed, removing), the rejected message's wire fields, the
// forgotten or removed snapshot (no content), or the pending queue. Nil if
// the node never heard of it.
func FindMessage(ctx context.Context, c *ent.Client, hash string) (*ent.Message, error) {
	m, err := c.Message.Get(ctx, hash)
	if !ent.IsNotFound(err) {
		return m, err
	}
	if f, err := c.ForgottenMessage.Get(ctx, hash); err == nil {
		return forgottenMessage(f), nil
	} else if !ent.IsNotFound(err) {
		return nil, err
	}
	if rm, err := c.RemovedMessage.Get(ctx, hash); err == nil {
		return RemovedMessage(rm), nil
	} else if !ent.IsNotFound(err) {
		return nil, err
	}
	if rj, err := c.RejectedMessage.Get(ctx, hash); err == nil {
		return wireMessage(rj.ID, rj.Message, rj.RejectedAt), nil
	} else if !ent.IsNotFound(err) {
		return nil, err
	}
	p, err := c.PendingMessage.Query().Where(pendingmessage.ItemHash(hash)).Order(ent.Asc(pendingmessage.FieldID)).First(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return pendingMessage(p), nil
}

// FindMessagesElsewhere is FindMessage for messages known not to be in the
// messages table, in one query per other place rather than per hash: the
// hub's outbox reads meet many pending (not yet processed) messages. Hashes
// the node never heard of are absent from the result.
func FindMessagesElsewhere(ctx context.Context, c *ent.Client, hashes []string) (map[string]*ent.Message, error) {
	out := make(map[string]*ent.Message, len(hashes))
	missing := func() []string {
		var m []string
		for _, h := range hashes {
			if out[h] == nil {
				m = append(m, h)
			}
		}
		return m
	}
	fs, err := c.ForgottenMessage.Query().Where(forgottenmessage.IDIn(hashes...)).All(ctx)
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		out[f.ID] = forgottenMessage(f)
	}
	if rest := missing(); len(rest) > 0 {
		rms, err := c.RemovedMessage.Query().Where(removedmessage.IDIn(rest...)).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, rm := range rms {
			out[rm.ID] = RemovedMessage(rm)
		}
	}
	if rest := missing(); len(rest) > 0 {
		rjs, err := c.RejectedMessage.Query().Where(rejectedmessage.IDIn(rest...)).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, rj := range rjs {
			out[rj.ID] = wireMessage(rj.ID, rj.Message, rj.RejectedAt)
		}
	}
	if rest := missing(); len(rest) > 0 {
		ps, err := c.PendingMessage.Query().Where(pendingmessage.ItemHashIn(rest...)).Order(ent.Asc(pendingmessage.FieldID)).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if out[p.ItemHash] == nil { // the first pending copy, as FindMessage
				out[p.ItemHash] = pendingMessage(p)
			}
		}
	}
	return out, nil
}

func forgottenMessage(f *ent.ForgottenMessage) *ent.Message {
	return &ent.Message{ID: f.ID, Type: f.Type, Chain: f.Chain, Sender: f.Sender, Signature: f.Signature, ItemType: f.ItemType,
		Time: f.Time, Channel: f.Channel, Owner: f.Owner, PaymentType: f.PaymentType, Size: f.Size}
}

// RemovedMessage is the message skeleton of a removal snapshot: the columns
// a removed message keeps.
func RemovedMessage(rm *ent.RemovedMessage) *ent.Message {
	return &ent.Message{ID: rm.ID, Type: rm.Type, Chain: rm.Chain, Sender: rm.Sender, Signature: rm.Signature, ItemType: rm.ItemType,
		Time: rm.Time, Channel: rm.Channel, Owner: rm.Owner, PaymentType: rm.PaymentType, Size: rm.Size}
}

func pendingMessage(p *ent.PendingMessage) *ent.Message {
	sig := &p.Signature
	if p.Signature == "" {
		sig = nil
	}
	return &ent.Message{ID: p.ItemHash, Type: p.Type, Chain: p.Chain, Sender: p.Sender, Signature: sig, ItemType: p.ItemType,
		ItemContent: p.ItemContent, Content: p.Content, Time: p.Time, Channel: p.Channel, ReceptionTime: p.ReceptionTime,
		Owner: ownerOf(p.Content, p.Sender)}
}

// wireMessage builds a message from its wire JSON (a rejected message).
// Fields that cannot be read stay empty: the message was invalid.
func wireMessage(hash string, raw json.RawMessage, received time.Time) *ent.Message {
	var w struct {
		Type        string          `json:"type"`
		Chain       string          `json:"chain"`
		Sender      string          `json:"sender"`
		Signature   *string         `json:"signature"`
		ItemType    string          `json:"item_type"`
		ItemContent *string         `json:"item_content"`
		Content     json.RawMessage `json:"content"`
		Time        json.Number     `json:"time"`
		Channel     *string         `json:"channel"`
	}
	_ = json.Unmarshal(raw, &w) // best effort: the message was refused
	m := &ent.Message{ID: hash, Type: w.Type, Chain: w.Chain, Sender: w.Sender, Signature: w.Signature, ItemType: w.ItemType,
		ItemContent: w.ItemContent, Channel: w.Channel, ReceptionTime: received, Content: w.Content}
	if f, err := w.Time.Float64(); err == nil {
		m.Time = time.Unix(0, int64(f*1e9)).UTC()
	}
	if m.ItemType == "" {
		m.ItemType = "inline"
	}
	if m.Content == nil && w.ItemContent != nil && json.Valid([]byte(*w.ItemContent)) {
		m.Content = json.RawMessage(*w.ItemContent)
	}
	m.Owner = ownerOf(m.Content, m.Sender)
	return m
}

// ownerOf is content.address, or the sender when the content has none.
func ownerOf(content json.RawMessage, sender string) string {
	var c struct {
		Address string `json:"address"`
	}
	if json.Unmarshal(content, &c) == nil && c.Address != "" {
		return c.Address
	}
	return sender
}

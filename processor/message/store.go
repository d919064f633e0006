package message

import (
	"encoding/json"

	"github.com/alephql/alephql/chains"
)

// StoreContent is the content of a STORE message. Keys the schema does not
// define are ignored by validation but kept in Raw, which is what the node
// stores and serves.
type StoreContent struct {
	BaseContent
	// ItemType is where the file lives. "inline" passes the schema but the
	// STORE handler rejects it.
	ItemType ItemType
	// ItemHash is the file's hash or CID.
	ItemHash string
	// Size is the file size set by the node, when present.
	Size *int64
	// ContentType is the file's MIME type set by the node, when present.
	ContentType string
	// Ref names the file this one updates (a hash or a user ref).
	Ref string
	// Metadata is the JSON text of the metadata object; nil when absent.
	Metadata json.RawMessage
	// Payment is the payment method; nil means hold.
	Payment *Payment
}

// MessageType returns TypeStore.
func (*StoreContent) MessageType() Type { return TypeStore }

func parseStore(o *value, p *path, base BaseContent) (*StoreContent, error) {
	c := &StoreContent{BaseContent: base}
	fp := p.field("item_type")
	v, ok := o.get("item_type")
	if !ok {
		return nil, missing(&fp)
	}
	s, err := asEnum(v, &fp, "inline", "storage", "ipfs")
	if err != nil {
		return nil, err
	}
	c.ItemType = ItemType(s)
	if c.ItemHash, err = getItemHash(o, p, "item_hash"); err != nil {
		return nil, err
	}
	if v, ok := o.getSet("size"); ok {
		fp := p.field("size")
		n, err := asInt(v, &fp, false)
		if err != nil {
			return nil, err
		}
		c.Size = &n
	}
	if c.ContentType, err = getOptStr(o, p, "content_type", 0); err != nil {
		return nil, err
	}
	if c.Ref, err = getOptStr(o, p, "ref", 0); err != nil {
		return nil, err
	}
	if v, ok := o.getSet("tags"); ok {
		fp := p.field("tags")
		if _, err := asStrList(v, &fp, maxTags, 1, maxTagLength); err != nil {
			return nil, err
		}
		c.tags = tagsOf(v)
	}
	if v, ok := o.getSet("metadata"); ok {
		fp := p.field("metadata")
		if err := asObject(v, &fp); err != nil {
			return nil, err
		}
		c.Metadata = rawText(c.Raw, v)
	}
	if c.Payment, err = getPayment(o, p); err != nil {
		return nil, err
	}
	if c.Payment != nil && c.Payment.Type != PaymentHold && c.Payment.Type != PaymentCredit {
		fp := p.field("payment")
		return nil, errContent(&fp, "only 'hold' and 'credit' payment types are supported for store messages")
	}
	return c, nil
}

// PaymentType is how a resource is paid for.
type PaymentType string

// Payment types.
const (
	// PaymentHold pays by holding ALEPH tokens.
	PaymentHold PaymentType = "hold"
	// PaymentSuperfluid pays by streaming tokens (pay-as-you-go).
	PaymentSuperfluid PaymentType = "superfluid"
	// PaymentCredit pays with credits.
	PaymentCredit PaymentType = "credit"
)

// Payment is the payment section of STORE and VM content.
type Payment struct {
	// Type is the payment method.
	Type PaymentType
	// Chain is the chain checked for funds; empty when not given.
	Chain chains.Chain
	// Receiver is the address receiving a stream; empty when not given.
	Receiver string
}

// getPayment reads an optional payment object (extra keys ignored).
func getPayment(o *value, p *path) (*Payment, error) {
	v, ok := o.getSet("payment")
	if !ok {
		return nil, nil
	}
	fp := p.field("payment")
	if err := asObject(v, &fp); err != nil {
		return nil, err
	}
	pay := &Payment{}
	tp := fp.field("type")
	t, ok := v.get("type")
	if !ok {
		return nil, missing(&tp)
	}
	s, err := asEnum(t, &tp, "hold", "superfluid", "credit")
	if err != nil {
		return nil, err
	}
	pay.Type = PaymentType(s)
	if c, ok := v.getSet("chain"); ok {
		cp := fp.field("chain")
		if c.kind != kindString || !KnownChain(chains.Chain(c.s)) {
			return nil, fail(&cp, "enum", "unknown chain")
		}
		pay.Chain = chains.Chain(c.s)
	}
	if pay.Receiver, err = getOptStr(v, &fp, "receiver", 0); err != nil {
		return nil, err
	}
	return pay, nil
}

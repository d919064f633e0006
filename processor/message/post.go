package message

import (
	"encoding/json"

	"github.com/alephql/alephql/chains"
)

// PostContent is the content of a POST message.
type PostContent struct {
	BaseContent
	// Type is the user-defined post type; "amend" amends the post named by
	// Ref.
	Type string
	// Ref is the referenced message: the ref string, or the item_hash of a
	// ChainRef object. Empty when there is no ref.
	Ref string
	// RefChain is set when ref was a ChainRef object.
	RefChain *ChainRef
	// Content is the JSON text of the user content; nil when absent or
	// null.
	Content json.RawMessage
}

// ChainRef is the object form of a POST ref: a whole message. Only its
// ItemHash is used.
type ChainRef struct {
	Chain       chains.Chain
	Channel     string
	ItemContent string
	ItemHash    string
	ItemType    ItemType
	Sender      string
	Signature   string
	Time        float64
}

// MessageType returns TypePost.
func (*PostContent) MessageType() Type { return TypePost }

// maxChannelLength is aleph-message's MAX_CHANNEL_LENGTH, enforced only
// inside ChainRef objects (pyaleph does not enforce it on messages).
const maxChannelLength = 128

func parsePost(o *value, p *path, base BaseContent) (*PostContent, error) {
	if err := forbidExtra(o, p, "address", "time", "type", "content", "ref"); err != nil {
		return nil, err
	}
	c := &PostContent{BaseContent: base}
	if v, ok := o.getSet("content"); ok {
		fp := p.field("content")
		tags, err := checkNestedTags(v, &fp)
		if err != nil {
			return nil, err
		}
		c.tags = tags
		c.Content = rawText(c.Raw, v)
	}
	refTruthy := false
	if v, ok := o.getSet("ref"); ok {
		fp := p.field("ref")
		switch v.kind {
		case kindString:
			c.Ref = v.s
			refTruthy = v.s != ""
		case kindObject:
			ref, err := parseChainRef(v, &fp)
			if err != nil {
				return nil, err
			}
			c.RefChain = ref
			c.Ref = ref.ItemHash
			refTruthy = true
		default:
			return nil, wrongType(&fp, "a string or an object", v)
		}
	}
	var err error
	if c.Type, err = getStr(o, p, "type"); err != nil {
		return nil, err
	}
	if c.Type == "amend" && !refTruthy {
		fp := p.field("type")
		return nil, errContent(&fp, "a 'ref' is required for POST type 'amend'")
	}
	return c, nil
}

// parseChainRef validates a ChainRef object (extra keys ignored).
func parseChainRef(o *value, p *path) (*ChainRef, error) {
	r := &ChainRef{}
	var err error
	fp := p.field("chain")
	v, ok := o.get("chain")
	if !ok {
		return nil, missing(&fp)
	}
	if v.kind != kindString || !KnownChain(chains.Chain(v.s)) {
		return nil, fail(&fp, "enum", "unknown chain")
	}
	r.Chain = chains.Chain(v.s)
	if r.Channel, err = getOptStr(o, p, "channel", maxChannelLength); err != nil {
		return nil, err
	}
	if r.ItemContent, err = getStr(o, p, "item_content"); err != nil {
		return nil, err
	}
	if r.ItemHash, err = getItemHash(o, p, "item_hash"); err != nil {
		return nil, err
	}
	fp = p.field("item_type")
	if v, ok = o.get("item_type"); !ok {
		return nil, missing(&fp)
	}
	s, err := asEnum(v, &fp, "inline", "storage", "ipfs")
	if err != nil {
		return nil, err
	}
	r.ItemType = ItemType(s)
	if r.Sender, err = getStr(o, p, "sender"); err != nil {
		return nil, err
	}
	if r.Signature, err = getStr(o, p, "signature"); err != nil {
		return nil, err
	}
	fp = p.field("time")
	if v, ok = o.get("time"); !ok {
		return nil, missing(&fp)
	}
	if r.Time, err = asFloat(v, &fp); err != nil {
		return nil, err
	}
	if v, ok = o.get("type"); ok {
		fp = p.field("type")
		if _, err := asEnum(v, &fp, "POST"); err != nil {
			return nil, err
		}
	}
	return r, nil
}

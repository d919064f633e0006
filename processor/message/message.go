package message

import (
	"unicode/utf8"

	"github.com/alephql/alephql/chains"
)

// Message is a wire message together with its validated content.
type Message struct {
	Wire
	// Content is the validated content; nil until it is parsed (storage
	// and ipfs messages before their content is fetched).
	Content Content
}

// Decode parses and validates a wire message and, for an inline message,
// its content: the whole intake check short of the signature (see
// Message.Verify). For storage and ipfs messages Content stays nil until
// the caller fetches the bytes and calls SetContent.
func Decode(raw []byte, opts ...Option) (*Message, error) {
	m := new(Message)
	// One copy of the input: every string the Message keeps is a substring
	// of it, so the caller may reuse raw.
	err := m.Wire.parse(string(raw), collect(opts))
	m.Wire.intern()
	if err != nil {
		return nil, err
	}
	if m.ItemType == ItemInline {
		c, err := parseContent(&m.Wire, m.ItemContent, utf8.RuneCountInString(m.ItemContent))
		if err != nil {
			return nil, err
		}
		m.Content = c
	}
	return m, nil
}

// SetContent validates fetched content bytes and attaches them.
func (m *Message) SetContent(raw []byte) error {
	c, err := ParseContent(&m.Wire, raw)
	if err != nil {
		return err
	}
	m.Content = c
	return nil
}

// base returns the base content, or nil.
func (m *Message) base() *BaseContent {
	if m.Content == nil {
		return nil
	}
	return m.Content.Base()
}

// Owner is the denormalized owner: content.address.
func (m *Message) Owner() string {
	if b := m.base(); b != nil {
		return b.Address
	}
	return ""
}

// ContentType is the denormalized content type: the POST type, or
// "vm-function" for programs; empty for the other types.
func (m *Message) ContentType() string {
	switch c := m.Content.(type) {
	case *PostContent:
		return c.Type
	case *ProgramContent:
		return "vm-function"
	}
	return ""
}

// ContentRef is the denormalized content ref: the ref of a POST (the item
// hash of a ChainRef) or a STORE.
func (m *Message) ContentRef() string {
	switch c := m.Content.(type) {
	case *PostContent:
		return c.Ref
	case *StoreContent:
		return c.Ref
	}
	return ""
}

// ContentKey is the denormalized aggregate key.
func (m *Message) ContentKey() string {
	if c, ok := m.Content.(*AggregateContent); ok {
		return c.Key
	}
	return ""
}

// ContentItemHash is the denormalized content item hash: the file of a
// STORE.
func (m *Message) ContentItemHash() string {
	if c, ok := m.Content.(*StoreContent); ok {
		return c.ItemHash
	}
	return ""
}

// PaymentType is the denormalized payment type of STORE and VM messages;
// empty when the content has no payment section.
func (m *Message) PaymentType() PaymentType {
	var p *Payment
	switch c := m.Content.(type) {
	case *StoreContent:
		p = c.Payment
	case *ProgramContent:
		p = c.Payment
	case *InstanceContent:
		p = c.Payment
	case *VProgramContent:
		p = c.Payment
	}
	if p == nil {
		return ""
	}
	return p.Type
}

// Tags are the denormalized tags (see BaseContent.Tags).
func (m *Message) Tags() []string {
	if b := m.base(); b != nil {
		return b.Tags()
	}
	return nil
}

// Interface guards
var (
	_ Content = (*PostContent)(nil)
	_ Content = (*AggregateContent)(nil)
	_ Content = (*StoreContent)(nil)
	_ Content = (*ForgetContent)(nil)
	_ Content = (*ProgramContent)(nil)
	_ Content = (*InstanceContent)(nil)
	_ Content = (*VProgramContent)(nil)
)

// intern replaces the enum-like fields by the package's constants, so that
// they do not keep the whole input alive.
func (w *Wire) intern() {
	w.Chain = internChain(w.Chain)
	w.Type = internType(w.Type)
	w.ItemType = internItemType(w.ItemType)
}

// internChain returns the package's copy of a known chain name.
func internChain(c chains.Chain) chains.Chain {
	for _, k := range knownChains {
		if k == c {
			return k
		}
	}
	return c
}

// internType returns the constant for a known message type.
func internType(t Type) Type {
	for _, k := range [...]Type{TypePost, TypeAggregate, TypeStore, TypeProgram, TypeInstance, TypeForget, TypeVProgram} {
		if k == t {
			return k
		}
	}
	return t
}

// internItemType returns the constant for a known item type.
func internItemType(t ItemType) ItemType {
	for _, k := range [...]ItemType{ItemInline, ItemStorage, ItemIPFS} {
		if k == t {
			return k
		}
	}
	return t
}

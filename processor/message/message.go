package message

import (
	"unicode/utf8"
	"unsafe"

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
	// Parse over the caller's bytes without copying them, then copy the
	// few strings the Message keeps that still point into them.
	view := unsafe.String(unsafe.SliceData(raw), len(raw))
	err := m.Wire.parse(view, collect(opts))
	m.Wire.own(raw)
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

// own makes every string field of w that points into raw independent of
// it, so that w neither keeps nor sees changes to the caller's buffer. Enum
// fields become the package's constants; the other aliasing strings are
// copied into one allocation. Strings decoded from escapes are already
// fresh and are kept as they are.
func (w *Wire) own(raw []byte) {
	w.Chain = internChain(w.Chain)
	w.Type = internType(w.Type)
	w.ItemType = internItemType(w.ItemType)
	if len(raw) == 0 {
		return
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(raw)))
	hi := lo + uintptr(len(raw))
	fields := [...]*string{&w.Sender, &w.ItemHash, &w.ItemContent, &w.Signature, &w.Channel, (*string)(&w.Chain), (*string)(&w.Type), (*string)(&w.ItemType)}
	aliases := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		return len(s) > 0 && p >= lo && p < hi
	}
	n := 0
	for _, f := range fields {
		if aliases(*f) {
			n += len(*f)
		}
	}
	if n == 0 {
		return
	}
	buf := make([]byte, 0, n)
	for _, f := range fields {
		if aliases(*f) {
			start := len(buf)
			buf = append(buf, *f...)
			*f = unsafe.String(unsafe.SliceData(buf[start:]), len(*f))
		}
	}
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

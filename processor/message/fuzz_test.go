package message

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/alephql/alephql/processor/errcode"
)

// seedConformance adds every conformance message (wire form) and its
// content to the corpus.
func seedConformance(f *testing.F, add func(raw []byte, m confMessage)) {
	for _, msgs := range loadConformance(f) {
		for _, m := range msgs {
			add(m.raw, m)
		}
	}
}

// requireErrcode fails unless err is nil or an *errcode.Error.
func requireErrcode(t *testing.T, err error) {
	if err == nil {
		return
	}
	var e *errcode.Error
	if !errors.As(err, &e) {
		t.Fatalf("error is not an *errcode.Error: %T %v", err, err)
	}
	if e.Code != errcode.InvalidFormat && e.Code != errcode.InvalidSignature {
		t.Fatalf("unexpected code %v: %v", e.Code, err)
	}
}

// FuzzParse feeds arbitrary bytes to the wire parser and the whole decode
// path: they must never panic, and fail only with *errcode.Error.
func FuzzParse(f *testing.F) {
	seedConformance(f, func(raw []byte, _ confMessage) { f.Add(raw) })
	f.Add([]byte(`{"chain":"ETH","sender":"a","type":"POST","item_hash":"QmTQPocJ8n3r7jhwYxmCDR5bJ4SNsEhdVm8WwkNbGctgJF","time":1,"signature":"x"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		w, err := Parse(raw)
		requireErrcode(t, err)
		if err == nil {
			if w.ItemType == ItemInline && InlineHash(w.ItemContent) != w.ItemHash {
				t.Fatalf("inline hash accepted without matching")
			}
			_ = w.Signed()
		}
		m, err := Decode(raw, WithoutSignature())
		requireErrcode(t, err)
		if err == nil && m.Content != nil {
			if !json.Valid(m.Content.Base().JSON()) {
				t.Fatalf("stored content is not valid JSON: %q", m.Content.Base().JSON())
			}
			_, _, _, _, _ = m.Owner(), m.ContentType(), m.ContentRef(), m.ContentKey(), m.PaymentType()
		}
	})
}

// FuzzParseContent feeds arbitrary content bytes to the schema of every
// message type.
func FuzzParseContent(f *testing.F) {
	types := []Type{TypePost, TypeAggregate, TypeStore, TypeForget, TypeProgram, TypeInstance, TypeVProgram}
	seedConformance(f, func(_ []byte, m confMessage) {
		if c, ok := m.obj["content"]; ok {
			if b, err := json.Marshal(c); err == nil {
				f.Add(b, uint8(0))
			}
		}
		if ic := m.str("item_content"); ic != "" {
			f.Add([]byte(ic), uint8(0))
		}
	})
	f.Fuzz(func(t *testing.T, raw []byte, typ uint8) {
		for i := range types {
			w := &Wire{Chain: "ETH", Sender: "0xS", Type: types[(int(typ)+i)%len(types)], ItemType: ItemStorage, Time: 1}
			c, err := ParseContent(w, raw)
			requireErrcode(t, err)
			if err == nil {
				if !json.Valid(c.Base().JSON()) {
					t.Fatalf("stored content is not valid JSON: %q", c.Base().JSON())
				}
				if c.MessageType() != w.Type {
					t.Fatalf("content type %s for a %s", c.MessageType(), w.Type)
				}
			}
		}
	})
}

package message

import (
	"errors"
	"strconv"

	"github.com/alephql/alephql/chains"
	"github.com/alephql/alephql/processor/errcode"
)

// Type is a message type as written on the wire.
type Type string

// Message types.
const (
	TypePost      Type = "POST"
	TypeAggregate Type = "AGGREGATE"
	TypeStore     Type = "STORE"
	TypeProgram   Type = "PROGRAM"
	TypeInstance  Type = "INSTANCE"
	TypeForget    Type = "FORGET"
	TypeVProgram  Type = "V-PROGRAM"
)

// Valid reports whether t is one of the protocol's message types.
func (t Type) Valid() bool {
	switch t {
	case TypePost, TypeAggregate, TypeStore, TypeProgram, TypeInstance, TypeForget, TypeVProgram:
		return true
	}
	return false
}

// knownChains is aleph-message's Chain enum (models/base.py). A chain
// outside it is a format error; a chain inside it without a registered
// verifier is rejected as "unknown chain for validation".
var knownChains = [...]chains.Chain{
	"ARB", "AURORA", "AVAX", "BASE", "BLAST", "BOB", "BSC", "CSDK", "CYBER",
	"DOT", "ES", "ETH", "ETHERLINK", "FRAX", "HYPE", "INK", "LENS", "LINEA",
	"LISK", "METIS", "MODE", "NEO", "NULS", "NULS2", "OP", "POL", "SOL",
	"STT", "SONIC", "TEZOS", "UNICHAIN", "WLD", "ZORA",
}

// KnownChain reports whether c is in the protocol's Chain enum.
func KnownChain(c chains.Chain) bool {
	for _, k := range knownChains {
		if k == c {
			return true
		}
	}
	return false
}

// MaxInlineSize is the largest inline item_content, in characters (code
// points), not bytes (pyaleph MAX_INLINE_SIZE).
const MaxInlineSize = 200000

// maxTime bounds the message time: the reference node converts it to a
// Python datetime, which ends with year 9999.
const maxTime = 253402300800.0 // 10000-01-01T00:00:00Z

// Wire is a message as sent by a client and signed by its sender, validated
// by Parse or New: the fields are well-formed, the item type is known and,
// for inline messages, the item hash is the sha256 of the item content.
// Its content is not parsed yet (see ParseContent).
type Wire struct {
	// Chain is the chain whose signature scheme signs the message.
	Chain chains.Chain
	// Sender is the signing address, exactly as sent.
	Sender string
	// Type is the message type.
	Type Type
	// ItemHash identifies the message: the sha256 of the inline content, a
	// storage hash or an IPFS CID.
	ItemHash string
	// ItemType is where the content lives, inferred when not sent.
	ItemType ItemType
	// ItemContent is the JSON text of inline content, verbatim (decoded
	// from its JSON string); empty for storage and ipfs messages.
	ItemContent string
	// Signature is the chain-specific signature; empty when absent
	// (allowed only for smart-contract messages, see WithoutSignature).
	Signature string
	// Time is the message time in epoch seconds.
	Time float64
	// Channel is the message's channel; valid only when HasChannel.
	Channel string
	// HasChannel is false when the channel was absent or null.
	HasChannel bool
}

// Option changes how a message is validated.
type Option func(*options)

type options struct {
	noSignature bool
}

// WithoutSignature validates a message that carries no signature to check:
// one emitted by the sync smart contract (pyaleph check_message=False). The
// signature may be missing and the chain needs no verifier.
func WithoutSignature() Option { return func(o *options) { o.noSignature = true } }

func collect(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Parse decodes and validates one wire message from its JSON bytes. Fields
// the wire form does not define (content, size, confirmations...) are
// ignored. Every failure is an *errcode.Error: INVALID_FORMAT, or
// INVALID_SIGNATURE for a missing signature.
func Parse(raw []byte, opts ...Option) (*Wire, error) {
	return ParseString(string(raw), opts...)
}

// ParseString is Parse on a string, which it does not copy: the returned
// Wire's strings share its memory.
func ParseString(raw string, opts ...Option) (*Wire, error) {
	w := new(Wire)
	if err := w.parse(raw, collect(opts)); err != nil {
		return nil, err
	}
	return w, nil
}

// parse fills w from the JSON text raw and validates it.
func (w *Wire) parse(raw string, o options) error {
	doc, err := parseJSON(raw)
	if err != nil {
		return &errcode.Error{Code: errcode.InvalidFormat, Detail: "message is not valid JSON", Err: err}
	}
	if err := w.fromValue(&doc); err != nil {
		return err
	}
	return w.validate(o)
}

// New validates a wire message whose fields were decoded by the caller,
// for example from a chain event. It applies the same rules as Parse.
func New(w Wire, opts ...Option) (*Wire, error) {
	if err := w.validate(collect(opts)); err != nil {
		return nil, err
	}
	return &w, nil
}

// fromValue reads the wire fields of a decoded JSON object, checking their
// JSON types.
func (w *Wire) fromValue(doc *value) error {
	root := path{idx: -1}
	if doc.kind != kindObject {
		return &errcode.Error{Code: errcode.InvalidFormat, Detail: "message is not a JSON object"}
	}
	var err error
	var s string
	if s, err = getStr(doc, &root, "type"); err != nil {
		return err
	}
	w.Type = Type(s)
	if s, err = getStr(doc, &root, "chain"); err != nil {
		return err
	}
	w.Chain = chains.Chain(s)
	if w.Sender, err = getStr(doc, &root, "sender"); err != nil {
		return err
	}
	if w.ItemHash, err = getStr(doc, &root, "item_hash"); err != nil {
		return err
	}
	if s, err = getOptStr(doc, &root, "item_type", 0); err != nil {
		return err
	}
	w.ItemType = ItemType(s)
	if v, ok := doc.getSet("item_content"); ok {
		fp := root.field("item_content")
		if w.ItemContent, err = asStr(v, &fp); err != nil {
			return err
		}
		switch w.ItemType {
		case "":
			w.ItemType = ItemInline
		case ItemStorage, ItemIPFS:
			return errcode.Field(errcode.InvalidFormat, "item_content", string(w.ItemType)+" messages cannot define item_content")
		}
	}
	if w.Signature, err = getOptStr(doc, &root, "signature", 0); err != nil {
		return err
	}
	if v, ok := doc.getSet("channel"); ok {
		fp := root.field("channel")
		if w.Channel, err = asStr(v, &fp); err != nil {
			return err
		}
		w.HasChannel = true
	}
	fp := root.field("time")
	v, ok := doc.get("time")
	if !ok {
		return missing(&fp)
	}
	if v.kind != kindNumber {
		return wrongType(&fp, "a number", v)
	}
	w.Time = v.f
	return nil
}

// validate applies the protocol's rules to the fields.
func (w *Wire) validate(o options) error {
	if !w.Type.Valid() {
		return errcode.Field(errcode.InvalidFormat, "type", "unknown message type "+strconv.Quote(string(w.Type)))
	}
	if !KnownChain(w.Chain) {
		return errcode.Field(errcode.InvalidFormat, "chain", "unknown chain "+strconv.Quote(string(w.Chain)))
	}
	if !o.noSignature && !chains.Supported(w.Chain) {
		return errcode.Field(errcode.InvalidFormat, "chain", "unknown chain for validation: "+string(w.Chain))
	}
	if err := w.validateItem(); err != nil {
		return err
	}
	if !(w.Time >= 0) || w.Time >= maxTime {
		return errcode.Field(errcode.InvalidFormat, "time", "must be a timestamp between 0 and year 9999")
	}
	if w.Signature == "" && !o.noSignature {
		return errcode.Field(errcode.InvalidSignature, "signature", "missing signature")
	}
	return nil
}

// validateItem checks item_type, item_content and item_hash together.
func (w *Wire) validateItem() error {
	switch w.ItemType {
	case "":
		inferred, ok := InferItemType(w.ItemHash)
		if !ok {
			return errcode.Field(errcode.InvalidFormat, "item_hash", "unexpected hash type: "+strconv.Quote(truncate(w.ItemHash, 80)))
		}
		w.ItemType = inferred
		return nil
	case ItemInline:
		if n := len(w.ItemContent); n > MaxInlineSize && runeLen(w.ItemContent) > MaxInlineSize {
			return errcode.Field(errcode.InvalidFormat, "item_content", "inline content longer than 200000 characters")
		}
		if w.ItemContent == "" {
			return errcode.Field(errcode.InvalidFormat, "item_content", "inline message without item_content")
		}
		if !inlineHashMatches(w.ItemContent, w.ItemHash) {
			return &errcode.Error{
				Code:   errcode.InvalidFormat,
				Field:  "item_hash",
				Detail: "item_hash does not match sha256(item_content), expecting " + InlineHash(w.ItemContent),
			}
		}
		return nil
	case ItemStorage, ItemIPFS:
		if w.ItemContent != "" {
			return errcode.Field(errcode.InvalidFormat, "item_content", string(w.ItemType)+" messages cannot define item_content")
		}
		inferred, ok := InferItemType(w.ItemHash)
		if !ok {
			return errcode.Field(errcode.InvalidFormat, "item_hash", "unexpected hash type: "+strconv.Quote(truncate(w.ItemHash, 80)))
		}
		if inferred != w.ItemType {
			return errcode.Field(errcode.InvalidFormat, "item_type", "expected "+string(inferred)+" based on hash but item type is "+string(w.ItemType))
		}
		return nil
	}
	return errcode.Field(errcode.InvalidFormat, "item_type", "must be one of \"inline\", \"storage\", \"ipfs\"")
}

// Signed returns the part of the message its signature covers.
func (w *Wire) Signed() chains.Signed {
	return chains.Signed{
		Chain:     w.Chain,
		Sender:    w.Sender,
		Type:      string(w.Type),
		ItemHash:  w.ItemHash,
		Signature: w.Signature,
		Time:      w.Time,
	}
}

// Verify checks the message's signature with the chain's verifier. A
// failure is an *errcode.Error: INVALID_SIGNATURE for a missing or invalid
// signature, INVALID_FORMAT for a chain without verifier.
func (w *Wire) Verify() error {
	err := chains.Verify(w.Signed())
	if err == nil {
		return nil
	}
	if errors.Is(err, chains.ErrUnsupportedChain) {
		return &errcode.Error{Code: errcode.InvalidFormat, Field: "chain", Detail: "unknown chain for validation", Err: err}
	}
	return &errcode.Error{Code: errcode.InvalidSignature, Field: "signature", Detail: "signature verification failed", Err: err}
}

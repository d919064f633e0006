package indexer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Errors of chain transaction payloads: the transaction is recorded with
// the error as its reason and never retried.
var (
	// ErrUnknownProtocol: a protocol or version no reader knows.
	ErrUnknownProtocol = errors.New("unknown protocol or version")
	// ErrBadPayload: the payload does not have its protocol's shape.
	ErrBadPayload = errors.New("malformed payload")
)

// SyncPayload is the JSON a SyncEvent carries: {"protocol", "version",
// "content"}.
type SyncPayload struct {
	Protocol string          `json:"protocol"`
	Version  int             `json:"version"`
	Content  json.RawMessage `json:"content"`
}

// ParseSyncPayload decodes a SyncEvent's message. The protocol and
// version are not checked here (the expander rejects unknown ones).
func ParseSyncPayload(s string) (SyncPayload, error) {
	var p SyncPayload
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return p, fmt.Errorf("%w: sync message is not JSON: %w", ErrBadPayload, err)
	}
	if p.Protocol == "" {
		return p, fmt.Errorf("%w: sync message has no protocol", ErrBadPayload)
	}
	return p, nil
}

// ContractEvent is the content of a smart-contract chain transaction read
// from an EVM chain: the MessageEvent in the shape Aleph's multichain
// indexer gives it (timestamp in milliseconds), so that a transaction
// read from RPC and one read from the indexer give the same message.
type ContractEvent struct {
	Timestamp float64 `json:"timestamp"`
	Address   string  `json:"address"`
	Height    int64   `json:"height,omitempty"`
	Tx        string  `json:"transaction,omitempty"`
	Type      string  `json:"type"`
	Content   string  `json:"content"`
}

// contractPayload reads a smart-contract payload in any of its shapes:
// the EVM indexer's {address, type, content, timestamp (ms)} and Tezos'
// {addr, msgtype|message_type, msgcontent|message_content, timestamp (s)}.
func contractPayload(raw json.RawMessage) (sender, typ, content string, contentTime float64, err error) {
	var p struct {
		Timestamp      *float64 `json:"timestamp"`
		Address        string   `json:"address"`
		Type           string   `json:"type"`
		Content        *string  `json:"content"`
		Addr           string   `json:"addr"`
		MsgType        string   `json:"msgtype"`
		MsgContent     *string  `json:"msgcontent"`
		MessageType    string   `json:"message_type"`
		MessageContent *string  `json:"message_content"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return "", "", "", 0, fmt.Errorf("%w: smart-contract content: %w", ErrBadPayload, err)
	}
	if p.Timestamp == nil {
		return "", "", "", 0, fmt.Errorf("%w: smart-contract content has no timestamp", ErrBadPayload)
	}
	switch {
	case p.Address != "" && p.Content != nil:
		sender, typ, content, contentTime = p.Address, p.Type, *p.Content, *p.Timestamp/1000
	case p.Addr != "" && p.MsgContent != nil:
		sender, typ, content, contentTime = p.Addr, p.MsgType, *p.MsgContent, *p.Timestamp
	case p.Addr != "" && p.MessageContent != nil:
		sender, typ, content, contentTime = p.Addr, p.MessageType, *p.MessageContent, *p.Timestamp
	default:
		return "", "", "", 0, fmt.Errorf("%w: smart-contract content has no address or content", ErrBadPayload)
	}
	if typ == "" {
		return "", "", "", 0, fmt.Errorf("%w: smart-contract content has no message type", ErrBadPayload)
	}
	return sender, typ, content, contentTime, nil
}

// SmartContractMessage builds the unsigned message of a smart-contract
// transaction (spec §6.1): item_content is the event's content verbatim,
// or, for STORE_IPFS, the Python json.dumps bytes of the STORE content
// {"address", "time", "item_type": "ipfs", "item_hash"}, which every node
// must reproduce byte for byte.
func SmartContractMessage(tx ChainTx) (json.RawMessage, error) {
	sender, typ, content, contentTime, err := contractPayload(tx.Content)
	if err != nil {
		return nil, err
	}
	itemContent := content
	if typ == "STORE_IPFS" {
		if !looksLikeCID(content) {
			return nil, fmt.Errorf("%w: STORE_IPFS content %q is not a CID", ErrBadPayload, content)
		}
		typ = "STORE"
		var b strings.Builder
		b.WriteString(`{"address": `)
		b.WriteString(PyJSONString(sender))
		b.WriteString(`, "time": `)
		b.WriteString(PyFloat(contentTime))
		b.WriteString(`, "item_type": "ipfs", "item_hash": `)
		b.WriteString(PyJSONString(content))
		b.WriteString(`}`)
		itemContent = b.String()
	}
	sum := sha256.Sum256([]byte(itemContent))
	m := struct {
		Sender      string  `json:"sender"`
		Chain       string  `json:"chain"`
		Signature   *string `json:"signature"`
		ItemType    string  `json:"item_type"`
		Time        float64 `json:"time"`
		Type        string  `json:"type"`
		ItemContent string  `json:"item_content"`
		ItemHash    string  `json:"item_hash"`
	}{sender, tx.Chain, nil, "inline", TimeFloat(tx.Time), typ, itemContent, hex.EncodeToString(sum[:])}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// looksLikeCID accepts CIDv0 (Qm..., 46 base58 characters) and CIDv1 in
// base32 (b...) as the STORE_IPFS content; pyaleph's ItemHash raises on
// anything else.
func looksLikeCID(s string) bool {
	const b58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	if len(s) == 46 && strings.HasPrefix(s, "Qm") {
		for _, c := range s {
			if !strings.ContainsRune(b58, c) {
				return false
			}
		}
		return true
	}
	if len(s) > 50 && s[0] == 'b' {
		for _, c := range s[1:] {
			if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
				return false
			}
		}
		return true
	}
	return false
}

// TimeFloat is t as Unix seconds with microsecond precision.
func TimeFloat(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }

// PyFloat formats f as Python's repr does: the shortest string that
// reads back as f, always with a fractional part (1700000000.0), in
// exponent form below 1e-4 and from 1e16 (1e-05, 1e+16).
func PyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	a := math.Abs(f)
	if a != 0 && (a < 1e-4 || a >= 1e16) {
		s := strconv.FormatFloat(f, 'e', -1, 64)
		return s
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsRune(s, '.') {
		s += ".0"
	}
	return s
}

// PyJSONString quotes s as Python's json.dumps does by default
// (ensure_ascii): ", \ and control characters escaped, every non-ASCII
// character as \uXXXX (UTF-16 surrogate pairs beyond the BMP).
func PyJSONString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r < 0x20 || (r >= 0x7f && r < 0x10000):
				if r < 0x7f {
					fmt.Fprintf(&b, `\u%04x`, r)
				} else if r == 0x7f {
					b.WriteByte(0x7f) // DEL is ASCII: written as is
				} else {
					fmt.Fprintf(&b, `\u%04x`, r)
				}
			case r >= 0x10000:
				r1, r2 := utf16.EncodeRune(r)
				fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
			default:
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

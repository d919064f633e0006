package chains

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// NULS is the legacy NULS (v1) chain. Its signatures are verified over the
// raw bytes, deliberately unlike the reference node, which rejects every
// genuine one (see verifyNULS1).
const NULS Chain = "NULS"

func init() { register(VerifierFunc(verifyNULS1), NULS) }

// verifyNULS1 checks a legacy NULS (v1) signature. The signature field is
// hex of varint(len) ‖ public key ‖ ecc type (0) ‖ varint(len) ‖ DER ECDSA
// signature. The signature is a secp256k1 ECDSA signature (low S, as
// libsecp256k1 requires) of sha256("\x18NULS Signed Message:\n" ‖
// varint(len(buffer)) ‖ buffer), and the sender must be the key's address:
// base58(chain id (int16 LE, taken from the sender) ‖ 0x01 ‖
// ripemd160(sha256(key)) ‖ xor of those bytes).
//
// Deliberate difference from the reference node: pyaleph formats the
// message template with Python 3's repr of the bytes ("b'…'") instead of the
// bytes themselves, so no genuine NULS v1 signature verifies there. alephql
// follows the protocol's intent and verifies over the raw bytes, so the real
// NULS v1 messages of the conformance set are valid here and rejected by the
// reference node. So that every message the reference node accepts is also
// accepted here (a Python 3 signer has the same bug and signs the repr), a
// signature that fails over the raw bytes is checked again over the repr
// form; see nuls1ReprDigest.
func verifyNULS1(s Signed) error {
	if len(s.Signature) > maxEncodedLen {
		return invalid("nuls signature too long (%d chars)", len(s.Signature))
	}
	raw, err := hex.DecodeString(s.Signature)
	if err != nil {
		return invalid("nuls signature: decode hex: %v", err)
	}
	pubBytes, sig, err := parseNULS1Signature(raw)
	if err != nil {
		return invalid("nuls signature: %v", err)
	}
	pub, err := secp256k1.ParsePubKey(pubBytes)
	if err != nil {
		return invalid("nuls signature: public key: %v", err)
	}
	addr, err := nuls1Address(s.Sender, pubBytes)
	if err != nil {
		return invalid("nuls sender: %v", err)
	}
	if addr != s.Sender {
		return invalid("nuls signature by %s, not by sender %q", addr, truncate(s.Sender))
	}
	if sc := sig.S(); sc.IsOverHalfOrder() {
		return invalid("nuls signature: high s")
	}
	buf := s.Buffer()
	if sig.Verify(nulsDigest(buf), pub) || sig.Verify(nuls1ReprDigest(buf), pub) {
		return nil
	}
	return invalid("nuls signature does not verify for %s", truncate(s.Sender))
}

// parseNULS1Signature splits a decoded NULS v1 signature into the public
// key and the parsed DER signature. The whole input must be used.
func parseNULS1Signature(b []byte) ([]byte, *ecdsa.Signature, error) {
	pub, rest, err := nuls1ReadBytes(b)
	if err != nil {
		return nil, nil, fmt.Errorf("public key: %w", err)
	}
	if len(rest) == 0 {
		return nil, nil, errors.New("no ecc type")
	}
	if rest[0] != 0 {
		return nil, nil, fmt.Errorf("ecc type %d, want 0", rest[0])
	}
	der, rest, err := nuls1ReadBytes(rest[1:])
	if err != nil {
		return nil, nil, fmt.Errorf("signature: %w", err)
	}
	if len(rest) != 0 {
		return nil, nil, fmt.Errorf("%d trailing bytes", len(rest))
	}
	sig, err := ecdsa.ParseDERSignature(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parse DER signature: %w", err)
	}
	return pub, sig, nil
}

// nuls1ReadBytes reads a varint-length-prefixed byte string from b and
// returns it and the rest of b.
func nuls1ReadBytes(b []byte) (field, rest []byte, err error) {
	if len(b) == 0 {
		return nil, nil, errors.New("missing length")
	}
	size := 0 // bytes after the marker
	switch b[0] {
	case 0xfd:
		size = 2
	case 0xfe:
		size = 4
	case 0xff:
		size = 8
	}
	if len(b) < 1+size {
		return nil, nil, errors.New("truncated length")
	}
	var n uint64
	switch size {
	case 0:
		n = uint64(b[0])
	case 2:
		n = uint64(binary.LittleEndian.Uint16(b[1:]))
	case 4:
		n = uint64(binary.LittleEndian.Uint32(b[1:]))
	default:
		n = binary.LittleEndian.Uint64(b[1:])
	}
	b = b[1+size:]
	if n > uint64(len(b)) {
		return nil, nil, fmt.Errorf("length %d exceeds the %d bytes left", n, len(b))
	}
	return b[:n], b[n:], nil
}

// nuls1Address returns the NULS v1 address of pub on the chain named by
// sender: base58 of the chain id (the first two decoded bytes of sender,
// int16 little endian), the address type 1, ripemd160(sha256(pub)) and the
// xor of all those bytes.
func nuls1Address(sender string, pub []byte) (string, error) {
	b, err := base58Decode(sender)
	if err != nil {
		return "", err
	}
	if len(b) < 2 {
		return "", fmt.Errorf("sender %q too short", truncate(sender))
	}
	body := make([]byte, 0, 24)
	body = append(body, b[0], b[1], 1)
	body = append(body, hash160(pub)...)
	var x byte
	for _, c := range body {
		x ^= c
	}
	return base58Encode(append(body, x)), nil
}

// nuls1ReprDigest returns the digest pyaleph and Python 3 NULS v1 signers
// use: sha256 of "\x18NULS Signed Message:\n" followed by Python's repr of
// varint(len(buf)) ‖ buf (b'…'), the result of formatting bytes into a str
// template.
func nuls1ReprDigest(buf []byte) []byte {
	msg := append(nulsVarint(uint64(len(buf))), buf...)
	out := make([]byte, 0, len(nulsMessagePrefix)+3+2*len(msg))
	out = append(out, nulsMessagePrefix...)
	out = appendPyBytesRepr(out, msg)
	d := sha256.Sum256(out)
	return d[:]
}

// appendPyBytesRepr appends Python 3's repr of b to out: b'…' (or b"…" when
// b holds a single quote and no double quote), escaping the quote, the
// backslash, \t, \n, \r and every byte outside printable ASCII as \xhh.
func appendPyBytesRepr(out, b []byte) []byte {
	quote := byte('\'')
	if bytes.IndexByte(b, '\'') >= 0 && bytes.IndexByte(b, '"') < 0 {
		quote = '"'
	}
	const hexDigits = "0123456789abcdef"
	out = append(out, 'b', quote)
	for _, c := range b {
		switch {
		case c == quote || c == '\\':
			out = append(out, '\\', c)
		case c == '\t':
			out = append(out, '\\', 't')
		case c == '\n':
			out = append(out, '\\', 'n')
		case c == '\r':
			out = append(out, '\\', 'r')
		case c < ' ' || c >= 0x7f:
			out = append(out, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			out = append(out, c)
		}
	}
	return append(out, quote)
}

// Interface guards
var _ Verifier = VerifierFunc(verifyNULS1)

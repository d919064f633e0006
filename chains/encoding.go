package chains

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/mr-tron/base58"
	"golang.org/x/crypto/ripemd160" //nolint:staticcheck // ripemd160 is what the address formats use
)

// maxEncodedLen bounds every encoded signature, key or address a verifier
// decodes. Real ones are a few hundred bytes at most; the bound keeps the
// quadratic base58 decoder and the JSON decoder away from hostile input.
const maxEncodedLen = 4096

// sha256Sum returns sha256(b) as a slice.
func sha256Sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

// hash160 returns ripemd160(sha256(b)), the key hash of Bitcoin-style
// addresses (Cosmos, Avalanche, NULS).
func hash160(b []byte) []byte {
	h := ripemd160.New()
	h.Write(sha256Sum(b))
	return h.Sum(nil)
}

// base58Decode decodes s with the Bitcoin alphabet. It refuses empty and
// oversized input, so callers need not check.
func base58Decode(s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("empty base58 string")
	}
	if len(s) > maxEncodedLen {
		return nil, fmt.Errorf("base58 string too long (%d chars)", len(s))
	}
	b, err := base58.Decode(s)
	if err != nil {
		return nil, fmt.Errorf("decode base58: %w", err)
	}
	return b, nil
}

// base58Encode encodes b with the Bitcoin alphabet.
func base58Encode(b []byte) string { return base58.Encode(b) }

// base58CheckDecode decodes Bitcoin-style base58check: payload followed by
// the first 4 bytes of sha256(sha256(payload)). It returns the payload.
func base58CheckDecode(s string) ([]byte, error) {
	b, err := base58Decode(s)
	if err != nil {
		return nil, err
	}
	if len(b) < 4 {
		return nil, fmt.Errorf("base58check string too short (%d bytes)", len(b))
	}
	payload, sum := b[:len(b)-4], b[len(b)-4:]
	want := sha256Sum(sha256Sum(payload))[:4]
	if !bytes.Equal(sum, want) {
		return nil, fmt.Errorf("base58check checksum mismatch")
	}
	return payload, nil
}

// base58CheckEncode is the inverse of base58CheckDecode.
func base58CheckEncode(payload []byte) string {
	b := make([]byte, 0, len(payload)+4)
	b = append(b, payload...)
	b = append(b, sha256Sum(sha256Sum(payload))[:4]...)
	return base58.Encode(b)
}

// bech32Charset is the bech32 data alphabet (BIP-173).
const bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

// bech32Polymod is the BIP-173 checksum function. Values may exceed 5 bits
// (the hrp expansion of a non-ASCII rune): like the Python reference
// implementation the node uses, only the generator mixing looks at the low
// five bits of the carry.
func bech32Polymod(values []uint32) uint32 {
	gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	chk := uint32(1)
	for _, v := range values {
		b := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ v
		for i := range gen {
			if (b>>i)&1 == 1 {
				chk ^= gen[i]
			}
		}
	}
	return chk
}

// bech32Address encodes a key hash as a bech32 address with the given
// human-readable part (Cosmos, Avalanche). Unlike btcutil's encoder it keeps
// the hrp exactly as given, upper case included, as the reference node's
// Python encoder does: senders are compared with the result byte for byte.
func bech32Address(hrp string, keyHash []byte) string {
	// Regroup 8-bit bytes into 5-bit groups, padding the last one.
	data := make([]uint32, 0, (len(keyHash)*8+4)/5+6)
	var acc, bits uint32
	for _, b := range keyHash {
		acc = acc<<8 | uint32(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			data = append(data, (acc>>bits)&31)
		}
	}
	if bits > 0 {
		data = append(data, (acc<<(5-bits))&31)
	}

	runes := []rune(hrp)
	values := make([]uint32, 0, 2*len(runes)+1+len(data)+6)
	for _, r := range runes {
		values = append(values, uint32(r)>>5)
	}
	values = append(values, 0)
	for _, r := range runes {
		values = append(values, uint32(r)&31)
	}
	values = append(values, data...)
	values = append(values, 0, 0, 0, 0, 0, 0)
	mod := bech32Polymod(values) ^ 1
	for i := range 6 {
		data = append(data, (mod>>(5*(5-i)))&31)
	}

	var sb strings.Builder
	sb.Grow(len(hrp) + 1 + len(data))
	sb.WriteString(hrp)
	sb.WriteByte('1')
	for _, d := range data {
		sb.WriteByte(bech32Charset[d])
	}
	return sb.String()
}

// pyBase58Decode decodes base58 the way Python's base58.b58decode does, as
// used by the reference node for Solana and Avalanche: trailing whitespace is
// ignored.
func pyBase58Decode(s string) ([]byte, error) {
	return base58Decode(strings.TrimRightFunc(s, isPySpace))
}

// isPySpace reports whether Python's str.isspace holds for r: Unicode white
// space plus the ASCII information separators 0x1c-0x1f.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// errBase64Padding is returned by pyBase64Decode for a truncated quad.
var errBase64Padding = errors.New("incorrect base64 padding")

// pyBase64Decode decodes standard base64 the way Python's lenient
// base64.b64decode does, because the reference node decodes Cosmos and NULS2
// signatures with it: characters outside the alphabet are skipped, decoding
// stops at the padding that completes a quad, and a truncated final quad is
// an error. Non-ASCII input is an error unless skipNonASCII is set (Python
// raises when it must encode a str to ASCII first, but skips non-ASCII bytes).
func pyBase64Decode(s string, skipNonASCII bool) ([]byte, error) {
	if len(s) > maxEncodedLen {
		return nil, fmt.Errorf("base64 string too long (%d chars)", len(s))
	}
	out := make([]byte, 0, len(s)*3/4)
	var quadPos, pads int
	var left byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 && !skipNonASCII {
			return nil, fmt.Errorf("non-ASCII character in base64 string")
		}
		if c == '=' {
			if quadPos >= 2 {
				pads++
				if quadPos+pads >= 4 {
					return out, nil
				}
			}
			continue
		}
		v, ok := base64Value(c)
		if !ok {
			continue
		}
		pads = 0
		switch quadPos {
		case 0:
			left = v
		case 1:
			out = append(out, left<<2|v>>4)
			left = v & 0x0f
		case 2:
			out = append(out, left<<4|v>>2)
			left = v & 0x03
		case 3:
			out = append(out, left<<6|v)
		}
		quadPos = (quadPos + 1) % 4
	}
	if quadPos != 0 {
		return nil, errBase64Padding
	}
	return out, nil
}

// base64Value returns the value of a standard base64 alphabet character.
func base64Value(c byte) (byte, bool) {
	switch {
	case c >= 'A' && c <= 'Z':
		return c - 'A', true
	case c >= 'a' && c <= 'z':
		return c - 'a' + 26, true
	case c >= '0' && c <= '9':
		return c - '0' + 52, true
	case c == '+':
		return 62, true
	case c == '/':
		return 63, true
	}
	return 0, false
}

// requiredJSONString returns the string member key of fields (decoded with
// sigJSONObject), which must be present.
func requiredJSONString(fields map[string]json.RawMessage, key string) (string, error) {
	v, ok, err := sigJSONString(fields, key)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("no %q member", key)
	}
	return v, nil
}

// recoverCompressed recovers the secp256k1 public key from a 65-byte
// r || s || recid signature (recid 0 to 3) of a 32-byte digest and returns
// it in its 33-byte compressed form, the form Avalanche and NULS hash into
// addresses.
func recoverCompressed(digest, sig []byte) ([]byte, error) {
	if len(sig) != 65 {
		return nil, fmt.Errorf("signature is %d bytes, want 65", len(sig))
	}
	if sig[64] > 3 {
		return nil, fmt.Errorf("recovery id %d, want 0 to 3", sig[64])
	}
	pub, err := crypto.Ecrecover(digest, sig)
	if err != nil {
		return nil, fmt.Errorf("recover public key: %w", err)
	}
	// pub is 0x04 || x || y: keep x and encode the parity of y.
	out := make([]byte, 33)
	out[0] = 0x02 | pub[64]&1
	copy(out[1:], pub[1:33])
	return out, nil
}

// ed25519SmallOrderY lists the y coordinates, little endian with the sign bit
// cleared, of the points of order 1, 2, 4 and 8, including the non-canonical
// encodings p and p+1 of 0 and 1. This is libsodium's ge25519_has_small_order
// table.
var ed25519SmallOrderY = [][32]byte{
	{0x00}, // y = 0, order 4
	{0x01}, // y = 1, order 1
	{0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
		0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05}, // order 8
	{0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
		0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a}, // order 8
	{0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, // y = p-1, order 2
	{0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, // y = p, i.e. 0
	{0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, // y = p+1, i.e. 1
}

// ed25519SmallOrder reports whether the 32-byte point encoding p is one of
// the small-order points, ignoring its sign bit. libsodium (PyNaCl,
// pytezos) rejects such public keys and signature R values; Go's
// crypto/ed25519 does not, so every Ed25519 verifier (Solana, Tezos) checks
// it first.
func ed25519SmallOrder(p []byte) bool {
	var y [32]byte
	copy(y[:], p)
	y[31] &= 0x7f
	for _, so := range ed25519SmallOrderY {
		if y == so {
			return true
		}
	}
	return false
}

// ed25519CanonicalPoint reports whether the y coordinate of the 32-byte point
// encoding p is below the field prime 2^255-19.
func ed25519CanonicalPoint(p []byte) bool {
	if p[31]&0x7f != 0x7f || p[0] < 0xed {
		return true
	}
	for _, b := range p[1:31] {
		if b != 0xff {
			return true
		}
	}
	return false
}

package chains

import (
	"crypto/sha256"
	"strings"
	"unicode/utf8"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// CSDK is the Cosmos SDK chain: amino-JSON signatures of a sign document.
const CSDK Chain = "CSDK"

func init() { register(VerifierFunc(verifyCosmos), CSDK) }

// cosmosKeyType is the only public key type the reference node accepts.
const cosmosKeyType = "tendermint/PubKeySecp256k1"

// verifyCosmos checks an amino StdSignature
// {"pub_key": {"type": "tendermint/PubKeySecp256k1", "value": base64},
// "signature": base64(r || s)}: ECDSA secp256k1 over sha256 of the canonical
// sign document (see cosmosSignDoc), with high S accepted as python-ecdsa
// does. The sender must be bech32(hrp, ripemd160(sha256(pub_key bytes))),
// where hrp is the sender's text before its first "1".
func verifyCosmos(s Signed) error {
	obj, err := sigJSONObject(s.Signature)
	if err != nil {
		return invalid("signature: %v", err)
	}
	pubObj, err := sigJSONObject(string(obj["pub_key"]))
	if err != nil {
		return invalid("pub_key: %v", err)
	}
	if typ, err := requiredJSONString(pubObj, "type"); err != nil || typ != cosmosKeyType {
		return invalid("pub_key type is not %s", cosmosKeyType)
	}
	pubB64, err := requiredJSONString(pubObj, "value")
	if err != nil {
		return invalid("pub_key: %v", err)
	}
	pubBytes, err := pyBase64Decode(pubB64, false)
	if err != nil {
		return invalid("decode pub_key: %v", err)
	}
	sigB64, err := requiredJSONString(obj, "signature")
	if err != nil {
		return invalid("signature: %v", err)
	}
	// The node encodes this one to UTF-8 before decoding, so non-ASCII bytes
	// are skipped rather than refused.
	sigBytes, err := pyBase64Decode(sigB64, true)
	if err != nil {
		return invalid("decode signature: %v", err)
	}

	hrp, _, ok := strings.Cut(s.Sender, "1")
	if !ok {
		return invalid("sender %q is not a bech32 address", truncate(s.Sender))
	}
	if addr := bech32Address(hrp, hash160(pubBytes)); addr != s.Sender {
		return invalid("pub_key is the key of %s, not of sender %q", addr, truncate(s.Sender))
	}

	pub, err := parseCosmosPubKey(pubBytes)
	if err != nil {
		return err
	}
	sig, err := parseCompactSignature(sigBytes)
	if err != nil {
		return err
	}
	buf := s.Buffer()
	if !utf8.Valid(buf) {
		return invalid("verification buffer is not valid UTF-8")
	}
	digest := sha256.Sum256(cosmosSignDoc(string(buf), s.Sender))
	if !sig.Verify(digest[:], pub) {
		return invalid("secp256k1 signature does not verify")
	}
	return nil
}

// parseCosmosPubKey parses the key encodings python-ecdsa's
// VerifyingKey.from_string accepts: compressed (33 bytes), uncompressed or
// hybrid (65 bytes) and raw x || y (64 bytes).
func parseCosmosPubKey(b []byte) (*secp256k1.PublicKey, error) {
	if len(b) == 64 {
		b = append([]byte{0x04}, b...)
	}
	pub, err := secp256k1.ParsePubKey(b)
	if err != nil {
		return nil, invalid("parse pub_key: %v", err)
	}
	return pub, nil
}

// parseCompactSignature parses a 64-byte r || s signature, each in [1, N-1].
// High S values are allowed.
func parseCompactSignature(b []byte) (*ecdsa.Signature, error) {
	if len(b) != 64 {
		return nil, invalid("signature is %d bytes, want 64", len(b))
	}
	var r, s secp256k1.ModNScalar
	if r.SetByteSlice(b[:32]) || r.IsZero() {
		return nil, invalid("signature r is out of range")
	}
	if s.SetByteSlice(b[32:]) || s.IsZero() {
		return nil, invalid("signature s is out of range")
	}
	return ecdsa.NewSignature(&r, &s), nil
}

// cosmosSignDoc returns the bytes a Cosmos wallet signs for an Aleph
// message: the ADR-036 style amino sign document, serialised as the
// reference node does with Python's json.dumps(sort_keys=True,
// separators=(",", ":")). The account number is always "0" and the chain id
// "signed-message-v1".
func cosmosSignDoc(message, signer string) []byte {
	var b strings.Builder
	b.Grow(len(message) + len(signer) + 256)
	b.WriteString(`{"account_number":"0","chain_id":"signed-message-v1","fee":{"amount":[],"gas":"0"},"memo":"","msgs":[{"type":"signutil/MsgSignText","value":{"message":`)
	writePyJSONString(&b, message)
	b.WriteString(`,"signer":`)
	writePyJSONString(&b, signer)
	b.WriteString(`}}],"sequence":"0"}`)
	return []byte(b.String())
}

// writePyJSONString writes s as a JSON string the way Python's json.dumps
// does by default (ensure_ascii=True): the short escapes \" \\ \b \f \n \r
// \t, \u00XX for other control characters and DEL, \uXXXX (lower-case hex,
// surrogate pairs above U+FFFF) for non-ASCII, and nothing else escaped (not
// even <, > or &, which Go's encoding/json escapes).
func writePyJSONString(b *strings.Builder, s string) {
	const hexDigits = "0123456789abcdef"
	u4 := func(r rune) {
		b.WriteString(`\u`)
		for shift := 12; shift >= 0; shift -= 4 {
			b.WriteByte(hexDigits[(r>>shift)&0xf])
		}
	}
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r > 0xffff:
			r -= 0x10000
			u4(0xd800 | (r>>10)&0x3ff)
			u4(0xdc00 | r&0x3ff)
		default:
			u4(r)
		}
	}
	b.WriteByte('"')
}

// Interface guards
var _ Verifier = VerifierFunc(verifyCosmos)

package chains

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"golang.org/x/crypto/blake2b"
)

// tezosCurve is one of the three Tezos key types, with the base58check
// prefixes of its public keys, signatures and addresses.
type tezosCurve struct {
	name       string
	tag        string // first two characters of its encodings: "ed", "sp", "p2"
	keyPrefix  []byte // edpk, sppk, p2pk
	keyLen     int
	sigTag     string // edsig, spsig1, p2sig
	sigPrefix  []byte
	addrPrefix []byte // tz1, tz2, tz3
	// verify checks sig (64 bytes) over digest (32 bytes) for pub (keyLen bytes).
	verify func(pub, digest, sig []byte) error
}

// tezosCurves lists the Tezos key types.
var tezosCurves = []*tezosCurve{
	{
		name: "ed25519", tag: "ed",
		keyPrefix: []byte{0x0d, 0x0f, 0x25, 0xd9}, keyLen: ed25519.PublicKeySize,
		sigTag: "edsig", sigPrefix: []byte{0x09, 0xf5, 0xcd, 0x86, 0x12},
		addrPrefix: []byte{0x06, 0xa1, 0x9f},
		verify:     tezosVerifyEd25519,
	},
	{
		name: "secp256k1", tag: "sp",
		keyPrefix: []byte{0x03, 0xfe, 0xe2, 0x56}, keyLen: secp256k1.PubKeyBytesLenCompressed,
		sigTag: "spsig1", sigPrefix: []byte{0x0d, 0x73, 0x65, 0x13, 0x3f},
		addrPrefix: []byte{0x06, 0xa1, 0xa1},
		verify:     tezosVerifySecp256k1,
	},
	{
		name: "P-256", tag: "p2",
		keyPrefix: []byte{0x03, 0xb2, 0x8b, 0x7f}, keyLen: 33,
		sigTag: "p2sig", sigPrefix: []byte{0x36, 0xf0, 0x2c, 0x34},
		addrPrefix: []byte{0x06, 0xa1, 0xa4},
		verify:     tezosVerifyP256,
	},
}

// tezosGenericSigPrefix is the base58check prefix of "sig…" signatures,
// which carry no curve and are checked with the public key's curve.
var tezosGenericSigPrefix = []byte{0x04, 0x82, 0x2b}

// tezosSigLen is the length of every Tezos signature: r‖s or R‖S.
const tezosSigLen = 64

// tezosDefaultDApp is the dApp URL of micheline signatures that name none.
const tezosDefaultDApp = "aleph.im"

// TEZOS is the Tezos chain.
const TEZOS Chain = "TEZOS"

func init() { register(VerifierFunc(verifyTezos), TEZOS) }

// verifyTezos checks a TEZOS signature. The signature field is the JSON
// object {"signature", "publicKey", "signingType"?, "dAppUrl"?}. The signed
// bytes are the buffer ("raw", the default) or the micheline wrapper that web
// wallets sign (see tezosMichelineBytes); the signature covers their
// blake2b-256 digest. The sender must be the public key's tz1/tz2/tz3
// address.
//
// The reference node only logs a warning when the sender is not the key's
// address and accepts the message anyway; alephql rejects it, since anyone
// could otherwise post as any Tezos address with their own key.
func verifyTezos(s Signed) error {
	fields, err := sigJSONObject(s.Signature)
	if err != nil {
		return invalid("tezos signature: %v", err)
	}
	sigText, err := requiredJSONString(fields, "signature")
	if err != nil {
		return invalid("tezos signature: %v", err)
	}
	keyText, err := requiredJSONString(fields, "publicKey")
	if err != nil {
		return invalid("tezos signature: %v", err)
	}
	signingType, err := optionalJSONString(fields, "signingType", "raw")
	if err != nil {
		return invalid("tezos signature: %v", err)
	}
	dApp, err := optionalJSONString(fields, "dAppUrl", tezosDefaultDApp)
	if err != nil {
		return invalid("tezos signature: %v", err)
	}

	curve, pub, err := tezosPublicKey(keyText)
	if err != nil {
		return invalid("tezos public key: %v", err)
	}
	if addr := tezosAddress(curve, pub); addr != s.Sender {
		return invalid("tezos sender %q is not the public key's address %s", truncate(s.Sender), addr)
	}
	sig, err := tezosSignature(curve, sigText)
	if err != nil {
		return invalid("tezos signature: %v", err)
	}

	var msg []byte
	switch signingType {
	case "raw":
		msg = s.Buffer()
	case "micheline":
		if msg, err = tezosMichelineBytes(s.Buffer(), s.Time, dApp); err != nil {
			return invalid("tezos micheline: %v", err)
		}
	default:
		return invalid("tezos signature: unknown signingType %q", truncate(signingType))
	}
	digest := blake2b.Sum256(msg)
	if err := curve.verify(pub, digest[:], sig); err != nil {
		return invalid("tezos %s signature does not verify for %s: %v", curve.name, truncate(s.Sender), err)
	}
	return nil
}

// tezosPublicKey decodes an edpk/sppk/p2pk public key.
func tezosPublicKey(text string) (*tezosCurve, []byte, error) {
	for _, c := range tezosCurves {
		if !strings.HasPrefix(text, c.tag+"pk") {
			continue
		}
		payload, err := base58CheckDecode(text)
		if err != nil {
			return nil, nil, err
		}
		key, ok := bytes.CutPrefix(payload, c.keyPrefix)
		if !ok || len(key) != c.keyLen {
			return nil, nil, fmt.Errorf("malformed %s public key", c.name)
		}
		return c, key, nil
	}
	return nil, nil, fmt.Errorf("unknown public key prefix in %q", truncate(text))
}

// tezosSignature decodes a signature that must be usable with curve: one
// of curve's own encoding or a generic "sig…" one. A signature of another
// curve is refused, as pytezos does.
func tezosSignature(curve *tezosCurve, text string) ([]byte, error) {
	prefix := tezosGenericSigPrefix
	switch {
	case strings.HasPrefix(text, curve.sigTag):
		prefix = curve.sigPrefix
	case !strings.HasPrefix(text, "sig"):
		return nil, fmt.Errorf("signature %q does not match the %s public key", truncate(text), curve.name)
	}
	payload, err := base58CheckDecode(text)
	if err != nil {
		return nil, err
	}
	sig, ok := bytes.CutPrefix(payload, prefix)
	if !ok || len(sig) != tezosSigLen {
		return nil, errors.New("malformed signature encoding")
	}
	return sig, nil
}

// tezosAddress returns the tz1/tz2/tz3 address of a public key:
// base58check(prefix ‖ blake2b-160(key)).
func tezosAddress(curve *tezosCurve, pub []byte) string {
	h, _ := blake2b.New(20, nil) // cannot fail: the size is valid and there is no key
	h.Write(pub)
	return base58CheckEncode(h.Sum(append([]byte(nil), curve.addrPrefix...)))
}

// tezosMichelineBytes returns the bytes Tezos web wallets sign for a
// micheline signature, as the Aleph SDKs build them:
//
//	payload = "Tezos Signed Message: " + dApp + " " + ISO8601(t) + " " + buffer
//	bytes   = 0x05 0x01 0x00 ‖ ASCII(decimal(len(hex(payload)))) ‖ payload
//
// The length is that of the payload's hex encoding (twice its byte length),
// written in decimal, which is what the SDKs do, not a real Micheline
// encoding.
func tezosMichelineBytes(buf []byte, t float64, dApp string) ([]byte, error) {
	ts, err := tezosISO8601(t)
	if err != nil {
		return nil, err
	}
	payloadLen := len("Tezos Signed Message: ") + len(dApp) + 1 + len(ts) + 1 + len(buf)
	size := strconv.Itoa(2 * payloadLen)
	out := make([]byte, 0, 3+len(size)+payloadLen)
	out = append(out, 0x05, 0x01, 0x00)
	out = append(out, size...)
	out = append(out, "Tezos Signed Message: "...)
	out = append(out, dApp...)
	out = append(out, ' ')
	out = append(out, ts...)
	out = append(out, ' ')
	out = append(out, buf...)
	return out, nil
}

// Bounds of Python's datetime, in epoch seconds: 0001-01-01T00:00:00 and
// 9999-12-31T23:59:59.
const (
	pyMinEpoch = -62135596800
	pyMaxEpoch = 253402300799
)

// tezosISO8601 formats a message time as YYYY-MM-DDTHH:MM:SS.mmmZ in UTC,
// the way the reference node does: Python's datetime first rounds the float
// to microseconds (half to even, on the fractional part), then the format
// truncates to milliseconds. Rounding may therefore carry into the next
// millisecond, second or day. Times Python cannot represent are an error.
func tezosISO8601(t float64) (string, error) {
	if math.IsNaN(t) || t < pyMinEpoch || t >= pyMaxEpoch+1 {
		return "", fmt.Errorf("time %v out of range", t)
	}
	sec, frac := math.Modf(t)
	micros := int64(sec)*1_000_000 + int64(math.RoundToEven(frac*1e6))
	if micros >= (pyMaxEpoch+1)*1_000_000 {
		return "", fmt.Errorf("time %v out of range", t)
	}
	tm := time.UnixMicro(micros).UTC()
	// The year is not zero-padded: the reference node's strftime("%Y")
	// (glibc) writes year 999 as "999".
	return fmt.Sprintf("%d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.Year(), tm.Month(), tm.Day(),
		tm.Hour(), tm.Minute(), tm.Second(), tm.Nanosecond()/1_000_000), nil
}

// tezosVerifyEd25519 checks an Ed25519 signature of digest with the same
// extra rules as libsodium, which the reference node uses: the public key
// must be canonical and neither it nor R may have small order.
func tezosVerifyEd25519(pub, digest, sig []byte) error {
	if !ed25519CanonicalPoint(pub) || ed25519SmallOrder(pub) {
		return errors.New("weak or non-canonical public key")
	}
	if ed25519SmallOrder(sig[:32]) {
		return errors.New("small-order R")
	}
	if !ed25519.Verify(pub, digest, sig) {
		return errors.New("bad signature")
	}
	return nil
}

// tezosVerifySecp256k1 checks a compact r‖s secp256k1 signature of digest
// the way libsecp256k1 does: r and s in [1, n-1], and s in the lower half.
func tezosVerifySecp256k1(pub, digest, sigRS []byte) error {
	key, err := secp256k1.ParsePubKey(pub)
	if err != nil {
		return fmt.Errorf("parse public key: %w", err)
	}
	sig, err := parseCompactSignature(sigRS)
	if err != nil {
		return err
	}
	if sc := sig.S(); sc.IsOverHalfOrder() {
		return errors.New("high s")
	}
	if !sig.Verify(digest, key) {
		return errors.New("bad signature")
	}
	return nil
}

// tezosVerifyP256 checks a r‖s P-256 ECDSA signature of digest for a
// compressed public key.
func tezosVerifyP256(pub, digest, sig []byte) error {
	x, y := elliptic.UnmarshalCompressed(elliptic.P256(), pub)
	if x == nil {
		return errors.New("public key is not a compressed P-256 point")
	}
	key := &ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(key, digest, r, s) {
		return errors.New("bad signature")
	}
	return nil
}

// Interface guards
var _ Verifier = VerifierFunc(verifyTezos)

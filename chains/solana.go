package chains

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"strconv"
)

// The chains whose accounts are Ed25519 keys written in base58.
const (
	SOL Chain = "SOL"
	ES  Chain = "ES" // Eclipse, a Solana virtual machine chain
)

func init() { register(VerifierFunc(verifySolana), SOL, ES) }

// verifySolana checks an Ed25519 signature of the raw verification buffer.
// The signature field is {"signature": base58, "publicKey": base58,
// "version"?: 1} and the sender must be the publicKey string itself.
//
// Like the reference node (PyNaCl, that is libsodium), it rejects public keys
// that are not canonical encodings or that have a small order, and
// signatures whose R has a small order; Go's crypto/ed25519 alone accepts
// them, and a small-order key lets anyone sign for it.
func verifySolana(s Signed) error {
	obj, err := jsonObject(s.Signature)
	if err != nil {
		return invalid("signature: %v", err)
	}
	sigStr, err := jsonString(obj, "signature")
	if err != nil {
		return invalid("signature: %v", err)
	}
	pubStr, err := jsonString(obj, "publicKey")
	if err != nil {
		return invalid("signature: %v", err)
	}
	if err := checkSolanaVersion(obj["version"]); err != nil {
		return err
	}
	if s.Sender != pubStr {
		return invalid("signature publicKey %q is not the sender %q", truncate(pubStr), truncate(s.Sender))
	}
	pub, err := pyBase58Decode(pubStr)
	if err != nil {
		return invalid("publicKey: %v", err)
	}
	if len(pub) != ed25519.PublicKeySize {
		return invalid("publicKey is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	raw, err := pyBase58Decode(sigStr)
	if err != nil {
		return invalid("signature: %v", err)
	}
	if len(raw) != ed25519.SignatureSize {
		return invalid("signature is %d bytes, want %d", len(raw), ed25519.SignatureSize)
	}
	if !ed25519CanonicalPoint(pub) {
		return invalid("publicKey is not a canonical point encoding")
	}
	if ed25519SmallOrder(pub) {
		return invalid("publicKey has a small order")
	}
	if ed25519SmallOrder(raw[:32]) {
		return invalid("signature R has a small order")
	}
	if !ed25519.Verify(pub, s.Buffer(), raw) {
		return invalid("ed25519 signature does not verify")
	}
	return nil
}

// checkSolanaVersion accepts an absent version and anything Python compares
// equal to 1 (1, 1.0, true); any other value is an unsupported version.
func checkSolanaVersion(raw json.RawMessage) error {
	if raw == nil {
		return nil
	}
	v := string(bytes.TrimSpace(raw))
	if v == "true" {
		return nil
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && f == 1 {
		return nil
	}
	return invalid("unsupported signature version %s", truncate(v))
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
// the small-order points, ignoring its sign bit.
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

// Interface guards
var _ Verifier = VerifierFunc(verifySolana)

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
	obj, err := sigJSONObject(s.Signature)
	if err != nil {
		return invalid("signature: %v", err)
	}
	sigStr, err := requiredJSONString(obj, "signature")
	if err != nil {
		return invalid("signature: %v", err)
	}
	pubStr, err := requiredJSONString(obj, "publicKey")
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

// Interface guards
var _ Verifier = VerifierFunc(verifySolana)

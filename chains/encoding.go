package chains

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	"github.com/btcsuite/btcd/btcutil/bech32"
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

// bech32Address encodes a 20-byte key hash as a bech32 address with the
// given human-readable part (Cosmos, Avalanche).
func bech32Address(hrp string, keyHash []byte) (string, error) {
	conv, err := bech32.ConvertBits(keyHash, 8, 5, true)
	if err != nil {
		return "", fmt.Errorf("convert bits: %w", err)
	}
	addr, err := bech32.Encode(hrp, conv)
	if err != nil {
		return "", fmt.Errorf("encode bech32: %w", err)
	}
	return addr, nil
}

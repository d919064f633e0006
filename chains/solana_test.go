package chains

import (
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/json"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// solanaSig builds a Solana signature field from its members.
func solanaSig(t *testing.T, members map[string]any) string {
	t.Helper()
	b, err := json.Marshal(members)
	require.NoError(t, err)
	return string(b)
}

func TestVerifySolana(t *testing.T) {
	fx := validFixture(t, SOL)
	signer, err := GenerateSolanaSigner()
	require.NoError(t, err)
	msg := Signed{Type: "POST", ItemHash: strings.Repeat("cd", 32)}
	require.NoError(t, Sign(signer, &msg))
	var parts struct{ Signature, PublicKey string }
	require.NoError(t, json.Unmarshal([]byte(msg.Signature), &parts))
	sigBytes, err := base58Decode(parts.Signature)
	require.NoError(t, err)

	// with returns msg with a signature field built from members.
	with := func(members map[string]any) Signed {
		s := msg
		s.Signature = solanaSig(t, members)
		return s
	}
	base := func() map[string]any {
		return map[string]any{"signature": parts.Signature, "publicKey": parts.PublicKey}
	}
	set := func(k string, v any) map[string]any { m := base(); m[k] = v; return m }

	// A forgery that Go's crypto/ed25519 alone accepts: the identity as the
	// public key and as R, with S = 0, verifies for every message.
	identity := make([]byte, 32)
	identity[0] = 1
	idKey := base58Encode(identity)
	forged := Signed{Chain: SOL, Sender: idKey, Type: "POST", ItemHash: msg.ItemHash}
	forged.Signature = solanaSig(t, map[string]any{"signature": base58Encode(append(append([]byte{}, identity...), make([]byte, 32)...)), "publicKey": idKey})
	require.True(t, ed25519.Verify(identity, forged.Buffer(), append(append([]byte{}, identity...), make([]byte, 32)...)))

	// A signature with R = identity (small order) that Go's crypto/ed25519
	// accepts: S = k*a where k = H(R || A || M) and a is the secret scalar,
	// so [S]B = [k]A = R + [k]A. libsodium rejects it.
	smallR := smallOrderRSignature(t, signer.key, msg.Buffer())
	require.True(t, ed25519.Verify(signer.key.Public().(ed25519.PublicKey), msg.Buffer(), smallR))

	tests := []struct {
		name  string
		msg   Signed
		valid bool
	}{
		{"fixture", fx, true},
		{"signer", msg, true},
		{"ES chain", func() Signed {
			s := Signed{Chain: ES, Type: "POST", ItemHash: msg.ItemHash}
			require.NoError(t, Sign(signer, &s))
			return s
		}(), true},
		{"version 1", with(set("version", 1)), true},
		{"version 1.0", with(set("version", 1.0)), true},
		{"version true", with(set("version", true)), true},
		{"version 2", with(set("version", 2)), false},
		{"version string", with(set("version", "1")), false},
		{"version null", with(set("version", nil)), false},
		{"trailing whitespace in signature", with(set("signature", parts.Signature+" \n")), true},
		{"ES signature used on SOL", func() Signed {
			s := Signed{Chain: ES, Type: "POST", ItemHash: msg.ItemHash}
			require.NoError(t, Sign(signer, &s))
			s.Chain = SOL
			return s
		}(), false},
		{"tampered sender", func() Signed { s := msg; s.Sender = fx.Sender; return s }(), false},
		{"sender differs from publicKey string", with(set("publicKey", "1"+parts.PublicKey)), false},
		{"tampered item hash", func() Signed { s := msg; s.ItemHash = strings.Repeat("0", 64); return s }(), false},
		{"63-byte signature", with(set("signature", base58Encode(sigBytes[:63]))), false},
		{"65-byte signature", with(set("signature", base58Encode(append(append([]byte{}, sigBytes...), 0)))), false},
		{"invalid base58 signature", with(set("signature", "0OIl"+parts.Signature)), false},
		{"empty signature", with(set("signature", "")), false},
		{"signature not a string", with(set("signature", 12)), false},
		{"missing signature", with(map[string]any{"publicKey": parts.PublicKey}), false},
		{"missing publicKey", with(map[string]any{"signature": parts.Signature}), false},
		{"keys in other case", with(map[string]any{"Signature": parts.Signature, "PublicKey": parts.PublicKey}), false},
		{"not JSON", func() Signed { s := msg; s.Signature = parts.Signature; return s }(), false},
		{"JSON array", func() Signed { s := msg; s.Signature = "[]"; return s }(), false},
		{"JSON null", func() Signed { s := msg; s.Signature = "null"; return s }(), false},
		{"huge", func() Signed { s := msg; s.Signature = `{"signature":"` + strings.Repeat("2", 1<<20) + `"}`; return s }(), false},
		{"31-byte public key", func() Signed {
			s := msg
			s.Sender = base58Encode(make([]byte, 31))
			s.Signature = solanaSig(t, set("publicKey", s.Sender))
			return s
		}(), false},
		{"small-order public key forgery", forged, false},
		{"small-order R", with(set("signature", base58Encode(smallR))), false},
		{"non-canonical S", with(set("signature", base58Encode(append(append([]byte{}, sigBytes[:32]...), bytesRepeat(0xff, 32)...)))), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.msg)
			if tt.valid {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidSignature)
			require.Less(t, len(err.Error()), 400, "error messages stay short")
		})
	}
}

// bytesRepeat returns n copies of b.
func bytesRepeat(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

// smallOrderRSignature signs msg with R set to the identity point, a
// signature only implementations without libsodium's small-order check
// accept.
func smallOrderRSignature(t *testing.T, key ed25519.PrivateKey, msg []byte) []byte {
	t.Helper()
	le := func(b []byte) *big.Int {
		be := slices.Clone(b)
		slices.Reverse(be)
		return new(big.Int).SetBytes(be)
	}
	l, ok := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	require.True(t, ok)
	h := sha512.Sum512(key.Seed())
	h[0] &= 248
	h[31] &= 127
	h[31] |= 64
	a := le(h[:32])
	r := make([]byte, 32)
	r[0] = 1
	kh := sha512.New()
	kh.Write(r)
	kh.Write(key.Public().(ed25519.PublicKey))
	kh.Write(msg)
	k := le(kh.Sum(nil))
	s := new(big.Int).Mod(new(big.Int).Mul(k, a), l)
	sb := make([]byte, 32)
	s.FillBytes(sb)
	slices.Reverse(sb)
	return append(r, sb...)
}

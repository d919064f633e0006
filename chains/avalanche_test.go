package chains

import (
	"crypto/ecdsa"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/stretchr/testify/require"
)

// avalancheSignature encodes sig65 as base58(sig65 || sha256(sig65)[-4:]).
func avalancheSignature(sig []byte) string {
	sum := sha256Sum(sig)
	return base58Encode(append(append([]byte{}, sig...), sum[len(sum)-4:]...))
}

// avalancheSign signs s as key, sender "<chainID>-avax1…".
func avalancheSign(t *testing.T, key *ecdsa.PrivateKey, chainID string, s Signed) Signed {
	t.Helper()
	s.Chain = AVAX
	s.Sender = chainID + "-" + bech32Address("avax", hash160(crypto.CompressPubkey(&key.PublicKey)))
	sig, err := crypto.Sign(avalancheDigest(s.Buffer()), key)
	require.NoError(t, err)
	s.Signature = avalancheSignature(sig)
	return s
}

func TestVerifyAvalanche(t *testing.T) {
	fx := validFixture(t, AVAX)
	raw, err := base58Decode(fx.Signature)
	require.NoError(t, err)
	require.Len(t, raw, 69)
	sig := raw[:65]
	withSig := func(edit func(b []byte) []byte) Signed {
		s := fx
		s.Signature = avalancheSignature(edit(append([]byte{}, sig...)))
		return s
	}
	key, err := crypto.GenerateKey()
	require.NoError(t, err)
	msg := Signed{Type: "POST", ItemHash: strings.Repeat("12", 32)}

	tests := []struct {
		name  string
		msg   Signed
		valid bool
	}{
		{"fixture", fx, true},
		{"generated key", avalancheSign(t, key, "X", msg), true},
		{"P chain", avalancheSign(t, key, "P", msg), true},
		{"any chain id text", avalancheSign(t, key, "whatever", msg), true},
		{"trailing whitespace", func() Signed { s := fx; s.Signature += "\n"; return s }(), true},
		{"chain id changed after signing", func() Signed { s := fx; s.Sender = "P" + strings.TrimPrefix(s.Sender, "X"); return s }(), false},
		{"tampered item hash", func() Signed { s := fx; s.ItemHash = strings.Repeat("0", 64); return s }(), false},
		{"other key's sender", func() Signed { s := fx; s.Sender = avalancheSign(t, key, "X", msg).Sender; return s }(), false},
		{"fuji hrp sender", func() Signed {
			s := avalancheSign(t, key, "X", msg)
			s.Sender = "X-" + bech32Address("fuji", hash160(crypto.CompressPubkey(&key.PublicKey)))
			return s
		}(), false},
		{"sender without dash", func() Signed { s := fx; s.Sender = strings.ReplaceAll(s.Sender, "-", ""); return s }(), false},
		{"sender without bech32 separator", func() Signed { s := fx; s.Sender = "X-avax"; return s }(), false},
		{"checksum mismatch", func() Signed {
			b := append([]byte{}, raw...)
			b[68] ^= 1
			s := fx
			s.Signature = base58Encode(b)
			return s
		}(), false},
		{"no checksum", func() Signed { s := fx; s.Signature = base58Encode(sig); return s }(), false},
		{"recid 2", withSig(func(b []byte) []byte { b[64] = 2; return b }), false},
		{"recid 4", withSig(func(b []byte) []byte { b[64] = 4; return b }), false},
		{"recid 27", withSig(func(b []byte) []byte { b[64] = 27; return b }), false},
		{"64-byte signature", withSig(func(b []byte) []byte { return b[:64] }), false},
		{"66-byte signature", withSig(func(b []byte) []byte { return append(b, 0) }), false},
		{"r zero", withSig(func(b []byte) []byte { clear(b[:32]); return b }), false},
		{"s zero", withSig(func(b []byte) []byte { clear(b[32:64]); return b }), false},
		{"three bytes", func() Signed { s := fx; s.Signature = base58Encode([]byte{1, 2, 3}); return s }(), false},
		{"invalid base58", func() Signed { s := fx; s.Signature = "0" + s.Signature; return s }(), false},
		{"huge", func() Signed { s := fx; s.Signature = strings.Repeat("z", 1<<20); return s }(), false},
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

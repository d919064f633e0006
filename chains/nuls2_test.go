package chains

import (
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/stretchr/testify/require"
)

// nuls2Sign signs s as key on the given NULS chain id with the address
// prefix, returning the message with sender and signature set.
func nuls2Sign(t *testing.T, key *ecdsa.PrivateKey, chainID int16, prefix string, s Signed) Signed {
	t.Helper()
	s.Chain = NULS2
	s.Sender = nuls2Address(prefix, chainID, crypto.CompressPubkey(&key.PublicKey))
	sig, err := crypto.Sign(nulsDigest(s.Buffer()), key)
	require.NoError(t, err)
	s.Signature = base64.StdEncoding.EncodeToString(append([]byte{27 + sig[64]}, sig[:64]...))
	return s
}

func TestVerifyNULS2(t *testing.T) {
	fx := validFixture(t, NULS2)
	raw, err := base64.StdEncoding.DecodeString(fx.Signature)
	require.NoError(t, err)
	require.Len(t, raw, 65)
	withSig := func(edit func(b []byte) []byte) Signed {
		s := fx
		s.Signature = base64.StdEncoding.EncodeToString(edit(append([]byte{}, raw...)))
		return s
	}
	key, err := crypto.GenerateKey()
	require.NoError(t, err)
	msg := Signed{Type: "POST", ItemHash: strings.Repeat("34", 32)}
	long := msg
	long.ItemHash = strings.Repeat("a", 300) // a buffer needing a 3-byte varint

	tests := []struct {
		name  string
		msg   Signed
		valid bool
	}{
		{"fixture", fx, true},
		{"main net", nuls2Sign(t, key, 1, "NULS", msg), true},
		{"test net", nuls2Sign(t, key, 2, "tNULS", msg), true},
		{"long buffer", nuls2Sign(t, key, 1, "NULS", long), true},
		{"base64 with junk", func() Signed { s := fx; s.Signature = " *" + s.Signature[:8] + "\n" + s.Signature[8:]; return s }(), true},
		{"unknown chain id", nuls2Sign(t, key, 3, "NULS", msg), false},
		{"test net id with main net prefix", nuls2Sign(t, key, 2, "NULS", msg), false},
		{"main net id with test net prefix", nuls2Sign(t, key, 1, "tNULS", msg), false},
		{"tampered sender", func() Signed { s := fx; s.Sender = nuls2Sign(t, key, 1, "NULS", msg).Sender; return s }(), false},
		{"tampered item hash", func() Signed { s := fx; s.ItemHash = strings.Repeat("0", 64); return s }(), false},
		{"other prefix", func() Signed { s := fx; s.Sender = "XULS" + s.Sender[4:]; return s }(), false},
		{"prefix only", func() Signed { s := fx; s.Sender = "NULS"; return s }(), false},
		{"prefix and letter only", func() Signed { s := fx; s.Sender = "tNULSe"; return s }(), false},
		{"short address", func() Signed { s := fx; s.Sender = "NULSd" + base58Encode([]byte{1, 0}); return s }(), false},
		{"invalid base58 address", func() Signed { s := fx; s.Sender = "NULSd0OIl"; return s }(), false},
		{"header 26", withSig(func(b []byte) []byte { b[0] = 26; return b }), false},
		{"header 31", withSig(func(b []byte) []byte { b[0] = 31; return b }), false},
		{"other recovery id", withSig(func(b []byte) []byte { b[0] ^= 1; return b }), false},
		{"64 bytes", withSig(func(b []byte) []byte { return b[:64] }), false},
		{"66 bytes", withSig(func(b []byte) []byte { return append(b, 0) }), false},
		{"r zero", withSig(func(b []byte) []byte { clear(b[1:33]); return b }), false},
		{"bad padding", func() Signed { s := fx; s.Signature = strings.TrimSuffix(s.Signature, "="); return s }(), false},
		{"non-ASCII", func() Signed { s := fx; s.Signature = "é" + s.Signature; return s }(), false},
		{"huge", func() Signed { s := fx; s.Signature = strings.Repeat("A", 1<<20); return s }(), false},
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

func TestNULSVarint(t *testing.T) {
	tests := []struct {
		n    uint64
		want string
	}{
		{0, "00"},
		{252, "fc"},
		{253, "fdfd00"},
		{0xffff, "fdffff"},
		{0x10000, "fe00000100"},
		{0xffffffff, "feffffffff"},
		{0x100000000, "ff0000000001000000"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, hex.EncodeToString(nulsVarint(tt.n)), tt.n)
	}
}

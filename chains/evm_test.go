package chains

import (
	"bytes"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/stretchr/testify/require"
)

// validFixture returns the first conformance message of chain c whose
// signature is valid.
func validFixture(tb testing.TB, c Chain) Signed {
	tb.Helper()
	for _, fx := range loadFixtures(tb, func(x Chain) bool { return x == c }) {
		if fx.Valid {
			return fx.Msg
		}
	}
	tb.Fatalf("no valid %s fixture", c)
	return Signed{}
}

// secp256k1N is the order of the secp256k1 group.
var secp256k1N = crypto.S256().Params().N

// withEVMSig returns s with its signature bytes changed by edit.
func withEVMSig(t *testing.T, s Signed, edit func(sig []byte) []byte) Signed {
	t.Helper()
	sig, err := hex.DecodeString(strings.TrimPrefix(s.Signature, "0x"))
	require.NoError(t, err)
	s.Signature = "0x" + hex.EncodeToString(edit(sig))
	return s
}

func TestVerifyEVM(t *testing.T) {
	fx := validFixture(t, ETH)
	require.True(t, strings.HasPrefix(fx.Signature, "0x"))
	v := func(s Signed) byte {
		b, err := hex.DecodeString(s.Signature[len(s.Signature)-2:])
		require.NoError(t, err)
		return b[0]
	}(fx)
	require.Contains(t, []byte{27, 28}, v)
	recid := v - 27

	// A message signed with a leading zero nibble, to check that an odd
	// number of hex digits is left-padded as HexBytes does.
	signer, err := GenerateEthereumSigner()
	require.NoError(t, err)
	var odd Signed
	for i := 0; ; i++ {
		odd = Signed{Type: "POST", ItemHash: strings.Repeat("0", 63) + string(rune('a'+i%6)) + strings.Repeat("1", i/6)}
		require.NoError(t, Sign(signer, &odd))
		if odd.Signature[2] == '0' {
			break
		}
	}

	tests := []struct {
		name  string
		msg   Signed
		valid bool
	}{
		{"fixture", fx, true},
		{"lower-case sender", signedAs(t, signer, strings.ToLower(signer.Address())), true},
		{"upper-case sender", signedAs(t, signer, "0x"+strings.ToUpper(signer.Address()[2:])), true},
		{"0X prefixed sender", signedAs(t, signer, "0X"+signer.Address()[2:]), true},
		{"sender case changed after signing", func() Signed { s := fx; s.Sender = strings.ToLower(s.Sender); return s }(), false},
		{"unprefixed signature", func() Signed { s := fx; s.Signature = s.Signature[2:]; return s }(), true},
		{"0X and upper-case signature", func() Signed { s := fx; s.Signature = "0X" + strings.ToUpper(s.Signature[2:]); return s }(), true},
		{"v 0/1", withEVMSig(t, fx, func(b []byte) []byte { b[64] = recid; return b }), true},
		{"v EIP-155 chain 1", withEVMSig(t, fx, func(b []byte) []byte { b[64] = 37 + recid; return b }), true},
		{"v 35+ wrong parity", withEVMSig(t, fx, func(b []byte) []byte { b[64] = 36 - recid; return b }), false},
		{"odd hex length", func() Signed { s := odd; s.Signature = "0x" + s.Signature[3:]; return s }(), true},
		{"odd hex length, nonzero nibble dropped", func() Signed { s := fx; s.Signature = s.Signature[:2] + s.Signature[3:]; return s }(), false},
		{"other EVM chain", func() Signed { s := odd; s.Chain = BASE; return s }(), false},
		{"tampered sender", func() Signed { s := fx; s.Sender = signer.Address(); return s }(), false},
		{"tampered item hash", func() Signed { s := fx; s.ItemHash = strings.Repeat("0", 64); return s }(), false},
		{"tampered type", func() Signed { s := fx; s.Type = "FORGET"; return s }(), false},
		{"sender without 0x", func() Signed { s := fx; s.Sender = s.Sender[2:]; return s }(), false},
		{"sender too long", func() Signed { s := fx; s.Sender += "0"; return s }(), false},
		{"sender not hex", func() Signed { s := fx; s.Sender = s.Sender[:41] + "g"; return s }(), false},
		{"sender with non-ASCII", func() Signed { s := fx; s.Sender = s.Sender[:40] + "é"; return s }(), false},
		{"64-byte signature", withEVMSig(t, fx, func(b []byte) []byte { return b[:64] }), false},
		{"66-byte signature", withEVMSig(t, fx, func(b []byte) []byte { return append(b, 0) }), false},
		{"empty hex", func() Signed { s := fx; s.Signature = "0x"; return s }(), false},
		{"not hex", func() Signed { s := fx; s.Signature = "0x" + strings.Repeat("zz", 65); return s }(), false},
		{"huge", func() Signed { s := fx; s.Signature = "0x" + strings.Repeat("00", 1<<20); return s }(), false},
		{"v 2", withEVMSig(t, fx, func(b []byte) []byte { b[64] = 2; return b }), false},
		{"v 29", withEVMSig(t, fx, func(b []byte) []byte { b[64] = 29; return b }), false},
		{"v 34", withEVMSig(t, fx, func(b []byte) []byte { b[64] = 34; return b }), false},
		{"r zero", withEVMSig(t, fx, func(b []byte) []byte { clear(b[:32]); return b }), false},
		{"s zero", withEVMSig(t, fx, func(b []byte) []byte { clear(b[32:64]); return b }), false},
		{"s = N", withEVMSig(t, fx, func(b []byte) []byte { secp256k1N.FillBytes(b[32:64]); return b }), false},
		{"r all ones", withEVMSig(t, fx, func(b []byte) []byte {
			for i := range 32 {
				b[i] = 0xff
			}
			return b
		}), false},
		{"high s, flipped v", withEVMSig(t, fx, func(b []byte) []byte {
			// (r, N-s) with the other recovery id is the same key: the
			// malleated twin eth-account also accepts.
			s := new(big.Int).SetBytes(b[32:64])
			new(big.Int).Sub(secp256k1N, s).FillBytes(b[32:64])
			b[64] = 27 + (recid ^ 1)
			return b
		}), true},
		{"invalid UTF-8 buffer", func() Signed { s := fx; s.Type = "\xff"; return s }(), false},
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

// signedAs returns a POST signed by signer with the given sender string.
func signedAs(t *testing.T, signer Signer, sender string) Signed {
	t.Helper()
	s := Signed{Sender: sender, Type: "POST", ItemHash: strings.Repeat("ab", 32)}
	require.NoError(t, Sign(signer, &s))
	return s
}

func TestEVMChainsRegistered(t *testing.T) {
	for _, c := range evmChains {
		require.True(t, Supported(c), c)
		require.True(t, IsEVM(c), c)
	}
	require.Len(t, evmChains, 23)
	require.False(t, IsEVM(SOL))
}

func TestEIP191HashMatchesGoEthereum(t *testing.T) {
	for _, n := range []int{0, 1, 9, 10, 99, 100, 12345} {
		msg := bytes.Repeat([]byte{'a'}, n)
		require.Equal(t, accounts.TextHash(msg), eip191Hash(msg), "length %d", n)
	}
}

package chains

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// fuzzVerify fuzzes Verify for chain c, seeded with its conformance
// messages. Whatever the input, Verify must not panic, must fail only with
// the package's errors, must give the same verdict twice, and a signature it
// accepts must stop verifying once the item hash changes.
func fuzzVerify(f *testing.F, c Chain) {
	fixtures := loadFixtures(f, func(x Chain) bool { return x == c })
	require.NotEmpty(f, fixtures)
	for _, fx := range fixtures {
		f.Add(fx.Msg.Sender, fx.Msg.Type, fx.Msg.ItemHash, fx.Msg.Signature)
	}
	f.Fuzz(func(t *testing.T, sender, typ, itemHash, signature string) {
		s := Signed{Chain: c, Sender: sender, Type: typ, ItemHash: itemHash, Signature: signature}
		err := Verify(s)
		if err != nil {
			require.True(t, errors.Is(err, ErrInvalidSignature) || errors.Is(err, ErrMissingSignature), "unexpected error kind: %v", err)
		}
		require.Equal(t, err == nil, Verify(s) == nil, "verdict is deterministic")
		if err != nil {
			return
		}
		tampered := s
		tampered.ItemHash += "0"
		require.ErrorIs(t, Verify(tampered), ErrInvalidSignature, "signature covers the item hash")
	})
}

// FuzzVerifyEVM fuzzes the EIP-191 verifier.
func FuzzVerifyEVM(f *testing.F) { fuzzVerify(f, ETH) }

// FuzzVerifySolana fuzzes the Ed25519 JSON signature verifier.
func FuzzVerifySolana(f *testing.F) { fuzzVerify(f, SOL) }

// FuzzVerifyCosmos fuzzes the amino StdSignature verifier.
func FuzzVerifyCosmos(f *testing.F) { fuzzVerify(f, CSDK) }

// FuzzVerifyAvalanche fuzzes the base58check recovery verifier.
func FuzzVerifyAvalanche(f *testing.F) { fuzzVerify(f, AVAX) }

// FuzzVerifyNULS2 fuzzes the Electrum-style recovery verifier.
func FuzzVerifyNULS2(f *testing.F) { fuzzVerify(f, NULS2) }

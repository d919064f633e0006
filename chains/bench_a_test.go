package chains

import (
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/stretchr/testify/require"
)

// benchMessages returns one valid message per chain to benchmark: the first
// valid conformance message of each chain of the EVM, Solana, Cosmos,
// Avalanche and NULS2 verifiers, plus ES, which has no real message, signed
// with a generated key. (BenchmarkVerifyB covers the other verifiers.)
func benchMessages(b *testing.B) map[Chain]Signed {
	b.Helper()
	out := map[Chain]Signed{}
	for _, fx := range loadFixtures(b, myChains) {
		if _, ok := out[fx.Msg.Chain]; ok || !fx.Valid || Verify(fx.Msg) != nil {
			continue
		}
		out[fx.Msg.Chain] = fx.Msg
	}
	signer, err := GenerateSolanaSigner()
	require.NoError(b, err)
	es := Signed{Chain: ES, Type: "POST", ItemHash: strings.Repeat("ab", 32)}
	require.NoError(b, Sign(signer, &es))
	out[ES] = es
	return out
}

// BenchmarkVerify measures Verify on one real message per chain. The EVM
// chains share one code path, so ETH stands for all of them.
func BenchmarkVerify(b *testing.B) {
	msgs := benchMessages(b)
	for _, c := range SupportedChains() {
		msg, ok := msgs[c]
		if !ok {
			continue
		}
		b.Run(string(c), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := Verify(msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEcrecoverBare is the baseline for BenchmarkVerify/ETH: go-ethereum's
// public key recovery alone, on the EIP-191 digest of the same message.
func BenchmarkEcrecoverBare(b *testing.B) {
	msg := validFixture(b, ETH)
	sig, err := decodeEVMSignature(msg.Signature)
	require.NoError(b, err)
	digest := accounts.TextHash(msg.Buffer())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := crypto.Ecrecover(digest, sig); err != nil {
			b.Fatal(err)
		}
	}
}

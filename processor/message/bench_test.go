package message

import (
	"encoding/hex"
	"sort"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/alephql/alephql/chains"
)

// benchMessages returns, per chain of the conformance data, one message
// whose signature and hash are valid: inline when the chain has one.
func benchMessages(b *testing.B) map[string][]byte {
	b.Helper()
	out := map[string][]byte{}
	inline := map[string]bool{}
	all := loadConformance(b)
	files := make([]string, 0, len(all))
	for f := range all {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		for _, m := range all[f] {
			chain := m.str("chain")
			msg, err := Decode(m.raw)
			if err != nil || msg.Verify() != nil {
				continue
			}
			isInline := msg.ItemType == ItemInline
			if _, ok := out[chain]; !ok || (isInline && !inline[chain]) {
				out[chain], inline[chain] = m.raw, isInline
			}
		}
	}
	return out
}

// benchETH is the real signed inline ETH POST of pyaleph's EVM test.
func benchETH(b *testing.B) []byte {
	b.Helper()
	for _, m := range loadConformance(b)["pyaleph__tests-embedded-signed-messages.json"] {
		if src, _ := m.obj["_source"].(string); strings.HasPrefix(src, "chains/test_evm.py") {
			return m.raw
		}
	}
	b.Fatal("no ETH POST in the conformance data")
	return nil
}

// BenchmarkParseHashVerify measures the whole intake check of one real
// message per chain: parse the wire bytes, check the inline hash, validate
// the content, verify the signature.
func BenchmarkParseHashVerify(b *testing.B) {
	msgs := benchMessages(b)
	msgs["ETH"] = benchETH(b)
	names := make([]string, 0, len(msgs))
	for c := range msgs {
		names = append(names, c)
	}
	sort.Strings(names)
	for _, chain := range names {
		raw := msgs[chain]
		b.Run(chain, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				m, err := Decode(raw)
				if err != nil {
					b.Fatal(err)
				}
				if err := m.Verify(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEcrecoverDigest is the floor of the ETH path: go-ethereum's
// public-key recovery of the same message's EIP-191 digest, nothing else.
func BenchmarkEcrecoverDigest(b *testing.B) {
	w, err := Parse(benchETH(b))
	if err != nil {
		b.Fatal(err)
	}
	sig, err := hex.DecodeString(strings.TrimPrefix(w.Signature, "0x"))
	if err != nil || len(sig) != 65 {
		b.Fatalf("bad signature %q", w.Signature)
	}
	if sig[64] >= 27 {
		sig[64] -= 27
	}
	digest := accounts.TextHash(w.Signed().Buffer())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := crypto.Ecrecover(digest, sig); err != nil {
			b.Fatal(err)
		}
	}
}

// Interface guards
var _ = chains.Verify

// BenchmarkDecode measures the parse path alone (wire, hash, content) on
// the ETH message of BenchmarkParseHashVerify.
func BenchmarkDecode(b *testing.B) {
	raw := benchETH(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}

package chains

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// errorIsAny reports whether err wraps one of targets.
func errorIsAny(err error, targets ...error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// chainsB selects the chains whose verifiers tezos.go, substrate.go and
// nuls1.go implement.
func chainsB(c Chain) bool { return c == TEZOS || c == DOT || c == NULS }

// verdictsB is alephql's expected verdict on every TEZOS, DOT and NULS
// message of the conformance set, by item hash, with the reason. It is
// explicit rather than read from _verification because two verdicts differ
// from it on purpose.
var verdictsB = map[string]struct {
	valid  bool
	reason string
}{
	// TEZOS: checked independently (conformance README).
	"75bce3f296c6479242c740a051c2ddef4184f39386a883ceb33bf1f36f45ad09": {true, "raw secp256k1 (tz2)"},
	"41de1a7766c7e5fad54772470eefde63b6bef8683c4159d9179d74955009deb4": {true, "raw ed25519, generic sig (tz1)"},
	"72b2722b95582419cfa71f631ff6c6afc56344dc6a4609e772877621813040b7": {true, "micheline ed25519 (tz1)"},
	// DOT: unverified in the README ("unverified"); the reference node's
	// tests assert both valid, and both verify here.
	"bfbc94fae6336d52ab65a4d907d399a0c16222bd944b3815faa08ad0e039ca1d": {true, "sr25519 over the bare buffer"},
	"2f6e60df7ce1cdb2fb3be8ec09ffd20b5b781338984ff5f6f33830943f4397ba": {true, "sr25519 over <Bytes>buffer</Bytes>"},
	// NULS v1: valid over the raw bytes, which alephql uses; the reference
	// node rejects both (see TestNULS1DiffersFromReferenceNode).
	"QmfDkHXdGND7e8uwJr4yvXSAvbPc8rothM6UN5ABQPsLkF":                   {true, "NULS v1 over raw bytes (reference node: invalid)"},
	"84afd8484912d3fa11a402e480d17e949fbf600fcdedd69674253be0320fa62c": {true, "NULS v1 over raw bytes (reference node: invalid)"},
}

func TestConformanceSignaturesB(t *testing.T) {
	fixtures := loadFixtures(t, chainsB)
	seen := map[string]bool{}
	counts := map[Chain]int{}
	for _, fx := range fixtures {
		want, ok := verdictsB[fx.Msg.ItemHash]
		require.True(t, ok, "%s: no expected verdict for %s message %s", fx.Name, fx.Msg.Chain, fx.Msg.ItemHash)
		seen[fx.Msg.ItemHash] = true
		counts[fx.Msg.Chain]++
		t.Run(string(fx.Msg.Chain)+"/"+fx.Msg.ItemHash[:12], func(t *testing.T) {
			err := Verify(fx.Msg)
			if want.valid {
				require.NoError(t, err, want.reason)
			} else {
				require.ErrorIs(t, err, ErrInvalidSignature, want.reason)
			}
		})
	}
	require.Len(t, seen, len(verdictsB), "every expected vector is in the conformance set")
	require.Equal(t, map[Chain]int{TEZOS: 3, DOT: 2, NULS: 2}, counts)
}

// TestConformanceTamperedB checks that every real TEZOS, DOT and NULS
// signature stops verifying when the signed fields change.
func TestConformanceTamperedB(t *testing.T) {
	for _, fx := range loadFixtures(t, chainsB) {
		for name, tamper := range map[string]func(*Signed){
			"item hash": func(s *Signed) { s.ItemHash = strings.Repeat("0", len(s.ItemHash)) },
			"type":      func(s *Signed) { s.Type = "FORGET" },
			"sender": func(s *Signed) {
				last := "x"
				if strings.HasSuffix(s.Sender, last) {
					last = "y"
				}
				s.Sender = s.Sender[:len(s.Sender)-1] + last
			},
			"chain": func(s *Signed) { s.Chain = "X" + s.Chain },
		} {
			t.Run(string(fx.Msg.Chain)+"/"+fx.Msg.ItemHash[:12]+"/"+name, func(t *testing.T) {
				s := fx.Msg
				tamper(&s)
				if name == "chain" {
					require.ErrorIs(t, Verify(s), ErrUnsupportedChain)
					v := verifiers[fx.Msg.Chain]
					require.ErrorIs(t, v.Verify(s), ErrInvalidSignature)
					return
				}
				require.ErrorIs(t, Verify(s), ErrInvalidSignature)
			})
		}
	}
}

// BenchmarkVerifyB measures one verification of each real message kind.
func BenchmarkVerifyB(b *testing.B) {
	var cases []struct {
		name string
		msg  Signed
	}
	add := func(name string, s Signed) {
		cases = append(cases, struct {
			name string
			msg  Signed
		}{name, s})
	}
	sp, ed, mich := tezosFixtures(b)
	add("TEZOS-ed25519", ed)
	add("TEZOS-secp256k1", sp)
	add("TEZOS-micheline", mich)
	for _, fx := range loadFixtures(b, chainsB) {
		switch fx.Msg.ItemHash {
		case "bfbc94fae6336d52ab65a4d907d399a0c16222bd944b3815faa08ad0e039ca1d":
			add("DOT", fx.Msg)
		case "2f6e60df7ce1cdb2fb3be8ec09ffd20b5b781338984ff5f6f33830943f4397ba":
			add("DOT-wrapped", fx.Msg)
		case "84afd8484912d3fa11a402e480d17e949fbf600fcdedd69674253be0320fa62c":
			add("NULS", fx.Msg)
		}
	}
	require.Len(b, cases, 6)
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := Verify(c.msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

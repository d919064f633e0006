package chains

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"github.com/stretchr/testify/require"
)

// nuls1Fixtures returns the two real NULS v1 messages.
func nuls1Fixtures(t testing.TB) []Signed {
	t.Helper()
	var out []Signed
	for _, fx := range loadFixtures(t, func(c Chain) bool { return c == NULS }) {
		out = append(out, fx.Msg)
	}
	require.Len(t, out, 2, "NULS v1 fixtures")
	return out
}

// nuls1Encode serialises a NULS v1 signature field.
func nuls1Encode(pub []byte, ecc byte, der []byte) string {
	b := append(nulsVarint(uint64(len(pub))), pub...)
	b = append(b, ecc)
	b = append(b, nulsVarint(uint64(len(der)))...)
	return hex.EncodeToString(append(b, der...))
}

// nuls1Sign returns a message from a fresh key on NULS chain id 261 (the
// test vectors' "TT…" addresses), signed over digest(buffer).
func nuls1Sign(t testing.TB, sender string, digest func([]byte) []byte) (Signed, *secp256k1.PrivateKey) {
	t.Helper()
	priv, err := secp256k1.GeneratePrivateKey()
	require.NoError(t, err)
	pub := priv.PubKey().SerializeCompressed()
	addr, err := nuls1Address(sender, pub)
	require.NoError(t, err)
	s := Signed{Chain: NULS, Sender: addr, Type: "POST", ItemHash: strings.Repeat("d", 64)}
	s.Signature = nuls1Encode(pub, 0, ecdsa.Sign(priv, digest(s.Buffer())).Serialize())
	return s, priv
}

// TestNULS1DiffersFromReferenceNode documents a deliberate difference from
// pyaleph: the real NULS v1 signatures verify over the raw bytes, which
// alephql uses, and not over the Python 3 bytes repr pyaleph formats into
// the message template, so pyaleph rejects them and alephql accepts them.
func TestNULS1DiffersFromReferenceNode(t *testing.T) {
	for _, s := range nuls1Fixtures(t) {
		t.Run(s.Sender, func(t *testing.T) {
			require.NoError(t, Verify(s), "valid in alephql")

			raw, err := hex.DecodeString(s.Signature)
			require.NoError(t, err)
			pubBytes, sig, err := parseNULS1Signature(raw)
			require.NoError(t, err)
			pub, err := secp256k1.ParsePubKey(pubBytes)
			require.NoError(t, err)
			require.True(t, sig.Verify(nulsDigest(s.Buffer()), pub), "signed over the raw bytes")
			require.False(t, sig.Verify(nuls1ReprDigest(s.Buffer()), pub), "not over the repr pyaleph checks")
		})
	}
}

func TestVerifyNULS1(t *testing.T) {
	fixtures := nuls1Fixtures(t)
	fx := fixtures[1]
	raw, err := hex.DecodeString(fx.Signature)
	require.NoError(t, err)
	pub, sig, err := parseNULS1Signature(raw)
	require.NoError(t, err)
	der := sig.Serialize()

	reprSigned, _ := nuls1Sign(t, fx.Sender, nuls1ReprDigest)
	rawSigned, priv := nuls1Sign(t, fx.Sender, nulsDigest)
	otherChain, _ := nuls1Sign(t, "Nse5kCRCmbJNSxYMTLmtJ3iJHyxNTRcX", nulsDigest)

	high := sig.S()
	high.Negate()
	r := sig.R()
	low := sig.S()
	rb, hb, sb := r.Bytes(), high.Bytes(), low.Bytes()
	require.Equal(t, der, derSignature(rb[:], sb[:]), "derSignature matches Serialize on low S")
	highS := derSignature(rb[:], hb[:]) // Serialize would normalise S
	uncompressed := priv.PubKey().SerializeUncompressed()
	uncompressedAddr, err := nuls1Address(fx.Sender, uncompressed)
	require.NoError(t, err)

	tamper := func(s Signed, f func(*Signed)) Signed { f(&s); return s }
	tests := []struct {
		name    string
		msg     Signed
		wantErr string
	}{
		{"fixture ipfs", fixtures[0], ""},
		{"fixture inline", fx, ""},
		{"generated raw", rawSigned, ""},
		{"generated repr (Python 3 signer, as pyaleph checks)", reprSigned, ""},
		{"generated other chain id", otherChain, ""},
		{"uppercase hex", tamper(fx, func(s *Signed) { s.Signature = strings.ToUpper(s.Signature) }), ""},
		{"uncompressed key", tamper(rawSigned, func(s *Signed) {
			s.Sender = uncompressedAddr
			s.Signature = nuls1Encode(uncompressed, 0, ecdsa.Sign(priv, nulsDigest(s.Buffer())).Serialize())
		}), ""},

		{"tampered item hash", tamper(fx, func(s *Signed) { s.ItemHash = strings.Repeat("0", 64) }), "does not verify"},
		{"tampered type", tamper(fx, func(s *Signed) { s.Type = "POST" }), "does not verify"},
		{"other sender", tamper(fx, func(s *Signed) { s.Sender = fixtures[0].Sender }), "not by sender"},
		{"sender on another chain", tamper(rawSigned, func(s *Signed) { s.Sender = otherChain.Sender }), "not by sender"},
		{"sender not base58", tamper(fx, func(s *Signed) { s.Sender = "0OIl" }), "base58"},
		{"sender one byte", tamper(fx, func(s *Signed) { s.Sender = "2" }), "too short"},
		{"key of another sender", tamper(fx, func(s *Signed) { s.Signature = fixtures[0].Signature }), "not by sender"},

		{"not hex", tamper(fx, func(s *Signed) { s.Signature = "zz" + s.Signature[2:] }), "decode hex"},
		{"odd hex", tamper(fx, func(s *Signed) { s.Signature = s.Signature[1:] }), "decode hex"},
		{"huge", tamper(fx, func(s *Signed) { s.Signature = strings.Repeat("00", 1<<20) }), "too long"},
		{"empty key", tamper(fx, func(s *Signed) { s.Signature = "00" }), "no ecc type"},
		{"truncated key", tamper(fx, func(s *Signed) { s.Signature = s.Signature[:40] }), "exceeds"},
		{"no length", tamper(fx, func(s *Signed) { s.Signature = "fd01" }), "truncated length"},
		{"64-bit length", tamper(fx, func(s *Signed) { s.Signature = "ff" + strings.Repeat("ff", 8) + "00" }), "exceeds"},
		{"ecc type 1", tamper(fx, func(s *Signed) { s.Signature = nuls1Encode(pub, 1, der) }), "ecc type 1"},
		{"no signature", tamper(fx, func(s *Signed) { s.Signature = nuls1Encode(pub, 0, nil)[:2*(1+len(pub)+1)] }), "missing length"},
		{"trailing bytes", tamper(fx, func(s *Signed) { s.Signature = nuls1Encode(pub, 0, der) + "00" }), "trailing"},
		{"not DER", tamper(fx, func(s *Signed) { s.Signature = nuls1Encode(pub, 0, der[:len(der)-1]) }), "DER"},
		{"high s", tamper(fx, func(s *Signed) { s.Signature = nuls1Encode(pub, 0, highS) }), "high s"},
		{"key not a point", tamper(fx, func(s *Signed) {
			s.Signature = nuls1Encode(append([]byte{2}, bytesOf(0xff, 32)...), 0, der)
		}), "public key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.msg)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidSignature)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

// derSignature encodes r and s (big endian) as a DER ECDSA signature,
// without normalising s.
func derSignature(r, s []byte) []byte {
	integer := func(v []byte) []byte {
		for len(v) > 1 && v[0] == 0 && v[1] < 0x80 {
			v = v[1:]
		}
		if v[0] >= 0x80 {
			v = append([]byte{0}, v...)
		}
		return append([]byte{0x02, byte(len(v))}, v...)
	}
	body := append(integer(r), integer(s)...)
	return append([]byte{0x30, byte(len(body))}, body...)
}

func TestAppendPyBytesRepr(t *testing.T) {
	// Expected values are Python 3's str(bytes.fromhex(in)).
	tests := []struct{ in, want string }{
		{"", `b''`},
		{"616263", `b'abc'`},
		{"612762", `b"a'b"`},
		{"6127622263", `b'a\'b"c'`},
		{"612262", `b'a"b'`},
		{"5c", `b'\\'`},
		{"090a0d001f7f80ff", `b'\t\n\r\x00\x1f\x7f\x80\xff'`},
		{"1f4e554c530a5454616e", `b'\x1fNULS\nTTan'`},
	}
	for _, tc := range tests {
		in, err := hex.DecodeString(tc.in)
		require.NoError(t, err)
		require.Equal(t, tc.want, string(appendPyBytesRepr(nil, in)), "input %s", tc.in)
	}
}

func FuzzVerifyNULS1(f *testing.F) {
	for _, s := range nuls1Fixtures(f) {
		f.Add(s.Sender, s.ItemHash, s.Signature)
	}
	f.Add("", "", "21")
	f.Add("TT", "x", "ff00000000000000ff")
	f.Fuzz(func(t *testing.T, sender, itemHash, sig string) {
		err := Verify(Signed{Chain: NULS, Sender: sender, Type: "POST", ItemHash: itemHash, Signature: sig})
		if err != nil && !errorIsAny(err, ErrInvalidSignature, ErrMissingSignature) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}

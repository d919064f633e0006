package chains

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"github.com/stretchr/testify/require"
)

// cosmosSig builds an amino StdSignature field.
func cosmosSig(t *testing.T, keyType string, pub, sig []byte) string {
	t.Helper()
	return cosmosSigText(t, keyType, base64.StdEncoding.EncodeToString(pub), base64.StdEncoding.EncodeToString(sig))
}

// cosmosSigText builds an amino StdSignature field from base64 texts.
func cosmosSigText(t *testing.T, keyType, pub, sig string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"pub_key":   map[string]any{"type": keyType, "value": pub},
		"signature": sig,
	})
	require.NoError(t, err)
	return string(b)
}

// cosmosSign signs s as key with the given public key encoding, setting the
// sender to that encoding's address with the given hrp.
func cosmosSign(t *testing.T, key *secp256k1.PrivateKey, pub []byte, hrp string, s Signed) Signed {
	t.Helper()
	s.Chain = CSDK
	s.Sender = bech32Address(hrp, hash160(pub))
	digest := sha256.Sum256(cosmosSignDoc(string(s.Buffer()), s.Sender))
	sig := ecdsa.Sign(key, digest[:])
	r, sv := sig.R(), sig.S()
	rb, sb := r.Bytes(), sv.Bytes()
	s.Signature = cosmosSig(t, cosmosKeyType, pub, append(rb[:], sb[:]...))
	return s
}

// cosmosParts decodes a StdSignature field into the public key and r || s.
func cosmosParts(t *testing.T, field string) (pub, sig []byte) {
	t.Helper()
	var v struct {
		PubKey struct {
			Value []byte `json:"value"`
		} `json:"pub_key"`
		Signature []byte `json:"signature"`
	}
	require.NoError(t, json.Unmarshal([]byte(field), &v))
	return v.PubKey.Value, v.Signature
}

func TestVerifyCosmos(t *testing.T) {
	fx := validFixture(t, CSDK)
	pub, sig := cosmosParts(t, fx.Signature)
	require.Len(t, pub, 33)
	require.Len(t, sig, 64)
	with := func(keyType string, p, sg []byte) Signed {
		s := fx
		s.Signature = cosmosSig(t, keyType, p, sg)
		return s
	}
	pubText, sigText := base64.StdEncoding.EncodeToString(pub), base64.StdEncoding.EncodeToString(sig)
	require.True(t, strings.HasSuffix(sigText, "=="))
	withText := func(p, sg string) Signed {
		s := fx
		s.Signature = cosmosSigText(t, cosmosKeyType, p, sg)
		return s
	}
	withS := func(s *big.Int) []byte {
		out := append([]byte{}, sig...)
		s.FillBytes(out[32:])
		return out
	}
	n := secp256k1.S256().N
	origS := new(big.Int).SetBytes(sig[32:])
	highS := withS(new(big.Int).Sub(n, origS)) // the malleated twin

	key, err := secp256k1.GeneratePrivateKey()
	require.NoError(t, err)
	msg := Signed{Type: "POST", ItemHash: strings.Repeat("ef", 32)}
	compressed := key.PubKey().SerializeCompressed()
	uncompressed := key.PubKey().SerializeUncompressed()
	hybrid := append([]byte{0x06 | uncompressed[64]&1}, uncompressed[1:]...)
	escaped := msg
	escaped.Type = "PÖST <&> \"\\\u2028😀\x7f"

	tests := []struct {
		name  string
		msg   Signed
		valid bool
	}{
		{"fixture", fx, true},
		{"high S accepted", with(cosmosKeyType, pub, highS), true},
		{"compressed key", cosmosSign(t, key, compressed, "cosmos", msg), true},
		{"uncompressed key", cosmosSign(t, key, uncompressed, "cosmos", msg), true},
		{"hybrid key", cosmosSign(t, key, hybrid, "cosmos", msg), true},
		{"raw x||y key", cosmosSign(t, key, uncompressed[1:], "cosmos", msg), true},
		{"other hrp", cosmosSign(t, key, compressed, "osmo", msg), true},
		{"upper-case hrp kept as is", cosmosSign(t, key, compressed, "Osmo", msg), true},
		{"escaped characters in the sign doc", cosmosSign(t, key, compressed, "cosmos", escaped), true},
		{"base64 with junk and newlines", withText(pubText, "\n*"+sigText[:10]+"\u00e9"+sigText[10:]+"==tail"), true},
		{"hybrid key with wrong parity", cosmosSign(t, key, append([]byte{0x07 ^ uncompressed[64]&1}, uncompressed[1:]...), "cosmos", msg), false},
		{"tampered sender hrp", func() Signed { s := fx; s.Sender = "osmo" + strings.TrimPrefix(s.Sender, "cosmos"); return s }(), false},
		{"tampered item hash", func() Signed { s := fx; s.ItemHash = strings.Repeat("0", 64); return s }(), false},
		{"sender without separator", func() Signed { s := fx; s.Sender = "cosmos"; return s }(), false},
		{"other key's signature", func() Signed {
			s := cosmosSign(t, key, compressed, "cosmos", msg)
			_, other := cosmosParts(t, cosmosSign(t, key, uncompressed, "cosmos", msg).Signature)
			s.Signature = cosmosSig(t, cosmosKeyType, compressed, other)
			return s
		}(), false},
		{"wrong key type", with("tendermint/PubKeyEd25519", pub, sig), false},
		{"type typo as in old node", with("endermint/PubKeySecp256k1", pub, sig), false},
		{"r zero", with(cosmosKeyType, pub, append(make([]byte, 32), sig[32:]...)), false},
		{"s zero", with(cosmosKeyType, pub, withS(big.NewInt(0))), false},
		{"s = N", with(cosmosKeyType, pub, withS(n)), false},
		{"s = 2^256-1", with(cosmosKeyType, pub, withS(new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1)))), false},
		{"63-byte signature", with(cosmosKeyType, pub, sig[:63]), false},
		{"65-byte signature", with(cosmosKeyType, pub, append(append([]byte{}, sig...), 0)), false},
		{"DER signature", func() Signed {
			s := cosmosSign(t, key, compressed, "cosmos", msg)
			digest := sha256.Sum256(cosmosSignDoc(string(s.Buffer()), s.Sender))
			s.Signature = cosmosSig(t, cosmosKeyType, compressed, ecdsa.Sign(key, digest[:]).Serialize())
			return s
		}(), false},
		{"key not on curve", with(cosmosKeyType, append([]byte{0x02}, make([]byte, 32)...), sig), false},
		{"bad padding", withText(pubText, strings.TrimSuffix(sigText, "=")), false},
		{"pub_key not an object", func() Signed { s := fx; s.Signature = `{"pub_key":"x","signature":"AA=="}`; return s }(), false},
		{"pub_key missing", func() Signed { s := fx; s.Signature = `{"signature":"AA=="}`; return s }(), false},
		{"pub_key value not a string", func() Signed {
			s := fx
			s.Signature = `{"pub_key":{"type":"` + cosmosKeyType + `","value":1},"signature":"AA=="}`
			return s
		}(), false},
		{"non-ASCII pub_key value", withText("é"+pubText, sigText), false},
		{"junk in pub_key value", withText("*"+pubText, sigText), true},
		{"not JSON", func() Signed { s := fx; s.Signature = "nope"; return s }(), false},
		{"huge", func() Signed { s := fx; s.Signature = `{"signature":"` + strings.Repeat("A", 1<<20) + `"}`; return s }(), false},
		{"invalid UTF-8 buffer", func() Signed { s := cosmosSign(t, key, compressed, "cosmos", msg); s.Type = "\xff"; return s }(), false},
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

func TestCosmosSignDoc(t *testing.T) {
	// Expected: Python json.dumps(doc, sort_keys=True, separators=(",", ":")).
	got := string(cosmosSignDoc("a\"b\\c\b\f\n\r\t\x00\x1f\x7f<>&/é€😀\u2028", "cosmos1x"))
	want := `{"account_number":"0","chain_id":"signed-message-v1","fee":{"amount":[],"gas":"0"},"memo":"",` +
		`"msgs":[{"type":"signutil/MsgSignText","value":{"message":` +
		`"a\"b\\c\b\f\n\r\t\u0000\u001f\u007f<>&/\u00e9\u20ac\ud83d\ude00\u2028"` +
		`,"signer":"cosmos1x"}}],"sequence":"0"}`
	require.Equal(t, want, got)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(got), &doc), "the sign doc is JSON")
}

package chains

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/blake2b"
)

// tzTestKey signs like a Tezos wallet, for tests.
type tzTestKey struct {
	curve *tezosCurve
	pub   []byte
	sign  func(digest []byte) []byte // returns the 64-byte signature
}

// newTzTestKey returns a fresh key of the named curve ("ed25519",
// "secp256k1" or "P-256").
func newTzTestKey(t testing.TB, curve string) tzTestKey {
	t.Helper()
	switch curve {
	case "ed25519":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		return tzTestKey{tezosCurves[0], pub, func(d []byte) []byte { return ed25519.Sign(priv, d) }}
	case "secp256k1":
		priv, err := secp256k1.GeneratePrivateKey()
		require.NoError(t, err)
		return tzTestKey{tezosCurves[1], priv.PubKey().SerializeCompressed(), func(d []byte) []byte {
			sig := secpecdsa.Sign(priv, d) // RFC 6979, low S
			r, s := sig.R(), sig.S()
			rb, sb := r.Bytes(), s.Bytes()
			return append(rb[:], sb[:]...)
		}}
	case "P-256":
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		pub := elliptic.MarshalCompressed(elliptic.P256(), priv.X, priv.Y) //nolint:staticcheck // test key encoding
		return tzTestKey{tezosCurves[2], pub, func(d []byte) []byte {
			r, s, err := ecdsa.Sign(rand.Reader, priv, d)
			require.NoError(t, err)
			return append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
		}}
	}
	t.Fatalf("unknown curve %q", curve)
	return tzTestKey{}
}

func (k tzTestKey) publicKey() string {
	return base58CheckEncode(append(append([]byte(nil), k.curve.keyPrefix...), k.pub...))
}

func (k tzTestKey) address() string { return tezosAddress(k.curve, k.pub) }

// encodeSig encodes a 64-byte signature with the curve's prefix, or the
// generic "sig" one.
func (k tzTestKey) encodeSig(sig []byte, generic bool) string {
	prefix := k.curve.sigPrefix
	if generic {
		prefix = tezosGenericSigPrefix
	}
	return base58CheckEncode(append(append([]byte(nil), prefix...), sig...))
}

// signMessage returns a message from k, signed over the raw buffer or the
// micheline wrapper (dApp "" means the default, left out of the JSON).
func (k tzTestKey) signMessage(t testing.TB, micheline, generic bool, dApp string) Signed {
	t.Helper()
	s := Signed{
		Chain: TEZOS, Sender: k.address(), Type: "POST", Time: 1700000000.123456,
		ItemHash: "5ccdd7bccfbc5955e2e40166dd0cdea0b093154fd87bc2bea57e7c768cde2f21",
	}
	msg := s.Buffer()
	fields := map[string]string{"publicKey": k.publicKey()}
	if micheline {
		fields["signingType"] = "micheline"
		url := tezosDefaultDApp
		if dApp != "" {
			fields["dAppUrl"] = dApp
			url = dApp
		}
		var err error
		msg, err = tezosMichelineBytes(msg, s.Time, url)
		require.NoError(t, err)
	}
	digest := blake2b.Sum256(msg)
	fields["signature"] = k.encodeSig(k.sign(digest[:]), generic)
	js, err := json.Marshal(fields)
	require.NoError(t, err)
	s.Signature = string(js)
	return s
}

// withSigField returns s with one member of its signature JSON replaced
// (value nil deletes it).
func withSigField(t testing.TB, s Signed, key string, value any) Signed {
	t.Helper()
	var fields map[string]any
	require.NoError(t, json.Unmarshal([]byte(s.Signature), &fields))
	if value == nil {
		delete(fields, key)
	} else {
		fields[key] = value
	}
	js, err := json.Marshal(fields)
	require.NoError(t, err)
	s.Signature = string(js)
	return s
}

// tezosFixtures returns the real TEZOS messages: raw secp256k1, raw
// ed25519 (generic "sig" signature) and micheline ed25519.
func tezosFixtures(t testing.TB) (sp, ed, micheline Signed) {
	t.Helper()
	for _, fx := range loadFixtures(t, func(c Chain) bool { return c == TEZOS }) {
		switch {
		case strings.Contains(fx.Msg.Signature, "micheline"):
			micheline = fx.Msg
		case strings.HasPrefix(fx.Msg.Sender, "tz2"):
			sp = fx.Msg
		case strings.HasPrefix(fx.Msg.Sender, "tz1"):
			ed = fx.Msg
		}
	}
	require.NotEmpty(t, sp.Signature, "TEZOS secp256k1 fixture")
	require.NotEmpty(t, ed.Signature, "TEZOS ed25519 fixture")
	require.NotEmpty(t, micheline.Signature, "TEZOS micheline fixture")
	return sp, ed, micheline
}

func TestVerifyTezos(t *testing.T) {
	sp, ed, mich := tezosFixtures(t)
	other := newTzTestKey(t, "ed25519")

	tamper := func(s Signed, f func(*Signed)) Signed { f(&s); return s }
	edFields := func(sig, pub string) string {
		js, _ := json.Marshal(map[string]string{"signature": sig, "publicKey": pub})
		return string(js)
	}
	var edSig, edPub string
	{
		var f map[string]string
		require.NoError(t, json.Unmarshal([]byte(ed.Signature), &f))
		edSig, edPub = f["signature"], f["publicKey"]
	}
	edKeyBytes, err := base58CheckDecode(edPub)
	require.NoError(t, err)
	edSigBytes, err := base58CheckDecode(edSig)
	require.NoError(t, err)

	tests := []struct {
		name    string
		msg     Signed
		wantErr string // "" means valid
	}{
		{"fixture secp256k1 raw", sp, ""},
		{"fixture ed25519 raw generic sig", ed, ""},
		{"fixture ed25519 micheline", mich, ""},

		{"tampered sender", tamper(ed, func(s *Signed) { s.Sender = other.address() }), "not the public key's address"},
		{"sender of another curve", tamper(sp, func(s *Signed) { s.Sender = "tz1SmGHzna3YhKropa3WudVq72jhTPDBn4r5" }), "not the public key's address"},
		{"tampered item hash", tamper(sp, func(s *Signed) { s.ItemHash = strings.Repeat("0", 64) }), "does not verify"},
		{"tampered type", tamper(ed, func(s *Signed) { s.Type = "AGGREGATE" }), "does not verify"},
		{"micheline with wrong time", tamper(mich, func(s *Signed) { s.Time += 0.001 }), "does not verify"},
		{"micheline with time in the same millisecond", tamper(mich, func(s *Signed) { s.Time += 0.0004 }), ""},
		{"micheline with other dApp", withSigField(t, mich, "dAppUrl", "example.org"), "does not verify"},
		{"micheline with explicit default dApp", withSigField(t, mich, "dAppUrl", "aleph.im"), ""},
		{"micheline signature checked raw", withSigField(t, mich, "signingType", nil), "does not verify"},
		{"raw signature checked micheline", withSigField(t, ed, "signingType", "micheline"), "does not verify"},
		{"explicit raw", withSigField(t, ed, "signingType", "raw"), ""},
		{"micheline with NaN time", tamper(mich, func(s *Signed) { s.Time = math.NaN() }), "out of range"},
		{"micheline with time past 9999", tamper(mich, func(s *Signed) { s.Time = 1e12 }), "out of range"},

		{"not JSON", tamper(ed, func(s *Signed) { s.Signature = "edsig" }), "decode signature JSON"},
		{"JSON array", tamper(ed, func(s *Signed) { s.Signature = "[]" }), "decode signature JSON"},
		{"JSON null", tamper(ed, func(s *Signed) { s.Signature = "null" }), "null"},
		{"JSON string", tamper(ed, func(s *Signed) { s.Signature = `"x"` }), "decode signature JSON"},
		{"huge JSON", tamper(ed, func(s *Signed) { s.Signature = `{"a":"` + strings.Repeat("x", 1<<20) + `"}` }), "too long"},
		{"missing signature", withSigField(t, ed, "signature", nil), `"signature"`},
		{"missing publicKey", withSigField(t, ed, "publicKey", nil), `"publicKey"`},
		{"case-folded key name", tamper(ed, func(s *Signed) { s.Signature = strings.Replace(s.Signature, `"publicKey"`, `"PublicKey"`, 1) }), `"publicKey"`},
		{"numeric signature", withSigField(t, ed, "signature", 12), "not a string"},
		{"null signingType", tamper(ed, func(s *Signed) { s.Signature = strings.Replace(s.Signature, "{", `{"signingType":null,`, 1) }), "null"},
		{"unknown signingType", withSigField(t, ed, "signingType", "Raw"), "unknown signingType"},
		{"numeric dAppUrl", withSigField(t, mich, "dAppUrl", 1), "not a string"},

		{"unknown key prefix", withSigField(t, ed, "publicKey", "xxpk"+edPub[4:]), "unknown public key prefix"},
		{"secret key instead of public key", withSigField(t, ed, "publicKey", "edsk"+edPub[4:]), "unknown public key prefix"},
		{"bad key checksum", withSigField(t, ed, "publicKey", edPub[:len(edPub)-1]+"1"), "checksum"},
		{"bad key base58", withSigField(t, ed, "publicKey", "edpk0OIl"), "base58"},
		{"short key", withSigField(t, ed, "publicKey", tzEncodingWithLen(t, "edpk", len(edKeyBytes)-1)), "malformed"},
		{"long key", withSigField(t, ed, "publicKey", tzEncodingWithLen(t, "edpk", len(edKeyBytes)+1)), "malformed"},
		{"short re-encoded key", withSigField(t, ed, "publicKey", base58CheckEncode(edKeyBytes[:len(edKeyBytes)-1])), "unknown public key prefix"},
		{"curve mismatch", withSigField(t, ed, "signature", "spsig1"+edSig[6:]), "does not match the ed25519 public key"},
		{"unknown signature prefix", withSigField(t, ed, "signature", "xx"+edSig), "does not match the ed25519 public key"},
		{"bad signature checksum", withSigField(t, ed, "signature", edSig[:len(edSig)-1]+"2"), "checksum"},
		{"short signature", withSigField(t, ed, "signature", tzEncodingWithLen(t, "sig", len(edSigBytes)-1)), "malformed signature"},
		{"long signature", withSigField(t, ed, "signature", tzEncodingWithLen(t, "edsig", len(edSigBytes)+1)), "malformed signature"},
		{"short re-encoded signature", withSigField(t, ed, "signature", base58CheckEncode(edSigBytes[:len(edSigBytes)-1])), "does not match"},
		{"signature of another key", tamper(ed, func(s *Signed) {
			s.Signature = edFields(other.encodeSig(make([]byte, 64), true), edPub)
		}), "does not verify"},
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

func TestVerifyTezosGenerated(t *testing.T) {
	for _, curve := range []string{"ed25519", "secp256k1", "P-256"} {
		k := newTzTestKey(t, curve)
		for _, tc := range []struct {
			name               string
			micheline, generic bool
			dApp               string
		}{
			{"raw", false, false, ""},
			{"raw generic", false, true, ""},
			{"micheline", true, false, ""},
			{"micheline generic dApp", true, true, "app.example"},
		} {
			t.Run(curve+"/"+tc.name, func(t *testing.T) {
				s := k.signMessage(t, tc.micheline, tc.generic, tc.dApp)
				require.NoError(t, Verify(s))
				s.ItemHash = strings.Repeat("a", 64)
				require.ErrorIs(t, Verify(s), ErrInvalidSignature)
			})
		}
	}
}

func TestVerifyTezosCurveRules(t *testing.T) {
	t.Run("secp256k1 high S is rejected", func(t *testing.T) {
		k := newTzTestKey(t, "secp256k1")
		s := k.signMessage(t, false, false, "")
		var f map[string]string
		require.NoError(t, json.Unmarshal([]byte(s.Signature), &f))
		raw, err := base58CheckDecode(f["signature"])
		require.NoError(t, err)
		sig := raw[len(k.curve.sigPrefix):]
		var sc secp256k1.ModNScalar
		sc.SetByteSlice(sig[32:])
		sc.Negate()
		high := sc.Bytes()
		malleated := append(append([]byte(nil), sig[:32]...), high[:]...)
		err = Verify(withSigField(t, s, "signature", k.encodeSig(malleated, false)))
		require.ErrorIs(t, err, ErrInvalidSignature)
		require.ErrorContains(t, err, "high s")
	})

	t.Run("secp256k1 zero and overflowing scalars", func(t *testing.T) {
		k := newTzTestKey(t, "secp256k1")
		s := k.signMessage(t, false, false, "")
		for _, sig := range [][]byte{make([]byte, 64), bytesOf(0xff, 64)} {
			err := Verify(withSigField(t, s, "signature", k.encodeSig(sig, false)))
			require.ErrorIs(t, err, ErrInvalidSignature)
			require.ErrorContains(t, err, "out of range")
		}
	})

	for curve, want := range map[string]string{"P-256": "not a compressed P-256 point", "secp256k1": "parse public key"} {
		t.Run(curve+" key not on the curve", func(t *testing.T) {
			k := newTzTestKey(t, curve)
			k.pub = append([]byte{0x02}, bytesOf(0xff, 32)...)
			err := Verify(k.signMessage(t, false, false, ""))
			require.ErrorIs(t, err, ErrInvalidSignature)
			require.ErrorContains(t, err, want)
		})
	}

	t.Run("ed25519 small-order public key is rejected", func(t *testing.T) {
		// With the identity as public key, S = 1 and R = B verify for any
		// message under plain RFC 8032 rules; libsodium (and alephql) refuse it.
		identity := append([]byte{1}, make([]byte, 31)...)
		base, _ := hex.DecodeString("5866666666666666666666666666666666666666666666666666666666666666")
		sig := append(append([]byte(nil), base...), identity...)
		k := tzTestKey{curve: tezosCurves[0], pub: identity}
		s := Signed{Chain: TEZOS, Sender: k.address(), Type: "POST", ItemHash: strings.Repeat("b", 64)}
		digest := blake2b.Sum256(s.Buffer())
		require.True(t, ed25519.Verify(identity, digest[:], sig), "the forgery works without the extra checks")
		s.Signature = `{"signature":"` + k.encodeSig(sig, false) + `","publicKey":"` + k.publicKey() + `"}`
		err := Verify(s)
		require.ErrorIs(t, err, ErrInvalidSignature)
		require.ErrorContains(t, err, "weak or non-canonical public key")
	})
}

// tzEncodingWithLen returns a valid base58check string that starts with
// tag, like Tezos encodings do, but holds a payload of n bytes whose leading
// bytes are whatever the tag implies: the shape of a truncated or extended
// key or signature.
func tzEncodingWithLen(t testing.TB, tag string, n int) string {
	t.Helper()
	for width := 1; width < 200; width++ {
		b, err := base58Decode(tag + strings.Repeat("z", width))
		require.NoError(t, err)
		if len(b) == n+4 {
			s := base58CheckEncode(b[:n])
			require.True(t, strings.HasPrefix(s, tag), "%s does not start with %s", s, tag)
			return s
		}
		if len(b) > n+4 {
			break
		}
	}
	t.Fatalf("no %d-byte payload encodes with the tag %q", n, tag)
	return ""
}

// bytesOf returns n copies of b.
func bytesOf(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

func TestTezosISO8601(t *testing.T) {
	// Expected values are Python's datetime.fromtimestamp(t, timezone.utc)
	// formatted as the reference node does.
	tests := []struct {
		name string
		time float64
		want string
	}{
		{"fixture", 1663944079.029, "2022-09-23T14:41:19.029Z"},
		{"float just below a millisecond rounds up", 1663944079.0289996, "2022-09-23T14:41:19.029Z"},
		{"float further below stays", 1663944079.0289993, "2022-09-23T14:41:19.028Z"},
		{"carry into the next second", 1663944079.9999995, "2022-09-23T14:41:20.000Z"},
		{"no carry below half a microsecond", 1663944079.9999993, "2022-09-23T14:41:19.999Z"},
		{"carry into the next year", 1672531199.9999995, "2023-01-01T00:00:00.000Z"},
		{"half a millisecond truncates", 1672531199.9995, "2022-12-31T23:59:59.999Z"},
		{"epoch", 0, "1970-01-01T00:00:00.000Z"},
		{"sub-millisecond", 0.0005, "1970-01-01T00:00:00.000Z"},
		{"rounds into the next millisecond", 0.0009995, "1970-01-01T00:00:00.001Z"},
		{"exact half microsecond", 1.0000005, "1970-01-01T00:00:01.000Z"},
		{"binary fraction tie", 1663944079.0078125, "2022-09-23T14:41:19.007Z"},
		{"fixture tz2", 1657534863.1375434, "2022-07-11T10:21:03.137Z"},
		{"fixture tz1", 1661451074.86, "2022-08-25T18:11:14.860Z"},
		{"negative rounds to zero", -0.0000004, "1970-01-01T00:00:00.000Z"},
		{"negative", -1.5, "1969-12-31T23:59:58.500Z"},
		{"negative rounds down", -0.0000006, "1969-12-31T23:59:59.999Z"},
		{"last Python second", 253402300799.0, "9999-12-31T23:59:59.000Z"},
		{"first Python second, year unpadded", -62135596800.0, "1-01-01T00:00:00.000Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tezosISO8601(tc.time)
			require.NoError(t, err)
			require.Equal(t, tc.want, got, "time %s", strconv.FormatFloat(tc.time, 'g', -1, 64))
		})
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 253402300800, -62135596801, 1e300} {
		_, err := tezosISO8601(bad)
		require.Error(t, err, "time %v", bad)
	}
}

func TestTezosMichelineBytes(t *testing.T) {
	buf := []byte("TEZOS\ntz1\nPOST\nabc")
	got, err := tezosMichelineBytes(buf, 1663944079.029, "aleph.im")
	require.NoError(t, err)
	payload := "Tezos Signed Message: aleph.im 2022-09-23T14:41:19.029Z TEZOS\ntz1\nPOST\nabc"
	size := strconv.Itoa(len(hex.EncodeToString([]byte(payload))))
	require.Equal(t, "\x05\x01\x00"+size+payload, string(got))
	require.Equal(t, "\x05\x01\x00"+"148", string(got[:6]))
}

func TestTezosAddress(t *testing.T) {
	sp, ed, _ := tezosFixtures(t)
	for _, s := range []Signed{sp, ed} {
		var f map[string]string
		require.NoError(t, json.Unmarshal([]byte(s.Signature), &f))
		curve, pub, err := tezosPublicKey(f["publicKey"])
		require.NoError(t, err)
		require.Equal(t, s.Sender, tezosAddress(curve, pub))
	}
}

func FuzzVerifyTezos(f *testing.F) {
	sp, ed, mich := tezosFixtures(f)
	for _, s := range []Signed{sp, ed, mich} {
		f.Add(s.Sender, s.ItemHash, s.Signature, s.Time)
	}
	f.Add("tz1", "", `{"signature":"sig","publicKey":"edpk"}`, 0.0)
	f.Add("tz3", "x", `{"signature":"p2sig","publicKey":"p2pk","signingType":"micheline","dAppUrl":""}`, -1e300)
	f.Fuzz(func(t *testing.T, sender, itemHash, sig string, tm float64) {
		err := Verify(Signed{Chain: TEZOS, Sender: sender, Type: "POST", ItemHash: itemHash, Signature: sig, Time: tm})
		if err != nil && !errorIsAny(err, ErrInvalidSignature, ErrMissingSignature) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}

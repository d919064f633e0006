package chains

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/ChainSafe/go-schnorrkel"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/blake2b"
)

// ss58Encode encodes a public key as an SS58 address for network format
// (0 to 16383), the inverse of ss58PublicKey.
func ss58Encode(format int, pub []byte) string {
	var b []byte
	if format < 64 {
		b = []byte{byte(format)}
	} else {
		b = []byte{byte(format&0xfc)>>2 | 0x40, byte(format>>8) | byte(format&0x03)<<6}
	}
	b = append(b, pub...)
	sum := blake2b.Sum512(append(append([]byte(nil), ss58Prefix...), b...))
	return base58Encode(append(b, sum[:2]...))
}

// dotTestKey signs like a Substrate wallet, for tests.
type dotTestKey struct {
	sk  *schnorrkel.SecretKey
	pub [32]byte
}

func newDotTestKey(t testing.TB) dotTestKey {
	t.Helper()
	sk, pk, err := schnorrkel.GenerateKeypair()
	require.NoError(t, err)
	return dotTestKey{sk: sk, pub: pk.Encode()}
}

// signature returns the DOT signature field for msg.
func (k dotTestKey) signature(t testing.TB, msg []byte) string {
	t.Helper()
	sig, err := k.sk.Sign(schnorrkel.NewSigningContext(substrateContext, msg))
	require.NoError(t, err)
	enc := sig.Encode()
	return `{"curve": "sr25519", "data": "0x` + hex.EncodeToString(enc[:]) + `"}`
}

// dotFixtures returns the two real DOT messages: signed over the bare
// buffer, and signed through polkadot-js (wrapped in <Bytes>).
func dotFixtures(t testing.TB) (bare, wrapped Signed) {
	t.Helper()
	for _, fx := range loadFixtures(t, func(c Chain) bool { return c == DOT }) {
		switch fx.Msg.Sender {
		case "5CGNMKCscqN2QNcT7Jtuz23ab7JUxh8wTEtXhECZLJn5vCGX":
			bare = fx.Msg
		case "5D9eKrAsfitxW48YrqMUXejcrnB2N8tLxPeFmoEZ4G74JFyz":
			wrapped = fx.Msg
		}
	}
	require.NotEmpty(t, bare.Signature, "DOT fixture signed over the buffer")
	require.NotEmpty(t, wrapped.Signature, "DOT fixture signed over <Bytes>buffer</Bytes>")
	return bare, wrapped
}

// TestSubstrateFixturesWrapping pins down which DOT vector needs the
// polkadot-js <Bytes> wrapper: the reference node's tests assert both valid.
func TestSubstrateFixturesWrapping(t *testing.T) {
	bare, wrapped := dotFixtures(t)
	check := func(s Signed, msg []byte) bool {
		fields, err := sigJSONObject(s.Signature)
		require.NoError(t, err)
		data, err := requiredJSONString(fields, "data")
		require.NoError(t, err)
		var raw [64]byte
		_, err = hex.Decode(raw[:], []byte(strings.TrimPrefix(data, "0x")))
		require.NoError(t, err)
		sig := new(schnorrkel.Signature)
		require.NoError(t, sig.Decode(raw))
		pubBytes, err := ss58PublicKey(s.Sender)
		require.NoError(t, err)
		pub, err := schnorrkel.NewPublicKey(pubBytes)
		require.NoError(t, err)
		return sr25519Verify(pub, sig, msg)
	}
	wrap := func(b []byte) []byte { return []byte("<Bytes>" + string(b) + "</Bytes>") }

	require.True(t, check(bare, bare.Buffer()))
	require.False(t, check(bare, wrap(bare.Buffer())))
	require.False(t, check(wrapped, wrapped.Buffer()))
	require.True(t, check(wrapped, wrap(wrapped.Buffer())))
}

func TestVerifySubstrate(t *testing.T) {
	bare, wrapped := dotFixtures(t)
	key := newDotTestKey(t)
	mine := Signed{Chain: DOT, Sender: ss58Encode(42, key.pub[:]), Type: "POST", ItemHash: strings.Repeat("c", 64)}
	mine.Signature = key.signature(t, mine.Buffer())
	mineWrapped := mine
	mineWrapped.Signature = key.signature(t, []byte("<Bytes>"+string(mine.Buffer())+"</Bytes>"))
	polkadot := mine
	polkadot.Sender = ss58Encode(0, key.pub[:])
	polkadot.Signature = key.signature(t, polkadot.Buffer())
	twoByte := mine
	twoByte.Sender = ss58Encode(5000, key.pub[:])
	twoByte.Signature = key.signature(t, twoByte.Buffer())

	sigData := bare.Signature[strings.Index(bare.Signature, "0x")+2 : len(bare.Signature)-2]
	withData := func(s Signed, data string) Signed {
		s.Signature = `{"curve": "sr25519", "data": "` + data + `"}`
		return s
	}
	unmarked, _ := hex.DecodeString(sigData)
	unmarked[63] &^= 0x80
	tamper := func(s Signed, f func(*Signed)) Signed { f(&s); return s }

	tests := []struct {
		name    string
		msg     Signed
		wantErr string
	}{
		{"fixture bare", bare, ""},
		{"fixture wrapped", wrapped, ""},
		{"generated", mine, ""},
		{"generated wrapped", mineWrapped, ""},
		{"generated polkadot prefix", polkadot, ""},
		{"generated two-byte prefix", twoByte, ""},
		{"curve omitted", tamper(bare, func(s *Signed) { s.Signature = `{"data":"0x` + sigData + `"}` }), ""},
		{"uppercase hex", withData(bare, "0x"+strings.ToUpper(sigData)), ""},

		{"tampered item hash", tamper(bare, func(s *Signed) { s.ItemHash = strings.Repeat("0", 64) }), "does not verify"},
		{"tampered type", tamper(wrapped, func(s *Signed) { s.Type = "AGGREGATE" }), "does not verify"},
		{"other sender", tamper(bare, func(s *Signed) { s.Sender = wrapped.Sender }), "does not verify"},
		{"same key other prefix", tamper(mine, func(s *Signed) { s.Sender = polkadot.Sender }), "does not verify"},
		{"signature of the other message", tamper(bare, func(s *Signed) { s.Signature = wrapped.Signature }), "does not verify"},
		{"double wrapped", tamper(mineWrapped, func(s *Signed) {
			s.Signature = key.signature(t, []byte("<Bytes><Bytes>"+string(mine.Buffer())+"</Bytes></Bytes>"))
		}), "does not verify"},

		{"ed25519 curve", tamper(bare, func(s *Signed) { s.Signature = strings.Replace(s.Signature, "sr25519", "ed25519", 1) }), "unsupported curve"},
		{"null curve", tamper(bare, func(s *Signed) { s.Signature = strings.Replace(s.Signature, `"sr25519"`, "null", 1) }), "null"},
		{"not JSON", tamper(bare, func(s *Signed) { s.Signature = "0x" + sigData }), "decode signature JSON"},
		{"JSON list", tamper(bare, func(s *Signed) { s.Signature = `["0x` + sigData + `"]` }), "decode signature JSON"},
		{"missing data", tamper(bare, func(s *Signed) { s.Signature = `{"curve":"sr25519"}` }), `"data"`},
		{"numeric data", tamper(bare, func(s *Signed) { s.Signature = `{"data": 12}` }), "not a string"},
		{"no 0x", withData(bare, sigData), "0x prefix"},
		{"0X", withData(bare, "0X"+sigData), "0x prefix"},
		{"short", withData(bare, "0x"+sigData[:126]), "hex digits"},
		{"long", withData(bare, "0x"+sigData+"00"), "hex digits"},
		{"not hex", withData(bare, "0x"+strings.Repeat("zz", 64)), "decode hex"},
		{"marker bit cleared", withData(bare, "0x"+hex.EncodeToString(unmarked)), "not marked"},
		{"R not a point", withData(bare, "0x"+strings.Repeat("ff", 63)+"ff"), "substrate signature"},
		{"s not canonical", withData(bare, "0x"+sigData[:64]+strings.Repeat("ff", 32)), "substrate signature"},

		{"sender bad checksum", tamper(bare, func(s *Signed) { s.Sender = ss58Corrupt(t, s.Sender) }), "checksum"},
		{"sender not base58", tamper(bare, func(s *Signed) { s.Sender = "0OIl" }), "base58"},
		{"sender empty", tamper(bare, func(s *Signed) { s.Sender = "" }), "empty"},
		{"sender too short", tamper(bare, func(s *Signed) { s.Sender = ss58Encode(42, key.pub[:31]) }), "32-byte public key"},
		{"sender too long", tamper(bare, func(s *Signed) { s.Sender = ss58Encode(42, append(key.pub[:], 2)) }), "32-byte public key"},
		{"sender reserved format", tamper(mine, func(s *Signed) { s.Sender = ss58Encode(46, key.pub[:]) }), "reserved"},
		{"sender key not a point", tamper(bare, func(s *Signed) { s.Sender = ss58Encode(42, bytesOf(0xff, 32)) }), "ristretto255"},
		{"sender identity key", tamper(bare, func(s *Signed) { s.Sender = ss58Encode(42, make([]byte, 32)) }), "does not verify"},
		{"sender one byte", tamper(bare, func(s *Signed) { s.Sender = base58Encode([]byte{0x40}) }), "too short"},
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

// ss58Corrupt flips a bit of the checksum of an SS58 address.
func ss58Corrupt(t testing.TB, addr string) string {
	t.Helper()
	b, err := base58Decode(addr)
	require.NoError(t, err)
	b[len(b)-1] ^= 1
	return base58Encode(b)
}

func TestSS58PublicKey(t *testing.T) {
	key := newDotTestKey(t)
	for _, format := range []int{0, 2, 42, 63, 64, 255, 5000, 16383} {
		addr := ss58Encode(format, key.pub[:])
		got, err := ss58PublicKey(addr)
		require.NoError(t, err, "format %d", format)
		require.Equal(t, key.pub, got, "format %d", format)
	}
	// Known addresses: Alice's key in the generic (42) and Polkadot (0)
	// formats.
	alice, _ := hex.DecodeString("d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d")
	for _, addr := range []string{
		"5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
		"15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5",
	} {
		got, err := ss58PublicKey(addr)
		require.NoError(t, err, addr)
		require.Equal(t, alice, got[:], addr)
	}
}

func FuzzVerifySubstrate(f *testing.F) {
	bare, wrapped := dotFixtures(f)
	for _, s := range []Signed{bare, wrapped} {
		f.Add(s.Sender, s.ItemHash, s.Signature)
	}
	f.Add("", "", `{"curve":"sr25519","data":"0x"}`)
	f.Add("5", "x", `{"data":null}`)
	f.Fuzz(func(t *testing.T, sender, itemHash, sig string) {
		err := Verify(Signed{Chain: DOT, Sender: sender, Type: "POST", ItemHash: itemHash, Signature: sig})
		if err != nil && !errorIsAny(err, ErrInvalidSignature, ErrMissingSignature) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}

package chains

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/ChainSafe/go-schnorrkel"
	"golang.org/x/crypto/blake2b"
)

// substrateContext is the schnorrkel signing context every Substrate
// wallet uses for sr25519 signatures.
var substrateContext = []byte("substrate")

// ss58Prefix is the domain separator of SS58 address checksums.
var ss58Prefix = []byte("SS58PRE")

// DOT is Polkadot and the other Substrate chains.
const DOT Chain = "DOT"

func init() { register(VerifierFunc(verifySubstrate), DOT) }

// verifySubstrate checks a DOT signature: the JSON object
// {"curve": "sr25519", "data": "0x" + hex(64 bytes)} holding an sr25519
// (schnorrkel) signature of the buffer under the "substrate" signing context,
// by the public key that the sender's SS58 address encodes.
//
// Like the reference node (substrate-interface's Keypair.verify), a signature
// that does not verify over the bare buffer is checked again over
// "<Bytes>" + buffer + "</Bytes>", the wrapping the polkadot-js extension's
// signRaw applies before signing.
//
// Only sr25519 is accepted. The reference node merely logs a warning for
// another "curve" value and then checks sr25519 anyway, so a valid sr25519
// signature labelled with another curve is accepted there and rejected here.
func verifySubstrate(s Signed) error {
	fields, err := sigJSONObject(s.Signature)
	if err != nil {
		return invalid("substrate signature: %v", err)
	}
	curve, err := optionalJSONString(fields, "curve", "sr25519")
	if err != nil {
		return invalid("substrate signature: %v", err)
	}
	if curve != "sr25519" {
		return invalid("substrate signature: unsupported curve %q", truncate(curve))
	}
	data, err := requiredJSONString(fields, "data")
	if err != nil {
		return invalid("substrate signature: %v", err)
	}
	sigHex, found := strings.CutPrefix(data, "0x")
	if !found {
		return invalid("substrate signature: data lacks the 0x prefix")
	}
	if len(sigHex) != 2*schnorrkel.SignatureSize {
		return invalid("substrate signature: data is %d hex digits, want %d", len(sigHex), 2*schnorrkel.SignatureSize)
	}
	var raw [schnorrkel.SignatureSize]byte
	if _, err := hex.Decode(raw[:], []byte(sigHex)); err != nil {
		return invalid("substrate signature: decode hex: %v", err)
	}
	sig := new(schnorrkel.Signature)
	if err := sig.Decode(raw); err != nil {
		return invalid("substrate signature: %v", err)
	}

	pubBytes, err := ss58PublicKey(s.Sender)
	if err != nil {
		return invalid("substrate sender: %v", err)
	}
	pub, err := schnorrkel.NewPublicKey(pubBytes)
	if err != nil {
		return invalid("substrate sender: public key is not a ristretto255 point: %v", err)
	}

	buf := s.Buffer()
	if sr25519Verify(pub, sig, buf) {
		return nil
	}
	wrapped := make([]byte, 0, len(buf)+len("<Bytes></Bytes>"))
	wrapped = append(wrapped, "<Bytes>"...)
	wrapped = append(wrapped, buf...)
	wrapped = append(wrapped, "</Bytes>"...)
	if sr25519Verify(pub, sig, wrapped) {
		return nil
	}
	return invalid("substrate signature does not verify for %s", truncate(s.Sender))
}

// sr25519Verify reports whether sig is pub's schnorrkel signature of msg
// under the Substrate signing context.
func sr25519Verify(pub *schnorrkel.PublicKey, sig *schnorrkel.Signature, msg []byte) bool {
	ok, err := pub.Verify(sig, schnorrkel.NewSigningContext(substrateContext, msg))
	return err == nil && ok
}

// ss58PublicKey decodes an SS58 address holding a 32-byte public key:
// network prefix (one or two bytes) ‖ key ‖ 2-byte checksum, where the
// checksum is the start of blake2b-512("SS58PRE" ‖ prefix ‖ key). Any network
// prefix is accepted, as the reference node does; the prefix length follows
// substrate-interface (two bytes when bit 6 of the first byte is set), and the
// reserved formats 46 and 47 are refused.
func ss58PublicKey(addr string) ([32]byte, error) {
	var key [32]byte
	b, err := base58Decode(addr)
	if err != nil {
		return key, err
	}
	prefixLen, format := 1, int(b[0])
	if b[0]&0x40 != 0 {
		if len(b) < 2 {
			return key, errors.New("ss58: address too short")
		}
		prefixLen = 2
		format = int(b[0]&0x3f)<<2 | int(b[1]>>6) | int(b[1]&0x3f)<<8
	}
	if format == 46 || format == 47 {
		return key, errors.New("ss58: reserved address format")
	}
	if len(b) != prefixLen+len(key)+2 {
		return key, errors.New("ss58: address does not hold a 32-byte public key")
	}
	body, sum := b[:len(b)-2], b[len(b)-2:]
	checked := make([]byte, 0, len(ss58Prefix)+len(body))
	checked = append(checked, ss58Prefix...)
	checked = append(checked, body...)
	want := blake2b.Sum512(checked)
	if !bytes.Equal(want[:2], sum) {
		return key, errors.New("ss58: checksum mismatch")
	}
	copy(key[:], body[prefixLen:])
	return key, nil
}

// Interface guards
var _ Verifier = VerifierFunc(verifySubstrate)

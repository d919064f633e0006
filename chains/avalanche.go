package chains

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"strings"
)

// AVAX is the Avalanche chain, signed with the Avalanche wallet's message
// format.
const AVAX Chain = "AVAX"

func init() { register(VerifierFunc(verifyAvalanche), AVAX) }

// avalancheMessagePrefix starts every Avalanche signed message.
const avalancheMessagePrefix = "\x1aAvalanche Signed Message:\n"

// verifyAvalanche checks a base58 string of sig65 || checksum, where the
// checksum is the last 4 bytes of sha256(sig65) and sig65 is r || s || recid.
// The public key recovered from sig65 over sha256(prefix || uint32be(len) ||
// buffer) must give the sender "<chain>-avax1…": the sender's own text
// before its first "-" followed by the bech32 address with the hrp "avax"
// (hard-coded, as in the reference node).
func verifyAvalanche(s Signed) error {
	chainID, rest, ok := strings.Cut(s.Sender, "-")
	if !ok || !strings.Contains(rest, "1") {
		return invalid("sender %q is not an Avalanche address", truncate(s.Sender))
	}
	raw, err := pyBase58Decode(s.Signature)
	if err != nil {
		return invalid("signature: %v", err)
	}
	if len(raw) < 4 {
		return invalid("signature is %d bytes, too short for a checksum", len(raw))
	}
	sig, sum := raw[:len(raw)-4], raw[len(raw)-4:]
	if want := sha256Sum(sig); !bytes.Equal(sum, want[len(want)-4:]) {
		return invalid("signature checksum mismatch")
	}
	pub, err := recoverCompressed(avalancheDigest(s.Buffer()), sig)
	if err != nil {
		return invalid("%v", err)
	}
	if addr := chainID + "-" + bech32Address("avax", hash160(pub)); addr != s.Sender {
		return invalid("signed by %s, not by sender %q", addr, truncate(s.Sender))
	}
	return nil
}

// avalancheDigest returns sha256(prefix || uint32be(len(buf)) || buf), the
// digest an Avalanche wallet signs for buf.
func avalancheDigest(buf []byte) []byte {
	h := sha256.New()
	h.Write([]byte(avalancheMessagePrefix))
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(buf)))
	h.Write(n[:])
	h.Write(buf)
	return h.Sum(nil)
}

// Interface guards
var _ Verifier = VerifierFunc(verifyAvalanche)

package chains

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"strings"
)

// NULS2 is the NULS 2.0 chain, signed Electrum style.
const NULS2 Chain = "NULS2"

func init() { register(VerifierFunc(verifyNULS2), NULS2) }

// nulsMessagePrefix starts every NULS signed message.
const nulsMessagePrefix = "\x18NULS Signed Message:\n"

// nuls2Prefixes maps the NULS 2 chain ids the reference node knows (main
// net, test net) to their address prefixes.
var nuls2Prefixes = map[int16]string{1: "NULS", 2: "tNULS"}

// verifyNULS2 checks a base64 Electrum signature (27 + recid) || r || s over
// sha256(prefix || varint(len) || buffer). The chain id is read from the
// sender (int16 little endian in its first two decoded bytes) and the
// address derived from the recovered key for that chain must be the sender:
// prefix + "d" (main net) or "e" (test net) + base58(chain id || 0x01 ||
// ripemd160(sha256(compressed key)) || xor of those bytes).
func verifyNULS2(s Signed) error {
	chainID, err := nuls2ChainID(s.Sender)
	if err != nil {
		return err
	}
	prefix, ok := nuls2Prefixes[chainID]
	if !ok {
		return invalid("unsupported NULS chain id %d", chainID)
	}
	raw, err := pyBase64Decode(s.Signature, false)
	if err != nil {
		return invalid("decode signature: %v", err)
	}
	if len(raw) != 65 {
		return invalid("signature is %d bytes, want 65", len(raw))
	}
	if raw[0] < 27 || raw[0] > 30 {
		return invalid("signature header %d, want 27 to 30", raw[0])
	}
	sig := make([]byte, 65)
	copy(sig, raw[1:])
	sig[64] = raw[0] - 27
	pub, err := recoverCompressed(nulsDigest(s.Buffer()), sig)
	if err != nil {
		return invalid("%v", err)
	}
	if addr := nuls2Address(prefix, chainID, pub); addr != s.Sender {
		return invalid("signed by %s, not by sender %q", addr, truncate(s.Sender))
	}
	return nil
}

// nuls2ChainID reads the chain id of a NULS 2 address: the first two bytes,
// little endian, of the base58 text after the prefix and its letter.
func nuls2ChainID(sender string) (int16, error) {
	var tail string
	switch {
	case strings.HasPrefix(sender, "NULS") && len(sender) >= 5:
		tail = sender[5:]
	case strings.HasPrefix(sender, "tNULS") && len(sender) >= 6:
		tail = sender[6:]
	default:
		return 0, invalid("sender %q is not a NULS address", truncate(sender))
	}
	b, err := base58Decode(tail)
	if err != nil {
		return 0, invalid("sender: %v", err)
	}
	if len(b) < 3 {
		return 0, invalid("sender %q is too short", truncate(sender))
	}
	return int16(binary.LittleEndian.Uint16(b)), nil
}

// nuls2Address returns the NULS 2 address of a compressed public key.
func nuls2Address(prefix string, chainID int16, pub []byte) string {
	body := make([]byte, 0, 24)
	body = binary.LittleEndian.AppendUint16(body, uint16(chainID))
	body = append(body, 1) // address type: ordinary account
	body = append(body, hash160(pub)...)
	var x byte
	for _, c := range body {
		x ^= c
	}
	body = append(body, x)
	letter := "abcdefghijklmnopqrstuvwxyz"[len(prefix)-1]
	return prefix + string(letter) + base58Encode(body)
}

// nulsDigest returns sha256(prefix || varint(len(buf)) || buf), the digest a
// NULS wallet signs for buf.
func nulsDigest(buf []byte) []byte {
	var msg bytes.Buffer
	msg.WriteString(nulsMessagePrefix)
	msg.Write(nulsVarint(uint64(len(buf))))
	msg.Write(buf)
	d := sha256.Sum256(msg.Bytes())
	return d[:]
}

// nulsVarint encodes n as a Bitcoin-style variable-length integer: one byte
// below 253, else a 0xfd, 0xfe or 0xff marker and 2, 4 or 8 bytes little
// endian.
func nulsVarint(n uint64) []byte {
	switch {
	case n < 0xfd:
		return []byte{byte(n)}
	case n <= 0xffff:
		return binary.LittleEndian.AppendUint16([]byte{0xfd}, uint16(n))
	case n <= 0xffffffff:
		return binary.LittleEndian.AppendUint32([]byte{0xfe}, uint32(n))
	default:
		return binary.LittleEndian.AppendUint64([]byte{0xff}, n)
	}
}

// Interface guards
var _ Verifier = VerifierFunc(verifyNULS2)

package chains

import (
	"bytes"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ethereum/go-ethereum/crypto"
)

// The EVM chains. They all sign like Ethereum: EIP-191 personal_sign over the
// verification buffer. NEO is listed because the reference node verifies it
// with its EVM verifier.
const (
	ETH       Chain = "ETH"
	ETHERLINK Chain = "ETHERLINK"
	ARB       Chain = "ARB"
	BASE      Chain = "BASE"
	BLAST     Chain = "BLAST"
	BOB       Chain = "BOB"
	BSC       Chain = "BSC"
	CYBER     Chain = "CYBER"
	FRAX      Chain = "FRAX"
	HYPE      Chain = "HYPE"
	INK       Chain = "INK"
	LENS      Chain = "LENS"
	LINEA     Chain = "LINEA"
	LISK      Chain = "LISK"
	METIS     Chain = "METIS"
	MODE      Chain = "MODE"
	NEO       Chain = "NEO"
	OP        Chain = "OP"
	POL       Chain = "POL"
	SONIC     Chain = "SONIC"
	UNICHAIN  Chain = "UNICHAIN"
	WLD       Chain = "WLD"
	ZORA      Chain = "ZORA"
)

// evmChains lists every chain verified as EIP-191 personal_sign.
var evmChains = []Chain{
	ETH, ETHERLINK, ARB, BASE, BLAST, BOB, BSC, CYBER, FRAX, HYPE, INK, LENS,
	LINEA, LISK, METIS, MODE, NEO, OP, POL, SONIC, UNICHAIN, WLD, ZORA,
}

func init() { register(VerifierFunc(verifyEVM), evmChains...) }

// IsEVM reports whether c signs like Ethereum. Senders of these chains are
// hex addresses that the protocol compares case-insensitively.
func IsEVM(c Chain) bool {
	for _, e := range evmChains {
		if c == e {
			return true
		}
	}
	return false
}

// evmSignatureLen is the length of an r || s || v signature.
const evmSignatureLen = 65

// verifyEVM checks an EIP-191 personal_sign signature: the public key
// recovered from the signature over keccak256("\x19Ethereum Signed
// Message:\n" + len + buffer) must hash to the sender's address, compared
// case-insensitively (the reference node does not check EIP-55 checksums).
//
// It accepts what eth-account's recover_message accepts: hex with an optional
// 0x or 0X prefix, an odd number of digits left-padded with a zero (HexBytes),
// and v in {0, 1}, {27, 28} or EIP-155 style {35, 36, ...} (parity of v-35).
// Smart-contract wallets (ERC-1271, ERC-6492) need an RPC endpoint in the
// reference node and are not verified here.
func verifyEVM(s Signed) error {
	if !isEVMAddress(s.Sender) {
		return invalid("sender %q is not an EVM address", truncate(s.Sender))
	}
	buf := s.Buffer()
	if !utf8.Valid(buf) {
		return invalid("verification buffer is not valid UTF-8")
	}
	sig, err := decodeEVMSignature(s.Signature)
	if err != nil {
		return err
	}
	pub, err := crypto.Ecrecover(eip191Hash(buf), sig)
	if err != nil {
		return invalid("recover public key: %v", err)
	}
	addr := crypto.Keccak256(pub[1:])[12:]
	var want [20]byte
	if _, err := hex.Decode(want[:], []byte(s.Sender[2:])); err != nil || !bytes.Equal(want[:], addr) {
		return invalid("signed by 0x%x, not by sender %s", addr, s.Sender)
	}
	return nil
}

// eip191Hash is keccak256("\x19Ethereum Signed Message:\n" + len(msg) + msg),
// what accounts.TextHash computes, without its fmt.Sprintf and copy: this
// is on the hot path of every EVM message.
func eip191Hash(msg []byte) []byte {
	var n [20]byte
	return crypto.Keccak256([]byte("\x19Ethereum Signed Message:\n"), strconv.AppendInt(n[:0], int64(len(msg)), 10), msg)
}

// decodeEVMSignature parses an r || s || v hex signature and returns it with
// v normalised to the recovery id 0 or 1.
func decodeEVMSignature(str string) ([]byte, error) {
	if len(str) > 2*evmSignatureLen+2 {
		return nil, invalid("signature too long (%d chars)", len(str))
	}
	h := str
	if strings.HasPrefix(h, "0x") || strings.HasPrefix(h, "0X") {
		h = h[2:]
	}
	if len(h)%2 == 1 {
		h = "0" + h
	}
	sig, err := hex.DecodeString(h)
	if err != nil {
		return nil, invalid("decode signature hex: %v", err)
	}
	if len(sig) != evmSignatureLen {
		return nil, invalid("signature is %d bytes, want %d", len(sig), evmSignatureLen)
	}
	v := sig[64]
	switch {
	case v == 0 || v == 1:
	case v == 27 || v == 28:
		v -= 27
	case v >= 35:
		v = (v - 35) % 2
	default:
		return nil, invalid("signature v=%d, want 0, 1, 27, 28 or >= 35", sig[64])
	}
	sig[64] = v
	return sig, nil
}

// isEVMAddress reports whether s is "0x" (or "0X") followed by 40 hex
// digits in any case, the only sender form that can match a recovered
// address in the reference node.
func isEVMAddress(s string) bool {
	if len(s) != 42 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') {
		return false
	}
	for i := 2; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	return true
}

// isHexDigit reports whether c is an ASCII hex digit.
func isHexDigit(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// truncate shortens s for error messages, so that a hostile sender cannot
// make errors (and the logs that carry them) arbitrarily large.
func truncate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// Interface guards
var _ Verifier = VerifierFunc(verifyEVM)

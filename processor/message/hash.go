package message

import (
	"crypto/sha256"
	"encoding/hex"
	"unsafe"
)

// ItemType says where a message's content lives.
type ItemType string

// Item types. Only these lower-case spellings are accepted.
const (
	// ItemInline content travels in the message's item_content field.
	ItemInline ItemType = "inline"
	// ItemStorage content is stored by Aleph nodes under its sha256.
	ItemStorage ItemType = "storage"
	// ItemIPFS content is an IPFS object named by its CID.
	ItemIPFS ItemType = "ipfs"
)

// InferItemType returns the item type the reference node infers from a
// wire item_hash when the message has no item_content (pyaleph
// utils.item_type_from_hash, deliberately lenient): "Qm" and 44 to 46
// characters is a CIDv0, "bafy" and exactly 59 characters a CIDv1, exactly
// 64 characters a storage hash. It reports false for any other hash.
func InferItemType(hash string) (ItemType, bool) {
	switch {
	case len(hash) >= 44 && len(hash) <= 46 && hash[:2] == "Qm":
		return ItemIPFS, true
	case len(hash) == 59 && hash[:4] == "bafy":
		return ItemIPFS, true
	case len(hash) == 64:
		return ItemStorage, true
	}
	return "", false
}

// StrictItemType is aleph-message's ItemHash check, used for every hash
// inside content (STORE item_hash, FORGET targets, volume refs...): base58
// after "Qm" for a CIDv0, lower-case base32 after "bafy" for a CIDv1, and
// lower-case hex for a 64-character storage hash.
func StrictItemType(hash string) (ItemType, bool) {
	switch {
	case len(hash) >= 44 && len(hash) <= 46 && hash[:2] == "Qm" && allIn(hash[2:], isBase58):
		return ItemIPFS, true
	case len(hash) == 59 && hash[:4] == "bafy" && allIn(hash[4:], isBase32Lower):
		return ItemIPFS, true
	case len(hash) == 64 && allIn(hash, isHexLower):
		return ItemStorage, true
	}
	return "", false
}

func allIn(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func isHexLower(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

func isBase32Lower(c byte) bool { return 'a' <= c && c <= 'z' || '2' <= c && c <= '7' }

func isBase58(c byte) bool {
	switch {
	case '1' <= c && c <= '9':
		return true
	case 'A' <= c && c <= 'Z':
		return c != 'I' && c != 'O'
	case 'a' <= c && c <= 'z':
		return c != 'l'
	}
	return false
}

// IsHexSHA256 reports whether s is 64 lower-case hex characters.
func IsHexSHA256(s string) bool { return len(s) == 64 && allIn(s, isHexLower) }

// InlineHash returns the item hash of inline content: the lower-case hex
// sha256 of the exact UTF-8 bytes of the decoded item_content string. The
// content is never re-serialised.
func InlineHash(itemContent string) string {
	sum := sha256.Sum256([]byte(itemContent))
	return hex.EncodeToString(sum[:])
}

// inlineHashMatches compares sha256(itemContent) with a claimed hash
// without allocating.
func inlineHashMatches(itemContent, claimed string) bool {
	if len(claimed) != 64 {
		return false
	}
	// The bytes are only read: hash the string's memory without a copy.
	sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(itemContent), len(itemContent)))
	const digits = "0123456789abcdef"
	for i, b := range sum {
		if claimed[2*i] != digits[b>>4] || claimed[2*i+1] != digits[b&0x0f] {
			return false
		}
	}
	return true
}

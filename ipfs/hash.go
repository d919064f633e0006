package ipfs

import (
	"fmt"
	"strings"

	"github.com/ipfs/go-cid"
)

// Kind is the storage engine a hash belongs to.
type Kind int

// The two kinds of content hash. Do not reorder: values may be stored.
const (
	// KindStorage is a lowercase hex sha256 of the raw bytes ("storage"
	// item type).
	KindStorage Kind = iota + 1
	// KindIPFS is a CID, v0 (Qm…) or v1 in base32 (b…) ("ipfs" item type).
	KindIPFS
)

// String returns the protocol's name of the engine: "storage" or "ipfs".
func (k Kind) String() string {
	switch k {
	case KindStorage:
		return "storage"
	case KindIPFS:
		return "ipfs"
	default:
		return fmt.Sprintf("Kind(%d)", int(k))
	}
}

// ParseHash reports the kind of a content hash and, for CIDs, its version.
// It accepts 64 lowercase hex digits (sha256), CIDv0 and base32 CIDv1; the
// restriction to these alphabets also makes every accepted hash a safe file
// name.
func ParseHash(hash string) (kind Kind, cidVersion int, err error) {
	if len(hash) == 64 && isLowerHex(hash) {
		return KindStorage, 0, nil
	}
	if strings.HasPrefix(hash, "Qm") || (strings.HasPrefix(hash, "b") && isBase32Lower(hash[1:])) {
		c, err := cid.Decode(hash)
		if err == nil {
			return KindIPFS, int(c.Version()), nil
		}
		return 0, 0, fmt.Errorf("%w: %q: %w", ErrInvalidHash, hash, err)
	}
	return 0, 0, fmt.Errorf("%w: %q is neither a sha256 hex digest nor a CID", ErrInvalidHash, hash)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func isBase32Lower(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// sameCID reports whether two CID strings name the same content address.
func sameCID(a, b string) bool {
	ca, err := cid.Decode(a)
	if err != nil {
		return false
	}
	cb, err := cid.Decode(b)
	if err != nil {
		return false
	}
	return ca.Equals(cb)
}

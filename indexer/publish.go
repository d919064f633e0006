package indexer

import "time"

// Publication is one archive this node's publisher wrote for a chain:
// its CID and, once signed, the emitting transaction's hash.
type Publication struct {
	// Chain is the chain the archive is published on.
	Chain string
	// CID is the archive's CIDv0.
	CID string
	// TxHash is the transaction's hash ("" before it is signed).
	TxHash string
	// Messages counts the messages in the archive.
	Messages int
	// At is when the publication was recorded.
	At time.Time
}

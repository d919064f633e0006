package ipfs

import "errors"

// Sentinel errors of the content service. Callers branch on them with
// errors.Is; the wrapping error says which hash and which source.
var (
	// ErrNotFound means no source this node asked (the local store, kubo,
	// peers) has the content right now. The protocol treats missing content
	// as temporary: callers keep the message pending and retry later.
	ErrNotFound = errors.New("content not found")

	// ErrTooLarge means the content is larger than the caller's limit. It
	// is final for that limit.
	ErrTooLarge = errors.New("content too large")

	// ErrUnavailable means a source is down, misconfigured or timed out (for
	// example kubo is not configured, or not answering). Callers retry.
	ErrUnavailable = errors.New("content source unavailable")

	// ErrHashMismatch means bytes received from a peer do not hash to the
	// requested hash. Callers reject the message that names the hash.
	ErrHashMismatch = errors.New("content does not match its hash")

	// ErrInvalidHash means the string is neither a 64-hex sha256 storage hash
	// nor a CID.
	ErrInvalidHash = errors.New("invalid content hash")

	// ErrIsDirectory means a CID names a directory where file bytes were
	// asked for.
	ErrIsDirectory = errors.New("content is a directory")

	// ErrInvalidCAR means kubo refused a CAR archive given to ImportCAR
	// (malformed, incomplete, or not exactly one root).
	ErrInvalidCAR = errors.New("invalid CAR archive")
	// ErrInvalidJSON means a document given to AddJSON is not JSON.
	ErrInvalidJSON = errors.New("invalid JSON document")
)

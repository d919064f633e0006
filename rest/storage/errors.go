package storage

import "errors"

// Errors a Content implementation returns (wrapped) so that the routes can
// answer with the right status. cmd's adapter maps the content service's
// own errors onto them.
var (
	// ErrNotFound: the content is not on this node (404).
	ErrNotFound = errors.New("not found")
	// ErrTooLarge: the content or upload exceeds a limit (413).
	ErrTooLarge = errors.New("too large")
	// ErrUnavailable: a content source (kubo) is down (503).
	ErrUnavailable = errors.New("content source unavailable")
	// ErrDisabled: the operation needs kubo, which is not configured (403,
	// as the reference node answers when IPFS is disabled).
	ErrDisabled = errors.New("IPFS is disabled on this node")
	// ErrInvalid: a bad hash or a body that is not JSON (400/422).
	ErrInvalid = errors.New("invalid input")
	// ErrIsDirectory: a directory where file bytes were asked for.
	ErrIsDirectory = errors.New("content is a directory")
)

// ErrForbidden: the signature of an upload's STORE message does not
// verify (403).
var ErrForbidden = errors.New("invalid signature")

// errNoSubmitter: a signed upload reached routes built without a
// Submitter (501).
var errNoSubmitter = errors.New(signedUploadsNotImplemented)

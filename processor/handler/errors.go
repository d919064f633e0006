package handler

import "errors"

// Storage errors. Implementations of Storage wrap one of these (package
// ipfs maps its own sentinels to them), so that the pipeline can tell a
// missing file (retry later) from one that is too large (reject).
var (
	// ErrNotFound: the content is not (yet) available anywhere.
	ErrNotFound = errors.New("content not found")
	// ErrTooLarge: the content is larger than allowed.
	ErrTooLarge = errors.New("content too large")
	// ErrUnavailable: the storage could not be reached.
	ErrUnavailable = errors.New("storage unavailable")
)

// ErrNoStorage is returned by NoStorage.
var ErrNoStorage = errors.New("no storage configured")

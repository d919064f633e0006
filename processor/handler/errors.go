package handler

import (
	"errors"
	"time"
)

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

// ForgottenTargetError is returned by a check when the message depends on
// a message that a FORGET removed: an amend of a forgotten post. The
// protocol forgets an amend with its original, so the pipeline settles
// such a message as forgotten by the same FORGETs, at once, instead of
// retrying it until it is rejected (which is what the reference node does
// when the FORGET came first; a bulk import in time order forgets it).
type ForgottenTargetError struct {
	// Target is the forgotten message depended on.
	Target string
	// By are the FORGET messages that removed Target.
	By []string
	// At is when Target was forgotten (its first FORGET's time).
	At time.Time
}

// Error implements error.
func (e *ForgottenTargetError) Error() string {
	return "target " + e.Target + " is forgotten"
}

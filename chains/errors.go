package chains

import "errors"

// ErrInvalidSignature means the signature could not be decoded or does not
// verify for the message's sender. Messages failing this way are rejected with
// the protocol's INVALID_SIGNATURE code.
var ErrInvalidSignature = errors.New("invalid signature")

// ErrMissingSignature means the message carries no signature at all.
var ErrMissingSignature = errors.New("missing signature")

// ErrUnsupportedChain means no verifier is registered for the message's chain.
// The protocol rejects such messages as INVALID_FORMAT ("unknown chain for
// validation").
var ErrUnsupportedChain = errors.New("unsupported chain")

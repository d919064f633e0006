package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Submitter takes a message into the processing pipeline through the same
// validation as every other intake (implemented by the processor, wired in
// cmd). Submit returns the item hash once the message is queued; an
// invalid message is an *InvalidMessageError.
type Submitter interface {
	Submit(ctx context.Context, raw json.RawMessage) (itemHash string, err error)
}

// SubmitterFunc adapts a function to Submitter.
type SubmitterFunc func(ctx context.Context, raw json.RawMessage) (string, error)

// Submit calls f.
func (f SubmitterFunc) Submit(ctx context.Context, raw json.RawMessage) (string, error) {
	return f(ctx, raw)
}

// InvalidMessageError is a submission refused by validation, with its
// protocol error code.
type InvalidMessageError struct {
	// Code is the protocol error code (rejected_messages.error_code).
	Code int
	// Name is the code's protocol name, e.g. INVALID_SIGNATURE.
	Name string
	// Reason says what is wrong.
	Reason string
}

// Error implements error.
func (e *InvalidMessageError) Error() string {
	return fmt.Sprintf("invalid message (error code %d): %s", e.Code, e.Reason)
}

// CodeInvalidMessage: submitMessage refused the message; extensions carry
// the protocol errorCode.
const CodeInvalidMessage = "INVALID_MESSAGE"

// CodeUnavailable: the feature is not configured on this node.
const CodeUnavailable = "UNAVAILABLE"

// submitError maps a Submitter error to a GraphQL error.
func submitError(err error) error {
	var inv *InvalidMessageError
	if errors.As(err, &inv) {
		e := userError(CodeInvalidMessage, "%s", inv.Reason)
		e.Extensions["errorCode"] = inv.Code
		if inv.Name != "" {
			e.Extensions["errorName"] = inv.Name
		}
		return e
	}
	return err
}

// Interface guards
var _ Submitter = SubmitterFunc(nil)

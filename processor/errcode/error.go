package errcode

import (
	"errors"
	"fmt"
	"strings"
)

// Error is a processing failure carrying its protocol code. The pipeline
// branches on Kind, stores Code and Details in rejected_messages, and logs
// Error().
type Error struct {
	// Code is the protocol error code.
	Code Code
	// Field is the JSON path of the offending field, e.g.
	// "content.volumes[2].size_mib"; empty when the failure is not about
	// one field.
	Field string
	// Detail is the human reason, lower-case, without the field name.
	Detail string
	// Details is structured data for rejected_messages.details (for
	// example the pydantic-style list of validation issues, or the
	// required and available balances); nil when there is none.
	Details any
	// Err is the underlying cause, if any.
	Err error
	// Awaits is, for a MissingDependency code, what the message waits
	// for: an item hash, or an aggregate as AggregateKey names it. The
	// pipeline retries the message as soon as it processes that
	// dependency; empty when unknown (the message then waits for its
	// back-off).
	Awaits string
}

// Error formats the code, the field and the reason.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Code.String())
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Kind returns the kind of the error's code.
func (e *Error) Kind() Kind { return e.Code.Kind() }

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, errcode.New(errcode.InvalidFormat, "")) matches any
// INVALID_FORMAT failure.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Field == "" && t.Detail == ""
}

// New returns an error with a code and a reason.
func New(code Code, detail string) *Error {
	return &Error{Code: code, Detail: detail}
}

// Newf returns an error with a code and a formatted reason.
func Newf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// Awaiting sets e.Awaits and returns e.
func (e *Error) Awaiting(key string) *Error {
	e.Awaits = key
	return e
}

// AggregateKey is the Awaits key of the aggregate key of address: a
// FORGET of an aggregate that is not known yet waits for it.
func AggregateKey(address, key string) string {
	return AggregatePrefix + address + "/" + key
}

// AggregatePrefix starts every AggregateKey.
const AggregatePrefix = "aggregate:"

// AwaitsOf returns what err says its message waits for: the Awaits of the
// first *Error in err's chain, for a MissingDependency code.
func AwaitsOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Kind() == MissingDependency {
		return e.Awaits
	}
	return ""
}

// Field returns an error about one field (a JSON path) with a reason.
func Field(code Code, field, detail string) *Error {
	return &Error{Code: code, Field: field, Detail: detail}
}

// Wrap returns an error with a code wrapping err. It returns nil when err
// is nil.
func Wrap(code Code, err error, detail string) *Error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Detail: detail, Err: err}
}

// CodeOf returns the code of the first *Error in err's chain.
func CodeOf(err error) (Code, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Code, true
	}
	return 0, false
}

// KindOf returns the kind of err: the kind of its code when err carries
// one, Transient otherwise (an unclassified error is an internal error,
// which is retried).
func KindOf(err error) Kind {
	if c, ok := CodeOf(err); ok {
		return c.Kind()
	}
	return Transient
}

// Interface guards
var _ error = (*Error)(nil)

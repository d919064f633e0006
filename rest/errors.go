package rest

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/alephql/alephql/database"
)

// Codes of the answers a client may retry, in Error.Code: the same as
// GraphQL's extensions.code for the same fault.
const (
	// CodeServiceUnavailable: the database cannot be reached (down or
	// restarting). Answered 503 with Retry-After.
	CodeServiceUnavailable = "SERVICE_UNAVAILABLE"
	// CodeInsufficientStorage: the disk is full; nothing was written.
	// Answered 507 with Retry-After.
	CodeInsufficientStorage = "INSUFFICIENT_STORAGE"
)

// retryAfter is the Retry-After of 503 and 507 answers, in seconds.
const retryAfter = "1"

// Error is an answer other than 200: its status and JSON body
// {"error": Message, "param": Param (if any), "code": Code (if any)}.
type Error struct {
	Status  int    `json:"-"`
	Message string `json:"error"`
	// Code is set on faults of the node rather than the request
	// (CodeServiceUnavailable, CodeInsufficientStorage).
	Code string `json:"code,omitempty"`
	// Param names the parameter at fault (422).
	Param string `json:"param,omitempty"`
}

// Error implements error.
func (e *Error) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("%s: %s", e.Param, e.Message)
	}
	return e.Message
}

// badParam is a 422 naming the parameter.
func badParam(param, format string, args ...any) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Param: param, Message: fmt.Sprintf(format, args...)}
}

// errorf is an error with a status.
func errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// fail writes err: an *Error as is, a body over the limit as 413, the
// database unreachable as 503 and the disk full as 507 (both with
// Retry-After and a code, as GraphQL answers them), anything else as 500
// (logged, not shown).
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &e):
	case errors.As(err, &tooLarge):
		e = errorf(http.StatusRequestEntityTooLarge, "request body over %d bytes", tooLarge.Limit)
	case database.IsUnavailable(err):
		a.log.WarnContext(r.Context(), "rest: database unavailable", "path", r.URL.Path, "err", err)
		e = &Error{Status: http.StatusServiceUnavailable, Code: CodeServiceUnavailable, Message: "the database is unavailable: retry later"}
	case database.IsFull(err):
		a.log.ErrorContext(r.Context(), "rest: disk full", "path", r.URL.Path, "err", err)
		e = &Error{Status: http.StatusInsufficientStorage, Code: CodeInsufficientStorage, Message: "the node's disk is full: retry later"}
	case r.Context().Err() != nil:
		return // the client left
	default:
		a.log.ErrorContext(r.Context(), "rest route failed", "path", r.URL.Path, "err", err)
		e = errorf(http.StatusInternalServerError, "internal error")
	}
	if e.Status == http.StatusServiceUnavailable || e.Status == http.StatusInsufficientStorage {
		w.Header().Set("Retry-After", retryAfter)
	}
	_ = writeJSON(w, e.Status, e)
}

package rest

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an answer other than 200: its status and JSON body
// {"error": Message, "param": Param (if any)}.
type Error struct {
	Status  int    `json:"-"`
	Message string `json:"error"`
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

// fail writes err: an *Error as is, a body over the limit as 413, anything
// else as 500 (logged, not shown).
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &e):
	case errors.As(err, &tooLarge):
		e = errorf(http.StatusRequestEntityTooLarge, "request body over %d bytes", tooLarge.Limit)
	case r.Context().Err() != nil:
		return // the client left
	default:
		a.log.ErrorContext(r.Context(), "rest route failed", "path", r.URL.Path, "err", err)
		e = errorf(http.StatusInternalServerError, "internal error")
	}
	_ = writeJSON(w, e.Status, e)
}

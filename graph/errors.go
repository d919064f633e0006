package graph

import (
	"context"
	"errors"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/ent"
)

// Error codes set in extensions.code. Clients branch on these, never on
// messages.
const (
	// CodeBadUserInput: an argument is invalid (e.g. a page too large).
	CodeBadUserInput = "BAD_USER_INPUT"
	// CodeNotFound: the object asked for does not exist.
	CodeNotFound = "NOT_FOUND"
	// CodeQueryTooDeep: the query nests selections deeper than allowed.
	CodeQueryTooDeep = "QUERY_TOO_DEEP"
	// CodeQueryTooComplex: the query's complexity is over the limit (gqlgen's code).
	CodeQueryTooComplex = "COMPLEXITY_LIMIT_EXCEEDED"
	// CodeBadRequest: the HTTP request is not a GraphQL request: its body
	// is not a JSON object, or its method is not GET or POST.
	CodeBadRequest = "BAD_REQUEST"
	// CodeUnsupportedMediaType: a POST body is not application/json.
	CodeUnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"
	// CodeRequestTooLarge: the request body is over the size limit.
	CodeRequestTooLarge = "REQUEST_TOO_LARGE"
	// CodeTimeout: the request ran out of time.
	CodeTimeout = "TIMEOUT"
	// CodeServiceUnavailable: the database cannot be reached (down or
	// restarting); the request may be retried. Answered with HTTP 503 and
	// Retry-After over POST.
	CodeServiceUnavailable = "SERVICE_UNAVAILABLE"
	// CodeInsufficientStorage: the node's disk is full; nothing was
	// written and the request may be retried once space is freed.
	// Answered with HTTP 507 and Retry-After over POST.
	CodeInsufficientStorage = "INSUFFICIENT_STORAGE"
	// CodeInternal: the server failed; details are in its logs only.
	CodeInternal = "INTERNAL_SERVER_ERROR"
)

// userError returns a GraphQL error with a code, for the error presenter to
// pass through as is.
func userError(code, format string, args ...any) *gqlerror.Error {
	return &gqlerror.Error{
		Message:    fmt.Sprintf(format, args...),
		Extensions: map[string]any{"code": code},
	}
}

// presentError gives every error an extensions.code and hides internal
// details: errors that are not the client's doing are logged and answered
// with a generic message.
func (h *handlerState) presentError(ctx context.Context, err error) *gqlerror.Error {
	var gqlErr *gqlerror.Error
	if errors.As(err, &gqlErr) && gqlErr.Extensions["code"] != nil {
		out := graphql.DefaultErrorPresenter(ctx, err)
		return out
	}
	out := graphql.DefaultErrorPresenter(ctx, err)
	switch {
	case ent.IsNotFound(err):
		out.Message = "not found"
		setCode(out, CodeNotFound)
	case errors.Is(err, context.DeadlineExceeded):
		out.Message = "request timed out"
		setCode(out, CodeTimeout)
	case errors.Is(err, context.Canceled):
		out.Message = "request canceled"
		setCode(out, CodeTimeout)
	case ent.IsValidationError(err):
		setCode(out, CodeBadUserInput)
	case database.IsUnavailable(err):
		h.log.WarnContext(ctx, "graphql: database unavailable", "path", out.Path.String(), "err", err)
		out.Message = "the database is unavailable: retry later"
		setCode(out, CodeServiceUnavailable)
	case database.IsFull(err):
		h.log.ErrorContext(ctx, "graphql: disk full", "path", out.Path.String(), "err", err)
		out.Message = "the node's disk is full: retry later"
		setCode(out, CodeInsufficientStorage)
	default:
		h.log.ErrorContext(ctx, "graphql resolver failed", "path", out.Path.String(), "err", err)
		out.Message = "internal error"
		setCode(out, CodeInternal)
	}
	return out
}

func setCode(e *gqlerror.Error, code string) {
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	e.Extensions["code"] = code
}

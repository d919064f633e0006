package graph

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// postTransport is gqlgen's POST transport with a leaner write of the
// answers of valid operations: the response's data, already compact JSON
// made by the schema's marshalers (the JSON scalar compacts its value), is
// written as is instead of being scanned and compacted again by
// encoding/json, which cost a tenth of a feed request's CPU. Requests
// that fail before execution (unreadable body, malformed JSON, invalid
// operation) and those asking for application/graphql-response+json go
// through gqlgen's POST unchanged, so their answers and statuses are
// gqlgen's.
type postTransport struct{ transport.POST }

// Do implements graphql.Transport. A body that is not one JSON object
// (empty, truncated, not JSON, an array) is answered 400 with code
// BAD_REQUEST.
func (t postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	start := graphql.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
		t.POST.Do(w, r, exec)
		return
	}
	asPOST := func() {
		r.Body = io.NopCloser(bytes.NewReader(body))
		t.POST.Do(w, r, exec)
	}
	var params graphql.RawParams
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&params); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "the request body is not a JSON object: "+err.Error())
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "application/graphql-response+json") {
		asPOST()
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	ctx := r.Context()
	rc, opErr := exec.CreateOperationContext(ctx, &params)
	if opErr != nil {
		asPOST() // validates again: errors only
		return
	}
	w.Header().Set("Content-Type", "application/json")
	responses, ctx := exec.DispatchOperation(ctx, rc)
	resp := responses(ctx)
	if status := retryStatus(resp); status != 0 {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(status)
	}
	_, _ = w.Write(appendResponse(nil, resp))
}

// retryStatus is the HTTP status of an answer that failed because of the
// node rather than the request, which clients and proxies retry: 503 when
// the database is unavailable, 507 when the disk is full; 0 otherwise.
func retryStatus(resp *graphql.Response) int {
	if resp == nil {
		return 0
	}
	for _, e := range resp.Errors {
		switch e.Extensions["code"] {
		case CodeServiceUnavailable:
			return http.StatusServiceUnavailable
		case CodeInsufficientStorage:
			return http.StatusInsufficientStorage
		}
	}
	return 0
}

// appendResponse appends resp as encoding/json writes a graphql.Response,
// with its data as is.
func appendResponse(b []byte, resp *graphql.Response) []byte {
	if resp == nil || resp.Label != "" || resp.Path != nil || resp.HasNext != nil || len(resp.Data) == 0 {
		return appendMarshaled(b, resp)
	}
	var errs, ext []byte
	var err error
	if len(resp.Errors) > 0 {
		if errs, err = json.Marshal(resp.Errors); err != nil {
			return appendMarshaled(b, resp)
		}
	}
	if len(resp.Extensions) > 0 {
		if ext, err = marshalExtensions(resp.Extensions); err != nil {
			return appendMarshaled(b, resp)
		}
	}
	b = append(b, '{')
	if errs != nil {
		b = append(b, `"errors":`...)
		b = append(b, errs...)
		b = append(b, ',')
	}
	b = append(b, `"data":`...)
	b = append(b, resp.Data...)
	if ext != nil {
		b = append(b, `,"extensions":`...)
		b = append(b, ext...)
	}
	return append(b, '}')
}

// marshalExtensions is json.Marshal(ext), without encoding/json for the
// common case of one extension whose value is already JSON (Freshness's,
// on every response and every subscription event).
func marshalExtensions(ext map[string]any) ([]byte, error) {
	if len(ext) == 1 {
		for k, v := range ext {
			raw, ok := v.(json.RawMessage)
			if ok && plainKey(k) && json.Valid(raw) {
				b := make([]byte, 0, len(k)+len(raw)+5)
				b = append(append(append(b, `{"`...), k...), `":`...)
				return append(append(b, raw...), '}'), nil
			}
		}
	}
	return json.Marshal(ext)
}

// plainKey reports whether k needs no escaping in JSON.
func plainKey(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return k != ""
}

// appendMarshaled appends resp as encoding/json writes it.
func appendMarshaled(b []byte, resp *graphql.Response) []byte {
	out, err := json.Marshal(resp)
	if err != nil {
		return append(b, `{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}],"data":null}`...)
	}
	return append(b, out...)
}

// errReader fails reads with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// Interface guards
var _ graphql.Transport = postTransport{}

// Package scalar implements the custom GraphQL scalars of alephql's schema.
package scalar

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// MarshalJSON writes a raw JSON document as the GraphQL JSON scalar,
// compacted, so that the response is compact JSON without a second pass.
// An empty document, or one that is not JSON, is written as null.
func MarshalJSON(v json.RawMessage) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		if len(v) == 0 {
			_, _ = io.WriteString(w, "null")
			return
		}
		var b bytes.Buffer
		b.Grow(len(v))
		if err := json.Compact(&b, v); err != nil {
			_, _ = io.WriteString(w, "null")
			return
		}
		_, _ = w.Write(b.Bytes())
	})
}

// UnmarshalJSON reads the GraphQL JSON scalar (any JSON value) into a raw
// JSON document.
func UnmarshalJSON(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("json scalar: %w", err)
	}
	return b, nil
}

// MarshalTime writes a time as an RFC 3339 string in UTC with microsecond
// precision, the precision the node stores.
func MarshalTime(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(t.UTC().Format("2006-01-02T15:04:05.000000Z07:00")))
	})
}

// UnmarshalTime reads an RFC 3339 time.
func UnmarshalTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, fmt.Errorf("time must be an RFC 3339 string, got %T", v)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time must be an RFC 3339 string: %w", err)
	}
	return t.UTC(), nil
}

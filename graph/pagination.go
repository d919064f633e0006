package graph

import (
	"context"

	"github.com/alephql/alephql/ent/message"
)

// page checks first/last against the limits and applies the default page
// size when neither is given.
func (r *Resolver) page(first, last *int) (*int, *int, error) {
	for _, n := range []*int{first, last} {
		if n == nil {
			continue
		}
		if *n < 0 {
			return nil, nil, userError(CodeBadUserInput, "first and last must not be negative")
		}
		if *n > r.limits.MaxPageSize {
			return nil, nil, userError(CodeBadUserInput, "page size %d exceeds the maximum of %d", *n, r.limits.MaxPageSize)
		}
	}
	if first == nil && last == nil {
		d := r.limits.DefaultPageSize
		first = &d
	}
	return first, last, nil
}

// nodeType resolves the table of a global id. Messages are the only Node
// type so far and their id is the item hash.
func nodeType(context.Context, string) (string, error) {
	return message.Table, nil
}

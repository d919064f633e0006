package graph

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/alephql/alephql/cache"
)

// feedCache caches whole answers of feed queries: operations whose root
// fields are all `messages` (filtered by channels or senders or not at
// all, in time order), `posts` or `aggregates` of given owners, selecting
// only fields read from those rows (see feedFields, postListFields,
// aggregateListFields). Such an answer depends only on the messages of
// those channels or senders (and their counters) and on the owners'
// posts and aggregates, so it is cached with those dependencies, which
// the hub bumps for every outbox event of a message (cache.ListDeps, and
// the post and aggregate owner keys of cache.EventKeys). With the checks of
// cachedBatch (the hub has applied the whole outbox before an entry is
// trusted), a read after a write never sees a stale answer. A hit skips
// execution altogether; the response interceptors outside it (the
// freshness extension) still run.
type feedCache struct{ r *Resolver }

func newFeedCache(r *Resolver) feedCache { return feedCache{r: r} }

// ExtensionName implements graphql.HandlerExtension.
func (feedCache) ExtensionName() string { return "FeedCache" }

// Validate implements graphql.HandlerExtension.
func (feedCache) Validate(graphql.ExecutableSchema) error { return nil }

// maxAnswerBytes bounds the answers cached: the in-process cache counts
// entries, not bytes, and shares them with rows (a 20-message feed page is
// about 10 KiB).
const maxAnswerBytes = 32 << 10

// InterceptResponse implements graphql.ResponseInterceptor.
func (c feedCache) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	oc := graphql.GetOperationContext(ctx)
	deps, ok := feedDeps(oc)
	store := c.r.store
	if !ok || store == nil {
		return next(ctx)
	}
	key, err := feedCacheKey(oc)
	if err != nil {
		return next(ctx)
	}
	pos, err := store.Begin(ctx)
	if err != nil {
		return next(ctx)
	}
	if hit, ok := store.Get(ctx, pos, "feed", key); ok {
		return &graphql.Response{Data: hit}
	}
	resp := next(ctx)
	if resp == nil || len(resp.Errors) > 0 || len(resp.Data) == 0 || len(resp.Extensions) > 0 || len(resp.Data) > maxAnswerBytes {
		return resp
	}
	store.Put(ctx, pos, key, resp.Data, deps)
	return resp
}

// feedCacheKey is the cache key of an operation: its document, operation
// name and variables.
func feedCacheKey(oc *graphql.OperationContext) (string, error) {
	vars, err := json.Marshal(oc.Variables) // map keys sorted
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte(oc.RawQuery))
	h.Write([]byte{0})
	h.Write([]byte(oc.OperationName))
	h.Write([]byte{0})
	h.Write(vars)
	return "q:" + hex.EncodeToString(h.Sum(nil)), nil
}

// feedDeps returns the dependencies of a cacheable operation, and false
// for any other. Each root field must be cacheable: messages (filtered by
// channels and senders or not at all, in time order), posts and
// aggregates of given owners.
func feedDeps(oc *graphql.OperationContext) ([]string, bool) {
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return nil, false
	}
	roots, ok := fieldsOf(oc, oc.Operation.SelectionSet)
	if !ok || len(roots) == 0 {
		return nil, false
	}
	var deps []string
	for _, root := range roots {
		var d []string
		switch root.Name {
		case "messages":
			d, ok = messagesDeps(oc, root)
		case "posts":
			d, ok = ownedDeps(oc, root, postListFields, cache.PostDep)
		case "aggregates":
			d, ok = ownedDeps(oc, root, aggregateListFields, cache.AggregateDep)
		default:
			ok = false
		}
		if !ok {
			return nil, false
		}
		deps = append(deps, d...)
	}
	return deps, true
}

// filterOf returns a root field's filter argument restricted to the
// given keys, and false if it uses any other.
func filterOf(args map[string]any, keys ...string) (map[string][]string, bool) {
	out := map[string][]string{}
	f, _ := args["filter"].(map[string]any)
	for k, v := range f {
		if v == nil {
			continue
		}
		allowed := false
		for _, a := range keys {
			allowed = allowed || a == k
		}
		vs, isList := v.([]any)
		if !allowed || !isList {
			return nil, false
		}
		for _, x := range vs {
			s, isString := x.(string)
			if !isString {
				return nil, false
			}
			out[k] = append(out[k], s)
		}
	}
	return out, true
}

// messagesDeps: a messages page depends on the messages of its channels
// (or of its senders, or on any message); every outbox event of a
// message bumps its channel's, its sender's and the any-message key.
func messagesDeps(oc *graphql.OperationContext, root *ast.Field) ([]string, bool) {
	args := root.ArgumentMap(oc.Variables)
	if o, _ := args["orderBy"].(map[string]any); o != nil && o["field"] != "TIME" {
		return nil, false
	}
	f, ok := filterOf(args, "channels", "senders")
	if !ok {
		return nil, false
	}
	counted := false
	if !selectionOK(oc, root.SelectionSet, connectionFields, &counted) {
		return nil, false
	}
	// Counts other than one counter are bounded COUNT(*)s, maybe estimates.
	if counted && (len(f["channels"]) > 1 || len(f["senders"]) > 1 || len(f["channels"])+len(f["senders"]) > 1) {
		return nil, false
	}
	var deps []string
	switch {
	case len(f["channels"]) > 0:
		for _, ch := range f["channels"] {
			deps = append(deps, cache.ChannelDep(ch))
		}
	case len(f["senders"]) > 0:
		for _, s := range f["senders"] {
			deps = append(deps, cache.SenderDep(s))
		}
	default:
		deps = []string{cache.AnyMessageDep}
	}
	return deps, true
}

// ownedDeps: a posts or aggregates page of given owners depends on the
// owners' keys, which the hub bumps for every outbox event of a POST or
// AGGREGATE message of the owner (amends, forgets included). No count:
// those are bounded COUNT(*)s.
func ownedDeps(oc *graphql.OperationContext, root *ast.Field, fields selectable, dep func(string) string) ([]string, bool) {
	f, ok := filterOf(root.ArgumentMap(oc.Variables), "owners")
	if !ok || len(f["owners"]) == 0 {
		return nil, false
	}
	counted := false
	if !selectionOK(oc, root.SelectionSet, fields, &counted) || counted {
		return nil, false
	}
	deps := make([]string, len(f["owners"]))
	for i, o := range f["owners"] {
		deps[i] = dep(o)
	}
	return deps, true
}

// selectable is a whitelist of fields: nil for a leaf, else the fields
// allowed below.
type selectable map[string]selectable

// feedFields are the Message fields read from the message row alone.
var feedFields = selectable{
	"id": nil, "hash": nil, "type": nil, "chain": nil, "sender": nil, "signature": nil, "itemType": nil,
	"itemContent": nil, "content": nil, "time": nil, "channel": nil, "size": nil, "owner": nil,
	"contentType": nil, "contentRef": nil, "contentKey": nil, "contentItemHash": nil, "paymentType": nil,
	"tags": nil, "receptionTime": nil, "firstConfirmedAt": nil, "firstConfirmedHeight": nil,
}

var pageInfoFields = selectable{"hasNextPage": nil, "hasPreviousPage": nil, "startCursor": nil, "endCursor": nil}

var connectionFields = selectable{
	"totalCount": nil, "countIsExact": nil,
	"edges":    selectable{"cursor": nil, "node": feedFields},
	"pageInfo": pageInfoFields,
}

// postListFields are a merged post's fields read from its row and its
// latest amend's.
var postListFields = selectable{
	"edges": selectable{"cursor": nil, "node": selectable{
		"id": nil, "hash": nil, "owner": nil, "type": nil, "ref": nil, "channel": nil, "content": nil, "tags": nil,
		"createdAt": nil, "lastUpdated": nil, "latestAmendHash": nil,
	}},
	"pageInfo": pageInfoFields,
}

// aggregateListFields are an aggregate's own fields.
var aggregateListFields = selectable{
	"edges": selectable{"cursor": nil, "node": selectable{
		"id": nil, "owner": nil, "key": nil, "content": nil, "createdAt": nil, "lastUpdated": nil,
		"lastRevisionHash": nil, "elementCount": nil,
	}},
	"pageInfo": pageInfoFields,
}

// selectionOK reports whether set selects only allowed fields, and notes
// whether it counts.
func selectionOK(oc *graphql.OperationContext, set ast.SelectionSet, allowed selectable, counted *bool) bool {
	fields, ok := fieldsOf(oc, set)
	if !ok {
		return false
	}
	for _, f := range fields {
		if f.Name == "__typename" {
			continue
		}
		sub, ok := allowed[f.Name]
		if !ok {
			return false
		}
		if f.Name == "totalCount" || f.Name == "countIsExact" {
			*counted = true
		}
		if sub != nil && !selectionOK(oc, f.SelectionSet, sub, counted) {
			return false
		}
	}
	return true
}

// fieldsOf flattens a selection set through fragments; false when a
// directive other than @skip/@include appears (e.g. @defer).
func fieldsOf(oc *graphql.OperationContext, set ast.SelectionSet) ([]*ast.Field, bool) {
	var out []*ast.Field
	plain := func(ds ast.DirectiveList) bool {
		for _, d := range ds {
			if d.Name != "skip" && d.Name != "include" {
				return false
			}
		}
		return true
	}
	for _, s := range set {
		var sub ast.SelectionSet
		switch s := s.(type) {
		case *ast.Field:
			if !plain(s.Directives) {
				return nil, false
			}
			out = append(out, s)
			continue
		case *ast.InlineFragment:
			if !plain(s.Directives) {
				return nil, false
			}
			sub = s.SelectionSet
		case *ast.FragmentSpread:
			if !plain(s.Directives) {
				return nil, false
			}
			fr := oc.Doc.Fragments.ForName(s.Name)
			if fr == nil {
				return nil, false
			}
			sub = fr.SelectionSet
		default:
			return nil, false
		}
		fs, ok := fieldsOf(oc, sub)
		if !ok {
			return nil, false
		}
		out = append(out, fs...)
	}
	return out, true
}

// Interface guards
var (
	_ graphql.HandlerExtension    = feedCache{}
	_ graphql.ResponseInterceptor = feedCache{}
)

package graph

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/graph/cache"
)

// feedCache caches whole answers of message-feed queries: an operation
// whose only root field is `messages`, filtered by channels or not at all,
// in time order, selecting only fields of the message rows themselves and
// of the connection (see feedFields). Such an answer depends only on the
// messages of those channels (and their counters), so it is cached with
// one dependency per channel ("any message" without a filter), which the
// hub bumps for every outbox event of a message (listDeps): with the
// checks of cachedLookup (the hub has applied the whole outbox before an
// entry is trusted), a read after a write never sees a stale page. A hit
// skips execution altogether; the response interceptors outside it (the
// freshness extension) still run.
type feedCache struct {
	r   *Resolver
	end *endReader
}

func newFeedCache(r *Resolver) feedCache {
	return feedCache{r: r, end: newEndReader(r.opts.Hub.outboxEnd)}
}

// ExtensionName implements graphql.HandlerExtension.
func (feedCache) ExtensionName() string { return "FeedCache" }

// Validate implements graphql.HandlerExtension.
func (feedCache) Validate(graphql.ExecutableSchema) error { return nil }

// Dependency keys of message lists: one per channel, one for any message.
const anyMessageDep = "ml:*"

func channelDep(ch string) string { return "ml:c:" + ch }

// listDeps are the list dependencies an outbox event of m bumps.
func listDeps(m *ent.Message) []string {
	deps := []string{anyMessageDep}
	if m.Channel != nil {
		deps = append(deps, channelDep(*m.Channel))
	}
	return deps
}

// InterceptResponse implements graphql.ResponseInterceptor.
func (c feedCache) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	oc := graphql.GetOperationContext(ctx)
	deps, ok := feedDeps(oc)
	store, h := c.r.opts.Cache, c.r.opts.Hub
	if !ok || store == nil || h == nil {
		return next(ctx)
	}
	key, err := feedCacheKey(oc)
	if err != nil {
		return next(ctx)
	}
	applied := h.gens.Applied()
	end, err := c.end.End(ctx)
	if err != nil {
		return next(ctx)
	}
	ttl := h.cfg.CacheTTL
	if applied >= end {
		var hit json.RawMessage
		c.r.cacheGetMany(ctx, store, h.gens, ttl, "feed", []string{key}, func(k string) string { return k },
			func(_ string, v json.RawMessage) bool { hit = v; return true })
		if hit != nil {
			return &graphql.Response{Data: hit}
		}
	} else {
		c.r.opts.CacheMetrics.Add("feed", cache.Bypass, 1)
	}
	start := time.Now()
	resp := next(ctx)
	if resp == nil || len(resp.Errors) > 0 || len(resp.Data) == 0 || len(resp.Extensions) > 0 {
		return resp
	}
	b, err := cache.Entry{Seq: applied, Start: start.UnixNano(), Value: resp.Data, Deps: deps}.Encode()
	if err == nil {
		err = store.Set(ctx, key, b, ttl)
	}
	if err != nil {
		c.r.log.Warn("cache set", "key", key, "err", err)
	}
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
// for any other.
func feedDeps(oc *graphql.OperationContext) ([]string, bool) {
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return nil, false
	}
	roots, ok := fieldsOf(oc, oc.Operation.SelectionSet)
	if !ok || len(roots) != 1 || roots[0].Name != "messages" {
		return nil, false
	}
	root := roots[0]
	args := root.ArgumentMap(oc.Variables)
	if o, _ := args["orderBy"].(map[string]any); o != nil && o["field"] != "TIME" {
		return nil, false
	}
	var channels []any
	if f, _ := args["filter"].(map[string]any); f != nil {
		for k, v := range f {
			if k == "channels" {
				channels, _ = v.([]any)
				continue
			}
			if v != nil {
				return nil, false
			}
		}
	}
	counted := false
	if !selectionOK(oc, root.SelectionSet, connectionFields, &counted) {
		return nil, false
	}
	if counted && len(channels) > 1 {
		return nil, false // counted within a time bound, may be an estimate
	}
	if len(channels) == 0 {
		return []string{anyMessageDep}, true
	}
	deps := make([]string, 0, len(channels))
	for _, ch := range channels {
		s, ok := ch.(string)
		if !ok {
			return nil, false
		}
		deps = append(deps, channelDep(s))
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

var connectionFields = selectable{
	"totalCount": nil, "countIsExact": nil,
	"edges":    selectable{"cursor": nil, "node": feedFields},
	"pageInfo": selectable{"hasNextPage": nil, "hasPreviousPage": nil, "startCursor": nil, "endCursor": nil},
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

package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/graph/model"
)

// directSchema executes the common read queries without gqlgen's generic
// executor: a query whose root fields are messages, message, posts and
// aggregates selecting only plain fields of their rows (see the direct*
// field sets below) is resolved by the same resolvers, and its answer
// written in one pass by the same generated marshalers, in the order and
// with the aliases gqlgen uses, so the bytes are gqlgen's. What it saves
// is gqlgen's per-field machinery (a goroutine per list element and per
// resolver field, a field context per field and an intermediate value
// per field): about half of a feed page's CPU.
//
// Any other operation, a selection outside those sets, @defer, or any
// error while resolving (a bad argument, a failed count, a database
// error) runs the whole operation again through gqlgen, so errors,
// partial data and paths are gqlgen's own. Queries have no side effects:
// running one again is safe. Field middlewares (graphql.FieldInterceptor)
// do not see directly executed fields; the handler installs none.
type directSchema struct {
	graphql.ExecutableSchema
	es *executableSchema
}

// newDirectSchema wraps gqlgen's schema with direct execution.
func newDirectSchema(s graphql.ExecutableSchema) graphql.ExecutableSchema {
	es, ok := s.(*executableSchema)
	if !ok {
		return s
	}
	return directSchema{ExecutableSchema: s, es: es}
}

// errNotDirect makes an operation run through gqlgen.
var errNotDirect = errors.New("not directly executable")

// Exec implements graphql.ExecutableSchema.
func (s directSchema) Exec(ctx context.Context) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return s.ExecutableSchema.Exec(ctx)
	}
	roots := graphql.CollectFields(oc, oc.Operation.SelectionSet, queryImplementors)
	if !directRoots(oc, roots) {
		return s.ExecutableSchema.Exec(ctx)
	}
	var generic graphql.ResponseHandler
	done := false
	return func(ctx context.Context) *graphql.Response {
		if generic != nil {
			return generic(ctx)
		}
		if done {
			return nil
		}
		data, err := s.execQuery(ctx, oc, roots)
		if err != nil {
			generic = s.ExecutableSchema.Exec(ctx)
			return generic(ctx)
		}
		done = true
		return &graphql.Response{Data: data}
	}
}

// The fields each type may select to be executed directly. The list
// fields (edges) and objects (node, pageInfo) are checked recursively.
var (
	directMessageFields = fieldSet("__typename", "id", "hash", "type", "chain", "sender", "signature", "itemType", "itemContent",
		"content", "time", "channel", "size", "owner", "contentType", "contentRef", "contentKey", "contentItemHash",
		"paymentType", "tags", "receptionTime", "firstConfirmedAt", "firstConfirmedHeight")
	directPostFields = fieldSet("__typename", "id", "hash", "owner", "type", "ref", "channel", "content", "tags", "createdAt",
		"lastUpdated", "latestAmendHash")
	directAggregateFields = fieldSet("__typename", "id", "owner", "key", "content", "createdAt", "lastUpdated",
		"lastRevisionHash", "elementCount")
	directPageInfoFields   = fieldSet("__typename", "hasNextPage", "hasPreviousPage", "startCursor", "endCursor")
	directConnectionFields = fieldSet("__typename", "edges", "pageInfo", "totalCount", "countIsExact")
	directEdgeFields       = fieldSet("__typename", "cursor", "node")
)

func fieldSet(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// directRoots reports whether every root field can be executed directly.
func directRoots(oc *graphql.OperationContext, roots []graphql.CollectedField) bool {
	if len(roots) == 0 {
		return false
	}
	for _, f := range roots {
		if f.IsDeferred() {
			return false
		}
		var ok bool
		switch f.Name {
		case "__typename":
			ok = true
		case "message":
			ok = directObject(oc, f.Selections, messageImplementors, directMessageFields)
		case "messages":
			ok = directConnection(oc, f.Selections, messageConnectionImplementors, messageEdgeImplementors, messageImplementors, directMessageFields)
		case "posts":
			ok = directConnection(oc, f.Selections, postConnectionImplementors, postEdgeImplementors, postImplementors, directPostFields)
		case "aggregates":
			ok = directConnection(oc, f.Selections, aggregateConnectionImplementors, aggregateEdgeImplementors, aggregateImplementors, directAggregateFields)
		}
		if !ok {
			return false
		}
	}
	return true
}

func directObject(oc *graphql.OperationContext, sel ast.SelectionSet, implementors []string, allowed map[string]bool) bool {
	fields := graphql.CollectFields(oc, sel, implementors)
	for _, f := range fields {
		if !allowed[f.Name] || f.IsDeferred() {
			return false
		}
	}
	return len(fields) > 0
}

func directConnection(oc *graphql.OperationContext, sel ast.SelectionSet, conn, edge, node []string, nodeFields map[string]bool) bool {
	fields := graphql.CollectFields(oc, sel, conn)
	for _, f := range fields {
		if !directConnectionFields[f.Name] || f.IsDeferred() {
			return false
		}
		switch f.Name {
		case "pageInfo":
			if !directObject(oc, f.Selections, pageInfoImplementors, directPageInfoFields) {
				return false
			}
		case "edges":
			for _, e := range graphql.CollectFields(oc, f.Selections, edge) {
				if !directEdgeFields[e.Name] || e.IsDeferred() {
					return false
				}
				if e.Name == "node" && !directObject(oc, e.Selections, node, nodeFields) {
					return false
				}
			}
		}
	}
	return len(fields) > 0
}

// execQuery resolves and writes the root fields: each in a goroutine of
// its own when there are several (gqlgen resolves them concurrently too,
// so that their statements overlap), then the object in field order.
func (s directSchema) execQuery(ctx context.Context, oc *graphql.OperationContext, roots []graphql.CollectedField) (data []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			data, err = nil, errNotDirect // gqlgen runs it again and recovers it its way
		}
	}()
	ec := newExecutionContext(oc, s.es, nil)
	if len(roots) == 1 {
		var b bytes.Buffer
		b.Grow(directAnswerSize)
		b.WriteByte('{')
		writeKey(&b, roots[0].Alias)
		if err := ec.directRoot(ctx, &b, roots[0]); err != nil {
			return nil, err
		}
		b.WriteByte('}')
		return b.Bytes(), nil
	}
	outs := make([]bytes.Buffer, len(roots))
	errs := make([]error, len(roots))
	var wg sync.WaitGroup
	for i := range roots {
		if i == 0 {
			continue
		}
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					errs[i] = errNotDirect
				}
			}()
			errs[i] = ec.directRoot(ctx, &outs[i], roots[i])
		})
	}
	errs[0] = ec.directRoot(ctx, &outs[0], roots[0])
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	n := 2
	for i, f := range roots {
		n += len(f.Alias) + 4 + outs[i].Len()
	}
	var b bytes.Buffer
	b.Grow(n)
	b.WriteByte('{')
	for i, f := range roots {
		if i > 0 {
			b.WriteByte(',')
		}
		writeKey(&b, f.Alias)
		b.Write(outs[i].Bytes())
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// directAnswerSize is the initial size of an answer's buffer: a feed page
// of 20 messages with their content takes about 10 KiB.
const directAnswerSize = 16 << 10

// writeJSON writes a JSON scalar value as gqlgen's marshalers do
// (scalar.MarshalJSON: compacted, null when empty or not JSON), compacting
// straight into b.
func writeJSON(b *bytes.Buffer, v json.RawMessage) {
	if len(v) == 0 || json.Compact(b, v) != nil { // Compact leaves b as it was on error
		b.WriteString("null")
	}
}

// writeKey writes an object key as gqlgen does.
func writeKey(b *bytes.Buffer, alias string) {
	graphql.MarshalString(alias).MarshalGQL(b)
	b.WriteByte(':')
}

// rootContext returns ctx with the field context of root field f and its
// parsed arguments, as gqlgen makes it for the resolver.
func rootContext(ctx context.Context, f graphql.CollectedField, args map[string]any) context.Context {
	return graphql.WithFieldContext(graphql.WithRootFieldContext(ctx, &graphql.RootFieldContext{Object: "Query", Field: f}),
		&graphql.FieldContext{Object: "Query", Field: f, Args: args, IsMethod: true, IsResolver: true})
}

// directRoot writes the value of one root field.
func (ec *executionContext) directRoot(ctx context.Context, b *bytes.Buffer, f graphql.CollectedField) error {
	raw := f.ArgumentMap(ec.Variables)
	q := ec.Resolvers.Query()
	switch f.Name {
	case "__typename":
		graphql.MarshalString("Query").MarshalGQL(b)
		return nil
	case "message":
		args, err := ec.field_Query_message_args(ctx, raw)
		if err != nil {
			return err
		}
		ctx = rootContext(ctx, f, args)
		m, err := q.Message(ctx, args["hash"].(string))
		if err != nil {
			return err
		}
		if m == nil {
			b.WriteString("null")
			return nil
		}
		return ec.directMessage(ctx, b, f.Selections, m)
	case "messages":
		args, err := ec.field_Query_messages_args(ctx, raw)
		if err != nil {
			return err
		}
		ctx = rootContext(ctx, f, args)
		c, err := q.Messages(ctx, args["filter"].(*model.MessageFilter), args["orderBy"].(*model.MessageOrder),
			args["first"].(*int), args["after"].(*string), args["last"].(*int), args["before"].(*string))
		if err != nil || c == nil {
			return errors.Join(err, errNotDirect)
		}
		return directConnectionValue(ec, ctx, b, f.Selections, messageConnectionImplementors, messageEdgeImplementors,
			"MessageConnection", "MessageEdge", c.Counter, c.PageInfo, c.Edges,
			func(e *model.MessageEdge) (string, *ent.Message) { return e.Cursor, e.Node }, nil, ec.directMessage)
	case "posts":
		args, err := ec.field_Query_posts_args(ctx, raw)
		if err != nil {
			return err
		}
		ctx = rootContext(ctx, f, args)
		c, err := q.Posts(ctx, args["filter"].(*model.PostFilter), args["first"].(*int), args["after"].(*string),
			args["last"].(*int), args["before"].(*string))
		if err != nil || c == nil {
			return errors.Join(err, errNotDirect)
		}
		return directConnectionValue(ec, ctx, b, f.Selections, postConnectionImplementors, postEdgeImplementors,
			"PostConnection", "PostEdge", c.Counter, c.PageInfo, c.Edges,
			func(e *model.PostEdge) (string, *ent.Post) { return e.Cursor, e.Node }, ec.prefetchLatest, ec.directPost)
	case "aggregates":
		args, err := ec.field_Query_aggregates_args(ctx, raw)
		if err != nil {
			return err
		}
		ctx = rootContext(ctx, f, args)
		c, err := q.Aggregates(ctx, args["filter"].(*model.AggregateFilter), args["first"].(*int), args["after"].(*string),
			args["last"].(*int), args["before"].(*string))
		if err != nil || c == nil {
			return errors.Join(err, errNotDirect)
		}
		return directConnectionValue(ec, ctx, b, f.Selections, aggregateConnectionImplementors, aggregateEdgeImplementors,
			"AggregateConnection", "AggregateEdge", c.Counter, c.PageInfo, c.Edges,
			func(e *model.AggregateEdge) (string, *ent.Aggregate) { return e.Cursor, e.Node }, nil, ec.directAggregate)
	}
	return errNotDirect
}

// directConnectionValue writes a connection: its edges (cursor and node),
// page info and count, as its selection set asks. prefetch, if set, is
// given the page's nodes first (to batch their loader lookups).
func directConnectionValue[E any, N any](ec *executionContext, ctx context.Context, b *bytes.Buffer, sel ast.SelectionSet,
	connImpl, edgeImpl []string, connType, edgeType string, counter *model.Counter, pi *model.PageInfo, edges []E,
	split func(E) (string, N), prefetch func(context.Context, ast.SelectionSet, []E, func(E) (string, N)),
	node func(context.Context, *bytes.Buffer, ast.SelectionSet, N) error,
) error {
	return ec.directFields(b, sel, connImpl, func(f graphql.CollectedField) (graphql.Marshaler, error) {
		switch f.Name {
		case "__typename":
			return graphql.MarshalString(connType), nil
		case "totalCount":
			if counter == nil {
				return nil, errNotDirect
			}
			n, err := counter.TotalCount(ctx)
			return graphql.MarshalInt(n), err
		case "countIsExact":
			if counter == nil {
				return nil, errNotDirect
			}
			exact, err := counter.CountIsExact(ctx)
			return graphql.MarshalBoolean(exact), err
		case "pageInfo":
			if pi == nil {
				return nil, errNotDirect
			}
			ec.directPageInfo(b, f.Selections, pi)
			return nil, nil
		case "edges":
			return nil, directEdges(ec, ctx, b, f.Selections, edgeImpl, edgeType, edges, split, prefetch, node)
		}
		return nil, errNotDirect
	})
}

// directEdges writes a connection's edges. Their fields are collected
// once for the page, not once per edge as directFields would.
func directEdges[E any, N any](ec *executionContext, ctx context.Context, b *bytes.Buffer, sel ast.SelectionSet,
	edgeImpl []string, edgeType string, edges []E,
	split func(E) (string, N), prefetch func(context.Context, ast.SelectionSet, []E, func(E) (string, N)),
	node func(context.Context, *bytes.Buffer, ast.SelectionSet, N) error,
) error {
	fields := graphql.CollectFields(ec.OperationContext, sel, edgeImpl)
	if prefetch != nil {
		for _, e := range fields {
			if e.Name == "node" {
				prefetch(ctx, e.Selections, edges, split)
			}
		}
	}
	b.WriteByte('[')
	for j, edge := range edges {
		if j > 0 {
			b.WriteByte(',')
		}
		cursor, n := split(edge)
		b.WriteByte('{')
		for k, e := range fields {
			if k > 0 {
				b.WriteByte(',')
			}
			writeKey(b, e.Alias)
			switch e.Name {
			case "__typename":
				graphql.MarshalString(edgeType).MarshalGQL(b)
			case "cursor":
				graphql.MarshalString(cursor).MarshalGQL(b)
			case "node":
				if err := node(ctx, b, e.Selections, n); err != nil {
					return err
				}
			default:
				return errNotDirect
			}
		}
		b.WriteByte('}')
	}
	b.WriteByte(']')
	return nil
}

// directPageInfo writes a PageInfo.
func (ec *executionContext) directPageInfo(b *bytes.Buffer, sel ast.SelectionSet, pi *model.PageInfo) {
	_ = ec.directFields(b, sel, pageInfoImplementors, func(f graphql.CollectedField) (graphql.Marshaler, error) {
		switch f.Name {
		case "__typename":
			return graphql.MarshalString("PageInfo"), nil
		case "hasNextPage":
			return graphql.MarshalBoolean(pi.HasNextPage), nil
		case "hasPreviousPage":
			return graphql.MarshalBoolean(pi.HasPreviousPage), nil
		case "startCursor":
			optString(b, pi.StartCursor)
		case "endCursor":
			optString(b, pi.EndCursor)
		}
		return nil, nil
	})
}

// directFields writes the fields sel selects on an object of one of
// implementors, as gqlgen's generated _Type functions do: field returns
// the marshaler of one field's value, or nil once it wrote the value
// itself; its error (errNotDirect for anything it does not handle) stops
// the writing.
func (ec *executionContext) directFields(b *bytes.Buffer, sel ast.SelectionSet, implementors []string,
	field func(graphql.CollectedField) (graphql.Marshaler, error),
) error {
	b.WriteByte('{')
	for i, f := range graphql.CollectFields(ec.OperationContext, sel, implementors) {
		if i > 0 {
			b.WriteByte(',')
		}
		writeKey(b, f.Alias)
		v, err := field(f)
		if err != nil {
			return err
		}
		if v != nil {
			v.MarshalGQL(b)
		}
	}
	b.WriteByte('}')
	return nil
}

// optString writes a nullable string as gqlgen's marshalOString does.
func optString(b *bytes.Buffer, s *string) {
	if s == nil {
		b.WriteString("null")
		return
	}
	graphql.MarshalString(*s).MarshalGQL(b)
}

// directMessage writes a Message node with the generated marshalers and
// the Message resolvers, as gqlgen's _Message does.
func (ec *executionContext) directMessage(ctx context.Context, b *bytes.Buffer, sel ast.SelectionSet, m *ent.Message) error {
	if m == nil {
		return errNotDirect
	}
	mr := ec.Resolvers.Message()
	return ec.directFields(b, sel, messageImplementors, func(f graphql.CollectedField) (graphql.Marshaler, error) {
		switch f.Name {
		case "__typename":
			return graphql.MarshalString("Message"), nil
		case "id":
			id, err := mr.ID(ctx, m)
			if err != nil {
				return nil, err
			}
			return ec.marshalNID2string(ctx, nil, id), nil
		case "hash":
			return graphql.MarshalString(m.ID), nil
		case "type":
			return mr.Type(ctx, m)
		case "chain":
			return graphql.MarshalString(m.Chain), nil
		case "sender":
			return graphql.MarshalString(m.Sender), nil
		case "signature":
			return ec.marshalOString2ᚖstring(ctx, nil, m.Signature), nil
		case "itemType":
			return mr.ItemType(ctx, m)
		case "itemContent":
			return ec.marshalOString2ᚖstring(ctx, nil, m.ItemContent), nil
		case "content":
			writeJSON(b, m.Content)
			return nil, nil
		case "time":
			return ec.marshalNTime2timeᚐTime(ctx, nil, m.Time), nil
		case "channel":
			return ec.marshalOString2ᚖstring(ctx, nil, m.Channel), nil
		case "size":
			return graphql.MarshalInt64(m.Size), nil
		case "owner":
			return graphql.MarshalString(m.Owner), nil
		case "contentType":
			return ec.marshalOString2ᚖstring(ctx, nil, m.ContentType), nil
		case "contentRef":
			return ec.marshalOString2ᚖstring(ctx, nil, m.ContentRef), nil
		case "contentKey":
			return ec.marshalOString2ᚖstring(ctx, nil, m.ContentKey), nil
		case "contentItemHash":
			return ec.marshalOString2ᚖstring(ctx, nil, m.ContentItemHash), nil
		case "paymentType":
			t, err := mr.PaymentType(ctx, m)
			if err != nil {
				return nil, err
			}
			return ec.marshalOPaymentType2ᚖgithubᚗcomᚋalephqlᚋalephqlᚋgraphᚋmodelᚐPaymentType(ctx, nil, t), nil
		case "tags":
			tags, err := mr.Tags(ctx, m)
			if err == nil {
				directStrings(b, tags)
			}
			return nil, err
		case "receptionTime":
			return ec.marshalNTime2timeᚐTime(ctx, nil, m.ReceptionTime), nil
		case "firstConfirmedAt":
			return ec.marshalOTime2ᚖtimeᚐTime(ctx, nil, m.FirstConfirmedAt), nil
		case "firstConfirmedHeight":
			return ec.marshalOInt2ᚖint64(ctx, nil, m.FirstConfirmedHeight), nil
		}
		return nil, errNotDirect
	})
}

// directStrings writes a non-null list of non-null strings.
func directStrings(b *bytes.Buffer, ss []string) {
	b.WriteByte('[')
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(',')
		}
		graphql.MarshalString(s).MarshalGQL(b)
	}
	b.WriteByte(']')
}

// prefetchLatest asks the post loader for the latest amends of a page's
// posts when the node selects merged fields, so that they are read in one
// batch before the nodes are written one after the other.
func (ec *executionContext) prefetchLatest(ctx context.Context, sel ast.SelectionSet, edges []*model.PostEdge, split func(*model.PostEdge) (string, *ent.Post)) {
	merged := false
	for _, f := range graphql.CollectFields(ec.OperationContext, sel, postImplementors) {
		switch f.Name {
		case "content", "tags", "lastUpdated":
			merged = true
		}
	}
	if !merged {
		return
	}
	l := ec.resolver().loadersFor(ctx).post()
	for _, e := range edges {
		if _, p := split(e); p != nil && p.LatestAmend != nil && *p.LatestAmend != p.ID {
			l.Load(ctx, *p.LatestAmend)
		}
	}
}

// resolver returns the root resolver.
func (ec *executionContext) resolver() *Resolver { return ec.Resolvers.(*Resolver) }

// directPost writes a Post node as gqlgen's _Post does.
func (ec *executionContext) directPost(ctx context.Context, b *bytes.Buffer, sel ast.SelectionSet, p *ent.Post) error {
	if p == nil {
		return errNotDirect
	}
	pr := ec.Resolvers.Post()
	return ec.directFields(b, sel, postImplementors, func(f graphql.CollectedField) (graphql.Marshaler, error) {
		switch f.Name {
		case "__typename":
			return graphql.MarshalString("Post"), nil
		case "id":
			id, err := pr.ID(ctx, p)
			if err != nil {
				return nil, err
			}
			return ec.marshalNID2string(ctx, nil, id), nil
		case "hash":
			return graphql.MarshalString(p.ID), nil
		case "owner":
			return graphql.MarshalString(p.Owner), nil
		case "type":
			return graphql.MarshalString(p.Type), nil
		case "ref":
			return ec.marshalOString2ᚖstring(ctx, nil, p.Ref), nil
		case "channel":
			return ec.marshalOString2ᚖstring(ctx, nil, p.Channel), nil
		case "content":
			c, err := pr.Content(ctx, p)
			if err == nil {
				writeJSON(b, c)
			}
			return nil, err
		case "tags":
			tags, err := pr.Tags(ctx, p)
			if err == nil {
				directStrings(b, tags)
			}
			return nil, err
		case "createdAt":
			return ec.marshalNTime2timeᚐTime(ctx, nil, p.CreationDatetime), nil
		case "lastUpdated":
			t, err := pr.LastUpdated(ctx, p)
			if err != nil || t == nil {
				return nil, errors.Join(err, errNotDirect)
			}
			return ec.marshalNTime2timeᚐTime(ctx, nil, *t), nil
		case "latestAmendHash":
			return ec.marshalOString2ᚖstring(ctx, nil, p.LatestAmend), nil
		}
		return nil, errNotDirect
	})
}

// directAggregate writes an Aggregate node as gqlgen's _Aggregate does.
func (ec *executionContext) directAggregate(ctx context.Context, b *bytes.Buffer, sel ast.SelectionSet, a *ent.Aggregate) error {
	if a == nil {
		return errNotDirect
	}
	return ec.directFields(b, sel, aggregateImplementors, func(f graphql.CollectedField) (graphql.Marshaler, error) {
		switch f.Name {
		case "__typename":
			return graphql.MarshalString("Aggregate"), nil
		case "id":
			id, err := ec.Resolvers.Aggregate().ID(ctx, a)
			if err != nil {
				return nil, err
			}
			return ec.marshalNID2string(ctx, nil, id), nil
		case "owner":
			return graphql.MarshalString(a.Owner), nil
		case "key":
			return graphql.MarshalString(a.Key), nil
		case "content":
			if a.Content == nil {
				return nil, errNotDirect // gqlgen reports the null
			}
			writeJSON(b, a.Content)
			return nil, nil
		case "createdAt":
			return ec.marshalNTime2timeᚐTime(ctx, nil, a.CreationDatetime), nil
		case "lastUpdated":
			return ec.marshalNTime2timeᚐTime(ctx, nil, a.LastUpdated), nil
		case "lastRevisionHash":
			return graphql.MarshalString(a.LastRevisionHash), nil
		case "elementCount":
			return graphql.MarshalInt(a.ElementCount), nil
		}
		return nil, errNotDirect
	})
}

// Interface guards
var _ graphql.ExecutableSchema = directSchema{}

package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/alephql/alephql/ent/aggregate"
	"github.com/alephql/alephql/ent/message"
	"github.com/alephql/alephql/ent/post"
)

// A list reads only the columns its nodes' selected fields need: a feed
// page selecting five message fields then neither transfers nor scans the
// inline content, signature and tags of each row (ent selects all 22
// columns otherwise). Each map below names, per GraphQL field of a node
// type, the columns its value (or its resolver) reads besides the id; a
// field missing from the map (a new one, or __typename's siblings of an
// unknown kind) makes the list read every column, so an incomplete map
// costs speed, never a wrong answer. Nodes of lists are not shared with
// other lists or with the row cache, so a partial row never escapes the
// answer it was read for.

// messageFieldColumns maps Message fields to the messages columns they read.
var messageFieldColumns = map[string][]string{
	"__typename":           nil,
	"id":                   nil,
	"hash":                 nil,
	"type":                 {message.FieldType},
	"chain":                {message.FieldChain},
	"sender":               {message.FieldSender},
	"signature":            {message.FieldSignature},
	"itemType":             {message.FieldItemType},
	"itemContent":          {message.FieldItemContent},
	"content":              {message.FieldContent},
	"time":                 {message.FieldTime},
	"channel":              {message.FieldChannel},
	"size":                 {message.FieldSize},
	"owner":                {message.FieldOwner},
	"contentType":          {message.FieldContentType},
	"contentRef":           {message.FieldContentRef},
	"contentKey":           {message.FieldContentKey},
	"contentItemHash":      {message.FieldContentItemHash},
	"paymentType":          {message.FieldPaymentType},
	"tags":                 {message.FieldTags},
	"receptionTime":        {message.FieldReceptionTime},
	"firstConfirmedAt":     {message.FieldFirstConfirmedAt},
	"firstConfirmedHeight": {message.FieldFirstConfirmedHeight},
	"confirmed":            {message.FieldFirstConfirmedAt},
	"status":               {message.FieldStatus, message.FieldReceptionTime},
	"confirmations":        nil,
	"post":                 {message.FieldType},
	"aggregateElement":     {message.FieldType},
	"file":                 {message.FieldType, message.FieldContentItemHash},
	"vm":                   {message.FieldType},
	"costs":                nil,
}

// messageListColumns are the columns every message list reads for its
// cursors and order; messageConfirmationColumns those of lists ordered by
// confirmation time.
var (
	messageListColumns         = []string{message.FieldTime}
	messageConfirmationColumns = []string{message.FieldTime, message.FieldFirstConfirmedAt}
)

// postFieldColumns maps Post fields to the posts columns they read. The
// merged fields (content, lastUpdated, tags...) read the latest amend,
// loaded in full by the post loader, through latest_amend.
var postFieldColumns = map[string][]string{
	"__typename":      nil,
	"id":              nil,
	"hash":            nil,
	"owner":           {post.FieldOwner},
	"type":            {post.FieldType},
	"ref":             {post.FieldRef},
	"channel":         {post.FieldChannel},
	"createdAt":       {post.FieldCreationDatetime},
	"latestAmendHash": {post.FieldLatestAmend},
	"content":         {post.FieldLatestAmend, post.FieldContent},
	"lastUpdated":     {post.FieldLatestAmend, post.FieldCreationDatetime},
	"tags":            {post.FieldLatestAmend, post.FieldTags},
	"message":         nil,
	"amends":          nil,
	"original":        {post.FieldAmends},
}

// postListColumns are the columns every post list reads for its cursors.
var postListColumns = []string{post.FieldCreationDatetime}

// aggregateFieldColumns maps Aggregate fields to the aggregates columns
// they read.
var aggregateFieldColumns = map[string][]string{
	"__typename":       nil,
	"id":               nil,
	"key":              {aggregate.FieldKey},
	"owner":            {aggregate.FieldOwner},
	"content":          {aggregate.FieldContent},
	"createdAt":        {aggregate.FieldCreationDatetime},
	"lastUpdated":      {aggregate.FieldLastUpdated},
	"lastRevisionHash": {aggregate.FieldLastRevisionHash},
	"elementCount":     {aggregate.FieldElementCount},
	"elements":         {aggregate.FieldElementCount},
}

// aggregateListColumns are the columns every aggregate list reads for its
// cursors.
var aggregateListColumns = []string{aggregate.FieldOwner, aggregate.FieldKey}

// nodeColumns returns the columns, in the table's order (all, the
// generated Columns of the ent package), that the nodes of the connection
// being resolved need: those of fieldColumns for each field selected under
// edges { node { ... } } (fragments and @skip/@include applied), plus
// always. It returns nil, meaning every column, outside a GraphQL
// operation, when a selected field is not in fieldColumns, or when the
// nodes need every column anyway.
func nodeColumns(ctx context.Context, edgeType, nodeType string, all []string, fieldColumns map[string][]string, always []string) []string {
	if !graphql.HasOperationContext(ctx) || graphql.GetFieldContext(ctx) == nil {
		return nil
	}
	oc := graphql.GetOperationContext(ctx)
	need := make(map[string]bool, len(all))
	for _, c := range always {
		need[c] = true
	}
	for _, conn := range graphql.CollectFieldsCtx(ctx, nil) {
		if conn.Name != "edges" {
			continue
		}
		for _, edge := range graphql.CollectFields(oc, conn.Selections, []string{edgeType}) {
			if edge.Name != "node" {
				continue
			}
			for _, f := range graphql.CollectFields(oc, edge.Selections, []string{nodeType, "Node"}) {
				cols, ok := fieldColumns[f.Name]
				if !ok {
					return nil
				}
				for _, c := range cols {
					need[c] = true
				}
			}
		}
	}
	out := make([]string, 0, len(need))
	for _, c := range all {
		if need[c] {
			out = append(out, c)
		}
	}
	if len(out) >= len(all)-1 { // every column but (maybe) the id, which ent adds
		return nil
	}
	return out
}

// messageColumns is nodeColumns for a messages connection, ordered by
// confirmation time or not.
func messageColumns(ctx context.Context, byConfirmation bool) []string {
	always := messageListColumns
	if byConfirmation {
		always = messageConfirmationColumns
	}
	return nodeColumns(ctx, "MessageEdge", "Message", message.Columns, messageFieldColumns, always)
}

// postColumns is nodeColumns for a posts connection.
func postColumns(ctx context.Context) []string {
	return nodeColumns(ctx, "PostEdge", "Post", post.Columns, postFieldColumns, postListColumns)
}

// aggregateColumns is nodeColumns for an aggregates connection.
func aggregateColumns(ctx context.Context) []string {
	return nodeColumns(ctx, "AggregateEdge", "Aggregate", aggregate.Columns, aggregateFieldColumns, aggregateListColumns)
}

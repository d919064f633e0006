package schema

import (
	"encoding/json"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Message is a processed message (status processed or removing): the wire
// fields as received plus denormalized columns that the hot list queries
// filter on. Rejected, forgotten and removed messages leave this table; their
// traces live in RejectedMessage, ForgottenMessage and RemovedMessage.
type Message struct {
	ent.Schema
}

// Fields of the Message.
func (Message) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").StorageKey("item_hash").MaxLen(hashMaxLen).NotEmpty().Immutable().
			Comment("Item hash: sha256 of the inline content, or the storage hash or IPFS CID of the content."),
		field.String("type").Immutable().Comment("Message type: POST, AGGREGATE, STORE, PROGRAM, INSTANCE, FORGET or V-PROGRAM."),
		field.String("chain").Immutable().Comment("Chain whose signature scheme signed the message."),
		field.String("sender").Immutable().Comment("Address that signed the message, exactly as sent."),
		field.String("signature").Optional().Nillable().Comment("Signature as sent; absent for messages from smart-contract events."),
		field.String("item_type").Immutable().Comment("Where the content lives: inline, storage or ipfs."),
		field.Text("item_content").Optional().Nillable().Comment("Inline content, verbatim (never re-serialized)."),
		field.JSON("content", json.RawMessage{}).Optional().SchemaType(jsonType).
			Annotations(entgql.Type("JSON")).Comment("Content as a JSON document, raw as received."),
		field.Time("time").Annotations(entgql.OrderField("TIME")).Comment("Message time (the earliest of the copies received), UTC."),
		field.String("channel").Optional().Nillable(),
		field.Int64("size").Default(0).Comment("Content size: characters for inline content, bytes otherwise."),
		field.Enum("status").Values("processed", "removing").Default("processed"),
		field.Time("reception_time").Comment("When this node first received the message."),
		field.String("owner").Comment("content.address: the account the message acts for."),
		field.String("content_type").Optional().Nillable().Comment("POST content.type."),
		field.String("content_ref").Optional().Nillable().Comment("POST and STORE content.ref (hash form if a chain ref)."),
		field.String("content_key").Optional().Nillable().Comment("AGGREGATE content.key."),
		field.String("content_item_hash").Optional().Nillable().Comment("STORE content.item_hash."),
		field.Time("first_confirmed_at").Optional().Nillable().Comment("Time of the earliest on-chain confirmation."),
		field.Int64("first_confirmed_height").Optional().Nillable(),
		field.String("payment_type").Optional().Nillable().Comment("hold, superfluid or credit, for paid message types."),
		field.JSON("tags", []string{}).Optional().Comment("Tags of the content (content.content.tags or content.tags)."),
	}
}

// Edges of the Message.
func (Message) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("confirmations", MessageConfirmation.Type).
			Annotations(entsql.OnDelete(entsql.Cascade), entgql.Skip()),
		edge.To("tag_rows", MessageTag.Type).
			Annotations(entsql.OnDelete(entsql.Cascade), entgql.Skip()),
		edge.To("costs", AccountCost.Type).
			Annotations(entsql.OnDelete(entsql.Cascade), entgql.Skip()),
	}
}

// Indexes of the Message. Every list query orders by (time, item_hash), so
// each filter column leads an index ending in those two columns: a page is
// an index range scan whatever its depth.
//
// The content_* and payment_type columns are NULL for most messages (only
// POSTs have a content type, only AGGREGATEs a key...), and the only queries
// that filter on them use `col IN (...)`, which implies `col IS NOT NULL`: so
// their indexes are partial and hold the non-NULL rows only. Both planners
// still use them (PostgreSQL and SQLite prove the implication), and an
// insert whose column is NULL maintains no entry in them, which matters to
// the ingestion rate. first_confirmed_at stays a full index: the
// confirmation-time order sorts unconfirmed (NULL) messages too.
func (Message) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("time", "id"),
		index.Fields("channel", "time", "id"),
		index.Fields("sender", "time", "id"),
		index.Fields("owner", "time", "id"),
		index.Fields("type", "time", "id"),
		index.Fields("chain", "time", "id"),
		index.Fields("content_type", "time", "id").Annotations(notNull("content_type")),
		index.Fields("content_ref").Annotations(notNull("content_ref")),
		index.Fields("content_key", "owner").Annotations(notNull("content_key")),
		index.Fields("content_item_hash").Annotations(notNull("content_item_hash")),
		index.Fields("payment_type").Annotations(notNull("payment_type")),
		index.Fields("status").StorageKey("ix_messages_status"),
		index.Fields("reception_time"),
		index.Fields("first_confirmed_at", "time", "id"),
	}
}

// notNull makes an index partial: it holds only the rows where column is not
// NULL. Queries must imply that condition (col = x, col IN (...)) to use it.
func notNull(column string) *entsql.IndexAnnotation {
	return entsql.IndexWhere(column + " IS NOT NULL")
}

// Annotations of the Message.
func (Message) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
	}
}

// MessageTag is one tag of a message, kept in its own table so that tag
// filters use the same index on SQLite and PostgreSQL.
type MessageTag struct {
	ent.Schema
}

// Fields of the MessageTag.
func (MessageTag) Fields() []ent.Field {
	return []ent.Field{
		field.String("item_hash").MaxLen(hashMaxLen).Immutable(),
		field.String("tag").MaxLen(256).Immutable(),
		field.Time("time").Immutable().Comment("Copy of the message time, for ordered tag pages."),
	}
}

// Edges of the MessageTag.
func (MessageTag) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("message", Message.Type).Ref("tag_rows").Field("item_hash").Unique().Required().Immutable(),
	}
}

// Indexes of the MessageTag.
func (MessageTag) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("item_hash", "tag").Unique(),
		index.Fields("tag", "time", "item_hash"),
	}
}

// Annotations of the MessageTag.
func (MessageTag) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// PublishedMessage records that this node's publisher put a message in a
// sync archive for a chain: a message is published at most once per
// chain. The row is written before the transaction is sent (tx_hash set
// once the transaction is signed) and deleted if the transaction failed,
// so that the message is published again.
type PublishedMessage struct {
	ent.Schema
}

// Fields of the PublishedMessage.
func (PublishedMessage) Fields() []ent.Field {
	return []ent.Field{
		field.String("item_hash").MaxLen(hashMaxLen).Immutable(),
		field.String("chain").Immutable(),
		field.String("cid").Immutable().Comment("CIDv0 of the archive the message was written in."),
		field.String("tx_hash").Default("").Comment("Hash of the transaction emitting the archive; empty before it is signed."),
		field.Time("published_at").Immutable(),
	}
}

// Indexes of the PublishedMessage.
func (PublishedMessage) Indexes() []ent.Index {
	return []ent.Index{index.Fields("item_hash", "chain").Unique(), index.Fields("cid"), index.Fields("tx_hash")}
}

// Annotations of the PublishedMessage.
func (PublishedMessage) Annotations() []schema.Annotation { return skipGQL() }

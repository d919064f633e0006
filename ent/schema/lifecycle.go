package schema

import (
	"encoding/json"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// skipGQL keeps an internal table out of the generated GraphQL schema; the
// API exposes it through hand-written types where it should.
func skipGQL() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// MessageStatus is the authoritative lifecycle state of every item hash the
// node has heard of. It outlives the Message row (forgotten, rejected and
// removed messages keep their status).
type MessageStatus struct {
	ent.Schema
}

// Fields of the MessageStatus.
func (MessageStatus) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").StorageKey("item_hash").MaxLen(hashMaxLen).NotEmpty().Immutable(),
		field.Enum("status").Values("pending", "processed", "rejected", "forgotten", "removing", "removed"),
		field.Time("reception_time"),
		field.Time("updated_at").Comment("Last status change."),
	}
}

// Indexes of the MessageStatus: none besides the primary key. Every
// reader looks statuses up by item hash; a (status, updated_at) index,
// read by nothing, cost every ingested message an index entry.
func (MessageStatus) Indexes() []ent.Index { return nil }

// Annotations of the MessageStatus.
func (MessageStatus) Annotations() []schema.Annotation { return skipGQL() }

// PendingMessage is a message waiting in the durable queue: fetched=false
// rows wait for the fetch stage (content and files), fetched=true rows for
// the process stage. Several copies of one item hash may wait (different
// signatures or transactions).
type PendingMessage struct {
	ent.Schema
}

// Fields of the PendingMessage.
func (PendingMessage) Fields() []ent.Field {
	return []ent.Field{
		field.String("item_hash").MaxLen(hashMaxLen).NotEmpty(),
		field.String("type"),
		field.String("chain"),
		field.String("sender"),
		field.String("signature").Default("").Comment("Empty for messages from smart-contract events (check_message=false)."),
		field.String("item_type"),
		field.Text("item_content").Optional().Nillable(),
		field.JSON("content", json.RawMessage{}).Optional().SchemaType(jsonType).Comment("Fetched content, once the fetch stage is done."),
		field.Time("time"),
		field.String("channel").Optional().Nillable(),
		field.Time("reception_time"),
		field.Bool("check_message").Default(true).Comment("Whether the signature must be verified."),
		field.Time("next_attempt"),
		field.Int("retries").Default(0),
		field.Bool("fetched").Default(false),
		field.Enum("origin").Values("api", "p2p", "ipfs", "onchain", "peer", "import").Comment("The intake the message came through."),
		field.String("tx_hash").Optional().Nillable().Comment("Chain transaction that carried the message, if any."),
		field.Int("last_error_code").Optional().Nillable().Comment("Code of the last retryable failure."),
		field.Text("last_error").Optional().Nillable().Comment("Human-readable reason of the last retryable failure."),
		field.String("claimed_by").Optional().Nillable().Comment("Processor holding the row, while its lease lasts."),
		field.Time("claimed_until").Optional().Nillable(),
		field.String("waits_on").Optional().Nillable().Comment("What a message retried for a missing dependency waits for (an item hash, or an aggregate as address/key): processing it retries the message at once."),
	}
}

// Edges of the PendingMessage.
func (PendingMessage) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("tx", ChainTx.Type).Field("tx_hash").Unique(),
	}
}

// Indexes of the PendingMessage: the two stages scan by (fetched,
// next_attempt); intake de-duplicates on (sender, item_hash, signature).
func (PendingMessage) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("sender", "item_hash", "signature").Unique(),
		index.Fields("fetched", "next_attempt"),
		index.Fields("item_hash"),
		index.Fields("time"),
		index.Fields("waits_on"),
	}
}

// Annotations of the PendingMessage.
func (PendingMessage) Annotations() []schema.Annotation { return skipGQL() }

// RejectedMessage records why a message was rejected, with the original
// wire message so that it can be inspected and re-submitted.
type RejectedMessage struct {
	ent.Schema
}

// Fields of the RejectedMessage.
func (RejectedMessage) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").StorageKey("item_hash").MaxLen(hashMaxLen).NotEmpty().Immutable(),
		field.JSON("message", json.RawMessage{}).SchemaType(jsonType).Comment("The wire message as received."),
		field.Int("error_code").Comment("Protocol error code (see ErrorCode)."),
		field.JSON("details", json.RawMessage{}).Optional().SchemaType(jsonType),
		field.Text("traceback").Optional().Nillable(),
		field.String("tx_hash").Optional().Nillable(),
		field.Time("rejected_at"),
	}
}

// Indexes of the RejectedMessage.
func (RejectedMessage) Indexes() []ent.Index {
	return []ent.Index{index.Fields("error_code"), index.Fields("rejected_at")}
}

// Annotations of the RejectedMessage.
func (RejectedMessage) Annotations() []schema.Annotation { return skipGQL() }

// ErrorCode is the catalogue of the protocol's rejection codes, seeded by
// the node at start so that SQL users can join on it.
type ErrorCode struct {
	ent.Schema
}

// Fields of the ErrorCode.
func (ErrorCode) Fields() []ent.Field {
	return []ent.Field{
		field.Int("id").StorageKey("code").Immutable(),
		field.String("name"),
		field.Text("description"),
	}
}

// Annotations of the ErrorCode.
func (ErrorCode) Annotations() []schema.Annotation { return skipGQL() }

// snapshotFields are the fields kept of a message that left the messages
// table (forgotten or removed).
func snapshotFields() []ent.Field {
	return []ent.Field{
		field.String("id").StorageKey("item_hash").MaxLen(hashMaxLen).NotEmpty().Immutable(),
		field.String("type"),
		field.String("chain"),
		field.String("sender"),
		field.String("signature").Optional().Nillable(),
		field.String("item_type"),
		field.Time("time"),
		field.String("channel").Optional().Nillable(),
		field.String("owner"),
		field.String("payment_type").Optional().Nillable(),
		field.Int64("size").Default(0),
	}
}

// ForgottenMessage is the skeleton of a message removed by a FORGET: its
// identity stays queryable, its content is gone.
type ForgottenMessage struct {
	ent.Schema
}

// Fields of the ForgottenMessage.
func (ForgottenMessage) Fields() []ent.Field {
	return append(snapshotFields(),
		field.JSON("forgotten_by", []string{}).Comment("Hashes of the FORGET messages that target it."),
		field.Time("forgotten_at"),
	)
}

// Indexes of the ForgottenMessage.
func (ForgottenMessage) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("sender"), index.Fields("time"), index.Fields("channel"),
		index.Fields("owner", "forgotten_at"), index.Fields("forgotten_at"),
	}
}

// Annotations of the ForgottenMessage.
func (ForgottenMessage) Annotations() []schema.Annotation { return skipGQL() }

// RemovedMessage is the skeleton of a paid message whose resources were
// removed for lack of balance or credit. The billing jobs write it when the
// message enters its grace period (status removing, removed_at empty) and
// delete it if the account pays again; the garbage collector sets
// removed_at when it finalizes the removal.
type RemovedMessage struct {
	ent.Schema
}

// Fields of the RemovedMessage.
func (RemovedMessage) Fields() []ent.Field {
	return append(snapshotFields(),
		field.Time("removed_at").Optional().Nillable(),
		field.Enum("reason").Values("balance_insufficient", "credit_insufficient").Optional().Nillable().
			Comment("Why the message is removed: the hold balance or the credits no longer cover it."),
		field.Time("removing_since").Optional().Nillable().Comment("When the message entered its grace period (status removing)."),
	)
}

// Indexes of the RemovedMessage.
func (RemovedMessage) Indexes() []ent.Index {
	return []ent.Index{index.Fields("owner", "removed_at"), index.Fields("removed_at")}
}

// Annotations of the RemovedMessage.
func (RemovedMessage) Annotations() []schema.Annotation { return skipGQL() }

// MessageCounter holds an exact count of messages for one filter
// combination (for example "channel=TEST|type=POST"), maintained in the same
// transaction as the state change so that totals are O(1).
type MessageCounter struct {
	ent.Schema
}

// Fields of the MessageCounter.
func (MessageCounter) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").StorageKey("key").NotEmpty().Immutable().
			Comment("Canonical filter key: sorted dimension=value pairs joined by '|'; \"*\" for all messages."),
		field.Int64("count").Default(0),
	}
}

// Annotations of the MessageCounter.
func (MessageCounter) Annotations() []schema.Annotation { return skipGQL() }

// MessageEvent is the outbox of state changes, written in the same
// transaction as the change itself. Its id is the sequence number live
// feeds resume from: a subscriber that reconnects with the last id it saw
// reads every later row, then continues live, with no gap and no duplicate.
type MessageEvent struct {
	ent.Schema
}

// Fields of the MessageEvent.
func (MessageEvent) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("id").Comment("Sequence number, increasing in commit order."),
		field.String("item_hash").MaxLen(hashMaxLen).Immutable(),
		field.String("kind").Immutable().Comment("processed, rejected, forgotten, confirmed, amended, removing, recovered, removed or pending (see package events)."),
		field.Time("created_at").Immutable(),
		field.String("related").Optional().Nillable().Immutable().
			Comment("Other message involved: the FORGET, the amend, the confirming transaction."),
		field.Int("error_code").Optional().Nillable().Immutable(),
	}
}

// Indexes of the MessageEvent: none besides the primary key. Readers only
// scan by id (the sequence: id > after, the last id); item_hash and
// created_at indexes, read by nothing, cost every state change two index
// entries (one at a random place). Pruning old events, should it come,
// can go by id, which grows with created_at.
func (MessageEvent) Indexes() []ent.Index { return nil }

// Annotations of the MessageEvent.
func (MessageEvent) Annotations() []schema.Annotation { return skipGQL() }

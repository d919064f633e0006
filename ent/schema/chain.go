package schema

import (
	"encoding/json"

	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// ChainTx is an on-chain transaction (or indexer event) that carried or
// confirmed messages.
type ChainTx struct {
	ent.Schema
}

// Fields of the ChainTx.
func (ChainTx) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").StorageKey("hash").NotEmpty().Immutable(),
		field.String("chain"),
		field.Int64("height"),
		field.Time("datetime"),
		field.String("publisher"),
		field.String("protocol").Comment("aleph (archive inline), aleph-offchain (archive on IPFS) or smart-contract."),
		field.Int("protocol_version"),
		field.JSON("content", json.RawMessage{}).Optional().SchemaType(jsonType),
		field.String("error").Optional().Nillable().
			Comment("Why the transaction yields no message (unauthorized emitter, bad payload, archive never fetched...); NULL when valid."),
	}
}

// Edges of the ChainTx.
func (ChainTx) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("confirmations", MessageConfirmation.Type).Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("pending", PendingTx.Type).Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.From("pending_messages", PendingMessage.Type).Ref("tx"),
	}
}

// Indexes of the ChainTx.
func (ChainTx) Indexes() []ent.Index {
	return []ent.Index{index.Fields("chain", "height")}
}

// Annotations of the ChainTx.
func (ChainTx) Annotations() []schema.Annotation {
	return append(skipGQL(), entsql.Annotation{Table: "chain_txs"})
}

// MessageConfirmation links a processed message to a transaction that
// anchored it on a chain.
type MessageConfirmation struct {
	ent.Schema
}

// Fields of the MessageConfirmation.
func (MessageConfirmation) Fields() []ent.Field {
	return []ent.Field{
		field.String("item_hash").MaxLen(hashMaxLen).Immutable(),
		field.String("tx_hash").Immutable(),
	}
}

// Edges of the MessageConfirmation.
func (MessageConfirmation) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("message", Message.Type).Ref("confirmations").Field("item_hash").Unique().Required().Immutable(),
		edge.From("tx", ChainTx.Type).Ref("confirmations").Field("tx_hash").Unique().Required().Immutable(),
	}
}

// Indexes of the MessageConfirmation.
func (MessageConfirmation) Indexes() []ent.Index {
	return []ent.Index{index.Fields("item_hash", "tx_hash").Unique(), index.Fields("tx_hash")}
}

// Annotations of the MessageConfirmation.
func (MessageConfirmation) Annotations() []schema.Annotation { return skipGQL() }

// PendingTx is a chain transaction whose messages are still to be expanded
// into pending messages.
type PendingTx struct {
	ent.Schema
}

// Fields of the PendingTx.
func (PendingTx) Fields() []ent.Field {
	return []ent.Field{
		field.String("tx_hash").Immutable(),
		field.Time("next_attempt"),
		field.Int("retries").Default(0),
		field.String("last_error").Optional().Nillable().Comment("Why the last attempt to expand the transaction failed."),
	}
}

// Edges of the PendingTx.
func (PendingTx) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("tx", ChainTx.Type).Ref("pending").Field("tx_hash").Unique().Required().Immutable(),
	}
}

// Indexes of the PendingTx.
func (PendingTx) Indexes() []ent.Index {
	return []ent.Index{index.Fields("tx_hash").Unique(), index.Fields("next_attempt")}
}

// Annotations of the PendingTx.
func (PendingTx) Annotations() []schema.Annotation {
	return append(skipGQL(), entsql.Annotation{Table: "pending_txs"})
}

// ChainSyncStatus is the cursor of one chain reader: the last block whose
// events are fully applied, written in the same transaction as the rows
// derived from them.
type ChainSyncStatus struct {
	ent.Schema
}

// Fields of the ChainSyncStatus.
func (ChainSyncStatus) Fields() []ent.Field {
	return []ent.Field{
		field.String("chain"),
		field.String("type").Comment("Reader kind, e.g. sync (archives) or message (MessageEvents)."),
		field.Int64("height"),
		field.String("block_hash").Default(""),
		field.Time("last_update"),
	}
}

// Indexes of the ChainSyncStatus.
func (ChainSyncStatus) Indexes() []ent.Index {
	return []ent.Index{index.Fields("chain", "type").Unique()}
}

// Annotations of the ChainSyncStatus.
func (ChainSyncStatus) Annotations() []schema.Annotation { return skipGQL() }

// IndexedBlock remembers (number, hash, parent hash) of recently indexed
// blocks so that a reorg can be detected and walked back to the common
// ancestor.
type IndexedBlock struct {
	ent.Schema
}

// Fields of the IndexedBlock.
func (IndexedBlock) Fields() []ent.Field {
	return []ent.Field{
		field.String("chain"),
		field.Int64("number"),
		field.String("hash"),
		field.String("parent_hash"),
		field.Time("time"),
	}
}

// Indexes of the IndexedBlock.
func (IndexedBlock) Indexes() []ent.Index {
	return []ent.Index{index.Fields("chain", "number").Unique()}
}

// Annotations of the IndexedBlock.
func (IndexedBlock) Annotations() []schema.Annotation { return skipGQL() }

// IndexerSyncRange is a time range of an external indexer's events (Aleph's
// multichain indexer) already read, so that gaps can be found and filled.
type IndexerSyncRange struct {
	ent.Schema
}

// Fields of the IndexerSyncRange.
func (IndexerSyncRange) Fields() []ent.Field {
	return []ent.Field{
		field.String("chain"),
		field.String("event_type"),
		field.Time("start_block_datetime"),
		field.Time("end_block_datetime"),
		field.Bool("start_included"),
		field.Bool("end_included"),
		field.Time("last_updated"),
	}
}

// Indexes of the IndexerSyncRange.
func (IndexerSyncRange) Indexes() []ent.Index {
	return []ent.Index{index.Fields("chain", "event_type", "start_block_datetime").Unique()}
}

// Annotations of the IndexerSyncRange.
func (IndexerSyncRange) Annotations() []schema.Annotation { return skipGQL() }

// Peer is another node this node talks to (HTTP API, P2P or IPFS address).
type Peer struct {
	ent.Schema
}

// Fields of the Peer.
func (Peer) Fields() []ent.Field {
	return []ent.Field{
		field.String("peer_id"),
		field.Enum("peer_type").Values("http", "p2p", "ipfs", "websocket"),
		field.String("address"),
		field.Enum("source").Values("config", "p2p", "ipfs", "corechannel"),
		field.Time("last_seen"),
	}
}

// Indexes of the Peer.
func (Peer) Indexes() []ent.Index {
	return []ent.Index{index.Fields("peer_id", "peer_type").Unique(), index.Fields("last_seen")}
}

// Annotations of the Peer.
func (Peer) Annotations() []schema.Annotation { return skipGQL() }

// CronJob records when each periodic job (balance checks, garbage
// collection) last ran, shared by every process using the database.
type CronJob struct {
	ent.Schema
}

// Fields of the CronJob.
func (CronJob) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").NotEmpty().Immutable(),
		field.Int64("interval_seconds"),
		field.Time("last_run"),
	}
}

// Annotations of the CronJob.
func (CronJob) Annotations() []schema.Annotation { return skipGQL() }

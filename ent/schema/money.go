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

// Balance is an account's ALEPH balance on one chain (and optionally one
// dapp), as published by the balance oracles' balances-update posts.
type Balance struct {
	ent.Schema
}

// Fields of the Balance.
func (Balance) Fields() []ent.Field {
	return []ent.Field{
		field.String("address"),
		field.String("chain"),
		field.String("dapp").Default("").Comment("\"\" for the chain-wide balance."),
		field.Int64("eth_height").Comment("main_height of the update; older updates never overwrite newer ones."),
		field.String("balance").SchemaType(decimalType).Default("0"),
		field.Time("last_update"),
	}
}

// Indexes of the Balance.
func (Balance) Indexes() []ent.Index {
	return []ent.Index{index.Fields("address", "chain", "dapp").Unique()}
}

// Annotations of the Balance.
func (Balance) Annotations() []schema.Annotation { return skipGQL() }

// CreditHistory is the ledger of credit movements: one row per entry of a
// distribution, expense or transfer post.
type CreditHistory struct {
	ent.Schema
}

// Fields of the CreditHistory.
func (CreditHistory) Fields() []ent.Field {
	return []ent.Field{
		field.String("credit_ref").Comment("Hash of the post."),
		field.Int("credit_index").Comment("Position in the post's list."),
		field.String("address"),
		field.Int64("amount").Comment("Credits; negative for expenses and outgoing transfers."),
		field.String("price").SchemaType(decimalType).Optional().Nillable(),
		field.Int64("bonus_amount").Optional().Nillable(),
		field.String("tx_hash").Optional().Nillable(),
		field.String("token").Optional().Nillable(),
		field.String("chain").Optional().Nillable(),
		field.String("provider").Optional().Nillable(),
		field.String("origin").Optional().Nillable(),
		field.String("origin_ref").Optional().Nillable(),
		field.String("payment_method").Optional().Nillable(),
		field.Int64("expense_count").Optional().Nillable(),
		field.Int64("expense_size_mib").Optional().Nillable(),
		field.Time("expiration_date").Optional().Nillable(),
		field.Time("message_timestamp"),
		field.Time("last_update"),
	}
}

// Indexes of the CreditHistory.
func (CreditHistory) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("credit_ref", "credit_index").Unique(),
		index.Fields("address", "message_timestamp", "credit_ref", "credit_index"),
		index.Fields("origin"),
		index.Fields("payment_method"),
		index.Fields("expiration_date"),
	}
}

// Annotations of the CreditHistory.
func (CreditHistory) Annotations() []schema.Annotation {
	return append(skipGQL(), entsql.Annotation{Table: "credit_history"})
}

// CreditBalance is one lot of credits still held by an account; expenses
// drain lots first in, first out. It can be rebuilt from CreditHistory.
type CreditBalance struct {
	ent.Schema
}

// Fields of the CreditBalance.
func (CreditBalance) Fields() []ent.Field {
	return []ent.Field{
		field.String("address"),
		field.String("credit_ref"),
		field.Int("credit_index"),
		field.Int64("amount_remaining"),
		field.Time("expiration_date").Optional().Nillable(),
		field.Time("message_timestamp"),
		field.Time("last_update"),
	}
}

// Indexes of the CreditBalance.
func (CreditBalance) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("address", "credit_ref", "credit_index").Unique(),
		index.Fields("address", "message_timestamp"),
	}
}

// Annotations of the CreditBalance.
func (CreditBalance) Annotations() []schema.Annotation { return skipGQL() }

// AccountCost is one cost line of a paid message (a VM's execution, a
// volume, a stored file), in hold, stream and credit terms.
type AccountCost struct {
	ent.Schema
}

// Fields of the AccountCost.
func (AccountCost) Fields() []ent.Field {
	return []ent.Field{
		field.String("owner"),
		field.String("item_hash").MaxLen(hashMaxLen).Immutable(),
		field.String("type").Comment("Cost type, e.g. EXECUTION, EXECUTION_VOLUME_PERSISTENT, STORAGE."),
		field.String("name"),
		field.String("ref").Optional().Nillable(),
		field.String("payment_type"),
		field.String("cost_hold").SchemaType(decimalType).Default("0"),
		field.String("cost_stream").SchemaType(decimalType).Default("0"),
		field.String("cost_credit").SchemaType(decimalType).Default("0"),
	}
}

// Edges of the AccountCost.
func (AccountCost) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("message", Message.Type).Ref("costs").Field("item_hash").Unique().Required().Immutable(),
	}
}

// Indexes of the AccountCost.
func (AccountCost) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("owner", "item_hash", "type", "name").Unique(),
		index.Fields("item_hash"),
		index.Fields("owner", "payment_type"),
	}
}

// Annotations of the AccountCost.
func (AccountCost) Annotations() []schema.Annotation { return skipGQL() }

// NodeMetric is one node's measurements from an aleph-network-metrics post
// of the scoring service.
type NodeMetric struct {
	ent.Schema
}

// Fields of the NodeMetric.
func (NodeMetric) Fields() []ent.Field {
	return []ent.Field{
		field.String("item_hash").MaxLen(hashMaxLen),
		field.Enum("node_type").Values("ccn", "crn"),
		field.String("node_id"),
		field.Time("measured_at"),
		field.JSON("data", json.RawMessage{}).SchemaType(jsonType),
	}
}

// Indexes of the NodeMetric.
func (NodeMetric) Indexes() []ent.Index {
	return []ent.Index{index.Fields("node_type", "node_id", "measured_at"), index.Fields("item_hash")}
}

// Annotations of the NodeMetric.
func (NodeMetric) Annotations() []schema.Annotation { return skipGQL() }

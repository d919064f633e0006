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

// Post is a POST message's state. An amend is a Post too, linked to the
// original it amends; the original points at its latest amend (by content
// time), which gives the merged view.
type Post struct {
	ent.Schema
}

// Fields of the Post.
func (Post) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").StorageKey("item_hash").MaxLen(hashMaxLen).NotEmpty().Immutable(),
		field.String("owner"),
		field.String("type").Comment("content.type; \"amend\" for amends."),
		field.String("ref").Optional().Nillable(),
		field.String("amends").MaxLen(hashMaxLen).Optional().Nillable().Comment("Hash of the original post, for amends."),
		field.String("channel").Optional().Nillable(),
		field.JSON("content", json.RawMessage{}).Optional().SchemaType(jsonType).Comment("content.content, raw."),
		field.Time("creation_datetime").Comment("content.time."),
		field.String("latest_amend").MaxLen(hashMaxLen).Optional().Nillable().Comment("Hash of the latest amend, on originals."),
		field.JSON("tags", []string{}).Optional(),
	}
}

// Edges of the Post.
func (Post) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("amendments", Post.Type).From("original").Field("amends").Unique(),
	}
}

// Indexes of the Post.
func (Post) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("owner", "creation_datetime"),
		index.Fields("type", "creation_datetime"),
		index.Fields("channel", "creation_datetime"),
		index.Fields("amends", "creation_datetime"),
		index.Fields("creation_datetime", "id"),
	}
}

// Annotations of the Post.
func (Post) Annotations() []schema.Annotation { return skipGQL() }

// AggregateElement is one AGGREGATE message: a partial update of the
// (owner, key) aggregate.
type AggregateElement struct {
	ent.Schema
}

// Fields of the AggregateElement.
func (AggregateElement) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").StorageKey("item_hash").MaxLen(hashMaxLen).NotEmpty().Immutable(),
		field.String("key"),
		field.String("owner"),
		field.JSON("content", json.RawMessage{}).SchemaType(jsonType),
		field.Time("creation_datetime").Comment("content.time: the merge order."),
	}
}

// Indexes of the AggregateElement.
func (AggregateElement) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("owner", "key", "creation_datetime", "id"),
		index.Fields("creation_datetime"),
	}
}

// Annotations of the AggregateElement.
func (AggregateElement) Annotations() []schema.Annotation { return skipGQL() }

// Aggregate is the merged state of all elements of one (owner, key): the
// shallow merge of their contents in content-time order.
type Aggregate struct {
	ent.Schema
}

// Fields of the Aggregate.
func (Aggregate) Fields() []ent.Field {
	return []ent.Field{
		field.String("owner"),
		field.String("key"),
		field.JSON("content", json.RawMessage{}).SchemaType(jsonType),
		field.Time("creation_datetime").Comment("content.time of the earliest element."),
		field.Time("last_updated").Comment("content.time of the latest element."),
		field.String("last_revision_hash").MaxLen(hashMaxLen),
		field.Int("element_count").Default(0),
	}
}

// Indexes of the Aggregate.
func (Aggregate) Indexes() []ent.Index {
	return []ent.Index{index.Fields("owner", "key").Unique(), index.Fields("key")}
}

// Annotations of the Aggregate.
func (Aggregate) Annotations() []schema.Annotation { return skipGQL() }

// File is a stored file (by sha256 or CID) with its size; it lives as long
// as at least one FilePin holds it.
type File struct {
	ent.Schema
}

// Fields of the File.
func (File) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").StorageKey("hash").MaxLen(hashMaxLen).NotEmpty().Immutable(),
		field.Int64("size"),
		field.Enum("type").Values("file", "dir").Default("file"),
		field.Time("created_at"),
	}
}

// Edges of the File.
func (File) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("pins", FilePin.Type).Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("tags", FileTag.Type).Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Annotations of the File.
func (File) Annotations() []schema.Annotation { return skipGQL() }

// FilePin keeps a file alive: the content of a non-inline message, a STORE
// message, an on-chain archive, or a grace period after the last pin went.
type FilePin struct {
	ent.Schema
}

// Fields of the FilePin.
func (FilePin) Fields() []ent.Field {
	return []ent.Field{
		field.String("file_hash").MaxLen(hashMaxLen),
		field.Enum("type").Values("content", "message", "tx", "grace_period"),
		field.Time("created"),
		field.String("owner").Optional().Nillable(),
		field.String("item_hash").MaxLen(hashMaxLen).Default("").Comment("Message holding the pin; \"\" for tx and grace pins."),
		field.String("ref").Optional().Nillable(),
		field.String("tx_hash").Optional().Nillable(),
		field.Time("delete_by").Optional().Nillable().Comment("End of the grace period."),
	}
}

// Edges of the FilePin.
func (FilePin) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("file", File.Type).Ref("pins").Field("file_hash").Unique().Required(),
	}
}

// Indexes of the FilePin.
func (FilePin) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("item_hash", "type", "file_hash").Unique(),
		index.Fields("file_hash"),
		index.Fields("owner"),
		index.Fields("ref"),
		index.Fields("delete_by"),
	}
}

// Annotations of the FilePin.
func (FilePin) Annotations() []schema.Annotation { return skipGQL() }

// FileTag points a tag (a STORE's item hash, its hash ref, or
// "owner/ref") at the latest version of a file.
type FileTag struct {
	ent.Schema
}

// Fields of the FileTag.
func (FileTag) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").StorageKey("tag").NotEmpty().Immutable(),
		field.String("owner"),
		field.String("file_hash").MaxLen(hashMaxLen),
		field.String("item_hash").MaxLen(hashMaxLen).Default("").Comment("STORE message of the current version."),
		field.Time("last_updated"),
	}
}

// Edges of the FileTag.
func (FileTag) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("file", File.Type).Ref("tags").Field("file_hash").Unique().Required(),
	}
}

// Indexes of the FileTag.
func (FileTag) Indexes() []ent.Index {
	return []ent.Index{index.Fields("file_hash"), index.Fields("owner")}
}

// Annotations of the FileTag.
func (FileTag) Annotations() []schema.Annotation { return skipGQL() }

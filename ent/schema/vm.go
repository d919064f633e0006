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

// VM is a PROGRAM, INSTANCE or V-PROGRAM message's state. Unlike the
// reference node, replaces is persisted (a documented improvement), so the
// version history of a program is a chain of VM rows.
type VM struct {
	ent.Schema
}

// Fields of the VM.
func (VM) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").StorageKey("item_hash").MaxLen(hashMaxLen).NotEmpty().Immutable(),
		field.Enum("type").Values("program", "instance", "vprogram"),
		field.String("owner"),
		field.Bool("allow_amend").Default(false),
		field.String("replaces").MaxLen(hashMaxLen).Optional().Nillable(),
		field.JSON("metadata", json.RawMessage{}).Optional().SchemaType(jsonType),
		field.JSON("variables", json.RawMessage{}).Optional().SchemaType(jsonType),
		field.JSON("authorized_keys", []string{}).Optional(),
		field.JSON("environment", json.RawMessage{}).Optional().SchemaType(jsonType).Comment("content.environment, raw."),
		field.String("hypervisor").Optional().Nillable(),
		field.Int64("trusted_execution_policy").Optional().Nillable(),
		field.String("trusted_execution_firmware").Optional().Nillable(),
		field.String("payment_type").Default("hold"),
		field.String("payment_chain").Optional().Nillable(),
		field.String("payment_receiver").Optional().Nillable(),
		field.Int("resources_vcpus").Default(1),
		field.Int64("resources_memory").Default(128).Comment("MiB."),
		field.Int64("resources_seconds").Default(1),
		field.JSON("published_ports", json.RawMessage{}).Optional().SchemaType(jsonType),
		field.JSON("requirements", json.RawMessage{}).Optional().SchemaType(jsonType).Comment("content.requirements, raw (cpu, node, gpu)."),
		field.String("node_hash").Optional().Nillable().Comment("requirements.node.node_hash, for lookups by node."),
		field.String("program_type").Optional().Nillable().Comment("vm-function for programs."),
		field.Bool("http_trigger").Default(false),
		field.Bool("persistent").Default(false),
		field.JSON("message_triggers", json.RawMessage{}).Optional().SchemaType(jsonType),
		field.Time("created").Comment("content.time."),
	}
}

// Edges of the VM.
func (VM) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("volumes", VMVolume.Type).Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes of the VM.
func (VM) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("owner", "created"),
		index.Fields("replaces"),
		index.Fields("node_hash"),
		index.Fields("type", "created"),
	}
}

// Annotations of the VM.
func (VM) Annotations() []schema.Annotation { return skipGQL() }

// VMVolume is every file a VM refers to, in one table: machine volumes
// (immutable, ephemeral, persistent), program code/runtime/data/export,
// an instance's rootfs and a V-PROGRAM's verified volumes. One table with an
// index on ref answers "is this file used by a VM?" (FORGET's rule 503) and
// the dependency checks with one query.
type VMVolume struct {
	ent.Schema
}

// Fields of the VMVolume.
func (VMVolume) Fields() []ent.Field {
	return []ent.Field{
		field.String("vm_hash").MaxLen(hashMaxLen).Immutable(),
		field.Enum("kind").Values("immutable", "ephemeral", "persistent", "code", "runtime", "data", "export", "rootfs", "workload", "verified"),
		field.Int("position").Default(0).Comment("Index in content.volumes; 0 for single volumes."),
		field.String("ref").MaxLen(hashMaxLen).Optional().Nillable().Comment("Referenced file: the volume's ref or a persistent volume's parent ref."),
		field.Bool("use_latest").Default(false),
		field.String("mount").Optional().Nillable(),
		field.Text("comment").Optional().Nillable(),
		field.String("name").Optional().Nillable(),
		field.Int64("size_mib").Optional().Nillable(),
		field.String("persistence").Optional().Nillable(),
		field.String("encoding").Optional().Nillable(),
		field.String("entrypoint").Optional().Nillable(),
		field.String("interface").Optional().Nillable(),
		field.JSON("args", []string{}).Optional(),
		field.String("hash_tree").Optional().Nillable(),
		field.String("roothash").Optional().Nillable(),
	}
}

// Edges of the VMVolume.
func (VMVolume) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("vm", VM.Type).Ref("volumes").Field("vm_hash").Unique().Required().Immutable(),
	}
}

// Indexes of the VMVolume.
func (VMVolume) Indexes() []ent.Index {
	return []ent.Index{index.Fields("vm_hash", "kind", "position").Unique(), index.Fields("ref")}
}

// Annotations of the VMVolume.
func (VMVolume) Annotations() []schema.Annotation { return skipGQL() }

// VMVersion points a VM (its first message's hash) at its current version.
type VMVersion struct {
	ent.Schema
}

// Fields of the VMVersion.
func (VMVersion) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").StorageKey("vm_hash").MaxLen(hashMaxLen).NotEmpty().Immutable(),
		field.String("owner"),
		field.String("current_version").MaxLen(hashMaxLen),
		field.Time("last_updated"),
	}
}

// Indexes of the VMVersion.
func (VMVersion) Indexes() []ent.Index {
	return []ent.Index{index.Fields("owner"), index.Fields("current_version")}
}

// Annotations of the VMVersion.
func (VMVersion) Annotations() []schema.Annotation { return skipGQL() }

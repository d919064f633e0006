//go:build ignore

// Command entc generates the ent client, with entgql's Relay pagination,
// node lookup and field collection helpers. It is run by `go generate ./ent`.
// The GraphQL schema itself is written by hand under ../graph/schema: the API
// exposes global ids, upper-case enums and types that span several tables,
// which a schema generated table by table cannot express.
package main

import (
	"log"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
)

func main() {
	ex, err := entgql.NewExtension(
		entgql.WithConfigPath("../gqlgen.yml"),
		entgql.WithWhereInputs(false),
	)
	if err != nil {
		log.Fatalf("creating entgql extension: %v", err)
	}
	opts := []entc.Option{
		entc.Extensions(ex),
		entc.FeatureNames(
			"sql/upsert",
			"sql/execquery",
			"sql/lock",
			"sql/modifier",
			"sql/versioned-migration",
		),
	}
	if err := entc.Generate("./schema", &gen.Config{}, opts...); err != nil {
		log.Fatalf("running ent codegen: %v", err)
	}
}

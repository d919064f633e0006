//go:build ignore

// Command rehash rewrites atlas.sum of each dialect's migration directory
// from the files it holds: after two branches each added a migration, the
// merged directory holds both and only the sum file conflicts. Run it
// through `make migrate-hash`.
package main

import (
	"log"
	"path/filepath"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/sqltool"
)

func main() {
	for _, dia := range []string{"sqlite", "postgres"} {
		dir, err := sqltool.NewGooseDir(filepath.Join("ent", "migrate", "migrations", dia))
		if err != nil {
			log.Fatal(err)
		}
		sum, err := dir.Checksum()
		if err != nil {
			log.Fatalf("%s: %v", dia, err)
		}
		if err := migrate.WriteSumFile(dir, sum); err != nil {
			log.Fatalf("%s: %v", dia, err)
		}
	}
}

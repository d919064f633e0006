//go:build ignore

// Command diff writes a new versioned migration for one dialect: it replays
// the committed migrations into a clean development database, diffs the
// result against the ent schema and writes the difference as a goose file.
// Run it through `make migrate-diff NAME=...`, which provides the databases.
//
//	go run ./ent/migrate/diff.go -dialect sqlite -name add_foo
//	go run ./ent/migrate/diff.go -dialect postgres -dev postgres://... -name add_foo
package main

import (
	"context"
	"database/sql"
	"flag"
	"log"
	"os"
	"path/filepath"

	"ariga.io/atlas/sql/sqltool"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/alephql/alephql/ent/migrate"
)

func main() {
	dia := flag.String("dialect", "sqlite", "sqlite or postgres")
	dev := flag.String("dev", "", "clean PostgreSQL development database URL (postgres only)")
	name := flag.String("name", "", "migration name")
	flag.Parse()
	if *name == "" {
		log.Fatal("-name is required")
	}
	var (
		db  *sql.DB
		err error
		d   string
	)
	switch *dia {
	case "sqlite":
		tmp, terr := os.MkdirTemp("", "alephql-diff")
		if terr != nil {
			log.Fatal(terr)
		}
		defer os.RemoveAll(tmp)
		d = dialect.SQLite
		db, err = sql.Open("sqlite", "file:"+filepath.Join(tmp, "dev.db")+"?_pragma=foreign_keys(1)")
	case "postgres":
		d = dialect.Postgres
		db, err = sql.Open("pgx", *dev)
	default:
		log.Fatalf("unknown dialect %q", *dia)
	}
	if err != nil {
		log.Fatal(err)
	}
	dir, err := sqltool.NewGooseDir(filepath.Join("ent", "migrate", "migrations", *dia))
	if err != nil {
		log.Fatal(err)
	}
	s := migrate.NewSchema(entsql.OpenDB(d, db))
	err = s.NamedDiff(context.Background(), *name,
		schema.WithDir(dir),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(d),
		schema.WithFormatter(sqltool.GooseFormatter),
		schema.WithDropIndex(true),
		schema.WithDropColumn(true),
	)
	if err != nil {
		log.Fatal(err)
	}
}

package main

import (
	"context"
	"fmt"
	"io"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/alephql/alephql/database"
)

func newMigrateCommand(stderr io.Writer) *ffcli.Command {
	var f commonFlags
	fs := quietFlagSet("alephql migrate")
	f.register(fs)
	return &ffcli.Command{
		Name:       "migrate",
		ShortUsage: "alephql migrate [flags]",
		ShortHelp:  "Apply pending database migrations and exit.",
		LongHelp: `Apply every pending migration to the database, each in its own transaction,
and exit. serve does the same at start; use migrate to upgrade a database
ahead of rolling out new nodes.`,
		FlagSet: fs,
		Options: ffOptions(),
		Exec: func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("migrate takes no arguments, got %q", args)}
			}
			log, err := f.logger(stderr)
			if err != nil {
				return err
			}
			cfg, err := f.databaseConfig()
			if err != nil {
				return err
			}
			db, err := database.Open(ctx, cfg, log)
			if err != nil {
				return fmt.Errorf("--db (ALEPHQL_DB): %w", err)
			}
			defer db.Close()
			res, err := db.Migrate(ctx, log)
			if err != nil {
				return fmt.Errorf("--db (ALEPHQL_DB) %s: %w", db.Name, err)
			}
			log.Info("database up to date", "from", res.From, "to", res.To, "applied", len(res.Applied))
			return nil
		},
	}
}

func newVersionCommand(stdout io.Writer) *ffcli.Command {
	return &ffcli.Command{
		Name:       "version",
		ShortUsage: "alephql version",
		ShortHelp:  "Print the version.",
		FlagSet:    quietFlagSet("alephql version"),
		Exec: func(context.Context, []string) error {
			_, _ = fmt.Fprintf(stdout, "alephql %s\n", version)
			return nil
		},
	}
}

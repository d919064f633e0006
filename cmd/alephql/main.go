// Command alephql is the alephql node: a GraphQL-first indexer and query
// node for the Aleph.im network.
//
//	alephql [serve] [flags]   run the node (the default)
//	alephql migrate [flags]   apply database migrations and exit
//	alephql import FILE|-     bulk-load messages through the pipeline
//	alephql demo              keep submitting fresh signed messages
//	alephql version           print the version
//
// Every flag can also be set by an environment variable (ALEPHQL_ and the
// flag name in upper case with dashes as underscores) or in a config file
// (--config): one "flag value" pair per line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/peterbourgon/ff/v3/ffcli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// usageError marks errors in the command line itself; they exit with status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args until ctx ends and returns the process's
// exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	serve := newServeCommand(stdout, stderr)
	cmds := []*ffcli.Command{serve, newMigrateCommand(stderr), newImportCommand(stdout, stderr), newJobsCommand(stdout, stderr), newDemoCommand(stdout, stderr), newVersionCommand(stdout)}
	root := &ffcli.Command{
		Name:       "alephql",
		ShortUsage: "alephql [serve|migrate|import|demo|version] [flags]",
		ShortHelp:  "GraphQL-first indexer and query node for the Aleph.im network.",
		LongHelp:   "Without a subcommand, alephql runs `serve`. Run `alephql serve --help` for every setting.",
		FlagSet:    quietFlagSet("alephql"),
		// Flags given before any subcommand belong to serve.
		Subcommands: cmds,
		Exec: func(ctx context.Context, args []string) error {
			return serve.ParseAndRun(ctx, args)
		},
	}
	// A leading flag means "serve with these flags".
	if len(args) > 0 && strings.HasPrefix(args[0], "-") && !isHelp(args[0]) {
		args = append([]string{"serve"}, args...)
	}
	err := root.ParseAndRun(ctx, args)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		_, _ = fmt.Fprintln(stdout, usageFor(root, cmds, args))
		return 0
	}
	_, _ = fmt.Fprintf(stderr, "alephql: %s\n", oneLine(err))
	var ue usageError
	if errors.As(err, &ue) || isFlagError(err) {
		return 2
	}
	return 1
}

func isHelp(a string) bool {
	switch a {
	case "-h", "-help", "--help":
		return true
	}
	return false
}

// isFlagError recognises the flag package's parse errors.
func isFlagError(err error) bool {
	s := err.Error()
	return strings.Contains(s, "flag provided but not defined") ||
		strings.Contains(s, "invalid value") ||
		strings.Contains(s, "flag needs an argument") ||
		strings.Contains(s, "error parsing commandline arguments")
}

// usageFor returns the help text of the subcommand named in args.
func usageFor(root *ffcli.Command, cmds []*ffcli.Command, args []string) string {
	for _, a := range args {
		for _, c := range cmds {
			if a == c.Name {
				return ffcli.DefaultUsageFunc(c)
			}
		}
	}
	return ffcli.DefaultUsageFunc(root)
}

// quietFlagSet returns a flag set that prints nothing itself: errors are
// printed once, as one line, by run.
func quietFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// oneLine flattens a multi-line error (pgx reports one line per address
// tried) so that the process ends with exactly one line of error.
func oneLine(err error) string {
	s := strings.ReplaceAll(err.Error(), "\n\t", "; ")
	return strings.ReplaceAll(s, "\n", " ")
}

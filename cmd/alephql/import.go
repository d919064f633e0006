package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"golang.org/x/sync/errgroup"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/ent/messageevent"
	"github.com/alephql/alephql/ipfs"
	"github.com/alephql/alephql/processor"
)

type importFlags struct {
	commonFlags
	pipeline pipelineFlags
	ipfsAPI  string
	noWait   bool
}

func newImportCommand(stdout, stderr io.Writer) *ffcli.Command {
	var f importFlags
	fs := quietFlagSet("alephql import")
	f.commonFlags.register(fs)
	f.pipeline.register(fs)
	fs.StringVar(&f.ipfsAPI, "ipfs-api", "", "kubo RPC API for non-inline content; empty: local files only (env ALEPHQL_IPFS_API)")
	fs.BoolVar(&f.noWait, "no-wait", false, "only queue the messages; a running node processes them (env ALEPHQL_NO_WAIT)")
	return &ffcli.Command{
		Name:       "import",
		ShortUsage: "alephql import [flags] FILE|-",
		ShortHelp:  "Bulk-load messages through the processing pipeline.",
		LongHelp: `Read wire messages from FILE (or standard input with -): a JSON array, JSON
lines, or an on-chain sync archive {"protocol":"aleph","version":1,
"content":{"messages":[...]}}. Every message goes through the same intake
as the API (malformed ones are recorded as rejected), then the processor
applies them; the command ends when the queue is empty and prints a summary.`,
		FlagSet: fs,
		Options: ffOptions(),
		Exec: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("import takes one argument: a file, or - for standard input")}
			}
			return runImport(ctx, f, args[0], stdout, stderr)
		},
	}
}

// openPipeline opens and migrates the database and builds a processor.
func openPipeline(ctx context.Context, c commonFlags, pf pipelineFlags, ipfsAPI string, log *slog.Logger) (*database.DB, *processor.Processor, error) {
	dbCfg, err := c.databaseConfig()
	if err != nil {
		return nil, nil, err
	}
	db, err := database.Open(ctx, dbCfg, log)
	if err != nil {
		return nil, nil, fmt.Errorf("--db (ALEPHQL_DB): %w", err)
	}
	if _, err := db.Migrate(ctx, log); err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("--db (ALEPHQL_DB) %s: %w", db.Name, err)
	}
	svc, err := ipfs.New(ipfs.Config{Dir: filepath.Join(c.dataDir, "files"), API: ipfsAPI}, nil, log)
	if err != nil {
		_ = db.Close()
		return nil, nil, usageError{fmt.Errorf("--ipfs-api (ALEPHQL_IPFS_API) / --data-dir: %w", err)}
	}
	p, err := newProcessor(pf, db, svc, nil, nil, log)
	if err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	return db, p, nil
}

func runImport(ctx context.Context, f importFlags, file string, stdout, stderr io.Writer) error {
	defer processor.TuneImportGC()()
	log, err := f.logger(stderr)
	if err != nil {
		return err
	}
	var in io.Reader = os.Stdin
	if file != "-" {
		fh, err := os.Open(file)
		if err != nil {
			return usageError{err}
		}
		defer fh.Close()
		in = fh
	}
	db, p, err := openPipeline(ctx, f.commonFlags, f.pipeline, f.ipfsAPI, log)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := p.SeedErrorCodes(ctx); err != nil {
		return err
	}
	startSeq, err := db.Client.MessageEvent.Query().Aggregate(entMax(messageevent.FieldID)).Int(ctx)
	if err != nil {
		startSeq = 0
	}
	tty := isTerminal(stderr)
	start := time.Now()

	g, gctx := errgroup.WithContext(ctx)
	pctx, stopProc := context.WithCancel(gctx)
	defer stopProc()
	if !f.noWait {
		g.Go(func() error { return p.Run(pctx) })
	}
	var sum processor.ImportSummary
	g.Go(func() error {
		defer stopProc()
		var err error
		sum, err = p.Import(gctx, in, 500, func(s processor.ImportSummary) {
			if tty {
				_, _ = fmt.Fprintf(stderr, "\rread %d  queued %d  duplicate %d  rejected %d  (%.0f msg/s)   ",
					s.Read, s.Queued, s.Duplicate, s.Rejected, float64(s.Read)/time.Since(start).Seconds())
			}
		})
		if err != nil || f.noWait {
			return err
		}
		// Wait for the queue to empty.
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			n, err := p.Pending(gctx)
			if err != nil {
				return err
			}
			if tty {
				_, _ = fmt.Fprintf(stderr, "\rread %d  queued %d  waiting %d   (%.1fs)          ", sum.Read, sum.Queued, n, time.Since(start).Seconds())
			}
			if n == 0 {
				return nil
			}
			select {
			case <-gctx.Done():
				return gctx.Err()
			case <-t.C:
			}
		}
	})
	err = g.Wait()
	if tty {
		_, _ = fmt.Fprintln(stderr)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	// The planner's statistics of the tables just filled, so that the
	// node serving them plans its queries for their size at once.
	if ctx.Err() == nil {
		if err := db.Analyze(ctx); err != nil {
			return err
		}
	}
	elapsed := time.Since(start)
	var kinds []struct {
		Kind  string `json:"kind"`
		Count int    `json:"count"`
	}
	err = db.Client.MessageEvent.Query().Where(messageevent.IDGT(int64(startSeq))).
		GroupBy(messageevent.FieldKind).Aggregate(entCount()).Scan(context.WithoutCancel(ctx), &kinds)
	if err != nil {
		return err
	}
	by := map[string]int{}
	for _, k := range kinds {
		by[k.Kind] = k.Count
	}
	_, _ = fmt.Fprintf(stdout, "imported %d messages in %s (%.0f msg/s): queued %d, duplicates %d, rejected at intake %d; processed %d, rejected %d, forgotten %d, confirmed %d\n",
		sum.Read, elapsed.Round(time.Millisecond), float64(sum.Read)/elapsed.Seconds(),
		sum.Queued, sum.Duplicate, sum.Rejected,
		by["processed"], by["rejected"]-sum.Rejected, by["forgotten"], by["confirmed"])
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

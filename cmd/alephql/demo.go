package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"golang.org/x/sync/errgroup"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/demo"
)

type demoFlags struct {
	commonFlags
	pipeline pipelineFlags
	rate     float64
	accounts int
	count    int
	process  bool
	write    string
}

func newDemoCommand(stdout, stderr io.Writer) *ffcli.Command {
	var f demoFlags
	fs := quietFlagSet("alephql demo")
	f.commonFlags.register(fs)
	f.pipeline.register(fs)
	fs.Float64Var(&f.rate, "rate", 5, "messages per second (env ALEPHQL_RATE)")
	fs.IntVar(&f.accounts, "accounts", 6, "demo accounts (fresh keys) signing the messages (env ALEPHQL_ACCOUNTS)")
	fs.IntVar(&f.count, "count", 0, "stop after this many messages; 0: until interrupted (env ALEPHQL_COUNT)")
	fs.StringVar(&f.write, "write", "", "write --count messages as JSON lines to this file (- for standard output) instead of submitting them (env ALEPHQL_WRITE)")
	fs.BoolVar(&f.process, "process", false, "also run a processor here (when no node runs on this database) (env ALEPHQL_PROCESS)")
	return &ffcli.Command{
		Name:       "demo",
		ShortUsage: "alephql demo [flags]",
		ShortHelp:  "Keep submitting fresh signed messages, to watch live subscriptions.",
		LongHelp: `Generate keys, then submit signed POST, amend, AGGREGATE and FORGET messages
at --rate into the database of a running node (same --db / --data-dir), whose
processor applies them and whose subscriptions show them live.`,
		FlagSet: fs,
		Options: ffOptions(),
		Exec: func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("demo takes no arguments, got %q", args)}
			}
			if f.rate <= 0 {
				return usageError{errors.New("--rate must be positive")}
			}
			if f.write != "" {
				return writeDemo(f, stdout)
			}
			return runDemo(ctx, f, stdout, stderr)
		},
	}
}

func runDemo(ctx context.Context, f demoFlags, stdout, stderr io.Writer) error {
	log, err := f.logger(stderr)
	if err != nil {
		return err
	}
	db, p, err := openPipeline(ctx, f.commonFlags, f.pipeline, "", log)
	if err != nil {
		return err
	}
	defer db.Close()
	d, err := demo.NewDataset(f.accounts, float64(time.Now().Unix()), uint64(time.Now().UnixNano()))
	if err != nil {
		return err
	}
	_, _ = fmt.Fprintf(stdout, "submitting %.1f messages/s from %d demo accounts (first: %s); Ctrl-C to stop\n", f.rate, len(d.Accounts), d.Accounts[0].Address())
	g, gctx := errgroup.WithContext(ctx)
	if f.process {
		g.Go(func() error { return p.Run(gctx) })
	}
	g.Go(func() error {
		tick := time.NewTicker(time.Duration(float64(time.Second) / f.rate))
		defer tick.Stop()
		for n := 0; f.count == 0 || n < f.count; n++ {
			select {
			case <-gctx.Done():
				return gctx.Err()
			case <-tick.C:
			}
			raw, hash, err := d.Next()
			if err != nil {
				return err
			}
			// Demo messages carry the current time, so they appear live.
			if _, err := p.Submit(gctx, raw, processor.OriginAPI, nil); err != nil {
				log.Warn("demo message refused", "item_hash", hash, "err", err)
			}
		}
		return errStop
	})
	err = g.Wait()
	if errors.Is(err, errStop) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// errStop ends the demo after --count messages.
var errStop = errors.New("demo: done")

// entCount and entMax are the aggregate functions the summaries use.
func entCount() ent.AggregateFunc           { return ent.Count() }
func entMax(field string) ent.AggregateFunc { return ent.Max(field) }

// writeDemo writes --count demo messages as JSON lines, for import.
func writeDemo(f demoFlags, stdout io.Writer) error {
	if f.count <= 0 {
		return usageError{errors.New("--write needs --count")}
	}
	w := stdout
	if f.write != "-" {
		fh, err := os.Create(f.write)
		if err != nil {
			return usageError{err}
		}
		defer fh.Close()
		w = fh
	}
	d, err := demo.NewDataset(f.accounts, float64(time.Now().Add(-time.Duration(f.count)*time.Second).Unix()), uint64(time.Now().UnixNano()))
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	for range f.count {
		raw, _, err := d.Next()
		if err != nil {
			return err
		}
		_, _ = bw.Write(raw)
		_ = bw.WriteByte('\n')
	}
	return bw.Flush()
}

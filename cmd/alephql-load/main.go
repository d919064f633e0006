// Command alephql-load is the API benchmark's load generator (issue 5): it
// samples channels, hashes, senders and deep-page cursors from an alephql
// PostgreSQL database, then drives concurrent clients against a node's
// GraphQL endpoint, its REST API and its benchmark baseline (serve
// --bench-baseline), scenario by scenario, and prints req/s, p50/p95/p99,
// errors and the GraphQL/baseline and REST/GraphQL ratios as a Markdown
// table.
// scripts/bench-api.sh runs it with everything it needs.
//
//	alephql-load -url http://127.0.0.1:4024 -db postgres://... [-clients 16] [-duration 20s]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/alephql/alephql/bench/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "alephql-load:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("alephql-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg loadgen.Config
	fs.StringVar(&cfg.BaseURL, "url", "http://127.0.0.1:4024", "base URL of the node (serving /graphql and, with --bench-baseline, /bench/baseline/)")
	db := fs.String("db", "", "PostgreSQL URL of the node's database, to sample request parameters from (required)")
	fs.IntVar(&cfg.Clients, "clients", 16, "concurrent clients")
	fs.DurationVar(&cfg.Duration, "duration", 20*time.Second, "measured time per scenario and target")
	fs.DurationVar(&cfg.Warmup, "warmup", 3*time.Second, "unmeasured warm-up before each measurement")
	uncached := fs.String("uncached-url", "", "base URL of a second node on the same database run with --graphql-answer-cache=false, for the "+loadgen.TargetGraphQLUncached+" target")
	depth := fs.Int("depth", 500000, "position of the deep page in the whole feed (at most half the messages)")
	scenarios := fs.String("scenarios", strings.Join(loadgen.APIScenarios, ","), "scenarios to run: "+strings.Join(loadgen.APIScenarios, ","))
	targets := fs.String("targets", "", "targets, each scenario in this order (default baseline,graphql,rest and, with -uncached-url, graphql-uncached)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *db == "" {
		return fmt.Errorf("-db is required")
	}
	if *targets == "" {
		*targets = loadgen.TargetBaseline + "," + loadgen.TargetGraphQL + "," + loadgen.TargetREST
		if *uncached != "" {
			*targets += "," + loadgen.TargetGraphQLUncached
		}
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	sample, err := loadgen.LoadSample(ctx, *db, *depth)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "sample: %d messages, %d channels, %d hashes, %d senders, deep page at %d\n",
		sample.Messages, len(sample.Channels), len(sample.Hashes), len(sample.Senders), sample.Depth)
	var results []loadgen.Result
	for _, name := range strings.Split(*scenarios, ",") {
		for _, target := range strings.Split(*targets, ",") {
			sc, err := sample.APIScenario(name, target)
			if err != nil {
				return err
			}
			if len(sc.Requests) == 0 {
				continue // no twin of this scenario on this target
			}
			if target == loadgen.TargetGraphQLUncached {
				if *uncached == "" {
					return fmt.Errorf("target %s needs -uncached-url", target)
				}
				sc.BaseURL = *uncached
			}
			r, err := loadgen.Run(ctx, cfg, sc)
			if err != nil {
				return fmt.Errorf("%s/%s: %w", name, target, err)
			}
			fmt.Fprintf(stderr, "%s/%s: %.0f req/s, p50 %v p95 %v p99 %v, %d errors\n", name, target, r.RPS(), r.P50, r.P95, r.P99, r.Errors)
			results = append(results, r)
		}
	}
	fmt.Fprintf(stdout, "\nAPI benchmark: %d messages, %d clients, %v per run after %v warm-up, deep page at %d\n\n",
		sample.Messages, cfg.Clients, cfg.Duration, cfg.Warmup, sample.Depth)
	loadgen.WriteTable(stdout, results)
	return nil
}

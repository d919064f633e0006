// Command alephql-subload is the subscription benchmark's load client: it
// opens many filtered websocket subscriptions on a running node, submits
// signed messages at a fixed rate through the node's GraphQL mutation and
// prints delivery latency, loss and duplication under periodic resumes,
// and the node's CPU and RSS per idle subscriber. scripts/bench-subs.sh
// starts a node and runs it; see there for the one-command run.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/alephql/alephql/bench/subload"
)

func main() {
	var cfg subload.Config
	flag.StringVar(&cfg.URL, "url", "http://127.0.0.1:4024", "the node's base URL")
	flag.IntVar(&cfg.Subscribers, "subscribers", 10000, "concurrent subscriptions, one websocket each")
	flag.Float64Var(&cfg.Rate, "rate", 100, "messages submitted per second")
	flag.DurationVar(&cfg.Duration, "duration", 60e9, "how long messages are submitted")
	flag.IntVar(&cfg.Channels, "channels", 100, "channels the messages are spread over; subscriber i filters on channel i mod channels")
	flag.Float64Var(&cfg.ResumeFraction, "resume-fraction", 0.1, "share of the subscribers that disconnect and resume every -resume-every")
	flag.DurationVar(&cfg.ResumeEvery, "resume-every", 10e9, "interval of the disconnect-and-resume cycles")
	flag.IntVar(&cfg.NodePID, "pid", 0, "the node's process id, for CPU and RSS from /proc (0: skip)")
	flag.Parse()
	if cfg.ResumeFraction == 0 {
		cfg.ResumeFraction = -1 // none (zero in Config is the default)
	}

	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "subload")
	if err := raiseFileLimit(); err != nil {
		log.Warn("raise the open-file limit", "err", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := subload.Run(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "alephql-subload:", err)
		os.Exit(1)
	}
	rep.Print(os.Stdout)
	if rep.Pass() {
		fmt.Println("targets: met")
	} else {
		fmt.Println("targets: MISSED")
	}
}

// raiseFileLimit lifts the soft open-file limit to the hard one: each
// subscriber holds a socket.
func raiseFileLimit() error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return err
	}
	l.Cur = l.Max
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
}

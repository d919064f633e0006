package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/alephql/alephql/bench/baseline"
	"github.com/alephql/alephql/cache"
	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/graph"
	"github.com/alephql/alephql/graph/graphiql"
	"github.com/alephql/alephql/live"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/handler"
	"github.com/alephql/alephql/read"
	"github.com/alephql/alephql/rest"
	"github.com/alephql/alephql/server"
)

type serveFlags struct {
	commonFlags
	listen          string
	redis           string
	shutdownTimeout time.Duration
	maxPageSize     int
	maxDepth        int
	maxComplexity   int
	requestTimeout  time.Duration
	submitWait      time.Duration
	limits          server.Limits
	persistedOnly   string
	trustedProxies  string
	maxBodyBytes    int64
	benchBaseline   bool
	answerCache     bool
	debugListen     string
	adminPublicKey  string
	gcPercent       int
	memoryLimitMiB  int64
	storage         storageFlags
	pipeline        pipelineFlags
	billing         billingFlags
	chains          chainFlags
	network         networkFlags
}

func newServeCommand(stdout, stderr io.Writer) *ffcli.Command {
	var f serveFlags
	fs := quietFlagSet("alephql serve")
	f.commonFlags.register(fs)
	f.storage.register(fs)
	f.pipeline.register(fs)
	f.pipeline.registerSample(fs)
	f.billing.register(fs)
	f.chains.register(fs)
	f.billing.registerEnable(fs)
	f.network.register(fs)
	fs.StringVar(&f.listen, "listen", "127.0.0.1:4024", "HTTP listen address (env ALEPHQL_LISTEN)")
	fs.StringVar(&f.redis, "redis", "", "Redis URL (redis://host:port/db) for the shared cache and live feeds; empty: in-process (env ALEPHQL_REDIS)")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 15*time.Second, "time given to in-flight requests on shutdown (env ALEPHQL_SHUTDOWN_TIMEOUT)")
	fs.IntVar(&f.maxPageSize, "graphql-max-page-size", 200, "largest first/last a list accepts (env ALEPHQL_GRAPHQL_MAX_PAGE_SIZE)")
	fs.IntVar(&f.maxDepth, "graphql-max-depth", 12, "deepest selection nesting a query may have (env ALEPHQL_GRAPHQL_MAX_DEPTH)")
	fs.IntVar(&f.maxComplexity, "graphql-max-complexity", 5000, "largest query complexity accepted (env ALEPHQL_GRAPHQL_MAX_COMPLEXITY)")
	fs.DurationVar(&f.requestTimeout, "graphql-request-timeout", 30*time.Second, "time limit of one query or mutation (env ALEPHQL_GRAPHQL_REQUEST_TIMEOUT)")
	fs.DurationVar(&f.submitWait, "graphql-submit-wait", 5*time.Second, "longest wait of submitMessage(sync: true) for the processing result before it answers PENDING; also ends before the request timeout (env ALEPHQL_GRAPHQL_SUBMIT_WAIT)")
	fs.Float64Var(&f.limits.RatePerSecond, "rate-limit", 0, "requests per second allowed to one client IP on every route but the probes and /metrics, answered 429 with Retry-After beyond; 0: no limit (env ALEPHQL_RATE_LIMIT)")
	fs.IntVar(&f.limits.RateBurst, "rate-burst", 0, "requests a client may send at once above --rate-limit; 0: twice the rate (env ALEPHQL_RATE_BURST)")
	fs.IntVar(&f.limits.MaxWebsocketsPerIP, "ws-max-per-ip", 0, "open websockets allowed to one client IP, closed with 1013 beyond; 0: no limit (env ALEPHQL_WS_MAX_PER_IP)")
	fs.IntVar(&f.limits.MaxWebsockets, "ws-max", 50000, "open websockets allowed in total, closed with 1013 beyond; 0: no limit (env ALEPHQL_WS_MAX)")
	fs.StringVar(&f.trustedProxies, "trusted-proxies", "", "comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For names the client for the rate and websocket limits; empty: the TCP peer is the client (env ALEPHQL_TRUSTED_PROXIES)")
	fs.StringVar(&f.persistedOnly, "graphql-persisted-only", "", "public deployments: serve only the operations of this file (a JSON object of sha256 hash to query, as automatic persisted queries send them); any other query is refused with PERSISTED_QUERY_NOT_ALLOWED; empty: any query (env ALEPHQL_GRAPHQL_PERSISTED_ONLY)")
	fs.Int64Var(&f.maxBodyBytes, "graphql-max-body-bytes", 1<<20, "largest request body accepted (env ALEPHQL_GRAPHQL_MAX_BODY_BYTES)")
	fs.BoolVar(&f.answerCache, "graphql-answer-cache", true, "cache whole answers of feed queries (messages by channel, address pages) and of the hot REST GET routes, invalidated exactly by the outbox (env ALEPHQL_GRAPHQL_ANSWER_CACHE)")
	fs.StringVar(&f.debugListen, "debug-listen", "", "address of Go's profiler (/debug/pprof/), apart from the API; a loopback address, never a public one; empty: off (env ALEPHQL_DEBUG_LISTEN)")
	fs.IntVar(&f.gcPercent, "gc-percent", 100, "the Go collector's GOGC; a node catching up on history (chain archives, a followed peer) spends less CPU at 400 with --memory-limit 320, as alephql import runs, while 100 keeps a serving node's RSS small (env ALEPHQL_GC_PERCENT; GOGC or GOMEMLIMIT in the environment overrides both)")
	fs.Int64Var(&f.memoryLimitMiB, "memory-limit", 0, "the Go collector's soft memory limit in MiB: near it the collector runs as often as it must, whatever --gc-percent; 0: none (env ALEPHQL_MEMORY_LIMIT)")
	fs.StringVar(&f.adminPublicKey, "admin-public-key", "", "hex secp256k1 public key that signs X-Auth-Token for the REST admin routes (price recalculation); empty: those routes answer 403 (env ALEPHQL_ADMIN_PUBLIC_KEY)")
	fs.BoolVar(&f.benchBaseline, "bench-baseline", false, "benchmark aid: also serve /bench/baseline/, the API benchmark's queries answered with pgx and no GraphQL (PostgreSQL only; see scripts/bench-api.sh) (env ALEPHQL_BENCH_BASELINE)")
	return &ffcli.Command{
		Name:       "serve",
		ShortUsage: "alephql serve [flags]",
		ShortHelp:  "Run the node: migrate the database, then serve GraphQL and GraphiQL.",
		LongHelp: `Run the node. On a fresh machine it needs nothing else: the database is a
SQLite file under --data-dir. For production point --db at PostgreSQL and
--redis at Redis; several nodes may share them.

Every flag can be set as an environment variable, ALEPHQL_ followed by the
flag name in upper case with dashes as underscores (ALEPHQL_DB,
ALEPHQL_LISTEN, ...), or in the file named by --config, one "flag value"
pair per line. Flags win over the environment, which wins over the file.`,
		FlagSet: fs,
		Options: ffOptions(),
		Exec: func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("serve takes no arguments, got %q", args)}
			}
			return serveNode(ctx, f, stdout, stderr)
		},
	}
}

func serveNode(ctx context.Context, f serveFlags, stdout, stderr io.Writer) error {
	log, err := f.logger(stderr)
	if err != nil {
		return err
	}
	dbCfg, err := f.databaseConfig()
	if err != nil {
		return err
	}
	limits := graph.Limits{MaxPageSize: f.maxPageSize, MaxDepth: f.maxDepth, MaxComplexity: f.maxComplexity}
	if err := limits.Validate(); err != nil {
		return usageError{fmt.Errorf("--graphql-*: %w", err)}
	}
	for _, s := range strings.Split(f.trustedProxies, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return usageError{fmt.Errorf("--trusted-proxies (ALEPHQL_TRUSTED_PROXIES): %q is neither an IP nor a CIDR", s)}
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		f.limits.TrustedProxies = append(f.limits.TrustedProxies, p)
	}
	if err := f.limits.Validate(); err != nil {
		return usageError{fmt.Errorf("--rate-limit, --rate-burst, --ws-max-per-ip, --ws-max: %w", err)}
	}
	if f.gcPercent <= 0 || f.memoryLimitMiB < 0 {
		return usageError{errors.New("--gc-percent must be positive and --memory-limit at least 0")}
	}
	defer processor.TuneGC(f.gcPercent, f.memoryLimitMiB<<20)()
	srvCfg := server.Config{Listen: f.listen, ShutdownTimeout: f.shutdownTimeout, Limits: f.limits}
	if err := srvCfg.Validate(); err != nil {
		return usageError{fmt.Errorf("--listen (ALEPHQL_LISTEN): %w", err)}
	}

	db, err := database.Open(ctx, dbCfg, log)
	if err != nil {
		return fmt.Errorf("--db (ALEPHQL_DB): %w", err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx, log); err != nil {
		return fmt.Errorf("--db (ALEPHQL_DB) %s: %w", db.Name, err)
	}
	// disk: the data directory (embedded database, local files) keeps
	// minFreeDisk free; below it writes are about to fail (507).
	checks := []server.Check{{Name: "database", Check: db.Ready}, {Name: "disk", Check: server.DiskCheck(f.dataDir, minFreeDisk)}}

	// bus carries the processor's events to the subscription hub: in
	// process, or through Redis so that every node sharing the database
	// hears every node's events. Either way the hub reads the outbox, so
	// events lost by the bus delay a feed, never break it.
	var bus events.Bus = events.NewLocal(0)
	var runBus func(context.Context) error
	// rowCache holds hot rows (messages, aggregates, posts, file metadata): in Redis,
	// shared by the nodes, or in process. The hub validates entries against
	// the outbox (see package cache), so no node ever serves stale rows.
	var rowCache cache.Cache
	if f.redis == "" {
		if rowCache, err = cache.NewLRU(rowCacheSize, rowCacheTTL); err != nil {
			return err
		}
	} else {
		rdb, err := openRedis(ctx, f.redis)
		if err != nil {
			return fmt.Errorf("--redis (ALEPHQL_REDIS): %w", err)
		}
		defer rdb.Close()
		checks = append(checks, server.Check{Name: "redis", Check: func(ctx context.Context) error {
			return rdb.Ping(ctx).Err()
		}})
		rbus, err := events.NewRedis(ctx, rdb, events.DefaultRedisChannel, 0, log)
		if err != nil {
			return fmt.Errorf("--redis (ALEPHQL_REDIS): %w", err)
		}
		bus, runBus = rbus, rbus.Run
		rowCache = cache.NewRedis(rdb, "alephql:cache:")
	}

	store, err := newStorageWithPeers(f.storage, f.dataDir, db.Client, f.network, log)
	if err != nil {
		return err
	}

	// One live hub serves the GraphQL subscriptions and the REST feed.
	liveHub, err := live.NewHub(live.Config{}, db.Client, bus, log)
	if err != nil {
		return err
	}
	hub, err := graph.WrapHub(liveHub, rowCacheTTL)
	if err != nil {
		return err
	}
	checks = append(checks, server.Check{Name: "hub", Check: hub.ReadyCheck})
	registry := server.NewRegistry()
	if err := db.RegisterMetrics(registry); err != nil {
		return err
	}
	procMetrics, err := processor.NewMetrics(registry)
	if err != nil {
		return err
	}
	proc, err := newProcessor(f.pipeline, db, store.Content, bus, procMetrics, log)
	if err != nil {
		return err
	}
	if err := proc.RegisterQueueMetric(registry, 2*time.Second); err != nil {
		return err
	}
	if err := graph.RegisterHubMetrics(registry, hub); err != nil {
		return err
	}
	jobs, err := newBilling(f.billing, db, proc, registry, log)
	if err != nil {
		return err
	}
	if err := store.finalizeWith(f.storage, db.Client, jobs, log); err != nil {
		return err
	}
	runChains, chainSt, err := newChains(f.chains, db, proc, store.Content, registry, log)
	if err != nil {
		return err
	}
	cacheMetrics, err := cache.NewMetrics(registry)
	if err != nil {
		return err
	}
	// One store for GraphQL's and REST's cached rows and answers.
	cacheStore, err := hub.CacheStore(rowCache, cacheMetrics, log)
	if err != nil {
		return err
	}
	netw, err := newNetwork(ctx, f.network, f.dataDir, proc, db.Client, store.Content, registry, log)
	if err != nil {
		return err
	}
	defer netw.Close()
	store.acceptSignedPublishing(proc, db.Client, netw.Publish)
	schema, err := graph.NewSchema(limits, db.Client, log, graph.WithHub(hub), graph.WithSubmitter(publishingSubmitter{graphSubmitter{proc}, netw}),
		graph.WithCacheStore(cacheStore), graph.WithErrorNames(errorNames()), graph.WithSubmitTimeout(f.submitWait),
		graph.WithNetworkStatus(netw), withChainStatus(chainSt))
	if err != nil {
		return err
	}
	var persisted map[string]string
	if f.persistedOnly != "" {
		if persisted, err = graph.LoadPersistedQueries(f.persistedOnly); err != nil {
			return usageError{fmt.Errorf("--graphql-persisted-only (ALEPHQL_GRAPHQL_PERSISTED_ONLY): %w", err)}
		}
	}
	gql := graph.NewHandler(graph.HandlerConfig{
		Limits: limits, MaxBodyBytes: f.maxBodyBytes, RequestTimeout: f.requestTimeout, PersistedQueries: persisted,
		Freshness: graph.NewFreshness(db.Client, time.Second), NoAnswerCache: !f.answerCache,
	}, schema, log)
	reader, err := read.New(read.Config{}, db.Client)
	if err != nil {
		return err
	}
	restMetrics, err := rest.NewMetrics(registry)
	if err != nil {
		return err
	}
	restOpts := []rest.Option{rest.WithPricer(restPricer{db.Client, handler.DefaultConfig()}), rest.WithMetrics(restMetrics), rest.WithHub(liveHub)}
	if f.answerCache {
		restOpts = append(restOpts, rest.WithCache(cacheStore))
	}
	api, err := rest.New(rest.Config{MaxBodyBytes: f.maxBodyBytes, Node: rest.NodeInfo{Version: version, AdminPublicKey: f.adminPublicKey}},
		reader, publishingSubmitter{restSubmitter{proc}, netw}, bus, log,
		restOpts...)
	if err != nil {
		return err
	}
	extra := api.Routes()
	for p, h := range store.Routes {
		extra[p] = rest.CORS(h)
	}
	if f.benchBaseline {
		var closePool func()
		if extra, closePool, err = withBenchBaseline(ctx, extra, dbCfg.URL, f.dbMaxConns, log); err != nil {
			return err
		}
		defer closePool()
	}
	srv, err := server.New(srvCfg, server.Routes{
		GraphQL:  gql,
		GraphiQL: graphiql.Handler("/", "/graphql"),
		Extra:    extra,
	}, checks, registry, log)
	if err != nil {
		return err
	}

	var debugLn net.Listener
	if f.debugListen != "" {
		if debugLn, err = net.Listen("tcp", f.debugListen); err != nil {
			return usageError{fmt.Errorf("--debug-listen (ALEPHQL_DEBUG_LISTEN): %w", err)}
		}
	}

	g, gctx := errgroup.WithContext(ctx)
	if debugLn != nil {
		g.Go(func() error { return server.ServeDebug(gctx, debugLn, log) })
	}
	g.Go(func() error { return store.GC.Run(gctx) })
	if runBus != nil {
		g.Go(func() error { return runBus(gctx) })
	}
	g.Go(func() error { return hub.Run(gctx) })
	g.Go(func() error { return proc.Run(gctx) })
	if f.billing.enabled {
		g.Go(func() error { return runBilling(gctx, db, jobs) })
	}
	if runChains != nil {
		g.Go(func() error { return runChains(gctx) })
	}
	for _, run := range netw.runs {
		g.Go(func() error { return run(gctx) })
	}
	if f.pipeline.sampleData {
		g.Go(func() error { return loadSample(gctx, proc, db, store.Content, f.pipeline.sampleSize, log) })
	}
	g.Go(func() error {
		return srv.Run(gctx, func(addr net.Addr) {
			url := "http://" + addr.String() + "/"
			log.Info("alephql is ready", "graphiql", url, "graphql", url+"graphql", "version", version)
			if !graphiql.Available() {
				log.Warn("GraphiQL assets are not embedded in this build; build with make to include them")
			}
			_, _ = fmt.Fprintf(stdout, "alephql %s serving GraphiQL at %s (GraphQL endpoint %sgraphql)\n", version, url, url)
		})
	})
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	log.Info("alephql stopped")
	return err
}

// withBenchBaseline adds the API benchmark's baseline handler to the
// routes: a benchmark aid (package bench/baseline), PostgreSQL only. The
// returned function closes its connection pool.
func withBenchBaseline(ctx context.Context, routes map[string]http.Handler, url string, maxConns int, log *slog.Logger) (map[string]http.Handler, func(), error) {
	if !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://") {
		return nil, nil, usageError{errors.New("--bench-baseline (ALEPHQL_BENCH_BASELINE) needs a PostgreSQL --db")}
	}
	pool, err := baseline.Open(ctx, url, maxConns)
	if err != nil {
		return nil, nil, fmt.Errorf("--bench-baseline (ALEPHQL_BENCH_BASELINE): %w", err)
	}
	out := maps.Clone(routes)
	if out == nil {
		out = map[string]http.Handler{}
	}
	out[baseline.Prefix] = baseline.New(pool, log)
	log.Warn("benchmark baseline mounted: not an API, for scripts/bench-api.sh only", "path", baseline.Prefix)
	return out, pool.Close, nil
}

// The row cache's bounds: entries in the in-process cache, and the life
// of an entry in either cache.
const (
	rowCacheSize = 10000
	rowCacheTTL  = 5 * time.Minute
)

// minFreeDisk is the free space under --data-dir below which /readyz
// reports the disk.
const minFreeDisk = 16 << 20

// openRedis connects to Redis and checks that it answers.
func openRedis(ctx context.Context, url string) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, usageError{err}
	}
	rdb := redis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("redis unreachable at %s: %w", opts.Addr, err)
	}
	return rdb, nil
}

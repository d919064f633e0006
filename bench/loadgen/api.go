package loadgen

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/alephql/alephql/bench/baseline"
)

// Targets of the API benchmark.
const (
	TargetGraphQL  = "graphql"
	TargetBaseline = "baseline"
	// TargetGraphQLUncached is the GraphQL endpoint of a node run with
	// --graphql-answer-cache=false: what GraphQL costs on a cache miss.
	TargetGraphQLUncached = "graphql-uncached"
	// TargetREST is the reference node's REST API on the same node: the
	// same question as the scenario's GraphQL query (feed: messages.json
	// of a channel in cursor mode; deep: a cursor page at the depth;
	// count: pagination_total of a channel; message: /messages/{hash};
	// aggregates: /aggregates/{address}.json).
	TargetREST = "rest"
)

// APIScenarios are the API benchmark's scenarios, in run order.
var APIScenarios = []string{"feed", "deep", "count", "message", "address", "aggregates"}

// AggregatesQuery is an address's aggregates, the GraphQL twin of REST's
// /api/v0/aggregates/{address}.json.
const AggregatesQuery = `query Aggregates($address: String!) { aggregates(filter: {owners: [$address]}, first: 200) { edges { node { key content lastUpdated createdAt } } } }`

// Sample is what the API scenarios draw their requests from: values taken
// from the benchmarked database.
type Sample struct {
	Messages int
	Channels []string
	Hashes   []string
	Senders  []string
	// Depth is the position of the deep pages' cursors in the whole feed
	// (newest first); DeepCursors are cursors at Depth, Depth+20, ...
	Depth       int
	DeepCursors []string
	// DeepRESTCursors are the same positions as REST cursors.
	DeepRESTCursors []string
	// Owners have aggregates (up to 1000).
	Owners []string
}

// restCursor is the REST API's message cursor (the reference node's):
// base64url without padding of {"h": hash, "t": isoformat with +00:00}.
func restCursor(t time.Time, hash string) string {
	t = t.UTC()
	iso := t.Format("2006-01-02T15:04:05+00:00")
	if t.Nanosecond()/1000 != 0 {
		iso = t.Format("2006-01-02T15:04:05.000000+00:00")
	}
	b, _ := json.Marshal(map[string]string{"h": hash, "t": iso})
	return base64.RawURLEncoding.EncodeToString(b)
}

// LoadSample reads a Sample from an alephql PostgreSQL database: the
// channels, 1000 random message hashes, up to 1000 senders, and cursors at
// depth (capped so that the 1000 rows the cursors come from exist).
func LoadSample(ctx context.Context, dbURL string, depth int) (*Sample, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	s := &Sample{}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM messages`).Scan(&s.Messages); err != nil {
		return nil, fmt.Errorf("loadgen: count messages: %w", err)
	}
	strs := func(q string, args ...any) ([]string, error) {
		rows, err := conn.Query(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if s.Channels, err = strs(`SELECT DISTINCT channel FROM messages WHERE channel IS NOT NULL`); err != nil {
		return nil, fmt.Errorf("loadgen: channels: %w", err)
	}
	if s.Hashes, err = strs(`SELECT item_hash FROM messages ORDER BY random() LIMIT 1000`); err != nil {
		return nil, fmt.Errorf("loadgen: hashes: %w", err)
	}
	if s.Senders, err = strs(`SELECT DISTINCT sender FROM messages LIMIT 1000`); err != nil {
		return nil, fmt.Errorf("loadgen: senders: %w", err)
	}
	if s.Owners, err = strs(`SELECT DISTINCT owner FROM aggregates LIMIT 1000`); err != nil {
		return nil, fmt.Errorf("loadgen: aggregate owners: %w", err)
	}
	s.Depth = max(min(depth, s.Messages-1000), 0)
	rows, err := conn.Query(ctx, `SELECT time, item_hash FROM messages ORDER BY time DESC, item_hash DESC OFFSET $1 LIMIT 1000`, s.Depth)
	if err != nil {
		return nil, fmt.Errorf("loadgen: deep cursors: %w", err)
	}
	i := 0
	var t time.Time
	var h string
	_, err = pgx.ForEachRow(rows, []any{&t, &h}, func() error {
		if i%20 == 0 {
			s.DeepCursors = append(s.DeepCursors, baseline.MessageCursor(t, h))
			s.DeepRESTCursors = append(s.DeepRESTCursors, restCursor(t, h))
		}
		i++
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loadgen: deep cursors: %w", err)
	}
	if len(s.Channels) == 0 || len(s.Hashes) == 0 || len(s.Senders) == 0 || len(s.DeepCursors) == 0 {
		return nil, errors.New("loadgen: the database has no messages to sample")
	}
	return s, nil
}

// APIScenario builds one scenario (see APIScenarios) against one target:
// GraphQL POSTs to /graphql, GETs of the REST API, or GETs of the
// baseline's equivalent answers. A scenario a target has no twin for
// (address in REST, aggregates in the baseline) has no requests: the
// caller skips it.
func (s *Sample) APIScenario(name, target string) (Scenario, error) {
	if target == TargetREST {
		return s.restScenario(name)
	}
	sc := Scenario{Name: name, Target: target}
	gql := target == TargetGraphQL || target == TargetGraphQLUncached
	if name == "aggregates" && !gql {
		return sc, nil
	}
	if !gql && target != TargetBaseline {
		return sc, fmt.Errorf("loadgen: unknown target %q", target)
	}
	add := func(query string, vars map[string]any, path string, q url.Values) error {
		if gql {
			b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
			if err != nil {
				return err
			}
			sc.Requests = append(sc.Requests, Request{Path: "/graphql", Body: b})
			return nil
		}
		sc.Requests = append(sc.Requests, Request{Path: baseline.Prefix + path + "?" + q.Encode()})
		return nil
	}
	var err error
	switch name {
	case "feed":
		for _, ch := range s.Channels {
			err = errors.Join(err, add(baseline.FeedQuery, map[string]any{"filter": map[string]any{"channels": []string{ch}}}, "feed", url.Values{"channel": {ch}}))
		}
	case "deep":
		for _, c := range s.DeepCursors {
			err = errors.Join(err, add(baseline.FeedQuery, map[string]any{"filter": nil, "after": c}, "feed", url.Values{"after": {c}}))
		}
	case "count":
		for _, ch := range s.Channels {
			err = errors.Join(err, add(baseline.CountQuery, map[string]any{"channel": ch}, "count", url.Values{"channel": {ch}}))
		}
	case "message":
		for _, h := range s.Hashes {
			err = errors.Join(err, add(baseline.MessageQuery, map[string]any{"hash": h}, "message", url.Values{"hash": {h}}))
		}
	case "address":
		for _, a := range s.Senders {
			err = errors.Join(err, add(baseline.AddressQuery, map[string]any{"address": a}, "address", url.Values{"address": {a}}))
		}
	case "aggregates":
		for _, a := range s.Owners {
			err = errors.Join(err, add(AggregatesQuery, map[string]any{"address": a}, "", nil))
		}
	default:
		return sc, fmt.Errorf("loadgen: unknown scenario %q", name)
	}
	if gql {
		sc.Check = checkGraphQL
	}
	return sc, err
}

// restScenario is a scenario's REST twin.
func (s *Sample) restScenario(name string) (Scenario, error) {
	sc := Scenario{Name: name, Target: TargetREST, Check: checkJSONObject}
	get := func(path string, q url.Values) {
		if q != nil {
			path += "?" + q.Encode()
		}
		sc.Requests = append(sc.Requests, Request{Path: path})
	}
	switch name {
	case "feed":
		for _, ch := range s.Channels {
			get("/api/v0/messages.json", url.Values{"channels": {ch}, "pagination": {"20"}, "cursor": {""}})
		}
	case "deep":
		for _, c := range s.DeepRESTCursors {
			get("/api/v0/messages.json", url.Values{"pagination": {"20"}, "cursor": {c}})
		}
	case "count":
		for _, ch := range s.Channels {
			get("/api/v0/messages.json", url.Values{"channels": {ch}, "pagination": {"1"}})
		}
	case "message":
		for _, h := range s.Hashes {
			get("/api/v0/messages/"+h, nil)
		}
	case "address":
	case "aggregates":
		for _, a := range s.Owners {
			get("/api/v0/aggregates/"+url.PathEscape(a)+".json", nil)
		}
	default:
		return sc, fmt.Errorf("loadgen: unknown scenario %q", name)
	}
	return sc, nil
}

// checkJSONObject accepts a JSON object (REST answers; errors are not
// 200 and were counted already).
func checkJSONObject(body []byte) error {
	if !bytes.HasPrefix(body, []byte("{")) {
		return fmt.Errorf("rest answered %.300s", body)
	}
	return nil
}

// checkGraphQL accepts a GraphQL response with data and no errors
// (gqlgen writes "errors" first when there are some).
func checkGraphQL(body []byte) error {
	if !bytes.HasPrefix(body, []byte(`{"data":{`)) {
		return fmt.Errorf("graphql answered %.300s", body)
	}
	return nil
}

// Target is a scenario's goal from issue 5: at least RPS requests/s, a
// p99 (or, for the address page, p95) under the latency bound, and at
// least MinRatio of the baseline's throughput.
type Target struct {
	RPS      float64
	Quantile string
	Max      time.Duration
	MinRatio float64
}

// MinRESTRatio is issue 12's goal: each REST route serves at least this
// share of the matching GraphQL query's rate, in the same run.
const MinRESTRatio = 0.9

// APITargets are issue 5's targets per scenario (16 clients, 2 cores).
var APITargets = map[string]Target{
	"feed":    {RPS: 3000, Quantile: "p99", Max: 20 * time.Millisecond, MinRatio: 0.70},
	"deep":    {RPS: 3000, Quantile: "p99", Max: 20 * time.Millisecond, MinRatio: 0.70},
	"count":   {RPS: 3000, Quantile: "p99", Max: 20 * time.Millisecond, MinRatio: 0.70},
	"address": {RPS: 500, Quantile: "p95", Max: 50 * time.Millisecond},
}

// WriteTable writes results as a Markdown table, with each GraphQL row's
// ratio to the baseline row of the same scenario and its target verdict.
func WriteTable(w io.Writer, results []Result) {
	base, gqlRes := map[string]Result{}, map[string]Result{}
	for _, r := range results {
		switch r.Target {
		case TargetBaseline:
			base[r.Scenario] = r
		case TargetGraphQL:
			gqlRes[r.Scenario] = r
		}
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }
	_, _ = fmt.Fprintln(w, "| scenario | target | clients | req/s | p50 ms | p95 ms | p99 ms | errors | GraphQL/baseline | REST/GraphQL | goal |")
	_, _ = fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range results {
		ratio, verdict := "", ""
		isGQL := r.Target == TargetGraphQL || r.Target == TargetGraphQLUncached
		if b, ok := base[r.Scenario]; ok && isGQL && b.RPS() > 0 {
			ratio = fmt.Sprintf("%.2f", r.RPS()/b.RPS())
		}
		if t, ok := APITargets[r.Scenario]; ok && isGQL {
			verdict = t.verdict(r, base[r.Scenario])
		}
		restRatio := ""
		if g, ok := gqlRes[r.Scenario]; ok && r.Target == TargetREST && g.RPS() > 0 {
			restRatio = fmt.Sprintf("%.2f", r.RPS()/g.RPS())
			goal := fmt.Sprintf("≥%.0f%% of GraphQL", MinRESTRatio*100)
			if r.RPS() >= MinRESTRatio*g.RPS() && r.Errors == 0 {
				verdict = "met (" + goal + ")"
			} else {
				verdict = "NOT met (" + goal + ")"
			}
		}
		_, _ = fmt.Fprintf(w, "| %s | %s | %d | %.0f | %s | %s | %s | %d | %s | %s | %s |\n", r.Scenario, r.Target, r.Clients, r.RPS(),
			ms(r.P50), ms(r.P95), ms(r.P99), r.Errors, ratio, restRatio, verdict)
	}
	for _, r := range results {
		if r.FirstError != "" {
			_, _ = fmt.Fprintf(w, "\nfirst error of %s/%s: %s\n", r.Scenario, r.Target, r.FirstError)
		}
	}
}

func (t Target) verdict(r, base Result) string {
	lat := r.P99
	if t.Quantile == "p95" {
		lat = r.P95
	}
	ok := r.RPS() >= t.RPS && lat < t.Max && r.Errors == 0
	goal := fmt.Sprintf("≥%.0f/s, %s<%v", t.RPS, t.Quantile, t.Max)
	if t.MinRatio > 0 {
		goal += fmt.Sprintf(", ≥%.0f%% of baseline", t.MinRatio*100)
		ok = ok && base.RPS() > 0 && r.RPS() >= t.MinRatio*base.RPS()
	}
	if ok {
		return "met (" + goal + ")"
	}
	return "NOT met (" + goal + ")"
}

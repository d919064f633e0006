package rest

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/alephql/alephql/rest/apidocs"
)

// An op describes one route for the OpenAPI document. Pattern is the
// ServeMux pattern it is registered under (kept in the document as
// x-pattern, which the tests compare with the registered routes); Path is
// the path clients call, when it differs from the pattern's (a ".json"
// suffix on a wildcard segment).
type op struct {
	Pattern string
	Path    string
	Tag     string
	Summary string
	// Params are "name in description" triples: in is path, query or
	// header; a query name ending in "*" is required.
	Params [][3]string
	// Body describes a JSON request body ("" for none).
	Body string
	// Codes are the answers other than 200.
	Codes map[int]string
}

// Shared parameter lists.
var (
	pageParams = [][3]string{
		{"pagination", "query", "items per page (capped at the node's maximum page size; 0 means that maximum)"},
		{"page", "query", "page number, from 1"},
	}
	cursorParam = [3]string{"cursor", "query", "keyset cursor: empty for the first page, then next_cursor"}
	msgFilters  = [][3]string{
		{"msgType", "query", "one message type"}, {"msgTypes", "query", "message types, comma-separated"},
		{"msgStatuses", "query", "statuses (forgotten or removed alone list the snapshots)"},
		{"addresses", "query", "senders"}, {"owners", "query", "content.address values"},
		{"refs", "query", "content.ref values"}, {"contentHashes", "query", "content.item_hash values"},
		{"contentKeys", "query", "AGGREGATE keys"}, {"contentTypes", "query", "POST types"},
		{"chains", "query", "chains"}, {"channels", "query", "channels"}, {"tags", "query", "tags"},
		{"hashes", "query", "item hashes"}, {"paymentTypes", "query", "hold, superfluid or credit"},
		{"startDate", "query", "epoch seconds (inclusive)"}, {"endDate", "query", "epoch seconds (exclusive)"},
		{"startBlock", "query", "first confirmation height"}, {"endBlock", "query", "last confirmation height"},
		{"sortBy", "query", "time or tx-time"}, {"sortOrder", "query", "-1 (newest first) or 1"},
		{"contentFormat", "query", "full, headers or none"},
	}
	postFilters = [][3]string{
		{"addresses", "query", "owners (content.address)"}, {"hashes", "query", "original hashes"},
		{"refs", "query", "refs"}, {"types", "query", "post types"}, {"tags", "query", "tags"},
		{"channels", "query", "channels"}, {"startDate", "query", "epoch seconds"}, {"endDate", "query", "epoch seconds"},
		{"sortBy", "query", "time or tx-time"}, {"sortOrder", "query", "-1 or 1"},
	}
	hashPath    = [3]string{"hash", "path", "item hash (sha256 hex or IPFS CID)"}
	addressPath = [3]string{"address", "path", "address, exactly as in messages (case-sensitive)"}
	creditFlt   = [][3]string{
		{"tx_hash", "query", ""}, {"token", "query", ""}, {"chain", "query", ""}, {"provider", "query", ""},
		{"origin", "query", ""}, {"origin_ref", "query", ""}, {"payment_method", "query", ""},
		{"exclude_payment_method", "query", ""}, {"has_expiration", "query", "true or false"},
		{"startDate", "query", "epoch seconds"}, {"endDate", "query", "epoch seconds"},
		{"direction", "query", "incoming or outgoing"},
	}
	authFlt = [][3]string{
		{"channels", "query", ""}, {"types", "query", "message types"}, {"postTypes", "query", ""},
		{"chains", "query", ""}, {"aggregateKeys", "query", ""},
	}
)

func docParams(lists ...[][3]string) [][3]string {
	var out [][3]string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func one(ps ...[3]string) [][3]string { return ps }

// operations describes every REST route, this package's and rest/storage's.
var operations = []op{
	{Pattern: "GET /api/v0/messages.json", Tag: "messages", Summary: "List messages (page or cursor mode)",
		Params: docParams(msgFilters, pageParams, one(cursorParam)), Codes: map[int]string{400: "incompatible parameters", 422: "a bad parameter (named in the body)"}},
	{Pattern: "GET /api/v0/messages/{hash}/{sub}", Tag: "messages",
		Summary: "A message's status, content or consumed credits (sub = status, content, consumed_credits), or /messages/page/{n}.json",
		Params:  one(hashPath, [3]string{"sub", "path", "status, content or consumed_credits"}), Codes: map[int]string{400: "malformed hash", 404: "unknown message", 422: "not processed"}},
	{Pattern: "GET /api/v0/messages/{hash}", Tag: "messages", Summary: "One message with its status",
		Params: one(hashPath), Codes: map[int]string{400: "malformed hash", 404: "unknown message", 410: "removed without snapshot"}},
	{Pattern: "POST /api/v0/messages", Tag: "messages", Summary: "Submit a signed message", Body: `{"message": {...}, "sync": false}`,
		Codes: map[int]string{202: "accepted, pending", 413: "body too large", 422: "invalid or rejected"}},
	{Pattern: "POST /api/v0/ipfs/pubsub/pub", Tag: "messages", Summary: "Publish a message on the ALEPH-TEST topic (SDK fallback)", Body: `{"topic": "ALEPH-TEST", "data": "<message JSON>"}`,
		Codes: map[int]string{403: "other topic", 422: "invalid message"}},
	{Pattern: "POST /api/v0/p2p/pubsub/pub", Tag: "messages", Summary: "Publish a message on the ALEPH-TEST topic (SDK fallback)", Body: `{"topic": "ALEPH-TEST", "data": "<message JSON>"}`,
		Codes: map[int]string{403: "other topic", 422: "invalid message"}},
	{Pattern: "GET /api/ws0/messages", Tag: "messages", Summary: "WebSocket feed: history then live messages, every messages.json filter, resumable",
		Params: docParams(msgFilters, [][3]string{{"history", "query", "messages replayed first (0-199)"}, {"after", "query", "resume after this event_seq (a frame's, or the handshake's X-Event-Seq), no history"}}),
		Codes:  map[int]string{101: "switching protocols", 410: "after= cannot be resumed (code EVENT_SEQ_GONE)", 422: "a bad parameter"}},
	{Pattern: "GET /api/v0/posts.json", Tag: "posts", Summary: "List posts, v0 shape", Params: docParams(postFilters, pageParams, one(cursorParam)), Codes: map[int]string{422: "a bad parameter"}},
	{Pattern: "GET /api/v0/posts/page/{page}", Path: "/api/v0/posts/page/{page}.json", Tag: "posts", Summary: "A page of posts, v0 shape",
		Params: docParams(one([3]string{"page", "path", "page number"}), postFilters), Codes: map[int]string{422: "a bad parameter"}},
	{Pattern: "GET /api/v1/posts.json", Tag: "posts", Summary: "List posts, v1 shape", Params: docParams(postFilters, pageParams, one(cursorParam)), Codes: map[int]string{422: "a bad parameter"}},
	{Pattern: "GET /api/v1/posts/page/{page}", Path: "/api/v1/posts/page/{page}.json", Tag: "posts", Summary: "A page of posts, v1 shape",
		Params: docParams(one([3]string{"page", "path", "page number"}), postFilters), Codes: map[int]string{422: "a bad parameter"}},
	{Pattern: "GET /api/v0/aggregates/{address}", Path: "/api/v0/aggregates/{address}.json", Tag: "aggregates", Summary: "An address's aggregates",
		Params: docParams(one(addressPath), [][3]string{{"keys", "query", "keys"}, {"with_info", "query", "add created/last_updated/hashes"}, {"value_only", "query", "with one key, its value alone"}, {"limit", "query", "ignored"}}),
		Codes:  map[int]string{404: "no aggregate", 422: "a bad parameter"}},
	{Pattern: "GET /api/v0/aggregates", Tag: "aggregates", Summary: "List aggregates",
		Params: docParams([][3]string{{"keys", "query", ""}, {"addresses", "query", ""}, {"sortBy", "query", "last_modified or creation_time"}, {"sortOrder", "query", "-1 or 1"}}, pageParams, one(cursorParam)),
		Codes:  map[int]string{422: "a bad parameter"}},
	{Pattern: "GET /api/v0/aggregates.json", Tag: "aggregates", Summary: "List aggregates (same as /api/v0/aggregates)",
		Params: docParams([][3]string{{"keys", "query", ""}, {"addresses", "query", ""}, {"sortBy", "query", "last_modified or creation_time"}, {"sortOrder", "query", "-1 or 1"}}, pageParams, one(cursorParam)),
		Codes:  map[int]string{422: "a bad parameter"}},

	{Pattern: "GET /api/v0/addresses/{address}/balance", Tag: "accounts", Summary: "An address's balance, locked amount and credits",
		Params: docParams(one(addressPath), [][3]string{{"chain", "query", "one chain"}, {"include_credit_details", "query", "list the credit lots"}}), Codes: map[int]string{422: "a bad parameter"}},
	{Pattern: "GET /api/v0/addresses/{address}/files", Tag: "accounts", Summary: "Files an address stored",
		Params: docParams(one(addressPath), pageParams, one(cursorParam), [][3]string{{"sort_order", "query", "-1 or 1"}, {"file_hash", "query", "one file"}}), Codes: map[int]string{404: "no file", 422: "a bad parameter"}},
	{Pattern: "GET /api/v0/addresses/{address}/post_types", Tag: "accounts", Summary: "Post types an address used", Params: one(addressPath)},
	{Pattern: "GET /api/v0/addresses/{address}/channels", Tag: "accounts", Summary: "Channels an address sent to", Params: one(addressPath)},
	{Pattern: "GET /api/v0/addresses/{address}/credit_history", Tag: "accounts", Summary: "An address's credit history, newest first",
		Params: docParams(one(addressPath), creditFlt, pageParams, one(cursorParam), [][3]string{{"sort_by", "query", "message_timestamp"}, {"sort_order", "query", "-1 or 1"}}), Codes: map[int]string{422: "a bad parameter"}},
	{Pattern: "GET /api/v0/addresses/{address}/credit_history/summary", Tag: "accounts", Summary: "Totals of an address's credit history",
		Params: docParams(one(addressPath), creditFlt), Codes: map[int]string{422: "a bad parameter"}},
	{Pattern: "GET /api/v0/addresses/stats.json", Tag: "accounts", Summary: "Processed messages by type of some addresses",
		Params: one([3]string{"addresses[]", "query", "addresses (repeated)"}), Codes: map[int]string{422: "too many addresses"}},
	{Pattern: "GET /api/v1/addresses/stats.json", Tag: "accounts", Summary: "Addresses by message count",
		Params: docParams([][3]string{{"addressContains", "query", "substring, case-insensitive"}, {"sortBy", "query", "total, post, aggregate, store, forget, program or instance"}, {"sortOrder", "query", "-1 or 1"}}, pageParams, one(cursorParam)),
		Codes:  map[int]string{422: "a bad parameter"}},
	{Pattern: "GET /api/v0/balances", Tag: "accounts", Summary: "Chain-wide balances by address and chain",
		Params: docParams([][3]string{{"chains", "query", ""}, {"min_balance", "query", "a number"}}, pageParams, one(cursorParam)), Codes: map[int]string{422: "a bad parameter"}},
	{Pattern: "GET /api/v0/credit_balances", Tag: "accounts", Summary: "Credit balances by address",
		Params: docParams(one([3]string{"min_balance", "query", "credits"}), pageParams, one(cursorParam)), Codes: map[int]string{422: "a bad parameter"}},
	{Pattern: "GET /api/v0/authorizations/granted/{address}", Path: "/api/v0/authorizations/granted/{address}.json", Tag: "accounts",
		Summary: "Authorizations an address grants (its security aggregate), by grantee",
		Params:  docParams(one(addressPath), one([3]string{"grantee", "query", ""}), authFlt, pageParams, one(cursorParam)), Codes: map[int]string{422: "a bad parameter"}},
	{Pattern: "GET /api/v0/authorizations/received/{address}", Path: "/api/v0/authorizations/received/{address}.json", Tag: "accounts",
		Summary: "Authorizations an address received, by granter",
		Params:  docParams(one(addressPath), one([3]string{"granter", "query", ""}), authFlt, pageParams, one(cursorParam)), Codes: map[int]string{422: "a bad parameter"}},
	{Pattern: "GET /api/v0/channels/list.json", Tag: "node", Summary: "Every channel in use"},
	{Pattern: "GET /api/v0/programs/on/message", Tag: "node", Summary: "Programs triggered by messages",
		Params: one([3]string{"sort_order", "query", "-1 or 1"})},

	{Pattern: "GET /api/v0/costs", Tag: "prices", Summary: "Cost summary and resources",
		Params: [][3]string{{"address", "query", ""}, {"item_hash", "query", ""}, {"payment_type", "query", "hold, superfluid or credit (default credit)"},
			{"include_details", "query", "0, 1 (resources) or 2 (their lines)"}, {"include_size", "query", "accepted"}, {"pagination", "query", "10-1000"}, {"page", "query", ""}},
		Codes: map[int]string{422: "a bad parameter"}},
	{Pattern: "GET /api/v0/price/{hash}", Tag: "prices", Summary: "A message's stored costs", Params: one(hashPath),
		Codes: map[int]string{202: "pending", 400: "not a priced type, or malformed hash", 404: "unknown or rejected", 410: "forgotten or removed"}},
	{Pattern: "POST /api/v0/price/estimate", Tag: "prices", Summary: "Price a message live", Body: `{"message": {...}}`,
		Codes: map[int]string{422: "invalid message", 503: "no pricer"}},
	{Pattern: "POST /api/v0/price/estimate/instance", Tag: "prices", Summary: "Price a bare INSTANCE content live", Body: `InstanceContent`,
		Codes: map[int]string{422: "invalid content", 503: "no pricer"}},
	{Pattern: "POST /api/v0/price/recalculate", Tag: "prices", Summary: "Recompute every message's costs (admin)",
		Params: one([3]string{"X-Auth-Token", "header", "base64(\"<unix time>:<base64 DER secp256k1 signature of sha256(unix time)>\")"}),
		Codes:  map[int]string{401: "missing, bad or stale token", 403: "admin routes disabled"}},
	{Pattern: "POST /api/v0/price/{hash}/recalculate", Tag: "prices", Summary: "Recompute one message's costs (admin)",
		Params: one(hashPath, [3]string{"X-Auth-Token", "header", "see /api/v0/price/recalculate"}),
		Codes:  map[int]string{401: "missing, bad or stale token", 403: "admin routes disabled", 404: "not a priced message"}},

	{Pattern: "GET /api/v0/storage/raw/{hash}", Tag: "storage", Summary: "A stored file's bytes", Params: one(hashPath), Codes: map[int]string{404: "unknown file"}},
	{Pattern: "GET /api/v0/storage/{hash}", Tag: "storage", Summary: "A stored file, base64", Params: one(hashPath), Codes: map[int]string{400: "malformed hash", 404: "unknown file", 413: "too large"}},
	{Pattern: "POST /api/v0/storage/add_json", Tag: "storage", Summary: "Store a JSON document (sha256)", Body: "any JSON", Codes: map[int]string{413: "too large", 422: "not JSON"}},
	{Pattern: "POST /api/v0/ipfs/add_json", Tag: "storage", Summary: "Store a JSON document (IPFS CIDv0)", Body: "any JSON", Codes: map[int]string{413: "too large", 422: "not JSON"}},
	{Pattern: "POST /api/v0/storage/add_file", Tag: "storage", Summary: "Upload a file (multipart file, optional signed metadata)", Body: "multipart",
		Codes: map[int]string{202: "message pending", 403: "bad signature", 413: "too large", 422: "invalid metadata"}},
	{Pattern: "POST /api/v0/ipfs/add_file", Tag: "storage", Summary: "Upload a file to IPFS", Body: "multipart",
		Codes: map[int]string{202: "message pending", 403: "bad signature", 413: "too large", 422: "invalid metadata"}},
	{Pattern: "POST /api/v0/ipfs/add_car", Tag: "storage", Summary: "Import a CAR archive into IPFS (multipart file, mandatory signed metadata; root = item_hash)", Body: "multipart",
		Codes: map[int]string{202: "message pending", 403: "bad signature or IPFS disabled", 413: "too large", 422: "invalid archive or metadata", 503: "kubo unavailable"}},
	{Pattern: "POST /api/v0/storage/add_car", Tag: "storage", Summary: "Same as /api/v0/ipfs/add_car", Body: "multipart",
		Codes: map[int]string{202: "message pending", 403: "bad signature or IPFS disabled", 413: "too large", 422: "invalid archive or metadata", 503: "kubo unavailable"}},
	{Pattern: "GET /api/v0/storage/by-message-hash/{hash}", Tag: "storage", Summary: "The file a STORE message pins", Params: one(hashPath),
		Codes: map[int]string{400: "malformed hash", 404: "no file"}},
	{Pattern: "GET /api/v0/storage/by-ref/{ref}", Tag: "storage", Summary: "The latest file of a hash reference",
		Params: one([3]string{"ref", "path", "a hash"}), Codes: map[int]string{400: "a text reference needs its address", 404: "no file"}},
	{Pattern: "GET /api/v0/storage/by-ref/{address}/{ref}", Tag: "storage", Summary: "The latest file of an address's text reference",
		Params: one(addressPath, [3]string{"ref", "path", "reference"}), Codes: map[int]string{404: "no file"}},
	{Pattern: "GET /api/v0/storage/metadata/{hash}", Tag: "storage", Summary: "A file's type and size", Params: one(hashPath),
		Codes: map[int]string{400: "malformed hash", 404: "unknown file"}},
	{Pattern: "GET /api/v0/storage/count/{hash}", Tag: "storage", Summary: "A file's pin count", Params: one(hashPath), Codes: map[int]string{400: "malformed hash"}},
	{Pattern: "GET /api/v0/storage/limits.json", Tag: "storage", Summary: "Upload and file size limits"},

	{Pattern: "GET /api/v0/info/public.json", Tag: "node", Summary: "The node's public multiaddresses"},
	{Pattern: "GET /api/v0/version", Tag: "node", Summary: "The node's version"},
	{Pattern: "GET /version", Tag: "node", Summary: "The node's version"},
	{Pattern: "GET /metrics.json", Tag: "node", Summary: "Status counters under the reference node's names"},
	{Pattern: "GET /api/v0/core/{id}/metrics", Tag: "node", Summary: "A core node's metrics, column arrays",
		Params: [][3]string{{"id", "path", "node id"}, {"start_date", "query", "epoch seconds"}, {"end_date", "query", "epoch seconds"}, {"sort", "query", "1, -1, asc or desc"}},
		Codes:  map[int]string{404: "no metric"}},
	{Pattern: "GET /api/v0/compute/{id}/metrics", Tag: "node", Summary: "A compute node's metrics, column arrays",
		Params: [][3]string{{"id", "path", "node id"}, {"start_date", "query", "epoch seconds"}, {"end_date", "query", "epoch seconds"}, {"sort", "query", "1, -1, asc or desc"}},
		Codes:  map[int]string{404: "no metric"}},
	{Pattern: "GET /api/openapi.json", Tag: "node", Summary: "This OpenAPI description"},
	{Pattern: "GET /api/docs", Tag: "node", Summary: "Browse this description (Swagger UI, served offline)"},
	{Pattern: "GET /api/docs/{asset}", Tag: "node", Summary: "The browser's assets", Params: one([3]string{"asset", "path", "file name"})},
}

var wildcard = regexp.MustCompile(`\{([^}]+)\}`)

// openAPIDocument builds the OpenAPI 3 description from operations.
func openAPIDocument(version string) ([]byte, error) {
	errBody := map[string]any{"description": "error", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
	paths := map[string]map[string]any{}
	tags := map[string]bool{}
	for _, o := range operations {
		method, pattern, _ := strings.Cut(o.Pattern, " ")
		path := o.Path
		if path == "" {
			path = pattern
		}
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		var ps []map[string]any
		for _, p := range o.Params {
			ps = append(ps, map[string]any{"name": p[0], "in": p[1], "required": p[1] == "path",
				"description": p[2], "schema": map[string]any{"type": "string"}})
		}
		responses := map[string]any{"200": map[string]any{"description": "success",
			"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{}}}}}
		for code, desc := range o.Codes {
			r := map[string]any{"description": desc}
			if code >= 400 {
				r = map[string]any{"description": desc, "content": errBody["content"]}
			}
			responses[itoa(code)] = r
		}
		id := strings.ToLower(method) + wildcard.ReplaceAllString(strings.NewReplacer("/", "_", ".", "_", "-", "_").Replace(pattern), "$1")
		operation := map[string]any{"summary": o.Summary, "tags": []string{o.Tag}, "operationId": id,
			"x-pattern": o.Pattern, "responses": responses}
		if ps != nil {
			operation["parameters"] = ps
		}
		if o.Body != "" {
			ct := "application/json"
			if o.Body == "multipart" {
				ct = "multipart/form-data"
			}
			operation["requestBody"] = map[string]any{"description": o.Body, "content": map[string]any{ct: map[string]any{"schema": map[string]any{}}}}
		}
		paths[path][strings.ToLower(method)] = operation
		tags[o.Tag] = true
	}
	var tagList []map[string]string
	for t := range tags {
		tagList = append(tagList, map[string]string{"name": t})
	}
	sort.Slice(tagList, func(i, j int) bool { return tagList[i]["name"] < tagList[j]["name"] })
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "alephql REST API", "version": version,
			"description": "The reference node's (pyaleph's) REST API as alephql serves it. Every GET also answers HEAD; every list has a maximum page size; a bad parameter is a 422 naming it."},
		"tags":  tagList,
		"paths": paths,
		"components": map[string]any{"schemas": map[string]any{"Error": map[string]any{"type": "object",
			"properties": map[string]any{"error": map[string]any{"type": "string"}, "param": map[string]any{"type": "string"}}}}},
	}
	return json.Marshal(doc)
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// openAPI serves GET /api/openapi.json.
func (a *API) openAPI(w http.ResponseWriter, _ *http.Request) error {
	a.docOnce.Do(func() { a.doc, a.docErr = openAPIDocument(a.cfg.Node.Version) })
	if a.docErr != nil {
		return a.docErr
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(a.doc)
	return nil
}

// docState caches the OpenAPI document.
type docState struct {
	docOnce sync.Once
	doc     []byte
	docErr  error
}

// docsHandler is the API browser (package apidocs).
var docsHandler = apidocs.Handler("/api/docs", "/api/openapi.json")

// docs serves GET /api/docs and its assets.
func (a *API) docs(w http.ResponseWriter, r *http.Request) error {
	docsHandler.ServeHTTP(w, r)
	return nil
}

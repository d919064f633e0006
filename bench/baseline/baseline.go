// Package baseline is a benchmark aid, not part of the API: a minimal HTTP
// handler that answers the API benchmark's requests (the GraphQL documents
// in this package) by running the same SQL statements as the GraphQL
// resolvers, with pgx directly, and writing the same JSON bytes as the
// GraphQL response's "data", with no GraphQL parsing, validation or
// execution. The API benchmark (scripts/bench-api.sh) compares the
// GraphQL endpoint's throughput with this one's; TestBenchBaselineMatchesGraphQL
// (cmd/alephql) checks that both answer the same bytes, so the
// comparison is honest. `alephql serve --bench-baseline` mounts it.
package baseline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/alephql/alephql/ent/countkey"
)

// The statements, as ent writes them for the resolvers: a list reads the
// columns its selected fields need (graph/columns.go), message(hash) every
// column of the row (it goes through the row cache), the post loader
// every column of the latest amends.
const (
	feedColumns    = `SELECT "messages"."item_hash", "messages"."type", "messages"."chain", "messages"."sender", "messages"."item_type", "messages"."content", "messages"."time", "messages"."channel", "messages"."owner", "messages"."content_type" FROM "messages"`
	senderColumns  = `SELECT "messages"."item_hash", "messages"."type", "messages"."chain", "messages"."time", "messages"."channel", "messages"."content_type" FROM "messages"`
	messageColumns = `SELECT "messages"."item_hash", "messages"."type", "messages"."chain", "messages"."sender", "messages"."signature", "messages"."item_type", "messages"."item_content", "messages"."content", "messages"."time", "messages"."channel", "messages"."size", "messages"."status", "messages"."reception_time", "messages"."owner", "messages"."content_type", "messages"."content_ref", "messages"."content_key", "messages"."content_item_hash", "messages"."first_confirmed_at", "messages"."first_confirmed_height", "messages"."payment_type", "messages"."tags" FROM "messages"`
	messageOrder   = ` ORDER BY "messages"."time" DESC, "messages"."item_hash" DESC LIMIT 21`
	keysetAfter    = `("messages"."time", "messages"."item_hash") < `

	sqlFeedChannel      = feedColumns + ` WHERE "messages"."channel" IN ($1)` + messageOrder
	sqlFeedChannelAfter = feedColumns + ` WHERE "messages"."channel" IN ($1) AND ` + keysetAfter + `($2, $3)` + messageOrder
	sqlFeed             = feedColumns + messageOrder
	sqlFeedAfter        = feedColumns + ` WHERE ` + keysetAfter + `($1, $2)` + messageOrder
	sqlMessage          = messageColumns + ` WHERE "messages"."item_hash" = $1 LIMIT 2`
	sqlSenderPage       = senderColumns + ` WHERE "messages"."sender" IN ($1)` + messageOrder
	sqlCounter          = `SELECT "message_counters"."key", "message_counters"."count" FROM "message_counters" WHERE "message_counters"."key" = $1 LIMIT 2`

	sqlPostPage  = `SELECT "posts"."item_hash", "posts"."type", "posts"."ref", "posts"."channel", "posts"."content", "posts"."creation_datetime", "posts"."latest_amend" FROM "posts" WHERE "posts"."amends" IS NULL AND "posts"."owner" IN ($1) ORDER BY "posts"."creation_datetime" DESC, "posts"."item_hash" DESC LIMIT 21`
	sqlPostsByID = `SELECT "posts"."item_hash", "posts"."owner", "posts"."type", "posts"."ref", "posts"."amends", "posts"."channel", "posts"."content", "posts"."creation_datetime", "posts"."latest_amend", "posts"."tags" FROM "posts" WHERE "posts"."item_hash" IN (`

	sqlAggregatePage = `SELECT "aggregates"."id", "aggregates"."owner", "aggregates"."key", "aggregates"."content", "aggregates"."last_updated", "aggregates"."element_count" FROM "aggregates" WHERE "aggregates"."owner" IN ($1) ORDER BY "aggregates"."owner" ASC, "aggregates"."key" ASC LIMIT 21`
)

// Handler serves the baseline answers under Prefix.
type Handler struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	mux  *http.ServeMux
	bufs sync.Pool
}

// New returns the baseline handler over pool (a PostgreSQL database of
// alephql).
func New(pool *pgxpool.Pool, log *slog.Logger) *Handler {
	h := &Handler{pool: pool, log: log.With("component", "bench-baseline"), mux: http.NewServeMux()}
	h.bufs.New = func() any { return new(bytes.Buffer) }
	h.mux.HandleFunc("GET "+Prefix+"feed", h.answer(h.feed))
	h.mux.HandleFunc("GET "+Prefix+"count", h.answer(h.count))
	h.mux.HandleFunc("GET "+Prefix+"message", h.answer(h.message))
	h.mux.HandleFunc("GET "+Prefix+"address", h.answer(h.address))
	return h
}

// Open connects a pgx pool of at most maxConns connections to a
// PostgreSQL URL, for New.
func Open(ctx context.Context, url string, maxConns int) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = int32(min(maxConns, 1<<20))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	return pool, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// errBadRequest marks a request the baseline cannot answer.
var errBadRequest = errors.New("bad request")

// answer writes what fn writes into a pooled buffer, or the error.
func (h *Handler) answer(fn func(ctx context.Context, q map[string][]string, b *bytes.Buffer) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b := h.bufs.Get().(*bytes.Buffer)
		defer h.bufs.Put(b)
		b.Reset()
		if err := fn(r.Context(), r.URL.Query(), b); err != nil {
			status := http.StatusInternalServerError
			if errors.Is(err, errBadRequest) {
				status = http.StatusBadRequest
			} else {
				h.log.Warn("baseline request failed", "path", r.URL.Path, "err", err)
			}
			http.Error(w, err.Error(), status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b.Bytes())
	}
}

// message is the part of a messages row the answers show.
type message struct {
	hash, typ, chain, sender, owner, itemType string
	channel, contentType                      *string
	content                                   []byte
	time                                      time.Time
}

// scanMessages reads message rows of a statement: the columns of
// feedColumns, senderColumns or messageColumns, as ent reads them.
func scanMessages(rows pgx.Rows, columns string) ([]message, error) {
	defer rows.Close()
	var out []message
	for rows.Next() {
		var m message
		var dest []any
		switch columns {
		case feedColumns:
			dest = []any{&m.hash, &m.typ, &m.chain, &m.sender, &m.itemType, &m.content, &m.time, &m.channel, &m.owner, &m.contentType}
		case senderColumns:
			dest = []any{&m.hash, &m.typ, &m.chain, &m.time, &m.channel, &m.contentType}
		default:
			dest = []any{&m.hash, &m.typ, &m.chain, &m.sender, nil, &m.itemType, nil, &m.content, &m.time, &m.channel,
				nil, nil, nil, &m.owner, &m.contentType, nil, nil, nil, nil, nil, nil, nil}
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// feed answers FeedQuery.
func (h *Handler) feed(ctx context.Context, q map[string][]string, b *bytes.Buffer) error {
	ch, after := first(q, "channel"), first(q, "after")
	var sql string
	var args []any
	if ch != "" {
		sql, args = sqlFeedChannel, []any{ch}
	} else {
		sql = sqlFeed
	}
	if after != "" {
		c, err := decodeMessageCursor(after)
		if err != nil {
			return fmt.Errorf("%w: malformed cursor", errBadRequest)
		}
		if ch != "" {
			sql = sqlFeedChannelAfter
		} else {
			sql = sqlFeedAfter
		}
		args = append(args, c.T.UTC(), c.H)
	}
	rows, err := h.pool.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	ms, err := scanMessages(rows, feedColumns)
	if err != nil {
		return err
	}
	b.WriteString(`{"messages":`)
	writeMessagePage(b, ms, true)
	b.WriteString(`}`)
	return nil
}

// writeMessagePage writes a messages connection: full nodes (FeedQuery)
// or the address page's short ones.
func writeMessagePage(b *bytes.Buffer, ms []message, full bool) {
	more := len(ms) > pageSize
	if more {
		ms = ms[:pageSize]
	}
	b.WriteString(`{"edges":[`)
	var end string
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		end = MessageCursor(m.time, m.hash)
		b.WriteString(`{"cursor":`)
		writeString(b, end)
		b.WriteString(`,"node":`)
		writeMessage(b, m, full)
		b.WriteString(`}`)
	}
	b.WriteString(`],"pageInfo":{"hasNextPage":`)
	b.WriteString(strconv.FormatBool(more))
	b.WriteString(`,"endCursor":`)
	if len(ms) == 0 {
		b.WriteString(`null`)
	} else {
		writeString(b, end)
	}
	b.WriteString(`}}`)
}

// count answers CountQuery from the channel's counter.
func (h *Handler) count(ctx context.Context, q map[string][]string, b *bytes.Buffer) error {
	ch := first(q, "channel")
	if ch == "" {
		return fmt.Errorf("%w: channel missing", errBadRequest)
	}
	var key string
	var n int64
	err := h.pool.QueryRow(ctx, sqlCounter, countkey.Key(map[string]string{"channel": ch})).Scan(&key, &n)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	b.WriteString(`{"messages":{"totalCount":`)
	b.WriteString(strconv.FormatInt(n, 10))
	b.WriteString(`,"countIsExact":true}}`)
	return nil
}

// message answers MessageQuery for the messages table's hashes (those the
// benchmark samples); GraphQL also finds pending, rejected and forgotten
// messages in their own tables, which this handler answers null.
func (h *Handler) message(ctx context.Context, q map[string][]string, b *bytes.Buffer) error {
	hash := first(q, "hash")
	if hash == "" {
		return fmt.Errorf("%w: hash missing", errBadRequest)
	}
	rows, err := h.pool.Query(ctx, sqlMessage, hash)
	if err != nil {
		return err
	}
	ms, err := scanMessages(rows, messageColumns)
	if err != nil {
		return err
	}
	if len(ms) == 0 {
		b.WriteString(`{"message":null}`)
		return nil
	}
	b.WriteString(`{"message":`)
	writeMessage(b, ms[0], true)
	b.WriteString(`}`)
	return nil
}

// post is the part of a posts row the address page shows.
type post struct {
	hash, typ                 string
	ref, channel, latestAmend *string
	content                   []byte
	created                   time.Time
}

// scanPosts reads post rows: those of sqlPostPage (page true) or every
// column (the latest amends).
func scanPosts(rows pgx.Rows, page bool) ([]post, error) {
	defer rows.Close()
	var out []post
	for rows.Next() {
		var p post
		dest := []any{&p.hash, nil, &p.typ, &p.ref, nil, &p.channel, &p.content, &p.created, &p.latestAmend, nil}
		if page {
			dest = []any{&p.hash, &p.typ, &p.ref, &p.channel, &p.content, &p.created, &p.latestAmend}
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// address answers AddressQuery: the sender's messages, the owner's posts
// (with their latest amends, read in one statement as the dataloader
// does) and aggregates.
func (h *Handler) address(ctx context.Context, q map[string][]string, b *bytes.Buffer) error {
	addr := first(q, "address")
	if addr == "" {
		return fmt.Errorf("%w: address missing", errBadRequest)
	}
	rows, err := h.pool.Query(ctx, sqlSenderPage, addr)
	if err != nil {
		return err
	}
	ms, err := scanMessages(rows, senderColumns)
	if err != nil {
		return err
	}
	if rows, err = h.pool.Query(ctx, sqlPostPage, addr); err != nil {
		return err
	}
	ps, err := scanPosts(rows, true)
	if err != nil {
		return err
	}
	postsMore := len(ps) > pageSize
	if postsMore {
		ps = ps[:pageSize]
	}
	latest, err := h.latestAmends(ctx, ps)
	if err != nil {
		return err
	}
	b.WriteString(`{"messages":`)
	writeMessagePage(b, ms, false)
	b.WriteString(`,"posts":{"edges":[`)
	var end string
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		end = encodeCursor(keyCursor{A: p.created.UTC(), B: p.hash})
		v := p
		if l, ok := latest[deref(p.latestAmend)]; ok && deref(p.latestAmend) != p.hash {
			v = l
		}
		b.WriteString(`{"cursor":`)
		writeString(b, end)
		b.WriteString(`,"node":{"hash":`)
		writeString(b, p.hash)
		b.WriteString(`,"type":`)
		writeString(b, p.typ)
		b.WriteString(`,"channel":`)
		writeOptString(b, p.channel)
		b.WriteString(`,"ref":`)
		writeOptString(b, p.ref)
		b.WriteString(`,"createdAt":`)
		writeTime(b, p.created)
		b.WriteString(`,"lastUpdated":`)
		writeTime(b, v.created)
		b.WriteString(`,"content":`)
		writeRaw(b, v.content)
		b.WriteString(`}}`)
	}
	writePageInfo(b, postsMore, end, len(ps) > 0)

	if rows, err = h.pool.Query(ctx, sqlAggregatePage, addr); err != nil {
		return err
	}
	defer rows.Close()
	b.WriteString(`,"aggregates":{"edges":[`)
	n := 0
	end = ""
	for rows.Next() {
		var owner, key string
		var content []byte
		var updated time.Time
		var elements int64
		if err := rows.Scan(nil, &owner, &key, &content, &updated, &elements); err != nil {
			return err
		}
		n++
		if n > pageSize {
			continue
		}
		if n > 1 {
			b.WriteByte(',')
		}
		end = encodeCursor(keyCursor{A: owner, B: key})
		b.WriteString(`{"cursor":`)
		writeString(b, end)
		b.WriteString(`,"node":{"key":`)
		writeString(b, key)
		b.WriteString(`,"content":`)
		writeRaw(b, content)
		b.WriteString(`,"lastUpdated":`)
		writeTime(b, updated)
		b.WriteString(`,"elementCount":`)
		b.WriteString(strconv.FormatInt(elements, 10))
		b.WriteString(`}}`)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	writePageInfo(b, n > pageSize, end, n > 0)
	b.WriteString(`}`)
	return nil
}

// latestAmends reads the latest amends of the page's posts in one
// writeMessage writes a message node as the GraphQL queries select it:
// the feed's fields, and with full the sender, owner, item type and
// content too.
func writeMessage(b *bytes.Buffer, m message, full bool) {
	b.WriteString(`{"hash":`)
	writeString(b, m.hash)
	b.WriteString(`,"type":`)
	writeString(b, strings.ReplaceAll(m.typ, "-", "_"))
	b.WriteString(`,"chain":`)
	writeString(b, m.chain)
	if full {
		b.WriteString(`,"sender":`)
		writeString(b, m.sender)
		b.WriteString(`,"owner":`)
		writeString(b, m.owner)
	}
	b.WriteString(`,"channel":`)
	writeOptString(b, m.channel)
	b.WriteString(`,"time":`)
	writeTime(b, m.time)
	if full {
		b.WriteString(`,"itemType":`)
		writeString(b, strings.ToUpper(m.itemType))
	}
	b.WriteString(`,"contentType":`)
	writeOptString(b, m.contentType)
	if full {
		b.WriteString(`,"content":`)
		writeRaw(b, m.content)
	}
	b.WriteByte('}')
}

// statement, as the post dataloader does.
func (h *Handler) latestAmends(ctx context.Context, ps []post) (map[string]post, error) {
	var ids []any
	seen := map[string]bool{}
	for _, p := range ps {
		if id := deref(p.latestAmend); id != "" && id != p.hash && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	var sql strings.Builder
	sql.WriteString(sqlPostsByID)
	for i := range ids {
		if i > 0 {
			sql.WriteString(", ")
		}
		sql.WriteString("$" + strconv.Itoa(i+1))
	}
	sql.WriteString(")")
	rows, err := h.pool.Query(ctx, sql.String(), ids...)
	if err != nil {
		return nil, err
	}
	got, err := scanPosts(rows, false)
	if err != nil {
		return nil, err
	}
	out := make(map[string]post, len(got))
	for _, p := range got {
		out[p.hash] = p
	}
	return out, nil
}

func writePageInfo(b *bytes.Buffer, more bool, end string, nonEmpty bool) {
	b.WriteString(`],"pageInfo":{"hasNextPage":`)
	b.WriteString(strconv.FormatBool(more))
	b.WriteString(`,"endCursor":`)
	if nonEmpty {
		writeString(b, end)
	} else {
		b.WriteString(`null`)
	}
	b.WriteString(`}}`)
}

func first(q map[string][]string, k string) string {
	if vs := q[k]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// writeString writes a JSON string as gqlgen does.
func writeString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		b.WriteString(s[start:i])
		switch c {
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '\n':
			b.WriteString(`\n`)
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		default:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
		start = i + 1
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}

func writeOptString(b *bytes.Buffer, s *string) {
	if s == nil {
		b.WriteString(`null`)
		return
	}
	writeString(b, *s)
}

// writeTime writes a time as the API's Time scalar.
func writeTime(b *bytes.Buffer, t time.Time) {
	b.WriteByte('"')
	b.WriteString(t.UTC().Format("2006-01-02T15:04:05.000000Z07:00"))
	b.WriteByte('"')
}

// writeRaw writes a stored JSON document (the JSON scalar) compacted, as
// encoding/json writes the GraphQL response's raw data.
func writeRaw(b *bytes.Buffer, v []byte) {
	if len(v) == 0 {
		b.WriteString(`null`)
		return
	}
	if err := json.Compact(b, v); err != nil {
		b.WriteString(`null`)
	}
}

// Interface guards
var _ http.Handler = (*Handler)(nil)

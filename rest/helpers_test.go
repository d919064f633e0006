package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/live"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/demo"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/handler"
	"github.com/alephql/alephql/read"
	"github.com/alephql/alephql/rest"
)

// node is a REST API over a database with a running processor.
type node struct {
	t      *testing.T
	db     *database.DB
	proc   *processor.Processor
	url    string
	reader *read.Reader
}

// newNode starts the processor and the API over db.
func newNode(t *testing.T, db *database.DB, cfg rest.Config) *node {
	t.Helper()
	return newNodeWith(t, db, cfg)
}

// newNodeWith is newNode with API options.
func newNodeWith(t *testing.T, db *database.DB, cfg rest.Config, opts ...rest.Option) *node {
	t.Helper()
	return newNodeOn(t, db, events.NewLocal(0), cfg, opts...)
}

// newNodeOn is newNodeWith with the processor publishing on bus.
func newNodeOn(t *testing.T, db *database.DB, bus *events.Local, cfg rest.Config, opts ...rest.Option) *node {
	t.Helper()
	log := dbtest.Logger()
	proc, err := processor.New(processor.Config{}, processor.Deps{
		DB: db, Handler: handler.Deps{Config: handler.DefaultConfig(), Log: log}, Events: bus, Log: log,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = proc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	reader, err := read.New(read.Config{}, db.Client)
	require.NoError(t, err)
	sub := rest.SubmitterFunc(func(ctx context.Context, raw json.RawMessage) (string, error) {
		r, err := proc.Submit(ctx, raw, processor.OriginAPI, nil)
		if err != nil {
			if c, ok := errcode.CodeOf(err); ok && c.Kind() == errcode.Invalid {
				return "", errors.Join(rest.ErrInvalidMessage, err)
			}
			return "", err
		}
		return r.ItemHash, nil
	})
	hub, err := live.NewHub(live.Config{}, db.Client, bus, log)
	require.NoError(t, err)
	hubDone := make(chan struct{})
	go func() { defer close(hubDone); _ = hub.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-hubDone })
	api, err := rest.New(cfg, reader, sub, bus, log, append([]rest.Option{rest.WithHub(hub)}, opts...)...)
	require.NoError(t, err)
	mux := http.NewServeMux()
	for p, h := range api.Routes() {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &node{t: t, db: db, proc: proc, url: srv.URL, reader: reader}
}

// seed imports n messages of the demo dataset and waits until none is
// pending. It returns the dataset.
func (n *node) seed(count int) *demo.Dataset {
	n.t.Helper()
	d, err := demo.NewDataset(4, 1.7e9, 42)
	require.NoError(n.t, err)
	var buf bytes.Buffer
	for range count {
		raw, _, err := d.Next()
		require.NoError(n.t, err)
		buf.Write(raw)
		buf.WriteByte('\n')
	}
	_, err = n.proc.Import(n.t.Context(), &buf, 100, nil)
	require.NoError(n.t, err)
	n.settle()
	return d
}

// settle waits until no message is pending.
func (n *node) settle() {
	n.t.Helper()
	require.Eventually(n.t, func() bool {
		c, err := n.db.Client.MessageStatus.Query().Where(messagestatus.StatusEQ(messagestatus.StatusPending)).Count(context.Background())
		return err == nil && c == 0
	}, 30*time.Second, 20*time.Millisecond)
}

// get fetches a path and decodes its JSON body into out (if not nil).
func (n *node) get(path string, out any) int {
	n.t.Helper()
	res, err := http.Get(n.url + path)
	require.NoError(n.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(n.t, err)
	require.Equal(n.t, "*", res.Header.Get("Access-Control-Allow-Origin"), "CORS on %s", path)
	if out != nil {
		require.NoError(n.t, json.Unmarshal(b, out), "%s: %s", path, b)
	}
	return res.StatusCode
}

// post sends a JSON body and decodes the answer.
func (n *node) post(path string, body any, out any) int {
	n.t.Helper()
	b, err := json.Marshal(body)
	require.NoError(n.t, err)
	res, err := http.Post(n.url+path, "application/json", bytes.NewReader(b))
	require.NoError(n.t, err)
	defer res.Body.Close()
	rb, err := io.ReadAll(res.Body)
	require.NoError(n.t, err)
	if out != nil {
		require.NoError(n.t, json.Unmarshal(rb, out), "%s: %s", path, rb)
	}
	return res.StatusCode
}

// messagesPage is the messages.json envelope.
type messagesPage struct {
	Messages []map[string]any `json:"messages"`
	Page     int              `json:"pagination_page"`
	PerPage  int              `json:"pagination_per_page"`
	Total    int              `json:"pagination_total"`
	Item     string           `json:"pagination_item"`
	Next     *string          `json:"next_cursor"`
}

func hashes(ms []map[string]any) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m["item_hash"].(string)
	}
	return out
}

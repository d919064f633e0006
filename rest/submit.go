package rest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/read"
)

// pubsubTopic is the only topic POST /api/v0/ipfs/pubsub/pub accepts: the
// network's message topic.
const pubsubTopic = "ALEPH-TEST"

// statusPoll is how often a sync submission also reads the status (events
// are notifications; a lost one must not cost the whole wait).
const statusPoll = 250 * time.Millisecond

// publicationStatus is the reference node's publication result. This node
// takes the message in directly: always a success.
type publicationStatus struct {
	Status string   `json:"status"`
	Failed []string `json:"failed"`
}

// submitAnswer is the body of POST /api/v0/messages.
type submitAnswer struct {
	PublicationStatus publicationStatus `json:"publication_status"`
	MessageStatus     *string           `json:"message_status"`
}

// readBody reads a JSON request body (413 over the limit, 422 if not
// JSON) into v.
func readBody(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return err // *http.MaxBytesError: 413
	}
	if err := json.Unmarshal(b, v); err != nil {
		return badParam("body", "not a JSON object: %v", err)
	}
	return nil
}

// submit serves POST /api/v0/messages {"message", "sync"}: 202 queued (or
// still pending after SyncTimeout, or not sync), 200 processed (sync),
// 422 rejected or invalid.
func (a *API) submit(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Message json.RawMessage `json:"message"`
		Sync    bool            `json:"sync"`
	}
	if err := readBody(r, &body); err != nil {
		return err
	}
	if len(body.Message) == 0 || body.Message[0] != '{' {
		return badParam("message", "a message object is required")
	}
	status, err := a.take(r.Context(), body.Message, body.Sync)
	if err != nil {
		a.metrics.submitted("invalid")
		return err
	}
	a.metrics.submitted(status)
	// Without sync the reference node always answers 202, and the TS SDK
	// reads the code (200 processed, 202 pending): a message this node
	// happened to apply at intake is still 202 then, its body saying
	// processed.
	code := http.StatusAccepted
	switch status {
	case "processed":
		if body.Sync {
			code = http.StatusOK
		}
	case "rejected":
		code = http.StatusUnprocessableEntity
	}
	return writeJSON(w, code, submitAnswer{PublicationStatus: publicationStatus{Status: "success", Failed: []string{}}, MessageStatus: &status})
}

// pubsub serves POST /api/v0/ipfs/pubsub/pub and /p2p/pubsub/pub:
// {"topic": "ALEPH-TEST", "data": "<message JSON>"} submits the message.
func (a *API) pubsub(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Topic string          `json:"topic"`
		Data  json.RawMessage `json:"data"`
	}
	if err := readBody(r, &body); err != nil {
		return err
	}
	if body.Topic != pubsubTopic {
		return errorf(http.StatusForbidden, "unauthorized topic %q", body.Topic)
	}
	var data string
	if err := json.Unmarshal(body.Data, &data); err != nil {
		return badParam("data", "must be a string")
	}
	if !json.Valid([]byte(data)) || len(data) == 0 || data[0] != '{' {
		return badParam("data", "must be a message in JSON")
	}
	if _, err := a.take(r.Context(), json.RawMessage(data), false); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, publicationStatus{Status: "success", Failed: []string{}})
}

// take submits a message and, with sync, waits up to SyncTimeout for it
// to leave pending: on the event bus (subscribed before submitting, so no
// event is missed), and by reading the status now and then. It returns
// the message's status.
func (a *API) take(ctx context.Context, raw json.RawMessage, sync bool) (string, error) {
	if a.submitter == nil {
		return "", errorf(http.StatusServiceUnavailable, "this node does not take submissions")
	}
	var sub *events.Subscription
	if sync && a.events != nil {
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		s, err := a.events.Subscribe(sctx)
		if err == nil {
			sub = s
		}
	}
	hash, err := a.submitter.Submit(ctx, raw)
	if err != nil {
		if errors.Is(err, ErrInvalidMessage) {
			return "", badParam("message", "%v", err)
		}
		return "", err
	}
	current := func() (string, error) {
		sts, err := read.Statuses(ctx, a.reader.Client(), []string{hash})
		if err != nil {
			return "", err
		}
		if st := sts[hash]; st != nil {
			return string(st.Status), nil
		}
		return "pending", nil
	}
	st, err := current()
	if err != nil || !sync || st != "pending" {
		return st, err
	}
	wctx, cancel := context.WithTimeout(ctx, a.cfg.SyncTimeout)
	defer cancel()
	poll := time.NewTicker(statusPoll)
	defer poll.Stop()
	var evs <-chan events.Event
	if sub != nil {
		evs = sub.C
	}
	for {
		select {
		case <-wctx.Done():
			if err := ctx.Err(); err != nil {
				return "", err
			}
			return "pending", nil
		case ev, ok := <-evs:
			if !ok {
				evs = nil // the bus dropped us: polling carries on
				continue
			}
			if ev.ItemHash != hash {
				continue
			}
		case <-poll.C:
		}
		if st, err = current(); err != nil || st != "pending" {
			return st, err
		}
	}
}

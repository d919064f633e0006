package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/message"
	"github.com/alephql/alephql/rest/storage"
)

// storeSubmitterPoll is how often a sync signed upload looks at its
// message's status.
const storeSubmitterPoll = 50 * time.Millisecond

// storeSubmitter is the storage routes' intake of signed uploads:
// storage.Submitter over the message model and the processor.
type storeSubmitter struct {
	p      *processor.Processor
	client *ent.Client
	// publish, if set, broadcasts each message taken in (network.go).
	publish func(ctx context.Context, raw []byte)
}

// CheckStore implements storage.Submitter: the message must decode as an
// inline STORE message and its signature must verify.
func (s storeSubmitter) CheckStore(raw json.RawMessage) (storage.StoreRef, error) {
	m, err := message.Decode(raw)
	if err != nil {
		return storage.StoreRef{}, fmt.Errorf("invalid store message: %w: %w", storage.ErrInvalid, err)
	}
	sc, ok := m.Content.(*message.StoreContent)
	if !ok {
		if m.Content == nil {
			return storage.StoreRef{}, fmt.Errorf("store message content needed (item_type inline): %w", storage.ErrInvalid)
		}
		return storage.StoreRef{}, fmt.Errorf("message type %s is not STORE: %w", m.Content.MessageType(), storage.ErrInvalid)
	}
	if err := m.Verify(); err != nil {
		if c, ok := errcode.CodeOf(err); ok && c == errcode.InvalidSignature {
			return storage.StoreRef{}, fmt.Errorf("%w: %w", storage.ErrForbidden, err)
		}
		return storage.StoreRef{}, fmt.Errorf("invalid store message: %w: %w", storage.ErrInvalid, err)
	}
	return storage.StoreRef{ItemHash: m.ItemHash, FileHash: sc.ItemHash, ItemType: string(sc.ItemType), Size: sc.Size}, nil
}

// Submit implements storage.Submitter. A message refused at intake wraps
// storage.ErrInvalid; with wait > 0 it polls the message's status until it
// leaves pending or wait passes.
func (s storeSubmitter) Submit(ctx context.Context, raw json.RawMessage, wait time.Duration) (string, error) {
	r, err := s.p.Submit(ctx, raw, processor.OriginAPI, nil)
	if err != nil {
		if c, ok := errcode.CodeOf(err); ok && c.Kind() == errcode.Invalid {
			return "", fmt.Errorf("%w: %w", storage.ErrInvalid, err)
		}
		return "", err
	}
	if s.publish != nil {
		s.publish(ctx, raw)
	}
	status := r.Status
	if status == "" {
		status = storage.StatusPending
	}
	if wait <= 0 || status != storage.StatusPending {
		return status, nil
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(storeSubmitterPoll)
	defer tick.Stop()
	for {
		select {
		case <-wctx.Done():
			if err := ctx.Err(); err != nil {
				return "", err
			}
			return storage.StatusPending, nil
		case <-tick.C:
		}
		st, err := s.client.MessageStatus.Query().Where(messagestatus.ID(r.ItemHash)).Only(wctx)
		switch {
		case ent.IsNotFound(err):
			continue
		case err != nil:
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				return storage.StatusPending, nil
			}
			return "", err
		case st.Status != messagestatus.StatusPending:
			return string(st.Status), nil
		}
	}
}

// Interface guards
var _ storage.Submitter = storeSubmitter{}

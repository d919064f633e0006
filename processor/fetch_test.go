package processor_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/handler"
)

// memStorage is a handler.Storage over a map.
type memStorage struct {
	mu    sync.Mutex
	files map[string][]byte
}

func (s *memStorage) put(h string, b []byte) { s.mu.Lock(); defer s.mu.Unlock(); s.files[h] = b }

func (s *memStorage) Get(_ context.Context, h string, max int64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.files[h]
	if !ok {
		return nil, fmt.Errorf("%w: %s", handler.ErrNotFound, h)
	}
	if int64(len(b)) > max {
		return nil, handler.ErrTooLarge
	}
	return b, nil
}

func (s *memStorage) Stat(_ context.Context, h string) (int64, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.files[h]
	if !ok {
		return 0, false, handler.ErrNotFound
	}
	return int64(len(b)), false, nil
}
func (s *memStorage) Pin(context.Context, string) error   { return nil }
func (s *memStorage) Unpin(context.Context, string) error { return nil }

func TestFetchStageStorageContent(t *testing.T) {
	// A POST whose content lives in storage waits (CONTENT_UNAVAILABLE,
	// back to the fetch stage) until the content can be fetched, then is
	// processed with the exact fetched bytes.
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		st := &memStorage{files: map[string][]byte{}}
		clk := &clock{t: time.Now().UTC()}
		p, err := processor.New(processor.Config{}, processor.Deps{DB: db, Log: dbtest.Logger(), Now: clk.Now,
			Handler: handler.Deps{Config: handler.DefaultConfig(), Storage: st}})
		require.NoError(t, err)
		e := &env{t: t, db: db, p: p, clk: clk, ctx: t.Context()}
		alice := account(t)
		raw, h, content, err := alice.SignStorage(demoMsg("POST", "TEST", base, map[string]any{"type": "note", "content": "stored"}))
		require.NoError(t, err)
		e.submit(raw)
		e.drain()
		require.Equal(t, messagestatus.StatusPending, e.status(h))
		row, err := db.Client.PendingMessage.Query().Only(t.Context())
		require.NoError(t, err)
		require.False(t, row.Fetched)
		require.Equal(t, int(errcode.ContentUnavailable), *row.LastErrorCode)
		require.Nil(t, row.ClaimedBy, "a failed fetch releases its lease")

		st.put(h, content)
		clk.Add(5 * time.Second)
		e.drain()
		require.Equal(t, messagestatus.StatusProcessed, e.status(h))
		m, err := db.Client.Message.Get(t.Context(), h)
		require.NoError(t, err)
		require.Equal(t, "storage", m.ItemType)
		require.EqualValues(t, len(content), m.Size)
		require.Equal(t, "note", *m.ContentType)
	})
}

package storage_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/rest/storage"
)

// memContent stores storage files in memory.
type memContent struct{}

func (memContent) Open(context.Context, string) (io.ReadCloser, int64, error) {
	return nil, 0, storage.ErrNotFound
}

func (memContent) OpenArchive(context.Context, string) (io.ReadCloser, error) {
	return nil, storage.ErrNotFound
}

func (memContent) Get(context.Context, string, int64) ([]byte, error) {
	return nil, storage.ErrNotFound
}

func (memContent) AddStorage(_ context.Context, r io.Reader, limit int64) (string, int64, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return "", 0, err
	}
	if int64(len(b)) > limit {
		return "", 0, fmt.Errorf("over %d: %w", limit, storage.ErrTooLarge)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), int64(len(b)), nil
}

func (memContent) AddJSON(context.Context, []byte, bool) (string, int64, error) {
	return "", 0, storage.ErrDisabled
}

func (memContent) AddIPFS(context.Context, io.Reader) (string, error) {
	return "", storage.ErrDisabled
}

func (memContent) ImportCAR(context.Context, io.Reader) (string, error) {
	return "", storage.ErrDisabled
}

// memFiles records uploads.
type memFiles struct {
	mu       sync.Mutex
	recorded map[string]int64
}

func (f *memFiles) File(context.Context, string) (storage.FileInfo, error) {
	return storage.FileInfo{}, storage.ErrNotFound
}

func (f *memFiles) RecordUpload(_ context.Context, hash string, size int64, _, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recorded[hash] = size
	return nil
}

// fakeSubmitter answers with fixed results and records Submit's wait.
type fakeSubmitter struct {
	ref       storage.StoreRef
	checkErr  error
	status    string
	submitErr error
	mu        sync.Mutex
	waits     []time.Duration
}

func (s *fakeSubmitter) CheckStore(json.RawMessage) (storage.StoreRef, error) {
	return s.ref, s.checkErr
}

func (s *fakeSubmitter) Submit(_ context.Context, _ json.RawMessage, wait time.Duration) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, wait)
	return s.status, s.submitErr
}

func body(t *testing.T, metadataFirst bool, metadata string, data []byte) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	writeMD := func() { require.NoError(t, mw.WriteField("metadata", metadata)) }
	if metadataFirst {
		writeMD()
	}
	fw, err := mw.CreateFormFile("file", "f")
	require.NoError(t, err)
	_, err = fw.Write(data)
	require.NoError(t, err)
	if !metadataFirst {
		writeMD()
	}
	require.NoError(t, mw.Close())
	return &buf, mw.FormDataContentType()
}

func TestSignedUploadAnswers(t *testing.T) {
	data := bytes.Repeat([]byte("a"), 100)
	sum := sha256.Sum256(data)
	fh := hex.EncodeToString(sum[:])
	big := bytes.Repeat([]byte("b"), 200)
	sumBig := sha256.Sum256(big)
	bigHash := hex.EncodeToString(sumBig[:])
	size := int64(len(data))
	ok := storage.StoreRef{ItemHash: "m", FileHash: fh, ItemType: "storage", Size: &size}
	const syncTimeout = 7 * time.Second

	for _, tc := range []struct {
		name          string
		sub           *fakeSubmitter // nil: routes without a submitter
		sync          bool
		metadataFirst bool
		data          []byte
		want          int
		wantJSONError bool
		wantWait      []time.Duration
		wantRecorded  bool
	}{
		{name: "no submitter", want: 501, data: data, wantRecorded: true},
		{name: "async pending", sub: &fakeSubmitter{ref: ok, status: "pending"}, want: 202, data: data, wantWait: []time.Duration{0}, wantRecorded: true},
		{name: "sync processed", sub: &fakeSubmitter{ref: ok, status: "processed"}, sync: true, want: 200, data: data, wantWait: []time.Duration{syncTimeout}, wantRecorded: true},
		{name: "sync still pending", sub: &fakeSubmitter{ref: ok, status: "pending"}, sync: true, want: 202, data: data, wantWait: []time.Duration{syncTimeout}, wantRecorded: true},
		{name: "sync rejected", sub: &fakeSubmitter{ref: ok, status: "rejected"}, sync: true, want: 422, data: data, wantWait: []time.Duration{syncTimeout}, wantRecorded: true},
		{name: "bad signature, metadata first", sub: &fakeSubmitter{checkErr: storage.ErrForbidden}, metadataFirst: true, want: 403, wantJSONError: true, data: data},
		{name: "invalid message, metadata first", sub: &fakeSubmitter{checkErr: fmt.Errorf("bad: %w", storage.ErrInvalid)}, metadataFirst: true, want: 422, wantJSONError: true, data: data},
		{name: "refused at intake", sub: &fakeSubmitter{ref: ok, submitErr: fmt.Errorf("bad: %w", storage.ErrInvalid)}, want: 422, wantJSONError: true, data: data, wantWait: []time.Duration{0}, wantRecorded: true},
		{name: "hash mismatch", sub: &fakeSubmitter{ref: storage.StoreRef{FileHash: bigHash, ItemType: "storage"}}, want: 422, wantJSONError: true, data: data, wantRecorded: true},
		{name: "size mismatch", sub: &fakeSubmitter{ref: storage.StoreRef{FileHash: fh, ItemType: "storage", Size: new(int64)}}, want: 422, wantJSONError: true, data: data, wantRecorded: true},
		{name: "over the unauthenticated limit, metadata first", sub: &fakeSubmitter{ref: storage.StoreRef{FileHash: bigHash, ItemType: "storage"}, status: "pending"}, metadataFirst: true, want: 202, data: big, wantWait: []time.Duration{0}, wantRecorded: true},
		{name: "over the unauthenticated limit, file first", sub: &fakeSubmitter{ref: storage.StoreRef{FileHash: bigHash, ItemType: "storage"}, status: "pending"}, want: 413, data: big},
		{name: "over the signed limit", sub: &fakeSubmitter{ref: ok}, metadataFirst: true, want: 413, data: bytes.Repeat([]byte("c"), 400)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := &memFiles{recorded: map[string]int64{}}
			h, err := storage.New(storage.Config{MaxUnauthenticatedUpload: 150, MaxFileSize: 300, SyncTimeout: syncTimeout},
				memContent{}, files, slog.New(slog.DiscardHandler))
			require.NoError(t, err)
			if tc.sub != nil {
				h = h.WithSubmitter(tc.sub)
			}
			mux := http.NewServeMux()
			for p, hd := range h.Routes() {
				mux.Handle(p, hd)
			}
			md := fmt.Sprintf(`{"message": {"type": "STORE"}, "sync": %t}`, tc.sync)
			b, ct := body(t, tc.metadataFirst, md, tc.data)
			req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/api/v0/storage/add_file", b)
			req.Header.Set("Content-Type", ct)
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			require.Equal(t, tc.want, rec.Code, rec.Body.String())
			if tc.want < 300 || tc.want == 422 && !tc.wantJSONError {
				var out map[string]any
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
				require.Equal(t, "success", out["status"])
			}
			if tc.wantJSONError {
				var out map[string]any
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out), rec.Body.String())
				require.Equal(t, "error", out["status"])
				require.NotEmpty(t, out["error"])
			}
			if tc.sub != nil {
				require.Equal(t, tc.wantWait, tc.sub.waits)
			}
			require.Equal(t, tc.wantRecorded, len(files.recorded) == 1, files.recorded)
		})
	}
}

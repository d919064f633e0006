package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/file"
	"github.com/alephql/alephql/ent/filepin"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/ipfs"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/demo"
)

// signedStorageServer is storageServer with the processor running and
// wired as the routes' submitter.
func signedStorageServer(t *testing.T, db *database.DB, api string) (*storageNode, *httptest.Server) {
	t.Helper()
	st, _ := storageWithProcessor(t, db, api)
	mux := http.NewServeMux()
	for p, h := range st.Routes {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return st, srv
}

// storageWithProcessor wires the storage node and a running processor as
// serve does, over db and the kubo at api.
func storageWithProcessor(t *testing.T, db *database.DB, api string) (*storageNode, *processor.Processor) {
	t.Helper()
	log := dbtest.Logger()
	st, err := newStorage(storageFlags{ipfsAPI: api, gcPeriod: time.Hour, grace: 24 * time.Hour, maxUpload: 1 << 20},
		t.TempDir(), db.Client, log)
	require.NoError(t, err)
	proc, err := newProcessor(pipelineFlags{batchSize: 100, maxRetries: 10}, db, st.Content, nil, nil, log)
	require.NoError(t, err)
	st.acceptSigned(proc, db.Client)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- proc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("processor: %v", err)
		}
	})
	return st, proc
}

// signedBody is a multipart upload with its metadata first, as the SDKs
// send it.
func signedBody(t *testing.T, metadata string, data []byte) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	require.NoError(t, mw.WriteField("metadata", metadata))
	fw, err := mw.CreateFormFile("file", "f.bin")
	require.NoError(t, err)
	_, err = fw.Write(data)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	return &buf, mw.FormDataContentType()
}

// signedStore signs a STORE message of a file and wraps it as metadata.
func signedStore(t *testing.T, a *demo.Account, itemType, fileHash string, size *int, sync bool) (string, string) {
	t.Helper()
	c := map[string]any{"item_type": itemType, "item_hash": fileHash}
	if size != nil {
		c["size"] = *size
	}
	raw, hash, err := a.Sign(demo.Msg{Type: "STORE", Channel: "TEST", Time: 1_700_000_000, Content: c})
	require.NoError(t, err)
	md, err := json.Marshal(map[string]any{"message": json.RawMessage(raw), "sync": sync})
	require.NoError(t, err)
	return string(md), hash
}

// answer posts an upload and returns the status and the JSON body.
func answer(t *testing.T, url string, body io.Reader, ct string) (int, map[string]any) {
	t.Helper()
	req := post(t, url, ct, body)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(b, &out), "%d %s", resp.StatusCode, b)
	return resp.StatusCode, out
}

func TestSignedStorageUpload(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		_, srv := signedStorageServer(t, db, "")
		url := srv.URL + "/api/v0/storage/add_file"
		a, err := demo.NewAccount()
		require.NoError(t, err)
		pins := func(hash string) map[filepin.Type]int {
			rows, err := db.Client.FilePin.Query().Where(filepin.FileHash(hash)).All(ctx)
			require.NoError(t, err)
			m := map[filepin.Type]int{}
			for _, r := range rows {
				m[r.Type]++
			}
			return m
		}
		newFile := func(n int) ([]byte, string) {
			b := make([]byte, n)
			_, _ = rand.Read(b)
			sum := sha256.Sum256(b)
			return b, hex.EncodeToString(sum[:])
		}

		t.Run("sync upload is processed and pinned by its message", func(t *testing.T) {
			data, fh := newFile(3000)
			n := len(data)
			md, msgHash := signedStore(t, a, "storage", fh, &n, true)
			status, out := upload(t, url, md, data)
			require.Equal(t, http.StatusOK, status, out)
			require.Equal(t, map[string]any{"status": "success", "hash": fh}, out)
			st, err := db.Client.MessageStatus.Get(ctx, msgHash)
			require.NoError(t, err)
			require.Equal(t, messagestatus.StatusProcessed, st.Status)
			require.Equal(t, 1, pins(fh)[filepin.TypeMessage], pins(fh))
			f, err := db.Client.File.Query().Where(file.ID(fh)).Only(ctx)
			require.NoError(t, err)
			require.EqualValues(t, n, f.Size)
			resp, err := http.Get(srv.URL + "/api/v0/storage/raw/" + fh)
			require.NoError(t, err)
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, data, got)
		})

		t.Run("async upload answers 202 then is processed", func(t *testing.T) {
			data, fh := newFile(500)
			md, msgHash := signedStore(t, a, "storage", fh, nil, false)
			status, out := upload(t, url, md, data)
			require.Equal(t, http.StatusAccepted, status, out)
			require.Equal(t, fh, out["hash"])
			require.Eventually(t, func() bool {
				st, err := db.Client.MessageStatus.Get(ctx, msgHash)
				return err == nil && st.Status == messagestatus.StatusProcessed && pins(fh)[filepin.TypeMessage] == 1
			}, 20*time.Second, 50*time.Millisecond)
		})

		t.Run("signed upload may exceed the unauthenticated limit", func(t *testing.T) {
			data, fh := newFile(1<<20 + 10) // limit 1 MiB in this server
			n := len(data)
			md, _ := signedStore(t, a, "storage", fh, &n, true)
			status, out := upload(t, url, md, data)
			require.NotEqual(t, http.StatusRequestEntityTooLarge, status, out)
			require.Equal(t, fh, out["hash"])
		})

		refused := []struct {
			name   string
			status int
			stored bool                                          // the file is read before the refusal
			md     func(data []byte, fh string) (string, string) // metadata, message hash
		}{
			{"item_hash of another file", http.StatusUnprocessableEntity, true, func(_ []byte, _ string) (string, string) {
				_, other := newFile(10)
				return signedStore(t, a, "storage", other, nil, true)
			}},
			{"size mismatch", http.StatusUnprocessableEntity, true, func(data []byte, fh string) (string, string) {
				n := len(data) + 1
				return signedStore(t, a, "storage", fh, &n, true)
			}},
			{"ipfs item_type on the storage route", http.StatusUnprocessableEntity, true, func(_ []byte, fh string) (string, string) {
				return signedStore(t, a, "ipfs", fh, nil, true)
			}},
			{"not a STORE message", http.StatusUnprocessableEntity, false, func(_ []byte, _ string) (string, string) {
				raw, h, err := a.Post(1_700_000_000, "TEST", "note", map[string]any{"x": 1}, "")
				require.NoError(t, err)
				return `{"message": ` + string(raw) + `, "sync": true}`, h
			}},
			{"malformed message", http.StatusUnprocessableEntity, false, func(_ []byte, _ string) (string, string) {
				return `{"message": {"type": "STORE", "item_hash": "zz"}, "sync": false}`, ""
			}},
			{"metadata not JSON", http.StatusUnprocessableEntity, false, func(_ []byte, _ string) (string, string) {
				return `{"message":`, ""
			}},
			{"bad signature", http.StatusForbidden, false, func(data []byte, fh string) (string, string) {
				md, h := signedStore(t, a, "storage", fh, nil, true)
				var m map[string]any
				require.NoError(t, json.Unmarshal([]byte(md), &m))
				msg := m["message"].(map[string]any)
				other, err := demo.NewAccount()
				require.NoError(t, err)
				msg["sender"] = other.Address()
				b, _ := json.Marshal(m)
				return string(b), h
			}},
		}
		for _, tc := range refused {
			t.Run(tc.name, func(t *testing.T) {
				data, fh := newFile(700)
				md, msgHash := tc.md(data, fh)
				status, out := upload(t, url, md, data)
				require.Equal(t, tc.status, status, out)
				require.Equal(t, "error", out["status"])
				require.NotEmpty(t, out["error"])
				// Nothing kept beyond a grace pin, and no message taken in.
				if tc.stored {
					require.Equal(t, map[filepin.Type]int{filepin.TypeGracePeriod: 1}, pins(fh))
				} else {
					require.Empty(t, pins(fh))
				}
				if msgHash != "" {
					n, err := db.Client.MessageStatus.Query().Where(messagestatus.ID(msgHash)).Count(ctx)
					require.NoError(t, err)
					require.Zero(t, n)
				}
			})
		}
	})
}

func TestSignedIPFSUpload(t *testing.T) {
	api := os.Getenv("ALEPHQL_TEST_IPFS")
	require.NotEmpty(t, api, "ALEPHQL_TEST_IPFS is not set: run scripts/test-servers.sh start DIR and source DIR/env")
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		st, srv := signedStorageServer(t, db, api)
		url := srv.URL + "/api/v0/ipfs/add_file"
		a, err := demo.NewAccount()
		require.NoError(t, err)
		data := make([]byte, 5000)
		_, _ = rand.Read(data)
		cid, err := st.Content.Add(ctx, bytes.NewReader(data), ipfsOnlyHash)
		require.NoError(t, err)

		md, msgHash := signedStore(t, a, "ipfs", cid, nil, true)
		status, out := upload(t, url, md, data)
		require.Equal(t, http.StatusOK, status, out)
		require.Equal(t, map[string]any{"status": "success", "hash": cid, "name": "f.bin", "size": float64(len(data))}, out)
		s, err := db.Client.MessageStatus.Get(ctx, msgHash)
		require.NoError(t, err)
		require.Equal(t, messagestatus.StatusProcessed, s.Status)
		n, err := db.Client.FilePin.Query().Where(filepin.FileHash(cid), filepin.TypeEQ(filepin.TypeMessage)).Count(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)

		// A CID that is not the file's: 422, only the grace pin.
		other := append([]byte("x"), data...)
		md, _ = signedStore(t, a, "ipfs", cid, nil, true)
		status, out = upload(t, url, md, other)
		require.Equal(t, http.StatusUnprocessableEntity, status, out)
		otherCID, err := st.Content.Add(ctx, bytes.NewReader(other), ipfsOnlyHash)
		require.NoError(t, err)
		rows, err := db.Client.FilePin.Query().Where(filepin.FileHash(otherCID)).All(ctx)
		require.NoError(t, err)
		require.Len(t, rows, 1)
		require.Equal(t, filepin.TypeGracePeriod, rows[0].Type)
	})
}

// upload posts a signed upload and returns the status and the JSON body.
func upload(t *testing.T, url, metadata string, data []byte) (int, map[string]any) {
	t.Helper()
	body, ct := signedBody(t, metadata, data)
	return answer(t, url, body, ct)
}

// ipfsOnlyHash computes a CID without adding anything.
var ipfsOnlyHash = ipfs.AddOptions{OnlyHash: true}

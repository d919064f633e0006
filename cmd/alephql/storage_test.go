package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/filepin"
	"github.com/alephql/alephql/ipfs"
	"github.com/alephql/alephql/ipfs/ipfstest"
)

func storageServer(t *testing.T, db *database.DB, api string, maxUpload int64) (*storageNode, *httptest.Server) {
	t.Helper()
	st, err := newStorage(storageFlags{ipfsAPI: api, gcPeriod: time.Hour, grace: 24 * time.Hour, maxUpload: maxUpload},
		t.TempDir(), db.Client, dbtest.Logger())
	require.NoError(t, err)
	mux := http.NewServeMux()
	for p, h := range st.Routes {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return st, srv
}

func multipartBody(t *testing.T, name string, data []byte, metadata string) (io.Reader, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", name)
	require.NoError(t, err)
	_, err = fw.Write(data)
	require.NoError(t, err)
	if metadata != "" {
		require.NoError(t, mw.WriteField("metadata", metadata))
	}
	require.NoError(t, mw.Close())
	return &buf, mw.FormDataContentType()
}

func doJSON(t *testing.T, req *http.Request, wantStatus int) map[string]any {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, wantStatus, resp.StatusCode, "%s", body)
	if wantStatus != http.StatusOK {
		return nil
	}
	var out map[string]any
	require.NoError(t, json.Unmarshal(body, &out))
	return out
}

func post(t *testing.T, url, contentType string, body io.Reader) *http.Request {
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	return req
}

func TestStorageRoutes(t *testing.T) {
	api := os.Getenv("ALEPHQL_TEST_IPFS")
	require.NotEmpty(t, api, "ALEPHQL_TEST_IPFS is not set: run scripts/test-servers.sh start DIR and source DIR/env")
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		st, srv := storageServer(t, db, api, 1<<20)

		// add_json: the hash is the sha256 of the canonical form.
		out := doJSON(t, post(t, srv.URL+"/api/v0/storage/add_json", "application/json", strings.NewReader(`{"b": 1e16, "a": "é"}`)), 200)
		canonical := `{"a":"é","b":1e16}`
		sum := sha256.Sum256([]byte(canonical))
		jsonHash := hex.EncodeToString(sum[:])
		require.Equal(t, map[string]any{"status": "success", "hash": jsonHash}, out)
		pin, err := db.Client.FilePin.Query().Where(filepin.FileHash(jsonHash)).Only(ctx)
		require.NoError(t, err)
		require.Equal(t, filepin.TypeGracePeriod, pin.Type)
		require.WithinDuration(t, time.Now().Add(24*time.Hour), *pin.DeleteBy, time.Minute)

		// raw: GET streams with Content-Length; HEAD has the headers only.
		resp, err := http.Get(srv.URL + "/api/v0/storage/raw/" + jsonHash)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, canonical, string(body))
		require.Equal(t, strconv.Itoa(len(canonical)), resp.Header.Get("Content-Length"))
		require.Equal(t, "application/octet-stream", resp.Header.Get("Content-Type"))
		resp, err = http.Head(srv.URL + "/api/v0/storage/raw/" + jsonHash)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		require.EqualValues(t, len(canonical), resp.ContentLength)

		for path, status := range map[string]int{
			"/api/v0/storage/raw/" + strings.Repeat("0", 64): 404,
			"/api/v0/storage/raw/nothash":                    400,
			"/api/v0/storage/" + strings.Repeat("0", 64):     404,
		} {
			resp, err := http.Get(srv.URL + path)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, status, resp.StatusCode, path)
		}

		// GET /storage/{hash}: pyaleph's base64 JSON.
		data := make([]byte, 6700)
		_, _ = rand.Read(data)
		out = doJSON(t, post(t, srv.URL+"/api/v0/storage/add_file", "application/octet-stream", bytes.NewReader(data)), 200)
		fileHash := out["hash"].(string)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v0/storage/"+fileHash, nil)
		out = doJSON(t, req, 200)
		require.Equal(t, "storage", out["engine"])
		content := out["content"].(string)
		require.Contains(t, content, "\n")
		decoded, err := base64.StdEncoding.DecodeString(content)
		require.NoError(t, err)
		require.Equal(t, data, decoded)

		// Multipart storage upload, and the unauthenticated size limit.
		mp, ct := multipartBody(t, "a.bin", data[:100], "")
		out = doJSON(t, post(t, srv.URL+"/api/v0/storage/add_file", ct, mp), 200)
		sum = sha256.Sum256(data[:100])
		require.Equal(t, hex.EncodeToString(sum[:]), out["hash"])
		big := make([]byte, 1<<20+1)
		mp, ct = multipartBody(t, "big.bin", big, "")
		doJSON(t, post(t, srv.URL+"/api/v0/storage/add_file", ct, mp), 413)
		doJSON(t, post(t, srv.URL+"/api/v0/storage/add_file", "application/octet-stream", bytes.NewReader(big)), 413)
		doJSON(t, post(t, srv.URL+"/api/v0/ipfs/add_file", ct, bytes.NewReader(nil)), 422)
		mp, ct = multipartBody(t, "big.bin", big, "")
		doJSON(t, post(t, srv.URL+"/api/v0/ipfs/add_file", ct, mp), 413)
		mp, ct = multipartBody(t, "a.bin", data[:10], `{"message": {}, "sync": false}`)
		doJSON(t, post(t, srv.URL+"/api/v0/storage/add_file", ct, mp), 501)
		doJSON(t, post(t, srv.URL+"/api/v0/storage/add_json", "application/json", strings.NewReader(`{"a":`)), 422)

		// ipfs/add_file: CIDv0 of the bytes, pinned in kubo, served raw
		// from kubo (nothing local).
		mp, ct = multipartBody(t, "photo.jpg", data, "")
		out = doJSON(t, post(t, srv.URL+"/api/v0/ipfs/add_file", ct, mp), 200)
		cid := out["hash"].(string)
		want, err := st.Content.Add(ctx, bytes.NewReader(data), ipfs.AddOptions{OnlyHash: true})
		require.NoError(t, err)
		require.Equal(t, map[string]any{"status": "success", "hash": want, "name": "photo.jpg", "size": float64(len(data))}, out)
		pinned, err := st.Content.IsPinned(ctx, cid)
		require.NoError(t, err)
		require.True(t, pinned)
		resp, err = http.Get(srv.URL + "/api/v0/storage/raw/" + cid)
		require.NoError(t, err)
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, data, body)
		require.EqualValues(t, len(data), resp.ContentLength)

		out = doJSON(t, post(t, srv.URL+"/api/v0/ipfs/add_json", "application/json", strings.NewReader(`{"x":[1]}`)), 200)
		require.True(t, strings.HasPrefix(out["hash"].(string), "Qm"))

		// After the grace period the collector removes every upload.
		stats, err := st.GC.Collect(ctx, time.Now().Add(25*time.Hour))
		require.NoError(t, err)
		require.Equal(t, 6, stats.DeletedFiles) // 2 JSON, 3 storage files (one refused for its metadata), 1 CID
		for _, h := range []string{jsonHash, fileHash, cid} {
			resp, err := http.Get(srv.URL + "/api/v0/storage/raw/" + h)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, 404, resp.StatusCode, h)
		}
		pinned, err = st.Content.IsPinned(ctx, cid)
		require.NoError(t, err)
		require.False(t, pinned)
	})
}

func TestStorageRoutesWithoutKubo(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		_, srv := storageServer(t, db, "", 1<<20)
		mp, ct := multipartBody(t, "a.bin", []byte("abc"), "")
		doJSON(t, post(t, srv.URL+"/api/v0/ipfs/add_file", ct, mp), 403)
		doJSON(t, post(t, srv.URL+"/api/v0/ipfs/add_json", "application/json", strings.NewReader(`{}`)), 403)
		out := doJSON(t, post(t, srv.URL+"/api/v0/storage/add_json", "application/json", strings.NewReader(`{}`)), 200)
		require.Equal(t, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", out["hash"]) // sha256("{}")
	})
}

func TestIPFSUploadsAnswer503WhileKuboIsDown(t *testing.T) {
	// kubo stopped: uploads to IPFS answer 503 (retry later), not 500;
	// once kubo is back they succeed again.
	k := ipfstest.NewDaemon(t)
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		_, srv := storageServer(t, db, k.API, 1<<20)
		k.Stop()
		mp, ct := multipartBody(t, "a.bin", []byte("abc"), "")
		doJSON(t, post(t, srv.URL+"/api/v0/ipfs/add_file", ct, mp), http.StatusServiceUnavailable)
		doJSON(t, post(t, srv.URL+"/api/v0/ipfs/add_json", "application/json", strings.NewReader(`{}`)), http.StatusServiceUnavailable)
		k.Start()
		mp, ct = multipartBody(t, "a.bin", []byte("abc"), "")
		doJSON(t, post(t, srv.URL+"/api/v0/ipfs/add_file", ct, mp), http.StatusOK)
	})
}

package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ipfs"
)

// BenchmarkStorageRaw measures /api/v0/storage/raw/{hash} under concurrent
// load (GOMAXPROCS × -cpu goroutines, keep-alive connections) for the
// scoring probe's 6.7 kB file and a 10 MiB file: served from the local
// store (sha256), through kubo (CID), and kubo's own gateway serving the
// same CID in the same run.
//
//	go test -run '^$' -bench StorageRaw -benchtime 3s ./cmd/alephql
func BenchmarkStorageRaw(b *testing.B) {
	api := os.Getenv("ALEPHQL_TEST_IPFS")
	gateway := os.Getenv("ALEPHQL_TEST_IPFS_GATEWAY")
	require.NotEmpty(b, api, "ALEPHQL_TEST_IPFS is not set")
	require.NotEmpty(b, gateway, "ALEPHQL_TEST_IPFS_GATEWAY is not set")
	ctx := b.Context()
	db, err := database.Open(ctx, database.Config{URL: filepath.Join(b.TempDir(), "bench.db")}, dbtest.Logger())
	require.NoError(b, err)
	b.Cleanup(func() { _ = db.Close() })
	_, err = db.Migrate(ctx, dbtest.Logger())
	require.NoError(b, err)
	st, err := newStorage(storageFlags{ipfsAPI: api, gcPeriod: time.Hour, grace: time.Hour, maxUpload: 25 << 20},
		b.TempDir(), db.Client, dbtest.Logger())
	require.NoError(b, err)
	mux := http.NewServeMux()
	for p, h := range st.Routes {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}

	for _, size := range []int{6700, 10 << 20} {
		data := make([]byte, size)
		_, _ = rand.Read(data)
		sha, n, err := st.Content.AddStorage(ctx, bytes.NewReader(data), 0)
		require.NoError(b, err)
		cid, err := st.Content.Add(ctx, bytes.NewReader(data), ipfs.AddOptions{Pin: true})
		require.NoError(b, err)
		for _, h := range []string{sha, cid} {
			require.NoError(b, db.Client.File.Create().SetID(h).SetSize(n).SetCreatedAt(time.Now()).Exec(ctx))
		}
		for _, tc := range []struct{ name, url string }{
			{"alephql-local", srv.URL + "/api/v0/storage/raw/" + sha},
			{"alephql-kubo", srv.URL + "/api/v0/storage/raw/" + cid},
			{"kubo-gateway", gateway + "/ipfs/" + cid},
		} {
			b.Run(fmt.Sprintf("%s/%dB", tc.name, size), func(b *testing.B) {
				b.SetBytes(int64(size))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						resp, err := client.Get(tc.url)
						if err != nil {
							b.Error(err)
							return
						}
						n, err := io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if err != nil || resp.StatusCode != 200 || n != int64(size) {
							b.Errorf("GET %s: %d, %d bytes, %v", tc.url, resp.StatusCode, n, err)
							return
						}
					}
				})
			})
		}
	}
}

package main

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/ipfs/kubo/client/rpc"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/filepin"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/ipfs"
	"github.com/alephql/alephql/ipfs/ipfstest"
	"github.com/alephql/alephql/processor/demo"
)

// exportedCAR adds random bytes to a kubo of its own and returns their
// CID and the CAR that kubo's `dag export` makes of them.
func exportedCAR(t *testing.T) (string, []byte) {
	t.Helper()
	ctx := t.Context()
	api := ipfstest.NewDaemon(t).API
	s, err := ipfs.New(ipfs.Config{Dir: t.TempDir(), API: api}, nil, dbtest.Logger())
	require.NoError(t, err)
	data := make([]byte, 300<<10)
	_, _ = rand.Read(data)
	cid, err := s.Add(ctx, bytes.NewReader(data), ipfs.AddOptions{Pin: true})
	require.NoError(t, err)
	c, err := rpc.NewURLApiWithClient(api, &http.Client{})
	require.NoError(t, err)
	res, err := c.Request("dag/export", cid).Send(ctx)
	require.NoError(t, err)
	require.Nil(t, res.Error)
	defer res.Close()
	car, err := io.ReadAll(res.Output)
	require.NoError(t, err)
	return cid, car
}

// TestAddCAR: POST /api/v0/ipfs/add_car imports a CAR made by kubo with
// its signed STORE message (root = item_hash) and processes the message;
// a message naming another hash and a missing message are 422; kubo down
// is 503.
func TestAddCAR(t *testing.T) {
	api := os.Getenv("ALEPHQL_TEST_IPFS")
	require.NotEmpty(t, api, "ALEPHQL_TEST_IPFS is not set: run scripts/test-servers.sh start DIR and source DIR/env")
	cid, car := exportedCAR(t)
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		_, srv := signedStorageServer(t, db, api)
		a, err := demo.NewAccount()
		require.NoError(t, err)
		for _, path := range []string{"/api/v0/ipfs/add_car", "/api/v0/storage/add_car"} {
			md, msgHash := signedStore(t, a, "ipfs", cid, nil, true)
			status, out := upload(t, srv.URL+path, md, car)
			require.Equal(t, http.StatusOK, status, out)
			require.Equal(t, map[string]any{"status": "success", "hash": cid, "name": "f.bin", "size": float64(len(car))}, out)
			s, err := db.Client.MessageStatus.Get(ctx, msgHash)
			require.NoError(t, err)
			require.Equal(t, messagestatus.StatusProcessed, s.Status)
			n, err := db.Client.FilePin.Query().Where(filepin.FileHash(cid), filepin.TypeEQ(filepin.TypeMessage), filepin.ItemHash(msgHash)).Count(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, n)
		}

		// A message naming another hash: 422.
		md, _ := signedStore(t, a, "ipfs", "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", nil, true)
		status, out := upload(t, srv.URL+"/api/v0/ipfs/add_car", md, car)
		require.Equal(t, http.StatusUnprocessableEntity, status, out)
		// No message: 422.
		body, ct := multipartBody(t, "f.car", car, "")
		status, _ = answer(t, srv.URL+"/api/v0/ipfs/add_car", body, ct)
		require.Equal(t, http.StatusUnprocessableEntity, status)
		// Not a CAR: 422.
		md, _ = signedStore(t, a, "ipfs", cid, nil, true)
		status, out = upload(t, srv.URL+"/api/v0/ipfs/add_car", md, []byte("not a car"))
		require.Equal(t, http.StatusUnprocessableEntity, status, out)
	})
	// kubo down: 503.
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		_, srv := signedStorageServer(t, db, "http://127.0.0.1:1")
		a, err := demo.NewAccount()
		require.NoError(t, err)
		md, _ := signedStore(t, a, "ipfs", cid, nil, true)
		body, ct := signedBody(t, md, car)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/api/v0/ipfs/add_car", body)
		require.NoError(t, err)
		req.Header.Set("Content-Type", ct)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	})
}

package main

import (
	"bytes"
	"crypto/rand"
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

// TestStoreLifecycleInKubo follows a large file through the protocol with
// a real kubo: its STORE message gets it pinned (over 1 MiB: pinned, not
// copied), a FORGET releases it to a grace period, and the garbage
// collector removes it from kubo only once the grace period is over.
func TestStoreLifecycleInKubo(t *testing.T) {
	api := os.Getenv("ALEPHQL_TEST_IPFS")
	require.NotEmpty(t, api, "ALEPHQL_TEST_IPFS is not set: run scripts/test-servers.sh start DIR and source DIR/env")
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		st, proc := storageWithProcessor(t, db, api)
		status := func(hash string) messagestatus.Status {
			s, err := db.Client.MessageStatus.Get(ctx, hash)
			if err != nil {
				return ""
			}
			return s.Status
		}
		pinned := func(cid string) bool {
			ok, err := st.Content.IsPinned(ctx, cid)
			require.NoError(t, err)
			return ok
		}

		// The file lives only in kubo, unpinned.
		data := make([]byte, 3<<19) // 1.5 MiB
		_, _ = rand.Read(data)
		cid, err := st.Content.Add(ctx, bytes.NewReader(data), ipfs.AddOptions{})
		require.NoError(t, err)
		require.False(t, pinned(cid))

		a, err := demo.NewAccount()
		require.NoError(t, err)
		raw, storeHash, err := a.Sign(demo.Msg{Type: "STORE", Channel: "TEST", Time: 1_700_000_000,
			Content: map[string]any{"item_type": "ipfs", "item_hash": cid}})
		require.NoError(t, err)
		_, err = proc.Submit(ctx, raw, processor.OriginAPI, nil)
		require.NoError(t, err)
		require.Eventually(t, func() bool { return status(storeHash) == messagestatus.StatusProcessed }, 60*time.Second, 50*time.Millisecond)
		require.True(t, pinned(cid), "a STORE of a file over 1 MiB pins it in kubo")
		f, err := db.Client.File.Get(ctx, cid)
		require.NoError(t, err)
		require.GreaterOrEqual(t, f.Size, int64(len(data)), "size from kubo's stat")
		require.Equal(t, 1, db.Client.FilePin.Query().Where(filepin.FileHash(cid), filepin.TypeEQ(filepin.TypeMessage)).CountX(ctx))

		raw, forgetHash, err := a.Forget(1_700_000_001, "TEST", storeHash)
		require.NoError(t, err)
		_, err = proc.Submit(ctx, raw, processor.OriginAPI, nil)
		require.NoError(t, err)
		require.Eventually(t, func() bool { return status(forgetHash) == messagestatus.StatusProcessed }, 60*time.Second, 50*time.Millisecond)
		require.Equal(t, messagestatus.StatusForgotten, status(storeHash))
		pins := db.Client.FilePin.Query().Where(filepin.FileHash(cid)).AllX(ctx)
		require.Len(t, pins, 1, "the message pin is replaced by a grace pin")
		require.Equal(t, filepin.TypeGracePeriod, pins[0].Type)
		require.NotNil(t, pins[0].DeleteBy)

		// During the grace period nothing is collected.
		_, err = st.GC.Collect(ctx, time.Now())
		require.NoError(t, err)
		require.True(t, db.Client.File.Query().Where(file.ID(cid)).ExistX(ctx))
		require.True(t, pinned(cid))

		// After it, the file leaves the database and kubo's pins.
		_, err = st.GC.Collect(ctx, pins[0].DeleteBy.Add(time.Minute))
		require.NoError(t, err)
		require.False(t, db.Client.File.Query().Where(file.ID(cid)).ExistX(ctx))
		require.False(t, pinned(cid))
	})
}

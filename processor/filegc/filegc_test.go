package filegc_test

import (
	"bytes"
	"crypto/rand"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/filepin"
	"github.com/alephql/alephql/ipfs"
	"github.com/alephql/alephql/processor/filegc"
)

// TestCollect: after the grace period, an upload nobody pinned is deleted
// from the database, the local store and kubo; a STORE-pinned file and a
// file in its grace period stay.
func TestCollect(t *testing.T) {
	api := os.Getenv("ALEPHQL_TEST_IPFS")
	require.NotEmpty(t, api, "ALEPHQL_TEST_IPFS is not set: run scripts/test-servers.sh start DIR and source DIR/env")
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		svc, err := ipfs.New(ipfs.Config{Dir: t.TempDir(), API: api}, nil, dbtest.Logger())
		require.NoError(t, err)
		gc, err := filegc.New(filegc.Config{}, db.Client, svc, dbtest.Logger())
		require.NoError(t, err)
		now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

		random := func() []byte {
			b := make([]byte, 3000)
			_, err := rand.Read(b)
			require.NoError(t, err)
			return b
		}
		// Expired upload in kubo (pinned) and in the local store.
		expiredCID, err := svc.Add(ctx, bytes.NewReader(random()), ipfs.AddOptions{Pin: true})
		require.NoError(t, err)
		expiredSHA, _, err := svc.AddStorage(ctx, bytes.NewReader(random()), 0)
		require.NoError(t, err)
		// Still in its grace period.
		graceSHA, _, err := svc.AddStorage(ctx, bytes.NewReader(random()), 0)
		require.NoError(t, err)
		// Expired grace pin, but a STORE message pins it too.
		storedSHA, _, err := svc.AddStorage(ctx, bytes.NewReader(random()), 0)
		require.NoError(t, err)

		addFile := func(hash string, deleteBy time.Time, storeMsg string) {
			require.NoError(t, db.Client.File.Create().SetID(hash).SetSize(3000).SetCreatedAt(now.Add(-48*time.Hour)).Exec(ctx))
			require.NoError(t, db.Client.FilePin.Create().SetFileHash(hash).SetType(filepin.TypeGracePeriod).
				SetCreated(now.Add(-48*time.Hour)).SetDeleteBy(deleteBy).Exec(ctx))
			if storeMsg != "" {
				require.NoError(t, db.Client.FilePin.Create().SetFileHash(hash).SetType(filepin.TypeMessage).
					SetItemHash(storeMsg).SetOwner("0xowner").SetCreated(now.Add(-time.Hour)).Exec(ctx))
			}
		}
		addFile(expiredCID, now.Add(-time.Hour), "")
		addFile(expiredSHA, now.Add(-time.Second), "")
		addFile(graceSHA, now.Add(time.Hour), "")
		addFile(storedSHA, now.Add(-time.Hour), "aa"+string(bytes.Repeat([]byte("0"), 62)))

		st, err := gc.Collect(ctx, now)
		require.NoError(t, err)
		require.Equal(t, filegc.Stats{ExpiredPins: 3, DeletedFiles: 2}, st)

		left, err := db.Client.File.Query().IDs(ctx)
		require.NoError(t, err)
		require.ElementsMatch(t, []string{graceSHA, storedSHA}, left)
		for _, h := range []string{expiredCID, expiredSHA} {
			_, err := svc.Store().Size(h)
			require.ErrorIs(t, err, ipfs.ErrNotFound, h)
		}
		pinned, err := svc.IsPinned(ctx, expiredCID)
		require.NoError(t, err)
		require.False(t, pinned, "the collector unpins CIDs in kubo")
		for _, h := range []string{graceSHA, storedSHA} {
			_, err := svc.Store().Size(h)
			require.NoError(t, err, h)
		}

		// Once its grace period ends, the other upload goes too.
		st, err = gc.Collect(ctx, now.Add(2*time.Hour))
		require.NoError(t, err)
		require.Equal(t, filegc.Stats{ExpiredPins: 1, DeletedFiles: 1}, st)
		_, err = svc.Store().Size(graceSHA)
		require.ErrorIs(t, err, ipfs.ErrNotFound)
	})
}

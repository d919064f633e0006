package ipfs

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/ipfs/ipfstest"
)

// TestImportCAR imports a CAR that another kubo made (`dag export` of a
// file it added) into the shared kubo, which never had those blocks: the
// root comes back, is pinned, and its bytes read. A malformed archive is
// ErrInvalidCAR; kubo down is ErrUnavailable.
func TestImportCAR(t *testing.T) {
	other := newTestService(t, ipfstest.NewDaemon(t).API, nil, nil)
	data := make([]byte, 600<<10) // several 256 KiB chunks: a DAG, not one block
	_, err := rand.Read(data)
	require.NoError(t, err)
	ctx := ctxTimeout(t, time.Minute)
	cid, err := other.Add(ctx, bytes.NewReader(data), AddOptions{Pin: true})
	require.NoError(t, err)
	res, err := other.kubo.Request("dag/export", cid).Send(ctx)
	require.NoError(t, err)
	require.Nil(t, res.Error)
	car, err := io.ReadAll(res.Output)
	require.NoError(t, err)
	require.NoError(t, res.Close())

	s := newTestService(t, testKuboAPI(t), nil, nil)
	pinned, err := s.IsPinned(ctx, cid)
	require.NoError(t, err)
	require.False(t, pinned, "fresh random content")
	root, err := s.ImportCAR(ctx, bytes.NewReader(car))
	require.NoError(t, err)
	require.Equal(t, cid, root)
	pinned, err = s.IsPinned(ctx, cid)
	require.NoError(t, err)
	require.True(t, pinned, "dag import pins the root")
	got, err := s.Get(ctx, cid, 0)
	require.NoError(t, err)
	require.Equal(t, data, got)

	for name, bad := range map[string][]byte{
		"not a CAR": []byte("hello"),
		"truncated": car[:len(car)/2],
	} {
		_, err := s.ImportCAR(ctx, bytes.NewReader(bad))
		require.ErrorIs(t, err, ErrInvalidCAR, name)
	}

	down := newTestService(t, "http://127.0.0.1:1", nil, nil)
	_, err = down.ImportCAR(ctx, bytes.NewReader(car))
	require.ErrorIs(t, err, ErrUnavailable)
}

package ipfs

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/boxo/files"
	"github.com/ipfs/boxo/path"
	caopts "github.com/ipfs/kubo/core/coreiface/options"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/ipfs/ipfstest"
)

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func isPinned(t testing.TB, s *Service, hash string) bool {
	t.Helper()
	p, err := path.NewPath("/ipfs/" + hash)
	require.NoError(t, err)
	_, pinned, err := s.kubo.Pin().IsPinned(t.Context(), p)
	require.NoError(t, err)
	return pinned
}

func TestParseHash(t *testing.T) {
	for _, tc := range []struct {
		hash    string
		kind    Kind
		version int
		err     bool
	}{
		{hash: strings.Repeat("ab", 32), kind: KindStorage},
		{hash: "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o", kind: KindIPFS, version: 0},
		{hash: "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", kind: KindIPFS, version: 1},
		{hash: strings.Repeat("AB", 32), err: true},
		{hash: "../etc/passwd", err: true},
		{hash: "Qm../x", err: true},
		{hash: "bafy/abc", err: true},
		{hash: "", err: true},
	} {
		t.Run(tc.hash, func(t *testing.T) {
			kind, version, err := ParseHash(tc.hash)
			if tc.err {
				require.ErrorIs(t, err, ErrInvalidHash)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.kind, kind)
			require.Equal(t, tc.version, version)
		})
	}
}

// TestAddMatchesKubo checks that Add yields the CIDs kubo's own CLI computes
// with its defaults, for v0 and v1, on one-chunk and multi-chunk files.
func TestAddMatchesKubo(t *testing.T) {
	api := testKuboAPI(t)
	s := newTestService(t, api, nil, nil)
	hello, err := s.Add(t.Context(), strings.NewReader("hello world\n"), AddOptions{})
	require.NoError(t, err)
	require.Equal(t, "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o", hello)

	for _, size := range []int{0, 6700, 256 << 10, 600 << 10} {
		data := randomBytes(t, size)
		for _, v := range []int{0, 1} {
			got, err := s.Add(t.Context(), bytes.NewReader(data), AddOptions{CIDVersion: v, OnlyHash: true})
			require.NoError(t, err)
			want := kuboCLI(t, api, bytes.NewReader(data), "add", "-Q", "--only-hash", "--cid-version", []string{"0", "1"}[v])
			require.Equal(t, want, got, "size %d, CIDv%d", size, v)
			_, version, err := ParseHash(got)
			require.NoError(t, err)
			require.Equal(t, v, version)
		}
	}
}

// TestKuboRoundTrip: add, get (from kubo, then the local cache), stat, pin
// and unpin against the real daemon.
func TestKuboRoundTrip(t *testing.T) {
	api := testKuboAPI(t)
	s := newTestService(t, api, nil, nil)
	ctx := t.Context()
	data := randomBytes(t, 6700)
	for _, v := range []int{0, 1} {
		cid, err := s.Add(ctx, bytes.NewReader(data), AddOptions{CIDVersion: v})
		require.NoError(t, err)
		require.False(t, isPinned(t, s, cid))

		// A fresh service has nothing locally: the bytes come from kubo.
		fresh := newTestService(t, api, nil, nil)
		_, err = fresh.Store().Size(cid)
		require.ErrorIs(t, err, ErrNotFound)
		got, err := fresh.Get(ctx, cid, 0)
		require.NoError(t, err)
		require.Equal(t, data, got)
		size, err := fresh.Store().Size(cid)
		require.NoError(t, err, "small content is cached locally")
		require.EqualValues(t, len(data), size)

		size, dir, err := s.Stat(ctx, cid)
		require.NoError(t, err)
		require.False(t, dir)
		require.EqualValues(t, len(data), size)

		require.NoError(t, s.Pin(ctx, cid))
		require.True(t, isPinned(t, s, cid))
		require.NoError(t, s.Unpin(ctx, cid))
		require.False(t, isPinned(t, s, cid))
		require.NoError(t, s.Unpin(ctx, cid), "unpinning twice is fine")
	}
}

func TestLargeFilePinned(t *testing.T) {
	api := testKuboAPI(t)
	s := newTestService(t, api, nil, nil)
	ctx := t.Context()
	data := randomBytes(t, 3<<20/2) // 1.5 MiB: several chunks, above the 1 MiB pin threshold
	cid, err := s.Add(ctx, bytes.NewReader(data), AddOptions{})
	require.NoError(t, err)
	size, dir, err := s.Stat(ctx, cid)
	require.NoError(t, err)
	require.False(t, dir)
	require.EqualValues(t, len(data), size)
	require.NoError(t, s.Pin(ctx, cid))
	require.True(t, isPinned(t, s, cid))

	_, err = s.Get(ctx, cid, 1<<20)
	require.ErrorIs(t, err, ErrTooLarge)
	got, err := s.Get(ctx, cid, 2<<20)
	require.NoError(t, err)
	require.Equal(t, data, got)
	_, err = s.Store().Size(cid)
	require.ErrorIs(t, err, ErrNotFound, "content above CacheMaxSize stays in kubo only")

	rc, n, err := s.Open(ctx, cid)
	require.NoError(t, err)
	streamed, err := io.ReadAll(rc)
	require.NoError(t, rc.Close())
	require.NoError(t, err)
	require.EqualValues(t, len(data), n)
	require.Equal(t, data, streamed)

	require.NoError(t, s.Delete(ctx, cid))
	require.False(t, isPinned(t, s, cid))
}

func TestDirectoryCID(t *testing.T) {
	api := testKuboAPI(t)
	s := newTestService(t, api, nil, nil)
	ctx := t.Context()
	a, b := randomBytes(t, 1000), randomBytes(t, 300<<10)
	dir := files.NewMapDirectory(map[string]files.Node{
		"a.bin": files.NewBytesFile(a),
		"sub":   files.NewMapDirectory(map[string]files.Node{"b.bin": files.NewBytesFile(b)}),
	})
	p, err := s.kubo.Unixfs().Add(ctx, dir, caopts.Unixfs.CidVersion(0))
	require.NoError(t, err)
	cid := p.RootCid().String()

	size, isDir, err := s.Stat(ctx, cid)
	require.NoError(t, err)
	require.True(t, isDir)
	require.Greater(t, size, int64(len(a)+len(b)), "a directory's size is its cumulative size")

	_, err = s.Get(ctx, cid, 0)
	require.ErrorIs(t, err, ErrIsDirectory)
	_, _, err = s.Open(ctx, cid)
	require.ErrorIs(t, err, ErrIsDirectory)

	require.NoError(t, s.Pin(ctx, cid))
	require.True(t, isPinned(t, s, cid))

	rc, err := s.OpenArchive(ctx, cid)
	require.NoError(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	found := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if h.Typeflag == tar.TypeReg {
			body, err := io.ReadAll(tr)
			require.NoError(t, err)
			found[filepath.Base(h.Name)] = body
		}
	}
	require.Equal(t, a, found["a.bin"])
	require.Equal(t, b, found["b.bin"])
	require.NoError(t, s.Unpin(ctx, cid))
}

// peerServer is another node's /api/v0/storage/{hash}, serving content in
// pyaleph's shape (base64 with a newline every 76 characters).
func peerServer(t testing.TB, content func(hash string) ([]byte, bool)) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		hash := strings.TrimPrefix(r.URL.Path, "/api/v0/storage/")
		b, ok := content(hash)
		if !ok {
			http.NotFound(w, r)
			return
		}
		enc := base64.StdEncoding.EncodeToString(b)
		var lines strings.Builder
		for len(enc) > 76 {
			lines.WriteString(enc[:76] + "\n")
			enc = enc[76:]
		}
		lines.WriteString(enc + "\n")
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "success", "hash": hash, "engine": "storage", "content": lines.String()})
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func peersOf(urls ...string) PeerLister {
	return PeerListerFunc(func(context.Context) ([]string, error) { return urls, nil })
}

func TestStorageFromPeers(t *testing.T) {
	good := randomBytes(t, 5000)
	hash := sha256Hex(good)
	honest, _ := peerServer(t, func(h string) ([]byte, bool) { return good, h == hash })
	liar, _ := peerServer(t, func(h string) ([]byte, bool) { return append([]byte("x"), good...), true })
	empty, _ := peerServer(t, func(string) ([]byte, bool) { return nil, false })

	t.Run("verified and kept", func(t *testing.T) {
		s := newTestService(t, "", peersOf(empty.URL, honest.URL), nil)
		got, err := s.Get(t.Context(), hash, 0)
		require.NoError(t, err)
		require.Equal(t, good, got)
		local, err := s.Store().Read(hash, 0)
		require.NoError(t, err)
		require.Equal(t, good, local)
	})
	t.Run("an honest peer wins over a liar", func(t *testing.T) {
		s := newTestService(t, "", peersOf(liar.URL, honest.URL, liar.URL), nil)
		got, err := s.Get(t.Context(), hash, 0)
		require.NoError(t, err)
		require.Equal(t, good, got)
	})
	t.Run("only a liar", func(t *testing.T) {
		s := newTestService(t, "", peersOf(liar.URL, empty.URL), nil)
		_, err := s.Get(t.Context(), hash, 0)
		require.ErrorIs(t, err, ErrHashMismatch)
		_, err = s.Store().Size(hash)
		require.ErrorIs(t, err, ErrNotFound, "wrong bytes are never stored")
	})
	t.Run("nobody has it", func(t *testing.T) {
		s := newTestService(t, "", peersOf(empty.URL), nil)
		_, err := s.Get(t.Context(), hash, 0)
		require.ErrorIs(t, err, ErrNotFound)
	})
	t.Run("too large", func(t *testing.T) {
		s := newTestService(t, "", peersOf(honest.URL), nil)
		_, err := s.Get(t.Context(), hash, 100)
		require.ErrorIs(t, err, ErrTooLarge)
	})
	t.Run("peer down", func(t *testing.T) {
		down := httptest.NewServer(http.NotFoundHandler())
		down.Close()
		s := newTestService(t, "", peersOf(down.URL), nil)
		_, err := s.Get(t.Context(), hash, 0)
		require.ErrorIs(t, err, ErrNotFound)
	})
}

// TestCIDFromPeersVerifiedByKubo: a CID that kubo does not hold is fetched
// from a peer and checked by re-hashing in kubo with the CID's version.
func TestCIDFromPeersVerifiedByKubo(t *testing.T) {
	api := testKuboAPI(t)
	probe := newTestService(t, api, nil, nil)
	for _, v := range []int{0, 1} {
		good := randomBytes(t, 4000)
		cid, err := probe.Add(t.Context(), bytes.NewReader(good), AddOptions{CIDVersion: v, OnlyHash: true})
		require.NoError(t, err)
		honest, _ := peerServer(t, func(h string) ([]byte, bool) { return good, h == cid })
		liar, _ := peerServer(t, func(string) ([]byte, bool) { return good[1:], true })
		// kubo runs isolated: asking it for content it lacks ends with the
		// per-attempt timeout, then the peers are asked.
		fast := func(c *Config) { c.FetchTimeout = time.Second }

		s := newTestService(t, api, peersOf(liar.URL), fast)
		_, err = s.Get(t.Context(), cid, 0)
		require.ErrorIs(t, err, ErrHashMismatch, "CIDv%d", v)

		s = newTestService(t, api, peersOf(honest.URL), fast)
		got, err := s.Get(t.Context(), cid, 0)
		require.NoError(t, err, "CIDv%d", v)
		require.Equal(t, good, got)
	}
}

func TestWithoutKubo(t *testing.T) {
	s := newTestService(t, "", nil, nil)
	ctx := t.Context()
	const cid = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
	_, err := s.Get(ctx, cid, 0)
	require.ErrorIs(t, err, ErrUnavailable)
	require.ErrorContains(t, err, "kubo is not configured")
	_, _, err = s.Stat(ctx, cid)
	require.ErrorIs(t, err, ErrUnavailable)
	require.ErrorIs(t, s.Pin(ctx, cid), ErrUnavailable)
	_, err = s.Add(ctx, strings.NewReader("x"), AddOptions{})
	require.ErrorIs(t, err, ErrUnavailable)
	_, _, err = s.AddJSON(ctx, []byte(`{"a":1}`), KindIPFS)
	require.ErrorIs(t, err, ErrUnavailable)

	data := randomBytes(t, 10000)
	hash, size, err := s.AddStorage(ctx, bytes.NewReader(data), 0)
	require.NoError(t, err)
	require.Equal(t, sha256Hex(data), hash)
	require.EqualValues(t, len(data), size)
	got, err := s.Get(ctx, hash, 0)
	require.NoError(t, err)
	require.Equal(t, data, got)
	_, err = s.Get(ctx, hash, 9999)
	require.ErrorIs(t, err, ErrTooLarge)
	n, dir, err := s.Stat(ctx, hash)
	require.NoError(t, err)
	require.False(t, dir)
	require.EqualValues(t, len(data), n)
	require.NoError(t, s.Pin(ctx, hash), "a storage hash in the local store is already durable")

	_, _, err = s.AddStorage(ctx, bytes.NewReader(data), 100)
	require.ErrorIs(t, err, ErrTooLarge)
	entries, err := os.ReadDir(s.Store().Dir())
	require.NoError(t, err)
	require.Len(t, entries, 1, "a refused upload leaves no file behind")

	h, jsize, err := s.AddJSON(ctx, []byte(`{"b": [1.0, 1e16], "a": "é"}`), KindStorage)
	require.NoError(t, err)
	want := []byte(`{"a":"é","b":[1.0,1e16]}`)
	require.Equal(t, sha256Hex(want), h)
	require.EqualValues(t, len(want), jsize)
	got, err = s.Get(ctx, h, 0)
	require.NoError(t, err)
	require.Equal(t, want, got)

	require.NoError(t, s.Delete(ctx, hash))
	_, err = s.Get(ctx, hash, 0)
	require.ErrorIs(t, err, ErrNotFound)
	require.NoError(t, s.Delete(ctx, hash), "deleting twice is fine")
}

func TestAddJSONToKubo(t *testing.T) {
	api := testKuboAPI(t)
	s := newTestService(t, api, nil, nil)
	cid, size, err := s.AddJSON(t.Context(), []byte(`{"z": 1, "a": [true, null]}`), KindIPFS)
	require.NoError(t, err)
	canonical := `{"a":[true,null],"z":1}`
	require.EqualValues(t, len(canonical), size)
	want := kuboCLI(t, api, strings.NewReader(canonical), "add", "-Q", "--only-hash")
	require.Equal(t, want, cid)
	require.True(t, isPinned(t, s, cid))
	require.NoError(t, s.Unpin(t.Context(), cid))
}

// TestKuboStoppedMidTest: with kubo down, fetches fail with ErrUnavailable
// (callers retry); once it is back, the same fetch succeeds.
func TestKuboStoppedMidTest(t *testing.T) {
	k := ipfstest.NewDaemon(t)
	s := newTestService(t, k.API, nil, func(c *Config) { c.CacheMaxSize = -1; c.FetchTimeout = 5 * time.Second })
	ctx := t.Context()
	data := randomBytes(t, 20000)
	cid, err := s.Add(ctx, bytes.NewReader(data), AddOptions{Pin: true})
	require.NoError(t, err)

	k.Stop()
	_, err = s.Get(ctx, cid, 0)
	require.ErrorIs(t, err, ErrUnavailable)
	_, _, err = s.Stat(ctx, cid)
	require.ErrorIs(t, err, ErrUnavailable)
	require.ErrorIs(t, s.Pin(ctx, cid), ErrUnavailable)

	k.Start()
	require.Eventually(t, func() bool {
		got, err := s.Get(ctx, cid, 0)
		return err == nil && bytes.Equal(got, data)
	}, 20*time.Second, 100*time.Millisecond)
}

func TestGetCancelled(t *testing.T) {
	api := testKuboAPI(t)
	s := newTestService(t, api, nil, nil)
	probe, err := s.Add(t.Context(), bytes.NewReader(randomBytes(t, 100)), AddOptions{OnlyHash: true})
	require.NoError(t, err)
	ctx := ctxTimeout(t, 300*time.Millisecond)
	start := time.Now()
	_, err = s.Get(ctx, probe, 0) // kubo lacks it and would search for FetchTimeout
	require.Error(t, err)
	require.ErrorIs(t, err, ErrUnavailable)
	require.Less(t, time.Since(start), 5*time.Second)
}

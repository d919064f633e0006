//go:build chaos

package main

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/alephql/alephql/processor/demo"
)

// mountTmpfs mounts a tmpfs of size at a new directory and unmounts it when
// the test ends.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	require.Zero(t, os.Geteuid(), "mounting a tmpfs needs root")
	dir := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.Mkdir(dir, 0o755))
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir
}

// freeBytes is the space left on dir's file system.
func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(dir, &st))
	return int64(st.Bavail) * st.Bsize //nolint:gosec // small
}

func TestChaosDiskFull(t *testing.T) {
	// The node's data directory (SQLite database and local files) on a
	// 64 MiB tmpfs, filled by a file and then by uploads and submissions
	// until writes fail: uploads answer 507, submissions 507
	// INSUFFICIENT_STORAGE (GraphQL) and 507 (REST), /readyz reports the
	// disk; nothing accepted is lost; once the filler is deleted the node
	// takes uploads and messages again on its own, every accepted message
	// ends processed once, and the database passes PRAGMA
	// integrity_check.
	dir := mountTmpfs(t, "64m")
	base, stop := startServe(t, "--data-dir", dir, "--log-level", "error")
	const channel = "CHAOS_DISK"
	acct, err := demo.NewAccount()
	require.NoError(t, err)
	accepted := map[string]bool{}
	n := 0
	// submitGQL submits one message through GraphQL and returns the HTTP
	// status and the error code ("" when accepted).
	submitGQL := func() (int, string) {
		raw, hash, err := acct.Post(float64(1_700_000_000+n), channel, "note", map[string]any{"i": n, "pad": string(bytes.Repeat([]byte("p"), 512))}, "")
		require.NoError(t, err)
		n++
		status, out, err := postJSON(base, `mutation($m: JSON!) { submitMessage(message: $m) { hash } }`, map[string]any{"m": json.RawMessage(raw)})
		require.NoError(t, err)
		code := errorCode(out)
		if status == http.StatusOK && code == "" {
			accepted[hash] = true
		}
		return status, code
	}
	submitREST := func() (int, string) {
		raw, hash, err := acct.Post(float64(1_700_000_000+n), channel, "note", map[string]any{"i": n}, "")
		require.NoError(t, err)
		n++
		b, _ := json.Marshal(map[string]any{"message": json.RawMessage(raw)})
		res, err := http.Post(base+"api/v0/messages", "application/json", bytes.NewReader(b))
		require.NoError(t, err)
		defer res.Body.Close()
		var body struct {
			Code string `json:"code"`
		}
		_ = json.NewDecoder(res.Body).Decode(&body)
		if res.StatusCode == http.StatusAccepted || res.StatusCode == http.StatusOK {
			accepted[hash] = true
		}
		return res.StatusCode, body.Code
	}
	upload := func(size int) (int, string) {
		b := make([]byte, size)
		_, _ = rand.Read(b)
		res, err := http.Post(base+"api/v0/storage/add_file", "application/octet-stream", bytes.NewReader(b))
		require.NoError(t, err)
		defer res.Body.Close()
		return res.StatusCode, res.Header.Get("Retry-After")
	}
	readyz := func() (int, map[string]any) {
		res, err := http.Get(base + "readyz")
		require.NoError(t, err)
		defer res.Body.Close()
		var v map[string]any
		_ = json.NewDecoder(res.Body).Decode(&v)
		checks, _ := v["checks"].(map[string]any)
		return res.StatusCode, checks
	}
	processedCount := func() int {
		_, out, err := postJSON(base, `{ messages(filter: {channels: ["`+channel+`"]}) { totalCount } }`, nil)
		require.NoError(t, err)
		require.Nil(t, out["errors"], out)
		return int(out["data"].(map[string]any)["messages"].(map[string]any)["totalCount"].(float64))
	}

	for range 20 {
		status, code := submitGQL()
		require.Equal(t, http.StatusOK, status, code)
	}
	status, _ := upload(64 << 10)
	require.Equal(t, http.StatusOK, status)
	require.Eventually(t, func() bool { return processedCount() == len(accepted) }, 30*time.Second, 100*time.Millisecond)

	// Fill: a file takes all but 6 MiB, uploads of 256 KiB take most of
	// the rest, submissions the last of it.
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	require.NoError(t, err)
	chunk := make([]byte, 1<<20)
	for left := freeBytes(t, dir) - 6<<20; left > 0; left -= int64(len(chunk)) {
		_, err := f.Write(chunk[:min(int64(len(chunk)), left)])
		require.NoError(t, err)
	}
	require.NoError(t, f.Close())
	t.Logf("filler written: %d KiB free", freeBytes(t, dir)>>10)
	uploads := 0
	for ; uploads < 100; uploads++ {
		status, retry := upload(256 << 10)
		if status != http.StatusOK {
			require.Equal(t, http.StatusInsufficientStorage, status, "an upload to a full disk answers 507")
			require.Equal(t, "1", retry)
			break
		}
	}
	require.Less(t, uploads, 100, "uploads fill the disk")
	t.Logf("%d uploads of 256 KiB before 507; %d KiB free", uploads, freeBytes(t, dir)>>10)
	var fullStatus int
	var fullCode string
	for i := 0; i < 20000; i++ {
		fullStatus, fullCode = submitGQL()
		if fullCode != "" {
			break
		}
	}
	t.Logf("%d messages accepted before the disk was full; %d KiB free", len(accepted), freeBytes(t, dir)>>10)
	require.Equal(t, "INSUFFICIENT_STORAGE", fullCode, "a submission to a full disk answers INSUFFICIENT_STORAGE")
	require.Equal(t, http.StatusInsufficientStorage, fullStatus)
	status, code := submitREST()
	require.Equal(t, http.StatusInsufficientStorage, status, "REST submission to a full disk")
	require.Equal(t, "INSUFFICIENT_STORAGE", code)
	code0, checks := readyz()
	require.Equal(t, http.StatusServiceUnavailable, code0, "/readyz reports the full disk")
	require.NotEqual(t, "ok", checks["disk"], checks)
	t.Logf("while full: /readyz %d %v", code0, checks)
	// Queries still answer while the disk is full.
	_, out, err := postJSON(base, `{ messages(first: 1, filter: {channels: ["`+channel+`"]}) { edges { cursor } } }`, nil)
	require.NoError(t, err)
	require.Nil(t, out["errors"], out)

	freed := time.Now()
	require.NoError(t, os.Remove(filler))
	require.Eventually(t, func() bool { c, _ := readyz(); return c == http.StatusOK }, 30*time.Second, 100*time.Millisecond,
		"/readyz recovers once space is freed")
	t.Logf("ready %s after the filler was deleted", time.Since(freed).Round(time.Millisecond))
	status, _ = upload(256 << 10)
	require.Equal(t, http.StatusOK, status, "uploads resume")
	for range 20 {
		status, code := submitGQL()
		require.Equal(t, http.StatusOK, status, code)
	}
	status, _ = submitREST()
	require.Equal(t, http.StatusAccepted, status)
	require.Eventually(t, func() bool { return processedCount() == len(accepted) }, 60*time.Second, 200*time.Millisecond,
		"every accepted message ends processed, once")
	t.Logf("%d accepted messages all processed; %s from freeing space to the last processed", len(accepted), time.Since(freed).Round(time.Millisecond))
	for h := range accepted {
		_, out, err := postJSON(base, `query($h: String!) { message(hash: $h) { hash } }`, map[string]any{"h": h})
		require.NoError(t, err)
		require.Nil(t, out["errors"], out)
		require.NotNil(t, out["data"].(map[string]any)["message"], "accepted %s is stored", h)
	}
	tmp, err := filepath.Glob(filepath.Join(dir, "files", ".tmp-*"))
	require.NoError(t, err)
	require.Empty(t, tmp, "failed uploads leave no partial file")
	require.Equal(t, 0, stop())

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "alephql.db"))
	require.NoError(t, err)
	defer db.Close()
	var res string
	require.NoError(t, db.QueryRow("PRAGMA integrity_check").Scan(&res))
	require.Equal(t, "ok", res, "no corruption")
}

func TestChaosDiskFullPostgres(t *testing.T) {
	// PostgreSQL's data directory on a 256 MiB tmpfs filled by a file,
	// then by submissions until writes fail: submissions answer 507
	// INSUFFICIENT_STORAGE (disk_full) or 503 SERVICE_UNAVAILABLE (if
	// the server stops on it); nothing accepted is lost, and once the
	// filler is deleted the node takes messages again on its own.
	mnt := mountTmpfs(t, "256m")
	for _, d := range []string{mnt, filepath.Dir(mnt), filepath.Dir(filepath.Dir(mnt))} {
		require.NoError(t, os.Chmod(d, 0o755)) // the postgres user walks to its data directory
	}
	pg := startOwnPostgresIn(t, mnt)
	base, stop := startServe(t, "--data-dir", t.TempDir(), "--db", pg.URL(), "--log-level", "error")
	const channel = "CHAOS_DISK_PG"
	acct, err := demo.NewAccount()
	require.NoError(t, err)
	accepted := map[string]bool{}
	n := 0
	submit := func() (int, string) {
		raw, hash, err := acct.Post(float64(1_700_000_000+n), channel, "note", map[string]any{"i": n, "pad": string(bytes.Repeat([]byte("p"), 2048))}, "")
		require.NoError(t, err)
		n++
		status, out, err := postJSON(base, `mutation($m: JSON!) { submitMessage(message: $m) { hash } }`, map[string]any{"m": json.RawMessage(raw)})
		if err != nil {
			return 0, "transport error"
		}
		code := errorCode(out)
		if status == http.StatusOK && code == "" {
			accepted[hash] = true
		}
		return status, code
	}
	processedCount := func() (int, bool) {
		_, out, err := postJSON(base, `{ messages(filter: {channels: ["`+channel+`"]}) { totalCount } }`, nil)
		if err != nil || out["errors"] != nil {
			return 0, false
		}
		return int(out["data"].(map[string]any)["messages"].(map[string]any)["totalCount"].(float64)), true
	}
	for range 20 {
		status, code := submit()
		require.Equal(t, http.StatusOK, status, code)
	}
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	require.NoError(t, err)
	chunk := make([]byte, 1<<20)
	for left := freeBytes(t, mnt) - 3<<20; left > 0; left -= int64(len(chunk)) {
		_, err := f.Write(chunk[:min(int64(len(chunk)), left)])
		require.NoError(t, err)
	}
	require.NoError(t, f.Close())
	t.Logf("filler written: %d KiB free", freeBytes(t, mnt)>>10)
	refusals := map[string]int{}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		status, code := submit()
		if code == "" {
			continue
		}
		refusals[fmt.Sprintf("%d %s", status, code)]++
		if refusals[fmt.Sprintf("%d %s", status, code)] >= 5 {
			break
		}
	}
	t.Logf("while full: %d accepted, refusals %v, %d KiB free", len(accepted), refusals, freeBytes(t, mnt)>>10)
	require.NotEmpty(t, refusals, "the disk fills up")
	for k := range refusals {
		require.Contains(t, []string{"507 INSUFFICIENT_STORAGE", "503 SERVICE_UNAVAILABLE", "0 transport error"}, k)
	}
	freed := time.Now()
	require.NoError(t, os.Remove(filler))
	require.Eventually(t, func() bool { status, code := submit(); return status == http.StatusOK && code == "" },
		60*time.Second, 200*time.Millisecond, "submissions are taken again once space is freed")
	t.Logf("submissions taken again %s after the filler was deleted", time.Since(freed).Round(time.Millisecond))
	require.Eventually(t, func() bool { c, ok := processedCount(); return ok && c == len(accepted) }, 60*time.Second, 200*time.Millisecond,
		"every accepted message ends processed, once")
	t.Logf("%d accepted messages all processed, %s after freeing space", len(accepted), time.Since(freed).Round(time.Millisecond))
	require.Equal(t, 0, stop())
}

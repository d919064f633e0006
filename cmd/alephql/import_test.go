package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database/dbtest"
)

func TestDemoWriteThenImport(t *testing.T) {
	// demo --write makes signed messages; import processes them on each
	// back-end and its summary accounts for every one; a second import
	// finds them all known.
	file := filepath.Join(t.TempDir(), "msgs.jsonl")
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(t.Context(), []string{"demo", "--write", file, "--count", "200"}, &out, &errOut), errOut.String())
	for _, b := range dbtest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			args := []string{"import", "--log-level", "warn", "--data-dir", t.TempDir()}
			if b.Name == "postgres" {
				args = append(args, "--db", b.URL(t))
			}
			out.Reset()
			errOut.Reset()
			require.Equal(t, 0, run(t.Context(), append(args, file), &out, &errOut), errOut.String())
			m := regexp.MustCompile(`imported (\d+) messages .* queued (\d+), .* processed (\d+), rejected (\d+)`).FindStringSubmatch(out.String())
			require.NotNil(t, m, out.String())
			require.Equal(t, "200", m[1])
			require.Equal(t, "200", m[2])
			processed, _ := strconv.Atoi(m[3])
			rejected, _ := strconv.Atoi(m[4])
			require.Equal(t, 200, processed+rejected, out.String())
			require.Greater(t, processed, 150, out.String())
			if b.Name == "postgres" {
				// The import leaves the planner's statistics of what it
				// loaded (ANALYZE), not the empty tables' estimates.
				db := dbtest.Open(t, args[len(args)-1])
				require.Eventually(t, func() bool {
					var analyzed bool
					require.NoError(t, db.SQL.QueryRowContext(t.Context(),
						`SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'messages'`).Scan(&analyzed))
					return analyzed
				}, 10*time.Second, 50*time.Millisecond, "messages analyzed")
			}

			out.Reset()
			require.Equal(t, 0, run(t.Context(), append(args, file), &out, &errOut), errOut.String())
			require.Contains(t, out.String(), "queued 0, duplicates 200")
		})
	}
	// Bad input: one line naming the problem, non-zero status.
	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`"nope"`), 0o600))
	errOut.Reset()
	require.NotEqual(t, 0, run(t.Context(), []string{"import", "--data-dir", t.TempDir(), bad}, &out, &errOut))
	require.Contains(t, errOut.String(), "not a JSON array")
}

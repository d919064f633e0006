package server_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/server"
)

func TestDiskCheck(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		dir     string
		minFree uint64
		full    bool
	}{
		{"enough space", dir, 1, false},
		{"not yet created: its parent counts", filepath.Join(dir, "a", "b"), 1, false},
		{"under the minimum", dir, 1 << 62, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := server.DiskCheck(tc.dir, tc.minFree)(t.Context())
			if tc.full {
				require.ErrorIs(t, err, server.ErrDiskFull)
				return
			}
			require.NoError(t, err)
		})
	}
}

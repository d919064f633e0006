package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ErrDiskFull: the data directory's file system has less free space than
// the readiness check's minimum.
var ErrDiskFull = errors.New("disk full")

// DiskCheck returns a readiness check that fails with ErrDiskFull while
// the file system holding dir (or its nearest existing parent) has fewer
// than minFree bytes available to the node: writes to the embedded
// database and local files then fail, and are answered 507.
func DiskCheck(dir string, minFree uint64) func(context.Context) error {
	return func(context.Context) error {
		p := dir
		for {
			if _, err := os.Stat(p); err == nil || filepath.Dir(p) == p {
				break
			}
			p = filepath.Dir(p)
		}
		var st syscall.Statfs_t
		if err := syscall.Statfs(p, &st); err != nil {
			return fmt.Errorf("statfs %s: %w", p, err)
		}
		free := st.Bavail * uint64(st.Bsize) //nolint:gosec // Bsize is positive
		if free < minFree {
			return fmt.Errorf("%w: %d bytes free in %s, under %d", ErrDiskFull, free, p, minFree)
		}
		return nil
	}
}

package ipfs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Store is the local content store: a flat directory with one file per
// content hash, as the reference node keeps it. Files are written to a
// temporary name, synced, then renamed, so a reader never sees a partial
// file and a crash leaves at most a stray temporary file (".tmp-*").
type Store struct {
	dir string
}

// NewStore opens (creating if needed) the content store in dir.
func NewStore(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("content store: empty directory")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("content store: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Dir returns the directory of the store.
func (s *Store) Dir() string { return s.dir }

func (s *Store) path(hash string) (string, error) {
	if _, _, err := ParseHash(hash); err != nil {
		return "", err
	}
	return filepath.Join(s.dir, hash), nil
}

// Open opens the file of hash for reading and returns its size.
// It returns ErrNotFound when the store does not hold it.
func (s *Store) Open(hash string) (*os.File, int64, error) {
	p, err := s.path(hash)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("local store: %s: %w", hash, ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("local store: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, 0, fmt.Errorf("local store: %w", err)
	}
	return f, st.Size(), nil
}

// Size returns the size of the file of hash, or ErrNotFound.
func (s *Store) Size(hash string) (int64, error) {
	p, err := s.path(hash)
	if err != nil {
		return 0, err
	}
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("local store: %s: %w", hash, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("local store: %w", err)
	}
	return st.Size(), nil
}

// Read returns the bytes of hash: ErrNotFound when absent, ErrTooLarge
// when larger than max bytes (max <= 0: no limit).
func (s *Store) Read(hash string, max int64) ([]byte, error) {
	f, size, err := s.Open(hash)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if max > 0 && size > max {
		return nil, fmt.Errorf("local store: %s is %d bytes, limit %d: %w", hash, size, max, ErrTooLarge)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("local store: read %s: %w", hash, err)
	}
	return b, nil
}

// Write stores data under hash atomically. The caller vouches that data
// hashes to hash.
func (s *Store) Write(hash string, data []byte) error {
	p, err := s.path(hash)
	if err != nil {
		return err
	}
	tmp, err := s.temp()
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		s.discard(tmp)
		return fmt.Errorf("local store: write %s: %w", hash, err)
	}
	return s.commit(tmp, p)
}

// WriteFrom copies r into the store, at most max bytes (max <= 0: no
// limit), and files it under the sha256 of what it read. It returns
// ErrTooLarge, leaving nothing behind, when r holds more than max bytes.
func (s *Store) WriteFrom(r io.Reader, max int64) (hash string, size int64, err error) {
	tmp, err := s.temp()
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	src := r
	if max > 0 {
		src = io.LimitReader(r, max+1)
	}
	n, err := io.Copy(io.MultiWriter(tmp, h), src)
	if err != nil {
		s.discard(tmp)
		return "", 0, fmt.Errorf("local store: %w", err)
	}
	if max > 0 && n > max {
		s.discard(tmp)
		return "", 0, fmt.Errorf("local store: more than %d bytes: %w", max, ErrTooLarge)
	}
	hash = hex.EncodeToString(h.Sum(nil))
	if err := s.commit(tmp, filepath.Join(s.dir, hash)); err != nil {
		return "", 0, err
	}
	return hash, n, nil
}

// Remove deletes the file of hash; a missing file is not an error.
func (s *Store) Remove(hash string) error {
	p, err := s.path(hash)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("local store: %w", err)
	}
	return nil
}

func (s *Store) temp() (*os.File, error) {
	f, err := os.CreateTemp(s.dir, ".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("local store: %w", err)
	}
	return f, nil
}

func (s *Store) discard(f *os.File) {
	_ = f.Close()
	_ = os.Remove(f.Name())
}

func (s *Store) commit(f *os.File, dst string) error {
	if err := f.Sync(); err != nil {
		s.discard(f)
		return fmt.Errorf("local store: sync: %w", err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("local store: close: %w", err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("local store: %w", err)
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("local store: %w", err)
	}
	return nil
}

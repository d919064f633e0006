package handler

import (
	"context"
	"fmt"
)

// NoStorage is a Storage that has nothing: every Get and Stat fails with
// ErrNotFound (so messages needing content wait and retry), Pin and Unpin
// succeed. It stands in until package ipfs is wired.
type NoStorage struct{}

// Get implements Storage.
func (NoStorage) Get(_ context.Context, hash string, _ int64) ([]byte, error) {
	return nil, fmt.Errorf("%w: %s: %w", ErrNotFound, hash, ErrNoStorage)
}

// Stat implements Storage.
func (NoStorage) Stat(_ context.Context, hash string) (int64, bool, error) {
	return 0, false, fmt.Errorf("%w: %s: %w", ErrNotFound, hash, ErrNoStorage)
}

// Pin implements Storage.
func (NoStorage) Pin(context.Context, string) error { return nil }

// Unpin implements Storage.
func (NoStorage) Unpin(context.Context, string) error { return nil }

// Interface guards
var _ Storage = NoStorage{}

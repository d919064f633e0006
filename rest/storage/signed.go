package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Message statuses a Submitter reports (the message_status values the
// answers depend on).
const (
	StatusPending   = "pending"
	StatusProcessed = "processed"
	StatusRejected  = "rejected"
)

// maxMetadataSize caps the multipart "metadata" field (a STORE message is
// small; the reference node caps request bodies at 1 MiB).
const maxMetadataSize = 1 << 20

// StoreRef is what a signed STORE message says about its file.
type StoreRef struct {
	// ItemHash is the message's item hash.
	ItemHash string
	// FileHash is content.item_hash: the sha256 or CID of the file.
	FileHash string
	// ItemType is content.item_type: "storage" or "ipfs".
	ItemType string
	// Size is content.size when the message sets it.
	Size *int64
}

// Submitter checks signed STORE messages and takes them in (implemented in
// cmd over the processor).
type Submitter interface {
	// CheckStore validates a wire message: an inline STORE message with a
	// valid signature. Errors wrap ErrInvalid (422) or ErrForbidden (403).
	CheckStore(raw json.RawMessage) (StoreRef, error)
	// Submit takes the message in. With wait > 0 it waits up to wait for
	// the message to leave pending. It returns the message's status
	// (StatusPending, StatusProcessed, StatusRejected or another
	// message_status value); a message refused at intake is an error
	// wrapping ErrInvalid.
	Submit(ctx context.Context, raw json.RawMessage, wait time.Duration) (status string, err error)
}

// metadata is the multipart "metadata" field of a signed upload.
type metadata struct {
	Message json.RawMessage `json:"message"`
	Sync    bool            `json:"sync"`
}

// WithSubmitter returns a copy of h that accepts uploads with a signed
// STORE message and submits those messages to s. Without a submitter such
// uploads answer 501.
func (h *Handler) WithSubmitter(s Submitter) *Handler {
	c := *h
	c.submitter = s
	return &c
}

// readMetadata parses and checks the "metadata" field.
func (h *Handler) readMetadata(r io.Reader) (metadata, StoreRef, error) {
	var md metadata
	b, err := io.ReadAll(io.LimitReader(r, maxMetadataSize+1))
	if err != nil {
		return md, StoreRef{}, fmt.Errorf("metadata: %w: %w", ErrInvalid, err)
	}
	if len(b) > maxMetadataSize {
		return md, StoreRef{}, fmt.Errorf("metadata larger than %d bytes: %w", maxMetadataSize, ErrInvalid)
	}
	if err := json.Unmarshal(b, &md); err != nil {
		return md, StoreRef{}, fmt.Errorf("could not decode metadata: %w: %w", ErrInvalid, err)
	}
	if len(md.Message) == 0 || string(md.Message) == "null" {
		return md, StoreRef{}, fmt.Errorf("could not decode metadata: missing message: %w", ErrInvalid)
	}
	if h.submitter == nil {
		return md, StoreRef{}, errNoSubmitter
	}
	ref, err := h.submitter.CheckStore(md.Message)
	return md, ref, err
}

// checkFile verifies that the uploaded file is the one the message stores.
func checkFile(ref StoreRef, up upload, engine string) error {
	if ref.ItemType != engine {
		return fmt.Errorf("store message item_type is %q, this route stores %q: %w", ref.ItemType, engine, ErrInvalid)
	}
	if ref.FileHash != up.hash {
		return fmt.Errorf("file hash does not match (%s != %s): %w", up.hash, ref.FileHash, ErrInvalid)
	}
	if ref.Size != nil && *ref.Size != up.size {
		return fmt.Errorf("file size does not match (%d != %d): %w", up.size, *ref.Size, ErrInvalid)
	}
	return nil
}

// statusCode maps a message status to the answer's HTTP status as the
// reference node's message_status_to_http_status does.
func statusCode(status string) int {
	switch status {
	case StatusProcessed, "confirmed":
		return http.StatusOK
	case StatusRejected:
		return http.StatusUnprocessableEntity
	case "forgotten", "removing", "removed":
		return http.StatusGone
	}
	return http.StatusAccepted
}

// submitSigned checks the uploaded file against its message and submits
// the message. The file is already recorded with a grace pin, so a
// rejected message leaves nothing the garbage collector will not remove.
func (h *Handler) submitSigned(ctx context.Context, up upload, engine string) (int, error) {
	if err := checkFile(up.ref, up, engine); err != nil {
		return 0, err
	}
	var wait time.Duration
	if up.md.Sync {
		wait = h.cfg.SyncTimeout
	}
	status, err := h.submitter.Submit(ctx, up.md.Message, wait)
	if err != nil {
		return 0, err
	}
	return statusCode(status), nil
}

// Package cache is the node's cache of hot rows and whole answers, shared
// by GraphQL (package graph) and the REST API (package rest): a small
// byte-oriented Cache interface with an in-process bounded LRU (NewLRU) and
// a Redis implementation shared by every node (NewRedis); Gens, the
// per-key record of the outbox sequence numbers that invalidate entries;
// the invalidation keys of each outbox row (EventKeys); and Store, the
// read-through that applies the rules below (Batch and Lookup for rows,
// Begin, Get and Put for whole answers). What a cached answer depends on
// is the face's business: graph tells it from a GraphQL operation, rest
// from a route's parameters.
//
// # Why entries are never stale
//
// Deleting keys when events arrive is not enough on its own: an event can
// arrive after a reader already saw the committed write (it is published
// after the commit, and other nodes hear it later still), and a reader that
// read a row just before a write can store it just after the deletion.
// So the cache is validated by outbox sequence numbers (message_events.id,
// strictly increasing in commit order) instead:
//
//   - Before reading the database, a reader notes the outbox end E (one
//     index-only query). It stores what it read as an Entry with Seq E and
//     its start time: the row reflects at least every change up to E.
//   - The node's subscription hub reads every outbox row in id order (the
//     outbox, not the lossy bus, is its source) and, for each, calls
//     Gens.Bump with the keys the change can affect and its id.
//   - A reader uses an entry only if the hub has applied the outbox up to
//     the end E' it just read (otherwise it reads the database), the
//     entry's Seq is at least the last Bump of its keys and at least the
//     hub's starting position (Gens.Floor: changes before it are unknown to
//     this node), and the entry is younger than the TTL.
//
// Any change committed before the read began has an id at most E', has been
// applied, and so either predates the entry's read (id <= Seq) or makes
// the entry invalid (Bump > Seq). A read after a write therefore never sees
// the state before the write, whatever the bus delivers and whichever node
// filled the entry. Gens forgets bumps after TTL plus a clock-skew margin:
// by then every entry they could invalidate has expired.
package cache

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"
)

// Cache stores opaque values by key with a time to live. Implementations
// are safe for concurrent use. A missing key is (nil, false, nil).
// GetMany and SetMany do the same for several keys in one round trip
// (dataloader batches): GetMany's result holds only the keys found.
type Cache interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Set(ctx context.Context, key string, val []byte, ttl time.Duration) error
	GetMany(ctx context.Context, keys []string) (map[string][]byte, error)
	SetMany(ctx context.Context, vals map[string][]byte, ttl time.Duration) error
	Delete(ctx context.Context, keys ...string) error
}

// Entry is a cached value with the outbox position it reflects.
type Entry struct {
	// Seq is the outbox end read before the value was read.
	Seq int64 `json:"s"`
	// Start is when the read began (unix nanoseconds).
	Start int64 `json:"t"`
	// Deps are invalidation keys that only the value could tell (a post's
	// owner, the message holding a file's pin): checked as well as the
	// keys the reader names.
	Deps []string `json:"d,omitempty"`
	// Until, when not zero, is when the value stops being valid whatever
	// the outbox says (unix nanoseconds): for changes that write no outbox
	// row but happen at a known time (a file whose last pin is a grace
	// period is deleted by the collector after it ends).
	Until int64 `json:"u,omitempty"`
	// Value is the serialized row.
	Value json.RawMessage `json:"v"`
}

// ErrBadEntry reports a cached value that is not an Entry.
var ErrBadEntry = errors.New("cache: malformed entry")

// entryVersion is the first byte of an encoded entry; an entry of another
// version (an older node sharing the Redis) is malformed, hence a miss.
const entryVersion = 0xE1

// Encode serializes an entry: a version byte, Seq, Start and Until as
// varints, the number of Deps and each as a length and its bytes, then
// Value's length and its bytes as they are. Value is not re-encoded or scanned, either
// way: a hit costs a copy of the header, not a JSON parse of the answer
// (see BenchmarkEntryDecode).
func (e Entry) Encode() ([]byte, error) {
	if len(e.Value) == 0 {
		return nil, errors.New("cache: entry without a value")
	}
	n := 1 + 5*binary.MaxVarintLen64 + len(e.Value)
	for _, d := range e.Deps {
		n += binary.MaxVarintLen64 + len(d)
	}
	b := make([]byte, 0, n)
	b = append(b, entryVersion)
	b = binary.AppendVarint(b, e.Seq)
	b = binary.AppendVarint(b, e.Start)
	b = binary.AppendVarint(b, e.Until)
	b = binary.AppendUvarint(b, uint64(len(e.Deps)))
	for _, d := range e.Deps {
		b = binary.AppendUvarint(b, uint64(len(d)))
		b = append(b, d...)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Value)))
	return append(b, e.Value...), nil
}

// DecodeEntry parses an entry written by Encode. The entry's Value is a
// slice of b (capacity-limited: appending to it copies).
func DecodeEntry(b []byte) (Entry, error) {
	if len(b) == 0 || b[0] != entryVersion {
		return Entry{}, ErrBadEntry
	}
	r := entryReader{b: b[1:]}
	e := Entry{Seq: r.varint(), Start: r.varint(), Until: r.varint()}
	nd := r.uvarint()
	if r.bad || nd > uint64(len(r.b)) { // each dep takes at least a byte
		return Entry{}, ErrBadEntry
	}
	if nd > 0 {
		e.Deps = make([]string, nd)
		for i := range e.Deps {
			l := r.uvarint()
			if r.bad || l > uint64(len(r.b)) {
				return Entry{}, ErrBadEntry
			}
			e.Deps[i] = string(r.b[:l])
			r.b = r.b[l:]
		}
	}
	if l := r.uvarint(); r.bad || l == 0 || l != uint64(len(r.b)) {
		return Entry{}, ErrBadEntry
	}
	e.Value = json.RawMessage(r.b[:len(r.b):len(r.b)])
	return e, nil
}

// entryReader reads the varints of an encoded entry; bad records a
// truncated or overlong one.
type entryReader struct {
	b   []byte
	bad bool
}

func (r *entryReader) varint() int64   { return readVarint(r, binary.Varint) }
func (r *entryReader) uvarint() uint64 { return readVarint(r, binary.Uvarint) }

// readVarint reads one varint of r with decode (binary.Varint or
// binary.Uvarint).
func readVarint[T int64 | uint64](r *entryReader, decode func([]byte) (T, int)) T {
	v, n := decode(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

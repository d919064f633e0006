package handler

import (
	"context"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/processor/message"
)

// Handler processes one message type. All database work happens in tx, the
// batch transaction of the process stage: a handler never commits.
type Handler interface {
	// FetchRelated runs in the fetch stage, outside any transaction: it
	// fetches what the message needs besides its content (the file of a
	// STORE). Most handlers do nothing.
	FetchRelated(ctx context.Context, m *message.Message) error
	// CheckDependencies checks that what the message refers to exists;
	// errors of Kind MissingDependency make the pipeline retry later.
	CheckDependencies(ctx context.Context, tx *ent.Tx, m *message.Message) error
	// CheckPermissions checks that the sender may act for the owner
	// (usually CheckDefaultPermissions).
	CheckPermissions(ctx context.Context, tx *ent.Tx, m *message.Message) error
	// CheckBalance returns the cost rows to persist in account_costs, or a
	// BALANCE_INSUFFICIENT / CREDIT_INSUFFICIENT error.
	CheckBalance(ctx context.Context, tx *ent.Tx, m *message.Message) ([]Cost, error)
	// Process applies the message's effects. For every type but POST and
	// AGGREGATE the messages rows of the message and of every earlier
	// message of the batch exist when it is called; for plain POSTs and
	// AGGREGATEs the pipeline writes those rows in bulk later in the same
	// transaction, so their handlers and post effects must not read the
	// messages or message_status tables.
	Process(ctx context.Context, tx *ent.Tx, m *message.Message) error
	// Forget undoes the effects of target, which a FORGET removes; it
	// returns further item hashes to forget (the amends of a post, ...).
	// The messages row of target still exists when it is called.
	Forget(ctx context.Context, tx *ent.Tx, target *ent.Message) ([]string, error)
}

// Cost is one account_costs row of a message: what it costs its owner.
// Amounts are exact decimal strings.
type Cost struct {
	// Type is the cost type, e.g. EXECUTION, EXECUTION_VOLUME_PERSISTENT,
	// STORAGE.
	Type string
	// Name names the priced item (a volume's mount, "main"...).
	Name string
	// Ref is the file the cost is about, if any.
	Ref *string
	// PaymentType is hold, superfluid or credit.
	PaymentType string
	// Hold, Stream and Credit are the amounts per payment mode, exact
	// decimals ("0" when not applicable).
	Hold, Stream, Credit string
}

// PostEffect is a side effect of POSTs of some post type (balances-update,
// credit posts, metrics). The POST handler applies every configured effect
// whose Applies is true, after the post row is written, in the same
// transaction. An error rejects or retries the POST like any handler error.
type PostEffect interface {
	// Applies reports whether the effect concerns m (a POST).
	Applies(m *message.Message) bool
	// Apply performs the effect in tx.
	Apply(ctx context.Context, tx *ent.Tx, m *message.Message) error
}

// Storage is how handlers and the fetch stage get content and files
// (implemented by package ipfs, wired in cmd).
type Storage interface {
	// Get returns the bytes of a content hash (sha256 hex for "storage",
	// CID for "ipfs"), at most max bytes. Errors wrap ErrNotFound,
	// ErrTooLarge or ErrUnavailable.
	Get(ctx context.Context, hash string, max int64) ([]byte, error)
	// Stat returns the size of a file and whether it is a directory.
	Stat(ctx context.Context, hash string) (size int64, dir bool, err error)
	// Pin keeps a file stored.
	Pin(ctx context.Context, hash string) error
	// Unpin lets a file go.
	Unpin(ctx context.Context, hash string) error
}

// Registry maps message types to their handlers.
type Registry map[message.Type]Handler

// For returns the handler of a message type, or nil.
func (r Registry) For(t message.Type) Handler { return r[t] }

// Base gives a handler the common defaults to embed: no related content,
// the default permission rule, no cost, no dependency.
type Base struct{}

// FetchRelated implements Handler: nothing to fetch.
func (Base) FetchRelated(context.Context, *message.Message) error { return nil }

// CheckDependencies implements Handler: no dependency.
func (Base) CheckDependencies(context.Context, *ent.Tx, *message.Message) error { return nil }

// CheckPermissions implements Handler with CheckDefaultPermissions.
func (Base) CheckPermissions(ctx context.Context, tx *ent.Tx, m *message.Message) error {
	return CheckDefaultPermissions(ctx, tx, m)
}

// CheckBalance implements Handler: free.
func (Base) CheckBalance(context.Context, *ent.Tx, *message.Message) ([]Cost, error) {
	return nil, nil
}

// Package events carries state changes from the processor to whoever
// listens (GraphQL subscriptions, caches), inside one process or, through
// an implementation backed by Redis or PostgreSQL, across nodes.
//
// Events are notifications, not the source of truth: every event names the
// outbox sequence number (Seq) of the state change it reports, and a
// listener that lost events (slow, disconnected, another node) catches up by
// reading the message_events outbox table from the last Seq it saw. That is
// what lets a subscription resume with no gap and no duplicate.
//
// The package is a leaf: it imports no other package of the project.
package events

import (
	"context"
	"time"
)

// Kind is what happened to a message.
type Kind string

// The kinds of events. Values are stored in the outbox; do not rename.
const (
	// Processed: the message was accepted and its effects applied.
	Processed Kind = "processed"
	// Rejected: the message was rejected with an error code.
	Rejected Kind = "rejected"
	// Forgotten: a FORGET removed the message's content.
	Forgotten Kind = "forgotten"
	// Confirmed: an already processed message got an on-chain confirmation.
	Confirmed Kind = "confirmed"
	// Amended: a POST got a new latest amend (ItemHash is the original).
	Amended Kind = "amended"
	// Removing: a paid message entered its grace period for lack of funds.
	Removing Kind = "removing"
	// Removed: a paid message's resources were removed.
	Removed Kind = "removed"
	// Recovered: a paid message in its grace period is paid for again
	// (removing back to processed).
	Recovered Kind = "recovered"
	// Pending: a message entered the queue (or re-entered it).
	Pending Kind = "pending"
)

// Event is one state change of one message. It carries the attributes
// subscription filters match on, so that matching needs no database read.
type Event struct {
	// Seq is the outbox sequence number: strictly increasing in commit
	// order on one database. Zero for events not recorded in the outbox.
	Seq  int64     `json:"seq"`
	Kind Kind      `json:"kind"`
	At   time.Time `json:"at"`

	ItemHash string `json:"item_hash"`
	Type     string `json:"type,omitempty"`
	Chain    string `json:"chain,omitempty"`
	Sender   string `json:"sender,omitempty"`
	Owner    string `json:"owner,omitempty"`
	Channel  string `json:"channel,omitempty"`
	// ContentType is POST content.type; ContentKey AGGREGATE content.key;
	// ContentRef the content's ref.
	ContentType string   `json:"content_type,omitempty"`
	ContentKey  string   `json:"content_key,omitempty"`
	ContentRef  string   `json:"content_ref,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	// Time is the message's time.
	Time time.Time `json:"time"`
	// ErrorCode is set for Rejected events.
	ErrorCode *int `json:"error_code,omitempty"`
	// Related is another message involved: the FORGET that forgot this one,
	// the amend that amended it, the transaction that confirmed it; for
	// Removing events, the removal reason (balance_insufficient or
	// credit_insufficient).
	Related string `json:"related,omitempty"`
}

// Publisher sends events. Publish must not block on slow listeners; it is
// called after the state change committed.
type Publisher interface {
	Publish(ctx context.Context, evs ...Event) error
}

// Subscriber delivers events. The returned channel is closed when ctx ends
// or when the subscriber fell too far behind (then Err says so).
type Subscriber interface {
	Subscribe(ctx context.Context) (*Subscription, error)
}

// Bus is both ends.
type Bus interface {
	Publisher
	Subscriber
}

package cache

import (
	"strings"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/events"
)

// Keys of cached rows and their invalidation keys ("deps"):
//
//   - "m:" + message hash: a processed message's row, invalidated by its
//     own key (every outbox row of the message, or naming it as Related);
//   - "a:" + owner + NUL + aggregate key: an aggregate, invalidated by
//     "ao:" + owner (a forgotten element's key is not known any more);
//   - "p:" + post hash: a post row, invalidated by "po:" + lower-cased
//     owner (an amend changes its original's row, a forgotten amend's
//     snapshot has no ref; amends keep the original's owner up to case);
//   - "f:" + file hash: a files row, invalidated by the message key of one
//     STORE pinning the file.
//
// Whole answers of lists depend on "ml:c:" + channel, "ml:s:" + sender
// or "ml:*" (any message), which every outbox row of a message bumps.

// MessageKey is the cache key, and invalidation key, of a message.
func MessageKey(hash string) string { return "m:" + hash }

// AggregateKey is the cache key of an aggregate.
func AggregateKey(owner, key string) string { return "a:" + owner + "\x00" + key }

// AggregateDep is the invalidation key of an owner's aggregates.
func AggregateDep(owner string) string { return "ao:" + owner }

// PostKey is the cache key of a post row.
func PostKey(hash string) string { return "p:" + hash }

// PostDep is the invalidation key of an owner's posts.
func PostDep(owner string) string { return "po:" + strings.ToLower(owner) }

// FileKey is the cache key of a files row.
func FileKey(hash string) string { return "f:" + hash }

// AnyMessageDep is the invalidation key every outbox row of a message
// bumps: an answer depending on it is invalidated by any change.
const AnyMessageDep = "ml:*"

// ChannelDep is the invalidation key of the messages of a channel.
func ChannelDep(ch string) string { return "ml:c:" + ch }

// SenderDep is the invalidation key of the messages of a sender.
func SenderDep(s string) string { return "ml:s:" + s }

// ListDeps are the list invalidation keys an outbox row of m bumps.
func ListDeps(m *ent.Message) []string {
	deps := []string{AnyMessageDep, SenderDep(m.Sender)}
	if m.Channel != nil {
		deps = append(deps, ChannelDep(*m.Channel))
	}
	return deps
}

// EventKeys are the invalidation keys of one outbox row ev with its
// message msg (nil when the message is not known: then All, since what
// it touched cannot be told). The hub bumps them in Gens in outbox order.
func EventKeys(ev events.Event, msg *ent.Message) []string {
	keys := []string{MessageKey(ev.ItemHash)}
	if ev.Related != "" {
		keys = append(keys, MessageKey(ev.Related))
	}
	if msg == nil {
		return append(keys, All)
	}
	keys = append(keys, ListDeps(msg)...)
	switch msg.Type {
	case "AGGREGATE":
		keys = append(keys, AggregateDep(msg.Owner))
	case "POST":
		keys = append(keys, PostDep(msg.Owner))
	}
	return keys
}

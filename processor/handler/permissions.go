package handler

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/aggregate"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/message"
)

// SecurityKey is the aggregate key holding an owner's delegations.
const SecurityKey = "security"

// Action is what a sender wants to do for an owner: the attributes the
// security aggregate's authorizations filter on. CheckDefaultPermissions
// builds it from the message; FORGET and amends build it from the target.
type Action struct {
	Sender   string
	Owner    string
	Chain    string
	Channel  string
	HasChan  bool
	Type     string
	PostType string // POST content.type, for post_types filters
	AggKey   string // AGGREGATE content.key, for aggregate_keys filters
}

// ActionOf returns the action a message performs.
func ActionOf(m *message.Message) Action {
	a := Action{
		Sender: m.Sender, Owner: m.Owner(), Chain: string(m.Chain),
		Channel: m.Channel, HasChan: m.HasChannel, Type: string(m.Type),
	}
	switch c := m.Content.(type) {
	case *message.PostContent:
		a.PostType = c.Type
	case *message.AggregateContent:
		a.AggKey = c.Key
	}
	return a
}

// CheckDefaultPermissions is the permission rule of every type but FORGET
// (spec 4.1): the sender is the owner (content.address, compared without
// case) or holds a matching authorization in the owner's security
// aggregate. It fails with PERMISSION_DENIED.
func CheckDefaultPermissions(ctx context.Context, tx *ent.Tx, m *message.Message) error {
	return Authorize(ctx, tx, ActionOf(m))
}

// Authorize checks one action against the owner's delegations.
func Authorize(ctx context.Context, tx *ent.Tx, a Action) error {
	if strings.EqualFold(a.Sender, a.Owner) {
		return nil
	}
	if err := flushSecurity(ctx, a.Owner); err != nil {
		return errcode.Wrap(errcode.InternalError, err, "flush batch")
	}
	ok, err := Delegated(ctx, tx, a)
	if err != nil {
		return err
	}
	if !ok {
		return errcode.Newf(errcode.PermissionDenied, "%s is not authorized to act for %s", a.Sender, a.Owner)
	}
	return nil
}

// flushSecurity writes ctx's batch when it holds merges into owner's
// security aggregate not written yet, so that Delegated reads them. The
// aggregate's row is otherwise current in the transaction: the batch
// writes an aggregate only at a flush, from its cache, and every other
// change to it (an out-of-order element's recomputation, a FORGET's)
// flushes first. Flushing for every delegated message instead cut each
// batch of a catching-up node into as many writes, and emptied its
// cache of aggregates.
func flushSecurity(ctx context.Context, owner string) error {
	b := BatchFrom(ctx)
	if b == nil {
		return nil
	}
	if st, ok := b.Cache()[aggKey(owner, SecurityKey)].(*aggState); !ok || !st.dirty {
		return nil
	}
	return b.Flush(ctx)
}

// authorization is one entry of security.authorizations.
type authorization struct {
	Address       string   `json:"address"`
	Chain         *string  `json:"chain"`
	Channels      []string `json:"channels"`
	Types         []string `json:"types"`
	PostTypes     []string `json:"post_types"`
	AggregateKeys []string `json:"aggregate_keys"`
}

// Delegated reports whether the owner's security aggregate (owner matched
// exactly, as the reference node does) authorizes the action. A malformed
// security aggregate authorizes nothing.
func Delegated(ctx context.Context, tx *ent.Tx, a Action) (bool, error) {
	agg, err := tx.Aggregate.Query().
		Where(aggregate.Owner(a.Owner), aggregate.Key(SecurityKey)).
		Only(ctx)
	if ent.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, errcode.Wrap(errcode.InternalError, err, "read security aggregate")
	}
	var sec struct {
		Authorizations []json.RawMessage `json:"authorizations"`
	}
	if json.Unmarshal(agg.Content, &sec) != nil {
		return false, nil
	}
	for _, raw := range sec.Authorizations {
		var au authorization
		if json.Unmarshal(raw, &au) != nil {
			continue // a malformed entry matches nothing
		}
		if au.matches(a) {
			return true, nil
		}
	}
	return false, nil
}

// matches applies the filters of one authorization: each present,
// non-empty filter must pass.
func (au *authorization) matches(a Action) bool {
	if !strings.EqualFold(au.Address, a.Sender) {
		return false
	}
	if au.Chain != nil && *au.Chain != "" && *au.Chain != a.Chain {
		return false
	}
	if len(au.Channels) > 0 && (!a.HasChan || !slices.Contains(au.Channels, a.Channel)) {
		return false
	}
	if len(au.Types) > 0 && !slices.Contains(au.Types, a.Type) {
		return false
	}
	if len(au.PostTypes) > 0 && a.Type == string(message.TypePost) && !slices.Contains(au.PostTypes, a.PostType) {
		return false
	}
	if len(au.AggregateKeys) > 0 && a.Type == string(message.TypeAggregate) && !slices.Contains(au.AggregateKeys, a.AggKey) {
		return false
	}
	return true
}

package graph

import (
	"context"
	"strings"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/aggregate"
	"github.com/alephql/alephql/graph/model"
	"github.com/alephql/alephql/read"
)

// node resolves a global id of any Node type; unknown objects are nil.
func (r *Resolver) node(ctx context.Context, id string) (model.Node, error) {
	typ, key, err := parseGlobalID(id)
	if err != nil {
		return nil, err
	}
	l := r.loadersFor(ctx)
	// Each branch returns a typed nil as an untyped nil: gqlgen's
	// interface marshaling must see a nil Node for missing objects.
	switch typ {
	case typeMessage:
		return nonNil(read.FindMessage(ctx, r.client, key))
	case typePost:
		return nonNil(l.post().Load(ctx, key)())
	case typeAggregateElement:
		return nonNil(l.element().Load(ctx, key)())
	case typeFile:
		return nonNil(l.file().Load(ctx, key)())
	case typeVM:
		return nonNil(l.vm().Load(ctx, key)())
	case typeAccount:
		return &model.Account{Address: key}, nil
	case typeChannel:
		return &model.Channel{Name: key}, nil
	case typeAggregate:
		owner, k, ok := strings.Cut(key, "/")
		if !ok {
			return nil, userError(CodeBadUserInput, "malformed id %q", id)
		}
		a, err := r.client.Aggregate.Query().Where(aggregate.Owner(owner), aggregate.Key(k)).Only(ctx)
		if ent.IsNotFound(err) {
			return nil, nil
		}
		return nonNil(a, err)
	}
	return nil, userError(CodeBadUserInput, "unknown node type in id %q", id)
}

func nonNil[T comparable](v T, err error) (model.Node, error) {
	var zero T
	if err != nil || v == zero {
		return nil, err
	}
	return v, nil
}

// nodes resolves several global ids, nil for unknown objects.
func (r *Resolver) nodes(ctx context.Context, ids []string) ([]model.Node, error) {
	if len(ids) > r.limits.MaxPageSize {
		return nil, userError(CodeBadUserInput, "at most %d ids per request", r.limits.MaxPageSize)
	}
	out := make([]model.Node, len(ids))
	for i, id := range ids {
		n, err := r.node(ctx, id)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// messageStatus is Message.status: the status row, or for a message known
// only from its row (no status row yet) its own status.
func (r *Resolver) messageStatus(ctx context.Context, m *ent.Message) (*model.MessageStatusInfo, error) {
	s, err := r.loadersFor(ctx).status().Load(ctx, m.ID)()
	if err != nil || s != nil {
		return s, err
	}
	st := model.MessageStatusProcessed
	if m.Status != "" {
		st = enumOf[model.MessageStatus](string(m.Status))
	}
	return &model.MessageStatusInfo{Hash: m.ID, Status: st, ReceptionTime: m.ReceptionTime, UpdatedAt: m.ReceptionTime}, nil
}

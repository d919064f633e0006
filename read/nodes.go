package read

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/aggregate"
	"github.com/alephql/alephql/ent/nodemetric"
	"github.com/alephql/alephql/ent/vm"
)

// NodeMetrics lists the metrics of a core (ccn) or compute (crn) node
// measured in [start, end], by measurement time, at most limit.
func (r *Reader) NodeMetrics(ctx context.Context, nodeType, nodeID string, start, end time.Time, desc bool, limit int) ([]*ent.NodeMetric, error) {
	o := ent.Asc
	if desc {
		o = ent.Desc
	}
	return r.client.NodeMetric.Query().Where(nodemetric.NodeTypeEQ(nodemetric.NodeType(nodeType)), nodemetric.NodeID(nodeID),
		nodemetric.MeasuredAtGTE(start.UTC()), nodemetric.MeasuredAtLTE(end.UTC())).
		Order(o(nodemetric.FieldMeasuredAt), o(nodemetric.FieldItemHash)).Limit(limit).All(ctx)
}

// ProgramsOnMessage lists the programs with message triggers, by creation
// time, at most limit.
func (r *Reader) ProgramsOnMessage(ctx context.Context, desc bool, limit int) ([]*ent.VM, error) {
	o := ent.Asc
	if desc {
		o = ent.Desc
	}
	return r.client.VM.Query().Where(vm.TypeEQ(vm.TypeProgram), vm.MessageTriggersNotNil(),
		func(s *sql.Selector) {
			s.Where(sql.P(func(b *sql.Builder) {
				b.WriteString("CAST(").Ident(s.C(vm.FieldMessageTriggers)).WriteString(" AS TEXT) NOT IN ('null', '[]')")
			}))
		}).
		Order(o(vm.FieldCreated), o(vm.FieldID)).Limit(limit).Select(vm.FieldID, vm.FieldMessageTriggers, vm.FieldCreated).All(ctx)
}

// Authorization is one entry of a security aggregate's authorizations:
// the grantee's address and the filters, as stored.
type Authorization struct {
	// Granter owns the security aggregate.
	Granter string
	// Address is the grantee.
	Address string
	// Entry is the whole entry as stored.
	Entry map[string]any
}

// SecurityAggregate is the security aggregate's authorizations of owner.
func (r *Reader) SecurityAggregate(ctx context.Context, owner string) ([]Authorization, error) {
	ags, err := r.client.Aggregate.Query().Where(aggregate.Key("security"), aggregate.Owner(owner)).All(ctx)
	if err != nil {
		return nil, err
	}
	return authorizationsOf(ags), nil
}

// AuthorizationsReceived lists the authorizations granted to grantee by
// every security aggregate naming it, at most limit aggregates read.
func (r *Reader) AuthorizationsReceived(ctx context.Context, grantee string, limit int) ([]Authorization, error) {
	ags, err := r.client.Aggregate.Query().Where(aggregate.Key("security"), func(s *sql.Selector) {
		s.Where(sql.P(func(b *sql.Builder) {
			b.WriteString("LOWER(CAST(").Ident(s.C(aggregate.FieldContent)).WriteString(" AS TEXT)) LIKE ").
				Arg("%" + likeEscape(strings.ToLower(grantee)) + "%").WriteString(" ESCAPE '\\'")
		}))
	}).Order(ent.Asc(aggregate.FieldOwner)).Limit(limit).All(ctx)
	if err != nil {
		return nil, err
	}
	var out []Authorization
	for _, a := range authorizationsOf(ags) {
		if strings.EqualFold(a.Address, grantee) {
			out = append(out, a)
		}
	}
	return out, nil
}

func authorizationsOf(ags []*ent.Aggregate) []Authorization {
	var out []Authorization
	for _, ag := range ags {
		var c struct {
			Authorizations []map[string]any `json:"authorizations"`
		}
		if json.Unmarshal(ag.Content, &c) != nil {
			continue
		}
		for _, e := range c.Authorizations {
			addr, _ := e["address"].(string)
			if addr == "" {
				continue
			}
			out = append(out, Authorization{Granter: ag.Owner, Address: addr, Entry: e})
		}
	}
	return out
}

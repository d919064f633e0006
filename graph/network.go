package graph

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/peer"
	"github.com/alephql/alephql/graph/model"
)

// NetworkStatus reports the network sources' figures (implemented over
// the indexer's counters, wired in cmd).
type NetworkStatus interface {
	Sources() []*model.NetworkSource
}

// NetworkStatusFunc adapts a function to NetworkStatus.
type NetworkStatusFunc func() []*model.NetworkSource

// Sources calls f.
func (f NetworkStatusFunc) Sources() []*model.NetworkSource { return f() }

// WithNetworkStatus sets the source of the networkStatus query (none:
// an empty list).
func WithNetworkStatus(s NetworkStatus) Option { return func(o *Options) { o.Network = s } }

// networkStatus answers the networkStatus query.
func (r *Resolver) networkStatus() []*model.NetworkSource {
	if r.opts.Network == nil {
		return []*model.NetworkSource{}
	}
	return r.opts.Network.Sources()
}

// peerCursor encodes a peer's position: last seen, then id, both descending.
func peerCursor(p *ent.Peer) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(p.LastSeen.UnixNano(), 10) + ":" + strconv.Itoa(p.ID)))
}

// parsePeerCursor decodes peerCursor.
func parsePeerCursor(c string) (time.Time, int, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, 0, err
	}
	ts, id, ok := strings.Cut(string(b), ":")
	if !ok {
		return time.Time{}, 0, fmt.Errorf("no separator")
	}
	ns, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return time.Time{}, 0, err
	}
	n, err := strconv.Atoi(id)
	if err != nil {
		return time.Time{}, 0, err
	}
	return time.Unix(0, ns).UTC(), n, nil
}

// peers answers the peers query: most recently seen first, by keyset.
func (r *Resolver) peers(ctx context.Context, first *int, after *string, kind *model.PeerKind) (*model.PeerConnection, error) {
	n := r.limits.DefaultPageSize
	if first != nil {
		if *first < 0 || *first > r.limits.MaxPageSize {
			return nil, userError(CodeBadUserInput, "first must be between 0 and %d", r.limits.MaxPageSize)
		}
		n = *first
	}
	q := r.client.Peer.Query()
	if kind != nil {
		q.Where(peer.PeerTypeEQ(peer.PeerType(strings.ToLower(string(*kind)))))
	}
	if after != nil {
		t, id, err := parsePeerCursor(*after)
		if err != nil {
			return nil, userError(CodeBadUserInput, "invalid cursor")
		}
		q.Where(peer.Or(peer.LastSeenLT(t), peer.And(peer.LastSeen(t), peer.IDLT(id))))
	}
	rows, err := q.Order(ent.Desc(peer.FieldLastSeen), ent.Desc(peer.FieldID)).Limit(n + 1).All(ctx)
	if err != nil {
		return nil, err
	}
	out := &model.PeerConnection{Edges: []*model.PeerEdge{}, PageInfo: &model.PageInfo{HasPreviousPage: after != nil}}
	if len(rows) > n {
		rows, out.PageInfo.HasNextPage = rows[:n], true
	}
	for _, p := range rows {
		c := peerCursor(p)
		out.Edges = append(out.Edges, &model.PeerEdge{Cursor: c, Node: &model.Peer{
			PeerID: p.PeerID, Kind: model.PeerKind(strings.ToUpper(string(p.PeerType))), Address: p.Address,
			Source: string(p.Source), LastSeen: p.LastSeen,
		}})
	}
	if len(out.Edges) > 0 {
		out.PageInfo.StartCursor, out.PageInfo.EndCursor = &out.Edges[0].Cursor, &out.Edges[len(out.Edges)-1].Cursor
	}
	return out, nil
}

// Interface guards
var _ NetworkStatus = NetworkStatusFunc(nil)

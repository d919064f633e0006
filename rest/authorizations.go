package rest

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/alephql/alephql/read"
)

// MaxSecurityAggregates caps the security aggregates read for
// authorizations/received.
const MaxSecurityAggregates = 10000

// authMatches applies the authorization filters to an entry: each given
// filter must meet the entry's list (an empty or absent list allows all).
func authMatches(e map[string]any, chains, channels, types, postTypes, keys []string) bool {
	allows := func(field string, want []string) bool {
		if len(want) == 0 {
			return true
		}
		switch v := e[field].(type) {
		case nil:
			return true
		case string:
			return v == "" || slices.Contains(want, v)
		case []any:
			if len(v) == 0 {
				return true
			}
			for _, x := range v {
				if s, ok := x.(string); ok && slices.Contains(want, s) {
					return true
				}
			}
			return false
		}
		return false
	}
	return allows("chain", chains) && allows("channels", channels) && allows("types", types) &&
		allows("post_types", postTypes) && allows("aggregate_keys", keys)
}

// authCursor is the cursor of the authorizations lists: the last party
// (grantee or granter) of the page.
type authCursor struct {
	Party string `json:"p"`
}

// authorizations serves granted/{address}.json (grouped by grantee) and
// received/{address}.json (grouped by granter): entries grouped by the
// other party, in byte order of the party's address. Page mode pages
// over those parties; cursor mode is a keyset on the party (the parties
// after the cursor's), so a walk sees each party once even when
// authorizations change between pages.
func (a *API) authorizations(received bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		addr := pathJSON(r, "address")
		p := newParams(r.URL.Query(), a.cfg.MaxFilterValues)
		other := p.list("grantee", nil)
		if received {
			other = p.list("granter", nil)
		}
		chains, channels := p.list("chains", nil), p.list("channels", nil)
		types, postTypes, keys := p.list("types", nil), p.list("postTypes", nil), p.list("aggregateKeys", nil)
		pg := a.paging(p, r, 20)
		if p.err != nil {
			return p.err
		}
		var after *authCursor
		if pg.cursor != nil && *pg.cursor != "" {
			after = &authCursor{}
			if e := decodeCursor(*pg.cursor, after, func() bool { return after.Party != "" }); e != nil {
				return e
			}
		}
		var all []read.Authorization
		var err error
		if received {
			all, err = a.reader.AuthorizationsReceived(r.Context(), addr, MaxSecurityAggregates)
		} else {
			all, err = a.reader.SecurityAggregate(r.Context(), addr)
		}
		if err != nil {
			return err
		}
		groups := map[string][]map[string]any{}
		for _, au := range all {
			party := au.Address
			if received {
				party = au.Granter
			}
			if len(other) > 0 && !slices.ContainsFunc(other, func(s string) bool { return strings.EqualFold(s, party) }) {
				continue
			}
			if !authMatches(au.Entry, chains, channels, types, postTypes, keys) {
				continue
			}
			e := make(map[string]any, len(au.Entry))
			for k, v := range au.Entry {
				if k != "address" {
					e[k] = v
				}
			}
			groups[party] = append(groups[party], e)
		}
		parties := make([]string, 0, len(groups))
		for k := range groups {
			parties = append(parties, k)
		}
		sort.Strings(parties)
		lo := min(pg.offset(), len(parties))
		if pg.cursor != nil {
			lo = 0
			if after != nil {
				lo, _ = slices.BinarySearch(parties, after.Party)
				if lo < len(parties) && parties[lo] == after.Party {
					lo++
				}
			}
		}
		hi := min(lo+pg.perPage, len(parties))
		page := map[string]json.RawMessage{}
		for _, k := range parties[lo:hi] {
			b, err := json.Marshal(groups[k])
			if err != nil {
				return err
			}
			page[k] = b
		}
		var out map[string]any
		if pg.cursor != nil {
			next, err := nextCursor(hi < len(parties), hi-lo, func() any { return authCursor{Party: parties[hi-1]} })
			if err != nil {
				return err
			}
			out = cursorEnvelope("authorizations", page, pg, next)
		} else {
			out = pageEnvelope("authorizations", page, pg, int64(len(parties)))
		}
		out["address"] = addr
		return writeJSON(w, http.StatusOK, out)
	}
}

// programsOnMessage serves GET /api/v0/programs/on/message: the programs
// with message triggers, unpaged as on the reference node (at most
// NodeInfo.MaxChannels).
func (a *API) programsOnMessage(w http.ResponseWriter, r *http.Request) error {
	p := newParams(r.URL.Query(), a.cfg.MaxFilterValues)
	desc := p.integer("sort_order", 1, -1, 1) == -1
	if p.err != nil {
		return p.err
	}
	vms, err := a.reader.ProgramsOnMessage(r.Context(), desc, a.cfg.Node.MaxChannels)
	if err != nil {
		return err
	}
	type on struct {
		Message json.RawMessage `json:"message"`
	}
	type content struct {
		On on `json:"on"`
	}
	type item struct {
		ItemHash string  `json:"item_hash"`
		Content  content `json:"content"`
	}
	out := make([]item, len(vms))
	for i, v := range vms {
		out[i] = item{ItemHash: v.ID, Content: content{On: on{Message: rawOrNull(v.MessageTriggers)}}}
	}
	return writeJSON(w, http.StatusOK, out)
}

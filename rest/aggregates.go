package rest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/alephql/alephql/read"
)

// aggregateInfo is with_info's entry of a key.
type aggregateInfo struct {
	Created            string `json:"created"`
	LastUpdated        string `json:"last_updated"`
	LastUpdateItemHash string `json:"last_update_item_hash"`
	OriginalItemHash   string `json:"original_item_hash"`
}

// addressAggregates serves GET /api/v0/aggregates/{address}.json: keys,
// with_info (original_item_hash is the first element's hash, where the
// reference node repeats the last one), value_only; 404 when the address
// has none.
func (a *API) addressAggregates(w http.ResponseWriter, r *http.Request) error {
	address := pathJSON(r, "address")
	p := newParams(r.URL.Query(), a.cfg.MaxFilterValues)
	keys := p.list("keys", nil)
	withInfo := p.boolean("with_info", false)
	valueOnly := p.boolean("value_only", false)
	p.integer("limit", 1000, 0, 1<<31) // accepted and ignored, as the reference node does
	if p.err != nil {
		return p.err
	}
	ctx := r.Context()
	rows, err := a.reader.AggregatesOf(ctx, address, keys)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return errorf(http.StatusNotFound, "No aggregate found for this address")
	}
	if valueOnly && len(keys) == 1 {
		return writeJSON(w, http.StatusOK, rawOrNull(rows[0].Content))
	}
	data := make(map[string]json.RawMessage, len(rows))
	for _, ag := range rows {
		data[ag.Key] = rawOrNull(ag.Content)
	}
	info := map[string]aggregateInfo{}
	if withInfo {
		first, err := a.reader.FirstElements(ctx, address, keys)
		if err != nil {
			return err
		}
		for _, ag := range rows {
			orig := first[ag.Key]
			if orig == "" {
				orig = ag.LastRevisionHash
			}
			info[ag.Key] = aggregateInfo{Created: strTime(ag.CreationDatetime), LastUpdated: strTime(ag.LastUpdated),
				LastUpdateItemHash: ag.LastRevisionHash, OriginalItemHash: orig}
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"address": address, "data": data, "info": info})
}

// aggregateItem is an aggregate of /api/v0/aggregates.json.
type aggregateItem struct {
	Address     string          `json:"address"`
	Content     json.RawMessage `json:"content"`
	Created     string          `json:"created"`
	Key         string          `json:"key"`
	LastUpdated string          `json:"last_updated"`
}

// aggregateCursor is the reference node's aggregate cursor {"k","o","t"}.
type aggregateCursor struct {
	K string `json:"k"`
	O string `json:"o"`
	T string `json:"t"`
}

// aggregateList serves GET /api/v0/aggregates[.json]: keys, addresses,
// sortBy=last_modified|creation_time, sortOrder, pagination (1..500 on
// the reference node; capped at MaxPageSize), page, cursor.
func (a *API) aggregateList(w http.ResponseWriter, r *http.Request) error {
	p := newParams(r.URL.Query(), a.cfg.MaxFilterValues)
	f := read.AggregateFilter{Keys: p.list("keys", nil), Owners: p.list("addresses", nil)}
	order := read.ByLastUpdated
	if p.oneOf("sortBy", "last_modified", "last_modified", "creation_time") == "creation_time" {
		order = read.ByCreated
	}
	desc := p.oneOf("sortOrder", "-1", "-1", "1") == "-1"
	pg := a.paging(p, r, DefaultPageSize)
	if p.err != nil {
		return p.err
	}
	page := read.Page{N: pg.perPage, Desc: desc}
	if pg.cursor != nil {
		if *pg.cursor != "" {
			var c aggregateCursor
			b, err := base64.RawURLEncoding.DecodeString(*pg.cursor)
			if err == nil {
				err = json.Unmarshal(b, &c)
			}
			var t time.Time
			if err == nil {
				t, err = time.Parse(time.RFC3339Nano, c.T)
			}
			if err != nil || c.O == "" || strings.Contains(c.O, "/") {
				return badParam("cursor", "malformed cursor")
			}
			page.After = &read.KeyCursor{A: t, B: c.O + "/" + c.K}
		}
	} else {
		page.Offset = pg.offset()
	}
	ctx := r.Context()
	rows, more, err := a.reader.Aggregates(ctx, f, order, page, nil)
	if err != nil {
		return err
	}
	items := make([]aggregateItem, len(rows))
	for i, ag := range rows {
		items[i] = aggregateItem{Address: ag.Owner, Content: rawOrNull(ag.Content), Created: isoTime(ag.CreationDatetime),
			Key: ag.Key, LastUpdated: isoTime(ag.LastUpdated)}
	}
	if pg.cursor != nil {
		var next *string
		if more && len(rows) > 0 {
			last := rows[len(rows)-1]
			c := order.AggregateCursor(last)
			b, _ := json.Marshal(aggregateCursor{K: last.Key, O: last.Owner, T: isoTime(c.A.(time.Time))})
			s := base64.RawURLEncoding.EncodeToString(b)
			next = &s
		}
		return writeJSON(w, http.StatusOK, cursorEnvelope("aggregates", items, pg, next))
	}
	total, err := pageTotal(pg, len(rows), func() (int64, error) {
		n, _, err := a.reader.CountAggregates(ctx, f)
		return n, err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, pageEnvelope("aggregates", items, pg, total))
}

package rest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// paging is a list's paging: page mode (page, perPage) or, when cursor is
// set (even empty), cursor mode.
type paging struct {
	perPage int
	page    int
	cursor  *string
}

// offset is the number of rows before the page in page mode.
func (pg paging) offset() int { return (pg.page - 1) * pg.perPage }

// paging reads pagination, page (the path's /page/{n}.json wins) and
// cursor. pagination=0, "unlimited" on the reference node, and values
// over MaxPageSize are capped at MaxPageSize; in cursor mode an explicit 0
// is refused (a route's default of 0 is the cap).
func (a *API) paging(p *params, r *http.Request, def int) paging {
	pg := paging{page: 1}
	n := p.integer("pagination", int64(def), 0, 1<<31)
	pg.page = int(p.integer("page", 1, 1, 1<<31))
	if s := pagePath(r); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			p.bad("page", "must be a positive integer")
		}
		pg.page = v
	}
	if c, ok := p.raw("cursor"); ok {
		pg.cursor = &c
		if _, given := p.raw("pagination"); given && n == 0 {
			p.bad("pagination", "must be positive in cursor mode")
		}
	}
	if n == 0 || n > int64(a.cfg.MaxPageSize) {
		n = int64(a.cfg.MaxPageSize)
	}
	pg.perPage = int(n)
	return pg
}

// pageEnvelope is the page-mode envelope.
func pageEnvelope(item string, items any, pg paging, total int64) map[string]any {
	return map[string]any{
		item:                  items,
		"pagination_page":     pg.page,
		"pagination_per_page": pg.perPage,
		"pagination_total":    total,
		"pagination_item":     item,
	}
}

// cursorEnvelope is the cursor-mode envelope; next is nil at the end.
func cursorEnvelope(item string, items any, pg paging, next *string) map[string]any {
	return map[string]any{item: items, "pagination_per_page": pg.perPage, "next_cursor": next}
}

// pageTotal is pagination_total: exact arithmetic when the page is not
// full, else count.
func pageTotal(pg paging, n int, count func() (int64, error)) (int64, error) {
	if n < pg.perPage && (n > 0 || pg.page == 1) {
		return int64(pg.offset() + n), nil
	}
	return count()
}

// timeCursor is the reference node's message and post cursor: base64url
// without padding of the compact sorted JSON {"h": hash, "t": isoformat}.
type timeCursor struct {
	H string `json:"h"`
	T string `json:"t"`
}

func encodeTimeCursor(hash string, t time.Time) string {
	b, _ := json.Marshal(timeCursor{H: hash, T: isoTime(t)})
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeTimeCursor reads a cursor; the empty cursor is the start (nil).
func decodeTimeCursor(s string) (*timeCursorPos, *Error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.URLEncoding.DecodeString(s)
	}
	var c timeCursor
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	var t time.Time
	if err == nil {
		t, err = time.Parse(time.RFC3339Nano, c.T)
	}
	if err != nil || c.H == "" {
		return nil, badParam("cursor", "malformed cursor")
	}
	return &timeCursorPos{Hash: c.H, Time: t.UTC()}, nil
}

// timeCursorPos is a decoded timeCursor.
type timeCursorPos struct {
	Hash string
	Time time.Time
}

// encodeCursor is the opaque cursor of a keyset position: base64url
// without padding of v's compact JSON.
func encodeCursor(v any) (*string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	s := base64.RawURLEncoding.EncodeToString(b)
	return &s, nil
}

// decodeCursor reads an encodeCursor cursor into v; ok(v) tells whether
// the position is complete. A malformed cursor is a 422 naming it.
func decodeCursor(s string, v any, ok func() bool) *Error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, v) != nil || !ok() {
		return badParam("cursor", "malformed cursor")
	}
	return nil
}

// nextCursor is next_cursor: the position of the page's last row when
// rows lie beyond it, else nil.
func nextCursor(more bool, n int, last func() any) (*string, error) {
	if !more || n == 0 {
		return nil, nil
	}
	return encodeCursor(last())
}

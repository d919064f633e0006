package rest

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/read"
)

// postV1 is a post of /api/v1/posts.json.
type postV1 struct {
	Address          string          `json:"address"`
	Channel          *string         `json:"channel"`
	Content          json.RawMessage `json:"content"`
	Created          string          `json:"created"`
	ItemHash         string          `json:"item_hash"`
	LastUpdated      string          `json:"last_updated"`
	OriginalItemHash string          `json:"original_item_hash"`
	OriginalType     string          `json:"original_type"`
	Ref              *string         `json:"ref"`
}

// postV0 is a post of /api/v0/posts.json: the latest version's message
// fields with the original's hash, signature and type.
type postV0 struct {
	Address           string             `json:"address"`
	Chain             string             `json:"chain"`
	Channel           *string            `json:"channel"`
	Confirmations     []confirmationItem `json:"confirmations"`
	Confirmed         bool               `json:"confirmed"`
	Content           json.RawMessage    `json:"content"`
	Hash              string             `json:"hash"`
	ItemContent       *string            `json:"item_content"`
	ItemHash          string             `json:"item_hash"`
	ItemType          string             `json:"item_type"`
	OriginalItemHash  string             `json:"original_item_hash"`
	OriginalSignature *string            `json:"original_signature"`
	OriginalType      string             `json:"original_type"`
	Ref               *string            `json:"ref"`
	Sender            string             `json:"sender"`
	Signature         *string            `json:"signature"`
	Size              int64              `json:"size"`
	Time              float64            `json:"time"`
	Type              string             `json:"type"`
}

// mergedPost is an original post with its latest version (itself when
// never amended) and their messages.
type mergedPost struct {
	original, latest       *ent.Post
	originalMsg, latestMsg *ent.Message
}

// postList reads and merges a page of posts; next is the cursor after it
// in cursor mode.
func (a *API) postList(ctx context.Context, r *http.Request) ([]mergedPost, paging, int64, *string, error) {
	p := newParams(r.URL.Query(), a.cfg.MaxFilterValues)
	f := read.PostFilter{
		Owners:      p.list("addresses", nil),
		Hashes:      p.list("hashes", isItemHash),
		Refs:        p.list("refs", nil),
		Types:       p.list("types", nil),
		Tags:        p.list("tags", nil),
		Channels:    p.list("channels", nil),
		CreatedFrom: p.epoch("startDate"),
		CreatedTo:   p.epoch("endDate"),
	}
	sortBy := p.oneOf("sortBy", "time", "time", "tx-time")
	desc := p.oneOf("sortOrder", "-1", "-1", "1") == "-1"
	pg := a.paging(p, r, DefaultPageSize)
	if p.err != nil {
		return nil, pg, 0, nil, p.err
	}
	page := read.Page{N: pg.perPage, Desc: desc}
	if pg.cursor != nil {
		if sortBy == "tx-time" {
			return nil, pg, 0, nil, badParam("cursor", "cursor pagination does not work with sortBy=tx-time")
		}
		c, cerr := decodeTimeCursor(*pg.cursor)
		if cerr != nil {
			return nil, pg, 0, nil, cerr
		}
		if c != nil {
			page.After = &read.KeyCursor{A: c.Time, B: c.Hash}
		}
	} else {
		page.Offset = pg.offset()
	}
	rows, more, err := a.reader.Posts(ctx, f, page, nil)
	if err != nil {
		return nil, pg, 0, nil, err
	}
	merged, err := a.mergePosts(ctx, rows)
	if err != nil {
		return nil, pg, 0, nil, err
	}
	var next *string
	if pg.cursor != nil {
		if more && len(rows) > 0 {
			c := read.PostCursor(rows[len(rows)-1])
			s := encodeTimeCursor(c.B, c.A.(time.Time))
			next = &s
		}
		return merged, pg, 0, next, nil
	}
	total, err := pageTotal(pg, len(rows), func() (int64, error) {
		n, _, err := a.reader.CountPosts(ctx, f)
		return n, err
	})
	return merged, pg, total, nil, err
}

// mergePosts loads the latest versions of posts and the messages of both.
func (a *API) mergePosts(ctx context.Context, rows []*ent.Post) ([]mergedPost, error) {
	var amends, hashes []string
	for _, p := range rows {
		hashes = append(hashes, p.ID)
		if p.LatestAmend != nil && *p.LatestAmend != p.ID {
			amends = append(amends, *p.LatestAmend)
			hashes = append(hashes, *p.LatestAmend)
		}
	}
	latest, err := a.reader.PostsByHash(ctx, amends)
	if err != nil {
		return nil, err
	}
	msgs, err := a.reader.MessagesByHash(ctx, hashes)
	if err != nil {
		return nil, err
	}
	out := make([]mergedPost, 0, len(rows))
	for _, p := range rows {
		m := mergedPost{original: p, latest: p, originalMsg: msgs[p.ID]}
		if p.LatestAmend != nil && latest[*p.LatestAmend] != nil {
			m.latest = latest[*p.LatestAmend]
		}
		m.latestMsg = msgs[m.latest.ID]
		if m.latestMsg == nil {
			m.latest, m.latestMsg = p, m.originalMsg
		}
		if m.originalMsg == nil {
			continue // forgotten meanwhile
		}
		out = append(out, m)
	}
	return out, nil
}

func rawOrNull(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}

// postsV1 serves GET /api/v1/posts.json and /api/v1/posts/page/{n}.json.
func (a *API) postsV1(w http.ResponseWriter, r *http.Request) error {
	posts, pg, total, next, err := a.postList(r.Context(), r)
	if err != nil {
		return err
	}
	items := make([]postV1, len(posts))
	for i, m := range posts {
		items[i] = postV1{Address: m.original.Owner, Channel: m.original.Channel, Content: rawOrNull(m.latest.Content),
			Created: isoTime(m.original.CreationDatetime), ItemHash: m.latest.ID, LastUpdated: isoTime(m.latest.CreationDatetime),
			OriginalItemHash: m.original.ID, OriginalType: m.original.Type, Ref: m.original.Ref}
	}
	if pg.cursor != nil {
		return writeJSON(w, http.StatusOK, cursorEnvelope("posts", items, pg, next))
	}
	return writeJSON(w, http.StatusOK, pageEnvelope("posts", items, pg, total))
}

// postsV0 serves GET /api/v0/posts.json and /api/v0/posts/page/{n}.json.
func (a *API) postsV0(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	posts, pg, total, next, err := a.postList(ctx, r)
	if err != nil {
		return err
	}
	var latest []*ent.Message
	for _, m := range posts {
		latest = append(latest, m.latestMsg)
	}
	msgItems, err := a.messageItems(ctx, latest, formatNone, true)
	if err != nil {
		return err
	}
	items := make([]postV0, len(posts))
	for i, m := range posts {
		mi := msgItems[i]
		items[i] = postV0{Address: m.original.Owner, Chain: mi.Chain, Channel: m.original.Channel, Confirmations: mi.Confirmations,
			Confirmed: mi.Confirmed, Content: rawOrNull(m.latest.Content), Hash: m.original.ID, ItemContent: mi.ItemContent,
			ItemHash: m.latest.ID, ItemType: mi.ItemType, OriginalItemHash: m.original.ID, OriginalSignature: m.originalMsg.Signature,
			OriginalType: m.original.Type, Ref: m.original.Ref, Sender: m.original.Owner, Signature: mi.Signature, Size: *mi.Size,
			Time: mi.Time, Type: m.latest.Type}
	}
	if pg.cursor != nil {
		return writeJSON(w, http.StatusOK, cursorEnvelope("posts", items, pg, next))
	}
	return writeJSON(w, http.StatusOK, pageEnvelope("posts", items, pg, total))
}

package rest

import (
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// FuzzDecodeTimeCursor: any cursor decodes or is a 422 naming "cursor";
// a decoded cursor encodes back to one that decodes to the same position.
func FuzzDecodeTimeCursor(f *testing.F) {
	f.Add(encodeTimeCursor("5ccdd7bccfbc5955e2e40166dd0cdea0b093154fd87bc2bea57e7c768cde2f21", time.Date(2024, 5, 1, 12, 0, 0, 123456000, time.UTC)))
	f.Add(encodeTimeCursor("QmWhatever", time.Unix(1700000000, 0)))
	f.Add("")
	f.Add("eyJoIjoiYSIsInQiOiIyMDI0LTAxLTAxVDAwOjAwOjAwKzAwOjAwIn0")
	f.Add("!!")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeTimeCursor(s)
		if err != nil {
			if err.Param != "cursor" || err.Status != 422 {
				t.Fatalf("error %+v", err)
			}
			return
		}
		if c == nil {
			if s != "" {
				t.Fatalf("nil cursor for %q", s)
			}
			return
		}
		if c.Time.Year() < 0 || c.Time.Year() > 9999 {
			return // outside what isoformat writes
		}
		again, err := decodeTimeCursor(encodeTimeCursor(c.Hash, c.Time))
		if err != nil || again.Hash != c.Hash || !again.Time.Equal(c.Time.Truncate(time.Microsecond)) {
			t.Fatalf("round trip of %+v: %+v, %v", c, again, err)
		}
	})
}

// FuzzMessageListParams: any query string parses into a query or a 4xx
// error; never a panic, never a page size over the maximum.
func FuzzMessageListParams(f *testing.F) {
	for _, s := range []string{
		"", "msgTypes=POST&addresses=0xa,0xb&pagination=0", "msgStatuses=forgotten&tags=a", "cursor=&pagination=500",
		"startDate=1.5e9&endDate=abc", "contentKeys=profile", "sort_by=tx-time&sort_order=1&start_block=4",
		"hashes=" + "ab" + "cd", "page=0", "contentFormat=headers&excludeContent=1",
	} {
		f.Add(s)
	}
	a := &API{cfg: Config{}}
	if err := a.cfg.Validate(); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		r := httptest.NewRequest("GET", "/api/v0/messages.json", nil)
		r.URL.RawQuery = q.Encode()
		lq, perr := a.parseMessageList(r)
		if perr != nil {
			e, ok := perr.(*Error)
			if !ok || e.Status < 400 || e.Status > 499 {
				t.Fatalf("error %v", perr)
			}
			return
		}
		if lq.paging.perPage < 1 || lq.paging.perPage > a.cfg.MaxPageSize {
			t.Fatalf("page size %d", lq.paging.perPage)
		}
	})
}

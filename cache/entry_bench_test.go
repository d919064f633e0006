package cache_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/alephql/alephql/cache"
)

// benchValue is an answer like a messages.json page of 20 posts (about
// 20 KiB of JSON).
func benchValue() []byte {
	var b strings.Builder
	b.WriteString(`{"messages":[`)
	for i := range 20 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"item_hash":"%064x","type":"POST","chain":"ETH","sender":"0x%040x","channel":"TEST","time":1700000000.%d,"item_type":"inline","item_content":"{\"type\":\"test\",\"address\":\"0x%040x\",\"content\":{\"body\":\"%s\"},\"time\":1700000000.1}","content":{"type":"test","address":"0x%040x","content":{"body":"%s"},"time":1700000000.1},"signature":"0x%0130x","confirmed":false,"confirmations":[]}`,
			i, i, i, i, strings.Repeat("lorem ipsum ", 40), i, strings.Repeat("lorem ipsum ", 40), i)
	}
	b.WriteString(`],"pagination_per_page":20,"pagination_page":1,"pagination_total":1000,"pagination_item":"messages"}`)
	return []byte(b.String())
}

// BenchmarkEntryDecode reads a cached answer back: "json" is the former
// encoding (encoding/json of Entry, which scans the whole value), the
// baseline of the same run; "binary" is Encode/DecodeEntry.
func BenchmarkEntryDecode(b *testing.B) {
	e := cache.Entry{Seq: 123456, Start: 1700000000000000000, Deps: []string{"ch:TEST"}, Value: benchValue()}
	js, err := json.Marshal(e)
	if err != nil {
		b.Fatal(err)
	}
	bin, err := e.Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("json", func(b *testing.B) {
		b.SetBytes(int64(len(js)))
		for b.Loop() {
			var got cache.Entry
			if err := json.Unmarshal(js, &got); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("binary", func(b *testing.B) {
		b.SetBytes(int64(len(bin)))
		for b.Loop() {
			if _, err := cache.DecodeEntry(bin); err != nil {
				b.Fatal(err)
			}
		}
	})
}

package rest

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNormalizedContent(t *testing.T) {
	tests := []struct {
		name, typ, in, want string
	}{
		{"post without ref or content", "POST", `{"address":"0xa","time":1,"type":"note"}`,
			`{"address":"0xa","time":1,"type":"note","content":null,"ref":null}`},
		{"post with both kept", "POST", `{"address":"0xa","time":1,"type":"amend","content":{"x":1},"ref":"h"}`,
			`{"address":"0xa","time":1,"type":"amend","content":{"x":1},"ref":"h"}`},
		{"store", "STORE", `{"address":"0xa","time":1,"item_type":"ipfs","item_hash":"Qm","size":5}`,
			`{"address":"0xa","time":1,"item_type":"ipfs","item_hash":"Qm","size":5,"content_type":null,"ref":null,"metadata":null,"payment":null,"tags":null}`},
		{"forget", "FORGET", `{"address":"0xa","time":1,"hashes":["h"]}`,
			`{"address":"0xa","time":1,"hashes":["h"],"aggregates":[],"reason":null}`},
		{"aggregate unchanged", "AGGREGATE", `{"address":"0xa","time":1,"key":"k","content":{}}`,
			`{"address":"0xa","time":1,"key":"k","content":{}}`},
		{"not an object", "POST", `[1]`, `[1]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := normalizedContent(tt.typ, json.RawMessage(tt.in))
			require.JSONEq(t, tt.want, string(got))
		})
	}
	require.Nil(t, normalizedContent("POST", nil))
}

package webui_test

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/webui"
)

func TestHandler(t *testing.T) {
	full := fstest.MapFS{"app.js": {Data: []byte("console.log(1)")}, "app.css": {Data: []byte("body{}")}}
	assets := map[string]string{"app.js": "pkg/app.js", "app.css": "pkg/app.css"}
	page := func(w io.Writer, ok bool) error {
		_, err := fmt.Fprintf(w, "page ok=%v", ok)
		return err
	}
	tests := []struct {
		name     string
		fs       fstest.MapFS
		pagePath string
		assetDir string
		method   string
		path     string
		status   int
		body     string
	}{
		{"page", full, "/docs", "/docs/", "GET", "/docs", 200, "page ok=true"},
		{"page with slash", full, "/docs", "/docs/", "GET", "/docs/", 200, "page ok=true"},
		{"root page", full, "/", "/", "GET", "/", 200, "page ok=true"},
		{"asset", full, "/docs", "/docs/", "GET", "/docs/app.js", 200, "console.log(1)"},
		{"asset at root", full, "/", "/", "GET", "/app.css", 200, "body{}"},
		{"head asset", full, "/docs", "/docs/", "HEAD", "/docs/app.js", 200, ""},
		{"unknown asset", full, "/docs", "/docs/", "GET", "/docs/other.js", 404, ""},
		{"asset outside its directory", full, "/docs", "/docs/", "GET", "/app.js", 404, ""},
		{"post", full, "/docs", "/docs/", "POST", "/docs", 405, ""},
		{"assets missing: page says so", fstest.MapFS{"app.js": full["app.js"]}, "/docs", "/docs/", "GET", "/docs", 200, "page ok=false"},
		{"assets missing: none served", fstest.MapFS{"app.js": full["app.js"]}, "/docs", "/docs/", "GET", "/docs/app.js", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := webui.Bundle{FS: tc.fs, Assets: assets}
			rec := httptest.NewRecorder()
			b.Handler(tc.pagePath, tc.assetDir, page).ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			require.Equal(t, tc.status, rec.Code)
			if tc.body != "" {
				require.Equal(t, tc.body, rec.Body.String())
			}
			if tc.status == 200 && tc.path != tc.pagePath && !strings.HasSuffix(tc.path, "/") {
				require.Equal(t, "public, max-age=86400", rec.Header().Get("Cache-Control"))
			}
			if tc.status == 405 {
				require.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
			}
		})
	}
}

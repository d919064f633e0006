// Package webui serves a browser page whose JavaScript and CSS come from the
// npm registry at build time (`make assets` copies them from node_modules
// into a package's dist/) and are embedded in the binary, so the page works
// with no internet access. GraphiQL (graph/graphiql) and the REST API's
// Swagger UI (rest/apidocs) are both served through it.
package webui

import (
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// Bundle is an embedded page's asset set.
type Bundle struct {
	// FS holds the assets at its root (a dist/ directory, via fs.Sub).
	FS fs.FS
	// Assets lists the files served, by name, with their source path under
	// node_modules (what `make assets` copies). Any other name is a 404.
	Assets map[string]string
}

// Available reports whether every asset was embedded at build time.
func (b Bundle) Available() bool {
	for name := range b.Assets {
		if _, err := fs.Stat(b.FS, name); err != nil {
			return false
		}
	}
	return true
}

// Page writes the page's HTML. ok reports whether the assets are embedded;
// without them a page should say how to build them and where the API still
// answers.
type Page func(w io.Writer, ok bool) error

// Handler serves the page at pagePath (with or without a trailing slash) and
// the bundle's assets under assetDir, which ends in "/". Only GET and HEAD
// are allowed.
func (b Bundle) Handler(pagePath, assetDir string, page Page) http.Handler {
	assets := http.StripPrefix(assetDir, http.FileServer(http.FS(b.FS)))
	ok := b.Available()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path != pagePath && strings.TrimSuffix(r.URL.Path, "/") != strings.TrimSuffix(pagePath, "/") {
			if _, known := b.Assets[path.Base(r.URL.Path)]; known && ok && strings.HasPrefix(r.URL.Path, assetDir) {
				w.Header().Set("Cache-Control", "public, max-age=86400")
				assets.ServeHTTP(w, r)
				return
			}
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = page(w, ok)
	})
}

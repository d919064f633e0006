// Package apidocs serves Swagger UI over the REST API's OpenAPI
// description with no internet access: its assets come from the npm
// registry at build time (`make assets` copies them from node_modules into
// dist/) and are embedded in the binary, as GraphiQL's are.
package apidocs

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed all:dist
var dist embed.FS

// Assets lists the files `make assets` copies into dist/, by source path
// under node_modules.
var Assets = map[string]string{
	"swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
	"swagger-ui.css":       "swagger-ui-dist/swagger-ui.css",
}

// Available reports whether the assets were embedded at build time.
func Available() bool {
	for name := range Assets {
		if _, err := fs.Stat(dist, path.Join("dist", name)); err != nil {
			return false
		}
	}
	return true
}

var page = template.Must(template.New("apidocs").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>alephql REST API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{{.Prefix}}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{{.Prefix}}/swagger-ui-bundle.js"></script>
<script>
  window.ui = SwaggerUIBundle({ url: new URL({{.Spec}}, window.location.href).href, dom_id: "#swagger-ui", deepLinking: true });
</script>
</body>
</html>
`))

var missing = `<!doctype html><meta charset="utf-8"><title>alephql</title>
<p>The API browser's assets were not embedded in this build. Build with <code>make build</code>, which installs them
from the npm registry. The OpenAPI description is served regardless at <a href="%[1]s">%[1]s</a>.</p>`

// Handler serves the page at prefix (e.g. /api/docs) and its assets under
// prefix/. spec is the OpenAPI document's path.
func Handler(prefix, spec string) http.Handler {
	sub, _ := fs.Sub(dist, "dist")
	assets := http.StripPrefix(prefix+"/", http.FileServer(http.FS(sub)))
	ok := Available()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if p := strings.TrimSuffix(r.URL.Path, "/"); p != prefix {
			if _, known := Assets[path.Base(r.URL.Path)]; known && ok {
				w.Header().Set("Cache-Control", "public, max-age=86400")
				assets.ServeHTTP(w, r)
				return
			}
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if !ok {
			_, _ = fmt.Fprintf(w, missing, template.HTMLEscapeString(spec))
			return
		}
		_ = page.Execute(w, map[string]string{"Prefix": prefix, "Spec": spec})
	})
}

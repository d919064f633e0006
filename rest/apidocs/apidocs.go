// Package apidocs serves Swagger UI over the REST API's OpenAPI
// description with no internet access: its assets come from the npm
// registry at build time (`make assets` copies them from node_modules into
// dist/) and are embedded in the binary, as GraphiQL's are.
package apidocs

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"

	"github.com/alephql/alephql/webui"
)

//go:embed all:dist
var dist embed.FS

// Assets lists the files `make assets` copies into dist/, by source path
// under node_modules.
var Assets = map[string]string{
	"swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
	"swagger-ui.css":       "swagger-ui-dist/swagger-ui.css",
}

var bundle = func() webui.Bundle {
	sub, _ := fs.Sub(dist, "dist")
	return webui.Bundle{FS: sub, Assets: Assets}
}()

// Available reports whether the assets were embedded at build time.
func Available() bool { return bundle.Available() }

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
	return bundle.Handler(prefix, prefix+"/", func(w io.Writer, ok bool) error {
		if !ok {
			_, err := fmt.Fprintf(w, missing, template.HTMLEscapeString(spec))
			return err
		}
		return page.Execute(w, map[string]string{"Prefix": prefix, "Spec": spec})
	})
}

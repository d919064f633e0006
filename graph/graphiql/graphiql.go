// Package graphiql serves the GraphiQL IDE with no internet access: its
// assets come from the npm registry at build time (`make assets` copies
// them from node_modules into dist/) and are embedded in the binary.
package graphiql

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
	"react.production.min.js":     "react/umd/react.production.min.js",
	"react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
	"graphiql.min.js":             "graphiql/graphiql.min.js",
	"graphiql.min.css":            "graphiql/graphiql.min.css",
}

var bundle = func() webui.Bundle {
	sub, _ := fs.Sub(dist, "dist")
	return webui.Bundle{FS: sub, Assets: Assets}
}()

// Available reports whether the assets were embedded at build time.
func Available() bool { return bundle.Available() }

var page = template.Must(template.New("graphiql").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>alephql GraphiQL</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{{.Prefix}}graphiql.min.css">
<style>html, body, #graphiql { height: 100%; margin: 0; }</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script src="{{.Prefix}}react.production.min.js"></script>
<script src="{{.Prefix}}react-dom.production.min.js"></script>
<script src="{{.Prefix}}graphiql.min.js"></script>
<script>
  const url = new URL({{.Endpoint}}, window.location.href);
  const wsUrl = url.href.replace(/^http/, "ws");
  const fetcher = GraphiQL.createFetcher({ url: url.href, subscriptionUrl: wsUrl });
  const defaultQuery = {{.DefaultQuery}};
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, { fetcher, defaultQuery, defaultEditorToolsVisibility: true })
  );
</script>
</body>
</html>
`))

var missing = `<!doctype html><meta charset="utf-8"><title>alephql</title>
<p>GraphiQL assets were not embedded in this build. Build with <code>make build</code> (or <code>make run</code>),
which installs them from the npm registry. The GraphQL endpoint works regardless: POST queries to <code>%s</code>.</p>`

// DefaultQuery is the query GraphiQL opens with.
const DefaultQuery = `# Welcome to alephql. Try:
query LatestMessages {
  messages(first: 10) {
    totalCount
    edges {
      cursor
      node { id type chain sender channel time }
    }
    pageInfo { hasNextPage endCursor }
  }
}
`

// Handler serves the GraphiQL page at prefix and its assets under it.
// endpoint is the GraphQL endpoint's path.
func Handler(prefix, endpoint string) http.Handler {
	return bundle.Handler(prefix, prefix, func(w io.Writer, ok bool) error {
		if !ok {
			_, err := fmt.Fprintf(w, missing, template.HTMLEscapeString(endpoint))
			return err
		}
		return page.Execute(w, map[string]string{"Prefix": prefix, "Endpoint": endpoint, "DefaultQuery": DefaultQuery})
	})
}

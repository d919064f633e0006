package rest_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/read"
	"github.com/alephql/alephql/rest"
	"github.com/alephql/alephql/rest/apidocs"
	"github.com/alephql/alephql/rest/storage"
)

// TestOpenAPIDescribesEveryRoute: the document served at
// /api/openapi.json has one operation per registered route (this
// package's and rest/storage's) and none more; each path parameter is
// declared.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	db := sqliteDB(t)
	n := newNode(t, db, rest.Config{})
	reader, err := read.New(read.Config{}, db.Client)
	require.NoError(t, err)
	api, err := rest.New(rest.Config{}, reader, nil, nil, dbtest.Logger())
	require.NoError(t, err)
	st, err := storage.New(storage.Config{}, nil, nil, dbtest.Logger())
	require.NoError(t, err)
	var registered []string
	for p := range api.Routes() {
		if !strings.HasPrefix(p, "OPTIONS ") {
			registered = append(registered, p)
		}
	}
	for p := range st.Routes() {
		registered = append(registered, p)
	}
	sort.Strings(registered)

	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	require.Equal(t, http.StatusOK, n.get("/api/openapi.json", &doc))
	require.Equal(t, "3.0.3", doc.OpenAPI)
	var described []string
	wild := regexp.MustCompile(`\{([^}]+)\}`)
	for path, ops := range doc.Paths {
		for method, op := range ops {
			pattern := op["x-pattern"].(string)
			require.True(t, strings.HasPrefix(pattern, strings.ToUpper(method)+" "), "%s %s", method, path)
			described = append(described, pattern)
			declared := map[string]bool{}
			if ps, ok := op["parameters"].([]any); ok {
				for _, p := range ps {
					if pm := p.(map[string]any); pm["in"] == "path" {
						declared[pm["name"].(string)] = true
					}
				}
			}
			for _, m := range wild.FindAllStringSubmatch(path, -1) {
				require.True(t, declared[m[1]], "%s %s declares {%s}", method, path, m[1])
			}
			require.NotEmpty(t, op["summary"], pattern)
		}
	}
	sort.Strings(described)
	require.Equal(t, registered, described)
}

// TestAPIDocsServedOffline: /api/docs serves Swagger UI, every asset from
// this server.
func TestAPIDocsServedOffline(t *testing.T) {
	if !apidocs.Available() {
		if os.Getenv("ALEPHQL_REQUIRE_ASSETS") != "" {
			t.Fatal("Swagger UI assets are not embedded: make test builds them with make assets")
		}
		t.Skip("assets not built; make test always builds them")
	}
	n := newNode(t, sqliteDB(t), rest.Config{})
	res, err := http.Get(n.url + "/api/docs")
	require.NoError(t, err)
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(page), "/api/openapi.json")
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(string(page), -1)
	require.Len(t, refs, len(apidocs.Assets))
	for _, r := range refs {
		require.NotRegexp(t, `^[a-z]+://`, r[1], "external asset")
		res, err := http.Get(n.url + r[1])
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode, r[1])
		require.Greater(t, len(b), 1000, r[1])
	}
	res, err = http.Get(n.url + "/api/docs/nothing.js")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusNotFound, res.StatusCode)
}

// sqliteDB is a fresh SQLite database: these tests read no data.
func sqliteDB(t *testing.T) *database.DB {
	t.Helper()
	return dbtest.Open(t, filepath.Join(t.TempDir(), "alephql.db"))
}

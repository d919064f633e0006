package graphiql_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/graph/graphiql"
)

func TestPageAndAssetsAreServedLocally(t *testing.T) {
	if !graphiql.Available() {
		if os.Getenv("ALEPHQL_REQUIRE_ASSETS") != "" {
			t.Fatal("GraphiQL assets are not embedded: make test builds them with make assets")
		}
		t.Skip("assets not built; make test always builds them")
	}
	srv := httptest.NewServer(graphiql.Handler("/", "/graphql"))
	defer srv.Close()

	res, err := http.Get(srv.URL + "/")
	require.NoError(t, err)
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	// Every script and stylesheet comes from this server: GraphiQL works
	// with no internet access.
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(string(page), -1)
	require.Len(t, refs, len(graphiql.Assets))
	for _, r := range refs {
		require.NotRegexp(t, `^[a-z]+://`, r[1], "external asset")
		res, err := http.Get(srv.URL + r[1])
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode, r[1])
		require.Greater(t, len(b), 1000, r[1])
	}

	res, err = http.Get(srv.URL + "/nothing.js")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusNotFound, res.StatusCode)

	res, err = http.Post(srv.URL+"/", "text/plain", nil)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)
}

package chains

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// conformanceEnv overrides the location of the shared conformance messages.
const conformanceEnv = "ALEPHQL_CONFORMANCE_DIR"

// conformanceDir returns the directory of real Aleph messages: $ALEPHQL_CONFORMANCE_DIR,
// or ../shared/conformance next to the module root. The test fails when it is
// missing: CI has it, and a silent skip would hide lost coverage.
func conformanceDir(tb testing.TB) string {
	tb.Helper()
	if dir := os.Getenv(conformanceEnv); dir != "" {
		require.DirExists(tb, dir, "%s", conformanceEnv)
		return dir
	}
	dir, err := os.Getwd()
	require.NoError(tb, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		require.NotEqual(tb, dir, parent, "no go.mod above the working directory")
		dir = parent
	}
	conf := filepath.Join(dir, "..", "shared", "conformance")
	require.DirExists(tb, conf, "conformance messages (set %s to override)", conformanceEnv)
	return conf
}

// fixture is one signed message found in the conformance files.
type fixture struct {
	Name  string // file and JSON path, for test names
	Msg   Signed
	Valid bool // the expected verdict on its signature
}

// fixtureMessage is the part of a message JSON the verifiers need.
type fixtureMessage struct {
	Chain        string          `json:"chain"`
	Sender       string          `json:"sender"`
	Type         string          `json:"type"`
	ItemHash     string          `json:"item_hash"`
	Signature    *string         `json:"signature"`
	Time         any             `json:"time"` // a number, or a date string in some API shapes
	Verification json.RawMessage `json:"_verification"`
}

// fileVerdicts gives the expected signature verdict of every message of the
// files that carry no per-message _verification (conformance README). The
// aleph-message content-shape examples and the API's program.json have no
// item_hash, so they are not signature vectors and are not loaded at all.
var fileVerdicts = map[string]bool{
	"aleph-message__instance_content.json":                                      true,
	"pyaleph__api__fixtures__fixture_aggregates.json":                           true,
	"pyaleph__api__fixtures__fixture_messages.json":                             true,
	"pyaleph__api__fixtures__fixture_posts.json":                                true,
	"pyaleph__api__fixtures__test-metric.json":                                  true,
	"pyaleph__message_processing__fixtures__test-data-aggregates.json":          true,
	"pyaleph__message_processing__fixtures__test-data-forgotten-messages.json":  true,
	"pyaleph__message_processing__fixtures__test-data-pending-messaging.json":   true,
	"pyaleph__message_processing__fixtures__test-data-pending-tx-messages.json": true,
	"pyaleph__message_processing__fixtures__test-data-posts.json":               true,
}

// loadFixtures returns every signed message of the conformance files whose
// chain is accepted by keep, sorted by name.
func loadFixtures(tb testing.TB, keep func(Chain) bool) []fixture {
	tb.Helper()
	dir := conformanceDir(tb)
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	require.NoError(tb, err)
	require.NotEmpty(tb, files)
	var out []fixture
	for _, file := range files {
		base := filepath.Base(file)
		data, err := os.ReadFile(file)
		require.NoError(tb, err)
		var doc any
		require.NoError(tb, json.Unmarshal(data, &doc), base)
		walkMessages(doc, base, func(name string, raw []byte) {
			var m fixtureMessage
			require.NoError(tb, json.Unmarshal(raw, &m), name)
			if m.Signature == nil || !keep(Chain(m.Chain)) {
				return
			}
			t, _ := m.Time.(float64)
			valid, err := expectedVerdict(base, m.Verification)
			require.NoError(tb, err, name)
			out = append(out, fixture{
				Name: name,
				Msg: Signed{
					Chain: Chain(m.Chain), Sender: m.Sender, Type: m.Type,
					ItemHash: m.ItemHash, Signature: *m.Signature, Time: t,
				},
				Valid: valid,
			})
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// walkMessages calls fn with the JSON of every object in doc that looks like
// a message (it has chain, sender, type and item_hash).
func walkMessages(doc any, path string, fn func(name string, raw []byte)) {
	switch v := doc.(type) {
	case map[string]any:
		_, c := v["chain"]
		_, s := v["sender"]
		_, t := v["type"]
		_, h := v["item_hash"]
		if c && s && t && h {
			raw, err := json.Marshal(v)
			if err == nil {
				fn(path, raw)
			}
			return
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			walkMessages(v[k], path+"/"+k, fn)
		}
	case []any:
		for i, e := range v {
			walkMessages(e, fmt.Sprintf("%s/%d", path, i), fn)
		}
	}
}

// expectedVerdict reads a message's expected signature verdict: its
// _verification.signature ("VALID…" or a reason it is not), else the verdict
// of its whole file.
func expectedVerdict(file string, verification json.RawMessage) (bool, error) {
	if len(verification) > 0 {
		var v struct {
			Signature string `json:"signature"`
		}
		if err := json.Unmarshal(verification, &v); err != nil {
			return false, fmt.Errorf("decode _verification: %w", err)
		}
		return strings.HasPrefix(v.Signature, "VALID"), nil
	}
	valid, ok := fileVerdicts[file]
	if !ok {
		return false, errors.New("no expected verdict for file " + file)
	}
	return valid, nil
}

// myChains selects the chains whose verifiers this helper's files implement.
func myChains(c Chain) bool {
	switch c {
	case SOL, ES, CSDK, AVAX, NULS2:
		return true
	}
	return IsEVM(c)
}

func TestConformanceSignatures(t *testing.T) {
	fixtures := loadFixtures(t, myChains)
	counts := map[Chain][2]int{}
	for _, fx := range fixtures {
		t.Run(fx.Name, func(t *testing.T) {
			err := Verify(fx.Msg)
			if fx.Valid {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ErrInvalidSignature)
			}
		})
		c := counts[fx.Msg.Chain]
		if fx.Valid {
			c[0]++
		} else {
			c[1]++
		}
		counts[fx.Msg.Chain] = c
	}
	for _, c := range []Chain{ETH, SOL, CSDK, AVAX, NULS2} {
		require.NotZero(t, counts[c][0], "no valid %s fixture", c)
		t.Logf("%s: %d valid, %d invalid fixtures", c, counts[c][0], counts[c][1])
	}
}

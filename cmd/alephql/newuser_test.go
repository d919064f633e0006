package main

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/processor/demo"
)

// Tests for the bugs found by testing as a new user would (issue 14).

// eachBackend runs f once per database back-end with the --db flag of a
// fresh database.
func eachBackend(t *testing.T, f func(t *testing.T, db []string)) {
	for _, b := range dbtest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			f(t, []string{"--data-dir", t.TempDir(), "--db", b.URL(t), "--log-level", "warn"})
		})
	}
}

// submitResult returns data.submitMessage, requiring no errors.
func submitResult(t *testing.T, out map[string]any) map[string]any {
	t.Helper()
	require.Nil(t, out["errors"], out)
	return out["data"].(map[string]any)["submitMessage"].(map[string]any)
}

// firstErrorExtensions returns the extensions of the answer's only error.
func firstErrorExtensions(t *testing.T, out map[string]any) map[string]any {
	t.Helper()
	errs, _ := out["errors"].([]any)
	require.Len(t, errs, 1, out)
	ext, _ := errs[0].(map[string]any)["extensions"].(map[string]any)
	require.NotNil(t, ext, out)
	return ext
}

const submitSyncQ = `mutation($m: JSON!) { submitMessage(message: $m, sync: true) { hash status rejection { errorCode errorName } } }`

func TestSubmitSyncAnswersPendingBeforeTheRequestTimeout(t *testing.T) {
	// An amend sent before its original waits: submitMessage(sync: true)
	// answers PENDING when its wait ends, well before the request
	// timeout, instead of the TIMEOUT error.
	eachBackend(t, func(t *testing.T, db []string) {
		base, stop := startServe(t, append(db, "--graphql-request-timeout", "3s")...)
		a, err := demo.NewAccount()
		require.NoError(t, err)
		_, oh, err := a.Post(1_700_000_000, "TEST", "note", map[string]any{"v": 0}, "")
		require.NoError(t, err)
		amend, ah, err := a.Amend(1_700_000_010, "TEST", oh, map[string]any{"v": 1})
		require.NoError(t, err)
		start := time.Now()
		res := submitResult(t, gql(t, base, submitSyncQ, map[string]any{"m": json.RawMessage(amend)}))
		require.Less(t, time.Since(start), 3*time.Second)
		require.Equal(t, ah, res["hash"])
		require.Equal(t, "PENDING", res["status"])
		require.Equal(t, 0, stop())
	})
}

func TestRejectionNamesItsErrorCode(t *testing.T) {
	// A rejection carries the protocol name of its code.
	eachBackend(t, func(t *testing.T, db []string) {
		base, stop := startServe(t, db...)
		alice, err := demo.NewAccount()
		require.NoError(t, err)
		bob, err := demo.NewAccount()
		require.NoError(t, err)
		raw, _, err := alice.ForOwner(bob.Address(), demo.Msg{Type: "POST", Channel: "TEST", Time: 1_700_000_000,
			Content: map[string]any{"type": "note", "content": map[string]any{"v": 1}}})
		require.NoError(t, err)
		res := submitResult(t, gql(t, base, submitSyncQ, map[string]any{"m": json.RawMessage(raw)}))
		require.Equal(t, "REJECTED", res["status"], res)
		rej := res["rejection"].(map[string]any)
		require.EqualValues(t, 2, rej["errorCode"])
		require.Equal(t, "PERMISSION_DENIED", rej["errorName"])
		require.Equal(t, 0, stop())
	})
}

func TestSubmitRefusesInvalidMessagesByOneRule(t *testing.T) {
	// Every message invalid by itself is an INVALID_MESSAGE error with
	// the protocol's code and name, sync or not; none is queued.
	a, err := demo.NewAccount()
	require.NoError(t, err)
	good, _, err := a.Post(1_700_000_000, "TEST", "note", map[string]any{"v": 0}, "")
	require.NoError(t, err)
	edit := func(f func(m map[string]any)) json.RawMessage {
		var m map[string]any
		require.NoError(t, json.Unmarshal(good, &m))
		f(m)
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return b
	}
	cases := []struct {
		name     string
		msg      json.RawMessage
		code     int
		codeName string
	}{
		{"wrong item hash", edit(func(m map[string]any) {
			// Change the first two digits (the account is random: the hash
			// may already start with "00").
			h := m["item_hash"].(string)
			p := "00"
			if strings.HasPrefix(h, p) {
				p = "ff"
			}
			m["item_hash"] = p + h[2:]
		}), 0, "INVALID_FORMAT"},
		{"NUL in content", edit(func(m map[string]any) {
			m["item_content"] = strings.Replace(m["item_content"].(string), `"v":0`, `"v":"\u0000"`, 1)
		}), 0, "INVALID_FORMAT"},
		{"bad signature", edit(func(m map[string]any) {
			s := m["signature"].(string)
			m["signature"] = s[:10] + strings.Map(func(r rune) rune {
				if r == 'a' {
					return 'b'
				}
				return 'a'
			}, s[10:20]) + s[20:]
		}), 1, "INVALID_SIGNATURE"},
		{"not an object", json.RawMessage(`[1,2]`), 0, "INVALID_FORMAT"},
	}
	eachBackend(t, func(t *testing.T, db []string) {
		base, stop := startServe(t, db...)
		for _, tc := range cases {
			for _, sync := range []bool{false, true} {
				out := gql(t, base, `mutation($m: JSON!, $s: Boolean) { submitMessage(message: $m, sync: $s) { hash status } }`,
					map[string]any{"m": tc.msg, "s": sync})
				ext := firstErrorExtensions(t, out)
				require.Equal(t, "INVALID_MESSAGE", ext["code"], "%s: %v", tc.name, out)
				require.EqualValues(t, tc.code, ext["errorCode"], tc.name)
				require.Equal(t, tc.codeName, ext["errorName"], tc.name)
			}
		}
		out := gql(t, base, `{ messages(first: 5) { edges { node { hash } } } }`, nil)
		require.Nil(t, out["errors"], out)
		require.Empty(t, out["data"].(map[string]any)["messages"].(map[string]any)["edges"], "nothing was processed")
		require.Equal(t, 0, stop())
	})
}

func TestBadRequestBodiesGetClientCodes(t *testing.T) {
	// A body that is not a GraphQL request is the client's error, with a
	// code in every case.
	base, stop := startServe(t, "--data-dir", t.TempDir(), "--log-level", "warn")
	cases := []struct {
		name, contentType, body string
		status                  int
		code                    string
	}{
		{"empty", "application/json", "", 400, "BAD_REQUEST"},
		{"truncated", "application/json", `{"query": "{ messages { edges`, 400, "BAD_REQUEST"},
		{"not json", "application/json", "not json", 400, "BAD_REQUEST"},
		{"array", "application/json", "[1,2]", 400, "BAD_REQUEST"},
		{"text/plain", "text/plain", `{"query":"{ __typename }"}`, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"no content type", "", `{"query":"{ __typename }"}`, 415, "UNSUPPORTED_MEDIA_TYPE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, base+"graphql", strings.NewReader(tc.body))
			require.NoError(t, err)
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, tc.status, resp.StatusCode, "%s", body)
			var out map[string]any
			require.NoError(t, json.Unmarshal(body, &out), "%s", body)
			require.Equal(t, tc.code, firstErrorExtensions(t, out)["code"])
		})
	}
	require.Equal(t, 0, stop())
}

func TestLiveEventFreshnessIsNotOlderThanTheEvent(t *testing.T) {
	// extensions.freshness.lastEventSeq of a live event is at least the
	// event's own sequence number.
	eachBackend(t, func(t *testing.T, db []string) {
		base, stop := startServe(t, db...)
		sub := subscribeWS(t, base, `subscription { messages { seq } }`, nil)
		// A subscription without `after` starts live where the hub is when
		// it registers: submit only once it has.
		require.Eventually(t, func() bool {
			res, err := http.Get(base + "metrics")
			if err != nil {
				return false
			}
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			return err == nil && regexp.MustCompile(`(?m)^alephql_graphql_subscriptions [1-9]`).Match(b)
		}, 10*time.Second, 10*time.Millisecond, "the subscription never registered")
		a, err := demo.NewAccount()
		require.NoError(t, err)
		const q = `mutation($m: JSON!) { submitMessage(message: $m) { hash } }`
		for i := range 5 {
			raw, _, err := a.Post(float64(1_700_000_000+i), "TEST", "note", map[string]any{"v": i}, "")
			require.NoError(t, err)
			submitResult(t, gql(t, base, q, map[string]any{"m": json.RawMessage(raw)}))
		}
		for range 10 { // pending and processed of each
			var p struct {
				Data struct {
					Messages struct{ Seq int64 } `json:"messages"`
				} `json:"data"`
				Extensions struct {
					Freshness struct{ LastEventSeq int64 } `json:"freshness"`
				} `json:"extensions"`
			}
			select {
			case raw, ok := <-sub:
				require.True(t, ok)
				require.NoError(t, json.Unmarshal(raw, &p), "%s", raw)
				require.NotZero(t, p.Data.Messages.Seq, "%s", raw)
				require.GreaterOrEqual(t, p.Extensions.Freshness.LastEventSeq, p.Data.Messages.Seq, "%s", raw)
			case <-time.After(10 * time.Second):
				t.Fatal("no event within 10s")
			}
		}
		require.Equal(t, 0, stop())
	})
}

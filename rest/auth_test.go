package rest_test

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/rest"
)

// TestVerifyAuthToken: the reference node's admin token holds for its key
// within the age bound either side of now, and nothing else.
func TestVerifyAuthToken(t *testing.T) {
	key, err := secp256k1.GeneratePrivateKey()
	require.NoError(t, err)
	other, err := secp256k1.GeneratePrivateKey()
	require.NoError(t, err)
	now := time.Unix(1_780_000_000, 0)
	for _, tc := range []struct {
		name  string
		token string
		ok    bool
	}{
		{"fresh", rest.AuthToken(key, now), true},
		{"299 s old", rest.AuthToken(key, now.Add(-299*time.Second)), true},
		{"301 s old", rest.AuthToken(key, now.Add(-301*time.Second)), false},
		{"from the future", rest.AuthToken(key, now.Add(301*time.Second)), false},
		{"another key", rest.AuthToken(other, now), false},
		{"not base64", "%%%", false},
		{"no signature", base64.StdEncoding.EncodeToString([]byte("1780000000")), false},
		{"bad signature", base64.StdEncoding.EncodeToString([]byte("1780000000:AAAA")), false},
		{"other time signed", base64.StdEncoding.EncodeToString([]byte("1780000001:" + sigOf(t, rest.AuthToken(key, now)))), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.ok, rest.VerifyAuthToken(tc.token, key.PubKey(), 300*time.Second, now))
		})
	}
}

// sigOf is the signature part of a token.
func sigOf(t *testing.T, tok string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(tok)
	require.NoError(t, err)
	for i, c := range raw {
		if c == ':' {
			return string(raw[i+1:])
		}
	}
	t.Fatal("no signature")
	return ""
}

// FuzzVerifyAuthToken: any X-Auth-Token header is judged without a
// panic.
func FuzzVerifyAuthToken(f *testing.F) {
	seed := make([]byte, 32)
	seed[31] = 7
	key := secp256k1.PrivKeyFromBytes(seed)
	now := time.Unix(1_780_000_000, 0)
	f.Add(rest.AuthToken(key, now))
	f.Add(base64.StdEncoding.EncodeToString([]byte("1780000000:MEQCIA==")))
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		_ = rest.VerifyAuthToken(tok, key.PubKey(), 300*time.Second, now)
	})
}

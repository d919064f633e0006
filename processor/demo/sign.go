// Package demo makes real signed Aleph messages: for tests, the sample
// dataset a new node loads, `alephql demo` and the ingestion benchmark.
package demo

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/alephql/alephql/chains"
)

// Account signs messages as one Ethereum key.
type Account struct {
	Signer chains.Signer
}

// NewAccount generates a fresh key.
func NewAccount() (*Account, error) {
	s, err := chains.GenerateEthereumSigner()
	if err != nil {
		return nil, fmt.Errorf("demo: generate key: %w", err)
	}
	return &Account{Signer: s}, nil
}

// Address is the account's address.
func (a *Account) Address() string { return a.Signer.Address() }

// Msg describes a message to sign.
type Msg struct {
	Type    string
	Channel string
	Time    float64
	// Content is the content object; "address" and "time" are added
	// when missing (address = the account, time = Time).
	Content map[string]any
}

// Sign returns the wire JSON of a signed inline message.
func (a *Account) Sign(m Msg) ([]byte, string, error) {
	raw, hash, _, err := a.sign(m, false)
	return raw, hash, err
}

// SignStorage returns the wire JSON of a signed "storage" message (its
// content is fetched by hash) and the content bytes to serve for it.
func (a *Account) SignStorage(m Msg) ([]byte, string, []byte, error) {
	return a.sign(m, true)
}

// sign builds and signs a message, inline or by storage hash.
func (a *Account) sign(m Msg, storage bool) ([]byte, string, []byte, error) {
	c := make(map[string]any, len(m.Content)+2)
	for k, v := range m.Content {
		c[k] = v
	}
	if _, ok := c["address"]; !ok {
		c["address"] = a.Address()
	}
	if _, ok := c["time"]; !ok {
		c["time"] = m.Time
	}
	ic, err := json.Marshal(c)
	if err != nil {
		return nil, "", nil, fmt.Errorf("demo: content: %w", err)
	}
	sum := sha256.Sum256(ic)
	hash := hex.EncodeToString(sum[:])
	s := chains.Signed{Type: m.Type, ItemHash: hash, Time: m.Time}
	if err := chains.Sign(a.Signer, &s); err != nil {
		return nil, "", nil, fmt.Errorf("demo: sign: %w", err)
	}
	w := map[string]any{
		"chain": s.Chain, "sender": s.Sender, "type": m.Type, "item_hash": hash,
		"item_type": "inline", "item_content": string(ic), "signature": s.Signature, "time": m.Time,
	}
	if storage {
		w["item_type"] = "storage"
		delete(w, "item_content")
	}
	if m.Channel != "" {
		w["channel"] = m.Channel
	}
	raw, err := json.Marshal(w)
	if err != nil {
		return nil, "", nil, fmt.Errorf("demo: wire: %w", err)
	}
	return raw, hash, ic, nil
}

// Post signs a POST.
func (a *Account) Post(t float64, channel, postType string, content any, ref string) ([]byte, string, error) {
	c := map[string]any{"type": postType, "content": content}
	if ref != "" {
		c["ref"] = ref
	}
	return a.Sign(Msg{Type: "POST", Channel: channel, Time: t, Content: c})
}

// Amend signs an amend of a post.
func (a *Account) Amend(t float64, channel, ref string, content any) ([]byte, string, error) {
	return a.Post(t, channel, "amend", content, ref)
}

// Aggregate signs an AGGREGATE update of key.
func (a *Account) Aggregate(t float64, channel, key string, content map[string]any) ([]byte, string, error) {
	return a.Sign(Msg{Type: "AGGREGATE", Channel: channel, Time: t, Content: map[string]any{"key": key, "content": content}})
}

// Forget signs a FORGET of hashes.
func (a *Account) Forget(t float64, channel string, hashes ...string) ([]byte, string, error) {
	return a.Sign(Msg{Type: "FORGET", Channel: channel, Time: t, Content: map[string]any{"hashes": hashes}})
}

// ForOwner signs a message acting for another owner (a delegation).
func (a *Account) ForOwner(owner string, m Msg) ([]byte, string, error) {
	if m.Content == nil {
		m.Content = map[string]any{}
	}
	m.Content["address"] = owner
	return a.Sign(m)
}

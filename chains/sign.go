package chains

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
)

// Signer signs messages as one account, producing signature strings that
// Verify accepts. Tests and tools use it to make messages; a node never
// signs other people's messages.
type Signer interface {
	// Chain is the chain the signer signs for by default.
	Chain() Chain
	// Address is the account's sender string.
	Address() string
	// Sign returns the signature field for s, over s.Buffer() as it is:
	// s.Chain and s.Sender must already be set.
	Sign(s Signed) (string, error)
}

// Sign fills s.Signature with signer's signature, first setting s.Chain to
// signer.Chain() and s.Sender to signer.Address() when they are empty.
func Sign(signer Signer, s *Signed) error {
	if s.Chain == "" {
		s.Chain = signer.Chain()
	}
	if s.Sender == "" {
		s.Sender = signer.Address()
	}
	sig, err := signer.Sign(*s)
	if err != nil {
		return fmt.Errorf("sign %s message: %w", s.Chain, err)
	}
	s.Signature = sig
	return nil
}

// EthereumSigner signs EIP-191 personal_sign messages with a secp256k1 key,
// as wallets and the official TypeScript SDK do. It signs for ETH by
// default, and for any EVM chain set in Signed.Chain.
type EthereumSigner struct {
	key  *ecdsa.PrivateKey
	addr string
}

// NewEthereumSigner returns a signer for key.
func NewEthereumSigner(key *ecdsa.PrivateKey) (*EthereumSigner, error) {
	if key == nil || key.D == nil {
		return nil, errors.New("nil ethereum private key")
	}
	return &EthereumSigner{key: key, addr: crypto.PubkeyToAddress(key.PublicKey).Hex()}, nil
}

// GenerateEthereumSigner returns a signer for a new random key.
func GenerateEthereumSigner() (*EthereumSigner, error) {
	key, err := crypto.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("generate ethereum key: %w", err)
	}
	return NewEthereumSigner(key)
}

// Chain returns ETH.
func (e *EthereumSigner) Chain() Chain { return ETH }

// Address returns the account's EIP-55 checksummed address, the form the
// TypeScript SDK puts in the sender field.
func (e *EthereumSigner) Address() string { return e.addr }

// Sign returns "0x" + hex(r || s || v) with v 27 or 28.
func (e *EthereumSigner) Sign(s Signed) (string, error) {
	sig, err := crypto.Sign(accounts.TextHash(s.Buffer()), e.key)
	if err != nil {
		return "", fmt.Errorf("ecdsa sign: %w", err)
	}
	sig[64] += 27
	return hexutil.Encode(sig), nil
}

// SolanaSigner signs messages with an Ed25519 key, as Solana wallets do. It
// signs for SOL by default, and for ES when Signed.Chain says so.
type SolanaSigner struct {
	key  ed25519.PrivateKey
	addr string
}

// NewSolanaSigner returns a signer for key.
func NewSolanaSigner(key ed25519.PrivateKey) (*SolanaSigner, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("ed25519 private key is %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	pub, _ := key.Public().(ed25519.PublicKey)
	return &SolanaSigner{key: key, addr: base58Encode(pub)}, nil
}

// GenerateSolanaSigner returns a signer for a new random key.
func GenerateSolanaSigner() (*SolanaSigner, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ed25519 key: %w", err)
	}
	return NewSolanaSigner(key)
}

// Chain returns SOL.
func (o *SolanaSigner) Chain() Chain { return SOL }

// Address returns the base58 public key.
func (o *SolanaSigner) Address() string { return o.addr }

// Sign returns the JSON {"signature": base58, "publicKey": base58} that
// Solana messages carry.
func (o *SolanaSigner) Sign(s Signed) (string, error) {
	b, err := json.Marshal(struct {
		Signature string `json:"signature"`
		PublicKey string `json:"publicKey"`
	}{base58Encode(ed25519.Sign(o.key, s.Buffer())), o.addr})
	if err != nil {
		return "", fmt.Errorf("encode solana signature: %w", err)
	}
	return string(b), nil
}

// Interface guards
var (
	_ Signer = (*EthereumSigner)(nil)
	_ Signer = (*SolanaSigner)(nil)
)

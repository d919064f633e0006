package chains

import (
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/stretchr/testify/require"
)

func TestEthereumSigner(t *testing.T) {
	// The private key of web3.js's documentation, with its known address.
	key, err := crypto.HexToECDSA("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
	require.NoError(t, err)
	signer, err := NewEthereumSigner(key)
	require.NoError(t, err)
	require.Equal(t, "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23", signer.Address(), "EIP-55 checksummed")
	require.Equal(t, ETH, signer.Chain())

	_, err = NewEthereumSigner(nil)
	require.Error(t, err)

	for _, c := range evmChains {
		t.Run(string(c), func(t *testing.T) {
			s := Signed{Chain: c, Type: "POST", ItemHash: strings.Repeat("9f", 32)}
			require.NoError(t, Sign(signer, &s))
			require.Equal(t, signer.Address(), s.Sender)
			require.Regexp(t, "^0x[0-9a-f]{128}(1b|1c)$", s.Signature)
			require.NoError(t, Verify(s))

			s.Chain = SOL
			require.Error(t, Verify(s), "a signature is bound to its chain")
		})
	}
}

func TestGenerateEthereumSigner(t *testing.T) {
	signer, err := GenerateEthereumSigner()
	require.NoError(t, err)
	require.True(t, common.IsHexAddress(signer.Address()))
	require.Equal(t, common.HexToAddress(signer.Address()).Hex(), signer.Address())

	// A preset sender (here lower case) is kept and still verifies.
	s := Signed{Sender: strings.ToLower(signer.Address()), Type: "AGGREGATE", ItemHash: "QmYULJoNGPDmoRq4WNWTDTUvJGJv1hosox8H6vVd1kCsY8"}
	require.NoError(t, Sign(signer, &s))
	require.Equal(t, ETH, s.Chain)
	require.Equal(t, strings.ToLower(signer.Address()), s.Sender)
	require.NoError(t, Verify(s))
}

func TestSolanaSigner(t *testing.T) {
	seed := make([]byte, ed25519.SeedSize)
	key := ed25519.NewKeyFromSeed(seed)
	signer, err := NewSolanaSigner(key)
	require.NoError(t, err)
	require.Equal(t, base58Encode(key.Public().(ed25519.PublicKey)), signer.Address())
	require.Equal(t, SOL, signer.Chain())

	_, err = NewSolanaSigner(key[:32])
	require.Error(t, err)

	generated, err := GenerateSolanaSigner()
	require.NoError(t, err)

	for _, sg := range []*SolanaSigner{signer, generated} {
		for _, c := range []Chain{SOL, ES} {
			t.Run(string(c)+"/"+sg.Address(), func(t *testing.T) {
				s := Signed{Chain: c, Type: "STORE", ItemHash: strings.Repeat("01", 32)}
				require.NoError(t, Sign(sg, &s))
				require.Equal(t, sg.Address(), s.Sender)
				var fields map[string]string
				require.NoError(t, json.Unmarshal([]byte(s.Signature), &fields))
				require.Equal(t, sg.Address(), fields["publicKey"])
				require.NoError(t, Verify(s))

				s.ItemHash = strings.Repeat("02", 32)
				require.ErrorIs(t, Verify(s), ErrInvalidSignature)
			})
		}
	}
}

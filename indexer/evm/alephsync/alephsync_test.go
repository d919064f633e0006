package alephsync_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/indexer/evm/alephsync"
)

const conformance = "../../../../shared/conformance/chains/"

// TestABIMatchesConformance checks the compiled contract's event topics
// and function selectors against the evm-abi vector, and its ABI against
// pyaleph's AlephSync ABI.
func TestABIMatchesConformance(t *testing.T) {
	raw, err := os.ReadFile(conformance + "vectors.json")
	require.NoError(t, err)
	var vectors []struct {
		Kind     string `json:"kind"`
		Expected struct {
			Topic0    map[string]string `json:"topic0"`
			Selectors map[string]string `json:"selectors"`
		} `json:"expected"`
	}
	require.NoError(t, json.Unmarshal(raw, &vectors))
	ours := alephsync.NewAlephSync().GetABI()
	n := 0
	for _, v := range vectors {
		if v.Kind != "evm-abi" {
			continue
		}
		n++
		for sig, topic := range v.Expected.Topic0 {
			found := false
			for _, ev := range ours.Events {
				if ev.Sig == sig {
					require.Equal(t, topic, ev.ID.Hex(), sig)
					found = true
				}
			}
			require.True(t, found, "event %s", sig)
		}
		for sig, sel := range v.Expected.Selectors {
			found := false
			for _, m := range ours.Methods {
				if m.Sig == sig {
					require.Equal(t, sel, "0x"+hexOf(m.ID), sig)
					found = true
				}
			}
			require.True(t, found, "method %s", sig)
		}
	}
	require.Equal(t, 1, n)

	f, err := os.Open(conformance + "pyaleph__src__aleph__chains__assets__ethereum_sc_abi.json")
	require.NoError(t, err)
	defer f.Close()
	theirs, err := abi.JSON(f)
	require.NoError(t, err)
	require.Len(t, ours.Events, len(theirs.Events))
	require.Len(t, ours.Methods, len(theirs.Methods))
	for name, ev := range theirs.Events {
		require.Equal(t, ev.ID, ours.Events[name].ID, name)
		for i, in := range ev.Inputs {
			require.Equal(t, in.Indexed, ours.Events[name].Inputs[i].Indexed, "%s.%s indexed", name, in.Name)
			require.Equal(t, in.Name, ours.Events[name].Inputs[i].Name)
		}
	}
	for name, m := range theirs.Methods {
		require.Equal(t, m.ID, ours.Methods[name].ID, name)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

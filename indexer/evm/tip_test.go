package evm_test

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/indexer/evm"
)

// TestMedianTip: the publisher's tip is the median of the recent blocks'
// reward percentile, leaving out blocks without transactions; none left
// means "ask the node".
func TestMedianTip(t *testing.T) {
	w := func(v ...int64) [][]*big.Int {
		out := make([][]*big.Int, len(v))
		for i, x := range v {
			out[i] = []*big.Int{big.NewInt(x)}
		}
		return out
	}
	tests := []struct {
		name string
		h    *ethereum.FeeHistory
		want *big.Int
	}{
		{name: "no history", h: nil},
		{name: "idle chain", h: &ethereum.FeeHistory{Reward: w(0, 0, 0), GasUsedRatio: []float64{0, 0, 0}}},
		{name: "median of busy blocks", h: &ethereum.FeeHistory{Reward: w(5, 0, 1, 9, 3), GasUsedRatio: []float64{0.5, 0, 0.2, 0.9, 0.4}}, want: big.NewInt(5)},
		{name: "empty block with a stale reward left out", h: &ethereum.FeeHistory{Reward: w(100, 2, 4), GasUsedRatio: []float64{0, 0.1, 0.1}}, want: big.NewInt(4)},
		{name: "one busy block", h: &ethereum.FeeHistory{Reward: w(7), GasUsedRatio: []float64{1}}, want: big.NewInt(7)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := evm.MedianTip(tt.h)
			if tt.want == nil {
				require.Nil(t, got)
				return
			}
			require.NotNil(t, got)
			require.Zero(t, tt.want.Cmp(got), "got %s", got)
		})
	}
}

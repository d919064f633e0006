package graph

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/filepin"
)

// TestFileMeta: a file is cached while a STORE's pin holds it (until that
// STORE changes), or until its earliest grace period ends less the skew
// margin, and not at all when nothing says it stays.
func TestFileMeta(t *testing.T) {
	now := time.Now()
	soon, later, past := now.Add(time.Hour), now.Add(2*time.Hour), now.Add(-time.Second)
	grace := func(end time.Time) *ent.FilePin { return &ent.FilePin{Type: filepin.TypeGracePeriod, DeleteBy: &end} }
	store := &ent.FilePin{Type: filepin.TypeMessage, ItemHash: "s1"}
	tests := []struct {
		name  string
		pins  []*ent.FilePin
		deps  []string
		until time.Time
		ok    bool
	}{
		{"no pin", nil, nil, time.Time{}, false},
		{"a STORE's pin", []*ent.FilePin{grace(soon), store}, []string{"m:s1"}, time.Time{}, true},
		{"grace periods: the earliest end", []*ent.FilePin{grace(later), grace(soon)}, nil, soon.Add(-graceSkew), true},
		{"an ended grace period", []*ent.FilePin{grace(past)}, nil, past.Add(-graceSkew), false},
		{"a tx pin alone", []*ent.FilePin{{Type: filepin.TypeTx}}, nil, time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deps, until, ok := fileMeta(tt.pins)
			require.Equal(t, tt.deps, deps)
			require.True(t, tt.until.Equal(until), "until %v, want %v", until, tt.until)
			require.Equal(t, tt.ok, ok)
		})
	}
}

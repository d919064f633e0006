package processor_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/pendingmessage"
	"github.com/alephql/alephql/processor"
)

// TestRestartReleasesDeadClaims: a node restarted after a crash takes back
// at once the fetch-stage claims its dead predecessor held (instead of
// waiting out their 2-minute lease), and leaves alone the claims of live
// processors, of other hosts and of custom IDs.
func TestRestartReleasesDeadClaims(t *testing.T) {
	host, err := os.Hostname()
	require.NoError(t, err)
	// A pid that existed and is gone: a child that has exited.
	child := exec.Command("true")
	require.NoError(t, child.Run())
	deadPid := child.Process.Pid

	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		live, err := processor.New(processor.Config{}, processor.Deps{DB: db, Log: dbtest.Logger()})
		require.NoError(t, err)
		p, err := processor.New(processor.Config{}, processor.Deps{DB: db, Log: dbtest.Logger()})
		require.NoError(t, err)
		require.NotEqual(t, processor.ID(live), processor.ID(p), "each processor has its own ID")

		holders := []struct {
			id       string
			released bool
		}{
			{fmt.Sprintf("%s:%d:0badc0de", host, deadPid), true},        // a process of this host that is gone
			{fmt.Sprintf("%s:%d:0badc0de", host, os.Getpid()), true},    // an earlier process with this pid (PID 1 in a container)
			{processor.ID(live), false},                                 // a running processor of this process
			{fmt.Sprintf("%s:%d:0badc0de", host, os.Getppid()), false},  // a running process of this host
			{fmt.Sprintf("other-%s:%d:0badc0de", host, deadPid), false}, // another host: its lease decides
			{"worker-a", false}, // a custom ID
		}
		now := time.Now().UTC()
		for i, h := range holders {
			hash := strings.Repeat("0", 63) + fmt.Sprint(i)
			require.NoError(t, db.Client.PendingMessage.Create().
				SetItemHash(hash).SetType("POST").SetChain("ETH").SetSender("0xa").SetItemType("inline").
				SetTime(now).SetReceptionTime(now).SetNextAttempt(now).SetOrigin(pendingmessage.OriginAPI).
				SetClaimedBy(h.id).SetClaimedUntil(now.Add(2*time.Minute)).Exec(ctx))
		}

		n, err := processor.ReleaseDeadClaims(ctx, p)
		require.NoError(t, err)
		want := 0
		for i, h := range holders {
			row, err := db.Client.PendingMessage.Query().
				Where(pendingmessage.ItemHash(strings.Repeat("0", 63) + fmt.Sprint(i))).Only(ctx)
			require.NoError(t, err)
			if h.released {
				want++
				require.Nil(t, row.ClaimedBy, h.id)
				require.Nil(t, row.ClaimedUntil, h.id)
			} else {
				require.NotNil(t, row.ClaimedBy, h.id)
				require.Equal(t, h.id, *row.ClaimedBy)
			}
		}
		require.Equal(t, want, n)
	})
}

package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/messagestatus"
)

// TestJobsDryRun: jobs --dry-run lists the confirmed hold VM whose owner
// has no balance left, with why, in a table or as JSON, and changes
// nothing; jobs without --dry-run marks it removing; the next dry run
// lists it for the collector to finalize.
func TestJobsDryRun(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := t.Context()
			url := b.URL(t)
			db := dbtest.Open(t, url)
			c := db.Client
			now := time.Now().UTC()
			const owner, hash, tx = "0xOwner", "aa00000000000000000000000000000000000000000000000000000000000001", "0xtx1"
			c.MessageStatus.Create().SetID(hash).SetStatus(messagestatus.StatusProcessed).SetReceptionTime(now).SetUpdatedAt(now).ExecX(ctx)
			c.Message.Create().SetID(hash).SetType("INSTANCE").SetChain("ETH").SetSender(owner).SetItemType("inline").
				SetTime(now).SetReceptionTime(now).SetOwner(owner).SetPaymentType("hold").ExecX(ctx)
			c.AccountCost.Create().SetOwner(owner).SetItemHash(hash).SetType("EXECUTION").SetName("main").
				SetPaymentType("hold").SetCostHold("2000").ExecX(ctx)
			c.ChainTx.Create().SetID(tx).SetChain("ETH").SetHeight(23_000_000).SetDatetime(now).SetPublisher("0xp").
				SetProtocol("aleph").SetProtocolVersion(1).ExecX(ctx)
			c.MessageConfirmation.Create().SetItemHash(hash).SetTxHash(tx).ExecX(ctx)
			c.Balance.Create().SetAddress(owner).SetChain("ETH").SetEthHeight(1).SetBalance("1500").SetLastUpdate(now).ExecX(ctx)

			args := []string{"jobs", "--log-level", "warn", "--data-dir", t.TempDir(), "--db", url}
			var out, errOut bytes.Buffer
			require.Equal(t, 0, run(ctx, append(args, "--dry-run"), &out, &errOut), errOut.String())
			require.Regexp(t, `balance +remove +`+hash+` +INSTANCE +0xOwner +needs 2000, 1500 left \(balance_insufficient\)`, out.String())
			require.Contains(t, out.String(), "1 decisions, 0 removals to finalize; nothing was changed")
			require.Equal(t, messagestatus.StatusProcessed, c.MessageStatus.GetX(ctx, hash).Status)

			out.Reset()
			require.Equal(t, 0, run(ctx, append(args, "--dry-run", "--json"), &out, &errOut), errOut.String())
			var d map[string]any
			require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(out.String())), &d))
			require.Equal(t, map[string]any{"job": "balance", "address": owner, "item_hash": hash, "type": "INSTANCE",
				"action": "remove", "reason": "balance_insufficient", "cost": "2000", "available": "1500",
				"height": float64(23_000_000), "why": "needs 2000, 1500 left"}, d)

			out.Reset()
			require.Equal(t, 0, run(ctx, args, &out, &errOut), errOut.String())
			require.Contains(t, out.String(), "balance: 1 addresses settled, 1 removing, 0 recovered")
			require.Equal(t, messagestatus.StatusRemoving, c.MessageStatus.GetX(ctx, hash).Status)

			out.Reset()
			require.Equal(t, 0, run(ctx, append(args, "--dry-run", "--all"), &out, &errOut), errOut.String())
			require.Regexp(t, `gc +finalize +`+hash+` +INSTANCE +0xOwner`, out.String())
			require.Equal(t, messagestatus.StatusRemoving, c.MessageStatus.GetX(ctx, hash).Status)
		})
	}
}

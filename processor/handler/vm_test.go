package handler_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/accountcost"
	"github.com/alephql/alephql/ent/vmvolume"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/message"
)

// programFields is a PROGRAM content.
func programFields(code, runtime string, extra map[string]any) map[string]any {
	f := map[string]any{
		"type": "vm-function", "allow_amend": true,
		"code":        map[string]any{"encoding": "zip", "entrypoint": "main:app", "ref": code, "use_latest": false},
		"runtime":     map[string]any{"ref": runtime, "use_latest": true, "comment": "rt"},
		"on":          map[string]any{"http": true},
		"environment": map[string]any{"internet": true},
		"resources":   map[string]any{"vcpus": 1, "memory": 128, "seconds": 30},
		"volumes":     []any{},
	}
	for k, v := range extra {
		f[k] = v
	}
	return f
}

// instanceFields is the spec's worked-example INSTANCE: 2 vCPU, 4 GiB,
// 20 GiB rootfs.
func instanceFields(rootfs string, payment string) map[string]any {
	return map[string]any{
		"allow_amend": false,
		"rootfs":      map[string]any{"parent": map[string]any{"ref": rootfs, "use_latest": true}, "persistence": "host", "size_mib": 20480},
		"environment": map[string]any{"internet": true},
		"resources":   map[string]any{"vcpus": 2, "memory": 4096, "seconds": 30},
		"payment":     map[string]any{"type": payment},
		"volumes":     []any{},
	}
}

// TestVMMissingVolume: a program whose code is not stored yet waits
// (VM_VOLUME_NOT_FOUND with the missing refs), then goes through once the
// STORE is processed, with every volume recorded.
func TestVMMissingVolume(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		alice := newSigner(t)
		e.mustApply(e.balancesPost(1, map[string]any{alice.addr(): 1000}))
		code := storeMsg(t, alice, tPaid, e.file("code zip"), nil)
		runtime := storeMsg(t, alice, tPaid, e.file("runtime squashfs"), nil)
		data := storeMsg(t, alice, tPaid, e.file("data"), nil)
		e.mustApply(runtime)
		img := storeMsg(t, alice, tPaid, e.file("image"), nil)
		prog := alice.msg(t, message.TypeProgram, tPaid+1, programFields(code.ItemHash, runtime.ItemHash, map[string]any{
			"data":   map[string]any{"encoding": "zip", "mount": "/data", "ref": data.ItemHash},
			"export": map[string]any{"encoding": "zip", "mount": "/out"},
			"volumes": []any{
				map[string]any{"ref": img.ItemHash, "use_latest": true, "mount": "/opt"},
				map[string]any{"ephemeral": true, "size_mib": 10, "mount": "/tmp"},
				map[string]any{"persistence": "host", "name": "db", "size_mib": 100, "mount": "/var/db"},
			},
		}))
		_, err := e.apply(prog)
		d := requireCode(t, err, errcode.VMVolumeNotFound)
		require.Equal(t, errcode.MissingDependency, d.Kind())
		require.ElementsMatch(t, []string{code.ItemHash, data.ItemHash, img.ItemHash}, d.Details.(map[string]any)["errors"])

		e.mustApply(code)
		e.mustApply(data)
		_, err = e.apply(prog)
		d = requireCode(t, err, errcode.VMVolumeNotFound)
		require.Equal(t, []string{img.ItemHash}, d.Details.(map[string]any)["errors"], "use_latest refs are looked up as tags")
		e.mustApply(img)
		costs := e.mustApply(prog)
		require.Equal(t, "EXECUTION", costs[0].Type)
		require.Equal(t, "program", costs[0].Name)
		e.read(func(ctx context.Context, tx *ent.Tx) {
			v, err := tx.VM.Get(ctx, prog.ItemHash)
			require.NoError(t, err)
			require.Equal(t, alice.addr(), v.Owner)
			require.True(t, v.HTTPTrigger)
			vols, err := tx.VMVolume.Query().Where(vmvolume.VMHash(prog.ItemHash)).All(ctx)
			require.NoError(t, err)
			kinds := map[vmvolume.Kind]int{}
			for _, vol := range vols {
				kinds[vol.Kind]++
			}
			require.Equal(t, map[vmvolume.Kind]int{
				vmvolume.KindCode: 1, vmvolume.KindRuntime: 1, vmvolume.KindData: 1, vmvolume.KindExport: 1,
				vmvolume.KindImmutable: 1, vmvolume.KindEphemeral: 1, vmvolume.KindPersistent: 1,
			}, kinds)
			ver, err := tx.VMVersion.Get(ctx, prog.ItemHash)
			require.NoError(t, err)
			require.Equal(t, prog.ItemHash, ver.CurrentVersion)
		})
	})
}

// TestVMReplaces: replacements are checked, persisted and followed by the
// version pointer; forgetting the original forgets its replacements.
func TestVMReplaces(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		alice := newSigner(t)
		e.mustApply(e.balancesPost(1, map[string]any{alice.addr(): 10000}))
		code := storeMsg(t, alice, tPaid, e.file("code"), nil)
		rt := storeMsg(t, alice, tPaid, e.file("rt"), nil)
		e.mustApply(code)
		e.mustApply(rt)
		orig := alice.msg(t, message.TypeProgram, tPaid+1, programFields(code.ItemHash, rt.ItemHash, nil))
		e.mustApply(orig)

		_, err := e.apply(alice.msg(t, message.TypeProgram, tPaid+2, programFields(code.ItemHash, rt.ItemHash,
			map[string]any{"replaces": "0000000000000000000000000000000000000000000000000000000000000002"})))
		require.Equal(t, errcode.MissingDependency, requireCode(t, err, errcode.VMRefNotFound).Kind())

		v2 := alice.msg(t, message.TypeProgram, tPaid+3, programFields(code.ItemHash, rt.ItemHash, map[string]any{"replaces": orig.ItemHash, "allow_amend": false}))
		e.mustApply(v2)
		_, err = e.apply(alice.msg(t, message.TypeProgram, tPaid+4, programFields(code.ItemHash, rt.ItemHash, map[string]any{"replaces": v2.ItemHash})))
		requireCode(t, err, errcode.VMUpdateUpdate)
		// The current version (v2) forbids amends.
		_, err = e.apply(alice.msg(t, message.TypeProgram, tPaid+5, programFields(code.ItemHash, rt.ItemHash, map[string]any{"replaces": orig.ItemHash})))
		requireCode(t, err, errcode.VMAmendNotAllowed)
		e.read(func(ctx context.Context, tx *ent.Tx) {
			row, err := tx.VM.Get(ctx, v2.ItemHash)
			require.NoError(t, err)
			require.Equal(t, orig.ItemHash, *row.Replaces, "replaces is persisted")
			ver, err := tx.VMVersion.Get(ctx, orig.ItemHash)
			require.NoError(t, err)
			require.Equal(t, v2.ItemHash, ver.CurrentVersion)
		})
		require.ElementsMatch(t, []string{orig.ItemHash, v2.ItemHash}, e.forget(orig.ItemHash))
		e.read(func(ctx context.Context, tx *ent.Tx) {
			n, err := tx.VM.Query().Count(ctx)
			require.NoError(t, err)
			require.Zero(t, n)
			n, err = tx.VMVersion.Query().Count(ctx)
			require.NoError(t, err)
			require.Zero(t, n)
		})
	})
}

// TestInsufficientBalance: hold VMs are checked against the owner's
// balances (from the oracle's balances-update posts) and everything it
// already holds, with the reference node's detail strings.
func TestInsufficientBalance(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		alice, bob := newSigner(t), newSigner(t)
		// bob stores the image, so alice's costs are her VMs only.
		rootfs := storeMsg(t, bob, tPaid, e.file("debian"), nil)
		e.mustApply(rootfs)
		e.mustApply(e.balancesPost(100, map[string]any{alice.addr(): 1000.5}))
		inst := alice.msg(t, message.TypeInstance, tPaid+1, instanceFields(rootfs.ItemHash, "hold"))
		_, err := e.apply(inst)
		d := requireCode(t, err, errcode.BalanceInsufficient)
		require.Equal(t, map[string]any{"errors": []any{map[string]any{
			"required_balance": "2000.000000000000000000", "account_balance": "1000.5",
		}}}, d.Details)

		// An older update is ignored, a newer one applies.
		e.mustApply(e.balancesPost(99, map[string]any{alice.addr(): 1e6}))
		_, err = e.apply(inst)
		requireCode(t, err, errcode.BalanceInsufficient)
		e.mustApply(e.balancesPost(101, map[string]any{alice.addr(): 5000}))
		costs := e.mustApply(inst)
		require.Len(t, costs, 3)
		e.mustApply(alice.msg(t, message.TypeInstance, tPaid+2, instanceFields(rootfs.ItemHash, "hold")))
		_, err = e.apply(alice.msg(t, message.TypeInstance, tPaid+3, instanceFields(rootfs.ItemHash, "hold")))
		d = requireCode(t, err, errcode.BalanceInsufficient)
		require.Equal(t, map[string]any{"errors": []any{map[string]any{
			"required_balance": "6000.000000000000000000", "account_balance": "5000",
		}}}, d.Details)
		// After the hold/stream cut-off an instance must pay with credits.
		_, err = e.apply(alice.msg(t, message.TypeInstance, tCredit, instanceFields(rootfs.ItemHash, "hold")))
		requireCode(t, err, errcode.InvalidPaymentMethod)
	})
}

// TestCreditInsufficientAndWorkedExample: a credit instance needs one
// day of credits; once funded, its cost rows are the spec's worked
// example, stored exactly.
func TestCreditInsufficientAndWorkedExample(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		alice := newSigner(t)
		rootfs := storeMsg(t, alice, tPaid, e.file("debian"), nil)
		e.mustApply(rootfs)
		e.mustApply(e.distribution(tCredit-10, map[string]any{"address": alice.addr(), "amount": 600000, "price": "0.6", "tx_hash": "0x1", "provider": "ALEPH"}))
		inst := alice.msg(t, message.TypeInstance, tCredit, instanceFields(rootfs.ItemHash, "credit"))
		_, err := e.apply(inst)
		d := requireCode(t, err, errcode.CreditInsufficient)
		require.Equal(t, map[string]any{"errors": []any{map[string]any{
			"required_credits": "683999.999999999999942400", "account_credits": "600000", "min_runtime_days": 1,
		}}}, d.Details)

		e.mustApply(e.distribution(tCredit-5, map[string]any{"address": alice.addr(), "amount": 84000, "price": 0.084, "tx_hash": "0x2", "provider": "ALEPH"}))
		e.mustApply(inst)
		e.read(func(ctx context.Context, tx *ent.Tx) {
			rows, err := tx.AccountCost.Query().Where(accountcost.ItemHash(inst.ItemHash)).Order(ent.Asc(accountcost.FieldID)).All(ctx)
			require.NoError(t, err)
			got := [][]string{}
			for _, r := range rows {
				got = append(got, []string{r.Type, r.Name, r.PaymentType, r.CostHold, r.CostStream, r.CostCredit})
			}
			require.Equal(t, [][]string{
				{"EXECUTION", "instance", "credit", "2000.000000000000000000", "0.000030555555555555", "7.916666666666666666"},
				{"EXECUTION_INSTANCE_VOLUME_ROOTFS", "EXECUTION_INSTANCE_VOLUME_ROOTFS", "credit", "1024.000000000000000000", "0.000005558044444444", "1.022150487075618588"},
				{"EXECUTION_VOLUME_DISCOUNT", "EXECUTION_VOLUME_DISCOUNT", "credit", "-1024.000000000000000000", "-0.000005558044444444", "-1.022150487075618588"},
			}, got)
		})
	})
}

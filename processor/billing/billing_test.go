package billing_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/accountcost"
	"github.com/alephql/alephql/ent/cronjob"
	"github.com/alephql/alephql/ent/messagecounter"
	"github.com/alephql/alephql/ent/removedmessage"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/ipfs"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/billing"
)

// decisions maps a plan to item hash -> action.
func decisions(ds []billing.Decision) map[string]billing.Action {
	out := map[string]billing.Action{}
	for _, d := range ds {
		out[d.ItemHash] = d.Action
	}
	return out
}

// TestHoldBalance: an account whose balance drops below what its hold VMs
// need loses the most recent ones, walked in the order of their first
// cost row; a message confirmed twice counts once; a message confirmed
// below the cut-off height, an unconfirmed one and a small STORE are
// never removed. A top-up recovers them; without one, the collector
// finalizes them as removed. The dry run says all this beforehand and
// changes nothing.
func TestHoldBalance(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		alice := newSigner(t)
		rootfs := e.rootfs()
		e.balances(1, map[string]any{alice.addr(): 11000})
		var vms []sent
		for i := range 5 {
			vms = append(vms, alice.instance(t, tHold+float64(i+1), rootfs, "hold"))
		}
		small := alice.store(t, tHold+10, e.file("a small file"), "hold")
		e.process(append(vms, small)...)
		i1, i2, i3, i4, i5 := vms[0], vms[1], vms[2], vms[3], vms[4]
		e.confirm(i1, high)
		e.confirm(i1, high+1) // counted once, not twice
		e.confirm(i2, high)
		e.confirm(i3, low) // below the cut-off: never removable
		// i4 stays unconfirmed.
		e.confirm(i5, high)
		e.confirm(small, high)

		e.balances(2, map[string]any{alice.addr(): 3000})
		plan, err := e.jobs.Plan(e.ctx, billing.JobBalance, false)
		require.NoError(t, err)
		require.Equal(t, map[string]billing.Action{
			i2.hash: billing.Remove, i5.hash: billing.Remove, small.hash: billing.Spare,
		}, decisions(plan))
		for _, d := range plan {
			if d.ItemHash == i2.hash {
				require.Equal(t, "2000.000000000000000000", d.Cost)
				require.Equal(t, "1000.000000000000000000", d.Available)
				require.Equal(t, billing.ReasonBalance, d.Reason)
			}
		}
		require.Equal(t, []string{"processed", "processed", "processed", "processed", "processed"}, e.statuses(vms...),
			"the dry run changes nothing")

		rep := e.run(billing.JobBalance)
		require.Equal(t, 2, rep.Removing)
		require.Equal(t, []string{"processed", "removing", "processed", "processed", "removing"}, e.statuses(vms...))
		require.Equal(t, "processed", e.status(small.hash), "a small STORE is spared")
		require.Equal(t, "processed", e.status(i4.hash), "an unconfirmed message is never removed")
		row, err := db.Client.Message.Get(e.ctx, i2.hash)
		require.NoError(t, err)
		require.Equal(t, "removing", string(row.Status))
		snap, err := db.Client.RemovedMessage.Get(e.ctx, i2.hash)
		require.NoError(t, err)
		require.Equal(t, removedmessage.ReasonBalanceInsufficient, *snap.Reason)
		require.Equal(t, e.clk.Now(), snap.RemovingSince.UTC())
		require.Nil(t, snap.RemovedAt)
		require.Equal(t, alice.addr(), snap.Owner)
		require.Equal(t, []string{"processed", "removing"}, e.kinds(i2.hash))
		require.Equal(t, int64(2), e.counter("status=removing"))

		// Settling again changes nothing; once the last run is more than
		// Overlap after the change, the job no longer looks at alice.
		e.clk.Add(billing.Overlap + time.Second)
		require.Equal(t, billing.Report{Job: billing.JobBalance, Addresses: 1}, e.run(billing.JobBalance))
		e.clk.Add(time.Second)
		require.Equal(t, billing.Report{Job: billing.JobBalance}, e.run(billing.JobBalance))

		// A top-up before the grace period ends recovers both.
		e.clk.Add(time.Hour)
		e.balances(3, map[string]any{alice.addr(): 11000})
		rep = e.run(billing.JobBalance)
		require.Equal(t, 2, rep.Recovered)
		require.Equal(t, []string{"processed", "processed", "processed", "processed", "processed"}, e.statuses(vms...))
		_, err = db.Client.RemovedMessage.Get(e.ctx, i2.hash)
		require.Error(t, err, "the snapshot goes on recovery")
		require.Equal(t, []string{"processed", "removing", "recovered"}, e.kinds(i2.hash))
		require.Equal(t, int64(0), e.counter("status=removing"))

		// Without a top-up, the collector finalizes them.
		e.clk.Add(time.Hour)
		e.balances(4, map[string]any{alice.addr(): 3000})
		require.Equal(t, 2, e.run(billing.JobBalance).Removing)
		gcAt := e.clk.Now()
		st, err := e.gc.Collect(e.ctx, gcAt)
		require.NoError(t, err)
		require.Equal(t, 2, st.Removed)
		require.Equal(t, []string{"processed", "removed", "processed", "processed", "removed"}, e.statuses(vms...))
		for _, m := range []sent{i2, i5} {
			_, err := db.Client.Message.Get(e.ctx, m.hash)
			require.Error(t, err, "the messages row goes")
			n, err := db.Client.AccountCost.Query().Where(accountcost.ItemHash(m.hash)).Count(e.ctx)
			require.NoError(t, err)
			require.Zero(t, n, "its cost rows go")
			snap, err := db.Client.RemovedMessage.Get(e.ctx, m.hash)
			require.NoError(t, err)
			require.Equal(t, gcAt, snap.RemovedAt.UTC())
			require.Equal(t, removedmessage.ReasonBalanceInsufficient, *snap.Reason)
		}
		require.Equal(t, []string{"processed", "removing", "recovered", "removing", "removed"}, e.kinds(i2.hash))
		require.Equal(t, int64(0), e.counter("status=removing"))

		// A removed message never comes back, even if the account pays.
		e.balances(5, map[string]any{alice.addr(): 1e6})
		require.Equal(t, billing.Report{Job: billing.JobBalance, Addresses: 1}, e.run(billing.JobBalance))
		require.Equal(t, "removed", e.status(i2.hash))

		for name, want := range map[string]float64{
			"alephql_billing_removing_total": 4, "alephql_billing_recovered_total": 2, "alephql_billing_removed_total": 2,
		} {
			require.Equal(t, want, e.metric(name, billing.ReasonBalance), name)
			require.Zero(t, e.metric(name, billing.ReasonCredit), name)
		}
	})
}

// TestCredit: credits drained by an expense, and a transfer that leaves
// the sender short, make credit-paid messages removing (a small STORE
// too, once the credit-only cut-off is past); the collector finalizes the
// VMs at once and the STORE after its grace pin expired, collecting its
// file.
func TestCredit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		carol, dave, erin := newSigner(t), newSigner(t), newSigner(t)
		rootfs := e.rootfs()
		e.grant(tCredit, carol.addr(), 1_000_000)
		e.grant(tCredit, dave.addr(), 700_000)
		ic := carol.instance(t, tCredit+1, rootfs, "credit")
		fileHash := e.file("carol's small file")
		cs := carol.store(t, tCredit+2, fileHash, "credit")
		id := dave.instance(t, tCredit+3, rootfs, "credit")
		e.process(ic, cs, id)
		for _, m := range []sent{ic, cs, id} {
			e.confirm(m, low) // the height does not matter to credits
		}
		require.Equal(t, billing.Report{Job: billing.JobCredit, Addresses: 2}, e.run(billing.JobCredit),
			"both accounts pay: nothing to do")

		e.clk.Add(time.Minute)
		e.expense(tCredit+5, carol.addr(), 400_000)
		e.creditPost(dave, "aleph_credit_transfer", tCredit+6, map[string]any{"transfer": map[string]any{
			"credits": []any{map[string]any{"address": erin.addr(), "amount": 100_000}},
		}})
		rep := e.run(billing.JobCredit)
		require.Equal(t, 3, rep.Addresses, "carol, dave and erin changed")
		require.Equal(t, 3, rep.Removing)
		require.Equal(t, []string{"removing", "removing", "removing"}, e.statuses(ic, cs, id))
		snap, err := db.Client.RemovedMessage.Get(e.ctx, cs.hash)
		require.NoError(t, err)
		require.Equal(t, removedmessage.ReasonCreditInsufficient, *snap.Reason)
		require.Equal(t, int64(len("carol's small file")), snap.Size, "the snapshot keeps the file size")
		require.Equal(t, []string{"grace_period@25h0m0s"}, e.pins(cs.hash))

		st, err := e.gc.Collect(e.ctx, e.clk.Now())
		require.NoError(t, err)
		require.Equal(t, 2, st.Removed, "the VMs at once; the STORE waits for its grace pin")
		require.Equal(t, []string{"removed", "removing", "removed"}, e.statuses(ic, cs, id))

		e.clk.Add(26 * time.Hour)
		st, err = e.gc.Collect(e.ctx, e.clk.Now())
		require.NoError(t, err)
		require.Equal(t, 1, st.Removed)
		require.Equal(t, 1, st.DeletedFiles)
		require.Equal(t, "removed", e.status(cs.hash))
		require.Empty(t, e.pins(cs.hash))
		_, err = e.content.Store().Size(fileHash)
		require.ErrorIs(t, err, ipfs.ErrNotFound, "the file is collected")
	})
}

// TestSmallCreditStoreSparedBeforeCutoff: before the credit-only cut-off,
// the credit job spares a small STORE as the hold job always does.
func TestSmallCreditStoreSparedBeforeCutoff(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		e.jobs = e.newJobs(billing.Config{}) // the network's cut-off, 2027-01-01
		carol := newSigner(t)
		e.grant(tCredit, carol.addr(), 10_000)
		cs := carol.store(t, tCredit+2, e.file("small"), "credit")
		e.process(cs)
		e.confirm(cs, high)
		e.expense(tCredit+5, carol.addr(), 10_000)
		plan, err := e.jobs.Plan(e.ctx, billing.JobCredit, true)
		require.NoError(t, err)
		require.Equal(t, map[string]billing.Action{cs.hash: billing.Spare}, decisions(plan))
		require.Zero(t, e.run(billing.JobCredit).Removing)
		require.Equal(t, "processed", e.status(cs.hash))
	})
}

// TestCrashBetweenAddresses: a node killed (SIGKILL) between two
// addresses leaves the first settled and the second untouched, and does
// not record the run; after a restart the next run settles the second,
// with the same end state as an uninterrupted run (each message removing
// once, with one event, counters exact).
func TestCrashBetweenAddresses(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend.Name, func(t *testing.T) { crashBetweenAddresses(t, backend.URL(t)) })
	}
}

// crashBetweenAddresses is TestCrashBetweenAddresses on the database at
// url (the child process opens it too).
func crashBetweenAddresses(t *testing.T, url string) {
	db := dbtest.Open(t, url)
	e := newEnv(t, db)
	rootfs := e.rootfs()
	a, b := newSigner(t), newSigner(t)
	if a.addr() > b.addr() {
		a, b = b, a // settled in address order
	}
	e.balances(1, map[string]any{a.addr(): 2000, b.addr(): 2000})
	va, vb := a.instance(t, tHold+1, rootfs, "hold"), b.instance(t, tHold+2, rootfs, "hold")
	e.process(va, vb)
	e.confirm(va, high)
	e.confirm(vb, high)
	e.balances(2, map[string]any{a.addr(): 1, b.addr(): 1})

	// The child runs the balance job and stops before settling the
	// second address, saying so; it is killed there.
	cmd := exec.CommandContext(e.ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashDBEnv+"="+url, crashStopEnv+"="+b.addr())
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "stopped before "+b.addr()+"\n", line)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	require.Equal(t, []string{"removing", "processed"}, e.statuses(va, vb))
	ran, err := db.Client.CronJob.Query().Where(cronjob.ID(billing.JobBalance)).Exist(e.ctx)
	require.NoError(t, err)
	require.False(t, ran, "an interrupted run is not recorded")

	restarted := e.newJobs(billingConfig())
	rep, err := restarted.RunJob(e.ctx, billing.JobBalance)
	require.NoError(t, err)
	require.Equal(t, billing.Report{Job: billing.JobBalance, Addresses: 2, Removing: 1}, rep)
	require.Equal(t, []string{"removing", "removing"}, e.statuses(va, vb))
	for _, m := range []sent{va, vb} {
		require.Equal(t, []string{"processed", "removing"}, e.kinds(m.hash))
	}
	n, err := db.Client.RemovedMessage.Query().Count(e.ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, int64(2), e.counter("status=removing"))
	require.Equal(t, int64(1), e.counter("owner="+a.addr()+"|status=removing"))
	require.Equal(t, int64(0), e.counter("owner="+a.addr()+"|status=processed"))
}

// The crash test runs this test binary again as a child that runs the
// balance job on the database of crashDBEnv and blocks before settling
// the address of crashStopEnv, after printing a line.
const (
	crashDBEnv   = "ALEPHQL_BILLING_CRASH_DB"
	crashStopEnv = "ALEPHQL_BILLING_CRASH_STOP"
)

func TestMain(m *testing.M) {
	if url := os.Getenv(crashDBEnv); url != "" {
		err := crashChild(url, os.Getenv(crashStopEnv))
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// crashChild runs the balance job until it reaches the address stop,
// then waits to be killed.
func crashChild(url, stop string) error {
	ctx := context.Background()
	db, err := database.Open(ctx, database.Config{URL: url}, dbtest.Logger())
	if err != nil {
		return err
	}
	p, err := processor.New(processor.Config{}, processor.Deps{DB: db, Log: dbtest.Logger()})
	if err != nil {
		return err
	}
	jobs, err := billing.New(billingConfig(), billing.Deps{DB: db, Apply: p, Log: dbtest.Logger()})
	if err != nil {
		return err
	}
	billing.SetBeforeSettle(jobs, func(_, address string) error {
		if address == stop {
			fmt.Println("stopped before " + address)
			select {} // killed here
		}
		return nil
	})
	_, err = jobs.RunJob(ctx, billing.JobBalance)
	return err
}

// TestSubscriberSeesLifecycle: a listener of the event bus receives the
// REMOVING event (with its reason) and then the REMOVED one, both in the
// outbox for a resume.
func TestSubscriberSeesLifecycle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		rootfs := e.rootfs()
		alice := newSigner(t)
		e.balances(1, map[string]any{alice.addr(): 2000})
		vm := alice.instance(t, tHold+1, rootfs, "hold")
		e.process(vm)
		e.confirm(vm, high)
		sub, err := e.bus.Subscribe(e.ctx)
		require.NoError(t, err)
		e.balances(2, map[string]any{alice.addr(): 0})
		e.run(billing.JobBalance)
		_, err = e.gc.Collect(e.ctx, e.clk.Now())
		require.NoError(t, err)

		var got []events.Event
		require.Eventually(t, func() bool {
			for {
				select {
				case ev := <-sub.C:
					if ev.ItemHash == vm.hash {
						got = append(got, ev)
					}
				default:
					return len(got) == 2
				}
			}
		}, 5*time.Second, 10*time.Millisecond)
		require.Equal(t, events.Removing, got[0].Kind)
		require.Equal(t, billing.ReasonBalance, got[0].Related)
		require.Equal(t, alice.addr(), got[0].Owner, "events carry what filters match on")
		require.Equal(t, events.Removed, got[1].Kind)
		require.Equal(t, billing.ReasonBalance, got[1].Related)
		require.Positive(t, got[0].Seq)
		require.Greater(t, got[1].Seq, got[0].Seq)
		require.Equal(t, []string{"processed", "removing", "removed"}, e.kinds(vm.hash))
	})
}

// counter reads a message counter.
func (e *env) counter(key string) int64 {
	e.t.Helper()
	c, err := e.db.Client.MessageCounter.Query().Where(messagecounter.ID(key)).Only(e.ctx)
	if err != nil {
		return 0
	}
	return c.Count
}

// metric reads a counter of the jobs' metrics by its reason label.
func (e *env) metric(name, reason string) float64 {
	e.t.Helper()
	fams, err := e.reg.Gather()
	require.NoError(e.t, err)
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

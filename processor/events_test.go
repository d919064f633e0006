package processor_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/messagetag"
	"github.com/alephql/alephql/ent/vm"
	"github.com/alephql/alephql/ent/vmvolume"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/errcode"
)

func TestEventsAndDenormalizedColumns(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		bus := events.NewLocal(64)
		sub, err := bus.Subscribe(t.Context())
		require.NoError(t, err)
		p, err := processor.New(processor.Config{}, processor.Deps{DB: db, Log: dbtest.Logger(), Events: bus})
		require.NoError(t, err)
		e := &env{t: t, db: db, p: p, clk: &clock{t: time.Now()}, ctx: t.Context()}
		alice := account(t)
		raw, h := must(t)(alice.Post(base, "TEST", "blog", map[string]any{"tags": []string{"go", "aleph", "go"}}, ""))
		e.submit(raw)
		e.drain()

		var got []events.Event
		for len(got) < 2 {
			select {
			case ev := <-sub.C:
				got = append(got, ev)
			case <-time.After(5 * time.Second):
				t.Fatal("events not published")
			}
		}
		require.Equal(t, events.Pending, got[0].Kind)
		require.Equal(t, events.Processed, got[1].Kind)
		require.Equal(t, h, got[1].ItemHash)
		require.Equal(t, "blog", got[1].ContentType)
		require.Equal(t, "TEST", got[1].Channel)
		require.Greater(t, got[1].Seq, got[0].Seq, "outbox sequence numbers increase")
		row, err := db.Client.MessageEvent.Get(t.Context(), got[1].Seq)
		require.NoError(t, err)
		require.Equal(t, "processed", row.Kind)

		m, err := db.Client.Message.Get(t.Context(), h)
		require.NoError(t, err)
		require.Equal(t, alice.Address(), m.Owner)
		require.Equal(t, "blog", *m.ContentType)
		tags, err := db.Client.MessageTag.Query().Where(messagetag.ItemHash(h)).Order(messagetag.ByTag()).All(t.Context())
		require.NoError(t, err)
		require.Len(t, tags, 2)
		require.Equal(t, "aleph", tags[0].Tag)
		for key, want := range map[string]int64{"*": 1, "type=POST": 1, "channel=TEST|type=POST": 1, "status=processed": 1} {
			c, err := db.Client.MessageCounter.Get(t.Context(), key)
			require.NoError(t, err, key)
			require.Equal(t, want, c.Count, key)
		}
	})
}

func TestForgetProtectsVMVolumes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db, processor.Config{})
		alice := account(t)
		m := must(t)
		raw, h := m(alice.Post(base, "TEST", "note", "x", ""))
		e.submit(raw)
		e.drain()
		// A VM uses the message's hash as a volume.
		require.NoError(t, db.Client.VM.Create().SetID("f00d000000000000000000000000000000000000000000000000000000000000").
			SetType(vm.TypeProgram).SetOwner(alice.Address()).SetCreated(time.Now()).Exec(t.Context()))
		require.NoError(t, db.Client.VMVolume.Create().SetVMHash("f00d000000000000000000000000000000000000000000000000000000000000").
			SetKind(vmvolume.KindImmutable).SetRef(h).Exec(t.Context()))
		f, fh := m(alice.Forget(base+1, "TEST", h))
		e.submit(f)
		e.drain()
		require.Equal(t, int(errcode.ForgetNotAllowed), e.rejectedCode(fh))
		require.Equal(t, "processed", string(e.status(h)))
	})
}

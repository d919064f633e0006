package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/chains"
	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/ent/pendingmessage"
	"github.com/alephql/alephql/ipfs"
	"github.com/alephql/alephql/ipfs/ipfstest"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/handler"
)

// TestIPFSPostWaitsForKubo: an ipfs-type POST whose content lives only in
// kubo stays pending, with its reason recorded, while kubo is down, and is
// processed once kubo is back.
func TestIPFSPostWaitsForKubo(t *testing.T) {
	k := ipfstest.NewDaemon(t)
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		log := dbtest.Logger()
		st, err := newStorage(storageFlags{ipfsAPI: k.API, gcPeriod: time.Hour, grace: time.Hour, maxUpload: 1 << 20},
			t.TempDir(), db.Client, log)
		require.NoError(t, err)
		hd := handler.Deps{Config: handler.DefaultConfig(), Log: log, Storage: storageAdapter{st.Content}}
		hd.PostEffects = handler.MoneyEffects(hd, db.Dialect)
		proc, err := processor.New(processor.Config{MaxRetries: 100, MaxBackoff: time.Second, Idle: 100 * time.Millisecond},
			processor.Deps{DB: db, Handler: hd, Handlers: handler.PaidHandlers(hd, db.Client, db.Dialect), Log: log})
		require.NoError(t, err)

		// The content, in kubo only.
		signer, err := chains.GenerateEthereumSigner()
		require.NoError(t, err)
		const at = 1_700_000_000.0
		content, err := json.Marshal(map[string]any{
			"address": signer.Address(), "time": at, "type": "note", "content": map[string]any{"body": t.Name()},
		})
		require.NoError(t, err)
		cid, err := st.Content.Add(ctx, bytes.NewReader(content), ipfs.AddOptions{Pin: true})
		require.NoError(t, err)
		s := chains.Signed{Type: "POST", ItemHash: cid, Time: at}
		require.NoError(t, chains.Sign(signer, &s))
		raw, err := json.Marshal(map[string]any{
			"chain": s.Chain, "sender": s.Sender, "type": "POST", "item_hash": cid, "item_type": "ipfs",
			"signature": s.Signature, "time": at, "channel": "TEST",
		})
		require.NoError(t, err)

		k.Stop()
		pctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- proc.Run(pctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("processor: %v", err)
			}
		})
		res, err := proc.Submit(ctx, raw, processor.OriginAPI, nil)
		require.NoError(t, err)
		require.Equal(t, cid, res.ItemHash)

		// Attempted and failed at least twice: still pending, with a reason.
		require.Eventually(t, func() bool {
			r, err := db.Client.PendingMessage.Query().Where(pendingmessage.ItemHash(cid)).Only(ctx)
			return err == nil && r.Retries >= 2 && r.LastError != nil && *r.LastError != ""
		}, 30*time.Second, 50*time.Millisecond)
		ms, err := db.Client.MessageStatus.Get(ctx, cid)
		require.NoError(t, err)
		require.Equal(t, messagestatus.StatusPending, ms.Status)

		k.Start()
		require.Eventually(t, func() bool {
			ms, err := db.Client.MessageStatus.Get(ctx, cid)
			return err == nil && ms.Status == messagestatus.StatusProcessed
		}, 60*time.Second, 100*time.Millisecond)
		n, err := db.Client.Post.Query().Count(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
	})
}

package processor

import (
	"context"
	"fmt"
	"time"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/chainsyncstatus"
	"github.com/alephql/alephql/ent/chaintx"
	"github.com/alephql/alephql/ent/filepin"
	"github.com/alephql/alephql/ent/indexedblock"
	"github.com/alephql/alephql/ent/message"
	"github.com/alephql/alephql/ent/messageconfirmation"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/ent/pendingmessage"
	"github.com/alephql/alephql/ent/pendingtx"
	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/processor/handler"
)

// chainBatchSize is how many messages of a chain transaction one intake
// transaction takes.
const chainBatchSize = 500

// ChainCursor returns a chain reader's cursor (indexer.ChainSink).
func (p *Processor) ChainCursor(ctx context.Context, chain, kind string) (indexer.Cursor, bool, error) {
	s, err := p.client.ChainSyncStatus.Query().
		Where(chainsyncstatus.Chain(chain), chainsyncstatus.Type(kind)).Only(ctx)
	if ent.IsNotFound(err) {
		return indexer.Cursor{}, false, nil
	}
	if err != nil {
		return indexer.Cursor{}, false, fmt.Errorf("processor: chain cursor: %w", err)
	}
	return indexer.Cursor{Height: s.Height, Hash: s.BlockHash}, true, nil
}

// CommitChainBatch records what a chain reader read, in one transaction:
// the chain transactions (new valid ones become pending), the blocks,
// and the cursor (indexer.ChainSink).
func (p *Processor) CommitChainBatch(ctx context.Context, b indexer.ChainBatch) error {
	now := p.now().UTC()
	err := p.withTx(ctx, func(tx *ent.Tx) error {
		if len(b.Txs) > 0 {
			ids := make([]string, len(b.Txs))
			for i, t := range b.Txs {
				ids[i] = t.Hash
			}
			known := map[string]bool{}
			for i := 0; i < len(ids); i += 1000 {
				got, err := tx.ChainTx.Query().Where(chaintx.IDIn(ids[i:min(i+1000, len(ids))]...)).IDs(ctx)
				if err != nil {
					return fmt.Errorf("known chain txs: %w", err)
				}
				for _, id := range got {
					known[id] = true
				}
			}
			var txs []*ent.ChainTxCreate
			var pend []*ent.PendingTxCreate
			for _, t := range b.Txs {
				if known[t.Hash] {
					continue
				}
				known[t.Hash] = true
				c := tx.ChainTx.Create().SetID(t.Hash).SetChain(t.Chain).SetHeight(t.Height).
					SetDatetime(t.Time.UTC()).SetPublisher(t.Publisher).SetProtocol(t.Protocol).
					SetProtocolVersion(t.Version)
				if len(t.Content) > 0 {
					c.SetContent(t.Content)
				}
				if t.Error != "" {
					c.SetError(t.Error)
				} else {
					pend = append(pend, tx.PendingTx.Create().SetTxHash(t.Hash).SetNextAttempt(now))
				}
				txs = append(txs, c)
			}
			for i := 0; i < len(txs); i += 500 {
				if err := tx.ChainTx.CreateBulk(txs[i:min(i+500, len(txs))]...).Exec(ctx); err != nil {
					return fmt.Errorf("insert chain txs: %w", err)
				}
			}
			for i := 0; i < len(pend); i += 500 {
				if err := tx.PendingTx.CreateBulk(pend[i:min(i+500, len(pend))]...).Exec(ctx); err != nil {
					return fmt.Errorf("insert pending txs: %w", err)
				}
			}
		}
		for _, bl := range b.Blocks {
			err := tx.IndexedBlock.Create().SetChain(b.Chain).SetNumber(bl.Number).SetHash(bl.Hash).
				SetParentHash(bl.Parent).SetTime(bl.Time.UTC()).
				OnConflictColumns(indexedblock.FieldChain, indexedblock.FieldNumber).UpdateNewValues().Exec(ctx)
			if err != nil {
				return fmt.Errorf("insert indexed block: %w", err)
			}
		}
		if b.PruneBelow > 0 {
			_, err := tx.IndexedBlock.Delete().
				Where(indexedblock.Chain(b.Chain), indexedblock.NumberLT(b.PruneBelow)).Exec(ctx)
			if err != nil {
				return fmt.Errorf("prune indexed blocks: %w", err)
			}
		}
		return setCursor(ctx, tx, b.Chain, b.Kind, b.Cursor, now)
	})
	if err != nil {
		return fmt.Errorf("processor: commit chain batch: %w", err)
	}
	return nil
}

// setCursor writes a reader's cursor.
func setCursor(ctx context.Context, tx *ent.Tx, chain, kind string, c indexer.Cursor, now time.Time) error {
	err := tx.ChainSyncStatus.Create().SetChain(chain).SetType(kind).SetHeight(c.Height).
		SetBlockHash(c.Hash).SetLastUpdate(now).
		OnConflictColumns(chainsyncstatus.FieldChain, chainsyncstatus.FieldType).UpdateNewValues().Exec(ctx)
	if err != nil {
		return fmt.Errorf("set cursor: %w", err)
	}
	return nil
}

// IndexedBlocks returns the stored blocks of chain, highest first
// (indexer.ChainSink).
func (p *Processor) IndexedBlocks(ctx context.Context, chain string, limit int) ([]indexer.Block, error) {
	rows, err := p.client.IndexedBlock.Query().Where(indexedblock.Chain(chain)).
		Order(ent.Desc(indexedblock.FieldNumber)).Limit(limit).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("processor: indexed blocks: %w", err)
	}
	out := make([]indexer.Block, len(rows))
	for i, r := range rows {
		out[i] = indexer.Block{Number: r.Number, Hash: r.Hash, Parent: r.ParentHash, Time: r.Time}
	}
	return out, nil
}

// RewindChain undoes a reorg: the chain transactions above to, their
// confirmations (the messages' first confirmation recomputed: a message
// whose only confirmation goes stays processed, unconfirmed), their
// pending rows and the stored blocks above to go, and the cursor moves
// to to, in one transaction (indexer.ChainSink).
func (p *Processor) RewindChain(ctx context.Context, chain, kind string, to indexer.Cursor) (int, error) {
	var n int
	err := p.withTx(ctx, func(tx *ent.Tx) error {
		hashes, err := tx.ChainTx.Query().Where(chaintx.Chain(chain), chaintx.HeightGT(to.Height)).IDs(ctx)
		if err != nil {
			return fmt.Errorf("orphaned txs: %w", err)
		}
		n = len(hashes)
		var items []string
		for i := 0; i < len(hashes); i += 1000 {
			part := hashes[i:min(i+1000, len(hashes))]
			var got []string
			err := tx.MessageConfirmation.Query().Where(messageconfirmation.TxHashIn(part...)).
				Unique(true).Select(messageconfirmation.FieldItemHash).Scan(ctx, &got)
			if err != nil {
				return fmt.Errorf("orphaned confirmations: %w", err)
			}
			items = append(items, got...)
			if _, err := tx.MessageConfirmation.Delete().Where(messageconfirmation.TxHashIn(part...)).Exec(ctx); err != nil {
				return fmt.Errorf("delete confirmations: %w", err)
			}
			if _, err := tx.PendingTx.Delete().Where(pendingtx.TxHashIn(part...)).Exec(ctx); err != nil {
				return fmt.Errorf("delete pending txs: %w", err)
			}
			if _, err := tx.PendingMessage.Update().Where(pendingmessage.TxHashIn(part...)).ClearTxHash().Save(ctx); err != nil {
				return fmt.Errorf("detach pending messages: %w", err)
			}
			if _, err := tx.FilePin.Delete().Where(filepin.TypeEQ(filepin.TypeTx), filepin.TxHashIn(part...)).Exec(ctx); err != nil {
				return fmt.Errorf("delete tx pins: %w", err)
			}
			if _, err := tx.ChainTx.Delete().Where(chaintx.IDIn(part...)).Exec(ctx); err != nil {
				return fmt.Errorf("delete chain txs: %w", err)
			}
		}
		if err := refreshFirstConfirmed(ctx, tx, items); err != nil {
			return err
		}
		if _, err := tx.IndexedBlock.Delete().Where(indexedblock.Chain(chain), indexedblock.NumberGT(to.Height)).Exec(ctx); err != nil {
			return fmt.Errorf("delete indexed blocks: %w", err)
		}
		return setCursor(ctx, tx, chain, kind, to, p.now().UTC())
	})
	if err != nil {
		return 0, fmt.Errorf("processor: rewind chain: %w", err)
	}
	return n, nil
}

// refreshFirstConfirmed recomputes first_confirmed_at and
// first_confirmed_height of the messages hashes from their confirmations
// (NULL when none is left).
func refreshFirstConfirmed(ctx context.Context, tx *ent.Tx, hashes []string) error {
	type first struct {
		at time.Time
		h  int64
	}
	for i := 0; i < len(hashes); i += 1000 {
		part := hashes[i:min(i+1000, len(hashes))]
		confs, err := tx.MessageConfirmation.Query().Where(messageconfirmation.ItemHashIn(part...)).
			WithTx().All(ctx)
		if err != nil {
			return fmt.Errorf("read confirmations: %w", err)
		}
		firsts := map[string]first{}
		for _, c := range confs {
			if c.Edges.Tx == nil {
				continue
			}
			f, ok := firsts[c.ItemHash]
			if !ok || c.Edges.Tx.Datetime.Before(f.at) {
				f.at = c.Edges.Tx.Datetime
			}
			if !ok || c.Edges.Tx.Height < f.h {
				f.h = c.Edges.Tx.Height
			}
			firsts[c.ItemHash] = f
		}
		groups := map[first][]string{}
		var none []string
		for _, h := range part {
			if f, ok := firsts[h]; ok {
				groups[f] = append(groups[f], h)
			} else {
				none = append(none, h)
			}
		}
		for f, hs := range groups {
			err := tx.Message.Update().Where(message.IDIn(hs...)).
				SetFirstConfirmedAt(f.at.UTC()).SetFirstConfirmedHeight(f.h).Exec(ctx)
			if err != nil {
				return fmt.Errorf("set first confirmation: %w", err)
			}
		}
		if len(none) > 0 {
			err := tx.Message.Update().Where(message.IDIn(none...), message.FirstConfirmedAtNotNil()).
				ClearFirstConfirmedAt().ClearFirstConfirmedHeight().Exec(ctx)
			if err != nil {
				return fmt.Errorf("clear first confirmation: %w", err)
			}
		}
	}
	return nil
}

// confirmedHashes are the messages an intake batch confirmed.
func confirmedHashes(rs []SubmitResult) []string {
	var out []string
	for _, r := range rs {
		if r.Outcome == Confirmed {
			out = append(out, r.ItemHash)
		}
	}
	return out
}

// confirmHashes are the messages of a batch's confirmations.
func confirmHashes(cs [][2]string) []string {
	if len(cs) == 0 {
		return nil
	}
	out := make([]string, 0, len(cs))
	seen := make(map[string]bool, len(cs))
	for _, c := range cs {
		if !seen[c[0]] {
			seen[c[0]] = true
			out = append(out, c[0])
		}
	}
	return out
}

// DuePendingTxs returns pending chain transactions due at now, oldest
// attempt first (indexer.TxSink).
func (p *Processor) DuePendingTxs(ctx context.Context, now time.Time, limit int) ([]indexer.PendingTx, error) {
	rows, err := p.client.PendingTx.Query().Where(pendingtx.NextAttemptLTE(now)).
		Order(ent.Asc(pendingtx.FieldNextAttempt), ent.Asc(pendingtx.FieldID)).Limit(limit).WithTx().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("processor: due pending txs: %w", err)
	}
	out := make([]indexer.PendingTx, 0, len(rows))
	for _, r := range rows {
		t := r.Edges.Tx
		if t == nil {
			continue
		}
		out = append(out, indexer.PendingTx{Retries: r.Retries, ChainTx: indexer.ChainTx{
			Hash: t.ID, Chain: t.Chain, Height: t.Height, Time: t.Datetime, Publisher: t.Publisher,
			Protocol: t.Protocol, Version: t.ProtocolVersion, Content: t.Content,
		}})
	}
	return out, nil
}

// SubmitTxMessages takes the messages of a pending chain transaction in
// (origin onchain, the transaction as their context, in batches), records
// an archive as a file with a tx pin, and removes the pending row
// (indexer.TxSink) unless some of its messages were already pending
// from elsewhere (TxResult.Waiting): it then stays pending, to confirm
// them at a later attempt. Re-running it after a crash is harmless: intake of a
// known message only adds its confirmation.
func (p *Processor) SubmitTxMessages(ctx context.Context, txHash string, msgs indexer.TxMessages) (indexer.TxResult, error) {
	var res indexer.TxResult
	if msgs.Archive != "" {
		if err := p.recordArchive(ctx, txHash, msgs.Archive, msgs.ArchiveSize); err != nil {
			return res, err
		}
	}
	h := txHash
	var waiting []string
	// The import path (Import): the next batch is decoded and its
	// signatures checked while the current one is written; inline POSTs
	// and AGGREGATEs are applied at intake (direct.go), with their
	// confirmations.
	type prepared struct {
		items []intakeItem
		err   error
	}
	ready := make(chan prepared, 1)
	pctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		for range ready { // wait for the preparing goroutine
		}
	}()
	go func() {
		defer close(ready)
		for i := 0; i < len(msgs.Messages) && pctx.Err() == nil; i += chainBatchSize {
			part := msgs.Messages[i:min(i+chainBatchSize, len(msgs.Messages))]
			ins := make([]Input, len(part))
			for j, raw := range part {
				ins[j] = Input{Raw: raw, Origin: OriginOnchain, TxHash: &h, NoSignature: msgs.NoSignature}
			}
			items, err := p.prepare(ins, true)
			select {
			case ready <- prepared{items, err}:
			case <-pctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for pr := range ready {
		if pr.err != nil {
			return res, fmt.Errorf("processor: submit tx messages: %w", pr.err)
		}
		out, err := p.submitItems(ctx, pr.items)
		if err != nil {
			return res, fmt.Errorf("processor: submit tx messages: %w", err)
		}
		var pendingCopies, queued []string
		for _, r := range out {
			switch r.Outcome {
			case Queued:
				res.Queued++
				queued = append(queued, r.ItemHash)
			case Duplicate:
				res.Duplicate++
				if r.Status == string(messagestatus.StatusPending) {
					pendingCopies = append(pendingCopies, r.ItemHash)
				}
			case Confirmed:
				res.Confirmed++
			case Rejected:
				res.Rejected++
			}
		}
		if len(queued) > 0 {
			// A copy already pending without this transaction (from a
			// client, or another transaction) keeps its row: intake's
			// insert of this copy did nothing.
			var others []string
			err := p.client.PendingMessage.Query().Where(pendingmessage.ItemHashIn(queued...),
				pendingmessage.Or(pendingmessage.TxHashIsNil(), pendingmessage.TxHashNEQ(h))).
				Select(pendingmessage.FieldItemHash).Scan(ctx, &others)
			if err != nil {
				return res, fmt.Errorf("processor: pending copies: %w", err)
			}
			pendingCopies = append(pendingCopies, others...)
		}
		if len(pendingCopies) > 0 {
			// A message already pending (from a client, or another
			// transaction) gets this transaction as its context, so that it
			// is confirmed when processed.
			if err := p.attachPending(ctx, h, pendingCopies); err != nil {
				return res, err
			}
			waiting = append(waiting, pendingCopies...)
		}
	}
	if len(waiting) > 0 {
		// Messages pending from elsewhere (a client, another transaction)
		// may be in the process stage's hands without this transaction:
		// the transaction stays pending, and the next attempt confirms
		// them once processed.
		still, err := p.client.MessageStatus.Query().Where(messagestatus.IDIn(waiting...),
			messagestatus.StatusEQ(messagestatus.StatusPending)).Count(ctx)
		if err != nil {
			return res, fmt.Errorf("processor: pending copies: %w", err)
		}
		if still > 0 {
			res.Waiting = still
			return res, nil
		}
	}
	if _, err := p.client.PendingTx.Delete().Where(pendingtx.TxHash(txHash)).Exec(ctx); err != nil {
		return res, fmt.Errorf("processor: delete pending tx: %w", err)
	}
	return res, nil
}

// attachPending gives messages found pending the transaction txHash as
// their context. One that the process stage took meanwhile (its pending
// row is gone) is confirmed directly: on PostgreSQL the update waits for
// the process stage's row lock, so the status read after it sees the
// processed message.
func (p *Processor) attachPending(ctx context.Context, txHash string, hashes []string) error {
	err := p.withTx(ctx, func(tx *ent.Tx) error {
		// It may confirm processed messages: their rows are updated.
		if err := handler.LockAgainstForget(ctx, tx, p.db.Dialect); err != nil {
			return err
		}
		_, err := tx.PendingMessage.Update().
			Where(pendingmessage.ItemHashIn(hashes...), pendingmessage.TxHashIsNil()).
			SetTxHash(txHash).Save(ctx)
		if err != nil {
			return fmt.Errorf("attach pending messages: %w", err)
		}
		done, err := tx.MessageStatus.Query().Where(messagestatus.IDIn(hashes...),
			messagestatus.StatusIn(messagestatus.StatusProcessed, messagestatus.StatusRemoving)).IDs(ctx)
		if err != nil || len(done) == 0 {
			return err
		}
		for _, h := range done {
			err := tx.MessageConfirmation.Create().SetItemHash(h).SetTxHash(txHash).
				OnConflictColumns(messageconfirmation.FieldItemHash, messageconfirmation.FieldTxHash).
				DoNothing().Exec(ctx)
			if err != nil && !isNoRows(err) {
				return fmt.Errorf("insert confirmation: %w", err)
			}
		}
		return refreshFirstConfirmed(ctx, tx, done)
	})
	if err != nil {
		return fmt.Errorf("processor: %w", err)
	}
	return nil
}

// recordArchive records a sync archive as a file with a tx pin.
func (p *Processor) recordArchive(ctx context.Context, txHash, cid string, size int64) error {
	now := p.now().UTC()
	return p.withTx(ctx, func(tx *ent.Tx) error {
		err := tx.File.Create().SetID(cid).SetSize(size).SetCreatedAt(now).
			OnConflictColumns("hash").DoNothing().Exec(ctx)
		if err != nil && !isNoRows(err) {
			return fmt.Errorf("processor: record archive file: %w", err)
		}
		n, err := tx.FilePin.Query().Where(filepin.FileHash(cid), filepin.TypeEQ(filepin.TypeTx), filepin.TxHash(txHash)).Count(ctx)
		if err != nil {
			return fmt.Errorf("processor: archive pins: %w", err)
		}
		if n > 0 {
			return nil
		}
		if err := tx.FilePin.Create().SetFileHash(cid).SetType(filepin.TypeTx).SetCreated(now).SetTxHash(txHash).Exec(ctx); err != nil {
			return fmt.Errorf("processor: pin archive: %w", err)
		}
		return nil
	})
}

// RetryPendingTx records a failed expansion (indexer.TxSink).
func (p *Processor) RetryPendingTx(ctx context.Context, txHash, reason string, next time.Time) error {
	err := p.client.PendingTx.Update().Where(pendingtx.TxHash(txHash)).
		AddRetries(1).SetNextAttempt(next.UTC()).SetLastError(reason).Exec(ctx)
	if err != nil {
		return fmt.Errorf("processor: retry pending tx: %w", err)
	}
	return nil
}

// DropPendingTx gives a pending transaction up, keeping why on the chain
// transaction (indexer.TxSink).
func (p *Processor) DropPendingTx(ctx context.Context, txHash, reason string) error {
	return p.withTx(ctx, func(tx *ent.Tx) error {
		if _, err := tx.PendingTx.Delete().Where(pendingtx.TxHash(txHash)).Exec(ctx); err != nil {
			return fmt.Errorf("processor: drop pending tx: %w", err)
		}
		if err := tx.ChainTx.UpdateOneID(txHash).SetError(reason).Exec(ctx); err != nil && !ent.IsNotFound(err) {
			return fmt.Errorf("processor: record tx error: %w", err)
		}
		return nil
	})
}

// Interface guards.
var (
	_ indexer.ChainSink = (*Processor)(nil)
	_ indexer.TxSink    = (*Processor)(nil)
)

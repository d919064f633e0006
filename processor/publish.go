package processor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/message"
	"github.com/alephql/alephql/ent/publishedmessage"
	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/processor/handler"
)

// Unpublished returns up to limit signed, processed messages that no
// chain confirms yet and that this node has not published on any chain
// (a message is published once: a publication pending on one chain
// keeps it out of the others' archives until dropped), oldest first:
// what chain's publisher puts in its next archive.
func (p *Processor) Unpublished(ctx context.Context, chain string, limit int) ([]indexer.ArchiveMessage, []string, error) {
	ms, err := p.client.Message.Query().
		Where(message.SignatureNotNil(), message.FirstConfirmedAtIsNil(),
			message.StatusEQ(message.StatusProcessed),
			func(s *sql.Selector) {
				t := sql.Table(publishedmessage.Table)
				s.Where(sql.Not(sql.Exists(sql.Select(t.C(publishedmessage.FieldID)).From(t).
					Where(sql.ColumnsEQ(t.C(publishedmessage.FieldItemHash), s.C(message.FieldID))))))
			}).
		Order(ent.Asc(message.FieldTime), ent.Asc(message.FieldID)).
		Limit(limit).All(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("processor: unpublished messages: %w", err)
	}
	out := make([]indexer.ArchiveMessage, len(ms))
	hashes := make([]string, len(ms))
	for i, m := range ms {
		out[i] = indexer.ArchiveMessage{
			Sender: m.Sender, Chain: m.Chain, Signature: m.Signature, Type: m.Type,
			ItemContent: m.ItemContent, ItemType: m.ItemType, ItemHash: m.ID,
			Time: m.Time, Channel: m.Channel,
		}
		hashes[i] = m.ID
	}
	return out, hashes, nil
}

// ErrAlreadyPublished: a message of a publication being reserved is
// already published (on any chain); nothing is reserved.
var ErrAlreadyPublished = errors.New("message already published")

// ReservePublication records, before transaction txHash is sent, that
// the messages hashes are published on chain in archive cid.
func (p *Processor) ReservePublication(ctx context.Context, chain, cid, txHash string, hashes []string, at time.Time) error {
	const batch = 1000
	tx, err := p.client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("processor: reserve publication: %w", err)
	}
	// One reservation at a time across the nodes and chains, so that two
	// chains' publishers never both reserve a message (the rows' unique
	// key is per chain).
	if err := handler.Lock(ctx, tx, p.db.Dialect, "publish:reserve"); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("processor: reserve publication: %w", err)
	}
	for i := 0; i < len(hashes); i += batch {
		part := hashes[i:min(i+batch, len(hashes))]
		n, err := tx.PublishedMessage.Query().Where(publishedmessage.ItemHashIn(part...)).Count(ctx)
		if err == nil && n > 0 {
			err = fmt.Errorf("%w: %d of the messages", ErrAlreadyPublished, n)
		}
		if err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("processor: reserve publication: %w", err)
		}
	}
	for i := 0; i < len(hashes); i += batch {
		part := hashes[i:min(i+batch, len(hashes))]
		creates := make([]*ent.PublishedMessageCreate, len(part))
		for j, h := range part {
			creates[j] = tx.PublishedMessage.Create().SetItemHash(h).SetChain(chain).SetCid(cid).SetTxHash(txHash).SetPublishedAt(at)
		}
		if err := tx.PublishedMessage.CreateBulk(creates...).Exec(ctx); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("processor: reserve publication: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("processor: reserve publication: %w", err)
	}
	return nil
}

// DropPublication forgets archive cid's publication (its transaction
// failed): its messages are published again.
func (p *Processor) DropPublication(ctx context.Context, chain, cid string) error {
	_, err := p.client.PublishedMessage.Delete().
		Where(publishedmessage.Chain(chain), publishedmessage.Cid(cid)).Exec(ctx)
	if err != nil {
		return fmt.Errorf("processor: drop publication: %w", err)
	}
	return nil
}

// OpenPublications returns the publications of chain that still hold a
// message no chain confirms: those whose transaction may have failed.
func (p *Processor) OpenPublications(ctx context.Context, chain string) ([]indexer.Publication, error) {
	rows, err := p.client.PublishedMessage.Query().
		Where(publishedmessage.Chain(chain), func(s *sql.Selector) {
			t := sql.Table(message.Table)
			s.Where(sql.Exists(sql.Select(t.C(message.FieldID)).From(t).
				Where(sql.And(sql.ColumnsEQ(t.C(message.FieldID), s.C(publishedmessage.FieldItemHash)),
					sql.IsNull(t.C(message.FieldFirstConfirmedAt))))))
		}).
		Order(ent.Asc(publishedmessage.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("processor: open publications: %w", err)
	}
	var out []indexer.Publication
	idx := map[string]int{}
	for _, r := range rows {
		i, ok := idx[r.Cid]
		if !ok {
			i = len(out)
			idx[r.Cid] = i
			out = append(out, indexer.Publication{Chain: chain, CID: r.Cid, TxHash: r.TxHash, At: r.PublishedAt})
		}
		out[i].Messages++
	}
	return out, nil
}

// ReplacePublication records that archive cid's transaction was
// replaced: txHashes lists every transaction sent for it, newest first,
// comma-separated.
func (p *Processor) ReplacePublication(ctx context.Context, chain, cid, txHashes string) error {
	_, err := p.client.PublishedMessage.Update().
		Where(publishedmessage.Chain(chain), publishedmessage.Cid(cid)).SetTxHash(txHashes).Save(ctx)
	if err != nil {
		return fmt.Errorf("processor: replace publication: %w", err)
	}
	return nil
}

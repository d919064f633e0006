package read

import (
	"context"
	"sort"
	"time"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/forgottenmessage"
	"github.com/alephql/alephql/ent/messageconfirmation"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/ent/rejectedmessage"
	"github.com/alephql/alephql/ent/removedmessage"
)

// Confirmation is an on-chain confirmation of a message.
type Confirmation struct {
	Chain  string
	TxHash string
	Height int64
	Time   time.Time
}

// Confirmations reads the confirmations of messages, oldest first, by
// item hash.
func Confirmations(ctx context.Context, c *ent.Client, hashes []string) (map[string][]Confirmation, error) {
	out := map[string][]Confirmation{}
	if len(hashes) == 0 {
		return out, nil
	}
	rows, err := c.MessageConfirmation.Query().Where(messageconfirmation.ItemHashIn(hashes...)).WithTx().All(ctx)
	if err != nil {
		return nil, err
	}
	for _, mc := range rows {
		tx := mc.Edges.Tx
		if tx == nil {
			continue
		}
		out[mc.ItemHash] = append(out[mc.ItemHash], Confirmation{Chain: tx.Chain, TxHash: tx.ID, Height: tx.Height, Time: tx.Datetime})
	}
	for _, cs := range out {
		sort.Slice(cs, func(i, j int) bool { return cs[i].Time.Before(cs[j].Time) })
	}
	return out, nil
}

// Status is a message's status row with, for rejected, forgotten and
// removed messages, their records.
type Status struct {
	Hash          string
	Status        messagestatus.Status
	ReceptionTime time.Time
	UpdatedAt     time.Time
	// Rejected is set for status rejected.
	Rejected *ent.RejectedMessage
	// Forgotten is set for status forgotten.
	Forgotten *ent.ForgottenMessage
	// Removed is set for status removed (and removing, when the snapshot
	// exists).
	Removed *ent.RemovedMessage
}

// Statuses reads message_status rows and their records: at most four
// statements per batch. Unknown hashes are absent.
func Statuses(ctx context.Context, c *ent.Client, hashes []string) (map[string]*Status, error) {
	rows, err := c.MessageStatus.Query().Where(messagestatus.IDIn(hashes...)).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*Status, len(rows))
	var rejected, forgotten, removed []string
	for _, s := range rows {
		out[s.ID] = &Status{Hash: s.ID, Status: s.Status, ReceptionTime: s.ReceptionTime, UpdatedAt: s.UpdatedAt}
		switch s.Status {
		case messagestatus.StatusRejected:
			rejected = append(rejected, s.ID)
		case messagestatus.StatusForgotten:
			forgotten = append(forgotten, s.ID)
		case messagestatus.StatusRemoving, messagestatus.StatusRemoved:
			removed = append(removed, s.ID)
		}
	}
	if len(rejected) > 0 {
		rs, err := c.RejectedMessage.Query().Where(rejectedmessage.IDIn(rejected...)).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, rj := range rs {
			out[rj.ID].Rejected = rj
		}
	}
	if len(forgotten) > 0 {
		fs, err := c.ForgottenMessage.Query().Where(forgottenmessage.IDIn(forgotten...)).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			out[f.ID].Forgotten = f
		}
	}
	if len(removed) > 0 {
		rs, err := c.RemovedMessage.Query().Where(removedmessage.IDIn(removed...)).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, rm := range rs {
			out[rm.ID].Removed = rm
		}
	}
	return out, nil
}

package read

import (
	"context"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/chainsyncstatus"
	"github.com/alephql/alephql/ent/countkey"
)

// NodeStatus are the node's own counts behind the reference node's
// /metrics.json.
type NodeStatus struct {
	Peers           int
	Messages        int64
	PermanentFiles  int
	PendingMessages int
	PendingTxs      int
	// ETHHeight is the last height synced on Ethereum, 0 if none.
	ETHHeight int64
}

// Status counts the node's peers, processed messages (counter), pins,
// pending messages and transactions, and reads its Ethereum sync height.
func (r *Reader) Status(ctx context.Context) (NodeStatus, error) {
	var s NodeStatus
	var err error
	if s.Messages, err = r.Counter(ctx, countkey.All); err != nil {
		return s, err
	}
	if s.Peers, err = r.client.Peer.Query().Count(ctx); err != nil {
		return s, err
	}
	if s.PermanentFiles, err = r.client.FilePin.Query().Count(ctx); err != nil {
		return s, err
	}
	if s.PendingMessages, err = r.client.PendingMessage.Query().Count(ctx); err != nil {
		return s, err
	}
	if s.PendingTxs, err = r.client.PendingTx.Query().Count(ctx); err != nil {
		return s, err
	}
	st, err := r.client.ChainSyncStatus.Query().Where(chainsyncstatus.Chain("ETH")).
		Order(ent.Desc(chainsyncstatus.FieldHeight)).First(ctx)
	if err == nil {
		s.ETHHeight = st.Height
	} else if !ent.IsNotFound(err) {
		return s, err
	}
	return s, nil
}

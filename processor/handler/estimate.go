package handler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/accountcost"
	entmessage "github.com/alephql/alephql/ent/message"
	"github.com/alephql/alephql/processor/cost"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/message"
)

// estimateSizer resolves sizes from the database, then from the sizes the
// estimate declares (a file not uploaded yet).
type estimateSizer struct {
	txSizer
	declared map[string]int64
}

// FileSize implements cost.FileSizer.
func (s estimateSizer) FileSize(ctx context.Context, hash string) (int64, bool, error) {
	n, ok, err := s.txSizer.FileSize(ctx, hash)
	if err != nil || ok {
		return n, ok, err
	}
	n, ok = s.declared[hash]
	return n, ok, nil
}

// RefSize implements cost.FileSizer.
func (s estimateSizer) RefSize(ctx context.Context, ref string, useLatest bool) (int64, bool, error) {
	n, ok, err := s.txSizer.RefSize(ctx, ref, useLatest)
	if err != nil || ok {
		return n, ok, err
	}
	n, ok = s.declared[ref]
	return n, ok, nil
}

// EstimateCosts prices a message as processing would, with the network's
// current pricing, writing nothing. declared gives the size in bytes of
// files the node does not have (by file hash or volume ref).
func EstimateCosts(ctx context.Context, client *ent.Client, cfg Config, m *message.Message, declared map[string]int64) ([]Cost, *cost.Decimal, error) {
	tx, err := client.Tx(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("estimate costs: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	return computeCostsWith(ctx, tx, cfg, m, estimateSizer{txSizer{tx}, declared})
}

// StoredMessage rebuilds a processed message from its row, for pricing:
// the stored content stands in as inline content (its hash checked), then
// the row's hash is restored.
func StoredMessage(row *ent.Message) (*message.Message, error) {
	sum := sha256.Sum256(row.Content)
	w := map[string]any{
		"chain": row.Chain, "sender": row.Sender, "type": row.Type, "item_type": "inline",
		"item_content": string(row.Content), "item_hash": hex.EncodeToString(sum[:]),
		"time": float64(row.Time.UnixMicro()) / 1e6,
	}
	if row.Channel != nil {
		w["channel"] = *row.Channel
	}
	raw, err := json.Marshal(w)
	if err != nil {
		return nil, err
	}
	m, err := message.Decode(raw, message.WithoutSignature())
	if err != nil {
		return nil, fmt.Errorf("decode stored message %s: %w", row.ID, err)
	}
	m.ItemHash = row.ID
	return m, nil
}

// RecalculateCosts prices a stored message again with the current pricing
// and replaces its account_costs rows, in one transaction.
func RecalculateCosts(ctx context.Context, client *ent.Client, cfg Config, row *ent.Message) error {
	m, err := StoredMessage(row)
	if err != nil {
		return err
	}
	tx, err := client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("recalculate costs: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	costs, _, err := computeCosts(ctx, tx, cfg, m)
	if err != nil {
		return err
	}
	if _, err := tx.AccountCost.Delete().Where(accountcost.ItemHash(row.ID)).Exec(ctx); err != nil {
		return fmt.Errorf("recalculate costs: %w", err)
	}
	for _, c := range costs {
		if err := tx.AccountCost.Create().SetOwner(row.Owner).SetItemHash(row.ID).SetType(c.Type).SetName(c.Name).
			SetNillableRef(c.Ref).SetPaymentType(c.PaymentType).SetCostHold(zeroIfEmpty(c.Hold)).
			SetCostStream(zeroIfEmpty(c.Stream)).SetCostCredit(zeroIfEmpty(c.Credit)).Exec(ctx); err != nil {
			return fmt.Errorf("recalculate costs: %w", err)
		}
	}
	return tx.Commit()
}

func zeroIfEmpty(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// ErrNothingToPrice marks a recalculation of a message that is not a
// processed STORE, PROGRAM, INSTANCE or V-PROGRAM.
var ErrNothingToPrice = errors.New("no priced message")

// pricedTypes are the message types with cost lines.
var pricedTypes = []string{"STORE", "PROGRAM", "INSTANCE", "V-PROGRAM"}

// EstimateMessage decodes and prices a message without its signature: a
// wire message, or (instance) a bare INSTANCE content sent as an inline
// message of its address. Sizes of files the node does not have come
// from the content's estimated_size_mib fields (by ref, and for a STORE
// its item_hash). A message that does not decode is an errcode error of
// kind Invalid.
func EstimateMessage(ctx context.Context, client *ent.Client, cfg Config, body []byte, instance bool) (*message.Message, []Cost, error) {
	if instance {
		var c struct {
			Address string  `json:"address"`
			Time    float64 `json:"time"`
		}
		_ = json.Unmarshal(body, &c)
		sum := sha256.Sum256(body)
		raw, err := json.Marshal(map[string]any{"chain": "ETH", "sender": c.Address, "type": "INSTANCE", "item_type": "inline",
			"item_content": string(body), "item_hash": hex.EncodeToString(sum[:]), "time": c.Time})
		if err != nil {
			return nil, nil, err
		}
		body = raw
	}
	m, err := message.Decode(body, message.WithoutSignature())
	if err != nil {
		return nil, nil, err
	}
	if m.Content == nil {
		return nil, nil, errcode.New(errcode.InvalidFormat, "only inline messages can be estimated")
	}
	if !slices.Contains(pricedTypes, string(m.Type)) {
		return nil, nil, errcode.Newf(errcode.InvalidFormat, "%s messages have no cost", m.Type)
	}
	declared := map[string]int64{}
	var doc any
	if json.Unmarshal(m.Content.Base().JSON(), &doc) == nil {
		collectEstimates(doc, declared, true)
	}
	costs, _, err := EstimateCosts(ctx, client, cfg, m, declared)
	return m, costs, err
}

// collectEstimates finds estimated_size_mib fields: beside a ref (a
// volume) or, at the top of a STORE content, beside item_hash.
func collectEstimates(v any, out map[string]int64, top bool) {
	switch t := v.(type) {
	case map[string]any:
		if mib, ok := t["estimated_size_mib"].(float64); ok && mib > 0 {
			size := int64(mib * (1 << 20))
			if ref, ok := t["ref"].(string); ok && ref != "" {
				out[ref] = size
			}
			if h, ok := t["item_hash"].(string); ok && top && h != "" {
				out[h] = size
			}
		}
		for _, x := range t {
			collectEstimates(x, out, false)
		}
	case []any:
		for _, x := range t {
			collectEstimates(x, out, false)
		}
	}
}

// Recalculate prices stored messages again (RecalculateCosts): one
// message (ErrNothingToPrice if it is not a processed priced message), or
// every processed priced message when itemHash is "". It returns how many
// it priced.
func Recalculate(ctx context.Context, client *ent.Client, cfg Config, itemHash string) (int, error) {
	if itemHash != "" {
		row, err := client.Message.Query().Where(entmessage.ID(itemHash), entmessage.TypeIn(pricedTypes...)).Only(ctx)
		if ent.IsNotFound(err) {
			return 0, ErrNothingToPrice
		}
		if err != nil {
			return 0, err
		}
		return 1, RecalculateCosts(ctx, client, cfg, row)
	}
	n, after := 0, ""
	for {
		rows, err := client.Message.Query().Where(entmessage.TypeIn(pricedTypes...), entmessage.IDGT(after)).
			Order(ent.Asc(entmessage.FieldID)).Limit(200).All(ctx)
		if err != nil || len(rows) == 0 {
			return n, err
		}
		for _, row := range rows {
			if err := RecalculateCosts(ctx, client, cfg, row); err != nil {
				return n, err
			}
			n++
		}
		after = rows[len(rows)-1].ID
	}
}

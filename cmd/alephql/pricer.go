package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/processor/cost"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/handler"
	"github.com/alephql/alephql/rest"
)

// restPricer is rest.Pricer over the handlers' cost computation.
type restPricer struct {
	client *ent.Client
	cfg    handler.Config
}

// Estimate implements rest.Pricer.
func (p restPricer) Estimate(ctx context.Context, body json.RawMessage, instance bool) (*rest.Price, error) {
	m, costs, err := handler.EstimateMessage(ctx, p.client, p.cfg, body, instance)
	if err != nil {
		if errcode.KindOf(err) == errcode.Invalid {
			return nil, fmt.Errorf("%w: %w", rest.ErrInvalidMessage, err)
		}
		return nil, err
	}
	out := &rest.Price{PaymentType: string(cost.PaymentOf(m.Content)), ChargedAddress: m.Owner()}
	for _, c := range costs {
		out.Lines = append(out.Lines, rest.CostLine{Type: c.Type, Name: c.Name, Ref: c.Ref, Hold: c.Hold, Stream: c.Stream, Credit: c.Credit})
	}
	return out, nil
}

// Recalculate implements rest.Pricer.
func (p restPricer) Recalculate(ctx context.Context, itemHash string) (int, error) {
	n, err := handler.Recalculate(ctx, p.client, p.cfg, itemHash)
	if errors.Is(err, handler.ErrNothingToPrice) {
		return 0, fmt.Errorf("%w: %w", rest.ErrNotFound, err)
	}
	return n, err
}

// Interface guards
var _ rest.Pricer = restPricer{}

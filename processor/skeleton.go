package processor

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/alephql/alephql/chains"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/ent/pendingmessage"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/handler"
	"github.com/alephql/alephql/processor/message"
)

// Forgotten before joining.
//
// A node that learns the network's history from another node's API never
// sees the messages that node forgot before: their content is gone, and
// the API serves only their skeleton (messages.json?msgStatuses=forgotten,
// spec §9.2: the signed fields, owner, time, channel, forgotten_by). The
// reference node would then retry the FORGET naming them (501) and reject
// it, and the follower would end with the FORGET rejected where its peer
// has it processed and its target forgotten. The protocol's intent (spec
// §4.7, §12.12: a FORGET removes content the network once had) is the
// peer's state, so a follower records such a target as forgotten from its
// skeleton, under these checks, none of which trusts the peer:
//
//   - the FORGET itself is a valid message (hash, schema, signature) that
//     names the target in content.hashes (or, for the amends that go with
//     a forgotten post, names a target of the same signer); it then goes
//     through intake and processing as any other message;
//   - the skeleton's signature verifies over its chain, sender, type and
//     item hash (what a message's signature covers): its sender did sign
//     a message of that hash;
//   - the target has no status here (a message this node has, had or
//     rejected is left to the FORGET's processing);
//   - the target is not a FORGET, and the FORGET's sender may act for the
//     skeleton's signer (spec §4.1 rules against the signer, the only
//     owner the skeleton proves: its owner, channel and time are the
//     peer's word and are recorded as served, never used to decide).
//
// The target's status becomes forgotten, forgotten by that FORGET, in
// one transaction; when the FORGET is processed its target is known and
// already forgotten, and it is processed (handler.Forget). The message
// never was in the messages table here, so no counter changes.

// Skeleton is a forgotten message as another node's API serves it.
type Skeleton struct {
	ItemHash    string   `json:"item_hash"`
	Type        string   `json:"type"`
	Chain       string   `json:"chain"`
	Sender      string   `json:"sender"`
	Signature   *string  `json:"signature"`
	ItemType    string   `json:"item_type"`
	Time        float64  `json:"time"`
	Channel     *string  `json:"channel"`
	Owner       string   `json:"owner"`
	PaymentType *string  `json:"payment_type"`
	Size        int64    `json:"size"`
	ForgottenBy []string `json:"forgotten_by"`
}

// wire returns the signed part of a skeleton as a wire message (no
// content), or an error if it is malformed.
func (s Skeleton) wire() (*message.Wire, error) {
	if s.Signature == nil || *s.Signature == "" {
		return nil, fmt.Errorf("%s: no signature", s.ItemHash)
	}
	t := message.Type(s.Type)
	if !slices.Contains([]message.Type{message.TypePost, message.TypeAggregate, message.TypeStore, message.TypeProgram,
		message.TypeInstance, message.TypeVProgram, message.TypeForget}, t) {
		return nil, fmt.Errorf("%s: type %q", s.ItemHash, s.Type)
	}
	it := message.ItemType(s.ItemType)
	if it != message.ItemInline && it != message.ItemStorage && it != message.ItemIPFS {
		return nil, fmt.Errorf("%s: item_type %q", s.ItemHash, s.ItemType)
	}
	if s.ItemHash == "" || s.Sender == "" {
		return nil, fmt.Errorf("%s: no item hash or sender", s.ItemHash)
	}
	return &message.Wire{Chain: chains.Chain(s.Chain), Sender: s.Sender, Type: t, ItemHash: s.ItemHash, ItemType: it,
		Signature: *s.Signature, Time: s.Time}, nil
}

// ForgetSkeletons records as forgotten, by the FORGET forget (its wire
// JSON), the targets of skels that this node never had (see above). It
// returns the hashes it recorded. An invalid FORGET or skeleton is
// skipped, not an error: the FORGET's own intake will judge it. The
// error is a database failure, after which nothing was recorded.
func (p *Processor) ForgetSkeletons(ctx context.Context, forget []byte, skels []Skeleton) ([]string, error) {
	f, err := message.Decode(forget)
	if err != nil || f.Type != message.TypeForget {
		return nil, nil
	}
	if f.Verify() != nil {
		return nil, nil
	}
	fc, ok := f.Content.(*message.ForgetContent)
	if !ok {
		return nil, nil
	}
	named := make(map[string]bool, len(fc.Hashes))
	for _, h := range fc.Hashes {
		named[h] = true
	}
	var cands []Skeleton
	var hashes []string
	valid := func(s Skeleton) bool {
		if s.Type == string(message.TypeForget) || slices.Contains(hashes, s.ItemHash) {
			return false
		}
		w, err := s.wire()
		if err == nil {
			err = w.Verify()
		}
		if err != nil {
			p.log.Debug("skipping a forgotten skeleton", "item_hash", s.ItemHash, "err", err)
			return false
		}
		return true
	}
	signers := map[string]bool{}
	for _, s := range skels {
		if named[s.ItemHash] && valid(s) {
			cands = append(cands, s)
			hashes = append(hashes, s.ItemHash)
			signers[strings.ToLower(s.Sender)] = true
		}
	}
	// The amends of a forgotten post go with it (spec §4.2): the peer
	// lists them forgotten by the same FORGET, which does not name them.
	// Such a POST is taken when its signer signed a target the FORGET
	// names (an amend has its original's owner). That it amends that
	// target is the peer's word: at worst a post of the same signer,
	// which this node never had, is recorded forgotten.
	for _, s := range skels {
		if !named[s.ItemHash] && s.Type == string(message.TypePost) && signers[strings.ToLower(s.Sender)] &&
			slices.Contains(s.ForgottenBy, f.ItemHash) && valid(s) {
			cands = append(cands, s)
			hashes = append(hashes, s.ItemHash)
		}
	}
	if len(cands) == 0 {
		return nil, nil
	}
	var done []string
	err = p.withTx(ctx, func(tx *ent.Tx) error {
		done = done[:0]
		known, err := tx.MessageStatus.Query().Where(messagestatus.IDIn(hashes...)).IDs(ctx)
		if err != nil {
			return fmt.Errorf("read statuses: %w", err)
		}
		now := p.now().UTC()
		at := message.Timestamp(f.Time)
		for _, s := range cands {
			if slices.Contains(known, s.ItemHash) {
				continue
			}
			a := handler.Action{Sender: f.Sender, Owner: s.Sender, Chain: s.Chain, Type: s.Type}
			if s.Channel != nil {
				a.Channel, a.HasChan = *s.Channel, true
			}
			if err := handler.Authorize(ctx, tx, a); err != nil {
				if c, ok := errcode.CodeOf(err); ok && c == errcode.PermissionDenied {
					p.log.Debug("forgotten skeleton: the FORGET's sender may not act for its signer", "item_hash", s.ItemHash, "forget", f.ItemHash)
					continue
				}
				return err
			}
			payment := "hold"
			if s.PaymentType != nil && *s.PaymentType != "" {
				payment = *s.PaymentType
			}
			owner := s.Owner
			if owner == "" {
				owner = s.Sender
			}
			err := tx.ForgottenMessage.Create().
				SetID(s.ItemHash).SetType(s.Type).SetChain(s.Chain).SetSender(s.Sender).
				SetNillableSignature(s.Signature).SetItemType(s.ItemType).SetTime(message.Timestamp(s.Time)).
				SetNillableChannel(s.Channel).SetOwner(owner).SetPaymentType(payment).
				SetSize(max(s.Size, 0)).SetForgottenBy([]string{f.ItemHash}).SetForgottenAt(at).
				Exec(ctx)
			if err != nil {
				return fmt.Errorf("insert forgotten message: %w", err)
			}
			err = tx.MessageStatus.Create().SetID(s.ItemHash).SetStatus(messagestatus.StatusForgotten).
				SetReceptionTime(now).SetUpdatedAt(now).Exec(ctx)
			if err != nil {
				return fmt.Errorf("insert status: %w", err)
			}
			done = append(done, s.ItemHash)
		}
		if len(done) == 0 {
			return nil
		}
		// A FORGET already waiting for these targets is due now.
		return tx.PendingMessage.Update().Where(pendingmessage.WaitsOnIn(done...)).SetNextAttempt(now).Exec(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("processor: forget skeletons: %w", err)
	}
	return done, nil
}

package cost

import (
	"errors"
	"time"

	"github.com/alephql/alephql/processor/message"
)

// Rules are the payment rules of the network (pyaleph toolkit/costs.py and
// constants): which messages are free, which payment types are still
// accepted, and how credit amounts are scaled. DefaultRules has the
// network's values.
type Rules struct {
	// FreeBefore: an unconfirmed STORE or non-persistent PROGRAM sent
	// before this time needs no balance.
	FreeBefore time.Time
	// FreeBelowHeight: the same for messages first confirmed below this
	// Ethereum height.
	FreeBelowHeight int64
	// HoldAndStreamCutoff: from this message time on, INSTANCE and
	// persistent PROGRAM messages must pay with credits.
	HoldAndStreamCutoff time.Time
	// CreditOnlyCutoff: from this message time on, STORE, PROGRAM and
	// INSTANCE messages must pay with credits, and the free small STORE
	// rule ends.
	CreditOnlyCutoff time.Time
	// MaxFreeStoreSize: a hold STORE of at most this many bytes needs no
	// balance (before CreditOnlyCutoff).
	MaxFreeStoreSize int64
	// CreditPrecisionCutoff: credit amounts of posts sent before this time
	// are multiplied by CreditPrecisionMultiplier (credits were 1/100 USD,
	// they are 1/1 000 000 USD since).
	CreditPrecisionCutoff     time.Time
	CreditPrecisionMultiplier int64
}

// DefaultRules returns the network's rules.
func DefaultRules() Rules {
	return Rules{
		FreeBefore:                time.Unix(1743775079, 0).UTC(),
		FreeBelowHeight:           22196000,
		HoldAndStreamCutoff:       time.Unix(1773187200, 0).UTC(),
		CreditOnlyCutoff:          time.Unix(1798761600, 0).UTC(),
		MaxFreeStoreSize:          25 << 20,
		CreditPrecisionCutoff:     time.Unix(1769990400, 0).UTC(),
		CreditPrecisionMultiplier: 10000,
	}
}

// Validate reports rules that cannot work.
func (r Rules) Validate() error {
	var errs []error
	if r.MaxFreeStoreSize < 0 {
		errs = append(errs, errors.New("cost: MaxFreeStoreSize is negative"))
	}
	if r.CreditPrecisionMultiplier < 1 {
		errs = append(errs, errors.New("cost: CreditPrecisionMultiplier must be at least 1"))
	}
	return errors.Join(errs...)
}

// Free reports whether a STORE or non-persistent PROGRAM is exempt from
// the balance check: first confirmed below FreeBelowHeight, or, when
// unconfirmed (height nil), sent before FreeBefore. The message time is
// the sender's (pyaleph are_store_and_program_free).
func (r Rules) Free(msgTime float64, height *int64) bool {
	if height != nil {
		return *height < r.FreeBelowHeight
	}
	return message.Timestamp(msgTime).Before(r.FreeBefore)
}

// CreditOnly reports whether a message sent at msgTime must pay with
// credits (pyaleph is_credit_only_required).
func (r Rules) CreditOnly(msgTime float64) bool {
	return !message.Timestamp(msgTime).Before(r.CreditOnlyCutoff)
}

// HoldAndStreamDeprecated reports whether INSTANCE and persistent PROGRAM
// messages sent at msgTime must pay with credits
// (pyaleph is_hold_and_stream_deprecated).
func (r Rules) HoldAndStreamDeprecated(msgTime float64) bool {
	return !message.Timestamp(msgTime).Before(r.HoldAndStreamCutoff)
}

// CreditAmount scales a credit amount of a post sent at postTime (its
// content time) to current credits.
func (r Rules) CreditAmount(amount int64, postTime time.Time) int64 {
	if postTime.Before(r.CreditPrecisionCutoff) {
		return amount * r.CreditPrecisionMultiplier
	}
	return amount
}

package processor

import (
	"context"
	"time"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/events"
)

// Lifecycle records the status changes that components other than the
// pipeline make to processed messages (the billing jobs' removing and
// recovered, the collector's removed) inside one transaction, so that the
// message counters and the outbox stay exact: Processor.Lifecycle writes
// them in that transaction and publishes the events after the commit.
type Lifecycle struct {
	now      time.Time
	counters counters
	events   []events.Event
}

// Now is the time of the transaction, the one its events carry.
func (l *Lifecycle) Now() time.Time { return l.now }

// Changed records that m's status went from one value of messages.status
// to another (processed, removing) with an event of kind; related is the
// event's Related (see events.Event).
func (l *Lifecycle) Changed(m *ent.Message, from, to string, kind events.Kind, related string) {
	l.counters.add(counterDims(m.Type, m.Chain, m.Sender, m.Owner, from, m.Channel), -1)
	l.counters.add(counterDims(m.Type, m.Chain, m.Sender, m.Owner, to, m.Channel), 1)
	l.events = append(l.events, rowEvent(m, kind, l.now, related))
}

// Left records that m's messages row was deleted (its status was from),
// with an event of kind.
func (l *Lifecycle) Left(m *ent.Message, from string, kind events.Kind, related string) {
	l.counters.add(counterDims(m.Type, m.Chain, m.Sender, m.Owner, from, m.Channel), -1)
	l.events = append(l.events, rowEvent(m, kind, l.now, related))
}

// Events are the events recorded so far.
func (l *Lifecycle) Events() []events.Event { return l.events }

// Lifecycle runs f in one transaction at the processor's current time,
// then writes the counters and outbox events f recorded, commits, and
// publishes the events. An error from f rolls everything back.
func (p *Processor) Lifecycle(ctx context.Context, f func(ctx context.Context, tx *ent.Tx, l *Lifecycle) error) ([]events.Event, error) {
	l := &Lifecycle{now: p.now().UTC(), counters: counters{}}
	err := p.withTx(ctx, func(tx *ent.Tx) error {
		if err := f(ctx, tx, l); err != nil {
			return err
		}
		if err := l.counters.write(ctx, tx); err != nil {
			return err
		}
		return p.writeEvents(ctx, tx, l.events)
	})
	if err != nil {
		return nil, err
	}
	p.publish(ctx, l.events)
	return l.events, nil
}

// rowEvent is the event of a messages row, with the attributes
// subscription filters match on.
func rowEvent(m *ent.Message, kind events.Kind, at time.Time, related string) events.Event {
	ev := events.Event{
		Kind: kind, At: at, ItemHash: m.ID, Type: m.Type, Chain: m.Chain,
		Sender: m.Sender, Owner: m.Owner, Time: m.Time, Related: related, Tags: m.Tags,
	}
	if m.Channel != nil {
		ev.Channel = *m.Channel
	}
	if m.ContentType != nil {
		ev.ContentType = *m.ContentType
	}
	if m.ContentKey != nil {
		ev.ContentKey = *m.ContentKey
	}
	if m.ContentRef != nil {
		ev.ContentRef = *m.ContentRef
	}
	return ev
}

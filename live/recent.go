package live

import (
	"cmp"
	"slices"
)

// recentEvents are the last events the hub dispatched, in outbox order:
// every event after floor that the hub dispatched, up to its last. The
// oldest go first once there are more than max, or once their cost
// (eventCost) passes maxBytes.
type recentEvents struct {
	max      int
	maxBytes int64
	bytes    int64    // the cost of evs[start:]
	floor    int64    // every dispatched event after floor is in evs[start:]
	evs      []*Event // evs[:start] are dropped (nil), kept for amortized compaction
	start    int
}

// eventCost estimates the memory an event keeps while it is recent: its
// message's content twice (as stored, and in the payloads encoded from
// it) and a fixed part for the rest.
func eventCost(e *Event) int64 {
	n := int64(1024)
	if m := e.Message; m != nil {
		n += 2 * int64(len(m.Content))
		if m.ItemContent != nil {
			n += int64(len(*m.ItemContent))
		}
	}
	return n
}

// reset starts an empty window after seq.
func (r *recentEvents) reset(seq int64) {
	r.floor, r.evs, r.start, r.bytes = seq, nil, 0, 0
}

// add appends the event just dispatched, dropping the oldest beyond max.
func (r *recentEvents) add(e *Event) {
	if r.max <= 0 {
		r.floor = e.Ev.Seq
		return
	}
	r.evs = append(r.evs, e)
	r.bytes += eventCost(e)
	for n := len(r.evs) - r.start; n > r.max || (n > 0 && r.maxBytes > 0 && r.bytes > r.maxBytes); n-- {
		old := r.evs[r.start]
		r.floor, r.bytes = old.Ev.Seq, r.bytes-eventCost(old)
		r.evs[r.start] = nil
		r.start++
	}
	if r.start >= r.max { // compact: the dropped half goes
		r.evs = append([]*Event(nil), r.evs[r.start:]...)
		r.start = 0
	}
}

// after returns up to limit events with ids in (after, upTo], and false
// when the window does not reach back to after.
func (r *recentEvents) after(after, upTo int64, limit int) ([]*Event, bool) {
	if after < r.floor {
		return nil, false
	}
	w := r.evs[r.start:]
	i, _ := slices.BinarySearchFunc(w, after+1, func(e *Event, seq int64) int { return cmp.Compare(e.Ev.Seq, seq) })
	var out []*Event
	for _, e := range w[i:] {
		if e.Ev.Seq > upTo || len(out) == limit {
			break
		}
		out = append(out, e)
	}
	return out, true
}

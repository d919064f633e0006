// Package live is the node's live event hub, shared by the GraphQL
// subscriptions (graph/) and the REST websocket feed (rest/): it reads the
// message_events outbox once for every subscriber, fans each event out to
// the subscriptions whose filter (a read.MessageFilter, the filter of the
// message lists) matches it, and replays what a subscription missed, after
// a resume position or after lagging, from its recent events or from the
// outbox. It knows nothing of GraphQL or of the REST item shapes: a
// consumer maps an Event to its own type, and may attach per-event values
// (Event.Value) that every subscriber of the event shares.
package live

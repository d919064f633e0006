// Package processor is the message pipeline: intake (Submit), a durable
// queue in the database (pending_messages), a fetch stage (non-inline
// content, related files) and a process stage that verifies signatures in
// parallel and applies messages in protocol order (next attempt, which is
// the message time for history, then hash) in batched transactions through
// the handlers of package processor/handler.
//
// Nothing lives only in memory: a message is stored as pending before
// Submit returns, and a batch's state changes, status changes, counters
// and outbox events commit together, so a crash at any instant loses
// nothing and applies nothing twice. Several processors may share one
// PostgreSQL database: rows are claimed with FOR UPDATE SKIP LOCKED (process
// stage) or a lease (fetch stage), and derived state is guarded by
// advisory locks.
//
// Two shortcuts keep bulk loads fast without weakening that. On
// PostgreSQL the process stage claims and verifies the next batch while
// the current one writes (pipeline.go). An import applies its inline POST
// and AGGREGATE messages in the intake transaction itself instead of
// queueing them (direct.go): the transaction that takes a message in also
// settles it, so it is still all or nothing.
package processor

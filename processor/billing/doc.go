// Package billing takes back what nobody pays for: the hold-balance job
// and the credit job of the reference node (pyaleph
// jobs/cron/balance_job.py and credit_balance_job.py, protocol reference
// §5.5) and the finalization the garbage collector does after them.
//
// Each job looks only at the addresses whose balance (balances.last_update)
// or credit history (credit_history.last_update) changed since its last
// run (cron_jobs.last_run), and walks each address's confirmed paid
// messages of its payment type in the order of their first cost row,
// spending the address's balance on them. A message the remaining balance
// does not cover becomes REMOVING (its STORE pins become grace pins, a
// snapshot goes into removed_messages with the reason); a REMOVING message
// that is covered again is RECOVERED (PROCESSED again, its pins and
// snapshot restored). Each address is settled in one transaction, with its
// counters and outbox events, so a crash leaves every address either
// settled or untouched, and a job that did not finish does not advance
// last_run: the next run settles the rest.
//
// Finalize (called by the garbage collector after each round) turns
// REMOVING messages that no pin holds any more into REMOVED: the
// removed_messages snapshot gets removed_at, the messages row goes with
// its cost rows.
//
// Where this package departs from the reference node:
//
//   - a message confirmed by several transactions counts once, at its
//     lowest confirmation height; pyaleph's inner join counts its cost once
//     per transaction, which removes resources an account pays for;
//   - the small-STORE exception of the credit job compares the message's
//     observed time (first confirmation, else reception) with the
//     credit-only cut-off, as pyaleph does today, rather than the
//     sender-declared time, which a sender could backdate.
package billing

// Package delivery owns plugin_deliveries and plugin_delivery_attempts: the durable,
// per-(plugin, session) ordered queue that carries outbox events to plugins, with retries, replay and a delivery log.
// It never talks to plugin processes (its caller's Deliver does) and never reads sessions or session_events.
//
// # Why not River
//
// River would give durable jobs and retries, but ordered execution per key
// (River's "sequences") is a River Pro feature, and its SQLite driver is
// young; we need order per (plugin, session) on both SQLite and PostgreSQL.
// So the queue is table-driven, in the style of core/queue's timers: plain
// rows, claimed with one conditional UPDATE ... RETURNING (PostgreSQL, and
// SQLite >= 3.35 as in modernc.org/sqlite), results written in batched
// transactions.
//
// # Guarantees
//
//   - At least once: a delivery row is written in the transaction that
//     writes the outbox row (Enqueue), so a committed event is never lost.
//     A claim sets state running with a lease; a hub that dies mid-delivery
//     leaves the row running, and Recover (at start) or the lease's expiry
//     (any node) hands it back. Plugins de-duplicate on the stable ID
//     "evt_<event_id>".
//   - Order per (plugin, session): only the unfinished delivery with the
//     lowest event_id of a (plugin, session) can be claimed, so a retrying
//     delivery holds back the later ones of its session; a failed or
//     skipped one does not. Event ids must therefore be committed in order
//     per session, which core/sessions ensures by locking the session row.
//     A replayed delivery is re-sent after later ones, by nature.
//   - Never twice at once: a claim is a conditional update, and a result is
//     recorded only if the claim (state running, same attempt number) still
//     holds. The lease is longer than the delivery timeout, so a delivery
//     is only taken over once its first worker has given up on it.
//   - Retries: exponential backoff with full jitter, or the plugin's
//     RetryAfter, for up to MaxAge (three days) after the first attempt;
//     then failed. Replay opens a fresh window.
//
// # Cost
//
// Run claims on Wake (after each enqueueing commit), when a slot or a
// recorded result may have made work due, and every PollInterval. Each
// pass lists the plugins with pending work (one index probe per plugin)
// and claims per plugin with one UPDATE ... RETURNING; results are
// written in batches, one transaction per batch. Deliveries waiting behind
// a retrying one are deferred to its next attempt, so the claim does not
// look at them; those waiting behind a running one are looked at (one
// index probe each) by every claim until it ends, which is cheap while a
// session's backlog is hundreds of events, not millions. Delivered rows are
// kept for the log; nothing prunes them yet.
package delivery

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
//   - Order per (plugin, session): of the unfinished deliveries of a
//     (plugin, session) only the first, its head, is pending or running;
//     the later ones wait in state blocked ("waiting for an earlier
//     delivery of the same session"). Enqueue inserts a delivery blocked
//     when its session has an unfinished one, pending otherwise; when the
//     head ends (delivered, failed or skipped, not a retry) the
//     transaction that records it makes the blocked one with the lowest
//     event id pending, due at once. So a retrying delivery holds back the
//     later ones of its session; a failed or skipped one does not. Event
//     ids must therefore be committed in order per session, which
//     core/sessions ensures by locking the session row. A replayed
//     delivery is pending if its session has nothing unfinished, else
//     blocked, and then goes right after the current head (its event is
//     older than those enqueued after it); it is re-sent after later ones
//     that were already delivered, by nature.
//   - Never twice at once: a claim is a conditional update, and a result is
//     recorded only if the claim (state running, same attempt number) still
//     holds. The lease is longer than the delivery timeout, so a delivery
//     is only taken over once its first worker has given up on it.
//   - Retries: exponential backoff with full jitter, or the plugin's
//     RetryAfter, for up to MaxAge (three days) after the first attempt;
//     then failed. Replay opens a fresh window.
//
// # Order on SQLite and PostgreSQL
//
// SQLite runs one write transaction at a time (BEGIN IMMEDIATE), so
// Enqueue, record and replay always see each other's rows and the table
// never holds two heads for a session, or blocked deliveries without one.
// On PostgreSQL (read committed) two of them racing can: two enqueueing
// transactions that do not see each other may both insert pending
// deliveries, and an enqueue that saw a head running may commit its
// blocked delivery after the head's end was recorded, which promoted
// nothing. Order still holds, because the claim takes a delivery only if
// no other delivery of its plugin and session is pending or running,
// checked in the claiming statement itself, so across nodes too: of two
// pending ones, both are refused. repair, run every PollInterval (less
// often when the backlog makes it slow), then blocks the later of two
// heads and promotes the first blocked delivery of a session without a
// head; either race costs the session a delay, never its order.
//
// # Cost
//
// Run claims on Wake (after each enqueueing commit), when a slot or a
// recorded result may have made work due, and every PollInterval. Each
// pass lists the plugins with pending work (one index probe per plugin)
// and claims per plugin with one UPDATE ... RETURNING that walks the due
// index (pending rows by next_at) and stops at its limit: since only
// heads are pending, it never looks at the deliveries waiting behind
// them, however long the backlog, and its guard costs one index probe per
// picked row. Enqueue costs two index probes per plugin; recording a batch
// adds one statement that promotes the next delivery of each session that
// ended (three index probes each). Results are written in batches, one
// transaction per batch. repair reads every unfinished delivery (two
// index scans, about 5 ms for 9,000 on either engine), so it waits at
// least twenty times as long as it ran. Delivered rows are kept for the
// log; nothing prunes them yet.
package delivery

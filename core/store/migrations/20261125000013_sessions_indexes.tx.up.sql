-- Every session transition rewrites its row, and as the state (and most
-- times the queue, the technician or the PIN) changes, PostgreSQL inserts
-- it into each index again. Ended sessions, the great majority, are never
-- looked up by state, queue or PIN: these indexes now hold only the rows
-- that are, so a transition to or past the end inserts into fewer of them
-- and the indexes stay small. The PIN is set only while a session is
-- pending, on both engines. SQLite proves a partial index usable only from
-- terms like the index's own, so its state and queue indexes stay whole.
--
-- A technician's active sessions are counted on every pick-up (SESS-16):
-- the technician index gets the state as a second column, so the count
-- reads only the active ones instead of every session the technician ever
-- had.
DROP INDEX sessions_technician;
--bun:split
CREATE INDEX sessions_technician ON sessions (technician_id, state);
--bun:split
DROP INDEX sessions_pin;
--bun:split
CREATE UNIQUE INDEX sessions_pin ON sessions (pin) WHERE pin IS NOT NULL;
{{if eq .TS "TIMESTAMPTZ"}}
--bun:split
DROP INDEX sessions_state;
--bun:split
CREATE INDEX sessions_state ON sessions (state) WHERE state NOT IN ('closed', 'timed_out');
--bun:split
DROP INDEX sessions_queue;
--bun:split
CREATE INDEX sessions_queue ON sessions (queue_kind, queue_id) WHERE queue_kind <> '';
{{end}}

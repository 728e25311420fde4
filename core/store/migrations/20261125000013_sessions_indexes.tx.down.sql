-- Whole indexes again, and the technician's alone.
DROP INDEX sessions_technician;
--bun:split
CREATE INDEX sessions_technician ON sessions (technician_id);
--bun:split
DROP INDEX sessions_pin;
--bun:split
CREATE UNIQUE INDEX sessions_pin ON sessions (pin);
{{if eq .TS "TIMESTAMPTZ"}}
--bun:split
DROP INDEX sessions_state;
--bun:split
CREATE INDEX sessions_state ON sessions (state);
--bun:split
DROP INDEX sessions_queue;
--bun:split
CREATE INDEX sessions_queue ON sessions (queue_kind, queue_id);
{{end}}

-- Back to five states: blocked deliveries become pending again; the claim
-- of migration 20261125000006 checks the order per row itself.
DROP INDEX plugin_deliveries_blocked;
--bun:split
UPDATE plugin_deliveries SET state = 'pending' WHERE state = 'blocked';
--bun:split
{{if eq .TS "TIMESTAMPTZ"}}
DROP INDEX plugin_deliveries_unfinished;
--bun:split
CREATE INDEX plugin_deliveries_unfinished ON plugin_deliveries (plugin_id, session_id, event_id) WHERE state IN ('pending', 'running');
--bun:split
ALTER TABLE plugin_deliveries DROP CONSTRAINT plugin_deliveries_state_check;
--bun:split
ALTER TABLE plugin_deliveries ADD CONSTRAINT plugin_deliveries_state_check
    CHECK (state IN ('pending', 'running', 'delivered', 'failed', 'skipped'));
{{else}}
CREATE TABLE plugin_deliveries_new (
    id {{.ID}},
    plugin_id TEXT NOT NULL,
    event_id BIGINT NOT NULL,
    session_id BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    actor_id BIGINT NOT NULL DEFAULT 0,
    payload TEXT NOT NULL DEFAULT '{}',
    event_at {{.TS}} NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'delivered', 'failed', 'skipped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    window_start {{.TS}},
    window_attempts INTEGER NOT NULL DEFAULT 0,
    next_at {{.TS}} NOT NULL,
    created_at {{.TS}} NOT NULL,
    lease_until {{.TS}},
    claimed_by TEXT NOT NULL DEFAULT '',
    delivered_at {{.TS}},
    last_error TEXT NOT NULL DEFAULT ''
);
--bun:split
INSERT INTO plugin_deliveries_new (id, plugin_id, event_id, session_id, event_type, actor_id, payload, event_at,
    state, attempts, window_start, window_attempts, next_at, created_at, lease_until, claimed_by, delivered_at, last_error)
SELECT id, plugin_id, event_id, session_id, event_type, actor_id, payload, event_at,
    state, attempts, window_start, window_attempts, next_at, created_at, lease_until, claimed_by, delivered_at, last_error
FROM plugin_deliveries;
--bun:split
CREATE TABLE plugin_delivery_attempts_copy AS SELECT * FROM plugin_delivery_attempts;
--bun:split
-- Keep the id counters: a table's counter may exceed its highest id.
DELETE FROM sqlite_sequence WHERE name IN ('plugin_deliveries_new', 'plugin_delivery_attempts_copy');
--bun:split
INSERT INTO sqlite_sequence (name, seq)
SELECT 'plugin_deliveries_new', max(seq) FROM sqlite_sequence WHERE name = 'plugin_deliveries' HAVING count(*) > 0;
--bun:split
INSERT INTO sqlite_sequence (name, seq)
SELECT 'plugin_delivery_attempts_copy', max(seq) FROM sqlite_sequence WHERE name = 'plugin_delivery_attempts' HAVING count(*) > 0;
--bun:split
DROP TABLE plugin_delivery_attempts;
--bun:split
DROP TABLE plugin_deliveries;
--bun:split
ALTER TABLE plugin_deliveries_new RENAME TO plugin_deliveries;
--bun:split
CREATE TABLE plugin_delivery_attempts (
    id {{.ID}},
    delivery_id BIGINT NOT NULL REFERENCES plugin_deliveries (id) ON DELETE CASCADE,
    at {{.TS}} NOT NULL,
    duration_ms BIGINT NOT NULL DEFAULT 0,
    outcome TEXT NOT NULL CHECK (outcome IN ('ack', 'retry', 'permanent', 'error', 'skipped')),
    error TEXT NOT NULL DEFAULT ''
);
--bun:split
INSERT INTO plugin_delivery_attempts (id, delivery_id, at, duration_ms, outcome, error)
SELECT id, delivery_id, at, duration_ms, outcome, error FROM plugin_delivery_attempts_copy;
--bun:split
DELETE FROM sqlite_sequence WHERE name = 'plugin_delivery_attempts';
--bun:split
UPDATE sqlite_sequence SET name = 'plugin_delivery_attempts' WHERE name = 'plugin_delivery_attempts_copy';
--bun:split
DROP TABLE plugin_delivery_attempts_copy;
--bun:split
CREATE INDEX plugin_delivery_attempts_delivery ON plugin_delivery_attempts (delivery_id, id);
--bun:split
CREATE UNIQUE INDEX plugin_deliveries_plugin_event ON plugin_deliveries (plugin_id, event_id);
--bun:split
CREATE INDEX plugin_deliveries_due ON plugin_deliveries (plugin_id, next_at, id) WHERE state = 'pending';
--bun:split
CREATE INDEX plugin_deliveries_unfinished ON plugin_deliveries (plugin_id, session_id, event_id) WHERE state IN ('pending', 'running');
--bun:split
CREATE INDEX plugin_deliveries_lease ON plugin_deliveries (lease_until) WHERE state = 'running';
--bun:split
CREATE INDEX plugin_deliveries_log ON plugin_deliveries (plugin_id, id);
--bun:split
CREATE INDEX plugin_deliveries_log_state ON plugin_deliveries (plugin_id, state, id);
--bun:split
CREATE INDEX plugin_deliveries_plugin_session ON plugin_deliveries (plugin_id, session_id);
{{end}}

-- Durable deliveries of outbox events to plugins (owned by
-- core/pluginhost/delivery): one row per (plugin, event), written in the
-- transaction that writes the outbox row. The event is copied so that a
-- delivery is self-contained and replayable after its session is deleted,
-- hence no foreign key to sessions.
CREATE TABLE plugin_deliveries (
    id {{.ID}},
    plugin_id TEXT NOT NULL,
    -- The outbox row id (session_events.id); plugins see it as "evt_<event_id>".
    event_id BIGINT NOT NULL,
    session_id BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    actor_id BIGINT NOT NULL DEFAULT 0,
    payload TEXT NOT NULL DEFAULT '{}',
    event_at {{.TS}} NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'delivered', 'failed', 'skipped')),
    -- Every attempt ever made; the attempt number shown to the plugin.
    attempts INTEGER NOT NULL DEFAULT 0,
    -- The retry window: opened by the first attempt (or the first after a
    -- replay); window_attempts drives the backoff.
    window_start {{.TS}},
    window_attempts INTEGER NOT NULL DEFAULT 0,
    next_at {{.TS}} NOT NULL,
    created_at {{.TS}} NOT NULL,
    -- While running: when another worker may take the delivery over, and
    -- which hub node claimed it (Recover hands back only its own).
    lease_until {{.TS}},
    claimed_by TEXT NOT NULL DEFAULT '',
    delivered_at {{.TS}},
    last_error TEXT NOT NULL DEFAULT ''
);
--bun:split
CREATE UNIQUE INDEX plugin_deliveries_plugin_event ON plugin_deliveries (plugin_id, event_id);
--bun:split
-- The claim: due pending rows of one plugin, oldest first.
CREATE INDEX plugin_deliveries_due ON plugin_deliveries (plugin_id, next_at, id) WHERE state = 'pending';
--bun:split
-- The order check: the unfinished deliveries of one plugin and session.
CREATE INDEX plugin_deliveries_unfinished ON plugin_deliveries (plugin_id, session_id, event_id) WHERE state IN ('pending', 'running');
--bun:split
-- Expired leases.
CREATE INDEX plugin_deliveries_lease ON plugin_deliveries (lease_until) WHERE state = 'running';
--bun:split
-- The delivery log, newest first, with or without a state filter.
CREATE INDEX plugin_deliveries_log ON plugin_deliveries (plugin_id, id);
--bun:split
CREATE INDEX plugin_deliveries_log_state ON plugin_deliveries (plugin_id, state, id);
--bun:split
-- One row per attempt, kept when a delivery is replayed.
CREATE TABLE plugin_delivery_attempts (
    id {{.ID}},
    delivery_id BIGINT NOT NULL REFERENCES plugin_deliveries (id) ON DELETE CASCADE,
    at {{.TS}} NOT NULL,
    duration_ms BIGINT NOT NULL DEFAULT 0,
    outcome TEXT NOT NULL CHECK (outcome IN ('ack', 'retry', 'permanent', 'error', 'skipped')),
    error TEXT NOT NULL DEFAULT ''
);
--bun:split
CREATE INDEX plugin_delivery_attempts_delivery ON plugin_delivery_attempts (delivery_id, id);

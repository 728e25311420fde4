-- Sessions (owned by core/sessions). The aggregate of core/session is kept
-- whole as JSON in `aggregate`; the columns beside it are what queues,
-- look-ups and reports filter on, written from the aggregate on every save.
CREATE TABLE sessions (
    id {{.ID}},
    kind TEXT NOT NULL CHECK (kind IN ('private', 'channel')),
    state TEXT NOT NULL,
    channel_id BIGINT REFERENCES nodes (id) ON DELETE SET NULL,
    tech_group_id BIGINT REFERENCES nodes (id) ON DELETE SET NULL,
    technician_id BIGINT REFERENCES nodes (id) ON DELETE SET NULL,
    creator_id BIGINT REFERENCES nodes (id) ON DELETE SET NULL,
    -- Where a queued session waits: a channel, a technician group or one technician.
    queue_kind TEXT NOT NULL DEFAULT '',
    queue_id BIGINT NOT NULL DEFAULT 0,
    -- Set only while the PIN is live (Pending); cleared when used or ended.
    pin TEXT,
    pin_expires_at {{.TS}},
    customer_name TEXT NOT NULL DEFAULT '',
    cfield0 TEXT NOT NULL DEFAULT '',
    cfield1 TEXT NOT NULL DEFAULT '',
    cfield2 TEXT NOT NULL DEFAULT '',
    cfield3 TEXT NOT NULL DEFAULT '',
    cfield4 TEXT NOT NULL DEFAULT '',
    cfield5 TEXT NOT NULL DEFAULT '',
    tracking_id TEXT NOT NULL DEFAULT '',
    client_kind TEXT NOT NULL DEFAULT '',
    platform TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT '',
    test BOOLEAN NOT NULL DEFAULT FALSE,
    -- SHA-256 of the customer's session secret (joins and resumes the relay).
    customer_secret_hash TEXT NOT NULL DEFAULT '',
    aggregate TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at {{.TS}} NOT NULL,
    updated_at {{.TS}} NOT NULL,
    ended_at {{.TS}}
);
--bun:split
CREATE UNIQUE INDEX sessions_pin ON sessions (pin);
--bun:split
CREATE INDEX sessions_state ON sessions (state);
--bun:split
CREATE INDEX sessions_technician ON sessions (technician_id);
--bun:split
CREATE INDEX sessions_queue ON sessions (queue_kind, queue_id);
--bun:split
CREATE INDEX sessions_customer_secret ON sessions (customer_secret_hash);
--bun:split
-- The outbox (owned by core/sessions): one row per state change, chat or
-- note append, written in the same transaction; plugins consume it later.
CREATE TABLE session_events (
    id {{.ID}},
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    actor_id BIGINT NOT NULL DEFAULT 0,
    payload TEXT NOT NULL DEFAULT '{}',
    at {{.TS}} NOT NULL
);
--bun:split
CREATE INDEX session_events_session ON session_events (session_id, id);
--bun:split
-- Durable timers (owned by core/queue): one row per (session, kind); the
-- sweeper claims due rows with a conditional update, so a restart or a
-- second node never fires one twice.
CREATE TABLE session_timers (
    id {{.ID}},
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    due_at {{.TS}} NOT NULL,
    fired_at {{.TS}},
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT ''
);
--bun:split
CREATE UNIQUE INDEX session_timers_session_kind ON session_timers (session_id, kind);
--bun:split
CREATE INDEX session_timers_due ON session_timers (due_at);
--bun:split
-- The message log (owned by core/relay): chat, notes, system messages, URL
-- pushes and file offers, numbered per session.
CREATE TABLE session_messages (
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    sender_kind TEXT NOT NULL,
    sender_id BIGINT NOT NULL DEFAULT 0,
    audience TEXT NOT NULL DEFAULT 'all',
    body TEXT NOT NULL DEFAULT '',
    payload TEXT NOT NULL DEFAULT '{}',
    created_at {{.TS}} NOT NULL,
    PRIMARY KEY (session_id, seq)
);
--bun:split
-- Collaborators invited into a session (owned by core/relay), SESS-12.
CREATE TABLE session_collaborators (
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    technician_id BIGINT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    invited_by BIGINT NOT NULL DEFAULT 0,
    invited_at {{.TS}} NOT NULL,
    joined_at {{.TS}},
    left_at {{.TS}},
    PRIMARY KEY (session_id, technician_id)
);
--bun:split
-- Technician presence (owned by core/queue), SESS-16.
CREATE TABLE technician_presence (
    member_id BIGINT PRIMARY KEY REFERENCES nodes (id) ON DELETE CASCADE,
    chosen_status TEXT NOT NULL DEFAULT 'offline',
    signed_in_at {{.TS}},
    last_activity_at {{.TS}},
    last_session_end_at {{.TS}},
    updated_at {{.TS}} NOT NULL
);
--bun:split
-- PIN entries per client IP (owned by core/sessions), for throttling guesses.
CREATE TABLE pin_attempts (
    id {{.ID}},
    ip TEXT NOT NULL,
    success BOOLEAN NOT NULL,
    at {{.TS}} NOT NULL
);
--bun:split
CREATE INDEX pin_attempts_ip_at ON pin_attempts (ip, at);

-- The organisation tree: one row per unit (the organisation root, admin groups,
-- technician groups, members, channels). Kind-specific data lives in the
-- tables below, keyed by the node's id, so NodeIDs are unique across kinds as
-- the original's getHierarchy expects.
CREATE TABLE nodes (
    id {{.ID}},
    parent_id BIGINT REFERENCES nodes (id) ON DELETE RESTRICT,
    kind TEXT NOT NULL CHECK (kind IN ('org', 'admin_group', 'tech_group', 'master', 'admin', 'technician', 'channel')),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_at {{.TS}} NOT NULL,
    updated_at {{.TS}} NOT NULL
);
--bun:split
CREATE INDEX nodes_parent ON nodes (parent_id);
--bun:split
CREATE INDEX nodes_kind ON nodes (kind);
--bun:split
CREATE TABLE members (
    node_id BIGINT PRIMARY KEY REFERENCES nodes (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    nickname TEXT NOT NULL DEFAULT '',
    sso_id TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL DEFAULT '',
    password_changed_at {{.TS}},
    must_change_password BOOLEAN NOT NULL DEFAULT FALSE
);
--bun:split
CREATE UNIQUE INDEX members_email ON members (email);
--bun:split
CREATE INDEX members_sso_id ON members (sso_id);
--bun:split
CREATE TABLE admin_tech_groups (
    admin_id BIGINT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    tech_group_id BIGINT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    PRIMARY KEY (admin_id, tech_group_id)
);
--bun:split
CREATE TABLE channels (
    node_id BIGINT PRIMARY KEY REFERENCES nodes (id) ON DELETE CASCADE,
    number INTEGER NOT NULL UNIQUE CHECK (number BETWEEN 1 AND 10)
);
--bun:split
CREATE TABLE channel_groups (
    channel_id BIGINT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    tech_group_id BIGINT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    PRIMARY KEY (channel_id, tech_group_id)
);
--bun:split
CREATE TABLE channel_exclusions (
    channel_id BIGINT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    technician_id BIGINT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    PRIMARY KEY (channel_id, technician_id)
);
--bun:split
-- One row per (unit, section) that has its own value; units without a row
-- inherit from the nearest ancestor that has one, then from the default.
CREATE TABLE settings (
    id {{.ID}},
    unit_id BIGINT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    section TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at {{.TS}} NOT NULL,
    updated_by BIGINT REFERENCES nodes (id) ON DELETE SET NULL
);
--bun:split
CREATE UNIQUE INDEX settings_unit_section ON settings (unit_id, section);
--bun:split
-- Bearer tokens, web sessions and compatibility-API auth codes. Only the
-- SHA-256 of a token is stored.
CREATE TABLE auth_tokens (
    id {{.ID}},
    member_id BIGINT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('api', 'web', 'compat')),
    token_hash TEXT NOT NULL UNIQUE,
    restricted BOOLEAN NOT NULL DEFAULT FALSE,
    client_ip TEXT NOT NULL DEFAULT '',
    created_at {{.TS}} NOT NULL,
    expires_at {{.TS}} NOT NULL,
    last_used_at {{.TS}},
    revoked_at {{.TS}}
);
--bun:split
CREATE INDEX auth_tokens_member ON auth_tokens (member_id);
--bun:split
-- Every sign-in attempt: the source for throttling and, later, the login report.
CREATE TABLE sign_in_attempts (
    id {{.ID}},
    email TEXT NOT NULL,
    member_id BIGINT REFERENCES nodes (id) ON DELETE SET NULL,
    ip TEXT NOT NULL,
    success BOOLEAN NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    at {{.TS}} NOT NULL
);
--bun:split
CREATE INDEX sign_in_attempts_email_at ON sign_in_attempts (email, at);
--bun:split
CREATE INDEX sign_in_attempts_ip_at ON sign_in_attempts (ip, at);

-- The plugin catalogue (owned by core/pluginhost/catalogue): one row per
-- installed or bundled plugin. sha256 is the executable's checksum pinned at
-- install; the host hands it to go-plugin's SecureConfig and never trusts a
-- checksum computed from the file it is about to run.
CREATE TABLE plugins (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    -- plugin.json as validated at install.
    manifest TEXT NOT NULL,
    -- <plugins root>/<id>/<version>; empty for bundled plugins.
    dir TEXT NOT NULL DEFAULT '',
    -- Absolute path of the file to run, and its arguments as a JSON list
    -- (bundled plugins run the hub's own binary as "plugin run <id>").
    executable TEXT NOT NULL,
    args TEXT NOT NULL DEFAULT '[]',
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    bundled BOOLEAN NOT NULL DEFAULT FALSE,
    enabled BOOLEAN NOT NULL DEFAULT FALSE,
    state TEXT NOT NULL DEFAULT 'installed'
        CHECK (state IN ('installed', 'starting', 'running', 'failed', 'stopped', 'disabled')),
    last_error TEXT NOT NULL DEFAULT '',
    failures INTEGER NOT NULL DEFAULT 0,
    installed_at {{.TS}} NOT NULL,
    updated_at {{.TS}} NOT NULL
);
--bun:split
-- Each plugin's own key-value space (owned by core/pluginhost/kv); removing
-- a plugin removes its keys. BYTEA is PostgreSQL's binary type; SQLite gives
-- the column NUMERIC affinity, which stores blobs unchanged.
CREATE TABLE plugin_kv (
    plugin_id TEXT NOT NULL REFERENCES plugins (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value BYTEA NOT NULL,
    updated_at {{.TS}} NOT NULL,
    PRIMARY KEY (plugin_id, key)
);

-- The host API checks that a plugin was sent a session before letting it
-- read or change it.
CREATE INDEX plugin_deliveries_plugin_session ON plugin_deliveries (plugin_id, session_id);

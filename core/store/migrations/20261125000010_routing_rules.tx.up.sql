-- Routing rules (issue 5), owned by core/rules. A rule belongs to one list:
-- a channel's (channel sessions) or a technician group's (private sessions);
-- body is the rule's JSON as the API carries it, checked and compiled when saved.
CREATE TABLE routing_rules (
    id {{.ID}},
    channel_id BIGINT REFERENCES nodes (id) ON DELETE CASCADE,
    group_id BIGINT REFERENCES nodes (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at {{.TS}} NOT NULL,
    updated_at {{.TS}} NOT NULL,
    CHECK ((channel_id IS NULL) <> (group_id IS NULL))
);
CREATE INDEX routing_rules_channel ON routing_rules (channel_id, position);
CREATE INDEX routing_rules_group ON routing_rules (group_id, position);

-- Rule packs shipped by plugins (routing capability), one per plugin,
-- read-only; rules is the JSON list of the pack's rules.
CREATE TABLE routing_packs (
    id {{.ID}},
    plugin_id TEXT NOT NULL UNIQUE,
    version TEXT NOT NULL,
    rules TEXT NOT NULL,
    installed_at {{.TS}} NOT NULL
);

-- The channels a pack is enabled on.
CREATE TABLE routing_pack_channels (
    pack_id BIGINT NOT NULL REFERENCES routing_packs (id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    PRIMARY KEY (pack_id, channel_id)
);

-- Who changed which rule (or pack) when, with the JSON before and after.
CREATE TABLE routing_audit (
    id {{.ID}},
    at {{.TS}} NOT NULL,
    actor_id BIGINT NOT NULL,
    action TEXT NOT NULL,
    rule_id BIGINT NOT NULL,
    pack_id BIGINT NOT NULL,
    channel_id BIGINT NOT NULL,
    group_id BIGINT NOT NULL,
    old_json TEXT NOT NULL,
    new_json TEXT NOT NULL
);
CREATE INDEX routing_audit_channel ON routing_audit (channel_id, id);
CREATE INDEX routing_audit_group ON routing_audit (group_id, id);

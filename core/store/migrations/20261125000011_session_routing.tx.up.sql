-- Where routing rules (issue 5) put a waiting channel session, owned by
-- core/sessions: the rule that matched in the queue it was routed in, the
-- escalation step and since when, and the technicians the step offers it to.
-- step -1: the rule's chain is over and the channel's own settings apply.
CREATE TABLE session_routing (
    session_id BIGINT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    queue_kind TEXT NOT NULL,
    queue_id BIGINT NOT NULL,
    rule_id BIGINT NOT NULL,
    rule_name TEXT NOT NULL,
    step INTEGER NOT NULL,
    step_since {{.TS}} NOT NULL,
    eligible TEXT NOT NULL DEFAULT '[]',
    priority INTEGER NOT NULL
);

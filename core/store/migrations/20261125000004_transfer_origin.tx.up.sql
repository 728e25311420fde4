-- The queue a transferred session came from, so that its technicians see it
-- as Outgoing / Transferred until someone picks it up (SESS-10, Q-1).
ALTER TABLE sessions ADD COLUMN prev_queue_kind TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE sessions ADD COLUMN prev_queue_id BIGINT NOT NULL DEFAULT 0;

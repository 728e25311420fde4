ALTER TABLE sessions DROP COLUMN prev_queue_id;
--bun:split
ALTER TABLE sessions DROP COLUMN prev_queue_kind;

ALTER TABLE sessions DROP COLUMN tools_used;
--bun:split
ALTER TABLE sessions DROP COLUMN transmitted;

-- Bytes relayed (P2U-2 Transmitted) and console tools used (SESS-14) per session.
ALTER TABLE sessions ADD COLUMN transmitted BIGINT NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE sessions ADD COLUMN tools_used TEXT NOT NULL DEFAULT '[]';

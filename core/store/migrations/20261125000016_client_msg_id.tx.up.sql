-- A message sent again after a reconnect carries the client_msg_id it had
-- the first time, and is not stored twice (core/relay): each append with an
-- id looks for it among the sender's messages in the session's last 200.
-- The id was only in the payload, so the look-up read up to 200 rows and
-- matched their payloads with LIKE: more than half of a chat message's
-- store time on PostgreSQL once a conversation is long. The id now has a
-- column of its own, indexed with the session, and the look-up is one
-- probe of that index. The payload still holds it, as messages show it.
ALTER TABLE session_messages ADD COLUMN client_msg_id TEXT;
--bun:split
UPDATE session_messages
SET client_msg_id = {{if .Postgres}}(payload::jsonb) ->> 'client_msg_id'{{else}}json_extract(payload, '$.client_msg_id'){{end}}
WHERE payload LIKE '%"client_msg_id":%';
--bun:split
CREATE INDEX session_messages_client_msg ON session_messages (session_id, client_msg_id) WHERE client_msg_id IS NOT NULL;

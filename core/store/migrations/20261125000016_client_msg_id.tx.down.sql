DROP INDEX session_messages_client_msg;
--bun:split
ALTER TABLE session_messages DROP COLUMN client_msg_id;

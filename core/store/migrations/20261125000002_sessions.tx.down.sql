DROP TABLE pin_attempts;
--bun:split
DROP TABLE technician_presence;
--bun:split
DROP TABLE session_collaborators;
--bun:split
DROP TABLE session_messages;
--bun:split
DROP TABLE session_timers;
--bun:split
DROP TABLE session_events;
--bun:split
DROP TABLE sessions;

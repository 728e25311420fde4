-- tether_active_sessions (migration 14) was given the active states as an
-- array. PL/pgSQL plans its count once per connection and, after five
-- calls, may keep a generic plan; with the states a parameter, that plan
-- read every session the technician ever had through the technician index
-- and filtered the states afterwards: a pick-up by a technician with a
-- thousand ended sessions read a thousand index entries and their rows.
-- Writing the states in the text is not enough: a plan made while the
-- table is small, or without statistics, still reads the technician's
-- entries and filters `state IN (...)` afterwards. An equality on each
-- column of the (technician_id, state) index is always a condition of the
-- index scan, so the function sums one count per active state: four
-- probes of the index that read only active sessions, whatever the
-- statistics say when the plan is made.
--
-- The states are core/sessions' activeStates; a test there keeps the two
-- lists the same.
{{if .Postgres}}
DROP FUNCTION tether_active_sessions(BIGINT, TEXT[]);
--bun:split
CREATE FUNCTION tether_active_sessions(technician BIGINT) RETURNS BIGINT
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	-- 1952805992 is 'teth': the first key keeps these locks apart from
	-- other users of advisory locks.
	PERFORM pg_advisory_xact_lock(1952805992, (technician % 2147483647)::int);
	RETURN (SELECT count(*) FROM sessions WHERE technician_id = technician AND state = 'active')
		+ (SELECT count(*) FROM sessions WHERE technician_id = technician AND state = 'on_hold')
		+ (SELECT count(*) FROM sessions WHERE technician_id = technician AND state = 'rebooting')
		+ (SELECT count(*) FROM sessions WHERE technician_id = technician AND state = 'reconnecting');
END
$$;
{{else}}
SELECT 1;
{{end}}

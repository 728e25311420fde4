-- A technician's group allows them so many active sessions at once
-- (SESS-16). On PostgreSQL a pick-up counts them and saves the session in
-- one statement, and two pick-ups for the same technician at once (two
-- clicks, two hubs auto-starting) would each count before the other's
-- commit and both win. tether_active_sessions first takes a lock on the
-- technician that is held until the calling transaction ends, then counts
-- with a fresh snapshot (a volatile function takes one per statement), so
-- the second pick-up counts the first one's session once it committed.
-- SQLite's write transactions are serial and need none of this.
{{if .Postgres}}
CREATE FUNCTION tether_active_sessions(technician BIGINT, states TEXT[]) RETURNS BIGINT
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	-- 1952805992 is 'teth': the first key keeps these locks apart from
	-- other users of advisory locks.
	PERFORM pg_advisory_xact_lock(1952805992, (technician % 2147483647)::int);
	RETURN (SELECT count(*) FROM sessions WHERE technician_id = technician AND state = ANY (states));
END
$$;
{{else}}
SELECT 1;
{{end}}

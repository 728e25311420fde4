{{if .Postgres}}
DROP FUNCTION tether_active_sessions(BIGINT);
--bun:split
CREATE FUNCTION tether_active_sessions(technician BIGINT, states TEXT[]) RETURNS BIGINT
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(1952805992, (technician % 2147483647)::int);
	RETURN (SELECT count(*) FROM sessions WHERE technician_id = technician AND state = ANY (states));
END
$$;
{{else}}
SELECT 1;
{{end}}

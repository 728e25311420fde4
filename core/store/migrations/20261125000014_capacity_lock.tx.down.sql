{{if .Postgres}}
DROP FUNCTION tether_active_sessions(BIGINT, TEXT[]);
{{else}}
SELECT 1;
{{end}}

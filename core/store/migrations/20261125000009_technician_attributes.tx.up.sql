-- Technician attributes for routing rules (issue 5), owned by core/org:
-- skills and languages, each a JSON list of at most 32 short strings.
ALTER TABLE members ADD COLUMN skills TEXT NOT NULL DEFAULT '[]';
ALTER TABLE members ADD COLUMN languages TEXT NOT NULL DEFAULT '[]';

ALTER TABLE members DROP COLUMN languages;
ALTER TABLE members DROP COLUMN skills;

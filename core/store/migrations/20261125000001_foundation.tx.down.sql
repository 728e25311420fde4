DROP TABLE sign_in_attempts;
--bun:split
DROP TABLE auth_tokens;
--bun:split
DROP TABLE settings;
--bun:split
DROP TABLE channel_exclusions;
--bun:split
DROP TABLE channel_groups;
--bun:split
DROP TABLE channels;
--bun:split
DROP TABLE admin_tech_groups;
--bun:split
DROP TABLE members;
--bun:split
DROP TABLE nodes;

-- Migration 6 for PostgreSQL: mirrors sql/006_actions.sql (what Slack's
-- buttons, modals and message shortcuts must remember, issue 15; the
-- command a kept search came from).  The differences between the
-- dialects are listed at the top of 001_init.sql.

-- One row per key handed to Slack (see sql/006_actions.sql).
CREATE TABLE slack_action (
	-- Key rotation's cursor (SQLite's rowid: the SQLite table is a
	-- rowid table for that reason).
	rowid bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
	key_hash bytea PRIMARY KEY CHECK (octet_length(key_hash) = 32),
	kind integer NOT NULL CHECK (kind BETWEEN 1 AND 3),
	enterprise_id text NOT NULL DEFAULT '',
	team_id text NOT NULL CHECK (team_id <> ''),
	user_id text NOT NULL CHECK (user_id <> ''),
	view_id text UNIQUE CHECK (view_id IS NULL OR view_id <> ''),
	state integer NOT NULL DEFAULT 0,
	key_id text NOT NULL,
	data_ct bytea NOT NULL,
	created_at bigint NOT NULL,
	expires_at bigint NOT NULL
);
CREATE INDEX slack_action_expires ON slack_action (expires_at);

-- The slash command whose search is kept on the row; NULL is '/contact'.
ALTER TABLE login_state ADD COLUMN search_command text;

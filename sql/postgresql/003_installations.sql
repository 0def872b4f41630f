-- Migration 3 for PostgreSQL: mirrors sql/003_installations.sql (Slack
-- app installations, "Add to Slack", OAuth v2).  The differences between
-- the dialects are listed at the top of 001_init.sql.

-- One row per installation of the Slack app: a workspace, or (an
-- org-wide install on Enterprise Grid) a whole enterprise.
CREATE TABLE slack_install (
	-- Key rotation's cursor (SQLite's rowid: the SQLite table is a
	-- rowid table for that reason).
	rowid bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
	enterprise_id text NOT NULL DEFAULT '',
	team_id text NOT NULL DEFAULT '',
	app_id text NOT NULL,
	team_name text NOT NULL DEFAULT '',
	enterprise_name text NOT NULL DEFAULT '',
	bot_user_id text NOT NULL,
	bot_id text NOT NULL DEFAULT '',
	scopes text NOT NULL,
	installer_user_id text NOT NULL DEFAULT '',
	key_id text NOT NULL,
	bot_token_ct bytea NOT NULL,
	refresh_token_ct bytea,
	token_expires_at bigint,
	needs_reinstall integer NOT NULL DEFAULT 0
	    CHECK (needs_reinstall IN (0, 1)),
	version bigint NOT NULL CHECK (version >= 1),
	created_at bigint NOT NULL,
	updated_at bigint NOT NULL,
	CHECK (team_id <> '' OR enterprise_id <> ''),
	PRIMARY KEY (enterprise_id, team_id)
);

-- One row per installation, times as ISO-8601 UTC, no token columns.
-- org_wide and token_rotation are 0 or 1 as in SQLite, not booleans.
CREATE VIEW installations AS
SELECT
	enterprise_id,
	team_id,
	(team_id = '')::integer AS org_wide,
	app_id,
	team_name,
	enterprise_name,
	bot_user_id,
	bot_id,
	scopes,
	installer_user_id,
	key_id,
	(refresh_token_ct IS NOT NULL)::integer AS token_rotation,
	to_char(to_timestamp(token_expires_at) AT TIME ZONE 'UTC',
	    'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS token_expires_at,
	needs_reinstall,
	to_char(to_timestamp(created_at) AT TIME ZONE 'UTC',
	    'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS created_at,
	to_char(to_timestamp(updated_at) AT TIME ZONE 'UTC',
	    'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS updated_at
FROM slack_install;

-- One row per "Add to Slack" page shown (see sql/003_installations.sql).
CREATE TABLE slack_install_state (
	state_hash bytea PRIMARY KEY CHECK (octet_length(state_hash) = 32),
	cookie_hash bytea NOT NULL CHECK (octet_length(cookie_hash) = 32),
	created_at bigint NOT NULL,
	expires_at bigint NOT NULL,
	used_at bigint
);
CREATE INDEX slack_install_state_expires ON slack_install_state (expires_at);

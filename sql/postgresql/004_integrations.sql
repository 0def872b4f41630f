-- Migration 4 for PostgreSQL: mirrors sql/004_integrations.sql (named
-- Salesforce integrations, which workspace uses which, and the
-- integration user's token, issue 6).  The differences between the
-- dialects are listed at the top of 001_init.sql.

CREATE TABLE sf_integration (
	-- Key rotation's cursor (SQLite's rowid).
	rowid bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
	name text PRIMARY KEY CHECK (name <> '' AND length(name) <= 64),
	login_url text NOT NULL,
	client_id text NOT NULL,
	key_id text NOT NULL,
	client_secret_ct bytea NOT NULL,
	api_version text NOT NULL,
	integration_user integer NOT NULL DEFAULT 0
	    CHECK (integration_user IN (0, 1)),
	created_at bigint NOT NULL
);

-- Which integration a workspace or an Enterprise Grid organisation uses.
CREATE TABLE workspace_integration (
	kind text NOT NULL CHECK (kind IN ('team', 'enterprise')),
	slack_id text NOT NULL CHECK (slack_id <> ''),
	integration text NOT NULL,
	updated_at bigint NOT NULL,
	PRIMARY KEY (kind, slack_id)
);

-- The access token of an integration in integration-user mode.
CREATE TABLE integration_token (
	-- Key rotation's cursor (SQLite's rowid).
	rowid bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
	integration text PRIMARY KEY,
	sf_user_id text NOT NULL,
	sf_org_id text NOT NULL,
	sf_username text NOT NULL,
	instance_url text NOT NULL,
	key_id text NOT NULL,
	access_token_ct bytea NOT NULL,
	version bigint NOT NULL CHECK (version >= 1),
	fetched_at bigint NOT NULL
);

-- The integration a login was started with; NULL for older logins.
ALTER TABLE login_state ADD COLUMN org text;

-- The view "links", as in migration 1 with one more column at the end:
-- integration (the same value as org).
DROP VIEW links;
CREATE VIEW links AS
SELECT
	team_id,
	user_id,
	enterprise_id,
	org,
	sf_user_id,
	sf_org_id,
	sf_username,
	instance_url,
	key_id,
	to_char(to_timestamp(created_at) AT TIME ZONE 'UTC',
	    'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS created_at,
	to_char(to_timestamp(updated_at) AT TIME ZONE 'UTC',
	    'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS updated_at,
	to_char(to_timestamp(last_used_at) AT TIME ZONE 'UTC',
	    'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS last_used_at,
	org AS integration
FROM sf_link;

-- For "which links belong to integration X".
CREATE INDEX sf_link_org ON sf_link (org);

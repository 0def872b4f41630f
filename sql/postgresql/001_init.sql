-- Migration 1 for PostgreSQL: mirrors sql/001_init.sql (the initial
-- forcelink schema).
--
-- Every file of sql/postgresql/ is the PostgreSQL dialect of the SQLite
-- migration of the same name, and gives the same tables and views with
-- the same column names in the same order, the same primary and unique
-- keys, the same indexes and the same checks
-- (tests/e2e/test_pg_schema.py compares them on a real server).  Never
-- edit one that has shipped: add the next pair instead.  The comments
-- of the SQLite files say what each column means; here only what
-- differs is said.  The differences:
--
--  - Types: TEXT is text, BLOB bytea, a time (unix seconds, UTC) or a
--    version bigint (SQLite's INTEGER is 64 bits), a 0/1 flag or a small
--    counter integer.  length() of a blob is octet_length().
--  - rowid: SQLite gives every table not declared WITHOUT ROWID a hidden
--    64-bit rowid, and key rotation pages those tables by it (the
--    STMT_REKEY_* statements of the store: "... WHERE key_id <> ?1 AND
--    rowid > ?2 ORDER BY rowid LIMIT ?3", the cursor being the last rowid
--    read).  Here each such table (sf_link, login_state, slack_install,
--    sf_integration, integration_token) has an explicit first column
--    named rowid, bigint GENERATED ALWAYS AS IDENTITY, with a unique
--    index, so the same statements (placeholders $1..$3) page it the
--    same way through that index.  The column is the only one the SQLite
--    table lacks; the engine never writes it, never selects it with *,
--    and never copies it (migrate-store lets PostgreSQL number the rows).
--  - Views: strftime('%Y-%m-%dT%H:%M:%SZ', t, 'unixepoch') is
--    to_char(to_timestamp(t) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
--    which does not depend on the session's TimeZone; a comparison (0 or
--    1 in SQLite) is cast to integer.
--  - WITHOUT ROWID has no counterpart (and needs none: such tables are
--    not paged by rowid).  slack_replay is UNLOGGED (issue 14): after a
--    crash of the server or a failover it starts empty, which reopens
--    the replay window of the signatures it held (five minutes at most),
--    and in exchange its writes, one per Slack request, skip the WAL.
--  - The schema version: SQLite's PRAGMA user_version is the one row of
--    forcelink_schema, made here at version 0 (a new SQLite file's
--    user_version).  The engine applies migration N as the store applies
--    the SQLite ones: in one transaction that first takes a
--    transaction-scoped advisory lock on a fixed key
--    (pg_advisory_xact_lock, so that hosts starting at once migrate one
--    after another, as BEGIN IMMEDIATE orders SQLite's writers), reads
--    the version (0 while forcelink_schema does not exist:
--    to_regclass('forcelink_schema') IS NULL), refuses one newer than it
--    knows, does nothing when it is N or more, runs the file and sets
--    version = N.

-- The schema version (SQLite: PRAGMA user_version): exactly one row.
CREATE TABLE forcelink_schema (
	-- Always true: the primary key allows one row only.
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	-- The last migration applied; set by the engine, not by the files.
	version integer NOT NULL CHECK (version >= 0)
);
INSERT INTO forcelink_schema (version) VALUES (0);

-- One row per Slack user who linked a Salesforce account.
CREATE TABLE sf_link (
	-- Key rotation's cursor (SQLite's rowid).
	rowid bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
	enterprise_id text NOT NULL DEFAULT '',
	team_id text NOT NULL,
	user_id text NOT NULL,
	org text NOT NULL DEFAULT '',
	sf_user_id text NOT NULL,
	sf_org_id text NOT NULL,
	sf_username text NOT NULL,
	instance_url text NOT NULL,
	key_id text NOT NULL,
	access_token_ct bytea NOT NULL,
	refresh_token_ct bytea NOT NULL,
	version bigint NOT NULL CHECK (version >= 1),
	created_at bigint NOT NULL,
	updated_at bigint NOT NULL,
	last_used_at bigint,
	PRIMARY KEY (enterprise_id, team_id, user_id)
);

-- One row per link, times as ISO-8601 UTC, no ciphertext.  The name
-- "links" is part of the specification.
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
	    'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS last_used_at
FROM sf_link;

-- One row per login attempt (see sql/001_init.sql).
CREATE TABLE login_state (
	-- Key rotation's cursor (SQLite's rowid).
	rowid bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
	nonce_hash bytea PRIMARY KEY CHECK (octet_length(nonce_hash) = 32),
	enterprise_id text NOT NULL DEFAULT '',
	team_id text NOT NULL,
	user_id text NOT NULL,
	created_at bigint NOT NULL,
	expires_at bigint NOT NULL,
	started_at bigint,
	-- As in SQLite, a UNIQUE column may hold many NULLs.
	state_hash bytea UNIQUE CHECK (state_hash IS NULL OR
	    octet_length(state_hash) = 32),
	cookie_hash bytea CHECK (cookie_hash IS NULL OR
	    octet_length(cookie_hash) = 32),
	verifier_ct bytea,
	key_id text,
	used_at bigint
);
CREATE INDEX login_state_expires ON login_state (expires_at);

-- Slack request signatures seen recently, to refuse replays.  UNLOGGED:
-- see the top of this file.
CREATE UNLOGGED TABLE slack_replay (
	sig_hash bytea PRIMARY KEY CHECK (octet_length(sig_hash) = 32),
	expires_at bigint NOT NULL
);
CREATE INDEX slack_replay_expires ON slack_replay (expires_at);

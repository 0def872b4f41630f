-- Migration 1: the initial forcelink schema.
--
-- Applied by common/store.c inside one BEGIN IMMEDIATE transaction that
-- also sets PRAGMA user_version = 1; never edit a migration that has
-- shipped, add sql/002_*.sql instead.  Every time is in unix seconds
-- (UTC).  No token, code, verifier or secret is stored in plain text:
-- tokens and the PKCE verifier are sealed (XChaCha20-Poly1305, associated
-- data naming the row, the column and the key id), one-time secrets are
-- stored as their SHA-256 only.

-- One row per Slack user who linked a Salesforce account.
CREATE TABLE sf_link (
	-- Slack Enterprise Grid id; '' outside Enterprise Grid.
	enterprise_id TEXT NOT NULL DEFAULT '',
	-- Slack workspace (team) id, e.g. T0123ABCD.
	team_id TEXT NOT NULL,
	-- Slack user id within the workspace, e.g. U0123ABCD.
	user_id TEXT NOT NULL,
	-- Name of the Salesforce integration used; '' for the default one.
	org TEXT NOT NULL DEFAULT '',
	-- Salesforce user id (18 characters), from the token's identity URL.
	sf_user_id TEXT NOT NULL,
	-- Salesforce organisation id, from the token's identity URL.
	sf_org_id TEXT NOT NULL,
	-- Salesforce username, from the userinfo endpoint.
	sf_username TEXT NOT NULL,
	-- https base URL of the user's Salesforce instance (API calls go here).
	instance_url TEXT NOT NULL,
	-- Id of the key both tokens are sealed with (16 hex characters), so
	-- a key can be rotated and rows sealed under another key are told
	-- apart from altered ones.
	key_id TEXT NOT NULL,
	-- Sealed access token: nonce || ciphertext || tag.
	access_token_ct BLOB NOT NULL,
	-- Sealed refresh token: nonce || ciphertext || tag.
	refresh_token_ct BLOB NOT NULL,
	-- Bumped on every change of the tokens; writers compare and set it.
	version INTEGER NOT NULL CHECK (version >= 1),
	-- When this link was made (or last replaced by a new login).
	created_at INTEGER NOT NULL,
	-- When the tokens last changed (login or refresh).
	updated_at INTEGER NOT NULL,
	-- When a command last used this link; NULL if never.
	last_used_at INTEGER,
	PRIMARY KEY (enterprise_id, team_id, user_id)
);

-- For admins using sqlite3: one row per link, times as ISO-8601 UTC, no
-- ciphertext.  The name "links" is part of the specification.
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
	strftime('%Y-%m-%dT%H:%M:%SZ', created_at, 'unixepoch') AS created_at,
	strftime('%Y-%m-%dT%H:%M:%SZ', updated_at, 'unixepoch') AS updated_at,
	strftime('%Y-%m-%dT%H:%M:%SZ', last_used_at, 'unixepoch')
	    AS last_used_at
FROM sf_link;

-- One row per login attempt: made with the nonce of a login link, then
-- given the OAuth state, cookie and PKCE verifier by /oauth/start, then
-- consumed by /oauth/callback.  Used rows stay until they expire, so a
-- reuse is reported as such rather than as an unknown value.
CREATE TABLE login_state (
	-- SHA-256 of the nonce in the login link.
	nonce_hash BLOB PRIMARY KEY CHECK (length(nonce_hash) = 32),
	-- Slack Enterprise Grid id of the user who asked; '' outside Grid.
	enterprise_id TEXT NOT NULL DEFAULT '',
	-- Slack workspace id of the user who asked for the link.
	team_id TEXT NOT NULL,
	-- Slack user id of the user who asked for the link.
	user_id TEXT NOT NULL,
	-- When the login link was made.
	created_at INTEGER NOT NULL,
	-- Until when the nonce (later: the state) may be used.
	expires_at INTEGER NOT NULL,
	-- When /oauth/start consumed the nonce; NULL while unused.
	started_at INTEGER,
	-- SHA-256 of the OAuth state sent to Salesforce; NULL before start.
	-- The UNIQUE constraint is also the index the callback looks it up by.
	state_hash BLOB UNIQUE CHECK (state_hash IS NULL OR
	    length(state_hash) = 32),
	-- SHA-256 of the browser cookie bound to the state; NULL before start.
	cookie_hash BLOB CHECK (cookie_hash IS NULL OR
	    length(cookie_hash) = 32),
	-- Sealed PKCE code verifier; NULL before start and after use.
	verifier_ct BLOB,
	-- Id of the key verifier_ct is sealed with; NULL before start.
	key_id TEXT,
	-- When /oauth/callback consumed the state; NULL while unused.
	used_at INTEGER
);
CREATE INDEX login_state_expires ON login_state (expires_at);

-- Slack request signatures seen recently, to refuse replays.
CREATE TABLE slack_replay (
	-- SHA-256 of the X-Slack-Signature value.
	sig_hash BLOB PRIMARY KEY CHECK (length(sig_hash) = 32),
	-- When the signature's timestamp leaves the accepted window.
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX slack_replay_expires ON slack_replay (expires_at);

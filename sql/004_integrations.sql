-- Migration 4: named Salesforce integrations, which workspace uses which,
-- and the integration user's token (issue 6).
--
-- An integration is one Salesforce app registration (an External Client
-- App: consumer key and secret, login host, API version).  The settings
-- of SPEC §2 (SF_CLIENT_ID, ...) stay the default integration, named ''
-- and never stored here.  The consumer secret is sealed like the tokens
-- (XChaCha20-Poly1305, associated data naming the integration, the
-- column and the key id), so a key rotation re-seals it too.  Names are
-- 1 to 64 of A-Z a-z 0-9 . _ - and start with a letter or digit;
-- forcelink-admin refuses "default" (case-insensitive), which names the
-- environment's integration on its command line.

CREATE TABLE sf_integration (
	-- The name admins use (forcelink-admin integration ...) and links
	-- record in sf_link.org.
	name TEXT PRIMARY KEY CHECK (name <> '' AND length(name) <= 64),
	-- https base URL of the login host (no path), e.g.
	-- https://acme.my.salesforce.com or https://test.salesforce.com.
	login_url TEXT NOT NULL,
	-- Consumer key (client id) of the app registration.
	client_id TEXT NOT NULL,
	-- Id of the key client_secret_ct is sealed with (16 hex characters).
	key_id TEXT NOT NULL,
	-- Sealed consumer secret: nonce || ciphertext || tag.
	client_secret_ct BLOB NOT NULL,
	-- REST API version, e.g. v62.0.
	api_version TEXT NOT NULL,
	-- 1: integration-user mode (the client credentials flow; commands
	-- run as the app's Run-As user, nobody links); 0: every Slack user
	-- links their own Salesforce user.
	integration_user INTEGER NOT NULL DEFAULT 0
	    CHECK (integration_user IN (0, 1)),
	-- When it was added.
	created_at INTEGER NOT NULL
);

-- Which integration a workspace uses: a Slack workspace (team id T...)
-- or a whole Enterprise Grid organisation (enterprise id E...).  A
-- request from team T of enterprise E uses T's row, else E's, else the
-- default integration.  integration '' maps a workspace to the default
-- explicitly (overriding its enterprise's mapping).
CREATE TABLE workspace_integration (
	-- 'team' or 'enterprise'.
	kind TEXT NOT NULL CHECK (kind IN ('team', 'enterprise')),
	-- The Slack team or enterprise id.
	slack_id TEXT NOT NULL CHECK (slack_id <> ''),
	-- sf_integration.name, or '' for the default integration.
	integration TEXT NOT NULL,
	-- When the mapping was set.
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (kind, slack_id)
) WITHOUT ROWID;

-- The access token of an integration in integration-user mode, fetched
-- with the client credentials flow and shared by every worker until
-- Salesforce answers 401 (the flow issues no refresh token and its reply
-- carries no expiry).  At most one row per integration.
CREATE TABLE integration_token (
	-- sf_integration.name.
	integration TEXT PRIMARY KEY,
	-- Salesforce user id of the Run-As user, from the identity URL.
	sf_user_id TEXT NOT NULL,
	-- Salesforce organisation id, from the identity URL.
	sf_org_id TEXT NOT NULL,
	-- The Run-As user's username, from the userinfo endpoint.
	sf_username TEXT NOT NULL,
	-- https base URL of the org's instance.
	instance_url TEXT NOT NULL,
	-- Id of the key access_token_ct is sealed with.
	key_id TEXT NOT NULL,
	-- Sealed access token: nonce || ciphertext || tag.
	access_token_ct BLOB NOT NULL,
	-- Bumped on every new token; a re-fetch after a 401 compares it.
	version INTEGER NOT NULL CHECK (version >= 1),
	-- When the token was fetched.
	fetched_at INTEGER NOT NULL
);

-- The integration a login was started with: /oauth/start builds the
-- authorize URL with it and the callback exchanges the code with it, even
-- if the workspace is mapped to another integration in between.  NULL for
-- logins started before this migration (the workspace's is used).
ALTER TABLE login_state ADD COLUMN org TEXT;

-- The view "links", as in migration 1 with one more column at the end:
-- integration, the name of the integration the link belongs to ('' for
-- the default one; the same value as org, under a name that says what it
-- is).
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
	strftime('%Y-%m-%dT%H:%M:%SZ', created_at, 'unixepoch') AS created_at,
	strftime('%Y-%m-%dT%H:%M:%SZ', updated_at, 'unixepoch') AS updated_at,
	strftime('%Y-%m-%dT%H:%M:%SZ', last_used_at, 'unixepoch')
	    AS last_used_at,
	org AS integration
FROM sf_link;

-- For "which links belong to integration X" (forcelink-admin integration
-- remove, workspace set-integration).
CREATE INDEX sf_link_org ON sf_link (org);

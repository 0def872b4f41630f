-- Migration 3: Slack app installations ("Add to Slack", OAuth v2).
--
-- Applied by common/store.c inside one BEGIN IMMEDIATE transaction that
-- also sets PRAGMA user_version = 3.  Every time is in unix seconds
-- (UTC).  The bot token and its refresh token are sealed like Salesforce
-- tokens (XChaCha20-Poly1305, associated data naming the row, the column
-- and the key id); the install flow's state and cookie are stored as
-- their SHA-256 only.

-- One row per installation of the Slack app: a workspace, or (an
-- org-wide install on Enterprise Grid) a whole enterprise.
CREATE TABLE slack_install (
	-- Enterprise Grid id (E...); '' for a workspace outside a grid.
	enterprise_id TEXT NOT NULL DEFAULT '',
	-- Workspace id (T...); '' for an org-wide install, which covers
	-- every workspace of enterprise_id.
	team_id TEXT NOT NULL DEFAULT '',
	-- The Slack app's id (A...), as oauth.v2.access named it.
	app_id TEXT NOT NULL,
	-- The workspace's name when it was installed; '' for org-wide.
	team_name TEXT NOT NULL DEFAULT '',
	-- The enterprise's name; '' outside Enterprise Grid.
	enterprise_name TEXT NOT NULL DEFAULT '',
	-- The bot user's id (U...) in the installation.
	bot_user_id TEXT NOT NULL,
	-- The bot's id (B...), from auth.test with the new bot token.
	bot_id TEXT NOT NULL DEFAULT '',
	-- The scopes granted, comma-separated as Slack lists them.
	scopes TEXT NOT NULL,
	-- The Slack user who installed (authed_user.id); '' if not given.
	installer_user_id TEXT NOT NULL DEFAULT '',
	-- Id of the key both tokens are sealed with (16 hex characters).
	key_id TEXT NOT NULL,
	-- Sealed bot token (xoxb-..., or xoxe.xoxb-... with token
	-- rotation): nonce || ciphertext || tag.
	bot_token_ct BLOB NOT NULL,
	-- Sealed refresh token (xoxe-1-...); NULL when the app does not
	-- rotate tokens (its bot token then never expires).
	refresh_token_ct BLOB,
	-- When the bot token expires; NULL when it does not.
	token_expires_at INTEGER,
	-- 1 once Slack refused the refresh token (revoked, uninstalled):
	-- the bot token cannot be renewed until the app is installed
	-- again, which resets it.
	needs_reinstall INTEGER NOT NULL DEFAULT 0
	    CHECK (needs_reinstall IN (0, 1)),
	-- Bumped on every change of the tokens; writers compare and set it.
	version INTEGER NOT NULL CHECK (version >= 1),
	-- When this installation was made (or last replaced by a new one).
	created_at INTEGER NOT NULL,
	-- When the tokens last changed (install or refresh).
	updated_at INTEGER NOT NULL,
	CHECK (team_id <> '' OR enterprise_id <> ''),
	PRIMARY KEY (enterprise_id, team_id)
);  -- a rowid table: key rotation walks it in rowid order

-- For admins using sqlite3: one row per installation, times as ISO-8601
-- UTC, no token columns (only whether the bot token rotates).
CREATE VIEW installations AS
SELECT
	enterprise_id,
	team_id,
	team_id = '' AS org_wide,
	app_id,
	team_name,
	enterprise_name,
	bot_user_id,
	bot_id,
	scopes,
	installer_user_id,
	key_id,
	refresh_token_ct IS NOT NULL AS token_rotation,
	strftime('%Y-%m-%dT%H:%M:%SZ', token_expires_at, 'unixepoch')
	    AS token_expires_at,
	needs_reinstall,
	strftime('%Y-%m-%dT%H:%M:%SZ', created_at, 'unixepoch') AS created_at,
	strftime('%Y-%m-%dT%H:%M:%SZ', updated_at, 'unixepoch') AS updated_at
FROM slack_install;

-- One row per "Add to Slack" page shown: the OAuth state in its link and
-- the browser cookie set with it, both by hash.  Consumed by
-- /slack/oauth_redirect; used rows stay until they expire, so a reuse
-- is reported as such rather than as an unknown state.
CREATE TABLE slack_install_state (
	-- SHA-256 of the state sent to Slack's authorize page.
	state_hash BLOB PRIMARY KEY CHECK (length(state_hash) = 32),
	-- SHA-256 of the cookie that binds the state to the browser.
	cookie_hash BLOB NOT NULL CHECK (length(cookie_hash) = 32),
	-- When the page was shown.
	created_at INTEGER NOT NULL,
	-- Until when the state may be used.
	expires_at INTEGER NOT NULL,
	-- When the redirect consumed the state; NULL while unused.
	used_at INTEGER
) WITHOUT ROWID;
CREATE INDEX slack_install_state_expires ON slack_install_state (expires_at);

-- Migration 6: what Slack's buttons, modals and message shortcuts must
-- remember (issue 15), and the command a kept search came from.
--
-- Slack sends a button's value, a view's private_metadata and
-- callback_id, and an action's block_id back from a client forcelink
-- does not control, so forcelink puts nothing in them but an opaque key
-- (32 random bytes, base64url) into one row of slack_action, which it
-- keeps by the key's SHA-256 only.  A row belongs to the Slack user it
-- was made for; its data (a result card, a search's paging state, a Case
-- form) is sealed like a link's tokens (XChaCha20-Poly1305, associated
-- data naming the row by its key hash, the column and the key id); its
-- state is a small integer moved only by compare-and-set, so of two
-- submissions of one form exactly one goes on; and it expires, after
-- which the purge deletes it.

-- One row per key handed to Slack.
CREATE TABLE slack_action (
	-- SHA-256 of the key (the key itself is never stored).
	key_hash BLOB PRIMARY KEY CHECK (length(key_hash) = 32),
	-- What the row backs: 1 a result card to share, 2 a search's next
	-- page, 3 a Case form (enum store_action_kind).
	kind INTEGER NOT NULL CHECK (kind BETWEEN 1 AND 3),
	-- Enterprise Grid id of the row's Slack user; '' outside a grid.
	enterprise_id TEXT NOT NULL DEFAULT '',
	-- Workspace id of the row's Slack user (T...).
	team_id TEXT NOT NULL CHECK (team_id <> ''),
	-- The row's Slack user (U... or W...): the only one who may use it.
	user_id TEXT NOT NULL CHECK (user_id <> ''),
	-- The Slack view (V...) the row backs; NULL when none.  A view is
	-- backed by one row at most, and a row never moves to another view.
	view_id TEXT UNIQUE CHECK (view_id IS NULL OR view_id <> ''),
	-- The handler's state, 0 when made; changed only by a
	-- compare-and-set on its old value.
	state INTEGER NOT NULL DEFAULT 0,
	-- Id of the key data_ct is sealed with (16 hex characters).
	key_id TEXT NOT NULL,
	-- Sealed data: nonce || ciphertext || tag.
	data_ct BLOB NOT NULL,
	-- When the row was made.
	created_at INTEGER NOT NULL,
	-- Until when the row may be used; the purge deletes it after.
	expires_at INTEGER NOT NULL
);  -- a rowid table: key rotation walks it in rowid order
CREATE INDEX slack_action_expires ON slack_action (expires_at);

-- The slash command whose search is kept on the row ('/contact',
-- '/account', '/pipeline'), or '/case' when search_ct holds the key of a
-- Case form's slack_action row; NULL (rows made before this migration,
-- or no search) is '/contact'.  Not secret: the words are sealed.
ALTER TABLE login_state ADD COLUMN search_command TEXT;

-- Migration 7: a slack_action row without a view costs no index entry
-- for its view.
--
-- Every search page that finds something writes one slack_action row
-- (issue 15), and almost none of them ever backs a view.  The UNIQUE
-- constraint of migration 6 on view_id indexed the NULL of every such
-- row too, so each of those writes also changed a page of that index
-- (one more page in the WAL per request, measured: 5.5 pages per row
-- before, 4.4 after).  A partial unique index over the rows that have a
-- view keeps what the constraint promised (a view is backed by one row
-- at most) and serves the one lookup by view (action_view_owner).
--
-- SQLite cannot drop a column's UNIQUE constraint, so the table is made
-- again without it, with the same columns in the same order, the same
-- checks and the same rowids (key rotation pages the table by rowid;
-- nothing refers to the table).

CREATE TABLE slack_action_new (
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
	-- backed by one row at most (slack_action_view), and a row never
	-- moves to another view.
	view_id TEXT CHECK (view_id IS NULL OR view_id <> ''),
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
INSERT INTO slack_action_new (rowid, key_hash, kind, enterprise_id,
    team_id, user_id, view_id, state, key_id, data_ct, created_at,
    expires_at)
    SELECT rowid, key_hash, kind, enterprise_id, team_id, user_id,
    view_id, state, key_id, data_ct, created_at, expires_at
    FROM slack_action ORDER BY rowid;
DROP TABLE slack_action;
ALTER TABLE slack_action_new RENAME TO slack_action;
-- The purge deletes by expiry.
CREATE INDEX slack_action_expires ON slack_action (expires_at);
-- A view is backed by one row at most; rows without one are not in it.
CREATE UNIQUE INDEX slack_action_view ON slack_action (view_id)
    WHERE view_id IS NOT NULL;

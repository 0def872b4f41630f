-- Migration 7 for PostgreSQL: mirrors sql/007_action_view_index.sql (a
-- slack_action row without a view costs no index entry for its view).
-- The differences between the dialects are listed at the top of
-- 001_init.sql.

-- PostgreSQL drops the constraint in place (006 left it its default
-- name); the rows, their rowid column and the other indexes stay.
ALTER TABLE slack_action DROP CONSTRAINT slack_action_view_id_key;
-- A view is backed by one row at most; rows without one are not in it.
CREATE UNIQUE INDEX slack_action_view ON slack_action (view_id)
    WHERE view_id IS NOT NULL;

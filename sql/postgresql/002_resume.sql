-- Migration 2 for PostgreSQL: mirrors sql/002_resume.sql (a search
-- remembered with its login link, issue 6).  The differences between
-- the dialects are listed at the top of 001_init.sql.

-- Sealed search text; NULL when no search is waiting.
ALTER TABLE login_state ADD COLUMN search_ct bytea;
-- Sealed response_url of the command that searched; NULL with search_ct.
ALTER TABLE login_state ADD COLUMN search_url_ct bytea;
-- Id of the key both are sealed with; NULL with search_ct.
ALTER TABLE login_state ADD COLUMN search_key_id text;

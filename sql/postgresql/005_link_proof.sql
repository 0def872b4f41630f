-- Migration 5 for PostgreSQL: mirrors sql/005_link_proof.sql (a login
-- proves who is in the browser, issue 11).  The differences between the
-- dialects are listed at the top of 001_init.sql.

-- The workspace's domain shown on the login pages; NULL when not sent.
ALTER TABLE login_state ADD COLUMN team_domain text;
-- The Slack user's name shown on the login pages; NULL when not sent.
ALTER TABLE login_state ADD COLUMN user_name text;
-- Which login state_hash is for; NULL is 'salesforce'.
ALTER TABLE login_state ADD COLUMN leg text
    CHECK (leg IS NULL OR leg IN ('slack', 'salesforce'));
-- The pending link (the pend_* columns go together); NULL when none.
ALTER TABLE login_state ADD COLUMN pend_org text;
ALTER TABLE login_state ADD COLUMN pend_sf_user_id text;
ALTER TABLE login_state ADD COLUMN pend_sf_org_id text;
ALTER TABLE login_state ADD COLUMN pend_sf_username text;
ALTER TABLE login_state ADD COLUMN pend_instance_url text;
ALTER TABLE login_state ADD COLUMN pend_key_id text;
ALTER TABLE login_state ADD COLUMN pend_access_ct bytea;
ALTER TABLE login_state ADD COLUMN pend_refresh_ct bytea;
-- SHA-256 of the confirmation code; NULL when no code is waiting.
ALTER TABLE login_state ADD COLUMN confirm_hash bytea
    CHECK (confirm_hash IS NULL OR octet_length(confirm_hash) = 32);
-- Wrong codes typed while the row waited; at 5 the row is void.
ALTER TABLE login_state ADD COLUMN confirm_tries integer NOT NULL
    DEFAULT 0;
-- /contact confirm finds its row by the code's hash.
CREATE UNIQUE INDEX login_state_confirm ON login_state (confirm_hash)
    WHERE confirm_hash IS NOT NULL;
-- A wrong code counts against every pending row of the Slack user.
CREATE INDEX login_state_pending ON login_state (team_id, user_id)
    WHERE pend_refresh_ct IS NOT NULL;

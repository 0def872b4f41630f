-- Migration 5: a login proves who is in the browser (issue 11).
--
-- A link is stored only once the person in the browser has proved to be
-- the Slack user the login link was made for (FORCELINK_LINK_PROOF):
-- Sign in with Slack before Salesforce ("slack"), and/or a one-time code
-- typed back in Slack after Salesforce ("code").  So a login_state row
-- now also records the names the login pages show, which of the two
-- logins its current OAuth state is for, and in "code" mode the link
-- waiting for its code.  The pending tokens are sealed like the search
-- (XChaCha20-Poly1305, associated data naming the row by its nonce hash,
-- the column and the key id); the code is kept as its SHA-256 only.  A
-- pending row that expires or is refused is revoked at Salesforce before
-- its tokens are dropped, so the plain purge leaves rows with pending
-- tokens alone.

-- The workspace's domain (team_domain of the command that made the
-- link), shown on the login pages; NULL when Slack did not send it.
ALTER TABLE login_state ADD COLUMN team_domain TEXT;
-- The Slack user's name (user_name of that command), shown on the login
-- pages next to the user id; NULL when Slack did not send it.
ALTER TABLE login_state ADD COLUMN user_name TEXT;
-- Which login state_hash is for: 'slack' (Sign in with Slack, first) or
-- 'salesforce'; NULL (rows made before this migration) is 'salesforce'.
ALTER TABLE login_state ADD COLUMN leg TEXT
    CHECK (leg IS NULL OR leg IN ('slack', 'salesforce'));
-- The Salesforce integration of the pending link ('' for the default);
-- NULL when no link is pending.  The pend_* columns go together.
ALTER TABLE login_state ADD COLUMN pend_org TEXT;
-- Salesforce user id of the pending link.
ALTER TABLE login_state ADD COLUMN pend_sf_user_id TEXT;
-- Salesforce organisation id of the pending link.
ALTER TABLE login_state ADD COLUMN pend_sf_org_id TEXT;
-- Salesforce username of the pending link, from userinfo.
ALTER TABLE login_state ADD COLUMN pend_sf_username TEXT;
-- https base URL of the pending link's Salesforce instance.
ALTER TABLE login_state ADD COLUMN pend_instance_url TEXT;
-- Id of the key both pending tokens are sealed with (16 hex characters).
ALTER TABLE login_state ADD COLUMN pend_key_id TEXT;
-- Sealed access token of the pending link: nonce || ciphertext || tag.
ALTER TABLE login_state ADD COLUMN pend_access_ct BLOB;
-- Sealed refresh token of the pending link: nonce || ciphertext || tag.
ALTER TABLE login_state ADD COLUMN pend_refresh_ct BLOB;
-- SHA-256 of the confirmation code shown on the callback page; NULL when
-- no code is waiting (none made, used, or void).
ALTER TABLE login_state ADD COLUMN confirm_hash BLOB
    CHECK (confirm_hash IS NULL OR length(confirm_hash) = 32);
-- Wrong codes typed by this row's Slack user while it waited; at 5 the
-- row is void.
ALTER TABLE login_state ADD COLUMN confirm_tries INTEGER NOT NULL
    DEFAULT 0;
-- /contact confirm finds its row by the code's hash.
CREATE UNIQUE INDEX login_state_confirm ON login_state (confirm_hash)
    WHERE confirm_hash IS NOT NULL;
-- A wrong code counts against every pending row of the Slack user.
CREATE INDEX login_state_pending ON login_state (team_id, user_id)
    WHERE pend_refresh_ct IS NOT NULL;

-- Migration 2: a search remembered with its login link (issue 6).
--
-- When an unlinked user's search is what produced the login link,
-- /contact keeps the search on that link's login_state row, and
-- /oauth/callback runs it once the link is stored and posts the answer
-- to the command's response_url.  Both values are sealed like the PKCE
-- verifier (XChaCha20-Poly1305, associated data naming the row by its
-- nonce hash, the column and the key id): the search is the user's own
-- words, and the response_url is a capability (whoever holds it may post
-- into the user's Slack for 30 minutes).  When the command came is the
-- row's created_at: the login link is made by the same request.  The
-- search lives and dies with its row: the callback clears it in the
-- transaction that consumes the state, and an unused row is purged when
-- it expires.

-- Sealed search text, as the user typed it (Slack's escaping undone);
-- NULL when no search is waiting (a `login`, or consumed).
ALTER TABLE login_state ADD COLUMN search_ct BLOB;
-- Sealed response_url of the command that searched; NULL with search_ct.
ALTER TABLE login_state ADD COLUMN search_url_ct BLOB;
-- Id of the key both are sealed with (16 hex characters); NULL with
-- search_ct.  Apart from key_id, which /oauth/start sets for the verifier
-- later, possibly under a newer key.
ALTER TABLE login_state ADD COLUMN search_key_id TEXT;

/*
 * store: everything forcelink keeps, in one SQLite file.
 *
 * This is the only module that includes sqlite3.h.  It owns the schema
 * (sql/NNN_*.sql, compiled in and applied as versioned migrations through
 * PRAGMA user_version), the fixed set of statements (prepared once per
 * connection), busy handling (one place, with a cap) and the encryption
 * of tokens at rest.
 *
 * One struct store is one connection and must be used by one thread at a
 * time; each worker thread opens its own.  Many processes share the file
 * through WAL mode.  Writes that read first run under BEGIN IMMEDIATE;
 * writes of tokens run with synchronous=FULL, because a rotated refresh
 * token that is lost cannot be fetched again.
 *
 * What is stored:
 *  - links: one per Slack user (enterprise, team, user), with the
 *    Salesforce identity in plain text and both tokens sealed with
 *    crypto_seal(); the associated data names the row, the token kind and
 *    the key id, so a ciphertext moved to another row or column fails to
 *    open.  The view "links" shows them without the ciphertext.
 *  - login states: the one-time nonce in the login link, and after
 *    /oauth/start the OAuth state, the browser cookie and the sealed PKCE
 *    verifier; all secrets by hash only, except the verifier, which must
 *    be read back and is sealed.
 *  - replays: hashes of Slack signatures seen in the last few minutes.
 *  - Slack installations: one per workspace or org-wide install, with the
 *    bot token and its refresh token sealed like links' tokens (the
 *    associated data names the installation as a row with an empty user,
 *    the column and the key id); the view "installations" shows them
 *    without the ciphertext.  And the install flow's states, by hash.
 */
#ifndef FORCELINK_STORE_H
#define FORCELINK_STORE_H

#include <stdint.h>
#include <time.h>

#include "crypto.h"
#include "slack.h"

struct store;

enum store_result {
	STORE_OK,
	STORE_NOTFOUND,		/* no such row (unlinked, unknown state) */
	STORE_USED,		/* a one-time value was already used */
	STORE_EXPIRED,		/* a one-time value is past its expiry */
	STORE_MISMATCH,		/* state and browser cookie do not belong together */
	STORE_CONFLICT,		/* the row changed since it was read */
	STORE_EXISTS,		/* already present (a replayed signature) */
	STORE_BADKEY,		/* sealed under another key, or altered */
	STORE_ERROR		/* SQLite or memory failure (logged) */
};

const char	*store_result_str(enum store_result);

/* A stored link, as read back.  All strings are allocated and owned by
 * the struct: release with store_link_free(), which wipes the tokens. */
struct store_link {
	char	*org;		/* Salesforce integration name; "" = default */
	char	*sf_user_id;
	char	*sf_org_id;
	char	*sf_username;
	char	*instance_url;
	char	*access_token;	/* secret */
	char	*refresh_token;	/* secret */
	int64_t	 version;	/* bumped on every token change */
	time_t	 created_at;
	time_t	 updated_at;
	time_t	 last_used_at;	/* 0 when never used */
};

/* How stale last_used_at may be before a use is written down: recording
 * every use would add a second write transaction to each request. */
#define STORE_TOUCH_SECS	60

/*
 * Opens (creating with mode 0600 when absent) the database at path,
 * applies pending migrations, sets WAL mode and the busy timeout, and
 * prepares the statements.  key is used for every seal and open on this
 * connection; it is copied.  Returns NULL on failure (logged), including
 * a database newer than this program understands.
 */
struct store	*store_open(const char *path, const struct crypto_key *key);
void		 store_close(struct store *);

/* The schema version this program migrates to. */
int		 store_schema_version(void);

/*
 * Reads the link of who.  STORE_OK fills *out; STORE_NOTFOUND when not
 * linked; STORE_BADKEY when the tokens were sealed under another key or
 * were altered (nothing is changed: the caller reports it); STORE_ERROR.
 */
enum store_result store_link_get(struct store *, const struct slack_user *,
	    struct store_link *out);

/*
 * Creates or replaces the link of who with in (org, sf_*, instance_url and
 * both tokens are read; version and times are set here).  When a link
 * existed and old_refresh is not NULL, *old_refresh receives its refresh
 * token (allocated; free with crypto_free_secret) so the caller can revoke
 * it, or NULL when there was none or it could not be opened.  Returns
 * STORE_OK, STORE_BADKEY when the existing link is sealed under another
 * key (it is left as it is: a wrong key must not destroy links), or
 * STORE_ERROR.
 */
enum store_result store_link_put(struct store *, const struct slack_user *,
	    const struct store_link *in, char **old_refresh);

/*
 * After a refresh: replaces the access token (and the refresh token when
 * refresh is not NULL) if the link still has version expect.  Returns
 * STORE_OK (and bumps the version), STORE_CONFLICT when the link changed
 * or vanished meanwhile, STORE_ERROR.
 */
enum store_result store_link_update_tokens(struct store *,
	    const struct slack_user *, int64_t expect, const char *access,
	    const char *refresh);

/*
 * Deletes the link of who, but only while it still has version expect
 * (expect < 0: whatever version) and is sealed under this connection's
 * key.  Returns STORE_OK, STORE_NOTFOUND (gone already, changed meanwhile
 * or sealed under another key) or STORE_ERROR.
 */
enum store_result store_link_delete(struct store *, const struct slack_user *,
	    int64_t expect);

/* Records that the link was just used (for the admin's "last used").
 * Callers skip it while last_used_at is less than STORE_TOUCH_SECS old,
 * so the column is exact to within that. */
enum store_result store_link_touch(struct store *, const struct slack_user *);

void		 store_link_free(struct store_link *);

/*
 * Records a new login nonce for who (by its hash), valid until expires.
 * Returns STORE_OK or STORE_ERROR.
 */
enum store_result store_nonce_add(struct store *, const struct slack_user *,
	    const unsigned char nonce_hash[CRYPTO_HASHLEN], time_t expires);

/*
 * /oauth/start: consumes the nonce with hash nonce_hash and attaches the
 * OAuth state (by hash), the browser cookie (by hash) and the PKCE
 * verifier (sealed), valid until expires.  Returns STORE_OK (and *who),
 * STORE_NOTFOUND, STORE_USED, STORE_EXPIRED or STORE_ERROR.
 */
enum store_result store_nonce_start(struct store *,
	    const unsigned char nonce_hash[CRYPTO_HASHLEN], time_t now,
	    const unsigned char state_hash[CRYPTO_HASHLEN],
	    const unsigned char cookie_hash[CRYPTO_HASHLEN],
	    const char *verifier, time_t expires, struct slack_user *who);

/*
 * /oauth/callback: finds the state, checks that cookie_hash is the one
 * recorded with it (STORE_MISMATCH otherwise, and the state stays usable),
 * then consumes it.  Of several concurrent callers with the same state
 * exactly one gets STORE_OK, with *who and *verifier (allocated; free with
 * crypto_free_secret).  Otherwise STORE_NOTFOUND, STORE_USED,
 * STORE_EXPIRED, STORE_BADKEY or STORE_ERROR.
 */
enum store_result store_state_take(struct store *,
	    const unsigned char state_hash[CRYPTO_HASHLEN],
	    const unsigned char cookie_hash[CRYPTO_HASHLEN], time_t now,
	    struct slack_user *who, char **verifier);

/*
 * Records a Slack signature (by hash) until expires.  Returns STORE_OK
 * when it was new, STORE_EXISTS when it was already there (a replay), or
 * STORE_ERROR.  Expired entries are purged along the way.
 */
enum store_result store_replay_add(struct store *,
	    const unsigned char sig_hash[CRYPTO_HASHLEN], time_t now,
	    time_t expires);

/* Deletes expired login states, install states and replay entries.
 * Returns the number of rows removed, or -1. */
int		 store_purge(struct store *, time_t now);

/* --- Slack installations (sql/003_installations.sql) ------------------ */

/*
 * An installation of the Slack app: a workspace (enterprise_id "" outside
 * Enterprise Grid), or an org-wide install of a whole enterprise (team_id
 * "").  As read back, the strings are allocated and owned by the struct:
 * release with store_install_free(), which wipes the tokens.  As given
 * to store_install_put(), the caller owns them.
 */
struct store_install {
	char	 enterprise_id[SLACK_ID_MAX + 1];
	char	 team_id[SLACK_ID_MAX + 1];
	char	*app_id;
	char	*team_name;		/* "" for org-wide */
	char	*enterprise_name;	/* "" outside a grid */
	char	*bot_user_id;
	char	*bot_id;
	char	*scopes;
	char	*installer_user_id;	/* "" when Slack did not name one */
	char	*bot_token;		/* secret */
	char	*refresh_token;		/* secret; NULL without rotation */
	time_t	 expires_at;		/* of bot_token; 0: never */
	int	 needs_reinstall;	/* Slack refused the refresh token */
	int64_t	 version;		/* bumped on every token change */
	time_t	 created_at;
	time_t	 updated_at;
};

/* Which installation answers for a request, and what a caller needs to
 * know about its bot token without opening it. */
struct store_install_ref {
	char	 enterprise_id[SLACK_ID_MAX + 1];
	char	 team_id[SLACK_ID_MAX + 1];	/* "" when org-wide */
	time_t	 expires_at;			/* 0: never */
	int	 rotating;			/* has a refresh token */
	int	 needs_reinstall;
};

/*
 * Creates or replaces the installation keyed by in's enterprise_id and
 * team_id (not both empty; SLACK_ID_MAX each).  Every string but
 * refresh_token must be set (NULL bot_id, installer_user_id and names
 * are stored as "").  A replaced installation gets version + 1 and
 * needs_reinstall 0.  Returns STORE_OK or STORE_ERROR (logged).
 */
enum store_result store_install_put(struct store *,
	    const struct store_install *in);

/*
 * Reads the installation with exactly this key.  STORE_OK fills *out;
 * STORE_NOTFOUND; STORE_BADKEY when its tokens were sealed under another
 * key or altered (nothing is changed); STORE_ERROR.
 */
enum store_result store_install_get(struct store *,
	    const char *enterprise_id, const char *team_id,
	    struct store_install *out);

/*
 * The authorization of a request from team team_id of enterprise
 * enterprise_id ("" outside a grid): the workspace's own installation,
 * else its enterprise's org-wide one.  One lookup by primary key; nothing
 * is decrypted.  Returns STORE_OK with *out (and *any = 1), STORE_NOTFOUND
 * or STORE_ERROR.  On STORE_NOTFOUND, when any is not NULL, *any says
 * whether any installation exists at all: a second statement, which
 * reads the first entry of the table's primary key and stops.
 */
enum store_result store_install_find(struct store *,
	    const char *enterprise_id, const char *team_id,
	    struct store_install_ref *out, int *any);

/*
 * After a refresh: replaces the bot token, the refresh token and the
 * expiry if the installation still has version expect.  Returns STORE_OK
 * (and bumps the version), STORE_CONFLICT when it changed or vanished
 * meanwhile, STORE_ERROR.
 */
enum store_result store_install_update_tokens(struct store *,
	    const char *enterprise_id, const char *team_id, int64_t expect,
	    const char *bot_token, const char *refresh_token,
	    time_t expires_at);

/* Marks the installation as needing a reinstall (Slack refused its
 * refresh token) if it still has version expect.  STORE_OK,
 * STORE_CONFLICT or STORE_ERROR. */
enum store_result store_install_mark_reinstall(struct store *,
	    const char *enterprise_id, const char *team_id, int64_t expect);

void		 store_install_free(struct store_install *);

/* Records the state (by hash) of a new "Add to Slack" page and the hash
 * of the browser cookie set with it, valid until expires.  STORE_OK or
 * STORE_ERROR. */
enum store_result store_install_state_add(struct store *,
	    const unsigned char state_hash[CRYPTO_HASHLEN],
	    const unsigned char cookie_hash[CRYPTO_HASHLEN], time_t now,
	    time_t expires);

/*
 * /slack/oauth_redirect: finds the state, checks that cookie_hash is the
 * one recorded with it (STORE_MISMATCH otherwise, and the state stays
 * usable), then consumes it.  Of concurrent callers with one state
 * exactly one gets STORE_OK.  Otherwise STORE_NOTFOUND, STORE_USED,
 * STORE_EXPIRED or STORE_ERROR.
 */
enum store_result store_install_state_take(struct store *,
	    const unsigned char state_hash[CRYPTO_HASHLEN],
	    const unsigned char cookie_hash[CRYPTO_HASHLEN], time_t now);

#endif

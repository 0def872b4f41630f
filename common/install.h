/*
 * install: Slack app installations, from "Add to Slack" to a bot token
 * that never lapses while it is used, and the authorization of every
 * request in the Bolt sense.
 *
 * install_state_new() and install_state_take() carry the state of an
 * "Add to Slack" page in a signed cookie, so that showing the page
 * stores nothing (see below).
 *
 * install_complete() finishes /slack/oauth_redirect: it exchanges the
 * code at oauth.v2.access, checks the new bot token with auth.test (which
 * also names the bot id, which oauth.v2.access does not), and stores the
 * installation sealed, replacing an older one with the same key: the
 * workspace (enterprise_id, team_id), or the enterprise alone for an
 * org-wide install on Enterprise Grid.
 *
 * install_authorize() decides whether a verified request may be served:
 * always while no installation exists and FORCELINK_REQUIRE_INSTALL is
 * off (one workspace, configured by hand, as before installations
 * existed); otherwise only when the workspace, or its enterprise
 * org-wide, installed the app.
 *
 * install_bot_token() hands out an installation's bot token.  With token
 * rotation the token expires (Slack: every 12 hours); within
 * INSTALL_REFRESH_AHEAD of that it is refreshed first, single-flight
 * across every thread and process sharing the database: the refresher
 * holds an advisory lock (an OFD lock on one byte of the refresh lock
 * file session.c uses, at an offset derived from the installation's
 * key), re-reads the installation under it and refreshes only if nobody
 * did meanwhile; the others wait and use the result.  A refresh token
 * Slack refused for good marks the installation as needing a reinstall,
 * with one clear log line.  This matters because a refresh token is
 * spent by its first use.
 */
#ifndef FORCELINK_INSTALL_H
#define FORCELINK_INSTALL_H

#include <time.h>

#include "crypto.h"
#include "keyring.h"
#include "reply.h"
#include "session.h"
#include "slack.h"
#include "store.h"

/* A rotating bot token is refreshed when it expires within this many
 * seconds. */
#define INSTALL_REFRESH_AHEAD	300
/* The cookie that binds an install's state to the browser that started
 * it, and how long an "Add to Slack" page stays valid. */
#define INSTALL_COOKIE		"forcelink_slack_install"
#define INSTALL_STATE_TTL	600
/* The most used states the store keeps (see install_state_take). */
#define INSTALL_STATE_CAP	1000
/* Size of a buffer that holds the cookie's value. */
#define INSTALL_COOKIE_MAX	160

enum install_result {
	INSTALL_OK,
	INSTALL_REFUSED,	/* Slack refused the code or our client
				   credentials */
	INSTALL_FORGED,		/* Slack's reply did not check out */
	INSTALL_TRANSIENT,	/* Slack unreachable, slow or failing */
	INSTALL_REVOKED,	/* the refresh token is dead: the app must
				   be installed again */
	INSTALL_NOTFOUND,	/* no such installation */
	INSTALL_ERROR		/* our own failure (logged) */
};

const char	*install_result_str(enum install_result);

/* What the success page says about a new installation (allocated
 * strings; free with install_done_free). */
struct install_done {
	int	 org_wide;
	int	 replaced;		/* an older installation was replaced */
	char	*team_id;		/* NULL when org-wide */
	char	*team_name;
	char	*enterprise_id;		/* NULL outside Enterprise Grid */
	char	*enterprise_name;
	char	*app_id;
};

/*
 * Completes an installation after Slack's redirect: exchanges code,
 * verifies the bot token with auth.test (its user must be the bot user,
 * its workspace or enterprise the installation's), and stores the
 * installation.  On INSTALL_OK *out is filled.
 */
enum install_result install_complete(struct session *, const char *code,
		    struct install_done *out);

void		 install_done_free(struct install_done *);

enum install_auth {
	INSTALL_AUTH_OPEN,	/* no installation exists and none is
				   required: every verified request is
				   served, as before installations */
	INSTALL_AUTH_OK,	/* installed: *ref says by which row */
	INSTALL_AUTH_DENIED,	/* not installed in this workspace */
	INSTALL_AUTH_ERROR	/* the store failed (logged) */
};

/* Decides whether who's workspace may use forcelink (see above).  One
 * lookup by primary key; a second (the first entry of the table) only on
 * a miss while no installation is known to exist, which a process
 * remembers for a minute once it has seen one. */
enum install_auth install_authorize(struct session *,
		    const struct slack_user *who,
		    struct store_install_ref *ref);

/* Whether the bot token of ref should be refreshed now: it rotates, is
 * not marked for reinstall, and expires within INSTALL_REFRESH_AHEAD. */
int		 install_token_due(const struct store_install_ref *,
		    time_t now);

/*
 * Returns the bot token of the installation keyed (enterprise_id,
 * team_id) in *token (allocated; free with crypto_free_secret), refreshed
 * first when it is due (single-flight, see above).  INSTALL_OK;
 * INSTALL_REVOKED when the installation needs a reinstall;
 * INSTALL_TRANSIENT when a due refresh failed for now and the old token
 * has expired (while it has not, it is returned with INSTALL_OK);
 * INSTALL_NOTFOUND; INSTALL_ERROR.
 */
enum install_result install_bot_token(struct session *,
		    const char *enterprise_id, const char *team_id,
		    char **token);

/*
 * The bot token for the Web API calls made on a request's behalf
 * (slackweb.h: modals, permalinks), given what install_authorize() said
 * of its workspace (auth, and ref on INSTALL_AUTH_OK).  Installed: the
 * installation's token (install_bot_token, refreshed when due), never
 * SLACK_BOT_TOKEN.  No installation exists and none is required
 * (INSTALL_AUTH_OPEN, a single workspace): SLACK_BOT_TOKEN.  *token is
 * allocated (free with crypto_free_secret).  Returns INSTALL_OK;
 * INSTALL_NOTFOUND when there is no token to use (open without
 * SLACK_BOT_TOKEN, a workspace not installed, an installation gone
 * meanwhile); otherwise as install_bot_token (INSTALL_REVOKED: install
 * again).
 */
enum install_result install_web_token(struct session *, enum install_auth,
		    const struct store_install_ref *ref, char **token);

/*
 * install_authorize() for a request answered through rp (reply.h):
 * returns 0 when it may run, with *auth and *ref as install_authorize()
 * filled them, or -1 once rp has answered: a workspace that has not
 * installed forcelink gets one clear message naming SPEC's
 * /slack/install; a store failure the apology.  Nothing else happens
 * then: no Salesforce call, no login state, no link lookup.
 */
int		 install_gate(struct session *, struct reply *rp,
		    const struct slack_user *who, enum install_auth *auth,
		    struct store_install_ref *ref);

/*
 * After the answer: with token rotation, an installed workspace whose
 * bot token expires within INSTALL_REFRESH_AHEAD has it refreshed
 * (rp is finished first, so Slack has its answer), so that an
 * installation in use never lapses.  Single-flight: a burst of requests
 * refreshes once.
 */
void		 install_keep_token(struct session *, struct reply *rp,
		    enum install_auth, const struct store_install_ref *);

/*
 * The state of "Add to Slack" (OAuth's defence against a forged
 * redirect) lives in the browser until Slack sends it back:
 * GET /slack/install writes nothing, so that a crawler, a link preview
 * or a loop on the page cannot fill the database.  The page's HttpOnly
 * cookie INSTALL_COOKIE holds
 *
 *	STATE.EXPIRES.KEYID.MAC
 *
 * STATE, the state in the page's link (base64url of 32 random bytes);
 * EXPIRES, when it expires (Unix time, decimal); KEYID, the id of the
 * token key it was made under (crypto.h; the current key then); MAC, the
 * hex HMAC-SHA256 of "STATE.EXPIRES.KEYID" under the subkey
 * HMAC-SHA256(key, "forcelink-mac slack-install-state"), which no other
 * use of the key shares.  Only forcelink can make a cookie, and no one
 * can move its expiry; a cookie made just before a key rotation checks
 * out while the keyring still holds its key, and a key id not held
 * makes the key file be looked at again once (a worker that already
 * reloaded it may have made the cookie under the new key).
 *
 * The redirect takes a state only with a cookie that names it, checks
 * out and has not expired.  Only then is anything written: the state, by
 * hash, as used (store_install_state_take), so that it is refused the
 * second time until it expires.  The table is capped at
 * INSTALL_STATE_CAP rows: expired rows go first, then the oldest.
 * Dropping rather than refusing, because a full table means a flood of
 * redirects (each needs a cookie from the page, which anyone can get),
 * and refusing would let that flood lock every admin out of installing;
 * a dropped state loses only its reuse check, and a reuse still needs
 * that browser's unexpired cookie, and a code from Slack, which works
 * once.
 */
enum install_state {
	INSTALL_STATE_OK,
	INSTALL_STATE_MISSING,	/* no state, or no cookie (another
				   browser, or the cookie lapsed) */
	INSTALL_STATE_FORGED,	/* a cookie forcelink did not make:
				   malformed, altered, or under a key
				   not held */
	INSTALL_STATE_OTHER,	/* a genuine cookie of another state */
	INSTALL_STATE_EXPIRED,	/* a genuine cookie past its expiry */
	INSTALL_STATE_USED,	/* the state was used already */
	INSTALL_STATE_ERROR	/* the store failed (logged) */
};

const char	*install_state_str(enum install_state);

/*
 * Makes the state of a new "Add to Slack" page at now: writes it into
 * state and the cookie value that carries it (expiring at now +
 * INSTALL_STATE_TTL, under kr's current key) into cookie.  Stores
 * nothing; cannot fail.
 */
void		 install_state_new(struct keyring *kr, time_t now,
		    char state[CRYPTO_TOKEN_MAX],
		    char cookie[INSTALL_COOKIE_MAX]);

/*
 * Checks, at now and with the keys of kr, that cookie (its value; NULL
 * when the request had none) was made by install_state_new for state
 * (from the redirect; NULL when absent).  Every comparison is in
 * constant time.  INSTALL_STATE_OK (then *expires, if not NULL, is the
 * cookie's expiry), _MISSING, _FORGED, _OTHER or _EXPIRED.  Writes
 * nothing.
 */
enum install_state install_state_check(struct keyring *kr,
		    const char *cookie, const char *state, time_t now,
		    time_t *expires);

/*
 * install_state_check with the session's keys, then records the state as
 * used (store_install_state_take, capped at INSTALL_STATE_CAP; *dropped
 * says how many older states made room).  INSTALL_STATE_OK for the
 * first use of a state, else what the check said, _USED or _ERROR.
 */
enum install_state install_state_take(struct session *, const char *cookie,
		    const char *state, time_t now, long *dropped);

#endif

/*
 * install: Slack app installations, from "Add to Slack" to a bot token
 * that never lapses while it is used, and the authorization of every
 * request in the Bolt sense.
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

#endif

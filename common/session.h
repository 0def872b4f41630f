/*
 * session: a Slack user's Salesforce session, from link to logout.
 *
 * This is where the store and the Salesforce client meet: issuing login
 * links, completing a link after the OAuth callback, running a call with
 * the user's tokens and refreshing them once when Salesforce says they
 * expired, and logging out.  The programs in cgi/ only parse requests and
 * render answers around these functions.
 *
 * Refreshes are single-flight across every thread, process and host that
 * share the database: the refresher holds the store's lock of that user
 * (store_lock_try: a byte of a lock file beside a SQLite database, an
 * advisory lock of a PostgreSQL server), re-reads the link under it, and
 * refreshes only if nobody else did meanwhile; the others wait and use
 * the refreshed token.  The lock goes with the connection, so a killed
 * refresher never blocks anyone.  This matters because with refresh-token rotation a
 * refresh token presented twice makes Salesforce revoke the whole grant.
 * Replacing a link (a new login) and removing it (logout) take the same
 * lock, so a refresh never sees its link change between reading it and
 * writing the new tokens, and the token a relink or logout revokes is
 * always the current one.
 */
#ifndef FORCELINK_SESSION_H
#define FORCELINK_SESSION_H

#include "config.h"
#include "http.h"
#include "sf.h"
#include "sf_case.h"
#include "slack.h"
#include "store.h"

/* The cookie that binds an OAuth state to the browser that started the
 * login (SPEC §5), and how long a started login stays valid. */
#define SESSION_COOKIE		"forcelink_oauth"
#define SESSION_STATE_TTL	600

/* The most refresh locks one session (the fibers of one thread) holds at
 * once; more wait for a free one. */
#define SESSION_LOCKS		32

/* One thread's resources: the settings, a database connection and an
 * HTTP client. */
struct session {
	const struct config	*cfg;
	struct store		*st;
	struct http		*http;
	char			*locks[SESSION_LOCKS]; /* names held */
};

/*
 * The single-flight lock of every refresh (a user's Salesforce tokens, an
 * integration user's token, a Slack installation's bot token): the
 * store's lock named id, which names what is refreshed (store_lock_try;
 * ids whose hashes collide merely refresh one after the other).  While it
 * waits, a fiber gives its thread to other requests and its deadline
 * (fiber_set_deadline) still runs.  Returns a handle to pass to session_unlock(), or -1 (logged) on
 * failure or after 25 s.  session_unlock() ignores -1; session_free()
 * releases what is still held.
 */
int	 session_lock_id(struct session *, const char *id);
void	 session_unlock(struct session *, int);

enum session_result {
	SESSION_OK,
	SESSION_UNLINKED,	/* no link: offer the login link */
	SESSION_REVOKED,	/* Salesforce refused the refresh token for
				   good; the link was removed */
	SESSION_RELINK,		/* a freshly refreshed session was refused
				   too: the user must link again */
	SESSION_BADKEY,		/* the link cannot be opened with this key;
				   nothing was changed */
	SESSION_REFUSED,	/* Salesforce refused the call (limits,
				   permissions, a refused code) */
	SESSION_FORGED,		/* a token reply failed verification */
	SESSION_TRANSIENT,	/* Salesforce unreachable, slow, failing or
				   answering garbage */
	SESSION_ERROR,		/* our own failure (logged) */
	SESSION_MOVED,		/* the link was made with another integration
				   than the workspace's now: it is not used;
				   the user must link again */
	SESSION_IUSER_REFUSED	/* Salesforce refused the integration's
				   client credentials (no Run-As user, flow
				   off, wrong secret): the admin must act */
};

const char	*session_result_str(enum session_result);

/* What the callback page shows after a successful link. */
struct session_linked {
	char	*sf_username;
	char	*sf_org_id;
	char	*instance_url;
};

/* Opens a database connection and an HTTP client for one thread.
 * Returns NULL on failure (logged). */
struct session	*session_new(const struct config *);
/* session_new() for a worker thread: its store connects on first use
 * (store_open_deferred), so that no thread fails to start, and no
 * worker exits, while a PostgreSQL server is down. */
struct session	*session_new_thread(const struct config *);
void		 session_free(struct session *);

/* Makes a one-time login nonce for who and returns the login link
 * (allocated) in *url.  SESSION_OK or SESSION_ERROR. */
enum session_result session_login_url(struct session *,
		    const struct slack_user *, char **url);

/* Fetches who's Salesforce identity (userinfo). */
enum session_result session_whoami(struct session *,
		    const struct slack_user *, struct sf_userinfo *out,
		    char **instance_url);

/*
 * Revokes who's refresh token at Salesforce and deletes the link.  If
 * Salesforce cannot be reached the link is kept (SESSION_TRANSIENT), so
 * a live grant is never forgotten.  SESSION_UNLINKED when there was none.
 */
enum session_result session_logout(struct session *,
		    const struct slack_user *);

/*
 * Completes a link after the OAuth callback: exchanges code (with its
 * PKCE verifier), verifies the reply (signature, instance_url, identity),
 * reads the username, stores the link encrypted and revokes the refresh
 * token of a link it replaces.  On SESSION_OK *out is filled (free with
 * session_linked_free).
 */
enum session_result session_link(struct session *, const struct slack_user *,
		    const char *code, const char *verifier,
		    struct session_linked *out);

void		 session_linked_free(struct session_linked *);

/* --- Integrations (issue 6) ------------------------------------------
 *
 * A workspace uses one Salesforce integration (org_find: its own
 * mapping, else its enterprise's, else the default).  A link records the
 * integration it was made with, and every call made with it (refresh,
 * revoke, queries) uses that integration only.  When the workspace has
 * been mapped to another integration since, the link is not used at all
 * (SESSION_MOVED: the user links again, and the new link replaces it;
 * the old grant is then revoked with its own integration); mapping the
 * workspace back makes it usable again.  A logout still revokes such a
 * link with its own integration.
 *
 * In integration-user mode (an integration added with
 * --integration-user), nobody links: commands run with one access token
 * of the integration's Run-As user, fetched with the client credentials
 * flow and shared by every worker through the store.  The fetch is
 * single-flight across processes (the refresh lock, on a byte of its
 * own); a 401 makes one re-fetch, after which the call is tried once
 * more.
 */

/* Who a workspace's commands run as. */
struct session_as {
	char	 integration[CONFIG_ORG_NAME_MAX + 1];	/* "" for the default */
	int	 integration_user;	/* as the integration user */
	char	*username;		/* the integration user's username, when
					   known (allocated) */
	int	 resolved;		/* integration and integration_user
					   are looked up already: the calls
					   below take them as they are */
};

/*
 * Fills *as for who's workspace, making no call to Salesforce: its
 * integration, whether it is in integration-user mode and, when a token
 * is cached, the integration user's username.  SESSION_OK or
 * SESSION_ERROR.  Release with session_as_free (also after a failure).
 */
enum session_result session_mode(struct session *, const struct slack_user *,
		    struct session_as *as);
void		 session_as_free(struct session_as *);

/*
 * Runs one page of search q (sf.h) for who and fills *out; on
 * SESSION_OK *instance_url (allocated) holds the instance the records
 * came from.  *err, when the result is SESSION_REFUSED, says what
 * Salesforce answered.  q's owner_id and currency are set here: for
 * opportunities the owner is who's own Salesforce user (the link's
 * sf_user_id; a call without one, in integration-user mode, is not
 * made: SESSION_ERROR), and CurrencyIsoCode is selected unless the org
 * is known to have one currency.  That is learnt, per instance and per
 * process for SESSION_CURRENCY_TTL seconds, from Salesforce refusing
 * the field (INVALID_FIELD, which it answers in a single-currency org),
 * and the query is then made again without it, in the same call.
 * *as (may be NULL) is filled as for session_whoami_as(), and one that
 * session_mode() filled is used as it is.
 */
enum session_result session_query_as(struct session *,
		    const struct slack_user *, const struct sf_search *q,
		    struct sf_records *out, char **instance_url,
		    struct sf_error *err, struct session_as *as);

#define SESSION_CURRENCY_TTL	3600

/* session_whoami() that fills *as (may be NULL): as whom the call ran.
 * An *as that session_mode() filled is used as it is (one look-up per
 * request, not two). */
enum session_result session_whoami_as(struct session *,
		    const struct slack_user *, struct sf_userinfo *out,
		    char **instance_url, struct session_as *as);

/*
 * The integration a new login of who starts with (the workspace's), for
 * /oauth/start.  SESSION_OK fills *org (release with config_sf_org_free);
 * SESSION_ERROR.
 */
enum session_result session_login_org(struct session *,
		    const struct slack_user *, struct sf_org *org);

/*
 * The Salesforce authorize URL (allocated) of who's login with state
 * (whose hash is state_hash) and PKCE verifier: the workspace's
 * integration, which is recorded with the state for the callback, and
 * prompt=login when FORCELINK_LINK_PROOF names "code" or "email".  NULL
 * on failure (logged).  For /oauth/start, and for the callback of Sign
 * in with Slack, which hands the login on to Salesforce.
 */
char		*session_login_authorize_url(struct session *,
		    const struct slack_user *,
		    const unsigned char state_hash[CRYPTO_HASHLEN],
		    const char *state, const char *verifier);

/*
 * Writes into out (n bytes) the CGI header line that sets the login
 * cookie name=value (value: a token of crypto_random_token) for
 * SESSION_STATE_TTL seconds: Path the public URL's path + /oauth/,
 * HttpOnly, SameSite=Lax, and Secure when the public URL is https.
 * out holds the value: wipe it.  /oauth/start sets the cookies with it,
 * and the callback of Sign in with Slack sets forcelink_oauth again, for
 * the Salesforce login's own SESSION_STATE_TTL.
 */
void		 session_cookie(const struct config *, const char *name,
		    const char *value, char *out, size_t n);

/*
 * session_link() with the integration the login was started with (org as
 * /oauth/start recorded it; NULL: the workspace's now).
 */
enum session_result session_link_org(struct session *,
		    const struct slack_user *, const char *org,
		    const char *code, const char *verifier,
		    struct session_linked *out);

/* --- A login in steps (issue 11) -------------------------------------
 *
 * session_link_org() is two steps, which a login that must prove who is
 * in the browser (FORCELINK_LINK_PROOF, proof.h) runs apart: the grant
 * is fetched and verified at the callback, and stored only once the
 * proof passed.  A grant that is refused is revoked at Salesforce.
 */

/* A verified grant, not stored: link holds org (the integration's name),
 * sf_*, instance_url and both tokens; email and email_verified are the
 * Salesforce user's (userinfo; email NULL when not given).  Release with
 * session_grant_free(), which wipes the tokens. */
struct session_grant {
	struct store_link	 link;
	char			*email;
	int			 email_verified;
};

/*
 * The first step: exchanges code (with its PKCE verifier) with integration
 * org (NULL: the workspace's), verifies the reply and reads the userinfo.
 * A grant Salesforce issued but that fails a check is revoked here.
 * SESSION_OK fills *g; otherwise as session_link().
 */
enum session_result session_grant_get(struct session *,
		    const struct slack_user *, const char *org,
		    const char *code, const char *verifier,
		    struct session_grant *g);

/*
 * The second step: stores link as who's link (under who's refresh lock)
 * and revokes the refresh token of a link it replaces.  On SESSION_OK
 * *out is filled; SESSION_ERROR otherwise (the caller still owns the
 * grant, and revokes it).
 */
enum session_result session_grant_store(struct session *,
		    const struct slack_user *, const struct store_link *link,
		    struct session_linked *out);

/*
 * The second step of FORCELINK_LINK_PROOF=code, when who types the code
 * whose hash is code_hash: under who's refresh lock, as
 * session_grant_store(), the pending link is taken and stored as who's
 * link in one transaction (store_pending_link: a worker killed at any
 * instant leaves it pending or stored); after the commit and the lock,
 * the refresh token of a link it replaced is revoked.  Returns what
 * store_pending_link() returned (STORE_ERROR also when the lock could
 * not be had: nothing changed).  On STORE_OK *out is filled (with the
 * strings of p->link's sf_username, sf_org_id and instance_url, which
 * are moved: NULL in *p), *p and *search otherwise as
 * store_pending_confirm() fills them; on STORE_MISMATCH p->who says
 * whose login it was.  Free *p with store_pending_free().
 */
enum store_result session_pending_store(struct session *,
		    const unsigned char code_hash[CRYPTO_HASHLEN],
		    const struct slack_user *who, time_t now,
		    struct store_pending *p, struct store_search *search,
		    struct session_linked *out);

/*
 * Revokes refresh (a grant that is not stored, or refused) with
 * integration org, logging why (a word).  Returns 0 when it is revoked
 * (or Salesforce says it is not valid any more), -1 when it may still be
 * live (Salesforce unreachable: the caller keeps it to try again).
 */
int		 session_grant_revoke(struct session *,
		    const struct slack_user *, const char *org,
		    const char *refresh, const char *why);

void		 session_grant_free(struct session_grant *);

/* --- Searches resumed after linking (issue 6) ------------------------- */

/*
 * Slack takes posts to a response_url for 30 minutes after the command.
 * A remembered search is run after linking only while it is younger than
 * this, which leaves a minute for the search itself (a refresh and a
 * query, each bounded by the HTTP timeouts) before the post.
 */
#define SESSION_RESUME_MAX_AGE	(30 * 60 - 60)

/*
 * session_login_url() for a search that needs the user linked first:
 * text (the search, Slack's escaping undone) and response_url are kept
 * sealed with the nonce, so the callback can answer the search once the
 * link is stored.  Nothing is kept when text is empty or longer than
 * STORE_SEARCH_TEXT_MAX, or response_url is NULL, longer than
 * STORE_SEARCH_URL_MAX or outside SLACK_RESPONSE_URL_PREFIX (nothing
 * could be posted).  *kept (kept may be NULL) says whether it was.
 * SESSION_OK or SESSION_ERROR.
 */
enum session_result session_login_url_search(struct session *,
		    const struct slack_user *, const char *text,
		    const char *response_url, char **url, int *kept);

/* session_login_url_search() that records the names of who's workspace
 * and user (may be NULL) with the link, for the login pages. */
enum session_result session_login_url_names(struct session *,
		    const struct slack_user *, const struct store_names *names,
		    const char *text, const char *response_url, char **url,
		    int *kept);

/* session_login_url_names() that keeps the search's text, response_url
 * and command (keep may be NULL, its command NULL for /contact) under
 * the same rules (issue 15: a search is resumed as its command). */
enum session_result session_login_url_keep(struct session *,
		    const struct slack_user *, const struct store_names *names,
		    const struct store_search *keep, char **url, int *kept);

/*
 * Whether forcelink may post to url: it starts with the configured
 * SLACK_RESPONSE_URL_PREFIX as it will be sent.  Refused (0): NULL; user
 * information; a path with a ".", ".." or inner empty segment, a
 * backslash, a fragment, a space, a control or non-ASCII byte, a
 * malformed escape or an escaped '.', '/', '\\' or control byte; and
 * anything libcurl would send differently from how it is written.
 */
int		 session_response_url_ok(const struct config *,
		    const char *url);

/*
 * POSTs json (a Slack message) to url, a response_url, when
 * session_response_url_ok() allows it: the one poster of every answer
 * that comes after Slack's acknowledgement (reply.h, resumed searches,
 * button presses, Cases).  Returns SESSION_POST_OK when Slack took it
 * (200), SESSION_POST_FAILED when the post failed, SESSION_POST_DROPPED
 * when none was made (json NULL, url NULL or not allowed).  Logged as
 * event: outcome and status, never the URL (a capability).
 */
enum session_post {
	SESSION_POST_OK,
	SESSION_POST_FAILED,
	SESSION_POST_DROPPED
};
enum session_post session_response_post(struct session *, const char *url,
		    const char *json, const char *event);

/* --- Cases (issue 15) -------------------------------------------------
 *
 * The Case form's two Salesforce calls (sf_case.h), run as
 * session_search_as() runs a search: with who's link (refreshed once on
 * SF_EXPIRED), or as the integration user; *as as there.
 */

/* The Priority picklist of who's org (the describe, cached).  On
 * SESSION_OK *out is filled and *instance_url (may be NULL) allocated. */
enum session_result session_case_priorities(struct session *,
		    const struct slack_user *, struct sf_case_picklist *out,
		    char **instance_url, struct session_as *as);

/*
 * Creates c in who's org with one composite call.  SESSION_OK when
 * Salesforce answered: *out says whether the Case was created or why not;
 * *instance_url (may be NULL) is allocated.  SESSION_REFUSED with *err
 * when the composite itself was refused; SESSION_TRANSIENT when the
 * answer did not come (the Case may exist).
 */
enum session_result session_case_create(struct session *,
		    const struct slack_user *, const struct sf_case_new *c,
		    struct sf_case_result *out, char **instance_url,
		    struct sf_error *err, struct session_as *as);

#endif

/*
 * session: Salesforce sessions of Slack users (see session.h).
 *
 * Every call made with a user's tokens goes through session_call(), which
 * reads the link, runs the call, and on SF_EXPIRED refreshes once (single
 * flight, under the per-user lock) and retries once.  There is no loop: a
 * session refused right after a refresh is reported, not refreshed again.
 * The one exception is bounded too: when the user relinked meanwhile (a
 * new login revokes the grant it replaces, freshly refreshed tokens
 * included), the call is tried once more with the new link.
 */

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fiber.h"
#include "form.h"
#include "log.h"
#include "org.h"
#include "metrics.h"
#include "session.h"

/* A login nonce is valid this long (SPEC §5: 10 minutes). */
#define SESSION_NONCE_TTL	600
/* How long a caller waits for another worker's refresh of the same user,
 * and its first and longest nap between two tries. */
#define SESSION_LOCK_WAIT_MS	25000
#define SESSION_LOCK_NAP_MS	2
#define SESSION_LOCK_NAP_MAX_MS	32

static const char *const session_result_names[] = {
	"ok", "unlinked", "revoked", "relink", "badkey", "refused", "forged",
	"transient", "error", "moved", "iuser_refused"
};

const char *
session_result_str(enum session_result r)
{
	return session_result_names[r];
}

/* session_new() and session_new_thread(). */
static struct session *
session_new_how(const struct config *cfg, int deferred)
{
	struct session	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->cfg = cfg;
	if ((s->st = deferred ? store_open_deferred(cfg->db_path,
	    cfg->keyring) : store_open_keyring(cfg->db_path,
	    cfg->keyring)) == NULL)
		goto fail;
	if ((s->http = http_new(cfg->ca_file)) == NULL)
		goto fail;
	return s;
fail:
	session_free(s);
	return NULL;
}

struct session *
session_new(const struct config *cfg)
{
	return session_new_how(cfg, 0);
}

struct session *
session_new_thread(const struct config *cfg)
{
	return session_new_how(cfg, 1);
}

void
session_free(struct session *s)
{
	int	 h;

	if (s == NULL)
		return;
	for (h = 0; h < SESSION_LOCKS; h++)
		session_unlock(s, h);
	store_close(s->st);
	http_free(s->http);
	free(s);
}

int
session_lock_id(struct session *s, const char *id)
{
	int	 h, rc = 0, nap_ms = SESSION_LOCK_NAP_MS;
	long	 waited_ms;

	for (waited_ms = 0; ; waited_ms += nap_ms) {
		/* A free handle first (the other fibers of this thread may
		 * hold them all for a moment), claimed before the try, which
		 * may wait for the server while another fiber runs. */
		for (h = 0; h < SESSION_LOCKS && s->locks[h] != NULL; h++)
			continue;
		if (h < SESSION_LOCKS) {
			if ((s->locks[h] = strdup(id)) == NULL) {
				log_error("msg=\"out of memory\"");
				return -1;
			}
			if ((rc = store_lock_try(s->st, id)) == 1)
				return h;
			free(s->locks[h]);
			s->locks[h] = NULL;
			if (rc == -1)
				return -1;
		}
		if (waited_ms >= SESSION_LOCK_WAIT_MS) {
			log_error("msg=\"refresh lock: timed out\"");
			return -1;
		}
		/* A fiber gives its thread to other requests meanwhile, and
		 * Slack's deadline still runs during the nap. */
		fiber_sleep(nap_ms);
		/* The holder is refreshing over the network: try often at
		 * first, then less, so that many waiters do not busy the
		 * store. */
		if (nap_ms < SESSION_LOCK_NAP_MAX_MS)
			nap_ms *= 2;
	}
}

/* The refresh lock of who (session_lock_id). */
static int
session_lock(struct session *s, const struct slack_user *who)
{
	char	 id[3 * (SLACK_ID_MAX + 1)];

	snprintf(id, sizeof(id), "%s\n%s\n%s", who->enterprise_id,
	    who->team_id, who->user_id);
	return session_lock_id(s, id);
}

void
session_unlock(struct session *s, int h)
{
	if (h < 0 || h >= SESSION_LOCKS || s->locks[h] == NULL)
		return;
	store_lock_release(s->st, s->locks[h]);
	free(s->locks[h]);
	s->locks[h] = NULL;
}

/* Replaces *dst with a copy of src (which may be NULL).  -1 on ENOMEM. */
static int
session_replace(char **dst, const char *src, int secret)
{
	char	*p = NULL;

	if (src != NULL && (p = strdup(src)) == NULL)
		return -1;
	if (secret)
		crypto_free_secret(*dst);
	else
		free(*dst);
	*dst = p;
	return 0;
}

/*
 * Whether a and b are the same state of one link: the same version and
 * the same refresh token.  The version alone cannot tell, because a link
 * removed by a logout and made again by a new login starts over at
 * version 1; the new login's grant has its own refresh token.
 */
static int
session_same_link(const struct store_link *a, const struct store_link *b)
{
	return a->version == b->version &&
	    crypto_str_equal(a->refresh_token, b->refresh_token);
}

/*
 * Salesforce refused the tokens of link (as read at link->version) right
 * after they were refreshed.  A new login of the same user explains that:
 * it replaces the link as soon as the refresh lets go of the lock, and
 * revokes the grant it replaces, our fresh tokens included.  Reads the
 * link again: returns SF_OK with *link replaced by the current one when
 * that is another link or a newer version, SF_INVALID_GRANT when it is
 * gone or unchanged, or SF_ERROR.  So a search that races its user's
 * relink uses the new link instead of telling a linked user to link
 * again.
 */
static enum sf_result
session_relinked(struct session *s, const struct slack_user *who,
    struct store_link *link)
{
	struct store_link	 now;
	enum store_result	 sr;

	memset(&now, 0, sizeof(now));
	sr = store_link_get(s->st, who, &now);
	if (sr == STORE_NOTFOUND)
		return SF_INVALID_GRANT;
	if (sr != STORE_OK)
		return SF_ERROR;
	if (session_same_link(&now, link)) {
		store_link_free(&now);
		return SF_INVALID_GRANT;
	}
	store_link_free(link);
	*link = now;
	log_event(LOGL_INFO, "link.changed", "version=%lld",
	    (long long)link->version);
	return SF_OK;
}

/*
 * Refreshes link (who's link as read at version link->version) unless
 * another thread or process did so meanwhile.  On SF_OK *link holds the
 * current tokens.  SF_INVALID_GRANT means the link was removed.
 */
static enum sf_result
session_refresh(struct session *s, const struct slack_user *who,
    const struct sf_org *org, struct store_link *link)
{
	struct store_link	 now;
	struct sf_tokens	 tok;
	struct sf_error		 err;
	enum store_result	 sr;
	enum sf_result		 r = SF_ERROR;
	enum metrics_refresh	 mo = METRICS_REFRESH_ERROR;
	const char		*why = NULL;
	int			 fd, vr;

	memset(&now, 0, sizeof(now));
	memset(&tok, 0, sizeof(tok));
	if ((fd = session_lock(s, who)) == -1) {
		metrics_refresh(METRICS_REFRESH_ERROR);
		return SF_TRANSIENT;
	}
	sr = store_link_get(s->st, who, &now);
	if (sr == STORE_NOTFOUND) {
		r = SF_INVALID_GRANT;
		/* Logged out meanwhile: no refresh, nothing counted. */
		mo = METRICS_REFRESH__MAX;
		goto out;
	} else if (sr != STORE_OK)
		goto out;
	if (!session_same_link(&now, link)) {
		/* Someone refreshed, relinked, or logged out and in again
		 * since link was read: use theirs. */
		store_link_free(link);
		*link = now;
		memset(&now, 0, sizeof(now));
		log_event(LOGL_INFO, "sf.refresh", "outcome=shared");
		r = SF_OK;
		mo = METRICS_REFRESH_SHARED;
		goto out;
	}
	r = sf_token_refresh(s->http, org, link->refresh_token, &tok, &err);
	if (r == SF_INVALID_GRANT) {
		log_event(LOGL_INFO, "sf.refresh", "outcome=invalid_grant "
		    "desc=\"%s\"", err.message);
		store_link_delete(s->st, who, link->version);
		mo = METRICS_REFRESH_INVALID_GRANT;
		goto out;
	} else if (r != SF_OK) {
		log_event(LOGL_WARN, "sf.refresh", "outcome=%s",
		    sf_result_str(r));
		goto out;
	}
	if ((vr = sf_tokens_verify(org, &tok, &why)) == -2) {
		log_error("msg=\"%s\"", why);
		r = SF_ERROR;
		goto out;
	}
	if (vr != 0 || strcmp(tok.org_id, link->sf_org_id) != 0 ||
	    strcmp(tok.user_id, link->sf_user_id) != 0) {
		log_event(LOGL_ERR, "sf.refresh", "outcome=forged why=\"%s\"",
		    why != NULL ? why : "identity changed");
		r = SF_MALFORMED;
		mo = METRICS_REFRESH_FORGED;
		goto out;
	}
	sr = store_link_update_tokens(s->st, who, link->version,
	    tok.access_token, tok.refresh_token);
	if (sr != STORE_OK) {
		r = sr == STORE_CONFLICT ? SF_INVALID_GRANT : SF_ERROR;
		goto out;
	}
	if (session_replace(&link->access_token, tok.access_token, 1) == -1 ||
	    (tok.refresh_token != NULL && session_replace(&link->refresh_token,
	    tok.refresh_token, 1) == -1)) {
		r = SF_ERROR;
		goto out;
	}
	link->version++;
	log_event(LOGL_INFO, "sf.refresh", "outcome=ok rotated=%d",
	    tok.refresh_token != NULL);
	mo = METRICS_REFRESH_OK;
out:
	metrics_refresh(mo);
	session_unlock(s, fd);
	store_link_free(&now);
	sf_tokens_free(&tok);
	return r;
}

/* A call made with a user's link; arg carries its inputs and outputs. */
typedef enum sf_result (*session_fn)(struct session *,
    const struct sf_org *, const struct store_link *, void *arg);

static enum session_result
session_from_sf(enum sf_result r)
{
	switch (r) {
	case SF_OK:
		return SESSION_OK;
	case SF_REFUSED:
		return SESSION_REFUSED;
	case SF_TRANSIENT:
	case SF_MALFORMED:
		return SESSION_TRANSIENT;
	default:
		return SESSION_ERROR;
	}
}

/*
 * Maps the failure of a call whose 4xx means Salesforce said no (revoke,
 * userinfo during a link): SESSION_REFUSED only when it did, never for a
 * failure of our own (SF_ERROR).
 */
static enum session_result
session_from_reply(enum sf_result r)
{
	switch (r) {
	case SF_TRANSIENT:
	case SF_MALFORMED:
		return SESSION_TRANSIENT;
	case SF_ERROR:
		return SESSION_ERROR;
	default:
		return SESSION_REFUSED;
	}
}

/*
 * Reads who's link and its integration into *link and *org (the caller
 * releases both, whatever the result).  With ws (the workspace's
 * integration now) not NULL, a link made with another integration is not
 * used: SESSION_MOVED.  Returns SESSION_OK, SESSION_UNLINKED,
 * SESSION_MOVED, SESSION_BADKEY or SESSION_ERROR.
 */
static enum session_result
session_open_link(struct session *s, const struct slack_user *who,
    const char *ws, struct store_link *link, struct sf_org *org)
{
	enum store_result	 sr;
	enum org_result		 cr;

	memset(org, 0, sizeof(*org));
	sr = store_link_get(s->st, who, link);
	if (sr != STORE_OK)
		return sr == STORE_NOTFOUND ? SESSION_UNLINKED :
		    sr == STORE_BADKEY ? SESSION_BADKEY : SESSION_ERROR;
	if (ws != NULL && strcmp(link->org, ws) != 0) {
		log_event(LOGL_INFO, "link.moved", "link_integration=\"%s\" "
		    "workspace_integration=\"%s\"", link->org, ws);
		return SESSION_MOVED;
	}
	cr = org_find(s->cfg, s->st, who->enterprise_id, who->team_id,
	    link->org, org);
	if (cr == ORG_OK)
		return SESSION_OK;
	log_error("integration=\"%s\" msg=\"the link's integration %s\"",
	    link->org, cr == ORG_UNKNOWN ? "is unknown" :
	    cr == ORG_BADKEY ? "has a secret that does not open" :
	    "cannot be read");
	return cr == ORG_BADKEY ? SESSION_BADKEY : SESSION_ERROR;
}

/* The refresh lock's id of integration name's token (session_lock_id):
 * no Slack id starts with "integration". */
static int
session_lock_integration(struct session *s, const char *name)
{
	char	 id[sizeof("integration\n") + CONFIG_ORG_NAME_MAX];

	snprintf(id, sizeof(id), "integration\n%s", name);
	return session_lock_id(s, id);
}

/* The session result of a failed client credentials fetch. */
static enum session_result
session_from_client(enum sf_result r)
{
	switch (r) {
	case SF_INVALID_GRANT:
	case SF_REFUSED:
		return SESSION_IUSER_REFUSED;
	case SF_TRANSIENT:
	case SF_MALFORMED:
		return SESSION_TRANSIENT;
	default:
		return SESSION_ERROR;
	}
}

/*
 * With integration org's token lock held: fetches a token with the client
 * credentials flow, verifies it as a login's (signature with org's
 * secret, instance_url and identity URL on Salesforce or org's login
 * host), reads the Run-As user's username, and stores it in place of
 * version expect.  Returns SESSION_OK with *tok filled, or a failure.
 */
static enum session_result
session_itoken_fetch(struct session *s, const struct sf_org *org,
    int64_t expect, struct store_itoken *tok)
{
	struct sf_tokens	 t;
	struct sf_userinfo	 ui;
	struct sf_error		 err;
	enum session_result	 res = SESSION_ERROR;
	enum store_result	 sr;
	enum sf_result		 r;
	const char		*why = NULL;
	int			 vr;

	memset(&t, 0, sizeof(t));
	memset(&ui, 0, sizeof(ui));
	memset(tok, 0, sizeof(*tok));
	r = sf_token_client(s->http, org, &t, &err);
	if (r != SF_OK) {
		log_event(LOGL_WARN, "sf.token", "grant=client_credentials "
		    "integration=%s outcome=%s error=%s", org->name,
		    sf_result_str(r), err.code[0] != '\0' ? err.code : "-");
		res = session_from_client(r);
		goto out;
	}
	if ((vr = sf_tokens_verify(org, &t, &why)) != 0) {
		log_event(LOGL_ERR, "sf.token", "grant=client_credentials "
		    "integration=%s outcome=forged why=\"%s\"", org->name, why);
		res = vr == -2 ? SESSION_ERROR : SESSION_FORGED;
		goto out;
	}
	r = sf_userinfo(s->http, t.instance_url, t.access_token, &ui, &err);
	if (r != SF_OK) {
		res = session_from_reply(r);
		goto out;
	}
	if (strcmp(ui.user_id, t.user_id) != 0 ||
	    strcmp(ui.org_id, t.org_id) != 0) {
		log_event(LOGL_ERR, "sf.userinfo", "integration=%s "
		    "outcome=rejected why=\"identity differs from the token "
		    "reply\"", org->name);
		res = SESSION_FORGED;
		goto out;
	}
	tok->sf_user_id = t.user_id;
	tok->sf_org_id = t.org_id;
	tok->sf_username = ui.username;
	tok->instance_url = t.instance_url;
	tok->access_token = t.access_token;
	sr = store_itoken_put(s->st, org->name, tok, expect);
	memset(tok, 0, sizeof(*tok));
	if (sr != STORE_OK) {
		log_error("integration=%s msg=\"cannot keep the integration "
		    "user's token (%s)\"", org->name, store_result_str(sr));
		goto out;
	}
	log_event(LOGL_INFO, "sf.token", "grant=client_credentials "
	    "integration=%s outcome=ok sf_user=%s", org->name, t.user_id);
	/* Read back, so the caller holds exactly what the workers share. */
	res = store_itoken_get(s->st, org->name, tok) == STORE_OK ?
	    SESSION_OK : SESSION_ERROR;
out:
	sf_tokens_free(&t);
	sf_userinfo_free(&ui);
	return res;
}

/*
 * The token of integration org's integration user into *tok: the cached
 * one, unless it is the one of version stale (a call just got a 401 with
 * it; 0: none), or none is cached; then, under the integration's lock,
 * the cached one if another worker replaced it meanwhile, else a new one
 * (session_itoken_fetch).  So concurrent callers make one fetch.
 */
static enum session_result
session_itoken(struct session *s, const struct sf_org *org, int64_t stale,
    struct store_itoken *tok)
{
	struct store_itoken	 peek;
	enum session_result	 res;
	enum store_result	 sr;
	int64_t			 expect = 0;
	int			 fd;

	memset(&peek, 0, sizeof(peek));
	sr = store_itoken_get(s->st, org->name, tok);
	if (sr == STORE_OK && tok->version != stale)
		return SESSION_OK;
	store_itoken_free(tok);
	if (sr == STORE_ERROR)
		return SESSION_ERROR;
	if ((fd = session_lock_integration(s, org->name)) == -1)
		return SESSION_TRANSIENT;
	sr = store_itoken_get(s->st, org->name, tok);
	if (sr == STORE_OK && tok->version != stale) {
		log_event(LOGL_INFO, "sf.token", "grant=client_credentials "
		    "integration=%s outcome=shared", org->name);
		res = SESSION_OK;
		goto out;
	}
	store_itoken_free(tok);
	if (sr == STORE_ERROR) {
		res = SESSION_ERROR;
		goto out;
	}
	/* A cached token that does not open (sealed under a key we do not
	 * hold) is only a cache: it is replaced. */
	if (sr != STORE_NOTFOUND) {
		if (store_itoken_peek(s->st, org->name, &peek) != STORE_OK) {
			res = SESSION_ERROR;
			goto out;
		}
		expect = peek.version;
	}
	res = session_itoken_fetch(s, org, expect, tok);
out:
	session_unlock(s, fd);
	store_itoken_free(&peek);
	if (res != SESSION_OK)
		store_itoken_free(tok);
	return res;
}

/*
 * Runs fn as the integration user of integration as->integration; a 401
 * makes one re-fetch of the token and one more try.  On SESSION_OK
 * *instance_url (when not NULL) receives the instance, and as->username
 * the integration user's username.
 */
static enum session_result
session_iuser_call(struct session *s, session_fn fn, void *arg,
    char **instance_url, struct session_as *as)
{
	struct sf_org		 org;
	struct store_itoken	 tok;
	struct store_link	 link;
	enum session_result	 res;
	enum org_result		 cr;
	enum sf_result		 r;
	int64_t			 stale;

	memset(&tok, 0, sizeof(tok));
	memset(&link, 0, sizeof(link));
	cr = org_find(s->cfg, s->st, NULL, NULL, as->integration, &org);
	if (cr != ORG_OK) {
		res = cr == ORG_BADKEY ? SESSION_BADKEY : SESSION_ERROR;
		goto out;
	}
	if ((res = session_itoken(s, &org, 0, &tok)) != SESSION_OK)
		goto out;
	link.instance_url = tok.instance_url;
	link.access_token = tok.access_token;
	r = fn(s, &org, &link, arg);
	if (r == SF_EXPIRED) {
		stale = tok.version;
		log_event(LOGL_INFO, "sf.call", "integration=%s "
		    "outcome=expired version=%lld", org.name,
		    (long long)stale);
		store_itoken_free(&tok);
		if ((res = session_itoken(s, &org, stale, &tok)) !=
		    SESSION_OK)
			goto out;
		link.instance_url = tok.instance_url;
		link.access_token = tok.access_token;
		r = fn(s, &org, &link, arg);
		if (r == SF_EXPIRED) {
			log_event(LOGL_WARN, "sf.call", "integration=%s "
			    "outcome=expired_after_refetch", org.name);
			res = SESSION_IUSER_REFUSED;
			goto out;
		}
	}
	res = session_from_sf(r);
	if (res == SESSION_OK && instance_url != NULL &&
	    (*instance_url = strdup(tok.instance_url)) == NULL)
		res = SESSION_ERROR;
out:
	/* Who it is, also when the call failed after the token came. */
	if (tok.sf_username != NULL) {
		free(as->username);
		if ((as->username = strdup(tok.sf_username)) == NULL)
			res = SESSION_ERROR;
	}
	store_itoken_free(&tok);
	config_sf_org_free(&org);
	return res;
}

/*
 * Runs fn for who: as the integration user when who's workspace is in
 * integration-user mode, else with who's link, refreshing once on
 * SF_EXPIRED.  On SESSION_OK *instance_url (when not NULL) receives a
 * copy of the instance.  *as (may be NULL) is filled with as whom.
 */
static enum session_result
session_call(struct session *s, const struct slack_user *who, session_fn fn,
    void *arg, char **instance_url, struct session_as *as)
{
	struct session_as	 local;
	struct store_link	 link;
	struct sf_org		 org;
	enum session_result	 res;
	enum sf_result		 r;

	memset(&link, 0, sizeof(link));
	memset(&org, 0, sizeof(org));
	memset(&local, 0, sizeof(local));
	if (as == NULL)
		as = &local;
	if (!as->resolved && store_workspace_integration(s->st,
	    who->enterprise_id, who->team_id, as->integration,
	    &as->integration_user) != STORE_OK) {
		res = SESSION_ERROR;
		goto out;
	}
	as->resolved = 1;
	if (as->integration_user) {
		res = session_iuser_call(s, fn, arg, instance_url, as);
		goto out;
	}
	if ((res = session_open_link(s, who, as->integration, &link,
	    &org)) != SESSION_OK)
		goto out;
	r = fn(s, &org, &link, arg);
	if (r == SF_EXPIRED) {
		r = session_refresh(s, who, &org, &link);
		if (r == SF_INVALID_GRANT) {
			res = SESSION_REVOKED;
			goto out;
		}
		/* Another worker's relink, with another integration. */
		if (r == SF_OK && strcmp(link.org, org.name) != 0) {
			res = SESSION_MOVED;
			goto out;
		}
		if (r == SF_OK) {
			r = fn(s, &org, &link, arg);
			/* A relink right after our refresh revoked the grant
			 * we refreshed: one more try, with the new link (made
			 * with the same integration, or it is not used). */
			if (r == SF_EXPIRED &&
			    session_relinked(s, who, &link) == SF_OK) {
				if (strcmp(link.org, org.name) != 0) {
					res = SESSION_MOVED;
					goto out;
				}
				r = fn(s, &org, &link, arg);
			}
			if (r == SF_EXPIRED) {
				log_event(LOGL_WARN, "sf.call",
				    "outcome=expired_after_refresh");
				res = SESSION_RELINK;
				goto out;
			}
		}
	}
	res = session_from_sf(r);
	if (res == SESSION_OK) {
		if (time(NULL) - link.last_used_at >= STORE_TOUCH_SECS)
			store_link_touch(s->st, who);
		if (instance_url != NULL &&
		    (*instance_url = strdup(link.instance_url)) == NULL)
			res = SESSION_ERROR;
	}
out:
	store_link_free(&link);
	config_sf_org_free(&org);
	session_as_free(&local);
	return res;
}

enum session_result
session_login_url(struct session *s, const struct slack_user *who,
    char **url)
{
	return session_login_url_search(s, who, NULL, NULL, url, NULL);
}

enum session_result
session_login_url_search(struct session *s, const struct slack_user *who,
    const char *text, const char *response_url, char **url, int *kept)
{
	return session_login_url_names(s, who, NULL, text, response_url, url,
	    kept);
}

enum session_result
session_login_url_names(struct session *s, const struct slack_user *who,
    const struct store_names *names, const char *text,
    const char *response_url, char **url, int *kept)
{
	struct store_search	 keep;

	memset(&keep, 0, sizeof(keep));
	keep.text = (char *)text;
	keep.response_url = (char *)response_url;
	return session_login_url_keep(s, who, names, &keep, url, kept);
}

enum session_result
session_login_url_keep(struct session *s, const struct slack_user *who,
    const struct store_names *names, const struct store_search *keep,
    char **url, int *kept)
{
	struct store_search	 search;
	const char		*text, *response_url, *command;
	char			 nonce[CRYPTO_TOKEN_MAX];
	unsigned char		 h[CRYPTO_HASHLEN];
	int			 rc;

	*url = NULL;
	if (kept != NULL)
		*kept = 0;
	memset(&search, 0, sizeof(search));
	text = keep != NULL ? keep->text : NULL;
	response_url = keep != NULL ? keep->response_url : NULL;
	command = keep != NULL ? keep->command : NULL;
	/* Only a search Slack will take an answer for is worth keeping. */
	if (text != NULL && *text != '\0' &&
	    strlen(text) <= STORE_SEARCH_TEXT_MAX &&
	    session_response_url_ok(s->cfg, response_url) &&
	    strlen(response_url) <= STORE_SEARCH_URL_MAX &&
	    (command == NULL || strlen(command) <= STORE_SEARCH_COMMAND_MAX)) {
		search.text = (char *)text;
		search.response_url = (char *)response_url;
		search.command = (char *)command;
	}
	crypto_random_token(nonce, 32);
	crypto_sha256(nonce, h);
	if (store_nonce_add_login(s->st, who, names, h, time(NULL) +
	    SESSION_NONCE_TTL, search.text != NULL ? &search : NULL) !=
	    STORE_OK)
		return SESSION_ERROR;
	rc = asprintf(url, "%s/oauth/start?state=%s", s->cfg->public_url,
	    nonce);
	crypto_wipe(nonce, sizeof(nonce));
	if (rc == -1) {
		*url = NULL;
		return SESSION_ERROR;
	}
	if (kept != NULL)
		*kept = search.text != NULL;
	return SESSION_OK;
}

/*
 * Whether an org (by instance) has several currencies, as a query has
 * shown: an instance not listed is taken to have them, until Salesforce
 * refuses CurrencyIsoCode there.  Per process, each entry for
 * SESSION_CURRENCY_TTL seconds (an org may turn multi-currency on), the
 * oldest replaced when full.
 */
#define SESSION_CURRENCY_SLOTS	64

static struct {
	char	*instance;
	time_t	 at;
} session_single[SESSION_CURRENCY_SLOTS];
static pthread_mutex_t session_single_mu = PTHREAD_MUTEX_INITIALIZER;

/* Returns 1 unless instance is known to have a single currency. */
static int
session_currency(const char *instance)
{
	time_t	 now = time(NULL);
	size_t	 i;
	int	 multi = 1;

	pthread_mutex_lock(&session_single_mu);
	for (i = 0; i < SESSION_CURRENCY_SLOTS; i++)
		if (session_single[i].instance != NULL &&
		    now - session_single[i].at < SESSION_CURRENCY_TTL &&
		    strcmp(session_single[i].instance, instance) == 0)
			multi = 0;
	pthread_mutex_unlock(&session_single_mu);
	return multi;
}

/* Records that instance has a single currency (nothing when memory is
 * short: the next query asks again). */
static void
session_currency_single(const char *instance)
{
	size_t	 i, old = 0;
	char	*dup;

	if ((dup = strdup(instance)) == NULL)
		return;
	pthread_mutex_lock(&session_single_mu);
	for (i = 0; i < SESSION_CURRENCY_SLOTS; i++) {
		if (session_single[i].instance == NULL ||
		    strcmp(session_single[i].instance, instance) == 0) {
			old = i;
			break;
		}
		if (session_single[i].at < session_single[old].at)
			old = i;
	}
	free(session_single[old].instance);
	session_single[old].instance = dup;
	session_single[old].at = time(NULL);
	pthread_mutex_unlock(&session_single_mu);
}

struct session_query_arg {
	const struct sf_search	*q;
	struct sf_records	*out;
	struct sf_error		*err;
};

static enum sf_result
session_query_fn(struct session *s, const struct sf_org *org,
    const struct store_link *link, void *arg)
{
	struct session_query_arg	*a = arg;
	struct sf_search		 q = *a->q;
	enum sf_result			 r;

	if (q.kind == SF_KIND_OPPORTUNITY) {
		q.owner_id = link->sf_user_id;
		q.currency = session_currency(link->instance_url);
	}
	r = sf_query_records(s->http, org, link->instance_url,
	    link->access_token, &q, a->out, a->err);
	if (r == SF_REFUSED && q.currency &&
	    strcmp(a->err->code, "INVALID_FIELD") == 0 &&
	    strstr(a->err->message, "CurrencyIsoCode") != NULL) {
		log_event(LOGL_INFO, "sf.currency", "outcome=single");
		session_currency_single(link->instance_url);
		q.currency = 0;
		r = sf_query_records(s->http, org, link->instance_url,
		    link->access_token, &q, a->out, a->err);
	}
	return r;
}

enum session_result
session_query_as(struct session *s, const struct slack_user *who,
    const struct sf_search *q, struct sf_records *out, char **instance_url,
    struct sf_error *err, struct session_as *as)
{
	struct session_query_arg	 a = { q, out, err };

	memset(err, 0, sizeof(*err));
	return session_call(s, who, session_query_fn, &a, instance_url, as);
}

static enum sf_result
session_whoami_fn(struct session *s, const struct sf_org *org,
    const struct store_link *link, void *arg)
{
	struct sf_error	 err;

	(void)org;
	return sf_userinfo(s->http, link->instance_url, link->access_token,
	    arg, &err);
}

enum session_result
session_whoami(struct session *s, const struct slack_user *who,
    struct sf_userinfo *out, char **instance_url)
{
	return session_call(s, who, session_whoami_fn, out, instance_url,
	    NULL);
}

enum session_result
session_whoami_as(struct session *s, const struct slack_user *who,
    struct sf_userinfo *out, char **instance_url, struct session_as *as)
{
	return session_call(s, who, session_whoami_fn, out, instance_url, as);
}

enum session_result
session_logout(struct session *s, const struct slack_user *who)
{
	struct store_link	 link;
	struct sf_org		 org;
	enum session_result	 res;
	enum store_result	 sr;
	enum sf_result		 r;
	int			 fd;

	memset(&link, 0, sizeof(link));
	memset(&org, 0, sizeof(org));
	/* Under the refresh lock, so the token revoked is the current one
	 * and no refresh in flight writes into a link made after this.  A
	 * link of another integration than the workspace's is revoked with
	 * its own. */
	if ((fd = session_lock(s, who)) == -1) {
		res = SESSION_ERROR;
		goto out;
	}
	if ((res = session_open_link(s, who, NULL, &link, &org)) !=
	    SESSION_OK)
		goto out;
	r = sf_revoke(s->http, &org, link.refresh_token);
	if (r != SF_OK) {
		log_event(LOGL_WARN, "sf.revoke", "outcome=%s; link kept",
		    sf_result_str(r));
		res = session_from_reply(r);
		goto out;
	}
	sr = store_link_delete(s->st, who, -1);
	res = sr == STORE_ERROR ? SESSION_ERROR : SESSION_OK;
	log_event(LOGL_INFO, "link.deleted", "reason=logout");
out:
	session_unlock(s, fd);
	store_link_free(&link);
	config_sf_org_free(&org);
	return res;
}

/*
 * Revokes the refresh token of a link that was just replaced, with the
 * integration that link was made with (oldorg), which need not be the new
 * link's: a token is only ever sent to its own integration.
 */
static void
session_revoke_old(struct session *s, const struct slack_user *who,
    const char *oldorg, const char *old, const char *current)
{
	struct sf_org	 org;
	enum org_result	 cr;
	enum sf_result	 r;

	if (old == NULL || oldorg == NULL || strcmp(old, current) == 0)
		return;
	cr = org_find(s->cfg, s->st, who->enterprise_id, who->team_id,
	    oldorg, &org);
	if (cr != ORG_OK) {
		log_event(LOGL_WARN, "sf.revoke", "reason=relink "
		    "outcome=skipped why=\"integration '%s' of the replaced "
		    "link is unusable\"", oldorg);
		return;
	}
	r = sf_revoke(s->http, &org, old);
	log_event(r == SF_OK ? LOGL_INFO : LOGL_WARN, "sf.revoke",
	    "reason=relink integration=\"%s\" outcome=%s", oldorg,
	    sf_result_str(r));
	config_sf_org_free(&org);
}

enum session_result
session_link(struct session *s, const struct slack_user *who,
    const char *code, const char *verifier, struct session_linked *out)
{
	return session_link_org(s, who, NULL, code, verifier, out);
}

enum session_result
session_link_org(struct session *s, const struct slack_user *who,
    const char *orgname, const char *code, const char *verifier,
    struct session_linked *out)
{
	struct session_grant	 g;
	enum session_result	 res;

	memset(out, 0, sizeof(*out));
	if ((res = session_grant_get(s, who, orgname, code, verifier, &g)) !=
	    SESSION_OK)
		return res;
	res = session_grant_store(s, who, &g.link, out);
	if (res != SESSION_OK)
		session_grant_revoke(s, who, g.link.org, g.link.refresh_token,
		    "not_stored");
	session_grant_free(&g);
	return res;
}

enum session_result
session_grant_get(struct session *s, const struct slack_user *who,
    const char *orgname, const char *code, const char *verifier,
    struct session_grant *g)
{
	struct sf_tokens	 tok;
	struct sf_userinfo	 ui;
	struct sf_error		 err;
	struct sf_org		 o;
	const struct sf_org	*org = &o;
	enum session_result	 res = SESSION_ERROR;
	enum org_result		 cr;
	enum sf_result		 r;
	const char		*why = NULL;
	int			 vr, issued = 0;

	memset(&tok, 0, sizeof(tok));
	memset(&ui, 0, sizeof(ui));
	memset(g, 0, sizeof(*g));
	/* The integration the login started with: its client id is the
	 * one the code was issued to. */
	if ((cr = org_find(s->cfg, s->st, who->enterprise_id,
	    who->team_id, orgname, &o)) != ORG_OK) {
		log_error("integration=\"%s\" msg=\"the login's integration "
		    "is %s\"", orgname != NULL ? orgname : "(workspace's)",
		    cr == ORG_UNKNOWN ? "gone" : "unusable");
		goto out;
	}
	r = sf_token_code(s->http, org, code, s->cfg->redirect_uri, verifier,
	    &tok, &err);
	if (r != SF_OK) {
		log_event(LOGL_WARN, "sf.token", "grant=authorization_code "
		    "outcome=%s error=%s", sf_result_str(r), err.code);
		res = r == SF_INVALID_GRANT || r == SF_REFUSED ?
		    SESSION_REFUSED : session_from_sf(r);
		goto out;
	}
	/* From here on a grant exists at Salesforce: a failure revokes it
	 * (when its refresh token is there to name it). */
	issued = 1;
	if ((vr = sf_tokens_verify(org, &tok, &why)) != 0) {
		if (vr == -2) {
			log_error("msg=\"%s\"", why);
			goto out;
		}
		log_event(LOGL_ERR, "sf.token", "outcome=forged why=\"%s\"",
		    why);
		res = SESSION_FORGED;
		/* A forged reply's tokens are not sent anywhere. */
		issued = 0;
		goto out;
	}
	if (tok.refresh_token == NULL) {
		log_event(LOGL_ERR, "sf.token", "outcome=rejected why=\"no "
		    "refresh token: the app must grant the refresh_token "
		    "scope\"");
		res = SESSION_REFUSED;
		goto out;
	}
	r = sf_userinfo(s->http, tok.instance_url, tok.access_token, &ui,
	    &err);
	if (r != SF_OK) {
		res = session_from_reply(r);
		goto out;
	}
	if (strcmp(ui.user_id, tok.user_id) != 0 ||
	    strcmp(ui.org_id, tok.org_id) != 0) {
		log_event(LOGL_ERR, "sf.userinfo", "outcome=rejected "
		    "why=\"identity differs from the token reply\"");
		res = SESSION_FORGED;
		goto out;
	}
	/* The grant takes over the strings. */
	if ((g->link.org = strdup(org->name)) == NULL)
		goto out;
	g->link.sf_user_id = tok.user_id;
	g->link.sf_org_id = tok.org_id;
	g->link.instance_url = tok.instance_url;
	g->link.access_token = tok.access_token;
	g->link.refresh_token = tok.refresh_token;
	tok.user_id = tok.org_id = tok.instance_url = NULL;
	tok.access_token = tok.refresh_token = NULL;
	g->link.sf_username = ui.username;
	g->email = ui.email;
	g->email_verified = ui.email_verified;
	ui.username = ui.email = NULL;
	res = SESSION_OK;
out:
	if (res != SESSION_OK && issued && tok.refresh_token != NULL)
		session_grant_revoke(s, who, org->name, tok.refresh_token,
		    "refused");
	if (res != SESSION_OK)
		session_grant_free(g);
	sf_tokens_free(&tok);
	sf_userinfo_free(&ui);
	config_sf_org_free(&o);
	return res;
}

enum session_result
session_grant_store(struct session *s, const struct slack_user *who,
    const struct store_link *link, struct session_linked *out)
{
	enum store_result	 sr;
	char			*old = NULL, *oldorg = NULL;
	int			 fd;

	memset(out, 0, sizeof(*out));
	/* Copied first: once the link is stored, nothing may fail and make
	 * the page say it was not. */
	if ((out->sf_username = strdup(link->sf_username)) == NULL ||
	    (out->sf_org_id = strdup(link->sf_org_id)) == NULL ||
	    (out->instance_url = strdup(link->instance_url)) == NULL)
		goto fail;
	/*
	 * Replace the link under the refresh lock: a refresh holds it from
	 * reading the link to writing the new tokens, and must not see the
	 * link replaced in between (it would revoke or overwrite the wrong
	 * grant's tokens).  The old refresh token read here is then the
	 * current one, rotated or not.
	 */
	if ((fd = session_lock(s, who)) == -1)
		goto fail;
	/* The replaced link's integration, to revoke its token with. */
	sr = store_link_org(s->st, who, &oldorg);
	if (sr == STORE_OK || sr == STORE_NOTFOUND)
		sr = store_link_put(s->st, who, link, &old);
	session_unlock(s, fd);
	if (sr != STORE_OK)
		goto fail;
	log_event(LOGL_INFO, "link.stored", "sf_user=%s sf_org=%s "
	    "integration=\"%s\" replaced=%d", link->sf_user_id,
	    link->sf_org_id, link->org, old != NULL);
	session_revoke_old(s, who, oldorg, old, link->refresh_token);
	crypto_free_secret(old);
	free(oldorg);
	return SESSION_OK;
fail:
	session_linked_free(out);
	free(oldorg);
	return SESSION_ERROR;
}

enum store_result
session_pending_store(struct session *s,
    const unsigned char code_hash[CRYPTO_HASHLEN],
    const struct slack_user *who, time_t now, struct store_pending *p,
    struct store_search *search, struct session_linked *out)
{
	enum store_result	 sr;
	char			*old = NULL, *oldorg = NULL;
	int			 fd;

	memset(out, 0, sizeof(*out));
	memset(p, 0, sizeof(*p));
	memset(search, 0, sizeof(*search));
	/* The link is replaced under the refresh lock, as in
	 * session_grant_store(), and for the same reason. */
	if ((fd = session_lock(s, who)) == -1)
		return STORE_ERROR;
	sr = store_pending_link(s->st, code_hash, who, now, p, search,
	    &oldorg, &old);
	session_unlock(s, fd);
	if (sr != STORE_OK)
		goto out;
	log_event(LOGL_INFO, "link.stored", "sf_user=%s sf_org=%s "
	    "integration=\"%s\" replaced=%d proof=code", p->link.sf_user_id,
	    p->link.sf_org_id, p->link.org, old != NULL);
	session_revoke_old(s, who, oldorg, old, p->link.refresh_token);
	/* Moved, not copied: the link is stored, and nothing may fail now
	 * and make the reply say it was not. */
	out->sf_username = p->link.sf_username;
	out->sf_org_id = p->link.sf_org_id;
	out->instance_url = p->link.instance_url;
	p->link.sf_username = p->link.sf_org_id = p->link.instance_url =
	    NULL;
out:
	crypto_free_secret(old);
	free(oldorg);
	return sr;
}

int
session_grant_revoke(struct session *s, const struct slack_user *who,
    const char *orgname, const char *refresh, const char *why)
{
	struct sf_org	 org;
	enum org_result	 cr;
	enum sf_result	 r;

	cr = org_find(s->cfg, s->st, who->enterprise_id, who->team_id,
	    orgname, &org);
	if (cr != ORG_OK) {
		log_event(LOGL_WARN, "sf.revoke", "reason=%s outcome=skipped "
		    "why=\"integration '%s' is unusable\"", why, orgname);
		return -1;
	}
	r = sf_revoke(s->http, &org, refresh);
	log_event(r == SF_OK ? LOGL_INFO : LOGL_WARN, "sf.revoke",
	    "reason=%s integration=\"%s\" outcome=%s", why, orgname,
	    sf_result_str(r));
	config_sf_org_free(&org);
	/* Refused (400: unknown or revoked already) is done too. */
	return r == SF_OK || r == SF_REFUSED || r == SF_INVALID_GRANT ? 0 : -1;
}

void
session_grant_free(struct session_grant *g)
{
	store_link_free(&g->link);
	free(g->email);
	memset(g, 0, sizeof(*g));
}

void
session_as_free(struct session_as *as)
{
	if (as == NULL)
		return;
	free(as->username);
	as->username = NULL;
}

enum session_result
session_mode(struct session *s, const struct slack_user *who,
    struct session_as *as)
{
	struct store_itoken	 peek;

	memset(as, 0, sizeof(*as));
	if (store_workspace_integration(s->st, who->enterprise_id,
	    who->team_id, as->integration, &as->integration_user) != STORE_OK)
		return SESSION_ERROR;
	as->resolved = 1;
	if (!as->integration_user)
		return SESSION_OK;
	/* Nothing is opened: only who the integration user is. */
	if (store_itoken_peek(s->st, as->integration, &peek) == STORE_OK) {
		as->username = peek.sf_username;
		peek.sf_username = NULL;
	}
	store_itoken_free(&peek);
	return SESSION_OK;
}

enum session_result
session_login_org(struct session *s, const struct slack_user *who,
    struct sf_org *org)
{
	enum org_result	 cr;

	cr = org_find(s->cfg, s->st, who->enterprise_id, who->team_id,
	    NULL, org);
	if (cr != ORG_OK)
		log_error("msg=\"the workspace's integration is unusable "
		    "(%s)\"", cr == ORG_BADKEY ? "its secret does not "
		    "open" : "see above");
	return cr == ORG_OK ? SESSION_OK : SESSION_ERROR;
}

char *
session_login_authorize_url(struct session *s, const struct slack_user *who,
    const unsigned char state_hash[CRYPTO_HASHLEN], const char *state,
    const char *verifier)
{
	struct sf_org	 org;
	char		 challenge[44], *url = NULL;
	/* A remembered approval must not finish a login that a proof after
	 * Salesforce judges: the person logs in there themselves. */
	int		 prompt = (s->cfg->link_proof & (CONFIG_PROOF_CODE |
			    CONFIG_PROOF_EMAIL)) != 0;

	memset(&org, 0, sizeof(org));
	crypto_pkce_challenge(verifier, challenge);
	/* The workspace's integration, recorded with the state: the
	 * callback exchanges the code with the same one. */
	if (session_login_org(s, who, &org) == SESSION_OK &&
	    store_state_set_org(s->st, state_hash, org.name) == STORE_OK)
		url = sf_authorize_url_prompt(&org, s->cfg->redirect_uri,
		    state, challenge, prompt ? "login" : NULL);
	config_sf_org_free(&org);
	return url;
}

void
session_cookie(const struct config *cfg, const char *name, const char *value,
    char *out, size_t n)
{
	const char	*p;

	/* The cookie goes back to /oauth/start and /oauth/callback only. */
	p = strstr(cfg->public_url, "://");
	p = p != NULL ? strchr(p + 3, '/') : NULL;
	snprintf(out, n, "Set-Cookie: %s=%s; Path=%s/oauth/; Max-Age=%d; "
	    "HttpOnly; SameSite=Lax%s\r\n", name, value, p != NULL ? p : "",
	    SESSION_STATE_TTL, cfg->public_https ? "; Secure" : "");
}

void
session_linked_free(struct session_linked *l)
{
	free(l->sf_username);
	free(l->sf_org_id);
	free(l->instance_url);
	memset(l, 0, sizeof(*l));
}

/*
 * Returns 1 when path (a URL from the '/' after its host on) can only be
 * read one way: printable ASCII with no backslash or fragment; every '%'
 * a well-formed escape of a byte that is neither a separator ('.', '/',
 * '\\') nor a control byte; and before any query no ".", ".." or (but
 * at the end) empty segment.  libcurl sends such a path as it is, and
 * the receiver resolves it to the path the prefix check saw.
 */
static int
session_url_path_plain(const char *path)
{
	const char	*p, *end;
	size_t		 n;
	int		 c, hi, lo;

	for (p = path; *p != '\0'; p++) {
		c = (unsigned char)*p;
		if (c <= ' ' || c >= 0x7f || c == '\\' || c == '#')
			return 0;
		if (c != '%')
			continue;
		if ((hi = form_hexval(p[1])) == -1 ||
		    (lo = form_hexval(p[2])) == -1)
			return 0;
		c = hi << 4 | lo;
		if (c < ' ' || c >= 0x7f || c == '.' || c == '/' || c == '\\')
			return 0;
	}
	if (*path != '/')
		return 0;
	end = path + strcspn(path, "?");
	for (p = path + 1; p <= end; p += n + 1) {
		n = strcspn(p, "/?");
		if (p + n > end)
			n = (size_t)(end - p);
		if (n == 0 && p + n != end)
			return 0;
		if (n > 0 && n <= 2 && strspn(p, ".") == n)
			return 0;
	}
	return 1;
}

int
session_response_url_ok(const struct config *cfg, const char *url)
{
	const char	*prefix = cfg->response_url_prefix;
	char		 host[256];

	/*
	 * The prefix ends in '/' after its host (config checks that), so a
	 * URL that starts with it names the same host; what follows must be
	 * a path nobody reads differently, and libcurl must send it as is.
	 */
	return url != NULL && prefix != NULL && *prefix != '\0' &&
	    strncmp(url, prefix, strlen(prefix)) == 0 &&
	    http_url_host(url, host, sizeof(host)) == 0 &&
	    session_url_path_plain(url + strcspn(url + 8, "/") + 8) &&
	    http_url_as_sent(url);
}

/* --- Cases (issue 15) ------------------------------------------------- */

struct session_case_arg {
	const struct sf_case_new	*c;
	struct sf_case_picklist		*pick;
	struct sf_case_result		*out;
	struct sf_error			*err;
};

static enum sf_result
session_case_describe_fn(struct session *s, const struct sf_org *org,
    const struct store_link *link, void *arg)
{
	struct session_case_arg	*a = arg;

	return sf_case_describe(s->http, org, link->instance_url,
	    link->access_token, a->pick, a->err);
}

static enum sf_result
session_case_create_fn(struct session *s, const struct sf_org *org,
    const struct store_link *link, void *arg)
{
	struct session_case_arg	*a = arg;

	return sf_case_create(s->http, org, link->instance_url,
	    link->access_token, a->c, a->out, a->err);
}

enum session_result
session_case_priorities(struct session *s, const struct slack_user *who,
    struct sf_case_picklist *out, char **instance_url, struct session_as *as)
{
	struct sf_error		 err;
	struct session_case_arg	 a = { NULL, out, NULL, &err };

	return session_call(s, who, session_case_describe_fn, &a,
	    instance_url, as);
}

enum session_result
session_case_create(struct session *s, const struct slack_user *who,
    const struct sf_case_new *c, struct sf_case_result *out,
    char **instance_url, struct sf_error *err, struct session_as *as)
{
	struct session_case_arg	 a = { c, NULL, out, err };

	memset(err, 0, sizeof(*err));
	memset(out, 0, sizeof(*out));
	return session_call(s, who, session_case_create_fn, &a, instance_url,
	    as);
}

enum session_post
session_response_post(struct session *s, const char *url, const char *json,
    const char *event)
{
	struct http_response	 resp;
	enum http_result	 hr;
	int			 ok;

	if (json == NULL || !session_response_url_ok(s->cfg, url)) {
		log_event(LOGL_WARN, event, "outcome=dropped why=\"%s\"",
		    json == NULL ? "no message (out of memory)" :
		    "response_url missing or outside "
		    "SLACK_RESPONSE_URL_PREFIX");
		return SESSION_POST_DROPPED;
	}
	http_response_init(&resp);
	hr = http_request(s->http, "POST", url, NULL, "application/json",
	    json, &resp);
	ok = hr == HTTP_OK && resp.status == 200;
	log_event(ok ? LOGL_INFO : LOGL_WARN, event, "outcome=%s status=%ld",
	    http_result_str(hr), hr == HTTP_OK ? resp.status : 0L);
	http_response_free(&resp);
	return ok ? SESSION_POST_OK : SESSION_POST_FAILED;
}

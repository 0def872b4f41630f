/*
 * install: Slack app installations (see install.h).
 *
 * The store keeps the installations; slackapi.c talks to Slack; this file
 * decides.  The state of "Add to Slack" is checked here, from its signed
 * cookie, before the store sees it.  Every write of tokens is a
 * compare-and-set on the installation's version, so a refresh that races
 * a reinstall of the same workspace never writes the old grant's tokens
 * over the new one: its write fails and the reinstall stands.
 */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "http.h"
#include "install.h"
#include "log.h"
#include "slackapi.h"

static const char *const install_result_names[] = {
	"ok", "refused", "forged", "transient", "revoked", "notfound", "error"
};

const char *
install_result_str(enum install_result r)
{
	return install_result_names[r];
}

/* Whether two optional ids are equal (NULL and "" are the same). */
static int
install_same_id(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

/* A copy of s ("" for NULL); NULL only on memory exhaustion. */
static char *
install_dup(const char *s)
{
	return strdup(s != NULL ? s : "");
}

/* ------------------------------------------------------------------ */
/* The state of "Add to Slack", in a signed cookie (see install.h). */

/* The MAC's purpose (crypto_mac): no other MAC forcelink makes uses it.
 * Its subkey is HMAC-SHA256(key, "forcelink-mac slack-install-state"),
 * as cookies made before crypto_mac() was shared had it. */
#define INSTALL_MAC_PURPOSE	"slack-install-state"
/* Characters of the parts of the cookie: the state (base64url of 32
 * bytes), the MAC (hex of 32 bytes), and the most digits of the expiry
 * (well within int64_t). */
#define INSTALL_STATE_CHARS	43
#define INSTALL_MAC_CHARS	(2 * CRYPTO_HASHLEN)
#define INSTALL_EXPIRES_DIGITS	18

static const char *const install_state_names[] = {
	"ok", "missing", "forged", "other", "expired", "used", "error"
};

const char *
install_state_str(enum install_state r)
{
	return install_state_names[r];
}

/* Writes the hex MAC of the n bytes at msg under k's install-state
 * subkey into hex (INSTALL_MAC_CHARS + 1 bytes). */
static void
install_state_mac(const struct crypto_key *k, const char *msg, size_t n,
    char hex[INSTALL_MAC_CHARS + 1])
{
	const struct crypto_part	 part = { msg, n };
	unsigned char			 mac[CRYPTO_HASHLEN];

	crypto_mac(k, INSTALL_MAC_PURPOSE, &part, 1, mac);
	crypto_hex(mac, sizeof(mac), hex);
	crypto_wipe(mac, sizeof(mac));
}

void
install_state_new(struct keyring *kr, time_t now,
    char state[CRYPTO_TOKEN_MAX], char cookie[INSTALL_COOKIE_MAX])
{
	struct keyring_snap	*snap = NULL;
	const struct crypto_key	*k;
	char			 mac[INSTALL_MAC_CHARS + 1];
	int			 n;

	keyring_update(kr, &snap);
	k = keyring_current(snap);
	crypto_random_token(state, 32);
	n = snprintf(cookie, INSTALL_COOKIE_MAX, "%s.%" PRId64 ".%s", state,
	    (int64_t)now + INSTALL_STATE_TTL, k->id);
	install_state_mac(k, cookie, (size_t)n, mac);
	snprintf(cookie + n, INSTALL_COOKIE_MAX - (size_t)n, ".%s", mac);
	keyring_release(snap);
}

/* Whether the n characters at s are all in set. */
static int
install_all_in(const char *s, size_t n, const char *set)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (s[i] == '\0' || strchr(set, s[i]) == NULL)
			return 0;
	return 1;
}

/*
 * Splits cookie into its parts, each checked for its form (and nothing
 * else): *state and *keyid point into cookie, *maclen is the length of
 * the text the MAC covers.  Returns 0, or -1 when cookie is not of the
 * cookie's form.
 */
static int
install_state_parse(const char *cookie, const char **state, int64_t *expires,
    const char **keyid, size_t *maclen)
{
	static const char	 b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	static const char	 hex[] = "0123456789abcdef";
	const char		*p = cookie;
	size_t			 n;

	if (strlen(cookie) >= INSTALL_COOKIE_MAX ||
	    !install_all_in(p, INSTALL_STATE_CHARS, b64url) ||
	    p[INSTALL_STATE_CHARS] != '.')
		return -1;
	*state = p;
	p += INSTALL_STATE_CHARS + 1;
	if ((n = strspn(p, "0123456789")) == 0 ||
	    n > INSTALL_EXPIRES_DIGITS || p[n] != '.')
		return -1;
	*expires = 0;
	for (; *p != '.'; p++)
		*expires = *expires * 10 + (*p - '0');
	p++;
	if (!install_all_in(p, CRYPTO_KEYID_LEN, hex) ||
	    p[CRYPTO_KEYID_LEN] != '.')
		return -1;
	*keyid = p;
	p += CRYPTO_KEYID_LEN;
	*maclen = (size_t)(p - cookie);
	p++;
	if (!install_all_in(p, INSTALL_MAC_CHARS, hex) ||
	    p[INSTALL_MAC_CHARS] != '\0')
		return -1;
	return 0;
}

enum install_state
install_state_check(struct keyring *kr, const char *cookie,
    const char *state, time_t now, time_t *expires)
{
	struct keyring_snap	*snap = NULL;
	const struct crypto_key	*k;
	enum install_state	 r = INSTALL_STATE_FORGED;
	const char		*cstate, *keyid;
	char			 id[CRYPTO_KEYID_LEN + 1];
	char			 want[INSTALL_MAC_CHARS + 1];
	char			 mine[INSTALL_STATE_CHARS + 1];
	int64_t			 exp;
	size_t			 maclen;

	if (state == NULL || *state == '\0' || cookie == NULL)
		return INSTALL_STATE_MISSING;
	if (install_state_parse(cookie, &cstate, &exp, &keyid, &maclen) == -1)
		return INSTALL_STATE_FORGED;
	memcpy(id, keyid, CRYPTO_KEYID_LEN);
	id[CRYPTO_KEYID_LEN] = '\0';
	keyring_update(kr, &snap);
	/* A key we do not hold may have just been added to the key file
	 * (a rotation: another worker makes cookies under it already), as
	 * the store reasons for a row's key id. */
	if ((k = keyring_find(snap, id)) == NULL &&
	    keyring_reload(kr) == 1) {
		keyring_update(kr, &snap);
		k = keyring_find(snap, id);
	}
	if (k == NULL)
		goto out;
	install_state_mac(k, cookie, maclen, want);
	if (!crypto_equal(want, cookie + maclen + 1, INSTALL_MAC_CHARS))
		goto out;
	/* The cookie is ours: now what it says counts. */
	memcpy(mine, cstate, INSTALL_STATE_CHARS);
	mine[INSTALL_STATE_CHARS] = '\0';
	if (!crypto_str_equal(mine, state))
		r = INSTALL_STATE_OTHER;
	else if (exp <= (int64_t)now)
		r = INSTALL_STATE_EXPIRED;
	else {
		if (expires != NULL)
			*expires = (time_t)exp;
		r = INSTALL_STATE_OK;
	}
out:
	crypto_wipe(want, sizeof(want));
	crypto_wipe(mine, sizeof(mine));
	keyring_release(snap);
	return r;
}

enum install_state
install_state_take(struct session *s, const char *cookie, const char *state,
    time_t now, long *dropped)
{
	unsigned char		 state_h[CRYPTO_HASHLEN];
	unsigned char		 cookie_h[CRYPTO_HASHLEN];
	enum install_state	 r;
	time_t			 expires = 0;

	*dropped = 0;
	r = install_state_check(s->cfg->keyring, cookie, state, now,
	    &expires);
	if (r != INSTALL_STATE_OK)
		return r;
	crypto_sha256(state, state_h);
	crypto_sha256(cookie, cookie_h);
	switch (store_install_state_take(s->st, state_h, cookie_h,
	    expires - INSTALL_STATE_TTL, expires, now, INSTALL_STATE_CAP,
	    dropped)) {
	case STORE_OK:
		return INSTALL_STATE_OK;
	case STORE_USED:
		return INSTALL_STATE_USED;
	default:
		return INSTALL_STATE_ERROR;
	}
}

/* ------------------------------------------------------------------ */
/* Completing an installation. */

/*
 * Checks the new bot token with auth.test: it must belong to the bot
 * user oauth.v2.access named, in the installation's workspace (or, for
 * an org-wide install, its enterprise).  On INSTALL_OK *bot_id receives
 * the bot's id (allocated, may be "").
 */
static enum install_result
install_verify(struct session *s, const struct slackapi_grant *g,
    char **bot_id)
{
	struct slackapi_identity id;
	struct slackapi_error	 err;
	enum slackapi_result	 r;
	enum install_result	 res = INSTALL_FORGED;
	const char		*why = NULL;

	*bot_id = NULL;
	r = slackapi_auth_test(s->http, s->cfg, g->access_token, &id, &err);
	if (r != SLACKAPI_OK) {
		log_event(LOGL_WARN, "slack.install", "step=auth.test "
		    "outcome=%s code=\"%s\"", slackapi_result_str(r),
		    err.code);
		return r == SLACKAPI_TRANSIENT ? INSTALL_TRANSIENT :
		    r == SLACKAPI_ERROR ? INSTALL_ERROR : INSTALL_FORGED;
	}
	if (strcmp(id.user_id, g->bot_user_id) != 0)
		why = "auth.test names another user than the bot user";
	else if (g->is_enterprise_install ?
	    !install_same_id(id.enterprise_id, g->enterprise_id) :
	    !install_same_id(id.team_id, g->team_id))
		why = "auth.test names another workspace or enterprise";
	else if (g->enterprise_id != NULL && id.enterprise_id != NULL &&
	    strcmp(id.enterprise_id, g->enterprise_id) != 0)
		why = "auth.test names another enterprise";
	if (why != NULL) {
		log_event(LOGL_ERR, "slack.install", "step=auth.test "
		    "outcome=forged why=\"%s\"", why);
		goto out;
	}
	if ((*bot_id = install_dup(id.bot_id)) == NULL) {
		res = INSTALL_ERROR;
		goto out;
	}
	res = INSTALL_OK;
out:
	slackapi_identity_free(&id);
	return res;
}

/* Fills the page's summary from g.  Returns 0, or -1 on memory
 * exhaustion (out is then empty). */
static int
install_done_fill(const struct slackapi_grant *g, int replaced,
    struct install_done *out)
{
	memset(out, 0, sizeof(*out));
	out->org_wide = g->is_enterprise_install;
	out->replaced = replaced;
	if ((g->team_id != NULL && ((out->team_id = strdup(g->team_id)) ==
	    NULL || (out->team_name = install_dup(g->team_name)) == NULL)) ||
	    (g->enterprise_id != NULL && ((out->enterprise_id =
	    strdup(g->enterprise_id)) == NULL || (out->enterprise_name =
	    install_dup(g->enterprise_name)) == NULL)) ||
	    (out->app_id = strdup(g->app_id)) == NULL) {
		install_done_free(out);
		return -1;
	}
	return 0;
}

/* Builds the row to store from g (pointers into g; nothing allocated). */
static void
install_row(const struct slackapi_grant *g, const char *bot_id, time_t now,
    struct store_install *in)
{
	memset(in, 0, sizeof(*in));
	if (g->enterprise_id != NULL)
		snprintf(in->enterprise_id, sizeof(in->enterprise_id), "%s",
		    g->enterprise_id);
	/* An org-wide install is keyed by the enterprise alone. */
	if (!g->is_enterprise_install)
		snprintf(in->team_id, sizeof(in->team_id), "%s", g->team_id);
	in->app_id = g->app_id;
	in->team_name = g->is_enterprise_install ? NULL : g->team_name;
	in->enterprise_name = g->enterprise_name;
	in->bot_user_id = g->bot_user_id;
	in->bot_id = (char *)(uintptr_t)bot_id;
	in->scopes = g->scope;
	in->installer_user_id = g->installer_user_id;
	in->bot_token = g->access_token;
	in->refresh_token = g->refresh_token;
	in->expires_at = g->expires_in > 0 ? now + g->expires_in : 0;
}

enum install_result
install_complete(struct session *s, const char *code,
    struct install_done *out)
{
	struct slackapi_grant	 g;
	struct slackapi_error	 err;
	struct store_install	 in, old;
	enum slackapi_result	 r;
	enum install_result	 res = INSTALL_ERROR;
	enum store_result	 sr;
	char			*bot_id = NULL;
	int			 replaced;

	memset(out, 0, sizeof(*out));
	memset(&g, 0, sizeof(g));
	memset(&old, 0, sizeof(old));
	if (s->cfg->slack_client_id == NULL || code == NULL)
		return INSTALL_ERROR;
	r = slackapi_oauth_access(s->http, s->cfg, code, &g, &err);
	if (r != SLACKAPI_OK) {
		log_event(LOGL_WARN, "slack.install", "step=oauth.v2.access "
		    "outcome=%s code=\"%s\"", slackapi_result_str(r),
		    err.code);
		res = r == SLACKAPI_REFUSED || r == SLACKAPI_REVOKED ?
		    INSTALL_REFUSED : r == SLACKAPI_TRANSIENT ?
		    INSTALL_TRANSIENT : r == SLACKAPI_MALFORMED ?
		    INSTALL_FORGED : INSTALL_ERROR;
		goto out;
	}
	if ((res = install_verify(s, &g, &bot_id)) != INSTALL_OK)
		goto out;
	install_row(&g, bot_id, time(NULL), &in);
	sr = store_install_get(s->st, in.enterprise_id, in.team_id, &old);
	replaced = sr == STORE_OK || sr == STORE_BADKEY;
	if (install_done_fill(&g, replaced, out) == -1 ||
	    store_install_put(s->st, &in) != STORE_OK) {
		install_done_free(out);
		res = INSTALL_ERROR;
		goto out;
	}
	log_event(LOGL_INFO, "slack.install", "outcome=stored enterprise=%s "
	    "team=%s org_wide=%d rotating=%d replaced=%d", in.enterprise_id,
	    in.team_id, g.is_enterprise_install, g.refresh_token != NULL,
	    replaced);
	res = INSTALL_OK;
out:
	store_install_free(&old);
	slackapi_grant_free(&g);
	free(bot_id);
	return res;
}

void
install_done_free(struct install_done *d)
{
	free(d->team_id);
	free(d->team_name);
	free(d->enterprise_id);
	free(d->enterprise_name);
	free(d->app_id);
	memset(d, 0, sizeof(*d));
}

/* ------------------------------------------------------------------ */
/* Authorization. */

/*
 * "Some installation exists" is cached per process, positive answers
 * only, for INSTALL_ANY_CACHE_SECS: a request from a workspace without
 * an installation then costs one lookup, like any other.  A negative
 * answer is never cached, so the first installation counts at once in
 * every worker; removing the last one (only an admin can) takes effect
 * within INSTALL_ANY_CACHE_SECS.
 */
#define INSTALL_ANY_CACHE_SECS	60

static pthread_mutex_t	 install_any_mtx = PTHREAD_MUTEX_INITIALIZER;
static time_t		 install_any_until;	/* 0: not known */

static int
install_any_cached(time_t now)
{
	int	 known;

	pthread_mutex_lock(&install_any_mtx);
	known = now < install_any_until;
	pthread_mutex_unlock(&install_any_mtx);
	return known;
}

static void
install_any_seen(time_t now)
{
	pthread_mutex_lock(&install_any_mtx);
	install_any_until = now + INSTALL_ANY_CACHE_SECS;
	pthread_mutex_unlock(&install_any_mtx);
}

enum install_auth
install_authorize(struct session *s, const struct slack_user *who,
    struct store_install_ref *ref)
{
	enum store_result	 sr;
	time_t			 now = time(NULL);
	int			 any = 0, cached;

	cached = install_any_cached(now);
	sr = store_install_find(s->st, who->enterprise_id, who->team_id, ref,
	    cached ? NULL : &any);
	if (sr == STORE_OK) {
		if (!cached)
			install_any_seen(now);
		return INSTALL_AUTH_OK;
	}
	if (sr != STORE_NOTFOUND)
		return INSTALL_AUTH_ERROR;
	if (any)
		install_any_seen(now);
	return cached || any || s->cfg->require_install ?
	    INSTALL_AUTH_DENIED : INSTALL_AUTH_OPEN;
}

int
install_token_due(const struct store_install_ref *ref, time_t now)
{
	return ref->rotating && !ref->needs_reinstall && ref->expires_at != 0 &&
	    ref->expires_at - now <= INSTALL_REFRESH_AHEAD;
}

/* ------------------------------------------------------------------ */
/* The bot token, refreshed single-flight. */

/* Takes the refresh lock of an installation (session_lock_id). */
static int
install_lock(struct session *s, const char *ent, const char *team)
{
	char	 id[2 * (SLACK_ID_MAX + 1) + 16];

	snprintf(id, sizeof(id), "slack-install\n%s\n%s", ent, team);
	return session_lock_id(s, id);
}

/* Whether the installation's bot token is due for a refresh. */
static int
install_due(const struct store_install *in, time_t now)
{
	return in->refresh_token != NULL && !in->needs_reinstall &&
	    in->expires_at != 0 &&
	    in->expires_at - now <= INSTALL_REFRESH_AHEAD;
}

/* Whether a refreshed grant belongs to installation in: the same app,
 * bot user and workspace (or enterprise, org-wide). */
static const char *
install_refresh_mismatch(const struct store_install *in,
    const struct slackapi_grant *g)
{
	if (strcmp(g->app_id, in->app_id) != 0)
		return "another app";
	if (strcmp(g->bot_user_id, in->bot_user_id) != 0)
		return "another bot user";
	if (in->team_id[0] == '\0' ? !g->is_enterprise_install ||
	    !install_same_id(g->enterprise_id, in->enterprise_id) :
	    g->is_enterprise_install || !install_same_id(g->team_id,
	    in->team_id))
		return "another workspace or enterprise";
	return NULL;
}

/*
 * Under the lock, with in freshly read and due: refreshes and stores the
 * new tokens, or marks the installation for reinstall.  On INSTALL_OK
 * in->bot_token is the new token.
 */
static enum install_result
install_refresh(struct session *s, struct store_install *in)
{
	struct slackapi_grant	 g;
	struct slackapi_error	 err;
	enum slackapi_result	 r;
	enum install_result	 res = INSTALL_ERROR;
	enum store_result	 sr;
	const char		*why;
	char			*tok;
	time_t			 exp;

	memset(&g, 0, sizeof(g));
	r = slackapi_oauth_refresh(s->http, s->cfg, in->refresh_token, &g,
	    &err);
	if (r == SLACKAPI_REVOKED) {
		sr = store_install_mark_reinstall(s->st, in->enterprise_id,
		    in->team_id, in->version);
		log_event(LOGL_ERR, "slack.refresh", "outcome=revoked "
		    "code=\"%s\" enterprise=%s team=%s marked=%s msg=\"Slack "
		    "refused the installation's refresh token: the app must "
		    "be installed again at %s/slack/install\"", err.code,
		    in->enterprise_id, in->team_id, store_result_str(sr),
		    s->cfg->public_url);
		res = INSTALL_REVOKED;
		goto out;
	}
	if (r != SLACKAPI_OK) {
		log_event(LOGL_WARN, "slack.refresh", "outcome=%s code=\"%s\"",
		    slackapi_result_str(r), err.code);
		res = r == SLACKAPI_ERROR ? INSTALL_ERROR : INSTALL_TRANSIENT;
		goto out;
	}
	if ((why = install_refresh_mismatch(in, &g)) != NULL ||
	    g.refresh_token == NULL) {
		log_event(LOGL_ERR, "slack.refresh", "outcome=forged "
		    "why=\"%s\"", why != NULL ? why : "no new refresh token");
		res = INSTALL_FORGED;
		goto out;
	}
	exp = time(NULL) + g.expires_in;
	sr = store_install_update_tokens(s->st, in->enterprise_id,
	    in->team_id, in->version, g.access_token, g.refresh_token, exp);
	if (sr != STORE_OK) {
		/* A reinstall replaced it meanwhile: that one stands. */
		log_event(LOGL_WARN, "slack.refresh", "outcome=%s",
		    store_result_str(sr));
		res = sr == STORE_CONFLICT ? INSTALL_TRANSIENT : INSTALL_ERROR;
		goto out;
	}
	if ((tok = strdup(g.access_token)) == NULL)
		goto out;
	crypto_free_secret(in->bot_token);
	in->bot_token = tok;
	in->expires_at = exp;
	in->version++;
	log_event(LOGL_INFO, "slack.refresh", "outcome=ok enterprise=%s "
	    "team=%s expires_in=%ld", in->enterprise_id, in->team_id,
	    g.expires_in);
	res = INSTALL_OK;
out:
	slackapi_grant_free(&g);
	return res;
}

enum install_result
install_bot_token(struct session *s, const char *ent, const char *team,
    char **token)
{
	struct store_install	 in;
	enum store_result	 sr;
	enum install_result	 res = INSTALL_ERROR;
	time_t			 now = time(NULL);
	int			 fd = -1;

	*token = NULL;
	memset(&in, 0, sizeof(in));
	sr = store_install_get(s->st, ent, team, &in);
	if (sr == STORE_OK && install_due(&in, now)) {
		/* Read again under the lock: another worker may have
		 * refreshed while we waited for it. */
		store_install_free(&in);
		if ((fd = install_lock(s, ent, team)) == -1)
			goto out;
		sr = store_install_get(s->st, ent, team, &in);
		if (sr == STORE_OK && install_due(&in, now)) {
			res = install_refresh(s, &in);
			if (res == INSTALL_REVOKED || res == INSTALL_ERROR ||
			    (res != INSTALL_OK && in.expires_at <= now))
				goto out;
		} else if (sr == STORE_OK)
			log_event(LOGL_INFO, "slack.refresh",
			    "outcome=shared");
	}
	if (sr != STORE_OK) {
		res = sr == STORE_NOTFOUND ? INSTALL_NOTFOUND : INSTALL_ERROR;
		goto out;
	}
	if (in.needs_reinstall) {
		res = INSTALL_REVOKED;
		goto out;
	}
	res = INSTALL_OK;
	*token = in.bot_token;
	in.bot_token = NULL;
out:
	session_unlock(s, fd);
	store_install_free(&in);
	return res;
}

enum install_result
install_web_token(struct session *s, enum install_auth auth,
    const struct store_install_ref *ref, char **token)
{
	*token = NULL;
	switch (auth) {
	case INSTALL_AUTH_OK:
		return install_bot_token(s, ref->enterprise_id, ref->team_id,
		    token);
	case INSTALL_AUTH_OPEN:
		if (s->cfg->slack_bot_token == NULL)
			return INSTALL_NOTFOUND;
		if ((*token = strdup(s->cfg->slack_bot_token)) == NULL) {
			log_error("msg=\"out of memory\"");
			return INSTALL_ERROR;
		}
		return INSTALL_OK;
	case INSTALL_AUTH_DENIED:
		return INSTALL_NOTFOUND;
	case INSTALL_AUTH_ERROR:
		break;
	}
	return INSTALL_ERROR;
}

int
install_gate(struct session *s, struct reply *rp, const struct slack_user *who,
    enum install_auth *auth, struct store_install_ref *ref)
{
	char	 msg[1024];
	int	 acked = reply_answered(rp);

	*auth = install_authorize(s, who, ref);
	/* The deadline answered while the store was asked: nothing more.
	 * (A click was acknowledged before: its answers follow at its
	 * response_url.) */
	if (!acked && reply_answered(rp))
		return -1;
	if (*auth == INSTALL_AUTH_OK || *auth == INSTALL_AUTH_OPEN)
		return 0;
	if (*auth == INSTALL_AUTH_DENIED) {
		log_event(LOGL_WARN, "slack.authorize", "outcome=not_installed "
		    "enterprise=%s", who->enterprise_id[0] != '\0' ?
		    who->enterprise_id : "-");
		snprintf(msg, sizeof(msg), "This workspace has not installed "
		    "forcelink. Ask an admin to install it: %s/slack/install",
		    s->cfg->public_url);
		reply_message(rp, msg);
	} else
		reply_message(rp, REPLY_SORRY);
	return -1;
}

void
install_keep_token(struct session *s, struct reply *rp, enum install_auth auth,
    const struct store_install_ref *ref)
{
	enum install_result	 res;
	char			*tok = NULL;

	if (auth != INSTALL_AUTH_OK || s->cfg->slack_client_id == NULL ||
	    !install_token_due(ref, time(NULL)))
		return;
	reply_finish(rp);
	res = install_bot_token(s, ref->enterprise_id, ref->team_id, &tok);
	if (res != INSTALL_OK)
		log_event(LOGL_WARN, "slack.token", "outcome=%s",
		    install_result_str(res));
	crypto_free_secret(tok);
}

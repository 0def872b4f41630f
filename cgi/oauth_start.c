/*
 * oauth_start: the login link from Slack (SPEC §5, issue 11).
 *
 * GET (or HEAD) /oauth/start?state=NONCE only looks the one-time nonce
 * up: a link checker or a chat preview that fetches the link changes
 * nothing.  The page names the workspace and the Slack user the link was
 * made for, by name and id, says what happens next, and has one Continue
 * button: a POST of the nonce and a CSRF token, which is a MAC (under a
 * key derived from FORCELINK_KEY) of a short-lived cookie set with the
 * page and of the nonce's hash.
 *
 * The POST checks that pair, consumes the nonce, makes the OAuth state,
 * the browser cookie and the PKCE verifier of the login, and redirects
 * the browser to the first login: Sign in with Slack when
 * FORCELINK_LINK_PROOF names "slack", else Salesforce (with prompt=login
 * when "code" or "email" does, so a remembered approval cannot finish a
 * login without the person).  The cookie is what lets the callback
 * refuse a login finished in another person's browser.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fcgiapp.h>

#include "app.h"
#include "buf.h"
#include "fields.h"
#include "form.h"
#include "keyring.h"
#include "log.h"
#include "page.h"
#include "req.h"
#include "sf.h"
#include "slackapi.h"

#define PAGE_MAX	(64 * 1024)
/* The POST's body: two tokens. */
#define START_BODY_MAX	1024
/* The cookie the Continue button's CSRF token is bound to. */
#define START_CSRF_COOKIE	"forcelink_csrf"
#define START_CSRF_PURPOSE	"oauth-start-csrf"

/* The origin (scheme://host[:port]) of url into out. */
static void
start_origin(const char *url, char *out, size_t n)
{
	const char	*p, *end;

	p = strstr(url, "://");
	end = p != NULL ? strchr(p + 3, '/') : NULL;
	snprintf(out, n, "%.*s", end != NULL ? (int)(end - url) :
	    (int)strlen(url), url);
}

/* The CSRF token of cookie and the nonce's hash under key k, as hex. */
static void
start_csrf(const struct crypto_key *k, const char *cookie,
    const unsigned char nonce_h[CRYPTO_HASHLEN], char out[65])
{
	const struct crypto_part	 parts[] = {
		{ cookie, strlen(cookie) },
		{ "\n", 1 },
		{ nonce_h, CRYPTO_HASHLEN },
	};
	unsigned char			 mac[32];

	crypto_mac(k, START_CSRF_PURPOSE, parts, 3, mac);
	crypto_hex(mac, sizeof(mac), out);
}

/*
 * Whether csrf is the token of cookie and nonce_h under one of the keys
 * held (a key rotated between the page and the click still works).
 * Compared in constant time.
 */
static int
start_csrf_ok(const struct config *cfg, const char *cookie,
    const unsigned char nonce_h[CRYPTO_HASHLEN], const char *csrf)
{
	struct keyring_snap	*snap = NULL;
	char			 want[65];
	size_t			 i;
	int			 ok = 0;

	keyring_update(cfg->keyring, &snap);
	for (i = 0; i < keyring_count(snap); i++) {
		start_csrf(keyring_key(snap, i), cookie, nonce_h, want);
		ok |= crypto_str_equal(want, csrf);
	}
	keyring_release(snap);
	return ok;
}

/* The error page for a login link that cannot start a login: what
 * happened, and (the default next step) how to get a new link. */
static void
start_fail(struct buf *b, enum store_result sr)
{
	switch (sr) {
	case STORE_USED:
		page_error(b, 400, "Login link already used", "This login "
		    "link has been used already, and each link works only "
		    "once.");
		break;
	case STORE_EXPIRED:
		page_error(b, 400, "Login link expired", "This login link "
		    "has expired: links work for 10 minutes.");
		break;
	case STORE_NOTFOUND:
		page_error(b, 400, "Unknown login link", "This login link is "
		    "not valid. It may have been cut short when it was "
		    "copied.");
		break;
	case STORE_MISMATCH:
		page_error_next(b, 403, "Please use the login page", "This "
		    "request did not come from the login page in this "
		    "browser, so nothing was started.", "Open the login link "
		    "from Slack again and click Continue.");
		break;
	default:
		page_error_next(b, 500, "Something went wrong", "forcelink "
		    "could not start the login.", "Wait a minute, then run "
		    "`/contact login` in Slack to get a new link. If this "
		    "keeps happening, tell your forcelink admin.");
		break;
	}
}

/* Where Continue leads, for the page's form-action: the origin of Sign
 * in with Slack, or of who's Salesforce login.  0, or -1. */
static int
start_continue_to(struct session *s, const struct slack_user *who, char *to,
    size_t tosz)
{
	struct sf_org	 org;
	int		 rc = -1;

	memset(&org, 0, sizeof(org));
	if (s->cfg->link_proof & CONFIG_PROOF_SLACK) {
		start_origin(s->cfg->slack_authorize_url, to, tosz);
		rc = 0;
	} else if (session_login_org(s, who, &org) == SESSION_OK) {
		start_origin(org.login_url, to, tosz);
		rc = 0;
	}
	config_sf_org_free(&org);
	return rc;
}

/* The login page for who's nonce: a fresh CSRF cookie, and the token
 * bound to it and the nonce in the form. */
static void
start_show(struct session *s, struct buf *page, const struct slack_user *who,
    const struct store_names *names, const char *nonce,
    const unsigned char nonce_h[CRYPTO_HASHLEN], const char *to)
{
	struct keyring_snap	*snap = NULL;
	struct page_start	 ps;
	char			 cookie[CRYPTO_TOKEN_MAX], csrf[65];
	char			 header[1024], action[1024];

	crypto_random_token(cookie, 32);
	keyring_update(s->cfg->keyring, &snap);
	start_csrf(keyring_current(snap), cookie, nonce_h, csrf);
	keyring_release(snap);
	session_cookie(s->cfg, START_CSRF_COOKIE, cookie, header,
	    sizeof(header));
	snprintf(action, sizeof(action), "%s/oauth/start",
	    s->cfg->public_url);
	memset(&ps, 0, sizeof(ps));
	ps.who = (struct page_who){ who->team_id, who->user_id,
	    names->team_domain, names->user_name };
	ps.action = action;
	ps.state = nonce;
	ps.csrf = csrf;
	ps.form_to = to;
	ps.slack_first = (s->cfg->link_proof & CONFIG_PROOF_SLACK) != 0;
	ps.code = (s->cfg->link_proof & CONFIG_PROOF_CODE) != 0;
	if (page_start(page, &ps, header) == -1)
		start_fail(page, STORE_ERROR);
	log_event(LOGL_INFO, "oauth.start", "outcome=page");
	crypto_wipe(cookie, sizeof(cookie));
	crypto_wipe(header, sizeof(header));
}

/* GET: shows whom the link is for, and the Continue button.  Writes
 * nothing to the database. */
static void
start_page(FCGX_Request *r, struct session *s, struct buf *page)
{
	struct form		 f;
	struct slack_user	 who;
	struct store_names	 names;
	enum store_result	 sr;
	const char		*val[LOGIN__MAX];
	char			 to[512];
	unsigned char		 nonce_h[CRYPTO_HASHLEN];

	if (form_parse_fields(req_param(r, "QUERY_STRING"), &f, fields_login,
	    LOGIN__MAX, val, NULL) != FORM_OK) {
		start_fail(page, STORE_NOTFOUND);
		goto out;
	}
	crypto_sha256(val[LOGIN_STATE], nonce_h);
	sr = store_nonce_peek(s->st, nonce_h, time(NULL), &who, &names);
	if (sr != STORE_OK) {
		log_event(LOGL_WARN, "oauth.start", "outcome=%s",
		    store_result_str(sr));
		start_fail(page, sr);
		goto out;
	}
	log_set_user(who.team_id, who.user_id);
	if (start_continue_to(s, &who, to, sizeof(to)) == -1)
		start_fail(page, STORE_ERROR);
	else
		start_show(s, page, &who, &names, val[LOGIN_STATE], nonce_h,
		    to);
out:
	form_free(&f);
}

/*
 * Reads the POST and checks its CSRF token against the page's cookie.
 * Returns STORE_OK with the nonce's hash and *f holding the form,
 * STORE_NOTFOUND (malformed), STORE_MISMATCH (no valid pair) or
 * STORE_ERROR.
 */
static enum store_result
start_read_post(FCGX_Request *r, struct session *s, struct form *f,
    unsigned char nonce_h[CRYPTO_HASHLEN])
{
	struct buf		 body;
	enum store_result	 sr = STORE_NOTFOUND;
	const char		*hdr, *val[CONTINUE__MAX];
	char			 cookie[CRYPTO_TOKEN_MAX + 1];

	buf_init(&body, START_BODY_MAX);
	if (req_read_body(r, START_BODY_MAX, &body) != REQ_BODY_OK ||
	    form_parse(buf_cstr(&body), body.len, f) != FORM_OK ||
	    form_validate(f, fields_continue, CONTINUE__MAX, val, NULL) !=
	    FORM_OK)
		goto out;
	crypto_sha256(val[CONTINUE_STATE], nonce_h);
	sr = STORE_MISMATCH;
	hdr = req_param(r, "HTTP_COOKIE");
	if (hdr == NULL || form_cookie(hdr, START_CSRF_COOKIE, cookie,
	    sizeof(cookie)) == -1)
		goto out;
	if (start_csrf_ok(s->cfg, cookie, nonce_h, val[CONTINUE_CSRF]))
		sr = STORE_OK;
	crypto_wipe(cookie, sizeof(cookie));
out:
	buf_free(&body);
	return sr;
}

/*
 * The URL of the first login (allocated) for who's started login with
 * state and verifier: Sign in with Slack (with the verifier's PKCE
 * challenge and a nonce bound to the state), or Salesforce with the
 * integration the state is recorded with.  NULL on failure (logged).
 */
static char *
start_first_url(struct session *s, const struct slack_user *who,
    enum store_leg leg, const unsigned char state_h[CRYPTO_HASHLEN],
    const char *state, const char *verifier)
{
	if (leg == STORE_LEG_SLACK)
		return slackapi_signin_url(s->cfg, state_h, state, verifier,
		    who->team_id);
	return session_login_authorize_url(s, who, state_h, state, verifier);
}

/* Starts the first login of the nonce's Slack user (leg): a fresh
 * state, cookie and PKCE verifier, and the redirect to the login. */
static void
start_first_login(struct session *s, struct buf *page, enum store_leg leg,
    const unsigned char nonce_h[CRYPTO_HASHLEN])
{
	struct slack_user	 who;
	enum store_result	 sr;
	char			 state[CRYPTO_TOKEN_MAX], cookie[CRYPTO_TOKEN_MAX];
	char			 verifier[CRYPTO_TOKEN_MAX], header[1024];
	unsigned char		 state_h[CRYPTO_HASHLEN], cookie_h[CRYPTO_HASHLEN];
	char			*url = NULL;

	crypto_random_token(state, 32);
	crypto_random_token(cookie, 32);
	crypto_random_token(verifier, 32);
	crypto_sha256(state, state_h);
	crypto_sha256(cookie, cookie_h);
	sr = store_nonce_start_leg(s->st, leg, nonce_h, time(NULL), state_h,
	    cookie_h, verifier, time(NULL) + SESSION_STATE_TTL, &who);
	if (sr != STORE_OK) {
		log_event(LOGL_WARN, "oauth.start", "outcome=%s method=POST",
		    store_result_str(sr));
		start_fail(page, sr);
		goto out;
	}
	log_set_user(who.team_id, who.user_id);
	if ((url = start_first_url(s, &who, leg, state_h, state,
	    verifier)) == NULL) {
		start_fail(page, STORE_ERROR);
		goto out;
	}
	session_cookie(s->cfg, SESSION_COOKIE, cookie, header, sizeof(header));
	page_redirect(page, url, header);
	log_event(LOGL_INFO, "oauth.start", "outcome=redirect leg=%s",
	    leg == STORE_LEG_SLACK ? "slack" : "salesforce");
out:
	crypto_wipe(state, sizeof(state));
	crypto_wipe(cookie, sizeof(cookie));
	crypto_wipe(verifier, sizeof(verifier));
	crypto_wipe(header, sizeof(header));
	free(url);
}

/* POST: Continue was clicked.  Consumes the nonce and redirects. */
static void
start_continue(FCGX_Request *r, struct session *s, struct buf *page)
{
	struct form		 f = { NULL, 0 };
	enum store_result	 sr;
	unsigned char		 nonce_h[CRYPTO_HASHLEN];

	if ((sr = start_read_post(r, s, &f, nonce_h)) != STORE_OK) {
		log_event(LOGL_WARN, "oauth.start", "outcome=%s method=POST",
		    sr == STORE_MISMATCH ? "csrf_refused" : "malformed");
		start_fail(page, sr);
	} else
		start_first_login(s, page, (s->cfg->link_proof &
		    CONFIG_PROOF_SLACK) ? STORE_LEG_SLACK :
		    STORE_LEG_SALESFORCE, nonce_h);
	form_free(&f);
}

static void
start_handle(FCGX_Request *r, struct session *s)
{
	struct buf	 page;
	const char	*method;

	buf_init(&page, PAGE_MAX);
	method = req_param(r, "REQUEST_METHOD");
	if (method != NULL && (strcmp(method, "GET") == 0 ||
	    strcmp(method, "HEAD") == 0))
		start_page(r, s, &page);
	else if (method != NULL && strcmp(method, "POST") == 0)
		start_continue(r, s, &page);
	else
		page_error_next(&page, 405, "Method not allowed", "This "
		    "address only opens login links from Slack.", "Open the "
		    "login link from Slack in your browser.");
	req_send_raw(r, &page);
	buf_free_secret(&page);
}

int
main(int argc, char *argv[])
{
	return app_main(argc, argv, "oauth_start", start_handle);
}

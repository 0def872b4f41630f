/*
 * oauth_start: GET /oauth/start?state=NONCE (SPEC §5).
 *
 * Consumes the one-time login nonce from the Slack message, makes the
 * OAuth state, the browser cookie and the PKCE verifier for this login,
 * and redirects the browser to Salesforce's authorize endpoint.  The
 * cookie is what lets the callback refuse a login finished in another
 * person's browser.
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
#include "log.h"
#include "page.h"
#include "req.h"
#include "sf.h"

#define PAGE_MAX	(64 * 1024)

/* The path the cookie is sent back on: the public URL's path + /oauth/. */
static void
start_cookie_path(const char *public_url, char *out, size_t n)
{
	const char	*p;

	p = strstr(public_url, "://");
	p = p != NULL ? strchr(p + 3, '/') : NULL;
	snprintf(out, n, "%s/oauth/", p != NULL ? p : "");
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
	default:
		page_error_next(b, 500, "Something went wrong", "forcelink "
		    "could not start the login.", "Wait a minute, then run "
		    "`/contact login` in Slack to get a new link. If this "
		    "keeps happening, tell your forcelink admin.");
		break;
	}
}

static void
start_handle(FCGX_Request *r, struct session *s)
{
	struct buf		 page;
	struct form		 f = { NULL, 0 };
	struct slack_user	 who;
	struct sf_org		 org;
	enum store_result	 sr;
	const char		*q, *method;
	char			 state[CRYPTO_TOKEN_MAX], cookie[CRYPTO_TOKEN_MAX];
	char			 verifier[CRYPTO_TOKEN_MAX], challenge[44];
	char			 path[512], header[1024];
	unsigned char		 nonce_h[CRYPTO_HASHLEN], state_h[CRYPTO_HASHLEN];
	unsigned char		 cookie_h[CRYPTO_HASHLEN];
	char			*url = NULL;

	buf_init(&page, PAGE_MAX);
	memset(&org, 0, sizeof(org));
	method = req_param(r, "REQUEST_METHOD");
	if (method == NULL || (strcmp(method, "GET") != 0 &&
	    strcmp(method, "HEAD") != 0)) {
		page_error_next(&page, 405, "Method not allowed", "This "
		    "address only opens login links from Slack.", "Open the "
		    "login link from Slack in your browser.");
		goto out;
	}
	q = req_param(r, "QUERY_STRING");
	if (q == NULL || form_parse(q, strlen(q), &f) != FORM_OK ||
	    form_validate(&f, fields_start, fields_nstart, NULL) != FORM_OK) {
		start_fail(&page, STORE_NOTFOUND);
		goto out;
	}
	crypto_sha256(form_get(&f, "state"), nonce_h);
	crypto_random_token(state, 32);
	crypto_random_token(cookie, 32);
	crypto_random_token(verifier, 32);
	crypto_sha256(state, state_h);
	crypto_sha256(cookie, cookie_h);
	sr = store_nonce_start(s->st, nonce_h, time(NULL), state_h, cookie_h,
	    verifier, time(NULL) + SESSION_STATE_TTL, &who);
	if (sr != STORE_OK) {
		log_event(LOGL_WARN, "oauth.start", "outcome=%s",
		    store_result_str(sr));
		start_fail(&page, sr);
		goto out;
	}
	log_set_user(who.team_id, who.user_id);
	crypto_pkce_challenge(verifier, challenge);
	/* The workspace's integration, recorded with the state: the
	 * callback exchanges the code with the same one. */
	if (session_login_org(s, &who, &org) != SESSION_OK ||
	    store_state_set_org(s->st, state_h, org.name) != STORE_OK ||
	    (url = sf_authorize_url(&org, s->cfg->redirect_uri, state,
	    challenge)) == NULL) {
		start_fail(&page, STORE_ERROR);
		goto out;
	}
	start_cookie_path(s->cfg->public_url, path, sizeof(path));
	snprintf(header, sizeof(header), "Set-Cookie: %s=%s; Path=%s; "
	    "Max-Age=%d; HttpOnly; SameSite=Lax%s\r\n", SESSION_COOKIE,
	    cookie, path, SESSION_STATE_TTL,
	    s->cfg->public_https ? "; Secure" : "");
	page_redirect(&page, url, header);
	log_event(LOGL_INFO, "oauth.start", "outcome=redirect "
	    "integration=\"%s\"", org.name);
out:
	req_send_raw(r, &page);
	crypto_wipe(state, sizeof(state));
	crypto_wipe(cookie, sizeof(cookie));
	crypto_wipe(verifier, sizeof(verifier));
	crypto_wipe(header, sizeof(header));
	free(url);
	config_sf_org_free(&org);
	form_free(&f);
	buf_free_secret(&page);
}

int
main(int argc, char *argv[])
{
	return app_main(argc, argv, "oauth_start", start_handle);
}

/*
 * slack_oauth: installing the Slack app ("Add to Slack", OAuth v2).
 *
 * GET /slack/install shows a page whose link goes to Slack's authorize
 * page with a fresh state, bound to this browser by a cookie (as
 * /oauth/start binds a Salesforce login).  GET /slack/oauth_redirect is
 * where Slack sends the browser back: the state must be known, unused,
 * unexpired and arrive with its cookie; then the code is exchanged,
 * the bot token checked and the installation stored (install_complete),
 * and the page names the workspace (or enterprise) that now has
 * forcelink.  A denial at Slack gets a friendly page and stores nothing.
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
#include "install.h"
#include "log.h"
#include "page.h"
#include "req.h"
#include "slackapi.h"

#define PAGE_MAX	(64 * 1024)

/* The path the cookie is sent back on: the public URL's path + /slack/. */
static void
slack_cookie_path(const char *public_url, char *out, size_t n)
{
	const char	*p;

	p = strstr(public_url, "://");
	p = p != NULL ? strchr(p + 3, '/') : NULL;
	snprintf(out, n, "%s/slack/", p != NULL ? p : "");
}

/* The next step of most failure pages: start again from the install
 * page, in this browser. */
static void
slack_again(const struct session *s, char *out, size_t n)
{
	snprintf(out, n, "Open %s/slack/install in this browser and choose "
	    "Add to Slack again.", s->cfg->public_url);
}

/* The page for a forcelink without Slack app credentials. */
static void
slack_unconfigured(struct buf *b)
{
	page_error_next(b, 404, "Installing is not set up", "This forcelink "
	    "has no Slack app credentials (SLACK_CLIENT_ID and "
	    "SLACK_CLIENT_SECRET), so it cannot be installed from this "
	    "page.", "Ask your forcelink admin to set them, or to add the "
	    "app to your workspace by hand.");
}

/* GET /slack/install */
static void
slack_install(FCGX_Request *r, struct session *s, struct buf *page)
{
	char		 state[CRYPTO_TOKEN_MAX], cookie[CRYPTO_TOKEN_MAX];
	char		 path[512], header[1024], next[600];
	unsigned char	 state_h[CRYPTO_HASHLEN], cookie_h[CRYPTO_HASHLEN];
	char		*url = NULL;
	time_t		 now = time(NULL);

	(void)r;
	if (s->cfg->slack_client_id == NULL) {
		slack_unconfigured(page);
		return;
	}
	crypto_random_token(state, 32);
	crypto_random_token(cookie, 32);
	crypto_sha256(state, state_h);
	crypto_sha256(cookie, cookie_h);
	slack_cookie_path(s->cfg->public_url, path, sizeof(path));
	snprintf(header, sizeof(header), "Set-Cookie: %s=%s; Path=%s; "
	    "Max-Age=%d; HttpOnly; SameSite=Lax%s\r\n", INSTALL_COOKIE,
	    cookie, path, INSTALL_STATE_TTL,
	    s->cfg->public_https ? "; Secure" : "");
	if (store_install_state_add(s->st, state_h, cookie_h, now,
	    now + INSTALL_STATE_TTL) != STORE_OK ||
	    (url = slackapi_authorize_url(s->cfg, state)) == NULL ||
	    page_install(page, url, header) == -1) {
		slack_again(s, next, sizeof(next));
		page_error_next(page, 500, "Something went wrong", "forcelink "
		    "could not start the installation.", next);
	} else
		log_event(LOGL_INFO, "slack.install", "outcome=page");
	crypto_wipe(state, sizeof(state));
	crypto_wipe(cookie, sizeof(cookie));
	crypto_wipe(header, sizeof(header));
	if (url != NULL)
		crypto_wipe(url, strlen(url));
	free(url);
}

/* The page for a state that cannot finish an installation. */
static void
slack_state_fail(struct session *s, struct buf *b, enum store_result sr)
{
	char	 next[600];

	slack_again(s, next, sizeof(next));
	switch (sr) {
	case STORE_MISMATCH:
	case STORE_NOTFOUND:
		page_error_next(b, 400, "Installation could not be matched",
		    "This installation was started in another browser, or is "
		    "not known, so nothing was installed.", next);
		break;
	case STORE_USED:
		page_error_next(b, 400, "Installation already finished",
		    "This installation has been completed already, so nothing "
		    "was changed.", "Nothing to do: run `/contact help` in "
		    "Slack to check that forcelink answers.");
		break;
	case STORE_EXPIRED:
		page_error_next(b, 400, "Installation expired", "This "
		    "installation took longer than 10 minutes, so nothing was "
		    "installed.", next);
		break;
	default:
		page_error_next(b, 500, "Something went wrong", "forcelink "
		    "could not finish the installation, so nothing was "
		    "installed.", next);
		break;
	}
}

/* The page for an installation Slack did not complete. */
static void
slack_install_fail(struct session *s, struct buf *b, enum install_result res)
{
	char	 next[600];

	slack_again(s, next, sizeof(next));
	switch (res) {
	case INSTALL_REFUSED:
		page_error_next(b, 400, "Slack refused the installation",
		    "Slack did not accept this installation, so nothing was "
		    "installed.", next);
		break;
	case INSTALL_FORGED:
		page_error_next(b, 502, "Slack's answer was not trusted",
		    "The answer from Slack could not be verified, so nothing "
		    "was saved.", "Tell your forcelink admin: this needs "
		    "fixing on the server before the app can be installed.");
		break;
	case INSTALL_TRANSIENT:
		page_error_next(b, 502, "Slack did not answer", "Slack could "
		    "not be reached just now, so nothing was installed.", next);
		break;
	default:
		page_error_next(b, 500, "Something went wrong", "forcelink "
		    "could not save the installation.", next);
		break;
	}
}

/*
 * Reads and checks the state and its cookie and consumes the state.
 * Returns STORE_OK when this browser started this installation.
 */
static enum store_result
slack_take_state(FCGX_Request *r, struct session *s, const char *state)
{
	unsigned char	 state_h[CRYPTO_HASHLEN], cookie_h[CRYPTO_HASHLEN];
	char		 cookie[CRYPTO_TOKEN_MAX + 1];
	const char	*hdr;

	if (state == NULL || *state == '\0')
		return STORE_NOTFOUND;
	hdr = req_param(r, "HTTP_COOKIE");
	if (hdr == NULL || form_cookie(hdr, INSTALL_COOKIE, cookie,
	    sizeof(cookie)) == -1)
		return STORE_MISMATCH;
	crypto_sha256(state, state_h);
	crypto_sha256(cookie, cookie_h);
	crypto_wipe(cookie, sizeof(cookie));
	return store_install_state_take(s->st, state_h, cookie_h,
	    time(NULL));
}

/* The success page. */
static void
slack_done(struct buf *b, const struct install_done *d)
{
	const struct page_installed	 p = {
		.org_wide = d->org_wide,
		.replaced = d->replaced,
		.team_id = d->team_id,
		.team_name = d->team_name,
		.enterprise_id = d->enterprise_id,
		.enterprise_name = d->enterprise_name,
		.app_id = d->app_id,
	};

	page_installed(b, &p);
}

/* GET /slack/oauth_redirect */
static void
slack_redirect(FCGX_Request *r, struct session *s, struct buf *page)
{
	struct form		 f = { NULL, 0 };
	struct install_done	 done;
	enum store_result	 sr;
	enum install_result	 res;
	enum form_result	 fr = FORM_OK;
	const char		*q, *err, *code;
	char			 next[600];

	memset(&done, 0, sizeof(done));
	if (s->cfg->slack_client_id == NULL) {
		slack_unconfigured(page);
		return;
	}
	q = req_param(r, "QUERY_STRING");
	if (q != NULL && (fr = form_parse(q, strlen(q), &f)) == FORM_NOMEM) {
		slack_state_fail(s, page, STORE_ERROR);
		goto out;
	}
	if (q == NULL || fr != FORM_OK || form_validate(&f,
	    fields_slack_redirect, fields_nslack_redirect, NULL) != FORM_OK) {
		slack_again(s, next, sizeof(next));
		page_error_next(page, 400, "Invalid installation answer",
		    "This address did not come from Slack's installation "
		    "page, so nothing was installed.", next);
		goto out;
	}
	sr = slack_take_state(r, s, form_get(&f, "state"));
	if ((err = form_get(&f, "error")) != NULL) {
		log_event(LOGL_INFO, "slack.install", "outcome=slack_error "
		    "error=%s state=%s", err, store_result_str(sr));
		slack_again(s, next, sizeof(next));
		if (strcmp(err, "access_denied") == 0)
			page_error_next(page, 400, "Installation cancelled",
			    "You did not allow forcelink in Slack, so nothing "
			    "was installed.", "If you change your mind, open "
			    "the install page again and choose Allow.");
		else
			page_error_next(page, 400, "Slack reported a problem",
			    "Slack could not complete the installation, so "
			    "nothing was installed.", next);
		goto out;
	}
	if (sr != STORE_OK) {
		log_event(LOGL_WARN, "slack.install", "outcome=%s",
		    store_result_str(sr));
		slack_state_fail(s, page, sr);
		goto out;
	}
	if ((code = form_get(&f, "code")) == NULL || *code == '\0') {
		slack_state_fail(s, page, STORE_NOTFOUND);
		goto out;
	}
	res = install_complete(s, code, &done);
	log_event(res == INSTALL_OK ? LOGL_INFO : LOGL_WARN, "slack.install",
	    "outcome=%s", install_result_str(res));
	if (res != INSTALL_OK) {
		slack_install_fail(s, page, res);
		goto out;
	}
	slack_done(page, &done);
out:
	install_done_free(&done);
	form_free(&f);
}

static void
slack_handle(FCGX_Request *r, struct session *s)
{
	struct buf	 page;
	const char	*method, *script;
	size_t		 n;

	buf_init(&page, PAGE_MAX);
	method = req_param(r, "REQUEST_METHOD");
	script = req_param(r, "SCRIPT_NAME");
	n = script != NULL ? strlen(script) : 0;
	if (method == NULL || (strcmp(method, "GET") != 0 &&
	    strcmp(method, "HEAD") != 0))
		page_error_next(&page, 405, "Method not allowed", "This "
		    "address only installs forcelink into Slack.", "Open the "
		    "install page in your browser.");
	else if (n >= 14 && strcmp(script + n - 14, "/slack/install") == 0)
		slack_install(r, s, &page);
	else if (n >= 21 &&
	    strcmp(script + n - 21, "/slack/oauth_redirect") == 0)
		slack_redirect(r, s, &page);
	else
		page_error_next(&page, 404, "Not found", "There is no page "
		    "at this address.", "Open the install page in your "
		    "browser.");
	req_send_raw(r, &page);
	buf_free_secret(&page);
}

int
main(int argc, char *argv[])
{
	return app_main(argc, argv, "slack_oauth", slack_handle);
}

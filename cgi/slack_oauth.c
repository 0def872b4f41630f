/*
 * slack_oauth: installing the Slack app ("Add to Slack", OAuth v2).
 *
 * GET /slack/install shows a page whose link goes to Slack's authorize
 * page with a fresh state, bound to this browser by a signed cookie
 * that carries the state itself (install.h): showing the page stores
 * nothing, however often it is fetched.  GET /slack/oauth_redirect is
 * where Slack sends the browser back: the state must arrive with its
 * cookie, genuine and unexpired, and a code; then, and only then, the
 * state is recorded as used (a reuse is refused), the code exchanged,
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

/* GET /slack/install (and HEAD): the page and its cookie, nothing
 * stored. */
static void
slack_install(FCGX_Request *r, struct session *s, struct buf *page)
{
	char		 state[CRYPTO_TOKEN_MAX];
	char		 cookie[INSTALL_COOKIE_MAX];
	char		 path[512], header[1024], next[600];
	char		*url = NULL;

	(void)r;
	if (s->cfg->slack_client_id == NULL) {
		slack_unconfigured(page);
		return;
	}
	install_state_new(s->cfg->keyring, time(NULL), state, cookie);
	slack_cookie_path(s->cfg->public_url, path, sizeof(path));
	snprintf(header, sizeof(header), "Set-Cookie: %s=%s; Path=%s; "
	    "Max-Age=%d; HttpOnly; SameSite=Lax%s\r\n", INSTALL_COOKIE,
	    cookie, path, INSTALL_STATE_TTL,
	    s->cfg->public_https ? "; Secure" : "");
	if ((url = slackapi_authorize_url(s->cfg, state)) == NULL ||
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
slack_state_fail(struct session *s, struct buf *b, enum install_state is)
{
	char	 next[600];

	slack_again(s, next, sizeof(next));
	switch (is) {
	case INSTALL_STATE_MISSING:
	case INSTALL_STATE_FORGED:
	case INSTALL_STATE_OTHER:
		page_error_next(b, 400, "Installation could not be matched",
		    "This installation was started in another browser, or is "
		    "not known, so nothing was installed.", next);
		break;
	case INSTALL_STATE_USED:
		page_error_next(b, 400, "Installation already finished",
		    "This installation has been completed already, so nothing "
		    "was changed.", "Nothing to do: run `/contact help` in "
		    "Slack to check that forcelink answers.");
		break;
	case INSTALL_STATE_EXPIRED:
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
 * The state's cookie from the request into cookie (size n).  Returns
 * cookie, or NULL when the request has none, or more than one, or one
 * too long to be ours.
 */
static const char *
slack_cookie(FCGX_Request *r, char *cookie, size_t n)
{
	const char	*hdr;

	hdr = req_param(r, "HTTP_COOKIE");
	if (hdr == NULL || form_cookie(hdr, INSTALL_COOKIE, cookie, n) == -1)
		return NULL;
	return cookie;
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

/* The page for Slack's error= answer (a denial, mostly): the state is
 * checked for the log line, and neither taken nor stored. */
static void
slack_slack_error(FCGX_Request *r, struct session *s, struct buf *page,
    const char *const *val, const char *err)
{
	char			 buf[INSTALL_COOKIE_MAX], next[600];
	enum install_state	 is;

	is = install_state_check(s->cfg->keyring, slack_cookie(r, buf,
	    sizeof(buf)), val[REDIRECT_STATE], time(NULL), NULL);
	crypto_wipe(buf, sizeof(buf));
	log_event(LOGL_INFO, "slack.install", "outcome=slack_error "
	    "error=%s state=%s", err, install_state_str(is));
	slack_again(s, next, sizeof(next));
	if (strcmp(err, "access_denied") == 0)
		page_error_next(page, 400, "Installation cancelled", "You did "
		    "not allow forcelink in Slack, so nothing was installed.",
		    "If you change your mind, open the install page again and "
		    "choose Allow.");
	else
		page_error_next(page, 400, "Slack reported a problem", "Slack "
		    "could not complete the installation, so nothing was "
		    "installed.", next);
}

/* Checks the redirect's state against its cookie and, when it has a
 * code, takes the state (install_state_take).  Returns the outcome,
 * logged when it is not INSTALL_STATE_OK. */
static enum install_state
slack_take_state(FCGX_Request *r, struct session *s,
    const char *const *val)
{
	char			 buf[INSTALL_COOKIE_MAX];
	const char		*cookie, *state, *code;
	enum install_state	 is;
	time_t			 now = time(NULL);
	long			 dropped = 0;

	cookie = slack_cookie(r, buf, sizeof(buf));
	state = val[REDIRECT_STATE];
	code = val[REDIRECT_CODE];
	is = install_state_check(s->cfg->keyring, cookie, state, now, NULL);
	/* Nothing is written for a redirect without a code: there is
	 * nothing to exchange, so no reuse to guard against. */
	if (is == INSTALL_STATE_OK && (code == NULL || *code == '\0'))
		is = INSTALL_STATE_MISSING;
	else if (is == INSTALL_STATE_OK)
		is = install_state_take(s, cookie, state, now, &dropped);
	crypto_wipe(buf, sizeof(buf));
	if (is != INSTALL_STATE_OK)
		log_event(LOGL_WARN, "slack.install", "outcome=%s",
		    install_state_str(is));
	else if (dropped > 0)
		log_event(LOGL_WARN, "slack.install", "outcome=recorded "
		    "dropped=%ld cap=%d msg=\"the table of used install states "
		    "was full: the oldest made room\"", dropped,
		    INSTALL_STATE_CAP);
	return is;
}

/* Exchanges the redirect's code for the installation, and says how
 * it went. */
static void
slack_complete(struct session *s, struct buf *page, const char *code)
{
	struct install_done	 done;
	enum install_result	 res;

	memset(&done, 0, sizeof(done));
	res = install_complete(s, code, &done);
	log_event(res == INSTALL_OK ? LOGL_INFO : LOGL_WARN, "slack.install",
	    "outcome=%s", install_result_str(res));
	if (res != INSTALL_OK)
		slack_install_fail(s, page, res);
	else
		slack_done(page, &done);
	install_done_free(&done);
}

/* GET /slack/oauth_redirect */
static void
slack_redirect(FCGX_Request *r, struct session *s, struct buf *page)
{
	struct form		 f;
	enum install_state	 is;
	enum form_result	 fr;
	const char		*val[REDIRECT__MAX];
	char			 next[600];

	if (s->cfg->slack_client_id == NULL) {
		slack_unconfigured(page);
		return;
	}
	fr = form_parse_fields(req_param(r, "QUERY_STRING"), &f,
	    fields_redirect, REDIRECT__MAX, val, NULL);
	if (fr == FORM_NOMEM)
		slack_state_fail(s, page, INSTALL_STATE_ERROR);
	else if (fr != FORM_OK) {
		slack_again(s, next, sizeof(next));
		page_error_next(page, 400, "Invalid installation answer",
		    "This address did not come from Slack's installation "
		    "page, so nothing was installed.", next);
	} else if (val[REDIRECT_ERROR] != NULL)
		slack_slack_error(r, s, page, val, val[REDIRECT_ERROR]);
	else if ((is = slack_take_state(r, s, val)) != INSTALL_STATE_OK)
		slack_state_fail(s, page, is);
	else
		slack_complete(s, page, val[REDIRECT_CODE]);
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

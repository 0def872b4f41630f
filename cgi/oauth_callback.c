/*
 * oauth_callback: GET /oauth/callback (SPEC §5).
 *
 * Salesforce sends the browser back here with code and state (or with an
 * error).  The state must be known, unused, unexpired and arrive with the
 * cookie set by /oauth/start in the same browser; then the code is
 * exchanged, the reply verified and the link stored (session_link), and
 * the page says which Salesforce user is now linked to which Slack user.
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

#define PAGE_MAX	(64 * 1024)

/* The error page for a state that cannot finish a login. */
static void
callback_state_fail(struct buf *b, enum store_result sr)
{
	switch (sr) {
	case STORE_MISMATCH:
	case STORE_NOTFOUND:
		page_error_next(b, 400, "Login could not be matched", "This "
		    "login was started in another browser, or is not known, "
		    "so nothing was linked.", "Run `/contact login` in Slack, "
		    "then open the new link in this browser and finish the "
		    "login here.");
		break;
	case STORE_USED:
		page_error_next(b, 400, "Login already finished", "This "
		    "login has been used already, so nothing was changed.",
		    "Run `/contact whoami` in Slack to see which Salesforce "
		    "user you are linked to, or `/contact login` to link "
		    "again.");
		break;
	case STORE_EXPIRED:
		page_error_next(b, 400, "Login expired", "This login took "
		    "longer than 10 minutes, so nothing was linked.", "Run "
		    "`/contact login` in Slack to start again.");
		break;
	default:
		page_error_next(b, 500, "Something went wrong", "forcelink "
		    "could not finish the login, so nothing was linked.",
		    "Wait a minute, then run `/contact login` in Slack to "
		    "start again. If this keeps happening, tell your "
		    "forcelink admin.");
		break;
	}
}

/* The error page for a login that Salesforce did not complete. */
static void
callback_link_fail(struct buf *b, enum session_result res)
{
	switch (res) {
	case SESSION_REFUSED:
		page_error_next(b, 400, "Salesforce refused the login",
		    "Salesforce did not accept this login, so nothing was "
		    "linked.", "Run `/contact login` in Slack to try again.");
		break;
	case SESSION_FORGED:
		page_error_next(b, 502, "Salesforce's answer was not trusted",
		    "The answer from Salesforce could not be verified, so "
		    "nothing was saved.", "Tell your forcelink admin: this "
		    "needs fixing on the server before anyone can link.");
		break;
	case SESSION_TRANSIENT:
		page_error_next(b, 502, "Salesforce did not answer",
		    "Salesforce could not be reached just now, so nothing "
		    "was linked.", "Wait a minute, then run `/contact login` "
		    "in Slack to try again.");
		break;
	default:
		page_error_next(b, 500, "Something went wrong", "forcelink "
		    "could not save your link.", "Wait a minute, then run "
		    "`/contact login` in Slack to try again. If this keeps "
		    "happening, tell your forcelink admin.");
		break;
	}
}

/*
 * Reads and checks the state and its cookie and consumes the state.
 * Returns STORE_OK with *who and *verifier.
 */
static enum store_result
callback_take_state(FCGX_Request *r, struct session *s, const char *state,
    struct slack_user *who, char **verifier)
{
	unsigned char	 state_h[CRYPTO_HASHLEN], cookie_h[CRYPTO_HASHLEN];
	char		 cookie[CRYPTO_TOKEN_MAX + 1];
	const char	*hdr;

	if (state == NULL)
		return STORE_NOTFOUND;
	hdr = req_param(r, "HTTP_COOKIE");
	if (hdr == NULL || form_cookie(hdr, SESSION_COOKIE, cookie,
	    sizeof(cookie)) == -1)
		return STORE_MISMATCH;
	crypto_sha256(state, state_h);
	crypto_sha256(cookie, cookie_h);
	crypto_wipe(cookie, sizeof(cookie));
	return store_state_take(s->st, state_h, cookie_h, time(NULL), who,
	    verifier);
}

static void
callback_handle(FCGX_Request *r, struct session *s)
{
	struct buf		 page;
	struct form		 f = { NULL, 0 };
	struct slack_user	 who;
	struct session_linked	 linked;
	enum store_result	 sr;
	enum session_result	 res;
	enum form_result	 fr = FORM_OK;
	const char		*q, *err, *code, *method;
	char			*verifier = NULL, *org = NULL;
	unsigned char		 state_h[CRYPTO_HASHLEN];

	buf_init(&page, PAGE_MAX);
	memset(&linked, 0, sizeof(linked));
	method = req_param(r, "REQUEST_METHOD");
	if (method == NULL || strcmp(method, "GET") != 0) {
		page_error(&page, 405, "Method not allowed",
		    "This address is only for Salesforce's login redirect.");
		goto out;
	}
	q = req_param(r, "QUERY_STRING");
	if (q != NULL && (fr = form_parse(q, strlen(q), &f)) == FORM_NOMEM) {
		/* Our failure: the link itself may be fine. */
		callback_state_fail(&page, STORE_ERROR);
		goto out;
	}
	if (q == NULL || fr != FORM_OK ||
	    form_validate(&f, fields_callback, fields_ncallback, NULL) !=
	    FORM_OK) {
		page_error_next(&page, 400, "Invalid login answer", "This "
		    "address did not come from Salesforce's login, so nothing "
		    "was linked.", "Run `/contact login` in Slack to start "
		    "again.");
		goto out;
	}
	sr = callback_take_state(r, s, form_get(&f, "state"), &who,
	    &verifier);
	if ((err = form_get(&f, "error")) != NULL) {
		log_event(LOGL_INFO, "oauth.callback", "outcome=sf_error "
		    "error=%s state=%s", err, store_result_str(sr));
		if (strcmp(err, "access_denied") == 0)
			page_error_next(&page, 400, "Login cancelled", "You "
			    "did not allow forcelink to use your Salesforce "
			    "account, so nothing was linked.", "If you change "
			    "your mind, run `/contact login` in Slack and "
			    "choose Allow.");
		else
			page_error_next(&page, 400,
			    "Salesforce reported a problem", "Salesforce could "
			    "not complete the login, so nothing was linked.",
			    "Run `/contact login` in Slack to try again.");
		goto out;
	}
	if (sr != STORE_OK) {
		log_event(LOGL_WARN, "oauth.callback", "outcome=%s",
		    store_result_str(sr));
		callback_state_fail(&page, sr);
		goto out;
	}
	log_set_user(who.team_id, who.user_id);
	if ((code = form_get(&f, "code")) == NULL || *code == '\0') {
		callback_state_fail(&page, STORE_NOTFOUND);
		goto out;
	}
	/* The integration /oauth/start used (NULL for a login started
	 * before integrations existed: the workspace's). */
	crypto_sha256(form_get(&f, "state"), state_h);
	if (store_state_org(s->st, state_h, &org) != STORE_OK) {
		callback_state_fail(&page, STORE_ERROR);
		goto out;
	}
	res = session_link_org(s, &who, org, code, verifier, &linked);
	log_event(res == SESSION_OK ? LOGL_INFO : LOGL_WARN, "oauth.callback",
	    "outcome=%s", session_result_str(res));
	if (res != SESSION_OK) {
		callback_link_fail(&page, res);
		goto out;
	}
	page_linked(&page, linked.sf_username, linked.sf_org_id,
	    linked.instance_url, who.team_id, who.user_id);
out:
	req_send_raw(r, &page);
	crypto_free_secret(verifier);
	free(org);
	session_linked_free(&linked);
	form_free(&f);
	buf_free(&page);
}

int
main(int argc, char *argv[])
{
	return app_main(argc, argv, "oauth_callback", callback_handle);
}

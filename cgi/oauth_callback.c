/*
 * oauth_callback: GET /oauth/callback (SPEC §5).
 *
 * Salesforce sends the browser back here with code and state (or with an
 * error).  The state must be known, unused, unexpired and arrive with the
 * cookie set by /oauth/start in the same browser; then the code is
 * exchanged, the reply verified and the link stored (session_link), and
 * the page says which Salesforce user is now linked to which Slack user.
 *
 * When the login link came from a search (the user searched before
 * linking), the search is taken together with the state, and once the
 * link is stored it is run with the new tokens and its answer posted to
 * the command's response_url.  The page is finished first (FCGX_Finish_r)
 * and the search runs after: the link is what the page confirms, and it
 * is done; the person should not wait on Salesforce (up to the HTTP
 * timeouts, and a refresh) for a page that says nothing more, and the
 * answer shows up in Slack where they are going back to anyway.  The page
 * says the answer will be waiting in Slack; a failure of the search or
 * of the post is logged (and a failed search answered with a friendly
 * message) and changes nothing about the link.
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
#include "render.h"
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
    struct slack_user *who, char **verifier, struct store_search *search)
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
	return store_state_take_search(s->st, state_h, cookie_h, time(NULL),
	    who, verifier, search);
}

/*
 * Decides what becomes of the search taken with the state, now that the
 * link is stored: nothing when there was none, too old when Slack would
 * no longer take its answer, dropped when its response_url is outside
 * SLACK_RESPONSE_URL_PREFIX (the setting changed since it was kept).
 */
static enum page_resume
callback_resume_how(struct session *s, const struct store_search *search)
{
	long	 age;

	if (search->text == NULL)
		return PAGE_RESUME_NONE;
	age = (long)(time(NULL) - search->created_at);
	if (age > SESSION_RESUME_MAX_AGE) {
		log_event(LOGL_INFO, "resume", "outcome=too_old age=%ld", age);
		return PAGE_RESUME_TOO_OLD;
	}
	if (!session_response_url_ok(s->cfg, search->response_url)) {
		log_event(LOGL_WARN, "resume", "outcome=dropped "
		    "why=\"response_url outside %s\"",
		    s->cfg->response_url_prefix);
		return PAGE_RESUME_NONE;
	}
	return PAGE_RESUME_SENT;
}

/* The answer to a resumed search that failed; NULL only on memory
 * exhaustion.  The person is back in Slack and did not just type it, so
 * each message says to run the search again. */
static char *
callback_resume_failure(enum session_result res)
{
	switch (res) {
	case SESSION_TRANSIENT:
		return render_message("Salesforce did not answer properly "
		    "just now. Please run your search again in a minute.");
	case SESSION_REFUSED:
		return render_message("Salesforce refused this search. Your "
		    "org may have reached its API limit, or your user may "
		    "lack access. Please try again later.");
	case SESSION_UNLINKED:
	case SESSION_REVOKED:
	case SESSION_RELINK:
		return render_message("Salesforce no longer accepts your new "
		    "link. Please run `/contact login` to link again, then "
		    "run your search again.");
	default:
		return render_message("Something went wrong on our side. "
		    "Please run your search again in a minute.");
	}
}

/*
 * Runs the search with who's new link and posts the answer, prefaced as
 * one to the earlier command, to its response_url (which the caller
 * checked is allowed).  Runs after the page was sent; every failure is
 * logged and ends here.
 */
static void
callback_resume(struct session *s, const struct slack_user *who,
    const struct store_search *search)
{
	struct sf_contacts	 found;
	struct sf_error		 err;
	struct http_response	 resp;
	enum session_result	 res;
	enum http_result	 hr;
	char			*inst = NULL, *json = NULL, *msg = NULL;

	memset(&found, 0, sizeof(found));
	http_response_init(&resp);
	res = session_search(s, who, search->text, &found, &inst, &err);
	log_event(LOGL_INFO, "resume.search", "outcome=%s found=%zu error=%s",
	    session_result_str(res), found.n, err.code[0] ? err.code : "-");
	json = res == SESSION_OK ? render_contacts(inst, search->text,
	    &found) : callback_resume_failure(res);
	if (json == NULL || (msg = render_resumed(json, search->text)) ==
	    NULL) {
		log_error("msg=\"out of memory: the answer is not posted\"");
		goto out;
	}
	hr = http_request(s->http, "POST", search->response_url, NULL,
	    "application/json", msg, &resp);
	log_event(hr == HTTP_OK && resp.status == 200 ? LOGL_INFO : LOGL_WARN,
	    "resume.post", "outcome=%s status=%ld", http_result_str(hr),
	    hr == HTTP_OK ? resp.status : 0L);
out:
	http_response_free(&resp);
	sf_contacts_free(&found);
	free(inst);
	free(json);
	free(msg);
}

static void
callback_handle(FCGX_Request *r, struct session *s)
{
	struct buf		 page;
	struct form		 f = { NULL, 0 };
	struct slack_user	 who;
	struct session_linked	 linked;
	struct store_search	 search;
	enum store_result	 sr;
	enum session_result	 res;
	enum form_result	 fr = FORM_OK;
	enum page_resume	 how = PAGE_RESUME_NONE;
	const char		*q, *err, *code, *method;
	char			*verifier = NULL, *org = NULL;
	unsigned char		 state_h[CRYPTO_HASHLEN];

	buf_init(&page, PAGE_MAX);
	memset(&linked, 0, sizeof(linked));
	memset(&search, 0, sizeof(search));
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
	    &verifier, &search);
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
	if ((how = callback_resume_how(s, &search)) == PAGE_RESUME_NONE)
		store_search_free(&search);
	page_linked_resume(&page, linked.sf_username, linked.sf_org_id,
	    linked.instance_url, who.team_id, who.user_id, search.text, how);
out:
	req_send_raw(r, &page);
	if (how == PAGE_RESUME_SENT) {
		/* The page is complete: let the browser have it now. */
		FCGX_Finish_r(r);
		callback_resume(s, &who, &search);
	} else if (search.text != NULL && how == PAGE_RESUME_NONE)
		log_event(LOGL_INFO, "resume", "outcome=dropped why=\"no "
		    "link made\"");
	crypto_free_secret(verifier);
	free(org);
	store_search_free(&search);
	session_linked_free(&linked);
	form_free(&f);
	buf_free(&page);
}

int
main(int argc, char *argv[])
{
	return app_main(argc, argv, "oauth_callback", callback_handle);
}

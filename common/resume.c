/*
 * resume: the search an unlinked user ran, answered once the link is
 * stored (see resume.h).  The callback (a link stored at once) and
 * /contact confirm (a link stored once its code came back) share it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "casejob.h"
#include "http.h"
#include "log.h"
#include "render.h"
#include "resume.h"

/*
 * Decides what becomes of the search taken with the state, now that the
 * link is stored: nothing when there was none, too old when Slack would
 * no longer take its answer, dropped when its response_url is outside
 * SLACK_RESPONSE_URL_PREFIX (the setting changed since it was kept).
 * Logs the decision when log is set.
 */
static enum page_resume
resume_decide(struct session *s, const struct store_search *search, int log)
{
	long	 age;

	if (search->text == NULL)
		return PAGE_RESUME_NONE;
	age = (long)(time(NULL) - search->created_at);
	if (age > SESSION_RESUME_MAX_AGE) {
		if (log)
			log_event(LOGL_INFO, "resume", "outcome=too_old "
			    "age=%ld", age);
		return PAGE_RESUME_TOO_OLD;
	}
	if (!session_response_url_ok(s->cfg, search->response_url)) {
		if (log)
			log_event(LOGL_WARN, "resume", "outcome=dropped "
			    "why=\"response_url outside %s\"",
			    s->cfg->response_url_prefix);
		return PAGE_RESUME_NONE;
	}
	return PAGE_RESUME_SENT;
}

enum page_resume
resume_how(struct session *s, const struct store_search *search)
{
	return resume_decide(s, search, 1);
}

enum page_resume
resume_expect(struct session *s, const struct store_search *search)
{
	return resume_decide(s, search, 0);
}

/* The answer to a resumed search that failed; NULL only on memory
 * exhaustion.  The person is back in Slack and did not just type it, so
 * each message says to run the search again. */
char *
resume_failure(enum session_result res)
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
void
resume_run(struct session *s, const struct slack_user *who,
    const struct store_search *search)
{
	struct sf_contacts	 found;
	struct sf_error		 err;
	struct http_response	 resp;
	enum session_result	 res;
	enum http_result	 hr;
	char			*inst = NULL, *json = NULL, *msg = NULL;

	/* A Case form submitted before linking: its own work. */
	if (search->command != NULL && strcmp(search->command, "/case") ==
	    0) {
		(void)casejob_resume(s, who, search->text);
		return;
	}
	memset(&found, 0, sizeof(found));
	http_response_init(&resp);
	res = session_search(s, who, search->text, &found, &inst, &err);
	log_event(LOGL_INFO, "resume.search", "outcome=%s found=%zu error=%s",
	    session_result_str(res), found.n, err.code[0] ? err.code : "-");
	json = res == SESSION_OK ? render_contacts(inst, search->text,
	    &found) : resume_failure(res);
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

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
#include "log.h"
#include "render.h"
#include "resume.h"
#include "search.h"

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

const char *
resume_shown(const struct store_search *search)
{
	if (search->text != NULL && search->command != NULL &&
	    strcmp(search->command, "/case") == 0)
		return "/case: the Case you submitted";
	return search->text;
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
		return render_message("Salesforce no longer accepts your "
		    "link. Please run `/contact login` to link again, then "
		    "run your search again.");
	default:
		return render_message("Something went wrong on our side. "
		    "Please run your search again in a minute.");
	}
}

/*
 * Runs the search with who's new link, as the command that made it
 * (search->command; NULL: /contact), and posts the answer, prefaced as
 * one to the earlier command, to its response_url (which the caller
 * checked is allowed).  Runs after the page was sent; every failure is
 * logged and ends here.
 */
void
resume_run(struct session *s, const struct slack_user *who,
    const struct store_search *search)
{
	struct search_page	 page;
	struct sf_error		 err;
	enum session_result	 res;
	const char		*command = NULL;
	char			*json = NULL, *msg = NULL, shown[64];
	size_t			 found = 0;

	/* A Case form submitted before linking: its own work. */
	if (search->command != NULL && strcmp(search->command, "/case") ==
	    0) {
		(void)casejob_resume(s, who, search->text);
		return;
	}
	memset(&err, 0, sizeof(err));
	if (search_command(search->command, search->text, &page,
	    &command) != SEARCH_CMD_OK) {
		log_event(LOGL_WARN, "resume.search", "outcome=unknown_command");
		return;
	}
	res = search_run(s, who, &page, NULL, &json, &found, &err);
	log_event(LOGL_INFO, "resume.search", "command=%s outcome=%s "
	    "found=%zu error=%s", command, session_result_str(res), found,
	    err.code[0] ? err.code : "-");
	if (res != SESSION_OK)
		json = resume_failure(res);
	/* A count is shown with its command: "/pipeline 5". */
	if (page.text == NULL)
		snprintf(shown, sizeof(shown), "%s %.10s", command,
		    search->text);
	if (json == NULL || (msg = render_resumed(json, page.text != NULL ?
	    search->text : shown)) == NULL) {
		log_error("msg=\"out of memory: the answer is not posted\"");
		goto out;
	}
	(void)session_response_post(s, search->response_url, msg,
	    "resume.post");
out:
	free(json);
	free(msg);
}

/*
 * actions_search: the buttons of search results (issue 15): "Share in
 * channel" and "More" (common/search.h says what their rows hold).
 *
 * Both were acknowledged before they run (cgi/actions.c) and answer at
 * the payload's response_url as new messages ("replace_original":
 * false), so the results they came from stay.  Each looks its row up
 * for the user who pressed: a row of another user is refused and
 * nothing else happens; an expired or unknown key says to search again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "log.h"
#include "render.h"
#include "resume.h"
#include "search.h"

/* Answers a as a new message (the results stay); json is taken. */
static void
actions_search_answer(struct action_req *a, char *json)
{
	char	*msg;

	msg = render_new_message(json);
	reply_json(&a->rp, msg);
	free(msg);
	free(json);
}

/* Share: the card reposted in the channel, naming who shared it. */
void
actions_share(struct action_req *a)
{
	enum search_press	 r;
	char			*json = NULL;

	r = search_share(a->s, &a->p.who, a->p.value, &json);
	log_event(r == SEARCH_PRESS_OK ? LOGL_INFO : LOGL_WARN,
	    "action.share", "outcome=%s", search_press_str(r));
	if (r != SEARCH_PRESS_OK) {
		actions_search_answer(a, search_press_message(r));
		return;
	}
	/* render_shared() says "replace_original":false itself. */
	reply_json(&a->rp, json);
	free(json);
}

/* More: the next page, run as the presser (who owns the row), with its
 * own buttons. */
void
actions_more(struct action_req *a)
{
	struct search_page	 page;
	struct sf_error		 err;
	enum search_press	 r;
	enum session_result	 res;
	char			*text = NULL, *json = NULL, *with, line[300];
	size_t			 found = 0;

	r = search_more(a->s, &a->p.who, a->p.value, &page, &text);
	if (r != SEARCH_PRESS_OK) {
		log_event(LOGL_WARN, "action.more", "outcome=%s",
		    search_press_str(r));
		actions_search_answer(a, search_press_message(r));
		return;
	}
	res = search_run(a->s, &a->p.who, &page, &a->as, &json, &found,
	    &err);
	log_event(LOGL_INFO, "action.more", "outcome=%s kind=%s offset=%d "
	    "found=%zu error=%s iuser=%d", session_result_str(res),
	    sf_kind_str(page.kind), page.offset, found,
	    err.code[0] != '\0' ? err.code : "-", a->as.integration_user);
	free(text);
	if (res != SESSION_OK)
		json = resume_failure(res);
	else if (a->as.integration_user && a->as.username != NULL &&
	    page.kind != SF_KIND_OPPORTUNITY) {
		snprintf(line, sizeof(line), "Results from Salesforce as the "
		    "integration user %.200s", a->as.username);
		with = render_with_context(json, line);
		free(json);
		json = with;
	}
	actions_search_answer(a, json);
}

/*
 * resume: a search made before linking, answered after (issue 6).
 *
 * When an unlinked user's search made the login link, the search is kept
 * with it (store.h), and once the link is stored it is run with the new
 * tokens and its answer posted to the command's response_url, prefaced
 * as the answer to the earlier command.  Where the link is stored (the
 * OAuth callback, or /contact confirm in FORCELINK_LINK_PROOF=code mode)
 * decides when; this module decides whether and does it.
 */
#ifndef FORCELINK_RESUME_H
#define FORCELINK_RESUME_H

#include "page.h"
#include "session.h"
#include "store.h"

/*
 * What becomes of search now that the link is stored: nothing when there
 * was none (text NULL), too old when Slack would no longer take its
 * answer, dropped (PAGE_RESUME_NONE) when its response_url is outside
 * SLACK_RESPONSE_URL_PREFIX, else PAGE_RESUME_SENT: call resume_run().
 * Logged.
 */
enum page_resume resume_how(struct session *, const struct store_search *);

/*
 * resume_how() as it would decide now, for a link not stored yet (the
 * code page names the search the confirm will answer): not logged, and
 * decided again, by resume_how(), when the link is stored.
 */
enum page_resume resume_expect(struct session *,
		    const struct store_search *);

/*
 * What the login pages call search (borrowed; NULL when there is none):
 * its text, or for a Case form kept with the login (command "/case",
 * whose text is the form's opaque row key, not to be shown) the words
 * "/case: the Case you submitted".
 */
const char	*resume_shown(const struct store_search *search);

/* The answer to a resumed search that failed with res; NULL only on
 * memory exhaustion. */
char		*resume_failure(enum session_result res);

/*
 * Runs search with who's new link and posts the answer to its
 * response_url (which resume_how() allowed).  A search of command
 * "/case" is a Case form kept with the login (its text the form's row
 * key): the Case is created instead (casejob_resume).  Every failure is
 * logged and ends here.
 */
void		 resume_run(struct session *, const struct slack_user *who,
		    const struct store_search *search);

#endif

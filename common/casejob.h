/*
 * casejob: the work a submitted Case form leads to (issue 15), shared by
 * the form's submission (cgi/actions) and by a form kept with a login
 * and resumed once the person linked (resume.h).
 *
 * casejob_create() runs the one composite call that creates the Case
 * (session_case_create), moves the form's action row out of CREATING --
 * to CREATED, back to OPEN with Salesforce's refusal mapped onto the
 * inputs, or to WAITING with a new login link -- and shows the outcome:
 * views.update of the form's modal, and a message to the form's
 * response_url when asked for or when the modal could not be updated
 * (the person closed it).  It never creates twice: the caller has moved
 * the row to CREATING with a compare-and-set, and a Case that may exist
 * (Salesforce did not answer) is said to maybe exist.
 */
#ifndef FORCELINK_CASEJOB_H
#define FORCELINK_CASEJOB_H

#include "casefrm.h"
#include "session.h"
#include "store.h"

/* How long a Case form's row lives: longer than anybody keeps a modal
 * open. */
#define CASEJOB_ROW_TTL		(12 * 3600)

/*
 * The bot token to call Slack's Web API for who's workspace
 * (install_authorize, install_web_token): allocated (free with
 * crypto_free_secret), or NULL (logged) when there is none.
 */
char		*casejob_bot_token(struct session *, const struct slack_user *);

/*
 * Creates the Case of f, the form of who's row key, which the caller has
 * stepped to CASEFRM_CREATING, as *as says (session_mode), and shows the
 * outcome: in view view_id (may be NULL) with bot_token (may be NULL),
 * and at f->response_url when post is set or the view could not be
 * updated.  names (may be NULL) go with a login link.  Every failure is
 * logged and ends here.
 */
void		 casejob_create(struct session *, const struct slack_user *who,
		    struct session_as *as, const struct store_names *names,
		    const char *key, struct casefrm *f, const char *view_id,
		    const char *bot_token, int post);

/*
 * A form kept with a login (store_search.command "/case", text the row's
 * key), now that who has linked: the row in WAITING is stepped to
 * CREATING and casejob_create() runs, posting to the response_url too.
 * Returns 0, or -1 (logged) when there is no such form waiting.
 */
int		 casejob_resume(struct session *, const struct slack_user *who,
		    const char *key);

#endif

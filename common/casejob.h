/*
 * casejob: the work a submitted Case form leads to (issue 15), shared by
 * the form's submission (cgi/actions) and by a form kept with a login
 * and resumed once the person linked (resume.h).
 *
 * casejob_create() runs the one composite call that creates the Case
 * (session_case_create), moves the form's action row out of CREATING --
 * to CREATED (also when something of ours failed after Salesforce said
 * so), back to OPEN with Salesforce's refusal mapped onto the inputs, or
 * to WAITING with a new login link; or leaves it CREATING when
 * Salesforce's answer was lost (the Case may exist) -- and shows the
 * outcome: views.update of the form's modal, and a message to the form's
 * response_url when asked for or when the modal could not be updated
 * (the person closed it).  It never creates twice: the caller has moved
 * the row to CREATING with a compare-and-set, and a Case that may exist
 * (Salesforce did not answer) is said to maybe exist and its form is
 * never open again.
 */
#ifndef FORCELINK_CASEJOB_H
#define FORCELINK_CASEJOB_H

#include "casefrm.h"
#include "install.h"
#include "session.h"
#include "slackweb.h"
#include "store.h"

/* How long a Case form's row lives: longer than anybody keeps a modal
 * open. */
#define CASEJOB_ROW_TTL		(12 * 3600)
/* A form still CREATING this long after it was submitted was cut off
 * (its worker stopped): far longer than a create takes (a refresh and a
 * composite, each bounded by HTTP_TOTAL_MS). */
#define CASEJOB_STUCK_SECS	120

/*
 * Opens the Case form f for who at once: f's Priority values are the
 * ones cached for integration (sf_case_cache_get), else Salesforce's
 * standard ones; a row of f is made (its key into key), the view opened
 * with trigger_id and bot_token (no Salesforce call comes first: the
 * trigger lives 3 s), and the row bound to the view (*v: its id and
 * hash).  SLACKWEB_OK; Slack's refusal (the row is dropped again); or
 * SLACKWEB_ERROR for a failure of ours (logged).
 */
enum slackweb_result casejob_open(struct session *,
		    const struct slack_user *who, struct casefrm *f,
		    const char *integration, const char *trigger_id,
		    const char *bot_token, char key[STORE_ACTION_KEY_LEN + 1],
		    struct slackweb_view *v);

/* What to tell the person whose form casejob_open() could not open. */
const char	*casejob_open_message(enum slackweb_result);

/*
 * The bot token to open the form with (install_web_token, given what
 * install_gate() said of the workspace): INSTALL_OK with *token, or
 * another result (logged as event) with *why, what to tell the person
 * (none at all to use, or an installation to renew).
 */
enum install_result casejob_token(struct session *, enum install_auth,
		    const struct store_install_ref *, const char *event,
		    char **token, const char **why);

/*
 * After Slack has its answer to the form just opened (key, *v): reads
 * the Priority values from Salesforce as *as (a describe, usually a 304)
 * and, when they differ from those f offers or changed is set (f was
 * changed since: a permalink added), stores f in the row -- only while
 * it is OPEN -- and updates the view with v's hash, so that a view the
 * person submitted meanwhile is left alone.  Logged; nothing returned.
 */
void		 casejob_refresh(struct session *, const struct slack_user *who,
		    struct session_as *as, struct casefrm *f, const char *key,
		    const struct slackweb_view *v, const char *bot_token,
		    int changed);

/*
 * A login link for who (allocated into *url) that keeps form f, row key,
 * to be created once who has linked (store_search.command "/case", its
 * text the key, f's response_url: resume.h).  *kept says whether it
 * was kept (not without a response_url forcelink may post to).
 * Returns 0, or -1 (logged by the store).
 */
int		 casejob_login_url(struct session *, const struct slack_user *who,
		    const struct store_names *names, const char *key,
		    const struct casefrm *f, char **url, int *kept);

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

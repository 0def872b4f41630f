/*
 * casejob: creating a submitted Case form's Case and showing what came
 * of it (see casejob.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "casejob.h"
#include "crypto.h"
#include "http.h"
#include "install.h"
#include "log.h"
#include "render.h"
#include "slackweb.h"

char *
casejob_bot_token(struct session *s, const struct slack_user *who)
{
	struct store_install_ref ref;
	enum install_auth	 a;
	enum install_result	 r;
	char			*tok = NULL;

	memset(&ref, 0, sizeof(ref));
	a = install_authorize(s, who, &ref);
	if (a != INSTALL_AUTH_OK && a != INSTALL_AUTH_OPEN)
		return NULL;
	if ((r = install_web_token(s, a, &ref, &tok)) != INSTALL_OK) {
		log_event(LOGL_WARN, "case.token", "outcome=%s",
		    install_result_str(r));
		crypto_free_secret(tok);
		return NULL;
	}
	return tok;
}

int
casejob_login_url(struct session *s, const struct slack_user *who,
    const struct store_names *names, const char *key,
    const struct casefrm *f, char **url, int *kept)
{
	struct store_search	 keep;

	memset(&keep, 0, sizeof(keep));
	keep.text = (char *)key;
	keep.response_url = f->response_url;
	keep.command = (char *)"/case";
	return session_login_url_keep(s, who, names, &keep, url, kept) ==
	    SESSION_OK ? 0 : -1;
}

/* Why a login is needed again, for a session result that needs one;
 * NULL for a first login. */
static const char *
casejob_login_reason(enum session_result res)
{
	switch (res) {
	case SESSION_REVOKED:
		return "Your Salesforce session was revoked or expired.";
	case SESSION_RELINK:
		return "Salesforce no longer accepts your session.";
	case SESSION_MOVED:
		return "Your workspace now uses another Salesforce "
		    "integration.";
	default:
		return NULL;
	}
}

/* 1 when res is answered with a login link. */
static int
casejob_needs_login(enum session_result res)
{
	return res == SESSION_UNLINKED || res == SESSION_REVOKED ||
	    res == SESSION_RELINK || res == SESSION_MOVED;
}

/* What to say at the top of the form for a call that failed with res
 * (not a login). */
static const char *
casejob_failure(enum session_result res)
{
	switch (res) {
	case SESSION_REFUSED:
		return "Salesforce refused the request: your org may have "
		    "reached its API limit, or your user may not create "
		    "Cases. Nothing was created.";
	case SESSION_IUSER_REFUSED:
		return "Salesforce refused forcelink's integration user for "
		    "this workspace: your forcelink admin must fix the "
		    "integration. Nothing was created.";
	case SESSION_BADKEY:
		return "forcelink cannot read your saved Salesforce link "
		    "right now; please tell your admin. Nothing was created.";
	default:
		return "Something went wrong on our side, and the Case was "
		    "not created. Please try again in a minute.";
	}
}

/* What a create whose answer was lost says (SESSION_TRANSIENT): the
 * Case may exist, and the form cannot be submitted again. */
static const char casejob_unknown[] = "Salesforce did not answer in time, "
    "so forcelink cannot tell whether it created the Case. Look in "
    "Salesforce before you run /case again.";

/* Replaces view view_id with view.  Returns 1 when Slack took it. */
static int
casejob_show(struct session *s, const char *view_id, const char *token,
    const char *view)
{
	struct slackweb_error	 err;
	enum slackweb_result	 r;

	if (view_id == NULL || view_id[0] == '\0' || token == NULL ||
	    view == NULL)
		return 0;
	r = slackweb_views_update(s->http, s->cfg, token, view_id, NULL, view,
	    0, NULL, &err);
	log_event(r == SLACKWEB_OK ? LOGL_INFO : LOGL_WARN, "case.view",
	    "outcome=%s code=%s", slackweb_result_str(r),
	    err.code[0] != '\0' ? err.code : "-");
	return r == SLACKWEB_OK;
}

/* The note under a created Case: that it was made as the integration
 * user (as), and that its Account was one of several of that name. */
static int
casejob_note(struct casefrm *f, const struct sf_case_result *r,
    const struct session_as *as)
{
	char	*note = NULL;
	int	 rc;

	if (r->accounts < 2 && !as->integration_user)
		return 0;
	if (asprintf(&note, "%s%s%s%s%s%s%s",
	    as->integration_user ? "Created in Salesforce as the integration "
	    "user" : "", as->integration_user && as->username != NULL ? " " :
	    "", as->integration_user && as->username != NULL ? as->username :
	    "", as->integration_user ? ". " : "", r->accounts >= 2 ?
	    "More than one Salesforce account has that name: this Case is "
	    "on the one Salesforce listed first, " : "", r->accounts >= 2 ?
	    r->account_name : "", r->accounts >= 2 ? ". Change it in "
	    "Salesforce if that is not the right one." : "") == -1)
		return -1;
	rc = casefrm_set(&f->note, note);
	free(note);
	return rc;
}

void
casejob_create(struct session *s, const struct slack_user *who,
    struct session_as *as, const struct store_names *names, const char *key,
    struct casefrm *f, const char *view_id, const char *bot_token, int post)
{
	struct casefrm_problems	 pr;
	struct sf_case_result	 r;
	struct sf_case_new	 c;
	struct sf_error		 err;
	enum session_result	 res = SESSION_ERROR;
	enum store_result	 sr;
	enum casefrm_state	 to = CASEFRM_OPEN;
	char			*desc = NULL, *inst = NULL, *url = NULL;
	char			*data = NULL, *view = NULL, *msg = NULL;
	int			 kept = 0;

	memset(&pr, 0, sizeof(pr));
	memset(&r, 0, sizeof(r));
	if (casefrm_case(f, &c, &desc) == 0)
		res = session_case_create(s, who, &c, &r, &inst, &err, as);
	log_event(LOGL_INFO, "case.create", "outcome=%s created=%d errors=%zu "
	    "first=%s integration=\"%s\" iuser=%d", session_result_str(res),
	    r.created, r.nerr, r.nerr > 0 ? r.err[0].code : "-",
	    as->integration, as->integration_user);
	/* Created is created, whatever failed after Salesforce answered
	 * (the copy of the instance URL): the form must never open again
	 * for a second Case.  Without the instance it has no link to show
	 * (the views fail, and are not shown). */
	if (r.created) {
		to = CASEFRM_CREATED;
		if (casefrm_set(&f->case_id, r.id) == -1 ||
		    casefrm_set(&f->case_number, r.number) == -1 ||
		    casefrm_set(&f->instance_url, inst) == -1 ||
		    casejob_note(f, &r, as) == -1)
			goto out;
		view = casefrm_view_created(f, key);
		msg = casefrm_message_created(f);
	} else if (res == SESSION_OK) {
		casefrm_map(&r, f->account, &pr);
		view = casefrm_view_form(f, key, &pr);
		msg = casefrm_message_problems(&pr);
	} else if (res == SESSION_TRANSIENT) {
		/*
		 * The request may have reached Salesforce and the Case exist
		 * (the answer was lost or late): the row stays CREATING with
		 * its time, so that no submission of this form creates it
		 * again (a late one is told what case_answer_state tells),
		 * and the form gives way to a note without a submit button.
		 */
		to = CASEFRM_CREATING;
		view = casefrm_view_note(key, casejob_unknown);
		msg = render_message(casejob_unknown);
	} else if (casejob_needs_login(res)) {
		to = CASEFRM_WAITING;
		if (casejob_login_url(s, who, names, key, f, &url, &kept) ==
		    -1)
			goto out;
		view = casefrm_view_login(key, url, casejob_login_reason(res),
		    kept);
		msg = render_login(url, casejob_login_reason(res));
	} else {
		snprintf(pr.top, sizeof(pr.top), "%s", casejob_failure(res));
		view = casefrm_view_form(f, key, &pr);
		msg = casefrm_message_problems(&pr);
	}
	if (to != CASEFRM_CREATING) {
		f->creating_at = 0;
		if ((data = casefrm_data(f)) == NULL)
			goto out;
		sr = store_action_step(s->st, who, key, CASEFRM_CREATING, to,
		    data, time(NULL));
		if (sr != STORE_OK)
			log_event(LOGL_WARN, "case.row", "outcome=%s to=%d",
			    store_result_str(sr), (int)to);
	}
	if (!casejob_show(s, view_id, bot_token, view) || post)
		(void)session_response_post(s, f->response_url, msg,
		    "case.post");
out:
	if (data == NULL && to != CASEFRM_CREATING)
		log_error("msg=\"out of memory: the Case form's outcome is "
		    "not shown\"");
	free(desc);
	free(inst);
	free(url);
	crypto_free_secret(data);
	free(view);
	free(msg);
}

int
casejob_resume(struct session *s, const struct slack_user *who,
    const char *key)
{
	struct store_action	 row;
	struct session_as	 as;
	struct casefrm		 f;
	enum store_result	 sr;
	char			*tok = NULL, *data = NULL;
	int			 rc = -1;

	memset(&row, 0, sizeof(row));
	memset(&as, 0, sizeof(as));
	casefrm_init(&f);
	sr = store_action_get(s->st, who, STORE_ACTION_CASE, key, time(NULL),
	    &row);
	if (sr != STORE_OK || row.state != CASEFRM_WAITING ||
	    casefrm_load(row.data, &f) == -1) {
		log_event(LOGL_WARN, "case.resume", "outcome=%s state=%d",
		    sr == STORE_OK ? "not_waiting" : store_result_str(sr),
		    sr == STORE_OK ? row.state : -1);
		goto out;
	}
	f.creating_at = (long long)time(NULL);
	if ((data = casefrm_data(&f)) == NULL)
		goto out;
	sr = store_action_step(s->st, who, key, CASEFRM_WAITING,
	    CASEFRM_CREATING, data, time(NULL));
	if (sr != STORE_OK) {
		log_event(LOGL_INFO, "case.resume", "outcome=%s",
		    store_result_str(sr));
		goto out;
	}
	if (session_mode(s, who, &as) != SESSION_OK)
		log_event(LOGL_WARN, "case.resume", "outcome=mode_unknown");
	tok = casejob_bot_token(s, who);
	casejob_create(s, who, &as, NULL, key, &f, row.view_id, tok, 1);
	rc = 0;
out:
	crypto_free_secret(tok);
	crypto_free_secret(data);
	session_as_free(&as);
	casefrm_free(&f);
	store_action_free(&row);
	return rc;
}

enum slackweb_result
casejob_open(struct session *s, const struct slack_user *who,
    struct casefrm *f, const char *integration, const char *trigger_id,
    const char *bot_token, char key[STORE_ACTION_KEY_LEN + 1],
    struct slackweb_view *v)
{
	struct slackweb_error	 werr;
	enum slackweb_result	 wr = SLACKWEB_ERROR;
	enum store_result	 sr;
	char			*data = NULL, *view = NULL;

	key[0] = '\0';
	if (sf_case_cache_get(integration, &f->pri) == -1)
		sf_case_standard(&f->pri);
	if ((data = casefrm_data(f)) == NULL)
		goto out;
	sr = store_action_put(s->st, who, STORE_ACTION_CASE, data,
	    time(NULL) + CASEJOB_ROW_TTL, key);
	if (sr != STORE_OK) {
		log_event(LOGL_ERR, "case.open", "outcome=store store=%s",
		    store_result_str(sr));
		goto out;
	}
	if ((view = casefrm_view_form(f, key, NULL)) == NULL)
		goto drop;
	wr = slackweb_views_open(s->http, s->cfg, bot_token, trigger_id, view,
	    0, v, &werr);
	log_event(wr == SLACKWEB_OK ? LOGL_INFO : LOGL_WARN, "case.open",
	    "outcome=%s code=%s", slackweb_result_str(wr),
	    werr.code[0] != '\0' ? werr.code : "-");
	if (wr != SLACKWEB_OK)
		goto drop;
	/* Unbound, a submission could not be told from a forged one. */
	if ((sr = store_action_view(s->st, who, key, v->id, time(NULL))) ==
	    STORE_OK)
		goto out;
	log_event(LOGL_ERR, "case.open", "outcome=unbound store=%s",
	    store_result_str(sr));
	free(view);
	view = casefrm_view_note("", "forcelink could not keep this form. "
	    "Please close it and try again in a minute.");
	(void)casejob_show(s, v->id, bot_token, view);
	wr = SLACKWEB_ERROR;
drop:
	(void)store_action_drop(s->st, who, key);
out:
	crypto_free_secret(data);
	free(view);
	return wr;
}

const char *
casejob_open_message(enum slackweb_result r)
{
	switch (r) {
	case SLACKWEB_TRIGGER_EXPIRED:
	case SLACKWEB_TRIGGER_INVALID:
		return "Slack gave forcelink too little time to open the Case "
		    "form. Please try again (or type `/case subject: "
		    "details`).";
	case SLACKWEB_RATELIMITED:
		return "Slack is asking forcelink to slow down, so the Case "
		    "form did not open. Please try again in a minute (or "
		    "type `/case subject: details`).";
	case SLACKWEB_ERROR:
		return "Something went wrong on our side, and the Case form "
		    "did not open. Please try again in a minute.";
	default:
		return slackweb_result_message(r);
	}
}

enum install_result
casejob_token(struct session *s, enum install_auth auth,
    const struct store_install_ref *ref, const char *event, char **token,
    const char **why)
{
	enum install_result	 ir;

	*token = NULL;
	*why = NULL;
	if ((ir = install_web_token(s, auth, ref, token)) == INSTALL_OK)
		return ir;
	*token = NULL;
	log_event(LOGL_WARN, event, "outcome=no_token token=%s",
	    install_result_str(ir));
	*why = ir == INSTALL_NOTFOUND ? "forcelink has no Slack bot token to "
	    "open the Case form with: ask your admin to install the app (or "
	    "set SLACK_BOT_TOKEN)." : "forcelink's Slack installation needs "
	    "to be renewed: ask your admin to install the app again.";
	return ir;
}

void
casejob_refresh(struct session *s, const struct slack_user *who,
    struct session_as *as, struct casefrm *f, const char *key,
    const struct slackweb_view *v, const char *bot_token, int changed)
{
	struct sf_case_picklist	 fresh;
	struct slackweb_error	 werr;
	enum slackweb_result	 wr;
	enum session_result	 res;
	enum store_result	 sr;
	char			*data = NULL, *view = NULL;

	res = session_case_priorities(s, who, &fresh, NULL, as);
	if (res == SESSION_OK && !sf_case_picklist_same(&fresh, &f->pri)) {
		f->pri = fresh;
		changed = 1;
	}
	log_event(LOGL_INFO, "case.refresh", "priorities=%s changed=%d",
	    session_result_str(res), changed);
	if (!changed)
		return;
	if ((data = casefrm_data(f)) == NULL ||
	    (view = casefrm_view_form(f, key, NULL)) == NULL) {
		log_error("msg=\"out of memory: the Case form is not "
		    "refreshed\"");
		goto out;
	}
	sr = store_action_step(s->st, who, key, CASEFRM_OPEN, CASEFRM_OPEN,
	    data, time(NULL));
	if (sr != STORE_OK) {
		log_event(LOGL_INFO, "case.refresh", "outcome=%s",
		    store_result_str(sr));
		goto out;
	}
	wr = slackweb_views_update(s->http, s->cfg, bot_token, v->id, v->hash,
	    view, 0, NULL, &werr);
	log_event(wr == SLACKWEB_OK ? LOGL_INFO : LOGL_WARN, "case.refresh",
	    "outcome=%s code=%s", slackweb_result_str(wr),
	    werr.code[0] != '\0' ? werr.code : "-");
out:
	crypto_free_secret(data);
	free(view);
}

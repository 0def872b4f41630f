/*
 * actions_case: the Case form's interactivity (issue 15): its
 * submission, its closing, and the message shortcut "Create Case from
 * this message" that opens it (see casefrm.h for the form and its row,
 * casejob.h for the work after a submission).
 *
 * A submission is trusted for nothing but its values: its
 * private_metadata must be the key of a Case form row of the submitting
 * user, bound to the very view submitted; anything else (a forged key,
 * another person's, an expired one) is refused with a view that says
 * so, and no Salesforce call is made.  The row's compare-and-set state
 * makes a second submission of a view (Slack retries one it did not see
 * answered in 3 s) find CREATING or CREATED, so one view creates at
 * most one Case.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actions.h"
#include "casejob.h"
#include "crypto.h"
#include "log.h"
#include "slackweb.h"

/* What Slack gets when a submission is not answered in time: the form
 * stays, and pressing Create again is safe (the row's state decides). */
static const char case_slow[] = "{\"response_action\":\"errors\","
    "\"errors\":{\"case_subject\":\"forcelink is slow right now: please "
    "press Create again.\"}}";

/* The submission's answer: view (may be NULL: the apology) in its
 * place. */
static void
case_update(struct action_req *a, const char *view)
{
	char	*body;

	if (view == NULL || (body = casefrm_update_response(view)) == NULL) {
		/* An empty answer would close the form: an error keeps it. */
		reply_raw(&a->rp, "{\"response_action\":\"errors\",\"errors\":"
		    "{\"case_subject\":\"Something went wrong on our side. "
		    "Please try again in a minute.\"}}");
		return;
	}
	reply_raw(&a->rp, body);
	free(body);
}

/* The submission's answer: a note in place of the form. */
static void
case_note(struct action_req *a, const char *text)
{
	char	*view;

	view = casefrm_view_note("", text);
	case_update(a, view);
	free(view);
}

/* What a row that cannot be used is told (the key is never echoed). */
static void
case_refuse(struct action_req *a, enum store_result sr, const char *why)
{
	log_event(LOGL_WARN, "case.submit", "outcome=refused why=%s",
	    why != NULL ? why : store_result_str(sr));
	switch (sr) {
	case STORE_EXPIRED:
		case_note(a, "This Case form has expired. Close it and run "
		    "/case again.");
		break;
	case STORE_NOTFOUND:
	case STORE_MISMATCH:
	case STORE_CONFLICT:
		case_note(a, "forcelink does not know this Case form, or it is "
		    "not yours: nothing was created. Close it and run /case "
		    "again.");
		break;
	default:
		case_note(a, "Something went wrong on our side, and nothing "
		    "was created. Please try again in a minute.");
		break;
	}
}

/* The modal with a login link that resumes f's form (row key) once
 * who has linked; NULL on failure (logged). */
static char *
case_login_view(struct action_req *a, const struct casefrm *f,
    const char *key)
{
	struct store_names	 names;
	char			*url = NULL, *view = NULL;
	int			 kept = 0;

	memset(&names, 0, sizeof(names));
	snprintf(names.team_domain, sizeof(names.team_domain), "%s",
	    a->p.team_domain);
	snprintf(names.user_name, sizeof(names.user_name), "%s",
	    a->p.user_name);
	if (casejob_login_url(a->s, &a->p.who, &names, key, f, &url,
	    &kept) == 0)
		view = casefrm_view_login(key, url, NULL, kept);
	log_event(LOGL_INFO, "case.login", "kept=%d outcome=%s", kept,
	    view != NULL ? "ok" : "error");
	free(url);
	return view;
}

/* The answer for a row past OPEN: what it came to, never a new Case. */
static void
case_answer_state(struct action_req *a, const struct store_action *row,
    const struct casefrm *f, const char *key)
{
	char	*view = NULL;

	log_event(LOGL_INFO, "case.submit", "outcome=again state=%d",
	    row->state);
	if (row->state == CASEFRM_CREATED)
		view = casefrm_view_created(f, key);
	else if (row->state == CASEFRM_WAITING)
		view = case_login_view(a, f, key);
	else if (f->creating_at != 0 && (long long)time(NULL) -
	    f->creating_at > CASEJOB_STUCK_SECS)
		view = casefrm_view_note(key, "forcelink stopped while it was "
		    "creating this Case, and cannot tell whether Salesforce "
		    "created it. Look in Salesforce before you run /case "
		    "again.");
	else
		view = casefrm_view_note(key, "Creating your Case in "
		    "Salesforce…");
	case_update(a, view);
	free(view);
}

/* Another submission of this view moved its row first: the answer is
 * what it came to, read again. */
static void
case_again(struct action_req *a, const char *key)
{
	struct store_action	 row;
	struct casefrm		 f;
	enum store_result	 sr;

	memset(&row, 0, sizeof(row));
	casefrm_init(&f);
	sr = store_action_get(a->s->st, &a->p.who, STORE_ACTION_CASE, key,
	    time(NULL), &row);
	if (sr != STORE_OK || casefrm_load(row.data, &f) == -1)
		case_refuse(a, sr == STORE_OK ? STORE_ERROR : sr, "again");
	else
		case_answer_state(a, &row, &f, key);
	casefrm_free(&f);
	store_action_free(&row);
}

/* 1 when who has no link (and the workspace is not in integration-user
 * mode): the login link comes first, without asking Salesforce. */
static int
case_unlinked(struct action_req *a)
{
	struct store_link	 link;
	enum store_result	 sr;

	if (a->as.integration_user)
		return 0;
	memset(&link, 0, sizeof(link));
	sr = store_link_get(a->s->st, &a->p.who, &link);
	store_link_free(&link);
	return sr == STORE_NOTFOUND;
}

/* An unlinked person's submission: the form is kept (WAITING) and the
 * modal shows a login link that resumes it. */
static void
case_login(struct action_req *a, struct casefrm *f, const char *key)
{
	enum store_result	 sr;
	char			*data = NULL, *view = NULL;

	if ((data = casefrm_data(f)) == NULL) {
		case_update(a, NULL);
		return;
	}
	sr = store_action_step(a->s->st, &a->p.who, key, CASEFRM_OPEN,
	    CASEFRM_WAITING, data, time(NULL));
	crypto_free_secret(data);
	log_event(LOGL_INFO, "case.submit", "outcome=login row=%s",
	    store_result_str(sr));
	if (sr == STORE_CONFLICT) {
		case_again(a, key);
		return;
	}
	if (sr == STORE_OK)
		view = case_login_view(a, f, key);
	case_update(a, view);
	free(view);
}

/*
 * The submitting user's form row for this view, opened into *f.
 * Returns 0, or -1 once the submission is answered: another user's or
 * another view's row, an expired one, or a form no longer open (a
 * second submission).
 */
static int
case_row(struct action_req *a, const char *key, struct store_action *row,
    struct casefrm *f)
{
	enum store_result	 sr;

	sr = store_action_get(a->s->st, &a->p.who, STORE_ACTION_CASE, key,
	    time(NULL), row);
	if (sr != STORE_OK) {
		case_refuse(a, sr, NULL);
		return -1;
	}
	/* A key of the same person's other form is not this view's. */
	if (strcmp(row->view_id, a->p.view_id) != 0) {
		case_refuse(a, STORE_MISMATCH, "other_view");
		return -1;
	}
	if (casefrm_load(row->data, f) == -1) {
		case_refuse(a, STORE_ERROR, "data");
		return -1;
	}
	if (row->state != CASEFRM_OPEN) {
		case_answer_state(a, row, f, key);
		return -1;
	}
	return 0;
}

/* Reads the form's inputs into f and checks them here; returns 0, or -1
 * once answered (Slack shows the problems under their inputs). */
static int
case_inputs(struct action_req *a, struct casefrm *f)
{
	struct casefrm_problems	 pr;
	const char		*v[CASEFRM__NBLOCKS];
	char			*body;
	size_t			 i;
	int			 n;

	for (i = 0; i < CASEFRM__NBLOCKS; i++)
		v[i] = payload_input(&a->p, casefrm_block_id(i),
		    casefrm_action_id(i));
	if ((n = casefrm_read(f, v, &pr)) == 0)
		return 0;
	log_event(LOGL_INFO, "case.submit", "outcome=%s problems=%d",
	    n < 0 ? "nomem" : "invalid", n);
	body = n > 0 ? casefrm_errors_response(&pr) : NULL;
	if (body != NULL)
		reply_raw(&a->rp, body);
	else
		case_update(a, NULL);
	free(body);
	return -1;
}

/*
 * Moves the row from OPEN to CREATING with f's data and answers the
 * modal "Creating…".  Of two submissions of this view, exactly one gets
 * 0; the other, and any failure, -1 once answered.
 */
static int
case_claim(struct action_req *a, const char *key, struct casefrm *f)
{
	enum store_result	 sr;
	char			*data = NULL, *view = NULL, *body = NULL;
	int			 rc = -1;

	f->creating_at = (long long)time(NULL);
	if ((data = casefrm_data(f)) == NULL ||
	    (view = casefrm_view_note(key, "Creating your Case in "
	    "Salesforce…")) == NULL ||
	    (body = casefrm_update_response(view)) == NULL) {
		case_update(a, NULL);
		goto out;
	}
	sr = store_action_step(a->s->st, &a->p.who, key, CASEFRM_OPEN,
	    CASEFRM_CREATING, data, time(NULL));
	if (sr == STORE_CONFLICT)
		case_again(a, key);
	else if (sr != STORE_OK) {
		log_event(LOGL_ERR, "case.submit", "outcome=row row=%s",
		    store_result_str(sr));
		case_update(a, NULL);
	} else {
		reply_raw(&a->rp, body);
		rc = 0;
	}
out:
	crypto_free_secret(data);
	free(view);
	free(body);
	return rc;
}

/* view_submission "case": the row, the checks, the login first for the
 * unlinked, the claim, then the Case created after the answer. */
void
actions_case_submit(struct action_req *a)
{
	struct store_action	 row;
	struct casefrm		 f;
	const char		*key = a->p.private_metadata;
	char			*tok = NULL;

	memset(&row, 0, sizeof(row));
	casefrm_init(&f);
	reply_later_raw(&a->rp, case_slow);
	if (case_row(a, key, &row, &f) == -1 || case_inputs(a, &f) == -1)
		goto out;
	if (case_unlinked(a)) {
		case_login(a, &f, key);
		goto out;
	}
	if (case_claim(a, key, &f) == -1)
		goto out;
	reply_finish(&a->rp);
	if (install_web_token(a->s, a->auth, &a->ref, &tok) != INSTALL_OK)
		tok = NULL;
	casejob_create(a->s, &a->p.who, &a->as, NULL, key, &f, row.view_id,
	    tok, 0);
out:
	crypto_free_secret(tok);
	casefrm_free(&f);
	store_action_free(&row);
}

/* view_closed "case": a form closed unsubmitted is forgotten (a row
 * creating, created or waiting for a login is kept: its work goes on). */
void
actions_case_closed(struct action_req *a)
{
	struct store_action	 row;
	enum store_result	 sr;
	const char		*key = a->p.private_metadata;

	memset(&row, 0, sizeof(row));
	reply_raw(&a->rp, "");
	sr = store_action_get(a->s->st, &a->p.who, STORE_ACTION_CASE,
	    key != NULL ? key : "", time(NULL), &row);
	if (sr == STORE_OK && row.state == CASEFRM_OPEN &&
	    strcmp(row.view_id, a->p.view_id) == 0)
		sr = store_action_drop(a->s->st, &a->p.who, key);
	log_event(LOGL_INFO, "case.closed", "outcome=%s state=%d",
	    store_result_str(sr), row.state);
	store_action_free(&row);
}

/* The shortcut's message's link (chat.getPermalink) into f; returns 1
 * when f has it (the form is then updated to say so), else 0. */
static int
case_permalink(struct action_req *a, const char *tok, struct casefrm *f)
{
	struct slackweb_error	 werr;
	enum slackweb_result	 wr;
	char			*link = NULL;

	wr = slackweb_permalink(a->s->http, a->s->cfg, tok, a->p.channel_id,
	    a->p.message_ts, 0, &link, &werr);
	log_event(wr == SLACKWEB_OK ? LOGL_INFO : LOGL_WARN, "case.permalink",
	    "outcome=%s code=%s", slackweb_result_str(wr),
	    werr.code[0] != '\0' ? werr.code : "-");
	if (wr == SLACKWEB_OK && casefrm_set(&f->permalink, link) == -1)
		wr = SLACKWEB_ERROR;
	free(link);
	return wr == SLACKWEB_OK;
}

/*
 * message_action "create_case" (acknowledged already): the form opens
 * at once with the message's first line as the subject and its text as
 * the description (Slack's markup made plain); the message's permalink
 * is asked for after, and added (shown in the form, appended to the
 * description when the Case is created).
 */
void
actions_case_shortcut(struct action_req *a)
{
	struct slackweb_view	 v;
	struct casefrm		 f;
	enum slackweb_result	 wr;
	const char		*why;
	char			 key[STORE_ACTION_KEY_LEN + 1];
	char			*tok = NULL;

	casefrm_init(&f);
	if (casejob_token(a->s, a->auth, &a->ref, "case.shortcut", &tok,
	    &why) != INSTALL_OK) {
		reply_message(&a->rp, why);
		goto out;
	}
	if (casefrm_from_message(&f, a->p.message_text != NULL ?
	    a->p.message_text : "") == -1 ||
	    casefrm_set(&f.response_url, a->p.response_url) == -1) {
		reply_message(&a->rp, REPLY_SORRY);
		goto out;
	}
	wr = casejob_open(a->s, &a->p.who, &f, a->as.integration,
	    a->p.trigger_id, tok, key, &v);
	log_event(wr == SLACKWEB_OK ? LOGL_INFO : LOGL_WARN, "case.shortcut",
	    "outcome=%s", slackweb_result_str(wr));
	if (wr != SLACKWEB_OK) {
		reply_message(&a->rp, casejob_open_message(wr));
		goto out;
	}
	reply_finish(&a->rp);
	casejob_refresh(a->s, &a->p.who, &a->as, &f, key, &v, tok,
	    case_permalink(a, tok, &f));
out:
	crypto_free_secret(tok);
	casefrm_free(&f);
}

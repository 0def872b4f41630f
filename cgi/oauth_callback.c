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
#include "proof.h"
#include "render.h"
#include "req.h"
#include "resume.h"
#include "slackapi.h"

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

/* The browser's forcelink_oauth cookie into cookie (wipe it).  0, or
 * -1 when there is none. */
static int
callback_cookie(FCGX_Request *r, char cookie[CRYPTO_TOKEN_MAX + 1])
{
	const char	*hdr;

	hdr = req_param(r, "HTTP_COOKIE");
	return hdr == NULL || form_cookie(hdr, SESSION_COOKIE, cookie,
	    CRYPTO_TOKEN_MAX + 1) == -1 ? -1 : 0;
}

/*
 * Reads and checks the state of leg and its cookie and consumes the
 * state; search NULL leaves the search on the row.  Returns STORE_OK
 * with *who and *verifier.
 *
 * A state that arrives without its cookie (none, or another login's) is
 * burnt: the answer from Salesforce or Slack reached a browser that did
 * not start this login, so its address has left the person who did.  Kept
 * usable, it could be handed back to the browser that has the cookie and
 * finish there, linking whoever logged in elsewhere.
 */
static enum store_result
callback_take_state(FCGX_Request *r, struct session *s, enum store_leg leg,
    const unsigned char state_h[CRYPTO_HASHLEN], struct slack_user *who,
    char **verifier, struct store_search *search)
{
	unsigned char		 cookie_h[CRYPTO_HASHLEN];
	char			 cookie[CRYPTO_TOKEN_MAX + 1];
	enum store_result	 sr;

	*verifier = NULL;
	if (callback_cookie(r, cookie) == -1)
		sr = STORE_MISMATCH;
	else {
		crypto_sha256(cookie, cookie_h);
		crypto_wipe(cookie, sizeof(cookie));
		sr = store_state_take_leg(s->st, leg, state_h, cookie_h,
		    time(NULL), who, verifier, search);
	}
	if (sr == STORE_MISMATCH && store_state_burn(s->st, state_h,
	    time(NULL)) == STORE_OK)
		log_event(LOGL_WARN, "oauth.callback", "outcome=burnt "
		    "why=\"state without its cookie\"");
	return sr;
}

/* One callback: the validated query, and what the handlers found. */
struct callback {
	FCGX_Request		*fcgi;
	struct session		*s;
	struct form		 f;
	const char		*val[CALLBACK__MAX];	/* f's field map */
	struct buf		 page;
	unsigned char		 state_h[CRYPTO_HASHLEN];
	struct slack_user	 who;
	struct store_names	 names;
	struct store_search	 search;
	enum page_resume	 how;
};

/* The page for Salesforce's error= (the person said no, or it failed). */
static void
callback_sf_error(struct callback *c, const char *err, enum store_result sr)
{
	log_event(LOGL_INFO, "oauth.callback", "outcome=sf_error error=%s "
	    "state=%s", err, store_result_str(sr));
	if (strcmp(err, "access_denied") == 0)
		page_error_next(&c->page, 400, "Login cancelled", "You did not "
		    "allow forcelink to use your Salesforce account, so nothing "
		    "was linked.", "If you change your mind, run `/contact "
		    "login` in Slack and choose Allow.");
	else
		page_error_next(&c->page, 400, "Salesforce reported a problem",
		    "Salesforce could not complete the login, so nothing was "
		    "linked.", "Run `/contact login` in Slack to try again.");
}

/* The page for a grant the email proof refused: why, without either
 * email address. */
static void
callback_email_fail(struct buf *b, enum proof_email pe)
{
	const char	*next = "Log in to Salesforce as your own user: run "
	    "`/contact login` in Slack and open the new link.";

	switch (pe) {
	case PROOF_EMAIL_SF_NONE:
		page_error_next(b, 403, "Email not verified", "This Salesforce "
		    "user has no verified email address, so forcelink cannot "
		    "check that it is yours, and nothing was linked.", next);
		break;
	case PROOF_EMAIL_SLACK_NONE:
		page_error_next(b, 403, "No email from Slack", "forcelink "
		    "cannot read a confirmed email address of your Slack "
		    "user, so it cannot check that this Salesforce user is "
		    "yours, and nothing was linked.", "Tell your forcelink "
		    "admin: the email check needs a Slack bot token with the "
		    "users:read and users:read.email scopes.");
		break;
	case PROOF_EMAIL_DIFFERENT:
		page_error_next(b, 403, "Not your Salesforce user", "The email "
		    "address of this Salesforce user is not the one of your "
		    "Slack profile, so nothing was linked.", next);
		break;
	default:
		page_error_next(b, 502, "Slack did not answer", "forcelink "
		    "could not read your Slack profile just now, so nothing "
		    "was linked.", "Wait a minute, then run `/contact login` "
		    "in Slack to try again. If this keeps happening, tell "
		    "your forcelink admin.");
		break;
	}
}

/* The email proof: 0 when it passed; -1 when it refused the grant,
 * which is then revoked, its login void and the page says why. */
static int
callback_email(struct callback *c, struct session_grant *g)
{
	enum proof_email	 pe;

	if ((pe = proof_email(c->s, &c->who, g)) == PROOF_EMAIL_SAME)
		return 0;
	(void)session_grant_revoke(c->s, &c->who, g->link.org,
	    g->link.refresh_token, "email_refused");
	(void)store_state_void(c->s->st, c->state_h, time(NULL));
	callback_email_fail(&c->page, pe);
	return -1;
}

/*
 * Code mode: the verified grant waits on the login's row for its code,
 * which the page shows, with the search the confirm will answer (a
 * read-only look: the confirm takes it).  A grant that cannot wait is
 * revoked.
 */
static void
callback_hold(struct callback *c, struct session_grant *g,
    const struct page_who *pw)
{
	struct store_search	 search;
	char			 code[CRYPTO_CODE_MAX];

	memset(&search, 0, sizeof(search));
	if (proof_hold(c->s, c->state_h, &g->link, code) != SESSION_OK) {
		(void)session_grant_revoke(c->s, &c->who, g->link.org,
		    g->link.refresh_token, "not_stored");
		callback_link_fail(&c->page, SESSION_ERROR);
		return;
	}
	/* Without it the page only says less. */
	(void)store_search_peek(c->s->st, c->state_h, &search);
	page_code_resume(&c->page, g->link.sf_username, g->link.sf_org_id,
	    g->link.instance_url, pw, code, resume_shown(&search),
	    resume_expect(c->s, &search));
	crypto_wipe(code, sizeof(code));
	store_search_free(&search);
}

/*
 * The grant is verified and every other proof passed: in code mode it
 * waits for its code (the page shows it), else it is stored now (and the
 * search kept with the login is answered once the page is out).
 */
static void
callback_finish(struct callback *c, struct session_grant *g)
{
	struct session_linked	 linked;
	struct page_who		 pw = { c->who.team_id, c->who.user_id,
	    c->names.team_domain, c->names.user_name };

	memset(&linked, 0, sizeof(linked));
	if ((c->s->cfg->link_proof & CONFIG_PROOF_EMAIL) &&
	    callback_email(c, g) == -1)
		return;
	if (c->s->cfg->link_proof & CONFIG_PROOF_CODE) {
		callback_hold(c, g, &pw);
		return;
	}
	if (session_grant_store(c->s, &c->who, &g->link, &linked) !=
	    SESSION_OK) {
		(void)session_grant_revoke(c->s, &c->who, g->link.org,
		    g->link.refresh_token, "not_stored");
		callback_link_fail(&c->page, SESSION_ERROR);
		return;
	}
	if ((c->how = resume_how(c->s, &c->search)) == PAGE_RESUME_NONE)
		store_search_free(&c->search);
	page_linked_who(&c->page, linked.sf_username, linked.sf_org_id,
	    linked.instance_url, &pw, resume_shown(&c->search), c->how);
	session_linked_free(&linked);
}

/* --- Sign in with Slack (FORCELINK_LINK_PROOF=slack) ------------------ */

/* The page for Slack's error= (the person cancelled, or it failed). */
static void
callback_slack_error(struct callback *c, const char *err)
{
	log_event(LOGL_INFO, "oauth.callback", "outcome=slack_error "
	    "error=%s", err);
	if (strcmp(err, "access_denied") == 0)
		page_error_next(&c->page, 400, "Sign in cancelled", "You did "
		    "not sign in with Slack, so nothing was linked.", "If you "
		    "change your mind, run `/contact login` in Slack and sign "
		    "in as yourself.");
	else
		page_error_next(&c->page, 400, "Slack reported a problem",
		    "Slack could not complete the sign-in, so nothing was "
		    "linked.", "Run `/contact login` in Slack to try again.");
}

/* The page for a Sign in with Slack whose code Slack did not honour. */
static void
callback_slack_fail(struct buf *b, enum slackapi_result sl)
{
	if (sl == SLACKAPI_TRANSIENT)
		page_error_next(b, 502, "Slack did not answer", "Slack could "
		    "not be reached just now, so nothing was linked.", "Wait "
		    "a minute, then run `/contact login` in Slack to try "
		    "again.");
	else
		page_error_next(b, 502, "Slack refused the sign-in", "Slack "
		    "did not confirm who signed in, so nothing was linked.",
		    "Run `/contact login` in Slack to try again. If this keeps "
		    "happening, tell your forcelink admin.");
}

/* Whether Slack's signed-in user is who: the same workspace and user,
 * and the same enterprise when Slack names one. */
static int
callback_same_slack_user(const struct slack_user *who,
    const struct slackapi_oidc_user *u)
{
	return strcmp(u->team_id, who->team_id) == 0 &&
	    strcmp(u->user_id, who->user_id) == 0 &&
	    (u->enterprise_id == NULL ||
	    strcmp(u->enterprise_id, who->enterprise_id) == 0);
}

/* Someone else signed in with Slack: the login is void, and the page
 * says whom the link was made for (by name, as the start page did). */
static void
callback_slack_other(struct callback *c)
{
	char	 msg[1024];

	log_event(LOGL_WARN, "oauth.callback", "outcome=other_slack_user");
	(void)store_state_void(c->s->st, c->state_h, time(NULL));
	snprintf(msg, sizeof(msg), "This login link was made for another "
	    "Slack user (@%s in %s), so nothing was linked.",
	    *c->names.user_name != '\0' ? c->names.user_name : c->who.user_id,
	    *c->names.team_domain != '\0' ? c->names.team_domain :
	    c->who.team_id);
	page_error_next(&c->page, 403, "Signed in as another Slack user", msg,
	    "To link your own Salesforce account, run `/contact login` in "
	    "Slack yourself and open the link it gives you.");
}

/*
 * Sign in with Slack proved who is in the browser: the row is handed on
 * to the Salesforce login with a fresh state and PKCE verifier, under
 * the same cookie, and the browser goes on to Salesforce.
 *
 * The cookie is set again (the same value) with the redirect: /oauth/start
 * gave it SESSION_STATE_TTL seconds for the whole login, and a person who
 * took most of them at Slack would come back from Salesforce without it.
 * Now the Salesforce login has SESSION_STATE_TTL seconds from here, in
 * the browser as on the row (one now for both).
 */
static void
callback_slack_hand_on(struct callback *c)
{
	char		 state[CRYPTO_TOKEN_MAX], verifier[CRYPTO_TOKEN_MAX];
	char		 cookie[CRYPTO_TOKEN_MAX + 1], header[1024];
	unsigned char	 state_h[CRYPTO_HASHLEN];
	char		*url = NULL;
	time_t		 now = time(NULL);

	memset(cookie, 0, sizeof(cookie));
	memset(header, 0, sizeof(header));
	crypto_random_token(state, 32);
	crypto_random_token(verifier, 32);
	crypto_sha256(state, state_h);
	/* The state was just taken with this cookie: it is there. */
	if (callback_cookie(c->fcgi, cookie) == -1 ||
	    store_state_advance(c->s->st, c->state_h, state_h, verifier,
	    now + SESSION_STATE_TTL) != STORE_OK) {
		(void)store_state_void(c->s->st, c->state_h, now);
		callback_state_fail(&c->page, STORE_ERROR);
		goto out;
	}
	session_cookie(c->s->cfg, SESSION_COOKIE, cookie, header,
	    sizeof(header));
	/* Handed on: the row is the new state's now. */
	if ((url = session_login_authorize_url(c->s, &c->who, state_h, state,
	    verifier)) == NULL || page_redirect(&c->page, url, header) == -1) {
		(void)store_state_void(c->s->st, state_h, now);
		callback_state_fail(&c->page, STORE_ERROR);
		goto out;
	}
	log_event(LOGL_INFO, "oauth.callback", "outcome=slack_proven "
	    "next=salesforce");
out:
	crypto_wipe(state, sizeof(state));
	crypto_wipe(verifier, sizeof(verifier));
	crypto_wipe(cookie, sizeof(cookie));
	crypto_wipe(header, sizeof(header));
	free(url);
}

/*
 * The code of a redirect whose state was taken (sr): NULL, with the
 * error page, when the state was not good or no code came with it.
 */
static const char *
callback_code(struct callback *c, enum store_result sr, const char *leg)
{
	const char	*code = c->val[CALLBACK_CODE];

	if (sr != STORE_OK) {
		log_event(LOGL_WARN, "oauth.callback", "outcome=%s%s%s",
		    store_result_str(sr), leg != NULL ? " leg=" : "",
		    leg != NULL ? leg : "");
		callback_state_fail(&c->page, sr);
		return NULL;
	}
	if (code == NULL || *code == '\0') {
		callback_state_fail(&c->page, STORE_NOTFOUND);
		return NULL;
	}
	return code;
}

/* Who signed in with Slack (code and verifier): the same Slack user as
 * the login's goes on to Salesforce, anyone else is refused. */
static enum slackapi_result
callback_slack_identify(struct callback *c, const char *code,
    const char *verifier)
{
	struct slackapi_oidc_user	 u;
	enum slackapi_result		 sl;

	memset(&u, 0, sizeof(u));
	sl = slackapi_oidc_identify_pkce(c->s->http, c->s->cfg, code,
	    verifier, &u, NULL);
	if (sl != SLACKAPI_OK) {
		log_event(LOGL_WARN, "oauth.callback", "outcome=slack_%s",
		    slackapi_result_str(sl));
		callback_slack_fail(&c->page, sl);
	} else if (!callback_same_slack_user(&c->who, &u))
		callback_slack_other(c);
	else
		callback_slack_hand_on(c);
	slackapi_oidc_user_free(&u);
	return sl;
}

/* Sign in with Slack came back: take its state (the search stays on
 * the row for the Salesforce leg), learn who signed in, and compare. */
static void
callback_slack(struct callback *c)
{
	enum store_result	 sr;
	enum slackapi_result	 sl = SLACKAPI_ERROR;
	const char		*code;
	char			*verifier = NULL;

	sr = callback_take_state(c->fcgi, c->s, STORE_LEG_SLACK, c->state_h,
	    &c->who, &verifier, NULL);
	if (sr == STORE_OK)
		log_set_user(c->who.team_id, c->who.user_id);
	if (c->val[CALLBACK_ERROR] != NULL)
		callback_slack_error(c, c->val[CALLBACK_ERROR]);
	else if ((code = callback_code(c, sr, "slack")) != NULL)
		sl = callback_slack_identify(c, code, verifier);
	/* A login Slack did not answer is over: nothing stays usable. */
	if (sr == STORE_OK && sl != SLACKAPI_OK)
		(void)store_state_void(c->s->st, c->state_h, time(NULL));
	crypto_free_secret(verifier);
}

/* Exchanges the code for a grant with the integration /oauth/start used
 * (NULL for a login started before integrations existed: the
 * workspace's), and finishes with it. */
static void
callback_grant(struct callback *c, const char *code, const char *verifier)
{
	struct session_grant	 g;
	enum session_result	 res;
	char			*org = NULL;

	memset(&g, 0, sizeof(g));
	if (store_state_org(c->s->st, c->state_h, &org) != STORE_OK) {
		callback_state_fail(&c->page, STORE_ERROR);
		return;
	}
	res = session_grant_get(c->s, &c->who, org, code, verifier, &g);
	log_event(res == SESSION_OK ? LOGL_INFO : LOGL_WARN, "oauth.callback",
	    "outcome=%s", session_result_str(res));
	if (res != SESSION_OK)
		callback_link_fail(&c->page, res);
	else
		callback_finish(c, &g);
	free(org);
	session_grant_free(&g);
}

/* The Salesforce login came back: take its state, exchange the code,
 * check the proofs, and finish. */
static void
callback_salesforce(struct callback *c)
{
	enum store_result	 sr;
	const char		*code;
	char			*verifier = NULL;

	/* In code mode the search waits on the row for the code. */
	sr = callback_take_state(c->fcgi, c->s, STORE_LEG_SALESFORCE,
	    c->state_h, &c->who, &verifier,
	    (c->s->cfg->link_proof & CONFIG_PROOF_CODE) ? NULL : &c->search);
	if (sr == STORE_OK)
		log_set_user(c->who.team_id, c->who.user_id);
	if (c->val[CALLBACK_ERROR] != NULL)
		callback_sf_error(c, c->val[CALLBACK_ERROR], sr);
	else if ((code = callback_code(c, sr, NULL)) != NULL)
		callback_grant(c, code, verifier);
	crypto_free_secret(verifier);
}

/*
 * Reads the redirect's query: GET only, the fields of fields_callback,
 * and a state.  Returns 0 with the state's hash in c->state_h, or -1
 * with the error page in c->page.
 */
static int
callback_read(struct callback *c)
{
	enum form_result	 fr;
	const char		*method;

	method = req_param(c->fcgi, "REQUEST_METHOD");
	if (method == NULL || strcmp(method, "GET") != 0) {
		page_error(&c->page, 405, "Method not allowed",
		    "This address is only for Salesforce's login redirect.");
		return -1;
	}
	fr = form_parse_fields(req_param(c->fcgi, "QUERY_STRING"), &c->f,
	    fields_callback, CALLBACK__MAX, c->val, NULL);
	if (fr == FORM_NOMEM) {
		/* Our failure: the link itself may be fine. */
		callback_state_fail(&c->page, STORE_ERROR);
		return -1;
	}
	if (fr != FORM_OK) {
		page_error_next(&c->page, 400, "Invalid login answer", "This "
		    "address did not come from Salesforce's login, so nothing "
		    "was linked.", "Run `/contact login` in Slack to start "
		    "again.");
		return -1;
	}
	if (c->val[CALLBACK_STATE] == NULL) {
		callback_state_fail(&c->page, STORE_NOTFOUND);
		return -1;
	}
	crypto_sha256(c->val[CALLBACK_STATE], c->state_h);
	return 0;
}

/* After the page: the search kept with the login is answered, and
 * pending logins that expired are revoked along the way. */
static void
callback_after(struct callback *c)
{
	if (c->how == PAGE_RESUME_SENT)
		resume_run(c->s, &c->who, &c->search);
	else if (c->search.text != NULL)
		log_event(LOGL_INFO, "resume", "outcome=dropped why=\"no "
		    "link made\"");
	(void)proof_sweep(c->s, time(NULL), PROOF_SWEEP_SOME);
}

/* GET /oauth/callback: which login came back (an unknown state fails as
 * Salesforce's), its leg, the page, then what follows the page. */
static void
callback_handle(FCGX_Request *r, struct session *s)
{
	struct callback		 c;
	enum store_leg		 leg = STORE_LEG_SALESFORCE;

	memset(&c, 0, sizeof(c));
	c.fcgi = r;
	c.s = s;
	buf_init(&c.page, PAGE_MAX);
	if (callback_read(&c) == 0) {
		(void)store_state_peek(s->st, c.state_h, &leg, &c.names);
		if (leg == STORE_LEG_SLACK)
			callback_slack(&c);
		else
			callback_salesforce(&c);
	}
	req_send_raw(r, &c.page);
	/* The page is complete: let the browser have it now. */
	FCGX_Finish_r(r);
	callback_after(&c);
	store_search_free(&c.search);
	form_free(&c.f);
	/* A redirect to Salesforce sets the login cookie again. */
	buf_free_secret(&c.page);
}

int
main(int argc, char *argv[])
{
	return app_main(argc, argv, "oauth_callback", callback_handle);
}

/*
 * contact: the Slack slash command /contact (SPEC §4, §7).
 *
 * A request is read (bounded), verified (signature or legacy token, then
 * the replay cache) before any field is looked at, validated against the
 * field table below, and dispatched to a sub-command.  Sub-commands that
 * call Salesforce run under the 3-second rule: if Salesforce has not
 * answered 2.5 s after the request arrived, contact_ack() answers Slack
 * with "Searching…" from inside the HTTP wait, and the result is POSTed to
 * the request's response_url when it comes.  A search that needs the
 * user to link first is remembered with the login link, and answered by
 * /oauth/callback once the link is stored.  Between validation and
 * dispatch, the workspace must have installed the Slack app once any
 * workspace has (install.h); an installation's rotating bot token that
 * is about to expire is refreshed after the answer is out.
 *
 * A workspace whose integration is in integration-user mode (see
 * session.h) searches as that integration's Run-As user: nobody links,
 * and every answer says so, in its text and in a context block.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <fcgiapp.h>

#include "app.h"
#include "buf.h"
#include "fiber.h"
#include "fields.h"
#include "form.h"
#include "install.h"
#include "log.h"
#include "metrics.h"
#include "proof.h"
#include "render.h"
#include "req.h"
#include "resume.h"
#include "serve.h"
#include "slack.h"

/* Answer Slack this long after nginx got the request, at the latest (SPEC
 * §4: about 2.5 s). */
#define CONTACT_ACK_MS		2500

/* One request, with every input already validated and copied out of the
 * FastCGI request (which is gone once Slack has been acknowledged). */
struct contact {
	FCGX_Request		*fcgi;
	struct session		*s;
	struct slack_user	 who;
	char			 text[FIELDS_TEXT_MAX + 1];
	const char		*command;
	const char		*response_url;	/* NULL: cannot defer */
	const char		*ack_text;
	int			 acked;
	struct timespec		 taken;		/* when this thread took it */
	long			 wait_ms;	/* queued before that; -1: ? */
	struct session_as	 as;		/* who the workspace runs as */
	struct store_names	 names;		/* for the login pages */
	struct store_search	 resume;	/* answered after the reply */
	enum page_resume	 resume_how;	/* ... when PAGE_RESUME_SENT */
	int			 sweep;		/* sweep pending logins after */
	int			 found;		/* a search found (or not) */
	int			 search;	/* a login link keeps it */
};

/*
 * Sets *deadline (monotonic) to when Slack must be acknowledged: 2.5 s
 * after nginx received the request when nginx says when that was
 * (REQUEST_START), else 2.5 s from now.  A request that waited for a free
 * thread (a burst larger than the pools) is then acknowledged as soon as
 * it is handled, instead of 2.5 s later.  *taken is now (monotonic);
 * returns how long the request waited before now (in nginx, the socket's
 * queue, for a thread), in milliseconds, or -1 when nginx did not say.
 */
static long
contact_deadline(FCGX_Request *r, struct timespec *taken,
    struct timespec *deadline)
{
	struct timespec	 now;
	long		 ms = CONTACT_ACK_MS, age;

	clock_gettime(CLOCK_REALTIME, &now);
	if ((age = req_age_ms(req_param(r, "REQUEST_START"), &now)) > 0)
		ms = age < ms ? ms - age : 0;
	clock_gettime(CLOCK_MONOTONIC, taken);
	*deadline = *taken;
	fiber_add_ms(deadline, ms);
	return age;
}

/*
 * Slack's answer is out (deferred: finished; direct: written, and sent
 * as the handler returns): one line with how long it took from when this
 * thread took the request (ack_ms) and how long the request had waited
 * before (wait_ms).  The 3-second rule is kept here, where forcelink
 * controls it: ack_ms stays within 2.5 s less wait_ms.  Time a busy
 * machine adds before REQUEST_START (nginx reading the request) or after
 * the answer left (nginx, the client) is not ours; the tests report it
 * from nginx's log instead of failing on it.
 */
static void
contact_answered(struct contact *c)
{
	struct timespec	 now;
	long		 ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - c->taken.tv_sec) * 1000L +
	    (now.tv_nsec - c->taken.tv_nsec) / 1000000L;
	log_event(LOGL_INFO, "slack.ack", "deferred=%d wait_ms=%ld ack_ms=%ld "
	    "response_url=%s", c->acked ? 1 : 0, c->wait_ms, ms,
	    c->response_url != NULL ? "yes" : "missing");
	metrics_ack(ms);
}

static void
contact_plain(FCGX_Request *r, int status, const char *msg)
{
	req_send(r, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

/*
 * Runs on this thread, from inside an HTTP wait, once the ack deadline has
 * passed: Slack gets "Searching…" now, the result goes to response_url.
 */
static void
contact_ack(void *arg)
{
	struct contact	*c = arg;
	char		*json;

	/* Before the sub-command runs there is nothing to answer later:
	 * a store too slow to say whether the request may run gets an
	 * apology now, and the request ends there. */
	if ((json = render_message(c->ack_text != NULL ? c->ack_text :
	    "Something went wrong on our side. Please try again in a "
	    "minute.")) != NULL) {
		req_send(c->fcgi, 200, "application/json", json, strlen(json));
		free(json);
	}
	FCGX_Finish_r(c->fcgi);
	c->acked = 1;
	contact_answered(c);
}

/* Sends the answer: in the HTTP response, or later to response_url. */
static void
contact_reply(struct contact *c, const char *json)
{
	struct http_response	 resp;
	enum http_result	 hr;
	const char		*prefix = c->s->cfg->response_url_prefix;

	if (!c->acked) {
		/* It leaves when the handler returns, at once: nothing
		 * follows but contact_keep_token(), which finishes the
		 * request first when it has work. */
		req_send(c->fcgi, 200, "application/json", json, strlen(json));
		contact_answered(c);
		return;
	}
	if (!session_response_url_ok(c->s->cfg, c->response_url)) {
		log_event(LOGL_WARN, "slack.deferred", "outcome=dropped "
		    "why=\"response_url missing or outside %s\"", prefix);
		metrics_deferred(METRICS_DEFERRED_DROPPED);
		return;
	}
	http_response_init(&resp);
	hr = http_request(c->s->http, "POST", c->response_url, NULL,
	    "application/json", json, &resp);
	log_event(hr == HTTP_OK && resp.status == 200 ? LOGL_INFO : LOGL_WARN,
	    "slack.deferred", "outcome=%s status=%ld", http_result_str(hr),
	    hr == HTTP_OK ? resp.status : 0L);
	metrics_deferred(hr == HTTP_OK && resp.status == 200 ?
	    METRICS_DEFERRED_POSTED : METRICS_DEFERRED_FAILED);
	http_response_free(&resp);
}

/* The answer for a failed session call; NULL only on memory exhaustion. */
static char *
contact_failure(struct contact *c, enum session_result res)
{
	const char	*reason = NULL;
	char		*url = NULL, *json;
	int		 kept = 0;

	switch (res) {
	case SESSION_UNLINKED:
		break;
	case SESSION_REVOKED:
		reason = "Your Salesforce session was revoked or expired.";
		break;
	case SESSION_RELINK:
		reason = "Salesforce no longer accepts your session.";
		break;
	case SESSION_BADKEY:
		return render_message("forcelink cannot read your saved "
		    "Salesforce link right now (its encryption key does not "
		    "match). Nothing was deleted; please tell your admin.");
	case SESSION_REFUSED:
		return render_message("Salesforce refused this request. Your "
		    "org may have reached its API limit, or your user may "
		    "lack access. Please try again later.");
	case SESSION_TRANSIENT:
		/* The call was cut off because this worker is stopping. */
		if (serve_stopping())
			return render_message("forcelink is restarting, so "
			    "this was not finished. Please try again in a "
			    "minute.");
		return render_message("Salesforce did not answer properly "
		    "just now. Please try again in a minute.");
	case SESSION_MOVED:
		reason = "Your workspace now uses another Salesforce "
		    "integration, so your earlier link is no longer used.";
		break;
	case SESSION_IUSER_REFUSED:
		return render_message("Salesforce refused forcelink's "
		    "integration user for this workspace. Nothing can be "
		    "searched until your forcelink admin fixes the "
		    "integration.");
	default:
		return render_message("Something went wrong on our side. "
		    "Please try again in a minute.");
	}
	if (session_login_url_names(c->s, &c->who, &c->names, c->search ?
	    c->text : NULL, c->search ? c->response_url : NULL, &url,
	    &kept) != SESSION_OK) {
		free(url);
		return render_message("Something went wrong on our side. "
		    "Please try again in a minute.");
	}
	/* Kept unless the response_url is missing or not allowed. */
	json = kept ? render_login_resume(url, reason) :
	    render_login(url, reason);
	free(url);
	return json;
}

static char *
cmd_help(struct contact *c)
{
	if (c->as.integration_user)
		return render_help_iuser(c->command);
	return render_help(c->command);
}

static char *
cmd_login(struct contact *c)
{
	if (c->as.integration_user)
		return render_message("No login is needed here: this "
		    "workspace searches Salesforce as the integration user, "
		    "not as you.");
	return contact_failure(c, SESSION_UNLINKED);
}

static char *
cmd_logout(struct contact *c)
{
	enum session_result	 res;

	c->ack_text = "Logging you out of Salesforce…";
	res = session_logout(c->s, &c->who);
	log_event(LOGL_INFO, "cmd.logout", "outcome=%s",
	    session_result_str(res));
	if (res == SESSION_OK)
		return render_message("Logged out: your Salesforce link is "
		    "removed and its token revoked.");
	if (res == SESSION_UNLINKED && c->as.integration_user)
		return render_message("Nothing to log out: this workspace "
		    "searches Salesforce as the integration user, not as you.");
	if (res == SESSION_UNLINKED)
		return render_message("You are not linked to Salesforce.");
	if (res == SESSION_TRANSIENT)
		return render_message("Salesforce could not be reached to "
		    "revoke your token, so your link is unchanged. Please try "
		    "again in a minute.");
	return contact_failure(c, res);
}

static char *
cmd_whoami(struct contact *c)
{
	struct sf_userinfo	 ui;
	enum session_result	 res;
	char			*inst = NULL, *json;

	memset(&ui, 0, sizeof(ui));
	c->ack_text = "Asking Salesforce who you are…";
	res = session_whoami_as(c->s, &c->who, &ui, &inst, &c->as);
	log_event(LOGL_INFO, "cmd.whoami", "outcome=%s integration=\"%s\" "
	    "iuser=%d", session_result_str(res), c->as.integration,
	    c->as.integration_user);
	if (res != SESSION_OK)
		json = contact_failure(c, res);
	else if (c->as.integration_user)
		json = render_whoami_iuser(inst, &ui);
	else
		json = render_whoami(inst, &ui);
	sf_userinfo_free(&ui);
	free(inst);
	return json;
}

static char *
cmd_search(struct contact *c)
{
	struct sf_contacts	 found;
	struct sf_error		 err;
	enum session_result	 res;
	char			*inst = NULL, *json;

	memset(&found, 0, sizeof(found));
	c->ack_text = "Searching Salesforce…";
	c->search = 1;
	res = session_search_as(c->s, &c->who, c->text, &found, &inst, &err,
	    &c->as);
	log_event(LOGL_INFO, "cmd.search", "outcome=%s found=%zu error=%s "
	    "integration=\"%s\" iuser=%d", session_result_str(res), found.n,
	    err.code[0] ? err.code : "-", c->as.integration,
	    c->as.integration_user);
	c->found = res == SESSION_OK;
	json = res == SESSION_OK ? render_contacts(inst, c->text, &found) :
	    contact_failure(c, res);
	sf_contacts_free(&found);
	free(inst);
	return json;
}

/* What the reply to a confirm that linked says of the search kept with
 * the login (how resume_how() decided). */
static const char *
confirm_search_note(enum page_resume how)
{
	switch (how) {
	case PAGE_RESUME_SENT:
		return " The answer to your earlier search follows.";
	case PAGE_RESUME_TOO_OLD:
		return " Your earlier search is too old to be answered now "
		    "(Slack takes answers only for 30 minutes after a "
		    "command): please run it again.";
	default:
		return "";
	}
}

/*
 * confirm CODE (FORCELINK_LINK_PROOF=code): the code a login's page
 * showed, typed by the Slack user the login link was made for, stores
 * the link; the search kept with the login is answered after the reply.
 * The answers never repeat the code.
 */
static char *
cmd_confirm(struct contact *c)
{
	struct session_linked	 linked;
	enum proof_confirm	 r;
	const char		*code = c->text + strlen("confirm");
	char			 msg[512];
	int			 left;

	c->ack_text = "Confirming your login…";
	c->sweep = 1;
	while (*code == ' ')
		code++;
	r = proof_confirm(c->s, &c->who, code, &linked, &c->resume, &left);
	switch (r) {
	case PROOF_CONFIRM_LINKED:
		c->resume_how = resume_how(c->s, &c->resume);
		snprintf(msg, sizeof(msg), "Linked: Salesforce user %.200s "
		    "(org %.40s) is now linked to you.%s", linked.sf_username,
		    linked.sf_org_id, confirm_search_note(c->resume_how));
		session_linked_free(&linked);
		return render_message(msg);
	case PROOF_CONFIRM_MALFORMED:
		return render_message("Usage: `/contact confirm CODE`, with "
		    "the code the login page showed (like ABCDE-12345).");
	case PROOF_CONFIRM_OTHER:
		return render_message("This login was started by another "
		    "Slack user; nothing was linked.");
	case PROOF_CONFIRM_WRONG:
		snprintf(msg, sizeof(msg), "That code is not right (%d %s "
		    "left).", left, left == 1 ? "try" : "tries");
		return render_message(msg);
	case PROOF_CONFIRM_VOID:
		return render_message("That code is not right, and that was "
		    "too many wrong tries: the login is cancelled. Run "
		    "`/contact login` again.");
	case PROOF_CONFIRM_NONE:
		return render_message("That code is not right, or it has "
		    "expired. Run `/contact login` to start again.");
	default:
		return render_message("Something went wrong on our side. "
		    "Please try again in a minute.");
	}
}

static const struct {
	const char	*word;
	char		*(*run)(struct contact *);
	int		 args;		/* followed by words of its own */
} contact_cmds[] = {
	{ "help",	cmd_help,	0 },
	{ "login",	cmd_login,	0 },
	{ "logout",	cmd_logout,	0 },
	{ "whoami",	cmd_whoami,	0 },
	{ "confirm",	cmd_confirm,	1 },
};

/* Picks the sub-command: one of the words alone (or, for one that takes
 * them, followed by its words), help when empty, else a search for the
 * text. */
static char *
contact_pick(struct contact *c)
{
	size_t	 i, n;

	if (c->text[0] == '\0')
		return cmd_help(c);
	for (i = 0; i < sizeof(contact_cmds) / sizeof(contact_cmds[0]); i++) {
		n = strlen(contact_cmds[i].word);
		if (strcasecmp(c->text, contact_cmds[i].word) == 0 ||
		    (contact_cmds[i].args && strncasecmp(c->text,
		    contact_cmds[i].word, n) == 0 && c->text[n] == ' '))
			return contact_cmds[i].run(c);
	}
	return cmd_search(c);
}

/*
 * Runs the sub-command.  In integration-user mode the answer says, first
 * thing, that it came from Salesforce as the integration user (and which
 * one, once a token was fetched).  A failed look-up of the mode is left
 * to the sub-command, whose own look-up fails the same way.
 */
static char *
contact_run(struct contact *c)
{
	char	*json, *with, line[256];

	(void)session_mode(c->s, &c->who, &c->as);
	json = contact_pick(c);
	if (json == NULL || !c->as.integration_user)
		return json;
	if (c->as.username != NULL)
		snprintf(line, sizeof(line), "%s as the integration user "
		    "%.200s", c->found ? "Results from Salesforce" :
		    "This workspace uses Salesforce", c->as.username);
	else
		snprintf(line, sizeof(line), "This workspace uses Salesforce "
		    "as the integration user of integration %s",
		    c->as.integration);
	with = render_with_context(json, line);
	free(json);
	return with;
}

/*
 * Copies Slack's text, unescaped and trimmed of surrounding spaces, and
 * judges it (fields_text_check).  A text past FIELDS_TEXT_MAX bytes is
 * too long without being copied.
 */
static enum fields_text
contact_set_text(struct contact *c, const char *text)
{
	size_t	 n;
	char	*p;

	c->text[0] = '\0';
	if (text == NULL)
		return FIELDS_TEXT_OK;
	if (strlen(text) > FIELDS_TEXT_MAX)
		return FIELDS_TEXT_TOO_LONG;
	slack_unescape(text, c->text);
	for (p = c->text; *p != '\0' && isspace((unsigned char)*p); p++)
		continue;
	memmove(c->text, p, strlen(p) + 1);
	n = strlen(c->text);
	while (n > 0 && isspace((unsigned char)c->text[n - 1]))
		c->text[--n] = '\0';
	return fields_text_check(c->text, n);
}

/*
 * The answer to a text that cannot be searched: a Slack message saying
 * what is wrong (HTTP 200 like every answer), nothing sent to
 * Salesforce.  Returns NULL only on memory exhaustion.
 */
static char *
contact_text_refused(enum fields_text t)
{
	char	 msg[256];

	log_event(LOGL_INFO, "request.text", "outcome=\"%s\"",
	    fields_text_str(t));
	switch (t) {
	case FIELDS_TEXT_TOO_LONG:
		snprintf(msg, sizeof(msg), "That search is too long: at most "
		    "%d characters, and no Salesforce contact's name is "
		    "longer. Try a shorter part of the name.",
		    FIELDS_TEXT_CHARS);
		break;
	case FIELDS_TEXT_CONTROL:
		snprintf(msg, sizeof(msg), "That search has a control "
		    "character (a tab, a line break or an invisible one), "
		    "which no contact's name has. Type the name on one "
		    "line.");
		break;
	default:
		snprintf(msg, sizeof(msg), "That search is not valid UTF-8 "
		    "text, so it cannot be searched. Type it again or paste "
		    "it as plain text.");
		break;
	}
	return render_message(msg);
}

/*
 * Checks a signed request (SPEC §4) and that its signature was not seen
 * before.  Returns 0, -1 after answering (or when *acked says the
 * deadline answered meanwhile), or 1 (not answered) when the signature
 * is good but the store could not say whether it was seen.
 */
static int
contact_verify_signature(FCGX_Request *r, struct session *s,
    const struct buf *body, const int *acked)
{
	enum slack_verdict	 v;
	unsigned char		 h[CRYPTO_HASHLEN];
	enum store_result	 sr;
	const char		*sig, *ts;
	int64_t			 t;
	time_t			 now = time(NULL);

	sig = req_param(r, "HTTP_X_SLACK_SIGNATURE");
	ts = req_param(r, "HTTP_X_SLACK_REQUEST_TIMESTAMP");
	v = slack_verify(s->cfg->slack_signing_secret, ts, sig,
	    buf_cstr(body), body->len, now);
	if (v == SLACK_OK && slack_parse_ts(ts, &t) == -1)
		v = SLACK_BAD_TIMESTAMP;
	if (v != SLACK_OK) {
		log_event(LOGL_WARN, "slack.verify", "outcome=%s",
		    slack_verdict_str(v));
		contact_plain(r, 401, "request verification failed\n");
		return -1;
	}
	/* The host's replay cache, then the store when it must decide
	 * (store_replay_check). */
	crypto_sha256(sig, h);
	sr = store_replay_check(s->st, h, t, now);
	/* The deadline answered while the store was asked: nothing more. */
	if (*acked)
		return -1;
	if (sr == STORE_EXISTS) {
		log_event(LOGL_WARN, "slack.verify", "outcome=replay");
		contact_plain(r, 401, "replayed request\n");
		return -1;
	} else if (sr != STORE_OK) {
		log_event(LOGL_WARN, "slack.verify",
		    "outcome=store_unavailable");
		return 1;
	}
	return 0;
}

/*
 * Legacy apps without a signing secret: the token field must match.
 * Returns 0, or -1 after answering.
 */
static int
contact_verify_token(FCGX_Request *r, struct session *s,
    const struct form *f)
{
	enum slack_verdict	 v;

	v = slack_verify_token(s->cfg->slack_verification_token,
	    f != NULL ? form_get(f, "token") : NULL);
	if (v != SLACK_OK) {
		log_event(LOGL_WARN, "slack.verify", "outcome=%s",
		    slack_verdict_str(v));
		contact_plain(r, 401, "request verification failed\n");
		return -1;
	}
	return 0;
}

/*
 * Authorization (issue 6): once any workspace has installed the app (or
 * FORCELINK_REQUIRE_INSTALL=1), a request from a workspace that has not
 * gets one clear answer and nothing else happens: no Salesforce call, no
 * login state, no link lookup.  Returns the verdict; after DENIED or
 * ERROR the request has been answered.
 */
static enum install_auth
contact_authorize(struct contact *c, struct store_install_ref *ref)
{
	enum install_auth	 a;
	char			 msg[1024];
	char			*json;

	a = install_authorize(c->s, &c->who, ref);
	/* The deadline answered while the store was asked: nothing more. */
	if (c->acked)
		return INSTALL_AUTH_ERROR;
	if (a == INSTALL_AUTH_OK || a == INSTALL_AUTH_OPEN)
		return a;
	if (a == INSTALL_AUTH_DENIED) {
		log_event(LOGL_WARN, "slack.authorize", "outcome=not_installed "
		    "enterprise=%s", c->who.enterprise_id[0] != '\0' ?
		    c->who.enterprise_id : "-");
		snprintf(msg, sizeof(msg), "This workspace has not installed "
		    "forcelink. Ask an admin to install it: %s/slack/install",
		    c->s->cfg->public_url);
		json = render_message(msg);
	} else
		json = render_message("Something went wrong on our side. "
		    "Please try again in a minute.");
	if (json != NULL)
		req_send(c->fcgi, 200, "application/json", json, strlen(json));
	else
		contact_plain(c->fcgi, 500, "out of memory\n");
	free(json);
	return a;
}

/*
 * With token rotation, a command from an installed workspace whose bot
 * token expires within INSTALL_REFRESH_AHEAD refreshes it, after Slack
 * has its answer (the request is finished first), so an installation in
 * use never lapses.  Single-flight: a burst of commands refreshes once.
 */
static void
contact_keep_token(struct contact *c, const struct store_install_ref *ref)
{
	enum install_result	 res;
	char			*tok = NULL;

	if (c->s->cfg->slack_client_id == NULL ||
	    !install_token_due(ref, time(NULL)))
		return;
	if (!c->acked) {
		FCGX_Finish_r(c->fcgi);
		c->acked = 1;
	}
	res = install_bot_token(c->s, ref->enterprise_id, ref->team_id, &tok);
	if (res != INSTALL_OK)
		log_event(LOGL_WARN, "slack.token", "outcome=%s",
		    install_result_str(res));
	crypto_free_secret(tok);
}

/*
 * After the answer is out: the search kept with a login that confirm
 * just linked is answered (to its own response_url), and after a confirm
 * pending logins that expired are revoked along the way.
 */
static void
contact_after(struct contact *c)
{
	int	 resume = c->resume.text != NULL &&
		    c->resume_how == PAGE_RESUME_SENT;

	if (!resume && !c->sweep) {
		store_search_free(&c->resume);
		return;
	}
	if (!c->acked) {
		FCGX_Finish_r(c->fcgi);
		c->acked = 1;
	}
	if (resume)
		resume_run(c->s, &c->who, &c->resume);
	store_search_free(&c->resume);
	if (c->sweep)
		(void)proof_sweep(c->s, time(NULL), PROOF_SWEEP_SOME);
}

static void
contact_handle(FCGX_Request *r, struct session *s)
{
	struct contact		 c;
	struct buf		 body;
	struct form		 f = { NULL, 0 };
	struct timespec		 deadline, taken;
	struct store_install_ref ref;
	enum install_auth	 auth;
	enum req_body		 rb;
	enum form_result	 fr;
	enum fields_text	 tr;
	const char		*method, *bad = NULL, *ssl;
	char			*json = NULL;
	long			 wait_ms;
	int			 sv;

	buf_init(&body, SLACK_BODY_MAX);
	method = req_param(r, "REQUEST_METHOD");
	if (method == NULL || strcmp(method, "POST") != 0) {
		contact_plain(r, 405, "POST only\n");
		goto out;
	}
	wait_ms = contact_deadline(r, &taken, &deadline);
	memset(&c, 0, sizeof(c));
	c.fcgi = r;
	c.s = s;
	c.taken = taken;
	c.wait_ms = wait_ms;
	/* From here every wait (the store's included) keeps the 3 seconds:
	 * before the sub-command runs, with an apology (contact_ack). */
	fiber_set_deadline(&deadline, contact_ack, &c);
	if ((rb = req_read_body(r, SLACK_BODY_MAX, &body)) != REQ_BODY_OK) {
		log_event(LOGL_WARN, "request.body", "outcome=\"%s\"",
		    req_body_str(rb));
		contact_plain(r, req_body_status(rb), req_body_str(rb));
		goto out;
	}
	/* Nothing in the body is decoded before a signature is checked. */
	if (s->cfg->slack_signing_secret != NULL) {
		if ((sv = contact_verify_signature(r, s, &body,
		    &c.acked)) == -1)
			goto out;
		if (sv == 1) {
			/*
			 * The store cannot tell whether this signature was
			 * seen before (a PostgreSQL server restarting, say):
			 * nothing is done, and Slack gets an apology it shows
			 * the user.  Of any other status than 200 Slack shows
			 * only an error code.
			 */
			if ((json = render_message("Something went wrong on "
			    "our side. Please try again in a minute.")) != NULL)
				contact_reply(&c, json);
			else
				contact_plain(r, 500, "out of memory\n");
			goto out;
		}
		fr = form_parse(buf_cstr(&body), body.len, &f);
	} else {
		fr = form_parse(buf_cstr(&body), body.len, &f);
		if (fr != FORM_NOMEM && contact_verify_token(r, s,
		    fr == FORM_OK ? &f : NULL) == -1)
			goto out;
	}
	/* Our memory, not the request, failed: no 400 and no 401. */
	if (fr == FORM_NOMEM) {
		contact_plain(r, 500, "out of memory\n");
		goto out;
	}
	if (fr != FORM_OK) {
		log_event(LOGL_WARN, "request.form", "outcome=\"%s\"",
		    form_result_str(fr));
		contact_plain(r, 400, "malformed form body\n");
		goto out;
	}
	if ((ssl = form_get(&f, "ssl_check")) != NULL && strcmp(ssl, "1") == 0) {
		req_send(r, 200, "text/plain", "", 0);
		goto out;
	}
	if ((fr = form_validate(&f, fields_contact, fields_ncontact, &bad)) !=
	    FORM_OK) {
		log_event(LOGL_WARN, "request.form", "outcome=\"%s\" field=%s",
		    form_result_str(fr), bad != NULL ? bad : "-");
		contact_plain(r, 400, fr == FORM_MISSING ?
		    "missing team_id or user_id\n" : "invalid form field\n");
		goto out;
	}

	snprintf(c.who.team_id, sizeof(c.who.team_id), "%s",
	    form_get(&f, "team_id"));
	snprintf(c.who.user_id, sizeof(c.who.user_id), "%s",
	    form_get(&f, "user_id"));
	if (form_get(&f, "enterprise_id") != NULL)
		snprintf(c.who.enterprise_id, sizeof(c.who.enterprise_id),
		    "%s", form_get(&f, "enterprise_id"));
	log_set_user(c.who.team_id, c.who.user_id);
	auth = contact_authorize(&c, &ref);
	if (auth != INSTALL_AUTH_OK && auth != INSTALL_AUTH_OPEN)
		goto out;
	c.command = form_get(&f, "command");
	c.response_url = form_get(&f, "response_url");
	c.ack_text = "Working on it…";
	snprintf(c.names.team_domain, sizeof(c.names.team_domain), "%s",
	    form_get(&f, "team_domain") != NULL ? form_get(&f, "team_domain") :
	    "");
	snprintf(c.names.user_name, sizeof(c.names.user_name), "%s",
	    form_get(&f, "user_name") != NULL ? form_get(&f, "user_name") : "");

	if ((tr = contact_set_text(&c, form_get(&f, "text"))) !=
	    FIELDS_TEXT_OK)
		json = contact_text_refused(tr);
	else {
		fiber_set_deadline(&deadline, contact_ack, &c);
		json = contact_run(&c);
		fiber_set_deadline(NULL, NULL, NULL);
	}
	session_as_free(&c.as);
	if (json == NULL)
		json = render_message("Something went wrong on our side.");
	if (json != NULL)
		contact_reply(&c, json);
	else if (!c.acked)
		contact_plain(r, 500, "out of memory\n");
	if (auth == INSTALL_AUTH_OK)
		contact_keep_token(&c, &ref);
	contact_after(&c);
out:
	fiber_set_deadline(NULL, NULL, NULL);
	free(json);
	form_free(&f);
	buf_free(&body);
}

int
main(int argc, char *argv[])
{
	return app_main(argc, argv, "contact", contact_handle);
}

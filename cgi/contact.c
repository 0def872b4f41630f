/*
 * contact: the Slack slash commands /contact, /account, /pipeline (and
 * /case) (SPEC §4, §7, §9).
 *
 * A request is read, verified and validated in one call (slackreq.h)
 * and dispatched on its command (contact_commands: what the command's
 * own text does, and its help), then on its text: the sub-commands
 * (help, login, logout, whoami, confirm) work on every command.
 * Everything runs under the 3-second
 * rule (reply.h): if Salesforce (or the store) has not answered 2.5 s
 * after the request arrived, Slack gets "Searching…" from inside the
 * wait, and the result is POSTed to the request's response_url when it
 * comes.  A search that needs the
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
#include "casejob.h"
#include "crypto.h"
#include "fields.h"
#include "install.h"
#include "log.h"
#include "proof.h"
#include "render.h"
#include "reply.h"
#include "resume.h"
#include "search.h"
#include "serve.h"
#include "slack.h"
#include "slackreq.h"
#include "slackweb.h"

struct contact;

/* A slash command this program serves (contact_commands). */
struct contact_command {
	const char		*name;
	struct render_usage	 usage;		/* its own text, for help */
	char			*(*run)(struct contact *); /* that text */
	const char		*keep;		/* kept with a login as */
	int			 empty;		/* an empty text runs it (not
						   the help) */
};

/* One request, with every input already validated and copied out of the
 * FastCGI request (which is gone once Slack has been acknowledged). */
struct contact {
	struct reply		 rp;
	struct session		*s;
	struct slack_user	 who;
	char			 text[FIELDS_TEXT_MAX + 1];
	const char		*command;	/* as Slack sent it */
	const struct contact_command *cmd;	/* what it runs */
	char			 keep[FIELDS_TEXT_MAX + 1]; /* the text a
					   login keeps for the search */
	const char		*response_url;
	const char		*trigger_id;	/* for views.open, or NULL */
	enum install_auth	 auth;		/* what install_gate() said */
	struct store_install_ref ref;		/* ... of this installation */
	struct session_as	 as;		/* who the workspace runs as */
	struct store_names	 names;		/* for the login pages */
	struct store_search	 resume;	/* answered after the reply */
	enum page_resume	 resume_how;	/* ... when PAGE_RESUME_SENT */
	int			 sweep;		/* sweep pending logins after */
	int			 found;		/* a search found (or not) */
	int			 search;	/* a login link keeps it */
	int			 quiet;		/* answered by the sub-command:
						   nothing more to send */
};

/* The answer for a failed session call; NULL only on memory exhaustion. */
static char *
contact_failure(struct contact *c, enum session_result res)
{
	struct store_search	 keep;
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
		return render_message(REPLY_SORRY);
	}
	memset(&keep, 0, sizeof(keep));
	if (c->search) {
		keep.text = c->keep;
		keep.response_url = (char *)c->response_url;
		keep.command = (char *)c->cmd->keep;
	}
	if (session_login_url_keep(c->s, &c->who, &c->names, &keep, &url,
	    &kept) != SESSION_OK) {
		free(url);
		return render_message(REPLY_SORRY);
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
		return render_help_iuser(c->command, &c->cmd->usage);
	return render_help(c->command, &c->cmd->usage);
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

	reply_later(&c->rp, NULL, "Logging you out of Salesforce…");
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
	reply_later(&c->rp, NULL, "Asking Salesforce who you are…");
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

/*
 * The command's own text: one page of a search (search.h), whose kind
 * the command names.  A text the command cannot take (/pipeline with
 * something else than a number) gets its usage, nothing sent.
 */
static char *
cmd_search(struct contact *c)
{
	struct search_page	 page;
	struct sf_error		 err;
	enum session_result	 res;
	char			*json, msg[512];
	size_t			 found = 0;

	if (search_command(c->cmd->name, c->text, &page, NULL) !=
	    SEARCH_CMD_OK) {
		snprintf(msg, sizeof(msg), "Usage: `%s %s` %s %s.",
		    c->cmd->name, c->cmd->usage.args, "\xe2\x80\x94",
		    c->cmd->usage.what);
		return render_message(msg);
	}
	reply_later(&c->rp, NULL, "Searching Salesforce…");
	c->search = 1;
	/* What a login keeps: the text, or for a count the count. */
	if (page.text != NULL)
		snprintf(c->keep, sizeof(c->keep), "%s", page.text);
	else
		snprintf(c->keep, sizeof(c->keep), "%d", page.limit);
	res = search_run(c->s, &c->who, &page, &c->as, &json, &found, &err);
	log_event(LOGL_INFO, "cmd.search", "outcome=%s found=%zu error=%s "
	    "kind=%s offset=%d integration=\"%s\" iuser=%d",
	    session_result_str(res), found, err.code[0] ? err.code : "-",
	    sf_kind_str(page.kind), page.offset, c->as.integration,
	    c->as.integration_user);
	/* /pipeline as the integration user asks Salesforce nothing. */
	c->found = res == SESSION_OK && !(page.kind == SF_KIND_OPPORTUNITY &&
	    c->as.integration_user);
	return res == SESSION_OK ? json : contact_failure(c, res);
}

/* What the reply to a confirm that linked says of the search kept with
 * the login (how resume_how() decided), or of a Case form kept. */
static const char *
confirm_search_note(enum page_resume how, const struct store_search *kept)
{
	int	 form = kept->command != NULL &&
		    strcmp(kept->command, "/case") == 0;

	switch (how) {
	case PAGE_RESUME_SENT:
		return form ? " The Case you submitted is being created: it "
		    "shows in its form and here." :
		    " The answer to your earlier search follows.";
	case PAGE_RESUME_TOO_OLD:
		return form ? " The Case you submitted is too old to be "
		    "created now (Slack takes answers only for 30 minutes "
		    "after a command): please run /case again." :
		    " Your earlier search is too old to be answered now "
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

	reply_later(&c->rp, NULL, "Confirming your login…");
	c->sweep = 1;
	while (*code == ' ')
		code++;
	r = proof_confirm(c->s, &c->who, code, &linked, &c->resume, &left);
	switch (r) {
	case PROOF_CONFIRM_LINKED:
		c->resume_how = resume_how(c->s, &c->resume);
		snprintf(msg, sizeof(msg), "Linked: Salesforce user %.200s "
		    "(org %.40s) is now linked to you.%s", linked.sf_username,
		    linked.sf_org_id, confirm_search_note(c->resume_how,
		    &c->resume));
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
		return render_message(REPLY_SORRY);
	}
}

/* --- /case (issue 15) ------------------------------------------------- */

/*
 * "/case subject: details", the seed's one-liner: the Case is created at
 * once (one composite call) and the answer says its number and link, or
 * what Salesforce refused -- never a success for a failure.
 */
static char *
case_oneliner(struct contact *c, struct casefrm *f)
{
	struct casefrm_problems	 pr;
	struct sf_case_result	 r;
	struct sf_case_new	 nc;
	struct sf_error		 err;
	enum session_result	 res;
	char			*inst = NULL, *desc = NULL, *json;

	reply_later(&c->rp, NULL, "Creating your Case in Salesforce…");
	if (casefrm_check(f, &pr) > 0)
		return casefrm_message_problems(&pr);
	if (casefrm_case(f, &nc, &desc) == -1)
		return render_message(REPLY_SORRY);
	res = session_case_create(c->s, &c->who, &nc, &r, &inst, &err,
	    &c->as);
	log_event(LOGL_INFO, "cmd.case", "how=oneliner outcome=%s created=%d "
	    "errors=%zu first=%s integration=\"%s\" iuser=%d",
	    session_result_str(res), r.created, r.nerr, r.nerr > 0 ?
	    r.err[0].code : "-", c->as.integration, c->as.integration_user);
	if (res == SESSION_OK && r.created) {
		if (casefrm_set(&f->case_id, r.id) == -1 ||
		    casefrm_set(&f->case_number, r.number) == -1 ||
		    casefrm_set(&f->instance_url, inst) == -1)
			json = NULL;
		else
			json = casefrm_message_created(f);
	} else if (res == SESSION_OK) {
		casefrm_map(&r, f->account, &pr);
		json = casefrm_message_problems(&pr);
	} else if (res == SESSION_TRANSIENT)
		json = render_message("Salesforce did not answer in time. It "
		    "may have created the Case anyway: look in Salesforce "
		    "before you try again.");
	else
		json = contact_failure(c, res);
	free(inst);
	free(desc);
	return json;
}

/*
 * /case without the one-liner: the form opens at once (views.open with
 * the trigger_id, before any Salesforce call: the trigger lives 3 s),
 * with the Priority values cached for the workspace's integration, or
 * Salesforce's standard ones; Slack then gets an empty 200, and the
 * values are checked with Salesforce after.
 */
static char *
case_open(struct contact *c, struct casefrm *f)
{
	struct slackweb_view	 v;
	enum slackweb_result	 wr;
	const char		*why;
	char			 key[STORE_ACTION_KEY_LEN + 1], msg[512];
	char			*tok = NULL, *json = NULL;

	reply_later(&c->rp, NULL, "Opening the Case form…");
	if (c->trigger_id == NULL || c->trigger_id[0] == '\0')
		return render_message("Slack sent no trigger to open the Case "
		    "form with. Type `/case subject: details` instead.");
	if (casejob_token(c->s, c->auth, &c->ref, "cmd.case", &tok, &why) !=
	    INSTALL_OK) {
		snprintf(msg, sizeof(msg), "%s Meanwhile, type `/case subject: "
		    "details`.", why);
		json = render_message(msg);
		goto out;
	}
	if ((c->text[0] != '\0' && casefrm_set(&f->subject, c->text) == -1) ||
	    casefrm_set(&f->response_url, c->response_url) == -1)
		goto out;
	wr = casejob_open(c->s, &c->who, f, c->as.integration, c->trigger_id,
	    tok, key, &v);
	log_event(wr == SLACKWEB_OK ? LOGL_INFO : LOGL_WARN, "cmd.case",
	    "how=form outcome=%s", slackweb_result_str(wr));
	if (wr != SLACKWEB_OK) {
		json = render_message(casejob_open_message(wr));
		goto out;
	}
	/* The form is open: Slack's answer is an empty 200. */
	reply_plain(&c->rp, 200, "");
	c->quiet = 1;
	reply_finish(&c->rp);
	casejob_refresh(c->s, &c->who, &c->as, f, key, &v, tok, 0);
out:
	crypto_free_secret(tok);
	if (json == NULL && !c->quiet)
		json = render_message(REPLY_SORRY);
	return json;
}

/* /case: the one-liner, or the form. */
static char *
cmd_case(struct contact *c)
{
	struct casefrm	 f;
	char		*json;
	int		 one;

	casefrm_init(&f);
	if ((one = casefrm_oneliner(&f, c->text)) == -1)
		json = render_message(REPLY_SORRY);
	else if (one)
		json = case_oneliner(c, &f);
	else
		json = case_open(c, &f);
	casefrm_free(&f);
	return json;
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

/*
 * The slash commands this program serves: each one's name, the usage of
 * its own text (for its help), what that text runs, and the command a
 * login keeps with it (NULL: /contact, as kept searches were before).
 * A command not listed runs as /contact.
 */
static const struct contact_command contact_commands[] = {
	{ "/contact", { "smith", "search contacts whose name contains "
	    "\xe2\x80\x9c" "smith" "\xe2\x80\x9d" }, cmd_search, NULL, 0 },
	{ "/account", { "acme", "search accounts whose name contains "
	    "\xe2\x80\x9c" "acme" "\xe2\x80\x9d" }, cmd_search, "/account", 0 },
	{ "/pipeline", { "[N]", "your N (1 to 10, 10 when left out) open "
	    "opportunities, soonest close date first" }, cmd_search,
	    "/pipeline", 1 },
	/* /case keeps nothing with a login itself: its form keeps its own
	 * row (casejob.h), and the one-liner is typed again. */
	{ "/case", { "[subject: details]", "open the Case form, or create "
	    "a Case at once with \xe2\x80\x9c" "subject: details"
	    "\xe2\x80\x9d" }, cmd_case, NULL, 1 },
};

/* The entry of command (as Slack sent it); /contact's when none. */
static const struct contact_command *
contact_command(const char *command)
{
	size_t	 i;

	for (i = 0; command != NULL && i < sizeof(contact_commands) /
	    sizeof(contact_commands[0]); i++)
		if (strcmp(command, contact_commands[i].name) == 0)
			return &contact_commands[i];
	return &contact_commands[0];
}

/* Picks the sub-command: one of the words alone (or, for one that takes
 * them, followed by its words), help when empty (for /pipeline, whose
 * text may be empty, its own page), else the command's own text. */
static char *
contact_pick(struct contact *c)
{
	size_t	 i, n;

	if (c->text[0] == '\0' && c->cmd->empty)
		return c->cmd->run(c);
	if (c->text[0] == '\0')
		return cmd_help(c);
	for (i = 0; i < sizeof(contact_cmds) / sizeof(contact_cmds[0]); i++) {
		n = strlen(contact_cmds[i].word);
		if (strcasecmp(c->text, contact_cmds[i].word) == 0 ||
		    (contact_cmds[i].args && strncasecmp(c->text,
		    contact_cmds[i].word, n) == 0 && c->text[n] == ' '))
			return contact_cmds[i].run(c);
	}
	return c->cmd->run(c);
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
 * After the answer is out: the search kept with a login that confirm
 * just linked is answered (to its own response_url), and after a confirm
 * pending logins that expired are revoked along the way.
 */
static void
contact_after(struct contact *c)
{
	int	 resume = c->resume.text != NULL &&
		    c->resume_how == PAGE_RESUME_SENT;

	if (resume || c->sweep)
		reply_finish(&c->rp);
	if (resume)
		resume_run(c->s, &c->who, &c->resume);
	if (c->sweep)
		(void)proof_sweep(c->s, time(NULL), PROOF_SWEEP_SOME);
}

/* Who asks (the field map has been validated), for the logs and the
 * login pages. */
static void
contact_who(struct contact *c, const char *const *f)
{
	snprintf(c->who.team_id, sizeof(c->who.team_id), "%s",
	    f[SLASH_TEAM_ID]);
	snprintf(c->who.user_id, sizeof(c->who.user_id), "%s",
	    f[SLASH_USER_ID]);
	snprintf(c->who.enterprise_id, sizeof(c->who.enterprise_id), "%s",
	    f[SLASH_ENTERPRISE_ID] != NULL ? f[SLASH_ENTERPRISE_ID] : "");
	snprintf(c->names.team_domain, sizeof(c->names.team_domain), "%s",
	    f[SLASH_TEAM_DOMAIN] != NULL ? f[SLASH_TEAM_DOMAIN] : "");
	snprintf(c->names.user_name, sizeof(c->names.user_name), "%s",
	    f[SLASH_USER_NAME] != NULL ? f[SLASH_USER_NAME] : "");
	c->command = f[SLASH_COMMAND];
	c->cmd = contact_command(c->command);
	c->response_url = f[SLASH_RESPONSE_URL];
	c->trigger_id = f[SLASH_TRIGGER_ID];
	log_set_user(c->who.team_id, c->who.user_id);
}

/* POST /contact: read, authorize, run the sub-command, answer (now or
 * later), then what follows the answer. */
static void
contact_handle(FCGX_Request *r, struct session *s)
{
	struct contact		 c;
	struct slackreq		 q;
	enum fields_text	 tr;
	char			*json;

	memset(&c, 0, sizeof(c));
	c.s = s;
	reply_start(&c.rp, r, s);
	if (slackreq_read(&c.rp, s, fields_slash, SLASH__MAX, &q) == -1)
		goto out;
	contact_who(&c, q.field);
	if (install_gate(s, &c.rp, &c.who, &c.auth, &c.ref) == -1)
		goto out;
	reply_later(&c.rp, c.response_url, "Working on it…");
	if ((tr = contact_set_text(&c, q.field[SLASH_TEXT])) != FIELDS_TEXT_OK)
		json = contact_text_refused(tr);
	else
		json = contact_run(&c);
	if (!c.quiet)
		reply_json(&c.rp, json);
	free(json);
	install_keep_token(s, &c.rp, c.auth, &c.ref);
	contact_after(&c);
out:
	reply_end(&c.rp);
	session_as_free(&c.as);
	store_search_free(&c.resume);
	slackreq_free(&q);
}

int
main(int argc, char *argv[])
{
	return app_main(argc, argv, "contact", contact_handle);
}

/*
 * actions: Slack's interactivity endpoint, POST /slack/actions (issue 15;
 * SPEC §9).
 *
 * Slack sends every click on a button of ours, every modal submitted or
 * closed, and every message shortcut here, as one form field, `payload`,
 * holding JSON.  The request is read and verified like a command
 * (slackreq.h: the signature over the raw body before any byte is
 * decoded, 300 s, the replay cache), its payload parsed and checked
 * (payload.h), the workspace authorized (install.h), and the request
 * handed to the handler the table below names (cgi/actions.h).
 *
 * Slack reads no body from the answer to a click or a shortcut, so those
 * are acknowledged with an empty 200 at once and answered at their
 * response_url; a view_submission is answered with its response_action
 * by its handler.  A link button ("Open in Salesforce") still sends a
 * click: it is acknowledged and nothing else.  A click on a button this
 * build does not know (an old message) gets a short ephemeral answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include "actions.h"
#include "app.h"
#include "fields.h"
#include "install.h"
#include "log.h"
#include "slackreq.h"

/* A link button: Slack opens the URL itself and tells us of the click. */
static void
actions_link(struct action_req *a)
{
	(void)a;
}

static const struct action_route actions_routes[] = {
	{ PAYLOAD_BLOCK_ACTIONS,	"open",		actions_link },
	{ PAYLOAD_BLOCK_ACTIONS,	"share",	actions_share },
	{ PAYLOAD_BLOCK_ACTIONS,	"more",		actions_more },
	{ PAYLOAD_VIEW_SUBMISSION,	"case",		actions_case_submit },
	{ PAYLOAD_VIEW_CLOSED,		"case",		actions_case_closed },
	{ PAYLOAD_MESSAGE_ACTION,	"create_case",	actions_case_shortcut },
};

/* The handler for p: by action_id for a click, else by callback_id;
 * NULL when there is none. */
static const struct action_route *
actions_route(const struct payload *p)
{
	const char	*id;
	size_t		 i;

	id = p->type == PAYLOAD_BLOCK_ACTIONS ? p->action_id : p->callback_id;
	for (i = 0; i < sizeof(actions_routes) / sizeof(actions_routes[0]);
	    i++)
		if (actions_routes[i].type == p->type &&
		    strcmp(actions_routes[i].id, id) == 0)
			return &actions_routes[i];
	return NULL;
}

/*
 * A payload no handler serves: a click or a shortcut (acknowledged
 * already) is told so at its response_url; a view (one this build did not open)
 * is closed with an empty answer.  Logged, by the id only.
 */
static void
actions_unknown(struct action_req *a)
{
	log_event(LOGL_WARN, "actions.route", "outcome=unknown type=%s id=%s",
	    payload_type_str(a->p.type), a->p.type == PAYLOAD_BLOCK_ACTIONS ?
	    a->p.action_id : a->p.callback_id);
	if (a->p.type == PAYLOAD_VIEW_SUBMISSION ||
	    a->p.type == PAYLOAD_VIEW_CLOSED) {
		reply_raw(&a->rp, "");
		return;
	}
	reply_message(&a->rp, "forcelink no longer knows this button or "
	    "shortcut. Run the command again.");
}

/*
 * Parses the payload; returns 0, or -1 after answering: 400 for a
 * malformed one, an empty 200 for a type forcelink does not serve (a
 * global shortcut configured by mistake: Slack shows no error).
 */
static int
actions_parse(struct action_req *a, const char *json)
{
	enum payload_result	 pr;
	const char		*bad;

	pr = payload_parse(json, strlen(json), &a->p, &bad);
	if (pr == PAYLOAD_OK)
		return 0;
	log_event(LOGL_WARN, "request.payload", "outcome=\"%s\" field=%s",
	    payload_result_str(pr), bad != NULL ? bad : "-");
	if (pr == PAYLOAD_UNSERVED)
		reply_raw(&a->rp, "");
	else if (pr == PAYLOAD_NOMEM)
		reply_plain(&a->rp, 500, "out of memory\n");
	else
		reply_plain(&a->rp, 400, "malformed payload\n");
	return -1;
}

/* POST /slack/actions: read, verify, parse, authorize, dispatch. */
static void
actions_handle(FCGX_Request *r, struct session *s)
{
	struct action_req		 a;
	struct slackreq			 q;
	const struct action_route	*rt;

	memset(&a, 0, sizeof(a));
	a.s = s;
	reply_start(&a.rp, r, s);
	if (slackreq_read_max(&a.rp, s, fields_actions, ACTIONS__MAX,
	    PAYLOAD_MAX, &q) == -1)
		goto out;
	if (actions_parse(&a, q.field[ACTIONS_PAYLOAD]) == -1)
		goto out;
	log_set_user(a.p.who.team_id, a.p.who.user_id);
	if (a.p.response_url[0] != '\0')
		reply_later(&a.rp, a.p.response_url, NULL);
	/* Slack reads no body from the answer to a click or a shortcut:
	 * it has its 200 now, and every answer goes to response_url. */
	if (a.p.type == PAYLOAD_BLOCK_ACTIONS ||
	    a.p.type == PAYLOAD_MESSAGE_ACTION)
		reply_ack(&a.rp);
	if (install_gate(s, &a.rp, &a.p.who, &a.auth, &a.ref) == -1)
		goto out;
	if ((rt = actions_route(&a.p)) == NULL) {
		actions_unknown(&a);
		goto out;
	}
	log_event(LOGL_INFO, "actions.route", "type=%s id=%s",
	    payload_type_str(a.p.type), rt->id);
	(void)session_mode(s, &a.p.who, &a.as);
	rt->run(&a);
	install_keep_token(s, &a.rp, a.auth, &a.ref);
out:
	reply_end(&a.rp);
	session_as_free(&a.as);
	payload_free(&a.p);
	slackreq_free(&q);
}

int
main(int argc, char *argv[])
{
	return app_main(argc, argv, "actions", actions_handle);
}

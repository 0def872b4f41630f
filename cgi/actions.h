/*
 * actions: what the program behind POST /slack/actions shares with its
 * handlers (issue 15).
 *
 * cgi/actions.c reads and verifies the request (slackreq.h: signature
 * over the raw body, 300 s, replay cache), parses its `payload`
 * (payload.h), authorizes the workspace (install.h) and hands the
 * request to the handler its table names:
 *
 *  - block_actions: by the action's action_id (a button's);
 *  - view_submission and view_closed: by the view's callback_id;
 *  - message_action: by the shortcut's callback_id.
 *
 * A handler answers through a->rp like any command: reply_json() with a
 * message (ephemeral, to response_url when late) or with a
 * view_submission's response_action body, reply_finish() before work
 * Slack does not wait for.  Every Salesforce call comes after the
 * acknowledgement.  The 3-second rule is reply.h's; a handler may call
 * reply_later() with its own "Working on it" text.
 */
#ifndef FORCELINK_ACTIONS_H
#define FORCELINK_ACTIONS_H

#include "payload.h"
#include "reply.h"
#include "session.h"

struct action_req {
	struct reply	 rp;
	struct session	*s;
	struct payload	 p;
	struct session_as as;		/* filled by session_mode() before the
					   handler runs */
};

typedef void	(*action_fn)(struct action_req *);

/* One entry of the dispatch table: a payload type and the action_id or
 * callback_id it is for. */
struct action_route {
	enum payload_type	 type;
	const char		*id;
	action_fn		 run;
};

/* The Case form (cgi/actions_case.c): view_submission and view_closed
 * of callback_id "case", and the message shortcut "create_case". */
void	actions_case_submit(struct action_req *);
void	actions_case_closed(struct action_req *);
void	actions_case_shortcut(struct action_req *);

#endif

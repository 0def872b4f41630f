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
 * A click (block_actions) or a shortcut (message_action) has been
 * acknowledged with an empty 200 before its handler runs (Slack reads
 * no body from that answer): its messages go to the payload's
 * response_url through reply_json().  A view_submission's handler
 * answers with reply_raw(): its response_action, or "" to close the
 * modal; reply_later_raw() sets what the deadline answers meanwhile.  Every Salesforce call comes after the
 * acknowledgement.  The 3-second rule is reply.h's; a handler may call
 * reply_later() with its own "Working on it" text.
 */
#ifndef FORCELINK_ACTIONS_H
#define FORCELINK_ACTIONS_H

#include "install.h"
#include "payload.h"
#include "reply.h"
#include "session.h"

struct action_req {
	struct reply		 rp;
	struct session		*s;
	struct payload		 p;
	struct session_as	 as;	/* filled by session_mode() before the
					   handler runs */
	/* What install_gate() said of the workspace: for
	 * install_web_token(), the bot token of views.open and the like. */
	enum install_auth	 auth;
	struct store_install_ref ref;
};

typedef void	(*action_fn)(struct action_req *);

/* One entry of the dispatch table: a payload type and the action_id or
 * callback_id it is for. */
struct action_route {
	enum payload_type	 type;
	const char		*id;
	action_fn		 run;
};

/* The buttons of search results (cgi/actions_search.c): "Share in
 * channel" (action_id "share") and "More" ("more"). */
void	actions_share(struct action_req *);
void	actions_more(struct action_req *);

/* The Case form (cgi/actions_case.c): view_submission and view_closed
 * of callback_id "case", and the message shortcut "create_case". */
void	actions_case_submit(struct action_req *);
void	actions_case_closed(struct action_req *);
void	actions_case_shortcut(struct action_req *);

#endif

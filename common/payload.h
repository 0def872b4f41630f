/*
 * payload: one Slack interactivity payload (issue 15), parsed and checked.
 *
 * POST /slack/actions carries a single form field, `payload`, holding
 * JSON.  slackreq_read() has verified the signature over the raw body
 * and refused a replay before this module sees a byte of it.  Here the
 * JSON is parsed strictly (sf_json_parse_strict: well-formed UTF-8, no
 * trailing bytes, bounded depth) and every field a handler may read is
 * checked for its documented shape and copied into struct payload:
 * Slack ids are [A-Z0-9] of bounded length, a response_url must be
 * https, a view id and hash are bounded, and so on.  A payload of a
 * type we do not serve, or one missing what its type needs, is
 * refused as a whole (PAYLOAD_BAD) with the name of the first field at
 * fault, safe to log; no value is ever logged.
 *
 * Nothing in a payload is trusted beyond its shape: a button's value, a
 * view's private_metadata and callback_id, an action's block_id come
 * back from a client we do not control, so forcelink puts nothing in
 * them but opaque keys into sealed server-side rows (store.h, "Action
 * rows"), and a handler looks the key up for the user who pressed.
 *
 * Types served (PROTOCOLS.md, "Interactivity endpoint and modals"):
 *  - block_actions: a button in a message (or a modal); the first
 *    action's action_id, block_id and value;
 *  - view_submission: a modal's Submit; the view's id, hash,
 *    callback_id, private_metadata and state.values;
 *  - view_closed: a modal closed with notify_on_close;
 *  - message_action: a message shortcut; its callback_id, the message's
 *    text and ts, and the channel.
 */
#ifndef FORCELINK_PAYLOAD_H
#define FORCELINK_PAYLOAD_H

#include <stddef.h>

#include "slack.h"
#include "slackweb.h"

struct json_object;

/* Longest payload JSON taken (the form field, decoded). */
#define PAYLOAD_MAX		(256 * 1024)
/* Slack's own bounds on what we set and it echoes back. */
#define PAYLOAD_ACTION_ID_MAX	255
#define PAYLOAD_BLOCK_ID_MAX	255
#define PAYLOAD_VALUE_MAX	2000
#define PAYLOAD_CALLBACK_ID_MAX	255
#define PAYLOAD_METADATA_MAX	3000
#define PAYLOAD_URL_MAX		2048
#define PAYLOAD_NAME_MAX	255
/* Longest message text taken from a message shortcut (Slack's own
 * limit on a message is 40,000 characters). */
#define PAYLOAD_MESSAGE_MAX	(40000 * 4)

enum payload_type {
	PAYLOAD_BLOCK_ACTIONS,
	PAYLOAD_VIEW_SUBMISSION,
	PAYLOAD_VIEW_CLOSED,
	PAYLOAD_MESSAGE_ACTION
};

enum payload_result {
	PAYLOAD_OK,
	PAYLOAD_BAD,		/* not JSON, or a field of the wrong shape */
	PAYLOAD_UNSERVED,	/* a well-formed type we do not serve */
	PAYLOAD_NOMEM
};

const char	*payload_type_str(enum payload_type);
const char	*payload_result_str(enum payload_result);

/*
 * A checked payload.  Every string is NUL-terminated and "" when Slack
 * did not send it (fields a type needs are never ""; see
 * payload_parse).  Pointers are owned by the struct: release with
 * payload_free().
 */
struct payload {
	enum payload_type	 type;
	/* Who: user.id, the team (team.id, or user.team_id when team is
	 * null for an org-wide install) and enterprise.id (or "").  A
	 * handler acts for this user only. */
	struct slack_user	 who;
	char			 user_name[PAYLOAD_NAME_MAX + 1];
	char			 team_domain[PAYLOAD_NAME_MAX + 1];
	char			 api_app_id[SLACK_ID_MAX + 1];
	/* For views.open; valid 3 s and once. */
	char			 trigger_id[SLACKWEB_TRIGGER_MAX + 1];
	/* https only; "" when Slack sent none (a modal's actions). */
	char			 response_url[PAYLOAD_URL_MAX + 1];
	char			 channel_id[SLACK_ID_MAX + 1];

	/* block_actions: the first (Slack sends one per click) action. */
	char			 action_id[PAYLOAD_ACTION_ID_MAX + 1];
	char			 block_id[PAYLOAD_BLOCK_ID_MAX + 1];
	char			*value;		/* "" for a link button */

	/* message_action, and a view's callback_id. */
	char			 callback_id[PAYLOAD_CALLBACK_ID_MAX + 1];

	/* view_submission, view_closed, and block_actions in a modal. */
	char			 view_id[SLACKWEB_VIEW_ID_MAX + 1];
	char			 view_hash[SLACKWEB_HASH_MAX + 1];
	char			*private_metadata;
	/* view.state.values: {block_id: {action_id: {type, value |
	 * selected_option ...}}}, borrowed from root; read it with
	 * payload_input(). */
	struct json_object	*values;

	/* message_action: the message. */
	char			*message_text;
	char			 message_ts[32];
	char			 message_user[SLACK_ID_MAX + 1];

	struct json_object	*root;
};

/*
 * Parses and checks json (len bytes) into *p.  PAYLOAD_OK, or
 * PAYLOAD_BAD with *bad naming the first field at fault, or
 * PAYLOAD_UNSERVED with *bad the type, or PAYLOAD_NOMEM.  Release *p
 * with payload_free() whatever the result.
 */
enum payload_result payload_parse(const char *json, size_t len,
		    struct payload *p, const char **bad);

/*
 * The value a view's input block_id/action_id holds in p->values: a
 * plain_text_input's value, or a static_select's selected_option.value.
 * NULL when the input is absent or empty (Slack sends null for an empty
 * optional input); "" is never returned.  The string is borrowed from p.
 */
const char	*payload_input(const struct payload *p, const char *block_id,
		    const char *action_id);

void		 payload_free(struct payload *);

#endif

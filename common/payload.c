/*
 * payload: one Slack interactivity payload, parsed and checked (see
 * payload.h).
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "form.h"
#include "jsonb.h"
#include "payload.h"
#include "sf.h"

static const char *const payload_type_names[] = {
	"block_actions", "view_submission", "view_closed", "message_action"
};

/* Types Slack sends that forcelink does not serve: a payload of one is
 * answered with an empty 200, so that a misconfigured app shows no
 * error, and logged. */
static const char *const payload_unserved[] = {
	"shortcut", "block_suggestion", "interactive_message",
	"dialog_submission", "dialog_cancellation", "dialog_suggestion",
	"workflow_step_edit"
};

static const char *const payload_result_names[] = {
	"ok", "malformed", "unserved", "out of memory"
};

const char *
payload_type_str(enum payload_type t)
{
	return (size_t)t < sizeof(payload_type_names) /
	    sizeof(payload_type_names[0]) ? payload_type_names[t] : "unknown";
}

const char *
payload_result_str(enum payload_result r)
{
	return (size_t)r < sizeof(payload_result_names) /
	    sizeof(payload_result_names[0]) ? payload_result_names[r] :
	    "unknown";
}

/*
 * Shapes: a Slack id ([A-Z0-9], form_valid_slack_id); a value forcelink
 * sets and Slack echoes (action_id, block_id, callback_id): printable
 * ASCII, as forcelink never sets anything else; the view id, hash,
 * trigger id and message ts as slackweb.h knows them.
 */
static int
payload_valid_ts(const char *s, size_t n)
{
	(void)n;
	return slackweb_valid_ts(s);
}

/* Member key of obj as an object: 1 with *out, 0 when absent or null,
 * -1 when of another type. */
static int
payload_object(struct json_object *obj, const char *key,
    struct json_object **out)
{
	struct json_object	*v;

	*out = NULL;
	if (obj == NULL || !json_object_object_get_ex(obj, key, &v) ||
	    json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_object))
		return -1;
	*out = v;
	return 1;
}

/*
 * Copies string member key of obj into out (size outsz, so at most
 * outsz - 1 bytes are taken), checked by valid (NULL: any UTF-8, which
 * the strict parse already ensured).  Absent, null or "" leaves out ""
 * and is refused only when required.  Returns 0, or -1 with *bad = name.
 */
static int
payload_copy(struct json_object *obj, const char *key, const char *name,
    char *out, size_t outsz, int (*valid)(const char *, size_t),
    int required, const char **bad)
{
	const char	*s = "";
	size_t		 n = 0;
	int		 m;

	out[0] = '\0';
	if ((m = jsonb_str(obj, key, &s, &n)) == -1 || n >= outsz ||
	    (n > 0 && valid != NULL && !valid(s, n)) ||
	    ((m == 0 || n == 0) && required)) {
		*bad = name;
		return -1;
	}
	if (m == 1)
		memcpy(out, s, n + 1);
	return 0;
}

/* payload_copy() into an allocated string of at most max bytes ("" when
 * absent).  Returns 0, -1 with *bad, or -2 on memory exhaustion. */
static int
payload_dup(struct json_object *obj, const char *key, const char *name,
    size_t max, char **out, const char **bad)
{
	const char	*s = "";
	size_t		 n = 0;

	if (jsonb_str(obj, key, &s, &n) == -1 || n > max) {
		*bad = name;
		return -1;
	}
	if ((*out = strndup(s, n)) == NULL)
		return -2;
	return 0;
}

/*
 * Who: user.id (required), the team (team.id, else user.team_id: team
 * is null when the app is installed org-wide) and enterprise.id.
 */
static int
payload_who(struct json_object *root, struct payload *p, const char **bad)
{
	struct json_object	*user, *team, *ent;

	if (payload_object(root, "user", &user) != 1) {
		*bad = "user";
		return -1;
	}
	if (payload_object(root, "team", &team) == -1 ||
	    payload_object(root, "enterprise", &ent) == -1) {
		*bad = "team";
		return -1;
	}
	if (payload_copy(user, "id", "user.id", p->who.user_id,
	    sizeof(p->who.user_id), form_valid_slack_id, 1, bad) == -1 ||
	    payload_copy(user, "username", "user.username", p->user_name,
	    sizeof(p->user_name), NULL, 0, bad) == -1 ||
	    payload_copy(ent, "id", "enterprise.id", p->who.enterprise_id,
	    sizeof(p->who.enterprise_id), form_valid_slack_id, 0, bad) == -1)
		return -1;
	if (team != NULL) {
		if (payload_copy(team, "id", "team.id", p->who.team_id,
		    sizeof(p->who.team_id), form_valid_slack_id, 1, bad) == -1 ||
		    payload_copy(team, "domain", "team.domain",
		    p->team_domain, sizeof(p->team_domain), NULL, 0,
		    bad) == -1)
			return -1;
	} else if (payload_copy(user, "team_id", "user.team_id",
	    p->who.team_id, sizeof(p->who.team_id), form_valid_slack_id, 1,
	    bad) == -1)
		return -1;
	return 0;
}

/* What every type may carry: the app, the trigger, the response_url and
 * the channel. */
static int
payload_common(struct json_object *root, struct payload *p, const char **bad)
{
	struct json_object	*chan;

	if (payload_object(root, "channel", &chan) == -1) {
		*bad = "channel";
		return -1;
	}
	return payload_copy(root, "api_app_id", "api_app_id", p->api_app_id,
	    sizeof(p->api_app_id), form_valid_slack_id, 0, bad) == -1 ||
	    payload_copy(root, "trigger_id", "trigger_id", p->trigger_id,
	    sizeof(p->trigger_id), slackweb_valid_trigger, 0, bad) == -1 ||
	    payload_copy(root, "response_url", "response_url",
	    p->response_url, sizeof(p->response_url), form_valid_https_url,
	    0, bad) == -1 ||
	    payload_copy(chan, "id", "channel.id", p->channel_id,
	    sizeof(p->channel_id), form_valid_slack_id, 0, bad) == -1 ? -1 : 0;
}

/*
 * The view: id required for view_submission and view_closed (need), its
 * hash, callback_id, private_metadata, and state.values (an object, or
 * absent).
 */
static int
payload_view(struct json_object *root, struct payload *p, int need,
    const char **bad)
{
	struct json_object	*view, *state;
	int			 r;

	if ((r = payload_object(root, "view", &view)) == -1 ||
	    (r == 0 && need)) {
		*bad = "view";
		return -1;
	}
	if (view == NULL)
		return 0;
	if (payload_copy(view, "id", "view.id", p->view_id,
	    sizeof(p->view_id), slackweb_valid_view_id, need, bad) == -1 ||
	    payload_copy(view, "hash", "view.hash", p->view_hash,
	    sizeof(p->view_hash), slackweb_valid_hash, 0, bad) == -1)
		return -1;
	if (need && payload_copy(view, "callback_id", "view.callback_id",
	    p->callback_id, sizeof(p->callback_id), form_valid_printable, 0,
	    bad) == -1)
		return -1;
	if ((r = payload_dup(view, "private_metadata", "view.private_metadata",
	    PAYLOAD_METADATA_MAX, &p->private_metadata, bad)) != 0)
		return r;
	if (payload_object(view, "state", &state) == -1 ||
	    payload_object(state, "values", &p->values) == -1) {
		*bad = "view.state.values";
		return -1;
	}
	return 0;
}

/* block_actions: the first action (a click sends one). */
static int
payload_action(struct json_object *root, struct payload *p, const char **bad)
{
	struct json_object	*arr, *a;

	if (!json_object_object_get_ex(root, "actions", &arr) ||
	    !json_object_is_type(arr, json_type_array) ||
	    json_object_array_length(arr) < 1 ||
	    (a = json_object_array_get_idx(arr, 0)) == NULL ||
	    !json_object_is_type(a, json_type_object)) {
		*bad = "actions";
		return -1;
	}
	if (payload_copy(a, "action_id", "actions.action_id", p->action_id,
	    sizeof(p->action_id), form_valid_printable, 1, bad) == -1 ||
	    payload_copy(a, "block_id", "actions.block_id", p->block_id,
	    sizeof(p->block_id), form_valid_printable, 0, bad) == -1)
		return -1;
	return payload_dup(a, "value", "actions.value", PAYLOAD_VALUE_MAX,
	    &p->value, bad);
}

/* message_action: the shortcut's callback_id and the message. */
static int
payload_message(struct json_object *root, struct payload *p, const char **bad)
{
	struct json_object	*msg;

	if (payload_copy(root, "callback_id", "callback_id", p->callback_id,
	    sizeof(p->callback_id), form_valid_printable, 1, bad) == -1)
		return -1;
	if (payload_object(root, "message", &msg) != 1) {
		*bad = "message";
		return -1;
	}
	if (payload_copy(msg, "ts", "message.ts", p->message_ts,
	    sizeof(p->message_ts), payload_valid_ts, 1, bad) == -1 ||
	    payload_copy(msg, "user", "message.user", p->message_user,
	    sizeof(p->message_user), form_valid_slack_id, 0, bad) == -1)
		return -1;
	return payload_dup(msg, "text", "message.text", PAYLOAD_MESSAGE_MAX,
	    &p->message_text, bad);
}

/* The type: served (0 with *t), unserved (1), or not a type (-1). */
static int
payload_type(struct json_object *root, enum payload_type *t)
{
	const char	*s;
	size_t		 i, n;

	if (jsonb_str(root, "type", &s, &n) != 1)
		return -1;
	for (i = 0; i < sizeof(payload_type_names) /
	    sizeof(payload_type_names[0]); i++)
		if (strcmp(s, payload_type_names[i]) == 0) {
			*t = (enum payload_type)i;
			return 0;
		}
	for (i = 0; i < sizeof(payload_unserved) /
	    sizeof(payload_unserved[0]); i++)
		if (strcmp(s, payload_unserved[i]) == 0)
			return 1;
	return -1;
}

enum payload_result
payload_parse(const char *json, size_t len, struct payload *p,
    const char **bad)
{
	int	 r, t;

	memset(p, 0, sizeof(*p));
	*bad = NULL;
	if (len > PAYLOAD_MAX || (p->root = sf_json_parse_strict(json,
	    len)) == NULL || !json_object_is_type(p->root,
	    json_type_object)) {
		*bad = "payload";
		return PAYLOAD_BAD;
	}
	if ((t = payload_type(p->root, &p->type)) != 0) {
		*bad = "type";
		return t == 1 ? PAYLOAD_UNSERVED : PAYLOAD_BAD;
	}
	if (payload_who(p->root, p, bad) == -1 ||
	    payload_common(p->root, p, bad) == -1)
		return PAYLOAD_BAD;
	switch (p->type) {
	case PAYLOAD_BLOCK_ACTIONS:
		if ((r = payload_action(p->root, p, bad)) == 0)
			r = payload_view(p->root, p, 0, bad);
		break;
	case PAYLOAD_VIEW_SUBMISSION:
	case PAYLOAD_VIEW_CLOSED:
		r = payload_view(p->root, p, 1, bad);
		break;
	default:
		r = payload_message(p->root, p, bad);
		break;
	}
	if (r == -2)
		return PAYLOAD_NOMEM;
	if (r != 0)
		return PAYLOAD_BAD;
	/* Every string a handler reads is a string, "" when absent. */
	if ((p->value == NULL && (p->value = strdup("")) == NULL) ||
	    (p->private_metadata == NULL &&
	    (p->private_metadata = strdup("")) == NULL) ||
	    (p->message_text == NULL &&
	    (p->message_text = strdup("")) == NULL))
		return PAYLOAD_NOMEM;
	return PAYLOAD_OK;
}

const char *
payload_input(const struct payload *p, const char *block_id,
    const char *action_id)
{
	struct json_object	*block, *input, *opt;
	const char		*s;
	size_t			 n;

	if (payload_object(p->values, block_id, &block) != 1 ||
	    payload_object(block, action_id, &input) != 1)
		return NULL;
	if (jsonb_str(input, "value", &s, &n) == 1)
		return n > 0 ? s : NULL;
	if (payload_object(input, "selected_option", &opt) == 1 &&
	    jsonb_str(opt, "value", &s, &n) == 1)
		return n > 0 ? s : NULL;
	return NULL;
}

void
payload_free(struct payload *p)
{
	free(p->value);
	free(p->private_metadata);
	free(p->message_text);
	if (p->root != NULL)
		json_object_put(p->root);
	memset(p, 0, sizeof(*p));
}

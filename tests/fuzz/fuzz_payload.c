/*
 * fuzz_payload: Slack interactivity payloads (payload.h), the JSON of
 * POST /slack/actions' one form field.
 *
 * The input is the payload's JSON as it would arrive (after the form's
 * decoding); it is handed to payload_parse and, when accepted, to
 * payload_input for the ids a Case form uses and for ids from the input.
 *
 * Asserted beyond "no crash, no leak": an accepted payload is of a served
 * type and carries everything its type needs, every string is
 * NUL-terminated within its field with no NUL inside the parsed value,
 * ids are of Slack's alphabet ([A-Z0-9], at most SLACK_ID_MAX), the
 * response_url is "" or an https URL without a user part, spaces,
 * quotes or angle brackets, the values Slack echoes (action_id,
 * block_id, callback_id) are printable ASCII within their maxima, the
 * value, metadata and message text within theirs; payload_input never
 * answers "".  A refusal always names the field at fault.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"
#include "fuzz.h"
#include "payload.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* s is "" or valid by valid, and shorter than max. */
static void
field(const char *s, size_t max, int (*valid)(const char *, size_t))
{
	size_t	 n = strnlen(s, max + 1);

	FUZZ_REQUIRE(n <= max);
	FUZZ_REQUIRE(n == 0 || valid == NULL || valid(s, n));
}

static void
input(const struct payload *p, const char *block, const char *action)
{
	const char	*v = payload_input(p, block, action);

	FUZZ_REQUIRE(v == NULL || v[0] != '\0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct payload		 p;
	enum payload_result	 r;
	const char		*bad = NULL;
	char			*json;

	json = fuzz_strndup(data, size);
	r = payload_parse(json, size, &p, &bad);
	if (r != PAYLOAD_OK) {
		FUZZ_REQUIRE(r == PAYLOAD_NOMEM || bad != NULL);
		payload_free(&p);
		free(json);
		return 0;
	}
	FUZZ_REQUIRE(bad == NULL);
	FUZZ_REQUIRE(p.type == PAYLOAD_BLOCK_ACTIONS ||
	    p.type == PAYLOAD_VIEW_SUBMISSION ||
	    p.type == PAYLOAD_VIEW_CLOSED || p.type == PAYLOAD_MESSAGE_ACTION);
	/* Who is always known, in Slack's alphabet. */
	FUZZ_REQUIRE(p.who.user_id[0] != '\0' && p.who.team_id[0] != '\0');
	field(p.who.user_id, SLACK_ID_MAX, form_valid_slack_id);
	field(p.who.team_id, SLACK_ID_MAX, form_valid_slack_id);
	field(p.who.enterprise_id, SLACK_ID_MAX, form_valid_slack_id);
	field(p.api_app_id, SLACK_ID_MAX, form_valid_slack_id);
	field(p.channel_id, SLACK_ID_MAX, form_valid_slack_id);
	field(p.message_user, SLACK_ID_MAX, form_valid_slack_id);
	field(p.response_url, PAYLOAD_URL_MAX, form_valid_https_url);
	field(p.trigger_id, SLACKWEB_TRIGGER_MAX, slackweb_valid_trigger);
	field(p.view_id, SLACKWEB_VIEW_ID_MAX, slackweb_valid_view_id);
	field(p.view_hash, SLACKWEB_HASH_MAX, slackweb_valid_hash);
	field(p.action_id, PAYLOAD_ACTION_ID_MAX, form_valid_printable);
	field(p.block_id, PAYLOAD_BLOCK_ID_MAX, form_valid_printable);
	field(p.callback_id, PAYLOAD_CALLBACK_ID_MAX, form_valid_printable);
	field(p.user_name, PAYLOAD_NAME_MAX, NULL);
	field(p.team_domain, PAYLOAD_NAME_MAX, NULL);
	FUZZ_REQUIRE(p.value != NULL && p.private_metadata != NULL &&
	    p.message_text != NULL);
	field(p.value, PAYLOAD_VALUE_MAX, NULL);
	field(p.private_metadata, PAYLOAD_METADATA_MAX, NULL);
	field(p.message_text, PAYLOAD_MESSAGE_MAX, NULL);
	/* What each type needs. */
	switch (p.type) {
	case PAYLOAD_BLOCK_ACTIONS:
		FUZZ_REQUIRE(p.action_id[0] != '\0');
		break;
	case PAYLOAD_VIEW_SUBMISSION:
	case PAYLOAD_VIEW_CLOSED:
		FUZZ_REQUIRE(p.view_id[0] != '\0');
		break;
	case PAYLOAD_MESSAGE_ACTION:
		FUZZ_REQUIRE(p.callback_id[0] != '\0' &&
		    p.message_ts[0] != '\0');
		FUZZ_REQUIRE(slackweb_valid_ts(p.message_ts));
		break;
	}
	input(&p, "subject", "subject");
	input(&p, "priority", "priority");
	input(&p, p.block_id, p.action_id);
	input(&p, p.action_id, p.block_id);
	payload_free(&p);
	free(json);
	return 0;
}

/*
 * fields: the tables of fields each program accepts (see fields.h).
 */
#include <stddef.h>

#include "fields.h"
#include "slack.h"

/* enterprise_id is empty outside Enterprise Grid. */
static int
fields_enterprise_id(const char *s, size_t len)
{
	return len == 0 || form_valid_slack_id(s, len);
}

const struct form_field fields_contact[] = {
	{ "team_id",		SLACK_ID_MAX, form_valid_slack_id, 1 },
	{ "user_id",		SLACK_ID_MAX, form_valid_slack_id, 1 },
	{ "enterprise_id",	SLACK_ID_MAX, fields_enterprise_id, 0 },
	{ "user_name",		256, NULL, 0 },
	{ "command",		64, NULL, 0 },
	{ "text",		FIELDS_TEXT_MAX, NULL, 0 },
	{ "response_url",	2048, form_valid_https_url, 0 },
	{ "token",		256, form_valid_printable, 0 },
	{ "ssl_check",		8, form_valid_printable, 0 },
	{ "team_domain",	256, NULL, 0 },
	{ "enterprise_name",	256, NULL, 0 },
	{ "channel_id",		SLACK_ID_MAX, NULL, 0 },
	{ "channel_name",	256, NULL, 0 },
	{ "trigger_id",		256, NULL, 0 },
	{ "api_app_id",		SLACK_ID_MAX, NULL, 0 },
	{ "is_enterprise_install", 8, NULL, 0 },
};
const size_t fields_ncontact =
    sizeof(fields_contact) / sizeof(fields_contact[0]);

const struct form_field fields_start[] = {
	{ "state",		128, form_valid_token, 1 },
};
const size_t fields_nstart = sizeof(fields_start) / sizeof(fields_start[0]);

const struct form_field fields_start_post[] = {
	{ "state",		128, form_valid_token, 1 },
	{ "csrf",		64, form_valid_token, 1 },
};
const size_t fields_nstart_post =
    sizeof(fields_start_post) / sizeof(fields_start_post[0]);

const struct form_field fields_callback[] = {
	{ "state",		128, form_valid_token, 0 },
	{ "code",		1024, form_valid_printable, 0 },
	{ "error",		128, form_valid_printable, 0 },
	{ "error_description",	1024, NULL, 0 },
	{ "error_uri",		1024, NULL, 0 },
};
const size_t fields_ncallback =
    sizeof(fields_callback) / sizeof(fields_callback[0]);

const struct form_field fields_slack_redirect[] = {
	{ "state",		128, form_valid_token, 0 },
	{ "code",		1024, form_valid_printable, 0 },
	{ "error",		128, form_valid_printable, 0 },
	{ "error_description",	1024, NULL, 0 },
};
const size_t fields_nslack_redirect =
    sizeof(fields_slack_redirect) / sizeof(fields_slack_redirect[0]);

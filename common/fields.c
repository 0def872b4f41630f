/*
 * fields: the tables of fields each program accepts (see fields.h).
 */
#include <stddef.h>

#include "fields.h"
#include "slack.h"

static const char *const fields_text_names[] = {
	"ok", "too long", "control character", "invalid UTF-8"
};

/* The text is judged by fields_text_check() once the request is known to
 * be Slack's, so that the user gets a message (see fields.h). */
static int
fields_text_any(const char *s, size_t len)
{
	(void)s;
	(void)len;
	return 1;
}

enum fields_text
fields_text_check(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, chars = 0;

	if (!form_utf8_ok(s, len))
		return FIELDS_TEXT_BAD_UTF8;
	for (i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return FIELDS_TEXT_CONTROL;
		/* C1 controls (U+0080..U+009F) are encoded as C2 80..C2 9F;
		 * in well-formed UTF-8 a C2 is always a lead byte. */
		if (p[i] == 0xc2 && i + 1 < len && p[i + 1] <= 0x9f)
			return FIELDS_TEXT_CONTROL;
		/* Every byte but a continuation byte starts a character. */
		if ((p[i] & 0xc0) != 0x80)
			chars++;
	}
	return chars > FIELDS_TEXT_CHARS ? FIELDS_TEXT_TOO_LONG :
	    FIELDS_TEXT_OK;
}

const char *
fields_text_str(enum fields_text r)
{
	return (size_t)r < sizeof(fields_text_names) /
	    sizeof(fields_text_names[0]) ? fields_text_names[r] : "unknown";
}

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
	{ "text",		SLACK_BODY_MAX, fields_text_any, 0 },
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

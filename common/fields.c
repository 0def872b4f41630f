/*
 * fields: the tables of fields each program accepts (see fields.h).
 */
#include <stddef.h>

#include "fields.h"
#include "payload.h"
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

const struct form_field fields_slash[SLASH__MAX] = {
	[SLASH_TEAM_ID] =	{ "team_id", SLACK_ID_MAX, form_valid_slack_id, 1 },
	[SLASH_USER_ID] =	{ "user_id", SLACK_ID_MAX, form_valid_slack_id, 1 },
	[SLASH_ENTERPRISE_ID] =	{ "enterprise_id", SLACK_ID_MAX,
				    fields_enterprise_id, 0 },
	[SLASH_USER_NAME] =	{ "user_name", 256, NULL, 0 },
	[SLASH_COMMAND] =	{ "command", 64, NULL, 0 },
	[SLASH_TEXT] =		{ "text", SLACK_BODY_MAX, fields_text_any, 0 },
	[SLASH_RESPONSE_URL] =	{ "response_url", 2048, form_valid_https_url,
				    0 },
	[SLASH_TOKEN] =		{ "token", 256, form_valid_printable, 0 },
	[SLASH_SSL_CHECK] =	{ "ssl_check", 8, form_valid_printable, 0 },
	[SLASH_TEAM_DOMAIN] =	{ "team_domain", 256, NULL, 0 },
	[SLASH_ENTERPRISE_NAME] = { "enterprise_name", 256, NULL, 0 },
	[SLASH_CHANNEL_ID] =	{ "channel_id", SLACK_ID_MAX, NULL, 0 },
	[SLASH_CHANNEL_NAME] =	{ "channel_name", 256, NULL, 0 },
	[SLASH_TRIGGER_ID] =	{ "trigger_id", 256, NULL, 0 },
	[SLASH_API_APP_ID] =	{ "api_app_id", SLACK_ID_MAX, NULL, 0 },
	[SLASH_IS_ENTERPRISE_INSTALL] = { "is_enterprise_install", 8, NULL,
				    0 },
};

const struct form_field fields_login[LOGIN__MAX] = {
	[LOGIN_STATE] =		{ "state", 128, form_valid_token, 1 },
};

const struct form_field fields_continue[CONTINUE__MAX] = {
	[CONTINUE_STATE] =	{ "state", 128, form_valid_token, 1 },
	[CONTINUE_CSRF] =	{ "csrf", 64, form_valid_token, 1 },
};

const struct form_field fields_callback[CALLBACK__MAX] = {
	[CALLBACK_STATE] =	{ "state", 128, form_valid_token, 0 },
	[CALLBACK_CODE] =	{ "code", 1024, form_valid_printable, 0 },
	[CALLBACK_ERROR] =	{ "error", 128, form_valid_printable, 0 },
	[CALLBACK_ERROR_DESCRIPTION] = { "error_description", 1024, NULL, 0 },
	[CALLBACK_ERROR_URI] =	{ "error_uri", 1024, NULL, 0 },
};

const struct form_field fields_redirect[REDIRECT__MAX] = {
	[REDIRECT_STATE] =	{ "state", 128, form_valid_token, 0 },
	[REDIRECT_CODE] =	{ "code", 1024, form_valid_printable, 0 },
	[REDIRECT_ERROR] =	{ "error", 128, form_valid_printable, 0 },
	[REDIRECT_ERROR_DESCRIPTION] = { "error_description", 1024, NULL, 0 },
};

const struct form_field fields_actions[ACTIONS__MAX] = {
	[ACTIONS_PAYLOAD] =	{ "payload", PAYLOAD_MAX, NULL, 1 },
};

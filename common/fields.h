/*
 * fields: the input each program accepts, declared as form_field tables
 * (name, maximum length, validator, required), kcgi style.
 *
 * The programs in cgi/ validate their request against these tables
 * before a handler reads any field, and the fuzz targets in tests/fuzz/
 * check form.c against the very same tables.
 */
#ifndef FORCELINK_FIELDS_H
#define FORCELINK_FIELDS_H

#include <stddef.h>

#include "form.h"

/*
 * Longest slash-command text searched, in characters (Unicode code
 * points, not bytes).  A Salesforce contact's Name is at most about 240
 * characters (salutation, first, middle and last name, suffix), so a
 * longer text can never match; and 255 characters of any script, even
 * 4-byte ones percent-encoded in the query URL, stay far below the
 * 16,384-byte URI that Salesforce's REST API takes (2000 CJK characters
 * would not: 18,000 bytes), and below SOQL's statement limits.
 */
#define FIELDS_TEXT_CHARS	255
/* Longest text in bytes that can still be FIELDS_TEXT_CHARS characters
 * when Slack escapes '&', '<' and '>' (as "&amp;"; UTF-8 needs at most 4
 * bytes): a longer text is too long without reading it. */
#define FIELDS_TEXT_MAX		(FIELDS_TEXT_CHARS * 5)

/* What fields_text_check() found. */
enum fields_text {
	FIELDS_TEXT_OK,
	FIELDS_TEXT_TOO_LONG,	/* more than FIELDS_TEXT_CHARS characters */
	FIELDS_TEXT_CONTROL,	/* a control character, tab and newline too */
	FIELDS_TEXT_BAD_UTF8	/* not well-formed UTF-8 */
};

/*
 * Judges a slash command's text (len bytes; Slack's escaping already
 * undone, surrounding spaces trimmed).  The form table lets any text
 * through so that contact can answer a bad one with a Slack message
 * saying what is wrong rather than a bare 400.  Invalid UTF-8 is
 * reported before a control character, and both before the length.
 */
enum fields_text fields_text_check(const char *, size_t len);

/* A short name of a result, for logs. */
const char	*fields_text_str(enum fields_text);

/*
 * The tables, each with the enum that indexes it and the field map
 * form_validate() fills (kcgi's fieldmap): a handler reads
 * val[SLASH_TEXT], never a field by its name.  The tables are written
 * with designated initializers, so an enum and its table cannot drift
 * apart.
 */

/* POST /contact (and every slash command): what Slack sends.  Fields we
 * do not read are declared too, so that a duplicate of any of them is
 * refused. */
enum fields_slash {
	SLASH_TEAM_ID,
	SLASH_USER_ID,
	SLASH_ENTERPRISE_ID,
	SLASH_USER_NAME,
	SLASH_COMMAND,
	SLASH_TEXT,
	SLASH_RESPONSE_URL,
	SLASH_TOKEN,
	SLASH_SSL_CHECK,
	SLASH_TEAM_DOMAIN,
	SLASH_ENTERPRISE_NAME,
	SLASH_CHANNEL_ID,
	SLASH_CHANNEL_NAME,
	SLASH_TRIGGER_ID,
	SLASH_API_APP_ID,
	SLASH_IS_ENTERPRISE_INSTALL,
	SLASH__MAX
};
extern const struct form_field	fields_slash[SLASH__MAX];

/* GET /oauth/start?state=NONCE: the login page. */
enum fields_login {
	LOGIN_STATE,
	LOGIN__MAX
};
extern const struct form_field	fields_login[LOGIN__MAX];

/* POST /oauth/start: the login page's Continue (the nonce again, and
 * the CSRF token bound to the page's cookie). */
enum fields_continue {
	CONTINUE_STATE,
	CONTINUE_CSRF,
	CONTINUE__MAX
};
extern const struct form_field	fields_continue[CONTINUE__MAX];

/* GET /oauth/callback: Salesforce's redirect (code and state, or
 * error). */
enum fields_callback {
	CALLBACK_STATE,
	CALLBACK_CODE,
	CALLBACK_ERROR,
	CALLBACK_ERROR_DESCRIPTION,
	CALLBACK_ERROR_URI,
	CALLBACK__MAX
};
extern const struct form_field	fields_callback[CALLBACK__MAX];

/* GET /slack/oauth_redirect: Slack's redirect after "Add to Slack" (code
 * and state, or error=access_denied and state). */
enum fields_redirect {
	REDIRECT_STATE,
	REDIRECT_CODE,
	REDIRECT_ERROR,
	REDIRECT_ERROR_DESCRIPTION,
	REDIRECT__MAX
};
extern const struct form_field	fields_redirect[REDIRECT__MAX];

/* POST /slack/actions: Slack's interactivity request, a single field
 * holding the payload's JSON (payload.h). */
enum fields_actions {
	ACTIONS_PAYLOAD,
	ACTIONS__MAX
};
extern const struct form_field	fields_actions[ACTIONS__MAX];

#endif

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

/* POST /contact: what Slack sends with a slash command.  Fields we do not
 * read are declared too, so that a duplicate of any of them is refused. */
extern const struct form_field	fields_contact[];
extern const size_t		fields_ncontact;

/* GET /oauth/start?state=NONCE. */
extern const struct form_field	fields_start[];
extern const size_t		fields_nstart;

/* POST /oauth/start: the login page's Continue (the nonce again, and
 * the CSRF token bound to the page's cookie). */
extern const struct form_field	fields_start_post[];
extern const size_t		fields_nstart_post;

/* GET /oauth/callback: Salesforce's redirect (code and state, or error). */
extern const struct form_field	fields_callback[];
extern const size_t		fields_ncallback;

/* GET /slack/oauth_redirect: Slack's redirect after "Add to Slack" (code
 * and state, or error=access_denied and state). */
extern const struct form_field	fields_slack_redirect[];
extern const size_t		fields_nslack_redirect;

#endif

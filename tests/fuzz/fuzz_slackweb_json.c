/*
 * fuzz_slackweb_json: the replies of views.open, views.update and
 * chat.getPermalink (slackweb.h).
 *
 * Up to three leading decimal digits are the HTTP status (200 when there
 * are none); then "#" and up to five digits, when present, are the
 * Retry-After seconds; the rest is the reply body, handed to
 * slackweb_parse_view and to slackweb_parse_permalink (asking about
 * channel C1, and about any channel).
 *
 * Asserted beyond "no crash, no leak": an accepted view comes only from
 * a 200 and has an id of V and Slack's alphabet and a hash of letters,
 * digits, dots, dashes and underscores, within their maxima; an
 * accepted permalink comes only from a 200, is an https URL of at most
 * SLACKWEB_PERMALINK_MAX bytes without what breaks Slack markup, whose
 * host is slack.com, a name under it, or SLACK_API_URL's; a failure
 * leaves nothing behind, its code and detail are safe to log, and its
 * class follows the status and the code (written out again below from
 * Slack's documentation): a 429 is always rate limited, with a wait of
 * 1 to SLACKWEB_RETRY_MAX seconds, a 5xx always transient, and no other
 * failure carries a wait.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "fuzz.h"
#include "slackweb.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* Safe to log: printable ASCII without '"' and '\' (and without spaces
 * unless spaces). */
static int
loggable(const char *s, size_t max, int spaces)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= max || s[i] < ' ' || (s[i] == ' ' && !spaces) ||
		    s[i] > '~' || s[i] == '"' || s[i] == '\\')
			return 0;
	return 1;
}

/* The outcome of an "ok":false code. */
static enum slackweb_result
expected(const char *code)
{
	static const struct {
		const char		*code;
		enum slackweb_result	 r;
	} codes[] = {
		{ "ratelimited", SLACKWEB_RATELIMITED },
		{ "rate_limited", SLACKWEB_RATELIMITED },
		{ "expired_trigger_id", SLACKWEB_TRIGGER_EXPIRED },
		{ "trigger_expired", SLACKWEB_TRIGGER_EXPIRED },
		{ "invalid_trigger_id", SLACKWEB_TRIGGER_INVALID },
		{ "trigger_exchanged", SLACKWEB_TRIGGER_INVALID },
		{ "exchanged_trigger_id", SLACKWEB_TRIGGER_INVALID },
		{ "not_authed", SLACKWEB_REVOKED },
		{ "invalid_auth", SLACKWEB_REVOKED },
		{ "token_revoked", SLACKWEB_REVOKED },
		{ "token_expired", SLACKWEB_REVOKED },
		{ "account_inactive", SLACKWEB_REVOKED },
		{ "app_uninstalled", SLACKWEB_REVOKED },
		{ "missing_scope", SLACKWEB_MISSING_SCOPE },
		{ "view_too_large", SLACKWEB_BAD_REQUEST },
		{ "invalid_arguments", SLACKWEB_BAD_REQUEST },
		{ "invalid_blocks", SLACKWEB_BAD_REQUEST },
		{ "invalid_json", SLACKWEB_BAD_REQUEST },
		{ "json_not_object", SLACKWEB_BAD_REQUEST },
		{ "invalid_arg_name", SLACKWEB_BAD_REQUEST },
		{ "invalid_array_arg", SLACKWEB_BAD_REQUEST },
		{ "invalid_charset", SLACKWEB_BAD_REQUEST },
		{ "invalid_form_data", SLACKWEB_BAD_REQUEST },
		{ "invalid_post_type", SLACKWEB_BAD_REQUEST },
		{ "missing_post_type", SLACKWEB_BAD_REQUEST },
		{ "duplicate_external_id", SLACKWEB_BAD_REQUEST },
		{ "hash_conflict", SLACKWEB_HASH_CONFLICT },
		{ "not_found", SLACKWEB_VIEW_NOT_FOUND },
		{ "channel_not_found", SLACKWEB_CHANNEL_NOT_FOUND },
		{ "message_not_found", SLACKWEB_MESSAGE_NOT_FOUND },
	};
	size_t	 i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(code, codes[i].code) == 0)
			return codes[i].r;
	return SLACKWEB_REFUSED;
}

/* Checks what a failure left: its class, code, detail and wait. */
static void
check_failure(enum slackweb_result r, long status,
    const struct slackweb_error *err)
{
	FUZZ_REQUIRE(r != SLACKWEB_OK);
	FUZZ_REQUIRE(loggable(err->code, sizeof(err->code) - 1, 0));
	FUZZ_REQUIRE(loggable(err->detail, sizeof(err->detail) - 1, 1));
	if (status == 429)
		FUZZ_REQUIRE(r == SLACKWEB_RATELIMITED);
	if (status >= 500 && status <= 599)
		FUZZ_REQUIRE(r == SLACKWEB_TRANSIENT);
	else
		FUZZ_REQUIRE(r != SLACKWEB_TRANSIENT);
	if (r == SLACKWEB_RATELIMITED) {
		FUZZ_REQUIRE(err->retry_after >= 1 &&
		    err->retry_after <= SLACKWEB_RETRY_MAX);
		FUZZ_REQUIRE(err->code[0] != '\0');
	} else
		FUZZ_REQUIRE(err->retry_after == 0);
	/* A classified code is classified as Slack documents it. */
	if (status != 429 && r != SLACKWEB_TRANSIENT &&
	    r != SLACKWEB_MALFORMED && r != SLACKWEB_ERROR)
		FUZZ_REQUIRE(r == expected(err->code));
}

/* Slack's id alphabet: upper-case letters and digits. */
static int
id_chars(const char *s)
{
	for (; *s != '\0'; s++)
		if (!isupper((unsigned char)*s) && !isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* A hash's: letters, digits, dots, dashes and underscores. */
static int
hash_chars(const char *s)
{
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("._-", *s) == NULL)
			return 0;
	return 1;
}

static enum slackweb_result
check_view(long status, long retry, const char *s, size_t len)
{
	struct slackweb_view	 v;
	struct slackweb_error	 err;
	enum slackweb_result	 r;

	memset(&v, 'X', sizeof(v));
	memset(&err, 'X', sizeof(err));
	r = slackweb_parse_view(status, retry, s, len, &v, &err);
	FUZZ_REQUIRE(slackweb_result_str(r) != NULL);
	FUZZ_REQUIRE(slackweb_result_message(r) != NULL);
	if (r != SLACKWEB_OK) {
		FUZZ_REQUIRE(v.id[0] == '\0' && v.hash[0] == '\0');
		check_failure(r, status, &err);
		return r;
	}
	FUZZ_REQUIRE(status == 200 && err.code[0] == '\0');
	FUZZ_REQUIRE(v.id[0] == 'V' && strlen(v.id) >= 2 &&
	    strlen(v.id) <= SLACKWEB_VIEW_ID_MAX && id_chars(v.id));
	FUZZ_REQUIRE(strlen(v.hash) >= 1 && strlen(v.hash) <= SLACKWEB_HASH_MAX
	    && hash_chars(v.hash));
	return r;
}

/* The host of an https URL (NUL-terminated into host), by a reading of
 * its own: up to the first '/', '?', '#' or ':'. */
static int
host_of(const char *url, char *host, size_t n)
{
	size_t	 i;

	if (strncmp(url, "https://", 8) != 0)
		return -1;
	url += 8;
	for (i = 0; url[i] != '\0' && strchr("/?#:", url[i]) == NULL; i++) {
		if (i + 1 >= n)
			return -1;
		host[i] = url[i];
	}
	host[i] = '\0';
	return i > 0 ? 0 : -1;
}

static int
ends_with(const char *s, const char *tail)
{
	size_t	 a = strlen(s), b = strlen(tail);

	return a >= b && strcasecmp(s + a - b, tail) == 0;
}

static enum slackweb_result
check_permalink(const struct config *cfg, long status, long retry,
    const char *s, size_t len, const char *channel)
{
	struct slackweb_error	 err;
	enum slackweb_result	 r;
	char			*link = (char *)"x", host[256];
	size_t			 i;

	memset(&err, 'X', sizeof(err));
	r = slackweb_parse_permalink(cfg, status, retry, s, len, channel,
	    &link, &err);
	if (r != SLACKWEB_OK) {
		FUZZ_REQUIRE(link == NULL);
		check_failure(r, status, &err);
		return r;
	}
	FUZZ_REQUIRE(status == 200 && link != NULL);
	FUZZ_REQUIRE(strlen(link) <= SLACKWEB_PERMALINK_MAX);
	for (i = 0; link[i] != '\0'; i++)
		FUZZ_REQUIRE(link[i] > ' ' && link[i] <= '~' &&
		    strchr("<>|\"\\`", link[i]) == NULL);
	FUZZ_REQUIRE(host_of(link, host, sizeof(host)) == 0);
	FUZZ_REQUIRE(strcasecmp(host, "slack.com") == 0 ||
	    ends_with(host, ".slack.com") ||
	    strcmp(host, "127.0.0.1") == 0);
	free(link);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config		 cfg;
	const char		*body = (const char *)data;
	enum slackweb_result	 a, b, c;
	long			 status = 0, retry = 0;
	size_t			 i, j;

	memset(&cfg, 0, sizeof(cfg));
	cfg.slack_api_url = (char *)"https://127.0.0.1:4443/api";
	for (i = 0; i < 3 && i < size && isdigit(data[i]); i++)
		status = status * 10 + (data[i] - '0');
	if (i == 0)
		status = 200;
	if (i < size && data[i] == '#')
		for (i++, j = 0; j < 5 && i < size && isdigit(data[i]);
		    i++, j++)
			retry = retry * 10 + (data[i] - '0');
	body += i;
	size -= i;
	a = check_view(status, retry, body, size);
	b = check_permalink(&cfg, status, retry, body, size, "C1");
	c = check_permalink(&cfg, status, retry, body, size, NULL);
	/* One envelope: the readers differ only in what a success holds. */
	FUZZ_REQUIRE(a == b || a == SLACKWEB_OK || b == SLACKWEB_OK ||
	    a == SLACKWEB_MALFORMED || b == SLACKWEB_MALFORMED);
	/* Naming the channel only ever refuses more. */
	FUZZ_REQUIRE(b == c || (c == SLACKWEB_OK && b == SLACKWEB_MALFORMED));
	return 0;
}

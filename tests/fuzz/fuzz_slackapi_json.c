/*
 * fuzz_slackapi_json: every Slack Web API reply forcelink reads.
 *
 * Up to three leading decimal digits are the HTTP status (200 when there
 * are none); the rest is the reply body, handed to slackapi_parse_grant
 * (as a code exchange and as a refresh) and to slackapi_parse_identity.
 *
 * Asserted beyond "no crash, no leak": an accepted grant is a complete
 * bot grant (a bot token by its prefix, printable and without spaces; a
 * refresh token only of the xoxe- kind and only with an expiry of 1 s to
 * ten years; ids of Slack's alphabet; an org-wide install with an
 * enterprise and no team, any other with a team, whose name is never
 * missing beside its id) and only ever comes from a 200; a refused reply
 * leaves nothing allocated, its error code is safe to log, and its class
 * follows the status and the code: transient only for 429 and 5xx,
 * revoked only for a refresh or auth.test with one of the permanent
 * codes, and the two readings of one reply differ at most there.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "slack.h"
#include "slackapi.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* 1 to SLACK_ID_MAX of [A-Z0-9]. */
static int
slack_id(const char *s)
{
	size_t	 i, n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	for (i = 0; i < n; i++)
		if (!isupper((unsigned char)s[i]) && !isdigit((unsigned char)s[i]))
			return 0;
	return n >= 1 && n <= SLACK_ID_MAX;
}

/* Printable ASCII without space, not empty. */
static int
opaque(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s > '~')
			return 0;
	return 1;
}

/* Safe to log: printable ASCII without space, '"' and '\'. */
static int
loggable(const char *s, size_t max)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= max || s[i] <= ' ' || s[i] > '~' || s[i] == '"' ||
		    s[i] == '\\')
			return 0;
	return 1;
}

/* The codes after which a refresh (or a token) is dead for good,
 * written out again from Slack's documentation. */
static int
permanent(const char *code)
{
	static const char *const codes[] = {
		"invalid_refresh_token", "invalid_grant", "token_revoked",
		"token_expired", "invalid_auth", "account_inactive",
		"app_uninstalled", "not_authed", NULL
	};
	size_t	 i;

	for (i = 0; codes[i] != NULL; i++)
		if (strcmp(code, codes[i]) == 0)
			return 1;
	return 0;
}

static int
transient_status(long status)
{
	return status == 429 || (status >= 500 && status <= 599);
}

/* Checks the class of a failure and what it leaves. */
static void
check_failure(enum slackapi_result r, long status, int dead,
    const struct slackapi_error *err)
{
	FUZZ_REQUIRE(loggable(err->code, sizeof(err->code) - 1));
	switch (r) {
	case SLACKAPI_TRANSIENT:
		FUZZ_REQUIRE(transient_status(status));
		FUZZ_REQUIRE(err->code[0] == '\0');
		break;
	case SLACKAPI_REVOKED:
		FUZZ_REQUIRE(dead && permanent(err->code));
		FUZZ_REQUIRE(!transient_status(status));
		break;
	case SLACKAPI_REFUSED:
		FUZZ_REQUIRE(err->code[0] != '\0');
		FUZZ_REQUIRE(!dead || !permanent(err->code));
		FUZZ_REQUIRE(!transient_status(status));
		break;
	case SLACKAPI_MALFORMED:
	case SLACKAPI_ERROR:
		break;
	default:
		FUZZ_REQUIRE(!"a failure classified as success");
	}
}

static enum slackapi_result
check_grant(long status, const char *s, size_t len, int refresh)
{
	struct slackapi_grant	 g;
	struct slackapi_error	 err;
	enum slackapi_result	 r;
	size_t			 n;

	memset(&err, 'X', sizeof(err));
	r = slackapi_parse_grant(status, s, len, refresh, &g, &err);
	FUZZ_REQUIRE(slackapi_result_str(r) != NULL);
	if (r != SLACKAPI_OK) {
		FUZZ_REQUIRE(g.access_token == NULL && g.refresh_token == NULL &&
		    g.scope == NULL && g.team_id == NULL &&
		    g.enterprise_id == NULL && g.installer_user_id == NULL);
		check_failure(r, status, refresh, &err);
		return r;
	}
	FUZZ_REQUIRE(status == 200 && err.code[0] == '\0');
	FUZZ_REQUIRE(opaque(g.access_token));
	n = strlen(g.access_token);
	FUZZ_REQUIRE(n <= SLACKAPI_TOKEN_MAX);
	FUZZ_REQUIRE((n > 5 && strncmp(g.access_token, "xoxb-", 5) == 0) ||
	    (n > 10 && strncmp(g.access_token, "xoxe.xoxb-", 10) == 0));
	if (g.refresh_token != NULL) {
		FUZZ_REQUIRE(opaque(g.refresh_token));
		FUZZ_REQUIRE(strlen(g.refresh_token) > 5 &&
		    strncmp(g.refresh_token, "xoxe-", 5) == 0);
		FUZZ_REQUIRE(g.expires_in >= 1);
	}
	FUZZ_REQUIRE(g.expires_in >= 0 && g.expires_in <= SLACKAPI_EXPIRES_MAX);
	FUZZ_REQUIRE(opaque(g.scope));
	FUZZ_REQUIRE(slack_id(g.bot_user_id) && slack_id(g.app_id));
	if (g.is_enterprise_install) {
		FUZZ_REQUIRE(g.team_id == NULL && g.team_name == NULL);
		FUZZ_REQUIRE(slack_id(g.enterprise_id));
	} else {
		FUZZ_REQUIRE(slack_id(g.team_id) && g.team_name != NULL);
		FUZZ_REQUIRE(strlen(g.team_name) <= SLACKAPI_NAME_MAX);
	}
	FUZZ_REQUIRE((g.enterprise_id == NULL) == (g.enterprise_name == NULL));
	FUZZ_REQUIRE(g.enterprise_id == NULL || slack_id(g.enterprise_id));
	FUZZ_REQUIRE(g.installer_user_id == NULL ||
	    slack_id(g.installer_user_id));
	slackapi_grant_free(&g);
	FUZZ_REQUIRE(g.access_token == NULL);
	return r;
}

static void
check_identity(long status, const char *s, size_t len)
{
	struct slackapi_identity id;
	struct slackapi_error	 err;
	enum slackapi_result	 r;

	memset(&err, 'X', sizeof(err));
	r = slackapi_parse_identity(status, s, len, &id, &err);
	if (r != SLACKAPI_OK) {
		FUZZ_REQUIRE(id.user_id == NULL && id.team_id == NULL);
		check_failure(r, status, 1, &err);
		return;
	}
	FUZZ_REQUIRE(status == 200 && slack_id(id.user_id));
	FUZZ_REQUIRE(id.bot_id == NULL || slack_id(id.bot_id));
	FUZZ_REQUIRE(id.team_id == NULL || slack_id(id.team_id));
	FUZZ_REQUIRE(id.enterprise_id == NULL || slack_id(id.enterprise_id));
	slackapi_identity_free(&id);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*body = (const char *)data;
	enum slackapi_result	 a, b;
	long			 status = 0;
	size_t			 i;

	for (i = 0; i < 3 && i < size && isdigit(data[i]); i++)
		status = status * 10 + (data[i] - '0');
	if (i == 0)
		status = 200;
	body += i;
	size -= i;
	a = check_grant(status, body, size, 0);
	b = check_grant(status, body, size, 1);
	/* The two readings differ only where a refresh is revoked. */
	FUZZ_REQUIRE(a == b || (a == SLACKAPI_REFUSED && b == SLACKAPI_REVOKED));
	check_identity(status, body, size);
	return 0;
}

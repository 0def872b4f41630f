/*
 * test_slackweb: common/slackweb.c.
 *
 * The replies are Slack's documented ones (the views.open, views.update
 * and chat.getPermalink method pages), then each way an error or a
 * hostile reply can differ from them, one row per way, with the outcome
 * it must get.  The calls go to the local "openssl s_server" of
 * tls_server.c, so the request line, the headers and the body are
 * checked byte for byte; a rate limit is a 429 followed by a success.
 * Every log line written meanwhile is kept, and none may hold the token.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "config.h"
#include "crypto.h"
#include "http.h"
#include "log.h"
#include "slackweb.h"
#include "testutil.h"
#include "tls_server.h"

/* The run's bot token (made at run time; see tu_token). */
static const char *
bot(void)
{
	static char	 v[TU_TOKEN_MAX];

	if (v[0] == '\0')
		tu_token(v, "xoxb-");
	return v;
}

/* Single quotes stand for double quotes, for readable tables. */
static char *
json(const char *sq)
{
	static char	 ring[4][8192];
	static int	 next;
	char		*out = ring[next++ % 4];
	size_t		 i;

	ck_assert_uint_lt(strlen(sq), sizeof(ring[0]));
	for (i = 0; sq[i] != '\0'; i++)
		out[i] = sq[i] == '\'' ? '"' : sq[i];
	out[i] = '\0';
	return out;
}

/* Every log line of the test (none may hold the token). */
static char	 logged[32768];

static void
log_keep(const char *line, void *arg)
{
	size_t	 n = strlen(logged);

	(void)arg;
	/* Checked as it is written: a checked teardown cannot fail a
	 * test. */
	ck_assert_msg(strstr(line, bot() + 5) == NULL,
	    "the token was logged: %s", line);
	snprintf(logged + n, sizeof(logged) - n, "%s\n", line);
}

static void
log_setup(void)
{
	logged[0] = '\0';
	log_set_sink(log_keep, NULL);
}

static void
log_teardown(void)
{
	log_set_sink(NULL, NULL);
}

static void
config_fill(struct config *c, const char *api)
{
	memset(c, 0, sizeof(*c));
	c->slack_api_url = (char *)api;
}

/* views.open's documented success (abridged: what is read, and some of
 * what is not). */
#define VIEW_OK \
	"{'ok':true,'view':{'id':'VMHU10V25','team_id':'T8N4K1JN'," \
	"'type':'modal','title':{'type':'plain_text','text':'Quite a plain " \
	"modal'},'submit':{'type':'plain_text','text':'Create'}," \
	"'blocks':[{'type':'input','block_id':'a1','label':{'type':" \
	"'plain_text','text':'Subject'},'element':{'type':" \
	"'plain_text_input','action_id':'sl_input'}}],'private_metadata':''," \
	"'callback_id':'view_identifier_12','state':{'values':{}}," \
	"'hash':'156772938.1827394','clear_on_close':false," \
	"'notify_on_close':false,'root_view_id':'VMHU10V25'," \
	"'app_id':'AA4928AQ','external_id':'','bot_id':'BA13894H'}}"

START_TEST(test_parse_view_documented)
{
	struct slackweb_view	 v;
	struct slackweb_error	 err;
	const char		*s = json(VIEW_OK);

	ck_assert_int_eq(slackweb_parse_view(200, 0, s, strlen(s), &v, &err),
	    SLACKWEB_OK);
	ck_assert_str_eq(v.id, "VMHU10V25");
	ck_assert_str_eq(v.hash, "156772938.1827394");
	/* NULL out: checked all the same. */
	ck_assert_int_eq(slackweb_parse_view(200, 0, s, strlen(s), NULL,
	    NULL), SLACKWEB_OK);
}
END_TEST

/* Each reply, and what it must give: the outcome, the code kept, the
 * wait believed. */
static const struct {
	const char		*name;
	long			 status;
	long			 retry_after;	/* Retry-After, s */
	const char		*body;
	enum slackweb_result	 want;
	const char		*code;		/* NULL: "" */
	long			 wait;
} view_table[] = {
	{ "expired trigger (as Slack answers)", 200, 0,
	    "{'ok':false,'error':'expired_trigger_id'}",
	    SLACKWEB_TRIGGER_EXPIRED, "expired_trigger_id", 0 },
	{ "expired trigger (as the guide names it)", 200, 0,
	    "{'ok':false,'error':'trigger_expired'}",
	    SLACKWEB_TRIGGER_EXPIRED, "trigger_expired", 0 },
	{ "invalid trigger", 200, 0,
	    "{'ok':false,'error':'invalid_trigger_id'}",
	    SLACKWEB_TRIGGER_INVALID, "invalid_trigger_id", 0 },
	{ "trigger used twice", 200, 0,
	    "{'ok':false,'error':'trigger_exchanged'}",
	    SLACKWEB_TRIGGER_INVALID, "trigger_exchanged", 0 },
	{ "not authed", 200, 0, "{'ok':false,'error':'not_authed'}",
	    SLACKWEB_REVOKED, "not_authed", 0 },
	{ "invalid auth", 200, 0, "{'ok':false,'error':'invalid_auth'}",
	    SLACKWEB_REVOKED, "invalid_auth", 0 },
	{ "token revoked", 200, 0, "{'ok':false,'error':'token_revoked'}",
	    SLACKWEB_REVOKED, "token_revoked", 0 },
	{ "account inactive", 200, 0,
	    "{'ok':false,'error':'account_inactive'}",
	    SLACKWEB_REVOKED, "account_inactive", 0 },
	{ "missing scope", 200, 0, "{'ok':false,'error':'missing_scope'," \
	    "'needed':'chat:write','provided':'commands'}",
	    SLACKWEB_MISSING_SCOPE, "missing_scope", 0 },
	{ "view too large", 200, 0, "{'ok':false,'error':'view_too_large'}",
	    SLACKWEB_BAD_REQUEST, "view_too_large", 0 },
	{ "invalid arguments", 200, 0,
	    "{'ok':false,'error':'invalid_arguments','response_metadata':" \
	    "{'messages':['[ERROR] must be less than 25 characters " \
	    "[json-pointer:/view/title/text]']}}",
	    SLACKWEB_BAD_REQUEST, "invalid_arguments", 0 },
	{ "hash conflict", 200, 0, "{'ok':false,'error':'hash_conflict'}",
	    SLACKWEB_HASH_CONFLICT, "hash_conflict", 0 },
	{ "view not found", 200, 0, "{'ok':false,'error':'not_found'}",
	    SLACKWEB_VIEW_NOT_FOUND, "not_found", 0 },
	{ "channel not found", 200, 0,
	    "{'ok':false,'error':'channel_not_found'}",
	    SLACKWEB_CHANNEL_NOT_FOUND, "channel_not_found", 0 },
	{ "message not found", 200, 0,
	    "{'ok':false,'error':'message_not_found'}",
	    SLACKWEB_MESSAGE_NOT_FOUND, "message_not_found", 0 },
	{ "unknown code: refused, code kept", 200, 0,
	    "{'ok':false,'error':'ekm_access_denied'}",
	    SLACKWEB_REFUSED, "ekm_access_denied", 0 },
	{ "code made safe to log", 200, 0,
	    "{'ok':false,'error':'a\\'b \\\\c\\nd'}",
	    SLACKWEB_REFUSED, "a?b??c?d", 0 },
	{ "429 with Retry-After", 429, 7,
	    "{'ok':false,'error':'ratelimited'}",
	    SLACKWEB_RATELIMITED, "ratelimited", 7 },
	{ "429 without a body", 429, 30, "",
	    SLACKWEB_RATELIMITED, "ratelimited", 30 },
	{ "429 without Retry-After: the default", 429, 0,
	    "{'ok':false,'error':'ratelimited'}",
	    SLACKWEB_RATELIMITED, "ratelimited", SLACKWEB_RETRY_DEFAULT },
	{ "429 with a negative Retry-After", 429, -5, "",
	    SLACKWEB_RATELIMITED, "ratelimited", SLACKWEB_RETRY_DEFAULT },
	{ "429 asking for a day: bounded", 429, 86400, "",
	    SLACKWEB_RATELIMITED, "ratelimited", SLACKWEB_RETRY_MAX },
	{ "ratelimited in a 200", 200, 0,
	    "{'ok':false,'error':'ratelimited'}",
	    SLACKWEB_RATELIMITED, "ratelimited", SLACKWEB_RETRY_DEFAULT },
	{ "503", 503, 0, "{'ok':false,'error':'service_unavailable'}",
	    SLACKWEB_TRANSIENT, NULL, 0 },
	{ "500 with HTML", 500, 0, "<html>", SLACKWEB_TRANSIENT, NULL, 0 },
	{ "error without a code", 200, 0, "{'ok':false}",
	    SLACKWEB_MALFORMED, NULL, 0 },
	{ "error code not a string", 200, 0, "{'ok':false,'error':7}",
	    SLACKWEB_MALFORMED, NULL, 0 },
	{ "ok as a string", 200, 0, "{'ok':'true','view':{'id':'V1'," \
	    "'hash':'1.2'}}", SLACKWEB_MALFORMED, NULL, 0 },
	{ "no ok", 200, 0, "{'view':{'id':'V1','hash':'1.2'}}",
	    SLACKWEB_MALFORMED, NULL, 0 },
	{ "ok with a 201", 201, 0, "{'ok':true,'view':{'id':'V1'," \
	    "'hash':'1.2'}}", SLACKWEB_MALFORMED, NULL, 0 },
	{ "not JSON", 200, 0, "ok", SLACKWEB_MALFORMED, NULL, 0 },
	{ "trailing garbage", 200, 0, "{'ok':true,'view':{'id':'V1'," \
	    "'hash':'1.2'}} x", SLACKWEB_MALFORMED, NULL, 0 },
	{ "an array", 200, 0, "[{'ok':true}]", SLACKWEB_MALFORMED, NULL, 0 },
	{ "no view", 200, 0, "{'ok':true}", SLACKWEB_MALFORMED, NULL, 0 },
	{ "view null", 200, 0, "{'ok':true,'view':null}",
	    SLACKWEB_MALFORMED, NULL, 0 },
	{ "no hash", 200, 0, "{'ok':true,'view':{'id':'V1'}}",
	    SLACKWEB_MALFORMED, NULL, 0 },
	{ "no id", 200, 0, "{'ok':true,'view':{'hash':'1.2'}}",
	    SLACKWEB_MALFORMED, NULL, 0 },
	{ "id a number", 200, 0, "{'ok':true,'view':{'id':7,'hash':'1.2'}}",
	    SLACKWEB_MALFORMED, NULL, 0 },
	{ "id not a view's", 200, 0, "{'ok':true,'view':{'id':'C123'," \
	    "'hash':'1.2'}}", SLACKWEB_MALFORMED, NULL, 0 },
	{ "id lower case", 200, 0, "{'ok':true,'view':{'id':'Vabc'," \
	    "'hash':'1.2'}}", SLACKWEB_MALFORMED, NULL, 0 },
	{ "id V alone", 200, 0, "{'ok':true,'view':{'id':'V'," \
	    "'hash':'1.2'}}", SLACKWEB_MALFORMED, NULL, 0 },
	{ "id too long", 200, 0, "{'ok':true,'view':{'id':" \
	    "'V12345678901234567890123456789012','hash':'1.2'}}",
	    SLACKWEB_MALFORMED, NULL, 0 },
	{ "id with a NUL", 200, 0, "{'ok':true,'view':{'id':'V1\\u0000'," \
	    "'hash':'1.2'}}", SLACKWEB_MALFORMED, NULL, 0 },
	{ "hash with a space", 200, 0, "{'ok':true,'view':{'id':'V1'," \
	    "'hash':'1 2'}}", SLACKWEB_MALFORMED, NULL, 0 },
	{ "hash with a quote", 200, 0, "{'ok':true,'view':{'id':'V1'," \
	    "'hash':'1\\'2'}}", SLACKWEB_MALFORMED, NULL, 0 },
	{ "hash empty", 200, 0, "{'ok':true,'view':{'id':'V1','hash':''}}",
	    SLACKWEB_MALFORMED, NULL, 0 },
	{ "hash too long", 200, 0, "{'ok':true,'view':{'id':'V1','hash':" \
	    "'12345678901234567890123456789012345678901234567890123456789" \
	    "012345'}}", SLACKWEB_MALFORMED, NULL, 0 },
};

START_TEST(test_parse_view_table)
{
	struct slackweb_view	 v;
	struct slackweb_error	 err;
	const char		*s = json(view_table[_i].body);
	enum slackweb_result	 r;

	memset(&v, 'x', sizeof(v));
	r = slackweb_parse_view(view_table[_i].status,
	    view_table[_i].retry_after, s, strlen(s), &v, &err);
	ck_assert_msg(r == view_table[_i].want, "%s: %s, not %s",
	    view_table[_i].name, slackweb_result_str(r),
	    slackweb_result_str(view_table[_i].want));
	ck_assert_str_eq(err.code, view_table[_i].code != NULL ?
	    view_table[_i].code : "");
	ck_assert_int_eq(err.retry_after, view_table[_i].wait);
	/* A failure leaves nothing behind. */
	ck_assert_str_eq(v.id, "");
	ck_assert_str_eq(v.hash, "");
}
END_TEST

/* invalid_arguments: Slack's explanation is kept for the log. */
START_TEST(test_parse_view_detail)
{
	struct slackweb_error	 err;
	const char		*s;

	s = json("{'ok':false,'error':'invalid_arguments','response_metadata':"
	    "{'messages':['[ERROR] failed to match all allowed schemas "
	    "[json-pointer:/view/title]','[ERROR] must be less than 25 "
	    "characters [json-pointer:/view/title/text]']}}");
	ck_assert_int_eq(slackweb_parse_view(200, 0, s, strlen(s), NULL,
	    &err), SLACKWEB_BAD_REQUEST);
	ck_assert_str_eq(err.detail, "[ERROR] failed to match all allowed "
	    "schemas [json-pointer:/view/title]");
	/* Made safe as the code is, and truncated. */
	s = json("{'ok':false,'error':'invalid_arguments','response_metadata':"
	    "{'messages':['a\\'b\\u0001c']}}");
	ck_assert_int_eq(slackweb_parse_view(200, 0, s, strlen(s), NULL,
	    &err), SLACKWEB_BAD_REQUEST);
	ck_assert_str_eq(err.detail, "a?b?c");
	s = json("{'ok':false,'error':'invalid_arguments','response_metadata':"
	    "{'messages':7}}");
	ck_assert_int_eq(slackweb_parse_view(200, 0, s, strlen(s), NULL,
	    &err), SLACKWEB_BAD_REQUEST);
	ck_assert_str_eq(err.detail, "");
}
END_TEST

/* Permalinks: the documented ones, the stand-in's, and each way a link
 * can point elsewhere or break what it is put in. */
static const struct {
	const char		*name;
	const char		*body;
	const char		*channel;	/* asked about */
	enum slackweb_result	 want;
} permalink_table[] = {
	{ "documented", "{'ok':true,'channel':'C123ABC456','permalink':"
	    "'https://ghostbusters.slack.com/archives/C1H9RESGA/"
	    "p135854651500008'}", "C123ABC456", SLACKWEB_OK },
	{ "documented, in a thread", "{'ok':true,'channel':'C123ABC456',"
	    "'permalink':'https://ghostbusters.slack.com/archives/C1H9RESGL/"
	    "p135854651700023?thread_ts=1358546515.000008&cid=C1H9RESGL'}",
	    "C123ABC456", SLACKWEB_OK },
	{ "no channel in the reply", "{'ok':true,'permalink':"
	    "'https://x.slack.com/archives/C1/p1'}", "C1", SLACKWEB_OK },
	{ "slack.com itself", "{'ok':true,'permalink':"
	    "'https://slack.com/archives/C1/p1'}", "C1", SLACKWEB_OK },
	{ "SLACK_API_URL's host", "{'ok':true,'permalink':"
	    "'https://127.0.0.1:4443/archives/C1/p1'}", "C1", SLACKWEB_OK },
	{ "another channel", "{'ok':true,'channel':'C2','permalink':"
	    "'https://x.slack.com/archives/C2/p1'}", "C1",
	    SLACKWEB_MALFORMED },
	{ "channel a number", "{'ok':true,'channel':1,'permalink':"
	    "'https://x.slack.com/archives/C1/p1'}", "C1",
	    SLACKWEB_MALFORMED },
	{ "another host", "{'ok':true,'permalink':"
	    "'https://evil.example/archives/C1/p1'}", "C1",
	    SLACKWEB_MALFORMED },
	{ "a host ending in slack.com", "{'ok':true,'permalink':"
	    "'https://evilslack.com/archives/C1/p1'}", "C1",
	    SLACKWEB_MALFORMED },
	{ "slack.com as a label", "{'ok':true,'permalink':"
	    "'https://slack.com.evil.example/a'}", "C1", SLACKWEB_MALFORMED },
	{ "user information", "{'ok':true,'permalink':"
	    "'https://slack.com@evil.example/a'}", "C1", SLACKWEB_MALFORMED },
	{ "plain http", "{'ok':true,'permalink':"
	    "'http://x.slack.com/archives/C1/p1'}", "C1", SLACKWEB_MALFORMED },
	{ "javascript", "{'ok':true,'permalink':'javascript:alert(1)'}",
	    "C1", SLACKWEB_MALFORMED },
	{ "a pipe (breaks <url|label>)", "{'ok':true,'permalink':"
	    "'https://x.slack.com/a|b'}", "C1", SLACKWEB_MALFORMED },
	{ "an angle bracket", "{'ok':true,'permalink':"
	    "'https://x.slack.com/a>b'}", "C1", SLACKWEB_MALFORMED },
	{ "a space", "{'ok':true,'permalink':'https://x.slack.com/a b'}",
	    "C1", SLACKWEB_MALFORMED },
	{ "a dot segment", "{'ok':true,'permalink':"
	    "'https://x.slack.com/a/../b'}", "C1", SLACKWEB_MALFORMED },
	{ "a backslash", "{'ok':true,'permalink':"
	    "'https://x.slack.com\\\\@evil.example/'}", "C1",
	    SLACKWEB_MALFORMED },
	{ "empty", "{'ok':true,'permalink':''}", "C1", SLACKWEB_MALFORMED },
	{ "absent", "{'ok':true,'channel':'C1'}", "C1", SLACKWEB_MALFORMED },
	{ "not a string", "{'ok':true,'permalink':['https://slack.com/']}",
	    "C1", SLACKWEB_MALFORMED },
	{ "channel not found", "{'ok':false,'error':'channel_not_found'}",
	    "C1", SLACKWEB_CHANNEL_NOT_FOUND },
	{ "message not found", "{'ok':false,'error':'message_not_found'}",
	    "C1", SLACKWEB_MESSAGE_NOT_FOUND },
};

START_TEST(test_parse_permalink_table)
{
	struct config		 c;
	struct slackweb_error	 err;
	const char		*s = json(permalink_table[_i].body);
	enum slackweb_result	 r;
	char			*link = (char *)"x";

	config_fill(&c, "https://127.0.0.1:4443/api");
	r = slackweb_parse_permalink(&c, 200, 0, s, strlen(s),
	    permalink_table[_i].channel, &link, &err);
	ck_assert_msg(r == permalink_table[_i].want, "%s: %s",
	    permalink_table[_i].name, slackweb_result_str(r));
	if (r == SLACKWEB_OK) {
		ck_assert_ptr_nonnull(strstr(s, link));
		free(link);
	} else
		ck_assert_ptr_null(link);
}
END_TEST

/* A link as long as a button's url may be passes; one byte more does
 * not. */
START_TEST(test_parse_permalink_length)
{
	struct config	 c;
	char		 body[4096], path[SLACKWEB_PERMALINK_MAX + 1];
	char		*link;
	size_t		 pre = strlen("https://x.slack.com/");

	config_fill(&c, "https://slack.com/api");
	memset(path, 'a', sizeof(path));
	path[SLACKWEB_PERMALINK_MAX - pre] = '\0';
	snprintf(body, sizeof(body), "{\"ok\":true,\"permalink\":"
	    "\"https://x.slack.com/%s\"}", path);
	ck_assert_int_eq(slackweb_parse_permalink(&c, 200, 0, body,
	    strlen(body), NULL, &link, NULL), SLACKWEB_OK);
	ck_assert_uint_eq(strlen(link), SLACKWEB_PERMALINK_MAX);
	free(link);
	path[SLACKWEB_PERMALINK_MAX - pre] = 'a';
	path[SLACKWEB_PERMALINK_MAX - pre + 1] = '\0';
	snprintf(body, sizeof(body), "{\"ok\":true,\"permalink\":"
	    "\"https://x.slack.com/%s\"}", path);
	ck_assert_int_eq(slackweb_parse_permalink(&c, 200, 0, body,
	    strlen(body), NULL, &link, NULL), SLACKWEB_MALFORMED);
}
END_TEST

START_TEST(test_result_words)
{
	enum slackweb_result	 r, q;

	for (r = SLACKWEB_OK; r <= SLACKWEB_ERROR; r++) {
		ck_assert_ptr_nonnull(slackweb_result_str(r));
		ck_assert_uint_gt(strlen(slackweb_result_message(r)), 4);
		for (q = SLACKWEB_OK; q < r; q++)
			ck_assert_str_ne(slackweb_result_str(q),
			    slackweb_result_str(r));
	}
	ck_assert_str_eq(slackweb_result_str(SLACKWEB_TRIGGER_EXPIRED),
	    "trigger_expired");
	ck_assert_str_eq(slackweb_result_str((enum slackweb_result)99),
	    "error");
	ck_assert_ptr_nonnull(strstr(slackweb_result_message(SLACKWEB_REVOKED),
	    "install the app again"));
}
END_TEST

/* ------------------------------------------------------------------ */
/* Refused before anything goes out: the URL points where nothing
 * listens, so a call that went out would be SLACKWEB_TRANSIENT. */

START_TEST(test_local_refusals)
{
	struct config		 c;
	struct http		*h;
	struct slackweb_view	 v;
	struct slackweb_error	 err;
	char			 user[TU_TOKEN_MAX], *big, *link;
	const char		*view = "{\"type\":\"modal\"}";

	config_fill(&c, "https://127.0.0.1:1/api");
	h = http_new(NULL);
	ck_assert_ptr_nonnull(h);
	/* Not a bot token. */
	tu_token(user, "xoxp-");
	ck_assert_int_eq(slackweb_views_open(h, &c, user, "1.2.abc", view, 0,
	    &v, &err), SLACKWEB_ERROR);
	ck_assert_int_eq(slackweb_views_open(h, &c, NULL, "1.2.abc", view, 0,
	    &v, &err), SLACKWEB_ERROR);
	/* Trigger ids of another alphabet. */
	ck_assert_int_eq(slackweb_views_open(h, &c, bot(), "1.2 abc", view, 0,
	    &v, &err), SLACKWEB_ERROR);
	ck_assert_int_eq(slackweb_views_open(h, &c, bot(), "", view, 0,
	    &v, &err), SLACKWEB_ERROR);
	ck_assert_int_eq(slackweb_views_open(h, &c, bot(), "1\",\"x\":\"2",
	    view, 0, &v, &err), SLACKWEB_ERROR);
	/* Views that are not one JSON object. */
	ck_assert_int_eq(slackweb_views_open(h, &c, bot(), "1.2.abc", "[]", 0,
	    &v, &err), SLACKWEB_ERROR);
	ck_assert_int_eq(slackweb_views_open(h, &c, bot(), "1.2.abc",
	    "{\"type\":\"modal\"} {}", 0, &v, &err), SLACKWEB_ERROR);
	ck_assert_int_eq(slackweb_views_open(h, &c, bot(), "1.2.abc",
	    "{'type':'modal'}", 0, &v, &err), SLACKWEB_ERROR);
	ck_assert_int_eq(slackweb_views_open(h, &c, bot(), "1.2.abc", NULL, 0,
	    &v, &err), SLACKWEB_ERROR);
	big = malloc(SLACKWEB_VIEW_MAX + 64);
	ck_assert_ptr_nonnull(big);
	memset(big, ' ', SLACKWEB_VIEW_MAX + 63);
	memcpy(big, "{\"a\":1}", 7);
	big[SLACKWEB_VIEW_MAX + 63] = '\0';
	ck_assert_int_eq(slackweb_views_open(h, &c, bot(), "1.2.abc", big, 0,
	    &v, &err), SLACKWEB_ERROR);
	free(big);
	/* Bad view ids and hashes. */
	ck_assert_int_eq(slackweb_views_update(h, &c, bot(), "C1", NULL, view,
	    0, &v, &err), SLACKWEB_ERROR);
	ck_assert_int_eq(slackweb_views_update(h, &c, bot(), "V1", "1 2",
	    view, 0, &v, &err), SLACKWEB_ERROR);
	/* Bad channels and timestamps. */
	ck_assert_int_eq(slackweb_permalink(h, &c, bot(), "c1", "1.2", 0,
	    &link, &err), SLACKWEB_ERROR);
	ck_assert_int_eq(slackweb_permalink(h, &c, bot(), "C1&x=1", "1.2", 0,
	    &link, &err), SLACKWEB_ERROR);
	ck_assert_int_eq(slackweb_permalink(h, &c, bot(), "C1", "1.2.3", 0,
	    &link, &err), SLACKWEB_ERROR);
	ck_assert_int_eq(slackweb_permalink(h, &c, bot(), "C1", "12", 0,
	    &link, &err), SLACKWEB_ERROR);
	ck_assert_ptr_null(link);
	/* And the same calls well formed do go out. */
	ck_assert_int_eq(slackweb_views_open(h, &c, bot(), "1.2.abc", view, 0,
	    &v, &err), SLACKWEB_TRANSIENT);
	ck_assert_int_eq(slackweb_permalink(h, &c, bot(), "C1", "1.2", 0,
	    &link, &err), SLACKWEB_TRANSIENT);
	/* Never over plain http. */
	config_fill(&c, "http://127.0.0.1:1/api");
	ck_assert_int_eq(slackweb_views_open(h, &c, bot(), "1.2.abc", view, 0,
	    &v, &err), SLACKWEB_ERROR);
	http_free(h);
}
END_TEST

/* ------------------------------------------------------------------ */
/* On the wire, against the local TLS server */

struct wire {
	struct tls_server	 s;
	struct config		 cfg;
	struct http		*h;
	char			 api[64];
};

static void
wire_begin(struct wire *w)
{
	snprintf(w->api, sizeof(w->api), "https://127.0.0.1:%d/api",
	    w->s.port);
	config_fill(&w->cfg, w->api);
	w->h = tls_client("ca.pem");
}

static void
wire_start(struct wire *w, const char *reply)
{
	tls_start(&w->s, "server", reply, strlen(reply));
	wire_begin(w);
}

static void
wire_stop(struct wire *w)
{
	http_free(w->h);
	tls_stop(&w->s);
}

static char *
reply_json(int slot, const char *status, const char *extra,
    const char *body)
{
	static char	 r[4][8192];

	snprintf(r[slot], sizeof(r[slot]), "HTTP/1.1 %s\r\nContent-Type: "
	    "application/json; charset=utf-8\r\n%sContent-Length: %zu\r\n\r\n"
	    "%s", status, extra, strlen(body), body);
	return r[slot];
}

/* Asserts the latest of n requests: its request line, content type,
 * bearer, and body. */
static void
assert_post(struct wire *w, int n, const char *line, const char *ctype,
    const char *want)
{
	char	 req[4096], hdr[256], *p;
	int	 got;

	tls_last(&w->s, req, sizeof(req), &got);
	ck_assert_int_eq(got, n);
	ck_assert_msg(strncmp(req, line, strlen(line)) == 0, "request %s", req);
	snprintf(hdr, sizeof(hdr), "\r\nContent-Type: %s\r\n", ctype);
	ck_assert_ptr_nonnull(strstr(req, hdr));
	snprintf(hdr, sizeof(hdr), "\r\nAuthorization: Bearer %s\r\n", bot());
	ck_assert_ptr_nonnull(strstr(req, hdr));
	ck_assert_ptr_nonnull(p = strstr(req, "\r\n\r\n"));
	ck_assert_str_eq(p + 4, want);
}

#define JSON_TYPE	"application/json; charset=utf-8"

/* The view is written again by json-c: a quote or a closing brace in a
 * string stays inside it, and the trigger id goes first. */
START_TEST(test_wire_views_open)
{
	struct wire		 w;
	struct slackweb_view	 v;

	wire_start(&w, reply_json(0, "200 OK", "", json(VIEW_OK)));
	ck_assert_int_eq(slackweb_views_open(w.h, &w.cfg, bot(),
	    "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
	    "{ \"type\": \"modal\", \"title\": {\"type\": \"plain_text\", "
	    "\"text\": \"Case \\\"}\" }, \"blocks\": [] }", 2000, &v, NULL),
	    SLACKWEB_OK);
	ck_assert_str_eq(v.id, "VMHU10V25");
	ck_assert_str_eq(v.hash, "156772938.1827394");
	assert_post(&w, 1, "POST /api/views.open HTTP/1.1\r\n", JSON_TYPE,
	    "{\"trigger_id\":\"398738663015.47445629121.803a0bc887a14d10d2c447"
	    "fce8b6703c\",\"view\":{\"type\":\"modal\",\"title\":{\"type\":"
	    "\"plain_text\",\"text\":\"Case \\\"}\"},\"blocks\":[]}}");
	wire_stop(&w);
}
END_TEST

START_TEST(test_wire_views_update)
{
	struct wire		 w;
	struct slackweb_view	 v;

	wire_start(&w, reply_json(0, "200 OK", "", json(VIEW_OK)));
	ck_assert_int_eq(slackweb_views_update(w.h, &w.cfg, bot(), "VMHU10V25",
	    "156772938.1827394", "{\"type\":\"modal\"}", 0, &v, NULL),
	    SLACKWEB_OK);
	assert_post(&w, 1, "POST /api/views.update HTTP/1.1\r\n", JSON_TYPE,
	    "{\"view_id\":\"VMHU10V25\",\"hash\":\"156772938.1827394\","
	    "\"view\":{\"type\":\"modal\"}}");
	/* Without a hash, none is sent. */
	ck_assert_int_eq(slackweb_views_update(w.h, &w.cfg, bot(), "VMHU10V25",
	    NULL, "{\"type\":\"modal\"}", 0, &v, NULL), SLACKWEB_OK);
	assert_post(&w, 2, "POST /api/views.update HTTP/1.1\r\n", JSON_TYPE,
	    "{\"view_id\":\"VMHU10V25\",\"view\":{\"type\":\"modal\"}}");
	wire_stop(&w);
}
END_TEST

START_TEST(test_wire_permalink)
{
	struct wire	 w;
	char		*link;

	wire_start(&w, reply_json(0, "200 OK", "", json("{'ok':true,"
	    "'channel':'C123ABC456','permalink':'https://ghostbusters.slack."
	    "com/archives/C1H9RESGA/p135854651500008'}")));
	ck_assert_int_eq(slackweb_permalink(w.h, &w.cfg, bot(), "C123ABC456",
	    "1405894322.002768", 0, &link, NULL), SLACKWEB_OK);
	ck_assert_str_eq(link, "https://ghostbusters.slack.com/archives/"
	    "C1H9RESGA/p135854651500008");
	free(link);
	assert_post(&w, 1, "POST /api/chat.getPermalink HTTP/1.1\r\n",
	    "application/x-www-form-urlencoded",
	    "channel=C123ABC456&message_ts=1405894322.002768");
	wire_stop(&w);
}
END_TEST

/* Errors on the wire: classified, logged with the code, never the
 * token (log_teardown checks). */
START_TEST(test_wire_errors)
{
	struct wire		 w;
	struct slackweb_view	 v;
	struct slackweb_error	 err;

	wire_start(&w, reply_json(0, "200 OK", "", json("{'ok':false,"
	    "'error':'expired_trigger_id'}")));
	ck_assert_int_eq(slackweb_views_open(w.h, &w.cfg, bot(), "1.2.a",
	    "{}", 2000, &v, &err), SLACKWEB_TRIGGER_EXPIRED);
	ck_assert_str_eq(err.code, "expired_trigger_id");
	ck_assert_ptr_nonnull(strstr(logged, "call=views.open status=200 "
	    "code=\"expired_trigger_id\" result=trigger_expired"));
	wire_stop(&w);
	wire_start(&w, reply_json(0, "200 OK", "", json("{'ok':false,"
	    "'error':'invalid_arguments','response_metadata':{'messages':"
	    "['[ERROR] must be less than 25 characters "
	    "[json-pointer:/view/title/text]']}}")));
	ck_assert_int_eq(slackweb_views_update(w.h, &w.cfg, bot(), "V1", NULL,
	    "{}", 0, &v, &err), SLACKWEB_BAD_REQUEST);
	ck_assert_ptr_nonnull(strstr(logged, "code=\"invalid_arguments\" "
	    "result=bad_request detail=\"[ERROR] must be less than 25 "
	    "characters [json-pointer:/view/title/text]\""));
	wire_stop(&w);
	wire_start(&w, reply_json(0, "503 Service Unavailable", "", "{}"));
	ck_assert_int_eq(slackweb_views_update(w.h, &w.cfg, bot(), "V1", NULL,
	    "{}", 5000, &v, &err), SLACKWEB_TRANSIENT);
	wire_stop(&w);
}
END_TEST

/*
 * A 429: without budget for the wait, the caller hears of it at once,
 * after one request; with the budget, the call waits and is made once
 * more (and only once, however often Slack says 429).  struct http hands
 * no headers over yet, so the wait is SLACKWEB_RETRY_DEFAULT whatever
 * Retry-After says (2 here): when it does, this test must see 2.
 */
START_TEST(test_wire_ratelimited)
{
	struct wire		 w;
	struct slackweb_view	 v;
	struct slackweb_error	 err;
	const char		*seq[2];
	struct timespec		 t0, t1;
	char			 req[4096];
	int			 n;
	long			 ms;

	seq[0] = reply_json(0, "429 Too Many Requests", "Retry-After: 2\r\n",
	    json("{'ok':false,'error':'ratelimited'}"));
	seq[1] = reply_json(1, "200 OK", "", json(VIEW_OK));
	/* No budget; then a budget shorter than the wait. */
	tls_start_seq(&w.s, "server", seq, 2);
	wire_begin(&w);
	ck_assert_int_eq(slackweb_views_open(w.h, &w.cfg, bot(), "1.2.a",
	    "{}", 0, &v, &err), SLACKWEB_RATELIMITED);
	ck_assert_int_eq(err.retry_after, 2);
	ck_assert_str_eq(err.code, "ratelimited");
	ck_assert_ptr_nonnull(strstr(logged, "call=views.open status=429 "
	    "code=\"ratelimited\" result=ratelimited retry_after=2"));
	tls_last(&w.s, req, sizeof(req), &n);
	ck_assert_int_eq(n, 1);
	wire_stop(&w);
	tls_start_seq(&w.s, "server", seq, 2);
	wire_begin(&w);
	ck_assert_int_eq(slackweb_views_open(w.h, &w.cfg, bot(), "1.2.a",
	    "{}", 1999, &v, &err),
	    SLACKWEB_RATELIMITED);
	tls_last(&w.s, req, sizeof(req), &n);
	ck_assert_int_eq(n, 1);
	wire_stop(&w);
	/* Enough budget: waits, then succeeds. */
	tls_start_seq(&w.s, "server", seq, 2);
	wire_begin(&w);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(slackweb_views_open(w.h, &w.cfg, bot(), "1.2.a",
	    "{}", 2500, &v, &err), SLACKWEB_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ck_assert_int_ge(ms, 2000);
	ck_assert_str_eq(v.id, "VMHU10V25");
	tls_last(&w.s, req, sizeof(req), &n);
	ck_assert_int_eq(n, 2);
	wire_stop(&w);
	/* Two 429s: one retry only. */
	seq[1] = seq[0];
	tls_start_seq(&w.s, "server", seq, 2);
	wire_begin(&w);
	ck_assert_int_eq(slackweb_permalink(w.h, &w.cfg, bot(), "C1", "1.2",
	    60000, &(char *){ NULL }, &err), SLACKWEB_RATELIMITED);
	tls_last(&w.s, req, sizeof(req), &n);
	ck_assert_int_eq(n, 2);
	wire_stop(&w);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("slackweb");
	TCase	*tc;

	crypto_init();
	http_init();
	tc = tcase_create("parse");
	tcase_add_checked_fixture(tc, log_setup, log_teardown);
	tcase_add_test(tc, test_parse_view_documented);
	tcase_add_loop_test(tc, test_parse_view_table, 0,
	    sizeof(view_table) / sizeof(view_table[0]));
	tcase_add_test(tc, test_parse_view_detail);
	tcase_add_loop_test(tc, test_parse_permalink_table, 0,
	    sizeof(permalink_table) / sizeof(permalink_table[0]));
	tcase_add_test(tc, test_parse_permalink_length);
	tcase_add_test(tc, test_result_words);
	suite_add_tcase(s, tc);

	tc = tcase_create("calls");
	tcase_set_timeout(tc, 10);
	tcase_add_checked_fixture(tc, log_setup, log_teardown);
	tcase_add_test(tc, test_local_refusals);
	suite_add_tcase(s, tc);

	tc = tcase_create("wire");
	tcase_set_timeout(tc, 20);
	tcase_add_unchecked_fixture(tc, tls_certs_setup, tls_certs_teardown);
	tcase_add_checked_fixture(tc, log_setup, log_teardown);
	tcase_add_test(tc, test_wire_views_open);
	tcase_add_test(tc, test_wire_views_update);
	tcase_add_test(tc, test_wire_permalink);
	tcase_add_test(tc, test_wire_errors);
	tcase_add_test(tc, test_wire_ratelimited);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

/*
 * test_slackapi: common/slackapi.c.
 *
 * The replies are Slack's documented ones ("Installing with OAuth",
 * "Using token rotation", "Developing for Enterprise orgs"), then each
 * way a hostile or broken reply can differ from them, one row per way,
 * each with the exact class it must get.  The calls themselves go to the
 * local "openssl s_server" of tls_server.c, so the request line, the
 * form body and the Bearer header are checked byte for byte.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "config.h"
#include "crypto.h"
#include "http.h"
#include "keyring.h"
#include "slackapi.h"
#include "testutil.h"
#include "tls_server.h"

/*
 * The tokens of a run, in Slack's shapes, made at run time so that no
 * test file holds anything that looks like a credential: a bot token
 * (xoxb-), a rotating bot token (xoxe.xoxb-1-), a refresh token
 * (xoxe-1-) and a user token (xoxp-).  In the tables they are written
 * @BOT@, @ROT@, @REF@ and @USR@.
 */
enum tok { T_BOT, T_ROT, T_REF, T_USR, T__MAX };

static const char *
tok(enum tok t)
{
	static const char *const prefix[T__MAX] = {
		"xoxb-", "xoxe.xoxb-1-", "xoxe-1-", "xoxp-"
	};
	static char	 v[T__MAX][TU_TOKEN_MAX];

	if (v[t][0] == '\0')
		tu_token(v[t], prefix[t]);
	return v[t];
}

/* Single quotes stand for double quotes, for readable tables, and the
 * @...@ marks for the run's tokens (see tok()). */
static char *
json(const char *sq)
{
	static const char *const mark[T__MAX] = {
		"@BOT@", "@ROT@", "@REF@", "@USR@"
	};
	static char	 ring[4][8192];
	static int	 next;
	char		*out = ring[next++ % 4];
	size_t		 i, o = 0, n;
	int		 t;

	for (i = 0; sq[i] != '\0'; i++) {
		for (t = 0; t < T__MAX; t++)
			if (strncmp(sq + i, mark[t], strlen(mark[t])) == 0)
				break;
		if (t < T__MAX) {
			n = strlen(tok(t));
			ck_assert_uint_lt(o + n, sizeof(ring[0]));
			memcpy(out + o, tok(t), n);
			o += n;
			i += strlen(mark[t]) - 1;
			continue;
		}
		ck_assert_uint_lt(o + 1, sizeof(ring[0]));
		out[o++] = sq[i] == '\'' ? '"' : sq[i];
	}
	out[o] = '\0';
	return out;
}

/* Slack's own example ("Installing with OAuth"): a workspace of an
 * Enterprise Grid, a bot token, and a user token under authed_user (the
 * tokens are the run's, see tok()). */
#define DOC_EXAMPLE \
	"{'ok': true, " \
	"'access_token': " \
	"'@BOT@'," \
	" 'token_type': 'bot', 'scope': 'commands,incoming-webhook', " \
	"'bot_user_id': 'U0KRQLJ9H', 'app_id': 'A0KRD7HC3', " \
	"'team': {'name': 'Slack Softball Team', 'id': 'T9TK3CUKW'}, " \
	"'enterprise': {'name': 'slack-sports', 'id': 'E12345678'}, " \
	"'authed_user': {'id': 'U1234', 'scope': 'chat:write', " \
	"'access_token': '@USR@', 'token_type': 'user'}}"

/* A workspace outside a grid, with token rotation. */
#define ROTATING \
	"{'ok':true,'access_token':'@ROT@','expires_in':43200," \
	"'refresh_token':'@REF@','token_type':'bot','scope':'commands'," \
	"'bot_user_id':'U0BOT1','app_id':'A0APP1'," \
	"'team':{'name':'E2E','id':'T0E2E0001'},'enterprise':null," \
	"'is_enterprise_install':false,'authed_user':{'id':'U0ADMIN'}}"

/* An org-wide install ("Developing for Enterprise orgs"): team null. */
#define ORG_WIDE \
	"{'ok':true,'access_token':'@BOT@','token_type':'bot'," \
	"'scope':'commands','bot_user_id':'U0BOT2','app_id':'A0APP1'," \
	"'is_enterprise_install':true,'team':null," \
	"'enterprise':{'id':'E123ABC456','name':'Jesse Slacksalot'}," \
	"'authed_user':{'id':'W0ADMIN'}}"

START_TEST(test_parse_documented_example)
{
	const char		*s;
	struct slackapi_grant	 g;
	struct slackapi_error	 err;

	s = json(DOC_EXAMPLE);
	ck_assert_int_eq(slackapi_parse_grant(200, s, strlen(s), 0, &g, &err),
	    SLACKAPI_OK);
	ck_assert_str_eq(g.access_token, tok(T_BOT));
	ck_assert_ptr_null(g.refresh_token);
	ck_assert_int_eq(g.expires_in, 0);
	ck_assert_str_eq(g.scope, "commands,incoming-webhook");
	ck_assert_str_eq(g.bot_user_id, "U0KRQLJ9H");
	ck_assert_str_eq(g.app_id, "A0KRD7HC3");
	ck_assert_int_eq(g.is_enterprise_install, 0);
	ck_assert_str_eq(g.team_id, "T9TK3CUKW");
	ck_assert_str_eq(g.team_name, "Slack Softball Team");
	ck_assert_str_eq(g.enterprise_id, "E12345678");
	ck_assert_str_eq(g.enterprise_name, "slack-sports");
	ck_assert_str_eq(g.installer_user_id, "U1234");
	slackapi_grant_free(&g);
	ck_assert_ptr_null(g.access_token);
}
END_TEST

START_TEST(test_parse_rotating)
{
	const char		*s;
	struct slackapi_grant	 g;

	s = json(ROTATING);
	ck_assert_int_eq(slackapi_parse_grant(200, s, strlen(s), 0, &g, NULL),
	    SLACKAPI_OK);
	ck_assert_str_eq(g.access_token, tok(T_ROT));
	ck_assert_str_eq(g.refresh_token, tok(T_REF));
	ck_assert_int_eq(g.expires_in, 43200);
	ck_assert_str_eq(g.team_id, "T0E2E0001");
	ck_assert_ptr_null(g.enterprise_id);
	ck_assert_ptr_null(g.enterprise_name);
	ck_assert_str_eq(g.installer_user_id, "U0ADMIN");
	slackapi_grant_free(&g);
}
END_TEST

START_TEST(test_parse_org_wide)
{
	const char		*s;
	struct slackapi_grant	 g;

	s = json(ORG_WIDE);
	ck_assert_int_eq(slackapi_parse_grant(200, s, strlen(s), 0, &g, NULL),
	    SLACKAPI_OK);
	ck_assert_int_eq(g.is_enterprise_install, 1);
	ck_assert_ptr_null(g.team_id);
	ck_assert_ptr_null(g.team_name);
	ck_assert_str_eq(g.enterprise_id, "E123ABC456");
	ck_assert_str_eq(g.enterprise_name, "Jesse Slacksalot");
	ck_assert_str_eq(g.installer_user_id, "W0ADMIN");
	slackapi_grant_free(&g);
}
END_TEST

/* A refresh reply has no authed_user; an org-wide one may still carry a
 * team, which is ignored: the key is the enterprise alone. */
START_TEST(test_parse_refresh_reply)
{
	struct slackapi_grant	 g;
	const char		*s = json("{'ok':true,'app_id':'A0APP1',"
	    "'access_token':'@ROT@','expires_in':43200,"
	    "'refresh_token':'@REF@','token_type':'bot',"
	    "'scope':'commands','bot_user_id':'U0BOT2',"
	    "'team':{'name':'x','id':'T0OTHER'},"
	    "'enterprise':{'name':'G','id':'E0GRID'},"
	    "'is_enterprise_install':true}");

	ck_assert_int_eq(slackapi_parse_grant(200, s, strlen(s), 1, &g, NULL),
	    SLACKAPI_OK);
	ck_assert_ptr_null(g.team_id);
	ck_assert_str_eq(g.enterprise_id, "E0GRID");
	ck_assert_ptr_null(g.installer_user_id);
	slackapi_grant_free(&g);
}
END_TEST

/* One row per way a grant reply is refused, with its class. */
static const struct {
	long		 status;
	int		 refresh;
	const char	*body;
	enum slackapi_result want;
	const char	*code;		/* NULL: "" */
} grant_table[] = {
	/* Slack's errors: HTTP 200, ok false. */
	{ 200, 0, "{'ok':false,'error':'invalid_code'}", SLACKAPI_REFUSED,
	    "invalid_code" },
	{ 200, 0, "{'ok':false,'error':'bad_redirect_uri'}", SLACKAPI_REFUSED,
	    "bad_redirect_uri" },
	{ 200, 0, "{'ok':false,'error':'bad_client_secret'}",
	    SLACKAPI_REFUSED, "bad_client_secret" },
	{ 200, 1, "{'ok':false,'error':'invalid_client_id'}",
	    SLACKAPI_REFUSED, "invalid_client_id" },
	{ 200, 1, "{'ok':false,'error':'invalid_refresh_token'}",
	    SLACKAPI_REVOKED, "invalid_refresh_token" },
	{ 200, 1, "{'ok':false,'error':'token_revoked'}", SLACKAPI_REVOKED,
	    "token_revoked" },
	/* A code exchange has nothing to revoke. */
	{ 200, 0, "{'ok':false,'error':'invalid_refresh_token'}",
	    SLACKAPI_REFUSED, "invalid_refresh_token" },
	{ 200, 1, "{'ok':false,'error':'ratelimited'}", SLACKAPI_REFUSED,
	    "ratelimited" },
	/* The code is made safe to log. */
	{ 200, 0, "{'ok':false,'error':'a\\'b c\\\\d\\u00e9'}",
	    SLACKAPI_REFUSED, "a?b?c?d??" },
	{ 200, 0, "{'ok':false}", SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "{'ok':false,'error':7}", SLACKAPI_MALFORMED, NULL },
	/* Transport-level trouble. */
	{ 500, 1, "{'ok':false,'error':'internal_error'}",
	    SLACKAPI_TRANSIENT, NULL },
	{ 503, 1, "<html>down</html>", SLACKAPI_TRANSIENT, NULL },
	{ 429, 1, "{'ok':false,'error':'ratelimited'}", SLACKAPI_TRANSIENT,
	    NULL },
	{ 404, 0, "<html>no</html>", SLACKAPI_MALFORMED, NULL },
	{ 201, 0, ROTATING, SLACKAPI_MALFORMED, NULL },
	/* The envelope. */
	{ 200, 0, "", SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "[]", SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "{}", SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "{'ok':'true'}", SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "{'ok':1}", SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "{'ok':null}", SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "{'ok':true} x", SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "{'ok':true,}", SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]",
	    SLACKAPI_MALFORMED, NULL },
	/* A success that is not a complete bot grant. */
	{ 200, 0, "{'ok':true}", SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "{'ok':true,'access_token':'@USR@','token_type':'user',"
	    "'scope':'commands','bot_user_id':'U1','app_id':'A1',"
	    "'team':{'id':'T1','name':'n'}}", SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "{'ok':true,'access_token':'@USR@','token_type':'bot',"
	    "'scope':'commands','bot_user_id':'U1','app_id':'A1',"
	    "'team':{'id':'T1','name':'n'}}", SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "{'ok':true,'access_token':'@BOT@ 2','token_type':'bot',"
	    "'scope':'commands','bot_user_id':'U1','app_id':'A1',"
	    "'team':{'id':'T1','name':'n'}}", SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "{'ok':true,'access_token':'xoxb-','token_type':'bot',"
	    "'scope':'commands','bot_user_id':'U1','app_id':'A1',"
	    "'team':{'id':'T1','name':'n'}}", SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "{'ok':true,'access_token':'@BOT@','token_type':'bot',"
	    "'scope':'commands','bot_user_id':'u1','app_id':'A1',"
	    "'team':{'id':'T1','name':'n'}}", SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "{'ok':true,'access_token':'@BOT@','token_type':'bot',"
	    "'scope':'commands','bot_user_id':'U1','app_id':'A1',"
	    "'team':{'id':'T1\\u0000','name':'n'}}", SLACKAPI_MALFORMED,
	    NULL },
	{ 200, 0, "{'ok':true,'access_token':'@BOT@','token_type':'bot',"
	    "'scope':'commands','bot_user_id':'U1','app_id':'A1'}",
	    SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "{'ok':true,'access_token':'@BOT@','token_type':'bot',"
	    "'scope':'commands','bot_user_id':'U1','app_id':'A1',"
	    "'team':'T1'}", SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "{'ok':true,'access_token':'@BOT@','token_type':'bot',"
	    "'scope':'commands','bot_user_id':'U1','app_id':'A1',"
	    "'is_enterprise_install':true,'team':null,'enterprise':null}",
	    SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "{'ok':true,'access_token':'@BOT@','token_type':'bot',"
	    "'scope':'commands','bot_user_id':'U1','app_id':'A1',"
	    "'is_enterprise_install':'true','enterprise':{'id':'E1'}}",
	    SLACKAPI_MALFORMED, NULL },
	/* A refresh token needs an expiry, and expiries are sane. */
	{ 200, 0, "{'ok':true,'access_token':'@ROT@','token_type':'bot',"
	    "'refresh_token':'@REF@','scope':'commands','bot_user_id':'U1',"
	    "'app_id':'A1','team':{'id':'T1','name':'n'}}",
	    SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "{'ok':true,'access_token':'@ROT@','token_type':'bot',"
	    "'refresh_token':'@REF@','expires_in':0,'scope':'commands',"
	    "'bot_user_id':'U1','app_id':'A1','team':{'id':'T1','name':'n'}}",
	    SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "{'ok':true,'access_token':'@ROT@','token_type':'bot',"
	    "'refresh_token':'@REF@','expires_in':-5,'scope':'commands',"
	    "'bot_user_id':'U1','app_id':'A1','team':{'id':'T1','name':'n'}}",
	    SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "{'ok':true,'access_token':'@ROT@','token_type':'bot',"
	    "'refresh_token':'@REF@','expires_in':'43200',"
	    "'scope':'commands','bot_user_id':'U1','app_id':'A1',"
	    "'team':{'id':'T1','name':'n'}}", SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "{'ok':true,'access_token':'@ROT@','token_type':'bot',"
	    "'refresh_token':'@REF@','expires_in':43200.5,"
	    "'scope':'commands','bot_user_id':'U1','app_id':'A1',"
	    "'team':{'id':'T1','name':'n'}}", SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "{'ok':true,'access_token':'@ROT@','token_type':'bot',"
	    "'refresh_token':'@REF@','expires_in':99999999999999,"
	    "'scope':'commands','bot_user_id':'U1','app_id':'A1',"
	    "'team':{'id':'T1','name':'n'}}", SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "{'ok':true,'access_token':'@ROT@','token_type':'bot',"
	    "'refresh_token':'5Aep-r','expires_in':43200,"
	    "'scope':'commands','bot_user_id':'U1','app_id':'A1',"
	    "'team':{'id':'T1','name':'n'}}", SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "{'ok':true,'access_token':'@BOT@','token_type':'bot',"
	    "'scope':'','bot_user_id':'U1','app_id':'A1',"
	    "'team':{'id':'T1','name':'n'}}", SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "{'ok':true,'access_token':'@BOT@','token_type':'bot',"
	    "'scope':'commands','bot_user_id':'U1','app_id':'A1',"
	    "'team':{'id':'T1','name':'n'},'authed_user':'U1'}",
	    SLACKAPI_MALFORMED, NULL },
	/* Invalid UTF-8 in a name, a raw control byte. */
	{ 200, 0, "{'ok':true,'access_token':'@BOT@','token_type':'bot',"
	    "'scope':'commands','bot_user_id':'U1','app_id':'A1',"
	    "'team':{'id':'T1','name':'\xc0\xaf'}}", SLACKAPI_MALFORMED, NULL },
	{ 200, 0, "{'ok':true,'access_token':'@BOT@','token_type':'bot',"
	    "'scope':'commands','bot_user_id':'U1','app_id':'A1',"
	    "'team':{'id':'T1','name':'a\tb'}}", SLACKAPI_MALFORMED, NULL },
};

START_TEST(test_parse_grant_table)
{
	struct slackapi_grant	 g;
	struct slackapi_error	 err;
	const char		*s = json(grant_table[_i].body);

	memset(&err, 'X', sizeof(err));
	ck_assert_int_eq(slackapi_parse_grant(grant_table[_i].status, s,
	    strlen(s), grant_table[_i].refresh, &g, &err),
	    grant_table[_i].want);
	ck_assert_str_eq(err.code, grant_table[_i].code != NULL ?
	    grant_table[_i].code : "");
	ck_assert_ptr_null(g.access_token);
	ck_assert_ptr_null(g.team_id);
}
END_TEST

START_TEST(test_parse_identity)
{
	struct slackapi_identity id;
	const char		*bot = json("{'ok':true,"
	    "'url':'https://e2e.slack.com/','team':'E2E','user':'forcelink',"
	    "'team_id':'T0E2E0001','user_id':'U0BOT1','bot_id':'B0BOT1',"
	    "'is_enterprise_install':false}");
	const char		*org = json("{'ok':true,'url':'https://g/',"
	    "'team':null,'user':'forcelink','team_id':null,'user_id':'U0BOT2',"
	    "'bot_id':'B0BOT2','enterprise_id':'E0GRID',"
	    "'is_enterprise_install':true}");

	ck_assert_int_eq(slackapi_parse_identity(200, bot, strlen(bot), &id,
	    NULL), SLACKAPI_OK);
	ck_assert_str_eq(id.user_id, "U0BOT1");
	ck_assert_str_eq(id.bot_id, "B0BOT1");
	ck_assert_str_eq(id.team_id, "T0E2E0001");
	ck_assert_ptr_null(id.enterprise_id);
	ck_assert_int_eq(id.is_enterprise_install, 0);
	slackapi_identity_free(&id);
	ck_assert_int_eq(slackapi_parse_identity(200, org, strlen(org), &id,
	    NULL), SLACKAPI_OK);
	ck_assert_ptr_null(id.team_id);
	ck_assert_str_eq(id.enterprise_id, "E0GRID");
	ck_assert_int_eq(id.is_enterprise_install, 1);
	slackapi_identity_free(&id);
}
END_TEST

static const struct {
	const char	*body;
	enum slackapi_result want;
} identity_table[] = {
	{ "{'ok':false,'error':'invalid_auth'}", SLACKAPI_REVOKED },
	{ "{'ok':false,'error':'token_expired'}", SLACKAPI_REVOKED },
	{ "{'ok':false,'error':'not_authed'}", SLACKAPI_REVOKED },
	{ "{'ok':false,'error':'fatal_error'}", SLACKAPI_REFUSED },
	{ "{'ok':true}", SLACKAPI_MALFORMED },
	{ "{'ok':true,'user_id':17}", SLACKAPI_MALFORMED },
	{ "{'ok':true,'user_id':'U1','team_id':false}", SLACKAPI_MALFORMED },
	{ "{'ok':true,'user_id':'U1','is_enterprise_install':'true'}",
	    SLACKAPI_MALFORMED },
	{ "{'ok':true,'user_id':'U1','bot_id':'b1'}", SLACKAPI_MALFORMED },
};

START_TEST(test_parse_identity_table)
{
	struct slackapi_identity id;
	const char		*s = json(identity_table[_i].body);

	ck_assert_int_eq(slackapi_parse_identity(200, s, strlen(s), &id,
	    NULL), identity_table[_i].want);
	ck_assert_ptr_null(id.user_id);
}
END_TEST

static void
config_fill(struct config *c, const char *api)
{
	memset(c, 0, sizeof(*c));
	c->slack_client_id = (char *)"1234567890.0987654321";
	c->slack_client_secret = (char *)"s3cr3t&=";
	c->slack_authorize_url =
	    (char *)"https://slack.example/oauth/v2/authorize";
	c->slack_api_url = (char *)api;
	c->slack_redirect_uri =
	    (char *)"https://fl.example/slack/oauth_redirect";
	c->public_url = (char *)"https://fl.example";
}

START_TEST(test_authorize_url)
{
	struct config	 c;
	char		*url;

	config_fill(&c, "https://slack.example/api");
	url = slackapi_authorize_url(&c, "st/ate+1");
	ck_assert_str_eq(url, "https://slack.example/oauth/v2/authorize?"
	    "client_id=1234567890.0987654321&scope=commands&redirect_uri="
	    "https%3A%2F%2Ffl.example%2Fslack%2Foauth_redirect"
	    "&state=st%2Fate%2B1");
	free(url);
	c.slack_client_id = NULL;
	ck_assert_ptr_null(slackapi_authorize_url(&c, "s"));
}
END_TEST

START_TEST(test_result_str)
{
	ck_assert_str_eq(slackapi_result_str(SLACKAPI_OK), "ok");
	ck_assert_str_eq(slackapi_result_str(SLACKAPI_REVOKED), "revoked");
	ck_assert_str_eq(slackapi_result_str(SLACKAPI_MALFORMED), "malformed");
	ck_assert_str_eq(slackapi_result_str(SLACKAPI_ERROR), "error");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Sign in with Slack and users.info (issue 11) */

/* openid.connect.userInfo as Slack documents it (scopes openid, email
 * and profile), less the image claims. */
#define OIDC_USER \
	"{'ok': true, 'sub': 'U0R7JM', " \
	"'https://slack.com/user_id': 'U0R7JM', " \
	"'https://slack.com/team_id': 'T0R7GR', " \
	"'email': 'krane@slack-corp.com', 'email_verified': true, " \
	"'date_email_verified': 1622128723, 'name': 'krane', " \
	"'given_name': 'Bront', 'family_name': 'Labradoodle', " \
	"'locale': 'en-US', 'https://slack.com/team_name': 'kraneflannel', " \
	"'https://slack.com/team_domain': 'kraneflannel'}"

START_TEST(test_parse_oidc_user)
{
	struct slackapi_oidc_user	 u;
	struct slackapi_error		 err;
	const char			*j = json(OIDC_USER);

	ck_assert_int_eq(slackapi_parse_oidc_user(200, j, strlen(j), &u,
	    &err), SLACKAPI_OK);
	ck_assert_str_eq(u.user_id, "U0R7JM");
	ck_assert_str_eq(u.team_id, "T0R7GR");
	ck_assert_ptr_null(u.enterprise_id);
	ck_assert_str_eq(u.team_domain, "kraneflannel");
	ck_assert_str_eq(u.name, "krane");
	ck_assert_str_eq(u.email, "krane@slack-corp.com");
	ck_assert_int_eq(u.email_verified, 1);
	slackapi_oidc_user_free(&u);
}
END_TEST

/* Each way a userInfo reply can differ, and the class it gets. */
static const struct {
	const char		*name;
	long			 status;
	const char		*body;
	enum slackapi_result	 want;
	const char		*enterprise;	/* when SLACKAPI_OK */
} oidc_user_table[] = {
	{ "only openid: ids alone", 200, "{'ok':true,'sub':'U1',"
	    "'https://slack.com/user_id':'U1',"
	    "'https://slack.com/team_id':'T1'}", SLACKAPI_OK, NULL },
	{ "grid workspace", 200, "{'ok':true,'https://slack.com/user_id':"
	    "'W1','https://slack.com/team_id':'T1',"
	    "'https://slack.com/enterprise_id':'E1'}", SLACKAPI_OK, "E1" },
	{ "no user id", 200, "{'ok':true,'https://slack.com/team_id':'T1'}",
	    SLACKAPI_MALFORMED, NULL },
	{ "no team id", 200, "{'ok':true,'https://slack.com/user_id':'U1'}",
	    SLACKAPI_MALFORMED, NULL },
	{ "user id not an id", 200, "{'ok':true,'https://slack.com/user_id':"
	    "'U1 <b>','https://slack.com/team_id':'T1'}", SLACKAPI_MALFORMED,
	    NULL },
	{ "user id a number", 200, "{'ok':true,'https://slack.com/user_id':"
	    "1,'https://slack.com/team_id':'T1'}", SLACKAPI_MALFORMED, NULL },
	{ "email_verified a string", 200, "{'ok':true,"
	    "'https://slack.com/user_id':'U1','https://slack.com/team_id':"
	    "'T1','email':'a@b','email_verified':'true'}", SLACKAPI_MALFORMED,
	    NULL },
	{ "refused token", 200, "{'ok':false,'error':'invalid_auth'}",
	    SLACKAPI_REFUSED, NULL },
	{ "not JSON", 200, "<html>", SLACKAPI_MALFORMED, NULL },
	{ "server error", 500, "{'ok':false,'error':'internal_error'}",
	    SLACKAPI_TRANSIENT, NULL },
};

START_TEST(test_parse_oidc_user_table)
{
	struct slackapi_oidc_user	 u;
	struct slackapi_error		 err;
	const char			*j = json(oidc_user_table[_i].body);
	enum slackapi_result		 r;

	r = slackapi_parse_oidc_user(oidc_user_table[_i].status, j,
	    strlen(j), &u, &err);
	ck_assert_msg(r == oidc_user_table[_i].want, "%s: %s",
	    oidc_user_table[_i].name, slackapi_result_str(r));
	if (r == SLACKAPI_OK && oidc_user_table[_i].enterprise != NULL)
		ck_assert_str_eq(u.enterprise_id,
		    oidc_user_table[_i].enterprise);
	else if (r == SLACKAPI_OK)
		ck_assert_ptr_null(u.enterprise_id);
	else
		ck_assert_ptr_null(u.user_id);
	slackapi_oidc_user_free(&u);
}
END_TEST

START_TEST(test_parse_oidc_token)
{
	struct slackapi_error	 err;
	char			 body[1024];
	char			*at = NULL;

	/* openid.connect.token as documented: the id_token is not kept. */
	snprintf(body, sizeof(body), "{\"ok\":true,\"access_token\":\"%s\","
	    "\"token_type\":\"Bearer\",\"id_token\":\"eyJh.eyJz.c2ln\"}",
	    tok(T_USR));
	ck_assert_int_eq(slackapi_parse_oidc_token(200, body, strlen(body),
	    &at, &err), SLACKAPI_OK);
	ck_assert_str_eq(at, tok(T_USR));
	free(at);
	at = NULL;
	snprintf(body, sizeof(body), "{\"ok\":false,\"error\":"
	    "\"invalid_code\"}");
	ck_assert_int_eq(slackapi_parse_oidc_token(200, body, strlen(body),
	    &at, &err), SLACKAPI_REFUSED);
	ck_assert_ptr_null(at);
	snprintf(body, sizeof(body), "{\"ok\":true,\"token_type\":"
	    "\"Bearer\"}");
	ck_assert_int_eq(slackapi_parse_oidc_token(200, body, strlen(body),
	    &at, &err), SLACKAPI_MALFORMED);
	ck_assert_ptr_null(at);
}
END_TEST

/* users.info replies (profile.email needs users:read.email). */
static const struct {
	const char		*name;
	const char		*body;
	enum slackapi_result	 want;
	const char		*email;		/* NULL: none */
} user_email_table[] = {
	{ "email shown", "{'ok':true,'user':{'id':'U1','team_id':'T1',"
	    "'profile':{'real_name':'A','email':'a@example.com'}}}",
	    SLACKAPI_OK, "a@example.com" },
	{ "confirmed", "{'ok':true,'user':{'id':'U1','is_email_confirmed':"
	    "true,'profile':{'email':'a@example.com'}}}", SLACKAPI_OK,
	    "a@example.com" },
	{ "not confirmed", "{'ok':true,'user':{'id':'U1',"
	    "'is_email_confirmed':false,'profile':{'email':'a@example.com'}}}",
	    SLACKAPI_OK, NULL },
	{ "no users:read.email", "{'ok':true,'user':{'id':'U1','profile':"
	    "{'real_name':'A'}}}", SLACKAPI_OK, NULL },
	{ "missing scope", "{'ok':false,'error':'missing_scope',"
	    "'needed':'users:read','provided':'commands'}", SLACKAPI_REFUSED,
	    NULL },
	{ "no profile", "{'ok':true,'user':{'id':'U1'}}", SLACKAPI_MALFORMED,
	    NULL },
	{ "email a number", "{'ok':true,'user':{'id':'U1','profile':"
	    "{'email':7}}}", SLACKAPI_MALFORMED, NULL },
};

START_TEST(test_parse_user_email_table)
{
	struct slackapi_error	 err;
	const char		*j = json(user_email_table[_i].body);
	enum slackapi_result	 r;
	char			*email = NULL;

	r = slackapi_parse_user_email(200, j, strlen(j), &email, &err);
	ck_assert_msg(r == user_email_table[_i].want, "%s: %s",
	    user_email_table[_i].name, slackapi_result_str(r));
	if (user_email_table[_i].email != NULL)
		ck_assert_str_eq(email, user_email_table[_i].email);
	else
		ck_assert_msg(email == NULL, "%s: %s",
		    user_email_table[_i].name, email);
	free(email);
}
END_TEST

START_TEST(test_signin_url)
{
	struct config		 c;
	struct crypto_key	 k;
	unsigned char		 h[CRYPTO_HASHLEN];
	char			 nonce[SLACKAPI_NONCE_LEN + 1], want[1024];
	char			 other[SLACKAPI_NONCE_LEN + 1], ch[44];
	char			*url;

	config_fill(&c, "https://slack.example/api");
	c.redirect_uri = (char *)"https://fl.example/oauth/callback";
	ck_assert_int_eq(crypto_key_from_base64(&k,
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="), 0);
	ck_assert_ptr_nonnull(c.keyring = keyring_from_keys(&k, 1));
	crypto_sha256("st-ate", h);
	slackapi_oidc_nonce(&c, h, nonce);
	ck_assert_uint_eq(strlen(nonce), SLACKAPI_NONCE_LEN);
	/* Bound to the state: another state, another nonce. */
	crypto_sha256("other", h);
	slackapi_oidc_nonce(&c, h, other);
	ck_assert_str_ne(nonce, other);
	crypto_sha256("st-ate", h);
	crypto_pkce_challenge("v3rifier", ch);
	snprintf(want, sizeof(want), "https://slack.example/openid/connect/"
	    "authorize?response_type=code&scope=openid%%20profile&client_id="
	    "1234567890.0987654321&redirect_uri=https%%3A%%2F%%2Ffl.example"
	    "%%2Foauth%%2Fcallback&state=st-ate&nonce=%s&team=T0E2E0001"
	    "&code_challenge=%s&code_challenge_method=S256", nonce, ch);
	url = slackapi_signin_url(&c, h, "st-ate", "v3rifier", "T0E2E0001");
	ck_assert_str_eq(url, want);
	free(url);
	/* Without the verifier's challenge: the plain authorize URL. */
	url = slackapi_oidc_authorize_url(&c, "st-ate", "n", "T1");
	ck_assert_ptr_nonnull(url);
	ck_assert_ptr_null(strstr(url, "code_challenge"));
	free(url);
	c.slack_client_id = NULL;
	ck_assert_ptr_null(slackapi_signin_url(&c, h, "s", "v", "T1"));
	keyring_free(c.keyring);
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
wire_start(struct wire *w, const char *reply)
{
	tls_start(&w->s, "server", reply, strlen(reply));
	snprintf(w->api, sizeof(w->api), "https://127.0.0.1:%d/api",
	    w->s.port);
	config_fill(&w->cfg, w->api);
	w->h = tls_client("ca.pem");
}

static void
wire_stop(struct wire *w)
{
	http_free(w->h);
	tls_stop(&w->s);
}

static char *
reply_json(const char *status, const char *body)
{
	static char	 r[8192];

	snprintf(r, sizeof(r), "HTTP/1.1 %s\r\nContent-Type: application/json"
	    "\r\nContent-Length: %zu\r\n\r\n%s", status, strlen(body), body);
	return r;
}

/* Asserts the one request began with line and ended with body want. */
static void
assert_post(struct wire *w, const char *line, const char *want)
{
	char	 req[4096], *p;
	int	 n;

	tls_last(&w->s, req, sizeof(req), &n);
	ck_assert_int_eq(n, 1);
	ck_assert_msg(strncmp(req, line, strlen(line)) == 0, "request %s", req);
	ck_assert_ptr_nonnull(strstr(req,
	    "\r\nContent-Type: application/x-www-form-urlencoded\r\n"));
	ck_assert_ptr_nonnull(p = strstr(req, "\r\n\r\n"));
	ck_assert_str_eq(p + 4, want);
}

START_TEST(test_wire_oauth_access)
{
	struct wire		 w;
	struct slackapi_grant	 g;

	wire_start(&w, reply_json("200 OK", json(ROTATING)));
	ck_assert_int_eq(slackapi_oauth_access(w.h, &w.cfg, "12.34.ab/c",
	    &g, NULL), SLACKAPI_OK);
	ck_assert_str_eq(g.refresh_token, tok(T_REF));
	assert_post(&w, "POST /api/oauth.v2.access HTTP/1.1\r\n",
	    "grant_type=authorization_code&code=12.34.ab%2Fc"
	    "&client_id=1234567890.0987654321&client_secret=s3cr3t%26%3D"
	    "&redirect_uri=https%3A%2F%2Ffl.example%2Fslack%2Foauth_redirect");
	slackapi_grant_free(&g);
	wire_stop(&w);
}
END_TEST

START_TEST(test_wire_oauth_refresh_revoked)
{
	struct wire		 w;
	struct slackapi_grant	 g;
	struct slackapi_error	 err;

	char			 rt[TU_TOKEN_MAX + 1], want[512];

	/* A "+" in the token must go out percent-encoded. */
	snprintf(rt, sizeof(rt), "%s+", tok(T_REF));
	snprintf(want, sizeof(want), "grant_type=refresh_token&"
	    "refresh_token=%s%%2B&client_id=1234567890.0987654321"
	    "&client_secret=s3cr3t%%26%%3D", tok(T_REF));
	wire_start(&w, reply_json("200 OK",
	    json("{'ok':false,'error':'invalid_refresh_token'}")));
	ck_assert_int_eq(slackapi_oauth_refresh(w.h, &w.cfg, rt, &g, &err),
	    SLACKAPI_REVOKED);
	ck_assert_str_eq(err.code, "invalid_refresh_token");
	assert_post(&w, "POST /api/oauth.v2.access HTTP/1.1\r\n", want);
	wire_stop(&w);
}
END_TEST

START_TEST(test_wire_auth_test)
{
	struct wire		 w;
	struct slackapi_identity id;
	char			 req[4096], bearer[TU_TOKEN_MAX + 40];
	int			 n;

	snprintf(bearer, sizeof(bearer), "\r\nAuthorization: Bearer %s\r\n",
	    tok(T_BOT));
	wire_start(&w, reply_json("200 OK", json("{'ok':true,"
	    "'team_id':'T1','user_id':'U0BOT1','bot_id':'B1'}")));
	ck_assert_int_eq(slackapi_auth_test(w.h, &w.cfg, tok(T_BOT), &id,
	    NULL), SLACKAPI_OK);
	ck_assert_str_eq(id.bot_id, "B1");
	tls_last(&w.s, req, sizeof(req), &n);
	ck_assert_int_eq(n, 1);
	ck_assert_ptr_eq(strstr(req, "POST /api/auth.test HTTP/1.1\r\n"), req);
	ck_assert_ptr_nonnull(strstr(req, bearer));
	slackapi_identity_free(&id);
	wire_stop(&w);
}
END_TEST

START_TEST(test_wire_server_error_is_transient)
{
	struct wire		 w;
	struct slackapi_grant	 g;

	wire_start(&w, reply_json("503 Service Unavailable", "{}"));
	ck_assert_int_eq(slackapi_oauth_refresh(w.h, &w.cfg, tok(T_REF), &g,
	    NULL), SLACKAPI_TRANSIENT);
	wire_stop(&w);
}
END_TEST

/* The code exchange sends the PKCE verifier; a refused code ends the
 * sign-in before userInfo. */
START_TEST(test_wire_oidc_token_refused)
{
	struct wire			 w;
	struct slackapi_oidc_user	 u;
	struct slackapi_error		 err;

	wire_start(&w, reply_json("200 OK",
	    json("{'ok':false,'error':'invalid_code'}")));
	w.cfg.redirect_uri = (char *)"https://fl.example/oauth/callback";
	ck_assert_int_eq(slackapi_oidc_identify_pkce(w.h, &w.cfg, "12.34.ab",
	    "v3r+", &u, &err), SLACKAPI_REFUSED);
	ck_assert_str_eq(err.code, "invalid_code");
	assert_post(&w, "POST /api/openid.connect.token HTTP/1.1\r\n",
	    "grant_type=authorization_code&code=12.34.ab"
	    "&client_id=1234567890.0987654321&client_secret=s3cr3t%26%3D"
	    "&redirect_uri=https%3A%2F%2Ffl.example%2Foauth%2Fcallback"
	    "&code_verifier=v3r%2B");
	ck_assert_ptr_null(u.user_id);
	wire_stop(&w);
}
END_TEST

/* The whole sign-in: the token, then userInfo with it as Bearer.  The
 * one canned reply serves as both (it carries both replies' fields). */
START_TEST(test_wire_oidc_identify)
{
	struct wire			 w;
	struct slackapi_oidc_user	 u;
	char				 body[1024], req[4096];
	char				 bearer[TU_TOKEN_MAX + 40];
	int				 n;

	snprintf(body, sizeof(body), "{\"ok\":true,\"access_token\":\"%s\","
	    "\"token_type\":\"Bearer\",\"https://slack.com/user_id\":"
	    "\"U0E2E0001\",\"https://slack.com/team_id\":\"T0E2E0001\"}",
	    tok(T_USR));
	snprintf(bearer, sizeof(bearer), "\r\nAuthorization: Bearer %s\r\n",
	    tok(T_USR));
	wire_start(&w, reply_json("200 OK", body));
	w.cfg.redirect_uri = (char *)"https://fl.example/oauth/callback";
	ck_assert_int_eq(slackapi_oidc_identify_pkce(w.h, &w.cfg, "c",
	    "v", &u, NULL), SLACKAPI_OK);
	ck_assert_str_eq(u.user_id, "U0E2E0001");
	ck_assert_str_eq(u.team_id, "T0E2E0001");
	tls_last(&w.s, req, sizeof(req), &n);
	ck_assert_int_eq(n, 2);
	ck_assert_ptr_eq(strstr(req,
	    "POST /api/openid.connect.userInfo HTTP/1.1\r\n"), req);
	ck_assert_ptr_nonnull(strstr(req, bearer));
	slackapi_oidc_user_free(&u);
	wire_stop(&w);
}
END_TEST

START_TEST(test_wire_user_email)
{
	struct wire		 w;
	char			*email = NULL;

	wire_start(&w, reply_json("200 OK", json("{'ok':true,'user':"
	    "{'id':'U1','profile':{'email':'a@example.com'}}}")));
	ck_assert_int_eq(slackapi_user_email(w.h, &w.cfg, tok(T_BOT), "U1",
	    &email, NULL), SLACKAPI_OK);
	ck_assert_str_eq(email, "a@example.com");
	assert_post(&w, "POST /api/users.info HTTP/1.1\r\n", "user=U1");
	free(email);
	wire_stop(&w);
}
END_TEST

START_TEST(test_calls_unreachable_are_transient)
{
	struct config		 c;
	struct slackapi_grant	 g;
	struct slackapi_identity id;
	struct http		*h;

	config_fill(&c, "https://127.0.0.1:1/api");
	h = http_new(NULL);
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(slackapi_oauth_access(h, &c, "code", &g, NULL),
	    SLACKAPI_TRANSIENT);
	ck_assert_int_eq(slackapi_auth_test(h, &c, tok(T_BOT), &id, NULL),
	    SLACKAPI_TRANSIENT);
	/* Never over plain http. */
	config_fill(&c, "http://127.0.0.1:1/api");
	ck_assert_int_eq(slackapi_oauth_access(h, &c, "code", &g, NULL),
	    SLACKAPI_ERROR);
	http_free(h);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("slackapi");
	TCase	*tc;

	crypto_init();
	http_init();
	tc = tcase_create("parse");
	tcase_add_test(tc, test_parse_documented_example);
	tcase_add_test(tc, test_parse_rotating);
	tcase_add_test(tc, test_parse_org_wide);
	tcase_add_test(tc, test_parse_refresh_reply);
	tcase_add_loop_test(tc, test_parse_grant_table, 0,
	    sizeof(grant_table) / sizeof(grant_table[0]));
	tcase_add_test(tc, test_parse_identity);
	tcase_add_loop_test(tc, test_parse_identity_table, 0,
	    sizeof(identity_table) / sizeof(identity_table[0]));
	tcase_add_test(tc, test_authorize_url);
	tcase_add_test(tc, test_result_str);
	tcase_add_test(tc, test_parse_oidc_user);
	tcase_add_loop_test(tc, test_parse_oidc_user_table, 0,
	    sizeof(oidc_user_table) / sizeof(oidc_user_table[0]));
	tcase_add_test(tc, test_parse_oidc_token);
	tcase_add_loop_test(tc, test_parse_user_email_table, 0,
	    sizeof(user_email_table) / sizeof(user_email_table[0]));
	tcase_add_test(tc, test_signin_url);
	suite_add_tcase(s, tc);

	tc = tcase_create("calls");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_calls_unreachable_are_transient);
	suite_add_tcase(s, tc);

	tc = tcase_create("wire");
	tcase_set_timeout(tc, 15);
	tcase_add_unchecked_fixture(tc, tls_certs_setup, tls_certs_teardown);
	tcase_add_test(tc, test_wire_oauth_access);
	tcase_add_test(tc, test_wire_oauth_refresh_revoked);
	tcase_add_test(tc, test_wire_auth_test);
	tcase_add_test(tc, test_wire_oidc_token_refused);
	tcase_add_test(tc, test_wire_oidc_identify);
	tcase_add_test(tc, test_wire_user_email);
	tcase_add_test(tc, test_wire_server_error_is_transient);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

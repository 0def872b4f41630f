/*
 * test_payload: Slack interactivity payloads, parsed and checked
 * (common/payload.c).  Every payload here is built the way Slack's
 * reference pages show them; the hostile ones change one field each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "payload.h"

#define USER	"\"user\":{\"id\":\"U0AB12\",\"username\":\"ann\"," \
		"\"team_id\":\"T0AB12\"}"
#define TEAM	"\"team\":{\"id\":\"T0AB12\",\"domain\":\"acme\"}"
#define URL	"\"response_url\":\"https://hooks.slack.com/actions/T0AB12/1/x\""
#define TRIG	"\"trigger_id\":\"13345224609.738474920.8088930838d88f0\""

static const char click[] = "{\"type\":\"block_actions\"," USER "," TEAM ","
	"\"api_app_id\":\"A0APP\"," TRIG "," URL ","
	"\"channel\":{\"id\":\"C0CHAN\",\"name\":\"general\"},"
	"\"container\":{\"type\":\"message\"},"
	"\"actions\":[{\"type\":\"button\",\"action_id\":\"share\","
	"\"block_id\":\"r1\",\"value\":\"KEY:3\",\"action_ts\":\"1.2\"}]}";

static const char submit[] = "{\"type\":\"view_submission\"," USER ","
	TEAM "," TRIG ",\"view\":{\"id\":\"VMHU10V25\",\"type\":\"modal\","
	"\"callback_id\":\"case\",\"hash\":\"156772938.1827394\","
	"\"private_metadata\":\"ROWKEY\",\"state\":{\"values\":{"
	"\"subject\":{\"subject\":{\"type\":\"plain_text_input\","
	"\"value\":\"Printer on fire\"}},"
	"\"desc\":{\"desc\":{\"type\":\"plain_text_input\",\"value\":null}},"
	"\"prio\":{\"prio\":{\"type\":\"static_select\","
	"\"selected_option\":{\"text\":{\"type\":\"plain_text\","
	"\"text\":\"High\"},\"value\":\"High\"}}}}}}}";

static const char shortcut[] = "{\"type\":\"message_action\","
	"\"callback_id\":\"create_case\"," USER "," TEAM "," TRIG "," URL ","
	"\"channel\":{\"id\":\"C0CHAN\"},\"message\":{\"type\":\"message\","
	"\"user\":\"U0OTHER\",\"ts\":\"1405894322.002768\","
	"\"text\":\"<@U0AB12> the printer &amp; fax\"}}";

/* Parses s, expecting want; returns the field named at fault. */
static const char *
parse(const char *s, enum payload_result want, struct payload *p)
{
	const char		*bad = NULL;
	enum payload_result	 r;

	r = payload_parse(s, strlen(s), p, &bad);
	ck_assert_msg(r == want, "%s: got %s (%s)", s, payload_result_str(r),
	    bad != NULL ? bad : "-");
	return bad;
}

/* s with the first "from" replaced by "to" (allocated). */
static char *
edit(const char *s, const char *from, const char *to)
{
	const char	*at = strstr(s, from);
	char		*out;

	ck_assert_ptr_nonnull(at);
	ck_assert_int_ne(asprintf(&out, "%.*s%s%s", (int)(at - s), s, to,
	    at + strlen(from)), -1);
	return out;
}

/* Parses s with from replaced by to, expecting PAYLOAD_BAD at field. */
static void
refused(const char *s, const char *from, const char *to, const char *field)
{
	struct payload	 p;
	const char	*bad;
	char		*e = edit(s, from, to);

	bad = parse(e, PAYLOAD_BAD, &p);
	ck_assert_msg(field == NULL || (bad != NULL && strcmp(bad, field) ==
	    0), "%s: refused at %s, expected %s", e, bad ? bad : "-", field);
	payload_free(&p);
	free(e);
}

START_TEST(test_click)
{
	struct payload	 p;

	parse(click, PAYLOAD_OK, &p);
	ck_assert_int_eq(p.type, PAYLOAD_BLOCK_ACTIONS);
	ck_assert_str_eq(p.who.user_id, "U0AB12");
	ck_assert_str_eq(p.who.team_id, "T0AB12");
	ck_assert_str_eq(p.who.enterprise_id, "");
	ck_assert_str_eq(p.user_name, "ann");
	ck_assert_str_eq(p.team_domain, "acme");
	ck_assert_str_eq(p.api_app_id, "A0APP");
	ck_assert_str_eq(p.channel_id, "C0CHAN");
	ck_assert_str_eq(p.action_id, "share");
	ck_assert_str_eq(p.block_id, "r1");
	ck_assert_str_eq(p.value, "KEY:3");
	ck_assert_str_eq(p.response_url,
	    "https://hooks.slack.com/actions/T0AB12/1/x");
	ck_assert_str_eq(p.trigger_id, "13345224609.738474920.8088930838d88f0");
	ck_assert_str_eq(p.view_id, "");
	ck_assert_str_eq(p.private_metadata, "");
	ck_assert_str_eq(p.message_text, "");
	payload_free(&p);
}
END_TEST

START_TEST(test_submission)
{
	struct payload	 p;

	parse(submit, PAYLOAD_OK, &p);
	ck_assert_int_eq(p.type, PAYLOAD_VIEW_SUBMISSION);
	ck_assert_str_eq(p.view_id, "VMHU10V25");
	ck_assert_str_eq(p.view_hash, "156772938.1827394");
	ck_assert_str_eq(p.callback_id, "case");
	ck_assert_str_eq(p.private_metadata, "ROWKEY");
	ck_assert_str_eq(p.response_url, "");
	ck_assert_str_eq(payload_input(&p, "subject", "subject"),
	    "Printer on fire");
	/* An optional input left empty comes as null. */
	ck_assert_ptr_null(payload_input(&p, "desc", "desc"));
	ck_assert_str_eq(payload_input(&p, "prio", "prio"), "High");
	ck_assert_ptr_null(payload_input(&p, "prio", "other"));
	ck_assert_ptr_null(payload_input(&p, "nothing", "prio"));
	payload_free(&p);
}
END_TEST

START_TEST(test_closed_and_empty_value)
{
	struct payload	 p;
	char		*s;

	s = edit(submit, "view_submission", "view_closed");
	parse(s, PAYLOAD_OK, &p);
	ck_assert_int_eq(p.type, PAYLOAD_VIEW_CLOSED);
	ck_assert_str_eq(p.private_metadata, "ROWKEY");
	payload_free(&p);
	free(s);
	/* "" is no value either. */
	s = edit(submit, "\"Printer on fire\"", "\"\"");
	parse(s, PAYLOAD_OK, &p);
	ck_assert_ptr_null(payload_input(&p, "subject", "subject"));
	payload_free(&p);
	free(s);
}
END_TEST

START_TEST(test_shortcut)
{
	struct payload	 p;

	parse(shortcut, PAYLOAD_OK, &p);
	ck_assert_int_eq(p.type, PAYLOAD_MESSAGE_ACTION);
	ck_assert_str_eq(p.callback_id, "create_case");
	ck_assert_str_eq(p.message_ts, "1405894322.002768");
	ck_assert_str_eq(p.message_user, "U0OTHER");
	ck_assert_str_eq(p.message_text, "<@U0AB12> the printer &amp; fax");
	ck_assert_str_eq(p.channel_id, "C0CHAN");
	payload_free(&p);
}
END_TEST

/* An org-wide installation sends team: null; the team is the user's. */
START_TEST(test_org_install)
{
	struct payload	 p;
	char		*s;

	s = edit(click, TEAM, "\"team\":null,\"enterprise\":{\"id\":\"E0ORG\","
	    "\"name\":\"Org\"}");
	parse(s, PAYLOAD_OK, &p);
	ck_assert_str_eq(p.who.team_id, "T0AB12");
	ck_assert_str_eq(p.who.enterprise_id, "E0ORG");
	payload_free(&p);
	free(s);
	/* ... and without user.team_id there is no team at all. */
	s = edit(click, TEAM, "\"team\":null");
	refused(s, ",\"team_id\":\"T0AB12\"", "", "user.team_id");
	free(s);
}
END_TEST

START_TEST(test_unserved)
{
	struct payload	 p;
	char		*s;

	s = edit(shortcut, "message_action", "shortcut");
	ck_assert_str_eq(parse(s, PAYLOAD_UNSERVED, &p), "type");
	payload_free(&p);
	free(s);
	s = edit(shortcut, "message_action", "block_suggestion");
	parse(s, PAYLOAD_UNSERVED, &p);
	payload_free(&p);
	free(s);
	/* Not a type Slack has: malformed, not unserved. */
	s = edit(shortcut, "message_action", "message_actions");
	parse(s, PAYLOAD_BAD, &p);
	payload_free(&p);
	free(s);
}
END_TEST

/* Each of these changes one field to a shape Slack never sends. */
START_TEST(test_hostile_fields)
{
	/* Who. */
	refused(click, "\"id\":\"U0AB12\"", "\"id\":\"u0ab12\"", "user.id");
	refused(click, "\"id\":\"U0AB12\"", "\"id\":\"\"", "user.id");
	refused(click, "\"id\":\"U0AB12\"", "\"id\":12", "user.id");
	refused(click, "\"id\":\"U0AB12\"", "\"id\":\"U0A\\u0000B\"",
	    "user.id");
	refused(click, USER ",", "", "user");
	refused(click, "\"id\":\"T0AB12\"", "\"id\":\"T0AB12/../x\"",
	    "team.id");
	refused(click, TEAM, "\"team\":\"T0AB12\"", "team");
	refused(click, "\"id\":\"U0AB12\"",
	    "\"id\":\"U0123456789012345678901234567890123\"", "user.id");
	/* A response_url that is not https, or carries a user part. */
	refused(click, "https://hooks.slack.com", "http://hooks.slack.com",
	    "response_url");
	refused(click, "https://hooks.slack.com", "https://a@hooks.slack.com",
	    "response_url");
	refused(click, "\"trigger_id\":\"1334", "\"trigger_id\":\"1 34",
	    "trigger_id");
	/* The action. */
	refused(click, "\"action_id\":\"share\"", "\"action_id\":\"\"",
	    "actions.action_id");
	refused(click, "\"action_id\":\"share\"", "\"action_id\":\"sh\\nare\"",
	    "actions.action_id");
	refused(click, "\"actions\":[{", "\"actions\":[],\"x\":[{", "actions");
	refused(click, "\"actions\":[{", "\"actions\":{\"a\":{", NULL);
	/* The view. */
	refused(submit, "\"id\":\"VMHU10V25\"", "\"id\":\"XMHU10V25\"",
	    "view.id");
	refused(submit, "\"hash\":\"156772938.1827394\"",
	    "\"hash\":\"1567 72938\"", "view.hash");
	refused(submit, "\"state\":{", "\"state\":[],\"s\":{",
	    "view.state.values");
	refused(submit, "\"callback_id\":\"case\"", "\"callback_id\":7",
	    "view.callback_id");
	/* The message of a shortcut. */
	refused(shortcut, "\"ts\":\"1405894322.002768\"", "\"ts\":\"14058\"",
	    "message.ts");
	refused(shortcut, "\"callback_id\":\"create_case\",", "",
	    "callback_id");
	refused(shortcut, "\"text\":\"<@U0AB12>", "\"text\":[\"<@U0AB12>",
	    NULL);
}
END_TEST

START_TEST(test_not_json)
{
	struct payload	 p;
	const char	*bad;
	static const char *const junk[] = {
		"", "[]", "\"block_actions\"", "{\"type\":\"block_actions\"",
		"{\"type\":\"block_actions\"}x",
		/* A duplicate key: which one would Slack have meant? */
		"{\"type\":\"block_actions\",\"type\":\"view_submission\"}",
		"{\"type\":\"bl\xc3\x28ock\"}",
	};
	size_t		 i;

	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		ck_assert_int_eq(payload_parse(junk[i], strlen(junk[i]), &p,
		    &bad), PAYLOAD_BAD);
		ck_assert_ptr_nonnull(bad);
		payload_free(&p);
	}
}
END_TEST

/* Bounds: a value of 2000 bytes is taken, 2001 is not; metadata 3000. */
START_TEST(test_bounds)
{
	struct payload	 p;
	char		*v, *to, *s;

	v = malloc(PAYLOAD_METADATA_MAX + 2);
	ck_assert_ptr_nonnull(v);
	memset(v, 'k', PAYLOAD_VALUE_MAX);
	v[PAYLOAD_VALUE_MAX] = '\0';
	ck_assert_int_ne(asprintf(&to, "\"value\":\"%s\"", v), -1);
	s = edit(click, "\"value\":\"KEY:3\"", to);
	parse(s, PAYLOAD_OK, &p);
	ck_assert_uint_eq(strlen(p.value), PAYLOAD_VALUE_MAX);
	payload_free(&p);
	free(s);
	free(to);
	ck_assert_int_ne(asprintf(&to, "\"value\":\"%sk\"", v), -1);
	refused(click, "\"value\":\"KEY:3\"", to, "actions.value");
	free(to);
	memset(v, 'm', PAYLOAD_METADATA_MAX + 1);
	v[PAYLOAD_METADATA_MAX + 1] = '\0';
	ck_assert_int_ne(asprintf(&to, "\"private_metadata\":\"%s\"", v), -1);
	refused(submit, "\"private_metadata\":\"ROWKEY\"", to,
	    "view.private_metadata");
	free(to);
	free(v);
	/* A payload longer than PAYLOAD_MAX is refused before parsing. */
	v = malloc(PAYLOAD_MAX + 2);
	ck_assert_ptr_nonnull(v);
	memset(v, ' ', PAYLOAD_MAX + 1);
	memcpy(v, click, strlen(click));
	v[PAYLOAD_MAX + 1] = '\0';
	ck_assert_str_eq(parse(v, PAYLOAD_BAD, &p), "payload");
	payload_free(&p);
	free(v);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("payload");
	TCase	*tc = tcase_create("payload");

	tcase_add_test(tc, test_click);
	tcase_add_test(tc, test_submission);
	tcase_add_test(tc, test_closed_and_empty_value);
	tcase_add_test(tc, test_shortcut);
	tcase_add_test(tc, test_org_install);
	tcase_add_test(tc, test_unserved);
	tcase_add_test(tc, test_hostile_fields);
	tcase_add_test(tc, test_not_json);
	tcase_add_test(tc, test_bounds);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

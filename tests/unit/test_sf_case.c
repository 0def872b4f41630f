/*
 * test_sf_case: common/sf_case.c without a network.
 *
 * The describe reader takes Salesforce's documented describe shape and
 * offers only active values; the composite request body is parsed back
 * and compared field by field (hostile text stays data: quotes,
 * backslashes, LIKE wildcards, "@{"); the composite reader gets
 * Salesforce's documented success and every documented 400 of a Case
 * create (REQUIRED_FIELD_MISSING, FIELD_CUSTOM_VALIDATION_EXCEPTION,
 * STRING_TOO_LONG, INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST,
 * PROCESSING_HALTED, an Account reference without a value), then one
 * row per way a reply can differ from the documented shape, each
 * SF_MALFORMED.  Single quotes in the tables stand for double quotes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "buf.h"
#include "sf_case.h"
#include "testutil.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* --- describe ---------------------------------------------------------- */

#define PV(v, act, def) \
	"{'active':" act ",'defaultValue':" def ",'label':'" v "'," \
	"'validFor':null,'value':'" v "'}"

START_TEST(test_describe_priority)
{
	struct sf_case_picklist	 p;
	const char		*j = tu_dq("{'name':'Case','fields':["
	    "{'name':'Subject','type':'string','picklistValues':[]},"
	    "{'name':'Priority','type':'picklist','picklistValues':["
	    PV("Urgent", "true", "false") ","
	    PV("Old", "false", "true") ","
	    PV("Normal", "true", "true") ","
	    "{'active':true,'defaultValue':false,'label':null,"
	    "'value':'NoLabel'}]},"
	    "{'name':'Status','type':'picklist','picklistValues':["
	    PV("New", "true", "true") "]}]}");

	ck_assert_int_eq(sf_case_parse_describe(j, strlen(j), &p), SF_OK);
	ck_assert_uint_eq(p.n, 3);
	ck_assert_str_eq(p.value[0], "Urgent");
	ck_assert_str_eq(p.value[1], "Normal");
	ck_assert_str_eq(p.value[2], "NoLabel");
	ck_assert_str_eq(p.label[2], "NoLabel");
	/* The inactive default is not offered; the active one is. */
	ck_assert_int_eq(p.def, 1);
}
END_TEST

START_TEST(test_describe_without_priority)
{
	struct sf_case_picklist	 p;
	const char		*j = tu_dq("{'fields':[{'name':'Subject'}]}");

	ck_assert_int_eq(sf_case_parse_describe(j, strlen(j), &p), SF_OK);
	ck_assert_uint_eq(p.n, 0);
	ck_assert_int_eq(p.def, -1);
}
END_TEST

START_TEST(test_describe_caps)
{
	struct sf_case_picklist	 p;
	struct buf		 b;
	char			 v[256];
	int			 i;

	buf_init(&b, 1 << 20);
	ck_assert_int_eq(buf_puts(&b, "{\"fields\":[{\"name\":\"Priority\","
	    "\"picklistValues\":["), 0);
	/* A value Slack cannot carry is skipped; past the most, ignored. */
	memset(v, 'x', 151);
	v[151] = '\0';
	ck_assert_int_eq(buf_printf(&b, "{\"active\":true,\"defaultValue\":"
	    "false,\"label\":\"long\",\"value\":\"%s\"}", v), 0);
	for (i = 0; i < SF_CASE_PICK_MAX + 5; i++)
		ck_assert_int_eq(buf_printf(&b, ",{\"active\":true,"
		    "\"defaultValue\":false,\"label\":\"%s\",\"value\":\"V%d\"}",
		    i == 0 ? "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9" : "ok", i), 0);
	ck_assert_int_eq(buf_puts(&b, "]}]}"), 0);
	ck_assert_int_eq(sf_case_parse_describe(buf_cstr(&b), b.len, &p),
	    SF_OK);
	ck_assert_uint_eq(p.n, SF_CASE_PICK_MAX);
	ck_assert_str_eq(p.value[0], "V0");
	/* The label is cut to 75 characters, on a character boundary. */
	ck_assert_uint_eq(sf_case_chars(p.label[0]), 75);
	ck_assert_uint_eq(strlen(p.label[0]), 150);
	buf_free(&b);
}
END_TEST

static const char *const describe_bad[] = {
	"[]",
	"{'fields':{}}",
	"{'fields':[{'type':'string'}]}",
	"{'fields':[{'name':'Priority'}]}",
	"{'fields':[{'name':'Priority','picklistValues':[{'active':true,"
	    "'defaultValue':false,'label':'x'}]}]}",
	"{'fields':[{'name':'Priority','picklistValues':[{'active':'yes',"
	    "'defaultValue':false,'label':'x','value':'x'}]}]}",
	"{'fields':[{'name':'Priority','picklistValues':[{'active':true,"
	    "'defaultValue':false,'label':7,'value':'x'}]}]}",
	/* Twice the same field: which one would be right? */
	"{'fields':[{'name':'Priority','picklistValues':[]},"
	    "{'name':'Priority','picklistValues':[]}]}",
	"{'fields':[]} x",
	"{'fields':[{'name':'Priority','picklistValues':[{'active':true,"
	    "'defaultValue':false,'label':'x','value':7}]}]}",
};

START_TEST(test_describe_bad)
{
	struct sf_case_picklist	 p;
	const char		*j = tu_dq(describe_bad[_i]);

	ck_assert_int_eq(sf_case_parse_describe(j, strlen(j), &p),
	    SF_MALFORMED);
}
END_TEST

START_TEST(test_standard_and_same)
{
	struct sf_case_picklist	 a, b;

	sf_case_standard(&a);
	ck_assert_uint_eq(a.n, 3);
	ck_assert_str_eq(a.value[a.def], "Medium");
	b = a;
	ck_assert(sf_case_picklist_same(&a, &b));
	b.def = 0;
	ck_assert(!sf_case_picklist_same(&a, &b));
	b = a;
	snprintf(b.label[2], sizeof(b.label[2]), "Lowest");
	ck_assert(!sf_case_picklist_same(&a, &b));
	ck_assert_int_eq(sf_case_picklist_find(&a, "Low"), 2);
	ck_assert_int_eq(sf_case_picklist_find(&a, "low"), -1);
}
END_TEST

START_TEST(test_cache)
{
	struct sf_case_picklist	 p;

	sf_case_cache_clear();
	ck_assert_int_eq(sf_case_cache_get("", &p), -1);
}
END_TEST

/* --- text helpers ------------------------------------------------------ */

START_TEST(test_chars_prefix)
{
	const char	*e = "a\xc3\xa9" "b\xf0\x9f\x98\x80" "c";

	ck_assert_uint_eq(sf_case_chars(e), 5);
	ck_assert_uint_eq(sf_case_prefix(e, 2, 100), 3);
	ck_assert_uint_eq(sf_case_prefix(e, 4, 100), 8);
	/* A byte limit inside a character cuts before it. */
	ck_assert_uint_eq(sf_case_prefix(e, 100, 6), 4);
	ck_assert_uint_eq(sf_case_prefix(e, 100, 100), strlen(e));
	ck_assert_uint_eq(sf_case_prefix("", 3, 3), 0);
	ck_assert_uint_eq(sf_case_prefix("abc", 0, 3), 0);
}
END_TEST

static const struct {
	const char	*s;
	int		 ref;
} ref_cases[] = {
	{ "@{newCase.id}", 1 },
	{ "see @{a_1.records[0].Id} here", 1 },
	{ "@{x.y", 0 },
	{ "@{xy}", 0 },
	{ "@{.y}", 0 },
	{ "@ {a.b}", 0 },
	{ "mail me @{home} or a.b}", 0 },
	{ "@{a b.c}", 0 },
	{ "", 0 },
};

START_TEST(test_reference)
{
	ck_assert_int_eq(sf_case_reference(ref_cases[_i].s),
	    ref_cases[_i].ref);
}
END_TEST

/* --- the composite request --------------------------------------------- */

static struct json_object *
body_of(const struct sf_case_new *c)
{
	struct json_object	*o;
	struct buf		 b;

	buf_init(&b, 1 << 20);
	ck_assert_int_eq(sf_case_composite_body(&b, "v62.0", c), 0);
	o = json_tokener_parse(buf_cstr(&b));
	ck_assert_ptr_nonnull(o);
	buf_free(&b);
	return o;
}

static struct json_object *
member(struct json_object *o, const char *k)
{
	struct json_object	*v;

	ck_assert_msg(json_object_object_get_ex(o, k, &v), "no %s", k);
	return v;
}

static const char *
str(struct json_object *o, const char *k)
{
	return json_object_get_string(member(o, k));
}

START_TEST(test_body_plain)
{
	const struct sf_case_new c = { "Printer \"on\" fire \\ '%_'",
	    "line 1\nline 2 @ {x}", "High", NULL };
	struct json_object	*o, *subs, *s0, *s1, *fields;

	o = body_of(&c);
	ck_assert(json_object_get_boolean(member(o, "allOrNone")));
	subs = member(o, "compositeRequest");
	ck_assert_uint_eq(json_object_array_length(subs), 2);
	s0 = json_object_array_get_idx(subs, 0);
	s1 = json_object_array_get_idx(subs, 1);
	ck_assert_str_eq(str(s0, "method"), "POST");
	ck_assert_str_eq(str(s0, "url"), "/services/data/v62.0/sobjects/Case");
	ck_assert_str_eq(str(s0, "referenceId"), "newCase");
	fields = member(s0, "body");
	ck_assert_int_eq(json_object_object_length(fields), 3);
	/* Text is data: as typed, nothing escaped into it or out of it. */
	ck_assert_str_eq(str(fields, "Subject"), c.subject);
	ck_assert_str_eq(str(fields, "Description"), c.description);
	ck_assert_str_eq(str(fields, "Priority"), "High");
	ck_assert_str_eq(str(s1, "method"), "GET");
	ck_assert_str_eq(str(s1, "url"), "/services/data/v62.0/sobjects/Case/"
	    "@{newCase.id}?fields=Id,CaseNumber");
	ck_assert_str_eq(str(s1, "referenceId"), "readCase");
	ck_assert(!json_object_object_get_ex(s1, "body", NULL));
	json_object_put(o);
}
END_TEST

START_TEST(test_body_account)
{
	const struct sf_case_new c = { "S", NULL, NULL, "O'Brien %_\\ & Co" };
	struct json_object	*o, *subs, *s0, *fields;

	o = body_of(&c);
	subs = member(o, "compositeRequest");
	ck_assert_uint_eq(json_object_array_length(subs), 3);
	s0 = json_object_array_get_idx(subs, 0);
	ck_assert_str_eq(str(s0, "referenceId"), "account");
	ck_assert_str_eq(str(s0, "method"), "GET");
	/* The name escaped for a SOQL LIKE literal, then for the URL. */
	ck_assert_str_eq(str(s0, "url"), "/services/data/v62.0/query?q="
	    "SELECT%20Id%2C%20Name%20FROM%20Account%20WHERE%20Name%20LIKE%20"
	    "%27O%5C%27Brien%20%5C%25%5C_%5C%5C%20%26%20Co%27%20LIMIT%202");
	fields = member(json_object_array_get_idx(subs, 1), "body");
	ck_assert_int_eq(json_object_object_length(fields), 2);
	ck_assert_str_eq(str(fields, "AccountId"),
	    "@{account.records[0].Id}");
	json_object_put(o);
}
END_TEST

START_TEST(test_body_bad_version)
{
	const struct sf_case_new c = { "S", NULL, NULL, NULL };
	struct buf		 b;

	buf_init(&b, 4096);
	ck_assert_int_eq(sf_case_composite_body(&b, "62", &c), -1);
	ck_assert_int_eq(sf_case_composite_body(&b, "v62.0/../x", &c), -1);
	buf_free(&b);
}
END_TEST

/* --- the composite reply ----------------------------------------------- */

#define ID	"5008d00000AbCdEAAR"
#define CREATED	"{'body':{'id':'" ID "','success':true,'errors':[]}," \
		"'httpHeaders':{'Location':'/services/data/v62.0/sobjects/" \
		"Case/" ID "'},'httpStatusCode':201,'referenceId':'newCase'}"
#define READ	"{'body':{'attributes':{'type':'Case','url':'/x'},'Id':'" \
		ID "','CaseNumber':'00001026'},'httpHeaders':{}," \
		"'httpStatusCode':200,'referenceId':'readCase'}"
#define HALT(ref) "{'body':[{'errorCode':'PROCESSING_HALTED','message':" \
		"'The transaction was rolled back since another operation " \
		"in the same transaction failed.'}],'httpHeaders':{}," \
		"'httpStatusCode':400,'referenceId':'" ref "'}"
#define FAIL(errs) "{'body':" errs ",'httpHeaders':{},'httpStatusCode':400," \
		"'referenceId':'newCase'}"
#define REPLY(...) "{'compositeResponse':[" __VA_ARGS__ "]}"

static const struct sf_case_new plain = { "S", "D", "High", NULL };
static const struct sf_case_new with_acct = { "S", "D", "High", "Acme" };

START_TEST(test_reply_created)
{
	struct sf_case_result	 r;
	const char		*j = tu_dq(REPLY(CREATED "," READ));

	ck_assert_int_eq(sf_case_parse_composite(j, strlen(j), &plain, &r),
	    SF_OK);
	ck_assert(r.created);
	ck_assert_str_eq(r.id, ID);
	ck_assert_str_eq(r.number, "00001026");
	ck_assert_uint_eq(r.nerr, 0);
	ck_assert_int_eq(r.accounts, -1);
}
END_TEST

START_TEST(test_reply_created_account_ambiguous)
{
	struct sf_case_result	 r;
	const char		*j = tu_dq(REPLY("{'body':{'totalSize':2,'done':"
	    "true,'records':[{'attributes':{'type':'Account'},'Id':"
	    "'0018d00000AcmeAAAB','Name':'Acme'},{'attributes':{},'Id':"
	    "'0018d00000AcmeBBBB','Name':'ACME'}]},'httpHeaders':{},"
	    "'httpStatusCode':200,'referenceId':'account'}," CREATED ","
	    READ));

	ck_assert_int_eq(sf_case_parse_composite(j, strlen(j), &with_acct,
	    &r), SF_OK);
	ck_assert(r.created);
	ck_assert_int_eq(r.accounts, 2);
	ck_assert_str_eq(r.account_id, "0018d00000AcmeAAAB");
	ck_assert_str_eq(r.account_name, "Acme");
}
END_TEST

/* Each documented refusal: its code, its fields, no Case. */
static const struct {
	const char	*name;
	const char	*reply;
	const char	*code;		/* first error kept */
	const char	*field;		/* its first field, or "" */
	size_t		 nerr;
} refusals[] = {
	{ "required", REPLY(FAIL("[{'message':'Required fields are missing: "
	    "[Subject]','errorCode':'REQUIRED_FIELD_MISSING','fields':"
	    "['Subject']}]") "," HALT("readCase")),
	    "REQUIRED_FIELD_MISSING", "Subject", 1 },
	{ "validation", REPLY(FAIL("[{'message':'Subject may not mention "
	    "refunds','errorCode':'FIELD_CUSTOM_VALIDATION_EXCEPTION',"
	    "'fields':[]}]") "," HALT("readCase")),
	    "FIELD_CUSTOM_VALIDATION_EXCEPTION", "", 1 },
	{ "validation without fields", REPLY(FAIL("[{'message':'No',"
	    "'errorCode':'FIELD_CUSTOM_VALIDATION_EXCEPTION'}]") ","
	    HALT("readCase")), "FIELD_CUSTOM_VALIDATION_EXCEPTION", "", 1 },
	{ "too long", REPLY(FAIL("[{'message':'Subject: data value too "
	    "large: xxx (max length=255)','errorCode':'STRING_TOO_LONG',"
	    "'fields':['Subject']},{'message':'Description: data value too "
	    "large: yyy (max length=32000)','errorCode':'STRING_TOO_LONG',"
	    "'fields':['Description']}]") "," HALT("readCase")),
	    "STRING_TOO_LONG", "Subject", 2 },
	{ "picklist", REPLY(FAIL("[{'message':'Priority: bad value for "
	    "restricted picklist field: Urgent','errorCode':"
	    "'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST','fields':"
	    "['Priority']}]") "," HALT("readCase")),
	    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "Priority", 1 },
	{ "read halted the create", REPLY(HALT("newCase") ",{'body':[{"
	    "'errorCode':'NOT_FOUND','message':'The requested resource does "
	    "not exist'}],'httpHeaders':{},'httpStatusCode':404,"
	    "'referenceId':'readCase'}"), "NOT_FOUND", "", 1 },
	{ "only halts", REPLY(HALT("newCase") "," HALT("readCase")),
	    "PROCESSING_HALTED", "", 2 },
	{ "fields null", REPLY(FAIL("[{'message':'m','errorCode':'X_Y',"
	    "'fields':null}]") "," HALT("readCase")), "X_Y", "", 1 },
};

START_TEST(test_reply_refused)
{
	struct sf_case_result	 r;
	const char		*j = tu_dq(refusals[_i].reply);

	ck_assert_msg(sf_case_parse_composite(j, strlen(j), &plain, &r) ==
	    SF_OK, "%s", refusals[_i].name);
	ck_assert(!r.created);
	ck_assert_uint_eq(r.nerr, refusals[_i].nerr);
	ck_assert_str_eq(r.err[0].code, refusals[_i].code);
	if (refusals[_i].field[0] != '\0') {
		ck_assert_uint_eq(r.err[0].nfields, 1);
		ck_assert_str_eq(r.err[0].fields[0], refusals[_i].field);
	} else
		ck_assert_uint_eq(r.err[0].nfields, 0);
	ck_assert(!r.account_missing);
}
END_TEST

START_TEST(test_reply_account_missing)
{
	struct sf_case_result	 r;
	const char		*j = tu_dq(REPLY(HALT("account") "," FAIL("[{"
	    "'errorCode':'PROCESSING_HALTED','message':'Invalid reference "
	    "specified. No value for account.records[0].Id found in "
	    "account.'}]") "," HALT("readCase")));

	ck_assert_int_eq(sf_case_parse_composite(j, strlen(j), &with_acct,
	    &r), SF_OK);
	ck_assert(!r.created);
	ck_assert(r.account_missing);
	ck_assert_uint_eq(r.nerr, 0);
}
END_TEST

START_TEST(test_reply_message_kept_safe)
{
	struct sf_case_result	 r;
	const char		*j = tu_dq(REPLY(FAIL("[{'message':'a\\u0000b\\n"
	    "c','errorCode':'FIELD_CUSTOM_VALIDATION_EXCEPTION'}]") ","
	    HALT("readCase")));

	ck_assert_int_eq(sf_case_parse_composite(j, strlen(j), &plain, &r),
	    SF_OK);
	/* A NUL ends the message; control bytes become spaces. */
	ck_assert_str_eq(r.err[0].message, "a");
}
END_TEST

static const char *const reply_bad[] = {
	"{}",
	"[]",
	REPLY(CREATED),
	REPLY(CREATED "," READ "," READ),
	REPLY(READ "," CREATED),
	/* 200 for a create is not its documented 201. */
	"{'compositeResponse':[{'body':{'id':'" ID "','success':true},"
	    "'httpHeaders':{},'httpStatusCode':200,'referenceId':'newCase'},"
	    READ "]}",
	"{'compositeResponse':[{'body':{'id':'" ID "','success':false},"
	    "'httpHeaders':{},'httpStatusCode':201,'referenceId':'newCase'},"
	    READ "]}",
	"{'compositeResponse':[{'body':{'id':'x;DROP','success':true},"
	    "'httpHeaders':{},'httpStatusCode':201,'referenceId':'newCase'},"
	    READ "]}",
	"{'compositeResponse':[{'body':{'id':'" ID "','success':true},"
	    "'httpHeaders':{},'httpStatusCode':'201','referenceId':"
	    "'newCase'}," READ "]}",
	/* The record read is another one. */
	"{'compositeResponse':[" CREATED ",{'body':{'Id':"
	    "'5008d00000ZZZZZAAR','CaseNumber':'1'},'httpHeaders':{},"
	    "'httpStatusCode':200,'referenceId':'readCase'}]}",
	"{'compositeResponse':[" CREATED ",{'body':{'Id':'" ID "',"
	    "'CaseNumber':'00 1'},'httpHeaders':{},'httpStatusCode':200,"
	    "'referenceId':'readCase'}]}",
	"{'compositeResponse':[" CREATED ",{'body':{'Id':'" ID "',"
	    "'CaseNumber':''},'httpHeaders':{},'httpStatusCode':200,"
	    "'referenceId':'readCase'}]}",
	"{'compositeResponse':[" CREATED ",{'body':{'Id':'" ID "'},"
	    "'httpHeaders':{},'httpStatusCode':200,'referenceId':"
	    "'readCase'}]}",
	REPLY(FAIL("[{'message':'m'}]") "," HALT("readCase")),
	REPLY(FAIL("[{'message':'m','errorCode':'bad code'}]") ","
	    HALT("readCase")),
	REPLY(FAIL("[{'message':'m','errorCode':'X','fields':'Subject'}]")
	    "," HALT("readCase")),
	REPLY(FAIL("[{'message':'m','errorCode':'X','fields':['a b']}]")
	    "," HALT("readCase")),
	REPLY(FAIL("{'message':'m','errorCode':'X'}") "," HALT("readCase")),
	REPLY(FAIL("[]") "," HALT("readCase")),
	REPLY(CREATED "," READ) " trailing",
	"{'compositeResponse':[],'compositeResponse':[]}",
	"{'compositeResponse':[{'body':{},'httpHeaders':{},"
	    "'httpStatusCode':99,'referenceId':'newCase'}," READ "]}",
};

START_TEST(test_reply_bad)
{
	struct sf_case_result	 r;
	const char		*j = tu_dq(reply_bad[_i]);

	ck_assert_msg(sf_case_parse_composite(j, strlen(j), &plain, &r) ==
	    SF_MALFORMED, "row %d", _i);
}
END_TEST

START_TEST(test_reply_account_bad)
{
	struct sf_case_result	 r;
	/* Answers without the account's subrequest, or a wrong total. */
	const char		*a = tu_dq(REPLY(CREATED "," READ));
	const char		*b = tu_dq(REPLY("{'body':{'totalSize':0,"
	    "'done':true,'records':[{'Id':'0018d00000AcmeAAAB','Name':"
	    "'x'}]},'httpHeaders':{},'httpStatusCode':200,'referenceId':"
	    "'account'}," CREATED "," READ));

	ck_assert_int_eq(sf_case_parse_composite(a, strlen(a), &with_acct,
	    &r), SF_MALFORMED);
	ck_assert_int_eq(sf_case_parse_composite(b, strlen(b), &with_acct,
	    &r), SF_MALFORMED);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("sf_case");
	TCase	*tc;

	tc = tcase_create("describe");
	tcase_add_test(tc, test_describe_priority);
	tcase_add_test(tc, test_describe_without_priority);
	tcase_add_test(tc, test_describe_caps);
	tcase_add_loop_test(tc, test_describe_bad, 0, NELEM(describe_bad));
	tcase_add_test(tc, test_standard_and_same);
	tcase_add_test(tc, test_cache);
	suite_add_tcase(s, tc);
	tc = tcase_create("text");
	tcase_add_test(tc, test_chars_prefix);
	tcase_add_loop_test(tc, test_reference, 0, NELEM(ref_cases));
	suite_add_tcase(s, tc);
	tc = tcase_create("composite");
	tcase_add_test(tc, test_body_plain);
	tcase_add_test(tc, test_body_account);
	tcase_add_test(tc, test_body_bad_version);
	tcase_add_test(tc, test_reply_created);
	tcase_add_test(tc, test_reply_created_account_ambiguous);
	tcase_add_loop_test(tc, test_reply_refused, 0, NELEM(refusals));
	tcase_add_test(tc, test_reply_account_missing);
	tcase_add_test(tc, test_reply_message_kept_safe);
	tcase_add_loop_test(tc, test_reply_bad, 0, NELEM(reply_bad));
	tcase_add_test(tc, test_reply_account_bad);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

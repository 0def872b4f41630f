/*
 * test_casefrm: the Case form (common/casefrm.c).
 *
 * Views are parsed back with json-c and held to Slack's documented
 * limits (PROTOCOLS.md: a title of at most 24 characters, at most 100
 * blocks, block_id/action_id at most 255, private_metadata at most
 * 3000, a section's text at most 3000, an option's text 75 and value
 * 150); the form's inputs keep their block_id/action_id; problems sit in
 * a context block right under their input.  The checks, Salesforce's
 * refusals mapped onto inputs, a message shortcut's text made plain, the
 * one-liner, and the row data's round trip each have a table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "casefrm.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define KEY		"k3y-k3y_k3yk3yk3yk3yk3yk3yk3yk3yk3yk3yk3yk3"

static struct json_object *
member(struct json_object *o, const char *k)
{
	struct json_object	*v = NULL;

	ck_assert_msg(json_object_object_get_ex(o, k, &v), "no %s", k);
	return v;
}

static const char *
str(struct json_object *o, const char *k)
{
	return json_object_get_string(member(o, k));
}

static size_t
chars(const char *s)
{
	return sf_case_chars(s);
}

/* Parses a view and checks it against Slack's limits. */
static struct json_object *
view_ok(char *json)
{
	struct json_object	*v, *blocks, *b, *x;
	size_t			 i;

	ck_assert_ptr_nonnull(json);
	ck_assert_uint_le(strlen(json), 250 * 1000);
	v = json_tokener_parse(json);
	ck_assert_msg(v != NULL, "not JSON: %s", json);
	free(json);
	ck_assert_str_eq(str(v, "type"), "modal");
	ck_assert_str_eq(str(v, "callback_id"), CASEFRM_CALLBACK);
	ck_assert_uint_le(chars(str(member(v, "title"), "text")), 24);
	ck_assert_uint_le(chars(str(member(v, "close"), "text")), 24);
	if (json_object_object_get_ex(v, "submit", &x))
		ck_assert_uint_le(chars(str(x, "text")), 24);
	ck_assert_uint_le(strlen(str(v, "private_metadata")), 3000);
	blocks = member(v, "blocks");
	ck_assert_uint_le(json_object_array_length(blocks), 100);
	for (i = 0; i < json_object_array_length(blocks); i++) {
		b = json_object_array_get_idx(blocks, i);
		if (json_object_object_get_ex(b, "block_id", &x))
			ck_assert_uint_le(strlen(json_object_get_string(x)),
			    255);
		if (strcmp(str(b, "type"), "section") == 0)
			ck_assert_uint_le(chars(str(member(b, "text"),
			    "text")), 3000);
	}
	return v;
}

/* The block of v with block_id id, and its index in *at. */
static struct json_object *
block(struct json_object *v, const char *id, size_t *at)
{
	struct json_object	*blocks = member(v, "blocks"), *b, *x;
	size_t			 i;

	for (i = 0; i < json_object_array_length(blocks); i++) {
		b = json_object_array_get_idx(blocks, i);
		if (json_object_object_get_ex(b, "block_id", &x) &&
		    strcmp(json_object_get_string(x), id) == 0) {
			if (at != NULL)
				*at = i;
			return b;
		}
	}
	return NULL;
}

static void
form_init(struct casefrm *f)
{
	casefrm_init(f);
	sf_case_standard(&f->pri);
}

START_TEST(test_form_view)
{
	struct casefrm		 f;
	struct json_object	*v, *b, *el, *opts;
	size_t			 i;

	form_init(&f);
	ck_assert_int_eq(casefrm_set(&f.subject, "Printer <!channel> & co"),
	    0);
	v = view_ok(casefrm_view_form(&f, KEY, NULL));
	ck_assert_str_eq(str(v, "private_metadata"), KEY);
	ck_assert(json_object_get_boolean(member(v, "notify_on_close")));
	for (i = 0; i < CASEFRM__NBLOCKS; i++) {
		b = block(v, casefrm_block_id(i), NULL);
		ck_assert_ptr_nonnull(b);
		ck_assert_str_eq(str(b, "type"), "input");
		ck_assert_str_eq(str(member(b, "element"), "action_id"),
		    casefrm_action_id(i));
	}
	el = member(block(v, "case_subject", NULL), "element");
	/* plain_text: the subject as typed, nothing escaped. */
	ck_assert_str_eq(str(el, "initial_value"), "Printer <!channel> & co");
	ck_assert_int_eq(json_object_get_int(member(el, "max_length")), 255);
	el = member(block(v, "case_description", NULL), "element");
	ck_assert(json_object_get_boolean(member(el, "multiline")));
	ck_assert(!json_object_object_get_ex(el, "initial_value", NULL));
	el = member(block(v, "case_priority", NULL), "element");
	ck_assert_str_eq(str(el, "type"), "static_select");
	opts = member(el, "options");
	ck_assert_uint_eq(json_object_array_length(opts), 3);
	ck_assert_str_eq(str(member(el, "initial_option"), "value"),
	    "Medium");
	ck_assert(json_object_get_boolean(member(block(v, "case_account",
	    NULL), "optional")));
	ck_assert_ptr_null(block(v, "case_top", NULL));
	json_object_put(v);
	casefrm_free(&f);
}
END_TEST

START_TEST(test_form_view_without_priorities)
{
	struct casefrm		 f;
	struct json_object	*v;

	casefrm_init(&f);
	v = view_ok(casefrm_view_form(&f, KEY, NULL));
	ck_assert_ptr_null(block(v, "case_priority", NULL));
	json_object_put(v);
}
END_TEST

START_TEST(test_form_view_problems)
{
	struct casefrm_problems	 pr;
	struct casefrm		 f;
	struct json_object	*v, *b;
	size_t			 at, at2;

	form_init(&f);
	memset(&pr, 0, sizeof(pr));
	snprintf(pr.top, sizeof(pr.top), "Salesforce said <b>no</b> & *x*");
	snprintf(pr.block[CASEFRM_DESCRIPTION],
	    sizeof(pr.block[CASEFRM_DESCRIPTION]), "Too <@U1> long");
	v = view_ok(casefrm_view_form(&f, KEY, &pr));
	b = block(v, "case_top", &at);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(at, 0);
	ck_assert_str_eq(str(member(b, "text"), "text"), ":warning: Salesforce "
	    "said &lt;b&gt;no&lt;/b&gt; &amp; *x*");
	ck_assert_ptr_nonnull(block(v, "case_description", &at));
	b = block(v, "case_description_error", &at2);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(at2, at + 1);
	ck_assert_str_eq(str(json_object_array_get_idx(member(b, "elements"),
	    0), "text"), ":warning: Too &lt;@U1&gt; long");
	ck_assert_ptr_null(block(v, "case_subject_error", NULL));
	json_object_put(v);
}
END_TEST

START_TEST(test_form_view_largest)
{
	struct casefrm		 f;
	struct json_object	*v, *el, *opts, *o;
	char			 big[4 * 4000 + 1];
	size_t			 i;

	casefrm_init(&f);
	for (i = 0; i < SF_CASE_PICK_MAX; i++) {
		memset(f.pri.value[i], 'v', SF_CASE_VALUE_MAX);
		f.pri.value[i][SF_CASE_VALUE_MAX - 3] = (char)('A' + i);
		memset(f.pri.label[i], 'l', 75);
	}
	f.pri.n = SF_CASE_PICK_MAX;
	f.pri.def = 0;
	/* 4,000 four-byte characters: more than the input takes. */
	for (i = 0; i < 4000; i++)
		memcpy(big + 4 * i, "\xf0\x9f\x98\x80", 4);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(casefrm_set(&f.description, big), 0);
	ck_assert_int_eq(casefrm_set(&f.subject, big), 0);
	ck_assert_int_eq(casefrm_set(&f.account, big), 0);
	v = view_ok(casefrm_view_form(&f, KEY, NULL));
	el = member(block(v, "case_description", NULL), "element");
	ck_assert_uint_eq(chars(str(el, "initial_value")),
	    CASEFRM_DESC_INPUT_MAX);
	el = member(block(v, "case_subject", NULL), "element");
	ck_assert_uint_eq(chars(str(el, "initial_value")), 255);
	el = member(block(v, "case_priority", NULL), "element");
	opts = member(el, "options");
	ck_assert_uint_eq(json_object_array_length(opts), SF_CASE_PICK_MAX);
	for (i = 0; i < SF_CASE_PICK_MAX; i++) {
		o = json_object_array_get_idx(opts, i);
		ck_assert_uint_le(chars(str(member(o, "text"), "text")), 75);
		ck_assert_uint_le(chars(str(o, "value")), 150);
	}
	json_object_put(v);
	casefrm_free(&f);
}
END_TEST

START_TEST(test_notes_and_created)
{
	struct casefrm		 f;
	struct json_object	*v, *b, *btn;

	casefrm_init(&f);
	v = view_ok(casefrm_view_note(KEY, "Creating <your> Case…"));
	ck_assert(!json_object_object_get_ex(v, "submit", NULL));
	ck_assert_str_eq(str(member(block(v, "case_note", NULL), "text"),
	    "text"), "Creating &lt;your&gt; Case…");
	json_object_put(v);
	ck_assert_int_eq(casefrm_set(&f.subject, "A & B"), 0);
	ck_assert_int_eq(casefrm_set(&f.case_id, "5008d00000AbCdEAAR"), 0);
	ck_assert_int_eq(casefrm_set(&f.case_number, "00001026"), 0);
	ck_assert_int_eq(casefrm_set(&f.instance_url,
	    "https://acme.my.salesforce.com/"), 0);
	v = view_ok(casefrm_view_created(&f, KEY));
	ck_assert_ptr_nonnull(strstr(str(member(block(v, "case_done", NULL),
	    "text"), "text"), "*00001026*"));
	ck_assert_ptr_nonnull(strstr(str(member(block(v, "case_done", NULL),
	    "text"), "text"), "A &amp; B"));
	b = block(v, "case_open", NULL);
	btn = json_object_array_get_idx(member(b, "elements"), 0);
	ck_assert_str_eq(str(btn, "url"), "https://acme.my.salesforce.com/"
	    "5008d00000AbCdEAAR");
	json_object_put(v);
	v = view_ok(casefrm_view_login(KEY, "https://fl.example/oauth/start?"
	    "state=abc", NULL, 1));
	btn = json_object_array_get_idx(member(block(v, "case_login_link",
	    NULL), "elements"), 0);
	ck_assert_str_eq(str(btn, "url"), "https://fl.example/oauth/start?"
	    "state=abc");
	json_object_put(v);
	casefrm_free(&f);
}
END_TEST

START_TEST(test_message_created)
{
	struct casefrm		 f;
	struct json_object	*m;
	char			*json;

	casefrm_init(&f);
	ck_assert_int_eq(casefrm_set(&f.subject, "<x|y> & z"), 0);
	ck_assert_int_eq(casefrm_set(&f.case_id, "5008d00000AbCdEAAR"), 0);
	ck_assert_int_eq(casefrm_set(&f.case_number, "00001026"), 0);
	ck_assert_int_eq(casefrm_set(&f.instance_url,
	    "https://acme.my.salesforce.com"), 0);
	json = casefrm_message_created(&f);
	m = json_tokener_parse(json);
	free(json);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(str(m, "response_type"), "ephemeral");
	ck_assert_str_eq(str(m, "text"), "Case 00001026 was created: "
	    "&lt;x|y&gt; &amp; z (https://acme.my.salesforce.com/"
	    "5008d00000AbCdEAAR)");
	json_object_put(m);
	casefrm_free(&f);
}
END_TEST

START_TEST(test_message_problems_escaped)
{
	struct casefrm_problems	 pr;
	struct json_object	*m, *b;
	char			*json;
	size_t			 i;

	memset(&pr, 0, sizeof(pr));
	/* Salesforce's words, as hostile as they come, and long. */
	for (i = 0; i + 10 < sizeof(pr.top); i += 10)
		memcpy(pr.top + i, "<!channel>", 10);
	snprintf(pr.block[CASEFRM_SUBJECT], sizeof(pr.block[0]),
	    "&&&& <@U1> *x*");
	json = casefrm_message_problems(&pr);
	ck_assert_ptr_nonnull(json);
	m = json_tokener_parse(json);
	free(json);
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_null(strstr(str(m, "text"), "<!channel>"));
	ck_assert_ptr_null(strstr(str(m, "text"), "<@U1>"));
	ck_assert_ptr_nonnull(strstr(str(m, "text"), "Subject: &amp;&amp;"));
	b = json_object_array_get_idx(member(m, "blocks"), 0);
	ck_assert_ptr_null(strstr(str(member(b, "text"), "text"), "<!"));
	ck_assert_uint_le(chars(str(member(b, "text"), "text")), 3000);
	json_object_put(m);
}
END_TEST

/* --- checks ------------------------------------------------------------- */

static const struct {
	const char	*name;
	const char	*v[CASEFRM__NBLOCKS];
	int		 bad;		/* the block with a problem, or -1 */
} checks[] = {
	{ "fine", { "Printer", "Broken\nsince\tMonday", "High", "Acme" },
	    -1 },
	{ "no subject", { NULL, "d", "High", NULL }, CASEFRM_SUBJECT },
	{ "blank subject", { "  \t ", "d", "High", NULL }, CASEFRM_SUBJECT },
	{ "subject two lines", { "a\nb", NULL, "High", NULL },
	    CASEFRM_SUBJECT },
	{ "priority not offered", { "s", NULL, "Urgent", NULL },
	    CASEFRM_PRIORITY },
	{ "no priority", { "s", NULL, NULL, NULL }, CASEFRM_PRIORITY },
	{ "reference in subject", { "see @{newCase.id}", NULL, "Low", NULL },
	    CASEFRM_SUBJECT },
	{ "reference in description", { "s", "x @{account.records[0].Id}",
	    "Low", NULL }, CASEFRM_DESCRIPTION },
	{ "reference-like is fine", { "mail @{me} a.b}", "@ {a.b}", "Low",
	    NULL }, -1 },
	{ "control in description", { "s", "a\x01" "b", "Low", NULL },
	    CASEFRM_DESCRIPTION },
	{ "account two lines", { "s", NULL, "Low", "A\nB" },
	    CASEFRM_ACCOUNT },
};

START_TEST(test_checks)
{
	struct casefrm_problems	 pr;
	struct casefrm		 f;
	int			 n, i;

	form_init(&f);
	n = casefrm_read(&f, checks[_i].v, &pr);
	ck_assert_msg(n == (checks[_i].bad >= 0), "%s: %d", checks[_i].name,
	    n);
	for (i = 0; i < CASEFRM__NBLOCKS; i++)
		ck_assert_msg((pr.block[i][0] != '\0') == (i ==
		    checks[_i].bad), "%s: block %d", checks[_i].name, i);
	casefrm_free(&f);
}
END_TEST

/* Lengths are counted in characters, as Salesforce counts them. */
START_TEST(test_check_lengths)
{
	struct casefrm_problems	 pr;
	struct casefrm		 f;
	const char		*v[CASEFRM__NBLOCKS] = { 0 };
	char			*s;
	size_t			 i;

	s = malloc(4 * 32001 + 1);
	ck_assert_ptr_nonnull(s);
	for (i = 0; i < 256; i++)
		memcpy(s + 2 * i, "\xc3\xa9", 2);
	form_init(&f);
	v[CASEFRM_PRIORITY] = "Low";
	s[2 * 255] = '\0';
	v[CASEFRM_SUBJECT] = s;
	ck_assert_int_eq(casefrm_read(&f, v, &pr), 0);
	memcpy(s + 2 * 255, "\xc3\xa9", 3);
	ck_assert_int_eq(casefrm_read(&f, v, &pr), 1);
	ck_assert_str_eq(pr.block[CASEFRM_SUBJECT], "At most 255 characters, "
	    "please (this has 256).");
	ck_assert_int_eq(casefrm_read(&f, (const char *[]){ "s", NULL, "Low",
	    s }, &pr), 1);
	ck_assert(pr.block[CASEFRM_ACCOUNT][0] != '\0');
	memset(s, 'd', 32001);
	s[32001] = '\0';
	ck_assert_int_eq(casefrm_read(&f, (const char *[]){ "s", s, "Low",
	    NULL }, &pr), 1);
	ck_assert(pr.block[CASEFRM_DESCRIPTION][0] != '\0');
	s[32000] = '\0';
	ck_assert_int_eq(casefrm_read(&f, (const char *[]){ "s", s, "Low",
	    NULL }, &pr), 0);
	free(s);
	casefrm_free(&f);
}
END_TEST

START_TEST(test_errors_response)
{
	struct casefrm_problems	 pr;
	struct json_object	*o, *e;
	char			*json;

	memset(&pr, 0, sizeof(pr));
	snprintf(pr.block[CASEFRM_SUBJECT], sizeof(pr.block[0]), "A \"x\"");
	snprintf(pr.block[CASEFRM_ACCOUNT], sizeof(pr.block[0]), "B");
	json = casefrm_errors_response(&pr);
	o = json_tokener_parse(json);
	free(json);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(str(o, "response_action"), "errors");
	e = member(o, "errors");
	ck_assert_int_eq(json_object_object_length(e), 2);
	ck_assert_str_eq(str(e, "case_subject"), "A \"x\"");
	ck_assert_str_eq(str(e, "case_account"), "B");
	json_object_put(o);
}
END_TEST

/* --- Salesforce's refusals ---------------------------------------------- */

static struct sf_case_result
result(const char *code, const char *msg, const char *f1, const char *f2)
{
	struct sf_case_result	 r;

	memset(&r, 0, sizeof(r));
	r.accounts = -1;
	r.nerr = 1;
	snprintf(r.err[0].code, sizeof(r.err[0].code), "%s", code);
	snprintf(r.err[0].message, sizeof(r.err[0].message), "%s", msg);
	if (f1 != NULL)
		snprintf(r.err[0].fields[r.err[0].nfields++], 64, "%s", f1);
	if (f2 != NULL)
		snprintf(r.err[0].fields[r.err[0].nfields++], 64, "%s", f2);
	return r;
}

static const struct {
	const char	*code, *msg, *f1, *f2;
	int		 block;		/* -1: top */
	const char	*says;
} maps[] = {
	{ "REQUIRED_FIELD_MISSING", "Required fields are missing: [Subject]",
	    "Subject", NULL, CASEFRM_SUBJECT,
	    "Salesforce requires this field." },
	{ "REQUIRED_FIELD_MISSING", "Required fields are missing: [Origin]",
	    "Origin", NULL, -1, "Salesforce requires a field this form does "
	    "not have (Required fields are missing: [Origin]): ask your "
	    "Salesforce admin." },
	{ "FIELD_CUSTOM_VALIDATION_EXCEPTION", "No refunds here", NULL, NULL,
	    -1, "Salesforce did not create the Case: No refunds here" },
	{ "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Say more", "Description",
	    NULL, CASEFRM_DESCRIPTION, "Say more" },
	{ "STRING_TOO_LONG", "Subject: data value too large: xxxx (max "
	    "length=80)", "Subject", NULL, CASEFRM_SUBJECT,
	    "Too long for Salesforce: at most 80 characters." },
	{ "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "Priority: bad value "
	    "for restricted picklist field: X", "Priority", NULL,
	    CASEFRM_PRIORITY, "Salesforce does not accept this value "
	    "(Priority: bad value for restricted picklist field: X)." },
	{ "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id",
	    "AccountId", NULL, CASEFRM_ACCOUNT, "invalid cross reference id" },
	{ "PROCESSING_HALTED", "The transaction was rolled back", NULL, NULL,
	    -1, "Salesforce did not create the Case: The transaction was "
	    "rolled back" },
};

START_TEST(test_map)
{
	struct casefrm_problems	 pr;
	struct sf_case_result	 r;
	int			 i;

	r = result(maps[_i].code, maps[_i].msg, maps[_i].f1, maps[_i].f2);
	casefrm_map(&r, NULL, &pr);
	if (maps[_i].block == -1)
		ck_assert_str_eq(pr.top, maps[_i].says);
	else {
		ck_assert_str_eq(pr.block[maps[_i].block], maps[_i].says);
		ck_assert_str_eq(pr.top, "");
	}
	for (i = 0; i < CASEFRM__NBLOCKS; i++)
		if (i != maps[_i].block)
			ck_assert_str_eq(pr.block[i], "");
}
END_TEST

START_TEST(test_map_account_missing)
{
	struct casefrm_problems	 pr;
	struct sf_case_result	 r;

	memset(&r, 0, sizeof(r));
	r.account_missing = 1;
	casefrm_map(&r, "O'Brien & Co", &pr);
	ck_assert_str_eq(pr.block[CASEFRM_ACCOUNT], "No Salesforce account is "
	    "named “O'Brien & Co”: type the account's exact name, or leave "
	    "this empty.");
	ck_assert_str_eq(pr.top, "");
}
END_TEST

/* --- a message, the one-liner, the row ---------------------------------- */

static const struct {
	const char	*text;
	const char	*subject;	/* NULL: none */
	const char	*description;
} messages[] = {
	{ "<@U0123ABC|bob> says &amp; <https://x.example/a|the doc>\n"
	    "second <#C1|general>", "@bob says & the doc (https://x.example/a)",
	    "@bob says & the doc (https://x.example/a)\nsecond #general" },
	{ "\n  \n  first line  \nrest", "first line",
	    "first line  \nrest" },
	{ "&lt;b&gt;not a tag&lt;/b&gt;", "<b>not a tag</b>",
	    "<b>not a tag</b>" },
	{ "", NULL, NULL },
	{ "   \n ", NULL, NULL },
};

START_TEST(test_from_message)
{
	struct casefrm	 f;

	casefrm_init(&f);
	ck_assert_int_eq(casefrm_from_message(&f, messages[_i].text), 0);
	if (messages[_i].subject == NULL)
		ck_assert_ptr_null(f.subject);
	else
		ck_assert_str_eq(f.subject, messages[_i].subject);
	if (messages[_i].description == NULL)
		ck_assert_ptr_null(f.description);
	else
		ck_assert_str_eq(f.description, messages[_i].description);
	casefrm_free(&f);
}
END_TEST

START_TEST(test_from_message_cut)
{
	struct casefrm	 f;
	char		 text[2 * 4000 + 1];
	size_t		 i;

	for (i = 0; i < 4000; i++)
		memcpy(text + 2 * i, "\xc3\xa9", 2);
	text[sizeof(text) - 1] = '\0';
	casefrm_init(&f);
	ck_assert_int_eq(casefrm_from_message(&f, text), 0);
	ck_assert_uint_eq(chars(f.subject), 255);
	ck_assert_uint_eq(strlen(f.subject), 510);
	ck_assert_uint_eq(chars(f.description), CASEFRM_DESC_INPUT_MAX);
	casefrm_free(&f);
}
END_TEST

static const struct {
	const char	*text;
	int		 one;
	const char	*subject, *description;
} oneliners[] = {
	{ "Printer: on fire", 1, "Printer", "on fire" },
	{ "  Printer  :  on: fire ", 1, "Printer", "on: fire" },
	{ "Printer:", 1, "Printer", NULL },
	{ ": no subject", 0, NULL, NULL },
	{ "  : no subject", 0, NULL, NULL },
	{ "no colon", 0, NULL, NULL },
	{ "", 0, NULL, NULL },
};

START_TEST(test_oneliner)
{
	struct casefrm	 f;

	casefrm_init(&f);
	ck_assert_int_eq(casefrm_oneliner(&f, oneliners[_i].text),
	    oneliners[_i].one);
	if (oneliners[_i].subject != NULL)
		ck_assert_str_eq(f.subject, oneliners[_i].subject);
	else
		ck_assert_ptr_null(f.subject);
	if (oneliners[_i].description != NULL)
		ck_assert_str_eq(f.description, oneliners[_i].description);
	else
		ck_assert_ptr_null(f.description);
	casefrm_free(&f);
}
END_TEST

START_TEST(test_data_round_trip)
{
	struct casefrm	 f, g;
	char		*data, *again;

	form_init(&f);
	ck_assert_int_eq(casefrm_set(&f.subject, "S \"q\" \\ é"), 0);
	ck_assert_int_eq(casefrm_set(&f.response_url,
	    "https://hooks.slack.com/commands/T1/2/x"), 0);
	ck_assert_int_eq(casefrm_set(&f.permalink,
	    "https://e2e.slack.com/archives/C1/p1"), 0);
	f.creating_at = 1780272000LL;
	data = casefrm_data(&f);
	ck_assert_ptr_nonnull(data);
	casefrm_init(&g);
	ck_assert_int_eq(casefrm_load(data, &g), 0);
	ck_assert_str_eq(g.subject, f.subject);
	ck_assert_str_eq(g.response_url, f.response_url);
	ck_assert(g.creating_at == f.creating_at);
	ck_assert_ptr_null(g.description);
	ck_assert(sf_case_picklist_same(&f.pri, &g.pri));
	again = casefrm_data(&g);
	ck_assert_str_eq(again, data);
	free(again);
	free(data);
	casefrm_free(&g);
	/* Not what casefrm_data() makes. */
	casefrm_init(&g);
	ck_assert_int_eq(casefrm_load("{\"offered\":[],\"default\":0}", &g),
	    -1);
	ck_assert_int_eq(casefrm_load("{\"subject\":1,\"offered\":[],"
	    "\"default\":-1}", &g), -1);
	ck_assert_int_eq(casefrm_load("[]", &g), -1);
	ck_assert_int_eq(casefrm_load("{\"creating_at\":\"1\",\"offered\":"
	    "[],\"default\":-1}", &g), -1);
	ck_assert_int_eq(casefrm_load("{\"creating_at\":-5,\"offered\":"
	    "[],\"default\":-1}", &g), -1);
	casefrm_free(&g);
	casefrm_free(&f);
}
END_TEST

START_TEST(test_case_with_permalink)
{
	struct sf_case_new	 c;
	struct casefrm		 f;
	char			*desc;

	casefrm_init(&f);
	ck_assert_int_eq(casefrm_set(&f.subject, "S"), 0);
	ck_assert_int_eq(casefrm_case(&f, &c, &desc), 0);
	ck_assert_ptr_null(desc);
	ck_assert_ptr_null(c.description);
	ck_assert_int_eq(casefrm_set(&f.permalink, "https://x.slack.com/p1"),
	    0);
	ck_assert_int_eq(casefrm_case(&f, &c, &desc), 0);
	ck_assert_str_eq(c.description, "From Slack: https://x.slack.com/p1");
	free(desc);
	ck_assert_int_eq(casefrm_set(&f.description, "D"), 0);
	ck_assert_int_eq(casefrm_case(&f, &c, &desc), 0);
	ck_assert_str_eq(c.description, "D\n\nFrom Slack: "
	    "https://x.slack.com/p1");
	free(desc);
	casefrm_free(&f);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("casefrm");
	TCase	*tc;

	tc = tcase_create("views");
	tcase_add_test(tc, test_form_view);
	tcase_add_test(tc, test_form_view_without_priorities);
	tcase_add_test(tc, test_form_view_problems);
	tcase_add_test(tc, test_form_view_largest);
	tcase_add_test(tc, test_notes_and_created);
	tcase_add_test(tc, test_message_created);
	tcase_add_test(tc, test_message_problems_escaped);
	suite_add_tcase(s, tc);
	tc = tcase_create("checks");
	tcase_add_loop_test(tc, test_checks, 0, NELEM(checks));
	tcase_add_test(tc, test_check_lengths);
	tcase_add_test(tc, test_errors_response);
	tcase_add_loop_test(tc, test_map, 0, NELEM(maps));
	tcase_add_test(tc, test_map_account_missing);
	suite_add_tcase(s, tc);
	tc = tcase_create("form");
	tcase_add_loop_test(tc, test_from_message, 0, NELEM(messages));
	tcase_add_test(tc, test_from_message_cut);
	tcase_add_loop_test(tc, test_oneliner, 0, NELEM(oneliners));
	tcase_add_test(tc, test_data_round_trip);
	tcase_add_test(tc, test_case_with_permalink);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

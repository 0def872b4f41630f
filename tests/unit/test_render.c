/*
 * test_render: the Slack messages (common/render.c).  Every output is
 * parsed back with json-c and its fields compared exactly; hostile
 * contact data must come out escaped and within Slack's limits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "buf.h"
#include "form.h"
#include "render.h"
#include "slack.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#define INSTANCE	"https://acme.my.salesforce.com"
#define ELLIPSIS	"\xe2\x80\xa6"

/* Parses a message and checks the frame every message shares. */
static struct json_object *
parse_msg(char *json)
{
	struct json_object	*o, *v;

	ck_assert_ptr_nonnull(json);
	o = json_tokener_parse(json);
	ck_assert_msg(o != NULL, "not JSON: %s", json);
	ck_assert_int_eq(json_object_object_length(o), 3);
	ck_assert(json_object_object_get_ex(o, "response_type", &v));
	ck_assert_str_eq(json_object_get_string(v), "ephemeral");
	ck_assert(json_object_object_get_ex(o, "text", &v));
	ck_assert(json_object_is_type(v, json_type_string));
	ck_assert_int_lt(json_object_get_string_len(v), 40000);
	ck_assert(json_object_object_get_ex(o, "blocks", &v));
	ck_assert(json_object_is_type(v, json_type_array));
	ck_assert_uint_ge(json_object_array_length(v), 1);
	ck_assert_uint_le(json_object_array_length(v), SLACK_MAX_BLOCKS);
	free(json);
	return o;
}

static const char *
msg_text(struct json_object *o)
{
	struct json_object	*v;

	ck_assert(json_object_object_get_ex(o, "text", &v));
	return json_object_get_string(v);
}

static size_t
msg_nblocks(struct json_object *o)
{
	struct json_object	*v;

	ck_assert(json_object_object_get_ex(o, "blocks", &v));
	return json_object_array_length(v);
}

static struct json_object *
msg_block(struct json_object *o, size_t i)
{
	struct json_object	*v;

	ck_assert(json_object_object_get_ex(o, "blocks", &v));
	ck_assert_uint_lt(i, json_object_array_length(v));
	return json_object_array_get_idx(v, i);
}

/* Returns the mrkdwn text of section block i, checking its shape and
 * Slack's limit on it. */
static const char *
section_text(struct json_object *o, size_t i)
{
	struct json_object	*b, *t, *v;
	const char		*s;

	b = msg_block(o, i);
	ck_assert_int_eq(json_object_object_length(b), 2);
	ck_assert(json_object_object_get_ex(b, "type", &v));
	ck_assert_str_eq(json_object_get_string(v), "section");
	ck_assert(json_object_object_get_ex(b, "text", &t));
	ck_assert_int_eq(json_object_object_length(t), 2);
	ck_assert(json_object_object_get_ex(t, "type", &v));
	ck_assert_str_eq(json_object_get_string(v), "mrkdwn");
	ck_assert(json_object_object_get_ex(t, "text", &v));
	s = json_object_get_string(v);
	ck_assert_int_ge(json_object_get_string_len(v), 1);
	ck_assert_int_le(json_object_get_string_len(v), SLACK_MAX_TEXT);
	ck_assert(form_utf8_ok(s, strlen(s)));
	return s;
}

/* No raw Slack control sequence may come from outside data. */
static void
assert_no_mention(struct json_object *o)
{
	const char	*s;

	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	ck_assert_ptr_null(strstr(s, "<!"));
	ck_assert_ptr_null(strstr(s, "<@"));
}

/* Returns 1 when block i is a section. */
static int
is_section(struct json_object *o, size_t i)
{
	struct json_object	*v;

	return json_object_object_get_ex(msg_block(o, i), "type", &v) &&
	    strcmp(json_object_get_string(v), "section") == 0;
}

/* The text of the k-th section (0: the first), skipping the actions
 * blocks of result cards. */
static const char *
nth_section(struct json_object *o, size_t k)
{
	size_t	 i;

	for (i = 0; i < msg_nblocks(o); i++)
		if (is_section(o, i) && k-- == 0)
			return section_text(o, i);
	ck_abort_msg("no section %zu", k);
	return NULL;
}

/* The fallback text is exactly the sections joined by blank lines. */
static void
assert_text_is_blocks(struct json_object *o)
{
	struct buf	 b;
	size_t		 i;
	int		 first = 1;

	buf_init(&b, 64 * 1024);
	for (i = 0; i < msg_nblocks(o); i++) {
		if (!is_section(o, i))
			continue;
		ck_assert_int_eq(buf_printf(&b, "%s%s", first ? "" : "\n\n",
		    section_text(o, i)), 0);
		first = 0;
	}
	ck_assert_str_eq(msg_text(o), buf_cstr(&b));
	buf_free(&b);
}

/* The first page of a contact search as /contact shows it, without an
 * action row (no Share or More buttons). */
static char *
render_contacts(const char *instance, const char *query,
    const struct sf_records *rs)
{
	struct render_cards	 c;
	struct render_page	 pg;
	char			*json;

	memset(&pg, 0, sizeof(pg));
	pg.kind = SF_KIND_CONTACT;
	pg.query = query;
	pg.more = rs->more;
	ck_assert_int_eq(render_cards(SF_KIND_CONTACT, instance, rs, &c), 0);
	json = render_results(&pg, &c);
	render_cards_free(&c);
	return json;
}

/* A message of SLACK_MAX_BLOCKS sections "s0" ... "s49". */
static char *
full_message(void)
{
	struct buf	 b;
	int		 i;

	buf_init(&b, 64 * 1024);
	ck_assert_int_eq(buf_puts(&b, "{\"response_type\":\"ephemeral\","
	    "\"text\":\"s0\",\"blocks\":["), 0);
	for (i = 0; i < SLACK_MAX_BLOCKS; i++)
		ck_assert_int_eq(buf_printf(&b, "%s{\"type\":\"section\","
		    "\"text\":{\"type\":\"mrkdwn\",\"text\":\"s%d\"}}",
		    i ? "," : "", i), 0);
	ck_assert_int_eq(buf_puts(&b, "]}"), 0);
	return buf_detach(&b);
}

START_TEST(test_help)
{
	struct json_object	*o;
	const char		*t;

	o = parse_msg(render_help("/contact", NULL));
	ck_assert_uint_eq(msg_nblocks(o), 1);
	t = msg_text(o);
	ck_assert_str_eq(section_text(o, 0), t);
	ck_assert_ptr_nonnull(strstr(t, "`/contact smith`"));
	ck_assert_ptr_nonnull(strstr(t, "`/contact login`"));
	ck_assert_ptr_nonnull(strstr(t, "`/contact logout`"));
	ck_assert_ptr_nonnull(strstr(t, "`/contact whoami`"));
	ck_assert_ptr_nonnull(strstr(t, "`/contact help`"));
	json_object_put(o);
}
END_TEST

START_TEST(test_help_command_name)
{
	struct json_object	*o;

	o = parse_msg(render_help("/people", NULL));
	ck_assert_ptr_nonnull(strstr(msg_text(o), "`/people login`"));
	ck_assert_ptr_null(strstr(msg_text(o), "/contact"));
	json_object_put(o);
	o = parse_msg(render_help(NULL, NULL));
	ck_assert_ptr_nonnull(strstr(msg_text(o), "`/contact whoami`"));
	json_object_put(o);
}
END_TEST

START_TEST(test_help_hostile_command_fails)
{
	static const char *const bad[] = {
		"<!channel>", "contact", "/", "/a b", "/x&y", "/x`y",
		"/abcdefghijklmnopqrstuvwxyz0123456789",
	};
	struct json_object	*o;
	size_t			 i;

	for (i = 0; i < NELEM(bad); i++) {
		o = parse_msg(render_help(bad[i], NULL));
		ck_assert_ptr_nonnull(strstr(msg_text(o), "`/contact login`"));
		assert_no_mention(o);
		json_object_put(o);
	}
}
END_TEST

#define LOGIN_URL "https://fl.example/oauth/start?state=Zm9vYmFyYmF6cXV4"

START_TEST(test_login)
{
	struct json_object	*o, *b, *v, *btn, *t;
	const char		*text;

	o = parse_msg(render_login(LOGIN_URL,
	    "Your Salesforce session was revoked or expired."));
	text = msg_text(o);
	ck_assert_str_eq(text, "Your Salesforce session was revoked or "
	    "expired. To search Salesforce as yourself, link your Salesforce "
	    "account. Only you can use the link: forcelink checks that it is "
	    "you before it links anything. It works once and expires in 10 "
	    "minutes.\nLog in to Salesforce: <" LOGIN_URL ">");
	ck_assert_uint_eq(msg_nblocks(o), 3);
	ck_assert_str_eq(section_text(o, 0), "*Link your Salesforce account*\n"
	    "Your Salesforce session was revoked or expired. To search "
	    "Salesforce as yourself, link your Salesforce account. Only you "
	    "can use the link: forcelink checks that it is you before it "
	    "links anything. It works once and expires in 10 minutes.");
	b = msg_block(o, 1);
	ck_assert_int_eq(json_object_object_length(b), 2);
	ck_assert(json_object_object_get_ex(b, "type", &v));
	ck_assert_str_eq(json_object_get_string(v), "actions");
	ck_assert(json_object_object_get_ex(b, "elements", &v));
	ck_assert_uint_eq(json_object_array_length(v), 1);
	btn = json_object_array_get_idx(v, 0);
	ck_assert_int_eq(json_object_object_length(btn), 4);
	ck_assert(json_object_object_get_ex(btn, "type", &v));
	ck_assert_str_eq(json_object_get_string(v), "button");
	ck_assert(json_object_object_get_ex(btn, "url", &v));
	ck_assert_str_eq(json_object_get_string(v), LOGIN_URL);
	ck_assert(json_object_object_get_ex(btn, "style", &v));
	ck_assert_str_eq(json_object_get_string(v), "primary");
	ck_assert(json_object_object_get_ex(btn, "text", &t));
	ck_assert_int_eq(json_object_object_length(t), 2);
	ck_assert(json_object_object_get_ex(t, "type", &v));
	ck_assert_str_eq(json_object_get_string(v), "plain_text");
	ck_assert(json_object_object_get_ex(t, "text", &v));
	ck_assert_str_eq(json_object_get_string(v), "Log in to Salesforce");
	ck_assert_str_eq(section_text(o, 2),
	    "Or open this link: <" LOGIN_URL ">");
	json_object_put(o);
}
END_TEST

START_TEST(test_login_no_reason)
{
	struct json_object	*o;

	o = parse_msg(render_login(LOGIN_URL, NULL));
	ck_assert_str_eq(msg_text(o), "To search Salesforce as yourself, link "
	    "your Salesforce account. Only you can use the link: forcelink "
	    "checks that it is you before it links anything. It works once "
	    "and expires in 10 minutes.\nLog in to Salesforce: <" LOGIN_URL
	    ">");
	json_object_put(o);
}
END_TEST

START_TEST(test_login_hostile_reason)
{
	static const char	 want[] =
				    "&lt;!here&gt; &amp; &lt;@U1&gt; To search";
	struct json_object	*o;

	o = parse_msg(render_login(LOGIN_URL, "<!here> & <@U1>"));
	ck_assert_int_eq(strncmp(msg_text(o), want, sizeof(want) - 1), 0);
	assert_no_mention(o);
	json_object_put(o);
}
END_TEST

START_TEST(test_login_null_url_fails)
{
	ck_assert_ptr_null(render_login(NULL, NULL));
}
END_TEST

static struct sf_record ann = {
	.id = "003000000000001AAA", .name = "Ann Smith", .title = "VP Sales",
	.email = "ann@acme.example", .phone = "+1 555 0100",
	.mobile = "+1 555 0101", .account_id = "001000000000001AAA",
	.account_name = "Acme"
};
/* A null account and nothing else but a hostile name. */
static struct sf_record co = {
	.id = "003000000000002AAA", .name = "<!channel> & Co"
};

#define ANN_TEXT \
	"*<" INSTANCE "/003000000000001AAA|Ann Smith>*\n" \
	"VP Sales\n" \
	"Account: <" INSTANCE "/001000000000001AAA|Acme>\n" \
	"Email: <mailto:ann@acme.example|ann@acme.example>\n" \
	"Phone: +1 555 0100\n" \
	"Mobile: +1 555 0101"
#define CO_TEXT \
	"*<" INSTANCE "/003000000000002AAA|&lt;!channel&gt; &amp; Co>*\n" \
	"Account: No account"

START_TEST(test_contacts)
{
	struct sf_record	 v[2];
	struct sf_records	 cs = { .v = v, .n = 2, .more = 0 };
	struct json_object	*o;

	v[0] = ann;
	v[1] = co;
	o = parse_msg(render_contacts(INSTANCE, "smith", &cs));
	ck_assert_str_eq(msg_text(o),
	    "2 contacts matching \xe2\x80\x9csmith\xe2\x80\x9d\n\n"
	    ANN_TEXT "\n\n" CO_TEXT);
	/* The head, then each card's section and its actions. */
	ck_assert_uint_eq(msg_nblocks(o), 5);
	ck_assert_str_eq(section_text(o, 0),
	    "2 contacts matching \xe2\x80\x9csmith\xe2\x80\x9d");
	ck_assert_str_eq(section_text(o, 1), ANN_TEXT);
	ck_assert_str_eq(section_text(o, 3), CO_TEXT);
	assert_no_mention(o);
	json_object_put(o);
}
END_TEST

/* Fills n contacts that all look like ann. */
static struct sf_record *
many(size_t n)
{
	struct sf_record	*v;
	size_t			 i;

	ck_assert_ptr_nonnull(v = calloc(n, sizeof(*v)));
	for (i = 0; i < n; i++)
		v[i] = ann;
	return v;
}

/* The head of a contact list (its first section): how many contacts
 * match, and how many are shown. */
static const struct {
	const char	*needle;
	size_t		 n;		/* contacts handed over, like ann */
	int		 more;		/* more match */
	const char	*head;
	size_t		 blocks;
} head_cases[] = {
	{ "ann", 1, 0, "1 contact matching \xe2\x80\x9c" "ann\xe2\x80\x9d", 3 },
	{ "smith", 0, 0, "No contacts match \xe2\x80\x9csmith\xe2\x80\x9d.",
	    1 },
	{ "AT&T <!channel>", 0, 0, "No contacts match \xe2\x80\x9c"
	    "AT&amp;T &lt;!channel&gt;\xe2\x80\x9d.", 1 },
	{ "smith", 10, 1, "Contacts 1\xe2\x80\x93" "10 matching "
	    "\xe2\x80\x9csmith\xe2\x80\x9d; there are more: refine your "
	    "search.", 21 },
};

START_TEST(test_contacts_head_table)
{
	struct sf_records	 cs = { .v = NULL, .n = head_cases[_i].n,
				    .more = head_cases[_i].more };
	struct json_object	*o;

	if (cs.n > 0)
		cs.v = many(cs.n);
	o = parse_msg(render_contacts(INSTANCE, head_cases[_i].needle, &cs));
	ck_assert_str_eq(section_text(o, 0), head_cases[_i].head);
	ck_assert_uint_eq(msg_nblocks(o), head_cases[_i].blocks);
	/* Without contacts the head is all there is. */
	if (cs.n == 0)
		ck_assert_str_eq(msg_text(o), head_cases[_i].head);
	assert_no_mention(o);
	json_object_put(o);
	free(cs.v);
}
END_TEST

/* More records handed over than a page shows: SF_QUERY_LIMIT cards. */
START_TEST(test_contacts_sixty_capped)
{
	struct sf_records	 cs = { .v = NULL, .n = 60, .more = 1 };
	struct json_object	*o;
	size_t			 i;

	cs.v = many(60);
	o = parse_msg(render_contacts(INSTANCE, "smith", &cs));
	ck_assert_uint_eq(msg_nblocks(o), 1 + 2 * SF_QUERY_LIMIT);
	ck_assert_str_eq(section_text(o, 0), "Contacts 1\xe2\x80\x93" "10 "
	    "matching \xe2\x80\x9csmith\xe2\x80\x9d; there are more: refine "
	    "your search.");
	for (i = 1; i <= SF_QUERY_LIMIT; i++)
		ck_assert_str_eq(nth_section(o, i), ANN_TEXT);
	assert_text_is_blocks(o);
	json_object_put(o);
	free(cs.v);
}
END_TEST

START_TEST(test_contacts_long_title_cut)
{
	struct sf_record	 c = ann;
	struct sf_records	 cs = { .v = &c, .n = 1, .more = 0 };
	struct json_object	*o;
	char			*title, want[300];
	const char		*s;

	ck_assert_ptr_nonnull(title = malloc(5001));
	memset(title, 'T', 5000);
	title[5000] = '\0';
	c.title = title;
	o = parse_msg(render_contacts(INSTANCE, "smith", &cs));
	s = section_text(o, 1);
	/* 256 bytes at most: 253 of the title and the ellipsis. */
	want[0] = '\n';
	memset(want + 1, 'T', 253);
	strcpy(want + 254, ELLIPSIS "\nAccount: ");
	ck_assert_ptr_nonnull(strstr(s, want));
	ck_assert_ptr_nonnull(strstr(msg_text(o), want));
	json_object_put(o);
	free(title);
}
END_TEST

/* Cut cases: a title of repeated characters of every UTF-8 width, and
 * how many of them survive the 256-byte field limit. */
static const struct {
	const char	*ch;
	size_t		 kept;
} cut_cases[] = {
	{ "a", 253 },
	{ "\xc3\xa9", 126 },		/* é: 252 bytes */
	{ "\xe2\x82\xac", 84 },		/* €: 252 bytes */
	{ "\xf0\x9f\x98\x80", 63 },	/* U+1F600: 252 bytes */
};

START_TEST(test_contacts_multibyte_cut)
{
	struct sf_record	 c = ann;
	struct sf_records	 cs = { .v = &c, .n = 1, .more = 0 };
	struct json_object	*o;
	struct buf		 title, want;
	size_t			 i;

	buf_init(&title, 64 * 1024);
	buf_init(&want, 64 * 1024);
	for (i = 0; i < 2000; i++)
		ck_assert_int_eq(buf_puts(&title, cut_cases[_i].ch), 0);
	ck_assert_int_eq(buf_putc(&want, '\n'), 0);
	for (i = 0; i < cut_cases[_i].kept; i++)
		ck_assert_int_eq(buf_puts(&want, cut_cases[_i].ch), 0);
	ck_assert_int_eq(buf_puts(&want, ELLIPSIS "\nAccount"), 0);
	c.title = title.data;
	o = parse_msg(render_contacts(INSTANCE, "x", &cs));
	ck_assert_ptr_nonnull(strstr(section_text(o, 1), want.data));
	json_object_put(o);
	buf_free(&title);
	buf_free(&want);
}
END_TEST

static size_t
count_char(const char *s, char c)
{
	size_t	 n = 0;

	for (; *s != '\0'; s++)
		n += *s == c;
	return n;
}

START_TEST(test_contacts_hostile_within_limits)
{
	struct sf_records	 cs = { .v = NULL, .n = 60, .more = 0 };
	struct json_object	*o, *t;
	char			*amp;
	const char		*s;
	size_t			 i, n;

	/* Every field 5000 "&": escaping multiplies it by five. */
	ck_assert_ptr_nonnull(amp = malloc(5001));
	memset(amp, '&', 5000);
	amp[5000] = '\0';
	cs.v = many(60);
	for (i = 0; i < 60; i++) {
		cs.v[i].name = cs.v[i].title = cs.v[i].email = amp;
		cs.v[i].phone = cs.v[i].mobile = cs.v[i].account_name = amp;
	}
	o = parse_msg(render_contacts(INSTANCE, amp, &cs));
	n = msg_nblocks(o);
	ck_assert_uint_eq(n, 1 + 2 * SF_QUERY_LIMIT);
	for (i = 1; i <= SF_QUERY_LIMIT; i++) {
		s = nth_section(o, i);
		ck_assert_uint_le(strlen(s), SLACK_MAX_TEXT);
		ck_assert_uint_gt(strlen(s), SLACK_MAX_TEXT / 2);
		ck_assert_str_eq(s + strlen(s) - 3, ELLIPSIS);
		/* The cut never splits an entity or a link. */
		ck_assert_ptr_null(strstr(s, "&" ELLIPSIS));
		ck_assert_ptr_null(strstr(s, "&a" ELLIPSIS));
		ck_assert_ptr_null(strstr(s, "&am" ELLIPSIS));
		ck_assert_ptr_null(strstr(s, "&amp" ELLIPSIS));
		ck_assert_uint_eq(count_char(s, '<'), count_char(s, '>'));
	}
	ck_assert(json_object_object_get_ex(o, "text", &t));
	ck_assert_int_gt(json_object_get_string_len(t), 10 * 1500);
	ck_assert_int_le(json_object_get_string_len(t), 39000);
	ck_assert_int_eq(strncmp(section_text(o, 0), "10 contacts", 11), 0);
	assert_text_is_blocks(o);
	json_object_put(o);
	free(cs.v);
	free(amp);
}
END_TEST

/* One contact on its own, and its section as it must read. */
static const struct {
	const char		*name;
	const char		*instance;
	struct sf_record	 c;
	const char		*want;
} alone_cases[] = {
	{ "bad bytes cleaned", INSTANCE, { .id = "003000000000002AAA",
	    .name = "A\xff" "B\x01" "C\nD\xc2\x85" "E", .title = "tab\there" },
	    "*<" INSTANCE "/003000000000002AAA|A\xef\xbf\xbd" "B C D E>*\n"
	    "tab here\nAccount: No account" },
	{ "unsafe links dropped", INSTANCE, { .id = "../../evil",
	    .name = "Ann Smith", .email = "a@b.example?subject=x",
	    .account_id = "001000000000001AAAX",	/* 19 characters */
	    .account_name = "Acme" },
	    "*Ann Smith*\nAccount: Acme\nEmail: a@b.example?subject=x" },
	{ "nothing linked without an instance", NULL, {
	    .id = "003000000000001AAA", .name = "Ann Smith",
	    .account_id = "001000000000001AAA", .account_name = "Acme" },
	    "*Ann Smith*\nAccount: Acme" },
	{ "account without a name", INSTANCE, { .id = "003000000000002AAA",
	    .account_id = "001000000000001AAA" },
	    "*<" INSTANCE "/003000000000002AAA|(no name)>*\nAccount: <" INSTANCE
	    "/001000000000001AAA|(unnamed account)>" },
};

START_TEST(test_contact_alone_table)
{
	struct sf_record	 c = alone_cases[_i].c;
	struct sf_records	 cs = { .v = &c, .n = 1, .more = 0 };
	struct json_object	*o;
	const char		*s;

	o = parse_msg(render_contacts(alone_cases[_i].instance, "x", &cs));
	s = section_text(o, 1);
	ck_assert_msg(strcmp(s, alone_cases[_i].want) == 0, "%s: \"%s\"",
	    alone_cases[_i].name, s);
	json_object_put(o);
}
END_TEST

/* --- Cards, buttons, other kinds (issue 15) --------------------------- */

#define KEY	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

/* Block i's element j (an actions block's button). */
static struct json_object *
button(struct json_object *o, size_t i, size_t j)
{
	struct json_object	*b = msg_block(o, i), *v, *e;

	ck_assert(json_object_object_get_ex(b, "type", &v));
	ck_assert_str_eq(json_object_get_string(v), "actions");
	ck_assert(json_object_object_get_ex(b, "elements", &e));
	ck_assert_uint_gt(json_object_array_length(e), j);
	return json_object_array_get_idx(e, j);
}

/* Member key of button b as a string, or NULL when absent. */
static const char *
bmember(struct json_object *b, const char *key)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(b, key, &v))
		return NULL;
	return json_object_get_string(v);
}

static const char *
blabel(struct json_object *b)
{
	struct json_object	*t, *v;

	ck_assert(json_object_object_get_ex(b, "text", &t));
	ck_assert(json_object_object_get_ex(t, "type", &v));
	ck_assert_str_eq(json_object_get_string(v), "plain_text");
	ck_assert(json_object_object_get_ex(t, "text", &v));
	ck_assert_uint_le(strlen(json_object_get_string(v)), 75);
	return json_object_get_string(v);
}

static char *
page_json(enum sf_kind kind, const char *inst, const char *query,
    const struct sf_records *rs, int offset, const char *key,
    const char *more_key)
{
	struct render_cards	 c;
	struct render_page	 pg = { kind, query, offset, rs->more, key,
				    more_key };
	char			*json;

	ck_assert_int_eq(render_cards(kind, inst, rs, &c), 0);
	json = render_results(&pg, &c);
	render_cards_free(&c);
	return json;
}

START_TEST(test_cards_buttons)
{
	struct sf_record	 v[2] = { ann, co };
	struct sf_records	 rs = { SF_KIND_CONTACT, v, 2, 1 };
	struct json_object	*o, *b;

	o = parse_msg(page_json(SF_KIND_CONTACT, INSTANCE, "smith", &rs, 0,
	    KEY, KEY));
	/* head, (section, actions) x 2, More */
	ck_assert_uint_eq(msg_nblocks(o), 6);
	ck_assert_str_eq(section_text(o, 0), "Contacts 1\xe2\x80\x93" "2 "
	    "matching \xe2\x80\x9csmith\xe2\x80\x9d");
	b = button(o, 2, 0);
	ck_assert_str_eq(bmember(b, "action_id"), "open");
	ck_assert_str_eq(blabel(b), "Open in Salesforce");
	ck_assert_str_eq(bmember(b, "url"), INSTANCE "/003000000000001AAA");
	ck_assert_ptr_null(bmember(b, "value"));
	b = button(o, 2, 1);
	ck_assert_str_eq(bmember(b, "action_id"), "share");
	ck_assert_str_eq(blabel(b), "Share in channel");
	ck_assert_str_eq(bmember(b, "value"), KEY ":0");
	ck_assert_ptr_null(bmember(b, "url"));
	ck_assert_str_eq(bmember(button(o, 4, 1), "value"), KEY ":1");
	ck_assert_str_eq(bmember(button(o, 4, 0), "url"),
	    INSTANCE "/003000000000002AAA");
	b = button(o, 5, 0);
	ck_assert_str_eq(bmember(b, "action_id"), "more");
	ck_assert_str_eq(blabel(b), "More");
	ck_assert_str_eq(bmember(b, "value"), KEY);
	assert_text_is_blocks(o);
	assert_no_mention(o);
	json_object_put(o);
}
END_TEST

/* No row: no Share, no More, only Open; a record without a usable id
 * has no Open either (and no actions block at all). */
START_TEST(test_cards_without_row)
{
	struct sf_record	 v[2] = { ann, ann };
	struct sf_records	 rs = { SF_KIND_CONTACT, v, 2, 1 };
	struct json_object	*o, *e;

	v[1].id = "../evil";
	o = parse_msg(page_json(SF_KIND_CONTACT, INSTANCE, "smith", &rs, 10,
	    NULL, NULL));
	ck_assert_uint_eq(msg_nblocks(o), 4);
	ck_assert_str_eq(section_text(o, 0), "Contacts 11\xe2\x80\x93" "12 "
	    "matching \xe2\x80\x9csmith\xe2\x80\x9d; there are more: refine "
	    "your search.");
	ck_assert(json_object_object_get_ex(msg_block(o, 2), "elements", &e));
	ck_assert_uint_eq(json_object_array_length(e), 1);
	ck_assert_str_eq(bmember(button(o, 2, 0), "action_id"), "open");
	ck_assert(is_section(o, 3));
	json_object_put(o);
}
END_TEST

/* An instance URL too long for a button: the name is still linked, the
 * button is left out. */
START_TEST(test_cards_long_url)
{
	struct sf_record	 v[1] = { ann };
	struct sf_records	 rs = { SF_KIND_CONTACT, v, 1, 0 };
	struct json_object	*o;
	char			*inst;

	ck_assert_ptr_nonnull(inst = malloc(3100));
	memcpy(inst, "https://", 8);
	memset(inst + 8, 'a', 3000);
	inst[3008] = '\0';
	o = parse_msg(page_json(SF_KIND_CONTACT, inst, "x", &rs, 0, KEY,
	    NULL));
	ck_assert_uint_eq(msg_nblocks(o), 3);
	ck_assert_uint_eq(json_object_array_length(json_object_object_get(
	    msg_block(o, 2), "elements")), 1);
	ck_assert_str_eq(bmember(button(o, 2, 0), "action_id"), "share");
	json_object_put(o);
	free(inst);
}
END_TEST

static const struct sf_record acme = {
	.id = "001000000000001AAA", .name = "O'Brien & <Partners>",
	.industry = "Energy", .city = "Cork", .phone = "+353 21 000",
	.website = "https://obrien.example",
};

START_TEST(test_cards_account)
{
	struct sf_record	 v[1] = { acme };
	struct sf_records	 rs = { SF_KIND_ACCOUNT, v, 1, 0 };
	struct json_object	*o;

	o = parse_msg(page_json(SF_KIND_ACCOUNT, INSTANCE, "o'brien", &rs, 0,
	    KEY, NULL));
	ck_assert_str_eq(section_text(o, 0), "1 account matching "
	    "\xe2\x80\x9co'brien\xe2\x80\x9d");
	ck_assert_str_eq(section_text(o, 1), "*<" INSTANCE
	    "/001000000000001AAA|O'Brien &amp; &lt;Partners&gt;>*\n"
	    "Industry: Energy\nCity: Cork\nPhone: +353 21 000\n"
	    "Website: https://obrien.example");
	json_object_put(o);
	rs.n = 0;
	o = parse_msg(page_json(SF_KIND_ACCOUNT, INSTANCE, "%_", &rs, 0,
	    NULL, NULL));
	ck_assert_str_eq(msg_text(o), "No accounts match \xe2\x80\x9c%_"
	    "\xe2\x80\x9d.");
	ck_assert_uint_eq(msg_nblocks(o), 1);
	json_object_put(o);
}
END_TEST

/* Amounts: grouped, two decimals, the record's currency when the org
 * has several, none in a single-currency org, nothing when null. */
static const struct {
	const char	*amount;
	const char	*currency;
	const char	*want;
} amount_cases[] = {
	{ "120000", "USD", "\nAmount: USD 120,000.00\n" },
	{ "45000.5", "EUR", "\nAmount: EUR 45,000.50\n" },
	{ "9999.995", NULL, "\nAmount: 10,000.00\n" },
	{ "-1.5e3", NULL, "\nAmount: -1,500.00\n" },
	{ "0", "JPY", "\nAmount: JPY 0.00\n" },
	{ "3200000", NULL, "\nAmount: 3,200,000.00\n" },
	{ "1e300", "USD", "\nAmount: USD 1e300\n" },
	{ NULL, "USD", "\nAccount:" },
};

START_TEST(test_cards_opportunity_amounts)
{
	struct sf_record	 o1 = {
		.id = "006000000000001AAA", .name = "Deal", .stage =
		    "Negotiation/Review", .close_date = "2027-01-15",
		.account_id = "001000000000001AAA", .account_name = "Acme",
	};
	struct sf_records	 rs = { SF_KIND_OPPORTUNITY, &o1, 1, 0 };
	struct json_object	*o;
	const char		*t;

	o1.amount = (char *)amount_cases[_i].amount;
	o1.currency = (char *)amount_cases[_i].currency;
	o = parse_msg(page_json(SF_KIND_OPPORTUNITY, INSTANCE, NULL, &rs, 0,
	    KEY, NULL));
	ck_assert_str_eq(section_text(o, 0), "Your 1 open opportunity, "
	    "soonest close date first");
	t = section_text(o, 1);
	ck_assert_msg(strstr(t, amount_cases[_i].want) != NULL, "%s", t);
	ck_assert_int_eq(strncmp(t, "*<" INSTANCE "/006000000000001AAA|Deal>*"
	    "\nStage: Negotiation/Review\nClose date: 2027-01-15", 78), 0);
	ck_assert_ptr_nonnull(strstr(t, "Account: <" INSTANCE
	    "/001000000000001AAA|Acme>"));
	if (amount_cases[_i].amount == NULL)
		ck_assert_ptr_null(strstr(t, "Amount"));
	json_object_put(o);
}
END_TEST

START_TEST(test_cards_pipeline_heads)
{
	struct sf_record	 v[3] = {
		{ .id = "006000000000001AAA", .name = "A" },
		{ .id = "006000000000002AAA", .name = "B" },
		{ .id = "006000000000003AAA", .name = "<!here>" },
	};
	struct sf_records	 rs = { SF_KIND_OPPORTUNITY, v, 3, 1 };
	struct json_object	*o;

	o = parse_msg(page_json(SF_KIND_OPPORTUNITY, INSTANCE, NULL, &rs, 3,
	    KEY, KEY));
	ck_assert_str_eq(section_text(o, 0), "Your open opportunities "
	    "4\xe2\x80\x93" "6, soonest close date first");
	ck_assert_str_eq(section_text(o, 5), "*<" INSTANCE
	    "/006000000000003AAA|&lt;!here&gt;>*\nAccount: No account");
	assert_no_mention(o);
	json_object_put(o);
	/* More, but no row to page with. */
	o = parse_msg(page_json(SF_KIND_OPPORTUNITY, INSTANCE, NULL, &rs, 0,
	    NULL, NULL));
	ck_assert_str_eq(section_text(o, 0), "Your open opportunities "
	    "1\xe2\x80\x93" "3, soonest close date first; there are more.");
	json_object_put(o);
	rs.n = 0;
	rs.more = 0;
	o = parse_msg(page_json(SF_KIND_OPPORTUNITY, INSTANCE, NULL, &rs, 0,
	    NULL, NULL));
	ck_assert_str_eq(msg_text(o), "You have no open opportunities.");
	json_object_put(o);
	o = parse_msg(page_json(SF_KIND_OPPORTUNITY, INSTANCE, NULL, &rs, 10,
	    NULL, NULL));
	ck_assert_str_eq(msg_text(o), "No more open opportunities.");
	json_object_put(o);
}
END_TEST

START_TEST(test_shared)
{
	struct json_object	*o, *v, *b;
	char			*json;

	json = render_shared("*<" INSTANCE "/003000000000001AAA|Ann>*\n"
	    "VP &amp; co", "U0ABC123");
	ck_assert_ptr_nonnull(json);
	ck_assert_ptr_nonnull(o = json_tokener_parse(json));
	free(json);
	ck_assert_int_eq(json_object_object_length(o), 4);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o,
	    "response_type")), "in_channel");
	ck_assert(json_object_object_get_ex(o, "replace_original", &v));
	ck_assert(json_object_is_type(v, json_type_boolean));
	ck_assert(!json_object_get_boolean(v));
	ck_assert_str_eq(msg_text(o), "*<" INSTANCE "/003000000000001AAA|Ann>*"
	    "\nVP &amp; co\nShared by <@U0ABC123>");
	ck_assert_uint_eq(msg_nblocks(o), 2);
	ck_assert_str_eq(section_text(o, 0), "*<" INSTANCE
	    "/003000000000001AAA|Ann>*\nVP &amp; co");
	b = msg_block(o, 1);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(b,
	    "type")), "context");
	ck_assert_ptr_nonnull(strstr(json_object_to_json_string(b),
	    "Shared by <@U0ABC123>"));
	json_object_put(o);
	/* Only a Slack id names the sharer. */
	ck_assert_ptr_null(render_shared("x", "U1> <!channel"));
	ck_assert_ptr_null(render_shared("x", ""));
	ck_assert_ptr_null(render_shared("x", "u0abc"));
	ck_assert_ptr_null(render_shared(NULL, "U1"));
}
END_TEST

START_TEST(test_help_usage)
{
	static const struct render_usage pipeline = { "[N]", "your open "
	    "opportunities" };
	struct json_object	*o;

	o = parse_msg(render_help("/pipeline", &pipeline));
	ck_assert_ptr_nonnull(strstr(msg_text(o), "`/pipeline [N]` "
	    "\xe2\x80\x94 your open opportunities"));
	ck_assert_ptr_nonnull(strstr(msg_text(o), "`/pipeline logout`"));
	ck_assert_ptr_null(strstr(msg_text(o), "smith"));
	json_object_put(o);
	o = parse_msg(render_help_iuser("/pipeline", &pipeline));
	ck_assert_ptr_nonnull(strstr(msg_text(o), "`/pipeline [N]`"));
	ck_assert_ptr_null(strstr(msg_text(o), "logout"));
	json_object_put(o);
}
END_TEST

START_TEST(test_whoami)
{
	struct sf_userinfo	 ui = {
		.user_id = "005000000000001AAA",
		.org_id = "00D000000000001AAA",
		.username = "ann@acme.example",
		.name = "Ann Smith",
		.email = "ann@acme.example",
	};
	struct json_object	*o;

	o = parse_msg(render_whoami(INSTANCE, &ui));
	ck_assert_str_eq(msg_text(o), "You are linked to Salesforce as "
	    "*ann@acme.example* (Ann Smith, ann@acme.example) on instance <"
	    INSTANCE ">.\nIf this is not you, run `/contact logout` and link "
	    "again.");
	ck_assert_uint_eq(msg_nblocks(o), 1);
	ck_assert_str_eq(section_text(o, 0), msg_text(o));
	json_object_put(o);
}
END_TEST

START_TEST(test_whoami_partial)
{
	struct sf_userinfo	 ui = {
		.user_id = "005000000000001AAA",
		.name = "<!channel>",
	};
	struct json_object	*o;

	o = parse_msg(render_whoami(INSTANCE, &ui));
	ck_assert_str_eq(msg_text(o), "You are linked to Salesforce as "
	    "*005000000000001AAA* (&lt;!channel&gt;) on instance <" INSTANCE
	    ">.\nIf this is not you, run `/contact logout` and link again.");
	json_object_put(o);
	ui.name = NULL;
	o = parse_msg(render_whoami(NULL, &ui));
	ck_assert_str_eq(msg_text(o), "You are linked to Salesforce as "
	    "*005000000000001AAA*.\nIf this is not you, run `/contact logout` "
	    "and link again.");
	json_object_put(o);
}
END_TEST

START_TEST(test_whoami_null_fails)
{
	ck_assert_ptr_null(render_whoami(INSTANCE, NULL));
}
END_TEST

static const struct {
	const char	*in;
	const char	*want;
} message_cases[] = {
	{ "Searching\xe2\x80\xa6", "Searching\xe2\x80\xa6" },
	{ "Unlinked.", "Unlinked." },
	{ "<!everyone> & <https://evil|x>",
	    "&lt;!everyone&gt; &amp; &lt;https://evil|x&gt;" },
	{ "two\nlines", "two\nlines" },
};

START_TEST(test_message_table)
{
	struct json_object	*o;

	o = parse_msg(render_message(message_cases[_i].in));
	ck_assert_str_eq(msg_text(o), message_cases[_i].want);
	ck_assert_uint_eq(msg_nblocks(o), 1);
	ck_assert_str_eq(section_text(o, 0), message_cases[_i].want);
	assert_no_mention(o);
	json_object_put(o);
}
END_TEST

START_TEST(test_message_long_cut)
{
	struct json_object	*o;
	char			*s;
	const char		*t;

	ck_assert_ptr_nonnull(s = malloc(5001));
	memset(s, 'm', 5000);
	s[5000] = '\0';
	o = parse_msg(render_message(s));
	t = section_text(o, 0);
	ck_assert_uint_eq(strlen(t), SLACK_MAX_TEXT);
	ck_assert_str_eq(t + SLACK_MAX_TEXT - 3, ELLIPSIS);
	json_object_put(o);
	free(s);
}
END_TEST

START_TEST(test_message_empty)
{
	struct json_object	*o;

	o = parse_msg(render_message(""));
	ck_assert_str_eq(msg_text(o), "");
	ck_assert_str_eq(section_text(o, 0), ELLIPSIS);
	json_object_put(o);
}
END_TEST

START_TEST(test_no_slash_escaping)
{
	char	*json;

	json = render_message("a/b");
	ck_assert_ptr_nonnull(json);
	ck_assert_ptr_nonnull(strstr(json, "\"text\":\"a/b\""));
	ck_assert_ptr_null(strstr(json, "\\/"));
	free(json);
}
END_TEST

/* --- Searches resumed after linking ----------------------------------- */

#define LQ		"\xe2\x80\x9c"
#define RQ		"\xe2\x80\x9d"
#define PREFACE(q)	"Your search for " LQ q RQ " from before you linked:"
#define KEPT_NOTE	"Once you have linked, the answer to this search " \
	"will appear here: there is no need to run it again."
#define TRANSIENT	"Salesforce did not answer properly just now. Please " \
	"run your search again in a minute."

START_TEST(test_login_resume)
{
	struct json_object	*o, *plain;
	size_t			 i;

	o = parse_msg(render_login_resume(LOGIN_URL, NULL));
	plain = parse_msg(render_login(LOGIN_URL, NULL));
	ck_assert_str_eq(msg_text(o), "To search Salesforce as yourself, link "
	    "your Salesforce account. Only you can use the link: forcelink "
	    "checks that it is you before it links anything. It works once "
	    "and expires in 10 minutes.\nLog in to Salesforce: <" LOGIN_URL
	    ">\n" KEPT_NOTE);
	/* The login message as it is, and the note as a last section. */
	ck_assert_uint_eq(msg_nblocks(o), 4);
	for (i = 0; i < 3; i++)
		ck_assert_str_eq(json_object_to_json_string(msg_block(o, i)),
		    json_object_to_json_string(msg_block(plain, i)));
	ck_assert_str_eq(section_text(o, 3), KEPT_NOTE);
	json_object_put(o);
	json_object_put(plain);
}
END_TEST

START_TEST(test_resumed_contacts)
{
	struct sf_record	 v[2];
	struct sf_records	 cs = { .v = v, .n = 2, .more = 0 };
	struct json_object	*o, *plain;
	char			*json;
	struct buf		 want;

	v[0] = ann;
	v[1] = co;
	ck_assert_ptr_nonnull(json = render_contacts(INSTANCE, "smith", &cs));
	o = parse_msg(render_resumed(json, "smith"));
	plain = parse_msg(json);
	buf_init(&want, 64 * 1024);
	ck_assert_int_eq(buf_printf(&want, "%s\n%s", PREFACE("smith"),
	    msg_text(plain)), 0);
	ck_assert_str_eq(msg_text(o), want.data);
	ck_assert_uint_eq(msg_nblocks(o), 5);
	ck_assert_str_eq(section_text(o, 0), PREFACE("smith") "\n"
	    "2 contacts matching " LQ "smith" RQ);
	ck_assert_str_eq(nth_section(o, 1), ANN_TEXT);
	ck_assert_str_eq(nth_section(o, 2), CO_TEXT);
	assert_text_is_blocks(o);
	assert_no_mention(o);
	buf_free(&want);
	json_object_put(o);
	json_object_put(plain);
}
END_TEST

/* A full answer (50 blocks) stays at 50: the preface joins the first. */
START_TEST(test_resumed_sixty_within_block_limit)
{
	struct json_object	*o;
	char			*json;

	json = full_message();
	o = parse_msg(render_resumed(json, "smith"));
	free(json);
	ck_assert_uint_eq(msg_nblocks(o), SLACK_MAX_BLOCKS);
	ck_assert_str_eq(section_text(o, 0), PREFACE("smith") "\ns0");
	ck_assert_str_eq(section_text(o, SLACK_MAX_BLOCKS - 1), "s49");
	json_object_put(o);
}
END_TEST

START_TEST(test_resumed_message)
{
	struct json_object	*o;
	char			*json;

	ck_assert_ptr_nonnull(json = render_message(TRANSIENT));
	o = parse_msg(render_resumed(json, "smith"));
	free(json);
	ck_assert_str_eq(msg_text(o), PREFACE("smith") "\n" TRANSIENT);
	ck_assert_uint_eq(msg_nblocks(o), 1);
	ck_assert_str_eq(section_text(o, 0), msg_text(o));
	json_object_put(o);
}
END_TEST

/* What the person typed comes out cleaned, cut and escaped. */
static const struct {
	const char	*query;
	const char	*want;	/* between the quotes */
} resumed_cases[] = {
	{ "AT&T", "AT&amp;T" },
	{ "<!channel> <@U1>", "&lt;!channel&gt; &lt;@U1&gt;" },
	{ "a\tb\nc", "a b c" },
	{ "caf\xc3\xa9 \xff", "caf\xc3\xa9 \xef\xbf\xbd" },
	{ "", "" },
	{ "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"
	    "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq",
	    "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"
	    "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq" ELLIPSIS },
};

START_TEST(test_resumed_query_table)
{
	struct json_object	*o;
	struct buf		 want;
	char			*json;

	ck_assert_ptr_nonnull(json = render_message("No contacts."));
	o = parse_msg(render_resumed(json, resumed_cases[_i].query));
	free(json);
	buf_init(&want, 4096);
	ck_assert_int_eq(buf_printf(&want, "Your search for " LQ "%s" RQ
	    " from before you linked:\nNo contacts.", resumed_cases[_i].want),
	    0);
	ck_assert_str_eq(msg_text(o), want.data);
	ck_assert_str_eq(section_text(o, 0), want.data);
	assert_no_mention(o);
	buf_free(&want);
	json_object_put(o);
}
END_TEST

/* A first section already at Slack's limit is cut again after the
 * preface, at a character boundary, with an ellipsis. */
START_TEST(test_resumed_long_message_cut)
{
	struct json_object	*o;
	char			*s, *json;
	const char		*t;

	ck_assert_ptr_nonnull(s = malloc(5001));
	memset(s, 'm', 5000);
	s[5000] = '\0';
	ck_assert_ptr_nonnull(json = render_message(s));
	o = parse_msg(render_resumed(json, "smith"));
	free(json);
	t = section_text(o, 0);
	ck_assert_uint_eq(strlen(t), SLACK_MAX_TEXT);
	ck_assert_int_eq(strncmp(t, PREFACE("smith") "\nmmm",
	    strlen(PREFACE("smith")) + 4), 0);
	ck_assert_str_eq(t + SLACK_MAX_TEXT - 3, ELLIPSIS);
	json_object_put(o);
	free(s);
}
END_TEST

/* A message whose first block is not a section gets the preface as a
 * section of its own, still within 50 blocks. */
START_TEST(test_resumed_other_first_block)
{
	struct json_object	*o;
	struct buf		 in;
	int			 i;

	buf_init(&in, 64 * 1024);
	ck_assert_int_eq(buf_puts(&in, "{\"response_type\":\"ephemeral\","
	    "\"text\":\"t\",\"blocks\":["), 0);
	for (i = 0; i < SLACK_MAX_BLOCKS; i++)
		ck_assert_int_eq(buf_printf(&in, "%s{\"type\":\"divider\"}",
		    i ? "," : ""), 0);
	ck_assert_int_eq(buf_puts(&in, "]}"), 0);
	o = parse_msg(render_resumed(in.data, "x"));
	ck_assert_str_eq(msg_text(o), PREFACE("x") "\nt");
	ck_assert_uint_eq(msg_nblocks(o), SLACK_MAX_BLOCKS);
	ck_assert_str_eq(section_text(o, 0), PREFACE("x"));
	json_object_put(o);
	buf_free(&in);
}
END_TEST

START_TEST(test_resumed_not_a_message_fails)
{
	static const char *const bad[] = {
		"", "not json", "[1]", "{\"text\":\"t\"}",
		"{\"text\":1,\"blocks\":[]}", "{\"blocks\":[]}",
		"{\"text\":\"t\",\"blocks\":{}}",
	};
	size_t	 i;

	ck_assert_ptr_null(render_resumed(NULL, "x"));
	for (i = 0; i < NELEM(bad); i++)
		ck_assert_msg(render_resumed(bad[i], "x") == NULL, "%s",
		    bad[i]);
}
END_TEST

/* --- Integration-user mode -------------------------------------------- */

/* The text of context block i (one mrkdwn element). */
static const char *
context_text(struct json_object *o, size_t i)
{
	struct json_object	*b, *e, *v;

	b = msg_block(o, i);
	ck_assert_int_eq(json_object_object_length(b), 2);
	ck_assert(json_object_object_get_ex(b, "type", &v));
	ck_assert_str_eq(json_object_get_string(v), "context");
	ck_assert(json_object_object_get_ex(b, "elements", &e));
	ck_assert_uint_eq(json_object_array_length(e), 1);
	e = json_object_array_get_idx(e, 0);
	ck_assert(json_object_object_get_ex(e, "type", &v));
	ck_assert_str_eq(json_object_get_string(v), "mrkdwn");
	ck_assert(json_object_object_get_ex(e, "text", &v));
	return json_object_get_string(v);
}

START_TEST(test_with_context)
{
	struct sf_record	 c = ann;
	struct sf_records	 cs = { .v = &c, .n = 1, .more = 0 };
	struct json_object	*o, *before;
	char			*json, *with;

	json = render_contacts(INSTANCE, "smith", &cs);
	ck_assert_ptr_nonnull(json);
	with = render_with_context(json, "Results from Salesforce as the "
	    "integration user run@acme.example");
	before = parse_msg(json);
	o = parse_msg(with);
	ck_assert_uint_eq(msg_nblocks(o), msg_nblocks(before) + 1);
	ck_assert_str_eq(context_text(o, 0), "Results from Salesforce as the "
	    "integration user run@acme.example");
	ck_assert_str_eq(section_text(o, 1), section_text(before, 0));
	ck_assert_str_eq(section_text(o, 2), section_text(before, 1));
	ck_assert_int_eq(strncmp(msg_text(o), "Results from Salesforce as "
	    "the integration user run@acme.example\n", 65), 0);
	ck_assert_str_eq(msg_text(o) + 65, msg_text(before));
	json_object_put(o);
	json_object_put(before);
}
END_TEST

/* The line is outside text (a username from Salesforce): escaped, no
 * mention, cut. */
START_TEST(test_with_context_hostile_line)
{
	struct json_object	*o;
	char			*json, line[2000];

	json = render_message("hello");
	memset(line, 'x', sizeof(line));
	memcpy(line, "<!channel> & <@U1>\n", 19);
	line[sizeof(line) - 1] = '\0';
	o = parse_msg(render_with_context(json, line));
	free(json);
	ck_assert_int_eq(strncmp(context_text(o, 0), "&lt;!channel&gt; "
	    "&amp; &lt;@U1&gt; xxx", 36), 0);
	/* Cut to 600 bytes before escaping, with an ellipsis. */
	ck_assert_uint_eq(strlen(context_text(o, 0)), 600 + 16);
	ck_assert_str_eq(context_text(o, 0) + 616 - 3, ELLIPSIS);
	assert_no_mention(o);
	json_object_put(o);
}
END_TEST

/* A message with SLACK_MAX_BLOCKS blocks already: the line goes into the
 * first section, and the message stays within the limit. */
START_TEST(test_with_context_full_message)
{
	struct json_object	*o;
	char			*json;

	json = full_message();
	o = parse_msg(render_with_context(json, "as the integration user u"));
	free(json);
	ck_assert_uint_eq(msg_nblocks(o), SLACK_MAX_BLOCKS);
	ck_assert_str_eq(section_text(o, 0), "as the integration user u\ns0");
	ck_assert_int_eq(strncmp(msg_text(o), "as the integration user u\n",
	    26), 0);
	json_object_put(o);
}
END_TEST

START_TEST(test_with_context_fails)
{
	char	*json = render_message("x");

	ck_assert_ptr_null(render_with_context(NULL, "line"));
	ck_assert_ptr_null(render_with_context(json, NULL));
	ck_assert_ptr_null(render_with_context("not json", "line"));
	ck_assert_ptr_null(render_with_context("{\"text\":\"x\"}", "line"));
	ck_assert_ptr_null(render_with_context("[1]", "line"));
	free(json);
}
END_TEST

START_TEST(test_help_iuser)
{
	struct json_object	*o;
	const char		*t;

	o = parse_msg(render_help_iuser("/contact", NULL));
	t = msg_text(o);
	ck_assert_str_eq(section_text(o, 0), t);
	ck_assert_ptr_nonnull(strstr(t, "as the integration user of this "
	    "workspace, not as you"));
	ck_assert_ptr_nonnull(strstr(t, "`/contact smith`"));
	ck_assert_ptr_nonnull(strstr(t, "`/contact whoami`"));
	ck_assert_ptr_null(strstr(t, "`/contact login`"));
	ck_assert_ptr_null(strstr(t, "`/contact logout`"));
	json_object_put(o);
}
END_TEST

START_TEST(test_whoami_iuser)
{
	struct sf_userinfo	 ui = {
		.user_id = "005000000000001AAA",
		.org_id = "00D000000000001AAA",
		.username = "run@acme.example",
		.name = "<b>Run</b> As",
	};
	struct json_object	*o;

	o = parse_msg(render_whoami_iuser(INSTANCE, &ui));
	ck_assert_str_eq(msg_text(o), "This workspace searches Salesforce as "
	    "the integration user *run@acme.example* (&lt;b&gt;Run&lt;/b&gt; "
	    "As) on instance <" INSTANCE ">, not as you: everyone here sees "
	    "what that Salesforce user may see.");
	ck_assert_str_eq(section_text(o, 0), msg_text(o));
	json_object_put(o);
	ck_assert_ptr_null(render_whoami_iuser(INSTANCE, NULL));
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("render");
	tc = tcase_create("messages");
	tcase_add_test(tc, test_help);
	tcase_add_test(tc, test_help_command_name);
	tcase_add_test(tc, test_help_hostile_command_fails);
	tcase_add_test(tc, test_login);
	tcase_add_test(tc, test_login_no_reason);
	tcase_add_test(tc, test_login_hostile_reason);
	tcase_add_test(tc, test_login_null_url_fails);
	tcase_add_test(tc, test_whoami);
	tcase_add_test(tc, test_whoami_partial);
	tcase_add_test(tc, test_whoami_null_fails);
	tcase_add_loop_test(tc, test_message_table, 0, NELEM(message_cases));
	tcase_add_test(tc, test_message_long_cut);
	tcase_add_test(tc, test_message_empty);
	tcase_add_test(tc, test_no_slash_escaping);
	suite_add_tcase(s, tc);
	tc = tcase_create("contacts");
	tcase_add_test(tc, test_contacts);
	tcase_add_loop_test(tc, test_contacts_head_table, 0,
	    NELEM(head_cases));
	tcase_add_test(tc, test_cards_buttons);
	tcase_add_test(tc, test_cards_without_row);
	tcase_add_test(tc, test_cards_long_url);
	tcase_add_test(tc, test_cards_account);
	tcase_add_loop_test(tc, test_cards_opportunity_amounts, 0,
	    NELEM(amount_cases));
	tcase_add_test(tc, test_cards_pipeline_heads);
	tcase_add_test(tc, test_shared);
	tcase_add_test(tc, test_help_usage);
	tcase_add_test(tc, test_contacts_sixty_capped);
	tcase_add_test(tc, test_contacts_long_title_cut);
	tcase_add_loop_test(tc, test_contacts_multibyte_cut, 0,
	    NELEM(cut_cases));
	tcase_add_test(tc, test_contacts_hostile_within_limits);
	tcase_add_loop_test(tc, test_contact_alone_table, 0,
	    NELEM(alone_cases));
	suite_add_tcase(s, tc);
	tc = tcase_create("integration user");
	tcase_add_test(tc, test_with_context);
	tcase_add_test(tc, test_with_context_hostile_line);
	tcase_add_test(tc, test_with_context_full_message);
	tcase_add_test(tc, test_with_context_fails);
	tcase_add_test(tc, test_help_iuser);
	tcase_add_test(tc, test_whoami_iuser);
	suite_add_tcase(s, tc);
	tc = tcase_create("resumed");
	tcase_add_test(tc, test_login_resume);
	tcase_add_test(tc, test_resumed_contacts);
	tcase_add_test(tc, test_resumed_sixty_within_block_limit);
	tcase_add_test(tc, test_resumed_message);
	tcase_add_loop_test(tc, test_resumed_query_table, 0,
	    NELEM(resumed_cases));
	tcase_add_test(tc, test_resumed_long_message_cut);
	tcase_add_test(tc, test_resumed_other_first_block);
	tcase_add_test(tc, test_resumed_not_a_message_fails);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

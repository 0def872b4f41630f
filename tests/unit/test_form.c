/*
 * test_form: strict form decoding, field validation, validators, Cookie
 * headers and percent-encoding (common/form.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "buf.h"
#include "fields.h"
#include "form.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Parse cases.  want lists the decoded pairs as "k=v" joined by "|" with
 * NUL-free values, so the whole result is checked in one comparison. */
static const struct {
	const char		*in;
	enum form_result	 rc;
	const char		*want;
} parse_cases[] = {
	{ "", FORM_OK, "" },
	{ "a=1", FORM_OK, "a=1" },
	{ "a=1&b=2", FORM_OK, "a=1|b=2" },
	{ "a=1&&b=2", FORM_OK, "a=1|b=2" },
	{ "&a=1&", FORM_OK, "a=1" },
	{ "&&&", FORM_OK, "" },
	{ "flag", FORM_OK, "flag=" },
	{ "a=", FORM_OK, "a=" },
	{ "a=b=c", FORM_OK, "a=b=c" },
	{ "q=a+b", FORM_OK, "q=a b" },
	{ "q=a%2Bb", FORM_OK, "q=a+b" },
	{ "q=%2f%2F", FORM_OK, "q=//" },
	{ "q=caf%C3%A9", FORM_OK, "q=caf\xc3\xa9" },
	{ "q=caf%c3%a9", FORM_OK, "q=caf\xc3\xa9" },
	{ "k%20ey=v", FORM_OK, "k ey=v" },
	{ "q=%26amp%3B", FORM_OK, "q=&amp;" },
	{ "q=%3D%26", FORM_OK, "q==&" },
	{ "a=1&a=2", FORM_OK, "a=1|a=2" },
	/* Failure cases: malformed escapes, NUL, keyless values. */
	{ "q=%G1", FORM_BAD_ENCODING, NULL },
	{ "q=%1G", FORM_BAD_ENCODING, NULL },
	{ "q=%4", FORM_BAD_ENCODING, NULL },
	{ "q=abc%", FORM_BAD_ENCODING, NULL },
	{ "q=%", FORM_BAD_ENCODING, NULL },
	{ "%", FORM_BAD_ENCODING, NULL },
	{ "q=%00", FORM_BAD_ENCODING, NULL },
	{ "q=a%00b", FORM_BAD_ENCODING, NULL },
	{ "%00=v", FORM_BAD_ENCODING, NULL },
	{ "=v", FORM_BAD_ENCODING, NULL },
	{ "=", FORM_BAD_ENCODING, NULL },
	{ "a=1&=2", FORM_BAD_ENCODING, NULL },
	{ "a=1&b=%zz", FORM_BAD_ENCODING, NULL },
	{ "q=%%41", FORM_BAD_ENCODING, NULL },
};

/* Renders the pairs as "k=v|k=v" into out. */
static void
pairs_str(const struct form *f, char *out, size_t outsz)
{
	size_t	 i, n = 0;

	out[0] = '\0';
	for (i = 0; i < f->npairs; i++) {
		n += (size_t)snprintf(out + n, outsz - n, "%s%s=%s",
		    i > 0 ? "|" : "", f->pairs[i].key, f->pairs[i].val);
		ck_assert_uint_lt(n, outsz);
		ck_assert_uint_eq(strlen(f->pairs[i].val), f->pairs[i].vallen);
	}
}

START_TEST(test_parse_table)
{
	struct form		 f;
	enum form_result	 rc;
	char			 got[256];

	rc = form_parse(parse_cases[_i].in, strlen(parse_cases[_i].in), &f);
	ck_assert_msg(rc == parse_cases[_i].rc, "%s: got %s want %s",
	    parse_cases[_i].in, form_result_str(rc),
	    form_result_str(parse_cases[_i].rc));
	if (rc != FORM_OK) {
		ck_assert_ptr_null(f.pairs);
		ck_assert_uint_eq(f.npairs, 0);
		return;
	}
	pairs_str(&f, got, sizeof(got));
	ck_assert_str_eq(got, parse_cases[_i].want);
	form_free(&f);
}
END_TEST

START_TEST(test_parse_raw_nul_fails)
{
	struct form	 f;
	static const char in[] = "a=1&q=x\0y&b=2";

	ck_assert_int_eq(form_parse(in, sizeof(in) - 1, &f),
	    FORM_BAD_ENCODING);
	ck_assert_uint_eq(f.npairs, 0);
}
END_TEST

START_TEST(test_parse_respects_len)
{
	struct form	 f;

	/* Only the first 3 bytes are the input; the rest must be ignored. */
	ck_assert_int_eq(form_parse("a=1%G1", 3, &f), FORM_OK);
	ck_assert_uint_eq(f.npairs, 1);
	ck_assert_str_eq(form_get(&f, "a"), "1");
	form_free(&f);
}
END_TEST

/* Builds "k0=v&k1=v&..." with n pairs. */
static void
many_pairs(struct buf *b, size_t n)
{
	size_t	 i;

	buf_init(b, 4096);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(buf_printf(b, "%sk%zu=v", i ? "&" : "", i), 0);
}

START_TEST(test_parse_max_pairs)
{
	struct form	 f;
	struct buf	 b;

	many_pairs(&b, FORM_MAX_PAIRS);
	ck_assert_int_eq(form_parse(b.data, b.len, &f), FORM_OK);
	ck_assert_uint_eq(f.npairs, FORM_MAX_PAIRS);
	form_free(&f);
	buf_free(&b);
}
END_TEST

START_TEST(test_parse_too_many_pairs_fails)
{
	struct form	 f;
	struct buf	 b;

	many_pairs(&b, FORM_MAX_PAIRS + 1);
	ck_assert_int_eq(form_parse(b.data, b.len, &f), FORM_TOO_MANY);
	ck_assert_uint_eq(f.npairs, 0);
	buf_free(&b);
}
END_TEST

START_TEST(test_get)
{
	struct form	 f;
	const char	*in = "a=1&b=&a=2";

	ck_assert_int_eq(form_parse(in, strlen(in), &f), FORM_OK);
	ck_assert_str_eq(form_get(&f, "a"), "1");
	ck_assert_str_eq(form_get(&f, "b"), "");
	ck_assert_ptr_null(form_get(&f, "c"));
	ck_assert_ptr_null(form_get(&f, "A"));
	form_free(&f);
	form_free(&f);		/* reusable after free */
	ck_assert_uint_eq(f.npairs, 0);
}
END_TEST

static const struct form_field fields[] = {
	{ "team_id", 32, form_valid_slack_id, 1 },
	{ "enterprise_id", 32, form_valid_slack_id, 0 },
	{ "text", 8, NULL, 0 },
	{ "user_id", 32, form_valid_slack_id, 1 },
};

static const struct {
	const char		*in;
	enum form_result	 rc;
	const char		*bad;
} validate_cases[] = {
	{ "team_id=T1&user_id=U2", FORM_OK, NULL },
	{ "team_id=T1&user_id=U2&text=hi&junk=%01", FORM_OK, NULL },
	{ "team_id=T1&user_id=U2&enterprise_id=", FORM_OK, NULL },
	{ "team_id=T1&user_id=U2&enterprise_id=E0123ABC", FORM_OK, NULL },
	{ "team_id=T1&user_id=U2&text=12345678", FORM_OK, NULL },
	{ "team_id=T1&user_id=U2&text=%C3%A9%09x", FORM_OK, NULL },
	{ "team_id=T1&user_id=U2&unknown=1&unknown=2", FORM_OK, NULL },
	/* Failure cases. */
	{ "team_id=T1&user_id=U2&team_id=T2", FORM_DUPLICATE, "team_id" },
	{ "team_id=T1&user_id=U2&text=&text=x", FORM_DUPLICATE, "text" },
	{ "team_id=T1&user_id=U2&text=x&text=", FORM_DUPLICATE, "text" },
	{ "team_id=&user_id=U2&user_id=U3", FORM_DUPLICATE, "user_id" },
	{ "user_id=U2", FORM_MISSING, "team_id" },
	{ "team_id=&user_id=U2", FORM_MISSING, "team_id" },
	{ "team_id=T1", FORM_MISSING, "user_id" },
	{ "team_id=T1&user_id=U2&text=123456789", FORM_TOO_LONG, "text" },
	{ "team_id=t1&user_id=U2", FORM_INVALID, "team_id" },
	{ "team_id=T1&user_id=U2&enterprise_id=e-1", FORM_INVALID,
	    "enterprise_id" },
	{ "team_id=T1&user_id=U2&text=a%01b", FORM_INVALID, "text" },
	{ "team_id=T1&user_id=U2&text=%FF", FORM_INVALID, "text" },
	{ "team_id=T1&user_id=U2&text=%C0%80", FORM_INVALID, "text" },
};

START_TEST(test_validate_table)
{
	struct form		 f;
	enum form_result	 rc;
	const char		*bad = "unset";
	const char		*in = validate_cases[_i].in;

	ck_assert_int_eq(form_parse(in, strlen(in), &f), FORM_OK);
	rc = form_validate(&f, fields, NELEM(fields), NULL, &bad);
	ck_assert_msg(rc == validate_cases[_i].rc, "%s: got %s want %s", in,
	    form_result_str(rc), form_result_str(validate_cases[_i].rc));
	if (validate_cases[_i].bad == NULL)
		ck_assert_ptr_null(bad);
	else
		ck_assert_str_eq(bad, validate_cases[_i].bad);
	ck_assert_int_eq(form_validate(&f, fields, NELEM(fields), NULL, NULL),
	    rc);
	form_free(&f);
}
END_TEST

/* The field map: val[i] is table[i]'s value (absent: NULL, even when an
 * undeclared key or another field has a value), and a form that fails
 * leaves no value in it. */
START_TEST(test_validate_fieldmap)
{
	struct form	 f;
	const char	*val[NELEM(fields)], *in;

	in = "text=hi&user_id=U2&junk=x&team_id=T1&enterprise_id=";
	ck_assert_int_eq(form_parse(in, strlen(in), &f), FORM_OK);
	ck_assert_int_eq(form_validate(&f, fields, NELEM(fields), val, NULL),
	    FORM_OK);
	ck_assert_str_eq(val[0], "T1");
	ck_assert_str_eq(val[1], "");
	ck_assert_str_eq(val[2], "hi");
	ck_assert_str_eq(val[3], "U2");
	ck_assert_ptr_eq(val[0], form_get(&f, "team_id"));
	form_free(&f);

	in = "team_id=T1&user_id=U2";
	ck_assert_int_eq(form_parse(in, strlen(in), &f), FORM_OK);
	ck_assert_int_eq(form_validate(&f, fields, NELEM(fields), val, NULL),
	    FORM_OK);
	ck_assert_ptr_null(val[1]);
	ck_assert_ptr_null(val[2]);
	form_free(&f);

	in = "team_id=T1&user_id=U2&text=123456789";
	ck_assert_int_eq(form_parse(in, strlen(in), &f), FORM_OK);
	ck_assert_int_eq(form_validate(&f, fields, NELEM(fields), val, NULL),
	    FORM_TOO_LONG);
	ck_assert_ptr_null(val[0]);
	ck_assert_ptr_null(val[3]);
	form_free(&f);
}
END_TEST

/* A query read and checked in one call: the field map on success, all
 * NULL (and nothing to free) on any failure, NULL input included. */
START_TEST(test_parse_fields)
{
	struct form	 f;
	const char	*val[NELEM(fields)], *bad = "unset";
	size_t		 i;

	for (i = 0; i < NELEM(fields); i++)
		val[i] = "stale";
	ck_assert_int_eq(form_parse_fields(NULL, &f, fields, NELEM(fields),
	    val, &bad), FORM_BAD_ENCODING);
	ck_assert_ptr_null(bad);
	for (i = 0; i < NELEM(fields); i++)
		ck_assert_ptr_null(val[i]);
	ck_assert_uint_eq(f.npairs, 0);
	form_free(&f);

	ck_assert_int_eq(form_parse_fields("team_id=T1&user_id=%zz", &f,
	    fields, NELEM(fields), val, &bad), FORM_BAD_ENCODING);
	ck_assert_ptr_null(val[0]);
	form_free(&f);

	ck_assert_int_eq(form_parse_fields("team_id=T1", &f, fields,
	    NELEM(fields), val, &bad), FORM_MISSING);
	ck_assert_str_eq(bad, "user_id");
	ck_assert_ptr_null(val[0]);
	form_free(&f);

	ck_assert_int_eq(form_parse_fields("user_id=U2&team_id=T1&text=x", &f,
	    fields, NELEM(fields), val, &bad), FORM_OK);
	ck_assert_ptr_null(bad);
	ck_assert_str_eq(val[0], "T1");
	ck_assert_ptr_null(val[1]);
	ck_assert_str_eq(val[2], "x");
	ck_assert_str_eq(val[3], "U2");
	form_free(&f);
}
END_TEST

/* Every table of fields.h has an entry for each value of its enum (the
 * designated initializers leave none empty). */
START_TEST(test_fields_tables_complete)
{
	static const struct {
		const struct form_field	*t;
		size_t			 n;
	} tables[] = {
		{ fields_slash, SLASH__MAX },
		{ fields_login, LOGIN__MAX },
		{ fields_continue, CONTINUE__MAX },
		{ fields_callback, CALLBACK__MAX },
		{ fields_redirect, REDIRECT__MAX },
	};
	size_t	 i, j;

	for (i = 0; i < NELEM(tables); i++)
		for (j = 0; j < tables[i].n; j++) {
			ck_assert_ptr_nonnull(tables[i].t[j].name);
			ck_assert_uint_gt(tables[i].t[j].maxlen, 0);
		}
	ck_assert_str_eq(fields_slash[SLASH_TEXT].name, "text");
	ck_assert_str_eq(fields_slash[SLASH_RESPONSE_URL].name,
	    "response_url");
	ck_assert_str_eq(fields_callback[CALLBACK_CODE].name, "code");
	ck_assert_str_eq(fields_redirect[REDIRECT_ERROR].name, "error");
	ck_assert_str_eq(fields_continue[CONTINUE_CSRF].name, "csrf");
}
END_TEST

static const struct {
	const char	*in;
	size_t		 len;	/* 0: strlen */
	int		 ok;
} utf8_cases[] = {
	{ "", 0, 1 },
	{ "plain ascii", 0, 1 },
	{ "caf\xc3\xa9", 0, 1 },
	{ "\xe2\x80\x9cq\xe2\x80\x9d", 0, 1 },
	{ "\xf0\x9f\x98\x80", 0, 1 },		/* U+1F600 */
	{ "\xc2\x80", 0, 1 },			/* U+0080 */
	{ "\xe0\xa0\x80", 0, 1 },		/* U+0800 */
	{ "\xed\x9f\xbf", 0, 1 },		/* U+D7FF */
	{ "\xee\x80\x80", 0, 1 },		/* U+E000 */
	{ "\xef\xbf\xbf", 0, 1 },		/* U+FFFF */
	{ "\xf0\x90\x80\x80", 0, 1 },		/* U+10000 */
	{ "\xf4\x8f\xbf\xbf", 0, 1 },		/* U+10FFFF */
	{ "\x00", 1, 1 },			/* NUL is UTF-8 */
	/* Failure cases. */
	{ "\xc0\x80", 0, 0 },			/* overlong NUL */
	{ "\xc1\xbf", 0, 0 },			/* overlong */
	{ "\xe0\x80\x80", 0, 0 },		/* overlong */
	{ "\xe0\x9f\xbf", 0, 0 },		/* overlong */
	{ "\xf0\x80\x80\x80", 0, 0 },		/* overlong */
	{ "\xf0\x8f\xbf\xbf", 0, 0 },		/* overlong */
	{ "\xed\xa0\x80", 0, 0 },		/* U+D800 */
	{ "\xed\xbf\xbf", 0, 0 },		/* U+DFFF */
	{ "\xf4\x90\x80\x80", 0, 0 },		/* U+110000 */
	{ "\xf5\x80\x80\x80", 0, 0 },
	{ "\xff", 0, 0 },
	{ "\xfe", 0, 0 },
	{ "\x80", 0, 0 },			/* stray continuation */
	{ "a\xbf", 0, 0 },
	{ "\xc3", 0, 0 },			/* truncated */
	{ "\xe2\x82", 0, 0 },
	{ "\xf0\x9f\x98", 0, 0 },
	{ "\xc3\xa9\xc3", 0, 0 },
	{ "\xe2\x28\xa1", 0, 0 },		/* bad continuation */
	{ "\xc3\x28", 0, 0 },
};

START_TEST(test_utf8_table)
{
	const char	*s = utf8_cases[_i].in;
	size_t		 len = utf8_cases[_i].len ? utf8_cases[_i].len :
			    strlen(s);

	ck_assert_msg(form_utf8_ok(s, len) == utf8_cases[_i].ok,
	    "case %d", _i);
}
END_TEST

static const struct {
	form_validator	 fn;
	const char	*name;
	const char	*in;
	int		 ok;
} valid_cases[] = {
	{ form_valid_utf8, "utf8", "tab\tnl\ncr\r", 1 },
	{ form_valid_utf8, "utf8", "caf\xc3\xa9 \xc2\xa0", 1 },
	{ form_valid_utf8, "utf8", "a\x01", 0 },
	{ form_valid_utf8, "utf8", "a\x1b[31m", 0 },
	{ form_valid_utf8, "utf8", "del\x7f", 0 },
	{ form_valid_utf8, "utf8", "c1\xc2\x85", 0 },
	{ form_valid_utf8, "utf8", "\xed\xa0\x80", 0 },
	{ form_valid_slack_id, "slack_id", "T1DC2JH3J", 1 },
	{ form_valid_slack_id, "slack_id", "U2CERLKJA", 1 },
	{ form_valid_slack_id, "slack_id", "E0123ABC", 1 },
	{ form_valid_slack_id, "slack_id", "W0", 1 },
	{ form_valid_slack_id, "slack_id",
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", 1 },
	{ form_valid_slack_id, "slack_id",
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456", 0 },
	{ form_valid_slack_id, "slack_id", "", 0 },
	{ form_valid_slack_id, "slack_id", "t1dc2jh3j", 0 },
	{ form_valid_slack_id, "slack_id", "T1DC 2JH3J", 0 },
	{ form_valid_slack_id, "slack_id", "T1-DC", 0 },
	{ form_valid_slack_id, "slack_id", "T1DC'", 0 },
	{ form_valid_token, "token", "abcXYZ019-_", 1 },
	{ form_valid_token, "token", "a", 1 },
	{ form_valid_token, "token", "", 0 },
	{ form_valid_token, "token", "abc=", 0 },
	{ form_valid_token, "token", "ab+c", 0 },
	{ form_valid_token, "token", "ab/c", 0 },
	{ form_valid_token, "token", "ab.c", 0 },
	{ form_valid_token, "token", "ab c", 0 },
	{ form_valid_https_url, "https_url", "https://hooks.slack.com/x", 1 },
	{ form_valid_https_url, "https_url", "https://h", 1 },
	{ form_valid_https_url, "https_url", "https://h:8443/a?b=c#d", 1 },
	{ form_valid_https_url, "https_url",
	    "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/"
	    "96rGlfmibIGlgcZRskXaIFfN", 1 },
	{ form_valid_https_url, "https_url", "http://hooks.slack.com/", 0 },
	{ form_valid_https_url, "https_url", "HTTPS://h/", 0 },
	{ form_valid_https_url, "https_url", "https://", 0 },
	{ form_valid_https_url, "https_url", "https:///path", 0 },
	{ form_valid_https_url, "https_url", "https://?q", 0 },
	{ form_valid_https_url, "https_url", "https://:443/", 0 },
	{ form_valid_https_url, "https_url", "https://a@evil.example/", 0 },
	{ form_valid_https_url, "https_url", "https://h/a b", 0 },
	{ form_valid_https_url, "https_url", "https://h/\"x", 0 },
	{ form_valid_https_url, "https_url", "https://h/<x>", 0 },
	{ form_valid_https_url, "https_url", "https://h/a\\b", 0 },
	{ form_valid_https_url, "https_url", "https://h/\r\nX: y", 0 },
	{ form_valid_https_url, "https_url", "https://h/\xc3\xa9", 0 },
	{ form_valid_https_url, "https_url", " https://h/", 0 },
	{ form_valid_printable, "printable", "Hello, world ~!", 1 },
	{ form_valid_printable, "printable", "", 1 },
	{ form_valid_printable, "printable", "tab\there", 0 },
	{ form_valid_printable, "printable", "\xc3\xa9", 0 },
	{ form_valid_printable, "printable", "del\x7f", 0 },
};

START_TEST(test_validators_table)
{
	ck_assert_msg(valid_cases[_i].fn(valid_cases[_i].in,
	    strlen(valid_cases[_i].in)) == valid_cases[_i].ok,
	    "form_valid_%s(\"%s\") != %d", valid_cases[_i].name,
	    valid_cases[_i].in, valid_cases[_i].ok);
}
END_TEST

START_TEST(test_validators_use_len)
{
	/* The length, not the terminator, bounds what is checked. */
	ck_assert_int_eq(form_valid_slack_id("T1x", 2), 1);
	ck_assert_int_eq(form_valid_token("ab=", 2), 1);
	ck_assert_int_eq(form_valid_utf8("a\x01", 1), 1);
	ck_assert_int_eq(form_utf8_ok("\xc3\xa9", 1), 0);
}
END_TEST

START_TEST(test_valid_token_length)
{
	char	 s[130];

	memset(s, 'a', sizeof(s));
	ck_assert_int_eq(form_valid_token(s, 128), 1);
	ck_assert_int_eq(form_valid_token(s, 129), 0);
}
END_TEST

static const struct {
	const char	*header;
	const char	*name;
	size_t		 outsz;
	int		 rc;
	const char	*want;
} cookie_cases[] = {
	{ "fl_state=abc", "fl_state", 64, 0, "abc" },
	{ "a=1; fl_state=abc; b=2", "fl_state", 64, 0, "abc" },
	{ "a=1;fl_state=abc;b=2", "fl_state", 64, 0, "abc" },
	{ "  a=1 ;\tfl_state = abc ; b=2", "fl_state", 64, 0, "abc" },
	{ "fl_state=\"abc\"", "fl_state", 64, 0, "abc" },
	{ "fl_state=", "fl_state", 64, 0, "" },
	{ "fl_state=a=b", "fl_state", 64, 0, "a=b" },
	{ "xfl_state=1; fl_state=2", "fl_state", 64, 0, "2" },
	{ "fl_state=abc", "fl_state", 4, 0, "abc" },
	{ "junk; fl_state=abc", "fl_state", 64, 0, "abc" },
	/* Failure cases. */
	{ "fl_state=abc", "fl_state", 3, -1, NULL },
	{ "a=1; b=2", "fl_state", 64, -1, NULL },
	{ "", "fl_state", 64, -1, NULL },
	{ "fl_state=1; fl_state=2", "fl_state", 64, -1, NULL },
	{ "fl_state=1; fl_state=1", "fl_state", 64, -1, NULL },
	{ "FL_STATE=abc", "fl_state", 64, -1, NULL },
	{ "fl_statex=abc", "fl_state", 64, -1, NULL },
	{ "fl_state", "fl_state", 64, -1, NULL },
	{ "fl_state=abc", "", 64, -1, NULL },
};

START_TEST(test_cookie_table)
{
	char	 out[64];
	int	 rc;

	strcpy(out, "untouched");
	rc = form_cookie(cookie_cases[_i].header, cookie_cases[_i].name, out,
	    cookie_cases[_i].outsz);
	ck_assert_msg(rc == cookie_cases[_i].rc, "\"%s\": rc %d",
	    cookie_cases[_i].header, rc);
	if (rc == 0)
		ck_assert_str_eq(out, cookie_cases[_i].want);
}
END_TEST

START_TEST(test_cookie_null_fails)
{
	char	 out[8];

	ck_assert_int_eq(form_cookie(NULL, "a", out, sizeof(out)), -1);
	ck_assert_int_eq(form_cookie("a=1", NULL, out, sizeof(out)), -1);
	ck_assert_int_eq(form_cookie("a=1", "a", out, 0), -1);
}
END_TEST

static const struct {
	const char	*in;
	const char	*want;
} urlenc_cases[] = {
	{ "", "" },
	{ "AZaz09-._~", "AZaz09-._~" },
	{ "a b", "a%20b" },
	{ "a+b&c=d", "a%2Bb%26c%3Dd" },
	{ "https://h/p?q", "https%3A%2F%2Fh%2Fp%3Fq" },
	{ "caf\xc3\xa9", "caf%C3%A9" },
	{ "%\n\x7f\xff", "%25%0A%7F%FF" },
	{ "SELECT Id FROM Contact WHERE Name LIKE '%a\\_b%'",
	    "SELECT%20Id%20FROM%20Contact%20WHERE%20Name%20LIKE%20%27%25a%5C_b"
	    "%25%27" },
};

START_TEST(test_urlencode_table)
{
	struct buf	 b;

	buf_init(&b, 1024);
	ck_assert_int_eq(form_urlencode(&b, urlenc_cases[_i].in), 0);
	ck_assert_str_eq(buf_cstr(&b), urlenc_cases[_i].want);
	buf_free(&b);
}
END_TEST

/* SOQL in q=: decoded as a form value ('+' a space, %XX a byte), each
 * gives the statement back. */
static const struct {
	const char	*in;
	const char	*want;
} soqlenc_cases[] = {
	{ "", "" },
	{ "a b", "a+b" },
	{ "a+b&c=d", "a%2Bb%26c%3Dd" },
	{ "Id, Name", "Id,+Name" },
	{ "LIKE '%O\\'Brien%'", "LIKE+'%25O%5C'Brien%25'" },
	{ "#;/?:@()*!$", "%23%3B%2F%3F%3A%40%28%29%2A%21%24" },
	{ "caf\xc3\xa9\n\t", "caf%C3%A9%0A%09" },
};

/* Decodes a form value in place. */
static void
form_value_decode(char *s)
{
	char	*w = s;
	int	 hi, lo;

	for (; *s != '\0'; s++) {
		if (*s == '+')
			*w++ = ' ';
		else if (*s == '%' && (hi = form_hexval(s[1])) != -1 &&
		    (lo = form_hexval(s[2])) != -1) {
			*w++ = (char)(hi << 4 | lo);
			s += 2;
		} else
			*w++ = *s;
	}
	*w = '\0';
}

START_TEST(test_soqlencode_table)
{
	struct buf	 b;
	char		*d;

	buf_init(&b, 1024);
	ck_assert_int_eq(form_soqlencode(&b, soqlenc_cases[_i].in), 0);
	ck_assert_str_eq(buf_cstr(&b), soqlenc_cases[_i].want);
	d = strdup(buf_cstr(&b));
	ck_assert_ptr_nonnull(d);
	form_value_decode(d);
	ck_assert_str_eq(d, soqlenc_cases[_i].in);
	free(d);
	buf_free(&b);
}
END_TEST

START_TEST(test_urlencode_ceiling_fails)
{
	struct buf	 b;

	buf_init(&b, 5);
	ck_assert_int_eq(form_urlencode(&b, "ab c"), -1);
	buf_free(&b);
	buf_init(&b, 6);
	ck_assert_int_eq(form_urlencode(&b, "ab c"), 0);
	ck_assert_str_eq(buf_cstr(&b), "ab%20c");
	buf_free(&b);
}
END_TEST

/*
 * The slash command's text (fields_text_check), counted in characters:
 * each case is named; rep repeats unit rep times (0: unit as it is).
 */
static const struct {
	const char		*name;
	const char		*unit;
	size_t			 rep;
	enum fields_text	 want;
} text_cases[] = {
	{ "empty", "", 0, FIELDS_TEXT_OK },
	{ "a name", "smith", 0, FIELDS_TEXT_OK },
	{ "accents and CJK", "Jos\xc3\xa9 \xe5\xb1\xb1\xe7\x94\xb0", 0,
	    FIELDS_TEXT_OK },
	{ "emoji (4 bytes)", "\xf0\x9f\x98\x80", 0, FIELDS_TEXT_OK },
	{ "255 ASCII", "a", FIELDS_TEXT_CHARS, FIELDS_TEXT_OK },
	{ "256 ASCII", "a", FIELDS_TEXT_CHARS + 1, FIELDS_TEXT_TOO_LONG },
	/* 765 bytes but 255 characters: the limit is not in bytes. */
	{ "255 CJK", "\xe5\xb1\xb1", FIELDS_TEXT_CHARS, FIELDS_TEXT_OK },
	{ "256 CJK", "\xe5\xb1\xb1", FIELDS_TEXT_CHARS + 1,
	    FIELDS_TEXT_TOO_LONG },
	{ "255 emoji", "\xf0\x9f\x98\x80", FIELDS_TEXT_CHARS,
	    FIELDS_TEXT_OK },
	{ "2000 CJK", "\xe5\xb1\xb1", 2000, FIELDS_TEXT_TOO_LONG },
	{ "tab", "a\tb", 0, FIELDS_TEXT_CONTROL },
	{ "line break", "a\nb", 0, FIELDS_TEXT_CONTROL },
	{ "carriage return", "a\rb", 0, FIELDS_TEXT_CONTROL },
	{ "escape", "a\x1b" "[31mb", 0, FIELDS_TEXT_CONTROL },
	{ "bell", "\x07", 0, FIELDS_TEXT_CONTROL },
	{ "DEL", "a\x7f", 0, FIELDS_TEXT_CONTROL },
	{ "C1 control", "a\xc2\x85" "b", 0, FIELDS_TEXT_CONTROL },
	{ "NBSP is text", "a\xc2\xa0" "b", 0, FIELDS_TEXT_OK },
	{ "bad lead byte", "\xff", 0, FIELDS_TEXT_BAD_UTF8 },
	{ "lone continuation", "a\x80", 0, FIELDS_TEXT_BAD_UTF8 },
	{ "truncated sequence", "\xc3(", 0, FIELDS_TEXT_BAD_UTF8 },
	{ "overlong slash", "\xc0\xaf", 0, FIELDS_TEXT_BAD_UTF8 },
	{ "surrogate", "\xed\xa0\x80", 0, FIELDS_TEXT_BAD_UTF8 },
	{ "past U+10FFFF", "\xf4\x90\x80\x80", 0, FIELDS_TEXT_BAD_UTF8 },
	{ "bad UTF-8 and too long", "\xff", 300, FIELDS_TEXT_BAD_UTF8 },
	{ "control and too long", "\t", 300, FIELDS_TEXT_CONTROL },
};

START_TEST(test_text_table)
{
	struct buf	 b;
	size_t		 i, n;

	buf_init(&b, 64 * 1024);
	n = text_cases[_i].rep == 0 ? 1 : text_cases[_i].rep;
	for (i = 0; i < n; i++)
		ck_assert_int_eq(buf_append(&b, text_cases[_i].unit,
		    strlen(text_cases[_i].unit)), 0);
	ck_assert_msg(fields_text_check(buf_cstr(&b), b.len) ==
	    text_cases[_i].want, "%s: got %s, want %s", text_cases[_i].name,
	    fields_text_str(fields_text_check(buf_cstr(&b), b.len)),
	    fields_text_str(text_cases[_i].want));
	buf_free(&b);
}
END_TEST

START_TEST(test_result_str)
{
	ck_assert_str_eq(form_result_str(FORM_OK), "ok");
	ck_assert_str_eq(form_result_str(FORM_BAD_ENCODING),
	    "malformed encoding");
	ck_assert_str_eq(form_result_str(FORM_DUPLICATE), "duplicate field");
	ck_assert_str_eq(form_result_str((enum form_result)99), "unknown");
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("form");
	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse_table, 0, NELEM(parse_cases));
	tcase_add_test(tc, test_parse_raw_nul_fails);
	tcase_add_test(tc, test_parse_respects_len);
	tcase_add_test(tc, test_parse_max_pairs);
	tcase_add_test(tc, test_parse_too_many_pairs_fails);
	tcase_add_test(tc, test_get);
	suite_add_tcase(s, tc);
	tc = tcase_create("validate");
	tcase_add_loop_test(tc, test_validate_table, 0,
	    NELEM(validate_cases));
	tcase_add_loop_test(tc, test_utf8_table, 0, NELEM(utf8_cases));
	tcase_add_loop_test(tc, test_validators_table, 0,
	    NELEM(valid_cases));
	tcase_add_test(tc, test_validate_fieldmap);
	tcase_add_test(tc, test_parse_fields);
	tcase_add_test(tc, test_fields_tables_complete);
	tcase_add_test(tc, test_validators_use_len);
	tcase_add_test(tc, test_valid_token_length);
	tcase_add_loop_test(tc, test_text_table, 0, NELEM(text_cases));
	suite_add_tcase(s, tc);
	tc = tcase_create("cookie");
	tcase_add_loop_test(tc, test_cookie_table, 0, NELEM(cookie_cases));
	tcase_add_test(tc, test_cookie_null_fails);
	suite_add_tcase(s, tc);
	tc = tcase_create("urlencode");
	tcase_add_loop_test(tc, test_urlencode_table, 0,
	    NELEM(urlenc_cases));
	tcase_add_test(tc, test_urlencode_ceiling_fails);
	tcase_add_loop_test(tc, test_soqlencode_table, 0,
	    sizeof(soqlenc_cases) / sizeof(soqlenc_cases[0]));
	tcase_add_test(tc, test_result_str);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

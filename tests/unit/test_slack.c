/*
 * test_slack: request signature verification (Slack's published vector
 * and every way a request can be wrong), the legacy token, and Slack text
 * escaping (common/slack.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "buf.h"
#include "crypto.h"
#include "slack.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* SPEC section 4: Slack's published example. */
static const char vec_secret[] = "8f742231b10e8888abcd99yyyzzz85a5";
static const char vec_ts[] = "1531420618";
static const time_t vec_now = 1531420618;
static const char vec_body[] = "token=xyzz0WbapA4vBCDEFasx0q6G&"
    "team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&"
    "channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
    "command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2F"
    "hooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F"
    "96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121."
    "803a0bc887a14d10d2c447fce8b6703c";
static const char vec_sig[] =
    "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

/* Signs body the way Slack does, into out ("v0=" + 64 hex + NUL). */
static void
sign(const char *secret, const char *ts, const void *body, size_t len,
    char out[68])
{
	struct buf	 b;
	unsigned char	 mac[32];

	buf_init(&b, 128 * 1024);
	ck_assert_int_eq(buf_printf(&b, "v0:%s:", ts), 0);
	ck_assert_int_eq(buf_append(&b, body, len), 0);
	crypto_hmac_sha256(secret, strlen(secret), b.data, b.len, mac);
	memcpy(out, "v0=", 3);
	crypto_hex(mac, sizeof(mac), out + 3);
	buf_free(&b);
}

static enum slack_verdict
verify_vec(const char *ts, const char *sig, time_t now)
{
	return slack_verify(vec_secret, ts, sig, vec_body,
	    sizeof(vec_body) - 1, now);
}

START_TEST(test_published_vector)
{
	static const int offsets[] = { 0, 1, 5, -5, 60, -60, 299, -299 };
	char		 sig[68];
	size_t		 i;

	for (i = 0; i < NELEM(offsets); i++)
		ck_assert_int_eq(verify_vec(vec_ts, vec_sig,
		    vec_now + offsets[i]), SLACK_OK);
	/* The test's own signer agrees with the vector. */
	sign(vec_secret, vec_ts, vec_body, sizeof(vec_body) - 1, sig);
	ck_assert_str_eq(sig, vec_sig);
}
END_TEST

START_TEST(test_window_edges)
{
	ck_assert_int_eq(verify_vec(vec_ts, vec_sig, vec_now + 300), SLACK_OK);
	ck_assert_int_eq(verify_vec(vec_ts, vec_sig, vec_now - 300), SLACK_OK);
}
END_TEST

START_TEST(test_stale_fails)
{
	ck_assert_int_eq(verify_vec(vec_ts, vec_sig, vec_now + 301),
	    SLACK_STALE);
	ck_assert_int_eq(verify_vec(vec_ts, vec_sig, vec_now - 301),
	    SLACK_STALE);
	ck_assert_int_eq(verify_vec(vec_ts, vec_sig, 0), SLACK_STALE);
	ck_assert_int_eq(verify_vec(vec_ts, vec_sig, vec_now + 86400 * 365),
	    SLACK_STALE);
	/* Stale is decided before the signature is looked at. */
	ck_assert_int_eq(verify_vec(vec_ts, "v0=junk", vec_now + 301),
	    SLACK_STALE);
}
END_TEST

START_TEST(test_wrong_secret_fails)
{
	ck_assert_int_eq(slack_verify("8f742231b10e8888abcd99yyyzzz85a6",
	    vec_ts, vec_sig, vec_body, sizeof(vec_body) - 1, vec_now),
	    SLACK_BAD_SIGNATURE);
	ck_assert_int_eq(slack_verify("8f742231b10e8888abcd99yyyzzz85a",
	    vec_ts, vec_sig, vec_body, sizeof(vec_body) - 1, vec_now),
	    SLACK_BAD_SIGNATURE);
}
END_TEST

START_TEST(test_no_secret_fails)
{
	ck_assert_int_eq(slack_verify(NULL, vec_ts, vec_sig, vec_body,
	    sizeof(vec_body) - 1, vec_now), SLACK_BAD_SIGNATURE);
	ck_assert_int_eq(slack_verify("", vec_ts, vec_sig, vec_body,
	    sizeof(vec_body) - 1, vec_now), SLACK_BAD_SIGNATURE);
}
END_TEST

START_TEST(test_flipped_body_byte_fails)
{
	char	 body[sizeof(vec_body)];
	size_t	 i;

	/* Every single-bit change anywhere in the body must be caught. */
	for (i = 0; i < sizeof(vec_body) - 1; i++) {
		memcpy(body, vec_body, sizeof(body));
		body[i] ^= 0x01;
		ck_assert_msg(slack_verify(vec_secret, vec_ts, vec_sig, body,
		    sizeof(body) - 1, vec_now) == SLACK_BAD_SIGNATURE,
		    "flip at %zu accepted", i);
	}
}
END_TEST

START_TEST(test_length_change_fails)
{
	ck_assert_int_eq(slack_verify(vec_secret, vec_ts, vec_sig, vec_body,
	    sizeof(vec_body) - 2, vec_now), SLACK_BAD_SIGNATURE);
	/* The terminator is not part of the body. */
	ck_assert_int_eq(slack_verify(vec_secret, vec_ts, vec_sig, vec_body,
	    sizeof(vec_body), vec_now), SLACK_BAD_SIGNATURE);
	ck_assert_int_eq(slack_verify(vec_secret, vec_ts, vec_sig, "", 0,
	    vec_now), SLACK_BAD_SIGNATURE);
}
END_TEST

START_TEST(test_reencoded_body_fails)
{
	static const char signed_body[] =
	    "team_id=T1&user_id=U2&text=john+smith&command=%2Fcontact";
	static const char *const reencoded[] = {
		"team_id=T1&user_id=U2&text=john%20smith&command=%2Fcontact",
		"team_id=T1&user_id=U2&text=john smith&command=%2Fcontact",
		"team_id=T1&user_id=U2&text=john+smith&command=/contact",
		"team_id=T1&user_id=U2&text=john+smith&command=%2fcontact",
	};
	char	 sig[68];
	size_t	 i;

	sign(vec_secret, vec_ts, signed_body, strlen(signed_body), sig);
	ck_assert_int_eq(slack_verify(vec_secret, vec_ts, sig, signed_body,
	    strlen(signed_body), vec_now), SLACK_OK);
	for (i = 0; i < NELEM(reencoded); i++)
		ck_assert_int_eq(slack_verify(vec_secret, vec_ts, sig,
		    reencoded[i], strlen(reencoded[i]), vec_now),
		    SLACK_BAD_SIGNATURE);
}
END_TEST

START_TEST(test_raw_bytes_verified)
{
	/* NUL bytes and invalid UTF-8 are hashed as they are. */
	static const char body[] = "text=a\0b\xff\xc0\x80&x=\x80";
	char	 sig[68], other[sizeof(body)];

	sign(vec_secret, vec_ts, body, sizeof(body) - 1, sig);
	ck_assert_int_eq(slack_verify(vec_secret, vec_ts, sig, body,
	    sizeof(body) - 1, vec_now), SLACK_OK);
	memcpy(other, body, sizeof(body));
	other[7] = 'c';		/* after the NUL */
	ck_assert_int_eq(slack_verify(vec_secret, vec_ts, sig, other,
	    sizeof(other) - 1, vec_now), SLACK_BAD_SIGNATURE);
	/* A forged body with invalid UTF-8 is a plain refusal. */
	ck_assert_int_eq(slack_verify(vec_secret, vec_ts, vec_sig, body,
	    sizeof(body) - 1, vec_now), SLACK_BAD_SIGNATURE);
}
END_TEST

START_TEST(test_empty_body)
{
	char	 sig[68];

	sign(vec_secret, vec_ts, "", 0, sig);
	ck_assert_int_eq(slack_verify(vec_secret, vec_ts, sig, "", 0,
	    vec_now), SLACK_OK);
	ck_assert_int_eq(slack_verify(vec_secret, vec_ts, sig, NULL, 0,
	    vec_now), SLACK_OK);
}
END_TEST

START_TEST(test_large_body)
{
	char	 body[SLACK_BODY_MAX], sig[68];

	memset(body, 'x', sizeof(body));
	sign(vec_secret, vec_ts, body, sizeof(body), sig);
	ck_assert_int_eq(slack_verify(vec_secret, vec_ts, sig, body,
	    sizeof(body), vec_now), SLACK_OK);
	body[sizeof(body) - 1] = 'y';
	ck_assert_int_eq(slack_verify(vec_secret, vec_ts, sig, body,
	    sizeof(body), vec_now), SLACK_BAD_SIGNATURE);
}
END_TEST

/* Header failure cases, all against the published body at its time. */
static const struct {
	const char		*ts;
	const char		*sig;
	enum slack_verdict	 want;
} header_cases[] = {
	{ NULL, vec_sig, SLACK_NO_SIGNATURE },
	{ vec_ts, NULL, SLACK_NO_SIGNATURE },
	{ NULL, NULL, SLACK_NO_SIGNATURE },
	{ "", vec_sig, SLACK_NO_SIGNATURE },
	{ vec_ts, "", SLACK_NO_SIGNATURE },
	{ "1531420618 ", vec_sig, SLACK_BAD_TIMESTAMP },
	{ " 1531420618", vec_sig, SLACK_BAD_TIMESTAMP },
	{ "+1531420618", vec_sig, SLACK_BAD_TIMESTAMP },
	{ "-1", vec_sig, SLACK_BAD_TIMESTAMP },
	{ "0x10", vec_sig, SLACK_BAD_TIMESTAMP },
	{ "1e9", vec_sig, SLACK_BAD_TIMESTAMP },
	{ "1531420618.0", vec_sig, SLACK_BAD_TIMESTAMP },
	{ "1531420618\n", vec_sig, SLACK_BAD_TIMESTAMP },
	{ "0001531420618", vec_sig, SLACK_BAD_TIMESTAMP },
	{ "99999999999999999999999", vec_sig, SLACK_BAD_TIMESTAMP },
	{ "999999999999", vec_sig, SLACK_STALE },
	{ "0", vec_sig, SLACK_STALE },
	/* Same instant, but the signature covers the header as sent. */
	{ "001531420618", vec_sig, SLACK_BAD_SIGNATURE },
	{ vec_ts,
	    "v0=A2114D57B48EAC39B9AD189DD8316235A"
	    "7B4A8D21A10BD27519666489C69B503",
	    SLACK_BAD_SIGNATURE },
	{ vec_ts,
	    "v0=A2114d57b48eac39b9ad189dd8316235a"
	    "7b4a8d21a10bd27519666489c69b503",
	    SLACK_BAD_SIGNATURE },
	{ vec_ts,
	    "v0=a2114d57b48eac39b9ad189dd8316235a"
	    "7b4a8d21a10bd27519666489c69b50",
	    SLACK_BAD_SIGNATURE },
	{ vec_ts,
	    "v0=a2114d57b48eac39b9ad189dd8316235a"
	    "7b4a8d21a10bd27519666489c69b5030",
	    SLACK_BAD_SIGNATURE },
	{ vec_ts,
	    "v1=a2114d57b48eac39b9ad189dd8316235a"
	    "7b4a8d21a10bd27519666489c69b503",
	    SLACK_BAD_SIGNATURE },
	{ vec_ts,
	    "V0=a2114d57b48eac39b9ad189dd8316235a"
	    "7b4a8d21a10bd27519666489c69b503",
	    SLACK_BAD_SIGNATURE },
	{ vec_ts,
	    "a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
	    SLACK_BAD_SIGNATURE },
	{ vec_ts,
	    "v0=a2114d57b48eac39b9ad189dd8316235a"
	    "7b4a8d21a10bd27519666489c69b503 ",
	    SLACK_BAD_SIGNATURE },
	{ vec_ts,
	    " v0=a2114d57b48eac39b9ad189dd8316235"
	    "a7b4a8d21a10bd27519666489c69b503",
	    SLACK_BAD_SIGNATURE },
	{ vec_ts,
	    "v0=g2114d57b48eac39b9ad189dd8316235a"
	    "7b4a8d21a10bd27519666489c69b503",
	    SLACK_BAD_SIGNATURE },
	{ vec_ts,
	    "v0=b2114d57b48eac39b9ad189dd8316235a"
	    "7b4a8d21a10bd27519666489c69b503",
	    SLACK_BAD_SIGNATURE },
	{ vec_ts, "v0=", SLACK_BAD_SIGNATURE },
	{ vec_ts, "v0", SLACK_BAD_SIGNATURE },
	{ "1531420619", vec_sig, SLACK_BAD_SIGNATURE },
};

START_TEST(test_header_table)
{
	enum slack_verdict	 v;

	v = verify_vec(header_cases[_i].ts, header_cases[_i].sig, vec_now);
	ck_assert_msg(v == header_cases[_i].want, "case %d (ts \"%s\"): %s",
	    _i, header_cases[_i].ts ? header_cases[_i].ts : "(null)",
	    slack_verdict_str(v));
}
END_TEST

START_TEST(test_verify_token)
{
	ck_assert_int_eq(slack_verify_token("xyzz0WbapA4vBCDEFasx0q6G",
	    "xyzz0WbapA4vBCDEFasx0q6G"), SLACK_OK);
	ck_assert_int_eq(slack_verify_token("xyzz0WbapA4vBCDEFasx0q6G",
	    "xyzz0WbapA4vBCDEFasx0q6g"), SLACK_BAD_TOKEN);
	ck_assert_int_eq(slack_verify_token("xyzz0WbapA4vBCDEFasx0q6G",
	    "xyzz0WbapA4vBCDEFasx0q6"), SLACK_BAD_TOKEN);
	ck_assert_int_eq(slack_verify_token("xyzz0WbapA4vBCDEFasx0q6G",
	    "xyzz0WbapA4vBCDEFasx0q6GG"), SLACK_BAD_TOKEN);
	ck_assert_int_eq(slack_verify_token("xyzz0WbapA4vBCDEFasx0q6G", NULL),
	    SLACK_BAD_TOKEN);
	ck_assert_int_eq(slack_verify_token("xyzz0WbapA4vBCDEFasx0q6G", ""),
	    SLACK_BAD_TOKEN);
	ck_assert_int_eq(slack_verify_token(NULL, NULL), SLACK_BAD_TOKEN);
	ck_assert_int_eq(slack_verify_token("", ""), SLACK_BAD_TOKEN);
}
END_TEST

START_TEST(test_verdict_str)
{
	ck_assert_str_eq(slack_verdict_str(SLACK_OK), "ok");
	ck_assert_str_eq(slack_verdict_str(SLACK_STALE), "stale timestamp");
	ck_assert_str_eq(slack_verdict_str(SLACK_BAD_SIGNATURE),
	    "bad signature");
	ck_assert_str_eq(slack_verdict_str((enum slack_verdict)42),
	    "unknown");
}
END_TEST

static const struct {
	const char	*in;
	const char	*want;
} unescape_cases[] = {
	{ "", "" },
	{ "smith", "smith" },
	{ "AT&amp;T", "AT&T" },
	{ "&lt;b&gt;", "<b>" },
	{ "&amp;lt;", "&lt;" },
	{ "&amp;amp;", "&amp;" },
	{ "&quot;x&quot; &#39;", "&quot;x&quot; &#39;" },
	{ "&AMP; &lt &amp", "&AMP; &lt &amp" },
	{ "&&amp;&", "&&&" },
	{ "&lt;!channel&gt;", "<!channel>" },
	{ "caf\xc3\xa9 &gt; tea", "caf\xc3\xa9 > tea" },
};

START_TEST(test_unescape_table)
{
	char	 out[64];

	memset(out, 'X', sizeof(out));
	slack_unescape(unescape_cases[_i].in, out);
	ck_assert_str_eq(out, unescape_cases[_i].want);
}
END_TEST

START_TEST(test_unescape_in_place)
{
	char	 s[] = "AT&amp;T &lt;3";

	slack_unescape(s, s);
	ck_assert_str_eq(s, "AT&T <3");
}
END_TEST

static const struct {
	const char	*in;
	const char	*want;
} escape_cases[] = {
	{ "", "" },
	{ "Smith", "Smith" },
	{ "AT&T", "AT&amp;T" },
	{ "<!channel> & Co", "&lt;!channel&gt; &amp; Co" },
	{ "<@U123|bob>", "&lt;@U123|bob&gt;" },
	{ "&amp;", "&amp;amp;" },
	{ "\"quotes\" 'stay' *bold* _it_", "\"quotes\" 'stay' *bold* _it_" },
	{ "caf\xc3\xa9 <>", "caf\xc3\xa9 &lt;&gt;" },
};

START_TEST(test_escape_table)
{
	struct buf	 b;

	buf_init(&b, 256);
	ck_assert_int_eq(buf_puts(&b, "["), 0);
	ck_assert_int_eq(slack_escape(&b, escape_cases[_i].in), 0);
	ck_assert_int_eq(buf_puts(&b, "]"), 0);
	ck_assert_uint_eq(b.len, strlen(escape_cases[_i].want) + 2);
	ck_assert_int_eq(strncmp(b.data + 1, escape_cases[_i].want,
	    b.len - 2), 0);
	buf_free(&b);
}
END_TEST

START_TEST(test_escape_ceiling_fails)
{
	struct buf	 b;

	buf_init(&b, 8);
	ck_assert_int_eq(slack_escape(&b, "a&b&c"), -1);
	buf_free(&b);
	buf_init(&b, 8);
	ck_assert_int_eq(slack_escape(&b, "ab&c"), 0);
	ck_assert_str_eq(buf_cstr(&b), "ab&amp;c");
	buf_free(&b);
}
END_TEST

/* A message's mrkdwn as Slack stores it, and the plain text made of it
 * (slack_plain). */
static const struct {
	const char	*in;
	const char	*want;
} plain_cases[] = {
	{ "", "" },
	{ "no markup at all", "no markup at all" },
	{ "Tom &amp; Jerry &lt;3 &gt;_&lt;", "Tom & Jerry <3 >_<" },
	{ "&amp;lt; stays an entity", "&lt; stays an entity" },
	{ "hi <@U0123ABC>!", "hi @U0123ABC!" },
	{ "hi <@U0123ABC|alice>", "hi @alice" },
	{ "in <#C0123|general> and <#C0456>", "in #general and #C0456" },
	{ "<!here> <!channel> <!everyone>", "@here @channel @everyone" },
	{ "<!here|@here> look", "@here look" },
	{ "<!subteam^S0123|@ops> and <!subteam^S0456>", "@ops and @S0456" },
	{ "due <!date^1392734382^{date_num}|2014-02-18>", "due 2014-02-18" },
	{ "see <https://x.example/a?b=1&amp;c=2|the page>",
	    "see the page (https://x.example/a?b=1&c=2)" },
	{ "<https://x.example/>", "https://x.example/" },
	{ "<https://x.example/|https://x.example/>", "https://x.example/" },
	{ "<mailto:a@b.example|a@b.example>", "a@b.example" },
	{ "<mailto:a@b.example>", "a@b.example" },
	{ "<mailto:a@b.example|write to us>",
	    "write to us (a@b.example)" },
	{ "label &lt;b&gt; is text: <https://x.example/|&lt;b&gt;>",
	    "label <b> is text: <b> (https://x.example/)" },
	{ "unclosed < bracket", "unclosed < bracket" },
	{ "a < b <@U1> c", "a < b @U1 c" },
	{ "two <<@U1>", "two <@U1" },
	{ "trailing <", "trailing <" },
	{ "<>", "" },
	{ "<|label>", "label" },
	{ "<@U1|>", "@U1" },
	{ "line one\nline <@U2|bob> two", "line one\nline @bob two" },
	{ "caf\xc3\xa9 <#C1|\xe6\x97\xa5\xe6\x9c\xac>",
	    "caf\xc3\xa9 #\xe6\x97\xa5\xe6\x9c\xac" },
};

START_TEST(test_plain_table)
{
	struct buf	 b;

	buf_init(&b, 4096);
	ck_assert_int_eq(slack_plain(&b, plain_cases[_i].in), 0);
	ck_assert_msg(strcmp(buf_cstr(&b), plain_cases[_i].want) == 0,
	    "%s: got \"%s\" want \"%s\"", plain_cases[_i].in, buf_cstr(&b),
	    plain_cases[_i].want);
	buf_free(&b);
}
END_TEST

/* A "<" whose ">" is further than SLACK_PLAIN_SEQ_MAX bytes is text,
 * and the output never outgrows its ceiling unnoticed. */
START_TEST(test_plain_bounds)
{
	struct buf	 b;
	char		*in;
	size_t		 n = SLACK_PLAIN_SEQ_MAX + 10;

	ck_assert_ptr_nonnull(in = malloc(n + 1));
	in[0] = '<';
	memset(in + 1, 'x', n - 2);
	in[n - 1] = '>';
	in[n] = '\0';
	buf_init(&b, 2 * n);
	ck_assert_int_eq(slack_plain(&b, in), 0);
	ck_assert_str_eq(buf_cstr(&b), in);
	buf_free(&b);
	buf_init(&b, 8);
	ck_assert_int_eq(slack_plain(&b, "<https://x.example/|long label>"),
	    -1);
	buf_free(&b);
	free(in);
}
END_TEST

static const struct {
	const char	*url;
	const char	*label;
	const char	*want;
} link_cases[] = {
	{ "https://x.my.salesforce.com/003A", "Ann Smith",
	    "<https://x.my.salesforce.com/003A|Ann Smith>" },
	{ "https://h/", "<!channel> & Co",
	    "<https://h/|&lt;!channel&gt; &amp; Co>" },
	{ "https://h/a|b>c<d e", "x",
	    "<https://h/a%7Cb%3Ec%3Cd%20e|x>" },
	{ "mailto:a@b.example", "a@b.example",
	    "<mailto:a@b.example|a@b.example>" },
	{ "https://h/?a=1&b=2", "x|y", "<https://h/?a=1&b=2|x|y>" },
	{ "https://h/\r\n\t", "x", "<https://h/%0D%0A%09|x>" },
	{ "https://h/", NULL, "<https://h/>" },
	{ "https://h/", "", "<https://h/>" },
};

START_TEST(test_link_table)
{
	struct buf	 b;

	buf_init(&b, 256);
	ck_assert_int_eq(slack_link(&b, link_cases[_i].url,
	    link_cases[_i].label), 0);
	ck_assert_str_eq(buf_cstr(&b), link_cases[_i].want);
	buf_free(&b);
}
END_TEST

START_TEST(test_link_ceiling_fails)
{
	struct buf	 b;

	buf_init(&b, 10);
	ck_assert_int_eq(slack_link(&b, "https://h/", "label"), -1);
	buf_free(&b);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("slack");
	tc = tcase_create("verify");
	tcase_add_test(tc, test_published_vector);
	tcase_add_test(tc, test_window_edges);
	tcase_add_test(tc, test_stale_fails);
	tcase_add_test(tc, test_wrong_secret_fails);
	tcase_add_test(tc, test_no_secret_fails);
	tcase_add_test(tc, test_flipped_body_byte_fails);
	tcase_add_test(tc, test_length_change_fails);
	tcase_add_test(tc, test_reencoded_body_fails);
	tcase_add_test(tc, test_raw_bytes_verified);
	tcase_add_test(tc, test_empty_body);
	tcase_add_test(tc, test_large_body);
	tcase_add_loop_test(tc, test_header_table, 0, NELEM(header_cases));
	tcase_add_test(tc, test_verify_token);
	tcase_add_test(tc, test_verdict_str);
	suite_add_tcase(s, tc);
	tc = tcase_create("escape");
	tcase_add_loop_test(tc, test_unescape_table, 0,
	    NELEM(unescape_cases));
	tcase_add_test(tc, test_unescape_in_place);
	tcase_add_loop_test(tc, test_escape_table, 0, NELEM(escape_cases));
	tcase_add_test(tc, test_escape_ceiling_fails);
	tcase_add_loop_test(tc, test_plain_table, 0, NELEM(plain_cases));
	tcase_add_test(tc, test_plain_bounds);
	tcase_add_loop_test(tc, test_link_table, 0, NELEM(link_cases));
	tcase_add_test(tc, test_link_ceiling_fails);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

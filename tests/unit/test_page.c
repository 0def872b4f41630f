/*
 * test_page: the HTML pages and redirects (common/page.c): exact
 * headers, status lines, the CSP hash of the inline style, and escaping
 * of hostile values on every page.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <sodium.h>

#include "buf.h"
#include "page.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#define HOSTILE		"<img src=x onerror=alert(1)>\"'&amp;"
#define HOSTILE_ESC \
	"&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;amp;"

/* Returns the bytes between "<style>" and "</style>" as an allocated
 * string, checking there is exactly one style block. */
static char *
style_of(const char *page)
{
	const char	*a, *z;
	char		*s;

	ck_assert_ptr_nonnull(a = strstr(page, "<style>"));
	a += strlen("<style>");
	ck_assert_ptr_nonnull(z = strstr(a, "</style>"));
	ck_assert_ptr_null(strstr(z, "<style"));
	ck_assert_ptr_nonnull(s = strndup(a, (size_t)(z - a)));
	return s;
}

/* Returns "sha256-" + base64(SHA-256(style)) as CSP writes it. */
static void
style_hash(const char *style, char out[128])
{
	unsigned char	 h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const unsigned char *)style, strlen(style));
	strcpy(out, "sha256-");
	sodium_bin2base64(out + 7, 128 - 7, h, sizeof(h),
	    sodium_base64_VARIANT_ORIGINAL);
}

/* Checks the exact head of an HTML page with the given status line and
 * returns a pointer to its body. */
static const char *
assert_page_head(const char *page, const char *status)
{
	struct buf	 want;
	char		*style, hash[128];

	style = style_of(page);
	style_hash(style, hash);
	buf_init(&want, 4096);
	ck_assert_int_eq(buf_printf(&want, "Status: %s\r\n"
	    "Content-Type: text/html; charset=utf-8\r\n"
	    "Cache-Control: no-store\r\n"
	    "Pragma: no-cache\r\n"
	    "Referrer-Policy: no-referrer\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "X-Frame-Options: DENY\r\n"
	    "Content-Security-Policy: default-src 'none'; style-src '%s'; "
	    "img-src 'none'; base-uri 'none'; form-action 'none'; "
	    "frame-ancestors 'none'\r\n\r\n", status, hash), 0);
	ck_assert_int_eq(strncmp(page, want.data, want.len), 0);
	page += want.len;
	buf_free(&want);
	free(style);
	return page;
}

/* Checks what every page body must (and must not) contain. */
static void
assert_page_body(const char *body, const char *title_esc)
{
	char	 t[512];

	ck_assert_int_eq(strncmp(body,
	    "<!doctype html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
	    "content=\"width=device-width, initial-scale=1\">\n<title>", 137),
	    0);
	snprintf(t, sizeof(t), "<title>%s \xc2\xb7 forcelink</title>",
	    title_esc);
	ck_assert_ptr_nonnull(strstr(body, t));
	snprintf(t, sizeof(t), "<h1>%s</h1>", title_esc);
	ck_assert_ptr_nonnull(strstr(body, t));
	ck_assert_ptr_nonnull(strstr(body, "<main class="));
	ck_assert_ptr_nonnull(strstr(body, "<p class=\"brand\">forcelink "));
	ck_assert_str_eq(body + strlen(body) - 24,
	    "</main>\n</body>\n</html>\n");
	/* Self-contained: no script, no external resource, no handlers. */
	ck_assert_ptr_null(strstr(body, "<script"));
	ck_assert_ptr_null(strstr(body, "<img"));
	ck_assert_ptr_null(strstr(body, "<link"));
	ck_assert_ptr_null(strstr(body, "<iframe"));
	ck_assert_ptr_null(strstr(body, "src=\""));
	ck_assert_ptr_null(strstr(body, "href=\""));
	ck_assert_ptr_null(strstr(body, "url("));
	ck_assert_ptr_null(strstr(body, "@import"));
}

/* Checks the frame of an HTML page: the exact head with this status
 * line, and what every body holds, titled title_esc.  Returns the
 * body. */
static const char *
assert_page(const char *page, const char *status, const char *title_esc)
{
	const char	*body;

	body = assert_page_head(page, status);
	assert_page_body(body, title_esc);
	return body;
}

static const struct {
	const char	*in;
	const char	*want;
} escape_cases[] = {
	{ "", "" },
	{ "plain text", "plain text" },
	{ "&", "&amp;" },
	{ "<>", "&lt;&gt;" },
	{ "\"'", "&quot;&#39;" },
	{ "a&amp;b", "a&amp;amp;b" },
	{ "<script>alert('x')</script>",
	    "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" },
	{ "caf\xc3\xa9 `=`", "caf\xc3\xa9 `=`" },
	{ HOSTILE, HOSTILE_ESC },
};

START_TEST(test_escape_table)
{
	struct buf	 b;

	buf_init(&b, 1024);
	ck_assert_int_eq(page_escape(&b, escape_cases[_i].in), 0);
	ck_assert_str_eq(buf_cstr(&b), escape_cases[_i].want);
	buf_free(&b);
}
END_TEST

START_TEST(test_escape_null_and_ceiling)
{
	struct buf	 b;

	buf_init(&b, 6);
	ck_assert_int_eq(page_escape(&b, NULL), 0);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(page_escape(&b, "a\""), -1);
	buf_reset(&b);
	ck_assert_int_eq(page_escape(&b, "a&"), 0);
	ck_assert_str_eq(buf_cstr(&b), "a&amp;");
	buf_free(&b);
}
END_TEST

/* Each test of the "pages" case renders into a fresh pg of 64 KiB. */
static struct buf	 pg;

static void
pg_setup(void)
{
	buf_init(&pg, 64 * 1024);
}

static void
pg_teardown(void)
{
	buf_free(&pg);
}

START_TEST(test_csp_hash_matches_style)
{
	char		*style, hash[128], csp[256];

	ck_assert_int_eq(page_error(&pg, 400, "t", "e"), 0);
	style = style_of(pg.data);
	ck_assert_uint_gt(strlen(style), 100);
	style_hash(style, hash);
	snprintf(csp, sizeof(csp), "style-src '%s';", hash);
	ck_assert_msg(strstr(pg.data, csp) != NULL,
	    "the CSP does not allow the style block; its hash is %s", hash);
	/* The hash is in the header block, not only somewhere in the page. */
	ck_assert(strstr(pg.data, csp) < strstr(pg.data, "\r\n\r\n"));
	free(style);
}
END_TEST

static const struct {
	int		 status;
	const char	*line;
} status_cases[] = {
	{ 400, "400 Bad Request" },
	{ 401, "401 Unauthorized" },
	{ 403, "403 Forbidden" },
	{ 404, "404 Not Found" },
	{ 500, "500 Internal Server Error" },
	{ 502, "502 Bad Gateway" },
	{ 503, "503 Service Unavailable" },
	{ 999, "500 Internal Server Error" },
};

START_TEST(test_error_status_table)
{
	const char	*body;

	ck_assert_int_eq(page_error(&pg, status_cases[_i].status,
	    "Link expired", "This login link was already used."), 0);
	body = assert_page(pg.data, status_cases[_i].line, "Link expired");
	ck_assert_ptr_nonnull(strstr(body, "<main class=\"err\">"));
	ck_assert_ptr_nonnull(strstr(body,
	    "<p>This login link was already used.</p>"));
	ck_assert_ptr_nonnull(strstr(body, "<p class=\"next\"><strong>Next "
	    "step:</strong> Run <code>/contact login</code> in Slack to get a "
	    "new link.</p>"));
}
END_TEST

START_TEST(test_error_hostile)
{
	const char	*body;

	ck_assert_int_eq(page_error(&pg, 400, HOSTILE, HOSTILE "\r\n"), 0);
	body = assert_page(pg.data, "400 Bad Request", HOSTILE_ESC);
	ck_assert_ptr_nonnull(strstr(body, "<p>" HOSTILE_ESC "\r\n</p>"));
	ck_assert_ptr_null(strstr(pg.data, "onerror=alert(1)>"));
}
END_TEST

/* The next step given, with `commands` shown as code; a backquote
 * without a partner stays text; NULL is page_error()'s own. */
static const struct {
	const char	*next;
	const char	*want;
} next_cases[] = {
	{ NULL, "Run <code>/contact login</code> in Slack to get a new "
	    "link." },
	{ "", "" },
	{ "Tell your admin.", "Tell your admin." },
	{ "Run `/contact whoami` or `/contact login`.",
	    "Run <code>/contact whoami</code> or "
	    "<code>/contact login</code>." },
	{ "``", "<code></code>" },
	{ "a ` b", "a ` b" },
	{ "`x` and `y", "<code>x</code> and `y" },
	{ "`<b>&` <i>", "<code>&lt;b&gt;&amp;</code> &lt;i&gt;" },
	{ HOSTILE, HOSTILE_ESC },
};

START_TEST(test_error_next_table)
{
	const char	*body;
	char		 want[512];

	ck_assert_int_eq(page_error_next(&pg, 400, "Login cancelled",
	    "Nothing was linked.", next_cases[_i].next), 0);
	body = assert_page(pg.data, "400 Bad Request", "Login cancelled");
	ck_assert_ptr_nonnull(strstr(body, "<p>Nothing was linked.</p>\n"));
	snprintf(want, sizeof(want), "<p class=\"next\"><strong>Next "
	    "step:</strong> %s</p>\n</main>", next_cases[_i].want);
	ck_assert_ptr_nonnull(strstr(body, want));
}
END_TEST

/* Whichever byte the ceiling falls on, inside a code span or not, the
 * buffer is left as it was. */
START_TEST(test_error_next_ceiling_undone)
{
	struct buf	 b;
	size_t		 n, max;

	buf_init(&b, 64 * 1024);
	ck_assert_int_eq(page_error_next(&b, 400, "t", "e",
	    "Run `/contact login` or `x`."), 0);
	n = b.len;
	buf_free(&b);
	for (max = 4; max < n + 4; max++) {
		buf_init(&b, max);
		ck_assert_int_eq(buf_puts(&b, "kept"), 0);
		ck_assert_int_eq(page_error_next(&b, 400, "t", "e",
		    "Run `/contact login` or `x`."), -1);
		ck_assert_str_eq(buf_cstr(&b), "kept");
		buf_free(&b);
	}
	buf_init(&b, n + 4);
	ck_assert_int_eq(buf_puts(&b, "kept"), 0);
	ck_assert_int_eq(page_error_next(&b, 400, "t", "e",
	    "Run `/contact login` or `x`."), 0);
	buf_free(&b);
}
END_TEST

START_TEST(test_error_ceiling_fails)
{
	struct buf	 b;

	buf_init(&b, 512);
	ck_assert_int_eq(page_error(&b, 400, "t", "e"), -1);
	/* Nothing half-written: req_send_raw() answers a plain 500. */
	ck_assert_uint_eq(b.len, 0);
	buf_free(&b);
}
END_TEST

/* A success page that does not fit leaves what was there before, not a
 * 200 page cut short (found by tests/torture). */
START_TEST(test_linked_ceiling_undone)
{
	struct buf	 b;

	buf_init(&b, 2048);
	ck_assert_int_eq(buf_puts(&b, "kept"), 0);
	ck_assert_int_eq(page_linked(&b, "ann@acme.example",
	    "00D000000000001AAA", "https://acme.my.salesforce.com", "T1",
	    "U1"), -1);
	ck_assert_uint_eq(b.len, 4);
	ck_assert_str_eq(b.data, "kept");
	buf_free(&b);
}
END_TEST

START_TEST(test_linked)
{
	const char	*body;

	ck_assert_int_eq(page_linked(&pg, "ann@acme.example",
	    "00D000000000001AAA", "https://acme.my.salesforce.com",
	    "T1DC2JH3J", "U2CERLKJA"), 0);
	body = assert_page(pg.data, "200 OK", "Linked");
	ck_assert_ptr_nonnull(strstr(body, "<main class=\"ok\">"));
	ck_assert_ptr_nonnull(strstr(body, "<dl>\n"
	    "<dt>Salesforce username</dt><dd>ann@acme.example</dd>\n"
	    "<dt>Salesforce org id</dt><dd>00D000000000001AAA</dd>\n"
	    "<dt>Salesforce instance</dt>"
	    "<dd>https://acme.my.salesforce.com</dd>\n"
	    "<dt>Slack workspace</dt><dd>T1DC2JH3J</dd>\n"
	    "<dt>Slack user</dt><dd>U2CERLKJA</dd>\n</dl>\n"));
	ck_assert_ptr_nonnull(strstr(body, "<p class=\"next\"><strong>Next "
	    "step:</strong> Go back to Slack and run <code>/contact</code> "
	    "followed by a name, for example <code>/contact smith</code>."
	    "</p>"));
	ck_assert_ptr_nonnull(strstr(body, "If this is not you, run "
	    "<code>/contact logout</code> in Slack."));
}
END_TEST

START_TEST(test_linked_hostile)
{
	const char	*body;

	ck_assert_int_eq(page_linked(&pg, HOSTILE "1", HOSTILE "2",
	    HOSTILE "3", HOSTILE "4", HOSTILE "5"), 0);
	body = assert_page(pg.data, "200 OK", "Linked");
	ck_assert_ptr_nonnull(strstr(body, "<dd>" HOSTILE_ESC "1</dd>"));
	ck_assert_ptr_nonnull(strstr(body, "<dd>" HOSTILE_ESC "2</dd>"));
	ck_assert_ptr_nonnull(strstr(body, "<dd>" HOSTILE_ESC "3</dd>"));
	ck_assert_ptr_nonnull(strstr(body, "<dd>" HOSTILE_ESC "4</dd>"));
	ck_assert_ptr_nonnull(strstr(body, "<dd>" HOSTILE_ESC "5</dd>"));
}
END_TEST

START_TEST(test_linked_missing_values)
{
	ck_assert_int_eq(page_linked(&pg, NULL, "", NULL, "T1", "U1"), 0);
	ck_assert_ptr_nonnull(strstr(pg.data,
	    "<dt>Salesforce username</dt><dd>(unknown)</dd>\n"
	    "<dt>Salesforce org id</dt><dd>(unknown)</dd>\n"
	    "<dt>Salesforce instance</dt><dd>(unknown)</dd>\n"));
}
END_TEST

/* --- The success page after a search made before linking ------------- */

#define LQ	"\xe2\x80\x9c"
#define RQ	"\xe2\x80\x9d"
#define ELL	"\xe2\x80\xa6"
#define SENT(q) \
	"<p class=\"next\"><strong>Next step:</strong> Go back to Slack: the " \
	"answer to your search for " LQ q RQ " will be waiting there, where " \
	"you ran it.</p>\n<p class=\"note\">"
#define TOO_OLD(q) \
	"<p class=\"next\"><strong>Next step:</strong> Your search for " LQ q \
	RQ " is too old to be answered in Slack now (Slack takes answers " \
	"only for 30 minutes after a command), so go back to Slack and run " \
	"it again.</p>\n<p class=\"note\">"

static const struct {
	const char		*query;
	enum page_resume	 how;
	const char		*want;
} resume_cases[] = {
	{ "smith", PAGE_RESUME_SENT, SENT("smith") },
	{ "smith", PAGE_RESUME_TOO_OLD, TOO_OLD("smith") },
	{ HOSTILE, PAGE_RESUME_SENT, SENT(HOSTILE_ESC) },
	{ HOSTILE, PAGE_RESUME_TOO_OLD, TOO_OLD(HOSTILE_ESC) },
	{ "AT&T", PAGE_RESUME_SENT, SENT("AT&amp;T") },
	/* Control characters become spaces. */
	{ "a\tb\nc\x7f", PAGE_RESUME_SENT, SENT("a b c ") },
	/* Cut at 100 bytes: 101 a's, then 99 a's and a 2-byte letter that
	 * would end past the cut. */
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", PAGE_RESUME_SENT,
	    SENT("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" ELL) },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9", PAGE_RESUME_SENT,
	    SENT("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" ELL) },
	/* Exactly 100 bytes: kept whole. */
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9", PAGE_RESUME_SENT,
	    SENT("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9") },
};

START_TEST(test_linked_resume_table)
{
	const char	*body;

	ck_assert_int_eq(page_linked_resume(&pg, "ann@acme.example",
	    "00D000000000001AAA", "https://acme.my.salesforce.com",
	    "T1DC2JH3J", "U2CERLKJA", resume_cases[_i].query,
	    resume_cases[_i].how), 0);
	body = assert_page(pg.data, "200 OK", "Linked");
	ck_assert_ptr_nonnull(strstr(body, "<main class=\"ok\">"));
	ck_assert_ptr_nonnull(strstr(body,
	    "<dt>Salesforce username</dt><dd>ann@acme.example</dd>\n"));
	ck_assert_msg(strstr(body, resume_cases[_i].want) != NULL,
	    "want %s in %s", resume_cases[_i].want, body);
	/* One next step, not the plain page's as well. */
	ck_assert_ptr_null(strstr(body, "for example"));
	ck_assert_ptr_nonnull(strstr(body, "If this is not you, run "
	    "<code>/contact logout</code> in Slack."));
}
END_TEST

/* No search, or none to tell about: exactly page_linked()'s page. */
START_TEST(test_linked_resume_none_is_linked)
{
	struct buf	 plain;

	buf_init(&plain, 64 * 1024);
	ck_assert_int_eq(page_linked(&plain, "ann@acme.example", "00D1",
	    "https://acme.my.salesforce.com", "T1", "U1"), 0);
	ck_assert_int_eq(page_linked_resume(&pg, "ann@acme.example", "00D1",
	    "https://acme.my.salesforce.com", "T1", "U1", NULL,
	    PAGE_RESUME_SENT), 0);
	ck_assert_str_eq(pg.data, plain.data);
	buf_reset(&pg);
	ck_assert_int_eq(page_linked_resume(&pg, "ann@acme.example", "00D1",
	    "https://acme.my.salesforce.com", "T1", "U1", "smith",
	    PAGE_RESUME_NONE), 0);
	ck_assert_str_eq(pg.data, plain.data);
	buf_free(&plain);
}
END_TEST

/* The longest search (4000 bytes of "<") cannot push the page past its
 * ceiling: it is cut before it is escaped. */
START_TEST(test_linked_resume_long_query_bounded)
{
	char	*q;

	ck_assert_ptr_nonnull(q = malloc(4001));
	memset(q, '<', 4000);
	q[4000] = '\0';
	ck_assert_int_eq(page_linked_resume(&pg, "a", "b", "c", "d", "e", q,
	    PAGE_RESUME_TOO_OLD), 0);
	ck_assert_ptr_nonnull(strstr(pg.data, LQ "&lt;&lt;"));
	ck_assert_ptr_nonnull(strstr(pg.data, "&lt;" ELL RQ " is too old"));
	ck_assert_ptr_null(strstr(pg.data, "<<"));
	ck_assert_uint_lt(pg.len, 8 * 1024);
	free(q);
}
END_TEST

/* Wherever the ceiling falls, including inside the search's paragraph,
 * what was in the buffer before is all that is left. */
START_TEST(test_linked_resume_ceiling_undone)
{
	struct buf	 b;
	size_t		 n, cap;

	ck_assert_int_eq(page_linked_resume(&pg, "ann@acme.example", "00D1",
	    "https://i.example", "T1", "U1", "sm<ith", PAGE_RESUME_SENT), 0);
	n = pg.len;
	for (cap = n + 3; cap > n - 400; cap--) {
		buf_init(&b, cap);
		ck_assert_int_eq(buf_puts(&b, "kept"), 0);
		ck_assert_int_eq(page_linked_resume(&b, "ann@acme.example",
		    "00D1", "https://i.example", "T1", "U1", "sm<ith",
		    PAGE_RESUME_SENT), -1);
		ck_assert_str_eq(b.data, "kept");
		buf_free(&b);
	}
	buf_init(&b, n + 4);
	ck_assert_int_eq(buf_puts(&b, "kept"), 0);
	ck_assert_int_eq(page_linked_resume(&b, "ann@acme.example", "00D1",
	    "https://i.example", "T1", "U1", "sm<ith", PAGE_RESUME_SENT), 0);
	ck_assert_str_eq(b.data + 4, pg.data);
	buf_free(&b);
}
END_TEST

#define AUTH_URL "https://login.salesforce.com/services/oauth2/authorize" \
	"?response_type=code&client_id=abc&state=xyz"

START_TEST(test_redirect)
{
	struct buf	 b;

	buf_init(&b, 4096);
	ck_assert_int_eq(page_redirect(&b, AUTH_URL, NULL), 0);
	ck_assert_str_eq(buf_cstr(&b), "Status: 302 Found\r\n"
	    "Location: " AUTH_URL "\r\n"
	    "Cache-Control: no-store\r\n"
	    "Referrer-Policy: no-referrer\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "\r\n"
	    "Redirecting.\n");
	buf_free(&b);
}
END_TEST

START_TEST(test_redirect_extra_headers)
{
	struct buf	 b;

	buf_init(&b, 4096);
	ck_assert_int_eq(page_redirect(&b, AUTH_URL,
	    "Set-Cookie: fl_state=abc; Path=/oauth; HttpOnly; Secure; "
	    "SameSite=Lax; Max-Age=600\r\nX-Extra:\tv\r\n"), 0);
	ck_assert_str_eq(buf_cstr(&b), "Status: 302 Found\r\n"
	    "Location: " AUTH_URL "\r\n"
	    "Cache-Control: no-store\r\n"
	    "Referrer-Policy: no-referrer\r\n"
	    "Set-Cookie: fl_state=abc; Path=/oauth; HttpOnly; Secure; "
	    "SameSite=Lax; Max-Age=600\r\n"
	    "X-Extra:\tv\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "\r\n"
	    "Redirecting.\n");
	buf_free(&b);
}
END_TEST

static const struct {
	const char	*url;
	const char	*headers;
} bad_redirect_cases[] = {
	{ "https://h/\r\nSet-Cookie: x=1", NULL },
	{ "https://h/\nX: y", NULL },
	{ "https://h/\r", NULL },
	{ "https://h/\t", NULL },
	{ "https://h/\x7f", NULL },
	{ "", NULL },
	{ NULL, NULL },
	{ "https://h/", "Set-Cookie: a=b" },
	{ "https://h/", "\r\n" },
	{ "https://h/", "X: y\r\n\r\n<html>" },
	{ "https://h/", "X: a\nY: b\r\n" },
	{ "https://h/", "X: a\rY: b\r\n" },
	{ "https://h/", "NoColon\r\n" },
	{ "https://h/", ": v\r\n" },
};

START_TEST(test_redirect_bad_fails)
{
	struct buf	 b;

	buf_init(&b, 4096);
	ck_assert_int_eq(page_redirect(&b, bad_redirect_cases[_i].url,
	    bad_redirect_cases[_i].headers), -1);
	ck_assert_uint_eq(b.len, 0);
	buf_free(&b);
}
END_TEST

START_TEST(test_redirect_ceiling_fails)
{
	struct buf	 b;

	buf_init(&b, 64);
	ck_assert_int_eq(page_redirect(&b, AUTH_URL, NULL), -1);
	buf_free(&b);
}
END_TEST

/* --- Slack app installation ------------------------------------------ */

#define SLACK_AUTH "https://slack.com/oauth/v2/authorize?client_id=1.2" \
	"&scope=commands&state=a\"b<c"
#define SLACK_AUTH_ESC "https://slack.com/oauth/v2/authorize?client_id=1.2" \
	"&amp;scope=commands&amp;state=a&quot;b&lt;c"
#define COOKIE_LINE "Set-Cookie: forcelink_slack_install=abc; Path=/slack/; " \
	"Max-Age=600; HttpOnly; SameSite=Lax\r\n"

/* Checks what an installation page body must not contain, besides the
 * links expected (n of them). */
static void
assert_links(const char *body, int n)
{
	const char	*p = body;
	int		 found = 0;

	while ((p = strstr(p, "href=\"")) != NULL) {
		found++;
		p++;
	}
	ck_assert_int_eq(found, n);
	ck_assert_ptr_null(strstr(body, "<script"));
	ck_assert_ptr_null(strstr(body, "<img"));
	ck_assert_ptr_null(strstr(body, "src=\""));
}

START_TEST(test_install_page)
{
	const char	*body;

	ck_assert_int_eq(page_install(&pg, SLACK_AUTH, COOKIE_LINE), 0);
	/* The cookie first, then the usual head of a page. */
	ck_assert_int_eq(strncmp(pg.data, COOKIE_LINE, strlen(COOKIE_LINE)),
	    0);
	body = assert_page_head(pg.data + strlen(COOKIE_LINE), "200 OK");
	ck_assert_ptr_nonnull(strstr(body, "<h1>Add forcelink to Slack</h1>"));
	ck_assert_ptr_nonnull(strstr(body, "<a href=\"" SLACK_AUTH_ESC
	    "\">Add to Slack</a>"));
	ck_assert_ptr_nonnull(strstr(body, "in this browser only"));
	assert_links(body, 1);
	ck_assert_str_eq(body + strlen(body) - 24,
	    "</main>\n</body>\n</html>\n");
}
END_TEST

START_TEST(test_install_page_bad_fails)
{
	ck_assert_int_eq(buf_puts(&pg, "kept"), 0);
	ck_assert_int_eq(page_install(&pg, "https://x/\r\nSet-Cookie: a=b",
	    NULL), -1);
	ck_assert_int_eq(page_install(&pg, NULL, NULL), -1);
	ck_assert_int_eq(page_install(&pg, SLACK_AUTH, "Set-Cookie: a=b"),
	    -1);
	ck_assert_int_eq(page_install(&pg, SLACK_AUTH,
	    "Set-Cookie: a=b\r\n\r\n<html>"), -1);
	ck_assert_str_eq(pg.data, "kept");
}
END_TEST

START_TEST(test_installed_workspace)
{
	const struct page_installed	 in = {
		.team_id = "T0E2E0001", .team_name = HOSTILE,
		.app_id = "A0APP1",
	};
	const char			*body;

	ck_assert_int_eq(page_installed(&pg, &in), 0);
	body = assert_page(pg.data, "200 OK", "Installed");
	ck_assert_ptr_nonnull(strstr(body, "installed in the Slack workspace "
	    "<strong>" HOSTILE_ESC "</strong>."));
	ck_assert_ptr_nonnull(strstr(body, "<dl>\n"
	    "<dt>Slack workspace</dt><dd>" HOSTILE_ESC "</dd>\n"
	    "<dt>Workspace id</dt><dd>T0E2E0001</dd>\n"
	    "<dt>Slack app id</dt><dd>A0APP1</dd>\n</dl>\n"));
	ck_assert_ptr_nonnull(strstr(body, "run <code>/contact login</code> "
	    "to link your Salesforce account"));
	ck_assert_ptr_null(strstr(body, "replaces"));
}
END_TEST

START_TEST(test_installed_org_wide)
{
	const struct page_installed	 in = {
		.org_wide = 1, .replaced = 1, .enterprise_id = "E0GRID0001",
		.enterprise_name = "Grid <Org> & Co", .app_id = "A0APP1",
	};
	const char			*body;

	ck_assert_int_eq(page_installed(&pg, &in), 0);
	body = assert_page_head(pg.data, "200 OK");
	ck_assert_ptr_nonnull(strstr(body, "for every workspace of the "
	    "Enterprise Grid organization <strong>Grid &lt;Org&gt; &amp; Co"
	    "</strong>."));
	ck_assert_ptr_nonnull(strstr(body, "<dl>\n"
	    "<dt>Enterprise</dt><dd>Grid &lt;Org&gt; &amp; Co</dd>\n"
	    "<dt>Enterprise id</dt><dd>E0GRID0001</dd>\n"
	    "<dt>Slack app id</dt><dd>A0APP1</dd>\n</dl>\n"));
	ck_assert_ptr_nonnull(strstr(body, "<a href=\"https://app.slack.com/"
	    "manage/E0GRID0001/integrations/profile/A0APP1/workspaces/add\">"));
	ck_assert_ptr_nonnull(strstr(body, "This replaces the earlier "
	    "installation"));
	ck_assert_ptr_null(strstr(body, "Workspace id"));
	assert_links(body, 1);
}
END_TEST

START_TEST(test_installed_ceiling_undone)
{
	const struct page_installed	 in = {
		.team_id = "T1", .team_name = "n", .app_id = "A1",
	};
	struct buf			 b;

	buf_init(&b, 2048);
	ck_assert_int_eq(buf_puts(&b, "kept"), 0);
	ck_assert_int_eq(page_installed(&b, &in), -1);
	ck_assert_str_eq(b.data, "kept");
	ck_assert_int_eq(page_install(&b, SLACK_AUTH, COOKIE_LINE), -1);
	ck_assert_str_eq(b.data, "kept");
	buf_free(&b);
}
END_TEST

#define HSTS	"Strict-Transport-Security: max-age=31536000\r\n"

/* Returns the header block of an answer (up to the empty line). */
static char *
head_of(const char *page)
{
	const char	*end;

	ck_assert_ptr_nonnull(end = strstr(page, "\r\n\r\n"));
	return strndup(page, (size_t)(end - page) + 2);
}

/* With an https public URL every HTML page tells the browser to use
 * https only, for a year; with http (a local demo) none does, since the
 * header would be ignored or, worse, pin a name that serves no TLS. */
START_TEST(test_hsts_with_https)
{
	struct buf	 b;
	char		*h;

	page_set_hsts(1);
	buf_init(&b, 64 * 1024);
	ck_assert_int_eq(page_error(&b, 400, "Link expired", "x"), 0);
	h = head_of(buf_cstr(&b));
	ck_assert_ptr_nonnull(strstr(h, "\r\n" HSTS));
	ck_assert_ptr_null(strstr(strstr(h, HSTS) + 1, "Strict-Transport"));
	free(h);
	buf_reset(&b);
	ck_assert_int_eq(page_linked(&b, "a@example.com", "00D", "https://i",
	    "T1", "U1"), 0);
	h = head_of(buf_cstr(&b));
	ck_assert_ptr_nonnull(strstr(h, HSTS));
	free(h);
	buf_reset(&b);
	ck_assert_int_eq(page_install(&b, AUTH_URL, NULL), 0);
	h = head_of(buf_cstr(&b));
	ck_assert_ptr_nonnull(strstr(h, HSTS));
	free(h);
	page_set_hsts(0);
	buf_free(&b);
}
END_TEST

START_TEST(test_hsts_not_with_http)
{
	struct buf	 b;

	page_set_hsts(0);
	buf_init(&b, 64 * 1024);
	ck_assert_int_eq(page_error(&b, 400, "Link expired", "x"), 0);
	ck_assert_ptr_null(strstr(buf_cstr(&b), "Strict-Transport"));
	assert_page(buf_cstr(&b), "400 Bad Request", "Link expired");
	buf_free(&b);
}
END_TEST

/* --- The login link's page and the code page (issue 11) --------------- */

#define CSRF_LINE "Set-Cookie: forcelink_csrf=abc; Path=/oauth/; " \
	"Max-Age=600; HttpOnly; SameSite=Lax\r\n"
#define START_ACTION	"https://fl.example.com/oauth/start"
#define START_TO	"https://login.salesforce.com"

static struct page_start
start_in(void)
{
	struct page_start	 ps;

	memset(&ps, 0, sizeof(ps));
	ps.who = (struct page_who){ "T0E2E0001", "U0E2E0001", "acme",
	    "alice" };
	ps.action = START_ACTION;
	ps.state = "NONCE-nonce_0123";
	ps.csrf = "00ff";
	ps.form_to = START_TO;
	return ps;
}

/* The head of a page with a form: the usual, except that form-action
 * allows this site and the origin the form's redirect goes to. */
static const char *
assert_form_head(const char *page, const char *to)
{
	char		*style, hash[128], want[1024];
	const char	*end;

	style = style_of(page);
	style_hash(style, hash);
	snprintf(want, sizeof(want), "Content-Security-Policy: default-src "
	    "'none'; style-src '%s'; img-src 'none'; base-uri 'none'; "
	    "form-action 'self' %s; frame-ancestors 'none'\r\n\r\n", hash,
	    to);
	free(style);
	ck_assert_int_eq(strncmp(page, "Status: 200 OK\r\n", 16), 0);
	ck_assert_ptr_nonnull(strstr(page, "Cache-Control: no-store\r\n"));
	ck_assert_ptr_nonnull(strstr(page, "Referrer-Policy: no-referrer\r\n"));
	ck_assert_ptr_nonnull(strstr(page, "X-Frame-Options: DENY\r\n"));
	ck_assert_ptr_nonnull(end = strstr(page, want));
	return end + strlen(want);
}

START_TEST(test_start_page)
{
	struct page_start	 ps = start_in();
	const char		*body;

	ck_assert_int_eq(page_start(&pg, &ps, CSRF_LINE), 0);
	ck_assert_int_eq(strncmp(pg.data, CSRF_LINE, strlen(CSRF_LINE)), 0);
	body = assert_form_head(pg.data + strlen(CSRF_LINE), START_TO);
	assert_page_body(body, "Link your Salesforce account");
	ck_assert_ptr_nonnull(strstr(body, "<p>This login link was made for "
	    "<strong>@alice (U0E2E0001)</strong> in the Slack workspace "
	    "<strong>acme (T0E2E0001)</strong>.</p>"));
	ck_assert_ptr_nonnull(strstr(body, "<form method=\"post\" action=\""
	    START_ACTION "\">\n<input type=\"hidden\" name=\"state\" "
	    "value=\"NONCE-nonce_0123\">\n<input type=\"hidden\" "
	    "name=\"csrf\" value=\"00ff\">\n<button type=\"submit\">"
	    "Continue</button>\n</form>"));
	ck_assert_ptr_nonnull(strstr(body, "If you are not this Slack user, "
	    "close this page"));
}
END_TEST

/* What the page says comes next, by mode. */
static const struct {
	const char	*name;
	int		 slack_first, code;
	int		 says_slack, says_code;
} start_mode_cases[] = {
	{ "salesforce only (email)", 0, 0, 0, 0 },
	{ "code", 0, 1, 0, 1 },
	{ "slack", 1, 0, 1, 0 },
	{ "slack and code", 1, 1, 1, 1 },
};

START_TEST(test_start_page_modes)
{
	struct page_start	 ps = start_in();

	ps.slack_first = start_mode_cases[_i].slack_first;
	ps.code = start_mode_cases[_i].code;
	ck_assert_int_eq(page_start(&pg, &ps, NULL), 0);
	ck_assert_int_eq(strstr(pg.data, "Slack asks you to sign in first, "
	    "to prove that you are this Slack user") != NULL,
	    start_mode_cases[_i].says_slack);
	ck_assert_int_eq(strstr(pg.data, "Then a code is shown, which you "
	    "type in Slack with <code>/contact confirm</code>: nothing is "
	    "linked before that.") != NULL, start_mode_cases[_i].says_code);
	ck_assert_ptr_nonnull(strstr(pg.data, "Salesforce asks you to log in "
	    "and to allow forcelink."));
}
END_TEST

/* Hostile names, ids and tokens are escaped wherever they appear. */
START_TEST(test_start_page_hostile)
{
	struct page_start	 ps = start_in();
	const char		*body;

	ps.who = (struct page_who){ HOSTILE "T", HOSTILE "U", HOSTILE "d",
	    HOSTILE "n" };
	ps.state = HOSTILE "s";
	ps.csrf = HOSTILE "c";
	ck_assert_int_eq(page_start(&pg, &ps, NULL), 0);
	body = assert_form_head(pg.data, START_TO);
	ck_assert_ptr_nonnull(strstr(body, "<strong>@" HOSTILE_ESC "n ("
	    HOSTILE_ESC "U)</strong> in the Slack workspace <strong>"
	    HOSTILE_ESC "d (" HOSTILE_ESC "T)</strong>"));
	ck_assert_ptr_nonnull(strstr(body, "value=\"" HOSTILE_ESC "s\""));
	ck_assert_ptr_nonnull(strstr(body, "value=\"" HOSTILE_ESC "c\""));
	ck_assert_ptr_null(strstr(body, "<img"));
}
END_TEST

/* Without the names Slack may leave out, the ids alone. */
static const struct {
	const char	*name;
	const char	*domain, *user_name;
	const char	*want;
} start_names_cases[] = {
	{ "both names", "acme", "alice", "<strong>@alice (U1)</strong> in "
	    "the Slack workspace <strong>acme (T1)</strong>" },
	{ "no names (NULL)", NULL, NULL, "<strong>U1</strong> in the Slack "
	    "workspace <strong>T1</strong>" },
	{ "no names (empty)", "", "", "<strong>U1</strong> in the Slack "
	    "workspace <strong>T1</strong>" },
	{ "user name only", NULL, "alice", "<strong>@alice (U1)</strong> in "
	    "the Slack workspace <strong>T1</strong>" },
};

START_TEST(test_start_page_names)
{
	struct page_start	 ps = start_in();

	ps.who = (struct page_who){ "T1", "U1",
	    start_names_cases[_i].domain, start_names_cases[_i].user_name };
	ck_assert_int_eq(page_start(&pg, &ps, NULL), 0);
	ck_assert_msg(strstr(pg.data, start_names_cases[_i].want) != NULL,
	    "%s", start_names_cases[_i].name);
}
END_TEST

/* Refused: an action or header that could split the response; a page
 * past the ceiling.  The buffer is as it was each time. */
START_TEST(test_start_page_fail_undone)
{
	struct page_start	 ps = start_in();
	struct buf		 small;

	ck_assert_int_eq(buf_puts(&pg, "kept"), 0);
	ps.action = "https://x/\r\nSet-Cookie: a=b";
	ck_assert_int_eq(page_start(&pg, &ps, NULL), -1);
	ps = start_in();
	ck_assert_int_eq(page_start(&pg, &ps, "Set-Cookie: a=b"), -1);
	ck_assert_int_eq(page_start(&pg, &ps, "Set-Cookie: a=b\r\n\r\n<x>"),
	    -1);
	ck_assert_str_eq(pg.data, "kept");
	buf_init(&small, 2048);
	ck_assert_int_eq(buf_puts(&small, "kept"), 0);
	ck_assert_int_eq(page_start(&small, &ps, CSRF_LINE), -1);
	ck_assert_uint_eq(small.len, 4);
	buf_free(&small);
}
END_TEST

START_TEST(test_code_page)
{
	const struct page_who	 w = { "T0E2E0001", "U0E2E0001", "acme",
	    "alice" };
	const char		*body;

	ck_assert_int_eq(page_code(&pg, "bob@example.com",
	    "00D000000000001AAA", "https://acme.my.salesforce.com", &w,
	    "ABCDE-12345", NULL), 0);
	body = assert_page(pg.data, "200 OK", "One more step: confirm in "
	    "Slack");
	ck_assert_ptr_nonnull(strstr(body, "<p>Salesforce user <strong>"
	    "bob@example.com</strong> is ready to be linked to <strong>@alice "
	    "(U0E2E0001)</strong> in the Slack workspace <strong>acme "
	    "(T0E2E0001)</strong>, but nothing is linked yet.</p>"));
	ck_assert_ptr_nonnull(strstr(body, "<dt>Slack workspace</dt><dd>acme "
	    "(T0E2E0001)</dd>\n<dt>Slack user</dt><dd>@alice (U0E2E0001)"
	    "</dd>"));
	ck_assert_ptr_nonnull(strstr(body, "<p class=\"code\">ABCDE-12345"
	    "</p>"));
	ck_assert_ptr_nonnull(strstr(body, "<p class=\"next\"><strong>Next "
	    "step:</strong> In Slack, as @alice (U0E2E0001), type <code>"
	    "/contact confirm ABCDE-12345</code> within 10 minutes.</p>"));
	ck_assert_ptr_nonnull(strstr(body, "Never give this code to anyone "
	    "else"));
	/* No search: nothing said about one. */
	ck_assert_ptr_null(strstr(body, "search"));
}
END_TEST

START_TEST(test_code_page_hostile)
{
	const struct page_who	 w = { HOSTILE "T", HOSTILE "U", HOSTILE "d",
	    HOSTILE "n" };
	const char		*body;

	ck_assert_int_eq(page_code_resume(&pg, HOSTILE "1", HOSTILE "2",
	    HOSTILE "3", &w, HOSTILE "c", HOSTILE "q", PAGE_RESUME_SENT), 0);
	body = assert_page(pg.data, "200 OK", "One more step: confirm in "
	    "Slack");
	ck_assert_ptr_nonnull(strstr(body, "<dd>" HOSTILE_ESC "1</dd>"));
	ck_assert_ptr_nonnull(strstr(body, "<dd>" HOSTILE_ESC "2</dd>"));
	ck_assert_ptr_nonnull(strstr(body, "<dd>" HOSTILE_ESC "3</dd>"));
	ck_assert_ptr_nonnull(strstr(body, "<dd>" HOSTILE_ESC "d ("
	    HOSTILE_ESC "T)</dd>"));
	ck_assert_ptr_nonnull(strstr(body, "<dd>@" HOSTILE_ESC "n ("
	    HOSTILE_ESC "U)</dd>"));
	ck_assert_ptr_nonnull(strstr(body, "<p class=\"code\">" HOSTILE_ESC
	    "c</p>"));
	ck_assert_ptr_nonnull(strstr(body, "confirm " HOSTILE_ESC "c</code>"));
	ck_assert_ptr_nonnull(strstr(body, HOSTILE_ESC "q"));
	ck_assert_ptr_null(strstr(body, "<img"));
}
END_TEST

/* What the code page says of a search kept with the login. */
static const struct {
	const char		*name;
	const char		*query;
	enum page_resume	 how;
	const char		*says;		/* NULL: nothing */
} code_resume_cases[] = {
	{ "no search", NULL, PAGE_RESUME_NONE, NULL },
	{ "answered", "smith", PAGE_RESUME_SENT, " Once you have confirmed, "
	    "the answer to your search for" },
	{ "too old", "smith", PAGE_RESUME_TOO_OLD, " is too old to be "
	    "answered in Slack now" },
	{ "dropped", "smith", PAGE_RESUME_NONE, NULL },
};

START_TEST(test_code_page_resume_table)
{
	const struct page_who	 w = { "T1", "U1", NULL, NULL };

	ck_assert_int_eq(page_code_resume(&pg, "bob@example.com", "00D1",
	    "https://x.my.salesforce.com", &w, "ABCDE-12345",
	    code_resume_cases[_i].query, code_resume_cases[_i].how), 0);
	if (code_resume_cases[_i].says == NULL)
		ck_assert_ptr_null(strstr(pg.data, "search for"));
	else {
		ck_assert_ptr_nonnull(strstr(pg.data,
		    code_resume_cases[_i].says));
		ck_assert_ptr_nonnull(strstr(pg.data, "smith"));
	}
}
END_TEST

START_TEST(test_code_page_ceiling_undone)
{
	const struct page_who	 w = { "T1", "U1", "acme", "alice" };
	struct buf		 small;

	buf_init(&small, 2048);
	ck_assert_int_eq(buf_puts(&small, "kept"), 0);
	ck_assert_int_eq(page_code(&small, "bob@example.com", "00D1",
	    "https://x.my.salesforce.com", &w, "ABCDE-12345", NULL), -1);
	ck_assert_uint_eq(small.len, 4);
	ck_assert_str_eq(small.data, "kept");
	buf_free(&small);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("page");
	tc = tcase_create("escape");
	tcase_add_loop_test(tc, test_escape_table, 0, NELEM(escape_cases));
	tcase_add_test(tc, test_escape_null_and_ceiling);
	suite_add_tcase(s, tc);
	tc = tcase_create("pages");
	tcase_add_checked_fixture(tc, pg_setup, pg_teardown);
	tcase_add_test(tc, test_csp_hash_matches_style);
	tcase_add_test(tc, test_hsts_with_https);
	tcase_add_test(tc, test_hsts_not_with_http);
	tcase_add_loop_test(tc, test_error_status_table, 0,
	    NELEM(status_cases));
	tcase_add_test(tc, test_error_hostile);
	tcase_add_loop_test(tc, test_error_next_table, 0, NELEM(next_cases));
	tcase_add_test(tc, test_error_next_ceiling_undone);
	tcase_add_test(tc, test_error_ceiling_fails);
	tcase_add_test(tc, test_linked_ceiling_undone);
	tcase_add_test(tc, test_linked);
	tcase_add_test(tc, test_linked_hostile);
	tcase_add_test(tc, test_linked_missing_values);
	tcase_add_loop_test(tc, test_linked_resume_table, 0,
	    NELEM(resume_cases));
	tcase_add_test(tc, test_linked_resume_none_is_linked);
	tcase_add_test(tc, test_linked_resume_long_query_bounded);
	tcase_add_test(tc, test_linked_resume_ceiling_undone);
	suite_add_tcase(s, tc);
	tc = tcase_create("redirect");
	tcase_add_test(tc, test_redirect);
	tcase_add_test(tc, test_redirect_extra_headers);
	tcase_add_loop_test(tc, test_redirect_bad_fails, 0,
	    NELEM(bad_redirect_cases));
	tcase_add_test(tc, test_redirect_ceiling_fails);
	suite_add_tcase(s, tc);
	tc = tcase_create("install");
	tcase_add_checked_fixture(tc, pg_setup, pg_teardown);
	tcase_add_test(tc, test_install_page);
	tcase_add_test(tc, test_install_page_bad_fails);
	tcase_add_test(tc, test_installed_workspace);
	tcase_add_test(tc, test_installed_org_wide);
	tcase_add_test(tc, test_installed_ceiling_undone);
	suite_add_tcase(s, tc);
	tc = tcase_create("login proof pages");
	tcase_add_checked_fixture(tc, pg_setup, pg_teardown);
	tcase_add_test(tc, test_start_page);
	tcase_add_loop_test(tc, test_start_page_modes, 0,
	    NELEM(start_mode_cases));
	tcase_add_test(tc, test_start_page_hostile);
	tcase_add_loop_test(tc, test_start_page_names, 0,
	    NELEM(start_names_cases));
	tcase_add_test(tc, test_start_page_fail_undone);
	tcase_add_test(tc, test_code_page);
	tcase_add_test(tc, test_code_page_hostile);
	tcase_add_loop_test(tc, test_code_page_resume_table, 0,
	    NELEM(code_resume_cases));
	tcase_add_test(tc, test_code_page_ceiling_undone);
	suite_add_tcase(s, tc);

	return s;
}

#include "check_main.h"

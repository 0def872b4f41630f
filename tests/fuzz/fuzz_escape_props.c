/*
 * fuzz_escape_props: Slack mrkdwn and HTML escaping as properties
 * (slack_escape, slack_link, slack_unescape, page_escape,
 * render_message, render_resumed).
 *
 * The input up to its first NUL is outside text; for slack_link it is
 * the URL and the bytes after the first NUL (up to the next) are the
 * label.  Asserted:
 *  - slack_escape: no raw '<' or '>', every '&' starts &amp; &lt; or
 *    &gt;, and slack_unescape gives back exactly the input;
 *  - slack_link: one link "<URL>" or "<URL|label>" whose URL holds no
 *    space, control byte, '<', '>' or '|', and whose label is escaped as
 *    above and unescapes to the label;
 *  - page_escape: no raw '<', '>', '"' or '\'', every '&' starts one of
 *    the five entities it writes, and decoding them gives back the input;
 *  - render_message: valid JSON in valid UTF-8 within Slack's limits,
 *    whose texts hold no raw '<' or '>' and only those three entities;
 *  - render_resumed, with the input as the search that message answers
 *    (both cut at Slack's limits): the same;
 *  - slack_plain: never longer than its input, valid UTF-8 from valid
 *    UTF-8, and the text slack_escape made of the input gives back
 *    exactly the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "form.h"
#include "fuzz.h"
#include "page.h"
#include "render.h"
#include "slack.h"

static const char *const html_entities[] = {
	"&amp;", "&lt;", "&gt;", "&quot;", "&#39;", NULL
};
static const char html_chars[] = "&<>\"'";

/* Asserts that Slack-escaped text (len bytes) unescapes to want. */
static void
check_unescapes_to(const char *s, size_t len, const char *want)
{
	char	*copy, *out;

	copy = fuzz_strndup((const uint8_t *)s, len);
	if ((out = malloc(len + 1)) == NULL)
		abort();
	slack_unescape(copy, out);
	FUZZ_REQUIRE(strcmp(out, want) == 0);
	free(out);
	free(copy);
}

static void
check_slack_escape(const char *s)
{
	struct buf	 b;

	buf_init(&b, 1024 * 1024);
	FUZZ_REQUIRE(slack_escape(&b, s) == 0);
	FUZZ_REQUIRE(strpbrk(buf_cstr(&b), "<>") == NULL);
	FUZZ_REQUIRE(fuzz_entities_ok(buf_cstr(&b), b.len,
	    fuzz_slack_entities));
	check_unescapes_to(buf_cstr(&b), b.len, s);
	buf_free(&b);
}

static void
check_slack_link(const char *url, const char *label)
{
	struct buf	 b;
	const char	*s, *bar;
	size_t		 i, ulen;

	buf_init(&b, 1024 * 1024);
	FUZZ_REQUIRE(slack_link(&b, url, label) == 0);
	s = buf_cstr(&b);
	FUZZ_REQUIRE(b.len >= 2 && s[0] == '<' && s[b.len - 1] == '>');
	FUZZ_REQUIRE(memchr(s + 1, '<', b.len - 1) == NULL);
	FUZZ_REQUIRE(memchr(s, '>', b.len - 1) == NULL);
	bar = memchr(s, '|', b.len);
	ulen = (size_t)((bar != NULL ? bar : s + b.len - 1) - (s + 1));
	for (i = 1; i <= ulen; i++)
		FUZZ_REQUIRE((unsigned char)s[i] > 0x20 && s[i] != 0x7f);
	if (label == NULL || *label == '\0') {
		FUZZ_REQUIRE(bar == NULL);
	} else {
		FUZZ_REQUIRE(bar != NULL);
		FUZZ_REQUIRE(fuzz_entities_ok(bar + 1,
		    b.len - 2 - ulen - 1, fuzz_slack_entities));
		check_unescapes_to(bar + 1, b.len - 2 - ulen - 1, label);
	}
	buf_free(&b);
}

/* Decodes the five entities page_escape writes; asserts the result is
 * want. */
static void
check_html_decodes_to(const char *s, const char *want)
{
	size_t	 k, el;

	while (*s != '\0') {
		if (*s != '&') {
			FUZZ_REQUIRE(*s == *want);
			s++;
			want++;
			continue;
		}
		for (k = 0; html_entities[k] != NULL; k++) {
			el = strlen(html_entities[k]);
			if (strncmp(s, html_entities[k], el) == 0)
				break;
		}
		FUZZ_REQUIRE(html_entities[k] != NULL);
		FUZZ_REQUIRE(*want == html_chars[k]);
		s += el;
		want++;
	}
	FUZZ_REQUIRE(*want == '\0');
}

static void
check_page_escape(const char *s)
{
	struct buf	 b;

	buf_init(&b, 1024 * 1024);
	FUZZ_REQUIRE(page_escape(&b, s) == 0);
	FUZZ_REQUIRE(strpbrk(buf_cstr(&b), "<>\"'") == NULL);
	FUZZ_REQUIRE(fuzz_entities_ok(buf_cstr(&b), b.len, html_entities));
	check_html_decodes_to(buf_cstr(&b), s);
	buf_free(&b);
}

static void
check_slack_plain(const char *s)
{
	struct buf	 b, e;
	size_t		 len = strlen(s);

	buf_init(&b, 1024 * 1024);
	FUZZ_REQUIRE(slack_plain(&b, s) == 0);
	FUZZ_REQUIRE(b.len <= len);
	if (form_utf8_ok(s, len))
		FUZZ_REQUIRE(form_utf8_ok(buf_cstr(&b), b.len));
	buf_free(&b);
	buf_init(&e, 1024 * 1024);
	buf_init(&b, 1024 * 1024);
	FUZZ_REQUIRE(slack_escape(&e, s) == 0);
	FUZZ_REQUIRE(slack_plain(&b, buf_cstr(&e)) == 0);
	FUZZ_REQUIRE(b.len == len && memcmp(buf_cstr(&b), s, len) == 0);
	buf_free(&b);
	buf_free(&e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*part[2], *msg, *resumed;

	fuzz_split(data, size, part, 2);
	check_slack_escape(part[0]);
	check_slack_link(part[0], part[1]);
	check_page_escape(part[0]);
	check_slack_plain(part[0]);
	msg = render_message(part[0]);
	fuzz_check_message(msg, NULL);
	resumed = render_resumed(msg, part[0]);
	fuzz_check_message(resumed, NULL);
	free(resumed);
	free(msg);
	fuzz_free_parts(part, 2);
	return 0;
}

/*
 * page: the HTML pages and redirects of the login flow (see page.h).
 *
 * A person lands on these pages straight from Salesforce, sometimes after
 * following a link someone else sent, so each page says plainly what
 * happened and what to do next, and the success page names both accounts
 * so that a person linked to the wrong one notices.  The pages carry no
 * script and load nothing: the only style is one fixed inline block,
 * which the Content-Security-Policy allows by its SHA-256 hash and
 * nothing else.  Every value that did not come from this file goes
 * through page_escape().
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "page.h"
#include "req.h"

/*
 * The one stylesheet.  PAGE_STYLE_HASH is base64(SHA-256(PAGE_STYLE));
 * test_page recomputes it from a rendered page, so changing one without
 * the other fails the tests.
 */
#define PAGE_STYLE \
	"body{margin:0;background:#f3f5f8;color:#16191d;" \
	"font:16px/1.55 system-ui,-apple-system,\"Segoe UI\",Roboto," \
	"\"Helvetica Neue\",Arial,sans-serif}" \
	"main{box-sizing:border-box;max-width:36rem;margin:3rem auto;" \
	"padding:2rem 2.25rem;background:#fff;border:1px solid #d9dee5;" \
	"border-radius:12px}" \
	".brand{margin:0 0 1.5rem;font-weight:700;color:#0b5cab;" \
	"letter-spacing:.02em}" \
	".brand span{font-weight:400;color:#4b5563}" \
	"h1{margin:0 0 1rem;font-size:1.6rem;line-height:1.25}" \
	".ok h1{color:#067647}" \
	".err h1{color:#b42318}" \
	"p{margin:0 0 1rem}" \
	"dl{display:grid;grid-template-columns:max-content 1fr;" \
	"gap:.5rem 1.25rem;margin:1.5rem 0;padding:1rem 1.25rem;" \
	"background:#f7f9fb;border-radius:8px}" \
	"dt{color:#4b5563}" \
	"dd{margin:0;font-weight:600;overflow-wrap:anywhere}" \
	".next{padding:.75rem 1rem;background:#eaf2fb;" \
	"border-left:4px solid #0b5cab;border-radius:4px}" \
	".note{color:#4b5563;font-size:.95rem}" \
	"code{font:.95em ui-monospace,SFMono-Regular,Menlo,Consolas," \
	"monospace;background:#eef0f3;padding:.1rem .35rem;" \
	"border-radius:4px}" \
	"button{font:inherit;font-weight:600;color:#fff;background:#0b5cab;" \
	"border:0;border-radius:8px;padding:.7rem 1.5rem;cursor:pointer}" \
	".code{font:700 2rem ui-monospace,SFMono-Regular,Menlo,Consolas," \
	"monospace;letter-spacing:.12em;margin:1.5rem 0;text-align:center}" \
	"@media (max-width:40rem){body{background:#fff}" \
	"main{margin:0;border:0;border-radius:0;padding:1.5rem}" \
	"dl{grid-template-columns:1fr;gap:0}dd+dt{margin-top:.6rem}}"
#define PAGE_STYLE_HASH	"sha256-2UFmktIsYYMqmcJLCoFEU2yjOs1poqSsdkqXzrgHrN0="

#define PAGE_CSP_BASE \
	"default-src 'none'; style-src '" PAGE_STYLE_HASH "'; " \
	"img-src 'none'; base-uri 'none'; "
#define PAGE_CSP_END	"; frame-ancestors 'none'"
#define PAGE_CSP	PAGE_CSP_BASE "form-action 'none'" PAGE_CSP_END

/* Headers of every HTML page, after the status line, but the CSP. */
#define PAGE_HEADERS_BASE \
	"Content-Type: text/html; charset=utf-8\r\n" \
	"Cache-Control: no-store\r\n" \
	"Pragma: no-cache\r\n" \
	"Referrer-Policy: no-referrer\r\n" \
	"X-Content-Type-Options: nosniff\r\n" \
	"X-Frame-Options: DENY\r\n"
#define PAGE_HEADERS \
	PAGE_HEADERS_BASE \
	"Content-Security-Policy: " PAGE_CSP "\r\n" \
	"\r\n"

/* The command people type in Slack, as the pages show it. */
#define PAGE_COMMAND	"/contact"

/* The next step of an error page when the caller names none. */
#define PAGE_NEXT_LOGIN \
	"Run `" PAGE_COMMAND " login` in Slack to get a new link."

/* Appends the n bytes at s HTML-escaped.  Returns 0, or -1. */
static int
page_escape_n(struct buf *b, const char *s, size_t n)
{
	const char	*run, *ent, *end = s + n;

	for (run = s; s < end; s++) {
		switch (*s) {
		case '&':
			ent = "&amp;";
			break;
		case '<':
			ent = "&lt;";
			break;
		case '>':
			ent = "&gt;";
			break;
		case '"':
			ent = "&quot;";
			break;
		case '\'':
			ent = "&#39;";
			break;
		default:
			continue;
		}
		if (buf_append(b, run, (size_t)(s - run)) == -1 ||
		    buf_puts(b, ent) == -1)
			return -1;
		run = s + 1;
	}
	return buf_append(b, run, (size_t)(s - run));
}

int
page_escape(struct buf *b, const char *s)
{
	if (s == NULL)
		return 0;
	return page_escape_n(b, s, strlen(s));
}

/*
 * Appends s HTML-escaped, each `span` between a pair of backquotes as
 * <code>span</code> (a command to type).  A backquote without a partner
 * is text.  Returns 0, or -1.
 */
static int
page_text(struct buf *b, const char *s)
{
	const char	*open, *close;

	while ((open = strchr(s, '`')) != NULL &&
	    (close = strchr(open + 1, '`')) != NULL) {
		if (page_escape_n(b, s, (size_t)(open - s)) == -1 ||
		    buf_puts(b, "<code>") == -1 ||
		    page_escape_n(b, open + 1, (size_t)(close - open - 1)) ==
		    -1 || buf_puts(b, "</code>") == -1)
			return -1;
		s = close + 1;
	}
	return page_escape(b, s);
}

static int	page_open_form(struct buf *, int, const char *, const char *,
		    const char *);

/*
 * Appends the headers and the page up to and including the <h1>; cls is
 * the class of <main> ("ok" or "err").  title is escaped here.
 */
static int
page_open(struct buf *b, int status, const char *cls, const char *title)
{
	return page_open_form(b, status, cls, title, NULL);
}

/*
 * page_open() for a page with a form: with form_to not NULL, the CSP's
 * form-action allows this site and form_to (an origin, which a browser
 * also checks the form's redirect against), else none.
 */
static int
page_open_form(struct buf *b, int status, const char *cls,
    const char *title, const char *form_to)
{
	if ((form_to == NULL ? buf_printf(b, "Status: %s\r\n" PAGE_HEADERS,
	    req_status_line(status)) : buf_printf(b, "Status: %s\r\n"
	    PAGE_HEADERS_BASE "Content-Security-Policy: " PAGE_CSP_BASE
	    "form-action 'self' %s" PAGE_CSP_END "\r\n\r\n",
	    req_status_line(status),
	    form_to)) == -1 ||
	    buf_puts(b, "<!doctype html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" "
	    "content=\"width=device-width, initial-scale=1\">\n"
	    "<title>") == -1 ||
	    page_escape(b, title) == -1 ||
	    buf_puts(b, " \xc2\xb7 forcelink</title>\n<style>" PAGE_STYLE
	    "</style>\n</head>\n<body>\n") == -1 ||
	    buf_printf(b, "<main class=\"%s\">\n", cls) == -1 ||
	    buf_puts(b, "<p class=\"brand\">forcelink "
	    "<span>Salesforce for Slack</span></p>\n<h1>") == -1 ||
	    page_escape(b, title) == -1 ||
	    buf_puts(b, "</h1>\n") == -1)
		return -1;
	return 0;
}

/* Appends the end of the page. */
static int
page_close(struct buf *b)
{
	return buf_puts(b, "</main>\n</body>\n</html>\n");
}

/*
 * Undoes a page that could not be finished: b goes back to its first mark
 * bytes, so that no half page (a status line and headers, or a success
 * page cut short) is ever sent; req_send_raw() answers an empty buffer
 * with a plain 500.  Returns -1.
 */
static int
page_fail(struct buf *b, size_t mark)
{
	if (b->data != NULL) {
		b->len = mark;
		b->data[mark] = '\0';
	}
	return -1;
}

int
page_error(struct buf *b, int status, const char *title,
    const char *explanation)
{
	return page_error_next(b, status, title, explanation, NULL);
}

int
page_error_next(struct buf *b, int status, const char *title,
    const char *explanation, const char *next)
{
	size_t	 mark = b->len;

	if (page_open(b, status, "err", title) == -1 ||
	    buf_puts(b, "<p>") == -1 ||
	    page_escape(b, explanation) == -1 ||
	    buf_puts(b, "</p>\n<p class=\"next\">"
	    "<strong>Next step:</strong> ") == -1 ||
	    page_text(b, next != NULL ? next : PAGE_NEXT_LOGIN) == -1 ||
	    buf_puts(b, "</p>\n") == -1 ||
	    page_close(b) == -1)
		return page_fail(b, mark);
	return 0;
}

/* Appends one "<dt>name</dt><dd>value</dd>" row, value escaped. */
static int
page_row(struct buf *b, const char *name, const char *value)
{
	if (buf_printf(b, "<dt>%s</dt><dd>", name) == -1 ||
	    page_escape(b, value != NULL && *value != '\0' ? value :
	    "(unknown)") == -1)
		return -1;
	return buf_puts(b, "</dd>\n");
}

static int	page_resume_next(struct buf *, const char *,
		    enum page_resume);
static int	page_query(struct buf *, const char *);
static int	page_header_safe(const char *);
static int	page_lines_ok(const char *);


int
page_linked(struct buf *b, const char *sf_username, const char *sf_org_id,
    const char *instance_url, const char *slack_team_id,
    const char *slack_user_id)
{
	return page_linked_resume(b, sf_username, sf_org_id, instance_url,
	    slack_team_id, slack_user_id, NULL, PAGE_RESUME_NONE);
}

int
page_linked_resume(struct buf *b, const char *sf_username,
    const char *sf_org_id, const char *instance_url,
    const char *slack_team_id, const char *slack_user_id, const char *query,
    enum page_resume how)
{
	const struct page_who	 who = { slack_team_id, slack_user_id, NULL,
	    NULL };

	return page_linked_who(b, sf_username, sf_org_id, instance_url, &who,
	    query, how);
}

/* --- Names of the Slack user (issue 11) ------------------------------- */

/* Longest value page_who_* writes: a name, an id, and their marks. */
#define PAGE_WHO_MAX	(256 + 64)

/* The Slack user as people know them: "@name (U…)", or the id alone
 * when no name is known. */
static void
page_who_user(const struct page_who *w, char out[PAGE_WHO_MAX])
{
	if (w->user_name != NULL && *w->user_name != '\0')
		snprintf(out, PAGE_WHO_MAX, "@%.256s (%s)", w->user_name,
		    w->user_id);
	else
		snprintf(out, PAGE_WHO_MAX, "%s", w->user_id);
}

/* The workspace: "domain (T…)", or the id alone. */
static void
page_who_team(const struct page_who *w, char out[PAGE_WHO_MAX])
{
	if (w->team_domain != NULL && *w->team_domain != '\0')
		snprintf(out, PAGE_WHO_MAX, "%.256s (%s)", w->team_domain,
		    w->team_id);
	else
		snprintf(out, PAGE_WHO_MAX, "%s", w->team_id);
}

/* Appends "<strong>@name (U…)</strong> in the Slack workspace
 * <strong>domain (T…)</strong>", escaped.  Returns 0, or -1. */
static int
page_who_sentence(struct buf *b, const struct page_who *w)
{
	char	 user[PAGE_WHO_MAX], team[PAGE_WHO_MAX];

	page_who_user(w, user);
	page_who_team(w, team);
	if (buf_puts(b, "<strong>") == -1 || page_escape(b, user) == -1 ||
	    buf_puts(b, "</strong> in the Slack workspace <strong>") == -1 ||
	    page_escape(b, team) == -1 || buf_puts(b, "</strong>") == -1)
		return -1;
	return 0;
}

/* Appends the rows naming the Salesforce user and the Slack user. */
static int
page_who_rows(struct buf *b, const char *sf_username, const char *sf_org_id,
    const char *instance_url, const struct page_who *w)
{
	char	 user[PAGE_WHO_MAX], team[PAGE_WHO_MAX];

	page_who_user(w, user);
	page_who_team(w, team);
	if (page_row(b, "Salesforce username", sf_username) == -1 ||
	    page_row(b, "Salesforce org id", sf_org_id) == -1 ||
	    page_row(b, "Salesforce instance", instance_url) == -1 ||
	    page_row(b, "Slack workspace", team) == -1 ||
	    page_row(b, "Slack user", user) == -1)
		return -1;
	return 0;
}

int
page_start(struct buf *b, const struct page_start *ps, const char *headers)
{
	size_t	 mark = b->len;

	if (!page_header_safe(ps->action) || (headers != NULL &&
	    !page_lines_ok(headers))) {
		log_error("msg=\"refusing an unsafe URL or header\"");
		return -1;
	}
	if ((headers != NULL && buf_puts(b, headers) == -1) ||
	    page_open_form(b, 200, "ok", "Link your Salesforce account",
	    ps->form_to) == -1 ||
	    buf_puts(b, "<p>This login link was made for ") == -1 ||
	    page_who_sentence(b, &ps->who) == -1 ||
	    buf_puts(b, ".</p>\n<p>If that is you, continue. ") == -1 ||
	    buf_puts(b, ps->slack_first ? "Slack asks you to sign in first, "
	    "to prove that you are this Slack user; then Salesforce asks you "
	    "to log in and to allow forcelink." : "Salesforce asks you to log "
	    "in and to allow forcelink.") == -1 ||
	    (ps->code && buf_puts(b, " Then a code is shown, which you type "
	    "in Slack with <code>" PAGE_COMMAND " confirm</code>: nothing is "
	    "linked before that.") == -1) ||
	    buf_puts(b, "</p>\n<form method=\"post\" action=\"") == -1 ||
	    page_escape(b, ps->action) == -1 ||
	    buf_puts(b, "\">\n<input type=\"hidden\" name=\"state\" "
	    "value=\"") == -1 ||
	    page_escape(b, ps->state) == -1 ||
	    buf_puts(b, "\">\n<input type=\"hidden\" name=\"csrf\" "
	    "value=\"") == -1 ||
	    page_escape(b, ps->csrf) == -1 ||
	    buf_puts(b, "\">\n<button type=\"submit\">Continue</button>\n"
	    "</form>\n<p class=\"note\">If you are not this Slack user, "
	    "close this page: the link is not for you, and nothing will be "
	    "linked to anyone. The link works for 10 minutes.</p>\n") ==
	    -1 ||
	    page_close(b) == -1)
		return page_fail(b, mark);
	return 0;
}

int
page_code(struct buf *b, const char *sf_username, const char *sf_org_id,
    const char *instance_url, const struct page_who *w, const char *code,
    const char *query)
{
	return page_code_resume(b, sf_username, sf_org_id, instance_url, w,
	    code, query, query != NULL ? PAGE_RESUME_SENT : PAGE_RESUME_NONE);
}

/* Appends what becomes of the search query once the code is confirmed:
 * answered in Slack, or too old to be (how). */
static int
page_code_search(struct buf *b, const char *query, enum page_resume how)
{
	if (how == PAGE_RESUME_SENT)
		return buf_puts(b, " Once you have confirmed, the answer to "
		    "your search for ") == -1 || page_query(b, query) == -1 ||
		    buf_puts(b, " will be posted there, where you ran it.") ==
		    -1 ? -1 : 0;
	return buf_puts(b, " Your search for ") == -1 ||
	    page_query(b, query) == -1 ||
	    buf_puts(b, " is too old to be answered in Slack now (Slack takes "
	    "answers only for 30 minutes after a command), so run it again "
	    "once you have confirmed.") == -1 ? -1 : 0;
}

int
page_code_resume(struct buf *b, const char *sf_username,
    const char *sf_org_id, const char *instance_url, const struct page_who *w,
    const char *code, const char *query, enum page_resume how)
{
	char	 user[PAGE_WHO_MAX];
	size_t	 mark = b->len;

	page_who_user(w, user);
	if (page_open(b, 200, "ok", "One more step: confirm in Slack") ==
	    -1 ||
	    buf_puts(b, "<p>Salesforce user <strong>") == -1 ||
	    page_escape(b, sf_username) == -1 ||
	    buf_puts(b, "</strong> is ready to be linked to ") == -1 ||
	    page_who_sentence(b, w) == -1 ||
	    buf_puts(b, ", but nothing is linked yet.</p>\n<dl>\n") == -1 ||
	    page_who_rows(b, sf_username, sf_org_id, instance_url, w) == -1 ||
	    buf_puts(b, "</dl>\n<p class=\"code\">") == -1 ||
	    page_escape(b, code) == -1 ||
	    buf_puts(b, "</p>\n<p class=\"next\"><strong>Next step:</strong> "
	    "In Slack, as ") == -1 ||
	    page_escape(b, user) == -1 ||
	    buf_puts(b, ", type <code>" PAGE_COMMAND " confirm ") == -1 ||
	    page_escape(b, code) == -1 ||
	    buf_puts(b, "</code> within 10 minutes.") == -1 ||
	    (query != NULL && how != PAGE_RESUME_NONE &&
	    page_code_search(b, query, how) == -1) ||
	    buf_puts(b, "</p>\n<p class=\"note\">Only that Slack user can "
	    "confirm, and only once. Never give this code to anyone else: if "
	    "someone sent you their login link and now asks for the code, "
	    "they would act in Salesforce as you. Without the code the login "
	    "is cancelled at Salesforce after 10 minutes.</p>\n") == -1 ||
	    page_close(b) == -1)
		return page_fail(b, mark);
	return 0;
}

int
page_linked_who(struct buf *b, const char *sf_username,
    const char *sf_org_id, const char *instance_url,
    const struct page_who *who, const char *query, enum page_resume how)
{
	size_t	 mark = b->len;

	if (page_open(b, 200, "ok", "Linked") == -1 ||
	    buf_puts(b, "<p>Your Salesforce account is now linked to your "
	    "Slack account. Searches you run with <code>" PAGE_COMMAND
	    "</code> use this Salesforce user&#39;s access.</p>\n<dl>\n") == -1)
		return page_fail(b, mark);
	if (page_who_rows(b, sf_username, sf_org_id, instance_url, who) == -1)
		return page_fail(b, mark);
	if (buf_puts(b, "</dl>\n") == -1)
		return page_fail(b, mark);
	if (query != NULL && how != PAGE_RESUME_NONE) {
		if (page_resume_next(b, query, how) == -1)
			return page_fail(b, mark);
	} else if (buf_puts(b, "<p class=\"next\"><strong>Next step:</strong> "
	    "Go back to Slack and run <code>" PAGE_COMMAND "</code> followed "
	    "by a name, for example <code>" PAGE_COMMAND " smith</code>."
	    "</p>\n") == -1)
		return page_fail(b, mark);
	if (buf_puts(b, "<p class=\"note\">If this is not you, run <code>"
	    PAGE_COMMAND " logout</code> in Slack.</p>\n") == -1 ||
	    page_close(b) == -1)
		return page_fail(b, mark);
	return 0;
}

/* --- Searches resumed after linking ----------------------------------- */

/* Most bytes of a search shown on the success page. */
#define PAGE_QUERY_MAX	100

/*
 * Appends a search as typed, between curly quotes: at most
 * PAGE_QUERY_MAX bytes, cut at a character boundary (with an ellipsis),
 * control characters as spaces, escaped.  Returns 0, or -1.
 */
static int
page_query(struct buf *b, const char *q)
{
	char	 t[PAGE_QUERY_MAX + 1];
	size_t	 n, i;
	int	 cut;

	n = strlen(q);
	if ((cut = n > PAGE_QUERY_MAX)) {
		n = PAGE_QUERY_MAX;
		/* Back to the first byte of a UTF-8 sequence. */
		while (n > 0 && ((unsigned char)q[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++)
		t[i] = (unsigned char)q[i] < 0x20 || q[i] == 0x7f ? ' ' : q[i];
	t[n] = '\0';
	if (buf_puts(b, "\xe2\x80\x9c") == -1 || page_escape(b, t) == -1 ||
	    (cut && buf_puts(b, "\xe2\x80\xa6") == -1) ||
	    buf_puts(b, "\xe2\x80\x9d") == -1)
		return -1;
	return 0;
}

/* Appends the next step of a success page after which the search query
 * made before linking is answered in Slack (or was too old to be). */
static int
page_resume_next(struct buf *b, const char *query, enum page_resume how)
{
	if (buf_puts(b, "<p class=\"next\"><strong>Next step:</strong> ") ==
	    -1)
		return -1;
	if (how == PAGE_RESUME_SENT) {
		if (buf_puts(b, "Go back to Slack: the answer to your search "
		    "for ") == -1 || page_query(b, query) == -1 ||
		    buf_puts(b, " will be waiting there, where you ran it.") ==
		    -1)
			return -1;
	} else if (buf_puts(b, "Your search for ") == -1 ||
	    page_query(b, query) == -1 ||
	    buf_puts(b, " is too old to be answered in Slack now (Slack takes "
	    "answers only for 30 minutes after a command), so go back to "
	    "Slack and run it again.") == -1)
		return -1;
	return buf_puts(b, "</p>\n");
}

/* Returns 1 when s may be placed in a header value: no control bytes, so
 * it cannot end the header or start another. */
static int
page_header_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* Returns 1 when h is a run of "Name: value\r\n" lines and nothing else. */
static int
page_lines_ok(const char *h)
{
	const char	*eol, *colon;

	while (*h != '\0') {
		if ((eol = strstr(h, "\r\n")) == NULL)
			return 0;
		colon = memchr(h, ':', (size_t)(eol - h));
		if (colon == NULL || colon == h)
			return 0;
		for (; h < eol; h++)
			if (((unsigned char)*h < 0x20 && *h != '\t') ||
			    *h == 0x7f)
				return 0;
		h = eol + 2;
	}
	return 1;
}

int
page_redirect(struct buf *b, const char *url, const char *headers)
{
	if (url == NULL || *url == '\0' || !page_header_safe(url)) {
		log_error("msg=\"refusing a redirect to an unsafe URL\"");
		return -1;
	}
	if (headers != NULL && !page_lines_ok(headers)) {
		log_error("msg=\"refusing malformed extra headers\"");
		return -1;
	}
	if (buf_printf(b, "Status: %s\r\nLocation: %s\r\n"
	    "Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n%s"
	    "Content-Type: text/plain; charset=utf-8\r\n\r\nRedirecting.\n",
	    req_status_line(302), url, headers != NULL ? headers : "") == -1)
		return -1;
	return 0;
}

/* --- Slack app installation ------------------------------------------ */

int
page_install(struct buf *b, const char *authorize_url, const char *headers)
{
	size_t	 mark = b->len;

	if (authorize_url == NULL || !page_header_safe(authorize_url) ||
	    (headers != NULL && !page_lines_ok(headers))) {
		log_error("msg=\"refusing an unsafe URL or header\"");
		return -1;
	}
	/* CGI headers may come in any order: the extra ones go first, so
	 * that page_open() can end the header block. */
	if ((headers != NULL && buf_puts(b, headers) == -1) ||
	    page_open(b, 200, "ok", "Add forcelink to Slack") == -1 ||
	    buf_puts(b, "<p>Installing forcelink adds the <code>"
	    PAGE_COMMAND "</code> command to a Slack workspace, so that "
	    "everyone there can search Salesforce as themselves.</p>\n"
	    "<p class=\"next\"><strong>Next step:</strong> <a href=\"") ==
	    -1 ||
	    page_escape(b, authorize_url) == -1 ||
	    buf_puts(b, "\">Add to Slack</a>. Slack asks which workspace "
	    "to add forcelink to, and whether to allow it.</p>\n"
	    "<p class=\"note\">This link works for 10 minutes, in this "
	    "browser only.</p>\n") == -1 ||
	    page_close(b) == -1)
		return page_fail(b, mark);
	return 0;
}

/* The text of the success page's first paragraph. */
static int
page_installed_what(struct buf *b, const struct page_installed *in)
{
	if (in->org_wide)
		return buf_puts(b, "<p>forcelink is now installed for every "
		    "workspace of the Enterprise Grid organization <strong>") ==
		    -1 || page_escape(b, in->enterprise_name) == -1 ||
		    buf_puts(b, "</strong>.</p>\n") == -1 ? -1 : 0;
	return buf_puts(b, "<p>forcelink is now installed in the Slack "
	    "workspace <strong>") == -1 ||
	    page_escape(b, in->team_name) == -1 ||
	    buf_puts(b, "</strong>.</p>\n") == -1 ? -1 : 0;
}

int
page_installed(struct buf *b, const struct page_installed *in)
{
	size_t	 mark = b->len;

	if (page_open(b, 200, "ok", "Installed") == -1 ||
	    page_installed_what(b, in) == -1 ||
	    buf_puts(b, "<dl>\n") == -1 ||
	    (!in->org_wide && (page_row(b, "Slack workspace",
	    in->team_name) == -1 ||
	    page_row(b, "Workspace id", in->team_id) == -1)) ||
	    (in->enterprise_id != NULL && (page_row(b, "Enterprise",
	    in->enterprise_name) == -1 ||
	    page_row(b, "Enterprise id", in->enterprise_id) == -1)) ||
	    page_row(b, "Slack app id", in->app_id) == -1 ||
	    buf_puts(b, "</dl>\n") == -1)
		return page_fail(b, mark);
	if (in->org_wide && (buf_puts(b, "<p class=\"next\"><strong>Next "
	    "step:</strong> choose the workspaces that get forcelink: "
	    "<a href=\"https://app.slack.com/manage/") == -1 ||
	    page_escape(b, in->enterprise_id) == -1 ||
	    buf_puts(b, "/integrations/profile/") == -1 ||
	    page_escape(b, in->app_id) == -1 ||
	    buf_puts(b, "/workspaces/add\">add forcelink to workspaces</a>. "
	    "Then run <code>" PAGE_COMMAND " login</code> in any of them "
	    "to link your Salesforce account.</p>\n") == -1))
		return page_fail(b, mark);
	if (!in->org_wide && buf_puts(b, "<p class=\"next\"><strong>Next "
	    "step:</strong> in Slack, run <code>" PAGE_COMMAND " login</code> "
	    "to link your Salesforce account, then <code>" PAGE_COMMAND
	    " smith</code> to search.</p>\n") == -1)
		return page_fail(b, mark);
	if ((in->replaced && buf_puts(b, "<p class=\"note\">This replaces "
	    "the earlier installation, and its tokens.</p>\n") == -1) ||
	    page_close(b) == -1)
		return page_fail(b, mark);
	return 0;
}

/*
 * render: the Slack messages forcelink answers with (see render.h).
 *
 * Each message is built twice from the same pieces: once as the plain
 * "text" fallback, which carries everything, and once as Block Kit
 * sections.  Every value from outside passes through render_put() or
 * render_put_link(), which clean it (invalid UTF-8 becomes U+FFFD,
 * control characters become spaces), cut it to a bounded length at a
 * character boundary and escape it for Slack; so a hostile contact name
 * can neither ping a channel nor push a message past Slack's limits.
 * Lengths are counted in bytes, which is never less than Slack's count
 * of characters, so a text that fits here fits there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "form.h"
#include "jsonb.h"
#include "log.h"
#include "render.h"
#include "slack.h"

/* Top-level "text": Slack truncates past 40,000 characters. */
#define RENDER_TEXT_MAX		39000
/* Room left in the top-level text for the header line. */
#define RENDER_HEAD_ROOM	2048
/* Most bytes shown of one outside value (a contact field, a query). */
#define RENDER_FIELD_MAX	256
#define RENDER_QUERY_MAX	100
#define RENDER_REASON_MAX	500
/* Ceiling for scratch buffers: far above anything rendered. */
#define RENDER_BUF_MAX		(256 * 1024)
/* Slack rejects a button whose url or value is longer. */
#define RENDER_BUTTON_URL_MAX	3000
#define RENDER_BUTTON_VALUE_MAX	2000

#define ELLIPSIS	"\xe2\x80\xa6"		/* U+2026 */
#define LQUOTE		"\xe2\x80\x9c"		/* U+201C */
#define RQUOTE		"\xe2\x80\x9d"		/* U+201D */
#define REPLACEMENT	"\xef\xbf\xbd"		/* U+FFFD */
#define BULLET		"\xe2\x80\xa2"		/* U+2022 */
#define DASH		"\xe2\x80\x94"		/* U+2014 */

#define RENDER_DEFAULT_COMMAND	"/contact"

/* Returns 1 when s is set and not empty. */
static int
render_set(const char *s)
{
	return s != NULL && *s != '\0';
}

/*
 * Returns the length of the well-formed UTF-8 character at p (at most
 * left bytes), or 0 when the bytes there are not one.
 */
static size_t
render_seqlen(const unsigned char *p, size_t left)
{
	size_t	 n;

	n = *p < 0x80 ? 1 : *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2;
	if (n > left || !form_utf8_ok((const char *)p, n))
		return 0;
	return n;
}

/*
 * Where mrkdwn text may be cut at or before cut: never inside an entity
 * ("&amp;") or a link ("<url|label>") that the cut would leave
 * unterminated, or Slack would show a stray "&" or "<" and the raw URL.
 */
static size_t
render_safe_cut(const char *s, size_t cut)
{
	size_t	 i, amp = cut, lt = cut;

	for (i = 0; i < cut; i++) {
		if (s[i] == '&')
			amp = i;
		else if (s[i] == ';')
			amp = cut;
		else if (s[i] == '<')
			lt = i;
		else if (s[i] == '>')
			lt = cut;
	}
	return amp < lt ? amp : lt;
}

/*
 * Cuts b (valid UTF-8) to at most max bytes: when it is longer, it ends
 * at a character boundary followed by an ellipsis.  With mrkdwn set, b is
 * escaped Slack text and the cut also avoids splitting an entity or a
 * link.  Never grows b.
 */
static void
render_clip(struct buf *b, size_t max, int mrkdwn)
{
	size_t	 cut;

	if (b->len <= max || max < sizeof(ELLIPSIS) - 1)
		return;
	cut = max - (sizeof(ELLIPSIS) - 1);
	while (cut > 0 && ((unsigned char)b->data[cut] & 0xc0) == 0x80)
		cut--;
	if (mrkdwn)
		cut = render_safe_cut(b->data, cut);
	b->len = cut;
	b->data[cut] = '\0';
	(void)buf_puts(b, ELLIPSIS);	/* fits: the buffer held more */
}

/*
 * Copies s into b for display: invalid UTF-8 becomes U+FFFD, control
 * characters become spaces (line breaks stay when lines is set), and the
 * result is cut to max bytes.  Returns 0, or -1 on memory exhaustion.
 */
static int
render_clean(struct buf *b, const char *s, size_t max, int lines)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 len, i, n;
	int			 rc;

	len = strlen(s);
	for (i = 0; i < len && b->len <= max; i += n) {
		/* Printable ASCII passes as it is, a run at a time. */
		for (n = 0; i + n < len && p[i + n] >= 0x20 &&
		    p[i + n] < 0x7f; n++)
			continue;
		if (n > 0) {
			if (n > max + 1 - b->len)
				n = max + 1 - b->len;
			if (buf_append(b, p + i, n) == -1)
				return -1;
			continue;
		}
		if ((n = render_seqlen(p + i, len - i)) == 0) {
			n = 1;
			rc = buf_puts(b, REPLACEMENT);
		} else if (n == 1 && p[i] == '\n' && lines)
			rc = buf_putc(b, '\n');
		else if (n == 1 && (p[i] < 0x20 || p[i] == 0x7f))
			rc = buf_putc(b, ' ');
		else if (n == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0)
			rc = buf_putc(b, ' ');	/* C1 control */
		else
			rc = buf_append(b, p + i, n);
		if (rc == -1)
			return -1;
	}
	render_clip(b, max, 0);
	return 0;
}

/* Appends outside text s, cleaned, cut to max bytes and escaped. */
static int
render_put(struct buf *b, const char *s, size_t max, int lines)
{
	struct buf	 t;
	int		 rc = -1;

	buf_init(&t, RENDER_BUF_MAX);
	if (render_clean(&t, s, max, lines) == -1)
		goto out;
	rc = slack_escape(b, buf_cstr(&t));
out:
	buf_free(&t);
	return rc;
}

/* Appends a link to url labelled with outside text, cleaned and cut. */
static int
render_put_link(struct buf *b, const char *url, const char *label)
{
	struct buf	 t;
	int		 rc = -1;

	buf_init(&t, RENDER_BUF_MAX);
	if (render_clean(&t, label, RENDER_FIELD_MAX, 0) == -1)
		goto out;
	rc = slack_link(b, url, buf_cstr(&t));
out:
	buf_free(&t);
	return rc;
}

/* Returns 1 when id looks like a Salesforce record id (alphanumeric, at
 * most 18 characters), so that it can only name a record, not a path. */
static int
render_record_id(const char *id)
{
	size_t	 i;

	for (i = 0; id[i] != '\0'; i++)
		if (i == 18 || !((id[i] >= 'A' && id[i] <= 'Z') ||
		    (id[i] >= 'a' && id[i] <= 'z') ||
		    (id[i] >= '0' && id[i] <= '9')))
			return 0;
	return i > 0;
}

/*
 * Appends label linked to the record {instance_url}/{id}, or just the
 * label when there is no usable instance or id.
 */
static int
render_record(struct buf *b, const char *instance_url, const char *id,
    const char *label)
{
	struct buf	 url;
	int		 rc = -1;

	if (!render_set(instance_url) || id == NULL || !render_record_id(id))
		return render_put(b, label, RENDER_FIELD_MAX, 0);
	buf_init(&url, RENDER_BUF_MAX);
	if (buf_puts(&url, instance_url) == -1 || buf_putc(&url, '/') == -1 ||
	    buf_puts(&url, id) == -1)
		goto out;
	rc = render_put_link(b, buf_cstr(&url), label);
out:
	buf_free(&url);
	return rc;
}

/* Returns 1 when email can be a mailto: link as it is: no characters
 * that would add headers or parameters to the link. */
static int
render_mailable(const char *email)
{
	return strchr(email, '@') != NULL &&
	    strlen(email) <= RENDER_FIELD_MAX &&
	    strpbrk(email, "?&#/%\\\"<>| \t\r\n") == NULL;
}

/* Appends "Email: " and the address, linked when it is safe to. */
static int
render_email(struct buf *b, const char *email)
{
	struct buf	 url;
	int		 rc = -1;

	buf_init(&url, RENDER_BUF_MAX);
	if (buf_puts(b, "\nEmail: ") == -1)
		goto out;
	if (!render_mailable(email)) {
		rc = render_put(b, email, RENDER_FIELD_MAX, 0);
		goto out;
	}
	if (buf_puts(&url, "mailto:") == -1 || buf_puts(&url, email) == -1)
		goto out;
	rc = render_put_link(b, buf_cstr(&url), email);
out:
	buf_free(&url);
	return rc;
}

/* Appends "\nLABEL: value" when value is set. */
static int
render_line(struct buf *b, const char *label, const char *value)
{
	if (!render_set(value))
		return 0;
	if (buf_putc(b, '\n') == -1 || buf_puts(b, label) == -1)
		return -1;
	return render_put(b, value, RENDER_FIELD_MAX, 0);
}

/* Appends "LABEL" and the record's Account, linked, or none_text. */
static int
render_account_line(struct buf *b, const char *label, const char *none_text,
    const char *instance_url, const struct sf_record *r)
{
	if (buf_puts(b, label) == -1)
		return -1;
	if (!render_set(r->account_id))
		return buf_puts(b, none_text);
	return render_record(b, instance_url, r->account_id,
	    render_set(r->account_name) ? r->account_name :
	    "(unnamed account)");
}

/* A contact: title, account, email, phone, mobile. */
static int
render_card_contact(struct buf *b, const char *instance_url,
    const struct sf_record *c)
{
	if (render_line(b, "", c->title) == -1 ||
	    render_account_line(b, "\nAccount: ", "No account", instance_url,
	    c) == -1)
		return -1;
	if (render_set(c->email) && render_email(b, c->email) == -1)
		return -1;
	if (render_line(b, "Phone: ", c->phone) == -1 ||
	    render_line(b, "Mobile: ", c->mobile) == -1)
		return -1;
	return 0;
}

/* An account: industry, city, phone, website. */
static int
render_card_account(struct buf *b, const char *instance_url,
    const struct sf_record *a)
{
	(void)instance_url;
	if (render_line(b, "Industry: ", a->industry) == -1 ||
	    render_line(b, "City: ", a->city) == -1 ||
	    render_line(b, "Phone: ", a->phone) == -1 ||
	    render_line(b, "Website: ", a->website) == -1)
		return -1;
	return 0;
}

/*
 * Appends amount (the JSON number's text) grouped in thousands with two
 * decimals, "1,234,567.50", after currency (an ISO code) when the org
 * has several.  A number too large to print exactly to the cent is
 * shown as Salesforce sent it.
 */
static int
render_amount(struct buf *b, const char *amount, const char *currency)
{
	char		 digits[64], *end;
	double		 v;
	size_t		 n, i;
	long long	 cents;

	if (render_set(currency) && (buf_puts(b, currency) == -1 ||
	    buf_putc(b, ' ') == -1))
		return -1;
	v = strtod(amount, &end);
	if (*end != '\0' || !(v > -1e13 && v < 1e13))
		return render_put(b, amount, RENDER_FIELD_MAX, 0);
	cents = (long long)(v * 100 + (v < 0 ? -0.5 : 0.5));
	if (cents < 0 && buf_putc(b, '-') == -1)
		return -1;
	if (cents < 0)
		cents = -cents;
	n = (size_t)snprintf(digits, sizeof(digits), "%lld", cents / 100);
	for (i = 0; i < n; i++)
		if ((i > 0 && (n - i) % 3 == 0 && buf_putc(b, ',') == -1) ||
		    buf_putc(b, digits[i]) == -1)
			return -1;
	return buf_printf(b, ".%02lld", cents % 100);
}

/* An opportunity: stage, close date, amount, account. */
static int
render_card_opportunity(struct buf *b, const char *instance_url,
    const struct sf_record *o)
{
	if (render_line(b, "Stage: ", o->stage) == -1 ||
	    render_line(b, "Close date: ", o->close_date) == -1)
		return -1;
	if (render_set(o->amount) && (buf_puts(b, "\nAmount: ") == -1 ||
	    render_amount(b, o->amount, o->currency) == -1))
		return -1;
	return render_account_line(b, "\nAccount: ", "No account",
	    instance_url, o);
}

static int (*const render_card_body[SF_KIND__MAX])(struct buf *,
    const char *, const struct sf_record *) = {
	[SF_KIND_CONTACT] = render_card_contact,
	[SF_KIND_ACCOUNT] = render_card_account,
	[SF_KIND_OPPORTUNITY] = render_card_opportunity,
};

/* Appends one record as mrkdwn, its name linked, cut to what one section
 * may hold. */
static int
render_card(struct buf *b, enum sf_kind kind, const char *instance_url,
    const struct sf_record *r)
{
	const char	*name;

	name = render_set(r->name) ? r->name : "(no name)";
	if (buf_putc(b, '*') == -1 ||
	    render_record(b, instance_url, r->id, name) == -1 ||
	    buf_putc(b, '*') == -1 ||
	    render_card_body[kind](b, instance_url, r) == -1)
		return -1;
	render_clip(b, SLACK_MAX_TEXT, 1);
	return 0;
}

/* Appends val to an array of at most SLACK_MAX_BLOCKS entries, or
 * releases val.  Returns 0, or -1. */
static int
render_push(struct json_object *arr, struct json_object *val)
{
	if (val == NULL)
		return -1;
	if (json_object_array_length(arr) >= SLACK_MAX_BLOCKS) {
		log_error("msg=\"more than %d blocks\"", SLACK_MAX_BLOCKS);
		json_object_put(val);
		return -1;
	}
	return jsonb_push(arr, val);
}

/*
 * Appends a section block with mrkdwn (already escaped Slack text) to
 * blocks, cut to SLACK_MAX_TEXT bytes.  Returns 0, or -1.
 */
static int
render_section(struct json_object *blocks, const char *mrkdwn)
{
	struct json_object	*sec = NULL;
	struct buf		 t;
	int			 rc = -1;

	buf_init(&t, RENDER_BUF_MAX);
	if (buf_puts(&t, *mrkdwn != '\0' ? mrkdwn : ELLIPSIS) == -1)
		goto out;
	render_clip(&t, SLACK_MAX_TEXT, 1);
	if ((sec = json_object_new_object()) == NULL)
		goto out;
	if (jsonb_add(sec, "type", json_object_new_string("section")) == -1 ||
	    jsonb_add(sec, "text", jsonb_text("mrkdwn",
	    buf_cstr(&t))) == -1)
		goto out;
	rc = render_push(blocks, sec);
	sec = NULL;
out:
	json_object_put(sec);
	buf_free(&t);
	return rc;
}

/*
 * Returns the message {"response_type":"ephemeral","text":...,"blocks":
 * [...]} as an allocated string, with text cut to RENDER_TEXT_MAX bytes.
 * Takes over blocks in every case.  NULL on memory exhaustion.
 */
static char *
render_json(struct buf *text, struct json_object *blocks)
{
	struct json_object	*msg = NULL;
	const char		*s;
	char			*out = NULL;

	render_clip(text, RENDER_TEXT_MAX, 1);
	if ((msg = json_object_new_object()) == NULL)
		goto out;
	if (jsonb_add(msg, "response_type",
	    json_object_new_string("ephemeral")) == -1 ||
	    jsonb_add(msg, "text", json_object_new_string_len(
	    buf_cstr(text), (int)text->len)) == -1)
		goto out;
	if (jsonb_add(msg, "blocks", blocks) == -1) {
		blocks = NULL;
		goto out;
	}
	blocks = NULL;
	s = json_object_to_json_string_ext(msg,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s != NULL)
		out = strdup(s);
out:
	json_object_put(blocks);
	json_object_put(msg);
	return out;
}

/* --- Messages written straight into their output ---------------------- */

/*
 * The contact list and the messages of one section are written as JSON
 * text directly into the buffer returned, in the order and the escaping
 * json-c gives the others (JSON_C_TO_STRING_PLAIN |
 * JSON_C_TO_STRING_NOSLASHESCAPE): building json-c objects, printing them
 * and copying the result cost a warm /contact 80,000 instructions of its
 * 1,150,000 (bench/profile.sh).
 */

/* Longest message written: the text and 50 sections, every byte of which
 * could be escaped as \u00XX. */
#define RENDER_OUT_MAX	(6 * (RENDER_TEXT_MAX + SLACK_MAX_BLOCKS * \
	(SLACK_MAX_TEXT + 64)) + 256)

/* The bytes a JSON string must escape: control bytes, '"' and '\\'. */
static const unsigned char render_jesc[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	['"'] = 1, ['\\'] = 1,
};

int
render_json_str(struct buf *b, const char *s, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*p = (const unsigned char *)s;
	const char		*e;
	char			 u[6] = { '\\', 'u', '0', '0', '0', '0' };
	size_t			 i = 0, run;

	if (buf_putc(b, '"') == -1)
		return -1;
	while (i < len) {
		for (run = i; run < len && !render_jesc[p[run]]; run++)
			continue;
		if (run > i && buf_append(b, s + i, run - i) == -1)
			return -1;
		if ((i = run) == len)
			break;
		switch (p[i]) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\b': e = "\\b"; break;
		case '\f': e = "\\f"; break;
		case '\n': e = "\\n"; break;
		case '\r': e = "\\r"; break;
		case '\t': e = "\\t"; break;
		default:
			u[4] = hex[p[i] >> 4];
			u[5] = hex[p[i] & 0x0f];
			e = NULL;
			break;
		}
		if ((e != NULL ? buf_puts(b, e) : buf_append(b, u,
		    sizeof(u))) == -1)
			return -1;
		i++;
	}
	return buf_putc(b, '"');
}

/* Starts a message in out: the fallback text, cut to RENDER_TEXT_MAX
 * bytes, then the opening of the blocks. */
static int
render_msg_open(struct buf *out, struct buf *text)
{
	render_clip(text, RENDER_TEXT_MAX, 1);
	if (buf_puts(out, "{\"response_type\":\"ephemeral\",\"text\":") ==
	    -1 || render_json_str(out, buf_cstr(text), text->len) == -1 ||
	    buf_puts(out, ",\"blocks\":[") == -1)
		return -1;
	return 0;
}

/* Appends a section block with mrkdwn (len bytes of escaped Slack text),
 * cut to SLACK_MAX_TEXT bytes, as render_section() does; first says
 * whether it is the first block. */
static int
render_msg_section(struct buf *out, int first, const char *mrkdwn,
    size_t len)
{
	struct buf	 t;
	int		 rc = -1;

	buf_init(&t, RENDER_BUF_MAX);
	if (len == 0) {
		mrkdwn = ELLIPSIS;
		len = sizeof(ELLIPSIS) - 1;
	} else if (len > SLACK_MAX_TEXT) {
		if (buf_append(&t, mrkdwn, len) == -1)
			goto out;
		render_clip(&t, SLACK_MAX_TEXT, 1);
		mrkdwn = t.data;
		len = t.len;
	}
	if ((!first && buf_putc(out, ',') == -1) ||
	    buf_puts(out, "{\"type\":\"section\",\"text\":{\"type\":"
	    "\"mrkdwn\",\"text\":") == -1 ||
	    render_json_str(out, mrkdwn, len) == -1 ||
	    buf_puts(out, "}}") == -1)
		goto out;
	rc = 0;
out:
	buf_free(&t);
	return rc;
}

/* Ends the message in out and hands it over; NULL when rc is -1 or it
 * cannot be ended (out is freed then). */
static char *
render_msg_close(struct buf *out, int rc)
{
	if (rc == -1 || buf_puts(out, "]}") == -1) {
		buf_free(out);
		return NULL;
	}
	return buf_detach(out);
}

/* A message of one section showing the same text as the fallback. */
static char *
render_single(struct buf *text)
{
	struct buf	 out, sec;
	const struct buf *shown = text;
	int		 rc = -1;

	buf_init(&out, RENDER_OUT_MAX);
	buf_init(&sec, RENDER_BUF_MAX);
	/* The section shows the text as it was before the fallback was
	 * cut, which changes it only past RENDER_TEXT_MAX; its first
	 * SLACK_MAX_TEXT + 1 bytes decide the section. */
	if (text->len > RENDER_TEXT_MAX) {
		if (buf_append(&sec, text->data, SLACK_MAX_TEXT + 1) == -1)
			goto out;
		shown = &sec;
	}
	if (render_msg_open(&out, text) == 0 &&
	    render_msg_section(&out, 1, buf_cstr(shown), shown->len) == 0)
		rc = 0;
out:
	buf_free(&sec);
	return render_msg_close(&out, rc);
}

/* Returns 1 when command is a plausible slash command ("/contact"). */
static int
render_command_ok(const char *c)
{
	size_t	 i;

	if (c == NULL || c[0] != '/')
		return 0;
	for (i = 1; c[i] != '\0'; i++)
		if (i > 32 || !((c[i] >= 'a' && c[i] <= 'z') ||
		    (c[i] >= 'A' && c[i] <= 'Z') ||
		    (c[i] >= '0' && c[i] <= '9') || c[i] == '_' || c[i] == '-'))
			return 0;
	return i > 1;
}

/* The usage of /contact's own text. */
static const struct render_usage render_contact_usage = {
	"smith", "search contacts whose name contains " LQUOTE "smith" RQUOTE
};

/* Appends the lines of a help: the command's own use, then the
 * sub-commands (lines, n of them) every command has. */
static int
render_help_lines(struct buf *b, const char *command,
    const struct render_usage *usage, const struct render_usage *lines,
    size_t n)
{
	const char	*cmd;
	size_t		 i;

	cmd = render_command_ok(command) ? command : RENDER_DEFAULT_COMMAND;
	if (usage == NULL || usage->args == NULL || usage->what == NULL)
		usage = &render_contact_usage;
	if (buf_printf(b, "\n" BULLET " `%s%s%s` " DASH " %s", cmd,
	    *usage->args != '\0' ? " " : "", usage->args, usage->what) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (buf_printf(b, "\n" BULLET " `%s %s` " DASH " %s", cmd,
		    lines[i].args, lines[i].what) == -1)
			return -1;
	return 0;
}

char *
render_help(const char *command, const struct render_usage *usage)
{
	static const struct render_usage lines[] = {
		{ "login", "link your Salesforce account" },
		{ "whoami", "show which Salesforce user you are linked as" },
		{ "logout", "unlink your Salesforce account and revoke "
		    "access" },
		{ "help", "show this help" },
	};
	struct buf	 text;
	char		*out = NULL;

	buf_init(&text, RENDER_BUF_MAX);
	if (buf_puts(&text, "*forcelink* searches Salesforce as you, "
	    "with your own Salesforce access. Answers are visible only to "
	    "you until you share one.") == -1 ||
	    render_help_lines(&text, command, usage, lines,
	    sizeof(lines) / sizeof(lines[0])) == -1)
		goto out;
	out = render_single(&text);
out:
	buf_free(&text);
	return out;
}

/* Appends the explanation that precedes a login link. */
static int
render_login_intro(struct buf *b, const char *reason)
{
	if (render_set(reason) &&
	    (render_put(b, reason, RENDER_REASON_MAX, 1) == -1 ||
	    buf_putc(b, ' ') == -1))
		return -1;
	/* True in every FORCELINK_LINK_PROOF mode: nothing is linked until
	 * the proof says the person is this Slack user (issue 11). */
	return buf_puts(b, "To search Salesforce as yourself, link your "
	    "Salesforce account. Only you can use the link: forcelink checks "
	    "that it is you before it links anything. It works once and "
	    "expires in 10 minutes.");
}

/*
 * Returns the actions block holding the login button,
 * {"type":"actions","elements":[{"type":"button",...}]}, or NULL.
 */
static struct json_object *
render_button(const char *url)
{
	struct json_object	*btn, *elems = NULL, *actions = NULL;
	struct json_object	*ret = NULL;

	if ((btn = json_object_new_object()) == NULL)
		goto out;
	if (jsonb_add(btn, "type", json_object_new_string("button")) == -1 ||
	    jsonb_add(btn, "text", jsonb_text("plain_text",
	    "Log in to Salesforce")) == -1 ||
	    jsonb_add(btn, "url", json_object_new_string(url)) == -1 ||
	    jsonb_add(btn, "style", json_object_new_string("primary")) == -1)
		goto out;
	if ((elems = json_object_new_array()) == NULL ||
	    render_push(elems, btn) == -1)
		goto out;	/* render_push released btn */
	btn = NULL;
	if ((actions = json_object_new_object()) == NULL ||
	    jsonb_add(actions, "type",
	    json_object_new_string("actions")) == -1)
		goto out;
	if (jsonb_add(actions, "elements", elems) == -1) {
		elems = NULL;	/* render_add released it */
		goto out;
	}
	elems = NULL;
	ret = actions;
	actions = NULL;
out:
	json_object_put(btn);
	json_object_put(elems);
	json_object_put(actions);
	return ret;
}

static char	*render_login_note(const char *, const char *, const char *);

char *
render_login(const char *url, const char *reason)
{
	return render_login_note(url, reason, NULL);
}

/* render_login() with note (our own text, may be NULL) as a last line
 * and a last section. */
static char *
render_login_note(const char *url, const char *reason, const char *note)
{
	struct json_object	*blocks = NULL;
	struct buf		 text, sec;
	char			*out = NULL;

	buf_init(&text, RENDER_BUF_MAX);
	buf_init(&sec, RENDER_BUF_MAX);
	if (url == NULL || (blocks = json_object_new_array()) == NULL)
		goto out;
	if (render_login_intro(&text, reason) == -1 ||
	    buf_puts(&text, "\nLog in to Salesforce: ") == -1 ||
	    slack_link(&text, url, NULL) == -1)
		goto out;
	if (buf_puts(&sec, "*Link your Salesforce account*\n") == -1 ||
	    render_login_intro(&sec, reason) == -1 ||
	    render_section(blocks, buf_cstr(&sec)) == -1)
		goto out;
	if (strlen(url) <= RENDER_BUTTON_URL_MAX &&
	    render_push(blocks, render_button(url)) == -1)
		goto out;
	buf_reset(&sec);
	if (buf_puts(&sec, "Or open this link: ") == -1 ||
	    slack_link(&sec, url, NULL) == -1 ||
	    render_section(blocks, buf_cstr(&sec)) == -1)
		goto out;
	if (note != NULL && (buf_printf(&text, "\n%s", note) == -1 ||
	    render_section(blocks, note) == -1))
		goto out;
	out = render_json(&text, blocks);
	blocks = NULL;
out:
	json_object_put(blocks);
	buf_free(&text);
	buf_free(&sec);
	return out;
}

/* --- Search results as cards (issue 15) ------------------------------- */

/* The record's URL {instance_url}/{id} as a link button may hold it, or
 * NULL (none usable, or memory exhausted). */
static char *
render_record_url(const char *instance_url, const char *id)
{
	struct buf	 url;

	if (!render_set(instance_url) || id == NULL || !render_record_id(id))
		return NULL;
	buf_init(&url, RENDER_BUTTON_URL_MAX);
	if (buf_puts(&url, instance_url) == -1 || buf_putc(&url, '/') == -1 ||
	    buf_puts(&url, id) == -1) {
		buf_free(&url);
		return NULL;
	}
	return buf_detach(&url);
}

int
render_cards(enum sf_kind kind, const char *instance_url,
    const struct sf_records *rs, struct render_cards *out)
{
	struct buf	 b;
	size_t		 i;

	memset(out, 0, sizeof(*out));
	if (kind < 0 || kind >= SF_KIND__MAX || rs == NULL)
		return -1;
	for (i = 0; i < rs->n && i < SF_QUERY_LIMIT; i++) {
		buf_init(&b, RENDER_BUF_MAX);
		if (render_card(&b, kind, instance_url, &rs->v[i]) == -1 ||
		    (out->text[i] = buf_detach(&b)) == NULL) {
			buf_free(&b);
			render_cards_free(out);
			return -1;
		}
		out->url[i] = render_record_url(instance_url, rs->v[i].id);
		out->n++;
	}
	return 0;
}

void
render_cards_free(struct render_cards *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++) {
		free(c->text[i]);
		free(c->url[i]);
	}
	memset(c, 0, sizeof(*c));
}

/* Appends the user's text in quotes, cleaned, cut and escaped. */
static int
render_quoted(struct buf *b, const char *query)
{
	if (buf_puts(b, LQUOTE) == -1 ||
	    render_put(b, query != NULL ? query : "", RENDER_QUERY_MAX,
	    0) == -1)
		return -1;
	return buf_puts(b, RQUOTE);
}

/*
 * Appends the line above the results: how many, for what, which of
 * them when the search goes on past this page.  A first page with
 * nothing more keeps the words /contact always had ("6 contacts
 * matching “smith”").
 */
static int
render_results_head(struct buf *b, const struct render_page *pg, size_t n)
{
	const char	*one = sf_kind_str(pg->kind);
	const char	*many = sf_kind_plural(pg->kind);
	int		 first = pg->offset + 1, last = pg->offset + (int)n;
	int		 paged = pg->offset > 0 || pg->more, rc;

	if (pg->kind == SF_KIND_OPPORTUNITY) {
		if (n == 0)
			return buf_puts(b, pg->offset == 0 ? "You have no open "
			    "opportunities." : "No more open opportunities.");
		rc = paged ? buf_printf(b, "Your open opportunities %d"
		    "\xe2\x80\x93%d, soonest close date first", first, last) :
		    buf_printf(b, "Your %zu open %s, soonest close date first",
		    n, n == 1 ? one : many);
	} else if (n == 0) {
		if (buf_printf(b, "No %s%s match ", pg->offset > 0 ? "more " :
		    "", many) == -1 || render_quoted(b, pg->query) == -1)
			return -1;
		return buf_putc(b, '.');
	} else {
		rc = paged ? buf_printf(b, "%c%s %d\xe2\x80\x93%d matching ",
		    many[0] - 'a' + 'A', many + 1, first, last) :
		    buf_printf(b, "%zu %s matching ", n, n == 1 ? one : many);
		if (rc == 0)
			rc = render_quoted(b, pg->query);
	}
	if (rc == -1)
		return -1;
	if (pg->more && pg->more_key == NULL)
		return buf_puts(b, pg->kind == SF_KIND_OPPORTUNITY ?
		    "; there are more." : "; there are more: refine your "
		    "search.");
	return 0;
}

/* Appends a button: label, action_id, and url (a link button) or value
 * (a key), either NULL; first says whether it is the first element. */
static int
render_msg_button(struct buf *out, int first, const char *label,
    const char *action_id, const char *url, const char *value)
{
	if ((!first && buf_putc(out, ',') == -1) ||
	    buf_puts(out, "{\"type\":\"button\",\"action_id\":") == -1 ||
	    render_json_str(out, action_id, strlen(action_id)) == -1 ||
	    buf_puts(out, ",\"text\":{\"type\":\"plain_text\",\"text\":") ==
	    -1 || render_json_str(out, label, strlen(label)) == -1 ||
	    buf_putc(out, '}') == -1)
		return -1;
	if (url != NULL && (buf_puts(out, ",\"url\":") == -1 ||
	    render_json_str(out, url, strlen(url)) == -1))
		return -1;
	if (value != NULL && (buf_puts(out, ",\"value\":") == -1 ||
	    render_json_str(out, value, strlen(value)) == -1))
		return -1;
	return buf_putc(out, '}');
}

/* Appends the actions block of card i: "Open in Salesforce" (a link
 * button, when the record has a URL) and "Share in channel" (value
 * key:i, when there is a key); nothing when neither. */
static int
render_msg_card_actions(struct buf *out, const struct render_cards *c,
    size_t i, const char *key)
{
	struct buf	 value;
	int		 first = 1, rc = -1;

	if (c->url[i] == NULL && key == NULL)
		return 0;
	buf_init(&value, RENDER_BUTTON_VALUE_MAX);
	if (buf_puts(out, ",{\"type\":\"actions\",\"elements\":[") == -1)
		goto out;
	if (c->url[i] != NULL) {
		if (render_msg_button(out, 1, "Open in Salesforce",
		    RENDER_ACTION_OPEN, c->url[i], NULL) == -1)
			goto out;
		first = 0;
	}
	if (key != NULL && (buf_printf(&value, "%s:%zu", key, i) == -1 ||
	    render_msg_button(out, first, "Share in channel",
	    RENDER_ACTION_SHARE, NULL, buf_cstr(&value)) == -1))
		goto out;
	rc = buf_puts(out, "]}");
out:
	buf_free(&value);
	return rc;
}

char *
render_results(const struct render_page *pg, const struct render_cards *c)
{
	struct buf	 out, text, head;
	size_t		 i;
	int		 rc = -1;

	buf_init(&out, RENDER_OUT_MAX);
	buf_init(&text, RENDER_BUF_MAX);
	buf_init(&head, RENDER_BUF_MAX);
	if (pg == NULL || c == NULL || pg->kind < 0 ||
	    pg->kind >= SF_KIND__MAX || c->n > SF_QUERY_LIMIT)
		goto out;
	/* The fallback: the line above the results, then each card (at
	 * most SF_QUERY_LIMIT of at most SLACK_MAX_TEXT bytes: within
	 * RENDER_TEXT_MAX). */
	if (render_results_head(&head, pg, c->n) == -1 ||
	    buf_append(&text, buf_cstr(&head), head.len) == -1)
		goto out;
	for (i = 0; i < c->n; i++)
		if (buf_puts(&text, "\n\n") == -1 ||
		    buf_puts(&text, c->text[i]) == -1)
			goto out;
	/* Blocks: the head, a section and an actions block per card, the
	 * More button: at most 2 + 2 * SF_QUERY_LIMIT < SLACK_MAX_BLOCKS. */
	if (render_msg_open(&out, &text) == -1 ||
	    render_msg_section(&out, 1, buf_cstr(&head), head.len) == -1)
		goto out;
	for (i = 0; i < c->n; i++)
		if (render_msg_section(&out, 0, c->text[i],
		    strlen(c->text[i])) == -1 ||
		    render_msg_card_actions(&out, c, i, pg->key) == -1)
			goto out;
	if (pg->more && pg->more_key != NULL && (buf_puts(&out,
	    ",{\"type\":\"actions\",\"elements\":[") == -1 ||
	    render_msg_button(&out, 1, "More", RENDER_ACTION_MORE, NULL,
	    pg->more_key) == -1 || buf_puts(&out, "]}") == -1))
		goto out;
	rc = 0;
out:
	buf_free(&text);
	buf_free(&head);
	return render_msg_close(&out, rc);
}

/* Returns 1 when id is a Slack user id as payload.h checks them. */
static int
render_slack_id(const char *id)
{
	size_t	 i;

	for (i = 0; id[i] != '\0'; i++)
		if (i == SLACK_ID_MAX || !((id[i] >= 'A' && id[i] <= 'Z') ||
		    (id[i] >= '0' && id[i] <= '9')))
			return 0;
	return i > 0;
}

char *
render_shared(const char *card, const char *user_id)
{
	struct buf	 out, text, line;
	int		 rc = -1;

	buf_init(&out, RENDER_OUT_MAX);
	buf_init(&text, RENDER_BUF_MAX);
	buf_init(&line, RENDER_BUF_MAX);
	if (card == NULL || user_id == NULL || !render_slack_id(user_id))
		goto out;
	if (buf_printf(&line, "Shared by <@%s>", user_id) == -1 ||
	    buf_puts(&text, card) == -1 || buf_putc(&text, '\n') == -1 ||
	    buf_append(&text, line.data, line.len) == -1)
		goto out;
	render_clip(&text, RENDER_TEXT_MAX, 1);
	if (buf_puts(&out, "{\"response_type\":\"in_channel\","
	    "\"replace_original\":false,\"text\":") == -1 ||
	    render_json_str(&out, text.data, text.len) == -1 ||
	    buf_puts(&out, ",\"blocks\":[") == -1 ||
	    render_msg_section(&out, 1, card, strlen(card)) == -1 ||
	    buf_puts(&out, ",{\"type\":\"context\",\"elements\":[{\"type\":"
	    "\"mrkdwn\",\"text\":") == -1 ||
	    render_json_str(&out, line.data, line.len) == -1 ||
	    buf_puts(&out, "}]}") == -1)
		goto out;
	rc = 0;
out:
	buf_free(&text);
	buf_free(&line);
	return render_msg_close(&out, rc);
}

/* Appends "*username* (Name, email)", leaving out what is unknown. */
static int
render_identity(struct buf *b, const struct sf_userinfo *ui)
{
	const char	*who;

	who = render_set(ui->username) ? ui->username :
	    render_set(ui->user_id) ? ui->user_id : "an unknown user";
	if (buf_putc(b, '*') == -1 ||
	    render_put(b, who, RENDER_FIELD_MAX, 0) == -1 ||
	    buf_putc(b, '*') == -1)
		return -1;
	if (!render_set(ui->name) && !render_set(ui->email))
		return 0;
	if (buf_puts(b, " (") == -1 ||
	    (render_set(ui->name) &&
	    render_put(b, ui->name, RENDER_FIELD_MAX, 0) == -1) ||
	    (render_set(ui->name) && render_set(ui->email) &&
	    buf_puts(b, ", ") == -1) ||
	    (render_set(ui->email) &&
	    render_put(b, ui->email, RENDER_FIELD_MAX, 0) == -1))
		return -1;
	return buf_putc(b, ')');
}

char *
render_whoami(const char *instance_url, const struct sf_userinfo *ui)
{
	struct buf	 text;
	char		*out = NULL;

	buf_init(&text, RENDER_BUF_MAX);
	if (ui == NULL)
		goto out;
	if (buf_puts(&text, "You are linked to Salesforce as ") == -1 ||
	    render_identity(&text, ui) == -1)
		goto out;
	if (render_set(instance_url) &&
	    (buf_puts(&text, " on instance ") == -1 ||
	    slack_link(&text, instance_url, NULL) == -1))
		goto out;
	if (buf_puts(&text, ".\nIf this is not you, run `"
	    RENDER_DEFAULT_COMMAND " logout` and link again.") == -1)
		goto out;
	out = render_single(&text);
out:
	buf_free(&text);
	return out;
}

char *
render_new_message(const char *json)
{
	char	*out;

	/* Every message rendered here is an object: "{" first. */
	if (json == NULL || json[0] != '{' || json[1] == '}' ||
	    asprintf(&out, "{\"replace_original\":false,%s", json + 1) == -1)
		return NULL;
	return out;
}

char *
render_message(const char *text)
{
	struct buf	 t;
	char		*out = NULL;

	buf_init(&t, RENDER_BUF_MAX);
	if (render_put(&t, text != NULL ? text : "", SLACK_MAX_TEXT, 1) == -1)
		goto out;
	out = render_single(&t);
out:
	buf_free(&t);
	return out;
}

/* --- Searches resumed after linking ----------------------------------- */

char *
render_login_resume(const char *url, const char *reason)
{
	return render_login_note(url, reason, "Once you have linked, the "
	    "answer to this search will appear here: there is no need to "
	    "run it again.");
}

/*
 * Puts line and a line break before the string under key in obj, then
 * cuts the whole to max bytes.  Returns 0, or -1 when obj has no such
 * string or memory is exhausted.
 */
static int
render_prepend(struct json_object *obj, const char *key, const char *line,
    size_t max)
{
	struct json_object	*v;
	struct buf		 t;
	int			 rc = -1;

	buf_init(&t, RENDER_BUF_MAX);
	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		goto out;
	if (buf_puts(&t, line) == -1 || buf_putc(&t, '\n') == -1 ||
	    buf_append(&t, json_object_get_string(v),
	    (size_t)json_object_get_string_len(v)) == -1)
		goto out;
	render_clip(&t, max, 1);
	rc = jsonb_add(obj, key, json_object_new_string_len(buf_cstr(&t),
	    (int)t.len));
out:
	buf_free(&t);
	return rc;
}

/*
 * Puts line at the start of the first block when that is a section with
 * text (every message rendered here starts with one); otherwise adds a
 * section of its own in front, when there is room.  Returns 0 or -1.
 */
static int
render_prepend_block(struct json_object *msg, const char *line)
{
	struct json_object	*blocks, *first, *type, *text, *arr = NULL;
	size_t			 i, n;
	int			 rc = -1;

	if (!json_object_object_get_ex(msg, "blocks", &blocks) ||
	    !json_object_is_type(blocks, json_type_array))
		return -1;
	n = json_object_array_length(blocks);
	if (n > 0 && (first = json_object_array_get_idx(blocks, 0)) != NULL &&
	    json_object_object_get_ex(first, "type", &type) &&
	    json_object_is_type(type, json_type_string) &&
	    strcmp(json_object_get_string(type), "section") == 0 &&
	    json_object_object_get_ex(first, "text", &text) &&
	    json_object_is_type(text, json_type_object))
		return render_prepend(text, "text", line, SLACK_MAX_TEXT);
	if ((arr = json_object_new_array()) == NULL ||
	    render_section(arr, line) == -1)
		goto out;
	for (i = 0; i < n && i + 1 < SLACK_MAX_BLOCKS; i++)
		if (render_push(arr, json_object_get(
		    json_object_array_get_idx(blocks, i))) == -1)
			goto out;
	rc = jsonb_add(msg, "blocks", arr);
	arr = NULL;
out:
	json_object_put(arr);
	return rc;
}

char *
render_resumed(const char *json, const char *query)
{
	struct json_object	*msg = NULL;
	struct buf		 line;
	const char		*s;
	char			*out = NULL;

	buf_init(&line, RENDER_BUF_MAX);
	if (json == NULL || (msg = json_tokener_parse(json)) == NULL ||
	    !json_object_is_type(msg, json_type_object))
		goto out;
	if (buf_puts(&line, "Your search for " LQUOTE) == -1 ||
	    render_put(&line, query != NULL ? query : "", RENDER_QUERY_MAX,
	    0) == -1 ||
	    buf_puts(&line, RQUOTE " from before you linked:") == -1)
		goto out;
	if (render_prepend(msg, "text", buf_cstr(&line),
	    RENDER_TEXT_MAX) == -1 ||
	    render_prepend_block(msg, buf_cstr(&line)) == -1)
		goto out;
	s = json_object_to_json_string_ext(msg,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s != NULL)
		out = strdup(s);
out:
	json_object_put(msg);
	buf_free(&line);
	return out;
}

/* --- Integration-user mode -------------------------------------------- */

/* Longest context line shown (it names a username). */
#define RENDER_CONTEXT_MAX	600

/* Returns a context block {"type":"context","elements":[mrkdwn]}, or
 * NULL. */
static struct json_object *
render_context(const char *mrkdwn)
{
	struct json_object	*ctx, *elems = NULL, *ret = NULL;

	if ((ctx = json_object_new_object()) == NULL)
		return NULL;
	if (jsonb_add(ctx, "type", json_object_new_string("context")) == -1 ||
	    (elems = json_object_new_array()) == NULL ||
	    render_push(elems, jsonb_text("mrkdwn", mrkdwn)) == -1)
		goto out;
	if (jsonb_add(ctx, "elements", elems) == -1) {
		elems = NULL;	/* render_add released it */
		goto out;
	}
	elems = NULL;
	ret = ctx;
	ctx = NULL;
out:
	json_object_put(elems);
	json_object_put(ctx);
	return ret;
}

/*
 * Puts line (escaped Slack text) in front of the text of block b, a
 * section, cut to SLACK_MAX_TEXT.  Returns 0, or -1.
 */
static int
render_prefix_section(struct json_object *b, const char *line)
{
	struct json_object	*t, *v;
	struct buf		 s;
	int			 rc = -1;

	buf_init(&s, RENDER_BUF_MAX);
	if (!json_object_object_get_ex(b, "text", &t) ||
	    !json_object_object_get_ex(t, "text", &v) ||
	    !json_object_is_type(v, json_type_string))
		goto out;
	if (buf_printf(&s, "%s\n", line) == -1 ||
	    buf_puts(&s, json_object_get_string(v)) == -1)
		goto out;
	render_clip(&s, SLACK_MAX_TEXT, 1);
	rc = jsonb_add(t, "text", json_object_new_string(buf_cstr(&s)));
out:
	buf_free(&s);
	return rc;
}

char *
render_with_context(const char *json, const char *line)
{
	struct json_object	*msg = NULL, *blocks, *text, *nb = NULL;
	struct buf		 l, t;
	size_t			 i, n;
	char			*out = NULL;

	buf_init(&l, RENDER_BUF_MAX);
	buf_init(&t, RENDER_BUF_MAX);
	if (json == NULL || line == NULL ||
	    render_put(&l, line, RENDER_CONTEXT_MAX, 0) == -1 ||
	    (msg = json_tokener_parse(json)) == NULL ||
	    !json_object_object_get_ex(msg, "blocks", &blocks) ||
	    !json_object_is_type(blocks, json_type_array) ||
	    !json_object_object_get_ex(msg, "text", &text) ||
	    !json_object_is_type(text, json_type_string))
		goto out;
	if (buf_printf(&t, "%s\n", buf_cstr(&l)) == -1 ||
	    buf_puts(&t, json_object_get_string(text)) == -1)
		goto out;
	n = json_object_array_length(blocks);
	if (n >= SLACK_MAX_BLOCKS) {
		if (render_prefix_section(json_object_array_get_idx(blocks, 0),
		    buf_cstr(&l)) == -1)
			goto out;
		nb = json_object_get(blocks);
	} else {
		if ((nb = json_object_new_array()) == NULL ||
		    render_push(nb, render_context(buf_cstr(&l))) == -1)
			goto out;
		for (i = 0; i < n; i++)
			if (render_push(nb, json_object_get(
			    json_object_array_get_idx(blocks, i))) == -1)
				goto out;
	}
	json_object_put(msg);
	msg = NULL;
	out = render_json(&t, nb);	/* takes nb */
	nb = NULL;
out:
	json_object_put(nb);
	json_object_put(msg);
	buf_free(&l);
	buf_free(&t);
	return out;
}

char *
render_help_iuser(const char *command, const struct render_usage *usage)
{
	static const struct render_usage lines[] = {
		{ "whoami", "show which Salesforce user this workspace "
		    "searches as" },
		{ "help", "show this help" },
	};
	struct buf	 text;
	char		*out = NULL;

	buf_init(&text, RENDER_BUF_MAX);
	if (buf_puts(&text, "*forcelink* searches Salesforce as the "
	    "integration user of this workspace, not as you: everyone here "
	    "sees what that Salesforce user may see, and nobody needs to "
	    "log in. Answers are visible only to you until you share one.")
	    == -1 || render_help_lines(&text, command, usage, lines,
	    sizeof(lines) / sizeof(lines[0])) == -1)
		goto out;
	out = render_single(&text);
out:
	buf_free(&text);
	return out;
}

char *
render_whoami_iuser(const char *instance_url, const struct sf_userinfo *ui)
{
	struct buf	 text;
	char		*out = NULL;

	buf_init(&text, RENDER_BUF_MAX);
	if (ui == NULL)
		goto out;
	if (buf_puts(&text, "This workspace searches Salesforce as the "
	    "integration user ") == -1 || render_identity(&text, ui) == -1)
		goto out;
	if (render_set(instance_url) &&
	    (buf_puts(&text, " on instance ") == -1 ||
	    slack_link(&text, instance_url, NULL) == -1))
		goto out;
	if (buf_puts(&text, ", not as you: everyone here sees what that "
	    "Salesforce user may see.") == -1)
		goto out;
	out = render_single(&text);
out:
	buf_free(&text);
	return out;
}

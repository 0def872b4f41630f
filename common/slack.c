/*
 * slack: request verification and Slack text escaping (see slack.h).
 *
 * Verification works on the raw body bytes exactly as they arrived: the
 * body is never decoded, re-encoded or checked for UTF-8 before its
 * signature is known to be good, because other implementations were
 * broken by hashing a re-encoded body or by failing on a forged one in a
 * decoder.  The cheap checks (headers present, timestamp a plain number
 * within the window, signature the right shape) run first and cost no
 * HMAC; the comparison itself is constant time.
 *
 * Escaping follows Slack's rule: "&", "<" and ">" are the only characters
 * with a meaning in message text, so they are the only ones escaped, and
 * the only entities undone in what users type.
 */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "slack.h"

/* Timestamps are Unix seconds; 12 digits reach the year 33658. */
#define SLACK_TS_DIGITS	12
/* "v0=" and 64 lower-case hex digits. */
#define SLACK_SIG_PREFIX	"v0="
#define SLACK_SIG_HEX		64

int
slack_parse_ts(const char *s, int64_t *out)
{
	int64_t	 v = 0;
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i == SLACK_TS_DIGITS || s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (i == 0)
		return -1;
	*out = v;
	return 0;
}

/* Returns 1 when sig is "v0=" followed by 64 lower-case hex digits. */
static int
slack_sig_shape(const char *sig)
{
	size_t	 i;

	if (strncmp(sig, SLACK_SIG_PREFIX, sizeof(SLACK_SIG_PREFIX) - 1) != 0)
		return 0;
	sig += sizeof(SLACK_SIG_PREFIX) - 1;
	for (i = 0; i < SLACK_SIG_HEX; i++)
		if (!((sig[i] >= '0' && sig[i] <= '9') ||
		    (sig[i] >= 'a' && sig[i] <= 'f')))
			return 0;
	return sig[i] == '\0';
}

/*
 * Computes "v0=" hex(HMAC-SHA256(secret, "v0:" ts ":" body)) and compares
 * it with sig in constant time.  Returns 1 when they match, else 0.  The
 * base string is hashed in its parts, never copied together, so that an
 * allocation failure cannot turn a good request into a "bad signature".
 */
static int
slack_sig_match(const char *secret, const char *ts, const char *sig,
    const char *body, size_t len)
{
	const struct crypto_part parts[] = {
		{ "v0:", 3 }, { ts, strlen(ts) }, { ":", 1 }, { body, len }
	};
	unsigned char	 mac[32];
	char		 hex[2 * sizeof(mac) + 1];

	crypto_hmac_sha256_parts(secret, strlen(secret), parts,
	    sizeof(parts) / sizeof(parts[0]), mac);
	crypto_hex(mac, sizeof(mac), hex);
	return crypto_equal(hex, sig + sizeof(SLACK_SIG_PREFIX) - 1,
	    SLACK_SIG_HEX);
}

enum slack_verdict
slack_verify(const char *secret, const char *ts, const char *sig,
    const char *body, size_t len, time_t now)
{
	int64_t	 t, skew;

	if (ts == NULL || *ts == '\0' || sig == NULL || *sig == '\0')
		return SLACK_NO_SIGNATURE;
	if (slack_parse_ts(ts, &t) == -1)
		return SLACK_BAD_TIMESTAMP;
	skew = (int64_t)now - t;
	if (skew > SLACK_MAX_SKEW || skew < -SLACK_MAX_SKEW)
		return SLACK_STALE;
	/* Without a secret nothing can be verified: refuse, never accept. */
	if (secret == NULL || *secret == '\0' || !slack_sig_shape(sig))
		return SLACK_BAD_SIGNATURE;
	if (body == NULL && len > 0)
		return SLACK_BAD_SIGNATURE;
	return slack_sig_match(secret, ts, sig, body, len) ?
	    SLACK_OK : SLACK_BAD_SIGNATURE;
}

enum slack_verdict
slack_verify_token(const char *expected, const char *given)
{
	if (expected == NULL || *expected == '\0' || given == NULL ||
	    *given == '\0')
		return SLACK_BAD_TOKEN;
	return crypto_str_equal(expected, given) ? SLACK_OK : SLACK_BAD_TOKEN;
}

const char *
slack_verdict_str(enum slack_verdict v)
{
	switch (v) {
	case SLACK_OK:
		return "ok";
	case SLACK_NO_SIGNATURE:
		return "missing signature headers";
	case SLACK_BAD_TIMESTAMP:
		return "malformed timestamp";
	case SLACK_STALE:
		return "stale timestamp";
	case SLACK_BAD_SIGNATURE:
		return "bad signature";
	case SLACK_BAD_TOKEN:
		return "bad verification token";
	}
	return "unknown";
}

/* Slack's three entities, and what each stands for. */
static const struct {
	const char	*ent;
	size_t		 len;
	char		 c;
} slack_ents[] = {
	{ "&amp;", 5, '&' },
	{ "&lt;", 4, '<' },
	{ "&gt;", 4, '>' },
};

/* The character the entity at s (n bytes left) stands for, else 0 (*len
 * its length). */
static char
slack_entity(const char *s, size_t n, size_t *len)
{
	size_t	 i;

	for (i = 0; i < sizeof(slack_ents) / sizeof(slack_ents[0]); i++)
		if (n >= slack_ents[i].len &&
		    memcmp(s, slack_ents[i].ent, slack_ents[i].len) == 0) {
			*len = slack_ents[i].len;
			return slack_ents[i].c;
		}
	return 0;
}

void
slack_unescape(const char *in, char *out)
{
	size_t	 n = strlen(in), len;
	char	 c;

	/* One pass over the input: "&amp;lt;" becomes "&lt;", not "<". */
	while (n > 0) {
		if ((c = slack_entity(in, n, &len)) != 0) {
			*out++ = c;
			in += len;
			n -= len;
		} else {
			*out++ = *in++;
			n--;
		}
	}
	*out = '\0';
}

int
slack_escape(struct buf *b, const char *s)
{
	const char	*run;

	for (run = s; *s != '\0'; s++) {
		if (*s != '&' && *s != '<' && *s != '>')
			continue;
		if (buf_append(b, run, (size_t)(s - run)) == -1 ||
		    buf_puts(b, *s == '&' ? "&amp;" :
		    *s == '<' ? "&lt;" : "&gt;") == -1)
			return -1;
		run = s + 1;
	}
	return buf_append(b, run, (size_t)(s - run));
}

/*
 * Appends url for use inside "<...|...>".  "|", "<", ">", space and
 * control bytes would end or break the link, so they are percent-encoded,
 * which a browser reads the same way.  Nothing else changes: SPEC 4 keeps
 * the links we build out of entity escaping, and an "&" in a URL cannot
 * start a link or a mention.
 */
static int
slack_put_url(struct buf *b, const char *url)
{
	const unsigned char	*p;
	int			 rc;

	for (p = (const unsigned char *)url; *p != '\0'; p++) {
		if (*p == '|' || *p == '<' || *p == '>' || *p <= 0x20 ||
		    *p == 0x7f)
			rc = buf_printf(b, "%%%02X", *p);
		else
			rc = buf_putc(b, *p);
		if (rc == -1)
			return -1;
	}
	return 0;
}

int
slack_link(struct buf *b, const char *url, const char *label)
{
	if (buf_putc(b, '<') == -1 || slack_put_url(b, url) == -1)
		return -1;
	if (label != NULL && *label != '\0' &&
	    (buf_putc(b, '|') == -1 || slack_escape(b, label) == -1))
		return -1;
	return buf_putc(b, '>');
}

/* Appends n bytes of s with Slack's three entities undone. */
static int
slack_put_unescaped(struct buf *b, const char *s, size_t n)
{
	size_t	 i, len;
	char	 c;

	for (i = 0; i < n; ) {
		if ((c = slack_entity(s + i, n - i, &len)) != 0)
			i += len;
		else
			c = s[i++];
		if (buf_putc(b, c) == -1)
			return -1;
	}
	return 0;
}

/*
 * One control sequence, without its brackets: target (tn bytes) and the
 * label after "|" (ln bytes; label NULL without one).
 */
static int
slack_put_sequence(struct buf *b, const char *target, size_t tn,
    const char *label, size_t ln)
{
	size_t	 w;

	if (label != NULL && ln == 0)
		label = NULL;
	if (tn > 0 && (target[0] == '@' || target[0] == '#')) {
		/* A user or a channel: its name, else its id. */
		if (buf_putc(b, target[0]) == -1)
			return -1;
		if (label != NULL)
			return slack_put_unescaped(b, label +
			    (label[0] == target[0]), ln - (label[0] == target[0]));
		return slack_put_unescaped(b, target + 1, tn - 1);
	}
	if (tn > 0 && target[0] == '!') {
		/* A special mention or a date: what Slack would show. */
		if (label != NULL)
			return slack_put_unescaped(b, label, ln);
		for (w = 1; w < tn && target[w] != '^'; w++)
			continue;
		if (w < tn && w == 8 && memcmp(target, "!subteam", 8) == 0)
			return buf_putc(b, '@') == -1 ? -1 :
			    slack_put_unescaped(b, target + 9, tn - 9);
		return buf_putc(b, '@') == -1 ? -1 :
		    slack_put_unescaped(b, target + 1, w - 1);
	}
	/* A link: its label, and where it goes unless that is the label
	 * (a mail address shows as the address). */
	if (tn > 7 && strncmp(target, "mailto:", 7) == 0) {
		target += 7;
		tn -= 7;
	}
	if (label == NULL || (ln == tn && memcmp(label, target, tn) == 0))
		return slack_put_unescaped(b, target, tn);
	if (tn == 0)
		return slack_put_unescaped(b, label, ln);
	if (slack_put_unescaped(b, label, ln) == -1 ||
	    buf_puts(b, " (") == -1 ||
	    slack_put_unescaped(b, target, tn) == -1)
		return -1;
	return buf_putc(b, ')');
}

int
slack_plain(struct buf *b, const char *text)
{
	const char	*run = text, *p, *end, *bar;
	size_t		 i;

	for (p = text; *p != '\0'; p++) {
		if (*p != '<')
			continue;
		/* Its ">" before any other "<", within the bound. */
		for (i = 1; i < SLACK_PLAIN_SEQ_MAX && p[i] != '\0' &&
		    p[i] != '>' && p[i] != '<'; i++)
			continue;
		if (p[i] != '>')
			continue;
		end = p + i;
		if (slack_put_unescaped(b, run, (size_t)(p - run)) == -1)
			return -1;
		bar = memchr(p + 1, '|', (size_t)(end - p - 1));
		if (slack_put_sequence(b, p + 1, (size_t)((bar != NULL ? bar :
		    end) - p - 1), bar != NULL ? bar + 1 : NULL, bar != NULL ?
		    (size_t)(end - bar - 1) : 0) == -1)
			return -1;
		run = end + 1;
		p = end;
	}
	return slack_put_unescaped(b, run, (size_t)(p - run));
}

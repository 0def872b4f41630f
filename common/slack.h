/*
 * slack: the Slack side of a slash command, apart from HTTP.
 *
 * Request verification (signing secret, or the legacy verification
 * token), the identity of the Slack user a request is for, and Slack's
 * text escaping in both directions.  What Slack sends is hostile until
 * slack_verify() said SLACK_OK; nothing in the body is read before then.
 */
#ifndef FORCELINK_SLACK_H
#define FORCELINK_SLACK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct buf;

/* Largest request body accepted (SPEC: 64 KiB); larger ones get 413. */
#define SLACK_BODY_MAX		(64 * 1024)
/* Timestamps further than this from now are stale (seconds). */
#define SLACK_MAX_SKEW		300
/* Slack's limits on what we send back. */
#define SLACK_MAX_BLOCKS	50
#define SLACK_MAX_TEXT		3000
#define SLACK_ID_MAX		32

/* Who a request is for.  Every stored link is keyed by all three; the
 * enterprise id is "" outside Enterprise Grid. */
struct slack_user {
	char	enterprise_id[SLACK_ID_MAX + 1];
	char	team_id[SLACK_ID_MAX + 1];
	char	user_id[SLACK_ID_MAX + 1];
};

enum slack_verdict {
	SLACK_OK,
	SLACK_NO_SIGNATURE,	/* a header is missing or empty */
	SLACK_BAD_TIMESTAMP,	/* not a plain decimal number */
	SLACK_STALE,		/* more than SLACK_MAX_SKEW from now */
	SLACK_BAD_SIGNATURE,	/* malformed, or the HMAC does not match */
	SLACK_BAD_TOKEN		/* legacy token missing or wrong */
};

/*
 * Verifies a signed request: ts and sig are the X-Slack-Request-Timestamp
 * and X-Slack-Signature header values (NULL when absent), body the raw
 * bytes as received.  The signature is compared in constant time.
 */
enum slack_verdict slack_verify(const char *secret, const char *ts,
	    const char *sig, const char *body, size_t len, time_t now);

/* Parses an X-Slack-Request-Timestamp of 1..SLACK_TS_DIGITS decimal
 * digits into *out.  Returns 0, or -1 for anything else (signs, spaces,
 * hex, too long). */
int		 slack_parse_ts(const char *, int64_t *);

/* Legacy: compares the body's token field with the configured
 * verification token in constant time. */
enum slack_verdict slack_verify_token(const char *expected,
	    const char *given);

const char	*slack_verdict_str(enum slack_verdict);

/*
 * Undoes Slack's escaping of user text: "&amp;" "&lt;" "&gt;" become
 * "&" "<" ">"; everything else is kept as it is.  Writes into out (which
 * must hold strlen(in) + 1 bytes; the result is never longer).
 */
void	 slack_unescape(const char *in, char *out);

/*
 * Appends s to b escaped for Slack text: "&" "<" ">" become "&amp;"
 * "&lt;" "&gt;", nothing else changes.  Returns 0, or -1 past b's
 * ceiling.
 */
int	 slack_escape(struct buf *b, const char *s);

/*
 * Appends a Slack link "<url|label>" to b, with label escaped and any
 * "|" or ">" in url percent-encoded so it cannot end the link early.
 * Returns 0, or -1 past b's ceiling.
 */
int	 slack_link(struct buf *b, const char *url, const char *label);

/* Longest control sequence ("<...>") slack_plain() reads as one. */
#define SLACK_PLAIN_SEQ_MAX	4096

/*
 * Appends the text of a Slack message (mrkdwn as Slack stores it, with
 * its control sequences) to b as plain text, for a record kept outside
 * Slack (a Case created from a message):
 *
 *	<@U123|name> <@U123>		@name @U123
 *	<#C123|general> <#C123>		#general #C123
 *	<!here> <!channel> <!everyone>	@here @channel @everyone
 *	<!subteam^S123|@team>		@team
 *	<!date^1392734382^{date}|Feb 18> Feb 18 (the fallback)
 *	<https://x.example/|the site>	the site (https://x.example/)
 *	<https://x.example/>		https://x.example/
 *	<mailto:a@b.example|a@b.example> a@b.example
 *	&amp; &lt; &gt;			& < >
 *
 * The entities are undone after the sequences are read, so "&lt;b&gt;"
 * is the text "<b>", not a sequence.  A "<" without its ">" within
 * SLACK_PLAIN_SEQ_MAX bytes, or with another "<" first, stays as it is.
 * Mrkdwn's emphasis (*bold*, _italic_) is left alone: it reads well as
 * it is.  Returns 0, or -1 past b's ceiling.
 */
int	 slack_plain(struct buf *b, const char *text);

#endif

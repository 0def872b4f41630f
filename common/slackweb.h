/*
 * slackweb: the Slack Web API calls made with a bot token on a user's
 * behalf (issue 15): views.open, views.update and chat.getPermalink.
 *
 * slackapi.h installs the app and says who a token is; this module uses
 * the bot token it yields (or SLACK_BOT_TOKEN) to open and change modals
 * and to name a message by its link.  The views calls are POSTed as JSON
 * (application/json; charset=utf-8), chat.getPermalink as a form (the
 * only content type Slack documents for it), each with the token in
 * "Authorization: Bearer", through struct http, so that they work in a
 * request fiber and outside one alike.
 *
 * Slack answers errors with {"ok":false,"error":CODE}; every code a
 * caller acts upon has an outcome of its own (enum slackweb_result), and
 * any other is SLACKWEB_REFUSED with the code kept in a form safe to log.
 * HTTP 429 (or "ratelimited") is SLACKWEB_RATELIMITED with the seconds
 * Slack asks to wait, bounded; a call retries once, after that wait, only
 * when the caller's budget allows it (a call under Slack's 3-second rule
 * passes a budget that ends before its deadline, or 0).  struct http
 * does not hand response headers over (yet): until it does, the calls
 * read every 429 as a Retry-After of SLACKWEB_RETRY_DEFAULT; the
 * readers below take the header's value already.  Replies are
 * parsed as strictly as every other reply (sf_json_parse_strict), and
 * every field used must have the documented shape.  The parse functions
 * are public, for tests and fuzzing.  No token is ever passed to the
 * logger; log lines carry the method, the status, Slack's code and, for
 * SLACKWEB_BAD_REQUEST, Slack's first explanation (which names a JSON
 * pointer into our view, never a value).
 */
#ifndef FORCELINK_SLACKWEB_H
#define FORCELINK_SLACKWEB_H

#include <stddef.h>

#include "config.h"

struct http;

/* Longest view JSON sent: Slack refuses views over 250 kB
 * (view_too_large); a little more, so that Slack is the judge. */
#define SLACKWEB_VIEW_MAX	(256 * 1024)
/* Longest trigger id, view id and hash accepted. */
#define SLACKWEB_TRIGGER_MAX	255
#define SLACKWEB_VIEW_ID_MAX	32
#define SLACKWEB_HASH_MAX	64
/* Longest permalink believed: a link button's url may hold 3000. */
#define SLACKWEB_PERMALINK_MAX	3000
/* The wait Slack may ask for that is believed (an hour), and the wait
 * assumed when a 429 comes without a usable Retry-After. */
#define SLACKWEB_RETRY_MAX	3600
#define SLACKWEB_RETRY_DEFAULT	1

enum slackweb_result {
	SLACKWEB_OK,
	SLACKWEB_RATELIMITED,	/* 429 or "ratelimited": retry_after says
				   when to try again */
	SLACKWEB_TRIGGER_EXPIRED, /* expired_trigger_id: the 3 s are over */
	SLACKWEB_TRIGGER_INVALID, /* invalid_trigger_id, trigger_exchanged:
				   used already, or not Slack's */
	SLACKWEB_REVOKED,	/* not_authed, invalid_auth, token_revoked,
				   account_inactive ...: install again */
	SLACKWEB_MISSING_SCOPE,	/* the app lacks a scope: reinstall */
	SLACKWEB_BAD_REQUEST,	/* view_too_large, invalid_arguments ...:
				   a bug of ours (detail says what) */
	SLACKWEB_HASH_CONFLICT,	/* views.update with a stale hash */
	SLACKWEB_VIEW_NOT_FOUND, /* views.update: not_found */
	SLACKWEB_CHANNEL_NOT_FOUND, /* channel_not_found */
	SLACKWEB_MESSAGE_NOT_FOUND, /* message_not_found */
	SLACKWEB_REFUSED,	/* any other "ok":false (code says) */
	SLACKWEB_TRANSIENT,	/* 5xx, timeout, connection or TLS */
	SLACKWEB_MALFORMED,	/* not JSON, or not the documented shape */
	SLACKWEB_ERROR		/* local failure: bad arguments, memory */
};

/* A word for logs ("ok", "ratelimited", "trigger_expired" ...). */
const char	*slackweb_result_str(enum slackweb_result);

/* One plain sentence for the person who caused the call (or the
 * admin): what went wrong and what to do.  Never NULL. */
const char	*slackweb_result_message(enum slackweb_result);

/*
 * What a call that did not succeed left to know.  code: Slack's error
 * code, truncated and safe to log (printable ASCII without quotes or
 * backslashes), "" when there was none.  retry_after: for
 * SLACKWEB_RATELIMITED, the seconds to wait (1 to SLACKWEB_RETRY_MAX),
 * else 0.  detail: Slack's first response_metadata message, made safe as
 * code is, "" when none.
 */
struct slackweb_error {
	char	code[64];
	long	retry_after;
	char	detail[256];
};

/* A view Slack opened or updated. */
struct slackweb_view {
	char	id[SLACKWEB_VIEW_ID_MAX + 1];	/* V + [A-Z0-9] */
	char	hash[SLACKWEB_HASH_MAX + 1];	/* for the next
						   update */
};

/*
 * views.open: opens view_json (a view object, JSON text) for trigger_id
 * with bot_token.  SLACKWEB_OK fills *out (may be NULL).  On
 * SLACKWEB_RATELIMITED with a Retry-After of at most retry_budget_ms, the
 * call waits that long (giving the thread up in a fiber) and is made once
 * more; retry_budget_ms 0 never waits.  A trigger id lives 3 s and serves
 * once: a caller opens its modal before anything slow.  SLACKWEB_ERROR,
 * without a call, when bot_token is not a bot token (xoxb-,
 * xoxe.xoxb-), trigger_id is not of Slack's alphabet (digits, letters,
 * dots) or view_json is not a JSON object within SLACKWEB_VIEW_MAX.  err
 * may be NULL.
 */
enum slackweb_result slackweb_views_open(struct http *,
		    const struct config *, const char *bot_token,
		    const char *trigger_id, const char *view_json,
		    long retry_budget_ms, struct slackweb_view *out,
		    struct slackweb_error *err);

/*
 * views.update: replaces view view_id with view_json.  hash (may be
 * NULL) is the hash of the view as last seen: Slack then refuses the
 * update with SLACKWEB_HASH_CONFLICT when the view changed meanwhile.
 * Otherwise as slackweb_views_open.
 */
enum slackweb_result slackweb_views_update(struct http *,
		    const struct config *, const char *bot_token,
		    const char *view_id, const char *hash,
		    const char *view_json, long retry_budget_ms,
		    struct slackweb_view *out, struct slackweb_error *err);

/*
 * chat.getPermalink: *permalink (allocated; free()) is the link to
 * message message_ts (digits, a dot, digits) of channel (a Slack id).
 * The link must be an https URL, as libcurl would send it, on slack.com
 * or a host under it, or on SLACK_API_URL's host or under it (GovSlack,
 * the tests' stand-in), without user information, of at most
 * SLACKWEB_PERMALINK_MAX bytes; the reply's channel, when given, must be
 * the one asked about.  Otherwise as slackweb_views_open.
 */
enum slackweb_result slackweb_permalink(struct http *,
		    const struct config *, const char *bot_token,
		    const char *channel, const char *message_ts,
		    long retry_budget_ms, char **permalink,
		    struct slackweb_error *err);

/*
 * The readers of those replies: status and retry_after (the seconds of
 * the Retry-After header; 0 or less when there was none) as received,
 * and the body.  slackweb_parse_view fills *out on SLACKWEB_OK;
 * slackweb_parse_permalink checks the link against cfg (as above) and
 * channel (NULL: any).
 */
enum slackweb_result slackweb_parse_view(long status, long retry_after,
		    const char *, size_t, struct slackweb_view *out,
		    struct slackweb_error *err);
enum slackweb_result slackweb_parse_permalink(const struct config *,
		    long status, long retry_after, const char *, size_t,
		    const char *channel, char **permalink,
		    struct slackweb_error *err);

/* The shapes Slack gives its ids, for every reader of Slack's JSON (this
 * module's replies, interactivity payloads): a view id is V and Slack's
 * id alphabet ("VMHU10V25"), a hash "156772938.1827394", a trigger id
 * "398738663015.47445629121.803a0bc887a14d10d2...", each bounded by its
 * _MAX above; a message timestamp is digits, one dot, digits.  Each
 * returns 1 when s (n bytes; slackweb_valid_ts: a C string) has it. */
int		 slackweb_valid_view_id(const char *s, size_t n);
int		 slackweb_valid_hash(const char *s, size_t n);
int		 slackweb_valid_trigger(const char *s, size_t n);
int		 slackweb_valid_ts(const char *s);

#endif

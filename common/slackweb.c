/*
 * slackweb: views.open, views.update and chat.getPermalink with a bot
 * token, and the strict reading of their replies (see slackweb.h).
 *
 * Owns what forcelink asks of Slack on a user's behalf once the app is
 * installed, and what it believes of the answers: the request bodies
 * (the views calls as JSON built with json-c from a view the caller
 * wrote, never spliced as text), the outcome of every error code a
 * caller acts upon, the one retry after a rate limit, and the shapes of
 * a view id, a view hash and a permalink.  It reads no token from a
 * reply and keeps none: the token goes out in the Authorization header
 * only, which the HTTP client never logs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "buf.h"
#include "config.h"
#include "fiber.h"
#include "form.h"
#include "jsonb.h"
#include "http.h"
#include "log.h"
#include "sf.h"
#include "slackweb.h"

#define SLACKWEB_JSON_TYPE	"application/json; charset=utf-8"
#define SLACKWEB_FORM_TYPE	"application/x-www-form-urlencoded"
/* Ceilings of what we build: a view and a little more; a URL. */
#define SLACKWEB_BODY_MAX	(SLACKWEB_VIEW_MAX + 1024)
#define SLACKWEB_URL_MAX	4096

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * The error codes a caller acts upon (Slack's method pages, the modals
 * guide, and codes seen in real replies: expired_trigger_id where the
 * guide says trigger_expired).  Anything else is SLACKWEB_REFUSED.
 */
static const struct {
	const char		*code;
	enum slackweb_result	 result;
} slackweb_codes[] = {
	{ "ratelimited",		SLACKWEB_RATELIMITED },
	{ "rate_limited",		SLACKWEB_RATELIMITED },
	{ "expired_trigger_id",		SLACKWEB_TRIGGER_EXPIRED },
	{ "trigger_expired",		SLACKWEB_TRIGGER_EXPIRED },
	{ "invalid_trigger_id",		SLACKWEB_TRIGGER_INVALID },
	{ "trigger_exchanged",		SLACKWEB_TRIGGER_INVALID },
	{ "exchanged_trigger_id",	SLACKWEB_TRIGGER_INVALID },
	{ "not_authed",			SLACKWEB_REVOKED },
	{ "invalid_auth",		SLACKWEB_REVOKED },
	{ "token_revoked",		SLACKWEB_REVOKED },
	{ "token_expired",		SLACKWEB_REVOKED },
	{ "account_inactive",		SLACKWEB_REVOKED },
	{ "app_uninstalled",		SLACKWEB_REVOKED },
	{ "missing_scope",		SLACKWEB_MISSING_SCOPE },
	{ "view_too_large",		SLACKWEB_BAD_REQUEST },
	{ "invalid_arguments",		SLACKWEB_BAD_REQUEST },
	{ "invalid_blocks",		SLACKWEB_BAD_REQUEST },
	{ "invalid_json",		SLACKWEB_BAD_REQUEST },
	{ "json_not_object",		SLACKWEB_BAD_REQUEST },
	{ "invalid_arg_name",		SLACKWEB_BAD_REQUEST },
	{ "invalid_array_arg",		SLACKWEB_BAD_REQUEST },
	{ "invalid_charset",		SLACKWEB_BAD_REQUEST },
	{ "invalid_form_data",		SLACKWEB_BAD_REQUEST },
	{ "invalid_post_type",		SLACKWEB_BAD_REQUEST },
	{ "missing_post_type",		SLACKWEB_BAD_REQUEST },
	{ "duplicate_external_id",	SLACKWEB_BAD_REQUEST },
	{ "hash_conflict",		SLACKWEB_HASH_CONFLICT },
	{ "not_found",			SLACKWEB_VIEW_NOT_FOUND },
	{ "channel_not_found",		SLACKWEB_CHANNEL_NOT_FOUND },
	{ "message_not_found",		SLACKWEB_MESSAGE_NOT_FOUND },
};

static const struct {
	const char	*word;
	const char	*message;
} slackweb_names[] = {
	[SLACKWEB_OK] = { "ok", "Done." },
	[SLACKWEB_RATELIMITED] = { "ratelimited",
	    "Slack asked forcelink to slow down. Try again in a moment." },
	[SLACKWEB_TRIGGER_EXPIRED] = { "trigger_expired",
	    "Slack's time to open the form ran out. Please try again." },
	[SLACKWEB_TRIGGER_INVALID] = { "trigger_invalid",
	    "Slack no longer accepts this request to open a form (it was "
	    "used already). Please try again." },
	[SLACKWEB_REVOKED] = { "revoked",
	    "forcelink's access to this Slack workspace was revoked: a "
	    "workspace admin must install the app again." },
	[SLACKWEB_MISSING_SCOPE] = { "missing_scope",
	    "The Slack app lacks a permission it needs: a workspace admin "
	    "must install it again." },
	[SLACKWEB_BAD_REQUEST] = { "bad_request",
	    "Slack refused what forcelink sent (a fault in forcelink, now "
	    "logged)." },
	[SLACKWEB_HASH_CONFLICT] = { "hash_conflict",
	    "The form changed meanwhile; the newer version was kept." },
	[SLACKWEB_VIEW_NOT_FOUND] = { "view_not_found",
	    "That form is closed." },
	[SLACKWEB_CHANNEL_NOT_FOUND] = { "channel_not_found",
	    "forcelink cannot see that conversation: add the app to it "
	    "first." },
	[SLACKWEB_MESSAGE_NOT_FOUND] = { "message_not_found",
	    "That message no longer exists." },
	[SLACKWEB_REFUSED] = { "refused",
	    "Slack refused the request (the reason is logged)." },
	[SLACKWEB_TRANSIENT] = { "transient",
	    "Slack could not be reached. Try again in a moment." },
	[SLACKWEB_MALFORMED] = { "malformed",
	    "Slack's answer could not be read. Try again in a moment." },
	[SLACKWEB_ERROR] = { "error",
	    "forcelink could not make the request (the reason is logged)." },
};

const char *
slackweb_result_str(enum slackweb_result r)
{
	if ((size_t)r >= NELEM(slackweb_names))
		r = SLACKWEB_ERROR;
	return slackweb_names[r].word;
}

const char *
slackweb_result_message(enum slackweb_result r)
{
	if ((size_t)r >= NELEM(slackweb_names))
		r = SLACKWEB_ERROR;
	return slackweb_names[r].message;
}

/* ------------------------------------------------------------------ */
/* Shapes. */

/* Whether all n bytes of s are in set or are ASCII letters or digits
 * (upper only: only upper-case letters), and 1 <= n <= max. */
static int
slackweb_charset(const char *s, size_t n, size_t max, int upper,
    const char *set)
{
	size_t	 i;
	char	 c;

	if (n == 0 || n > max || strlen(s) != n)
		return 0;
	for (i = 0; i < n; i++) {
		c = s[i];
		if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		    (!upper && c >= 'a' && c <= 'z') ||
		    (c != '\0' && strchr(set, c) != NULL))
			continue;
		return 0;
	}
	return 1;
}

/* A view id: V and Slack's id alphabet ("VMHU10V25"). */
int
slackweb_valid_view_id(const char *s, size_t n)
{
	return n >= 2 && s[0] == 'V' &&
	    slackweb_charset(s, n, SLACKWEB_VIEW_ID_MAX, 1, "");
}

/* A view hash ("156772938.1827394"). */
int
slackweb_valid_hash(const char *s, size_t n)
{
	return slackweb_charset(s, n, SLACKWEB_HASH_MAX, 0, "._-");
}

/* A trigger id ("398738663015.47445629121.803a0bc887a14d10d2..."). */
int
slackweb_valid_trigger(const char *s, size_t n)
{
	return slackweb_charset(s, n, SLACKWEB_TRIGGER_MAX, 0, ".");
}

/* A message timestamp: digits, one dot, digits ("1405894322.002768"). */
int
slackweb_valid_ts(const char *s)
{
	size_t	 a, b;

	a = strspn(s, "0123456789");
	if (a == 0 || a > 20 || s[a] != '.')
		return 0;
	b = strspn(s + a + 1, "0123456789");
	return b > 0 && b <= 20 && s[a + 1 + b] == '\0';
}

/* Whether host is domain or a name under it. */
static int
slackweb_host_under(const char *host, const char *domain)
{
	size_t	 h = strlen(host), d = strlen(domain);

	if (d == 0 || h < d)
		return 0;
	if (strcasecmp(host + (h - d), domain) != 0)
		return 0;
	return h == d || host[h - d - 1] == '.';
}

/*
 * A permalink: printable ASCII without what would break Slack markup
 * (<url|label>) or a JSON string, an https URL that libcurl sends as
 * written, on slack.com or under it, or on SLACK_API_URL's host or under
 * it.
 */
static int
slackweb_valid_permalink(const struct config *cfg, const char *s, size_t n)
{
	char	 host[256], api[256];
	size_t	 i;

	if (n == 0 || n > SLACKWEB_PERMALINK_MAX || strlen(s) != n ||
	    strncmp(s, "https://", 8) != 0)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~' || strchr("<>|\"\\`", s[i]))
			return 0;
	if (http_url_host(s, host, sizeof(host)) == -1 ||
	    !http_url_as_sent(s))
		return 0;
	if (slackweb_host_under(host, "slack.com"))
		return 1;
	return cfg != NULL && cfg->slack_api_url != NULL &&
	    http_url_host(cfg->slack_api_url, api, sizeof(api)) == 0 &&
	    slackweb_host_under(host, api);
}

/* ------------------------------------------------------------------ */
/* Reading replies. */

/* Copies string s into out (size n), truncated, with every byte but
 * printable ASCII (and the quote and backslash; spaces unless spaces)
 * replaced by '?'. */
static void
slackweb_safe_copy(char *out, size_t n, const char *s, int spaces)
{
	size_t	 i;

	for (i = 0; i + 1 < n && s[i] != '\0'; i++)
		out[i] = ((s[i] > ' ' || (spaces && s[i] == ' ')) &&
		    s[i] <= '~' && s[i] != '"' && s[i] != '\\') ? s[i] : '?';
	out[i] = '\0';
}

/* Fills err's code and detail from an error reply. */
static void
slackweb_error_copy(struct json_object *root, struct slackweb_error *err)
{
	struct json_object	*v, *m;

	if (root == NULL || !json_object_is_type(root, json_type_object))
		return;
	if (json_object_object_get_ex(root, "error", &v) &&
	    json_object_is_type(v, json_type_string))
		slackweb_safe_copy(err->code, sizeof(err->code),
		    json_object_get_string(v), 0);
	if (json_object_object_get_ex(root, "response_metadata", &v) &&
	    json_object_is_type(v, json_type_object) &&
	    json_object_object_get_ex(v, "messages", &m) &&
	    json_object_is_type(m, json_type_array) &&
	    json_object_array_length(m) > 0 &&
	    (v = json_object_array_get_idx(m, 0)) != NULL &&
	    json_object_is_type(v, json_type_string))
		slackweb_safe_copy(err->detail, sizeof(err->detail),
		    json_object_get_string(v), 1);
}

/* The outcome of an error code. */
static enum slackweb_result
slackweb_classify(const char *code)
{
	size_t	 i;

	for (i = 0; i < NELEM(slackweb_codes); i++)
		if (strcmp(code, slackweb_codes[i].code) == 0)
			return slackweb_codes[i].result;
	return SLACKWEB_REFUSED;
}

/* The wait believed: Retry-After's seconds, bounded, or the default. */
static long
slackweb_wait(long retry_after)
{
	if (retry_after <= 0)
		return SLACKWEB_RETRY_DEFAULT;
	return retry_after > SLACKWEB_RETRY_MAX ? SLACKWEB_RETRY_MAX :
	    retry_after;
}

/*
 * Parses a reply and sorts out the envelope.  Returns SLACKWEB_OK with
 * *root an object whose "ok" is true (the caller puts it); otherwise
 * the outcome, with err filled, and *root NULL.
 */
static enum slackweb_result
slackweb_envelope(long status, long retry_after, const char *s, size_t len,
    struct json_object **root, struct slackweb_error *err)
{
	struct json_object	*r = NULL, *v;
	enum slackweb_result	 rv = SLACKWEB_MALFORMED;

	*root = NULL;
	memset(err, 0, sizeof(*err));
	if (status >= 500 && status <= 599)
		return SLACKWEB_TRANSIENT;
	r = s != NULL ? sf_json_parse_strict(s, len) : NULL;
	/* A 429's body ({"ok":false,"error":"ratelimited"}) is a courtesy:
	 * the status decides. */
	if (status == 429) {
		slackweb_error_copy(r, err);
		if (err->code[0] == '\0')
			snprintf(err->code, sizeof(err->code), "ratelimited");
		err->retry_after = slackweb_wait(retry_after);
		rv = SLACKWEB_RATELIMITED;
		goto out;
	}
	if (r == NULL || !json_object_is_type(r, json_type_object) ||
	    !json_object_object_get_ex(r, "ok", &v) ||
	    !json_object_is_type(v, json_type_boolean))
		goto out;
	if (!json_object_get_boolean(v)) {
		slackweb_error_copy(r, err);
		if (err->code[0] == '\0')
			goto out;
		rv = slackweb_classify(err->code);
		if (rv == SLACKWEB_RATELIMITED)
			err->retry_after = slackweb_wait(retry_after);
		goto out;
	}
	/* "ok":true with another status is not what Slack does. */
	if (status != 200)
		goto out;
	*root = r;
	return SLACKWEB_OK;
out:
	json_object_put(r);
	return rv;
}

enum slackweb_result
slackweb_parse_view(long status, long retry_after, const char *s,
    size_t len, struct slackweb_view *out, struct slackweb_error *err)
{
	struct slackweb_error	 local;
	struct slackweb_view	 v;
	struct json_object	*root, *view;
	enum slackweb_result	 rv;
	const char		*id, *hash;
	size_t			 idn, hashn;

	memset(&v, 0, sizeof(v));
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (err == NULL)
		err = &local;
	if ((rv = slackweb_envelope(status, retry_after, s, len, &root,
	    err)) != SLACKWEB_OK)
		return rv;
	rv = SLACKWEB_MALFORMED;
	if (!json_object_object_get_ex(root, "view", &view) ||
	    !json_object_is_type(view, json_type_object) ||
	    jsonb_str(view, "id", &id, &idn) != 1 ||
	    !slackweb_valid_view_id(id, idn) ||
	    jsonb_str(view, "hash", &hash, &hashn) != 1 ||
	    !slackweb_valid_hash(hash, hashn))
		goto out;
	memcpy(v.id, id, idn);
	memcpy(v.hash, hash, hashn);
	if (out != NULL)
		*out = v;
	rv = SLACKWEB_OK;
out:
	json_object_put(root);
	return rv;
}

enum slackweb_result
slackweb_parse_permalink(const struct config *cfg, long status,
    long retry_after, const char *s, size_t len, const char *channel,
    char **permalink, struct slackweb_error *err)
{
	struct slackweb_error	 local;
	struct json_object	*root, *v;
	enum slackweb_result	 rv;
	const char		*p, *ch;
	size_t			 n, chn;

	*permalink = NULL;
	if (err == NULL)
		err = &local;
	if ((rv = slackweb_envelope(status, retry_after, s, len, &root,
	    err)) != SLACKWEB_OK)
		return rv;
	rv = SLACKWEB_MALFORMED;
	if (jsonb_str(root, "permalink", &p, &n) != 1 ||
	    !slackweb_valid_permalink(cfg, p, n))
		goto out;
	/* The channel is optional in the reply; when there, it is ours. */
	if (json_object_object_get_ex(root, "channel", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		if (jsonb_str(root, "channel", &ch, &chn) != 1 ||
		    (channel != NULL && (chn != strlen(channel) ||
		    memcmp(ch, channel, chn) != 0)))
			goto out;
	}
	rv = (*permalink = strndup(p, n)) != NULL ? SLACKWEB_OK :
	    SLACKWEB_ERROR;
out:
	json_object_put(root);
	return rv;
}

/* ------------------------------------------------------------------ */
/* Building and sending requests. */

/* One call: what to send, and where its reply goes. */
struct slackweb_call {
	const struct config	*cfg;
	const char		*method;
	const char		*ctype;
	char			*body;		/* allocated */
	const char		*channel;	/* chat.getPermalink */
	char			**permalink;	/* chat.getPermalink */
	struct slackweb_view	*view;		/* the views calls */
};

/*
 * Returns the JSON body {"view_id"|"trigger_id": key, ["hash": hash,]
 * "view": <view_json>} (allocated), or NULL when view_json is not a JSON
 * object of at most SLACKWEB_VIEW_MAX bytes, or on memory exhaustion.
 * The view is parsed and written again, so nothing in it can break out
 * of its place.
 */
static char *
slackweb_view_body(const char *keyname, const char *key, const char *hash,
    const char *view_json)
{
	struct json_object	*root = NULL, *view = NULL;
	const char		*s;
	char			*body = NULL;
	size_t			 n;

	if (view_json == NULL || (n = strlen(view_json)) > SLACKWEB_VIEW_MAX ||
	    (view = sf_json_parse_strict(view_json, n)) == NULL ||
	    !json_object_is_type(view, json_type_object) ||
	    (root = json_object_new_object()) == NULL)
		goto out;
	if (json_object_object_add(root, keyname,
	    json_object_new_string(key)) != 0 ||
	    (hash != NULL && json_object_object_add(root, "hash",
	    json_object_new_string(hash)) != 0) ||
	    json_object_object_add(root, "view", view) != 0)
		goto out;
	view = NULL;
	if ((s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE)) == NULL ||
	    strlen(s) > SLACKWEB_BODY_MAX)
		goto out;
	body = strdup(s);
out:
	json_object_put(view);
	json_object_put(root);
	return body;
}

/* Reads the reply of call c. */
static enum slackweb_result
slackweb_read(const struct slackweb_call *c, long status, long retry_after,
    const struct http_response *resp, struct slackweb_error *err)
{
	if (c->permalink != NULL)
		return slackweb_parse_permalink(c->cfg, status, retry_after,
		    resp->body.data, resp->body.len, c->channel, c->permalink,
		    err);
	return slackweb_parse_view(status, retry_after, resp->body.data,
	    resp->body.len, c->view, err);
}

/* Logs a call that did not succeed: method, status, Slack's code, and
 * what else helps (the wait; Slack's explanation of our mistake). */
static void
slackweb_log(const struct slackweb_call *c, long status,
    enum slackweb_result rv, const struct slackweb_error *err)
{
	if (rv == SLACKWEB_RATELIMITED)
		log_warn("call=%s status=%ld code=\"%s\" result=%s "
		    "retry_after=%ld", c->method, status, err->code,
		    slackweb_result_str(rv), err->retry_after);
	else if (rv == SLACKWEB_BAD_REQUEST)
		log_error("call=%s status=%ld code=\"%s\" result=%s "
		    "detail=\"%s\"", c->method, status, err->code,
		    slackweb_result_str(rv), err->detail);
	else
		log_warn("call=%s status=%ld code=\"%s\" result=%s",
		    c->method, status, err->code, slackweb_result_str(rv));
}

/*
 * POSTs c with bearer and reads the reply; once more after a rate limit
 * whose wait fits in budget_ms.  Returns the outcome; logs failures.
 */
static enum slackweb_result
slackweb_run(struct http *h, const struct slackweb_call *c,
    const char *bearer, long budget_ms, struct slackweb_error *err)
{
	struct http_response	 resp;
	struct buf		 url;
	enum slackweb_result	 rv = SLACKWEB_ERROR;
	enum http_result	 hr;
	int			 attempt;

	buf_init(&url, SLACKWEB_URL_MAX);
	if (c->cfg->slack_api_url == NULL || c->body == NULL ||
	    buf_printf(&url, "%s/%s", c->cfg->slack_api_url, c->method) ==
	    -1) {
		log_error("call=%s msg=\"cannot build the request\"",
		    c->method);
		goto out;
	}
	for (attempt = 0; attempt < 2; attempt++) {
		http_response_init(&resp);
		hr = http_request(h, "POST", buf_cstr(&url), bearer, c->ctype,
		    c->body, &resp);
		if (hr == HTTP_OK) {
			rv = slackweb_read(c, resp.status, resp.retry_after,
			    &resp, err);
			if (rv != SLACKWEB_OK)
				slackweb_log(c, resp.status, rv, err);
		} else if (hr == HTTP_TOOBIG) {
			log_warn("call=%s msg=\"reply too large\"", c->method);
			rv = SLACKWEB_MALFORMED;
		} else if (hr == HTTP_REFUSED) {
			log_error("call=%s msg=\"URL refused\"", c->method);
			rv = SLACKWEB_ERROR;
		} else {
			log_warn("call=%s result=%s", c->method,
			    http_result_str(hr));
			rv = SLACKWEB_TRANSIENT;
		}
		http_response_free(&resp);
		if (rv != SLACKWEB_RATELIMITED || attempt > 0 ||
		    err->retry_after * 1000 > budget_ms)
			break;
		log_event(LOGL_INFO, "slackweb.retry", "call=%s wait_s=%ld",
		    c->method, err->retry_after);
		fiber_sleep(err->retry_after * 1000);
	}
out:
	buf_free(&url);
	return rv;
}

/* The checks every call makes before it goes out. */
static int
slackweb_args_ok(const char *method, const char *bot_token)
{
	if (bot_token == NULL || !config_valid_bot_token(bot_token)) {
		log_error("call=%s msg=\"not a bot token\"", method);
		return 0;
	}
	return 1;
}

/* What views.open and views.update share once their arguments are
 * checked: the body ({key: id, "hash", "view"}) and the call. */
static enum slackweb_result
slackweb_view_call(struct http *h, struct slackweb_call *c,
    const char *bot_token, const char *key, const char *id,
    const char *hash, const char *view_json, long retry_budget_ms,
    struct slackweb_error *err)
{
	enum slackweb_result	 rv;

	if ((c->body = slackweb_view_body(key, id, hash, view_json)) ==
	    NULL) {
		log_error("call=%s msg=\"the view is not a JSON object of at "
		    "most %d bytes\"", c->method, SLACKWEB_VIEW_MAX);
		return SLACKWEB_ERROR;
	}
	rv = slackweb_run(h, c, bot_token, retry_budget_ms, err);
	free(c->body);
	c->body = NULL;
	return rv;
}

enum slackweb_result
slackweb_views_open(struct http *h, const struct config *cfg,
    const char *bot_token, const char *trigger_id, const char *view_json,
    long retry_budget_ms, struct slackweb_view *out,
    struct slackweb_error *err)
{
	struct slackweb_call	 c = { cfg, "views.open",
	    SLACKWEB_JSON_TYPE, NULL, NULL, NULL, out };
	struct slackweb_error	 local;
	enum slackweb_result	 rv = SLACKWEB_ERROR;

	if (err == NULL)
		err = &local;
	memset(err, 0, sizeof(*err));
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (!slackweb_args_ok(c.method, bot_token))
		return rv;
	if (trigger_id == NULL ||
	    !slackweb_valid_trigger(trigger_id, strlen(trigger_id))) {
		log_error("call=%s msg=\"bad trigger id\"", c.method);
		return rv;
	}
	return slackweb_view_call(h, &c, bot_token, "trigger_id", trigger_id,
	    NULL, view_json, retry_budget_ms, err);
}

enum slackweb_result
slackweb_views_update(struct http *h, const struct config *cfg,
    const char *bot_token, const char *view_id, const char *hash,
    const char *view_json, long retry_budget_ms, struct slackweb_view *out,
    struct slackweb_error *err)
{
	struct slackweb_call	 c = { cfg, "views.update",
	    SLACKWEB_JSON_TYPE, NULL, NULL, NULL, out };
	struct slackweb_error	 local;
	enum slackweb_result	 rv = SLACKWEB_ERROR;

	if (err == NULL)
		err = &local;
	memset(err, 0, sizeof(*err));
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (!slackweb_args_ok(c.method, bot_token))
		return rv;
	if (view_id == NULL ||
	    !slackweb_valid_view_id(view_id, strlen(view_id)) ||
	    (hash != NULL && !slackweb_valid_hash(hash, strlen(hash)))) {
		log_error("call=%s msg=\"bad view id or hash\"", c.method);
		return rv;
	}
	return slackweb_view_call(h, &c, bot_token, "view_id", view_id, hash,
	    view_json, retry_budget_ms, err);
}

enum slackweb_result
slackweb_permalink(struct http *h, const struct config *cfg,
    const char *bot_token, const char *channel, const char *message_ts,
    long retry_budget_ms, char **permalink, struct slackweb_error *err)
{
	struct slackweb_call	 c = { cfg, "chat.getPermalink",
	    SLACKWEB_FORM_TYPE, NULL, channel, permalink, NULL };
	struct slackweb_error	 local;
	struct buf		 body;
	enum slackweb_result	 rv = SLACKWEB_ERROR;

	*permalink = NULL;
	if (err == NULL)
		err = &local;
	memset(err, 0, sizeof(*err));
	if (!slackweb_args_ok(c.method, bot_token))
		return rv;
	if (channel == NULL || message_ts == NULL ||
	    !form_valid_slack_id(channel, strlen(channel)) ||
	    !slackweb_valid_ts(message_ts)) {
		log_error("call=%s msg=\"bad channel or message_ts\"",
		    c.method);
		return rv;
	}
	/* Both are of a plain alphabet: nothing to encode. */
	buf_init(&body, SLACKWEB_URL_MAX);
	if (buf_printf(&body, "channel=%s&message_ts=%s", channel,
	    message_ts) == -1) {
		buf_free(&body);
		return rv;
	}
	c.body = buf_detach(&body);
	buf_free(&body);
	rv = slackweb_run(h, &c, bot_token, retry_budget_ms, err);
	free(c.body);
	return rv;
}

/*
 * slackapi: Slack Web API calls and the strict reading of their replies
 * (see slackapi.h).
 *
 * Owns what forcelink says to Slack's API and what it believes from it:
 * the form bodies of oauth.v2.access, the authorize URL, and the reading
 * of oauth.v2.access and auth.test replies.  A reply is read only after
 * all of it parsed as strict JSON; "ok" must be a boolean; an error
 * reply's code is copied in a form safe to log and classified; a success
 * must have every field used, of the documented type and shape.  The
 * tokens inside a parsed reply are wiped before the reply is released,
 * user tokens (authed_user) included, although forcelink never asks for
 * one.  Transport trouble of any kind is SLACKAPI_TRANSIENT.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "config.h"
#include "crypto.h"
#include "form.h"
#include "http.h"
#include "jsonb.h"
#include "keyring.h"
#include "log.h"
#include "sf.h"
#include "slack.h"
#include "slackapi.h"

#define SLACKAPI_FORM_TYPE	"application/x-www-form-urlencoded"
/* Ceilings of what we build. */
#define SLACKAPI_BODY_MAX	(16 * 1024)
#define SLACKAPI_URL_MAX	(16 * 1024)

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * The error codes after which a refresh can never succeed: the refresh
 * token is spent, revoked or not ours any more, or the installation is
 * gone.  Anything else (invalid_client_id, bad_client_secret,
 * ratelimited, internal_error ...) is a problem of configuration or of
 * the moment, and the installation keeps its tokens.
 */
static const char *const slackapi_revoked_codes[] = {
	"invalid_refresh_token",
	"invalid_grant",
	"token_revoked",
	"token_expired",
	"invalid_auth",
	"account_inactive",
	"app_uninstalled",
	"not_authed",
};

const char *
slackapi_result_str(enum slackapi_result r)
{
	switch (r) {
	case SLACKAPI_OK:
		return "ok";
	case SLACKAPI_REFUSED:
		return "refused";
	case SLACKAPI_REVOKED:
		return "revoked";
	case SLACKAPI_TRANSIENT:
		return "transient";
	case SLACKAPI_MALFORMED:
		return "malformed";
	case SLACKAPI_ERROR:
		break;
	}
	return "error";
}

/* ------------------------------------------------------------------ */
/* Validators. */

/* A Slack id: 1 to SLACK_ID_MAX of [A-Z0-9]. */
static int
slackapi_valid_id(const char *s, size_t n)
{
	return form_valid_slack_id(s, n);
}

/* Printable ASCII without spaces: what a token or a scope list is. */
static int
slackapi_valid_opaque(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return 0;
	return n > 0;
}

/* A bot token: xoxb- or, with token rotation, xoxe.xoxb-. */
static int
slackapi_valid_bot_token(const char *s, size_t n)
{
	if (!slackapi_valid_opaque(s, n))
		return 0;
	return (n > 5 && strncmp(s, "xoxb-", 5) == 0) ||
	    (n > 10 && strncmp(s, "xoxe.xoxb-", 10) == 0);
}

/* A refresh token: xoxe- (Slack's are xoxe-1-...). */
static int
slackapi_valid_refresh(const char *s, size_t n)
{
	return slackapi_valid_opaque(s, n) && n > 5 &&
	    strncmp(s, "xoxe-", 5) == 0;
}

/* ------------------------------------------------------------------ */
/* Reading replies. */

/*
 * Copies string member key of obj into *out (allocated).  An absent or
 * null member leaves *out NULL (SLACKAPI_MALFORMED when required), as
 * does "" when empty_is_null.  Returns SLACKAPI_OK; SLACKAPI_MALFORMED
 * when the member is not a string, is longer than max, holds a NUL or
 * fails valid (NULL: any); SLACKAPI_ERROR on memory exhaustion.
 */
static enum slackapi_result
slackapi_str(struct json_object *obj, const char *key, size_t max,
    int required, int (*valid)(const char *, size_t), char **out)
{
	const char		*s;
	size_t			 len;
	int			 m;

	*out = NULL;
	if ((m = jsonb_str(obj, key, &s, &len)) == 0)
		return required ? SLACKAPI_MALFORMED : SLACKAPI_OK;
	if (m == -1 || len > max)
		return SLACKAPI_MALFORMED;
	if (len == 0 && valid != NULL)
		return required ? SLACKAPI_MALFORMED : SLACKAPI_OK;
	if (valid != NULL && !valid(s, len))
		return SLACKAPI_MALFORMED;
	if ((*out = strndup(s, len)) == NULL)
		return SLACKAPI_ERROR;
	return SLACKAPI_OK;
}

/* Reads boolean member key (absent or null: 0).  Returns 0, or -1 when
 * it is something else. */
static int
slackapi_bool(struct json_object *obj, const char *key, int *out)
{
	struct json_object	*v;

	*out = 0;
	if (!json_object_object_get_ex(obj, key, &v) ||
	    json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return -1;
	*out = json_object_get_boolean(v) ? 1 : 0;
	return 0;
}

/* Overwrites string member key of obj (a token) in place. */
static void
slackapi_wipe_member(struct json_object *obj, const char *key)
{
	struct json_object	*v;

	if (obj != NULL && json_object_is_type(obj, json_type_object) &&
	    json_object_object_get_ex(obj, key, &v) &&
	    json_object_is_type(v, json_type_string))
		crypto_wipe((char *)(uintptr_t)json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
}

/* Wipes every token a reply may carry: the bot's and the installing
 * user's (authed_user), access and refresh. */
static void
slackapi_wipe(struct json_object *root)
{
	struct json_object	*u;

	slackapi_wipe_member(root, "access_token");
	slackapi_wipe_member(root, "refresh_token");
	if (root != NULL && json_object_is_type(root, json_type_object) &&
	    json_object_object_get_ex(root, "authed_user", &u)) {
		slackapi_wipe_member(u, "access_token");
		slackapi_wipe_member(u, "refresh_token");
	}
}

/* Copies the "error" member into err->code, truncated, with everything
 * but printable ASCII (and the quote and backslash) replaced. */
static void
slackapi_error_copy(struct json_object *root, struct slackapi_error *err)
{
	struct json_object	*v;
	const char		*s;
	size_t			 i;

	err->code[0] = '\0';
	if (root == NULL || !json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "error", &v) ||
	    !json_object_is_type(v, json_type_string))
		return;
	s = json_object_get_string(v);
	for (i = 0; i + 1 < sizeof(err->code) && s[i] != '\0'; i++)
		err->code[i] = (s[i] > ' ' && s[i] <= '~' && s[i] != '"' &&
		    s[i] != '\\') ? s[i] : '?';
	err->code[i] = '\0';
}

/* Whether an error code means a refresh (or the token) is dead for
 * good. */
static int
slackapi_revoked(const char *code)
{
	size_t	 i;

	for (i = 0; i < NELEM(slackapi_revoked_codes); i++)
		if (strcmp(code, slackapi_revoked_codes[i]) == 0)
			return 1;
	return 0;
}

/*
 * Parses a reply and sorts out the envelope.  Returns SLACKAPI_OK with
 * *root an object whose "ok" is true (the caller puts it); otherwise the
 * class of the failure, with err->code filled for an "ok":false reply,
 * and *root NULL.  dead_codes: whether the revoked codes are
 * SLACKAPI_REVOKED (a refresh, auth.test) or merely SLACKAPI_REFUSED (a
 * code exchange, where nothing existed to be revoked).
 */
static enum slackapi_result
slackapi_envelope(long status, const char *s, size_t len, int dead_codes,
    struct json_object **root, struct slackapi_error *err)
{
	struct json_object	*r, *v;
	enum slackapi_result	 rv = SLACKAPI_MALFORMED;
	int			 ok;

	*root = NULL;
	err->code[0] = '\0';
	/* Slack's own trouble, and its rate limit, pass. */
	if (status == 429 || (status >= 500 && status <= 599))
		return SLACKAPI_TRANSIENT;
	if ((r = sf_json_parse_strict(s, len)) == NULL ||
	    !json_object_is_type(r, json_type_object) ||
	    !json_object_object_get_ex(r, "ok", &v) ||
	    !json_object_is_type(v, json_type_boolean))
		goto out;
	ok = json_object_get_boolean(v);
	if (!ok) {
		slackapi_error_copy(r, err);
		if (err->code[0] == '\0')
			goto out;
		rv = dead_codes && slackapi_revoked(err->code) ?
		    SLACKAPI_REVOKED : SLACKAPI_REFUSED;
		goto out;
	}
	/* "ok":true with another status is not what Slack does. */
	if (status != 200)
		goto out;
	*root = r;
	return SLACKAPI_OK;
out:
	slackapi_wipe(r);
	json_object_put(r);
	return rv;
}

/*
 * Reads {"id":..., "name":...} member key of root into *id and *name.
 * Absent or null leaves both NULL.  Returns as slackapi_str.
 */
static enum slackapi_result
slackapi_named(struct json_object *root, const char *key, char **id,
    char **name)
{
	struct json_object	*o;
	enum slackapi_result	 rv;

	*id = *name = NULL;
	if (!json_object_object_get_ex(root, key, &o) ||
	    json_object_is_type(o, json_type_null))
		return SLACKAPI_OK;
	if (!json_object_is_type(o, json_type_object))
		return SLACKAPI_MALFORMED;
	if ((rv = slackapi_str(o, "id", SLACK_ID_MAX, 1, slackapi_valid_id,
	    id)) != SLACKAPI_OK ||
	    (rv = slackapi_str(o, "name", SLACKAPI_NAME_MAX, 0, NULL,
	    name)) != SLACKAPI_OK)
		return rv;
	/* A name that is absent reads as "", never as NULL beside an id. */
	if (*name == NULL && (*name = strdup("")) == NULL)
		return SLACKAPI_ERROR;
	return SLACKAPI_OK;
}

/* Reads expires_in: absent or null is 0; else an integer 1 to
 * SLACKAPI_EXPIRES_MAX.  Returns 0, or -1. */
static int
slackapi_expires(struct json_object *root, long *out)
{
	struct json_object	*v;
	int64_t			 n;

	*out = 0;
	if (!json_object_object_get_ex(root, "expires_in", &v) ||
	    json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -1;
	n = json_object_get_int64(v);
	if (n < 1 || n > SLACKAPI_EXPIRES_MAX)
		return -1;
	*out = (long)n;
	return 0;
}

/* Reads the members of a bot grant from an "ok":true reply. */
static enum slackapi_result
slackapi_grant_fields(struct json_object *root, struct slackapi_grant *g)
{
	struct json_object	*u;
	enum slackapi_result	 rv;
	char			*type = NULL;

	if ((rv = slackapi_str(root, "token_type", 16, 1, slackapi_valid_opaque,
	    &type)) != SLACKAPI_OK)
		return rv;
	rv = strcmp(type, "bot") == 0 ? SLACKAPI_OK : SLACKAPI_MALFORMED;
	free(type);
	if (rv != SLACKAPI_OK ||
	    (rv = slackapi_str(root, "access_token", SLACKAPI_TOKEN_MAX, 1,
	    slackapi_valid_bot_token, &g->access_token)) != SLACKAPI_OK ||
	    (rv = slackapi_str(root, "refresh_token", SLACKAPI_TOKEN_MAX, 0,
	    slackapi_valid_refresh, &g->refresh_token)) != SLACKAPI_OK ||
	    (rv = slackapi_str(root, "scope", SLACKAPI_SCOPE_MAX, 1,
	    slackapi_valid_opaque, &g->scope)) != SLACKAPI_OK ||
	    (rv = slackapi_str(root, "bot_user_id", SLACK_ID_MAX, 1,
	    slackapi_valid_id, &g->bot_user_id)) != SLACKAPI_OK ||
	    (rv = slackapi_str(root, "app_id", SLACK_ID_MAX, 1,
	    slackapi_valid_id, &g->app_id)) != SLACKAPI_OK)
		return rv;
	if (slackapi_expires(root, &g->expires_in) == -1 ||
	    slackapi_bool(root, "is_enterprise_install",
	    &g->is_enterprise_install) == -1)
		return SLACKAPI_MALFORMED;
	/* A refresh token is useless without knowing when to use it. */
	if (g->refresh_token != NULL && g->expires_in == 0)
		return SLACKAPI_MALFORMED;
	if ((rv = slackapi_named(root, "enterprise", &g->enterprise_id,
	    &g->enterprise_name)) != SLACKAPI_OK)
		return rv;
	/* An org-wide install has no team ("team": null): it is keyed by
	 * the enterprise alone, whatever a team member may say. */
	if (!g->is_enterprise_install && (rv = slackapi_named(root, "team",
	    &g->team_id, &g->team_name)) != SLACKAPI_OK)
		return rv;
	if (g->is_enterprise_install ? g->enterprise_id == NULL :
	    g->team_id == NULL)
		return SLACKAPI_MALFORMED;
	if (json_object_object_get_ex(root, "authed_user", &u) &&
	    !json_object_is_type(u, json_type_null)) {
		if (!json_object_is_type(u, json_type_object))
			return SLACKAPI_MALFORMED;
		if ((rv = slackapi_str(u, "id", SLACK_ID_MAX, 0,
		    slackapi_valid_id, &g->installer_user_id)) != SLACKAPI_OK)
			return rv;
	}
	return SLACKAPI_OK;
}

enum slackapi_result
slackapi_parse_grant(long status, const char *s, size_t len, int refresh,
    struct slackapi_grant *out, struct slackapi_error *err)
{
	struct slackapi_grant	 g;
	struct slackapi_error	 local;
	struct json_object	*root;
	enum slackapi_result	 rv;

	memset(&g, 0, sizeof(g));
	memset(out, 0, sizeof(*out));
	if (err == NULL)
		err = &local;
	if ((rv = slackapi_envelope(status, s, len, refresh, &root, err)) !=
	    SLACKAPI_OK)
		return rv;
	rv = slackapi_grant_fields(root, &g);
	slackapi_wipe(root);
	json_object_put(root);
	if (rv == SLACKAPI_OK)
		*out = g;
	else
		slackapi_grant_free(&g);
	return rv;
}

enum slackapi_result
slackapi_parse_identity(long status, const char *s, size_t len,
    struct slackapi_identity *out, struct slackapi_error *err)
{
	struct slackapi_identity id;
	struct slackapi_error	 local;
	struct json_object	*root;
	enum slackapi_result	 rv;

	memset(&id, 0, sizeof(id));
	memset(out, 0, sizeof(*out));
	if (err == NULL)
		err = &local;
	if ((rv = slackapi_envelope(status, s, len, 1, &root, err)) !=
	    SLACKAPI_OK)
		return rv;
	/* team_id and enterprise_id may be null or "" (outside a grid,
	 * or an org-wide token). */
	if ((rv = slackapi_str(root, "user_id", SLACK_ID_MAX, 1,
	    slackapi_valid_id, &id.user_id)) != SLACKAPI_OK ||
	    (rv = slackapi_str(root, "bot_id", SLACK_ID_MAX, 0,
	    slackapi_valid_id, &id.bot_id)) != SLACKAPI_OK ||
	    (rv = slackapi_str(root, "team_id", SLACK_ID_MAX, 0,
	    slackapi_valid_id, &id.team_id)) != SLACKAPI_OK ||
	    (rv = slackapi_str(root, "enterprise_id", SLACK_ID_MAX, 0,
	    slackapi_valid_id, &id.enterprise_id)) != SLACKAPI_OK)
		goto out;
	if (slackapi_bool(root, "is_enterprise_install",
	    &id.is_enterprise_install) == -1)
		rv = SLACKAPI_MALFORMED;
out:
	json_object_put(root);
	if (rv == SLACKAPI_OK)
		*out = id;
	else
		slackapi_identity_free(&id);
	return rv;
}

void
slackapi_grant_free(struct slackapi_grant *g)
{
	if (g == NULL)
		return;
	crypto_free_secret(g->access_token);
	crypto_free_secret(g->refresh_token);
	free(g->scope);
	free(g->bot_user_id);
	free(g->app_id);
	free(g->team_id);
	free(g->team_name);
	free(g->enterprise_id);
	free(g->enterprise_name);
	free(g->installer_user_id);
	memset(g, 0, sizeof(*g));
}

void
slackapi_identity_free(struct slackapi_identity *id)
{
	if (id == NULL)
		return;
	free(id->user_id);
	free(id->bot_id);
	free(id->team_id);
	free(id->enterprise_id);
	memset(id, 0, sizeof(*id));
}

/* ------------------------------------------------------------------ */
/* Building and sending requests. */

/*
 * Appends key=value pairs (kv holds n keys and values, alternating),
 * values percent-encoded, separated by '&'.  Returns 0, or -1 when a
 * value is NULL or past b's ceiling.
 */
static int
slackapi_pairs(struct buf *b, const char *const *kv, size_t n)
{
	size_t	 i;

	for (i = 0; i + 1 < n; i += 2)
		if (kv[i + 1] == NULL ||
		    (i > 0 && buf_putc(b, '&') == -1) ||
		    buf_puts(b, kv[i]) == -1 || buf_putc(b, '=') == -1 ||
		    form_urlencode(b, kv[i + 1]) == -1)
			return -1;
	return 0;
}

char *
slackapi_authorize_url(const struct config *cfg, const char *state)
{
	const char *const kv[] = {
		"client_id", cfg->slack_client_id,
		/* The email proof reads profiles' emails (users.info). */
		"scope", (cfg->link_proof & CONFIG_PROOF_EMAIL) ?
		    SLACKAPI_SCOPES "," SLACKAPI_EMAIL_SCOPES : SLACKAPI_SCOPES,
		"redirect_uri", cfg->slack_redirect_uri,
		"state", state,
	};
	struct buf	 b;
	char		*url = NULL;

	if (cfg->slack_client_id == NULL || state == NULL)
		return NULL;
	buf_init(&b, SLACKAPI_URL_MAX);
	if (buf_puts(&b, cfg->slack_authorize_url) == -1 ||
	    buf_putc(&b, '?') == -1 ||
	    slackapi_pairs(&b, kv, NELEM(kv)) == -1)
		goto out;
	url = buf_detach(&b);
out:
	buf_free(&b);
	return url;
}

/*
 * POSTs one Web API method: SLACK_API_URL/method, with the form (nform
 * keys and values; NULL for none) and bearer (may be NULL).  Returns
 * SLACKAPI_OK with *resp filled (any status); SLACKAPI_TRANSIENT for
 * timeouts, connection and TLS failures; SLACKAPI_MALFORMED for a reply
 * past the size cap; SLACKAPI_ERROR when the call cannot be built or its
 * URL is refused.  The form body is wiped: it holds a secret.  Logs.
 */
static enum slackapi_result
slackapi_post(struct http *h, const struct config *cfg, const char *method,
    const char *const *form, size_t nform, const char *bearer,
    struct http_response *resp)
{
	struct buf		 url, body;
	enum slackapi_result	 rv = SLACKAPI_ERROR;
	enum http_result	 hr;

	buf_init(&url, SLACKAPI_URL_MAX);
	buf_init(&body, SLACKAPI_BODY_MAX);
	if (cfg->slack_api_url == NULL ||
	    buf_printf(&url, "%s/%s", cfg->slack_api_url, method) == -1 ||
	    (form != NULL && slackapi_pairs(&body, form, nform) == -1)) {
		log_error("call=%s msg=\"cannot build the request\"", method);
		goto out;
	}
	hr = http_request(h, "POST", buf_cstr(&url), bearer,
	    SLACKAPI_FORM_TYPE, buf_cstr(&body), resp);
	switch (hr) {
	case HTTP_OK:
		rv = SLACKAPI_OK;
		break;
	case HTTP_TOOBIG:
		log_warn("call=%s msg=\"reply too large\"", method);
		rv = SLACKAPI_MALFORMED;
		break;
	case HTTP_REFUSED:
		log_error("call=%s msg=\"URL refused\"", method);
		break;
	default:
		log_warn("call=%s result=%s", method, http_result_str(hr));
		rv = SLACKAPI_TRANSIENT;
		break;
	}
out:
	buf_free_secret(&body);
	buf_free(&url);
	return rv;
}

/* Logs the outcome of a call that did not succeed: the status and
 * Slack's error code only. */
static void
slackapi_log_failure(const char *method, long status, enum slackapi_result rv,
    const struct slackapi_error *err)
{
	if (rv != SLACKAPI_OK)
		log_warn("call=%s status=%ld code=\"%s\" result=%s", method,
		    status, err->code, slackapi_result_str(rv));
}

/* Posts an oauth.v2.access form and reads the grant. */
static enum slackapi_result
slackapi_grant_call(struct http *h, const struct config *cfg,
    const char *const *kv, size_t n, int refresh, struct slackapi_grant *out,
    struct slackapi_error *err)
{
	struct http_response	 resp;
	struct slackapi_error	 local;
	enum slackapi_result	 rv;

	memset(out, 0, sizeof(*out));
	if (err == NULL)
		err = &local;
	err->code[0] = '\0';
	http_response_init(&resp);
	rv = slackapi_post(h, cfg, "oauth.v2.access", kv, n, NULL, &resp);
	if (rv == SLACKAPI_OK) {
		rv = slackapi_parse_grant(resp.status, resp.body.data,
		    resp.body.len, refresh, out, err);
		slackapi_log_failure("oauth.v2.access", resp.status, rv, err);
	}
	/* The reply held tokens. */
	if (resp.body.data != NULL)
		crypto_wipe(resp.body.data, resp.body.len);
	http_response_free(&resp);
	return rv;
}

enum slackapi_result
slackapi_oauth_access(struct http *h, const struct config *cfg,
    const char *code, struct slackapi_grant *out, struct slackapi_error *err)
{
	const char *const kv[] = {
		"grant_type", "authorization_code",
		"code", code,
		"client_id", cfg->slack_client_id,
		"client_secret", cfg->slack_client_secret,
		"redirect_uri", cfg->slack_redirect_uri,
	};

	return slackapi_grant_call(h, cfg, kv, NELEM(kv), 0, out, err);
}

enum slackapi_result
slackapi_oauth_refresh(struct http *h, const struct config *cfg,
    const char *refresh_token, struct slackapi_grant *out,
    struct slackapi_error *err)
{
	const char *const kv[] = {
		"grant_type", "refresh_token",
		"refresh_token", refresh_token,
		"client_id", cfg->slack_client_id,
		"client_secret", cfg->slack_client_secret,
	};

	return slackapi_grant_call(h, cfg, kv, NELEM(kv), 1, out, err);
}

enum slackapi_result
slackapi_auth_test(struct http *h, const struct config *cfg,
    const char *token, struct slackapi_identity *out,
    struct slackapi_error *err)
{
	struct http_response	 resp;
	struct slackapi_error	 local;
	enum slackapi_result	 rv;

	memset(out, 0, sizeof(*out));
	if (err == NULL)
		err = &local;
	err->code[0] = '\0';
	if (token == NULL)
		return SLACKAPI_ERROR;
	http_response_init(&resp);
	rv = slackapi_post(h, cfg, "auth.test", NULL, 0, token, &resp);
	if (rv == SLACKAPI_OK) {
		rv = slackapi_parse_identity(resp.status, resp.body.data,
		    resp.body.len, out, err);
		slackapi_log_failure("auth.test", resp.status, rv, err);
	}
	http_response_free(&resp);
	return rv;
}

/* ------------------------------------------------------------------ */
/* Sign in with Slack (OpenID Connect) and users.info (issue 11). */

/*
 * The Sign in with Slack URL: the scheme and host of SLACK_AUTHORIZE_URL
 * with Slack's OpenID Connect path, and challenge (may be NULL) as the
 * PKCE S256 code_challenge.  NULL on failure.
 */
static char *
slackapi_oidc_url(const struct config *cfg, const char *state,
    const char *nonce, const char *challenge, const char *team)
{
	const char *const kv[] = {
		"response_type", "code",
		/* profile: the names the refusal page shows. */
		"scope", "openid profile",
		"client_id", cfg->slack_client_id,
		"redirect_uri", cfg->redirect_uri,
		"state", state,
		"nonce", nonce,
		"team", team,
		"code_challenge", challenge,
		"code_challenge_method", "S256",
	};
	const char	*p, *end;
	struct buf	 b;
	char		*url = NULL;

	if (cfg->slack_client_id == NULL || cfg->slack_authorize_url == NULL ||
	    state == NULL || nonce == NULL || team == NULL)
		return NULL;
	/* Slack's host, as SLACK_AUTHORIZE_URL names it (the tests point
	 * it at the stand-in), with the OpenID Connect path. */
	p = strstr(cfg->slack_authorize_url, "://");
	end = p != NULL ? strchr(p + 3, '/') : NULL;
	buf_init(&b, SLACKAPI_URL_MAX);
	if (buf_append(&b, cfg->slack_authorize_url, end != NULL ?
	    (size_t)(end - cfg->slack_authorize_url) :
	    strlen(cfg->slack_authorize_url)) == -1 ||
	    buf_puts(&b, "/openid/connect/authorize?") == -1 ||
	    slackapi_pairs(&b, kv, challenge != NULL ? NELEM(kv) :
	    NELEM(kv) - 4) == -1)
		goto out;
	url = buf_detach(&b);
out:
	buf_free(&b);
	return url;
}

char *
slackapi_oidc_authorize_url(const struct config *cfg, const char *state,
    const char *nonce, const char *team)
{
	return slackapi_oidc_url(cfg, state, nonce, NULL, team);
}

void
slackapi_oidc_nonce(const struct config *cfg,
    const unsigned char state_hash[CRYPTO_HASHLEN],
    char out[SLACKAPI_NONCE_LEN + 1])
{
	const struct crypto_part	 part = { state_hash, CRYPTO_HASHLEN };
	struct keyring_snap		*snap = NULL;
	unsigned char			 mac[32];

	keyring_update(cfg->keyring, &snap);
	crypto_mac(keyring_current(snap), "oidc-nonce", &part, 1, mac);
	keyring_release(snap);
	crypto_hex(mac, SLACKAPI_NONCE_LEN / 2, out);
}

char *
slackapi_signin_url(const struct config *cfg,
    const unsigned char state_hash[CRYPTO_HASHLEN], const char *state,
    const char *verifier, const char *team)
{
	char	 nonce[SLACKAPI_NONCE_LEN + 1], challenge[44];

	slackapi_oidc_nonce(cfg, state_hash, nonce);
	crypto_pkce_challenge(verifier, challenge);
	return slackapi_oidc_url(cfg, state, nonce, challenge, team);
}

enum slackapi_result
slackapi_parse_oidc_token(long status, const char *s, size_t len,
    char **access_token, struct slackapi_error *err)
{
	struct json_object	*root = NULL;
	enum slackapi_result	 rv;

	*access_token = NULL;
	if ((rv = slackapi_envelope(status, s, len, 0, &root, err)) !=
	    SLACKAPI_OK)
		return rv;
	rv = slackapi_str(root, "access_token", SLACKAPI_TOKEN_MAX, 1,
	    slackapi_valid_opaque, access_token);
	slackapi_wipe(root);
	slackapi_wipe_member(root, "id_token");
	json_object_put(root);
	return rv;
}

enum slackapi_result
slackapi_parse_oidc_user(long status, const char *s, size_t len,
    struct slackapi_oidc_user *out, struct slackapi_error *err)
{
	struct json_object	*root = NULL;
	enum slackapi_result	 rv;

	memset(out, 0, sizeof(*out));
	if ((rv = slackapi_envelope(status, s, len, 0, &root, err)) !=
	    SLACKAPI_OK)
		return rv;
	if ((rv = slackapi_str(root, "https://slack.com/user_id",
	    SLACK_ID_MAX, 1, slackapi_valid_id, &out->user_id)) !=
	    SLACKAPI_OK ||
	    (rv = slackapi_str(root, "https://slack.com/team_id",
	    SLACK_ID_MAX, 1, slackapi_valid_id, &out->team_id)) !=
	    SLACKAPI_OK ||
	    (rv = slackapi_str(root, "https://slack.com/enterprise_id",
	    SLACK_ID_MAX, 0, slackapi_valid_id, &out->enterprise_id)) !=
	    SLACKAPI_OK ||
	    (rv = slackapi_str(root, "https://slack.com/team_domain",
	    SLACKAPI_NAME_MAX, 0, NULL, &out->team_domain)) != SLACKAPI_OK ||
	    (rv = slackapi_str(root, "name", SLACKAPI_NAME_MAX, 0, NULL,
	    &out->name)) != SLACKAPI_OK ||
	    (rv = slackapi_str(root, "email", SLACKAPI_NAME_MAX, 0, NULL,
	    &out->email)) != SLACKAPI_OK)
		goto out;
	if (slackapi_bool(root, "email_verified", &out->email_verified) == -1)
		rv = SLACKAPI_MALFORMED;
out:
	json_object_put(root);
	if (rv != SLACKAPI_OK)
		slackapi_oidc_user_free(out);
	return rv;
}

void
slackapi_oidc_user_free(struct slackapi_oidc_user *u)
{
	free(u->user_id);
	free(u->team_id);
	free(u->enterprise_id);
	free(u->team_domain);
	free(u->name);
	free(u->email);
	memset(u, 0, sizeof(*u));
}

enum slackapi_result
slackapi_oidc_identify(struct http *h, const struct config *cfg,
    const char *code, struct slackapi_oidc_user *out,
    struct slackapi_error *err)
{
	return slackapi_oidc_identify_pkce(h, cfg, code, NULL, out, err);
}

enum slackapi_result
slackapi_oidc_identify_pkce(struct http *h, const struct config *cfg,
    const char *code, const char *verifier, struct slackapi_oidc_user *out,
    struct slackapi_error *err)
{
	const char *const kv[] = {
		"grant_type", "authorization_code",
		"code", code,
		"client_id", cfg->slack_client_id,
		"client_secret", cfg->slack_client_secret,
		"redirect_uri", cfg->redirect_uri,
		"code_verifier", verifier,
	};
	struct http_response	 resp;
	struct slackapi_error	 local;
	enum slackapi_result	 rv;
	char			*token = NULL;

	memset(out, 0, sizeof(*out));
	if (err == NULL)
		err = &local;
	err->code[0] = '\0';
	http_response_init(&resp);
	rv = slackapi_post(h, cfg, "openid.connect.token", kv, verifier !=
	    NULL ? NELEM(kv) : NELEM(kv) - 2, NULL, &resp);
	if (rv == SLACKAPI_OK) {
		rv = slackapi_parse_oidc_token(resp.status, resp.body.data,
		    resp.body.len, &token, err);
		slackapi_log_failure("openid.connect.token", resp.status, rv,
		    err);
	}
	if (resp.body.data != NULL)
		crypto_wipe(resp.body.data, resp.body.len);
	http_response_free(&resp);
	if (rv != SLACKAPI_OK)
		goto out;
	http_response_init(&resp);
	rv = slackapi_post(h, cfg, "openid.connect.userInfo", NULL, 0, token,
	    &resp);
	if (rv == SLACKAPI_OK) {
		rv = slackapi_parse_oidc_user(resp.status, resp.body.data,
		    resp.body.len, out, err);
		slackapi_log_failure("openid.connect.userInfo", resp.status,
		    rv, err);
	}
	http_response_free(&resp);
out:
	crypto_free_secret(token);
	return rv;
}

enum slackapi_result
slackapi_parse_user_email(long status, const char *s, size_t len,
    char **email, struct slackapi_error *err)
{
	struct json_object	*root = NULL, *user, *profile;
	enum slackapi_result	 rv = SLACKAPI_MALFORMED;
	int			 confirmed = 1;

	*email = NULL;
	if ((rv = slackapi_envelope(status, s, len, 1, &root, err)) !=
	    SLACKAPI_OK)
		return rv;
	rv = SLACKAPI_MALFORMED;
	if (!json_object_object_get_ex(root, "user", &user) ||
	    !json_object_is_type(user, json_type_object))
		goto out;
	/* Slack marks an address not confirmed yet; absent: confirmed. */
	if (json_object_object_get_ex(user, "is_email_confirmed", &profile) &&
	    slackapi_bool(user, "is_email_confirmed", &confirmed) == -1)
		goto out;
	if (!json_object_object_get_ex(user, "profile", &profile) ||
	    !json_object_is_type(profile, json_type_object))
		goto out;
	rv = slackapi_str(profile, "email", SLACKAPI_NAME_MAX, 0, NULL,
	    email);
	if (rv == SLACKAPI_OK && !confirmed) {
		free(*email);
		*email = NULL;
	}
out:
	json_object_put(root);
	return rv;
}

enum slackapi_result
slackapi_user_email(struct http *h, const struct config *cfg,
    const char *bot_token, const char *user_id, char **email,
    struct slackapi_error *err)
{
	const char *const kv[] = { "user", user_id };
	struct http_response	 resp;
	struct slackapi_error	 local;
	enum slackapi_result	 rv;

	*email = NULL;
	if (err == NULL)
		err = &local;
	err->code[0] = '\0';
	http_response_init(&resp);
	rv = slackapi_post(h, cfg, "users.info", kv, NELEM(kv), bot_token,
	    &resp);
	if (rv == SLACKAPI_OK) {
		rv = slackapi_parse_user_email(resp.status, resp.body.data,
		    resp.body.len, email, err);
		slackapi_log_failure("users.info", resp.status, rv, err);
	}
	http_response_free(&resp);
	return rv;
}

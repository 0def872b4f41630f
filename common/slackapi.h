/*
 * slackapi: the Slack Web API calls forcelink makes, and the strict
 * reading of their replies.
 *
 * Installing the app ("Add to Slack", OAuth v2): the authorize URL,
 * oauth.v2.access with an install's code, oauth.v2.access with
 * grant_type=refresh_token for a bot token that rotates, and auth.test,
 * which says who a bot token is.  Slack answers API errors with HTTP 200
 * and {"ok":false,"error":"..."}; every reply is parsed as strictly as a
 * Salesforce reply (sf_json_parse_strict), every field used must have
 * the documented type and shape (ids of Slack's alphabet, tokens of the
 * bot kind), and anything else is SLACKAPI_MALFORMED.  The parse
 * functions are public so they can be tested and fuzzed without a
 * network.  Nothing here touches the store: install.c decides what to
 * keep.  No token, code or secret is ever passed to the logger.
 */
#ifndef FORCELINK_SLACKAPI_H
#define FORCELINK_SLACKAPI_H

#include <stddef.h>

#include "config.h"
#include "crypto.h"

struct http;

/* The bot scopes asked for: the slash command only (answers go through
 * the command's response_url, so nothing else is needed).  Message
 * shortcuts need commands too; views.open, views.update and
 * chat.getPermalink (slackweb.h) need no scope at all. */
#define SLACKAPI_SCOPES		"commands"
/* ... and with FORCELINK_LINK_PROOF=email, to read profiles' emails. */
#define SLACKAPI_EMAIL_SCOPES	"users:read,users:read.email"
/* Longest token and name accepted from a reply. */
#define SLACKAPI_TOKEN_MAX	1024
#define SLACKAPI_NAME_MAX	256
#define SLACKAPI_SCOPE_MAX	2048
/* Longest expires_in believed (ten years); Slack says 43200 (12 h). */
#define SLACKAPI_EXPIRES_MAX	315360000L

enum slackapi_result {
	SLACKAPI_OK,
	SLACKAPI_REFUSED,	/* "ok":false: a refused code, bad client
				   credentials, rate limits ... (err says) */
	SLACKAPI_REVOKED,	/* the refresh token or the grant is gone
				   for good: the app must be installed
				   again */
	SLACKAPI_TRANSIENT,	/* 5xx, 429, timeout, connection or TLS */
	SLACKAPI_MALFORMED,	/* not JSON, or not the documented shape */
	SLACKAPI_ERROR		/* local failure (memory, bad arguments) */
};

const char	*slackapi_result_str(enum slackapi_result);

/* An error reply's "error" code, truncated and safe to log (printable
 * ASCII without quotes or backslashes); "" when there was none. */
struct slackapi_error {
	char	code[64];
};

/*
 * An oauth.v2.access reply for a bot installation (the code exchange and
 * a refresh have the same shape).  Strings are allocated; free with
 * slackapi_grant_free(), which wipes the tokens.
 */
struct slackapi_grant {
	char	*access_token;		/* secret: xoxb-... or xoxe.xoxb-... */
	char	*refresh_token;		/* secret: xoxe-...; NULL without
					   token rotation */
	long	 expires_in;		/* seconds; 0 when not given */
	char	*scope;
	char	*bot_user_id;
	char	*app_id;
	int	 is_enterprise_install;
	char	*team_id;		/* NULL for an org-wide install */
	char	*team_name;		/* NULL with team_id */
	char	*enterprise_id;		/* NULL outside Enterprise Grid */
	char	*enterprise_name;	/* NULL with enterprise_id */
	char	*installer_user_id;	/* authed_user.id; NULL when absent */
};

/* An auth.test reply.  Strings are allocated; free with
 * slackapi_identity_free(). */
struct slackapi_identity {
	char	*user_id;
	char	*bot_id;		/* NULL for a user token */
	char	*team_id;		/* NULL for an org-wide token */
	char	*enterprise_id;		/* NULL outside Enterprise Grid */
	int	 is_enterprise_install;
};

/*
 * Returns the authorize URL (allocated): SLACK_AUTHORIZE_URL?client_id&
 * scope=SLACKAPI_SCOPES&redirect_uri&state.  NULL when Slack
 * installation is not configured or memory is exhausted.
 */
char		*slackapi_authorize_url(const struct config *,
		    const char *state);

/*
 * Exchanges an install's code at SLACK_API_URL/oauth.v2.access
 * (grant_type=authorization_code, the client id and secret in the form
 * body, and the redirect URI the authorize URL named).  SLACKAPI_OK
 * fills *out; on SLACKAPI_REFUSED or SLACKAPI_REVOKED err (may be NULL)
 * holds Slack's code.
 */
enum slackapi_result slackapi_oauth_access(struct http *,
		    const struct config *, const char *code,
		    struct slackapi_grant *out, struct slackapi_error *err);

/*
 * Refreshes a rotating bot token (grant_type=refresh_token).
 * SLACKAPI_OK fills *out (with the new refresh token: the one given is
 * now spent); SLACKAPI_REVOKED when Slack refused the refresh token for
 * good (invalid_refresh_token and its kin).
 */
enum slackapi_result slackapi_oauth_refresh(struct http *,
		    const struct config *, const char *refresh_token,
		    struct slackapi_grant *out, struct slackapi_error *err);

/* auth.test with token as the Bearer.  SLACKAPI_OK fills *out;
 * SLACKAPI_REVOKED for a dead token (invalid_auth, token_expired,
 * token_revoked, ...). */
enum slackapi_result slackapi_auth_test(struct http *,
		    const struct config *, const char *token,
		    struct slackapi_identity *out, struct slackapi_error *err);

/*
 * Reads an oauth.v2.access reply (HTTP status and body).  On SLACKAPI_OK
 * *out holds a complete bot grant: token_type "bot"; an access token of
 * the bot kind; a refresh token (xoxe-...) only together with a positive
 * expires_in; bot_user_id and app_id of Slack's id alphabet; for an
 * org-wide install an enterprise (the team is ignored: it is null), else
 * a team.  Every token in the parsed reply is wiped before it is
 * released.  refresh says whether the call was a refresh (whose
 * permanent refusals are SLACKAPI_REVOKED).
 */
enum slackapi_result slackapi_parse_grant(long status, const char *,
		    size_t, int refresh, struct slackapi_grant *out,
		    struct slackapi_error *err);

/* Reads an auth.test reply (HTTP status and body). */
enum slackapi_result slackapi_parse_identity(long status, const char *,
		    size_t, struct slackapi_identity *out,
		    struct slackapi_error *err);

void		 slackapi_grant_free(struct slackapi_grant *);
void		 slackapi_identity_free(struct slackapi_identity *);

/* --- Sign in with Slack and users.info (issue 11) --------------------- */

/* Who signed in with Slack (openid.connect.userInfo).  Strings are
 * allocated; free with slackapi_oidc_user_free(). */
struct slackapi_oidc_user {
	char	*user_id;		/* https://slack.com/user_id */
	char	*team_id;		/* https://slack.com/team_id */
	char	*enterprise_id;		/* https://slack.com/enterprise_id;
					   NULL outside Enterprise Grid */
	char	*team_domain;		/* NULL when not given */
	char	*name;
	char	*email;			/* with the email scope only */
	int	 email_verified;
};

/*
 * The Sign in with Slack URL (allocated): the scheme and host of
 * SLACK_AUTHORIZE_URL, /openid/connect/authorize, response_type=code,
 * scope=openid profile, client_id, redirect_uri = FORCELINK_PUBLIC_URL's
 * /oauth/callback, state, nonce and team (which workspace to sign in
 * to).  NULL without the Slack app's settings or on memory exhaustion.
 */
char		*slackapi_oidc_authorize_url(const struct config *,
		    const char *state, const char *nonce, const char *team);

/* Hex characters of the nonce sent with Sign in with Slack. */
#define SLACKAPI_NONCE_LEN	32

/*
 * The nonce of the login whose state hashes to state_hash: a MAC of the
 * hash under the current key (purpose "oidc-nonce"), as hex, so that an
 * id_token can be tied to its login without storing anything.
 */
void		 slackapi_oidc_nonce(const struct config *,
		    const unsigned char state_hash[CRYPTO_HASHLEN],
		    char out[SLACKAPI_NONCE_LEN + 1]);

/*
 * The Sign in with Slack URL of a started login: slackapi_oidc_authorize_url
 * with the nonce of state_hash and the PKCE S256 challenge of verifier
 * (code_challenge, code_challenge_method).  NULL as that.
 */
char		*slackapi_signin_url(const struct config *,
		    const unsigned char state_hash[CRYPTO_HASHLEN],
		    const char *state, const char *verifier, const char *team);

/*
 * Exchanges a Sign in with Slack code at openid.connect.token (client
 * secret in the form body) and reads openid.connect.userInfo with the
 * access token, which is then dropped.  SLACKAPI_OK fills *out.
 */
enum slackapi_result slackapi_oidc_identify(struct http *,
		    const struct config *, const char *code,
		    struct slackapi_oidc_user *out, struct slackapi_error *err);

/* slackapi_oidc_identify() with the login's PKCE verifier (NULL: none)
 * sent to openid.connect.token as code_verifier. */
enum slackapi_result slackapi_oidc_identify_pkce(struct http *,
		    const struct config *, const char *code,
		    const char *verifier, struct slackapi_oidc_user *out,
		    struct slackapi_error *err);

/*
 * users.info for user_id with a bot token: *email (allocated) is the
 * profile's email, NULL when Slack shows none (no users:read.email
 * scope) or marks it not confirmed.
 */
enum slackapi_result slackapi_user_email(struct http *,
		    const struct config *, const char *bot_token,
		    const char *user_id, char **email,
		    struct slackapi_error *err);

/* The readers of those replies (public for tests and fuzzing). */
enum slackapi_result slackapi_parse_oidc_token(long status, const char *,
		    size_t, char **access_token, struct slackapi_error *err);
enum slackapi_result slackapi_parse_oidc_user(long status, const char *,
		    size_t, struct slackapi_oidc_user *out,
		    struct slackapi_error *err);
enum slackapi_result slackapi_parse_user_email(long status, const char *,
		    size_t, char **email, struct slackapi_error *err);

void		 slackapi_oidc_user_free(struct slackapi_oidc_user *);

#endif

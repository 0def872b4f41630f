/*
 * sf: the Salesforce REST and OAuth client.
 *
 * Builds the authorize URL, exchanges codes, refreshes and revokes
 * tokens, reads userinfo and runs the record searches (contacts,
 * accounts, open opportunities: one query builder and one reply reader
 * over the kinds).  Every reply is
 * parsed strictly (json-c with a depth limit and UTF-8 validation) into
 * plain structs; the parse functions are public so they can be tested and
 * fuzzed without a network.  Nothing here touches the store: the caller
 * (session.c) decides what to keep.
 */
#ifndef FORCELINK_SF_H
#define FORCELINK_SF_H

#include <stddef.h>

#include "config.h"
#include "metrics.h"

struct buf;
struct http;
struct http_response;

/* Results, in the order a caller usually branches on them. */
enum sf_result {
	SF_OK,
	SF_EXPIRED,		/* 401 INVALID_SESSION_ID: refresh and retry */
	SF_INVALID_GRANT,	/* refresh/code refused for good: relink */
	SF_REFUSED,		/* other 4xx (limits, permissions, bad query) */
	SF_TRANSIENT,		/* 5xx, timeout, connection or TLS failure */
	SF_MALFORMED,		/* reply not JSON or not the documented shape */
	SF_ERROR		/* local failure (memory, bad arguments) */
};

const char	*sf_result_str(enum sf_result);

/* Most records shown on one page of a search. */
#define SF_QUERY_LIMIT	10
/* SOQL's largest OFFSET: records past it cannot be paged to. */
#define SF_OFFSET_MAX	2000

/* A token endpoint reply (allocated strings; sf_tokens_free wipes). */
struct sf_tokens {
	char	*access_token;
	char	*refresh_token;	/* NULL on a refresh without rotation */
	char	*instance_url;
	char	*id;		/* identity URL .../id/ORGID/USERID */
	char	*issued_at;
	char	*signature;
	char	*org_id;	/* parsed from id by sf_tokens_verify */
	char	*user_id;	/* parsed from id by sf_tokens_verify */
};

struct sf_userinfo {
	char	*user_id;
	char	*org_id;
	char	*username;	/* preferred_username */
	char	*name;
	char	*email;
	int	 email_verified; /* "email_verified": true */
};

/* What a search finds (issue 15). */
enum sf_kind {
	SF_KIND_CONTACT,	/* contacts whose Name contains the text */
	SF_KIND_ACCOUNT,	/* accounts whose Name contains the text */
	SF_KIND_OPPORTUNITY,	/* the user's open opportunities */
	SF_KIND__MAX
};

/* "contact", "account", "opportunity" (also the plural used in
 * messages: sf_kind_plural). */
const char	*sf_kind_str(enum sf_kind);
const char	*sf_kind_plural(enum sf_kind);
/* The kind named s by sf_kind_str().  Returns 0, or -1. */
int		 sf_kind_parse(const char *s, enum sf_kind *);

/* One page of a search. */
struct sf_search {
	enum sf_kind	 kind;
	const char	*needle;	/* contacts, accounts: a literal
					   substring of the Name */
	const char	*owner_id;	/* opportunities: OwnerId, a
					   Salesforce user id */
	int		 limit;		/* records shown, 1..SF_QUERY_LIMIT */
	int		 offset;	/* records skipped, 0..SF_OFFSET_MAX */
	int		 currency;	/* opportunities: select CurrencyIsoCode
					   (only a multi-currency org has it) */
};

/*
 * One record found.  Which members a kind fills: every kind id and name
 * (never NULL); contacts title, email, phone, mobile; accounts industry,
 * city (BillingCity), phone, website; opportunities stage (StageName),
 * close_date (YYYY-MM-DD), amount (the JSON number's text as Salesforce
 * sent it, NULL when null) and currency (CurrencyIsoCode, three capital
 * letters, NULL in a single-currency org); contacts and opportunities
 * account_id and account_name (NULL when the record has no Account).  An
 * optional field that is null or "" is NULL.
 */
struct sf_record {
	char	*id;
	char	*name;
	char	*title;
	char	*email;
	char	*phone;
	char	*mobile;
	char	*industry;
	char	*city;
	char	*website;
	char	*stage;
	char	*close_date;
	char	*amount;
	char	*currency;
	char	*account_id;
	char	*account_name;
};

struct sf_records {
	enum sf_kind		 kind;
	struct sf_record	*v;
	size_t			 n;	/* at most the search's limit */
	int			 more;	/* more records match after these */
};

/* An error reply: errorCode/message of a REST error array or
 * error/error_description of an OAuth error; strings are truncated and
 * safe to log. */
struct sf_error {
	char	code[64];
	char	message[256];
};

/*
 * Returns the authorize URL (allocated) for the web server flow with
 * PKCE: SF_LOGIN_URL/services/oauth2/authorize?response_type=code&
 * client_id&redirect_uri&state&code_challenge&code_challenge_method=S256.
 * NULL on memory exhaustion.
 */
char		*sf_authorize_url(const struct sf_org *, const char *redirect_uri,
		    const char *state, const char *challenge);

/* sf_authorize_url() with &prompt=prompt (e.g. "login": Salesforce asks
 * for the password even when it remembers the person); NULL: none. */
char		*sf_authorize_url_prompt(const struct sf_org *,
		    const char *redirect_uri, const char *state,
		    const char *challenge, const char *prompt);

/* Exchanges an authorization code (with its PKCE verifier).  SF_OK fills
 * *out (not yet verified: call sf_tokens_verify). */
enum sf_result	 sf_token_code(struct http *, const struct sf_org *,
		    const char *code, const char *redirect_uri,
		    const char *verifier, struct sf_tokens *out,
		    struct sf_error *err);

/* Refreshes.  SF_OK fills *out; SF_INVALID_GRANT when the refresh token
 * is revoked, expired or rotated out. */
enum sf_result	 sf_token_refresh(struct http *, const struct sf_org *,
		    const char *refresh_token, struct sf_tokens *out,
		    struct sf_error *err);

/*
 * The client credentials flow (integration-user mode): posts
 * grant_type=client_credentials with client_id and client_secret to the
 * integration's token endpoint, which must be its My Domain (Salesforce
 * refuses the flow on login.salesforce.com and test.salesforce.com).
 * SF_OK fills *out (not yet verified: call sf_tokens_verify); the reply
 * has no refresh token.  SF_INVALID_GRANT when the app has no Run-As user
 * or the flow is off; SF_REFUSED for refused client credentials.
 */
enum sf_result	 sf_token_client(struct http *, const struct sf_org *,
		    struct sf_tokens *out, struct sf_error *err);

/*
 * Verifies a token reply before anything is stored: signature =
 * base64(HMAC-SHA256(client secret, id + issued_at)); instance_url is
 * https with a Salesforce host (*.salesforce.com, *.force.com,
 * *.salesforce.mil, *.cloudforce.com, *.database.com) or the login host;
 * id is a URL ending in /id/ORGID/USERID with Salesforce ids.  Fills
 * org_id and user_id.  Returns 0; -1 with a reason in *why (static) when
 * the reply is not to be trusted; -2 (and *why) when memory is exhausted,
 * which says nothing about the reply.
 */
int		 sf_tokens_verify(const struct sf_org *, struct sf_tokens *,
		    const char **why);

/* Revokes a token (200 is SF_OK; 400 invalid_token also counts as done). */
enum sf_result	 sf_revoke(struct http *, const struct sf_org *,
		    const char *token);

/* GET {instance_url}/services/oauth2/userinfo.  A 401 or 403 (a bad or
 * expired token) is SF_EXPIRED. */
enum sf_result	 sf_userinfo(struct http *, const char *instance_url,
		    const char *access_token, struct sf_userinfo *out,
		    struct sf_error *err);

/*
 * Runs one page of a search (sf_soql_search) and reads the reply into
 * *out.  A query for a field the org lacks (CurrencyIsoCode in a
 * single-currency org) is SF_REFUSED with err->code "INVALID_FIELD".
 */
enum sf_result	 sf_query_records(struct http *, const struct sf_org *,
		    const char *instance_url, const char *access_token,
		    const struct sf_search *, struct sf_records *out,
		    struct sf_error *err);

/*
 * Appends the SOQL of one page of a search to b.  It asks for one
 * record more than the page shows (LIMIT limit + 1), which tells
 * whether there are more, and skips offset records (OFFSET only when
 * not 0).  Contacts and accounts:
 *   SELECT ... FROM Contact|Account WHERE Name LIKE '%needle%'
 *   ORDER BY Name, Id LIMIT ...
 * with needle escaped for a SOQL string literal (\ first, then ' " and
 * \n \r \t \b \f) and then for LIKE (\% \_), SPEC §7;
 * opportunities:
 *   SELECT ... FROM Opportunity WHERE OwnerId = 'owner_id' AND
 *   IsClosed = false ORDER BY CloseDate, Amount DESC NULLS LAST, Id ...
 * The Id ends every order, so pages neither repeat nor skip a record.
 * Returns 0, or -1 past b's ceiling or for a search out of range (a
 * limit or offset outside its bounds, no needle, an owner_id that is not
 * a Salesforce id), leaving b as it was.
 */
int		 sf_soql_search(struct buf *b, const struct sf_search *);

/* Appends needle escaped as the inside of a SOQL LIKE literal. */
int		 sf_soql_escape_like(struct buf *b, const char *needle);

/* Parsers (no network).  Each returns SF_OK or SF_MALFORMED (SF_ERROR
 * on memory exhaustion) and fills *out only on SF_OK. */
enum sf_result	 sf_parse_tokens(const char *, size_t, struct sf_tokens *);
enum sf_result	 sf_parse_userinfo(const char *, size_t, struct sf_userinfo *);
/* A query reply of kind: at most limit records are kept, and more is
 * set when the reply holds more than limit. */
enum sf_result	 sf_parse_records(enum sf_kind, int limit, const char *,
		    size_t, struct sf_records *);

/*
 * Classifies an error reply by status and body (either a REST error array
 * or an OAuth error object) and fills *err (may be NULL).  Only 401
 * INVALID_SESSION_ID is SF_EXPIRED (not when the message says the session
 * is "not valid for use with the REST API": refreshing cannot help) and
 * only 400 invalid_grant is SF_INVALID_GRANT; any other 4xx, whatever
 * its body, is SF_REFUSED; 5xx is SF_TRANSIENT; any other status is
 * SF_MALFORMED.  Never returns SF_OK.
 */
enum sf_result	 sf_parse_error(long status, const char *, size_t,
		    struct sf_error *err);

void		 sf_tokens_free(struct sf_tokens *);
void		 sf_userinfo_free(struct sf_userinfo *);
void		 sf_records_free(struct sf_records *);

/* --- For the other Salesforce clients (common/sf_case.c) ------------ */

/* Appends base (without trailing slashes) and path to b.  Returns 0, or
 * -1 past b's ceiling or without a base. */
int		 sf_url(struct buf *b, const char *base, const char *path);

/*
 * Sends one request (http_request_extra: body, may be NULL, as
 * content_type; extra, may be NULL, one more header line), timed into
 * the metrics as call.  Returns SF_OK when a reply arrived (any status,
 * in *resp); SF_TRANSIENT for timeouts, connection and TLS failures;
 * SF_MALFORMED for a reply past the size cap; SF_ERROR for a request
 * that is not to be made.  Logs failures (what names the call).
 */
enum sf_result	 sf_send(struct http *, const char *what,
		    enum metrics_sf_call call, const char *method,
		    const char *url, const char *bearer,
		    const char *content_type, const char *body,
		    const char *extra, struct http_response *resp);

/*
 * Classifies a reply that is not a success (sf_parse_error), lets adjust
 * (may be NULL) correct the class for one endpoint, and logs it (the
 * code only: a message may quote the user's text).  Fills *err.
 */
enum sf_result	 sf_failed(const char *what, const struct http_response *,
		    struct sf_error *err,
		    enum sf_result (*adjust)(long, const struct sf_error *,
		    enum sf_result));

/* --- Strict JSON for the other Web API clients (common/slackapi.c) --- */

struct json_object;

/*
 * Parses exactly len bytes of JSON as strictly as every Salesforce reply:
 * json-c's strict grammar, well-formed UTF-8 without overlongs or
 * surrogates, no raw control byte, at most 16 levels of nesting, finite
 * numbers, nothing but white space after the value, at most
 * HTTP_RESPONSE_MAX bytes.  Returns the value (release it with
 * json_object_put), or NULL.
 */
struct json_object *sf_json_parse_strict(const char *, size_t len);

#endif

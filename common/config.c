/*
 * config: the environment settings of SPEC §2 (see config.h).
 *
 * Each setting is read through config_get(), which handles the NAME /
 * NAME_FILE pair in one place, and then checked by a small validator.
 * The first problem found is reported as one line naming the variable.
 * The validators of an integration's settings serve the environment's
 * default, forcelink-admin when it adds one, and org.c when it reads one
 * back from the store.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "crypto.h"
#include "http.h"
#include "log.h"

/* Longest value accepted from a variable or a _FILE. */
#define CONFIG_VALUE_MAX	8192

static int
config_fail(char *err, size_t errsz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
config_fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Reads a whole small file into an allocated string, dropping one
 * trailing LF or CRLF.  Returns NULL with errno set on failure.
 */
static char *
config_read_file(const char *path)
{
	struct buf	 b;
	char		 chunk[1024];
	ssize_t		 n;
	int		 fd;

	buf_init(&b, CONFIG_VALUE_MAX);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(&b, chunk, (size_t)n) == -1) {
			n = -1;
			errno = EFBIG;
			break;
		}
	crypto_wipe(chunk, sizeof(chunk));
	close(fd);
	if (n == -1) {
		buf_free_secret(&b);
		return NULL;
	}
	/* Exactly one final LF or CRLF, which editors add, is not part of
	 * the value; anything else that is left is judged by the caller. */
	if (b.len > 0 && b.data[b.len - 1] == '\n') {
		b.data[--b.len] = '\0';
		if (b.len > 0 && b.data[b.len - 1] == '\r')
			b.data[--b.len] = '\0';
	}
	return buf_detach(&b);
}

/*
 * Fetches setting name from NAME or NAME_FILE.  Returns 0 with *out an
 * allocated value (NULL when neither is set or the value is empty), or
 * -1 with err filled.
 */
static int
config_get(const char *name, char **out, char *err, size_t errsz)
{
	char		 fname[128];
	const char	*v, *f;

	*out = NULL;
	snprintf(fname, sizeof(fname), "%s_FILE", name);
	v = getenv(name);
	f = getenv(fname);
	if (v != NULL && *v != '\0' && f != NULL && *f != '\0')
		return config_fail(err, errsz,
		    "%s and %s are both set: set only one", name, fname);
	if (f != NULL && *f != '\0') {
		if ((*out = config_read_file(f)) == NULL)
			return config_fail(err, errsz, "%s: cannot read %s: %s",
			    fname, f, strerror(errno));
	} else if (v != NULL && *v != '\0') {
		if (strlen(v) > CONFIG_VALUE_MAX)
			return config_fail(err, errsz, "%s is too long", name);
		if ((*out = strdup(v)) == NULL)
			return config_fail(err, errsz, "out of memory");
	}
	if (*out != NULL && **out == '\0') {
		free(*out);
		*out = NULL;
	}
	return 0;
}

/*
 * Like config_get, for a secret: it must hold no whitespace or control
 * byte, whose only source is a mistake (a pasted space, a second line)
 * and whose effect is a secret that silently never matches.  The error
 * names the variable that was read and what was found, never the value.
 */
static int
config_get_secret(const char *name, char **out, char *err, size_t errsz)
{
	const char	*f, *what;
	size_t		 i;
	int		 c;

	if (config_get(name, out, err, errsz) == -1)
		return -1;
	for (i = 0; *out != NULL && (*out)[i] != '\0'; i++) {
		c = (unsigned char)(*out)[i];
		if (c > ' ' && c != 0x7f)
			continue;
		what = c == ' ' ? "a space" : c == '\t' ? "a tab" :
		    c == '\n' ? "a line break" : c == '\r' ?
		    "a carriage return" : "a control character";
		f = getenv(name) == NULL || *getenv(name) == '\0' ?
		    "_FILE" : "";
		crypto_free_secret(*out);
		*out = NULL;
		return config_fail(err, errsz, "%s%s: the secret holds %s "
		    "(only one final newline of a file is dropped; remove "
		    "any other whitespace)", name, f, what);
	}
	return 0;
}

/* Like config_get, but an unset value becomes a copy of def. */
static int
config_get_default(const char *name, const char *def, char **out, char *err,
    size_t errsz)
{
	if (config_get(name, out, err, errsz) == -1)
		return -1;
	if (*out == NULL && (*out = strdup(def)) == NULL)
		return config_fail(err, errsz, "out of memory");
	return 0;
}

/* Returns 1 when s is printable ASCII with no spaces. */
static int
config_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s > '~')
			return 0;
	return 1;
}

void
config_trim_slash(char *s)
{
	size_t	 n = strlen(s);

	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
}

/*
 * Checks a base URL: scheme "https://" (or "http://" when allow_http), a
 * host, an optional port, no path beyond "/" unless allow_path, no query
 * or fragment.  Returns 1 when acceptable.
 */
static int
config_base_url(const char *s, int allow_http, int allow_path)
{
	const char	*p;

	if (!config_printable(s) || strpbrk(s, "?#@\\\"'<>") != NULL)
		return 0;
	if (strncmp(s, "https://", 8) == 0)
		p = s + 8;
	else if (allow_http && strncmp(s, "http://", 7) == 0)
		p = s + 7;
	else
		return 0;
	if (*p == '\0' || *p == '/' || *p == ':')
		return 0;
	p += strcspn(p, "/");
	return allow_path || *p == '\0' || strcmp(p, "/") == 0;
}

/* "v" digits "." digits, as Salesforce names API versions. */
static int
config_api_version(const char *s)
{
	if (*s++ != 'v' || !isdigit((unsigned char)*s))
		return 0;
	while (isdigit((unsigned char)*s))
		s++;
	if (*s++ != '.' || !isdigit((unsigned char)*s))
		return 0;
	while (isdigit((unsigned char)*s))
		s++;
	return *s == '\0';
}

static int
config_load_slack(struct config *cfg, char *err, size_t errsz)
{
	char	*p;

	if (config_get_secret("SLACK_SIGNING_SECRET",
	    &cfg->slack_signing_secret, err, errsz) == -1 ||
	    config_get_secret("SLACK_VERIFICATION_TOKEN",
	    &cfg->slack_verification_token, err, errsz) == -1)
		return -1;
	if (cfg->slack_signing_secret == NULL &&
	    cfg->slack_verification_token == NULL)
		return config_fail(err, errsz, "SLACK_SIGNING_SECRET is not set "
		    "(or, for legacy apps, SLACK_VERIFICATION_TOKEN)");
	if (config_get_default("SLACK_RESPONSE_URL_PREFIX",
	    CONFIG_DEFAULT_RESPONSE_PREFIX, &cfg->response_url_prefix, err,
	    errsz) == -1)
		return -1;
	/*
	 * The prefix must end at a path separator after the host: a prefix
	 * "https://hooks.slack.com" would also admit hooks.slack.com.evil.
	 */
	p = cfg->response_url_prefix;
	if (!config_base_url(p, 0, 1) || strchr(p + 8, '/') == NULL ||
	    p[strlen(p) - 1] != '/')
		return config_fail(err, errsz, "SLACK_RESPONSE_URL_PREFIX must "
		    "be an https URL ending in '/', e.g. %s",
		    CONFIG_DEFAULT_RESPONSE_PREFIX);
	return 0;
}

static int
config_load_sf(struct sf_org *sf, char *err, size_t errsz)
{
	char	 host[256];

	if ((sf->name = strdup("")) == NULL)
		return config_fail(err, errsz, "out of memory");
	if (config_get("SF_CLIENT_ID", &sf->client_id, err, errsz) == -1 ||
	    config_get_secret("SF_CLIENT_SECRET", &sf->client_secret, err,
	    errsz) == -1 ||
	    config_get_default("SF_LOGIN_URL", CONFIG_DEFAULT_LOGIN_URL,
	    &sf->login_url, err, errsz) == -1 ||
	    config_get_default("SF_API_VERSION", CONFIG_DEFAULT_API_VERSION,
	    &sf->api_version, err, errsz) == -1)
		return -1;
	if (sf->client_id == NULL || !config_printable(sf->client_id))
		return config_fail(err, errsz, sf->client_id == NULL ?
		    "SF_CLIENT_ID is not set" :
		    "SF_CLIENT_ID must be printable text without spaces");
	if (sf->client_secret == NULL)
		return config_fail(err, errsz, "SF_CLIENT_SECRET is not set");
	if (!config_base_url(sf->login_url, 0, 0))
		return config_fail(err, errsz, "SF_LOGIN_URL must be an https "
		    "URL without a path, e.g. %s", CONFIG_DEFAULT_LOGIN_URL);
	config_trim_slash(sf->login_url);
	if (http_url_host(sf->login_url, host, sizeof(host)) == -1 ||
	    (sf->login_host = strdup(host)) == NULL)
		return config_fail(err, errsz, "SF_LOGIN_URL has no usable host");
	if (!config_api_version(sf->api_version))
		return config_fail(err, errsz,
		    "SF_API_VERSION must look like v62.0");
	return 0;
}

/*
 * Loads the keyring (keyring.h): from FORCELINK_KEY_FILE, which it then
 * follows so that a rotation reaches running programs, or from
 * FORCELINK_KEY, which cannot change while the program runs.  Returns 0
 * or -1 with err filled.
 */
static int
config_load_key(struct config *cfg, char *err, size_t errsz)
{
	const char	*f, *v;
	char		*text = NULL, why[256];
	int		 rc = -1;

	f = getenv("FORCELINK_KEY_FILE");
	v = getenv("FORCELINK_KEY");
	if (f != NULL && *f != '\0' && v != NULL && *v != '\0')
		return config_fail(err, errsz, "FORCELINK_KEY and "
		    "FORCELINK_KEY_FILE are both set: set only one");
	if (f != NULL && *f != '\0') {
		/* How a key is made helps with a file that was read, not
		 * with one that could not be (a mode, a missing file). */
		if ((cfg->keyring = keyring_from_file(f, why,
		    sizeof(why))) == NULL)
			return config_fail(err, errsz, "FORCELINK_KEY_FILE: "
			    "%s%s", why, access(f, R_OK) == 0 ? " (each line "
			    "must be the base64 of 32 random bytes, e.g. "
			    "head -c32 /dev/urandom | base64)" : "");
		return 0;
	}
	if (config_get("FORCELINK_KEY", &text, err, errsz) == -1)
		goto out;
	if (text == NULL) {
		config_fail(err, errsz, "FORCELINK_KEY must be base64 of 32 "
		    "random bytes (e.g. head -c32 /dev/urandom | base64)");
		goto out;
	}
	if ((cfg->keyring = keyring_from_text(text, why, sizeof(why))) ==
	    NULL) {
		config_fail(err, errsz, "FORCELINK_KEY: %s (each line must be "
		    "the base64 of 32 random bytes, e.g. head -c32 "
		    "/dev/urandom | base64)", why);
		goto out;
	}
	rc = 0;
out:
	crypto_free_secret(text);
	return rc;
}

static int
config_load_service(struct config *cfg, char *err, size_t errsz)
{
	const char	*pwfile;
	int		 rc = -1;

	if (config_get("FORCELINK_PUBLIC_URL", &cfg->public_url, err,
	    errsz) == -1)
		goto out;
	if (cfg->public_url == NULL || !config_base_url(cfg->public_url, 1, 1)) {
		config_fail(err, errsz, "FORCELINK_PUBLIC_URL must be set to "
		    "this service's external URL, e.g. https://forcelink.example.com");
		goto out;
	}
	config_trim_slash(cfg->public_url);
	cfg->public_https = strncmp(cfg->public_url, "https://", 8) == 0;
	if (asprintf(&cfg->redirect_uri, "%s/oauth/callback",
	    cfg->public_url) == -1) {
		cfg->redirect_uri = NULL;
		config_fail(err, errsz, "out of memory");
		goto out;
	}
	if (config_load_key(cfg, err, errsz) == -1)
		goto out;
	if (config_get_default("FORCELINK_DB", CONFIG_DEFAULT_DB,
	    &cfg->db_path, err, errsz) == -1 ||
	    config_get("FORCELINK_CA_FILE", &cfg->ca_file, err, errsz) == -1)
		goto out;
	/* Read by the store at every connect (store_pg.c); a file that is
	 * not there is said now rather than at the first request. */
	if ((pwfile = getenv("FORCELINK_DB_PASSWORD_FILE")) != NULL &&
	    pwfile[0] != '\0' && access(pwfile, R_OK) == -1) {
		config_fail(err, errsz, "FORCELINK_DB_PASSWORD_FILE: cannot "
		    "read %s: %s", pwfile, strerror(errno));
		goto out;
	}
	if (cfg->ca_file != NULL && access(cfg->ca_file, R_OK) == -1) {
		config_fail(err, errsz, "FORCELINK_CA_FILE: cannot read %s: %s",
		    cfg->ca_file, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	return rc;
}

/*
 * Slack app installation: SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (both
 * or neither), SLACK_AUTHORIZE_URL, SLACK_API_URL and
 * FORCELINK_REQUIRE_INSTALL.  Runs after config_load_service(), whose
 * public URL names the redirect URI.
 */
static int
config_load_slack_install(struct config *cfg, char *err, size_t errsz)
{
	char	*req = NULL;
	int	 rc = -1;

	if (config_get("SLACK_CLIENT_ID", &cfg->slack_client_id, err,
	    errsz) == -1 ||
	    config_get_secret("SLACK_CLIENT_SECRET",
	    &cfg->slack_client_secret, err, errsz) == -1 ||
	    config_get_default("SLACK_AUTHORIZE_URL",
	    CONFIG_DEFAULT_SLACK_AUTHORIZE, &cfg->slack_authorize_url, err,
	    errsz) == -1 ||
	    config_get_default("SLACK_API_URL", CONFIG_DEFAULT_SLACK_API,
	    &cfg->slack_api_url, err, errsz) == -1 ||
	    config_get("FORCELINK_REQUIRE_INSTALL", &req, err, errsz) == -1)
		goto out;
	if ((cfg->slack_client_id == NULL) !=
	    (cfg->slack_client_secret == NULL)) {
		config_fail(err, errsz, "%s is set but %s is not: installing "
		    "the Slack app needs both (or neither, for one workspace "
		    "without installation)", cfg->slack_client_id != NULL ?
		    "SLACK_CLIENT_ID" : "SLACK_CLIENT_SECRET",
		    cfg->slack_client_id != NULL ? "SLACK_CLIENT_SECRET" :
		    "SLACK_CLIENT_ID");
		goto out;
	}
	if (cfg->slack_client_id != NULL &&
	    !config_printable(cfg->slack_client_id)) {
		config_fail(err, errsz, "SLACK_CLIENT_ID must be printable "
		    "text without spaces");
		goto out;
	}
	if (!config_base_url(cfg->slack_authorize_url, 0, 1)) {
		config_fail(err, errsz, "SLACK_AUTHORIZE_URL must be an https "
		    "URL without a query, e.g. %s",
		    CONFIG_DEFAULT_SLACK_AUTHORIZE);
		goto out;
	}
	if (!config_base_url(cfg->slack_api_url, 0, 1)) {
		config_fail(err, errsz, "SLACK_API_URL must be an https URL "
		    "without a query, e.g. %s", CONFIG_DEFAULT_SLACK_API);
		goto out;
	}
	config_trim_slash(cfg->slack_authorize_url);
	config_trim_slash(cfg->slack_api_url);
	if (req != NULL && strcmp(req, "0") != 0 && strcmp(req, "1") != 0) {
		config_fail(err, errsz, "FORCELINK_REQUIRE_INSTALL must be 0 "
		    "or 1");
		goto out;
	}
	cfg->require_install = req != NULL && strcmp(req, "1") == 0;
	if (cfg->require_install && cfg->slack_client_id == NULL) {
		config_fail(err, errsz, "FORCELINK_REQUIRE_INSTALL=1 needs "
		    "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET: without them no "
		    "workspace could ever install forcelink");
		goto out;
	}
	if (asprintf(&cfg->slack_redirect_uri, "%s/slack/oauth_redirect",
	    cfg->public_url) == -1) {
		cfg->slack_redirect_uri = NULL;
		config_fail(err, errsz, "out of memory");
		goto out;
	}
	rc = 0;
out:
	free(req);
	return rc;
}

int
config_link_proof_parse(const char *s)
{
	static const struct {
		const char	*word;
		int		 bit;
	} proofs[] = {
		{ "slack", CONFIG_PROOF_SLACK },
		{ "code", CONFIG_PROOF_CODE },
		{ "email", CONFIG_PROOF_EMAIL },
	};
	const char	*end;
	size_t		 i, n;
	int		 bits = 0, bit;

	for (;;) {
		end = strchr(s, ',');
		n = end != NULL ? (size_t)(end - s) : strlen(s);
		for (bit = 0, i = 0; i < sizeof(proofs) / sizeof(proofs[0]);
		    i++)
			if (strlen(proofs[i].word) == n &&
			    strncmp(s, proofs[i].word, n) == 0)
				bit = proofs[i].bit;
		/* Unknown, empty or repeated. */
		if (bit == 0 || (bits & bit) != 0)
			return 0;
		bits |= bit;
		if (end == NULL)
			return bits;
		s = end + 1;
	}
}

int
config_valid_bot_token(const char *s)
{
	size_t	 n = strlen(s);

	if (!config_printable(s))
		return 0;
	return (n > 5 && strncmp(s, "xoxb-", 5) == 0) ||
	    (n > 10 && strncmp(s, "xoxe.xoxb-", 10) == 0);
}

/*
 * FORCELINK_LINK_PROOF and SLACK_BOT_TOKEN (issue 11).  Runs after
 * config_load_slack_install(): "slack" needs the Slack app's client id
 * and secret, and "email" a bot token, from an installation (which needs
 * the same) or SLACK_BOT_TOKEN.
 */
static int
config_load_link_proof(struct config *cfg, char *err, size_t errsz)
{
	char	*v = NULL;
	int	 rc = -1;

	if (config_get("FORCELINK_LINK_PROOF", &v, err, errsz) == -1 ||
	    config_get_secret("SLACK_BOT_TOKEN", &cfg->slack_bot_token, err,
	    errsz) == -1)
		goto out;
	/* The value itself is never part of the message: it is a secret,
	 * and a user token pasted by mistake is one too. */
	if (cfg->slack_bot_token != NULL &&
	    !config_valid_bot_token(cfg->slack_bot_token)) {
		config_fail(err, errsz, "SLACK_BOT_TOKEN%s must be a bot token "
		    "(xoxb-... or, with token rotation, xoxe.xoxb-...)",
		    getenv("SLACK_BOT_TOKEN") == NULL ||
		    *getenv("SLACK_BOT_TOKEN") == '\0' ? "_FILE" : "");
		goto out;
	}
	if (v == NULL)
		cfg->link_proof = cfg->slack_client_id != NULL ?
		    CONFIG_PROOF_SLACK : CONFIG_PROOF_CODE;
	else if ((cfg->link_proof = config_link_proof_parse(v)) == 0) {
		config_fail(err, errsz, "FORCELINK_LINK_PROOF must be a comma "
		    "list of slack, code and email, each at most once");
		goto out;
	}
	if ((cfg->link_proof & CONFIG_PROOF_SLACK) &&
	    cfg->slack_client_id == NULL) {
		config_fail(err, errsz, "FORCELINK_LINK_PROOF=slack needs "
		    "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (Sign in with "
		    "Slack)");
		goto out;
	}
	if ((cfg->link_proof & CONFIG_PROOF_EMAIL) &&
	    cfg->slack_client_id == NULL && cfg->slack_bot_token == NULL) {
		config_fail(err, errsz, "FORCELINK_LINK_PROOF=email needs a bot "
		    "token to read Slack emails: SLACK_BOT_TOKEN, or "
		    "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for installations");
		goto out;
	}
	rc = 0;
out:
	free(v);
	return rc;
}

int
config_load(struct config *cfg, char *err, size_t errsz)
{
	memset(cfg, 0, sizeof(*cfg));
	if (config_load_slack(cfg, err, errsz) == -1 ||
	    config_load_sf(&cfg->sf, err, errsz) == -1 ||
	    config_load_service(cfg, err, errsz) == -1 ||
	    config_load_slack_install(cfg, err, errsz) == -1 ||
	    config_load_link_proof(cfg, err, errsz) == -1) {
		config_free(cfg);
		return -1;
	}
	return 0;
}

void
config_free(struct config *cfg)
{
	crypto_free_secret(cfg->slack_signing_secret);
	crypto_free_secret(cfg->slack_verification_token);
	free(cfg->public_url);
	free(cfg->redirect_uri);
	free(cfg->db_path);
	free(cfg->ca_file);
	free(cfg->response_url_prefix);
	free(cfg->sf.name);
	free(cfg->sf.login_url);
	free(cfg->sf.login_host);
	free(cfg->sf.client_id);
	crypto_free_secret(cfg->sf.client_secret);
	free(cfg->sf.api_version);
	free(cfg->slack_client_id);
	crypto_free_secret(cfg->slack_client_secret);
	free(cfg->slack_authorize_url);
	free(cfg->slack_api_url);
	free(cfg->slack_redirect_uri);
	crypto_free_secret(cfg->slack_bot_token);
	keyring_free(cfg->keyring);
	memset(cfg, 0, sizeof(*cfg));
}

/* --- Integrations ---------------------------------------------------- */

/* An ASCII letter or digit (isalnum() would follow the locale). */
static int
config_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

int
config_org_name_ok(const char *s)
{
	size_t	 i;

	if (s == NULL || !config_alnum(s[0]) || strcasecmp(s, "default") == 0)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i == CONFIG_ORG_NAME_MAX || !(config_alnum(s[i]) ||
		    s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

int
config_login_url_ok(const char *s, char *host, size_t hostsz)
{
	char	 h[256];

	if (s == NULL || !config_base_url(s, 0, 0) ||
	    http_url_host(s, h, sizeof(h)) == -1 || strlen(h) >= hostsz)
		return 0;
	memcpy(host, h, strlen(h) + 1);
	return 1;
}

int
config_client_id_ok(const char *s)
{
	return s != NULL && *s != '\0' && strlen(s) <= 255 &&
	    config_printable(s);
}

int
config_api_version_ok(const char *s)
{
	return s != NULL && config_api_version(s);
}

int
config_my_domain_ok(const char *host)
{
	return host != NULL && strcasecmp(host, "login.salesforce.com") != 0 &&
	    strcasecmp(host, "test.salesforce.com") != 0;
}

void
config_sf_org_free(struct sf_org *o)
{
	if (o == NULL)
		return;
	free(o->name);
	free(o->login_url);
	free(o->login_host);
	free(o->client_id);
	crypto_free_secret(o->client_secret);
	free(o->api_version);
	memset(o, 0, sizeof(*o));
}

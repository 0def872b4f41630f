/*
 * fuzz_sf_json: every Salesforce reply forcelink reads.
 *
 * Up to three leading decimal digits are the HTTP status (200 when there
 * are none); the rest is the reply body, handed to all four parsers:
 * sf_parse_tokens, sf_parse_userinfo, sf_parse_records (every kind) and
 * sf_parse_error.  What a parser accepts is then used the way forcelink
 * uses it: a token reply goes through sf_tokens_verify, contacts through
 * render_cards and render_results and userinfo through render_whoami, whose messages
 * must pass fuzz_check_message.
 *
 * Asserted beyond "no crash, no leak": accepted replies have every
 * required field, ids of Salesforce's shape, at most SF_QUERY_LIMIT
 * contacts; a token reply verifies only with the signature computed
 * here independently, and (signed here) only when instance_url and id
 * name a Salesforce host or the login host as SPEC 5 says; an error
 * reply is never SF_OK, its class follows the status and the two
 * documented codes, and its code and message are safe to log.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "config.h"
#include "fuzz.h"
#include "render.h"
#include "sf.h"

#define INSTANCE	"https://na1.my.salesforce.com"
#define LOGIN_HOST	"sf.example.test"

static char	login_url[] = "https://" LOGIN_HOST ":8443";
static char	login_host[] = LOGIN_HOST;
static char	client_id[] = "3MVG9fuzz";
static char	client_secret[] = "fuzz-client-secret";
static char	api_version[] = "v62.0";
static char	org_name[] = "";

static const struct sf_org org = {
	.name = org_name,
	.login_url = login_url,
	.login_host = login_host,
	.client_id = client_id,
	.client_secret = client_secret,
	.api_version = api_version,
};

static const char *const contact_links[] = { INSTANCE "/", "mailto:", NULL };
static const char *const whoami_links[] = { INSTANCE, NULL };

static const char *const suffixes[] = {
	".salesforce.com", ".force.com", ".salesforce.mil", ".cloudforce.com",
	".database.com", NULL
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	return 0;
}

/* A Salesforce id: 15 or 18 ASCII letters and digits. */
static int
sfid(const char *s)
{
	size_t	 i, n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]))
			return 0;
	return n == 15 || n == 18;
}

/* Printable ASCII without space: what a token or URL must be. */
static int
opaque(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s > '~')
			return 0;
	return 1;
}

/* Returns base64(HMAC-SHA256(client secret, id + issued_at)). */
static char *
signature(const struct sf_tokens *t)
{
	crypto_auth_hmacsha256_state	 st;
	unsigned char			 mac[crypto_auth_hmacsha256_BYTES];
	char				*out;

	crypto_auth_hmacsha256_init(&st,
	    (const unsigned char *)client_secret, strlen(client_secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)t->id,
	    strlen(t->id));
	crypto_auth_hmacsha256_update(&st,
	    (const unsigned char *)t->issued_at, strlen(t->issued_at));
	crypto_auth_hmacsha256_final(&st, mac);
	if ((out = malloc(64)) == NULL)
		abort();
	sodium_bin2base64(out, 64, mac, sizeof(mac),
	    sodium_base64_VARIANT_ORIGINAL);
	return out;
}

/* Returns 1 when the hl bytes at h are a DNS name: letters, digits and
 * '-' in non-empty labels separated by dots. */
static int
dns_name(const char *h, size_t hl)
{
	size_t	 i;

	if (hl == 0 || h[0] == '.' || h[hl - 1] == '.')
		return 0;
	for (i = 0; i < hl; i++) {
		if (h[i] == '.' && h[i + 1] == '.')
			return 0;
		if (!isalnum((unsigned char)h[i]) && h[i] != '-' &&
		    h[i] != '.')
			return 0;
	}
	return 1;
}

/* Returns 1 when the bytes from p to end are a port 1..65535. */
static int
port_ok(const char *p, const char *end)
{
	long	 v = 0;

	if (p == end || end - p > 5)
		return 0;
	for (; p < end; p++) {
		if (!isdigit((unsigned char)*p))
			return 0;
		v = v * 10 + (*p - '0');
	}
	return v >= 1 && v <= 65535;
}

/*
 * The trust rule of SPEC 5 for a URL, written out again: "https://",
 * an authority without user information whose host is the login host
 * (with or without a valid port) or a DNS name ending in a Salesforce
 * suffix (no port).  Returns what follows the authority, or NULL.
 */
static const char *
trusted(const char *url)
{
	const char	*h, *end, *colon;
	size_t		 hl, sl, k;

	if (strncmp(url, "https://", 8) != 0)
		return NULL;
	h = url + 8;
	end = h + strcspn(h, "/?#");
	if (memchr(h, '@', (size_t)(end - h)) != NULL)
		return NULL;
	colon = memchr(h, ':', (size_t)(end - h));
	hl = (size_t)((colon != NULL ? colon : end) - h);
	if (hl == strlen(LOGIN_HOST) && strncasecmp(h, LOGIN_HOST, hl) == 0)
		return colon == NULL || port_ok(colon + 1, end) ? end : NULL;
	if (colon != NULL || !dns_name(h, hl))
		return NULL;
	for (k = 0; suffixes[k] != NULL; k++) {
		sl = strlen(suffixes[k]);
		if (hl > sl && strncasecmp(h + hl - sl, suffixes[k], sl) == 0)
			return end;
	}
	return NULL;
}

/* Asserts what a verified token reply must be. */
static void
check_verified(const struct sf_tokens *t)
{
	const char	*rest;
	size_t		 ol, ul, il;

	FUZZ_REQUIRE((rest = trusted(t->instance_url)) != NULL);
	FUZZ_REQUIRE(rest[0] == '\0' || strcmp(rest, "/") == 0);
	FUZZ_REQUIRE((rest = trusted(t->id)) != NULL);
	FUZZ_REQUIRE(sfid(t->org_id) && sfid(t->user_id));
	ol = strlen(t->org_id);
	ul = strlen(t->user_id);
	il = strlen(rest);
	/* The path ends in /id/ORG/USER. */
	FUZZ_REQUIRE(il >= 4 + ol + 1 + ul);
	FUZZ_REQUIRE(memcmp(rest + il - ul - 1 - ol - 4, "/id/", 4) == 0);
	FUZZ_REQUIRE(memcmp(rest + il - ul - 1 - ol, t->org_id, ol) == 0);
	FUZZ_REQUIRE(rest[il - ul - 1] == '/');
	FUZZ_REQUIRE(strcmp(rest + il - ul, t->user_id) == 0);
	FUZZ_REQUIRE(strpbrk(rest, "?#") == NULL);
}

static void
check_tokens(const char *s, size_t len)
{
	struct sf_tokens	 t;
	const char		*why;
	char			*sig;

	if (sf_parse_tokens(s, len, &t) != SF_OK)
		return;
	FUZZ_REQUIRE(t.access_token != NULL && opaque(t.access_token));
	FUZZ_REQUIRE(t.refresh_token == NULL ||
	    (*t.refresh_token != '\0' && opaque(t.refresh_token)));
	FUZZ_REQUIRE(t.instance_url != NULL && t.id != NULL &&
	    t.signature != NULL && t.issued_at != NULL);
	FUZZ_REQUIRE(t.org_id == NULL && t.user_id == NULL);
	sig = signature(&t);
	if (sf_tokens_verify(&org, &t, &why) == 0) {
		FUZZ_REQUIRE(strcmp(sig, t.signature) == 0);
		check_verified(&t);
	} else
		FUZZ_REQUIRE(why != NULL);
	/* Signed correctly, only the URLs decide. */
	free(t.signature);
	t.signature = sig;
	if (sf_tokens_verify(&org, &t, &why) == 0)
		check_verified(&t);
	else
		FUZZ_REQUIRE(why != NULL && t.org_id == NULL &&
		    t.user_id == NULL);
	sf_tokens_free(&t);
}

static void
check_userinfo(const char *s, size_t len)
{
	struct sf_userinfo	 u;
	char			*msg;

	if (sf_parse_userinfo(s, len, &u) != SF_OK)
		return;
	FUZZ_REQUIRE(sfid(u.user_id) && sfid(u.org_id));
	FUZZ_REQUIRE(u.username != NULL && *u.username != '\0');
	msg = render_whoami(INSTANCE, &u);
	fuzz_check_message(msg, whoami_links);
	free(msg);
	sf_userinfo_free(&u);
}

/* The reply read as each kind of search, and each page rendered with
 * its cards and buttons (a fixed key: the store is not fuzzed here). */
static void
check_contacts(const char *s, size_t len, const char *query)
{
	struct sf_records	 cs;
	struct render_cards	 c;
	struct render_page	 pg;
	size_t			 i;
	char			*msg;
	int			 k;

	for (k = 0; k < SF_KIND__MAX; k++) {
		if (sf_parse_records(k, SF_QUERY_LIMIT, s, len, &cs) != SF_OK)
			continue;
		FUZZ_REQUIRE(cs.n <= SF_QUERY_LIMIT);
		FUZZ_REQUIRE(cs.n == 0 || cs.v != NULL);
		FUZZ_REQUIRE((int)cs.kind == k);
		for (i = 0; i < cs.n; i++) {
			FUZZ_REQUIRE(sfid(cs.v[i].id));
			FUZZ_REQUIRE(cs.v[i].name != NULL &&
			    *cs.v[i].name != '\0');
			FUZZ_REQUIRE((cs.v[i].account_id == NULL) ==
			    (cs.v[i].account_name == NULL));
			FUZZ_REQUIRE(cs.v[i].account_id == NULL ||
			    sfid(cs.v[i].account_id));
		}
		FUZZ_REQUIRE(render_cards(k, INSTANCE, &cs, &c) == 0);
		memset(&pg, 0, sizeof(pg));
		pg.kind = k;
		pg.query = query;
		pg.more = cs.more;
		pg.key = pg.more_key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
		msg = render_results(&pg, &c);
		fuzz_check_message(msg, contact_links);
		free(msg);
		render_cards_free(&c);
		sf_records_free(&cs);
	}
}

/* Safe to log: printable ASCII without '"' and '\'. */
static int
loggable(const char *s, size_t max)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= max || s[i] < ' ' || s[i] > '~' || s[i] == '"' ||
		    s[i] == '\\')
			return 0;
	return 1;
}

static void
check_error(long status, const char *s, size_t len)
{
	struct sf_error	 err;
	enum sf_result	 r;

	memset(&err, 'X', sizeof(err));
	r = sf_parse_error(status, s, len, &err);
	FUZZ_REQUIRE(loggable(err.code, sizeof(err.code) - 1));
	FUZZ_REQUIRE(loggable(err.message, sizeof(err.message) - 1));
	FUZZ_REQUIRE(sf_result_str(r) != NULL);
	switch (r) {
	case SF_EXPIRED:
		FUZZ_REQUIRE(status == 401 &&
		    strcmp(err.code, "INVALID_SESSION_ID") == 0);
		break;
	case SF_INVALID_GRANT:
		FUZZ_REQUIRE(status == 400 &&
		    strcmp(err.code, "invalid_grant") == 0);
		break;
	case SF_REFUSED:
		FUZZ_REQUIRE(status >= 400 && status <= 499);
		break;
	case SF_TRANSIENT:
		FUZZ_REQUIRE(status >= 500 && status <= 599);
		break;
	case SF_MALFORMED:
		FUZZ_REQUIRE(status < 400 || status > 599);
		break;
	default:
		FUZZ_REQUIRE(!"an error reply classified as success");
	}
	FUZZ_REQUIRE(sf_parse_error(status, s, len, NULL) == r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*body = (const char *)data;
	char		*query;
	long		 status = 0;
	size_t		 i;

	for (i = 0; i < 3 && i < size && isdigit(data[i]); i++)
		status = status * 10 + (data[i] - '0');
	if (i == 0)
		status = 200;
	body += i;
	size -= i;
	check_tokens(body, size);
	check_userinfo(body, size);
	/* The query shown with the results: hostile text too. */
	query = fuzz_strndup((const uint8_t *)body, size < 200 ? size : 200);
	check_contacts(body, size, query);
	free(query);
	check_error(status, body, size);
	return 0;
}

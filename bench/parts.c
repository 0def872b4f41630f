/*
 * parts: what each step of a warm /contact costs, one step at a time, on
 * one thread, for scripts/bench.
 *
 *     parts TEAM USER SF_QUERY_URL N
 *
 * With the programs' settings in the environment and TEAM/USER linked
 * (bench/linkuser), runs every step of cgi/contact's path N times and
 * prints, per step, the mean microseconds of CPU time (user + system) and
 * of wall time per call:
 *
 *   verify      slack_verify(): timestamp window and HMAC-SHA256
 *   form        form_parse() and form_validate() of the slash command
 *   replay      store_replay_add(): the store's replay table, one write
 *               (what every signed request cost before issue 13)
 *   cache       replay_check(): the host's replay cache alone, on a
 *               table of its own in a temporary directory, a new
 *               signature each call (hashes made beforehand)
 *   rcheck      store_replay_check(): what a signed request costs now,
 *               the hash and the cache in front of the store (on SQLite
 *               no write; on PostgreSQL the shared table's write too)
 *   link        store_link_get(): lookup and two decryptions
 *   mode        session_mode(): which integration the workspace uses
 *   org         org_find() of the link's integration (for a named
 *               one: a lookup and the decryption of its secret)
 *   http        http_request(): the HTTPS GET alone, kept-alive
 *   parse       sf_parse_records() of the reply (contacts)
 *   query       sf_query_records(): http + parse + the SOQL URL
 *   render      render_cards() and render_results() (without a row)
 *   row         store_action_put() of a search page's row (a 1,760-byte
 *               JSON text sealed), alone: one commit per row
 *   easy        the relay's way: curl_easy_perform() on one easy handle
 *
 * so that the difference between forcelink and the relay in scripts/bench
 * can be put down to the steps that make it.  Built only with make bench.
 */
#include <sys/resource.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "config.h"
#include "crypto.h"
#include "fields.h"
#include "form.h"
#include "http.h"
#include "org.h"
#include "render.h"
#include "replay.h"
#include "session.h"
#include "sf.h"
#include "slack.h"
#include "store.h"

#define PARTS_BODY \
	"token=bench&team_id=%s&team_domain=bench&channel_id=C0BENCH001" \
	"&channel_name=general&user_id=%s&user_name=bench" \
	"&command=%%2Fcontact&text=smith&response_url=https%%3A%%2F%%2F" \
	"hooks.slack.com%%2Fcommands%%2F%s%%2F1%%2Fbench&trigger_id=1.2.3"

struct clocks {
	double	 cpu_us;
	double	 wall_us;
};

static void
clocks_now(struct clocks *c)
{
	struct rusage	 ru;
	struct timespec	 ts;

	getrusage(RUSAGE_THREAD, &ru);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	c->cpu_us = ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec +
	    ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;
	c->wall_us = ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void
report(const char *name, const struct clocks *a, const struct clocks *b,
    int n)
{
	printf("PART %-7s cpu_us=%.1f wall_us=%.1f\n", name,
	    (b->cpu_us - a->cpu_us) / n, (b->wall_us - a->wall_us) / n);
	fflush(stdout);
}

static size_t
easy_sink(char *p, size_t size, size_t nmemb, void *arg)
{
	(void)p;
	(void)arg;
	return size * nmemb;
}

/* replay_open()'s history: nothing predates the bench's table. */
static int
parts_no_history(void *arg)
{
	(void)arg;
	return 0;
}

/*
 * The parts "cache" and "rcheck", on a replay cache of their own in a
 * temporary directory (removed after).  Returns 0, or -1 when a new
 * signature was not accepted.
 */
static int
parts_cache(struct session *s, time_t now, int n)
{
	struct clocks	 a, b;
	unsigned char	*hs = NULL, h[CRYPTO_HASHLEN];
	char		 dir[] = "/tmp/parts-replay.XXXXXX", path[64], v[64];
	int		 i, rc = -1;

	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/replay", dir);
	if ((hs = calloc(n, CRYPTO_HASHLEN)) == NULL)
		goto out;
	if (replay_open(path, parts_no_history, NULL) == -1)
		goto out;
	for (i = 0; i < n; i++) {
		snprintf(v, sizeof(v), "cache-%lld-%d", (long long)now, i);
		crypto_sha256(v, hs + (size_t)i * CRYPTO_HASHLEN);
	}
	clocks_now(&a);
	for (i = 0; i < n; i++)
		if (replay_check(hs + (size_t)i * CRYPTO_HASHLEN, now) !=
		    REPLAY_NEW)
			goto out;
	clocks_now(&b);
	report("cache", &a, &b, n);

	clocks_now(&a);
	for (i = 0; i < n; i++) {
		snprintf(v, sizeof(v), "rcheck-%lld-%d", (long long)now, i);
		crypto_sha256(v, h);
		if (store_replay_check(s->st, h, now, now) != STORE_OK)
			goto out;
	}
	clocks_now(&b);
	report("rcheck", &a, &b, n);
	rc = 0;
out:
	replay_close();
	unlink(path);
	rmdir(dir);
	free(hs);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct config		 cfg;
	struct session		*s = NULL;
	struct slack_user	 who;
	struct store_link	 l;
	struct sf_records	 found;
	struct sf_search	 q = { SF_KIND_CONTACT, "smith", NULL,
				    SF_QUERY_LIMIT, 0, 0 };
	struct render_cards	 cards;
	struct render_page	 pg = { SF_KIND_CONTACT, "smith", 0, 0,
				    NULL, NULL };
	struct sf_error		 err;
	struct http_response	 resp;
	struct form		 f = { NULL, 0 };
	struct clocks		 a, b;
	struct curl_slist	*hdrs = NULL;
	unsigned char		 mac[32], h[CRYPTO_HASHLEN];
	char			 body[1024], ts[32], sig[80], hex[65], e[512];
	char			*json, *bearer = NULL;
	char			 rowdata[1761], rowkey[STORE_ACTION_KEY_LEN + 1];
	const char		*bad, *val[SLASH__MAX];
	CURL			*easy = NULL;
	time_t			 now;
	int			 i, n, rc = 1;

	if (argc != 5 || (n = atoi(argv[4])) <= 0) {
		fprintf(stderr, "usage: parts TEAM USER SF_QUERY_URL N\n");
		return 2;
	}
	if (crypto_init() == -1 || http_init() == -1 ||
	    config_load(&cfg, e, sizeof(e)) == -1) {
		fprintf(stderr, "parts: %s\n", e);
		return 1;
	}
	if ((s = session_new(&cfg)) == NULL)
		goto out;
	memset(&who, 0, sizeof(who));
	snprintf(who.team_id, sizeof(who.team_id), "%s", argv[1]);
	snprintf(who.user_id, sizeof(who.user_id), "%s", argv[2]);
	if (store_link_get(s->st, &who, &l) != STORE_OK) {
		fprintf(stderr, "parts: %s/%s is not linked\n", argv[1],
		    argv[2]);
		goto out;
	}
	bearer = strdup(l.access_token);
	store_link_free(&l);

	now = time(NULL);
	snprintf(body, sizeof(body), PARTS_BODY, argv[1], argv[2], argv[1]);
	snprintf(ts, sizeof(ts), "%lld", (long long)now);
	{
		char	 base[1200];

		snprintf(base, sizeof(base), "v0:%s:%s", ts, body);
		crypto_hmac_sha256(cfg.slack_signing_secret,
		    strlen(cfg.slack_signing_secret), base, strlen(base), mac);
		crypto_hex(mac, sizeof(mac), hex);
		snprintf(sig, sizeof(sig), "v0=%s", hex);
	}

	clocks_now(&a);
	for (i = 0; i < n; i++)
		if (slack_verify(cfg.slack_signing_secret, ts, sig, body,
		    strlen(body), now) != SLACK_OK)
			goto out;
	clocks_now(&b);
	report("verify", &a, &b, n);

	clocks_now(&a);
	for (i = 0; i < n; i++) {
		if (form_parse(body, strlen(body), &f) != FORM_OK ||
		    form_validate(&f, fields_slash, SLASH__MAX, val,
		    &bad) != FORM_OK)
			goto out;
		form_free(&f);
	}
	clocks_now(&b);
	report("form", &a, &b, n);

	clocks_now(&a);
	for (i = 0; i < n; i++) {
		char	 v[64];

		snprintf(v, sizeof(v), "parts-%lld-%d", (long long)now, i);
		crypto_sha256(v, h);
		if (store_replay_add(s->st, h, now, now + 601) != STORE_OK)
			goto out;
	}
	clocks_now(&b);
	report("replay", &a, &b, n);

	if (parts_cache(s, now, n) == -1)
		goto out;

	clocks_now(&a);
	for (i = 0; i < n; i++) {
		if (store_link_get(s->st, &who, &l) != STORE_OK)
			goto out;
		store_link_free(&l);
	}
	clocks_now(&b);
	report("link", &a, &b, n);

	{
		struct session_as	 as;
		struct sf_org		 org;

		if (store_link_get(s->st, &who, &l) != STORE_OK)
			goto out;
		clocks_now(&a);
		for (i = 0; i < n; i++) {
			if (session_mode(s, &who, &as) != SESSION_OK)
				goto out;
			session_as_free(&as);
		}
		clocks_now(&b);
		report("mode", &a, &b, n);
		clocks_now(&a);
		for (i = 0; i < n; i++) {
			if (org_find(&cfg, s->st, who.enterprise_id,
			    who.team_id, l.org, &org) != ORG_OK) {
				store_link_free(&l);
				goto out;
			}
			config_sf_org_free(&org);
		}
		clocks_now(&b);
		report("org", &a, &b, n);
		store_link_free(&l);
	}

	http_response_init(&resp);
	for (i = 0; i < 10; i++)	/* connect first: measure it warm */
		(void)http_request(s->http, "GET", argv[3], bearer, NULL,
		    NULL, &resp);
	clocks_now(&a);
	for (i = 0; i < n; i++)
		if (http_request(s->http, "GET", argv[3], bearer, NULL, NULL,
		    &resp) != HTTP_OK || resp.status != 200)
			goto out;
	clocks_now(&b);
	report("http", &a, &b, n);

	clocks_now(&a);
	for (i = 0; i < n; i++) {
		if (sf_parse_records(SF_KIND_CONTACT, SF_QUERY_LIMIT,
		    resp.body.data, resp.body.len, &found) != SF_OK)
			goto out;
		sf_records_free(&found);
	}
	clocks_now(&b);
	report("parse", &a, &b, n);
	http_response_free(&resp);

	clocks_now(&a);
	for (i = 0; i < n; i++) {
		if (sf_query_records(s->http, &cfg.sf, cfg.sf.login_url,
		    bearer, &q, &found, &err) != SF_OK)
			goto out;
		if (i < n - 1)
			sf_records_free(&found);
	}
	clocks_now(&b);
	report("query", &a, &b, n);

	clocks_now(&a);
	for (i = 0; i < n; i++) {
		if (render_cards(SF_KIND_CONTACT, cfg.sf.login_url, &found,
		    &cards) == -1)
			goto out;
		json = render_results(&pg, &cards);
		render_cards_free(&cards);
		if (json == NULL)
			goto out;
		free(json);
	}
	clocks_now(&b);
	report("render", &a, &b, n);
	sf_records_free(&found);

	/* A search page's row, about as long as scripts/bench's (1,807
	 * bytes sealed); outside a fiber, one commit per row. */
	memset(rowdata, 'x', sizeof(rowdata) - 1);
	rowdata[sizeof(rowdata) - 1] = '\0';
	clocks_now(&a);
	for (i = 0; i < n; i++)
		if (store_action_put(s->st, &who, STORE_ACTION_SHARE, rowdata,
		    now + 600, rowkey) != STORE_OK)
			goto out;
	clocks_now(&b);
	report("row", &a, &b, n);

	if ((easy = curl_easy_init()) == NULL)
		goto out;
	hdrs = curl_slist_append(NULL, "Accept: application/json");
	curl_easy_setopt(easy, CURLOPT_URL, argv[3]);
	curl_easy_setopt(easy, CURLOPT_CAINFO, cfg.ca_file);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, easy_sink);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "relay-bench");
	for (i = 0; i < 10; i++)
		(void)curl_easy_perform(easy);
	clocks_now(&a);
	for (i = 0; i < n; i++)
		if (curl_easy_perform(easy) != CURLE_OK)
			goto out;
	clocks_now(&b);
	report("easy", &a, &b, n);
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "parts: a step failed (see the log above)\n");
	curl_slist_free_all(hdrs);
	if (easy != NULL)
		curl_easy_cleanup(easy);
	free(bearer);
	session_free(s);
	config_free(&cfg);
	return rc;
}

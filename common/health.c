/*
 * health: the /healthz and /metrics answers (see health.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "health.h"
#include "log.h"
#include "metrics.h"
#include "req.h"
#include "store.h"

/* Ceilings of the two bodies. */
#define HEALTH_BODY_MAX		1024
#define HEALTH_METRICS_MAX	(64 * 1024)

#define HEALTH_JSON		"application/json"
#define HEALTH_PROM		"text/plain; version=0.0.4; charset=utf-8"

/* The last /healthz answer of this process (all its threads). */
static pthread_mutex_t	 health_mtx = PTHREAD_MUTEX_INITIALIZER;
static long long	 health_at = -1;	/* monotonic ms; -1: none */
static int		 health_status;
static char		 health_body[HEALTH_BODY_MAX];

static long long
health_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether a key id from the database may be written in JSON as it is. */
static int
health_id_ok(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) > 64)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9')))
			return 0;
	return 1;
}

/* A failed check: logged once, and its JSON body in b.  Returns what
 * buf_printf does. */
static int
health_fail(struct buf *b, const char *name, const char *check,
    const char *detail)
{
	log_event(LOGL_ERR, "health", "check=%s msg=\"%s\"", check, detail);
	return buf_printf(b, "{\"program\":\"%s\",\"status\":\"fail\","
	    "\"check\":\"%s\",\"detail\":\"%s\"}\n", name, check, detail);
}

/*
 * Runs the checks for program name, uncached, and writes the JSON body
 * into b.  Returns the HTTP status: 200 or 503 (500 when b is full).
 */
static int
health_check(struct session *s, const char *name, struct buf *b)
{
	struct store_link_info	 l;
	enum store_result	 r;
	int			 status, rc;

	r = store_key_sample(s->st, &l);
	switch (r) {
	case STORE_OK:
		status = 200;
		rc = buf_printf(b, "{\"program\":\"%s\",\"status\":\"ok\","
		    "\"schema\":%d,\"key\":\"opens\"", name,
		    store_schema_version());
		if (rc == 0 && health_id_ok(l.key_id))
			rc = buf_printf(b, ",\"key_id\":\"%s\"", l.key_id);
		if (rc == 0)
			rc = buf_puts(b, "}\n");
		break;
	case STORE_NOTFOUND:
		status = 200;
		rc = buf_printf(b, "{\"program\":\"%s\",\"status\":\"ok\","
		    "\"schema\":%d,\"key\":\"no links\"}\n", name,
		    store_schema_version());
		break;
	case STORE_BADKEY:
		status = 503;
		rc = health_fail(b, name, "key", "the keyring does not open "
		    "the most recently updated link");
		break;
	default:
		status = 503;
		rc = health_fail(b, name, "database", "the database cannot be "
		    "read");
		break;
	}
	if (r == STORE_OK || r == STORE_BADKEY)
		store_link_info_free(&l);
	return rc == 0 ? status : 500;
}

/* /healthz: the kept answer while it is fresh, or a new one. */
static void
health_answer(FCGX_Request *r, struct session *s, const char *name)
{
	struct buf	 b;
	long long	 now = health_now_ms();
	int		 status = 0;

	buf_init(&b, HEALTH_BODY_MAX - 1);
	pthread_mutex_lock(&health_mtx);
	if (health_at >= 0 && now - health_at < HEALTH_CACHE_MS &&
	    buf_puts(&b, health_body) == 0)
		status = health_status;
	pthread_mutex_unlock(&health_mtx);
	if (status == 0) {
		buf_reset(&b);
		if ((status = health_check(s, name, &b)) != 500) {
			pthread_mutex_lock(&health_mtx);
			memcpy(health_body, buf_cstr(&b), b.len + 1);
			health_status = status;
			health_at = now;
			pthread_mutex_unlock(&health_mtx);
		}
	}
	if (status == 500)
		req_send(r, 500, "text/plain; charset=utf-8", "internal error\n",
		    15);
	else
		req_send(r, status, HEALTH_JSON, buf_cstr(&b), b.len);
	buf_free(&b);
}

/* Reads the database figures of a scrape into *g (g->db_ok 0 when a
 * read failed). */
static void
health_gauges(struct session *s, struct metrics_gauges *g)
{
	struct store_key_count	 kc[METRICS_KEYS_MAX];
	struct store_stats	 ss;
	size_t			 i, n, len;

	memset(g, 0, sizeof(*g));
	if (store_stats(s->st, time(NULL), &ss) == -1)
		return;
	g->links = ss.links;
	g->installs_reinstall = ss.installs_reinstall;
	store_stats_free(&ss);
	if (store_key_census(s->st, kc, METRICS_KEYS_MAX, &n) != STORE_OK)
		return;
	for (i = 0; i < n; i++) {
		len = strnlen(kc[i].key_id, METRICS_KEY_ID_MAX);
		memcpy(g->key_id[i], kc[i].key_id, len);
		g->key_id[i][len] = '\0';
		g->key_rows[i] = store_key_count_rows(&kc[i]);
	}
	g->nkeys = n;
	g->db_ok = 1;
}

static void
health_metrics(FCGX_Request *r, struct session *s)
{
	struct metrics_gauges	 g;
	struct buf		 b;

	health_gauges(s, &g);
	buf_init(&b, HEALTH_METRICS_MAX);
	if (metrics_write(&b, &g) == -1) {
		log_error("msg=\"the metrics exceed %d bytes\"",
		    HEALTH_METRICS_MAX);
		req_send(r, 500, "text/plain; charset=utf-8", "internal error\n",
		    15);
	} else
		req_send(r, 200, HEALTH_PROM, buf_cstr(&b), b.len);
	buf_free(&b);
}

int
health_dispatch(FCGX_Request *r, struct session *s, const char *name)
{
	const char	*path = req_param(r, "SCRIPT_NAME");
	const char	*method = req_param(r, "REQUEST_METHOD");
	int		 health, metrics;

	if (path == NULL)
		return 0;
	health = strcmp(path, "/healthz") == 0 ||
	    strncmp(path, "/healthz/", 9) == 0;
	metrics = strcmp(path, "/metrics") == 0;
	if (!health && !metrics)
		return 0;
	if (method == NULL || (strcmp(method, "GET") != 0 &&
	    strcmp(method, "HEAD") != 0))
		req_send(r, 405, "text/plain; charset=utf-8",
		    "method not allowed\n", 19);
	else if (health && path[8] == '/' && strcmp(path + 9, name) != 0)
		req_send(r, 404, "text/plain; charset=utf-8",
		    "not this program\n", 17);
	else if (health)
		health_answer(r, s, name);
	else
		health_metrics(r, s);
	return 1;
}

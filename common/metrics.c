/*
 * metrics: the shared counters file and the Prometheus exposition (see
 * metrics.h).  The hot path is metrics_request() and its siblings: an
 * index computed from fixed enums and relaxed atomic additions on the
 * mapping, whose pointer is set once before the workers start.
 */
#include <sys/mman.h>

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "shmfile.h"

/* The counters before metrics_open() and when no file can be used. */
static struct metrics_shm	 metrics_local = {
	.magic = METRICS_MAGIC,
	.version = METRICS_VERSION,
	.size = sizeof(struct metrics_shm)
};
static struct metrics_shm	*metrics_p = &metrics_local;
static int			 metrics_mapped;

static const double	 metrics_bounds[METRICS_NBUCKETS - 1] =
			    METRICS_BUCKETS;

static const char *const metrics_route_names[METRICS_ROUTE__MAX] = {
	"contact", "oauth_start", "oauth_callback", "slack_install",
	"slack_oauth_redirect", "healthz", "metrics", "other", "account",
	"pipeline", "case", "slack_actions"
};
static const char *const metrics_out_names[METRICS_OUT__MAX] = {
	"2xx", "3xx", "4xx", "5xx", "none"
};
static const char *const metrics_sf_names[METRICS_SF__MAX] = {
	"query", "token_code", "token_refresh", "token_client", "userinfo",
	"revoke"
};
static const char *const metrics_refresh_names[METRICS_REFRESH__MAX] = {
	"ok", "shared", "invalid_grant", "forged", "error"
};
static const char *const metrics_deferred_names[METRICS_DEFERRED__MAX] = {
	"posted", "failed", "dropped"
};

#define METRICS_ADD(p, n)	__atomic_fetch_add((p), (n), __ATOMIC_RELAXED)
#define METRICS_LOAD(p)		__atomic_load_n((p), __ATOMIC_RELAXED)

/* Whether the header at p is ours. */
static int
metrics_valid(const void *p)
{
	const struct metrics_shm	*m = p;

	return m->magic == METRICS_MAGIC && m->version == METRICS_VERSION &&
	    m->size == sizeof(*m);
}

/* A fresh file: every count from zero. */
static void
metrics_build(void *p, int cleared)
{
	struct metrics_shm	*m = p;

	(void)cleared;
	memset(m, 0, sizeof(*m));
	m->version = METRICS_VERSION;
	m->size = sizeof(*m);
	__atomic_store_n(&m->magic, METRICS_MAGIC, __ATOMIC_RELEASE);
}

static const struct shmfile_layout	 metrics_layout = {
	"metrics", sizeof(struct metrics_shm), metrics_valid, metrics_build
};

int
metrics_open(const char *path)
{
	struct metrics_shm	*m;

	metrics_close();
	if ((m = shmfile_open(path, &metrics_layout, NULL)) != NULL) {
		metrics_p = m;
		metrics_mapped = 1;
		return 0;
	}
	/* Still shared with the workers this process forks. */
	m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m != MAP_FAILED) {
		*m = metrics_local;
		metrics_p = m;
		metrics_mapped = 1;
	}
	log_warn("msg=\"metrics count in this program's memory only\"");
	return -1;
}

void
metrics_close(void)
{
	if (metrics_mapped)
		munmap(metrics_p, sizeof(*metrics_p));
	metrics_p = &metrics_local;
	metrics_mapped = 0;
}

const struct metrics_shm *
metrics_get(void)
{
	return metrics_p;
}

enum metrics_route
metrics_route_of(const char *s)
{
	static const struct {
		const char		*path;
		enum metrics_route	 route;
	} routes[] = {
		{ "/contact", METRICS_ROUTE_CONTACT },
		{ "/oauth/start", METRICS_ROUTE_OAUTH_START },
		{ "/oauth/callback", METRICS_ROUTE_OAUTH_CALLBACK },
		{ "/slack/install", METRICS_ROUTE_SLACK_INSTALL },
		{ "/slack/oauth_redirect", METRICS_ROUTE_SLACK_REDIRECT },
		{ "/metrics", METRICS_ROUTE_METRICS },
		{ "/account", METRICS_ROUTE_ACCOUNT },
		{ "/pipeline", METRICS_ROUTE_PIPELINE },
		{ "/case", METRICS_ROUTE_CASE },
		{ "/slack/actions", METRICS_ROUTE_SLACK_ACTIONS },
	};
	size_t	 i;

	if (s == NULL)
		return METRICS_ROUTE_OTHER;
	if (strcmp(s, "/healthz") == 0 || strncmp(s, "/healthz/", 9) == 0)
		return METRICS_ROUTE_HEALTHZ;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strcmp(s, routes[i].path) == 0)
			return routes[i].route;
	return METRICS_ROUTE_OTHER;
}

void
metrics_request(enum metrics_route route, int status)
{
	enum metrics_outcome	 o;

	if ((unsigned)route >= METRICS_ROUTE__MAX)
		route = METRICS_ROUTE_OTHER;
	if (status >= 200 && status < 600)
		o = (enum metrics_outcome)(status / 100 - 2);
	else
		o = METRICS_OUT_NONE;
	METRICS_ADD(&metrics_p->requests[route][o], 1);
}

/* Adds one observation of us microseconds to h. */
static void
metrics_observe(struct metrics_hist *h, uint64_t us)
{
	size_t	 i;

	for (i = 0; i < METRICS_NBUCKETS - 1; i++)
		if ((double)us <= metrics_bounds[i] * 1e6)
			break;
	METRICS_ADD(&h->bucket[i], 1);
	METRICS_ADD(&h->sum_us, us);
}

void
metrics_ack(long ms)
{
	metrics_observe(&metrics_p->ack, ms > 0 ? (uint64_t)ms * 1000 : 0);
}

void
metrics_sf(enum metrics_sf_call call, uint64_t us)
{
	if ((unsigned)call < METRICS_SF__MAX)
		metrics_observe(&metrics_p->sf[call], us);
}

void
metrics_refresh(enum metrics_refresh o)
{
	if ((unsigned)o < METRICS_REFRESH__MAX)
		METRICS_ADD(&metrics_p->refresh[o], 1);
}

void
metrics_deferred(enum metrics_deferred o)
{
	if ((unsigned)o < METRICS_DEFERRED__MAX)
		METRICS_ADD(&metrics_p->deferred[o], 1);
}

/* --- The exposition --------------------------------------------------- */

static int
metrics_head(struct buf *b, const char *name, const char *type,
    const char *help)
{
	return buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

/*
 * Writes histogram h as name{labels,le=...}: the buckets cumulated, then
 * _sum (seconds) and _count.  labels is "" or 'k="v"'.  The count is the
 * buckets' total, so it always equals the +Inf bucket.
 */
static int
metrics_hist_write(struct buf *b, const char *name, const char *labels,
    const struct metrics_hist *h)
{
	const char	*sep = labels[0] != '\0' ? "," : "";
	uint64_t	 cum = 0;
	size_t		 i;

	for (i = 0; i < METRICS_NBUCKETS; i++) {
		cum += METRICS_LOAD(&h->bucket[i]);
		if (i < METRICS_NBUCKETS - 1) {
			if (buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n",
			    name, labels, sep, metrics_bounds[i],
			    (unsigned long long)cum) == -1)
				return -1;
		} else if (buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n",
		    name, labels, sep, (unsigned long long)cum) == -1)
			return -1;
	}
	if (labels[0] != '\0')
		return buf_printf(b, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n",
		    name, labels, METRICS_LOAD(&h->sum_us) / 1e6, name, labels,
		    (unsigned long long)cum);
	return buf_printf(b, "%s_sum %.6f\n%s_count %llu\n", name,
	    METRICS_LOAD(&h->sum_us) / 1e6, name, (unsigned long long)cum);
}

/* A counter with one label over a fixed set of values. */
static int
metrics_counter1(struct buf *b, const char *name, const char *help,
    const char *label, const char *const *names, const uint64_t *v, size_t n)
{
	size_t	 i;

	if (metrics_head(b, name, "counter", help) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (buf_printf(b, "%s{%s=\"%s\"} %llu\n", name, label,
		    names[i], (unsigned long long)METRICS_LOAD(&v[i])) == -1)
			return -1;
	return 0;
}

/* Whether a key id may be written as a label value as it is. */
static int
metrics_key_id_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return 0;
	return 1;
}

static int
metrics_gauges_write(struct buf *b, const struct metrics_gauges *g)
{
	size_t	 i, nother = 0;
	long	 other = 0;

	if (metrics_head(b, "forcelink_database_up", "gauge", "1 when the "
	    "figures below could be read from the database.") == -1 ||
	    buf_printf(b, "forcelink_database_up %d\n", g->db_ok ? 1 : 0) == -1)
		return -1;
	if (!g->db_ok)
		return 0;
	if (metrics_head(b, "forcelink_links", "gauge", "Slack users linked "
	    "to Salesforce.") == -1 ||
	    buf_printf(b, "forcelink_links %ld\n", g->links) == -1 ||
	    metrics_head(b, "forcelink_installations_needing_reinstall",
	    "gauge", "Slack installations whose refresh token Slack "
	    "refused.") == -1 ||
	    buf_printf(b, "forcelink_installations_needing_reinstall %ld\n",
	    g->installs_reinstall) == -1 ||
	    metrics_head(b, "forcelink_key_rows", "gauge", "Sealed rows by "
	    "the id of the key that sealed them.") == -1)
		return -1;
	/* Ids that cannot be written are added up in one "other" line, so
	 * no series appears twice. */
	for (i = 0; i < g->nkeys && i < METRICS_KEYS_MAX; i++) {
		if (!metrics_key_id_ok(g->key_id[i])) {
			other += g->key_rows[i];
			nother++;
		} else if (buf_printf(b, "forcelink_key_rows{key_id=\"%s\"} "
		    "%ld\n", g->key_id[i], g->key_rows[i]) == -1)
			return -1;
	}
	if (nother > 0 && buf_printf(b, "forcelink_key_rows{key_id=\"other\"} "
	    "%ld\n", other) == -1)
		return -1;
	return 0;
}

int
metrics_write(struct buf *b, const struct metrics_gauges *g)
{
	const struct metrics_shm	*m = metrics_p;
	size_t				 r, o;
	char				 lab[64];

	if (metrics_head(b, "forcelink_requests_total", "counter",
	    "Requests answered, by route and HTTP status class.") == -1)
		return -1;
	for (r = 0; r < METRICS_ROUTE__MAX; r++)
		for (o = 0; o < METRICS_OUT__MAX; o++)
			if (buf_printf(b, "forcelink_requests_total{route=\"%s\","
			    "outcome=\"%s\"} %llu\n", metrics_route_names[r],
			    metrics_out_names[o], (unsigned long long)
			    METRICS_LOAD(&m->requests[r][o])) == -1)
				return -1;
	if (metrics_head(b, "forcelink_slack_ack_seconds", "histogram",
	    "Time from a worker taking a /contact request to Slack's answer "
	    "leaving it.") == -1 ||
	    metrics_hist_write(b, "forcelink_slack_ack_seconds", "",
	    &m->ack) == -1 ||
	    metrics_head(b, "forcelink_salesforce_request_seconds",
	    "histogram", "Time of each HTTP request to Salesforce, by "
	    "call.") == -1)
		return -1;
	for (r = 0; r < METRICS_SF__MAX; r++) {
		snprintf(lab, sizeof(lab), "call=\"%s\"", metrics_sf_names[r]);
		if (metrics_hist_write(b,
		    "forcelink_salesforce_request_seconds", lab, &m->sf[r]) ==
		    -1)
			return -1;
	}
	if (metrics_counter1(b, "forcelink_refreshes_total", "Refreshes of "
	    "users' Salesforce tokens, by outcome.", "outcome",
	    metrics_refresh_names, m->refresh, METRICS_REFRESH__MAX) == -1 ||
	    metrics_counter1(b, "forcelink_deferred_answers_total",
	    "/contact answers sent to response_url after the ack, by "
	    "outcome.", "outcome", metrics_deferred_names, m->deferred,
	    METRICS_DEFERRED__MAX) == -1)
		return -1;
	return g != NULL ? metrics_gauges_write(b, g) : 0;
}

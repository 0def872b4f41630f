/*
 * metrics: counters and histograms shared by every process of every
 * program, and their Prometheus text exposition (format 0.0.4).
 *
 * A scrape of GET /metrics reaches one thread of one worker of one
 * program, yet must report what all of them did.  So the counters live
 * in one small file next to the database, $FORCELINK_DB-metrics, which
 * every program maps MAP_SHARED before it forks its workers; an update
 * is one or two relaxed atomic additions on that mapping: no system
 * call, no lock, nothing that can fail or block a request.  Counters
 * start from zero when the file is made (Prometheus takes such a reset
 * as a restart).
 *
 * The file is distrusted like any input (shmfile.h): it must be a
 * regular file (no symbolic link followed) owned by the service user,
 * and begin with the right magic number, layout version and size.  A file that fails the
 * header or size check (damaged, or from another version) is rebuilt
 * empty, under an exclusive flock() so that programs starting together
 * agree; one that is not a regular file of ours is not touched, and the
 * program then counts in memory shared by its own processes only
 * (logged).  It is made, and kept, mode 0600.
 *
 * The metrics (all names begin with forcelink_; label values come from
 * the fixed enums below, never from a request):
 *
 *   forcelink_requests_total{route,outcome}      counter
 *	Requests the programs answered, by route (contact, oauth_start,
 *	oauth_callback, slack_install, slack_oauth_redirect, healthz,
 *	metrics, other, account, pipeline, case, slack_actions) and
 *	outcome: the class of the HTTP status the
 *	program wrote (2xx, 3xx, 4xx, 5xx) or none when it wrote none.
 *   forcelink_slack_ack_seconds                  histogram
 *	From the moment a worker thread took a /contact request to
 *	Slack's answer leaving it (the ack_ms of the slack.ack log line).
 *   forcelink_salesforce_request_seconds{call}   histogram
 *	Each HTTP request to Salesforce, by call: query, token_code,
 *	token_refresh, token_client, userinfo, revoke.  A call that failed
 *	to connect counts too, with the time it took to fail.
 *   forcelink_refreshes_total{outcome}           counter
 *	Refreshes of a user's tokens: ok (refreshed), shared (another
 *	thread or process had refreshed meanwhile: its tokens were used),
 *	invalid_grant (Salesforce refused the refresh token: the link was
 *	removed), forged (the reply failed verification), error
 *	(unreachable, failing, or our own failure).
 *   forcelink_deferred_answers_total{outcome}    counter
 *	/contact answers sent to response_url after the ack: posted
 *	(Slack answered 200), failed (anything else), dropped (no usable
 *	response_url).
 *
 * and, read from the database at each scrape (metrics_gauges):
 *
 *   forcelink_database_up                        gauge (1, or 0 when the
 *	reads below failed; they are then left out)
 *   forcelink_links                              gauge
 *   forcelink_installations_needing_reinstall    gauge
 *   forcelink_key_rows{key_id}                   gauge: sealed rows per
 *	key id (links, installations, login states, integrations' values);
 *	key_id="other" adds up rows whose key id is malformed, and those
 *	past METRICS_KEYS_MAX ids
 *
 * Histograms have the buckets METRICS_BUCKETS (seconds).
 */
#ifndef FORCELINK_METRICS_H
#define FORCELINK_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum metrics_route {
	METRICS_ROUTE_CONTACT,
	METRICS_ROUTE_OAUTH_START,
	METRICS_ROUTE_OAUTH_CALLBACK,
	METRICS_ROUTE_SLACK_INSTALL,
	METRICS_ROUTE_SLACK_REDIRECT,
	METRICS_ROUTE_HEALTHZ,
	METRICS_ROUTE_METRICS,
	METRICS_ROUTE_OTHER,
	/* Issue 15: the three slash commands contact serves besides
	 * /contact, and the interactivity endpoint (cgi/actions). */
	METRICS_ROUTE_ACCOUNT,
	METRICS_ROUTE_PIPELINE,
	METRICS_ROUTE_CASE,
	METRICS_ROUTE_SLACK_ACTIONS,
	METRICS_ROUTE__MAX
};

enum metrics_outcome {
	METRICS_OUT_2XX,
	METRICS_OUT_3XX,
	METRICS_OUT_4XX,
	METRICS_OUT_5XX,
	METRICS_OUT_NONE,
	METRICS_OUT__MAX
};

enum metrics_sf_call {
	METRICS_SF_QUERY,
	METRICS_SF_TOKEN_CODE,
	METRICS_SF_TOKEN_REFRESH,
	METRICS_SF_TOKEN_CLIENT,
	METRICS_SF_USERINFO,
	METRICS_SF_REVOKE,
	METRICS_SF__MAX
};

enum metrics_refresh {
	METRICS_REFRESH_OK,
	METRICS_REFRESH_SHARED,
	METRICS_REFRESH_INVALID_GRANT,
	METRICS_REFRESH_FORGED,
	METRICS_REFRESH_ERROR,
	METRICS_REFRESH__MAX
};

enum metrics_deferred {
	METRICS_DEFERRED_POSTED,
	METRICS_DEFERRED_FAILED,
	METRICS_DEFERRED_DROPPED,
	METRICS_DEFERRED__MAX
};

/* The upper bounds of the histograms' buckets, in seconds; +Inf
 * follows.  Slack's 2.5 s ack budget and the 20 s HTTP timeout are
 * bounds, so a scrape tells a late ack or a timed-out call at once. */
#define METRICS_BUCKETS	{ 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, \
			  2.5, 5, 10, 20 }
#define METRICS_NBUCKETS	13	/* the bounds above and +Inf */

/* One histogram: per-bucket (not cumulative) counts and the sum of the
 * observations in microseconds. */
struct metrics_hist {
	uint64_t	 bucket[METRICS_NBUCKETS];
	uint64_t	 sum_us;
};

/* The layout of the file.  METRICS_VERSION changes with it. */
#define METRICS_MAGIC	0x53434952544d4c46ULL	/* "FLMTRICS" */
#define METRICS_VERSION	2
struct metrics_shm {
	uint64_t		 magic;
	uint32_t		 version;
	uint32_t		 size;		/* sizeof(struct metrics_shm) */
	uint64_t		 requests[METRICS_ROUTE__MAX][METRICS_OUT__MAX];
	struct metrics_hist	 ack;
	struct metrics_hist	 sf[METRICS_SF__MAX];
	uint64_t		 refresh[METRICS_REFRESH__MAX];
	uint64_t		 deferred[METRICS_DEFERRED__MAX];
};

/*
 * Maps the counters file at path (created 0600 when missing, rebuilt
 * when its header or size is wrong; see above).  Call before forking
 * the workers.  Returns 0; or -1 (logged) when the file cannot be used,
 * the counters then living in memory shared by this process and its
 * children only (still -1 when even that fails: then in this process's
 * memory).  Until it is called, and after metrics_close(), the counters
 * are this process's own.
 */
int	 metrics_open(const char *path);

/* Unmaps the counters (tests, and a program that stops). */
void	 metrics_close(void);

/* The counters, for the exposition and the tests.  Never NULL. */
const struct metrics_shm *metrics_get(void);

/* The route of a request's SCRIPT_NAME (may be NULL). */
enum metrics_route metrics_route_of(const char *script_name);

/* Counts one request of route whose answer had HTTP status (0: none). */
void	 metrics_request(enum metrics_route, int status);

/* Counts one Slack ack that took ms milliseconds. */
void	 metrics_ack(long ms);

/* Counts one Salesforce call that took us microseconds. */
void	 metrics_sf(enum metrics_sf_call, uint64_t us);

/* Count one refresh, or one deferred answer, of this outcome (one out
 * of range, such as the __MAX value, counts nothing). */
void	 metrics_refresh(enum metrics_refresh);
void	 metrics_deferred(enum metrics_deferred);

/* What the database says at a scrape.  key_id holds at most
 * METRICS_KEYS_MAX ids; rows beyond are added to the last. */
#define METRICS_KEYS_MAX	16
#define METRICS_KEY_ID_MAX	64
struct metrics_gauges {
	int	 db_ok;			/* 0: the rest is not known */
	long	 links;
	long	 installs_reinstall;
	size_t	 nkeys;
	char	 key_id[METRICS_KEYS_MAX][METRICS_KEY_ID_MAX + 1];
	long	 key_rows[METRICS_KEYS_MAX];
};

/*
 * Appends the exposition of the counters and of g (may be NULL: no
 * database figures) to b.  A key id that is empty or not made of
 * letters, digits, '-' and '_' is written as "other".  Returns 0, or -1
 * when b is full.
 */
int	 metrics_write(struct buf *b, const struct metrics_gauges *g);

#endif

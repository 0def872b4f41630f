/*
 * health: GET /healthz and GET /metrics, answered by every program
 * before its own handler (app.c).
 *
 * /healthz (and /healthz/PROGRAM, PROGRAM being the program's own name;
 * another program's name is 404, so a location routed to the wrong
 * socket shows) says whether this program can serve: it is up, its
 * database answers, and its keyring opens the most recently updated
 * link (store_key_sample, the check forcelink-admin doctor calls
 * key.sample).  200 with
 *
 *	{"program":"contact","status":"ok","schema":5,
 *	 "key":"opens","key_id":"0123456789abcdef"}
 *
 * ("key":"no links" and no key_id before the first link), or 503 with
 *
 *	{"program":"contact","status":"fail","check":"key"|"database",
 *	 "detail":"..."}
 *
 * No secret is in either: key_id is the public id of the key that
 * sealed the link.  It never calls Salesforce; it finds the newest link
 * (one pass over the links table, a row per linked user) and reads that
 * row by its key, and the answer is kept one second per process, so a
 * monitor polling often costs next to nothing.
 *
 * /metrics is the Prometheus exposition of metrics.h, the database
 * figures read at each scrape.
 *
 * Both answer GET and HEAD only (405 otherwise).  nginx restricts who
 * may ask (forcelink-locations.conf).
 */
#ifndef FORCELINK_HEALTH_H
#define FORCELINK_HEALTH_H

#include <fcgiapp.h>

#include "session.h"

/* How long a /healthz answer is reused, in milliseconds. */
#define HEALTH_CACHE_MS	1000

/*
 * Answers r when its SCRIPT_NAME is /healthz, /healthz/... or /metrics,
 * with the thread's session s, as program name.  Returns 1 when it
 * answered (the request is done), 0 when the request is the program's.
 */
int	 health_dispatch(FCGX_Request *r, struct session *s, const char *name);

#endif

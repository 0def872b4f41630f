/*
 * http_origin: what a worker's I/O loop knows of each host it talks to
 * (see http_int.h): whether it multiplexes (HTTP/2) or not, and, while
 * the first connection to a new host is being made, the transfers that
 * wait to learn it.
 *
 * Why wait: libcurl (7.88) opens a new connection for every transfer
 * that finds a host's connections at their stream limit, without
 * waiting for the one it is already opening, and its only brake is a
 * per-host connection cap that a multi handle applies to every host
 * alike.  So the loop keeps two multi handles (http_loop.c), a small
 * cap for hosts that multiplex and a large one for HTTP/1.1, and must
 * know which a host is before it hands it a burst: the first transfer
 * to a new host goes alone (the probe) and the others wait here until
 * its TLS handshake has told the protocol (ALPN) or it has failed.
 *
 * The table is small and fixed: HTTP_ORIGINS hosts, the least recently
 * used known one forgotten for a new one.  A host that cannot get a
 * slot (every slot probing) is served as not known, without waiting.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_int.h"

/* Hosts remembered, and the longest origin ("https://" host ":" port). */
#define HTTP_ORIGINS		32
#define HTTP_ORIGIN_MAX		263

enum http_origin_state {
	HTTP_ORIGIN_FREE,
	HTTP_ORIGIN_PROBING,	/* its probe runs; others wait */
	HTTP_ORIGIN_PLAIN,	/* HTTP/1.x */
	HTTP_ORIGIN_MUX		/* HTTP/2 */
};

struct http_origin {
	enum http_origin_state	 state;
	char			 name[HTTP_ORIGIN_MAX + 1];
	uint64_t		 used;		/* last use, for forgetting */
	struct http_xfer	*probe;
	struct http_xfer	*held, *heldtail;
};

struct http_origins {
	struct http_origin	 o[HTTP_ORIGINS];
	uint64_t		 tick;
};

struct http_origins *
http_origins_new(void)
{
	return calloc(1, sizeof(struct http_origins));
}

void
http_origins_free(struct http_origins *t)
{
	free(t);
}

/*
 * Copies the origin of url (everything before its path) into o.
 * Returns its length, or 0 when url has none the table can keep (no
 * scheme, a user part, too long).
 */
static size_t
http_origin_of(const char *url, char o[HTTP_ORIGIN_MAX + 1])
{
	const char	*host;
	size_t		 n, hn;

	if ((host = strstr(url, "://")) == NULL)
		return 0;
	host += 3;
	hn = strcspn(host, "/?#");
	n = (size_t)(host - url) + hn;
	if (n > HTTP_ORIGIN_MAX || memchr(host, '@', hn) != NULL || hn == 0)
		return 0;
	memcpy(o, url, n);
	o[n] = '\0';
	return n;
}

/* The slot of origin name, or -1. */
static int
http_origin_find(const struct http_origins *t, const char *name)
{
	int	 i;

	for (i = 0; i < HTTP_ORIGINS; i++)
		if (t->o[i].state != HTTP_ORIGIN_FREE &&
		    strcasecmp(t->o[i].name, name) == 0)
			return i;
	return -1;
}

/* A slot for a new origin: a free one, else the least recently used
 * known one; -1 when every slot is probing. */
static int
http_origin_slot(const struct http_origins *t)
{
	int	 i, best = -1;

	for (i = 0; i < HTTP_ORIGINS; i++) {
		if (t->o[i].state == HTTP_ORIGIN_FREE)
			return i;
		if (t->o[i].state != HTTP_ORIGIN_PROBING &&
		    (best == -1 || t->o[i].used < t->o[best].used))
			best = i;
	}
	return best;
}

enum http_route
http_origin_route(struct http_origins *t, struct http_xfer *x,
    long now_ms)
{
	struct http_origin	*o;
	char			 name[HTTP_ORIGIN_MAX + 1];
	int			 i;

	x->probe = 0;
	x->hnext = NULL;
	if (http_origin_of(x->url, name) == 0)
		return HTTP_ROUTE_PLAIN;
	if ((i = http_origin_find(t, name)) == -1) {
		if ((i = http_origin_slot(t)) == -1)
			return HTTP_ROUTE_PLAIN;
		o = &t->o[i];
		memset(o, 0, sizeof(*o));
		memcpy(o->name, name, strlen(name) + 1);
		o->state = HTTP_ORIGIN_PROBING;
	}
	o = &t->o[i];
	o->used = ++t->tick;
	switch (o->state) {
	case HTTP_ORIGIN_MUX:
		return HTTP_ROUTE_MUX;
	case HTTP_ORIGIN_PLAIN:
		return HTTP_ROUTE_PLAIN;
	default:
		break;
	}
	x->origin = i;
	if (o->probe == NULL) {
		o->probe = x;
		x->probe = 1;
		return HTTP_ROUTE_PROBE;
	}
	x->held_ms = now_ms;
	if (o->heldtail != NULL)
		o->heldtail->hnext = x;
	else
		o->held = x;
	o->heldtail = x;
	return HTTP_ROUTE_HOLD;
}

/* Ends origin i's probe: its state becomes state (FREE: not learned),
 * and the transfers it held are returned, in order. */
static struct http_xfer *
http_origin_settle(struct http_origins *t, int i,
    enum http_origin_state state)
{
	struct http_origin	*o = &t->o[i];
	struct http_xfer	*held = o->held;

	if (o->probe != NULL)
		o->probe->probe = 0;
	o->probe = NULL;
	o->held = o->heldtail = NULL;
	o->state = state;
	return held;
}

struct http_xfer *
http_origin_learned(struct http_origins *t, struct http_xfer *probe,
    int h2)
{
	if (!probe->probe)
		return NULL;
	return http_origin_settle(t, probe->origin, h2 == 1 ?
	    HTTP_ORIGIN_MUX : h2 == 0 ? HTTP_ORIGIN_PLAIN : HTTP_ORIGIN_FREE);
}

struct http_xfer *
http_origin_done(struct http_origins *t, struct http_xfer *x,
    long version)
{
	struct http_origin	*o;
	struct http_xfer	*held = NULL;
	char			 name[HTTP_ORIGIN_MAX + 1];
	int			 i;

	/* A probe that ends before its handshake told anything (it could
	 * not connect): its host is not known, and what it held goes on
	 * as for any unknown host. */
	if (x->probe)
		held = http_origin_settle(t, x->origin, HTTP_ORIGIN_FREE);
	/* An answer tells the protocol the host speaks now. */
	if (version == 0 || http_origin_of(x->url, name) == 0 ||
	    (i = http_origin_find(t, name)) == -1)
		return held;
	o = &t->o[i];
	if (o->state == HTTP_ORIGIN_MUX || o->state == HTTP_ORIGIN_PLAIN)
		o->state = version == CURL_HTTP_VERSION_2_0 ?
		    HTTP_ORIGIN_MUX : HTTP_ORIGIN_PLAIN;
	return held;
}

struct http_xfer *
http_origin_drain(struct http_origins *t)
{
	struct http_xfer	*all = NULL, *tail = NULL, *h;
	int			 i;

	for (i = 0; i < HTTP_ORIGINS; i++) {
		if (t->o[i].state != HTTP_ORIGIN_PROBING)
			continue;
		h = http_origin_settle(t, i, HTTP_ORIGIN_FREE);
		if (h == NULL)
			continue;
		if (tail != NULL)
			tail->hnext = h;
		else
			all = h;
		for (tail = h; tail->hnext != NULL; tail = tail->hnext)
			;
	}
	return all;
}

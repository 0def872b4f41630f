/*
 * http_int: what http.c, http_easy.c and http_loop.c share, and nobody
 * else may see.
 *
 * A transfer is described by a struct http_xfer that lives on the
 * requesting fiber's stack: http.c fills in the request, the loop runs
 * it on an easy handle of its own and fills in the outcome, then sets
 * done and wakes the fiber.  After done the loop never touches it again.
 */
#ifndef FORCELINK_HTTP_INT_H
#define FORCELINK_HTTP_INT_H

#include <curl/curl.h>

#include "buf.h"
#include "fiber.h"
#include "http.h"

struct http_xfer {
	/* The request, set by http.c; the memory is the caller's and
	 * outlives the transfer. */
	const char		*method;
	const char		*url;
	struct curl_slist	*hdrs;
	const char		*body;
	long			 connect_ms;
	long			 total_ms;
	struct fiber		*waiter;
	/* The body as it arrives (http_write), and the outcome. */
	struct buf		*sink;
	int			 toobig;
	CURLcode		 cc;
	long			 status;
	long			 retry_after;	/* Retry-After, seconds */
	time_t			 last_modified;	/* Last-Modified, 0: none */
	long			 connects;	/* connections it opened */
	char			 errbuf[CURL_ERROR_SIZE];
	/* The loop's: done under its mutex, the rest its thread's. */
	int			 done;
	struct http_xfer	*next;		/* submitted, not started */
	struct http_xfer	*rprev, *rnext;	/* running */
	CURL			*easy;
	struct http_loop	*loop;
	int			 pool;		/* whose multi runs it */
	int			 held;		/* waits for a probe */
	/* http_origin.c's: */
	int			 probe;		/* its host's probe */
	int			 origin;	/* its host's slot */
	long			 held_ms;	/* held since (monotonic) */
	struct http_xfer	*hnext;		/* held, or ready */
};

/* --- http_easy.c: an easy handle's options --------------------------- */

/* Hardens a new easy handle (the options no request may change).
 * Returns 0, or -1 when libcurl refuses one. */
int		 http_harden(CURL *, const char *ca_file);

/* Sets x's request options on c, and clears them again.  http_prepare
 * returns 0, or -1 (logged). */
int		 http_prepare(CURL *c, struct http_xfer *x);
void		 http_unprepare(CURL *c);

/* Reads the outcome of c's finished transfer (result cc) into x. */
void		 http_collect(CURL *c, struct http_xfer *x, CURLcode cc);

/* Whether the TLS handshake of c's connection chose HTTP/2 (ALPN):
 * 1, 0 for another protocol, -1 when it cannot be told. */
int		 http_alpn_h2(CURL *c);

/* --- http_origin.c: what the loop knows of each host ----------------- */

struct http_origins;

/* Where a transfer goes: to the pool for HTTP/1.1 or hosts not known
 * (PLAIN), to the multiplexed one (MUX), as its host's first transfer
 * (PROBE: run it, and report its handshake with http_origin_learned),
 * or nowhere yet (HOLD: it waits for its host's probe). */
enum http_route {
	HTTP_ROUTE_PLAIN,
	HTTP_ROUTE_MUX,
	HTTP_ROUTE_PROBE,
	HTTP_ROUTE_HOLD
};

struct http_origins *http_origins_new(void);
void		 http_origins_free(struct http_origins *);

/* Routes x by the host of its URL; now_ms (monotonic) is kept in a held
 * one. */
enum http_route	 http_origin_route(struct http_origins *,
		    struct http_xfer *x, long now_ms);

/* Probe x's handshake chose HTTP/2 (h2 1), something else (0), or could
 * not be read (-1: the host stays unknown).  Returns the transfers that
 * waited for it (linked by hnext), or NULL. */
struct http_xfer *http_origin_learned(struct http_origins *,
		    struct http_xfer *x, int h2);

/* Transfer x ended, with its answer's protocol version (CURLINFO's, 0:
 * no answer).  Returns the transfers that waited for it when it was a
 * probe that never connected, or NULL. */
struct http_xfer *http_origin_done(struct http_origins *,
		    struct http_xfer *x, long version);

/* Ends every probe's wait (the loop aborts); returns nothing to start:
 * the transfers that waited are the loop's to finish. */
struct http_xfer *http_origin_drain(struct http_origins *);

/* --- http_loop.c ------------------------------------------------------ */

/* Runs x on loop l and waits (in the calling fiber) until it is done. */
void		 http_loop_run(struct http_loop *l, struct http_xfer *x);

#endif

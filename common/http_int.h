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

/* --- http_loop.c ------------------------------------------------------ */

/* Runs x on loop l and waits (in the calling fiber) until it is done. */
void		 http_loop_run(struct http_loop *l, struct http_xfer *x);

#endif

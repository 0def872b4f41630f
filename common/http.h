/*
 * http: the one hardened libcurl wrapper for all outbound calls.
 *
 * HTTPS only, no redirects, certificate and host name verification always
 * on (with FORCELINK_CA_FILE as an extra trust anchor when set), bounded
 * connect and total time, and a capped response size.  One struct http per
 * thread, which any of the thread's fibers may use.
 *
 * Two ways to run a transfer.  A worker's request fibers (fiber.h) share
 * one I/O loop per worker process, a thread of its own that owns every
 * outbound transfer of the worker through one libcurl multi handle
 * (http_loop_start, http_use_loop): the fiber waits without holding its
 * thread, requests to one host share its connections (multiplexed over
 * HTTP/2 when the peer offers it, else a capped pool of HTTP/1.1
 * keep-alive connections) and its TLS sessions.  Anywhere else a client
 * runs its transfers itself, on the calling thread; a deadline set with
 * fiber_set_deadline() still runs during the wait.
 */
#ifndef FORCELINK_HTTP_H
#define FORCELINK_HTTP_H

#include <time.h>

#include "buf.h"

/* Largest response body read from any peer. */
#define HTTP_RESPONSE_MAX	(1024 * 1024)
/* Connect timeout and total timeout of one transfer, in milliseconds. */
#define HTTP_CONNECT_MS		10000
#define HTTP_TOTAL_MS		20000

struct http;

enum http_result {
	HTTP_OK,		/* a complete response arrived (any status) */
	HTTP_TIMEOUT,		/* connect or total time exceeded */
	HTTP_CONNECT,		/* could not resolve or connect */
	HTTP_TLS,		/* handshake or certificate verification failed */
	HTTP_TOOBIG,		/* response larger than HTTP_RESPONSE_MAX */
	HTTP_REFUSED,		/* URL not https, or malformed */
	HTTP_ERROR		/* anything else (logged) */
};

struct http_response {
	long		status;		/* HTTP status code */
	long		retry_after;	/* Retry-After in seconds (a date
					   is read as the seconds to it);
					   0 when absent */
	time_t		last_modified;	/* a 2xx reply's Last-Modified; 0
					   when absent or not a date */
	struct buf	body;		/* capped at HTTP_RESPONSE_MAX */
};

/* Initialises libcurl for a threaded program: call once in main() before
 * any thread starts.  Returns 0, or -1. */
int		 http_init(void);

/* Creates a client.  ca_file (may be NULL) is an extra CA bundle.
 * Returns NULL on failure (logged). */
struct http	*http_new(const char *ca_file);
void		 http_free(struct http *);

/*
 * Performs one request.  method is "GET" or "POST".  bearer (may be NULL)
 * becomes "Authorization: Bearer ...".  body (may be NULL) is sent with
 * content_type.  On HTTP_OK *resp holds the status and body (initialise it
 * with http_response_init, release with http_response_free).  The URL and
 * any secret are never logged; failures are logged with the host only.
 */
enum http_result http_request(struct http *, const char *method,
	    const char *url, const char *bearer, const char *content_type,
	    const char *body, struct http_response *resp);

/*
 * http_request() with one more request header, extra ("Name: value"; NULL:
 * none), e.g. "If-Modified-Since: <date>".  A malformed line (a name that
 * is not a token, a control byte, a header http_request() sets itself)
 * is refused with HTTP_ERROR before anything is sent.
 */
enum http_result http_request_extra(struct http *, const char *method,
	    const char *url, const char *bearer, const char *content_type,
	    const char *body, const char *extra, struct http_response *resp);

void		 http_response_init(struct http_response *);
void		 http_response_free(struct http_response *);

/* --- The worker's I/O loop ------------------------------------------- */

struct http_loop;

/*
 * Starts a worker's loop: one thread, one multi handle; ca_file as for
 * http_new().  Call it in the worker process (after fork), before its
 * request threads start.  Returns NULL on failure (logged).
 */
struct http_loop *http_loop_start(const char *ca_file);

/*
 * Ends every transfer in progress now, with HTTP_ERROR (a worker that was
 * told to stop: its fibers answer with an apology instead of waiting);
 * transfers submitted afterwards run, but for at most 2 s each, so that
 * the apologies still reach Slack before the worker exits.  Any thread.
 */
void		 http_loop_abort(struct http_loop *);

/* Transfers of a client run on loop l when made from a fiber.  l must
 * outlive the client's transfers. */
void		 http_use_loop(struct http *, struct http_loop *l);

/* TLS connections the loop opened, and transfers in progress on it. */
long		 http_loop_connections(struct http_loop *);
int		 http_loop_running(struct http_loop *);

/* Number of TLS connections this client opened (for benchmarks and
 * tests of connection reuse). */
long		 http_connections(const struct http *);

const char	*http_result_str(enum http_result);

/* Copies the host part of an https URL into out (size n); an IPv6
 * literal is copied without its brackets.  Returns 0, or -1 when url is
 * not an https URL with a host that fits, or has user information ("@"),
 * an empty host or a bad port. */
int		 http_url_host(const char *url, char *out, size_t n);

/* Returns 1 when libcurl's URL parser gives url back byte for byte, so
 * that the URL a check read is the URL libcurl sends (no dot segment
 * removed, no scheme or host rewritten, nothing escaped); else 0. */
int		 http_url_as_sent(const char *url);

/* --- Shorter timeouts (forcelink-admin doctor) -------------------------
 *
 * Lowers this client's connect and total timeouts (milliseconds) for its
 * next transfers; values above HTTP_CONNECT_MS and HTTP_TOTAL_MS are
 * clamped to them, so nothing can make a client wait longer than the
 * defaults.  Returns 0, or -1 for a value below 1.
 */
int		 http_set_timeouts(struct http *, long connect_ms,
		    long total_ms);

#endif

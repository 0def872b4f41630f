/*
 * http: the one hardened libcurl wrapper for all outbound calls.
 *
 * HTTPS only, no redirects, certificate and host name verification always
 * on (with FORCELINK_CA_FILE as an extra trust anchor when set), bounded
 * connect and total time, and a capped response size.  One struct http per
 * thread; it keeps its connections alive, so a worker thread talks to the
 * same Salesforce instance over one TLS connection for many requests.
 *
 * A transfer is driven through a curl multi handle so that a thread waiting
 * on a slow peer can still keep a promise made to Slack: http_set_deadline()
 * registers a function that runs, on the calling thread, once the deadline
 * passes while a transfer is under way (or when the next one starts, if it
 * has already passed).  contact uses it to acknowledge Slack with
 * "Searching…" after 2.5 s and deliver the result later.
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

void		 http_response_init(struct http_response *);
void		 http_response_free(struct http_response *);

/*
 * Registers fn(arg) to run once when the monotonic clock passes deadline
 * during (or before) a transfer on this client.  A NULL fn clears it.
 */
void		 http_set_deadline(struct http *, const struct timespec *deadline,
		    void (*fn)(void *), void *arg);

/* Runs the deadline function now if it is due and has not run.  Returns
 * 1 if it has run (now or before), 0 if still pending or none is set. */
int		 http_deadline_check(struct http *);

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

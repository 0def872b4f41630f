/*
 * req: reading a FastCGI request and writing its response.
 *
 * The request body is read only after CONTENT_LENGTH has been checked
 * against the caller's ceiling, so an oversized body is refused without
 * being read into memory.  Responses are written in one piece.
 */
#ifndef FORCELINK_REQ_H
#define FORCELINK_REQ_H

#include <stddef.h>
#include <time.h>

#include <fcgiapp.h>

struct buf;

enum req_body {
	REQ_BODY_OK,
	REQ_BODY_NO_LENGTH,	/* CONTENT_LENGTH absent (411) */
	REQ_BODY_BAD_LENGTH,	/* not a plain decimal number (400) */
	REQ_BODY_TOO_LARGE,	/* over the ceiling (413) */
	REQ_BODY_SHORT,		/* fewer bytes arrived than announced (400) */
	REQ_BODY_NOMEM
};

/* Returns the FastCGI parameter name, or NULL when absent. */
const char	*req_param(FCGX_Request *, const char *name);

/*
 * Parses a CONTENT_LENGTH value: decimal digits only, no sign, no
 * spaces, at most max.  Returns REQ_BODY_OK and *len, or NO_LENGTH (s is
 * NULL or empty), BAD_LENGTH or TOO_LARGE.
 */
enum req_body	 req_content_length(const char *s, size_t max, size_t *len);

/* The longest request age req_age_ms() believes, in milliseconds. */
#define REQ_AGE_MAX_MS	60000

/*
 * How long ago nginx received the request: start is nginx's $msec when it
 * passed the request on (REQUEST_START, "1700000000.123": seconds, a dot,
 * three digits), now the wall clock.  The time a request waits for a free
 * worker thread thus counts toward Slack's 3 seconds.  Returns the age in
 * milliseconds (0 when start is up to a second in the future), or -1 when
 * start is NULL, malformed, further in the future or older than
 * REQ_AGE_MAX_MS (a clock step, not a queue).
 */
long		 req_age_ms(const char *start, const struct timespec *now);

/* Reads the body (at most max bytes) into b, which the caller initialised
 * with a ceiling of at least max.  libfcgi copies it straight into b: a
 * request thread holds no chunk of its own (a fiber's stack stays
 * small: fiber.h). */
enum req_body	 req_read_body(FCGX_Request *, size_t max, struct buf *b);

/* The HTTP status that answers a body error, and a short text for it. */
int		 req_body_status(enum req_body);
const char	*req_body_str(enum req_body);

/* "200 OK", "404 Not Found", ... for the status codes forcelink uses;
 * "500 Internal Server Error" for any other.  Every status line the
 * programs write comes from here, so it also records, for the calling
 * thread, the status it returned (see req_status_seen). */
const char	*req_status_line(int status);

/* The status of the last line req_status_line() returned on this thread
 * since req_status_clear(), or 0 (the request counter's outcome: see
 * metrics.h).  app.c clears it before each request. */
int		 req_status_seen(void);
void		 req_status_clear(void);
/* Puts back what req_status_seen() returned, for a request that resumes
 * on its thread after others ran there (serve.c's fibers). */
void		 req_status_set(int);

/*
 * Writes a complete response: status, Content-Type, Cache-Control:
 * no-store, then len bytes of body.  Returns 0, or -1 when the client
 * went away.
 */
int		 req_send(FCGX_Request *, int status, const char *content_type,
		    const char *body, size_t len);

/* Writes a response whose headers are already in b (see page.h); an
 * empty b (a page that could not be built) becomes a plain 500. */
int		 req_send_raw(FCGX_Request *, const struct buf *b);

#endif

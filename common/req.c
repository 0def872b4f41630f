/*
 * req: FastCGI request input and response output (see req.h).
 *
 * libfcgi's examples trust CONTENT_LENGTH; here it is parsed strictly and
 * bounded before a single body byte is read.
 */
#include <stdio.h>
#include <string.h>

#include <fcgiapp.h>

#include "buf.h"
#include "req.h"

/* The most of a body read in one step (a Slack request is a few KB). */
#define REQ_READ_STEP	(16 * 1024)

const char *
req_param(FCGX_Request *r, const char *name)
{
	return FCGX_GetParam(name, r->envp);
}

long
req_age_ms(const char *start, const struct timespec *now)
{
	long long	 sec = 0, ms, age;
	int		 i, digits = 0;

	if (start == NULL)
		return -1;
	for (; *start >= '0' && *start <= '9' && digits < 12; start++) {
		sec = sec * 10 + (*start - '0');
		digits++;
	}
	if (digits == 0 || start[0] != '.')
		return -1;
	for (ms = 0, i = 1; i <= 3; i++) {
		if (start[i] < '0' || start[i] > '9')
			return -1;
		ms = ms * 10 + (start[i] - '0');
	}
	if (start[4] != '\0')
		return -1;
	age = ((long long)now->tv_sec - sec) * 1000 +
	    now->tv_nsec / 1000000 - ms;
	if (age < -1000 || age > REQ_AGE_MAX_MS)
		return -1;
	return age < 0 ? 0 : (long)age;
}

enum req_body
req_content_length(const char *s, size_t max, size_t *len)
{
	size_t	 n = 0;

	if (s == NULL || *s == '\0')
		return REQ_BODY_NO_LENGTH;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return REQ_BODY_BAD_LENGTH;
		if (n > max)	/* keep going only to validate the digits */
			continue;
		n = n * 10 + (size_t)(*s - '0');
	}
	if (n > max)
		return REQ_BODY_TOO_LARGE;
	*len = n;
	return REQ_BODY_OK;
}

enum req_body
req_read_body(FCGX_Request *r, size_t max, struct buf *b)
{
	size_t		 want, got = 0, ask;
	char		*p;
	int		 n;
	enum req_body	 rc;

	rc = req_content_length(req_param(r, "CONTENT_LENGTH"), max, &want);
	if (rc != REQ_BODY_OK)
		return rc;
	/* Straight into b, REQ_READ_STEP at most at a time: the memory
	 * grows with what arrives, not with what the length announced. */
	while (got < want) {
		ask = want - got < REQ_READ_STEP ? want - got : REQ_READ_STEP;
		if ((p = buf_room(b, ask)) == NULL)
			return REQ_BODY_NOMEM;
		n = FCGX_GetStr(p, (int)ask, r->in);
		if (n <= 0)
			return REQ_BODY_SHORT;
		if (buf_grew(b, (size_t)n) == -1)
			return REQ_BODY_SHORT;
		got += (size_t)n;
	}
	return REQ_BODY_OK;
}

int
req_body_status(enum req_body rc)
{
	switch (rc) {
	case REQ_BODY_OK:
		return 200;
	case REQ_BODY_NO_LENGTH:
		return 411;
	case REQ_BODY_TOO_LARGE:
		return 413;
	case REQ_BODY_NOMEM:
		return 500;
	default:
		return 400;
	}
}

const char *
req_body_str(enum req_body rc)
{
	switch (rc) {
	case REQ_BODY_OK:
		return "ok";
	case REQ_BODY_NO_LENGTH:
		return "length required";
	case REQ_BODY_BAD_LENGTH:
		return "malformed content length";
	case REQ_BODY_TOO_LARGE:
		return "request body too large";
	case REQ_BODY_SHORT:
		return "request body shorter than its length";
	case REQ_BODY_NOMEM:
		return "out of memory";
	}
	return "unknown";
}

/* The status of this thread's request, for the request counter. */
static __thread int	 req_seen;

int
req_status_seen(void)
{
	return req_seen;
}

void
req_status_clear(void)
{
	req_seen = 0;
}

void
req_status_set(int status)
{
	req_seen = status;
}

const char *
req_status_line(int status)
{
	static const struct {
		int		 code;
		const char	*line;
	} lines[] = {
		{ 200, "200 OK" },
		{ 302, "302 Found" },
		{ 400, "400 Bad Request" },
		{ 401, "401 Unauthorized" },
		{ 403, "403 Forbidden" },
		{ 404, "404 Not Found" },
		{ 405, "405 Method Not Allowed" },
		{ 411, "411 Length Required" },
		{ 413, "413 Payload Too Large" },
		{ 415, "415 Unsupported Media Type" },
		{ 500, "500 Internal Server Error" },
		{ 502, "502 Bad Gateway" },
		{ 503, "503 Service Unavailable" },
	};
	size_t	 i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		if (lines[i].code == status) {
			req_seen = status;
			return lines[i].line;
		}
	req_seen = 500;
	return "500 Internal Server Error";
}

int
req_send(FCGX_Request *r, int status, const char *content_type,
    const char *body, size_t len)
{
	char	 head[256];
	int	 n;

	/* libfcgi's own printf lacks %zu: format the head here. */
	n = snprintf(head, sizeof(head), "Status: %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n\r\n",
	    req_status_line(status), content_type, len);
	if (n < 0 || (size_t)n >= sizeof(head) ||
	    FCGX_PutStr(head, n, r->out) != n)
		return -1;
	if (len > 0 && FCGX_PutStr(body, (int)len, r->out) != (int)len)
		return -1;
	return 0;
}

int
req_send_raw(FCGX_Request *r, const struct buf *b)
{
	/* A page that could not be built (past its ceiling) must still
	 * answer something. */
	if (b->len == 0)
		return req_send(r, 500, "text/plain; charset=utf-8",
		    "internal error\n", 15);
	return FCGX_PutStr(b->data, (int)b->len, r->out) == (int)b->len ?
	    0 : -1;
}

/*
 * tu_req.h: a FastCGI request made of memory, and the log it leaves, for
 * the unit tests of the request path (test_reply.c, test_slackreq.c).
 *
 * The request (struct tu_req) is an FCGX_Request whose streams are
 * plain buffers that libfcgi's FCGX_GetStr and FCGX_PutStr read and
 * write, as tests/torture/torture.c's fake request is: the body is read
 * from one, the answer lands in the other, where tu_req_answer() splits
 * it into status, headers and body.  libfcgi's FCGX_Finish_r would free
 * those streams, so a program linked with tu_req.c must be linked with
 * -Wl,--wrap=FCGX_Finish_r: every call our own objects make then goes to
 * tu_req.c's wrapper, which only counts it (tu_req_finished).
 *
 * The log: tu_log_start() sends every line to a buffer (log_set_sink)
 * where a test counts and reads them.  Failures fail the calling test
 * through Check's assertions.
 */
#ifndef FORCELINK_TU_REQ_H
#define FORCELINK_TU_REQ_H

#include <stddef.h>

#include <fcgiapp.h>

#define TU_REQ_ENV_MAX	16
#define TU_REQ_BODY_MAX	8192
#define TU_REQ_OUT_MAX	16384

struct tu_req {
	FCGX_Request	 req;
	FCGX_Stream	 in, out, err;
	char		*envp[TU_REQ_ENV_MAX + 1];
	char		 env[TU_REQ_ENV_MAX][512];
	int		 nenv;
	unsigned char	 body[TU_REQ_BODY_MAX];
	unsigned char	 outbuf[TU_REQ_OUT_MAX + 1];
	unsigned char	 errbuf[256];
};

/*
 * Readies r for a request with body (NULL: none); no parameter is set.
 * The count of finished requests starts again at 0.
 */
void	 tu_req_init(struct tu_req *r, const char *body);

/* Adds the parameter "NAME=value" (printf format). */
void	 tu_req_env(struct tu_req *r, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* Sets REQUEST_START as nginx does ($msec: "1700000000.123"), ms
 * milliseconds before now on the wall clock. */
void	 tu_req_start_ago(struct tu_req *r, long ms);

/* Bytes written to the request's output so far. */
size_t	 tu_req_outlen(const struct tu_req *r);

/* One answer written to the output, split up. */
struct tu_answer {
	int		 status;
	char		 type[64];
	const char	*body;		/* in r->outbuf, NUL-terminated */
	size_t		 bodylen;
};

/*
 * Splits what was written into one complete CGI response: "Status:",
 * headers with a Content-Type and a Content-Length that matches the
 * body, a blank line, the body.  Fails the test when it is anything
 * else (nothing, two answers, a cut one).
 */
void	 tu_req_answer(struct tu_req *r, struct tu_answer *a);

/*
 * The "text" of the Slack message a JSON answer body holds, copied to
 * out (n bytes); fails the test when body is not such a message.
 */
void	 tu_answer_text(const char *body, char *out, size_t n);

/* How many times FCGX_Finish_r was called for r since tu_req_init (a
 * call for any other request fails the test). */
int	 tu_req_finished(const struct tu_req *r);

/* From now on, the log's lines are kept (and no longer written to
 * standard error) until tu_log_stop(). */
void	 tu_log_start(void);
void	 tu_log_stop(void);

/* How many lines kept so far contain every one of the NULL-terminated
 * strings given. */
int	 tu_log_count(const char *s, ...) __attribute__((sentinel));

/* The first line kept that contains s, or NULL. */
const char *tu_log_line(const char *s);

/* The number after "key=" in line (-999999 when absent). */
long	 tu_log_num(const char *line, const char *key);

#endif

/*
 * tu_req: a FastCGI request made of memory and the log it leaves (see
 * tu_req.h), shared by the unit tests of the request path.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <json-c/json.h>

#include "log.h"
#include "tu_req.h"

/* --- The request ------------------------------------------------------- */

/* The request whose finishes are counted, and the count. */
static const FCGX_Request	*fin_req;
static int			 fin_n;
static int			 fin_other;

/*
 * libfcgi's FCGX_Finish_r, for every call our objects make (the program
 * is linked with -Wl,--wrap=FCGX_Finish_r): the real one would free the
 * memory streams; this one counts.
 */
void	__wrap_FCGX_Finish_r(FCGX_Request *);

void
__wrap_FCGX_Finish_r(FCGX_Request *r)
{
	if (r == fin_req)
		fin_n++;
	else
		fin_other++;
}

int
tu_req_finished(const struct tu_req *r)
{
	ck_assert_ptr_eq(fin_req, &r->req);
	ck_assert_int_eq(fin_other, 0);
	return fin_n;
}

/* The body is all there is: the end of the stream. */
static void
tu_fill(FCGX_Stream *s)
{
	s->isClosed = 1;
}

/* The answer outgrew the buffer: the writer sees a failed write. */
static void
tu_empty(FCGX_Stream *s, int doclose)
{
	(void)doclose;
	s->isClosed = 1;
	s->FCGI_errno = ENOSPC;
}

void
tu_req_init(struct tu_req *r, const char *body)
{
	size_t	 len = body != NULL ? strlen(body) : 0;

	ck_assert_uint_le(len, sizeof(r->body));
	memset(r, 0, sizeof(*r));
	memcpy(r->body, body != NULL ? body : "", len);
	r->in.isReader = 1;
	r->in.rdNext = r->in.stopUnget = r->body;
	r->in.stop = r->body + len;
	r->in.fillBuffProc = tu_fill;
	r->out.wrNext = r->outbuf;
	r->out.stop = r->outbuf + TU_REQ_OUT_MAX;
	r->out.emptyBuffProc = tu_empty;
	r->err.wrNext = r->errbuf;
	r->err.stop = r->errbuf + sizeof(r->errbuf);
	r->err.emptyBuffProc = tu_empty;
	r->req.in = &r->in;
	r->req.out = &r->out;
	r->req.err = &r->err;
	r->req.envp = r->envp;
	r->req.ipcFd = -1;
	fin_req = &r->req;
	fin_n = fin_other = 0;
}

void
tu_req_env(struct tu_req *r, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	ck_assert_int_lt(r->nenv, TU_REQ_ENV_MAX);
	va_start(ap, fmt);
	n = vsnprintf(r->env[r->nenv], sizeof(r->env[0]), fmt, ap);
	va_end(ap);
	ck_assert(n > 0 && (size_t)n < sizeof(r->env[0]));
	r->envp[r->nenv] = r->env[r->nenv];
	r->nenv++;
	r->envp[r->nenv] = NULL;
}

void
tu_req_start_ago(struct tu_req *r, long ms)
{
	struct timespec	 now;
	long long	 t;

	clock_gettime(CLOCK_REALTIME, &now);
	t = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 - ms;
	tu_req_env(r, "REQUEST_START=%lld.%03lld", t / 1000, t % 1000);
}

size_t
tu_req_outlen(const struct tu_req *r)
{
	return (size_t)(r->out.wrNext - r->outbuf);
}

void
tu_req_answer(struct tu_req *r, struct tu_answer *a)
{
	char		*p = (char *)r->outbuf, *end, *h, *eol;
	size_t		 len = tu_req_outlen(r);
	unsigned long	 cl = 0;
	int		 has_cl = 0;

	memset(a, 0, sizeof(*a));
	r->outbuf[len] = '\0';
	ck_assert_msg(!r->out.isClosed, "answer larger than the buffer");
	ck_assert_msg(len > 0, "no answer at all");
	ck_assert_msg(strncmp(p, "Status: ", 8) == 0 &&
	    sscanf(p + 8, "%3d", &a->status) == 1,
	    "answer does not start with a status: %s", p);
	ck_assert_msg((end = strstr(p, "\r\n\r\n")) != NULL,
	    "answer headers never end: %s", p);
	for (h = p; h < end; h = eol + 2) {
		eol = strstr(h, "\r\n");
		if (strncmp(h, "Content-Type: ", 14) == 0)
			snprintf(a->type, sizeof(a->type), "%.*s",
			    (int)(eol - h - 14), h + 14);
		else if (strncmp(h, "Content-Length: ", 16) == 0) {
			cl = strtoul(h + 16, NULL, 10);
			has_cl = 1;
		}
	}
	a->body = end + 4;
	a->bodylen = len - (size_t)(a->body - p);
	ck_assert_msg(has_cl && cl == a->bodylen,
	    "Content-Length missing or not the body's (two answers?): %s", p);
	ck_assert_msg(a->type[0] != '\0', "answer without a Content-Type");
}

void
tu_answer_text(const char *body, char *out, size_t n)
{
	struct json_object	*msg, *v;

	msg = json_tokener_parse(body);
	ck_assert_msg(msg != NULL, "not JSON: %s", body);
	ck_assert_msg(json_object_object_get_ex(msg, "text", &v) &&
	    json_object_is_type(v, json_type_string),
	    "no text in %s", body);
	snprintf(out, n, "%s", json_object_get_string(v));
	json_object_put(msg);
}

/* --- The log ------------------------------------------------------------ */

#define TU_LOG_LINES	256

static pthread_mutex_t	 log_mu = PTHREAD_MUTEX_INITIALIZER;
static char		 log_lines[TU_LOG_LINES][1024];
static int		 log_n;
static int		 log_lost;

static void
tu_log_sink(const char *line, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&log_mu);
	if (log_n < TU_LOG_LINES)
		snprintf(log_lines[log_n++], sizeof(log_lines[0]), "%s",
		    line);
	else
		log_lost++;
	pthread_mutex_unlock(&log_mu);
}

void
tu_log_start(void)
{
	pthread_mutex_lock(&log_mu);
	log_n = log_lost = 0;
	pthread_mutex_unlock(&log_mu);
	log_set_sink(tu_log_sink, NULL);
}

void
tu_log_stop(void)
{
	log_set_sink(NULL, NULL);
}

int
tu_log_count(const char *s, ...)
{
	va_list		 ap;
	const char	*w;
	int		 i, n = 0, all;

	pthread_mutex_lock(&log_mu);
	ck_assert_int_eq(log_lost, 0);
	for (i = 0; i < log_n; i++) {
		all = strstr(log_lines[i], s) != NULL;
		va_start(ap, s);
		while (all && (w = va_arg(ap, const char *)) != NULL)
			all = strstr(log_lines[i], w) != NULL;
		va_end(ap);
		n += all;
	}
	pthread_mutex_unlock(&log_mu);
	return n;
}

const char *
tu_log_line(const char *s)
{
	const char	*line = NULL;
	int		 i;

	pthread_mutex_lock(&log_mu);
	for (i = 0; i < log_n && line == NULL; i++)
		if (strstr(log_lines[i], s) != NULL)
			line = log_lines[i];
	pthread_mutex_unlock(&log_mu);
	return line;
}

long
tu_log_num(const char *line, const char *key)
{
	char		 k[64];
	const char	*p;

	snprintf(k, sizeof(k), " %s=", key);
	if ((p = strstr(line, k)) == NULL)
		return -999999;
	return strtol(p + strlen(k), NULL, 10);
}

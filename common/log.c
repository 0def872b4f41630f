/*
 * log: key=value event lines on standard error (see log.h).
 *
 * A line is assembled in a fixed stack buffer and written with a single
 * write(2), so lines from concurrent threads and processes sharing the
 * same standard error never interleave.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX	2048
#define LOG_CTX_MAX	((int)sizeof(((struct log_ctx *)0)->req))

static const char	*log_program = "forcelink";
static int		 log_debug;
static log_sink		 log_sink_fn;
static void		*log_sink_arg;
static int		 log_only_problems;	/* log_quiet() */

static __thread char	 log_req[LOG_CTX_MAX];
static __thread char	 log_team[LOG_CTX_MAX];
static __thread char	 log_user[LOG_CTX_MAX];

static const char *const log_level_names[] = {
	"error", "warn", "info", "debug"
};

void
log_init(const char *program)
{
	const char	*d;

	log_program = program;
	d = getenv("FORCELINK_DEBUG");
	log_debug = d != NULL && strcmp(d, "1") == 0;
}

void
log_quiet(void)
{
	log_only_problems = 1;
}

static void
log_copy(char *dst, const char *src)
{
	size_t	 i;

	if (src == NULL) {
		dst[0] = '\0';
		return;
	}
	/* Context values come from requests: keep only a safe alphabet. */
	for (i = 0; src[i] != '\0' && i < LOG_CTX_MAX - 1; i++)
		dst[i] = (src[i] >= '!' && src[i] <= '~' && src[i] != '"') ?
		    src[i] : '?';
	dst[i] = '\0';
}

void
log_ctx_save(struct log_ctx *c)
{
	memcpy(c->req, log_req, sizeof(c->req));
	memcpy(c->team, log_team, sizeof(c->team));
	memcpy(c->user, log_user, sizeof(c->user));
}

void
log_ctx_load(const struct log_ctx *c)
{
	memcpy(log_req, c->req, sizeof(log_req));
	memcpy(log_team, c->team, sizeof(log_team));
	memcpy(log_user, c->user, sizeof(log_user));
}

void
log_set_request(const char *request_id)
{
	log_copy(log_req, request_id);
}

void
log_set_user(const char *team_id, const char *user_id)
{
	log_copy(log_team, team_id);
	log_copy(log_user, user_id);
}

void
log_clear_request(void)
{
	log_req[0] = log_team[0] = log_user[0] = '\0';
}

/*
 * The process id every line carries.  glibc's getpid() is a system call
 * each time (two per request, one per line), so it is read once, and
 * again in the child of every fork(2) (pthread_atfork).
 */
static pid_t		 log_pid;
static pthread_once_t	 log_pid_once = PTHREAD_ONCE_INIT;

static void
log_pid_forked(void)
{
	log_pid = getpid();
}

static void
log_pid_init(void)
{
	log_pid = getpid();
	(void)pthread_atfork(NULL, NULL, log_pid_forked);
}

/* The attribute lets the compiler check the callers' formats through. */
static void	log_vline(enum log_level, const char *, const char *,
		    const char *, va_list) __attribute__((format(printf, 4, 0)));

/*
 * The line is built in a buffer of the thread's, not on the stack: a
 * request logs from deep in its fiber (the 3-second deadline writes
 * "Searching..." from inside a wait), and 2 KB more there made every
 * parked request's stack touch a fourth page (16 KB instead of 12,
 * measured with mincore over a burst of 1,000).  Nothing here gives the
 * thread up, so no other fiber can write the buffer meanwhile.
 */
static __thread char	 log_line_buf[LOG_LINE_MAX];

static void
log_vline(enum log_level lvl, const char *event, const char *func,
    const char *fmt, va_list ap)
{
	char		*line = log_line_buf;
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 n, i, start, level;
	int		 w;

	if ((lvl == LOGL_DEBUG && !log_debug) ||
	    (lvl > LOGL_WARN && log_only_problems))
		return;
	(void)pthread_once(&log_pid_once, log_pid_init);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	w = snprintf(line, LOG_LINE_MAX,
	    "time=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ prog=%s pid=%ld ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L, log_program,
	    (long)log_pid);
	level = n = w < 0 || (size_t)w >= LOG_LINE_MAX ? 0 : (size_t)w;
	w = snprintf(line + n, LOG_LINE_MAX - n, "level=%s event=%s",
	    log_level_names[lvl], event);
	n += w < 0 ? 0 : (size_t)w;
	if (n < LOG_LINE_MAX && log_req[0] != '\0')
		n += (size_t)snprintf(line + n, LOG_LINE_MAX - n, " req=%s",
		    log_req);
	if (n < LOG_LINE_MAX && log_team[0] != '\0')
		n += (size_t)snprintf(line + n, LOG_LINE_MAX - n,
		    " team=%s user=%s", log_team, log_user);
	if (n < LOG_LINE_MAX && func != NULL)
		n += (size_t)snprintf(line + n, LOG_LINE_MAX - n, " func=%s",
		    func);
	start = n;
	if (n < LOG_LINE_MAX - 1 && fmt != NULL && fmt[0] != '\0') {
		line[n++] = ' ';
		w = vsnprintf(line + n, LOG_LINE_MAX - n, fmt, ap);
		if (w > 0)
			n += (size_t)w;
	}
	if (n > LOG_LINE_MAX - 2)
		n = LOG_LINE_MAX - 2;
	/* A value may come from a peer: no control byte may end the line. */
	for (i = start; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	if (log_sink_fn != NULL) {
		line[n] = '\0';
		log_sink_fn(line + level, log_sink_arg);
		return;
	}
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}

void
log_set_sink(log_sink fn, void *arg)
{
	log_sink_fn = fn;
	log_sink_arg = arg;
}

void
log_event(enum log_level lvl, const char *event, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vline(lvl, event, NULL, fmt, ap);
	va_end(ap);
}

void
log_fn(enum log_level lvl, const char *func, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vline(lvl, lvl == LOGL_ERR ? "error" : "warning", func, fmt, ap);
	va_end(ap);
}

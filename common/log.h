/*
 * log: one line per event, key=value, on standard error.
 *
 * nginx's error log and journald take standard error as it is, so a
 * worker never opens a log file.  Each line carries the time, the
 * program, the request id nginx assigned ($request_id) and the Slack
 * team and user the request is for, so that an nginx log line and a
 * worker log line can be matched.  Those are kept per thread; set them
 * with log_set_request() when a request starts and log_clear_request()
 * when it ends.
 *
 * Secrets must never be passed here.  The logger cannot tell a token from
 * a name, so the rule is enforced by the callers: no function in
 * forcelink formats a token, code, verifier, key or secret into a log
 * argument.  The tests grep every log line for the secrets they made.
 * Control characters in the formatted text are replaced, so a hostile
 * value cannot forge a second log line.
 */
#ifndef FORCELINK_LOG_H
#define FORCELINK_LOG_H

enum log_level {
	LOGL_ERR,	/* something failed that an admin should look at */
	LOGL_WARN,	/* refused input or a peer misbehaving */
	LOGL_INFO,	/* normal events: a request handled, a link made */
	LOGL_DEBUG	/* only with FORCELINK_DEBUG=1 */
};

/* Names the program in every line ("contact", "oauth_start", ...).  Call
 * once at start, before any thread exists.  Reads FORCELINK_DEBUG. */
void	 log_init(const char *program);

/* From now on, drops the lines below LOGL_WARN (forcelink-admin --quiet:
 * only what went wrong is printed). */
void	 log_quiet(void);

/* Sets this thread's request context.  Any argument may be NULL.  The
 * strings are copied (and truncated to 64 bytes). */
void	 log_set_request(const char *request_id);
void	 log_set_user(const char *team_id, const char *user_id);
void	 log_clear_request(void);

/*
 * A request's context, for a thread that runs several requests in turn
 * (fibers): saved when one gives the thread up, loaded when it resumes.
 */
struct log_ctx {
	char	 req[65];
	char	 team[65];
	char	 user[65];
};
void	 log_ctx_save(struct log_ctx *);
void	 log_ctx_load(const struct log_ctx *);

/*
 * Writes one line: "time=... prog=... req=... level=... event=EVENT" then
 * the team and user when set, then the caller's key=value pairs from fmt.
 * Values with spaces should be quoted by the caller ("msg=\"%s\"").
 */
void	 log_event(enum log_level, const char *event, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* Shorthand for an error found in function func: event "error",
 * "func=FUNC msg=\"...\"". */
#define log_error(...)	log_fn(LOGL_ERR, __func__, __VA_ARGS__)
#define log_warn(...)	log_fn(LOGL_WARN, __func__, __VA_ARGS__)
void	 log_fn(enum log_level, const char *func, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/*
 * For a tool that reports in a format of its own (forcelink-admin doctor
 * prints a table): while a sink is set, each line goes to fn instead of
 * standard error, without its time, program and pid (it starts at
 * "level=") and without the newline.  NULL restores standard error.  Not
 * for threaded programs: the sink is process-wide and unlocked.
 */
typedef void	(*log_sink)(const char *line, void *arg);
void	 log_set_sink(log_sink fn, void *arg);

#endif

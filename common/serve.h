/*
 * serve: the process and thread model every FastCGI program shares.
 *
 * A program is a supervisor process that owns the listening socket and
 * keeps a fixed number of worker processes alive (a worker that dies is
 * replaced, so a crash or a kill -9 costs only the requests in flight in
 * that worker).
 *
 * A worker runs a fixed number of request threads (-t, one per core by
 * default), and its program's I/O loop thread (worker_init; for the
 * programs in cgi/, http.h's loop): -t + 2 threads with the main one,
 * whatever the load.  Each request thread takes connections from the
 * shared socket and runs each in a fiber of its own (fiber.h): the
 * request's handler is ordinary code, and while it waits on Salesforce
 * or Slack the thread runs other requests.  So a request never queues
 * behind requests that wait on a slow peer (the 3-second rule, SPEC §4),
 * and a burst of them costs a fiber's stack each, not a thread.  A
 * worker holds at most -T requests at once; past that the socket's
 * backlog holds the rest.
 *
 * A request is handed to libfcgi only once all of it has arrived, so a
 * peer that stops halfway never blocks a thread (serve.c).
 *
 * The listening socket is either the one libfcgi expects on standard input
 * (systemd socket activation, spawn-fcgi) or a unix socket path given
 * with -s, created here.
 */
#ifndef FORCELINK_SERVE_H
#define FORCELINK_SERVE_H

#include <fcgiapp.h>

struct serve_program {
	const char	*name;		/* for logs and usage */
	/* In each worker process before its threads start (may be NULL):
	 * returns 0, or -1 to end the worker. */
	int		 (*worker_init)(void *global);
	/* When the worker is told to stop (may be NULL): end what its
	 * requests wait on, so they finish with an answer. */
	void		 (*worker_stop)(void *global);
	/* Makes one thread's state (database connection, HTTP client),
	 * which the thread's fibers share.  Returns NULL on failure; the
	 * worker then exits. */
	void		*(*thread_init)(void *global);
	/* Handles one request, in a fiber of the thread whose ctx it gets.
	 * The request is finished by the caller afterwards (FCGX_Finish_r
	 * is harmless if done already). */
	void		 (*handle)(FCGX_Request *, void *ctx);
	/* In the worker's main thread, after serve_wake() (may be NULL):
	 * work that should hold no request thread, such as a database
	 * checkpoint.  It may block; requests go on meanwhile. */
	void		 (*worker_wake)(void *global);
};

#include <sys/types.h>

/* A program's command line. */
struct serve_opts {
	const char	*socket_path;	/* -s; NULL: the socket is on fd 0 */
	mode_t		 socket_mode;	/* -m, default 0660 */
	gid_t		 socket_group;	/* -g; (gid_t)-1: the process's */
	int		 workers;	/* -w */
	int		 threads;	/* -t, request threads per worker */
	int		 max_requests;	/* -T, requests a worker holds */
};

/*
 * Parses the command line of program name: -s socket, -m mode, -g group,
 * -w workers, -t threads, -T most requests held; -h prints the usage and -V the
 * version on standard output.  It runs before the configuration is read,
 * so these work whatever the environment holds.  Returns 0 to go on, 1
 * when -h or -V was answered (exit 0), -1 after one line and the usage on
 * standard error (exit 2).
 */
int	 serve_parse(int argc, char *argv[], const char *name,
	    struct serve_opts *);

/*
 * Opens the socket o names and runs the supervisor until SIGTERM or
 * SIGINT.  global is handed to every thread_init.  Returns the process
 * exit status.
 */
int	 serve_main(const struct serve_opts *o, const struct serve_program *,
	    void *global);

/* 1 once this worker was told to stop (SIGTERM): requests still in it are
 * being finished with an apology; else 0. */
int	 serve_stopping(void);

/* From any thread of a worker, once its program's worker_init has begun:
 * has the main thread run the program's worker_wake soon (a signal, sent
 * only when none is pending: calls before it runs count once).  Not
 * after the worker was told to stop. */
void	 serve_wake(void);

#endif

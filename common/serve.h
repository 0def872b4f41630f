/*
 * serve: the process and thread model every FastCGI program shares.
 *
 * A program is a supervisor process that owns the listening socket and
 * keeps a fixed number of worker processes alive (a worker that dies is
 * replaced, so a crash or a kill -9 costs only the requests in flight in
 * that worker).  Each worker runs a pool of threads that each block in
 * FCGX_Accept_r() on the shared socket and handle one request at a time.
 *
 * The 3-second rule (SPEC §4) shapes the pool: a request must never queue
 * behind requests that wait on a slow Salesforce.  So whenever the last
 * thread waiting in accept takes a request, the pool starts another one
 * (up to a hard cap per worker, -T), and when a request ends while enough
 * threads already wait and the pool has not had to grow for a while, its
 * thread exits.  A steady load thus runs on the same threads, which keep
 * their database and HTTP connections; a burst of slow requests grows the
 * pool for as long as it lasts.  A thread that exits leaves its state
 * (thread_init's result) to the next thread started, so a worker opens
 * at most as many database and Salesforce connections as it once had
 * threads at the same time, and thread_fini runs only when there is no
 * room to keep a state.
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
	/* Makes one thread's private state (database connection, HTTP
	 * client).  Returns NULL on failure; the thread then exits. */
	void		*(*thread_init)(void *global);
	void		 (*thread_fini)(void *ctx);
	/* Handles one accepted request.  The request is finished by the
	 * caller afterwards (FCGX_Finish_r is harmless if done already). */
	void		 (*handle)(FCGX_Request *, void *ctx);
};

#include <sys/types.h>

/* A program's command line. */
struct serve_opts {
	const char	*socket_path;	/* -s; NULL: the socket is on fd 0 */
	mode_t		 socket_mode;	/* -m, default 0660 */
	gid_t		 socket_group;	/* -g; (gid_t)-1: the process's */
	int		 workers;	/* -w */
	int		 threads;	/* -t, accepting threads per worker */
	int		 max_threads;	/* -T, hard cap per worker */
};

/*
 * Parses the command line of program name: -s socket, -m mode, -g group,
 * -w workers, -t threads, -T max threads; -h prints the usage and -V the
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

#endif

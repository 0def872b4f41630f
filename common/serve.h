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

/*
 * Parses the command line (-s socket, -m mode, -w workers, -t threads,
 * -T max threads, -h), opens the socket and runs the supervisor until
 * SIGTERM or SIGINT.  global is handed to every thread_init.  Returns
 * the process exit status.
 */
int	 serve_main(int argc, char *argv[], const struct serve_program *,
	    void *global);

#endif

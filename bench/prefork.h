/*
 * prefork: the process model of the two reference programs that
 * scripts/bench measures forcelink against (bench/hello, bench/relay).
 *
 * The simplest libfcgi server that uses both cores: one listening unix
 * socket, N worker processes forked from one parent, each worker running
 * one FCGX_Accept_r() loop on one thread.  No supervisor restarts, no
 * thread pool: the point is to be the cheapest thing that could work.
 * Built only for benchmarking (make bench), never installed.
 */
#ifndef FORCELINK_BENCH_PREFORK_H
#define FORCELINK_BENCH_PREFORK_H

#include <fcgiapp.h>

/*
 * Parses "-s SOCKET [-w WORKERS]", listens on SOCKET, forks the workers
 * and runs, in each, init() once and then handle() for every request.
 * The parent waits until SIGTERM or SIGINT and stops the workers.
 * Returns the exit status for main().
 */
int	 prefork_main(int argc, char *argv[], const char *name,
	    int (*init)(void), void (*handle)(FCGX_Request *));

#endif

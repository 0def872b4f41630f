/*
 * serve: supervisor, worker processes and accept threads (see serve.h).
 *
 * The supervisor does nothing but keep workers alive and pass on a
 * shutdown; all request work happens in the workers.  Within a worker the
 * only shared state is the pool counters below, under one mutex.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

/* A sanitizer build checks a worker for leaks when it is told to stop
 * (see serve_worker_wait); gcc and clang say "ASan" differently. */
#if defined(__SANITIZE_ADDRESS__)
#define SERVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SERVE_LSAN 1
#endif
#endif
#ifdef SERVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

#include "log.h"
#include "serve.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"0"
#endif

#define SERVE_MAX_WORKERS	64
#define SERVE_BACKLOG		1024
#define SERVE_STACK		(512 * 1024)
/* A pool that had to grow keeps its threads this long (see serve_idle). */
#define SERVE_KEEP_SECS		10
/* A state no thread took for this long is freed (see serve_trim). */
#define SERVE_SPARE_SECS	60

/* Per worker: the pool of accept threads. */
static pthread_mutex_t		 pool_mtx = PTHREAD_MUTEX_INITIALIZER;
static int			 pool_idle;	/* waiting in accept */
static int			 pool_total;
static const struct serve_opts	*pool_opts;
static const struct serve_program *pool_prog;
static void			*pool_global;
static int			 pool_fd;
static time_t			 pool_grown;	/* last growth, monotonic s */
/* Thread states (database connection, HTTP client with its open
 * connection to Salesforce) left by threads that exited, for the next new
 * thread; max_threads slots, NULL when it could not be allocated. */
struct serve_spare {
	void	*ctx;
	time_t	 since;		/* when it was left, monotonic s */
};
static struct serve_spare	*pool_spare;
static int			 pool_nspare;

/* Supervisor state, touched by signal handlers. */
static volatile sig_atomic_t	 sup_stop;
static volatile sig_atomic_t	 sup_child;

static void	*serve_thread(void *);

/* Seconds on the monotonic clock. */
static time_t
serve_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static int
serve_spawn_thread(void)
{
	pthread_attr_t	 attr;
	pthread_t	 t;
	int		 rc;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, SERVE_STACK);
	rc = pthread_create(&t, &attr, serve_thread, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		log_error("msg=\"pthread_create: %s\"", strerror(rc));
		return -1;
	}
	return 0;
}

/*
 * A thread took a request: keep at least one thread waiting in accept, so
 * a new request never queues behind requests that wait on Salesforce.
 * Threads are added only when every one is busy, so a steady load runs on
 * the same threads (and their database and HTTP connections).
 */
static void
serve_busy(void)
{
	pthread_mutex_lock(&pool_mtx);
	pool_idle--;
	if (pool_idle == 0) {
		pool_grown = serve_now();
		if (pool_total < pool_opts->max_threads &&
		    serve_spawn_thread() == 0) {
			pool_idle++;
			pool_total++;
		} else
			log_warn("msg=\"all %d threads busy; new requests "
			    "wait\"", pool_total);
	}
	pthread_mutex_unlock(&pool_mtx);
}

/*
 * A thread finished a request: it waits for the next one, or exits when
 * enough others already wait (the pool shrinks back after a burst).
 *
 * Under a steady load the number of requests a worker holds swings all
 * the time (the kernel hands each connection to whichever thread of any
 * worker waits), and a pool that shed every thread beyond -t at each dip
 * would start them again at the next rise, each time at the price of a
 * new database connection and a new TLS handshake with Salesforce.  So a
 * thread leaves only when at least -t others wait, at least as many
 * wait as are busy, and the pool has not had to grow for SERVE_KEEP_SECS:
 * a pool sized for the load keeps its threads, and one left over from a
 * burst gives a thread back with each request once the burst is over.
 * Returns 1 when this thread should exit.
 */
static int
serve_idle(void)
{
	int	 leave;

	pthread_mutex_lock(&pool_mtx);
	/* pool_total - pool_idle counts the busy threads, this one too. */
	leave = pool_idle >= pool_opts->threads &&
	    pool_idle >= pool_total - pool_idle &&
	    serve_now() - pool_grown >= SERVE_KEEP_SECS;
	if (leave)
		pool_total--;
	else
		pool_idle++;
	pthread_mutex_unlock(&pool_mtx);
	return leave;
}

/*
 * A new thread takes the state an exited one left, if any, instead of
 * making its own: opening a database connection and a TLS connection to
 * Salesforce costs milliseconds and a handshake, and a pool that swings
 * with the load would pay them at every swing.  It also keeps the
 * process's descriptors steady: SQLite cannot close a connection's
 * database descriptor while other connections of the process hold locks
 * on the file, and parks it instead.  So a worker holds at most as many
 * states as it once had threads at the same time.
 */
static void *
serve_take_state(void)
{
	void	*ctx = NULL;

	pthread_mutex_lock(&pool_mtx);
	if (pool_nspare > 0)
		ctx = pool_spare[--pool_nspare].ctx;
	pthread_mutex_unlock(&pool_mtx);
	return ctx != NULL ? ctx : pool_prog->thread_init(pool_global);
}

static void
serve_give_state(void *ctx)
{
	pthread_mutex_lock(&pool_mtx);
	if (pool_spare != NULL && pool_nspare < pool_opts->max_threads) {
		pool_spare[pool_nspare].ctx = ctx;
		pool_spare[pool_nspare++].since = serve_now();
		ctx = NULL;
	}
	pthread_mutex_unlock(&pool_mtx);
	if (ctx != NULL)
		pool_prog->thread_fini(ctx);
}

static void *
serve_thread(void *arg)
{
	FCGX_Request	 req;
	void		*ctx;

	(void)arg;
	if ((ctx = serve_take_state()) == NULL) {
		log_error("msg=\"thread start failed; worker exits\"");
		exit(EXIT_FAILURE);
	}
	if (FCGX_InitRequest(&req, pool_fd, 0) != 0) {
		log_error("msg=\"FCGX_InitRequest failed\"");
		exit(EXIT_FAILURE);
	}
	for (;;) {
		if (FCGX_Accept_r(&req) < 0) {
			log_error("msg=\"accept failed; worker exits\"");
			exit(EXIT_FAILURE);
		}
		serve_busy();
		pool_prog->handle(&req, ctx);
		FCGX_Finish_r(&req);
		log_clear_request();
		if (serve_idle())
			break;
	}
	/* Close a connection the client asked to keep (FCGI_KEEP_CONN):
	 * no other thread would ever read it, so the client would wait on
	 * it for good and the descriptor would leak. */
	FCGX_Free(&req, 1);
	serve_give_state(ctx);
	return NULL;
}

/*
 * The worker's main thread after the pool has started: it trims the spare
 * states every SERVE_KEEP_SECS and waits for SIGTERM (from the
 * supervisor, or PDEATHSIG when the supervisor died), which every thread
 * blocks, and ends the process at once; nothing a
 * worker holds needs a clean exit, and requests in flight are cut off
 * just as by a crash, which the store is built to survive.  In a
 * sanitizer build it first runs LeakSanitizer's check, which a process
 * ending by _exit would never get: what the threads hold is reachable
 * from their stacks, so only memory that is really lost is reported
 * (into forcelink.log, where the end-to-end harness looks).
 */
/*
 * Frees the states no thread has taken for SERVE_SPARE_SECS, so that a
 * burst long past does not hold its connections and memory for good.
 * The stack is taken from the top, so the oldest states are at the
 * bottom; they are freed outside the lock.
 */
static void
serve_trim(void)
{
	void	*old[64];
	time_t	 now = serve_now();
	int	 n = 0, i;

	pthread_mutex_lock(&pool_mtx);
	while (n < pool_nspare && n < (int)(sizeof(old) / sizeof(old[0])) &&
	    now - pool_spare[n].since >= SERVE_SPARE_SECS) {
		old[n] = pool_spare[n].ctx;
		n++;
	}
	for (i = n; i < pool_nspare; i++)
		pool_spare[i - n] = pool_spare[i];
	pool_nspare -= n;
	pthread_mutex_unlock(&pool_mtx);
	for (i = 0; i < n; i++)
		pool_prog->thread_fini(old[i]);
}

static void __attribute__((noreturn))
serve_worker_wait(const sigset_t *stop)
{
	struct timespec	 tick = { SERVE_KEEP_SECS, 0 };

	while (sigtimedwait(stop, NULL, &tick) != SIGTERM)
		serve_trim();
	log_event(LOGL_INFO, "worker.stop", NULL);
#ifdef SERVE_LSAN
	if (__lsan_do_recoverable_leak_check() != 0)
		_exit(EXIT_FAILURE);
#endif
	_exit(EXIT_SUCCESS);
}

/* A worker process: start the pool, then wait to be stopped. */
static void
serve_worker(int fd)
{
	sigset_t	 stop;
	int		 i;

	/* Die with the supervisor, even if it is killed with SIGKILL. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		_exit(EXIT_FAILURE);
	if (FCGX_Init() != 0) {
		log_error("msg=\"FCGX_Init failed\"");
		_exit(EXIT_FAILURE);
	}
	/* After FCGX_Init: libfcgi installs a SIGTERM handler that only
	 * sets a flag, which would leave a worker blocked in accept alive.
	 * SIGTERM stays blocked (the supervisor blocked it before the fork)
	 * in every thread and is taken by serve_worker_wait; the threads
	 * inherit this mask. */
	signal(SIGTERM, SIG_DFL);
	signal(SIGUSR1, SIG_DFL);
	signal(SIGINT, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigprocmask(SIG_SETMASK, &stop, NULL);
	pool_fd = fd;
	/* Without it, exiting threads free their state (serve_give_state). */
	pool_spare = calloc(pool_opts->max_threads, sizeof(*pool_spare));
	pthread_mutex_lock(&pool_mtx);
	for (i = 0; i < pool_opts->threads; i++)
		if (serve_spawn_thread() == 0) {
			pool_idle++;
			pool_total++;
		}
	pthread_mutex_unlock(&pool_mtx);
	if (pool_total == 0)
		_exit(EXIT_FAILURE);
	log_event(LOGL_INFO, "worker.ready", "threads=%d", pool_total);
	serve_worker_wait(&stop);
}

static void
serve_on_stop(int sig)
{
	(void)sig;
	sup_stop = 1;
}

static void
serve_on_child(int sig)
{
	(void)sig;
	sup_child = 1;
}

static pid_t
serve_fork_worker(int fd)
{
	pid_t	 pid;

	if ((pid = fork()) == -1) {
		log_error("msg=\"fork: %s\"", strerror(errno));
		return -1;
	}
	if (pid == 0)
		serve_worker(fd);
	return pid;
}

/*
 * Reaps exited workers and starts replacements.  A worker that dies within
 * a second of its start is restarted only after a pause, so a worker that
 * cannot start (a bad database path, say) does not spin the CPU.
 */
static void
serve_reap(pid_t *pids, time_t *started, int n, int fd)
{
	pid_t	 pid;
	int	 status, i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < n && pids[i] != pid; i++)
			continue;
		if (i == n)
			continue;
		if (WIFSIGNALED(status))
			log_event(LOGL_WARN, "worker.died", "pid=%ld signal=%d",
			    (long)pid, WTERMSIG(status));
		else
			log_event(LOGL_WARN, "worker.exited", "pid=%ld status=%d",
			    (long)pid, WEXITSTATUS(status));
		pids[i] = -1;
		if (sup_stop)
			continue;
		if (time(NULL) - started[i] < 1)
			sleep(1);
		started[i] = time(NULL);
		pids[i] = serve_fork_worker(fd);
	}
}

static void
serve_shutdown(pid_t *pids, int n)
{
	int	 i, alive, tries;

	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	for (tries = 0; tries < 50; tries++) {
		alive = 0;
		for (i = 0; i < n; i++) {
			if (pids[i] > 0 && waitpid(pids[i], NULL, WNOHANG) ==
			    pids[i])
				pids[i] = -1;
			alive += pids[i] > 0;
		}
		if (alive == 0)
			return;
		usleep(100000);
	}
	for (i = 0; i < n; i++)
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
}

static void
serve_usage(FILE *f, const char *name)
{
	fprintf(f, "usage: %s [-s socket] [-m mode] [-g group] [-w workers] "
	    "[-t threads] [-T max-threads]\n"
	    "       %s -h | -V\n"
	    "  -s PATH   listen on this unix socket (default: the socket "
	    "passed as standard input)\n"
	    "  -m MODE   octal mode of the socket (default 0660)\n"
	    "  -g GROUP  group of the socket, a name or a number (default: "
	    "this process's; nginx's group lets it connect)\n"
	    "  -w N      worker processes (default 2)\n"
	    "  -t N      accepting threads per worker (default 8)\n"
	    "  -T N      most threads per worker, busy ones included "
	    "(default 256)\n"
	    "  -h        this text;  -V  the version\n"
	    "The settings come from the environment (forcelink.env; "
	    "see the README).\n", name, name);
}

static int
serve_number(const char *s, int lo, int hi, int base)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, base);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < lo || v > hi)
		return -1;
	return (int)v;
}

/* A group name or number into *gid.  Returns 0, or -1. */
static int
serve_group(const char *s, gid_t *gid)
{
	struct group	*gr;
	int		 v;

	if ((gr = getgrnam(s)) != NULL) {
		*gid = gr->gr_gid;
		return 0;
	}
	if ((v = serve_number(s, 0, INT_MAX, 10)) == -1)
		return -1;
	*gid = (gid_t)v;
	return 0;
}

/* One line naming what was wrong, then the usage. */
static int
serve_bad(const char *name, const char *what, const char *arg)
{
	fprintf(stderr, "%s: %s%s%s\n", name, what, arg ? ": " : "",
	    arg ? arg : "");
	serve_usage(stderr, name);
	return -1;
}

int
serve_parse(int argc, char *argv[], const char *name, struct serve_opts *o)
{
	int	 c, v;

	o->socket_path = NULL;
	o->socket_mode = 0660;
	o->socket_group = (gid_t)-1;
	o->workers = 2;
	o->threads = 8;
	o->max_threads = 256;
	opterr = 0;
	while ((c = getopt(argc, argv, ":s:m:g:w:t:T:hV")) != -1) {
		switch (c) {
		case 's':
			if (*optarg == '\0')
				return serve_bad(name, "-s: empty path", NULL);
			o->socket_path = optarg;
			break;
		case 'm':
			if ((v = serve_number(optarg, 0, 0777, 8)) == -1)
				return serve_bad(name, "-m: not an octal mode "
				    "up to 0777", optarg);
			o->socket_mode = (mode_t)v;
			break;
		case 'g':
			if (serve_group(optarg, &o->socket_group) == -1)
				return serve_bad(name, "-g: no such group",
				    optarg);
			break;
		case 'w':
			if ((o->workers = serve_number(optarg, 1,
			    SERVE_MAX_WORKERS, 10)) == -1)
				return serve_bad(name, "-w: not a number of "
				    "workers", optarg);
			break;
		case 't':
			if ((o->threads = serve_number(optarg, 1, 1024,
			    10)) == -1)
				return serve_bad(name, "-t: not a number of "
				    "threads", optarg);
			break;
		case 'T':
			if ((o->max_threads = serve_number(optarg, 1, 4096,
			    10)) == -1)
				return serve_bad(name, "-T: not a number of "
				    "threads", optarg);
			break;
		case 'h':
			serve_usage(stdout, name);
			return fflush(stdout) == 0 ? 1 : -1;
		case 'V':
			printf("%s (forcelink) %s\n", name, PACKAGE_VERSION);
			return fflush(stdout) == 0 ? 1 : -1;
		case ':':
			return serve_bad(name, "an option needs a value",
			    argv[optind - 1]);
		default:
			return serve_bad(name, "unknown option",
			    argv[optind - 1]);
		}
	}
	if (optind != argc)
		return serve_bad(name, "no operands are taken", argv[optind]);
	if (o->max_threads < o->threads)
		return serve_bad(name, "-T is below -t", NULL);
	return 0;
}

/* Opens the listening socket.  Returns its descriptor, or -1. */
static int
serve_listen(const struct serve_opts *o)
{
	struct stat	 st;
	int		 fd, type, listening;
	socklen_t	 len = sizeof(type), llen = sizeof(listening);

	if (o->socket_path == NULL) {
		if (getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &len) == -1) {
			log_error("msg=\"standard input is not a socket: "
			    "give -s PATH\"");
			return -1;
		}
		/*
		 * It must be a listening stream socket (systemd: Accept=no,
		 * StandardInput=socket).  A connected one (Accept=yes, or
		 * inetd) would make every worker's accept fail, and the
		 * supervisor would restart them for ever while the service
		 * looked healthy; refuse it here, once, instead.
		 */
		if (type != SOCK_STREAM || getsockopt(0, SOL_SOCKET,
		    SO_ACCEPTCONN, &listening, &llen) == -1 || !listening) {
			log_error("msg=\"standard input is a socket but not "
			    "a listening stream socket (systemd: Accept=no)\"");
			return -1;
		}
		return 0;
	}
	/* Remove a stale socket from an earlier run, but nothing else. */
	if (lstat(o->socket_path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(o->socket_path);
	if ((fd = FCGX_OpenSocket(o->socket_path, SERVE_BACKLOG)) == -1) {
		log_error("msg=\"cannot listen on %s\"", o->socket_path);
		return -1;
	}
	if (o->socket_group != (gid_t)-1 &&
	    chown(o->socket_path, (uid_t)-1, o->socket_group) == -1) {
		log_error("msg=\"chgrp %s to group %lu: %s\"",
		    o->socket_path, (unsigned long)o->socket_group,
		    strerror(errno));
		close(fd);
		return -1;
	}
	if (chmod(o->socket_path, o->socket_mode) == -1) {
		log_error("msg=\"chmod %s: %s\"", o->socket_path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
serve_main(const struct serve_opts *o, const struct serve_program *prog,
    void *global)
{
	struct sigaction	 sa;
	sigset_t		 block, old;
	pid_t			 pids[SERVE_MAX_WORKERS];
	time_t			 started[SERVE_MAX_WORKERS];
	int			 fd, i;

	if ((fd = serve_listen(o)) == -1)
		return 1;
	pool_opts = o;
	pool_prog = prog;
	pool_global = global;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = serve_on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = serve_on_child;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Block the signals we wait for, so none is lost between the checks
	 * and sigsuspend(). */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &old);

	for (i = 0; i < o->workers; i++) {
		started[i] = time(NULL);
		pids[i] = serve_fork_worker(fd);
	}
	log_event(LOGL_INFO, "supervisor.start", "workers=%d threads=%d "
	    "socket=%s", o->workers, o->threads,
	    o->socket_path != NULL ? o->socket_path : "stdin");
	while (!sup_stop) {
		sigsuspend(&old);
		if (sup_child) {
			sup_child = 0;
			serve_reap(pids, started, o->workers, fd);
		}
	}
	log_event(LOGL_INFO, "supervisor.stop", NULL);
	serve_shutdown(pids, o->workers);
	if (o->socket_path != NULL)
		unlink(o->socket_path);
	return 0;
}

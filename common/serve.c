/*
 * serve: supervisor, worker processes, request threads and their fibers
 * (see serve.h).
 *
 * The supervisor does nothing but keep workers alive and pass on a
 * shutdown; all request work happens in the workers.  Within a worker the
 * threads share only the counters below (atomics, and one mutex for
 * starting and stopping).
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
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

#include "fiber.h"
#include "log.h"
#include "req.h"
#include "serve.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"0"
#endif

#define SERVE_MAX_WORKERS	64
#define SERVE_BACKLOG		4096
#define SERVE_STACK		(512 * 1024)
/* How often an idle worker gives freed memory back (serve_idle). */
#define SERVE_IDLE_SECS		1
/* How long a connection may take to deliver a whole request, and how
 * long a kept connection (FCGI_KEEP_CONN) may stay idle between two. */
#define SERVE_REQUEST_MS	5000
#define SERVE_KEEP_IDLE_MS	10000
/* A blocked read or write on a request's connection gives up after this
 * (only a peer that stops mid-record gets there: see serve_arrived). */
#define SERVE_IO_TIMEOUT_SECS	5
/* The most a request's records are looked ahead before libfcgi reads
 * them (a Slack request is a few kilobytes). */
#define SERVE_PEEK_MAX		(128 * 1024)
/* How long a stopping worker gives its requests to finish. */
#define SERVE_STOP_MS		3500
/* The signal serve_wake() sends the worker's main thread; blocked in
 * every thread, taken only by serve_worker_wait's sigtimedwait. */
#define SERVE_SIG_WAKE		SIGUSR2

/* FastCGI record types serve_arrived() looks at (the FastCGI spec). */
#define SERVE_FCGI_STDIN	5

/* One request thread of a worker. */
struct serve_thread {
	pthread_t		 t;
	struct fiber_sched	*sched;
	void			*ctx;
	int			 watching;	/* the listening socket */
	int			 ready;		/* started (under pool_mtx) */
	char			*peek;		/* SERVE_PEEK_MAX bytes */
};

/* One connection, from its accept until it is closed: its requests run
 * one after the other in one fiber. */
struct serve_job {
	FCGX_Request		 req;
	struct serve_thread	*thr;
	struct log_ctx		 log;
	int			 seen;		/* req_status_seen() */
};

/* Per worker. */
static pthread_mutex_t		 pool_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t		 pool_cond = PTHREAD_COND_INITIALIZER;
static const struct serve_opts	*pool_opts;
static const struct serve_program *pool_prog;
static void			*pool_global;
static int			 pool_fd;
static struct serve_thread	*pool_threads;
static int			 pool_running;	/* threads not ended */
static int			 pool_held;	/* requests held (atomic) */
static unsigned long		 pool_taken;	/* requests ever (atomic) */
static int			 pool_stopping;	/* atomic */
static int			 pool_full;	/* -T reached, logged */
static pthread_t		 pool_main;	/* the worker's main thread */
static int			 pool_woken;	/* serve_wake pending (atomic) */

/* Supervisor state, touched by signal handlers. */
static volatile sig_atomic_t	 sup_stop;
static volatile sig_atomic_t	 sup_child;


/* A request's per-thread state follows its fiber on and off the thread. */
static void
serve_enter(void *arg)
{
	struct serve_job	*j = arg;

	log_ctx_load(&j->log);
	req_status_set(j->seen);
}

static void
serve_leave(void *arg)
{
	struct serve_job	*j = arg;

	log_ctx_save(&j->log);
	j->seen = req_status_seen();
	log_clear_request();
	req_status_clear();
}

static const struct fiber_hooks	 serve_hooks = { serve_enter, serve_leave };

/*
 * Whether libfcgi can read the next request on fd without waiting on the
 * peer: its records are buffered through the end of its stdin (nginx
 * sends a request whole, the empty FCGI_STDIN record last), or the peer
 * has closed its side (libfcgi then reads what there is and the end), or
 * more than SERVE_PEEK_MAX bytes wait (libfcgi reads them; past that a
 * stalled peer meets SERVE_IO_TIMEOUT_SECS).  libfcgi reads with plain
 * blocking reads inside FCGX_Accept_r(), so a peer that stopped halfway
 * would hold the thread, and every request on it, for as long as it
 * liked.
 *
 * A management record (request id 0, such as FCGI_GET_VALUES) is refused
 * before libfcgi sees it: nginx never sends one, and libfcgi 2.4.2
 * answers FCGI_GET_VALUES into a 64-byte stack buffer without a bound.
 * Returns 1 (hand it to libfcgi: it is all there, or the peer's end
 * follows what is), 2 (hand it to libfcgi, whose reads may wait: more
 * than SERVE_PEEK_MAX bytes, or no look-ahead), 0 (wait for more), -1
 * (close it).
 */
static int
serve_arrived(struct serve_thread *t, int fd, int closed)
{
	const unsigned char	*b;
	ssize_t			 n;
	size_t			 off = 0;

	/* The thread's: its fibers look ahead one at a time. */
	if (t->peek == NULL && (t->peek = malloc(SERVE_PEEK_MAX)) == NULL)
		return 2;
	b = (const unsigned char *)t->peek;
	if ((n = recv(fd, t->peek, SERVE_PEEK_MAX, MSG_PEEK |
	    MSG_DONTWAIT)) <= 0)
		return n == 0 ? 1 : (errno == EAGAIN ||
		    errno == EWOULDBLOCK) && !closed ? 0 : 2;
	/* A record: version, type, id (2), content length (2), padding
	 * length, reserved; then content and padding. */
	while (off + 8 <= (size_t)n) {
		if (b[off + 2] == 0 && b[off + 3] == 0) {
			log_warn("msg=\"refused a FastCGI management record "
			    "(type %d)\"", b[off + 1]);
			return -1;
		}
		if (b[off + 1] == SERVE_FCGI_STDIN && b[off + 4] == 0 &&
		    b[off + 5] == 0)
			return 1;
		off += 8 + ((size_t)b[off + 4] << 8 | b[off + 5]) + b[off + 6];
	}
	return n == SERVE_PEEK_MAX ? 2 : closed ? 1 : 0;
}

/*
 * Hands the request on fd to libfcgi (rc as serve_arrived's, 1 or 2).
 * Only when its reads may wait does the connection get a receive
 * timeout: set for every connection, it cost a system call each, and
 * nginx sends a request whole.  Returns 0.
 */
static int
serve_ready(int fd, int rc)
{
	struct timeval	 tv = { SERVE_IO_TIMEOUT_SECS, 0 };

	if (rc == 2)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return 0;
}

/* Waits, in the job's fiber, until the next request on fd has arrived
 * (serve_arrived), for at most ms.  Returns 0, or -1 (close it). */
static int
serve_wait_request(struct serve_thread *t, int fd, long ms)
{
	struct timespec	 now, end;
	long		 left;
	int		 ev, rc;

	clock_gettime(CLOCK_MONOTONIC, &end);
	fiber_add_ms(&end, ms);
	if ((rc = serve_arrived(t, fd, 0)) != 0)
		return rc > 0 ? serve_ready(fd, rc) : -1;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (end.tv_sec - now.tv_sec) * 1000L +
		    (end.tv_nsec - now.tv_nsec) / 1000000L;
		if (left <= 0 || __atomic_load_n(&pool_stopping,
		    __ATOMIC_RELAXED))
			return -1;
		if ((ev = fiber_wait_fd(fd, POLLIN | POLLRDHUP, left)) == -1)
			return -1;
		if (ev != 0 && (rc = serve_arrived(t, fd, (ev & (POLLRDHUP |
		    POLLHUP | POLLERR)) != 0)) != 0)
			return rc > 0 ? serve_ready(fd, rc) : -1;
	}
}

static void	serve_listen_again(void);

int
serve_stopping(void)
{
	return __atomic_load_n(&pool_stopping, __ATOMIC_RELAXED);
}

void
serve_wake(void)
{
	if (!__atomic_exchange_n(&pool_woken, 1, __ATOMIC_ACQ_REL))
		(void)pthread_kill(pool_main, SERVE_SIG_WAKE);
}

/* One connection's fiber: its request, and the next ones while the peer
 * keeps the connection (FCGI_KEEP_CONN). */
static void
serve_job(void *arg)
{
	struct serve_job	*j = arg;
	long			 ms = SERVE_REQUEST_MS;

	for (;;) {
		if (serve_wait_request(j->thr, j->req.ipcFd, ms) == -1)
			break;
		/* The descriptor is set and kept: libfcgi reads from it
		 * without accepting anything (see serve_on_listen). */
		j->req.keepConnection = 1;
		if (FCGX_Accept_r(&j->req) < 0)
			break;
		pool_prog->handle(&j->req, j->thr->ctx);
		FCGX_Finish_r(&j->req);
		log_clear_request();
		if (j->req.ipcFd < 0 || __atomic_load_n(&pool_stopping,
		    __ATOMIC_RELAXED))
			break;
		ms = SERVE_KEEP_IDLE_MS;
	}
	FCGX_Free(&j->req, 1);
	free(j);
	/* The thread's state is left clean (no leave hook after the end). */
	log_clear_request();
	req_status_clear();
	if (__atomic_sub_fetch(&pool_held, 1, __ATOMIC_RELAXED) ==
	    pool_opts->max_requests - 1)
		serve_listen_again();
}

/*
 * The listening socket is readable: take one connection (the other
 * threads, woken one at a time by EPOLLEXCLUSIVE, take the next) and
 * start its fiber.  libfcgi is given the connection already accepted,
 * with a listening socket of -1, so that it reads the request but never
 * accepts (FCGX_Accept_r reads from a request's ipcFd when it is set and
 * the connection is kept).
 */
static void
serve_on_listen(void *arg)
{
	struct serve_thread	*t = arg;
	struct serve_job	*j;
	struct timeval		 tv = { SERVE_IO_TIMEOUT_SECS, 0 };
	int			 fd;

	if (__atomic_load_n(&pool_held, __ATOMIC_RELAXED) >=
	    pool_opts->max_requests) {
		/* Full: the backlog holds the rest until one ends. */
		fiber_sched_unwatch(t->sched, pool_fd);
		t->watching = 0;
		if (!__atomic_exchange_n(&pool_full, 1, __ATOMIC_RELAXED))
			log_warn("msg=\"holding %d requests (-T); new requests "
			    "wait in the socket's backlog\"",
			    pool_opts->max_requests);
		return;
	}
	if ((fd = accept4(pool_fd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != ECONNABORTED && errno != EINTR)
			log_error("msg=\"accept: %s\"", strerror(errno));
		return;
	}
	/* Writes may wait on nginx; reads get theirs in serve_ready. */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    FCGX_InitRequest(&j->req, -1, 0) != 0) {
		log_error("msg=\"out of memory\"");
		free(j);
		close(fd);
		return;
	}
	j->req.ipcFd = fd;
	j->thr = t;
	__atomic_add_fetch(&pool_held, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&pool_taken, 1, __ATOMIC_RELAXED);
	if (fiber_spawn(t->sched, serve_job, j) == -1) {
		__atomic_sub_fetch(&pool_held, 1, __ATOMIC_RELAXED);
		close(fd);
		free(j);
	}
}

/* A request ended while the worker held -T: every thread that stopped
 * listening looks again (serve_thread). */
static void
serve_listen_again(void)
{
	int	 i;

	for (i = 0; i < pool_opts->threads; i++)
		if (pool_threads[i].sched != NULL)
			fiber_sched_kick(pool_threads[i].sched);
}

/*
 * A request thread: a scheduler of fibers, one per connection, and the
 * thread's state (the program's thread_init: its database connection
 * and HTTP client, shared by its fibers).  It runs until the worker
 * stops and its last request has ended.
 */
static void *
serve_thread(void *arg)
{
	struct serve_thread	*t = arg;

	if ((t->sched = fiber_sched_new(&serve_hooks)) == NULL ||
	    (t->ctx = pool_prog->thread_init(pool_global)) == NULL) {
		log_error("msg=\"thread start failed; worker exits\"");
		exit(EXIT_FAILURE);
	}
	if (fiber_sched_watch(t->sched, pool_fd, 1, serve_on_listen, t) ==
	    -1) {
		log_error("msg=\"cannot watch the socket; worker exits\"");
		exit(EXIT_FAILURE);
	}
	t->watching = 1;
	pthread_mutex_lock(&pool_mtx);
	t->ready = 1;
	pthread_cond_broadcast(&pool_cond);
	pthread_mutex_unlock(&pool_mtx);
	for (;;) {
		if (__atomic_load_n(&pool_stopping, __ATOMIC_RELAXED)) {
			if (t->watching) {
				fiber_sched_unwatch(t->sched, pool_fd);
				t->watching = 0;
			}
			if (fiber_sched_live(t->sched) == 0)
				break;
		} else if (!t->watching && __atomic_load_n(&pool_held,
		    __ATOMIC_RELAXED) < pool_opts->max_requests &&
		    fiber_sched_watch(t->sched, pool_fd, 1, serve_on_listen,
		    t) == 0) {
			t->watching = 1;
			__atomic_store_n(&pool_full, 0, __ATOMIC_RELAXED);
		}
		fiber_sched_block(t->sched);
	}
	pthread_mutex_lock(&pool_mtx);
	pool_running--;
	pthread_cond_broadcast(&pool_cond);
	pthread_mutex_unlock(&pool_mtx);
	return NULL;
}

/*
 * Once a second while the worker waits for its signal: when requests
 * came since the last look and none is held now, the memory their
 * threads freed goes back to the kernel.  glibc keeps the freed middle
 * of each thread's arena mapped (only the top is trimmed on free), so a
 * worker that had served a burst of slow searches kept its peak, tens of
 * megabytes, at rest for good.
 */
static void
serve_idle(unsigned long *seen)
{
	unsigned long	 taken;

	taken = __atomic_load_n(&pool_taken, __ATOMIC_RELAXED);
	if (taken == *seen || __atomic_load_n(&pool_held,
	    __ATOMIC_RELAXED) != 0)
		return;
	*seen = taken;
	(void)malloc_trim(0);
}

/*
 * The worker's main thread after the threads have started: it waits for
 * SIGTERM (from the supervisor, or PDEATHSIG when the supervisor died),
 * which every thread blocks, and meanwhile runs the program's
 * worker_wake whenever serve_wake() asks and serve_idle() once a
 * second.  Then the threads stop taking connections,
 * the program's worker_stop ends the outbound calls in progress (their
 * requests are answered with an apology), and the requests get up to
 * SERVE_STOP_MS to finish before the process ends; requests cut off
 * then end as by a crash, which the store is built to survive.  In a
 * sanitizer build it first runs LeakSanitizer's check, which a process
 * ending by _exit would never get (into forcelink.log, where the
 * end-to-end harness looks).
 */
static void __attribute__((noreturn))
serve_worker_wait(const sigset_t *stop)
{
	struct timespec	 end, tick = { SERVE_IDLE_SECS, 0 };
	unsigned long	 seen = 0;
	int		 i, sig;

	while ((sig = sigtimedwait(stop, NULL, &tick)) != SIGTERM) {
		if (sig == SERVE_SIG_WAKE) {
			/* Cleared first: a wake during the work is another. */
			__atomic_store_n(&pool_woken, 0, __ATOMIC_RELEASE);
			if (pool_prog->worker_wake != NULL)
				pool_prog->worker_wake(pool_global);
		} else if (sig == -1 && errno == EAGAIN)
			serve_idle(&seen);
	}
	log_event(LOGL_INFO, "worker.stop", "requests=%d",
	    __atomic_load_n(&pool_held, __ATOMIC_RELAXED));
	__atomic_store_n(&pool_stopping, 1, __ATOMIC_RELAXED);
	if (pool_prog->worker_stop != NULL)
		pool_prog->worker_stop(pool_global);
	for (i = 0; i < pool_opts->threads; i++)
		if (pool_threads[i].sched != NULL)
			fiber_sched_kick(pool_threads[i].sched);
	clock_gettime(CLOCK_REALTIME, &end);
	fiber_add_ms(&end, SERVE_STOP_MS);
	pthread_mutex_lock(&pool_mtx);
	while (pool_running > 0 && pthread_cond_timedwait(&pool_cond,
	    &pool_mtx, &end) == 0)
		continue;
	pthread_mutex_unlock(&pool_mtx);
	log_event(LOGL_INFO, "worker.exit", "requests=%d",
	    __atomic_load_n(&pool_held, __ATOMIC_RELAXED));
#ifdef SERVE_LSAN
	if (__atomic_load_n(&pool_held, __ATOMIC_RELAXED) == 0 &&
	    __lsan_do_recoverable_leak_check() != 0)
		_exit(EXIT_FAILURE);
#endif
	_exit(EXIT_SUCCESS);
}

static int
serve_spawn_thread(struct serve_thread *t)
{
	pthread_attr_t	 attr;
	int		 rc;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, SERVE_STACK);
	rc = pthread_create(&t->t, &attr, serve_thread, t);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		log_error("msg=\"pthread_create: %s\"", strerror(rc));
		return -1;
	}
	return 0;
}

/* A worker process: start the threads, then wait to be stopped. */
static void
serve_worker(int fd)
{
	sigset_t	 stop;
	int		 i, fl;

	/* Die with the supervisor, even if it is killed with SIGKILL. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		_exit(EXIT_FAILURE);
	if (FCGX_Init() != 0) {
		log_error("msg=\"FCGX_Init failed\"");
		_exit(EXIT_FAILURE);
	}
	/* After FCGX_Init: libfcgi installs a SIGTERM handler that only
	 * sets a flag.  SIGTERM stays blocked (the supervisor blocked it
	 * before the fork) in every thread and is taken by
	 * serve_worker_wait; the threads inherit this mask. */
	signal(SIGTERM, SIG_DFL);
	signal(SIGUSR1, SIG_DFL);
	signal(SIGINT, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SERVE_SIG_WAKE);
	sigprocmask(SIG_SETMASK, &stop, NULL);
	pool_main = pthread_self();
	/* Every thread of every worker waits for the socket in its poll,
	 * so an accept must never block: the one that loses the race for
	 * a connection gets EAGAIN.  (The flag is the socket's, shared by
	 * all workers, which all want it.) */
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		log_error("msg=\"fcntl: %s\"", strerror(errno));
		_exit(EXIT_FAILURE);
	}
	pool_fd = fd;
	if (pool_prog->worker_init != NULL &&
	    pool_prog->worker_init(pool_global) == -1)
		_exit(EXIT_FAILURE);
	if ((pool_threads = calloc(pool_opts->threads,
	    sizeof(*pool_threads))) == NULL)
		_exit(EXIT_FAILURE);
	pthread_mutex_lock(&pool_mtx);
	for (i = 0; i < pool_opts->threads; i++)
		if (serve_spawn_thread(&pool_threads[i]) == 0)
			pool_running++;
	/* Each thread's scheduler is made before the worker says it is
	 * ready, and before a stop can look for it. */
	for (i = 0; i < pool_opts->threads; i++)
		while (pool_threads[i].t != 0 && !pool_threads[i].ready)
			pthread_cond_wait(&pool_cond, &pool_mtx);
	pthread_mutex_unlock(&pool_mtx);
	if (pool_running == 0)
		_exit(EXIT_FAILURE);
	log_event(LOGL_INFO, "worker.ready", "threads=%d max_requests=%d",
	    pool_running, pool_opts->max_requests);
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

/* The default of -t: one request thread per core. */
static int
serve_cores(void)
{
	long	 n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 64 ? 64 : (int)n;
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
	    "  -t N      request threads per worker (default: the number "
	    "of cores, %d)\n"
	    "  -T N      most requests a worker holds at once, waiting "
	    "ones included (default 4096)\n"
	    "  -h        this text;  -V  the version\n"
	    "The settings come from the environment (forcelink.env; "
	    "see the README).\n", name, name, serve_cores());
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
	o->threads = serve_cores();
	o->max_requests = 4096;
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
			if ((o->max_requests = serve_number(optarg, 1, 65536,
			    10)) == -1)
				return serve_bad(name, "-T: not a number of "
				    "requests", optarg);
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
	if (o->max_requests < o->threads)
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

/*
 * A worker holds up to -T requests, each with its FastCGI connection and
 * often one to Salesforce: the soft limit on descriptors (1,024 by
 * default) is raised to the hard one, which the admin sets (systemd's
 * LimitNOFILE).
 */
static void
serve_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
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
	serve_nofile();
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

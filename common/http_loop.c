/*
 * http_loop: a worker's I/O loop, the one thread that runs the worker's
 * outbound transfers (see http.h).
 *
 * The thread sleeps in epoll_wait() on three kinds of descriptor: an
 * eventfd that fibers write when they hand over a transfer (or when the
 * worker aborts them) while the loop sleeps, a timerfd that stands for
 * libcurl's one timer, and the sockets libcurl asks it to watch
 * (CURLMOPT_SOCKETFUNCTION).  Each
 * event goes to curl_multi_socket_action(), after which finished
 * transfers are collected: the outcome is copied into the fiber's
 * struct http_xfer, done is set and the fiber woken, all under the
 * loop's mutex, which the fiber takes to read done; so once the fiber
 * sees done, the loop has let go of the struct.
 *
 * Easy handles belong to the loop: hardened once when made, kept for
 * the next transfer (HTTP_LOOP_SPARE of them), and used on this thread
 * only, as is the share handle that keeps TLS sessions, so a new
 * connection to a host resumes the session of the first.  The multi
 * handle multiplexes over HTTP/2 and caps HTTP/1.1 connections per host
 * (HTTP_LOOP_HOST_CONNS); transfers past the cap wait in libcurl for a
 * connection, within their own timeouts.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "fiber.h"
#include "http.h"
#include "http_int.h"
#include "log.h"

/* Idle easy handles kept for the next transfers.  Each keeps its
 * 16-KB receive buffer and 7 KB of its own (massif): 64 kept after a
 * burst of 50 held 1.5 MB at rest. */
#define HTTP_LOOP_SPARE		8
/* Connections to one host at once (HTTP/1.1; over HTTP/2 one carries
 * many requests), and idle ones kept after use. */
#define HTTP_LOOP_HOST_CONNS	256
#define HTTP_LOOP_MAXCONNECTS	64
#define HTTP_LOOP_EVENTS	64
/* Once the worker stops, no transfer may take longer than this: its
 * request must still be answered before the worker exits. */
#define HTTP_LOOP_STOP_MS	2000
#define HTTP_LOOP_STACK		(256 * 1024)

struct http_loop {
	pthread_t		 thr;
	int			 epfd, efd, tfd;
	CURLM			*multi;
	CURLSH			*share;
	char			*ca_file;
	pthread_mutex_t		 mtx;
	/* Under mtx: */
	struct http_xfer	*queue, *tail;
	int			 abort;		/* abort what runs now */
	int			 stopping;	/* ever aborted */
	int			 signalled;
	int			 sleeping;	/* in (or going to) epoll_wait */
	/* The loop's thread only (read with relaxed atomics elsewhere): */
	struct http_xfer	*running;
	int			 nrunning;
	long			 connects;
	int			 due_now;	/* libcurl asked for 0 ms */
	int			 armed;		/* the timerfd is set */
	CURL			*spare[HTTP_LOOP_SPARE];
	int			 nspare;
};

/* Wakes the loop's thread if it sleeps (awake, it looks at the queue
 * before it sleeps again: see http_loop_main).  Caller holds l->mtx. */
static void
http_loop_signal_locked(struct http_loop *l)
{
	uint64_t	 one = 1;

	if (l->signalled || !l->sleeping)
		return;
	l->signalled = 1;
	/* Cannot fail short of a closed descriptor: the counter is read
	 * back to zero at every wake. */
	(void)write(l->efd, &one, sizeof(one));
}

void
http_loop_run(struct http_loop *l, struct http_xfer *x)
{
	int	 done;

	x->done = 0;
	x->next = NULL;
	pthread_mutex_lock(&l->mtx);
	if (l->tail != NULL)
		l->tail->next = x;
	else
		l->queue = x;
	l->tail = x;
	http_loop_signal_locked(l);
	pthread_mutex_unlock(&l->mtx);
	for (;;) {
		pthread_mutex_lock(&l->mtx);
		done = x->done;
		pthread_mutex_unlock(&l->mtx);
		if (done)
			return;
		fiber_wait();
	}
}

void
http_loop_abort(struct http_loop *l)
{
	pthread_mutex_lock(&l->mtx);
	l->abort = l->stopping = 1;
	http_loop_signal_locked(l);
	pthread_mutex_unlock(&l->mtx);
}

long
http_loop_connections(struct http_loop *l)
{
	return __atomic_load_n(&l->connects, __ATOMIC_RELAXED);
}

int
http_loop_running(struct http_loop *l)
{
	return __atomic_load_n(&l->nrunning, __ATOMIC_RELAXED);
}

/* libcurl wants socket s watched for what (CURLMOPT_SOCKETFUNCTION). */
static int
http_loop_socket(CURL *e, curl_socket_t s, int what, void *arg,
    void *sockp)
{
	struct http_loop	*l = arg;
	struct epoll_event	 ev;
	int			 op;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, s, NULL);
		(void)curl_multi_assign(l->multi, s, NULL);
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) |
	    ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
	ev.data.fd = s;
	op = sockp != NULL ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(l->epfd, op, s, &ev) == -1 &&
	    (errno != (op == EPOLL_CTL_ADD ? EEXIST : ENOENT) ||
	    epoll_ctl(l->epfd, op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD :
	    EPOLL_CTL_ADD, s, &ev) == -1)) {
		log_error("msg=\"epoll_ctl: %s\"", strerror(errno));
		return -1;
	}
	(void)curl_multi_assign(l->multi, s, l);
	return 0;
}

/*
 * libcurl's one timer (CURLMOPT_TIMERFUNCTION): -1 stops it, 0 asks for
 * an action as soon as possible, which the loop takes before it sleeps
 * again (due_now; libcurl may not be called back from here) instead of
 * through the timerfd: every transfer starts with a 0, and the timerfd
 * cost three system calls for it (set, wake, read).  A timerfd that is
 * not set is not stopped again.
 */
static int
http_loop_timer(CURLM *m, long ms, void *arg)
{
	struct http_loop	*l = arg;
	struct itimerspec	 its;

	(void)m;
	if (ms == 0) {
		l->due_now = 1;
		return 0;
	}
	if (ms < 0 && !l->armed)
		return 0;
	memset(&its, 0, sizeof(its));
	if (ms > 0) {
		its.it_value.tv_sec = ms / 1000;
		its.it_value.tv_nsec = (ms % 1000) * 1000000L;
	}
	if (timerfd_settime(l->tfd, 0, &its, NULL) == -1)
		return -1;
	l->armed = ms > 0;
	return 0;
}

/* Hands x back to its fiber.  x is not to be touched afterwards. */
static void
http_loop_finish(struct http_loop *l, struct http_xfer *x, CURLcode cc,
    int started)
{
	CURL	*c = x->easy;

	x->cc = cc;
	if (c != NULL) {
		/* A handle that did not start still holds the figures of
		 * its previous transfer. */
		if (started)
			http_collect(c, x, cc);
		http_unprepare(c);
		l->connects += x->connects;
		if (l->nspare < HTTP_LOOP_SPARE)
			l->spare[l->nspare++] = c;
		else
			curl_easy_cleanup(c);
		x->easy = NULL;
	}
	pthread_mutex_lock(&l->mtx);
	x->done = 1;
	fiber_wake(x->waiter);
	pthread_mutex_unlock(&l->mtx);
}

static void
http_loop_unlink(struct http_loop *l, struct http_xfer *x)
{
	if (x->rprev != NULL)
		x->rprev->rnext = x->rnext;
	else
		l->running = x->rnext;
	if (x->rnext != NULL)
		x->rnext->rprev = x->rprev;
	x->rprev = x->rnext = NULL;
	__atomic_store_n(&l->nrunning, l->nrunning - 1, __ATOMIC_RELAXED);
}

/* An easy handle for a transfer: a spare one, or a new hardened one. */
static CURL *
http_loop_easy(struct http_loop *l)
{
	CURL	*c;

	if (l->nspare > 0)
		return l->spare[--l->nspare];
	if ((c = curl_easy_init()) == NULL) {
		log_error("msg=\"out of memory\"");
		return NULL;
	}
	if (http_harden(c, l->ca_file) == -1 ||
	    curl_easy_setopt(c, CURLOPT_SHARE, l->share) != CURLE_OK) {
		log_error("msg=\"libcurl refused a hardening option\"");
		curl_easy_cleanup(c);
		return NULL;
	}
	return c;
}

static void
http_loop_start_one(struct http_loop *l, struct http_xfer *x, int stopping)
{
	CURLMcode	 mc;

	x->rprev = x->rnext = NULL;
	if (stopping && x->total_ms > HTTP_LOOP_STOP_MS)
		x->total_ms = HTTP_LOOP_STOP_MS;
	if (stopping && x->connect_ms > HTTP_LOOP_STOP_MS)
		x->connect_ms = HTTP_LOOP_STOP_MS;
	if ((x->easy = http_loop_easy(l)) == NULL) {
		http_loop_finish(l, x, CURLE_OUT_OF_MEMORY, 0);
		return;
	}
	if (http_prepare(x->easy, x) == -1 ||
	    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x) != CURLE_OK) {
		http_loop_finish(l, x, CURLE_FAILED_INIT, 0);
		return;
	}
	if ((mc = curl_multi_add_handle(l->multi, x->easy)) != CURLM_OK) {
		log_error("msg=\"%s\"", curl_multi_strerror(mc));
		http_loop_finish(l, x, CURLE_FAILED_INIT, 0);
		return;
	}
	if ((x->rnext = l->running) != NULL)
		x->rnext->rprev = x;
	l->running = x;
	__atomic_store_n(&l->nrunning, l->nrunning + 1, __ATOMIC_RELAXED);
}

/* Starts what was handed over, aborts when asked; drains the eventfd
 * if it was written. */
static void
http_loop_take(struct http_loop *l)
{
	struct http_xfer	*q, *x;
	uint64_t		 n;
	int			 abort, stopping;

	pthread_mutex_lock(&l->mtx);
	if (l->signalled) {
		(void)read(l->efd, &n, sizeof(n));
		l->signalled = 0;
	}
	q = l->queue;
	l->queue = l->tail = NULL;
	abort = l->abort;
	stopping = l->stopping;
	l->abort = 0;
	pthread_mutex_unlock(&l->mtx);
	while (abort && (x = l->running) != NULL) {
		(void)curl_multi_remove_handle(l->multi, x->easy);
		http_loop_unlink(l, x);
		http_loop_finish(l, x, CURLE_ABORTED_BY_CALLBACK, 1);
	}
	while ((x = q) != NULL) {
		q = x->next;
		http_loop_start_one(l, x, stopping);
	}
}

/* Collects the transfers libcurl finished. */
static void
http_loop_collect(struct http_loop *l)
{
	struct http_xfer	*x;
	CURLMsg			*msg;
	int			 left;

	while ((msg = curl_multi_info_read(l->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		x = NULL;
		(void)curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
		    (char **)&x);
		(void)curl_multi_remove_handle(l->multi, msg->easy_handle);
		if (x == NULL)
			continue;
		http_loop_unlink(l, x);
		http_loop_finish(l, x, msg->data.result, 1);
	}
}

static void *
http_loop_main(void *arg)
{
	struct http_loop	*l = arg;
	struct epoll_event	 ev[HTTP_LOOP_EVENTS];
	uint64_t		 n;
	int			 i, k, ms, running, flags;

	for (;;) {
		/* Asleep only with nothing handed over: a fiber that hands
		 * over a transfer while the loop is awake does not write
		 * the eventfd (http_loop_signal_locked). */
		pthread_mutex_lock(&l->mtx);
		ms = l->queue != NULL || l->abort || l->due_now ? 0 : -1;
		l->sleeping = ms != 0;
		pthread_mutex_unlock(&l->mtx);
		k = epoll_wait(l->epfd, ev, HTTP_LOOP_EVENTS, ms);
		pthread_mutex_lock(&l->mtx);
		l->sleeping = 0;
		pthread_mutex_unlock(&l->mtx);
		if (k == -1) {
			if (errno != EINTR)
				log_error("msg=\"epoll_wait: %s\"",
				    strerror(errno));
			k = 0;
		}
		http_loop_take(l);
		for (i = 0; i < k; i++) {
			if (ev[i].data.fd == l->efd)
				continue;
			if (ev[i].data.fd == l->tfd) {
				(void)read(l->tfd, &n, sizeof(n));
				l->armed = 0;
				(void)curl_multi_socket_action(l->multi,
				    CURL_SOCKET_TIMEOUT, 0, &running);
				continue;
			}
			flags = ((ev[i].events & EPOLLIN) ? CURL_CSELECT_IN :
			    0) | ((ev[i].events & EPOLLOUT) ?
			    CURL_CSELECT_OUT : 0) | ((ev[i].events &
			    (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
			(void)curl_multi_socket_action(l->multi,
			    ev[i].data.fd, flags, &running);
		}
		http_loop_collect(l);
		/* Once per turn: events still get their turn if libcurl
		 * keeps asking for 0 ms. */
		if (l->due_now) {
			l->due_now = 0;
			(void)curl_multi_socket_action(l->multi,
			    CURL_SOCKET_TIMEOUT, 0, &running);
			http_loop_collect(l);
		}
	}
	return NULL;
}

/* Adds fd to the loop's epoll set for reading.  Returns 0, or -1. */
static int
http_loop_watch(struct http_loop *l, int fd)
{
	struct epoll_event	 ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = fd;
	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
}

struct http_loop *
http_loop_start(const char *ca_file)
{
	struct http_loop	*l;
	pthread_attr_t		 attr;
	sigset_t		 all, old;
	int			 bad = 0, rc;

	if (http_init() == -1)
		return NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		log_error("msg=\"out of memory\"");
		return NULL;
	}
	pthread_mutex_init(&l->mtx, NULL);
	l->epfd = l->efd = l->tfd = -1;
	if (ca_file != NULL && (l->ca_file = strdup(ca_file)) == NULL)
		goto fail;
	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    (l->tfd = timerfd_create(CLOCK_MONOTONIC,
	    TFD_NONBLOCK | TFD_CLOEXEC)) == -1 ||
	    http_loop_watch(l, l->efd) == -1 ||
	    http_loop_watch(l, l->tfd) == -1) {
		log_error("msg=\"loop descriptors: %s\"", strerror(errno));
		goto fail;
	}
	if ((l->multi = curl_multi_init()) == NULL ||
	    (l->share = curl_share_init()) == NULL)
		goto fail;
	bad |= curl_share_setopt(l->share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK;
	bad |= curl_share_setopt(l->share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_DNS) != CURLSHE_OK;
	bad |= curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION,
	    http_loop_socket) != CURLM_OK;
	bad |= curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l) != CURLM_OK;
	bad |= curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION,
	    http_loop_timer) != CURLM_OK;
	bad |= curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l) != CURLM_OK;
	bad |= curl_multi_setopt(l->multi, CURLMOPT_PIPELINING,
	    (long)CURLPIPE_MULTIPLEX) != CURLM_OK;
	bad |= curl_multi_setopt(l->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)HTTP_LOOP_HOST_CONNS) != CURLM_OK;
	bad |= curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS,
	    (long)HTTP_LOOP_MAXCONNECTS) != CURLM_OK;
	if (bad) {
		log_error("msg=\"libcurl refused a loop option\"");
		goto fail;
	}
	/* The loop takes no signal: the worker's main thread does. */
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, HTTP_LOOP_STACK);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&l->thr, &attr, http_loop_main, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		log_error("msg=\"pthread_create: %s\"", strerror(rc));
		goto fail;
	}
	return l;
fail:
	if (l->multi != NULL)
		curl_multi_cleanup(l->multi);
	if (l->share != NULL)
		curl_share_cleanup(l->share);
	if (l->epfd != -1)
		close(l->epfd);
	if (l->efd != -1)
		close(l->efd);
	if (l->tfd != -1)
		close(l->tfd);
	free(l->ca_file);
	pthread_mutex_destroy(&l->mtx);
	free(l);
	return NULL;
}

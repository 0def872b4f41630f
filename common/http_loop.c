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
 * connection to a host resumes the session of the first.
 *
 * Two pools, each a multi handle with its own connections and timer:
 * hosts seen to speak HTTP/2 (a table of origins, learned from each
 * finished transfer's protocol) go to the multiplexed pool, everything
 * else (HTTP/1.1, or not yet known) to the other.  Why two: libcurl
 * (7.88) opens a new connection for every transfer that finds the
 * host's connections at their stream limit (the server's
 * SETTINGS_MAX_CONCURRENT_STREAMS, or libcurl's 100), without waiting
 * for the one it is already opening, so a burst of 500 to one HTTP/2
 * host opened 255 connections, each with its TLS and HTTP/2 state,
 * where 5 carry them.  Its only brake is the per-host connection cap,
 * which is per multi handle: 8 for HTTP/2 hosts (800 streams at once),
 * but an HTTP/1.1 host needs a connection per transfer in flight, so
 * the other pool keeps HTTP_LOOP_HOST_CONNS.  Transfers past a cap wait
 * in libcurl for a connection or a stream, within their own timeouts.
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
#include <time.h>
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
/* Connections to one host at once, and idle ones kept after use: in
 * the other pool (HTTP/1.1: one per transfer in flight; a burst's idle
 * TLS connections, 64 kept, held megabytes of a worker at rest) and in the
 * multiplexed one (each carries up to 100 transfers). */
#define HTTP_LOOP_HOST_CONNS	256
#define HTTP_LOOP_MAXCONNECTS	16
#define HTTP_LOOP_MUX_CONNS	8
#define HTTP_LOOP_MUX_MAXCONNECTS 16
#define HTTP_LOOP_EVENTS	64
/* Once the worker stops, no transfer may take longer than this: its
 * request must still be answered before the worker exits. */
#define HTTP_LOOP_STOP_MS	2000
#define HTTP_LOOP_STACK		(256 * 1024)

enum http_pool_id {
	HTTP_POOL_OTHER,	/* HTTP/1.1, or not known yet */
	HTTP_POOL_MUX,		/* known to multiplex (HTTP/2) */
	HTTP_POOL__MAX
};

/* What epoll reports, in the event's data beside the descriptor. */
enum http_loop_tag {
	HTTP_TAG_WAKE,		/* the eventfd */
	HTTP_TAG_TIMER,		/* a pool's timerfd */
	HTTP_TAG_SOCKET		/* a socket of a pool's */
};

/* One multi handle and its timer; the loop's thread only. */
struct http_pool {
	struct http_loop	*loop;
	enum http_pool_id	 id;
	CURLM			*multi;
	int			 tfd;
	int			 due_now;	/* libcurl asked for 0 ms */
	int			 armed;		/* the timerfd is set */
};

struct http_loop {
	pthread_t		 thr;
	int			 epfd, efd;
	struct http_pool	 pool[HTTP_POOL__MAX];
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
	CURL			*spare[HTTP_LOOP_SPARE];
	int			 nspare;
	struct http_origins	*origins;
	/* Transfers that waited for a probe, to be handed to their pool
	 * (not from inside libcurl's callbacks, which may not add). */
	struct http_xfer	*ready, *readytail;
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

/* The event data of descriptor fd: its tag and pool beside it. */
static uint64_t
http_loop_evdata(enum http_loop_tag tag, enum http_pool_id pool, int fd)
{
	return (uint64_t)tag << 40 | (uint64_t)pool << 32 | (uint32_t)fd;
}

/* libcurl wants socket s of a pool watched for what
 * (CURLMOPT_SOCKETFUNCTION). */
static int
http_loop_socket(CURL *e, curl_socket_t s, int what, void *arg,
    void *sockp)
{
	struct http_pool	*p = arg;
	struct http_loop	*l = p->loop;
	struct epoll_event	 ev;
	int			 op;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, s, NULL);
		(void)curl_multi_assign(p->multi, s, NULL);
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) |
	    ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
	ev.data.u64 = http_loop_evdata(HTTP_TAG_SOCKET, p->id, s);
	op = sockp != NULL ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(l->epfd, op, s, &ev) == -1 &&
	    (errno != (op == EPOLL_CTL_ADD ? EEXIST : ENOENT) ||
	    epoll_ctl(l->epfd, op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD :
	    EPOLL_CTL_ADD, s, &ev) == -1)) {
		log_error("msg=\"epoll_ctl: %s\"", strerror(errno));
		return -1;
	}
	(void)curl_multi_assign(p->multi, s, p);
	return 0;
}

/*
 * A pool's timer (CURLMOPT_TIMERFUNCTION): -1 stops it, 0 asks for
 * an action as soon as possible, which the loop takes before it sleeps
 * again (due_now; libcurl may not be called back from here) instead of
 * through the timerfd: every transfer starts with a 0, and the timerfd
 * cost three system calls for it (set, wake, read).  A timerfd that is
 * not set is not stopped again.
 */
static int
http_loop_timer(CURLM *m, long ms, void *arg)
{
	struct http_pool	*p = arg;
	struct itimerspec	 its;

	(void)m;
	if (ms == 0) {
		p->due_now = 1;
		return 0;
	}
	if (ms < 0 && !p->armed)
		return 0;
	memset(&its, 0, sizeof(its));
	if (ms > 0) {
		its.it_value.tv_sec = ms / 1000;
		its.it_value.tv_nsec = (ms % 1000) * 1000000L;
	}
	if (timerfd_settime(p->tfd, 0, &its, NULL) == -1)
		return -1;
	p->armed = ms > 0;
	return 0;
}

/* The monotonic clock in milliseconds. */
static long
http_loop_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Queues the transfers of list held (linked by hnext), which waited for
 * a probe, for pool id: http_loop_release() starts them. */
static void
http_loop_ready(struct http_loop *l, struct http_xfer *held,
    enum http_pool_id id)
{
	struct http_xfer	*x;

	while ((x = held) != NULL) {
		held = x->hnext;
		x->hnext = NULL;
		x->pool = id;
		if (l->readytail != NULL)
			l->readytail->hnext = x;
		else
			l->ready = x;
		l->readytail = x;
	}
}

/* Hands x back to its fiber.  x is not to be touched afterwards. */
static void
http_loop_finish(struct http_loop *l, struct http_xfer *x, CURLcode cc,
    int started)
{
	CURL	*c = x->easy;
	long	 v = 0;

	x->cc = cc;
	if (c != NULL) {
		/* A handle that did not start still holds the figures of
		 * its previous transfer. */
		if (started) {
			http_collect(c, x, cc);
			if (curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &v) !=
			    CURLE_OK)
				v = 0;
		}
		http_unprepare(c);
		l->connects += x->connects;
		if (l->nspare < HTTP_LOOP_SPARE)
			l->spare[l->nspare++] = c;
		else
			curl_easy_cleanup(c);
		x->easy = NULL;
	}
	/* A probe that ended before its handshake lets what it held go
	 * on as for a host not known. */
	http_loop_ready(l, http_origin_done(l->origins, x, v),
	    HTTP_POOL_OTHER);
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

/*
 * A probe's connection is up (CURLOPT_PREREQFUNCTION, before its
 * request is sent): its TLS handshake has told whether the host speaks
 * HTTP/2, so the transfers that waited go to the pool for it.
 */
static int
http_loop_prereq(void *arg, char *remote_ip, char *local_ip,
    int remote_port, int local_port)
{
	struct http_xfer	*x = arg;
	struct http_loop	*l = x->loop;
	int			 h2;

	(void)remote_ip;
	(void)local_ip;
	(void)remote_port;
	(void)local_port;
	h2 = http_alpn_h2(x->easy);
	http_loop_ready(l, http_origin_learned(l->origins, x, h2),
	    h2 == 1 ? HTTP_POOL_MUX : HTTP_POOL_OTHER);
	return CURL_PREREQFUNC_OK;
}

/*
 * Gives running transfer x an easy handle and adds it to pool id's multi
 * handle (a probe with the handshake's callback), or finishes it when
 * that fails.  A transfer that waits for a probe gets its handle only
 * here: a held one costs no handle's buffers.
 */
static void
http_loop_launch(struct http_loop *l, struct http_xfer *x,
    enum http_pool_id id, int probe)
{
	CURLMcode	 mc;
	CURLcode	 cc = CURLE_FAILED_INIT;

	x->pool = id;
	x->held = 0;
	if ((x->easy = http_loop_easy(l)) == NULL) {
		cc = CURLE_OUT_OF_MEMORY;
		goto fail;
	}
	if (http_prepare(x->easy, x) == -1 ||
	    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x) != CURLE_OK)
		goto fail;
	if (probe && (curl_easy_setopt(x->easy, CURLOPT_PREREQFUNCTION,
	    http_loop_prereq) != CURLE_OK ||
	    curl_easy_setopt(x->easy, CURLOPT_PREREQDATA, x) != CURLE_OK))
		goto fail;
	if ((mc = curl_multi_add_handle(l->pool[id].multi, x->easy)) ==
	    CURLM_OK)
		return;
	log_error("msg=\"%s\"", curl_multi_strerror(mc));
fail:
	http_loop_unlink(l, x);
	http_loop_finish(l, x, cc, 0);
}

static void
http_loop_start_one(struct http_loop *l, struct http_xfer *x, int stopping)
{
	enum http_route	 route;

	x->rprev = x->rnext = NULL;
	x->loop = l;
	x->easy = NULL;
	x->held = 0;
	if (stopping && x->total_ms > HTTP_LOOP_STOP_MS)
		x->total_ms = HTTP_LOOP_STOP_MS;
	if (stopping && x->connect_ms > HTTP_LOOP_STOP_MS)
		x->connect_ms = HTTP_LOOP_STOP_MS;
	if ((x->rnext = l->running) != NULL)
		x->rnext->rprev = x;
	l->running = x;
	__atomic_store_n(&l->nrunning, l->nrunning + 1, __ATOMIC_RELAXED);
	route = http_origin_route(l->origins, x, http_loop_now_ms());
	if (route == HTTP_ROUTE_HOLD) {
		x->held = 1;	/* running, in no pool yet */
		return;
	}
	/* A probe runs in the small pool: a host that multiplexes then
	 * carries the waiting transfers on the probe's connection. */
	http_loop_launch(l, x, route == HTTP_ROUTE_PLAIN ? HTTP_POOL_OTHER :
	    HTTP_POOL_MUX, route == HTTP_ROUTE_PROBE);
}

/* Starts the transfers that waited for a probe, their timeouts less the
 * time they waited (at least 1 ms: a probe that timed out lets the
 * others time out at once, as they would have). */
static void
http_loop_release(struct http_loop *l)
{
	struct http_xfer	*x;
	long			 waited, now;

	if (l->ready == NULL)
		return;
	now = http_loop_now_ms();
	while ((x = l->ready) != NULL) {
		if ((l->ready = x->hnext) == NULL)
			l->readytail = NULL;
		x->hnext = NULL;
		if ((waited = now - x->held_ms) > 0) {
			x->connect_ms = x->connect_ms > waited ?
			    x->connect_ms - waited : 1;
			x->total_ms = x->total_ms > waited ?
			    x->total_ms - waited : 1;
		}
		http_loop_launch(l, x, (enum http_pool_id)x->pool, 0);
	}
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
	if (abort) {
		/* Those that wait for a probe are running too, in no
		 * pool. */
		(void)http_origin_drain(l->origins);
		l->ready = l->readytail = NULL;
	}
	while (abort && (x = l->running) != NULL) {
		if (!x->held)
			(void)curl_multi_remove_handle(l->pool[x->pool].multi,
			    x->easy);
		http_loop_unlink(l, x);
		http_loop_finish(l, x, CURLE_ABORTED_BY_CALLBACK, !x->held);
	}
	while ((x = q) != NULL) {
		q = x->next;
		http_loop_start_one(l, x, stopping);
	}
}

/* Collects the transfers pool p finished. */
static void
http_loop_collect(struct http_pool *p)
{
	struct http_loop	*l = p->loop;
	struct http_xfer	*x;
	CURLMsg			*msg;
	int			 left;

	while ((msg = curl_multi_info_read(p->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		x = NULL;
		(void)curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
		    (char **)&x);
		(void)curl_multi_remove_handle(p->multi, msg->easy_handle);
		if (x == NULL)
			continue;
		http_loop_unlink(l, x);
		http_loop_finish(l, x, msg->data.result, 1);
	}
}

/* Hands one epoll event to the pool (or the timer) it belongs to. */
static void
http_loop_event(struct http_loop *l, const struct epoll_event *e)
{
	struct http_pool	*p;
	uint64_t		 n;
	int			 fd, flags, running;

	fd = (int)(uint32_t)e->data.u64;
	if ((enum http_loop_tag)(e->data.u64 >> 40) == HTTP_TAG_WAKE)
		return;		/* read by http_loop_take() */
	p = &l->pool[(e->data.u64 >> 32) & 0xff];
	if ((enum http_loop_tag)(e->data.u64 >> 40) == HTTP_TAG_TIMER) {
		(void)read(p->tfd, &n, sizeof(n));
		p->armed = 0;
		(void)curl_multi_socket_action(p->multi, CURL_SOCKET_TIMEOUT,
		    0, &running);
		return;
	}
	flags = ((e->events & EPOLLIN) ? CURL_CSELECT_IN : 0) |
	    ((e->events & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
	    ((e->events & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
	(void)curl_multi_socket_action(p->multi, fd, flags, &running);
}

static void *
http_loop_main(void *arg)
{
	struct http_loop	*l = arg;
	struct http_pool	*p;
	struct epoll_event	 ev[HTTP_LOOP_EVENTS];
	int			 i, k, ms, running, due;

	for (;;) {
		/* Asleep only with nothing handed over: a fiber that hands
		 * over a transfer while the loop is awake does not write
		 * the eventfd (http_loop_signal_locked). */
		due = 0;
		for (i = 0; i < HTTP_POOL__MAX; i++)
			due |= l->pool[i].due_now;
		pthread_mutex_lock(&l->mtx);
		ms = l->queue != NULL || l->abort || due ? 0 : -1;
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
		for (i = 0; i < k; i++)
			http_loop_event(l, &ev[i]);
		for (i = 0; i < HTTP_POOL__MAX; i++) {
			p = &l->pool[i];
			http_loop_collect(p);
			/* Once per turn: events still get their turn if
			 * libcurl keeps asking for 0 ms. */
			if (p->due_now) {
				p->due_now = 0;
				(void)curl_multi_socket_action(p->multi,
				    CURL_SOCKET_TIMEOUT, 0, &running);
				http_loop_collect(p);
			}
		}
		http_loop_release(l);
	}
	return NULL;
}

/* Adds fd to the loop's epoll set for reading, with tag and pool in
 * its event data.  Returns 0, or -1. */
static int
http_loop_watch(struct http_loop *l, int fd, enum http_loop_tag tag,
    enum http_pool_id pool)
{
	struct epoll_event	 ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = http_loop_evdata(tag, pool, fd);
	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* Makes pool id of l: its multi handle (connections at most conns per
 * host, keep kept idle) and its timerfd.  Returns 0, or -1 (logged). */
static int
http_loop_pool_init(struct http_loop *l, enum http_pool_id id, long conns,
    long keep)
{
	struct http_pool	*p = &l->pool[id];
	int			 bad = 0;

	p->loop = l;
	p->id = id;
	if ((p->tfd = timerfd_create(CLOCK_MONOTONIC,
	    TFD_NONBLOCK | TFD_CLOEXEC)) == -1 ||
	    http_loop_watch(l, p->tfd, HTTP_TAG_TIMER, id) == -1) {
		log_error("msg=\"loop timer: %s\"", strerror(errno));
		return -1;
	}
	if ((p->multi = curl_multi_init()) == NULL) {
		log_error("msg=\"out of memory\"");
		return -1;
	}
	bad |= curl_multi_setopt(p->multi, CURLMOPT_SOCKETFUNCTION,
	    http_loop_socket) != CURLM_OK;
	bad |= curl_multi_setopt(p->multi, CURLMOPT_SOCKETDATA, p) !=
	    CURLM_OK;
	bad |= curl_multi_setopt(p->multi, CURLMOPT_TIMERFUNCTION,
	    http_loop_timer) != CURLM_OK;
	bad |= curl_multi_setopt(p->multi, CURLMOPT_TIMERDATA, p) != CURLM_OK;
	bad |= curl_multi_setopt(p->multi, CURLMOPT_PIPELINING,
	    (long)CURLPIPE_MULTIPLEX) != CURLM_OK;
	bad |= curl_multi_setopt(p->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    conns) != CURLM_OK;
	bad |= curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS, keep) !=
	    CURLM_OK;
	if (bad) {
		log_error("msg=\"libcurl refused a loop option\"");
		return -1;
	}
	return 0;
}

struct http_loop *
http_loop_start(const char *ca_file)
{
	struct http_loop	*l;
	pthread_attr_t		 attr;
	sigset_t		 all, old;
	int			 bad = 0, i, rc;

	if (http_init() == -1)
		return NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		log_error("msg=\"out of memory\"");
		return NULL;
	}
	pthread_mutex_init(&l->mtx, NULL);
	l->epfd = l->efd = -1;
	for (i = 0; i < HTTP_POOL__MAX; i++)
		l->pool[i].tfd = -1;
	if (ca_file != NULL && (l->ca_file = strdup(ca_file)) == NULL)
		goto fail;
	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    http_loop_watch(l, l->efd, HTTP_TAG_WAKE, 0) == -1) {
		log_error("msg=\"loop descriptors: %s\"", strerror(errno));
		goto fail;
	}
	if (http_loop_pool_init(l, HTTP_POOL_OTHER, HTTP_LOOP_HOST_CONNS,
	    HTTP_LOOP_MAXCONNECTS) == -1 ||
	    http_loop_pool_init(l, HTTP_POOL_MUX, HTTP_LOOP_MUX_CONNS,
	    HTTP_LOOP_MUX_MAXCONNECTS) == -1)
		goto fail;
	if ((l->share = curl_share_init()) == NULL ||
	    (l->origins = http_origins_new()) == NULL)
		goto fail;
	bad |= curl_share_setopt(l->share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK;
	bad |= curl_share_setopt(l->share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_DNS) != CURLSHE_OK;
	if (bad) {
		log_error("msg=\"libcurl refused a share option\"");
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
	for (i = 0; i < HTTP_POOL__MAX; i++) {
		if (l->pool[i].multi != NULL)
			curl_multi_cleanup(l->pool[i].multi);
		if (l->pool[i].tfd != -1)
			close(l->pool[i].tfd);
	}
	if (l->share != NULL)
		curl_share_cleanup(l->share);
	http_origins_free(l->origins);
	if (l->epfd != -1)
		close(l->epfd);
	if (l->efd != -1)
		close(l->efd);
	free(l->ca_file);
	pthread_mutex_destroy(&l->mtx);
	free(l);
	return NULL;
}

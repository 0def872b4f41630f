/*
 * fiber: many requests on one thread, each written as straight-line code.
 *
 * A worker runs a fixed handful of request threads, yet must hold
 * hundreds of requests that wait on a slow Salesforce (the 3-second
 * rule, SPEC §4).  A thread per waiting request costs a thread stack, a
 * database connection and the scheduler's time; callbacks would chop
 * every handler into pieces.  So each request runs as a fiber: a small
 * stack of its own on which the handler runs as an ordinary call chain,
 * and which gives the thread back whenever it waits on the network.
 *
 * The rules that keep this simple:
 *  - A fiber is created on one request thread's scheduler and runs only
 *    there, one fiber at a time, so the thread's database connection and
 *    HTTP client are shared by its fibers without locks.
 *  - A fiber gives the thread up only inside fiber_wait() and
 *    fiber_sleep(), which the HTTP client and the refresh-lock wait call.
 *    It must never do so inside a store transaction or with a statement
 *    in progress: no function in forcelink waits on the network there.
 *  - fiber_wake() is the one call other threads may make (the I/O loop
 *    does, when a transfer ends); it may come before the fiber waits, and
 *    is then not lost.
 *  - A fiber may carry a deadline: a function that runs once, inside the
 *    fiber's current or next wait, when the monotonic clock passes a
 *    time.  The 3-second rule is kept with it (reply.h).
 *
 * Outside a fiber (forcelink-admin, the unit tests, a thread that is not
 * a scheduler) fiber_self() is NULL and the callers wait the plain way.
 *
 * Stacks are FIBER_STACK bytes of address space each, with a guard page
 * below, of which a request touches a few tens of kilobytes; a scheduler
 * keeps a few ended fibers' stacks for the next ones and unmaps the rest.
 * AddressSanitizer and valgrind are told about every switch and stack.
 */
#ifndef FORCELINK_FIBER_H
#define FORCELINK_FIBER_H

#include <time.h>

/* Address space of one fiber's stack (touched pages are what it costs). */
#define FIBER_STACK	(256 * 1024)

struct fiber;
struct fiber_sched;

/*
 * Called with a fiber's argument each time the fiber starts or resumes
 * (enter) and each time it waits (leave), on its thread: the place to
 * switch per-request state kept in thread-local variables.  leave is not
 * called when the fiber has ended (its function may have freed the
 * argument): a fiber clears what it set before it returns.  Either may
 * be NULL.
 */
struct fiber_hooks {
	void	(*enter)(void *arg);
	void	(*leave)(void *arg);
};

/*
 * Makes the calling thread's scheduler (one per thread; hooks may be
 * NULL and must outlive it).  Returns NULL on failure (logged).
 */
struct fiber_sched *fiber_sched_new(const struct fiber_hooks *hooks);

/* Frees a scheduler with no live fiber. */
void		 fiber_sched_free(struct fiber_sched *);

/*
 * Creates a fiber that will run fn(arg) on sched's thread, and makes it
 * runnable; it starts at the next fiber_sched_run().  Returns 0, or -1
 * (logged) when no stack could be had.
 */
int		 fiber_spawn(struct fiber_sched *, void (*fn)(void *),
		    void *arg);

/*
 * Runs, on the scheduler's own thread and outside any fiber, every fiber
 * that is runnable and every timer that fell due, until none is left.
 * Returns the milliseconds until the next timer (-1: none), for the
 * thread's poll.
 */
int		 fiber_sched_run(struct fiber_sched *);

/*
 * Calls fn(arg), on the scheduler's thread outside any fiber, whenever fd
 * is readable (level-triggered; with exclusive, EPOLLEXCLUSIVE: of the
 * threads watching one listening socket, not all wake for each
 * connection).  At most a few per scheduler.  Returns 0, or -1 (logged).
 * fiber_sched_unwatch() stops it.
 */
int		 fiber_sched_watch(struct fiber_sched *, int fd, int exclusive,
		    void (*fn)(void *), void *arg);
void		 fiber_sched_unwatch(struct fiber_sched *, int fd);

/*
 * One turn of the thread: sleeps until a fiber is runnable, a wake comes
 * from another thread, a timer falls due, a watched descriptor or one a
 * fiber waits on is ready, hands out what happened and runs what became
 * runnable (fiber_sched_run).  The thread's loop is
 * "while (!stop) fiber_sched_block(s);".
 */
void		 fiber_sched_block(struct fiber_sched *);

/* Makes the scheduler's thread return from fiber_sched_block() soon, to
 * look at whatever the caller changed; any thread. */
void		 fiber_sched_kick(struct fiber_sched *);

/* Fibers created and not yet ended. */
int		 fiber_sched_live(const struct fiber_sched *);

/* Adds ms milliseconds (>= 0) to *ts, a time of any clock. */
void		 fiber_add_ms(struct timespec *ts, long ms);

/* The calling fiber, or NULL when not in one. */
struct fiber	*fiber_self(void);

/*
 * Gives the thread up until fiber_wake() is called for this fiber (any
 * thread, before or during the wait), running the deadline function if
 * it falls due meanwhile.  It may also return after the deadline ran
 * without a wake: callers wait for their own condition in a loop.
 * Only in a fiber.
 */
void		 fiber_wait(void);

/* Gives the thread to every fiber that is runnable now, then goes on
 * (outside a fiber, nothing). */
void		 fiber_yield(void);

/* Makes f runnable; safe from any thread.  f must not have ended. */
void		 fiber_wake(struct fiber *f);

/* Waits ms milliseconds (in a fiber; otherwise sleeps the thread).  The
 * deadline function may run meanwhile. */
void		 fiber_sleep(long ms);

/*
 * Waits until fd has events (poll(2)'s POLLIN, POLLOUT, POLLRDHUP...) or
 * timeout_ms passed (-1: no limit), giving the thread up meanwhile.  Returns the events
 * seen, 0 on timeout, -1 (logged) on failure.  Outside a fiber it is
 * poll(2).
 */
int		 fiber_wait_fd(int fd, int events, long timeout_ms);

/*
 * A lock among the fibers of one thread, for a resource they share that
 * is held across a wait (a PostgreSQL connection while its statement
 * runs): taken in turn, first come first served.  Zero it to start; it
 * needs no freeing.  Outside a fiber both calls do nothing (a thread
 * alone needs no lock).
 */
struct fiber_lock {
	struct fiber	*owner;
	struct fiber	*head, *tail;	/* waiting */
};

/* Takes l, waiting while another fiber holds it (the deadline function
 * may run meanwhile).  Returns 1 when taken now, 0 when the caller held
 * it already (or is not a fiber). */
int		 fiber_lock_take(struct fiber_lock *l);

/* Gives l to the next fiber waiting, if the caller holds it. */
void		 fiber_lock_give(struct fiber_lock *l);

/*
 * Sets (fn non-NULL) or clears the calling fiber's deadline: fn(arg) runs
 * once, in this fiber, inside the first wait during which (or before
 * which) the monotonic clock passes *when.  Outside a fiber it is kept
 * for the thread and checked by fiber_deadline_check() only.
 */
void		 fiber_set_deadline(const struct timespec *when,
		    void (*fn)(void *), void *arg);

/* Runs the deadline function now if it is due and has not run.  Returns
 * 1 if it has run (now or before), 0 if not yet or none is set. */
int		 fiber_deadline_check(void);

#endif

/*
 * fiber: stacks, switches, wake-ups and timers of the request fibers
 * (see fiber.h).
 *
 * A switch on x86-64 is fiber_swap_asm below: it saves the registers the
 * ABI says a call preserves, swaps stack pointers and returns on the
 * other stack, without a system call.  ucontext's swapcontext(), used
 * on other machines, also saves and restores the signal mask with
 * sigprocmask(2): two system calls per switch, five per warm /contact
 * (bench/profile.sh strace), for a mask no fiber ever changes.  The
 * scheduler runs
 * on the thread's own stack; a fiber always switches back to it, never
 * to another fiber, so the order of events is easy to follow: the
 * scheduler picks a runnable fiber, runs it until it waits or ends,
 * and picks the next.
 *
 * The ready list and each fiber's wake state are under the scheduler's
 * mutex, because the I/O loop's thread wakes fibers; everything else
 * (timers, stacks, the deadline) is touched by the scheduler's thread
 * only.  A wake from another thread also writes the scheduler's eventfd,
 * once until the scheduler drains it, so that a thread asleep in
 * epoll_wait() gets up; only when the thread is asleep there or about to
 * be (sleeping, set under the mutex in the same breath as it found the
 * ready list empty): a busy thread finds the fiber on the ready list
 * before it sleeps again, and two system calls are saved.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* AddressSanitizer must be told when the stack changes under it, or it
 * takes the other stack for an overflow; gcc and clang say "ASan"
 * differently. */
#if defined(__SANITIZE_ADDRESS__)
#define FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FIBER_ASAN 1
#endif
#endif
#ifdef FIBER_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
/* valgrind likewise, when its header is there (a no-op outside it). */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define FIBER_VALGRIND 1
#endif
#endif

#include "fiber.h"
#include "log.h"

/*
 * The switch: fiber_swap_asm(save, load) pushes the callee-saved
 * registers (rbp, rbx, r12-r15) and the SSE and x87 control words on
 * the current stack, stores the stack pointer in *save, loads load as
 * the stack pointer, pops the same from there and returns on that
 * stack.  A new fiber's stack is laid out as if it had called it
 * (fiber_stack_init).  Elsewhere, ucontext.
 */
#if defined(__x86_64__) && !defined(FIBER_UCONTEXT)
#define FIBER_ASM 1
void	 fiber_swap_asm(void **save, void *load)
	    __attribute__((visibility("hidden")));
__asm__(
"	.text\n"
"	.globl	fiber_swap_asm\n"
"	.hidden	fiber_swap_asm\n"
"	.type	fiber_swap_asm, @function\n"
"	.p2align 4\n"
"fiber_swap_asm:\n"
"	pushq	%rbp\n"
"	pushq	%rbx\n"
"	pushq	%r12\n"
"	pushq	%r13\n"
"	pushq	%r14\n"
"	pushq	%r15\n"
"	subq	$8, %rsp\n"
"	stmxcsr	(%rsp)\n"
"	fnstcw	4(%rsp)\n"
"	movq	%rsp, (%rdi)\n"
"	movq	%rsi, %rsp\n"
"	ldmxcsr	(%rsp)\n"
"	fldcw	4(%rsp)\n"
"	addq	$8, %rsp\n"
"	popq	%r15\n"
"	popq	%r14\n"
"	popq	%r13\n"
"	popq	%r12\n"
"	popq	%rbx\n"
"	popq	%rbp\n"
"	ret\n"
"	.size	fiber_swap_asm, .-fiber_swap_asm\n"
"	.section .note.GNU-stack,\"\",@progbits\n"
"	.text\n");
#else
#include <ucontext.h>
#endif

/* Ended fibers whose stacks a scheduler keeps for the next ones.  The
 * pages a request touched stay resident with each (20-30 KB), but a
 * stack mapped anew costs its page faults again: with 4 kept, eight
 * connections on one thread cost 1.3 page faults per request
 * (bench/profile.sh perf); with 16, none. */
#define FIBER_KEEP	16
/* Descriptors a scheduler watches for its own thread (fiber_sched_watch). */
#define FIBER_WATCHES	4
#define FIBER_EVENTS	64

/* What an epoll event is about: the wake eventfd, a descriptor watched
 * for the thread, or one a fiber waits on. */
enum fiber_tag {
	FIBER_TAG_WAKE,
	FIBER_TAG_WATCH,
	FIBER_TAG_FIBER
};

struct fiber_watch {
	enum fiber_tag	 tag;
	int		 fd;
	void		(*fn)(void *);
	void		*arg;
	struct fiber	*f;
	unsigned int	 revents;
};

/* A timer of one fiber: when it falls due, and its place in the heap
 * (-1: not armed). */
struct fiber_timer {
	struct timespec	 when;
	struct fiber	*f;
	int		 idx;
};

/* The deadline of a fiber, or of a thread outside fibers. */
struct fiber_deadline {
	struct timespec	 when;
	void		(*fn)(void *);
	void		*arg;
	int		 state;		/* 0 none, 1 set, 2 ran */
};

struct fiber {
#ifdef FIBER_ASM
	void			*sp;		/* saved while off the thread */
#else
	ucontext_t		 uc;
#endif
	struct fiber_sched	*sched;
	void			(*fn)(void *);
	void			*arg;
	char			*map;		/* guard page, then the stack */
	struct fiber		*next;		/* ready list or spare list */
	struct fiber		*lnext;		/* a fiber_lock's waiters */
	/* Under sched->mtx: */
	int			 woken;		/* a wake not yet consumed */
	int			 waiting;	/* in fiber_wait, not queued */
	int			 queued;	/* on the ready list */
	/* The scheduler's thread only: */
	int			 ended;
	int			 slept;		/* the sleep timer fired */
	int			 fd_ready;	/* its descriptor is ready */
	struct fiber_watch	 w_fd;
	struct fiber_deadline	 dl;
	struct fiber_timer	 t_deadline;
	struct fiber_timer	 t_sleep;
#ifdef FIBER_ASAN
	void			*fake_stack;
#endif
#ifdef FIBER_VALGRIND
	unsigned		 vg_stack;
#endif
};

struct fiber_sched {
	pthread_mutex_t		 mtx;
	struct fiber		*ready, *ready_tail;	/* under mtx */
	int			 signalled;		/* under mtx */
	int			 sleeping;		/* under mtx */
	int			 efd;
	int			 epfd;		/* the thread's epoll */
	struct fiber_watch	 w_wake;
	struct fiber_watch	 watch[FIBER_WATCHES];
#ifdef FIBER_ASM
	void			*sp;		/* the scheduler's own */
#else
	ucontext_t		 uc;		/* the scheduler's own */
#endif
	struct fiber		*current;
	const struct fiber_hooks *hooks;
	int			 live;
	struct fiber		*spare;		/* ended, stacks kept */
	int			 nspare;
	struct fiber_timer	**heap;
	int			 nheap, heapcap;
	size_t			 page;
#ifdef FIBER_ASAN
	const void		*main_bottom;	/* the thread's stack */
	size_t			 main_size;
	void			*main_fake;
#endif
};

static __thread struct fiber_sched	*fiber_tls;	/* this thread's */
static __thread struct fiber_deadline	 fiber_thread_dl;

static void
fiber_now(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

void
fiber_add_ms(struct timespec *ts, long ms)
{
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static int
fiber_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	    (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* --- Timers: a binary heap on when ----------------------------------- */

static void
fiber_heap_swap(struct fiber_sched *s, int i, int j)
{
	struct fiber_timer	*t = s->heap[i];

	s->heap[i] = s->heap[j];
	s->heap[j] = t;
	s->heap[i]->idx = i;
	s->heap[j]->idx = j;
}

static void
fiber_heap_up(struct fiber_sched *s, int i)
{
	while (i > 0 && fiber_before(&s->heap[i]->when,
	    &s->heap[(i - 1) / 2]->when)) {
		fiber_heap_swap(s, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
fiber_heap_down(struct fiber_sched *s, int i)
{
	int	 l, m;

	for (;;) {
		l = 2 * i + 1;
		m = i;
		if (l < s->nheap && fiber_before(&s->heap[l]->when,
		    &s->heap[m]->when))
			m = l;
		if (l + 1 < s->nheap && fiber_before(&s->heap[l + 1]->when,
		    &s->heap[m]->when))
			m = l + 1;
		if (m == i)
			return;
		fiber_heap_swap(s, i, m);
		i = m;
	}
}

/* Arms t for when.  Returns 0, or -1 on memory exhaustion (logged). */
static int
fiber_timer_arm(struct fiber_sched *s, struct fiber_timer *t,
    const struct timespec *when)
{
	struct fiber_timer	**n;
	int			 cap;

	if (t->idx >= 0) {
		t->when = *when;
		fiber_heap_up(s, t->idx);
		fiber_heap_down(s, t->idx);
		return 0;
	}
	if (s->nheap == s->heapcap) {
		cap = s->heapcap > 0 ? s->heapcap * 2 : 64;
		if ((n = reallocarray(s->heap, (size_t)cap,
		    sizeof(*n))) == NULL) {
			log_error("msg=\"out of memory\"");
			return -1;
		}
		s->heap = n;
		s->heapcap = cap;
	}
	t->when = *when;
	t->idx = s->nheap;
	s->heap[s->nheap++] = t;
	fiber_heap_up(s, t->idx);
	return 0;
}

static void
fiber_timer_cancel(struct fiber_sched *s, struct fiber_timer *t)
{
	int	 i = t->idx;

	if (i < 0)
		return;
	t->idx = -1;
	if (i == --s->nheap)
		return;
	s->heap[i] = s->heap[s->nheap];
	s->heap[i]->idx = i;
	fiber_heap_up(s, i);
	fiber_heap_down(s, i);
}

/* --- Ready list -------------------------------------------------------- */

/* Queues f if it waits and is not queued yet.  Caller holds s->mtx.
 * Returns 1 when it queued it. */
static int
fiber_queue_locked(struct fiber_sched *s, struct fiber *f)
{
	if (!f->waiting || f->queued)
		return 0;
	f->queued = 1;
	f->next = NULL;
	if (s->ready_tail != NULL)
		s->ready_tail->next = f;
	else
		s->ready = f;
	s->ready_tail = f;
	return 1;
}

void
fiber_wake(struct fiber *f)
{
	struct fiber_sched	*s = f->sched;
	uint64_t		 one = 1;
	int			 signal = 0;

	pthread_mutex_lock(&s->mtx);
	f->woken = 1;
	if (fiber_queue_locked(s, f) && fiber_tls != s && s->sleeping &&
	    !s->signalled)
		signal = s->signalled = 1;
	pthread_mutex_unlock(&s->mtx);
	/* A full eventfd counter (never, at one write per drain) or a
	 * closed one would only delay the wake to the next event. */
	if (signal)
		(void)write(s->efd, &one, sizeof(one));
}

/* A timer of f fell due: run f (without consuming a wake). */
static void
fiber_ready(struct fiber *f)
{
	struct fiber_sched	*s = f->sched;

	pthread_mutex_lock(&s->mtx);
	(void)fiber_queue_locked(s, f);
	pthread_mutex_unlock(&s->mtx);
}

/* --- Stacks and switches ---------------------------------------------- */

static void
fiber_unmap(struct fiber *f)
{
#ifdef FIBER_VALGRIND
	VALGRIND_STACK_DEREGISTER(f->vg_stack);
#endif
	munmap(f->map, FIBER_STACK + f->sched->page);
	free(f);
}

/* A fiber with a stack: a spare one, or a new mapping.  NULL on
 * failure (logged). */
static struct fiber *
fiber_alloc(struct fiber_sched *s)
{
	struct fiber	*f;

	if ((f = s->spare) != NULL) {
		s->spare = f->next;
		s->nspare--;
		return f;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		log_error("msg=\"out of memory\"");
		return NULL;
	}
	f->sched = s;
	f->map = mmap(NULL, FIBER_STACK + s->page, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (f->map == MAP_FAILED) {
		log_error("msg=\"mmap of a fiber stack: %s\"",
		    strerror(errno));
		free(f);
		return NULL;
	}
	/* The guard page: an overflow faults instead of writing on. */
	if (mprotect(f->map, s->page, PROT_NONE) == -1) {
		log_error("msg=\"mprotect: %s\"", strerror(errno));
		munmap(f->map, FIBER_STACK + s->page);
		free(f);
		return NULL;
	}
#ifdef FIBER_VALGRIND
	f->vg_stack = VALGRIND_STACK_REGISTER(f->map + s->page,
	    f->map + s->page + FIBER_STACK);
#endif
	return f;
}

/* The first frame of every fiber. */
static void
fiber_main(void)
{
	struct fiber_sched	*s = fiber_tls;
	struct fiber		*f = s->current;

#ifdef FIBER_ASAN
	__sanitizer_finish_switch_fiber(NULL, &s->main_bottom, &s->main_size);
#endif
	f->fn(f->arg);
	f->ended = 1;
#ifdef FIBER_ASAN
	/* NULL: this stack is done with, its fake frames may go. */
	__sanitizer_start_switch_fiber(NULL, s->main_bottom, s->main_size);
#endif
#ifdef FIBER_ASM
	fiber_swap_asm(&f->sp, s->sp);
#else
	setcontext(&s->uc);
#endif
	/* Never resumed (setcontext() returns only on failure, which
	 * cannot be handled on a stack that is about to be reused). */
	abort();
}

#ifdef FIBER_ASM
/*
 * Lays out f's stack as fiber_swap_asm leaves a stack it switched away
 * from, so that switching to it "returns" into fiber_main with the
 * stack aligned as after a call (16 bytes, less the return address):
 * from the top, a zero return address for fiber_main (unwinders stop
 * there), fiber_main's address, six zeroed registers, and the control
 * words (the defaults: all exceptions masked, round to nearest).
 */
static void
fiber_stack_init(struct fiber *f)
{
	uintptr_t	*p;
	uint32_t	 cw[2] = { 0x1f80, 0x037f };

	p = (uintptr_t *)(void *)(f->map + f->sched->page + FIBER_STACK);
	*--p = 0;
	*--p = (uintptr_t)fiber_main;
	p -= 6;
	memset(p, 0, 6 * sizeof(*p));
	p--;
	memcpy(p, cw, sizeof(cw));
	f->sp = p;
}
#endif

/* Runs f until it waits or ends.  On the scheduler's thread, outside
 * any fiber. */
static void
fiber_switch_in(struct fiber_sched *s, struct fiber *f)
{
	s->current = f;
	if (s->hooks != NULL && s->hooks->enter != NULL)
		s->hooks->enter(f->arg);
#ifdef FIBER_ASAN
	__sanitizer_start_switch_fiber(&s->main_fake, f->map + s->page,
	    FIBER_STACK);
#endif
#ifdef FIBER_ASM
	fiber_swap_asm(&s->sp, f->sp);
#else
	if (swapcontext(&s->uc, &f->uc) == -1) {
		log_error("msg=\"swapcontext: %s\"", strerror(errno));
		abort();
	}
#endif
#ifdef FIBER_ASAN
	__sanitizer_finish_switch_fiber(s->main_fake, NULL, NULL);
#endif
	s->current = NULL;
	if (!f->ended) {
		if (s->hooks != NULL && s->hooks->leave != NULL)
			s->hooks->leave(f->arg);
		return;
	}
	fiber_timer_cancel(s, &f->t_deadline);
	fiber_timer_cancel(s, &f->t_sleep);
	s->live--;
	if (s->nspare < FIBER_KEEP) {
		f->next = s->spare;
		s->spare = f;
		s->nspare++;
	} else
		fiber_unmap(f);
}

/* Gives the thread back to the scheduler.  In a fiber. */
static void
fiber_switch_out(struct fiber *f)
{
	struct fiber_sched	*s = f->sched;

#ifdef FIBER_ASAN
	__sanitizer_start_switch_fiber(&f->fake_stack, s->main_bottom,
	    s->main_size);
#endif
#ifdef FIBER_ASM
	fiber_swap_asm(&f->sp, s->sp);
#else
	if (swapcontext(&f->uc, &s->uc) == -1) {
		log_error("msg=\"swapcontext: %s\"", strerror(errno));
		abort();
	}
#endif
#ifdef FIBER_ASAN
	__sanitizer_finish_switch_fiber(f->fake_stack, &s->main_bottom,
	    &s->main_size);
#endif
}

/* --- The scheduler ----------------------------------------------------- */

struct fiber_sched *
fiber_sched_new(const struct fiber_hooks *hooks)
{
	struct fiber_sched	*s;
	struct epoll_event	 ev;
	long			 pg;
	int			 i;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_error("msg=\"out of memory\"");
		return NULL;
	}
	pthread_mutex_init(&s->mtx, NULL);
	s->hooks = hooks;
	s->page = (pg = sysconf(_SC_PAGESIZE)) > 0 ? (size_t)pg : 4096;
	s->efd = s->epfd = -1;
	for (i = 0; i < FIBER_WATCHES; i++)
		s->watch[i].fd = -1;
	s->w_wake.tag = FIBER_TAG_WAKE;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &s->w_wake;
	if ((s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    (s->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->efd, &ev) == -1) {
		log_error("msg=\"scheduler descriptors: %s\"",
		    strerror(errno));
		fiber_sched_free(s);
		return NULL;
	}
	fiber_tls = s;
	return s;
}

void
fiber_sched_free(struct fiber_sched *s)
{
	struct fiber	*f;

	if (s == NULL)
		return;
	while ((f = s->spare) != NULL) {
		s->spare = f->next;
		fiber_unmap(f);
	}
	if (fiber_tls == s)
		fiber_tls = NULL;
	if (s->efd != -1)
		close(s->efd);
	if (s->epfd != -1)
		close(s->epfd);
	free(s->heap);
	pthread_mutex_destroy(&s->mtx);
	free(s);
}

int
fiber_spawn(struct fiber_sched *s, void (*fn)(void *), void *arg)
{
#ifdef FIBER_ASM
	struct fiber	*f;

	if ((f = fiber_alloc(s)) == NULL)
		return -1;
	fiber_stack_init(f);
#else
	/* getcontext() returns twice as far as the compiler knows (it
	 * never does here: makecontext replaces the context before any
	 * switch), so f must not live in a register across it. */
	struct fiber	*volatile f;

	if ((f = fiber_alloc(s)) == NULL)
		return -1;
	if (getcontext(&f->uc) == -1) {
		log_error("msg=\"getcontext: %s\"", strerror(errno));
		fiber_unmap(f);
		return -1;
	}
	f->uc.uc_stack.ss_sp = f->map + s->page;
	f->uc.uc_stack.ss_size = FIBER_STACK;
	f->uc.uc_link = NULL;
	makecontext(&f->uc, fiber_main, 0);
#endif
	f->fn = fn;
	f->arg = arg;
	f->ended = f->slept = f->woken = 0;
	memset(&f->dl, 0, sizeof(f->dl));
	f->t_deadline.f = f->t_sleep.f = f;
	f->t_deadline.idx = f->t_sleep.idx = -1;
	s->live++;
	pthread_mutex_lock(&s->mtx);
	f->waiting = 1;
	f->queued = 0;
	(void)fiber_queue_locked(s, f);
	pthread_mutex_unlock(&s->mtx);
	return 0;
}

/* Fires the timers that fell due: a sleep ends, a deadline wakes its
 * fiber (which runs the function inside its wait). */
static void
fiber_timers(struct fiber_sched *s)
{
	struct fiber_timer	*t;
	struct timespec		 now;

	fiber_now(&now);
	while (s->nheap > 0 && !fiber_before(&now, &s->heap[0]->when)) {
		t = s->heap[0];
		fiber_timer_cancel(s, t);
		if (t == &t->f->t_sleep)
			t->f->slept = 1;
		fiber_ready(t->f);
	}
}

/* How long the thread may sleep: 0 when a fiber is runnable, else
 * until the next timer (-1: none; at most a minute).  With sleep set,
 * the thread is marked asleep when no fiber is runnable (fiber_wake
 * then writes the eventfd), until fiber_sched_block wakes. */
static int
fiber_next_ms(struct fiber_sched *s, int sleep)
{
	struct timespec	 now;
	long		 ms;
	int		 ready;

	pthread_mutex_lock(&s->mtx);
	ready = s->ready != NULL;
	if (!ready && sleep)
		s->sleeping = 1;
	pthread_mutex_unlock(&s->mtx);
	if (ready)
		return 0;
	if (s->nheap == 0)
		return -1;
	fiber_now(&now);
	ms = (long)(s->heap[0]->when.tv_sec - now.tv_sec) * 1000L +
	    (s->heap[0]->when.tv_nsec - now.tv_nsec + 999999L) / 1000000L;
	if (ms < 0)
		ms = 0;
	return ms > 60000 ? 60000 : (int)ms;
}

int
fiber_sched_run(struct fiber_sched *s)
{
	struct fiber	*f;
	uint64_t	 n;

	pthread_mutex_lock(&s->mtx);
	if (s->signalled) {
		s->signalled = 0;
		(void)read(s->efd, &n, sizeof(n));
	}
	pthread_mutex_unlock(&s->mtx);
	for (;;) {
		fiber_timers(s);
		pthread_mutex_lock(&s->mtx);
		if ((f = s->ready) != NULL) {
			if ((s->ready = f->next) == NULL)
				s->ready_tail = NULL;
			f->queued = f->waiting = 0;
		}
		pthread_mutex_unlock(&s->mtx);
		if (f == NULL)
			break;
		fiber_switch_in(s, f);
	}
	return fiber_next_ms(s, 0);
}

int
fiber_sched_watch(struct fiber_sched *s, int fd, int exclusive,
    void (*fn)(void *), void *arg)
{
	struct epoll_event	 ev;
	int			 i;

	for (i = 0; i < FIBER_WATCHES && s->watch[i].fd != -1; i++)
		continue;
	if (i == FIBER_WATCHES) {
		log_error("msg=\"more than %d watched descriptors\"",
		    FIBER_WATCHES);
		return -1;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | (exclusive ? EPOLLEXCLUSIVE : 0);
	ev.data.ptr = &s->watch[i];
	s->watch[i].tag = FIBER_TAG_WATCH;
	s->watch[i].fn = fn;
	s->watch[i].arg = arg;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		log_error("msg=\"epoll_ctl: %s\"", strerror(errno));
		return -1;
	}
	s->watch[i].fd = fd;
	return 0;
}

void
fiber_sched_unwatch(struct fiber_sched *s, int fd)
{
	int	 i;

	for (i = 0; i < FIBER_WATCHES; i++)
		if (s->watch[i].fd == fd) {
			(void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
			s->watch[i].fd = -1;
		}
}

void
fiber_sched_kick(struct fiber_sched *s)
{
	uint64_t	 one = 1;
	int		 signal = 0;

	pthread_mutex_lock(&s->mtx);
	if (!s->signalled)
		signal = s->signalled = 1;
	pthread_mutex_unlock(&s->mtx);
	if (signal)
		(void)write(s->efd, &one, sizeof(one));
}

void
fiber_sched_block(struct fiber_sched *s)
{
	struct epoll_event	 ev[FIBER_EVENTS];
	struct fiber_watch	*w;
	int			 i, n, ms;

	ms = fiber_next_ms(s, 1);
	if ((n = epoll_wait(s->epfd, ev, FIBER_EVENTS, ms)) == -1) {
		if (errno != EINTR)
			log_error("msg=\"epoll_wait: %s\"", strerror(errno));
		n = 0;
	}
	pthread_mutex_lock(&s->mtx);
	s->sleeping = 0;
	pthread_mutex_unlock(&s->mtx);
	for (i = 0; i < n; i++) {
		w = ev[i].data.ptr;
		switch (w->tag) {
		case FIBER_TAG_WAKE:
			/* fiber_sched_run() drains it. */
			break;
		case FIBER_TAG_WATCH:
			if (w->fd != -1)
				w->fn(w->arg);
			break;
		case FIBER_TAG_FIBER:
			w->revents = ev[i].events;
			w->f->fd_ready = 1;
			fiber_ready(w->f);
			break;
		}
	}
	(void)fiber_sched_run(s);
}

int
fiber_sched_live(const struct fiber_sched *s)
{
	return s->live;
}

/* --- In a fiber -------------------------------------------------------- */

struct fiber *
fiber_self(void)
{
	return fiber_tls != NULL ? fiber_tls->current : NULL;
}

static struct fiber_deadline *
fiber_dl(void)
{
	struct fiber	*f = fiber_self();

	return f != NULL ? &f->dl : &fiber_thread_dl;
}

void
fiber_set_deadline(const struct timespec *when, void (*fn)(void *),
    void *arg)
{
	struct fiber_deadline	*d = fiber_dl();
	struct fiber		*f = fiber_self();

	if (fn == NULL || when == NULL) {
		memset(d, 0, sizeof(*d));
		if (f != NULL)
			fiber_timer_cancel(f->sched, &f->t_deadline);
		return;
	}
	d->when = *when;
	d->fn = fn;
	d->arg = arg;
	d->state = 1;
	/* Without its timer the deadline still runs at the next wake. */
	if (f != NULL)
		(void)fiber_timer_arm(f->sched, &f->t_deadline, when);
}

/* Runs the deadline function if it is due and has not run.  Returns 1
 * when it ran now. */
static int
fiber_deadline_run(void)
{
	struct fiber_deadline	*d = fiber_dl();
	struct timespec		 now;

	if (d->state != 1)
		return 0;
	fiber_now(&now);
	if (fiber_before(&now, &d->when))
		return 0;
	/* Marked first: fn runs once even if it waits itself. */
	d->state = 2;
	d->fn(d->arg);
	return 1;
}

int
fiber_deadline_check(void)
{
	(void)fiber_deadline_run();
	return fiber_dl()->state == 2;
}

void
fiber_yield(void)
{
	struct fiber		*f = fiber_self();
	struct fiber_sched	*s;

	if (f == NULL)
		return;
	s = f->sched;
	/* Queued at the tail at once: it runs again after every fiber that
	 * was runnable before it.  A wake that comes meanwhile stays in
	 * woken for the next fiber_wait(). */
	pthread_mutex_lock(&s->mtx);
	f->waiting = 1;
	(void)fiber_queue_locked(s, f);
	pthread_mutex_unlock(&s->mtx);
	fiber_switch_out(f);
}

void
fiber_wait(void)
{
	struct fiber		*f = fiber_self();
	struct fiber_sched	*s;

	/* A deadline that falls due is a reason to return: the caller
	 * looks at its own condition again. */
	if (f == NULL || fiber_deadline_run())
		return;
	s = f->sched;
	pthread_mutex_lock(&s->mtx);
	if (f->woken)
		f->woken = 0;
	else {
		f->waiting = 1;
		pthread_mutex_unlock(&s->mtx);
		fiber_switch_out(f);
		pthread_mutex_lock(&s->mtx);
		f->woken = 0;
	}
	pthread_mutex_unlock(&s->mtx);
	(void)fiber_deadline_run();
}

void
fiber_sleep(long ms)
{
	struct fiber	*f = fiber_self();
	struct timespec	 when;

	if (ms <= 0)
		return;
	if (f == NULL) {
		when.tv_sec = ms / 1000;
		when.tv_nsec = (ms % 1000) * 1000000L;
		while (nanosleep(&when, &when) == -1 && errno == EINTR)
			continue;
		return;
	}
	fiber_now(&when);
	fiber_add_ms(&when, ms);
	f->slept = 0;
	if (fiber_timer_arm(f->sched, &f->t_sleep, &when) == -1) {
		/* No timer: sleep the thread rather than not at all. */
		when.tv_sec = ms / 1000;
		when.tv_nsec = (ms % 1000) * 1000000L;
		nanosleep(&when, NULL);
		return;
	}
	while (!f->slept)
		fiber_wait();
	fiber_timer_cancel(f->sched, &f->t_sleep);
}

int
fiber_wait_fd(int fd, int events, long timeout_ms)
{
	struct fiber		*f = fiber_self();
	struct epoll_event	 ev;
	struct pollfd		 pfd;
	struct timespec		 when;
	int			 rc;

	if (f == NULL) {
		pfd.fd = fd;
		pfd.events = (short)events;
		pfd.revents = 0;
		rc = poll(&pfd, 1, (int)timeout_ms);
		return rc > 0 ? pfd.revents : rc;
	}
	f->w_fd.tag = FIBER_TAG_FIBER;
	f->w_fd.fd = fd;
	f->w_fd.f = f;
	f->w_fd.revents = 0;
	f->fd_ready = f->slept = 0;
	memset(&ev, 0, sizeof(ev));
	/* poll(2)'s POLLIN, POLLOUT, POLLRDHUP are epoll's numbers too. */
	ev.events = (unsigned int)events | EPOLLONESHOT;
	ev.data.ptr = &f->w_fd;
	if (epoll_ctl(f->sched->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		log_error("msg=\"epoll_ctl: %s\"", strerror(errno));
		return -1;
	}
	fiber_now(&when);
	if (timeout_ms > 0)
		fiber_add_ms(&when, timeout_ms);
	if (timeout_ms >= 0 && fiber_timer_arm(f->sched, &f->t_sleep,
	    &when) == -1)
		f->slept = 1;
	while (!f->fd_ready && !f->slept)
		fiber_wait();
	fiber_timer_cancel(f->sched, &f->t_sleep);
	(void)epoll_ctl(f->sched->epfd, EPOLL_CTL_DEL, fd, NULL);
	return f->fd_ready ? (int)f->w_fd.revents : 0;
}

int
fiber_lock_take(struct fiber_lock *l)
{
	struct fiber	*f = fiber_self();

	if (f == NULL || l->owner == f)
		return 0;
	if (l->owner == NULL) {
		l->owner = f;
		return 1;
	}
	f->lnext = NULL;
	if (l->tail != NULL)
		l->tail->lnext = f;
	else
		l->head = f;
	l->tail = f;
	while (l->owner != f)
		fiber_wait();
	return 1;
}

void
fiber_lock_give(struct fiber_lock *l)
{
	struct fiber	*f = fiber_self(), *next;

	if (f == NULL || l->owner != f)
		return;
	if ((next = l->head) != NULL && (l->head = next->lnext) == NULL)
		l->tail = NULL;
	l->owner = next;
	if (next != NULL)
		fiber_wake(next);
}

/*
 * Unit tests of common/fiber.c: fibers run to their end on the
 * scheduler's thread, each on its own stack; waits give the thread to
 * the others; a wake from another thread, a timer, a descriptor or a
 * deadline resumes a waiting fiber, and a wake that comes before the
 * wait is not lost.  Times are checked loosely (tu_timed) because the
 * machine may be loaded.
 */
#include <sys/socket.h>

#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "fiber.h"
#include "testutil.h"

/* Runs s until no fiber is left, or 10 s passed (a hang fails). */
static void
run_all(struct fiber_sched *s)
{
	long	 t0 = tu_now_ms();

	while (fiber_sched_live(s) > 0) {
		ck_assert_msg(tu_now_ms() - t0 < 10000, "fibers never ended");
		fiber_sched_block(s);
	}
}

struct order {
	int	 seen[16];
	int	 n;
};

struct step {
	struct order	*o;
	int		 id;
	long		 sleep_ms;
};

static void
fib_record(void *arg)
{
	struct step	*st = arg;

	ck_assert_ptr_nonnull(fiber_self());
	if (st->sleep_ms > 0)
		fiber_sleep(st->sleep_ms);
	st->o->seen[st->o->n++] = st->id;
}

START_TEST(test_spawn_runs_in_order)
{
	struct fiber_sched	*s;
	struct order		 o = { { 0 }, 0 };
	struct step		 st[4];
	int			 i;

	ck_assert_ptr_null(fiber_self());
	ck_assert_ptr_nonnull(s = fiber_sched_new(NULL));
	for (i = 0; i < 4; i++) {
		st[i].o = &o;
		st[i].id = i;
		st[i].sleep_ms = 0;
		ck_assert_int_eq(fiber_spawn(s, fib_record, &st[i]), 0);
	}
	ck_assert_int_eq(fiber_sched_live(s), 4);
	run_all(s);
	ck_assert_int_eq(o.n, 4);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(o.seen[i], i);
	ck_assert_ptr_null(fiber_self());
	fiber_sched_free(s);
}
END_TEST

/* Records its id, yields, records its id + 10. */
static void
fib_yield(void *arg)
{
	struct step	*st = arg;

	st->o->seen[st->o->n++] = st->id;
	fiber_yield();
	st->o->seen[st->o->n++] = st->id + 10;
}

/* A yield lets every fiber runnable at that moment run first, in order,
 * and comes back; outside a fiber it does nothing. */
START_TEST(test_yield_lets_the_others_run)
{
	struct fiber_sched	*s;
	struct order		 o = { { 0 }, 0 };
	struct step		 y = { &o, 0, 0 }, st[2] = {
		{ &o, 1, 0 }, { &o, 2, 0 }
	};
	static const int	 want[] = { 0, 1, 2, 10 };
	int			 i;

	fiber_yield();
	ck_assert_ptr_nonnull(s = fiber_sched_new(NULL));
	ck_assert_int_eq(fiber_spawn(s, fib_yield, &y), 0);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(fiber_spawn(s, fib_record, &st[i]), 0);
	run_all(s);
	ck_assert_int_eq(o.n, 4);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(o.seen[i], want[i]);
	fiber_sched_free(s);
}
END_TEST

START_TEST(test_sleep_gives_the_thread_up)
{
	struct fiber_sched	*s;
	struct order		 o = { { 0 }, 0 };
	struct step		 st[3] = {
		{ &o, 0, 150 }, { &o, 1, 50 }, { &o, 2, 0 }
	};
	long			 t0;
	int			 i;

	ck_assert_ptr_nonnull(s = fiber_sched_new(NULL));
	t0 = tu_now_ms();
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(fiber_spawn(s, fib_record, &st[i]), 0);
	run_all(s);
	/* The sleepers slept side by side, not one after the other. */
	TU_ASSERT_MS_LT(tu_now_ms() - t0, 1000);
	ck_assert_int_ge(tu_now_ms() - t0, 150);
	ck_assert_int_eq(o.n, 3);
	ck_assert_int_eq(o.seen[0], 2);
	ck_assert_int_eq(o.seen[1], 1);
	ck_assert_int_eq(o.seen[2], 0);
	fiber_sched_free(s);
}
END_TEST

struct dl_probe {
	int	 runs;
	long	 t0, at;
	int	 flag;		/* what the fiber waits for */
	int	 woken;		/* returns from fiber_wait */
	struct fiber *f;
};

static void
dl_fn(void *arg)
{
	struct dl_probe	*p = arg;

	p->runs++;
	p->at = tu_now_ms();
}

/* Waits for a flag nobody sets before the deadline: the deadline must
 * run inside the wait, at its time. */
static void
fib_deadline(void *arg)
{
	struct dl_probe	*p = arg;
	struct timespec	 when;

	clock_gettime(CLOCK_MONOTONIC, &when);
	when.tv_nsec += 100 * 1000000L;
	if (when.tv_nsec >= 1000000000L) {
		when.tv_sec++;
		when.tv_nsec -= 1000000000L;
	}
	fiber_set_deadline(&when, dl_fn, p);
	while (p->runs == 0)
		fiber_wait();
	ck_assert_int_eq(fiber_deadline_check(), 1);
	fiber_set_deadline(NULL, NULL, NULL);
	ck_assert_int_eq(fiber_deadline_check(), 0);
}

START_TEST(test_deadline_runs_inside_a_wait)
{
	struct fiber_sched	*s;
	struct dl_probe		 p;

	memset(&p, 0, sizeof(p));
	ck_assert_ptr_nonnull(s = fiber_sched_new(NULL));
	p.t0 = tu_now_ms();
	ck_assert_int_eq(fiber_spawn(s, fib_deadline, &p), 0);
	run_all(s);
	ck_assert_int_eq(p.runs, 1);
	ck_assert_int_ge(p.at - p.t0, 95);
	TU_ASSERT_MS_LT(p.at - p.t0, 1000);
	fiber_sched_free(s);
}
END_TEST

/* Two fibers, each with its own deadline: each runs its own. */
START_TEST(test_deadlines_are_per_fiber)
{
	struct fiber_sched	*s;
	struct dl_probe		 p[2];

	memset(p, 0, sizeof(p));
	ck_assert_ptr_nonnull(s = fiber_sched_new(NULL));
	p[0].t0 = p[1].t0 = tu_now_ms();
	ck_assert_int_eq(fiber_spawn(s, fib_deadline, &p[0]), 0);
	ck_assert_int_eq(fiber_spawn(s, fib_deadline, &p[1]), 0);
	run_all(s);
	ck_assert_int_eq(p[0].runs, 1);
	ck_assert_int_eq(p[1].runs, 1);
	fiber_sched_free(s);
}
END_TEST

/* Outside a fiber the deadline is the thread's and runs only when
 * checked. */
START_TEST(test_deadline_outside_a_fiber)
{
	struct dl_probe	 p;
	struct timespec	 when;

	memset(&p, 0, sizeof(p));
	clock_gettime(CLOCK_MONOTONIC, &when);
	when.tv_sec += 60;
	fiber_set_deadline(&when, dl_fn, &p);
	ck_assert_int_eq(fiber_deadline_check(), 0);
	when.tv_sec -= 61;
	fiber_set_deadline(&when, dl_fn, &p);
	ck_assert_int_eq(fiber_deadline_check(), 1);
	ck_assert_int_eq(fiber_deadline_check(), 1);
	ck_assert_int_eq(p.runs, 1);
	fiber_set_deadline(NULL, NULL, NULL);
	ck_assert_int_eq(fiber_deadline_check(), 0);
	/* Neither waits nor fails outside a fiber. */
	fiber_wait();
	fiber_sleep(1);
}
END_TEST

static void
fib_wait_flag(void *arg)
{
	struct dl_probe	*p = arg;

	p->f = fiber_self();
	while (!__atomic_load_n(&p->flag, __ATOMIC_ACQUIRE)) {
		fiber_wait();
		p->woken++;
	}
	p->at = tu_now_ms();
}

static void *
thr_wake(void *arg)
{
	struct dl_probe	*p = arg;

	usleep(50000);
	__atomic_store_n(&p->flag, 1, __ATOMIC_RELEASE);
	fiber_wake(__atomic_load_n(&p->f, __ATOMIC_ACQUIRE));
	return NULL;
}

/* Another thread (the I/O loop's, in the workers) wakes a fiber that
 * waits, and the scheduler's thread gets up for it. */
START_TEST(test_wake_from_another_thread)
{
	struct fiber_sched	*s;
	struct dl_probe		 p;
	pthread_t		 t;

	memset(&p, 0, sizeof(p));
	ck_assert_ptr_nonnull(s = fiber_sched_new(NULL));
	ck_assert_int_eq(fiber_spawn(s, fib_wait_flag, &p), 0);
	ck_assert_int_eq(fiber_sched_run(s), -1);
	ck_assert_ptr_nonnull(p.f);
	p.t0 = tu_now_ms();
	ck_assert_int_eq(pthread_create(&t, NULL, thr_wake, &p), 0);
	run_all(s);
	pthread_join(t, NULL);
	ck_assert_int_ge(p.at - p.t0, 45);
	TU_ASSERT_MS_LT(p.at - p.t0, 1000);
	/* One wake, one return: no spinning. */
	ck_assert_int_le(p.woken, 2);
	fiber_sched_free(s);
}
END_TEST

/* Waits 2 s for its flag, with a deadline at 100 ms. */
static void
fib_deadline_then_flag(void *arg)
{
	struct dl_probe	*p = arg;
	struct timespec	 when;

	p->f = fiber_self();
	clock_gettime(CLOCK_MONOTONIC, &when);
	when.tv_nsec += 100 * 1000000L;
	if (when.tv_nsec >= 1000000000L) {
		when.tv_sec++;
		when.tv_nsec -= 1000000000L;
	}
	fiber_set_deadline(&when, dl_fn, p);
	while (!__atomic_load_n(&p->flag, __ATOMIC_ACQUIRE)) {
		fiber_wait();
		p->woken++;
	}
	fiber_set_deadline(NULL, NULL, NULL);
}

static void *
thr_wake_all(void *arg)
{
	struct dl_probe	*p = arg;
	int		 i;

	usleep(400000);
	for (i = 0; i < 8; i++) {
		__atomic_store_n(&p[i].flag, 1, __ATOMIC_RELEASE);
		fiber_wake(p[i].f);
	}
	return NULL;
}

/* Eight fibers wait on another thread (as requests wait on the I/O
 * loop), each with a deadline: every deadline runs at its time, and a
 * fiber whose deadline ran goes back to waiting instead of spinning
 * (which would keep the others' deadlines from running). */
START_TEST(test_deadlines_while_many_wait)
{
	struct fiber_sched	*s;
	struct dl_probe		 p[8];
	pthread_t		 t;
	long			 t0;
	int			 i;

	memset(p, 0, sizeof(p));
	ck_assert_ptr_nonnull(s = fiber_sched_new(NULL));
	t0 = tu_now_ms();
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(fiber_spawn(s, fib_deadline_then_flag, &p[i]),
		    0);
	(void)fiber_sched_run(s);
	ck_assert_int_eq(pthread_create(&t, NULL, thr_wake_all, p), 0);
	run_all(s);
	pthread_join(t, NULL);
	for (i = 0; i < 8; i++) {
		ck_assert_int_eq(p[i].runs, 1);
		TU_ASSERT_MS_LT(p[i].at - t0, 350);
		ck_assert_int_le(p[i].woken, 3);
	}
	fiber_sched_free(s);
}
END_TEST

static void
fib_wake_self_first(void *arg)
{
	struct dl_probe	*p = arg;

	/* A wake that comes before the wait is kept for it. */
	fiber_wake(fiber_self());
	fiber_wait();
	p->runs++;
}

START_TEST(test_wake_before_wait_is_not_lost)
{
	struct fiber_sched	*s;
	struct dl_probe		 p;

	memset(&p, 0, sizeof(p));
	ck_assert_ptr_nonnull(s = fiber_sched_new(NULL));
	ck_assert_int_eq(fiber_spawn(s, fib_wake_self_first, &p), 0);
	ck_assert_int_eq(fiber_sched_run(s), -1);
	ck_assert_int_eq(fiber_sched_live(s), 0);
	ck_assert_int_eq(p.runs, 1);
	fiber_sched_free(s);
}
END_TEST

struct fd_probe {
	int	 fd;
	long	 timeout_ms;
	int	 result;
};

static void
fib_wait_fd(void *arg)
{
	struct fd_probe	*p = arg;

	p->result = fiber_wait_fd(p->fd, POLLIN, p->timeout_ms);
}

static void *
thr_write(void *arg)
{
	int	*fd = arg;

	usleep(50000);
	ck_assert_int_eq(write(*fd, "x", 1), 1);
	return NULL;
}

START_TEST(test_wait_fd_ready_and_timeout)
{
	struct fiber_sched	*s;
	struct fd_probe		 a, b;
	pthread_t		 t;
	int			 sv[2], sw[2];
	long			 t0;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sw), 0);
	ck_assert_ptr_nonnull(s = fiber_sched_new(NULL));
	a.fd = sv[0];
	a.timeout_ms = 5000;
	b.fd = sw[0];
	b.timeout_ms = 100;
	ck_assert_int_eq(fiber_spawn(s, fib_wait_fd, &a), 0);
	ck_assert_int_eq(fiber_spawn(s, fib_wait_fd, &b), 0);
	t0 = tu_now_ms();
	ck_assert_int_eq(pthread_create(&t, NULL, thr_write, &sv[1]), 0);
	run_all(s);
	pthread_join(t, NULL);
	ck_assert_int_ne(a.result & POLLIN, 0);
	ck_assert_int_eq(b.result, 0);
	TU_ASSERT_MS_LT(tu_now_ms() - t0, 2000);
	fiber_sched_free(s);
	close(sv[0]);
	close(sv[1]);
	close(sw[0]);
	close(sw[1]);
}
END_TEST

/* Uses about n kilobytes of the fiber's stack. */
static int
deep(int n)
{
	volatile char	 frame[1024];

	frame[0] = (char)n;
	frame[sizeof(frame) - 1] = (char)n;
	return n == 0 ? frame[0] : deep(n - 1) + frame[sizeof(frame) - 1];
}

static void
fib_deep(void *arg)
{
	int	*out = arg;

	*out = deep(100);
}

/* Many fibers one after the other, each using 100 KB of its stack: the
 * stacks are reused, and what a fiber leaves on one never shows. */
START_TEST(test_many_fibers_and_deep_stacks)
{
	struct fiber_sched	*s;
	int			 out[64], i;

	ck_assert_ptr_nonnull(s = fiber_sched_new(NULL));
	for (i = 0; i < 64; i++) {
		out[i] = -1;
		ck_assert_int_eq(fiber_spawn(s, fib_deep, &out[i]), 0);
	}
	ck_assert_int_eq(fiber_sched_live(s), 64);
	run_all(s);
	for (i = 0; i < 64; i++)
		ck_assert_int_eq(out[i], 5050);
	for (i = 0; i < 64; i++)
		ck_assert_int_eq(fiber_spawn(s, fib_deep, &out[i]), 0);
	run_all(s);
	fiber_sched_free(s);
}
END_TEST

struct lock_probe {
	struct fiber_lock	*l;
	struct order		*o;
	int			 id;
};

static void
fib_lock(void *arg)
{
	struct lock_probe	*p = arg;

	ck_assert_int_eq(fiber_lock_take(p->l), 1);
	ck_assert_int_eq(fiber_lock_take(p->l), 0);
	p->o->seen[p->o->n++] = p->id;
	/* Held across a wait: the others wait for it. */
	fiber_sleep(20);
	p->o->seen[p->o->n++] = p->id;
	fiber_lock_give(p->l);
	/* Giving what one does not hold does nothing. */
	fiber_lock_give(p->l);
}

/* Three fibers take one lock in turn, in the order they asked, each
 * holding it across a wait; outside a fiber the calls do nothing. */
START_TEST(test_lock_in_turn)
{
	struct fiber_sched	*s;
	struct fiber_lock	 l;
	struct order		 o = { { 0 }, 0 };
	struct lock_probe	 p[3];
	int			 i;

	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(fiber_lock_take(&l), 0);
	fiber_lock_give(&l);
	ck_assert_ptr_nonnull(s = fiber_sched_new(NULL));
	for (i = 0; i < 3; i++) {
		p[i].l = &l;
		p[i].o = &o;
		p[i].id = i;
		ck_assert_int_eq(fiber_spawn(s, fib_lock, &p[i]), 0);
	}
	run_all(s);
	ck_assert_int_eq(o.n, 6);
	for (i = 0; i < 6; i++)
		ck_assert_int_eq(o.seen[i], i / 2);
	ck_assert_ptr_null(l.owner);
	fiber_sched_free(s);
}
END_TEST

struct hooks_probe {
	int	 enter, leave;
};

static void
on_enter(void *arg)
{
	((struct hooks_probe *)arg)->enter++;
}

static void
on_leave(void *arg)
{
	((struct hooks_probe *)arg)->leave++;
}

static void
fib_sleep_twice(void *arg)
{
	(void)arg;
	fiber_sleep(5);
	fiber_sleep(5);
}

/* The hooks see every start, resume and wait (three runs, two waits):
 * not the end, after which the argument may be gone. */
START_TEST(test_hooks_bracket_every_run)
{
	static const struct fiber_hooks	 hooks = { on_enter, on_leave };
	struct fiber_sched		*s;
	struct hooks_probe		 p = { 0, 0 };

	ck_assert_ptr_nonnull(s = fiber_sched_new(&hooks));
	ck_assert_int_eq(fiber_spawn(s, fib_sleep_twice, &p), 0);
	run_all(s);
	ck_assert_int_eq(p.enter, 3);
	ck_assert_int_eq(p.leave, 2);
	fiber_sched_free(s);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("fiber");
	TCase	*tc = tcase_create("fiber");

	tcase_add_test(tc, test_spawn_runs_in_order);
	tcase_add_test(tc, test_yield_lets_the_others_run);
	tcase_add_test(tc, test_sleep_gives_the_thread_up);
	tcase_add_test(tc, test_deadline_runs_inside_a_wait);
	tcase_add_test(tc, test_deadlines_are_per_fiber);
	tcase_add_test(tc, test_deadline_outside_a_fiber);
	tcase_add_test(tc, test_wake_from_another_thread);
	tcase_add_test(tc, test_deadlines_while_many_wait);
	tcase_add_test(tc, test_wake_before_wait_is_not_lost);
	tcase_add_test(tc, test_wait_fd_ready_and_timeout);
	tcase_add_test(tc, test_many_fibers_and_deep_stacks);
	tcase_add_test(tc, test_hooks_bracket_every_run);
	tcase_add_test(tc, test_lock_in_turn);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

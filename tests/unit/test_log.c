/*
 * Unit tests of common/log.c: the line's fixed fields, in the process
 * that writes it, also after a fork (the pid is read once per process);
 * threads logging at once each write whole lines of their own (the line
 * is built in a buffer of the thread's).
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "log.h"

/* Runs fn with standard error sent to a temporary file; returns what
 * was written (free it). */
static char *
captured(void (*fn)(void))
{
	FILE	*f;
	char	*out;
	long	 n;
	int	 saved;

	ck_assert_ptr_nonnull(f = tmpfile());
	fflush(stderr);
	ck_assert_int_ne(saved = dup(STDERR_FILENO), -1);
	ck_assert_int_ne(dup2(fileno(f), STDERR_FILENO), -1);
	fn();
	fflush(stderr);
	ck_assert_int_ne(dup2(saved, STDERR_FILENO), -1);
	close(saved);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	ck_assert_int_ge(n = ftell(f), 0);
	rewind(f);
	ck_assert_ptr_nonnull(out = calloc(1, (size_t)n + 1));
	ck_assert_uint_eq(fread(out, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return out;
}

static void
parent_then_child(void)
{
	pid_t	 pid;
	int	 status;

	log_event(LOGL_INFO, "test.parent", "n=1");
	if ((pid = fork()) == 0) {
		log_event(LOGL_INFO, "test.child", "n=2");
		fflush(stderr);
		_exit(0);
	}
	ck_assert_int_ne(pid, -1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The child's pid, for the test to compare. */
	log_event(LOGL_INFO, "test.forked", "child=%ld", (long)pid);
}

START_TEST(pid_is_the_writers_after_fork)
{
	char	*out, want[64], child[64], *p;
	long	 c;

	log_init("logtest");
	out = captured(parent_then_child);
	ck_assert_ptr_nonnull(p = strstr(out, "event=test.forked child="));
	c = strtol(p + strlen("event=test.forked child="), NULL, 10);
	snprintf(want, sizeof(want), "prog=logtest pid=%ld level=info "
	    "event=test.parent", (long)getpid());
	snprintf(child, sizeof(child), "prog=logtest pid=%ld level=info "
	    "event=test.child", c);
	ck_assert_msg(strstr(out, want) != NULL, "%s", out);
	ck_assert_msg(strstr(out, child) != NULL, "%s", out);
	ck_assert_int_ne(c, (long)getpid());
	free(out);
}
END_TEST

#define LOG_THREADS	4
#define LOG_LINES	2000
#define LOG_PAD		200

/* Logs LOG_LINES lines whose x is LOG_PAD copies of the thread's digit. */
static void *
log_thread(void *arg)
{
	char	 pad[LOG_PAD + 1];
	int	 i, t = (int)(long)arg;

	memset(pad, '0' + t, LOG_PAD);
	pad[LOG_PAD] = '\0';
	for (i = 0; i < LOG_LINES; i++)
		log_event(LOGL_INFO, "test.thread", "t=%d x=%s", t, pad);
	return NULL;
}

static void
threads_at_once(void)
{
	pthread_t	 th[LOG_THREADS];
	long		 t;

	for (t = 0; t < LOG_THREADS; t++)
		ck_assert_int_eq(pthread_create(&th[t], NULL, log_thread,
		    (void *)t), 0);
	for (t = 0; t < LOG_THREADS; t++)
		ck_assert_int_eq(pthread_join(th[t], NULL), 0);
}

START_TEST(threads_write_whole_lines)
{
	char	*out, *line, *save, *p;
	int	 seen[LOG_THREADS] = { 0 }, t, i;

	log_init("logtest");
	out = captured(threads_at_once);
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		ck_assert_msg(strncmp(line, "time=", 5) == 0, "%s", line);
		ck_assert_ptr_nonnull(p = strstr(line,
		    " level=info event=test.thread t="));
		p += strlen(" level=info event=test.thread t=");
		t = *p - '0';
		ck_assert_msg(t >= 0 && t < LOG_THREADS && strncmp(p + 1,
		    " x=", 3) == 0, "%s", line);
		/* One assertion per line: each is a write to Check's pipe. */
		for (p += 4, i = 0; i < LOG_PAD && p[i] == '0' + t; i++)
			;
		ck_assert_msg(i == LOG_PAD && p[LOG_PAD] == '\0', "%s", line);
		seen[t]++;
	}
	for (t = 0; t < LOG_THREADS; t++)
		ck_assert_int_eq(seen[t], LOG_LINES);
	free(out);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("log");
	TCase	*tc = tcase_create("log");

	tcase_add_test(tc, pid_is_the_writers_after_fork);
	tcase_add_test(tc, threads_write_whole_lines);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

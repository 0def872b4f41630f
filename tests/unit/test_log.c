/*
 * Unit tests of common/log.c: the line's fixed fields, in the process
 * that writes it, also after a fork (the pid is read once per process).
 */
#include <sys/types.h>
#include <sys/wait.h>

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

static Suite *
suite(void)
{
	Suite	*s = suite_create("log");
	TCase	*tc = tcase_create("log");

	tcase_add_test(tc, pid_is_the_writers_after_fork);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

/*
 * check_main.h: the main() every unit test program shares.
 *
 * A test file defines "static Suite *suite(void)" and includes this file
 * last.  The runner prints Check's summary line ("N%: Checks: N,
 * Failures: N, Errors: N"), which scripts/test adds up, and exits non-zero
 * when anything failed.
 */
#ifndef FORCELINK_CHECK_MAIN_H
#define FORCELINK_CHECK_MAIN_H

#include <stdlib.h>

#include <check.h>

static Suite	*suite(void);

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif

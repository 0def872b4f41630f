/*
 * Unit tests of common/req.c that need no FastCGI connection: the strict
 * CONTENT_LENGTH parser, the request age from nginx's REQUEST_START and
 * the status texts.  Reading bodies through
 * nginx is covered by tests/e2e.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "req.h"

static const struct {
	const char	*in;
	enum req_body	 want;
	size_t		 len;
} cl_cases[] = {
	{ "0", REQ_BODY_OK, 0 },
	{ "65536", REQ_BODY_OK, 65536 },
	{ "65537", REQ_BODY_TOO_LARGE, 0 },
	{ "99999999999999999999999999", REQ_BODY_TOO_LARGE, 0 },
	{ NULL, REQ_BODY_NO_LENGTH, 0 },
	{ "", REQ_BODY_NO_LENGTH, 0 },
	{ "-1", REQ_BODY_BAD_LENGTH, 0 },
	{ "+5", REQ_BODY_BAD_LENGTH, 0 },
	{ " 5", REQ_BODY_BAD_LENGTH, 0 },
	{ "5 ", REQ_BODY_BAD_LENGTH, 0 },
	{ "0x10", REQ_BODY_BAD_LENGTH, 0 },
	{ "12a", REQ_BODY_BAD_LENGTH, 0 },
	{ "1e3", REQ_BODY_BAD_LENGTH, 0 },
	{ "99999999999999999999x", REQ_BODY_BAD_LENGTH, 0 },
};

START_TEST(content_length_table)
{
	size_t		 len = 12345;
	enum req_body	 rc;

	rc = req_content_length(cl_cases[_i].in, 65536, &len);
	ck_assert_msg(rc == cl_cases[_i].want, "case %d (%s): got %d",
	    _i, cl_cases[_i].in ? cl_cases[_i].in : "NULL", rc);
	if (rc == REQ_BODY_OK)
		ck_assert_uint_eq(len, cl_cases[_i].len);
}
END_TEST

/* now is 1700000000.500; the age in milliseconds, -1 when not believed. */
static const struct {
	const char	*in;
	long		 want;
} age_cases[] = {
	{ "1700000000.500", 0 },
	{ "1700000000.000", 500 },
	{ "1699999997.750", 2750 },
	{ "1699999940.500", REQ_AGE_MAX_MS },
	{ "1700000001.000", 0 },		/* a little ahead: 0 */
	{ "1700000001.501", -1 },		/* too far ahead */
	{ "1699999940.499", -1 },		/* older than the cap */
	{ "0.000", -1 },
	{ NULL, -1 },
	{ "", -1 },
	{ "1700000000", -1 },
	{ "1700000000.", -1 },
	{ "1700000000.5", -1 },
	{ "1700000000.50", -1 },
	{ "1700000000.5000", -1 },
	{ "1700000000.50x", -1 },
	{ ".500", -1 },
	{ "-1700000000.500", -1 },
	{ " 1700000000.500", -1 },
	{ "1700000000.500 ", -1 },
	{ "99999999999999999999.500", -1 },
	{ "1700000000,500", -1 },
};

START_TEST(age_table)
{
	const struct timespec	 now = { 1700000000, 500000000L };
	long			 got;

	got = req_age_ms(age_cases[_i].in, &now);
	ck_assert_msg(got == age_cases[_i].want, "case %d (%s): got %ld",
	    _i, age_cases[_i].in ? age_cases[_i].in : "NULL", got);
}
END_TEST

START_TEST(body_status_codes)
{
	ck_assert_int_eq(req_body_status(REQ_BODY_NO_LENGTH), 411);
	ck_assert_int_eq(req_body_status(REQ_BODY_BAD_LENGTH), 400);
	ck_assert_int_eq(req_body_status(REQ_BODY_TOO_LARGE), 413);
	ck_assert_int_eq(req_body_status(REQ_BODY_SHORT), 400);
	ck_assert_str_eq(req_status_line(413), "413 Payload Too Large");
	ck_assert_str_eq(req_status_line(302), "302 Found");
	ck_assert_str_eq(req_status_line(299), "500 Internal Server Error");
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("req");
	TCase	*tc = tcase_create("req");

	tcase_add_loop_test(tc, content_length_table, 0,
	    sizeof(cl_cases) / sizeof(cl_cases[0]));
	tcase_add_loop_test(tc, age_table, 0,
	    sizeof(age_cases) / sizeof(age_cases[0]));
	tcase_add_test(tc, body_status_codes);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

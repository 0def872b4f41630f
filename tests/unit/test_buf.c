/*
 * Unit tests of common/buf.c: the ceiling is enforced exactly, failures
 * leave the buffer unchanged, and the contents stay NUL-terminated.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "buf.h"

START_TEST(append_within_ceiling)
{
	struct buf	 b;

	buf_init(&b, 8);
	ck_assert_str_eq(buf_cstr(&b), "");
	ck_assert_int_eq(buf_puts(&b, "abc"), 0);
	ck_assert_int_eq(buf_printf(&b, "%d%s", 12, "xyz"), 0);
	ck_assert_str_eq(buf_cstr(&b), "abc12xyz");
	ck_assert_uint_eq(b.len, 8);
	buf_free(&b);
}
END_TEST

START_TEST(fail_past_ceiling_unchanged)
{
	struct buf	 b;

	buf_init(&b, 8);
	ck_assert_int_eq(buf_puts(&b, "abcdef"), 0);
	ck_assert_int_eq(buf_puts(&b, "ghi"), -1);
	ck_assert_int_eq(buf_printf(&b, "%s", "ghi"), -1);
	ck_assert_str_eq(buf_cstr(&b), "abcdef");
	ck_assert_int_eq(buf_putc(&b, 'g'), 0);
	ck_assert_int_eq(buf_putc(&b, 'h'), 0);
	ck_assert_int_eq(buf_putc(&b, 'i'), -1);
	ck_assert_str_eq(buf_cstr(&b), "abcdefgh");
	buf_free(&b);
}
END_TEST

START_TEST(huge_length_does_not_wrap)
{
	struct buf	 b;

	buf_init(&b, 16);
	ck_assert_int_eq(buf_puts(&b, "x"), 0);
	ck_assert_int_eq(buf_append(&b, "y", (size_t)-1), -1);
	ck_assert_uint_eq(b.len, 1);
	buf_free(&b);
}
END_TEST

START_TEST(binary_and_detach)
{
	struct buf	 b;
	char		*p;

	buf_init(&b, 1024);
	ck_assert_int_eq(buf_append(&b, "a\0b", 3), 0);
	ck_assert_uint_eq(b.len, 3);
	ck_assert_int_eq(memcmp(b.data, "a\0b", 4), 0);
	p = buf_detach(&b);
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	free(p);
	p = buf_detach(&b);
	ck_assert_str_eq(p, "");
	free(p);
}
END_TEST

/* A reader writing into the buffer itself: room within the ceiling
 * only, counted only as far as it was given, always terminated. */
START_TEST(room_then_grew)
{
	struct buf	 b;
	char		*p;

	buf_init(&b, 8);
	ck_assert_int_eq(buf_grew(&b, 0), 0);
	ck_assert_int_eq(buf_grew(&b, 1), -1);
	ck_assert_uint_eq(b.len, 0);
	p = buf_room(&b, 5);
	ck_assert_ptr_nonnull(p);
	memcpy(p, "abc", 3);
	ck_assert_int_eq(buf_grew(&b, 3), 0);
	ck_assert_str_eq(buf_cstr(&b), "abc");
	/* Past the ceiling: no room, nothing changes. */
	ck_assert_ptr_null(buf_room(&b, 6));
	ck_assert_ptr_null(buf_room(&b, (size_t)-1));
	ck_assert_str_eq(buf_cstr(&b), "abc");
	p = buf_room(&b, 5);
	ck_assert_ptr_nonnull(p);
	memcpy(p, "defgh", 5);
	/* More than the room there is: refused, nothing counted. */
	ck_assert_int_eq(buf_grew(&b, b.cap - b.len), -1);
	ck_assert_uint_eq(b.len, 3);
	ck_assert_int_eq(buf_grew(&b, 5), 0);
	ck_assert_str_eq(buf_cstr(&b), "abcdefgh");
	ck_assert_uint_eq(b.len, 8);
	ck_assert_ptr_null(buf_room(&b, 1));
	ck_assert_ptr_nonnull(buf_room(&b, 0));
	buf_free(&b);
}
END_TEST

START_TEST(reset_keeps_ceiling)
{
	struct buf	 b;
	int		 i;

	buf_init(&b, 4096);
	for (i = 0; i < 1024; i++)
		ck_assert_int_eq(buf_puts(&b, "abcd"), 0);
	ck_assert_int_eq(buf_puts(&b, "e"), -1);
	buf_reset(&b);
	ck_assert_str_eq(buf_cstr(&b), "");
	ck_assert_int_eq(buf_puts(&b, "e"), 0);
	buf_free_secret(&b);
	ck_assert_ptr_null(b.data);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("buf");
	TCase	*tc = tcase_create("buf");

	tcase_add_test(tc, append_within_ceiling);
	tcase_add_test(tc, fail_past_ceiling_unchanged);
	tcase_add_test(tc, huge_length_does_not_wrap);
	tcase_add_test(tc, binary_and_detach);
	tcase_add_test(tc, reset_keeps_ceiling);
	tcase_add_test(tc, room_then_grew);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

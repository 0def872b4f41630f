/*
 * test_keyring: common/keyring.c, the keys a program holds.
 *
 * The text format (white space, bounds, duplicates, malformed keys, and
 * error lines that never quote a key), lookup by key id, the reload of a
 * key file that changed (renamed over, edited, broken, removed), threads
 * that use snapshots while another thread keeps swapping them, and that
 * key material is wiped: on a failed parse, and in a snapshot's memory
 * before it is freed (this program is linked with --wrap=free, so every
 * free() of our objects passes through __wrap_free below).
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "crypto.h"
#include "keyring.h"
#include "testutil.h"

#define NKEYS	(KEYRING_MAX + 1)

static struct crypto_key	 k[NKEYS];
static char			*b64[NKEYS];
static char			 dir[PATH_MAX];
static char			 path[PATH_MAX + 8];

/* --- free() watch: a snapshot must be wiped before it is freed -------- */

void	 __real_free(void *);
void	 __wrap_free(void *);

static void		*watched;	/* the allocation to check */
static unsigned char	 watched_key[CRYPTO_KEYLEN];
static int		 watched_freed, watched_wiped;

void
__wrap_free(void *p)
{
	size_t	 n;

	if (p != NULL && p == watched) {
		n = malloc_usable_size(p);
		watched_freed = 1;
		watched_wiped = memmem(p, n, watched_key, CRYPTO_KEYLEN) ==
		    NULL;
		watched = NULL;
	}
	__real_free(p);
}

static void
setup(void)
{
	const char	*tmp;
	size_t		 i;

	ck_assert_int_eq(crypto_init(), 0);
	for (i = 0; i < NKEYS; i++) {
		tu_key_random(&k[i]);
		b64[i] = crypto_base64(k[i].key, CRYPTO_KEYLEN);
		ck_assert_ptr_nonnull(b64[i]);
	}
	tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/test_keyring.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/key", dir);
}

static void
teardown(void)
{
	size_t	 i;

	for (i = 0; i < NKEYS; i++)
		crypto_free_secret(b64[i]);
	unlink(path);
	rmdir(dir);
}

/* Replaces the key file the way rotate-key does: a new file renamed over
 * the old one. */
static void
write_keyfile(const char *text)
{
	char	 tmp[PATH_MAX + 16];
	FILE	*fp;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	fp = fopen(tmp, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(rename(tmp, path), 0);
}

/* "K0\nK1\n..." for the keys at the indexes given, -1 ending the list. */
static char *
ring_text(int first, ...)
{
	static char	 text[NKEYS * 64];
	va_list		 ap;
	int		 i;

	text[0] = '\0';
	va_start(ap, first);
	for (i = first; i >= 0; i = va_arg(ap, int)) {
		strcat(text, b64[i]);
		strcat(text, "\n");
	}
	va_end(ap);
	return text;
}

/* Whether n bytes at p are all zero. */
static int
all_zero(const void *p, size_t n)
{
	const unsigned char	*c = p;

	while (n-- > 0)
		if (*c++ != 0)
			return 0;
	return 1;
}

/* --- Parsing ------------------------------------------------------------ */

START_TEST(test_parse_one)
{
	struct crypto_key	 out[KEYRING_MAX];
	char			 err[256];
	size_t			 n;

	ck_assert_int_eq(keyring_parse(b64[0], out, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_mem_eq(out[0].key, k[0].key, CRYPTO_KEYLEN);
	ck_assert_str_eq(out[0].id, k[0].id);
}
END_TEST

/* Blank lines, CRLF, tabs, spaces around and between: the order stays,
 * the first is the current key. */
START_TEST(test_parse_white_space)
{
	struct crypto_key	 out[KEYRING_MAX];
	char			 text[512], err[256];
	size_t			 n;

	snprintf(text, sizeof(text), "\n  %s \r\n\n\t%s\r\n   \n%s %s",
	    b64[2], b64[0], b64[1], b64[3]);
	ck_assert_int_eq(keyring_parse(text, out, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(out[0].id, k[2].id);
	ck_assert_str_eq(out[1].id, k[0].id);
	ck_assert_str_eq(out[2].id, k[1].id);
	ck_assert_str_eq(out[3].id, k[3].id);
	ck_assert_mem_eq(out[3].key, k[3].key, CRYPTO_KEYLEN);
}
END_TEST

START_TEST(test_parse_bounds)
{
	struct crypto_key	 out[KEYRING_MAX];
	char			 text[NKEYS * 64] = "", err[256];
	size_t			 n, i;

	for (i = 0; i < KEYRING_MAX; i++) {
		strcat(text, b64[i]);
		strcat(text, "\n");
	}
	ck_assert_int_eq(keyring_parse(text, out, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, KEYRING_MAX);
	ck_assert_str_eq(out[KEYRING_MAX - 1].id, k[KEYRING_MAX - 1].id);
	/* One more is refused, and what was parsed is wiped. */
	strcat(text, b64[KEYRING_MAX]);
	ck_assert_int_eq(keyring_parse(text, out, &n, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "more than 8 keys");
	ck_assert_uint_eq(n, 0);
	ck_assert(all_zero(out, sizeof(out)));
}
END_TEST

START_TEST(test_parse_duplicate)
{
	struct crypto_key	 out[KEYRING_MAX];
	char			 err[256], want[128];
	size_t			 n;

	ck_assert_int_eq(keyring_parse(ring_text(0, 1, 0, -1), out, &n, err,
	    sizeof(err)), -1);
	snprintf(want, sizeof(want), "key 3 (line 3) is the same key as key 1 "
	    "(key id %s)", k[0].id);
	ck_assert_str_eq(err, want);
	ck_assert(all_zero(out, sizeof(out)));
}
END_TEST

/* Each case is malformed; the error names the key and line, never quotes
 * the text, and leaves nothing in out. */
static const struct {
	const char	*prefix;	/* before the bad word: "" or key 0 */
	const char	*bad;
	const char	*err;
} bad_cases[] = {
	{ "", "", "no key (expected the base64 of 32 random bytes)" },
	{ "", " \n\t\r\n ", "no key (expected the base64 of 32 random "
	    "bytes)" },
	{ "", "c2hvcnQ=", "key 1 (line 1) is not the base64 of 32 bytes" },
	{ "K", "not-base64-at-all!!", "key 2 (line 2) is not the base64 of 32 "
	    "bytes" },
	/* 33 bytes. */
	{ "K", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g",
	    "key 2 (line 2) is not the base64 of 32 bytes" },
	/* A key and a stray character glued to it. */
	{ "K", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=x",
	    "key 2 (line 2) is not the base64 of 32 bytes" },
	{ "K", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=AAECAwQFBgcICQoLDA0"
	    "ODxAREhMUFRYXGBkaGxwdHh8=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH"
	    "h8=", "key 2 (line 2) is not the base64 of 32 bytes" },
};

START_TEST(test_parse_bad)
{
	struct crypto_key	 out[KEYRING_MAX];
	char			 text[512], err[256];
	size_t			 n = 99;

	snprintf(text, sizeof(text), "%s%s%s",
	    *bad_cases[_i].prefix != '\0' ? b64[0] : "",
	    *bad_cases[_i].prefix != '\0' ? "\n" : "", bad_cases[_i].bad);
	memset(out, 0xaa, sizeof(out));
	ck_assert_int_eq(keyring_parse(text, out, &n, err, sizeof(err)), -1);
	ck_assert_str_eq(err, bad_cases[_i].err);
	ck_assert_uint_eq(n, 0);
	ck_assert(all_zero(out, sizeof(out)));
	ck_assert_ptr_null(strstr(err, b64[0]));
}
END_TEST

START_TEST(test_format_roundtrip)
{
	struct crypto_key	 in[3], out[KEYRING_MAX];
	char			*text, err[256];
	size_t			 n;

	in[0] = k[4];
	in[1] = k[1];
	in[2] = k[7];
	text = keyring_format(in, 3);
	ck_assert_ptr_nonnull(text);
	ck_assert_str_eq(text, ring_text(4, 1, 7, -1));
	ck_assert_int_eq(keyring_parse(text, out, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_mem_eq(out, in, sizeof(in));
	crypto_free_secret(text);
	ck_assert_ptr_null(keyring_format(in, 0));
	ck_assert_ptr_null(keyring_format(k, KEYRING_MAX + 1));
}
END_TEST

/* --- Lookup ------------------------------------------------------------- */

START_TEST(test_lookup)
{
	struct keyring		*kr;
	struct keyring_snap	*s = NULL;
	struct crypto_key	 two[2] = { k[5], k[2] };

	kr = keyring_from_keys(two, 2);
	ck_assert_ptr_nonnull(kr);
	ck_assert_ptr_null(keyring_path(kr));
	keyring_update(kr, &s);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(keyring_count(s), 2);
	ck_assert_str_eq(keyring_current(s)->id, k[5].id);
	ck_assert_mem_eq(keyring_find(s, k[2].id)->key, k[2].key,
	    CRYPTO_KEYLEN);
	ck_assert_ptr_eq(keyring_find(s, k[5].id), keyring_current(s));
	ck_assert_ptr_null(keyring_find(s, k[3].id));
	ck_assert_ptr_null(keyring_find(s, ""));
	ck_assert_ptr_null(keyring_find(s, NULL));
	ck_assert_ptr_eq(keyring_key(s, 1), keyring_find(s, k[2].id));
	ck_assert_ptr_null(keyring_key(s, 2));
	/* A keyring given as text never reloads. */
	ck_assert_int_eq(keyring_reload(kr), 0);
	keyring_release(s);
	keyring_free(kr);
	ck_assert_ptr_null(keyring_from_keys(k, 0));
	ck_assert_ptr_null(keyring_from_keys(k, KEYRING_MAX + 1));
}
END_TEST

START_TEST(test_from_text)
{
	struct keyring		*kr;
	struct keyring_snap	*s = NULL;
	char			 err[256];

	kr = keyring_from_text(ring_text(3, 6, -1), err, sizeof(err));
	ck_assert_ptr_nonnull(kr);
	keyring_update(kr, &s);
	ck_assert_uint_eq(keyring_count(s), 2);
	ck_assert_str_eq(keyring_current(s)->id, k[3].id);
	keyring_release(s);
	keyring_free(kr);
	ck_assert_ptr_null(keyring_from_text("c2hvcnQ=", err, sizeof(err)));
	ck_assert_str_eq(err, "key 1 (line 1) is not the base64 of 32 bytes");
}
END_TEST

/* --- Reload ------------------------------------------------------------- */

START_TEST(test_reload_on_change)
{
	struct keyring		*kr;
	struct keyring_snap	*s = NULL, *held = NULL;
	char			 err[256];

	write_keyfile(ring_text(0, -1));
	kr = keyring_from_file(path, err, sizeof(err));
	ck_assert_ptr_nonnull(kr);
	ck_assert_str_eq(keyring_path(kr), path);
	keyring_update(kr, &s);
	keyring_update(kr, &held);
	ck_assert_ptr_eq(s, held);
	ck_assert_int_eq(keyring_reload(kr), 0);	/* unchanged */

	/* A rotation's first rewrite: the new key first. */
	write_keyfile(ring_text(1, 0, -1));
	ck_assert_int_eq(keyring_reload(kr), 1);
	keyring_update(kr, &s);
	ck_assert_ptr_ne(s, held);
	ck_assert_uint_eq(keyring_count(s), 2);
	ck_assert_str_eq(keyring_current(s)->id, k[1].id);
	ck_assert_ptr_nonnull(keyring_find(s, k[0].id));
	/* A thread that has not updated yet still has its keys, whole. */
	ck_assert_uint_eq(keyring_count(held), 1);
	ck_assert_mem_eq(keyring_current(held)->key, k[0].key, CRYPTO_KEYLEN);
	keyring_update(kr, &held);
	ck_assert_ptr_eq(s, held);

	/* Rewritten with the same keys: nothing changes. */
	write_keyfile(ring_text(1, 0, -1));
	ck_assert_int_eq(keyring_reload(kr), 0);
	keyring_update(kr, &s);
	ck_assert_ptr_eq(s, held);

	/* The rotation's last rewrite: the new key alone. */
	write_keyfile(ring_text(1, -1));
	ck_assert_int_eq(keyring_reload(kr), 1);
	keyring_update(kr, &s);
	ck_assert_uint_eq(keyring_count(s), 1);
	ck_assert_ptr_null(keyring_find(s, k[0].id));
	keyring_release(s);
	keyring_release(held);
	keyring_free(kr);
}
END_TEST

/* Without a forced reload, keyring_update() notices within a second or
 * two (it looks at most once a second). */
START_TEST(test_update_follows_file)
{
	struct keyring		*kr;
	struct keyring_snap	*s = NULL;
	char			 err[256];
	long			 t0;

	write_keyfile(ring_text(0, -1));
	kr = keyring_from_file(path, err, sizeof(err));
	ck_assert_ptr_nonnull(kr);
	keyring_update(kr, &s);
	write_keyfile(ring_text(2, 0, -1));
	t0 = tu_now_ms();
	while (strcmp(keyring_current(s)->id, k[2].id) != 0 &&
	    tu_now_ms() - t0 < 3000) {
		usleep(20000);
		keyring_update(kr, &s);
	}
	ck_assert_str_eq(keyring_current(s)->id, k[2].id);
	TU_ASSERT_MS_LE(tu_now_ms() - t0, 2100);
	keyring_release(s);
	keyring_free(kr);
}
END_TEST

/* An edit in place (same inode) is noticed too. */
START_TEST(test_reload_edit_in_place)
{
	struct keyring		*kr;
	struct keyring_snap	*s = NULL;
	char			 err[256];
	FILE			*fp;

	write_keyfile(ring_text(0, -1));
	kr = keyring_from_file(path, err, sizeof(err));
	ck_assert_ptr_nonnull(kr);
	fp = fopen(path, "w");
	fputs(ring_text(3, 0, -1), fp);
	fclose(fp);
	ck_assert_int_eq(keyring_reload(kr), 1);
	keyring_update(kr, &s);
	ck_assert_str_eq(keyring_current(s)->id, k[3].id);
	keyring_release(s);
	keyring_free(kr);
}
END_TEST

/* A broken or missing file is reported and the keys held stay in use;
 * once the file is good again it is loaded. */
START_TEST(test_reload_bad_file_keeps_keys)
{
	struct keyring		*kr;
	struct keyring_snap	*s = NULL, *before;
	char			 err[256];

	write_keyfile(ring_text(0, -1));
	kr = keyring_from_file(path, err, sizeof(err));
	ck_assert_ptr_nonnull(kr);
	keyring_update(kr, &s);
	before = s;
	write_keyfile("half a key\n");
	ck_assert_int_eq(keyring_reload(kr), -1);
	/* Logged once per version of the file, not at every look. */
	ck_assert_int_eq(keyring_reload(kr), 0);
	keyring_update(kr, &s);
	ck_assert_ptr_eq(s, before);
	ck_assert_str_eq(keyring_current(s)->id, k[0].id);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(keyring_reload(kr), -1);
	keyring_update(kr, &s);
	ck_assert_str_eq(keyring_current(s)->id, k[0].id);
	write_keyfile(ring_text(4, 0, -1));
	ck_assert_int_eq(keyring_reload(kr), 1);
	keyring_update(kr, &s);
	ck_assert_str_eq(keyring_current(s)->id, k[4].id);
	keyring_release(s);
	keyring_free(kr);
}
END_TEST

START_TEST(test_from_file_errors)
{
	char	 err[512], big[8192];

	ck_assert_ptr_null(keyring_from_file(path, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "cannot read"));
	write_keyfile("");
	ck_assert_ptr_null(keyring_from_file(path, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "no key"));
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, b64[0], strlen(b64[0]));
	write_keyfile(big);
	ck_assert_ptr_null(keyring_from_file(path, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "too large"));
	ck_assert_ptr_null(strstr(err, b64[0]));
}
END_TEST

/* --- Threads ------------------------------------------------------------- */

struct worker {
	struct keyring	*kr;
	int		 bad;
	long		 swaps;
};

static volatile int	 stop_workers;

/* Uses snapshots the way store.c does while the main thread keeps
 * rewriting the file: every snapshot must be whole and consistent. */
static void *
worker(void *arg)
{
	struct worker		*w = arg;
	struct keyring_snap	*s = NULL, *last = NULL;
	const struct crypto_key	*cur, *other;

	while (!stop_workers) {
		keyring_update(w->kr, &s);
		if (s != last)
			w->swaps++;
		last = s;
		cur = keyring_current(s);
		other = keyring_key(s, 1);
		if (keyring_count(s) != 2 || other == NULL ||
		    keyring_find(s, cur->id) != cur ||
		    keyring_find(s, other->id) != other)
			w->bad++;
		else if (strcmp(cur->id, k[0].id) == 0)
			w->bad += memcmp(cur->key, k[0].key,
			    CRYPTO_KEYLEN) != 0 || memcmp(other->key,
			    k[1].key, CRYPTO_KEYLEN) != 0;
		else
			w->bad += strcmp(cur->id, k[1].id) != 0 ||
			    memcmp(cur->key, k[1].key, CRYPTO_KEYLEN) != 0 ||
			    memcmp(other->key, k[0].key, CRYPTO_KEYLEN) != 0;
		/* A pause between looks: under valgrind, which runs one
		 * thread at a time, four loops that never sleep starved the
		 * main thread's rewrites for minutes.  Natively each worker
		 * still looks hundreds of times a round. */
		usleep(50);
	}
	keyring_release(s);
	return NULL;
}

START_TEST(test_threads_swap)
{
	struct worker		 w[4];
	pthread_t		 t[4];
	struct keyring		*kr;
	struct keyring_snap	*mine = NULL;
	char			 err[256];
	int			 i, round;
	long			 swaps = 0;

	write_keyfile(ring_text(0, 1, -1));
	kr = keyring_from_file(path, err, sizeof(err));
	ck_assert_ptr_nonnull(kr);
	stop_workers = 0;
	for (i = 0; i < 4; i++) {
		w[i].kr = kr;
		w[i].bad = 0;
		w[i].swaps = 0;
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker, &w[i]),
		    0);
	}
	for (round = 0; round < 200; round++) {
		write_keyfile(round % 2 ? ring_text(0, 1, -1) :
		    ring_text(1, 0, -1));
		/* 0 when a worker's once-a-second look got there first. */
		ck_assert_int_ge(keyring_reload(kr), 0);
		keyring_update(kr, &mine);
		ck_assert_str_eq(keyring_current(mine)->id,
		    k[round % 2 ? 0 : 1].id);
		usleep(1000);
	}
	keyring_release(mine);
	stop_workers = 1;
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(w[i].bad, 0);
		swaps += w[i].swaps;
	}
	/* The workers did see the keyring change under them. */
	ck_assert_int_ge(swaps, 10);
	keyring_free(kr);
}
END_TEST

/* --- Wiping -------------------------------------------------------------- */

/* The last release of a snapshot wipes its keys before freeing it, and
 * not before: the keyring's own reference keeps it alive. */
START_TEST(test_release_wipes)
{
	struct keyring		*kr;
	struct keyring_snap	*s = NULL;

	kr = keyring_from_keys(&k[6], 1);
	ck_assert_ptr_nonnull(kr);
	keyring_update(kr, &s);
	watched = s;
	memcpy(watched_key, k[6].key, CRYPTO_KEYLEN);
	watched_freed = watched_wiped = 0;
	keyring_release(s);
	ck_assert_int_eq(watched_freed, 0);
	keyring_free(kr);
	ck_assert_int_eq(watched_freed, 1);
	ck_assert_int_eq(watched_wiped, 1);
}
END_TEST

/* The same when a reload replaces the snapshot a thread still holds: it
 * is wiped when that thread lets go of it. */
START_TEST(test_swap_wipes_old)
{
	struct keyring		*kr;
	struct keyring_snap	*s = NULL;
	char			 err[256];

	write_keyfile(ring_text(7, -1));
	kr = keyring_from_file(path, err, sizeof(err));
	ck_assert_ptr_nonnull(kr);
	keyring_update(kr, &s);
	watched = s;
	memcpy(watched_key, k[7].key, CRYPTO_KEYLEN);
	watched_freed = watched_wiped = 0;
	write_keyfile(ring_text(2, -1));
	ck_assert_int_eq(keyring_reload(kr), 1);
	ck_assert_int_eq(watched_freed, 0);
	ck_assert_mem_eq(keyring_current(s)->key, k[7].key, CRYPTO_KEYLEN);
	keyring_update(kr, &s);
	ck_assert_int_eq(watched_freed, 1);
	ck_assert_int_eq(watched_wiped, 1);
	keyring_release(s);
	keyring_free(kr);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("keyring");
	TCase	*tc = tcase_create("keyring");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_parse_one);
	tcase_add_test(tc, test_parse_white_space);
	tcase_add_test(tc, test_parse_bounds);
	tcase_add_test(tc, test_parse_duplicate);
	tcase_add_loop_test(tc, test_parse_bad, 0,
	    sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, test_format_roundtrip);
	tcase_add_test(tc, test_lookup);
	tcase_add_test(tc, test_from_text);
	tcase_add_test(tc, test_reload_on_change);
	tcase_add_test(tc, test_update_follows_file);
	tcase_add_test(tc, test_reload_edit_in_place);
	tcase_add_test(tc, test_reload_bad_file_keeps_keys);
	tcase_add_test(tc, test_from_file_errors);
	tcase_add_test(tc, test_threads_swap);
	tcase_add_test(tc, test_release_wipes);
	tcase_add_test(tc, test_swap_wipes_old);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

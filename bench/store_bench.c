/*
 * store_bench: the token store at scale, for scripts/bench.
 *
 *     store_bench DB N LOOKUPS
 *
 * Fills DB (unless it already holds link number N-1) with N links through
 * store_link_put(), exactly as the OAuth callback writes them, then times
 * LOOKUPS calls of store_link_get() for random users: the lookup and the
 * two decryptions a /contact request pays before it calls Salesforce.
 * Prints key=value lines: the fill rate, the database's bytes per link,
 * and the lookup latency percentiles in microseconds.  The key is made
 * up for the run and kept in DB.key beside the file, so a filled database
 * can be reused.  Built only with make bench.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"
#include "crypto.h"
#include "store.h"

#define STORE_BENCH_URL	"https://bench.my.salesforce.com"

static double
now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Loads DB.key, or makes it when absent.  Returns 0 or -1. */
static int
key_load(const char *db, struct crypto_key *key)
{
	unsigned char	 raw[CRYPTO_KEYLEN];
	char		 path[4096];
	char		*b64 = NULL;
	FILE		*f;
	int		 rc = -1;

	snprintf(path, sizeof(path), "%s.key", db);
	if ((f = fopen(path, "r")) != NULL) {
		fclose(f);
		return bench_read_key(path, key);
	}
	crypto_random(raw, sizeof(raw));
	if ((b64 = crypto_base64(raw, sizeof(raw))) == NULL ||
	    (f = fopen(path, "w")) == NULL)
		goto out;
	fprintf(f, "%s\n", b64);
	if (fclose(f) == 0 && crypto_key_from_base64(key, b64) == 0)
		rc = 0;
out:
	if (rc == -1)
		fprintf(stderr, "store_bench: cannot make %s\n", path);
	crypto_wipe(raw, sizeof(raw));
	crypto_free_secret(b64);
	return rc;
}

static long long
file_size(const char *path)
{
	struct stat	 sb;

	return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

/* Links users 0..n-1.  Returns 0 or -1. */
static int
fill(struct store *st, size_t n)
{
	struct slack_user	 who;
	struct store_link	 l;
	char			 access[BENCH_ACCESS_LEN + 1];
	char			 refresh[BENCH_REFRESH_LEN + 1];
	double			 t0 = now_us();
	size_t			 i;

	for (i = 0; i < n; i++) {
		bench_user(i, &who);
		bench_link(&l, STORE_BENCH_URL, access, refresh);
		if (store_link_put(st, &who, &l, NULL) != STORE_OK) {
			fprintf(stderr, "store_bench: put %zu failed\n", i);
			return -1;
		}
		if (i % 100000 == 99999)
			fprintf(stderr, "store_bench: %zu links\n", i + 1);
	}
	printf("fill_links=%zu fill_s=%.1f fill_per_s=%.0f\n", n,
	    (now_us() - t0) / 1e6, n / ((now_us() - t0) / 1e6));
	return 0;
}

int
main(int argc, char *argv[])
{
	struct crypto_key	 key;
	struct slack_user	 who;
	struct store_link	 l;
	struct store		*st = NULL;
	char			 wal[4096];
	double			*lat = NULL, t0;
	uint64_t		 x = 88172645463325252ULL;
	size_t			 n, nlook, i;
	long long		 empty = 0;
	int			 rc = 1;

	if (argc != 4 || (n = strtoul(argv[2], NULL, 10)) == 0 ||
	    (nlook = strtoul(argv[3], NULL, 10)) == 0) {
		fprintf(stderr, "usage: store_bench DB N LOOKUPS\n");
		return 2;
	}
	if (crypto_init() == -1 || key_load(argv[1], &key) == -1)
		return 1;
	if ((lat = calloc(nlook, sizeof(*lat))) == NULL ||
	    (st = store_open(argv[1], &key)) == NULL)
		goto out;
	bench_user(n - 1, &who);
	if (store_link_get(st, &who, &l) != STORE_OK) {
		/* The schema alone, to subtract from the filled size. */
		empty = file_size(argv[1]);
		if (fill(st, n) == -1)
			goto out;
		/* Closing the last connection checkpoints the WAL. */
		store_close(st);
		if ((st = store_open(argv[1], &key)) == NULL)
			goto out;
	}
	store_link_free(&l);
	snprintf(wal, sizeof(wal), "%s-wal", argv[1]);
	printf("db_bytes=%lld wal_bytes=%lld links=%zu bytes_per_link=%.0f\n",
	    file_size(argv[1]), file_size(wal), n,
	    (double)(file_size(argv[1]) - empty) / n);

	for (i = 0; i < nlook; i++) {
		/* xorshift64: a fixed, uniform sequence of users. */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		bench_user(x % n, &who);
		t0 = now_us();
		if (store_link_get(st, &who, &l) != STORE_OK ||
		    l.access_token == NULL ||
		    strlen(l.access_token) != BENCH_ACCESS_LEN) {
			fprintf(stderr, "store_bench: lookup of %s failed\n",
			    who.user_id);
			goto out;
		}
		lat[i] = now_us() - t0;
		store_link_free(&l);
	}
	qsort(lat, nlook, sizeof(*lat), cmp_double);
	printf("lookups=%zu p50_us=%.1f p90_us=%.1f p99_us=%.1f "
	    "p999_us=%.1f max_us=%.1f\n", nlook, lat[nlook / 2],
	    lat[nlook * 90 / 100], lat[nlook * 99 / 100],
	    lat[nlook * 999 / 1000], lat[nlook - 1]);
	rc = 0;
out:
	store_close(st);
	crypto_key_wipe(&key);
	free(lat);
	return rc;
}

/*
 * test_metrics: common/metrics.c, the counters shared through a file
 * and their Prometheus exposition.
 *
 * A new file gets a valid header and mode 0600 (a looser mode is
 * tightened); counts survive a second metrics_open() of the same file
 * (a program started later joins the others' counts); a file of the
 * wrong size, a wrong magic number or a wrong layout version is rebuilt
 * empty, never read; a symbolic link and a directory are not used (the
 * counters then live in memory); forked processes that count at the
 * same time add up exactly; and the exposition is well-formed text
 * format 0.0.4, line by line, with cumulative buckets whose +Inf equals
 * _count, and no label value from outside the fixed sets.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "buf.h"
#include "metrics.h"

#define NPROCS	4
#define NADDS	20000

static char	 dir[64];
static char	 path[128];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_metrics.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/db-metrics", dir);
}

static void
teardown(void)
{
	metrics_close();
	unlink(path);
	rmdir(dir);
}

/* The file's header as read from disk. */
static void
read_header(struct metrics_shm *h, off_t *size)
{
	struct stat	 sb;
	int		 fd;

	ck_assert_int_ne(fd = open(path, O_RDONLY), -1);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	*size = sb.st_size;
	memset(h, 0, sizeof(*h));
	ck_assert_int_ge(pread(fd, h, sizeof(*h), 0), 24);
	close(fd);
}

static uint64_t
total_requests(void)
{
	const struct metrics_shm	*m = metrics_get();
	uint64_t			 t = 0;
	size_t				 r, o;

	for (r = 0; r < METRICS_ROUTE__MAX; r++)
		for (o = 0; o < METRICS_OUT__MAX; o++)
			t += m->requests[r][o];
	return t;
}

START_TEST(test_new_file)
{
	struct metrics_shm	 h;
	struct stat		 sb;
	off_t			 size;

	ck_assert_int_eq(metrics_open(path), 0);
	read_header(&h, &size);
	ck_assert(h.magic == METRICS_MAGIC);
	ck_assert_uint_eq(h.version, METRICS_VERSION);
	ck_assert_uint_eq(h.size, sizeof(struct metrics_shm));
	ck_assert_int_eq(size, (off_t)sizeof(struct metrics_shm));
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	ck_assert_uint_eq(total_requests(), 0);
}
END_TEST

START_TEST(test_counts_persist_and_mode_tightened)
{
	struct stat	 sb;

	ck_assert_int_eq(metrics_open(path), 0);
	metrics_request(METRICS_ROUTE_CONTACT, 200);
	metrics_request(METRICS_ROUTE_CONTACT, 200);
	metrics_refresh(METRICS_REFRESH_OK);
	metrics_close();
	/* Outside the mapping, the process's own counters. */
	ck_assert_uint_eq(total_requests(), 0);
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(metrics_open(path), 0);
	ck_assert_uint_eq(metrics_get()->requests[METRICS_ROUTE_CONTACT]
	    [METRICS_OUT_2XX], 2);
	ck_assert_uint_eq(metrics_get()->refresh[METRICS_REFRESH_OK], 1);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
}
END_TEST

/* Damages the file as damage says, then checks that metrics_open()
 * rebuilds it: a valid header and every counter zero. */
static void
check_rebuilt(int damage)
{
	struct metrics_shm	 h;
	off_t			 size;
	int			 fd;

	ck_assert_int_eq(metrics_open(path), 0);
	metrics_request(METRICS_ROUTE_OAUTH_START, 302);
	metrics_ack(30);
	metrics_close();
	ck_assert_int_ne(fd = open(path, O_RDWR), -1);
	read_header(&h, &size);
	switch (damage) {
	case 0:		/* wrong magic */
		h.magic ^= 1;
		ck_assert_int_eq(pwrite(fd, &h, 24, 0), 24);
		break;
	case 1:		/* another layout version */
		h.version = METRICS_VERSION + 1;
		ck_assert_int_eq(pwrite(fd, &h, 24, 0), 24);
		break;
	case 2:		/* the size field lies */
		h.size = 8;
		ck_assert_int_eq(pwrite(fd, &h, 24, 0), 24);
		break;
	case 3:		/* cut short */
		ck_assert_int_eq(ftruncate(fd, 100), 0);
		break;
	case 4:		/* garbage of the right size */
		memset(&h, 0xa5, sizeof(h));
		ck_assert_int_eq(pwrite(fd, &h, sizeof(h), 0),
		    (ssize_t)sizeof(h));
		break;
	}
	close(fd);
	ck_assert_int_eq(metrics_open(path), 0);
	read_header(&h, &size);
	ck_assert(h.magic == METRICS_MAGIC);
	ck_assert_uint_eq(h.version, METRICS_VERSION);
	ck_assert_int_eq(size, (off_t)sizeof(struct metrics_shm));
	ck_assert_uint_eq(total_requests(), 0);
	ck_assert_uint_eq(metrics_get()->ack.sum_us, 0);
}

START_TEST(test_damaged_rebuilt)
{
	check_rebuilt(_i);
}
END_TEST

START_TEST(test_symlink_refused)
{
	char	 target[160];
	int	 fd;

	snprintf(target, sizeof(target), "%s/target", dir);
	ck_assert_int_ne(fd = open(target, O_CREAT | O_WRONLY, 0600), -1);
	ck_assert_int_eq(write(fd, "precious", 8), 8);
	close(fd);
	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_int_eq(metrics_open(path), -1);
	/* Counting still works, in memory; the target is untouched. */
	metrics_request(METRICS_ROUTE_CONTACT, 200);
	ck_assert_uint_eq(total_requests(), 1);
	metrics_close();
	ck_assert_int_ne(fd = open(target, O_RDONLY), -1);
	{
		char		 b[32];
		ssize_t		 n = read(fd, b, sizeof(b));

		ck_assert_int_eq(n, 8);
		ck_assert(memcmp(b, "precious", 8) == 0);
	}
	close(fd);
	unlink(target);
}
END_TEST

START_TEST(test_directory_refused)
{
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(metrics_open(path), -1);
	metrics_deferred(METRICS_DEFERRED_POSTED);
	ck_assert_uint_eq(metrics_get()->deferred[METRICS_DEFERRED_POSTED],
	    1);
	metrics_close();
	ck_assert_int_eq(rmdir(path), 0);
}
END_TEST

/* NPROCS processes (forked after metrics_open(), as the workers are) and
 * a second open of the file (as another program) count at once. */
START_TEST(test_concurrent_processes)
{
	const struct metrics_shm	*m;
	pid_t				 pid[NPROCS];
	int				 i, j, st;

	ck_assert_int_eq(metrics_open(path), 0);
	for (i = 0; i < NPROCS; i++) {
		ck_assert_int_ne(pid[i] = fork(), -1);
		if (pid[i] == 0) {
			/* Odd children map the file anew, as another
			 * program would. */
			if (i % 2 == 1 && metrics_open(path) != 0)
				_exit(1);
			for (j = 0; j < NADDS; j++) {
				metrics_request(METRICS_ROUTE_CONTACT, 200);
				metrics_sf(METRICS_SF_QUERY, 1000);
				metrics_refresh(METRICS_REFRESH_SHARED);
			}
			_exit(0);
		}
	}
	for (j = 0; j < NADDS; j++)
		metrics_request(METRICS_ROUTE_CONTACT, 200);
	for (i = 0; i < NPROCS; i++) {
		ck_assert_int_eq(waitpid(pid[i], &st, 0), pid[i]);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	m = metrics_get();
	ck_assert_uint_eq(m->requests[METRICS_ROUTE_CONTACT][METRICS_OUT_2XX],
	    (uint64_t)(NPROCS + 1) * NADDS);
	ck_assert_uint_eq(m->refresh[METRICS_REFRESH_SHARED],
	    (uint64_t)NPROCS * NADDS);
	ck_assert_uint_eq(m->sf[METRICS_SF_QUERY].sum_us,
	    (uint64_t)NPROCS * NADDS * 1000);
	/* 1 ms lands in the 0.001 < v <= 0.005 bucket, the first. */
	ck_assert_uint_eq(m->sf[METRICS_SF_QUERY].bucket[0],
	    (uint64_t)NPROCS * NADDS);
}
END_TEST

START_TEST(test_outcomes_and_routes)
{
	const struct metrics_shm	*m;

	ck_assert_int_eq(metrics_open(path), 0);
	ck_assert_int_eq(metrics_route_of("/contact"), METRICS_ROUTE_CONTACT);
	ck_assert_int_eq(metrics_route_of("/oauth/callback"),
	    METRICS_ROUTE_OAUTH_CALLBACK);
	ck_assert_int_eq(metrics_route_of("/slack/oauth_redirect"),
	    METRICS_ROUTE_SLACK_REDIRECT);
	ck_assert_int_eq(metrics_route_of("/healthz"), METRICS_ROUTE_HEALTHZ);
	ck_assert_int_eq(metrics_route_of("/healthz/oauth_start"),
	    METRICS_ROUTE_HEALTHZ);
	ck_assert_int_eq(metrics_route_of("/metrics"), METRICS_ROUTE_METRICS);
	ck_assert_int_eq(metrics_route_of("/contact/x"), METRICS_ROUTE_OTHER);
	ck_assert_int_eq(metrics_route_of("/healthzz"), METRICS_ROUTE_OTHER);
	ck_assert_int_eq(metrics_route_of(NULL), METRICS_ROUTE_OTHER);
	metrics_request(METRICS_ROUTE_OTHER, 0);
	metrics_request(METRICS_ROUTE_OTHER, 404);
	metrics_request(METRICS_ROUTE_OTHER, 503);
	metrics_request(METRICS_ROUTE_OTHER, 302);
	metrics_request(METRICS_ROUTE_OTHER, 999);
	metrics_request((enum metrics_route)77, 200);
	m = metrics_get();
	ck_assert_uint_eq(m->requests[METRICS_ROUTE_OTHER][METRICS_OUT_NONE],
	    2);
	ck_assert_uint_eq(m->requests[METRICS_ROUTE_OTHER][METRICS_OUT_4XX],
	    1);
	ck_assert_uint_eq(m->requests[METRICS_ROUTE_OTHER][METRICS_OUT_5XX],
	    1);
	ck_assert_uint_eq(m->requests[METRICS_ROUTE_OTHER][METRICS_OUT_3XX],
	    1);
	ck_assert_uint_eq(m->requests[METRICS_ROUTE_OTHER][METRICS_OUT_2XX],
	    1);
	/* Observations on the bounds land in their bucket (le is <=). */
	metrics_ack(2500);
	metrics_ack(2501);
	metrics_ack(-5);
	ck_assert_uint_eq(m->ack.bucket[8], 1);		/* le 2.5 */
	ck_assert_uint_eq(m->ack.bucket[9], 1);		/* le 5 */
	ck_assert_uint_eq(m->ack.bucket[0], 1);		/* le 0.005 */
	ck_assert_uint_eq(m->ack.sum_us, 5001000);
	metrics_sf(METRICS_SF_REVOKE, 25000000);	/* past 20 s: +Inf */
	ck_assert_uint_eq(m->sf[METRICS_SF_REVOKE].bucket[12], 1);
	/* Out of range counts nothing, anywhere. */
	{
		struct metrics_shm	 before = *m;

		metrics_refresh(METRICS_REFRESH__MAX);
		metrics_deferred(METRICS_DEFERRED__MAX);
		metrics_sf(METRICS_SF__MAX, 1000);
		metrics_sf((enum metrics_sf_call)-1, 1000);
		ck_assert(memcmp(&before, m, sizeof(before)) == 0);
	}
}
END_TEST

/*
 * A strict reading of the text format: every line is a HELP or TYPE
 * comment or a sample 'name{labels} value'; each family's TYPE comes
 * before its samples; a histogram's buckets rise with le, end at +Inf,
 * and +Inf equals _count.
 */
START_TEST(test_exposition)
{
	struct metrics_gauges	 g;
	struct buf		 b;
	regex_t			 sample, comment;
	regmatch_t		 mt[4];
	char			*text, *line, *save;
	char			 type_of[64] = "";
	double			 last_le = -1, inf = -1, count = -1;
	int			 nsamples = 0, ninf = 0;

	ck_assert_int_eq(metrics_open(path), 0);
	metrics_ack(120);
	metrics_ack(3000);
	metrics_sf(METRICS_SF_TOKEN_REFRESH, 450000);
	metrics_refresh(METRICS_REFRESH_INVALID_GRANT);
	memset(&g, 0, sizeof(g));
	g.db_ok = 1;
	g.links = 7;
	g.installs_reinstall = 2;
	g.nkeys = 3;
	snprintf(g.key_id[0], sizeof(g.key_id[0]), "0123456789abcdef");
	snprintf(g.key_id[1], sizeof(g.key_id[1]), "%s", "");
	snprintf(g.key_id[2], sizeof(g.key_id[2]), "ab\"}\n x");
	g.key_rows[0] = 5;
	g.key_rows[1] = 1;
	g.key_rows[2] = 1;
	buf_init(&b, 64 * 1024);
	ck_assert_int_eq(metrics_write(&b, &g), 0);
	ck_assert_int_eq(regcomp(&sample, "^(forcelink_[a-z_]+)"
	    "(\\{[a-z_]+=\"[A-Za-z0-9_.+-]*\"(,[a-z_]+=\"[A-Za-z0-9_.+-]*\")*"
	    "\\})? (-?[0-9]+(\\.[0-9]+)?)$", REG_EXTENDED), 0);
	ck_assert_int_eq(regcomp(&comment, "^# (HELP|TYPE) (forcelink_[a-z_]+)"
	    " (.+)$", REG_EXTENDED), 0);
	ck_assert(b.len > 0 && b.data[b.len - 1] == '\n');
	text = strdup(buf_cstr(&b));
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#') {
			ck_assert_msg(regexec(&comment, line, 4, mt, 0) == 0,
			    "bad comment: %s", line);
			if (strncmp(line, "# TYPE ", 7) == 0) {
				ck_assert(strstr(line, " counter") != NULL ||
				    strstr(line, " gauge") != NULL ||
				    strstr(line, " histogram") != NULL);
				snprintf(type_of, sizeof(type_of), "%.*s",
				    (int)(mt[2].rm_eo - mt[2].rm_so),
				    line + mt[2].rm_so);
				last_le = -1;
			}
			continue;
		}
		ck_assert_msg(regexec(&sample, line, 4, mt, 0) == 0,
		    "bad sample: %s", line);
		ck_assert_msg(strncmp(line, type_of, strlen(type_of)) == 0,
		    "sample before its TYPE: %s", line);
		nsamples++;
		if (strstr(line, "_bucket{") != NULL) {
			const char	*le = strstr(line, "le=\"");
			double		 v = atof(strrchr(line, ' ') + 1);

			ck_assert_ptr_nonnull(le);
			/* The first bucket of each series starts anew. */
			if (strncmp(le, "le=\"0.005\"", 10) == 0) {
				ck_assert_msg(last_le == -1 || inf == last_le,
				    "a series without +Inf: %s", line);
				last_le = -1;
			}
			ck_assert_msg(v >= last_le, "buckets fall: %s", line);
			last_le = v;
			if (strncmp(le, "le=\"+Inf\"", 9) == 0) {
				inf = v;
				ninf++;
			}
		} else if (strstr(line, "_count") != NULL) {
			count = atof(strrchr(line, ' ') + 1);
			ck_assert_msg(count == inf, "+Inf %g != count %g",
			    inf, count);
		}
	}
	/* One +Inf per histogram: the ack and one per Salesforce call. */
	ck_assert_int_eq(ninf, 1 + METRICS_SF__MAX);
	ck_assert_int_gt(nsamples, 60);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&b),
	    "\nforcelink_slack_ack_seconds_bucket{le=\"0.25\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&b),
	    "\nforcelink_slack_ack_seconds_bucket{le=\"5\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&b),
	    "\nforcelink_slack_ack_seconds_sum 3.120000\n"));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&b),
	    "\nforcelink_salesforce_request_seconds_bucket{call="
	    "\"token_refresh\",le=\"0.5\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&b),
	    "\nforcelink_refreshes_total{outcome=\"invalid_grant\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&b),
	    "\nforcelink_links 7\n"));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&b),
	    "\nforcelink_installations_needing_reinstall 2\n"));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&b),
	    "\nforcelink_key_rows{key_id=\"0123456789abcdef\"} 5\n"));
	/* Neither an empty nor a hostile id is written as it is: both are
	 * added up in one line. */
	ck_assert_ptr_nonnull(strstr(buf_cstr(&b),
	    "\nforcelink_key_rows{key_id=\"other\"} 2\n"));
	ck_assert_ptr_null(strstr(buf_cstr(&b), "ab\""));
	free(text);
	/* Without the database, its figures are left out. */
	g.db_ok = 0;
	buf_reset(&b);
	ck_assert_int_eq(metrics_write(&b, &g), 0);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&b),
	    "\nforcelink_database_up 0\n"));
	ck_assert_ptr_null(strstr(buf_cstr(&b), "forcelink_links"));
	/* A buffer too small fails instead of cutting a line. */
	buf_free(&b);
	buf_init(&b, 100);
	ck_assert_int_eq(metrics_write(&b, NULL), -1);
	buf_free(&b);
	regfree(&sample);
	regfree(&comment);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("metrics");
	TCase	*tc = tcase_create("metrics");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_new_file);
	tcase_add_test(tc, test_counts_persist_and_mode_tightened);
	tcase_add_loop_test(tc, test_damaged_rebuilt, 0, 5);
	tcase_add_test(tc, test_symlink_refused);
	tcase_add_test(tc, test_directory_refused);
	tcase_add_test(tc, test_concurrent_processes);
	tcase_add_test(tc, test_outcomes_and_routes);
	tcase_add_test(tc, test_exposition);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

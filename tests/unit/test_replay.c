/*
 * test_replay: common/replay.c, the host's replay cache, and
 * store_replay_check(), the cache in front of the store.
 *
 * A signature is accepted once and refused while it can still pass
 * slack_verify(), and its slot is reused after; a bucket full of live
 * entries sends checks to the store and evicts none, and a signature
 * the store accepted then is still refused once the bucket has room; of
 * many threads, and of many forked processes, checking one signature at
 * once exactly one is told it is new; a process killed by SIGKILL in
 * the middle of a storm leaves a table that still refuses what it
 * accepted and accepts what is new; a damaged header, a wrong size, a
 * symbolic link, a directory and a file of another owner are never
 * trusted; a table made while the store holds a live entry sends a
 * signature stamped before it to the store, which refuses it, and one
 * the cache held is refused after a rebuild that kept its slots; a
 * table made over an empty store decides at once, writing no row.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "crypto.h"
#include "replay.h"
#include "slack.h"
#include "store.h"
#include "testutil.h"

#define T0		1800000000	/* the fake clock's start */
#define NTHREADS	8
#define NPROCS		4
#define NHASH		3000
#define NSTORM		1000000

static char	 dir[64];
static char	 path[128];
static time_t	 fake_now;

static time_t
fake_clock(void)
{
	return __atomic_load_n(&fake_now, __ATOMIC_RELAXED);
}

static void
set_now(time_t t)
{
	__atomic_store_n(&fake_now, t, __ATOMIC_RELAXED);
}

/*
 * Opens a fresh table made at T0 and moves the clock past the window in
 * which everything goes to the store as well, so that the cache decides.
 */
static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_replay.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/db-replay", dir);
	replay_set_clock(fake_clock);
	set_now(T0);
	ck_assert_int_eq(replay_open(path, NULL, NULL), 0);
	set_now(T0 + 1000);
}

static void
teardown(void)
{
	char	 p[160];

	replay_close();
	replay_set_clock(NULL);
	unlink(path);
	snprintf(p, sizeof(p), "%s/target", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/db", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/db-wal", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/db-shm", dir);
	unlink(p);
	rmdir(dir);
}

/* A hash in bucket b (mod REPLAY_BUCKETS) with fingerprint fp. */
static void
hash_at(unsigned char h[REPLAY_HASHLEN], uint64_t b, uint64_t fp)
{
	int	 i;

	memset(h, 0, REPLAY_HASHLEN);
	for (i = 0; i < 8; i++)
		h[7 - i] = (unsigned char)(b >> (8 * i));
	for (i = 0; i < 6; i++)
		h[13 - i] = (unsigned char)(fp >> (8 * i));
	h[31] = 0x5a;
}

/* The hash of "sig-n", as contact.c makes one. */
static void
hash_n(unsigned char h[CRYPTO_HASHLEN], long n)
{
	char	 s[64];

	snprintf(s, sizeof(s), "v0=sig-%ld", n);
	crypto_sha256(s, h);
}

/* Rewrites len bytes of the file at off. */
static void
poke(off_t off, const void *p, size_t len)
{
	int	 fd;

	ck_assert_int_ne(fd = open(path, O_WRONLY), -1);
	ck_assert_int_eq(pwrite(fd, p, len, off), (ssize_t)len);
	close(fd);
}

static int64_t
file_born(void)
{
	struct replay_hdr	 h;
	int			 fd;

	ck_assert_int_ne(fd = open(path, O_RDONLY), -1);
	ck_assert_int_eq(pread(fd, &h, sizeof(h), 0), (ssize_t)sizeof(h));
	close(fd);
	ck_assert_uint_eq(h.magic, REPLAY_MAGIC);
	return h.born;
}

START_TEST(test_new_file)
{
	struct stat		 sb;
	struct replay_stats	 st;

	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_size, (off_t)REPLAY_FILE_SIZE);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	ck_assert_int_eq(file_born(), T0);
	ck_assert_int_eq(replay_stats(path, fake_now, &st), 0);
	ck_assert_int_eq(st.live, 0);
	ck_assert_int_eq(st.born, T0);
}
END_TEST

START_TEST(test_insert_replay_expiry)
{
	unsigned char		 h[REPLAY_HASHLEN], o[REPLAY_HASHLEN];
	struct replay_stats	 st;
	time_t			 now = fake_now;
	int64_t			 ts = now - 10;	/* E = now + 291 */

	hash_n(h, 1);
	ck_assert_int_eq(replay_check(h, ts), REPLAY_NEW);
	ck_assert_int_eq(replay_check(h, ts), REPLAY_SEEN);
	ck_assert_int_eq(replay_stats(path, now, &st), 0);
	ck_assert_int_eq(st.live, 1);
	/* Seen from another "program" that opened the same file. */
	replay_close();
	ck_assert_int_eq(replay_open(path, NULL, NULL), 0);
	ck_assert_int_eq(replay_check(h, ts), REPLAY_SEEN);
	/* Its last second in which slack_verify() accepts it. */
	set_now(ts + SLACK_MAX_SKEW);
	ck_assert_int_eq(replay_check(h, ts), REPLAY_SEEN);
	/* Once stale it is refused, never handed to the store. */
	set_now(ts + SLACK_MAX_SKEW + 1);
	ck_assert_int_eq(replay_check(h, ts), REPLAY_SEEN);
	/* A timestamp from the future by the whole window. */
	set_now(now);
	hash_n(o, 2);
	ck_assert_int_eq(replay_check(o, now + SLACK_MAX_SKEW), REPLAY_NEW);
	set_now(now + 2 * SLACK_MAX_SKEW);
	ck_assert_int_eq(replay_check(o, now + SLACK_MAX_SKEW), REPLAY_SEEN);
	/* Past E + REPLAY_GRACE the entries no longer count as live. */
	set_now(now + 2 * SLACK_MAX_SKEW + 1 + REPLAY_GRACE);
	ck_assert_int_eq(replay_stats(path, fake_now, &st), 0);
	ck_assert_int_eq(st.live, 0);
}
END_TEST

/* Seven entries fill a bucket; the slots of expired ones are reused. */
START_TEST(test_slot_reuse)
{
	unsigned char	 h[REPLAY_HASHLEN];
	time_t		 now = fake_now;
	uint64_t	 fp;

	for (fp = 1; fp <= REPLAY_WAYS; fp++) {
		hash_at(h, 77, fp);
		ck_assert_int_eq(replay_check(h, now - 200), REPLAY_NEW);
		hash_at(h, 78, fp);
		ck_assert_int_eq(replay_check(h, now - 200), REPLAY_NEW);
	}
	/* E = now + 101: they are stale for slack_verify() from then, but
	 * kept REPLAY_GRACE seconds more (for a check stalled since its
	 * reading of the clock); then every slot is free again. */
	set_now(now + 101 + REPLAY_GRACE - 1);
	hash_at(h, 78, 99);
	ck_assert_int_eq(replay_check(h, fake_now), REPLAY_EXACT);
	set_now(now + 101 + REPLAY_GRACE);
	for (fp = 100; fp < 100 + REPLAY_WAYS; fp++) {
		hash_at(h, 77, fp);
		ck_assert_int_eq(replay_check(h, fake_now), REPLAY_NEW);
	}
	hash_at(h, 77, 100);
	ck_assert_int_eq(replay_check(h, fake_now), REPLAY_SEEN);
}
END_TEST

/*
 * A bucket full of live entries: the next signature goes to the store,
 * every entry stays, and while the overflowed signature could be
 * replayed its bucket keeps asking the store even once it has room.
 */
START_TEST(test_full_bucket)
{
	unsigned char	 h[REPLAY_HASHLEN], x[REPLAY_HASHLEN];
	time_t		 now = fake_now;
	uint64_t	 fp;

	for (fp = 1; fp <= REPLAY_WAYS; fp++) {
		hash_at(h, 9, fp);
		ck_assert_int_eq(replay_check(h, now - 290), REPLAY_NEW);
	}
	hash_at(x, 9, 1000);
	ck_assert_int_eq(replay_check(x, now), REPLAY_EXACT);
	/* No live entry was evicted, and a second new one asks too. */
	for (fp = 1; fp <= REPLAY_WAYS; fp++) {
		hash_at(h, 9, fp);
		ck_assert_int_eq(replay_check(h, now - 290), REPLAY_SEEN);
	}
	hash_at(h, 9, 1001);
	ck_assert_int_eq(replay_check(h, now), REPLAY_EXACT);
	/* The seven expire (E = now + 11); x is still within its window:
	 * its replay is recorded in the cache now, but the store (which
	 * accepted it) must decide. */
	set_now(now + 11 + REPLAY_GRACE);
	ck_assert_int_eq(replay_check(x, now), REPLAY_EXACT);
	ck_assert_int_eq(replay_check(x, now), REPLAY_SEEN);
	/* Another bucket is not affected. */
	hash_at(h, 10, 1);
	ck_assert_int_eq(replay_check(h, fake_now), REPLAY_NEW);
	/* Once x's window is over, the bucket is the cache's again. */
	set_now(now + SLACK_MAX_SKEW + 1 + REPLAY_GRACE);
	hash_at(h, 9, 2000);
	ck_assert_int_eq(replay_check(h, fake_now), REPLAY_NEW);
}
END_TEST

/* The same through the store: on SQLite, what the store accepted for an
 * overflowed bucket is refused by the store later. */
START_TEST(test_full_bucket_store)
{
	struct crypto_key	 key;
	struct store		*st;
	unsigned char		 h[REPLAY_HASHLEN], x[REPLAY_HASHLEN];
	char			 db[160];
	time_t			 now = fake_now;
	uint64_t		 fp;

	ck_assert_int_eq(crypto_init(), 0);
	tu_key_random(&key);
	snprintf(db, sizeof(db), "%s/db", dir);
	ck_assert_ptr_nonnull(st = store_open(db, &key));
	for (fp = 1; fp <= REPLAY_WAYS; fp++) {
		hash_at(h, 5, fp);
		ck_assert_int_eq(store_replay_check(st, h, now - 290, now),
		    STORE_OK);
	}
	hash_at(x, 5, 1000);
	ck_assert_int_eq(store_replay_check(st, x, now, now), STORE_OK);
	ck_assert_int_eq(store_replay_check(st, x, now, now), STORE_EXISTS);
	set_now(now + 11 + REPLAY_GRACE);
	ck_assert_int_eq(store_replay_check(st, x, now, fake_now),
	    STORE_EXISTS);
	store_close(st);
}
END_TEST

/*
 * The race the commit exists for, played in one thread: check B reads
 * the bucket while entry X is still live for its clock and picks the
 * next slot; check A, whose clock is one second later, runs to the end
 * in the middle of B (from B's reading of the clock), finds X's slot
 * free and is accepted; B must then be refused, not accepted into the
 * other slot.
 */
static int		 race_armed;
static unsigned char	 race_h[REPLAY_HASHLEN];
static enum replay_result race_a;

static time_t
race_clock(void)
{
	time_t	 t1 = fake_now;

	/* The first reading is before the bucket's, the second after. */
	if (race_armed && --race_armed == 0) {
		set_now(t1 + 1);
		race_a = replay_check(race_h, t1);
		set_now(t1);
	}
	return fake_now;
}

START_TEST(test_commit_race)
{
	unsigned char	 x[REPLAY_HASHLEN];
	time_t		 t1 = fake_now;

	/* X's E + REPLAY_GRACE is t1 + 1: live at t1, free at t1 + 1. */
	hash_at(x, 123, 1);
	set_now(t1 - 10);
	ck_assert_int_eq(replay_check(x, t1 - SLACK_MAX_SKEW - REPLAY_GRACE),
	    REPLAY_NEW);
	set_now(t1);
	hash_at(race_h, 123, 2);
	replay_set_clock(race_clock);
	race_armed = 2;
	ck_assert_int_eq(replay_check(race_h, t1), REPLAY_SEEN);
	ck_assert_int_eq(race_armed, 0);
	ck_assert_int_eq(race_a, REPLAY_NEW);
}
END_TEST

/* Many threads check each signature at once. */
struct storm {
	pthread_barrier_t	*bar;
	int			 rounds;
	int			*accepted;	/* per round */
	int			 other;		/* answers not NEW/SEEN */
};

static void *
storm_thread(void *arg)
{
	struct storm	*s = arg;
	unsigned char	 h[REPLAY_HASHLEN];
	enum replay_result r;
	int		 i;

	for (i = 0; i < s->rounds; i++) {
		hash_n(h, 100000 + i);
		pthread_barrier_wait(s->bar);
		r = replay_check(h, fake_now);
		if (r == REPLAY_NEW)
			__atomic_fetch_add(&s->accepted[i], 1,
			    __ATOMIC_RELAXED);
		else if (r != REPLAY_SEEN)
			__atomic_fetch_add(&s->other, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

START_TEST(test_threads_one_accepted)
{
	pthread_barrier_t	 bar;
	pthread_t		 t[NTHREADS];
	struct storm		 s;
	int			 i;

	s.rounds = 300;
	s.other = 0;
	ck_assert_ptr_nonnull(s.accepted = calloc(s.rounds, sizeof(int)));
	s.bar = &bar;
	pthread_barrier_init(&bar, NULL, NTHREADS);
	for (i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, storm_thread, &s),
		    0);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&bar);
	for (i = 0; i < s.rounds; i++)
		ck_assert_int_eq(s.accepted[i], 1);
	ck_assert_int_eq(s.other, 0);
	free(s.accepted);
}
END_TEST

/*
 * Forked processes, each with its own threads, check the same NHASH
 * signatures (each in its own order); counts[i] adds up the NEW answers
 * for signature i in shared memory.
 */
static void
proc_storm(int *counts, int seed)
{
	unsigned char	 h[REPLAY_HASHLEN];
	enum replay_result r;
	int		 i, k;

	for (k = 0; k < NHASH; k++) {
		i = (k * 7 + seed * 1013) % NHASH;
		hash_n(h, i);
		r = replay_check(h, fake_now);
		if (r == REPLAY_NEW)
			__atomic_fetch_add(&counts[i], 1, __ATOMIC_RELAXED);
		else if (r != REPLAY_SEEN)
			__atomic_fetch_add(&counts[NHASH], 1,
			    __ATOMIC_RELAXED);
	}
}

START_TEST(test_procs_one_accepted)
{
	pid_t	 pid[NPROCS];
	int	*counts, i, status;

	counts = mmap(NULL, (NHASH + 1) * sizeof(int), PROT_READ |
	    PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(counts, MAP_FAILED);
	for (i = 0; i < NPROCS; i++) {
		ck_assert_int_ne(pid[i] = fork(), -1);
		if (pid[i] == 0) {
			proc_storm(counts, i);
			_exit(0);
		}
	}
	proc_storm(counts, NPROCS);
	for (i = 0; i < NPROCS; i++) {
		ck_assert_int_eq(waitpid(pid[i], &status, 0), pid[i]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	for (i = 0; i < NHASH; i++)
		ck_assert_int_eq(counts[i], 1);
	ck_assert_int_eq(counts[NHASH], 0);
	munmap(counts, (NHASH + 1) * sizeof(int));
}
END_TEST

/*
 * A child checks signatures in a loop, each twice, and is killed by
 * SIGKILL in the middle.  The table is then still valid; every signature
 * the child was told is new is refused; every one it may have touched
 * is refused or new, never anything else; and new ones are accepted.
 */
START_TEST(test_sigkill_mid_storm)
{
	struct { long done; long tried; char rec[NSTORM]; } *sh;
	unsigned char		 h[REPLAY_HASHLEN];
	enum replay_result	 r, r2;
	pid_t			 pid;
	long			 i;
	int			 status;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(sh, MAP_FAILED);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		for (i = 0; i < NSTORM; i++) {
			hash_n(h, 500000 + i);
			__atomic_store_n(&sh->tried, i + 1, __ATOMIC_SEQ_CST);
			r = replay_check(h, fake_now);
			r2 = replay_check(h, fake_now);
			/* A bucket found full sends to the store: fine. */
			if (r == REPLAY_SEEN || (r == REPLAY_NEW &&
			    r2 != REPLAY_SEEN) || (r == REPLAY_EXACT &&
			    r2 == REPLAY_NEW))
				_exit(1);
			sh->rec[i] = (char)r;
			__atomic_store_n(&sh->done, i + 1, __ATOMIC_SEQ_CST);
		}
		_exit(2);	/* never killed: the test proves nothing */
	}
	while (__atomic_load_n(&sh->done, __ATOMIC_SEQ_CST) < 2000)
		sched_yield();
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	    "child status %d", status);
	for (i = 0; i < sh->done; i++) {
		hash_n(h, 500000 + i);
		r = replay_check(h, fake_now);
		if (sh->rec[i] == REPLAY_NEW)
			ck_assert_int_eq(r, REPLAY_SEEN);
		else
			ck_assert(r == REPLAY_SEEN || r == REPLAY_EXACT);
	}
	/* The one it was in the middle of: never anything but these. */
	for (; i < sh->tried; i++) {
		hash_n(h, 500000 + i);
		r = replay_check(h, fake_now);
		ck_assert(r == REPLAY_SEEN || r == REPLAY_NEW ||
		    r == REPLAY_EXACT);
	}
	/* The file is still valid for a program that starts now. */
	replay_close();
	ck_assert_int_eq(replay_open(path, NULL, NULL), 0);
	ck_assert_int_eq(file_born(), T0);
	hash_n(h, 1);
	ck_assert_int_eq(replay_check(h, fake_now), REPLAY_NEW);
	ck_assert_int_eq(replay_check(h, fake_now), REPLAY_SEEN);
	munmap(sh, sizeof(*sh));
}
END_TEST

/*
 * A header damaged while the table is in use: checks go to the store.
 * Reopened, the header is rebuilt (born: now) and the slots kept: what
 * the cache held is still refused, and a signature stamped before the
 * new birth + SLACK_MAX_SKEW is also handed to the store.
 */
START_TEST(test_damaged_header)
{
	unsigned char	 h[REPLAY_HASHLEN], o[REPLAY_HASHLEN];
	uint64_t	 bad = 0x4141414141414141ULL;
	time_t		 now = fake_now;

	hash_n(h, 1);
	ck_assert_int_eq(replay_check(h, now), REPLAY_NEW);
	poke(0, &bad, sizeof(bad));
	hash_n(o, 2);
	ck_assert_int_eq(replay_check(o, now), REPLAY_EXACT);
	replay_close();
	ck_assert_int_eq(replay_open(path, NULL, NULL), 0);
	ck_assert_int_eq(file_born(), now);
	ck_assert_int_eq(replay_check(h, now), REPLAY_SEEN);
	ck_assert_int_eq(replay_check(o, now), REPLAY_EXACT);
	ck_assert_int_eq(replay_check(o, now), REPLAY_SEEN);
	/* Stamped after the window of the birth: the cache decides. */
	set_now(now + SLACK_MAX_SKEW + 1);
	hash_n(o, 3);
	ck_assert_int_eq(replay_check(o, fake_now), REPLAY_NEW);
}
END_TEST

/* A wrong version or bucket count, and a wrong size: rebuilt. */
START_TEST(test_wrong_layout)
{
	struct replay_hdr	 hdr;
	struct stat		 sb;
	uint32_t		 v = REPLAY_VERSION + 1;
	int			 fd;

	replay_close();
	poke(offsetof(struct replay_hdr, version), &v, sizeof(v));
	ck_assert_int_eq(replay_open(path, NULL, NULL), 0);
	ck_assert_int_eq(file_born(), fake_now);
	replay_close();
	v = REPLAY_BUCKETS / 2;
	poke(offsetof(struct replay_hdr, nbuckets), &v, sizeof(v));
	ck_assert_int_eq(replay_open(path, NULL, NULL), 0);
	replay_close();
	ck_assert_int_eq(truncate(path, 100), 0);
	ck_assert_int_eq(replay_open(path, NULL, NULL), 0);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_size, (off_t)REPLAY_FILE_SIZE);
	ck_assert_int_ne(fd = open(path, O_RDONLY), -1);
	ck_assert_int_eq(pread(fd, &hdr, sizeof(hdr), 0), (ssize_t)sizeof(hdr));
	close(fd);
	ck_assert_uint_eq(hdr.magic, REPLAY_MAGIC);
	ck_assert_uint_eq(hdr.version, REPLAY_VERSION);
	ck_assert_uint_eq(hdr.nbuckets, REPLAY_BUCKETS);
	ck_assert_uint_eq(hdr.size, REPLAY_FILE_SIZE);
}
END_TEST

/* A symbolic link, a directory and a file of another user are not used
 * (nor changed): every check goes to the store. */
START_TEST(test_not_ours)
{
	unsigned char	 h[REPLAY_HASHLEN];
	struct stat	 sb;
	char		 target[160];
	int		 fd;

	replay_close();
	hash_n(h, 1);
	ck_assert_int_eq(replay_check(h, fake_now), REPLAY_EXACT);
	unlink(path);
	snprintf(target, sizeof(target), "%s/target", dir);
	ck_assert_int_ne(fd = open(target, O_CREAT | O_WRONLY, 0600), -1);
	close(fd);
	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_int_eq(replay_open(path, NULL, NULL), -1);
	ck_assert_int_eq(replay_check(h, fake_now), REPLAY_EXACT);
	ck_assert_int_eq(stat(target, &sb), 0);
	ck_assert_int_eq(sb.st_size, 0);
	unlink(path);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(replay_open(path, NULL, NULL), -1);
	ck_assert_int_eq(replay_check(h, fake_now), REPLAY_EXACT);
	rmdir(path);
	/* Another user's: made by us, then given away (which needs root;
	 * without it the test fails rather than prove nothing). */
	ck_assert_int_ne(fd = open(path, O_CREAT | O_WRONLY, 0600), -1);
	close(fd);
	ck_assert_msg(geteuid() == 0 || getuid() == 0,
	    "the foreign-owner case needs root to chown the file");
	ck_assert_int_eq(chown(path, 65534, 65534), 0);
	ck_assert_int_eq(replay_open(path, NULL, NULL), -1);
	ck_assert_int_eq(replay_check(h, fake_now), REPLAY_EXACT);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_size, 0);
	ck_assert_int_eq(sb.st_uid, 65534);
}
END_TEST

/* replay_open()'s history, as app.c's. */
static int
store_history(void *arg)
{
	return store_replay_live(arg, fake_now) != 0;
}

/*
 * A table made after the store accepted a signature (an older forcelink
 * wrote every one there): its replay, stamped before the table's birth,
 * goes to the store and is refused.  Then a rebuild that keeps the
 * slots: what the cache accepted before is refused after.
 */
START_TEST(test_rebuild_old_timestamp)
{
	struct crypto_key	 key;
	struct store		*st;
	unsigned char		 h[REPLAY_HASHLEN], o[REPLAY_HASHLEN];
	uint64_t		 bad = 0;
	char			 db[160];
	time_t			 now = fake_now;

	ck_assert_int_eq(crypto_init(), 0);
	tu_key_random(&key);
	snprintf(db, sizeof(db), "%s/db", dir);
	ck_assert_ptr_nonnull(st = store_open(db, &key));
	replay_close();
	unlink(path);
	hash_n(h, 1);
	ck_assert_int_eq(store_replay_add(st, h, now - 5, now - 5 +
	    2 * SLACK_MAX_SKEW + 1), STORE_OK);
	/* The table is made now, while the store holds h. */
	ck_assert_int_eq(replay_open(path, store_history, st), 0);
	ck_assert_int_eq(file_born(), now);
	ck_assert_int_eq(store_replay_check(st, h, now - 5, now),
	    STORE_EXISTS);
	/* Later, the cache alone accepts o; the header is damaged and
	 * rebuilt: o's replay is still refused. */
	set_now(now + SLACK_MAX_SKEW + 1);
	hash_n(o, 2);
	ck_assert_int_eq(store_replay_check(st, o, fake_now, fake_now),
	    STORE_OK);
	replay_close();
	poke(0, &bad, sizeof(bad));
	set_now(fake_now + 1);
	ck_assert_int_eq(replay_open(path, NULL, NULL), 0);
	ck_assert_int_eq(store_replay_check(st, o, fake_now - 1, fake_now),
	    STORE_EXISTS);
	store_close(st);
}
END_TEST

/* A table made while the store holds no live entry decides at once,
 * and a new signature costs the store no row. */
START_TEST(test_no_history)
{
	struct crypto_key	 key;
	struct store		*st;
	unsigned char		 h[REPLAY_HASHLEN];
	char			 db[160];

	ck_assert_int_eq(crypto_init(), 0);
	tu_key_random(&key);
	snprintf(db, sizeof(db), "%s/db", dir);
	ck_assert_ptr_nonnull(st = store_open(db, &key));
	replay_close();
	unlink(path);
	ck_assert_int_eq(replay_open(path, store_history, st), 0);
	ck_assert_int_eq(file_born(), 0);
	hash_n(h, 1);
	ck_assert_int_eq(store_replay_check(st, h, fake_now, fake_now),
	    STORE_OK);
	ck_assert_int_eq(store_replay_check(st, h, fake_now, fake_now),
	    STORE_EXISTS);
	ck_assert_int_eq(store_replay_live(st, fake_now), 0);
	store_close(st);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("replay");
	TCase	*tc = tcase_create("replay");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_new_file);
	tcase_add_test(tc, test_insert_replay_expiry);
	tcase_add_test(tc, test_slot_reuse);
	tcase_add_test(tc, test_full_bucket);
	tcase_add_test(tc, test_full_bucket_store);
	tcase_add_test(tc, test_commit_race);
	tcase_add_test(tc, test_threads_one_accepted);
	tcase_add_test(tc, test_procs_one_accepted);
	tcase_add_test(tc, test_sigkill_mid_storm);
	tcase_add_test(tc, test_damaged_header);
	tcase_add_test(tc, test_wrong_layout);
	tcase_add_test(tc, test_not_ours);
	tcase_add_test(tc, test_rebuild_old_timestamp);
	tcase_add_test(tc, test_no_history);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

/*
 * replay: the host's cache of Slack signatures already seen, shared by
 * every process and thread of the programs on this host, so that a
 * signed request is refused as a replay without a database write.
 *
 * Where it lives.  A file of REPLAY_FILE_SIZE bytes (2 MiB and a 64-byte
 * header), $FORCELINK_DB-replay beside a SQLite database, or
 * var/forcelink-replay under the run directory when the store is on a
 * PostgreSQL server; each program maps it MAP_SHARED before it forks its
 * workers (shmfile.h: a regular file of the service user, mode 0600, no
 * symbolic link followed, checked and rebuilt under flock()).  Its size
 * is fixed: the memory it costs is that file, shared (each worker's PSS
 * counts its share of the pages it touched).
 *
 * The table.  REPLAY_BUCKETS buckets of one 64-byte cache line each: a
 * control word and REPLAY_WAYS slots.  A slot is one 64-bit word, 0 when
 * empty, else a 48-bit fingerprint of the signature's SHA-256 (bytes
 * 8-13, never 0) above the low 16 bits of its expiry in seconds.  The
 * bucket is chosen by bytes 0-7 of the hash, so fingerprint and bucket
 * are independent.  The control word holds a commit counter (47 bits),
 * and an "overflowed" flag with the low 16 bits of the time until which
 * the bucket's overflow stays relevant.
 *
 * Sizing.  229,376 slots.  An entry lives about SLACK_MAX_SKEW seconds
 * (a timestamp is close to now), so 378 signed requests a second
 * sustained fill it half (120,000 requests at any rate within five
 * minutes, as a 30-second benchmark at 4,000 a second); a check finds
 * its bucket full about once in 1,000 at 0.3 full (measured: 70 in
 * 50,000), and more and more often beyond, going to the store.  Random buckets touch every
 * page within a few thousand requests: each of k workers then counts
 * 2 MiB / k of PSS (1 MiB with two; measured).  REPLAY_BUCKETS trades
 * one for the other.
 *
 * Expiry.  slack_verify() accepts a timestamp ts while |now - ts| <=
 * SLACK_MAX_SKEW, so a signature can pass only while now < E = ts +
 * SLACK_MAX_SKEW + 1: its entry must stay until E (today's store entries
 * last until now + 2 * SLACK_MAX_SKEW + 1, which is never sooner).  An
 * entry is live while E - REPLAY_MAXLIFE <= now < E + REPLAY_GRACE,
 * comparing the 16-bit values modulo 2^16; any other value, including a
 * stale entry whose 16 bits wrapped, is free to reuse.  A live entry is
 * never overwritten.
 *
 * A check (replay_check) is lock-free: read the control word, read the
 * slots, read the clock; a live slot with the fingerprint is a replay.
 * Otherwise write a free slot by compare-and-swap, then commit by
 * compare-and-swap of the control word from the value read before the
 * slots; when the commit fails (another check of this bucket committed
 * meanwhile) read again, ignoring our own slot.  Of two checks of one
 * signature that both commit, the later one read the control word after
 * the earlier's commit, hence after its slot was written, so it sees
 * that slot: at most one is accepted.  The clock is read after the
 * slots, and an accepted check reads it again after its commit and
 * refuses when REPLAY_GRACE has passed since E, so a thread stalled in
 * the middle of a check cannot reuse, nor miss, a slot that another
 * thread still needed.  No lock is held: a process killed at any
 * instant leaves at most a slot written without its commit, which can
 * only make a later check refuse.  Slot and control words are written
 * whole by one atomic instruction, never half.
 *
 * When the cache cannot decide it answers REPLAY_EXACT and the caller
 * asks the exact path, the store (store_replay_check): when the bucket
 * has no free slot (the overflow is committed first, so that every
 * check of that bucket also asks the store while the overflowed entry
 * could be replayed; no live entry is evicted); for a request whose
 * timestamp is not later than the table's birth + SLACK_MAX_SKEW, when
 * the table was made while the store held live replay entries (they may
 * have been accepted without the table: by a version of forcelink that
 * wrote every signature to the store, or by a program that could not
 * use the file); when this process could not map the file or sees its
 * header damaged.  Whatever a check sends to the store it also records
 * in the cache (an entry, or its bucket's overflow), so the store holds
 * nothing the cache does not know of, but for programs without the
 * file.
 *
 * A fingerprint collision can only make a check refuse: for a new
 * signature the chance is at most REPLAY_WAYS live slots of its bucket
 * times 2^-48, below 2.5e-14 per request.  A check that cannot commit
 * after REPLAY_TRIES attempts (a storm of other signatures on one
 * bucket) refuses too, as does one whose E has passed by the time it
 * runs (the request was about to go stale).
 *
 * What the cache cannot keep: a table rebuilt (damaged, of another size
 * or version) or removed loses the signatures only it held, and the
 * window reopens for them, as it does on PostgreSQL for the UNLOGGED
 * table after a server crash.  Removing the file while programs run
 * splits them: one started after makes a new file and does not see
 * what the running ones accept.  A rebuild keeps the slots of a file of
 * the right size whose header alone is wrong (a slot read from a
 * damaged file can only make a check refuse, or ask the store).  It
 * relies on the wall clock not stepping back while programs run, as the
 * store's expiry does.
 */
#ifndef FORCELINK_REPLAY_H
#define FORCELINK_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define REPLAY_HASHLEN	32	/* SHA-256 of the signature */
#define REPLAY_BUCKETS	32768
#define REPLAY_WAYS	7
#define REPLAY_GRACE	2	/* seconds an entry outlives E */
#define REPLAY_TRIES	64

/* The layout of the file.  REPLAY_VERSION changes with it. */
#define REPLAY_MAGIC	0x59414c5045524c46ULL	/* "FLREPLAY" */
#define REPLAY_VERSION	1
struct replay_hdr {
	uint64_t	 magic;
	uint32_t	 version;
	uint32_t	 nbuckets;	/* REPLAY_BUCKETS */
	uint64_t	 size;		/* REPLAY_FILE_SIZE */
	int64_t		 born;		/* when the table was (re)built, or
					   0: nothing predates it */
	uint64_t	 pad[4];
};
struct replay_bucket {
	uint64_t	 ctl;
	uint64_t	 slot[REPLAY_WAYS];
};
#define REPLAY_FILE_SIZE	(sizeof(struct replay_hdr) + \
			    REPLAY_BUCKETS * sizeof(struct replay_bucket))

enum replay_result {
	REPLAY_NEW,	/* not seen: recorded; accept */
	REPLAY_SEEN,	/* seen within its window (or see above): refuse */
	REPLAY_EXACT	/* the cache cannot decide: ask the store */
};

/*
 * Maps the cache at path (created when missing, rebuilt when its header
 * or size is wrong).  Call before forking the workers.  When it makes
 * the table it calls history(arg), under the file's lock: 0 when the
 * store holds no live replay entry (nothing was accepted without the
 * table), anything else (or history NULL) to send the requests that may
 * predate the table to the store as well.  Returns 0, or -1 (logged)
 * when the file cannot be used: every check then answers REPLAY_EXACT.
 * Until it is called, and after replay_close(), likewise.
 */
int	 replay_open(const char *path, int (*history)(void *), void *arg);

/* Unmaps the cache (tests, and a program that stops). */
void	 replay_close(void);

/*
 * Checks and records the signature whose SHA-256 is hash and whose
 * X-Slack-Request-Timestamp is ts, already verified by slack_verify().
 * Returns REPLAY_NEW, REPLAY_SEEN or REPLAY_EXACT as described above.
 * Safe from any thread of any process at once.
 */
enum replay_result replay_check(const unsigned char hash[REPLAY_HASHLEN],
	    int64_t ts);

/* A name for logs. */
const char	*replay_result_str(enum replay_result);

/* The clock replay_check() reads: time() unless a test sets another
 * (NULL restores time()). */
void	 replay_set_clock(time_t (*)(void));

/* What replay_stats() reads. */
struct replay_stats {
	long	 live;		/* entries that may still refuse a replay */
	long	 overflowed;	/* buckets sending checks to the store */
	int64_t	 born;		/* when the table was (re)built */
};

/*
 * Counts, as of now, the cache file at path (read only: it is neither
 * made nor repaired).  Returns 0; 1 when there is no such file; or -1
 * (logged) when it is not a valid table.
 */
int	 replay_stats(const char *path, time_t now, struct replay_stats *);

#endif

/*
 * replay: the host's lock-free cache of Slack signatures already seen
 * (see replay.h for the layout and why a check is safe).  The hot path
 * is replay_check(): one cache line of the mapping read, two
 * compare-and-swaps, no system call but the clock.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "replay.h"
#include "shmfile.h"
#include "slack.h"

/* The longest an accepted signature can still pass slack_verify():
 * its timestamp may be SLACK_MAX_SKEW ahead of our clock. */
#define REPLAY_MAXLIFE	(2 * SLACK_MAX_SKEW + 1)

#define SLOT_FP(v)	((v) >> 16)
#define SLOT_EXP(v)	((uint16_t)(v))
#define CTL_VER_ONE	((uint64_t)1 << 17)
#define CTL_MARKED	((uint64_t)1 << 16)
#define CTL_MARK(v)	((uint16_t)(v))

#define LOAD(p)		__atomic_load_n((p), __ATOMIC_SEQ_CST)
#define CAS(p, o, n)	__atomic_compare_exchange_n((p), &(o), (n), 0, \
			    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)

static struct replay_hdr	*replay_p;
static time_t			(*replay_clock)(void);
static int			 replay_warned;
/* replay_open()'s history(), for replay_build(). */
static int			(*replay_history)(void *);
static void			*replay_history_arg;

static time_t
replay_time(void)
{
	return replay_clock != NULL ? replay_clock() : time(NULL);
}

void
replay_set_clock(time_t (*fn)(void))
{
	replay_clock = fn;
}

/* Whether an entry (or overflow) expiring at e16 may still matter at
 * now: E - REPLAY_MAXLIFE <= now < E + REPLAY_GRACE, modulo 2^16. */
static int
replay_live(uint16_t e16, time_t now)
{
	int32_t	 d = (int16_t)(uint16_t)(e16 - (uint16_t)now);

	return d > -REPLAY_GRACE && d <= REPLAY_MAXLIFE;
}

_Static_assert(sizeof(struct replay_hdr) == 64 &&
    sizeof(struct replay_bucket) == 64, "one cache line each");

/* The buckets, right after the header. */
static struct replay_bucket *
replay_buckets(const struct replay_hdr *h)
{
	return (struct replay_bucket *)(uintptr_t)(h + 1);
}

/* Whether the header at p is ours (shmfile's valid()). */
static int
replay_valid(const void *p)
{
	const struct replay_hdr	*h = p;

	return LOAD(&h->magic) == REPLAY_MAGIC &&
	    h->version == REPLAY_VERSION && h->nbuckets == REPLAY_BUCKETS &&
	    h->size == REPLAY_FILE_SIZE;
}

/*
 * A fresh header (shmfile's build()).  The slots of a file whose header
 * alone was wrong are kept: whatever they hold can only make a check
 * refuse or ask the store, and they may hold live entries.  born sends
 * the requests that may predate the table to the store as well.
 */
static void
replay_build(void *p, int cleared)
{
	struct replay_hdr	*h = p;

	(void)cleared;
	__atomic_store_n(&h->magic, 0, __ATOMIC_SEQ_CST);
	h->version = REPLAY_VERSION;
	h->nbuckets = REPLAY_BUCKETS;
	h->size = REPLAY_FILE_SIZE;
	h->born = replay_history != NULL &&
	    replay_history(replay_history_arg) == 0 ? 0 :
	    (int64_t)replay_time();
	memset(h->pad, 0, sizeof(h->pad));
	__atomic_store_n(&h->magic, REPLAY_MAGIC, __ATOMIC_SEQ_CST);
}

static const struct shmfile_layout	 replay_layout = {
	"replay cache", REPLAY_FILE_SIZE, replay_valid, replay_build
};

int
replay_open(const char *path, int (*history)(void *), void *arg)
{
	struct replay_hdr	*h;
	int			 rebuilt;

	replay_close();
	replay_history = history;
	replay_history_arg = arg;
	h = shmfile_open(path, &replay_layout, &rebuilt);
	replay_history = NULL;
	replay_history_arg = NULL;
	if (h == NULL) {
		log_warn("msg=\"replay cache unusable: every signature goes "
		    "to the store\"");
		return -1;
	}
	if (rebuilt && h->born != 0)
		log_event(LOGL_INFO, "replay.made", "path=\"%s\" "
		    "store_until_ts=%lld", path,
		    (long long)h->born + SLACK_MAX_SKEW);
	else if (rebuilt)
		log_event(LOGL_INFO, "replay.made", "path=\"%s\"", path);
	replay_p = h;
	replay_warned = 0;
	return 0;
}

void
replay_close(void)
{
	shmfile_close(replay_p, REPLAY_FILE_SIZE);
	replay_p = NULL;
}

/* The commit of a bucket whose control word was c: counter + 1, the
 * overflow kept while it matters (extended to e16 when mark is set). */
static uint64_t
replay_commit(uint64_t c, time_t now, int mark, uint16_t e16)
{
	uint64_t	 n = (c & ~(CTL_VER_ONE - 1)) + CTL_VER_ONE;
	uint16_t	 m = CTL_MARK(c);
	int		 marked = (c & CTL_MARKED) && replay_live(m, now);

	if (mark && (!marked || (int16_t)(uint16_t)(e16 - m) > 0))
		m = e16, marked = 1;
	return marked ? n | CTL_MARKED | m : n;
}

enum replay_result
replay_check(const unsigned char hash[REPLAY_HASHLEN], int64_t ts)
{
	struct replay_hdr	*h = replay_p;
	struct replay_bucket	*b;
	uint64_t		 fp = 0, idx = 0, c, v[REPLAY_WAYS], mine_v;
	int64_t			 e;
	time_t			 now;
	int			 i, free_i, mine = -1, tries, exact;
	uint16_t		 e16;

	if (h == NULL)
		return REPLAY_EXACT;
	if (!replay_valid(h)) {
		if (!__atomic_exchange_n(&replay_warned, 1, __ATOMIC_RELAXED))
			log_error("msg=\"replay cache header damaged: every "
			    "signature goes to the store until a restart\"");
		return REPLAY_EXACT;
	}
	for (i = 0; i < 8; i++) {
		idx = idx << 8 | hash[i];
		if (i < 6)
			fp = fp << 8 | hash[8 + i];
	}
	if (fp == 0)
		fp = 1;
	e = ts + SLACK_MAX_SKEW + 1;
	e16 = (uint16_t)e;
	mine_v = fp << 16 | e16;
	b = &replay_buckets(h)[idx % REPLAY_BUCKETS];
	now = replay_time();
	/* Gone stale since slack_verify(), or a clock that stepped back:
	 * refused, since the store may not know what the cache accepted. */
	if (e <= (int64_t)now || e - (int64_t)now > REPLAY_MAXLIFE)
		return REPLAY_SEEN;
	exact = ts <= LOAD(&h->born) + SLACK_MAX_SKEW;

	for (tries = 0; tries < REPLAY_TRIES; tries++) {
		c = LOAD(&b->ctl);
		for (i = 0; i < REPLAY_WAYS; i++)
			v[i] = LOAD(&b->slot[i]);
		/* After the slots: a slot written before we read it was
		 * written before this reading of the clock. */
		now = replay_time();
		free_i = -1;
		for (i = 0; i < REPLAY_WAYS; i++) {
			if (v[i] != 0 && replay_live(SLOT_EXP(v[i]), now)) {
				if (SLOT_FP(v[i]) == fp && i != mine)
					return REPLAY_SEEN;
			} else if (free_i == -1)
				free_i = i;
		}
		if (mine == -1 && free_i == -1) {
			/* Full of live entries: the store decides, and every
			 * check of this bucket asks it too while this one
			 * could be replayed. */
			if (CAS(&b->ctl, c, replay_commit(c, now, 1, e16)))
				return REPLAY_EXACT;
			continue;
		}
		if (mine == -1) {
			if (!CAS(&b->slot[free_i], v[free_i], mine_v))
				continue;
			mine = free_i;
		}
		if (!CAS(&b->ctl, c, replay_commit(c, now, 0, 0)))
			continue;
		/* Stalled past E + REPLAY_GRACE: another check may have
		 * reused the slot we had to see.  Refuse. */
		if ((int64_t)replay_time() >= e + REPLAY_GRACE)
			return REPLAY_SEEN;
		if (exact || ((c & CTL_MARKED) && replay_live(CTL_MARK(c), now)))
			return REPLAY_EXACT;
		return REPLAY_NEW;
	}
	return REPLAY_SEEN;
}

const char *
replay_result_str(enum replay_result r)
{
	switch (r) {
	case REPLAY_NEW:
		return "new";
	case REPLAY_SEEN:
		return "seen";
	case REPLAY_EXACT:
		return "exact";
	}
	return "unknown";
}

int
replay_stats(const char *path, time_t now, struct replay_stats *st)
{
	const struct replay_hdr		*h = MAP_FAILED;
	const struct replay_bucket	*b;
	struct stat			 sb;
	uint64_t			 v, c;
	size_t				 i, j;
	int				 fd, rc = -1;

	memset(st, 0, sizeof(*st));
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 1;
		log_error("msg=\"open %s: %s\"", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_size != (off_t)REPLAY_FILE_SIZE) {
		log_error("msg=\"%s is not a replay cache\"", path);
		goto out;
	}
	h = mmap(NULL, REPLAY_FILE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED) {
		log_error("msg=\"mmap %s: %s\"", path, strerror(errno));
		goto out;
	}
	if (!replay_valid(h)) {
		log_error("msg=\"%s: replay cache header damaged\"", path);
		goto out;
	}
	st->born = h->born;
	b = replay_buckets(h);
	for (i = 0; i < REPLAY_BUCKETS; i++) {
		c = LOAD(&b[i].ctl);
		if ((c & CTL_MARKED) && replay_live(CTL_MARK(c), now))
			st->overflowed++;
		for (j = 0; j < REPLAY_WAYS; j++) {
			v = LOAD(&b[i].slot[j]);
			if (v != 0 && replay_live(SLOT_EXP(v), now))
				st->live++;
		}
	}
	rc = 0;
out:
	if (h != MAP_FAILED)
		munmap((void *)(uintptr_t)h, REPLAY_FILE_SIZE);
	close(fd);
	return rc;
}

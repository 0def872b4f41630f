/*
 * rekey: key rotation without downtime (see rekey.h for the procedure).
 *
 * This file owns the order of the steps, the rewriting of the key file,
 * the grace periods and the passes; the re-sealing itself, which needs
 * SQL and the associated data of each row, is in store_rekey.c.  What
 * makes the procedure safe:
 *
 *  - Writers seal under the key that is current once their transaction
 *    holds the write lock, and look at the key file at most a second
 *    earlier (store.c, keyring.c).  So once the grace period after the
 *    rewrite is over, no transaction can put a row under an old key any
 *    more, and a pass that then finds no such row is the last one needed.
 *  - Each batch is written with compare-and-set on everything the row was
 *    read with, so a refresh, relink or logout in between wins, and a
 *    killed run leaves every row either as it was or re-sealed, each whole
 *    (one transaction per batch).
 *  - Nothing is changed before every row is known to be sealed under a key
 *    this run holds, and the old keys leave the key file only after every
 *    row is under the new one.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "keyring.h"
#include "log.h"
#include "rekey.h"
#include "store.h"

/* A run that keeps finding changed rows gives up after this many passes
 * (each pass re-seals what did not change, so it takes a storm of
 * refreshes on the same rows to get here). */
#define REKEY_PASSES_MAX	50
/* Distinct key ids the census tells apart. */
#define REKEY_CENSUS_MAX	16

/* One run: the keys of the key file as found (old), the ring (the new
 * key, then the old ones without it), the database, and where to report.
 * total counts the rows re-sealed. */
struct rekey {
	const struct rekey_opts	*o;
	struct crypto_key	 old[KEYRING_MAX];
	size_t			 nold;
	struct crypto_key	 ring[KEYRING_MAX];
	size_t			 nring;
	struct keyring		*kr;
	struct store		*st;
	int			 lockfd;
	long			 total;
	char			*err;
	size_t			 errsz;
};

static const char *const rekey_result_names[] = {
	"ok", "badarg", "config", "busy", "failed"
};

const char *
rekey_result_str(enum rekey_result r)
{
	return rekey_result_names[r];
}

static enum rekey_result
rekey_fail(struct rekey *rk, enum rekey_result r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Fills the run's error line.  Returns r. */
static enum rekey_result
rekey_fail(struct rekey *rk, enum rekey_result r, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(rk->err, rk->errsz, fmt, ap);
	va_end(ap);
	return r;
}

static void
rekey_say(const struct rekey *rk, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* One progress line, flushed at once (a pipe would hold it back). */
static void
rekey_say(const struct rekey *rk, const char *fmt, ...)
{
	va_list	 ap;

	if (rk->o->out == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(rk->o->out, fmt, ap);
	va_end(ap);
	fputc('\n', rk->o->out);
	fflush(rk->o->out);
}

static void
rekey_sleep_ms(long ms)
{
	struct timespec	 ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		continue;
}

static enum rekey_result
rekey_from_store(enum store_result r)
{
	return r == STORE_BUSY ? REKEY_BUSY : REKEY_FAILED;
}

enum rekey_result
rekey_pass(struct store *st, int batch, int pause_ms,
    struct store_rekey_counts *c)
{
	static const enum store_rekey_table tables[] = {
		STORE_REKEY_LINKS, STORE_REKEY_STATES, STORE_REKEY_SEARCHES,
		STORE_REKEY_PENDING,
		STORE_REKEY_INSTALLS, STORE_REKEY_INTEGRATIONS,
		STORE_REKEY_ITOKENS, STORE_REKEY_ACTIONS
	};
	struct store_rekey_counts	 one;
	struct store_rekey		*b = NULL;
	enum store_result		 r;
	int64_t				 cursor;
	size_t				 t;

	for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		cursor = 0;
		do {
			r = store_rekey_read(st, tables[t], &cursor, batch, &b,
			    &one);
			if (r == STORE_OK)
				r = store_rekey_write(st, b, &one);
			store_rekey_free(b);
			b = NULL;
			if (r != STORE_OK)
				return rekey_from_store(r);
			c->read += one.read;
			c->resealed += one.resealed;
			c->changed += one.changed;
			c->unknown_key += one.unknown_key;
			c->unopenable += one.unopenable;
			if (one.read == batch)
				rekey_sleep_ms(pause_ms);
		} while (one.read == batch);
	}
	return REKEY_OK;
}

/* --- The key file ------------------------------------------------------ */

/* Writes all of len bytes.  Returns 0 or -1. */
static int
rekey_write_all(int fd, const char *p, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Syncs the directory that holds path, so a rename in it is durable.
 * Returns 0 or -1. */
static int
rekey_sync_dir(const char *path)
{
	char	 dir[PATH_MAX];
	char	*slash;
	int	 fd, rc;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
rekey_write_keyfile(const char *path, const struct crypto_key *keys,
    size_t n, char *err, size_t errsz)
{
	struct stat	 sb;
	char		 real[PATH_MAX], tmp[PATH_MAX + 32];
	char		*text = NULL, *slash;
	int		 fd = -1, rc = -1;

	tmp[0] = '\0';
	if (realpath(path, real) == NULL || stat(real, &sb) == -1) {
		snprintf(err, errsz, "FORCELINK_KEY_FILE: %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if ((text = keyring_format(keys, n)) == NULL) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	/* The temporary file is next to the real one, so that the rename
	 * stays within one file system, and starts with mode 0600. */
	slash = strrchr(real, '/');
	snprintf(tmp, sizeof(tmp), "%.*s/.%s.rotate-XXXXXX",
	    (int)(slash - real), real, slash + 1);
	if ((fd = mkstemp(tmp)) == -1) {
		snprintf(err, errsz, "cannot create a temporary file next to "
		    "%s: %s", real, strerror(errno));
		tmp[0] = '\0';
		goto out;
	}
	if (rekey_write_all(fd, text, strlen(text)) == -1 ||
	    fchown(fd, sb.st_uid, sb.st_gid) == -1 ||
	    fchmod(fd, sb.st_mode & 07777) == -1 || fsync(fd) == -1) {
		snprintf(err, errsz, "cannot write %s (same owner and mode as "
		    "%s): %s", tmp, real, strerror(errno));
		goto out;
	}
	if (close(fd) == -1 || (fd = -1, rename(tmp, real) == -1)) {
		fd = -1;
		snprintf(err, errsz, "cannot replace %s: %s", real,
		    strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	if (rekey_sync_dir(real) == -1) {
		snprintf(err, errsz, "%s was replaced, but syncing its "
		    "directory failed: %s", real, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (tmp[0] != '\0')
		unlink(tmp);
	crypto_free_secret(text);
	return rc;
}

/* Rewrites the key file with the first n keys of the ring and says so. */
static enum rekey_result
rekey_rewrite(struct rekey *rk, size_t n)
{
	char	 why[PATH_MAX + 256];

	if (rekey_write_keyfile(rk->o->key_path, rk->ring, n, why,
	    sizeof(why)) == -1)
		return rekey_fail(rk, REKEY_FAILED, "%s", why);
	if (n == 1)
		rekey_say(rk, "key file: now holds the new key alone");
	else
		rekey_say(rk, "key file: the new key first, then %zu "
		    "previous key%s", n - 1, n == 2 ? "" : "s");
	return REKEY_OK;
}

/* Waits secs seconds for every program to load the key file. */
static void
rekey_grace(const struct rekey *rk, long secs)
{
	if (secs <= 0)
		return;
	rekey_say(rk, "waiting %ld s for every program to load the key file",
	    secs);
	rekey_sleep_ms(secs * 1000);
}

/* Where the run's current keys come from, for its messages. */
static const char *
rekey_keys(const struct rekey *rk)
{
	return rk->o->key_path != NULL ? "FORCELINK_KEY_FILE" :
	    "FORCELINK_KEY";
}

/* --- Steps --------------------------------------------------------------- */

/*
 * Reads the key file and the new key, and makes the ring: the new key,
 * then the keys of the file without it.  Returns REKEY_OK, REKEY_BADARG
 * (the new key file) or REKEY_CONFIG (the key file).
 */
static enum rekey_result
rekey_load_keys(struct rekey *rk)
{
	struct crypto_key	 fresh[KEYRING_MAX];
	char			 why[PATH_MAX + 256];
	size_t			 nfresh, i;
	enum rekey_result	 r = REKEY_OK;
	int			 rc;

	if (rk->o->key_path != NULL)
		rc = keyring_read_file(rk->o->key_path, rk->old, &rk->nold,
		    why, sizeof(why));
	else
		rc = keyring_parse(rk->o->env_keys != NULL ?
		    rk->o->env_keys : "", rk->old, &rk->nold, why,
		    sizeof(why));
	if (rc == -1)
		return rekey_fail(rk, REKEY_CONFIG, "%s: %s", rekey_keys(rk),
		    why);
	if (keyring_read_file(rk->o->new_key_path, fresh, &nfresh, why,
	    sizeof(why)) == -1) {
		r = rekey_fail(rk, REKEY_BADARG, "--new-key-file: %s (it "
		    "must hold the base64 of 32 random bytes, e.g. made with "
		    "head -c32 /dev/urandom | base64)", why);
		goto out;
	}
	if (nfresh != 1) {
		r = rekey_fail(rk, REKEY_BADARG, "--new-key-file: %s holds "
		    "%zu keys; it must hold the new key alone",
		    rk->o->new_key_path, nfresh);
		goto out;
	}
	/* The programs seal with FORCELINK_KEY's first key, read once when
	 * they start: re-sealing under a key they lack would lock them out
	 * of every row re-sealed. */
	if (rk->o->key_path == NULL &&
	    strcmp(rk->old[0].id, fresh[0].id) != 0) {
		r = rekey_fail(rk, REKEY_CONFIG, "FORCELINK_KEY does not start "
		    "with the new key (key id %s): the programs read "
		    "FORCELINK_KEY only when they start, so first set it to "
		    "the new key, a space and the current key (FORCELINK_KEY="
		    "\"NEW OLD\" in the environment file), restart the four "
		    "programs, then run rotate-key again (README, \"Key "
		    "rotation\"); nothing was changed", fresh[0].id);
		goto out;
	}
	rk->ring[0] = fresh[0];
	rk->nring = 1;
	for (i = 0; i < rk->nold; i++) {
		if (strcmp(rk->old[i].id, fresh[0].id) == 0)
			continue;
		if (rk->nring == KEYRING_MAX) {
			r = rekey_fail(rk, REKEY_CONFIG, "%s already holds %zu "
			    "keys: with the new one that is more than %d; "
			    "finish or undo the earlier rotation first",
			    rekey_keys(rk), rk->nold, KEYRING_MAX);
			goto out;
		}
		rk->ring[rk->nring++] = rk->old[i];
	}
out:
	crypto_wipe(fresh, sizeof(fresh));
	return r;
}

/* The store lock of a rotation on a PostgreSQL store (store_lock_try). */
#define REKEY_LOCK_NAME	"forcelink-admin rotate-key"

/*
 * Makes sure only one rotation runs on a database: two at once, to
 * different keys, would each drop the other's key from the key file.
 * On SQLite a lock file beside the database, taken before the database
 * is opened; on PostgreSQL, where rotations may start on any host, a
 * lock of the store's, taken once it is open (rekey_open).  Returns
 * REKEY_OK (the lock is held until the run ends) or REKEY_BUSY.
 */
static enum rekey_result
rekey_lock(struct rekey *rk)
{
	char	 path[PATH_MAX];

	if (store_is_uri(rk->o->db_path))
		return REKEY_OK;
	if (snprintf(path, sizeof(path), "%s-rotate.lock", rk->o->db_path) >=
	    (int)sizeof(path))
		return rekey_fail(rk, REKEY_CONFIG, "FORCELINK_DB: path too "
		    "long");
	if ((rk->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) ==
	    -1)
		return rekey_fail(rk, REKEY_FAILED, "cannot open %s: %s",
		    path, strerror(errno));
	if (flock(rk->lockfd, LOCK_EX | LOCK_NB) == -1)
		return rekey_fail(rk, errno == EWOULDBLOCK ? REKEY_BUSY :
		    REKEY_FAILED, "another rotate-key is running on %s (%s)",
		    rk->o->db_path, strerror(errno));
	return REKEY_OK;
}

/* Opens the database with the ring.  Returns REKEY_OK, REKEY_CONFIG (no
 * database there), REKEY_BUSY (another rotation on a PostgreSQL store)
 * or REKEY_FAILED. */
static enum rekey_result
rekey_open(struct rekey *rk)
{
	struct stat	 sb;
	int		 pg = store_is_uri(rk->o->db_path);

	/* store_open() would create a missing SQLite file; a rotation must
	 * not, it would only mean FORCELINK_DB is wrong. */
	if (!pg && stat(rk->o->db_path, &sb) == -1)
		return rekey_fail(rk, REKEY_CONFIG, "FORCELINK_DB: %s: %s",
		    rk->o->db_path, strerror(errno));
	if ((rk->kr = keyring_from_keys(rk->ring, rk->nring)) == NULL)
		return rekey_fail(rk, REKEY_FAILED, "out of memory");
	/* A server's database that cannot be opened is missing, out of
	 * reach or refuses the role: FORCELINK_DB's fault, as a missing
	 * file is. */
	if ((rk->st = store_open_keyring(rk->o->db_path, rk->kr)) == NULL)
		return rekey_fail(rk, pg ? REKEY_CONFIG : REKEY_FAILED,
		    "%scannot open the database %s (see the line above)",
		    pg ? "FORCELINK_DB: " : "", rk->o->db_path);
	if (pg) {
		switch (store_lock_try(rk->st, REKEY_LOCK_NAME)) {
		case 1:
			break;
		case 0:
			return rekey_fail(rk, REKEY_BUSY, "another rotate-key "
			    "is running on %s", rk->o->db_path);
		default:
			return rekey_fail(rk, REKEY_FAILED, "cannot take the "
			    "rotation lock (see the line above)");
		}
	}
	return REKEY_OK;
}

/*
 * Counts the rows not under the new key (*remaining) and, of those, the
 * ones under a key the ring does not hold (*unknown, with one such id in
 * unknown_id).  Returns REKEY_OK, REKEY_BUSY or REKEY_FAILED.
 */
static enum rekey_result
rekey_count(struct rekey *rk, long *remaining, long *unknown,
    char unknown_id[CRYPTO_KEYID_LEN + 1])
{
	struct store_key_count	 kc[REKEY_CENSUS_MAX];
	enum store_result	 sr;
	size_t			 n, i, j;
	long			 rows;

	*remaining = *unknown = 0;
	unknown_id[0] = '\0';
	if ((sr = store_key_census(rk->st, kc, REKEY_CENSUS_MAX, &n)) !=
	    STORE_OK)
		return rekey_fail(rk, rekey_from_store(sr), "cannot count the "
		    "rows by key (%s)", sr == STORE_BUSY ? "the database is "
		    "locked" : "see the line above");
	for (i = 0; i < n; i++) {
		rows = store_key_count_rows(&kc[i]);
		if (strcmp(kc[i].key_id, rk->ring[0].id) == 0)
			continue;
		*remaining += rows;
		for (j = 0; j < rk->nring; j++)
			if (strcmp(kc[i].key_id, rk->ring[j].id) == 0)
				break;
		if (j == rk->nring) {
			*unknown += rows;
			snprintf(unknown_id, CRYPTO_KEYID_LEN + 1, "%.16s",
			    kc[i].key_id[0] != '\0' ? kc[i].key_id : "?");
		}
	}
	return REKEY_OK;
}

/*
 * Before anything changes: every row must be under a key of the ring, and
 * a new key that is already the only one has nothing to rotate.  Returns
 * REKEY_OK, REKEY_CONFIG, REKEY_BADARG or a failure of rekey_count().
 */
static enum rekey_result
rekey_check(struct rekey *rk)
{
	char			 id[CRYPTO_KEYID_LEN + 1];
	enum rekey_result	 r;
	long			 remaining, unknown;

	if ((r = rekey_count(rk, &remaining, &unknown, id)) != REKEY_OK)
		return r;
	if (unknown > 0)
		return rekey_fail(rk, REKEY_CONFIG, "%ld row%s sealed under "
		    "key id %s%s, which neither %s nor the new key holds; add "
		    "that key to %s (or unlink those users) and run "
		    "rotate-key again; nothing was changed", unknown,
		    unknown == 1 ? " is" : "s are", id, unknown > 1 ?
		    " (or others)" : "", rekey_keys(rk),
		    rk->o->key_path != NULL ? "FORCELINK_KEY_FILE as one more "
		    "line" : "FORCELINK_KEY after a space, restart the "
		    "programs,");
	if (rk->nold == 1 && strcmp(rk->old[0].id, rk->ring[0].id) == 0 &&
	    remaining == 0)
		return rekey_fail(rk, REKEY_BADARG, "the key in %s (key id %s) "
		    "is already the current and only key of %s and every row "
		    "is sealed under it: nothing to rotate; make a new key "
		    "with head -c32 /dev/urandom | base64",
		    rk->o->new_key_path, rk->ring[0].id, rekey_keys(rk));
	return REKEY_OK;
}

/*
 * Steps 1 and 2: the new key first in the key file, then the grace
 * period.  A rerun finds it first already and waits only for what is left
 * of the grace period since the file was written.
 */
static enum rekey_result
rekey_switch(struct rekey *rk)
{
	struct stat		 sb;
	enum rekey_result	 r;
	long			 age;

	if (rk->o->key_path == NULL) {
		rekey_say(rk, "FORCELINK_KEY: the new key is first (the "
		    "programs were restarted with it)");
		return REKEY_OK;
	}
	if (strcmp(rk->old[0].id, rk->ring[0].id) != 0) {
		if ((r = rekey_rewrite(rk, rk->nring)) != REKEY_OK)
			return r;
		rekey_grace(rk, rk->o->grace);
		return REKEY_OK;
	}
	rekey_say(rk, "key file: the new key is first already (resuming)");
	age = stat(rk->o->key_path, &sb) == 0 ?
	    (long)(time(NULL) - sb.st_mtime) : 0;
	if (age >= 0 && age < rk->o->grace)
		rekey_grace(rk, rk->o->grace - age);
	return REKEY_OK;
}

/*
 * Step 3 (and the stragglers of step 4): passes until no row is left
 * outside the new key.  Prints one line per pass.  Returns REKEY_OK, or
 * REKEY_CONFIG / REKEY_FAILED when rows are left that cannot be re-sealed
 * (under a key the ring lacks, or not opening), REKEY_BUSY.
 */
static enum rekey_result
rekey_passes(struct rekey *rk, const char *label)
{
	struct store_rekey_counts	 c;
	enum rekey_result		 r;
	char				 id[CRYPTO_KEYID_LEN + 1];
	long				 remaining, unknown;
	int				 pass;

	for (pass = 1; ; pass++) {
		memset(&c, 0, sizeof(c));
		if ((r = rekey_pass(rk->st, rk->o->batch, rk->o->pause_ms,
		    &c)) != REKEY_OK)
			return rekey_fail(rk, r, "re-sealing failed (%s); run "
			    "rotate-key again to resume", r == REKEY_BUSY ?
			    "the database is locked" : "see the line above");
		if ((r = rekey_count(rk, &remaining, &unknown, id)) !=
		    REKEY_OK)
			return r;
		rk->total += c.resealed;
		rekey_say(rk, "%s %d: %ld rows re-sealed, %ld changed "
		    "meanwhile, %ld remaining", label, pass, c.resealed,
		    c.changed, remaining);
		if (remaining == 0)
			return REKEY_OK;
		if (c.resealed == 0 && c.changed == 0)
			break;
		if (pass == REKEY_PASSES_MAX)
			return rekey_fail(rk, REKEY_FAILED, "rows keep "
			    "changing during re-sealing after %d passes; run "
			    "rotate-key again to resume", pass);
	}
	if (unknown > 0)
		return rekey_fail(rk, REKEY_CONFIG, "%ld rows are sealed under "
		    "key id %s, which this run does not hold; %s keeps the "
		    "previous keys; add that key to it and run rotate-key "
		    "again", unknown, id, rekey_keys(rk));
	return rekey_fail(rk, REKEY_FAILED, "%ld rows do not open with the key "
	    "their key id names (altered?) and were left as they are (see the "
	    "lines above); the key file keeps the previous keys", remaining);
}

/*
 * Step 4: the new key alone in the key file, the grace period, then the
 * rows a slow writer put under an old key meanwhile.
 */
static enum rekey_result
rekey_finish(struct rekey *rk)
{
	enum rekey_result	 r;

	if (rk->o->key_path != NULL && (rk->nold != 1 ||
	    strcmp(rk->old[0].id, rk->ring[0].id) != 0)) {
		if ((r = rekey_rewrite(rk, 1)) != REKEY_OK)
			return r;
		rekey_grace(rk, rk->o->grace);
	}
	return rekey_passes(rk, "straggler pass");
}

enum rekey_result
rekey_run(const struct rekey_opts *o, char *err, size_t errsz)
{
	struct rekey		 rk;
	enum rekey_result	 r;

	memset(&rk, 0, sizeof(rk));
	rk.o = o;
	rk.err = err;
	rk.errsz = errsz;
	rk.lockfd = -1;
	if ((r = rekey_load_keys(&rk)) != REKEY_OK ||
	    (r = rekey_lock(&rk)) != REKEY_OK ||
	    (r = rekey_open(&rk)) != REKEY_OK ||
	    (r = rekey_check(&rk)) != REKEY_OK)
		goto out;
	rekey_say(&rk, "rotating to key id %s (%s: %zu key%s, current key id "
	    "%s)", rk.ring[0].id, rekey_keys(&rk), rk.nold, rk.nold == 1 ?
	    "" : "s", rk.old[0].id);
	if ((r = rekey_switch(&rk)) != REKEY_OK ||
	    (r = rekey_passes(&rk, "pass")) != REKEY_OK ||
	    (r = rekey_finish(&rk)) != REKEY_OK)
		goto out;
	rekey_say(&rk, "done: %ld rows re-sealed; every row is sealed under "
	    "key id %s", rk.total, rk.ring[0].id);
	if (o->key_path == NULL && rk.nold > 1)
		rekey_say(&rk, "now set FORCELINK_KEY to the new key alone and "
		    "restart the programs");
	log_event(LOGL_INFO, "key.rotated", "key_id=%s resealed=%ld",
	    rk.ring[0].id, rk.total);
out:
	store_close(rk.st);
	keyring_free(rk.kr);
	if (rk.lockfd != -1)
		close(rk.lockfd);
	crypto_wipe(rk.old, sizeof(rk.old));
	crypto_wipe(rk.ring, sizeof(rk.ring));
	return r;
}

/*
 * keyring: the token-encryption keys a program holds (see keyring.h).
 *
 * This file owns the keyring text format, the reading of FORCELINK_KEY_FILE
 * and its reload while the program runs, and the lifetime of key
 * material in memory.  The rest of the code sees keys only through a
 * snapshot it holds, so a reload in one thread never frees keys another
 * thread is using: snapshots are immutable and reference-counted, and the
 * keyring's current one is swapped under a mutex that only a thread
 * whose snapshot is out of date, or that reloads the file, ever takes.
 *
 * A file changes when a rotation rewrites it (forcelink-admin rotate-key
 * writes a temporary file and renames it over the old one, so a reader
 * sees the old or the new keyring, never half of one).  An admin who edits
 * it in place may be caught mid-write: the text then does not parse, the
 * keys held stay in use, and the next change of the file is loaded.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "keyring.h"
#include "log.h"

/* Longest keyring text: KEYRING_MAX keys of 44 characters leave plenty of
 * room for white space and blank lines. */
#define KEYRING_TEXT_MAX	4096
/* Longest word that might be a key: a key is 44 characters of base64. */
#define KEYRING_WORD_MAX	128

struct keyring_snap {
	atomic_uint		 refs;
	size_t			 n;
	struct crypto_key	 keys[KEYRING_MAX];
};

/* What identifies one version of the file: a rename gives a new inode, an
 * edit in place a new size or new times. */
struct keyring_fileid {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
	struct timespec	 ctime;
	int		 exists;
};

/*
 * path is NULL for a keyring that never reloads.  mu guards the swaps of
 * snap and fileid; snap holds one reference to the current snapshot;
 * checked is the monotonic second of the last look at the file; fileid
 * is the version of the file last loaded or tried.
 */
struct keyring {
	char				*path;
	pthread_mutex_t			 mu;
	_Atomic(struct keyring_snap *)	 snap;
	atomic_llong			 checked;
	struct keyring_fileid		 fileid;
};

static int
keyring_fail(char *err, size_t errsz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
keyring_fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return -1;
}

int
keyring_parse(const char *text, struct crypto_key keys[KEYRING_MAX],
    size_t *n, char *err, size_t errsz)
{
	char		 word[KEYRING_WORD_MAX];
	const char	*p;
	size_t		 len, i, count = 0;
	int		 lineno = 1, rc = -1;

	*n = 0;
	for (p = text; p != NULL && *p != '\0'; p += len) {
		if (isspace((unsigned char)*p)) {
			lineno += *p == '\n';
			len = 1;
			continue;
		}
		for (len = 0; p[len] != '\0' && !isspace((unsigned char)p[len]);
		    len++)
			continue;
		if (count == KEYRING_MAX) {
			keyring_fail(err, errsz, "more than %d keys",
			    KEYRING_MAX);
			goto out;
		}
		if (len >= sizeof(word)) {
			keyring_fail(err, errsz, "key %zu (line %d) is not the "
			    "base64 of 32 bytes", count + 1, lineno);
			goto out;
		}
		memcpy(word, p, len);
		word[len] = '\0';
		if (crypto_key_from_base64(&keys[count], word) == -1) {
			keyring_fail(err, errsz, "key %zu (line %d) is not the "
			    "base64 of 32 bytes", count + 1, lineno);
			goto out;
		}
		for (i = 0; i < count; i++)
			if (strcmp(keys[i].id, keys[count].id) == 0)
				break;
		if (i < count) {
			keyring_fail(err, errsz, "key %zu (line %d) is the "
			    "same key as key %zu (key id %s)", count + 1,
			    lineno, i + 1, keys[i].id);
			goto out;
		}
		count++;
	}
	if (count == 0) {
		keyring_fail(err, errsz, "no key (expected the base64 of 32 "
		    "random bytes)");
		goto out;
	}
	*n = count;
	rc = 0;
out:
	crypto_wipe(word, sizeof(word));
	if (rc == -1)
		crypto_wipe(keys, sizeof(keys[0]) * KEYRING_MAX);
	return rc;
}

char *
keyring_format(const struct crypto_key *keys, size_t n)
{
	char	*text = NULL, *b64;
	size_t	 i, len, off = 0;

	if (n == 0 || n > KEYRING_MAX)
		return NULL;
	/* 44 characters of base64 and a newline per key. */
	len = n * 45 + 1;
	if ((text = malloc(len)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if ((b64 = crypto_base64(keys[i].key, CRYPTO_KEYLEN)) == NULL) {
			crypto_wipe(text, len);
			free(text);
			return NULL;
		}
		off += (size_t)snprintf(text + off, len - off, "%s\n", b64);
		crypto_free_secret(b64);
	}
	return text;
}

int
keyring_read_file(const char *path, struct crypto_key keys[KEYRING_MAX],
    size_t *n, char *err, size_t errsz)
{
	char	 text[KEYRING_TEXT_MAX + 1];
	char	 perr[128];
	size_t	 len = 0;
	ssize_t	 r = 0;
	int	 fd, rc = -1;

	*n = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return keyring_fail(err, errsz, "cannot read %s: %s", path,
		    strerror(errno));
	/* One byte more than the limit, to tell "full" from "too large". */
	while (len < sizeof(text) &&
	    (r = read(fd, text + len, sizeof(text) - len)) > 0)
		len += (size_t)r;
	if (r == -1) {
		keyring_fail(err, errsz, "cannot read %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if (len > KEYRING_TEXT_MAX) {
		keyring_fail(err, errsz, "%s is too large to be a keyring",
		    path);
		goto out;
	}
	text[len] = '\0';
	if (memchr(text, '\0', len) != NULL) {
		keyring_fail(err, errsz, "%s: not a keyring (binary data)",
		    path);
		goto out;
	}
	if (keyring_parse(text, keys, n, perr, sizeof(perr)) == -1) {
		keyring_fail(err, errsz, "%s: %s", path, perr);
		goto out;
	}
	rc = 0;
out:
	close(fd);
	crypto_wipe(text, sizeof(text));
	return rc;
}

/* A new snapshot of n keys, with one reference.  NULL on memory
 * exhaustion. */
static struct keyring_snap *
keyring_snap_new(const struct crypto_key *keys, size_t n)
{
	struct keyring_snap	*s;

	if (n == 0 || n > KEYRING_MAX || (s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	atomic_init(&s->refs, 1);
	s->n = n;
	memcpy(s->keys, keys, n * sizeof(keys[0]));
	return s;
}

void
keyring_release(struct keyring_snap *s)
{
	if (s == NULL)
		return;
	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	crypto_wipe(s, sizeof(*s));
	free(s);
}

/* The monotonic clock in whole seconds. */
static long long
keyring_second(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec;
}

/* Reads the identity of the file at path into *id (exists = 0 when it
 * cannot be looked at). */
static void
keyring_stat(const char *path, struct keyring_fileid *id)
{
	struct stat	 sb;

	memset(id, 0, sizeof(*id));
	if (stat(path, &sb) == -1)
		return;
	id->exists = 1;
	id->dev = sb.st_dev;
	id->ino = sb.st_ino;
	id->size = sb.st_size;
	id->mtime = sb.st_mtim;
	id->ctime = sb.st_ctim;
}

static int
keyring_same_file(const struct keyring_fileid *a,
    const struct keyring_fileid *b)
{
	return a->exists == b->exists && a->dev == b->dev &&
	    a->ino == b->ino && a->size == b->size &&
	    a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec &&
	    a->ctime.tv_sec == b->ctime.tv_sec &&
	    a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* Whether two snapshots hold the same keys in the same order. */
static int
keyring_same_keys(const struct keyring_snap *a, const struct keyring_snap *b)
{
	size_t	 i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->keys[i].id, b->keys[i].id) != 0)
			return 0;
	return 1;
}

/*
 * With kr->mu held: loads the file when it is not the version last looked
 * at.  The identity is taken before reading, so a change made while
 * reading shows as another change next time.  A file that cannot be read
 * or parsed is logged once per version of it.  Returns 1 when the keys
 * changed, 0 when not, -1 on failure.
 */
static int
keyring_load_locked(struct keyring *kr)
{
	struct crypto_key	 keys[KEYRING_MAX];
	struct keyring_fileid	 id;
	struct keyring_snap	*s = NULL, *old;
	char			 err[256];
	size_t			 n;
	int			 rc = -1;

	keyring_stat(kr->path, &id);
	if (keyring_same_file(&id, &kr->fileid))
		return 0;
	kr->fileid = id;
	if (keyring_read_file(kr->path, keys, &n, err, sizeof(err)) == -1) {
		log_error("msg=\"FORCELINK_KEY_FILE changed but cannot be "
		    "used: %s; the keys loaded before stay in use\"", err);
		goto out;
	}
	if ((s = keyring_snap_new(keys, n)) == NULL) {
		log_error("msg=\"out of memory\"");
		/* Try again at the next look. */
		memset(&kr->fileid, 0, sizeof(kr->fileid));
		goto out;
	}
	old = atomic_load_explicit(&kr->snap, memory_order_relaxed);
	if (keyring_same_keys(s, old)) {
		rc = 0;
		goto out;
	}
	atomic_store_explicit(&kr->snap, s, memory_order_release);
	log_event(LOGL_INFO, "keyring.loaded", "keys=%zu current=%s",
	    s->n, s->keys[0].id);
	s = NULL;
	keyring_release(old);
	rc = 1;
out:
	keyring_release(s);
	crypto_wipe(keys, sizeof(keys));
	return rc;
}

/* A keyring around snapshot s (whose reference it takes over), following
 * path when not NULL.  Returns NULL on memory exhaustion (s is then
 * released). */
static struct keyring *
keyring_new(struct keyring_snap *s, const char *path)
{
	struct keyring	*kr;

	if (s == NULL)
		return NULL;
	if ((kr = calloc(1, sizeof(*kr))) == NULL ||
	    (path != NULL && (kr->path = strdup(path)) == NULL)) {
		free(kr);
		keyring_release(s);
		return NULL;
	}
	pthread_mutex_init(&kr->mu, NULL);
	atomic_init(&kr->snap, s);
	atomic_init(&kr->checked, keyring_second());
	return kr;
}

struct keyring *
keyring_from_keys(const struct crypto_key *keys, size_t n)
{
	return keyring_new(keyring_snap_new(keys, n), NULL);
}

struct keyring *
keyring_from_text(const char *text, char *err, size_t errsz)
{
	struct crypto_key	 keys[KEYRING_MAX];
	struct keyring		*kr = NULL;
	size_t			 n;

	if (keyring_parse(text, keys, &n, err, errsz) == -1)
		return NULL;
	if ((kr = keyring_from_keys(keys, n)) == NULL)
		keyring_fail(err, errsz, "out of memory");
	crypto_wipe(keys, sizeof(keys));
	return kr;
}

struct keyring *
keyring_from_file(const char *path, char *err, size_t errsz)
{
	struct crypto_key	 keys[KEYRING_MAX];
	struct keyring_fileid	 id;
	struct keyring		*kr = NULL;
	size_t			 n;

	keyring_stat(path, &id);
	if (keyring_read_file(path, keys, &n, err, errsz) == -1)
		return NULL;
	if ((kr = keyring_new(keyring_snap_new(keys, n), path)) == NULL)
		keyring_fail(err, errsz, "out of memory");
	else
		kr->fileid = id;
	crypto_wipe(keys, sizeof(keys));
	return kr;
}

void
keyring_free(struct keyring *kr)
{
	if (kr == NULL)
		return;
	keyring_release(atomic_load(&kr->snap));
	pthread_mutex_destroy(&kr->mu);
	free(kr->path);
	free(kr);
}

const char *
keyring_path(const struct keyring *kr)
{
	return kr->path;
}

int
keyring_reload(struct keyring *kr)
{
	int	 rc;

	if (kr->path == NULL)
		return 0;
	pthread_mutex_lock(&kr->mu);
	rc = keyring_load_locked(kr);
	pthread_mutex_unlock(&kr->mu);
	return rc;
}

void
keyring_update(struct keyring *kr, struct keyring_snap **snap)
{
	struct keyring_snap	*s;
	long long		 now, last;

	/*
	 * Of the threads that arrive in a new second, the one that moves
	 * "checked" forward looks at the file; the others go on with the
	 * keys they have, which are then at most a second old.
	 */
	if (kr->path != NULL) {
		now = keyring_second();
		last = atomic_load_explicit(&kr->checked,
		    memory_order_relaxed);
		if (last != now && atomic_compare_exchange_strong(
		    &kr->checked, &last, now))
			(void)keyring_reload(kr);
	}
	/* Holding *snap keeps it alive, so an equal pointer is the same
	 * snapshot, not a new one at a recycled address. */
	if (*snap != NULL && atomic_load_explicit(&kr->snap,
	    memory_order_acquire) == *snap)
		return;
	pthread_mutex_lock(&kr->mu);
	s = atomic_load_explicit(&kr->snap, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&kr->mu);
	keyring_release(*snap);
	*snap = s;
}

const struct crypto_key *
keyring_current(const struct keyring_snap *s)
{
	return &s->keys[0];
}

const struct crypto_key *
keyring_find(const struct keyring_snap *s, const char *id)
{
	size_t	 i;

	if (id == NULL)
		return NULL;
	for (i = 0; i < s->n; i++)
		if (strcmp(s->keys[i].id, id) == 0)
			return &s->keys[i];
	return NULL;
}

size_t
keyring_count(const struct keyring_snap *s)
{
	return s->n;
}

const struct crypto_key *
keyring_key(const struct keyring_snap *s, size_t i)
{
	return i < s->n ? &s->keys[i] : NULL;
}

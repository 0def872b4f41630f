/*
 * store: everything forcelink keeps (see store.h), in SQLite or
 * PostgreSQL.
 *
 * This file is the helper family every table family uses (store_int.h),
 * each call handed to the connection's engine (store_sqlite.c,
 * store_pg.c, chosen and opened by store_open.c), and what does not
 * depend on the engine: the keys and the columns made of several.  The statements'
 * SQL is in store_sql.c and store_sql_pg.c, the sealing in
 * store_seal.c, and each table family in a file of its own.
 *
 * Keys: a connection follows its program's keyring (keyring.h).  A row is
 * opened with the key its key id names, and every seal uses the key that
 * is current once the write transaction holds the lock (store_keys()), so
 * that a key rotation (rekey.c) knows when no row can appear under an old
 * key any more.  The re-sealing of a rotation is in store_rekey.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"
#include "schema.h"
#include "store_int.h"


const char *
store_result_str(enum store_result r)
{
	switch (r) {
	case STORE_OK:
		return "ok";
	case STORE_NOTFOUND:
		return "notfound";
	case STORE_USED:
		return "used";
	case STORE_EXPIRED:
		return "expired";
	case STORE_MISMATCH:
		return "mismatch";
	case STORE_CONFLICT:
		return "conflict";
	case STORE_EXISTS:
		return "exists";
	case STORE_BADKEY:
		return "badkey";
	case STORE_BUSY:
		return "busy";
	case STORE_ERROR:
		return "error";
	}
	return "unknown";
}

int
store_schema_version(void)
{
	if (schema_nmigrations == 0)
		return 0;
	return schema_migrations[schema_nmigrations - 1].version;
}

/* --- Statement helpers ------------------------------------------------ */

void
store_reset(struct store *st, enum stmt id)
{
	st->eng->reset(st, id);
}

int
store_step(struct store *st, enum stmt id)
{
	return st->eng->step(st, id);
}

int
store_run(struct store *st, enum stmt id)
{
	int	 rc;

	rc = store_step(st, id);
	store_reset(st, id);
	return rc == -1 ? -1 : 0;
}

/* The outcome of the last failed call: STORE_BUSY when a lock was held
 * past the engine's cap, else STORE_ERROR. */
enum store_result
store_failure(const struct store *st)
{
	return st->last_fail == STORE_BUSY ? STORE_BUSY : STORE_ERROR;
}

int
store_busy_failed(struct store *st)
{
	return st != NULL && st->eng->busy_failed(st);
}

int
store_bind_text(struct store *st, enum stmt id, int col, const char *s)
{
	return st->eng->bind_text(st, id, col, s);
}

int
store_bind_blob(struct store *st, enum stmt id, int col, const void *p,
    size_t len)
{
	return st->eng->bind_blob(st, id, col, p, len);
}

int
store_bind_int(struct store *st, enum stmt id, int col, int64_t v)
{
	return st->eng->bind_int(st, id, col, v);
}

int
store_bind_null(struct store *st, enum stmt id, int col)
{
	return st->eng->bind_text(st, id, col, NULL);
}

/* Binds who to parameters 1, 2 and 3 (enterprise, team, user). */
int
store_bind_user(struct store *st, enum stmt id, const struct slack_user *who)
{
	if (store_bind_text(st, id, 1, who->enterprise_id) == -1 ||
	    store_bind_text(st, id, 2, who->team_id) == -1 ||
	    store_bind_text(st, id, 3, who->user_id) == -1)
		return -1;
	return 0;
}

int64_t
store_changes(struct store *st)
{
	return st->eng->changes(st);
}

const char *
store_col_text(struct store *st, enum stmt id, int col)
{
	return st->eng->col_text(st, id, col);
}

int64_t
store_col_int(struct store *st, enum stmt id, int col)
{
	return st->eng->col_int(st, id, col);
}

const unsigned char *
store_col_bytes(struct store *st, enum stmt id, int col, size_t *len)
{
	return st->eng->col_bytes(st, id, col, len);
}

int
store_col_null(struct store *st, enum stmt id, int col)
{
	return st->eng->col_null(st, id, col);
}

/*
 * Checks that who is usable as a key: every field NUL-terminated inside
 * its array, team and user not empty.  Returns 1 or 0 (logged).
 */
int
store_who_ok(const struct slack_user *who)
{
	if (who != NULL &&
	    memchr(who->enterprise_id, '\0', sizeof(who->enterprise_id)) &&
	    memchr(who->team_id, '\0', sizeof(who->team_id)) &&
	    memchr(who->user_id, '\0', sizeof(who->user_id)) &&
	    who->team_id[0] != '\0' && who->user_id[0] != '\0')
		return 1;
	log_error("msg=\"invalid Slack user\"");
	return 0;
}

/* --- Keys ------------------------------------------------------------- */

/*
 * Brings this connection's keys up to date with its keyring, which looks
 * at the key file at most once a second (keyring.h).  Every operation
 * calls it first, and a write calls it again once its transaction holds
 * the write lock, right before sealing: a write that takes the lock a
 * second or more after a rotation rewrote the key file then seals under
 * the new key, which is what lets forcelink-admin rotate-key know when no
 * more rows can appear under the old one.  Key pointers taken before are
 * invalid afterwards.
 */
void
store_keys(struct store *st)
{
	keyring_update(st->kr, &st->keys);
}

/* The key every new seal uses.  Valid until the next store_keys() or
 * store_key_find(). */
const struct crypto_key *
store_key_current(const struct store *st)
{
	return keyring_current(st->keys);
}

/*
 * Columns of the row statement id is on, through the engine's column
 * helpers: an id copied into dst (dstsz bytes; -1 when NULL or too
 * long), the Slack user of a login_state row (SCOL_*; -1 logged), an
 * allocated copy of a text (NULL logged), an allocated copy of a sealed
 * value (-1 when NULL, empty or out of memory).
 */
int
store_col_id(struct store *st, enum stmt id, int col, char *dst,
    size_t dstsz)
{
	const char	*t;
	size_t		 n;

	if ((t = store_col_text(st, id, col)) == NULL ||
	    (n = strlen(t)) >= dstsz)
		return -1;
	memcpy(dst, t, n + 1);
	return 0;
}

int
store_col_user(struct store *st, enum stmt id, struct slack_user *who)
{
	if (store_col_id(st, id, SCOL_ENTERPRISE_ID, who->enterprise_id,
	    sizeof(who->enterprise_id)) == -1 ||
	    store_col_id(st, id, SCOL_TEAM_ID, who->team_id,
	    sizeof(who->team_id)) == -1 ||
	    store_col_id(st, id, SCOL_USER_ID, who->user_id,
	    sizeof(who->user_id)) == -1) {
		log_error("msg=\"malformed Slack user in login_state\"");
		return -1;
	}
	return 0;
}

char *
store_col_dup(struct store *st, enum stmt id, int col)
{
	const char	*t;
	char		*p;

	if ((t = store_col_text(st, id, col)) == NULL ||
	    (p = strdup(t)) == NULL) {
		log_error("col=%d msg=\"missing value or out of memory\"", col);
		return NULL;
	}
	return p;
}

int
store_col_sealed(struct store *st, enum stmt id, int col, struct sealed *out)
{
	const unsigned char	*p;
	size_t			 n;

	if ((p = store_col_bytes(st, id, col, &n)) == NULL ||
	    (out->p = malloc(n)) == NULL)
		return -1;
	memcpy(out->p, p, n);
	out->len = n;
	return 0;
}

/* The token of who in blob column col, sealed under k (the key the row's
 * key id names): as store_open_token(). */
enum store_result
store_col_token(struct store *st, enum stmt id, int col,
    const struct crypto_key *k, const struct slack_user *who,
    const char *which, char **out)
{
	const unsigned char	*ct;
	size_t			 len;

	ct = store_col_bytes(st, id, col, &len);
	return store_open_token(k, ct, len, who, which, out);
}

/*
 * The key to open a row with: the one whose id is in text column col of
 * statement id's row.  An id we do not hold makes us read the key file
 * again first (a rotation may have just added the key, and another
 * worker seals under it already).  Returns NULL, logged, when no key has
 * that id: the row is sealed under a key this program was not given.
 * Key pointers taken before are invalid afterwards.
 */
const struct crypto_key *
store_key_find(struct store *st, enum stmt id, int col, const char *what)
{
	const struct crypto_key	*k;
	const char		*kid;

	if ((kid = store_col_text(st, id, col)) == NULL)
		kid = "";
	if ((k = keyring_find(st->keys, kid)) != NULL)
		return k;
	(void)keyring_reload(st->kr);
	store_keys(st);
	if ((k = keyring_find(st->keys, kid)) != NULL)
		return k;
	log_error("row=%s row_key_id=%.16s key_id=%s msg=\"%s sealed under "
	    "another key: not one this program holds\"", what, kid,
	    store_key_current(st)->id, what);
	return NULL;
}


/* --- Transactions and locks ------------------------------------------- */

int
store_begin(struct store *st)
{
	return st->eng->begin(st, 0);
}

int
store_end(struct store *st, int commit)
{
	return st->eng->end(st, commit, 0);
}

int
store_write_begin(struct store *st)
{
	return st->eng->begin(st, 1);
}

int
store_write_end(struct store *st, int commit)
{
	return st->eng->end(st, commit, 1);
}

void
store_writer_lock(struct store *st)
{
	st->eng->writer_lock(st);
}

void
store_writer_unlock(struct store *st)
{
	st->eng->writer_unlock(st);
}

/* A lock's key: 32 bits of the SHA-256 of its name.  Two names that
 * share a key share a lock, which only makes one wait for the other. */
static uint32_t
store_lock_key(const char *name)
{
	unsigned char	 h[CRYPTO_HASHLEN];
	uint32_t	 k;

	crypto_sha256(name, h);
	memcpy(&k, h, sizeof(k));
	return k;
}

/*
 * Both engines let a connection take a lock it already holds (an OFD
 * byte lock, an advisory lock), but the fibers of one thread share its
 * connection and must exclude each other like any two holders: so the
 * keys a connection holds are kept here, and one of them asked again is
 * busy, as is any key once STORE_HELD_MAX are held.
 */
int
store_lock_try(struct store *st, const char *name)
{
	uint32_t	 k = store_lock_key(name);
	int		 i, rc;

	for (i = 0; i < st->nheld; i++)
		if (st->held[i] == k)
			return 0;
	if (st->nheld == STORE_HELD_MAX)
		return 0;
	/* Marked before the engine is asked: on PostgreSQL the call waits
	 * for the server, and another fiber asking meanwhile must find it
	 * taken (the server would grant the same connection twice). */
	st->held[st->nheld++] = k;
	if ((rc = st->eng->lock_try(st, k)) != 1) {
		for (i = 0; i < st->nheld && st->held[i] != k; i++)
			continue;
		st->held[i] = st->held[--st->nheld];
	}
	return rc;
}

void
store_lock_release(struct store *st, const char *name)
{
	uint32_t	 k = store_lock_key(name);
	int		 i;

	for (i = 0; i < st->nheld && st->held[i] != k; i++)
		continue;
	if (i == st->nheld)
		return;
	st->held[i] = st->held[--st->nheld];
	st->eng->lock_release(st, k);
}

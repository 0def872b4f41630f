/*
 * store_open: which engine a database is for, and opening and closing a
 * connection (see store.h).  The one file that names both engines'
 * tables (store_int.h): the helper family of store.c reaches an engine
 * only through the connection's, so that the engines depend on the
 * helpers and never the other way round.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_int.h"

int
store_is_uri(const char *db)
{
	return db != NULL && (strncmp(db, "postgresql://", 13) == 0 ||
	    strncmp(db, "postgres://", 11) == 0);
}

int
store_is_sqlite(const struct store *st)
{
	return st->eng == &store_sqlite_engine;
}

const char *
store_engine_name(const struct store *st)
{
	return st->eng->name;
}

/* A connection's common part, following kr, not yet open.  NULL
 * (logged) when out of memory. */
static struct store *
store_new(const char *db, struct keyring *kr)
{
	struct store	*st;

	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->where = strdup(db)) == NULL) {
		free(st);
		log_error("msg=\"out of memory\"");
		return NULL;
	}
	st->kr = kr;
	st->lock_fd = -1;
	st->eng = store_is_uri(db) ? &store_pg_engine : &store_sqlite_engine;
	store_keys(st);
	return st;
}

/* store_open_keyring() and store_open_deferred(). */
static struct store *
store_open_how(const char *db, struct keyring *kr, int deferred)
{
	struct store	*st;
	int		 rc;

	if (db == NULL || kr == NULL || (st = store_new(db, kr)) == NULL)
		return NULL;
	if (st->eng == &store_pg_engine)
		rc = store_pg_open(st, db, deferred);
	else
		rc = store_sqlite_open(st, db);
	if (rc == -1) {
		store_close(st);
		return NULL;
	}
	return st;
}

struct store *
store_open_keyring(const char *db, struct keyring *kr)
{
	return store_open_how(db, kr, 0);
}

struct store *
store_open_deferred(const char *db, struct keyring *kr)
{
	return store_open_how(db, kr, 1);
}

struct store *
store_open(const char *db, const struct crypto_key *key)
{
	struct keyring	*kr;
	struct store	*st;

	if (key == NULL)
		return NULL;
	if ((kr = keyring_from_keys(key, 1)) == NULL) {
		log_error("msg=\"out of memory\"");
		return NULL;
	}
	if ((st = store_open_keyring(db, kr)) == NULL) {
		keyring_free(kr);
		return NULL;
	}
	st->own_kr = kr;
	return st;
}

struct store *
store_open_readonly(const char *path, struct keyring *kr)
{
	struct store	*st;

	if (path == NULL || kr == NULL)
		return NULL;
	if (store_is_uri(path)) {
		log_error("msg=\"a read-only open is for a SQLite file\"");
		return NULL;
	}
	if ((st = store_new(path, kr)) == NULL)
		return NULL;
	if (store_sqlite_open_readonly(st, path) == -1) {
		store_close(st);
		return NULL;
	}
	return st;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	st->eng->close(st);
	keyring_release(st->keys);
	keyring_free(st->own_kr);
	free(st->where);
	free(st);
}

/*
 * store_backup: forcelink-admin backup and restore, through SQLite's
 * online backup API.
 */
#include <pthread.h>
#include <time.h>

#include "log.h"
#include "store_int.h"

/* --- Backups (forcelink-admin backup and restore) ---------------------
 *
 * Both directions go through SQLite's online backup API, which copies
 * the database page by page under SQLite's own locks: from a live
 * database it reads one snapshot (a WAL reader never blocks the
 * writers), and into a live database it writes in one transaction, under
 * the write lock, that every other connection sees whole or not at all
 * (the schema cookie changes, so they prepare their statements again).
 */

/*
 * Copies every page of src's main database into dst's in one step, so
 * that the copy is one snapshot: a copy made in several steps starts over
 * whenever another connection writes to src in between.  A lock held
 * elsewhere is waited for in naps within STORE_BUSY_MS.  Returns
 * STORE_OK, STORE_BUSY or STORE_ERROR (logged, naming what).
 */
static enum store_result
store_copy(sqlite3 *dst, sqlite3 *src, const char *what)
{
	const struct timespec	 pause = { 0, STORE_WAL_RETRY_MS * 1000000L };
	sqlite3_backup		*b;
	int			 rc, frc, waited = 0;

	if ((b = sqlite3_backup_init(dst, "main", src, "main")) == NULL) {
		log_error("op=%s msg=\"%s\"", what, sqlite3_errmsg(dst));
		return STORE_ERROR;
	}
	for (;;) {
		rc = sqlite3_backup_step(b, -1);
		if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) ||
		    waited >= STORE_BUSY_MS)
			break;
		nanosleep(&pause, NULL);
		waited += STORE_WAL_RETRY_MS;
	}
	frc = sqlite3_backup_finish(b);
	if (rc == SQLITE_DONE && frc == SQLITE_OK)
		return STORE_OK;
	log_error("op=%s msg=\"%s\"", what, rc == SQLITE_DONE ?
	    sqlite3_errmsg(dst) : sqlite3_errstr(rc));
	return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED ?
	    STORE_BUSY : STORE_ERROR;
}

enum store_result
store_backup(struct store *st, const char *path)
{
	enum store_result	 r = STORE_ERROR;
	sqlite3			*dst = NULL;

	if (!store_is_sqlite(st)) {
		log_error("msg=\"backups of a PostgreSQL store are the "
		    "server's (pg_dump, base backups)\"");
		return STORE_ERROR;
	}
	/* No SQLITE_OPEN_CREATE: the caller made the file, empty and
	 * private, under a name nobody else uses. */
	if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_error("path=\"%s\" msg=\"%s\"", path, dst != NULL ?
		    sqlite3_errmsg(dst) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(dst, STORE_BUSY_MS);
	if ((r = store_copy(dst, st->db, "backup")) != STORE_OK)
		goto out;
	/*
	 * The copy of page 1 says "WAL", as the live file does.  In rollback
	 * mode the copy is one self-contained file: a read-only open needs
	 * no -wal or -shm beside it, and its checksum covers all of it.
	 */
	if (store_exec(dst, "backup journal mode",
	    "PRAGMA journal_mode=DELETE") == -1)
		r = STORE_ERROR;
out:
	if (dst != NULL && sqlite3_close(dst) != SQLITE_OK) {
		log_error("path=\"%s\" msg=\"%s\"", path, sqlite3_errmsg(dst));
		r = STORE_ERROR;
	}
	return r;
}

enum store_result
store_restore(struct store *st, const char *path)
{
	enum store_result	 r = STORE_ERROR;
	sqlite3			*src = NULL;

	if (!store_is_sqlite(st)) {
		log_error("msg=\"backups of a PostgreSQL store are the "
		    "server's (pg_dump, base backups)\"");
		return STORE_ERROR;
	}
	if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_error("path=\"%s\" msg=\"%s\"", path, src != NULL ?
		    sqlite3_errmsg(src) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(src, STORE_BUSY_MS);
	/* A write as any: this process's writer mutex, and every token
	 * written with synchronous=FULL. */
	if (store_sync(st, "FULL") == -1)
		goto out;
	pthread_mutex_lock(&store_writer);
	r = store_copy(st->db, src, "restore");
	pthread_mutex_unlock(&store_writer);
	(void)store_sync(st, "NORMAL");
out:
	if (src != NULL)
		sqlite3_close(src);
	return r;
}

/*
 * store_sqlite: the store's SQLite engine: one file (see store.h).
 *
 * This file is SQLite's connection: its settings, the migrations
 * (sql/NNN_*.sql compiled into schema.c), the engine's calls behind the
 * helper family of store.c, its transactions and the refresh lock file.
 * The statements' SQL is in store_sql.c.
 *
 * Writers queue: within a process, every write (a transaction, or a
 * single statement that writes) holds store_writer, a mutex, so the
 * threads of a worker wait their turn on it instead of all trying the
 * file lock and napping; only the processes compete for the file lock.
 *
 * Busy policy, in one place: sq_busy() waits for a lock in short
 * naps (many threads share the file, and SQLite's own handler would nap
 * up to 100 ms at a time) for at most STORE_BUSY_MS.  It is a cap, not a
 * retry loop: a lock held longer than
 * that makes the call fail with STORE_ERROR (logged), and the request is
 * answered with an error instead of hanging.  (The one statement SQLite
 * does not wait for by itself, the switch of a new file to WAL, is
 * retried by sq_wal() within the same cap.)  The naps hold the thread,
 * not only the fiber: the fibers of a thread share its connection, and
 * one that gave the thread up in the middle of a statement would let
 * another run a statement on the same connection (PostgreSQL's engine
 * takes a fiber lock around its statements for that reason; SQLite's
 * waits are for another process's commit, and short).  The waiting
 * request's own deadline runs between naps, so it still answers Slack
 * on time.  Every read-then-write runs
 * in BEGIN IMMEDIATE, so the write lock is taken (or waited for) before
 * the read and a WAL snapshot can never go stale under us.
 *
 * Durability: the connection runs with synchronous=NORMAL, which in WAL
 * mode keeps the file consistent whatever happens; transactions that
 * write a token switch to synchronous=FULL first, because a refresh
 * token that Salesforce rotated cannot be fetched again.
 *
 * Checkpoints: most requests write (every search page's slack_action
 * row; before the replay cache moved to its own shared file, every
 * request wrote), and with dozens
 * of threads reading at any instant SQLite's automatic checkpoint never
 * finds a moment when the WAL can start over: the file grew by about
 * 7 KB per request without end, and once past 1000 pages every commit
 * ran another checkpoint with its two fsyncs.  So sq_wal_hook()
 * replaces it: once the WAL holds STORE_WAL_FRAMES pages, the committing
 * connection, once it has let go of store_writer, runs a PASSIVE
 * checkpoint (which stops no one) and then a RESTART one, which copies
 * the little appended meanwhile and waits (at most STORE_CKPT_WAIT_MS)
 * for the readers to move to the newest snapshot, so that the next
 * writer starts the WAL over (sq_ckpt_due).  A program with a thread to
 * spare (a worker's main thread: app.c) takes that work off its request
 * threads with store_checkpoint_elsewhere(): the commit then only wakes
 * that thread, which runs store_checkpoint() on a connection of its own.
 * Measured under scripts/bench, where every request writes a row: with
 * the checkpoints in the requests' own threads, each one's copy and
 * fsyncs held every fiber of that thread, and the forcelink/relay p99
 * ratio was 1.84-2.21; elsewhere, 1.70-1.74 (bench/RESULTS.md).
 *
 * Error discipline: an SQLite failure is logged once, where it happens,
 * with SQLite's message (which names tables and columns, never bound
 * values) and becomes STORE_ERROR.  Every statement is reset and its
 * bindings cleared after use on every path, so no connection keeps a
 * read transaction open between calls.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fiber.h"
#include "log.h"
#include "schema.h"
#include "store_int.h"

/* One writer at a time per process (see the top of this file). */
pthread_mutex_t	 store_writer = PTHREAD_MUTEX_INITIALIZER;

/* --- The engine's calls ----------------------------------------------- */

/*
 * Statement id, prepared on its first use on this connection.  A worker
 * runs a dozen of the store's ~90 statements; preparing all of them on
 * every thread's connection kept about 0.8 MB per thread that nothing
 * used.  Returns NULL (logged) when it cannot be prepared.
 */
sqlite3_stmt *
store_sqlite_stmt(struct store *st, enum stmt id)
{
	if (st->stmt[id] == NULL && sqlite3_prepare_v3(st->db,
	    store_stmts[id].sql, -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[id],
	    NULL) != SQLITE_OK) {
		st->last_fail = STORE_ERROR;
		log_error("stmt=%s prepare msg=\"%s\"", store_stmts[id].name,
		    sqlite3_errmsg(st->db));
		st->stmt[id] = NULL;
	}
	return st->stmt[id];
}

/* Resets a statement and drops its bindings; safe to call at any time. */
static void
sq_reset(struct store *st, enum stmt id)
{
	if (st->stmt[id] == NULL)
		return;
	sqlite3_reset(st->stmt[id]);
	sqlite3_clear_bindings(st->stmt[id]);
}

/*
 * Steps a statement once.  Returns STORE_ROW or STORE_DONE, or -1 after
 * logging SQLite's message.  The caller resets the statement.
 */
static int
sq_step(struct store *st, enum stmt id)
{
	sqlite3_stmt	*s;
	int		 rc;

	if ((s = store_sqlite_stmt(st, id)) == NULL)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		return STORE_ROW;
	if (rc == SQLITE_DONE)
		return STORE_DONE;
	st->last_fail = (rc & 0xff) == SQLITE_BUSY ||
	    (rc & 0xff) == SQLITE_LOCKED ? STORE_BUSY : STORE_ERROR;
	log_error("stmt=%s msg=\"%s\"", store_stmts[id].name,
	    sqlite3_errmsg(st->db));
	return -1;
}

/* Whether the last failure was a lock held past the busy cap. */
static int
sq_busy_failed(struct store *st)
{
	int	 rc;

	if (st->db == NULL)
		return 0;
	rc = sqlite3_errcode(st->db) & 0xff;
	return rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
}

/* Logs a failed bind.  Always returns -1. */
static int
sq_bind_fail(struct store *st, enum stmt id)
{
	log_error("stmt=%s bind msg=\"%s\"", store_stmts[id].name,
	    sqlite3_errmsg(st->db));
	return -1;
}

static int
sq_bind_text(struct store *st, enum stmt id, int col, const char *s)
{
	sqlite3_stmt	*t;
	int		 rc;

	if ((t = store_sqlite_stmt(st, id)) == NULL)
		return -1;
	if (s == NULL)
		rc = sqlite3_bind_null(t, col);
	else
		rc = sqlite3_bind_text64(t, col, s, strlen(s),
		    SQLITE_TRANSIENT, SQLITE_UTF8);
	return rc == SQLITE_OK ? 0 : sq_bind_fail(st, id);
}

/* Binds a blob; p == NULL binds SQL NULL. */
static int
sq_bind_blob(struct store *st, enum stmt id, int col, const void *p,
    size_t len)
{
	sqlite3_stmt	*t;
	int		 rc;

	if ((t = store_sqlite_stmt(st, id)) == NULL)
		return -1;
	if (p == NULL)
		rc = sqlite3_bind_null(t, col);
	else
		rc = sqlite3_bind_blob64(t, col, p, len, SQLITE_TRANSIENT);
	return rc == SQLITE_OK ? 0 : sq_bind_fail(st, id);
}

static int
sq_bind_int(struct store *st, enum stmt id, int col, int64_t v)
{
	sqlite3_stmt	*t;

	if ((t = store_sqlite_stmt(st, id)) == NULL)
		return -1;
	if (sqlite3_bind_int64(t, col, v) != SQLITE_OK)
		return sq_bind_fail(st, id);
	return 0;
}

/* Rows the last statement of this connection changed. */
static int64_t
sq_changes(struct store *st)
{
	return (int64_t)sqlite3_changes(st->db);
}

/* Text column col of the row statement id is on; NULL for SQL NULL. */
static const char *
sq_col_text(struct store *st, enum stmt id, int col)
{
	return (const char *)sqlite3_column_text(st->stmt[id], col);
}

/* Integer column col; 0 for SQL NULL. */
static int64_t
sq_col_int(struct store *st, enum stmt id, int col)
{
	return (int64_t)sqlite3_column_int64(st->stmt[id], col);
}

/* Blob column col and its length; NULL (and *len 0) for SQL NULL or an
 * empty blob. */
static const unsigned char *
sq_col_bytes(struct store *st, enum stmt id, int col, size_t *len)
{
	const unsigned char	*p;
	int			 n;

	p = sqlite3_column_blob(st->stmt[id], col);
	n = sqlite3_column_bytes(st->stmt[id], col);
	if (p == NULL || n <= 0) {
		*len = 0;
		return NULL;
	}
	*len = (size_t)n;
	return p;
}

/* Whether column col is SQL NULL. */
static int
sq_col_null(struct store *st, enum stmt id, int col)
{
	return sqlite3_column_type(st->stmt[id], col) == SQLITE_NULL;
}

/* --- Transactions ----------------------------------------------------- */

static void	sq_ckpt_due(struct store *);

/* Sets PRAGMA synchronous (level "FULL" or "NORMAL"); only outside a
 * transaction.  Returns 0, or -1 after logging. */
int
store_sync(struct store *st, const char *level)
{
	char	 sql[40];

	snprintf(sql, sizeof(sql), "PRAGMA synchronous=%s", level);
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		log_error("level=%s msg=\"%s\"", level, sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

/* Runs a statement of no rows and resets it: 0 or -1 (logged). */
static int
sq_run(struct store *st, enum stmt id)
{
	int	 rc;

	rc = sq_step(st, id);
	sq_reset(st, id);
	return rc == -1 ? -1 : 0;
}

/*
 * BEGIN IMMEDIATE: takes this process's writer mutex, then the write
 * lock, waiting up to the busy timeout; a durable transaction (it writes
 * a token) runs with synchronous=FULL.  Returns 0, or -1 after logging
 * (and then holds neither, with the connection as before).
 */
static int
sq_begin(struct store *st, int durable)
{
	if (durable && store_sync(st, "FULL") == -1)
		return -1;
	pthread_mutex_lock(&store_writer);
	if (sq_run(st, STMT_BEGIN) == -1) {
		pthread_mutex_unlock(&store_writer);
		if (durable)
			(void)store_sync(st, "NORMAL");
		return -1;
	}
	return 0;
}

/*
 * Ends the transaction sq_begin() started: commits when commit is set,
 * else rolls back.  A failed commit is rolled back.  Returns 0, or -1 when
 * the commit failed (logged).
 */
static int
sq_end(struct store *st, int commit, int durable)
{
	int	 rc = 0;

	if (commit && sq_run(st, STMT_COMMIT) == -1)
		rc = -1;
	/* SQLite may have rolled back by itself (I/O error, full disk). */
	if (!sqlite3_get_autocommit(st->db))
		(void)sq_run(st, STMT_ROLLBACK);
	pthread_mutex_unlock(&store_writer);
	if (durable)
		(void)store_sync(st, "NORMAL");
	sq_ckpt_due(st);
	return rc;
}

static void
sq_writer_lock(struct store *st)
{
	(void)st;
	pthread_mutex_lock(&store_writer);
}

static void
sq_writer_unlock(struct store *st)
{
	pthread_mutex_unlock(&store_writer);
	sq_ckpt_due(st);
}

/*
 * The refresh lock: byte key of the file beside the database named
 * "<database>-refresh.lock", as an open-file-description lock, which the
 * kernel drops when the process dies and which threads of one process
 * hold apart (each connection opens the file for itself).  Returns 1
 * when taken, 0 when held by another connection, -1 (logged).
 */
static int
sq_lock_try(struct store *st, uint32_t key)
{
	struct flock	 fl;
	char		*path;

	if (st->lock_fd == -1) {
		if (asprintf(&path, "%s-refresh.lock", st->where) == -1) {
			log_error("msg=\"out of memory\"");
			return -1;
		}
		st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (st->lock_fd == -1)
			log_error("msg=\"open %s: %s\"", path, strerror(errno));
		free(path);
		if (st->lock_fd == -1)
			return -1;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = (off_t)key;
	fl.l_len = 1;
	if (fcntl(st->lock_fd, F_OFD_SETLK, &fl) == 0)
		return 1;
	if (errno == EAGAIN || errno == EACCES)
		return 0;
	log_error("msg=\"refresh lock: %s\"", strerror(errno));
	return -1;
}

static void
sq_lock_release(struct store *st, uint32_t key)
{
	struct flock	 fl;

	if (st->lock_fd == -1)
		return;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_UNLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = (off_t)key;
	fl.l_len = 1;
	if (fcntl(st->lock_fd, F_OFD_SETLK, &fl) == -1)
		log_error("msg=\"refresh unlock: %s\"", strerror(errno));
}

static void	sq_close(struct store *);

const struct store_engine	 store_sqlite_engine = {
	"sqlite",
	sq_close,
	sq_reset,
	sq_step,
	sq_bind_text,
	sq_bind_blob,
	sq_bind_int,
	sq_col_text,
	sq_col_int,
	sq_col_bytes,
	sq_col_null,
	sq_changes,
	sq_busy_failed,
	sq_begin,
	sq_end,
	sq_writer_lock,
	sq_writer_unlock,
	sq_lock_try,
	sq_lock_release
};

/* --- Opening ---------------------------------------------------------- */

/* Reads PRAGMA user_version.  Returns 0 and *v, or -1 after logging. */
static int
sq_user_version(sqlite3 *db, int *v)
{
	sqlite3_stmt	*s = NULL;
	int		 rc = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) !=
	    SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
		log_error("msg=\"%s\"", sqlite3_errmsg(db));
		goto out;
	}
	*v = sqlite3_column_int(s, 0);
	rc = 0;
out:
	sqlite3_finalize(s);
	return rc;
}

/* sqlite3_exec() that logs failures with what it was doing.  Returns 0
 * or -1. */
int
store_exec(sqlite3 *db, const char *what, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	log_error("op=\"%s\" msg=\"%s\"", what, sqlite3_errmsg(db));
	return -1;
}

/* Refuses a database newer than this program.  Returns 0 or -1 (with
 * the one clear log line an admin needs). */
static int
sq_version_ok(const char *path, int v)
{
	if (v >= 0 && v <= store_schema_version())
		return 0;
	log_error("path=\"%s\" msg=\"database schema version %d is not one "
	    "this program knows (it knows up to %d): refusing to use it; "
	    "run the newer forcelink that wrote it\"", path, v,
	    store_schema_version());
	return -1;
}

/*
 * Applies migration m in its own BEGIN IMMEDIATE transaction.  The
 * version is read again inside it: another connection may have migrated
 * while we waited for the lock, and then there is nothing to do.
 * Returns 0, or -1 (logged; nothing is changed).
 */
static int
sq_migrate_one(sqlite3 *db, const char *path,
    const struct schema_migration *m)
{
	char	 sql[64];
	int	 v, rc = -1;

	if (store_exec(db, "begin migration", "BEGIN IMMEDIATE") == -1)
		return -1;
	if (sq_user_version(db, &v) == -1 || sq_version_ok(path, v) == -1)
		goto out;
	if (v >= m->version) {
		rc = 0;
		goto out;
	}
	if (v != m->version - 1) {
		log_error("migration=%s version=%d msg=\"migrations out of "
		    "order\"", m->name, v);
		goto out;
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", m->version);
	if (store_exec(db, m->name, m->sql) == -1 ||
	    store_exec(db, "set user_version", sql) == -1 ||
	    store_exec(db, "commit migration", "COMMIT") == -1)
		goto out;
	log_event(LOGL_INFO, "store.migrated", "path=\"%s\" migration=%s "
	    "version=%d", path, m->name, m->version);
	rc = 0;
out:
	if (!sqlite3_get_autocommit(db))
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* Brings the schema up to store_schema_version().  Returns 0 or -1. */
static int
sq_migrate(sqlite3 *db, const char *path)
{
	size_t	 i;
	int	 v;

	if (sq_user_version(db, &v) == -1 || sq_version_ok(path, v) == -1)
		return -1;
	for (i = 0; i < schema_nmigrations; i++) {
		if (schema_migrations[i].version != (int)i + 1) {
			log_error("migration=%s msg=\"migrations must be "
			    "numbered 1, 2, ... without gaps\"",
			    schema_migrations[i].name);
			return -1;
		}
		if (schema_migrations[i].version > v &&
		    sq_migrate_one(db, path, &schema_migrations[i]) == -1)
			return -1;
	}
	return 0;
}

/*
 * Creates the file with mode 0600 unless it exists; SQLite then gives
 * the -wal and -shm files the same mode.  An existing file is not opened
 * here at all: closing any descriptor of a file drops every POSIX lock
 * this process holds on it, including those of other threads' SQLite
 * connections, and SQLite's locking (and the -shm file) would silently
 * break.  Returns 0 or -1 (logged).
 */
static int
sq_create_file(const char *path)
{
	struct stat	 sb;
	int		 fd;

	if (stat(path, &sb) == 0)
		return 0;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 && errno == EEXIST)
		return 0;
	if (fd == -1) {
		log_error("path=\"%s\" msg=\"cannot create database: %s\"",
		    path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Runs PRAGMA journal_mode=WAL once.  Returns SQLITE_ROW with the
 * resulting mode copied into mode (size n), or SQLite's error code.
 */
static int
sq_wal_try(sqlite3 *db, char *mode, size_t n)
{
	sqlite3_stmt		*s = NULL;
	const unsigned char	*t;
	int			 rc;

	rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &s, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		t = sqlite3_column_text(s, 0);
		snprintf(mode, n, "%s", t != NULL ? (const char *)t : "");
	}
	sqlite3_finalize(s);
	return rc;
}

/*
 * Puts the file in WAL mode.  On a new file this takes an exclusive
 * lock, and when several workers start together their lock upgrades can
 * deadlock; SQLite then returns SQLITE_BUSY at once instead of calling
 * the busy handler.  So this one statement is retried, every
 * STORE_WAL_RETRY_MS, within the same STORE_BUSY_MS cap.  Returns 0 or
 * -1 (logged).
 */
static int
sq_wal(sqlite3 *db, const char *path)
{
	const struct timespec	 pause = { 0, STORE_WAL_RETRY_MS * 1000000L };
	char			 mode[16];
	int			 rc, waited;

	for (waited = 0; ; waited += STORE_WAL_RETRY_MS) {
		rc = sq_wal_try(db, mode, sizeof(mode));
		if ((rc & 0xff) != SQLITE_BUSY || waited >= STORE_BUSY_MS)
			break;
		nanosleep(&pause, NULL);
	}
	if (rc != SQLITE_ROW) {
		log_error("path=\"%s\" msg=\"%s\"", path, sqlite3_errmsg(db));
		return -1;
	}
	if (strcmp(mode, "wal") != 0) {
		log_error("path=\"%s\" msg=\"WAL mode refused (journal mode "
		    "%s): the database must be on a local file system\"",
		    path, mode);
		return -1;
	}
	return 0;
}

/*
 * The busy handler: SQLite calls it with count 0, 1, 2, ... while a lock
 * it needs is held elsewhere.  It naps 50 us, doubling up to
 * STORE_BUSY_NAP_MAX_US, and gives up (SQLITE_BUSY for the caller) once
 * the naps add up to busy_cap_ms.
 */
static int
sq_busy(void *arg, int count)
{
	struct store	*st = arg;
	struct timespec	 ts;
	long		 us;

	if (count == 0)
		st->busy_waited_us = 0;
	if (st->busy_waited_us >= st->busy_cap_ms * 1000L)
		return 0;
	us = count < 6 ? 50L << count : STORE_BUSY_NAP_MAX_US;
	if (us > STORE_BUSY_NAP_MAX_US)
		us = STORE_BUSY_NAP_MAX_US;
	ts.tv_sec = 0;
	ts.tv_nsec = us * 1000;
	nanosleep(&ts, NULL);
	st->busy_waited_us += us;
	/* The request's deadline still runs (Slack is answered on time
	 * while the lock is waited for): it touches no store. */
	(void)fiber_deadline_check();
	return 1;
}

/* Who runs the checkpoints: NULL, the connection whose commit made the
 * WAL long; else the thread this wakes (store_checkpoint_elsewhere). */
static void	(*sq_ckpt_wake)(void);

void
store_checkpoint_elsewhere(void (*wake)(void))
{
	__atomic_store_n(&sq_ckpt_wake, wake, __ATOMIC_RELEASE);
}

/*
 * Runs after every commit with the number of pages in the WAL (see
 * "Checkpoints" above).  It only marks the checkpoint due, or wakes the
 * thread that runs them: the commit ran under store_writer, which the
 * checkpoint must not hold (the process's other threads would queue
 * behind it for all of it), so sq_ckpt_due() runs it once the writer
 * lets go.  Always returns SQLITE_OK (the commit has happened).
 */
static int
sq_wal_hook(void *arg, sqlite3 *db, const char *name, int nframes)
{
	struct store	*st = arg;
	void		(*wake)(void);

	(void)db;
	(void)name;
	if (nframes < STORE_WAL_FRAMES)
		return SQLITE_OK;
	if ((wake = __atomic_load_n(&sq_ckpt_wake, __ATOMIC_ACQUIRE)) != NULL)
		wake();
	else
		st->ckpt_due = 1;
	return SQLITE_OK;
}

/*
 * The checkpoint sq_wal_hook() asked for: run by the connection whose
 * commit marked it due (sq_ckpt_due), or by the thread it woke
 * (store_checkpoint), outside store_writer and outside any transaction.
 * Two steps, so that the writers wait for a few pages instead of the
 * whole WAL: a PASSIVE checkpoint copies the WAL into the file without
 * stopping anyone (the other threads and processes go on writing), then
 * a RESTART copies what they appended meanwhile and waits (at most
 * STORE_CKPT_WAIT_MS) for the readers to move to the newest snapshot,
 * so that the next writer starts the WAL over; only that second step
 * holds the write lock.  (Measured under scripts/bench, where every
 * request writes a row: a RESTART of the whole WAL, 1000 pages, held the
 * write lock, and with it every writer of every worker, for 5 to 11 ms;
 * the second step holds it for about 2 ms.)  A step that cannot run now
 * (another connection is checkpointing, SQLITE_BUSY) or finish in time
 * is not an error: the next commit asks again, and the WAL merely grows
 * until then.
 */
static void
sq_ckpt_due(struct store *st)
{
	if (!st->ckpt_due)
		return;
	st->ckpt_due = 0;
	store_checkpoint(st);
}

void
store_checkpoint(struct store *st)
{
	int	 rc;

	if (st == NULL || st->eng != &store_sqlite_engine || st->db == NULL ||
	    !sqlite3_get_autocommit(st->db))
		return;
	rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    NULL, NULL);
	if (rc == SQLITE_OK) {
		st->busy_cap_ms = STORE_CKPT_WAIT_MS;
		rc = sqlite3_wal_checkpoint_v2(st->db, NULL,
		    SQLITE_CHECKPOINT_RESTART, NULL, NULL);
		st->busy_cap_ms = STORE_BUSY_MS;
	}
	if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY &&
	    (rc & 0xff) != SQLITE_LOCKED)
		log_warn("msg=\"checkpoint: %s\"", sqlite3_errmsg(st->db));
}

/* Per-connection settings: busy cap, checkpoints, WAL, foreign keys,
 * synchronous.  Returns 0 or -1 (logged). */
static int
sq_configure(struct store *st, const char *path)
{
	sqlite3	*db = st->db;
	int	 persist = 1;

	st->busy_cap_ms = STORE_BUSY_MS;
	sqlite3_busy_handler(db, sq_busy, st);
	sqlite3_wal_hook(db, sq_wal_hook, st);
	/*
	 * Keep the -wal and -shm files when a connection closes.  Otherwise
	 * the last connection of one process deletes them as it closes,
	 * which races with processes that are opening the database at that
	 * moment (program starts, restarts, sqlite3 in another terminal):
	 * they can end up on different WAL indexes and stop seeing each
	 * other's writes.
	 */
	sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	/* No SQL may corrupt the file on purpose (writable_schema etc.). */
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	/*
	 * A page cache of 512 KiB per connection (SQLite's default is 2 MB)
	 * holds every interior page of even a million links; the rest is in
	 * the kernel's cache.  Each worker thread has a connection, so the
	 * default would let a worker's memory creep up by megabytes as the
	 * replay table fills and empties.
	 */
	if (sq_wal(db, path) == -1 ||
	    store_exec(db, "settings", "PRAGMA foreign_keys=ON; "
	    "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-512") == -1)
		return -1;
	return 0;
}

/*
 * Prepares, at open, what the error paths need: a transaction that
 * failed must still be rolled back when memory is short, so BEGIN,
 * COMMIT and ROLLBACK never wait for their first use (the torture test's
 * "next request on this worker" found one left open).  Returns 0 or -1
 * (logged).
 */
static int
sq_prepare_tx(struct store *st)
{
	if (store_sqlite_stmt(st, STMT_BEGIN) == NULL ||
	    store_sqlite_stmt(st, STMT_COMMIT) == NULL ||
	    store_sqlite_stmt(st, STMT_ROLLBACK) == NULL)
		return -1;
	return 0;
}

/*
 * Process-wide SQLite settings, before the first connection.  Memory
 * statistics are off: they put one global mutex around every allocation
 * SQLite makes, which every worker thread would then queue on.
 */
static void
sq_global_init(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
static pthread_once_t	 sq_once = PTHREAD_ONCE_INIT;

/* Opens, configures and migrates the file at path for st (statements
 * are prepared as they are first used: store_sqlite_stmt).
 * Returns 0, or -1 (logged; the caller closes st). */
int
store_sqlite_open(struct store *st, const char *path)
{
	pthread_once(&sq_once, sq_global_init);
	if (sq_create_file(path) == -1)
		return -1;
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_error("path=\"%s\" msg=\"%s\"", path, st->db != NULL ?
		    sqlite3_errmsg(st->db) : "out of memory");
		return -1;
	}
	if (sq_configure(st, path) == -1 ||
	    sq_migrate(st->db, path) == -1 ||
	    sq_prepare_tx(st) == -1)
		return -1;
	return 0;
}

/* Finalizes the statements and closes the file. */
static void
sq_close(struct store *st)
{
	size_t	 i;

	for (i = 0; i < STMT__MAX; i++)
		sqlite3_finalize(st->stmt[i]);
	if (st->db != NULL && sqlite3_close(st->db) != SQLITE_OK)
		log_error("msg=\"%s\"", sqlite3_errmsg(st->db));
	if (st->lock_fd != -1)
		close(st->lock_fd);
}

/* Opens path read-only for st: no migration, and only this very schema.
 * Returns 0, or -1 (logged; the caller closes st). */
int
store_sqlite_open_readonly(struct store *st, const char *path)
{
	int	 v;

	pthread_once(&sq_once, sq_global_init);
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_error("path=\"%s\" msg=\"%s\"", path, st->db != NULL ?
		    sqlite3_errmsg(st->db) : "out of memory");
		return -1;
	}
	st->busy_cap_ms = STORE_BUSY_MS;
	sqlite3_busy_handler(st->db, sq_busy, st);
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	if (sq_user_version(st->db, &v) == -1)
		return -1;
	/* Nothing is migrated here: the statements need this very schema. */
	if (v != store_schema_version()) {
		log_error("path=\"%s\" msg=\"schema version %d, not this "
		    "program's %d: open it read-write to migrate it\"", path,
		    v, store_schema_version());
		return -1;
	}
	return 0;
}

/*
 * tu_db.c: the store tests' database on SQLite or PostgreSQL (tu_db.h).
 *
 * One database at a time per process: the current one, made by
 * tu_db_create() in a test's setup and removed by tu_db_destroy() in its
 * teardown.  On SQLite the raw helpers open the file afresh for every
 * call, as the tests always did (another connection than the store's,
 * closed at once).  On PostgreSQL they share one connection to the test's
 * database, opened by tu_db_create() and closed by tu_db_destroy(), or
 * kept for the next test when all run in one process (CK_FORK=no): a
 * connection costs the server a process and its start (some 30 ms of the
 * server's CPU on a loaded two-core machine), and a test may make dozens
 * of raw calls.
 *
 * On PostgreSQL a program has one database (made by tu_db_init() in the
 * runner, dropped when the runner exits), which tu_db_create() empties
 * for each test: every schema the test role owns is dropped, with
 * everything in it, and "public" made again as a new database has it
 * (owned by pg_database_owner, USAGE for all).  A program runs its tests
 * one after another, so a test has the database to itself, empty, as it
 * would have a new one.  Measured on tests/pg/pgctl's server (fsync off,
 * a loaded two-core machine): CREATE DATABASE (STRATEGY file_copy, the
 * cheaper) and DROP DATABASE cost the server 80 ms of CPU a test, the
 * default WAL_LOG strategy 125 ms; emptying a migrated database costs a
 * few.  No template with the schema already in place: every test's
 * store_open() migrates an empty database, as a new installation's first
 * start does.
 */
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "tu_db.h"

/* bytea's type oid (catalog/pg_type_d.h, which libpq does not ship). */
#define TU_BYTEAOID	17

/* What the environment names: -1 not looked at yet, 0 SQLite, 1 PG. */
static int		 engine = -1;
/* SQLite: the current file. */
static char		 file[PATH_MAX];
/* PostgreSQL: the program's database, its URI, and the runner that made
 * it (the processes Check forks for the tests inherit all three, and
 * must not drop it). */
static char		 pgname[64];
static char		 pguri[2048];
static pid_t		 pgrunner;
/* PostgreSQL: the raw helpers' connection to the current database. */
static PGconn		*raw;

int
tu_db_pg(void)
{
	const char	*u;

	if (engine == -1) {
		u = getenv("FL_TEST_PG_URI");
		engine = u != NULL && *u != '\0';
	}
	return engine;
}

void
tu_db_skipped(const char *test, const char *why)
{
	fprintf(stderr, "%s: skipped on PostgreSQL (SQLite only): %s\n",
	    test, why);
}

/* --- PostgreSQL ---------------------------------------------------------- */

static void
pg_quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* A new connection to uri, or a failed test. */
static PGconn *
pg_connect(const char *uri)
{
	PGconn	*c;

	c = PQconnectdb(uri);
	ck_assert_ptr_nonnull(c);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connecting to %s: %s",
	    uri, PQerrorMessage(c));
	/* NOTICEs (a DROP ... IF EXISTS of nothing) are not news. */
	PQsetNoticeProcessor(c, pg_quiet, NULL);
	return c;
}

/* The connection to the database FL_TEST_PG_URI names, for CREATE and
 * DROP DATABASE (which cannot run in the database they make or drop). */
static PGconn *
pg_admin(void)
{
	return pg_connect(getenv("FL_TEST_PG_URI"));
}

/* Runs sql on c, which must succeed. */
static void
pg_cmd(PGconn *c, const char *sql)
{
	PGresult	*r;

	r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
	    PQerrorMessage(c));
	PQclear(r);
}

/*
 * Writes into pguri FL_TEST_PG_URI with its database replaced by pgname:
 * "postgresql://[authority]/DB?params" -> ".../NAME?params"; -1 when
 * that is not a URI or too long.
 */
static int
pg_uri_for(void)
{
	const char	*u = getenv("FL_TEST_PG_URI"), *p, *slash, *q;
	int		 n;

	if ((p = strstr(u, "://")) == NULL)
		return -1;
	p += 3;
	q = strchr(p, '?');
	slash = strchr(p, '/');
	if (slash == NULL || (q != NULL && slash > q))
		slash = q != NULL ? q : p + strlen(p);	/* no database */
	n = snprintf(pguri, sizeof(pguri), "%.*s/%s%s", (int)(slash - u), u,
	    pgname, q != NULL ? q : "");
	return n > 0 && (size_t)n < sizeof(pguri) ? 0 : -1;
}

static void
pg_raw_close(void)
{
	if (raw != NULL)
		PQfinish(raw);
	raw = NULL;
}

static void
pg_drop(void)
{
	PGconn	*a;
	char	 sql[128];

	pg_raw_close();
	a = pg_admin();
	/* FORCE: a store a failed test left open does not keep it. */
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS \"%s\" "
	    "WITH (FORCE)", pgname);
	pg_cmd(a, sql);
	PQfinish(a);
}

/*
 * Drops the databases of test programs that are gone: one killed (a
 * timeout, a crash of the runner) never ran its atexit handler.  Errors
 * are ignored: another program may be dropping the same one.
 */
static void
pg_sweep(PGconn *a)
{
	PGresult	*r;
	char		 sql[128];
	long		 pid;
	int		 i;

	r = PQexec(a, "SELECT datname FROM pg_database "
	    "WHERE datname LIKE 'fltest\\_%'");
	for (i = 0; PQresultStatus(r) == PGRES_TUPLES_OK &&
	    i < PQntuples(r); i++) {
		if (sscanf(PQgetvalue(r, i, 0), "fltest_%ld", &pid) != 1 ||
		    pid <= 0 || pid == (long)getpid() ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS \"%s\" "
		    "WITH (FORCE)", PQgetvalue(r, i, 0));
		PQclear(PQexec(a, sql));
	}
	PQclear(r);
}

static void
pg_make(void)
{
	PGconn	*a;
	char	 sql[128];

	a = pg_admin();
	snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\" "
	    "STRATEGY file_copy", pgname);
	pg_cmd(a, sql);
	PQfinish(a);
}

/* At the runner's exit: the program's database. */
static void
pg_atexit(void)
{
	PGconn	*a;
	char	 sql[128];

	if (pgname[0] == '\0' || getpid() != pgrunner)
		return;
	pg_raw_close();
	a = PQconnectdb(getenv("FL_TEST_PG_URI"));
	if (a != NULL && PQstatus(a) == CONNECTION_OK) {
		PQsetNoticeProcessor(a, pg_quiet, NULL);
		snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS \"%s\" "
		    "WITH (FORCE)", pgname);
		PQclear(PQexec(a, sql));
	}
	PQfinish(a);
}

/* Whether Check runs the tests in this one process (CK_FORK=no, as the
 * valgrind and sanitizer stages do) rather than one process each. */
static int
pg_nofork(void)
{
	const char	*f = getenv("CK_FORK");

	return f != NULL && strcmp(f, "no") == 0;
}

/* The raw helpers' connection to the current database. */
static PGconn *
pg_raw(void)
{
	ck_assert_msg(pgname[0] != '\0', "no current database "
	    "(tu_db_init() not called from suite()?)");
	if (raw == NULL)
		raw = pg_connect(pguri);
	return raw;
}

/*
 * Empties the program's database for the next test, making it again if
 * a test dropped it: the server processes of the stores a test left
 * (one that failed before its store_close, a worker it killed whose
 * statement still runs) are ended first, as DROP DATABASE's FORCE would;
 * then every schema the test role owns goes, with all it holds (tables,
 * views, sequences, functions, triggers), and "public" is made again as
 * CREATE DATABASE makes it.
 */
static void
pg_empty(void)
{
	PGconn	*c;

	if (raw != NULL && PQstatus(raw) == CONNECTION_OK &&
	    PQtransactionStatus(raw) == PQTRANS_IDLE)
		goto empty;
	pg_raw_close();
	c = PQconnectdb(pguri);
	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		pg_make();
	} else {
		PQsetNoticeProcessor(c, pg_quiet, NULL);
		raw = c;
	}
empty:
	/* The test role's own: the server's (autovacuum) yield by
	 * themselves. */
	pg_cmd(pg_raw(), "SELECT pg_terminate_backend(pid, 5000) FROM "
	    "pg_stat_activity WHERE datname = current_database() "
	    "AND usename = current_user AND pid <> pg_backend_pid()");
	pg_cmd(raw, "DO $$DECLARE s name; BEGIN "
	    "FOR s IN SELECT nspname FROM pg_namespace WHERE "
	    "nspname = 'public' OR (nspowner = "
	    "(SELECT oid FROM pg_roles WHERE rolname = current_user) AND "
	    "nspname NOT LIKE 'pg\\_%') LOOP "
	    "EXECUTE format('DROP SCHEMA %I CASCADE', s); END LOOP; END$$; "
	    "CREATE SCHEMA public AUTHORIZATION pg_database_owner; "
	    "GRANT USAGE ON SCHEMA public TO PUBLIC");
}

/* The result of sql, which must return rows. */
static PGresult *
pg_query(const char *sql, int binary)
{
	PGconn		*c = pg_raw();
	PGresult	*r;

	r = PQexecParams(c, sql, 0, NULL, NULL, NULL, NULL, binary);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
	    PQerrorMessage(c));
	return r;
}

/* --- SQLite ---------------------------------------------------------------- */

static sqlite3 *
lite_open(void)
{
	sqlite3	*db = NULL;

	ck_assert_msg(file[0] != '\0', "no current database");
	ck_assert_int_eq(sqlite3_open_v2(file, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

/* sql prepared on db, which must succeed. */
static sqlite3_stmt *
lite_prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*s = NULL;

	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK,
	    "%s: %s", sql, sqlite3_errmsg(db));
	return s;
}

static void
lite_remove(void)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char			 p[PATH_MAX + 16];
	size_t			 i;

	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", file, sfx[i]);
		unlink(p);
	}
}

/* Whether the file at path holds needle; a missing file holds nothing. */
static int
file_contains(const char *path, const char *needle)
{
	FILE	*f;
	char	*data = NULL;
	size_t	 n = 0, cap = 0, got;
	int	 found;

	if ((f = fopen(path, "rb")) == NULL) {
		ck_assert_int_eq(errno, ENOENT);
		return 0;
	}
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			data = realloc(data, cap);
			ck_assert_ptr_nonnull(data);
		}
		got = fread(data + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	fclose(f);
	found = memmem(data, n, needle, strlen(needle)) != NULL;
	free(data);
	return found;
}

/* --- The current database --------------------------------------------------- */

/* Outside any test, where Check's assertions cannot report: the
 * program says why it cannot run, and exits. */
static void
init_fail(const char *what, PGconn *a)
{
	fprintf(stderr, "tu_db_init: %s: %s", what, a != NULL ?
	    PQerrorMessage(a) : "out of memory\n");
	exit(EXIT_FAILURE);
}

void
tu_db_init(void)
{
	PGconn		*a;
	PGresult	*r;
	char		 sql[128];

	if (!tu_db_pg())
		return;
	pgrunner = getpid();
	/* Unique among the programs running at once. */
	snprintf(pgname, sizeof(pgname), "fltest_%ld", (long)pgrunner);
	if (pg_uri_for() == -1) {
		fprintf(stderr, "tu_db_init: FL_TEST_PG_URI is not a "
		    "postgresql:// URI\n");
		exit(EXIT_FAILURE);
	}
	a = PQconnectdb(getenv("FL_TEST_PG_URI"));
	if (a == NULL || PQstatus(a) != CONNECTION_OK)
		init_fail("cannot connect to FL_TEST_PG_URI", a);
	PQsetNoticeProcessor(a, pg_quiet, NULL);
	pg_sweep(a);
	snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\" "
	    "STRATEGY file_copy", pgname);
	r = PQexec(a, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		init_fail(sql, a);
	PQclear(r);
	PQfinish(a);
	if (atexit(pg_atexit) != 0)
		init_fail("atexit", NULL);
}

const char *
tu_db_create(const char *path)
{
	if (!tu_db_pg()) {
		ck_assert_uint_lt(strlen(path), sizeof(file));
		strcpy(file, path);
		return file;
	}
	ck_assert_msg(pgname[0] != '\0', "tu_db_init() was not called "
	    "from suite()");
	pg_empty();
	return pguri;
}

void
tu_db_destroy(void)
{
	if (!tu_db_pg()) {
		if (file[0] != '\0')
			lite_remove();
		file[0] = '\0';
		return;
	}
	/* Emptied by the next test's tu_db_create(), dropped at exit.  The
	 * raw connection serves the next test too when the tests run in
	 * this one process (CK_FORK=no): a connection costs the server
	 * more than emptying the database does. */
	if (!pg_nofork())
		pg_raw_close();
}

void
tu_db_drop(void)
{
	if (tu_db_pg())
		pg_drop();
	else
		lite_remove();
}

void
tu_db_recreate(void)
{
	if (tu_db_pg())
		pg_empty();
	else
		lite_remove();
}

int
tu_db_exists(void)
{
	PGconn		*a;
	PGresult	*r;
	char		 sql[128];
	int		 n;

	if (!tu_db_pg())
		return access(file, F_OK) == 0;
	a = pg_admin();
	snprintf(sql, sizeof(sql), "SELECT 1 FROM pg_database "
	    "WHERE datname = '%s'", pgname);
	r = PQexec(a, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
	    PQerrorMessage(a));
	n = PQntuples(r);
	PQclear(r);
	PQfinish(a);
	return n > 0;
}

/* --- Raw access ------------------------------------------------------------- */

void
tu_db_exec(const char *sql)
{
	sqlite3	*db;
	char	*err = NULL;
	int	 rc;

	if (tu_db_pg()) {
		pg_cmd(pg_raw(), sql);
		return;
	}
	db = lite_open();
	rc = sqlite3_exec(db, sql, NULL, NULL, &err);
	ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, err ? err : "?");
	sqlite3_free(err);
	sqlite3_close(db);
}

int
tu_db_try(const char *sql)
{
	PGresult	*r;
	sqlite3		*db;
	char		*err = NULL;
	int		 rc;

	if (tu_db_pg()) {
		r = PQexec(pg_raw(), sql);
		rc = PQresultStatus(r) == PGRES_COMMAND_OK ||
		    PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : -1;
		if (rc == -1)
			fprintf(stderr, "%s: %s", sql, PQerrorMessage(raw));
		PQclear(r);
		return rc;
	}
	db = lite_open();
	rc = sqlite3_exec(db, sql, NULL, NULL, &err);
	if (rc != SQLITE_OK)
		fprintf(stderr, "%s: %s\n", sql, err != NULL ? err :
		    sqlite3_errmsg(db));
	sqlite3_free(err);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

int64_t
tu_db_int(const char *sql)
{
	PGresult	*r;
	sqlite3		*db;
	sqlite3_stmt	*s;
	const char	*t;
	char		*end;
	int64_t		 v = 0;

	if (tu_db_pg()) {
		r = pg_query(sql, 0);
		ck_assert_msg(PQntuples(r) > 0, "%s: no row", sql);
		if (!PQgetisnull(r, 0, 0)) {
			t = PQgetvalue(r, 0, 0);
			if (strcmp(t, "t") == 0 || strcmp(t, "f") == 0)
				v = *t == 't';
			else {
				errno = 0;
				v = strtoll(t, &end, 10);
				ck_assert_msg(errno == 0 && end != t &&
				    *end == '\0', "%s: not an integer: %s",
				    sql, t);
			}
		}
		PQclear(r);
		return v;
	}
	db = lite_open();
	s = lite_prepare(db, sql);
	ck_assert_msg(sqlite3_step(s) == SQLITE_ROW, "%s: no row", sql);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/* tu_db_text and tu_db_text_opt: need says whether a row must come. */
static char *
db_text(const char *sql, int need)
{
	PGresult		*r;
	sqlite3			*db;
	sqlite3_stmt		*s;
	const unsigned char	*t = NULL;
	char			*v = NULL;
	int			 row;

	if (tu_db_pg()) {
		r = pg_query(sql, 0);
		ck_assert_msg(!need || PQntuples(r) > 0, "%s: no row", sql);
		if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
			ck_assert_ptr_nonnull(v = strdup(PQgetvalue(r, 0, 0)));
		PQclear(r);
		return v;
	}
	db = lite_open();
	s = lite_prepare(db, sql);
	row = sqlite3_step(s) == SQLITE_ROW;
	ck_assert_msg(!need || row, "%s: no row", sql);
	if (row && (t = sqlite3_column_text(s, 0)) != NULL)
		ck_assert_ptr_nonnull(v = strdup((const char *)t));
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

char *
tu_db_text(const char *sql)
{
	return db_text(sql, 1);
}

char *
tu_db_text_opt(const char *sql)
{
	return db_text(sql, 0);
}

size_t
tu_db_blob(const char *sql, unsigned char *buf, size_t cap)
{
	PGresult	*r;
	sqlite3		*db;
	sqlite3_stmt	*s;
	size_t		 n;

	if (tu_db_pg()) {
		r = pg_query(sql, 1);
		ck_assert_msg(PQntuples(r) > 0, "%s: no row", sql);
		ck_assert_int_eq(PQftype(r, 0), TU_BYTEAOID);
		n = (size_t)PQgetlength(r, 0, 0);
		ck_assert_uint_le(n, cap);
		memcpy(buf, PQgetvalue(r, 0, 0), n);
		PQclear(r);
		return n;
	}
	db = lite_open();
	s = lite_prepare(db, sql);
	ck_assert_msg(sqlite3_step(s) == SQLITE_ROW, "%s: no row", sql);
	n = (size_t)sqlite3_column_bytes(s, 0);
	ck_assert_uint_le(n, cap);
	if (n > 0)
		memcpy(buf, sqlite3_column_blob(s, 0), n);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

void
tu_db_flip(const char *table, const char *col, const char *where,
    size_t pos)
{
	PGresult	*r;
	sqlite3		*db;
	sqlite3_stmt	*s;
	unsigned char	 b[512];
	char		 sql[512];
	const char	*vals[1];
	int		 lens[1], fmts[1] = { 1 };
	unsigned int	 types[1] = { TU_BYTEAOID };
	size_t		 n;

	snprintf(sql, sizeof(sql), "SELECT %s FROM %s WHERE %s", col, table,
	    where);
	n = tu_db_blob(sql, b, sizeof(b));
	ck_assert_uint_gt(n, pos);
	b[pos] ^= 0x01;
	if (tu_db_pg()) {
		snprintf(sql, sizeof(sql), "UPDATE %s SET %s = $1 WHERE %s",
		    table, col, where);
		vals[0] = (const char *)b;
		lens[0] = (int)n;
		r = PQexecParams(pg_raw(), sql, 1, types, vals, lens, fmts, 0);
		ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK &&
		    strcmp(PQcmdTuples(r), "1") == 0, "%s: %s", sql,
		    PQerrorMessage(raw));
		PQclear(r);
		return;
	}
	snprintf(sql, sizeof(sql), "UPDATE %s SET %s = ?1 WHERE %s", table,
	    col, where);
	db = lite_open();
	s = lite_prepare(db, sql);
	sqlite3_bind_blob(s, 1, b, (int)n, SQLITE_TRANSIENT);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
	ck_assert_int_eq(sqlite3_changes(db), 1);
	sqlite3_finalize(s);
	sqlite3_close(db);
}

char *
tu_db_blob_lit(const unsigned char *b, size_t n_b, char *out, size_t n)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i, o;

	ck_assert_uint_ge(n, 2 * n_b + 16);
	o = (size_t)snprintf(out, n, "%s", tu_db_pg() ? "'\\x" : "X'");
	for (i = 0; i < n_b; i++) {
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 0x0f];
	}
	snprintf(out + o, n - o, "%s", tu_db_pg() ? "'::bytea" : "'");
	return out;
}

int64_t
tu_db_version(void)
{
	if (!tu_db_pg())
		return tu_db_int("PRAGMA user_version");
	if (!tu_db_has("forcelink_schema"))
		return 0;
	return tu_db_int("SELECT version FROM forcelink_schema");
}

void
tu_db_set_version(int64_t v)
{
	char	 sql[512];

	if (!tu_db_pg()) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %lld",
		    (long long)v);
		tu_db_exec(sql);
		return;
	}
	/* The table as sql/postgresql/001_init.sql makes it. */
	snprintf(sql, sizeof(sql), "CREATE TABLE IF NOT EXISTS "
	    "forcelink_schema (singleton boolean PRIMARY KEY DEFAULT true "
	    "CHECK (singleton), version integer NOT NULL CHECK "
	    "(version >= 0)); DELETE FROM forcelink_schema; "
	    "INSERT INTO forcelink_schema (version) VALUES (%lld)",
	    (long long)v);
	tu_db_exec(sql);
}

int
tu_db_has(const char *name)
{
	char	 sql[256];

	if (tu_db_pg())
		snprintf(sql, sizeof(sql), "SELECT to_regclass('%s') IS NOT "
		    "NULL", name);
	else
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM "
		    "sqlite_master WHERE name = '%s'", name);
	return tu_db_int(sql) > 0;
}

int64_t
tu_db_objects(void)
{
	return tu_db_int(TU_SQL("SELECT count(*) FROM sqlite_master",
	    "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n "
	    "ON n.oid = c.relnamespace WHERE n.nspname = 'public') + "
	    "(SELECT count(*) FROM pg_trigger t JOIN pg_class c "
	    "ON c.oid = t.tgrelid JOIN pg_namespace n "
	    "ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
	    "AND NOT t.tgisinternal)"));
}

int
tu_db_contains(const char *needle)
{
	static const char	 hex[] = "0123456789abcdef";
	PGresult		*tabs, *r;
	char			 p[PATH_MAX + 16], sql[256], *nhex;
	const char		*v;
	size_t			 i, n = strlen(needle);
	int			 t, row, found = 0;

	if (!tu_db_pg()) {
		snprintf(p, sizeof(p), "%s-wal", file);
		found = file_contains(file, needle) ||
		    file_contains(p, needle);
		snprintf(p, sizeof(p), "%s-shm", file);
		return found || file_contains(p, needle);
	}
	/* A bytea's text is \x and its bytes in lower-case hex. */
	ck_assert_ptr_nonnull(nhex = malloc(2 * n + 1));
	for (i = 0; i < n; i++) {
		nhex[2 * i] = hex[(unsigned char)needle[i] >> 4];
		nhex[2 * i + 1] = hex[(unsigned char)needle[i] & 0x0f];
	}
	nhex[2 * n] = '\0';
	tabs = pg_query("SELECT format('%I', c.relname) FROM pg_class c "
	    "JOIN pg_namespace n ON n.oid = c.relnamespace "
	    "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')", 0);
	ck_assert_int_gt(PQntuples(tabs), 0);
	for (t = 0; t < PQntuples(tabs) && !found; t++) {
		snprintf(sql, sizeof(sql), "SELECT x::text FROM %s x",
		    PQgetvalue(tabs, t, 0));
		r = pg_query(sql, 0);
		for (row = 0; row < PQntuples(r) && !found; row++) {
			v = PQgetvalue(r, row, 0);
			found = strstr(v, needle) != NULL ||
			    strstr(v, nhex) != NULL;
		}
		PQclear(r);
	}
	PQclear(tabs);
	free(nhex);
	return found;
}

/* --- Rows ---------------------------------------------------------------------- */

/* Sets value k (copied; NULL stays NULL) of r's row-major arrays, which
 * grow to hold it. */
static void
rows_add(struct tu_rows *r, size_t k, const char *v, int blob)
{
	r->val = realloc(r->val, (k + 1) * sizeof(*r->val));
	r->blob = realloc(r->blob, (k + 1) * sizeof(*r->blob));
	ck_assert_ptr_nonnull(r->val);
	ck_assert_ptr_nonnull(r->blob);
	r->val[k] = NULL;
	if (v != NULL)
		ck_assert_ptr_nonnull(r->val[k] = strdup(v));
	r->blob[k] = blob;
}

struct tu_rows *
tu_db_rows(const char *sql)
{
	struct tu_rows	*r;
	PGresult	*res;
	sqlite3		*db;
	sqlite3_stmt	*s;
	size_t		 k = 0;
	int		 i, j;

	ck_assert_ptr_nonnull(r = calloc(1, sizeof(*r)));
	if (tu_db_pg()) {
		res = pg_query(sql, 0);
		r->ncol = PQnfields(res);
		ck_assert_ptr_nonnull(r->name = calloc((size_t)r->ncol + 1,
		    sizeof(*r->name)));
		for (j = 0; j < r->ncol; j++)
			ck_assert_ptr_nonnull(r->name[j] =
			    strdup(PQfname(res, j)));
		for (i = 0; i < PQntuples(res); i++) {
			for (j = 0; j < r->ncol; j++)
				rows_add(r, k++, PQgetisnull(res, i, j) ?
				    NULL : PQgetvalue(res, i, j),
				    PQftype(res, j) == TU_BYTEAOID);
			r->nrow++;
		}
		PQclear(res);
		return r;
	}
	db = lite_open();
	s = lite_prepare(db, sql);
	r->ncol = sqlite3_column_count(s);
	ck_assert_ptr_nonnull(r->name = calloc((size_t)r->ncol + 1,
	    sizeof(*r->name)));
	for (j = 0; j < r->ncol; j++)
		ck_assert_ptr_nonnull(r->name[j] =
		    strdup(sqlite3_column_name(s, j)));
	while (sqlite3_step(s) == SQLITE_ROW) {
		for (j = 0; j < r->ncol; j++)
			rows_add(r, k++, (const char *)sqlite3_column_text(s,
			    j), sqlite3_column_type(s, j) == SQLITE_BLOB);
		r->nrow++;
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	return r;
}

const char *
tu_rows_get(const struct tu_rows *r, int row, int col)
{
	ck_assert_int_lt(row, r->nrow);
	ck_assert_int_lt(col, r->ncol);
	return r->val[row * r->ncol + col];
}

int
tu_rows_blob(const struct tu_rows *r, int row, int col)
{
	ck_assert_int_lt(row, r->nrow);
	ck_assert_int_lt(col, r->ncol);
	return r->blob[row * r->ncol + col];
}

void
tu_rows_free(struct tu_rows *r)
{
	int	 i;

	if (r == NULL)
		return;
	for (i = 0; i < r->ncol; i++)
		free(r->name[i]);
	for (i = 0; i < r->nrow * r->ncol; i++)
		free(r->val[i]);
	free(r->name);
	free(r->val);
	free(r->blob);
	free(r);
}

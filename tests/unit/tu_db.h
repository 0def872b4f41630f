/*
 * tu_db.h: the database a store test works on, on either engine.
 *
 * The store runs on SQLite (FORCELINK_DB a file path) or on PostgreSQL
 * (a postgresql:// URI, issue 14).  A test program linked with tu_db.c
 * runs against the engine its environment names: when FL_TEST_PG_URI is
 * set (the libpq URI of a database whose role may CREATE DATABASE, as
 * tests/pg/pgctl's "forcelink"; the password from PGPASSFILE), each test
 * gets a database of its own, made by tu_db_create() and dropped by
 * tu_db_destroy(), and opens the store with that database's URI;
 * otherwise the store is opened with the test's SQLite file.
 *
 * The raw helpers look at and alter the current database behind the
 * store's back, as an administrator (or an attacker) with the database
 * could: libpq on PostgreSQL, sqlite3 otherwise.  SQL given to them must
 * mean the same on both engines (TU_SQL picks between two spellings where
 * the dialects differ).  Every helper fails the calling test through
 * Check's assertions on an error, except tu_db_try().
 */
#ifndef FORCELINK_TU_DB_H
#define FORCELINK_TU_DB_H

#include <stddef.h>
#include <stdint.h>

/* Whether the tests run on PostgreSQL (FL_TEST_PG_URI is set). */
int	 tu_db_pg(void);

/* The SQL of the engine the tests run on: lite on SQLite, pg on
 * PostgreSQL. */
#define TU_SQL(lite, pg)	(tu_db_pg() ? (pg) : (lite))

/*
 * Adds test fn to tc only on SQLite; on PostgreSQL prints, once, that
 * the test is left out and why (a test of SQLite's files, locks or
 * pragmas), and adds nothing, so that Check's count is of the tests
 * that ran.
 */
#define TU_ADD_SQLITE_ONLY(tc, fn, why) do {				\
	if (tu_db_pg())							\
		tu_db_skipped(#fn, (why));				\
	else								\
		tcase_add_test((tc), fn);				\
} while (0)
void	 tu_db_skipped(const char *test, const char *why);

/*
 * Called from suite(), in the runner before Check forks any test: on
 * PostgreSQL makes the program's database (dropped when the runner
 * exits; those of programs that died are dropped here), which each test
 * then has to itself (the tests of a program run one at a time).
 */
void	 tu_db_init(void);

/*
 * Makes the current database and returns what the store is opened with:
 * on SQLite file itself (nothing is created: the store makes the file),
 * on PostgreSQL the URI of the program's database, emptied: no schema
 * object of a test before is left, and no connection to it (tu_db.c says
 * how, and why not a CREATE DATABASE per test).  The string stays valid
 * until tu_db_destroy().
 */
const char	*tu_db_create(const char *file);

/* Done with the current database: the file and its -wal, -shm and
 * -journal removed on SQLite; on PostgreSQL the raw connection closed
 * (the next tu_db_create() empties the database). */
void	 tu_db_destroy(void);

/* The current database removed (tu_db_drop: the file, or the
 * database), or made empty again (tu_db_recreate: no file, or no schema
 * object), under the same path or URI. */
void	 tu_db_drop(void);
void	 tu_db_recreate(void);

/* Whether the current database exists (the file, or the database). */
int	 tu_db_exists(void);

/* Runs sql (one or more statements). */
void	 tu_db_exec(const char *sql);

/* Runs sql: 0, or -1 with the error printed on standard error. */
int	 tu_db_try(const char *sql);

/* The first column of the first row of sql as an integer (a boolean is
 * 0 or 1, SQL NULL is 0); there must be a row. */
int64_t	 tu_db_int(const char *sql);

/* The first column of the first row of sql as an allocated string the
 * caller frees; NULL for SQL NULL.  tu_db_text: there must be a row;
 * tu_db_text_opt: NULL when there is none. */
char	*tu_db_text(const char *sql);
char	*tu_db_text_opt(const char *sql);

/* Copies the first column of the first row of sql, a blob of at most
 * cap bytes, to buf; returns its length. */
size_t	 tu_db_blob(const char *sql, unsigned char *buf, size_t cap);

/* Flips bit 0 of byte pos of blob column col of table in the rows
 * where says (a WHERE clause; one row). */
void	 tu_db_flip(const char *table, const char *col, const char *where,
	    size_t pos);

/* Writes into out (n bytes) the SQL literal of the n_b bytes of b:
 * X'..' on SQLite, '\x..'::bytea on PostgreSQL; returns out. */
char	*tu_db_blob_lit(const unsigned char *b, size_t n_b, char *out,
	    size_t n);

/* The schema version as the store records it (PRAGMA user_version;
 * forcelink_schema's version), 0 when none is; and sets it. */
int64_t	 tu_db_version(void);
void	 tu_db_set_version(int64_t v);

/* Whether a table or view of this name exists; the number of schema
 * objects (tables, views, indexes, sequences, triggers). */
int	 tu_db_has(const char *name);
int64_t	 tu_db_objects(void);

/*
 * Whether needle is stored anywhere in the current database: on SQLite
 * in the bytes of the file, its WAL or its shared memory; on PostgreSQL
 * in any row of any table, as text or as the bytes of a bytea (which is
 * what reaches the server's files).
 */
int	 tu_db_contains(const char *needle);

/* The rows of a query, every value as text (NULL for SQL NULL). */
struct tu_rows {
	int	  ncol;
	int	  nrow;
	char	**name;		/* ncol column names */
	char	**val;		/* nrow * ncol values, row by row */
	int	 *blob;		/* nrow * ncol: the value is a blob */
};

struct tu_rows	*tu_db_rows(const char *sql);
const char	*tu_rows_get(const struct tu_rows *r, int row, int col);
int		 tu_rows_blob(const struct tu_rows *r, int row, int col);
void		 tu_rows_free(struct tu_rows *r);

#endif

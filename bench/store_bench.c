/*
 * store_bench: the token store at scale, for scripts/bench.
 *
 *     store_bench [-k KEYFILE] [-c SOURCE] DB N LOOKUPS
 *
 * DB names the store as FORCELINK_DB does: a SQLite file's path, or a
 * postgresql:// URI (password from FORCELINK_DB_PASSWORD_FILE or libpq's
 * PGPASSFILE); the store chooses the engine.  Unless DB already holds
 * link number N-1, store_bench fills it with N links, then times LOOKUPS
 * calls of store_link_get() for random users: the lookup and the two
 * decryptions a /contact request pays before it calls Salesforce.
 *
 * The fill, one of two ways:
 *  - through store_link_put(), exactly as the OAuth callback writes a
 *    link (one write transaction each: on PostgreSQL a few round trips
 *    per link, minutes for a million);
 *  - with -c SOURCE (PostgreSQL only): the rows of SOURCE, a SQLite store
 *    filled by store_bench with the same key and N, copied unchanged into
 *    DB's empty sf_link with one COPY, then VACUUM (ANALYZE), as a bulk
 *    load is finished.  The ciphertexts were sealed by store_link_put()
 *    and their associated data names the row, not the engine, so they
 *    open on PostgreSQL as they do on SQLite; every lookup checks it.
 *
 * Prints key=value lines: the fill rate, the database's bytes per link,
 * the lookup latency percentiles in microseconds, and the CPU per lookup
 * of this process and, on PostgreSQL, of the store's server process
 * (read from /proc: the server must run on this machine for that one).  The key is made
 * up for the run and kept in KEYFILE (made when absent; by default
 * DB.key beside a SQLite file, required for a URI), so a filled database
 * can be reused.  Built only with make bench.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "benchutil.h"
#include "crypto.h"
#include "store.h"

#define STORE_BENCH_URL	"https://bench.my.salesforce.com"
/* COPY data is sent in chunks of about this many bytes. */
#define COPY_CHUNK	(256 * 1024)
/* The longest password read from FORCELINK_DB_PASSWORD_FILE. */
#define PASSWORD_MAX	1024

static double
now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Loads the key file at path, or makes it when absent.  Returns 0 or -1. */
static int
key_load(const char *path, struct crypto_key *key)
{
	unsigned char	 raw[CRYPTO_KEYLEN];
	char		*b64 = NULL;
	FILE		*f;
	int		 rc = -1;

	if (access(path, F_OK) == 0)
		return bench_read_key(path, key);
	crypto_random(raw, sizeof(raw));
	if ((b64 = crypto_base64(raw, sizeof(raw))) == NULL ||
	    (f = fopen(path, "w")) == NULL)
		goto out;
	fprintf(f, "%s\n", b64);
	if (fclose(f) == 0 && crypto_key_from_base64(key, b64) == 0)
		rc = 0;
out:
	if (rc == -1)
		fprintf(stderr, "store_bench: cannot make %s\n", path);
	crypto_wipe(raw, sizeof(raw));
	crypto_free_secret(b64);
	return rc;
}

static long long
file_size(const char *path)
{
	struct stat	 sb;

	return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

/* --- PostgreSQL, beside the store: COPY and sizes ------------------------ */

/*
 * A connection of our own to uri, with the password as the store finds it
 * (FORCELINK_DB_PASSWORD_FILE's first line, else libpq's PGPASSFILE).
 * Returns it, or NULL with a message.
 */
static PGconn *
pg_connect(const char *uri)
{
	const char	*kw[3] = { "dbname", NULL, NULL };
	const char	*val[3] = { uri, NULL, NULL };
	const char	*path;
	char		 pw[PASSWORD_MAX] = "";
	FILE		*f;
	PGconn		*c;

	if ((path = getenv("FORCELINK_DB_PASSWORD_FILE")) != NULL &&
	    path[0] != '\0') {
		if ((f = fopen(path, "r")) == NULL) {
			perror(path);
			return NULL;
		}
		if (fgets(pw, sizeof(pw), f) == NULL)
			pw[0] = '\0';
		fclose(f);
		pw[strcspn(pw, "\r\n")] = '\0';
		kw[1] = "password";
		val[1] = pw;
	}
	c = PQconnectdbParams(kw, val, 1);
	crypto_wipe(pw, sizeof(pw));
	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "store_bench: cannot connect: %s",
		    c != NULL ? PQerrorMessage(c) : "out of memory\n");
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* Runs sql, which returns one integer or nothing.  Returns the integer
 * (0 when none), or -1 with a message. */
static long long
pg_exec(PGconn *c, const char *sql)
{
	PGresult	*res;
	long long	 v = -1;

	res = PQexec(c, sql);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	else if (PQresultStatus(res) == PGRES_COMMAND_OK)
		v = 0;
	else
		fprintf(stderr, "store_bench: %s: %s", sql,
		    PQerrorMessage(c));
	PQclear(res);
	return v;
}

/*
 * The process id of the store's own server process: the one session of
 * the database uri named "forcelink" (the store's application_name), so
 * its CPU can be read from /proc (the server runs on this machine).
 * Returns it, or 0 when there is not exactly one.
 */
static long long
pg_store_backend(const char *uri)
{
	PGconn		*c;
	long long	 v;

	if ((c = pg_connect(uri)) == NULL)
		return 0;
	v = pg_exec(c, "SELECT min(pid) FROM pg_stat_activity WHERE "
	    "datname = current_database() AND application_name = "
	    "'forcelink' AND pid <> pg_backend_pid() HAVING count(*) = 1");
	PQfinish(c);
	return v > 0 ? v : 0;
}

/* User + system CPU of process pid in microseconds, -1 when unknown. */
static double
proc_cpu_us(long long pid)
{
	char		 path[64], buf[1024], *p;
	unsigned long	 ut, st;
	FILE		*f;
	size_t		 n;

	snprintf(path, sizeof(path), "/proc/%lld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields 14 and 15 (utime, stime), counted after the command's
	 * closing parenthesis (field 2 may hold spaces). */
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 2,
	    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
	    &st) != 2)
		return -1;
	return (ut + st) * 1e6 / sysconf(_SC_CLK_TCK);
}

/* Our own user + system CPU in microseconds. */
static double
self_cpu_us(void)
{
	struct rusage	 ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec +
	    ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;
}

/* The bytes of the database uri names. */
static long long
pg_size(const char *uri)
{
	PGconn		*c;
	long long	 v;

	if ((c = pg_connect(uri)) == NULL)
		return 0;
	v = pg_exec(c, "SELECT pg_database_size(current_database())");
	PQfinish(c);
	return v > 0 ? v : 0;
}

/* COPY data being gathered: text format, flushed in chunks. */
struct copybuf {
	PGconn	*c;
	char	*p;
	size_t	 len, cap;
};

/* Sends what b holds.  Returns 0 or -1 with a message. */
static int
copy_flush(struct copybuf *b)
{
	if (b->len > 0 && PQputCopyData(b->c, b->p, (int)b->len) != 1) {
		fprintf(stderr, "store_bench: COPY: %s", PQerrorMessage(b->c));
		return -1;
	}
	b->len = 0;
	return 0;
}

/* Room for n more bytes in b.  Returns 0 or -1. */
static int
copy_room(struct copybuf *b, size_t n)
{
	char	*np;
	size_t	 cap;

	if (b->len + n <= b->cap)
		return 0;
	for (cap = b->cap ? b->cap : COPY_CHUNK; cap < b->len + n; cap *= 2)
		;
	if ((np = realloc(b->p, cap)) == NULL) {
		fprintf(stderr, "store_bench: out of memory\n");
		return -1;
	}
	b->p = np;
	b->cap = cap;
	return 0;
}

/* Appends column i of the row s is on as one COPY text field: \N for
 * NULL, an integer in decimal, bytea as \\x and hex, text with COPY's
 * four special characters escaped.  Returns 0 or -1. */
static int
copy_field(struct copybuf *b, sqlite3_stmt *s, int i)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*v;
	size_t			 n, k;
	char			 ch;

	switch (sqlite3_column_type(s, i)) {
	case SQLITE_NULL:
		if (copy_room(b, 2) == -1)
			return -1;
		memcpy(b->p + b->len, "\\N", 2);
		b->len += 2;
		return 0;
	case SQLITE_INTEGER:
		if (copy_room(b, 24) == -1)
			return -1;
		b->len += snprintf(b->p + b->len, 24, "%lld",
		    (long long)sqlite3_column_int64(s, i));
		return 0;
	case SQLITE_BLOB:
		v = sqlite3_column_blob(s, i);
		n = (size_t)sqlite3_column_bytes(s, i);
		if (copy_room(b, 3 + 2 * n) == -1)
			return -1;
		memcpy(b->p + b->len, "\\\\x", 3);
		b->len += 3;
		for (k = 0; k < n; k++) {
			b->p[b->len++] = hex[v[k] >> 4];
			b->p[b->len++] = hex[v[k] & 15];
		}
		return 0;
	case SQLITE_TEXT:
		v = sqlite3_column_text(s, i);
		n = (size_t)sqlite3_column_bytes(s, i);
		if (copy_room(b, 2 * n) == -1)
			return -1;
		for (k = 0; k < n; k++) {
			switch (v[k]) {
			case '\\': ch = '\\'; break;
			case '\t': ch = 't'; break;
			case '\n': ch = 'n'; break;
			case '\r': ch = 'r'; break;
			default: b->p[b->len++] = (char)v[k]; continue;
			}
			b->p[b->len++] = '\\';
			b->p[b->len++] = ch;
		}
		return 0;
	default:
		fprintf(stderr, "store_bench: a REAL in sf_link\n");
		return -1;
	}
}

/*
 * Copies every row of SQLite's sf_link in src into the empty sf_link of
 * the PostgreSQL database uri: one COPY of the columns SQLite's table has
 * (PostgreSQL's own rowid is generated), then VACUUM (ANALYZE).  The
 * source must hold exactly n links.  Returns 0 or -1 with a message.
 */
static int
fill_copy(const char *uri, const char *src, size_t n)
{
	struct copybuf	 b = { NULL, NULL, 0, 0 };
	sqlite3		*db = NULL;
	sqlite3_stmt	*s = NULL;
	PGresult	*res;
	char		 sql[4096];
	double		 t0 = now_us(), t1;
	size_t		 rows = 0, off;
	int		 i, ncol, rc, ret = -1;

	if ((b.c = pg_connect(uri)) == NULL)
		return -1;
	if (sqlite3_open_v2(src, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK || sqlite3_prepare_v2(db, "SELECT * FROM sf_link", -1,
	    &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "store_bench: %s: %s\n", src,
		    db != NULL ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	ncol = sqlite3_column_count(s);
	off = (size_t)snprintf(sql, sizeof(sql), "COPY sf_link (");
	for (i = 0; i < ncol && off < sizeof(sql); i++)
		off += (size_t)snprintf(sql + off, sizeof(sql) - off, "%s%s",
		    i ? ", " : "", sqlite3_column_name(s, i));
	if (off >= sizeof(sql) - 32) {
		fprintf(stderr, "store_bench: too many columns\n");
		goto out;
	}
	snprintf(sql + off, sizeof(sql) - off, ") FROM STDIN");
	res = PQexec(b.c, sql);
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		fprintf(stderr, "store_bench: %s: %s", sql,
		    PQerrorMessage(b.c));
		PQclear(res);
		goto out;
	}
	PQclear(res);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		for (i = 0; i < ncol; i++) {
			if (copy_field(&b, s, i) == -1 ||
			    copy_room(&b, 1) == -1)
				goto abort;
			b.p[b.len++] = i + 1 < ncol ? '\t' : '\n';
		}
		if (++rows % 100000 == 0)
			fprintf(stderr, "store_bench: %zu links copied\n", rows);
		if (b.len >= COPY_CHUNK && copy_flush(&b) == -1)
			goto abort;
	}
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "store_bench: %s: %s\n", src,
		    sqlite3_errmsg(db));
		goto abort;
	}
	if (rows != n) {
		fprintf(stderr, "store_bench: %s holds %zu links, not %zu\n",
		    src, rows, n);
		goto abort;
	}
	if (copy_flush(&b) == -1 || PQputCopyEnd(b.c, NULL) != 1)
		goto out;
	res = PQgetResult(b.c);
	rc = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!rc)
		fprintf(stderr, "store_bench: COPY: %s", PQerrorMessage(b.c));
	PQclear(res);
	while ((res = PQgetResult(b.c)) != NULL)
		PQclear(res);
	if (!rc)
		goto out;
	t1 = now_us();
	if (pg_exec(b.c, "VACUUM (ANALYZE) sf_link") == -1)
		goto out;
	printf("fill_links=%zu fill_how=copy fill_s=%.1f fill_per_s=%.0f "
	    "vacuum_s=%.1f\n", n, (t1 - t0) / 1e6, n / ((t1 - t0) / 1e6),
	    (now_us() - t1) / 1e6);
	ret = 0;
	goto out;
abort:
	PQputCopyEnd(b.c, "store_bench gave up");
	while ((res = PQgetResult(b.c)) != NULL)
		PQclear(res);
out:
	sqlite3_finalize(s);
	sqlite3_close(db);
	PQfinish(b.c);
	free(b.p);
	return ret;
}

/* Links users 0..n-1 through store_link_put().  Returns 0 or -1. */
static int
fill_put(struct store *st, size_t n)
{
	struct slack_user	 who;
	struct store_link	 l;
	char			 access[BENCH_ACCESS_LEN + 1];
	char			 refresh[BENCH_REFRESH_LEN + 1];
	double			 t0 = now_us();
	size_t			 i;

	for (i = 0; i < n; i++) {
		bench_user(i, &who);
		bench_link(&l, STORE_BENCH_URL, access, refresh);
		if (store_link_put(st, &who, &l, NULL) != STORE_OK) {
			fprintf(stderr, "store_bench: put %zu failed\n", i);
			return -1;
		}
		if (i % 100000 == 99999)
			fprintf(stderr, "store_bench: %zu links\n", i + 1);
	}
	printf("fill_links=%zu fill_how=put fill_s=%.1f fill_per_s=%.0f\n", n,
	    (now_us() - t0) / 1e6, n / ((now_us() - t0) / 1e6));
	return 0;
}

static int
usage(void)
{
	fprintf(stderr, "usage: store_bench [-k KEYFILE] [-c SOURCE] DB N "
	    "LOOKUPS\n");
	return 2;
}

/* The database's size in bytes: the file, or PostgreSQL's database. */
static long long
db_size(const char *db)
{
	return store_is_uri(db) ? pg_size(db) : file_size(db);
}

int
main(int argc, char *argv[])
{
	struct crypto_key	 key;
	struct slack_user	 who;
	struct store_link	 l;
	struct store		*st = NULL;
	const char		*db, *src = NULL, *keyfile = NULL;
	char			 path[4096];
	double			*lat = NULL, t0, cpu0, srv0 = -1, srv1 = -1;
	double			 open_us;
	long long		 backend = 0;
	uint64_t		 x = 88172645463325252ULL;
	size_t			 n, nlook, i;
	long long		 empty = 0;
	int			 ch, pg, rc = 1;

	while ((ch = getopt(argc, argv, "c:k:")) != -1) {
		switch (ch) {
		case 'c':
			src = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		default:
			return usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 3 || (n = strtoul(argv[1], NULL, 10)) == 0 ||
	    (nlook = strtoul(argv[2], NULL, 10)) == 0)
		return usage();
	db = argv[0];
	pg = store_is_uri(db);
	if (pg && keyfile == NULL) {
		fprintf(stderr, "store_bench: -k KEYFILE is needed with a "
		    "URI\n");
		return 2;
	}
	if (!pg && src != NULL) {
		fprintf(stderr, "store_bench: -c copies into PostgreSQL "
		    "only\n");
		return 2;
	}
	if (keyfile == NULL) {
		snprintf(path, sizeof(path), "%s.key", db);
		keyfile = path;
	}
	if (crypto_init() == -1 || key_load(keyfile, &key) == -1)
		return 1;
	if ((lat = calloc(nlook, sizeof(*lat))) == NULL ||
	    (st = store_open(db, &key)) == NULL)
		goto out;
	bench_user(n - 1, &who);
	if (store_link_get(st, &who, &l) != STORE_OK) {
		/* The schema alone, to subtract from the filled size. */
		empty = db_size(db);
		if (src != NULL ? fill_copy(db, src, n) : fill_put(st, n))
			goto out;
		/* Closing the last connection checkpoints SQLite's WAL. */
		store_close(st);
		if ((st = store_open(db, &key)) == NULL)
			goto out;
	}
	store_link_free(&l);
	/* What a new worker thread pays before its first request: a
	 * connection, the schema check and, on PostgreSQL, preparing every
	 * statement.  The lookups then run on this connection. */
	store_close(st);
	t0 = now_us();
	if ((st = store_open(db, &key)) == NULL)
		goto out;
	open_us = now_us() - t0;
	printf("engine=%s db_bytes=%lld", store_engine_name(st), db_size(db));
	if (!pg) {
		snprintf(path, sizeof(path), "%s-wal", db);
		printf(" wal_bytes=%lld", file_size(path));
	}
	printf(" links=%zu bytes_per_link=%.0f open_ms=%.1f\n", n,
	    (double)(db_size(db) - empty) / n, open_us / 1e3);

	/* CPU, beside the latency: what the load of the moment does not
	 * change.  On PostgreSQL the server process's too. */
	if (pg && (backend = pg_store_backend(db)) > 0)
		srv0 = proc_cpu_us(backend);
	cpu0 = self_cpu_us();
	for (i = 0; i < nlook; i++) {
		/* xorshift64: a fixed, uniform sequence of users. */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		bench_user(x % n, &who);
		t0 = now_us();
		if (store_link_get(st, &who, &l) != STORE_OK ||
		    l.access_token == NULL ||
		    strlen(l.access_token) != BENCH_ACCESS_LEN) {
			fprintf(stderr, "store_bench: lookup of %s failed\n",
			    who.user_id);
			goto out;
		}
		lat[i] = now_us() - t0;
		store_link_free(&l);
	}
	cpu0 = self_cpu_us() - cpu0;
	if (srv0 >= 0)
		srv1 = proc_cpu_us(backend);
	qsort(lat, nlook, sizeof(*lat), cmp_double);
	printf("lookups=%zu p50_us=%.1f p90_us=%.1f p99_us=%.1f "
	    "p999_us=%.1f max_us=%.1f\n", nlook, lat[nlook / 2],
	    lat[nlook * 90 / 100], lat[nlook * 99 / 100],
	    lat[nlook * 999 / 1000], lat[nlook - 1]);
	printf("cpu_us_per_lookup=%.1f", cpu0 / nlook);
	if (srv1 >= 0 && srv0 >= 0)
		printf(" server_cpu_us_per_lookup=%.1f", (srv1 - srv0) / nlook);
	printf("\n");
	rc = 0;
out:
	store_close(st);
	crypto_key_wipe(&key);
	free(lat);
	return rc;
}

/*
 * test_store: common/store*.c on real SQLite files in a scratch directory,
 * or, when FL_TEST_PG_URI is set, on a real PostgreSQL server, each test
 * on a database of its own (tu_db.h); the few tests of SQLite's files,
 * locks and pragmas are left out there, each with its reason printed.
 *
 * Besides the normal paths this goes after what an attacker or an
 * accident does to the file: ciphertext flipped, truncated, or moved to
 * another row or column (with raw sqlite3, as an admin could), a program
 * started with the wrong key, a database from a newer version, several
 * connections and processes racing for one OAuth state, and plaintext
 * tokens looked for in the bytes of the database and its WAL.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <sqlite3.h>

#include "crypto.h"
#include "schema.h"
#include "slack.h"
#include "store.h"
#include "testutil.h"
#include "tu_db.h"

/* Tokens in the shapes Salesforce gives them, made afresh by setup(). */
#define ACCESS1		access1
#define REFRESH1	refresh1
#define ACCESS2		access2
#define REFRESH2	refresh2
#define VERIFIER	"pkce-VERIFIER-plaintext-0123456789abcdefghijk"

static char			 dir[1024];
static char			 dbpath[PATH_MAX];
/* What the store is opened with: dbpath, or a PostgreSQL URI. */
static const char		*db;
static struct crypto_key	 key_a, key_b;
/* Tokens and secrets in Slack's and Salesforce's shapes, made afresh by
 * setup() so that no test file holds one. */
static char	 bot1[TU_TOKEN_MAX], botref1[TU_TOKEN_MAX];
static char	 bot2[TU_TOKEN_MAX], botref2[TU_TOKEN_MAX];
static char	 botplain[TU_TOKEN_MAX];
static char	 access1[TU_TOKEN_MAX], refresh1[TU_TOKEN_MAX];
static char	 access2[TU_TOKEN_MAX], refresh2[TU_TOKEN_MAX];
static char	 secret_a[TU_TOKEN_MAX], secret_b[TU_TOKEN_MAX];
static char	 itoken1[TU_TOKEN_MAX], itoken2[TU_TOKEN_MAX];

static void
setup(void)
{
	const char	*tmp;

	ck_assert_int_eq(crypto_init(), 0);
	tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/test_store.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(dbpath, sizeof(dbpath), "%s/forcelink.db", dir);
	db = tu_db_create(dbpath);
	tu_key_random(&key_a);
	tu_key_random(&key_b);
	ck_assert_str_ne(key_a.id, key_b.id);
	tu_token(bot1, "xoxe.xoxb-1-");
	tu_token(botref1, "xoxe-1-");
	tu_token(bot2, "xoxe.xoxb-1-");
	tu_token(botref2, "xoxe-1-");
	tu_token(botplain, "xoxb-");
	tu_token(access1, "00Dxx0000001gPL!AR");
	tu_token(refresh1, "5Aep861");
	tu_token(access2, "00Dxx0000001gPL!AR");
	tu_token(refresh2, "5Aep861");
	tu_token(secret_a, "");
	tu_token(secret_b, "");
	tu_token(itoken1, "00Dxx0000001gPL!AR");
	tu_token(itoken2, "00Dxx0000001gPL!AR");
}

static void
teardown(void)
{
	char	 p[PATH_MAX + 8];

	tu_db_destroy();
	snprintf(p, sizeof(p), "%s/stderr.log", dir);
	unlink(p);
	rmdir(dir);
}

static struct store *
open_with(const struct crypto_key *k)
{
	struct store	*st;

	st = store_open(db, k);
	ck_assert_ptr_nonnull(st);
	return st;
}

static struct slack_user
user(const char *ent, const char *team, const char *uid)
{
	struct slack_user	 u;

	memset(&u, 0, sizeof(u));
	snprintf(u.enterprise_id, sizeof(u.enterprise_id), "%s", ent);
	snprintf(u.team_id, sizeof(u.team_id), "%s", team);
	snprintf(u.user_id, sizeof(u.user_id), "%s", uid);
	return u;
}

static struct store_link
link_in(const char *access, const char *refresh)
{
	struct store_link	 l;

	memset(&l, 0, sizeof(l));
	l.org = (char *)"";
	l.sf_user_id = (char *)"005xx000001SvJVAA0";
	l.sf_org_id = (char *)"00Dxx0000001gPLEAY";
	l.sf_username = (char *)"alice@example.com";
	l.instance_url = (char *)"https://example.my.salesforce.com";
	l.access_token = (char *)access;
	l.refresh_token = (char *)refresh;
	return l;
}

static void
put(struct store *st, const struct slack_user *u, const char *access,
    const char *refresh)
{
	struct store_link	 l = link_in(access, refresh);

	ck_assert_int_eq(store_link_put(st, u, &l, NULL), STORE_OK);
}

/* Asserts that who's link in st opens to exactly these tokens at this
 * version. */
static void
assert_link(struct store *st, const struct slack_user *who,
    const char *access, const char *refresh, int64_t version)
{
	struct store_link	 l;

	ck_assert_int_eq(store_link_get(st, who, &l), STORE_OK);
	ck_assert_str_eq(l.access_token, access);
	ck_assert_str_eq(l.refresh_token, refresh);
	ck_assert_int_eq(l.version, version);
	store_link_free(&l);
}

static void
hash_of(const char *s, unsigned char h[CRYPTO_HASHLEN])
{
	crypto_sha256(s, h);
}

/* --- Raw SQL, as an admin (or an attacker) with the database would ---- */

/* A connection of its own to the SQLite file, for the tests of SQLite's
 * locks (never run on PostgreSQL). */
static sqlite3 *
raw_open(void)
{
	sqlite3	*sdb = NULL;

	ck_assert(!tu_db_pg());
	ck_assert_int_eq(sqlite3_open_v2(dbpath, &sdb, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(sdb, 5000);
	return sdb;
}

static void
raw_exec(const char *sql)
{
	tu_db_exec(sql);
}

static int64_t
raw_int(const char *sql)
{
	return tu_db_int(sql);
}

/* First column of the first row as an allocated string; NULL for SQL
 * NULL. */
static char *
raw_text(const char *sql)
{
	return tu_db_text(sql);
}

/* Flips one bit of byte pos of blob column col in the rows of sql_where
 * (a WHERE clause). */
static void
raw_flip(const char *table, const char *col, const char *where, int pos)
{
	tu_db_flip(table, col, where, (size_t)pos);
}

/* A fingerprint of everything in sf_link, to prove nothing changed. */
static char *
raw_links_snapshot(void)
{
	return raw_text(TU_SQL("SELECT group_concat(enterprise_id || '|' || "
	    "team_id || '|' || user_id || '|' || key_id || '|' || "
	    "hex(access_token_ct) || '|' || hex(refresh_token_ct) || '|' || "
	    "version || '|' || created_at || '|' || updated_at, ';') "
	    "FROM (SELECT * FROM sf_link ORDER BY user_id)",
	    "SELECT string_agg(enterprise_id || '|' || team_id || '|' || "
	    "user_id || '|' || key_id || '|' || encode(access_token_ct, "
	    "'hex') || '|' || encode(refresh_token_ct, 'hex') || '|' || "
	    "version || '|' || created_at || '|' || updated_at, ';' "
	    "ORDER BY user_id) FROM sf_link"));
}

/* Adds a row to slack_replay for each of the n expiry times, under a
 * random signature hash (the first all zero when zero is set). */
static void
replay_rows(int zero, const long long *expires, size_t n)
{
	unsigned char	 h[32];
	char		 lit[128], sql[256];
	size_t		 i;

	for (i = 0; i < n; i++) {
		if (zero && i == 0)
			memset(h, 0, sizeof(h));
		else
			crypto_random(h, sizeof(h));
		snprintf(sql, sizeof(sql), "INSERT INTO slack_replay VALUES "
		    "(%s, %lld)", tu_db_blob_lit(h, sizeof(h), lit,
		    sizeof(lit)), expires[i]);
		raw_exec(sql);
	}
}

/* Whether the file holds needle anywhere; a missing file holds nothing. */
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

/* Sends standard error to a file in the scratch directory. */
static int
stderr_capture(void)
{
	char	 p[PATH_MAX + 16];
	int	 saved, fd;

	snprintf(p, sizeof(p), "%s/stderr.log", dir);
	saved = dup(STDERR_FILENO);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	dup2(fd, STDERR_FILENO);
	close(fd);
	return saved;
}

/* Restores standard error; returns the path of what was captured. */
static const char *
stderr_restore(int saved)
{
	static char	 p[PATH_MAX + 16];

	dup2(saved, STDERR_FILENO);
	close(saved);
	snprintf(p, sizeof(p), "%s/stderr.log", dir);
	return p;
}

/* --- Opening and schema ----------------------------------------------- */

START_TEST(test_result_str)
{
	enum store_result	 r, q;

	for (r = STORE_OK; r <= STORE_ERROR; r++) {
		ck_assert_str_ne(store_result_str(r), "unknown");
		for (q = STORE_OK; q < r; q++)
			ck_assert_str_ne(store_result_str(r),
			    store_result_str(q));
	}
	ck_assert_str_eq(store_result_str(STORE_BADKEY), "badkey");
}
END_TEST

START_TEST(test_open_mode_0600)
{
	struct slack_user	 u = user("", "T1", "U1");
	struct store		*st;
	struct stat		 sb;
	char			 p[PATH_MAX + 8], *mode;

	/* Even with a permissive umask the file is the owner's alone. */
	umask(0);
	st = open_with(&key_a);
	put(st, &u, ACCESS1, REFRESH1);
	ck_assert_int_eq(stat(dbpath, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0600);
	snprintf(p, sizeof(p), "%s-wal", dbpath);
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0600);
	snprintf(p, sizeof(p), "%s-shm", dbpath);
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0600);
	store_close(st);
	mode = raw_text("PRAGMA journal_mode");
	ck_assert_str_eq(mode, "wal");
	free(mode);
}
END_TEST

START_TEST(test_migrate_idempotent)
{
	struct slack_user	 u = user("", "T1", "U1");
	struct store_link	 l;
	struct store		*st;
	int64_t			 objects;

	/* sql/001_init.sql to 004_integrations.sql. */
	ck_assert_int_ge(store_schema_version(), 4);
	st = open_with(&key_a);
	put(st, &u, ACCESS1, REFRESH1);
	store_close(st);
	ck_assert_int_eq(tu_db_version(), store_schema_version());
	objects = tu_db_objects();
	ck_assert_int_ge(objects, 4);

	/* A second and third open change nothing and lose nothing. */
	store_close(open_with(&key_a));
	st = open_with(&key_a);
	ck_assert_int_eq(tu_db_version(), store_schema_version());
	ck_assert_int_eq(tu_db_objects(), objects);
	ck_assert_int_eq(store_link_get(st, &u, &l), STORE_OK);
	ck_assert_str_eq(l.access_token, ACCESS1);
	store_link_free(&l);
	store_close(st);
}
END_TEST

START_TEST(test_open_fail_newer_schema)
{
	int	 saved;

	raw_exec("CREATE TABLE future (x integer)");
	tu_db_set_version(999);
	saved = stderr_capture();
	ck_assert_ptr_null(store_open(db, &key_a));
	ck_assert_int_eq(file_contains(stderr_restore(saved),
	    "database schema version 999"), 1);
	/* Nothing was touched. */
	ck_assert_int_eq(tu_db_version(), 999);
	ck_assert_int_eq(tu_db_has("sf_link"), 0);
}
END_TEST

START_TEST(test_open_fail_not_a_database)
{
	FILE	*f;

	f = fopen(dbpath, "w");
	ck_assert_ptr_nonnull(f);
	fputs("this is not an SQLite database, just some text that is long "
	    "enough to have a header", f);
	fclose(f);
	ck_assert_ptr_null(store_open(db, &key_a));
}
END_TEST

START_TEST(test_open_fail_bad_path)
{
	char	 p[PATH_MAX + 32];

	if (tu_db_pg()) {
		/* A database that does not exist is not made. */
		tu_db_drop();
		ck_assert_ptr_null(store_open(db, &key_a));
		ck_assert_int_eq(tu_db_exists(), 0);
	} else {
		snprintf(p, sizeof(p), "%s/no/such/dir/x.db", dir);
		ck_assert_ptr_null(store_open(p, &key_a));
	}
	ck_assert_ptr_null(store_open(NULL, &key_a));
}
END_TEST

#define OPENERS		8
#define OPEN_ROUNDS	10

static void *
opener(void *arg)
{
	pthread_barrier_t	*bar = arg;
	struct store		*st;

	pthread_barrier_wait(bar);
	st = store_open(db, &key_a);
	store_close(st);
	return st != NULL ? (void *)1 : NULL;
}

/*
 * Workers that start together on a fresh file all create, switch to WAL
 * and migrate it at once (on PostgreSQL: an empty database).  Every one
 * of them must succeed.
 */
START_TEST(test_open_concurrent_migrate)
{
	pthread_barrier_t	 bar;
	pthread_t		 t[OPENERS];
	void			*ok;
	int			 i, round, good;

	for (round = 0; round < OPEN_ROUNDS; round++) {
		tu_db_recreate();
		good = 0;
		pthread_barrier_init(&bar, NULL, OPENERS);
		for (i = 0; i < OPENERS; i++)
			ck_assert_int_eq(pthread_create(&t[i], NULL, opener,
			    &bar), 0);
		for (i = 0; i < OPENERS; i++) {
			pthread_join(t[i], &ok);
			good += ok != NULL;
		}
		pthread_barrier_destroy(&bar);
		ck_assert_int_eq(good, OPENERS);
		ck_assert_int_eq(tu_db_version(), store_schema_version());
		ck_assert_int_eq(tu_db_has("sf_link"), 1);
	}
}
END_TEST

START_TEST(test_links_view)
{
	static const char *const cols[] = {
		"team_id", "user_id", "enterprise_id", "org", "sf_user_id",
		"sf_org_id", "sf_username", "instance_url", "key_id",
		"created_at", "updated_at", "last_used_at", "integration"
	};
	struct slack_user	 u = user("E1", "T1", "U1");
	struct store		*st;
	struct tu_rows		*r;
	char			*t;
	int			 i;

	st = open_with(&key_a);
	put(st, &u, ACCESS1, REFRESH1);
	raw_exec("UPDATE sf_link SET created_at = 1795428000, "
	    "updated_at = 1795428000 + 3661");

	r = tu_db_rows("SELECT * FROM links");
	ck_assert_int_eq(r->ncol, (int)(sizeof(cols) / sizeof(cols[0])));
	for (i = 0; i < r->ncol; i++)
		ck_assert_str_eq(r->name[i], cols[i]);
	ck_assert_int_eq(r->nrow, 1);
	ck_assert_str_eq(tu_rows_get(r, 0, 0), "T1");
	ck_assert_str_eq(tu_rows_get(r, 0, 1), "U1");
	ck_assert_str_eq(tu_rows_get(r, 0, 2), "E1");
	ck_assert_str_eq(tu_rows_get(r, 0, 6), "alice@example.com");
	ck_assert_str_eq(tu_rows_get(r, 0, 8), key_a.id);
	ck_assert_str_eq(tu_rows_get(r, 0, 9), "2026-11-23T10:00:00Z");
	ck_assert_str_eq(tu_rows_get(r, 0, 10), "2026-11-23T11:01:01Z");
	ck_assert_ptr_null(tu_rows_get(r, 0, 11));
	tu_rows_free(r);

	ck_assert_int_eq(store_link_touch(st, &u), STORE_OK);
	t = raw_text("SELECT last_used_at FROM links");
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(strlen(t), 20);
	ck_assert_int_eq(t[10], 'T');
	ck_assert_int_eq(t[19], 'Z');
	free(t);
	store_close(st);
}
END_TEST

/* --- Links ------------------------------------------------------------ */

START_TEST(test_link_roundtrip)
{
	struct slack_user	 u = user("", "T1", "U1");
	struct slack_user	 other_ent = user("E9", "T1", "U1");
	struct slack_user	 other_user = user("", "T1", "U2");
	struct store_link	 in = link_in(ACCESS1, REFRESH1), l;
	struct store		*st;
	time_t			 before, after;

	st = open_with(&key_a);
	in.org = (char *)"acme";
	before = time(NULL);
	ck_assert_int_eq(store_link_put(st, &u, &in, NULL), STORE_OK);
	after = time(NULL);
	ck_assert_int_eq(store_link_get(st, &u, &l), STORE_OK);
	ck_assert_str_eq(l.org, "acme");
	ck_assert_str_eq(l.sf_user_id, "005xx000001SvJVAA0");
	ck_assert_str_eq(l.sf_org_id, "00Dxx0000001gPLEAY");
	ck_assert_str_eq(l.sf_username, "alice@example.com");
	ck_assert_str_eq(l.instance_url, "https://example.my.salesforce.com");
	ck_assert_str_eq(l.access_token, ACCESS1);
	ck_assert_str_eq(l.refresh_token, REFRESH1);
	ck_assert_int_eq(l.version, 1);
	ck_assert_int_ge(l.created_at, before);
	ck_assert_int_le(l.created_at, after);
	ck_assert_int_eq(l.updated_at, l.created_at);
	store_link_free(&l);
	ck_assert_ptr_null(l.access_token);

	/* The whole key (enterprise, team, user) picks the row. */
	ck_assert_int_eq(store_link_get(st, &other_ent, &l), STORE_NOTFOUND);
	ck_assert_ptr_null(l.access_token);
	ck_assert_int_eq(store_link_get(st, &other_user, &l), STORE_NOTFOUND);
	store_close(st);
}
END_TEST

START_TEST(test_link_fail_invalid_input)
{
	struct slack_user	 no_team = user("", "", "U1");
	struct slack_user	 u = user("", "T1", "U1");
	struct store_link	 in = link_in(ACCESS1, NULL), l;
	struct store		*st;
	unsigned char		 h[CRYPTO_HASHLEN];

	st = open_with(&key_a);
	ck_assert_int_eq(store_link_get(st, &no_team, &l), STORE_ERROR);
	ck_assert_int_eq(store_link_put(st, &u, &in, NULL), STORE_ERROR);
	hash_of("n", h);
	ck_assert_int_eq(store_nonce_add(st, &no_team, h, time(NULL) + 60),
	    STORE_ERROR);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM sf_link"), 0);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM login_state"), 0);
	store_close(st);
}
END_TEST

START_TEST(test_relink_returns_old_refresh)
{
	struct slack_user	 u = user("", "T1", "U1");
	struct store_link	 in1 = link_in(ACCESS1, REFRESH1);
	struct store_link	 in2 = link_in(ACCESS2, REFRESH2);
	struct store		*st;
	char			*old = (char *)"sentinel";

	st = open_with(&key_a);
	ck_assert_int_eq(store_link_put(st, &u, &in1, &old), STORE_OK);
	ck_assert_ptr_null(old);
	ck_assert_int_eq(store_link_touch(st, &u), STORE_OK);
	ck_assert_int_eq(store_link_put(st, &u, &in2, &old), STORE_OK);
	ck_assert_ptr_nonnull(old);
	ck_assert_str_eq(old, REFRESH1);
	crypto_free_secret(old);
	assert_link(st, &u, ACCESS2, REFRESH2, 2);
	/* A relink is a new link: it has not been used yet. */
	ck_assert_int_eq(raw_int("SELECT last_used_at IS NULL FROM sf_link"),
	    1);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM sf_link"), 1);
	store_close(st);
}
END_TEST

START_TEST(test_relink_old_refresh_unreadable)
{
	struct slack_user	 u = user("", "T1", "U1");
	struct store_link	 in2 = link_in(ACCESS2, REFRESH2);
	struct store		*st;
	char			*old = (char *)"sentinel";

	st = open_with(&key_a);
	put(st, &u, ACCESS1, REFRESH1);
	raw_flip("sf_link", "refresh_token_ct", "user_id = 'U1'", 30);
	/* An altered row under our own key is replaced; there is just
	 * nothing to revoke. */
	ck_assert_int_eq(store_link_put(st, &u, &in2, &old), STORE_OK);
	ck_assert_ptr_null(old);
	ck_assert_int_eq(raw_int("SELECT version FROM sf_link"), 2);
	store_close(st);
}
END_TEST

START_TEST(test_update_tokens_cas)
{
	struct slack_user	 u = user("", "T1", "U1");
	struct slack_user	 nobody = user("", "T1", "U404");
	struct store		*st;

	st = open_with(&key_a);
	put(st, &u, ACCESS1, REFRESH1);

	/* Access only: the refresh token stays. */
	ck_assert_int_eq(store_link_update_tokens(st, &u, 1, ACCESS2, NULL),
	    STORE_OK);
	assert_link(st, &u, ACCESS2, REFRESH1, 2);

	/* A stale version loses and changes nothing. */
	ck_assert_int_eq(store_link_update_tokens(st, &u, 1, "stale-access",
	    "stale-refresh"), STORE_CONFLICT);
	assert_link(st, &u, ACCESS2, REFRESH1, 2);

	/* A rotated refresh token is stored too. */
	ck_assert_int_eq(store_link_update_tokens(st, &u, 2, ACCESS1,
	    REFRESH2), STORE_OK);
	assert_link(st, &u, ACCESS1, REFRESH2, 3);

	ck_assert_int_eq(store_link_update_tokens(st, &nobody, 1, ACCESS1,
	    NULL), STORE_CONFLICT);
	store_close(st);
}
END_TEST

START_TEST(test_link_delete)
{
	struct slack_user	 u = user("", "T1", "U1");
	struct store_link	 l;
	struct store		*st;

	st = open_with(&key_a);
	put(st, &u, ACCESS1, REFRESH1);
	ck_assert_int_eq(store_link_delete(st, &u, 7), STORE_NOTFOUND);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM sf_link"), 1);
	ck_assert_int_eq(store_link_delete(st, &u, 1), STORE_OK);
	ck_assert_int_eq(store_link_get(st, &u, &l), STORE_NOTFOUND);
	ck_assert_int_eq(store_link_delete(st, &u, -1), STORE_NOTFOUND);
	put(st, &u, ACCESS1, REFRESH1);
	ck_assert_int_eq(store_link_delete(st, &u, -1), STORE_OK);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM sf_link"), 0);
	ck_assert_int_eq(store_link_touch(st, &u), STORE_NOTFOUND);
	store_close(st);
}
END_TEST

/* --- Hostile changes to the file -------------------------------------- */

/* Each case alters the row of (E1, T1, U1) (after U2 was linked too) and
 * then reads the link of `who`. */
static const struct {
	const char	*name;
	const char	*sql;
	const char	*team;
	const char	*sql_pg;	/* PostgreSQL's, where it differs */
} tamper_cases[] = {
	{ "fail: access copied into refresh column",
	    "UPDATE sf_link SET refresh_token_ct = access_token_ct "
	    "WHERE user_id = 'U1'", "T1", NULL },
	{ "fail: refresh copied into access column",
	    "UPDATE sf_link SET access_token_ct = refresh_token_ct "
	    "WHERE user_id = 'U1'", "T1", NULL },
	{ "fail: columns swapped",
	    "UPDATE sf_link SET access_token_ct = refresh_token_ct, "
	    "refresh_token_ct = access_token_ct WHERE user_id = 'U1'", "T1", NULL },
	{ "fail: access copied from another user",
	    "UPDATE sf_link SET access_token_ct = (SELECT access_token_ct "
	    "FROM sf_link WHERE user_id = 'U2') WHERE user_id = 'U1'", "T1", NULL },
	{ "fail: both tokens copied from another user",
	    "UPDATE sf_link SET (access_token_ct, refresh_token_ct) = "
	    "(SELECT access_token_ct, refresh_token_ct FROM sf_link "
	    "WHERE user_id = 'U2') WHERE user_id = 'U1'", "T1", NULL },
	{ "fail: row moved to another team",
	    "UPDATE sf_link SET team_id = 'T9' WHERE user_id = 'U1'", "T9", NULL },
	{ "fail: row moved to another enterprise",
	    "UPDATE sf_link SET enterprise_id = 'E2', team_id = 'T9' "
	    "WHERE user_id = 'U1'", "T9", NULL },
	{ "fail: truncated to 30 bytes",
	    "UPDATE sf_link SET access_token_ct = substr(access_token_ct, 1, "
	    "30) WHERE user_id = 'U1'", "T1", NULL },
	{ "fail: last byte cut",
	    "UPDATE sf_link SET refresh_token_ct = substr(refresh_token_ct, "
	    "1, length(refresh_token_ct) - 1) WHERE user_id = 'U1'", "T1", NULL },
	{ "fail: empty blob",
	    "UPDATE sf_link SET access_token_ct = zeroblob(0) "
	    "WHERE user_id = 'U1'", "T1",
	    "UPDATE sf_link SET access_token_ct = ''::bytea "
	    "WHERE user_id = 'U1'" },
	{ "fail: text instead of blob",
	    "UPDATE sf_link SET access_token_ct = 'plain' "
	    "WHERE user_id = 'U1'", "T1", NULL },
	{ "fail: key id changed",
	    "UPDATE sf_link SET key_id = '0000000000000000' "
	    "WHERE user_id = 'U1'", "T1", NULL },
};

START_TEST(test_tampered)
{
	struct slack_user	 u1 = user("E1", "T1", "U1");
	struct slack_user	 u2 = user("E1", "T1", "U2");
	struct slack_user	 who;
	struct store_link	 l;
	struct store		*st;
	char			*before, *after;
	int			 saved;
	const char		*log;

	st = open_with(&key_a);
	put(st, &u1, ACCESS1, REFRESH1);
	put(st, &u2, ACCESS2, REFRESH2);
	raw_exec(tu_db_pg() && tamper_cases[_i].sql_pg != NULL ?
	    tamper_cases[_i].sql_pg : tamper_cases[_i].sql);
	who = user(strstr(tamper_cases[_i].sql, "'E2'") ? "E2" : "E1",
	    tamper_cases[_i].team, "U1");
	before = raw_links_snapshot();

	saved = stderr_capture();
	ck_assert_int_eq(store_link_get(st, &who, &l), STORE_BADKEY);
	log = stderr_restore(saved);
	ck_assert_ptr_null(l.access_token);
	ck_assert_ptr_null(l.refresh_token);
	/* Nothing was deleted or rewritten, and no secret was logged. */
	after = raw_links_snapshot();
	ck_assert_str_eq(before, after);
	ck_assert_int_eq(file_contains(log, "key"), 1);
	ck_assert_int_eq(file_contains(log, ACCESS1), 0);
	ck_assert_int_eq(file_contains(log, ACCESS2), 0);
	ck_assert_int_eq(file_contains(log, REFRESH1), 0);
	ck_assert_int_eq(file_contains(log, REFRESH2), 0);
	free(before);
	free(after);

	/* The untouched neighbour still opens. */
	ck_assert_int_eq(store_link_get(st, &u2, &l), STORE_OK);
	ck_assert_str_eq(l.access_token, ACCESS2);
	store_link_free(&l);
	store_close(st);
}
END_TEST

static const struct {
	const char	*col;
	int		 pos;
} flip_cases[] = {
	{ "access_token_ct", 0 },	/* nonce */
	{ "access_token_ct", 30 },	/* ciphertext */
	{ "refresh_token_ct", 24 },
	{ "refresh_token_ct", 60 },	/* tag (35 + 40 bytes long) */
};

START_TEST(test_flipped_byte)
{
	struct slack_user	 u = user("", "T1", "U1");
	struct store_link	 l;
	struct store		*st;
	int			 saved;

	st = open_with(&key_a);
	put(st, &u, ACCESS1, REFRESH1);
	raw_flip("sf_link", flip_cases[_i].col, "user_id = 'U1'",
	    flip_cases[_i].pos);
	saved = stderr_capture();
	ck_assert_int_eq(store_link_get(st, &u, &l), STORE_BADKEY);
	ck_assert_int_eq(file_contains(stderr_restore(saved),
	    "altered or wrong key"), 1);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM sf_link"), 1);
	store_close(st);
}
END_TEST

START_TEST(test_wrong_key)
{
	struct slack_user	 u = user("", "T1", "U1");
	struct store_link	 l, in = link_in(ACCESS2, REFRESH2);
	struct store		*a, *b;
	char			*before, *after, *old = (char *)"sentinel";
	unsigned char		 h[CRYPTO_HASHLEN];

	a = open_with(&key_a);
	put(a, &u, ACCESS1, REFRESH1);
	before = raw_links_snapshot();

	/* The program started with another key: a clear error, and nothing
	 * is overwritten or deleted. */
	b = open_with(&key_b);
	ck_assert_int_eq(store_link_get(b, &u, &l), STORE_BADKEY);
	ck_assert_int_eq(store_link_put(b, &u, &in, &old), STORE_BADKEY);
	ck_assert_ptr_null(old);
	ck_assert_int_eq(store_link_update_tokens(b, &u, 1, ACCESS2,
	    REFRESH2), STORE_CONFLICT);
	ck_assert_int_eq(store_link_delete(b, &u, -1), STORE_NOTFOUND);
	ck_assert_int_eq(store_link_delete(b, &u, 1), STORE_NOTFOUND);
	hash_of("x", h);
	ck_assert_int_eq(store_replay_add(b, h, 1000, 2000), STORE_OK);
	after = raw_links_snapshot();
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	store_close(b);

	/* With the right key everything is as it was. */
	assert_link(a, &u, ACCESS1, REFRESH1, 1);
	store_close(a);
}
END_TEST

START_TEST(test_no_plaintext_on_disk)
{
	static const char *const secrets[] = {
		ACCESS1, REFRESH1, ACCESS2, REFRESH2, VERIFIER
	};
	struct slack_user	 u = user("", "T1", "U1");
	struct slack_user	 got;
	struct store		*st;
	unsigned char		 n[CRYPTO_HASHLEN], s[CRYPTO_HASHLEN];
	unsigned char		 c[CRYPTO_HASHLEN];
	char			 wal[PATH_MAX + 8], shm[PATH_MAX + 8];
	time_t			 now = time(NULL);
	size_t			 i;

	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	snprintf(shm, sizeof(shm), "%s-shm", dbpath);
	st = open_with(&key_a);
	put(st, &u, ACCESS1, REFRESH1);
	ck_assert_int_eq(store_link_update_tokens(st, &u, 1, ACCESS2,
	    REFRESH2), STORE_OK);
	hash_of("nonce", n);
	hash_of("state", s);
	hash_of("cookie", c);
	ck_assert_int_eq(store_nonce_add(st, &u, n, now + 600), STORE_OK);
	ck_assert_int_eq(store_nonce_start(st, n, now, s, c, VERIFIER,
	    now + 600, &got), STORE_OK);

	if (tu_db_pg()) {
		/* In no row of any table (what the server writes to its
		 * files and its WAL). */
		ck_assert_int_eq(tu_db_contains("005xx000001SvJVAA0"), 1);
		for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
			ck_assert_int_eq(tu_db_contains(secrets[i]), 0);
		store_close(st);
		return;
	}
	/* While open, most of it is in the WAL: look there too. */
	ck_assert_int_eq(access(wal, F_OK), 0);
	ck_assert_int_eq(file_contains(wal, "005xx000001SvJVAA0"), 1);
	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		ck_assert_int_eq(file_contains(dbpath, secrets[i]), 0);
		ck_assert_int_eq(file_contains(wal, secrets[i]), 0);
		ck_assert_int_eq(file_contains(shm, secrets[i]), 0);
	}
	store_close(st);
	/* After the last close SQLite checkpoints into the main file. */
	ck_assert_int_eq(file_contains(dbpath, "005xx000001SvJVAA0"), 1);
	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		ck_assert_int_eq(file_contains(dbpath, secrets[i]), 0);
		ck_assert_int_eq(file_contains(wal, secrets[i]), 0);
	}
}
END_TEST

/* --- Login nonces and states ------------------------------------------ */

START_TEST(test_nonce_once)
{
	struct slack_user	 u = user("E1", "T1", "U1"), got;
	struct store		*st;
	unsigned char		 n[CRYPTO_HASHLEN], old[CRYPTO_HASHLEN];
	unsigned char		 unk[CRYPTO_HASHLEN], s[CRYPTO_HASHLEN];
	unsigned char		 s2[CRYPTO_HASHLEN], c[CRYPTO_HASHLEN];
	time_t			 now = time(NULL);

	st = open_with(&key_a);
	hash_of("nonce", n);
	hash_of("old nonce", old);
	hash_of("unknown nonce", unk);
	hash_of("state", s);
	hash_of("state 2", s2);
	hash_of("cookie", c);
	ck_assert_int_eq(store_nonce_add(st, &u, n, now + 600), STORE_OK);
	ck_assert_int_eq(store_nonce_add(st, &u, old, now + 5), STORE_OK);

	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(store_nonce_start(st, n, now, s, c, VERIFIER,
	    now + 600, &got), STORE_OK);
	ck_assert_str_eq(got.enterprise_id, "E1");
	ck_assert_str_eq(got.team_id, "T1");
	ck_assert_str_eq(got.user_id, "U1");

	/* Used, unknown, expired (at and after its expiry). */
	ck_assert_int_eq(store_nonce_start(st, n, now, s2, c, VERIFIER,
	    now + 600, &got), STORE_USED);
	ck_assert_int_eq(store_nonce_start(st, unk, now, s2, c, VERIFIER,
	    now + 600, &got), STORE_NOTFOUND);
	ck_assert_int_eq(store_nonce_start(st, old, now + 5, s2, c, VERIFIER,
	    now + 600, &got), STORE_EXPIRED);
	ck_assert_int_eq(store_nonce_start(st, old, now + 6, s2, c, VERIFIER,
	    now + 600, &got), STORE_EXPIRED);
	/* One second earlier it was still good. */
	ck_assert_int_eq(store_nonce_start(st, old, now + 4, s2, c, VERIFIER,
	    now + 600, &got), STORE_OK);
	store_close(st);
}
END_TEST

/* Makes a started login state: nonce added and started by store st. */
static void
state_make(struct store *st, const char *name, time_t now, time_t expires,
    unsigned char s[CRYPTO_HASHLEN], unsigned char c[CRYPTO_HASHLEN])
{
	struct slack_user	 u = user("E1", "T1", "U1"), got;
	unsigned char		 n[CRYPTO_HASHLEN];
	char			 buf[128];

	snprintf(buf, sizeof(buf), "nonce %s", name);
	hash_of(buf, n);
	snprintf(buf, sizeof(buf), "state %s", name);
	hash_of(buf, s);
	snprintf(buf, sizeof(buf), "cookie %s", name);
	hash_of(buf, c);
	ck_assert_int_eq(store_nonce_add(st, &u, n, now + 600), STORE_OK);
	ck_assert_int_eq(store_nonce_start(st, n, now, s, c, VERIFIER,
	    expires, &got), STORE_OK);
}

START_TEST(test_state_take)
{
	struct slack_user	 got;
	struct store		*st;
	unsigned char		 s[CRYPTO_HASHLEN], c[CRYPTO_HASHLEN];
	unsigned char		 s2[CRYPTO_HASHLEN], c2[CRYPTO_HASHLEN];
	unsigned char		 wrong[CRYPTO_HASHLEN];
	char			*v = (char *)"sentinel";
	time_t			 now = time(NULL);

	st = open_with(&key_a);
	state_make(st, "a", now, now + 300, s, c);
	hash_of("someone else's cookie", wrong);

	/* A wrong cookie is refused and leaves the state usable. */
	ck_assert_int_eq(store_state_take(st, s, wrong, now, &got, &v),
	    STORE_MISMATCH);
	ck_assert_ptr_null(v);
	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(store_state_take(st, s, c, now, &got, &v), STORE_OK);
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v, VERIFIER);
	crypto_free_secret(v);
	ck_assert_str_eq(got.enterprise_id, "E1");
	ck_assert_str_eq(got.team_id, "T1");
	ck_assert_str_eq(got.user_id, "U1");
	/* The verifier is not kept once it was handed out. */
	ck_assert_int_eq(raw_int("SELECT count(*) FROM login_state "
	    "WHERE verifier_ct IS NOT NULL"), 0);

	/* Used (kept until expiry, so not merely unknown), unknown. */
	ck_assert_int_eq(store_state_take(st, s, c, now, &got, &v),
	    STORE_USED);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(store_state_take(st, wrong, c, now, &got, &v),
	    STORE_NOTFOUND);

	/* Expired at its expiry time. */
	state_make(st, "b", now, now + 300, s2, c2);
	ck_assert_int_eq(store_state_take(st, s2, c2, now + 300, &got, &v),
	    STORE_EXPIRED);
	ck_assert_ptr_null(v);
	store_close(st);
}
END_TEST

/*
 * A state burnt (it came back without its cookie) is spent: the right
 * cookie later gets STORE_USED and no verifier.  Burning a used or
 * unknown state changes nothing.
 */
START_TEST(test_state_burn)
{
	struct slack_user	 got;
	struct store		*st;
	unsigned char		 s[CRYPTO_HASHLEN], c[CRYPTO_HASHLEN];
	unsigned char		 s2[CRYPTO_HASHLEN], c2[CRYPTO_HASHLEN];
	unsigned char		 unknown[CRYPTO_HASHLEN];
	char			*v = NULL, sql[128];
	time_t			 now = time(NULL);

	st = open_with(&key_a);
	state_make(st, "a", now, now + 300, s, c);
	ck_assert_int_eq(store_state_burn(st, s, now), STORE_OK);
	ck_assert_int_eq(store_state_take(st, s, c, now, &got, &v),
	    STORE_USED);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM login_state "
	    "WHERE verifier_ct IS NOT NULL"), 0);
	/* Once used, a burn leaves the row alone. */
	state_make(st, "b", now, now + 300, s2, c2);
	ck_assert_int_eq(store_state_take(st, s2, c2, now, &got, &v),
	    STORE_OK);
	crypto_free_secret(v);
	v = NULL;
	ck_assert_int_eq(store_state_burn(st, s2, now + 1), STORE_NOTFOUND);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM login_state "
	    "WHERE used_at > %lld", (long long)now);
	ck_assert_int_eq(raw_int(sql), 0);
	hash_of("no such state", unknown);
	ck_assert_int_eq(store_state_burn(st, unknown, now), STORE_NOTFOUND);
	store_close(st);
}
END_TEST

/* Writes the WHERE clause that picks the login state with hash s. */
static void
where_state(const unsigned char s[CRYPTO_HASHLEN], char *out, size_t n)
{
	char	 lit[2 * CRYPTO_HASHLEN + 32];

	snprintf(out, n, "state_hash = %s", tu_db_blob_lit(s, CRYPTO_HASHLEN,
	    lit, sizeof(lit)));
}

START_TEST(test_state_take_fail_badkey)
{
	struct slack_user	 got;
	struct store		*a, *b;
	unsigned char		 s[CRYPTO_HASHLEN], c[CRYPTO_HASHLEN];
	unsigned char		 s2[CRYPTO_HASHLEN], c2[CRYPTO_HASHLEN];
	char			*v = NULL, where[128], where2[128], sql[512];
	time_t			 now = time(NULL);

	a = open_with(&key_a);
	b = open_with(&key_b);
	state_make(a, "a", now, now + 300, s, c);
	ck_assert_int_eq(store_state_take(b, s, c, now, &got, &v),
	    STORE_BADKEY);
	ck_assert_ptr_null(v);
	/* Not consumed by the failed attempt. */
	ck_assert_int_eq(store_state_take(a, s, c, now, &got, &v), STORE_OK);
	ck_assert_str_eq(v, VERIFIER);
	crypto_free_secret(v);

	/* An altered verifier does not open either. */
	state_make(a, "b", now, now + 300, s2, c2);
	where_state(s2, where, sizeof(where));
	raw_flip("login_state", "verifier_ct", where, 33);
	ck_assert_int_eq(store_state_take(a, s2, c2, now, &got, &v),
	    STORE_BADKEY);
	ck_assert_ptr_null(v);

	/* Nor does one moved from another state's row. */
	state_make(a, "c", now, now + 300, s, c);
	state_make(a, "d", now, now + 300, s2, c2);
	where_state(s2, where, sizeof(where));
	where_state(s, where2, sizeof(where2));
	snprintf(sql, sizeof(sql), "UPDATE login_state SET verifier_ct = "
	    "(SELECT verifier_ct FROM login_state WHERE %s) WHERE %s",
	    where2, where);
	raw_exec(sql);
	ck_assert_int_eq(store_state_take(a, s2, c2, now, &got, &v),
	    STORE_BADKEY);
	ck_assert_ptr_null(v);
	/* The row it came from still opens. */
	ck_assert_int_eq(store_state_take(a, s, c, now, &got, &v), STORE_OK);
	crypto_free_secret(v);
	store_close(a);
	store_close(b);
}
END_TEST

#define RACERS	8
#define ROUNDS	5

struct racer {
	pthread_barrier_t	*bar;
	const unsigned char	*state;
	const unsigned char	*cookie;
	time_t			 now;
	enum store_result	 r;
	int			 verifier_ok;
};

static void *
racer_run(void *arg)
{
	struct racer		*rc = arg;
	struct slack_user	 got;
	struct store		*st;
	char			*v = NULL;

	st = store_open(db, &key_a);
	pthread_barrier_wait(rc->bar);
	rc->r = st != NULL ? store_state_take(st, rc->state, rc->cookie,
	    rc->now, &got, &v) : STORE_ERROR;
	rc->verifier_ok = v != NULL && strcmp(v, VERIFIER) == 0;
	crypto_free_secret(v);
	store_close(st);
	return NULL;
}

START_TEST(test_state_take_race_threads)
{
	pthread_barrier_t	 bar;
	pthread_t		 t[RACERS];
	struct racer		 rc[RACERS];
	struct store		*st;
	unsigned char		 s[CRYPTO_HASHLEN], c[CRYPTO_HASHLEN];
	char			 name[16];
	time_t			 now = time(NULL);
	int			 i, round, ok, used;

	st = open_with(&key_a);
	for (round = 0; round < ROUNDS; round++) {
		snprintf(name, sizeof(name), "r%d", round);
		state_make(st, name, now, now + 300, s, c);
		pthread_barrier_init(&bar, NULL, RACERS);
		for (i = 0; i < RACERS; i++) {
			rc[i] = (struct racer){ &bar, s, c, now, STORE_ERROR,
			    0 };
			ck_assert_int_eq(pthread_create(&t[i], NULL,
			    racer_run, &rc[i]), 0);
		}
		ok = used = 0;
		for (i = 0; i < RACERS; i++) {
			pthread_join(t[i], NULL);
			if (rc[i].r == STORE_OK) {
				ok++;
				ck_assert_int_eq(rc[i].verifier_ok, 1);
			} else if (rc[i].r == STORE_USED)
				used++;
		}
		pthread_barrier_destroy(&bar);
		ck_assert_int_eq(ok, 1);
		ck_assert_int_eq(used, RACERS - 1);
	}
	store_close(st);
}
END_TEST

/* A child process: opens its own connection, says it is ready, waits
 * for the start signal (EOF on go), takes the state, exits with the
 * result. */
static void
racer_child(int ready, int go, const unsigned char *s,
    const unsigned char *c, time_t now)
{
	struct slack_user	 got;
	struct store		*st;
	char			*v = NULL, ch;
	enum store_result	 r = STORE_ERROR;

	st = store_open(db, &key_a);
	(void)!write(ready, "r", 1);
	(void)!read(go, &ch, 1);
	if (st != NULL)
		r = store_state_take(st, s, c, now, &got, &v);
	if (r == STORE_OK && (v == NULL || strcmp(v, VERIFIER) != 0))
		r = STORE_ERROR;
	crypto_free_secret(v);
	store_close(st);
	_exit((int)r);
}

START_TEST(test_state_take_race_processes)
{
	struct store		*st;
	unsigned char		 s[CRYPTO_HASHLEN], c[CRYPTO_HASHLEN];
	pid_t			 pid[RACERS];
	int			 ready[2], go[2], i, status, ok = 0, used = 0;
	time_t			 now = time(NULL);
	char			 ch;

	st = open_with(&key_a);
	state_make(st, "p", now, now + 300, s, c);
	store_close(st);
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(go), 0);
	for (i = 0; i < RACERS; i++) {
		pid[i] = fork();
		ck_assert_int_ge(pid[i], 0);
		if (pid[i] == 0) {
			close(ready[0]);
			close(go[1]);
			racer_child(ready[1], go[0], s, c, now);
		}
	}
	close(ready[1]);
	close(go[0]);
	for (i = 0; i < RACERS; i++)
		ck_assert_int_eq(read(ready[0], &ch, 1), 1);
	close(go[1]);	/* every child's read returns now */
	for (i = 0; i < RACERS; i++) {
		ck_assert_int_eq(waitpid(pid[i], &status, 0), pid[i]);
		ck_assert(WIFEXITED(status));
		if (WEXITSTATUS(status) == STORE_OK)
			ok++;
		else if (WEXITSTATUS(status) == STORE_USED)
			used++;
	}
	close(ready[0]);
	ck_assert_int_eq(ok, 1);
	ck_assert_int_eq(used, RACERS - 1);
}
END_TEST

/* --- Replays and purging ---------------------------------------------- */

START_TEST(test_replay)
{
	struct store	*st;
	unsigned char	 a[CRYPTO_HASHLEN], b[CRYPTO_HASHLEN];

	st = open_with(&key_a);
	hash_of("v0=aaaa", a);
	hash_of("v0=bbbb", b);
	ck_assert_int_eq(store_replay_add(st, a, 1000, 1300), STORE_OK);
	ck_assert_int_eq(store_replay_add(st, a, 1001, 1301), STORE_EXISTS);
	ck_assert_int_eq(store_replay_add(st, a, 1299, 1599), STORE_EXISTS);
	ck_assert_int_eq(store_replay_add(st, b, 1001, 1301), STORE_OK);
	/* Once its window has passed the same hash is new again. */
	ck_assert_int_eq(store_replay_add(st, a, 1300, 1600), STORE_OK);
	ck_assert_int_eq(store_replay_add(st, a, 1301, 1601), STORE_EXISTS);
	store_close(st);
}
END_TEST

START_TEST(test_replay_purges_along_the_way)
{
	struct store	*st;
	unsigned char	 a[CRYPTO_HASHLEN];

	st = open_with(&key_a);
	replay_rows(1, (const long long []){ 100, 200, 5000 }, 3);
	hash_of("v0=cccc", a);
	ck_assert_int_eq(store_replay_add(st, a, 1000, 1300), STORE_OK);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM slack_replay"), 2);
	ck_assert_int_eq(raw_int("SELECT min(expires_at) FROM slack_replay"),
	    1300);
	store_close(st);
}
END_TEST

START_TEST(test_purge)
{
	struct slack_user	 u = user("", "T1", "U1");
	struct store		*st;
	unsigned char		 h[CRYPTO_HASHLEN];

	st = open_with(&key_a);
	replay_rows(0, (const long long []){ 100, 400, 500, 501 }, 4);
	hash_of("n1", h);
	ck_assert_int_eq(store_nonce_add(st, &u, h, 499), STORE_OK);
	hash_of("n2", h);
	ck_assert_int_eq(store_nonce_add(st, &u, h, 900), STORE_OK);
	put(st, &u, ACCESS1, REFRESH1);
	ck_assert_int_eq(store_purge(st, 500), 4);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM slack_replay"), 1);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM login_state"), 1);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM sf_link"), 1);
	ck_assert_int_eq(store_purge(st, 500), 0);
	store_close(st);
}
END_TEST

/*
 * Every outcome, including the failures, must leave no statement holding
 * a read transaction: otherwise the WAL could never be reset and would
 * grow without bound.  A TRUNCATE checkpoint from another connection
 * succeeds only when no reader is left.  On PostgreSQL a transaction
 * left open holds its snapshot (no row it could see is ever vacuumed)
 * and its locks: no connection may be left in one.
 */
START_TEST(test_no_reader_left_behind)
{
	struct slack_user	 u = user("", "T1", "U1"), got;
	struct store_link	 l, in = link_in(ACCESS2, REFRESH2);
	struct store		*a, *b;
	unsigned char		 s[CRYPTO_HASHLEN], c[CRYPTO_HASHLEN];
	unsigned char		 x[CRYPTO_HASHLEN];
	char			*v = NULL;
	time_t			 now = time(NULL);

	a = open_with(&key_a);
	b = open_with(&key_b);
	put(a, &u, ACCESS1, REFRESH1);
	state_make(a, "a", now, now + 300, s, c);
	hash_of("x", x);
	ck_assert_int_eq(store_link_get(b, &u, &l), STORE_BADKEY);
	ck_assert_int_eq(store_link_put(b, &u, &in, NULL), STORE_BADKEY);
	ck_assert_int_eq(store_state_take(b, s, c, now, &got, &v),
	    STORE_BADKEY);
	ck_assert_int_eq(store_state_take(a, s, x, now, &got, &v),
	    STORE_MISMATCH);
	ck_assert_int_eq(store_state_take(a, x, c, now, &got, &v),
	    STORE_NOTFOUND);
	ck_assert_int_eq(store_nonce_start(a, x, now, x, x, VERIFIER, now,
	    &got), STORE_NOTFOUND);
	ck_assert_int_eq(store_replay_add(a, x, now, now + 300), STORE_OK);
	ck_assert_int_eq(store_replay_add(a, x, now, now + 300),
	    STORE_EXISTS);
	ck_assert_int_eq(store_link_update_tokens(a, &u, 9, "a", NULL),
	    STORE_CONFLICT);
	raw_flip("sf_link", "access_token_ct", "user_id = 'U1'", 30);
	ck_assert_int_eq(store_link_get(a, &u, &l), STORE_BADKEY);

	ck_assert_int_eq(raw_int(TU_SQL("PRAGMA wal_checkpoint(TRUNCATE)",
	    "SELECT count(*) FROM pg_stat_activity WHERE datname = "
	    "current_database() AND xact_start IS NOT NULL "
	    "AND pid <> pg_backend_pid()")), 0);
	store_close(a);
	store_close(b);
}
END_TEST

/* A link reads back when it was last used: 0 before, about now after
 * store_link_touch (callers use it to skip touching a fresh link). */
START_TEST(test_link_last_used)
{
	struct slack_user	 u = user("", "T1", "U1");
	struct store_link	 l;
	struct store		*st;
	time_t			 now = time(NULL);

	st = open_with(&key_a);
	put(st, &u, ACCESS1, REFRESH1);
	ck_assert_int_eq(store_link_get(st, &u, &l), STORE_OK);
	ck_assert_int_eq(l.last_used_at, 0);
	store_link_free(&l);
	ck_assert_int_eq(store_link_touch(st, &u), STORE_OK);
	ck_assert_int_eq(store_link_get(st, &u, &l), STORE_OK);
	ck_assert_int_ge(l.last_used_at, now);
	ck_assert_int_le(l.last_used_at, now + 5);
	store_link_free(&l);
	store_close(st);
}
END_TEST

#define WAL_READERS	8

struct wal_reader {
	struct store		*st;
	struct slack_user	 u;
	volatile int		 stop;
	long			 reads;
};

static void *
wal_reader_run(void *arg)
{
	struct wal_reader	*r = arg;
	struct store_link	 l;

	while (!r->stop) {
		if (store_link_get(r->st, &r->u, &l) == STORE_OK)
			r->reads++;
		store_link_free(&l);
	}
	return NULL;
}

/*
 * Every /contact writes to the replay cache while other threads read.
 * With a reader always busy on another connection, SQLite's automatic
 * checkpoint never got to start the WAL over: it grew by every commit
 * (and every commit paid a checkpoint's fsyncs).  The WAL must stay near
 * the checkpoint threshold (1000 pages of 4 KiB) however many commits
 * there are.
 */
START_TEST(test_wal_bounded_under_readers)
{
	struct wal_reader	 r[WAL_READERS];
	struct store		*st;
	struct stat		 sb;
	pthread_t		 t[WAL_READERS];
	unsigned char		 h[CRYPTO_HASHLEN];
	char			 wal[PATH_MAX + 8], name[32];
	time_t			 now = time(NULL);
	int			 i;

	st = open_with(&key_a);
	memset(r, 0, sizeof(r));
	for (i = 0; i < WAL_READERS; i++) {
		r[i].u = user("", "T1", "U1");
		r[i].st = open_with(&key_a);
	}
	put(st, &r[0].u, ACCESS1, REFRESH1);
	for (i = 0; i < WAL_READERS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, wal_reader_run,
		    &r[i]), 0);
	/* Bounded in time too: under valgrind, which runs one thread at a
	 * time, far fewer commits fit (and the check is then weaker). */
	for (i = 0; i < 3000 && time(NULL) < now + 5; i++) {
		snprintf(name, sizeof(name), "v0=%d", i);
		hash_of(name, h);
		ck_assert_int_eq(store_replay_add(st, h, now, now + 600),
		    STORE_OK);
	}
	fprintf(stderr, "test_wal_bounded_under_readers: %d commits\n", i);
	for (i = 0; i < WAL_READERS; i++) {
		r[i].stop = 1;
		pthread_join(t[i], NULL);
		ck_assert_int_gt(r[i].reads, 0);
		store_close(r[i].st);
	}
	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	ck_assert_int_eq(stat(wal, &sb), 0);
	/* 3000 commits of 2 pages would be about 25 MB. */
	ck_assert_int_lt(sb.st_size, 1500 * (4096 + 24));
	store_close(st);
}
END_TEST

static int	ckpt_wakes;

static void
ckpt_wake(void)
{
	__atomic_add_fetch(&ckpt_wakes, 1, __ATOMIC_RELAXED);
}

/* Frames in the WAL of the test's file, from a connection of its own (a
 * PASSIVE checkpoint's figure; it copies, so only as a last look). */
static int
wal_frames(void)
{
	sqlite3	*c;
	int	 nlog = -1, nckpt = -1;

	ck_assert_int_eq(sqlite3_open_v2(dbpath, &c, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_wal_checkpoint_v2(c, NULL,
	    SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt), SQLITE_OK);
	sqlite3_close(c);
	return nlog;
}

/*
 * store_checkpoint_elsewhere(): a commit that makes the WAL long only
 * calls the wake function and checkpoints nothing itself (the WAL grows
 * past where the connection would have started it over), and
 * store_checkpoint() on another connection does the work: the next
 * commit starts the WAL over.
 */
START_TEST(test_checkpoint_elsewhere)
{
	struct store	*st, *other;
	struct stat	 sb;
	unsigned char	 h[CRYPTO_HASHLEN];
	char		 wal[PATH_MAX + 8], name[32];
	time_t		 now = time(NULL);
	int		 i;

	ckpt_wakes = 0;
	store_checkpoint_elsewhere(ckpt_wake);
	st = open_with(&key_a);
	other = open_with(&key_a);
	for (i = 0; i < 1500; i++) {
		snprintf(name, sizeof(name), "ck=%d", i);
		hash_of(name, h);
		ck_assert_int_eq(store_replay_add(st, h, now, now + 600),
		    STORE_OK);
	}
	ck_assert_int_gt(ckpt_wakes, 0);
	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	ck_assert_int_eq(stat(wal, &sb), 0);
	/* About 3000 frames: more than test_wal_bounded_under_readers
	 * allows when the committing connection checkpoints. */
	ck_assert_int_gt(sb.st_size, 1500 * (4096 + 24));
	store_checkpoint(other);
	hash_of("ck=last", h);
	ck_assert_int_eq(store_replay_add(st, h, now, now + 600), STORE_OK);
	ck_assert_int_le(wal_frames(), 10);
	store_checkpoint_elsewhere(NULL);
	store_close(other);
	store_close(st);
}
END_TEST

/* --- Administration (forcelink-admin) --------------------------------- */

/* Puts a link for who under key k with this Salesforce username. */
static void
put_as(const struct crypto_key *k, const struct slack_user *who,
    const char *username)
{
	struct store_link	 l = link_in(ACCESS1, REFRESH1);
	struct store		*st = open_with(k);

	l.sf_username = (char *)username;
	ck_assert_int_eq(store_link_put(st, who, &l, NULL), STORE_OK);
	store_close(st);
}

START_TEST(test_probe)
{
	struct store	*st;
	char		 p[PATH_MAX + 16];
	FILE		*f;
	int		 v = -1;

	/* Missing: reported, and not created. */
	ck_assert_int_eq(store_probe(dbpath, &v), STORE_PROBE_MISSING);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(access(dbpath, F_OK), -1);
	ck_assert_int_eq(store_probe(NULL, &v), STORE_PROBE_ERROR);
	/* An SQLite file of version 0 is read, not migrated. */
	raw_exec("CREATE TABLE t (x)");
	ck_assert_int_eq(store_probe(dbpath, &v), STORE_PROBE_OK);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(raw_int("PRAGMA user_version"), 0);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM sqlite_schema "
	    "WHERE name = 'sf_link'"), 0);
	tu_db_drop();
	st = open_with(&key_a);
	store_close(st);
	ck_assert_int_eq(store_probe(dbpath, &v), STORE_PROBE_OK);
	ck_assert_int_eq(v, store_schema_version());
	/* The WAL is kept: closing the probe must not delete it. */
	snprintf(p, sizeof(p), "%s-wal", dbpath);
	ck_assert_int_eq(access(p, F_OK), 0);
	/* Not a database; not a file. */
	tu_db_drop();
	ck_assert_ptr_nonnull(f = fopen(dbpath, "w"));
	fputs("this is not an SQLite database, not at all, no. "
	    "padding padding padding padding padding padding\n", f);
	fclose(f);
	ck_assert_int_eq(store_probe(dbpath, &v), STORE_PROBE_ERROR);
	ck_assert_int_eq(store_probe(dir, &v), STORE_PROBE_ERROR);
}
END_TEST

START_TEST(test_list_links)
{
	struct slack_user	 a = user("", "T1", "U2");
	struct slack_user	 b = user("", "T1", "U1");
	struct slack_user	 c = user("E2", "T2", "U1");
	struct slack_user	 d = user("E1", "T2", "U1");
	struct slack_user	 e = user("", "T3", "U1");
	struct store_link_list	 ll;
	struct store		*st;
	time_t			 now = time(NULL), after;

	put_as(&key_a, &a, "a@example.com");
	put_as(&key_a, &b, "b@example.com");
	put_as(&key_a, &c, "c@example.com");
	put_as(&key_a, &d, "d@example.com");
	put_as(&key_b, &e, "e@example.com");
	after = time(NULL);
	/* Listing needs no key: a connection under key_b sees them all. */
	st = open_with(&key_b);
	ck_assert_int_eq(store_list_links(st, NULL, NULL, NULL, &ll), STORE_OK);
	ck_assert_uint_eq(ll.n, 5);
	/* Ordered by team, user, enterprise. */
	ck_assert_str_eq(ll.v[0].sf_username, "b@example.com");
	ck_assert_str_eq(ll.v[1].sf_username, "a@example.com");
	ck_assert_str_eq(ll.v[2].sf_username, "d@example.com");
	ck_assert_str_eq(ll.v[3].sf_username, "c@example.com");
	ck_assert_str_eq(ll.v[4].sf_username, "e@example.com");
	ck_assert_str_eq(ll.v[2].who.enterprise_id, "E1");
	ck_assert_str_eq(ll.v[2].who.team_id, "T2");
	ck_assert_str_eq(ll.v[2].who.user_id, "U1");
	ck_assert_str_eq(ll.v[0].who.enterprise_id, "");
	ck_assert_str_eq(ll.v[0].org, "");
	ck_assert_str_eq(ll.v[0].sf_user_id, "005xx000001SvJVAA0");
	ck_assert_str_eq(ll.v[0].sf_org_id, "00Dxx0000001gPLEAY");
	ck_assert_str_eq(ll.v[0].instance_url,
	    "https://example.my.salesforce.com");
	ck_assert_str_eq(ll.v[0].key_id, key_a.id);
	ck_assert_str_eq(ll.v[4].key_id, key_b.id);
	ck_assert_int_eq(ll.v[0].version, 1);
	/* Made between the two readings of the clock (however loaded the
	 * machine). */
	ck_assert_int_ge(ll.v[0].created_at, now);
	ck_assert_int_le(ll.v[0].created_at, after);
	ck_assert_int_eq(ll.v[0].updated_at, ll.v[0].created_at);
	ck_assert_int_eq(ll.v[0].last_used_at, 0);
	store_link_list_free(&ll);
	ck_assert_ptr_null(ll.v);
	ck_assert_uint_eq(ll.n, 0);

	/* Filters. */
	ck_assert_int_eq(store_list_links(st, NULL, "T2", NULL, &ll), STORE_OK);
	ck_assert_uint_eq(ll.n, 2);
	store_link_list_free(&ll);
	ck_assert_int_eq(store_list_links(st, "", NULL, NULL, &ll), STORE_OK);
	ck_assert_uint_eq(ll.n, 3);
	store_link_list_free(&ll);
	ck_assert_int_eq(store_list_links(st, "E2", "T2", "U1", &ll),
	    STORE_OK);
	ck_assert_uint_eq(ll.n, 1);
	ck_assert_str_eq(ll.v[0].sf_username, "c@example.com");
	store_link_list_free(&ll);
	ck_assert_int_eq(store_list_links(st, NULL, "T1", "U2", &ll),
	    STORE_OK);
	ck_assert_uint_eq(ll.n, 1);
	ck_assert_str_eq(ll.v[0].sf_username, "a@example.com");
	store_link_list_free(&ll);
	ck_assert_int_eq(store_list_links(st, NULL, "T9", NULL, &ll),
	    STORE_OK);
	ck_assert_uint_eq(ll.n, 0);
	ck_assert_ptr_null(ll.v);

	/* last used shows after a touch. */
	ck_assert_int_eq(store_link_touch(st, &b), STORE_OK);
	ck_assert_int_eq(store_list_links(st, NULL, "T1", "U1", &ll),
	    STORE_OK);
	ck_assert_int_ge(ll.v[0].last_used_at, now);
	store_link_list_free(&ll);
	store_close(st);
}
END_TEST

/* --- Slack installations (sql/003_installations.sql) ------------------ */

/* The tokens setup() made. */
#define BOT1		bot1
#define BOTREF1		botref1
#define BOT2		bot2
#define BOTREF2		botref2
#define BOTPLAIN	botplain

/* An installation to store: (ent, team), rotating when refresh is set. */
static struct store_install
inst_in(const char *ent, const char *team, const char *bot,
    const char *refresh, time_t expires)
{
	struct store_install	 in;

	memset(&in, 0, sizeof(in));
	snprintf(in.enterprise_id, sizeof(in.enterprise_id), "%s", ent);
	snprintf(in.team_id, sizeof(in.team_id), "%s", team);
	in.app_id = (char *)"A0APP1";
	in.team_name = (char *)(*team != '\0' ? "Team <One> & Co" : "");
	in.enterprise_name = (char *)(*ent != '\0' ? "Grid Org" : "");
	in.bot_user_id = (char *)"U0BOT1";
	in.bot_id = (char *)"B0BOT1";
	in.scopes = (char *)"commands";
	in.installer_user_id = (char *)"U0ADMIN";
	in.bot_token = (char *)bot;
	in.refresh_token = (char *)refresh;
	in.expires_at = expires;
	return in;
}

static void
iput(struct store *st, const char *ent, const char *team, const char *bot,
    const char *refresh, time_t expires)
{
	struct store_install	 in = inst_in(ent, team, bot, refresh, expires);

	ck_assert_int_eq(store_install_put(st, &in), STORE_OK);
}

START_TEST(test_install_roundtrip)
{
	struct store_install	 out;
	struct store		*st;
	time_t			 exp = time(NULL) + 43200;

	st = open_with(&key_a);
	ck_assert_int_eq(store_install_get(st, "", "T1", &out),
	    STORE_NOTFOUND);
	iput(st, "", "T1", BOT1, BOTREF1, exp);
	ck_assert_int_eq(store_install_get(st, "", "T1", &out), STORE_OK);
	ck_assert_str_eq(out.enterprise_id, "");
	ck_assert_str_eq(out.team_id, "T1");
	ck_assert_str_eq(out.app_id, "A0APP1");
	ck_assert_str_eq(out.team_name, "Team <One> & Co");
	ck_assert_str_eq(out.enterprise_name, "");
	ck_assert_str_eq(out.bot_user_id, "U0BOT1");
	ck_assert_str_eq(out.bot_id, "B0BOT1");
	ck_assert_str_eq(out.scopes, "commands");
	ck_assert_str_eq(out.installer_user_id, "U0ADMIN");
	ck_assert_str_eq(out.bot_token, BOT1);
	ck_assert_str_eq(out.refresh_token, BOTREF1);
	ck_assert_int_eq(out.expires_at, exp);
	ck_assert_int_eq(out.needs_reinstall, 0);
	ck_assert_int_eq(out.version, 1);
	store_install_free(&out);
	ck_assert_ptr_null(out.bot_token);

	/* Without token rotation: no refresh token, no expiry. */
	iput(st, "E1", "", BOTPLAIN, NULL, 0);
	ck_assert_int_eq(store_install_get(st, "E1", "", &out), STORE_OK);
	ck_assert_str_eq(out.bot_token, BOTPLAIN);
	ck_assert_ptr_null(out.refresh_token);
	ck_assert_int_eq(out.expires_at, 0);
	ck_assert_str_eq(out.team_name, "");
	ck_assert_str_eq(out.enterprise_name, "Grid Org");
	store_install_free(&out);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM slack_install WHERE "
	    "refresh_token_ct IS NULL AND token_expires_at IS NULL"), 1);

	/* A new install of the same key replaces it and bumps the version;
	 * a reinstall mark is reset. */
	ck_assert_int_eq(store_install_mark_reinstall(st, "", "T1", 1),
	    STORE_OK);
	iput(st, "", "T1", BOT2, BOTREF2, exp + 1);
	ck_assert_int_eq(store_install_get(st, "", "T1", &out), STORE_OK);
	ck_assert_str_eq(out.bot_token, BOT2);
	ck_assert_str_eq(out.refresh_token, BOTREF2);
	ck_assert_int_eq(out.version, 3);
	ck_assert_int_eq(out.needs_reinstall, 0);
	store_install_free(&out);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM slack_install"), 2);
	store_close(st);
}
END_TEST

START_TEST(test_list_links_fail_malformed_row)
{
	struct store_link_list	 ll;
	struct store		*st;
	struct slack_user	 a = user("", "T1", "U1");

	put_as(&key_a, &a, "a@example.com");
	/* A team id longer than any Slack id (an edited file). */
	raw_exec("UPDATE sf_link SET team_id = "
	    "'T0123456789012345678901234567890123456789'");
	st = open_with(&key_a);
	ck_assert_int_eq(store_list_links(st, NULL, NULL, NULL, &ll),
	    STORE_ERROR);
	ck_assert_ptr_null(ll.v);
	ck_assert_uint_eq(ll.n, 0);
	store_close(st);
}
END_TEST

START_TEST(test_install_fail_invalid_input)
{
	struct store_install	 in = inst_in("", "", BOT1, NULL, 0), out;
	struct store		*st;

	st = open_with(&key_a);
	/* Neither enterprise nor team. */
	ck_assert_int_eq(store_install_put(st, &in), STORE_ERROR);
	in = inst_in("", "T1", NULL, NULL, 0);
	ck_assert_int_eq(store_install_put(st, &in), STORE_ERROR);
	in = inst_in("", "T1", BOT1, NULL, 0);
	in.app_id = NULL;
	ck_assert_int_eq(store_install_put(st, &in), STORE_ERROR);
	ck_assert_int_eq(store_install_get(st, "", "", &out), STORE_ERROR);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM slack_install"), 0);
	store_close(st);
}
END_TEST

/* Which installation answers a request: the workspace's own, else its
 * enterprise's org-wide one; never another enterprise's. */
START_TEST(test_install_find)
{
	struct store_install_ref ref;
	struct store		*st;
	int			 any;

	st = open_with(&key_a);
	ck_assert_int_eq(store_install_find(st, "", "T1", &ref, &any),
	    STORE_NOTFOUND);
	ck_assert_int_eq(any, 0);
	iput(st, "", "T1", BOT1, BOTREF1, 5000);
	iput(st, "E1", "", BOT2, NULL, 0);
	iput(st, "E1", "TG2", BOTPLAIN, NULL, 0);

	ck_assert_int_eq(store_install_find(st, "", "T1", &ref, &any),
	    STORE_OK);
	ck_assert_str_eq(ref.enterprise_id, "");
	ck_assert_str_eq(ref.team_id, "T1");
	ck_assert_int_eq(ref.expires_at, 5000);
	ck_assert_int_eq(ref.rotating, 1);
	ck_assert_int_eq(any, 1);
	/* Any team of E1 is covered by the org-wide install ... */
	ck_assert_int_eq(store_install_find(st, "E1", "TG1", &ref, &any),
	    STORE_OK);
	ck_assert_str_eq(ref.enterprise_id, "E1");
	ck_assert_str_eq(ref.team_id, "");
	ck_assert_int_eq(ref.rotating, 0);
	ck_assert_int_eq(ref.expires_at, 0);
	/* ... but a workspace's own installation comes first. */
	ck_assert_int_eq(store_install_find(st, "E1", "TG2", &ref, &any),
	    STORE_OK);
	ck_assert_str_eq(ref.team_id, "TG2");
	/* Other workspaces and enterprises are not installed. */
	ck_assert_int_eq(store_install_find(st, "", "T2", &ref, &any),
	    STORE_NOTFOUND);
	ck_assert_int_eq(any, 1);
	/* Without any, the same answers. */
	ck_assert_int_eq(store_install_find(st, "", "T2", &ref, NULL),
	    STORE_NOTFOUND);
	ck_assert_int_eq(store_install_find(st, "", "T1", &ref, NULL),
	    STORE_OK);
	any = 0;
	ck_assert_int_eq(store_install_find(st, "E2", "TG1", &ref, &any),
	    STORE_NOTFOUND);
	ck_assert_int_eq(any, 1);
	ck_assert_str_eq(ref.team_id, "");
	ck_assert_int_eq(store_install_find(st, "E2", "T1", &ref, &any),
	    STORE_NOTFOUND);
	/* A team of E1 that claims no enterprise is not E1's. */
	ck_assert_int_eq(store_install_find(st, "", "TG1", &ref, &any),
	    STORE_NOTFOUND);
	ck_assert_int_eq(store_install_find(st, "E1", "", &ref, &any),
	    STORE_ERROR);
	store_install_mark_reinstall(st, "", "T1", 1);
	ck_assert_int_eq(store_install_find(st, "", "T1", &ref, &any),
	    STORE_OK);
	ck_assert_int_eq(ref.needs_reinstall, 1);
	store_close(st);
}
END_TEST

/* --- Searches remembered with a login link ---------------------------- */

#define SEARCH_TEXT	"Smith & <Jones> searched-plaintext-7c1f"
#define SEARCH_URL	"https://hooks.slack.com/commands/T1/123/" \
	"RESPONSEurlCAPABILITY9d2e"

/* Adds a nonce with a search (sealed by store st) and starts it (with
 * store st2): the state and cookie hashes of that login go to s and c. */
static void
search_make(struct store *st, struct store *st2, const char *name,
    time_t now, unsigned char s[CRYPTO_HASHLEN],
    unsigned char c[CRYPTO_HASHLEN])
{
	struct store_search	 in = { (char *)SEARCH_TEXT, (char *)SEARCH_URL,
				    0, NULL };
	struct slack_user	 u = user("E1", "T1", "U1"), got;
	unsigned char		 n[CRYPTO_HASHLEN];
	char			 buf[128];

	snprintf(buf, sizeof(buf), "nonce %s", name);
	hash_of(buf, n);
	snprintf(buf, sizeof(buf), "state %s", name);
	hash_of(buf, s);
	snprintf(buf, sizeof(buf), "cookie %s", name);
	hash_of(buf, c);
	ck_assert_int_eq(store_nonce_add_search(st, &u, n, now + 600, &in),
	    STORE_OK);
	ck_assert_int_eq(store_nonce_start(st2, n, now, s, c, VERIFIER,
	    now + 600, &got), STORE_OK);
}

/* The number of login_state rows still holding any part of a search. */
static int64_t
searches_left(void)
{
	return raw_int("SELECT count(*) FROM login_state WHERE "
	    "search_ct IS NOT NULL OR search_url_ct IS NOT NULL OR "
	    "search_key_id IS NOT NULL");
}

START_TEST(test_search_roundtrip)
{
	struct store_search	 got;
	struct slack_user	 who;
	struct store		*st;
	unsigned char		 s[CRYPTO_HASHLEN], c[CRYPTO_HASHLEN];
	char			*v = NULL, *kid;
	time_t			 now = time(NULL);

	st = open_with(&key_a);
	search_make(st, st, "a", now, s, c);
	ck_assert_int_eq(searches_left(), 1);
	kid = raw_text("SELECT search_key_id FROM login_state");
	ck_assert_str_eq(kid, key_a.id);
	free(kid);
	/* Sealed: nonce and tag around each plaintext. */
	ck_assert_int_eq(raw_int("SELECT length(search_ct) FROM login_state"),
	    (int64_t)strlen(SEARCH_TEXT) + CRYPTO_SEAL_OVERHEAD);
	ck_assert_int_eq(raw_int("SELECT length(search_url_ct) FROM "
	    "login_state"), (int64_t)strlen(SEARCH_URL) + CRYPTO_SEAL_OVERHEAD);

	ck_assert_int_eq(store_state_take_search(st, s, c, now, &who, &v,
	    &got), STORE_OK);
	ck_assert_str_eq(v, VERIFIER);
	ck_assert_str_eq(who.user_id, "U1");
	ck_assert_str_eq(got.text, SEARCH_TEXT);
	ck_assert_str_eq(got.response_url, SEARCH_URL);
	/* When the nonce was added: no earlier than now, no later than
	 * this. */
	ck_assert_int_ge(got.created_at, now);
	ck_assert_int_le(got.created_at, time(NULL));
	crypto_free_secret(v);
	store_search_free(&got);
	ck_assert_ptr_null(got.text);
	ck_assert_ptr_null(got.response_url);
	/* Taken with the state, and gone from the row. */
	ck_assert_int_eq(searches_left(), 0);
	ck_assert_int_eq(store_state_take_search(st, s, c, now, &who, &v,
	    &got), STORE_USED);
	ck_assert_ptr_null(v);
	ck_assert_ptr_null(got.text);
	ck_assert_ptr_null(got.response_url);
	store_close(st);
}
END_TEST

/* Sign in with Slack hands its login on to Salesforce (issue 11): the
 * row of the taken Slack state gets a Salesforce state, a new verifier
 * and the same cookie and search. */
static void
slack_leg_make(struct store *st, const char *name, time_t now,
    unsigned char s[CRYPTO_HASHLEN], unsigned char c[CRYPTO_HASHLEN])
{
	struct store_search	 in = { (char *)SEARCH_TEXT, (char *)SEARCH_URL,
				    0, NULL };
	struct store_names	 names = { "e2e", "tester" };
	struct slack_user	 u = user("", "T1", "U1"), got;
	unsigned char		 n[CRYPTO_HASHLEN];
	char			 buf[128];

	snprintf(buf, sizeof(buf), "nonce %s", name);
	hash_of(buf, n);
	snprintf(buf, sizeof(buf), "state %s", name);
	hash_of(buf, s);
	snprintf(buf, sizeof(buf), "cookie %s", name);
	hash_of(buf, c);
	ck_assert_int_eq(store_nonce_add_login(st, &u, &names, n, now + 600,
	    &in), STORE_OK);
	ck_assert_int_eq(store_nonce_start_leg(st, STORE_LEG_SLACK, n, now, s,
	    c, VERIFIER, now + 600, &got), STORE_OK);
}

START_TEST(test_slack_hand_on)
{
	struct store_search	 got;
	struct store_names	 names;
	struct slack_user	 who;
	struct store		*st;
	enum store_leg		 leg;
	unsigned char		 s[CRYPTO_HASHLEN], c[CRYPTO_HASHLEN];
	unsigned char		 s2[CRYPTO_HASHLEN], wrong[CRYPTO_HASHLEN];
	char			*v = NULL;
	time_t			 now = time(NULL);

	st = open_with(&key_a);
	slack_leg_make(st, "hand", now, s, c);
	hash_of("state hand 2", s2);
	hash_of("cookie other", wrong);
	ck_assert_int_eq(store_state_peek(st, s, &leg, &names), STORE_OK);
	ck_assert_int_eq(leg, STORE_LEG_SLACK);
	ck_assert_str_eq(names.user_name, "tester");
	ck_assert_str_eq(names.team_domain, "e2e");
	/* Not taken yet: nothing to hand on. */
	ck_assert_int_eq(store_state_advance(st, s, s2, "v2", now + 600),
	    STORE_NOTFOUND);
	/* A Slack state is not a Salesforce one. */
	ck_assert_int_eq(store_state_take_leg(st, STORE_LEG_SALESFORCE, s, c,
	    now, &who, &v, &got), STORE_NOTFOUND);
	ck_assert_int_eq(store_state_take_leg(st, STORE_LEG_SLACK, s, c, now,
	    &who, &v, NULL), STORE_OK);
	ck_assert_str_eq(v, VERIFIER);
	ck_assert_str_eq(who.user_id, "U1");
	crypto_free_secret(v);
	v = NULL;
	/* The search stays for the Salesforce leg; a look changes nothing. */
	ck_assert_int_eq(searches_left(), 1);
	ck_assert_int_eq(store_search_peek(st, s, &got), STORE_OK);
	ck_assert_str_eq(got.text, SEARCH_TEXT);
	ck_assert_str_eq(got.response_url, SEARCH_URL);
	store_search_free(&got);
	ck_assert_int_eq(searches_left(), 1);

	ck_assert_int_eq(store_state_advance(st, s, s2, "verifier-2",
	    now + 600), STORE_OK);
	/* The Slack state is gone: once only. */
	ck_assert_int_eq(store_state_advance(st, s, s2, "verifier-3",
	    now + 600), STORE_NOTFOUND);
	ck_assert_int_eq(store_state_peek(st, s, &leg, NULL), STORE_NOTFOUND);
	ck_assert_int_eq(store_state_peek(st, s2, &leg, NULL), STORE_OK);
	ck_assert_int_eq(leg, STORE_LEG_SALESFORCE);
	/* A Salesforce state is never handed on. */
	ck_assert_int_eq(store_state_advance(st, s2, s, "v", now + 600),
	    STORE_NOTFOUND);
	/* Same cookie only; then the new verifier and the search. */
	ck_assert_int_eq(store_state_take_leg(st, STORE_LEG_SALESFORCE, s2,
	    wrong, now, &who, &v, &got), STORE_MISMATCH);
	ck_assert_int_eq(store_state_take_leg(st, STORE_LEG_SALESFORCE, s2, c,
	    now, &who, &v, &got), STORE_OK);
	ck_assert_str_eq(v, "verifier-2");
	ck_assert_str_eq(got.text, SEARCH_TEXT);
	ck_assert_int_eq(searches_left(), 0);
	crypto_free_secret(v);
	store_search_free(&got);
	store_close(st);
}
END_TEST

/* A login refused after Sign in with Slack (another user signed in) is
 * void: its search and verifier are gone. */
START_TEST(test_slack_hand_on_fail_void)
{
	struct store_search	 got;
	struct slack_user	 who;
	struct store		*st;
	unsigned char		 s[CRYPTO_HASHLEN], c[CRYPTO_HASHLEN];
	char			*v = NULL;
	time_t			 now = time(NULL);

	st = open_with(&key_a);
	slack_leg_make(st, "void", now, s, c);
	ck_assert_int_eq(store_state_take_leg(st, STORE_LEG_SLACK, s, c, now,
	    &who, &v, NULL), STORE_OK);
	crypto_free_secret(v);
	v = NULL;
	ck_assert_int_eq(store_state_void(st, s, now), STORE_OK);
	ck_assert_int_eq(searches_left(), 0);
	ck_assert_int_eq(store_search_peek(st, s, &got), STORE_OK);
	ck_assert_ptr_null(got.text);
	/* Used: it cannot be taken again. */
	ck_assert_int_eq(store_state_take_leg(st, STORE_LEG_SLACK, s, c, now,
	    &who, &v, NULL), STORE_USED);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM login_state WHERE "
	    "verifier_ct IS NOT NULL"), 0);
	store_close(st);
}
END_TEST

/* A void login is never handed on to Salesforce (defence in depth: the
 * callback hands on only the state it just took and found proven), and
 * its row stays as the void left it. */
START_TEST(test_slack_hand_on_void_refused)
{
	struct slack_user	 who;
	struct store		*st;
	unsigned char		 s[CRYPTO_HASHLEN], c[CRYPTO_HASHLEN];
	unsigned char		 s2[CRYPTO_HASHLEN];
	char			*v = NULL;
	time_t			 now = time(NULL);

	st = open_with(&key_a);
	slack_leg_make(st, "void advance", now, s, c);
	hash_of("state void advance 2", s2);
	ck_assert_int_eq(store_state_take_leg(st, STORE_LEG_SLACK, s, c, now,
	    &who, &v, NULL), STORE_OK);
	crypto_free_secret(v);
	v = NULL;
	ck_assert_int_eq(store_state_void(st, s, now), STORE_OK);
	ck_assert_int_eq(store_state_advance(st, s, s2, "verifier-2",
	    now + 600), STORE_NOTFOUND);
	/* Still the void Slack state: no Salesforce state, no verifier. */
	ck_assert_int_eq(raw_int("SELECT count(*) FROM login_state WHERE "
	    "leg = 'slack' AND used_at IS NOT NULL AND verifier_ct IS NULL "
	    "AND cookie_hash IS NULL"), 1);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM login_state WHERE "
	    "leg = 'salesforce' OR used_at IS NULL"), 0);
	ck_assert_int_eq(store_state_take_leg(st, STORE_LEG_SALESFORCE, s2, c,
	    now, &who, &v, NULL), STORE_NOTFOUND);
	ck_assert_ptr_null(v);
	store_close(st);
}
END_TEST

/* --- /contact confirm as one step (store_pending_link, issue 11) ------ */

/*
 * A login of u named name, taken as far as the code proof takes it: made
 * with SEARCH_TEXT, started and its Salesforce state taken (the search
 * left on the row), and the link (ACCESS2, REFRESH2) pending there under
 * the hash of "plink code <name>", which goes into code.
 */
static void
plink_make(struct store *st, const struct slack_user *u, const char *name,
    time_t now, unsigned char code[CRYPTO_HASHLEN])
{
	struct store_search	 in = { (char *)SEARCH_TEXT, (char *)SEARCH_URL,
				    0, NULL };
	struct store_link	 l = link_in(ACCESS2, REFRESH2);
	struct slack_user	 got;
	unsigned char		 n[CRYPTO_HASHLEN], sh[CRYPTO_HASHLEN];
	unsigned char		 ch[CRYPTO_HASHLEN];
	char			 buf[128], *v = NULL;

	snprintf(buf, sizeof(buf), "plink nonce %s", name);
	hash_of(buf, n);
	snprintf(buf, sizeof(buf), "plink state %s", name);
	hash_of(buf, sh);
	snprintf(buf, sizeof(buf), "plink cookie %s", name);
	hash_of(buf, ch);
	snprintf(buf, sizeof(buf), "plink code %s", name);
	hash_of(buf, code);
	ck_assert_int_eq(store_nonce_add_login(st, u, NULL, n, now + 600,
	    &in), STORE_OK);
	ck_assert_int_eq(store_nonce_start_leg(st, STORE_LEG_SALESFORCE, n,
	    now, sh, ch, VERIFIER, now + 600, &got), STORE_OK);
	ck_assert_int_eq(store_state_take_leg(st, STORE_LEG_SALESFORCE, sh, ch,
	    now, &got, &v, NULL), STORE_OK);
	crypto_free_secret(v);
	ck_assert_int_eq(store_pending_put(st, sh, &l, code, now + 600),
	    STORE_OK);
}

/* Rows whose link still waits for its code. */
static int64_t
plink_waiting(void)
{
	return raw_int("SELECT count(*) FROM login_state WHERE "
	    "pend_refresh_ct IS NOT NULL AND confirm_hash IS NOT NULL");
}

/* The right code stores the pending link as the user's link, replacing
 * the old one (whose refresh token and integration come back to be
 * revoked), and clears the pending columns and the search, in one
 * commit; the code then finds nothing. */
START_TEST(test_pending_link_one_step)
{
	struct store_pending	 p;
	struct store_search	 search;
	struct store_link	 old = link_in(ACCESS1, REFRESH1), got;
	struct slack_user	 u = user("E1", "T1", "U1");
	struct store		*st;
	unsigned char		 code[CRYPTO_HASHLEN];
	char			*oldorg = NULL, *oldref = NULL;
	time_t			 now = time(NULL);

	st = open_with(&key_a);
	old.org = (char *)"acme-old";
	ck_assert_int_eq(store_link_put(st, &u, &old, NULL), STORE_OK);
	plink_make(st, &u, "ok", now, code);
	ck_assert_int_eq(plink_waiting(), 1);
	ck_assert_int_eq(store_pending_link(st, code, &u, now, &p, &search,
	    &oldorg, &oldref), STORE_OK);
	ck_assert_str_eq(oldorg, "acme-old");
	ck_assert_str_eq(oldref, REFRESH1);
	ck_assert_str_eq(p.link.refresh_token, REFRESH2);
	ck_assert_str_eq(p.who.user_id, "U1");
	ck_assert_str_eq(search.text, SEARCH_TEXT);
	ck_assert_str_eq(search.response_url, SEARCH_URL);
	free(oldorg);
	crypto_free_secret(oldref);
	store_pending_free(&p);
	store_search_free(&search);
	/* Stored whole, sealed for the user's row, one version on. */
	assert_link(st, &u, ACCESS2, REFRESH2, 2);
	ck_assert_int_eq(store_link_get(st, &u, &got), STORE_OK);
	ck_assert_str_eq(got.org, "");
	ck_assert_str_eq(got.sf_username, "alice@example.com");
	store_link_free(&got);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM login_state WHERE "
	    "pend_refresh_ct IS NOT NULL OR pend_access_ct IS NOT NULL OR "
	    "confirm_hash IS NOT NULL"), 0);
	ck_assert_int_eq(searches_left(), 0);
	/* Once only. */
	ck_assert_int_eq(store_pending_link(st, code, &u, now, &p, &search,
	    &oldorg, &oldref), STORE_NOTFOUND);
	ck_assert_ptr_null(oldorg);
	ck_assert_ptr_null(oldref);
	ck_assert_ptr_null(p.link.refresh_token);
	assert_link(st, &u, ACCESS2, REFRESH2, 2);
	store_close(st);
}
END_TEST

/* Failures of the link write: each leaves everything as it was (the
 * login still waits for its code, with its search; the old link
 * stands), and a retry once the fault is gone links. */
/* PostgreSQL's triggers call this function. */
#define PLINK_FAULT_PG	"CREATE FUNCTION plink_fault() RETURNS trigger " \
	"LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'fault'; END$$; "

static const struct {
	const char	*name;
	const char	*fault;		/* SQL run before the confirm */
	const char	*mend;		/* SQL run after it; NULL: no retry */
	int		 old_key_b;	/* the old link is under key_b */
	enum store_result r;
	const char	*fault_pg;	/* PostgreSQL's fault and mend */
	const char	*mend_pg;
} plink_fail_cases[] = {
	{ "fail: link row refused", "CREATE TRIGGER plink_fault "
	    "AFTER UPDATE ON sf_link BEGIN SELECT RAISE(ABORT, 'fault'); END",
	    "DROP TRIGGER plink_fault", 0, STORE_ERROR,
	    PLINK_FAULT_PG "CREATE TRIGGER plink_fault AFTER UPDATE ON sf_link "
	    "FOR EACH ROW EXECUTE FUNCTION plink_fault()",
	    "DROP TRIGGER plink_fault ON sf_link" },
	{ "fail: pending columns not cleared", "CREATE TRIGGER plink_fault "
	    "AFTER UPDATE OF pend_refresh_ct ON login_state "
	    "WHEN new.pend_refresh_ct IS NULL "
	    "BEGIN SELECT RAISE(ABORT, 'fault'); END",
	    "DROP TRIGGER plink_fault", 0, STORE_ERROR,
	    PLINK_FAULT_PG "CREATE TRIGGER plink_fault AFTER UPDATE OF "
	    "pend_refresh_ct ON login_state FOR EACH ROW "
	    "WHEN (NEW.pend_refresh_ct IS NULL) "
	    "EXECUTE FUNCTION plink_fault()",
	    "DROP TRIGGER plink_fault ON login_state" },
	{ "fail: old link under a key we do not hold", NULL, NULL, 1,
	    STORE_BADKEY, NULL, NULL },
};

START_TEST(test_pending_link_fail_table)
{
	struct store_pending	 p;
	struct store_search	 search;
	struct slack_user	 u = user("", "T1", "U1");
	struct store		*st;
	unsigned char		 code[CRYPTO_HASHLEN];
	char			*oldorg = NULL, *oldref = NULL;
	time_t			 now = time(NULL);

	st = open_with(plink_fail_cases[_i].old_key_b ? &key_b : &key_a);
	put(st, &u, ACCESS1, REFRESH1);
	store_close(st);
	st = open_with(&key_a);
	plink_make(st, &u, "fail", now, code);
	if (plink_fail_cases[_i].fault != NULL)
		raw_exec(TU_SQL(plink_fail_cases[_i].fault,
		    plink_fail_cases[_i].fault_pg));
	ck_assert_int_eq(store_pending_link(st, code, &u, now, &p, &search,
	    &oldorg, &oldref), plink_fail_cases[_i].r);
	ck_assert_ptr_null(oldorg);
	ck_assert_ptr_null(oldref);
	ck_assert_ptr_null(p.link.refresh_token);
	ck_assert_ptr_null(search.text);
	ck_assert_int_eq(plink_waiting(), 1);
	ck_assert_int_eq(searches_left(), 1);
	ck_assert_int_eq(raw_int("SELECT version FROM sf_link"), 1);
	if (!plink_fail_cases[_i].old_key_b)
		assert_link(st, &u, ACCESS1, REFRESH1, 1);
	if (plink_fail_cases[_i].mend == NULL) {
		store_close(st);
		return;
	}
	raw_exec(TU_SQL(plink_fail_cases[_i].mend,
	    plink_fail_cases[_i].mend_pg));
	ck_assert_int_eq(store_pending_link(st, code, &u, now, &p, &search,
	    &oldorg, &oldref), STORE_OK);
	ck_assert_str_eq(oldref, REFRESH1);
	assert_link(st, &u, ACCESS2, REFRESH2, 2);
	ck_assert_int_eq(plink_waiting(), 0);
	free(oldorg);
	crypto_free_secret(oldref);
	store_pending_free(&p);
	store_search_free(&search);
	store_close(st);
}
END_TEST

/* Another Slack user's code links nothing for anyone: the login is void
 * (left with its tokens for the sweep), the owner's link unchanged. */
START_TEST(test_pending_link_other_user)
{
	struct store_pending	 p;
	struct store_search	 search;
	struct store_link	 l;
	struct slack_user	 u = user("", "T1", "U1");
	struct slack_user	 them = user("", "T1", "U2");
	struct store		*st;
	unsigned char		 code[CRYPTO_HASHLEN];
	char			*oldorg = NULL, *oldref = NULL, sql[160];
	time_t			 now = time(NULL);

	st = open_with(&key_a);
	put(st, &u, ACCESS1, REFRESH1);
	plink_make(st, &u, "other", now, code);
	ck_assert_int_eq(store_pending_link(st, code, &them, now, &p, &search,
	    &oldorg, &oldref), STORE_MISMATCH);
	ck_assert_str_eq(p.who.user_id, "U1");
	ck_assert_ptr_null(p.link.refresh_token);
	ck_assert_ptr_null(oldref);
	store_pending_free(&p);
	ck_assert_int_eq(store_link_get(st, &them, &l), STORE_NOTFOUND);
	assert_link(st, &u, ACCESS1, REFRESH1, 1);
	ck_assert_int_eq(plink_waiting(), 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM login_state WHERE "
	    "pend_refresh_ct IS NOT NULL AND expires_at <= %lld",
	    (long long)time(NULL));
	ck_assert_int_eq(raw_int(sql), 1);
	store_close(st);
}
END_TEST

START_TEST(test_install_update_tokens_cas)
{
	struct store_install	 out;
	struct store		*st;

	st = open_with(&key_a);
	iput(st, "", "T1", BOT1, BOTREF1, 1000);
	ck_assert_int_eq(store_install_update_tokens(st, "", "T1", 1, BOT2,
	    BOTREF2, 2000), STORE_OK);
	/* A refresh that read version 1 lost the race. */
	ck_assert_int_eq(store_install_update_tokens(st, "", "T1", 1, BOT1,
	    BOTREF1, 3000), STORE_CONFLICT);
	ck_assert_int_eq(store_install_mark_reinstall(st, "", "T1", 1),
	    STORE_CONFLICT);
	ck_assert_int_eq(store_install_update_tokens(st, "", "T9", 1, BOT1,
	    BOTREF1, 3000), STORE_CONFLICT);
	ck_assert_int_eq(store_install_get(st, "", "T1", &out), STORE_OK);
	ck_assert_str_eq(out.bot_token, BOT2);
	ck_assert_str_eq(out.refresh_token, BOTREF2);
	ck_assert_int_eq(out.expires_at, 2000);
	ck_assert_int_eq(out.version, 2);
	store_install_free(&out);
	store_close(st);
}
END_TEST

START_TEST(test_link_remove)
{
	struct slack_user	 a = user("", "T1", "U1");
	struct slack_user	 b = user("", "T1", "U2");
	struct slack_user	 bad = user("", "", "U1");
	struct store		*st;

	put_as(&key_b, &a, "a@example.com");
	put_as(&key_a, &b, "b@example.com");
	st = open_with(&key_a);
	/* The workers' delete leaves a link sealed under another key... */
	ck_assert_int_eq(store_link_delete(st, &a, -1), STORE_NOTFOUND);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM sf_link"), 2);
	/* ... the admin's removes it, and only it. */
	ck_assert_int_eq(store_link_remove(st, &a), STORE_OK);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM sf_link "
	    "WHERE user_id = 'U1'"), 0);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM sf_link"), 1);
	ck_assert_int_eq(store_link_remove(st, &a), STORE_NOTFOUND);
	ck_assert_int_eq(store_link_remove(st, &bad), STORE_ERROR);
	assert_link(st, &b, ACCESS1, REFRESH1, 1);
	store_close(st);
}
END_TEST

START_TEST(test_purge_counts)
{
	struct slack_user	 u = user("", "T1", "U1");
	struct store_purged	 p = { -1, -1, -1 };
	struct store		*st;
	unsigned char		 h[CRYPTO_HASHLEN];

	st = open_with(&key_a);
	replay_rows(0, (const long long []){ 100, 400, 500, 501 }, 4);
	hash_of("n1", h);
	ck_assert_int_eq(store_nonce_add(st, &u, h, 499), STORE_OK);
	hash_of("n2", h);
	ck_assert_int_eq(store_nonce_add(st, &u, h, 900), STORE_OK);
	put(st, &u, ACCESS1, REFRESH1);
	ck_assert_int_eq(store_purge_counts(st, 500, &p), 0);
	ck_assert_int_eq(p.login_states, 1);
	ck_assert_int_eq(p.replays, 3);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM slack_replay"), 1);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM login_state"), 1);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM sf_link"), 1);
	ck_assert_int_eq(store_purge_counts(st, 500, &p), 0);
	ck_assert_int_eq(p.login_states, 0);
	ck_assert_int_eq(p.replays, 0);
	store_close(st);
}
END_TEST

/* Ciphertext moved between installations, between columns, or from a
 * link into an installation never opens. */
static const struct {
	const char	*sql;
	const char	*ent, *team;
} install_tamper[] = {
	{ "UPDATE slack_install SET bot_token_ct = (SELECT bot_token_ct "
	    "FROM slack_install WHERE team_id = 'T2') WHERE team_id = 'T1'",
	    "", "T1" },
	{ "UPDATE slack_install SET bot_token_ct = refresh_token_ct "
	    "WHERE team_id = 'T1'", "", "T1" },
	{ "UPDATE slack_install SET refresh_token_ct = (SELECT "
	    "refresh_token_ct FROM sf_link WHERE user_id = 'U1') "
	    "WHERE team_id = 'T1'", "", "T1" },
	{ "UPDATE slack_install SET bot_token_ct = (SELECT bot_token_ct "
	    "FROM slack_install WHERE team_id = 'T1'), enterprise_id = 'E9' "
	    "WHERE team_id = 'T2'", "E9", "T2" },
	{ "UPDATE slack_install SET key_id = 'ffffffffffffffff' "
	    "WHERE team_id = 'T1'", "", "T1" },
};

START_TEST(test_install_tampered)
{
	struct slack_user	 u = user("", "T1", "U1");
	struct store_install	 out;
	struct store		*st;
	int			 saved;
	const char		*log;

	st = open_with(&key_a);
	iput(st, "", "T1", BOT1, BOTREF1, 1000);
	iput(st, "", "T2", BOT2, BOTREF2, 1000);
	put(st, &u, ACCESS1, REFRESH1);
	raw_exec(install_tamper[_i].sql);
	saved = stderr_capture();
	ck_assert_int_eq(store_install_get(st, install_tamper[_i].ent,
	    install_tamper[_i].team, &out), STORE_BADKEY);
	log = stderr_restore(saved);
	ck_assert_ptr_null(out.bot_token);
	ck_assert_int_eq(file_contains(log, BOT1), 0);
	ck_assert_int_eq(file_contains(log, BOT2), 0);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM slack_install"), 2);
	store_close(st);
}
END_TEST

START_TEST(test_stats)
{
	struct slack_user	 a = user("", "T1", "U1");
	struct slack_user	 b = user("", "T1", "U2");
	struct slack_user	 c = user("E1", "T2", "U1");
	struct slack_user	 w = user("", "T1", "U9");
	struct store_stats	 ss;
	struct slack_user	 got;
	struct store		*st;
	unsigned char		 n1[CRYPTO_HASHLEN], n2[CRYPTO_HASHLEN],
				 n3[CRYPTO_HASHLEN], n4[CRYPTO_HASHLEN],
				 s2[CRYPTO_HASHLEN], s3[CRYPTO_HASHLEN],
				 ck[CRYPTO_HASHLEN];
	char			*v = NULL, sql[160];
	time_t			 now = time(NULL);
	size_t			 ka, kb;

	put_as(&key_a, &a, "a@example.com");
	put_as(&key_a, &b, "b@example.com");
	put_as(&key_b, &c, "c@example.com");
	/* Known times: created 1000, 2000, 3000; used an hour ago, ten days
	 * ago, never. */
	raw_exec("UPDATE sf_link SET created_at = 1000 WHERE user_id = 'U1' "
	    "AND team_id = 'T1'");
	raw_exec("UPDATE sf_link SET created_at = 3000 WHERE user_id = 'U2'");
	raw_exec("UPDATE sf_link SET created_at = 2000 WHERE team_id = 'T2'");
	snprintf(sql, sizeof(sql), "UPDATE sf_link SET last_used_at = %lld "
	    "WHERE user_id = 'U2'", (long long)time(NULL) - 3600);
	raw_exec(sql);
	snprintf(sql, sizeof(sql), "UPDATE sf_link SET last_used_at = %lld "
	    "WHERE team_id = 'T2'", (long long)time(NULL) - 864000);
	raw_exec(sql);

	st = open_with(&key_a);
	/* Login states: one waiting, one started, one used, one expired. */
	hash_of("n1", n1);
	hash_of("n2", n2);
	hash_of("n3", n3);
	hash_of("n4", n4);
	hash_of("s2", s2);
	hash_of("s3", s3);
	hash_of("cookie", ck);
	ck_assert_int_eq(store_nonce_add(st, &w, n1, now + 600), STORE_OK);
	ck_assert_int_eq(store_nonce_add(st, &w, n2, now + 600), STORE_OK);
	ck_assert_int_eq(store_nonce_start(st, n2, now, s2, ck, VERIFIER,
	    now + 600, &got), STORE_OK);
	ck_assert_int_eq(store_nonce_add(st, &w, n3, now + 600), STORE_OK);
	ck_assert_int_eq(store_nonce_start(st, n3, now, s3, ck, VERIFIER,
	    now + 600, &got), STORE_OK);
	ck_assert_int_eq(store_state_take(st, s3, ck, now, &got, &v),
	    STORE_OK);
	crypto_free_secret(v);
	ck_assert_int_eq(store_nonce_add(st, &w, n4, now - 1), STORE_OK);
	replay_rows(0, (const long long []){ 100, (long long)time(NULL) + 300,
	    (long long)time(NULL) + 300 }, 3);

	ck_assert_int_eq(store_stats(st, now, &ss), 0);
	ck_assert_int_eq(ss.links, 3);
	ck_assert_int_eq(ss.links_used_24h, 1);
	ck_assert_int_eq(ss.links_used_30d, 2);
	ck_assert_int_eq(ss.links_never_used, 1);
	ck_assert_int_eq(ss.oldest_created, 1000);
	ck_assert_int_eq(ss.newest_created, 3000);
	ck_assert_int_eq(ss.login_waiting, 1);
	ck_assert_int_eq(ss.login_started, 1);
	ck_assert_int_eq(ss.login_used, 1);
	ck_assert_int_eq(ss.login_expired, 1);
	ck_assert_int_eq(ss.replays_live, 2);
	ck_assert_int_eq(ss.replays_expired, 1);
	if (tu_db_pg()) {
		/* A server's database has no pages of ours to count. */
		ck_assert_int_eq(ss.page_size, 0);
		ck_assert_int_eq(ss.page_count, 0);
		ck_assert_int_eq(ss.freelist_count, 0);
	} else {
		ck_assert_int_eq(ss.page_size, raw_int("PRAGMA page_size"));
		ck_assert_int_eq(ss.page_count, raw_int("PRAGMA page_count"));
		ck_assert_int_eq(ss.freelist_count,
		    raw_int("PRAGMA freelist_count"));
	}
	ck_assert_int_eq(ss.schema_version, store_schema_version());
	ck_assert_uint_eq(ss.nteams, 2);
	ck_assert_str_eq(ss.teams[0].team_id, "T1");
	ck_assert_str_eq(ss.teams[0].enterprise_id, "");
	ck_assert_int_eq(ss.teams[0].links, 2);
	ck_assert_str_eq(ss.teams[1].team_id, "T2");
	ck_assert_str_eq(ss.teams[1].enterprise_id, "E1");
	ck_assert_int_eq(ss.teams[1].links, 1);
	/* key_a: two links and the started login (the used one no longer
	 * holds its verifier); key_b: one link. */
	ck_assert_uint_eq(ss.nkeys, 2);
	ka = strcmp(ss.keys[0].key_id, key_a.id) == 0 ? 0 : 1;
	kb = 1 - ka;
	ck_assert_str_eq(ss.keys[ka].key_id, key_a.id);
	ck_assert_str_eq(ss.keys[kb].key_id, key_b.id);
	ck_assert_int_eq(ss.keys[ka].links, 2);
	ck_assert_int_eq(ss.keys[ka].login_states, 1);
	ck_assert_int_eq(ss.keys[kb].links, 1);
	ck_assert_int_eq(ss.keys[kb].login_states, 0);
	ck_assert_int_eq(ss.installs, 0);
	ck_assert_int_eq(ss.installs_reinstall, 0);
	store_stats_free(&ss);
	ck_assert_ptr_null(ss.keys);
	ck_assert_uint_eq(ss.nkeys, 0);

	/* Installations: two, one of which Slack refused. */
	iput(st, "", "T1", BOT1, BOTREF1, now + 3600);
	iput(st, "", "T2", BOT2, BOTREF2, now + 3600);
	ck_assert_int_eq(store_install_mark_reinstall(st, "", "T2", 1),
	    STORE_OK);
	ck_assert_int_eq(store_stats(st, now, &ss), 0);
	ck_assert_int_eq(ss.installs, 2);
	ck_assert_int_eq(ss.installs_reinstall, 1);
	store_stats_free(&ss);

	/* An empty database. */
	raw_exec("DELETE FROM sf_link; DELETE FROM login_state; "
	    "DELETE FROM slack_replay; DELETE FROM slack_install");
	ck_assert_int_eq(store_stats(st, now, &ss), 0);
	ck_assert_int_eq(ss.links, 0);
	ck_assert_int_eq(ss.oldest_created, 0);
	ck_assert_int_eq(ss.newest_created, 0);
	ck_assert_int_eq(ss.login_waiting + ss.login_started +
	    ss.login_used + ss.login_expired, 0);
	ck_assert_uint_eq(ss.nteams, 0);
	ck_assert_uint_eq(ss.nkeys, 0);
	store_stats_free(&ss);
	store_close(st);
}
END_TEST

/* store_key_sample(): the most recently updated link, opened. */
START_TEST(test_key_sample)
{
	struct slack_user	 a = user("", "T1", "U1");
	struct slack_user	 b = user("E1", "T2", "U2");
	struct store_link_info	 l;
	struct store		*st;

	st = open_with(&key_a);
	ck_assert_int_eq(store_key_sample(st, &l), STORE_NOTFOUND);
	ck_assert_ptr_null(l.key_id);
	store_close(st);
	put_as(&key_a, &a, "a@example.com");
	put_as(&key_b, &b, "b@example.com");
	raw_exec("UPDATE sf_link SET updated_at = 5000 WHERE user_id = 'U1'");
	raw_exec("UPDATE sf_link SET updated_at = 4000 WHERE user_id = 'U2'");
	/* The newest (U1, key_a) opens under key_a, not under key_b. */
	st = open_with(&key_a);
	ck_assert_int_eq(store_key_sample(st, &l), STORE_OK);
	ck_assert_str_eq(l.who.user_id, "U1");
	ck_assert_str_eq(l.key_id, key_a.id);
	store_link_info_free(&l);
	store_close(st);
	st = open_with(&key_b);
	ck_assert_int_eq(store_key_sample(st, &l), STORE_BADKEY);
	ck_assert_str_eq(l.who.user_id, "U1");
	ck_assert_str_eq(l.who.team_id, "T1");
	ck_assert_str_eq(l.key_id, key_a.id);
	store_link_info_free(&l);
	/* U2 updated later: now the sample, which key_b opens. */
	raw_exec("UPDATE sf_link SET updated_at = 6000 WHERE user_id = 'U2'");
	ck_assert_int_eq(store_key_sample(st, &l), STORE_OK);
	ck_assert_str_eq(l.who.enterprise_id, "E1");
	ck_assert_str_eq(l.key_id, key_b.id);
	store_link_info_free(&l);
	/* A table that cannot be read is an error, not "no links". */
	raw_exec("ALTER TABLE sf_link RENAME TO sf_link_away");
	ck_assert_int_eq(store_key_sample(st, &l), STORE_ERROR);
	ck_assert_ptr_null(l.key_id);
	raw_exec("ALTER TABLE sf_link_away RENAME TO sf_link");
	store_close(st);
}
END_TEST

/* A login link made without a search (`/contact login`), and the old
 * store_state_take(), which drops a search it does not hand out. */
START_TEST(test_search_none_and_old_take)
{
	struct store_search	 got;
	struct slack_user	 who;
	struct store		*st;
	unsigned char		 s[CRYPTO_HASHLEN], c[CRYPTO_HASHLEN];
	char			*v = NULL;
	time_t			 now = time(NULL);

	st = open_with(&key_a);
	state_make(st, "plain", now, now + 300, s, c);
	ck_assert_int_eq(searches_left(), 0);
	got.text = (char *)"sentinel";
	ck_assert_int_eq(store_state_take_search(st, s, c, now, &who, &v,
	    &got), STORE_OK);
	ck_assert_ptr_null(got.text);
	ck_assert_ptr_null(got.response_url);
	crypto_free_secret(v);
	/* A NULL search is store_nonce_add(). */
	hash_of("nonce plain 2", s);
	ck_assert_int_eq(store_nonce_add_search(st, &who, s, now + 600, NULL),
	    STORE_OK);
	ck_assert_int_eq(searches_left(), 0);

	search_make(st, st, "old", now, s, c);
	ck_assert_int_eq(searches_left(), 1);
	ck_assert_int_eq(store_state_take(st, s, c, now, &who, &v), STORE_OK);
	ck_assert_str_eq(v, VERIFIER);
	crypto_free_secret(v);
	ck_assert_int_eq(searches_left(), 0);
	store_close(st);
}
END_TEST

START_TEST(test_integrity_check)
{
	struct store	*st;
	char		 msg[256];
	unsigned char	 junk[64];
	int64_t		 root, psz;
	int		 fd;

	st = open_with(&key_a);
	if (tu_db_pg()) {
		/* No pages of ours: refused, saying why (the server's own
		 * checks are the administrator's). */
		ck_assert_int_eq(store_integrity_check(st, msg, sizeof(msg)),
		    -1);
		ck_assert_ptr_nonnull(strstr(msg, "not a SQLite file"));
		store_close(st);
		return;
	}
	ck_assert_int_eq(store_integrity_check(st, msg, sizeof(msg)), 0);
	ck_assert_str_eq(msg, "ok");
	/* A tiny buffer still gets a terminated message. */
	ck_assert_int_eq(store_integrity_check(st, msg, 2), 0);
	ck_assert_str_eq(msg, "o");
	store_close(st);

	/* Scribble over the header of an index's root page, in the main
	 * file (after a checkpoint), as a failing disk might. */
	raw_exec("PRAGMA wal_checkpoint(TRUNCATE)");
	root = raw_int("SELECT rootpage FROM sqlite_schema "
	    "WHERE name = 'login_state_expires'");
	psz = raw_int("PRAGMA page_size");
	ck_assert_int_gt(root, 1);
	memset(junk, 0x5a, sizeof(junk));
	ck_assert_int_ge(fd = open(dbpath, O_WRONLY), 0);
	ck_assert_int_eq(pwrite(fd, junk, sizeof(junk),
	    (off_t)((root - 1) * psz)), (ssize_t)sizeof(junk));
	close(fd);
	st = open_with(&key_a);
	ck_assert_int_eq(store_integrity_check(st, msg, sizeof(msg)), 1);
	ck_assert_str_ne(msg, "ok");
	ck_assert_str_ne(msg, "");
	store_close(st);
}
END_TEST

/*
 * store_backup: a snapshot of a database another connection keeps
 * writing to, in rollback mode, opened read-only (no file appears beside
 * it, a write fails) with its links opening; store_restore puts it back
 * into a live database that another connection holds open, which then
 * reads the restored content; store_open_readonly refuses another
 * schema version.
 */
START_TEST(test_backup_restore)
{
	struct slack_user	 u1 = user("", "T1", "U1"), u2 = user("", "T1", "U2");
	struct store		*st, *other, *ro;
	struct keyring		*kr;
	struct stat		 sb;
	struct store_link	 l;
	char			 bk[PATH_MAX + 16], p[PATH_MAX + 32], *mode;
	int			 fd;

	st = open_with(&key_a);
	other = open_with(&key_a);
	put(st, &u1, ACCESS1, REFRESH1);
	snprintf(bk, sizeof(bk), "%s/backup.db", dir);
	ck_assert_int_ge(fd = open(bk, O_RDWR | O_CREAT | O_EXCL, 0600), 0);
	close(fd);
	ck_assert_int_eq(store_backup(st, bk), STORE_OK);
	/* Written after the snapshot: not in it. */
	put(other, &u2, ACCESS2, REFRESH2);
	ck_assert_ptr_nonnull(kr = keyring_from_keys(&key_a, 1));
	ck_assert_ptr_nonnull(ro = store_open_readonly(bk, kr));
	assert_link(ro, &u1, ACCESS1, REFRESH1, 1);
	ck_assert_int_eq(store_link_get(ro, &u2, &l), STORE_NOTFOUND);
	ck_assert_int_eq(store_link_remove(ro, &u1), STORE_ERROR);
	store_close(ro);
	snprintf(p, sizeof(p), "%s-wal", bk);
	ck_assert_int_eq(stat(p, &sb), -1);
	snprintf(p, sizeof(p), "%s-journal", bk);
	ck_assert_int_eq(stat(p, &sb), -1);
	ck_assert_int_eq(stat(bk, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0600);

	/* Back into the live file: u2 is gone for every connection. */
	ck_assert_int_eq(store_restore(st, bk), STORE_OK);
	ck_assert_int_eq(store_link_get(other, &u2, &l), STORE_NOTFOUND);
	assert_link(other, &u1, ACCESS1, REFRESH1, 1);
	mode = raw_text("PRAGMA journal_mode");
	ck_assert_str_eq(mode, "wal");
	free(mode);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM sf_link"), 1);
	/* The live database goes on as before. */
	put(other, &u2, ACCESS2, REFRESH2);
	assert_link(st, &u2, ACCESS2, REFRESH2, 1);

	/* A missing source changes nothing. */
	snprintf(p, sizeof(p), "%s/none.db", dir);
	ck_assert_int_eq(store_restore(st, p), STORE_ERROR);
	assert_link(st, &u2, ACCESS2, REFRESH2, 1);
	store_close(other);
	store_close(st);

	/* Another schema version is not opened read-only. */
	st = store_open(bk, &key_a);
	ck_assert_ptr_nonnull(st);
	store_close(st);
	snprintf(p, sizeof(p), "PRAGMA user_version = %d",
	    store_schema_version() + 1);
	{
		sqlite3	*sdb = NULL;

		ck_assert_int_eq(sqlite3_open(bk, &sdb), SQLITE_OK);
		ck_assert_int_eq(sqlite3_exec(sdb, p, NULL, NULL, NULL),
		    SQLITE_OK);
		sqlite3_close(sdb);
	}
	ck_assert_ptr_null(store_open_readonly(bk, kr));
	keyring_free(kr);
	unlink(bk);
	snprintf(p, sizeof(p), "%s-wal", bk);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", bk);
	unlink(p);
}
END_TEST

/* A refused take (wrong cookie, expired) hands out nothing and keeps the
 * search until the state is used or the row purged with its expiry. */
START_TEST(test_search_expires_with_its_row)
{
	struct store_search	 got;
	struct slack_user	 who;
	struct store		*st;
	unsigned char		 s[CRYPTO_HASHLEN], c[CRYPTO_HASHLEN];
	unsigned char		 wrong[CRYPTO_HASHLEN];
	char			*v = NULL;
	time_t			 now = time(NULL);

	st = open_with(&key_a);
	search_make(st, st, "a", now, s, c);
	hash_of("another browser", wrong);
	ck_assert_int_eq(store_state_take_search(st, s, wrong, now, &who, &v,
	    &got), STORE_MISMATCH);
	ck_assert_ptr_null(got.text);
	ck_assert_int_eq(store_state_take_search(st, s, c, now + 600, &who,
	    &v, &got), STORE_EXPIRED);
	ck_assert_ptr_null(got.text);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(searches_left(), 1);
	ck_assert_int_eq(store_purge(st, now + 599), 0);
	ck_assert_int_eq(store_purge(st, now + 600), 1);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM login_state"), 0);
	store_close(st);
}
END_TEST

/* Holds the database at path in exclusive locking mode, so that no other
 * connection may even read it, until released. */
static sqlite3 *
lock_exclusive(const char *path)
{
	sqlite3	*sdb = NULL;

	ck_assert_int_eq(sqlite3_open_v2(path, &sdb, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(sdb, "PRAGMA locking_mode=EXCLUSIVE; "
	    "BEGIN EXCLUSIVE; SELECT count(*) FROM sqlite_schema", NULL, NULL,
	    NULL), SQLITE_OK);
	return sdb;
}

struct probe_run {
	const char			*path;
	enum store_probe_result		 r;
	long				 ms;
};

static void *
probe_thread(void *arg)
{
	struct probe_run	*p = arg;
	long			 t0 = tu_now_ms();
	int			 v;

	p->r = store_probe(p->path, &v);
	p->ms = tu_now_ms() - t0;
	return NULL;
}

/*
 * A lock held beyond the busy timeout: store_probe() says BUSY (a file
 * held in exclusive locking mode, which no one may even read), and a
 * purge that cannot get the write lock fails with store_busy_failed()
 * set.  The two run at once, on two files, to wait the timeout once.
 */
START_TEST(test_busy)
{
	struct store_purged	 p;
	struct probe_run	 pr;
	struct store		*st, *other;
	pthread_t		 t;
	sqlite3			*xlock, *wlock;
	char			 path2[PATH_MAX + 16], q[PATH_MAX + 24];
	long			 t0, ms;
	int			 v;

	snprintf(path2, sizeof(path2), "%s/other.db", dir);
	ck_assert_ptr_nonnull(other = store_open(path2, &key_a));
	store_close(other);
	xlock = lock_exclusive(path2);
	pr.path = path2;
	ck_assert_int_eq(pthread_create(&t, NULL, probe_thread, &pr), 0);

	st = open_with(&key_a);
	wlock = raw_open();
	ck_assert_int_eq(sqlite3_exec(wlock, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL), SQLITE_OK);
	t0 = tu_now_ms();
	ck_assert_int_eq(store_purge_counts(st, 500, &p), -1);
	ms = tu_now_ms() - t0;
	ck_assert_int_eq(store_busy_failed(st), 1);
	ck_assert_int_ge(ms, 4500);
	ck_assert_int_lt(ms, 15000);
	/* Reads are not blocked by a writer in WAL mode. */
	sqlite3_exec(wlock, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(wlock);
	ck_assert_int_eq(store_purge_counts(st, 500, &p), 0);
	ck_assert_int_eq(store_busy_failed(st), 0);
	store_close(st);

	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(pr.r, STORE_PROBE_BUSY);
	ck_assert_int_ge(pr.ms, 4500);
	ck_assert_int_lt(pr.ms, 15000);
	sqlite3_exec(xlock, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(xlock);
	ck_assert_int_eq(store_probe(path2, &v), STORE_PROBE_OK);
	ck_assert_int_eq(v, store_schema_version());
	unlink(path2);
	snprintf(q, sizeof(q), "%s-wal", path2);
	unlink(q);
	snprintf(q, sizeof(q), "%s-shm", path2);
	unlink(q);
}
END_TEST

/* Of many connections taking one state at once, one gets the search. */
struct search_racer {
	pthread_barrier_t	*bar;
	const unsigned char	*state;
	const unsigned char	*cookie;
	time_t			 now;
	enum store_result	 r;
	int			 got_search;
};

static void *
search_racer_run(void *arg)
{
	struct search_racer	*rc = arg;
	struct store_search	 got;
	struct slack_user	 who;
	struct store		*st;
	char			*v = NULL;

	memset(&got, 0, sizeof(got));
	st = store_open(db, &key_a);
	pthread_barrier_wait(rc->bar);
	rc->r = st != NULL ? store_state_take_search(st, rc->state,
	    rc->cookie, rc->now, &who, &v, &got) : STORE_ERROR;
	rc->got_search = got.text != NULL &&
	    strcmp(got.text, SEARCH_TEXT) == 0 && got.response_url != NULL &&
	    strcmp(got.response_url, SEARCH_URL) == 0;
	crypto_free_secret(v);
	store_search_free(&got);
	store_close(st);
	return NULL;
}

START_TEST(test_search_taken_once_race)
{
	struct search_racer	 rc[RACERS];
	pthread_barrier_t	 bar;
	pthread_t		 t[RACERS];
	struct store		*st;
	unsigned char		 s[CRYPTO_HASHLEN], c[CRYPTO_HASHLEN];
	time_t			 now = time(NULL);
	int			 i, ok, with;

	st = open_with(&key_a);
	search_make(st, st, "race", now, s, c);
	store_close(st);
	pthread_barrier_init(&bar, NULL, RACERS);
	for (i = 0; i < RACERS; i++) {
		rc[i] = (struct search_racer){ &bar, s, c, now, STORE_ERROR,
		    0 };
		ck_assert_int_eq(pthread_create(&t[i], NULL, search_racer_run,
		    &rc[i]), 0);
	}
	ok = with = 0;
	for (i = 0; i < RACERS; i++) {
		pthread_join(t[i], NULL);
		if (rc[i].r == STORE_OK)
			ok++;
		else
			ck_assert_int_eq(rc[i].r, STORE_USED);
		with += rc[i].got_search;
		ck_assert(!rc[i].got_search || rc[i].r == STORE_OK);
	}
	pthread_barrier_destroy(&bar);
	ck_assert_int_eq(ok, 1);
	ck_assert_int_eq(with, 1);
	ck_assert_int_eq(searches_left(), 0);
}
END_TEST

/*
 * A search that does not open is dropped, and the login goes on: sealed
 * under another key (the key was rotated between the command and the
 * callback), altered, moved from another row, or its two columns
 * swapped.  Each time it is cleared from the row all the same.
 */
START_TEST(test_search_fail_dropped_login_goes_on)
{
	static const char *const moves[] = {
		"flip text",
		"flip url",
		"move",
		"swap",
	};
	struct store_search	 got;
	struct slack_user	 who;
	struct store		*a, *b;
	unsigned char		 s[CRYPTO_HASHLEN], c[CRYPTO_HASHLEN];
	unsigned char		 s2[CRYPTO_HASHLEN], c2[CRYPTO_HASHLEN];
	char			*v = NULL, where[128], where2[128], sql[512];
	time_t			 now = time(NULL);
	size_t			 i;
	int			 saved;

	a = open_with(&key_a);
	b = open_with(&key_b);
	saved = stderr_capture();
	/* Sealed under key_b, started (verifier) under key_a. */
	search_make(b, a, "rotated", now, s, c);
	ck_assert_int_eq(store_state_take_search(a, s, c, now, &who, &v,
	    &got), STORE_OK);
	ck_assert_str_eq(v, VERIFIER);
	crypto_free_secret(v);
	ck_assert_ptr_null(got.text);
	ck_assert_ptr_null(got.response_url);
	ck_assert_int_eq(searches_left(), 0);

	for (i = 0; i < sizeof(moves) / sizeof(moves[0]); i++) {
		snprintf(sql, sizeof(sql), "%zu", i);
		search_make(a, a, sql, now, s, c);
		where_state(s, where, sizeof(where));
		if (i == 0)
			raw_flip("login_state", "search_ct", where, 30);
		else if (i == 1)
			raw_flip("login_state", "search_url_ct", where, 2);
		else if (i == 2) {
			search_make(a, a, "donor", now, s2, c2);
			where_state(s2, where2, sizeof(where2));
			snprintf(sql, sizeof(sql), "UPDATE login_state SET "
			    "search_ct = (SELECT search_ct FROM login_state "
			    "WHERE %s) WHERE %s", where2, where);
			raw_exec(sql);
		} else {
			snprintf(sql, sizeof(sql), "UPDATE login_state SET "
			    "search_ct = search_url_ct, search_url_ct = "
			    "search_ct WHERE %s", where);
			raw_exec(sql);
		}
		ck_assert_int_eq(store_state_take_search(a, s, c, now, &who,
		    &v, &got), STORE_OK);
		ck_assert_msg(got.text == NULL && got.response_url == NULL,
		    "%s", moves[i]);
		ck_assert_str_eq(v, VERIFIER);
		crypto_free_secret(v);
		if (i == 2) {
			/* The donor's own search still opens. */
			ck_assert_int_eq(store_state_take_search(a, s2, c2, now,
			    &who, &v, &got), STORE_OK);
			ck_assert_str_eq(got.text, SEARCH_TEXT);
			crypto_free_secret(v);
			store_search_free(&got);
		}
		ck_assert_int_eq(searches_left(), 0);
	}
	ck_assert_int_eq(file_contains(stderr_restore(saved),
	    "sealed search does not open"), 1);
	store_close(a);
	store_close(b);
}
END_TEST

/*
 * The slash command a kept search came from (issue 15) comes back with
 * it on every path that hands a search back (the callback's take, the
 * code page's look, Sign in with Slack's hand-on, the code's confirm),
 * NULL when none was kept; it goes with the search; a malformed one is
 * refused.
 */
static void
command_login(struct store *st, const struct slack_user *u, const char *name,
    const char *command, enum store_leg leg, time_t now,
    unsigned char sh[CRYPTO_HASHLEN], unsigned char ch[CRYPTO_HASHLEN])
{
	struct store_search	 in = { (char *)SEARCH_TEXT, (char *)SEARCH_URL,
				    0, (char *)command };
	struct slack_user	 got;
	unsigned char		 n[CRYPTO_HASHLEN];
	char			 buf[128];

	snprintf(buf, sizeof(buf), "cmd nonce %s", name);
	hash_of(buf, n);
	snprintf(buf, sizeof(buf), "cmd state %s", name);
	hash_of(buf, sh);
	snprintf(buf, sizeof(buf), "cmd cookie %s", name);
	hash_of(buf, ch);
	ck_assert_int_eq(store_nonce_add_login(st, u, NULL, n, now + 600,
	    &in), STORE_OK);
	ck_assert_int_eq(store_nonce_start_leg(st, leg, n, now, sh, ch,
	    VERIFIER, now + 600, &got), STORE_OK);
}

START_TEST(test_search_command)
{
	static const char *const bad[] = {
		"account", "/", "/a b", "/a\tb", "/\x01x", "/caf\xc3\xa9",
		"/01234567890123456789012345678901"	/* 32 + 1 */
	};
	struct store_search	 got, in;
	struct store_pending	 p;
	struct store_link	 l = link_in(ACCESS2, REFRESH2);
	struct slack_user	 u = user("E1", "T1", "U1"), who;
	struct store		*st;
	unsigned char		 sh[CRYPTO_HASHLEN], ch[CRYPTO_HASHLEN];
	unsigned char		 s2[CRYPTO_HASHLEN], code[CRYPTO_HASHLEN];
	unsigned char		 n[CRYPTO_HASHLEN];
	char			*v = NULL, *oldorg = NULL, *oldref = NULL;
	time_t			 now = time(NULL);
	size_t			 i;

	st = open_with(&key_a);
	/* The callback's take, after the code page's look. */
	command_login(st, &u, "take", "/account", STORE_LEG_SALESFORCE, now,
	    sh, ch);
	ck_assert_int_eq(store_search_peek(st, sh, &got), STORE_OK);
	ck_assert_str_eq(got.command, "/account");
	store_search_free(&got);
	ck_assert_ptr_null(got.command);
	ck_assert_int_eq(store_state_take_search(st, sh, ch, now, &who, &v,
	    &got), STORE_OK);
	ck_assert_str_eq(got.text, SEARCH_TEXT);
	ck_assert_str_eq(got.command, "/account");
	crypto_free_secret(v);
	v = NULL;
	store_search_free(&got);
	/* Taken with the search. */
	ck_assert_int_eq(raw_int("SELECT count(*) FROM login_state WHERE "
	    "search_command IS NOT NULL"), 0);

	/* Without a command: NULL ("/contact"). */
	command_login(st, &u, "none", NULL, STORE_LEG_SALESFORCE, now, sh, ch);
	ck_assert_int_eq(store_state_take_search(st, sh, ch, now, &who, &v,
	    &got), STORE_OK);
	ck_assert_str_eq(got.text, SEARCH_TEXT);
	ck_assert_ptr_null(got.command);
	crypto_free_secret(v);
	v = NULL;
	store_search_free(&got);

	/* Sign in with Slack first: the command follows the hand-on. */
	command_login(st, &u, "slack", "/case", STORE_LEG_SLACK, now, sh, ch);
	ck_assert_int_eq(store_state_take_leg(st, STORE_LEG_SLACK, sh, ch, now,
	    &who, &v, NULL), STORE_OK);
	crypto_free_secret(v);
	v = NULL;
	hash_of("cmd state slack 2", s2);
	ck_assert_int_eq(store_state_advance(st, sh, s2, "verifier-2",
	    now + 600), STORE_OK);
	ck_assert_int_eq(store_state_take_leg(st, STORE_LEG_SALESFORCE, s2, ch,
	    now, &who, &v, &got), STORE_OK);
	ck_assert_str_eq(got.command, "/case");
	crypto_free_secret(v);
	v = NULL;
	store_search_free(&got);

	/* A link waiting for its code: the confirm hands it back. */
	command_login(st, &u, "code", "/pipeline", STORE_LEG_SALESFORCE, now,
	    sh, ch);
	ck_assert_int_eq(store_state_take_leg(st, STORE_LEG_SALESFORCE, sh, ch,
	    now, &who, &v, NULL), STORE_OK);
	crypto_free_secret(v);
	v = NULL;
	hash_of("cmd code", code);
	ck_assert_int_eq(store_pending_put(st, sh, &l, code, now + 600),
	    STORE_OK);
	ck_assert_int_eq(store_pending_link(st, code, &u, now, &p, &got,
	    &oldorg, &oldref), STORE_OK);
	ck_assert_str_eq(got.text, SEARCH_TEXT);
	ck_assert_str_eq(got.command, "/pipeline");
	store_search_free(&got);
	store_pending_free(&p);
	free(oldorg);
	crypto_free_secret(oldref);

	/* Malformed: refused, nothing written. */
	hash_of("cmd nonce bad", n);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		in = (struct store_search){ (char *)SEARCH_TEXT,
		    (char *)SEARCH_URL, 0, (char *)bad[i] };
		ck_assert_int_eq(store_nonce_add_login(st, &u, NULL, n,
		    now + 600, &in), STORE_ERROR);
	}
	ck_assert_int_eq(raw_int("SELECT count(*) FROM login_state WHERE "
	    "search_command IS NOT NULL"), 0);
	/* At the limit it is taken. */
	in.command = (char *)"/0123456789012345678901234567890";
	ck_assert_uint_eq(strlen(in.command), STORE_SEARCH_COMMAND_MAX);
	ck_assert_int_eq(store_nonce_add_login(st, &u, NULL, n, now + 600,
	    &in), STORE_OK);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM login_state WHERE "
	    "search_command IS NOT NULL"), 1);
	store_close(st);
}
END_TEST

START_TEST(test_search_fail_invalid_input)
{
	struct slack_user	 u = user("", "T1", "U1");
	struct store_search	 in;
	struct store		*st;
	unsigned char		 n[CRYPTO_HASHLEN];
	char			*big;
	int			 saved;

	st = open_with(&key_a);
	ck_assert_ptr_nonnull(big = malloc(STORE_SEARCH_TEXT_MAX + 2));
	memset(big, 'x', STORE_SEARCH_TEXT_MAX + 1);
	big[STORE_SEARCH_TEXT_MAX + 1] = '\0';
	hash_of("nonce", n);
	saved = stderr_capture();
	in = (struct store_search){ (char *)"", (char *)SEARCH_URL, 0, NULL };
	ck_assert_int_eq(store_nonce_add_search(st, &u, n, 1, &in),
	    STORE_ERROR);
	in = (struct store_search){ (char *)"x", (char *)"", 0, NULL };
	ck_assert_int_eq(store_nonce_add_search(st, &u, n, 1, &in),
	    STORE_ERROR);
	in = (struct store_search){ NULL, (char *)SEARCH_URL, 0, NULL };
	ck_assert_int_eq(store_nonce_add_search(st, &u, n, 1, &in),
	    STORE_ERROR);
	in = (struct store_search){ big, (char *)SEARCH_URL, 0, NULL };
	ck_assert_int_eq(store_nonce_add_search(st, &u, n, 1, &in),
	    STORE_ERROR);
	big[STORE_SEARCH_URL_MAX + 1] = '\0';
	in = (struct store_search){ (char *)"x", big, 0, NULL };
	ck_assert_int_eq(store_nonce_add_search(st, &u, n, 1, &in),
	    STORE_ERROR);
	stderr_restore(saved);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM login_state"), 0);
	/* At the limits it is taken. */
	big[STORE_SEARCH_URL_MAX] = '\0';
	in = (struct store_search){ (char *)"x", big, 0, NULL };
	ck_assert_int_eq(store_nonce_add_search(st, &u, n, 1, &in), STORE_OK);
	free(big);
	store_close(st);
}
END_TEST

START_TEST(test_search_no_plaintext_on_disk)
{
	struct store_search	 got;
	struct slack_user	 who;
	struct store		*st;
	unsigned char		 s[CRYPTO_HASHLEN], c[CRYPTO_HASHLEN];
	char			 wal[PATH_MAX + 8], shm[PATH_MAX + 8];
	char			*v = NULL;
	time_t			 now = time(NULL);

	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	snprintf(shm, sizeof(shm), "%s-shm", dbpath);
	st = open_with(&key_a);
	search_make(st, st, "disk", now, s, c);
	if (tu_db_pg()) {
		ck_assert_int_eq(tu_db_contains("T1"), 1);
		ck_assert_int_eq(tu_db_contains("searched-plaintext"), 0);
		ck_assert_int_eq(tu_db_contains("RESPONSEurlCAPABILITY"), 0);
		store_close(st);
		return;
	}
	ck_assert_int_eq(access(wal, F_OK), 0);
	ck_assert_int_eq(file_contains(wal, "T1"), 1);
	ck_assert_int_eq(file_contains(wal, "searched-plaintext"), 0);
	ck_assert_int_eq(file_contains(wal, "RESPONSEurlCAPABILITY"), 0);
	ck_assert_int_eq(file_contains(dbpath, "searched-plaintext"), 0);
	ck_assert_int_eq(file_contains(dbpath, "RESPONSEurlCAPABILITY"), 0);
	ck_assert_int_eq(file_contains(shm, "searched-plaintext"), 0);
	ck_assert_int_eq(store_state_take_search(st, s, c, now, &who, &v,
	    &got), STORE_OK);
	crypto_free_secret(v);
	store_search_free(&got);
	store_close(st);
	ck_assert_int_eq(file_contains(dbpath, "searched-plaintext"), 0);
	ck_assert_int_eq(file_contains(dbpath, "RESPONSEurlCAPABILITY"), 0);
	ck_assert_int_eq(file_contains(wal, "searched-plaintext"), 0);
	ck_assert_int_eq(file_contains(wal, "RESPONSEurlCAPABILITY"), 0);
}
END_TEST

/*
 * A database of version 1 (from before sql/002_resume.sql) with a login
 * in flight: opening it migrates, and that login still completes,
 * without a search.
 */
START_TEST(test_migrate_from_1_keeps_logins)
{
	struct store_search	 got;
	struct slack_user	 who;
	struct store		*st;
	unsigned char		 n[CRYPTO_HASHLEN], s[CRYPTO_HASHLEN];
	unsigned char		 c[CRYPTO_HASHLEN];
	const struct schema_migration *m;
	char			 lit[2 * CRYPTO_HASHLEN + 32], sql[256];
	char			*v = NULL;
	time_t			 now = time(NULL);

	m = tu_db_pg() ? schema_pg_migrations : schema_migrations;
	ck_assert_int_eq(m[0].version, 1);
	raw_exec(m[0].sql);
	tu_db_set_version(1);
	hash_of("old nonce", n);
	snprintf(sql, sizeof(sql), "INSERT INTO login_state (nonce_hash, "
	    "team_id, user_id, created_at, expires_at) VALUES (%s, 'T1', "
	    "'U1', %lld, %lld)", tu_db_blob_lit(n, CRYPTO_HASHLEN, lit,
	    sizeof(lit)), (long long)now, (long long)now + 600);
	raw_exec(sql);

	st = open_with(&key_a);
	ck_assert_int_eq(tu_db_version(), store_schema_version());
	hash_of("old state", s);
	hash_of("old cookie", c);
	ck_assert_int_eq(store_nonce_start(st, n, now, s, c, VERIFIER,
	    now + 600, &who), STORE_OK);
	ck_assert_int_eq(store_state_take_search(st, s, c, now, &who, &v,
	    &got), STORE_OK);
	ck_assert_str_eq(v, VERIFIER);
	ck_assert_ptr_null(got.text);
	crypto_free_secret(v);
	ck_assert_str_eq(who.user_id, "U1");
	store_close(st);
}
END_TEST

START_TEST(test_install_wrong_key)
{
	struct store_install	 out;
	struct store		*a, *b;

	a = open_with(&key_a);
	iput(a, "", "T1", BOT1, BOTREF1, 1000);
	b = open_with(&key_b);
	ck_assert_int_eq(store_install_get(b, "", "T1", &out), STORE_BADKEY);
	/* A refresh under another key cannot write over it. */
	ck_assert_int_eq(store_install_update_tokens(b, "", "T1", 1, BOT2,
	    BOTREF2, 2000), STORE_CONFLICT);
	store_close(b);
	ck_assert_int_eq(store_install_get(a, "", "T1", &out), STORE_OK);
	ck_assert_str_eq(out.bot_token, BOT1);
	store_install_free(&out);
	store_close(a);
}
END_TEST

START_TEST(test_install_no_plaintext_on_disk)
{
	static const char *const secrets[] = {
		BOT1, BOTREF1, BOT2, BOTREF2, BOTPLAIN
	};
	struct store		*st;
	char			 wal[PATH_MAX + 8];
	size_t			 i;

	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	st = open_with(&key_a);
	iput(st, "", "T1", BOT1, BOTREF1, 1000);
	ck_assert_int_eq(store_install_update_tokens(st, "", "T1", 1, BOT2,
	    BOTREF2, 2000), STORE_OK);
	iput(st, "E1", "", BOTPLAIN, NULL, 0);
	if (tu_db_pg()) {
		ck_assert_int_eq(tu_db_contains("U0BOT1"), 1);
		for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
			ck_assert_int_eq(tu_db_contains(secrets[i]), 0);
		store_close(st);
		return;
	}
	ck_assert_int_eq(file_contains(wal, "U0BOT1"), 1);
	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		ck_assert_int_eq(file_contains(dbpath, secrets[i]), 0);
		ck_assert_int_eq(file_contains(wal, secrets[i]), 0);
	}
	store_close(st);
	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		ck_assert_int_eq(file_contains(dbpath, secrets[i]), 0);
}
END_TEST

/* The view for admins: exactly these columns, no ciphertext anywhere,
 * times as ISO-8601 UTC. */
START_TEST(test_installations_view)
{
	static const char *const cols[] = {
		"enterprise_id", "team_id", "org_wide", "app_id", "team_name",
		"enterprise_name", "bot_user_id", "bot_id", "scopes",
		"installer_user_id", "key_id", "token_rotation",
		"token_expires_at", "needs_reinstall", "created_at",
		"updated_at"
	};
	struct store		*st;
	struct tu_rows		*r;
	int			 i, row;

	st = open_with(&key_a);
	iput(st, "", "T1", BOT1, BOTREF1, 1795428000 + 43200);
	iput(st, "E1", "", BOTPLAIN, NULL, 0);
	raw_exec("UPDATE slack_install SET created_at = 1795428000, "
	    "updated_at = 1795428000 + 3661");
	r = tu_db_rows("SELECT * FROM installations ORDER BY team_id DESC");
	ck_assert_int_eq(r->ncol, (int)(sizeof(cols) / sizeof(cols[0])));
	for (i = 0; i < r->ncol; i++)
		ck_assert_str_eq(r->name[i], cols[i]);
	ck_assert_int_eq(r->nrow, 2);
	for (row = 0; row < r->nrow; row++) {
		for (i = 0; i < r->ncol; i++)
			ck_assert_int_eq(tu_rows_blob(r, row, i), 0);
		if (row == 0) {
			ck_assert_str_eq(tu_rows_get(r, row, 1), "T1");
			ck_assert_str_eq(tu_rows_get(r, row, 2), "0");
			ck_assert_str_eq(tu_rows_get(r, row, 11), "1");
			ck_assert_str_eq(tu_rows_get(r, row, 12),
			    "2026-11-23T22:00:00Z");
		} else {
			ck_assert_str_eq(tu_rows_get(r, row, 0), "E1");
			ck_assert_str_eq(tu_rows_get(r, row, 2), "1");
			ck_assert_str_eq(tu_rows_get(r, row, 11), "0");
			ck_assert_ptr_null(tu_rows_get(r, row, 12));
		}
		ck_assert_str_eq(tu_rows_get(r, row, 10), key_a.id);
		ck_assert_str_eq(tu_rows_get(r, row, 14),
		    "2026-11-23T10:00:00Z");
		ck_assert_str_eq(tu_rows_get(r, row, 15),
		    "2026-11-23T11:01:01Z");
	}
	tu_rows_free(r);
	store_close(st);
}
END_TEST

/* Whether the state named s is recorded (used) in the table. */
static int64_t
istate_has(const char *s)
{
	char		 sql[256], lit[2 * CRYPTO_HASHLEN + 32];
	unsigned char	 h[CRYPTO_HASHLEN];

	hash_of(s, h);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM slack_install_state "
	    "WHERE state_hash = %s", tu_db_blob_lit(h, sizeof(h), lit,
	    sizeof(lit)));
	return raw_int(sql);
}

/* Takes the state named s, issued at 1000 and expiring at expires, at
 * now, with the cap; returns the result and the number dropped in
 * *dropped. */
static enum store_result
istate_take(struct store *st, const char *s, time_t expires, time_t now,
    long cap, long *dropped)
{
	unsigned char	 sh[CRYPTO_HASHLEN], ch[CRYPTO_HASHLEN];
	char		 c[64];

	hash_of(s, sh);
	snprintf(c, sizeof(c), "cookie of %s", s);
	hash_of(c, ch);
	return store_install_state_take(st, sh, ch, 1000, expires, now, cap,
	    dropped);
}

START_TEST(test_install_state)
{
	struct store	*st;
	long		 dropped = -1;

	st = open_with(&key_a);
	ck_assert_int_eq(istate_take(st, "s1", 1600, 1100, 10, &dropped),
	    STORE_OK);
	ck_assert_int_eq(dropped, 0);
	/* Recorded as used, with the cookie's hash and times. */
	ck_assert_int_eq(raw_int("SELECT count(*) FROM slack_install_state "
	    "WHERE created_at = 1000 AND expires_at = 1600 AND used_at = 1100 "
	    "AND length(cookie_hash) = 32"), 1);
	ck_assert_int_eq(istate_has("s1"), 1);
	/* A second use, however late before it expires: refused, nothing
	 * changed. */
	dropped = -1;
	ck_assert_int_eq(istate_take(st, "s1", 1600, 1599, 10, &dropped),
	    STORE_USED);
	ck_assert_int_eq(dropped, 0);
	ck_assert_int_eq(raw_int("SELECT used_at FROM slack_install_state"),
	    1100);
	ck_assert_int_eq(istate_take(st, "s2", 1700, 1100, 10, &dropped),
	    STORE_OK);
	/* The purge removes expired states (and nothing else). */
	ck_assert_int_eq(store_purge(st, 1599), 0);
	ck_assert_int_eq(store_purge(st, 1600), 1);
	ck_assert_int_eq(istate_has("s1"), 0);
	ck_assert_int_eq(istate_has("s2"), 1);
	/* No cap is no table. */
	ck_assert_int_eq(istate_take(st, "s3", 1700, 1100, 0, &dropped),
	    STORE_ERROR);
	ck_assert_int_eq(istate_has("s3"), 0);
	store_close(st);
}
END_TEST

START_TEST(test_install_state_cap)
{
	struct store	*st;
	long		 dropped;

	st = open_with(&key_a);
	/* Three states, expiring in the order c, a, b. */
	ck_assert_int_eq(istate_take(st, "a", 2000, 1000, 3, &dropped),
	    STORE_OK);
	ck_assert_int_eq(istate_take(st, "b", 2100, 1000, 3, &dropped),
	    STORE_OK);
	ck_assert_int_eq(istate_take(st, "c", 1500, 1000, 3, &dropped),
	    STORE_OK);
	ck_assert_int_eq(dropped, 0);
	/* Full: the one that expires first makes room. */
	ck_assert_int_eq(istate_take(st, "d", 2200, 1100, 3, &dropped),
	    STORE_OK);
	ck_assert_int_eq(dropped, 1);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM slack_install_state"),
	    3);
	ck_assert_int_eq(istate_has("c"), 0);
	ck_assert_int_eq(istate_has("d"), 1);
	/* The oldest, used again while the table is full: found used, not
	 * dropped and recorded anew. */
	ck_assert_int_eq(istate_take(st, "a", 2000, 1200, 3, &dropped),
	    STORE_USED);
	ck_assert_int_eq(dropped, 0);
	ck_assert_int_eq(istate_has("a"), 1);
	/* Expired rows go first and count as purged, not dropped: at 2000
	 * "a" has expired, which leaves room for "e". */
	ck_assert_int_eq(istate_take(st, "e", 2300, 2000, 3, &dropped),
	    STORE_OK);
	ck_assert_int_eq(dropped, 0);
	ck_assert_int_eq(istate_has("a"), 0);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM slack_install_state"),
	    3);
	/* A smaller cap than the table: as many go as it takes. */
	ck_assert_int_eq(istate_take(st, "f", 2400, 2000, 1, &dropped),
	    STORE_OK);
	ck_assert_int_eq(dropped, 3);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM slack_install_state"),
	    1);
	ck_assert_int_eq(istate_has("f"), 1);
	store_close(st);
}
END_TEST

/* --- Salesforce integrations (sql/004_integrations.sql) --------------- */

/* Consumer secrets and integration-user tokens, made by setup(). */
#define SECRET_A	secret_a
#define SECRET_B	secret_b
#define ITOKEN1		itoken1
#define ITOKEN2		itoken2

static void
integ_add(struct store *st, const char *name, const char *secret, int iuser,
    enum store_result want)
{
	struct sf_org	 o;

	memset(&o, 0, sizeof(o));
	o.name = (char *)name;
	o.login_url = (char *)"https://acme.my.salesforce.com";
	o.client_id = (char *)"3MVG9-client-of-integration";
	o.client_secret = (char *)secret;
	o.api_version = (char *)"v61.0";
	o.integration_user = iuser;
	ck_assert_int_eq(store_integration_add(st, &o), want);
}

/* The integration a workspace resolves to ("" default), asserting the
 * mode flag too. */
static const char *
ws_of(struct store *st, const char *ent, const char *team, int iuser,
    char name[CONFIG_ORG_NAME_MAX + 1])
{
	int	 iu = -1;

	ck_assert_int_eq(store_workspace_integration(st, ent, team, name, &iu),
	    STORE_OK);
	ck_assert_int_eq(iu, iuser);
	return name;
}

START_TEST(test_integration_crud)
{
	struct store			*st;
	struct sf_org			 o;
	struct store_integration_list	 il;
	struct slack_user		 u = user("", "T1", "U1");
	struct store_link		 l = link_in(ACCESS1, REFRESH1);
	char				 nm[CONFIG_ORG_NAME_MAX + 1];

	st = open_with(&key_a);
	integ_add(st, "prod", SECRET_A, 0, STORE_OK);
	integ_add(st, "prod", SECRET_B, 1, STORE_EXISTS);
	integ_add(st, "cc", SECRET_B, 1, STORE_OK);
	ck_assert_int_eq(store_integration_get(st, "prod", &o), STORE_OK);
	ck_assert_str_eq(o.name, "prod");
	ck_assert_str_eq(o.client_secret, SECRET_A);
	ck_assert_str_eq(o.login_url, "https://acme.my.salesforce.com");
	ck_assert_str_eq(o.api_version, "v61.0");
	ck_assert_int_eq(o.integration_user, 0);
	ck_assert_ptr_null(o.login_host);
	config_sf_org_free(&o);
	ck_assert_int_eq(store_integration_get(st, "nope", &o),
	    STORE_NOTFOUND);
	ck_assert_int_eq(store_integration_get(st, "", &o), STORE_NOTFOUND);
	/* A rotated secret: the same integration, the new secret, sealed
	 * under the current key (b's here, so the key id moves too). */
	ck_assert_int_eq(store_integration_set_secret(st, "nope", SECRET_B),
	    STORE_NOTFOUND);
	{
		struct store	*stb = open_with(&key_b);

		ck_assert_int_eq(store_integration_set_secret(stb, "cc",
		    SECRET_A), STORE_OK);
		ck_assert_int_eq(store_integration_get(stb, "cc", &o),
		    STORE_OK);
		ck_assert_str_eq(o.client_secret, SECRET_A);
		ck_assert_int_eq(o.integration_user, 1);
		config_sf_org_free(&o);
		store_close(stb);
		ck_assert_int_eq(store_integration_get(st, "cc", &o),
		    STORE_BADKEY);
	}

	/* Mapped and linked: listed with counts, never a secret. */
	ck_assert_int_eq(store_workspace_set(st, 0, "T1", "prod", NULL),
	    STORE_OK);
	l.org = (char *)"prod";
	ck_assert_int_eq(store_link_put(st, &u, &l, NULL), STORE_OK);
	ck_assert_int_eq(store_integration_list(st, &il), STORE_OK);
	ck_assert_uint_eq(il.n, 2);
	ck_assert_str_eq(il.v[0].name, "cc");
	ck_assert_int_eq(il.v[0].integration_user, 1);
	ck_assert_int_eq(il.v[0].workspaces, 0);
	ck_assert_str_eq(il.v[1].name, "prod");
	ck_assert_int_eq(il.v[1].workspaces, 1);
	ck_assert_int_eq(il.v[1].links, 1);
	ck_assert_str_eq(il.v[1].key_id, key_a.id);
	ck_assert_ptr_null(il.v[1].token_user);
	store_integration_list_free(&il);
	ck_assert_str_eq(ws_of(st, "", "T1", 0, nm), "prod");

	/* Removal refuses while used, and says by what. */
	{
		struct store_workspace_list	 wl;
		struct store_link_list		 ll;

		ck_assert_int_eq(store_integration_remove(st, "prod", 0, &wl,
		    &ll), STORE_CONFLICT);
		ck_assert_uint_eq(wl.n, 1);
		ck_assert_str_eq(wl.v[0].slack_id, "T1");
		ck_assert_uint_eq(ll.n, 1);
		ck_assert_str_eq(ll.v[0].who.user_id, "U1");
		store_workspace_list_free(&wl);
		store_link_list_free(&ll);
		ck_assert_int_eq(store_integration_get(st, "prod", &o),
		    STORE_OK);
		config_sf_org_free(&o);
		/* --force takes the mapping and the link with it. */
		ck_assert_int_eq(store_integration_remove(st, "prod", 1, &wl,
		    &ll), STORE_OK);
		ck_assert_uint_eq(wl.n, 1);
		ck_assert_uint_eq(ll.n, 1);
		store_workspace_list_free(&wl);
		store_link_list_free(&ll);
	}
	ck_assert_int_eq(store_integration_get(st, "prod", &o),
	    STORE_NOTFOUND);
	ck_assert_int_eq(store_link_get(st, &u, &l), STORE_NOTFOUND);
	ck_assert_str_eq(ws_of(st, "", "T1", 0, nm), "");
	ck_assert_int_eq(store_integration_remove(st, "prod", 1, NULL, NULL),
	    STORE_NOTFOUND);
	ck_assert_int_eq(store_integration_remove(st, "cc", 0, NULL, NULL),
	    STORE_OK);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM sf_integration"), 0);
	store_close(st);
}
END_TEST

/* Team first, then enterprise, then the default; mappings to the
 * default or to a vanished integration. */
START_TEST(test_workspace_lookup_order)
{
	struct store			*st;
	struct store_workspace_list	 wl;
	char				 nm[CONFIG_ORG_NAME_MAX + 1];
	char				*prev = NULL;

	st = open_with(&key_a);
	integ_add(st, "a", SECRET_A, 0, STORE_OK);
	integ_add(st, "b", SECRET_B, 1, STORE_OK);
	ck_assert_str_eq(ws_of(st, "E1", "T1", 0, nm), "");
	ck_assert_int_eq(store_workspace_set(st, 1, "E1", "a", &prev),
	    STORE_OK);
	ck_assert_ptr_null(prev);
	ck_assert_str_eq(ws_of(st, "E1", "T1", 0, nm), "a");
	ck_assert_str_eq(ws_of(st, "E2", "T1", 0, nm), "");
	ck_assert_str_eq(ws_of(st, "", "T1", 0, nm), "");
	ck_assert_int_eq(store_workspace_set(st, 0, "T1", "b", NULL),
	    STORE_OK);
	ck_assert_str_eq(ws_of(st, "E1", "T1", 1, nm), "b");
	ck_assert_str_eq(ws_of(st, "", "T1", 1, nm), "b");
	ck_assert_str_eq(ws_of(st, "E1", "T2", 0, nm), "a");
	/* Remapped: the previous name comes back. */
	ck_assert_int_eq(store_workspace_set(st, 0, "T1", "", &prev),
	    STORE_OK);
	ck_assert_str_eq(prev, "b");
	free(prev);
	ck_assert_str_eq(ws_of(st, "E1", "T1", 0, nm), "");
	ck_assert_int_eq(store_workspace_set(st, 0, "T1", "zz", NULL),
	    STORE_NOTFOUND);
	ck_assert_str_eq(ws_of(st, "E1", "T1", 0, nm), "");
	/* An id that is both a team's and an enterprise's: kinds apart. */
	ck_assert_int_eq(store_workspace_set(st, 0, "E1", "b", NULL),
	    STORE_OK);
	ck_assert_str_eq(ws_of(st, "E1", "T3", 0, nm), "a");
	ck_assert_str_eq(ws_of(st, "", "E1", 1, nm), "b");
	/* A mapping whose integration vanished (raw delete) is skipped. */
	raw_exec("DELETE FROM sf_integration WHERE name = 'a'");
	ck_assert_str_eq(ws_of(st, "E1", "T3", 0, nm), "");
	ck_assert_int_eq(store_workspace_list(st, &wl), STORE_OK);
	ck_assert_uint_eq(wl.n, 3);
	ck_assert_str_eq(wl.v[0].slack_id, "E1");	/* the team E1 */
	ck_assert_int_eq(wl.v[0].enterprise, 0);
	ck_assert_str_eq(wl.v[1].slack_id, "T1");
	ck_assert_str_eq(wl.v[1].integration, "");
	ck_assert_str_eq(wl.v[2].slack_id, "E1");
	ck_assert_int_eq(wl.v[2].enterprise, 1);
	store_workspace_list_free(&wl);
	ck_assert_int_eq(store_workspace_unset(st, 0, "T1"), STORE_OK);
	ck_assert_int_eq(store_workspace_unset(st, 0, "T1"), STORE_NOTFOUND);
	ck_assert_int_eq(store_workspace_unset(st, 1, "T1"), STORE_NOTFOUND);
	store_close(st);
}
END_TEST

/* The secret is sealed: not on disk in plaintext, bound to its row and
 * column, and a wrong or missing key is BADKEY, not garbage. */
START_TEST(test_integration_sealed)
{
	struct store	*st;
	struct sf_org	 o;
	char		 p[PATH_MAX + 8];

	st = open_with(&key_a);
	integ_add(st, "a", SECRET_A, 0, STORE_OK);
	integ_add(st, "b", SECRET_B, 0, STORE_OK);
	store_close(st);
	if (tu_db_pg()) {
		ck_assert_int_eq(tu_db_contains(SECRET_A), 0);
		ck_assert_int_eq(tu_db_contains("CONSUMER-SECRET"), 0);
	} else {
		ck_assert_int_eq(file_contains(dbpath, SECRET_A), 0);
		snprintf(p, sizeof(p), "%s-wal", dbpath);
		ck_assert_int_eq(file_contains(p, SECRET_A), 0);
		ck_assert_int_eq(file_contains(p, "CONSUMER-SECRET"), 0);
	}

	/* b's ciphertext copied onto a: does not open as a's. */
	raw_exec("UPDATE sf_integration SET client_secret_ct = (SELECT "
	    "client_secret_ct FROM sf_integration WHERE name = 'b') "
	    "WHERE name = 'a'");
	st = open_with(&key_a);
	ck_assert_int_eq(store_integration_get(st, "a", &o), STORE_BADKEY);
	ck_assert_ptr_null(o.client_secret);
	ck_assert_int_eq(store_integration_get(st, "b", &o), STORE_OK);
	ck_assert_str_eq(o.client_secret, SECRET_B);
	config_sf_org_free(&o);
	store_close(st);

	/* One flipped bit, or another key: BADKEY. */
	raw_flip("sf_integration", "client_secret_ct", "name = 'b'", 30);
	st = open_with(&key_a);
	ck_assert_int_eq(store_integration_get(st, "b", &o), STORE_BADKEY);
	store_close(st);
	st = open_with(&key_b);
	integ_add(st, "c", SECRET_A, 0, STORE_OK);
	store_close(st);
	st = open_with(&key_a);
	ck_assert_int_eq(store_integration_get(st, "c", &o), STORE_BADKEY);
	store_close(st);
	/* The associated data names the column: c's secret moved into the
	 * token column of c's integration user does not open. */
	st = open_with(&key_b);
	ck_assert_int_eq(store_integration_get(st, "c", &o), STORE_OK);
	config_sf_org_free(&o);
	{
		struct store_itoken	 t;

		memset(&t, 0, sizeof(t));
		t.sf_user_id = t.sf_org_id = t.sf_username = (char *)"x";
		t.instance_url = (char *)"https://acme.my.salesforce.com";
		t.access_token = (char *)"tok";
		ck_assert_int_eq(store_itoken_put(st, "c", &t, 0), STORE_OK);
		raw_exec("UPDATE integration_token SET access_token_ct = "
		    "(SELECT client_secret_ct FROM sf_integration WHERE "
		    "name = 'c') WHERE integration = 'c'");
		ck_assert_int_eq(store_itoken_get(st, "c", &t), STORE_BADKEY);
	}
	store_close(st);
}
END_TEST

static struct store_itoken
itoken_in(const char *token, const char *username)
{
	struct store_itoken	 t;

	memset(&t, 0, sizeof(t));
	t.sf_user_id = (char *)"005xx000009RunAsAA";
	t.sf_org_id = (char *)"00Dxx0000001gPLEAY";
	t.sf_username = (char *)username;
	t.instance_url = (char *)"https://acme.my.salesforce.com";
	t.access_token = (char *)token;
	return t;
}

/* The integration user's token: compare-and-set on its version, peek
 * opens nothing, sealed to its integration, removed with it. */
START_TEST(test_itoken)
{
	struct store		*st;
	struct store_itoken	 in = itoken_in(ITOKEN1, "runas@acme.example");
	struct store_itoken	 t;
	char			 p[PATH_MAX + 8];

	st = open_with(&key_a);
	integ_add(st, "cc", SECRET_A, 1, STORE_OK);
	integ_add(st, "cc2", SECRET_B, 1, STORE_OK);
	ck_assert_int_eq(store_itoken_get(st, "cc", &t), STORE_NOTFOUND);
	ck_assert_int_eq(store_itoken_put(st, "nope", &in, 0),
	    STORE_CONFLICT);
	ck_assert_int_eq(store_itoken_put(st, "cc", &in, 0), STORE_OK);
	ck_assert_int_eq(store_itoken_put(st, "cc", &in, 0), STORE_CONFLICT);
	ck_assert_int_eq(store_itoken_get(st, "cc", &t), STORE_OK);
	ck_assert_str_eq(t.access_token, ITOKEN1);
	ck_assert_str_eq(t.sf_username, "runas@acme.example");
	ck_assert_int_eq(t.version, 1);
	ck_assert_int_ge(t.fetched_at, time(NULL) - 5);
	store_itoken_free(&t);
	ck_assert_ptr_null(t.access_token);
	/* A re-fetch replaces version 1; a second one that read version 1
	 * too is told someone was first. */
	in = itoken_in(ITOKEN2, "runas@acme.example");
	ck_assert_int_eq(store_itoken_put(st, "cc", &in, 1), STORE_OK);
	ck_assert_int_eq(store_itoken_put(st, "cc", &in, 1), STORE_CONFLICT);
	ck_assert_int_eq(store_itoken_peek(st, "cc", &t), STORE_OK);
	ck_assert_ptr_null(t.access_token);
	ck_assert_int_eq(t.version, 2);
	store_itoken_free(&t);
	ck_assert_int_eq(store_itoken_put(st, "cc2", &in, 0), STORE_OK);
	store_close(st);
	if (tu_db_pg())
		ck_assert_int_eq(tu_db_contains(ITOKEN2), 0);
	else {
		ck_assert_int_eq(file_contains(dbpath, ITOKEN2), 0);
		snprintf(p, sizeof(p), "%s-wal", dbpath);
		ck_assert_int_eq(file_contains(p, ITOKEN2), 0);
	}

	/* cc2's token copied onto cc: does not open; peek still works. */
	raw_exec("UPDATE integration_token SET access_token_ct = (SELECT "
	    "access_token_ct FROM integration_token WHERE integration = "
	    "'cc2') WHERE integration = 'cc'");
	st = open_with(&key_a);
	ck_assert_int_eq(store_itoken_get(st, "cc", &t), STORE_BADKEY);
	ck_assert_int_eq(store_itoken_peek(st, "cc", &t), STORE_OK);
	store_itoken_free(&t);
	/* Removing the integration removes its token. */
	ck_assert_int_eq(store_integration_remove(st, "cc", 0, NULL, NULL),
	    STORE_OK);
	ck_assert_int_eq(store_itoken_peek(st, "cc", &t), STORE_NOTFOUND);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM integration_token"), 1);
	store_close(st);
}
END_TEST

/* What a login was started with, and a link's integration. */
START_TEST(test_login_and_link_org)
{
	struct store		*st;
	struct slack_user	 u = user("E1", "T1", "U1"), who;
	struct store_link	 l = link_in(ACCESS1, REFRESH1);
	unsigned char		 nh[CRYPTO_HASHLEN], sh[CRYPTO_HASHLEN];
	unsigned char		 ch[CRYPTO_HASHLEN];
	char			*org = NULL, *v = NULL;

	st = open_with(&key_a);
	hash_of("nonce", nh);
	hash_of("state", sh);
	hash_of("cookie", ch);
	ck_assert_int_eq(store_state_org(st, sh, &org), STORE_NOTFOUND);
	ck_assert_int_eq(store_nonce_add(st, &u, nh, time(NULL) + 60),
	    STORE_OK);
	ck_assert_int_eq(store_nonce_start(st, nh, time(NULL), sh, ch,
	    VERIFIER, time(NULL) + 60, &who), STORE_OK);
	/* Not recorded (a login started before migration 4): NULL. */
	ck_assert_int_eq(store_state_org(st, sh, &org), STORE_OK);
	ck_assert_ptr_null(org);
	ck_assert_int_eq(store_state_set_org(st, sh, "uat"), STORE_OK);
	ck_assert_int_eq(store_state_take(st, sh, ch, time(NULL), &who, &v),
	    STORE_OK);
	crypto_free_secret(v);
	/* Readable after the state is used: the callback reads it then. */
	ck_assert_int_eq(store_state_org(st, sh, &org), STORE_OK);
	ck_assert_str_eq(org, "uat");
	free(org);
	hash_of("other", sh);
	ck_assert_int_eq(store_state_set_org(st, sh, "uat"), STORE_NOTFOUND);

	ck_assert_int_eq(store_link_org(st, &u, &org), STORE_NOTFOUND);
	l.org = (char *)"uat";
	ck_assert_int_eq(store_link_put(st, &u, &l, NULL), STORE_OK);
	ck_assert_int_eq(store_link_org(st, &u, &org), STORE_OK);
	ck_assert_str_eq(org, "uat");
	free(org);
	org = raw_text("SELECT integration FROM links");
	ck_assert_str_eq(org, "uat");
	free(org);
	store_close(st);
}
END_TEST

#define NELEM(a)	((int)(sizeof(a) / sizeof((a)[0])))

/* --- Pending links: the code proof (issue 11) -------------------------- */

/* One pending login of pending_make(): its hashes and its code's. */
struct pend {
	unsigned char	 nonce[CRYPTO_HASHLEN];
	unsigned char	 state[CRYPTO_HASHLEN];
	unsigned char	 cookie[CRYPTO_HASHLEN];
	unsigned char	 code[CRYPTO_HASHLEN];
};

/*
 * A login of u named name, taken as far as the code proof takes it: the
 * nonce added (with SEARCH_TEXT when search is set), started and its
 * Salesforce state taken with the search left on the row, as the callback
 * does in code mode.  With put set, the link (ACCESS1, REFRESH1) is kept
 * pending with the hash of the code "code <name>" until now + 600.
 */
static void
pending_make(struct store *st, const struct slack_user *u, const char *name,
    time_t now, int search, int put, struct pend *p)
{
	struct store_search	 in = { (char *)SEARCH_TEXT, (char *)SEARCH_URL,
				    0, NULL };
	struct store_names	 names = { "acme", "alice" };
	struct store_link	 l = link_in(ACCESS1, REFRESH1);
	struct slack_user	 got;
	char			 buf[128], *v = NULL;

	snprintf(buf, sizeof(buf), "nonce %s", name);
	hash_of(buf, p->nonce);
	snprintf(buf, sizeof(buf), "state %s", name);
	hash_of(buf, p->state);
	snprintf(buf, sizeof(buf), "cookie %s", name);
	hash_of(buf, p->cookie);
	snprintf(buf, sizeof(buf), "code %s", name);
	hash_of(buf, p->code);
	ck_assert_int_eq(store_nonce_add_login(st, u, &names, p->nonce,
	    now + 600, search ? &in : NULL), STORE_OK);
	ck_assert_int_eq(store_nonce_start_leg(st, STORE_LEG_SALESFORCE,
	    p->nonce, now, p->state, p->cookie, VERIFIER, now + 600, &got),
	    STORE_OK);
	ck_assert_int_eq(store_state_take_leg(st, STORE_LEG_SALESFORCE,
	    p->state, p->cookie, now, &got, &v, NULL), STORE_OK);
	crypto_free_secret(v);
	if (put)
		ck_assert_int_eq(store_pending_put(st, p->state, &l, p->code,
		    now + 600), STORE_OK);
}

/* The number of login_state rows with a pending link. */
static int64_t
pendings_left(void)
{
	return raw_int("SELECT count(*) FROM login_state WHERE "
	    "pend_refresh_ct IS NOT NULL");
}

/* A kept pending link is sealed (its tokens are nowhere in plain text,
 * not in the database nor its WAL), the code kept by its hash only with
 * 0 tries, and the right code from the row's user takes it whole, with
 * the search, exactly once. */
START_TEST(test_pending_put_and_confirm)
{
	struct store_pending	 p;
	struct store_search	 search;
	struct slack_user	 u = user("E1", "T1", "U1");
	struct store		*st;
	struct pend		 pd;
	char			 wal[PATH_MAX + 8], *kid;
	time_t			 now = time(NULL);

	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	st = open_with(&key_a);
	pending_make(st, &u, "a", now, 1, 1, &pd);
	ck_assert_int_eq(pendings_left(), 1);
	kid = raw_text("SELECT pend_key_id FROM login_state");
	ck_assert_str_eq(kid, key_a.id);
	free(kid);
	ck_assert_int_eq(raw_int("SELECT length(pend_access_ct) FROM "
	    "login_state"), (int64_t)strlen(ACCESS1) + CRYPTO_SEAL_OVERHEAD);
	ck_assert_int_eq(raw_int("SELECT length(pend_refresh_ct) FROM "
	    "login_state"), (int64_t)strlen(REFRESH1) + CRYPTO_SEAL_OVERHEAD);
	ck_assert_int_eq(raw_int("SELECT confirm_tries FROM login_state"), 0);
	ck_assert_int_eq(raw_int("SELECT expires_at FROM login_state"),
	    (int64_t)now + 600);
	if (tu_db_pg()) {
		ck_assert_int_eq(tu_db_contains("alice@example.com"), 1);
		ck_assert_int_eq(tu_db_contains(ACCESS1), 0);
		ck_assert_int_eq(tu_db_contains(REFRESH1), 0);
	} else {
		ck_assert_int_eq(file_contains(wal, "alice@example.com"), 1);
		ck_assert_int_eq(file_contains(wal, ACCESS1), 0);
		ck_assert_int_eq(file_contains(wal, REFRESH1), 0);
		ck_assert_int_eq(file_contains(dbpath, ACCESS1), 0);
		ck_assert_int_eq(file_contains(dbpath, REFRESH1), 0);
	}

	ck_assert_int_eq(store_pending_confirm(st, pd.code, &u, now, &p,
	    &search), STORE_OK);
	ck_assert_str_eq(p.who.enterprise_id, "E1");
	ck_assert_str_eq(p.who.user_id, "U1");
	ck_assert_str_eq(p.link.access_token, ACCESS1);
	ck_assert_str_eq(p.link.refresh_token, REFRESH1);
	ck_assert_str_eq(p.link.sf_username, "alice@example.com");
	ck_assert_str_eq(p.link.org, "");
	ck_assert_int_eq(memcmp(p.nonce_hash, pd.nonce, CRYPTO_HASHLEN), 0);
	ck_assert_ptr_nonnull(search.text);
	ck_assert_str_eq(search.text, SEARCH_TEXT);
	ck_assert_str_eq(search.response_url, SEARCH_URL);
	store_pending_free(&p);
	ck_assert_ptr_null(p.link.access_token);
	store_search_free(&search);
	/* Taken: nothing pending, no code, no search left on the row. */
	ck_assert_int_eq(pendings_left(), 0);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM login_state WHERE "
	    "confirm_hash IS NOT NULL OR pend_access_ct IS NOT NULL"), 0);
	ck_assert_int_eq(searches_left(), 0);
	ck_assert_int_eq(store_pending_confirm(st, pd.code, &u, now, &p,
	    &search), STORE_NOTFOUND);
	ck_assert_ptr_null(p.link.access_token);
	ck_assert_ptr_null(search.text);
	store_close(st);
}
END_TEST

/* The cases store_pending_put() refuses, each leaving the row as it
 * was. */
static const struct {
	const char	*name;
	int		 taken;		/* the state was taken first */
	int		 twice;		/* a link is pending there already */
	int		 unknown;	/* a state never issued */
	int		 incomplete;	/* the link lacks its refresh token */
	enum store_result r;
} pending_put_cases[] = {
	{ "ok", 1, 0, 0, 0, STORE_OK },
	{ "fail: state not taken yet", 0, 0, 0, 0, STORE_NOTFOUND },
	{ "fail: a link pending already", 1, 1, 0, 0, STORE_NOTFOUND },
	{ "fail: unknown state", 1, 0, 1, 0, STORE_NOTFOUND },
	{ "fail: link without refresh token", 1, 0, 0, 1, STORE_ERROR },
};

START_TEST(test_pending_put_table)
{
	struct store_link	 l = link_in(ACCESS2, REFRESH2);
	struct slack_user	 u = user("", "T1", "U1"), got;
	struct store		*st;
	struct pend		 pd;
	unsigned char		 other[CRYPTO_HASHLEN];
	char			*v = NULL;
	time_t			 now = time(NULL);

	st = open_with(&key_a);
	if (pending_put_cases[_i].taken)
		pending_make(st, &u, "t", now, 0, pending_put_cases[_i].twice,
		    &pd);
	else {
		hash_of("nonce t", pd.nonce);
		hash_of("state t", pd.state);
		hash_of("code t", pd.code);
		ck_assert_int_eq(store_nonce_add(st, &u, pd.nonce, now + 600),
		    STORE_OK);
		ck_assert_int_eq(store_nonce_start(st, pd.nonce, now,
		    pd.state, pd.state, VERIFIER, now + 600, &got), STORE_OK);
	}
	hash_of("state never issued", other);
	if (pending_put_cases[_i].incomplete)
		l.refresh_token = NULL;
	ck_assert_int_eq(store_pending_put(st, pending_put_cases[_i].unknown ?
	    other : pd.state, &l, pd.code, now + 600),
	    pending_put_cases[_i].r);
	/* "twice": the first link is still the one pending. */
	ck_assert_int_eq(pendings_left(), pending_put_cases[_i].r ==
	    STORE_OK || pending_put_cases[_i].twice ? 1 : 0);
	if (!pending_put_cases[_i].taken) {
		/* The state was left usable. */
		ck_assert_int_eq(store_state_take(st, pd.state, pd.state, now,
		    &got, &v), STORE_OK);
		crypto_free_secret(v);
	}
	store_close(st);
}
END_TEST

/* Another Slack user's code (another user, team or enterprise) takes
 * nothing: the row is void at once (no code, the search gone, due now)
 * but keeps its tokens for store_pending_due(), which opens them; the
 * drop then clears them, once. */
static const struct {
	const char	*name;
	const char	*ent, *team, *uid;
} pending_other_cases[] = {
	{ "fail: another user", "E1", "T1", "U2" },
	{ "fail: another workspace", "E1", "T2", "U1" },
	{ "fail: another enterprise", "E2", "T1", "U1" },
	{ "fail: no enterprise", "", "T1", "U1" },
};

START_TEST(test_pending_confirm_other_user)
{
	struct store_pending	 p, *due = NULL;
	struct store_search	 search;
	struct slack_user	 u = user("E1", "T1", "U1");
	struct slack_user	 them = user(pending_other_cases[_i].ent,
				    pending_other_cases[_i].team,
				    pending_other_cases[_i].uid);
	struct store		*st;
	struct pend		 pd;
	size_t			 n;
	time_t			 now = time(NULL);

	st = open_with(&key_a);
	pending_make(st, &u, "o", now, 1, 1, &pd);
	ck_assert_int_eq(store_pending_due(st, now, 10, &due, &n), STORE_OK);
	ck_assert_uint_eq(n, 0);
	store_pending_list_free(due, n);
	ck_assert_int_eq(store_pending_confirm(st, pd.code, &them, now, &p,
	    &search), STORE_MISMATCH);
	/* Whose it was, and nothing of the link. */
	ck_assert_str_eq(p.who.user_id, "U1");
	ck_assert_str_eq(p.who.team_id, "T1");
	ck_assert_ptr_null(p.link.access_token);
	ck_assert_ptr_null(p.link.refresh_token);
	ck_assert_ptr_null(search.text);
	store_pending_free(&p);
	ck_assert_int_eq(pendings_left(), 1);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM login_state WHERE "
	    "confirm_hash IS NOT NULL"), 0);
	ck_assert_int_eq(searches_left(), 0);
	ck_assert_int_le(raw_int("SELECT expires_at FROM login_state"),
	    (int64_t)now);
	/* The right user's code is no good now either. */
	ck_assert_int_eq(store_pending_confirm(st, pd.code, &u, now, &p,
	    &search), STORE_NOTFOUND);
	ck_assert_int_eq(store_pending_due(st, now, 10, &due, &n), STORE_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(due[0].link.refresh_token, REFRESH1);
	ck_assert_str_eq(due[0].link.access_token, ACCESS1);
	ck_assert_str_eq(due[0].who.user_id, "U1");
	ck_assert_int_eq(store_pending_drop(st, &due[0]), STORE_OK);
	ck_assert_int_eq(store_pending_drop(st, &due[0]), STORE_NOTFOUND);
	store_pending_list_free(due, n);
	ck_assert_int_eq(pendings_left(), 0);
	store_close(st);
}
END_TEST

/* A code past its time takes nothing; the row is then due (and stays
 * until revoked and dropped: the plain purge leaves it alone). */
START_TEST(test_pending_expiry)
{
	struct store_pending	 p, *due = NULL;
	struct store_search	 search;
	struct slack_user	 u = user("", "T1", "U1");
	struct store		*st;
	struct pend		 pd;
	size_t			 n;
	time_t			 now = time(NULL);

	st = open_with(&key_a);
	pending_make(st, &u, "x", now, 0, 1, &pd);
	ck_assert_int_eq(store_pending_due(st, now + 599, 10, &due, &n),
	    STORE_OK);
	ck_assert_uint_eq(n, 0);
	store_pending_list_free(due, n);
	ck_assert_int_eq(store_pending_confirm(st, pd.code, &u, now + 600, &p,
	    &search), STORE_NOTFOUND);
	ck_assert_int_eq(pendings_left(), 1);
	ck_assert_int_eq(store_purge(st, now + 3600) >= 0, 1);
	ck_assert_int_eq(pendings_left(), 1);
	ck_assert_int_eq(store_pending_due(st, now + 600, 10, &due, &n),
	    STORE_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(store_pending_drop(st, &due[0]), STORE_OK);
	store_pending_list_free(due, n);
	ck_assert_int_eq(store_purge(st, now + 3600) >= 0, 1);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM login_state"), 0);
	store_close(st);
}
END_TEST

/* Wrong codes count on every live pending row of their user only: 4
 * leave tries, the 5th voids (the row is due at once); a user with
 * nothing pending has no tries left and voids nothing. */
START_TEST(test_pending_miss_to_void)
{
	struct store_pending	 p, *due = NULL;
	struct store_search	 search;
	struct slack_user	 u = user("", "T1", "U1");
	struct slack_user	 them = user("", "T1", "U2");
	struct store		*st;
	struct pend		 pd, pd2;
	size_t			 n;
	int			 left, voided, i;
	time_t			 now = time(NULL);

	st = open_with(&key_a);
	pending_make(st, &u, "m", now, 0, 1, &pd);
	pending_make(st, &them, "m2", now, 0, 1, &pd2);
	for (i = 1; i < 5; i++) {
		ck_assert_int_eq(store_pending_miss(st, &u, now, 5, &left,
		    &voided), STORE_OK);
		ck_assert_int_eq(left, 5 - i);
		ck_assert_int_eq(voided, 0);
	}
	ck_assert_int_eq(store_pending_due(st, now, 10, &due, &n), STORE_OK);
	ck_assert_uint_eq(n, 0);
	store_pending_list_free(due, n);
	ck_assert_int_eq(store_pending_miss(st, &u, now, 5, &left, &voided),
	    STORE_OK);
	ck_assert_int_eq(left, 0);
	ck_assert_int_eq(voided, 1);
	/* Void: the right code takes nothing now. */
	ck_assert_int_eq(store_pending_confirm(st, pd.code, &u, now, &p,
	    &search), STORE_NOTFOUND);
	ck_assert_int_eq(store_pending_due(st, now, 10, &due, &n), STORE_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(due[0].who.user_id, "U1");
	store_pending_list_free(due, n);
	/* Nothing live for U1 any more. */
	ck_assert_int_eq(store_pending_miss(st, &u, now, 5, &left, &voided),
	    STORE_OK);
	ck_assert_int_eq(left, 0);
	ck_assert_int_eq(voided, 0);
	/* U2's login was not touched by U1's tries. */
	ck_assert_int_eq(raw_int("SELECT confirm_tries FROM login_state "
	    "WHERE user_id = 'U2'"), 0);
	ck_assert_int_eq(store_pending_confirm(st, pd2.code, &them, now, &p,
	    &search), STORE_OK);
	store_pending_free(&p);
	store_search_free(&search);
	store_close(st);
}
END_TEST

struct pending_racer {
	pthread_barrier_t	*bar;
	const unsigned char	*code;
	time_t			 now;
	enum store_result	 r;
	int			 got_link;
};

static void *
pending_racer_run(void *arg)
{
	struct pending_racer	*rc = arg;
	struct store_pending	 p;
	struct store_search	 search;
	struct slack_user	 u = user("", "T1", "U1");
	struct store		*st;

	st = store_open(db, &key_a);
	pthread_barrier_wait(rc->bar);
	rc->r = st != NULL ? store_pending_confirm(st, rc->code, &u, rc->now,
	    &p, &search) : STORE_ERROR;
	rc->got_link = rc->r == STORE_OK && p.link.refresh_token != NULL &&
	    strcmp(p.link.refresh_token, REFRESH1) == 0;
	if (rc->r == STORE_OK) {
		store_pending_free(&p);
		store_search_free(&search);
	}
	store_close(st);
	return NULL;
}

/* Of many confirms of one code at once, on their own connections,
 * exactly one takes the link. */
START_TEST(test_pending_confirm_once_race)
{
	struct pending_racer	 rc[RACERS];
	pthread_barrier_t	 bar;
	pthread_t		 t[RACERS];
	struct slack_user	 u = user("", "T1", "U1");
	struct store		*st;
	struct pend		 pd;
	time_t			 now = time(NULL);
	int			 i, ok;

	st = open_with(&key_a);
	pending_make(st, &u, "race", now, 1, 1, &pd);
	store_close(st);
	pthread_barrier_init(&bar, NULL, RACERS);
	for (i = 0; i < RACERS; i++) {
		rc[i] = (struct pending_racer){ &bar, pd.code, now,
		    STORE_ERROR, 0 };
		ck_assert_int_eq(pthread_create(&t[i], NULL,
		    pending_racer_run, &rc[i]), 0);
	}
	ok = 0;
	for (i = 0; i < RACERS; i++) {
		pthread_join(t[i], NULL);
		if (rc[i].r == STORE_OK) {
			ok++;
			ck_assert(rc[i].got_link);
		} else
			ck_assert_int_eq(rc[i].r, STORE_NOTFOUND);
	}
	pthread_barrier_destroy(&bar);
	ck_assert_int_eq(ok, 1);
	ck_assert_int_eq(pendings_left(), 0);
}
END_TEST

/* A pending link under a key this store does not hold: the confirm says
 * so (nothing taken), and the sweep skips it (it cannot be revoked by
 * us) instead of failing or dropping it. */
START_TEST(test_pending_fail_wrong_key)
{
	struct store_pending	 p, *due = NULL;
	struct store_search	 search;
	struct slack_user	 u = user("", "T1", "U1");
	struct store		*a, *b;
	struct pend		 pd;
	size_t			 n;
	time_t			 now = time(NULL);

	a = open_with(&key_a);
	pending_make(a, &u, "k", now, 0, 1, &pd);
	store_close(a);
	b = open_with(&key_b);
	ck_assert_int_eq(store_pending_confirm(b, pd.code, &u, now, &p,
	    &search), STORE_BADKEY);
	ck_assert_ptr_null(p.link.refresh_token);
	ck_assert_int_eq(pendings_left(), 1);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM login_state WHERE "
	    "confirm_hash IS NOT NULL"), 1);
	ck_assert_int_eq(store_pending_due(b, now + 600, 10, &due, &n),
	    STORE_OK);
	ck_assert_uint_eq(n, 0);
	store_pending_list_free(due, n);
	ck_assert_int_eq(pendings_left(), 1);
	store_close(b);
	/* The key that sealed it still takes it whole. */
	a = open_with(&key_a);
	ck_assert_int_eq(store_pending_confirm(a, pd.code, &u, now, &p,
	    &search), STORE_OK);
	ck_assert_str_eq(p.link.refresh_token, REFRESH1);
	store_pending_free(&p);
	store_search_free(&search);
	store_close(a);
}
END_TEST

/* A pending token moved to another row does not open there (the
 * associated data names the row): that row's confirm fails, its own is
 * untouched. */
START_TEST(test_pending_fail_moved_ciphertext)
{
	struct store_pending	 p;
	struct store_search	 search;
	struct slack_user	 u = user("", "T1", "U1");
	struct store		*st;
	struct pend		 p1, p2;
	time_t			 now = time(NULL);

	st = open_with(&key_a);
	pending_make(st, &u, "mv1", now, 0, 1, &p1);
	pending_make(st, &u, "mv2", now, 0, 1, &p2);
	raw_exec("UPDATE login_state SET pend_refresh_ct = (SELECT "
	    "pend_refresh_ct FROM login_state WHERE rowid = 1) "
	    "WHERE rowid = 2");
	ck_assert_int_ne(store_pending_confirm(st, p2.code, &u, now, &p,
	    &search), STORE_OK);
	ck_assert_ptr_null(p.link.refresh_token);
	ck_assert_int_eq(store_pending_confirm(st, p1.code, &u, now, &p,
	    &search), STORE_OK);
	store_pending_free(&p);
	store_search_free(&search);
	store_close(st);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("store");
	tu_db_init();

	tc = tcase_create("open");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_result_str);
	TU_ADD_SQLITE_ONLY(tc, test_open_mode_0600,
	    "the modes of the database file and its -wal and -shm files");
	tcase_add_test(tc, test_migrate_idempotent);
	tcase_add_test(tc, test_open_fail_newer_schema);
	TU_ADD_SQLITE_ONLY(tc, test_open_fail_not_a_database,
	    "a file that is not an SQLite database");
	tcase_add_test(tc, test_open_fail_bad_path);
	tcase_add_test(tc, test_open_concurrent_migrate);
	tcase_add_test(tc, test_links_view);
	suite_add_tcase(s, tc);

	tc = tcase_create("links");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_link_roundtrip);
	tcase_add_test(tc, test_link_fail_invalid_input);
	tcase_add_test(tc, test_relink_returns_old_refresh);
	tcase_add_test(tc, test_relink_old_refresh_unreadable);
	tcase_add_test(tc, test_update_tokens_cas);
	tcase_add_test(tc, test_link_delete);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile file");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_tampered, 0, NELEM(tamper_cases));
	tcase_add_loop_test(tc, test_flipped_byte, 0, NELEM(flip_cases));
	tcase_add_test(tc, test_wrong_key);
	tcase_add_test(tc, test_no_plaintext_on_disk);
	tcase_add_test(tc, test_no_reader_left_behind);
	suite_add_tcase(s, tc);

	tc = tcase_create("login states");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_nonce_once);
	tcase_add_test(tc, test_state_take);
	tcase_add_test(tc, test_state_burn);
	tcase_add_test(tc, test_state_take_fail_badkey);
	tcase_add_test(tc, test_state_take_race_threads);
	tcase_add_test(tc, test_state_take_race_processes);
	suite_add_tcase(s, tc);

	tc = tcase_create("remembered searches");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_search_roundtrip);
	tcase_add_test(tc, test_search_none_and_old_take);
	tcase_add_test(tc, test_search_expires_with_its_row);
	tcase_add_test(tc, test_search_taken_once_race);
	tcase_add_test(tc, test_search_fail_dropped_login_goes_on);
	tcase_add_test(tc, test_search_fail_invalid_input);
	tcase_add_test(tc, test_search_command);
	tcase_add_test(tc, test_search_no_plaintext_on_disk);
	tcase_add_test(tc, test_slack_hand_on);
	tcase_add_test(tc, test_slack_hand_on_fail_void);
	tcase_add_test(tc, test_slack_hand_on_void_refused);
	tcase_add_test(tc, test_pending_link_one_step);
	tcase_add_loop_test(tc, test_pending_link_fail_table, 0,
	    sizeof(plink_fail_cases) / sizeof(plink_fail_cases[0]));
	tcase_add_test(tc, test_pending_link_other_user);
	tcase_add_test(tc, test_migrate_from_1_keeps_logins);
	suite_add_tcase(s, tc);

	tc = tcase_create("replays");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_replay);
	tcase_add_test(tc, test_replay_purges_along_the_way);
	tcase_add_test(tc, test_purge);
	suite_add_tcase(s, tc);

	tc = tcase_create("installations");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_install_roundtrip);
	tcase_add_test(tc, test_install_fail_invalid_input);
	tcase_add_test(tc, test_install_find);
	tcase_add_test(tc, test_install_update_tokens_cas);
	tcase_add_loop_test(tc, test_install_tampered, 0,
	    NELEM(install_tamper));
	tcase_add_test(tc, test_install_wrong_key);
	tcase_add_test(tc, test_install_no_plaintext_on_disk);
	tcase_add_test(tc, test_installations_view);
	tcase_add_test(tc, test_install_state);
	tcase_add_test(tc, test_install_state_cap);
	suite_add_tcase(s, tc);

	tc = tcase_create("load");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_link_last_used);
	TU_ADD_SQLITE_ONLY(tc, test_wal_bounded_under_readers,
	    "the size of the WAL file under readers");
	TU_ADD_SQLITE_ONLY(tc, test_checkpoint_elsewhere,
	    "SQLite's checkpoints");
	suite_add_tcase(s, tc);

	tc = tcase_create("admin");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	TU_ADD_SQLITE_ONLY(tc, test_probe,
	    "store_probe() looks at SQLite files (missing, not a database, "
	    "the WAL kept) before they are opened");
	tcase_add_test(tc, test_list_links);
	tcase_add_test(tc, test_list_links_fail_malformed_row);
	tcase_add_test(tc, test_link_remove);
	tcase_add_test(tc, test_purge_counts);
	tcase_add_test(tc, test_stats);
	tcase_add_test(tc, test_key_sample);
	tcase_add_test(tc, test_integrity_check);
	TU_ADD_SQLITE_ONLY(tc, test_backup_restore,
	    "store_backup() and store_restore() copy SQLite files");
	TU_ADD_SQLITE_ONLY(tc, test_busy,
	    "SQLite's file locks and busy timeout");
	suite_add_tcase(s, tc);

	tc = tcase_create("integrations");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_integration_crud);
	tcase_add_test(tc, test_workspace_lookup_order);
	tcase_add_test(tc, test_integration_sealed);
	tcase_add_test(tc, test_itoken);
	tcase_add_test(tc, test_login_and_link_org);
	suite_add_tcase(s, tc);

	tc = tcase_create("pending links");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pending_put_and_confirm);
	tcase_add_loop_test(tc, test_pending_put_table, 0,
	    NELEM(pending_put_cases));
	tcase_add_loop_test(tc, test_pending_confirm_other_user, 0,
	    NELEM(pending_other_cases));
	tcase_add_test(tc, test_pending_expiry);
	tcase_add_test(tc, test_pending_miss_to_void);
	tcase_add_test(tc, test_pending_confirm_once_race);
	tcase_add_test(tc, test_pending_fail_wrong_key);
	tcase_add_test(tc, test_pending_fail_moved_ciphertext);
	suite_add_tcase(s, tc);

	return s;
}

#include "check_main.h"

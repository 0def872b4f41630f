/*
 * test_store_migrate: store_migrate() (store_migrate.c), a SQLite store
 * copied into a PostgreSQL database that this program's own server holds
 * (tests/pg/pgctl starts it in /tmp, on a unix socket, and stops it at
 * the end), as forcelink-admin migrate-store does.
 *
 * The source has a row in every table and a value in every column of
 * every table (each made through the store, or set with SQL where the
 * store's calls leave a column empty), so that a column the copy forgot,
 * or a byte it changed, shows: every row of the target must equal the
 * source's, column by column, as SQLite's own table_info lists them.
 * Then what the copy refuses and rolls back: a target that holds rows,
 * a value sealed under a key the target's keyring lacks, an altered one,
 * a source written between the copy and the commit; --dry-run's
 * rollback; and a SQLite target (the copy assumes neither engine).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "crypto.h"
#include "keyring.h"
#include "store.h"
#include "testutil.h"
#include "tu_pgserver.h"

static const char *const tables[STORE_MIGRATE_TABLES] = {
	"sf_link", "login_state", "slack_replay", "slack_install",
	"slack_install_state", "sf_integration", "workspace_integration",
	"integration_token", "slack_action"
};

/* This test's target database, its source file and the keys. */
static char		 dbname[64];
static char		 uri[600];
static char		 sqdir[64], sqpath[96];
static struct crypto_key key_a, key_b;

/* The program's server, started once (unchecked fixture; tu_pgserver.h). */
static void
server_start(void)
{
	tu_pg_start("/tmp/fl-umg.XXXXXX");
}

/* Rows of every forcelink table of the target, added up. */
static long long
target_rows(void)
{
	PGconn		*c = raw_connect(uri);
	PGresult	*r;
	char		 sql[128];
	long long	 n = 0;
	size_t		 i;

	for (i = 0; i < STORE_MIGRATE_TABLES; i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s",
		    tables[i]);
		r = PQexec(c, sql);
		ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s",
		    sql, PQresultErrorMessage(r));
		n += strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
	}
	PQfinish(c);
	return n;
}

/* Runs sql on the source file. */
static void
sq_exec(const char *sql)
{
	sqlite3	*db;
	char	*err = NULL;

	ck_assert_int_eq(sqlite3_open(sqpath, &db), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK,
	    "%s: %s", sql, err != NULL ? err : "");
	sqlite3_close(db);
}

static void
setup(void)
{
	static int	 n;
	char		 sql[128];
	PGconn		*c;

	snprintf(dbname, sizeof(dbname), "m_%ld_%d", (long)getpid(), n++);
	c = raw_connect(baseuri);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", dbname);
	raw_exec(c, sql);
	PQfinish(c);
	ck_assert_ptr_nonnull(strchr(baseuri, '?'));
	/* Under valgrind a SCRAM exchange alone takes seconds: the URI's
	 * connect_timeout overrides the store's 2 s there (as in
	 * test_store_pg). */
	snprintf(uri, sizeof(uri), "postgresql:///%s%s%s", dbname,
	    strchr(baseuri, '?'), tu_timed() ? "" : "&connect_timeout=60");
	/* In memory where there is such a file system: the source is
	 * written link by link, each with its fsync. */
	snprintf(sqdir, sizeof(sqdir), "%s/fl-umg-sq.XXXXXX",
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(sqdir));
	snprintf(sqpath, sizeof(sqpath), "%s/forcelink.db", sqdir);
	tu_key_random(&key_a);
	tu_key_random(&key_b);
	setenv("FORCELINK_DB_PASSWORD_FILE", pwfile, 1);
}

static void
teardown(void)
{
	char	 sql[160];
	PGconn	*c;

	c = PQconnectdb(baseuri);
	if (PQstatus(c) == CONNECTION_OK) {
		snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s "
		    "WITH (FORCE)", dbname);
		PQclear(PQexec(c, sql));
	}
	PQfinish(c);
	snprintf(sql, sizeof(sql), "rm -rf %s", sqdir);
	(void)system(sql);
}

static void
who_of(struct slack_user *who, const char *team, const char *user)
{
	memset(who, 0, sizeof(*who));
	snprintf(who->team_id, sizeof(who->team_id), "%s", team);
	snprintf(who->user_id, sizeof(who->user_id), "%s", user);
}

static void
link_of(struct store_link *l, char *acc, char *ref, const char *tag)
{
	memset(l, 0, sizeof(*l));
	snprintf(acc, 64, "00D5g0000001!AQ.%s", tag);
	snprintf(ref, 64, "5Aep861.%s", tag);
	l->org = "";
	l->sf_user_id = "0055g00000AAAAAAAA";
	l->sf_org_id = "00D5g0000001AAAAAA";
	l->sf_username = "alice@example.com";
	l->instance_url = "https://acme.my.salesforce.com";
	l->access_token = acc;
	l->refresh_token = ref;
}

static void
hash_of(unsigned char h[CRYPTO_HASHLEN], const char *s)
{
	crypto_sha256(s, h);
}

/* A link of team/user under the store's current key. */
static void
put_link(struct store *st, const char *team, const char *user,
    const char *tag)
{
	struct slack_user	 who;
	struct store_link	 l;
	char			 acc[64], ref[64];

	who_of(&who, team, user);
	link_of(&l, acc, ref, tag);
	ck_assert_int_eq(store_link_put(st, &who, &l, NULL), STORE_OK);
}

/*
 * The source: a row in every table and, over the rows of each table, a
 * value in every column.  Sealed under key_a.
 */
static void
populate(void)
{
	unsigned char		 n1[CRYPTO_HASHLEN], n2[CRYPTO_HASHLEN];
	unsigned char		 n3[CRYPTO_HASHLEN], s2[CRYPTO_HASHLEN];
	unsigned char		 s3[CRYPTO_HASHLEN], c2[CRYPTO_HASHLEN];
	unsigned char		 code[CRYPTO_HASHLEN], sig[CRYPTO_HASHLEN];
	struct slack_user	 who, got;
	struct store_search	 search;
	struct store_install	 in;
	struct store_itoken	 it;
	struct store_link	 l;
	struct sf_org		 org;
	struct store		*st;
	time_t			 now = time(NULL);
	char			 acc[64], ref[64], *v = NULL;
	char			 akey[STORE_ACTION_KEY_LEN + 1];
	long			 dropped;

	ck_assert_ptr_nonnull(st = store_open(sqpath, &key_a));
	/* Links; one used, one of integration "a". */
	put_link(st, "T1", "U1", "one");
	put_link(st, "T1", "U2", "two");
	who_of(&who, "T1", "U1");
	ck_assert_int_eq(store_link_touch(st, &who), STORE_OK);
	/* Login states: a search waiting, a started login (verifier), and
	 * a pending link (its search taken with the state). */
	hash_of(n1, "nonce1");
	hash_of(n2, "nonce2");
	hash_of(n3, "nonce3");
	hash_of(s2, "state2");
	hash_of(s3, "state3");
	hash_of(c2, "cookie2");
	hash_of(code, "code3");
	search.text = "acme corp";
	search.response_url = "https://hooks.slack.com/commands/T1/1/x";
	search.created_at = 0;
	search.command = "/account";
	who_of(&who, "T1", "U3");
	ck_assert_int_eq(store_nonce_add_search(st, &who, n1, now + 600,
	    &search), STORE_OK);
	ck_assert_int_eq(store_nonce_add(st, &who, n2, now + 600), STORE_OK);
	ck_assert_int_eq(store_nonce_start(st, n2, now, s2, c2,
	    "verifier-of-state-2-0123456789abcdef0123456789", now + 600,
	    &got), STORE_OK);
	ck_assert_int_eq(store_nonce_add(st, &who, n3, now + 600), STORE_OK);
	ck_assert_int_eq(store_nonce_start(st, n3, now, s3, c2,
	    "verifier-of-state-3-0123456789abcdef0123456789", now + 600,
	    &got), STORE_OK);
	ck_assert_int_eq(store_state_take(st, s3, c2, now, &got, &v),
	    STORE_OK);
	crypto_free_secret(v);
	link_of(&l, acc, ref, "pending");
	ck_assert_int_eq(store_pending_put(st, s3, &l, code, now + 600),
	    STORE_OK);
	/* A replay. */
	hash_of(sig, "sig");
	ck_assert_int_eq(store_replay_add(st, sig, now, now + 300), STORE_OK);
	/* An installation with token rotation, and an install state. */
	memset(&in, 0, sizeof(in));
	snprintf(in.enterprise_id, sizeof(in.enterprise_id), "E1");
	snprintf(in.team_id, sizeof(in.team_id), "T1");
	in.app_id = "A1";
	in.team_name = "Acme";
	in.enterprise_name = "Acme Grid";
	in.bot_user_id = "U0BOT";
	in.bot_id = "B0BOT";
	in.scopes = "commands,chat:write";
	in.installer_user_id = "U1";
	in.bot_token = "xoxe.xoxb-1-bot";
	in.refresh_token = "xoxe-1-refresh";
	in.expires_at = now + 43200;
	ck_assert_int_eq(store_install_put(st, &in), STORE_OK);
	ck_assert_int_eq(store_install_state_take(st, s2, c2, now, now + 600,
	    now, 100, &dropped), STORE_OK);
	/* An integration in integration-user mode, a workspace mapped to
	 * it, its token, and a link of it. */
	memset(&org, 0, sizeof(org));
	org.name = "a";
	org.login_url = "https://a.my.salesforce.com";
	org.client_id = "3MVG9client";
	org.client_secret = "consumer-secret-a";
	org.api_version = "v62.0";
	org.integration_user = 1;
	ck_assert_int_eq(store_integration_add(st, &org), STORE_OK);
	ck_assert_int_eq(store_workspace_set(st, 0, "T2", "a", NULL),
	    STORE_OK);
	memset(&it, 0, sizeof(it));
	it.sf_user_id = "0055g00000RUNASAA";
	it.sf_org_id = "00D5g0000002AAAAAA";
	it.sf_username = "runas@a.example";
	it.instance_url = "https://a.my.salesforce.com";
	it.access_token = "00D5g0000002!AQ.runas";
	ck_assert_int_eq(store_itoken_put(st, "a", &it, 0), STORE_OK);
	/* Action rows: a Case form bound to its view and stepped, and a
	 * card to share. */
	ck_assert_int_eq(store_action_put(st, &who, STORE_ACTION_CASE,
	    "{\"subject\":\"migrated\"}", now + 600, akey), STORE_OK);
	ck_assert_int_eq(store_action_view(st, &who, akey, "V0MIG", now),
	    STORE_OK);
	ck_assert_int_eq(store_action_step(st, &who, akey, 0, 2, NULL, now),
	    STORE_OK);
	ck_assert_int_eq(store_action_put(st, &who, STORE_ACTION_SHARE,
	    "{\"card\":1}", now + 600, akey), STORE_OK);
	store_close(st);
	/* Columns no call above sets: their values are not in any
	 * associated data, so the sealed values still open. */
	sq_exec("UPDATE login_state SET team_domain = 'acme', "
	    "user_name = 'carol', org = 'a', leg = 'salesforce', "
	    "used_at = coalesce(used_at, 5) WHERE nonce_hash IS NOT NULL; "
	    "UPDATE sf_link SET org = 'a' WHERE user_id = 'U2'; "
	    "UPDATE slack_install SET needs_reinstall = 1;");
}

/* Whether every column of every table of the source holds a value in
 * some row.  Fails the test naming the first that does not. */
static void
source_full(void)
{
	sqlite3		*db;
	sqlite3_stmt	*cols, *q;
	char		 sql[256];
	size_t		 i;

	ck_assert_int_eq(sqlite3_open(sqpath, &db), SQLITE_OK);
	for (i = 0; i < STORE_MIGRATE_TABLES; i++) {
		snprintf(sql, sizeof(sql), "SELECT name FROM "
		    "pragma_table_info('%s')", tables[i]);
		ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &cols, NULL),
		    SQLITE_OK);
		while (sqlite3_step(cols) == SQLITE_ROW) {
			snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s "
			    "WHERE %s IS NOT NULL", tables[i],
			    sqlite3_column_text(cols, 0));
			ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &q,
			    NULL), SQLITE_OK);
			ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
			ck_assert_msg(sqlite3_column_int(q, 0) > 0,
			    "%s.%s is empty in every row of the source",
			    tables[i], sqlite3_column_text(cols, 0));
			sqlite3_finalize(q);
		}
		sqlite3_finalize(cols);
	}
	sqlite3_close(db);
}

/* One row rendered as text, each column tagged with its kind (N null,
 * i integer, t text, b blob in hex) and ended by a record separator. */
static void
row_add(char *buf, size_t bufsz, char kind, const char *v)
{
	size_t	 n = strlen(buf);

	snprintf(buf + n, bufsz - n, "%c:%s\x1e", kind, v);
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

#define ROWS_MAX	64
#define ROW_LEN		8192

/*
 * Every row of table t in the source (columns as SQLite lists them) and
 * in the target (the same columns by name), rendered and sorted, must be
 * equal.  Returns the number of rows.
 */
static int
table_equal(sqlite3 *db, PGconn *c, const char *t)
{
	static const char	 hex[] = "0123456789abcdef";
	sqlite3_stmt		*s;
	PGresult		*r;
	char			 sql[2048], cols[1536], v[4096];
	char			*a[ROWS_MAX], *b[ROWS_MAX];
	const unsigned char	*p;
	int			 na = 0, nb, i, j, k, n;
	Oid			 ty;

	cols[0] = '\0';
	snprintf(sql, sizeof(sql), "SELECT group_concat(name, ', ') FROM "
	    "pragma_table_info('%s')", t);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	snprintf(cols, sizeof(cols), "%s", sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	snprintf(sql, sizeof(sql), "SELECT %s FROM %s", cols, t);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		ck_assert_int_lt(na, ROWS_MAX);
		ck_assert_ptr_nonnull(a[na] = calloc(1, ROW_LEN));
		for (i = 0; i < sqlite3_column_count(s); i++) {
			switch (sqlite3_column_type(s, i)) {
			case SQLITE_NULL:
				row_add(a[na], ROW_LEN, 'N', "");
				break;
			case SQLITE_INTEGER:
				snprintf(v, sizeof(v), "%lld",
				    sqlite3_column_int64(s, i));
				row_add(a[na], ROW_LEN, 'i', v);
				break;
			case SQLITE_BLOB:
				p = sqlite3_column_blob(s, i);
				n = sqlite3_column_bytes(s, i);
				ck_assert_int_lt(2 * n, (int)sizeof(v));
				for (k = 0; k < n; k++) {
					v[2 * k] = hex[p[k] >> 4];
					v[2 * k + 1] = hex[p[k] & 0xf];
				}
				v[2 * n] = '\0';
				row_add(a[na], ROW_LEN, 'b', v);
				break;
			default:
				row_add(a[na], ROW_LEN, 't',
				    (const char *)sqlite3_column_text(s, i));
				break;
			}
		}
		na++;
	}
	sqlite3_finalize(s);
	r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
	    PQresultErrorMessage(r));
	nb = PQntuples(r);
	ck_assert_int_eq(nb, na);
	for (j = 0; j < nb; j++) {
		ck_assert_ptr_nonnull(b[j] = calloc(1, ROW_LEN));
		for (i = 0; i < PQnfields(r); i++) {
			ty = PQftype(r, i);
			if (PQgetisnull(r, j, i))
				row_add(b[j], ROW_LEN, 'N', "");
			else if (ty == 17)	/* bytea: \x and hex */
				row_add(b[j], ROW_LEN, 'b',
				    PQgetvalue(r, j, i) + 2);
			else if (ty == 20 || ty == 21 || ty == 23)
				row_add(b[j], ROW_LEN, 'i',
				    PQgetvalue(r, j, i));
			else
				row_add(b[j], ROW_LEN, 't',
				    PQgetvalue(r, j, i));
		}
	}
	PQclear(r);
	qsort(a, (size_t)na, sizeof(a[0]), str_cmp);
	qsort(b, (size_t)nb, sizeof(b[0]), str_cmp);
	for (j = 0; j < na; j++) {
		ck_assert_msg(strcmp(a[j], b[j]) == 0, "%s differs:\n%s\n%s",
		    t, a[j], b[j]);
		free(a[j]);
		free(b[j]);
	}
	return na;
}

/* The report's figures of table t. */
static const struct store_migrate_table *
rep_table(const struct store_migrate_report *rep, const char *t)
{
	size_t	 i;

	for (i = 0; i < STORE_MIGRATE_TABLES; i++)
		if (strcmp(rep->t[i].name, t) == 0)
			return &rep->t[i];
	ck_abort_msg("no table %s in the report", t);
	return NULL;
}

/* --- Every row, every column ------------------------------------------- */

START_TEST(test_copies_every_column)
{
	struct store_migrate_report	 rep;
	struct store_link		 got;
	struct store_itoken		 it;
	struct store_install		 in;
	struct slack_user		 who;
	struct sf_org			 org;
	struct keyring			*kr;
	struct store			*src, *dst;
	sqlite3				*db;
	PGconn				*c;
	size_t				 i;
	int64_t				 sealed = 0, opened = 0;
	int				 n;

	populate();
	source_full();
	ck_assert_ptr_nonnull(kr = keyring_from_keys(&key_a, 1));
	ck_assert_ptr_nonnull(src = store_open_readonly(sqpath, kr));
	ck_assert_ptr_nonnull(dst = store_open(uri, &key_a));
	ck_assert_int_eq(store_migrate(src, dst, 1, NULL, NULL, &rep), STORE_OK);
	ck_assert_int_eq(rep.committed, 1);
	ck_assert_int_eq(rep.nbad, 0);
	for (i = 0; i < STORE_MIGRATE_TABLES; i++) {
		ck_assert_str_eq(rep.t[i].name, tables[i]);
		ck_assert_int_gt(rep.t[i].source, 0);
		ck_assert_int_eq(rep.t[i].copied, rep.t[i].source);
		ck_assert_int_eq(rep.t[i].target, rep.t[i].source);
		ck_assert_int_eq(rep.t[i].opened, rep.t[i].sealed);
		sealed += rep.t[i].sealed;
		opened += rep.t[i].opened;
	}
	/* Two links (4 tokens), a verifier, a search (2) and a pending link
	 * (2), an installation (2), a secret, an integration token. */
	ck_assert_int_eq(rep_table(&rep, "sf_link")->sealed, 4);
	ck_assert_int_eq(rep_table(&rep, "login_state")->sealed, 5);
	ck_assert_int_eq(rep_table(&rep, "slack_install")->sealed, 2);
	ck_assert_int_eq(rep_table(&rep, "sf_integration")->sealed, 1);
	ck_assert_int_eq(rep_table(&rep, "integration_token")->sealed, 1);
	ck_assert_int_eq(rep_table(&rep, "slack_action")->sealed, 2);
	ck_assert_int_eq(sealed, 15);
	ck_assert_int_eq(opened, 15);
	/* Byte for byte, every column. */
	ck_assert_int_eq(sqlite3_open(sqpath, &db), SQLITE_OK);
	c = raw_connect(uri);
	for (i = 0; i < STORE_MIGRATE_TABLES; i++) {
		n = table_equal(db, c, tables[i]);
		ck_assert_int_eq(n, rep.t[i].source);
	}
	/* The identity numbers the rows in the source's order. */
	{
		PGresult *r = PQexec(c, "SELECT user_id FROM sf_link "
		    "ORDER BY rowid");
		ck_assert_int_eq(PQntuples(r), 2);
		ck_assert_str_eq(PQgetvalue(r, 0, 0), "U1");
		ck_assert_str_eq(PQgetvalue(r, 1, 0), "U2");
		PQclear(r);
	}
	PQfinish(c);
	sqlite3_close(db);
	/* And the store on PostgreSQL reads them as it wrote them. */
	who_of(&who, "T1", "U2");
	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(store_link_get(dst, &who, &got), STORE_OK);
	ck_assert_str_eq(got.refresh_token, "5Aep861.two");
	ck_assert_str_eq(got.org, "a");
	store_link_free(&got);
	memset(&in, 0, sizeof(in));
	ck_assert_int_eq(store_install_get(dst, "E1", "T1", &in), STORE_OK);
	ck_assert_str_eq(in.refresh_token, "xoxe-1-refresh");
	store_install_free(&in);
	memset(&org, 0, sizeof(org));
	ck_assert_int_eq(store_integration_get(dst, "a", &org), STORE_OK);
	ck_assert_str_eq(org.client_secret, "consumer-secret-a");
	config_sf_org_free(&org);
	memset(&it, 0, sizeof(it));
	ck_assert_int_eq(store_itoken_get(dst, "a", &it), STORE_OK);
	ck_assert_str_eq(it.access_token, "00D5g0000002!AQ.runas");
	store_itoken_free(&it);
	/* A new link on the target gets the next rowid. */
	put_link(dst, "T1", "U9", "new");
	store_close(dst);
	store_close(src);
	keyring_free(kr);
}
END_TEST

/* --- What is refused and rolled back ------------------------------------ */

START_TEST(test_dry_run_rolls_back)
{
	struct store_migrate_report	 rep;
	struct store			*src, *dst;

	populate();
	ck_assert_ptr_nonnull(src = store_open(sqpath, &key_a));
	ck_assert_ptr_nonnull(dst = store_open(uri, &key_a));
	ck_assert_int_eq(store_migrate(src, dst, 0, NULL, NULL, &rep), STORE_OK);
	ck_assert_int_eq(rep.committed, 0);
	ck_assert_int_eq(rep_table(&rep, "sf_link")->target, 2);
	ck_assert_int_eq(rep_table(&rep, "sf_link")->opened, 4);
	ck_assert_int_eq(target_rows(), 0);
	/* The rehearsal leaves the target as empty as it found it. */
	ck_assert_int_eq(store_migrate(src, dst, 1, NULL, NULL, &rep), STORE_OK);
	ck_assert_int_eq(rep.committed, 1);
	ck_assert_int_gt(target_rows(), 8);
	store_close(dst);
	store_close(src);
}
END_TEST

START_TEST(test_target_with_rows_refused)
{
	struct store_migrate_report	 rep;
	struct store			*src, *dst;
	unsigned char			 sig[CRYPTO_HASHLEN];

	populate();
	ck_assert_ptr_nonnull(src = store_open(sqpath, &key_a));
	ck_assert_ptr_nonnull(dst = store_open(uri, &key_a));
	/* One row anywhere is one too many: a replay entry of a target
	 * that served a request. */
	hash_of(sig, "elsewhere");
	ck_assert_int_eq(store_replay_add(dst, sig, time(NULL),
	    time(NULL) + 300), STORE_OK);
	ck_assert_int_eq(store_migrate(src, dst, 1, NULL, NULL, &rep), STORE_EXISTS);
	ck_assert_str_eq(rep.nonempty, "slack_replay");
	ck_assert_int_eq(rep.nonempty_rows, 1);
	ck_assert_int_eq(rep.committed, 0);
	ck_assert_int_eq(target_rows(), 1);
	store_close(dst);
	store_close(src);
}
END_TEST

/* A link sealed under a key the target's keyring lacks: the failure
 * names the table, the columns and the key id, and nothing stays. */
START_TEST(test_unknown_key_rolls_back)
{
	struct store_migrate_report	 rep;
	struct store			*src, *dst;
	size_t				 i;
	int				 seen = 0;

	populate();
	ck_assert_ptr_nonnull(src = store_open(sqpath, &key_b));
	put_link(src, "T3", "U1", "under-b");
	store_close(src);
	ck_assert_ptr_nonnull(src = store_open(sqpath, &key_a));
	ck_assert_ptr_nonnull(dst = store_open(uri, &key_a));
	ck_assert_int_eq(store_migrate(src, dst, 1, NULL, NULL, &rep), STORE_BADKEY);
	ck_assert_int_eq(rep.committed, 0);
	ck_assert_int_eq(rep.nbad_values, 2);
	ck_assert_int_eq(rep.nbad, 2);
	for (i = 0; i < rep.nbad; i++) {
		ck_assert_str_eq(rep.bad[i].table, "sf_link");
		ck_assert_str_eq(rep.bad[i].key_id, key_b.id);
		ck_assert_int_eq(rep.bad[i].key_missing, 1);
		ck_assert_int_eq(rep.bad[i].values, 1);
		seen |= strcmp(rep.bad[i].column, "access_token_ct") == 0 ?
		    1 : strcmp(rep.bad[i].column, "refresh_token_ct") == 0 ?
		    2 : 4;
	}
	ck_assert_int_eq(seen, 3);
	ck_assert_int_eq(rep_table(&rep, "sf_link")->opened, 4);
	ck_assert_int_eq(target_rows(), 0);
	store_close(dst);
	/* With both keys, the same copy goes through. */
	{
		struct crypto_key	 both[2];
		struct keyring		*kr;

		both[0] = key_a;
		both[1] = key_b;
		ck_assert_ptr_nonnull(kr = keyring_from_keys(both, 2));
		ck_assert_ptr_nonnull(dst = store_open_keyring(uri, kr));
		ck_assert_int_eq(store_migrate(src, dst, 1, NULL, NULL, &rep), STORE_OK);
		ck_assert_int_eq(rep_table(&rep, "sf_link")->opened, 6);
		store_close(dst);
		keyring_free(kr);
	}
	store_close(src);
}
END_TEST

/* A ciphertext altered in the source (or moved to another row) is
 * reported as not opening under a key that is held. */
START_TEST(test_altered_value_rolls_back)
{
	struct store_migrate_report	 rep;
	struct store			*src, *dst;

	populate();
	/* The integration user's token where the consumer secret was:
	 * a value moved to another column. */
	sq_exec("UPDATE sf_integration SET client_secret_ct = "
	    "(SELECT access_token_ct FROM integration_token)");
	ck_assert_ptr_nonnull(src = store_open(sqpath, &key_a));
	ck_assert_ptr_nonnull(dst = store_open(uri, &key_a));
	ck_assert_int_eq(store_migrate(src, dst, 1, NULL, NULL, &rep), STORE_BADKEY);
	ck_assert_int_eq(rep.nbad, 1);
	ck_assert_str_eq(rep.bad[0].table, "sf_integration");
	ck_assert_str_eq(rep.bad[0].column, "client_secret_ct");
	ck_assert_str_eq(rep.bad[0].key_id, key_a.id);
	ck_assert_int_eq(rep.bad[0].key_missing, 0);
	ck_assert_int_eq(target_rows(), 0);
	store_close(dst);
	store_close(src);
}
END_TEST

/* So is an action row's data moved to another action row: its
 * associated data names its own row. */
START_TEST(test_moved_action_rolls_back)
{
	struct store_migrate_report	 rep;
	struct store			*src, *dst;

	populate();
	sq_exec("UPDATE slack_action SET data_ct = (SELECT data_ct FROM "
	    "slack_action WHERE kind = 3) WHERE kind = 1");
	ck_assert_ptr_nonnull(src = store_open(sqpath, &key_a));
	ck_assert_ptr_nonnull(dst = store_open(uri, &key_a));
	ck_assert_int_eq(store_migrate(src, dst, 1, NULL, NULL, &rep),
	    STORE_BADKEY);
	ck_assert_int_eq(rep.nbad, 1);
	ck_assert_int_eq(rep.nbad_values, 1);
	ck_assert_str_eq(rep.bad[0].table, "slack_action");
	ck_assert_str_eq(rep.bad[0].column, "data_ct");
	ck_assert_str_eq(rep.bad[0].key_id, key_a.id);
	ck_assert_int_eq(rep.bad[0].key_missing, 0);
	ck_assert_int_eq(rep_table(&rep, "slack_action")->opened, 1);
	ck_assert_int_eq(target_rows(), 0);
	store_close(dst);
	store_close(src);
}
END_TEST

/* store_migrate assumes neither engine: into a SQLite file, through the
 * same statements in SQLite's dialect. */
START_TEST(test_sqlite_target)
{
	struct store_migrate_report	 rep;
	struct store_link		 got;
	struct slack_user		 who;
	struct store			*src, *dst;
	char				 path[128];
	size_t				 i;

	populate();
	snprintf(path, sizeof(path), "%s/target.db", sqdir);
	ck_assert_ptr_nonnull(src = store_open(sqpath, &key_a));
	ck_assert_ptr_nonnull(dst = store_open(path, &key_a));
	ck_assert_int_eq(store_migrate(src, dst, 1, NULL, NULL, &rep),
	    STORE_OK);
	for (i = 0; i < STORE_MIGRATE_TABLES; i++) {
		ck_assert_int_gt(rep.t[i].target, 0);
		ck_assert_int_eq(rep.t[i].target, rep.t[i].source);
		ck_assert_int_eq(rep.t[i].opened, rep.t[i].sealed);
	}
	who_of(&who, "T1", "U1");
	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(store_link_get(dst, &who, &got), STORE_OK);
	ck_assert_str_eq(got.access_token, "00D5g0000001!AQ.one");
	ck_assert_int_gt(got.last_used_at, 0);
	store_link_free(&got);
	/* And a second time into it: it holds rows now. */
	ck_assert_int_eq(store_migrate(src, dst, 1, NULL, NULL, &rep),
	    STORE_EXISTS);
	ck_assert_str_eq(rep.nonempty, "sf_link");
	store_close(dst);
	store_close(src);
}
END_TEST

/* What forcelink-admin asks before the commit: whether the live file
 * is unchanged since the snapshot, by its data version. */
struct watch {
	struct store	*live, *writer;
	int64_t		 v0;
	int		 write, asked;
};

static int
unchanged(void *arg)
{
	struct watch	*w = arg;
	int64_t		 v;

	w->asked++;
	if (w->write)
		put_link(w->writer, "T4", "U1", "late");
	ck_assert_int_eq(store_data_version(w->live, &v), 0);
	return v == w->v0;
}

START_TEST(test_source_written_meanwhile_rolls_back)
{
	struct store_migrate_report	 rep;
	struct store			*src, *dst;
	struct watch			 w;

	populate();
	memset(&w, 0, sizeof(w));
	ck_assert_ptr_nonnull(w.live = store_open(sqpath, &key_a));
	ck_assert_ptr_nonnull(w.writer = store_open(sqpath, &key_a));
	ck_assert_int_eq(store_data_version(w.live, &w.v0), 0);
	ck_assert_ptr_nonnull(src = store_open(sqpath, &key_a));
	ck_assert_ptr_nonnull(dst = store_open(uri, &key_a));
	/* A link made between the copy and the commit would be lost. */
	w.write = 1;
	ck_assert_int_eq(store_migrate(src, dst, 1, unchanged, &w, &rep),
	    STORE_CONFLICT);
	ck_assert_int_eq(w.asked, 1);
	ck_assert_int_eq(rep.source_changed, 1);
	ck_assert_int_eq(rep.committed, 0);
	ck_assert_int_eq(target_rows(), 0);
	/* Not asked for a rehearsal, which commits nothing anyway. */
	ck_assert_int_eq(store_migrate(src, dst, 0, unchanged, &w, &rep),
	    STORE_OK);
	ck_assert_int_eq(w.asked, 1);
	/* Nothing written since: committed. */
	w.write = 0;
	ck_assert_int_eq(store_data_version(w.live, &w.v0), 0);
	ck_assert_int_eq(store_migrate(src, dst, 1, unchanged, &w, &rep),
	    STORE_OK);
	ck_assert_int_eq(w.asked, 2);
	ck_assert_int_eq(rep.committed, 1);
	ck_assert_int_eq(rep_table(&rep, "sf_link")->target, 3);
	/* PostgreSQL has no data version. */
	ck_assert_int_eq(store_data_version(dst, &w.v0), -1);
	store_close(dst);
	store_close(src);
	store_close(w.writer);
	store_close(w.live);
}
END_TEST

/* The check reads the target a page at a time (1000 rows): login states
 * without a sealed value fill the first page, and the sealed ones of
 * populate() come after them, on the second. */
START_TEST(test_pages)
{
	struct store_migrate_report	 rep;
	struct store			*src, *dst;
	char				 sql[512];

	ck_assert_ptr_nonnull(src = store_open(sqpath, &key_a));
	store_close(src);
	snprintf(sql, sizeof(sql), "INSERT INTO login_state (nonce_hash, "
	    "team_id, user_id, created_at, expires_at) "
	    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
	    "WHERE i < 1000) SELECT randomblob(32), 'T9', 'U' || i, 0, %lld "
	    "FROM n", (long long)time(NULL) + 3600);
	sq_exec(sql);
	populate();
	ck_assert_ptr_nonnull(src = store_open(sqpath, &key_a));
	ck_assert_ptr_nonnull(dst = store_open(uri, &key_a));
	ck_assert_int_eq(store_migrate(src, dst, 1, NULL, NULL, &rep),
	    STORE_OK);
	ck_assert_int_eq(rep_table(&rep, "login_state")->copied, 1003);
	ck_assert_int_eq(rep_table(&rep, "login_state")->sealed, 5);
	ck_assert_int_eq(rep_table(&rep, "login_state")->opened, 5);
	store_close(dst);
	store_close(src);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("store_migrate");
	TCase	*tc;

	tc = tcase_create("migrate");
	tcase_add_unchecked_fixture(tc, server_start, server_stop);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_copies_every_column);
	tcase_add_test(tc, test_dry_run_rolls_back);
	tcase_add_test(tc, test_target_with_rows_refused);
	tcase_add_test(tc, test_unknown_key_rolls_back);
	tcase_add_test(tc, test_altered_value_rolls_back);
	tcase_add_test(tc, test_moved_action_rolls_back);
	tcase_add_test(tc, test_source_written_meanwhile_rolls_back);
	tcase_add_test(tc, test_sqlite_target);
	tcase_add_test(tc, test_pages);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

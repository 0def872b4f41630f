/*
 * test_store_pg: what the PostgreSQL engine of the store adds to the
 * store's behaviour (store_pg.c), against a real server that this program
 * starts itself with tests/pg/pgctl (a throwaway cluster in /tmp, on a
 * unix socket) and stops at the end.  Each test gets a database of its
 * own.
 *
 * The store's behaviour common to both engines (links, login states,
 * replays, installations, integrations, rotation) is test_store's,
 * test_rekey's and test_session's, which scripts/test runs on both.
 * Here: the choice of engine, passwords (never in the URI, from the
 * password file), migrations (applied once, a newer schema refused, two
 * hosts starting together), the writers' lock and the named locks across
 * connections, the timeouts that keep a stuck server from holding a
 * request past Slack's 3 seconds, reconnecting after a server restart,
 * and a sealed value moving between the engines unchanged.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "crypto.h"
#include "fiber.h"
#include "keyring.h"
#include "store.h"
#include "testutil.h"
#include "tu_pgserver.h"

/* This test's database and the key its store uses. */
static char		 dbname[64];
static char		 uri[600];
static struct crypto_key key_a;

/* The program's server, started once (unchecked fixture; tu_pgserver.h). */
static void
server_start(void)
{
	tu_pg_start("/tmp/fl-upg.XXXXXX");
}

/* The one value sql returns on this test's database, as an integer. */
static long long
raw_int(const char *sql)
{
	PGconn		*c = raw_connect(uri);
	PGresult	*r;
	long long	 v;

	r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK &&
	    PQntuples(r) == 1, "%s: %s", sql, PQresultErrorMessage(r));
	v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	PQfinish(c);
	return v;
}

/* The URI of database name on the server. */
static void
uri_of(char *out, size_t outsz, const char *name)
{
	const char	*q;

	/* baseuri is postgresql:///forcelink?host=...&user=forcelink.
	 * Under valgrind a SCRAM exchange alone takes seconds: the URI's
	 * connect_timeout overrides the store's 2 s there. */
	q = strchr(baseuri, '?');
	ck_assert_ptr_nonnull(q);
	snprintf(out, outsz, "postgresql:///%s%s%s", name, q,
	    tu_timed() ? "" : "&connect_timeout=60");
}

/* A fresh database for the test, and its URI in uri. */
static void
setup(void)
{
	static int	 n;
	char		 sql[128];
	PGconn		*c;

	snprintf(dbname, sizeof(dbname), "t_%ld_%d", (long)getpid(), n++);
	c = raw_connect(baseuri);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", dbname);
	raw_exec(c, sql);
	PQfinish(c);
	uri_of(uri, sizeof(uri), dbname);
	tu_key_random(&key_a);
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
}

static void
who_of(struct slack_user *who, const char *team, const char *user)
{
	memset(who, 0, sizeof(*who));
	snprintf(who->team_id, sizeof(who->team_id), "%s", team);
	snprintf(who->user_id, sizeof(who->user_id), "%s", user);
}

/* A link with tokens made from tag. */
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

/* Stores a link for who and checks it reads back. */
static void
put_get(struct store *st, const struct slack_user *who, const char *tag)
{
	struct store_link	 l, got;
	char			 acc[64], ref[64];

	link_of(&l, acc, ref, tag);
	ck_assert_int_eq(store_link_put(st, who, &l, NULL), STORE_OK);
	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(store_link_get(st, who, &got), STORE_OK);
	ck_assert_str_eq(got.access_token, acc);
	ck_assert_str_eq(got.refresh_token, ref);
	store_link_free(&got);
}

/* --- The engine is chosen by the name ---------------------------------- */

START_TEST(test_is_uri)
{
	ck_assert(store_is_uri("postgresql:///forcelink?host=/run/x"));
	ck_assert(store_is_uri("postgres://db.example.com/forcelink"));
	ck_assert(!store_is_uri("/var/lib/forcelink/forcelink.db"));
	ck_assert(!store_is_uri("var/forcelink.db"));
	ck_assert(!store_is_uri("postgresql:"));
	ck_assert(!store_is_uri("Postgresql://x"));
	ck_assert(!store_is_uri(""));
	ck_assert(!store_is_uri(NULL));
}
END_TEST

START_TEST(test_open_postgresql)
{
	struct store		*st;
	struct slack_user	 who;

	ck_assert_ptr_nonnull(st = store_open(uri, &key_a));
	ck_assert_str_eq(store_engine_name(st), "postgresql");
	who_of(&who, "T1", "U1");
	put_get(st, &who, "one");
	store_close(st);
	/* Rows are the server's: a second connection reads them. */
	ck_assert_ptr_nonnull(st = store_open(uri, &key_a));
	put_get(st, &who, "two");
	store_close(st);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM links"), 1);
}
END_TEST

/* A token is written with synchronous_commit on whatever the server's
 * default (pgctl's throwaway server has it off): a trigger records the
 * setting every write of a link's row runs under. */
START_TEST(test_token_writes_are_durable)
{
	struct store		*st;
	struct slack_user	 who;
	PGconn			*c;
	long long		 off, on;

	ck_assert_ptr_nonnull(st = store_open(uri, &key_a));
	c = raw_connect(uri);
	raw_exec(c, "CREATE TABLE sync_seen (v text)");
	raw_exec(c, "CREATE FUNCTION sync_note() RETURNS trigger "
	    "LANGUAGE plpgsql AS $$ BEGIN INSERT INTO sync_seen VALUES "
	    "(current_setting('synchronous_commit')); RETURN NEW; END $$");
	raw_exec(c, "CREATE TRIGGER sync_note AFTER INSERT OR UPDATE ON "
	    "sf_link FOR EACH ROW EXECUTE FUNCTION sync_note()");
	PQfinish(c);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM pg_settings WHERE "
	    "name = 'synchronous_commit' AND setting = 'off'"), 1);
	who_of(&who, "T1", "U1");
	put_get(st, &who, "one");
	ck_assert_int_eq(store_link_update_tokens(st, &who, 1,
	    "00D5g0000001!AQ.two", "5Aep861.two"), STORE_OK);
	store_close(st);
	on = raw_int("SELECT count(*) FROM sync_seen WHERE v = 'on'");
	off = raw_int("SELECT count(*) FROM sync_seen WHERE v <> 'on'");
	ck_assert_int_eq(on, 2);
	ck_assert_int_eq(off, 0);
}
END_TEST

/* --- Passwords ------------------------------------------------------------ */

/* Runs fn with stderr (the log) in a file; returns what was logged. */
static char *
logged(struct store *(*fn)(const char *), const char *arg,
    struct store **out)
{
	char	 path[] = "/tmp/fl-upg-log.XXXXXX", *buf;
	int	 fd, saved;
	FILE	*f;
	long	 n;

	ck_assert_int_ge(fd = mkstemp(path), 0);
	fflush(stderr);
	saved = dup(2);
	ck_assert_int_eq(dup2(fd, 2), 2);
	*out = fn(arg);
	fflush(stderr);
	ck_assert_int_eq(dup2(saved, 2), 2);
	close(saved);
	close(fd);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	ck_assert_ptr_nonnull(buf = calloc(1, (size_t)n + 1));
	ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	unlink(path);
	return buf;
}

static struct store *
open_a(const char *u)
{
	return store_open(u, &key_a);
}

START_TEST(test_password_in_uri_refused)
{
	struct store	*st;
	char		 u[700], *log;
	const char	*q = strchr(uri, '?');

	/* The right password, but in the URI: refused before connecting,
	 * and the log names the variable, never the password. */
	snprintf(u, sizeof(u), "postgresql://forcelink:Hunter2Secret@/%s%s",
	    dbname, q);
	log = logged(open_a, u, &st);
	ck_assert_ptr_null(st);
	ck_assert_ptr_nonnull(strstr(log, "FORCELINK_DB_PASSWORD_FILE"));
	ck_assert_ptr_null(strstr(log, "Hunter2Secret"));
	free(log);
	snprintf(u, sizeof(u), "%s&password=Hunter2Secret", uri);
	log = logged(open_a, u, &st);
	ck_assert_ptr_null(st);
	ck_assert_ptr_null(strstr(log, "Hunter2Secret"));
	free(log);
}
END_TEST

START_TEST(test_password_file)
{
	struct store	*st;
	char		 path[] = "/tmp/fl-upg-pw.XXXXXX", *log;
	int		 fd;

	/* No password at all (no file, no PGPASSFILE): refused. */
	unsetenv("FORCELINK_DB_PASSWORD_FILE");
	unsetenv("PGPASSFILE");
	ck_assert_ptr_null(store_open(uri, &key_a));
	/* A wrong one: refused, and not logged. */
	ck_assert_int_ge(fd = mkstemp(path), 0);
	ck_assert_int_eq(write(fd, "NotThePassword9\n", 16), 16);
	close(fd);
	setenv("FORCELINK_DB_PASSWORD_FILE", path, 1);
	log = logged(open_a, uri, &st);
	ck_assert_ptr_null(st);
	ck_assert_ptr_null(strstr(log, "NotThePassword9"));
	free(log);
	/* An empty file, a missing file: refused with the reason. */
	ck_assert_int_eq(truncate(path, 0), 0);
	log = logged(open_a, uri, &st);
	ck_assert_ptr_null(st);
	ck_assert_ptr_nonnull(strstr(log, "empty"));
	free(log);
	unlink(path);
	ck_assert_ptr_null(store_open(uri, &key_a));
	/* The server's own file (first line, newline dropped). */
	setenv("FORCELINK_DB_PASSWORD_FILE", pwfile, 1);
	ck_assert_ptr_nonnull(st = store_open(uri, &key_a));
	store_close(st);
	/* libpq's PGPASSFILE, when the variable is not set. */
	unsetenv("FORCELINK_DB_PASSWORD_FILE");
	pg_env();
	unsetenv("FORCELINK_DB_PASSWORD_FILE");
	ck_assert_ptr_nonnull(st = store_open(uri, &key_a));
	store_close(st);
}
END_TEST

/* --- Migrations -------------------------------------------------------- */

START_TEST(test_migrations)
{
	struct store	*st;
	PGconn		*c;
	char		 sql[128];

	ck_assert_ptr_nonnull(st = store_open(uri, &key_a));
	store_close(st);
	ck_assert_int_eq(raw_int("SELECT version FROM forcelink_schema"),
	    store_schema_version());
	/* Applied once: opening again changes nothing. */
	ck_assert_ptr_nonnull(st = store_open(uri, &key_a));
	store_close(st);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM forcelink_schema"), 1);
	/* A newer schema than this program knows is refused, untouched. */
	c = raw_connect(uri);
	snprintf(sql, sizeof(sql), "UPDATE forcelink_schema SET version = %d",
	    store_schema_version() + 1);
	raw_exec(c, sql);
	PQfinish(c);
	ck_assert_ptr_null(store_open(uri, &key_a));
	ck_assert_int_eq(raw_int("SELECT version FROM forcelink_schema"),
	    store_schema_version() + 1);
}
END_TEST

/* Several "hosts" open a new database at once: each migration is applied
 * exactly once and every one of them opens it. */
START_TEST(test_migrations_concurrent)
{
	pid_t	 pid[6];
	int	 i, status, ok = 0;

	for (i = 0; i < 6; i++) {
		ck_assert_int_ge(pid[i] = fork(), 0);
		if (pid[i] == 0) {
			struct store	*st = store_open(uri, &key_a);

			store_close(st);
			_exit(st != NULL ? 0 : 1);
		}
	}
	for (i = 0; i < 6; i++) {
		ck_assert_int_eq(waitpid(pid[i], &status, 0), pid[i]);
		ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
	}
	ck_assert_int_eq(ok, 6);
	ck_assert_int_eq(raw_int("SELECT version FROM forcelink_schema"),
	    store_schema_version());
}
END_TEST

/* --- Locks and timeouts ------------------------------------------------- */

START_TEST(test_named_locks)
{
	struct store	*a, *b;
	int		 i, got = 0;

	ck_assert_ptr_nonnull(a = store_open(uri, &key_a));
	ck_assert_ptr_nonnull(b = store_open(uri, &key_a));
	ck_assert_int_eq(store_lock_try(a, "refresh T1 U1"), 1);
	ck_assert_int_eq(store_lock_try(b, "refresh T1 U1"), 0);
	/* Another name is another lock. */
	ck_assert_int_eq(store_lock_try(b, "refresh T1 U2"), 1);
	store_lock_release(a, "refresh T1 U1");
	ck_assert_int_eq(store_lock_try(b, "refresh T1 U1"), 1);
	ck_assert_int_eq(store_lock_try(a, "refresh T1 U1"), 0);
	/* A connection that ends (a worker killed) lets go of its locks, as
	 * soon as the server has seen it end. */
	store_close(b);
	for (i = 0; i < 200 && (got = store_lock_try(a, "refresh T1 U1")) == 0;
	    i++)
		usleep(10000);
	ck_assert_int_eq(got, 1);
	ck_assert_int_eq(store_lock_try(a, "refresh T1 U2"), 1);
	store_close(a);
}
END_TEST

struct lock_fiber {
	struct store	*st;
	int		 got;
	int		*holders, *most;
};

static void
lock_fiber(void *arg)
{
	struct lock_fiber	*p = arg;

	p->got = store_lock_try(p->st, "refresh T1 U9");
	if (p->got != 1)
		return;
	if (++*p->holders > *p->most)
		*p->most = *p->holders;
	fiber_sleep(50);
	--*p->holders;
	store_lock_release(p->st, "refresh T1 U9");
}

/*
 * The fibers of one thread share its connection, and the server grants a
 * connection a lock it holds again: four fibers asking at once (each
 * giving the thread up while the server answers) must still find one
 * holder, and the lock free once it is released.
 */
START_TEST(test_named_lock_fibers_of_one_connection)
{
	struct fiber_sched	*sched;
	struct lock_fiber	 p[4];
	struct store		*st;
	int			 i, holders = 0, most = 0, won = 0;
	long			 t0;

	ck_assert_ptr_nonnull(st = store_open(uri, &key_a));
	ck_assert_ptr_nonnull(sched = fiber_sched_new(NULL));
	for (i = 0; i < 4; i++) {
		p[i].st = st;
		p[i].got = -2;
		p[i].holders = &holders;
		p[i].most = &most;
		ck_assert_int_eq(fiber_spawn(sched, lock_fiber, &p[i]), 0);
	}
	t0 = tu_now_ms();
	while (fiber_sched_live(sched) > 0) {
		ck_assert_msg(tu_now_ms() - t0 < 10000, "fibers never ended");
		fiber_sched_block(sched);
	}
	for (i = 0; i < 4; i++) {
		ck_assert_int_ne(p[i].got, -1);
		won += p[i].got == 1;
	}
	ck_assert_int_eq(won, 1);
	ck_assert_int_eq(most, 1);
	ck_assert_int_eq(store_lock_try(st, "refresh T1 U9"), 1);
	store_lock_release(st, "refresh T1 U9");
	fiber_sched_free(sched);
	store_close(st);
}
END_TEST

/* A transaction that holds the writers' lock on one host makes a writer
 * on another give up within the lock timeout (2 s), not hang: a request
 * is then answered with an apology inside Slack's 3 seconds. */
START_TEST(test_writer_lock_times_out)
{
	struct store		*st;
	struct slack_user	 who;
	struct store_link	 l;
	char			 acc[64], ref[64];
	PGconn			*c;
	long			 t0, ms;

	ck_assert_ptr_nonnull(st = store_open(uri, &key_a));
	who_of(&who, "T1", "U1");
	link_of(&l, acc, ref, "w");
	c = raw_connect(uri);
	/* The key the engine's writers take (PG_LOCK_CLASS, PG_LOCK_WRITER). */
	raw_exec(c, "BEGIN");
	raw_exec(c, "SELECT pg_advisory_xact_lock(1718381360, 1)");
	t0 = tu_now_ms();
	ck_assert_int_eq(store_link_put(st, &who, &l, NULL), STORE_ERROR);
	ms = tu_now_ms() - t0;
	ck_assert(store_busy_failed(st));
	TU_ASSERT_MS_LT(ms, 2700);
	ck_assert_int_ge(ms, 1900);
	/* Once the other transaction ends, the write goes through. */
	raw_exec(c, "ROLLBACK");
	put_get(st, &who, "after");
	PQfinish(c);
	store_close(st);
}
END_TEST

/* A table locked by someone else (a long ALTER, a stuck admin session):
 * a read gives up within the timeouts too. */
START_TEST(test_stuck_table_times_out)
{
	struct store		*st;
	struct slack_user	 who;
	struct store_link	 got;
	PGconn			*c;
	long			 t0, ms;

	ck_assert_ptr_nonnull(st = store_open(uri, &key_a));
	who_of(&who, "T1", "U1");
	put_get(st, &who, "s");
	c = raw_connect(uri);
	raw_exec(c, "BEGIN");
	raw_exec(c, "LOCK TABLE sf_link IN ACCESS EXCLUSIVE MODE");
	memset(&got, 0, sizeof(got));
	t0 = tu_now_ms();
	ck_assert_int_eq(store_link_get(st, &who, &got), STORE_ERROR);
	ms = tu_now_ms() - t0;
	TU_ASSERT_MS_LT(ms, 2700);
	raw_exec(c, "ROLLBACK");
	PQfinish(c);
	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(store_link_get(st, &who, &got), STORE_OK);
	store_link_free(&got);
	store_close(st);
}
END_TEST

/* A server that does not answer at all (its process stopped, as a
 * network cut or a hung machine would look): the call gives up within
 * PG_ANSWER_MS (2.5 s), drops the connection, and the next call, once
 * the server is back, connects again. */
START_TEST(test_server_not_answering)
{
	struct store		*st;
	struct slack_user	 who;
	struct store_link	 got;
	long			 t0, ms;
	pid_t			 pid;

	ck_assert_ptr_nonnull(st = store_open(uri, &key_a));
	who_of(&who, "T1", "U1");
	put_get(st, &who, "s");
	pid = (pid_t)raw_int("SELECT pid FROM pg_stat_activity WHERE "
	    "datname = current_database() AND pid <> pg_backend_pid() "
	    "AND application_name = 'forcelink'");
	ck_assert_int_eq(kill(pid, SIGSTOP), 0);
	memset(&got, 0, sizeof(got));
	t0 = tu_now_ms();
	ck_assert_int_eq(store_link_get(st, &who, &got), STORE_ERROR);
	ms = tu_now_ms() - t0;
	ck_assert_int_eq(kill(pid, SIGCONT), 0);
	TU_ASSERT_MS_LT(ms, 3000);
	ck_assert_int_ge(ms, 2400);
	put_get(st, &who, "again");
	store_close(st);
}
END_TEST

/* --- Reconnecting ------------------------------------------------------- */

/* The server restarts between two calls: the next call notices the
 * closed connection before sending, connects again and succeeds. */
START_TEST(test_reconnect_after_restart)
{
	struct store		*st;
	struct slack_user	 who;
	unsigned char		 h[CRYPTO_HASHLEN];

	ck_assert_ptr_nonnull(st = store_open(uri, &key_a));
	who_of(&who, "T1", "U1");
	put_get(st, &who, "before");
	pgctl("restart");
	put_get(st, &who, "after");
	/* Every statement was prepared again on the new connection. */
	memset(h, 7, sizeof(h));
	ck_assert_int_eq(store_replay_add(st, h, 1000, 1300), STORE_OK);
	ck_assert_int_eq(store_replay_add(st, h, 1000, 1300), STORE_EXISTS);
	store_close(st);
}
END_TEST

/* The server is down: calls fail at once (no hang), and the store comes
 * back by itself once the server does. */
START_TEST(test_server_down_then_back)
{
	struct store		*st;
	struct slack_user	 who;
	struct store_link	 got;
	long			 t0;
	int			 i, ok = 0;

	ck_assert_ptr_nonnull(st = store_open(uri, &key_a));
	who_of(&who, "T1", "U1");
	put_get(st, &who, "up");
	pgctl("stop");
	t0 = tu_now_ms();
	for (i = 0; i < 5; i++) {
		memset(&got, 0, sizeof(got));
		ck_assert_int_eq(store_link_get(st, &who, &got), STORE_ERROR);
	}
	TU_ASSERT_MS_LT(tu_now_ms() - t0, 1000);
	pgctl("start");
	/* At most one attempt a second while it was down. */
	for (i = 0; i < 30 && !ok; i++) {
		memset(&got, 0, sizeof(got));
		if (store_link_get(st, &who, &got) == STORE_OK) {
			ok = 1;
			store_link_free(&got);
		} else
			usleep(100000);
	}
	ck_assert(ok);
	put_get(st, &who, "back");
	store_close(st);
}
END_TEST

struct connect_fiber {
	const char	*uri;
	struct keyring	*kr;
	struct store	*st;
	long		 ms;		/* how long the open took */
	int		 done;
};

static void
connect_fiber(void *arg)
{
	struct connect_fiber	*p = arg;
	long			 t0 = tu_now_ms();

	p->st = store_open_deferred(p->uri, p->kr);
	p->ms = tu_now_ms() - t0;
	p->done = 1;
}

struct tick_fiber {
	const int	*stop;
	int		 ticks;
};

static void
tick_fiber(void *arg)
{
	struct tick_fiber	*p = arg;

	while (!*p->stop) {
		fiber_sleep(10);
		p->ticks++;
	}
}

/*
 * Connecting waits in the scheduler: a fiber whose server does not
 * answer (a port that takes the connection and never says a word, with
 * connect_timeout=2 in the URI) gives its thread to the other fibers for
 * the whole wait, and gives up at the timeout.
 */
START_TEST(test_connect_gives_the_thread_up)
{
	struct sockaddr_in	 a;
	socklen_t		 alen = sizeof(a);
	struct fiber_sched	*sched;
	struct connect_fiber	 c;
	struct tick_fiber	 t;
	char			 hole[128];
	int			 fd;
	long			 t0;

	ck_assert_int_ne(fd = socket(AF_INET, SOCK_STREAM, 0), -1);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	snprintf(hole, sizeof(hole), "postgresql://forcelink@127.0.0.1:%d/"
	    "x?connect_timeout=2", ntohs(a.sin_port));
	memset(&c, 0, sizeof(c));
	c.uri = hole;
	ck_assert_ptr_nonnull(c.kr = keyring_from_keys(&key_a, 1));
	t.stop = &c.done;
	t.ticks = 0;
	ck_assert_ptr_nonnull(sched = fiber_sched_new(NULL));
	ck_assert_int_eq(fiber_spawn(sched, connect_fiber, &c), 0);
	ck_assert_int_eq(fiber_spawn(sched, tick_fiber, &t), 0);
	t0 = tu_now_ms();
	while (fiber_sched_live(sched) > 0) {
		ck_assert_msg(tu_now_ms() - t0 < 10000, "fibers never ended");
		fiber_sched_block(sched);
	}
	/* The open gave up at the URI's timeout, and meanwhile the other
	 * fiber ran: at 10 ms a tick, well over 50 in 2 s. */
	ck_assert_int_ge(c.ms, 1900);
	TU_ASSERT_MS_LT(c.ms, 4000);
	ck_assert_int_gt(t.ticks, 50);
	ck_assert_ptr_nonnull(c.st);
	store_close(c.st);
	fiber_sched_free(sched);
	keyring_free(c.kr);
	close(fd);
}
END_TEST

/* A worker thread's store (store_open_deferred) opens while the server
 * is down, its calls fail at once meanwhile, and it connects by itself
 * once the server is back: no thread fails to start for it. */
START_TEST(test_deferred_open_while_down)
{
	struct store		*st;
	struct keyring		*kr;
	struct slack_user	 who;
	struct store_link	 got;
	long			 t0;
	int			 i, ok = 0;

	ck_assert_ptr_nonnull(kr = keyring_from_keys(&key_a, 1));
	ck_assert_ptr_nonnull(st = store_open(uri, &key_a));
	who_of(&who, "T1", "U1");
	put_get(st, &who, "before");
	store_close(st);
	pgctl("stop");
	st = store_open_deferred(uri, kr);
	ck_assert_ptr_nonnull(st);
	memset(&got, 0, sizeof(got));
	t0 = tu_now_ms();
	ck_assert_int_eq(store_link_get(st, &who, &got), STORE_ERROR);
	TU_ASSERT_MS_LT(tu_now_ms() - t0, 1000);
	pgctl("start");
	for (i = 0; i < 30 && !ok; i++) {
		memset(&got, 0, sizeof(got));
		if (store_link_get(st, &who, &got) == STORE_OK) {
			ok = 1;
			ck_assert_str_eq(got.refresh_token, "5Aep861.before");
			store_link_free(&got);
		} else
			usleep(100000);
	}
	ck_assert(ok);
	store_close(st);
	/* A URI holding a password is refused even deferred. */
	ck_assert_ptr_null(store_open_deferred("postgresql://u:pw@/x", kr));
	keyring_free(kr);
}
END_TEST

/* --- Sealed values move between engines --------------------------------- */

/* The associated data names the row, not the engine: a link's sealed
 * columns copied byte for byte from a SQLite file into PostgreSQL open
 * there with the same key, and a copy under another user's row does not. */
START_TEST(test_ciphertext_moves)
{
	char		 dir[] = "/tmp/fl-upg-sq.XXXXXX", path[80];
	char		 sql[256];
	struct store	*sq, *pg;
	struct slack_user who, other;
	struct store_link got;
	sqlite3		*db;
	sqlite3_stmt	*s;
	PGconn		*c;
	PGresult	*r;
	const char	*vals[5];
	int		 lens[5], fmts[5] = { 0, 1, 1, 0, 0 };

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f.db", dir);
	ck_assert_ptr_nonnull(sq = store_open(path, &key_a));
	ck_assert_str_eq(store_engine_name(sq), "sqlite");
	who_of(&who, "T1", "U1");
	who_of(&other, "T1", "U2");
	put_get(sq, &who, "moved");
	store_close(sq);
	ck_assert_ptr_nonnull(pg = store_open(uri, &key_a));
	/* A placeholder row for each user, then the SQLite bytes in them. */
	put_get(pg, &who, "placeholder");
	put_get(pg, &other, "placeholder2");
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT key_id, "
	    "access_token_ct, refresh_token_ct FROM sf_link", -1, &s, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	c = raw_connect(uri);
	snprintf(sql, sizeof(sql), "UPDATE sf_link SET key_id = $1, "
	    "access_token_ct = $2, refresh_token_ct = $3 "
	    "WHERE team_id = $4 AND user_id = $5");
	vals[0] = (const char *)sqlite3_column_text(s, 0);
	lens[0] = 0;
	vals[1] = sqlite3_column_blob(s, 1);
	lens[1] = sqlite3_column_bytes(s, 1);
	vals[2] = sqlite3_column_blob(s, 2);
	lens[2] = sqlite3_column_bytes(s, 2);
	vals[3] = "T1";
	vals[4] = "U1";
	lens[3] = lens[4] = 0;
	r = PQexecParams(c, sql, 5, NULL, vals, lens, fmts, 0);
	ck_assert_str_eq(PQcmdTuples(r), "1");
	PQclear(r);
	vals[4] = "U2";
	r = PQexecParams(c, sql, 5, NULL, vals, lens, fmts, 0);
	ck_assert_str_eq(PQcmdTuples(r), "1");
	PQclear(r);
	sqlite3_finalize(s);
	sqlite3_close(db);
	PQfinish(c);
	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(store_link_get(pg, &who, &got), STORE_OK);
	ck_assert_str_eq(got.access_token, "00D5g0000001!AQ.moved");
	ck_assert_str_eq(got.refresh_token, "5Aep861.moved");
	store_link_free(&got);
	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(store_link_get(pg, &other, &got), STORE_BADKEY);
	store_close(pg);
	snprintf(sql, sizeof(sql), "rm -rf %s", dir);
	(void)system(sql);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("store_pg");
	TCase	*tc;

	tc = tcase_create("engine");
	tcase_add_unchecked_fixture(tc, server_start, server_stop);
	tcase_add_checked_fixture(tc, setup, teardown);
	/* The restart and down tests wait for the server; the timeout
	 * tests for 2 s each. */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_is_uri);
	tcase_add_test(tc, test_open_postgresql);
	tcase_add_test(tc, test_token_writes_are_durable);
	tcase_add_test(tc, test_password_in_uri_refused);
	tcase_add_test(tc, test_password_file);
	tcase_add_test(tc, test_migrations);
	tcase_add_test(tc, test_migrations_concurrent);
	tcase_add_test(tc, test_named_locks);
	tcase_add_test(tc, test_named_lock_fibers_of_one_connection);
	tcase_add_test(tc, test_writer_lock_times_out);
	tcase_add_test(tc, test_stuck_table_times_out);
	tcase_add_test(tc, test_server_not_answering);
	tcase_add_test(tc, test_reconnect_after_restart);
	tcase_add_test(tc, test_server_down_then_back);
	tcase_add_test(tc, test_deferred_open_while_down);
	tcase_add_test(tc, test_connect_gives_the_thread_up);
	tcase_add_test(tc, test_ciphertext_moves);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

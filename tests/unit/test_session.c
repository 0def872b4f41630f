/*
 * Unit tests of common/session.c that need no Salesforce: login links
 * and their nonces, unlinked users, a wrong key (nothing changes), a
 * Salesforce that cannot be reached (the link stays), and a worker
 * killed while /contact confirm stores a pending link (it stays pending
 * or is stored, never neither).  The refresh paths run against the
 * stand-in in tests/e2e.  On SQLite, or on PostgreSQL when FL_TEST_PG_URI
 * is set (tu_db.h).
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <sqlite3.h>

#include "proof.h"
#include "session.h"
#include "testutil.h"
#include "tu_db.h"

static char			 dbpath[64];
/* What the store is opened with: dbpath, or a PostgreSQL URI. */
static const char		*store_db;
static struct config		 cfg;
static struct crypto_key	 cfg_key;
static const struct slack_user	 alice = { "", "T0000001", "U0000001" };

/* The configuration, without a database: for the tests of what needs
 * none (response_url checks), which then cost no server a database. */
static void
setup_cfg(void)
{
	crypto_init();
	http_init();
	tu_session_config(&cfg, &cfg_key);
}

static void
teardown_cfg(void)
{
	keyring_free(cfg.keyring);
	cfg.keyring = NULL;
}

static void
setup(void)
{
	int	 fd;

	setup_cfg();
	strcpy(dbpath, "/tmp/fl-session-XXXXXX");
	fd = mkstemp(dbpath);
	ck_assert_int_ne(fd, -1);
	close(fd);
	unlink(dbpath);
	store_db = tu_db_create(dbpath);
	cfg.db_path = (char *)store_db;
}

static void
teardown(void)
{
	char	 p[128];

	tu_db_destroy();
	snprintf(p, sizeof(p), "%s-refresh.lock", dbpath);
	unlink(p);
	teardown_cfg();
}

/* Stores a link for alice directly, under key k. */
static void
put_link(const struct crypto_key *k)
{
	struct store		*st;
	struct store_link	 l;

	memset(&l, 0, sizeof(l));
	l.org = "";
	l.sf_user_id = "005000000000001AAA";
	l.sf_org_id = "00D000000000001AAA";
	l.sf_username = "alice@example.com";
	l.instance_url = "https://127.0.0.1:9";
	l.access_token = "00D!access";
	l.refresh_token = "refresh-1";
	st = store_open(store_db, k);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(store_link_put(st, &alice, &l, NULL), STORE_OK);
	store_close(st);
}

START_TEST(login_url_nonce_works_once)
{
	struct session		*s;
	struct slack_user	 who;
	unsigned char		 n[CRYPTO_HASHLEN], h[CRYPTO_HASHLEN];
	const char		*prefix = "https://fl.example.com/oauth/start?state=";
	char			*url = NULL;

	s = session_new(&cfg);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(session_login_url(s, &alice, &url), SESSION_OK);
	ck_assert_int_eq(strncmp(url, prefix, strlen(prefix)), 0);
	/* 32 random bytes in base64url: 43 characters, >= 128 bits. */
	ck_assert_uint_eq(strlen(url + strlen(prefix)), 43);
	crypto_sha256(url + strlen(prefix), n);
	crypto_sha256("state", h);
	ck_assert_int_eq(store_nonce_start(s->st, n, time(NULL), h, h,
	    "verifier-verifier-verifier-verifier-verifier", time(NULL) + 600,
	    &who), STORE_OK);
	ck_assert_str_eq(who.team_id, "T0000001");
	ck_assert_str_eq(who.user_id, "U0000001");
	ck_assert_int_eq(store_nonce_start(s->st, n, time(NULL), h, h,
	    "verifier-verifier-verifier-verifier-verifier", time(NULL) + 600,
	    &who), STORE_USED);
	free(url);
	session_free(s);
}
END_TEST

/*
 * Starts the login of url (as /oauth/start would) and takes its state
 * (as /oauth/callback would); returns what was remembered in *got.
 */
static void
login_take(struct session *s, const char *url, struct store_search *got)
{
	struct slack_user	 who;
	unsigned char		 n[CRYPTO_HASHLEN], h[CRYPTO_HASHLEN];
	char			*v = NULL;
	const char		*nonce;

	ck_assert_ptr_nonnull(nonce = strstr(url, "state="));
	crypto_sha256(nonce + 6, n);
	crypto_sha256(nonce + 6, h);	/* any state and cookie will do */
	ck_assert_int_eq(store_nonce_start(s->st, n, time(NULL), h, h,
	    "verifier-verifier-verifier-verifier-verifier", time(NULL) + 600,
	    &who), STORE_OK);
	ck_assert_int_eq(store_state_take_search(s->st, h, h, time(NULL),
	    &who, &v, got), STORE_OK);
	ck_assert_str_eq(who.user_id, "U0000001");
	crypto_free_secret(v);
}

#define LONG50	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define LONG100	LONG50 LONG50
#define LONG1000 \
	LONG100 LONG100 LONG100 LONG100 LONG100 LONG100 LONG100 LONG100 \
	LONG100 LONG100

/* A search is kept with its login link only when there is one and its
 * response_url may be posted to. */
static const struct {
	const char	*text;
	const char	*url;
	int		 kept;
} search_cases[] = {
	{ "smith", "https://hooks.slack.com/commands/T1/1/abc", 1 },
	{ "AT&T <x>", "https://hooks.slack.com/commands/T1/1/abc", 1 },
	{ "smith", "https://hooks.slack.com.evil.example/commands/x", 0 },
	{ "smith", "https://evil.example/https://hooks.slack.com/", 0 },
	{ "smith", "http://hooks.slack.com/commands/T1/1/abc", 0 },
	{ "smith", NULL, 0 },
	{ "", "https://hooks.slack.com/commands/T1/1/abc", 0 },
	{ NULL, "https://hooks.slack.com/commands/T1/1/abc", 0 },
	/* Past the store's bounds: a login link all the same, without it. */
	{ "smith", "https://hooks.slack.com/" LONG1000 LONG1000
	    "bbbbbbbbbbbbbbbbbbbbbbbbb", 0 },
	{ "smith", "https://hooks.slack.com/" LONG1000 LONG1000
	    "bbbbbbbbbbbbbbbbbbbbbbbb", 1 },
};

START_TEST(login_url_search_kept_table)
{
	struct store_search	 got;
	struct session		*s;
	char			*url = NULL;
	int			 kept;

	s = session_new(&cfg);
	ck_assert_ptr_nonnull(s);
	kept = -1;
	ck_assert_int_eq(session_login_url_search(s, &alice,
	    search_cases[_i].text, search_cases[_i].url, &url, &kept),
	    SESSION_OK);
	ck_assert_int_eq(kept, search_cases[_i].kept);
	ck_assert_int_eq(strncmp(url, "https://fl.example.com/oauth/start?"
	    "state=", 41), 0);
	login_take(s, url, &got);
	if (search_cases[_i].kept) {
		ck_assert_str_eq(got.text, search_cases[_i].text);
		ck_assert_str_eq(got.response_url, search_cases[_i].url);
		ck_assert_int_le(time(NULL) - got.created_at, 2);
	} else {
		ck_assert_ptr_null(got.text);
		ck_assert_ptr_null(got.response_url);
	}
	store_search_free(&got);
	free(url);
	/* session_login_url() keeps none. */
	ck_assert_int_eq(session_login_url(s, &alice, &url), SESSION_OK);
	login_take(s, url, &got);
	ck_assert_ptr_null(got.text);
	free(url);
	session_free(s);
}
END_TEST

START_TEST(response_url_ok)
{
	ck_assert_int_eq(session_response_url_ok(&cfg,
	    "https://hooks.slack.com/commands/T1/1/abc"), 1);
	ck_assert_int_eq(session_response_url_ok(&cfg,
	    "https://hooks.slack.com/"), 1);
	ck_assert_int_eq(session_response_url_ok(&cfg,
	    "https://hooks.slack.com"), 0);
	ck_assert_int_eq(session_response_url_ok(&cfg,
	    "https://hooks.slack.com.evil/"), 0);
	ck_assert_int_eq(session_response_url_ok(&cfg,
	    "HTTPS://hooks.slack.com/x"), 0);
	ck_assert_int_eq(session_response_url_ok(&cfg, ""), 0);
	ck_assert_int_eq(session_response_url_ok(&cfg, NULL), 0);
}
END_TEST

/*
 * A response_url is checked as it will be sent: every form that libcurl
 * or the receiving server would read as another path, host or resource
 * than the prefix names is refused, by name.
 */
static const struct {
	const char	*name;
	const char	*url;
	int		 ok;
} response_url_cases[] = {
	{ "slack's own form", "https://hooks.slack.com/commands/T1/1/abc", 1 },
	{ "a query", "https://hooks.slack.com/commands/T1/1/abc?x=1", 1 },
	{ "an escape that is no separator",
	    "https://hooks.slack.com/commands/T1/1/a%41c", 1 },
	{ "a dot inside a segment", "https://hooks.slack.com/a.b/..c/d..", 1 },
	{ "dot-dot segment", "https://hooks.slack.com/../x", 0 },
	{ "dot-dot segment deeper", "https://hooks.slack.com/commands/../../x",
	    0 },
	{ "dot segment", "https://hooks.slack.com/./x", 0 },
	{ "trailing dot-dot", "https://hooks.slack.com/commands/..", 0 },
	{ "trailing dot", "https://hooks.slack.com/commands/.", 0 },
	{ "dot-dot before a query", "https://hooks.slack.com/a/..?x", 0 },
	{ "encoded dot lower", "https://hooks.slack.com/%2e%2e/x", 0 },
	{ "encoded dot upper", "https://hooks.slack.com/%2E%2E/x", 0 },
	{ "encoded dot mixed", "https://hooks.slack.com/.%2E/x", 0 },
	{ "encoded slash lower", "https://hooks.slack.com/a%2f..%2fx", 0 },
	{ "encoded slash upper", "https://hooks.slack.com/a%2F..%2Fx", 0 },
	{ "encoded backslash lower", "https://hooks.slack.com/a%5c..", 0 },
	{ "encoded backslash upper", "https://hooks.slack.com/a%5C..", 0 },
	{ "encoded control byte", "https://hooks.slack.com/a%0d%0ax", 0 },
	{ "malformed escape", "https://hooks.slack.com/a%zz", 0 },
	{ "truncated escape", "https://hooks.slack.com/a%2", 0 },
	{ "backslash", "https://hooks.slack.com/a\\..\\x", 0 },
	{ "userinfo", "https://hooks.slack.com@evil.example/x", 0 },
	{ "userinfo in prefix host", "https://x@hooks.slack.com/x", 0 },
	{ "fragment", "https://hooks.slack.com/commands/T1/1/abc#x", 0 },
	{ "space", "https://hooks.slack.com/commands/T1 1/abc", 0 },
	{ "tab", "https://hooks.slack.com/commands/T1\t1/abc", 0 },
	{ "newline", "https://hooks.slack.com/commands/T1\n/abc", 0 },
	{ "DEL", "https://hooks.slack.com/commands/\x7f", 0 },
	{ "non-ASCII byte", "https://hooks.slack.com/commands/\xc3\xa9", 0 },
	{ "empty segment", "https://hooks.slack.com/commands//x", 0 },
	{ "another host", "https://hooks.slack.com.evil/x", 0 },
	{ "plain http", "http://hooks.slack.com/x", 0 },
	{ "upper-case scheme", "HTTPS://hooks.slack.com/x", 0 },
	{ "prefix without slash", "https://hooks.slack.com", 0 },
	{ "empty", "", 0 },
};

START_TEST(response_url_table)
{
	ck_assert_msg(session_response_url_ok(&cfg,
	    response_url_cases[_i].url) == response_url_cases[_i].ok,
	    "%s: %s", response_url_cases[_i].name,
	    response_url_cases[_i].ok ? "refused" : "accepted");
}
END_TEST

/* A contact search for "smith" as alice. */
static enum session_result
search_smith(struct session *s, struct sf_records *c, char **inst,
    struct sf_error *err)
{
	struct sf_search	 q = { SF_KIND_CONTACT, "smith", NULL,
				    SF_QUERY_LIMIT, 0, 0 };

	return session_query_as(s, &alice, &q, c, inst, err, NULL);
}

START_TEST(unlinked_user)
{
	struct session		*s;
	struct sf_records	 c;
	struct sf_userinfo	 ui;
	struct sf_error		 err;
	char			*inst = NULL;

	memset(&c, 0, sizeof(c));
	memset(&ui, 0, sizeof(ui));
	s = session_new(&cfg);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(search_smith(s, &c, &inst, &err),
	    SESSION_UNLINKED);
	ck_assert_int_eq(session_whoami(s, &alice, &ui, &inst),
	    SESSION_UNLINKED);
	ck_assert_int_eq(session_logout(s, &alice), SESSION_UNLINKED);
	ck_assert_ptr_null(inst);
	session_free(s);
}
END_TEST

START_TEST(wrong_key_changes_nothing)
{
	struct crypto_key	 other;
	struct session		*s;
	struct sf_records	 c;
	struct sf_error		 err;
	struct store		*st;
	struct store_link	 l;
	char			*inst = NULL;

	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(crypto_key_from_base64(&other,
	    "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="), 0);
	put_link(&other);
	s = session_new(&cfg);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(search_smith(s, &c, &inst, &err),
	    SESSION_BADKEY);
	ck_assert_int_eq(session_logout(s, &alice), SESSION_BADKEY);
	session_free(s);
	/* The link is still there and still opens with its own key. */
	st = store_open(store_db, &other);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(store_link_get(st, &alice, &l), STORE_OK);
	ck_assert_str_eq(l.refresh_token, "refresh-1");
	store_link_free(&l);
	store_close(st);
}
END_TEST

START_TEST(unreachable_salesforce_keeps_link)
{
	struct session		*s;
	struct sf_records	 c;
	struct sf_error		 err;
	struct store_link	 l;
	char			*inst = NULL;

	memset(&c, 0, sizeof(c));
	put_link(&cfg_key);
	s = session_new(&cfg);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(search_smith(s, &c, &inst, &err),
	    SESSION_TRANSIENT);
	/* logout must not forget a grant it could not revoke */
	ck_assert_int_eq(session_logout(s, &alice), SESSION_TRANSIENT);
	ck_assert_int_eq(store_link_get(s->st, &alice, &l), STORE_OK);
	ck_assert_str_eq(l.access_token, "00D!access");
	store_link_free(&l);
	session_free(s);
}
END_TEST

/* --- A worker killed in /contact confirm ------------------------------ */

/* The SQL function fl_kill(): the process dies at once, as a worker
 * killed by the kernel (SIGKILL: no cleanup, no rollback of its own). */
static void
kill_now(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	kill(getpid(), SIGKILL);
}

/* Gives every new connection of the process fl_kill(). */
static int
kill_register(sqlite3 *db, char **err, const sqlite3_api_routines *api)
{
	(void)err;
	(void)api;
	return sqlite3_create_function(db, "fl_kill", 0, SQLITE_UTF8, NULL,
	    kill_now, NULL, NULL);
}

/*
 * On PostgreSQL the trigger's function sleeps where SQLite's calls
 * fl_kill() (a server cannot kill its client): the test kills the worker
 * while its statement sleeps there, then ends the server process that
 * ran it, which would otherwise sleep on holding the worker's
 * transaction and locks (a server learns of its client's death only when
 * it next talks to it), and waits until it is gone: the transaction is
 * then rolled back, as SQLite rolls back the one a killed worker left in
 * its WAL.
 */
/* The worker's statement timeout (2 s) does not end the sleep, however
 * long a loaded machine takes to see it and kill the worker: a SIGKILL
 * is at once. */
#define KILL_FUNCTION_PG \
	"CREATE FUNCTION kill_here() RETURNS trigger LANGUAGE plpgsql " \
	"AS $$BEGIN LOOP BEGIN PERFORM pg_sleep(60); " \
	"EXCEPTION WHEN query_canceled THEN NULL; END; END LOOP; END$$"

/* Kills worker pid once its statement sleeps in kill_here(), and the
 * server process it left.  Fails the test if the worker exits first. */
static void
kill_asleep_pg(pid_t pid)
{
	char	 sql[160];
	long	 t0 = tu_now_ms();
	int64_t	 backend = 0;
	int	 status;

	while (backend == 0 && tu_now_ms() - t0 < 20000) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			/* It died somewhere else than in the trigger. */
			ck_abort_msg("the worker exited (status %d) before "
			    "reaching the trigger", status);
		}
		backend = tu_db_int("SELECT coalesce(max(pid), 0) FROM "
		    "pg_stat_activity WHERE datname = current_database() "
		    "AND wait_event = 'PgSleep'");
		if (backend == 0)
			usleep(2000);
	}
	ck_assert_int_ne(backend, 0);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%lld)",
	    (long long)backend);
	ck_assert_int_eq(tu_db_int(sql), 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_activity "
	    "WHERE pid = %lld", (long long)backend);
	while (tu_db_int(sql) != 0 && tu_now_ms() - t0 < 20000)
		usleep(2000);
	ck_assert_int_eq(tu_db_int(sql), 0);
}

/*
 * Alice's login as the callback leaves it in code mode: the nonce made,
 * its Salesforce state taken, and a verified grant (refresh-2) held for
 * the code, which goes into code as the page shows it.
 */
static void
pending_login(char code[CRYPTO_CODE_MAX])
{
	struct session		*s;
	struct store_link	 l;
	struct slack_user	 who;
	unsigned char		 n[CRYPTO_HASHLEN], sh[CRYPTO_HASHLEN];
	unsigned char		 ch[CRYPTO_HASHLEN];
	time_t			 now = time(NULL);
	char			*v = NULL;

	memset(&l, 0, sizeof(l));
	l.org = "";
	l.sf_user_id = "005000000000002AAA";
	l.sf_org_id = "00D000000000001AAA";
	l.sf_username = "new.user@example.com";
	l.instance_url = "https://127.0.0.1:9";
	l.access_token = "00D!access-2";
	l.refresh_token = "refresh-2";
	crypto_sha256("kill nonce", n);
	crypto_sha256("kill state", sh);
	crypto_sha256("kill cookie", ch);
	s = session_new(&cfg);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(store_nonce_add_login(s->st, &alice, NULL, n,
	    now + 600, NULL), STORE_OK);
	ck_assert_int_eq(store_nonce_start_leg(s->st, STORE_LEG_SALESFORCE, n,
	    now, sh, ch, "verifier-verifier-verifier-verifier-verifier",
	    now + 600, &who), STORE_OK);
	ck_assert_int_eq(store_state_take_leg(s->st, STORE_LEG_SALESFORCE, sh,
	    ch, now, &who, &v, NULL), STORE_OK);
	crypto_free_secret(v);
	ck_assert_int_eq(proof_hold(s, sh, &l, code), SESSION_OK);
	session_free(s);
}

/* Where the worker dies: a trigger that calls fl_kill() (SQLite) or
 * kill_here() (PostgreSQL) on one write of the confirm. */
static const struct {
	const char	*name;
	int		 linked;	/* alice has a link before */
	const char	*trigger;
	const char	*trigger_pg;
	const char	*drop_pg;
} kill_cases[] = {
	{ "writing the link that replaces the old one", 1,
	    "CREATE TRIGGER kill_here AFTER UPDATE ON sf_link "
	    "BEGIN SELECT fl_kill(); END",
	    "CREATE TRIGGER kill_here AFTER UPDATE ON sf_link "
	    "FOR EACH ROW EXECUTE FUNCTION kill_here()",
	    "DROP TRIGGER kill_here ON sf_link" },
	{ "writing the first link", 0,
	    "CREATE TRIGGER kill_here AFTER INSERT ON sf_link "
	    "BEGIN SELECT fl_kill(); END",
	    "CREATE TRIGGER kill_here AFTER INSERT ON sf_link "
	    "FOR EACH ROW EXECUTE FUNCTION kill_here()",
	    "DROP TRIGGER kill_here ON sf_link" },
	{ "clearing the pending link", 1,
	    "CREATE TRIGGER kill_here AFTER UPDATE OF pend_refresh_ct "
	    "ON login_state WHEN new.pend_refresh_ct IS NULL "
	    "BEGIN SELECT fl_kill(); END",
	    "CREATE TRIGGER kill_here AFTER UPDATE OF pend_refresh_ct "
	    "ON login_state FOR EACH ROW WHEN (NEW.pend_refresh_ct IS NULL) "
	    "EXECUTE FUNCTION kill_here()",
	    "DROP TRIGGER kill_here ON login_state" },
};

/*
 * SPEC section 6: a worker killed at any instant loses no committed link,
 * and nothing leaks.  A worker killed in the middle of /contact confirm
 * leaves the grant still pending (the same code links it, or the sweep
 * revokes it once it expires) and the old link as it was; never a live
 * grant that is neither stored nor pending, which nothing would revoke.
 */
START_TEST(confirm_killed_leaves_pending_or_linked)
{
	struct session_linked	 out;
	struct store_search	 search;
	struct session		*s;
	struct store_link	 l;
	char			 code[CRYPTO_CODE_MAX];
	pid_t			 pid;
	int			 status, left;

	if (kill_cases[_i].linked)
		put_link(&cfg_key);
	pending_login(code);
	if (tu_db_pg()) {
		ck_assert_int_eq(tu_db_try(KILL_FUNCTION_PG), 0);
		ck_assert_int_eq(tu_db_try(kill_cases[_i].trigger_pg), 0);
	} else
		ck_assert_int_eq(tu_db_try(kill_cases[_i].trigger), 0);
	if ((pid = fork()) == 0) {
		if (!tu_db_pg())
			sqlite3_auto_extension((void (*)(void))kill_register);
		if ((s = session_new(&cfg)) != NULL)
			(void)proof_confirm(s, &alice, code, &out, &search,
			    &left);
		_exit(3);
	}
	ck_assert_int_ne(pid, -1);
	if (tu_db_pg())
		kill_asleep_pg(pid);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	/* It died where the trigger is, not anywhere else. */
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	    "%s: the worker was not killed (status %d)", kill_cases[_i].name,
	    status);
	ck_assert_int_eq(tu_db_try(TU_SQL("DROP TRIGGER kill_here",
	    kill_cases[_i].drop_pg)), 0);
	ck_assert_msg(tu_db_int("SELECT count(*) FROM login_state WHERE "
	    "pend_refresh_ct IS NOT NULL AND confirm_hash IS NOT NULL") == 1,
	    "%s: the grant is no longer pending", kill_cases[_i].name);
	ck_assert_int_eq(tu_db_int("SELECT count(*) FROM sf_link"),
	    kill_cases[_i].linked);
	s = session_new(&cfg);
	ck_assert_ptr_nonnull(s);
	if (kill_cases[_i].linked) {
		ck_assert_int_eq(store_link_get(s->st, &alice, &l), STORE_OK);
		ck_assert_str_eq(l.refresh_token, "refresh-1");
		store_link_free(&l);
	}
	/* The next worker: the same code links. */
	ck_assert_int_eq(proof_confirm(s, &alice, code, &out, &search, &left),
	    PROOF_CONFIRM_LINKED);
	ck_assert_str_eq(out.sf_username, "new.user@example.com");
	session_linked_free(&out);
	store_search_free(&search);
	ck_assert_int_eq(store_link_get(s->st, &alice, &l), STORE_OK);
	ck_assert_str_eq(l.refresh_token, "refresh-2");
	store_link_free(&l);
	ck_assert_int_eq(tu_db_int("SELECT count(*) FROM login_state WHERE "
	    "pend_refresh_ct IS NOT NULL"), 0);
	session_free(s);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("session");
	TCase	*tc = tcase_create("session");

	tu_db_init();
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, login_url_nonce_works_once);
	tcase_add_loop_test(tc, login_url_search_kept_table, 0,
	    sizeof(search_cases) / sizeof(search_cases[0]));
	tcase_add_test(tc, unlinked_user);
	tcase_add_test(tc, wrong_key_changes_nothing);
	tcase_add_test(tc, unreachable_salesforce_keeps_link);
	tcase_add_loop_test(tc, confirm_killed_leaves_pending_or_linked, 0,
	    sizeof(kill_cases) / sizeof(kill_cases[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("response_url");
	tcase_add_checked_fixture(tc, setup_cfg, teardown_cfg);
	tcase_add_test(tc, response_url_ok);
	tcase_add_loop_test(tc, response_url_table, 0,
	    sizeof(response_url_cases) / sizeof(response_url_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

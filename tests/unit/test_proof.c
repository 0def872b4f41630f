/*
 * test_proof: common/proof.c, the code proof of FORCELINK_LINK_PROOF=code
 * (issue 11), on a real store.
 *
 * proof_hold() keeps a verified grant pending with a fresh code, stored
 * by its hash; proof_confirm() answers each thing a person may type (the
 * right code, in either case and with or without its dash; another Slack
 * user's; a wrong one, with the tries left, to void at the fifth; one
 * that is no code at all; one when nothing waits) and stores the link
 * only for the login's own Slack user.  proof_sweep() revokes due
 * pending grants at Salesforce (a local "openssl s_server" of
 * tls_server.c plays it) and drops them only when the revoke is done:
 * a Salesforce that fails or cannot be reached leaves the grant for the
 * next sweep.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <sqlite3.h>

#include "http.h"
#include "proof.h"
#include "testutil.h"
#include "tls_server.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define VERIFIER	"pkce-VERIFIER-plaintext-0123456789abcdefghijk"
#define REFRESH		"5Aep861REFRESH-proof-0123456789"
#define ACCESS		"00Dxx0000001gPL!ACCESS-proof-0123"

static char			 dbpath[64];
static struct config		 cfg;
static struct crypto_key	 cfg_key;
static const struct slack_user	 owner = { "", "T0000001", "U0000001" };
static const struct slack_user	 other = { "", "T0000001", "U0000002" };

static void
setup(void)
{
	int	 fd;

	crypto_init();
	http_init();
	strcpy(dbpath, "/tmp/fl-proof-XXXXXX");
	fd = mkstemp(dbpath);
	ck_assert_int_ne(fd, -1);
	close(fd);
	unlink(dbpath);
	tu_session_config(&cfg, &cfg_key);
	cfg.db_path = dbpath;
	cfg.link_proof = CONFIG_PROOF_CODE;
}

static void
teardown(void)
{
	static const char *const ext[] = { "", "-wal", "-shm",
	    "-refresh.lock" };
	char	 p[128];
	size_t	 i;

	for (i = 0; i < NELEM(ext); i++) {
		snprintf(p, sizeof(p), "%s%s", dbpath, ext[i]);
		unlink(p);
	}
	keyring_free(cfg.keyring);
	cfg.keyring = NULL;
}

/* One integer from the database, as an admin with sqlite3 would read
 * it. */
static long long
raw_int(const char *sql)
{
	sqlite3		*db = NULL;
	sqlite3_stmt	*s = NULL;
	long long	 v;

	ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void
raw_exec(const char *sql)
{
	sqlite3	*db = NULL;

	ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static long long
pending_rows(void)
{
	return raw_int("SELECT count(*) FROM login_state WHERE "
	    "pend_refresh_ct IS NOT NULL");
}

/*
 * A login of who taken through Salesforce, as the callback does in code
 * mode: nonce added, started, its state taken (search left on the row),
 * then proof_hold().  The code shown goes to code.
 */
static void
hold(struct session *s, const struct slack_user *who, const char *name,
    char code[CRYPTO_CODE_MAX])
{
	struct store_link	 l;
	struct slack_user	 got;
	unsigned char		 n[CRYPTO_HASHLEN], h[CRYPTO_HASHLEN];
	char			 buf[64], *v = NULL;
	time_t			 now = time(NULL);

	snprintf(buf, sizeof(buf), "nonce %s", name);
	crypto_sha256(buf, n);
	snprintf(buf, sizeof(buf), "state %s", name);
	crypto_sha256(buf, h);
	ck_assert_int_eq(store_nonce_add_login(s->st, who, NULL, n,
	    now + 600, NULL), STORE_OK);
	ck_assert_int_eq(store_nonce_start_leg(s->st, STORE_LEG_SALESFORCE,
	    n, now, h, h, VERIFIER, now + 600, &got), STORE_OK);
	ck_assert_int_eq(store_state_take_leg(s->st, STORE_LEG_SALESFORCE, h,
	    h, now, &got, &v, NULL), STORE_OK);
	crypto_free_secret(v);
	memset(&l, 0, sizeof(l));
	l.org = (char *)"";
	l.sf_user_id = (char *)"005000000000002AAA";
	l.sf_org_id = (char *)"00D000000000001AAA";
	l.sf_username = (char *)"bob@example.com";
	l.instance_url = (char *)"https://127.0.0.1:9";
	l.access_token = (char *)ACCESS;
	l.refresh_token = (char *)REFRESH;
	ck_assert_int_eq(proof_hold(s, h, &l, code), SESSION_OK);
}

static int
linked(struct session *s, const struct slack_user *who)
{
	struct store_link	 l;
	enum store_result	 r;

	r = store_link_get(s->st, who, &l);
	if (r == STORE_OK)
		store_link_free(&l);
	return r == STORE_OK;
}

/* The code shown is XXXXX-XXXXX, kept as the SHA-256 of its ten
 * characters only, for PROOF_CODE_TTL seconds, with no try used. */
START_TEST(test_hold)
{
	struct session	*s;
	char		 code[CRYPTO_CODE_MAX], norm[CRYPTO_CODE_MAX];
	char		 q[256], hex[65];
	unsigned char	 h[CRYPTO_HASHLEN];
	time_t		 now = time(NULL);

	ck_assert_ptr_nonnull(s = session_new(&cfg));
	hold(s, &owner, "a", code);
	ck_assert_uint_eq(strlen(code), 11);
	ck_assert_int_eq(code[5], '-');
	ck_assert_int_eq(crypto_code_norm(code, norm), 0);
	crypto_sha256(norm, h);
	crypto_hex(h, sizeof(h), hex);
	snprintf(q, sizeof(q), "SELECT count(*) FROM login_state WHERE "
	    "lower(hex(confirm_hash)) = '%s' AND confirm_tries = 0", hex);
	ck_assert_int_eq(raw_int(q), 1);
	ck_assert_int_ge(raw_int("SELECT expires_at FROM login_state"),
	    now + PROOF_CODE_TTL);
	ck_assert_int_le(raw_int("SELECT expires_at FROM login_state"),
	    time(NULL) + PROOF_CODE_TTL);
	ck_assert_int_eq(linked(s, &owner), 0);
	session_free(s);
}
END_TEST

/* A grant that cannot be kept pending (no taken state for it) is an
 * error, and no code is left to show. */
START_TEST(test_hold_fail_no_state)
{
	struct session		*s;
	struct store_link	 l;
	unsigned char		 h[CRYPTO_HASHLEN];
	char			 code[CRYPTO_CODE_MAX];

	ck_assert_ptr_nonnull(s = session_new(&cfg));
	memset(&l, 0, sizeof(l));
	l.org = (char *)"";
	l.sf_user_id = (char *)"005000000000002AAA";
	l.sf_org_id = (char *)"00D000000000001AAA";
	l.sf_username = (char *)"bob@example.com";
	l.instance_url = (char *)"https://127.0.0.1:9";
	l.access_token = (char *)ACCESS;
	l.refresh_token = (char *)REFRESH;
	crypto_sha256("state never issued", h);
	ck_assert_int_eq(proof_hold(s, h, &l, code), SESSION_ERROR);
	ck_assert_int_eq(code[0], '\0');
	ck_assert_int_eq(pending_rows(), 0);
	session_free(s);
}
END_TEST

/* What typed text, typed by whom after how many wrong codes, comes to. */
enum typed { T_RIGHT, T_RIGHT_LOWER_NODASH, T_WRONG, T_MALFORMED };
static const struct {
	const char		*name;
	int			 pending;	/* a login waits for its code */
	int			 wrong_before;	/* wrong codes typed first */
	int			 by_other;	/* typed by another user */
	enum typed		 typed;
	enum proof_confirm	 r;
	int			 left;
	int			 linked;	/* owner linked after */
	long long		 tries;		/* confirm_tries after */
} confirm_cases[] = {
	{ "right code", 1, 0, 0, T_RIGHT, PROOF_CONFIRM_LINKED, 0, 1, 0 },
	{ "lower case, no dash", 1, 0, 0, T_RIGHT_LOWER_NODASH,
	    PROOF_CONFIRM_LINKED, 0, 1, 0 },
	{ "right code after 4 wrong", 1, 4, 0, T_RIGHT,
	    PROOF_CONFIRM_LINKED, 0, 1, 4 },
	{ "fail: another user's right code", 1, 0, 1, T_RIGHT,
	    PROOF_CONFIRM_OTHER, 0, 0, 0 },
	{ "fail: first wrong code", 1, 0, 0, T_WRONG, PROOF_CONFIRM_WRONG, 4,
	    0, 1 },
	{ "fail: fourth wrong code", 1, 3, 0, T_WRONG, PROOF_CONFIRM_WRONG, 1,
	    0, 4 },
	{ "fail: fifth wrong code voids", 1, 4, 0, T_WRONG,
	    PROOF_CONFIRM_VOID, 0, 0, 5 },
	{ "fail: right code once void", 1, 5, 0, T_RIGHT, PROOF_CONFIRM_NONE,
	    0, 0, 5 },
	{ "fail: another user's wrong code costs the owner nothing", 1, 0, 1,
	    T_WRONG, PROOF_CONFIRM_NONE, 0, 0, 0 },
	{ "fail: not a code", 1, 0, 0, T_MALFORMED, PROOF_CONFIRM_MALFORMED,
	    0, 0, 0 },
	{ "fail: nothing waiting", 0, 0, 0, T_WRONG, PROOF_CONFIRM_NONE, 0,
	    0, -1 },
};

START_TEST(test_confirm_table)
{
	struct session_linked	 out;
	struct store_search	 search;
	struct session		*s;
	const struct slack_user	*who;
	char			 code[CRYPTO_CODE_MAX], typed[32], wrong[16];
	char			*p;
	int			 i, left = -1;
	enum proof_confirm	 r;

	ck_assert_ptr_nonnull(s = session_new(&cfg));
	strcpy(code, "");
	if (confirm_cases[_i].pending)
		hold(s, &owner, "c", code);
	strcpy(wrong, strcmp(code, "ZZZZZ-ZZZZZ") != 0 ? "ZZZZZ-ZZZZZ" :
	    "YYYYY-YYYYY");
	for (i = 0; i < confirm_cases[_i].wrong_before; i++) {
		r = proof_confirm(s, &owner, wrong, &out, &search, &left);
		ck_assert_int_eq(r, i < PROOF_TRIES - 1 ? PROOF_CONFIRM_WRONG :
		    PROOF_CONFIRM_VOID);
	}
	switch (confirm_cases[_i].typed) {
	case T_RIGHT:
		snprintf(typed, sizeof(typed), "%s", code);
		break;
	case T_RIGHT_LOWER_NODASH:
		for (i = 0, p = typed; code[i] != '\0'; i++)
			if (code[i] != '-')
				*p++ = (char)tolower((unsigned char)code[i]);
		*p = '\0';
		break;
	case T_WRONG:
		snprintf(typed, sizeof(typed), "%s", wrong);
		break;
	case T_MALFORMED:
		snprintf(typed, sizeof(typed), "%s", "not-a-code");
		break;
	}
	who = confirm_cases[_i].by_other ? &other : &owner;
	r = proof_confirm(s, who, typed, &out, &search, &left);
	ck_assert_msg(r == confirm_cases[_i].r, "%s: %s, not %s",
	    confirm_cases[_i].name, proof_confirm_str(r),
	    proof_confirm_str(confirm_cases[_i].r));
	ck_assert_int_eq(left, confirm_cases[_i].left);
	if (r == PROOF_CONFIRM_LINKED) {
		ck_assert_str_eq(out.sf_username, "bob@example.com");
		ck_assert_ptr_null(search.text);
		session_linked_free(&out);
	}
	ck_assert_int_eq(linked(s, &owner), confirm_cases[_i].linked);
	ck_assert_int_eq(linked(s, &other), 0);
	if (confirm_cases[_i].tries >= 0)
		ck_assert_int_eq(raw_int("SELECT confirm_tries FROM "
		    "login_state"), confirm_cases[_i].tries);
	/* Taken only by a link; void or refused otherwise, and due for the
	 * sweep, which cannot reach Salesforce here: still pending. */
	if (confirm_cases[_i].pending)
		ck_assert_int_eq(pending_rows(), r == PROOF_CONFIRM_LINKED ?
		    0 : 1);
	session_free(s);
}
END_TEST

/* Nothing about a code reaches the log: not as shown, not as typed. */
START_TEST(test_confirm_logs_no_code)
{
	struct session_linked	 out;
	struct store_search	 search;
	struct session		*s;
	char			 code[CRYPTO_CODE_MAX], norm[CRYPTO_CODE_MAX];
	char			 path[] = "/tmp/fl-proof-log-XXXXXX", buf[65536];
	FILE			*f;
	size_t			 n;
	int			 fd, saved, left;

	fd = mkstemp(path);
	ck_assert_int_ne(fd, -1);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	ck_assert_ptr_nonnull(s = session_new(&cfg));
	hold(s, &owner, "log", code);
	(void)proof_confirm(s, &other, "ABCDE-12345", &out, &search, &left);
	(void)proof_confirm(s, &owner, "ABCDE-12345", &out, &search, &left);
	ck_assert_int_eq(proof_confirm(s, &owner, code, &out, &search, &left),
	    PROOF_CONFIRM_LINKED);
	session_linked_free(&out);
	session_free(s);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ck_assert_ptr_nonnull(f = fdopen(fd, "r"));
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(path);
	ck_assert_ptr_nonnull(strstr(buf, "proof.confirm"));
	ck_assert_int_eq(crypto_code_norm(code, norm), 0);
	ck_assert_ptr_null(strstr(buf, code));
	ck_assert_ptr_null(strstr(buf, norm));
	ck_assert_ptr_null(strstr(buf, "ABCDE"));
	ck_assert_ptr_null(strstr(buf, REFRESH));
	ck_assert_ptr_null(strstr(buf, ACCESS));
}
END_TEST

/* --- The sweep, against a local Salesforce ---------------------------- */

/* What Salesforce answers a revoke, and whether the pending grant is
 * then dropped (a 400 means it is revoked already: done too). */
static const struct {
	const char	*name;
	const char	*reply;		/* NULL: nothing listens */
	int		 dropped;
} sweep_cases[] = {
	{ "revoked", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1 },
	{ "unknown or revoked already", "HTTP/1.1 400 Bad Request\r\n"
	    "Content-Type: application/x-www-form-urlencoded\r\n"
	    "Content-Length: 53\r\n\r\n"
	    "error=invalid_token&error_description=invalid%20token", 1 },
	{ "fail: Salesforce error keeps it", "HTTP/1.1 503 Service "
	    "Unavailable\r\nContent-Length: 0\r\n\r\n", 0 },
	{ "fail: Salesforce unreachable keeps it", NULL, 0 },
};

START_TEST(test_sweep_table)
{
	struct tls_server	 srv;
	struct session		*s;
	char			 code[CRYPTO_CODE_MAX], url[64], last[4096];
	int			 requests = 0, rc;

	if (sweep_cases[_i].reply != NULL) {
		tls_start(&srv, "server", sweep_cases[_i].reply,
		    strlen(sweep_cases[_i].reply));
		snprintf(url, sizeof(url), "https://127.0.0.1:%d", srv.port);
		cfg.sf.login_url = url;
	}
	ck_assert_ptr_nonnull(s = session_new(&cfg));
	http_free(s->http);
	s->http = tls_client("ca.pem");
	hold(s, &owner, "sweep", code);
	/* Not due before its time. */
	ck_assert_int_eq(proof_sweep(s, time(NULL), PROOF_SWEEP_SOME), 0);
	ck_assert_int_eq(pending_rows(), 1);
	rc = proof_sweep(s, time(NULL) + PROOF_CODE_TTL + 1,
	    PROOF_SWEEP_SOME);
	ck_assert_int_eq(rc, sweep_cases[_i].dropped);
	ck_assert_int_eq(pending_rows(), sweep_cases[_i].dropped ? 0 : 1);
	if (sweep_cases[_i].reply != NULL) {
		tls_last(&srv, last, sizeof(last), &requests);
		ck_assert_int_eq(requests, 1);
		ck_assert_ptr_nonnull(strstr(last,
		    "POST /services/oauth2/revoke "));
		ck_assert_ptr_nonnull(strstr(last, "token=" REFRESH));
		tls_stop(&srv);
	}
	ck_assert_int_eq(linked(s, &owner), 0);
	session_free(s);
	cfg.sf.login_url = "https://127.0.0.1:9";
}
END_TEST

/* A void login (five wrong codes) is due at once, not at its expiry. */
START_TEST(test_sweep_void_at_once)
{
	struct session_linked	 out;
	struct store_search	 search;
	struct tls_server	 srv;
	struct session		*s;
	static const char	 ok[] =
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	char			 code[CRYPTO_CODE_MAX], url[64];
	int			 left;

	tls_start(&srv, "server", ok, strlen(ok));
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", srv.port);
	cfg.sf.login_url = url;
	ck_assert_ptr_nonnull(s = session_new(&cfg));
	http_free(s->http);
	s->http = tls_client("ca.pem");
	hold(s, &owner, "void", code);
	raw_exec("UPDATE login_state SET confirm_tries = 4");
	ck_assert_int_eq(proof_confirm(s, &owner, strcmp(code,
	    "ZZZZZ-ZZZZZ") != 0 ? "ZZZZZ-ZZZZZ" : "YYYYY-YYYYY", &out,
	    &search, &left), PROOF_CONFIRM_VOID);
	/* proof_confirm swept it along the way. */
	ck_assert_int_eq(pending_rows(), 0);
	tls_stop(&srv);
	session_free(s);
	cfg.sf.login_url = "https://127.0.0.1:9";
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("proof");
	TCase	*tc;

	tc = tcase_create("code");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_hold);
	tcase_add_test(tc, test_hold_fail_no_state);
	tcase_add_loop_test(tc, test_confirm_table, 0, NELEM(confirm_cases));
	tcase_add_test(tc, test_confirm_logs_no_code);
	suite_add_tcase(s, tc);

	tc = tcase_create("sweep");
	tcase_add_unchecked_fixture(tc, tls_certs_setup, tls_certs_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_sweep_table, 0, NELEM(sweep_cases));
	tcase_add_test(tc, test_sweep_void_at_once);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

/*
 * Unit tests of common/slackreq.c: a request from Slack read, verified
 * and validated in one call, on a FastCGI request made of memory
 * (tu_req.h) and a real store (tu_db.h: SQLite, or PostgreSQL when
 * FL_TEST_PG_URI is set) for the replay check.  Each refusal is checked
 * by the status and body nginx would pass on, and the request is left
 * for reply_end() to finish; an accepted request hands back its field
 * map and has written nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "config.h"
#include "crypto.h"
#include "fiber.h"
#include "fields.h"
#include "http.h"
#include "keyring.h"
#include "reply.h"
#include "session.h"
#include "slack.h"
#include "slackreq.h"
#include "testutil.h"
#include "tu_db.h"
#include "tu_req.h"

#define SECRET		"unit-test-signing-secret"
#define TOKEN		"unit-test-verification-token"
#define URL		"https://hooks.slack.com/commands/T0001/1/abc"
#define URL_ENC		"https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT0001%2F1%2Fabc"

/* What Slack sends for "/contact smith & co" (text escaped by Slack's
 * rules is the handler's business; here it is only percent-decoded). */
#define BODY	"token=" TOKEN "&team_id=T0001&team_domain=acme" \
		"&channel_id=C0001&channel_name=general&user_id=U0001" \
		"&user_name=alice&command=%2Fcontact&text=smith+%26%20co" \
		"&api_app_id=A0001&is_enterprise_install=false" \
		"&response_url=" URL_ENC "&trigger_id=1.2.3"

static char			 dbpath[64];
static struct config		 cfg;
static struct crypto_key	 cfg_key;
/* The session slackreq_read is given: bare (no store: any use of one
 * would crash the test), or with a store (store_up). */
static struct session		 bare;
static struct session		*sess;
static struct session		*with_store;

static void
setup(void)
{
	/* The store's migration lines too: the output stays quiet. */
	tu_log_start();
	crypto_init();
	memset(&cfg, 0, sizeof(cfg));
	cfg.public_url = "https://fl.example.com";
	cfg.response_url_prefix = "https://hooks.slack.com/";
	cfg.slack_signing_secret = SECRET;
	ck_assert_int_eq(crypto_key_from_base64(&cfg_key,
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="), 0);
	ck_assert_ptr_nonnull(cfg.keyring = keyring_from_keys(&cfg_key, 1));
	memset(&bare, 0, sizeof(bare));
	bare.cfg = &cfg;
	sess = &bare;
}

/* A request that gets as far as the replay check needs a store: a
 * fresh database of the test's own. */
static void
store_up(void)
{
	int	 fd;

	strcpy(dbpath, "/tmp/fl-slackreq-XXXXXX");
	ck_assert_int_ne(fd = mkstemp(dbpath), -1);
	close(fd);
	unlink(dbpath);
	cfg.db_path = (char *)tu_db_create(dbpath);
	ck_assert_ptr_nonnull(with_store = session_new(&cfg));
	sess = with_store;
}

static void
teardown(void)
{
	tu_log_stop();
	if (with_store != NULL) {
		session_free(with_store);
		with_store = NULL;
		tu_db_destroy();
	}
	sess = NULL;
	keyring_free(cfg.keyring);
	cfg.keyring = NULL;
}

/* How a test request is signed. */
enum sign {
	SIGN_GOOD,		/* as Slack signs it, now */
	SIGN_BAD,		/* a signature made with another secret */
	SIGN_NONE,		/* neither header */
	SIGN_STALE		/* as Slack signs it, ten minutes ago */
};

/* One request and what slackreq_read made of it. */
struct fx {
	struct tu_req	 r;
	struct reply	 rp;
	struct slackreq	 q;
	int		 rc;
	int		 seen;		/* answered when the read returned */
};

/* The timestamp requests are signed with; 0: the clock's at signing.
 * A replay must be the same signature, so a second boundary between the
 * two requests must not give the copy a new one. */
static long	 fx_ts;

/*
 * Makes the request: method, CONTENT_LENGTH (NULL: absent; "=" the
 * body's length), body, signed as sign says.
 */
static void
fx_make(struct fx *x, const char *method, const char *cl, const char *body,
    enum sign sign)
{
	unsigned char	 mac[32];
	char		 base[TU_REQ_BODY_MAX + 64], hex[65];
	long		 ts = fx_ts != 0 ? fx_ts : (long)time(NULL);

	memset(x, 0, sizeof(*x));
	tu_req_init(&x->r, body);
	tu_req_env(&x->r, "REQUEST_METHOD=%s", method);
	tu_req_env(&x->r, "CONTENT_TYPE=application/x-www-form-urlencoded");
	if (cl != NULL && strcmp(cl, "=") == 0)
		tu_req_env(&x->r, "CONTENT_LENGTH=%zu", strlen(body));
	else if (cl != NULL)
		tu_req_env(&x->r, "CONTENT_LENGTH=%s", cl);
	if (sign == SIGN_NONE)
		return;
	if (sign == SIGN_STALE)
		ts -= 2 * SLACK_MAX_SKEW;
	snprintf(base, sizeof(base), "v0:%ld:%s", ts, body);
	crypto_hmac_sha256(sign == SIGN_BAD ? "another-secret" : SECRET,
	    strlen(sign == SIGN_BAD ? "another-secret" : SECRET), base,
	    strlen(base), mac);
	crypto_hex(mac, sizeof(mac), hex);
	tu_req_env(&x->r, "HTTP_X_SLACK_REQUEST_TIMESTAMP=%ld", ts);
	tu_req_env(&x->r, "HTTP_X_SLACK_SIGNATURE=v0=%s", hex);
}

/* Reads x's request against the slash-command table. */
static void
fx_read(struct fx *x)
{
	reply_start(&x->rp, &x->r.req, sess);
	x->rc = slackreq_read(&x->rp, sess, fields_slash, SLASH__MAX, &x->q);
}

/* Ends x as contact does: reply_end finishes the request, once. */
static void
fx_end(struct fx *x)
{
	reply_end(&x->rp);
	slackreq_free(&x->q);
	ck_assert_int_eq(tu_req_finished(&x->r), 1);
}

/* Checks that x was refused with status and body (and type), and that
 * no field is handed back. */
static void
assert_refused(struct fx *x, int status, const char *type, const char *body)
{
	struct tu_answer	 a;
	int			 i;

	ck_assert_int_eq(x->rc, -1);
	ck_assert_int_eq(reply_answered(&x->rp), 1);
	/* Answered, not finished: that is reply_end's. */
	ck_assert_int_eq(tu_req_finished(&x->r), 0);
	tu_req_answer(&x->r, &a);
	ck_assert_int_eq(a.status, status);
	ck_assert_str_eq(a.type, type);
	ck_assert_str_eq(a.body, body);
	for (i = 0; i < SLASH__MAX; i++)
		ck_assert_ptr_null(x->q.field[i]);
}

#define PLAIN	"text/plain; charset=utf-8"

/* --- Refusals ------------------------------------------------------------ */

static const struct {
	const char	*what;
	const char	*method;
	const char	*cl;
	const char	*body;
	enum sign	 sign;
	int		 status;
	const char	*answer;
} refusals[] = {
	/* Refused before the store is asked (the session has none). */
	{ "GET", "GET", "=", BODY, SIGN_GOOD, 405, "POST only\n" },
	{ "HEAD", "HEAD", "=", BODY, SIGN_GOOD, 405, "POST only\n" },
	{ "no length", "POST", NULL, BODY, SIGN_GOOD, 411,
	    "length required" },
	{ "bad length", "POST", "12a", BODY, SIGN_GOOD, 400,
	    "malformed content length" },
	{ "too large", "POST", "65537", BODY, SIGN_GOOD, 413,
	    "request body too large" },
	{ "cut short", "POST", "4000", BODY, SIGN_GOOD, 400,
	    "request body shorter than its length" },
	{ "bad signature", "POST", "=", BODY, SIGN_BAD, 401,
	    "request verification failed\n" },
	{ "no signature", "POST", "=", BODY, SIGN_NONE, 401,
	    "request verification failed\n" },
	{ "stale", "POST", "=", BODY, SIGN_STALE, 401,
	    "request verification failed\n" },
	/* Nothing is decoded before the signature is checked: a
	 * malformed body badly signed is a 401, not a 400. */
	{ "bad signature, malformed", "POST", "=", "team_id=%zz&user_id=U1",
	    SIGN_BAD, 401, "request verification failed\n" },
	{ "no signature, malformed", "POST", "=", "%%%", SIGN_NONE, 401,
	    "request verification failed\n" },
#define REFUSED_BEFORE_THE_STORE	11
	{ "malformed", "POST", "=", "team_id=%zz&user_id=U0001", SIGN_GOOD,
	    400, "malformed form body\n" },
	{ "encoded NUL", "POST", "=", "team_id=T0001&user_id=U0001&text=a%00",
	    SIGN_GOOD, 400, "malformed form body\n" },
	{ "no user_id", "POST", "=", "team_id=T0001&text=smith", SIGN_GOOD,
	    400, "missing team_id or user_id\n" },
	{ "empty team_id", "POST", "=", "team_id=&user_id=U0001", SIGN_GOOD,
	    400, "missing team_id or user_id\n" },
	{ "bad team_id", "POST", "=", "team_id=t0001&user_id=U0001",
	    SIGN_GOOD, 400, "invalid form field\n" },
	{ "two user_id", "POST", "=",
	    "team_id=T0001&user_id=U0001&user_id=U0002", SIGN_GOOD, 400,
	    "invalid form field\n" },
	{ "http response_url", "POST", "=", "team_id=T0001&user_id=U0001"
	    "&response_url=http%3A%2F%2Fhooks.slack.com%2Fx", SIGN_GOOD, 400,
	    "invalid form field\n" },
	/* Slack's check of the certificate: 200 and nothing more. */
	{ "ssl_check", "POST", "=", "token=" TOKEN "&ssl_check=1", SIGN_GOOD,
	    200, "" },
};

START_TEST(refused)
{
	struct fx	 x;

	if (_i >= REFUSED_BEFORE_THE_STORE)
		store_up();
	fx_make(&x, refusals[_i].method, refusals[_i].cl, refusals[_i].body,
	    refusals[_i].sign);
	fx_read(&x);
	assert_refused(&x, refusals[_i].status, PLAIN, refusals[_i].answer);
	/* A refusal is no Slack acknowledgement. */
	ck_assert_int_eq(tu_log_count("event=slack.ack", (char *)NULL), 0);
	if (refusals[_i].status == 401)
		ck_assert_int_eq(tu_log_count("event=slack.verify",
		    (char *)NULL), 1);
	fx_end(&x);
}
END_TEST

/* A table longer than the field map is our error, not the request's. */
START_TEST(table_too_long)
{
	struct form_field	 big[SLACKREQ_FIELDS_MAX + 1];
	struct fx		 x;
	size_t			 i;

	for (i = 0; i < SLACKREQ_FIELDS_MAX + 1; i++)
		big[i] = fields_slash[i % SLASH__MAX];
	fx_make(&x, "POST", "=", BODY, SIGN_GOOD);
	reply_start(&x.rp, &x.r.req, sess);
	x.rc = slackreq_read(&x.rp, sess, big, SLACKREQ_FIELDS_MAX + 1, &x.q);
	assert_refused(&x, 500, PLAIN, "internal error\n");
	fx_end(&x);
}
END_TEST

/* --- Accepted ------------------------------------------------------------- */

/* Checks BODY's field map. */
static void
assert_fields(const struct fx *x)
{
	const char *const	*f = x->q.field;

	ck_assert_int_eq(x->rc, 0);
	ck_assert_str_eq(f[SLASH_TEAM_ID], "T0001");
	ck_assert_str_eq(f[SLASH_USER_ID], "U0001");
	ck_assert_str_eq(f[SLASH_USER_NAME], "alice");
	ck_assert_str_eq(f[SLASH_COMMAND], "/contact");
	ck_assert_str_eq(f[SLASH_TEXT], "smith & co");
	ck_assert_str_eq(f[SLASH_RESPONSE_URL], URL);
	ck_assert_str_eq(f[SLASH_TOKEN], TOKEN);
	ck_assert_str_eq(f[SLASH_TEAM_DOMAIN], "acme");
	ck_assert_str_eq(f[SLASH_CHANNEL_ID], "C0001");
	ck_assert_str_eq(f[SLASH_CHANNEL_NAME], "general");
	ck_assert_str_eq(f[SLASH_TRIGGER_ID], "1.2.3");
	ck_assert_str_eq(f[SLASH_API_APP_ID], "A0001");
	ck_assert_str_eq(f[SLASH_IS_ENTERPRISE_INSTALL], "false");
	ck_assert_ptr_null(f[SLASH_ENTERPRISE_ID]);
	ck_assert_ptr_null(f[SLASH_ENTERPRISE_NAME]);
	ck_assert_ptr_null(f[SLASH_SSL_CHECK]);
	/* Nothing answered, nothing written, nothing finished. */
	ck_assert_int_eq(reply_answered(&x->rp), 0);
	ck_assert_uint_eq(tu_req_outlen(&x->r), 0);
	ck_assert_int_eq(tu_req_finished(&x->r), 0);
}

START_TEST(signed_fills_the_field_map)
{
	struct fx	 x;

	store_up();
	fx_make(&x, "POST", "=", BODY, SIGN_GOOD);
	fx_read(&x);
	assert_fields(&x);
	ck_assert_int_eq(tu_log_count("level=warn", (char *)NULL), 0);
	fx_end(&x);
	/* ssl_check other than 1 is no certificate check. */
	fx_make(&x, "POST", "=", BODY "&ssl_check=0", SIGN_GOOD);
	fx_read(&x);
	ck_assert_int_eq(x.rc, 0);
	ck_assert_str_eq(x.q.field[SLASH_SSL_CHECK], "0");
	ck_assert_uint_eq(tu_req_outlen(&x.r), 0);
	fx_end(&x);
}
END_TEST

/* The same signed request twice: the second is a replay. */
START_TEST(replay_refused)
{
	struct fx	 x;

	store_up();
	fx_ts = (long)time(NULL);
	fx_make(&x, "POST", "=", BODY, SIGN_GOOD);
	fx_read(&x);
	ck_assert_int_eq(x.rc, 0);
	fx_end(&x);
	fx_make(&x, "POST", "=", BODY, SIGN_GOOD);
	fx_read(&x);
	assert_refused(&x, 401, PLAIN, "replayed request\n");
	ck_assert_int_eq(tu_log_count("event=slack.verify", "outcome=replay",
	    (char *)NULL), 1);
	fx_end(&x);
	/* Another request (another signature) is not. */
	fx_make(&x, "POST", "=", BODY "&x=1", SIGN_GOOD);
	fx_read(&x);
	ck_assert_int_eq(x.rc, 0);
	fx_end(&x);
	fx_ts = 0;
}
END_TEST

/* A store that cannot say whether the signature was seen: Slack gets
 * the apology (a 200 it shows the user) and nothing is done. */
START_TEST(store_unavailable_apologises)
{
	struct fx		 x;
	struct tu_answer	 a;
	char			 text[256];
	const char		*line;

	store_up();
	tu_db_exec("DROP TABLE slack_replay");
	fx_make(&x, "POST", "=", BODY, SIGN_GOOD);
	fx_read(&x);
	ck_assert_int_eq(x.rc, -1);
	ck_assert_int_eq(reply_answered(&x.rp), 1);
	tu_req_answer(&x.r, &a);
	ck_assert_int_eq(a.status, 200);
	ck_assert_str_eq(a.type, "application/json");
	tu_answer_text(a.body, text, sizeof(text));
	ck_assert_str_eq(text, REPLY_SORRY);
	ck_assert_ptr_null(x.q.field[SLASH_TEAM_ID]);
	ck_assert_int_eq(tu_log_count("event=slack.verify",
	    "outcome=store_unavailable", (char *)NULL), 1);
	ck_assert_ptr_nonnull(line = tu_log_line("event=slack.ack"));
	ck_assert_int_eq(tu_log_num(line, "deferred"), 0);
	ck_assert_int_eq(tu_req_finished(&x.r), 0);
	fx_end(&x);
}
END_TEST

/* --- Legacy apps: the verification token ------------------------------- */

static const struct {
	const char	*body;
	int		 status;	/* 0: accepted */
	const char	*answer;
} legacy[] = {
	{ BODY, 0, NULL },
	{ "token=wrong-token&team_id=T0001&user_id=U0001", 401,
	    "request verification failed\n" },
	{ "token=&team_id=T0001&user_id=U0001", 401,
	    "request verification failed\n" },
	{ "team_id=T0001&user_id=U0001", 401, "request verification failed\n" },
	/* A body that cannot be read has no token to trust. */
	{ "token=" TOKEN "&team_id=%zz", 401, "request verification failed\n" },
	{ "token=" TOKEN "&team_id=T0001", 400, "missing team_id or user_id\n" },
	{ "token=" TOKEN "&ssl_check=1", 200, "" },
	{ "token=wrong-token&ssl_check=1", 401,
	    "request verification failed\n" },
};

START_TEST(legacy_token)
{
	struct fx	 x;

	cfg.slack_signing_secret = NULL;
	cfg.slack_verification_token = TOKEN;
	/* Signatures mean nothing here: none is sent, and no store is
	 * asked (the session has none). */
	fx_make(&x, "POST", "=", legacy[_i].body, SIGN_NONE);
	fx_read(&x);
	if (legacy[_i].status == 0)
		assert_fields(&x);
	else
		assert_refused(&x, legacy[_i].status, PLAIN,
		    legacy[_i].answer);
	fx_end(&x);
}
END_TEST

/* --- The deadline while the store is asked -------------------------------- */

static void
fib_queued(void *arg)
{
	struct fx	*x = arg;

	fx_read(x);
	x->seen = reply_answered(&x->rp);
	fiber_sleep(1);
	reply_end(&x->rp);
}

/*
 * A request queued past its 2.5 s reaches the replay check with its
 * deadline due.  On PostgreSQL the check waits for the server, and the
 * deadline answers there: the apology, the request finished, and
 * slackreq_read stops (-1).  On SQLite the store never gives the thread
 * up (fiber.h), so the check completes and the deadline answers at the
 * handler's first wait instead.
 */
START_TEST(deadline_while_store_asked)
{
	struct fx		 x;
	struct tu_answer	 a;
	char			 text[256];
	const char		*line;

	store_up();
	fx_make(&x, "POST", "=", BODY, SIGN_GOOD);
	tu_req_start_ago(&x.r, 3000);
	{
		struct fiber_sched	*s;
		long			 t0 = tu_now_ms();

		ck_assert_ptr_nonnull(s = fiber_sched_new(NULL));
		ck_assert_int_eq(fiber_spawn(s, fib_queued, &x), 0);
		while (fiber_sched_live(s) > 0) {
			ck_assert(tu_now_ms() - t0 < 10000);
			fiber_sched_block(s);
		}
		fiber_sched_free(s);
	}
	ck_assert_int_eq(x.rc, tu_db_pg() ? -1 : 0);
	ck_assert_int_eq(x.seen, tu_db_pg());
	tu_req_answer(&x.r, &a);
	ck_assert_int_eq(a.status, 200);
	tu_answer_text(a.body, text, sizeof(text));
	ck_assert_str_eq(text, REPLY_SORRY);
	ck_assert_ptr_nonnull(line = tu_log_line("event=slack.ack"));
	ck_assert_int_eq(tu_log_num(line, "deferred"), 1);
	ck_assert_int_eq(tu_log_count("event=slack.ack", (char *)NULL), 1);
	ck_assert_int_eq(tu_req_finished(&x.r), 1);
	slackreq_free(&x.q);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("slackreq");
	TCase	*tc = tcase_create("slackreq");

	tu_db_init();
	http_init();
	tcase_add_checked_fixture(tc, setup, teardown);
	/* On PostgreSQL only what the engine changes: the replay check,
	 * its failure and the deadline inside it. */
	if (tu_db_pg()) {
		tu_db_skipped("refused", "the same on either engine");
		tu_db_skipped("table_too_long", "asks no store");
		tu_db_skipped("legacy_token", "asks no store");
	} else {
		tcase_add_loop_test(tc, refused, 0,
		    sizeof(refusals) / sizeof(refusals[0]));
		tcase_add_test(tc, table_too_long);
		tcase_add_loop_test(tc, legacy_token, 0,
		    sizeof(legacy) / sizeof(legacy[0]));
	}
	tcase_add_test(tc, signed_fills_the_field_map);
	tcase_add_test(tc, replay_refused);
	tcase_add_test(tc, store_unavailable_apologises);
	tcase_add_test(tc, deadline_while_store_asked);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

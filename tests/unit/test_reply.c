/*
 * Unit tests of common/reply.c: Slack's 3-second rule.  Each story runs
 * a request's reply inside a fiber (the deadline runs only inside a
 * fiber's waits, as in the workers) on a FastCGI request made of memory
 * (tu_req.h), whose answer is read back as nginx would get it and whose
 * FCGX_Finish_r calls are counted.  A story's REQUEST_START is set a
 * little under 2.5 s in the past, so that its deadline falls within a
 * few hundred milliseconds: the tests sleep, and cost little CPU.  The
 * answer that follows at the response_url is POSTed to a local TLS
 * server (tls_server.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "config.h"
#include "fiber.h"
#include "http.h"
#include "metrics.h"
#include "reply.h"
#include "session.h"
#include "testutil.h"
#include "tls_server.h"
#include "tu_req.h"

static struct config	 cfg;
static struct session	 sess;

/* What Slack is told while an answer is on its way, as contact says. */
#define LATER		"Searching Salesforce…"
#define ANSWER		"{\"response_type\":\"ephemeral\",\"text\":\"found 1\"}"
#define URL_OK		"https://hooks.slack.com/commands/T0001/1/abc"

static void
setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	cfg.response_url_prefix = "https://hooks.slack.com/";
	/* reply.c reads the configuration and the HTTP client only; a
	 * test that posts gives it a client. */
	memset(&sess, 0, sizeof(sess));
	sess.cfg = &cfg;
	tu_log_start();
}

static void
teardown(void)
{
	tu_log_stop();
	http_free(sess.http);
	sess.http = NULL;
}

/* Runs fn(arg) as the one fiber of a fresh scheduler, to its end (a hang
 * past 10 s fails). */
static void
run_fiber(void (*fn)(void *), void *arg)
{
	struct fiber_sched	*s;
	long			 t0 = tu_now_ms();

	ck_assert_ptr_nonnull(s = fiber_sched_new(NULL));
	ck_assert_int_eq(fiber_spawn(s, fn, arg), 0);
	while (fiber_sched_live(s) > 0) {
		ck_assert_msg(tu_now_ms() - t0 < 10000, "the fiber never ended");
		fiber_sched_block(s);
	}
	fiber_sched_free(s);
}

/*
 * One request's story.  The fiber records, at each numbered step, what
 * could be seen from outside: whether Slack had its answer, how often
 * the request was finished and how many bytes were written.  The test
 * asserts on them once the fiber has ended.
 */
#define STEPS	6
struct story {
	struct tu_req	 r;
	struct reply	 rp;
	long		 ago;		/* REQUEST_START this long ago */
	const char	*url;		/* response_url for reply_later */
	const char	*later;		/* NULL: reply_later never called */
	int		 now;		/* answers before any wait */
	int		 dl_ran;	/* fiber_deadline_check() at the end */
	int		 answered[STEPS];
	int		 finished[STEPS];
	size_t		 outlen[STEPS];
};

static void
mark(struct story *st, int i)
{
	st->answered[i] = reply_answered(&st->rp);
	st->finished[i] = tu_req_finished(&st->r);
	st->outlen[i] = tu_req_outlen(&st->r);
}

/* The request of st, taken now: REQUEST_START st->ago ms ago. */
static void
story_start(struct story *st)
{
	tu_req_init(&st->r, NULL);
	tu_req_env(&st->r, "REQUEST_METHOD=POST");
	tu_req_start_ago(&st->r, st->ago);
	reply_start(&st->rp, &st->r.req, &sess);
}

/* Checks that the answer is one 200 Slack message whose text is text. */
static void
assert_message(struct story *st, const char *text)
{
	struct tu_answer	 a;
	char			 got[512];

	tu_req_answer(&st->r, &a);
	ck_assert_int_eq(a.status, 200);
	ck_assert_str_eq(a.type, "application/json");
	tu_answer_text(a.body, got, sizeof(got));
	ck_assert_str_eq(got, text);
}

/* The one slack.ack line; checks its deferred= and returns it. */
static const char *
ack_line(int deferred)
{
	const char	*line;

	ck_assert_int_eq(tu_log_count("event=slack.ack", (char *)NULL), 1);
	ck_assert_ptr_nonnull(line = tu_log_line("event=slack.ack"));
	ck_assert_int_eq(tu_log_num(line, "deferred"), deferred);
	return line;
}

/* --- The deadline ------------------------------------------------------- */

/*
 * REQUEST_START as nginx would set it, and whether reply_start believes
 * it: when it does, the deadline is 2.5 s less the time queued (never
 * in the past); when it does not (absent, malformed, a clock step), the
 * request gets the whole 2.5 s from when forcelink took it.
 */
static const struct {
	const char	*start;		/* NULL: absent; "ago:N": N ms ago */
	int		 believed;
	long		 age;		/* ms ago, when believed */
} deadline_cases[] = {
	{ NULL, 0, 0 },
	{ "ago:0", 1, 0 },
	{ "ago:1000", 1, 1000 },
	{ "ago:2400", 1, 2400 },
	{ "ago:3000", 1, 3000 },	/* queued past the budget */
	{ "ago:70000", 0, 0 },		/* older than REQ_AGE_MAX_MS */
	{ "ago:-5000", 0, 0 },		/* far in the future */
	{ "1700000000", 0, 0 },		/* no milliseconds */
	{ "soon", 0, 0 },
};

START_TEST(deadline_from_request_start)
{
	struct tu_req	 r;
	struct reply	 rp;
	long		 budget, want;

	tu_req_init(&r, NULL);
	if (deadline_cases[_i].start != NULL &&
	    strncmp(deadline_cases[_i].start, "ago:", 4) == 0)
		tu_req_start_ago(&r, atol(deadline_cases[_i].start + 4));
	else if (deadline_cases[_i].start != NULL)
		tu_req_env(&r, "REQUEST_START=%s", deadline_cases[_i].start);
	reply_start(&rp, &r.req, &sess);
	budget = (rp.deadline.tv_sec - rp.taken.tv_sec) * 1000L +
	    (rp.deadline.tv_nsec - rp.taken.tv_nsec) / 1000000L;
	if (!deadline_cases[_i].believed) {
		ck_assert_int_eq(rp.wait_ms, -1);
		ck_assert_int_eq(budget, REPLY_ACK_MS);
	} else {
		/* The age read back, give or take the time the test took
		 * (generous: the machine may be loaded). */
		ck_assert_int_ge(rp.wait_ms, deadline_cases[_i].age);
		ck_assert_int_lt(rp.wait_ms, deadline_cases[_i].age + 1000);
		want = REPLY_ACK_MS - rp.wait_ms;
		ck_assert_int_eq(budget, want > 0 ? want : 0);
	}
	ck_assert_int_eq(rp.answered, 0);
	ck_assert_int_eq(tu_req_finished(&r), 0);
	reply_end(&rp);
	ck_assert_int_eq(tu_req_finished(&r), 1);
	ck_assert_uint_eq(tu_req_outlen(&r), 0);
}
END_TEST

/* Answered before the deadline: the JSON is the HTTP response, and the
 * deadline passing afterwards changes nothing. */
static void
fib_answered_in_time(void *arg)
{
	struct story	*st = arg;

	story_start(st);
	reply_later(&st->rp, URL_OK, LATER);
	reply_json(&st->rp, ANSWER);
	mark(st, 0);
	/* The deadline (50 ms away) passes inside this wait. */
	fiber_sleep(150);
	st->dl_ran = fiber_deadline_check();
	mark(st, 1);
	reply_end(&st->rp);
	mark(st, 2);
	reply_finish(&st->rp);
	reply_end(&st->rp);
	mark(st, 3);
}

START_TEST(answered_before_the_deadline)
{
	struct story		 st;
	struct tu_answer	 a;
	const char		*line;

	memset(&st, 0, sizeof(st));
	st.ago = REPLY_ACK_MS - 50;
	run_fiber(fib_answered_in_time, &st);
	tu_req_answer(&st.r, &a);
	ck_assert_int_eq(a.status, 200);
	ck_assert_str_eq(a.type, "application/json");
	ck_assert_str_eq(a.body, ANSWER);
	/* Answered, not finished: the answer leaves when the handler is
	 * done (reply_end), and only once. */
	ck_assert_int_eq(st.answered[0], 1);
	ck_assert_int_eq(st.finished[0], 0);
	ck_assert_int_eq(st.dl_ran, 1);
	ck_assert_int_eq(st.finished[1], 0);
	ck_assert_uint_eq(st.outlen[1], st.outlen[0]);
	ck_assert_int_eq(st.finished[2], 1);
	ck_assert_int_eq(st.finished[3], 1);
	line = ack_line(0);
	ck_assert_ptr_nonnull(strstr(line, " response_url=yes"));
	ck_assert_int_ge(tu_log_num(line, "wait_ms"), REPLY_ACK_MS - 50);
	ck_assert_int_eq(tu_log_count("event=slack.deferred", (char *)NULL),
	    0);
}
END_TEST

/*
 * The deadline passes while the handler waits, after reply_later: Slack
 * gets the later text there and then, the request is finished, and the
 * answer that comes afterwards goes to the response_url -- dropped here,
 * where there is none or it is not one Slack gave.
 */
static void
fib_deadline_after_later(void *arg)
{
	struct story	*st = arg;

	story_start(st);
	/* A sub-command changes only the text. */
	reply_later(&st->rp, st->url, "Working on it…");
	reply_later(&st->rp, NULL, st->later);
	mark(st, 0);
	fiber_sleep(300);
	mark(st, 1);
	reply_json(&st->rp, ANSWER);
	mark(st, 2);
	reply_message(&st->rp, "another answer");
	reply_plain(&st->rp, 400, "refused\n");
	mark(st, 3);
	reply_finish(&st->rp);
	reply_end(&st->rp);
	mark(st, 4);
}

static const char *const dropped_urls[] = {
	NULL,
	"https://evil.example/commands/T0001/1/abc",
	"https://hooks.slack.com.evil.example/commands/T0001/1/abc",
	"http://hooks.slack.com/commands/T0001/1/abc",
	"https://hooks.slack.com/commands/../../abc",
};

START_TEST(deadline_after_later_then_dropped)
{
	struct story	 st;
	const char	*line;
	uint64_t	 dropped0, posted0;
	long		 ack, wait;

	memset(&st, 0, sizeof(st));
	st.ago = REPLY_ACK_MS - 100;
	st.url = dropped_urls[_i];
	st.later = LATER;
	dropped0 = metrics_get()->deferred[METRICS_DEFERRED_DROPPED];
	posted0 = metrics_get()->deferred[METRICS_DEFERRED_POSTED];
	run_fiber(fib_deadline_after_later, &st);
	ck_assert_int_eq(st.answered[0], 0);
	ck_assert_uint_eq(st.outlen[0], 0);
	/* Answered and finished inside the wait, once. */
	ck_assert_int_eq(st.answered[1], 1);
	ck_assert_int_eq(st.finished[1], 1);
	assert_message(&st, LATER);
	/* Nothing more reaches the (finished) HTTP response. */
	ck_assert_uint_eq(st.outlen[2], st.outlen[1]);
	ck_assert_uint_eq(st.outlen[3], st.outlen[1]);
	ck_assert_int_eq(st.finished[3], 1);
	ck_assert_int_eq(st.finished[4], 1);
	line = ack_line(1);
	ck_assert_ptr_nonnull(strstr(line, st.url != NULL ?
	    " response_url=yes" : " response_url=missing"));
	/* The 2.5 s are counted from REQUEST_START: the deadline ran at
	 * 2.5 s less the time queued (not before; after, by as much as a
	 * loaded machine is late to resume the fiber). */
	ack = tu_log_num(line, "ack_ms");
	wait = tu_log_num(line, "wait_ms");
	ck_assert_int_ge(wait, REPLY_ACK_MS - 100);
	ck_assert_int_ge(ack + wait, REPLY_ACK_MS - 1);
	TU_ASSERT_MS_LT(ack, 2000);
	/* Both later answers dropped, each with a line. */
	ck_assert_int_eq(tu_log_count("event=slack.deferred",
	    "outcome=dropped", (char *)NULL), 2);
	ck_assert_uint_eq(metrics_get()->deferred[METRICS_DEFERRED_DROPPED],
	    dropped0 + 2);
	ck_assert_uint_eq(metrics_get()->deferred[METRICS_DEFERRED_POSTED],
	    posted0);
}
END_TEST

/* The deadline passes before the request got as far as reply_later: no
 * answer can follow, so Slack gets the apology. */
static void
fib_deadline_before_later(void *arg)
{
	struct story	*st = arg;

	story_start(st);
	fiber_sleep(300);
	mark(st, 0);
	reply_plain(&st->rp, 401, "request verification failed\n");
	reply_json(&st->rp, NULL);
	mark(st, 1);
	reply_end(&st->rp);
	mark(st, 2);
}

START_TEST(deadline_before_later_apologises)
{
	struct story	 st;

	memset(&st, 0, sizeof(st));
	st.ago = REPLY_ACK_MS - 100;
	run_fiber(fib_deadline_before_later, &st);
	ck_assert_int_eq(st.answered[0], 1);
	ck_assert_int_eq(st.finished[0], 1);
	assert_message(&st, REPLY_SORRY);
	ck_assert_uint_eq(st.outlen[1], st.outlen[0]);
	ck_assert_int_eq(st.finished[2], 1);
	(void)ack_line(1);
	ck_assert_ptr_nonnull(strstr(tu_log_line("event=slack.ack"),
	    " response_url=missing"));
}
END_TEST

/*
 * Queued 3 s before forcelink took it: the budget is spent, and the
 * deadline runs at the first wait -- not before it (a handler that
 * answers without waiting answers in the response).
 */
static void
fib_queued_past_the_budget(void *arg)
{
	struct story	*st = arg;

	story_start(st);
	reply_later(&st->rp, URL_OK, st->later);
	mark(st, 0);
	if (st->now)
		reply_json(&st->rp, ANSWER);
	mark(st, 1);
	fiber_sleep(1);
	mark(st, 2);
	reply_end(&st->rp);
	mark(st, 3);
}

START_TEST(queued_past_the_budget)
{
	struct story	 st;
	struct tu_answer a;
	const char	*line;
	long		 t0;

	memset(&st, 0, sizeof(st));
	st.ago = 3000;
	st.later = LATER;
	t0 = tu_now_ms();
	run_fiber(fib_queued_past_the_budget, &st);
	TU_ASSERT_MS_LT(tu_now_ms() - t0, 1500);
	ck_assert_int_eq(st.answered[1], 0);
	ck_assert_uint_eq(st.outlen[1], 0);
	ck_assert_int_eq(st.answered[2], 1);
	ck_assert_int_eq(st.finished[2], 1);
	ck_assert_int_eq(st.finished[3], 1);
	assert_message(&st, LATER);
	line = ack_line(1);
	ck_assert_int_ge(tu_log_num(line, "wait_ms"), 3000);
	TU_ASSERT_MS_LT(tu_log_num(line, "ack_ms"), 1500);

	/* The same request answered before any wait. */
	memset(&st, 0, sizeof(st));
	tu_log_start();
	st.ago = 3000;
	st.later = LATER;
	st.now = 1;
	run_fiber(fib_queued_past_the_budget, &st);
	ck_assert_int_eq(st.answered[1], 1);
	ck_assert_int_eq(st.finished[2], 0);
	ck_assert_int_eq(st.finished[3], 1);
	tu_req_answer(&st.r, &a);
	ck_assert_str_eq(a.body, ANSWER);
	(void)ack_line(0);
}
END_TEST

/* --- Answers without a deadline ---------------------------------------- */

/* A refusal: plain text, once; nothing after it reaches the response. */
START_TEST(plain_refusal_then_nothing)
{
	struct story		 st;
	struct tu_answer	 a;

	memset(&st, 0, sizeof(st));
	st.ago = 0;
	story_start(&st);
	reply_plain(&st.rp, 401, "request verification failed\n");
	ck_assert_int_eq(reply_answered(&st.rp), 1);
	mark(&st, 0);
	reply_plain(&st.rp, 400, "malformed form body\n");
	reply_message(&st.rp, "not sent");
	ck_assert_uint_eq(tu_req_outlen(&st.r), st.outlen[0]);
	ck_assert_int_eq(tu_req_finished(&st.r), 0);
	reply_end(&st.rp);
	ck_assert_int_eq(tu_req_finished(&st.r), 1);
	tu_req_answer(&st.r, &a);
	ck_assert_int_eq(a.status, 401);
	ck_assert_str_eq(a.type, "text/plain; charset=utf-8");
	ck_assert_str_eq(a.body, "request verification failed\n");
	/* A refusal is no Slack acknowledgement. */
	ck_assert_int_eq(tu_log_count("event=slack.ack", (char *)NULL), 0);
}
END_TEST

/* reply_plain after a JSON answer writes nothing. */
START_TEST(plain_after_answer_writes_nothing)
{
	struct story		 st;
	struct tu_answer	 a;

	memset(&st, 0, sizeof(st));
	story_start(&st);
	reply_message(&st.rp, "Logged out.");
	mark(&st, 0);
	reply_plain(&st.rp, 500, "out of memory\n");
	ck_assert_uint_eq(tu_req_outlen(&st.r), st.outlen[0]);
	reply_end(&st.rp);
	tu_req_answer(&st.r, &a);
	ck_assert_int_eq(a.status, 200);
	assert_message(&st, "Logged out.");
	ck_assert_int_eq(tu_req_finished(&st.r), 1);
	(void)ack_line(0);
}
END_TEST

/* reply_json(NULL): the answer could not be made; a shorter apology. */
START_TEST(json_null_is_the_short_apology)
{
	struct story	 st;

	memset(&st, 0, sizeof(st));
	story_start(&st);
	reply_json(&st.rp, NULL);
	ck_assert_int_eq(reply_answered(&st.rp), 1);
	assert_message(&st, "Something went wrong on our side.");
	ck_assert_str_ne("Something went wrong on our side.", REPLY_SORRY);
	reply_end(&st.rp);
	ck_assert_int_eq(tu_req_finished(&st.r), 1);
	(void)ack_line(0);
}
END_TEST

/* reply_finish() finishes at once (for work after the answer), once. */
START_TEST(finish_runs_once)
{
	struct story	 st;

	memset(&st, 0, sizeof(st));
	story_start(&st);
	reply_message(&st.rp, "Linked.");
	reply_finish(&st.rp);
	ck_assert_int_eq(tu_req_finished(&st.r), 1);
	reply_finish(&st.rp);
	reply_end(&st.rp);
	ck_assert_int_eq(tu_req_finished(&st.r), 1);
	assert_message(&st, "Linked.");
}
END_TEST

/* --- The answer that follows, POSTed ------------------------------------ */

struct post_story {
	struct story	 st;
	const char	*json;
};

static void
fib_post(void *arg)
{
	struct post_story	*p = arg;

	story_start(&p->st);
	reply_later(&p->st.rp, p->st.url, LATER);
	fiber_sleep(200);
	mark(&p->st, 0);
	reply_json(&p->st.rp, p->json);
	mark(&p->st, 1);
	reply_end(&p->st.rp);
	mark(&p->st, 2);
}

/*
 * Runs the deadline-then-answer story against a local server answering
 * reply; returns the request it got in req (n bytes) and how many.
 */
static int
post_story(const char *reply, const char *json, char *req, size_t n)
{
	struct tls_server	 srv;
	struct post_story	 p;
	char			 prefix[64], url[128];
	int			 requests;

	tls_start(&srv, "server", reply, strlen(reply));
	snprintf(prefix, sizeof(prefix), "https://127.0.0.1:%d/", srv.port);
	snprintf(url, sizeof(url), "%scommands/T0001/1/abc", prefix);
	cfg.response_url_prefix = prefix;
	sess.http = tls_client("ca.pem");
	memset(&p, 0, sizeof(p));
	p.st.ago = REPLY_ACK_MS - 100;
	p.st.url = url;
	p.json = json;
	run_fiber(fib_post, &p);
	tls_last(&srv, req, n, &requests);
	tls_stop(&srv);
	cfg.response_url_prefix = NULL;
	/* The later text answered the request; the answer went to the
	 * response_url, not to the finished response. */
	assert_message(&p.st, LATER);
	ck_assert_int_eq(p.st.finished[0], 1);
	ck_assert_uint_eq(p.st.outlen[1], p.st.outlen[0]);
	ck_assert_int_eq(p.st.finished[2], 1);
	(void)ack_line(1);
	return requests;
}

START_TEST(deferred_answer_is_posted)
{
	static const char	 ok[] = "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/html\r\nContent-Length: 2\r\n\r\nok";
	char			 req[4096], *body;
	uint64_t		 posted0 = metrics_get()->deferred[
				    METRICS_DEFERRED_POSTED];

	ck_assert_int_eq(post_story(ok, ANSWER, req, sizeof(req)), 1);
	ck_assert_msg(strncmp(req, "POST /commands/T0001/1/abc HTTP/1.1\r\n",
	    37) == 0, "request: %s", req);
	ck_assert_msg(strcasestr(req, "\r\nContent-Type: application/json\r\n")
	    != NULL, "request: %s", req);
	ck_assert_ptr_nonnull(body = strstr(req, "\r\n\r\n"));
	ck_assert_str_eq(body + 4, ANSWER);
	ck_assert_int_eq(tu_log_count("event=slack.deferred", "outcome=ok",
	    "status=200", (char *)NULL), 1);
	ck_assert_uint_eq(metrics_get()->deferred[METRICS_DEFERRED_POSTED],
	    posted0 + 1);
}
END_TEST

/* The answer that could not be made is POSTed as the short apology; a
 * response_url that refuses it is counted as failed. */
START_TEST(deferred_refused_is_counted)
{
	static const char	 nf[] = "HTTP/1.1 404 Not Found\r\n"
	    "Content-Type: text/html\r\nContent-Length: 12\r\n\r\nexpired_url\n";
	char			 req[4096], *body, text[128];
	uint64_t		 failed0 = metrics_get()->deferred[
				    METRICS_DEFERRED_FAILED];

	ck_assert_int_eq(post_story(nf, NULL, req, sizeof(req)), 1);
	ck_assert_ptr_nonnull(body = strstr(req, "\r\n\r\n"));
	tu_answer_text(body + 4, text, sizeof(text));
	ck_assert_str_eq(text, "Something went wrong on our side.");
	ck_assert_int_eq(tu_log_count("level=warn", "event=slack.deferred",
	    "outcome=ok", "status=404", (char *)NULL), 1);
	ck_assert_uint_eq(metrics_get()->deferred[METRICS_DEFERRED_FAILED],
	    failed0 + 1);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("reply");
	TCase	*tc;

	tc = tcase_create("deadline");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, deadline_from_request_start, 0,
	    sizeof(deadline_cases) / sizeof(deadline_cases[0]));
	tcase_add_test(tc, answered_before_the_deadline);
	tcase_add_loop_test(tc, deadline_after_later_then_dropped, 0,
	    sizeof(dropped_urls) / sizeof(dropped_urls[0]));
	tcase_add_test(tc, deadline_before_later_apologises);
	tcase_add_test(tc, queued_past_the_budget);
	suite_add_tcase(s, tc);

	tc = tcase_create("answers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, plain_refusal_then_nothing);
	tcase_add_test(tc, plain_after_answer_writes_nothing);
	tcase_add_test(tc, json_null_is_the_short_apology);
	tcase_add_test(tc, finish_runs_once);
	suite_add_tcase(s, tc);

	tc = tcase_create("posted");
	tcase_set_timeout(tc, 15);
	tcase_add_unchecked_fixture(tc, tls_certs_setup, tls_certs_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, deferred_answer_is_posted);
	tcase_add_test(tc, deferred_refused_is_counted);
	suite_add_tcase(s, tc);

	http_init();
	return s;
}

#include "check_main.h"

/*
 * test_http: the hardened libcurl wrapper, without any outside network.
 *
 * URL checks and refusals need no peer.  Connection failures use local
 * sockets: a bound port that does not listen (refused at once) and a
 * listener that never accepts (the TCP handshake completes, TLS never
 * answers), which is where the deadline function has to fire.  TLS tests
 * run against the local "openssl s_server" of tls_server.c, which answers
 * each request with a canned HTTP/1.1 reply and keeps the connection
 * open; that is what lets the tests see a connection being reused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "buf.h"
#include "fiber.h"
#include "http.h"
#include "testutil.h"
#include "tls_server.h"

/* ------------------------------------------------------------------ */
/* Time and URLs. */

static struct timespec
in_ms(long ms)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	} else if (ts.tv_nsec < 0) {
		ts.tv_sec--;
		ts.tv_nsec += 1000000000L;
	}
	return ts;
}

static char *
url_for(int port, const char *path)
{
	static char	 url[128];

	snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", port, path);
	return url;
}

#define REPLY_OK \
	"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" \
	"Content-Length: 11\r\n\r\n{\"ok\":true}"

/* ------------------------------------------------------------------ */
/* http_url_host */

static const struct {
	const char	*url;
	const char	*host;	/* NULL: must be rejected */
} host_table[] = {
	{ "https://login.salesforce.com", "login.salesforce.com" },
	{ "https://login.salesforce.com/services/oauth2/token",
	    "login.salesforce.com" },
	{ "https://na1.my.salesforce.com:8443/x", "na1.my.salesforce.com" },
	{ "https://Example.COM/", "Example.COM" },
	{ "HTTPS://example.com/", "example.com" },
	{ "https://example.com?q=1", "example.com" },
	{ "https://example.com#frag", "example.com" },
	{ "https://127.0.0.1:1/", "127.0.0.1" },
	{ "https://[::1]:8443/", "::1" },
	{ "https://[::1]", "::1" },
	{ "https://host:65535/", "host" },
	/* failures */
	{ "http://example.com/", NULL },
	{ "ftp://example.com/", NULL },
	{ "example.com", NULL },
	{ "", NULL },
	{ "https://", NULL },
	{ "https:///path", NULL },
	{ "https://:443/", NULL },
	{ "https://?q", NULL },
	{ "https://user@example.com/", NULL },
	{ "https://user:pw@example.com/", NULL },
	{ "https://x.salesforce.com@evil.com/", NULL },
	{ "https://host:/", NULL },
	{ "https://host:0/", NULL },
	{ "https://host:65536/", NULL },
	{ "https://host:123456/", NULL },
	{ "https://host:8a/", NULL },
	{ "https://host:443:443/", NULL },
	{ "https://[::1/", NULL },
	{ "https://[::1]x/", NULL },
	{ "https://[]/", NULL },
	{ "https://[fe80::1%25eth0]/", NULL },
	{ "https://ho st/", NULL },
	{ "https://ho%73t/", NULL },
	{ "https://host\\@evil.com/", NULL },
	{ "https://host_name/", NULL },
};

START_TEST(test_url_host_table)
{
	char	 out[256];
	int	 rc;

	memset(out, 'X', sizeof(out));
	rc = http_url_host(host_table[_i].url, out, sizeof(out));
	if (host_table[_i].host == NULL)
		ck_assert_msg(rc == -1, "accepted %s", host_table[_i].url);
	else {
		ck_assert_msg(rc == 0, "rejected %s", host_table[_i].url);
		ck_assert_str_eq(out, host_table[_i].host);
	}
}
END_TEST

START_TEST(test_url_host_fail_too_long)
{
	char	 url[400], out[256];

	/* Exactly fits: 6 characters and the terminator. */
	ck_assert_int_eq(http_url_host("https://abcdef/", out, 7), 0);
	ck_assert_str_eq(out, "abcdef");
	ck_assert_int_eq(http_url_host("https://abcdef/", out, 6), -1);
	ck_assert_int_eq(http_url_host(NULL, out, sizeof(out)), -1);

	/* A 300-character host is no host name, whatever the buffer. */
	snprintf(url, sizeof(url), "https://%0300d/", 0);
	ck_assert_int_eq(http_url_host(url, out, sizeof(out)), -1);
}
END_TEST

/* tu_timed (testutil.h), which the time bounds below go through: off
 * exactly when valgrind's preload library is in LD_PRELOAD. */
START_TEST(test_tu_timed)
{
	const char	*was = getenv("LD_PRELOAD");
	char		*saved = was != NULL ? strdup(was) : NULL;

	ck_assert(was == NULL || saved != NULL);
	setenv("LD_PRELOAD", "/usr/libexec/valgrind/"
	    "vgpreload_core-amd64-linux.so:/usr/libexec/valgrind/"
	    "vgpreload_memcheck-amd64-linux.so", 1);
	ck_assert_int_eq(tu_timed(), 0);
	setenv("LD_PRELOAD", "/usr/lib/libfaketime.so.1", 1);
	ck_assert_int_eq(tu_timed(), 1);
	unsetenv("LD_PRELOAD");
	ck_assert_int_eq(tu_timed(), 1);
	if (saved != NULL)
		setenv("LD_PRELOAD", saved, 1);
	free(saved);
}
END_TEST

START_TEST(test_result_str)
{
	ck_assert_str_eq(http_result_str(HTTP_OK), "ok");
	ck_assert_str_eq(http_result_str(HTTP_TIMEOUT), "timeout");
	ck_assert_str_eq(http_result_str(HTTP_CONNECT), "connect");
	ck_assert_str_eq(http_result_str(HTTP_TLS), "tls");
	ck_assert_str_eq(http_result_str(HTTP_TOOBIG), "toobig");
	ck_assert_str_eq(http_result_str(HTTP_REFUSED), "refused");
	ck_assert_str_eq(http_result_str(HTTP_ERROR), "error");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Refusals and connection failures, no TLS peer needed. */

START_TEST(test_fail_refused_not_https)
{
	static const char *const bad[] = {
		"http://127.0.0.1:1/",
		"ftp://127.0.0.1/",
		"https://user@127.0.0.1:1/",
		"https://127.0.0.1:1/a b",
		"https://127.0.0.1:1/\r\nX: y",
		"//127.0.0.1/",
	};
	struct http_response	 r;
	struct http		*h;
	size_t			 i;
	long			 t0;

	h = tls_client(NULL);
	http_response_init(&r);
	t0 = tu_now_ms();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(http_request(h, "GET", bad[i], NULL, NULL,
		    NULL, &r), HTTP_REFUSED);
	ck_assert_int_eq(http_request(h, "GET", NULL, NULL, NULL, NULL, &r),
	    HTTP_REFUSED);
	/* Refused before libcurl: no connection, no time spent. */
	TU_ASSERT_MS_LT(tu_now_ms() - t0, 100);
	ck_assert_int_eq(http_connections(h), 0);
	ck_assert_int_eq(r.status, 0);
	http_response_free(&r);
	http_free(h);
}
END_TEST

START_TEST(test_fail_bad_method_and_header)
{
	struct http_response	 r;
	struct http		*h;

	h = tls_client(NULL);
	http_response_init(&r);
	ck_assert_int_eq(http_request(h, "PUT", "https://127.0.0.1:1/", NULL,
	    NULL, NULL, &r), HTTP_ERROR);
	/* A token with a line break would forge a header. */
	ck_assert_int_eq(http_request(h, "GET", "https://127.0.0.1:1/",
	    "tok\r\nX-Evil: 1", NULL, NULL, &r), HTTP_ERROR);
	ck_assert_int_eq(http_connections(h), 0);
	http_response_free(&r);
	http_free(h);
}
END_TEST

START_TEST(test_init_idempotent)
{
	struct http	*h;

	ck_assert_int_eq(http_init(), 0);
	ck_assert_int_eq(http_init(), 0);
	ck_assert_ptr_nonnull(h = http_new(NULL));
	ck_assert_int_eq(http_connections(h), 0);
	http_free(h);
	http_free(NULL);
}
END_TEST

START_TEST(test_fail_new_unreadable_ca_file)
{
	ck_assert_ptr_null(http_new("/nonexistent/forcelink-ca.pem"));
}
END_TEST

START_TEST(test_fail_connect_closed_port)
{
	struct http_response	 r;
	struct http		*h;
	int			 fd, port;
	long			 t0;

	/* Bound but not listening: the kernel refuses, and the port stays
	 * ours so nobody else can start listening on it meanwhile. */
	fd = tls_local_socket(0, &port);
	h = tls_client(NULL);
	http_response_init(&r);
	t0 = tu_now_ms();
	ck_assert_int_eq(http_request(h, "GET", url_for(port, "/"), NULL,
	    NULL, NULL, &r), HTTP_CONNECT);
	TU_ASSERT_MS_LT(tu_now_ms() - t0, 2000);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(r.body.len, 0);
	http_response_free(&r);
	http_free(h);
	close(fd);
}
END_TEST

struct deadline_probe {
	int	 runs;
	long	 at;		/* tu_now_ms() when it ran */
	int	 fd;		/* closed by the deadline function, if >= 0 */
};

static void
deadline_fn(void *arg)
{
	struct deadline_probe	*p = arg;

	p->runs++;
	p->at = tu_now_ms();
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
}

START_TEST(test_deadline_already_due)
{
	struct deadline_probe	 p = { 0, 0, -1 };
	struct http_response	 r;
	struct timespec		 past;
	struct http		*h;
	int			 fd, port;

	fd = tls_local_socket(0, &port);
	h = tls_client(NULL);
	http_response_init(&r);
	past = in_ms(-10);
	fiber_set_deadline(&past, deadline_fn, &p);
	ck_assert_int_eq(p.runs, 0);
	ck_assert_int_eq(http_request(h, "GET", url_for(port, "/"), NULL,
	    NULL, NULL, &r), HTTP_CONNECT);
	ck_assert_int_eq(p.runs, 1);
	ck_assert_int_eq(fiber_deadline_check(), 1);
	/* It runs once, not once per request. */
	ck_assert_int_eq(http_request(h, "GET", url_for(port, "/"), NULL,
	    NULL, NULL, &r), HTTP_CONNECT);
	ck_assert_int_eq(p.runs, 1);
	/* Cleared: nothing pending, nothing ran. */
	fiber_set_deadline(NULL, NULL, NULL);
	ck_assert_int_eq(fiber_deadline_check(), 0);
	http_response_free(&r);
	http_free(h);
	close(fd);
}
END_TEST

START_TEST(test_deadline_check_pending)
{
	struct deadline_probe	 p = { 0, 0, -1 };
	struct timespec		 later;
	struct http		*h;

	h = tls_client(NULL);
	ck_assert_int_eq(fiber_deadline_check(), 0);
	later = in_ms(60000);
	fiber_set_deadline(&later, deadline_fn, &p);
	ck_assert_int_eq(fiber_deadline_check(), 0);
	ck_assert_int_eq(p.runs, 0);
	later = in_ms(-1);
	fiber_set_deadline(&later, deadline_fn, &p);
	ck_assert_int_eq(fiber_deadline_check(), 1);
	ck_assert_int_eq(fiber_deadline_check(), 1);
	ck_assert_int_eq(p.runs, 1);
	http_free(h);
}
END_TEST

/*
 * A listener that never accepts: the kernel completes the TCP handshake,
 * curl sends its ClientHello and nothing ever answers.  The deadline
 * (200 ms) must fire during the transfer; it closes the listener, which
 * resets the queued connection, so the transfer ends soon after.
 */
START_TEST(test_deadline_during_blackhole)
{
	struct deadline_probe	 p = { 0, 0, -1 };
	struct http_response	 r;
	struct timespec		 dl;
	struct http		*h;
	enum http_result	 rv;
	int			 port;
	long			 t0, t1;

	p.fd = tls_local_socket(8, &port);
	h = tls_client(NULL);
	http_response_init(&r);
	t0 = tu_now_ms();
	dl = in_ms(200);
	fiber_set_deadline(&dl, deadline_fn, &p);
	rv = http_request(h, "GET", url_for(port, "/"), NULL, NULL, NULL, &r);
	t1 = tu_now_ms();
	ck_assert_int_eq(p.runs, 1);
	ck_assert_int_ge(p.at - t0, 190);
	/*
	 * Woken within the poll interval, give or take the first TLS
	 * connection's set-up (libcurl loads the CA store inside one
	 * curl_multi_perform call: milliseconds natively, over a second
	 * under valgrind, 4.5 s under valgrind on a loaded machine, where
	 * no bound is checked: tu_timed).  Below the 10 s connect timeout
	 * either way, and the result says which of the two ended the
	 * transfer.
	 */
	TU_ASSERT_MS_LT(p.at - t0, 8000);
	/* Under valgrind on a loaded machine the deadline can come after
	 * the connect timeout, which then ends the transfer first. */
	ck_assert_msg(rv == HTTP_TLS || (!tu_timed() && rv == HTTP_TIMEOUT),
	    "result %s", http_result_str(rv));
	TU_ASSERT_MS_LT(t1 - t0, 9500);
	ck_assert_int_eq(r.status, 0);
	http_response_free(&r);
	http_free(h);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Against a real TLS server. */

/* A server answering every request with one reply, a client that trusts
 * ca (NULL: the system's store), and a response to fill. */
struct live {
	struct tls_server	 s;
	struct http		*h;
	struct http_response	 r;
};

/* Starts l with a server presenting certificate cert; reply (len bytes)
 * must stay alive until live_stop. */
static void
live_start(struct live *l, const char *cert, const char *ca,
    const char *reply, size_t len)
{
	tls_start(&l->s, cert, reply, len);
	l->h = tls_client(ca);
	http_response_init(&l->r);
}

static void
live_stop(struct live *l)
{
	http_response_free(&l->r);
	http_free(l->h);
	tls_stop(&l->s);
}

/* One GET of path from l, with a bearer token unless it is NULL. */
static enum http_result
live_get(struct live *l, const char *path, const char *bearer)
{
	return http_request(l->h, "GET", url_for(l->s.port, path), bearer,
	    NULL, NULL, &l->r);
}

/* Single requests and what comes of them; a failure leaves no status
 * and no body. */
static const struct {
	const char		*name;
	const char		*cert;	/* the server's certificate */
	const char		*ca;	/* the client's CA file; NULL: system */
	const char		*reply;
	enum http_result	 want;
	long			 status;
	const char		*body;
} get_cases[] = {
	{ "fail: unknown CA", "server", NULL, REPLY_OK, HTTP_TLS, 0, "" },
	/* Signed by the trusted CA, but for wrong.example, not 127.0.0.1. */
	{ "fail: wrong host", "wrong-host", "ca.pem", REPLY_OK, HTTP_TLS, 0,
	    "" },
	{ "an error status is a reply", "server", "ca.pem",
	    "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Length: 4\r\n\r\nbusy", HTTP_OK, 503, "busy" },
	{ "no redirect followed", "server", "ca.pem", "HTTP/1.1 302 Found\r\n"
	    "Location: https://127.0.0.1:1/elsewhere\r\n"
	    "Content-Length: 0\r\n\r\n", HTTP_OK, 302, "" },
	{ "fail: declared too big", "server", "ca.pem", "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 2000000\r\n\r\n", HTTP_TOOBIG, 0, "" },
};

START_TEST(test_tls_get_table)
{
	struct live		 l;
	enum http_result	 rv;

	live_start(&l, get_cases[_i].cert, get_cases[_i].ca,
	    get_cases[_i].reply, strlen(get_cases[_i].reply));
	rv = live_get(&l, "/", NULL);
	ck_assert_msg(rv == get_cases[_i].want, "%s: result %s",
	    get_cases[_i].name, http_result_str(rv));
	ck_assert_int_eq(l.r.status, get_cases[_i].status);
	ck_assert_str_eq(buf_cstr(&l.r.body), get_cases[_i].body);
	live_stop(&l);
}
END_TEST

START_TEST(test_tls_ok_with_ca_file)
{
	struct live	 l;
	char		 req[4096];
	int		 n;

	live_start(&l, "server", "ca.pem", REPLY_OK, strlen(REPLY_OK));
	ck_assert_int_eq(live_get(&l, "/q?x=1", "tok123"), HTTP_OK);
	ck_assert_int_eq(l.r.status, 200);
	ck_assert_str_eq(buf_cstr(&l.r.body), "{\"ok\":true}");
	tls_last(&l.s, req, sizeof(req), &n);
	ck_assert_int_eq(n, 1);
	ck_assert_ptr_nonnull(strstr(req, "GET /q?x=1 HTTP/1.1\r\n"));
	ck_assert_ptr_nonnull(strstr(req, "\r\nAccept: application/json\r\n"));
	ck_assert_ptr_nonnull(strstr(req, "\r\nUser-Agent: forcelink/"));
	ck_assert_ptr_nonnull(strstr(req,
	    "\r\nAuthorization: Bearer tok123\r\n"));
	/* No compression offered: a reply is capped as it arrives. */
	ck_assert_ptr_null(strstr(req, "Accept-Encoding"));
	ck_assert_int_eq(http_connections(l.h), 1);
	live_stop(&l);
}
END_TEST

/* One more header: sent as given; a malformed one, or one of the
 * headers http_request sets itself, refused before any connection. */
START_TEST(test_extra_header)
{
	static const char *const bad[] = {
		"If-Modified-Since:Mon", "If Modified: x", ": x",
		"X-A: b\r\nX-Evil: 1", "Authorization: Bearer other",
		"content-type: text/plain", "Accept: */*", "Expect: 100",
	};
	struct live	 l;
	char		 req[4096];
	size_t		 i;
	int		 n;

	live_start(&l, "server", "ca.pem", REPLY_OK, strlen(REPLY_OK));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(http_request_extra(l.h, "GET",
		    url_for(l.s.port, "/"), "tok", NULL, NULL, bad[i],
		    &l.r) == HTTP_ERROR, "%s", bad[i]);
	ck_assert_int_eq(http_connections(l.h), 0);
	ck_assert_int_eq(http_request_extra(l.h, "GET", url_for(l.s.port,
	    "/d"), "tok", NULL, NULL, "If-Modified-Since: Mon, 01 Jun 2026 "
	    "00:00:00 GMT", &l.r), HTTP_OK);
	tls_last(&l.s, req, sizeof(req), &n);
	ck_assert_ptr_nonnull(strstr(req, "\r\nIf-Modified-Since: Mon, 01 "
	    "Jun 2026 00:00:00 GMT\r\n"));
	ck_assert_ptr_nonnull(strstr(req, "\r\nAuthorization: Bearer tok"
	    "\r\n"));
	/* REPLY_OK has no Last-Modified. */
	ck_assert(l.r.last_modified == 0);
	live_stop(&l);
}
END_TEST

/* A reply's Last-Modified is read into a time; a malformed one is none. */
START_TEST(test_last_modified)
{
	static const char	 dated[] = "HTTP/1.1 200 OK\r\n"
	    "Last-Modified: Mon, 01 Jun 2026 00:00:00 GMT\r\n"
	    "Content-Length: 2\r\n\r\n{}";
	static const char	 junk[] = "HTTP/1.1 200 OK\r\n"
	    "Last-Modified: yesterday-ish\r\nContent-Length: 2\r\n\r\n{}";
	struct live		 l;

	live_start(&l, "server", "ca.pem", dated, strlen(dated));
	ck_assert_int_eq(live_get(&l, "/", "tok"), HTTP_OK);
	ck_assert_int_eq(l.r.status, 200);
	ck_assert(l.r.last_modified == (time_t)1780272000);
	live_stop(&l);
	live_start(&l, "server", "ca.pem", junk, strlen(junk));
	ck_assert_int_eq(live_get(&l, "/", "tok"), HTTP_OK);
	ck_assert(l.r.last_modified == 0);
	live_stop(&l);
}
END_TEST

START_TEST(test_tls_connection_reused)
{
	struct live	 l;
	char		 req[4096];
	int		 n;

	live_start(&l, "server", "ca.pem", REPLY_OK, strlen(REPLY_OK));
	ck_assert_int_eq(live_get(&l, "/one", NULL), HTTP_OK);
	ck_assert_int_eq(l.r.status, 200);
	ck_assert_int_eq(http_request(l.h, "POST", url_for(l.s.port, "/two"),
	    NULL, "application/x-www-form-urlencoded", "a=1&b=2", &l.r),
	    HTTP_OK);
	ck_assert_int_eq(l.r.status, 200);
	ck_assert_str_eq(buf_cstr(&l.r.body), "{\"ok\":true}");
	tls_last(&l.s, req, sizeof(req), &n);
	ck_assert_int_eq(n, 2);
	ck_assert_ptr_nonnull(strstr(req, "POST /two HTTP/1.1\r\n"));
	ck_assert_ptr_nonnull(strstr(req,
	    "\r\nContent-Type: application/x-www-form-urlencoded\r\n"));
	ck_assert_ptr_null(strstr(req, "Authorization"));
	ck_assert_ptr_null(strstr(req, "Expect"));
	n = (int)strlen(req);
	ck_assert_int_ge(n, 11);
	ck_assert_str_eq(req + n - 11, "\r\n\r\na=1&b=2");
	/* And a GET after the POST is a GET again, without the body. */
	ck_assert_int_eq(live_get(&l, "/three", NULL), HTTP_OK);
	tls_last(&l.s, req, sizeof(req), &n);
	ck_assert_int_eq(n, 3);
	ck_assert_ptr_nonnull(strstr(req, "GET /three HTTP/1.1\r\n"));
	ck_assert_ptr_null(strstr(req, "Content-"));
	/* Three requests, one connection. */
	ck_assert_int_eq(http_connections(l.h), 1);
	live_stop(&l);
}
END_TEST

START_TEST(test_tls_fail_toobig_streamed)
{
	static const char	 head[] = "HTTP/1.1 200 OK\r\n"
	    "Connection: close\r\n\r\n";
	struct live		 l;
	size_t			 n;
	char			*reply;

	/* No length announced: the cap has to stop the body as it comes.
	 * The filler is 'x' because s_server reads some leading letters
	 * of its input as commands. */
	n = strlen(head) + HTTP_RESPONSE_MAX + 65536;
	ck_assert_ptr_nonnull(reply = malloc(n));
	memcpy(reply, head, strlen(head));
	memset(reply + strlen(head), 'x', n - strlen(head));
	live_start(&l, "server", "ca.pem", reply, n);
	ck_assert_int_eq(live_get(&l, "/", NULL), HTTP_TOOBIG);
	ck_assert_uint_eq(l.r.body.len, 0);
	live_stop(&l);
	free(reply);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("http");

	tc = tcase_create("url");
	tcase_add_loop_test(tc, test_url_host_table, 0,
	    sizeof(host_table) / sizeof(host_table[0]));
	tcase_add_test(tc, test_url_host_fail_too_long);
	tcase_add_test(tc, test_result_str);
	tcase_add_test(tc, test_tu_timed);
	suite_add_tcase(s, tc);

	tc = tcase_create("local");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_fail_refused_not_https);
	tcase_add_test(tc, test_fail_bad_method_and_header);
	tcase_add_test(tc, test_init_idempotent);
	tcase_add_test(tc, test_fail_new_unreadable_ca_file);
	tcase_add_test(tc, test_fail_connect_closed_port);
	tcase_add_test(tc, test_deadline_already_due);
	tcase_add_test(tc, test_deadline_check_pending);
	tcase_add_test(tc, test_deadline_during_blackhole);
	suite_add_tcase(s, tc);

	tc = tcase_create("tls");
	tcase_set_timeout(tc, 15);
	tcase_add_unchecked_fixture(tc, tls_certs_setup, tls_certs_teardown);
	tcase_add_loop_test(tc, test_tls_get_table, 0,
	    sizeof(get_cases) / sizeof(get_cases[0]));
	tcase_add_test(tc, test_tls_ok_with_ca_file);
	tcase_add_test(tc, test_extra_header);
	tcase_add_test(tc, test_last_modified);
	tcase_add_test(tc, test_tls_connection_reused);
	tcase_add_test(tc, test_tls_fail_toobig_streamed);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

/*
 * test_http: the hardened libcurl wrapper, without any outside network.
 *
 * URL checks and refusals need no peer.  Connection failures use local
 * sockets: a bound port that does not listen (refused at once) and a
 * listener that never accepts (the TCP handshake completes, TLS never
 * answers), which is where the deadline function has to fire.  TLS tests
 * run a real "openssl s_server" on 127.0.0.1 with certificates made at
 * test time by tests/standin/mkcerts.sh.  s_server runs in its plain
 * mode: it prints what a client sends and sends what it reads on its
 * standard input, so a small responder thread answers each complete
 * request with a canned HTTP/1.1 reply and keeps the connection open;
 * that is what lets the tests see a connection being reused.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "buf.h"
#include "http.h"

/* Where the certificates live; made once per test case in the parent. */
static char	 certdir[64];

/* ------------------------------------------------------------------ */
/* Time and sockets. */

static long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

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

/* A TCP socket bound to 127.0.0.1 on a free port; listens when backlog
 * is positive.  Returns the socket and the port in *port. */
static int
local_socket(int backlog, int *port)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	if (backlog > 0)
		ck_assert_int_eq(listen(fd, backlog), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* ------------------------------------------------------------------ */
/* A local TLS server: openssl s_server plus a responder thread. */

struct tls_server {
	pid_t		 pid;
	int		 in;		/* s_server's standard input */
	int		 out;		/* its standard output */
	int		 port;
	pthread_t	 thr;
	const char	*reply;		/* sent after each complete request */
	size_t		 replylen;
	pthread_mutex_t	 mu;
	char		 last[4096];	/* the latest request, truncated */
	int		 requests;
};

static void
write_all(int fd, const char *p, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		if ((w = write(fd, p, n)) <= 0) {
			if (w == -1 && errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

/* Reads one line of s_server's output (without the newline); waits at
 * most 5 s.  Returns 0, or -1 at EOF or timeout. */
static int
read_line(int fd, char *line, size_t n)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	size_t		 i = 0;
	char		 c;

	while (i + 1 < n) {
		if (poll(&pfd, 1, 5000) != 1 || read(fd, &c, 1) != 1)
			return -1;
		if (c == '\n')
			break;
		line[i++] = c;
	}
	line[i] = '\0';
	return 0;
}

/*
 * Looks for one complete request (request line, headers, and a body of
 * Content-Length bytes) in buf; s_server's own chatter before it is
 * skipped.  Returns the bytes it spans (from *start), or 0 when it is not
 * complete yet.
 */
static size_t
find_request(const char *buf, size_t len, size_t *start)
{
	const char	*p, *q, *end, *cl;
	size_t		 body = 0;

	p = memmem(buf, len, "GET /", 5);
	q = memmem(buf, len, "POST /", 6);
	if (p == NULL || (q != NULL && q < p))
		p = q;
	if (p == NULL)
		return 0;
	if ((end = memmem(p, len - (size_t)(p - buf), "\r\n\r\n", 4)) == NULL)
		return 0;
	end += 4;
	cl = memmem(p, (size_t)(end - p), "Content-Length: ", 16);
	if (cl != NULL)
		body = strtoul(cl + 16, NULL, 10);
	if ((size_t)(end - buf) + body > len)
		return 0;
	*start = (size_t)(p - buf);
	return (size_t)(end - p) + body;
}

static void *
tls_responder(void *arg)
{
	struct tls_server	*s = arg;
	char			 buf[65536];
	size_t			 len = 0, start, n;
	ssize_t			 r;

	while ((r = read(s->out, buf + len, sizeof(buf) - len)) > 0) {
		len += (size_t)r;
		while ((n = find_request(buf, len, &start)) > 0) {
			pthread_mutex_lock(&s->mu);
			snprintf(s->last, sizeof(s->last), "%.*s", (int)n,
			    buf + start);
			s->requests++;
			pthread_mutex_unlock(&s->mu);
			write_all(s->in, s->reply, s->replylen);
			memmove(buf, buf + start + n, len - start - n);
			len -= start + n;
		}
		if (len == sizeof(buf))
			len = 0;	/* chatter only: drop it */
	}
	return NULL;
}

/* Starts s_server with certificate NAME.pem from certdir; each request
 * is answered with reply. */
static void
tls_start(struct tls_server *s, const char *name, const char *reply,
    size_t replylen)
{
	char	 cert[PATH_MAX], key[PATH_MAX], line[256];
	int	 inp[2], outp[2], devnull;

	memset(s, 0, sizeof(*s));
	s->reply = reply;
	s->replylen = replylen;
	pthread_mutex_init(&s->mu, NULL);
	snprintf(cert, sizeof(cert), "%s/%s.pem", certdir, name);
	snprintf(key, sizeof(key), "%s/%s.key", certdir, name);
	ck_assert_int_eq(pipe(inp), 0);
	ck_assert_int_eq(pipe(outp), 0);
	ck_assert_int_ge(s->pid = fork(), 0);
	if (s->pid == 0) {
		devnull = open("/dev/null", O_WRONLY);
		dup2(inp[0], 0);
		dup2(outp[1], 1);
		dup2(devnull, 2);
		close(inp[1]);
		close(outp[0]);
		execlp("openssl", "openssl", "s_server", "-accept",
		    "127.0.0.1:0", "-cert", cert, "-key", key, (char *)NULL);
		_exit(127);
	}
	close(inp[0]);
	close(outp[1]);
	s->in = inp[1];
	s->out = outp[0];
	/* "ACCEPT 127.0.0.1:PORT" says it listens, and on which port. */
	do {
		ck_assert_msg(read_line(s->out, line, sizeof(line)) == 0,
		    "s_server did not start");
	} while (sscanf(line, "ACCEPT 127.0.0.1:%d", &s->port) != 1);
	ck_assert_int_eq(pthread_create(&s->thr, NULL, tls_responder, s), 0);
}

static void
tls_stop(struct tls_server *s)
{
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
	close(s->in);
	pthread_join(s->thr, NULL);
	close(s->out);
	pthread_mutex_destroy(&s->mu);
}

/* Copies the latest request the server saw. */
static void
tls_last(struct tls_server *s, char *out, size_t n, int *requests)
{
	pthread_mutex_lock(&s->mu);
	snprintf(out, n, "%s", s->last);
	*requests = s->requests;
	pthread_mutex_unlock(&s->mu);
}

static void
certs_setup(void)
{
	char		 cmd[PATH_MAX * 2];
	const char	*src;

	signal(SIGPIPE, SIG_IGN);
	if ((src = getenv("srcdir")) == NULL)
		src = ".";
	snprintf(certdir, sizeof(certdir), "/tmp/forcelink-test-http.XXXXXX");
	if (mkdtemp(certdir) == NULL)
		abort();
	snprintf(cmd, sizeof(cmd), "sh '%s/tests/standin/mkcerts.sh' '%s'",
	    src, certdir);
	if (system(cmd) != 0) {
		fprintf(stderr, "test_http: mkcerts.sh failed\n");
		abort();
	}
}

static void
certs_teardown(void)
{
	char	 cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", certdir);
	(void)!system(cmd);
}

static struct http *
client(const char *ca)
{
	char		 path[PATH_MAX];
	struct http	*h;

	if (ca != NULL)
		snprintf(path, sizeof(path), "%s/%s", certdir, ca);
	h = http_new(ca != NULL ? path : NULL);
	ck_assert_ptr_nonnull(h);
	return h;
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

	h = client(NULL);
	http_response_init(&r);
	t0 = now_ms();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(http_request(h, "GET", bad[i], NULL, NULL,
		    NULL, &r), HTTP_REFUSED);
	ck_assert_int_eq(http_request(h, "GET", NULL, NULL, NULL, NULL, &r),
	    HTTP_REFUSED);
	/* Refused before libcurl: no connection, no time spent. */
	ck_assert_int_lt(now_ms() - t0, 100);
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

	h = client(NULL);
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
	fd = local_socket(0, &port);
	h = client(NULL);
	http_response_init(&r);
	t0 = now_ms();
	ck_assert_int_eq(http_request(h, "GET", url_for(port, "/"), NULL,
	    NULL, NULL, &r), HTTP_CONNECT);
	ck_assert_int_lt(now_ms() - t0, 2000);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(r.body.len, 0);
	http_response_free(&r);
	http_free(h);
	close(fd);
}
END_TEST

struct deadline_probe {
	int	 runs;
	long	 at;		/* now_ms() when it ran */
	int	 fd;		/* closed by the deadline function, if >= 0 */
};

static void
deadline_fn(void *arg)
{
	struct deadline_probe	*p = arg;

	p->runs++;
	p->at = now_ms();
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

	fd = local_socket(0, &port);
	h = client(NULL);
	http_response_init(&r);
	past = in_ms(-10);
	http_set_deadline(h, &past, deadline_fn, &p);
	ck_assert_int_eq(p.runs, 0);
	ck_assert_int_eq(http_request(h, "GET", url_for(port, "/"), NULL,
	    NULL, NULL, &r), HTTP_CONNECT);
	ck_assert_int_eq(p.runs, 1);
	ck_assert_int_eq(http_deadline_check(h), 1);
	/* It runs once, not once per request. */
	ck_assert_int_eq(http_request(h, "GET", url_for(port, "/"), NULL,
	    NULL, NULL, &r), HTTP_CONNECT);
	ck_assert_int_eq(p.runs, 1);
	/* Cleared: nothing pending, nothing ran. */
	http_set_deadline(h, NULL, NULL, NULL);
	ck_assert_int_eq(http_deadline_check(h), 0);
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

	h = client(NULL);
	ck_assert_int_eq(http_deadline_check(h), 0);
	later = in_ms(60000);
	http_set_deadline(h, &later, deadline_fn, &p);
	ck_assert_int_eq(http_deadline_check(h), 0);
	ck_assert_int_eq(p.runs, 0);
	later = in_ms(-1);
	http_set_deadline(h, &later, deadline_fn, &p);
	ck_assert_int_eq(http_deadline_check(h), 1);
	ck_assert_int_eq(http_deadline_check(h), 1);
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

	p.fd = local_socket(8, &port);
	h = client(NULL);
	http_response_init(&r);
	t0 = now_ms();
	dl = in_ms(200);
	http_set_deadline(h, &dl, deadline_fn, &p);
	rv = http_request(h, "GET", url_for(port, "/"), NULL, NULL, NULL, &r);
	t1 = now_ms();
	ck_assert_int_eq(p.runs, 1);
	ck_assert_int_ge(p.at - t0, 190);
	/*
	 * Woken within the poll interval, give or take the first TLS
	 * connection's set-up (libcurl loads the CA store inside one
	 * curl_multi_perform call: milliseconds natively, over a second
	 * under valgrind).  Far below the 10 s connect timeout either way.
	 */
	ck_assert_int_lt(p.at - t0, 2500);
	ck_assert_msg(rv == HTTP_TLS, "result %s", http_result_str(rv));
	ck_assert_int_lt(t1 - t0, 5000);
	ck_assert_int_eq(r.status, 0);
	http_response_free(&r);
	http_free(h);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Against a real TLS server. */

START_TEST(test_tls_fail_unknown_ca)
{
	struct tls_server	 s;
	struct http_response	 r;
	struct http		*h;

	tls_start(&s, "server", REPLY_OK, strlen(REPLY_OK));
	h = client(NULL);
	http_response_init(&r);
	ck_assert_int_eq(http_request(h, "GET", url_for(s.port, "/"), NULL,
	    NULL, NULL, &r), HTTP_TLS);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(r.body.len, 0);
	http_response_free(&r);
	http_free(h);
	tls_stop(&s);
}
END_TEST

START_TEST(test_tls_fail_wrong_host)
{
	struct tls_server	 s;
	struct http_response	 r;
	struct http		*h;

	/* Signed by the trusted CA, but for wrong.example, not 127.0.0.1. */
	tls_start(&s, "wrong-host", REPLY_OK, strlen(REPLY_OK));
	h = client("ca.pem");
	http_response_init(&r);
	ck_assert_int_eq(http_request(h, "GET", url_for(s.port, "/"), NULL,
	    NULL, NULL, &r), HTTP_TLS);
	ck_assert_int_eq(r.status, 0);
	http_response_free(&r);
	http_free(h);
	tls_stop(&s);
}
END_TEST

START_TEST(test_tls_ok_with_ca_file)
{
	struct tls_server	 s;
	struct http_response	 r;
	struct http		*h;
	char			 req[4096];
	int			 n;

	tls_start(&s, "server", REPLY_OK, strlen(REPLY_OK));
	h = client("ca.pem");
	http_response_init(&r);
	ck_assert_int_eq(http_request(h, "GET", url_for(s.port, "/q?x=1"),
	    "tok123", NULL, NULL, &r), HTTP_OK);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(buf_cstr(&r.body), "{\"ok\":true}");
	tls_last(&s, req, sizeof(req), &n);
	ck_assert_int_eq(n, 1);
	ck_assert_ptr_nonnull(strstr(req, "GET /q?x=1 HTTP/1.1\r\n"));
	ck_assert_ptr_nonnull(strstr(req, "\r\nAccept: application/json\r\n"));
	ck_assert_ptr_nonnull(strstr(req, "\r\nUser-Agent: forcelink/"));
	ck_assert_ptr_nonnull(strstr(req,
	    "\r\nAuthorization: Bearer tok123\r\n"));
	/* No compression offered: a reply is capped as it arrives. */
	ck_assert_ptr_null(strstr(req, "Accept-Encoding"));
	ck_assert_int_eq(http_connections(h), 1);
	http_response_free(&r);
	http_free(h);
	tls_stop(&s);
}
END_TEST

START_TEST(test_tls_connection_reused)
{
	struct tls_server	 s;
	struct http_response	 r;
	struct http		*h;
	char			 req[4096];
	int			 n;

	tls_start(&s, "server", REPLY_OK, strlen(REPLY_OK));
	h = client("ca.pem");
	http_response_init(&r);
	ck_assert_int_eq(http_request(h, "GET", url_for(s.port, "/one"),
	    NULL, NULL, NULL, &r), HTTP_OK);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(http_request(h, "POST", url_for(s.port, "/two"),
	    NULL, "application/x-www-form-urlencoded", "a=1&b=2", &r),
	    HTTP_OK);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(buf_cstr(&r.body), "{\"ok\":true}");
	tls_last(&s, req, sizeof(req), &n);
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
	ck_assert_int_eq(http_request(h, "GET", url_for(s.port, "/three"),
	    NULL, NULL, NULL, &r), HTTP_OK);
	tls_last(&s, req, sizeof(req), &n);
	ck_assert_int_eq(n, 3);
	ck_assert_ptr_nonnull(strstr(req, "GET /three HTTP/1.1\r\n"));
	ck_assert_ptr_null(strstr(req, "Content-"));
	/* Three requests, one connection. */
	ck_assert_int_eq(http_connections(h), 1);
	http_response_free(&r);
	http_free(h);
	tls_stop(&s);
}
END_TEST

START_TEST(test_tls_error_status_is_ok)
{
	static const char	 reply[] =
	    "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Length: 4\r\n\r\nbusy";
	struct tls_server	 s;
	struct http_response	 r;
	struct http		*h;

	tls_start(&s, "server", reply, strlen(reply));
	h = client("ca.pem");
	http_response_init(&r);
	ck_assert_int_eq(http_request(h, "GET", url_for(s.port, "/"), NULL,
	    NULL, NULL, &r), HTTP_OK);
	ck_assert_int_eq(r.status, 503);
	ck_assert_str_eq(buf_cstr(&r.body), "busy");
	http_response_free(&r);
	http_free(h);
	tls_stop(&s);
}
END_TEST

START_TEST(test_tls_no_redirect_followed)
{
	static const char	 reply[] = "HTTP/1.1 302 Found\r\n"
	    "Location: https://127.0.0.1:1/elsewhere\r\n"
	    "Content-Length: 0\r\n\r\n";
	struct tls_server	 s;
	struct http_response	 r;
	struct http		*h;

	tls_start(&s, "server", reply, strlen(reply));
	h = client("ca.pem");
	http_response_init(&r);
	ck_assert_int_eq(http_request(h, "GET", url_for(s.port, "/"), NULL,
	    NULL, NULL, &r), HTTP_OK);
	ck_assert_int_eq(r.status, 302);
	http_response_free(&r);
	http_free(h);
	tls_stop(&s);
}
END_TEST

START_TEST(test_tls_fail_toobig_declared)
{
	static const char	 reply[] = "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 2000000\r\n\r\n";
	struct tls_server	 s;
	struct http_response	 r;
	struct http		*h;

	tls_start(&s, "server", reply, strlen(reply));
	h = client("ca.pem");
	http_response_init(&r);
	ck_assert_int_eq(http_request(h, "GET", url_for(s.port, "/"), NULL,
	    NULL, NULL, &r), HTTP_TOOBIG);
	ck_assert_uint_eq(r.body.len, 0);
	http_response_free(&r);
	http_free(h);
	tls_stop(&s);
}
END_TEST

START_TEST(test_tls_fail_toobig_streamed)
{
	static const char	 head[] = "HTTP/1.1 200 OK\r\n"
	    "Connection: close\r\n\r\n";
	struct tls_server	 s;
	struct http_response	 r;
	struct http		*h;
	size_t			 n;
	char			*reply;

	/* No length announced: the cap has to stop the body as it comes.
	 * The filler is 'x' because s_server reads some leading letters
	 * of its input as commands. */
	n = strlen(head) + HTTP_RESPONSE_MAX + 65536;
	ck_assert_ptr_nonnull(reply = malloc(n));
	memcpy(reply, head, strlen(head));
	memset(reply + strlen(head), 'x', n - strlen(head));
	tls_start(&s, "server", reply, n);
	h = client("ca.pem");
	http_response_init(&r);
	ck_assert_int_eq(http_request(h, "GET", url_for(s.port, "/"), NULL,
	    NULL, NULL, &r), HTTP_TOOBIG);
	ck_assert_uint_eq(r.body.len, 0);
	http_response_free(&r);
	http_free(h);
	tls_stop(&s);
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
	tcase_add_unchecked_fixture(tc, certs_setup, certs_teardown);
	tcase_add_test(tc, test_tls_fail_unknown_ca);
	tcase_add_test(tc, test_tls_fail_wrong_host);
	tcase_add_test(tc, test_tls_ok_with_ca_file);
	tcase_add_test(tc, test_tls_connection_reused);
	tcase_add_test(tc, test_tls_error_status_is_ok);
	tcase_add_test(tc, test_tls_no_redirect_followed);
	tcase_add_test(tc, test_tls_fail_toobig_declared);
	tcase_add_test(tc, test_tls_fail_toobig_streamed);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

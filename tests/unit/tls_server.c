/*
 * tls_server: the local TLS peer of the HTTPS unit tests (see
 * tls_server.h).
 *
 * Owns the certificate directory of one test program, the s_server
 * child with its two pipes, and the responder thread that finds complete
 * requests in s_server's output (skipping its own chatter) and writes
 * the canned reply to its input.  It lives in one place so that
 * test_http.c and test_sf.c exercise the wire the same way.
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
#include <unistd.h>

#include <check.h>

#include "http.h"
#include "tls_server.h"

/* Where the certificates live; made once per test case in the parent. */
static char	 certdir[256];

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

void
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

void
tls_stop(struct tls_server *s)
{
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
	close(s->in);
	pthread_join(s->thr, NULL);
	close(s->out);
	pthread_mutex_destroy(&s->mu);
}

void
tls_last(struct tls_server *s, char *out, size_t n, int *requests)
{
	pthread_mutex_lock(&s->mu);
	snprintf(out, n, "%s", s->last);
	*requests = s->requests;
	pthread_mutex_unlock(&s->mu);
}

void
tls_certs_setup(void)
{
	char		 cmd[PATH_MAX * 2];
	const char	*src, *prog = program_invocation_short_name;
	int		 n;

	signal(SIGPIPE, SIG_IGN);
	if ((src = getenv("srcdir")) == NULL)
		src = ".";
	n = snprintf(certdir, sizeof(certdir), "/tmp/forcelink-%s.XXXXXX",
	    prog);
	if (n < 0 || (size_t)n >= sizeof(certdir) || mkdtemp(certdir) == NULL)
		abort();
	snprintf(cmd, sizeof(cmd), "sh '%s/tests/standin/mkcerts.sh' '%s'",
	    src, certdir);
	if (system(cmd) != 0) {
		fprintf(stderr, "%s: mkcerts.sh failed\n", prog);
		abort();
	}
}

void
tls_certs_teardown(void)
{
	char	 cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", certdir);
	(void)!system(cmd);
}

struct http *
tls_client(const char *ca)
{
	char		 path[PATH_MAX];
	struct http	*h;

	if (ca != NULL)
		snprintf(path, sizeof(path), "%s/%s", certdir, ca);
	h = http_new(ca != NULL ? path : NULL);
	ck_assert_ptr_nonnull(h);
	return h;
}

int
tls_local_socket(int backlog, int *port)
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

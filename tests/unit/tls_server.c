/*
 * tls_server: the local TLS peer of the HTTPS unit tests (see
 * tls_server.h).
 *
 * Owns the certificate directory of one test program and the responder
 * thread, which answers every request sserver finds in s_server's output
 * with the canned reply and records it.  It lives in one place so that
 * test_http.c and test_sf.c exercise the wire the same way.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
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

/* Records the request and sends the canned reply. */
static void
tls_answer(void *arg, const char *req, size_t head, size_t n)
{
	struct tls_server	*s = arg;
	const char		*reply = s->reply;
	size_t			 replylen = s->replylen;

	(void)head;
	pthread_mutex_lock(&s->mu);
	snprintf(s->last, sizeof(s->last), "%.*s", (int)n, req);
	if (s->seq != NULL) {
		reply = s->seq[(size_t)s->requests < s->nseq ?
		    (size_t)s->requests : s->nseq - 1];
		replylen = strlen(reply);
	}
	s->requests++;
	pthread_mutex_unlock(&s->mu);
	sserver_write(&s->srv, reply, replylen);
}

static void *
tls_responder(void *arg)
{
	struct tls_server	*s = arg;

	sserver_serve(&s->srv, tls_answer, s);
	return NULL;
}

void
tls_start(struct tls_server *s, const char *name, const char *reply,
    size_t replylen)
{
	char	 cert[PATH_MAX], key[PATH_MAX];

	memset(s, 0, sizeof(*s));
	s->reply = reply;
	s->replylen = replylen;
	pthread_mutex_init(&s->mu, NULL);
	snprintf(cert, sizeof(cert), "%s/%s.pem", certdir, name);
	snprintf(key, sizeof(key), "%s/%s.key", certdir, name);
	ck_assert_msg(sserver_start(&s->srv, cert, key) == 0,
	    "s_server did not start");
	s->port = s->srv.port;
	ck_assert_int_eq(pthread_create(&s->thr, NULL, tls_responder, s), 0);
}

void
tls_start_seq(struct tls_server *s, const char *name,
    const char *const *replies, size_t n)
{
	ck_assert_uint_gt(n, 0);
	tls_start(s, name, replies[0], strlen(replies[0]));
	pthread_mutex_lock(&s->mu);
	s->seq = replies;
	s->nseq = n;
	pthread_mutex_unlock(&s->mu);
}

void
tls_stop(struct tls_server *s)
{
	sserver_stop(&s->srv);
	pthread_join(s->thr, NULL);
	sserver_close(&s->srv);
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

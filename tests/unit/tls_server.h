/*
 * tls_server: a local TLS peer for the unit tests that talk HTTPS
 * (test_http.c, test_sf.c), with no outside network.
 *
 * The server is a real "openssl s_server" on 127.0.0.1, on a port the
 * kernel picks, with certificates made at test time by
 * tests/standin/mkcerts.sh (a private CA, "server" for 127.0.0.1 and
 * "wrong-host" for another name).  s_server runs in its plain mode: it
 * prints what a client sends and sends what it reads on its standard
 * input, so a responder thread answers each complete request (request
 * line, headers and a Content-Length body) with one canned reply and
 * keeps the connection open; that is what lets a test see a connection
 * being reused.  The server records the latest request it saw and how
 * many it has answered.
 *
 * Failures (no openssl, a port that never shows up) fail the calling
 * test through Check's assertions; the certificate fixture aborts, since
 * it runs in Check's parent process.
 */
#ifndef FORCELINK_TLS_SERVER_H
#define FORCELINK_TLS_SERVER_H

#include <sys/types.h>

#include <pthread.h>
#include <stddef.h>

#include "sserver.h"

struct http;

/* One running server.  Only port is for the test to read; the rest
 * belongs to tls_start, tls_last and tls_stop. */
struct tls_server {
	struct sserver	 srv;		/* s_server and its pipes */
	int		 port;		/* where it listens on 127.0.0.1 */
	pthread_t	 thr;		/* the responder */
	const char	*reply;		/* sent after each complete request */
	size_t		 replylen;
	pthread_mutex_t	 mu;		/* guards last and requests */
	char		 last[4096];	/* the latest request, truncated */
	int		 requests;	/* requests answered so far */
	const char *const *seq;		/* tls_start_seq's replies */
	size_t		 nseq;
};

/*
 * Makes the certificates in a fresh directory under /tmp named after the
 * test program, and ignores SIGPIPE (a client may hang up on the
 * responder).  Meant as an unchecked fixture of the test case: it runs
 * once, in Check's parent process, and aborts when the certificates
 * cannot be made.  $srcdir (default ".") locates mkcerts.sh.
 */
void		 tls_certs_setup(void);

/* Removes that directory and everything in it. */
void		 tls_certs_teardown(void);

/*
 * Starts a server presenting certificate NAME (NAME.pem and NAME.key
 * from the certificate directory) that answers every request with the
 * replylen bytes at reply; the caller keeps reply alive until tls_stop.
 * Fills *s; fails the test when s_server does not start within 5 s.
 */
void		 tls_start(struct tls_server *s, const char *name,
		    const char *reply, size_t replylen);

/* Like tls_start, but the i-th request is answered with replies[i] (a
 * C string), and every one after the n-th with the last. */
void		 tls_start_seq(struct tls_server *s, const char *name,
		    const char *const *replies, size_t n);

/* Stops the server and its responder and releases what tls_start
 * took. */
void		 tls_stop(struct tls_server *s);

/* Copies the latest request (truncated to n - 1 bytes, "" when there was
 * none) to out and the number of requests answered so far to
 * *requests. */
void		 tls_last(struct tls_server *s, char *out, size_t n,
		    int *requests);

/*
 * Returns a new HTTP client (free with http_free) that trusts the
 * certificate file ca of the certificate directory ("ca.pem"), or the
 * system's store when ca is NULL.  Fails the test when it cannot be
 * made.
 */
struct http	*tls_client(const char *ca);

/*
 * Returns a plain TCP socket bound to 127.0.0.1 on a free port (in
 * *port), listening with this backlog when backlog is positive: a port
 * that refuses (backlog 0) or a listener that never accepts, for the
 * connection failure tests.  The caller closes it.  Fails the test when
 * it cannot be made.
 */
int		 tls_local_socket(int backlog, int *port);

#endif

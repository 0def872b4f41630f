/*
 * sserver: an "openssl s_server" child as a scripted HTTPS peer, for the
 * tests that talk to a local TLS server (tests/unit/tls_server.c for the
 * unit tests, tests/torture/peer.c for the fault-injection loop).
 *
 * s_server runs in its plain mode on 127.0.0.1, on a port the kernel
 * picks: it prints what a client sends and sends what it reads on its
 * standard input.  sserver owns that child and its two pipes, finds each
 * complete request (request line, headers, a Content-Length body) in the
 * output, skipping s_server's own chatter, and hands it to the caller's
 * answer function, which writes the reply with sserver_write().  No
 * function here allocates, so a fault-counting allocator is undisturbed,
 * and nothing here uses Check, so both kinds of test can use it.
 */
#ifndef FORCELINK_SSERVER_H
#define FORCELINK_SSERVER_H

#include <sys/types.h>

#include <stddef.h>

struct sserver {
	pid_t	 pid;		/* s_server */
	int	 in;		/* its standard input */
	int	 out;		/* its standard output */
	int	 port;		/* where it listens on 127.0.0.1 */
};

/*
 * Called once per complete request: req points at the request line,
 * head is the length of the request line and headers (through the blank
 * line), n the whole request with its body.
 */
typedef void	(*sserver_answer_fn)(void *arg, const char *req, size_t head,
		    size_t n);

/* Starts s_server with the certificate and key files given and waits
 * (at most 5 s per line) until it says where it listens.  Returns 0, or
 * -1 (s->pid is then still set for sserver_stop). */
int		 sserver_start(struct sserver *, const char *cert,
		    const char *key);

/* Reads s_server's output until it ends (sserver_stop), calling answer
 * for each complete request.  Meant as a thread's body. */
void		 sserver_serve(struct sserver *, sserver_answer_fn, void *arg);

/* Writes all n bytes to s_server's input (the client receives them). */
void		 sserver_write(struct sserver *, const char *p, size_t n);

/* Ends s_server and closes its input; the serving thread then sees the
 * end of the output, and the caller joins it and calls sserver_close. */
void		 sserver_stop(struct sserver *);
void		 sserver_close(struct sserver *);

#endif

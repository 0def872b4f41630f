/*
 * sserver: the s_server child behind the tests' local HTTPS peers (see
 * sserver.h).
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sserver.h"

/* The most of s_server's output kept while looking for a request. */
#define SSERVER_BUF	65536

void
sserver_write(struct sserver *s, const char *p, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		if ((w = write(s->in, p, n)) <= 0) {
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
sserver_line(struct sserver *s, char *line, size_t n)
{
	struct pollfd	 pfd = { .fd = s->out, .events = POLLIN };
	size_t		 i = 0;
	char		 c;

	while (i + 1 < n) {
		if (poll(&pfd, 1, 5000) != 1 || read(s->out, &c, 1) != 1)
			return -1;
		if (c == '\n')
			break;
		line[i++] = c;
	}
	line[i] = '\0';
	return 0;
}

int
sserver_start(struct sserver *s, const char *cert, const char *key)
{
	char	 line[256];
	int	 inp[2], outp[2], devnull;

	s->pid = -1;
	s->in = s->out = -1;
	s->port = 0;
	if (pipe(inp) == -1)
		return -1;
	if (pipe(outp) == -1) {
		close(inp[0]);
		close(inp[1]);
		return -1;
	}
	if ((s->pid = fork()) == -1) {
		close(inp[0]);
		close(inp[1]);
		close(outp[0]);
		close(outp[1]);
		return -1;
	}
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
	fcntl(inp[1], F_SETFD, FD_CLOEXEC);
	fcntl(outp[0], F_SETFD, FD_CLOEXEC);
	s->in = inp[1];
	s->out = outp[0];
	/* "ACCEPT 127.0.0.1:PORT" says it listens, and on which port. */
	do {
		if (sserver_line(s, line, sizeof(line)) == -1)
			return -1;
	} while (sscanf(line, "ACCEPT 127.0.0.1:%d", &s->port) != 1);
	return 0;
}

/*
 * Looks for one complete request in buf.  Returns the bytes it spans
 * from *start, with its head length in *head, or 0 when it is not
 * complete yet.
 */
static size_t
sserver_find(const char *buf, size_t len, size_t *start, size_t *head)
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
	cl = memmem(p, (size_t)(end - p), "\r\nContent-Length: ", 18);
	if (cl != NULL)
		body = strtoul(cl + 18, NULL, 10);
	if ((size_t)(end - buf) + body > len)
		return 0;
	*start = (size_t)(p - buf);
	*head = (size_t)(end - p);
	return (size_t)(end - p) + body;
}

void
sserver_serve(struct sserver *s, sserver_answer_fn answer, void *arg)
{
	char	 buf[SSERVER_BUF];
	size_t	 len = 0, start, head, n;
	ssize_t	 r;

	while ((r = read(s->out, buf + len, sizeof(buf) - len)) > 0) {
		len += (size_t)r;
		while ((n = sserver_find(buf, len, &start, &head)) > 0) {
			answer(arg, buf + start, head, n);
			memmove(buf, buf + start + n, len - start - n);
			len -= start + n;
		}
		if (len == sizeof(buf))
			len = 0;	/* chatter only: drop it */
	}
}

void
sserver_stop(struct sserver *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
		s->pid = -1;
	}
	if (s->in != -1)
		close(s->in);
	s->in = -1;
}

void
sserver_close(struct sserver *s)
{
	if (s->out != -1)
		close(s->out);
	s->out = -1;
}

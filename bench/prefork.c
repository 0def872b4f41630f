/*
 * prefork: listening socket, worker processes and the accept loop of the
 * benchmark's reference programs (see prefork.h).
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "prefork.h"

#define PREFORK_MAX_WORKERS	64
#define PREFORK_BACKLOG		1024

static volatile sig_atomic_t	 prefork_stop;

static void
prefork_on_stop(int sig)
{
	(void)sig;
	prefork_stop = 1;
}

/* One worker: accept and handle until killed. */
static void
prefork_worker(int fd, const char *name, int (*init)(void),
    void (*handle)(FCGX_Request *))
{
	FCGX_Request	 req;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, fd, 0) != 0) {
		fprintf(stderr, "%s: FCGX_Init failed\n", name);
		_exit(1);
	}
	if (init != NULL && init() == -1)
		_exit(1);
	while (FCGX_Accept_r(&req) >= 0) {
		handle(&req);
		FCGX_Finish_r(&req);
	}
	_exit(1);
}

int
prefork_main(int argc, char *argv[], const char *name, int (*init)(void),
    void (*handle)(FCGX_Request *))
{
	struct sigaction	 sa;
	pid_t			 pids[PREFORK_MAX_WORKERS];
	const char		*path = NULL;
	int			 c, fd, i, n = 2;

	while ((c = getopt(argc, argv, "s:w:")) != -1) {
		switch (c) {
		case 's':
			path = optarg;
			break;
		case 'w':
			n = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (path == NULL || optind != argc || n < 1 ||
	    n > PREFORK_MAX_WORKERS)
		goto usage;
	unlink(path);
	if ((fd = FCGX_OpenSocket(path, PREFORK_BACKLOG)) == -1 ||
	    chmod(path, 0660) == -1) {
		fprintf(stderr, "%s: cannot listen on %s\n", name, path);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = prefork_on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (i = 0; i < n; i++) {
		if ((pids[i] = fork()) == -1) {
			fprintf(stderr, "%s: fork: %s\n", name,
			    strerror(errno));
			n = i;
			break;
		}
		if (pids[i] == 0)
			prefork_worker(fd, name, init, handle);
	}
	while (!prefork_stop && n > 0)
		pause();
	for (i = 0; i < n; i++)
		kill(pids[i], SIGTERM);
	for (i = 0; i < n; i++)
		waitpid(pids[i], NULL, 0);
	unlink(path);
	return 0;
usage:
	fprintf(stderr, "usage: %s -s SOCKET [-w WORKERS]\n", name);
	return 2;
}

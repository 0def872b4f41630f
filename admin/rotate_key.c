/*
 * rotate_key: "forcelink-admin rotate-key", key rotation without downtime.
 *
 * This file owns the command line and the environment of the command and
 * maps the outcome to the tool's exit codes; the rotation itself is
 * common/rekey.c.  With the key in FORCELINK_KEY_FILE (the file the
 * running programs re-read) the command rewrites that file and nobody
 * restarts anything.  A key in FORCELINK_KEY reaches the programs only
 * when they start, so there the administrator changes it, before and
 * after, with a restart each time, and the command re-seals the rows in
 * between (rekey.h).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "config.h"
#include "crypto.h"
#include "rekey.h"

/* The exit codes of forcelink-admin (its man page lists them). */
enum {
	RK_EXIT_OK = 0,
	RK_EXIT_FAILED = 1,
	RK_EXIT_USAGE = 2,
	RK_EXIT_CONFIG = 4,
	RK_EXIT_BUSY = 5
};

#define RK_PROG	"forcelink-admin rotate-key"

#define RK_STR2(x)	#x
#define RK_STR(x)	RK_STR2(x)

static const struct admin_cmd_help rk_help = {
"forcelink-admin rotate-key --new-key-file FILE [--grace SECONDS]\n"
"           [--batch ROWS] [--pause MILLISECONDS]",
"Rotates the token-encryption key while forcelink keeps serving.  FILE\n"
"holds the new key alone (head -c32 /dev/urandom | base64 > FILE).  The\n"
"command rewrites FORCELINK_KEY_FILE with the new key first and the\n"
"previous keys after it, waits for the programs to load it, re-seals every\n"
"link and started login under the new key, then leaves the new key alone\n"
"in FORCELINK_KEY_FILE.  Interrupted, run it again: it resumes.\n"
"\n"
"  --new-key-file FILE  the new key (base64 of 32 random bytes); FILE\n"
"                       must be private (mode 0600) and, as root, owned\n"
"                       by root or the invoking user (SUDO_UID)\n"
"  --grace SECONDS      wait after each rewrite of the key file so every\n"
"                       program loads it (default "
RK_STR(REKEY_GRACE_DEFAULT) "; the programs look\n"
"                       at it once a second)\n"
"  --batch ROWS         rows re-sealed per transaction (default "
RK_STR(REKEY_BATCH_DEFAULT) ")\n"
"  --pause MILLISECONDS pause between transactions, to leave the database\n"
"                       to a busy service (default 0)\n"
"\n"
"Environment: FORCELINK_KEY_FILE (rewritten in place with the same owner\n"
"and mode), FORCELINK_DB.  With FORCELINK_KEY instead, it must already be\n"
"\"NEW OLD\" (the new key first) in the programs' environment, which were\n"
"restarted with it; the command re-seals the rows and rewrites nothing.\n"
"Exit status: 0 done; 1 failed (rows left that do not open, I/O error);\n"
"2 usage error or unusable new key file; 4 configuration error (no key,\n"
"FORCELINK_KEY not starting with the new key, or rows under a key it\n"
"lacks); 5 database locked or another rotation running.\n",
NULL
};

enum {
	RK_OPT_NEW_KEY = 256,
	RK_OPT_GRACE,
	RK_OPT_BATCH,
	RK_OPT_PAUSE
};

static const struct option rk_longopts[] = {
	{ "new-key-file", required_argument, NULL, RK_OPT_NEW_KEY },
	{ "grace", required_argument, NULL, RK_OPT_GRACE },
	{ "batch", required_argument, NULL, RK_OPT_BATCH },
	{ "pause", required_argument, NULL, RK_OPT_PAUSE },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* One option for admin_getopt.  Returns 0, or RK_EXIT_USAGE after one
 * line for a bad number. */
static int
rk_opt(int c, const char *arg, void *v)
{
	struct rekey_opts	*o = v;
	long			 n = 0;
	int			 rc = 0;

	switch (c) {
	case RK_OPT_NEW_KEY:
		o->new_key_path = arg;
		break;
	case RK_OPT_GRACE:
		if ((rc = admin_number(arg, 0, REKEY_GRACE_MAX, &n)) == 0)
			o->grace = (int)n;
		break;
	case RK_OPT_BATCH:
		if ((rc = admin_number(arg, 1, REKEY_BATCH_MAX, &n)) == 0)
			o->batch = (int)n;
		break;
	case RK_OPT_PAUSE:
		if ((rc = admin_number(arg, 0, REKEY_PAUSE_MAX, &n)) == 0)
			o->pause_ms = (int)n;
		break;
	}
	if (rc == 0)
		return 0;
	fprintf(stderr, "%s: bad value \"%s\" (--grace takes 0-%d seconds, "
	    "--batch 1-%d rows, --pause 0-%d milliseconds)\n", RK_PROG, arg,
	    REKEY_GRACE_MAX, REKEY_BATCH_MAX, REKEY_PAUSE_MAX);
	return RK_EXIT_USAGE;
}

/*
 * Fills o from the command line (admin_getopt, as every command).
 * Returns -1 to continue, else the exit status to return at once
 * (--help, or a usage error already reported).
 */
static int
rk_options(int argc, char *argv[], struct rekey_opts *o)
{
	int	 rc, first, done;

	rc = admin_getopt(argc, argv, "", rk_longopts, &rk_help, rk_opt, o,
	    &first, &done);
	if (rc != ADMIN_OK || done)
		return rc;
	if (first != argc) {
		fprintf(stderr, "%s: unexpected argument %s\n", RK_PROG,
		    argv[first]);
		return RK_EXIT_USAGE;
	}
	if (o->new_key_path == NULL || *o->new_key_path == '\0') {
		fprintf(stderr, "%s: --new-key-file FILE is required\n",
		    RK_PROG);
		return RK_EXIT_USAGE;
	}
	return -1;
}

/*
 * Fills o's key file and database from the environment.  Returns -1 to
 * continue, else RK_EXIT_CONFIG after saying what is wrong.
 */
static int
rk_environment(struct rekey_opts *o)
{
	const char	*f, *k, *db;

	f = getenv("FORCELINK_KEY_FILE");
	k = getenv("FORCELINK_KEY");
	db = getenv("FORCELINK_DB");
	if (f != NULL && *f != '\0' && k != NULL && *k != '\0') {
		fprintf(stderr, "%s: FORCELINK_KEY and FORCELINK_KEY_FILE are "
		    "both set: set only one\n", RK_PROG);
		return RK_EXIT_CONFIG;
	}
	if ((f == NULL || *f == '\0') && (k == NULL || *k == '\0')) {
		fprintf(stderr, "%s: neither FORCELINK_KEY_FILE nor "
		    "FORCELINK_KEY is set: there is no key to rotate from\n",
		    RK_PROG);
		return RK_EXIT_CONFIG;
	}
	if (f == NULL || *f == '\0') {
		o->key_path = NULL;
		o->env_keys = k;
	} else
		o->key_path = f;
	o->db_path = db != NULL && *db != '\0' ? db : CONFIG_DEFAULT_DB;
	return -1;
}

/*
 * Checks that the new key file is private before it is read: no access
 * by group or others (whoever could read it could open every token once
 * it is the key), and, when run as root, owned by root or by the user
 * who invoked rotate-key (SUDO_UID through sudo): a file someone else
 * owns holds a key they chose.  Returns -1 to continue, else
 * RK_EXIT_USAGE after one line saying why.
 */
static int
rk_new_key_private(const char *path)
{
	struct stat	 sb;
	const char	*sudo;
	long		 invoker = -1;
	char		*end;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1 ||
	    fstat(fd, &sb) == -1) {
		fprintf(stderr, "%s: --new-key-file: cannot read %s: %s\n",
		    RK_PROG, path, strerror(errno));
		if (fd != -1)
			close(fd);
		return RK_EXIT_USAGE;
	}
	close(fd);
	if ((sb.st_mode & 077) != 0) {
		fprintf(stderr, "%s: --new-key-file: %s is accessible by group "
		    "or others (mode %04o); a key must be private: chmod 600 "
		    "%s\n", RK_PROG, path, (unsigned)(sb.st_mode & 07777),
		    path);
		return RK_EXIT_USAGE;
	}
	if (geteuid() != 0)
		return -1;
	if ((sudo = getenv("SUDO_UID")) != NULL && *sudo != '\0') {
		errno = 0;
		invoker = strtol(sudo, &end, 10);
		if (errno != 0 || *end != '\0' || invoker < 0)
			invoker = -1;
	}
	if (sb.st_uid != 0 && sb.st_uid != getuid() &&
	    (invoker == -1 || sb.st_uid != (uid_t)invoker)) {
		fprintf(stderr, "%s: --new-key-file: %s is owned by uid %lu, "
		    "not by root or by you (who runs rotate-key as root): "
		    "chown root %s\n", RK_PROG, path,
		    (unsigned long)sb.st_uid, path);
		return RK_EXIT_USAGE;
	}
	return -1;
}

int
cmd_rotate_key(int argc, char *argv[])
{
	struct rekey_opts	 o;
	enum rekey_result	 r;
	char			 err[1024];
	int			 rc;

	memset(&o, 0, sizeof(o));
	o.grace = REKEY_GRACE_DEFAULT;
	o.batch = REKEY_BATCH_DEFAULT;
	o.out = stdout;
	if ((rc = rk_options(argc, argv, &o)) != -1 ||
	    (rc = rk_new_key_private(o.new_key_path)) != -1 ||
	    (rc = rk_environment(&o)) != -1)
		return rc;
	if (crypto_init() == -1) {
		fprintf(stderr, "%s: cannot initialise libsodium\n", RK_PROG);
		return RK_EXIT_FAILED;
	}
	r = rekey_run(&o, err, sizeof(err));
	if (r == REKEY_OK)
		return RK_EXIT_OK;
	fprintf(stderr, "%s: %s\n", RK_PROG, err);
	switch (r) {
	case REKEY_BADARG:
		return RK_EXIT_USAGE;
	case REKEY_CONFIG:
		return RK_EXIT_CONFIG;
	case REKEY_BUSY:
		return RK_EXIT_BUSY;
	default:
		return RK_EXIT_FAILED;
	}
}

/*
 * tu_pgserver.h: a throwaway PostgreSQL server for a unit test program,
 * made and run by tests/pg/pgctl (see tests/pg/README), and raw libpq
 * access to it as an admin's psql would have.
 *
 * Header-only, as testutil.h: the program that includes it starts the
 * server once in an unchecked fixture (tu_pg_start with its own mkdtemp
 * template, server_stop), and each helper fails the calling test
 * through Check's assertions.  FL_SRCDIR is the source tree (pgctl's).
 */
#ifndef FORCELINK_TU_PGSERVER_H
#define FORCELINK_TU_PGSERVER_H

#include <sys/stat.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <libpq-fe.h>

#include "crypto.h"

#ifndef FL_SRCDIR
#define FL_SRCDIR "."
#endif

/* The server's directory, the URI of its database "forcelink" and its
 * password file. */
static char		 srvdir[64];
static char		 baseuri[512];
static char		 pwfile[PATH_MAX];

/* Runs pgctl's command cmd on the server; fails the test on error. */
static void
pgctl(const char *cmd)
{
	char	 line[PATH_MAX + 128];

	snprintf(line, sizeof(line), "%s/tests/pg/pgctl %s %s >/dev/null",
	    FL_SRCDIR, cmd, srvdir);
	ck_assert_msg(system(line) == 0, "pgctl %s failed", cmd);
}

/* Sets the variables of "pgctl env" (shell assignments) as a shell
 * evaluating them would. */
static void
pg_env(void)
{
	char	 line[2 * PATH_MAX + 256], buf[1024], *eq;
	FILE	*f;

	snprintf(line, sizeof(line), "bash -c 'eval \"$(\"$0\" env \"$1\")\" "
	    "&& printf \"FORCELINK_DB=%%s\\nFORCELINK_DB_PASSWORD_FILE=%%s\\n"
	    "PGPASSFILE=%%s\\n\" \"$FORCELINK_DB\" "
	    "\"$FORCELINK_DB_PASSWORD_FILE\" \"$PGPASSFILE\"' "
	    "%s/tests/pg/pgctl %s", FL_SRCDIR, srvdir);
	ck_assert_ptr_nonnull(f = popen(line, "r"));
	while (fgets(buf, sizeof(buf), f) != NULL) {
		buf[strcspn(buf, "\n")] = '\0';
		if ((eq = strchr(buf, '=')) == NULL)
			continue;
		*eq = '\0';
		setenv(buf, eq + 1, 1);
	}
	ck_assert_int_eq(pclose(f), 0);
}

/* Makes a server in a new directory from template (mkdtemp's, under
 * /tmp), starts it and reads its variables. */
static void
tu_pg_start(const char *template)
{
	snprintf(srvdir, sizeof(srvdir), "%s", template);
	ck_assert_ptr_nonnull(mkdtemp(srvdir));
	ck_assert_int_eq(chmod(srvdir, 0755), 0);
	pgctl("start");
	pg_env();
	snprintf(baseuri, sizeof(baseuri), "%s", getenv("FORCELINK_DB"));
	snprintf(pwfile, sizeof(pwfile), "%s",
	    getenv("FORCELINK_DB_PASSWORD_FILE"));
	ck_assert_int_eq(crypto_init(), 0);
}

static void
server_stop(void)
{
	char	 line[PATH_MAX + 128];

	pgctl("stop");
	snprintf(line, sizeof(line), "rm -rf %s", srvdir);
	(void)system(line);
}

/* A raw connection to the database named by u, as an admin's psql. */
static PGconn *
raw_connect(const char *u)
{
	PGconn	*c;

	c = PQconnectdb(u);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "raw connect: %s",
	    PQerrorMessage(c));
	return c;
}

/* Runs sql on c; fails the test unless it succeeds. */
static void
raw_exec(PGconn *c, const char *sql)
{
	PGresult	*r;

	r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
	    PQresultErrorMessage(r));
	PQclear(r);
}

#endif

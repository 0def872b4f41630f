/*
 * store_pg: the store's PostgreSQL engine, through libpq (see store.h).
 *
 * One struct store is one server connection.  Each statement of
 * store_sql_pg.c is prepared on the connection, under its name, the
 * first time it runs there (a worker thread uses a handful of the ninety:
 * preparing them all cost the server more than the requests), and run
 * with PQexecPrepared when it is first stepped; its rows come back all at
 * once, in binary format, and the following steps walk them.  So a
 * statement's rows stay readable until it is reset, and several
 * statements may be open at once, as on SQLite.  Parameters go as text
 * (integers as decimals: the server takes each parameter's type from the
 * statement) and sealed values as binary bytea.
 *
 * Writers: a transaction (store_begin) first takes a transaction-scoped
 * advisory lock on one fixed key (PG_LOCK_CLASS, PG_LOCK_WRITER), so that
 * it is the only write transaction on any host while it lasts, exactly
 * as SQLite's BEGIN IMMEDIATE makes it the only writer of the file: the
 * table files read, decide and write within one, and their reasoning
 * holds unchanged.  A single statement is atomic by itself, and two that
 * update the same row wait for each other's row lock; they need no lock
 * of ours.  A transaction that writes a token sets synchronous_commit on
 * for itself, whatever the server's default, so that its COMMIT returns
 * only once the token is on disk (and, with synchronous replication, on
 * the standbys the server names).
 *
 * Timeouts: a worker must answer Slack within 3 s, so no call may wait
 * on a stuck server longer than a fraction of that.  Each connection
 * runs with statement_timeout and lock_timeout PG_TIMEOUT_MS and connects
 * again within PG_CONNECT_S (by our clock: a fiber gives its thread to
 * other requests while it connects, pg_connect_wait); a call that runs
 * into one fails (STORE_BUSY for a lock, logged) and the request is
 * answered with an apology.  A server
 * that does not answer at all (stopped, or cut off by the network, where
 * the kernel would wait many minutes) is given PG_ANSWER_MS by our own
 * clock (pg_result), and the connection is then dropped.  The
 * migrations, which may be long and which every host waits for, lift
 * all three.
 *
 * Reconnecting: a connection the server closed (a restart, a failover,
 * an idle timeout) is noticed before the next statement is sent, when
 * libpq reads the server's goodbye or the end of the stream, and is
 * made again at once, with its statements prepared again; the statement
 * then runs on the new one.  A connection lost while a statement or a
 * transaction was under way fails that call (its outcome is unknown, so
 * it is not replayed), and the next call reconnects.  A server that is
 * down is tried at most once every PG_RETRY_S per connection: calls in
 * between fail at once.
 *
 * Fibers: the fibers of a request thread (fiber.h) share its connection,
 * and a fiber gives the thread up while it waits for the server's answer
 * (pg_result), so that a slow or stuck server holds up neither the other
 * requests on the thread nor their 3-second deadlines.  The connection
 * is theirs in turn (pg->turn): a fiber takes it when it binds or runs a
 * statement or begins a transaction, and gives it back once none of its
 * statements is active and no transaction is open.
 *
 * Passwords: the URI must not hold one (it would be in the environment
 * and the process list of every program); it comes from the file
 * FORCELINK_DB_PASSWORD_FILE names (its first line), read at every
 * connect so that a changed password is picked up by the next one, or
 * else from libpq's own PGPASSFILE (~/.pgpass).
 *
 * Error discipline: a failure is logged once, where it happens, with the
 * server's SQLSTATE and primary message, which name tables, columns and
 * constraints but never a value (the DETAIL field, which may quote a
 * key, is never logged).
 */
#include <sys/types.h>

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "crypto.h"
#include "fiber.h"
#include "log.h"
#include "schema.h"
#include "store_int.h"

/* The advisory locks of forcelink: (class, key) pairs of int4, so that
 * they cannot meet another application's single bigint keys by chance
 * unless it picks this class ("flk" and a digit). */
#define PG_LOCK_CLASS		0x666c6b30	/* writers and migrations */
#define PG_LOCK_NAMED		0x666c6b31	/* store_lock_try() */
#define PG_LOCK_WRITER		1
#define PG_LOCK_MIGRATE		2

/* Timeouts of a connection (see the top of this file), in ms and s: the
 * server's, and ours for an answer that does not come at all. */
#define PG_TIMEOUT_MS		"2000"
#define PG_CONNECT_S		2
/* The connect of store_open() and of a worker thread's store as the
 * thread starts (store_open_deferred): not in a request, so it may take
 * longer on a busy host; a reconnect within a call has PG_CONNECT_S. */
#define PG_CONNECT_OPEN_S	10
#define PG_ANSWER_MS		2500
/* Least time between two attempts to reach a server that was down. */
#define PG_RETRY_S		1

/* The most parameters a statement has ($1 to $32: STMT_MIG_PUT_STATES
 * inserts every column of login_state). */
#define PG_MAXPARAM		32
/* The longest password read from FORCELINK_DB_PASSWORD_FILE. */
#define PG_PASSWORD_MAX		1024

/* PostgreSQL's type oids of the columns read as integers (pg_type.h). */
#define PG_BOOLOID		16
#define PG_INT8OID		20
#define PG_INT2OID		21
#define PG_INT4OID		23

/* One statement of one connection. */
struct pg_stmt {
	PGresult	*res;		/* its rows, once run */
	int		 row;		/* the row it is on */
	int		 nparams;	/* the highest $n of its SQL */
	int		 prepared;	/* on this connection */
	char		*val[PG_MAXPARAM];
	int		 len[PG_MAXPARAM];
	int		 fmt[PG_MAXPARAM];
	int		 active;	/* bound or run, not yet reset */
};

struct store_pg {
	PGconn		*conn;
	char		*uri;
	struct pg_stmt	 s[STMT__MAX];
	int64_t		 changes;	/* rows of the last write */
	int		 in_tx;		/* between begin and end */
	int		 busy;		/* the last failure was a lock or a
					   timeout */
	int		 closing;	/* the server said it ends the
					   session */
	int		 wait_ms;	/* longest wait for an answer; 0:
					   none (migrations) */
	time_t		 tried_at;	/* last failed connect */
	int		 ever;		/* has been connected */
	struct fiber_lock turn;		/* whose fiber's the connection is */
	int		 nactive;	/* its statements active */
};

/* --- Connecting ---------------------------------------------------------- */

/*
 * Reads the password from the file FORCELINK_DB_PASSWORD_FILE names into
 * buf (its first line).  Returns 1 with buf set, 0 when the variable is
 * not set (libpq then looks at PGPASSFILE), -1 (logged).
 */
static int
pg_password(char *buf, size_t bufsz)
{
	const char	*path;
	FILE		*f;
	size_t		 n;

	if ((path = getenv("FORCELINK_DB_PASSWORD_FILE")) == NULL ||
	    path[0] == '\0')
		return 0;
	if ((f = fopen(path, "re")) == NULL) {
		log_error("path=\"%s\" msg=\"FORCELINK_DB_PASSWORD_FILE: %s\"",
		    path, strerror(errno));
		return -1;
	}
	if (fgets(buf, (int)bufsz, f) == NULL)
		buf[0] = '\0';
	fclose(f);
	n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && n == bufsz - 1) {
		crypto_wipe(buf, bufsz);
		log_error("path=\"%s\" msg=\"FORCELINK_DB_PASSWORD_FILE: the "
		    "password is longer than %d bytes\"", path,
		    PG_PASSWORD_MAX - 1);
		return -1;
	}
	buf[n] = '\0';
	if (n == 0) {
		log_error("path=\"%s\" msg=\"FORCELINK_DB_PASSWORD_FILE is "
		    "empty\"", path);
		return -1;
	}
	return 1;
}

/* Checks that uri parses and holds no password.  Returns 0 or -1
 * (logged, never quoting the URI: it may hold a password). */
static int
pg_uri_ok(const char *uri)
{
	PQconninfoOption	*o, *opts;
	char			*err = NULL;
	int			 rc = 0;

	if ((opts = PQconninfoParse(uri, &err)) == NULL) {
		log_error("msg=\"FORCELINK_DB is not a valid PostgreSQL URI: "
		    "%s\"", err != NULL ? err : "out of memory");
		PQfreemem(err);
		return -1;
	}
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL) {
			log_error("msg=\"FORCELINK_DB holds a password: put it "
			    "in the file FORCELINK_DB_PASSWORD_FILE names (or "
			    "in PGPASSFILE) instead\"");
			rc = -1;
		}
	PQconninfoFree(opts);
	return rc;
}

/* Where a connection goes, for logs: host (or socket directory) and
 * database, never the user's password. */
static void
pg_where(PGconn *c, char *buf, size_t bufsz)
{
	const char	*h = PQhost(c), *d = PQdb(c);

	snprintf(buf, bufsz, "%s/%s", h != NULL ? h : "", d != NULL ? d : "");
}

/*
 * What the server says outside a statement's result: a notice, or the
 * FATAL it sends before it closes the connection (an administrator's
 * shutdown or restart, a failover, an idle timeout).  The latter marks
 * the connection for pg_ready().  Both are logged as our lines (libpq
 * would print them raw on stderr).
 */
static void
pg_notice(void *arg, const PGresult *res)
{
	struct store_pg	*pg = arg;
	const char	*sev, *state, *msg;

	sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (sev == NULL)
		sev = "";
	if (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0)
		pg->closing = 1;
	else if (strcmp(sev, "WARNING") != 0)
		return;
	log_warn("severity=%s sqlstate=%s msg=\"%.*s\"", sev,
	    state != NULL ? state : "-", msg != NULL ? (int)strcspn(msg, "\n") :
	    0, msg != NULL ? msg : "");
}

/*
 * Drives a connection that PQconnectStartParams() began to its end
 * within ms milliseconds, waiting on its socket in the scheduler: a
 * fiber gives its thread to the other requests meanwhile (poll(2)
 * outside one), so a server that is slow to answer or gone stalls only
 * the requests that need it.  libpq leaves the timeout of such a
 * connection to its caller.  Returns 0 when connected, else -1 with a
 * reason in *why (NULL: libpq's message says).
 */
static int
pg_connect_wait(PGconn *c, long ms, const char **why)
{
	PostgresPollingStatusType	 ps = PGRES_POLLING_WRITING;
	struct timespec			 end, now;
	long				 left;
	int				 ev;

	*why = NULL;
	if (PQstatus(c) == CONNECTION_BAD)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &end);
	fiber_add_ms(&end, ms);
	while (ps != PGRES_POLLING_OK) {
		if (ps == PGRES_POLLING_FAILED)
			return -1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (end.tv_sec - now.tv_sec) * 1000L +
		    (end.tv_nsec - now.tv_nsec) / 1000000L;
		if (left <= 0) {
			*why = "no answer within the connect timeout";
			return -1;
		}
		/* The socket may change from one attempt to the next. */
		ev = fiber_wait_fd(PQsocket(c), ps == PGRES_POLLING_READING ?
		    POLLIN : POLLOUT, left);
		if (ev == -1 && errno != EINTR) {
			*why = "cannot wait for the server";
			return -1;
		}
		if (ev > 0)
			ps = PQconnectPoll(c);
	}
	return 0;
}

/* The URI's connect_timeout in seconds (as libpq, at least 2), or dflt
 * when it sets none. */
static long
pg_uri_timeout(const char *uri, long dflt)
{
	PQconninfoOption	*o, *opts;
	long			 s = dflt;
	char			*end;

	if ((opts = PQconninfoParse(uri, NULL)) == NULL)
		return dflt;
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "connect_timeout") == 0 &&
		    o->val != NULL && *o->val != '\0') {
			s = strtol(o->val, &end, 10);
			if (*end != '\0' || s <= 0)
				s = dflt;
			else if (s < 2)
				s = 2;
		}
	PQconninfoFree(opts);
	return s;
}

/*
 * Connects to uri within timeout_s seconds, or the URI's own
 * connect_timeout.  Our settings come before the URI's; the timeouts are
 * per session.  Returns the connection, or NULL (logged).
 */
static PGconn *
pg_connect(struct store_pg *pg, const char *uri, long timeout_s)
{
	const char	*kw[5], *val[5], *why;
	char		 pw[PG_PASSWORD_MAX], where[256];
	PGconn		*c;
	int		 n = 0, havepw;

	if ((havepw = pg_password(pw, sizeof(pw))) == -1)
		return NULL;
	kw[n] = "application_name";	val[n++] = "forcelink";
	kw[n] = "options";		val[n++] = "-c statement_timeout="
	    PG_TIMEOUT_MS " -c lock_timeout=" PG_TIMEOUT_MS;
	kw[n] = "dbname";		val[n++] = uri;
	if (havepw) {
		kw[n] = "password";	val[n++] = pw;
	}
	kw[n] = NULL;			val[n] = NULL;
	c = PQconnectStartParams(kw, val, 1);
	if (havepw)
		crypto_wipe(pw, sizeof(pw));
	if (c == NULL) {
		log_error("msg=\"PostgreSQL: out of memory\"");
		return NULL;
	}
	timeout_s = pg_uri_timeout(uri, timeout_s);
	if (pg_connect_wait(c, timeout_s * 1000L, &why) == -1 ||
	    PQstatus(c) != CONNECTION_OK) {
		pg_where(c, where, sizeof(where));
		if (why == NULL)
			why = PQerrorMessage(c);
		log_error("db=\"%s\" msg=\"cannot connect to PostgreSQL: %.*s\"",
		    where, (int)strcspn(why, "\n"), why);
		PQfinish(c);
		return NULL;
	}
	pg->closing = 0;
	(void)PQsetNoticeReceiver(c, pg_notice, pg);
	return c;
}

/* --- Statements ----------------------------------------------------------- */

/* The highest $n in sql: how many parameters it takes. */
static int
pg_nparams(const char *sql)
{
	const char	*p;
	long		 n, max = 0;

	for (p = sql; (p = strchr(p, '$')) != NULL; ) {
		n = strtol(p + 1, (char **)&p, 10);
		if (n > max)
			max = n;
	}
	return (int)max;
}

/* Logs a failed result of what (a statement's name), notes whether it
 * was a lock or a timeout, and frees it.  Always returns -1. */
static int
pg_fail(struct store *st, const char *what, PGresult *res)
{
	struct store_pg	*pg = st->pg;
	const char	*state = NULL, *msg = NULL;

	if (res != NULL) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	}
	if (msg == NULL)
		msg = PQerrorMessage(pg->conn);
	/* lock_not_available, query_canceled (our timeouts),
	 * serialization_failure, deadlock_detected. */
	pg->busy = state != NULL && (strcmp(state, "55P03") == 0 ||
	    strcmp(state, "57014") == 0 || strcmp(state, "40001") == 0 ||
	    strcmp(state, "40P01") == 0);
	st->last_fail = pg->busy ? STORE_BUSY : STORE_ERROR;
	log_error("stmt=%s sqlstate=%s msg=\"%.*s\"", what,
	    state != NULL ? state : "-", (int)strcspn(msg, "\n"), msg);
	PQclear(res);
	return -1;
}

/* Whether a result is a failure. */
static int
pg_failed(const PGresult *res)
{
	return PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK;
}

/* Whether the connection is gone (lost, or dropped by pg_result). */
static int
pg_down(const struct store_pg *pg)
{
	return pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK;
}

/* Drops the connection (the next call connects again). */
static void
pg_drop(struct store *st)
{
	size_t	 i;

	for (i = 0; i < STMT__MAX; i++) {
		PQclear(st->pg->s[i].res);
		st->pg->s[i].res = NULL;
		st->pg->s[i].prepared = 0;
	}
	PQfinish(st->pg->conn);
	st->pg->conn = NULL;
	st->pg->in_tx = 0;
}

/*
 * The result of what was just sent (PQsend*) for what: the first failed
 * result if any, else the last.  The server's own timeouts answer a slow
 * statement; this waits at most PG_ANSWER_MS more for a server that does
 * not answer at all (stopped, or cut off by the network, where the
 * kernel would wait many minutes), then drops the connection.  Returns
 * NULL (logged) when no result came.
 */
static PGresult *
pg_result(struct store *st, const char *what)
{
	struct store_pg	*pg = st->pg;
	struct timespec	 t0, t;
	PGresult	*res, *keep = NULL;
	long		 left;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		while (PQisBusy(pg->conn)) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			left = pg->wait_ms - ((t.tv_sec - t0.tv_sec) * 1000L +
			    (t.tv_nsec - t0.tv_nsec) / 1000000L);
			if (pg->wait_ms > 0 && left <= 0) {
				log_error("stmt=%s msg=\"PostgreSQL did not "
				    "answer within %d ms: connection dropped\"",
				    what, PG_ANSWER_MS);
				st->last_fail = STORE_ERROR;
				pg->busy = 0;
				PQclear(keep);
				pg_drop(st);
				return NULL;
			}
			/* A fiber gives its thread to other requests while
			 * the server works (poll(2) outside one). */
			if (fiber_wait_fd(PQsocket(pg->conn), POLLIN,
			    pg->wait_ms > 0 ? left : -1) == -1 &&
			    errno != EINTR)
				break;
			if (!PQconsumeInput(pg->conn))
				break;
		}
		if ((res = PQgetResult(pg->conn)) == NULL)
			break;
		if (keep != NULL && pg_failed(keep))
			PQclear(res);
		else {
			PQclear(keep);
			keep = res;
		}
		if (pg_down(pg))
			break;
	}
	if (keep == NULL)
		(void)pg_fail(st, what, NULL);
	return keep;
}

/* Runs sql (no parameters, several statements allowed) for what.
 * Returns 0, or -1 (logged). */
static int
pg_exec(struct store *st, const char *what, const char *sql)
{
	PGresult	*res;

	if (pg_down(st->pg) || !PQsendQuery(st->pg->conn, sql))
		return pg_fail(st, what, NULL);
	if ((res = pg_result(st, what)) == NULL)
		return -1;
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		return pg_fail(st, what, res);
	PQclear(res);
	return 0;
}

/* Prepares statement id on the connection.  Returns 0 or -1 (logged). */
static int
pg_prepare(struct store *st, enum stmt id)
{
	struct pg_stmt	*ps = &st->pg->s[id];
	PGresult	*res;

	if (store_stmts_pg[id].sql == NULL) {
		log_error("stmt=%s msg=\"not a statement PostgreSQL has\"",
		    store_stmts[id].name);
		return -1;
	}
	if ((ps->nparams = pg_nparams(store_stmts_pg[id].sql)) > PG_MAXPARAM) {
		log_error("stmt=%s msg=\"more than %d parameters\"",
		    store_stmts_pg[id].name, PG_MAXPARAM);
		return -1;
	}
	if (pg_down(st->pg) || !PQsendPrepare(st->pg->conn,
	    store_stmts_pg[id].name, store_stmts_pg[id].sql, ps->nparams, NULL))
		return pg_fail(st, store_stmts_pg[id].name, NULL);
	if ((res = pg_result(st, store_stmts_pg[id].name)) == NULL)
		return -1;
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return pg_fail(st, store_stmts_pg[id].name, res);
	PQclear(res);
	ps->prepared = 1;
	return 0;
}

/*
 * Makes sure the connection is up before a statement is sent outside a
 * transaction (see "Reconnecting" at the top).  Returns 0, or -1
 * (logged) when the server cannot be reached.
 */
static int
pg_ready(struct store *st)
{
	struct store_pg	*pg = st->pg;
	PGconn		*c;
	char		 where[256];
	time_t		 now;

	/* Reads what the server sent while we were idle (never waits) and
	 * parses it (PQisBusy): a goodbye calls pg_notice, the end of the
	 * stream breaks the connection. */
	if (pg->conn != NULL && PQstatus(pg->conn) == CONNECTION_OK &&
	    PQconsumeInput(pg->conn) == 1 && !PQisBusy(pg->conn) &&
	    !pg->closing && PQstatus(pg->conn) == CONNECTION_OK)
		return 0;
	now = time(NULL);
	if (pg->tried_at != 0 && now - pg->tried_at < PG_RETRY_S) {
		st->last_fail = STORE_ERROR;
		log_error("msg=\"PostgreSQL unreachable (tried again at most "
		    "once a second)\"");
		return -1;
	}
	if ((c = pg_connect(pg, pg->uri, PG_CONNECT_S)) == NULL) {
		pg->tried_at = now;
		st->last_fail = STORE_ERROR;
		return -1;
	}
	pg->tried_at = 0;
	pg_drop(st);
	pg->conn = c;
	if (pg->ever) {
		pg_where(c, where, sizeof(where));
		log_event(LOGL_WARN, "store.reconnected", "db=\"%s\"", where);
	}
	pg->ever = 1;
	return 0;
}

/* --- The engine's calls -------------------------------------------------- */

/* The calling fiber takes the connection, for statement id (or, with
 * STMT__MAX, for a transaction or a call of its own). */
static void
pg_take(struct store *st, enum stmt id)
{
	struct store_pg	*pg = st->pg;

	(void)fiber_lock_take(&pg->turn);
	if (id != STMT__MAX && !pg->s[id].active) {
		pg->s[id].active = 1;
		pg->nactive++;
	}
}

/* Gives the connection back once the caller has nothing going on it. */
static void
pg_give(struct store *st)
{
	struct store_pg	*pg = st->pg;

	if (!pg->in_tx && pg->nactive == 0)
		fiber_lock_give(&pg->turn);
}

static void
pg_reset(struct store *st, enum stmt id)
{
	struct pg_stmt	*ps = &st->pg->s[id];
	int		 i;

	PQclear(ps->res);
	ps->res = NULL;
	ps->row = 0;
	for (i = 0; i < PG_MAXPARAM; i++) {
		free(ps->val[i]);
		ps->val[i] = NULL;
		ps->len[i] = ps->fmt[i] = 0;
	}
	if (ps->active) {
		ps->active = 0;
		st->pg->nactive--;
	}
	pg_give(st);
}

/* Runs statement id with its parameters.  Returns 0 with its result
 * kept, or -1 (logged). */
static int
pg_run(struct store *st, enum stmt id)
{
	struct store_pg	*pg = st->pg;
	struct pg_stmt	*ps = &pg->s[id];
	PGresult	*res;
	ExecStatusType	 status;

	if (!pg->in_tx && pg_ready(st) == -1)
		return -1;
	if (!ps->prepared && pg_prepare(st, id) == -1)
		return -1;
	if (pg_down(pg) || !PQsendQueryPrepared(pg->conn,
	    store_stmts_pg[id].name, ps->nparams,
	    (const char *const *)ps->val, ps->len, ps->fmt, 1))
		return pg_fail(st, store_stmts_pg[id].name, NULL);
	if ((res = pg_result(st, store_stmts_pg[id].name)) == NULL)
		return -1;
	status = PQresultStatus(res);
	if (status == PGRES_COMMAND_OK)
		pg->changes = strtoll(PQcmdTuples(res), NULL, 10);
	else if (status != PGRES_TUPLES_OK)
		return pg_fail(st, store_stmts_pg[id].name, res);
	ps->res = res;
	ps->row = 0;
	return 0;
}

static int
pg_step(struct store *st, enum stmt id)
{
	struct pg_stmt	*ps = &st->pg->s[id];

	pg_take(st, id);
	if (ps->res == NULL) {
		if (pg_run(st, id) == -1)
			return -1;
	} else if (ps->row < PQntuples(ps->res))
		ps->row++;
	return ps->row < PQntuples(ps->res) ? STORE_ROW : STORE_DONE;
}

/* Parameter col (from 1) of id, emptied; NULL (logged) when there is no
 * such parameter. */
static struct pg_stmt *
pg_param(struct store *st, enum stmt id, int col)
{
	struct pg_stmt	*ps = &st->pg->s[id];

	pg_take(st, id);
	if (col < 1 || col > PG_MAXPARAM || (ps->prepared &&
	    col > ps->nparams)) {
		log_error("stmt=%s param=%d msg=\"no such parameter\"",
		    store_stmts_pg[id].name, col);
		return NULL;
	}
	free(ps->val[col - 1]);
	ps->val[col - 1] = NULL;
	ps->len[col - 1] = ps->fmt[col - 1] = 0;
	return ps;
}

/* Binds len bytes of p to parameter col, as text or (binary) as bytea;
 * p == NULL binds SQL NULL.  Returns 0 or -1 (logged). */
static int
pg_bind(struct store *st, enum stmt id, int col, const void *p, size_t len,
    int binary)
{
	struct pg_stmt	*ps;
	char		*v;

	if ((ps = pg_param(st, id, col)) == NULL)
		return -1;
	if (p == NULL)
		return 0;
	if (len > INT32_MAX || (v = malloc(len + 1)) == NULL) {
		log_error("stmt=%s msg=\"out of memory\"",
		    store_stmts_pg[id].name);
		return -1;
	}
	memcpy(v, p, len);
	v[len] = '\0';
	ps->val[col - 1] = v;
	ps->len[col - 1] = (int)len;
	ps->fmt[col - 1] = binary;
	return 0;
}

static int
pg_bind_text(struct store *st, enum stmt id, int col, const char *s)
{
	return pg_bind(st, id, col, s, s != NULL ? strlen(s) : 0, 0);
}

static int
pg_bind_blob(struct store *st, enum stmt id, int col, const void *p,
    size_t len)
{
	return pg_bind(st, id, col, p, len, 1);
}

static int
pg_bind_int(struct store *st, enum stmt id, int col, int64_t v)
{
	char	 buf[24];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return pg_bind(st, id, col, buf, strlen(buf), 0);
}

/* The row statement id is on, or NULL when it is on none. */
static const PGresult *
pg_row(struct store *st, enum stmt id, int col)
{
	struct pg_stmt	*ps = &st->pg->s[id];

	if (ps->res == NULL || ps->row >= PQntuples(ps->res) || col < 0 ||
	    col >= PQnfields(ps->res))
		return NULL;
	return ps->res;
}

static const char *
pg_col_text(struct store *st, enum stmt id, int col)
{
	const PGresult	*res;
	int		 row = st->pg->s[id].row;

	if ((res = pg_row(st, id, col)) == NULL ||
	    PQgetisnull(res, row, col))
		return NULL;
	/* A binary text value is its bytes, and libpq ends every value with
	 * a NUL; text never holds one. */
	return PQgetvalue(res, row, col);
}

static int64_t
pg_col_int(struct store *st, enum stmt id, int col)
{
	const PGresult	*res;
	const char	*v;
	int		 row = st->pg->s[id].row;
	uint64_t	 u64;
	uint32_t	 u32;
	uint16_t	 u16;

	if ((res = pg_row(st, id, col)) == NULL ||
	    PQgetisnull(res, row, col))
		return 0;
	v = PQgetvalue(res, row, col);
	switch (PQftype(res, col)) {
	case PG_INT8OID:
		if (PQgetlength(res, row, col) != 8)
			break;
		memcpy(&u64, v, 8);
		return (int64_t)be64toh(u64);
	case PG_INT4OID:
		if (PQgetlength(res, row, col) != 4)
			break;
		memcpy(&u32, v, 4);
		return (int32_t)ntohl(u32);
	case PG_INT2OID:
		if (PQgetlength(res, row, col) != 2)
			break;
		memcpy(&u16, v, 2);
		return (int16_t)ntohs(u16);
	case PG_BOOLOID:
		if (PQgetlength(res, row, col) != 1)
			break;
		return v[0] != 0;
	default:
		break;
	}
	log_error("stmt=%s col=%d type=%u msg=\"not an integer column\"",
	    store_stmts_pg[id].name, col, (unsigned)PQftype(res, col));
	return 0;
}

static const unsigned char *
pg_col_bytes(struct store *st, enum stmt id, int col, size_t *len)
{
	const PGresult	*res;
	int		 row = st->pg->s[id].row, n;

	*len = 0;
	if ((res = pg_row(st, id, col)) == NULL ||
	    PQgetisnull(res, row, col) || (n = PQgetlength(res, row, col)) <= 0)
		return NULL;
	*len = (size_t)n;
	return (const unsigned char *)PQgetvalue(res, row, col);
}

static int
pg_col_null(struct store *st, enum stmt id, int col)
{
	const PGresult	*res;

	return (res = pg_row(st, id, col)) == NULL ||
	    PQgetisnull(res, st->pg->s[id].row, col);
}

static int64_t
pg_changes(struct store *st)
{
	return st->pg->changes;
}

static int
pg_busy_failed(struct store *st)
{
	return st->pg != NULL && st->pg->busy;
}

/*
 * A write transaction: BEGIN, then the writers' advisory lock (see the
 * top of this file), waiting at most lock_timeout for it.  Returns 0, or
 * -1 (logged; no transaction is open then).
 */
static int
pg_begin(struct store *st, int durable)
{
	char	 sql[160];

	pg_take(st, STMT__MAX);
	if (pg_ready(st) == -1) {
		pg_give(st);
		return -1;
	}
	snprintf(sql, sizeof(sql), "BEGIN; %sSELECT pg_advisory_xact_lock("
	    "%d, %d)", durable ? "SET LOCAL synchronous_commit TO on; " : "",
	    PG_LOCK_CLASS, PG_LOCK_WRITER);
	if (pg_exec(st, "begin", sql) == -1) {
		if (!pg_down(st->pg) &&
		    PQtransactionStatus(st->pg->conn) != PQTRANS_IDLE)
			(void)pg_exec(st, "rollback", "ROLLBACK");
		pg_give(st);
		return -1;
	}
	st->pg->in_tx = 1;
	return 0;
}

/*
 * Ends the transaction: COMMIT when commit is set, else ROLLBACK.  A
 * transaction that failed is rolled back by its COMMIT, which libpq
 * reports as a success with the tag ROLLBACK: that is a failed commit
 * here.  Returns 0, or -1 when the commit failed (logged).
 */
static int
pg_end(struct store *st, int commit, int durable)
{
	struct store_pg	*pg = st->pg;
	PGresult	*res;
	int		 rc = 0;

	(void)durable;
	pg->in_tx = 0;
	if (!commit) {
		if (!pg_down(pg) &&
		    PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
			(void)pg_exec(st, "rollback", "ROLLBACK");
		pg_give(st);
		return 0;
	}
	if (pg_down(pg) || !PQsendQuery(pg->conn, "COMMIT"))
		rc = pg_fail(st, "commit", NULL);
	else if ((res = pg_result(st, "commit")) == NULL)
		rc = -1;
	else if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = pg_fail(st, "commit", res);
	else {
		if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
			st->last_fail = STORE_ERROR;
			log_error("stmt=commit msg=\"the transaction had failed "
			    "and was rolled back\"");
			rc = -1;
		}
		PQclear(res);
	}
	if (!pg_down(pg) && PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
		(void)pg_exec(st, "rollback", "ROLLBACK");
	pg_give(st);
	return rc;
}

static void
pg_writer_lock(struct store *st)
{
	(void)st;
}

static void
pg_writer_unlock(struct store *st)
{
	(void)st;
}

/* Runs a one-row, one-column query about lock key (an advisory lock
 * function of (PG_LOCK_NAMED, key)).  Returns the column's text ("t" or
 * "f" for a boolean, "" for void) copied into buf, 0, or -1 (logged). */
static int
pg_lock_call(struct store *st, const char *fn, uint32_t key, char *buf,
    size_t bufsz)
{
	const char	*params[1];
	char		 k[16], sql[80];
	PGresult	*res;

	snprintf(k, sizeof(k), "%" PRId32, (int32_t)key);
	snprintf(sql, sizeof(sql), "SELECT %s(%d, $1::integer)", fn,
	    PG_LOCK_NAMED);
	params[0] = k;
	if (pg_down(st->pg) || !PQsendQueryParams(st->pg->conn, sql, 1, NULL,
	    params, NULL, NULL, 0))
		return pg_fail(st, fn, NULL);
	if ((res = pg_result(st, fn)) == NULL)
		return -1;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		return pg_fail(st, fn, res);
	snprintf(buf, bufsz, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

static int
pg_lock_try(struct store *st, uint32_t key)
{
	char	 v[8];
	int	 rc = -1;

	pg_take(st, STMT__MAX);
	if ((st->pg->in_tx || pg_ready(st) == 0) && pg_lock_call(st,
	    "pg_try_advisory_lock", key, v, sizeof(v)) == 0)
		rc = strcmp(v, "t") == 0;
	pg_give(st);
	return rc;
}

static void
pg_lock_release(struct store *st, uint32_t key)
{
	char	 v[8];

	/* A connection lost meanwhile lost the lock with it. */
	if (pg_down(st->pg))
		return;
	pg_take(st, STMT__MAX);
	if (pg_lock_call(st, "pg_advisory_unlock", key, v, sizeof(v)) == 0 &&
	    strcmp(v, "t") != 0)
		log_warn("msg=\"named lock was not held at release\"");
	pg_give(st);
}

static void
pg_close(struct store *st)
{
	size_t	 i;

	if (st->pg == NULL)
		return;
	for (i = 0; i < STMT__MAX; i++)
		pg_reset(st, (enum stmt)i);
	PQfinish(st->pg->conn);
	free(st->pg->uri);
	free(st->pg);
	st->pg = NULL;
}

const struct store_engine	 store_pg_engine = {
	"postgresql",
	pg_close,
	pg_reset,
	pg_step,
	pg_bind_text,
	pg_bind_blob,
	pg_bind_int,
	pg_col_text,
	pg_col_int,
	pg_col_bytes,
	pg_col_null,
	pg_changes,
	pg_busy_failed,
	pg_begin,
	pg_end,
	pg_writer_lock,
	pg_writer_unlock,
	pg_lock_try,
	pg_lock_release
};

/* --- What the admin tool reports ------------------------------------------ */

/* Runs sql (one row, one column) into buf as text.  0 or -1 (logged). */
static int
pg_value(struct store *st, const char *what, const char *sql, char *buf,
    size_t bufsz)
{
	PGresult	*res;

	if (pg_down(st->pg) || !PQsendQueryParams(st->pg->conn, sql, 0, NULL,
	    NULL, NULL, NULL, 0))
		return pg_fail(st, what, NULL);
	if ((res = pg_result(st, what)) == NULL)
		return -1;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		return pg_fail(st, what, res);
	snprintf(buf, bufsz, "%s", PQgetisnull(res, 0, 0) ? "" :
	    PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* Whether host (a connection's host or socket directory) is this
 * machine: a unix socket or a loopback address. */
static int
pg_host_local(const char *host)
{
	return host[0] == '\0' || host[0] == '/' || host[0] == '@' ||
	    strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
	    strcmp(host, "::1") == 0;
}

int
store_server_info(struct store *st, struct store_server *out)
{
	PQconninfoOption	*o, *opts;
	struct store_pg		*pg = st->pg;
	char			 v[16];
	const char		*h;

	memset(out, 0, sizeof(*out));
	if (st->eng != &store_pg_engine) {
		log_error("msg=\"not a PostgreSQL store\"");
		return -1;
	}
	if (pg_ready(st) == -1)
		return -1;
	h = PQhost(pg->conn);
	snprintf(out->host, sizeof(out->host), "%s", h != NULL ? h : "");
	snprintf(out->db, sizeof(out->db), "%s", PQdb(pg->conn));
	snprintf(out->user, sizeof(out->user), "%s", PQuser(pg->conn));
	out->local = pg_host_local(out->host);
	out->ssl = PQsslInUse(pg->conn);
	if ((opts = PQconninfo(pg->conn)) != NULL) {
		for (o = opts; o->keyword != NULL; o++)
			if (strcmp(o->keyword, "sslmode") == 0 && o->val != NULL)
				snprintf(out->sslmode, sizeof(out->sslmode),
				    "%s", o->val);
		PQconninfoFree(opts);
	}
	if (pg_value(st, "server_version", "SHOW server_version",
	    out->version, sizeof(out->version)) == -1 ||
	    pg_value(st, "superuser", "SELECT rolsuper FROM pg_roles "
	    "WHERE rolname = current_user", v, sizeof(v)) == -1)
		return -1;
	out->superuser = strcmp(v, "t") == 0;
	if (pg_value(st, "checksums", "SHOW data_checksums", v,
	    sizeof(v)) == -1)
		return -1;
	out->checksums = strcmp(v, "on") == 0;
	if (pg_value(st, "size", "SELECT pg_database_size(current_database())",
	    v, sizeof(v)) == -1)
		return -1;
	out->size_bytes = strtoll(v, NULL, 10);
	/* Every table of the schema, with what the programs do to them. */
	return pg_value(st, "privileges", "SELECT coalesce(string_agg("
	    "c.relname || ':' || p, ', ' ORDER BY c.relname COLLATE \"C\", "
	    "p), '') FROM pg_class c JOIN pg_namespace n "
	    "ON n.oid = c.relnamespace CROSS JOIN unnest(ARRAY['SELECT', "
	    "'INSERT', 'UPDATE', 'DELETE']) AS p "
	    "WHERE n.nspname = current_schema() AND c.relkind = 'r' "
	    "AND NOT has_table_privilege(c.oid, p)", out->missing,
	    sizeof(out->missing));
}

/* --- Migrations ----------------------------------------------------------- */

/* The schema version of the database (0 before the first migration), in
 * the caller's transaction.  Returns 0 and *v, or -1 (logged). */
static int
pg_version(struct store *st, int *v)
{
	char	 buf[16];

	if (pg_value(st, "schema_exists", "SELECT to_regclass("
	    "'forcelink_schema') IS NOT NULL", buf, sizeof(buf)) == -1)
		return -1;
	if (strcmp(buf, "t") != 0) {
		*v = 0;
		return 0;
	}
	if (pg_value(st, "schema_version", "SELECT version FROM "
	    "forcelink_schema", buf, sizeof(buf)) == -1)
		return -1;
	*v = (int)strtol(buf, NULL, 10);
	return 0;
}

/*
 * Applies migration m unless the database has it, in one transaction,
 * under the migrations' lock (pg_migrate).  The transaction starts after
 * the lock is taken, so that it sees what the previous holder committed,
 * the catalogue included.  Returns 0, or -1 (logged; nothing is changed).
 */
static int
pg_migrate_one(struct store *st, const struct schema_migration *m)
{
	char	 sql[64];
	int	 v, rc = -1;

	if (pg_exec(st, "begin migration", "BEGIN") == -1 ||
	    pg_version(st, &v) == -1)
		goto out;
	if (v < 0 || v > store_schema_version()) {
		log_error("engine=postgresql msg=\"database schema version %d "
		    "is not one this program knows (it knows up to %d): "
		    "refusing to use it; run the newer forcelink that wrote "
		    "it\"", v, store_schema_version());
		goto out;
	}
	if (v >= m->version) {
		rc = 0;
		goto out;
	}
	if (v != m->version - 1) {
		log_error("migration=%s version=%d msg=\"migrations out of "
		    "order\"", m->name, v);
		goto out;
	}
	snprintf(sql, sizeof(sql), "UPDATE forcelink_schema SET version = %d",
	    m->version);
	if (pg_exec(st, m->name, m->sql) == -1 ||
	    pg_exec(st, "set version", sql) == -1 ||
	    pg_exec(st, "commit migration", "COMMIT") == -1)
		goto out;
	log_event(LOGL_INFO, "store.migrated", "engine=postgresql "
	    "migration=%s version=%d", m->name, m->version);
	rc = 0;
out:
	if (!pg_down(st->pg) &&
	    PQtransactionStatus(st->pg->conn) != PQTRANS_IDLE)
		(void)pg_exec(st, "rollback", "ROLLBACK");
	return rc;
}

/*
 * Brings the schema up to store_schema_version().  A database that is
 * up to date (every start but the first) takes no lock.  Otherwise the
 * migrations run under a session advisory lock, without the timeouts, so
 * that hosts starting together migrate one after the other and wait for
 * each other however long a migration takes.  Returns 0 or -1.
 */
static int
pg_migrate(struct store *st)
{
	char	 sql[160];
	size_t	 i;
	int	 v, rc = 0;

	if (schema_pg_nmigrations != schema_nmigrations) {
		log_error("msg=\"%zu PostgreSQL migrations for %zu SQLite ones\"",
		    schema_pg_nmigrations, schema_nmigrations);
		return -1;
	}
	for (i = 0; i < schema_pg_nmigrations; i++)
		if (schema_pg_migrations[i].version != (int)i + 1) {
			log_error("migration=%s msg=\"migrations must be "
			    "numbered 1, 2, ... without gaps\"",
			    schema_pg_migrations[i].name);
			return -1;
		}
	if (pg_version(st, &v) == -1)
		return -1;
	if (v == store_schema_version())
		return 0;
	snprintf(sql, sizeof(sql), "SET statement_timeout = 0; "
	    "SET lock_timeout = 0; SELECT pg_advisory_lock(%d, %d)",
	    PG_LOCK_CLASS, PG_LOCK_MIGRATE);
	st->pg->wait_ms = 0;
	if (pg_exec(st, "lock migrations", sql) == -1) {
		st->pg->wait_ms = PG_ANSWER_MS;
		return -1;
	}
	for (i = 0; i < schema_pg_nmigrations && rc == 0; i++)
		rc = pg_migrate_one(st, &schema_pg_migrations[i]);
	st->pg->wait_ms = PG_ANSWER_MS;
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%d, %d); "
	    "RESET statement_timeout; RESET lock_timeout", PG_LOCK_CLASS,
	    PG_LOCK_MIGRATE);
	if (pg_exec(st, "unlock migrations", sql) == -1)
		rc = -1;
	return rc;
}

int
store_pg_open(struct store *st, const char *uri, int deferred)
{
	if (pg_uri_ok(uri) == -1)
		return -1;
	if ((st->pg = calloc(1, sizeof(*st->pg))) == NULL ||
	    (st->pg->uri = strdup(uri)) == NULL) {
		log_error("msg=\"out of memory\"");
		return -1;
	}
	st->pg->wait_ms = PG_ANSWER_MS;
	if (deferred) {
		/* Connected now if the server answers, so that requests do
		 * not pay for it; if not, the first call tries again. */
		if ((st->pg->conn = pg_connect(st->pg, uri,
		    PG_CONNECT_OPEN_S)) != NULL)
			st->pg->ever = 1;
		return 0;
	}
	if ((st->pg->conn = pg_connect(st->pg, uri, PG_CONNECT_OPEN_S)) ==
	    NULL || pg_migrate(st) == -1)
		return -1;
	st->pg->ever = 1;
	return 0;
}

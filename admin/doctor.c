/*
 * doctor: one line per health check, ok or FAIL with the reason.
 *
 * It looks at what an admin gets wrong or what breaks in production: the
 * configuration (config_load, exactly as the workers read it), the
 * database (it exists, opens, PRAGMA integrity_check says ok, the schema
 * is this program's), the file modes (database and its -wal and -shm
 * files not world-accessible, its directory not world-writable, the key
 * file readable by its owner and at most its group, as the README
 * installs it: root:forcelink 0640; secret files not world-readable), the
 * key (it opens the most recently updated link; every key id in use is
 * the configured key), Salesforce (a real HTTPS request to SF_LOGIN_URL
 * through common/http.c, so with certificate verification and
 * FORCELINK_CA_FILE as the workers use them, and a short timeout), and
 * the FastCGI sockets of the four programs (they exist, are sockets, not
 * world-writable: whoever can connect talks to the workers
 * unauthenticated; and nginx can connect: group NGINX_GROUP, the one
 * ./configure --with-nginx-group named, with read and write).
 *
 * A check that cannot run because an earlier one failed is not reported
 * (the earlier FAIL says why).  Exit status 1 when any check failed.
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "admin.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "store.h"

#define DOCTOR_SOCKET_DIR	"/run/forcelink"
#define DOCTOR_SOCKETS_MAX	16
#define DOCTOR_TIMEOUT		5	/* seconds, for Salesforce */
#define DOCTOR_TIMEOUT_MAX	20
#define DOCTOR_DETAIL_MAX	1024
#define DOCTOR_LOG_MAX		8	/* log lines kept for one check */

/* The group nginx runs as (./configure --with-nginx-group, Makefile.am). */
#ifndef NGINX_GROUP
#define NGINX_GROUP		"www-data"
#endif

/* The programs whose sockets are checked by default. */
static const char *const doctor_programs[] = {
	"contact", "oauth_start", "oauth_callback", "slack_oauth", "actions"
};

/* The secrets besides the key that may be given as files. */
static const char *const doctor_secret_files[] = {
	"SF_CLIENT_SECRET_FILE", "SLACK_SIGNING_SECRET_FILE",
	"SLACK_VERIFICATION_TOKEN_FILE", "SLACK_CLIENT_SECRET_FILE",
	"SLACK_BOT_TOKEN_FILE", "FORCELINK_DB_PASSWORD_FILE"
};

enum doctor_status {
	DOC_OK,
	DOC_FAIL,
	DOC_SKIP
};

struct doctor {
	int			 json;
	int			 timeout;
	const char		*sockets[DOCTOR_SOCKETS_MAX];
	size_t			 nsockets;
	struct json_object	*checks;
	int			 failed;
	struct config		 cfg;
	char			 keyid[CRYPTO_KEYID_LEN + 1]; /* current key */
	struct store		*st;
	/* The log lines of the modules since the last check was reported:
	 * printed under that check's row, so they never land inside the
	 * table at random (stdout and stderr are buffered apart). */
	char			*log[DOCTOR_LOG_MAX];
	size_t			 nlog;
	size_t			 droppedlog;
};

enum {
	OPT_JSON = 256,
	OPT_SOCKET,
	OPT_TIMEOUT
};

static const struct option doctor_longopts[] = {
	{ "help",	no_argument,		NULL, 'h' },
	{ "json",	no_argument,		NULL, OPT_JSON },
	{ "socket",	required_argument,	NULL, OPT_SOCKET },
	{ "timeout",	required_argument,	NULL, OPT_TIMEOUT },
	{ NULL,		0,			NULL, 0 }
};

static const struct admin_cmd_help doctor_help = {
	ADMIN_PROG " doctor [--json] [--socket PATH]... [--timeout SECONDS]",
	"Checks the installation and prints one line per check: ok, FAIL\n"
	"with the reason, or skip.  Exit status 1 when any check failed.\n"
	"\n"
	"  config        the configuration loads, as the programs read it\n"
	"  database      FORCELINK_DB exists, opens, integrity_check is ok\n"
	"  schema        its schema version is this program's\n"
	"  modes.database  it and its -wal and -shm files are 0600 or 0660\n"
	"  modes.directory its directory is not world-writable\n"
	"  modes.key     FORCELINK_KEY_FILE is readable by its owner and\n"
	"                at most its group (0640 root:forcelink, or 0600)\n"
	"  modes.secrets the other *_FILE secrets are not world-readable\n"
	"  key.sample    the key opens the most recently updated link\n"
	"  key.ids       every key id in use is the configured key's\n"
	"  salesforce    SF_LOGIN_URL answers over verified TLS\n"
	"  socket        each FastCGI socket exists, is a socket, is not\n"
	"                world-writable, and nginx can connect (group\n"
	"                " NGINX_GROUP ", mode 0660)\n"
	"\n"
	"  --json              {\"ok\": bool, \"checks\": [{\"check\",\n"
	"                      \"status\", \"detail\"}]}\n"
	"  --socket PATH       check this socket (repeatable) instead of\n"
	"                      contact.sock, oauth_start.sock,\n"
	"                      oauth_callback.sock, slack_oauth.sock and\n"
	"                      actions.sock in\n"
	"                      $FORCELINK_SOCKET_DIR\n"
	"                      (default " DOCTOR_SOCKET_DIR ")\n"
	"  --timeout SECONDS   for the Salesforce request (1 to 20,\n"
	"                      default 5)\n",
	"socket"
};

static const char *const doctor_status_names[] = { "ok", "FAIL", "skip" };
static const char *const doctor_status_json[] = { "ok", "fail", "skip" };

static void	doctor_report(struct doctor *, const char *,
		    enum doctor_status, const char *, ...)
		    __attribute__((format(printf, 4, 5)));

/* log_set_sink's function while doctor runs: keeps the line. */
static void
doctor_log(const char *line, void *arg)
{
	struct doctor	*d = arg;
	char		*copy;

	if (d->nlog == DOCTOR_LOG_MAX || (copy = strdup(line)) == NULL) {
		d->droppedlog++;
		return;
	}
	d->log[d->nlog++] = copy;
}

/* Prints (text) or adds to o (JSON, as "log") the kept log lines, and
 * forgets them. */
static void
doctor_log_flush(struct doctor *d, struct json_object *o)
{
	struct json_object	*a = NULL;
	char			 more[64];
	size_t			 i;

	if (d->nlog == 0 && d->droppedlog == 0)
		return;
	snprintf(more, sizeof(more), "(%zu more log lines)", d->droppedlog);
	if (o != NULL && (a = json_object_new_array()) != NULL)
		json_object_object_add(o, "log", a);
	for (i = 0; i < d->nlog; i++) {
		if (a != NULL)
			json_object_array_add(a, admin_json_str(d->log[i]));
		else if (o == NULL)
			printf("      log: %s\n", d->log[i]);
		free(d->log[i]);
	}
	if (d->droppedlog > 0) {
		if (a != NULL)
			json_object_array_add(a, admin_json_str(more));
		else if (o == NULL)
			printf("      log: %s\n", more);
	}
	d->nlog = d->droppedlog = 0;
}

/* Prints (or, with --json, records) one check's outcome, and under it
 * the log lines its check wrote. */
static void
doctor_report(struct doctor *d, const char *check, enum doctor_status s,
    const char *fmt, ...)
{
	struct json_object	*o;
	char			 detail[DOCTOR_DETAIL_MAX], *clean;
	va_list			 ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (s == DOC_FAIL)
		d->failed = 1;
	if (d->json) {
		if ((o = json_object_new_object()) == NULL)
			return;
		json_object_object_add(o, "check", admin_json_str(check));
		json_object_object_add(o, "status",
		    admin_json_str(doctor_status_json[s]));
		json_object_object_add(o, "detail", admin_json_str(detail));
		doctor_log_flush(d, o);
		json_object_array_add(d->checks, o);
		return;
	}
	clean = admin_clean(detail);
	printf("%-4s  %-15s  %s\n", doctor_status_names[s], check,
	    clean != NULL ? clean : "?");
	free(clean);
	doctor_log_flush(d, NULL);
}

static int
doctor_opt(int c, const char *arg, void *v)
{
	struct doctor	*d = v;
	long		 n;

	switch (c) {
	case OPT_JSON:
		d->json = 1;
		break;
	case OPT_SOCKET:
		if (d->nsockets == DOCTOR_SOCKETS_MAX || *arg == '\0') {
			admin_err("doctor: --socket: %s", *arg == '\0' ?
			    "empty path" : "too many");
			return admin_usage(doctor_help.synopsis);
		}
		d->sockets[d->nsockets++] = arg;
		break;
	case OPT_TIMEOUT:
		if (admin_number(arg, 1, DOCTOR_TIMEOUT_MAX, &n) == -1) {
			admin_err("doctor: --timeout: not a number of seconds "
			    "from 1 to %d: %.32s", DOCTOR_TIMEOUT_MAX, arg);
			return admin_usage(doctor_help.synopsis);
		}
		d->timeout = (int)n;
		break;
	}
	return ADMIN_OK;
}

static void	doctor_append(char *, size_t, size_t *, const char *, ...)
		    __attribute__((format(printf, 4, 5)));

/* Appends to the string in buf (size sz, *n bytes used so far); what does
 * not fit is cut. */
static void
doctor_append(char *buf, size_t sz, size_t *n, const char *fmt, ...)
{
	va_list	 ap;
	int	 w;

	if (*n >= sz - 1)
		return;
	va_start(ap, fmt);
	w = vsnprintf(buf + *n, sz - *n, fmt, ap);
	va_end(ap);
	if (w > 0)
		*n = *n + (size_t)w < sz - 1 ? *n + (size_t)w : sz - 1;
}

/* "0640 user:group" of sb into out. */
static void
doctor_mode(const struct stat *sb, char *out, size_t n)
{
	struct passwd	*pw;
	struct group	*gr;
	char		 u[32], g[32];

	if ((pw = getpwuid(sb->st_uid)) != NULL)
		snprintf(u, sizeof(u), "%s", pw->pw_name);
	else
		snprintf(u, sizeof(u), "%lu", (unsigned long)sb->st_uid);
	if ((gr = getgrgid(sb->st_gid)) != NULL)
		snprintf(g, sizeof(g), "%s", gr->gr_name);
	else
		snprintf(g, sizeof(g), "%lu", (unsigned long)sb->st_gid);
	snprintf(out, n, "%04o %s:%s", (unsigned)(sb->st_mode & 07777), u, g);
}

/* config: returns 0 when it loaded. */
static int
doctor_config(struct doctor *d)
{
	char	 err[512];

	if (config_load(&d->cfg, err, sizeof(err)) == -1) {
		doctor_report(d, "config", DOC_FAIL, "%s", err);
		return -1;
	}
	admin_current_key_id(&d->cfg, d->keyid);
	doctor_report(d, "config", DOC_OK, "loaded: FORCELINK_DB %s, "
	    "SF_LOGIN_URL %s, key id %s", d->cfg.db_path, d->cfg.sf.login_url,
	    d->keyid);
	return 0;
}

/*
 * public_url: what Slack and Salesforce will be given.  The programs take
 * any http(s) base URL, so that the demo runs on http://127.0.0.1; a
 * production one must be https (Slack sends commands, and Salesforce
 * redirects, only to https), and must be the host's root, as the shipped
 * nginx locations are (= /contact, = /oauth/callback, ...).
 */
static void
doctor_public_url(struct doctor *d)
{
	const char	*u = d->cfg.public_url, *host, *end;
	size_t		 n;
	int		 loop;

	host = strstr(u, "://");
	host = host != NULL ? host + 3 : u;
	end = host + strcspn(host, "/");
	n = strcspn(host, ":/");
	if (*host == '[')
		n = strcspn(host, "]/") + 1;
	loop = (n == 9 && strncmp(host, "localhost", 9) == 0) ||
	    (n == 9 && strncmp(host, "127.0.0.1", 9) == 0) ||
	    (n == 5 && strncmp(host, "[::1]", 5) == 0);
	if (*end != '\0')
		doctor_report(d, "public_url", DOC_FAIL, "FORCELINK_PUBLIC_URL "
		    "%s has a path (%s): the nginx locations forcelink ships "
		    "serve its routes at the host's root; give the base URL "
		    "alone, e.g. https://forcelink.example.com", u, end);
	else if (strncmp(u, "https://", 8) != 0 && !loop)
		doctor_report(d, "public_url", DOC_FAIL, "FORCELINK_PUBLIC_URL "
		    "%s is not https: Slack sends commands and Salesforce "
		    "redirects logins only to https URLs, and login cookies "
		    "would cross the network in clear", u);
	else
		doctor_report(d, "public_url", DOC_OK, "%s%s", u,
		    strncmp(u, "https://", 8) != 0 ? " (http on this machine "
		    "only: for a demo, not for Slack)" : "");
}

/* database, database.tls, database.role and schema on PostgreSQL: on
 * success d->st is open. */
static void
doctor_database_pg(struct doctor *d)
{
	struct store_server	 si;

	/* Opening migrates, as the programs do when they start. */
	if ((d->st = store_open_keyring(d->cfg.db_path,
	    d->cfg.keyring)) == NULL) {
		doctor_report(d, "database", DOC_FAIL, "%s cannot be opened: "
		    "the server is down or unreachable, the password "
		    "(FORCELINK_DB_PASSWORD_FILE or PGPASSFILE) is wrong, the "
		    "database does not exist, or its schema is newer than "
		    "this program's (see the log line)", d->cfg.db_path);
		return;
	}
	if (store_server_info(d->st, &si) == -1) {
		doctor_report(d, "database", DOC_FAIL, "%s: the server does not "
		    "answer (see the log line)", d->cfg.db_path);
		return;
	}
	doctor_report(d, "database", DOC_OK, "PostgreSQL %s, database %s "
	    "on %s as %s, %lld bytes, data checksums %s", si.version, si.db,
	    si.host, si.user, si.size_bytes, si.checksums ? "on" : "off");
	if (si.local)
		doctor_report(d, "database.tls", DOC_OK, "%s is this machine "
		    "(%s)", si.host, si.ssl ? "TLS" : "no TLS needed");
	else if (strcmp(si.sslmode, "verify-full") == 0 && si.ssl)
		doctor_report(d, "database.tls", DOC_OK, "TLS with "
		    "sslmode=verify-full");
	else
		doctor_report(d, "database.tls", DOC_FAIL, "%s is another host "
		    "reached with sslmode=%s%s: add sslmode=verify-full (and "
		    "sslrootcert=FILE of the server's CA) to FORCELINK_DB, so "
		    "that the tokens travel encrypted to the server that "
		    "proves its name", si.host, si.sslmode[0] ? si.sslmode :
		    "prefer", si.ssl ? " (encrypted, but the server's name "
		    "is not verified)" : " (not encrypted)");
	if (si.superuser)
		doctor_report(d, "database.role", DOC_FAIL, "%s is a superuser: "
		    "give forcelink a role of its own that owns its database "
		    "and nothing more", si.user);
	else if (si.missing[0] != '\0')
		doctor_report(d, "database.role", DOC_FAIL, "%s lacks %s",
		    si.user, si.missing);
	else
		doctor_report(d, "database.role", DOC_OK, "%s may read and write "
		    "every table, and is not a superuser", si.user);
	doctor_report(d, "schema", DOC_OK, "version %d, this program's (the "
	    "store migrates on opening)", store_schema_version());
}

/* database and schema: on success d->st is open. */
static void
doctor_database(struct doctor *d)
{
	const char	*path = d->cfg.db_path;
	char		 msg[512];
	int		 v = 0, rc;

	if (store_is_uri(path)) {
		doctor_database_pg(d);
		return;
	}
	switch (store_probe(path, &v)) {
	case STORE_PROBE_OK:
		break;
	case STORE_PROBE_MISSING:
		doctor_report(d, "database", DOC_FAIL, "%s does not exist "
		    "(FORCELINK_DB): a program creates it when it first "
		    "starts, which socket activation does at the first "
		    "request (systemctl start forcelink-contact.service "
		    "starts one now); or FORCELINK_DB names the wrong file",
		    path);
		return;
	case STORE_PROBE_BUSY:
		doctor_report(d, "database", DOC_FAIL, "%s is locked: another "
		    "process held its lock beyond the busy timeout", path);
		return;
	case STORE_PROBE_ERROR:
		doctor_report(d, "database", DOC_FAIL, "%s is not a readable "
		    "SQLite database (see the log line)", path);
		return;
	}
	if (v > store_schema_version()) {
		doctor_report(d, "schema", DOC_FAIL, "version %d is newer than "
		    "this program's (%d): programs of this version refuse it",
		    v, store_schema_version());
		return;
	}
	if ((d->st = store_open_keyring(path, d->cfg.keyring)) == NULL) {
		doctor_report(d, "database", DOC_FAIL, "%s cannot be opened "
		    "(see the log line)", path);
		return;
	}
	rc = store_integrity_check(d->st, msg, sizeof(msg));
	if (rc == 0)
		doctor_report(d, "database", DOC_OK, "%s: integrity_check ok",
		    path);
	else
		doctor_report(d, "database", DOC_FAIL, "%s: integrity_check%s: "
		    "%s", path, rc == 1 ? " found a problem" : " did not run",
		    msg);
	if (v == store_schema_version())
		doctor_report(d, "schema", DOC_OK, "version %d, this "
		    "program's", v);
	else
		doctor_report(d, "schema", DOC_OK, "version %d, migrated to %d "
		    "on opening (as the programs do)", v,
		    store_schema_version());
}

/* modes.database: the database and its -wal and -shm files. */
static void
doctor_modes_db(struct doctor *d)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	struct stat	 sb;
	char		 path[4096], detail[DOCTOR_DETAIL_MAX], m[96];
	size_t		 i, n = 0;
	unsigned	 perm;
	int		 bad = 0;

	detail[0] = '\0';
	if (store_is_uri(d->cfg.db_path)) {
		doctor_report(d, "modes.database", DOC_SKIP, "the store is on "
		    "a PostgreSQL server, which keeps its own files");
		return;
	}
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", d->cfg.db_path,
		    suffix[i]);
		if (stat(path, &sb) == -1) {
			if (i == 0 && errno == ENOENT) {
				doctor_report(d, "modes.database", DOC_SKIP,
				    "no database yet (see above)");
				return;
			}
			if (i == 0 || errno != ENOENT) {
				doctor_report(d, "modes.database", DOC_FAIL,
				    "%s: %s", path, strerror(errno));
				return;
			}
			continue;
		}
		perm = sb.st_mode & 07777;
		doctor_mode(&sb, m, sizeof(m));
		if (!S_ISREG(sb.st_mode) || (perm != 0600 && perm != 0660)) {
			bad = 1;
			doctor_append(detail, sizeof(detail), &n,
			    "%s%s is %s%s", n ? "; " : "", path,
			    S_ISREG(sb.st_mode) ? "" :
			    "not a regular file, ", m);
		} else
			doctor_append(detail, sizeof(detail), &n, "%s%s %s",
			    n ? ", " : "", i == 0 ? path : suffix[i], m);
	}
	if (bad)
		doctor_report(d, "modes.database", DOC_FAIL, "%s (must be "
		    "0600 or 0660: the file holds the sealed tokens)", detail);
	else
		doctor_report(d, "modes.database", DOC_OK, "%s", detail);
}

/* modes.directory: the database's directory. */
static void
doctor_modes_dir(struct doctor *d)
{
	struct stat	 sb;
	char		*copy, *dir, m[96];

	if (store_is_uri(d->cfg.db_path)) {
		doctor_report(d, "modes.directory", DOC_SKIP, "the store is on "
		    "a PostgreSQL server");
		return;
	}
	if ((copy = strdup(d->cfg.db_path)) == NULL)
		return;
	dir = dirname(copy);
	if (stat(dir, &sb) == -1)
		doctor_report(d, "modes.directory", DOC_FAIL, "%s: %s", dir,
		    strerror(errno));
	else {
		doctor_mode(&sb, m, sizeof(m));
		if (!S_ISDIR(sb.st_mode))
			doctor_report(d, "modes.directory", DOC_FAIL, "%s is "
			    "not a directory", dir);
		else if (sb.st_mode & S_IWOTH)
			doctor_report(d, "modes.directory", DOC_FAIL, "%s is "
			    "%s: world-writable, so anyone could replace the "
			    "database or its -wal and -shm files", dir, m);
		else
			doctor_report(d, "modes.directory", DOC_OK, "%s %s",
			    dir, m);
	}
	free(copy);
}

/* modes.key: FORCELINK_KEY_FILE readable and writable by its owner, at
 * most readable by its group (the README installs it root:forcelink 0640:
 * root writes it, the programs read it through their group), nothing for
 * others. */
static void
doctor_modes_key(struct doctor *d)
{
	const char	*path;
	struct stat	 sb;
	char		 m[96];

	path = getenv("FORCELINK_KEY_FILE");
	if (path == NULL || *path == '\0') {
		doctor_report(d, "modes.key", DOC_SKIP, "the key is given in "
		    "FORCELINK_KEY; FORCELINK_KEY_FILE, kept apart from the "
		    "database and its backups, is preferred");
		return;
	}
	if (stat(path, &sb) == -1) {
		doctor_report(d, "modes.key", DOC_FAIL, "%s: %s", path,
		    strerror(errno));
		return;
	}
	doctor_mode(&sb, m, sizeof(m));
	if (sb.st_mode & (S_IWGRP | S_IXGRP | S_IRWXO))
		doctor_report(d, "modes.key", DOC_FAIL, "%s is %s: the key "
		    "may be readable by its group at most, and by nobody "
		    "else (chmod 0640 with the service's group, as "
		    "root:forcelink, or 0600 when the service owns it)",
		    path, m);
	else
		doctor_report(d, "modes.key", DOC_OK, "%s %s", path, m);
}

/* modes.secrets: the other secret files, not world-readable. */
static void
doctor_modes_secrets(struct doctor *d)
{
	const char	*path;
	struct stat	 sb;
	char		 detail[DOCTOR_DETAIL_MAX], m[96];
	size_t		 i, n = 0;
	int		 bad = 0, any = 0;

	detail[0] = '\0';
	for (i = 0; i < sizeof(doctor_secret_files) /
	    sizeof(doctor_secret_files[0]); i++) {
		path = getenv(doctor_secret_files[i]);
		if (path == NULL || *path == '\0')
			continue;
		any = 1;
		if (stat(path, &sb) == -1) {
			bad = 1;
			doctor_append(detail, sizeof(detail), &n, "%s%s: %s",
			    n ? "; " : "", path, strerror(errno));
			continue;
		}
		doctor_mode(&sb, m, sizeof(m));
		if (sb.st_mode & S_IRWXO)
			bad = 1;
		doctor_append(detail, sizeof(detail), &n, "%s%s %s%s",
		    n ? "; " : "", path, m, sb.st_mode & S_IRWXO ?
		    " (world-accessible)" : "");
	}
	if (any)
		doctor_report(d, "modes.secrets", bad ? DOC_FAIL : DOC_OK, "%s",
		    detail);
}

/* key.sample: the key opens the most recently updated link (the same
 * check as GET /healthz's, store_key_sample). */
static void
doctor_key_sample(struct doctor *d)
{
	struct store_link_info	 l;
	enum store_result	 r;

	r = store_key_sample(d->st, &l);
	if (r == STORE_OK)
		doctor_report(d, "key.sample", DOC_OK, "the key opens the "
		    "tokens of team %s user %s (the most recently updated "
		    "link)", l.who.team_id, l.who.user_id);
	else if (r == STORE_BADKEY)
		doctor_report(d, "key.sample", DOC_FAIL, "the key does not "
		    "open the tokens of team %s user %s (sealed under key id "
		    "%s; the configured key's id is %s): wrong key?",
		    l.who.team_id, l.who.user_id, l.key_id, d->keyid);
	else if (r == STORE_NOTFOUND)
		doctor_report(d, "key.sample", DOC_SKIP, "no links yet");
	else
		doctor_report(d, "key.sample", DOC_FAIL, "cannot read the "
		    "sample link (see the log line)");
	if (r == STORE_OK || r == STORE_BADKEY)
		store_link_info_free(&l);
}

/*
 * For key.ids: adds to detail (at *n) each key id that seals
 * integrations' values or action rows but is not configured, and counts
 * the integrations' values in *integ.  Returns 0, or -1 after reporting the check failed.
 */
static int
doctor_integration_ids(struct doctor *d, char *detail, size_t size,
    size_t *n, long *integ)
{
	struct store_key_count	 kc[16];
	size_t			 nk, i;

	*integ = 0;
	if (store_key_census(d->st, kc, sizeof(kc) / sizeof(kc[0]), &nk) !=
	    STORE_OK) {
		doctor_report(d, "key.ids", DOC_FAIL, "cannot read the key ids "
		    "(see the log line)");
		return -1;
	}
	for (i = 0; i < nk; i++) {
		*integ += kc[i].integrations;
		if (admin_key_known(&d->cfg, kc[i].key_id))
			continue;
		if (kc[i].integrations > 0)
			doctor_append(detail, size, n, "%skey id %.32s seals "
			    "%ld integration secrets and tokens", *n ? "; " :
			    "", kc[i].key_id[0] != '\0' ? kc[i].key_id :
			    "(several)", kc[i].integrations);
		/* Action rows (migration 6) live minutes to days, but one
		 * under a key the programs lack fails its button. */
		if (kc[i].actions > 0)
			doctor_append(detail, size, n, "%skey id %.32s seals "
			    "%ld action rows", *n ? "; " : "",
			    kc[i].key_id[0] != '\0' ? kc[i].key_id :
			    "(several)", kc[i].actions);
	}
	return 0;
}

/* key.ids: every key id in use is the configured key's. */
static void
doctor_key_ids(struct doctor *d)
{
	struct store_stats	 ss;
	char			 detail[DOCTOR_DETAIL_MAX];
	long			 links = 0, states = 0, integ = 0;
	size_t			 i, n = 0;

	if (store_stats(d->st, time(NULL), &ss) == -1) {
		doctor_report(d, "key.ids", DOC_FAIL, "cannot read the key ids "
		    "(see the log line)");
		return;
	}
	detail[0] = '\0';
	for (i = 0; i < ss.nkeys; i++) {
		links += ss.keys[i].links;
		states += ss.keys[i].login_states;
		if (admin_key_known(&d->cfg, ss.keys[i].key_id))
			continue;
		doctor_append(detail, sizeof(detail), &n, "%skey id %.32s "
		    "seals %ld links and %ld login states", n ? "; " : "",
		    ss.keys[i].key_id, ss.keys[i].links,
		    ss.keys[i].login_states);
	}
	/* The integrations' consumer secrets and integration users' tokens
	 * (migration 4) are sealed too. */
	if (doctor_integration_ids(d, detail, sizeof(detail), &n,
	    &integ) == -1) {
		store_stats_free(&ss);
		return;
	}
	if (n > 0)
		doctor_report(d, "key.ids", DOC_FAIL, "%s, but is not in the "
		    "configured keyring (current key id %s)", detail, d->keyid);
	else if (integ > 0)
		doctor_report(d, "key.ids", DOC_OK, "%ld links, %ld login "
		    "states and %ld integration secrets and tokens, all under "
		    "the configured keys (current id %s)", links, states, integ,
		    d->keyid);
	else
		doctor_report(d, "key.ids", DOC_OK, "%ld links and %ld login "
		    "states, all under the configured keys (current id %s)",
		    links, states, d->keyid);
	store_stats_free(&ss);
}


/*
 * The connection to host failed: whether its name resolves tells a DNS
 * problem (a typo, no resolver) from a host or firewall that refuses.
 */
static void
doctor_connect_failed(struct doctor *d, const char *host)
{
	struct addrinfo	 hints, *res = NULL;
	int		 e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo(host, NULL, &hints, &res)) != 0)
		doctor_report(d, "salesforce", DOC_FAIL, "%s: the name does "
		    "not resolve (%s): check SF_LOGIN_URL and the machine's "
		    "DNS", host, gai_strerror(e));
	else
		doctor_report(d, "salesforce", DOC_FAIL, "%s: the name "
		    "resolves, but the connection was refused or the host is "
		    "unreachable: is a firewall or proxy in the way?", host);
	if (res != NULL)
		freeaddrinfo(res);
}
/* salesforce: a real HTTPS request to SF_LOGIN_URL. */
static void
doctor_salesforce(struct doctor *d)
{
	struct http_response	 resp;
	struct timespec		 t0, t1;
	struct http		*h;
	enum http_result	 r;
	const char		*host = d->cfg.sf.login_host;
	char			*url = NULL;
	double			 secs;

	http_response_init(&resp);
	if ((h = http_new(d->cfg.ca_file)) == NULL ||
	    http_set_timeouts(h, d->timeout * 1000L, d->timeout * 1000L) ==
	    -1 || asprintf(&url, "%s/services/data/",
	    d->cfg.sf.login_url) == -1) {
		url = NULL;
		doctor_report(d, "salesforce", DOC_FAIL, "cannot set up the "
		    "HTTPS client (see the log line)");
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = http_request(h, "GET", url, NULL, NULL, NULL, &resp);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	switch (r) {
	case HTTP_OK:
		if (resp.status >= 500)
			doctor_report(d, "salesforce", DOC_FAIL, "%s answered "
			    "HTTP %ld", host, resp.status);
		else
			doctor_report(d, "salesforce", DOC_OK, "%s answered "
			    "HTTP %ld in %.2f s over TLS with a verified "
			    "certificate", host, resp.status, secs);
		break;
	case HTTP_TIMEOUT:
		doctor_report(d, "salesforce", DOC_FAIL, "%s: no answer within "
		    "%d s", host, d->timeout);
		break;
	case HTTP_CONNECT:
		doctor_connect_failed(d, host);
		break;
	case HTTP_TLS:
		doctor_report(d, "salesforce", DOC_FAIL, "%s: the TLS "
		    "handshake or certificate verification failed (a private "
		    "CA goes in FORCELINK_CA_FILE)", host);
		break;
	default:
		doctor_report(d, "salesforce", DOC_FAIL, "%s: %s", host,
		    http_result_str(r));
		break;
	}
out:
	free(url);
	http_response_free(&resp);
	http_free(h);
}

/* socket: one line per FastCGI socket. */
static void
doctor_socket(struct doctor *d, const char *path, const char *prog)
{
	struct stat	 sb;
	struct group	*gr;
	char		 m[96], unit[64];
	size_t		 i;

	if (lstat(path, &sb) == -1) {
		/* Under socket activation the socket is there before any
		 * program runs: what is missing is its socket unit. */
		if (errno != ENOENT)
			doctor_report(d, "socket", DOC_FAIL, "%s: %s", path,
			    strerror(errno));
		else if (prog == NULL)
			doctor_report(d, "socket", DOC_FAIL, "%s: missing (is "
			    "its socket unit started, or the program running "
			    "with -s?)", path);
		else {
			snprintf(unit, sizeof(unit), "forcelink-%s.socket",
			    prog);
			for (i = 0; unit[i] != '\0'; i++)
				if (unit[i] == '_')
					unit[i] = '-';
			doctor_report(d, "socket", DOC_FAIL, "%s: missing (is "
			    "%s started? systemctl enable --now %s)", path,
			    unit, unit);
		}
		return;
	}
	doctor_mode(&sb, m, sizeof(m));
	if (!S_ISSOCK(sb.st_mode))
		doctor_report(d, "socket", DOC_FAIL, "%s is not a socket",
		    path);
	else if (sb.st_mode & S_IWOTH)
		doctor_report(d, "socket", DOC_FAIL, "%s is %s: "
		    "world-writable, so any local user can talk FastCGI to "
		    "the workers (0660 with nginx's group)", path, m);
	else if ((gr = getgrnam(NGINX_GROUP)) == NULL)
		doctor_report(d, "socket", DOC_FAIL, "%s is %s: group %s "
		    "(nginx's, ./configure --with-nginx-group) does not "
		    "exist", path, m, NGINX_GROUP);
	else if (sb.st_gid != gr->gr_gid ||
	    (sb.st_mode & (S_IRGRP | S_IWGRP)) != (S_IRGRP | S_IWGRP))
		doctor_report(d, "socket", DOC_FAIL, "%s is %s: nginx "
		    "(group %s) cannot connect; it must be group %s, mode "
		    "0660 (systemd's SocketGroup= and SocketMode=0660 in "
		    "forcelink-PROGRAM.socket)", path, m, NGINX_GROUP,
		    NGINX_GROUP);
	else
		doctor_report(d, "socket", DOC_OK, "%s %s", path, m);
}

static void
doctor_sockets(struct doctor *d)
{
	const char	*dir;
	char		 path[4096];
	size_t		 i;

	if (d->nsockets > 0) {
		for (i = 0; i < d->nsockets; i++)
			doctor_socket(d, d->sockets[i], NULL);
		return;
	}
	dir = getenv("FORCELINK_SOCKET_DIR");
	if (dir == NULL || *dir == '\0')
		dir = DOCTOR_SOCKET_DIR;
	for (i = 0; i < sizeof(doctor_programs) / sizeof(doctor_programs[0]);
	    i++) {
		snprintf(path, sizeof(path), "%s/%s.sock", dir,
		    doctor_programs[i]);
		doctor_socket(d, path, doctor_programs[i]);
	}
}

int
cmd_doctor(int argc, char *argv[])
{
	struct doctor		 d;
	struct json_object	*o;
	size_t			 i;
	int			 rc, first, done, loaded = 0;

	memset(&d, 0, sizeof(d));
	d.timeout = DOCTOR_TIMEOUT;
	rc = admin_getopt(argc, argv, "", doctor_longopts, &doctor_help,
	    doctor_opt, &d, &first, &done);
	if (rc != ADMIN_OK || done)
		return rc;
	if (first != argc) {
		admin_err("doctor: takes no operands");
		return admin_usage(doctor_help.synopsis);
	}
	if (d.json && (d.checks = json_object_new_array()) == NULL) {
		admin_err("out of memory");
		return ADMIN_FAIL;
	}
	log_set_sink(doctor_log, &d);
	if (doctor_config(&d) == 0) {
		loaded = 1;
		doctor_public_url(&d);
		doctor_database(&d);
		doctor_modes_db(&d);
		doctor_modes_dir(&d);
		doctor_modes_key(&d);
		doctor_modes_secrets(&d);
		if (d.st != NULL) {
			doctor_key_sample(&d);
			doctor_key_ids(&d);
		}
		doctor_salesforce(&d);
		doctor_sockets(&d);
	}
	log_set_sink(NULL, NULL);
	/* Lines written after the last check (none expected): standard
	 * error, as without doctor. */
	for (i = 0; i < d.nlog; i++) {
		fprintf(stderr, "%s: %s\n", ADMIN_PROG, d.log[i]);
		free(d.log[i]);
	}
	d.nlog = 0;
	rc = d.failed ? ADMIN_FAIL : ADMIN_OK;
	if (d.json) {
		if ((o = json_object_new_object()) != NULL) {
			json_object_object_add(o, "ok",
			    json_object_new_boolean(!d.failed));
			json_object_object_add(o, "checks", d.checks);
			d.checks = NULL;
		}
		if (admin_json_print(o) == -1)
			rc = ADMIN_FAIL;
	} else if (fflush(stdout) != 0)
		rc = ADMIN_FAIL;
	json_object_put(d.checks);
	store_close(d.st);
	if (loaded)
		config_free(&d.cfg);
	return rc;
}

/*
 * migrate: "forcelink-admin migrate-store" (see forcelink-admin.8): a
 * SQLite installation copied into an empty PostgreSQL database, so that
 * the programs can move to it without anybody linking again.
 *
 * The live SQLite file is read once, through SQLite's online backup API,
 * into a private file beside it (store_backup: one consistent snapshot;
 * the programs keep serving and are never blocked), and that snapshot is
 * what is copied: store_migrate() inserts every row into the target in
 * one transaction, checks there that each table holds as many rows as
 * the snapshot and that every sealed value opens with the configured
 * keys, and only then commits (or, with --dry-run, rolls back).  The
 * snapshot is removed afterwards, whatever happened.
 *
 * Writes the programs make after the snapshot are not in the copy: the
 * man page's order is to rehearse with --dry-run while serving, then
 * stop the programs, run the real copy, and start them on PostgreSQL.
 * The real copy checks that order: it commits only if SQLite's data
 * version of the live file is what it was before the snapshot (nothing
 * else committed to it meanwhile).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "admin.h"
#include "config.h"
#include "store.h"

enum {
	MG_OPT_TO = 256,
	MG_OPT_DRY_RUN,
	MG_OPT_JSON
};

static const struct option migrate_longopts[] = {
	{ "help",	no_argument,	   NULL, 'h' },
	{ "to",		required_argument, NULL, MG_OPT_TO },
	{ "dry-run",	no_argument,	   NULL, MG_OPT_DRY_RUN },
	{ "json",	no_argument,	   NULL, MG_OPT_JSON },
	{ NULL,		0,		   NULL, 0 }
};

static const struct admin_cmd_help migrate_help = {
	ADMIN_PROG " migrate-store [--dry-run] [--json] --to URI",
	"Copies the SQLite database (FORCELINK_DB) into the empty PostgreSQL\n"
	"database URI names (postgresql://...; the password from the file\n"
	"FORCELINK_DB_PASSWORD_FILE names, or PGPASSFILE, never in URI),\n"
	"creating its schema.  Reads one snapshot of the live file (SQLite's\n"
	"online backup, into a private file beside it, removed afterwards)\n"
	"while the programs keep serving, and copies it in one transaction\n"
	"that commits only once every table holds as many rows as the\n"
	"snapshot and every sealed value opens with the configured keys.\n"
	"Sealed values are copied as they are, never sealed again.  A target\n"
	"holding any forcelink row is refused.  Writes made after the\n"
	"snapshot are not copied: stop the programs and their sockets for\n"
	"the real copy, which is rolled back if the file was written while\n"
	"it ran (the order is under migrate-store in forcelink-admin(8)).\n"
	"\n"
	"  --to URI   the PostgreSQL database to copy into (required)\n"
	"  --dry-run  copy and check, then roll back: the target stays\n"
	"             empty (a rehearsal while the programs serve)\n"
	"  --json     {\"target\", \"dry_run\", \"committed\", \"seconds\",\n"
	"             \"tables\": [{\"table\", \"source\", \"copied\",\n"
	"             \"target\", \"sealed\", \"opened\"}], \"rows\",\n"
	"             \"sealed\", \"opened\", \"verified\"}\n",
	NULL
};

struct mg_opts {
	const char	*to;
	int		 dry_run;
	int		 json;
};

static int
migrate_opt(int c, const char *arg, void *v)
{
	struct mg_opts	*o = v;

	if (c == MG_OPT_TO)
		o->to = arg;
	else if (c == MG_OPT_DRY_RUN)
		o->dry_run = 1;
	else if (c == MG_OPT_JSON)
		o->json = 1;
	return ADMIN_OK;
}

/*
 * A private file beside the database for the snapshot, mode 0600 (it
 * holds what the database holds).  Returns the descriptor (path filled),
 * or -1 after one line.
 */
static int
mg_snapshot_file(const struct config *cfg, char path[PATH_MAX])
{
	int	 fd;

	if ((size_t)snprintf(path, PATH_MAX, "%s.migrate-XXXXXX",
	    cfg->db_path) >= PATH_MAX) {
		admin_err("migrate-store: FORCELINK_DB is too long");
		return -1;
	}
	if ((fd = mkostemp(path, O_CLOEXEC)) == -1) {
		admin_err("migrate-store: cannot create a file beside %s: %s",
		    cfg->db_path, strerror(errno));
		return -1;
	}
	if (fchmod(fd, 0600) == -1) {
		admin_err("migrate-store: chmod %s: %s", path,
		    strerror(errno));
		close(fd);
		(void)unlink(path);
		return -1;
	}
	return fd;
}

/* Removes the snapshot at path and what SQLite may have made beside it. */
static void
mg_snapshot_unlink(const char *path)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	char	 p[PATH_MAX];
	size_t	 i;

	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++)
		if ((size_t)snprintf(p, sizeof(p), "%s%s", path, suffix[i]) <
		    sizeof(p))
			(void)unlink(p);
}

/* The live database and its data version when the snapshot was
 * taken. */
struct mg_watch {
	struct store	*live;
	int64_t		 v0;
};

/* Whether nothing was committed to the live database since the
 * snapshot (store_migrate asks right before its commit). */
static int
mg_unchanged(void *arg)
{
	struct mg_watch	*w = arg;
	int64_t		 v;

	return store_data_version(w->live, &v) == 0 && v == w->v0;
}

/* Totals of a report: rows, sealed values checked, opened. */
static void
mg_totals(const struct store_migrate_report *rep, int64_t *rows,
    int64_t *sealed, int64_t *opened)
{
	size_t	 i;

	*rows = *sealed = *opened = 0;
	for (i = 0; i < STORE_MIGRATE_TABLES; i++) {
		*rows += rep->t[i].copied;
		*sealed += rep->t[i].sealed;
		*opened += rep->t[i].opened;
	}
}

static int
mg_print(const struct mg_opts *o, const struct store_migrate_report *rep,
    double secs)
{
	static const char *const heads[] = { "TABLE", "SOURCE", "COPIED",
	    "TARGET", "SEALED", "OPENED" };
	struct json_object	*j, *a, *e;
	struct admin_table	*t;
	const char		*cells[6];
	char			 num[5][24], *to;
	int64_t			 rows, sealed, opened;
	size_t			 i;
	int			 rc = ADMIN_FAIL;

	mg_totals(rep, &rows, &sealed, &opened);
	if (o->json) {
		if ((j = json_object_new_object()) == NULL)
			return admin_json_print(NULL) == 0 ? ADMIN_OK :
			    ADMIN_FAIL;
		json_object_object_add(j, "target", admin_json_str(o->to));
		json_object_object_add(j, "dry_run",
		    json_object_new_boolean(o->dry_run));
		json_object_object_add(j, "committed",
		    json_object_new_boolean(rep->committed));
		json_object_object_add(j, "seconds",
		    json_object_new_double(secs));
		if ((a = json_object_new_array()) != NULL)
			for (i = 0; i < STORE_MIGRATE_TABLES; i++) {
				if ((e = json_object_new_object()) == NULL)
					break;
				json_object_object_add(e, "table",
				    admin_json_str(rep->t[i].name));
				json_object_object_add(e, "source",
				    json_object_new_int64(rep->t[i].source));
				json_object_object_add(e, "copied",
				    json_object_new_int64(rep->t[i].copied));
				json_object_object_add(e, "target",
				    json_object_new_int64(rep->t[i].target));
				json_object_object_add(e, "sealed",
				    json_object_new_int64(rep->t[i].sealed));
				json_object_object_add(e, "opened",
				    json_object_new_int64(rep->t[i].opened));
				json_object_array_add(a, e);
			}
		json_object_object_add(j, "tables", a);
		json_object_object_add(j, "rows", json_object_new_int64(rows));
		json_object_object_add(j, "sealed",
		    json_object_new_int64(sealed));
		json_object_object_add(j, "opened",
		    json_object_new_int64(opened));
		json_object_object_add(j, "verified",
		    json_object_new_boolean(opened == sealed));
		return admin_json_print(j) == 0 ? ADMIN_OK : ADMIN_FAIL;
	}
	if ((t = admin_table_new(6, heads)) == NULL)
		goto out;
	for (i = 0; i < STORE_MIGRATE_TABLES; i++) {
		snprintf(num[0], sizeof(num[0]), "%lld",
		    (long long)rep->t[i].source);
		snprintf(num[1], sizeof(num[1]), "%lld",
		    (long long)rep->t[i].copied);
		snprintf(num[2], sizeof(num[2]), "%lld",
		    (long long)rep->t[i].target);
		snprintf(num[3], sizeof(num[3]), "%lld",
		    (long long)rep->t[i].sealed);
		snprintf(num[4], sizeof(num[4]), "%lld",
		    (long long)rep->t[i].opened);
		cells[0] = rep->t[i].name;
		cells[1] = num[0];
		cells[2] = num[1];
		cells[3] = num[2];
		cells[4] = num[3];
		cells[5] = num[4];
		if (admin_table_add(t, cells) == -1)
			goto out;
	}
	if (admin_table_print(t, stdout) == -1 ||
	    (to = admin_clean(o->to)) == NULL)
		goto out;
	printf("verified: every table's count equal, %lld sealed value%s "
	    "open%s with the configured keys\n", (long long)sealed,
	    sealed == 1 ? "" : "s", sealed == 1 ? "s" : "");
	if (o->dry_run)
		printf("dry run: %lld rows copied into %s in %.1f s and rolled "
		    "back; the target is as it was\n", (long long)rows, to,
		    secs);
	else
		printf("committed: %lld rows copied into %s in %.1f s\n",
		    (long long)rows, to, secs);
	free(to);
	if (fflush(stdout) == 0 && !ferror(stdout))
		rc = ADMIN_OK;
out:
	admin_table_free(t);
	return rc;
}

/* One line per group of sealed values that did not open. */
static void
mg_print_bad(const struct store_migrate_report *rep)
{
	const struct store_migrate_bad	*b;
	size_t				 i;

	for (i = 0; i < rep->nbad; i++) {
		b = &rep->bad[i];
		if (b->key_missing)
			admin_err("migrate-store: %s.%s: %lld value%s sealed "
			    "under key id %s, which is not configured (add "
			    "that key to the key file as one more line)",
			    b->table, b->column, (long long)b->values,
			    b->values == 1 ? "" : "s", b->key_id[0] != '\0' ?
			    b->key_id : "(malformed)");
		else
			admin_err("migrate-store: %s.%s: %lld value%s under "
			    "key id %s do%s not open: altered", b->table,
			    b->column, (long long)b->values, b->values == 1 ?
			    "" : "s", b->key_id, b->values == 1 ? "es" : "");
	}
	if (rep->nbad_values > 0)
		admin_err("migrate-store: %lld sealed value%s of the copy do%s "
		    "not open; rolled back, the target is as it was",
		    (long long)rep->nbad_values, rep->nbad_values == 1 ? "" :
		    "s", rep->nbad_values == 1 ? "es" : "");
}

int
cmd_migrate_store(int argc, char *argv[])
{
	struct mg_opts			 o = { NULL, 0, 0 };
	struct store_migrate_report	*rep = NULL;
	struct config			 cfg;
	struct store			*live = NULL, *snap = NULL, *dst = NULL;
	struct mg_watch			 w;
	struct timespec			 t0, t1;
	enum store_result		 sr;
	char				 tmp[PATH_MAX];
	int				 rc, first, done, loaded = 0, fd = -1;

	tmp[0] = '\0';
	rc = admin_getopt(argc, argv, "", migrate_longopts, &migrate_help,
	    migrate_opt, &o, &first, &done);
	if (rc != ADMIN_OK || done)
		return rc;
	if (argc != first) {
		admin_err("migrate-store: takes no operand (the target is "
		    "--to URI)");
		return admin_usage(migrate_help.synopsis);
	}
	if (o.to == NULL || !store_is_uri(o.to)) {
		admin_err("migrate-store: %s", o.to == NULL ? "name the "
		    "target with --to postgresql://..." : "--to takes a "
		    "PostgreSQL URI (postgresql://... or postgres://...)");
		return admin_usage(migrate_help.synopsis);
	}
	if ((rep = calloc(1, sizeof(*rep))) == NULL) {
		admin_err("out of memory");
		return ADMIN_FAIL;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((rc = admin_config(&cfg)) != ADMIN_OK)
		goto out;
	loaded = 1;
	if (store_is_uri(cfg.db_path)) {
		admin_err("migrate-store: FORCELINK_DB is a PostgreSQL database "
		    "already; migrate-store copies a SQLite file");
		rc = ADMIN_CONFIG;
		goto out;
	}
	if ((rc = admin_open(&cfg, &live)) != ADMIN_OK)
		goto out;
	rc = ADMIN_FAIL;
	/* The target first: a server that cannot be reached, or a URI it
	 * refuses, costs no copy of the file. */
	if ((dst = store_open_keyring(o.to, cfg.keyring)) == NULL) {
		admin_err("migrate-store: cannot connect to the target, or "
		    "create its schema (see the line above); nothing was "
		    "copied");
		goto out;
	}
	if ((fd = mg_snapshot_file(&cfg, tmp)) == -1) {
		tmp[0] = '\0';
		goto out;
	}
	/* Read before the snapshot: a commit in between is taken for one
	 * after it (the copy is refused, never wrong). */
	w.live = live;
	if (store_data_version(live, &w.v0) == -1) {
		admin_err("migrate-store: reading the database failed (see the "
		    "line above)");
		goto out;
	}
	if ((sr = store_backup(live, tmp)) != STORE_OK) {
		if (sr == STORE_BUSY)
			rc = admin_store_fail(live, "migrate-store: reading a "
			    "snapshot of the database");
		else
			admin_err("migrate-store: reading a snapshot of the "
			    "database failed (see the line above)");
		goto out;
	}
	if ((snap = store_open_readonly(tmp, cfg.keyring)) == NULL) {
		admin_err("migrate-store: the snapshot cannot be opened (see "
		    "the line above)");
		goto out;
	}
	sr = store_migrate(snap, dst, !o.dry_run, mg_unchanged, &w, rep);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	switch (sr) {
	case STORE_OK:
		rc = mg_print(&o, rep, (double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
		break;
	case STORE_EXISTS:
		admin_err("migrate-store: the target database holds %lld "
		    "row%s in %s: migrate-store copies only into an empty "
		    "database, never into one in use; nothing was written",
		    (long long)rep->nonempty_rows, rep->nonempty_rows == 1 ?
		    "" : "s", rep->nonempty);
		rc = ADMIN_FAIL;
		break;
	case STORE_BADKEY:
		mg_print_bad(rep);
		rc = ADMIN_CONFIG;
		break;
	case STORE_CONFLICT:
		if (rep->source_changed)
			admin_err("migrate-store: the database was written "
			    "while it was being copied, and those writes are "
			    "not in the copy: stop the programs and their "
			    "sockets first (see migrate-store in "
			    "forcelink-admin(8)); rolled back, the target is "
			    "as it was");
		else
			admin_err("migrate-store: the copy's row counts differ "
			    "from the snapshot's (see the lines above); rolled "
			    "back, the target is as it was");
		rc = ADMIN_FAIL;
		break;
	case STORE_BUSY:
		admin_err("migrate-store: a lock was held beyond the busy "
		    "timeout; rolled back, the target is as it was; try "
		    "again");
		rc = ADMIN_BUSY;
		break;
	default:
		admin_err("migrate-store: the copy failed (see the line "
		    "above); rolled back, the target is as it was");
		rc = ADMIN_FAIL;
		break;
	}
out:
	store_close(snap);
	store_close(live);
	store_close(dst);
	if (fd != -1)
		close(fd);
	if (tmp[0] != '\0')
		mg_snapshot_unlink(tmp);
	if (loaded)
		config_free(&cfg);
	free(rep);
	return rc;
}

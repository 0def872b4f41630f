/*
 * maint: the housekeeping commands — purge and stats.
 *
 * purge removes what only expires: login nonces and OAuth states past
 * their expiry, and Slack signature hashes past the replay window; and
 * first revokes at Salesforce the pending logins (issue 11) that expired
 * or were refused, which are dropped only once revoked (proof.h).  The
 * workers already purge along the way (store_replay_add); purge is for a
 * quiet service or a cron job, and says how much it removed.  stats
 * describes the database for capacity planning and for key rotation:
 * how many rows each key id still seals.
 */
#include <sys/stat.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "admin.h"
#include "config.h"
#include "log.h"
#include "proof.h"
#include "replay.h"
#include "session.h"
#include "store.h"

enum {
	OPT_JSON = 256
};

static const struct option maint_longopts[] = {
	{ "help",	no_argument,	NULL,	'h' },
	{ "json",	no_argument,	NULL,	OPT_JSON },
	{ NULL,		0,		NULL,	0 }
};

static const struct admin_cmd_help purge_help = {
	ADMIN_PROG " purge [--json]",
	"Revokes at Salesforce and drops the pending logins that expired or\n"
	"were refused (FORCELINK_LINK_PROOF=code), deletes expired login\n"
	"nonces and OAuth states, expired Slack replay entries and expired\n"
	"action rows (what buttons and forms remember; nothing else in the\n"
	"database only expires), and prints how many of each.\n"
	"A pending login whose revoke fails for now is kept (exit 1) for\n"
	"the next purge.  Links are never purged.\n"
	"\n"
	"  --json   {\"login_states\": N, \"replays\": N,\n"
	"            \"pending_revoked\": N, \"pending_kept\": N,\n"
	"            \"actions\": N}\n",
	NULL
};

static const struct admin_cmd_help stats_help = {
	ADMIN_PROG " stats [--json]",
	"Prints the number of links (in all and per workspace), how many\n"
	"were used in the last 24 hours and 30 days, the oldest and newest,\n"
	"the login states in progress, the replay entries (the store's, and\n"
	"the live ones of this host's replay cache), the action rows (live\n"
	"and expired), the database's size, pages and free pages, the WAL's\n"
	"size, the schema version, and each key id in use with the rows it\n"
	"seals.\n"
	"\n"
	"  --json   one JSON object\n",
	NULL
};

static int
maint_opt(int c, const char *arg, void *v)
{
	(void)arg;
	if (c == OPT_JSON)
		*(int *)v = 1;
	return ADMIN_OK;
}

/*
 * Parses [--json] and refuses operands.  Returns ADMIN_OK, or the exit
 * status to stop with (*done set for --help).
 */
static int
maint_args(int argc, char *argv[], const struct admin_cmd_help *h,
    int *json, int *done)
{
	int	 rc, first;

	*json = 0;
	rc = admin_getopt(argc, argv, "", maint_longopts, h, maint_opt, json,
	    &first, done);
	if (rc != ADMIN_OK || *done)
		return rc;
	if (first != argc) {
		admin_err("%s: takes no operands", argv[0]);
		return admin_usage(h->synopsis);
	}
	return ADMIN_OK;
}

/* purge --json: what was purged, as one object. */
static int
purge_json(const struct store_purged *p, const struct proof_swept *sw)
{
	struct json_object	*o;

	if ((o = json_object_new_object()) != NULL) {
		json_object_object_add(o, "login_states",
		    json_object_new_int64(p->login_states));
		json_object_object_add(o, "replays",
		    json_object_new_int64(p->replays));
		json_object_object_add(o, "pending_revoked",
		    json_object_new_int64(sw->dropped));
		json_object_object_add(o, "pending_kept",
		    json_object_new_int64(sw->kept));
		json_object_object_add(o, "actions",
		    json_object_new_int64(p->actions));
	}
	return admin_json_print(o) == 0 ? ADMIN_OK : ADMIN_FAIL;
}

/* purge: what was purged, in words. */
static int
purge_text(const struct store_purged *p, const struct proof_swept *sw)
{
	printf("purged %ld expired login state%s and %ld expired replay "
	    "entr%s\n", p->login_states, p->login_states == 1 ? "" : "s",
	    p->replays, p->replays == 1 ? "y" : "ies");
	printf("purged %ld expired action row%s\n", p->actions,
	    p->actions == 1 ? "" : "s");
	printf("revoked and dropped %ld expired pending login%s\n",
	    sw->dropped, sw->dropped == 1 ? "" : "s");
	if (sw->kept > 0)
		printf("kept %ld pending login%s whose revoke failed (see the "
		    "log); run purge again later\n", sw->kept,
		    sw->kept == 1 ? "" : "s");
	return fflush(stdout) == 0 ? ADMIN_OK : ADMIN_FAIL;
}

int
cmd_purge(int argc, char *argv[])
{
	struct config		 cfg;
	struct store_purged	 p;
	struct proof_swept	 sw = { 0, 0 };
	struct session		*s = NULL;
	struct store		*st = NULL;
	int			 rc, json, done, loaded = 0;

	if ((rc = maint_args(argc, argv, &purge_help, &json, &done)) !=
	    ADMIN_OK || done)
		return rc;
	if ((rc = admin_config(&cfg)) != ADMIN_OK)
		goto out;
	loaded = 1;
	/* The checks of every command (the database exists, its schema is
	 * known) before the sweep opens its own connection. */
	if ((rc = admin_open(&cfg, &st)) != ADMIN_OK ||
	    (rc = admin_lock_file(&cfg)) != ADMIN_OK)
		goto out;
	if ((s = session_new(&cfg)) == NULL) {
		admin_err("cannot open the database or the HTTPS client (see "
		    "the line above)");
		rc = ADMIN_FAIL;
		goto out;
	}
	/* Pending logins first: once revoked, their rows purge as any. */
	if (proof_sweep_all(s, time(NULL), &sw) == -1) {
		rc = admin_store_fail(s->st, "revoking expired pending logins");
		goto out;
	}
	if (store_purge_counts(st, time(NULL), &p) == -1) {
		rc = admin_store_fail(st, "purging");
		goto out;
	}
	log_event(LOGL_INFO, "store.purged", "login_states=%ld replays=%ld "
	    "pending_revoked=%ld pending_kept=%ld actions=%ld",
	    p.login_states, p.replays, sw.dropped, sw.kept, p.actions);
	rc = json ? purge_json(&p, &sw) : purge_text(&p, &sw);
	if (rc == ADMIN_OK && sw.kept > 0)
		rc = ADMIN_FAIL;
out:
	session_free(s);
	store_close(st);
	if (loaded)
		config_free(&cfg);
	return rc;
}

/* Sizes of the files of the database, -1 for one that does not exist;
 * and the live entries of this host's replay cache (replay.h), -1 when
 * there is no valid cache file where the programs keep it. */
struct stats_files {
	long long	 db;
	long long	 wal;
	long		 cache_live;
};

/* The live entries of the replay cache of the programs of cfg, or -1. */
static long
stats_cache_live(const struct config *cfg)
{
	struct replay_stats	 rs;
	char			*p;
	int			 rc;

	if (asprintf(&p, "%s-replay", store_is_uri(cfg->db_path) ?
	    CONFIG_LOCAL_PREFIX : cfg->db_path) == -1)
		return -1;
	rc = replay_stats(p, time(NULL), &rs);
	free(p);
	return rc == 0 ? rs.live : -1;
}

static long long
stats_size(const char *path, const char *suffix)
{
	struct stat	 sb;
	char		*p;
	long long	 n = -1;

	if (asprintf(&p, "%s%s", path, suffix) == -1)
		return -1;
	if (stat(p, &sb) == 0)
		n = (long long)sb.st_size;
	free(p);
	return n;
}

static struct json_object *
stats_json_links(const struct store_stats *ss)
{
	struct json_object	*o, *a, *t;
	size_t			 i;

	o = json_object_new_object();
	a = json_object_new_array();
	if (o == NULL || a == NULL) {
		json_object_put(o);
		json_object_put(a);
		return NULL;
	}
	json_object_object_add(o, "total", json_object_new_int64(ss->links));
	json_object_object_add(o, "used_24h",
	    json_object_new_int64(ss->links_used_24h));
	json_object_object_add(o, "used_30d",
	    json_object_new_int64(ss->links_used_30d));
	json_object_object_add(o, "never_used",
	    json_object_new_int64(ss->links_never_used));
	json_object_object_add(o, "oldest",
	    admin_json_time(ss->oldest_created));
	json_object_object_add(o, "newest",
	    admin_json_time(ss->newest_created));
	for (i = 0; i < ss->nteams; i++) {
		if ((t = json_object_new_object()) == NULL)
			break;
		json_object_object_add(t, "enterprise_id",
		    admin_json_str(ss->teams[i].enterprise_id));
		json_object_object_add(t, "team_id",
		    admin_json_str(ss->teams[i].team_id));
		json_object_object_add(t, "links",
		    json_object_new_int64(ss->teams[i].links));
		json_object_array_add(a, t);
	}
	json_object_object_add(o, "per_team", a);
	return o;
}

static int
stats_json(const struct config *cfg, const struct store_stats *ss,
    const struct stats_files *f)
{
	struct json_object	*o, *l, *r, *d, *k, *e;
	size_t			 i;
	int			 pg;

	if ((o = json_object_new_object()) == NULL)
		return admin_json_print(NULL);
	json_object_object_add(o, "links", stats_json_links(ss));
	if ((l = json_object_new_object()) != NULL) {
		json_object_object_add(l, "pending", json_object_new_int64(
		    ss->login_waiting + ss->login_started));
		json_object_object_add(l, "waiting",
		    json_object_new_int64(ss->login_waiting));
		json_object_object_add(l, "started",
		    json_object_new_int64(ss->login_started));
		json_object_object_add(l, "used",
		    json_object_new_int64(ss->login_used));
		json_object_object_add(l, "expired",
		    json_object_new_int64(ss->login_expired));
	}
	json_object_object_add(o, "login_states", l);
	if ((r = json_object_new_object()) != NULL) {
		json_object_object_add(r, "live",
		    json_object_new_int64(ss->replays_live));
		json_object_object_add(r, "expired",
		    json_object_new_int64(ss->replays_expired));
		json_object_object_add(r, "cache_live", f->cache_live < 0 ?
		    NULL : json_object_new_int64(f->cache_live));
	}
	json_object_object_add(o, "replays", r);
	if ((r = json_object_new_object()) != NULL) {
		json_object_object_add(r, "live",
		    json_object_new_int64(ss->actions_live));
		json_object_object_add(r, "expired",
		    json_object_new_int64(ss->actions_expired));
	}
	json_object_object_add(o, "actions", r);
	if ((d = json_object_new_object()) != NULL) {
		json_object_object_add(d, "path", admin_json_str(cfg->db_path));
		json_object_object_add(d, "size_bytes",
		    json_object_new_int64(f->db));
		json_object_object_add(d, "wal_bytes", f->wal < 0 ? NULL :
		    json_object_new_int64(f->wal));
		/* A server's database has no pages of ours: null. */
		pg = store_is_uri(cfg->db_path);
		json_object_object_add(d, "engine", json_object_new_string(pg ?
		    "postgresql" : "sqlite"));
		json_object_object_add(d, "page_size", pg ? NULL :
		    json_object_new_int64(ss->page_size));
		json_object_object_add(d, "page_count", pg ? NULL :
		    json_object_new_int64(ss->page_count));
		json_object_object_add(d, "freelist_count", pg ? NULL :
		    json_object_new_int64(ss->freelist_count));
		json_object_object_add(d, "schema_version",
		    json_object_new_int(ss->schema_version));
		json_object_object_add(d, "schema_current",
		    json_object_new_int(store_schema_version()));
	}
	json_object_object_add(o, "database", d);
	if ((k = json_object_new_array()) != NULL)
		for (i = 0; i < ss->nkeys; i++) {
			if ((e = json_object_new_object()) == NULL)
				break;
			json_object_object_add(e, "key_id",
			    admin_json_str(ss->keys[i].key_id));
			json_object_object_add(e, "links",
			    json_object_new_int64(ss->keys[i].links));
			json_object_object_add(e, "login_states",
			    json_object_new_int64(ss->keys[i].login_states));
			json_object_object_add(e, "configured",
			    json_object_new_boolean(admin_key_known(cfg,
			    ss->keys[i].key_id)));
			json_object_array_add(k, e);
		}
	json_object_object_add(o, "keys", k);
	return admin_json_print(o);
}

/*
 * The text form says what the JSON form says, in the same words: each
 * row is named after a top-level member, and each figure after the
 * member it is in JSON (tests/e2e/test_admin.py holds the two together).
 */
static int
stats_text(const struct config *cfg, const struct store_stats *ss,
    const struct stats_files *f)
{
	char	 v[512], a[24], b[24], wal[32];
	size_t	 i;

	snprintf(v, sizeof(v), "%ld total, %ld used_24h, %ld used_30d, %ld "
	    "never_used", ss->links, ss->links_used_24h, ss->links_used_30d,
	    ss->links_never_used);
	admin_kv("links", v, NULL);
	admin_iso8601(ss->oldest_created, a);
	admin_iso8601(ss->newest_created, b);
	snprintf(v, sizeof(v), "oldest %s, newest %s", a, b);
	admin_kv("", v, NULL);
	for (i = 0; i < ss->nteams; i++) {
		snprintf(v, sizeof(v), "per_team %s%s%s: %ld links",
		    ss->teams[i].team_id, ss->teams[i].enterprise_id[0] ?
		    " of enterprise " : "", ss->teams[i].enterprise_id,
		    ss->teams[i].links);
		admin_kv("", v, NULL);
	}
	snprintf(v, sizeof(v), "%ld pending (%ld waiting for the login "
	    "link to be opened, %ld started and waiting for the callback), "
	    "%ld used, %ld expired", ss->login_waiting + ss->login_started,
	    ss->login_waiting, ss->login_started, ss->login_used,
	    ss->login_expired);
	admin_kv("login_states", v, NULL);
	if (f->cache_live < 0)
		snprintf(v, sizeof(v), "%ld live, %ld expired, cache_live none",
		    ss->replays_live, ss->replays_expired);
	else
		snprintf(v, sizeof(v), "%ld live, %ld expired, %ld cache_live",
		    ss->replays_live, ss->replays_expired, f->cache_live);
	admin_kv("replays", v, NULL);
	snprintf(v, sizeof(v), "%ld live, %ld expired", ss->actions_live,
	    ss->actions_expired);
	admin_kv("actions", v, NULL);
	if (f->wal < 0)
		snprintf(wal, sizeof(wal), "none");
	else
		snprintf(wal, sizeof(wal), "%lld", f->wal);
	if (store_is_uri(cfg->db_path))
		snprintf(v, sizeof(v), "engine postgresql, %s: size_bytes %lld "
		    "(the server's pg_database_size)", cfg->db_path, f->db);
	else
		snprintf(v, sizeof(v), "engine sqlite, %s: size_bytes %lld, "
		    "wal_bytes %s, page_size %ld, page_count %ld, "
		    "freelist_count %ld", cfg->db_path, f->db, wal,
		    ss->page_size, ss->page_count, ss->freelist_count);
	admin_kv("database", v, NULL);
	snprintf(v, sizeof(v), "schema_version %d, schema_current %d (this "
	    "program's)", ss->schema_version, store_schema_version());
	admin_kv("", v, NULL);
	if (ss->nkeys == 0)
		admin_kv("keys", "none in use", NULL);
	for (i = 0; i < ss->nkeys; i++) {
		snprintf(v, sizeof(v), "%.32s: %ld links, %ld login_states, "
		    "%s", ss->keys[i].key_id, ss->keys[i].links,
		    ss->keys[i].login_states, admin_key_known(cfg,
		    ss->keys[i].key_id) ? "configured" : "NOT configured");
		admin_kv(i == 0 ? "keys" : "", v, NULL);
	}
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : -1;
}

int
cmd_stats(int argc, char *argv[])
{
	struct config		 cfg;
	struct store_stats	 ss;
	struct stats_files	 f;
	struct store_server	 si;
	struct store		*st = NULL;
	int			 rc, json, done, loaded = 0, have = 0;

	if ((rc = maint_args(argc, argv, &stats_help, &json, &done)) !=
	    ADMIN_OK || done)
		return rc;
	if ((rc = admin_config(&cfg)) != ADMIN_OK)
		goto out;
	loaded = 1;
	if ((rc = admin_open(&cfg, &st)) != ADMIN_OK)
		goto out;
	if (store_stats(st, time(NULL), &ss) == -1) {
		rc = admin_store_fail(st, "reading the statistics");
		goto out;
	}
	have = 1;
	if (store_is_uri(cfg.db_path)) {
		if (store_server_info(st, &si) == -1) {
			rc = admin_store_fail(st, "reading the database's size");
			goto out;
		}
		f.db = si.size_bytes;
		f.wal = -1;
	} else {
		f.db = stats_size(cfg.db_path, "");
		f.wal = stats_size(cfg.db_path, "-wal");
	}
	f.cache_live = stats_cache_live(&cfg);
	if ((json ? stats_json(&cfg, &ss, &f) : stats_text(&cfg, &ss, &f)) ==
	    -1)
		rc = ADMIN_FAIL;
out:
	if (have)
		store_stats_free(&ss);
	store_close(st);
	if (loaded)
		config_free(&cfg);
	return rc;
}

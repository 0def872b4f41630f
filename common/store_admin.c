/*
 * store_admin: what only forcelink-admin asks for: probing a file,
 * listing and removing links, statistics and the integrity check.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_int.h"

/* --- Administration (forcelink-admin) ----------------------------------
 *
 * The calls only the admin tool makes (see the end of store.h).  Nothing
 * here reads a sealed column.
 */

/* Seconds in the windows of store_stats(). */
#define STORE_DAY_SECS		86400

/* Columns of STMT_LINK_LIST. */
enum {
	ACOL_ENTERPRISE_ID,
	ACOL_TEAM_ID,
	ACOL_USER_ID,
	ACOL_ORG,
	ACOL_SF_USER_ID,
	ACOL_SF_ORG_ID,
	ACOL_SF_USERNAME,
	ACOL_INSTANCE_URL,
	ACOL_KEY_ID,
	ACOL_VERSION,
	ACOL_CREATED_AT,
	ACOL_UPDATED_AT,
	ACOL_LAST_USED_AT
};

static int	store_stats_file(struct store *, struct store_stats *);

void
store_link_info_free(struct store_link_info *l)
{
	free(l->org);
	free(l->sf_user_id);
	free(l->sf_org_id);
	free(l->sf_username);
	free(l->instance_url);
	free(l->key_id);
	memset(l, 0, sizeof(*l));
}

void
store_link_list_free(struct store_link_list *ll)
{
	size_t	 i;

	if (ll == NULL)
		return;
	for (i = 0; i < ll->n; i++)
		store_link_info_free(&ll->v[i]);
	free(ll->v);
	ll->v = NULL;
	ll->n = 0;
}

/* Fills l from the row statement id (STMT_LINK_LIST's columns) is on.
 * Returns 0, or -1 (logged; l may be half filled). */
int
store_link_info_read(struct store *st, enum stmt id,
    struct store_link_info *l)
{
	if (store_col_id(st, id, ACOL_ENTERPRISE_ID, l->who.enterprise_id,
	    sizeof(l->who.enterprise_id)) == -1 ||
	    store_col_id(st, id, ACOL_TEAM_ID, l->who.team_id,
	    sizeof(l->who.team_id)) == -1 ||
	    store_col_id(st, id, ACOL_USER_ID, l->who.user_id,
	    sizeof(l->who.user_id)) == -1) {
		log_error("msg=\"malformed Slack user in sf_link\"");
		return -1;
	}
	if ((l->org = store_col_dup(st, id, ACOL_ORG)) == NULL ||
	    (l->sf_user_id = store_col_dup(st, id, ACOL_SF_USER_ID)) == NULL ||
	    (l->sf_org_id = store_col_dup(st, id, ACOL_SF_ORG_ID)) == NULL ||
	    (l->sf_username = store_col_dup(st, id,
	    ACOL_SF_USERNAME)) == NULL ||
	    (l->instance_url = store_col_dup(st, id,
	    ACOL_INSTANCE_URL)) == NULL ||
	    (l->key_id = store_col_dup(st, id, ACOL_KEY_ID)) == NULL)
		return -1;
	l->version = store_col_int(st, id, ACOL_VERSION);
	l->created_at = (time_t)store_col_int(st, id, ACOL_CREATED_AT);
	l->updated_at = (time_t)store_col_int(st, id, ACOL_UPDATED_AT);
	l->last_used_at = (time_t)store_col_int(st, id, ACOL_LAST_USED_AT);
	return 0;
}

/* Makes room for one more entry in ll (*cap entries allocated).  Returns
 * 0, or -1 (logged) past STORE_LIST_MAX or on memory exhaustion. */
int
store_link_list_grow(struct store_link_list *ll, size_t *cap)
{
	struct store_link_info	*v;
	size_t			 ncap;

	if (ll->n < *cap)
		return 0;
	if (*cap >= STORE_LIST_MAX) {
		log_error("max=%d msg=\"too many links to list\"",
		    STORE_LIST_MAX);
		return -1;
	}
	ncap = *cap == 0 ? 16 : *cap * 2;
	if (ncap > STORE_LIST_MAX)
		ncap = STORE_LIST_MAX;
	if ((v = reallocarray(ll->v, ncap, sizeof(*v))) == NULL) {
		log_error("msg=\"out of memory\"");
		return -1;
	}
	ll->v = v;
	*cap = ncap;
	return 0;
}

enum store_result
store_list_links(struct store *st, const char *enterprise_id,
    const char *team_id, const char *user_id, struct store_link_list *out)
{
	enum store_result	 r = STORE_ERROR;
	size_t			 cap = 0;
	int			 rc;

	out->v = NULL;
	out->n = 0;
	if (store_bind_text(st, STMT_LINK_LIST, 1, enterprise_id) == -1 ||
	    store_bind_text(st, STMT_LINK_LIST, 2, team_id) == -1 ||
	    store_bind_text(st, STMT_LINK_LIST, 3, user_id) == -1)
		goto out;
	while ((rc = store_step(st, STMT_LINK_LIST)) == STORE_ROW) {
		if (store_link_list_grow(out, &cap) == -1)
			goto out;
		memset(&out->v[out->n], 0, sizeof(out->v[0]));
		/* Counted before it is read, so a half-read row is freed. */
		out->n++;
		if (store_link_info_read(st, STMT_LINK_LIST,
		    &out->v[out->n - 1]) == -1)
			goto out;
	}
	if (rc == STORE_DONE)
		r = STORE_OK;
out:
	store_reset(st, STMT_LINK_LIST);
	if (r != STORE_OK)
		store_link_list_free(out);
	return r;
}

enum store_result
store_key_sample(struct store *st, struct store_link_info *info)
{
	struct store_link	 full;
	enum store_result	 r = STORE_ERROR;
	int			 rc;

	memset(info, 0, sizeof(*info));
	if ((rc = store_step(st, STMT_LINK_NEWEST)) == -1)
		goto out;
	if (rc == STORE_DONE) {
		r = STORE_NOTFOUND;
		goto out;
	}
	if (store_link_info_read(st, STMT_LINK_NEWEST, info) == -1)
		goto out;
	/* The statement is done with before the link is read: a read
	 * transaction left open would pin the WAL. */
	store_reset(st, STMT_LINK_NEWEST);
	r = store_link_get(st, &info->who, &full);
	store_link_free(&full);
out:
	store_reset(st, STMT_LINK_NEWEST);
	if (r != STORE_OK && r != STORE_BADKEY)
		store_link_info_free(info);
	return r;
}

enum store_result
store_link_remove(struct store *st, const struct slack_user *who)
{
	enum store_result	 r = STORE_ERROR;

	if (!store_who_ok(who))
		return STORE_ERROR;
	store_writer_lock(st);
	if (store_bind_user(st, STMT_LINK_REMOVE, who) == -1 ||
	    store_step(st, STMT_LINK_REMOVE) == -1)
		goto out;
	r = store_changes(st) == 1 ? STORE_OK : STORE_NOTFOUND;
out:
	store_reset(st, STMT_LINK_REMOVE);
	store_writer_unlock(st);
	return r;
}

/* Runs one of the purge statements for now and adds what it deleted to
 * *n.  Returns 0 or -1 (logged). */
static int
store_purge_one(struct store *st, enum stmt id, time_t now, long *n)
{
	int	 rc = -1;

	if (store_bind_int(st, id, 1, (int64_t)now) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	*n += (long)store_changes(st);
	rc = 0;
out:
	store_reset(st, id);
	return rc;
}

int
store_purge_counts(struct store *st, time_t now, struct store_purged *p)
{
	int	 rc = -1;

	p->login_states = p->replays = p->actions = 0;
	store_writer_lock(st);
	if (store_purge_one(st, STMT_PURGE_STATE, now,
	    &p->login_states) == 0 &&
	    store_purge_one(st, STMT_PURGE_REPLAY, now, &p->replays) == 0 &&
	    store_purge_one(st, STMT_PURGE_ACTION, now, &p->actions) == 0)
		rc = 0;
	store_writer_unlock(st);
	return rc;
}

void
store_stats_free(struct store_stats *ss)
{
	size_t	 i;

	if (ss == NULL)
		return;
	for (i = 0; i < ss->nkeys; i++)
		free(ss->keys[i].key_id);
	free(ss->keys);
	free(ss->teams);
	memset(ss, 0, sizeof(*ss));
}

/* Runs the one-row admin statement id, with its nargs parameters bound
 * to args, and stores its first n columns (as integers) in v.  Returns 0
 * or -1 (logged). */
static int
store_arow(struct store *st, enum stmt id, const int64_t *args, int nargs,
    int64_t *v, int n)
{
	int	 i, rc = -1;

	for (i = 0; i < nargs; i++)
		if (store_bind_int(st, id, i + 1, args[i]) == -1)
			goto out;
	if (store_step(st, id) != STORE_ROW) {
		log_error("stmt=%s msg=\"no row\"", store_stmts[id].name);
		goto out;
	}
	for (i = 0; i < n; i++)
		v[i] = store_col_int(st, id, i);
	rc = 0;
out:
	store_reset(st, id);
	return rc;
}

long
store_replay_live(struct store *st, time_t now)
{
	int64_t	 args[1], v[2];

	args[0] = (int64_t)now;
	if (store_arow(st, STMT_STATS_REPLAY, args, 1, v, 2) == -1)
		return -1;
	return (long)v[0];
}

/* The per-workspace counts of store_stats().  Returns 0 or -1. */
static int
store_stats_teams(struct store *st, struct store_stats *ss)
{
	struct store_team_count	*v;
	size_t			 cap = 0;
	int			 rc;

	while ((rc = store_step(st, STMT_STATS_TEAMS)) == STORE_ROW) {
		if (ss->nteams == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			if (cap > STORE_LIST_MAX || (v = reallocarray(ss->teams,
			    cap, sizeof(*v))) == NULL) {
				log_error("msg=\"too many workspaces or out of "
				    "memory\"");
				rc = -1;
				break;
			}
			ss->teams = v;
		}
		v = &ss->teams[ss->nteams];
		if (store_col_id(st, STMT_STATS_TEAMS, 0, v->enterprise_id,
		    sizeof(v->enterprise_id)) == -1 ||
		    store_col_id(st, STMT_STATS_TEAMS, 1, v->team_id,
		    sizeof(v->team_id)) == -1) {
			log_error("msg=\"malformed Slack ids in sf_link\"");
			rc = -1;
			break;
		}
		v->links = (long)store_col_int(st, STMT_STATS_TEAMS, 2);
		ss->nteams++;
	}
	store_reset(st, STMT_STATS_TEAMS);
	return rc == STORE_DONE ? 0 : -1;
}

/* The per-key counts of store_stats().  Returns 0 or -1. */
static int
store_stats_keys(struct store *st, struct store_stats *ss)
{
	struct store_stats_key	*v;
	size_t			 cap = 0;
	int			 rc;

	while ((rc = store_step(st, STMT_STATS_KEYS)) == STORE_ROW) {
		if (ss->nkeys == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			if (cap > STORE_LIST_MAX || (v = reallocarray(ss->keys,
			    cap, sizeof(*v))) == NULL) {
				log_error("msg=\"too many keys or out of "
				    "memory\"");
				rc = -1;
				break;
			}
			ss->keys = v;
		}
		v = &ss->keys[ss->nkeys];
		if ((v->key_id = store_col_dup(st, STMT_STATS_KEYS,
		    0)) == NULL) {
			rc = -1;
			break;
		}
		v->links = (long)store_col_int(st, STMT_STATS_KEYS, 1);
		v->login_states = (long)store_col_int(st, STMT_STATS_KEYS, 2);
		ss->nkeys++;
	}
	store_reset(st, STMT_STATS_KEYS);
	return rc == STORE_DONE ? 0 : -1;
}

int
store_stats(struct store *st, time_t now, struct store_stats *ss)
{
	int64_t	 v[6], args[2];
	int	 rc = -1;

	memset(ss, 0, sizeof(*ss));
	/*
	 * Each figure is read on its own, not in one read transaction: so
	 * that a failure leaves SQLite's error code (which store_busy_failed
	 * reads) as it was.  Writes between two queries may make them differ
	 * by those writes, which statistics can live with.
	 */
	args[0] = (int64_t)(now - STORE_DAY_SECS);
	args[1] = (int64_t)(now - 30 * STORE_DAY_SECS);
	if (store_arow(st, STMT_STATS_LINKS, args, 2, v, 6) == -1)
		goto out;
	ss->links = (long)v[0];
	ss->links_used_24h = (long)v[1];
	ss->links_used_30d = (long)v[2];
	ss->links_never_used = (long)v[3];
	ss->oldest_created = (time_t)v[4];
	ss->newest_created = (time_t)v[5];
	args[0] = (int64_t)now;
	if (store_arow(st, STMT_STATS_LOGIN, args, 1, v, 4) == -1)
		goto out;
	ss->login_waiting = (long)v[0];
	ss->login_started = (long)v[1];
	ss->login_used = (long)v[2];
	ss->login_expired = (long)v[3];
	if (store_arow(st, STMT_STATS_REPLAY, args, 1, v, 2) == -1)
		goto out;
	ss->replays_live = (long)v[0];
	ss->replays_expired = (long)v[1];
	if (store_arow(st, STMT_STATS_INSTALLS, NULL, 0, v, 2) == -1)
		goto out;
	ss->installs = (long)v[0];
	ss->installs_reinstall = (long)v[1];
	if (store_arow(st, STMT_STATS_ACTIONS, args, 1, v, 2) == -1)
		goto out;
	ss->actions_live = (long)v[0];
	ss->actions_expired = (long)v[1];
	if (store_stats_file(st, ss) == -1 ||
	    store_stats_teams(st, ss) == -1 || store_stats_keys(st, ss) == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1)
		store_stats_free(ss);
	return rc;
}

/* --- SQLite only ---------------------------------------------------------
 *
 * What only SQLite has: probing a database file before opening it, the
 * file's own figures (PRAGMAs) in store_stats(), and its integrity check.
 * Another engine gives its own versions of these three.
 */

enum store_probe_result
store_probe(const char *path, int *version)
{
	enum store_probe_result	 r = STORE_PROBE_ERROR;
	struct stat		 sb;
	sqlite3			*db = NULL;
	sqlite3_stmt		*s = NULL;
	int			 rc, persist = 1;

	*version = 0;
	if (path == NULL)
		goto out;
	if (stat(path, &sb) == -1) {
		if (errno == ENOENT)
			r = STORE_PROBE_MISSING;
		else
			log_error("path=\"%s\" msg=\"%s\"", path,
			    strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		log_error("path=\"%s\" msg=\"not a regular file\"", path);
		goto out;
	}
	/* No SQLITE_OPEN_CREATE: the file exists, and must not appear if
	 * it is removed meanwhile. */
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_error("path=\"%s\" msg=\"%s\"", path, db != NULL ?
		    sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	/* As in store_configure(): closing must not delete the WAL. */
	sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	sqlite3_busy_timeout(db, STORE_BUSY_MS);
	if ((rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s,
	    NULL)) == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*version = sqlite3_column_int(s, 0);
		r = STORE_PROBE_OK;
	} else if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
		log_error("path=\"%s\" msg=\"%s\"", path, sqlite3_errmsg(db));
		r = STORE_PROBE_BUSY;
	} else
		log_error("path=\"%s\" msg=\"%s\"", path, sqlite3_errmsg(db));
out:
	sqlite3_finalize(s);
	sqlite3_close(db);
	return r;
}

/* The file's figures of store_stats(): page size and count, free pages,
 * schema version.  Returns 0 or -1 (logged). */
static int
store_stats_file(struct store *st, struct store_stats *ss)
{
	int64_t	 v[4];

	/* A server's database has no pages of ours to count. */
	if (!store_is_sqlite(st)) {
		ss->page_size = ss->page_count = ss->freelist_count = 0;
		if (store_arow(st, STMT_USER_VERSION, NULL, 0, &v[3], 1) == -1)
			return -1;
		ss->schema_version = (int)v[3];
		return 0;
	}
	if (store_arow(st, STMT_PAGE_SIZE, NULL, 0, &v[0], 1) == -1 ||
	    store_arow(st, STMT_PAGE_COUNT, NULL, 0, &v[1], 1) == -1 ||
	    store_arow(st, STMT_FREELIST, NULL, 0, &v[2], 1) == -1 ||
	    store_arow(st, STMT_USER_VERSION, NULL, 0, &v[3], 1) == -1)
		return -1;
	ss->page_size = (long)v[0];
	ss->page_count = (long)v[1];
	ss->freelist_count = (long)v[2];
	ss->schema_version = (int)v[3];
	return 0;
}

int
store_integrity_check(struct store *st, char *msg, size_t msgsz)
{
	sqlite3_stmt		*s;
	const unsigned char	*t;
	int			 rc, r = -1, rows = 0;

	snprintf(msg, msgsz, "%s", "");
	if (!store_is_sqlite(st)) {
		snprintf(msg, msgsz, "not a SQLite file: the server checks "
		    "its own pages (data checksums, amcheck)");
		log_error("msg=\"%s\"", msg);
		return -1;
	}
	if ((s = store_sqlite_stmt(st, STMT_INTEGRITY)) == NULL) {
		/* Too damaged to read its schema is a finding too. */
		rc = sqlite3_errcode(st->db) & 0xff;
		snprintf(msg, msgsz, "%s", sqlite3_errmsg(st->db));
		return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB ? 1 : -1;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		t = sqlite3_column_text(s, 0);
		if (rows++ == 0) {
			snprintf(msg, msgsz, "%s", t != NULL ?
			    (const char *)t : "");
			r = t != NULL && strcmp((const char *)t, "ok") == 0 ?
			    0 : 1;
		}
	}
	if (rc != SQLITE_DONE) {
		/* A file too damaged to walk is a finding, not a failure to
		 * look; a lock or an I/O error is. */
		snprintf(msg, msgsz, "%s", sqlite3_errmsg(st->db));
		r = (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) ==
		    SQLITE_NOTADB ? 1 : -1;
		log_error("stmt=%s msg=\"%s\"", store_stmts[STMT_INTEGRITY].name,
		    msg);
	} else if (rows > 1)
		r = 1;
	store_reset(st, STMT_INTEGRITY);
	return r;
}

/*
 * store: everything forcelink keeps, in one SQLite file (see store.h).
 *
 * This is the only file that includes sqlite3.h.  It owns the connection
 * settings, the migrations (sql/NNN_*.sql compiled into schema.c), the
 * fixed array of statements every connection prepares once, and the
 * sealing of tokens and verifiers with their associated data.
 *
 * Writers queue: within a process, every write (a transaction, or a
 * single statement that writes) holds store_writer, a mutex, so the
 * threads of a worker wait their turn on it instead of all trying the
 * file lock and napping; only the processes compete for the file lock.
 *
 * Busy policy, in one place: store_busy() waits for a lock in short
 * naps (many threads share the file, and SQLite's own handler would nap
 * up to 100 ms at a time) for at most STORE_BUSY_MS.  It is a cap, not a
 * retry loop: a lock held longer than
 * that makes the call fail with STORE_ERROR (logged), and the request is
 * answered with an error instead of hanging.  (The one statement SQLite
 * does not wait for by itself, the switch of a new file to WAL, is
 * retried by store_wal() within the same cap.)  Every read-then-write runs
 * in BEGIN IMMEDIATE, so the write lock is taken (or waited for) before
 * the read and a WAL snapshot can never go stale under us.
 *
 * Durability: the connection runs with synchronous=NORMAL, which in WAL
 * mode keeps the file consistent whatever happens; transactions that
 * write a token switch to synchronous=FULL first, because a refresh
 * token that Salesforce rotated cannot be fetched again.
 *
 * Checkpoints: every request writes (the replay cache), and with dozens
 * of threads reading at any instant SQLite's automatic checkpoint never
 * finds a moment when the WAL can start over: the file grew by about
 * 7 KB per request without end, and once past 1000 pages every commit
 * ran another checkpoint with its two fsyncs.  So store_wal_hook()
 * replaces it: once the WAL holds STORE_WAL_FRAMES pages, the committing
 * connection runs a RESTART checkpoint, which waits (at most
 * STORE_CKPT_WAIT_MS) for the readers to move to the newest snapshot, so
 * that the next writer starts the WAL over.
 *
 * Error discipline: an SQLite failure is logged once, where it happens,
 * with SQLite's message (which names tables and columns, never bound
 * values) and becomes STORE_ERROR.  Every statement is reset and its
 * bindings cleared after use on every path, so no connection keeps a
 * read transaction open between calls.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "crypto.h"
#include "log.h"
#include "schema.h"
#include "slack.h"
#include "store.h"

/* The one busy policy: wait at most this long for a lock. */
#define STORE_BUSY_MS		5000
/* Pause between attempts to switch a new file to WAL (see store_wal). */
#define STORE_WAL_RETRY_MS	10
/* Longest single nap while waiting for a lock, in microseconds. */
#define STORE_BUSY_NAP_MAX_US	2000
/* WAL pages after which a commit checkpoints (SQLite's default too). */
#define STORE_WAL_FRAMES	1000
/* How long that checkpoint waits for readers and writers. */
#define STORE_CKPT_WAIT_MS	100

/* Associated data: a version tag, then length-prefixed fields. */
#define STORE_AD_TAG		"forcelink-v1"
#define STORE_AD_MAX		256

/* A successful replay insert purges expired rows every this many. */
#define STORE_PURGE_EVERY	64

/*
 * The statements.  Each connection prepares all of them once, in
 * store_open(), and reuses them.  PRAGMA synchronous is not among them:
 * SQLite applies it when the statement is compiled, not when it runs, so
 * it goes through sqlite3_exec() each time (see store_sync()).
 */
enum stmt {
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_LINK_GET,
	STMT_LINK_PUT,
	STMT_LINK_UPDATE,
	STMT_LINK_DELETE,
	STMT_LINK_TOUCH,
	STMT_NONCE_ADD,
	STMT_NONCE_GET,
	STMT_NONCE_START,
	STMT_STATE_GET,
	STMT_STATE_USE,
	STMT_REPLAY_ADD,
	STMT_PURGE_STATE,
	STMT_PURGE_REPLAY,
	/* Slack installations (sql/003_installations.sql). */
	STMT_INSTALL_PUT,
	STMT_INSTALL_GET,
	STMT_INSTALL_FIND,
	STMT_INSTALL_ANY,
	STMT_INSTALL_UPDATE,
	STMT_INSTALL_REINSTALL,
	STMT_ISTATE_ADD,
	STMT_ISTATE_GET,
	STMT_ISTATE_USE,
	STMT_PURGE_ISTATE,
	STMT__MAX
};

/* Columns of STMT_LINK_GET. */
enum {
	LCOL_ORG,
	LCOL_SF_USER_ID,
	LCOL_SF_ORG_ID,
	LCOL_SF_USERNAME,
	LCOL_INSTANCE_URL,
	LCOL_KEY_ID,
	LCOL_ACCESS_CT,
	LCOL_REFRESH_CT,
	LCOL_VERSION,
	LCOL_CREATED_AT,
	LCOL_UPDATED_AT,
	LCOL_LAST_USED_AT
};

/* Columns of STMT_NONCE_GET and STMT_STATE_GET (the first five). */
enum {
	SCOL_ENTERPRISE_ID,
	SCOL_TEAM_ID,
	SCOL_USER_ID,
	SCOL_EXPIRES_AT,
	SCOL_CONSUMED_AT,	/* started_at or used_at */
	SCOL_COOKIE_HASH,
	SCOL_KEY_ID,
	SCOL_VERIFIER_CT
};

static const struct {
	const char	*name;	/* for logs */
	const char	*sql;
} stmts[STMT__MAX] = {
	[STMT_BEGIN] = { "begin", "BEGIN IMMEDIATE" },
	[STMT_COMMIT] = { "commit", "COMMIT" },
	[STMT_ROLLBACK] = { "rollback", "ROLLBACK" },
	[STMT_LINK_GET] = { "link_get",
	    "SELECT org, sf_user_id, sf_org_id, sf_username, instance_url, "
	    "key_id, access_token_ct, refresh_token_ct, version, created_at, "
	    "updated_at, last_used_at FROM sf_link "
	    "WHERE enterprise_id = ?1 AND team_id = ?2 AND user_id = ?3" },
	[STMT_LINK_PUT] = { "link_put",
	    "INSERT INTO sf_link (enterprise_id, team_id, user_id, org, "
	    "sf_user_id, sf_org_id, sf_username, instance_url, key_id, "
	    "access_token_ct, refresh_token_ct, version, created_at, "
	    "updated_at, last_used_at) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
	    "?13, NULL) "
	    "ON CONFLICT (enterprise_id, team_id, user_id) DO UPDATE SET "
	    "org = excluded.org, sf_user_id = excluded.sf_user_id, "
	    "sf_org_id = excluded.sf_org_id, "
	    "sf_username = excluded.sf_username, "
	    "instance_url = excluded.instance_url, key_id = excluded.key_id, "
	    "access_token_ct = excluded.access_token_ct, "
	    "refresh_token_ct = excluded.refresh_token_ct, "
	    "version = excluded.version, created_at = excluded.created_at, "
	    "updated_at = excluded.updated_at, last_used_at = NULL" },
	[STMT_LINK_UPDATE] = { "link_update",
	    "UPDATE sf_link SET access_token_ct = ?4, "
	    "refresh_token_ct = coalesce(?5, refresh_token_ct), "
	    "version = version + 1, updated_at = ?6 "
	    "WHERE enterprise_id = ?1 AND team_id = ?2 AND user_id = ?3 "
	    "AND version = ?7 AND key_id = ?8" },
	[STMT_LINK_DELETE] = { "link_delete",
	    "DELETE FROM sf_link "
	    "WHERE enterprise_id = ?1 AND team_id = ?2 AND user_id = ?3 "
	    "AND key_id = ?4 AND (?5 < 0 OR version = ?5)" },
	[STMT_LINK_TOUCH] = { "link_touch",
	    "UPDATE sf_link SET last_used_at = ?4 "
	    "WHERE enterprise_id = ?1 AND team_id = ?2 AND user_id = ?3" },
	[STMT_NONCE_ADD] = { "nonce_add",
	    "INSERT INTO login_state (enterprise_id, team_id, user_id, "
	    "nonce_hash, created_at, expires_at) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)" },
	[STMT_NONCE_GET] = { "nonce_get",
	    "SELECT enterprise_id, team_id, user_id, expires_at, started_at "
	    "FROM login_state WHERE nonce_hash = ?1" },
	[STMT_NONCE_START] = { "nonce_start",
	    "UPDATE login_state SET started_at = ?2, state_hash = ?3, "
	    "cookie_hash = ?4, verifier_ct = ?5, key_id = ?6, "
	    "expires_at = ?7 "
	    "WHERE nonce_hash = ?1 AND started_at IS NULL" },
	[STMT_STATE_GET] = { "state_get",
	    "SELECT enterprise_id, team_id, user_id, expires_at, used_at, "
	    "cookie_hash, key_id, verifier_ct "
	    "FROM login_state WHERE state_hash = ?1" },
	[STMT_STATE_USE] = { "state_use",
	    "UPDATE login_state SET used_at = ?2, verifier_ct = NULL "
	    "WHERE state_hash = ?1 AND used_at IS NULL" },
	/* A row whose time is up may be taken over by the same hash. */
	[STMT_REPLAY_ADD] = { "replay_add",
	    "INSERT INTO slack_replay (sig_hash, expires_at) VALUES (?1, ?2) "
	    "ON CONFLICT (sig_hash) DO UPDATE SET "
	    "expires_at = excluded.expires_at "
	    "WHERE slack_replay.expires_at <= ?3" },
	[STMT_PURGE_STATE] = { "purge_state",
	    "DELETE FROM login_state WHERE expires_at <= ?1" },
	[STMT_PURGE_REPLAY] = { "purge_replay",
	    "DELETE FROM slack_replay WHERE expires_at <= ?1" },
	/* --- Slack installations --- */
	[STMT_INSTALL_PUT] = { "install_put",
	    "INSERT INTO slack_install (enterprise_id, team_id, app_id, "
	    "team_name, enterprise_name, bot_user_id, bot_id, scopes, "
	    "installer_user_id, key_id, bot_token_ct, refresh_token_ct, "
	    "token_expires_at, needs_reinstall, version, created_at, "
	    "updated_at) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
	    "0, 1, ?14, ?14) "
	    "ON CONFLICT (enterprise_id, team_id) DO UPDATE SET "
	    "app_id = excluded.app_id, team_name = excluded.team_name, "
	    "enterprise_name = excluded.enterprise_name, "
	    "bot_user_id = excluded.bot_user_id, bot_id = excluded.bot_id, "
	    "scopes = excluded.scopes, "
	    "installer_user_id = excluded.installer_user_id, "
	    "key_id = excluded.key_id, bot_token_ct = excluded.bot_token_ct, "
	    "refresh_token_ct = excluded.refresh_token_ct, "
	    "token_expires_at = excluded.token_expires_at, "
	    "needs_reinstall = 0, version = slack_install.version + 1, "
	    "created_at = excluded.created_at, "
	    "updated_at = excluded.updated_at" },
	[STMT_INSTALL_GET] = { "install_get",
	    "SELECT app_id, team_name, enterprise_name, bot_user_id, bot_id, "
	    "scopes, installer_user_id, key_id, bot_token_ct, "
	    "refresh_token_ct, token_expires_at, needs_reinstall, version, "
	    "created_at, updated_at FROM slack_install "
	    "WHERE enterprise_id = ?1 AND team_id = ?2" },
	/* The workspace's own row sorts before the org-wide one (''). */
	[STMT_INSTALL_FIND] = { "install_find",
	    "SELECT enterprise_id, team_id, token_expires_at, "
	    "refresh_token_ct IS NOT NULL, needs_reinstall FROM slack_install "
	    "WHERE enterprise_id = ?1 AND team_id IN (?2, '') "
	    "ORDER BY team_id DESC LIMIT 1" },
	[STMT_INSTALL_ANY] = { "install_any",
	    "SELECT 1 FROM slack_install LIMIT 1" },
	[STMT_INSTALL_UPDATE] = { "install_update",
	    "UPDATE slack_install SET bot_token_ct = ?3, "
	    "refresh_token_ct = coalesce(?4, refresh_token_ct), "
	    "token_expires_at = ?5, "
	    "version = version + 1, updated_at = ?6 "
	    "WHERE enterprise_id = ?1 AND team_id = ?2 AND version = ?7 "
	    "AND key_id = ?8" },
	[STMT_INSTALL_REINSTALL] = { "install_reinstall",
	    "UPDATE slack_install SET needs_reinstall = 1, "
	    "version = version + 1, updated_at = ?3 "
	    "WHERE enterprise_id = ?1 AND team_id = ?2 AND version = ?4" },
	[STMT_ISTATE_ADD] = { "istate_add",
	    "INSERT INTO slack_install_state (state_hash, cookie_hash, "
	    "created_at, expires_at) VALUES (?1, ?2, ?3, ?4)" },
	[STMT_ISTATE_GET] = { "istate_get",
	    "SELECT cookie_hash, expires_at, used_at "
	    "FROM slack_install_state WHERE state_hash = ?1" },
	[STMT_ISTATE_USE] = { "istate_use",
	    "UPDATE slack_install_state SET used_at = ?2 "
	    "WHERE state_hash = ?1 AND used_at IS NULL" },
	[STMT_PURGE_ISTATE] = { "purge_istate",
	    "DELETE FROM slack_install_state WHERE expires_at <= ?1" },
};

struct store {
	sqlite3			*db;
	sqlite3_stmt		*stmt[STMT__MAX];
	struct crypto_key	 key;
	unsigned int		 nreplay;	/* replay inserts so far */
	int			 busy_cap_ms;	/* current cap of store_busy */
	long			 busy_waited_us; /* in the current wait */
};

/* One writer at a time per process (see the top of this file). */
static pthread_mutex_t	 store_writer = PTHREAD_MUTEX_INITIALIZER;

/* Associated data under construction. */
struct store_ad {
	unsigned char	 b[STORE_AD_MAX];
	size_t		 len;
};

/* A sealed value, as bound to a statement. */
struct sealed {
	unsigned char	*p;
	size_t		 len;
};

const char *
store_result_str(enum store_result r)
{
	switch (r) {
	case STORE_OK:
		return "ok";
	case STORE_NOTFOUND:
		return "notfound";
	case STORE_USED:
		return "used";
	case STORE_EXPIRED:
		return "expired";
	case STORE_MISMATCH:
		return "mismatch";
	case STORE_CONFLICT:
		return "conflict";
	case STORE_EXISTS:
		return "exists";
	case STORE_BADKEY:
		return "badkey";
	case STORE_ERROR:
		return "error";
	}
	return "unknown";
}

int
store_schema_version(void)
{
	if (schema_nmigrations == 0)
		return 0;
	return schema_migrations[schema_nmigrations - 1].version;
}

/* --- Statement helpers ------------------------------------------------ */

/* Resets a statement and drops its bindings; safe to call at any time. */
static void
store_reset(struct store *st, enum stmt id)
{
	sqlite3_reset(st->stmt[id]);
	sqlite3_clear_bindings(st->stmt[id]);
}

/*
 * Steps a statement once.  Returns SQLITE_ROW or SQLITE_DONE, or -1 after
 * logging SQLite's message.  The caller resets the statement.
 */
static int
store_step(struct store *st, enum stmt id)
{
	int	 rc;

	rc = sqlite3_step(st->stmt[id]);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc;
	log_error("stmt=%s msg=\"%s\"", stmts[id].name,
	    sqlite3_errmsg(st->db));
	return -1;
}

/* Runs a statement that returns no rows, then resets it.  Returns 0, or
 * -1 after logging. */
static int
store_run(struct store *st, enum stmt id)
{
	int	 rc;

	rc = store_step(st, id);
	store_reset(st, id);
	return rc == -1 ? -1 : 0;
}

/* Logs a failed bind.  Always returns -1. */
static int
store_bind_fail(struct store *st, enum stmt id)
{
	log_error("stmt=%s bind msg=\"%s\"", stmts[id].name,
	    sqlite3_errmsg(st->db));
	return -1;
}

static int
store_bind_text(struct store *st, enum stmt id, int col, const char *s)
{
	if (sqlite3_bind_text64(st->stmt[id], col, s, strlen(s),
	    SQLITE_TRANSIENT, SQLITE_UTF8) != SQLITE_OK)
		return store_bind_fail(st, id);
	return 0;
}

/* Binds a blob; p == NULL binds SQL NULL. */
static int
store_bind_blob(struct store *st, enum stmt id, int col, const void *p,
    size_t len)
{
	int	 rc;

	if (p == NULL)
		rc = sqlite3_bind_null(st->stmt[id], col);
	else
		rc = sqlite3_bind_blob64(st->stmt[id], col, p, len,
		    SQLITE_TRANSIENT);
	return rc == SQLITE_OK ? 0 : store_bind_fail(st, id);
}

static int
store_bind_int(struct store *st, enum stmt id, int col, int64_t v)
{
	if (sqlite3_bind_int64(st->stmt[id], col, v) != SQLITE_OK)
		return store_bind_fail(st, id);
	return 0;
}

/* Binds who to parameters 1, 2 and 3 (enterprise, team, user). */
static int
store_bind_user(struct store *st, enum stmt id, const struct slack_user *who)
{
	if (store_bind_text(st, id, 1, who->enterprise_id) == -1 ||
	    store_bind_text(st, id, 2, who->team_id) == -1 ||
	    store_bind_text(st, id, 3, who->user_id) == -1)
		return -1;
	return 0;
}

/*
 * Checks that who is usable as a key: every field NUL-terminated inside
 * its array, team and user not empty.  Returns 1 or 0 (logged).
 */
static int
store_who_ok(const struct slack_user *who)
{
	if (who != NULL &&
	    memchr(who->enterprise_id, '\0', sizeof(who->enterprise_id)) &&
	    memchr(who->team_id, '\0', sizeof(who->team_id)) &&
	    memchr(who->user_id, '\0', sizeof(who->user_id)) &&
	    who->team_id[0] != '\0' && who->user_id[0] != '\0')
		return 1;
	log_error("msg=\"invalid Slack user\"");
	return 0;
}

/* Copies text column col into dst (dstsz bytes).  Returns 0, or -1 when
 * it is NULL or does not fit. */
static int
store_col_id(sqlite3_stmt *s, int col, char *dst, size_t dstsz)
{
	const unsigned char	*t;
	int			 n;

	t = sqlite3_column_text(s, col);
	n = sqlite3_column_bytes(s, col);
	if (t == NULL || n < 0 || (size_t)n >= dstsz)
		return -1;
	memcpy(dst, t, (size_t)n);
	dst[n] = '\0';
	return 0;
}

/* Reads the Slack user of a login_state row into who.  Returns 0 or -1
 * (logged). */
static int
store_col_user(sqlite3_stmt *s, struct slack_user *who)
{
	if (store_col_id(s, SCOL_ENTERPRISE_ID, who->enterprise_id,
	    sizeof(who->enterprise_id)) == -1 ||
	    store_col_id(s, SCOL_TEAM_ID, who->team_id,
	    sizeof(who->team_id)) == -1 ||
	    store_col_id(s, SCOL_USER_ID, who->user_id,
	    sizeof(who->user_id)) == -1) {
		log_error("msg=\"malformed Slack user in login_state\"");
		return -1;
	}
	return 0;
}

/* Allocated copy of text column col.  Returns NULL (logged) when it is
 * NULL or memory is exhausted. */
static char *
store_col_dup(sqlite3_stmt *s, int col)
{
	const unsigned char	*t;
	char			*p;

	if ((t = sqlite3_column_text(s, col)) == NULL ||
	    (p = strdup((const char *)t)) == NULL) {
		log_error("col=%d msg=\"missing value or out of memory\"", col);
		return NULL;
	}
	return p;
}

/* Whether text column col holds this connection's key id. */
static int
store_col_is_key(const struct store *st, sqlite3_stmt *s, int col)
{
	const unsigned char	*t;

	t = sqlite3_column_text(s, col);
	return t != NULL && strcmp((const char *)t, st->key.id) == 0;
}

/* --- Transactions ----------------------------------------------------- */

/* Sets PRAGMA synchronous (level "FULL" or "NORMAL"); only outside a
 * transaction.  Returns 0, or -1 after logging. */
static int
store_sync(struct store *st, const char *level)
{
	char	 sql[40];

	snprintf(sql, sizeof(sql), "PRAGMA synchronous=%s", level);
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		log_error("level=%s msg=\"%s\"", level, sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

/* BEGIN IMMEDIATE: takes this process's writer mutex, then the write
 * lock, waiting up to the busy timeout.  Returns 0, or -1 after logging
 * (and then holds neither). */
static int
store_begin(struct store *st)
{
	pthread_mutex_lock(&store_writer);
	if (store_run(st, STMT_BEGIN) == -1) {
		pthread_mutex_unlock(&store_writer);
		return -1;
	}
	return 0;
}

/*
 * Ends the transaction store_begin() started: commits when commit is set,
 * else rolls back.  A failed commit is rolled back.  Returns 0, or -1 when
 * the commit failed (logged).
 */
static int
store_end(struct store *st, int commit)
{
	int	 rc = 0;

	if (commit && store_run(st, STMT_COMMIT) == -1)
		rc = -1;
	/* SQLite may have rolled back by itself (I/O error, full disk). */
	if (!sqlite3_get_autocommit(st->db))
		(void)store_run(st, STMT_ROLLBACK);
	pthread_mutex_unlock(&store_writer);
	return rc;
}

/* Starts a transaction that writes a token: synchronous=FULL, then
 * BEGIN IMMEDIATE.  Returns 0, or -1 with the connection as before. */
static int
store_write_begin(struct store *st)
{
	if (store_sync(st, "FULL") == -1)
		return -1;
	if (store_begin(st) == -1) {
		(void)store_sync(st, "NORMAL");
		return -1;
	}
	return 0;
}

/* Ends what store_write_begin() started and goes back to
 * synchronous=NORMAL.  Returns as store_end(). */
static int
store_write_end(struct store *st, int commit)
{
	int	 rc;

	rc = store_end(st, commit);
	(void)store_sync(st, "NORMAL");
	return rc;
}

/* --- Sealing ---------------------------------------------------------- */

/* Appends one length-prefixed field (4-byte big-endian length, then the
 * bytes).  Returns 0, or -1 when it does not fit. */
static int
store_ad_add(struct store_ad *ad, const char *s)
{
	size_t	 n;

	n = strlen(s);
	if (sizeof(ad->b) - ad->len < 4 || sizeof(ad->b) - ad->len - 4 < n)
		return -1;
	ad->b[ad->len++] = (unsigned char)(n >> 24);
	ad->b[ad->len++] = (unsigned char)(n >> 16);
	ad->b[ad->len++] = (unsigned char)(n >> 8);
	ad->b[ad->len++] = (unsigned char)n;
	memcpy(ad->b + ad->len, s, n);
	ad->len += n;
	return 0;
}

/* Fills ad with the tag and then the n fields f, each length-prefixed.
 * Returns 0, or -1 (logged) when they do not fit. */
static int
store_ad_fields(struct store_ad *ad, const char *const *f, size_t n)
{
	size_t	 i;
	int	 rc;

	ad->len = 0;
	rc = store_ad_add(ad, STORE_AD_TAG);
	for (i = 0; i < n && rc == 0; i++)
		rc = store_ad_add(ad, f[i]);
	if (rc == -1)
		log_error("msg=\"associated data too long\"");
	return rc;
}

/*
 * Associated data of a token: the tag, the row (enterprise, team, user),
 * which token ("access" or "refresh") and the key id.  The length
 * prefixes keep ("ab", "c") and ("a", "bc") apart.  Returns 0 or -1.
 */
static int
store_ad_token(struct store_ad *ad, const struct slack_user *who,
    const char *which, const char *key_id)
{
	const char *const f[] = {
		who->enterprise_id, who->team_id, who->user_id, which, key_id
	};

	return store_ad_fields(ad, f, sizeof(f) / sizeof(f[0]));
}

/* Associated data of a PKCE verifier: the tag, "verifier", the hex of the
 * state hash (its row) and the key id.  Returns 0 or -1. */
static int
store_ad_verifier(struct store_ad *ad,
    const unsigned char state_hash[CRYPTO_HASHLEN], const char *key_id)
{
	char		 hex[CRYPTO_HASHLEN * 2 + 1];
	const char *const f[] = { "verifier", hex, key_id };

	crypto_hex(state_hash, CRYPTO_HASHLEN, hex);
	return store_ad_fields(ad, f, sizeof(f) / sizeof(f[0]));
}

/* Seals a token of who under this connection's key.  Returns 0, or -1
 * (logged). */
static int
store_seal_token(struct store *st, const struct slack_user *who,
    const char *which, const char *token, struct sealed *out)
{
	struct store_ad	 ad;

	if (store_ad_token(&ad, who, which, st->key.id) == -1)
		return -1;
	if (crypto_seal(&st->key, ad.b, ad.len, token, strlen(token),
	    &out->p, &out->len) == -1) {
		log_error("which=%s msg=\"cannot seal token\"", which);
		return -1;
	}
	return 0;
}

/*
 * Opens the token of who in blob column col of s (sealed under key id
 * key_id, which the caller checked is ours).  Returns STORE_OK and *out
 * (free with crypto_free_secret), STORE_BADKEY (logged) when it does not
 * open, or STORE_ERROR (logged; out of memory is not a wrong key).
 */
static enum store_result
store_open_token(struct store *st, sqlite3_stmt *s, int col,
    const struct slack_user *who, const char *which, char **out)
{
	struct store_ad	 ad;
	size_t		 len;
	int		 rc;

	if (store_ad_token(&ad, who, which, st->key.id) == -1)
		return STORE_ERROR;
	rc = crypto_open(&st->key, ad.b, ad.len, sqlite3_column_blob(s, col),
	    (size_t)sqlite3_column_bytes(s, col), out, &len);
	if (rc == -2) {
		log_error("which=%s msg=\"out of memory\"", which);
		return STORE_ERROR;
	} else if (rc != 0) {
		log_error("which=%s msg=\"sealed token does not open: "
		    "altered or wrong key\"", which);
		return STORE_BADKEY;
	}
	return STORE_OK;
}

/* --- Opening ---------------------------------------------------------- */

/* Reads PRAGMA user_version.  Returns 0 and *v, or -1 after logging. */
static int
store_user_version(sqlite3 *db, int *v)
{
	sqlite3_stmt	*s = NULL;
	int		 rc = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) !=
	    SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
		log_error("msg=\"%s\"", sqlite3_errmsg(db));
		goto out;
	}
	*v = sqlite3_column_int(s, 0);
	rc = 0;
out:
	sqlite3_finalize(s);
	return rc;
}

/* sqlite3_exec() that logs failures with what it was doing.  Returns 0
 * or -1. */
static int
store_exec(sqlite3 *db, const char *what, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	log_error("op=\"%s\" msg=\"%s\"", what, sqlite3_errmsg(db));
	return -1;
}

/* Refuses a database newer than this program.  Returns 0 or -1 (with
 * the one clear log line an admin needs). */
static int
store_version_ok(const char *path, int v)
{
	if (v >= 0 && v <= store_schema_version())
		return 0;
	log_error("path=\"%s\" msg=\"database schema version %d is not one "
	    "this program knows (it knows up to %d): refusing to use it; "
	    "run the newer forcelink that wrote it\"", path, v,
	    store_schema_version());
	return -1;
}

/*
 * Applies migration m in its own BEGIN IMMEDIATE transaction.  The
 * version is read again inside it: another connection may have migrated
 * while we waited for the lock, and then there is nothing to do.
 * Returns 0, or -1 (logged; nothing is changed).
 */
static int
store_migrate_one(sqlite3 *db, const char *path,
    const struct schema_migration *m)
{
	char	 sql[64];
	int	 v, rc = -1;

	if (store_exec(db, "begin migration", "BEGIN IMMEDIATE") == -1)
		return -1;
	if (store_user_version(db, &v) == -1 || store_version_ok(path, v) == -1)
		goto out;
	if (v >= m->version) {
		rc = 0;
		goto out;
	}
	if (v != m->version - 1) {
		log_error("migration=%s version=%d msg=\"migrations out of "
		    "order\"", m->name, v);
		goto out;
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", m->version);
	if (store_exec(db, m->name, m->sql) == -1 ||
	    store_exec(db, "set user_version", sql) == -1 ||
	    store_exec(db, "commit migration", "COMMIT") == -1)
		goto out;
	log_event(LOGL_INFO, "store.migrated", "path=\"%s\" migration=%s "
	    "version=%d", path, m->name, m->version);
	rc = 0;
out:
	if (!sqlite3_get_autocommit(db))
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* Brings the schema up to store_schema_version().  Returns 0 or -1. */
static int
store_migrate(sqlite3 *db, const char *path)
{
	size_t	 i;
	int	 v;

	if (store_user_version(db, &v) == -1 || store_version_ok(path, v) == -1)
		return -1;
	for (i = 0; i < schema_nmigrations; i++) {
		if (schema_migrations[i].version != (int)i + 1) {
			log_error("migration=%s msg=\"migrations must be "
			    "numbered 1, 2, ... without gaps\"",
			    schema_migrations[i].name);
			return -1;
		}
		if (schema_migrations[i].version > v &&
		    store_migrate_one(db, path, &schema_migrations[i]) == -1)
			return -1;
	}
	return 0;
}

/*
 * Creates the file with mode 0600 unless it exists; SQLite then gives
 * the -wal and -shm files the same mode.  An existing file is not opened
 * here at all: closing any descriptor of a file drops every POSIX lock
 * this process holds on it, including those of other threads' SQLite
 * connections, and SQLite's locking (and the -shm file) would silently
 * break.  Returns 0 or -1 (logged).
 */
static int
store_create_file(const char *path)
{
	struct stat	 sb;
	int		 fd;

	if (stat(path, &sb) == 0)
		return 0;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 && errno == EEXIST)
		return 0;
	if (fd == -1) {
		log_error("path=\"%s\" msg=\"cannot create database: %s\"",
		    path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Runs PRAGMA journal_mode=WAL once.  Returns SQLITE_ROW with the
 * resulting mode copied into mode (size n), or SQLite's error code.
 */
static int
store_wal_try(sqlite3 *db, char *mode, size_t n)
{
	sqlite3_stmt		*s = NULL;
	const unsigned char	*t;
	int			 rc;

	rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &s, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		t = sqlite3_column_text(s, 0);
		snprintf(mode, n, "%s", t != NULL ? (const char *)t : "");
	}
	sqlite3_finalize(s);
	return rc;
}

/*
 * Puts the file in WAL mode.  On a new file this takes an exclusive
 * lock, and when several workers start together their lock upgrades can
 * deadlock; SQLite then returns SQLITE_BUSY at once instead of calling
 * the busy handler.  So this one statement is retried, every
 * STORE_WAL_RETRY_MS, within the same STORE_BUSY_MS cap.  Returns 0 or
 * -1 (logged).
 */
static int
store_wal(sqlite3 *db, const char *path)
{
	const struct timespec	 pause = { 0, STORE_WAL_RETRY_MS * 1000000L };
	char			 mode[16];
	int			 rc, waited;

	for (waited = 0; ; waited += STORE_WAL_RETRY_MS) {
		rc = store_wal_try(db, mode, sizeof(mode));
		if ((rc & 0xff) != SQLITE_BUSY || waited >= STORE_BUSY_MS)
			break;
		nanosleep(&pause, NULL);
	}
	if (rc != SQLITE_ROW) {
		log_error("path=\"%s\" msg=\"%s\"", path, sqlite3_errmsg(db));
		return -1;
	}
	if (strcmp(mode, "wal") != 0) {
		log_error("path=\"%s\" msg=\"WAL mode refused (journal mode "
		    "%s): the database must be on a local file system\"",
		    path, mode);
		return -1;
	}
	return 0;
}

/*
 * The busy handler: SQLite calls it with count 0, 1, 2, ... while a lock
 * it needs is held elsewhere.  It naps 50 us, doubling up to
 * STORE_BUSY_NAP_MAX_US, and gives up (SQLITE_BUSY for the caller) once
 * the naps add up to busy_cap_ms.
 */
static int
store_busy(void *arg, int count)
{
	struct store	*st = arg;
	struct timespec	 ts;
	long		 us;

	if (count == 0)
		st->busy_waited_us = 0;
	if (st->busy_waited_us >= st->busy_cap_ms * 1000L)
		return 0;
	us = count < 6 ? 50L << count : STORE_BUSY_NAP_MAX_US;
	if (us > STORE_BUSY_NAP_MAX_US)
		us = STORE_BUSY_NAP_MAX_US;
	ts.tv_sec = 0;
	ts.tv_nsec = us * 1000;
	nanosleep(&ts, NULL);
	st->busy_waited_us += us;
	return 1;
}

/*
 * Runs after every commit with the number of pages in the WAL (see
 * "Checkpoints" above).  A checkpoint that cannot finish in time is not
 * an error: the next commit tries again, and the WAL merely grows until
 * then.  Always returns SQLITE_OK (the commit has happened).
 */
static int
store_wal_hook(void *arg, sqlite3 *db, const char *name, int nframes)
{
	struct store	*st = arg;
	int		 rc;

	if (nframes < STORE_WAL_FRAMES)
		return SQLITE_OK;
	st->busy_cap_ms = STORE_CKPT_WAIT_MS;
	rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_RESTART,
	    NULL, NULL);
	st->busy_cap_ms = STORE_BUSY_MS;
	if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY)
		log_warn("frames=%d msg=\"checkpoint: %s\"", nframes,
		    sqlite3_errmsg(db));
	return SQLITE_OK;
}

/* Per-connection settings: busy cap, checkpoints, WAL, foreign keys,
 * synchronous.  Returns 0 or -1 (logged). */
static int
store_configure(struct store *st, const char *path)
{
	sqlite3	*db = st->db;
	int	 persist = 1;

	st->busy_cap_ms = STORE_BUSY_MS;
	sqlite3_busy_handler(db, store_busy, st);
	sqlite3_wal_hook(db, store_wal_hook, st);
	/*
	 * Keep the -wal and -shm files when a connection closes.  Otherwise
	 * the last connection of one process deletes them as it closes,
	 * which races with processes that are opening the database at that
	 * moment (program starts, restarts, sqlite3 in another terminal):
	 * they can end up on different WAL indexes and stop seeing each
	 * other's writes.
	 */
	sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	/* No SQL may corrupt the file on purpose (writable_schema etc.). */
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	/*
	 * A page cache of 512 KiB per connection (SQLite's default is 2 MB)
	 * holds every interior page of even a million links; the rest is in
	 * the kernel's cache.  Each worker thread has a connection, so the
	 * default would let a worker's memory creep up by megabytes as the
	 * replay table fills and empties.
	 */
	if (store_wal(db, path) == -1 ||
	    store_exec(db, "settings", "PRAGMA foreign_keys=ON; "
	    "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-512") == -1)
		return -1;
	return 0;
}

/* Prepares every statement of stmts[].  Returns 0 or -1 (logged). */
static int
store_prepare(struct store *st)
{
	size_t	 i;

	for (i = 0; i < STMT__MAX; i++)
		if (sqlite3_prepare_v3(st->db, stmts[i].sql, -1,
		    SQLITE_PREPARE_PERSISTENT, &st->stmt[i], NULL) !=
		    SQLITE_OK) {
			log_error("stmt=%s msg=\"%s\"", stmts[i].name,
			    sqlite3_errmsg(st->db));
			return -1;
		}
	return 0;
}

/*
 * Process-wide SQLite settings, before the first connection.  Memory
 * statistics are off: they put one global mutex around every allocation
 * SQLite makes, which every worker thread would then queue on.
 */
static void
store_global_init(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

struct store *
store_open(const char *path, const struct crypto_key *key)
{
	static pthread_once_t	 once = PTHREAD_ONCE_INIT;
	struct store		*st = NULL;

	pthread_once(&once, store_global_init);
	if (path == NULL || key == NULL || store_create_file(path) == -1)
		goto out;
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		log_error("msg=\"out of memory\"");
		goto out;
	}
	st->key = *key;
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_error("path=\"%s\" msg=\"%s\"", path, st->db != NULL ?
		    sqlite3_errmsg(st->db) : "out of memory");
		goto out;
	}
	if (store_configure(st, path) == -1 ||
	    store_migrate(st->db, path) == -1 ||
	    store_prepare(st) == -1)
		goto out;
	return st;
out:
	store_close(st);
	return NULL;
}

void
store_close(struct store *st)
{
	size_t	 i;

	if (st == NULL)
		return;
	for (i = 0; i < STMT__MAX; i++)
		sqlite3_finalize(st->stmt[i]);
	if (sqlite3_close(st->db) != SQLITE_OK)
		log_error("msg=\"%s\"", sqlite3_errmsg(st->db));
	crypto_key_wipe(&st->key);
	free(st);
}

/* --- Links ------------------------------------------------------------ */

void
store_link_free(struct store_link *l)
{
	if (l == NULL)
		return;
	free(l->org);
	free(l->sf_user_id);
	free(l->sf_org_id);
	free(l->sf_username);
	free(l->instance_url);
	crypto_free_secret(l->access_token);
	crypto_free_secret(l->refresh_token);
	memset(l, 0, sizeof(*l));
}

/* Whether the link row in s is sealed under our key; logs when not. */
static int
store_link_key_ok(struct store *st, sqlite3_stmt *s)
{
	const unsigned char	*t;

	if (store_col_is_key(st, s, LCOL_KEY_ID))
		return 1;
	t = sqlite3_column_text(s, LCOL_KEY_ID);
	log_error("row_key_id=%.16s key_id=%s msg=\"link sealed under "
	    "another key\"", t != NULL ? (const char *)t : "none", st->key.id);
	return 0;
}

/* Fills out from the row STMT_LINK_GET is on.  Returns STORE_OK,
 * STORE_BADKEY or STORE_ERROR; out may be half filled on failure. */
static enum store_result
store_link_read(struct store *st, const struct slack_user *who,
    struct store_link *out)
{
	sqlite3_stmt		*s = st->stmt[STMT_LINK_GET];
	enum store_result	 r;

	if (!store_link_key_ok(st, s))
		return STORE_BADKEY;
	if ((r = store_open_token(st, s, LCOL_ACCESS_CT, who, "access",
	    &out->access_token)) != STORE_OK ||
	    (r = store_open_token(st, s, LCOL_REFRESH_CT, who, "refresh",
	    &out->refresh_token)) != STORE_OK)
		return r;
	if ((out->org = store_col_dup(s, LCOL_ORG)) == NULL ||
	    (out->sf_user_id = store_col_dup(s, LCOL_SF_USER_ID)) == NULL ||
	    (out->sf_org_id = store_col_dup(s, LCOL_SF_ORG_ID)) == NULL ||
	    (out->sf_username = store_col_dup(s, LCOL_SF_USERNAME)) == NULL ||
	    (out->instance_url = store_col_dup(s, LCOL_INSTANCE_URL)) == NULL)
		return STORE_ERROR;
	out->version = sqlite3_column_int64(s, LCOL_VERSION);
	out->created_at = (time_t)sqlite3_column_int64(s, LCOL_CREATED_AT);
	out->updated_at = (time_t)sqlite3_column_int64(s, LCOL_UPDATED_AT);
	/* NULL (never used) reads as 0. */
	out->last_used_at = (time_t)sqlite3_column_int64(s, LCOL_LAST_USED_AT);
	return STORE_OK;
}

enum store_result
store_link_get(struct store *st, const struct slack_user *who,
    struct store_link *out)
{
	enum store_result	 r = STORE_ERROR;
	int			 rc;

	memset(out, 0, sizeof(*out));
	if (!store_who_ok(who))
		return STORE_ERROR;
	if (store_bind_user(st, STMT_LINK_GET, who) == -1 ||
	    (rc = store_step(st, STMT_LINK_GET)) == -1)
		goto out;
	r = rc == SQLITE_DONE ? STORE_NOTFOUND : store_link_read(st, who, out);
out:
	store_reset(st, STMT_LINK_GET);
	if (r != STORE_OK)
		store_link_free(out);
	return r;
}

/*
 * Inside store_link_put's transaction: reads the current link of who.
 * Returns STORE_NOTFOUND, STORE_OK with *version and *old_refresh (NULL
 * when it does not open; that is logged, and the link is replaced all
 * the same), STORE_BADKEY (sealed under another key) or STORE_ERROR.
 */
static enum store_result
store_link_old(struct store *st, const struct slack_user *who,
    int64_t *version, char **old_refresh)
{
	sqlite3_stmt		*s = st->stmt[STMT_LINK_GET];
	enum store_result	 r = STORE_ERROR;
	int			 rc;

	*old_refresh = NULL;
	if (store_bind_user(st, STMT_LINK_GET, who) == -1 ||
	    (rc = store_step(st, STMT_LINK_GET)) == -1)
		goto out;
	if (rc == SQLITE_DONE) {
		r = STORE_NOTFOUND;
		goto out;
	}
	if (!store_link_key_ok(st, s)) {
		r = STORE_BADKEY;
		goto out;
	}
	*version = sqlite3_column_int64(s, LCOL_VERSION);
	if (store_open_token(st, s, LCOL_REFRESH_CT, who, "refresh",
	    old_refresh) != STORE_OK)
		log_warn("msg=\"old refresh token unreadable: it cannot be "
		    "revoked\"");
	r = STORE_OK;
out:
	store_reset(st, STMT_LINK_GET);
	return r;
}

/* Binds everything STMT_LINK_PUT needs.  Returns 0 or -1 (logged). */
static int
store_link_bind_put(struct store *st, const struct slack_user *who,
    const struct store_link *in, const struct sealed *acc,
    const struct sealed *ref, int64_t version, time_t now)
{
	enum stmt	 id = STMT_LINK_PUT;

	if (store_bind_user(st, id, who) == -1 ||
	    store_bind_text(st, id, 4, in->org != NULL ? in->org : "") == -1 ||
	    store_bind_text(st, id, 5, in->sf_user_id) == -1 ||
	    store_bind_text(st, id, 6, in->sf_org_id) == -1 ||
	    store_bind_text(st, id, 7, in->sf_username) == -1 ||
	    store_bind_text(st, id, 8, in->instance_url) == -1 ||
	    store_bind_text(st, id, 9, st->key.id) == -1 ||
	    store_bind_blob(st, id, 10, acc->p, acc->len) == -1 ||
	    store_bind_blob(st, id, 11, ref->p, ref->len) == -1 ||
	    store_bind_int(st, id, 12, version) == -1 ||
	    store_bind_int(st, id, 13, (int64_t)now) == -1)
		return -1;
	return 0;
}

/* Whether in has every field store_link_put needs. */
static int
store_link_complete(const struct store_link *in)
{
	if (in != NULL && in->sf_user_id != NULL && in->sf_org_id != NULL &&
	    in->sf_username != NULL && in->instance_url != NULL &&
	    in->access_token != NULL && in->refresh_token != NULL)
		return 1;
	log_error("msg=\"incomplete link\"");
	return 0;
}

enum store_result
store_link_put(struct store *st, const struct slack_user *who,
    const struct store_link *in, char **old_refresh)
{
	struct sealed		 acc = { NULL, 0 }, ref = { NULL, 0 };
	enum store_result	 r = STORE_ERROR;
	char			*old = NULL;
	int64_t			 version = 0;
	int			 began = 0;

	if (old_refresh != NULL)
		*old_refresh = NULL;
	if (!store_who_ok(who) || !store_link_complete(in))
		goto out;
	/* Seal first: the write lock is then held only for the SQL. */
	if (store_seal_token(st, who, "access", in->access_token, &acc) == -1 ||
	    store_seal_token(st, who, "refresh", in->refresh_token, &ref) == -1)
		goto out;
	if (store_write_begin(st) == -1)
		goto out;
	began = 1;
	r = store_link_old(st, who, &version, &old);
	if (r != STORE_OK && r != STORE_NOTFOUND)
		goto out;
	r = STORE_ERROR;
	if (store_link_bind_put(st, who, in, &acc, &ref, version + 1,
	    time(NULL)) == -1 || store_step(st, STMT_LINK_PUT) == -1)
		goto out;
	r = STORE_OK;
out:
	store_reset(st, STMT_LINK_PUT);
	if (began && store_write_end(st, r == STORE_OK) == -1)
		r = STORE_ERROR;
	if (r == STORE_OK && old_refresh != NULL) {
		*old_refresh = old;
		old = NULL;
	}
	crypto_free_secret(old);
	free(acc.p);
	free(ref.p);
	return r;
}

enum store_result
store_link_update_tokens(struct store *st, const struct slack_user *who,
    int64_t expect, const char *access, const char *refresh)
{
	struct sealed		 acc = { NULL, 0 }, ref = { NULL, 0 };
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_LINK_UPDATE;
	int			 began = 0;

	if (!store_who_ok(who) || access == NULL)
		goto out;
	if (store_seal_token(st, who, "access", access, &acc) == -1 ||
	    (refresh != NULL &&
	    store_seal_token(st, who, "refresh", refresh, &ref) == -1))
		goto out;
	if (store_write_begin(st) == -1)
		goto out;
	began = 1;
	/* key_id in the WHERE: a row resealed under another key has
	 * changed as surely as one with another version. */
	if (store_bind_user(st, id, who) == -1 ||
	    store_bind_blob(st, id, 4, acc.p, acc.len) == -1 ||
	    store_bind_blob(st, id, 5, ref.p, ref.len) == -1 ||
	    store_bind_int(st, id, 6, (int64_t)time(NULL)) == -1 ||
	    store_bind_int(st, id, 7, expect) == -1 ||
	    store_bind_text(st, id, 8, st->key.id) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	r = sqlite3_changes(st->db) == 1 ? STORE_OK : STORE_CONFLICT;
out:
	store_reset(st, id);
	if (began && store_write_end(st, r == STORE_OK) == -1)
		r = STORE_ERROR;
	free(acc.p);
	free(ref.p);
	return r;
}

enum store_result
store_link_delete(struct store *st, const struct slack_user *who,
    int64_t expect)
{
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_LINK_DELETE;

	if (!store_who_ok(who))
		return STORE_ERROR;
	pthread_mutex_lock(&store_writer);
	if (store_bind_user(st, id, who) == -1 ||
	    store_bind_text(st, id, 4, st->key.id) == -1 ||
	    store_bind_int(st, id, 5, expect < 0 ? -1 : expect) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	r = sqlite3_changes(st->db) == 1 ? STORE_OK : STORE_NOTFOUND;
out:
	store_reset(st, id);
	pthread_mutex_unlock(&store_writer);
	return r;
}

enum store_result
store_link_touch(struct store *st, const struct slack_user *who)
{
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_LINK_TOUCH;

	if (!store_who_ok(who))
		return STORE_ERROR;
	pthread_mutex_lock(&store_writer);
	if (store_bind_user(st, id, who) == -1 ||
	    store_bind_int(st, id, 4, (int64_t)time(NULL)) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	r = sqlite3_changes(st->db) == 1 ? STORE_OK : STORE_NOTFOUND;
out:
	store_reset(st, id);
	pthread_mutex_unlock(&store_writer);
	return r;
}

/* --- Login states ----------------------------------------------------- */

enum store_result
store_nonce_add(struct store *st, const struct slack_user *who,
    const unsigned char nonce_hash[CRYPTO_HASHLEN], time_t expires)
{
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_NONCE_ADD;

	if (!store_who_ok(who))
		return STORE_ERROR;
	pthread_mutex_lock(&store_writer);
	if (store_bind_user(st, id, who) == -1 ||
	    store_bind_blob(st, id, 4, nonce_hash, CRYPTO_HASHLEN) == -1 ||
	    store_bind_int(st, id, 5, (int64_t)time(NULL)) == -1 ||
	    store_bind_int(st, id, 6, (int64_t)expires) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	r = STORE_OK;
out:
	store_reset(st, id);
	pthread_mutex_unlock(&store_writer);
	return r;
}

/*
 * Inside store_nonce_start's transaction: looks the nonce up and decides.
 * Returns STORE_OK with *who, or STORE_NOTFOUND, STORE_USED,
 * STORE_EXPIRED, STORE_ERROR.
 */
static enum store_result
store_nonce_check(struct store *st,
    const unsigned char nonce_hash[CRYPTO_HASHLEN], time_t now,
    struct slack_user *who)
{
	sqlite3_stmt		*s = st->stmt[STMT_NONCE_GET];
	enum store_result	 r = STORE_ERROR;
	int			 rc;

	if (store_bind_blob(st, STMT_NONCE_GET, 1, nonce_hash,
	    CRYPTO_HASHLEN) == -1 ||
	    (rc = store_step(st, STMT_NONCE_GET)) == -1)
		goto out;
	if (rc == SQLITE_DONE)
		r = STORE_NOTFOUND;
	else if (sqlite3_column_type(s, SCOL_CONSUMED_AT) != SQLITE_NULL)
		r = STORE_USED;
	else if (sqlite3_column_int64(s, SCOL_EXPIRES_AT) <= (int64_t)now)
		r = STORE_EXPIRED;
	else if (store_col_user(s, who) == 0)
		r = STORE_OK;
out:
	store_reset(st, STMT_NONCE_GET);
	return r;
}

enum store_result
store_nonce_start(struct store *st,
    const unsigned char nonce_hash[CRYPTO_HASHLEN], time_t now,
    const unsigned char state_hash[CRYPTO_HASHLEN],
    const unsigned char cookie_hash[CRYPTO_HASHLEN],
    const char *verifier, time_t expires, struct slack_user *who)
{
	struct store_ad		 ad;
	struct sealed		 v = { NULL, 0 };
	struct slack_user	 u;
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_NONCE_START;
	int			 began = 0;

	if (verifier == NULL ||
	    store_ad_verifier(&ad, state_hash, st->key.id) == -1)
		goto out;
	if (crypto_seal(&st->key, ad.b, ad.len, verifier, strlen(verifier),
	    &v.p, &v.len) == -1) {
		log_error("msg=\"cannot seal verifier\"");
		goto out;
	}
	if (store_begin(st) == -1)
		goto out;
	began = 1;
	if ((r = store_nonce_check(st, nonce_hash, now, &u)) != STORE_OK)
		goto out;
	r = STORE_ERROR;
	if (store_bind_blob(st, id, 1, nonce_hash, CRYPTO_HASHLEN) == -1 ||
	    store_bind_int(st, id, 2, (int64_t)now) == -1 ||
	    store_bind_blob(st, id, 3, state_hash, CRYPTO_HASHLEN) == -1 ||
	    store_bind_blob(st, id, 4, cookie_hash, CRYPTO_HASHLEN) == -1 ||
	    store_bind_blob(st, id, 5, v.p, v.len) == -1 ||
	    store_bind_text(st, id, 6, st->key.id) == -1 ||
	    store_bind_int(st, id, 7, (int64_t)expires) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	if (sqlite3_changes(st->db) == 1)
		r = STORE_OK;
out:
	store_reset(st, id);
	if (began && store_end(st, r == STORE_OK) == -1)
		r = STORE_ERROR;
	if (r == STORE_OK)
		*who = u;
	free(v.p);
	return r;
}

/*
 * Inside store_state_take's transaction: looks the state up and decides,
 * without changing anything.  Returns STORE_OK with *who and *verifier,
 * or STORE_NOTFOUND, STORE_USED, STORE_EXPIRED, STORE_MISMATCH,
 * STORE_BADKEY, STORE_ERROR.
 */
static enum store_result
store_state_check(struct store *st,
    const unsigned char state_hash[CRYPTO_HASHLEN],
    const unsigned char cookie_hash[CRYPTO_HASHLEN], time_t now,
    struct slack_user *who, char **verifier)
{
	sqlite3_stmt		*s = st->stmt[STMT_STATE_GET];
	struct store_ad		 ad;
	enum store_result	 r = STORE_ERROR;
	size_t			 len;
	int			 rc;

	if (store_bind_blob(st, STMT_STATE_GET, 1, state_hash,
	    CRYPTO_HASHLEN) == -1 ||
	    (rc = store_step(st, STMT_STATE_GET)) == -1)
		goto out;
	r = STORE_NOTFOUND;
	if (rc == SQLITE_DONE)
		goto out;
	r = STORE_USED;
	if (sqlite3_column_type(s, SCOL_CONSUMED_AT) != SQLITE_NULL)
		goto out;
	r = STORE_EXPIRED;
	if (sqlite3_column_int64(s, SCOL_EXPIRES_AT) <= (int64_t)now)
		goto out;
	r = STORE_MISMATCH;
	if (sqlite3_column_bytes(s, SCOL_COOKIE_HASH) != CRYPTO_HASHLEN ||
	    !crypto_equal(sqlite3_column_blob(s, SCOL_COOKIE_HASH),
	    cookie_hash, CRYPTO_HASHLEN))
		goto out;
	r = STORE_BADKEY;
	if (!store_col_is_key(st, s, SCOL_KEY_ID)) {
		log_error("msg=\"login state sealed under another key\"");
		goto out;
	}
	r = STORE_ERROR;
	if (store_ad_verifier(&ad, state_hash, st->key.id) == -1 ||
	    store_col_user(s, who) == -1)
		goto out;
	rc = crypto_open(&st->key, ad.b, ad.len,
	    sqlite3_column_blob(s, SCOL_VERIFIER_CT),
	    (size_t)sqlite3_column_bytes(s, SCOL_VERIFIER_CT), verifier,
	    &len);
	if (rc == -2) {
		log_error("msg=\"out of memory\"");
		goto out;
	} else if (rc != 0) {
		r = STORE_BADKEY;
		log_error("msg=\"sealed verifier does not open: altered or "
		    "wrong key\"");
		goto out;
	}
	r = STORE_OK;
out:
	store_reset(st, STMT_STATE_GET);
	return r;
}

enum store_result
store_state_take(struct store *st,
    const unsigned char state_hash[CRYPTO_HASHLEN],
    const unsigned char cookie_hash[CRYPTO_HASHLEN], time_t now,
    struct slack_user *who, char **verifier)
{
	struct slack_user	 u;
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_STATE_USE;
	char			*v = NULL;
	int			 began = 0;

	*verifier = NULL;
	/* The check and the consumption share one write transaction, so of
	 * concurrent callers exactly one sees the state unused. */
	if (store_begin(st) == -1)
		goto out;
	began = 1;
	r = store_state_check(st, state_hash, cookie_hash, now, &u, &v);
	if (r != STORE_OK)
		goto out;
	r = STORE_ERROR;
	if (store_bind_blob(st, id, 1, state_hash, CRYPTO_HASHLEN) == -1 ||
	    store_bind_int(st, id, 2, (int64_t)now) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	if (sqlite3_changes(st->db) == 1)
		r = STORE_OK;
out:
	store_reset(st, id);
	if (began && store_end(st, r == STORE_OK) == -1)
		r = STORE_ERROR;
	if (r == STORE_OK) {
		*who = u;
		*verifier = v;
		v = NULL;
	}
	crypto_free_secret(v);
	return r;
}

/* --- Replays and purging ---------------------------------------------- */

static int	store_purge_locked(struct store *, time_t);

enum store_result
store_replay_add(struct store *st,
    const unsigned char sig_hash[CRYPTO_HASHLEN], time_t now,
    time_t expires)
{
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_REPLAY_ADD;

	pthread_mutex_lock(&store_writer);
	if (store_bind_blob(st, id, 1, sig_hash, CRYPTO_HASHLEN) == -1 ||
	    store_bind_int(st, id, 2, (int64_t)expires) == -1 ||
	    store_bind_int(st, id, 3, (int64_t)now) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	/* No change: the hash is there and has not expired. */
	r = sqlite3_changes(st->db) == 1 ? STORE_OK : STORE_EXISTS;
out:
	store_reset(st, id);
	/* Purge on the first insert and every STORE_PURGE_EVERY after, so
	 * the table stays small without a separate job.  A failed purge is
	 * logged and does not undo the insert. */
	if (r == STORE_OK && st->nreplay++ % STORE_PURGE_EVERY == 0)
		(void)store_purge_locked(st, now);
	pthread_mutex_unlock(&store_writer);
	return r;
}

int
store_purge(struct store *st, time_t now)
{
	int	 n;

	pthread_mutex_lock(&store_writer);
	n = store_purge_locked(st, now);
	pthread_mutex_unlock(&store_writer);
	return n;
}

/* store_purge() for a caller that holds store_writer. */
static int
store_purge_locked(struct store *st, time_t now)
{
	int	 n = -1;

	if (store_bind_int(st, STMT_PURGE_STATE, 1, (int64_t)now) == -1 ||
	    store_step(st, STMT_PURGE_STATE) == -1)
		goto out;
	n = sqlite3_changes(st->db);
	store_reset(st, STMT_PURGE_STATE);
	if (store_bind_int(st, STMT_PURGE_REPLAY, 1, (int64_t)now) == -1 ||
	    store_step(st, STMT_PURGE_REPLAY) == -1) {
		n = -1;
		goto out;
	}
	n += sqlite3_changes(st->db);
	/* The install flow's states (sql/003_installations.sql). */
	if (store_bind_int(st, STMT_PURGE_ISTATE, 1, (int64_t)now) == -1 ||
	    store_step(st, STMT_PURGE_ISTATE) == -1) {
		n = -1;
		goto out;
	}
	n += sqlite3_changes(st->db);
out:
	store_reset(st, STMT_PURGE_STATE);
	store_reset(st, STMT_PURGE_REPLAY);
	store_reset(st, STMT_PURGE_ISTATE);
	return n;
}

/* --- Slack installations ---------------------------------------------- */

/* Columns of STMT_INSTALL_GET. */
enum {
	ICOL_APP_ID,
	ICOL_TEAM_NAME,
	ICOL_ENTERPRISE_NAME,
	ICOL_BOT_USER_ID,
	ICOL_BOT_ID,
	ICOL_SCOPES,
	ICOL_INSTALLER,
	ICOL_KEY_ID,
	ICOL_BOT_CT,
	ICOL_REFRESH_CT,
	ICOL_EXPIRES_AT,
	ICOL_NEEDS_REINSTALL,
	ICOL_VERSION,
	ICOL_CREATED_AT,
	ICOL_UPDATED_AT
};

/* The two sealed columns, as their associated data names them.  The
 * installation is sealed as the row (enterprise, team, "") through the
 * same helpers as a link's tokens; no link has an empty user, and these
 * column names are not a link's, so neither can open as the other. */
#define STORE_INSTALL_BOT	"install_bot"
#define STORE_INSTALL_REFRESH	"install_refresh"

/*
 * Checks an installation key: both ids NUL-terminated within
 * SLACK_ID_MAX, not both empty.  On success fills *who with it (user
 * "") for the seal helpers and returns 1; else 0 (logged).
 */
static int
store_install_who(const char *ent, const char *team, struct slack_user *who)
{
	memset(who, 0, sizeof(*who));
	if (ent == NULL || team == NULL || strlen(ent) > SLACK_ID_MAX ||
	    strlen(team) > SLACK_ID_MAX || (*ent == '\0' && *team == '\0')) {
		log_error("msg=\"invalid installation key\"");
		return 0;
	}
	memcpy(who->enterprise_id, ent, strlen(ent));
	memcpy(who->team_id, team, strlen(team));
	return 1;
}

/* Binds a time, or SQL NULL for 0 ("never"). */
static int
store_bind_time(struct store *st, enum stmt id, int col, time_t t)
{
	if (t != 0)
		return store_bind_int(st, id, col, (int64_t)t);
	if (sqlite3_bind_null(st->stmt[id], col) != SQLITE_OK)
		return store_bind_fail(st, id);
	return 0;
}

/* An empty string for NULL. */
static const char *
store_str(const char *s)
{
	return s != NULL ? s : "";
}

/* Whether in has what store_install_put needs. */
static int
store_install_complete(const struct store_install *in)
{
	if (in != NULL && in->app_id != NULL && in->bot_user_id != NULL &&
	    in->scopes != NULL && in->bot_token != NULL)
		return 1;
	log_error("msg=\"incomplete installation\"");
	return 0;
}

/* Binds everything STMT_INSTALL_PUT needs.  Returns 0 or -1 (logged). */
static int
store_install_bind_put(struct store *st, const struct store_install *in,
    const struct sealed *bot, const struct sealed *ref, time_t now)
{
	enum stmt	 id = STMT_INSTALL_PUT;

	if (store_bind_text(st, id, 1, in->enterprise_id) == -1 ||
	    store_bind_text(st, id, 2, in->team_id) == -1 ||
	    store_bind_text(st, id, 3, in->app_id) == -1 ||
	    store_bind_text(st, id, 4, store_str(in->team_name)) == -1 ||
	    store_bind_text(st, id, 5, store_str(in->enterprise_name)) == -1 ||
	    store_bind_text(st, id, 6, in->bot_user_id) == -1 ||
	    store_bind_text(st, id, 7, store_str(in->bot_id)) == -1 ||
	    store_bind_text(st, id, 8, in->scopes) == -1 ||
	    store_bind_text(st, id, 9, store_str(in->installer_user_id)) ==
	    -1 ||
	    store_bind_text(st, id, 10, st->key.id) == -1 ||
	    store_bind_blob(st, id, 11, bot->p, bot->len) == -1 ||
	    store_bind_blob(st, id, 12, ref->p, ref->len) == -1 ||
	    store_bind_time(st, id, 13, in->expires_at) == -1 ||
	    store_bind_int(st, id, 14, (int64_t)now) == -1)
		return -1;
	return 0;
}

enum store_result
store_install_put(struct store *st, const struct store_install *in)
{
	struct slack_user	 who;
	struct sealed		 bot = { NULL, 0 }, ref = { NULL, 0 };
	enum store_result	 r = STORE_ERROR;
	int			 began = 0;

	if (!store_install_complete(in) ||
	    !store_install_who(in->enterprise_id, in->team_id, &who))
		goto out;
	/* Seal first: the write lock is then held only for the SQL. */
	if (store_seal_token(st, &who, STORE_INSTALL_BOT, in->bot_token,
	    &bot) == -1 ||
	    (in->refresh_token != NULL && store_seal_token(st, &who,
	    STORE_INSTALL_REFRESH, in->refresh_token, &ref) == -1))
		goto out;
	if (store_write_begin(st) == -1)
		goto out;
	began = 1;
	if (store_install_bind_put(st, in, &bot, &ref, time(NULL)) == -1 ||
	    store_step(st, STMT_INSTALL_PUT) == -1)
		goto out;
	r = STORE_OK;
out:
	store_reset(st, STMT_INSTALL_PUT);
	if (began && store_write_end(st, r == STORE_OK) == -1)
		r = STORE_ERROR;
	free(bot.p);
	free(ref.p);
	return r;
}

void
store_install_free(struct store_install *in)
{
	if (in == NULL)
		return;
	free(in->app_id);
	free(in->team_name);
	free(in->enterprise_name);
	free(in->bot_user_id);
	free(in->bot_id);
	free(in->scopes);
	free(in->installer_user_id);
	crypto_free_secret(in->bot_token);
	crypto_free_secret(in->refresh_token);
	memset(in, 0, sizeof(*in));
}

/* Fills out from the row STMT_INSTALL_GET is on (who names it).
 * Returns STORE_OK, STORE_BADKEY or STORE_ERROR; out may be half filled
 * on failure. */
static enum store_result
store_install_read(struct store *st, const struct slack_user *who,
    struct store_install *out)
{
	sqlite3_stmt		*s = st->stmt[STMT_INSTALL_GET];
	enum store_result	 r;

	if (!store_col_is_key(st, s, ICOL_KEY_ID)) {
		log_error("key_id=%s msg=\"installation sealed under another "
		    "key\"", st->key.id);
		return STORE_BADKEY;
	}
	if ((r = store_open_token(st, s, ICOL_BOT_CT, who, STORE_INSTALL_BOT,
	    &out->bot_token)) != STORE_OK)
		return r;
	if (sqlite3_column_type(s, ICOL_REFRESH_CT) != SQLITE_NULL &&
	    (r = store_open_token(st, s, ICOL_REFRESH_CT, who,
	    STORE_INSTALL_REFRESH, &out->refresh_token)) != STORE_OK)
		return r;
	if ((out->app_id = store_col_dup(s, ICOL_APP_ID)) == NULL ||
	    (out->team_name = store_col_dup(s, ICOL_TEAM_NAME)) == NULL ||
	    (out->enterprise_name = store_col_dup(s,
	    ICOL_ENTERPRISE_NAME)) == NULL ||
	    (out->bot_user_id = store_col_dup(s, ICOL_BOT_USER_ID)) == NULL ||
	    (out->bot_id = store_col_dup(s, ICOL_BOT_ID)) == NULL ||
	    (out->scopes = store_col_dup(s, ICOL_SCOPES)) == NULL ||
	    (out->installer_user_id = store_col_dup(s, ICOL_INSTALLER)) ==
	    NULL)
		return STORE_ERROR;
	/* NULL (never expires) reads as 0. */
	out->expires_at = (time_t)sqlite3_column_int64(s, ICOL_EXPIRES_AT);
	out->needs_reinstall = sqlite3_column_int(s, ICOL_NEEDS_REINSTALL);
	out->version = sqlite3_column_int64(s, ICOL_VERSION);
	out->created_at = (time_t)sqlite3_column_int64(s, ICOL_CREATED_AT);
	out->updated_at = (time_t)sqlite3_column_int64(s, ICOL_UPDATED_AT);
	memcpy(out->enterprise_id, who->enterprise_id,
	    sizeof(out->enterprise_id));
	memcpy(out->team_id, who->team_id, sizeof(out->team_id));
	return STORE_OK;
}

enum store_result
store_install_get(struct store *st, const char *ent, const char *team,
    struct store_install *out)
{
	struct slack_user	 who;
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_INSTALL_GET;
	int			 rc;

	memset(out, 0, sizeof(*out));
	if (!store_install_who(ent, team, &who))
		return STORE_ERROR;
	if (store_bind_text(st, id, 1, ent) == -1 ||
	    store_bind_text(st, id, 2, team) == -1 ||
	    (rc = store_step(st, id)) == -1)
		goto out;
	r = rc == SQLITE_DONE ? STORE_NOTFOUND :
	    store_install_read(st, &who, out);
out:
	store_reset(st, id);
	if (r != STORE_OK)
		store_install_free(out);
	return r;
}

/* Runs STMT_INSTALL_ANY: *any = whether any installation exists.
 * Returns 0 or -1 (logged). */
static int
store_install_any(struct store *st, int *any)
{
	int	 rc;

	rc = store_step(st, STMT_INSTALL_ANY);
	store_reset(st, STMT_INSTALL_ANY);
	if (rc == -1)
		return -1;
	*any = rc == SQLITE_ROW;
	return 0;
}

enum store_result
store_install_find(struct store *st, const char *ent, const char *team,
    struct store_install_ref *out, int *any)
{
	sqlite3_stmt		*s = st->stmt[STMT_INSTALL_FIND];
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_INSTALL_FIND;
	int			 rc;

	memset(out, 0, sizeof(*out));
	if (any != NULL)
		*any = 0;
	if (ent == NULL || team == NULL || *team == '\0') {
		log_error("msg=\"invalid request key\"");
		return STORE_ERROR;
	}
	if (store_bind_text(st, id, 1, ent) == -1 ||
	    store_bind_text(st, id, 2, team) == -1 ||
	    (rc = store_step(st, id)) == -1)
		goto out;
	if (rc == SQLITE_DONE) {
		store_reset(st, id);
		if (any != NULL && store_install_any(st, any) == -1)
			return STORE_ERROR;
		return STORE_NOTFOUND;
	}
	if (store_col_id(s, 0, out->enterprise_id,
	    sizeof(out->enterprise_id)) == -1 ||
	    store_col_id(s, 1, out->team_id, sizeof(out->team_id)) == -1) {
		log_error("msg=\"malformed installation key\"");
		goto out;
	}
	out->expires_at = (time_t)sqlite3_column_int64(s, 2);
	out->rotating = sqlite3_column_int(s, 3);
	out->needs_reinstall = sqlite3_column_int(s, 4);
	if (any != NULL)
		*any = 1;
	r = STORE_OK;
out:
	store_reset(st, id);
	return r;
}

enum store_result
store_install_update_tokens(struct store *st, const char *ent,
    const char *team, int64_t expect, const char *bot_token,
    const char *refresh_token, time_t expires_at)
{
	struct slack_user	 who;
	struct sealed		 bot = { NULL, 0 }, ref = { NULL, 0 };
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_INSTALL_UPDATE;
	int			 began = 0;

	if (!store_install_who(ent, team, &who) || bot_token == NULL)
		goto out;
	if (store_seal_token(st, &who, STORE_INSTALL_BOT, bot_token,
	    &bot) == -1 ||
	    (refresh_token != NULL && store_seal_token(st, &who,
	    STORE_INSTALL_REFRESH, refresh_token, &ref) == -1))
		goto out;
	if (store_write_begin(st) == -1)
		goto out;
	began = 1;
	if (store_bind_text(st, id, 1, ent) == -1 ||
	    store_bind_text(st, id, 2, team) == -1 ||
	    store_bind_blob(st, id, 3, bot.p, bot.len) == -1 ||
	    store_bind_blob(st, id, 4, ref.p, ref.len) == -1 ||
	    store_bind_time(st, id, 5, expires_at) == -1 ||
	    store_bind_int(st, id, 6, (int64_t)time(NULL)) == -1 ||
	    store_bind_int(st, id, 7, expect) == -1 ||
	    store_bind_text(st, id, 8, st->key.id) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	r = sqlite3_changes(st->db) == 1 ? STORE_OK : STORE_CONFLICT;
out:
	store_reset(st, id);
	if (began && store_write_end(st, r == STORE_OK) == -1)
		r = STORE_ERROR;
	free(bot.p);
	free(ref.p);
	return r;
}

enum store_result
store_install_mark_reinstall(struct store *st, const char *ent,
    const char *team, int64_t expect)
{
	struct slack_user	 who;
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_INSTALL_REINSTALL;

	if (!store_install_who(ent, team, &who))
		return STORE_ERROR;
	pthread_mutex_lock(&store_writer);
	if (store_bind_text(st, id, 1, ent) == -1 ||
	    store_bind_text(st, id, 2, team) == -1 ||
	    store_bind_int(st, id, 3, (int64_t)time(NULL)) == -1 ||
	    store_bind_int(st, id, 4, expect) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	r = sqlite3_changes(st->db) == 1 ? STORE_OK : STORE_CONFLICT;
out:
	store_reset(st, id);
	pthread_mutex_unlock(&store_writer);
	return r;
}

enum store_result
store_install_state_add(struct store *st,
    const unsigned char state_hash[CRYPTO_HASHLEN],
    const unsigned char cookie_hash[CRYPTO_HASHLEN], time_t now,
    time_t expires)
{
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_ISTATE_ADD;

	pthread_mutex_lock(&store_writer);
	if (store_bind_blob(st, id, 1, state_hash, CRYPTO_HASHLEN) == -1 ||
	    store_bind_blob(st, id, 2, cookie_hash, CRYPTO_HASHLEN) == -1 ||
	    store_bind_int(st, id, 3, (int64_t)now) == -1 ||
	    store_bind_int(st, id, 4, (int64_t)expires) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	r = STORE_OK;
out:
	store_reset(st, id);
	pthread_mutex_unlock(&store_writer);
	return r;
}

/* Inside store_install_state_take's transaction: looks the state up and
 * decides without changing anything. */
static enum store_result
store_install_state_check(struct store *st,
    const unsigned char state_hash[CRYPTO_HASHLEN],
    const unsigned char cookie_hash[CRYPTO_HASHLEN], time_t now)
{
	sqlite3_stmt		*s = st->stmt[STMT_ISTATE_GET];
	enum store_result	 r = STORE_ERROR;
	int			 rc;

	if (store_bind_blob(st, STMT_ISTATE_GET, 1, state_hash,
	    CRYPTO_HASHLEN) == -1 ||
	    (rc = store_step(st, STMT_ISTATE_GET)) == -1)
		goto out;
	if (rc == SQLITE_DONE)
		r = STORE_NOTFOUND;
	else if (sqlite3_column_type(s, 2) != SQLITE_NULL)
		r = STORE_USED;
	else if (sqlite3_column_int64(s, 1) <= (int64_t)now)
		r = STORE_EXPIRED;
	else if (sqlite3_column_bytes(s, 0) != CRYPTO_HASHLEN ||
	    !crypto_equal(sqlite3_column_blob(s, 0), cookie_hash,
	    CRYPTO_HASHLEN))
		r = STORE_MISMATCH;
	else
		r = STORE_OK;
out:
	store_reset(st, STMT_ISTATE_GET);
	return r;
}

enum store_result
store_install_state_take(struct store *st,
    const unsigned char state_hash[CRYPTO_HASHLEN],
    const unsigned char cookie_hash[CRYPTO_HASHLEN], time_t now)
{
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_ISTATE_USE;
	int			 began = 0;

	/* The check and the consumption share one write transaction, so of
	 * concurrent callers exactly one sees the state unused. */
	if (store_begin(st) == -1)
		goto out;
	began = 1;
	r = store_install_state_check(st, state_hash, cookie_hash, now);
	if (r != STORE_OK)
		goto out;
	r = STORE_ERROR;
	if (store_bind_blob(st, id, 1, state_hash, CRYPTO_HASHLEN) == -1 ||
	    store_bind_int(st, id, 2, (int64_t)now) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	if (sqlite3_changes(st->db) == 1)
		r = STORE_OK;
out:
	store_reset(st, id);
	if (began && store_end(st, r == STORE_OK) == -1)
		r = STORE_ERROR;
	return r;
}

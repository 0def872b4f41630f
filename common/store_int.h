/*
 * store_int.h: the store's own interface between its files, never
 * included outside common/store*.c.  store.h is the store's interface to
 * the rest of forcelink.
 *
 * The store is one file per table family (store_link.c, store_login.c,
 * store_replay.c, store_install.c, store_integ.c, store_action.c), the
 * reports only the
 * admin tool asks for (store_admin.c, store_backup.c), key rotation
 * across all of them (store_rekey.c), the sealing (store_seal.c), the
 * helper family every one of them uses (store.c), which hands each call
 * to the connection's engine, and the choice of engine with opening and
 * closing (store_open.c).
 *
 * Engines.  The table files name statements by id (enum stmt) and read
 * and write them only through the helper family below, so that they do
 * not know which engine runs them; the sealing takes and gives bytes.
 * An engine is a struct store_engine and the SQL of every statement in
 * its dialect:
 *   - SQLite (store_sqlite.c, store_sql.c): a file; also the backup API
 *     (store_backup.c) and the file reports of store_admin.c;
 *   - PostgreSQL (store_pg.c, store_sql_pg.c): a server through libpq,
 *     chosen by a postgresql:// or postgres:// FORCELINK_DB.
 * Both give the same guarantees the table files rely on: a write
 * transaction (store_begin) is the only writer anywhere while it lasts,
 * a single statement is atomic, and a statement's rows stay readable
 * until it is reset.
 */
#ifndef STORE_INT_H
#define STORE_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "config.h"
#include "crypto.h"
#include "keyring.h"
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

/* The two sealed columns, as their associated data names them.  The
 * installation is sealed as the row (enterprise, team, "") through the
 * same helpers as a link's tokens; no link has an empty user, and these
 * column names are not a link's, so neither can open as the other. */
#define STORE_INSTALL_BOT	"install_bot"
#define STORE_INSTALL_REFRESH	"install_refresh"

/* The most links store_list_links() returns: far beyond any workspace,
 * but a ceiling all the same. */
#define STORE_LIST_MAX		1000000

/* A successful replay insert purges expired rows every this many. */
#define STORE_PURGE_EVERY	64

/*
 * The statements.  A SQLite connection prepares all of them once, in
 * store_open(), a PostgreSQL one each when it first runs; both reuse
 * them.  PRAGMA synchronous is not among them:
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
	STMT_REKEY_LINKS,
	STMT_REKEY_LINK_SET,
	STMT_REKEY_STATES,
	STMT_REKEY_STATE_SET,
	STMT_KEY_CENSUS,
	STMT_REKEY_SEARCHES,
	STMT_REKEY_SEARCH_SET,
	STMT_REKEY_INSTALLS,
	STMT_REKEY_INSTALL_SET,
	/* Searches remembered with a login link (sql/002_resume.sql). */
	STMT_NONCE_ADD_SEARCH,
	STMT_SEARCH_GET,
	STMT_SEARCH_CLEAR,
	/* Slack installations (sql/003_installations.sql). */
	STMT_INSTALL_PUT,
	STMT_INSTALL_GET,
	STMT_INSTALL_FIND,
	STMT_INSTALL_UPDATE,
	STMT_INSTALL_KEYID,
	STMT_INSTALL_REINSTALL,
	STMT_ISTATE_ADD,
	STMT_ISTATE_GET,
	STMT_ISTATE_COUNT,
	STMT_ISTATE_DROP,
	STMT_PURGE_ISTATE,
	STMT_NONCE_PEEK,
	STMT_STATE_PEEK,
	STMT_STATE_ADVANCE,
	STMT_STATE_VOID,
	STMT_STATE_BURN,
	STMT_PEND_PUT,
	STMT_PEND_FIND,
	STMT_PEND_CLEAR,
	STMT_PEND_VOID,
	STMT_PEND_MISS,
	STMT_PEND_MISS_VOID,
	STMT_PEND_LEFT,
	STMT_PEND_DUE,
	STMT_PEND_DROP,
	STMT_REKEY_PENDING,
	STMT_REKEY_PENDING_SET,
	/* Salesforce integrations (sql/004_integrations.sql). */
	STMT_WS_LOOKUP,
	STMT_WS_GET,
	STMT_WS_PUT,
	STMT_WS_DEL,
	STMT_WS_LIST,
	STMT_WS_DEL_INTEG,
	STMT_INTEG_GET,
	STMT_INTEG_ADD,
	STMT_INTEG_SET_SECRET,
	STMT_INTEG_EXISTS,
	STMT_INTEG_LIST,
	STMT_INTEG_DEL,
	STMT_LINKS_BY_ORG,
	STMT_LINKS_DEL_ORG,
	STMT_LINK_ORG,
	STMT_STATE_SET_ORG,
	STMT_STATE_ORG,
	STMT_ITOKEN_GET,
	STMT_ITOKEN_INS,
	STMT_ITOKEN_UPD,
	STMT_ITOKEN_DEL,
	STMT_REKEY_INTEG,
	STMT_REKEY_INTEG_SET,
	STMT_REKEY_ITOKEN,
	STMT_REKEY_ITOKEN_SET,
	/* Action rows (sql/006_actions.sql, store_action.c). */
	STMT_ACTION_PUT,
	STMT_ACTION_GET,
	STMT_ACTION_STEP,
	STMT_ACTION_VIEW_OWNER,
	STMT_ACTION_VIEW,
	STMT_ACTION_DROP,
	STMT_PURGE_ACTION,
	STMT_REKEY_ACTIONS,
	STMT_REKEY_ACTION_SET,
	/* What only forcelink-admin asks for (store_admin.c). */
	STMT_LINK_LIST,
	STMT_LINK_REMOVE,
	STMT_STATS_LINKS,
	STMT_STATS_TEAMS,
	STMT_STATS_LOGIN,
	STMT_STATS_REPLAY,
	STMT_STATS_KEYS,
	STMT_PAGE_SIZE,
	STMT_PAGE_COUNT,
	STMT_FREELIST,
	STMT_USER_VERSION,
	STMT_INTEGRITY,
	STMT_LINK_NEWEST,
	STMT_STATS_INSTALLS,
	STMT_STATS_ACTIONS,
	/* Moving a store to another database (store_migrate.c): the rows
	 * of every table, and each table's count; each table read whole,
	 * in its columns' order, and inserted in the same order. */
	STMT_MIG_COUNTS,
	STMT_MIG_READ_LINKS,
	STMT_MIG_PUT_LINKS,
	STMT_MIG_READ_STATES,
	STMT_MIG_PUT_STATES,
	STMT_MIG_READ_REPLAY,
	STMT_MIG_PUT_REPLAY,
	STMT_MIG_READ_INSTALLS,
	STMT_MIG_PUT_INSTALLS,
	STMT_MIG_READ_ISTATES,
	STMT_MIG_PUT_ISTATES,
	STMT_MIG_READ_INTEG,
	STMT_MIG_PUT_INTEG,
	STMT_MIG_READ_WS,
	STMT_MIG_PUT_WS,
	STMT_MIG_READ_ITOKEN,
	STMT_MIG_PUT_ITOKEN,
	STMT_MIG_READ_ACTIONS,
	STMT_MIG_PUT_ACTIONS,
	/* The sealed values of the copy, a page at a time by rowid, for
	 * the check that each opens. */
	STMT_MIG_SEALED_LINKS,
	STMT_MIG_SEALED_STATES,
	STMT_MIG_SEALED_INSTALLS,
	STMT_MIG_SEALED_INTEG,
	STMT_MIG_SEALED_ITOKEN,
	STMT_MIG_SEALED_ACTIONS,
	/* SQLite's count of other connections' commits (none on
	 * PostgreSQL). */
	STMT_MIG_DATA_VERSION,
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

/* Columns of STMT_REKEY_LINKS. */
enum {
	RLCOL_ROWID,
	RLCOL_ENTERPRISE_ID,
	RLCOL_TEAM_ID,
	RLCOL_USER_ID,
	RLCOL_KEY_ID,
	RLCOL_ACCESS_CT,
	RLCOL_REFRESH_CT,
	RLCOL_VERSION
};

/* Columns of STMT_REKEY_STATES. */
enum {
	RSCOL_ROWID,
	RSCOL_STATE_HASH,
	RSCOL_KEY_ID,
	RSCOL_VERIFIER_CT
};

/* Columns of STMT_REKEY_SEARCHES. */
enum {
	RQCOL_ROWID,
	RQCOL_NONCE_HASH,
	RQCOL_KEY_ID,
	RQCOL_TEXT_CT,
	RQCOL_URL_CT
};

/* Columns of STMT_REKEY_INSTALLS. */
enum {
	RICOL_ROWID,
	RICOL_ENTERPRISE_ID,
	RICOL_TEAM_ID,
	RICOL_KEY_ID,
	RICOL_BOT_CT,
	RICOL_REFRESH_CT,
	RICOL_VERSION
};

/* Columns of STMT_NONCE_GET, STMT_NONCE_PEEK (the first five, then the
 * names) and STMT_STATE_GET. */
enum {
	SCOL_ENTERPRISE_ID,
	SCOL_TEAM_ID,
	SCOL_USER_ID,
	SCOL_EXPIRES_AT,
	SCOL_CONSUMED_AT,	/* started_at or used_at */
	SCOL_COOKIE_HASH,
	SCOL_KEY_ID,
	SCOL_VERIFIER_CT,
	SCOL_LEG
};
enum {
	NCOL_TEAM_DOMAIN = SCOL_COOKIE_HASH,
	NCOL_USER_NAME
};

/* Columns of STMT_STATE_PEEK. */
enum {
	PKCOL_LEG,
	PKCOL_TEAM_DOMAIN,
	PKCOL_USER_NAME,
	PKCOL_NONCE_HASH
};

/* Columns of STMT_PEND_FIND and STMT_PEND_DUE. */
enum {
	PCOL_ENTERPRISE_ID,	/* the first three as SCOL_ */
	PCOL_TEAM_ID,
	PCOL_USER_ID,
	PCOL_EXPIRES_AT,
	PCOL_NONCE_HASH,
	PCOL_STATE_HASH,
	PCOL_ORG,
	PCOL_SF_USER_ID,
	PCOL_SF_ORG_ID,
	PCOL_SF_USERNAME,
	PCOL_INSTANCE_URL,
	PCOL_KEY_ID,
	PCOL_ACCESS_CT,
	PCOL_REFRESH_CT
};

/* Columns of STMT_SEARCH_GET. */
enum {
	RCOL_NONCE_HASH,
	RCOL_CREATED_AT,
	RCOL_KEY_ID,
	RCOL_TEXT_CT,
	RCOL_URL_CT,
	RCOL_COMMAND
};

/* Columns of STMT_ACTION_GET. */
enum {
	XCOL_KIND,
	XCOL_ENTERPRISE_ID,
	XCOL_TEAM_ID,
	XCOL_USER_ID,
	XCOL_VIEW_ID,
	XCOL_STATE,
	XCOL_KEY_ID,
	XCOL_DATA_CT,
	XCOL_CREATED_AT,
	XCOL_EXPIRES_AT
};

/* Columns of STMT_REKEY_ACTIONS. */
enum {
	RXCOL_ROWID,
	RXCOL_KEY_HASH,
	RXCOL_KEY_ID,
	RXCOL_DATA_CT
};

/* The sealed column of an action row, as its associated data names it. */
#define STORE_ACTION_DATA	"data_ct"

/*
 * The columns store_migrate.c copies, per table: every column of the
 * table in the order of its CREATE TABLE and ALTER TABLEs, the same on
 * both engines, except PostgreSQL's rowid (an identity column the target
 * numbers itself).  STMT_MIG_READ_* select them in this order and
 * STMT_MIG_PUT_* insert them in this order ($1 or ?1 the first); the
 * kinds say how each is read and bound: T text, I integer, B blob.
 * test_store_migrate checks that each list is the whole table.
 */
#define STORE_MIG_LINKS_COLS \
	"enterprise_id, team_id, user_id, org, sf_user_id, sf_org_id, " \
	"sf_username, instance_url, key_id, access_token_ct, " \
	"refresh_token_ct, version, created_at, updated_at, last_used_at"
#define STORE_MIG_LINKS_KINDS		"TTTTTTTTTBBIIII"
#define STORE_MIG_STATES_COLS \
	"nonce_hash, enterprise_id, team_id, user_id, created_at, " \
	"expires_at, started_at, state_hash, cookie_hash, verifier_ct, " \
	"key_id, used_at, search_ct, search_url_ct, search_key_id, org, " \
	"team_domain, user_name, leg, pend_org, pend_sf_user_id, " \
	"pend_sf_org_id, pend_sf_username, pend_instance_url, pend_key_id, " \
	"pend_access_ct, pend_refresh_ct, confirm_hash, confirm_tries, " \
	"search_command"
#define STORE_MIG_STATES_KINDS		"BTTTIIIBBBTIBBTTTTTTTTTTTBBBIT"
#define STORE_MIG_REPLAY_COLS		"sig_hash, expires_at"
#define STORE_MIG_REPLAY_KINDS		"BI"
#define STORE_MIG_INSTALLS_COLS \
	"enterprise_id, team_id, app_id, team_name, enterprise_name, " \
	"bot_user_id, bot_id, scopes, installer_user_id, key_id, " \
	"bot_token_ct, refresh_token_ct, token_expires_at, " \
	"needs_reinstall, version, created_at, updated_at"
#define STORE_MIG_INSTALLS_KINDS	"TTTTTTTTTTBBIIIII"
#define STORE_MIG_ISTATES_COLS \
	"state_hash, cookie_hash, created_at, expires_at, used_at"
#define STORE_MIG_ISTATES_KINDS		"BBIII"
#define STORE_MIG_INTEG_COLS \
	"name, login_url, client_id, key_id, client_secret_ct, " \
	"api_version, integration_user, created_at"
#define STORE_MIG_INTEG_KINDS		"TTTTBTII"
#define STORE_MIG_WS_COLS		"kind, slack_id, integration, updated_at"
#define STORE_MIG_WS_KINDS		"TTTI"
#define STORE_MIG_ITOKEN_COLS \
	"integration, sf_user_id, sf_org_id, sf_username, instance_url, " \
	"key_id, access_token_ct, version, fetched_at"
#define STORE_MIG_ITOKEN_KINDS		"TTTTTTBII"
#define STORE_MIG_ACTIONS_COLS \
	"key_hash, kind, enterprise_id, team_id, user_id, view_id, state, " \
	"key_id, data_ct, created_at, expires_at"
#define STORE_MIG_ACTIONS_KINDS		"BITTTTITBII"


struct store_pg;

/*
 * An engine: what the helper family of store.c hands each call to.  The
 * calls mean what the helpers of the same name below say; begin and end
 * take whether the transaction writes a token (durable), writer_lock and
 * writer_unlock bracket a single statement that writes, lock_try and
 * lock_release are store_lock_try()'s (store.h) on a 32-bit key.
 */
struct store_engine {
	const char	*name;		/* "sqlite", "postgresql" */
	void		 (*close)(struct store *);
	void		 (*reset)(struct store *, enum stmt);
	int		 (*step)(struct store *, enum stmt);
	int		 (*bind_text)(struct store *, enum stmt, int,
			    const char *);
	int		 (*bind_blob)(struct store *, enum stmt, int,
			    const void *, size_t);
	int		 (*bind_int)(struct store *, enum stmt, int, int64_t);
	const char	*(*col_text)(struct store *, enum stmt, int);
	int64_t		 (*col_int)(struct store *, enum stmt, int);
	const unsigned char *(*col_bytes)(struct store *, enum stmt, int,
			    size_t *);
	int		 (*col_null)(struct store *, enum stmt, int);
	int64_t		 (*changes)(struct store *);
	int		 (*busy_failed)(struct store *);
	int		 (*begin)(struct store *, int);
	int		 (*end)(struct store *, int, int);
	void		 (*writer_lock)(struct store *);
	void		 (*writer_unlock)(struct store *);
	int		 (*lock_try)(struct store *, uint32_t);
	void		 (*lock_release)(struct store *, uint32_t);
};
extern const struct store_engine	 store_sqlite_engine;
extern const struct store_engine	 store_pg_engine;

/* Named locks one connection holds at once (its fibers', store_lock_try). */
#define STORE_HELD_MAX	64

struct store {
	const struct store_engine *eng;
	sqlite3			*db;		/* SQLite's */
	sqlite3_stmt		*stmt[STMT__MAX];
	struct store_pg		*pg;		/* PostgreSQL's */
	char			*where;		/* for logs: path or host */
	struct keyring		*kr;		/* the keys, maybe shared */
	struct keyring		*own_kr;	/* kr, when store_open made it */
	struct keyring_snap	*keys;		/* kr's keys as last seen */
	unsigned int		 nreplay;	/* replay inserts so far */
	int			 busy_cap_ms;	/* current cap of store_busy */
	long			 busy_waited_us; /* in the current wait */
	int			 ckpt_due;	/* the WAL is long: checkpoint
						   once the writer is done */
	enum store_result	 last_fail;	/* of the last failed call:
						   STORE_BUSY or STORE_ERROR;
						   STORE_OK once cleared */
	int			 lock_fd;	/* SQLite's refresh lock file,
						   -1 until first used */
	uint32_t		 held[STORE_HELD_MAX]; /* named locks' keys */
	int			 nheld;
	/* store_action.c: rows of this thread's fibers to be written in
	 * one transaction, and whether a fiber is gathering them. */
	struct store_action_row	*arows, **arows_tail;
	int			 agroup;
	long			 agroups;	/* transactions so far */
};

/* One slack_action row waiting for its group's transaction
 * (store_action.c); on its writer's stack. */
struct store_action_row {
	const struct slack_user	*who;
	enum store_action_kind	 kind;
	const char		*data;
	time_t			 expires;
	unsigned char		 h[CRYPTO_HASHLEN];
	struct fiber		*waiter;
	enum store_result	 r;
	int			 done;
	struct store_action_row	*next;
};

/* One writer at a time per process (see the top of store_sqlite.c). */
extern pthread_mutex_t	 store_writer;

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

/* One row of a rekey batch: what it was read as, and its new seals. */
struct store_rekey_row {
	struct slack_user	 who;		/* links */
	char			 name[CONFIG_ORG_NAME_MAX + 1]; /* integ. */
	unsigned char		 state_hash[CRYPTO_HASHLEN]; /* states */
	int64_t			 version;	/* links */
	char			 old_id[CRYPTO_KEYID_LEN + 1];
	struct sealed		 old_a, old_b;	/* as read */
	struct sealed		 new_a, new_b;	/* under new_id */
};

struct store_rekey {
	enum store_rekey_table	 table;
	char			 new_id[CRYPTO_KEYID_LEN + 1];
	size_t			 n, cap;
	struct store_rekey_row	*rows;
};

/* The SQL of statement id, and its name for logs (store_sql.c). */
struct store_sql {
	const char	*name;
	const char	*sql;
};
extern const struct store_sql	 store_stmts[STMT__MAX];
/* The same in PostgreSQL's dialect (store_sql_pg.c); a NULL sql is a
 * statement PostgreSQL does not have (SQLite's PRAGMAs). */
extern const struct store_sql	 store_stmts_pg[STMT__MAX];

/* --- store.c: statements --------------------------------------------- *
 *
 * The one helper family every table file uses: a statement is named by
 * its id, never by an engine's handle, so that the table files do not
 * depend on the engine.
 */

/* What store_step() returns besides -1. */
#define STORE_ROW	100	/* on a row: read its columns (SQLITE_ROW) */
#define STORE_DONE	101	/* no (more) rows (SQLITE_DONE) */

/* Statement id's reset and its bindings dropped; safe at any time. */
void		 store_reset(struct store *, enum stmt);
/* One step: STORE_ROW or STORE_DONE, or -1 (logged).  The caller
 * resets. */
int		 store_step(struct store *, enum stmt);
/* A statement without rows, stepped and reset: 0 or -1 (logged). */
int		 store_run(struct store *, enum stmt);
/* Rows the last statement of the connection inserted, changed or
 * deleted. */
int64_t		 store_changes(struct store *);
/* The outcome of the last failed call: STORE_BUSY or STORE_ERROR
 * (st->last_fail, which a caller may clear to STORE_OK first). */
enum store_result store_failure(const struct store *);
/* Binds to parameter col (from 1); each returns 0, or -1 after logging.
 * A NULL text or blob binds SQL NULL; store_bind_user binds enterprise,
 * team and user to 1, 2 and 3. */
int		 store_bind_text(struct store *, enum stmt, int, const char *);
int		 store_bind_blob(struct store *, enum stmt, int, const void *,
		    size_t);
int		 store_bind_int(struct store *, enum stmt, int, int64_t);
int		 store_bind_null(struct store *, enum stmt, int);
int		 store_bind_user(struct store *, enum stmt,
		    const struct slack_user *);
/* Whether who can be a key (fields terminated, team and user set). */
int		 store_who_ok(const struct slack_user *);
/*
 * Columns (from 0) of the row statement id is on, valid until it steps
 * or resets: a text (NULL for SQL NULL), an integer (0 for NULL), a blob
 * and its length (NULL for NULL or empty), whether it is NULL; an id
 * copied into a buffer (0, or -1 when NULL or too long), the Slack user
 * of a login_state row (SCOL_*), an allocated copy of a text, an
 * allocated copy of a sealed value (-1 when NULL or empty).
 */
const char	*store_col_text(struct store *, enum stmt, int);
int64_t		 store_col_int(struct store *, enum stmt, int);
const unsigned char *store_col_bytes(struct store *, enum stmt, int,
		    size_t *);
int		 store_col_null(struct store *, enum stmt, int);
int		 store_col_id(struct store *, enum stmt, int, char *, size_t);
int		 store_col_user(struct store *, enum stmt, struct slack_user *);
char		*store_col_dup(struct store *, enum stmt, int);
int		 store_col_sealed(struct store *, enum stmt, int,
		    struct sealed *);
/* A token of who in a blob column, opened with key k (store_seal.c's
 * store_open_token). */
enum store_result store_col_token(struct store *, enum stmt, int,
		    const struct crypto_key *, const struct slack_user *,
		    const char *, char **);

/* --- store.c: keys and transactions ----------------------------------- */

/* The keys brought up to date with the keyring; the key new seals use;
 * the key a row's key id (text column col) names (NULL: logged, naming
 * what). */
void		 store_keys(struct store *);
const struct crypto_key *store_key_current(const struct store *);
const struct crypto_key *store_key_find(struct store *, enum stmt, int,
		    const char *);
/* A write transaction, the only writer anywhere while it lasts, and its
 * end (commit or roll back): 0 or -1 (logged); the write_ pair also
 * makes the commit durable (it writes a token). */
int		 store_begin(struct store *);
int		 store_end(struct store *, int);
int		 store_write_begin(struct store *);
int		 store_write_end(struct store *, int);
/* Around a single statement that writes: on SQLite the process's writer
 * mutex (writers queue on it, not on the file lock); nothing on
 * PostgreSQL, where a statement waits for its rows' locks itself. */
void		 store_writer_lock(struct store *);
void		 store_writer_unlock(struct store *);
/* Whether the connection is SQLite's (store_admin.c, store_backup.c). */
int		 store_is_sqlite(const struct store *);

/* --- store_sqlite.c: what only SQLite's connection has ----------------- */

/* PRAGMA synchronous, outside a transaction; an SQL script on a file
 * (what names it for the log): each 0 or -1 (logged). */
int		 store_sync(struct store *, const char *);
int		 store_exec(sqlite3 *, const char *, const char *);
/* The file at path opened for st, read-write (created, migrated) or
 * read-only (this very schema only): 0, or -1 (logged; the caller
 * closes st). */
int		 store_sqlite_open(struct store *, const char *);
int		 store_sqlite_open_readonly(struct store *, const char *);
/* SQLite statement id of st, prepared on its first use; NULL (logged)
 * when it cannot be. */
sqlite3_stmt	*store_sqlite_stmt(struct store *, enum stmt);

/* --- store_pg.c --------------------------------------------------------- */

/* Connects st to the server of URI uri and migrates; with deferred, tries
 * to connect and does not fail when it cannot (the first call tries
 * again): 0, or -1 (logged; the caller closes st). */
int		 store_pg_open(struct store *, const char *, int);

/* --- store_seal.c ------------------------------------------------------ *
 *
 * Engine-independent: what is sealed and opened are bytes, and the
 * associated data names the row, never where it is kept.
 */

/* Associated data: the tag and the fields; a token's (row, which, key
 * id); a verifier's (state hash, key id); a search's or pending link's
 * (nonce hash, column, key id); an integration's (name, column, key id);
 * an action row's (key hash, column, key id).
 * Each returns 0, or -1 (logged). */
int		 store_ad_fields(struct store_ad *, const char *const *,
		    size_t);
int		 store_ad_token(struct store_ad *, const struct slack_user *,
		    const char *, const char *);
int		 store_ad_verifier(struct store_ad *,
		    const unsigned char [CRYPTO_HASHLEN], const char *);
int		 store_ad_search(struct store_ad *,
		    const unsigned char [CRYPTO_HASHLEN], const char *,
		    const char *);
int		 store_ad_integ(struct store_ad *, const char *, const char *,
		    const char *);
/* An action row's (key hash, column, key id). */
int		 store_ad_action(struct store_ad *,
		    const unsigned char [CRYPTO_HASHLEN], const char *,
		    const char *);
/* The one seal and the one open, under key k with associated data ad:
 * 0 or -1; STORE_OK (and an allocated plaintext: crypto_free_secret),
 * STORE_BADKEY or STORE_ERROR; failures logged naming what. */
int		 store_seal_value(const struct crypto_key *,
		    const struct store_ad *, const char *, struct sealed *,
		    const char *);
enum store_result store_open_value(const struct crypto_key *,
		    const struct store_ad *, const unsigned char *, size_t,
		    char **, const char *);
/* The same for each kind of row, building its associated data. */
int		 store_seal_token(const struct crypto_key *,
		    const struct slack_user *, const char *, const char *,
		    struct sealed *);
enum store_result store_open_token(const struct crypto_key *,
		    const unsigned char *, size_t, const struct slack_user *,
		    const char *, char **);
int		 store_seal_verifier(const struct crypto_key *,
		    const unsigned char [CRYPTO_HASHLEN], const char *,
		    struct sealed *);
enum store_result store_open_verifier(const struct crypto_key *,
		    const unsigned char *, size_t,
		    const unsigned char [CRYPTO_HASHLEN], char **);
int		 store_seal_search(const struct crypto_key *,
		    const unsigned char [CRYPTO_HASHLEN], const char *,
		    const char *, struct sealed *);
enum store_result store_open_search(const struct crypto_key *,
		    const unsigned char *, size_t,
		    const unsigned char [CRYPTO_HASHLEN], const char *, char **);
int		 store_seal_integ(const struct crypto_key *, const char *,
		    const char *, const char *, struct sealed *);
enum store_result store_open_integ(const struct crypto_key *,
		    const unsigned char *, size_t, const char *, const char *,
		    char **);
int		 store_seal_action(const struct crypto_key *,
		    const unsigned char [CRYPTO_HASHLEN], const char *,
		    struct sealed *);
enum store_result store_open_action(const struct crypto_key *,
		    const unsigned char *, size_t,
		    const unsigned char [CRYPTO_HASHLEN], char **);
/* A value opened under k (ad_old) and sealed again under cur (ad_new):
 * 0, or -1 with *open_failed set when it did not open. */
int		 store_reseal(const struct crypto_key *, const struct crypto_key *,
		    const struct store_ad *, const struct store_ad *,
		    const struct sealed *, struct sealed *, int *);

/* --- Shared between the table families -------------------------------- */

/* store_link.c: a link with every field set; the write of one (the
 * caller holds the transaction), *old the refresh token it replaced. */
int		 store_link_complete(const struct store_link *);
enum store_result store_link_write(struct store *, const struct slack_user *,
		    const struct store_link *, char **);
/* store_admin.c: a link row into l, of statement id (STMT_LINK_LIST's
 * columns); growth of a list by one. */
int		 store_link_info_read(struct store *, enum stmt,
		    struct store_link_info *);
int		 store_link_list_grow(struct store_link_list *, size_t *);

#endif /* STORE_INT_H */

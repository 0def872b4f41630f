/*
 * store: everything forcelink keeps, in one SQLite file (see store.h).
 *
 * This is the only file that includes sqlite3.h.  It owns the connection
 * settings, the migrations (sql/NNN_*.sql compiled into schema.c), the
 * fixed array of statements every connection prepares once, and the
 * sealing of tokens, verifiers and remembered searches with their
 * associated data.
 *
 * Keys: a connection follows its program's keyring (keyring.h).  A row is
 * opened with the key its key id names, and every seal uses the key that
 * is current once the write transaction holds the lock (store_keys()), so
 * that a key rotation (rekey.c) knows when no row can appear under an old
 * key any more.  The re-sealing of a rotation is here too, since it needs
 * the statements and the associated data.
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
#include "keyring.h"
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
	STMT_INSTALL_ANY,
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
	RCOL_URL_CT
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
	/* ?9 is the key id the row was read with: a NULL ?5 keeps the
	 * refresh token, which must then be sealed under ?8 already. */
	[STMT_LINK_UPDATE] = { "link_update",
	    "UPDATE sf_link SET key_id = ?8, access_token_ct = ?4, "
	    "refresh_token_ct = coalesce(?5, refresh_token_ct), "
	    "version = version + 1, updated_at = ?6 "
	    "WHERE enterprise_id = ?1 AND team_id = ?2 AND user_id = ?3 "
	    "AND version = ?7 AND key_id = ?9" },
	/* ?4 to ?11: the ids of the keys held (KEYRING_MAX), NULL where
	 * there are fewer; a NULL never matches. */
	[STMT_LINK_DELETE] = { "link_delete",
	    "DELETE FROM sf_link "
	    "WHERE enterprise_id = ?1 AND team_id = ?2 AND user_id = ?3 "
	    "AND key_id IN (?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
	    "AND (?12 < 0 OR version = ?12)" },
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
	    "expires_at = ?7, leg = ?8 "
	    "WHERE nonce_hash = ?1 AND started_at IS NULL" },
	[STMT_STATE_GET] = { "state_get",
	    "SELECT enterprise_id, team_id, user_id, expires_at, used_at, "
	    "cookie_hash, key_id, verifier_ct, coalesce(leg, 'salesforce') "
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
	/* A row with a pending link is left to store_pending_due(): its
	 * tokens must be revoked at Salesforce before they are dropped. */
	[STMT_PURGE_STATE] = { "purge_state",
	    "DELETE FROM login_state WHERE expires_at <= ?1 "
	    "AND pend_refresh_ct IS NULL" },
	[STMT_PURGE_REPLAY] = { "purge_replay",
	    "DELETE FROM slack_replay WHERE expires_at <= ?1" },
	/*
	 * Key rotation.  The rows not sealed under key ?1, in rowid order
	 * after ?2; a changed row is written back only while it is still
	 * exactly as read (version, key and both ciphertexts), so a
	 * refresh, relink or logout in between always wins.  The version
	 * stays: re-sealing changes no token.
	 */
	[STMT_REKEY_LINKS] = { "rekey_links",
	    "SELECT rowid, enterprise_id, team_id, user_id, key_id, "
	    "access_token_ct, refresh_token_ct, version FROM sf_link "
	    "WHERE key_id <> ?1 AND rowid > ?2 ORDER BY rowid LIMIT ?3" },
	[STMT_REKEY_LINK_SET] = { "rekey_link_set",
	    "UPDATE sf_link SET key_id = ?4, access_token_ct = ?5, "
	    "refresh_token_ct = ?6 "
	    "WHERE enterprise_id = ?1 AND team_id = ?2 AND user_id = ?3 "
	    "AND version = ?7 AND key_id = ?8 AND access_token_ct = ?9 "
	    "AND refresh_token_ct = ?10" },
	[STMT_REKEY_STATES] = { "rekey_states",
	    "SELECT rowid, state_hash, key_id, verifier_ct FROM login_state "
	    "WHERE verifier_ct IS NOT NULL AND "
	    "(key_id IS NULL OR key_id <> ?1) AND rowid > ?2 "
	    "ORDER BY rowid LIMIT ?3" },
	[STMT_REKEY_STATE_SET] = { "rekey_state_set",
	    "UPDATE login_state SET key_id = ?2, verifier_ct = ?3 "
	    "WHERE state_hash = ?1 AND key_id = ?4 AND verifier_ct = ?5" },
	[STMT_KEY_CENSUS] = { "key_census",
	    "SELECT key_id, sum(l), sum(s), sum(i) FROM ("
	    "SELECT key_id, 1 AS l, 0 AS s, 0 AS i FROM sf_link UNION ALL "
	    "SELECT key_id, 0, 1, 0 FROM login_state "
	    "WHERE verifier_ct IS NOT NULL UNION ALL "
	    "SELECT search_key_id, 0, 1, 0 FROM login_state "
	    "WHERE search_ct IS NOT NULL UNION ALL "
	    "SELECT pend_key_id, 0, 1, 0 FROM login_state "
	    "WHERE pend_refresh_ct IS NOT NULL UNION ALL "
	    "SELECT key_id, 1, 0, 0 FROM slack_install UNION ALL "
	    "SELECT key_id, 0, 0, 1 FROM sf_integration UNION ALL "
	    "SELECT key_id, 0, 0, 1 FROM integration_token) "
	    "GROUP BY key_id ORDER BY key_id" },
	/* A Slack installation (sql/003_installations.sql): its bot token
	 * and, with token rotation, its refresh token. */
	[STMT_REKEY_INSTALLS] = { "rekey_installs",
	    "SELECT rowid, enterprise_id, team_id, key_id, bot_token_ct, "
	    "refresh_token_ct, version FROM slack_install "
	    "WHERE key_id <> ?1 AND rowid > ?2 ORDER BY rowid LIMIT ?3" },
	[STMT_REKEY_INSTALL_SET] = { "rekey_install_set",
	    "UPDATE slack_install SET key_id = ?3, bot_token_ct = ?4, "
	    "refresh_token_ct = ?5 "
	    "WHERE enterprise_id = ?1 AND team_id = ?2 AND version = ?6 "
	    "AND key_id = ?7 AND bot_token_ct = ?8 "
	    "AND refresh_token_ct IS ?9" },
	/* A remembered search (sql/002_resume.sql): both of its sealed
	 * values, which share search_key_id, by the row's nonce hash. */
	[STMT_REKEY_SEARCHES] = { "rekey_searches",
	    "SELECT rowid, nonce_hash, search_key_id, search_ct, "
	    "search_url_ct FROM login_state WHERE search_ct IS NOT NULL AND "
	    "(search_key_id IS NULL OR search_key_id <> ?1) AND rowid > ?2 "
	    "ORDER BY rowid LIMIT ?3" },
	[STMT_REKEY_SEARCH_SET] = { "rekey_search_set",
	    "UPDATE login_state SET search_key_id = ?2, search_ct = ?3, "
	    "search_url_ct = ?4 WHERE nonce_hash = ?1 AND search_key_id = ?5 "
	    "AND search_ct = ?6 AND search_url_ct = ?7" },
	[STMT_NONCE_ADD_SEARCH] = { "nonce_add_search",
	    "INSERT INTO login_state (enterprise_id, team_id, user_id, "
	    "nonce_hash, created_at, expires_at, search_ct, search_url_ct, "
	    "search_key_id, team_domain, user_name) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)" },
	[STMT_SEARCH_GET] = { "search_get",
	    "SELECT nonce_hash, created_at, search_key_id, search_ct, "
	    "search_url_ct FROM login_state "
	    "WHERE state_hash = ?1 AND search_ct IS NOT NULL" },
	[STMT_SEARCH_CLEAR] = { "search_clear",
	    "UPDATE login_state SET search_ct = NULL, search_url_ct = NULL, "
	    "search_key_id = NULL WHERE state_hash = ?1" },
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
	    "UPDATE slack_install SET key_id = ?8, bot_token_ct = ?3, "
	    "refresh_token_ct = coalesce(?4, refresh_token_ct), "
	    "token_expires_at = ?5, "
	    "version = version + 1, updated_at = ?6 "
	    "WHERE enterprise_id = ?1 AND team_id = ?2 AND version = ?7 "
	    /* The row is still under the key it was read with (?9); a kept
	     * refresh token stays sealed under it, so without a new one the
	     * key must not change. */
	    "AND key_id = ?9 AND (?4 IS NOT NULL OR key_id = ?8)" },
	[STMT_INSTALL_KEYID] = { "install_keyid",
	    "SELECT key_id FROM slack_install "
	    "WHERE enterprise_id = ?1 AND team_id = ?2" },
	[STMT_INSTALL_REINSTALL] = { "install_reinstall",
	    "UPDATE slack_install SET needs_reinstall = 1, "
	    "version = version + 1, updated_at = ?3 "
	    "WHERE enterprise_id = ?1 AND team_id = ?2 AND version = ?4" },
	/* The install flow's used states (store_install_state_take). */
	[STMT_ISTATE_ADD] = { "istate_add",
	    "INSERT INTO slack_install_state (state_hash, cookie_hash, "
	    "created_at, expires_at, used_at) VALUES (?1, ?2, ?3, ?4, ?5)" },
	[STMT_ISTATE_GET] = { "istate_get",
	    "SELECT 1 FROM slack_install_state WHERE state_hash = ?1" },
	[STMT_ISTATE_COUNT] = { "istate_count",
	    "SELECT count(*) FROM slack_install_state" },
	/* Drops the ?1 rows that expire first (by the index
	 * slack_install_state_expires). */
	[STMT_ISTATE_DROP] = { "istate_drop",
	    "DELETE FROM slack_install_state WHERE state_hash IN ("
	    "SELECT state_hash FROM slack_install_state "
	    "ORDER BY expires_at, state_hash LIMIT ?1)" },
	[STMT_PURGE_ISTATE] = { "purge_istate",
	    "DELETE FROM slack_install_state WHERE expires_at <= ?1" },
	/* --- Proving who is in the browser (sql/005_link_proof.sql) --- */
	[STMT_NONCE_PEEK] = { "nonce_peek",
	    "SELECT enterprise_id, team_id, user_id, expires_at, started_at, "
	    "team_domain, user_name FROM login_state WHERE nonce_hash = ?1" },
	[STMT_STATE_PEEK] = { "state_peek",
	    "SELECT coalesce(leg, 'salesforce'), team_domain, user_name, "
	    "nonce_hash FROM login_state WHERE state_hash = ?1" },
	/* A Sign in with Slack state that was just taken becomes the
	 * Salesforce login's, on the same row and with the same cookie; a
	 * void row (no cookie: STMT_STATE_VOID) never does. */
	[STMT_STATE_ADVANCE] = { "state_advance",
	    "UPDATE login_state SET state_hash = ?2, verifier_ct = ?3, "
	    "key_id = ?4, expires_at = ?5, used_at = NULL, "
	    "leg = 'salesforce' "
	    "WHERE state_hash = ?1 AND leg = 'slack' AND used_at IS NOT NULL "
	    "AND cookie_hash IS NOT NULL" },
	/* Void: used, and without the verifier, the search and the cookie.
	 * A taken state keeps its cookie (its row may be handed on), so a
	 * row without one is how a void row is told from a taken one. */
	[STMT_STATE_VOID] = { "state_void",
	    "UPDATE login_state SET used_at = coalesce(used_at, ?2), "
	    "verifier_ct = NULL, search_ct = NULL, search_url_ct = NULL, "
	    "search_key_id = NULL, cookie_hash = NULL "
	    "WHERE state_hash = ?1" },
	[STMT_STATE_BURN] = { "state_burn",
	    "UPDATE login_state SET used_at = ?2, verifier_ct = NULL, "
	    "search_ct = NULL, search_url_ct = NULL, search_key_id = NULL, "
	    "cookie_hash = NULL WHERE state_hash = ?1 AND used_at IS NULL" },
	[STMT_PEND_PUT] = { "pend_put",
	    "UPDATE login_state SET pend_org = ?2, pend_sf_user_id = ?3, "
	    "pend_sf_org_id = ?4, pend_sf_username = ?5, "
	    "pend_instance_url = ?6, pend_key_id = ?7, pend_access_ct = ?8, "
	    "pend_refresh_ct = ?9, confirm_hash = ?10, confirm_tries = 0, "
	    "expires_at = ?11 "
	    "WHERE nonce_hash = ?1 AND used_at IS NOT NULL "
	    "AND pend_refresh_ct IS NULL" },
	[STMT_PEND_FIND] = { "pend_find",
	    "SELECT enterprise_id, team_id, user_id, expires_at, nonce_hash, "
	    "state_hash, pend_org, pend_sf_user_id, pend_sf_org_id, "
	    "pend_sf_username, pend_instance_url, pend_key_id, "
	    "pend_access_ct, pend_refresh_ct FROM login_state "
	    "WHERE confirm_hash = ?1 AND pend_refresh_ct IS NOT NULL" },
	[STMT_PEND_CLEAR] = { "pend_clear",
	    "UPDATE login_state SET pend_org = NULL, pend_sf_user_id = NULL, "
	    "pend_sf_org_id = NULL, pend_sf_username = NULL, "
	    "pend_instance_url = NULL, pend_key_id = NULL, "
	    "pend_access_ct = NULL, pend_refresh_ct = NULL, "
	    "confirm_hash = NULL WHERE nonce_hash = ?1" },
	/* Void: no code is taken any more, the search goes, and the row is
	 * due for store_pending_due() at once. */
	[STMT_PEND_VOID] = { "pend_void",
	    "UPDATE login_state SET confirm_hash = NULL, "
	    "expires_at = min(expires_at, ?2), search_ct = NULL, "
	    "search_url_ct = NULL, search_key_id = NULL "
	    "WHERE nonce_hash = ?1" },
	[STMT_PEND_MISS] = { "pend_miss",
	    "UPDATE login_state SET confirm_tries = confirm_tries + 1 "
	    "WHERE enterprise_id = ?1 AND team_id = ?2 AND user_id = ?3 "
	    "AND confirm_hash IS NOT NULL AND expires_at > ?4" },
	[STMT_PEND_MISS_VOID] = { "pend_miss_void",
	    "UPDATE login_state SET confirm_hash = NULL, expires_at = ?4, "
	    "search_ct = NULL, search_url_ct = NULL, search_key_id = NULL "
	    "WHERE enterprise_id = ?1 AND team_id = ?2 AND user_id = ?3 "
	    "AND confirm_hash IS NOT NULL AND expires_at > ?4 "
	    "AND confirm_tries >= ?5" },
	[STMT_PEND_LEFT] = { "pend_left",
	    "SELECT min(?5 - confirm_tries) FROM login_state "
	    "WHERE enterprise_id = ?1 AND team_id = ?2 AND user_id = ?3 "
	    "AND confirm_hash IS NOT NULL AND expires_at > ?4" },
	[STMT_PEND_DUE] = { "pend_due",
	    "SELECT enterprise_id, team_id, user_id, expires_at, nonce_hash, "
	    "state_hash, pend_org, pend_sf_user_id, pend_sf_org_id, "
	    "pend_sf_username, pend_instance_url, pend_key_id, "
	    "pend_access_ct, pend_refresh_ct FROM login_state "
	    "WHERE pend_refresh_ct IS NOT NULL AND expires_at <= ?1 "
	    "ORDER BY expires_at LIMIT ?2" },
	[STMT_PEND_DROP] = { "pend_drop",
	    "UPDATE login_state SET pend_org = NULL, pend_sf_user_id = NULL, "
	    "pend_sf_org_id = NULL, pend_sf_username = NULL, "
	    "pend_instance_url = NULL, pend_key_id = NULL, "
	    "pend_access_ct = NULL, pend_refresh_ct = NULL, "
	    "confirm_hash = NULL WHERE nonce_hash = ?1 "
	    "AND pend_refresh_ct IS NOT NULL" },
	/* Key rotation of pending links: both tokens, which share
	 * pend_key_id, by the row's nonce hash (as a search's). */
	[STMT_REKEY_PENDING] = { "rekey_pending",
	    "SELECT rowid, nonce_hash, pend_key_id, pend_access_ct, "
	    "pend_refresh_ct FROM login_state "
	    "WHERE pend_refresh_ct IS NOT NULL AND "
	    "(pend_key_id IS NULL OR pend_key_id <> ?1) AND rowid > ?2 "
	    "ORDER BY rowid LIMIT ?3" },
	[STMT_REKEY_PENDING_SET] = { "rekey_pending_set",
	    "UPDATE login_state SET pend_key_id = ?2, pend_access_ct = ?3, "
	    "pend_refresh_ct = ?4 WHERE nonce_hash = ?1 AND pend_key_id = ?5 "
	    "AND pend_access_ct = ?6 AND pend_refresh_ct = ?7" },
};

struct store {
	sqlite3			*db;
	sqlite3_stmt		*stmt[STMT__MAX];
	struct keyring		*kr;		/* the keys, maybe shared */
	struct keyring		*own_kr;	/* kr, when store_open made it */
	struct keyring_snap	*keys;		/* kr's keys as last seen */
	unsigned int		 nreplay;	/* replay inserts so far */
	int			 busy_cap_ms;	/* current cap of store_busy */
	long			 busy_waited_us; /* in the current wait */
	int			 last_rc;	/* SQLite's code of the last
						   failure */
	sqlite3_stmt		**istmt;	/* integrations' statements */
};

static int	store_integ_prepare(struct store *);
static void	store_integ_close(struct store *);

_Static_assert(KEYRING_MAX == 8, "STMT_LINK_DELETE binds KEYRING_MAX ids");

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
	case STORE_BUSY:
		return "busy";
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
	st->last_rc = rc;
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

/* --- Keys ------------------------------------------------------------- */

/*
 * Brings this connection's keys up to date with its keyring, which looks
 * at the key file at most once a second (keyring.h).  Every operation
 * calls it first, and a write calls it again once its transaction holds
 * the write lock, right before sealing: a write that takes the lock a
 * second or more after a rotation rewrote the key file then seals under
 * the new key, which is what lets forcelink-admin rotate-key know when no
 * more rows can appear under the old one.  Key pointers taken before are
 * invalid afterwards.
 */
static void
store_keys(struct store *st)
{
	keyring_update(st->kr, &st->keys);
}

/* The key every new seal uses.  Valid until the next store_keys() or
 * store_key_find(). */
static const struct crypto_key *
store_key_current(const struct store *st)
{
	return keyring_current(st->keys);
}

/*
 * The key to open a row with: the one whose id is in text column col of
 * s.  An id we do not hold makes us read the key file again first (a
 * rotation may have just added the key, and another worker seals under it
 * already).  Returns NULL, logged, when no key has that id: the row is
 * sealed under a key this program was not given.  Key pointers taken
 * before are invalid afterwards.
 */
static const struct crypto_key *
store_key_find(struct store *st, sqlite3_stmt *s, int col, const char *what)
{
	const struct crypto_key	*k;
	const char		*id;

	if ((id = (const char *)sqlite3_column_text(s, col)) == NULL)
		id = "";
	if ((k = keyring_find(st->keys, id)) != NULL)
		return k;
	(void)keyring_reload(st->kr);
	store_keys(st);
	if ((k = keyring_find(st->keys, id)) != NULL)
		return k;
	log_error("row=%s row_key_id=%.16s key_id=%s msg=\"%s sealed under "
	    "another key: not one this program holds\"", what, id,
	    store_key_current(st)->id, what);
	return NULL;
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

/* Seals a token of who under key k.  Returns 0, or -1 (logged). */
static int
store_seal_token(const struct crypto_key *k, const struct slack_user *who,
    const char *which, const char *token, struct sealed *out)
{
	struct store_ad	 ad;

	if (store_ad_token(&ad, who, which, k->id) == -1)
		return -1;
	if (crypto_seal(k, ad.b, ad.len, token, strlen(token),
	    &out->p, &out->len) == -1) {
		log_error("which=%s msg=\"cannot seal token\"", which);
		return -1;
	}
	return 0;
}

/*
 * Opens the token of who in blob column col of s, sealed under key k (the
 * key of the row's key id).  Returns STORE_OK and *out (free with
 * crypto_free_secret), STORE_BADKEY (logged) when it does not open, or
 * STORE_ERROR (logged; out of memory is not a wrong key).
 */
static enum store_result
store_open_token(const struct crypto_key *k, sqlite3_stmt *s, int col,
    const struct slack_user *who, const char *which, char **out)
{
	struct store_ad	 ad;
	size_t		 len;
	int		 rc;

	if (store_ad_token(&ad, who, which, k->id) == -1)
		return STORE_ERROR;
	rc = crypto_open(k, ad.b, ad.len, sqlite3_column_blob(s, col),
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
static pthread_once_t	 store_once = PTHREAD_ONCE_INIT;

struct store *
store_open_keyring(const char *path, struct keyring *kr)
{
	struct store		*st = NULL;

	pthread_once(&store_once, store_global_init);
	if (path == NULL || kr == NULL || store_create_file(path) == -1)
		goto out;
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		log_error("msg=\"out of memory\"");
		goto out;
	}
	st->kr = kr;
	store_keys(st);
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_error("path=\"%s\" msg=\"%s\"", path, st->db != NULL ?
		    sqlite3_errmsg(st->db) : "out of memory");
		goto out;
	}
	if (store_configure(st, path) == -1 ||
	    store_migrate(st->db, path) == -1 ||
	    store_prepare(st) == -1 || store_integ_prepare(st) == -1)
		goto out;
	return st;
out:
	store_close(st);
	return NULL;
}

struct store *
store_open(const char *path, const struct crypto_key *key)
{
	struct keyring	*kr;
	struct store	*st;

	if (key == NULL)
		return NULL;
	if ((kr = keyring_from_keys(key, 1)) == NULL) {
		log_error("msg=\"out of memory\"");
		return NULL;
	}
	if ((st = store_open_keyring(path, kr)) == NULL) {
		keyring_free(kr);
		return NULL;
	}
	st->own_kr = kr;
	return st;
}

void
store_close(struct store *st)
{
	size_t	 i;

	if (st == NULL)
		return;
	for (i = 0; i < STMT__MAX; i++)
		sqlite3_finalize(st->stmt[i]);
	store_integ_close(st);
	if (sqlite3_close(st->db) != SQLITE_OK)
		log_error("msg=\"%s\"", sqlite3_errmsg(st->db));
	keyring_release(st->keys);
	keyring_free(st->own_kr);
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

/* Fills out from the row STMT_LINK_GET is on.  Returns STORE_OK,
 * STORE_BADKEY or STORE_ERROR; out may be half filled on failure. */
static enum store_result
store_link_read(struct store *st, const struct slack_user *who,
    struct store_link *out)
{
	sqlite3_stmt		*s = st->stmt[STMT_LINK_GET];
	const struct crypto_key	*k;
	enum store_result	 r;

	if ((k = store_key_find(st, s, LCOL_KEY_ID, "link")) == NULL)
		return STORE_BADKEY;
	if ((r = store_open_token(k, s, LCOL_ACCESS_CT, who, "access",
	    &out->access_token)) != STORE_OK ||
	    (r = store_open_token(k, s, LCOL_REFRESH_CT, who, "refresh",
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
	store_keys(st);
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
 * Inside a write transaction: reads the current link of who.  Returns
 * STORE_NOTFOUND, or STORE_OK with *version, the row's key id in key_id
 * and, when old_refresh is not NULL, *old_refresh (NULL when it does not
 * open; that is logged, and the caller goes on all the same), or
 * STORE_BADKEY (sealed under a key we do not hold), or STORE_ERROR.
 */
static enum store_result
store_link_old(struct store *st, const struct slack_user *who,
    int64_t *version, char key_id[CRYPTO_KEYID_LEN + 1], char **old_refresh)
{
	sqlite3_stmt		*s = st->stmt[STMT_LINK_GET];
	const struct crypto_key	*k;
	enum store_result	 r = STORE_ERROR;
	int			 rc;

	if (old_refresh != NULL)
		*old_refresh = NULL;
	if (store_bind_user(st, STMT_LINK_GET, who) == -1 ||
	    (rc = store_step(st, STMT_LINK_GET)) == -1)
		goto out;
	if (rc == SQLITE_DONE) {
		r = STORE_NOTFOUND;
		goto out;
	}
	if ((k = store_key_find(st, s, LCOL_KEY_ID, "link")) == NULL) {
		r = STORE_BADKEY;
		goto out;
	}
	*version = sqlite3_column_int64(s, LCOL_VERSION);
	snprintf(key_id, CRYPTO_KEYID_LEN + 1, "%s", k->id);
	if (old_refresh != NULL && store_open_token(k, s, LCOL_REFRESH_CT,
	    who, "refresh", old_refresh) != STORE_OK)
		log_warn("msg=\"old refresh token unreadable\"");
	r = STORE_OK;
out:
	store_reset(st, STMT_LINK_GET);
	return r;
}

/* Binds everything STMT_LINK_PUT needs.  Returns 0 or -1 (logged). */
static int
store_link_bind_put(struct store *st, const struct slack_user *who,
    const struct store_link *in, const char *key_id,
    const struct sealed *acc, const struct sealed *ref, int64_t version,
    time_t now)
{
	enum stmt	 id = STMT_LINK_PUT;

	if (store_bind_user(st, id, who) == -1 ||
	    store_bind_text(st, id, 4, in->org != NULL ? in->org : "") == -1 ||
	    store_bind_text(st, id, 5, in->sf_user_id) == -1 ||
	    store_bind_text(st, id, 6, in->sf_org_id) == -1 ||
	    store_bind_text(st, id, 7, in->sf_username) == -1 ||
	    store_bind_text(st, id, 8, in->instance_url) == -1 ||
	    store_bind_text(st, id, 9, key_id) == -1 ||
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

/*
 * Inside a write transaction: creates or replaces the link of who with
 * in, sealed under the key current now, at the version after the one it
 * replaces.  *old (old may be NULL) receives the replaced link's refresh
 * token (allocated; NULL when there was none or it did not open).
 * Returns STORE_OK, STORE_BADKEY (the existing link is sealed under a key
 * we do not hold: nothing is written) or STORE_ERROR.
 */
static enum store_result
store_link_write(struct store *st, const struct slack_user *who,
    const struct store_link *in, char **old)
{
	struct sealed		 acc = { NULL, 0 }, ref = { NULL, 0 };
	const struct crypto_key	*k;
	enum store_result	 r;
	char			 old_id[CRYPTO_KEYID_LEN + 1];
	int64_t			 version = 0;

	store_keys(st);
	r = store_link_old(st, who, &version, old_id, old);
	if (r != STORE_OK && r != STORE_NOTFOUND)
		goto out;
	r = STORE_ERROR;
	/* Sealed inside the transaction, under the key current now (see
	 * store_keys); sealing takes microseconds. */
	k = store_key_current(st);
	if (store_seal_token(k, who, "access", in->access_token, &acc) == -1 ||
	    store_seal_token(k, who, "refresh", in->refresh_token, &ref) == -1)
		goto out;
	if (store_link_bind_put(st, who, in, k->id, &acc, &ref, version + 1,
	    time(NULL)) == -1 || store_step(st, STMT_LINK_PUT) == -1)
		goto out;
	r = STORE_OK;
out:
	store_reset(st, STMT_LINK_PUT);
	free(acc.p);
	free(ref.p);
	return r;
}

enum store_result
store_link_put(struct store *st, const struct slack_user *who,
    const struct store_link *in, char **old_refresh)
{
	enum store_result	 r = STORE_ERROR;
	char			*old = NULL;
	int			 began = 0;

	if (old_refresh != NULL)
		*old_refresh = NULL;
	if (!store_who_ok(who) || !store_link_complete(in))
		goto out;
	store_keys(st);
	if (store_write_begin(st) == -1)
		goto out;
	began = 1;
	r = store_link_write(st, who, in, &old);
out:
	if (began && store_write_end(st, r == STORE_OK) == -1)
		r = STORE_ERROR;
	if (r == STORE_OK && old_refresh != NULL) {
		*old_refresh = old;
		old = NULL;
	}
	crypto_free_secret(old);
	return r;
}

/*
 * Inside store_link_update_tokens' transaction: checks that who's link is
 * still at version expect and under a key we hold.  A row has one key id
 * for both tokens, so when refresh is NULL (the refresh token stays) but
 * the row is sealed under another key than the current one, its refresh
 * token is opened into *keep, to be sealed again under the current key
 * with the new access token.  Returns STORE_OK with the row's key id in
 * row_id, STORE_CONFLICT (changed, gone, or under a key we do not hold:
 * not the link the caller read), STORE_BADKEY (its refresh token does not
 * open) or STORE_ERROR.
 */
static enum store_result
store_link_check(struct store *st, const struct slack_user *who,
    int64_t expect, const char *refresh, char row_id[CRYPTO_KEYID_LEN + 1],
    char **keep)
{
	enum store_result	 r;
	int64_t			 version = -1;

	*keep = NULL;
	r = store_link_old(st, who, &version, row_id,
	    refresh == NULL ? keep : NULL);
	if (r == STORE_NOTFOUND || r == STORE_BADKEY ||
	    (r == STORE_OK && version != expect))
		r = STORE_CONFLICT;
	else if (r == STORE_OK && refresh == NULL &&
	    strcmp(row_id, store_key_current(st)->id) == 0) {
		/* Already under the current key: the column stays. */
		crypto_free_secret(*keep);
		*keep = NULL;
	} else if (r == STORE_OK && refresh == NULL && *keep == NULL)
		r = STORE_BADKEY;
	if (r != STORE_OK) {
		crypto_free_secret(*keep);
		*keep = NULL;
	}
	return r;
}

enum store_result
store_link_update_tokens(struct store *st, const struct slack_user *who,
    int64_t expect, const char *access, const char *refresh)
{
	struct sealed		 acc = { NULL, 0 }, ref = { NULL, 0 };
	const struct crypto_key	*k;
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_LINK_UPDATE;
	char			*keep = NULL, row_id[CRYPTO_KEYID_LEN + 1];
	const char		*newref;
	int			 began = 0;

	if (!store_who_ok(who) || access == NULL)
		goto out;
	store_keys(st);
	if (store_write_begin(st) == -1)
		goto out;
	began = 1;
	store_keys(st);
	if ((r = store_link_check(st, who, expect, refresh, row_id,
	    &keep)) != STORE_OK)
		goto out;
	r = STORE_ERROR;
	k = store_key_current(st);
	newref = refresh != NULL ? refresh : keep;
	if (store_seal_token(k, who, "access", access, &acc) == -1 ||
	    (newref != NULL &&
	    store_seal_token(k, who, "refresh", newref, &ref) == -1))
		goto out;
	if (store_bind_user(st, id, who) == -1 ||
	    store_bind_blob(st, id, 4, acc.p, acc.len) == -1 ||
	    store_bind_blob(st, id, 5, ref.p, ref.len) == -1 ||
	    store_bind_int(st, id, 6, (int64_t)time(NULL)) == -1 ||
	    store_bind_int(st, id, 7, expect) == -1 ||
	    store_bind_text(st, id, 8, k->id) == -1 ||
	    store_bind_text(st, id, 9, row_id) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	r = sqlite3_changes(st->db) == 1 ? STORE_OK : STORE_CONFLICT;
out:
	store_reset(st, id);
	if (began && store_write_end(st, r == STORE_OK) == -1)
		r = STORE_ERROR;
	crypto_free_secret(keep);
	free(acc.p);
	free(ref.p);
	return r;
}

enum store_result
store_link_delete(struct store *st, const struct slack_user *who,
    int64_t expect)
{
	const struct crypto_key	*k;
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_LINK_DELETE;
	size_t			 i;

	if (!store_who_ok(who))
		return STORE_ERROR;
	store_keys(st);
	pthread_mutex_lock(&store_writer);
	if (store_bind_user(st, id, who) == -1)
		goto out;
	/* Only a link sealed under a key we hold: one we cannot open was
	 * not read by the caller, and a wrong key must not destroy it. */
	for (i = 0; i < KEYRING_MAX; i++) {
		k = keyring_key(st->keys, i);
		if (k != NULL && store_bind_text(st, id, 4 + (int)i,
		    k->id) == -1)
			goto out;
	}
	if (store_bind_int(st, id, 12, expect < 0 ? -1 : expect) == -1 ||
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
	return store_nonce_start_leg(st, STORE_LEG_SALESFORCE, nonce_hash,
	    now, state_hash, cookie_hash, verifier, expires, who);
}

/* The leg column's value. */
static const char *
store_leg_name(enum store_leg leg)
{
	return leg == STORE_LEG_SLACK ? "slack" : "salesforce";
}

enum store_result
store_nonce_start_leg(struct store *st, enum store_leg leg,
    const unsigned char nonce_hash[CRYPTO_HASHLEN], time_t now,
    const unsigned char state_hash[CRYPTO_HASHLEN],
    const unsigned char cookie_hash[CRYPTO_HASHLEN],
    const char *verifier, time_t expires, struct slack_user *who)
{
	struct store_ad		 ad;
	struct sealed		 v = { NULL, 0 };
	struct slack_user	 u;
	const struct crypto_key	*k;
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_NONCE_START;
	int			 began = 0;

	if (verifier == NULL)
		goto out;
	store_keys(st);
	if (store_begin(st) == -1)
		goto out;
	began = 1;
	if ((r = store_nonce_check(st, nonce_hash, now, &u)) != STORE_OK)
		goto out;
	r = STORE_ERROR;
	/* Sealed under the key current once the lock is held (see
	 * store_keys). */
	store_keys(st);
	k = store_key_current(st);
	if (store_ad_verifier(&ad, state_hash, k->id) == -1)
		goto out;
	if (crypto_seal(k, ad.b, ad.len, verifier, strlen(verifier),
	    &v.p, &v.len) == -1) {
		log_error("msg=\"cannot seal verifier\"");
		goto out;
	}
	if (store_bind_blob(st, id, 1, nonce_hash, CRYPTO_HASHLEN) == -1 ||
	    store_bind_int(st, id, 2, (int64_t)now) == -1 ||
	    store_bind_blob(st, id, 3, state_hash, CRYPTO_HASHLEN) == -1 ||
	    store_bind_blob(st, id, 4, cookie_hash, CRYPTO_HASHLEN) == -1 ||
	    store_bind_blob(st, id, 5, v.p, v.len) == -1 ||
	    store_bind_text(st, id, 6, k->id) == -1 ||
	    store_bind_int(st, id, 7, (int64_t)expires) == -1 ||
	    store_bind_text(st, id, 8, store_leg_name(leg)) == -1 ||
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
store_state_check(struct store *st, enum store_leg leg,
    const unsigned char state_hash[CRYPTO_HASHLEN],
    const unsigned char cookie_hash[CRYPTO_HASHLEN], time_t now,
    struct slack_user *who, char **verifier)
{
	sqlite3_stmt		*s = st->stmt[STMT_STATE_GET];
	const struct crypto_key	*k;
	struct store_ad		 ad;
	enum store_result	 r = STORE_ERROR;
	size_t			 len;
	int			 rc;

	if (store_bind_blob(st, STMT_STATE_GET, 1, state_hash,
	    CRYPTO_HASHLEN) == -1 ||
	    (rc = store_step(st, STMT_STATE_GET)) == -1)
		goto out;
	r = STORE_NOTFOUND;
	/* A state of the other login is not one of this login's. */
	if (rc == SQLITE_DONE || strcmp((const char *)sqlite3_column_text(s,
	    SCOL_LEG), store_leg_name(leg)) != 0)
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
	if ((k = store_key_find(st, s, SCOL_KEY_ID, "login_state")) == NULL)
		goto out;
	r = STORE_ERROR;
	if (store_ad_verifier(&ad, state_hash, k->id) == -1 ||
	    store_col_user(s, who) == -1)
		goto out;
	rc = crypto_open(k, ad.b, ad.len,
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

static enum store_result store_search_take(struct store *,
		    const unsigned char [CRYPTO_HASHLEN],
		    struct store_search *);

enum store_result
store_state_take(struct store *st,
    const unsigned char state_hash[CRYPTO_HASHLEN],
    const unsigned char cookie_hash[CRYPTO_HASHLEN], time_t now,
    struct slack_user *who, char **verifier)
{
	return store_state_take_search(st, state_hash, cookie_hash, now, who,
	    verifier, NULL);
}

enum store_result
store_state_take_search(struct store *st,
    const unsigned char state_hash[CRYPTO_HASHLEN],
    const unsigned char cookie_hash[CRYPTO_HASHLEN], time_t now,
    struct slack_user *who, char **verifier, struct store_search *search)
{
	struct store_search	 dropped;
	enum store_result	 r;

	/* Without a place for it, the search is taken and dropped. */
	r = store_state_take_leg(st, STORE_LEG_SALESFORCE, state_hash,
	    cookie_hash, now, who, verifier, search != NULL ? search :
	    &dropped);
	if (search == NULL)
		store_search_free(&dropped);
	return r;
}

enum store_result
store_state_take_leg(struct store *st, enum store_leg leg,
    const unsigned char state_hash[CRYPTO_HASHLEN],
    const unsigned char cookie_hash[CRYPTO_HASHLEN], time_t now,
    struct slack_user *who, char **verifier, struct store_search *search)
{
	struct store_search	 found;
	struct slack_user	 u;
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_STATE_USE;
	char			*v = NULL;
	int			 began = 0;

	*verifier = NULL;
	store_keys(st);
	memset(&found, 0, sizeof(found));
	if (search != NULL)
		memset(search, 0, sizeof(*search));
	/* The check and the consumption share one write transaction, so of
	 * concurrent callers exactly one sees the state unused. */
	if (store_begin(st) == -1)
		goto out;
	began = 1;
	r = store_state_check(st, leg, state_hash, cookie_hash, now, &u, &v);
	if (r != STORE_OK)
		goto out;
	r = STORE_ERROR;
	if (store_bind_blob(st, id, 1, state_hash, CRYPTO_HASHLEN) == -1 ||
	    store_bind_int(st, id, 2, (int64_t)now) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	if (sqlite3_changes(st->db) != 1)
		goto out;
	/* The search goes with the state, in this same transaction,
	 * unless the caller leaves it on the row. */
	store_reset(st, id);
	r = search != NULL ? store_search_take(st, state_hash, &found) :
	    STORE_OK;
out:
	store_reset(st, id);
	if (began && store_end(st, r == STORE_OK) == -1)
		r = STORE_ERROR;
	if (r == STORE_OK) {
		*who = u;
		*verifier = v;
		v = NULL;
		if (search != NULL) {
			*search = found;
			memset(&found, 0, sizeof(found));
		}
	}
	crypto_free_secret(v);
	store_search_free(&found);
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

/* --- Key rotation ----------------------------------------------------- */

struct store_rekey_row;
static enum store_result store_irekey_read(struct store *,
		    enum store_rekey_table, int64_t *, int,
		    struct store_rekey **, struct store_rekey_counts *);
static int	store_irekey_set(struct store *, const struct store_rekey *,
		    const struct store_rekey_row *);

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

/* Empties a batch (its rows' memory goes, its array stays). */
static void
store_rekey_clear(struct store_rekey *b)
{
	size_t	 i;

	for (i = 0; i < b->n; i++) {
		free(b->rows[i].old_a.p);
		free(b->rows[i].old_b.p);
		free(b->rows[i].new_a.p);
		free(b->rows[i].new_b.p);
	}
	b->n = 0;
}

void
store_rekey_free(struct store_rekey *b)
{
	if (b == NULL)
		return;
	store_rekey_clear(b);
	free(b->rows);
	free(b);
}

size_t
store_rekey_count(const struct store_rekey *b)
{
	return b != NULL ? b->n : 0;
}

/* Copies blob column col into *out (allocated).  Returns 0, or -1 when
 * it is NULL or empty (no sealed value is) or memory is exhausted. */
static int
store_col_blob(sqlite3_stmt *s, int col, struct sealed *out)
{
	const void	*p = sqlite3_column_blob(s, col);
	int		 n = sqlite3_column_bytes(s, col);

	if (p == NULL || n <= 0 || (out->p = malloc((size_t)n)) == NULL)
		return -1;
	memcpy(out->p, p, (size_t)n);
	out->len = (size_t)n;
	return 0;
}

/*
 * Opens one sealed value of a row with key k and its associated data
 * under old_id, and seals it again under the current key cur with the
 * same associated data but cur's id.  The plaintext is wiped at once.
 * Returns 0, -1 when it does not open (*open_failed set) or on
 * memory exhaustion.
 */
static int
store_reseal(const struct crypto_key *k, const struct crypto_key *cur,
    const struct store_ad *ad_old, const struct store_ad *ad_new,
    const struct sealed *in, struct sealed *out, int *open_failed)
{
	char	*pt = NULL;
	size_t	 len;
	int	 rc;

	rc = crypto_open(k, ad_old->b, ad_old->len, in->p, in->len, &pt, &len);
	if (rc != 0) {
		*open_failed = rc == -1;
		return -1;
	}
	rc = crypto_seal(cur, ad_new->b, ad_new->len, pt, len, &out->p,
	    &out->len);
	crypto_free_secret(pt);
	return rc;
}

/* Makes room for one more row.  Returns the zeroed row or NULL. */
static struct store_rekey_row *
store_rekey_add(struct store_rekey *b)
{
	struct store_rekey_row	*p;
	size_t			 ncap;

	if (b->n == b->cap) {
		ncap = b->cap == 0 ? 16 : b->cap * 2;
		if ((p = reallocarray(b->rows, ncap, sizeof(*p))) == NULL)
			return NULL;
		b->rows = p;
		b->cap = ncap;
	}
	p = &b->rows[b->n];
	memset(p, 0, sizeof(*p));
	return p;
}

static int	 store_ad_search(struct store_ad *,
		    const unsigned char nonce_hash[CRYPTO_HASHLEN],
		    const char *column, const char *key_id);
static enum store_result store_open_row(sqlite3_stmt *,
		    const struct crypto_key *, int,
		    const unsigned char [CRYPTO_HASHLEN], const char *,
		    char **);

/* The two sealed columns, as their associated data names them.  The
 * installation is sealed as the row (enterprise, team, "") through the
 * same helpers as a link's tokens; no link has an empty user, and these
 * column names are not a link's, so neither can open as the other. */
#define STORE_INSTALL_BOT	"install_bot"
#define STORE_INSTALL_REFRESH	"install_refresh"

/*
 * What sets the kinds of rekeyed rows apart once a row's sealed values
 * are read: the key id's column, a name for the logs, and how the
 * associated data of each value (named which_a, which_b) is built from
 * the row (its who or its hash) and a key id.
 */
struct store_rekey_kind {
	const char	*what;
	int		 keycol;
	int		(*ad)(struct store_ad *, const struct store_rekey_row *,
			    const char *which, const char *key_id);
	const char	*which_a, *which_b;
};

static int
store_rekey_ad_token(struct store_ad *ad, const struct store_rekey_row *row,
    const char *which, const char *key_id)
{
	return store_ad_token(ad, &row->who, which, key_id);
}

static int
store_rekey_ad_verifier(struct store_ad *ad,
    const struct store_rekey_row *row, const char *which, const char *key_id)
{
	(void)which;
	return store_ad_verifier(ad, row->state_hash, key_id);
}

static int
store_rekey_ad_search(struct store_ad *ad, const struct store_rekey_row *row,
    const char *which, const char *key_id)
{
	return store_ad_search(ad, row->state_hash, which, key_id);
}

static const struct store_rekey_kind store_rekey_links = {
	"link", RLCOL_KEY_ID, store_rekey_ad_token, "access", "refresh"
};
static const struct store_rekey_kind store_rekey_states = {
	"login_state", RSCOL_KEY_ID, store_rekey_ad_verifier, "verifier", NULL
};
static const struct store_rekey_kind store_rekey_searches = {
	"search", RQCOL_KEY_ID, store_rekey_ad_search, "search_ct",
	"search_url_ct"
};
static const struct store_rekey_kind store_rekey_pending = {
	"pending link", RQCOL_KEY_ID, store_rekey_ad_search, "pend_access_ct",
	"pend_refresh_ct"
};
static const struct store_rekey_kind store_rekey_installs = {
	"installation", RICOL_KEY_ID, store_rekey_ad_token, STORE_INSTALL_BOT,
	STORE_INSTALL_REFRESH
};

/* Frees what a row of a batch holds (its slot stays). */
static void
store_rekey_row_free(struct store_rekey_row *row)
{
	free(row->old_a.p);
	free(row->old_b.p);
	free(row->new_a.p);
	free(row->new_b.p);
	memset(row, 0, sizeof(*row));
}

/*
 * Finishes row, the next slot of batch b, whose names (who or hash) and
 * sealed values (old_a, and old_b when there is a second) the caller read
 * from the row s is on: opens them with the key the row names and seals
 * them again under the current key, then adds the row to b.  A row that
 * was malformed (bad set), is under a key we do not hold, or does not
 * open is counted in *c and left out.  Returns 0, or -1 on memory
 * exhaustion (logged).
 */
static int
store_rekey_finish(struct store *st, sqlite3_stmt *s, struct store_rekey *b,
    struct store_rekey_counts *c, struct store_rekey_row *row,
    const struct store_rekey_kind *kind, int bad)
{
	const struct crypto_key	*k, *cur;
	struct store_ad		 ao, an;

	if (bad) {
		log_error("row=%s msg=\"malformed row: left as it is\"",
		    kind->what);
		c->unopenable++;
		goto skip;
	}
	if ((k = store_key_find(st, s, kind->keycol, kind->what)) == NULL) {
		c->unknown_key++;
		goto skip;
	}
	cur = store_key_current(st);
	snprintf(row->old_id, sizeof(row->old_id), "%s", k->id);
	if (kind->ad(&ao, row, kind->which_a, k->id) == -1 ||
	    kind->ad(&an, row, kind->which_a, cur->id) == -1 ||
	    store_reseal(k, cur, &ao, &an, &row->old_a, &row->new_a,
	    &bad) == -1 ||
	    (row->old_b.p != NULL &&
	    (kind->ad(&ao, row, kind->which_b, k->id) == -1 ||
	    kind->ad(&an, row, kind->which_b, cur->id) == -1 ||
	    store_reseal(k, cur, &ao, &an, &row->old_b, &row->new_b,
	    &bad) == -1))) {
		if (!bad) {
			store_rekey_row_free(row);
			log_error("msg=\"out of memory\"");
			return -1;
		}
		log_error("row=%s msg=\"sealed value does not open: altered "
		    "or wrong key; left as it is\"", kind->what);
		c->unopenable++;
		goto skip;
	}
	b->n++;
	return 0;
skip:
	store_rekey_row_free(row);
	return 0;
}

/*
 * Adds the link row s is on to batch b, re-sealed under the current key
 * (store_rekey_finish).  Returns 0, or -1 on memory exhaustion (logged).
 */
static int
store_rekey_link(struct store *st, sqlite3_stmt *s, struct store_rekey *b,
    struct store_rekey_counts *c)
{
	struct store_rekey_row	*row;
	int			 bad;

	if ((row = store_rekey_add(b)) == NULL) {
		log_error("msg=\"out of memory\"");
		return -1;
	}
	bad = store_col_id(s, RLCOL_ENTERPRISE_ID, row->who.enterprise_id,
	    sizeof(row->who.enterprise_id)) == -1 ||
	    store_col_id(s, RLCOL_TEAM_ID, row->who.team_id,
	    sizeof(row->who.team_id)) == -1 ||
	    store_col_id(s, RLCOL_USER_ID, row->who.user_id,
	    sizeof(row->who.user_id)) == -1 ||
	    store_col_blob(s, RLCOL_ACCESS_CT, &row->old_a) == -1 ||
	    store_col_blob(s, RLCOL_REFRESH_CT, &row->old_b) == -1;
	row->version = sqlite3_column_int64(s, RLCOL_VERSION);
	return store_rekey_finish(st, s, b, c, row, &store_rekey_links, bad);
}

/* store_rekey_link() for the login_state row s is on (its verifier). */
static int
store_rekey_state(struct store *st, sqlite3_stmt *s, struct store_rekey *b,
    struct store_rekey_counts *c)
{
	struct store_rekey_row	*row;
	int			 bad;

	if ((row = store_rekey_add(b)) == NULL) {
		log_error("msg=\"out of memory\"");
		return -1;
	}
	bad = sqlite3_column_bytes(s, RSCOL_STATE_HASH) != CRYPTO_HASHLEN ||
	    store_col_blob(s, RSCOL_VERIFIER_CT, &row->old_a) == -1;
	if (!bad)
		memcpy(row->state_hash, sqlite3_column_blob(s,
		    RSCOL_STATE_HASH), CRYPTO_HASHLEN);
	return store_rekey_finish(st, s, b, c, row, &store_rekey_states, bad);
}

/* store_rekey_link() for the Slack installation row s is on: its bot
 * token and, when there is one, its refresh token (row->who names the
 * installation: enterprise and team, no user). */
static int
store_rekey_install(struct store *st, sqlite3_stmt *s, struct store_rekey *b,
    struct store_rekey_counts *c)
{
	struct store_rekey_row	*row;
	int			 bad;

	if ((row = store_rekey_add(b)) == NULL) {
		log_error("msg=\"out of memory\"");
		return -1;
	}
	bad = store_col_id(s, RICOL_ENTERPRISE_ID, row->who.enterprise_id,
	    sizeof(row->who.enterprise_id)) == -1 ||
	    store_col_id(s, RICOL_TEAM_ID, row->who.team_id,
	    sizeof(row->who.team_id)) == -1 ||
	    store_col_blob(s, RICOL_BOT_CT, &row->old_a) == -1 ||
	    (sqlite3_column_type(s, RICOL_REFRESH_CT) != SQLITE_NULL &&
	    store_col_blob(s, RICOL_REFRESH_CT, &row->old_b) == -1);
	row->version = sqlite3_column_int64(s, RICOL_VERSION);
	return store_rekey_finish(st, s, b, c, row, &store_rekey_installs,
	    bad);
}

/* store_rekey_link() for the search remembered on the login_state row s
 * is on (its text and response_url; row->state_hash holds the nonce
 * hash, which names that row in their associated data), or for its
 * pending link's tokens, which are sealed the same way (kind says
 * which). */
static int
store_rekey_search(struct store *st, sqlite3_stmt *s, struct store_rekey *b,
    struct store_rekey_counts *c, const struct store_rekey_kind *kind)
{
	struct store_rekey_row	*row;
	int			 bad;

	if ((row = store_rekey_add(b)) == NULL) {
		log_error("msg=\"out of memory\"");
		return -1;
	}
	bad = sqlite3_column_bytes(s, RQCOL_NONCE_HASH) != CRYPTO_HASHLEN ||
	    store_col_blob(s, RQCOL_TEXT_CT, &row->old_a) == -1 ||
	    store_col_blob(s, RQCOL_URL_CT, &row->old_b) == -1;
	if (!bad)
		memcpy(row->state_hash, sqlite3_column_blob(s,
		    RQCOL_NONCE_HASH), CRYPTO_HASHLEN);
	return store_rekey_finish(st, s, b, c, row, kind, bad);
}

/* The outcome of a failed SQLite call: STORE_BUSY when another
 * connection held the lock past the busy cap, else STORE_ERROR. */
static enum store_result
store_failure(const struct store *st)
{
	int	 rc = st->last_rc & 0xff;

	return rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? STORE_BUSY :
	    STORE_ERROR;
}

enum store_result
store_rekey_read(struct store *st, enum store_rekey_table table,
    int64_t *cursor, int max, struct store_rekey **out,
    struct store_rekey_counts *c)
{
	struct store_rekey	*b = NULL;
	enum stmt		 id;
	sqlite3_stmt		*s;
	enum store_result	 r = STORE_ERROR;
	int			 rc;

	*out = NULL;
	memset(c, 0, sizeof(*c));
	if (table == STORE_REKEY_INTEGRATIONS || table == STORE_REKEY_ITOKENS)
		return store_irekey_read(st, table, cursor, max, out, c);
	id = table == STORE_REKEY_LINKS ? STMT_REKEY_LINKS :
	    table == STORE_REKEY_STATES ? STMT_REKEY_STATES :
	    table == STORE_REKEY_SEARCHES ? STMT_REKEY_SEARCHES :
	    table == STORE_REKEY_PENDING ? STMT_REKEY_PENDING :
	    STMT_REKEY_INSTALLS;
	s = st->stmt[id];
	if (max < 1 || (b = calloc(1, sizeof(*b))) == NULL)
		goto out;
	st->last_rc = 0;
	store_keys(st);
	b->table = table;
	snprintf(b->new_id, sizeof(b->new_id), "%s",
	    store_key_current(st)->id);
	if (store_bind_text(st, id, 1, b->new_id) == -1 ||
	    store_bind_int(st, id, 2, *cursor) == -1 ||
	    store_bind_int(st, id, 3, max) == -1)
		goto out;
	while ((rc = store_step(st, id)) == SQLITE_ROW) {
		c->read++;
		*cursor = sqlite3_column_int64(s, 0);
		if ((table == STORE_REKEY_LINKS ?
		    store_rekey_link(st, s, b, c) :
		    table == STORE_REKEY_STATES ?
		    store_rekey_state(st, s, b, c) :
		    table == STORE_REKEY_SEARCHES ?
		    store_rekey_search(st, s, b, c, &store_rekey_searches) :
		    table == STORE_REKEY_PENDING ?
		    store_rekey_search(st, s, b, c, &store_rekey_pending) :
		    store_rekey_install(st, s, b, c)) == -1)
			goto out;
	}
	if (rc == -1) {
		r = store_failure(st);
		goto out;
	}
	/* store_key_find() may have moved to newer keys; a batch sealed
	 * under two current keys would be wrong, so the caller retries. */
	if (strcmp(b->new_id, store_key_current(st)->id) != 0) {
		log_warn("msg=\"keys changed while reading: batch dropped\"");
		c->changed += (long)b->n;
		store_rekey_clear(b);
	}
	*out = b;
	b = NULL;
	r = STORE_OK;
out:
	store_reset(st, id);
	store_rekey_free(b);
	return r;
}

/* Binds and runs the compare-and-set update of one row.  Returns 1 when
 * it was written, 0 when it had changed, -1 on failure (logged). */
static int
store_rekey_set(struct store *st, const struct store_rekey *b,
    const struct store_rekey_row *row)
{
	enum stmt	 id;
	int		 rc = -1;

	if (b->table == STORE_REKEY_INTEGRATIONS ||
	    b->table == STORE_REKEY_ITOKENS)
		return store_irekey_set(st, b, row);
	if (b->table == STORE_REKEY_LINKS) {
		id = STMT_REKEY_LINK_SET;
		if (store_bind_user(st, id, &row->who) == -1 ||
		    store_bind_text(st, id, 4, b->new_id) == -1 ||
		    store_bind_blob(st, id, 5, row->new_a.p,
		    row->new_a.len) == -1 ||
		    store_bind_blob(st, id, 6, row->new_b.p,
		    row->new_b.len) == -1 ||
		    store_bind_int(st, id, 7, row->version) == -1 ||
		    store_bind_text(st, id, 8, row->old_id) == -1 ||
		    store_bind_blob(st, id, 9, row->old_a.p,
		    row->old_a.len) == -1 ||
		    store_bind_blob(st, id, 10, row->old_b.p,
		    row->old_b.len) == -1)
			goto out;
	} else if (b->table == STORE_REKEY_INSTALLS) {
		id = STMT_REKEY_INSTALL_SET;
		if (store_bind_text(st, id, 1, row->who.enterprise_id) == -1 ||
		    store_bind_text(st, id, 2, row->who.team_id) == -1 ||
		    store_bind_text(st, id, 3, b->new_id) == -1 ||
		    store_bind_blob(st, id, 4, row->new_a.p,
		    row->new_a.len) == -1 ||
		    store_bind_blob(st, id, 5, row->new_b.p,
		    row->new_b.len) == -1 ||
		    store_bind_int(st, id, 6, row->version) == -1 ||
		    store_bind_text(st, id, 7, row->old_id) == -1 ||
		    store_bind_blob(st, id, 8, row->old_a.p,
		    row->old_a.len) == -1 ||
		    store_bind_blob(st, id, 9, row->old_b.p,
		    row->old_b.len) == -1)
			goto out;
	} else if (b->table == STORE_REKEY_SEARCHES ||
	    b->table == STORE_REKEY_PENDING) {
		/* The same columns in the same places. */
		id = b->table == STORE_REKEY_SEARCHES ? STMT_REKEY_SEARCH_SET :
		    STMT_REKEY_PENDING_SET;
		if (store_bind_blob(st, id, 1, row->state_hash,
		    CRYPTO_HASHLEN) == -1 ||
		    store_bind_text(st, id, 2, b->new_id) == -1 ||
		    store_bind_blob(st, id, 3, row->new_a.p,
		    row->new_a.len) == -1 ||
		    store_bind_blob(st, id, 4, row->new_b.p,
		    row->new_b.len) == -1 ||
		    store_bind_text(st, id, 5, row->old_id) == -1 ||
		    store_bind_blob(st, id, 6, row->old_a.p,
		    row->old_a.len) == -1 ||
		    store_bind_blob(st, id, 7, row->old_b.p,
		    row->old_b.len) == -1)
			goto out;
	} else {
		id = STMT_REKEY_STATE_SET;
		if (store_bind_blob(st, id, 1, row->state_hash,
		    CRYPTO_HASHLEN) == -1 ||
		    store_bind_text(st, id, 2, b->new_id) == -1 ||
		    store_bind_blob(st, id, 3, row->new_a.p,
		    row->new_a.len) == -1 ||
		    store_bind_text(st, id, 4, row->old_id) == -1 ||
		    store_bind_blob(st, id, 5, row->old_a.p,
		    row->old_a.len) == -1)
			goto out;
	}
	if (store_step(st, id) == -1)
		goto out;
	rc = sqlite3_changes(st->db) == 1;
out:
	store_reset(st, id);
	return rc;
}

enum store_result
store_rekey_write(struct store *st, const struct store_rekey *b,
    struct store_rekey_counts *c)
{
	enum store_result	 r = STORE_ERROR;
	long			 done = 0, changed = 0;
	size_t			 i;
	int			 rc, began = 0;

	if (b == NULL || b->n == 0)
		return STORE_OK;
	st->last_rc = 0;
	if (store_write_begin(st) == -1) {
		r = store_failure(st);
		goto out;
	}
	began = 1;
	for (i = 0; i < b->n; i++) {
		if ((rc = store_rekey_set(st, b, &b->rows[i])) == -1) {
			r = store_failure(st);
			goto out;
		}
		if (rc == 1)
			done++;
		else
			changed++;
	}
	r = STORE_OK;
out:
	if (began && store_write_end(st, r == STORE_OK) == -1)
		r = store_failure(st);
	if (r == STORE_OK) {
		c->resealed += done;
		c->changed += changed;
	}
	return r;
}

enum store_result
store_key_census(struct store *st, struct store_key_count *out, size_t max,
    size_t *n)
{
	sqlite3_stmt		*s = st->stmt[STMT_KEY_CENSUS];
	struct store_key_count	*e;
	enum store_result	 r = STORE_ERROR;
	const unsigned char	*t;
	int			 rc;

	*n = 0;
	if (max == 0)
		return STORE_ERROR;
	st->last_rc = 0;
	while ((rc = store_step(st, STMT_KEY_CENSUS)) == SQLITE_ROW) {
		/* Past max ids, the rest are added up in the last entry. */
		if (*n < max) {
			e = &out[(*n)++];
			memset(e, 0, sizeof(*e));
			t = sqlite3_column_text(s, 0);
			if (t != NULL && sqlite3_column_bytes(s, 0) ==
			    CRYPTO_KEYID_LEN)
				memcpy(e->key_id, t, CRYPTO_KEYID_LEN);
		} else {
			e = &out[max - 1];
			e->key_id[0] = '\0';
		}
		e->links += (long)sqlite3_column_int64(s, 1);
		e->states += (long)sqlite3_column_int64(s, 2);
		e->integrations += (long)sqlite3_column_int64(s, 3);
	}
	r = rc == -1 ? store_failure(st) : STORE_OK;
	store_reset(st, STMT_KEY_CENSUS);
	return r;
}

/* --- Administration (forcelink-admin) ----------------------------------
 *
 * The calls only the admin tool makes (see the end of store.h).  They run
 * once per admin command, not per request, so their statements are
 * prepared when called and finalised before returning, from this fixed
 * array, instead of joining the per-connection set above.  Nothing here
 * reads a sealed column.
 */

/* The most links store_list_links() returns: far beyond any workspace,
 * but a ceiling all the same. */
#define STORE_LIST_MAX		1000000
/* Seconds in the windows of store_stats(). */
#define STORE_DAY_SECS		86400

enum astmt {
	ASTMT_LIST,
	ASTMT_REMOVE,
	ASTMT_STATS_LINKS,
	ASTMT_STATS_TEAMS,
	ASTMT_STATS_LOGIN,
	ASTMT_STATS_REPLAY,
	ASTMT_STATS_KEYS,
	ASTMT_PAGE_SIZE,
	ASTMT_PAGE_COUNT,
	ASTMT_FREELIST,
	ASTMT_USER_VERSION,
	ASTMT_INTEGRITY,
	ASTMT_NEWEST,
	ASTMT_STATS_INSTALLS,
	ASTMT__MAX
};

static const struct {
	const char	*name;	/* for logs */
	const char	*sql;
} astmts[ASTMT__MAX] = {
	[ASTMT_LIST] = { "admin_list",
	    "SELECT enterprise_id, team_id, user_id, org, sf_user_id, "
	    "sf_org_id, sf_username, instance_url, key_id, version, "
	    "created_at, updated_at, last_used_at FROM sf_link "
	    "WHERE (?1 IS NULL OR enterprise_id = ?1) "
	    "AND (?2 IS NULL OR team_id = ?2) "
	    "AND (?3 IS NULL OR user_id = ?3) "
	    "ORDER BY team_id, user_id, enterprise_id" },
	[ASTMT_REMOVE] = { "admin_remove",
	    "DELETE FROM sf_link "
	    "WHERE enterprise_id = ?1 AND team_id = ?2 AND user_id = ?3" },
	[ASTMT_STATS_LINKS] = { "admin_stats_links",
	    "SELECT count(*), total(last_used_at >= ?1), "
	    "total(last_used_at >= ?2), total(last_used_at IS NULL), "
	    "coalesce(min(created_at), 0), coalesce(max(created_at), 0) "
	    "FROM sf_link" },
	[ASTMT_STATS_TEAMS] = { "admin_stats_teams",
	    "SELECT enterprise_id, team_id, count(*) FROM sf_link "
	    "GROUP BY enterprise_id, team_id ORDER BY team_id, enterprise_id" },
	[ASTMT_STATS_LOGIN] = { "admin_stats_login",
	    "SELECT total(expires_at > ?1 AND started_at IS NULL), "
	    "total(expires_at > ?1 AND started_at IS NOT NULL "
	    "AND used_at IS NULL), "
	    "total(expires_at > ?1 AND used_at IS NOT NULL), "
	    "total(expires_at <= ?1) FROM login_state" },
	[ASTMT_STATS_REPLAY] = { "admin_stats_replay",
	    "SELECT total(expires_at > ?1), total(expires_at <= ?1) "
	    "FROM slack_replay" },
	/* A used login state keeps its key_id but no longer its verifier:
	 * only rows still holding something sealed count. */
	[ASTMT_STATS_KEYS] = { "admin_stats_keys",
	    "SELECT key_id, total(l), total(s) FROM ("
	    "SELECT key_id, 1 AS l, 0 AS s FROM sf_link UNION ALL "
	    "SELECT key_id, 0, 1 FROM login_state "
	    "WHERE key_id IS NOT NULL AND verifier_ct IS NOT NULL) "
	    "GROUP BY key_id ORDER BY key_id" },
	[ASTMT_PAGE_SIZE] = { "admin_page_size", "PRAGMA page_size" },
	[ASTMT_PAGE_COUNT] = { "admin_page_count", "PRAGMA page_count" },
	[ASTMT_FREELIST] = { "admin_freelist", "PRAGMA freelist_count" },
	[ASTMT_USER_VERSION] = { "admin_user_version", "PRAGMA user_version" },
	[ASTMT_INTEGRITY] = { "admin_integrity", "PRAGMA integrity_check" },
	/* The columns of ASTMT_LIST; ties in the order doctor's key.sample
	 * always broke them (the first in ASTMT_LIST's order). */
	[ASTMT_NEWEST] = { "admin_newest",
	    "SELECT enterprise_id, team_id, user_id, org, sf_user_id, "
	    "sf_org_id, sf_username, instance_url, key_id, version, "
	    "created_at, updated_at, last_used_at FROM sf_link "
	    "ORDER BY updated_at DESC, team_id, user_id, enterprise_id "
	    "LIMIT 1" },
	[ASTMT_STATS_INSTALLS] = { "admin_stats_installs",
	    "SELECT count(*), total(needs_reinstall != 0) FROM slack_install" },
};

/* Columns of ASTMT_LIST. */
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

/* Prepares admin statement id.  Returns the statement, or NULL after
 * logging. */
static sqlite3_stmt *
store_aprepare(struct store *st, enum astmt id)
{
	sqlite3_stmt	*s = NULL;

	if (sqlite3_prepare_v2(st->db, astmts[id].sql, -1, &s, NULL) !=
	    SQLITE_OK) {
		log_error("stmt=%s msg=\"%s\"", astmts[id].name,
		    sqlite3_errmsg(st->db));
		sqlite3_finalize(s);
		return NULL;
	}
	return s;
}

/* Steps admin statement s (named by id).  Returns SQLITE_ROW or
 * SQLITE_DONE, or -1 after logging. */
static int
store_astep(struct store *st, sqlite3_stmt *s, enum astmt id)
{
	int	 rc;

	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc;
	log_error("stmt=%s msg=\"%s\"", astmts[id].name,
	    sqlite3_errmsg(st->db));
	return -1;
}

/* Binds text s, or SQL NULL when s is NULL.  Returns 0 or -1 (logged). */
static int
store_abind_text(struct store *st, sqlite3_stmt *s, int col, const char *v)
{
	int	 rc;

	if (v == NULL)
		rc = sqlite3_bind_null(s, col);
	else
		rc = sqlite3_bind_text(s, col, v, -1, SQLITE_TRANSIENT);
	if (rc == SQLITE_OK)
		return 0;
	log_error("col=%d bind msg=\"%s\"", col, sqlite3_errmsg(st->db));
	return -1;
}

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

int
store_busy_failed(struct store *st)
{
	int	 rc;

	if (st == NULL || st->db == NULL)
		return 0;
	rc = sqlite3_errcode(st->db) & 0xff;
	return rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
}

/* --- Backups (forcelink-admin backup and restore) ---------------------
 *
 * Both directions go through SQLite's online backup API, which copies
 * the database page by page under SQLite's own locks: from a live
 * database it reads one snapshot (a WAL reader never blocks the
 * writers), and into a live database it writes in one transaction, under
 * the write lock, that every other connection sees whole or not at all
 * (the schema cookie changes, so they prepare their statements again).
 */

/*
 * Copies every page of src's main database into dst's in one step, so
 * that the copy is one snapshot: a copy made in several steps starts over
 * whenever another connection writes to src in between.  A lock held
 * elsewhere is waited for in naps within STORE_BUSY_MS.  Returns
 * STORE_OK, STORE_BUSY or STORE_ERROR (logged, naming what).
 */
static enum store_result
store_copy(sqlite3 *dst, sqlite3 *src, const char *what)
{
	const struct timespec	 pause = { 0, STORE_WAL_RETRY_MS * 1000000L };
	sqlite3_backup		*b;
	int			 rc, frc, waited = 0;

	if ((b = sqlite3_backup_init(dst, "main", src, "main")) == NULL) {
		log_error("op=%s msg=\"%s\"", what, sqlite3_errmsg(dst));
		return STORE_ERROR;
	}
	for (;;) {
		rc = sqlite3_backup_step(b, -1);
		if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) ||
		    waited >= STORE_BUSY_MS)
			break;
		nanosleep(&pause, NULL);
		waited += STORE_WAL_RETRY_MS;
	}
	frc = sqlite3_backup_finish(b);
	if (rc == SQLITE_DONE && frc == SQLITE_OK)
		return STORE_OK;
	log_error("op=%s msg=\"%s\"", what, rc == SQLITE_DONE ?
	    sqlite3_errmsg(dst) : sqlite3_errstr(rc));
	return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED ?
	    STORE_BUSY : STORE_ERROR;
}

enum store_result
store_backup(struct store *st, const char *path)
{
	enum store_result	 r = STORE_ERROR;
	sqlite3			*dst = NULL;

	/* No SQLITE_OPEN_CREATE: the caller made the file, empty and
	 * private, under a name nobody else uses. */
	if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_error("path=\"%s\" msg=\"%s\"", path, dst != NULL ?
		    sqlite3_errmsg(dst) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(dst, STORE_BUSY_MS);
	if ((r = store_copy(dst, st->db, "backup")) != STORE_OK)
		goto out;
	/*
	 * The copy of page 1 says "WAL", as the live file does.  In rollback
	 * mode the copy is one self-contained file: a read-only open needs
	 * no -wal or -shm beside it, and its checksum covers all of it.
	 */
	if (store_exec(dst, "backup journal mode",
	    "PRAGMA journal_mode=DELETE") == -1)
		r = STORE_ERROR;
out:
	if (dst != NULL && sqlite3_close(dst) != SQLITE_OK) {
		log_error("path=\"%s\" msg=\"%s\"", path, sqlite3_errmsg(dst));
		r = STORE_ERROR;
	}
	return r;
}

enum store_result
store_restore(struct store *st, const char *path)
{
	enum store_result	 r = STORE_ERROR;
	sqlite3			*src = NULL;

	if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_error("path=\"%s\" msg=\"%s\"", path, src != NULL ?
		    sqlite3_errmsg(src) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(src, STORE_BUSY_MS);
	/* A write as any: this process's writer mutex, and every token
	 * written with synchronous=FULL. */
	if (store_sync(st, "FULL") == -1)
		goto out;
	pthread_mutex_lock(&store_writer);
	r = store_copy(st->db, src, "restore");
	pthread_mutex_unlock(&store_writer);
	(void)store_sync(st, "NORMAL");
out:
	if (src != NULL)
		sqlite3_close(src);
	return r;
}

struct store *
store_open_readonly(const char *path, struct keyring *kr)
{
	struct store		*st = NULL;
	int			 v;

	pthread_once(&store_once, store_global_init);
	if (path == NULL || kr == NULL)
		return NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		log_error("msg=\"out of memory\"");
		return NULL;
	}
	st->kr = kr;
	store_keys(st);
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_error("path=\"%s\" msg=\"%s\"", path, st->db != NULL ?
		    sqlite3_errmsg(st->db) : "out of memory");
		goto out;
	}
	st->busy_cap_ms = STORE_BUSY_MS;
	sqlite3_busy_handler(st->db, store_busy, st);
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	if (store_user_version(st->db, &v) == -1)
		goto out;
	/* Nothing is migrated here: the statements need this very schema. */
	if (v != store_schema_version()) {
		log_error("path=\"%s\" msg=\"schema version %d, not this "
		    "program's %d: open it read-write to migrate it\"", path,
		    v, store_schema_version());
		goto out;
	}
	if (store_prepare(st) == -1 || store_integ_prepare(st) == -1)
		goto out;
	return st;
out:
	store_close(st);
	return NULL;
}

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

/* Fills l from the row s (ASTMT_LIST) is on.  Returns 0, or -1 (logged;
 * l may be half filled). */
static int
store_link_info_read(sqlite3_stmt *s, struct store_link_info *l)
{
	if (store_col_id(s, ACOL_ENTERPRISE_ID, l->who.enterprise_id,
	    sizeof(l->who.enterprise_id)) == -1 ||
	    store_col_id(s, ACOL_TEAM_ID, l->who.team_id,
	    sizeof(l->who.team_id)) == -1 ||
	    store_col_id(s, ACOL_USER_ID, l->who.user_id,
	    sizeof(l->who.user_id)) == -1) {
		log_error("msg=\"malformed Slack user in sf_link\"");
		return -1;
	}
	if ((l->org = store_col_dup(s, ACOL_ORG)) == NULL ||
	    (l->sf_user_id = store_col_dup(s, ACOL_SF_USER_ID)) == NULL ||
	    (l->sf_org_id = store_col_dup(s, ACOL_SF_ORG_ID)) == NULL ||
	    (l->sf_username = store_col_dup(s, ACOL_SF_USERNAME)) == NULL ||
	    (l->instance_url = store_col_dup(s, ACOL_INSTANCE_URL)) == NULL ||
	    (l->key_id = store_col_dup(s, ACOL_KEY_ID)) == NULL)
		return -1;
	l->version = sqlite3_column_int64(s, ACOL_VERSION);
	l->created_at = (time_t)sqlite3_column_int64(s, ACOL_CREATED_AT);
	l->updated_at = (time_t)sqlite3_column_int64(s, ACOL_UPDATED_AT);
	l->last_used_at = (time_t)sqlite3_column_int64(s, ACOL_LAST_USED_AT);
	return 0;
}

/* Makes room for one more entry in ll (*cap entries allocated).  Returns
 * 0, or -1 (logged) past STORE_LIST_MAX or on memory exhaustion. */
static int
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
	sqlite3_stmt		*s = NULL;
	enum store_result	 r = STORE_ERROR;
	size_t			 cap = 0;
	int			 rc;

	out->v = NULL;
	out->n = 0;
	if ((s = store_aprepare(st, ASTMT_LIST)) == NULL ||
	    store_abind_text(st, s, 1, enterprise_id) == -1 ||
	    store_abind_text(st, s, 2, team_id) == -1 ||
	    store_abind_text(st, s, 3, user_id) == -1)
		goto out;
	while ((rc = store_astep(st, s, ASTMT_LIST)) == SQLITE_ROW) {
		if (store_link_list_grow(out, &cap) == -1)
			goto out;
		memset(&out->v[out->n], 0, sizeof(out->v[0]));
		/* Counted before it is read, so a half-read row is freed. */
		out->n++;
		if (store_link_info_read(s, &out->v[out->n - 1]) == -1)
			goto out;
	}
	if (rc == SQLITE_DONE)
		r = STORE_OK;
out:
	sqlite3_finalize(s);
	if (r != STORE_OK)
		store_link_list_free(out);
	return r;
}

enum store_result
store_key_sample(struct store *st, struct store_link_info *info)
{
	struct store_link	 full;
	sqlite3_stmt		*s = NULL;
	enum store_result	 r = STORE_ERROR;
	int			 rc;

	memset(info, 0, sizeof(*info));
	if ((s = store_aprepare(st, ASTMT_NEWEST)) == NULL ||
	    (rc = store_astep(st, s, ASTMT_NEWEST)) == -1)
		goto out;
	if (rc == SQLITE_DONE) {
		r = STORE_NOTFOUND;
		goto out;
	}
	if (store_link_info_read(s, info) == -1)
		goto out;
	/* The statement is done with before the link is read: a read
	 * transaction left open would pin the WAL. */
	sqlite3_finalize(s);
	s = NULL;
	r = store_link_get(st, &info->who, &full);
	store_link_free(&full);
out:
	sqlite3_finalize(s);
	if (r != STORE_OK && r != STORE_BADKEY)
		store_link_info_free(info);
	return r;
}

enum store_result
store_link_remove(struct store *st, const struct slack_user *who)
{
	sqlite3_stmt		*s = NULL;
	enum store_result	 r = STORE_ERROR;

	if (!store_who_ok(who))
		return STORE_ERROR;
	pthread_mutex_lock(&store_writer);
	if ((s = store_aprepare(st, ASTMT_REMOVE)) == NULL ||
	    store_abind_text(st, s, 1, who->enterprise_id) == -1 ||
	    store_abind_text(st, s, 2, who->team_id) == -1 ||
	    store_abind_text(st, s, 3, who->user_id) == -1 ||
	    store_astep(st, s, ASTMT_REMOVE) == -1)
		goto out;
	r = sqlite3_changes(st->db) == 1 ? STORE_OK : STORE_NOTFOUND;
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&store_writer);
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
	*n += sqlite3_changes(st->db);
	rc = 0;
out:
	store_reset(st, id);
	return rc;
}

int
store_purge_counts(struct store *st, time_t now, struct store_purged *p)
{
	int	 rc = -1;

	p->login_states = p->replays = 0;
	pthread_mutex_lock(&store_writer);
	if (store_purge_one(st, STMT_PURGE_STATE, now,
	    &p->login_states) == 0 &&
	    store_purge_one(st, STMT_PURGE_REPLAY, now, &p->replays) == 0)
		rc = 0;
	pthread_mutex_unlock(&store_writer);
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

/* Runs the one-row admin statement id, with now and now2 bound to ?1 and
 * ?2 when it has them, and stores its first n columns (as integers) in
 * v.  Returns 0 or -1 (logged). */
static int
store_arow(struct store *st, enum astmt id, time_t now, time_t now2,
    int64_t *v, int n)
{
	sqlite3_stmt	*s;
	int		 i, rc = -1;

	if ((s = store_aprepare(st, id)) == NULL)
		return -1;
	if ((sqlite3_bind_parameter_count(s) >= 1 &&
	    sqlite3_bind_int64(s, 1, (int64_t)now) != SQLITE_OK) ||
	    (sqlite3_bind_parameter_count(s) >= 2 &&
	    sqlite3_bind_int64(s, 2, (int64_t)now2) != SQLITE_OK)) {
		log_error("stmt=%s bind msg=\"%s\"", astmts[id].name,
		    sqlite3_errmsg(st->db));
		goto out;
	}
	if (store_astep(st, s, id) != SQLITE_ROW) {
		log_error("stmt=%s msg=\"no row\"", astmts[id].name);
		goto out;
	}
	for (i = 0; i < n; i++)
		v[i] = sqlite3_column_int64(s, i);
	rc = 0;
out:
	sqlite3_finalize(s);
	return rc;
}

/* The per-workspace counts of store_stats().  Returns 0 or -1. */
static int
store_stats_teams(struct store *st, struct store_stats *ss)
{
	struct store_team_count	*v;
	sqlite3_stmt		*s;
	size_t			 cap = 0;
	int			 rc;

	if ((s = store_aprepare(st, ASTMT_STATS_TEAMS)) == NULL)
		return -1;
	while ((rc = store_astep(st, s, ASTMT_STATS_TEAMS)) == SQLITE_ROW) {
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
		if (store_col_id(s, 0, v->enterprise_id,
		    sizeof(v->enterprise_id)) == -1 ||
		    store_col_id(s, 1, v->team_id, sizeof(v->team_id)) == -1) {
			log_error("msg=\"malformed Slack ids in sf_link\"");
			rc = -1;
			break;
		}
		v->links = (long)sqlite3_column_int64(s, 2);
		ss->nteams++;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The per-key counts of store_stats().  Returns 0 or -1. */
static int
store_stats_keys(struct store *st, struct store_stats *ss)
{
	struct store_stats_key	*v;
	sqlite3_stmt		*s;
	size_t			 cap = 0;
	int			 rc;

	if ((s = store_aprepare(st, ASTMT_STATS_KEYS)) == NULL)
		return -1;
	while ((rc = store_astep(st, s, ASTMT_STATS_KEYS)) == SQLITE_ROW) {
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
		if ((v->key_id = store_col_dup(s, 0)) == NULL) {
			rc = -1;
			break;
		}
		v->links = (long)sqlite3_column_int64(s, 1);
		v->login_states = (long)sqlite3_column_int64(s, 2);
		ss->nkeys++;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_stats(struct store *st, time_t now, struct store_stats *ss)
{
	int64_t	 v[6];
	int	 rc = -1;

	memset(ss, 0, sizeof(*ss));
	/*
	 * Each figure is read on its own, not in one read transaction: so
	 * that a failure leaves SQLite's error code (which store_busy_failed
	 * reads) as it was.  Writes between two queries may make them differ
	 * by those writes, which statistics can live with.
	 */
	if (store_arow(st, ASTMT_STATS_LINKS, now - STORE_DAY_SECS,
	    now - 30 * STORE_DAY_SECS, v, 6) == -1)
		goto out;
	ss->links = (long)v[0];
	ss->links_used_24h = (long)v[1];
	ss->links_used_30d = (long)v[2];
	ss->links_never_used = (long)v[3];
	ss->oldest_created = (time_t)v[4];
	ss->newest_created = (time_t)v[5];
	if (store_arow(st, ASTMT_STATS_LOGIN, now, 0, v, 4) == -1)
		goto out;
	ss->login_waiting = (long)v[0];
	ss->login_started = (long)v[1];
	ss->login_used = (long)v[2];
	ss->login_expired = (long)v[3];
	if (store_arow(st, ASTMT_STATS_REPLAY, now, 0, v, 2) == -1)
		goto out;
	ss->replays_live = (long)v[0];
	ss->replays_expired = (long)v[1];
	if (store_arow(st, ASTMT_STATS_INSTALLS, 0, 0, v, 2) == -1)
		goto out;
	ss->installs = (long)v[0];
	ss->installs_reinstall = (long)v[1];
	if (store_arow(st, ASTMT_PAGE_SIZE, 0, 0, &v[0], 1) == -1 ||
	    store_arow(st, ASTMT_PAGE_COUNT, 0, 0, &v[1], 1) == -1 ||
	    store_arow(st, ASTMT_FREELIST, 0, 0, &v[2], 1) == -1 ||
	    store_arow(st, ASTMT_USER_VERSION, 0, 0, &v[3], 1) == -1)
		goto out;
	ss->page_size = (long)v[0];
	ss->page_count = (long)v[1];
	ss->freelist_count = (long)v[2];
	ss->schema_version = (int)v[3];
	if (store_stats_teams(st, ss) == -1 || store_stats_keys(st, ss) == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1)
		store_stats_free(ss);
	return rc;
}

int
store_integrity_check(struct store *st, char *msg, size_t msgsz)
{
	const unsigned char	*t;
	sqlite3_stmt		*s;
	int			 rc, r = -1, rows = 0;

	snprintf(msg, msgsz, "%s", "");
	if ((s = store_aprepare(st, ASTMT_INTEGRITY)) == NULL) {
		snprintf(msg, msgsz, "%s", sqlite3_errmsg(st->db));
		return -1;
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
		log_error("stmt=%s msg=\"%s\"", astmts[ASTMT_INTEGRITY].name,
		    msg);
	} else if (rows > 1)
		r = 1;
	sqlite3_finalize(s);
	return r;}

/* --- Searches remembered with a login link ---------------------------- */

/*
 * Associated data of a remembered search: the tag, "search", the hex of
 * the nonce hash (its row: the state hash does not exist yet when the
 * search is sealed), the column and the key id.  So neither value opens
 * on another row, nor in the other column.  Returns 0 or -1.
 */
static int
store_ad_search(struct store_ad *ad,
    const unsigned char nonce_hash[CRYPTO_HASHLEN], const char *column,
    const char *key_id)
{
	char		 hex[CRYPTO_HASHLEN * 2 + 1];
	const char *const f[] = { "search", hex, column, key_id };

	crypto_hex(nonce_hash, CRYPTO_HASHLEN, hex);
	return store_ad_fields(ad, f, sizeof(f) / sizeof(f[0]));
}

/* Seals column's value s for the row of nonce_hash under key k.
 * Returns 0, or -1 (logged). */
static int
store_seal_search(const struct crypto_key *k,
    const unsigned char nonce_hash[CRYPTO_HASHLEN], const char *column,
    const char *s, struct sealed *out)
{
	struct store_ad	 ad;

	if (store_ad_search(&ad, nonce_hash, column, k->id) == -1)
		return -1;
	if (crypto_seal(k, ad.b, ad.len, s, strlen(s), &out->p,
	    &out->len) == -1) {
		log_error("column=%s msg=\"cannot seal search\"", column);
		return -1;
	}
	return 0;
}

/*
 * Opens column's value in blob column col of the row STMT_SEARCH_GET is
 * on.  Returns STORE_OK and *out (free with crypto_free_secret),
 * STORE_BADKEY (logged) when it does not open, or STORE_ERROR (logged).
 */
static enum store_result
store_open_search(struct store *st, const struct crypto_key *k, int col,
    const unsigned char nonce_hash[CRYPTO_HASHLEN], const char *column,
    char **out)
{
	return store_open_row(st->stmt[STMT_SEARCH_GET], k, col, nonce_hash,
	    column, out);
}

/* store_open_search() for the row statement s is on. */
static enum store_result
store_open_row(sqlite3_stmt *s, const struct crypto_key *k, int col,
    const unsigned char nonce_hash[CRYPTO_HASHLEN], const char *column,
    char **out)
{
	struct store_ad	 ad;
	size_t		 len;
	int		 rc;

	if (store_ad_search(&ad, nonce_hash, column, k->id) == -1)
		return STORE_ERROR;
	rc = crypto_open(k, ad.b, ad.len, sqlite3_column_blob(s, col),
	    (size_t)sqlite3_column_bytes(s, col), out, &len);
	if (rc == -2) {
		log_error("column=%s msg=\"out of memory\"", column);
		return STORE_ERROR;
	} else if (rc != 0) {
		log_error("column=%s msg=\"sealed search does not open: "
		    "altered or wrong key\"", column);
		return STORE_BADKEY;
	}
	return STORE_OK;
}

/* Whether search has a text and a response_url within bounds. */
static int
store_search_ok(const struct store_search *search)
{
	size_t	 t, u;

	if (search->text == NULL || search->response_url == NULL) {
		log_error("msg=\"incomplete search\"");
		return 0;
	}
	t = strlen(search->text);
	u = strlen(search->response_url);
	if (t == 0 || t > STORE_SEARCH_TEXT_MAX || u == 0 ||
	    u > STORE_SEARCH_URL_MAX) {
		log_error("text_len=%zu url_len=%zu msg=\"search out of "
		    "bounds\"", t, u);
		return 0;
	}
	return 1;
}

enum store_result
store_nonce_add_search(struct store *st, const struct slack_user *who,
    const unsigned char nonce_hash[CRYPTO_HASHLEN], time_t expires,
    const struct store_search *search)
{
	if (search == NULL)
		return store_nonce_add(st, who, nonce_hash, expires);
	return store_nonce_add_login(st, who, NULL, nonce_hash, expires,
	    search);
}

/* Binds a name (NULL or "" as SQL NULL). */
static int
store_bind_name(struct store *st, enum stmt id, int col, const char *name)
{
	if (name == NULL || *name == '\0')
		return sqlite3_bind_null(st->stmt[id], col) == SQLITE_OK ? 0 :
		    store_bind_fail(st, id);
	return store_bind_text(st, id, col, name);
}

enum store_result
store_nonce_add_login(struct store *st, const struct slack_user *who,
    const struct store_names *names,
    const unsigned char nonce_hash[CRYPTO_HASHLEN], time_t expires,
    const struct store_search *search)
{
	struct sealed		 text = { NULL, 0 }, url = { NULL, 0 };
	const struct crypto_key	*k;
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_NONCE_ADD_SEARCH;
	int			 locked = 0;

	if (!store_who_ok(who) || (search != NULL &&
	    !store_search_ok(search)))
		return STORE_ERROR;
	/* Seal under the writers' mutex with the keys brought up to date
	 * there, as every write does (see store_keys), so that a rotation's
	 * grace period covers this row too. */
	pthread_mutex_lock(&store_writer);
	locked = 1;
	store_keys(st);
	k = store_key_current(st);
	if (search != NULL && (store_seal_search(k, nonce_hash, "search_ct",
	    search->text, &text) == -1 ||
	    store_seal_search(k, nonce_hash, "search_url_ct",
	    search->response_url, &url) == -1))
		goto out;
	/* Without a search, text.p and url.p are NULL: bound as NULL. */
	if (store_bind_user(st, id, who) == -1 ||
	    store_bind_blob(st, id, 4, nonce_hash, CRYPTO_HASHLEN) == -1 ||
	    store_bind_int(st, id, 5, (int64_t)time(NULL)) == -1 ||
	    store_bind_int(st, id, 6, (int64_t)expires) == -1 ||
	    store_bind_blob(st, id, 7, text.p, text.len) == -1 ||
	    store_bind_blob(st, id, 8, url.p, url.len) == -1 ||
	    store_bind_name(st, id, 9, search != NULL ? k->id : NULL) == -1 ||
	    store_bind_name(st, id, 10, names != NULL ? names->team_domain :
	    NULL) == -1 ||
	    store_bind_name(st, id, 11, names != NULL ? names->user_name :
	    NULL) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	r = STORE_OK;
out:
	store_reset(st, id);
	if (locked)
		pthread_mutex_unlock(&store_writer);
	free(text.p);
	free(url.p);
	return r;
}

/*
 * Reads and opens the search kept on the row of state_hash into *out
 * (left empty when there is none, or when it does not open, which is
 * logged), changing nothing.  Returns STORE_OK, or STORE_ERROR when
 * SQLite failed.
 */
static enum store_result
store_search_read(struct store *st,
    const unsigned char state_hash[CRYPTO_HASHLEN], struct store_search *out)
{
	sqlite3_stmt		*s = st->stmt[STMT_SEARCH_GET];
	const struct crypto_key	*k;
	unsigned char		 nh[CRYPTO_HASHLEN];
	enum store_result	 r = STORE_ERROR, o;
	int			 rc;

	memset(out, 0, sizeof(*out));
	if (store_bind_blob(st, STMT_SEARCH_GET, 1, state_hash,
	    CRYPTO_HASHLEN) == -1 ||
	    (rc = store_step(st, STMT_SEARCH_GET)) == -1)
		goto out;
	r = STORE_OK;
	if (rc != SQLITE_ROW)
		goto out;
	r = STORE_ERROR;
	if (sqlite3_column_bytes(s, RCOL_NONCE_HASH) != CRYPTO_HASHLEN) {
		log_error("msg=\"malformed nonce hash in login_state\"");
		goto out;
	}
	memcpy(nh, sqlite3_column_blob(s, RCOL_NONCE_HASH), sizeof(nh));
	/* store_key_find() logs a key we do not hold. */
	if ((k = store_key_find(st, s, RCOL_KEY_ID, "search")) == NULL)
		o = STORE_BADKEY;
	else if ((o = store_open_search(st, k, RCOL_TEXT_CT, nh, "search_ct",
	    &out->text)) == STORE_OK)
		o = store_open_search(st, k, RCOL_URL_CT, nh, "search_url_ct",
		    &out->response_url);
	if (o == STORE_ERROR)
		goto out;
	if (o == STORE_OK)
		out->created_at = (time_t)sqlite3_column_int64(s,
		    RCOL_CREATED_AT);
	else
		store_search_free(out);
	r = STORE_OK;
out:
	store_reset(st, STMT_SEARCH_GET);
	if (r != STORE_OK)
		store_search_free(out);
	return r;
}

/*
 * Inside store_state_take_search's transaction, once the state was
 * consumed: reads and opens the row's search into *out (as
 * store_search_read), then clears it on the row.  Returns STORE_OK, or
 * STORE_ERROR when SQLite failed (the caller then rolls the whole take
 * back).
 */
static enum store_result
store_search_take(struct store *st,
    const unsigned char state_hash[CRYPTO_HASHLEN], struct store_search *out)
{
	enum store_result	 r;

	if ((r = store_search_read(st, state_hash, out)) != STORE_OK)
		return r;
	if (store_bind_blob(st, STMT_SEARCH_CLEAR, 1, state_hash,
	    CRYPTO_HASHLEN) == -1 || store_run(st, STMT_SEARCH_CLEAR) == -1) {
		store_reset(st, STMT_SEARCH_CLEAR);
		store_search_free(out);
		return STORE_ERROR;
	}
	return STORE_OK;
}

enum store_result
store_search_peek(struct store *st,
    const unsigned char state_hash[CRYPTO_HASHLEN], struct store_search *out)
{
	store_keys(st);
	return store_search_read(st, state_hash, out);
}

void
store_search_free(struct store_search *search)
{
	if (search == NULL)
		return;
	crypto_free_secret(search->text);
	crypto_free_secret(search->response_url);
	memset(search, 0, sizeof(*search));
}

/* --- Proving who is in the browser (issue 11) ------------------------ */

/* Copies text column col (NULL as "") into dst, cut to fit. */
static void
store_col_name(sqlite3_stmt *s, int col, char *dst, size_t dstsz)
{
	const unsigned char	*t = sqlite3_column_text(s, col);

	snprintf(dst, dstsz, "%s", t != NULL ? (const char *)t : "");
}

enum store_result
store_nonce_peek(struct store *st,
    const unsigned char nonce_hash[CRYPTO_HASHLEN], time_t now,
    struct slack_user *who, struct store_names *names)
{
	sqlite3_stmt		*s = st->stmt[STMT_NONCE_PEEK];
	enum store_result	 r = STORE_ERROR;
	int			 rc;

	if (store_bind_blob(st, STMT_NONCE_PEEK, 1, nonce_hash,
	    CRYPTO_HASHLEN) == -1 ||
	    (rc = store_step(st, STMT_NONCE_PEEK)) == -1)
		goto out;
	if (rc == SQLITE_DONE)
		r = STORE_NOTFOUND;
	else if (sqlite3_column_type(s, SCOL_CONSUMED_AT) != SQLITE_NULL)
		r = STORE_USED;
	else if (sqlite3_column_int64(s, SCOL_EXPIRES_AT) <= (int64_t)now)
		r = STORE_EXPIRED;
	else if (store_col_user(s, who) == 0) {
		store_col_name(s, NCOL_TEAM_DOMAIN, names->team_domain,
		    sizeof(names->team_domain));
		store_col_name(s, NCOL_USER_NAME, names->user_name,
		    sizeof(names->user_name));
		r = STORE_OK;
	}
out:
	store_reset(st, STMT_NONCE_PEEK);
	return r;
}

/*
 * Reads the leg, the names and the nonce hash (nonce_hash may be NULL) of
 * the row of state_hash.  Returns STORE_OK, STORE_NOTFOUND or
 * STORE_ERROR.
 */
static enum store_result
store_state_row(struct store *st,
    const unsigned char state_hash[CRYPTO_HASHLEN], enum store_leg *leg,
    struct store_names *names, unsigned char nonce_hash[CRYPTO_HASHLEN])
{
	sqlite3_stmt		*s = st->stmt[STMT_STATE_PEEK];
	enum store_result	 r = STORE_ERROR;
	int			 rc;

	if (store_bind_blob(st, STMT_STATE_PEEK, 1, state_hash,
	    CRYPTO_HASHLEN) == -1 ||
	    (rc = store_step(st, STMT_STATE_PEEK)) == -1)
		goto out;
	r = STORE_NOTFOUND;
	if (rc == SQLITE_DONE)
		goto out;
	r = STORE_ERROR;
	if (sqlite3_column_bytes(s, PKCOL_NONCE_HASH) != CRYPTO_HASHLEN) {
		log_error("msg=\"malformed nonce hash in login_state\"");
		goto out;
	}
	if (nonce_hash != NULL)
		memcpy(nonce_hash, sqlite3_column_blob(s, PKCOL_NONCE_HASH),
		    CRYPTO_HASHLEN);
	if (leg != NULL)
		*leg = strcmp((const char *)sqlite3_column_text(s, PKCOL_LEG),
		    "slack") == 0 ? STORE_LEG_SLACK : STORE_LEG_SALESFORCE;
	if (names != NULL) {
		store_col_name(s, PKCOL_TEAM_DOMAIN, names->team_domain,
		    sizeof(names->team_domain));
		store_col_name(s, PKCOL_USER_NAME, names->user_name,
		    sizeof(names->user_name));
	}
	r = STORE_OK;
out:
	store_reset(st, STMT_STATE_PEEK);
	return r;
}

enum store_result
store_state_peek(struct store *st,
    const unsigned char state_hash[CRYPTO_HASHLEN], enum store_leg *leg,
    struct store_names *names)
{
	return store_state_row(st, state_hash, leg, names, NULL);
}

enum store_result
store_state_advance(struct store *st,
    const unsigned char old_hash[CRYPTO_HASHLEN],
    const unsigned char new_hash[CRYPTO_HASHLEN], const char *verifier,
    time_t expires)
{
	struct store_ad		 ad;
	struct sealed		 v = { NULL, 0 };
	const struct crypto_key	*k;
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_STATE_ADVANCE;

	pthread_mutex_lock(&store_writer);
	store_keys(st);
	k = store_key_current(st);
	/* The new verifier is sealed for the row's new state. */
	if (store_ad_verifier(&ad, new_hash, k->id) == -1)
		goto out;
	if (crypto_seal(k, ad.b, ad.len, verifier, strlen(verifier), &v.p,
	    &v.len) == -1) {
		log_error("msg=\"cannot seal verifier\"");
		goto out;
	}
	if (store_bind_blob(st, id, 1, old_hash, CRYPTO_HASHLEN) == -1 ||
	    store_bind_blob(st, id, 2, new_hash, CRYPTO_HASHLEN) == -1 ||
	    store_bind_blob(st, id, 3, v.p, v.len) == -1 ||
	    store_bind_text(st, id, 4, k->id) == -1 ||
	    store_bind_int(st, id, 5, (int64_t)expires) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	r = sqlite3_changes(st->db) == 1 ? STORE_OK : STORE_NOTFOUND;
out:
	store_reset(st, id);
	pthread_mutex_unlock(&store_writer);
	free(v.p);
	return r;
}

/* Runs statement id, which makes the row of state_hash unusable. */
static enum store_result
store_state_unusable(struct store *st, enum stmt id,
    const unsigned char state_hash[CRYPTO_HASHLEN], time_t now)
{
	enum store_result	 r = STORE_ERROR;

	pthread_mutex_lock(&store_writer);
	if (store_bind_blob(st, id, 1, state_hash, CRYPTO_HASHLEN) == -1 ||
	    store_bind_int(st, id, 2, (int64_t)now) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	r = sqlite3_changes(st->db) == 1 ? STORE_OK : STORE_NOTFOUND;
out:
	store_reset(st, id);
	pthread_mutex_unlock(&store_writer);
	return r;
}

enum store_result
store_state_void(struct store *st,
    const unsigned char state_hash[CRYPTO_HASHLEN], time_t now)
{
	return store_state_unusable(st, STMT_STATE_VOID, state_hash, now);
}

enum store_result
store_state_burn(struct store *st,
    const unsigned char state_hash[CRYPTO_HASHLEN], time_t now)
{
	return store_state_unusable(st, STMT_STATE_BURN, state_hash, now);
}

enum store_result
store_pending_put(struct store *st,
    const unsigned char state_hash[CRYPTO_HASHLEN],
    const struct store_link *in,
    const unsigned char code_hash[CRYPTO_HASHLEN], time_t expires)
{
	struct sealed		 a = { NULL, 0 }, rt = { NULL, 0 };
	const struct crypto_key	*k;
	unsigned char		 nh[CRYPTO_HASHLEN];
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_PEND_PUT;
	int			 began = 0;

	if (!store_link_complete(in))
		return STORE_ERROR;
	store_keys(st);
	if (store_write_begin(st) == -1)
		goto out;
	began = 1;
	if ((r = store_state_row(st, state_hash, NULL, NULL, nh)) !=
	    STORE_OK)
		goto out;
	r = STORE_ERROR;
	store_keys(st);
	k = store_key_current(st);
	if (store_seal_search(k, nh, "pend_access_ct", in->access_token,
	    &a) == -1 ||
	    store_seal_search(k, nh, "pend_refresh_ct", in->refresh_token,
	    &rt) == -1)
		goto out;
	if (store_bind_blob(st, id, 1, nh, CRYPTO_HASHLEN) == -1 ||
	    store_bind_text(st, id, 2, in->org) == -1 ||
	    store_bind_text(st, id, 3, in->sf_user_id) == -1 ||
	    store_bind_text(st, id, 4, in->sf_org_id) == -1 ||
	    store_bind_text(st, id, 5, in->sf_username) == -1 ||
	    store_bind_text(st, id, 6, in->instance_url) == -1 ||
	    store_bind_text(st, id, 7, k->id) == -1 ||
	    store_bind_blob(st, id, 8, a.p, a.len) == -1 ||
	    store_bind_blob(st, id, 9, rt.p, rt.len) == -1 ||
	    store_bind_blob(st, id, 10, code_hash, CRYPTO_HASHLEN) == -1 ||
	    store_bind_int(st, id, 11, (int64_t)expires) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	r = sqlite3_changes(st->db) == 1 ? STORE_OK : STORE_NOTFOUND;
out:
	store_reset(st, id);
	if (began && store_write_end(st, r == STORE_OK) == -1)
		r = STORE_ERROR;
	free(a.p);
	free(rt.p);
	return r;
}

void
store_pending_free(struct store_pending *p)
{
	if (p == NULL)
		return;
	store_link_free(&p->link);
	memset(p, 0, sizeof(*p));
}

/*
 * Reads the pending row statement id is on into *p: its Slack user, its
 * nonce hash and, when open is set, its link with both tokens opened.
 * Returns STORE_OK, STORE_BADKEY (logged: the tokens do not open) or
 * STORE_ERROR.
 */
static enum store_result
store_pending_read(struct store *st, enum stmt id, int open,
    struct store_pending *p)
{
	sqlite3_stmt		*s = st->stmt[id];
	const struct crypto_key	*k;
	enum store_result	 r = STORE_ERROR;

	memset(p, 0, sizeof(*p));
	if (store_col_user(s, &p->who) == -1 ||
	    sqlite3_column_bytes(s, PCOL_NONCE_HASH) != CRYPTO_HASHLEN ||
	    sqlite3_column_bytes(s, PCOL_STATE_HASH) != CRYPTO_HASHLEN) {
		log_error("msg=\"malformed pending login_state row\"");
		goto out;
	}
	memcpy(p->nonce_hash, sqlite3_column_blob(s, PCOL_NONCE_HASH),
	    CRYPTO_HASHLEN);
	memcpy(p->state_hash, sqlite3_column_blob(s, PCOL_STATE_HASH),
	    CRYPTO_HASHLEN);
	p->expires_at = (time_t)sqlite3_column_int64(s, PCOL_EXPIRES_AT);
	if (!open) {
		r = STORE_OK;
		goto out;
	}
	if ((p->link.org = store_col_dup(s, PCOL_ORG)) == NULL ||
	    (p->link.sf_user_id = store_col_dup(s, PCOL_SF_USER_ID)) ==
	    NULL ||
	    (p->link.sf_org_id = store_col_dup(s, PCOL_SF_ORG_ID)) == NULL ||
	    (p->link.sf_username = store_col_dup(s, PCOL_SF_USERNAME)) ==
	    NULL ||
	    (p->link.instance_url = store_col_dup(s, PCOL_INSTANCE_URL)) ==
	    NULL)
		goto out;
	if ((k = store_key_find(st, s, PCOL_KEY_ID, "pending link")) ==
	    NULL) {
		r = STORE_BADKEY;
		goto out;
	}
	if ((r = store_open_row(s, k, PCOL_ACCESS_CT, p->nonce_hash,
	    "pend_access_ct", &p->link.access_token)) == STORE_OK)
		r = store_open_row(s, k, PCOL_REFRESH_CT, p->nonce_hash,
		    "pend_refresh_ct", &p->link.refresh_token);
out:
	if (r != STORE_OK)
		store_pending_free(p);
	return r;
}

/* Runs a statement of the pending family bound to one nonce hash and
 * time (?2; unbound when now is -1).  Returns 0 or -1 (logged). */
static int
store_pending_set(struct store *st, enum stmt id,
    const unsigned char nonce_hash[CRYPTO_HASHLEN], time_t now)
{
	if (store_bind_blob(st, id, 1, nonce_hash, CRYPTO_HASHLEN) == -1 ||
	    (now != -1 && store_bind_int(st, id, 2, (int64_t)now) == -1))
		return -1;
	return store_run(st, id);
}

static int
store_same_user(const struct slack_user *a, const struct slack_user *b)
{
	return strcmp(a->enterprise_id, b->enterprise_id) == 0 &&
	    strcmp(a->team_id, b->team_id) == 0 &&
	    strcmp(a->user_id, b->user_id) == 0;
}

/* Where store_pending_take() hands what the link it stored replaced. */
struct store_take_link {
	char	**old_org;	/* the replaced link's integration */
	char	**old_refresh;	/* and its refresh token */
};

/*
 * store_pending_confirm() with tl NULL; with tl, store_pending_link():
 * finding, checking and taking the row, and then writing the link, are
 * one write transaction.
 */
static enum store_result
store_pending_take(struct store *st,
    const unsigned char code_hash[CRYPTO_HASHLEN],
    const struct slack_user *who, time_t now, struct store_pending *p,
    struct store_search *search, const struct store_take_link *tl)
{
	struct store_search	 found;
	enum store_result	 r = STORE_ERROR;
	char			*org = NULL, *old = NULL;
	int			 began = 0, rc;

	memset(p, 0, sizeof(*p));
	memset(&found, 0, sizeof(found));
	memset(search, 0, sizeof(*search));
	store_keys(st);
	/* Finding, checking and taking the row are one transaction: of two
	 * confirms with one code, one gets the link. */
	if (store_write_begin(st) == -1)
		goto out;
	began = 1;
	if (store_bind_blob(st, STMT_PEND_FIND, 1, code_hash,
	    CRYPTO_HASHLEN) == -1 ||
	    (rc = store_step(st, STMT_PEND_FIND)) == -1)
		goto out;
	r = STORE_NOTFOUND;
	if (rc == SQLITE_DONE || sqlite3_column_int64(st->stmt[STMT_PEND_FIND],
	    PCOL_EXPIRES_AT) <= (int64_t)now)
		goto out;
	/* Another Slack user's code: the row is void, and left (with its
	 * tokens) for store_pending_due(), which revokes them. */
	if ((r = store_pending_read(st, STMT_PEND_FIND, 0, p)) != STORE_OK)
		goto out;
	if (!store_same_user(&p->who, who)) {
		store_reset(st, STMT_PEND_FIND);
		r = store_pending_set(st, STMT_PEND_VOID, p->nonce_hash,
		    now) == 0 ? STORE_MISMATCH : STORE_ERROR;
		goto out;
	}
	if ((r = store_pending_read(st, STMT_PEND_FIND, 1, p)) != STORE_OK)
		goto out;
	store_reset(st, STMT_PEND_FIND);
	r = STORE_ERROR;
	if (store_pending_set(st, STMT_PEND_CLEAR, p->nonce_hash, -1) == -1 ||
	    (r = store_search_take(st, p->state_hash, &found)) != STORE_OK)
		goto out;
	if (tl == NULL)
		goto out;
	/* The link is written in the transaction that clears the pending
	 * columns: a worker killed at any instant leaves the grant pending
	 * (the sweep revokes it when it expires) or stored, never neither.
	 * The replaced link's integration is read here too, as it is now. */
	r = store_link_org(st, who, &org);
	if (r != STORE_OK && r != STORE_NOTFOUND)
		goto out;
	r = store_link_complete(&p->link) ? store_link_write(st, who,
	    &p->link, &old) : STORE_ERROR;
out:
	store_reset(st, STMT_PEND_FIND);
	if (began && store_write_end(st, r == STORE_OK ||
	    r == STORE_MISMATCH) == -1)
		r = STORE_ERROR;
	if (r == STORE_OK) {
		*search = found;
		memset(&found, 0, sizeof(found));
		if (tl != NULL) {
			*tl->old_org = org;
			*tl->old_refresh = old;
			org = old = NULL;
		}
	} else if (r != STORE_MISMATCH)
		store_pending_free(p);
	store_search_free(&found);
	free(org);
	crypto_free_secret(old);
	return r;
}

enum store_result
store_pending_confirm(struct store *st,
    const unsigned char code_hash[CRYPTO_HASHLEN],
    const struct slack_user *who, time_t now, struct store_pending *p,
    struct store_search *search)
{
	return store_pending_take(st, code_hash, who, now, p, search, NULL);
}

enum store_result
store_pending_link(struct store *st,
    const unsigned char code_hash[CRYPTO_HASHLEN],
    const struct slack_user *who, time_t now, struct store_pending *p,
    struct store_search *search, char **old_org, char **old_refresh)
{
	const struct store_take_link	 tl = { old_org, old_refresh };

	*old_org = *old_refresh = NULL;
	if (!store_who_ok(who)) {
		memset(p, 0, sizeof(*p));
		memset(search, 0, sizeof(*search));
		return STORE_ERROR;
	}
	return store_pending_take(st, code_hash, who, now, p, search, &tl);
}

enum store_result
store_pending_miss(struct store *st, const struct slack_user *who,
    time_t now, int max, int *left, int *voided)
{
	sqlite3_stmt		*s = st->stmt[STMT_PEND_LEFT];
	enum store_result	 r = STORE_ERROR;
	const enum stmt		 ids[] = {
		STMT_PEND_MISS, STMT_PEND_MISS_VOID, STMT_PEND_LEFT
	};
	size_t			 i;
	int			 began = 0, rc = SQLITE_DONE;

	*left = *voided = 0;
	if (store_begin(st) == -1)
		goto out;
	began = 1;
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		if (store_bind_user(st, ids[i], who) == -1 ||
		    store_bind_int(st, ids[i], 4, (int64_t)now) == -1 ||
		    (ids[i] != STMT_PEND_MISS && store_bind_int(st, ids[i], 5,
		    max) == -1) || (rc = store_step(st, ids[i])) == -1)
			goto out;
		if (ids[i] == STMT_PEND_MISS_VOID)
			*voided = sqlite3_changes(st->db);
		if (ids[i] != STMT_PEND_LEFT)
			store_reset(st, ids[i]);
	}
	/* min() over no rows is NULL: nothing is waiting any more. */
	if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
		*left = sqlite3_column_int(s, 0);
	r = STORE_OK;
out:
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		store_reset(st, ids[i]);
	if (began && store_end(st, r == STORE_OK) == -1)
		r = STORE_ERROR;
	return r;
}

enum store_result
store_pending_due(struct store *st, time_t now, int max,
    struct store_pending **out, size_t *n)
{
	struct store_pending	*v = NULL, *p;
	enum store_result	 r = STORE_ERROR, o;
	int			 rc;

	*out = NULL;
	*n = 0;
	if (max < 1 || (v = calloc((size_t)max, sizeof(*v))) == NULL)
		goto out;
	store_keys(st);
	if (store_bind_int(st, STMT_PEND_DUE, 1, (int64_t)now) == -1 ||
	    store_bind_int(st, STMT_PEND_DUE, 2, max) == -1)
		goto out;
	while ((rc = store_step(st, STMT_PEND_DUE)) == SQLITE_ROW) {
		p = &v[*n];
		/* One that does not open (a key we do not hold) cannot be
		 * revoked by us: it stays, and is skipped (logged). */
		if ((o = store_pending_read(st, STMT_PEND_DUE, 1, p)) ==
		    STORE_BADKEY)
			continue;
		if (o != STORE_OK)
			goto out;
		(*n)++;
	}
	if (rc == -1)
		goto out;
	*out = v;
	v = NULL;
	r = STORE_OK;
out:
	store_reset(st, STMT_PEND_DUE);
	if (v != NULL) {
		while (*n > 0)
			store_pending_free(&v[--*n]);
		free(v);
	}
	return r;
}

void
store_pending_list_free(struct store_pending *v, size_t n)
{
	size_t	 i;

	for (i = 0; v != NULL && i < n; i++)
		store_pending_free(&v[i]);
	free(v);
}

enum store_result
store_pending_drop(struct store *st, const struct store_pending *p)
{
	enum store_result	 r = STORE_ERROR;

	/* By the nonce hash alone: a row is given a pending link once (its
	 * state is used by then), so what is there is what was revoked. */
	pthread_mutex_lock(&store_writer);
	if (store_pending_set(st, STMT_PEND_DROP, p->nonce_hash, -1) == 0)
		r = sqlite3_changes(st->db) == 1 ? STORE_OK : STORE_NOTFOUND;
	pthread_mutex_unlock(&store_writer);
	return r;
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
    const char *key_id, const struct sealed *bot, const struct sealed *ref,
    time_t now)
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
	    store_bind_text(st, id, 10, key_id) == -1 ||
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
	const struct crypto_key	*k;
	enum store_result	 r = STORE_ERROR;
	int			 began = 0;

	if (!store_install_complete(in) ||
	    !store_install_who(in->enterprise_id, in->team_id, &who))
		goto out;
	store_keys(st);
	if (store_write_begin(st) == -1)
		goto out;
	began = 1;
	/* Sealed once the write lock is held, with the keys brought up to
	 * date there, as every write does (see store_keys). */
	store_keys(st);
	k = store_key_current(st);
	if (store_seal_token(k, &who, STORE_INSTALL_BOT, in->bot_token,
	    &bot) == -1 ||
	    (in->refresh_token != NULL && store_seal_token(k, &who,
	    STORE_INSTALL_REFRESH, in->refresh_token, &ref) == -1))
		goto out;
	if (store_install_bind_put(st, in, k->id, &bot, &ref,
	    time(NULL)) == -1 ||
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
	const struct crypto_key	*k;
	enum store_result	 r;

	/* store_key_find() logs a key we do not hold. */
	if ((k = store_key_find(st, s, ICOL_KEY_ID, "installation")) == NULL)
		return STORE_BADKEY;
	if ((r = store_open_token(k, s, ICOL_BOT_CT, who, STORE_INSTALL_BOT,
	    &out->bot_token)) != STORE_OK)
		return r;
	if (sqlite3_column_type(s, ICOL_REFRESH_CT) != SQLITE_NULL &&
	    (r = store_open_token(k, s, ICOL_REFRESH_CT, who,
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
	const struct crypto_key	*k;
	char			 rowkey[CRYPTO_KEYID_LEN + 1];
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_INSTALL_UPDATE;
	int			 began = 0, rc;

	if (!store_install_who(ent, team, &who) || bot_token == NULL)
		goto out;
	store_keys(st);
	if (store_write_begin(st) == -1)
		goto out;
	began = 1;
	/* Only a row under a key we hold can have been read, and so be
	 * refreshed; store_key_find() logs one that is not. */
	if (store_bind_text(st, STMT_INSTALL_KEYID, 1, ent) == -1 ||
	    store_bind_text(st, STMT_INSTALL_KEYID, 2, team) == -1 ||
	    (rc = store_step(st, STMT_INSTALL_KEYID)) == -1)
		goto out;
	if (rc != SQLITE_ROW || (k = store_key_find(st,
	    st->stmt[STMT_INSTALL_KEYID], 0, "installation")) == NULL) {
		r = STORE_CONFLICT;
		goto out;
	}
	snprintf(rowkey, sizeof(rowkey), "%s", k->id);
	store_reset(st, STMT_INSTALL_KEYID);
	/* Sealed under the write lock with up-to-date keys (store_keys). */
	store_keys(st);
	k = store_key_current(st);
	if (store_seal_token(k, &who, STORE_INSTALL_BOT, bot_token,
	    &bot) == -1 ||
	    (refresh_token != NULL && store_seal_token(k, &who,
	    STORE_INSTALL_REFRESH, refresh_token, &ref) == -1))
		goto out;
	if (store_bind_text(st, id, 1, ent) == -1 ||
	    store_bind_text(st, id, 2, team) == -1 ||
	    store_bind_blob(st, id, 3, bot.p, bot.len) == -1 ||
	    store_bind_blob(st, id, 4, ref.p, ref.len) == -1 ||
	    store_bind_time(st, id, 5, expires_at) == -1 ||
	    store_bind_int(st, id, 6, (int64_t)time(NULL)) == -1 ||
	    store_bind_int(st, id, 7, expect) == -1 ||
	    store_bind_text(st, id, 8, k->id) == -1 ||
	    store_bind_text(st, id, 9, rowkey) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	r = sqlite3_changes(st->db) == 1 ? STORE_OK : STORE_CONFLICT;
out:
	store_reset(st, STMT_INSTALL_KEYID);
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

/*
 * Inside store_install_state_take's transaction: purges the expired used
 * states, then, while cap or more remain, drops the ones that expire
 * first, adding their number to *dropped.  Returns 0 or -1 (logged).
 */
static int
store_install_state_room(struct store *st, time_t now, long cap,
    long *dropped)
{
	int64_t	 n;
	int	 rc = -1;

	if (store_bind_int(st, STMT_PURGE_ISTATE, 1, (int64_t)now) == -1 ||
	    store_step(st, STMT_PURGE_ISTATE) == -1 ||
	    store_step(st, STMT_ISTATE_COUNT) != SQLITE_ROW)
		goto out;
	n = sqlite3_column_int64(st->stmt[STMT_ISTATE_COUNT], 0);
	if (n >= cap) {
		if (store_bind_int(st, STMT_ISTATE_DROP, 1, n - cap + 1) ==
		    -1 || store_step(st, STMT_ISTATE_DROP) == -1)
			goto out;
		*dropped += sqlite3_changes(st->db);
	}
	rc = 0;
out:
	store_reset(st, STMT_PURGE_ISTATE);
	store_reset(st, STMT_ISTATE_COUNT);
	store_reset(st, STMT_ISTATE_DROP);
	return rc;
}

enum store_result
store_install_state_take(struct store *st,
    const unsigned char state_hash[CRYPTO_HASHLEN],
    const unsigned char cookie_hash[CRYPTO_HASHLEN], time_t issued,
    time_t expires, time_t now, long cap, long *dropped)
{
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_ISTATE_ADD;
	int			 began = 0, rc;

	*dropped = 0;
	if (cap < 1)
		goto out;
	/* The check, the room and the insert share one write transaction,
	 * so of concurrent callers with one state exactly one records it,
	 * and the table never holds more than cap rows.  The check comes
	 * before the room is made: a state that is itself among the oldest
	 * is found used, not dropped and recorded again. */
	if (store_begin(st) == -1)
		goto out;
	began = 1;
	if (store_bind_blob(st, STMT_ISTATE_GET, 1, state_hash,
	    CRYPTO_HASHLEN) == -1 ||
	    (rc = store_step(st, STMT_ISTATE_GET)) == -1)
		goto out;
	store_reset(st, STMT_ISTATE_GET);
	if (rc == SQLITE_ROW) {
		r = STORE_USED;
		goto out;
	}
	if (store_install_state_room(st, now, cap, dropped) == -1 ||
	    store_bind_blob(st, id, 1, state_hash, CRYPTO_HASHLEN) == -1 ||
	    store_bind_blob(st, id, 2, cookie_hash, CRYPTO_HASHLEN) == -1 ||
	    store_bind_int(st, id, 3, (int64_t)issued) == -1 ||
	    store_bind_int(st, id, 4, (int64_t)expires) == -1 ||
	    store_bind_int(st, id, 5, (int64_t)now) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	r = STORE_OK;
out:
	store_reset(st, STMT_ISTATE_GET);
	store_reset(st, id);
	if (began && store_end(st, r == STORE_OK) == -1)
		r = STORE_ERROR;
	if (r != STORE_OK)
		*dropped = 0;
	return r;
}

/* --- Salesforce integrations (sql/004_integrations.sql) ---------------
 *
 * Named app registrations, the workspace mappings and the integration
 * users' tokens (see store.h).  Their statements are a set of their own,
 * prepared with the others when a connection opens (a request then
 * allocates nothing that outlives it) and kept until it closes.  The
 * sealed values follow the links' rules: sealed inside the
 * write transaction under the key current then, opened with the key the
 * row's key id names, associated data naming the row and the column.
 */

enum istmt {
	ISTMT_WS_LOOKUP,
	ISTMT_WS_GET,
	ISTMT_WS_PUT,
	ISTMT_WS_DEL,
	ISTMT_WS_LIST,
	ISTMT_WS_DEL_INTEG,
	ISTMT_INTEG_GET,
	ISTMT_INTEG_ADD,
	ISTMT_INTEG_SET_SECRET,
	ISTMT_INTEG_EXISTS,
	ISTMT_INTEG_LIST,
	ISTMT_INTEG_DEL,
	ISTMT_LINKS_BY_ORG,
	ISTMT_LINKS_DEL_ORG,
	ISTMT_LINK_ORG,
	ISTMT_STATE_SET_ORG,
	ISTMT_STATE_ORG,
	ISTMT_ITOKEN_GET,
	ISTMT_ITOKEN_INS,
	ISTMT_ITOKEN_UPD,
	ISTMT_ITOKEN_DEL,
	ISTMT_REKEY_INTEG,
	ISTMT_REKEY_INTEG_SET,
	ISTMT_REKEY_ITOKEN,
	ISTMT_REKEY_ITOKEN_SET,
	ISTMT__MAX
};

static const struct {
	const char	*name;	/* for logs */
	const char	*sql;
} istmts[ISTMT__MAX] = {
	/* The team's mapping first, then the enterprise's; a mapping to an
	 * integration that is gone is skipped.  Two primary-key lookups. */
	[ISTMT_WS_LOOKUP] = { "ws_lookup",
	    "SELECT integration, iu FROM ("
	    "SELECT 0 AS o, w.integration, "
	    "coalesce(i.integration_user, 0) AS iu "
	    "FROM workspace_integration w "
	    "LEFT JOIN sf_integration i ON i.name = w.integration "
	    "WHERE w.kind = 'team' AND w.slack_id = ?2 "
	    "AND (w.integration = '' OR i.name IS NOT NULL) "
	    "UNION ALL "
	    "SELECT 1, w.integration, coalesce(i.integration_user, 0) "
	    "FROM workspace_integration w "
	    "LEFT JOIN sf_integration i ON i.name = w.integration "
	    "WHERE w.kind = 'enterprise' AND w.slack_id = ?1 "
	    "AND (w.integration = '' OR i.name IS NOT NULL)) "
	    "ORDER BY o LIMIT 1" },
	[ISTMT_WS_GET] = { "ws_get",
	    "SELECT integration FROM workspace_integration "
	    "WHERE kind = ?1 AND slack_id = ?2" },
	[ISTMT_WS_PUT] = { "ws_put",
	    "INSERT INTO workspace_integration (kind, slack_id, integration, "
	    "updated_at) VALUES (?1, ?2, ?3, ?4) "
	    "ON CONFLICT (kind, slack_id) DO UPDATE SET "
	    "integration = excluded.integration, "
	    "updated_at = excluded.updated_at" },
	[ISTMT_WS_DEL] = { "ws_del",
	    "DELETE FROM workspace_integration "
	    "WHERE kind = ?1 AND slack_id = ?2" },
	[ISTMT_WS_LIST] = { "ws_list",
	    "SELECT w.kind, w.slack_id, w.integration, w.updated_at, "
	    "(SELECT count(*) FROM sf_link l WHERE "
	    "(w.kind = 'team' AND l.team_id = w.slack_id) OR "
	    "(w.kind = 'enterprise' AND l.enterprise_id = w.slack_id)), "
	    "(SELECT count(*) FROM sf_link l WHERE "
	    "((w.kind = 'team' AND l.team_id = w.slack_id) OR "
	    "(w.kind = 'enterprise' AND l.enterprise_id = w.slack_id)) "
	    "AND l.org <> w.integration) "
	    "FROM workspace_integration w "
	    "WHERE ?1 IS NULL OR w.integration = ?1 "
	    "ORDER BY w.kind DESC, w.slack_id" },
	[ISTMT_WS_DEL_INTEG] = { "ws_del_integ",
	    "DELETE FROM workspace_integration WHERE integration = ?1" },
	[ISTMT_INTEG_GET] = { "integ_get",
	    "SELECT login_url, client_id, key_id, client_secret_ct, "
	    "api_version, integration_user FROM sf_integration "
	    "WHERE name = ?1" },
	/* Only the name's uniqueness is an expected conflict; a CHECK that
	 * fails is an error (INSERT OR IGNORE would hide it). */
	[ISTMT_INTEG_ADD] = { "integ_add",
	    "INSERT INTO sf_integration (name, login_url, client_id, key_id, "
	    "client_secret_ct, api_version, integration_user, created_at) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
	    "ON CONFLICT (name) DO NOTHING" },
	[ISTMT_INTEG_SET_SECRET] = { "integ_set_secret",
	    "UPDATE sf_integration SET key_id = ?2, client_secret_ct = ?3 "
	    "WHERE name = ?1" },
	[ISTMT_INTEG_EXISTS] = { "integ_exists",
	    "SELECT 1 FROM sf_integration WHERE name = ?1" },
	[ISTMT_INTEG_LIST] = { "integ_list",
	    "SELECT i.name, i.login_url, i.client_id, i.api_version, "
	    "i.key_id, i.integration_user, i.created_at, "
	    "(SELECT count(*) FROM workspace_integration w "
	    "WHERE w.integration = i.name), "
	    "(SELECT count(*) FROM sf_link l WHERE l.org = i.name), "
	    "(SELECT t.sf_username FROM integration_token t "
	    "WHERE t.integration = i.name) "
	    "FROM sf_integration i ORDER BY i.name" },
	[ISTMT_INTEG_DEL] = { "integ_del",
	    "DELETE FROM sf_integration WHERE name = ?1" },
	/* The columns of ASTMT_LIST, in its order (store_link_info_read). */
	[ISTMT_LINKS_BY_ORG] = { "links_by_org",
	    "SELECT enterprise_id, team_id, user_id, org, sf_user_id, "
	    "sf_org_id, sf_username, instance_url, key_id, version, "
	    "created_at, updated_at, last_used_at FROM sf_link "
	    "WHERE org = ?1 ORDER BY team_id, user_id, enterprise_id" },
	[ISTMT_LINKS_DEL_ORG] = { "links_del_org",
	    "DELETE FROM sf_link WHERE org = ?1" },
	[ISTMT_LINK_ORG] = { "link_org",
	    "SELECT org FROM sf_link "
	    "WHERE enterprise_id = ?1 AND team_id = ?2 AND user_id = ?3" },
	[ISTMT_STATE_SET_ORG] = { "state_set_org",
	    "UPDATE login_state SET org = ?2 WHERE state_hash = ?1" },
	[ISTMT_STATE_ORG] = { "state_org",
	    "SELECT org FROM login_state WHERE state_hash = ?1" },
	[ISTMT_ITOKEN_GET] = { "itoken_get",
	    "SELECT sf_user_id, sf_org_id, sf_username, instance_url, key_id, "
	    "access_token_ct, version, fetched_at FROM integration_token "
	    "WHERE integration = ?1" },
	/* A token is written only over the version the caller read (?9):
	 * inserted when it read none, else updated. */
	[ISTMT_ITOKEN_INS] = { "itoken_ins",
	    "INSERT INTO integration_token (integration, sf_user_id, "
	    "sf_org_id, sf_username, instance_url, key_id, access_token_ct, "
	    "fetched_at, version) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 + 1) "
	    "ON CONFLICT (integration) DO NOTHING" },
	[ISTMT_ITOKEN_UPD] = { "itoken_upd",
	    "UPDATE integration_token SET sf_user_id = ?2, sf_org_id = ?3, "
	    "sf_username = ?4, instance_url = ?5, key_id = ?6, "
	    "access_token_ct = ?7, fetched_at = ?8, version = ?9 + 1 "
	    "WHERE integration = ?1 AND version = ?9" },
	[ISTMT_ITOKEN_DEL] = { "itoken_del",
	    "DELETE FROM integration_token WHERE integration = ?1" },
	[ISTMT_REKEY_INTEG] = { "rekey_integ",
	    "SELECT rowid, name, key_id, client_secret_ct FROM sf_integration "
	    "WHERE key_id <> ?1 AND rowid > ?2 ORDER BY rowid LIMIT ?3" },
	[ISTMT_REKEY_INTEG_SET] = { "rekey_integ_set",
	    "UPDATE sf_integration SET key_id = ?2, client_secret_ct = ?3 "
	    "WHERE name = ?1 AND key_id = ?4 AND client_secret_ct = ?5" },
	[ISTMT_REKEY_ITOKEN] = { "rekey_itoken",
	    "SELECT rowid, integration, key_id, access_token_ct, version "
	    "FROM integration_token "
	    "WHERE key_id <> ?1 AND rowid > ?2 ORDER BY rowid LIMIT ?3" },
	[ISTMT_REKEY_ITOKEN_SET] = { "rekey_itoken_set",
	    "UPDATE integration_token SET key_id = ?2, access_token_ct = ?3 "
	    "WHERE integration = ?1 AND key_id = ?4 AND access_token_ct = ?5 "
	    "AND version = ?6" },
};

/* Finalises the integrations' statements (store_close). */
static void
store_integ_close(struct store *st)
{
	size_t	 i;

	if (st->istmt == NULL)
		return;
	for (i = 0; i < ISTMT__MAX; i++)
		sqlite3_finalize(st->istmt[i]);
	free(st->istmt);
	st->istmt = NULL;
}

/* Prepares every statement of istmts[] (store_open).  Returns 0 or -1
 * (logged). */
static int
store_integ_prepare(struct store *st)
{
	size_t	 i;

	if ((st->istmt = calloc(ISTMT__MAX, sizeof(*st->istmt))) == NULL) {
		log_error("msg=\"out of memory\"");
		return -1;
	}
	for (i = 0; i < ISTMT__MAX; i++)
		if (sqlite3_prepare_v3(st->db, istmts[i].sql, -1,
		    SQLITE_PREPARE_PERSISTENT, &st->istmt[i], NULL) !=
		    SQLITE_OK) {
			log_error("stmt=%s msg=\"%s\"", istmts[i].name,
			    sqlite3_errmsg(st->db));
			return -1;
		}
	return 0;
}

/* The prepared statement id; never NULL on an open connection. */
static sqlite3_stmt *
store_istmt(struct store *st, enum istmt id)
{
	return st->istmt[id];
}

/* Resets statement s (may be NULL) and drops its bindings. */
static void
store_ireset(sqlite3_stmt *s)
{
	if (s != NULL) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
}

/* Binds text v (NULL binds SQL NULL) to parameter col of s.  Returns 0,
 * or -1 after logging. */
static int
store_ibind_text(struct store *st, sqlite3_stmt *s, int col, const char *v)
{
	int	 rc;

	rc = v == NULL ? sqlite3_bind_null(s, col) :
	    sqlite3_bind_text64(s, col, v, strlen(v), SQLITE_TRANSIENT,
	    SQLITE_UTF8);
	if (rc == SQLITE_OK)
		return 0;
	log_error("col=%d bind msg=\"%s\"", col, sqlite3_errmsg(st->db));
	return -1;
}

static int
store_ibind_blob(struct store *st, sqlite3_stmt *s, int col, const void *p,
    size_t len)
{
	if (sqlite3_bind_blob64(s, col, p, len, SQLITE_TRANSIENT) ==
	    SQLITE_OK)
		return 0;
	log_error("col=%d bind msg=\"%s\"", col, sqlite3_errmsg(st->db));
	return -1;
}

static int
store_ibind_int(struct store *st, sqlite3_stmt *s, int col, int64_t v)
{
	if (sqlite3_bind_int64(s, col, v) == SQLITE_OK)
		return 0;
	log_error("col=%d bind msg=\"%s\"", col, sqlite3_errmsg(st->db));
	return -1;
}

/* Steps s (statement id).  Returns SQLITE_ROW or SQLITE_DONE, or -1
 * after logging. */
static int
store_istep(struct store *st, sqlite3_stmt *s, enum istmt id)
{
	int	 rc;

	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc;
	st->last_rc = rc;
	log_error("stmt=%s msg=\"%s\"", istmts[id].name,
	    sqlite3_errmsg(st->db));
	return -1;
}

/* Whether name can be an integration's name in the database (what the
 * table's CHECK and our buffers allow; config_org_name_ok() is the
 * admin's stricter rule). */
static int
store_iname_ok(const char *name)
{
	return name != NULL && *name != '\0' &&
	    strlen(name) <= CONFIG_ORG_NAME_MAX;
}

/* Associated data of an integration's sealed value: the tag,
 * "integration", its name, the column and the key id. */
static int
store_ad_integ(struct store_ad *ad, const char *name, const char *column,
    const char *key_id)
{
	const char *const f[] = { "integration", name, column, key_id };

	return store_ad_fields(ad, f, sizeof(f) / sizeof(f[0]));
}

/* Seals value of integration name's column under key k.  Returns 0, or
 * -1 (logged). */
static int
store_seal_integ(const struct crypto_key *k, const char *name,
    const char *column, const char *value, struct sealed *out)
{
	struct store_ad	 ad;

	if (store_ad_integ(&ad, name, column, k->id) == -1)
		return -1;
	if (crypto_seal(k, ad.b, ad.len, value, strlen(value), &out->p,
	    &out->len) == -1) {
		log_error("column=%s msg=\"cannot seal\"", column);
		return -1;
	}
	return 0;
}

/*
 * Opens the value of integration name's column in blob column col of s,
 * sealed under the key that text column kcol names.  Returns STORE_OK
 * and *out (free with crypto_free_secret), STORE_BADKEY (logged) or
 * STORE_ERROR.
 */
static enum store_result
store_open_integ(struct store *st, sqlite3_stmt *s, int kcol, int col,
    const char *name, const char *column, char **out)
{
	const struct crypto_key	*k;
	struct store_ad		 ad;
	size_t			 len;
	int			 rc;

	*out = NULL;
	if ((k = store_key_find(st, s, kcol, "integration")) == NULL)
		return STORE_BADKEY;
	if (store_ad_integ(&ad, name, column, k->id) == -1)
		return STORE_ERROR;
	rc = crypto_open(k, ad.b, ad.len, sqlite3_column_blob(s, col),
	    (size_t)sqlite3_column_bytes(s, col), out, &len);
	if (rc == -2) {
		log_error("msg=\"out of memory\"");
		return STORE_ERROR;
	} else if (rc != 0) {
		log_error("integration=%s column=%s msg=\"sealed value does "
		    "not open: altered or wrong key\"", name, column);
		return STORE_BADKEY;
	}
	return STORE_OK;
}

/* Allocated copy of text column col, or "" for NULL.  NULL (logged) on
 * memory exhaustion. */
static char *
store_col_dup_empty(sqlite3_stmt *s, int col)
{
	const unsigned char	*t;
	char			*p;

	t = sqlite3_column_text(s, col);
	if ((p = strdup(t != NULL ? (const char *)t : "")) == NULL)
		log_error("msg=\"out of memory\"");
	return p;
}

/* --- Integrations: the workers' lookups --------------------------------- */

enum store_result
store_workspace_integration(struct store *st, const char *enterprise_id,
    const char *team_id, char name[CONFIG_ORG_NAME_MAX + 1],
    int *integration_user)
{
	sqlite3_stmt		*s;
	enum store_result	 r = STORE_ERROR;
	const unsigned char	*t;
	int			 rc;

	name[0] = '\0';
	if (integration_user != NULL)
		*integration_user = 0;
	if ((s = store_istmt(st, ISTMT_WS_LOOKUP)) == NULL)
		return STORE_ERROR;
	if (store_ibind_text(st, s, 1, enterprise_id) == -1 ||
	    store_ibind_text(st, s, 2, team_id) == -1 ||
	    (rc = store_istep(st, s, ISTMT_WS_LOOKUP)) == -1)
		goto out;
	if (rc == SQLITE_ROW) {
		t = sqlite3_column_text(s, 0);
		if (t == NULL ||
		    strlen((const char *)t) > CONFIG_ORG_NAME_MAX) {
			log_error("msg=\"malformed workspace mapping\"");
			goto out;
		}
		memcpy(name, t, strlen((const char *)t) + 1);
		if (integration_user != NULL)
			*integration_user = sqlite3_column_int(s, 1) != 0;
	}
	r = STORE_OK;
out:
	store_ireset(s);
	return r;
}

/* Columns of ISTMT_INTEG_GET. */
enum {
	GICOL_LOGIN_URL,
	GICOL_CLIENT_ID,
	GICOL_KEY_ID,
	GICOL_SECRET_CT,
	GICOL_API_VERSION,
	GICOL_INTEGRATION_USER
};

enum store_result
store_integration_get(struct store *st, const char *name, struct sf_org *out)
{
	sqlite3_stmt		*s;
	enum store_result	 r = STORE_ERROR;
	int			 rc;

	memset(out, 0, sizeof(*out));
	if (!store_iname_ok(name))
		return STORE_NOTFOUND;
	if ((s = store_istmt(st, ISTMT_INTEG_GET)) == NULL)
		return STORE_ERROR;
	store_keys(st);
	if (store_ibind_text(st, s, 1, name) == -1 ||
	    (rc = store_istep(st, s, ISTMT_INTEG_GET)) == -1)
		goto out;
	if (rc == SQLITE_DONE) {
		r = STORE_NOTFOUND;
		goto out;
	}
	if ((r = store_open_integ(st, s, GICOL_KEY_ID, GICOL_SECRET_CT, name,
	    "client_secret", &out->client_secret)) != STORE_OK)
		goto out;
	r = STORE_ERROR;
	if ((out->name = strdup(name)) == NULL ||
	    (out->login_url = store_col_dup(s, GICOL_LOGIN_URL)) == NULL ||
	    (out->client_id = store_col_dup(s, GICOL_CLIENT_ID)) == NULL ||
	    (out->api_version = store_col_dup(s, GICOL_API_VERSION)) == NULL)
		goto out;
	out->integration_user = sqlite3_column_int(s, GICOL_INTEGRATION_USER);
	r = STORE_OK;
out:
	store_ireset(s);
	if (r != STORE_OK)
		config_sf_org_free(out);
	return r;
}

enum store_result
store_link_org(struct store *st, const struct slack_user *who, char **org)
{
	sqlite3_stmt		*s;
	enum store_result	 r = STORE_ERROR;
	int			 rc;

	*org = NULL;
	if (!store_who_ok(who) || (s = store_istmt(st, ISTMT_LINK_ORG)) == NULL)
		return STORE_ERROR;
	if (store_ibind_text(st, s, 1, who->enterprise_id) == -1 ||
	    store_ibind_text(st, s, 2, who->team_id) == -1 ||
	    store_ibind_text(st, s, 3, who->user_id) == -1 ||
	    (rc = store_istep(st, s, ISTMT_LINK_ORG)) == -1)
		goto out;
	if (rc == SQLITE_DONE)
		r = STORE_NOTFOUND;
	else if ((*org = store_col_dup_empty(s, 0)) != NULL)
		r = STORE_OK;
out:
	store_ireset(s);
	return r;
}

enum store_result
store_state_set_org(struct store *st,
    const unsigned char state_hash[CRYPTO_HASHLEN], const char *org)
{
	sqlite3_stmt		*s;
	enum store_result	 r = STORE_ERROR;

	if (org == NULL || (s = store_istmt(st, ISTMT_STATE_SET_ORG)) == NULL)
		return STORE_ERROR;
	pthread_mutex_lock(&store_writer);
	if (store_ibind_blob(st, s, 1, state_hash, CRYPTO_HASHLEN) == -1 ||
	    store_ibind_text(st, s, 2, org) == -1 ||
	    store_istep(st, s, ISTMT_STATE_SET_ORG) == -1)
		goto out;
	r = sqlite3_changes(st->db) == 1 ? STORE_OK : STORE_NOTFOUND;
out:
	store_ireset(s);
	pthread_mutex_unlock(&store_writer);
	return r;
}

enum store_result
store_state_org(struct store *st,
    const unsigned char state_hash[CRYPTO_HASHLEN], char **org)
{
	sqlite3_stmt		*s;
	enum store_result	 r = STORE_ERROR;
	int			 rc;

	*org = NULL;
	if ((s = store_istmt(st, ISTMT_STATE_ORG)) == NULL)
		return STORE_ERROR;
	if (store_ibind_blob(st, s, 1, state_hash, CRYPTO_HASHLEN) == -1 ||
	    (rc = store_istep(st, s, ISTMT_STATE_ORG)) == -1)
		goto out;
	if (rc == SQLITE_DONE)
		r = STORE_NOTFOUND;
	else if (sqlite3_column_type(s, 0) == SQLITE_NULL)
		r = STORE_OK;
	else if ((*org = store_col_dup_empty(s, 0)) != NULL)
		r = STORE_OK;
out:
	store_ireset(s);
	return r;
}

/* --- Integrations: the integration users' tokens ------------------------ */

/* Columns of ISTMT_ITOKEN_GET. */
enum {
	TCOL_SF_USER_ID,
	TCOL_SF_ORG_ID,
	TCOL_SF_USERNAME,
	TCOL_INSTANCE_URL,
	TCOL_KEY_ID,
	TCOL_ACCESS_CT,
	TCOL_VERSION,
	TCOL_FETCHED_AT
};

void
store_itoken_free(struct store_itoken *t)
{
	if (t == NULL)
		return;
	free(t->sf_user_id);
	free(t->sf_org_id);
	free(t->sf_username);
	free(t->instance_url);
	crypto_free_secret(t->access_token);
	memset(t, 0, sizeof(*t));
}

/* store_itoken_get() and store_itoken_peek(): the token is opened only
 * when open is set. */
static enum store_result
store_itoken_read(struct store *st, const char *name,
    struct store_itoken *out, int open)
{
	sqlite3_stmt		*s;
	enum store_result	 r = STORE_ERROR;
	int			 rc;

	memset(out, 0, sizeof(*out));
	if (!store_iname_ok(name))
		return STORE_NOTFOUND;
	if ((s = store_istmt(st, ISTMT_ITOKEN_GET)) == NULL)
		return STORE_ERROR;
	store_keys(st);
	if (store_ibind_text(st, s, 1, name) == -1 ||
	    (rc = store_istep(st, s, ISTMT_ITOKEN_GET)) == -1)
		goto out;
	if (rc == SQLITE_DONE) {
		r = STORE_NOTFOUND;
		goto out;
	}
	if (open && (r = store_open_integ(st, s, TCOL_KEY_ID, TCOL_ACCESS_CT,
	    name, "access", &out->access_token)) != STORE_OK)
		goto out;
	r = STORE_ERROR;
	if ((out->sf_user_id = store_col_dup(s, TCOL_SF_USER_ID)) == NULL ||
	    (out->sf_org_id = store_col_dup(s, TCOL_SF_ORG_ID)) == NULL ||
	    (out->sf_username = store_col_dup(s, TCOL_SF_USERNAME)) == NULL ||
	    (out->instance_url = store_col_dup(s, TCOL_INSTANCE_URL)) == NULL)
		goto out;
	out->version = sqlite3_column_int64(s, TCOL_VERSION);
	out->fetched_at = (time_t)sqlite3_column_int64(s, TCOL_FETCHED_AT);
	r = STORE_OK;
out:
	store_ireset(s);
	if (r != STORE_OK)
		store_itoken_free(out);
	return r;
}

enum store_result
store_itoken_get(struct store *st, const char *name,
    struct store_itoken *out)
{
	return store_itoken_read(st, name, out, 1);
}

enum store_result
store_itoken_peek(struct store *st, const char *name,
    struct store_itoken *out)
{
	return store_itoken_read(st, name, out, 0);
}

/* Inside a transaction: whether integration name exists.  Returns 1, 0,
 * or -1 (logged). */
static int
store_integ_exists(struct store *st, const char *name)
{
	sqlite3_stmt	*s;
	int		 rc;

	if ((s = store_istmt(st, ISTMT_INTEG_EXISTS)) == NULL)
		return -1;
	if (store_ibind_text(st, s, 1, name) == -1 ||
	    (rc = store_istep(st, s, ISTMT_INTEG_EXISTS)) == -1)
		rc = -1;
	else
		rc = rc == SQLITE_ROW;
	store_ireset(s);
	return rc;
}

enum store_result
store_itoken_put(struct store *st, const char *name,
    const struct store_itoken *in, int64_t expect)
{
	struct sealed		 ct = { NULL, 0 };
	const struct crypto_key	*k;
	sqlite3_stmt		*s = NULL;
	enum store_result	 r = STORE_ERROR;
	enum istmt		 id;
	int			 began = 0, e;

	if (!store_iname_ok(name) || in == NULL || in->sf_user_id == NULL ||
	    in->sf_org_id == NULL || in->sf_username == NULL ||
	    in->instance_url == NULL || in->access_token == NULL ||
	    expect < 0)
		goto out;
	id = expect == 0 ? ISTMT_ITOKEN_INS : ISTMT_ITOKEN_UPD;
	if ((s = store_istmt(st, id)) == NULL ||
	    store_istmt(st, ISTMT_INTEG_EXISTS) == NULL)
		goto out;
	store_keys(st);
	if (store_write_begin(st) == -1)
		goto out;
	began = 1;
	if ((e = store_integ_exists(st, name)) != 1) {
		/* Removed since the caller looked it up: keep no token. */
		r = e == 0 ? STORE_CONFLICT : STORE_ERROR;
		goto out;
	}
	store_keys(st);
	k = store_key_current(st);
	if (store_seal_integ(k, name, "access", in->access_token, &ct) == -1)
		goto out;
	if (store_ibind_text(st, s, 1, name) == -1 ||
	    store_ibind_text(st, s, 2, in->sf_user_id) == -1 ||
	    store_ibind_text(st, s, 3, in->sf_org_id) == -1 ||
	    store_ibind_text(st, s, 4, in->sf_username) == -1 ||
	    store_ibind_text(st, s, 5, in->instance_url) == -1 ||
	    store_ibind_text(st, s, 6, k->id) == -1 ||
	    store_ibind_blob(st, s, 7, ct.p, ct.len) == -1 ||
	    store_ibind_int(st, s, 8, (int64_t)time(NULL)) == -1 ||
	    store_ibind_int(st, s, 9, expect) == -1 ||
	    store_istep(st, s, id) == -1)
		goto out;
	r = sqlite3_changes(st->db) == 1 ? STORE_OK : STORE_CONFLICT;
out:
	store_ireset(s);
	if (began && store_write_end(st, r == STORE_OK) == -1)
		r = STORE_ERROR;
	free(ct.p);
	return r;
}

/* --- Integrations: administration --------------------------------------- */

enum store_result
store_integration_add(struct store *st, const struct sf_org *in)
{
	struct sealed		 ct = { NULL, 0 };
	const struct crypto_key	*k;
	sqlite3_stmt		*s = NULL;
	enum store_result	 r = STORE_ERROR;
	int			 began = 0;

	if (in == NULL || !store_iname_ok(in->name) || in->login_url == NULL ||
	    in->client_id == NULL || in->client_secret == NULL ||
	    in->api_version == NULL)
		goto out;
	if ((s = store_istmt(st, ISTMT_INTEG_ADD)) == NULL)
		goto out;
	st->last_rc = 0;
	store_keys(st);
	if (store_write_begin(st) == -1)
		goto out;
	began = 1;
	store_keys(st);
	k = store_key_current(st);
	if (store_seal_integ(k, in->name, "client_secret", in->client_secret,
	    &ct) == -1)
		goto out;
	if (store_ibind_text(st, s, 1, in->name) == -1 ||
	    store_ibind_text(st, s, 2, in->login_url) == -1 ||
	    store_ibind_text(st, s, 3, in->client_id) == -1 ||
	    store_ibind_text(st, s, 4, k->id) == -1 ||
	    store_ibind_blob(st, s, 5, ct.p, ct.len) == -1 ||
	    store_ibind_text(st, s, 6, in->api_version) == -1 ||
	    store_ibind_int(st, s, 7, in->integration_user != 0) == -1 ||
	    store_ibind_int(st, s, 8, (int64_t)time(NULL)) == -1 ||
	    store_istep(st, s, ISTMT_INTEG_ADD) == -1)
		goto out;
	r = sqlite3_changes(st->db) == 1 ? STORE_OK : STORE_EXISTS;
out:
	store_ireset(s);
	if (began && store_write_end(st, r == STORE_OK) == -1)
		r = STORE_ERROR;
	free(ct.p);
	return r;
}

enum store_result
store_integration_set_secret(struct store *st, const char *name,
    const char *secret)
{
	struct sealed		 ct = { NULL, 0 };
	const struct crypto_key	*k;
	sqlite3_stmt		*s = store_istmt(st, ISTMT_INTEG_SET_SECRET);
	enum store_result	 r = STORE_ERROR;
	int			 began = 0;

	if (!store_iname_ok(name) || secret == NULL || *secret == '\0')
		goto out;
	st->last_rc = 0;
	store_keys(st);
	if (store_write_begin(st) == -1)
		goto out;
	began = 1;
	store_keys(st);
	k = store_key_current(st);
	if (store_seal_integ(k, name, "client_secret", secret, &ct) == -1)
		goto out;
	if (store_ibind_text(st, s, 1, name) == -1 ||
	    store_ibind_text(st, s, 2, k->id) == -1 ||
	    store_ibind_blob(st, s, 3, ct.p, ct.len) == -1 ||
	    store_istep(st, s, ISTMT_INTEG_SET_SECRET) == -1)
		goto out;
	r = sqlite3_changes(st->db) == 1 ? STORE_OK : STORE_NOTFOUND;
out:
	store_ireset(s);
	if (began && store_write_end(st, r == STORE_OK) == -1)
		r = STORE_ERROR;
	free(ct.p);
	return r;
}

static void
store_integration_info_free(struct store_integration_info *i)
{
	free(i->name);
	free(i->login_url);
	free(i->client_id);
	free(i->api_version);
	free(i->key_id);
	free(i->token_user);
	memset(i, 0, sizeof(*i));
}

void
store_integration_list_free(struct store_integration_list *l)
{
	size_t	 i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		store_integration_info_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Makes room for one more element of size sz in *v (n used, *cap
 * allocated).  Returns 0, or -1 (logged) past STORE_LIST_MAX or on
 * memory exhaustion. */
static int
store_igrow(void **v, size_t n, size_t *cap, size_t sz)
{
	void	*p;
	size_t	 ncap;

	if (n < *cap)
		return 0;
	if (*cap >= STORE_LIST_MAX) {
		log_error("msg=\"list too long\"");
		return -1;
	}
	ncap = *cap == 0 ? 8 : *cap * 2;
	if ((p = reallocarray(*v, ncap, sz)) == NULL) {
		log_error("msg=\"out of memory\"");
		return -1;
	}
	*v = p;
	*cap = ncap;
	return 0;
}

enum store_result
store_integration_list(struct store *st, struct store_integration_list *out)
{
	struct store_integration_info	*e;
	sqlite3_stmt			*s;
	enum store_result		 r = STORE_ERROR;
	size_t				 cap = 0;
	int				 rc;

	out->v = NULL;
	out->n = 0;
	st->last_rc = 0;
	if ((s = store_istmt(st, ISTMT_INTEG_LIST)) == NULL)
		return STORE_ERROR;
	while ((rc = store_istep(st, s, ISTMT_INTEG_LIST)) == SQLITE_ROW) {
		if (store_igrow((void **)&out->v, out->n, &cap,
		    sizeof(*out->v)) == -1)
			goto out;
		e = &out->v[out->n++];
		memset(e, 0, sizeof(*e));
		if ((e->name = store_col_dup(s, 0)) == NULL ||
		    (e->login_url = store_col_dup(s, 1)) == NULL ||
		    (e->client_id = store_col_dup(s, 2)) == NULL ||
		    (e->api_version = store_col_dup(s, 3)) == NULL ||
		    (e->key_id = store_col_dup(s, 4)) == NULL)
			goto out;
		e->integration_user = sqlite3_column_int(s, 5) != 0;
		e->created_at = (time_t)sqlite3_column_int64(s, 6);
		e->workspaces = (long)sqlite3_column_int64(s, 7);
		e->links = (long)sqlite3_column_int64(s, 8);
		if (sqlite3_column_type(s, 9) != SQLITE_NULL &&
		    (e->token_user = store_col_dup(s, 9)) == NULL)
			goto out;
	}
	if (rc == SQLITE_DONE)
		r = STORE_OK;
out:
	store_ireset(s);
	if (r != STORE_OK)
		store_integration_list_free(out);
	return r;
}

void
store_workspace_list_free(struct store_workspace_list *l)
{
	size_t	 i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		free(l->v[i].integration);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Lists the mappings (of integration only, when not NULL) into *out.
 * Returns STORE_OK or STORE_ERROR (*out empty). */
static enum store_result
store_workspace_read(struct store *st, const char *integration,
    struct store_workspace_list *out)
{
	struct store_workspace	*e;
	sqlite3_stmt		*s;
	enum store_result	 r = STORE_ERROR;
	const unsigned char	*kind;
	size_t			 cap = 0;
	int			 rc;

	out->v = NULL;
	out->n = 0;
	if ((s = store_istmt(st, ISTMT_WS_LIST)) == NULL)
		return STORE_ERROR;
	if (store_ibind_text(st, s, 1, integration) == -1)
		goto out;
	while ((rc = store_istep(st, s, ISTMT_WS_LIST)) == SQLITE_ROW) {
		if (store_igrow((void **)&out->v, out->n, &cap,
		    sizeof(*out->v)) == -1)
			goto out;
		e = &out->v[out->n++];
		memset(e, 0, sizeof(*e));
		kind = sqlite3_column_text(s, 0);
		e->enterprise = kind != NULL &&
		    strcmp((const char *)kind, "enterprise") == 0;
		if (store_col_id(s, 1, e->slack_id,
		    sizeof(e->slack_id)) == -1) {
			log_error("msg=\"malformed workspace mapping\"");
			goto out;
		}
		if ((e->integration = store_col_dup(s, 2)) == NULL)
			goto out;
		e->updated_at = (time_t)sqlite3_column_int64(s, 3);
		e->links = (long)sqlite3_column_int64(s, 4);
		e->other = (long)sqlite3_column_int64(s, 5);
	}
	if (rc == SQLITE_DONE)
		r = STORE_OK;
out:
	store_ireset(s);
	if (r != STORE_OK)
		store_workspace_list_free(out);
	return r;
}

enum store_result
store_workspace_list(struct store *st, struct store_workspace_list *out)
{
	st->last_rc = 0;
	return store_workspace_read(st, NULL, out);
}

/* Checks the id of a mapping: a Slack id, not empty, that fits. */
static int
store_slack_id_ok(const char *id)
{
	return id != NULL && *id != '\0' && strlen(id) <= SLACK_ID_MAX;
}

enum store_result
store_workspace_set(struct store *st, int enterprise, const char *slack_id,
    const char *integration, char **previous)
{
	sqlite3_stmt		*get, *put;
	enum store_result	 r = STORE_ERROR;
	const char		*kind = enterprise ? "enterprise" : "team";
	char			*prev = NULL;
	int			 rc, began = 0, e;

	if (previous != NULL)
		*previous = NULL;
	if (!store_slack_id_ok(slack_id) || integration == NULL ||
	    strlen(integration) > CONFIG_ORG_NAME_MAX)
		return STORE_ERROR;
	st->last_rc = 0;
	if ((get = store_istmt(st, ISTMT_WS_GET)) == NULL ||
	    (put = store_istmt(st, ISTMT_WS_PUT)) == NULL ||
	    store_istmt(st, ISTMT_INTEG_EXISTS) == NULL)
		return STORE_ERROR;
	if (store_begin(st) == -1)
		goto out;
	began = 1;
	if (*integration != '\0' &&
	    (e = store_integ_exists(st, integration)) != 1) {
		r = e == 0 ? STORE_NOTFOUND : STORE_ERROR;
		goto out;
	}
	if (store_ibind_text(st, get, 1, kind) == -1 ||
	    store_ibind_text(st, get, 2, slack_id) == -1 ||
	    (rc = store_istep(st, get, ISTMT_WS_GET)) == -1)
		goto out;
	if (rc == SQLITE_ROW && (prev = store_col_dup_empty(get, 0)) == NULL)
		goto out;
	store_ireset(get);
	if (store_ibind_text(st, put, 1, kind) == -1 ||
	    store_ibind_text(st, put, 2, slack_id) == -1 ||
	    store_ibind_text(st, put, 3, integration) == -1 ||
	    store_ibind_int(st, put, 4, (int64_t)time(NULL)) == -1 ||
	    store_istep(st, put, ISTMT_WS_PUT) == -1)
		goto out;
	r = STORE_OK;
out:
	store_ireset(get);
	store_ireset(put);
	if (began && store_end(st, r == STORE_OK) == -1)
		r = STORE_ERROR;
	if (r == STORE_OK && previous != NULL) {
		*previous = prev;
		prev = NULL;
	}
	free(prev);
	return r;
}

enum store_result
store_workspace_unset(struct store *st, int enterprise, const char *slack_id)
{
	sqlite3_stmt		*s;
	enum store_result	 r = STORE_ERROR;

	if (!store_slack_id_ok(slack_id) ||
	    (s = store_istmt(st, ISTMT_WS_DEL)) == NULL)
		return STORE_ERROR;
	st->last_rc = 0;
	pthread_mutex_lock(&store_writer);
	if (store_ibind_text(st, s, 1, enterprise ? "enterprise" : "team") ==
	    -1 || store_ibind_text(st, s, 2, slack_id) == -1 ||
	    store_istep(st, s, ISTMT_WS_DEL) == -1)
		goto out;
	r = sqlite3_changes(st->db) == 1 ? STORE_OK : STORE_NOTFOUND;
out:
	store_ireset(s);
	pthread_mutex_unlock(&store_writer);
	return r;
}

/* Inside store_integration_remove's transaction: the links made with
 * integration name, into *out.  Returns 0 or -1 (logged). */
static int
store_links_by_org(struct store *st, const char *name,
    struct store_link_list *out)
{
	sqlite3_stmt	*s;
	size_t		 cap = 0;
	int		 rc, ret = -1;

	out->v = NULL;
	out->n = 0;
	if ((s = store_istmt(st, ISTMT_LINKS_BY_ORG)) == NULL ||
	    store_ibind_text(st, s, 1, name) == -1)
		goto out;
	while ((rc = store_istep(st, s, ISTMT_LINKS_BY_ORG)) == SQLITE_ROW) {
		if (store_link_list_grow(out, &cap) == -1)
			goto out;
		memset(&out->v[out->n], 0, sizeof(out->v[0]));
		out->n++;
		if (store_link_info_read(s, &out->v[out->n - 1]) == -1)
			goto out;
	}
	if (rc == SQLITE_DONE)
		ret = 0;
out:
	store_ireset(s);
	if (ret == -1)
		store_link_list_free(out);
	return ret;
}

/* Runs the one-parameter (name) delete id.  Returns 0 or -1. */
static int
store_idelete(struct store *st, enum istmt id, const char *name)
{
	sqlite3_stmt	*s;
	int		 rc = -1;

	if ((s = store_istmt(st, id)) == NULL)
		return -1;
	if (store_ibind_text(st, s, 1, name) == 0 &&
	    store_istep(st, s, id) != -1)
		rc = 0;
	store_ireset(s);
	return rc;
}

enum store_result
store_integration_remove(struct store *st, const char *name, int force,
    struct store_workspace_list *unmapped, struct store_link_list *unlinked)
{
	struct store_workspace_list	 ws = { NULL, 0 };
	struct store_link_list		 ll = { NULL, 0 };
	enum store_result		 r = STORE_ERROR;
	int				 began = 0, e;

	if (unmapped != NULL)
		memset(unmapped, 0, sizeof(*unmapped));
	if (unlinked != NULL)
		memset(unlinked, 0, sizeof(*unlinked));
	if (!store_iname_ok(name))
		return STORE_NOTFOUND;
	st->last_rc = 0;
	if (store_begin(st) == -1) {
		r = store_failure(st);
		goto out;
	}
	began = 1;
	if ((e = store_integ_exists(st, name)) != 1) {
		r = e == 0 ? STORE_NOTFOUND : STORE_ERROR;
		goto out;
	}
	if (store_workspace_read(st, name, &ws) != STORE_OK ||
	    store_links_by_org(st, name, &ll) == -1)
		goto out;
	if ((ws.n > 0 || ll.n > 0) && !force) {
		r = STORE_CONFLICT;
		goto out;
	}
	if (store_idelete(st, ISTMT_LINKS_DEL_ORG, name) == -1 ||
	    store_idelete(st, ISTMT_WS_DEL_INTEG, name) == -1 ||
	    store_idelete(st, ISTMT_ITOKEN_DEL, name) == -1 ||
	    store_idelete(st, ISTMT_INTEG_DEL, name) == -1)
		goto out;
	r = STORE_OK;
out:
	if (began && store_end(st, r == STORE_OK) == -1)
		r = STORE_ERROR;
	if (r == STORE_ERROR && store_failure(st) == STORE_BUSY)
		r = STORE_BUSY;
	if ((r == STORE_OK || r == STORE_CONFLICT) && unmapped != NULL) {
		*unmapped = ws;
		ws.v = NULL;
		ws.n = 0;
	}
	if ((r == STORE_OK || r == STORE_CONFLICT) && unlinked != NULL) {
		*unlinked = ll;
		ll.v = NULL;
		ll.n = 0;
	}
	store_workspace_list_free(&ws);
	store_link_list_free(&ll);
	return r;
}

/* --- Integrations: key rotation ----------------------------------------- */

/*
 * Adds the integration row s is on (a consumer secret, or an integration
 * user's token when itoken is set) to batch b, re-sealed under the
 * current key, as store_rekey_link() does for links.  Returns 0, or -1
 * on memory exhaustion.
 */
static int
store_irekey_row(struct store *st, sqlite3_stmt *s, int itoken,
    struct store_rekey *b, struct store_rekey_counts *c)
{
	struct store_rekey_row	*row;
	const struct crypto_key	*k, *cur;
	struct store_ad		 ao, an;
	const char		*column = itoken ? "access" : "client_secret";
	int			 bad = 0;

	if ((row = store_rekey_add(b)) == NULL)
		goto nomem;
	/* Columns: rowid, name, key_id, sealed value[, version]. */
	if (store_col_id(s, 1, row->name, sizeof(row->name)) == -1 ||
	    row->name[0] == '\0' || store_col_blob(s, 3, &row->old_a) == -1) {
		log_error("msg=\"malformed integration row: left as it is\"");
		c->unopenable++;
		goto skip;
	}
	if ((k = store_key_find(st, s, 2, "integration")) == NULL) {
		c->unknown_key++;
		goto skip;
	}
	cur = store_key_current(st);
	snprintf(row->old_id, sizeof(row->old_id), "%s", k->id);
	if (itoken)
		row->version = sqlite3_column_int64(s, 4);
	if (store_ad_integ(&ao, row->name, column, k->id) == -1 ||
	    store_ad_integ(&an, row->name, column, cur->id) == -1 ||
	    store_reseal(k, cur, &ao, &an, &row->old_a, &row->new_a,
	    &bad) == -1) {
		if (!bad)
			goto nomem;
		log_error("integration=%s column=%s msg=\"sealed value does "
		    "not open: altered or wrong key; left as it is\"",
		    row->name, column);
		c->unopenable++;
		goto skip;
	}
	b->n++;
	return 0;
skip:
	free(row->old_a.p);
	return 0;
nomem:
	if (row != NULL)
		free(row->old_a.p);
	log_error("msg=\"out of memory\"");
	return -1;
}

static enum store_result
store_irekey_read(struct store *st, enum store_rekey_table table,
    int64_t *cursor, int max, struct store_rekey **out,
    struct store_rekey_counts *c)
{
	struct store_rekey	*b = NULL;
	enum istmt		 id;
	sqlite3_stmt		*s;
	enum store_result	 r = STORE_ERROR;
	int			 rc, itoken = table == STORE_REKEY_ITOKENS;

	id = itoken ? ISTMT_REKEY_ITOKEN : ISTMT_REKEY_INTEG;
	if (max < 1 || (s = store_istmt(st, id)) == NULL ||
	    (b = calloc(1, sizeof(*b))) == NULL)
		return STORE_ERROR;
	st->last_rc = 0;
	store_keys(st);
	b->table = table;
	snprintf(b->new_id, sizeof(b->new_id), "%s",
	    store_key_current(st)->id);
	if (store_ibind_text(st, s, 1, b->new_id) == -1 ||
	    store_ibind_int(st, s, 2, *cursor) == -1 ||
	    store_ibind_int(st, s, 3, max) == -1)
		goto out;
	while ((rc = store_istep(st, s, id)) == SQLITE_ROW) {
		c->read++;
		*cursor = sqlite3_column_int64(s, 0);
		if (store_irekey_row(st, s, itoken, b, c) == -1)
			goto out;
	}
	if (rc == -1) {
		r = store_failure(st);
		goto out;
	}
	if (strcmp(b->new_id, store_key_current(st)->id) != 0) {
		log_warn("msg=\"keys changed while reading: batch dropped\"");
		c->changed += (long)b->n;
		store_rekey_clear(b);
	}
	*out = b;
	b = NULL;
	r = STORE_OK;
out:
	store_ireset(s);
	store_rekey_free(b);
	return r;
}

static int
store_irekey_set(struct store *st, const struct store_rekey *b,
    const struct store_rekey_row *row)
{
	enum istmt	 id;
	sqlite3_stmt	*s;
	int		 rc = -1;

	id = b->table == STORE_REKEY_ITOKENS ? ISTMT_REKEY_ITOKEN_SET :
	    ISTMT_REKEY_INTEG_SET;
	if ((s = store_istmt(st, id)) == NULL)
		return -1;
	if (store_ibind_text(st, s, 1, row->name) == -1 ||
	    store_ibind_text(st, s, 2, b->new_id) == -1 ||
	    store_ibind_blob(st, s, 3, row->new_a.p, row->new_a.len) == -1 ||
	    store_ibind_text(st, s, 4, row->old_id) == -1 ||
	    store_ibind_blob(st, s, 5, row->old_a.p, row->old_a.len) == -1 ||
	    (id == ISTMT_REKEY_ITOKEN_SET &&
	    store_ibind_int(st, s, 6, row->version) == -1) ||
	    store_istep(st, s, id) == -1)
		goto out;
	rc = sqlite3_changes(st->db) == 1;
out:
	store_ireset(s);
	return rc;
}

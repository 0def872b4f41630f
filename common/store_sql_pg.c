/*
 * store_sql_pg: the SQL of every statement of the store (enum stmt in
 * store_int.h), in PostgreSQL's dialect (issue 14), against the schema
 * of sql/postgresql/.  Each entry is the entry of the same id in
 * store_sql.c, with the same name, the same parameter numbers ($n for
 * ?n) and the same result columns in the same order with the same
 * meaning.  The differences and why:
 *
 *  - Results are read in binary format: a column read as an integer is
 *    smallint, integer, bigint or boolean.  SQLite's total(cond) (a
 *    float, read as an integer) is count(*) FILTER (WHERE cond); sum()
 *    is cast to bigint.
 *  - Parameters are sent without a type, so PostgreSQL must infer each
 *    from the statement.  One it cannot (tested with IS NULL, even where
 *    another use gives its type: "$4::bytea IS NOT NULL"), or would
 *    infer as a 32-bit integer where SQLite's are 64 bits ("$12 < 0",
 *    "$9 + 1", "$5 - confirm_tries"), is cast.
 *  - SQLite's "a IS ?n" is IS NOT DISTINCT FROM; its two-argument
 *    min() is least() (which ignores a NULL where min() gives NULL:
 *    STMT_PEND_VOID's ?2 is always bound).
 *  - Order: every ORDER BY on text is COLLATE "C", SQLite's byte order
 *    whatever the database's collation; NULLs sort first ascending as
 *    in SQLite (NULLS FIRST where a sorted column may be NULL).
 *  - A subquery in FROM has an alias (PostgreSQL 15 requires one).
 *  - rowid is the explicit identity column of sql/postgresql/001_init.sql.
 *  - BEGIN: the engine takes its advisory lock after it (BEGIN
 *    IMMEDIATE's writer lock); PRAGMA user_version is forcelink_schema.
 *
 * No counterpart: SQLite's file figures, integrity check and data
 * version (STMT_PAGE_SIZE, STMT_PAGE_COUNT, STMT_FREELIST,
 * STMT_INTEGRITY, STMT_MIG_DATA_VERSION) have no PostgreSQL statement
 * of the same meaning; their sql is NULL, which the engine does not
 * prepare.
 */
#include "store_int.h"

const struct store_sql	 store_stmts_pg[STMT__MAX] = {
	[STMT_BEGIN] = { "begin", "BEGIN" },
	[STMT_COMMIT] = { "commit", "COMMIT" },
	[STMT_ROLLBACK] = { "rollback", "ROLLBACK" },
	[STMT_LINK_GET] = { "link_get",
	    "SELECT org, sf_user_id, sf_org_id, sf_username, instance_url, "
	    "key_id, access_token_ct, refresh_token_ct, version, created_at, "
	    "updated_at, last_used_at FROM sf_link "
	    "WHERE enterprise_id = $1 AND team_id = $2 AND user_id = $3" },
	[STMT_LINK_PUT] = { "link_put",
	    "INSERT INTO sf_link (enterprise_id, team_id, user_id, org, "
	    "sf_user_id, sf_org_id, sf_username, instance_url, key_id, "
	    "access_token_ct, refresh_token_ct, version, created_at, "
	    "updated_at, last_used_at) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
	    "$13, NULL) "
	    "ON CONFLICT (enterprise_id, team_id, user_id) DO UPDATE SET "
	    "org = excluded.org, sf_user_id = excluded.sf_user_id, "
	    "sf_org_id = excluded.sf_org_id, "
	    "sf_username = excluded.sf_username, "
	    "instance_url = excluded.instance_url, key_id = excluded.key_id, "
	    "access_token_ct = excluded.access_token_ct, "
	    "refresh_token_ct = excluded.refresh_token_ct, "
	    "version = excluded.version, created_at = excluded.created_at, "
	    "updated_at = excluded.updated_at, last_used_at = NULL" },
	/* $9 is the key id the row was read with: a NULL $5 keeps the
	 * refresh token, which must then be sealed under $8 already. */
	[STMT_LINK_UPDATE] = { "link_update",
	    "UPDATE sf_link SET key_id = $8, access_token_ct = $4, "
	    "refresh_token_ct = coalesce($5, refresh_token_ct), "
	    "version = version + 1, updated_at = $6 "
	    "WHERE enterprise_id = $1 AND team_id = $2 AND user_id = $3 "
	    "AND version = $7 AND key_id = $9" },
	/* $4 to $11: the ids of the keys held (KEYRING_MAX), NULL where
	 * there are fewer; a NULL never matches.  $12 is -1 or a version. */
	[STMT_LINK_DELETE] = { "link_delete",
	    "DELETE FROM sf_link "
	    "WHERE enterprise_id = $1 AND team_id = $2 AND user_id = $3 "
	    "AND key_id IN ($4, $5, $6, $7, $8, $9, $10, $11) "
	    "AND ($12::bigint < 0 OR version = $12::bigint)" },
	[STMT_LINK_TOUCH] = { "link_touch",
	    "UPDATE sf_link SET last_used_at = $4 "
	    "WHERE enterprise_id = $1 AND team_id = $2 AND user_id = $3" },
	[STMT_NONCE_ADD] = { "nonce_add",
	    "INSERT INTO login_state (enterprise_id, team_id, user_id, "
	    "nonce_hash, created_at, expires_at) "
	    "VALUES ($1, $2, $3, $4, $5, $6)" },
	[STMT_NONCE_GET] = { "nonce_get",
	    "SELECT enterprise_id, team_id, user_id, expires_at, started_at "
	    "FROM login_state WHERE nonce_hash = $1" },
	[STMT_NONCE_START] = { "nonce_start",
	    "UPDATE login_state SET started_at = $2, state_hash = $3, "
	    "cookie_hash = $4, verifier_ct = $5, key_id = $6, "
	    "expires_at = $7, leg = $8 "
	    "WHERE nonce_hash = $1 AND started_at IS NULL" },
	[STMT_STATE_GET] = { "state_get",
	    "SELECT enterprise_id, team_id, user_id, expires_at, used_at, "
	    "cookie_hash, key_id, verifier_ct, coalesce(leg, 'salesforce') "
	    "FROM login_state WHERE state_hash = $1" },
	[STMT_STATE_USE] = { "state_use",
	    "UPDATE login_state SET used_at = $2, verifier_ct = NULL "
	    "WHERE state_hash = $1 AND used_at IS NULL" },
	/* A row whose time is up may be taken over by the same hash; a
	 * live one is not (no row changed). */
	[STMT_REPLAY_ADD] = { "replay_add",
	    "INSERT INTO slack_replay (sig_hash, expires_at) VALUES ($1, $2) "
	    "ON CONFLICT (sig_hash) DO UPDATE SET "
	    "expires_at = excluded.expires_at "
	    "WHERE slack_replay.expires_at <= $3" },
	/* A row with a pending link is left to store_pending_due(): its
	 * tokens must be revoked at Salesforce before they are dropped. */
	[STMT_PURGE_STATE] = { "purge_state",
	    "DELETE FROM login_state WHERE expires_at <= $1 "
	    "AND pend_refresh_ct IS NULL" },
	[STMT_PURGE_REPLAY] = { "purge_replay",
	    "DELETE FROM slack_replay WHERE expires_at <= $1" },
	/* Key rotation: as in store_sql.c, paged by the rowid column. */
	[STMT_REKEY_LINKS] = { "rekey_links",
	    "SELECT rowid, enterprise_id, team_id, user_id, key_id, "
	    "access_token_ct, refresh_token_ct, version FROM sf_link "
	    "WHERE key_id <> $1 AND rowid > $2 ORDER BY rowid LIMIT $3" },
	[STMT_REKEY_LINK_SET] = { "rekey_link_set",
	    "UPDATE sf_link SET key_id = $4, access_token_ct = $5, "
	    "refresh_token_ct = $6 "
	    "WHERE enterprise_id = $1 AND team_id = $2 AND user_id = $3 "
	    "AND version = $7 AND key_id = $8 AND access_token_ct = $9 "
	    "AND refresh_token_ct = $10" },
	[STMT_REKEY_STATES] = { "rekey_states",
	    "SELECT rowid, state_hash, key_id, verifier_ct FROM login_state "
	    "WHERE verifier_ct IS NOT NULL AND "
	    "(key_id IS NULL OR key_id <> $1) AND rowid > $2 "
	    "ORDER BY rowid LIMIT $3" },
	[STMT_REKEY_STATE_SET] = { "rekey_state_set",
	    "UPDATE login_state SET key_id = $2, verifier_ct = $3 "
	    "WHERE state_hash = $1 AND key_id = $4 AND verifier_ct = $5" },
	/* A key id may be NULL here (a login_state row's): first, as
	 * SQLite sorts it. */
	[STMT_KEY_CENSUS] = { "key_census",
	    "SELECT key_id, sum(l)::bigint, sum(s)::bigint, sum(i)::bigint, "
	    "sum(a)::bigint FROM ("
	    "SELECT key_id, 1 AS l, 0 AS s, 0 AS i, 0 AS a FROM sf_link "
	    "UNION ALL "
	    "SELECT key_id, 0, 1, 0, 0 FROM login_state "
	    "WHERE verifier_ct IS NOT NULL UNION ALL "
	    "SELECT search_key_id, 0, 1, 0, 0 FROM login_state "
	    "WHERE search_ct IS NOT NULL UNION ALL "
	    "SELECT pend_key_id, 0, 1, 0, 0 FROM login_state "
	    "WHERE pend_refresh_ct IS NOT NULL UNION ALL "
	    "SELECT key_id, 1, 0, 0, 0 FROM slack_install UNION ALL "
	    "SELECT key_id, 0, 0, 1, 0 FROM sf_integration UNION ALL "
	    "SELECT key_id, 0, 0, 1, 0 FROM integration_token UNION ALL "
	    "SELECT key_id, 0, 0, 0, 1 FROM slack_action) AS census "
	    "GROUP BY key_id ORDER BY key_id COLLATE \"C\" NULLS FIRST" },
	[STMT_REKEY_INSTALLS] = { "rekey_installs",
	    "SELECT rowid, enterprise_id, team_id, key_id, bot_token_ct, "
	    "refresh_token_ct, version FROM slack_install "
	    "WHERE key_id <> $1 AND rowid > $2 ORDER BY rowid LIMIT $3" },
	[STMT_REKEY_INSTALL_SET] = { "rekey_install_set",
	    "UPDATE slack_install SET key_id = $3, bot_token_ct = $4, "
	    "refresh_token_ct = $5 "
	    "WHERE enterprise_id = $1 AND team_id = $2 AND version = $6 "
	    "AND key_id = $7 AND bot_token_ct = $8 "
	    "AND refresh_token_ct IS NOT DISTINCT FROM $9" },
	[STMT_REKEY_SEARCHES] = { "rekey_searches",
	    "SELECT rowid, nonce_hash, search_key_id, search_ct, "
	    "search_url_ct FROM login_state WHERE search_ct IS NOT NULL AND "
	    "(search_key_id IS NULL OR search_key_id <> $1) AND rowid > $2 "
	    "ORDER BY rowid LIMIT $3" },
	[STMT_REKEY_SEARCH_SET] = { "rekey_search_set",
	    "UPDATE login_state SET search_key_id = $2, search_ct = $3, "
	    "search_url_ct = $4 WHERE nonce_hash = $1 AND search_key_id = $5 "
	    "AND search_ct = $6 AND search_url_ct = $7" },
	[STMT_NONCE_ADD_SEARCH] = { "nonce_add_search",
	    "INSERT INTO login_state (enterprise_id, team_id, user_id, "
	    "nonce_hash, created_at, expires_at, search_ct, search_url_ct, "
	    "search_key_id, team_domain, user_name, search_command) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
	    "$12)" },
	[STMT_SEARCH_GET] = { "search_get",
	    "SELECT nonce_hash, created_at, search_key_id, search_ct, "
	    "search_url_ct, search_command FROM login_state "
	    "WHERE state_hash = $1 AND search_ct IS NOT NULL" },
	[STMT_SEARCH_CLEAR] = { "search_clear",
	    "UPDATE login_state SET search_ct = NULL, search_url_ct = NULL, "
	    "search_key_id = NULL, "
	    "search_command = NULL WHERE state_hash = $1" },
	/* --- Slack installations --- */
	[STMT_INSTALL_PUT] = { "install_put",
	    "INSERT INTO slack_install (enterprise_id, team_id, app_id, "
	    "team_name, enterprise_name, bot_user_id, bot_id, scopes, "
	    "installer_user_id, key_id, bot_token_ct, refresh_token_ct, "
	    "token_expires_at, needs_reinstall, version, created_at, "
	    "updated_at) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
	    "0, 1, $14, $14) "
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
	    "WHERE enterprise_id = $1 AND team_id = $2" },
	/* As SQLite's (store_sql.c).  Column 3 is a boolean; a UNION
	 * sorts by output columns only, so the collation is column 2's. */
	[STMT_INSTALL_FIND] = { "install_find",
	    "SELECT enterprise_id, team_id COLLATE \"C\", token_expires_at, "
	    "refresh_token_ct IS NOT NULL, needs_reinstall, 1 "
	    "FROM slack_install "
	    "WHERE enterprise_id = $1 AND team_id IN ($2, '') "
	    "UNION ALL SELECT NULL, NULL, 0, false, 0, 0 "
	    "WHERE EXISTS (SELECT 1 FROM slack_install) "
	    "ORDER BY 6 DESC, 2 DESC LIMIT 1" },
	[STMT_INSTALL_UPDATE] = { "install_update",
	    "UPDATE slack_install SET key_id = $8, bot_token_ct = $3, "
	    "refresh_token_ct = coalesce($4, refresh_token_ct), "
	    "token_expires_at = $5, "
	    "version = version + 1, updated_at = $6 "
	    "WHERE enterprise_id = $1 AND team_id = $2 AND version = $7 "
	    /* The row is still under the key it was read with ($9); a kept
	     * refresh token stays sealed under it, so without a new one the
	     * key must not change. */
	    "AND key_id = $9 AND ($4::bytea IS NOT NULL OR key_id = $8)" },
	[STMT_INSTALL_KEYID] = { "install_keyid",
	    "SELECT key_id FROM slack_install "
	    "WHERE enterprise_id = $1 AND team_id = $2" },
	[STMT_INSTALL_REINSTALL] = { "install_reinstall",
	    "UPDATE slack_install SET needs_reinstall = 1, "
	    "version = version + 1, updated_at = $3 "
	    "WHERE enterprise_id = $1 AND team_id = $2 AND version = $4" },
	/* The install flow's used states (store_install_state_take). */
	[STMT_ISTATE_ADD] = { "istate_add",
	    "INSERT INTO slack_install_state (state_hash, cookie_hash, "
	    "created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5)" },
	[STMT_ISTATE_GET] = { "istate_get",
	    "SELECT 1 FROM slack_install_state WHERE state_hash = $1" },
	[STMT_ISTATE_COUNT] = { "istate_count",
	    "SELECT count(*) FROM slack_install_state" },
	/* Drops the $1 rows that expire first (bytea sorts bytewise, as a
	 * SQLite blob).  $1 is at least 1: PostgreSQL refuses a negative
	 * LIMIT, which SQLite takes as none. */
	[STMT_ISTATE_DROP] = { "istate_drop",
	    "DELETE FROM slack_install_state WHERE state_hash IN ("
	    "SELECT state_hash FROM slack_install_state "
	    "ORDER BY expires_at, state_hash LIMIT $1)" },
	[STMT_PURGE_ISTATE] = { "purge_istate",
	    "DELETE FROM slack_install_state WHERE expires_at <= $1" },
	/* --- Proving who is in the browser (sql/005_link_proof.sql) --- */
	[STMT_NONCE_PEEK] = { "nonce_peek",
	    "SELECT enterprise_id, team_id, user_id, expires_at, started_at, "
	    "team_domain, user_name FROM login_state WHERE nonce_hash = $1" },
	[STMT_STATE_PEEK] = { "state_peek",
	    "SELECT coalesce(leg, 'salesforce'), team_domain, user_name, "
	    "nonce_hash FROM login_state WHERE state_hash = $1" },
	[STMT_STATE_ADVANCE] = { "state_advance",
	    "UPDATE login_state SET state_hash = $2, verifier_ct = $3, "
	    "key_id = $4, expires_at = $5, used_at = NULL, "
	    "leg = 'salesforce' "
	    "WHERE state_hash = $1 AND leg = 'slack' AND used_at IS NOT NULL "
	    "AND cookie_hash IS NOT NULL" },
	[STMT_STATE_VOID] = { "state_void",
	    "UPDATE login_state SET used_at = coalesce(used_at, $2), "
	    "verifier_ct = NULL, search_ct = NULL, search_url_ct = NULL, "
	    "search_key_id = NULL, "
	    "search_command = NULL, cookie_hash = NULL "
	    "WHERE state_hash = $1" },
	[STMT_STATE_BURN] = { "state_burn",
	    "UPDATE login_state SET used_at = $2, verifier_ct = NULL, "
	    "search_ct = NULL, search_url_ct = NULL, search_key_id = NULL, "
	    "search_command = NULL, "
	    "cookie_hash = NULL WHERE state_hash = $1 AND used_at IS NULL" },
	[STMT_PEND_PUT] = { "pend_put",
	    "UPDATE login_state SET pend_org = $2, pend_sf_user_id = $3, "
	    "pend_sf_org_id = $4, pend_sf_username = $5, "
	    "pend_instance_url = $6, pend_key_id = $7, pend_access_ct = $8, "
	    "pend_refresh_ct = $9, confirm_hash = $10, confirm_tries = 0, "
	    "expires_at = $11 "
	    "WHERE nonce_hash = $1 AND used_at IS NOT NULL "
	    "AND pend_refresh_ct IS NULL" },
	[STMT_PEND_FIND] = { "pend_find",
	    "SELECT enterprise_id, team_id, user_id, expires_at, nonce_hash, "
	    "state_hash, pend_org, pend_sf_user_id, pend_sf_org_id, "
	    "pend_sf_username, pend_instance_url, pend_key_id, "
	    "pend_access_ct, pend_refresh_ct FROM login_state "
	    "WHERE confirm_hash = $1 AND pend_refresh_ct IS NOT NULL" },
	[STMT_PEND_CLEAR] = { "pend_clear",
	    "UPDATE login_state SET pend_org = NULL, pend_sf_user_id = NULL, "
	    "pend_sf_org_id = NULL, pend_sf_username = NULL, "
	    "pend_instance_url = NULL, pend_key_id = NULL, "
	    "pend_access_ct = NULL, pend_refresh_ct = NULL, "
	    "confirm_hash = NULL WHERE nonce_hash = $1" },
	/* SQLite's min(expires_at, ?2); $2 is always bound. */
	[STMT_PEND_VOID] = { "pend_void",
	    "UPDATE login_state SET confirm_hash = NULL, "
	    "expires_at = least(expires_at, $2), search_ct = NULL, "
	    "search_url_ct = NULL, search_key_id = NULL, "
	    "search_command = NULL "
	    "WHERE nonce_hash = $1" },
	[STMT_PEND_MISS] = { "pend_miss",
	    "UPDATE login_state SET confirm_tries = confirm_tries + 1 "
	    "WHERE enterprise_id = $1 AND team_id = $2 AND user_id = $3 "
	    "AND confirm_hash IS NOT NULL AND expires_at > $4" },
	[STMT_PEND_MISS_VOID] = { "pend_miss_void",
	    "UPDATE login_state SET confirm_hash = NULL, expires_at = $4, "
	    "search_ct = NULL, search_url_ct = NULL, search_key_id = NULL, "
	    "search_command = NULL "
	    "WHERE enterprise_id = $1 AND team_id = $2 AND user_id = $3 "
	    "AND confirm_hash IS NOT NULL AND expires_at > $4 "
	    "AND confirm_tries >= $5::bigint" },
	/* NULL when no row is waiting, as SQLite's min() over none. */
	[STMT_PEND_LEFT] = { "pend_left",
	    "SELECT min($5::bigint - confirm_tries) FROM login_state "
	    "WHERE enterprise_id = $1 AND team_id = $2 AND user_id = $3 "
	    "AND confirm_hash IS NOT NULL AND expires_at > $4" },
	[STMT_PEND_DUE] = { "pend_due",
	    "SELECT enterprise_id, team_id, user_id, expires_at, nonce_hash, "
	    "state_hash, pend_org, pend_sf_user_id, pend_sf_org_id, "
	    "pend_sf_username, pend_instance_url, pend_key_id, "
	    "pend_access_ct, pend_refresh_ct FROM login_state "
	    "WHERE pend_refresh_ct IS NOT NULL AND expires_at <= $1 "
	    "ORDER BY expires_at LIMIT $2" },
	[STMT_PEND_DROP] = { "pend_drop",
	    "UPDATE login_state SET pend_org = NULL, pend_sf_user_id = NULL, "
	    "pend_sf_org_id = NULL, pend_sf_username = NULL, "
	    "pend_instance_url = NULL, pend_key_id = NULL, "
	    "pend_access_ct = NULL, pend_refresh_ct = NULL, "
	    "confirm_hash = NULL WHERE nonce_hash = $1 "
	    "AND pend_refresh_ct IS NOT NULL" },
	[STMT_REKEY_PENDING] = { "rekey_pending",
	    "SELECT rowid, nonce_hash, pend_key_id, pend_access_ct, "
	    "pend_refresh_ct FROM login_state "
	    "WHERE pend_refresh_ct IS NOT NULL AND "
	    "(pend_key_id IS NULL OR pend_key_id <> $1) AND rowid > $2 "
	    "ORDER BY rowid LIMIT $3" },
	[STMT_REKEY_PENDING_SET] = { "rekey_pending_set",
	    "UPDATE login_state SET pend_key_id = $2, pend_access_ct = $3, "
	    "pend_refresh_ct = $4 WHERE nonce_hash = $1 AND pend_key_id = $5 "
	    "AND pend_access_ct = $6 AND pend_refresh_ct = $7" },
	/* --- Salesforce integrations (sql/004_integrations.sql) --- */
	/* The team's mapping first, then the enterprise's; a mapping to an
	 * integration that is gone is skipped. */
	[STMT_WS_LOOKUP] = { "ws_lookup",
	    "SELECT integration, iu FROM ("
	    "SELECT 0 AS o, w.integration, "
	    "coalesce(i.integration_user, 0) AS iu "
	    "FROM workspace_integration w "
	    "LEFT JOIN sf_integration i ON i.name = w.integration "
	    "WHERE w.kind = 'team' AND w.slack_id = $2 "
	    "AND (w.integration = '' OR i.name IS NOT NULL) "
	    "UNION ALL "
	    "SELECT 1, w.integration, coalesce(i.integration_user, 0) "
	    "FROM workspace_integration w "
	    "LEFT JOIN sf_integration i ON i.name = w.integration "
	    "WHERE w.kind = 'enterprise' AND w.slack_id = $1 "
	    "AND (w.integration = '' OR i.name IS NOT NULL)) AS mapping "
	    "ORDER BY o LIMIT 1" },
	[STMT_WS_GET] = { "ws_get",
	    "SELECT integration FROM workspace_integration "
	    "WHERE kind = $1 AND slack_id = $2" },
	[STMT_WS_PUT] = { "ws_put",
	    "INSERT INTO workspace_integration (kind, slack_id, integration, "
	    "updated_at) VALUES ($1, $2, $3, $4) "
	    "ON CONFLICT (kind, slack_id) DO UPDATE SET "
	    "integration = excluded.integration, "
	    "updated_at = excluded.updated_at" },
	[STMT_WS_DEL] = { "ws_del",
	    "DELETE FROM workspace_integration "
	    "WHERE kind = $1 AND slack_id = $2" },
	[STMT_WS_LIST] = { "ws_list",
	    "SELECT w.kind, w.slack_id, w.integration, w.updated_at, "
	    "(SELECT count(*) FROM sf_link l WHERE "
	    "(w.kind = 'team' AND l.team_id = w.slack_id) OR "
	    "(w.kind = 'enterprise' AND l.enterprise_id = w.slack_id)), "
	    "(SELECT count(*) FROM sf_link l WHERE "
	    "((w.kind = 'team' AND l.team_id = w.slack_id) OR "
	    "(w.kind = 'enterprise' AND l.enterprise_id = w.slack_id)) "
	    "AND l.org <> w.integration) "
	    "FROM workspace_integration w "
	    "WHERE $1::text IS NULL OR w.integration = $1::text "
	    "ORDER BY w.kind COLLATE \"C\" DESC, w.slack_id COLLATE \"C\"" },
	[STMT_WS_DEL_INTEG] = { "ws_del_integ",
	    "DELETE FROM workspace_integration WHERE integration = $1" },
	[STMT_INTEG_GET] = { "integ_get",
	    "SELECT login_url, client_id, key_id, client_secret_ct, "
	    "api_version, integration_user FROM sf_integration "
	    "WHERE name = $1" },
	/* Only the name's uniqueness is an expected conflict; a CHECK that
	 * fails is an error. */
	[STMT_INTEG_ADD] = { "integ_add",
	    "INSERT INTO sf_integration (name, login_url, client_id, key_id, "
	    "client_secret_ct, api_version, integration_user, created_at) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
	    "ON CONFLICT (name) DO NOTHING" },
	[STMT_INTEG_SET_SECRET] = { "integ_set_secret",
	    "UPDATE sf_integration SET key_id = $2, client_secret_ct = $3 "
	    "WHERE name = $1" },
	[STMT_INTEG_EXISTS] = { "integ_exists",
	    "SELECT 1 FROM sf_integration WHERE name = $1" },
	[STMT_INTEG_LIST] = { "integ_list",
	    "SELECT i.name, i.login_url, i.client_id, i.api_version, "
	    "i.key_id, i.integration_user, i.created_at, "
	    "(SELECT count(*) FROM workspace_integration w "
	    "WHERE w.integration = i.name), "
	    "(SELECT count(*) FROM sf_link l WHERE l.org = i.name), "
	    "(SELECT t.sf_username FROM integration_token t "
	    "WHERE t.integration = i.name) "
	    "FROM sf_integration i ORDER BY i.name COLLATE \"C\"" },
	[STMT_INTEG_DEL] = { "integ_del",
	    "DELETE FROM sf_integration WHERE name = $1" },
	/* STMT_LINK_LIST's columns, in its order (store_link_info_read). */
	[STMT_LINKS_BY_ORG] = { "links_by_org",
	    "SELECT enterprise_id, team_id, user_id, org, sf_user_id, "
	    "sf_org_id, sf_username, instance_url, key_id, version, "
	    "created_at, updated_at, last_used_at FROM sf_link "
	    "WHERE org = $1 ORDER BY team_id COLLATE \"C\", "
	    "user_id COLLATE \"C\", enterprise_id COLLATE \"C\"" },
	[STMT_LINKS_DEL_ORG] = { "links_del_org",
	    "DELETE FROM sf_link WHERE org = $1" },
	[STMT_LINK_ORG] = { "link_org",
	    "SELECT org FROM sf_link "
	    "WHERE enterprise_id = $1 AND team_id = $2 AND user_id = $3" },
	[STMT_STATE_SET_ORG] = { "state_set_org",
	    "UPDATE login_state SET org = $2 WHERE state_hash = $1" },
	[STMT_STATE_ORG] = { "state_org",
	    "SELECT org FROM login_state WHERE state_hash = $1" },
	[STMT_ITOKEN_GET] = { "itoken_get",
	    "SELECT sf_user_id, sf_org_id, sf_username, instance_url, key_id, "
	    "access_token_ct, version, fetched_at FROM integration_token "
	    "WHERE integration = $1" },
	/* A token is written only over the version the caller read ($9):
	 * inserted when it read none, else updated. */
	[STMT_ITOKEN_INS] = { "itoken_ins",
	    "INSERT INTO integration_token (integration, sf_user_id, "
	    "sf_org_id, sf_username, instance_url, key_id, access_token_ct, "
	    "fetched_at, version) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::bigint + 1) "
	    "ON CONFLICT (integration) DO NOTHING" },
	[STMT_ITOKEN_UPD] = { "itoken_upd",
	    "UPDATE integration_token SET sf_user_id = $2, sf_org_id = $3, "
	    "sf_username = $4, instance_url = $5, key_id = $6, "
	    "access_token_ct = $7, fetched_at = $8, "
	    "version = $9::bigint + 1 "
	    "WHERE integration = $1 AND version = $9::bigint" },
	[STMT_ITOKEN_DEL] = { "itoken_del",
	    "DELETE FROM integration_token WHERE integration = $1" },
	[STMT_REKEY_INTEG] = { "rekey_integ",
	    "SELECT rowid, name, key_id, client_secret_ct FROM sf_integration "
	    "WHERE key_id <> $1 AND rowid > $2 ORDER BY rowid LIMIT $3" },
	[STMT_REKEY_INTEG_SET] = { "rekey_integ_set",
	    "UPDATE sf_integration SET key_id = $2, client_secret_ct = $3 "
	    "WHERE name = $1 AND key_id = $4 AND client_secret_ct = $5" },
	[STMT_REKEY_ITOKEN] = { "rekey_itoken",
	    "SELECT rowid, integration, key_id, access_token_ct, version "
	    "FROM integration_token "
	    "WHERE key_id <> $1 AND rowid > $2 ORDER BY rowid LIMIT $3" },
	[STMT_REKEY_ITOKEN_SET] = { "rekey_itoken_set",
	    "UPDATE integration_token SET key_id = $2, access_token_ct = $3 "
	    "WHERE integration = $1 AND key_id = $4 AND access_token_ct = $5 "
	    "AND version = $6" },
	/* --- Action rows (sql/006_actions.sql, store_action.c) --- */
	[STMT_ACTION_PUT] = { "action_put",
	    "INSERT INTO slack_action (key_hash, kind, enterprise_id, "
	    "team_id, user_id, state, key_id, data_ct, created_at, "
	    "expires_at) VALUES ($4, $5, $1, $2, $3, 0, $6, $7, $8, $9)" },
	[STMT_ACTION_GET] = { "action_get",
	    "SELECT kind, enterprise_id, team_id, user_id, view_id, state, "
	    "key_id, data_ct, created_at, expires_at FROM slack_action "
	    "WHERE key_hash = $1" },
	/* The compare-and-set: the row of $4, who's ($1 to $3), still in
	 * state $5 and live at $7, moves to $6; new data $9 comes with the
	 * id $8 of the key that sealed it, both NULL to keep the data. */
	[STMT_ACTION_STEP] = { "action_step",
	    "UPDATE slack_action SET state = $6, "
	    "key_id = coalesce($8, key_id), data_ct = coalesce($9, data_ct) "
	    "WHERE key_hash = $4 AND enterprise_id = $1 AND team_id = $2 "
	    "AND user_id = $3 AND state = $5 AND expires_at > $7" },
	[STMT_ACTION_VIEW_OWNER] = { "action_view_owner",
	    "SELECT key_hash FROM slack_action WHERE view_id = $1" },
	/* A row without a view gets $5; one with $5 already stays. */
	[STMT_ACTION_VIEW] = { "action_view",
	    "UPDATE slack_action SET view_id = $5 "
	    "WHERE key_hash = $4 AND enterprise_id = $1 AND team_id = $2 "
	    "AND user_id = $3 AND expires_at > $6 "
	    "AND (view_id IS NULL OR view_id = $5)" },
	[STMT_ACTION_DROP] = { "action_drop",
	    "DELETE FROM slack_action WHERE key_hash = $4 "
	    "AND enterprise_id = $1 AND team_id = $2 AND user_id = $3" },
	[STMT_PURGE_ACTION] = { "purge_action",
	    "DELETE FROM slack_action WHERE expires_at <= $1" },
	/* Key rotation of action rows, by key hash, as a search's.  The
	 * state is not compared: a rotation never changes it. */
	[STMT_REKEY_ACTIONS] = { "rekey_actions",
	    "SELECT rowid, key_hash, key_id, data_ct FROM slack_action "
	    "WHERE key_id <> $1 AND rowid > $2 ORDER BY rowid LIMIT $3" },
	[STMT_REKEY_ACTION_SET] = { "rekey_action_set",
	    "UPDATE slack_action SET key_id = $2, data_ct = $3 "
	    "WHERE key_hash = $1 AND key_id = $4 AND data_ct = $5" },
	/* --- What only forcelink-admin asks for (store_admin.c) --- */
	[STMT_LINK_LIST] = { "admin_list",
	    "SELECT enterprise_id, team_id, user_id, org, sf_user_id, "
	    "sf_org_id, sf_username, instance_url, key_id, version, "
	    "created_at, updated_at, last_used_at FROM sf_link "
	    "WHERE ($1::text IS NULL OR enterprise_id = $1::text) "
	    "AND ($2::text IS NULL OR team_id = $2::text) "
	    "AND ($3::text IS NULL OR user_id = $3::text) "
	    "ORDER BY team_id COLLATE \"C\", user_id COLLATE \"C\", "
	    "enterprise_id COLLATE \"C\"" },
	[STMT_LINK_REMOVE] = { "admin_remove",
	    "DELETE FROM sf_link "
	    "WHERE enterprise_id = $1 AND team_id = $2 AND user_id = $3" },
	[STMT_STATS_LINKS] = { "admin_stats_links",
	    "SELECT count(*), "
	    "count(*) FILTER (WHERE last_used_at >= $1), "
	    "count(*) FILTER (WHERE last_used_at >= $2), "
	    "count(*) FILTER (WHERE last_used_at IS NULL), "
	    "coalesce(min(created_at), 0), coalesce(max(created_at), 0) "
	    "FROM sf_link" },
	[STMT_STATS_TEAMS] = { "admin_stats_teams",
	    "SELECT enterprise_id, team_id, count(*) FROM sf_link "
	    "GROUP BY enterprise_id, team_id "
	    "ORDER BY team_id COLLATE \"C\", enterprise_id COLLATE \"C\"" },
	[STMT_STATS_LOGIN] = { "admin_stats_login",
	    "SELECT count(*) FILTER (WHERE expires_at > $1 "
	    "AND started_at IS NULL), "
	    "count(*) FILTER (WHERE expires_at > $1 "
	    "AND started_at IS NOT NULL AND used_at IS NULL), "
	    "count(*) FILTER (WHERE expires_at > $1 AND used_at IS NOT NULL), "
	    "count(*) FILTER (WHERE expires_at <= $1) FROM login_state" },
	[STMT_STATS_REPLAY] = { "admin_stats_replay",
	    "SELECT count(*) FILTER (WHERE expires_at > $1), "
	    "count(*) FILTER (WHERE expires_at <= $1) FROM slack_replay" },
	/* A used login state keeps its key_id but no longer its verifier:
	 * only rows still holding something sealed count. */
	[STMT_STATS_KEYS] = { "admin_stats_keys",
	    "SELECT key_id, sum(l)::bigint, sum(s)::bigint FROM ("
	    "SELECT key_id, 1 AS l, 0 AS s FROM sf_link UNION ALL "
	    "SELECT key_id, 0, 1 FROM login_state "
	    "WHERE key_id IS NOT NULL AND verifier_ct IS NOT NULL) AS held "
	    "GROUP BY key_id ORDER BY key_id COLLATE \"C\"" },
	/* SQLite's file figures: no statement here means the same. */
	[STMT_PAGE_SIZE] = { "admin_page_size", NULL },
	[STMT_PAGE_COUNT] = { "admin_page_count", NULL },
	[STMT_FREELIST] = { "admin_freelist", NULL },
	[STMT_USER_VERSION] = { "admin_user_version",
	    "SELECT version FROM forcelink_schema" },
	[STMT_INTEGRITY] = { "admin_integrity", NULL },
	/* The columns of STMT_LINK_LIST; ties in STMT_LINK_LIST's order. */
	[STMT_LINK_NEWEST] = { "admin_newest",
	    "SELECT enterprise_id, team_id, user_id, org, sf_user_id, "
	    "sf_org_id, sf_username, instance_url, key_id, version, "
	    "created_at, updated_at, last_used_at FROM sf_link "
	    "ORDER BY updated_at DESC, team_id COLLATE \"C\", "
	    "user_id COLLATE \"C\", enterprise_id COLLATE \"C\" LIMIT 1" },
	[STMT_STATS_INSTALLS] = { "admin_stats_installs",
	    "SELECT count(*), count(*) FILTER (WHERE needs_reinstall <> 0) "
	    "FROM slack_install" },
	[STMT_STATS_ACTIONS] = { "admin_stats_actions",
	    "SELECT count(*) FILTER (WHERE expires_at > $1), "
	    "count(*) FILTER (WHERE expires_at <= $1) FROM slack_action" },
	/* --- Moving a store to another database (store_migrate.c) --- */
	/* One row: the rows of each table, in store_migrate.c's order. */
	[STMT_MIG_COUNTS] = { "mig_counts",
	    "SELECT (SELECT count(*) FROM sf_link), (SELECT count(*) "
	    "FROM login_state), (SELECT count(*) FROM slack_replay), "
	    "(SELECT count(*) FROM slack_install), (SELECT count(*) "
	    "FROM slack_install_state), (SELECT count(*) FROM "
	    "sf_integration), (SELECT count(*) FROM "
	    "workspace_integration), (SELECT count(*) FROM "
	    "integration_token), (SELECT count(*) FROM slack_action)" },
	[STMT_MIG_READ_LINKS] = { "mig_read_links",
	    "SELECT " STORE_MIG_LINKS_COLS
	    " FROM sf_link ORDER BY rowid" },
	[STMT_MIG_PUT_LINKS] = { "mig_put_links",
	    "INSERT INTO sf_link (" STORE_MIG_LINKS_COLS ") "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
	    "$12, $13, $14, $15)" },
	[STMT_MIG_READ_STATES] = { "mig_read_states",
	    "SELECT " STORE_MIG_STATES_COLS
	    " FROM login_state ORDER BY rowid" },
	[STMT_MIG_PUT_STATES] = { "mig_put_states",
	    "INSERT INTO login_state (" STORE_MIG_STATES_COLS ") "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
	    "$12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, "
	    "$23, $24, $25, $26, $27, $28, $29, $30)" },
	[STMT_MIG_READ_REPLAY] = { "mig_read_replay",
	    "SELECT " STORE_MIG_REPLAY_COLS
	    " FROM slack_replay ORDER BY sig_hash" },
	[STMT_MIG_PUT_REPLAY] = { "mig_put_replay",
	    "INSERT INTO slack_replay (" STORE_MIG_REPLAY_COLS ") "
	    "VALUES ($1, $2)" },
	[STMT_MIG_READ_INSTALLS] = { "mig_read_installs",
	    "SELECT " STORE_MIG_INSTALLS_COLS
	    " FROM slack_install ORDER BY rowid" },
	[STMT_MIG_PUT_INSTALLS] = { "mig_put_installs",
	    "INSERT INTO slack_install (" STORE_MIG_INSTALLS_COLS ") "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
	    "$12, $13, $14, $15, $16, $17)" },
	[STMT_MIG_READ_ISTATES] = { "mig_read_istates",
	    "SELECT " STORE_MIG_ISTATES_COLS
	    " FROM slack_install_state ORDER BY state_hash" },
	[STMT_MIG_PUT_ISTATES] = { "mig_put_istates",
	    "INSERT INTO slack_install_state (" STORE_MIG_ISTATES_COLS ") "
	    "VALUES ($1, $2, $3, $4, $5)" },
	[STMT_MIG_READ_INTEG] = { "mig_read_integ",
	    "SELECT " STORE_MIG_INTEG_COLS
	    " FROM sf_integration ORDER BY rowid" },
	[STMT_MIG_PUT_INTEG] = { "mig_put_integ",
	    "INSERT INTO sf_integration (" STORE_MIG_INTEG_COLS ") "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)" },
	[STMT_MIG_READ_WS] = { "mig_read_ws",
	    "SELECT " STORE_MIG_WS_COLS
	    " FROM workspace_integration ORDER BY kind COLLATE \"C\", "
	    "slack_id COLLATE \"C\"" },
	[STMT_MIG_PUT_WS] = { "mig_put_ws",
	    "INSERT INTO workspace_integration (" STORE_MIG_WS_COLS ") "
	    "VALUES ($1, $2, $3, $4)" },
	[STMT_MIG_READ_ITOKEN] = { "mig_read_itoken",
	    "SELECT " STORE_MIG_ITOKEN_COLS
	    " FROM integration_token ORDER BY rowid" },
	[STMT_MIG_PUT_ITOKEN] = { "mig_put_itoken",
	    "INSERT INTO integration_token (" STORE_MIG_ITOKEN_COLS ") "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)" },
	[STMT_MIG_READ_ACTIONS] = { "mig_read_actions",
	    "SELECT " STORE_MIG_ACTIONS_COLS
	    " FROM slack_action ORDER BY rowid" },
	[STMT_MIG_PUT_ACTIONS] = { "mig_put_actions",
	    "INSERT INTO slack_action (" STORE_MIG_ACTIONS_COLS ") "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)" },
	[STMT_MIG_SEALED_LINKS] = { "mig_sealed_links",
	    "SELECT rowid, enterprise_id, team_id, user_id, key_id, "
	    "access_token_ct, refresh_token_ct FROM sf_link WHERE "
	    "rowid > $1 ORDER BY rowid LIMIT $2" },
	[STMT_MIG_SEALED_STATES] = { "mig_sealed_states",
	    "SELECT rowid, nonce_hash, state_hash, key_id, "
	    "verifier_ct, search_key_id, search_ct, search_url_ct, "
	    "pend_key_id, pend_access_ct, pend_refresh_ct FROM "
	    "login_state WHERE rowid > $1 ORDER BY rowid LIMIT $2" },
	[STMT_MIG_SEALED_INSTALLS] = { "mig_sealed_installs",
	    "SELECT rowid, enterprise_id, team_id, key_id, "
	    "bot_token_ct, refresh_token_ct FROM slack_install WHERE "
	    "rowid > $1 ORDER BY rowid LIMIT $2" },
	[STMT_MIG_SEALED_INTEG] = { "mig_sealed_integ",
	    "SELECT rowid, name, key_id, client_secret_ct FROM "
	    "sf_integration WHERE rowid > $1 ORDER BY rowid LIMIT $2" },
	[STMT_MIG_SEALED_ITOKEN] = { "mig_sealed_itoken",
	    "SELECT rowid, integration, key_id, access_token_ct FROM "
	    "integration_token WHERE rowid > $1 ORDER BY rowid LIMIT "
	    "$2" },
	[STMT_MIG_SEALED_ACTIONS] = { "mig_sealed_actions",
	    "SELECT rowid, key_hash, key_id, data_ct FROM slack_action "
	    "WHERE rowid > $1 ORDER BY rowid LIMIT $2" },
	/* SQLite's PRAGMA data_version: no counterpart (a server's
	 * database has no single file whose writers it could count). */
	[STMT_MIG_DATA_VERSION] = { "mig_data_version", NULL },
};

/*
 * store: everything forcelink keeps, in one SQLite file (one host) or in
 * a PostgreSQL database (several hosts).
 *
 * This is the only module that includes sqlite3.h and libpq-fe.h.  It
 * owns the schema (sql/NNN_*.sql and sql/postgresql/NNN_*.sql, compiled
 * in and applied as versioned migrations), the fixed set of statements
 * (prepared once per connection), busy handling and timeouts (one place
 * per engine, with a cap) and the encryption of tokens at rest, which is
 * the same on both engines: a ciphertext moves between them unchanged.
 *
 * The engine is chosen by what names the database: a postgresql:// or
 * postgres:// URI is a libpq connection URI (its password from the file
 * FORCELINK_DB_PASSWORD_FILE names, or libpq's PGPASSFILE), anything else
 * a SQLite file's path.
 *
 * One struct store is one connection and must be used by one thread at a
 * time; each worker thread opens its own.  The connections of a program
 * share one keyring (keyring.h): each row is opened with the key its key
 * id names, and every seal uses the current key.  On SQLite many
 * processes share the file through WAL mode, and writes that read first
 * run under BEGIN IMMEDIATE; on PostgreSQL they run in a transaction
 * that first takes one advisory lock, so in both there is one such
 * writer at a time, on every host.  Writes of tokens are durable before
 * they return (synchronous=FULL; synchronous_commit=on), because a
 * rotated refresh token that is lost cannot be fetched again.
 *
 * What is stored:
 *  - links: one per Slack user (enterprise, team, user), with the
 *    Salesforce identity in plain text and both tokens sealed with
 *    crypto_seal(); the associated data names the row, the token kind and
 *    the key id, so a ciphertext moved to another row or column fails to
 *    open.  The view "links" shows them without the ciphertext.
 *  - login states: the one-time nonce in the login link, and after
 *    /oauth/start the OAuth state, the browser cookie and the sealed PKCE
 *    verifier; all secrets by hash only, except the verifier, which must
 *    be read back and is sealed.  When an unlinked user's search made
 *    the login link, the search and its response_url are kept sealed on
 *    the same row (associated data: the nonce hash, the column, the key
 *    id) until the callback takes them with the state, or the row
 *    expires.  A link that waits for its proof (FORCELINK_LINK_PROOF
 *    code) is kept on the row too, its tokens sealed like the search.
 *  - replays: hashes of Slack signatures seen in the last few minutes.
 *  - Slack installations: one per workspace or org-wide install, with the
 *    bot token and its refresh token sealed like links' tokens (the
 *    associated data names the installation as a row with an empty user,
 *    the column and the key id); the view "installations" shows them
 *    without the ciphertext.  And the install flow's states, by hash.
 */
#ifndef FORCELINK_STORE_H
#define FORCELINK_STORE_H

#include <stdint.h>
#include <time.h>

#include "config.h"
#include "crypto.h"
#include "keyring.h"
#include "slack.h"

struct store;

enum store_result {
	STORE_OK,
	STORE_NOTFOUND,		/* no such row (unlinked, unknown state) */
	STORE_USED,		/* a one-time value was already used */
	STORE_EXPIRED,		/* a one-time value is past its expiry */
	STORE_MISMATCH,		/* state and browser cookie do not belong together */
	STORE_CONFLICT,		/* the row changed since it was read */
	STORE_EXISTS,		/* already present (a replayed signature) */
	STORE_BADKEY,		/* sealed under another key, or altered */
	STORE_ERROR,		/* SQLite or memory failure (logged) */
	STORE_BUSY		/* the database stayed locked past the busy
				   cap (only the key-rotation calls tell
				   this apart from STORE_ERROR) */
};

const char	*store_result_str(enum store_result);

/* A stored link, as read back.  All strings are allocated and owned by
 * the struct: release with store_link_free(), which wipes the tokens. */
struct store_link {
	char	*org;		/* Salesforce integration name; "" = default */
	char	*sf_user_id;
	char	*sf_org_id;
	char	*sf_username;
	char	*instance_url;
	char	*access_token;	/* secret */
	char	*refresh_token;	/* secret */
	int64_t	 version;	/* bumped on every token change */
	time_t	 created_at;
	time_t	 updated_at;
	time_t	 last_used_at;	/* 0 when never used */
};

/* How stale last_used_at may be before a use is written down: recording
 * every use would add a second write transaction to each request. */
#define STORE_TOUCH_SECS	60

/*
 * Opens the database: a SQLite file at path (created with mode 0600 when
 * absent; WAL mode and the busy timeout), or the PostgreSQL database a
 * URI names (which must exist); applies pending migrations and
 * prepares the statements.  The connection seals with the keyring's
 * current key and opens each row with the key its key id names; it
 * follows the keyring as it is reloaded (keyring.h).  kr is shared, not
 * copied: it must outlive the connection.  Returns NULL on failure
 * (logged), including a database newer than this program understands.
 */
struct store	*store_open_keyring(const char *path, struct keyring *kr);

/*
 * store_open_keyring() for a worker thread, after its program opened the
 * store once at start (which migrated it): on PostgreSQL it connects
 * (waiting longer than a request would) but opens even when the server
 * does not answer; then the first call connects, as a later one does
 * after a loss.  So a thread starts (and its worker lives) while the
 * server is down, and its requests get an apology meanwhile.  On SQLite
 * the same as store_open_keyring().
 */
struct store	*store_open_deferred(const char *db, struct keyring *kr);

/* store_open_keyring() with a keyring of this one key, which is copied
 * (tests and tools that hold one key). */
struct store	*store_open(const char *path, const struct crypto_key *key);
void		 store_close(struct store *);

/*
 * Checkpoints of a SQLite file (copying its WAL back into it, with two
 * fsyncs).  By default the connection whose commit made the WAL long runs
 * one itself once its transaction is over, in the middle of some
 * request.  A program with a thread to spare calls
 * store_checkpoint_elsewhere(wake) once per process, before its other
 * threads start: from then on such a commit only calls wake(), from
 * whatever thread committed (it must be cheap and safe there; several
 * calls may come before the checkpoint runs), and the woken thread calls
 * store_checkpoint() with a connection of its own.  NULL goes back to the
 * default, at any time (when that connection cannot be opened).
 * store_checkpoint() does nothing on PostgreSQL or inside a
 * transaction; a checkpoint that cannot run now is tried at the next
 * wake.
 */
void		 store_checkpoint_elsewhere(void (*wake)(void));
void		 store_checkpoint(struct store *);

/* Whether db names a PostgreSQL database (a postgresql:// or postgres://
 * URI) rather than a SQLite file; the name of a connection's engine,
 * "sqlite" or "postgresql". */
int		 store_is_uri(const char *db);
const char	*store_engine_name(const struct store *);

/*
 * A lock across every process (and, on PostgreSQL, every host) that uses
 * the store, named by any string: refresh single-flight.  Taken by one
 * connection at a time; released by store_lock_release() or when the
 * connection (or its process) ends.  SQLite: a byte lock of the file
 * "<database>-refresh.lock"; PostgreSQL: a session advisory lock.
 * store_lock_try() returns 1 when taken, 0 when another connection holds
 * it, or this one does already (the fibers of a thread share their
 * connection, and exclude each other too), -1 (logged).  The caller
 * waits and tries again.  Releasing a lock not held does nothing.
 */
int		 store_lock_try(struct store *, const char *name);
void		 store_lock_release(struct store *, const char *name);

/* The schema version this program migrates to. */
int		 store_schema_version(void);

/*
 * Reads the link of who, opening it with the key its key id names (an id
 * the keyring does not hold makes it re-read the key file once).
 * STORE_OK fills *out; STORE_NOTFOUND when not linked; STORE_BADKEY when
 * the tokens were sealed under a key we do not hold or were altered
 * (nothing is changed: the caller reports it); STORE_ERROR.
 */
enum store_result store_link_get(struct store *, const struct slack_user *,
	    struct store_link *out);

/*
 * Creates or replaces the link of who with in (org, sf_*, instance_url and
 * both tokens are read; version and times are set here).  When a link
 * existed and old_refresh is not NULL, *old_refresh receives its refresh
 * token (allocated; free with crypto_free_secret) so the caller can revoke
 * it, or NULL when there was none or it could not be opened.  The new
 * link is sealed under the current key.  Returns STORE_OK, STORE_BADKEY
 * when the existing link is sealed under a key we do not hold (it is left
 * as it is: a wrong key must not destroy links), or STORE_ERROR.
 */
enum store_result store_link_put(struct store *, const struct slack_user *,
	    const struct store_link *in, char **old_refresh);

/*
 * After a refresh: replaces the access token (and the refresh token when
 * refresh is not NULL) if the link still has version expect, sealing
 * under the current key (a refresh token that stays is sealed again with
 * it when the link was under an older key).  Returns STORE_OK (and bumps
 * the version), STORE_CONFLICT when the link changed or vanished
 * meanwhile or is under a key we do not hold, STORE_BADKEY when its
 * refresh token does not open, STORE_ERROR.
 */
enum store_result store_link_update_tokens(struct store *,
	    const struct slack_user *, int64_t expect, const char *access,
	    const char *refresh);

/*
 * Deletes the link of who, but only while it still has version expect
 * (expect < 0: whatever version) and is sealed under a key of this
 * connection's keyring.  Returns STORE_OK, STORE_NOTFOUND (gone already,
 * changed meanwhile or sealed under a key we do not hold) or STORE_ERROR.
 */
enum store_result store_link_delete(struct store *, const struct slack_user *,
	    int64_t expect);

/* Records that the link was just used (for the admin's "last used").
 * Callers skip it while last_used_at is less than STORE_TOUCH_SECS old,
 * so the column is exact to within that. */
enum store_result store_link_touch(struct store *, const struct slack_user *);

void		 store_link_free(struct store_link *);

/*
 * Records a new login nonce for who (by its hash), valid until expires.
 * Returns STORE_OK or STORE_ERROR.
 */
enum store_result store_nonce_add(struct store *, const struct slack_user *,
	    const unsigned char nonce_hash[CRYPTO_HASHLEN], time_t expires);

/*
 * /oauth/start: consumes the nonce with hash nonce_hash and attaches the
 * OAuth state (by hash), the browser cookie (by hash) and the PKCE
 * verifier (sealed), valid until expires.  Returns STORE_OK (and *who),
 * STORE_NOTFOUND, STORE_USED, STORE_EXPIRED or STORE_ERROR.
 */
enum store_result store_nonce_start(struct store *,
	    const unsigned char nonce_hash[CRYPTO_HASHLEN], time_t now,
	    const unsigned char state_hash[CRYPTO_HASHLEN],
	    const unsigned char cookie_hash[CRYPTO_HASHLEN],
	    const char *verifier, time_t expires, struct slack_user *who);

/*
 * /oauth/callback: finds the state, checks that cookie_hash is the one
 * recorded with it (STORE_MISMATCH otherwise, and the state stays usable),
 * then consumes it.  Of several concurrent callers with the same state
 * exactly one gets STORE_OK, with *who and *verifier (allocated; free with
 * crypto_free_secret).  Otherwise STORE_NOTFOUND, STORE_USED,
 * STORE_EXPIRED, STORE_BADKEY or STORE_ERROR.
 */
enum store_result store_state_take(struct store *,
	    const unsigned char state_hash[CRYPTO_HASHLEN],
	    const unsigned char cookie_hash[CRYPTO_HASHLEN], time_t now,
	    struct slack_user *who, char **verifier);

/*
 * Records a Slack signature (by hash) until expires.  Returns STORE_OK
 * when it was new, STORE_EXISTS when it was already there (a replay), or
 * STORE_ERROR.  Expired entries are purged along the way.
 */
enum store_result store_replay_add(struct store *,
	    const unsigned char sig_hash[CRYPTO_HASHLEN], time_t now,
	    time_t expires);

/*
 * Decides whether the signature whose SHA-256 is sig_hash, with the
 * verified X-Slack-Request-Timestamp ts, is new (STORE_OK) or a replay
 * (STORE_EXISTS), or STORE_ERROR when the store cannot say.  The host's
 * replay cache (replay.h) answers first; the store is asked when the
 * cache cannot decide, and always on PostgreSQL, whose slack_replay
 * table is shared by every host (the cache then only refuses sooner).
 * On SQLite a signature the cache accepts costs no write; every
 * STORE_PURGE_EVERY of them purge expired rows, as store_replay_add()
 * does.
 */
enum store_result store_replay_check(struct store *,
	    const unsigned char sig_hash[CRYPTO_HASHLEN], int64_t ts,
	    time_t now);

/* The number of replay entries of the store still live at now, or -1
 * (logged): replay_open()'s history. */
long		 store_replay_live(struct store *, time_t now);

/* Deletes expired login states, install states, replay entries and
 * action rows.  Returns the number of rows removed, or -1. */
int		 store_purge(struct store *, time_t now);

/* --- Administration (forcelink-admin) ----------------------------------
 *
 * What the admin tool needs beyond the workers' calls: listing links
 * without opening their tokens, removing a link whatever key sealed it,
 * purging with counts, statistics and the integrity check.  None of these
 * reads or returns a secret.
 */

/*
 * What forcelink-admin doctor and stats report of a PostgreSQL store:
 * where it is and how it is reached, and what the role may do.
 * store_server_info() fills *out and returns 0; -1 (logged) on failure
 * or for a SQLite store.
 */
struct store_server {
	char		 host[256];	/* host name, or socket directory */
	char		 db[128];
	char		 user[128];
	char		 version[64];	/* server_version */
	char		 sslmode[16];	/* the connection's sslmode */
	int		 ssl;		/* the connection is encrypted */
	int		 local;		/* unix socket or loopback */
	int		 superuser;	/* the role is one (it should not be) */
	int		 checksums;	/* data_checksums on */
	long long	 size_bytes;	/* pg_database_size */
	char		 missing[512];	/* "table:privilege" the role lacks,
					   comma-separated; "" when none */
};
int		 store_server_info(struct store *, struct store_server *);

/* Outcome of store_probe(). */
enum store_probe_result {
	STORE_PROBE_OK,		/* the file is an SQLite database */
	STORE_PROBE_MISSING,	/* no such file (nothing is created) */
	STORE_PROBE_BUSY,	/* locked beyond the busy timeout */
	STORE_PROBE_ERROR	/* not a database, unreadable, ... (logged) */
};

/*
 * Looks at the database at path without creating, migrating or changing
 * it: reads its schema version (PRAGMA user_version) into *version,
 * waiting for a lock at most as long as every other store call does.
 * An admin tool calls it before store_open(), which would create a
 * missing file and migrate an old one.
 */
enum store_probe_result store_probe(const char *path, int *version);

/* Whether the last call on this connection that failed did so because
 * another connection held a lock beyond the busy timeout (1) or for
 * another reason (0).  Meaningful only right after a failure. */
int		 store_busy_failed(struct store *);

/*
 * Backups (forcelink-admin backup and restore), with SQLite's online
 * backup API.
 *
 * store_backup() copies st's database, as one consistent snapshot taken
 * while other connections keep writing, into the file at path, which
 * the caller created empty (and private).  The copy is left in rollback
 * mode (journal_mode=DELETE): one self-contained file.  Returns
 * STORE_OK, STORE_BUSY or STORE_ERROR (logged).
 *
 * store_restore() replaces st's database with the one in the file at
 * path (opened read-only), in one write transaction under the write lock
 * (synchronous=FULL): the other connections, in this process or others,
 * see the old content or the new, never a mix, and prepare their
 * statements again.  The file's owner and mode stay.  The page sizes
 * must be equal (SQLite refuses otherwise; every forcelink database has
 * SQLite's default).  Nothing is migrated or checked: the caller checks
 * the source first.  Returns STORE_OK, STORE_BUSY or STORE_ERROR
 * (logged).
 */
enum store_result store_backup(struct store *, const char *path);
enum store_result store_restore(struct store *, const char *path);

/*
 * Moving a store to another database (forcelink-admin migrate-store):
 * every row of every table of src inserted into dst, in one write
 * transaction of dst, then checked there before it commits.  Neither
 * engine is assumed: the rows go through the same statements on both.
 *
 * src must not change while this runs (rows read from a changing
 * database are not one state of it): forcelink-admin gives it a copy,
 * store_backup() into a private file opened with store_open_readonly().
 * dst must hold no row of any table (its schema made by opening it):
 * otherwise STORE_EXISTS and nothing is written.  Sealed columns are
 * copied byte for byte, never opened and sealed again: their
 * associated data names the row, not the database.  PostgreSQL numbers
 * the copied rows' rowid itself, in the source's rowid order.
 *
 * Then, still inside the transaction: each table must hold as many rows
 * as src's, and every sealed value of dst must open with the keys of
 * dst's keyring (links' two tokens, installations' tokens, integrations'
 * secrets and tokens, login states' verifiers, searches and pending
 * links, action rows' data).  Only then, with commit set, does the transaction commit;
 * without it (a rehearsal) it is rolled back after the checks.  Right
 * before the commit, unchanged (when not NULL) is asked whether the
 * database src was copied from is still as it was: 0 rolls back
 * (STORE_CONFLICT, rep->source_changed), since rows written there after
 * the copy was taken would be lost with the switch.
 *
 * Returns STORE_OK (rep complete; committed when commit was set),
 * STORE_EXISTS (rep->nonempty names dst's first table holding rows),
 * STORE_BADKEY (some sealed values do not open: rep->bad lists them by
 * table, column and key id, never a value), STORE_CONFLICT (a count
 * differs: rep says which; or the source changed), STORE_BUSY or
 * STORE_ERROR (logged).  In all but STORE_OK with commit, dst is left as
 * it was.
 *
 * store_data_version() gives a number of st's connection that changes
 * whenever another connection commits to its SQLite file (SQLite's
 * PRAGMA data_version): 0 and *v, or -1 (logged; PostgreSQL has none).
 */
#define STORE_MIGRATE_TABLES	9
#define STORE_MIGRATE_BAD_MAX	8

struct store_migrate_table {
	const char	*name;		/* "sf_link", ... */
	int64_t		 source;	/* rows in src */
	int64_t		 copied;	/* rows inserted into dst */
	int64_t		 target;	/* rows in dst before the commit */
	int64_t		 sealed;	/* sealed values of dst checked */
	int64_t		 opened;	/* of which opened */
};

/* Sealed values that did not open, grouped by table, column and key. */
struct store_migrate_bad {
	const char	*table;
	const char	*column;
	char		 key_id[CRYPTO_KEYID_LEN + 1];	/* "" malformed */
	int		 key_missing;	/* 1: no key of that id; 0: the key
					   is held but the value does not
					   open (altered) */
	int64_t		 values;
};

struct store_migrate_report {
	struct store_migrate_table t[STORE_MIGRATE_TABLES];
	struct store_migrate_bad   bad[STORE_MIGRATE_BAD_MAX];
	size_t			   nbad;	/* entries of bad */
	int64_t			   nbad_values;	/* values that did not
						   open, all groups */
	const char		  *nonempty;	/* STORE_EXISTS's table */
	int64_t			   nonempty_rows;
	int			   source_changed;
	int			   committed;
};

enum store_result store_migrate(struct store *src, struct store *dst,
	    int commit, int (*unchanged)(void *), void *arg,
	    struct store_migrate_report *rep);
int		 store_data_version(struct store *, int64_t *v);

/*
 * Opens an existing database read-only: nothing is created, migrated or
 * switched to WAL (for a backup, whose bytes its checksum covers).  Its
 * schema version must be this program's.  The read calls work on it
 * (store_link_get, store_list_links, store_key_census,
 * store_integrity_check, ...); writes fail.  Returns NULL on failure
 * (logged).  Close with store_close().
 */
struct store	*store_open_readonly(const char *path, struct keyring *kr);

/* The non-secret columns of one link, plus the id of the key that sealed
 * its tokens.  Strings are allocated and owned by the struct. */
struct store_link_info {
	struct slack_user who;
	char	*org;
	char	*sf_user_id;
	char	*sf_org_id;
	char	*sf_username;
	char	*instance_url;
	char	*key_id;
	int64_t	 version;
	time_t	 created_at;
	time_t	 updated_at;
	time_t	 last_used_at;	/* 0 when never used */
};

struct store_link_list {
	struct store_link_info	*v;
	size_t			 n;
};

/*
 * Lists the links whose enterprise, team and user ids equal the given
 * ones; a NULL filter matches any value ("" matches only links outside
 * Enterprise Grid).  Ordered by team, user, enterprise.  Tokens are
 * neither read nor opened.  Returns STORE_OK with *out (release with
 * store_link_list_free; empty when nothing matches) or STORE_ERROR.
 */
enum store_result store_list_links(struct store *, const char *enterprise_id,
	    const char *team_id, const char *user_id,
	    struct store_link_list *out);
void		 store_link_list_free(struct store_link_list *);
void		 store_link_info_free(struct store_link_info *);

/*
 * Whether the keyring opens the most recently updated link (the
 * "key.sample" of forcelink-admin doctor, and GET /healthz): reads that
 * link's row into *info, then opens its tokens as store_link_get()
 * does.  Returns STORE_OK (it opens) or STORE_BADKEY (it does not), both
 * with *info filled (release with store_link_info_free); STORE_NOTFOUND
 * when there is no link, or the link was deleted between the two reads;
 * STORE_ERROR (logged) when the database cannot be read.
 */
enum store_result store_key_sample(struct store *,
	    struct store_link_info *info);

/*
 * Deletes the link of who whatever key sealed it (an admin may remove a
 * link the configured key cannot open; nothing is revoked).  Returns
 * STORE_OK, STORE_NOTFOUND or STORE_ERROR.
 */
enum store_result store_link_remove(struct store *, const struct slack_user *);

/* What store_purge_counts() removed. */
struct store_purged {
	long	login_states;	/* expired login nonces and states */
	long	replays;	/* expired Slack signature hashes */
	long	actions;	/* expired action rows (migration 6) */
};

/* store_purge(), counting each kind.  Returns 0 or -1 (logged; the
 * counts then say what was removed before the failure). */
int		 store_purge_counts(struct store *, time_t now,
		    struct store_purged *);

/* Links per workspace, for store_stats(). */
struct store_team_count {
	char	enterprise_id[SLACK_ID_MAX + 1];
	char	team_id[SLACK_ID_MAX + 1];
	long	links;
};

/* Rows per key id, for store_stats(): links and login states whose
 * sealed verifier is still there. */
struct store_stats_key {
	char	*key_id;
	long	 links;
	long	 login_states;
};

/* Figures about the database (each read on its own). */
struct store_stats {
	long			 links;
	long			 links_used_24h; /* used in the last day */
	long			 links_used_30d;
	long			 links_never_used;
	time_t			 oldest_created; /* 0 without links */
	time_t			 newest_created;
	/* Login states: waiting for the login link to be opened, then for
	 * the callback; used (kept until they expire); expired. */
	long			 login_waiting;
	long			 login_started;
	long			 login_used;
	long			 login_expired;	/* purgeable */
	long			 replays_live;
	long			 replays_expired; /* purgeable */
	long			 installs;	/* Slack installations */
	long			 installs_reinstall; /* Slack refused their
						   refresh token */
	long			 actions_live;	/* action rows (migration 6) */
	long			 actions_expired; /* purgeable */
	long			 page_size;
	long			 page_count;
	long			 freelist_count;
	int			 schema_version; /* PRAGMA user_version */
	struct store_team_count	*teams;
	size_t			 nteams;
	struct store_stats_key	*keys;
	size_t			 nkeys;
};

/* Fills *out as of now.  Returns 0 (release with store_stats_free), or
 * -1 (logged; *out is then empty). */
int		 store_stats(struct store *, time_t now,
		    struct store_stats *out);
void		 store_stats_free(struct store_stats *);

/*
 * Runs PRAGMA integrity_check.  Returns 0 when SQLite says "ok"; 1 when
 * it found problems (the first one is copied into msg, size msgsz); -1
 * when the check could not run (logged; msg says why).
 */
int		 store_integrity_check(struct store *, char *msg,
		    size_t msgsz);

/*
 * Key rotation (common/rekey.c drives it).  The sealed values of links
 * (both tokens), of started logins (the PKCE verifier), of searches
 * remembered with a login link (text and response_url), of Slack
 * installations (bot and refresh tokens), of integrations and of action
 * rows (their data) that are not
 * under the current key are read a batch at a time, opened with the key
 * their key id names and sealed again under the current key, with the
 * associated data now naming the current key's id.  The batch is then
 * written in one transaction, each row only while it is still exactly as
 * read (version, key id and ciphertexts), so a refresh, relink or logout
 * that came in between is never overwritten: that row is counted as
 * changed and is read again by the next pass.  Versions stay as they
 * are: re-sealing changes no token.
 */
enum store_rekey_table {
	STORE_REKEY_LINKS,
	STORE_REKEY_STATES,
	STORE_REKEY_SEARCHES,	/* searches remembered with a login link */
	STORE_REKEY_PENDING,	/* links waiting for their proof (mig. 5) */
	STORE_REKEY_INSTALLS,	/* Slack installations' bot tokens */
	STORE_REKEY_INTEGRATIONS,	/* consumer secrets (migration 4) */
	STORE_REKEY_ITOKENS,		/* integration users' tokens */
	STORE_REKEY_ACTIONS		/* action rows' data (migration 6) */
};

/*
 * Rows read (that are under another key than the current one); re-sealed
 * (written under the current key); changed since read (left for the next
 * pass); under a key the keyring does not hold; under a held key but not
 * opening (altered) or malformed.
 */
struct store_rekey_counts {
	long	 read;
	long	 resealed;
	long	 changed;
	long	 unknown_key;
	long	 unopenable;
};

struct store_rekey;

/*
 * Reads up to max rows of table that are not under the current key, in
 * rowid order after *cursor (start at 0), and re-seals them in memory.
 * On STORE_OK *cursor is the last rowid read (fewer than max rows read
 * means the end of the table), *out the batch to write (free with
 * store_rekey_free) and *c (reset first) counts read, unknown_key and
 * unopenable rows, which are left out of the batch and left as they are.
 * STORE_BUSY or STORE_ERROR otherwise (logged).
 */
enum store_result store_rekey_read(struct store *, enum store_rekey_table,
	    int64_t *cursor, int max, struct store_rekey **out,
	    struct store_rekey_counts *c);

/*
 * Writes a batch in one transaction (synchronous=FULL), each row only if
 * unchanged since it was read.  On STORE_OK adds to c->resealed and
 * c->changed.  STORE_BUSY when the write lock could not be had within the
 * busy cap, STORE_ERROR otherwise; nothing is written then.
 */
enum store_result store_rekey_write(struct store *,
	    const struct store_rekey *, struct store_rekey_counts *c);

/* Rows in a batch; NULL counts as 0. */
size_t		 store_rekey_count(const struct store_rekey *);
void		 store_rekey_free(struct store_rekey *);

/* Rows per key id ("" when malformed): links, Slack installations and
 * integrations' sealed values, sealed values of login states (a
 * started login's verifier, a remembered search), and action rows. */
struct store_key_count {
	char	 key_id[CRYPTO_KEYID_LEN + 1];
	long	 links;
	long	 states;
	long	 integrations;	/* consumer secrets and integration users'
				   tokens (migration 4) */
	long	 actions;	/* action rows' data (migration 6) */
};

/* Every sealed row an entry counts: what a rotation must reseal before
 * the key can go.  Callers add up through this, so a table added later
 * is counted everywhere. */
long		 store_key_count_rows(const struct store_key_count *);

/*
 * Counts the sealed rows by key id, in key id order, into out[0..*n-1]
 * (at most max entries; past max distinct ids the rest are added up in
 * out[max - 1], whose key id is then "").  Returns STORE_OK, STORE_BUSY
 * or STORE_ERROR.
 */
enum store_result store_key_census(struct store *,
	    struct store_key_count *out, size_t max, size_t *n);

/* --- Salesforce integrations (sql/004_integrations.sql) ---------------
 *
 * Named app registrations besides the environment's default one (named
 * ""), which workspace or Enterprise Grid organisation uses which, and
 * the cached token of an integration in integration-user mode.  The
 * consumer secret and that token are sealed like links' tokens; the
 * associated data names the integration, the column and the key id.
 * The lookups the workers make per request (store_workspace_integration,
 * store_integration_get, store_itoken_get) are one indexed read each, on
 * statements prepared once per connection.
 */

/*
 * Adds integration in->name (login_url, client_id, client_secret, which
 * is sealed under the current key, api_version, integration_user; the
 * caller validated them, see config.h; login_host is not stored).
 * Returns STORE_OK, STORE_EXISTS when the name is taken, STORE_ERROR.
 */
enum store_result store_integration_add(struct store *,
	    const struct sf_org *in);

/*
 * Reads integration name with its secret opened.  STORE_OK fills *out
 * (every string allocated, login_host NULL: the caller derives it;
 * release with config_sf_org_free); STORE_NOTFOUND; STORE_BADKEY when the
 * secret is sealed under a key we do not hold or was altered;
 * STORE_ERROR.
 */
enum store_result store_integration_get(struct store *, const char *name,
	    struct sf_org *out);

/*
 * The integration a request from team team_id of enterprise enterprise_id
 * ("" outside Enterprise Grid) uses: the team's mapping, else the
 * enterprise's, else the default ("").  Copies its name into name and
 * sets *integration_user (may be NULL) from it (0 for the default).  A
 * mapping to an integration that is gone counts as no mapping.  Returns
 * STORE_OK or STORE_ERROR.
 */
enum store_result store_workspace_integration(struct store *,
	    const char *enterprise_id, const char *team_id,
	    char name[CONFIG_ORG_NAME_MAX + 1], int *integration_user);

/*
 * Replaces the consumer secret of integration name (a secret rotated in
 * Salesforce; the app, and so every link made with it, stays the same),
 * sealed under the current key.  Returns STORE_OK, STORE_NOTFOUND or
 * STORE_ERROR.
 */
enum store_result store_integration_set_secret(struct store *,
	    const char *name, const char *secret);

/* An integration as the admin lists it: no secret.  Strings allocated. */
struct store_integration_info {
	char	*name;
	char	*login_url;
	char	*client_id;
	char	*api_version;
	char	*key_id;	/* of the sealed secret */
	int	 integration_user;
	time_t	 created_at;
	long	 workspaces;	/* mappings naming it */
	long	 links;		/* links made with it */
	char	*token_user;	/* integration user of the cached token, or
				   NULL when none is cached */
};

struct store_integration_list {
	struct store_integration_info	*v;
	size_t				 n;
};

/* Lists the integrations by name.  STORE_OK (release with
 * store_integration_list_free) or STORE_ERROR. */
enum store_result store_integration_list(struct store *,
	    struct store_integration_list *out);
void		 store_integration_list_free(struct store_integration_list *);

/* A workspace (or enterprise) mapping. */
struct store_workspace {
	int	 enterprise;		/* slack_id is an enterprise id */
	char	 slack_id[SLACK_ID_MAX + 1];
	char	*integration;		/* "" for the default */
	time_t	 updated_at;
	long	 links;			/* links in it (for an enterprise: in
					   its workspaces) */
	long	 other;			/* of those, made with another
					   integration than this mapping's */
};

struct store_workspace_list {
	struct store_workspace	*v;
	size_t			 n;
};

/* Lists the mappings, teams then enterprises, by id.  STORE_OK or
 * STORE_ERROR. */
enum store_result store_workspace_list(struct store *,
	    struct store_workspace_list *out);
void		 store_workspace_list_free(struct store_workspace_list *);

/*
 * Maps workspace (or, with enterprise set, Enterprise Grid organisation)
 * slack_id to integration ("" for the default), replacing any mapping it
 * had.  *previous (may be NULL) receives the name it was mapped to before
 * (allocated; NULL when it had no mapping).  Returns STORE_OK,
 * STORE_NOTFOUND when no integration has that name, STORE_ERROR.
 */
enum store_result store_workspace_set(struct store *, int enterprise,
	    const char *slack_id, const char *integration, char **previous);

/* Removes a mapping.  STORE_OK, STORE_NOTFOUND (none), STORE_ERROR. */
enum store_result store_workspace_unset(struct store *, int enterprise,
	    const char *slack_id);

/*
 * Removes integration name and its cached token, in one transaction.
 * While mappings name it or links were made with it, it refuses
 * (STORE_CONFLICT) unless force is set; with force those mappings and
 * links are deleted too (nothing is revoked at Salesforce), and what was
 * deleted is returned in *unmapped and *unlinked (may be NULL; release
 * with the list's free function).  STORE_OK, STORE_NOTFOUND, STORE_BUSY,
 * STORE_ERROR.
 */
enum store_result store_integration_remove(struct store *, const char *name,
	    int force, struct store_workspace_list *unmapped,
	    struct store_link_list *unlinked);

/* The integration link of who was made with (allocated in *org; ""
 * for the default), without opening anything.  STORE_OK,
 * STORE_NOTFOUND, STORE_ERROR. */
enum store_result store_link_org(struct store *, const struct slack_user *,
	    char **org);

/*
 * /oauth/start records the integration the login is started with on the
 * state's row; the callback reads it back (*org allocated, or NULL for a
 * login started before migration 4).  STORE_OK, STORE_NOTFOUND,
 * STORE_ERROR.
 */
enum store_result store_state_set_org(struct store *,
	    const unsigned char state_hash[CRYPTO_HASHLEN], const char *org);
enum store_result store_state_org(struct store *,
	    const unsigned char state_hash[CRYPTO_HASHLEN], char **org);

/* The cached token of an integration user.  Strings allocated; release
 * with store_itoken_free, which wipes the token. */
struct store_itoken {
	char	*sf_user_id;
	char	*sf_org_id;
	char	*sf_username;
	char	*instance_url;
	char	*access_token;	/* secret; NULL from store_itoken_peek */
	int64_t	 version;
	time_t	 fetched_at;
};

/* Reads the cached token of integration name, opened.  STORE_OK,
 * STORE_NOTFOUND, STORE_BADKEY, STORE_ERROR. */
enum store_result store_itoken_get(struct store *, const char *name,
	    struct store_itoken *out);

/* store_itoken_get() without opening the token (access_token NULL): who
 * the integration user is, for answers that make no call. */
enum store_result store_itoken_peek(struct store *, const char *name,
	    struct store_itoken *out);

/*
 * Stores a newly fetched token of integration name (sf_*, instance_url,
 * access_token of in), sealed under the current key, if the cached one
 * still has version expect (0: none cached).  The new version is expect
 * + 1.  Returns STORE_OK, STORE_CONFLICT (changed meanwhile, or the
 * integration is gone), STORE_ERROR.
 */
enum store_result store_itoken_put(struct store *, const char *name,
	    const struct store_itoken *in, int64_t expect);

void		 store_itoken_free(struct store_itoken *);


/* --- Searches remembered with a login link (issue 6) ------------------ */

/*
 * What an unlinked user searched for when the login link was made, so
 * that the callback can answer it once the link is stored.  Strings are
 * allocated and owned by the struct: release with store_search_free(),
 * which wipes them (the response_url is a capability).
 */
struct store_search {
	char	*text;		/* the search, Slack's escaping undone */
	char	*response_url;	/* secret: posts into the user's Slack */
	time_t	 created_at;	/* when the command (and the link) came */
	/* The slash command that searched ("/contact", "/account",
	 * "/pipeline"), or "/case" when text is the key of a Case form's
	 * action row (a form submitted before linking).  NULL (rows made
	 * before issue 15, or none given) is "/contact".  Not secret: kept
	 * in plain text, at most STORE_SEARCH_COMMAND_MAX bytes. */
	char	*command;
};

/* Longest search text and response_url store_nonce_add_search takes. */
#define STORE_SEARCH_TEXT_MAX	4096
#define STORE_SEARCH_URL_MAX	2048
#define STORE_SEARCH_COMMAND_MAX	32

/*
 * store_nonce_add() that also keeps search (text and response_url, both
 * sealed; command in plain text; created_at is ignored: the row's time
 * is used) on the nonce's row.  search may be NULL.  Returns STORE_OK or
 * STORE_ERROR (also for a text or URL that is empty or too long, or a
 * command that is not "/" and then 1 to STORE_SEARCH_COMMAND_MAX - 1
 * printable ASCII characters without spaces).  Every call that hands a
 * kept search back (store_state_take_search, store_state_take_leg,
 * store_search_peek, store_pending_confirm, store_pending_link) gives
 * its command with it, NULL when none was kept.
 */
enum store_result store_nonce_add_search(struct store *,
	    const struct slack_user *,
	    const unsigned char nonce_hash[CRYPTO_HASHLEN], time_t expires,
	    const struct store_search *search);

/*
 * store_state_take() that, in the same transaction, also takes the search
 * kept on the state's row: the row's search is cleared whatever happens
 * to it, so of two callers with the same state at most one ever gets it.
 * On STORE_OK *search holds it, or has text == NULL when there was none
 * or it could not be opened (sealed under another key or altered: logged;
 * the login goes on without it).  search may be NULL.  Otherwise as
 * store_state_take().
 */
enum store_result store_state_take_search(struct store *,
	    const unsigned char state_hash[CRYPTO_HASHLEN],
	    const unsigned char cookie_hash[CRYPTO_HASHLEN], time_t now,
	    struct slack_user *who, char **verifier,
	    struct store_search *search);

/*
 * A read-only look at the search kept on the row of state_hash (used or
 * not): *out as store_state_take_search() would take it (text NULL when
 * there is none or it does not open), the row unchanged.  STORE_OK or
 * STORE_ERROR.  For the code page, which names the search the confirm
 * will answer.
 */
enum store_result store_search_peek(struct store *,
	    const unsigned char state_hash[CRYPTO_HASHLEN],
	    struct store_search *out);

void		 store_search_free(struct store_search *);


/* --- Slack installations (sql/003_installations.sql) ------------------ */

/*
 * An installation of the Slack app: a workspace (enterprise_id "" outside
 * Enterprise Grid), or an org-wide install of a whole enterprise (team_id
 * "").  As read back, the strings are allocated and owned by the struct:
 * release with store_install_free(), which wipes the tokens.  As given
 * to store_install_put(), the caller owns them.
 */
struct store_install {
	char	 enterprise_id[SLACK_ID_MAX + 1];
	char	 team_id[SLACK_ID_MAX + 1];
	char	*app_id;
	char	*team_name;		/* "" for org-wide */
	char	*enterprise_name;	/* "" outside a grid */
	char	*bot_user_id;
	char	*bot_id;
	char	*scopes;
	char	*installer_user_id;	/* "" when Slack did not name one */
	char	*bot_token;		/* secret */
	char	*refresh_token;		/* secret; NULL without rotation */
	time_t	 expires_at;		/* of bot_token; 0: never */
	int	 needs_reinstall;	/* Slack refused the refresh token */
	int64_t	 version;		/* bumped on every token change */
	time_t	 created_at;
	time_t	 updated_at;
};

/* Which installation answers for a request, and what a caller needs to
 * know about its bot token without opening it. */
struct store_install_ref {
	char	 enterprise_id[SLACK_ID_MAX + 1];
	char	 team_id[SLACK_ID_MAX + 1];	/* "" when org-wide */
	time_t	 expires_at;			/* 0: never */
	int	 rotating;			/* has a refresh token */
	int	 needs_reinstall;
};

/*
 * Creates or replaces the installation keyed by in's enterprise_id and
 * team_id (not both empty; SLACK_ID_MAX each).  Every string but
 * refresh_token must be set (NULL bot_id, installer_user_id and names
 * are stored as "").  A replaced installation gets version + 1 and
 * needs_reinstall 0.  Returns STORE_OK or STORE_ERROR (logged).
 */
enum store_result store_install_put(struct store *,
	    const struct store_install *in);

/*
 * Reads the installation with exactly this key.  STORE_OK fills *out;
 * STORE_NOTFOUND; STORE_BADKEY when its tokens were sealed under another
 * key or altered (nothing is changed); STORE_ERROR.
 */
enum store_result store_install_get(struct store *,
	    const char *enterprise_id, const char *team_id,
	    struct store_install *out);

/*
 * The authorization of a request from team team_id of enterprise
 * enterprise_id ("" outside a grid): the workspace's own installation,
 * else its enterprise's org-wide one.  One lookup by primary key; nothing
 * is decrypted.  Returns STORE_OK with *out (and *any = 1), STORE_NOTFOUND
 * or STORE_ERROR.  On STORE_NOTFOUND, when any is not NULL, *any says
 * whether any installation exists at all.  Both answers come from one
 * statement, so a request's authorization is one read transaction.
 */
enum store_result store_install_find(struct store *,
	    const char *enterprise_id, const char *team_id,
	    struct store_install_ref *out, int *any);

/*
 * After a refresh: replaces the bot token, the refresh token and the
 * expiry if the installation still has version expect.  Returns STORE_OK
 * (and bumps the version), STORE_CONFLICT when it changed or vanished
 * meanwhile, STORE_ERROR.
 */
enum store_result store_install_update_tokens(struct store *,
	    const char *enterprise_id, const char *team_id, int64_t expect,
	    const char *bot_token, const char *refresh_token,
	    time_t expires_at);

/* Marks the installation as needing a reinstall (Slack refused its
 * refresh token) if it still has version expect.  STORE_OK,
 * STORE_CONFLICT or STORE_ERROR. */
enum store_result store_install_mark_reinstall(struct store *,
	    const char *enterprise_id, const char *team_id, int64_t expect);

void		 store_install_free(struct store_install *);

/*
 * /slack/oauth_redirect, once the browser's signed cookie vouched for the
 * state (install.h): records the state (by hash) as used, with the hash
 * of that cookie and the times it names (issued, expires) and now as the
 * time of use, so that a second use is refused until the state expires.
 * Nothing is written before this: the "Add to Slack" page keeps its
 * state in the cookie only.
 *
 * The table holds at most cap rows (cap >= 1).  In one write
 * transaction: a state already recorded gives STORE_USED and changes
 * nothing; otherwise the expired rows are purged, then, while cap rows
 * or more remain, those that expire first are dropped, and *dropped
 * says how many (0 unless STORE_OK).  Of concurrent callers with one
 * state exactly one gets STORE_OK.  STORE_OK, STORE_USED or STORE_ERROR.
 */
enum store_result store_install_state_take(struct store *,
	    const unsigned char state_hash[CRYPTO_HASHLEN],
	    const unsigned char cookie_hash[CRYPTO_HASHLEN], time_t issued,
	    time_t expires, time_t now, long cap, long *dropped);

/* --- Proving who is in the browser (issue 11, sql/005_link_proof.sql) --
 *
 * A login_state row also carries the names its pages show, which login
 * (leg) its current state is for, and, in FORCELINK_LINK_PROOF=code mode,
 * the link that waits for /contact confirm CODE: its Salesforce identity
 * in plain text, its tokens sealed (associated data: the nonce hash, the
 * column, the key id), the code by its SHA-256 and the wrong tries.  A
 * pending row that expires or is void (refused, another user's code, too
 * many wrong codes) keeps its tokens until store_pending_due() hands them
 * to a caller that revokes them at Salesforce and then drops them.
 */

/* The names a login link was made with (display only: ids decide).
 * "" when Slack did not send them. */
#define STORE_NAME_MAX	256
struct store_names {
	char	team_domain[STORE_NAME_MAX + 1];
	char	user_name[STORE_NAME_MAX + 1];
};

/* Which login a state is for. */
enum store_leg {
	STORE_LEG_SALESFORCE,
	STORE_LEG_SLACK		/* Sign in with Slack, before Salesforce */
};

/* store_nonce_add_search() that also records names (may be NULL); search
 * may be NULL too.  STORE_OK or STORE_ERROR. */
enum store_result store_nonce_add_login(struct store *,
	    const struct slack_user *, const struct store_names *names,
	    const unsigned char nonce_hash[CRYPTO_HASHLEN], time_t expires,
	    const struct store_search *search);

/*
 * Looks the nonce up without changing anything (GET /oauth/start):
 * STORE_OK with *who and *names, or STORE_NOTFOUND, STORE_USED,
 * STORE_EXPIRED, STORE_ERROR.
 */
enum store_result store_nonce_peek(struct store *,
	    const unsigned char nonce_hash[CRYPTO_HASHLEN], time_t now,
	    struct slack_user *who, struct store_names *names);

/* store_nonce_start() for the login leg: the state it records is for
 * Sign in with Slack or for Salesforce. */
enum store_result store_nonce_start_leg(struct store *, enum store_leg leg,
	    const unsigned char nonce_hash[CRYPTO_HASHLEN], time_t now,
	    const unsigned char state_hash[CRYPTO_HASHLEN],
	    const unsigned char cookie_hash[CRYPTO_HASHLEN],
	    const char *verifier, time_t expires, struct slack_user *who);

/* The leg and the names (either may be NULL) of the row of a state,
 * used or not.  STORE_OK, STORE_NOTFOUND, STORE_ERROR. */
enum store_result store_state_peek(struct store *,
	    const unsigned char state_hash[CRYPTO_HASHLEN], enum store_leg *leg,
	    struct store_names *names);

/*
 * store_state_take_search() of a state of leg leg (a state of the other
 * leg is STORE_NOTFOUND).  With search NULL the search stays on the row
 * (a later step takes it); store_state_take_search() with a NULL search
 * takes and drops it.
 */
enum store_result store_state_take_leg(struct store *, enum store_leg leg,
	    const unsigned char state_hash[CRYPTO_HASHLEN],
	    const unsigned char cookie_hash[CRYPTO_HASHLEN], time_t now,
	    struct slack_user *who, char **verifier,
	    struct store_search *search);

/*
 * After Sign in with Slack proved who is in the browser: the row of the
 * Slack state old_hash (taken by store_state_take_leg) gets the
 * Salesforce state new_hash, a new verifier (sealed for it) and a new
 * expiry, with the same cookie and search.  STORE_OK, STORE_NOTFOUND
 * (not a taken Slack state, or one made void by store_state_void()),
 * STORE_ERROR.  The caller hands on only the state it just took and
 * found proven; that a void one is refused here too is defence in depth.
 */
enum store_result store_state_advance(struct store *,
	    const unsigned char old_hash[CRYPTO_HASHLEN],
	    const unsigned char new_hash[CRYPTO_HASHLEN], const char *verifier,
	    time_t expires);

/* Makes the row of a state unusable (used; no verifier, search or
 * cookie, so it is never handed on), for a login that was refused.
 * STORE_OK, STORE_NOTFOUND, STORE_ERROR. */
enum store_result store_state_void(struct store *,
	    const unsigned char state_hash[CRYPTO_HASHLEN], time_t now);

/*
 * Makes an unused state unusable, as store_state_void() does, for a
 * state that came back to the callback without its browser's cookie: the
 * login's Salesforce (or Slack) answer reached another browser, and
 * whoever holds that browser's address must not be able to finish it in
 * the browser that has the cookie.  STORE_OK, STORE_NOTFOUND (unknown or
 * used already: left as it is), STORE_ERROR.
 */
enum store_result store_state_burn(struct store *,
	    const unsigned char state_hash[CRYPTO_HASHLEN], time_t now);

/*
 * Keeps link in (org, sf_*, instance_url, both tokens; sealed under the
 * current key) pending on the row of the used state state_hash, with the
 * code's hash, 0 wrong tries, until expires.  STORE_OK, STORE_NOTFOUND
 * (no used state, or a link is pending there already), STORE_ERROR.
 */
enum store_result store_pending_put(struct store *,
	    const unsigned char state_hash[CRYPTO_HASHLEN],
	    const struct store_link *in,
	    const unsigned char code_hash[CRYPTO_HASHLEN], time_t expires);

/* A pending link as taken from its row: the row's Slack user and hashes,
 * and (when opened) the link with its tokens.  Release with
 * store_pending_free(), which wipes the tokens. */
struct store_pending {
	struct slack_user	 who;
	unsigned char		 nonce_hash[CRYPTO_HASHLEN];
	unsigned char		 state_hash[CRYPTO_HASHLEN];
	time_t			 expires_at;
	struct store_link	 link;	/* org, sf_*, instance_url, tokens */
};

/*
 * /contact confirm: finds the live pending row of the code's hash, in one
 * transaction with taking it, so of two confirms one wins.  STORE_OK when
 * it is who's: the pending columns are cleared and *p holds the link,
 * *search the search kept on the row (text NULL when none).
 * STORE_MISMATCH when it is another Slack user's: the row is void and
 * left for store_pending_due(); p->who says whose (no link in *p).
 * STORE_NOTFOUND (no such code, or expired), STORE_BADKEY, STORE_ERROR.
 */
enum store_result store_pending_confirm(struct store *,
	    const unsigned char code_hash[CRYPTO_HASHLEN],
	    const struct slack_user *who, time_t now, struct store_pending *p,
	    struct store_search *search);

/*
 * /contact confirm, as one step: store_pending_confirm() that, in the
 * same BEGIN IMMEDIATE transaction (synchronous=FULL), also writes the
 * link it takes as who's link, as store_link_put() would.  So the pending
 * columns are cleared only in the commit that stores the link: a worker
 * killed at any instant leaves the grant either still pending (swept and
 * revoked when it expires) or stored, never a live grant that is
 * neither.  The caller holds who's refresh lock (session.c).
 *
 * STORE_OK as store_pending_confirm(), and *old_org and *old_refresh
 * (allocated; free and crypto_free_secret) are the integration and the
 * refresh token of the link it replaced (NULL when none, or when the
 * token did not open), for the caller to revoke after the commit.
 * STORE_MISMATCH and STORE_NOTFOUND as store_pending_confirm().  On
 * STORE_BADKEY (the pending tokens, or who's current link, are sealed
 * under a key we do not hold) and STORE_ERROR nothing is changed: the
 * link stays pending.
 */
enum store_result store_pending_link(struct store *,
	    const unsigned char code_hash[CRYPTO_HASHLEN],
	    const struct slack_user *who, time_t now, struct store_pending *p,
	    struct store_search *search, char **old_org, char **old_refresh);

/*
 * A wrong code from who: one more wrong try on every live pending row of
 * who; rows with max wrong tries become void.  *left: the fewest tries
 * left on a live row (0 when none is live); *voided: rows made void now.
 * STORE_OK or STORE_ERROR.
 */
enum store_result store_pending_miss(struct store *,
	    const struct slack_user *who, time_t now, int max, int *left,
	    int *voided);

/*
 * Up to max pending rows that expired or are void, with their tokens
 * opened, into *out (*n of them; release with store_pending_list_free).
 * Rows whose tokens do not open are skipped (logged).  STORE_OK or
 * STORE_ERROR.  Nothing is changed: see store_pending_drop().
 */
enum store_result store_pending_due(struct store *, time_t now, int max,
	    struct store_pending **out, size_t *n);
void		 store_pending_list_free(struct store_pending *, size_t n);

/* Drops the pending link of p's row (once its tokens are revoked).
 * STORE_OK, STORE_NOTFOUND (dropped already), STORE_ERROR. */
enum store_result store_pending_drop(struct store *,
	    const struct store_pending *p);

void		 store_pending_free(struct store_pending *);

/* --- Action rows (issue 15) --------------------------------------------
 *
 * What a Slack button, modal or message shortcut must remember lives in
 * these rows, never in the message: Slack sends a button's value, a
 * view's private_metadata and callback_id, and an action's block_id back
 * from a client we do not control, so forcelink puts nothing in them but
 * an opaque key into one of these rows.
 *
 *  - The key is STORE_ACTION_KEY_LEN characters of base64url (32 random
 *    bytes); the store keeps only its SHA-256.
 *  - A row belongs to one Slack user of one workspace (enterprise, team
 *    and user it was made for): a look-up by anyone else is
 *    STORE_MISMATCH, and it does not change the row.
 *  - Its data (the caller's text, e.g. JSON) is sealed like a link's
 *    tokens (XChaCha20-Poly1305 under the store's current key; the
 *    associated data names the row by its key hash, the column and the
 *    key id), so a database reader sees neither a card nor a form.
 *  - It expires: past expires_at a look-up is STORE_EXPIRED, and
 *    store_purge() deletes it.
 *  - Its state is the handler's small integer (0 when made), moved only
 *    by store_action_step(), a compare-and-set: of two steps from the
 *    same state, exactly one succeeds.  That is what makes a second
 *    submission of a Case form unable to create a second Case.
 *  - It may back one Slack view: at most one row per view id.
 *
 * Key rotation (rekey), migrate-store, backup and the integrity check
 * cover the table like every other sealed one.
 */
enum store_action_kind {
	STORE_ACTION_SHARE = 1,	/* one search result card, to repost */
	STORE_ACTION_MORE = 2,	/* a search's next page */
	STORE_ACTION_CASE = 3	/* a Case form: its fields, where to answer */
};

#define STORE_ACTION_KEY_LEN	43
/* Longest data a row takes. */
#define STORE_ACTION_DATA_MAX	(64 * 1024)

struct store_action {
	enum store_action_kind	 kind;
	int			 state;
	char			*data;		/* opened; allocated, wiped on free */
	char			 view_id[SLACK_ID_MAX + 1];	/* "" when none */
	struct slack_user	 who;		/* whom the row belongs to */
	time_t			 created_at;
	time_t			 expires_at;
};

/*
 * Makes a row of kind for who, holding data (sealed; at most
 * STORE_ACTION_DATA_MAX bytes, "" allowed), state 0, until expires.
 * Writes its new key (NUL-terminated) into key.  STORE_OK, or
 * STORE_ERROR (also for data too long).  On SQLite, in a fiber, the rows
 * the fibers of one thread make at about the same time are written in
 * one transaction (the first gives the others the thread once, then
 * writes for all): one commit instead of one each, which also spares
 * every other connection's page cache (SQLite empties it after each
 * commit by another).  Each call still returns only once its row is
 * committed.
 */
enum store_result store_action_put(struct store *, const struct slack_user *,
	    enum store_action_kind, const char *data, time_t expires,
	    char key[STORE_ACTION_KEY_LEN + 1]);

/*
 * The row of key, for who, at now.  STORE_OK fills *out (release with
 * store_action_free); STORE_NOTFOUND (no such row, a malformed key, or a
 * row of another kind), STORE_MISMATCH (another user's row: *out is
 * not filled), STORE_EXPIRED, STORE_BADKEY (sealed under a key the
 * keyring lacks, or altered) or STORE_ERROR.
 *
 * For every call taking a key: a key that is not STORE_ACTION_KEY_LEN
 * characters of base64url (NULL too) is STORE_NOTFOUND before the
 * database is asked; another user is anyone whose enterprise, team or
 * user id differs; a row is expired from the second expires_at names on
 * (store_purge()'s boundary too).  Only the owner's calls change a row.
 */
enum store_result store_action_get(struct store *, const struct slack_user *,
	    enum store_action_kind, const char *key, time_t now,
	    struct store_action *out);

/*
 * Moves who's row of key from state from to state to, replacing its data
 * when data is not NULL (sealed under the current key; at most
 * STORE_ACTION_DATA_MAX bytes, else STORE_ERROR and nothing changes),
 * all in one statement.  STORE_OK; STORE_CONFLICT when the row is not in
 * state from; STORE_NOTFOUND, STORE_MISMATCH, STORE_EXPIRED or
 * STORE_ERROR as store_action_get() (a row of any kind).
 */
enum store_result store_action_step(struct store *, const struct slack_user *,
	    const char *key, int from, int to, const char *data, time_t now);

/*
 * Records that who's row of key backs the Slack view view_id (1 to
 * SLACK_ID_MAX letters and digits, else STORE_ERROR), in one write
 * transaction.  STORE_OK (also when it already did); STORE_EXISTS when
 * another row backs that view; STORE_CONFLICT when this row backs
 * another view; STORE_NOTFOUND, STORE_MISMATCH, STORE_EXPIRED or
 * STORE_ERROR.  A dropped or purged row frees its view.
 */
enum store_result store_action_view(struct store *, const struct slack_user *,
	    const char *key, const char *view_id, time_t now);

/* Deletes who's row of key, expired or not.  STORE_OK, STORE_NOTFOUND,
 * STORE_MISMATCH or STORE_ERROR. */
enum store_result store_action_drop(struct store *, const struct slack_user *,
	    const char *key);

void		 store_action_free(struct store_action *);

/* Transactions st has written for groups of rows (tests). */
long		 store_action_groups(const struct store *);

#endif

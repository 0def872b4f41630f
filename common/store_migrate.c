/*
 * store_migrate: a store moved to another database, every table's rows
 * copied in one transaction of the target and checked there before it
 * commits (forcelink-admin migrate-store; see store.h).
 *
 * Engine-independent: the rows are read and written through the helper
 * family, each table by two statements (STMT_MIG_READ_* on the source,
 * STMT_MIG_PUT_* on the target) whose columns store_int.h lists once for
 * both dialects, with how each column is read and bound.  A sealed
 * column is a blob like any other: its bytes go unchanged, since its
 * associated data names the row (the Slack ids, the nonce or state hash,
 * the integration's name), which the copy keeps, and never the engine.
 *
 * The check reads the sealed values back from the target, inside the
 * transaction, a page of rows at a time by rowid (the target may hold
 * millions of links, and PostgreSQL hands a statement's rows over all at
 * once), and opens each with the key its key id names: exactly what a
 * worker on the target will do with it.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "store_int.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* Rows per page of the check. */
#define MIG_PAGE	1000

/* The tables, in the order of STMT_MIG_COUNTS' columns. */
static const struct mig_table {
	const char	*name;
	enum stmt	 read, put;
	const char	*kinds;		/* T text, I integer, B blob */
} mig_tables[STORE_MIGRATE_TABLES] = {
	{ "sf_link", STMT_MIG_READ_LINKS, STMT_MIG_PUT_LINKS,
	    STORE_MIG_LINKS_KINDS },
	{ "login_state", STMT_MIG_READ_STATES, STMT_MIG_PUT_STATES,
	    STORE_MIG_STATES_KINDS },
	{ "slack_replay", STMT_MIG_READ_REPLAY, STMT_MIG_PUT_REPLAY,
	    STORE_MIG_REPLAY_KINDS },
	{ "slack_install", STMT_MIG_READ_INSTALLS, STMT_MIG_PUT_INSTALLS,
	    STORE_MIG_INSTALLS_KINDS },
	{ "slack_install_state", STMT_MIG_READ_ISTATES, STMT_MIG_PUT_ISTATES,
	    STORE_MIG_ISTATES_KINDS },
	{ "sf_integration", STMT_MIG_READ_INTEG, STMT_MIG_PUT_INTEG,
	    STORE_MIG_INTEG_KINDS },
	{ "workspace_integration", STMT_MIG_READ_WS, STMT_MIG_PUT_WS,
	    STORE_MIG_WS_KINDS },
	{ "integration_token", STMT_MIG_READ_ITOKEN, STMT_MIG_PUT_ITOKEN,
	    STORE_MIG_ITOKEN_KINDS },
	{ "slack_action", STMT_MIG_READ_ACTIONS, STMT_MIG_PUT_ACTIONS,
	    STORE_MIG_ACTIONS_KINDS },
};

/* How a sealed value's associated data names its row. */
enum mig_open {
	MIG_TOKEN,	/* Slack ids: a link's or an installation's token */
	MIG_VERIFIER,	/* a login state's state hash */
	MIG_SEARCH,	/* a login state's nonce hash and the column */
	MIG_INTEG,	/* an integration's name and the column */
	MIG_ACTION	/* an action row's key hash */
};

/*
 * One sealed column: its statement (STMT_MIG_SEALED_*, column 0 the
 * rowid), the columns of the row's identity (Slack enterprise, team and
 * user, -1 for an installation's empty user; or the one hash or name),
 * of its key id and of the value, and the name its associated data gives
 * the column.  tab is the table's index in mig_tables.
 */
static const struct mig_sealed {
	int		 tab;
	const char	*column;
	enum stmt	 stmt;
	enum mig_open	 kind;
	int		 id[3];
	int		 key, val;
	const char	*which;
} mig_sealed[] = {
	/* STMT_MIG_SEALED_LINKS: rowid, enterprise_id, team_id, user_id,
	 * key_id, access_token_ct, refresh_token_ct. */
	{ 0, "access_token_ct", STMT_MIG_SEALED_LINKS, MIG_TOKEN,
	    { 1, 2, 3 }, 4, 5, "access" },
	{ 0, "refresh_token_ct", STMT_MIG_SEALED_LINKS, MIG_TOKEN,
	    { 1, 2, 3 }, 4, 6, "refresh" },
	/* STMT_MIG_SEALED_STATES: rowid, nonce_hash, state_hash, key_id,
	 * verifier_ct, search_key_id, search_ct, search_url_ct,
	 * pend_key_id, pend_access_ct, pend_refresh_ct. */
	{ 1, "verifier_ct", STMT_MIG_SEALED_STATES, MIG_VERIFIER,
	    { 2, -1, -1 }, 3, 4, "verifier" },
	{ 1, "search_ct", STMT_MIG_SEALED_STATES, MIG_SEARCH,
	    { 1, -1, -1 }, 5, 6, "search_ct" },
	{ 1, "search_url_ct", STMT_MIG_SEALED_STATES, MIG_SEARCH,
	    { 1, -1, -1 }, 5, 7, "search_url_ct" },
	{ 1, "pend_access_ct", STMT_MIG_SEALED_STATES, MIG_SEARCH,
	    { 1, -1, -1 }, 8, 9, "pend_access_ct" },
	{ 1, "pend_refresh_ct", STMT_MIG_SEALED_STATES, MIG_SEARCH,
	    { 1, -1, -1 }, 8, 10, "pend_refresh_ct" },
	/* STMT_MIG_SEALED_INSTALLS: rowid, enterprise_id, team_id, key_id,
	 * bot_token_ct, refresh_token_ct. */
	{ 3, "bot_token_ct", STMT_MIG_SEALED_INSTALLS, MIG_TOKEN,
	    { 1, 2, -1 }, 3, 4, STORE_INSTALL_BOT },
	{ 3, "refresh_token_ct", STMT_MIG_SEALED_INSTALLS, MIG_TOKEN,
	    { 1, 2, -1 }, 3, 5, STORE_INSTALL_REFRESH },
	/* STMT_MIG_SEALED_INTEG and _ITOKEN: rowid, name, key_id, the
	 * sealed value. */
	{ 5, "client_secret_ct", STMT_MIG_SEALED_INTEG, MIG_INTEG,
	    { 1, -1, -1 }, 2, 3, "client_secret" },
	{ 7, "access_token_ct", STMT_MIG_SEALED_ITOKEN, MIG_INTEG,
	    { 1, -1, -1 }, 2, 3, "access" },
	/* STMT_MIG_SEALED_ACTIONS: rowid, key_hash, key_id, data_ct. */
	{ 8, "data_ct", STMT_MIG_SEALED_ACTIONS, MIG_ACTION,
	    { 1, -1, -1 }, 2, 3, STORE_ACTION_DATA },
};

/* The statements of the check, each with the sealed columns above. */
static const enum stmt mig_sealed_stmts[] = {
	STMT_MIG_SEALED_LINKS,
	STMT_MIG_SEALED_STATES,
	STMT_MIG_SEALED_INSTALLS,
	STMT_MIG_SEALED_INTEG,
	STMT_MIG_SEALED_ITOKEN,
	STMT_MIG_SEALED_ACTIONS,
};

/* Reads the row counts of st's tables into n (STMT_MIG_COUNTS).
 * Returns 0 or -1 (logged). */
static int
mig_counts(struct store *st, int64_t n[STORE_MIGRATE_TABLES])
{
	size_t	 i;
	int	 rc;

	if ((rc = store_step(st, STMT_MIG_COUNTS)) == STORE_ROW)
		for (i = 0; i < STORE_MIGRATE_TABLES; i++)
			n[i] = store_col_int(st, STMT_MIG_COUNTS, (int)i);
	store_reset(st, STMT_MIG_COUNTS);
	if (rc == STORE_DONE)
		log_error("stmt=mig_counts msg=\"no row\"");
	return rc == STORE_ROW ? 0 : -1;
}

/*
 * Inserts into dst the row src's read statement of t is on, column by
 * column as t's kinds say; an empty blob stays an empty blob (the helper
 * family reads it as NULL bytes of length 0).  Returns 0 or -1
 * (logged).
 */
static int
mig_row(struct store *src, struct store *dst, const struct mig_table *t)
{
	const unsigned char	*b;
	size_t			 n;
	int			 i, rc = 0;

	for (i = 0; t->kinds[i] != '\0'; i++) {
		if (store_col_null(src, t->read, i))
			rc = store_bind_null(dst, t->put, i + 1);
		else if (t->kinds[i] == 'T')
			rc = store_bind_text(dst, t->put, i + 1,
			    store_col_text(src, t->read, i));
		else if (t->kinds[i] == 'I')
			rc = store_bind_int(dst, t->put, i + 1,
			    store_col_int(src, t->read, i));
		else {
			b = store_col_bytes(src, t->read, i, &n);
			rc = store_bind_blob(dst, t->put, i + 1,
			    b != NULL ? b : (const unsigned char *)"", n);
		}
		if (rc == -1)
			break;
	}
	if (t->kinds[i] == '\0')
		rc = store_step(dst, t->put) == -1 ? -1 : 0;
	store_reset(dst, t->put);
	return rc;
}

/* Copies every row of table t from src into dst, counting them.
 * Returns 0 or -1 (logged). */
static int
mig_table_copy(struct store *src, struct store *dst,
    const struct mig_table *t, int64_t *copied)
{
	int	 rc;

	while ((rc = store_step(src, t->read)) == STORE_ROW) {
		if (mig_row(src, dst, t) == -1) {
			rc = -1;
			break;
		}
		(*copied)++;
	}
	store_reset(src, t->read);
	if (rc == -1)
		log_error("table=%s msg=\"copy failed\"", t->name);
	return rc == -1 ? -1 : 0;
}

/* Records that a value of s, under key id kid, did not open. */
static void
mig_bad(struct store_migrate_report *rep, const struct mig_sealed *s,
    const char *kid, int missing)
{
	struct store_migrate_bad	*b;
	size_t				 i;

	rep->nbad_values++;
	for (i = 0; i < rep->nbad; i++) {
		b = &rep->bad[i];
		if (b->table == mig_tables[s->tab].name &&
		    b->column == s->column && strcmp(b->key_id, kid) == 0 &&
		    b->key_missing == missing) {
			b->values++;
			return;
		}
	}
	if (rep->nbad == STORE_MIGRATE_BAD_MAX)
		return;
	b = &rep->bad[rep->nbad++];
	b->table = mig_tables[s->tab].name;
	b->column = s->column;
	snprintf(b->key_id, sizeof(b->key_id), "%s", kid);
	b->key_missing = missing;
	b->values = 1;
	log_error("table=%s column=%s key_id=%s msg=\"%s\"", b->table,
	    b->column, kid[0] != '\0' ? kid : "-", missing ?
	    "sealed under a key this program does not hold" :
	    "sealed value does not open: altered, or moved to another row");
}

/*
 * Opens the value of sealed column s of the row statement s->stmt is on,
 * when it is not NULL, and counts it in rep.  Returns 0, or -1 on memory
 * exhaustion (logged).
 */
static int
mig_open_one(struct store *st, const struct mig_sealed *s,
    struct store_migrate_report *rep)
{
	const struct crypto_key	*k;
	const unsigned char	*ct, *h = NULL;
	struct slack_user	 who;
	enum store_result	 r = STORE_BADKEY;
	const char		*kid, *name = NULL;
	char			 id[CRYPTO_KEYID_LEN + 1], *pt = NULL;
	size_t			 len, hlen = 0;
	int			 ok;

	if (store_col_null(st, s->stmt, s->val))
		return 0;
	rep->t[s->tab].sealed++;
	kid = store_col_text(st, s->stmt, s->key);
	snprintf(id, sizeof(id), "%s", kid != NULL &&
	    strlen(kid) == CRYPTO_KEYID_LEN ? kid : "");
	if ((k = keyring_find(st->keys, id)) == NULL) {
		mig_bad(rep, s, id, 1);
		return 0;
	}
	ct = store_col_bytes(st, s->stmt, s->val, &len);
	memset(&who, 0, sizeof(who));
	switch (s->kind) {
	case MIG_TOKEN:
		ok = store_col_id(st, s->stmt, s->id[0], who.enterprise_id,
		    sizeof(who.enterprise_id)) == 0 &&
		    store_col_id(st, s->stmt, s->id[1], who.team_id,
		    sizeof(who.team_id)) == 0 && (s->id[2] == -1 ||
		    store_col_id(st, s->stmt, s->id[2], who.user_id,
		    sizeof(who.user_id)) == 0);
		if (ok)
			r = store_open_token(k, ct, len, &who, s->which, &pt);
		break;
	case MIG_VERIFIER:
	case MIG_SEARCH:
	case MIG_ACTION:
		h = store_col_bytes(st, s->stmt, s->id[0], &hlen);
		if (h == NULL || hlen != CRYPTO_HASHLEN)
			break;
		if (s->kind == MIG_VERIFIER)
			r = store_open_verifier(k, ct, len, h, &pt);
		else if (s->kind == MIG_ACTION)
			r = store_open_action(k, ct, len, h, &pt);
		else
			r = store_open_search(k, ct, len, h, s->which, &pt);
		break;
	case MIG_INTEG:
		if ((name = store_col_text(st, s->stmt, s->id[0])) != NULL)
			r = store_open_integ(k, ct, len, name, s->which, &pt);
		break;
	}
	crypto_free_secret(pt);
	if (r == STORE_OK)
		rep->t[s->tab].opened++;
	else if (r == STORE_ERROR)
		return -1;
	else
		mig_bad(rep, s, id, 0);
	return 0;
}

/* Opens every sealed value of statement id's table in st, a page at a
 * time.  Returns 0 or -1 (logged). */
static int
mig_check_sealed(struct store *st, enum stmt id,
    struct store_migrate_report *rep)
{
	int64_t	 cursor = 0, rows;
	size_t	 i;
	int	 rc;

	do {
		rows = 0;
		if (store_bind_int(st, id, 1, cursor) == -1 ||
		    store_bind_int(st, id, 2, MIG_PAGE) == -1) {
			store_reset(st, id);
			return -1;
		}
		while ((rc = store_step(st, id)) == STORE_ROW) {
			rows++;
			cursor = store_col_int(st, id, 0);
			for (i = 0; i < nitems(mig_sealed); i++)
				if (mig_sealed[i].stmt == id &&
				    mig_open_one(st, &mig_sealed[i], rep) == -1)
					rc = -1;
			if (rc == -1)
				break;
		}
		store_reset(st, id);
		if (rc == -1)
			return -1;
	} while (rows == MIG_PAGE);
	return 0;
}

int
store_data_version(struct store *st, int64_t *v)
{
	int	 rc;

	if (!store_is_sqlite(st)) {
		log_error("msg=\"a data version is SQLite's\"");
		return -1;
	}
	if ((rc = store_step(st, STMT_MIG_DATA_VERSION)) == STORE_ROW)
		*v = store_col_int(st, STMT_MIG_DATA_VERSION, 0);
	store_reset(st, STMT_MIG_DATA_VERSION);
	return rc == STORE_ROW ? 0 : -1;
}

enum store_result
store_migrate(struct store *src, struct store *dst, int commit,
    int (*unchanged)(void *), void *arg, struct store_migrate_report *rep)
{
	enum store_result	 r = STORE_ERROR;
	int64_t			 n[STORE_MIGRATE_TABLES];
	size_t			 i;
	int			 began = 0;

	memset(rep, 0, sizeof(*rep));
	for (i = 0; i < STORE_MIGRATE_TABLES; i++)
		rep->t[i].name = mig_tables[i].name;
	src->last_fail = dst->last_fail = STORE_OK;
	store_keys(dst);
	if (mig_counts(src, n) == -1) {
		r = store_failure(src);
		goto out;
	}
	for (i = 0; i < STORE_MIGRATE_TABLES; i++)
		rep->t[i].source = n[i];
	/* Durable: the copy holds every token there is. */
	if (store_write_begin(dst) == -1) {
		r = store_failure(dst);
		goto out;
	}
	began = 1;
	/* Empty, as seen by the only writer: nothing can appear in it
	 * before the commit. */
	if (mig_counts(dst, n) == -1)
		goto fail_dst;
	for (i = 0; i < STORE_MIGRATE_TABLES; i++)
		if (n[i] != 0) {
			rep->nonempty = mig_tables[i].name;
			rep->nonempty_rows = n[i];
			log_error("table=%s rows=%lld msg=\"the target database "
			    "holds rows: it is not copied into\"",
			    mig_tables[i].name, (long long)n[i]);
			r = STORE_EXISTS;
			goto out;
		}
	for (i = 0; i < STORE_MIGRATE_TABLES; i++)
		if (mig_table_copy(src, dst, &mig_tables[i],
		    &rep->t[i].copied) == -1) {
			r = store_failure(src) == STORE_BUSY ? STORE_BUSY :
			    store_failure(dst);
			goto out;
		}
	if (mig_counts(dst, n) == -1)
		goto fail_dst;
	r = STORE_OK;
	for (i = 0; i < STORE_MIGRATE_TABLES; i++) {
		rep->t[i].target = n[i];
		if (n[i] != rep->t[i].source || n[i] != rep->t[i].copied) {
			log_error("table=%s source=%lld copied=%lld target=%lld "
			    "msg=\"row counts differ\"", mig_tables[i].name,
			    (long long)rep->t[i].source,
			    (long long)rep->t[i].copied, (long long)n[i]);
			r = STORE_CONFLICT;
		}
	}
	if (r != STORE_OK)
		goto out;
	for (i = 0; i < nitems(mig_sealed_stmts); i++)
		if (mig_check_sealed(dst, mig_sealed_stmts[i], rep) == -1)
			goto fail_dst;
	if (rep->nbad_values > 0) {
		r = STORE_BADKEY;
		goto out;
	}
	if (!commit)
		goto out;
	if (unchanged != NULL && !unchanged(arg)) {
		log_error("msg=\"the source database was written after the "
		    "copy was taken: not committed\"");
		rep->source_changed = 1;
		r = STORE_CONFLICT;
		goto out;
	}
	began = 0;
	if (store_write_end(dst, 1) == -1)
		goto fail_dst;
	rep->committed = 1;
	goto out;
fail_dst:
	r = store_failure(dst);
out:
	if (began)
		(void)store_write_end(dst, 0);
	return r;
}

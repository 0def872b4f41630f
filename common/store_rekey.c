/*
 * store_rekey: key rotation (forcelink-admin rotate-key): the batches of
 * rows read under an old key, sealed again under the current one and
 * written back only while still exactly as read; and the key census.
 *
 * Every table is read and written by the same two functions, driven by
 * store_rekey_defs: adding a table is one entry there.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_int.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* Columns of STMT_REKEY_INTEG and STMT_REKEY_ITOKEN (an integration's
 * consumer secret, its integration user's token). */
enum {
	RNCOL_ROWID,
	RNCOL_NAME,
	RNCOL_KEY_ID,
	RNCOL_SEALED,
	RNCOL_VERSION		/* STMT_REKEY_ITOKEN only */
};

/* What names a row, in its associated data and in its update. */
enum store_rekey_ident {
	STORE_REKEY_WHO,	/* Slack ids: enterprise, team[, user] */
	STORE_REKEY_HASH,	/* a login_state row's state or nonce hash,
				   an action row's key hash */
	STORE_REKEY_NAME	/* an integration's name */
};

/* The associated data of a row's sealed value which, under key_id. */
typedef int	(*store_rekey_ad_fn)(struct store_ad *,
		    const struct store_rekey_row *, const char *which,
		    const char *key_id);

/*
 * One table's rotation.  Columns are those of its read statement, whose
 * column 0 is always the rowid (the cursor), so 0 names no column;
 * parameters are those of its update, from 1, so 0 names none either.
 * The identity's parameters are always the first: 1 to 3 (Slack ids, in
 * that order) or 1.
 */
struct store_rekey_def {
	const char		*what;		/* the row, in logs */
	enum stmt		 read, set;
	enum store_rekey_ident	 ident;
	int			 id[3];		/* the identity's columns */
	int			 key, a, b, version;	/* columns */
	int			 b_null;	/* b may be SQL NULL */
	store_rekey_ad_fn	 ad;
	const char		*which_a, *which_b;
	struct {
		int	 new_key, new_a, new_b, version, old_key, old_a,
			 old_b;
	}			 p;		/* parameters of set */
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

static int
store_rekey_ad_action(struct store_ad *ad, const struct store_rekey_row *row,
    const char *which, const char *key_id)
{
	return store_ad_action(ad, row->state_hash, which, key_id);
}

static int
store_rekey_ad_integ(struct store_ad *ad, const struct store_rekey_row *row,
    const char *which, const char *key_id)
{
	return store_ad_integ(ad, row->name, which, key_id);
}

/*
 * The tables, by enum store_rekey_table.  An installation is sealed as
 * the row (enterprise, team, ""), its refresh token may be absent; a
 * search and a pending link are named by the row's nonce hash, an action
 * row by its key hash.
 */
static const struct store_rekey_def store_rekey_defs[] = {
	[STORE_REKEY_LINKS] = { "link", STMT_REKEY_LINKS, STMT_REKEY_LINK_SET,
	    STORE_REKEY_WHO,
	    { RLCOL_ENTERPRISE_ID, RLCOL_TEAM_ID, RLCOL_USER_ID },
	    RLCOL_KEY_ID, RLCOL_ACCESS_CT, RLCOL_REFRESH_CT, RLCOL_VERSION, 0,
	    store_rekey_ad_token, "access", "refresh",
	    { 4, 5, 6, 7, 8, 9, 10 } },
	[STORE_REKEY_STATES] = { "login_state", STMT_REKEY_STATES,
	    STMT_REKEY_STATE_SET, STORE_REKEY_HASH, { RSCOL_STATE_HASH },
	    RSCOL_KEY_ID, RSCOL_VERIFIER_CT, 0, 0, 0,
	    store_rekey_ad_verifier, "verifier", NULL,
	    { 2, 3, 0, 0, 4, 5, 0 } },
	[STORE_REKEY_SEARCHES] = { "search", STMT_REKEY_SEARCHES,
	    STMT_REKEY_SEARCH_SET, STORE_REKEY_HASH, { RQCOL_NONCE_HASH },
	    RQCOL_KEY_ID, RQCOL_TEXT_CT, RQCOL_URL_CT, 0, 0,
	    store_rekey_ad_search, "search_ct", "search_url_ct",
	    { 2, 3, 4, 0, 5, 6, 7 } },
	[STORE_REKEY_PENDING] = { "pending link", STMT_REKEY_PENDING,
	    STMT_REKEY_PENDING_SET, STORE_REKEY_HASH, { RQCOL_NONCE_HASH },
	    RQCOL_KEY_ID, RQCOL_TEXT_CT, RQCOL_URL_CT, 0, 0,
	    store_rekey_ad_search, "pend_access_ct", "pend_refresh_ct",
	    { 2, 3, 4, 0, 5, 6, 7 } },
	[STORE_REKEY_INSTALLS] = { "installation", STMT_REKEY_INSTALLS,
	    STMT_REKEY_INSTALL_SET, STORE_REKEY_WHO,
	    { RICOL_ENTERPRISE_ID, RICOL_TEAM_ID, 0 },
	    RICOL_KEY_ID, RICOL_BOT_CT, RICOL_REFRESH_CT, RICOL_VERSION, 1,
	    store_rekey_ad_token, STORE_INSTALL_BOT, STORE_INSTALL_REFRESH,
	    { 3, 4, 5, 6, 7, 8, 9 } },
	[STORE_REKEY_INTEGRATIONS] = { "integration", STMT_REKEY_INTEG,
	    STMT_REKEY_INTEG_SET, STORE_REKEY_NAME, { RNCOL_NAME },
	    RNCOL_KEY_ID, RNCOL_SEALED, 0, 0, 0,
	    store_rekey_ad_integ, "client_secret", NULL,
	    { 2, 3, 0, 0, 4, 5, 0 } },
	[STORE_REKEY_ITOKENS] = { "integration", STMT_REKEY_ITOKEN,
	    STMT_REKEY_ITOKEN_SET, STORE_REKEY_NAME, { RNCOL_NAME },
	    RNCOL_KEY_ID, RNCOL_SEALED, 0, RNCOL_VERSION, 0,
	    store_rekey_ad_integ, "access", NULL,
	    { 2, 3, 0, 6, 4, 5, 0 } },
	[STORE_REKEY_ACTIONS] = { "action", STMT_REKEY_ACTIONS,
	    STMT_REKEY_ACTION_SET, STORE_REKEY_HASH, { RXCOL_KEY_HASH },
	    RXCOL_KEY_ID, RXCOL_DATA_CT, 0, 0, 0,
	    store_rekey_ad_action, STORE_ACTION_DATA, NULL,
	    { 2, 3, 0, 0, 4, 5, 0 } },
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

/* Empties a batch (its rows' memory goes, its array stays). */
static void
store_rekey_clear(struct store_rekey *b)
{
	size_t	 i;

	for (i = 0; i < b->n; i++)
		store_rekey_row_free(&b->rows[i]);
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

/* Reads the identity of the row t's read statement is on into row.
 * Returns 0, or -1 when it is malformed. */
static int
store_rekey_ident_read(struct store *st, const struct store_rekey_def *t,
    struct store_rekey_row *row)
{
	const unsigned char	*h;
	size_t			 n;

	switch (t->ident) {
	case STORE_REKEY_WHO:
		return store_col_id(st, t->read, t->id[0],
		    row->who.enterprise_id,
		    sizeof(row->who.enterprise_id)) == -1 ||
		    store_col_id(st, t->read, t->id[1], row->who.team_id,
		    sizeof(row->who.team_id)) == -1 ||
		    (t->id[2] != 0 && store_col_id(st, t->read, t->id[2],
		    row->who.user_id, sizeof(row->who.user_id)) == -1) ?
		    -1 : 0;
	case STORE_REKEY_HASH:
		if ((h = store_col_bytes(st, t->read, t->id[0], &n)) == NULL ||
		    n != CRYPTO_HASHLEN)
			return -1;
		memcpy(row->state_hash, h, CRYPTO_HASHLEN);
		return 0;
	case STORE_REKEY_NAME:
		return store_col_id(st, t->read, t->id[0], row->name,
		    sizeof(row->name)) == -1 || row->name[0] == '\0' ? -1 : 0;
	}
	return -1;
}

/* Binds row's identity to the first parameters of t's update.  Returns 0
 * or -1 (logged). */
static int
store_rekey_ident_bind(struct store *st, const struct store_rekey_def *t,
    const struct store_rekey_row *row)
{
	switch (t->ident) {
	case STORE_REKEY_WHO:
		return store_bind_text(st, t->set, 1,
		    row->who.enterprise_id) == -1 ||
		    store_bind_text(st, t->set, 2, row->who.team_id) == -1 ||
		    (t->id[2] != 0 && store_bind_text(st, t->set, 3,
		    row->who.user_id) == -1) ? -1 : 0;
	case STORE_REKEY_HASH:
		return store_bind_blob(st, t->set, 1, row->state_hash,
		    CRYPTO_HASHLEN);
	case STORE_REKEY_NAME:
		return store_bind_text(st, t->set, 1, row->name);
	}
	return -1;
}

/* Logs that the sealed value which of row does not open.  An
 * integration's row is named (the operator's name for it), the others
 * only by their kind. */
static void
store_rekey_log_unopenable(const struct store_rekey_def *t,
    const struct store_rekey_row *row, const char *which)
{
	if (t->ident == STORE_REKEY_NAME)
		log_error("integration=%s column=%s msg=\"sealed value does "
		    "not open: altered or wrong key; left as it is\"",
		    row->name, which);
	else
		log_error("row=%s msg=\"sealed value does not open: altered "
		    "or wrong key; left as it is\"", t->what);
}

/*
 * Adds the row t's read statement is on to batch b: reads its identity,
 * its sealed values and version, opens the values with the key the row
 * names and seals them again under the current key.  A row that is
 * malformed, under a key we do not hold, or does not open is counted in
 * *c and left out.  Returns 0, or -1 on memory exhaustion (logged).
 */
static int
store_rekey_row_read(struct store *st, const struct store_rekey_def *t,
    struct store_rekey *b, struct store_rekey_counts *c)
{
	struct store_rekey_row	*row;
	const struct crypto_key	*k, *cur;
	struct store_ad		 ao, an;
	int			 bad = 0;

	if ((row = store_rekey_add(b)) == NULL) {
		log_error("msg=\"out of memory\"");
		return -1;
	}
	if (store_rekey_ident_read(st, t, row) == -1 ||
	    store_col_sealed(st, t->read, t->a, &row->old_a) == -1 ||
	    (t->b != 0 && !(t->b_null && store_col_null(st, t->read, t->b)) &&
	    store_col_sealed(st, t->read, t->b, &row->old_b) == -1)) {
		log_error("row=%s msg=\"malformed row: left as it is\"",
		    t->what);
		c->unopenable++;
		goto skip;
	}
	if (t->version != 0)
		row->version = store_col_int(st, t->read, t->version);
	if ((k = store_key_find(st, t->read, t->key, t->what)) == NULL) {
		c->unknown_key++;
		goto skip;
	}
	cur = store_key_current(st);
	snprintf(row->old_id, sizeof(row->old_id), "%s", k->id);
	if (t->ad(&ao, row, t->which_a, k->id) == -1 ||
	    t->ad(&an, row, t->which_a, cur->id) == -1 ||
	    store_reseal(k, cur, &ao, &an, &row->old_a, &row->new_a,
	    &bad) == -1 ||
	    (row->old_b.p != NULL &&
	    (t->ad(&ao, row, t->which_b, k->id) == -1 ||
	    t->ad(&an, row, t->which_b, cur->id) == -1 ||
	    store_reseal(k, cur, &ao, &an, &row->old_b, &row->new_b,
	    &bad) == -1))) {
		if (!bad) {
			store_rekey_row_free(row);
			log_error("msg=\"out of memory\"");
			return -1;
		}
		/* The first value opened when the second did not. */
		store_rekey_log_unopenable(t, row, row->new_a.p == NULL ?
		    t->which_a : t->which_b);
		c->unopenable++;
		goto skip;
	}
	b->n++;
	return 0;
skip:
	store_rekey_row_free(row);
	return 0;
}

enum store_result
store_rekey_read(struct store *st, enum store_rekey_table table,
    int64_t *cursor, int max, struct store_rekey **out,
    struct store_rekey_counts *c)
{
	const struct store_rekey_def	*t;
	struct store_rekey		*b = NULL;
	enum store_result		 r = STORE_ERROR;
	int				 rc;

	*out = NULL;
	memset(c, 0, sizeof(*c));
	if ((size_t)table >= nitems(store_rekey_defs))
		return STORE_ERROR;
	t = &store_rekey_defs[table];
	if (max < 1 || (b = calloc(1, sizeof(*b))) == NULL)
		goto out;
	st->last_fail = STORE_OK;
	store_keys(st);
	b->table = table;
	snprintf(b->new_id, sizeof(b->new_id), "%s",
	    store_key_current(st)->id);
	if (store_bind_text(st, t->read, 1, b->new_id) == -1 ||
	    store_bind_int(st, t->read, 2, *cursor) == -1 ||
	    store_bind_int(st, t->read, 3, max) == -1)
		goto out;
	while ((rc = store_step(st, t->read)) == STORE_ROW) {
		c->read++;
		*cursor = store_col_int(st, t->read, 0);
		if (store_rekey_row_read(st, t, b, c) == -1)
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
	store_reset(st, t->read);
	store_rekey_free(b);
	return r;
}

/* Binds and runs the compare-and-set update of one row.  Returns 1 when
 * it was written, 0 when it had changed, -1 on failure (logged). */
static int
store_rekey_set(struct store *st, const struct store_rekey *b,
    const struct store_rekey_row *row)
{
	const struct store_rekey_def	*t = &store_rekey_defs[b->table];
	int				 rc = -1;

	if (store_rekey_ident_bind(st, t, row) == -1 ||
	    store_bind_text(st, t->set, t->p.new_key, b->new_id) == -1 ||
	    store_bind_blob(st, t->set, t->p.new_a, row->new_a.p,
	    row->new_a.len) == -1 ||
	    (t->p.new_b != 0 && store_bind_blob(st, t->set, t->p.new_b,
	    row->new_b.p, row->new_b.len) == -1) ||
	    (t->p.version != 0 && store_bind_int(st, t->set, t->p.version,
	    row->version) == -1) ||
	    store_bind_text(st, t->set, t->p.old_key, row->old_id) == -1 ||
	    store_bind_blob(st, t->set, t->p.old_a, row->old_a.p,
	    row->old_a.len) == -1 ||
	    (t->p.old_b != 0 && store_bind_blob(st, t->set, t->p.old_b,
	    row->old_b.p, row->old_b.len) == -1) ||
	    store_step(st, t->set) == -1)
		goto out;
	rc = store_changes(st) == 1;
out:
	store_reset(st, t->set);
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
	st->last_fail = STORE_OK;
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
	struct store_key_count	*e;
	enum store_result	 r;
	const char		*t;
	int			 rc;

	*n = 0;
	if (max == 0)
		return STORE_ERROR;
	st->last_fail = STORE_OK;
	while ((rc = store_step(st, STMT_KEY_CENSUS)) == STORE_ROW) {
		/* Past max ids, the rest are added up in the last entry. */
		if (*n < max) {
			e = &out[(*n)++];
			memset(e, 0, sizeof(*e));
			t = store_col_text(st, STMT_KEY_CENSUS, 0);
			if (t != NULL && strlen(t) == CRYPTO_KEYID_LEN)
				memcpy(e->key_id, t, CRYPTO_KEYID_LEN);
		} else {
			e = &out[max - 1];
			e->key_id[0] = '\0';
		}
		e->links += (long)store_col_int(st, STMT_KEY_CENSUS, 1);
		e->states += (long)store_col_int(st, STMT_KEY_CENSUS, 2);
		e->integrations += (long)store_col_int(st, STMT_KEY_CENSUS, 3);
		e->actions += (long)store_col_int(st, STMT_KEY_CENSUS, 4);
	}
	r = rc == -1 ? store_failure(st) : STORE_OK;
	store_reset(st, STMT_KEY_CENSUS);
	return r;
}

long
store_key_count_rows(const struct store_key_count *e)
{
	return e->links + e->states + e->integrations + e->actions;
}

/*
 * store_rekey: key rotation (forcelink-admin rotate-key): the batches of
 * rows read under an old key, sealed again under the current one and
 * written back only while still exactly as read; and the key census.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_int.h"

/* Empties a batch (its rows' memory goes, its array stays). */
void
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

/* Makes room for one more row.  Returns the zeroed row or NULL. */
struct store_rekey_row *
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
	if ((k = store_pkey_find(st, s, kind->keycol, kind->what)) == NULL) {
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
int
store_rekey_link(struct store *st, sqlite3_stmt *s, struct store_rekey *b,
    struct store_rekey_counts *c)
{
	struct store_rekey_row	*row;
	int			 bad;

	if ((row = store_rekey_add(b)) == NULL) {
		log_error("msg=\"out of memory\"");
		return -1;
	}
	bad = store_pcol_id(s, RLCOL_ENTERPRISE_ID, row->who.enterprise_id,
	    sizeof(row->who.enterprise_id)) == -1 ||
	    store_pcol_id(s, RLCOL_TEAM_ID, row->who.team_id,
	    sizeof(row->who.team_id)) == -1 ||
	    store_pcol_id(s, RLCOL_USER_ID, row->who.user_id,
	    sizeof(row->who.user_id)) == -1 ||
	    store_pcol_blob(s, RLCOL_ACCESS_CT, &row->old_a) == -1 ||
	    store_pcol_blob(s, RLCOL_REFRESH_CT, &row->old_b) == -1;
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
	    store_pcol_blob(s, RSCOL_VERIFIER_CT, &row->old_a) == -1;
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
	bad = store_pcol_id(s, RICOL_ENTERPRISE_ID, row->who.enterprise_id,
	    sizeof(row->who.enterprise_id)) == -1 ||
	    store_pcol_id(s, RICOL_TEAM_ID, row->who.team_id,
	    sizeof(row->who.team_id)) == -1 ||
	    store_pcol_blob(s, RICOL_BOT_CT, &row->old_a) == -1 ||
	    (sqlite3_column_type(s, RICOL_REFRESH_CT) != SQLITE_NULL &&
	    store_pcol_blob(s, RICOL_REFRESH_CT, &row->old_b) == -1);
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
	    store_pcol_blob(s, RQCOL_TEXT_CT, &row->old_a) == -1 ||
	    store_pcol_blob(s, RQCOL_URL_CT, &row->old_b) == -1;
	if (!bad)
		memcpy(row->state_hash, sqlite3_column_blob(s,
		    RQCOL_NONCE_HASH), CRYPTO_HASHLEN);
	return store_rekey_finish(st, s, b, c, row, kind, bad);
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
	/* store_pkey_find() may have moved to newer keys; a batch sealed
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

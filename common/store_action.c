/*
 * store_action: the slack_action table (sql/006_actions.sql), what a
 * Slack button, modal or message shortcut must remember behind the
 * opaque key forcelink hands Slack (store.h, "Action rows").
 *
 * A key is never stored: its row is found by the key's SHA-256, and a
 * key that is not STORE_ACTION_KEY_LEN characters of base64url is
 * refused before the database is asked.  Every change is one statement
 * whose WHERE clause holds every condition the call checks (the row's
 * owner, that it is live, its state or its view), so nothing can change
 * between a check and the change; the binding of a view, which must
 * also look at another row, is one write transaction.  A change that
 * matched no row then reads the row to say why (STORE_NOTFOUND,
 * STORE_MISMATCH, STORE_EXPIRED, STORE_CONFLICT); that read may see a
 * later row than the change did, which changes only the reason given,
 * never what was written.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fiber.h"
#include "log.h"
#include "store_int.h"

/* Random bytes behind a key: STORE_ACTION_KEY_LEN base64url characters. */
#define STORE_ACTION_KEY_BYTES	32

/*
 * Whether key is a key this module could have made: exactly
 * STORE_ACTION_KEY_LEN characters of the base64url alphabet.  On success
 * its SHA-256 goes to h.  Nothing is logged: a malformed key is what
 * anyone can send.
 */
static int
store_action_key(const char *key, unsigned char h[CRYPTO_HASHLEN])
{
	size_t	 i;
	char	 c;

	if (key == NULL)
		return 0;
	/* Stops at a NUL too, which is not in the alphabet. */
	for (i = 0; i < STORE_ACTION_KEY_LEN; i++) {
		c = key[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	if (key[STORE_ACTION_KEY_LEN] != '\0')
		return 0;
	crypto_sha256(key, h);
	return 1;
}

/* Whether data is a C string of at most STORE_ACTION_DATA_MAX bytes
 * (logged when not). */
static int
store_action_data_ok(const char *data)
{
	if (data != NULL &&
	    strnlen(data, STORE_ACTION_DATA_MAX + 1) <= STORE_ACTION_DATA_MAX)
		return 1;
	log_error("msg=\"action data missing or longer than %d bytes\"",
	    STORE_ACTION_DATA_MAX);
	return 0;
}

/* Whether view_id looks like a Slack view id: 1 to SLACK_ID_MAX letters
 * and digits (logged when not). */
static int
store_action_view_ok(const char *view_id)
{
	size_t	 i, n;
	char	 c;

	if (view_id != NULL &&
	    (n = strnlen(view_id, SLACK_ID_MAX + 1)) >= 1 &&
	    n <= SLACK_ID_MAX) {
		for (i = 0; i < n; i++) {
			c = view_id[i];
			if (!((c >= 'A' && c <= 'Z') ||
			    (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
				break;
		}
		if (i == n)
			return 1;
	}
	log_error("msg=\"malformed Slack view id\"");
	return 0;
}

/* Whether text column col of the row STMT_ACTION_GET is on equals s. */
static int
store_action_col_is(struct store *st, int col, const char *s)
{
	const char	*t;

	return (t = store_col_text(st, STMT_ACTION_GET, col)) != NULL &&
	    strcmp(t, s) == 0;
}

/*
 * Puts STMT_ACTION_GET on the row of key hash h and says what it is to
 * who: STORE_OK (the statement stays on the row: the caller reads it,
 * and resets the statement whatever the outcome), STORE_NOTFOUND (no
 * such row, or, when kind is not 0, one of another kind),
 * STORE_MISMATCH (another user's) or STORE_ERROR.  Expiry is the
 * caller's to check (store_action_live), since a drop ignores it.
 */
static enum store_result
store_action_find(struct store *st, const unsigned char h[CRYPTO_HASHLEN],
    const struct slack_user *who, int kind)
{
	enum stmt	 id = STMT_ACTION_GET;
	int		 rc;

	if (store_bind_blob(st, id, 1, h, CRYPTO_HASHLEN) == -1 ||
	    (rc = store_step(st, id)) == -1)
		return STORE_ERROR;
	if (rc == STORE_DONE ||
	    (kind != 0 && store_col_int(st, id, XCOL_KIND) != kind))
		return STORE_NOTFOUND;
	/* All three ids: the same user id in another workspace or
	 * enterprise is another user. */
	if (!store_action_col_is(st, XCOL_ENTERPRISE_ID, who->enterprise_id) ||
	    !store_action_col_is(st, XCOL_TEAM_ID, who->team_id) ||
	    !store_action_col_is(st, XCOL_USER_ID, who->user_id))
		return STORE_MISMATCH;
	return STORE_OK;
}

/* Whether the row STMT_ACTION_GET is on is live at now: STORE_OK, or
 * STORE_EXPIRED from its expires_at on (the purge's boundary too). */
static enum store_result
store_action_live(struct store *st, time_t now)
{
	return store_col_int(st, STMT_ACTION_GET, XCOL_EXPIRES_AT) >
	    (int64_t)now ? STORE_OK : STORE_EXPIRED;
}

/*
 * Why a change of who's row of h at now matched nothing: the row's
 * absence, owner or expiry, else conflict (its state or view was not
 * the one the change required).  Returns that, or STORE_ERROR.
 */
static enum store_result
store_action_why(struct store *st, const unsigned char h[CRYPTO_HASHLEN],
    const struct slack_user *who, time_t now)
{
	enum store_result	 r;

	if ((r = store_action_find(st, h, who, 0)) == STORE_OK &&
	    (r = store_action_live(st, now)) == STORE_OK)
		r = STORE_CONFLICT;
	store_reset(st, STMT_ACTION_GET);
	return r;
}

/* Fills out from the row STMT_ACTION_GET is on, the row of h, opening
 * its data.  STORE_OK, STORE_BADKEY or STORE_ERROR (out may then be
 * half filled). */
static enum store_result
store_action_read(struct store *st, const unsigned char h[CRYPTO_HASHLEN],
    struct store_action *out)
{
	const struct crypto_key	*k;
	const unsigned char	*ct;
	enum store_result	 r;
	enum stmt		 id = STMT_ACTION_GET;
	size_t			 len;

	/* store_key_find() logs a key we do not hold. */
	if ((k = store_key_find(st, id, XCOL_KEY_ID, "action")) == NULL)
		return STORE_BADKEY;
	ct = store_col_bytes(st, id, XCOL_DATA_CT, &len);
	if ((r = store_open_action(k, ct, len, h, &out->data)) != STORE_OK)
		return r;
	if (store_col_id(st, id, XCOL_ENTERPRISE_ID, out->who.enterprise_id,
	    sizeof(out->who.enterprise_id)) == -1 ||
	    store_col_id(st, id, XCOL_TEAM_ID, out->who.team_id,
	    sizeof(out->who.team_id)) == -1 ||
	    store_col_id(st, id, XCOL_USER_ID, out->who.user_id,
	    sizeof(out->who.user_id)) == -1 ||
	    (!store_col_null(st, id, XCOL_VIEW_ID) && store_col_id(st, id,
	    XCOL_VIEW_ID, out->view_id, sizeof(out->view_id)) == -1)) {
		log_error("msg=\"malformed ids in slack_action\"");
		return STORE_ERROR;
	}
	out->kind = (enum store_action_kind)store_col_int(st, id, XCOL_KIND);
	out->state = (int)store_col_int(st, id, XCOL_STATE);
	out->created_at = (time_t)store_col_int(st, id, XCOL_CREATED_AT);
	out->expires_at = (time_t)store_col_int(st, id, XCOL_EXPIRES_AT);
	return STORE_OK;
}

/*
 * Inserts one row (key hash h) with the current key; the caller holds
 * the writer mutex or a write transaction.  Returns STORE_OK or
 * STORE_ERROR (logged).
 */
static enum store_result
store_action_insert(struct store *st, const struct store_action_row *w)
{
	struct sealed		 ct = { NULL, 0 };
	const struct crypto_key	*k = store_key_current(st);
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_ACTION_PUT;

	if (store_seal_action(k, w->h, w->data, &ct) == 0 &&
	    store_bind_user(st, id, w->who) == 0 &&
	    store_bind_blob(st, id, 4, w->h, CRYPTO_HASHLEN) == 0 &&
	    store_bind_int(st, id, 5, (int64_t)w->kind) == 0 &&
	    store_bind_text(st, id, 6, k->id) == 0 &&
	    store_bind_blob(st, id, 7, ct.p, ct.len) == 0 &&
	    store_bind_int(st, id, 8, (int64_t)time(NULL)) == 0 &&
	    store_bind_int(st, id, 9, (int64_t)w->expires) == 0 &&
	    store_step(st, id) != -1)
		r = STORE_OK;
	store_reset(st, id);
	free(ct.p);
	return r;
}

/*
 * Writes the rows of the fibers of this thread that came to write one
 * while the first of them let the others run: one transaction for all,
 * so one commit, one set of index pages and one emptying of the other
 * connections' page caches instead of one each.  Each row gets its own
 * outcome; a failed commit fails them all.
 */
static void
store_action_group(struct store *st)
{
	struct store_action_row	*w, *all;
	int			 ok;

	/* Rows that come from now on start the next group. */
	all = st->arows;
	st->arows = NULL;
	st->arows_tail = &st->arows;
	st->agroup = 0;
	st->agroups++;
	ok = store_begin(st) == 0;
	if (ok) {
		store_keys(st);
		for (w = all; w != NULL; w = w->next)
			w->r = store_action_insert(st, w);
		ok = store_end(st, 1) == 0;
	}
	for (w = all; w != NULL; w = w->next) {
		if (!ok)
			w->r = STORE_ERROR;
		w->done = 1;
		if (w->waiter != fiber_self())
			fiber_wake(w->waiter);
	}
}

enum store_result
store_action_put(struct store *st, const struct slack_user *who,
    enum store_action_kind kind, const char *data, time_t expires,
    char key[STORE_ACTION_KEY_LEN + 1])
{
	struct store_action_row	 w;
	char			 tok[CRYPTO_TOKEN_MAX];

	key[0] = '\0';
	if (!store_who_ok(who) || !store_action_data_ok(data))
		return STORE_ERROR;
	if (kind != STORE_ACTION_SHARE && kind != STORE_ACTION_MORE &&
	    kind != STORE_ACTION_CASE) {
		log_error("kind=%d msg=\"unknown action kind\"", (int)kind);
		return STORE_ERROR;
	}
	memset(&w, 0, sizeof(w));
	w.who = who;
	w.kind = kind;
	w.data = data;
	w.expires = expires;
	w.r = STORE_ERROR;
	crypto_random_token(tok, STORE_ACTION_KEY_BYTES);
	if (strlen(tok) != STORE_ACTION_KEY_LEN) {
		log_error("msg=\"action key of an unexpected length\"");
		goto out;
	}
	crypto_sha256(tok, w.h);
	if (fiber_self() == NULL || !store_is_sqlite(st)) {
		/* Sealed under the writers' mutex with the keys brought up
		 * to date there, as every write does (see store_keys), so
		 * that a rotation's grace period covers this row too. */
		store_writer_lock(st);
		store_keys(st);
		w.r = store_action_insert(st, &w);
		store_writer_unlock(st);
	} else {
		/* SQLite: the fibers of this thread that write a row at
		 * about the same time share one transaction (the first
		 * lets the others run first, then writes for all). */
		w.waiter = fiber_self();
		if (st->arows_tail == NULL)
			st->arows_tail = &st->arows;
		*st->arows_tail = &w;
		st->arows_tail = &w.next;
		if (!st->agroup) {
			st->agroup = 1;
			fiber_yield();
			store_action_group(st);
		}
		while (!w.done)
			fiber_wait();
	}
	if (w.r == STORE_OK)
		memcpy(key, tok, STORE_ACTION_KEY_LEN + 1);
out:
	crypto_wipe(tok, sizeof(tok));
	return w.r;
}

long
store_action_groups(const struct store *st)
{
	return st->agroups;
}

enum store_result
store_action_get(struct store *st, const struct slack_user *who,
    enum store_action_kind kind, const char *key, time_t now,
    struct store_action *out)
{
	unsigned char		 h[CRYPTO_HASHLEN];
	enum store_result	 r;

	memset(out, 0, sizeof(*out));
	/* No row has a kind outside the enum (the table checks it). */
	if (!store_action_key(key, h) || kind < STORE_ACTION_SHARE ||
	    kind > STORE_ACTION_CASE)
		return STORE_NOTFOUND;
	if (!store_who_ok(who))
		return STORE_ERROR;
	store_keys(st);
	if ((r = store_action_find(st, h, who, (int)kind)) == STORE_OK &&
	    (r = store_action_live(st, now)) == STORE_OK)
		r = store_action_read(st, h, out);
	store_reset(st, STMT_ACTION_GET);
	if (r != STORE_OK)
		store_action_free(out);
	return r;
}

enum store_result
store_action_step(struct store *st, const struct slack_user *who,
    const char *key, int from, int to, const char *data, time_t now)
{
	struct sealed		 ct = { NULL, 0 };
	const struct crypto_key	*k;
	unsigned char		 h[CRYPTO_HASHLEN];
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_ACTION_STEP;
	int			 rc = -1;

	if (!store_action_key(key, h))
		return STORE_NOTFOUND;
	if (!store_who_ok(who) || (data != NULL && !store_action_data_ok(data)))
		return STORE_ERROR;
	store_writer_lock(st);
	store_keys(st);
	k = store_key_current(st);
	/* New data comes with the id of the key that sealed it; without,
	 * both are NULL and the row keeps its own. */
	if ((data == NULL || store_seal_action(k, h, data, &ct) == 0) &&
	    store_bind_user(st, id, who) == 0 &&
	    store_bind_blob(st, id, 4, h, CRYPTO_HASHLEN) == 0 &&
	    store_bind_int(st, id, 5, (int64_t)from) == 0 &&
	    store_bind_int(st, id, 6, (int64_t)to) == 0 &&
	    store_bind_int(st, id, 7, (int64_t)now) == 0 &&
	    store_bind_text(st, id, 8, data != NULL ? k->id : NULL) == 0 &&
	    store_bind_blob(st, id, 9, ct.p, ct.len) == 0)
		rc = store_step(st, id);
	if (rc != -1)
		r = store_changes(st) == 1 ? STORE_OK : STORE_CONFLICT;
	store_reset(st, id);
	if (r == STORE_CONFLICT)
		r = store_action_why(st, h, who, now);
	store_writer_unlock(st);
	free(ct.p);
	return r;
}

enum store_result
store_action_view(struct store *st, const struct slack_user *who,
    const char *key, const char *view_id, time_t now)
{
	const unsigned char	*p;
	unsigned char		 h[CRYPTO_HASHLEN];
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_ACTION_VIEW;
	size_t			 len;
	int			 began = 0, rc;

	if (!store_action_key(key, h))
		return STORE_NOTFOUND;
	if (!store_who_ok(who) || !store_action_view_ok(view_id))
		return STORE_ERROR;
	/* The row's view, the view's row and the change are one write
	 * transaction: of two rows bound to one view at once, one gets
	 * it.  The table's unique view_id would refuse the second too, but
	 * as an error; here it is told apart. */
	if (store_begin(st) == -1)
		goto out;
	began = 1;
	if ((r = store_action_find(st, h, who, 0)) != STORE_OK ||
	    (r = store_action_live(st, now)) != STORE_OK)
		goto out;
	if (!store_col_null(st, STMT_ACTION_GET, XCOL_VIEW_ID)) {
		/* Bound already: never to another view. */
		r = store_action_col_is(st, XCOL_VIEW_ID, view_id) ?
		    STORE_OK : STORE_CONFLICT;
		goto out;
	}
	store_reset(st, STMT_ACTION_GET);
	r = STORE_ERROR;
	if (store_bind_text(st, STMT_ACTION_VIEW_OWNER, 1, view_id) == -1 ||
	    (rc = store_step(st, STMT_ACTION_VIEW_OWNER)) == -1)
		goto out;
	if (rc == STORE_ROW) {
		p = store_col_bytes(st, STMT_ACTION_VIEW_OWNER, 0, &len);
		r = p != NULL && len == CRYPTO_HASHLEN &&
		    memcmp(p, h, CRYPTO_HASHLEN) == 0 ? STORE_OK : STORE_EXISTS;
		goto out;
	}
	store_reset(st, STMT_ACTION_VIEW_OWNER);
	if (store_bind_user(st, id, who) == -1 ||
	    store_bind_blob(st, id, 4, h, CRYPTO_HASHLEN) == -1 ||
	    store_bind_text(st, id, 5, view_id) == -1 ||
	    store_bind_int(st, id, 6, (int64_t)now) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	/* Nothing else writes inside the transaction: the row is as read. */
	r = store_changes(st) == 1 ? STORE_OK : STORE_CONFLICT;
out:
	store_reset(st, STMT_ACTION_GET);
	store_reset(st, STMT_ACTION_VIEW_OWNER);
	store_reset(st, id);
	if (began && store_end(st, r == STORE_OK) == -1)
		r = STORE_ERROR;
	return r;
}

enum store_result
store_action_drop(struct store *st, const struct slack_user *who,
    const char *key)
{
	unsigned char		 h[CRYPTO_HASHLEN];
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_ACTION_DROP;

	if (!store_action_key(key, h))
		return STORE_NOTFOUND;
	if (!store_who_ok(who))
		return STORE_ERROR;
	store_writer_lock(st);
	if (store_bind_user(st, id, who) == 0 &&
	    store_bind_blob(st, id, 4, h, CRYPTO_HASHLEN) == 0 &&
	    store_step(st, id) != -1)
		r = store_changes(st) == 1 ? STORE_OK : STORE_NOTFOUND;
	store_reset(st, id);
	/* Left alone: another user's row, or none.  Expiry does not
	 * matter here. */
	if (r == STORE_NOTFOUND) {
		r = store_action_find(st, h, who, 0);
		if (r == STORE_OK)	/* appeared meanwhile: not ours to drop */
			r = STORE_NOTFOUND;
		store_reset(st, STMT_ACTION_GET);
	}
	store_writer_unlock(st);
	return r;
}

void
store_action_free(struct store_action *a)
{
	if (a == NULL)
		return;
	crypto_free_secret(a->data);
	memset(a, 0, sizeof(*a));
}

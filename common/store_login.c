/*
 * store_login: the login_state table: the nonces of login links, the
 * states of the OAuth legs, the searches remembered with a link, and the
 * links that wait for the browser's proof (issue 11).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "store_int.h"

/* --- Login states ----------------------------------------------------- */

enum store_result
store_nonce_add(struct store *st, const struct slack_user *who,
    const unsigned char nonce_hash[CRYPTO_HASHLEN], time_t expires)
{
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_NONCE_ADD;

	if (!store_who_ok(who))
		return STORE_ERROR;
	store_writer_lock(st);
	if (store_bind_user(st, id, who) == -1 ||
	    store_bind_blob(st, id, 4, nonce_hash, CRYPTO_HASHLEN) == -1 ||
	    store_bind_int(st, id, 5, (int64_t)time(NULL)) == -1 ||
	    store_bind_int(st, id, 6, (int64_t)expires) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	r = STORE_OK;
out:
	store_reset(st, id);
	store_writer_unlock(st);
	return r;
}

/* Copies text column col of statement id (NULL as "") into dst, cut to
 * fit. */
static void
store_col_name(struct store *st, enum stmt id, int col, char *dst,
    size_t dstsz)
{
	const char	*t = store_col_text(st, id, col);

	snprintf(dst, dstsz, "%s", t != NULL ? t : "");
}

/*
 * Looks the nonce up with statement id (STMT_NONCE_GET, or
 * STMT_NONCE_PEEK when names is not NULL, which also reads the names)
 * and decides.  Returns STORE_OK with *who (and *names), or
 * STORE_NOTFOUND, STORE_USED, STORE_EXPIRED, STORE_ERROR.
 */
static enum store_result
store_nonce_check(struct store *st, enum stmt id,
    const unsigned char nonce_hash[CRYPTO_HASHLEN], time_t now,
    struct slack_user *who, struct store_names *names)
{
	enum store_result	 r = STORE_ERROR;
	int			 rc;

	if (store_bind_blob(st, id, 1, nonce_hash, CRYPTO_HASHLEN) == -1 ||
	    (rc = store_step(st, id)) == -1)
		goto out;
	if (rc == STORE_DONE)
		r = STORE_NOTFOUND;
	else if (!store_col_null(st, id, SCOL_CONSUMED_AT))
		r = STORE_USED;
	else if (store_col_int(st, id, SCOL_EXPIRES_AT) <= (int64_t)now)
		r = STORE_EXPIRED;
	else if (store_col_user(st, id, who) == 0) {
		if (names != NULL) {
			store_col_name(st, id, NCOL_TEAM_DOMAIN,
			    names->team_domain, sizeof(names->team_domain));
			store_col_name(st, id, NCOL_USER_NAME,
			    names->user_name, sizeof(names->user_name));
		}
		r = STORE_OK;
	}
out:
	store_reset(st, id);
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
	if ((r = store_nonce_check(st, STMT_NONCE_GET, nonce_hash, now, &u,
	    NULL)) != STORE_OK)
		goto out;
	r = STORE_ERROR;
	/* Sealed under the key current once the lock is held (see
	 * store_keys). */
	store_keys(st);
	k = store_key_current(st);
	if (store_seal_verifier(k, state_hash, verifier, &v) == -1)
		goto out;
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
	if (store_changes(st) == 1)
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
	const struct crypto_key	*k;
	const unsigned char	*ch, *ct;
	const char		*lg;
	enum store_result	 r = STORE_ERROR;
	size_t			 len;
	int			 rc;

	if (store_bind_blob(st, STMT_STATE_GET, 1, state_hash,
	    CRYPTO_HASHLEN) == -1 ||
	    (rc = store_step(st, STMT_STATE_GET)) == -1)
		goto out;
	r = STORE_NOTFOUND;
	/* A state of the other login is not one of this login's. */
	if (rc == STORE_DONE || (lg = store_col_text(st, STMT_STATE_GET,
	    SCOL_LEG)) == NULL || strcmp(lg, store_leg_name(leg)) != 0)
		goto out;
	r = STORE_USED;
	if (!store_col_null(st, STMT_STATE_GET, SCOL_CONSUMED_AT))
		goto out;
	r = STORE_EXPIRED;
	if (store_col_int(st, STMT_STATE_GET, SCOL_EXPIRES_AT) <=
	    (int64_t)now)
		goto out;
	r = STORE_MISMATCH;
	if ((ch = store_col_bytes(st, STMT_STATE_GET, SCOL_COOKIE_HASH,
	    &len)) == NULL || len != CRYPTO_HASHLEN ||
	    !crypto_equal(ch, cookie_hash, CRYPTO_HASHLEN))
		goto out;
	r = STORE_BADKEY;
	if ((k = store_key_find(st, STMT_STATE_GET, SCOL_KEY_ID,
	    "login_state")) == NULL)
		goto out;
	r = STORE_ERROR;
	if (store_col_user(st, STMT_STATE_GET, who) == -1)
		goto out;
	ct = store_col_bytes(st, STMT_STATE_GET, SCOL_VERIFIER_CT, &len);
	r = store_open_verifier(k, ct, len, state_hash, verifier);
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
	if (store_changes(st) != 1)
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

/* --- Searches remembered with a login link ---------------------------- */

/* Whether command, when not NULL, is a slash command's name: "/" and
 * then printable ASCII without spaces, STORE_SEARCH_COMMAND_MAX bytes at
 * most.  It is kept in plain text and shown back. */
static int
store_command_ok(const char *command)
{
	size_t	 i, n;

	if (command == NULL)
		return 1;
	n = strnlen(command, STORE_SEARCH_COMMAND_MAX + 1);
	if (n < 2 || n > STORE_SEARCH_COMMAND_MAX || command[0] != '/')
		return 0;
	for (i = 1; i < n; i++)
		if (command[i] <= ' ' || command[i] > '~')
			return 0;
	return 1;
}

/* Whether search has a text and a response_url within bounds, and a
 * well-formed command or none. */
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
	if (!store_command_ok(search->command)) {
		log_error("msg=\"malformed search command\"");
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
	return store_bind_text(st, id, col, name != NULL && *name != '\0' ?
	    name : NULL);
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
	store_writer_lock(st);
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
	    store_bind_name(st, id, 12, search != NULL ? search->command :
	    NULL) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	r = STORE_OK;
out:
	store_reset(st, id);
	if (locked)
		store_writer_unlock(st);
	free(text.p);
	free(url.p);
	return r;
}

/*
 * Opens column's value in blob column col of the row statement id is on,
 * sealed for the row of nonce_hash.  Returns STORE_OK and *out (free with
 * crypto_free_secret), STORE_BADKEY (logged) when it does not open, or
 * STORE_ERROR (logged).
 */
static enum store_result
store_open_col(struct store *st, enum stmt id, const struct crypto_key *k,
    int col, const unsigned char nonce_hash[CRYPTO_HASHLEN],
    const char *column, char **out)
{
	const unsigned char	*ct;
	size_t			 len;

	ct = store_col_bytes(st, id, col, &len);
	return store_open_search(k, ct, len, nonce_hash, column, out);
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
	const struct crypto_key	*k;
	const unsigned char	*p;
	unsigned char		 nh[CRYPTO_HASHLEN];
	enum store_result	 r = STORE_ERROR, o;
	size_t			 len;
	int			 rc;

	memset(out, 0, sizeof(*out));
	if (store_bind_blob(st, STMT_SEARCH_GET, 1, state_hash,
	    CRYPTO_HASHLEN) == -1 ||
	    (rc = store_step(st, STMT_SEARCH_GET)) == -1)
		goto out;
	r = STORE_OK;
	if (rc != STORE_ROW)
		goto out;
	r = STORE_ERROR;
	if ((p = store_col_bytes(st, STMT_SEARCH_GET, RCOL_NONCE_HASH,
	    &len)) == NULL || len != CRYPTO_HASHLEN) {
		log_error("msg=\"malformed nonce hash in login_state\"");
		goto out;
	}
	memcpy(nh, p, sizeof(nh));
	/* store_key_find() logs a key we do not hold. */
	if ((k = store_key_find(st, STMT_SEARCH_GET, RCOL_KEY_ID,
	    "search")) == NULL)
		o = STORE_BADKEY;
	else if ((o = store_open_col(st, STMT_SEARCH_GET, k, RCOL_TEXT_CT,
	    nh, "search_ct", &out->text)) == STORE_OK)
		o = store_open_col(st, STMT_SEARCH_GET, k, RCOL_URL_CT, nh,
		    "search_url_ct", &out->response_url);
	if (o == STORE_ERROR)
		goto out;
	if (o == STORE_OK) {
		out->created_at = (time_t)store_col_int(st, STMT_SEARCH_GET,
		    RCOL_CREATED_AT);
		/* NULL (rows made before migration 6, or no command given)
		 * stays NULL: "/contact". */
		if (!store_col_null(st, STMT_SEARCH_GET, RCOL_COMMAND) &&
		    (out->command = store_col_dup(st, STMT_SEARCH_GET,
		    RCOL_COMMAND)) == NULL)
			goto out;
	} else
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
	free(search->command);
	memset(search, 0, sizeof(*search));
}

/* --- Proving who is in the browser (issue 11) ------------------------ */

enum store_result
store_nonce_peek(struct store *st,
    const unsigned char nonce_hash[CRYPTO_HASHLEN], time_t now,
    struct slack_user *who, struct store_names *names)
{
	return store_nonce_check(st, STMT_NONCE_PEEK, nonce_hash, now, who,
	    names);
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
	const unsigned char	*p;
	const char		*lg;
	enum store_result	 r = STORE_ERROR;
	size_t			 len;
	int			 rc;

	if (store_bind_blob(st, STMT_STATE_PEEK, 1, state_hash,
	    CRYPTO_HASHLEN) == -1 ||
	    (rc = store_step(st, STMT_STATE_PEEK)) == -1)
		goto out;
	r = STORE_NOTFOUND;
	if (rc == STORE_DONE)
		goto out;
	r = STORE_ERROR;
	if ((p = store_col_bytes(st, STMT_STATE_PEEK, PKCOL_NONCE_HASH,
	    &len)) == NULL || len != CRYPTO_HASHLEN) {
		log_error("msg=\"malformed nonce hash in login_state\"");
		goto out;
	}
	if (nonce_hash != NULL)
		memcpy(nonce_hash, p, CRYPTO_HASHLEN);
	if (leg != NULL) {
		lg = store_col_text(st, STMT_STATE_PEEK, PKCOL_LEG);
		*leg = lg != NULL && strcmp(lg, "slack") == 0 ?
		    STORE_LEG_SLACK : STORE_LEG_SALESFORCE;
	}
	if (names != NULL) {
		store_col_name(st, STMT_STATE_PEEK, PKCOL_TEAM_DOMAIN,
		    names->team_domain, sizeof(names->team_domain));
		store_col_name(st, STMT_STATE_PEEK, PKCOL_USER_NAME,
		    names->user_name, sizeof(names->user_name));
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
	struct sealed		 v = { NULL, 0 };
	const struct crypto_key	*k;
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_STATE_ADVANCE;

	store_writer_lock(st);
	store_keys(st);
	k = store_key_current(st);
	/* The new verifier is sealed for the row's new state. */
	if (store_seal_verifier(k, new_hash, verifier, &v) == -1)
		goto out;
	if (store_bind_blob(st, id, 1, old_hash, CRYPTO_HASHLEN) == -1 ||
	    store_bind_blob(st, id, 2, new_hash, CRYPTO_HASHLEN) == -1 ||
	    store_bind_blob(st, id, 3, v.p, v.len) == -1 ||
	    store_bind_text(st, id, 4, k->id) == -1 ||
	    store_bind_int(st, id, 5, (int64_t)expires) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	r = store_changes(st) == 1 ? STORE_OK : STORE_NOTFOUND;
out:
	store_reset(st, id);
	store_writer_unlock(st);
	free(v.p);
	return r;
}

/* Runs statement id, which makes the row of state_hash unusable. */
static enum store_result
store_state_unusable(struct store *st, enum stmt id,
    const unsigned char state_hash[CRYPTO_HASHLEN], time_t now)
{
	enum store_result	 r = STORE_ERROR;

	store_writer_lock(st);
	if (store_bind_blob(st, id, 1, state_hash, CRYPTO_HASHLEN) == -1 ||
	    store_bind_int(st, id, 2, (int64_t)now) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	r = store_changes(st) == 1 ? STORE_OK : STORE_NOTFOUND;
out:
	store_reset(st, id);
	store_writer_unlock(st);
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
	r = store_changes(st) == 1 ? STORE_OK : STORE_NOTFOUND;
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
	const struct crypto_key	*k;
	const unsigned char	*nh, *sh;
	enum store_result	 r = STORE_ERROR;
	size_t			 nlen, slen;

	memset(p, 0, sizeof(*p));
	if (store_col_user(st, id, &p->who) == -1 ||
	    (nh = store_col_bytes(st, id, PCOL_NONCE_HASH, &nlen)) == NULL ||
	    nlen != CRYPTO_HASHLEN ||
	    (sh = store_col_bytes(st, id, PCOL_STATE_HASH, &slen)) == NULL ||
	    slen != CRYPTO_HASHLEN) {
		log_error("msg=\"malformed pending login_state row\"");
		goto out;
	}
	memcpy(p->nonce_hash, nh, CRYPTO_HASHLEN);
	memcpy(p->state_hash, sh, CRYPTO_HASHLEN);
	p->expires_at = (time_t)store_col_int(st, id, PCOL_EXPIRES_AT);
	if (!open) {
		r = STORE_OK;
		goto out;
	}
	if ((p->link.org = store_col_dup(st, id, PCOL_ORG)) == NULL ||
	    (p->link.sf_user_id = store_col_dup(st, id, PCOL_SF_USER_ID)) ==
	    NULL ||
	    (p->link.sf_org_id = store_col_dup(st, id, PCOL_SF_ORG_ID)) ==
	    NULL ||
	    (p->link.sf_username = store_col_dup(st, id, PCOL_SF_USERNAME)) ==
	    NULL ||
	    (p->link.instance_url = store_col_dup(st, id,
	    PCOL_INSTANCE_URL)) == NULL)
		goto out;
	if ((k = store_key_find(st, id, PCOL_KEY_ID, "pending link")) ==
	    NULL) {
		r = STORE_BADKEY;
		goto out;
	}
	if ((r = store_open_col(st, id, k, PCOL_ACCESS_CT, p->nonce_hash,
	    "pend_access_ct", &p->link.access_token)) == STORE_OK)
		r = store_open_col(st, id, k, PCOL_REFRESH_CT, p->nonce_hash,
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
	if (rc == STORE_DONE || store_col_int(st, STMT_PEND_FIND,
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
	enum store_result	 r = STORE_ERROR;
	const enum stmt		 ids[] = {
		STMT_PEND_MISS, STMT_PEND_MISS_VOID, STMT_PEND_LEFT
	};
	size_t			 i;
	int			 began = 0, rc = STORE_DONE;

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
			*voided = (int)store_changes(st);
		if (ids[i] != STMT_PEND_LEFT)
			store_reset(st, ids[i]);
	}
	/* min() over no rows is NULL: nothing is waiting any more. */
	if (rc == STORE_ROW && !store_col_null(st, STMT_PEND_LEFT, 0))
		*left = (int)store_col_int(st, STMT_PEND_LEFT, 0);
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
	while ((rc = store_step(st, STMT_PEND_DUE)) == STORE_ROW) {
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
	store_writer_lock(st);
	if (store_pending_set(st, STMT_PEND_DROP, p->nonce_hash, -1) == 0)
		r = store_changes(st) == 1 ? STORE_OK : STORE_NOTFOUND;
	store_writer_unlock(st);
	return r;
}


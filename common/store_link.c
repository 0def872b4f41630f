/*
 * store_link: the sf_link table, one Salesforce link per Slack user.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "store_int.h"

_Static_assert(KEYRING_MAX == 8, "STMT_LINK_DELETE binds KEYRING_MAX ids");

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
	const struct crypto_key	*k;
	enum store_result	 r;
	enum stmt		 id = STMT_LINK_GET;

	if ((k = store_key_find(st, id, LCOL_KEY_ID, "link")) == NULL)
		return STORE_BADKEY;
	if ((r = store_col_token(st, id, LCOL_ACCESS_CT, k, who, "access",
	    &out->access_token)) != STORE_OK ||
	    (r = store_col_token(st, id, LCOL_REFRESH_CT, k, who, "refresh",
	    &out->refresh_token)) != STORE_OK)
		return r;
	if ((out->org = store_col_dup(st, id, LCOL_ORG)) == NULL ||
	    (out->sf_user_id = store_col_dup(st, id, LCOL_SF_USER_ID)) ==
	    NULL ||
	    (out->sf_org_id = store_col_dup(st, id, LCOL_SF_ORG_ID)) == NULL ||
	    (out->sf_username = store_col_dup(st, id, LCOL_SF_USERNAME)) ==
	    NULL ||
	    (out->instance_url = store_col_dup(st, id, LCOL_INSTANCE_URL)) ==
	    NULL)
		return STORE_ERROR;
	out->version = store_col_int(st, id, LCOL_VERSION);
	out->created_at = (time_t)store_col_int(st, id, LCOL_CREATED_AT);
	out->updated_at = (time_t)store_col_int(st, id, LCOL_UPDATED_AT);
	/* NULL (never used) reads as 0. */
	out->last_used_at = (time_t)store_col_int(st, id, LCOL_LAST_USED_AT);
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
	r = rc == STORE_DONE ? STORE_NOTFOUND : store_link_read(st, who, out);
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
	const struct crypto_key	*k;
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_LINK_GET;
	int			 rc;

	if (old_refresh != NULL)
		*old_refresh = NULL;
	if (store_bind_user(st, id, who) == -1 ||
	    (rc = store_step(st, id)) == -1)
		goto out;
	if (rc == STORE_DONE) {
		r = STORE_NOTFOUND;
		goto out;
	}
	if ((k = store_key_find(st, id, LCOL_KEY_ID, "link")) == NULL) {
		r = STORE_BADKEY;
		goto out;
	}
	*version = store_col_int(st, id, LCOL_VERSION);
	snprintf(key_id, CRYPTO_KEYID_LEN + 1, "%s", k->id);
	if (old_refresh != NULL) {
		if (store_col_token(st, id, LCOL_REFRESH_CT, k, who, "refresh",
		    old_refresh) != STORE_OK)
			log_warn("msg=\"old refresh token unreadable\"");
	}
	r = STORE_OK;
out:
	store_reset(st, id);
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
int
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
enum store_result
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
	r = store_changes(st) == 1 ? STORE_OK : STORE_CONFLICT;
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
	store_writer_lock(st);
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
	r = store_changes(st) == 1 ? STORE_OK : STORE_NOTFOUND;
out:
	store_reset(st, id);
	store_writer_unlock(st);
	return r;
}

enum store_result
store_link_touch(struct store *st, const struct slack_user *who)
{
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_LINK_TOUCH;

	if (!store_who_ok(who))
		return STORE_ERROR;
	store_writer_lock(st);
	if (store_bind_user(st, id, who) == -1 ||
	    store_bind_int(st, id, 4, (int64_t)time(NULL)) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	r = store_changes(st) == 1 ? STORE_OK : STORE_NOTFOUND;
out:
	store_reset(st, id);
	store_writer_unlock(st);
	return r;
}

/*
 * store_install: the slack_install table (one row per installation of
 * the Slack app) and the install flow's used states.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "store_int.h"

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
	return store_bind_null(st, id, col);
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
	const struct crypto_key	*k;
	enum store_result	 r;
	enum stmt		 id = STMT_INSTALL_GET;

	/* store_key_find() logs a key we do not hold. */
	if ((k = store_key_find(st, id, ICOL_KEY_ID, "installation")) == NULL)
		return STORE_BADKEY;
	if ((r = store_col_token(st, id, ICOL_BOT_CT, k, who,
	    STORE_INSTALL_BOT, &out->bot_token)) != STORE_OK)
		return r;
	if (!store_col_null(st, id, ICOL_REFRESH_CT) &&
	    (r = store_col_token(st, id, ICOL_REFRESH_CT, k, who,
	    STORE_INSTALL_REFRESH, &out->refresh_token)) != STORE_OK)
		return r;
	if ((out->app_id = store_col_dup(st, id, ICOL_APP_ID)) == NULL ||
	    (out->team_name = store_col_dup(st, id, ICOL_TEAM_NAME)) == NULL ||
	    (out->enterprise_name = store_col_dup(st, id,
	    ICOL_ENTERPRISE_NAME)) == NULL ||
	    (out->bot_user_id = store_col_dup(st, id, ICOL_BOT_USER_ID)) ==
	    NULL ||
	    (out->bot_id = store_col_dup(st, id, ICOL_BOT_ID)) == NULL ||
	    (out->scopes = store_col_dup(st, id, ICOL_SCOPES)) == NULL ||
	    (out->installer_user_id = store_col_dup(st, id,
	    ICOL_INSTALLER)) == NULL)
		return STORE_ERROR;
	/* NULL (never expires) reads as 0. */
	out->expires_at = (time_t)store_col_int(st, id, ICOL_EXPIRES_AT);
	out->needs_reinstall = (int)store_col_int(st, id,
	    ICOL_NEEDS_REINSTALL);
	out->version = store_col_int(st, id, ICOL_VERSION);
	out->created_at = (time_t)store_col_int(st, id, ICOL_CREATED_AT);
	out->updated_at = (time_t)store_col_int(st, id, ICOL_UPDATED_AT);
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
	r = rc == STORE_DONE ? STORE_NOTFOUND :
	    store_install_read(st, &who, out);
out:
	store_reset(st, id);
	if (r != STORE_OK)
		store_install_free(out);
	return r;
}

enum store_result
store_install_find(struct store *st, const char *ent, const char *team,
    struct store_install_ref *out, int *any)
{
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
	/* No row: no installation at all; column 5 is 0: only others. */
	if (rc == STORE_DONE || store_col_int(st, id, 5) == 0) {
		if (any != NULL)
			*any = rc == STORE_ROW;
		r = STORE_NOTFOUND;
		goto out;
	}
	if (store_col_id(st, id, 0, out->enterprise_id,
	    sizeof(out->enterprise_id)) == -1 ||
	    store_col_id(st, id, 1, out->team_id, sizeof(out->team_id)) == -1) {
		log_error("msg=\"malformed installation key\"");
		goto out;
	}
	out->expires_at = (time_t)store_col_int(st, id, 2);
	out->rotating = (int)store_col_int(st, id, 3);
	out->needs_reinstall = (int)store_col_int(st, id, 4);
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
	if (rc != STORE_ROW || (k = store_key_find(st, STMT_INSTALL_KEYID, 0,
	    "installation")) == NULL) {
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
	r = store_changes(st) == 1 ? STORE_OK : STORE_CONFLICT;
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
	store_writer_lock(st);
	if (store_bind_text(st, id, 1, ent) == -1 ||
	    store_bind_text(st, id, 2, team) == -1 ||
	    store_bind_int(st, id, 3, (int64_t)time(NULL)) == -1 ||
	    store_bind_int(st, id, 4, expect) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	r = store_changes(st) == 1 ? STORE_OK : STORE_CONFLICT;
out:
	store_reset(st, id);
	store_writer_unlock(st);
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
	    store_step(st, STMT_ISTATE_COUNT) != STORE_ROW)
		goto out;
	n = store_col_int(st, STMT_ISTATE_COUNT, 0);
	if (n >= cap) {
		if (store_bind_int(st, STMT_ISTATE_DROP, 1, n - cap + 1) ==
		    -1 || store_step(st, STMT_ISTATE_DROP) == -1)
			goto out;
		*dropped += (long)store_changes(st);
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
	if (rc == STORE_ROW) {
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

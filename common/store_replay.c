/*
 * store_replay: the slack_replay table (signatures already seen), the
 * host's replay cache in front of it (replay.h), and the purge of every
 * expired row.
 */
#include <pthread.h>
#include <stdint.h>

#include "replay.h"
#include "store_int.h"

static int	store_purge_locked(struct store *, time_t);

enum store_result
store_replay_add(struct store *st,
    const unsigned char sig_hash[CRYPTO_HASHLEN], time_t now,
    time_t expires)
{
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id = STMT_REPLAY_ADD;

	store_writer_lock(st);
	if (store_bind_blob(st, id, 1, sig_hash, CRYPTO_HASHLEN) == -1 ||
	    store_bind_int(st, id, 2, (int64_t)expires) == -1 ||
	    store_bind_int(st, id, 3, (int64_t)now) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	/* No change: the hash is there and has not expired. */
	r = store_changes(st) == 1 ? STORE_OK : STORE_EXISTS;
out:
	store_reset(st, id);
	/* Purge on the first insert and every STORE_PURGE_EVERY after, so
	 * the table stays small without a separate job.  A failed purge is
	 * logged and does not undo the insert. */
	if (r == STORE_OK && __atomic_fetch_add(&st->nreplay, 1,
	    __ATOMIC_RELAXED) % STORE_PURGE_EVERY == 0)
		(void)store_purge_locked(st, now);
	store_writer_unlock(st);
	return r;
}

enum store_result
store_replay_check(struct store *st,
    const unsigned char sig_hash[CRYPTO_HASHLEN], int64_t ts, time_t now)
{
	enum replay_result	 r;
	int			 shared = st->eng == &store_pg_engine;

	r = replay_check(sig_hash, ts);
	if (r == REPLAY_SEEN)
		return STORE_EXISTS;
	if (r == REPLAY_NEW && !shared) {
		/* The purge that store_replay_add() does along the way
		 * (atomic: a store handle may serve more than one thread). */
		if (__atomic_fetch_add(&st->nreplay, 1, __ATOMIC_RELAXED) %
		    STORE_PURGE_EVERY == 0)
			(void)store_purge(st, now);
		return STORE_OK;
	}
	/* Today's exact semantics: any timestamp accepted is within
	 * SLACK_MAX_SKEW of now, so the signature can only be replayed
	 * for 2 * SLACK_MAX_SKEW. */
	return store_replay_add(st, sig_hash, now,
	    now + 2 * SLACK_MAX_SKEW + 1);
}

int
store_purge(struct store *st, time_t now)
{
	int	 n;

	store_writer_lock(st);
	n = store_purge_locked(st, now);
	store_writer_unlock(st);
	return n;
}

/* store_purge() for a caller that holds store_writer: each purge in
 * turn, its changes counted before it is reset. */
static int
store_purge_locked(struct store *st, time_t now)
{
	static const enum stmt	 purge[] = {
		STMT_PURGE_STATE,
		STMT_PURGE_REPLAY,
		/* The install flow's states (sql/003_installations.sql). */
		STMT_PURGE_ISTATE,
		/* Action rows (sql/006_actions.sql). */
		STMT_PURGE_ACTION
	};
	size_t			 i;
	int			 n = 0, rc;

	for (i = 0; i < sizeof(purge) / sizeof(purge[0]); i++) {
		rc = store_bind_int(st, purge[i], 1, (int64_t)now);
		if (rc == 0 && (rc = store_step(st, purge[i])) != -1)
			n += (int)store_changes(st);
		store_reset(st, purge[i]);
		if (rc == -1)
			return -1;
	}
	return n;
}

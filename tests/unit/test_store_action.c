/*
 * test_store_action: the action rows of common/store_action.c (issue 15,
 * sql/006_actions.sql), on a real SQLite file in a scratch directory or,
 * when FL_TEST_PG_URI is set, on a PostgreSQL database of each test's
 * own (tu_db.h).
 *
 * What a Slack client sends back (a button's value, a view's
 * private_metadata) is an opaque key into one of these rows, so the tests
 * are those of an attacker holding keys: another user's key (refused,
 * the row unchanged and still the owner's), the same user id in another
 * workspace or enterprise, a malformed key (refused before the database
 * is asked: the table is dropped first to prove it), a key of another
 * kind, the expiry at its exact second, two connections stepping one
 * row from one state at once (exactly one wins), one view bound to two
 * rows, data too long, data of every byte but NUL, the data and the key
 * looked for in plain text in the database, a ciphertext altered or moved
 * to another row, a key rotation after which the new key alone opens
 * every row, and the purge taking only expired rows.  And migration 7
 * (sql/007_action_view_index.sql): the rows of a version 6 database
 * come through unchanged, one view is still backed by one row at most,
 * and a row without a view is no longer in the view's index.
 */
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "crypto.h"
#include "fiber.h"
#include "keyring.h"
#include "rekey.h"
#include "schema.h"
#include "slack.h"
#include "store.h"
#include "testutil.h"
#include "tu_db.h"

/* Connections stepping one row at once, and how many times. */
#define RACERS		8
#define ROUNDS		4

#define CARD	"{\"record\":\"0035g00000ABCDEF\",\"name\":\"O'Brien " \
		"plaintext-card-5d1e\"}"

static char			 dir[PATH_MAX];
static char			 dbpath[PATH_MAX + 16];
/* What the store is opened with: dbpath, or a PostgreSQL URI. */
static const char		*db;
static struct crypto_key	 key_a, key_b;

static void
setup(void)
{
	const char	*tmp;

	ck_assert_int_eq(crypto_init(), 0);
	tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/test_store_action.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(dbpath, sizeof(dbpath), "%s/forcelink.db", dir);
	db = tu_db_create(dbpath);
	tu_key_random(&key_a);
	tu_key_random(&key_b);
	ck_assert_str_ne(key_a.id, key_b.id);
}

static void
teardown(void)
{
	tu_db_destroy();
	rmdir(dir);
}

static struct store *
open_with(const struct crypto_key *k)
{
	struct store	*st;

	st = store_open(db, k);
	ck_assert_ptr_nonnull(st);
	return st;
}

static struct slack_user
user(const char *ent, const char *team, const char *uid)
{
	struct slack_user	 u;

	memset(&u, 0, sizeof(u));
	snprintf(u.enterprise_id, sizeof(u.enterprise_id), "%s", ent);
	snprintf(u.team_id, sizeof(u.team_id), "%s", team);
	snprintf(u.user_id, sizeof(u.user_id), "%s", uid);
	return u;
}

/* A row of kind for who with data until expires; its key into key. */
static void
put(struct store *st, const struct slack_user *who,
    enum store_action_kind kind, const char *data, time_t expires,
    char key[STORE_ACTION_KEY_LEN + 1])
{
	ck_assert_int_eq(store_action_put(st, who, kind, data, expires, key),
	    STORE_OK);
	ck_assert_uint_eq(strlen(key), STORE_ACTION_KEY_LEN);
}

/* "key_hash = <literal>" for the row of key, in where (512 bytes). */
static char *
where_key(const char *key, char where[512])
{
	unsigned char	 h[CRYPTO_HASHLEN];
	char		 lit[160];

	crypto_sha256(key, h);
	snprintf(where, 512, "key_hash = %s",
	    tu_db_blob_lit(h, sizeof(h), lit, sizeof(lit)));
	return where;
}

/* The row of key as raw text (every column, the ciphertext in hex), to
 * compare before and after an attempt that must change nothing. */
static char *
row_of(const char *key)
{
	char	 where[512], q[1024];

	snprintf(q, sizeof(q), TU_SQL(
	    "SELECT kind || '|' || enterprise_id || '|' || team_id || '|' || "
	    "user_id || '|' || coalesce(view_id, '-') || '|' || state || "
	    "'|' || key_id || '|' || hex(data_ct) || '|' || created_at || "
	    "'|' || expires_at FROM slack_action WHERE %s",
	    "SELECT kind || '|' || enterprise_id || '|' || team_id || '|' || "
	    "user_id || '|' || coalesce(view_id, '-') || '|' || state || "
	    "'|' || key_id || '|' || encode(data_ct, 'hex') || '|' || "
	    "created_at || '|' || expires_at FROM slack_action WHERE %s"),
	    where_key(key, where));
	return tu_db_text(q);
}

static int64_t
rows(void)
{
	return tu_db_int("SELECT count(*) FROM slack_action");
}

/* Gets who's row of key of kind at now, expecting data and state. */
static void
expect(struct store *st, const struct slack_user *who,
    enum store_action_kind kind, const char *key, time_t now,
    const char *data, int state)
{
	struct store_action	 a;

	ck_assert_int_eq(store_action_get(st, who, kind, key, now, &a),
	    STORE_OK);
	ck_assert_ptr_nonnull(a.data);
	ck_assert_str_eq(a.data, data);
	ck_assert_int_eq(a.state, state);
	ck_assert_int_eq(a.kind, kind);
	store_action_free(&a);
	ck_assert_ptr_null(a.data);
}

/* One fiber's row: who and what it writes, and what it got. */
struct grouped {
	struct store		*st;
	struct slack_user	 who;
	const char		*data;
	long			 after_ms;	/* waits first */
	enum store_result	 r;
	char			 key[STORE_ACTION_KEY_LEN + 1];
};

static void
grouped_put(void *arg)
{
	struct grouped	*g = arg;

	if (g->after_ms > 0)
		fiber_sleep(g->after_ms);
	g->r = store_action_put(g->st, &g->who, STORE_ACTION_SHARE, g->data,
	    time(NULL) + 60, g->key);
}

/*
 * Fibers of one thread that write rows at the same time share one
 * transaction (SQLite); a row refused before (data too long) fails alone;
 * a fiber that comes once the group was written starts another.  Every
 * row is its owner's, with its own data.
 */
START_TEST(test_action_group)
{
	struct fiber_sched	*s;
	struct store		*st;
	struct grouped		 g[6];
	char			 big[STORE_ACTION_DATA_MAX + 2], d[6][32];
	long			 t0;
	int			 i, sqlite = strncmp(db, "postgres", 8) != 0;

	s = fiber_sched_new(NULL);
	ck_assert_ptr_nonnull(s);
	st = open_with(&key_a);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memset(g, 0, sizeof(g));
	for (i = 0; i < 6; i++) {
		char	 uid[16];

		snprintf(uid, sizeof(uid), "U0GROUP%02d", i);
		snprintf(d[i], sizeof(d[i]), "{\"page\":%d}", i);
		g[i].st = st;
		g[i].who = user("", "T0GROUP01", uid);
		g[i].data = i == 3 ? big : d[i];
		g[i].after_ms = i == 5 ? 200 : 0;
		ck_assert_int_eq(fiber_spawn(s, grouped_put, &g[i]), 0);
	}
	t0 = tu_now_ms();
	while (fiber_sched_live(s) > 0) {
		ck_assert_msg(tu_now_ms() - t0 < 10000, "fibers never ended");
		fiber_sched_block(s);
	}
	for (i = 0; i < 6; i++) {
		if (i == 3) {
			ck_assert_int_eq(g[i].r, STORE_ERROR);
			ck_assert_str_eq(g[i].key, "");
			continue;
		}
		ck_assert_int_eq(g[i].r, STORE_OK);
		expect(st, &g[i].who, STORE_ACTION_SHARE, g[i].key,
		    time(NULL), d[i], 0);
	}
	ck_assert_int_eq(rows(), 5);
	/* Fibers 0, 1, 2 and 4 in one transaction, 5 in its own. */
	ck_assert_int_eq(store_action_groups(st), sqlite ? 2 : 0);
	store_close(st);
	fiber_sched_free(s);
}
END_TEST

START_TEST(test_action_roundtrip)
{
	struct slack_user	 u = user("E1", "T1", "U1");
	struct store_action	 a;
	struct store		*st;
	char			 key[STORE_ACTION_KEY_LEN + 1];
	char			 key2[STORE_ACTION_KEY_LEN + 1];
	char			 where[512], q[640], *kid;
	time_t			 before = time(NULL), now;
	size_t			 i;

	st = open_with(&key_a);
	put(st, &u, STORE_ACTION_CASE, CARD, before + 600, key);
	for (i = 0; i < STORE_ACTION_KEY_LEN; i++)
		ck_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqr"
		    "stuvwxyz0123456789-_", key[i]) != NULL);
	put(st, &u, STORE_ACTION_CASE, CARD, before + 600, key2);
	ck_assert_str_ne(key, key2);
	now = time(NULL);

	ck_assert_int_eq(store_action_get(st, &u, STORE_ACTION_CASE, key, now,
	    &a), STORE_OK);
	ck_assert_str_eq(a.data, CARD);
	ck_assert_int_eq(a.kind, STORE_ACTION_CASE);
	ck_assert_int_eq(a.state, 0);
	ck_assert_str_eq(a.view_id, "");
	ck_assert_str_eq(a.who.enterprise_id, "E1");
	ck_assert_str_eq(a.who.team_id, "T1");
	ck_assert_str_eq(a.who.user_id, "U1");
	ck_assert_int_ge(a.created_at, before);
	ck_assert_int_le(a.created_at, now);
	ck_assert_int_eq(a.expires_at, before + 600);
	store_action_free(&a);

	/* Kept by the key's hash, sealed under the current key: nonce and
	 * tag around the plaintext. */
	snprintf(q, sizeof(q), "SELECT key_id FROM slack_action WHERE %s",
	    where_key(key, where));
	kid = tu_db_text(q);
	ck_assert_str_eq(kid, key_a.id);
	free(kid);
	snprintf(q, sizeof(q), TU_SQL("SELECT length(data_ct) FROM "
	    "slack_action WHERE %s", "SELECT octet_length(data_ct) FROM "
	    "slack_action WHERE %s"), where);
	ck_assert_int_eq(tu_db_int(q), (int64_t)strlen(CARD) +
	    CRYPTO_SEAL_OVERHEAD);
	ck_assert_int_eq(rows(), 2);
	store_close(st);
}
END_TEST

/* Neither the data nor the key is anywhere in the database (the file,
 * its WAL and shared memory; every row of the server's). */
START_TEST(test_action_no_plaintext)
{
	struct slack_user	 u = user("", "T1", "U1");
	struct store		*st;
	char			 key[STORE_ACTION_KEY_LEN + 1];
	time_t			 now = time(NULL);

	st = open_with(&key_a);
	put(st, &u, STORE_ACTION_SHARE, CARD, now + 600, key);
	ck_assert_int_eq(store_action_step(st, &u, key, 0, 1,
	    "{\"page\":2,\"q\":\"second-plaintext-9a7b\"}", now), STORE_OK);
	/* The ids are plain (the test can see what is there). */
	ck_assert_int_eq(tu_db_contains("U1"), 1);
	ck_assert_int_eq(tu_db_contains("plaintext-card-5d1e"), 0);
	ck_assert_int_eq(tu_db_contains("second-plaintext-9a7b"), 0);
	ck_assert_int_eq(tu_db_contains(key), 0);
	store_close(st);
	ck_assert_int_eq(tu_db_contains("plaintext-card-5d1e"), 0);
	ck_assert_int_eq(tu_db_contains(key), 0);
}
END_TEST

/* Another user's key: refused, nothing filled, the row exactly as it
 * was; the owner still uses it. */
START_TEST(test_action_other_user)
{
	static const struct {
		const char	*ent, *team, *uid;
	} others[] = {
		{ "E1", "T1", "U2" },	/* another user */
		{ "E1", "T2", "U1" },	/* same user id, another workspace */
		{ "E2", "T1", "U1" },	/* ... another enterprise */
		{ "", "T1", "U1" },	/* ... outside the enterprise */
		{ "E1", "T1", "u1" },	/* ids are not case-folded */
	};
	struct slack_user	 u = user("E1", "T1", "U1"), o;
	struct store_action	 a;
	struct store		*st;
	char			 key[STORE_ACTION_KEY_LEN + 1], *before, *after;
	time_t			 now = time(NULL);
	size_t			 i;

	st = open_with(&key_a);
	put(st, &u, STORE_ACTION_SHARE, CARD, now + 600, key);
	before = row_of(key);
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		o = user(others[i].ent, others[i].team, others[i].uid);
		memset(&a, 0xa5, sizeof(a));
		ck_assert_int_eq(store_action_get(st, &o, STORE_ACTION_SHARE,
		    key, now, &a), STORE_MISMATCH);
		ck_assert_ptr_null(a.data);
		ck_assert_str_eq(a.who.user_id, "");
		ck_assert_int_eq(store_action_step(st, &o, key, 0, 1, "taken",
		    now), STORE_MISMATCH);
		ck_assert_int_eq(store_action_view(st, &o, key, "V0OTHER",
		    now), STORE_MISMATCH);
		ck_assert_int_eq(store_action_drop(st, &o, key),
		    STORE_MISMATCH);
		after = row_of(key);
		ck_assert_str_eq(after, before);
		free(after);
	}
	free(before);
	/* The owner's row works as if nothing happened. */
	expect(st, &u, STORE_ACTION_SHARE, key, now, CARD, 0);
	ck_assert_int_eq(store_action_step(st, &u, key, 0, 1, NULL, now),
	    STORE_OK);
	expect(st, &u, STORE_ACTION_SHARE, key, now, CARD, 1);
	store_close(st);
}
END_TEST

/* A malformed key is refused without a query: the table is gone, and a
 * well-formed key then fails as the database does. */
START_TEST(test_action_malformed_key)
{
	struct slack_user	 u = user("", "T1", "U1");
	struct store_action	 a;
	struct store		*st;
	char			 key[STORE_ACTION_KEY_LEN + 1];
	char			 bad[12][STORE_ACTION_KEY_LEN + 8];
	char			 unknown[CRYPTO_TOKEN_MAX];
	const char		*k;
	time_t			 now = time(NULL);
	size_t			 i, n = 0;

	st = open_with(&key_a);
	put(st, &u, STORE_ACTION_MORE, CARD, now + 600, key);
	/* One character short, one long; one bad character at each end;
	 * '+', '/' and '=' of plain base64; a space, a quote, a byte of
	 * UTF-8, a NUL inside. */
	snprintf(bad[n++], sizeof(bad[0]), "%.*s", STORE_ACTION_KEY_LEN - 1,
	    key);
	snprintf(bad[n++], sizeof(bad[0]), "%sA", key);
	snprintf(bad[n++], sizeof(bad[0]), "=%s", key + 1);
	snprintf(bad[n++], sizeof(bad[0]), "%.*s+", STORE_ACTION_KEY_LEN - 1,
	    key);
	snprintf(bad[n++], sizeof(bad[0]), "%.*s/", STORE_ACTION_KEY_LEN - 1,
	    key);
	snprintf(bad[n++], sizeof(bad[0]), "%.*s ", STORE_ACTION_KEY_LEN - 1,
	    key);
	snprintf(bad[n++], sizeof(bad[0]), "%.*s'", STORE_ACTION_KEY_LEN - 1,
	    key);
	snprintf(bad[n++], sizeof(bad[0]), "%.*s\xc3\xa9",
	    STORE_ACTION_KEY_LEN - 2, key);
	snprintf(bad[n++], sizeof(bad[0]), "%s", "");
	memcpy(bad[n], key, sizeof(key));
	bad[n++][10] = '\0';
	ck_assert_uint_le(n, sizeof(bad) / sizeof(bad[0]));
	/* A key of the right shape that no row has. */
	crypto_random_token(unknown, 32);
	ck_assert_int_eq(store_action_get(st, &u, STORE_ACTION_MORE, unknown,
	    now, &a), STORE_NOTFOUND);
	ck_assert_int_eq(store_action_step(st, &u, unknown, 0, 1, NULL, now),
	    STORE_NOTFOUND);
	ck_assert_int_eq(store_action_view(st, &u, unknown, "V1", now),
	    STORE_NOTFOUND);
	ck_assert_int_eq(store_action_drop(st, &u, unknown), STORE_NOTFOUND);

	tu_db_exec("DROP TABLE slack_action");
	for (i = 0; i <= n; i++) {
		k = i < n ? bad[i] : NULL;
		ck_assert_int_eq(store_action_get(st, &u, STORE_ACTION_MORE, k,
		    now, &a), STORE_NOTFOUND);
		ck_assert_ptr_null(a.data);
		ck_assert_int_eq(store_action_step(st, &u, k, 0, 1, "x", now),
		    STORE_NOTFOUND);
		ck_assert_int_eq(store_action_view(st, &u, k, "V1", now),
		    STORE_NOTFOUND);
		ck_assert_int_eq(store_action_drop(st, &u, k),
		    STORE_NOTFOUND);
	}
	/* The proof that nothing was asked: a real key now fails. */
	ck_assert_int_eq(store_action_get(st, &u, STORE_ACTION_MORE, key,
	    now, &a), STORE_ERROR);
	store_close(st);
}
END_TEST

/* A key is only good for its own kind. */
START_TEST(test_action_kind)
{
	struct slack_user	 u = user("", "T1", "U1");
	struct store_action	 a;
	struct store		*st;
	char			 key[STORE_ACTION_KEY_LEN + 1];
	time_t			 now = time(NULL);

	st = open_with(&key_a);
	put(st, &u, STORE_ACTION_SHARE, CARD, now + 600, key);
	ck_assert_int_eq(store_action_get(st, &u, STORE_ACTION_MORE, key, now,
	    &a), STORE_NOTFOUND);
	ck_assert_int_eq(store_action_get(st, &u, STORE_ACTION_CASE, key, now,
	    &a), STORE_NOTFOUND);
	ck_assert_int_eq(store_action_get(st, &u, (enum store_action_kind)0,
	    key, now, &a), STORE_NOTFOUND);
	ck_assert_int_eq(store_action_get(st, &u, (enum store_action_kind)4,
	    key, now, &a), STORE_NOTFOUND);
	ck_assert_ptr_null(a.data);
	expect(st, &u, STORE_ACTION_SHARE, key, now, CARD, 0);
	/* No row of an unknown kind is made. */
	key[0] = 'x';
	ck_assert_int_eq(store_action_put(st, &u, (enum store_action_kind)0,
	    CARD, now + 600, key), STORE_ERROR);
	ck_assert_str_eq(key, "");
	ck_assert_int_eq(store_action_put(st, &u, (enum store_action_kind)4,
	    CARD, now + 600, key), STORE_ERROR);
	ck_assert_int_eq(rows(), 1);
	/* The table refuses one too. */
	ck_assert_int_eq(tu_db_try("UPDATE slack_action SET kind = 4"), -1);
	store_close(st);
}
END_TEST

/* Live until the second before expires_at; from it on, expired for every
 * call and purged. */
START_TEST(test_action_expiry_boundary)
{
	struct slack_user	 u = user("", "T1", "U1");
	struct store_action	 a;
	struct store_purged	 p;
	struct store		*st;
	char			 key[STORE_ACTION_KEY_LEN + 1];
	char			 live[STORE_ACTION_KEY_LEN + 1], *before, *after;
	time_t			 t = time(NULL) + 1000;

	st = open_with(&key_a);
	put(st, &u, STORE_ACTION_CASE, CARD, t, key);
	put(st, &u, STORE_ACTION_CASE, CARD, t + 1, live);
	expect(st, &u, STORE_ACTION_CASE, key, t - 1, CARD, 0);
	before = row_of(key);
	ck_assert_int_eq(store_action_get(st, &u, STORE_ACTION_CASE, key, t,
	    &a), STORE_EXPIRED);
	ck_assert_ptr_null(a.data);
	ck_assert_int_eq(store_action_get(st, &u, STORE_ACTION_CASE, key,
	    t + 1, &a), STORE_EXPIRED);
	ck_assert_int_eq(store_action_step(st, &u, key, 0, 1, "late", t),
	    STORE_EXPIRED);
	ck_assert_int_eq(store_action_view(st, &u, key, "V1", t),
	    STORE_EXPIRED);
	after = row_of(key);
	ck_assert_str_eq(after, before);
	free(after);
	free(before);
	/* A second earlier it still steps. */
	ck_assert_int_eq(store_action_step(st, &u, key, 0, 1, NULL, t - 1),
	    STORE_OK);

	/* The purge of t - 1 takes nothing; of t the row of t only. */
	ck_assert_int_eq(store_purge_counts(st, t - 1, &p), 0);
	ck_assert_int_eq(p.actions, 0);
	ck_assert_int_eq(rows(), 2);
	ck_assert_int_eq(store_purge_counts(st, t, &p), 0);
	ck_assert_int_eq(p.actions, 1);
	ck_assert_int_eq(rows(), 1);
	ck_assert_int_eq(store_action_get(st, &u, STORE_ACTION_CASE, key,
	    t - 1, &a), STORE_NOTFOUND);
	expect(st, &u, STORE_ACTION_CASE, live, t, CARD, 0);
	/* The workers' purge too. */
	ck_assert_int_eq(store_purge(st, t + 1), 1);
	ck_assert_int_eq(rows(), 0);
	store_close(st);
}
END_TEST

/* The compare-and-set, with and without new data. */
START_TEST(test_action_step)
{
	struct slack_user	 u = user("", "T1", "U1");
	struct store_action	 a;
	struct store		*st, *b;
	char			 key[STORE_ACTION_KEY_LEN + 1], *before, *after;
	char			*big, where[512], q[640], *kid;
	time_t			 now = time(NULL);

	st = open_with(&key_a);
	put(st, &u, STORE_ACTION_CASE, CARD, now + 600, key);
	ck_assert_int_eq(store_action_step(st, &u, key, 0, 1, NULL, now),
	    STORE_OK);
	/* Not in state 0 any more. */
	ck_assert_int_eq(store_action_step(st, &u, key, 0, 2, "second", now),
	    STORE_CONFLICT);
	expect(st, &u, STORE_ACTION_CASE, key, now, CARD, 1);
	/* New data with the step, sealed under the connection's current
	 * key (here another one: the row moves to it). */
	b = open_with(&key_b);
	ck_assert_int_eq(store_action_step(b, &u, key, 1, 2,
	    "{\"case\":\"00001027\"}", now), STORE_OK);
	expect(b, &u, STORE_ACTION_CASE, key, now, "{\"case\":\"00001027\"}",
	    2);
	snprintf(q, sizeof(q), "SELECT key_id FROM slack_action WHERE %s",
	    where_key(key, where));
	kid = tu_db_text(q);
	ck_assert_str_eq(kid, key_b.id);
	free(kid);
	/* Too long: refused, nothing changed. */
	before = row_of(key);
	ck_assert_ptr_nonnull(big = malloc(STORE_ACTION_DATA_MAX + 2));
	memset(big, 'x', STORE_ACTION_DATA_MAX + 1);
	big[STORE_ACTION_DATA_MAX + 1] = '\0';
	ck_assert_int_eq(store_action_step(b, &u, key, 2, 3, big, now),
	    STORE_ERROR);
	after = row_of(key);
	ck_assert_str_eq(after, before);
	free(after);
	free(before);
	free(big);
	/* Any integer is a state; a step to the same state is a step. */
	ck_assert_int_eq(store_action_step(b, &u, key, 2, -7, NULL, now),
	    STORE_OK);
	ck_assert_int_eq(store_action_step(b, &u, key, -7, -7, NULL, now),
	    STORE_OK);
	ck_assert_int_eq(store_action_get(b, &u, STORE_ACTION_CASE, key, now,
	    &a), STORE_OK);
	ck_assert_int_eq(a.state, -7);
	store_action_free(&a);
	/* Dropped: gone for every call. */
	ck_assert_int_eq(store_action_drop(st, &u, key), STORE_OK);
	ck_assert_int_eq(store_action_drop(st, &u, key), STORE_NOTFOUND);
	ck_assert_int_eq(store_action_step(st, &u, key, -7, 0, NULL, now),
	    STORE_NOTFOUND);
	ck_assert_int_eq(store_action_get(st, &u, STORE_ACTION_CASE, key, now,
	    &a), STORE_NOTFOUND);
	store_close(b);
	store_close(st);
}
END_TEST

/* Of many connections stepping one row from one state at once, exactly
 * one succeeds, and the row holds its data. */
struct stepper {
	pthread_barrier_t	*bar;
	const char		*key;
	const struct slack_user	*who;
	time_t			 now;
	int			 n;
	enum store_result	 r;
};

static void *
stepper_run(void *arg)
{
	struct stepper	*sp = arg;
	struct store	*st;
	char		 data[64];

	snprintf(data, sizeof(data), "{\"winner\":%d}", sp->n);
	st = store_open(db, &key_a);
	pthread_barrier_wait(sp->bar);
	sp->r = st != NULL ? store_action_step(st, sp->who, sp->key, 0, 1,
	    data, sp->now) : STORE_ERROR;
	store_close(st);
	return NULL;
}

START_TEST(test_action_step_race)
{
	struct slack_user	 u = user("E1", "T1", "U1");
	struct stepper		 sp[RACERS];
	struct store_action	 a;
	pthread_barrier_t	 bar;
	pthread_t		 t[RACERS];
	struct store		*st;
	char			 key[STORE_ACTION_KEY_LEN + 1], want[64];
	time_t			 now = time(NULL);
	int			 i, round, ok, winner;

	st = open_with(&key_a);
	for (round = 0; round < ROUNDS; round++) {
		put(st, &u, STORE_ACTION_CASE, CARD, now + 600, key);
		pthread_barrier_init(&bar, NULL, RACERS);
		for (i = 0; i < RACERS; i++) {
			sp[i] = (struct stepper){ &bar, key, &u, now, i,
			    STORE_ERROR };
			ck_assert_int_eq(pthread_create(&t[i], NULL,
			    stepper_run, &sp[i]), 0);
		}
		ok = 0;
		winner = -1;
		for (i = 0; i < RACERS; i++) {
			pthread_join(t[i], NULL);
			if (sp[i].r == STORE_OK) {
				ok++;
				winner = i;
			} else
				ck_assert_int_eq(sp[i].r, STORE_CONFLICT);
		}
		pthread_barrier_destroy(&bar);
		ck_assert_int_eq(ok, 1);
		snprintf(want, sizeof(want), "{\"winner\":%d}", winner);
		ck_assert_int_eq(store_action_get(st, &u, STORE_ACTION_CASE,
		    key, now, &a), STORE_OK);
		ck_assert_int_eq(a.state, 1);
		ck_assert_str_eq(a.data, want);
		store_action_free(&a);
	}
	store_close(st);
}
END_TEST

/* One row per view, and a row never moves to another view. */
START_TEST(test_action_view)
{
	static const char *const bad[] = {
		"", "V 1", "V1'--", "V1\n", "V\xc3\xa9",
		"V123456789012345678901234567890123"	/* 34 */
	};
	struct slack_user	 u = user("", "T1", "U1");
	struct store_action	 a;
	struct store		*st;
	char			 k1[STORE_ACTION_KEY_LEN + 1];
	char			 k2[STORE_ACTION_KEY_LEN + 1];
	char			 k3[STORE_ACTION_KEY_LEN + 1];
	char			 where[512], q[640];
	time_t			 now = time(NULL);
	size_t			 i;

	st = open_with(&key_a);
	put(st, &u, STORE_ACTION_CASE, CARD, now + 600, k1);
	put(st, &u, STORE_ACTION_CASE, CARD, now + 600, k2);
	put(st, &u, STORE_ACTION_CASE, CARD, now + 600, k3);
	ck_assert_int_eq(store_action_view(st, &u, k1, "V0AB12CD", now),
	    STORE_OK);
	ck_assert_int_eq(store_action_view(st, &u, k1, "V0AB12CD", now),
	    STORE_OK);
	ck_assert_int_eq(store_action_view(st, &u, k1, "V0OTHER", now),
	    STORE_CONFLICT);
	ck_assert_int_eq(store_action_view(st, &u, k2, "V0AB12CD", now),
	    STORE_EXISTS);
	ck_assert_int_eq(store_action_view(st, &u, k2, "V0OTHER", now),
	    STORE_OK);
	ck_assert_int_eq(store_action_get(st, &u, STORE_ACTION_CASE, k1, now,
	    &a), STORE_OK);
	ck_assert_str_eq(a.view_id, "V0AB12CD");
	store_action_free(&a);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(store_action_view(st, &u, k3, bad[i], now),
		    STORE_ERROR);
	ck_assert_int_eq(store_action_view(st, &u, k3, NULL, now),
	    STORE_ERROR);
	ck_assert_int_eq(tu_db_int("SELECT count(*) FROM slack_action "
	    "WHERE view_id IS NULL"), 1);
	/* The table holds it too, against any writer. */
	snprintf(q, sizeof(q), "UPDATE slack_action SET view_id = "
	    "'V0AB12CD' WHERE %s", where_key(k3, where));
	ck_assert_int_eq(tu_db_try(q), -1);
	/* A dropped row frees its view. */
	ck_assert_int_eq(store_action_drop(st, &u, k1), STORE_OK);
	ck_assert_int_eq(store_action_view(st, &u, k3, "V0AB12CD", now),
	    STORE_OK);
	store_close(st);
}
END_TEST

/* Two rows bound to one view at once: one gets it. */
struct binder {
	pthread_barrier_t	*bar;
	const char		*key;
	const struct slack_user	*who;
	time_t			 now;
	enum store_result	 r;
};

static void *
binder_run(void *arg)
{
	struct binder	*bp = arg;
	struct store	*st;

	st = store_open(db, &key_a);
	pthread_barrier_wait(bp->bar);
	bp->r = st != NULL ? store_action_view(st, bp->who, bp->key,
	    "V0RACE", bp->now) : STORE_ERROR;
	store_close(st);
	return NULL;
}

START_TEST(test_action_view_race)
{
	struct slack_user	 u = user("", "T1", "U1");
	struct binder		 bp[RACERS];
	pthread_barrier_t	 bar;
	pthread_t		 t[RACERS];
	struct store		*st;
	char			 key[RACERS][STORE_ACTION_KEY_LEN + 1];
	time_t			 now = time(NULL);
	int			 i, ok;

	st = open_with(&key_a);
	for (i = 0; i < RACERS; i++)
		put(st, &u, STORE_ACTION_CASE, CARD, now + 600, key[i]);
	pthread_barrier_init(&bar, NULL, RACERS);
	for (i = 0; i < RACERS; i++) {
		bp[i] = (struct binder){ &bar, key[i], &u, now, STORE_ERROR };
		ck_assert_int_eq(pthread_create(&t[i], NULL, binder_run,
		    &bp[i]), 0);
	}
	ok = 0;
	for (i = 0; i < RACERS; i++) {
		pthread_join(t[i], NULL);
		if (bp[i].r == STORE_OK)
			ok++;
		else
			ck_assert_int_eq(bp[i].r, STORE_EXISTS);
	}
	pthread_barrier_destroy(&bar);
	ck_assert_int_eq(ok, 1);
	ck_assert_int_eq(tu_db_int("SELECT count(*) FROM slack_action WHERE "
	    "view_id = 'V0RACE'"), 1);
	store_close(st);
}
END_TEST

/* Data: empty, at the limit, one byte over, every byte but NUL. */
START_TEST(test_action_data)
{
	struct slack_user	 u = user("", "T1", "U1");
	struct store		*st;
	char			 key[STORE_ACTION_KEY_LEN + 1];
	char			*big, bytes[300];
	time_t			 now = time(NULL);
	size_t			 i, n = 0;

	st = open_with(&key_a);
	put(st, &u, STORE_ACTION_MORE, "", now + 600, key);
	expect(st, &u, STORE_ACTION_MORE, key, now, "", 0);

	ck_assert_ptr_nonnull(big = malloc(STORE_ACTION_DATA_MAX + 2));
	memset(big, 'y', STORE_ACTION_DATA_MAX + 1);
	big[STORE_ACTION_DATA_MAX + 1] = '\0';
	ck_assert_int_eq(store_action_put(st, &u, STORE_ACTION_MORE, big,
	    now + 600, key), STORE_ERROR);
	ck_assert_str_eq(key, "");
	ck_assert_int_eq(store_action_put(st, &u, STORE_ACTION_MORE, NULL,
	    now + 600, key), STORE_ERROR);
	ck_assert_int_eq(rows(), 1);
	big[STORE_ACTION_DATA_MAX] = '\0';
	put(st, &u, STORE_ACTION_MORE, big, now + 600, key);
	expect(st, &u, STORE_ACTION_MORE, key, now, big, 0);
	free(big);

	/* Every byte value but NUL, then UTF-8 of two, three and four
	 * bytes: returned exactly. */
	for (i = 1; i < 256; i++)
		bytes[n++] = (char)i;
	memcpy(bytes + n, "\xc3\xa9\xe2\x9c\x93\xf0\x9d\x84\x9e", 9);
	n += 9;
	bytes[n] = '\0';
	put(st, &u, STORE_ACTION_SHARE, bytes, now + 600, key);
	expect(st, &u, STORE_ACTION_SHARE, key, now, bytes, 0);
	store_close(st);
}
END_TEST

/* An altered ciphertext, one moved from another row, one under a key id
 * nobody holds, and a connection without the row's key: STORE_BADKEY,
 * nothing filled, nothing changed. */
START_TEST(test_action_altered)
{
	struct slack_user	 u = user("", "T1", "U1");
	struct store_action	 a;
	struct store		*st, *other;
	char			 k1[STORE_ACTION_KEY_LEN + 1];
	char			 k2[STORE_ACTION_KEY_LEN + 1];
	char			 k3[STORE_ACTION_KEY_LEN + 1];
	char			 w1[512], w2[512], w3[512], q[1400];
	char			*before, *after;
	time_t			 now = time(NULL);

	st = open_with(&key_a);
	put(st, &u, STORE_ACTION_SHARE, CARD, now + 600, k1);
	put(st, &u, STORE_ACTION_SHARE, "another card", now + 600, k2);
	put(st, &u, STORE_ACTION_SHARE, CARD, now + 600, k3);
	where_key(k1, w1);
	where_key(k2, w2);
	where_key(k3, w3);

	/* Without the key: a connection of key_b alone. */
	other = open_with(&key_b);
	memset(&a, 0x5a, sizeof(a));
	ck_assert_int_eq(store_action_get(other, &u, STORE_ACTION_SHARE, k1,
	    now, &a), STORE_BADKEY);
	ck_assert_ptr_null(a.data);
	store_close(other);

	/* One bit of the tag, then of the nonce. */
	before = row_of(k1);
	tu_db_flip("slack_action", "data_ct", w1,
	    strlen(CARD) + CRYPTO_SEAL_OVERHEAD - 1);
	ck_assert_int_eq(store_action_get(st, &u, STORE_ACTION_SHARE, k1, now,
	    &a), STORE_BADKEY);
	ck_assert_ptr_null(a.data);
	tu_db_flip("slack_action", "data_ct", w1,
	    strlen(CARD) + CRYPTO_SEAL_OVERHEAD - 1);
	expect(st, &u, STORE_ACTION_SHARE, k1, now, CARD, 0);
	tu_db_flip("slack_action", "data_ct", w1, 0);
	ck_assert_int_eq(store_action_get(st, &u, STORE_ACTION_SHARE, k1, now,
	    &a), STORE_BADKEY);
	tu_db_flip("slack_action", "data_ct", w1, 0);
	after = row_of(k1);
	ck_assert_str_eq(after, before);
	free(after);
	free(before);

	/* Row 2's ciphertext in row 3 (same key, same owner): the
	 * associated data names the row, so it does not open there. */
	snprintf(q, sizeof(q), "UPDATE slack_action SET data_ct = (SELECT "
	    "data_ct FROM slack_action WHERE %s) WHERE %s", w2, w3);
	tu_db_exec(q);
	ck_assert_int_eq(store_action_get(st, &u, STORE_ACTION_SHARE, k3, now,
	    &a), STORE_BADKEY);
	expect(st, &u, STORE_ACTION_SHARE, k2, now, "another card", 0);

	/* A key id nobody holds. */
	snprintf(q, sizeof(q), "UPDATE slack_action SET key_id = "
	    "'0123456789abcdef' WHERE %s", w1);
	tu_db_exec(q);
	ck_assert_int_eq(store_action_get(st, &u, STORE_ACTION_SHARE, k1, now,
	    &a), STORE_BADKEY);
	ck_assert_ptr_null(a.data);
	store_close(st);
}
END_TEST

/* A key rotation reseals every row, expired or not, keeps states and
 * views, and the new key alone opens them after. */
START_TEST(test_action_rekey)
{
	struct slack_user	 u = user("E1", "T1", "U1");
	struct store_rekey_counts c;
	struct store_key_count	 kc[4];
	struct crypto_key	 ring[2];
	struct keyring		*kr;
	struct store		*a, *r, *b;
	char			 k1[STORE_ACTION_KEY_LEN + 1];
	char			 k2[STORE_ACTION_KEY_LEN + 1];
	char			 k3[STORE_ACTION_KEY_LEN + 1];
	char			 q[160];
	time_t			 now = time(NULL);
	size_t			 n, i;

	a = open_with(&key_a);
	put(a, &u, STORE_ACTION_SHARE, CARD, now + 600, k1);
	put(a, &u, STORE_ACTION_CASE, "{\"subject\":\"rekey\"}", now + 600,
	    k2);
	put(a, &u, STORE_ACTION_MORE, "page 2", now - 1, k3);
	ck_assert_int_eq(store_action_step(a, &u, k2, 0, 5, NULL, now),
	    STORE_OK);
	ck_assert_int_eq(store_action_view(a, &u, k2, "V0REKEY", now),
	    STORE_OK);
	ck_assert_int_eq(store_key_census(a, kc, 4, &n), STORE_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(kc[0].key_id, key_a.id);
	ck_assert_int_eq(kc[0].actions, 3);
	ck_assert_int_eq(store_key_count_rows(&kc[0]), 3);

	ring[0] = key_b;
	ring[1] = key_a;
	ck_assert_ptr_nonnull(kr = keyring_from_keys(ring, 2));
	crypto_wipe(ring, sizeof(ring));
	ck_assert_ptr_nonnull(r = store_open_keyring(db, kr));
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(rekey_pass(r, 2, 0, &c), REKEY_OK);
	ck_assert_int_eq(c.read, 3);
	ck_assert_int_eq(c.resealed, 3);
	ck_assert_int_eq(c.changed + c.unknown_key + c.unopenable, 0);
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(rekey_pass(r, 2, 0, &c), REKEY_OK);
	ck_assert_int_eq(c.read, 0);
	ck_assert_int_eq(store_key_census(r, kc, 4, &n), STORE_OK);
	for (i = 0; i < n; i++)
		ck_assert_str_ne(kc[i].key_id, key_a.id);
	snprintf(q, sizeof(q), "SELECT count(*) FROM slack_action WHERE "
	    "key_id = '%s'", key_b.id);
	ck_assert_int_eq(tu_db_int(q), 3);

	b = open_with(&key_b);
	expect(b, &u, STORE_ACTION_SHARE, k1, now, CARD, 0);
	expect(b, &u, STORE_ACTION_CASE, k2, now, "{\"subject\":\"rekey\"}",
	    5);
	expect(b, &u, STORE_ACTION_MORE, k3, now - 2, "page 2", 0);
	ck_assert_int_eq(store_action_view(b, &u, k2, "V0REKEY", now),
	    STORE_OK);
	store_close(b);
	store_close(r);
	store_close(a);
	keyring_free(kr);
}
END_TEST

/* A row sealed under a key the rotation does not hold is counted and
 * left as it is. */
START_TEST(test_action_rekey_unknown_key)
{
	struct slack_user	 u = user("", "T1", "U1");
	struct store_rekey_counts c;
	struct crypto_key	 ring[2];
	struct keyring		*kr;
	struct store		*a, *r;
	struct crypto_key	 key_c;
	char			 k1[STORE_ACTION_KEY_LEN + 1], *before, *after;
	time_t			 now = time(NULL);

	tu_key_random(&key_c);
	a = open_with(&key_c);
	put(a, &u, STORE_ACTION_SHARE, CARD, now + 600, k1);
	store_close(a);
	before = row_of(k1);
	ring[0] = key_b;
	ring[1] = key_a;
	ck_assert_ptr_nonnull(kr = keyring_from_keys(ring, 2));
	crypto_wipe(ring, sizeof(ring));
	ck_assert_ptr_nonnull(r = store_open_keyring(db, kr));
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(rekey_pass(r, 10, 0, &c), REKEY_OK);
	ck_assert_int_eq(c.read, 1);
	ck_assert_int_eq(c.unknown_key, 1);
	ck_assert_int_eq(c.resealed, 0);
	after = row_of(k1);
	ck_assert_str_eq(after, before);
	free(after);
	free(before);
	store_close(r);
	keyring_free(kr);
}
END_TEST

/* The rows of slack_action as text, in rowid order: every column. */
static char *
all_rows(void)
{
	return tu_db_text(TU_SQL(
	    "SELECT group_concat(r, ';') FROM (SELECT rowid || '|' || "
	    "hex(key_hash) || '|' || kind || '|' || enterprise_id || '|' || "
	    "team_id || '|' || user_id || '|' || coalesce(view_id, '-') || "
	    "'|' || state || '|' || key_id || '|' || hex(data_ct) || '|' || "
	    "created_at || '|' || expires_at AS r FROM slack_action "
	    "ORDER BY rowid)",
	    "SELECT string_agg(rowid || '|' || encode(key_hash, 'hex') || "
	    "'|' || kind || '|' || enterprise_id || '|' || team_id || '|' || "
	    "user_id || '|' || coalesce(view_id, '-') || '|' || state || "
	    "'|' || key_id || '|' || encode(data_ct, 'hex') || '|' || "
	    "created_at || '|' || expires_at, ';' ORDER BY rowid) "
	    "FROM slack_action"));
}

/*
 * A database of version 6 with rows, one of them backing a view: opening
 * it migrates (007), every row is as it was, under the same rowid (key
 * rotation's cursor), the view still belongs to its row alone, a row
 * without a view can still take a free one, and the view's index is
 * partial: only rows with a view are in it.
 */
START_TEST(test_action_migrate_7)
{
	struct slack_user	 u = user("", "T1", "U1");
	const struct schema_migration *m;
	struct store		*st;
	unsigned char		 h[CRYPTO_HASHLEN];
	char			 keys[3][STORE_ACTION_KEY_LEN + 1];
	char			 lit[2 * CRYPTO_HASHLEN + 32], sql[512];
	char			*before, *after;
	time_t			 now = time(NULL);
	int			 i;

	m = tu_db_pg() ? schema_pg_migrations : schema_migrations;
	for (i = 0; i < 6; i++) {
		ck_assert_int_eq(m[i].version, i + 1);
		tu_db_exec(m[i].sql);
	}
	tu_db_set_version(6);
	for (i = 0; i < 3; i++) {
		memset(keys[i], 'A' + i, STORE_ACTION_KEY_LEN);
		keys[i][STORE_ACTION_KEY_LEN] = '\0';
		crypto_sha256(keys[i], h);
		snprintf(sql, sizeof(sql), "INSERT INTO slack_action "
		    "(key_hash, kind, team_id, user_id, view_id, key_id, "
		    "data_ct, created_at, expires_at) VALUES (%s, 1, 'T1', "
		    "'U1', %s, '0123456789abcdef', %s, %lld, %lld)",
		    tu_db_blob_lit(h, sizeof(h), lit, sizeof(lit)),
		    i == 1 ? "'V0OLD'" : "NULL", i == 2 ?
		    TU_SQL("X'00ff'", "'\\x00ff'::bytea") :
		    TU_SQL("X'01'", "'\\x01'::bytea"), (long long)now,
		    (long long)now + 600);
		tu_db_exec(sql);
	}
	ck_assert_ptr_nonnull(before = all_rows());

	st = open_with(&key_a);
	ck_assert_int_eq(tu_db_version(), store_schema_version());
	ck_assert_int_ge(store_schema_version(), 7);
	after = all_rows();
	ck_assert_str_eq(after, before);
	free(after);
	free(before);

	/* V0OLD stays its row's; a row without a view takes a free one. */
	ck_assert_int_eq(store_action_view(st, &u, keys[0], "V0OLD", now),
	    STORE_EXISTS);
	ck_assert_int_eq(store_action_view(st, &u, keys[1], "V0OLD", now),
	    STORE_OK);
	ck_assert_int_eq(store_action_view(st, &u, keys[0], "V0NEW", now),
	    STORE_OK);
	ck_assert_int_eq(store_action_view(st, &u, keys[2], "V0NEW", now),
	    STORE_EXISTS);
	ck_assert_int_eq(tu_db_try("UPDATE slack_action SET view_id = "
	    "'V0OLD' WHERE view_id IS NULL"), -1);
	ck_assert_int_eq(tu_db_int("SELECT count(*) FROM slack_action WHERE "
	    "view_id IS NULL"), 1);

	/* The index over view_id leaves the rows without one out, and
	 * nothing else indexes view_id. */
	ck_assert_int_eq(tu_db_int(TU_SQL(
	    "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
	    "name = 'slack_action_view' AND "
	    "sql LIKE '%WHERE view_id IS NOT NULL'",
	    "SELECT count(*) FROM pg_indexes WHERE "
	    "indexname = 'slack_action_view' AND "
	    "indexdef LIKE '%UNIQUE%WHERE (view_id IS NOT NULL)'")), 1);
	ck_assert_int_eq(tu_db_int(TU_SQL(
	    "SELECT count(*) FROM pragma_index_list('slack_action') AS l, "
	    "pragma_index_info(l.name) AS c WHERE c.name = 'view_id'",
	    "SELECT count(*) FROM pg_indexes WHERE "
	    "tablename = 'slack_action' AND indexdef LIKE '%(view_id)%'")), 1);
	store_close(st);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("store_action");
	tu_db_init();
	tc = tcase_create("action");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_action_roundtrip);
	tcase_add_test(tc, test_action_no_plaintext);
	tcase_add_test(tc, test_action_other_user);
	tcase_add_test(tc, test_action_malformed_key);
	tcase_add_test(tc, test_action_kind);
	tcase_add_test(tc, test_action_expiry_boundary);
	tcase_add_test(tc, test_action_step);
	tcase_add_test(tc, test_action_step_race);
	tcase_add_test(tc, test_action_view);
	tcase_add_test(tc, test_action_view_race);
	tcase_add_test(tc, test_action_data);
	tcase_add_test(tc, test_action_altered);
	tcase_add_test(tc, test_action_rekey);
	tcase_add_test(tc, test_action_rekey_unknown_key);
	tcase_add_test(tc, test_action_migrate_7);
	tcase_add_test(tc, test_action_group);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

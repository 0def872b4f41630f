/*
 * test_rekey: key rotation, common/rekey.c and the store's side of it.
 *
 * On real SQLite files in a scratch directory, or on a PostgreSQL database
 * of each test's own when FL_TEST_PG_URI is set (tu_db.h): rows under an
 * old key are
 * re-sealed under the new one (links, started logins and links pending
 * their code) and still open to the same tokens at the same version;
 * rows already under the new key are not touched; a row that a refresh
 * or a relink changed between the read and the write of a batch is not
 * overwritten; the new ciphertext's associated data names the new key
 * id; rows under a key nobody holds, or that do not open, are counted
 * and left alone.  The workers' side: a
 * refresh of a row under an old key moves it to the current key, a logout
 * deletes it, a row under a key id not yet known makes the keyring re-read
 * its file.  Then the whole run: the key file's rewrites (atomic, same
 * mode, symbolic link followed), a complete rotation, a resumed one, and
 * each refusal (unknown keys, bad new key file, same key, full keyring,
 * another rotation running) with nothing changed.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "crypto.h"
#include "keyring.h"
#include "rekey.h"
#include "store.h"
#include "testutil.h"
#include "tu_db.h"

#define NUSERS		7
#define VERIFIER	"pkce-VERIFIER-plaintext-0123456789abcdefghijk"

static char			 dir[PATH_MAX];
static char			 dbpath[PATH_MAX + 16];
static char			 keypath[PATH_MAX + 16];
static char			 newpath[PATH_MAX + 16];
/* What the store is opened with: dbpath, or a PostgreSQL URI. */
static const char		*db;
static struct crypto_key	 key_a, key_b, key_c;

static void
setup(void)
{
	const char	*tmp;

	ck_assert_int_eq(crypto_init(), 0);
	tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/test_rekey.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(dbpath, sizeof(dbpath), "%s/forcelink.db", dir);
	db = tu_db_create(dbpath);
	snprintf(keypath, sizeof(keypath), "%s/key", dir);
	snprintf(newpath, sizeof(newpath), "%s/newkey", dir);
	tu_key_random(&key_a);
	tu_key_random(&key_b);
	tu_key_random(&key_c);
}

static void
teardown(void)
{
	DIR		*d;
	struct dirent	*e;
	char		 p[PATH_MAX * 2];

	tu_db_destroy();
	if ((d = opendir(dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.' && (e->d_name[1] == '\0' ||
			    strcmp(e->d_name, "..") == 0))
				continue;
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(dir);
}

/* --- Helpers ----------------------------------------------------------- */

static struct slack_user
user(int i)
{
	struct slack_user	 u;

	memset(&u, 0, sizeof(u));
	snprintf(u.team_id, sizeof(u.team_id), "T1");
	snprintf(u.user_id, sizeof(u.user_id), "U%d", i);
	return u;
}

static void
tokens(int i, int gen, char *access, char *refresh, size_t n)
{
	snprintf(access, n, "00Dxx!ACCESS-%d-gen%d-9f3b2c", i, gen);
	snprintf(refresh, n, "5Aep861REFRESH-%d-gen%d-d41d8c", i, gen);
}

static void
put(struct store *st, int i, int gen)
{
	struct slack_user	 u = user(i);
	struct store_link	 l;
	char			 a[64], r[64];

	tokens(i, gen, a, r, sizeof(a));
	memset(&l, 0, sizeof(l));
	l.org = (char *)"";
	l.sf_user_id = (char *)"005xx000001SvJVAA0";
	l.sf_org_id = (char *)"00Dxx0000001gPLEAY";
	l.sf_username = (char *)"alice@example.com";
	l.instance_url = (char *)"https://example.my.salesforce.com";
	l.access_token = a;
	l.refresh_token = r;
	ck_assert_int_eq(store_link_put(st, &u, &l, NULL), STORE_OK);
}

/* Asserts that user i's link opens in st to generation gen's tokens (the
 * refresh token of generation rgen) at version v. */
static void
assert_link(struct store *st, int i, int gen, int rgen, int64_t v)
{
	struct slack_user	 u = user(i);
	struct store_link	 l;
	char			 a[64], r[64], a2[64], r2[64];

	tokens(i, gen, a, r, sizeof(a));
	tokens(i, rgen, a2, r2, sizeof(a2));
	ck_assert_int_eq(store_link_get(st, &u, &l), STORE_OK);
	ck_assert_str_eq(l.access_token, a);
	ck_assert_str_eq(l.refresh_token, r2);
	ck_assert_int_eq(l.version, v);
	store_link_free(&l);
}

static struct store *
open_ring(const struct crypto_key *first, const struct crypto_key *second,
    struct keyring **kr)
{
	struct crypto_key	 ring[2];
	struct store		*st;

	ring[0] = *first;
	if (second != NULL)
		ring[1] = *second;
	*kr = keyring_from_keys(ring, second != NULL ? 2 : 1);
	ck_assert_ptr_nonnull(*kr);
	st = store_open_keyring(db, *kr);
	ck_assert_ptr_nonnull(st);
	crypto_wipe(ring, sizeof(ring));
	return st;
}

/* The raw access of tu_db.h, on the test's database. */
static int64_t
raw_int(const char *sql)
{
	return tu_db_int(sql);
}

/* First column of the first row, allocated; "" when there is no row. */
static char *
raw_text(const char *sql)
{
	char	*v;

	if ((v = tu_db_text_opt(sql)) == NULL)
		ck_assert_ptr_nonnull(v = strdup(""));
	return v;
}

static void
raw_exec(const char *sql)
{
	tu_db_exec(sql);
}

/* Everything stored about links and logins, to compare before/after. */
static char *
raw_snapshot(void)
{
	return raw_text(TU_SQL("SELECT group_concat(x, ';') FROM ("
	    "SELECT user_id || '|' || key_id || '|' || hex(access_token_ct) "
	    "|| '|' || hex(refresh_token_ct) || '|' || version AS x "
	    "FROM sf_link UNION ALL SELECT hex(nonce_hash) || '|' || "
	    "ifnull(key_id, '') || '|' || ifnull(hex(verifier_ct), '') "
	    "FROM login_state ORDER BY 1)",
	    "SELECT string_agg(x, ';' ORDER BY x) FROM ("
	    "SELECT user_id || '|' || key_id || '|' || "
	    "encode(access_token_ct, 'hex') || '|' || "
	    "encode(refresh_token_ct, 'hex') || '|' || version AS x "
	    "FROM sf_link UNION ALL SELECT encode(nonce_hash, 'hex') || '|' "
	    "|| coalesce(key_id, '') || '|' || "
	    "coalesce(encode(verifier_ct, 'hex'), '') FROM login_state) s"));
}

/* Rows of sf_link under key id id. */
static int64_t
links_under(const struct crypto_key *k)
{
	char	 sql[128];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM sf_link WHERE "
	    "key_id = '%s'", k->id);
	return raw_int(sql);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE	*fp;

	unlink(path);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

/* Writes keys (NULL-terminated list) as keyring text to path. */
static void
write_keys(const char *path, const struct crypto_key *k1,
    const struct crypto_key *k2)
{
	struct crypto_key	 ks[2];
	char			*text;

	ks[0] = *k1;
	if (k2 != NULL)
		ks[1] = *k2;
	text = keyring_format(ks, k2 != NULL ? 2 : 1);
	ck_assert_ptr_nonnull(text);
	write_file(path, text, 0600);
	crypto_free_secret(text);
}

/* The key ids in the keyring file at path, comma-separated. */
static void
file_ids(const char *path, char *out, size_t n)
{
	struct crypto_key	 ks[KEYRING_MAX];
	char			 err[256];
	size_t			 nk, i;

	ck_assert_int_eq(keyring_read_file(path, ks, &nk, err, sizeof(err)),
	    0);
	out[0] = '\0';
	for (i = 0; i < nk; i++) {
		strncat(out, ks[i].id, n - strlen(out) - 1);
		if (i + 1 < nk)
			strncat(out, ",", n - strlen(out) - 1);
	}
	crypto_wipe(ks, sizeof(ks));
}

/* Associated data of a token, as store_seal.c builds it: a tag and
 * length-prefixed fields (enterprise, team, user, which, key id). */
static size_t
token_ad(unsigned char *b, const struct slack_user *u, const char *which,
    const char *key_id)
{
	const char *const	 f[] = { "forcelink-v1", u->enterprise_id,
	    u->team_id, u->user_id, which, key_id };
	size_t			 i, n, len = 0;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		n = strlen(f[i]);
		b[len++] = (unsigned char)(n >> 24);
		b[len++] = (unsigned char)(n >> 16);
		b[len++] = (unsigned char)(n >> 8);
		b[len++] = (unsigned char)n;
		memcpy(b + len, f[i], n);
		len += n;
	}
	return len;
}

/* A started login (nonce, then /oauth/start) sealed in st. */
static void
start_login(struct store *st, int i)
{
	struct slack_user	 u = user(i), who;
	unsigned char		 nh[CRYPTO_HASHLEN], sh[CRYPTO_HASHLEN];
	unsigned char		 ch[CRYPTO_HASHLEN];
	char			 s[32];

	snprintf(s, sizeof(s), "nonce-%d", i);
	crypto_sha256(s, nh);
	snprintf(s, sizeof(s), "state-%d", i);
	crypto_sha256(s, sh);
	snprintf(s, sizeof(s), "cookie-%d", i);
	crypto_sha256(s, ch);
	ck_assert_int_eq(store_nonce_add(st, &u, nh, time(NULL) + 600),
	    STORE_OK);
	ck_assert_int_eq(store_nonce_start(st, nh, time(NULL), sh, ch,
	    VERIFIER, time(NULL) + 600, &who), STORE_OK);
}

static void
take_login(struct store *st, int i, enum store_result want)
{
	struct slack_user	 who;
	unsigned char		 sh[CRYPTO_HASHLEN], ch[CRYPTO_HASHLEN];
	char			 s[32], *v = NULL;

	snprintf(s, sizeof(s), "state-%d", i);
	crypto_sha256(s, sh);
	snprintf(s, sizeof(s), "cookie-%d", i);
	crypto_sha256(s, ch);
	ck_assert_int_eq(store_state_take(st, sh, ch, time(NULL), &who, &v),
	    want);
	if (want == STORE_OK)
		ck_assert_str_eq(v, VERIFIER);
	crypto_free_secret(v);
}

/* --- The store's re-sealing -------------------------------------------- */

/* Rows under the old key end up under the new one and open to the same
 * tokens, at the same version, with the new key alone. */
START_TEST(test_reseal_old_rows)
{
	struct store_rekey_counts	 c;
	struct keyring			*kr;
	struct store			*a, *ring, *b;
	int				 i;

	a = store_open(db, &key_a);
	for (i = 0; i < NUSERS; i++)
		put(a, i, 1);
	start_login(a, 0);
	ring = open_ring(&key_b, &key_a, &kr);
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(rekey_pass(ring, 2, 0, &c), REKEY_OK);
	ck_assert_int_eq(c.read, NUSERS + 1);
	ck_assert_int_eq(c.resealed, NUSERS + 1);
	ck_assert_int_eq(c.changed + c.unknown_key + c.unopenable, 0);
	ck_assert_int_eq(links_under(&key_b), NUSERS);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM login_state WHERE "
	    "key_id IS NOT NULL AND verifier_ct IS NOT NULL"), 1);
	/* A second pass finds nothing. */
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(rekey_pass(ring, 2, 0, &c), REKEY_OK);
	ck_assert_int_eq(c.read, 0);

	b = store_open(db, &key_b);
	for (i = 0; i < NUSERS; i++)
		assert_link(b, i, 1, 1, 1);
	take_login(b, 0, STORE_OK);
	/* The old key alone opens nothing any more. */
	{
		struct slack_user	 u = user(3);
		struct store_link	 l;

		ck_assert_int_eq(store_link_get(a, &u, &l), STORE_BADKEY);
	}
	store_close(a);
	store_close(b);
	store_close(ring);
	keyring_free(kr);
}
END_TEST

/* A search remembered with a login link (its text and response_url)
 * follows the rotation like the verifier: re-sealed under the new key,
 * taken whole with the new key alone, and no longer under the old one. */
START_TEST(test_reseal_remembered_search)
{
	static const char	 text[] = "smith & <jones>";
	static const char	 url[] =
	    "https://hooks.slack.com/commands/T1/1/rekeySEARCHurl";
	struct store_rekey_counts c;
	struct store_search	 in = { (char *)text, (char *)url, 0, NULL }, got;
	struct slack_user	 u = user(1), who;
	struct keyring		*kr;
	struct store		*a, *ring, *b;
	unsigned char		 nh[CRYPTO_HASHLEN], sh[CRYPTO_HASHLEN];
	unsigned char		 ch[CRYPTO_HASHLEN];
	char			*v = NULL, q[160];

	crypto_sha256("nonce-search", nh);
	crypto_sha256("state-search", sh);
	crypto_sha256("cookie-search", ch);
	a = store_open(db, &key_a);
	ck_assert_int_eq(store_nonce_add_search(a, &u, nh, time(NULL) + 600,
	    &in), STORE_OK);
	ring = open_ring(&key_b, &key_a, &kr);
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(rekey_pass(ring, 2, 0, &c), REKEY_OK);
	ck_assert_int_eq(c.read, 1);
	ck_assert_int_eq(c.resealed, 1);
	ck_assert_int_eq(c.changed + c.unknown_key + c.unopenable, 0);
	snprintf(q, sizeof(q), "SELECT count(*) FROM login_state WHERE "
	    "search_ct IS NOT NULL AND search_key_id = '%s'", key_b.id);
	ck_assert_int_eq(raw_int(q), 1);
	/* A second pass finds nothing left under the old key. */
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(rekey_pass(ring, 2, 0, &c), REKEY_OK);
	ck_assert_int_eq(c.read, 0);

	/* The new key alone starts the login and takes the search whole. */
	b = store_open(db, &key_b);
	ck_assert_int_eq(store_nonce_start(b, nh, time(NULL), sh, ch,
	    VERIFIER, time(NULL) + 600, &who), STORE_OK);
	ck_assert_int_eq(store_state_take_search(b, sh, ch, time(NULL), &who,
	    &v, &got), STORE_OK);
	ck_assert_str_eq(v, VERIFIER);
	ck_assert_ptr_nonnull(got.text);
	ck_assert_str_eq(got.text, text);
	ck_assert_str_eq(got.response_url, url);
	crypto_free_secret(v);
	store_search_free(&got);
	store_close(a);
	store_close(b);
	store_close(ring);
	keyring_free(kr);
}
END_TEST

/* A link pending its code (FORCELINK_LINK_PROOF=code) follows the
 * rotation: both tokens re-sealed under the new key, and the right code
 * then takes them whole with the new key alone. */
START_TEST(test_reseal_pending_link)
{
	struct store_rekey_counts c;
	struct store_pending	 p;
	struct store_search	 search;
	struct store_link	 l;
	struct slack_user	 u = user(1), who;
	struct keyring		*kr;
	struct store		*a, *ring, *b;
	unsigned char		 nh[CRYPTO_HASHLEN], sh[CRYPTO_HASHLEN];
	unsigned char		 ch[CRYPTO_HASHLEN], code[CRYPTO_HASHLEN];
	char			*v = NULL, q[200], acc[64], ref[64];

	crypto_sha256("nonce-pending", nh);
	crypto_sha256("state-pending", sh);
	crypto_sha256("cookie-pending", ch);
	crypto_sha256("ABCDE12345", code);
	tokens(1, 1, acc, ref, sizeof(acc));
	memset(&l, 0, sizeof(l));
	l.org = (char *)"";
	l.sf_user_id = (char *)"005xx000001SvJVAA0";
	l.sf_org_id = (char *)"00Dxx0000001gPLEAY";
	l.sf_username = (char *)"alice@example.com";
	l.instance_url = (char *)"https://example.my.salesforce.com";
	l.access_token = acc;
	l.refresh_token = ref;
	a = store_open(db, &key_a);
	ck_assert_int_eq(store_nonce_add_login(a, &u, NULL, nh,
	    time(NULL) + 600, NULL), STORE_OK);
	ck_assert_int_eq(store_nonce_start_leg(a, STORE_LEG_SALESFORCE, nh,
	    time(NULL), sh, ch, VERIFIER, time(NULL) + 600, &who), STORE_OK);
	ck_assert_int_eq(store_state_take_leg(a, STORE_LEG_SALESFORCE, sh, ch,
	    time(NULL), &who, &v, NULL), STORE_OK);
	crypto_free_secret(v);
	ck_assert_int_eq(store_pending_put(a, sh, &l, code, time(NULL) + 600),
	    STORE_OK);
	ring = open_ring(&key_b, &key_a, &kr);
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(rekey_pass(ring, 2, 0, &c), REKEY_OK);
	ck_assert_int_eq(c.resealed, 1);
	ck_assert_int_eq(c.changed + c.unknown_key + c.unopenable, 0);
	snprintf(q, sizeof(q), "SELECT count(*) FROM login_state WHERE "
	    "pend_refresh_ct IS NOT NULL AND pend_key_id = '%s'", key_b.id);
	ck_assert_int_eq(raw_int(q), 1);
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(rekey_pass(ring, 2, 0, &c), REKEY_OK);
	ck_assert_int_eq(c.read, 0);
	/* The old key alone no longer opens it; the new one does. */
	ck_assert_int_eq(store_pending_confirm(a, code, &u, time(NULL), &p,
	    &search), STORE_BADKEY);
	b = store_open(db, &key_b);
	ck_assert_int_eq(store_pending_confirm(b, code, &u, time(NULL), &p,
	    &search), STORE_OK);
	ck_assert_str_eq(p.link.access_token, acc);
	ck_assert_str_eq(p.link.refresh_token, ref);
	store_pending_free(&p);
	store_search_free(&search);
	store_close(a);
	store_close(b);
	store_close(ring);
	keyring_free(kr);
}
END_TEST

/* A Slack installation's bot token and refresh token (and one without
 * a refresh token) follow the rotation: re-sealed under the new key,
 * opening with the new key alone, version unchanged. */
START_TEST(test_reseal_installations)
{
	struct store_rekey_counts c;
	struct store_install	 in, out;
	struct keyring		*kr;
	struct store		*a, *ring, *b;
	char			 q[160], bot[TU_TOKEN_MAX], ref[TU_TOKEN_MAX];
	char			 plain[TU_TOKEN_MAX];

	tu_token(bot, "xoxe.xoxb-1-");
	tu_token(ref, "xoxe-1-");
	tu_token(plain, "xoxb-");
	a = store_open(db, &key_a);
	memset(&in, 0, sizeof(in));
	snprintf(in.team_id, sizeof(in.team_id), "T1");
	in.app_id = (char *)"A0APP1";
	in.team_name = (char *)"Team One";
	in.enterprise_name = (char *)"";
	in.bot_user_id = (char *)"U0BOT1";
	in.bot_id = (char *)"B0BOT1";
	in.scopes = (char *)"commands";
	in.installer_user_id = (char *)"U0ADMIN";
	in.bot_token = bot;
	in.refresh_token = ref;
	in.expires_at = time(NULL) + 43200;
	ck_assert_int_eq(store_install_put(a, &in), STORE_OK);
	snprintf(in.team_id, sizeof(in.team_id), "T2");
	in.bot_token = plain;
	in.refresh_token = NULL;
	in.expires_at = 0;
	ck_assert_int_eq(store_install_put(a, &in), STORE_OK);

	ring = open_ring(&key_b, &key_a, &kr);
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(rekey_pass(ring, 1, 0, &c), REKEY_OK);
	ck_assert_int_eq(c.read, 2);
	ck_assert_int_eq(c.resealed, 2);
	ck_assert_int_eq(c.changed + c.unknown_key + c.unopenable, 0);
	snprintf(q, sizeof(q), "SELECT count(*) FROM slack_install WHERE "
	    "key_id = '%s' AND version = 1", key_b.id);
	ck_assert_int_eq(raw_int(q), 2);

	b = store_open(db, &key_b);
	ck_assert_int_eq(store_install_get(b, "", "T1", &out), STORE_OK);
	ck_assert_str_eq(out.bot_token, bot);
	ck_assert_str_eq(out.refresh_token, ref);
	store_install_free(&out);
	ck_assert_int_eq(store_install_get(b, "", "T2", &out), STORE_OK);
	ck_assert_str_eq(out.bot_token, plain);
	ck_assert_ptr_null(out.refresh_token);
	store_install_free(&out);
	/* The old key alone opens neither any more. */
	ck_assert_int_eq(store_install_get(a, "", "T1", &out), STORE_BADKEY);
	store_install_free(&out);
	store_close(a);
	store_close(b);
	store_close(ring);
	keyring_free(kr);
}
END_TEST

/* Rows already under the new key are not written at all. */
START_TEST(test_new_rows_untouched)
{
	struct store_rekey_counts	 c;
	struct keyring			*kr;
	struct store			*a, *b, *ring;
	char				*before, *after;

	a = store_open(db, &key_a);
	b = store_open(db, &key_b);
	put(b, 0, 1);
	put(b, 1, 1);
	put(a, 2, 1);
	put(a, 3, 1);
	before = raw_text(TU_SQL("SELECT group_concat(hex(access_token_ct) "
	    "|| hex(refresh_token_ct) || version || updated_at) FROM sf_link "
	    "WHERE user_id IN ('U0', 'U1')", "SELECT string_agg("
	    "encode(access_token_ct, 'hex') || encode(refresh_token_ct, 'hex') "
	    "|| version || updated_at, ',' ORDER BY user_id) FROM sf_link "
	    "WHERE user_id IN ('U0', 'U1')"));
	ring = open_ring(&key_b, &key_a, &kr);
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(rekey_pass(ring, 100, 0, &c), REKEY_OK);
	ck_assert_int_eq(c.read, 2);
	ck_assert_int_eq(c.resealed, 2);
	after = raw_text(TU_SQL("SELECT group_concat(hex(access_token_ct) "
	    "|| hex(refresh_token_ct) || version || updated_at) FROM sf_link "
	    "WHERE user_id IN ('U0', 'U1')", "SELECT string_agg("
	    "encode(access_token_ct, 'hex') || encode(refresh_token_ct, 'hex') "
	    "|| version || updated_at, ',' ORDER BY user_id) FROM sf_link "
	    "WHERE user_id IN ('U0', 'U1')"));
	ck_assert_str_eq(before, after);
	ck_assert_int_eq(links_under(&key_b), 4);
	free(before);
	free(after);
	store_close(a);
	store_close(b);
	store_close(ring);
	keyring_free(kr);
}
END_TEST

/* A refresh between the read and the write of a batch wins: that row is
 * not overwritten, and the next pass re-seals its new tokens. */
START_TEST(test_changed_row_not_overwritten)
{
	struct store_rekey_counts	 c;
	struct store_rekey		*batch = NULL;
	struct keyring			*kr;
	struct store			*a, *ring, *b;
	struct slack_user		 u = user(1);
	int64_t				 cursor = 0;
	char				 acc[64], ref[64];

	a = store_open(db, &key_a);
	put(a, 0, 1);
	put(a, 1, 1);
	put(a, 2, 1);
	ring = open_ring(&key_b, &key_a, &kr);
	ck_assert_int_eq(store_rekey_read(ring, STORE_REKEY_LINKS, &cursor,
	    10, &batch, &c), STORE_OK);
	ck_assert_int_eq(c.read, 3);
	ck_assert_uint_eq(store_rekey_count(batch), 3);
	/* A worker still on the old key refreshes user 1 meanwhile. */
	tokens(1, 2, acc, ref, sizeof(acc));
	ck_assert_int_eq(store_link_update_tokens(a, &u, 1, acc, ref),
	    STORE_OK);
	ck_assert_int_eq(store_rekey_write(ring, batch, &c), STORE_OK);
	store_rekey_free(batch);
	ck_assert_int_eq(c.resealed, 2);
	ck_assert_int_eq(c.changed, 1);
	assert_link(a, 1, 2, 2, 2);
	ck_assert_int_eq(links_under(&key_a), 1);

	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(rekey_pass(ring, 10, 0, &c), REKEY_OK);
	ck_assert_int_eq(c.resealed, 1);
	b = store_open(db, &key_b);
	assert_link(b, 0, 1, 1, 1);
	assert_link(b, 1, 2, 2, 2);
	assert_link(b, 2, 1, 1, 1);
	store_close(a);
	store_close(b);
	store_close(ring);
	keyring_free(kr);
}
END_TEST

/* A logout and a new login in between bring the version back to 1: the
 * ciphertexts still tell the rows apart, and the new link wins. */
START_TEST(test_relinked_row_not_overwritten)
{
	struct store_rekey_counts	 c;
	struct store_rekey		*batch = NULL;
	struct keyring			*kr;
	struct store			*a, *ring;
	struct slack_user		 u = user(0);
	int64_t				 cursor = 0;

	a = store_open(db, &key_a);
	put(a, 0, 1);
	ring = open_ring(&key_b, &key_a, &kr);
	ck_assert_int_eq(store_rekey_read(ring, STORE_REKEY_LINKS, &cursor,
	    10, &batch, &c), STORE_OK);
	ck_assert_int_eq(store_link_delete(a, &u, -1), STORE_OK);
	put(a, 0, 5);
	ck_assert_int_eq(store_rekey_write(ring, batch, &c), STORE_OK);
	store_rekey_free(batch);
	ck_assert_int_eq(c.resealed, 0);
	ck_assert_int_eq(c.changed, 1);
	assert_link(a, 0, 5, 5, 1);
	store_close(a);
	store_close(ring);
	keyring_free(kr);
}
END_TEST

/* The re-sealed ciphertext's associated data names the new key id: it
 * opens with the new key and the new id, not with the old id. */
START_TEST(test_ad_names_new_key)
{
	struct store_rekey_counts	 c;
	struct keyring			*kr;
	struct store			*a, *ring;
	struct slack_user		 u = user(4);
	unsigned char			 ad[256], ct[512];
	char				*pt = NULL, acc[64], ref[64], *id;
	size_t				 adlen, ctlen, ptlen;

	a = store_open(db, &key_a);
	put(a, 4, 1);
	ring = open_ring(&key_b, &key_a, &kr);
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(rekey_pass(ring, 10, 0, &c), REKEY_OK);
	id = raw_text("SELECT key_id FROM sf_link");
	ck_assert_str_eq(id, key_b.id);
	free(id);

	ctlen = tu_db_blob("SELECT refresh_token_ct FROM sf_link "
	    "WHERE user_id = 'U4'", ct, sizeof(ct));

	tokens(4, 1, acc, ref, sizeof(acc));
	adlen = token_ad(ad, &u, "refresh", key_b.id);
	ck_assert_int_eq(crypto_open(&key_b, ad, adlen, ct, ctlen, &pt,
	    &ptlen), 0);
	ck_assert_str_eq(pt, ref);
	crypto_free_secret(pt);
	adlen = token_ad(ad, &u, "refresh", key_a.id);
	ck_assert_int_eq(crypto_open(&key_b, ad, adlen, ct, ctlen, &pt,
	    &ptlen), -1);
	adlen = token_ad(ad, &u, "access", key_b.id);
	ck_assert_int_eq(crypto_open(&key_b, ad, adlen, ct, ctlen, &pt,
	    &ptlen), -1);
	store_close(a);
	store_close(ring);
	keyring_free(kr);
}
END_TEST

/* Rows under a key nobody holds, and rows that do not open, are counted
 * and left exactly as they are. */
START_TEST(test_unknown_and_altered_left_alone)
{
	struct store_rekey_counts	 c;
	struct keyring			*kr;
	struct store			*a, *cst, *ring;
	char				*before, *after;

	a = store_open(db, &key_a);
	cst = store_open(db, &key_c);
	put(cst, 0, 1);
	put(a, 1, 1);
	put(a, 2, 1);
	raw_exec(TU_SQL("UPDATE sf_link SET access_token_ct = "
	    "zeroblob(length(access_token_ct)) WHERE user_id = 'U2'",
	    "UPDATE sf_link SET access_token_ct = "
	    "decode(repeat('00', length(access_token_ct)), 'hex') "
	    "WHERE user_id = 'U2'"));
	before = raw_text(TU_SQL("SELECT group_concat(key_id || "
	    "hex(access_token_ct) || hex(refresh_token_ct)) FROM sf_link "
	    "WHERE user_id IN ('U0', 'U2')", "SELECT string_agg(key_id || "
	    "encode(access_token_ct, 'hex') || encode(refresh_token_ct, "
	    "'hex'), ',' ORDER BY user_id) FROM sf_link "
	    "WHERE user_id IN ('U0', 'U2')"));
	ring = open_ring(&key_b, &key_a, &kr);
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(rekey_pass(ring, 10, 0, &c), REKEY_OK);
	ck_assert_int_eq(c.read, 3);
	ck_assert_int_eq(c.resealed, 1);
	ck_assert_int_eq(c.unknown_key, 1);
	ck_assert_int_eq(c.unopenable, 1);
	after = raw_text(TU_SQL("SELECT group_concat(key_id || "
	    "hex(access_token_ct) || hex(refresh_token_ct)) FROM sf_link "
	    "WHERE user_id IN ('U0', 'U2')", "SELECT string_agg(key_id || "
	    "encode(access_token_ct, 'hex') || encode(refresh_token_ct, "
	    "'hex'), ',' ORDER BY user_id) FROM sf_link "
	    "WHERE user_id IN ('U0', 'U2')"));
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	store_close(a);
	store_close(cst);
	store_close(ring);
	keyring_free(kr);
}
END_TEST

START_TEST(test_census)
{
	struct store_key_count	 kc[4];
	struct store		*a, *b;
	size_t			 n;

	a = store_open(db, &key_a);
	b = store_open(db, &key_b);
	ck_assert_int_eq(store_key_census(a, kc, 4, &n), STORE_OK);
	ck_assert_uint_eq(n, 0);
	put(a, 0, 1);
	put(a, 1, 1);
	put(b, 2, 1);
	start_login(b, 3);
	ck_assert_int_eq(store_key_census(a, kc, 4, &n), STORE_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(kc[strcmp(key_a.id, key_b.id) < 0 ? 0 : 1].key_id,
	    key_a.id);
	ck_assert_int_eq(kc[0].links + kc[1].links, 3);
	ck_assert_int_eq(kc[0].states + kc[1].states, 1);
	/* Past max ids, the rest are added up in the last entry. */
	ck_assert_int_eq(store_key_census(a, kc, 1, &n), STORE_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(kc[0].key_id, "");
	ck_assert_int_eq(kc[0].links + kc[0].states, 4);
	store_close(a);
	store_close(b);
}
END_TEST

/* --- The workers' side ------------------------------------------------- */

/* A refresh that keeps the refresh token, on a row under the previous
 * key: both tokens end up under the current key, the refresh token
 * unchanged. */
START_TEST(test_refresh_moves_row_to_current_key)
{
	struct keyring		*kr;
	struct store		*a, *ring, *b;
	struct slack_user	 u = user(0);
	char			 acc[64], ref[64];

	a = store_open(db, &key_a);
	put(a, 0, 1);
	ring = open_ring(&key_b, &key_a, &kr);
	assert_link(ring, 0, 1, 1, 1);
	tokens(0, 2, acc, ref, sizeof(acc));
	ck_assert_int_eq(store_link_update_tokens(ring, &u, 1, acc, NULL),
	    STORE_OK);
	ck_assert_int_eq(links_under(&key_b), 1);
	b = store_open(db, &key_b);
	assert_link(b, 0, 2, 1, 2);
	/* A stale version is a conflict, whatever the key. */
	ck_assert_int_eq(store_link_update_tokens(ring, &u, 1, acc, NULL),
	    STORE_CONFLICT);
	/* And a row already under the current key keeps its column. */
	ck_assert_int_eq(store_link_update_tokens(ring, &u, 2, acc, NULL),
	    STORE_OK);
	assert_link(b, 0, 2, 1, 3);
	/* The old key alone does not overwrite a row it cannot open. */
	ck_assert_int_eq(store_link_update_tokens(a, &u, 3, acc, ref),
	    STORE_CONFLICT);
	assert_link(b, 0, 2, 1, 3);
	store_close(a);
	store_close(b);
	store_close(ring);
	keyring_free(kr);
}
END_TEST

/* Logout deletes a link under a previous key of the keyring; a key that
 * is not in it deletes nothing. */
START_TEST(test_delete_under_previous_key)
{
	struct keyring		*kr;
	struct store		*a, *c, *ring;
	struct slack_user	 u0 = user(0), u1 = user(1);

	a = store_open(db, &key_a);
	c = store_open(db, &key_c);
	put(a, 0, 1);
	put(c, 1, 1);
	ring = open_ring(&key_b, &key_a, &kr);
	ck_assert_int_eq(store_link_delete(ring, &u0, -1), STORE_OK);
	ck_assert_int_eq(store_link_delete(ring, &u1, -1), STORE_NOTFOUND);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM sf_link"), 1);
	store_close(a);
	store_close(c);
	store_close(ring);
	keyring_free(kr);
}
END_TEST

/* A worker that meets a key id it does not hold re-reads its key file
 * at once, and from then on seals under the file's first key. */
START_TEST(test_unknown_id_reloads_key_file)
{
	struct keyring		*kr;
	struct store		*w, *b;
	struct slack_user	 u = user(0);
	struct store_link	 l;
	char			 err[256];

	write_keys(keypath, &key_a, NULL);
	kr = keyring_from_file(keypath, err, sizeof(err));
	ck_assert_ptr_nonnull(kr);
	w = store_open_keyring(db, kr);
	ck_assert_ptr_nonnull(w);
	b = store_open(db, &key_b);
	put(b, 0, 1);
	ck_assert_int_eq(store_link_get(w, &u, &l), STORE_BADKEY);
	/* rotate-key's first rewrite, then at once a read of that row. */
	ck_assert_int_eq(rekey_write_keyfile(keypath, (struct crypto_key[]){
	    key_b, key_a }, 2, err, sizeof(err)), 0);
	assert_link(w, 0, 1, 1, 1);
	put(w, 1, 1);
	ck_assert_int_eq(links_under(&key_b), 2);
	store_close(w);
	store_close(b);
	keyring_free(kr);
}
END_TEST

/* Without any unknown id, a worker follows the key file within about a
 * second: its next write is under the new key. */
START_TEST(test_worker_follows_key_file)
{
	struct keyring		*kr;
	struct store		*w;
	char			 err[256];
	long			 t0;

	write_keys(keypath, &key_a, NULL);
	kr = keyring_from_file(keypath, err, sizeof(err));
	ck_assert_ptr_nonnull(kr);
	w = store_open_keyring(db, kr);
	ck_assert_ptr_nonnull(w);
	put(w, 0, 1);
	ck_assert_int_eq(links_under(&key_a), 1);
	ck_assert_int_eq(rekey_write_keyfile(keypath, (struct crypto_key[]){
	    key_b, key_a }, 2, err, sizeof(err)), 0);
	t0 = tu_now_ms();
	do {
		usleep(50000);
		put(w, 1, 1);
	} while (links_under(&key_b) == 0 && tu_now_ms() - t0 < 3000);
	ck_assert_int_eq(links_under(&key_b), 1);
	TU_ASSERT_MS_LE(tu_now_ms() - t0, 2100);
	/* The row under the previous key still opens. */
	assert_link(w, 0, 1, 1, 1);
	store_close(w);
	keyring_free(kr);
}
END_TEST

/* --- The key file ---------------------------------------------------- */

START_TEST(test_write_keyfile)
{
	struct stat	 sb;
	char		 ids[128], want[64], link[PATH_MAX + 16], err[512];
	DIR		*d;
	struct dirent	*e;
	int		 others = 0;

	write_keys(keypath, &key_a, NULL);
	ck_assert_int_eq(chmod(keypath, 0640), 0);
	ck_assert_int_eq(rekey_write_keyfile(keypath, (struct crypto_key[]){
	    key_b, key_a }, 2, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(keypath, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 07777, 0640);
	file_ids(keypath, ids, sizeof(ids));
	snprintf(want, sizeof(want), "%s,%s", key_b.id, key_a.id);
	ck_assert_str_eq(ids, want);
	/* No temporary file is left behind. */
	d = opendir(dir);
	while ((e = readdir(d)) != NULL)
		others += strncmp(e->d_name, ".key.rotate-", 12) == 0;
	closedir(d);
	ck_assert_int_eq(others, 0);

	/* A symbolic link is followed: the link stays, its target changes. */
	snprintf(link, sizeof(link), "%s/keylink", dir);
	ck_assert_int_eq(symlink(keypath, link), 0);
	ck_assert_int_eq(rekey_write_keyfile(link, &key_c, 1, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(lstat(link, &sb), 0);
	ck_assert(S_ISLNK(sb.st_mode));
	file_ids(keypath, ids, sizeof(ids));
	ck_assert_str_eq(ids, key_c.id);

	/* A missing file is not created. */
	snprintf(link, sizeof(link), "%s/nokey", dir);
	ck_assert_int_eq(rekey_write_keyfile(link, &key_c, 1, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "FORCELINK_KEY_FILE"));
	ck_assert_int_eq(access(link, F_OK), -1);
}
END_TEST

/* --- Whole runs ----------------------------------------------------------- */

/* Runs a rotation to newpath's key with grace 0; returns the result and
 * the output in out (size n). */
static enum rekey_result
run(int batch, char *out, size_t n, char *err, size_t errsz)
{
	struct rekey_opts	 o;
	enum rekey_result	 r;
	FILE			*fp;
	size_t			 got;

	fp = tmpfile();
	ck_assert_ptr_nonnull(fp);
	memset(&o, 0, sizeof(o));
	o.db_path = db;
	o.key_path = keypath;
	o.new_key_path = newpath;
	o.grace = 0;
	o.batch = batch;
	o.out = fp;
	err[0] = '\0';
	r = rekey_run(&o, err, errsz);
	rewind(fp);
	got = fread(out, 1, n - 1, fp);
	out[got] = '\0';
	fclose(fp);
	return r;
}

START_TEST(test_run_complete)
{
	struct store	*a, *b;
	char		 out[4096], err[1024], ids[64];
	int		 i;

	a = store_open(db, &key_a);
	for (i = 0; i < NUSERS; i++)
		put(a, i, 1);
	start_login(a, 0);
	store_close(a);
	write_keys(keypath, &key_a, NULL);
	write_keys(newpath, &key_b, NULL);
	ck_assert_int_eq(run(3, out, sizeof(out), err, sizeof(err)),
	    REKEY_OK);
	ck_assert_msg(strstr(out, "pass 1: 8 rows re-sealed, 0 changed "
	    "meanwhile, 0 remaining") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "done: 8 rows re-sealed") != NULL, "%s",
	    out);
	ck_assert_ptr_nonnull(strstr(out, "key file: the new key first, then "
	    "1 previous key"));
	ck_assert_ptr_nonnull(strstr(out, "key file: now holds the new key "
	    "alone"));
	file_ids(keypath, ids, sizeof(ids));
	ck_assert_str_eq(ids, key_b.id);
	ck_assert_int_eq(links_under(&key_b), NUSERS);
	b = store_open(db, &key_b);
	for (i = 0; i < NUSERS; i++)
		assert_link(b, i, 1, 1, 1);
	take_login(b, 0, STORE_OK);
	store_close(b);

	/* Once more with the same key: nothing to rotate, nothing changed. */
	ck_assert_int_eq(run(3, out, sizeof(out), err, sizeof(err)),
	    REKEY_BADARG);
	ck_assert_ptr_nonnull(strstr(err, "already the current and only "
	    "key"));
}
END_TEST

/*
 * The keys in FORCELINK_KEY (env_keys): refused, nothing changed, while
 * the new key is not first; with it first, every row is re-sealed and no
 * file is written.
 */
START_TEST(test_run_env_keys)
{
	struct rekey_opts	 o;
	struct crypto_key	 ring[2];
	struct store		*a;
	char			 out[4096], err[1024], ids[64], ids2[64];
	char			*before, *after, *text;
	FILE			*fp;
	size_t			 got;
	int			 i;

	a = store_open(db, &key_a);
	for (i = 0; i < NUSERS; i++)
		put(a, i, 1);
	store_close(a);
	write_keys(keypath, &key_c, NULL);	/* must stay as it is */
	write_keys(newpath, &key_b, NULL);
	file_ids(keypath, ids, sizeof(ids));
	memset(&o, 0, sizeof(o));
	o.db_path = db;
	o.new_key_path = newpath;
	o.batch = 3;

	ring[0] = key_a;
	ck_assert_ptr_nonnull(text = keyring_format(ring, 1));
	o.env_keys = text;
	before = raw_snapshot();
	ck_assert_int_eq(rekey_run(&o, err, sizeof(err)), REKEY_CONFIG);
	ck_assert_msg(strstr(err, "FORCELINK_KEY does not start with the new "
	    "key") != NULL, "%s", err);
	ck_assert_ptr_nonnull(strstr(err, "nothing was changed"));
	after = raw_snapshot();
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	crypto_free_secret(text);

	ring[0] = key_b;
	ring[1] = key_a;
	ck_assert_ptr_nonnull(text = keyring_format(ring, 2));
	o.env_keys = text;
	ck_assert_ptr_nonnull(fp = tmpfile());
	o.out = fp;
	ck_assert_int_eq(rekey_run(&o, err, sizeof(err)), REKEY_OK);
	rewind(fp);
	got = fread(out, 1, sizeof(out) - 1, fp);
	out[got] = '\0';
	fclose(fp);
	crypto_free_secret(text);
	ck_assert_msg(strstr(out, "now set FORCELINK_KEY to the new key "
	    "alone") != NULL, "%s", out);
	ck_assert_ptr_null(strstr(out, "key file:"));
	ck_assert_int_eq(links_under(&key_b), NUSERS);
	file_ids(keypath, ids2, sizeof(ids2));
	ck_assert_str_eq(ids, ids2);
}
END_TEST

/* Killed after the first rewrite and part of a pass: the rerun resumes. */
START_TEST(test_run_resumes)
{
	struct keyring	*kr;
	struct store	*a, *ring;
	char		 out[4096], err[1024], ids[64];
	int		 i;

	a = store_open(db, &key_a);
	for (i = 0; i < NUSERS; i++)
		put(a, i, 1);
	store_close(a);
	ring = open_ring(&key_b, &key_a, &kr);
	put(ring, 0, 2);		/* a worker wrote under the new key */
	store_close(ring);
	keyring_free(kr);
	write_keys(keypath, &key_b, &key_a);
	write_keys(newpath, &key_b, NULL);
	ck_assert_int_eq(run(2, out, sizeof(out), err, sizeof(err)),
	    REKEY_OK);
	ck_assert_msg(strstr(out, "new key is first already (resuming)") !=
	    NULL, "%s", out);
	ck_assert_msg(strstr(out, "pass 1: 6 rows re-sealed") != NULL, "%s",
	    out);
	file_ids(keypath, ids, sizeof(ids));
	ck_assert_str_eq(ids, key_b.id);
	ck_assert_int_eq(links_under(&key_b), NUSERS);
}
END_TEST

/* Rows under a key neither file holds: refused, nothing changed. */
START_TEST(test_run_refuses_unknown_key)
{
	struct store	*a, *c;
	char		 out[4096], err[1024], ids[64], ids2[64];
	char		*before, *after;

	a = store_open(db, &key_a);
	c = store_open(db, &key_c);
	put(a, 0, 1);
	put(c, 1, 1);
	store_close(a);
	store_close(c);
	write_keys(keypath, &key_a, NULL);
	write_keys(newpath, &key_b, NULL);
	before = raw_snapshot();
	file_ids(keypath, ids, sizeof(ids));
	ck_assert_int_eq(run(2, out, sizeof(out), err, sizeof(err)),
	    REKEY_CONFIG);
	ck_assert_msg(strstr(err, key_c.id) != NULL, "%s", err);
	ck_assert_ptr_nonnull(strstr(err, "nothing was changed"));
	after = raw_snapshot();
	ck_assert_str_eq(before, after);
	file_ids(keypath, ids2, sizeof(ids2));
	ck_assert_str_eq(ids, ids2);
	free(before);
	free(after);
}
END_TEST

/* Each unusable new key file: refused before anything changes. */
static const struct {
	const char	*text;	/* NULL: no file */
	const char	*err;
} bad_new[] = {
	{ NULL, "cannot read" },
	{ "", "no key" },
	{ "c2hvcnQ=\n", "key 1 (line 1) is not the base64 of 32 bytes" },
	{ "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g\n",
	    "key 1 (line 1) is not the base64 of 32 bytes" },
	{ "TWO", "holds 2 keys" },
};

START_TEST(test_run_bad_new_key_file)
{
	struct store	*a;
	char		 out[4096], err[1024], ids[64], *before, *after;
	char		*text;
	struct crypto_key two[2] = { key_b, key_c };

	a = store_open(db, &key_a);
	put(a, 0, 1);
	store_close(a);
	write_keys(keypath, &key_a, NULL);
	if (bad_new[_i].text == NULL)
		unlink(newpath);
	else if (strcmp(bad_new[_i].text, "TWO") == 0) {
		text = keyring_format(two, 2);
		write_file(newpath, text, 0600);
		crypto_free_secret(text);
	} else
		write_file(newpath, bad_new[_i].text, 0600);
	before = raw_snapshot();
	ck_assert_int_eq(run(2, out, sizeof(out), err, sizeof(err)),
	    REKEY_BADARG);
	ck_assert_msg(strstr(err, bad_new[_i].err) != NULL, "%s", err);
	ck_assert_ptr_nonnull(strstr(err, "--new-key-file"));
	after = raw_snapshot();
	ck_assert_str_eq(before, after);
	file_ids(keypath, ids, sizeof(ids));
	ck_assert_str_eq(ids, key_a.id);
	ck_assert_str_eq(out, "");
	free(before);
	free(after);
}
END_TEST

/* A key file that already holds KEYRING_MAX keys has no room for one
 * more. */
START_TEST(test_run_full_keyring)
{
	struct crypto_key	 ks[KEYRING_MAX];
	char			*text, out[1024], err[1024];
	size_t			 i;

	for (i = 0; i < KEYRING_MAX; i++)
		tu_key_random(&ks[i]);
	text = keyring_format(ks, KEYRING_MAX);
	write_file(keypath, text, 0600);
	crypto_free_secret(text);
	write_keys(newpath, &key_b, NULL);
	store_close(store_open(db, &key_a));
	ck_assert_int_eq(run(2, out, sizeof(out), err, sizeof(err)),
	    REKEY_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "already holds 8 keys"));
}
END_TEST

/* Another rotation holds the lock: busy, nothing changed.  On SQLite the
 * lock file beside the database; on PostgreSQL the store's named lock of
 * rotate-key (rekey.c), as a rotation on another host holds it. */
START_TEST(test_run_other_rotation_running)
{
	struct store	*other = NULL;
	char		 out[1024], err[1024], lock[PATH_MAX + 32], ids[64];
	int		 fd = -1;

	store_close(store_open(db, &key_a));
	write_keys(keypath, &key_a, NULL);
	write_keys(newpath, &key_b, NULL);
	if (tu_db_pg()) {
		ck_assert_ptr_nonnull(other = store_open(db, &key_a));
		ck_assert_int_eq(store_lock_try(other,
		    "forcelink-admin rotate-key"), 1);
	} else {
		snprintf(lock, sizeof(lock), "%s-rotate.lock", dbpath);
		fd = open(lock, O_RDWR | O_CREAT, 0600);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(flock(fd, LOCK_EX), 0);
	}
	ck_assert_int_eq(run(2, out, sizeof(out), err, sizeof(err)),
	    REKEY_BUSY);
	ck_assert_ptr_nonnull(strstr(err, "another rotate-key is running"));
	if (fd != -1)
		close(fd);
	store_close(other);
	file_ids(keypath, ids, sizeof(ids));
	ck_assert_str_eq(ids, key_a.id);
}
END_TEST

/* No database at FORCELINK_DB: refused, and none is created. */
START_TEST(test_run_no_database)
{
	char	 out[1024], err[1024];

	tu_db_drop();
	write_keys(keypath, &key_a, NULL);
	write_keys(newpath, &key_b, NULL);
	ck_assert_int_eq(run(2, out, sizeof(out), err, sizeof(err)),
	    REKEY_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "FORCELINK_DB"));
	ck_assert_int_eq(tu_db_exists(), 0);
}
END_TEST

/* --- Integrations (migration 4) ----------------------------------------- */

#define ISECRET		"CONSUMER-SECRET-rekey-5d41402abc4b2a76"
#define ITOKEN		"00Dxx!INTEGRATION-USER-token-8277e091"

/* An integration (consumer secret sealed) and, when token is not NULL,
 * its integration user's token, in st. */
static void
put_integration(struct store *st, const char *name, const char *token)
{
	struct sf_org		 o;
	struct store_itoken	 t;

	memset(&o, 0, sizeof(o));
	o.name = (char *)name;
	o.login_url = (char *)"https://acme.my.salesforce.com";
	o.client_id = (char *)"3MVG9-rekey";
	o.client_secret = (char *)ISECRET;
	o.api_version = (char *)"v61.0";
	o.integration_user = token != NULL;
	ck_assert_int_eq(store_integration_add(st, &o), STORE_OK);
	if (token == NULL)
		return;
	memset(&t, 0, sizeof(t));
	t.sf_user_id = (char *)"005xx000009RunAsAA";
	t.sf_org_id = (char *)"00Dxx0000001gPLEAY";
	t.sf_username = (char *)"runas@acme.example";
	t.instance_url = (char *)"https://acme.my.salesforce.com";
	t.access_token = (char *)token;
	ck_assert_int_eq(store_itoken_put(st, name, &t, 0), STORE_OK);
}

/* Asserts what integration name opens to in st (secret, and token when
 * not NULL), or that it does not open (want STORE_BADKEY). */
static void
assert_integration(struct store *st, const char *name, const char *token,
    enum store_result want)
{
	struct sf_org		 o;
	struct store_itoken	 t;

	ck_assert_int_eq(store_integration_get(st, name, &o), want);
	if (want == STORE_OK)
		ck_assert_str_eq(o.client_secret, ISECRET);
	config_sf_org_free(&o);
	if (token == NULL)
		return;
	ck_assert_int_eq(store_itoken_get(st, name, &t), want);
	if (want == STORE_OK)
		ck_assert_str_eq(t.access_token, token);
	store_itoken_free(&t);
}

/* Associated data of an integration's sealed value, as store_integ.c builds
 * it. */
static size_t
integ_ad(unsigned char *b, const char *name, const char *column,
    const char *key_id)
{
	const char *const	 f[] = { "forcelink-v1", "integration", name,
	    column, key_id };
	size_t			 i, n, len = 0;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		n = strlen(f[i]);
		b[len++] = (unsigned char)(n >> 24);
		b[len++] = (unsigned char)(n >> 16);
		b[len++] = (unsigned char)(n >> 8);
		b[len++] = (unsigned char)n;
		memcpy(b + len, f[i], n);
		len += n;
	}
	return len;
}

/* Consumer secrets and integration users' tokens are re-sealed with the
 * links, open to the same values under the new key, and the new
 * ciphertext's associated data names the new key id. */
START_TEST(test_reseal_integrations)
{
	struct store_rekey_counts	 c;
	struct store_key_count		 kc[4];
	struct keyring			*kr;
	struct store			*a, *ring, *b;
	unsigned char			 ad[256], ct[512];
	char				*pt = NULL, *id;
	size_t				 adlen, ctlen, ptlen, n;

	a = store_open(db, &key_a);
	put(a, 0, 1);
	put_integration(a, "prod", NULL);
	put_integration(a, "cc", ITOKEN);
	ck_assert_int_eq(store_key_census(a, kc, 4, &n), STORE_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(kc[0].links, 1);
	ck_assert_int_eq(kc[0].integrations, 3);
	ring = open_ring(&key_b, &key_a, &kr);
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(rekey_pass(ring, 1, 0, &c), REKEY_OK);
	ck_assert_int_eq(c.read, 4);
	ck_assert_int_eq(c.resealed, 4);
	ck_assert_int_eq(c.changed + c.unknown_key + c.unopenable, 0);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM sf_integration WHERE "
	    "key_id <> (SELECT key_id FROM sf_link)"), 0);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM integration_token "
	    "WHERE key_id <> (SELECT key_id FROM sf_link)"), 0);
	/* The version of the token is that of before: nothing re-fetched. */
	ck_assert_int_eq(raw_int("SELECT version FROM integration_token"), 1);
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(rekey_pass(ring, 1, 0, &c), REKEY_OK);
	ck_assert_int_eq(c.read, 0);

	b = store_open(db, &key_b);
	assert_integration(b, "prod", NULL, STORE_OK);
	assert_integration(b, "cc", ITOKEN, STORE_OK);
	assert_integration(a, "cc", ITOKEN, STORE_BADKEY);
	id = raw_text("SELECT key_id FROM sf_integration WHERE name = 'prod'");
	ck_assert_str_eq(id, key_b.id);
	free(id);

	ctlen = tu_db_blob("SELECT client_secret_ct FROM sf_integration "
	    "WHERE name = 'prod'", ct, sizeof(ct));
	adlen = integ_ad(ad, "prod", "client_secret", key_b.id);
	ck_assert_int_eq(crypto_open(&key_b, ad, adlen, ct, ctlen, &pt,
	    &ptlen), 0);
	ck_assert_str_eq(pt, ISECRET);
	crypto_free_secret(pt);
	adlen = integ_ad(ad, "prod", "client_secret", key_a.id);
	ck_assert_int_eq(crypto_open(&key_b, ad, adlen, ct, ctlen, &pt,
	    &ptlen), -1);
	adlen = integ_ad(ad, "cc", "client_secret", key_b.id);
	ck_assert_int_eq(crypto_open(&key_b, ad, adlen, ct, ctlen, &pt,
	    &ptlen), -1);
	store_close(a);
	store_close(b);
	store_close(ring);
	keyring_free(kr);
}
END_TEST

/* A re-fetch of the integration user's token between the read and the
 * write of a batch wins; the next pass re-seals the new token. */
START_TEST(test_refetched_itoken_not_overwritten)
{
	struct store_rekey_counts	 c;
	struct store_rekey		*batch = NULL;
	struct store_itoken		 t;
	struct keyring			*kr;
	struct store			*a, *ring, *b;
	int64_t				 cursor = 0;

	a = store_open(db, &key_a);
	put_integration(a, "cc", ITOKEN);
	ring = open_ring(&key_b, &key_a, &kr);
	ck_assert_int_eq(store_rekey_read(ring, STORE_REKEY_ITOKENS, &cursor,
	    10, &batch, &c), STORE_OK);
	ck_assert_uint_eq(store_rekey_count(batch), 1);
	memset(&t, 0, sizeof(t));
	t.sf_user_id = t.sf_org_id = t.sf_username = (char *)"x";
	t.instance_url = (char *)"https://acme.my.salesforce.com";
	t.access_token = (char *)"00Dxx!REFETCHED";
	ck_assert_int_eq(store_itoken_put(a, "cc", &t, 1), STORE_OK);
	ck_assert_int_eq(store_rekey_write(ring, batch, &c), STORE_OK);
	ck_assert_int_eq(c.resealed, 0);
	ck_assert_int_eq(c.changed, 1);
	store_rekey_free(batch);
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(rekey_pass(ring, 10, 0, &c), REKEY_OK);
	ck_assert_int_eq(c.resealed, 2);	/* the token and the secret */
	b = store_open(db, &key_b);
	assert_integration(b, "cc", "00Dxx!REFETCHED", STORE_OK);
	store_close(a);
	store_close(b);
	store_close(ring);
	keyring_free(kr);
}
END_TEST

/* The whole run counts integrations among the rows, and a consumer
 * secret under a key nobody holds is refused like a link. */
START_TEST(test_run_with_integrations)
{
	struct store	*a, *b, *c;
	char		 out[4096], err[1024];

	a = store_open(db, &key_a);
	put(a, 0, 1);
	put_integration(a, "cc", ITOKEN);
	store_close(a);
	write_keys(keypath, &key_a, NULL);
	write_keys(newpath, &key_b, NULL);
	ck_assert_int_eq(run(10, out, sizeof(out), err, sizeof(err)),
	    REKEY_OK);
	ck_assert_msg(strstr(out, "done: 3 rows re-sealed") != NULL, "%s",
	    out);
	b = store_open(db, &key_b);
	assert_integration(b, "cc", ITOKEN, STORE_OK);
	store_close(b);

	c = store_open(db, &key_c);
	put_integration(c, "stray", NULL);
	store_close(c);
	write_keys(newpath, &key_a, NULL);
	ck_assert_int_eq(run(10, out, sizeof(out), err, sizeof(err)),
	    REKEY_CONFIG);
	ck_assert_msg(strstr(err, key_c.id) != NULL, "%s", err);
	ck_assert_msg(strstr(err, "nothing was changed") != NULL, "%s", err);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("rekey");
	TCase	*tc = tcase_create("rekey");

	tu_db_init();
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_reseal_old_rows);
	tcase_add_test(tc, test_reseal_remembered_search);
	tcase_add_test(tc, test_reseal_pending_link);
	tcase_add_test(tc, test_reseal_installations);
	tcase_add_test(tc, test_new_rows_untouched);
	tcase_add_test(tc, test_changed_row_not_overwritten);
	tcase_add_test(tc, test_relinked_row_not_overwritten);
	tcase_add_test(tc, test_ad_names_new_key);
	tcase_add_test(tc, test_unknown_and_altered_left_alone);
	tcase_add_test(tc, test_census);
	tcase_add_test(tc, test_refresh_moves_row_to_current_key);
	tcase_add_test(tc, test_delete_under_previous_key);
	tcase_add_test(tc, test_unknown_id_reloads_key_file);
	tcase_add_test(tc, test_worker_follows_key_file);
	tcase_add_test(tc, test_write_keyfile);
	tcase_add_test(tc, test_run_complete);
	tcase_add_test(tc, test_run_resumes);
	tcase_add_test(tc, test_run_refuses_unknown_key);
	tcase_add_loop_test(tc, test_run_bad_new_key_file, 0,
	    sizeof(bad_new) / sizeof(bad_new[0]));
	tcase_add_test(tc, test_run_full_keyring);
	tcase_add_test(tc, test_run_env_keys);
	tcase_add_test(tc, test_run_other_rotation_running);
	tcase_add_test(tc, test_run_no_database);
	tcase_add_test(tc, test_reseal_integrations);
	tcase_add_test(tc, test_refetched_itoken_not_overwritten);
	tcase_add_test(tc, test_run_with_integrations);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

/*
 * test_install: common/install.c, the state of "Add to Slack" in its
 * signed cookie.
 *
 * A known-answer vector pins the cookie's form and MAC as install.h
 * documents them (tests/e2e/test_slack_install.py makes cookies the
 * same way).  Then a cookie made by install_state_new() round-trips; a
 * cookie changed in any one character, cut short, made longer, made
 * under a key the keyring does not hold, or naming a held key with
 * another key's MAC, is forged; another page's cookie is another
 * state's; the expiry under the MAC counts, to the second; a cookie
 * made before a key rotation checks out while its key is held, and one
 * made under a key just added to the key file is checked with it.  Last,
 * install_state_take() against a real store: a first use is recorded,
 * a second refused, and nothing is recorded for a cookie that does not
 * check out.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "config.h"
#include "crypto.h"
#include "install.h"
#include "keyring.h"
#include "session.h"
#include "store.h"
#include "testutil.h"

#define NOW	((time_t)1800000000)

/* The vector: the key is the bytes 1..32; the cookie was made by hand
 * (Python's hmac and hashlib) from install.h's description. */
#define KAT_KEY		"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
#define KAT_KEYID	"bfdefaff98fe379d"
#define KAT_STATE	"forcelink-install-state-test-vector-0123456"
#define KAT_COOKIE	KAT_STATE ".1800000600." KAT_KEYID "." \
	"e78532a6bfed83ec50934f971df316d3d7c4c41d46160da209e5b1840a58b367"

static struct crypto_key	 key_a, key_b;
static struct keyring		*ring_a, *ring_b, *ring_ba;

static void
setup(void)
{
	struct crypto_key	 ba[2];

	ck_assert_int_eq(crypto_init(), 0);
	tu_key_random(&key_a);
	tu_key_random(&key_b);
	ring_a = keyring_from_keys(&key_a, 1);
	ring_b = keyring_from_keys(&key_b, 1);
	/* After a rotation from a to b: b is current, a still held. */
	ba[0] = key_b;
	ba[1] = key_a;
	ring_ba = keyring_from_keys(ba, 2);
	ck_assert_ptr_nonnull(ring_a);
	ck_assert_ptr_nonnull(ring_b);
	ck_assert_ptr_nonnull(ring_ba);
	crypto_wipe(ba, sizeof(ba));
}

static void
teardown(void)
{
	keyring_free(ring_a);
	keyring_free(ring_b);
	keyring_free(ring_ba);
}

START_TEST(test_known_answer)
{
	struct crypto_key	 k;
	struct keyring		*kr;
	time_t			 exp = 0;

	ck_assert_int_eq(crypto_key_from_base64(&k, KAT_KEY), 0);
	ck_assert_str_eq(k.id, KAT_KEYID);
	kr = keyring_from_keys(&k, 1);
	ck_assert_ptr_nonnull(kr);
	ck_assert_int_eq(install_state_check(kr, KAT_COOKIE, KAT_STATE, NOW,
	    &exp), INSTALL_STATE_OK);
	ck_assert_int_eq(exp, NOW + INSTALL_STATE_TTL);
	ck_assert_int_eq(install_state_check(kr, KAT_COOKIE, KAT_STATE,
	    NOW + INSTALL_STATE_TTL, NULL), INSTALL_STATE_EXPIRED);
	keyring_free(kr);
	crypto_key_wipe(&k);
}
END_TEST

START_TEST(test_new_and_check)
{
	char	 state[CRYPTO_TOKEN_MAX], cookie[INSTALL_COOKIE_MAX];
	char	 state2[CRYPTO_TOKEN_MAX], cookie2[INSTALL_COOKIE_MAX];
	char	 want[INSTALL_COOKIE_MAX];
	time_t	 exp = 0;

	install_state_new(ring_a, NOW, state, cookie);
	ck_assert_uint_eq(strlen(state), 43);
	/* STATE.EXPIRES.KEYID.MAC, the MAC in lower-case hex. */
	snprintf(want, sizeof(want), "%s.%lld.%s.", state,
	    (long long)NOW + INSTALL_STATE_TTL, key_a.id);
	ck_assert_int_eq(strncmp(cookie, want, strlen(want)), 0);
	ck_assert_uint_eq(strlen(cookie), strlen(want) + 64);
	ck_assert_uint_eq(strspn(cookie + strlen(want), "0123456789abcdef"),
	    64);
	ck_assert_int_eq(install_state_check(ring_a, cookie, state, NOW, &exp),
	    INSTALL_STATE_OK);
	ck_assert_int_eq(exp, NOW + INSTALL_STATE_TTL);
	ck_assert_int_eq(install_state_check(ring_a, cookie, state,
	    NOW + INSTALL_STATE_TTL - 1, NULL), INSTALL_STATE_OK);
	/* Every page has its own state and cookie. */
	install_state_new(ring_a, NOW, state2, cookie2);
	ck_assert_str_ne(state, state2);
	ck_assert_int_eq(install_state_check(ring_a, cookie2, state, NOW,
	    NULL), INSTALL_STATE_OTHER);
	ck_assert_int_eq(install_state_check(ring_a, cookie, state2, NOW,
	    NULL), INSTALL_STATE_OTHER);
	/* Failure cases: nothing to check. */
	ck_assert_int_eq(install_state_check(ring_a, NULL, state, NOW, NULL),
	    INSTALL_STATE_MISSING);
	ck_assert_int_eq(install_state_check(ring_a, cookie, NULL, NOW, NULL),
	    INSTALL_STATE_MISSING);
	ck_assert_int_eq(install_state_check(ring_a, cookie, "", NOW, NULL),
	    INSTALL_STATE_MISSING);
}
END_TEST

START_TEST(test_expiry_counts_to_the_second)
{
	char	 state[CRYPTO_TOKEN_MAX], cookie[INSTALL_COOKIE_MAX];

	install_state_new(ring_a, NOW, state, cookie);
	ck_assert_int_eq(install_state_check(ring_a, cookie, state,
	    NOW + INSTALL_STATE_TTL - 1, NULL), INSTALL_STATE_OK);
	ck_assert_int_eq(install_state_check(ring_a, cookie, state,
	    NOW + INSTALL_STATE_TTL, NULL), INSTALL_STATE_EXPIRED);
	ck_assert_int_eq(install_state_check(ring_a, cookie, state,
	    NOW + 86400, NULL), INSTALL_STATE_EXPIRED);
}
END_TEST

/* The same kind of character as c, but another one. */
static char
other_char(char c)
{
	if (c >= '0' && c <= '8')
		return (char)(c + 1);
	if (c == '9')
		return '0';
	if (c >= 'a' && c <= 'e')
		return (char)(c + 1);
	if (c == 'f')
		return 'a';
	if (c == '.')
		return '_';
	return c == 'A' ? 'B' : 'A';
}

START_TEST(test_every_change_is_forged)
{
	char	 state[CRYPTO_TOKEN_MAX], cookie[INSTALL_COOKIE_MAX];
	char	 c[INSTALL_COOKIE_MAX + 8];
	size_t	 i, n;

	install_state_new(ring_a, NOW, state, cookie);
	n = strlen(cookie);
	/* One character changed, anywhere (a changed state is checked
	 * against the changed state, so only the MAC can tell). */
	for (i = 0; i < n; i++) {
		char	 s2[CRYPTO_TOKEN_MAX];

		memcpy(c, cookie, n + 1);
		c[i] = other_char(c[i]);
		memcpy(s2, c, 43);
		s2[43] = '\0';
		ck_assert_msg(install_state_check(ring_a, c, s2, NOW, NULL) ==
		    INSTALL_STATE_FORGED, "changed at %zu: %s", i, c);
	}
	/* Cut short, at any length. */
	for (i = 0; i < n; i++) {
		memcpy(c, cookie, i);
		c[i] = '\0';
		ck_assert_msg(install_state_check(ring_a, c, state, NOW,
		    NULL) == INSTALL_STATE_FORGED, "cut at %zu", i);
	}
	/* Made longer. */
	snprintf(c, sizeof(c), "%s0", cookie);
	ck_assert_int_eq(install_state_check(ring_a, c, state, NOW, NULL),
	    INSTALL_STATE_FORGED);
	snprintf(c, sizeof(c), "%s.%s", cookie, cookie + n - 64);
	ck_assert_int_eq(install_state_check(ring_a, c, state, NOW, NULL),
	    INSTALL_STATE_FORGED);
	/* The MAC in upper case. */
	memcpy(c, cookie, n + 1);
	for (i = n - 64; i < n; i++)
		if (c[i] >= 'a' && c[i] <= 'f')
			c[i] = (char)(c[i] - 'a' + 'A');
	ck_assert_str_ne(c, cookie);
	ck_assert_int_eq(install_state_check(ring_a, c, state, NOW, NULL),
	    INSTALL_STATE_FORGED);
	/* The expiry with a leading zero (same number, other text). */
	snprintf(c, sizeof(c), "%.44s0%s", cookie, cookie + 44);
	ck_assert_int_eq(install_state_check(ring_a, c, state, NOW, NULL),
	    INSTALL_STATE_FORGED);
	ck_assert_int_eq(install_state_check(ring_a, "", state, NOW, NULL),
	    INSTALL_STATE_FORGED);
	/* The genuine cookie still checks out. */
	ck_assert_int_eq(install_state_check(ring_a, cookie, state, NOW, NULL),
	    INSTALL_STATE_OK);
}
END_TEST

START_TEST(test_keys)
{
	char	 state[CRYPTO_TOKEN_MAX], cookie[INSTALL_COOKIE_MAX];
	char	 c[INSTALL_COOKIE_MAX];
	char	 sb[CRYPTO_TOKEN_MAX], cb[INSTALL_COOKIE_MAX];

	/* Made under a, before the rotation to b: good while a is held,
	 * forged once it is gone. */
	install_state_new(ring_a, NOW, state, cookie);
	ck_assert_int_eq(install_state_check(ring_ba, cookie, state, NOW,
	    NULL), INSTALL_STATE_OK);
	ck_assert_int_eq(install_state_check(ring_b, cookie, state, NOW,
	    NULL), INSTALL_STATE_FORGED);
	/* New cookies are made under the current key. */
	install_state_new(ring_ba, NOW, sb, cb);
	ck_assert_ptr_nonnull(strstr(cb, key_b.id));
	ck_assert_int_eq(install_state_check(ring_b, cb, sb, NOW, NULL),
	    INSTALL_STATE_OK);
	ck_assert_int_eq(install_state_check(ring_a, cb, sb, NOW, NULL),
	    INSTALL_STATE_FORGED);
	/* b's MAC under a's key id: the id says which key, the MAC must
	 * be that key's. */
	install_state_new(ring_b, NOW, sb, cb);
	snprintf(c, sizeof(c), "%.55s%s%s", cb, key_a.id, cb + 55 + 16);
	ck_assert_int_eq(install_state_check(ring_ba, c, sb, NOW, NULL),
	    INSTALL_STATE_FORGED);
	snprintf(c, sizeof(c), "%.55s%s%s", cb, key_b.id, cb + 55 + 16);
	ck_assert_int_eq(install_state_check(ring_ba, c, sb, NOW, NULL),
	    INSTALL_STATE_OK);
}
END_TEST

/* Writes the keys, as a key file, to path (renamed into place, as an
 * operator's rotation does). */
static void
write_keys(const char *path, const struct crypto_key *keys, size_t n)
{
	char	 tmp[PATH_MAX + 8];
	char	*text;
	FILE	*f;

	text = keyring_format(keys, n);
	ck_assert_ptr_nonnull(text);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	ck_assert_ptr_nonnull(f = fopen(tmp, "w"));
	ck_assert_int_eq(chmod(tmp, 0600), 0);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(rename(tmp, path), 0);
	crypto_free_secret(text);
}

START_TEST(test_key_file_rotated_meanwhile)
{
	struct crypto_key	 ba[2];
	struct keyring		*kr;
	char			 dir[PATH_MAX], path[PATH_MAX + 8], err[256];
	char			 state[CRYPTO_TOKEN_MAX];
	char			 cookie[INSTALL_COOKIE_MAX];
	const char		*tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/test_install.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/key", dir);
	write_keys(path, &key_a, 1);
	kr = keyring_from_file(path, err, sizeof(err));
	ck_assert_msg(kr != NULL, "%s", err);
	/* Another worker already holds the rotated file and makes the
	 * cookie under the new key b. */
	install_state_new(ring_ba, NOW, state, cookie);
	ck_assert_int_eq(install_state_check(kr, cookie, state, NOW, NULL),
	    INSTALL_STATE_FORGED);
	ba[0] = key_b;
	ba[1] = key_a;
	write_keys(path, ba, 2);
	/* Within the same second: the unknown key id makes this keyring
	 * look at its file at once. */
	ck_assert_int_eq(install_state_check(kr, cookie, state, NOW, NULL),
	    INSTALL_STATE_OK);
	keyring_free(kr);
	crypto_wipe(ba, sizeof(ba));
	unlink(path);
	rmdir(dir);
}
END_TEST

START_TEST(test_take)
{
	struct config	 cfg;
	struct session	 s;
	char		 dir[PATH_MAX], db[PATH_MAX + 16], p[PATH_MAX + 32];
	char		 state[CRYPTO_TOKEN_MAX], other[CRYPTO_TOKEN_MAX];
	char		 cookie[INSTALL_COOKIE_MAX];
	char		 ocookie[INSTALL_COOKIE_MAX];
	const char	*tmp = getenv("TMPDIR");
	long		 dropped = -1;

	snprintf(dir, sizeof(dir), "%s/test_install.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/forcelink.db", dir);
	memset(&cfg, 0, sizeof(cfg));
	memset(&s, 0, sizeof(s));
	cfg.keyring = ring_a;
	s.cfg = &cfg;
	s.st = store_open(db, &key_a);
	ck_assert_ptr_nonnull(s.st);

	install_state_new(ring_a, NOW, state, cookie);
	install_state_new(ring_a, NOW, other, ocookie);
	/* Refusals record nothing: the state stays usable. */
	ck_assert_int_eq(install_state_take(&s, NULL, state, NOW + 1,
	    &dropped), INSTALL_STATE_MISSING);
	ck_assert_int_eq(install_state_take(&s, ocookie, state, NOW + 1,
	    &dropped), INSTALL_STATE_OTHER);
	ck_assert_int_eq(install_state_take(&s, "x", state, NOW + 1,
	    &dropped), INSTALL_STATE_FORGED);
	ck_assert_int_eq(install_state_take(&s, cookie, state,
	    NOW + INSTALL_STATE_TTL, &dropped), INSTALL_STATE_EXPIRED);
	ck_assert_int_eq(install_state_take(&s, cookie, state, NOW + 1,
	    &dropped), INSTALL_STATE_OK);
	ck_assert_int_eq(dropped, 0);
	/* The second use, with the same cookie: refused. */
	ck_assert_int_eq(install_state_take(&s, cookie, state, NOW + 2,
	    &dropped), INSTALL_STATE_USED);
	ck_assert_int_eq(install_state_take(&s, ocookie, other, NOW + 2,
	    &dropped), INSTALL_STATE_OK);

	store_close(s.st);
	unlink(db);
	snprintf(p, sizeof(p), "%s-wal", db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", db);
	unlink(p);
	snprintf(p, sizeof(p), "%s/stderr.log", dir);
	unlink(p);
	rmdir(dir);
}
END_TEST

/*
 * The bot token of the Web API calls (install_web_token): an installed
 * workspace's own, never SLACK_BOT_TOKEN; SLACK_BOT_TOKEN only while no
 * installation exists; none for a workspace not installed, and "install
 * again" for an installation Slack refused.  The decisions come from
 * install_authorize on a real store, as a request's would.
 */
START_TEST(test_web_token)
{
	static const struct slack_user	 in_ws = { "", "T0000001", "U1" };
	static const struct slack_user	 out_ws = { "", "T0000009", "U1" };
	struct config			 cfg;
	struct session			 s;
	struct store_install		 in, got;
	struct store_install_ref	 ref;
	char				 dir[PATH_MAX], db[PATH_MAX + 16];
	char				 p[PATH_MAX + 32];
	char				 bot[TU_TOKEN_MAX], single[TU_TOKEN_MAX];
	char				*tok = (char *)"x";
	const char			*tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/test_install.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/forcelink.db", dir);
	memset(&cfg, 0, sizeof(cfg));
	memset(&s, 0, sizeof(s));
	cfg.keyring = ring_a;
	s.cfg = &cfg;
	s.st = store_open(db, &key_a);
	ck_assert_ptr_nonnull(s.st);
	tu_token(bot, "xoxb-");
	tu_token(single, "xoxb-");

	/* No installation: SLACK_BOT_TOKEN, when set. */
	ck_assert_int_eq(install_authorize(&s, &in_ws, &ref),
	    INSTALL_AUTH_OPEN);
	ck_assert_int_eq(install_web_token(&s, INSTALL_AUTH_OPEN, &ref,
	    &tok), INSTALL_NOTFOUND);
	ck_assert_ptr_null(tok);
	cfg.slack_bot_token = single;
	ck_assert_int_eq(install_web_token(&s, INSTALL_AUTH_OPEN, &ref,
	    &tok), INSTALL_OK);
	ck_assert_str_eq(tok, single);
	ck_assert_ptr_ne(tok, single);
	crypto_free_secret(tok);
	ck_assert_int_eq(install_web_token(&s, INSTALL_AUTH_ERROR, &ref,
	    &tok), INSTALL_ERROR);
	ck_assert_ptr_null(tok);

	/* Installed: the installation's token, never SLACK_BOT_TOKEN; a
	 * workspace not installed gets none. */
	memset(&in, 0, sizeof(in));
	strcpy(in.team_id, "T0000001");
	in.app_id = (char *)"A0000001";
	in.team_name = (char *)"Team";
	in.enterprise_name = (char *)"";
	in.bot_user_id = (char *)"U0BOT1";
	in.bot_id = (char *)"B0000001";
	in.scopes = (char *)"commands";
	in.installer_user_id = (char *)"U1";
	in.bot_token = bot;
	ck_assert_int_eq(store_install_put(s.st, &in), STORE_OK);
	ck_assert_int_eq(install_authorize(&s, &in_ws, &ref),
	    INSTALL_AUTH_OK);
	ck_assert_int_eq(install_web_token(&s, INSTALL_AUTH_OK, &ref, &tok),
	    INSTALL_OK);
	ck_assert_str_eq(tok, bot);
	crypto_free_secret(tok);
	ck_assert_int_eq(install_authorize(&s, &out_ws, &ref),
	    INSTALL_AUTH_DENIED);
	ck_assert_int_eq(install_web_token(&s, INSTALL_AUTH_DENIED, &ref,
	    &tok), INSTALL_NOTFOUND);
	ck_assert_ptr_null(tok);
	/* A ref whose installation is gone meanwhile. */
	memset(&ref, 0, sizeof(ref));
	strcpy(ref.team_id, "T0000002");
	ck_assert_int_eq(install_web_token(&s, INSTALL_AUTH_OK, &ref, &tok),
	    INSTALL_NOTFOUND);
	ck_assert_ptr_null(tok);

	/* Slack refused its refresh token: install again. */
	ck_assert_int_eq(store_install_get(s.st, "", "T0000001", &got),
	    STORE_OK);
	ck_assert_int_eq(store_install_mark_reinstall(s.st, "", "T0000001",
	    got.version), STORE_OK);
	store_install_free(&got);
	ck_assert_int_eq(install_authorize(&s, &in_ws, &ref),
	    INSTALL_AUTH_OK);
	ck_assert_int_eq(install_web_token(&s, INSTALL_AUTH_OK, &ref, &tok),
	    INSTALL_REVOKED);
	ck_assert_ptr_null(tok);

	store_close(s.st);
	unlink(db);
	snprintf(p, sizeof(p), "%s-wal", db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", db);
	unlink(p);
	rmdir(dir);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("install");
	TCase	*tc = tcase_create("state");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_known_answer);
	tcase_add_test(tc, test_new_and_check);
	tcase_add_test(tc, test_expiry_counts_to_the_second);
	tcase_add_test(tc, test_every_change_is_forged);
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_key_file_rotated_meanwhile);
	tcase_add_test(tc, test_take);
	tcase_add_test(tc, test_web_token);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

/*
 * testutil.h: small helpers several unit test programs share.
 *
 * Header-only (static inline), so a test program takes what it uses and
 * nothing has to be added to its SOURCES.  Each helper fails the calling
 * test through Check's assertions rather than returning an error.
 */
#ifndef FORCELINK_TESTUTIL_H
#define FORCELINK_TESTUTIL_H

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "config.h"
#include "crypto.h"
#include "keyring.h"

/* Returns the monotonic clock in milliseconds, for timing a call. */
static inline long
tu_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/*
 * Whether wall-clock bounds are checked: not under valgrind, which runs
 * the program many times slower and one thread at a time, so that a
 * bound fails by the machine's load rather than by the code.  The plain
 * and sanitizer runs check the bounds; the valgrind run checks memory.
 * valgrind announces itself in its client's LD_PRELOAD.
 */
static inline int
tu_timed(void)
{
	const char	*p = getenv("LD_PRELOAD");

	return p == NULL || strstr(p, "vgpreload") == NULL;
}

/* ck_assert_int_lt(ms, bound) and _le, where wall-clock bounds are
 * checked (tu_timed). */
#define TU_ASSERT_MS_LT(ms, bound) do {					\
	if (tu_timed())							\
		ck_assert_int_lt((ms), (bound));			\
} while (0)
#define TU_ASSERT_MS_LE(ms, bound) do {					\
	if (tu_timed())							\
		ck_assert_int_le((ms), (bound));			\
} while (0)

/* Fills *k with a fresh random key, made the way an operator's key is
 * read: from base64 text.  crypto_init() must have run. */
static inline void
tu_key_random(struct crypto_key *k)
{
	unsigned char	 raw[CRYPTO_KEYLEN];
	char		*b64;

	crypto_random(raw, sizeof(raw));
	b64 = crypto_base64(raw, sizeof(raw));
	ck_assert_ptr_nonnull(b64);
	ck_assert_int_eq(crypto_key_from_base64(k, b64), 0);
	free(b64);
}

/*
 * Fills *cfg for a test of the session layer: public URL
 * https://fl.example.com, response URLs under https://hooks.slack.com/,
 * the default integration at a closed local port (every Salesforce call
 * fails fast, unless a test points it at its own server), and a keyring
 * of *key, a fixed key (release cfg->keyring with keyring_free).  No
 * database: the caller sets db_path.  crypto_init() must have run.
 */
static inline void
tu_session_config(struct config *cfg, struct crypto_key *key)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->public_url = "https://fl.example.com";
	cfg->redirect_uri = "https://fl.example.com/oauth/callback";
	cfg->response_url_prefix = "https://hooks.slack.com/";
	cfg->sf.name = "";
	cfg->sf.login_url = "https://127.0.0.1:9";
	cfg->sf.login_host = "127.0.0.1";
	cfg->sf.client_id = "id";
	cfg->sf.client_secret = "secret";
	cfg->sf.api_version = "v62.0";
	ck_assert_int_eq(crypto_key_from_base64(key,
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="), 0);
	cfg->keyring = keyring_from_keys(key, 1);
	ck_assert_ptr_nonnull(cfg->keyring);
}

/* Longest token tu_token() makes, with its terminator. */
#define TU_TOKEN_MAX	96

/*
 * Writes into out (TU_TOKEN_MAX bytes) prefix followed by 24 random
 * letters and digits: a token in the shape the stand-ins issue ("xoxb-",
 * "xoxe-1-", ...), made fresh at each run, so that no test file holds
 * anything that looks like a real credential.  crypto_init() must have
 * run.
 */
static inline char *
tu_token(char out[TU_TOKEN_MAX], const char *prefix)
{
	static const char	 alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char		 r[24];
	size_t			 n = strlen(prefix), i;

	ck_assert_uint_lt(n + sizeof(r), TU_TOKEN_MAX);
	memcpy(out, prefix, n);
	crypto_random(r, sizeof(r));
	for (i = 0; i < sizeof(r); i++)
		out[n + i] = alnum[r[i] % (sizeof(alnum) - 1)];
	out[n + sizeof(r)] = '\0';
	return out;
}

/*
 * JSON written with single quotes, for readable tables: returns sq with
 * every ' made ", in one of eight rotating buffers of 16 KiB (so a few
 * results can be used at once).
 */
static inline char *
tu_dq(const char *sq)
{
	static char	 ring[8][16384];
	static int	 next;
	char		*out = ring[next++ % 8];
	size_t		 i;

	ck_assert_uint_lt(strlen(sq), sizeof(ring[0]));
	for (i = 0; sq[i] != '\0'; i++)
		out[i] = sq[i] == '\'' ? '"' : sq[i];
	out[i] = '\0';
	return out;
}

#endif

/*
 * test_crypto: common/crypto.c against published vectors (RFC 4231 for
 * HMAC-SHA256, RFC 7636 for PKCE, FIPS 180-2 for SHA-256, Slack's
 * signing example) and against the failures that matter: altered,
 * truncated or misaddressed ciphertext, a wrong key, and malformed key
 * text.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <sodium.h>

#include "crypto.h"
#include "testutil.h"

/* The 32 bytes 0x00..0x1f, in base64, and the id derived from them
 * (BLAKE2b-64 keyed with them over "forcelink key id v1", computed
 * independently with Python's hashlib). */
#define KEY_B64		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY_B64_NOPAD	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
#define KEY_ID		"0a324dac2ce0e664"

static void
setup(void)
{
	ck_assert_int_eq(crypto_init(), 0);
}

static void
key_fixed(struct crypto_key *k)
{
	ck_assert_int_eq(crypto_key_from_base64(k, KEY_B64), 0);
}

/* --- Keys ------------------------------------------------------------- */

static const struct {
	const char	*name;
	const char	*text;
	int		 rc;
} key_cases[] = {
	{ "padded", KEY_B64, 0 },
	{ "unpadded", KEY_B64_NOPAD, 0 },
	{ "trailing newline", KEY_B64 "\n", 0 },
	{ "surrounding white space", " \t" KEY_B64 " \r\n", 0 },
	{ "fail: 31 bytes", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==",
	    -1 },
	{ "fail: 33 bytes", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g",
	    -1 },
	{ "fail: garbage", "this is not base64 at all!", -1 },
	{ "fail: empty", "", -1 },
	{ "fail: only white space", " \n\t ", -1 },
	{ "fail: inner white space",
	    "AAECAwQFBgcICQoLDA0O DxAREhMUFRYXGBkaGxwdHh8=", -1 },
	{ "fail: base64url alphabet",
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh-_", -1 },
	{ "fail: three pads", KEY_B64 "==", -1 },
	{ "fail: pad on unpadded length", KEY_B64_NOPAD "==", -1 },
	{ "fail: non-canonical last char",
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=", -1 },
	{ "fail: hex of a key",
	    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
	    -1 },
};

START_TEST(test_key_from_base64)
{
	struct crypto_key	 k;
	size_t			 i;

	memset(&k, 0, sizeof(k));
	ck_assert_int_eq(crypto_key_from_base64(&k, key_cases[_i].text),
	    key_cases[_i].rc);
	if (key_cases[_i].rc == 0) {
		for (i = 0; i < CRYPTO_KEYLEN; i++)
			ck_assert_uint_eq(k.key[i], i);
		ck_assert_str_eq(k.id, KEY_ID);
	}
}
END_TEST

START_TEST(test_key_fail_null)
{
	struct crypto_key	 k;

	ck_assert_int_eq(crypto_key_from_base64(&k, NULL), -1);
}
END_TEST

START_TEST(test_key_id_differs)
{
	struct crypto_key	 a, b;

	key_fixed(&a);
	tu_key_random(&b);
	ck_assert_uint_eq(strlen(b.id), CRYPTO_KEYID_LEN);
	ck_assert_uint_eq(strspn(b.id, "0123456789abcdef"), CRYPTO_KEYID_LEN);
	ck_assert_str_ne(a.id, b.id);
}
END_TEST

START_TEST(test_key_wipe)
{
	struct crypto_key	 k, zero;

	key_fixed(&k);
	memset(&zero, 0, sizeof(zero));
	crypto_key_wipe(&k);
	ck_assert_int_eq(memcmp(&k, &zero, sizeof(k)), 0);
}
END_TEST

/* --- Sealing ---------------------------------------------------------- */

#define PT	"00Dxx0000001gPL!AQ4AQFakeAccessToken"
#define AD	"forcelink-v1 T1 U1 access"

/* Seals PT with associated data AD under the fixed key, which goes to
 * *k.  Returns the ciphertext (the caller frees it), its length in
 * *len. */
static unsigned char *
seal_fixed(struct crypto_key *k, size_t *len)
{
	unsigned char	*ct = NULL;

	key_fixed(k);
	ck_assert_int_eq(crypto_seal(k, AD, strlen(AD), PT, strlen(PT), &ct,
	    len), 0);
	return ct;
}

/* Asserts that ct (len bytes) does not open under k with associated data
 * ad, and that no plaintext is handed out. */
static void
assert_open_fails(const struct crypto_key *k, const char *ad,
    const unsigned char *ct, size_t len)
{
	char	*pt = NULL;
	size_t	 ptlen;

	ck_assert_int_eq(crypto_open(k, ad, strlen(ad), ct, len, &pt,
	    &ptlen), -1);
	ck_assert_ptr_null(pt);
}

START_TEST(test_seal_roundtrip)
{
	struct crypto_key	 k;
	unsigned char		*ct;
	size_t			 ctlen, ptlen;
	char			*pt = NULL;

	ct = seal_fixed(&k, &ctlen);
	ck_assert_uint_eq(ctlen, strlen(PT) + CRYPTO_SEAL_OVERHEAD);
	ck_assert_ptr_null(memmem(ct, ctlen, PT, strlen(PT)));
	ck_assert_int_eq(crypto_open(&k, AD, strlen(AD), ct, ctlen, &pt,
	    &ptlen), 0);
	ck_assert_str_eq(pt, PT);
	ck_assert_uint_eq(ptlen, strlen(PT));
	crypto_free_secret(pt);
	free(ct);
}
END_TEST

START_TEST(test_seal_empty)
{
	struct crypto_key	 k;
	unsigned char		*ct = NULL;
	size_t			 ctlen, ptlen;
	char			*pt = NULL;

	key_fixed(&k);
	ck_assert_int_eq(crypto_seal(&k, NULL, 0, "", 0, &ct, &ctlen), 0);
	ck_assert_uint_eq(ctlen, CRYPTO_SEAL_OVERHEAD);
	ck_assert_int_eq(crypto_open(&k, NULL, 0, ct, ctlen, &pt, &ptlen), 0);
	ck_assert_str_eq(pt, "");
	ck_assert_uint_eq(ptlen, 0);
	crypto_free_secret(pt);
	free(ct);
}
END_TEST

START_TEST(test_seal_fresh_nonce)
{
	struct crypto_key	 k;
	unsigned char		*a, *b;
	size_t			 alen, blen;

	a = seal_fixed(&k, &alen);
	b = seal_fixed(&k, &blen);
	ck_assert_uint_eq(alen, blen);
	/* Neither the nonce nor the ciphertext repeats. */
	ck_assert_int_ne(memcmp(a, b, 24), 0);
	ck_assert_int_ne(memcmp(a + 24, b + 24, alen - 24), 0);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_open_fail_wrong_ad)
{
	static const char *const bad[] = {
		"forcelink-v1 T1 U1 refresh",
		"forcelink-v1 T1 U2 access",
		"forcelink-v1 T1 U1 access ",
		"",
	};
	struct crypto_key	 k;
	unsigned char		*ct;
	size_t			 ctlen, i;

	ct = seal_fixed(&k, &ctlen);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_open_fails(&k, bad[i], ct, ctlen);
	free(ct);
}
END_TEST

START_TEST(test_open_fail_wrong_key)
{
	struct crypto_key	 k, other;
	unsigned char		*ct;
	size_t			 ctlen;

	ct = seal_fixed(&k, &ctlen);
	tu_key_random(&other);
	assert_open_fails(&other, AD, ct, ctlen);
	free(ct);
}
END_TEST

START_TEST(test_open_fail_tampered)
{
	struct crypto_key	 k;
	unsigned char		*ct;
	size_t			 ctlen, ptlen, i;
	char			*pt = NULL;

	ct = seal_fixed(&k, &ctlen);
	/* Every byte matters: nonce, ciphertext and tag alike. */
	for (i = 0; i < ctlen; i++) {
		ct[i] ^= 0x01;
		assert_open_fails(&k, AD, ct, ctlen);
		ct[i] ^= 0x01;
	}
	ck_assert_int_eq(crypto_open(&k, AD, strlen(AD), ct, ctlen, &pt,
	    &ptlen), 0);
	crypto_free_secret(pt);
	free(ct);
}
END_TEST

START_TEST(test_open_fail_truncated)
{
	struct crypto_key	 k;
	unsigned char		*ct;
	size_t			 ctlen, n;

	ct = seal_fixed(&k, &ctlen);
	for (n = 0; n < ctlen; n++)
		assert_open_fails(&k, AD, ct, n);
	assert_open_fails(&k, AD, NULL, 0);
	free(ct);
}
END_TEST

/* --- Hashes, MACs, PKCE ----------------------------------------------- */

START_TEST(test_sha256_vector)
{
	unsigned char	 h[CRYPTO_HASHLEN];
	char		 hex[2 * CRYPTO_HASHLEN + 1];

	crypto_sha256("abc", h);
	crypto_hex(h, sizeof(h), hex);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	crypto_sha256("", h);
	crypto_hex(h, sizeof(h), hex);
	ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
}
END_TEST

/* RFC 4231 test cases 1, 2 and 6 (key longer than the block size). */
static const struct {
	const char	*name;
	unsigned char	 keybyte;	/* 0: use keytext */
	size_t		 keylen;
	const char	*keytext;
	const char	*msg;
	const char	*mac;
} hmac_cases[] = {
	{ "rfc4231 case 1", 0x0b, 20, NULL, "Hi There",
	    "b0344c61d8db38535ca8afceaf0bf12b"
	    "881dc200c9833da726e9376c2e32cff7" },
	{ "rfc4231 case 2", 0, 4, "Jefe", "what do ya want for nothing?",
	    "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843" },
	{ "rfc4231 case 6", 0xaa, 131, NULL,
	    "Test Using Larger Than Block-Size Key - Hash Key First",
	    "60e431591ee0b67f0d8a26aacbf5b77f"
	    "8e0bc6213728c5140546040f0ee37f54" },
};

START_TEST(test_hmac_rfc4231)
{
	unsigned char	 key[200], mac[32];
	char		 hex[65];
	const void	*k;

	if (hmac_cases[_i].keytext != NULL)
		k = hmac_cases[_i].keytext;
	else {
		memset(key, hmac_cases[_i].keybyte, hmac_cases[_i].keylen);
		k = key;
	}
	crypto_hmac_sha256(k, hmac_cases[_i].keylen, hmac_cases[_i].msg,
	    strlen(hmac_cases[_i].msg), mac);
	crypto_hex(mac, sizeof(mac), hex);
	ck_assert_str_eq(hex, hmac_cases[_i].mac);
}
END_TEST

START_TEST(test_hmac_slack_vector)
{
	static const char secret[] = "8f742231b10e8888abcd99yyyzzz85a5";
	static const char base[] = "v0:1531420618:"
	    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&"
	    "team_domain=testteamnow&channel_id=G8PSS9T3V&"
	    "channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
	    "command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2F"
	    "hooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F"
	    "96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015."
	    "47445629121.803a0bc887a14d10d2c447fce8b6703c";
	unsigned char	 mac[32];
	char		 hex[65];

	crypto_hmac_sha256(secret, strlen(secret), base, strlen(base), mac);
	crypto_hex(mac, sizeof(mac), hex);
	ck_assert_str_eq(hex, "a2114d57b48eac39b9ad189dd8316235"
	    "a7b4a8d21a10bd27519666489c69b503");
}
END_TEST

/* The same vector from parts, split anywhere, empty parts included. */
START_TEST(test_hmac_parts_slack_vector)
{
	static const char secret[] = "8f742231b10e8888abcd99yyyzzz85a5";
	static const char body[] =
	    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&"
	    "team_domain=testteamnow&channel_id=G8PSS9T3V&"
	    "channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
	    "command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2F"
	    "hooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F"
	    "96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015."
	    "47445629121.803a0bc887a14d10d2c447fce8b6703c";
	const struct crypto_part parts[] = {
		{ "v0:", 3 }, { "1531420618", 10 }, { NULL, 0 }, { ":", 1 },
		{ body, 7 }, { body + 7, sizeof(body) - 8 }
	};
	unsigned char	 mac[32];
	char		 hex[65];

	crypto_hmac_sha256_parts(secret, strlen(secret), parts,
	    sizeof(parts) / sizeof(parts[0]), mac);
	crypto_hex(mac, sizeof(mac), hex);
	ck_assert_str_eq(hex, "a2114d57b48eac39b9ad189dd8316235"
	    "a7b4a8d21a10bd27519666489c69b503");
}
END_TEST

/* Random keys (0 to 150 bytes, past the 64-byte block) and messages in
 * 0 to 12 parts (past the one-pass limit of 8): OpenSSL's digests are
 * libsodium's. */
START_TEST(test_engines_agree)
{
	unsigned char	 key[150], msg[12][300], a[32], b[32];
	struct crypto_part parts[12];
	char		 text[301];
	size_t		 i, n, keylen;
	int		 round;

	/* OpenSSL is there (libcurl's TLS needs it): its path is tested. */
	ck_assert_int_eq(crypto_sha256_engine(1), 1);
	for (round = 0; round < 300; round++) {
		keylen = randombytes_uniform(sizeof(key) + 1);
		randombytes_buf(key, keylen);
		n = randombytes_uniform(13);
		for (i = 0; i < n; i++) {
			parts[i].len = randombytes_uniform(301);
			randombytes_buf(msg[i], parts[i].len);
			parts[i].p = msg[i];
		}
		(void)crypto_sha256_engine(1);
		crypto_hmac_sha256_parts(key, keylen, parts, n, a);
		(void)crypto_sha256_engine(0);
		crypto_hmac_sha256_parts(key, keylen, parts, n, b);
		ck_assert_mem_eq(a, b, sizeof(a));
		for (i = 0; i < sizeof(text) - 1; i++)
			text[i] = (char)(1 + randombytes_uniform(255));
		text[randombytes_uniform(sizeof(text))] = '\0';
		(void)crypto_sha256_engine(1);
		crypto_sha256(text, a);
		(void)crypto_sha256_engine(0);
		crypto_sha256(text, b);
		ck_assert_mem_eq(a, b, sizeof(a));
	}
	(void)crypto_sha256_engine(1);
}
END_TEST

static void
setup_sodium(void)
{
	setup();
	(void)crypto_sha256_engine(0);
}

static void
teardown_sodium(void)
{
	(void)crypto_sha256_engine(1);
}

START_TEST(test_pkce_rfc7636)
{
	char	 c[44];

	memset(c, 'x', sizeof(c));
	crypto_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", c);
	ck_assert_str_eq(c, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}
END_TEST

/* --- Random tokens ---------------------------------------------------- */

static const struct {
	size_t	 nbytes;
	size_t	 chars;
} token_cases[] = {
	{ 16, 22 },
	{ 24, 32 },
	{ 32, 43 },
	{ 0, 22 },	/* clamped up to 16 bytes, never weaker */
	{ 1000, 43 },	/* clamped down to 32 bytes, never overflows */
};

START_TEST(test_random_token)
{
	char	 a[CRYPTO_TOKEN_MAX], b[CRYPTO_TOKEN_MAX];

	crypto_random_token(a, token_cases[_i].nbytes);
	crypto_random_token(b, token_cases[_i].nbytes);
	ck_assert_uint_eq(strlen(a), token_cases[_i].chars);
	ck_assert_uint_eq(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_"), strlen(a));
	ck_assert_str_ne(a, b);
}
END_TEST

/* --- Comparison ------------------------------------------------------- */

static const struct {
	const char	*a;
	const char	*b;
	int		 eq;
} streq_cases[] = {
	{ "secret", "secret", 1 },
	{ "", "", 1 },
	{ "secret", "secreT", 0 },
	{ "secret", "secret2", 0 },	/* different lengths */
	{ "secret", "secre", 0 },
	{ "", "x", 0 },
	{ "a\xff", "a\xfe", 0 },
	{ NULL, "x", 0 },
	{ "x", NULL, 0 },
	{ NULL, NULL, 0 },		/* NULL never equals anything */
};

START_TEST(test_str_equal)
{
	ck_assert_int_eq(crypto_str_equal(streq_cases[_i].a,
	    streq_cases[_i].b), streq_cases[_i].eq);
}
END_TEST

START_TEST(test_equal)
{
	unsigned char	 a[32], b[32];

	memset(a, 7, sizeof(a));
	memset(b, 7, sizeof(b));
	ck_assert_int_eq(crypto_equal(a, b, sizeof(a)), 1);
	b[31] = 8;
	ck_assert_int_eq(crypto_equal(a, b, sizeof(a)), 0);
	ck_assert_int_eq(crypto_equal(a, b, 31), 1);
	b[0] = 8;
	ck_assert_int_eq(crypto_equal(a, b, sizeof(a)), 0);
}
END_TEST

/* --- Encodings -------------------------------------------------------- */

static const struct {
	const char	*in;
	const char	*b64;
} b64_cases[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },	/* RFC 4648 section 10 */
	{ "\xfb\xff", "+/8=" },		/* standard alphabet, not url */
};

START_TEST(test_base64)
{
	char	*s;

	s = crypto_base64(b64_cases[_i].in, strlen(b64_cases[_i].in));
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, b64_cases[_i].b64);
	free(s);
}
END_TEST

START_TEST(test_hex)
{
	char	 out[9];

	memset(out, 'x', sizeof(out));
	crypto_hex("\x00\x9f\xa0\xff", 4, out);
	ck_assert_str_eq(out, "009fa0ff");
	crypto_hex("", 0, out);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_free_secret_null)
{
	char	*s;

	crypto_free_secret(NULL);
	s = strdup("a secret");
	ck_assert_ptr_nonnull(s);
	crypto_free_secret(s);
}
END_TEST

#define NELEM(a)	((int)(sizeof(a) / sizeof((a)[0])))

/* --- The login page's CSRF MAC and confirmation codes (issue 11) ------- */

/* crypto_mac() of the login page's parts under the fixed key, computed
 * independently with Python's hmac: HMAC-SHA256 under the subkey
 * HMAC-SHA256(key, "forcelink-mac oauth-start-csrf"), of "cookie-value",
 * "\n" and SHA-256("nonce"). */
#define MAC_CSRF_VECTOR	"354c5e026c6cf14ea96243d63a20c610" \
			"c96fb54cb2c4f0a4d82f38d4209e80d7"
/* The same message under the key itself (no subkey): what the MAC must
 * not equal. */
#define MAC_PLAIN_HMAC	"5e35b91b8a3d0af222ac3a218fe7452b" \
			"c39e092e0e3a40eacdc0296bb708c109"

static void
mac_of(const struct crypto_key *k, const char *purpose, const char *cookie,
    const char *nonce, char hex[65])
{
	unsigned char			 h[CRYPTO_HASHLEN], mac[32];
	const struct crypto_part	 parts[] = {
		{ cookie, strlen(cookie) },
		{ "\n", 1 },
		{ h, sizeof(h) },
	};

	crypto_sha256(nonce, h);
	crypto_mac(k, purpose, parts, 3, mac);
	crypto_hex(mac, sizeof(mac), hex);
}

START_TEST(test_mac_vector)
{
	struct crypto_key	 k;
	unsigned char		 h[CRYPTO_HASHLEN], mac[32];
	char			 hex[65], one[128];
	struct crypto_part	 whole;

	key_fixed(&k);
	mac_of(&k, "oauth-start-csrf", "cookie-value", "nonce", hex);
	ck_assert_str_eq(hex, MAC_CSRF_VECTOR);
	ck_assert_str_ne(hex, MAC_PLAIN_HMAC);
	/* The parts are taken as if concatenated. */
	crypto_sha256("nonce", h);
	memcpy(one, "cookie-value\n", 13);
	memcpy(one + 13, h, sizeof(h));
	whole = (struct crypto_part){ one, 13 + sizeof(h) };
	crypto_mac(&k, "oauth-start-csrf", &whole, 1, mac);
	crypto_hex(mac, sizeof(mac), hex);
	ck_assert_str_eq(hex, MAC_CSRF_VECTOR);
}
END_TEST

/* Whatever differs from the vector's inputs gives another MAC. */
static const struct {
	const char	*name;
	int		 other_key;
	const char	*purpose, *cookie, *nonce;
} mac_differs[] = {
	{ "fail: another key", 1, "oauth-start-csrf", "cookie-value",
	    "nonce" },
	{ "fail: another purpose", 0, "slack-install", "cookie-value",
	    "nonce" },
	{ "fail: another cookie", 0, "oauth-start-csrf", "cookie-valuf",
	    "nonce" },
	{ "fail: empty cookie", 0, "oauth-start-csrf", "", "nonce" },
	{ "fail: another nonce", 0, "oauth-start-csrf", "cookie-value",
	    "nonce2" },
};

START_TEST(test_mac_differs)
{
	struct crypto_key	 k;
	char			 hex[65];

	if (mac_differs[_i].other_key)
		ck_assert_int_eq(crypto_key_from_base64(&k,
		    "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="), 0);
	else
		key_fixed(&k);
	mac_of(&k, mac_differs[_i].purpose, mac_differs[_i].cookie,
	    mac_differs[_i].nonce, hex);
	ck_assert_msg(strcmp(hex, MAC_CSRF_VECTOR) != 0, "%s",
	    mac_differs[_i].name);
}
END_TEST

#define CODE_ALPHABET	"0123456789ABCDEFGHJKMNPQRSTVWXYZ"

/* Fresh codes: XXXXX-XXXXX of Crockford's base32, every character of
 * the alphabet in use (so 5 bits each), never I L O U, no repeats in
 * 2000, and each reads back as itself without the dash. */
START_TEST(test_code_new)
{
	static char	 seen[2000][CRYPTO_CODE_MAX];
	char		 norm[CRYPTO_CODE_MAX];
	int		 used[32], i, j, dups = 0;
	const char	*p;

	memset(used, 0, sizeof(used));
	for (i = 0; i < 2000; i++) {
		crypto_code_new(seen[i]);
		ck_assert_uint_eq(strlen(seen[i]), 11);
		ck_assert_int_eq(seen[i][5], '-');
		for (j = 0; j < 11; j++) {
			if (j == 5)
				continue;
			p = strchr(CODE_ALPHABET, seen[i][j]);
			ck_assert_msg(p != NULL && seen[i][j] != '\0',
			    "%s", seen[i]);
			used[p - CODE_ALPHABET] = 1;
		}
		ck_assert_int_eq(crypto_code_norm(seen[i], norm), 0);
		ck_assert_int_eq(strncmp(norm, seen[i], 5), 0);
		ck_assert_str_eq(norm + 5, seen[i] + 6);
		/* Compared without an assertion each: Check's assertions
		 * cost a write to its parent. */
		for (j = 0; j < i; j++)
			dups += strcmp(seen[i], seen[j]) == 0;
	}
	ck_assert_int_eq(dups, 0);
	for (j = 0; j < 32; j++)
		ck_assert_msg(used[j], "never saw %c", CODE_ALPHABET[j]);
}
END_TEST

/* What a person may type back, and what is not a code. */
static const struct {
	const char	*name;
	const char	*typed;
	const char	*norm;		/* NULL: refused */
} code_cases[] = {
	{ "as shown", "ABCDE-12345", "ABCDE12345" },
	{ "without the dash", "ABCDE12345", "ABCDE12345" },
	{ "lower case", "abcde-12345", "ABCDE12345" },
	{ "mixed case, no dash", "aBcDe12345", "ABCDE12345" },
	{ "O read as 0, I and L as 1", "0O1IL-oil00", "0011101100" },
	{ "every letter", "VWXYZ-HJKMN", "VWXYZHJKMN" },
	{ "fail: empty", "", NULL },
	{ "fail: 9 characters", "ABCDE-1234", NULL },
	{ "fail: 11 characters", "ABCDE-123456", NULL },
	{ "fail: 11 characters, no dash", "ABCDE123456", NULL },
	{ "fail: U is not in the alphabet", "ABCDU-12345", NULL },
	{ "fail: u is not either", "abcdu12345", NULL },
	{ "fail: dash in the wrong place", "ABCD-E12345", NULL },
	{ "fail: two dashes", "ABCDE--12345", NULL },
	{ "fail: dash first", "-ABCDE12345", NULL },
	{ "fail: dash last", "ABCDE12345-", NULL },
	{ "fail: inner space", "ABCDE 12345", NULL },
	{ "fail: surrounding space", " ABCDE-12345", NULL },
	{ "fail: underscore", "ABCDE_12345", NULL },
	{ "fail: punctuation", "ABCDE-1234!", NULL },
	{ "fail: non-ASCII", "\xc3\x84" "BCDE-12345", NULL },
	{ "fail: newline", "ABCDE-12345\n", NULL },
	{ "fail: 20 characters", "ABCDE12345ABCDE12345", NULL },
};

START_TEST(test_code_norm)
{
	char	 out[CRYPTO_CODE_MAX];
	int	 rc;

	memset(out, 'x', sizeof(out));
	rc = crypto_code_norm(code_cases[_i].typed, out);
	if (code_cases[_i].norm == NULL) {
		ck_assert_msg(rc == -1, "%s: accepted", code_cases[_i].name);
		return;
	}
	ck_assert_msg(rc == 0, "%s: refused", code_cases[_i].name);
	ck_assert_str_eq(out, code_cases[_i].norm);
}
END_TEST

/* The published digest vectors, which each SHA-256 engine must meet. */
static void
add_digest_vectors(TCase *tc)
{
	tcase_add_test(tc, test_sha256_vector);
	tcase_add_loop_test(tc, test_hmac_rfc4231, 0, NELEM(hmac_cases));
	tcase_add_test(tc, test_hmac_slack_vector);
	tcase_add_test(tc, test_hmac_parts_slack_vector);
	tcase_add_test(tc, test_pkce_rfc7636);
}

static Suite *
suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("crypto");

	tc = tcase_create("keys");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, test_key_from_base64, 0, NELEM(key_cases));
	tcase_add_test(tc, test_key_fail_null);
	tcase_add_test(tc, test_key_id_differs);
	tcase_add_test(tc, test_key_wipe);
	suite_add_tcase(s, tc);

	tc = tcase_create("seal");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_seal_roundtrip);
	tcase_add_test(tc, test_seal_empty);
	tcase_add_test(tc, test_seal_fresh_nonce);
	tcase_add_test(tc, test_open_fail_wrong_ad);
	tcase_add_test(tc, test_open_fail_wrong_key);
	tcase_add_test(tc, test_open_fail_tampered);
	tcase_add_test(tc, test_open_fail_truncated);
	suite_add_tcase(s, tc);

	tc = tcase_create("digests");
	tcase_add_checked_fixture(tc, setup, NULL);
	add_digest_vectors(tc);
	tcase_add_test(tc, test_engines_agree);
	suite_add_tcase(s, tc);

	/* The same vectors on the fallback, libsodium alone. */
	tc = tcase_create("digests in libsodium");
	tcase_add_checked_fixture(tc, setup_sodium, teardown_sodium);
	add_digest_vectors(tc);
	suite_add_tcase(s, tc);

	tc = tcase_create("tokens and comparison");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, test_random_token, 0, NELEM(token_cases));
	tcase_add_loop_test(tc, test_str_equal, 0, NELEM(streq_cases));
	tcase_add_test(tc, test_equal);
	suite_add_tcase(s, tc);

	tc = tcase_create("encodings");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, test_base64, 0, NELEM(b64_cases));
	tcase_add_test(tc, test_hex);
	tcase_add_test(tc, test_free_secret_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("login proof");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_mac_vector);
	tcase_add_loop_test(tc, test_mac_differs, 0, NELEM(mac_differs));
	tcase_add_test(tc, test_code_new);
	tcase_add_loop_test(tc, test_code_norm, 0, NELEM(code_cases));
	suite_add_tcase(s, tc);

	return s;
}

#include "check_main.h"

/*
 * crypto: every cryptographic operation forcelink performs (see crypto.h).
 *
 * This file is a thin layer over libsodium so that the rest of the code
 * never chooses an algorithm, a nonce or a comparison itself.  Tokens at
 * rest are sealed with XChaCha20-Poly1305 (its 192-bit nonce is safe to
 * pick at random for every write); one-time secrets are stored by SHA-256
 * only; every comparison of secrets goes through sodium_memcmp.  Anything
 * that held key material or a plaintext secret is wiped before it is
 * released.
 *
 * SHA-256 (and the HMACs over it) runs in OpenSSL's libcrypto, already
 * loaded for libcurl's TLS, whose code uses the CPU's SHA instructions:
 * libsodium's is portable C, and the signature of every Slack request is
 * an HMAC of its body (34,000 instructions of a warm /contact in
 * libsodium).  When OpenSSL cannot (a failed allocation), libsodium
 * computes the same digest; test_crypto checks the published vectors on
 * both.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>

#include "crypto.h"

#define CRYPTO_NONCELEN	crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define CRYPTO_TAGLEN	crypto_aead_xchacha20poly1305_ietf_ABYTES

_Static_assert(CRYPTO_NONCELEN + CRYPTO_TAGLEN == CRYPTO_SEAL_OVERHEAD,
    "CRYPTO_SEAL_OVERHEAD must be nonce plus tag");

/* The message the key id hashes: changing it changes every key id. */
#define CRYPTO_KEYID_MSG	"forcelink key id v1"
#define CRYPTO_KEYID_BYTES	(CRYPTO_KEYID_LEN / 2)

/* Bounds on the random part of a token (see crypto_random_token). */
#define CRYPTO_TOKEN_MIN_BYTES	16
#define CRYPTO_TOKEN_MAX_BYTES	32

/* Parts of an HMAC's message taken in one pass (more go to libsodium). */
#define CRYPTO_HMAC_PARTS_MAX	8

/* The key text is a few dozen characters; anything longer is not a key. */
#define CRYPTO_KEYTEXT_MAX	4096

int
crypto_init(void)
{
	/* sodium_init() returns 1 when it already ran, which is fine. */
	return sodium_init() < 0 ? -1 : 0;
}

/*
 * Derives the public id of a key: the first 8 bytes, in hex, of BLAKE2b
 * keyed with the key over a fixed message.  Knowing ids of keys tells
 * nothing about the keys, and the same key always gets the same id.
 */
static void
crypto_key_id(struct crypto_key *k)
{
	unsigned char	 h[CRYPTO_KEYID_BYTES];

	crypto_generichash(h, sizeof(h),
	    (const unsigned char *)CRYPTO_KEYID_MSG,
	    sizeof(CRYPTO_KEYID_MSG) - 1, k->key, sizeof(k->key));
	crypto_hex(h, sizeof(h), k->id);
}

/*
 * Finds the base64 text inside s without surrounding white space and
 * without its "=" padding.  Returns the number of characters left from
 * *start, or -1 when the text is too long or the padding is malformed
 * (more than two "=", or a padded text whose length is not a multiple of
 * four).
 */
static long
crypto_b64_trim(const char *s, const char **start)
{
	size_t	 len, pad;

	while (*s != '\0' && isspace((unsigned char)*s))
		s++;
	len = strnlen(s, CRYPTO_KEYTEXT_MAX + 1);
	if (len > CRYPTO_KEYTEXT_MAX)
		return -1;
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	for (pad = 0; pad < len && s[len - 1 - pad] == '='; pad++)
		continue;
	if (pad > 2 || (pad > 0 && len % 4 != 0))
		return -1;
	*start = s;
	return (long)(len - pad);
}

int
crypto_key_from_base64(struct crypto_key *k, const char *text)
{
	unsigned char	 raw[CRYPTO_KEYLEN * 2];
	const char	*b64;
	size_t		 rawlen = 0;
	long		 n;
	int		 rc = -1;

	if (text == NULL || (n = crypto_b64_trim(text, &b64)) <= 0)
		goto out;
	/*
	 * Without an end pointer libsodium insists that every character is
	 * consumed, and it rejects non-zero trailing bits, so only the one
	 * canonical spelling of a 32-byte key is accepted.  raw is larger
	 * than a key so that 33 bytes are seen as 33, not as an overflow.
	 */
	if (sodium_base642bin(raw, sizeof(raw), b64, (size_t)n, NULL, &rawlen,
	    NULL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0)
		goto out;
	if (rawlen != CRYPTO_KEYLEN)
		goto out;
	memcpy(k->key, raw, CRYPTO_KEYLEN);
	crypto_key_id(k);
	rc = 0;
out:
	sodium_memzero(raw, sizeof(raw));
	return rc;
}

void
crypto_key_wipe(struct crypto_key *k)
{
	sodium_memzero(k, sizeof(*k));
}

int
crypto_seal(const struct crypto_key *k, const void *ad, size_t adlen,
    const void *pt, size_t ptlen, unsigned char **out, size_t *outlen)
{
	unsigned char		*p = NULL;
	unsigned long long	 clen;
	int			 rc = -1;

	*out = NULL;
	*outlen = 0;
	if (ptlen > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX ||
	    ptlen > SIZE_MAX - CRYPTO_SEAL_OVERHEAD)
		goto out;
	if ((p = malloc(ptlen + CRYPTO_SEAL_OVERHEAD)) == NULL)
		goto out;
	randombytes_buf(p, CRYPTO_NONCELEN);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(p + CRYPTO_NONCELEN,
	    &clen, pt, ptlen, ad, adlen, NULL, p, k->key) != 0)
		goto out;
	*out = p;
	*outlen = CRYPTO_NONCELEN + (size_t)clen;
	p = NULL;
	rc = 0;
out:
	free(p);
	return rc;
}

int
crypto_open(const struct crypto_key *k, const void *ad, size_t adlen,
    const unsigned char *ct, size_t ctlen, char **out, size_t *outlen)
{
	unsigned char		*p = NULL;
	unsigned long long	 plen = 0;
	size_t			 cap = 0;
	int			 rc = -1;

	*out = NULL;
	*outlen = 0;
	if (ct == NULL || ctlen < CRYPTO_SEAL_OVERHEAD)
		goto out;
	/* One byte more than the plaintext, for the terminator. */
	cap = ctlen - CRYPTO_SEAL_OVERHEAD + 1;
	if ((p = malloc(cap)) == NULL) {
		rc = -2;
		goto out;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(p, &plen, NULL,
	    ct + CRYPTO_NONCELEN, ctlen - CRYPTO_NONCELEN, ad, adlen, ct,
	    k->key) != 0)
		goto out;
	p[plen] = '\0';
	*out = (char *)p;
	*outlen = (size_t)plen;
	p = NULL;
	rc = 0;
out:
	if (p != NULL) {
		sodium_memzero(p, cap);
		free(p);
	}
	return rc;
}

void
crypto_free_secret(char *s)
{
	if (s == NULL)
		return;
	sodium_memzero(s, strlen(s));
	free(s);
}

void
crypto_wipe(void *p, size_t n)
{
	sodium_memzero(p, n);
}

void
crypto_random(void *out, size_t n)
{
	randombytes_buf(out, n);
}

void
crypto_random_token(char *out, size_t nbytes)
{
	unsigned char	 raw[CRYPTO_TOKEN_MAX_BYTES];

	/* Out-of-range requests are clamped, never made weaker than 128
	 * bits nor longer than out can hold. */
	if (nbytes < CRYPTO_TOKEN_MIN_BYTES)
		nbytes = CRYPTO_TOKEN_MIN_BYTES;
	if (nbytes > CRYPTO_TOKEN_MAX_BYTES)
		nbytes = CRYPTO_TOKEN_MAX_BYTES;
	randombytes_buf(raw, nbytes);
	sodium_bin2base64(out, CRYPTO_TOKEN_MAX, raw, nbytes,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
}

/* SHA-256 in OpenSSL: fetched once; a digest context per thread,
 * freed when the thread ends. */
static pthread_once_t	 crypto_evp_once = PTHREAD_ONCE_INIT;
static EVP_MD		*crypto_evp_md;
static pthread_key_t	 crypto_evp_key;
static int		 crypto_evp_ready;
static int		 crypto_evp_off;	/* tests: libsodium only */

static void
crypto_evp_free(void *ctx)
{
	EVP_MD_CTX_free(ctx);
}

static void
crypto_evp_init(void)
{
	if ((crypto_evp_md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
		return;
	if (pthread_key_create(&crypto_evp_key, crypto_evp_free) != 0) {
		EVP_MD_free(crypto_evp_md);
		crypto_evp_md = NULL;
		return;
	}
	crypto_evp_ready = 1;
}

/* SHA-256 of the n parts in OpenSSL.  Returns 0, or -1 (nothing
 * written) when it cannot. */
static int
crypto_evp_sha256(const struct crypto_part *parts, size_t n,
    unsigned char out[CRYPTO_HASHLEN])
{
	EVP_MD_CTX	*ctx;
	unsigned int	 len = 0;
	size_t		 i;

	if (crypto_evp_off ||
	    pthread_once(&crypto_evp_once, crypto_evp_init) != 0 ||
	    !crypto_evp_ready)
		return -1;
	if ((ctx = pthread_getspecific(crypto_evp_key)) == NULL) {
		if ((ctx = EVP_MD_CTX_new()) == NULL)
			return -1;
		if (pthread_setspecific(crypto_evp_key, ctx) != 0) {
			EVP_MD_CTX_free(ctx);
			return -1;
		}
	}
	if (EVP_DigestInit_ex(ctx, crypto_evp_md, NULL) != 1)
		return -1;
	for (i = 0; i < n; i++)
		if (EVP_DigestUpdate(ctx, parts[i].p, parts[i].len) != 1)
			return -1;
	if (EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != CRYPTO_HASHLEN)
		return -1;
	return 0;
}

int
crypto_sha256_engine(int openssl)
{
	crypto_evp_off = !openssl;
	if (pthread_once(&crypto_evp_once, crypto_evp_init) != 0)
		return 0;
	return openssl && crypto_evp_ready;
}

/* SHA-256 of the n parts: OpenSSL, or libsodium when it cannot. */
static void
crypto_sha256_parts(const struct crypto_part *parts, size_t n,
    unsigned char out[CRYPTO_HASHLEN])
{
	crypto_hash_sha256_state	 st;
	size_t				 i;

	if (crypto_evp_sha256(parts, n, out) == 0)
		return;
	crypto_hash_sha256_init(&st);
	for (i = 0; i < n; i++)
		crypto_hash_sha256_update(&st, parts[i].p, parts[i].len);
	crypto_hash_sha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

void
crypto_sha256(const char *s, unsigned char out[CRYPTO_HASHLEN])
{
	const struct crypto_part	 part = { s, strlen(s) };

	crypto_sha256_parts(&part, 1, out);
}

int
crypto_sha256_fd(int fd, unsigned char out[CRYPTO_HASHLEN])
{
	crypto_hash_sha256_state	 st;
	unsigned char			 b[65536];
	ssize_t				 n;

	crypto_hash_sha256_init(&st);
	for (;;) {
		n = read(fd, b, sizeof(b));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		crypto_hash_sha256_update(&st, b, (unsigned long long)n);
	}
	crypto_hash_sha256_final(&st, out);
	return 0;
}

/* libsodium's HMAC-SHA256, for more parts than the one below takes. */
static void
crypto_hmac_sodium(const void *key, size_t keylen,
    const struct crypto_part *parts, size_t n, unsigned char out[32])
{
	crypto_auth_hmacsha256_state	 st;
	size_t				 i;

	/* The init/update/final form takes keys of any length (longer ones
	 * are hashed first, as RFC 2104 says); crypto_auth_hmacsha256()
	 * would insist on exactly 32 bytes. */
	crypto_auth_hmacsha256_init(&st, key, keylen);
	for (i = 0; i < n; i++)
		crypto_auth_hmacsha256_update(&st, parts[i].p, parts[i].len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

/*
 * HMAC-SHA256 as RFC 2104 builds it over SHA-256 (a key longer than the
 * block is hashed first, a shorter one padded with zeros):
 * H((K ^ opad) || H((K ^ ipad) || message)).
 */
void
crypto_hmac_sha256_parts(const void *key, size_t keylen,
    const struct crypto_part *parts, size_t n, unsigned char out[32])
{
	struct crypto_part	 p[1 + CRYPTO_HMAC_PARTS_MAX];
	unsigned char		 k0[64], pad[64], inner[CRYPTO_HASHLEN];
	const struct crypto_part kp = { key, keylen };
	size_t			 i;

	if (n > CRYPTO_HMAC_PARTS_MAX) {
		crypto_hmac_sodium(key, keylen, parts, n, out);
		return;
	}
	memset(k0, 0, sizeof(k0));
	if (keylen > sizeof(k0))
		crypto_sha256_parts(&kp, 1, k0);
	else if (keylen > 0)
		memcpy(k0, key, keylen);
	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k0[i] ^ 0x36;
	p[0].p = pad;
	p[0].len = sizeof(pad);
	for (i = 0; i < n; i++)
		p[1 + i] = parts[i];
	crypto_sha256_parts(p, 1 + n, inner);
	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k0[i] ^ 0x5c;
	p[1].p = inner;
	p[1].len = sizeof(inner);
	crypto_sha256_parts(p, 2, out);
	sodium_memzero(k0, sizeof(k0));
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
}

void
crypto_mac(const struct crypto_key *k, const char *purpose,
    const struct crypto_part *parts, size_t n, unsigned char out[32])
{
	const struct crypto_part	 label[] = {
		{ "forcelink-mac ", sizeof("forcelink-mac ") - 1 },
		{ purpose, strlen(purpose) },
	};
	unsigned char			 sub[32];

	crypto_hmac_sha256_parts(k->key, sizeof(k->key), label, 2, sub);
	crypto_hmac_sha256_parts(sub, sizeof(sub), parts, n, out);
	sodium_memzero(sub, sizeof(sub));
}

/* Crockford's base32: no I, L, O or U, which read as other characters. */
static const char crypto_code_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void
crypto_code_new(char out[CRYPTO_CODE_MAX])
{
	unsigned char	 raw[CRYPTO_CODE_CHARS];
	size_t		 i, j = 0;

	randombytes_buf(raw, sizeof(raw));
	for (i = 0; i < CRYPTO_CODE_CHARS; i++) {
		if (i == CRYPTO_CODE_CHARS / 2)
			out[j++] = '-';
		/* 256 is a multiple of 32: every character is equally
		 * likely. */
		out[j++] = crypto_code_alphabet[raw[i] & 31];
	}
	out[j] = '\0';
	sodium_memzero(raw, sizeof(raw));
}

int
crypto_code_norm(const char *in, char out[CRYPTO_CODE_MAX])
{
	size_t	 i, n = 0;
	char	 c;

	for (i = 0; in[i] != '\0'; i++) {
		c = in[i];
		/* One dash, in the middle, as the code is shown. */
		if (c == '-' && n == CRYPTO_CODE_CHARS / 2 && i == n)
			continue;
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c == 'O')
			c = '0';
		else if (c == 'I' || c == 'L')
			c = '1';
		if (c == '\0' || strchr(crypto_code_alphabet, c) == NULL ||
		    n == CRYPTO_CODE_CHARS)
			return -1;
		out[n++] = c;
	}
	if (n != CRYPTO_CODE_CHARS)
		return -1;
	out[n] = '\0';
	return 0;
}

void
crypto_hmac_sha256(const void *key, size_t keylen, const void *msg,
    size_t msglen, unsigned char out[32])
{
	const struct crypto_part	 part = { msg, msglen };

	crypto_hmac_sha256_parts(key, keylen, &part, 1, out);
}

void
crypto_pkce_challenge(const char *verifier, char out[44])
{
	unsigned char	 h[CRYPTO_HASHLEN];

	crypto_sha256(verifier, h);
	sodium_bin2base64(out, 44, h, sizeof(h),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int
crypto_equal(const void *a, const void *b, size_t n)
{
	return sodium_memcmp(a, b, n) == 0;
}

int
crypto_str_equal(const char *a, const char *b)
{
	unsigned char	 ha[CRYPTO_HASHLEN], hb[CRYPTO_HASHLEN];
	int		 eq;

	if (a == NULL || b == NULL)
		return 0;
	/* Hashing first makes both sides the same length, so neither the
	 * lengths nor the first differing byte show in the timing of the
	 * comparison. */
	crypto_sha256(a, ha);
	crypto_sha256(b, hb);
	eq = sodium_memcmp(ha, hb, sizeof(ha)) == 0;
	sodium_memzero(ha, sizeof(ha));
	sodium_memzero(hb, sizeof(hb));
	return eq;
}

char *
crypto_base64(const void *p, size_t n)
{
	char	*s;
	size_t	 len;

	if (n > (SIZE_MAX - 8) / 4 * 3)
		return NULL;
	len = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	if ((s = malloc(len)) == NULL)
		return NULL;
	sodium_bin2base64(s, len, p, n, sodium_base64_VARIANT_ORIGINAL);
	return s;
}

void
crypto_hex(const void *p, size_t n, char *out)
{
	sodium_bin2hex(out, 2 * n + 1, p, n);
}

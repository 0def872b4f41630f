/*
 * crypto: every cryptographic operation forcelink performs, on libsodium.
 *
 * Token encryption (XChaCha20-Poly1305 with associated data), random
 * tokens, hashing of one-time secrets for storage, HMAC-SHA256 for Slack
 * and Salesforce signatures, PKCE, base64, and the one constant-time
 * comparison the rest of the code uses.  No other module includes
 * sodium.h except buf.c (for wiping).
 */
#ifndef FORCELINK_CRYPTO_H
#define FORCELINK_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define CRYPTO_KEYLEN		32
#define CRYPTO_KEYID_LEN	16	/* hex characters */
#define CRYPTO_HASHLEN		32
/* Bytes a sealed value adds to its plaintext: nonce (24) + tag (16). */
#define CRYPTO_SEAL_OVERHEAD	40
/* Size of a buffer that holds a base64url string of a 32-byte token. */
#define CRYPTO_TOKEN_MAX	64

/* The token-encryption key and its public identifier.  The id is derived
 * from the key (a keyed hash), so each row can record which key sealed
 * it without revealing anything about the key. */
struct crypto_key {
	unsigned char	key[CRYPTO_KEYLEN];
	char		id[CRYPTO_KEYID_LEN + 1];
};

/* Initialises libsodium.  Returns 0, or -1 (then nothing here may be
 * used).  Safe to call more than once. */
int	 crypto_init(void);

/* Decodes standard base64 (with or without padding, surrounding white
 * space ignored) of exactly 32 bytes into *key and derives its id.
 * Returns 0, or -1 when the text is not base64 of 32 bytes. */
int	 crypto_key_from_base64(struct crypto_key *, const char *);

/* Overwrites a key with zeros. */
void	 crypto_key_wipe(struct crypto_key *);

/*
 * Encrypts pt (ptlen bytes) under key with associated data ad.  On
 * success *out holds nonce || ciphertext || tag (ptlen +
 * CRYPTO_SEAL_OVERHEAD bytes, allocated, the caller frees it) and 0 is
 * returned; -1 on memory exhaustion.  Each call uses a fresh random nonce.
 */
int	 crypto_seal(const struct crypto_key *, const void *ad, size_t adlen,
	    const void *pt, size_t ptlen, unsigned char **out, size_t *outlen);

/*
 * Decrypts what crypto_seal produced.  On success *out is a NUL-terminated
 * allocated copy of the plaintext (*outlen excludes the terminator; free it
 * with crypto_free_secret) and 0 is returned.  Returns -1 when the value
 * was altered, sealed under another key or with other associated data, or
 * is too short; -2 when memory is exhausted (which says nothing about the
 * value or the key).
 */
int	 crypto_open(const struct crypto_key *, const void *ad, size_t adlen,
	    const unsigned char *ct, size_t ctlen, char **out, size_t *outlen);

/* Zeroes and frees a string that held a secret.  NULL is allowed. */
void	 crypto_free_secret(char *);

/* Overwrites n bytes with zeros in a way the compiler cannot elide. */
void	 crypto_wipe(void *, size_t n);

/* Fills out with n random bytes. */
void	 crypto_random(void *out, size_t n);

/* Writes base64url (no padding) of nbytes fresh random bytes into out,
 * which must hold CRYPTO_TOKEN_MAX bytes; nbytes must be 16..32.  Used for
 * login nonces, OAuth state, cookies and PKCE verifiers. */
void	 crypto_random_token(char *out, size_t nbytes);

/* SHA-256 of a string, for storing one-time secrets (nonces, states,
 * cookies) by their hash only. */
void	 crypto_sha256(const char *, unsigned char out[CRYPTO_HASHLEN]);

/* SHA-256 of everything read from fd until end of file (a backup's
 * checksum).  Returns 0, or -1 with errno set by read(2). */
int	 crypto_sha256_fd(int fd, unsigned char out[CRYPTO_HASHLEN]);

/* Tests: SHA-256 and HMAC-SHA256 in OpenSSL (openssl 1, the default)
 * or in libsodium only (0); both give the same digests.  Returns 1 when
 * OpenSSL is used from now on. */
int	 crypto_sha256_engine(int openssl);

/* HMAC-SHA256 with a key of any length. */
void	 crypto_hmac_sha256(const void *key, size_t keylen, const void *msg,
	    size_t msglen, unsigned char out[32]);

/* One piece of a message that exists only in pieces. */
struct crypto_part {
	const void	*p;
	size_t		 len;
};

/* HMAC-SHA256 of n parts taken one after another, as if they were
 * concatenated, without copying them: nothing is allocated, so nothing
 * can fail (Slack signs "v0:" timestamp ":" body). */
void	 crypto_hmac_sha256_parts(const void *key, size_t keylen,
	    const struct crypto_part *parts, size_t n, unsigned char out[32]);

/*
 * A MAC of values forcelink hands out and checks itself (the CSRF token
 * of the login page, the signed state cookie of "Add to Slack"):
 * HMAC-SHA256 of the n parts, taken as if concatenated, under a subkey
 * derived from key for purpose (HMAC-SHA256(key, "forcelink-mac "
 * purpose)), so that no other use of the key makes the same value.
 * Nothing is allocated; nothing fails.
 */
void	 crypto_mac(const struct crypto_key *, const char *purpose,
	    const struct crypto_part *parts, size_t n, unsigned char out[32]);

/*
 * Confirmation codes (FORCELINK_LINK_PROOF=code): 10 characters of
 * Crockford's base32 (0-9 A-Z without I L O U), 50 random bits, shown as
 * XXXXX-XXXXX.  crypto_code_new writes a fresh one, with its dash, into
 * out.  crypto_code_norm reads what a person typed: the 10 characters
 * with or without the dash, in either case, and O for 0, I and L for 1,
 * as Crockford allows; it writes them without the dash, upper case, into
 * out.  Returns 0, or -1 when in is not such a code.
 */
#define CRYPTO_CODE_CHARS	10
#define CRYPTO_CODE_MAX		(CRYPTO_CODE_CHARS + 2)
void	 crypto_code_new(char out[CRYPTO_CODE_MAX]);
int	 crypto_code_norm(const char *in, char out[CRYPTO_CODE_MAX]);

/* PKCE S256: writes base64url(SHA-256(verifier)) without padding (43
 * characters) into out, which must hold 44 bytes. */
void	 crypto_pkce_challenge(const char *verifier, char out[44]);

/* Constant-time equality of two n-byte regions: 1 when equal, else 0. */
int	 crypto_equal(const void *, const void *, size_t n);

/* Constant-time equality of two strings of possibly different lengths (it
 * compares their hashes, so the time does not depend on where they
 * differ): 1 when equal, else 0.  NULL never equals anything. */
int	 crypto_str_equal(const char *, const char *);

/* Base64 (standard alphabet, padded) of n bytes into an allocated string;
 * NULL on memory exhaustion. */
char	*crypto_base64(const void *, size_t n);

/* Lower-case hex of n bytes into out, which must hold 2n + 1 bytes. */
void	 crypto_hex(const void *, size_t n, char *out);

#endif

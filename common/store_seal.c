/*
 * store_seal: the associated data and the sealing of every secret the
 * store keeps (tokens, verifiers, searches, integrations' values).  The
 * associated data binds a ciphertext to its row's identity, never to the
 * engine, so a ciphertext means the same wherever the row is kept.
 */
#include <string.h>

#include "log.h"
#include "store_int.h"

/* Appends one length-prefixed field (4-byte big-endian length, then the
 * bytes).  Returns 0, or -1 when it does not fit. */
static int
store_ad_add(struct store_ad *ad, const char *s)
{
	size_t	 n;

	n = strlen(s);
	if (sizeof(ad->b) - ad->len < 4 || sizeof(ad->b) - ad->len - 4 < n)
		return -1;
	ad->b[ad->len++] = (unsigned char)(n >> 24);
	ad->b[ad->len++] = (unsigned char)(n >> 16);
	ad->b[ad->len++] = (unsigned char)(n >> 8);
	ad->b[ad->len++] = (unsigned char)n;
	memcpy(ad->b + ad->len, s, n);
	ad->len += n;
	return 0;
}

/* Fills ad with the tag and then the n fields f, each length-prefixed.
 * Returns 0, or -1 (logged) when they do not fit. */
int
store_ad_fields(struct store_ad *ad, const char *const *f, size_t n)
{
	size_t	 i;
	int	 rc;

	ad->len = 0;
	rc = store_ad_add(ad, STORE_AD_TAG);
	for (i = 0; i < n && rc == 0; i++)
		rc = store_ad_add(ad, f[i]);
	if (rc == -1)
		log_error("msg=\"associated data too long\"");
	return rc;
}

/*
 * Associated data of a token: the tag, the row (enterprise, team, user),
 * which token ("access" or "refresh") and the key id.  The length
 * prefixes keep ("ab", "c") and ("a", "bc") apart.  Returns 0 or -1.
 */
int
store_ad_token(struct store_ad *ad, const struct slack_user *who,
    const char *which, const char *key_id)
{
	const char *const f[] = {
		who->enterprise_id, who->team_id, who->user_id, which, key_id
	};

	return store_ad_fields(ad, f, sizeof(f) / sizeof(f[0]));
}

/* Associated data of a PKCE verifier: the tag, "verifier", the hex of the
 * state hash (its row) and the key id.  Returns 0 or -1. */
int
store_ad_verifier(struct store_ad *ad,
    const unsigned char state_hash[CRYPTO_HASHLEN], const char *key_id)
{
	char		 hex[CRYPTO_HASHLEN * 2 + 1];
	const char *const f[] = { "verifier", hex, key_id };

	crypto_hex(state_hash, CRYPTO_HASHLEN, hex);
	return store_ad_fields(ad, f, sizeof(f) / sizeof(f[0]));
}

/*
 * Associated data of a remembered search: the tag, "search", the hex of
 * the nonce hash (its row: the state hash does not exist yet when the
 * search is sealed), the column and the key id.  So neither value opens
 * on another row, nor in the other column.  Returns 0 or -1.
 */
int
store_ad_search(struct store_ad *ad,
    const unsigned char nonce_hash[CRYPTO_HASHLEN], const char *column,
    const char *key_id)
{
	char		 hex[CRYPTO_HASHLEN * 2 + 1];
	const char *const f[] = { "search", hex, column, key_id };

	crypto_hex(nonce_hash, CRYPTO_HASHLEN, hex);
	return store_ad_fields(ad, f, sizeof(f) / sizeof(f[0]));
}

/* Seals a token of who under key k.  Returns 0, or -1 (logged). */
int
store_seal_token(const struct crypto_key *k, const struct slack_user *who,
    const char *which, const char *token, struct sealed *out)
{
	struct store_ad	 ad;

	if (store_ad_token(&ad, who, which, k->id) == -1)
		return -1;
	if (crypto_seal(k, ad.b, ad.len, token, strlen(token),
	    &out->p, &out->len) == -1) {
		log_error("which=%s msg=\"cannot seal token\"", which);
		return -1;
	}
	return 0;
}

/*
 * Opens the token of who in blob column col of s, sealed under key k (the
 * key of the row's key id).  Returns STORE_OK and *out (free with
 * crypto_free_secret), STORE_BADKEY (logged) when it does not open, or
 * STORE_ERROR (logged; out of memory is not a wrong key).
 */
enum store_result
store_open_token(const struct crypto_key *k, sqlite3_stmt *s, int col,
    const struct slack_user *who, const char *which, char **out)
{
	struct store_ad	 ad;
	size_t		 len;
	int		 rc;

	if (store_ad_token(&ad, who, which, k->id) == -1)
		return STORE_ERROR;
	rc = crypto_open(k, ad.b, ad.len, sqlite3_column_blob(s, col),
	    (size_t)sqlite3_column_bytes(s, col), out, &len);
	if (rc == -2) {
		log_error("which=%s msg=\"out of memory\"", which);
		return STORE_ERROR;
	} else if (rc != 0) {
		log_error("which=%s msg=\"sealed token does not open: "
		    "altered or wrong key\"", which);
		return STORE_BADKEY;
	}
	return STORE_OK;
}

/* Seals column's value s for the row of nonce_hash under key k.
 * Returns 0, or -1 (logged). */
int
store_seal_search(const struct crypto_key *k,
    const unsigned char nonce_hash[CRYPTO_HASHLEN], const char *column,
    const char *s, struct sealed *out)
{
	struct store_ad	 ad;

	if (store_ad_search(&ad, nonce_hash, column, k->id) == -1)
		return -1;
	if (crypto_seal(k, ad.b, ad.len, s, strlen(s), &out->p,
	    &out->len) == -1) {
		log_error("column=%s msg=\"cannot seal search\"", column);
		return -1;
	}
	return 0;
}

/* store_open_search() for the row statement s is on. */
enum store_result
store_open_row(sqlite3_stmt *s, const struct crypto_key *k, int col,
    const unsigned char nonce_hash[CRYPTO_HASHLEN], const char *column,
    char **out)
{
	struct store_ad	 ad;
	size_t		 len;
	int		 rc;

	if (store_ad_search(&ad, nonce_hash, column, k->id) == -1)
		return STORE_ERROR;
	rc = crypto_open(k, ad.b, ad.len, sqlite3_column_blob(s, col),
	    (size_t)sqlite3_column_bytes(s, col), out, &len);
	if (rc == -2) {
		log_error("column=%s msg=\"out of memory\"", column);
		return STORE_ERROR;
	} else if (rc != 0) {
		log_error("column=%s msg=\"sealed search does not open: "
		    "altered or wrong key\"", column);
		return STORE_BADKEY;
	}
	return STORE_OK;
}

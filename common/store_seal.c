/*
 * store_seal: the associated data and the sealing of every secret the
 * store keeps (tokens, verifiers, searches, integrations' values, action
 * rows' data).  The
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

/* Associated data of an integration's sealed value: the tag,
 * "integration", its name, the column and the key id. */
int
store_ad_integ(struct store_ad *ad, const char *name, const char *column,
    const char *key_id)
{
	const char *const f[] = { "integration", name, column, key_id };

	return store_ad_fields(ad, f, sizeof(f) / sizeof(f[0]));
}

/*
 * Associated data of an action row's sealed value: the tag, "action",
 * the hex of the key hash (its row: the key itself is not kept), the
 * column and the key id.  Returns 0 or -1.
 */
int
store_ad_action(struct store_ad *ad,
    const unsigned char key_hash[CRYPTO_HASHLEN], const char *column,
    const char *key_id)
{
	char		 hex[CRYPTO_HASHLEN * 2 + 1];
	const char *const f[] = { "action", hex, column, key_id };

	crypto_hex(key_hash, CRYPTO_HASHLEN, hex);
	return store_ad_fields(ad, f, sizeof(f) / sizeof(f[0]));
}

/*
 * Seals value under key k with associated data ad.  Returns 0, or -1
 * (logged, naming what: "token", "verifier", ...).
 */
int
store_seal_value(const struct crypto_key *k, const struct store_ad *ad,
    const char *value, struct sealed *out, const char *what)
{
	if (crypto_seal(k, ad->b, ad->len, value, strlen(value), &out->p,
	    &out->len) == -1) {
		log_error("msg=\"cannot seal %s\"", what);
		return -1;
	}
	return 0;
}

/*
 * Opens ct (len bytes), sealed under key k with associated data ad.
 * Returns STORE_OK and *out (free with crypto_free_secret), STORE_BADKEY
 * when it does not open, or STORE_ERROR (out of memory is not a wrong
 * key); both logged, naming what.
 */
enum store_result
store_open_value(const struct crypto_key *k, const struct store_ad *ad,
    const unsigned char *ct, size_t len, char **out, const char *what)
{
	size_t	 n;
	int	 rc;

	*out = NULL;
	rc = crypto_open(k, ad->b, ad->len, ct, len, out, &n);
	if (rc == -2) {
		log_error("msg=\"out of memory\"");
		return STORE_ERROR;
	} else if (rc != 0) {
		log_error("msg=\"sealed %s does not open: altered or wrong "
		    "key\"", what);
		return STORE_BADKEY;
	}
	return STORE_OK;
}

/* A token of who ("access" or "refresh", or an installation's column). */
int
store_seal_token(const struct crypto_key *k, const struct slack_user *who,
    const char *which, const char *token, struct sealed *out)
{
	struct store_ad	 ad;

	if (store_ad_token(&ad, who, which, k->id) == -1)
		return -1;
	return store_seal_value(k, &ad, token, out, "token");
}

enum store_result
store_open_token(const struct crypto_key *k, const unsigned char *ct,
    size_t len, const struct slack_user *who, const char *which, char **out)
{
	struct store_ad	 ad;

	*out = NULL;
	if (store_ad_token(&ad, who, which, k->id) == -1)
		return STORE_ERROR;
	return store_open_value(k, &ad, ct, len, out, "token");
}

/* The PKCE verifier of the login state whose hash is state_hash. */
int
store_seal_verifier(const struct crypto_key *k,
    const unsigned char state_hash[CRYPTO_HASHLEN], const char *verifier,
    struct sealed *out)
{
	struct store_ad	 ad;

	if (store_ad_verifier(&ad, state_hash, k->id) == -1)
		return -1;
	return store_seal_value(k, &ad, verifier, out, "verifier");
}

enum store_result
store_open_verifier(const struct crypto_key *k, const unsigned char *ct,
    size_t len, const unsigned char state_hash[CRYPTO_HASHLEN], char **out)
{
	struct store_ad	 ad;

	*out = NULL;
	if (store_ad_verifier(&ad, state_hash, k->id) == -1)
		return STORE_ERROR;
	return store_open_value(k, &ad, ct, len, out, "verifier");
}

/* A column of the login_state row of nonce_hash: a remembered search
 * (search_ct, search_url_ct) or a pending link's tokens. */
int
store_seal_search(const struct crypto_key *k,
    const unsigned char nonce_hash[CRYPTO_HASHLEN], const char *column,
    const char *s, struct sealed *out)
{
	struct store_ad	 ad;

	if (store_ad_search(&ad, nonce_hash, column, k->id) == -1)
		return -1;
	return store_seal_value(k, &ad, s, out, "search");
}

enum store_result
store_open_search(const struct crypto_key *k, const unsigned char *ct,
    size_t len, const unsigned char nonce_hash[CRYPTO_HASHLEN],
    const char *column, char **out)
{
	struct store_ad	 ad;

	*out = NULL;
	if (store_ad_search(&ad, nonce_hash, column, k->id) == -1)
		return STORE_ERROR;
	return store_open_value(k, &ad, ct, len, out, "search");
}

/* A column of integration name (its client secret, its user's token). */
int
store_seal_integ(const struct crypto_key *k, const char *name,
    const char *column, const char *value, struct sealed *out)
{
	struct store_ad	 ad;

	if (store_ad_integ(&ad, name, column, k->id) == -1)
		return -1;
	return store_seal_value(k, &ad, value, out, "value");
}

enum store_result
store_open_integ(const struct crypto_key *k, const unsigned char *ct,
    size_t len, const char *name, const char *column, char **out)
{
	struct store_ad	 ad;

	*out = NULL;
	if (store_ad_integ(&ad, name, column, k->id) == -1)
		return STORE_ERROR;
	return store_open_value(k, &ad, ct, len, out, "value");
}

/* The data of the slack_action row of key_hash. */
int
store_seal_action(const struct crypto_key *k,
    const unsigned char key_hash[CRYPTO_HASHLEN], const char *data,
    struct sealed *out)
{
	struct store_ad	 ad;

	if (store_ad_action(&ad, key_hash, STORE_ACTION_DATA, k->id) == -1)
		return -1;
	return store_seal_value(k, &ad, data, out, "action data");
}

enum store_result
store_open_action(const struct crypto_key *k, const unsigned char *ct,
    size_t len, const unsigned char key_hash[CRYPTO_HASHLEN], char **out)
{
	struct store_ad	 ad;

	*out = NULL;
	if (store_ad_action(&ad, key_hash, STORE_ACTION_DATA, k->id) == -1)
		return STORE_ERROR;
	return store_open_value(k, &ad, ct, len, out, "action data");
}

/*
 * Opens one sealed value of a row with key k and its associated data
 * under old_id, and seals it again under the current key cur with the
 * same associated data but cur's id.  The plaintext is wiped at once.
 * Returns 0, -1 when it does not open (*open_failed set) or on
 * memory exhaustion.
 */
int
store_reseal(const struct crypto_key *k, const struct crypto_key *cur,
    const struct store_ad *ad_old, const struct store_ad *ad_new,
    const struct sealed *in, struct sealed *out, int *open_failed)
{
	char	*pt = NULL;
	size_t	 len;
	int	 rc;

	rc = crypto_open(k, ad_old->b, ad_old->len, in->p, in->len, &pt, &len);
	if (rc != 0) {
		*open_failed = rc == -1;
		return -1;
	}
	rc = crypto_seal(cur, ad_new->b, ad_new->len, pt, len, &out->p,
	    &out->len);
	crypto_free_secret(pt);
	return rc;
}


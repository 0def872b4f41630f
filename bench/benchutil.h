/*
 * benchutil: what the benchmark's store tools share: reading the key
 * file, realistic-looking tokens, and the Slack user of link number i.
 */
#ifndef FORCELINK_BENCH_BENCHUTIL_H
#define FORCELINK_BENCH_BENCHUTIL_H

#include <stddef.h>

#include "crypto.h"
#include "slack.h"
#include "store.h"

/* Salesforce's shapes: a 112-character access token ("ORGID!AQ...") and
 * an 87-character refresh token ("5Aep861..."). */
#define BENCH_ACCESS_LEN	112
#define BENCH_REFRESH_LEN	87

/* Reads base64 of 32 bytes from path into *key.  Returns 0, or -1 with a
 * message on stderr. */
int	 bench_read_key(const char *path, struct crypto_key *key);

/* Fills the link for user i of a store benchmark: team T%07zu (1,000
 * users per workspace), user U%09zu. */
void	 bench_user(size_t i, struct slack_user *who);

/* Fills *l with the identity of the stand-in's alice@example.com, the
 * given instance URL and fresh random tokens of Salesforce's lengths in
 * the caller's buffers (each BENCH_*_LEN + 1 bytes). */
void	 bench_link(struct store_link *l, const char *instance_url,
	    char *access, char *refresh);

#endif

/*
 * fuzz_slack_verify: Slack request verification (slack_verify) and
 * unescaping of user text (slack_unescape).
 *
 * The input is split at its first two NUL bytes into the
 * X-Slack-Request-Timestamp header, the X-Slack-Signature header and the
 * raw body (a part the input does not have is an absent header).  The
 * secret and the clock are fixed: Slack's published example.
 *
 * Two properties are asserted against an independent computation with
 * libsodium: slack_verify() says SLACK_OK only for a signature that
 * really is v0=hex(HMAC-SHA256(secret, "v0:" ts ":" body)) with a fresh
 * timestamp; and for every body, a correct signature made for the
 * input's timestamp is accepted exactly when that timestamp is a plain
 * decimal number of at most 12 digits within SLACK_MAX_SKEW of now.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fuzz.h"
#include "slack.h"

#define SECRET	"8f742231b10e8888abcd99yyyzzz85a5"
#define NOW	((time_t)1531420618 + 100)

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	return 0;
}

/* Writes the signature Slack would send for ts and body into sig
 * (size 68). */
static void
sign(const char *ts, const uint8_t *body, size_t len, char sig[68])
{
	crypto_auth_hmacsha256_state	 st;
	unsigned char			 mac[crypto_auth_hmacsha256_BYTES];

	crypto_auth_hmacsha256_init(&st, (const unsigned char *)SECRET,
	    strlen(SECRET));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)"v0:", 3);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts,
	    strlen(ts));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)":", 1);
	crypto_auth_hmacsha256_update(&st, body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	memcpy(sig, "v0=", 3);
	sodium_bin2hex(sig + 3, 65, mac, sizeof(mac));
}

/* The timestamp rule, written out again: 1..12 decimal digits within
 * SLACK_MAX_SKEW seconds of NOW. */
static int
fresh(const char *ts)
{
	long long	 t = 0;
	size_t		 i;

	for (i = 0; ts[i] != '\0'; i++) {
		if (i == 12 || ts[i] < '0' || ts[i] > '9')
			return 0;
		t = t * 10 + (ts[i] - '0');
	}
	return i > 0 && t >= (long long)NOW - SLACK_MAX_SKEW &&
	    t <= (long long)NOW + SLACK_MAX_SKEW;
}

/* Returns the body: the bytes after the second NUL (may hold NULs). */
static const uint8_t *
body_of(const uint8_t *data, size_t size, size_t *len)
{
	const uint8_t	*p;
	int		 i;

	*len = 0;
	for (i = 0; i < 2; i++) {
		if ((p = memchr(data, '\0', size)) == NULL)
			return NULL;
		size -= (size_t)(p + 1 - data);
		data = p + 1;
	}
	*len = size;
	return data;
}

static void
check_unescape(const char *in)
{
	char	*out;
	size_t	 n = strlen(in);

	/* Exactly the room slack.h asks for: ASan sees any overflow. */
	if ((out = malloc(n + 1)) == NULL)
		abort();
	slack_unescape(in, out);
	FUZZ_REQUIRE(strlen(out) <= n);
	if (strchr(in, '&') == NULL)
		FUZZ_REQUIRE(strcmp(in, out) == 0);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char			*part[3], sig[68];
	const uint8_t		*body;
	size_t			 len;
	enum slack_verdict	 v;

	fuzz_split(data, size, part, 3);
	body = body_of(data, size, &len);
	v = slack_verify(SECRET, part[0], part[1], (const char *)body, len,
	    NOW);
	FUZZ_REQUIRE(slack_verdict_str(v) != NULL);
	if (v == SLACK_OK) {
		sign(part[0], body, len, sig);
		FUZZ_REQUIRE(fresh(part[0]));
		FUZZ_REQUIRE(strcmp(part[1], sig) == 0);
	}
	if (part[0] != NULL) {
		sign(part[0], body, len, sig);
		v = slack_verify(SECRET, part[0], sig, (const char *)body, len,
		    NOW);
		FUZZ_REQUIRE((v == SLACK_OK) == fresh(part[0]));
		/* Without a secret nothing verifies. */
		FUZZ_REQUIRE(slack_verify("", part[0], sig,
		    (const char *)body, len, NOW) != SLACK_OK);
	}
	if (part[2] != NULL)
		check_unescape(part[2]);
	check_unescape(part[0]);
	fuzz_free_parts(part, 3);
	return 0;
}

/*
 * fuzz_cookie: Cookie header parsing (form_cookie).
 *
 * The input up to its first NUL is a Cookie header as a browser sends it
 * to /oauth/callback; the bytes after that NUL, when there are any, name
 * a second cookie to look for.  Each lookup writes into an output buffer
 * of exactly the size passed, so ASan sees a write past it.
 *
 * The oracle is a second reading of the header written here from RFC
 * 6265 (pairs split at ';', optional white space trimmed around the pair,
 * the name and the value, a value in double quotes taken without them):
 * form_cookie() must find the cookie exactly when the reference finds
 * the name once and its value fits, and must return the same value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "form.h"
#include "fuzz.h"
#include "session.h"

/* Returns 1 for RFC 6265 optional white space. */
static int
ows(int c)
{
	return c == ' ' || c == '\t';
}

/*
 * The reference reading: counts the pairs of header named name and
 * copies the value of the last one (allocated) into *val.  Returns the
 * count.
 */
static size_t
reference(const char *header, const char *name, char **val)
{
	const char	*p, *end, *eq, *ne, *v, *ve;
	size_t		 n = 0;

	*val = NULL;
	for (p = header; ; p = end + 1) {
		end = p + strcspn(p, ";");
		while (p < end && ows(*p))
			p++;
		ve = end;
		while (ve > p && ows(ve[-1]))
			ve--;
		eq = memchr(p, '=', (size_t)(ve - p));
		if (eq != NULL) {
			for (ne = eq; ne > p && ows(ne[-1]); ne--)
				continue;
			for (v = eq + 1; v < ve && ows(*v); v++)
				continue;
			if (ve - v >= 2 && *v == '"' && ve[-1] == '"') {
				v++;
				ve--;
			}
			if ((size_t)(ne - p) == strlen(name) &&
			    strncmp(p, name, (size_t)(ne - p)) == 0) {
				n++;
				free(*val);
				*val = fuzz_strndup((const uint8_t *)v,
				    (size_t)(ve - v));
			}
		}
		if (*end == '\0')
			break;
	}
	return n;
}

/* Looks name up with an output of exactly outsz bytes and asserts what
 * form.h promises.  Returns form_cookie's result. */
static int
lookup(const char *header, const char *name, size_t outsz)
{
	char	*out, *big, *want;
	int	 rc;
	size_t	 len, n;

	if ((out = malloc(outsz)) == NULL || (big = malloc(4096)) == NULL)
		abort();
	memset(out, 'X', outsz);
	rc = form_cookie(header, name, out, outsz);
	FUZZ_REQUIRE(rc == 0 || rc == -1);
	n = reference(header, name, &want);
	FUZZ_REQUIRE((rc == 0) == (name[0] != '\0' && n == 1 &&
	    strlen(want) < outsz));
	if (rc == 0)
		FUZZ_REQUIRE(strcmp(out, want) == 0);
	free(want);
	if (rc == 0) {
		len = strnlen(out, outsz);
		FUZZ_REQUIRE(len < outsz);
		FUZZ_REQUIRE(strchr(out, ';') == NULL);
		FUZZ_REQUIRE(strstr(header, out) != NULL);
		FUZZ_REQUIRE(strstr(header, name) != NULL);
		FUZZ_REQUIRE(form_cookie(header, name, big, 4096) == 0);
		FUZZ_REQUIRE(strcmp(big, out) == 0);
	} else if (name[0] != '\0' && strstr(header, name) == NULL)
		FUZZ_REQUIRE(form_cookie(header, name, big, 4096) == -1);
	free(big);
	free(out);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*part[2];

	fuzz_split(data, size, part, 2);
	/* The cookie /oauth/callback reads, with its real buffer size. */
	lookup(part[0], SESSION_COOKIE, CRYPTO_TOKEN_MAX + 1);
	lookup(part[0], SESSION_COOKIE, 1);
	lookup(part[0], SESSION_COOKIE, 8);
	if (part[1] != NULL) {
		lookup(part[0], part[1], CRYPTO_TOKEN_MAX + 1);
		lookup(part[0], part[1], 16);
	}
	fuzz_free_parts(part, 2);
	return 0;
}

/*
 * fuzz_soql_roundtrip: SOQL LIKE-literal escaping as a round-trip
 * property (sf_soql_escape_like, sf_soql_search of contacts and
 * accounts).
 *
 * The input up to its first NUL is a search needle.  A SOQL string
 * literal decoder written here from Salesforce's rules (\n \r \t \b \f
 * \" \' \\ and, in LIKE, \% \_; any other escape is an error; a raw '
 * ends the literal; raw % and _ are wildcards) must give back exactly
 * the needle, minus the control bytes that sf.c documents it drops
 * (those below 0x20 other than \n \r \t \b \f, which SOQL cannot
 * express).  For the escaped literal alone no unescaped ', %, _ or
 * control byte may appear.  For the whole query the literal must decode
 * to wildcard + needle + wildcard, with no quote or backslash before or
 * after it; and the query URL-encoded with form_urlencode, as sf.c
 * sends it, must decode back to the same query.  A failed append must
 * leave the buffer as it was.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "form.h"
#include "fuzz.h"
#include "sf.h"

/* Decoded units: a byte 0..255, or a LIKE wildcard. */
#define WILD_ANY	(-1)	/* raw % */
#define WILD_ONE	(-2)	/* raw _ */

/*
 * Decodes the SOQL literal that starts at s (after its opening quote)
 * into out (room for strlen(s) units).  Stops at the closing quote and
 * points *end at it (NULL when there is none).  Returns the number of
 * units.  Aborts on an escape SOQL does not have or a raw control byte.
 */
static size_t
decode(const char *s, int *out, const char **end)
{
	size_t	 n = 0;
	unsigned char c;

	*end = NULL;
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		FUZZ_REQUIRE(c >= 0x20);
		if (c == '\'') {
			*end = s;
			break;
		}
		if (c == '%' || c == '_') {
			out[n++] = c == '%' ? WILD_ANY : WILD_ONE;
			continue;
		}
		if (c != '\\') {
			out[n++] = c;
			continue;
		}
		switch (*++s) {
		case 'n': out[n++] = '\n'; break;
		case 'r': out[n++] = '\r'; break;
		case 't': out[n++] = '\t'; break;
		case 'b': out[n++] = '\b'; break;
		case 'f': out[n++] = '\f'; break;
		case '"': case '\'': case '\\': case '%': case '_':
			out[n++] = (unsigned char)*s;
			break;
		default:
			FUZZ_REQUIRE(!"an escape SOQL does not have");
		}
	}
	return n;
}

/* Fills want with the needle as SOQL can carry it.  Returns its length. */
static size_t
expected(const char *needle, int *want)
{
	size_t		 n = 0;
	unsigned char	 c;

	for (; *needle != '\0'; needle++) {
		c = (unsigned char)*needle;
		if (c < 0x20 && c != '\n' && c != '\r' && c != '\t' &&
		    c != '\b' && c != '\f')
			continue;
		want[n++] = c;
	}
	return n;
}

/* Returns room for the units the text in b can decode to. */
static int *
units_for(const struct buf *b)
{
	int	*u;

	if ((u = calloc(b->len + 1, sizeof(*u))) == NULL)
		abort();
	return u;
}

static void
check_literal(const char *needle, const int *want, size_t nwant)
{
	struct buf	 b;
	const char	*end;
	int		*got;
	size_t		 n;

	buf_init(&b, 64 * 1024);
	FUZZ_REQUIRE(sf_soql_escape_like(&b, needle) == 0);
	got = units_for(&b);
	n = decode(buf_cstr(&b), got, &end);
	FUZZ_REQUIRE(end == NULL);	/* no unescaped quote */
	FUZZ_REQUIRE(n == nwant);
	FUZZ_REQUIRE(n == 0 || memcmp(got, want, n * sizeof(*got)) == 0);
	free(got);
	buf_free(&b);
}

/* The SOQL of a name search for needle: a contact search for a needle
 * of even length, an account search for an odd one (both escape it the
 * same way). */
static int
soql_needle(struct buf *b, const char *needle)
{
	struct sf_search	 q = { SF_KIND_CONTACT, needle, NULL,
				    SF_QUERY_LIMIT, 0, 0 };

	if (strlen(needle) % 2 == 1)
		q.kind = SF_KIND_ACCOUNT;
	return sf_soql_search(b, &q);
}

static void
check_query(const char *needle, const int *want, size_t nwant)
{
	struct buf	 q, enc;
	struct form	 f;
	const char	*open, *end, *v;
	int		*got;
	size_t		 n;

	buf_init(&q, 64 * 1024);
	FUZZ_REQUIRE(soql_needle(&q, needle) == 0);
	got = units_for(&q);
	FUZZ_REQUIRE((open = strchr(buf_cstr(&q), '\'')) != NULL);
	FUZZ_REQUIRE(memchr(q.data, '\\', (size_t)(open - q.data)) == NULL);
	n = decode(open + 1, got, &end);
	FUZZ_REQUIRE(end != NULL);
	FUZZ_REQUIRE(strpbrk(end + 1, "'\\\"") == NULL);
	FUZZ_REQUIRE(n == nwant + 2);
	FUZZ_REQUIRE(got[0] == WILD_ANY && got[n - 1] == WILD_ANY);
	FUZZ_REQUIRE(nwant == 0 ||
	    memcmp(got + 1, want, nwant * sizeof(*got)) == 0);
	free(got);
	/* The second layer: the URL query parameter. */
	buf_init(&enc, 256 * 1024);
	FUZZ_REQUIRE(buf_puts(&enc, "q=") == 0);
	FUZZ_REQUIRE(form_urlencode(&enc, buf_cstr(&q)) == 0);
	FUZZ_REQUIRE(form_parse(buf_cstr(&enc), enc.len, &f) == FORM_OK);
	FUZZ_REQUIRE(f.npairs == 1 && (v = form_get(&f, "q")) != NULL);
	FUZZ_REQUIRE(strcmp(v, buf_cstr(&q)) == 0);
	form_free(&f);
	buf_free(&enc);
	buf_free(&q);
}

/* A buffer too small for the result must be left as it was. */
static void
check_ceiling(const char *needle)
{
	struct buf	 b;

	buf_init(&b, 24);
	FUZZ_REQUIRE(buf_puts(&b, "kept") == 0);
	if (sf_soql_escape_like(&b, needle) == -1)
		FUZZ_REQUIRE(strcmp(buf_cstr(&b), "kept") == 0);
	buf_reset(&b);
	FUZZ_REQUIRE(buf_puts(&b, "kept") == 0);
	FUZZ_REQUIRE(soql_needle(&b, needle) == -1);
	FUZZ_REQUIRE(strcmp(buf_cstr(&b), "kept") == 0);
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*needle;
	int	*want;
	size_t	 nwant;

	needle = fuzz_strndup(data, size);
	if ((want = calloc(size + 1, sizeof(*want))) == NULL)
		abort();
	nwant = expected(needle, want);
	check_literal(needle, want, nwant);
	check_query(needle, want, nwant);
	check_ceiling(needle);
	free(want);
	free(needle);
	return 0;
}

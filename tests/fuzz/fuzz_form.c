/*
 * fuzz_form: form bodies and query strings (form_parse, form_validate,
 * form_get, form_urlencode).
 *
 * The input is a raw body as Slack would POST it to /contact, and also a
 * query string as /oauth/start receives it.  Beyond "no crash, no leak"
 * the harness asserts what form.h promises: an accepted input holds no
 * NUL and at most FORM_MAX_PAIRS pairs, every key is non-empty, vallen
 * is the value's length; when validation passes, each declared field is
 * unique, within its maximum and accepted by its validator; and
 * re-encoding the pairs with form_urlencode() parses back to exactly the
 * same pairs.
 */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "fields.h"
#include "form.h"
#include "fuzz.h"
#include "slack.h"

/* Asserts the shape form.h promises for an accepted input. */
static void
check_pairs(const struct form *f, const uint8_t *data, size_t size)
{
	size_t	 i;

	FUZZ_REQUIRE(memchr(data, '\0', size) == NULL);
	FUZZ_REQUIRE(f->npairs <= FORM_MAX_PAIRS);
	FUZZ_REQUIRE(f->npairs == 0 || f->pairs != NULL);
	for (i = 0; i < f->npairs; i++) {
		FUZZ_REQUIRE(f->pairs[i].key[0] != '\0');
		FUZZ_REQUIRE(strlen(f->pairs[i].val) == f->pairs[i].vallen);
		/* The first of equal keys is what form_get returns. */
		FUZZ_REQUIRE(form_get(f, f->pairs[i].key) != NULL);
	}
}

/* Asserts that every declared field passed what its table says, and
 * that the field map holds what a look-up by name finds. */
static void
check_valid(const struct form *f, const struct form_field *t, size_t n,
    const char *const *val)
{
	const char	*v;
	size_t		 i, j, count, len;
	form_validator	 valid;

	for (i = 0; i < n; i++) {
		for (j = count = 0; j < f->npairs; j++)
			count += strcmp(f->pairs[j].key, t[i].name) == 0;
		FUZZ_REQUIRE(count <= 1);
		v = form_get(f, t[i].name);
		FUZZ_REQUIRE(val[i] == v);
		FUZZ_REQUIRE((v != NULL) == (count == 1));
		if (v == NULL || *v == '\0') {
			FUZZ_REQUIRE(!t[i].required);
			continue;
		}
		len = strlen(v);
		FUZZ_REQUIRE(len <= t[i].maxlen);
		valid = t[i].valid != NULL ? t[i].valid : form_valid_utf8;
		FUZZ_REQUIRE(valid(v, len));
	}
}

/* Re-encodes the pairs and asserts they parse back the same. */
static void
check_roundtrip(const struct form *f)
{
	struct buf	 b;
	struct form	 g;
	size_t		 i;

	buf_init(&b, 1024 * 1024);
	for (i = 0; i < f->npairs; i++) {
		FUZZ_REQUIRE(i == 0 || buf_putc(&b, '&') == 0);
		FUZZ_REQUIRE(form_urlencode(&b, f->pairs[i].key) == 0);
		FUZZ_REQUIRE(buf_putc(&b, '=') == 0);
		FUZZ_REQUIRE(form_urlencode(&b, f->pairs[i].val) == 0);
	}
	FUZZ_REQUIRE(form_parse(buf_cstr(&b), b.len, &g) == FORM_OK);
	FUZZ_REQUIRE(g.npairs == f->npairs);
	for (i = 0; i < f->npairs; i++) {
		FUZZ_REQUIRE(strcmp(g.pairs[i].key, f->pairs[i].key) == 0);
		FUZZ_REQUIRE(g.pairs[i].vallen == f->pairs[i].vallen);
		FUZZ_REQUIRE(strcmp(g.pairs[i].val, f->pairs[i].val) == 0);
	}
	form_free(&g);
	buf_free(&b);
}

static void
check_table(const struct form *f, const struct form_field *t, size_t n)
{
	const char		*bad = "unset", *val[SLASH__MAX];
	enum form_result	 rc;
	size_t			 i;

	FUZZ_REQUIRE(n <= SLASH__MAX);
	rc = form_validate(f, t, n, val, &bad);
	FUZZ_REQUIRE(rc != FORM_BAD_ENCODING && rc != FORM_TOO_MANY);
	FUZZ_REQUIRE((rc == FORM_OK) == (bad == NULL));
	FUZZ_REQUIRE(form_result_str(rc) != NULL);
	if (rc == FORM_OK)
		check_valid(f, t, n, val);
	else
		for (i = 0; i < n; i++)
			FUZZ_REQUIRE(val[i] == NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct form		 f;
	enum form_result	 rc;

	/* libFuzzer's buffer has exactly size bytes and no terminator:
	 * ASan sees any read past the end. */
	rc = form_parse((const char *)data, size, &f);
	if (rc != FORM_OK) {
		FUZZ_REQUIRE(f.pairs == NULL && f.npairs == 0);
		return 0;
	}
	check_pairs(&f, data, size);
	check_table(&f, fields_slash, SLASH__MAX);
	check_table(&f, fields_login, LOGIN__MAX);
	check_roundtrip(&f);
	form_free(&f);
	return 0;
}

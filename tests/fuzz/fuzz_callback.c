/*
 * fuzz_callback: the query string of /oauth/callback, as Salesforce (or
 * anyone) sends it: form_parse, then form_validate with the callback's
 * field table, then the form_get calls the handler makes.
 *
 * Asserted for an accepted query: state (when present) is a base64url
 * token of at most 128 bytes, code and error are printable ASCII within
 * their maxima, error_description and error_uri are valid UTF-8 without
 * control bytes, and no declared field appears twice.
 */
#include <stdint.h>
#include <string.h>

#include "fields.h"
#include "form.h"
#include "fuzz.h"

/* Copied from cgi/oauth_callback.c. */

/* Asserts that an accepted value obeys its field's declaration. */
static void
check_field(const struct form *f, const struct form_field *fd)
{
	const char	*v;
	size_t		 i, n, len;

	for (i = n = 0; i < f->npairs; i++)
		n += strcmp(f->pairs[i].key, fd->name) == 0;
	FUZZ_REQUIRE(n <= 1);
	if ((v = form_get(f, fd->name)) == NULL || *v == '\0')
		return;
	len = strlen(v);
	FUZZ_REQUIRE(len <= fd->maxlen);
	if (fd->valid == form_valid_token) {
		for (i = 0; i < len; i++)
			FUZZ_REQUIRE(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "abcdefghijklmnopqrstuvwxyz0123456789-_",
			    v[i]) != NULL);
	} else if (fd->valid == form_valid_printable) {
		for (i = 0; i < len; i++)
			FUZZ_REQUIRE(v[i] >= 0x20 && v[i] <= 0x7e);
	} else {
		FUZZ_REQUIRE(form_utf8_ok(v, len));
		for (i = 0; i < len; i++)
			FUZZ_REQUIRE((unsigned char)v[i] >= 0x20 ||
			    v[i] == '\t' || v[i] == '\n' || v[i] == '\r');
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct form		 f;
	enum form_result	 rc;
	const char		*bad, *val[CALLBACK__MAX];
	size_t			 i;

	if (form_parse((const char *)data, size, &f) != FORM_OK)
		return 0;
	rc = form_validate(&f, fields_callback, CALLBACK__MAX, val, &bad);
	if (rc == FORM_OK) {
		FUZZ_REQUIRE(bad == NULL);
		for (i = 0; i < CALLBACK__MAX; i++) {
			FUZZ_REQUIRE(val[i] == form_get(&f,
			    fields_callback[i].name));
			check_field(&f, &fields_callback[i]);
		}
	} else {
		FUZZ_REQUIRE(bad != NULL);
		FUZZ_REQUIRE(rc == FORM_DUPLICATE || rc == FORM_TOO_LONG ||
		    rc == FORM_INVALID);
	}
	form_free(&f);
	return 0;
}

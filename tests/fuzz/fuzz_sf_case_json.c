/*
 * fuzz_sf_case_json: the Case describe and composite replies
 * (sf_case.h), and what the Case form makes of them (casefrm.h).
 *
 * The first byte chooses: 'd' a describe reply; 'c' a composite reply to
 * a create without an Account; 'a' one with an Account; the rest is the
 * reply body.
 *
 * Asserted beyond "no crash, no leak": a describe read offers at most
 * SF_CASE_PICK_MAX values, each non-empty and within SF_CASE_VALUE_MAX
 * bytes, labels of at most 75 characters without control bytes, a
 * default that is one of them or none; a composite read is either a Case
 * created (a 15- or 18-character id, a CaseNumber of printable
 * characters, no error) or a refusal with a reason (an error, or the
 * Account missing -- only when one was asked for), every error code of
 * [A-Z0-9_], its message without control bytes, at most
 * SF_CASE_FIELDS_MAX field names of [A-Za-z0-9_.]; and whatever was
 * read, the Case form re-opened with it (casefrm_map, casefrm_view_form)
 * is JSON within Slack's view limits, and the message saying why no Case
 * was made has no raw "<" and only Slack's entities in its text.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "casefrm.h"
#include "fuzz.h"
#include "sf_case.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* No control byte in s. */
static int
clean(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return 0;
	return 1;
}

/* Every byte of s in set, or alphanumeric when alnum is set; not "". */
static int
only(const char *s, const char *set, int alnum)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!(alnum && isalnum((unsigned char)*s)) &&
		    !((isupper((unsigned char)*s) ||
		    isdigit((unsigned char)*s)) && !alnum) &&
		    strchr(set, *s) == NULL)
			return 0;
	return 1;
}

static void
check_describe(const char *s, size_t len)
{
	struct sf_case_picklist	 p;
	enum sf_result		 r;
	size_t			 i;

	memset(&p, 'X', sizeof(p));
	r = sf_case_parse_describe(s, len, &p);
	FUZZ_REQUIRE(r == SF_OK || r == SF_MALFORMED || r == SF_ERROR);
	if (r != SF_OK)
		return;
	FUZZ_REQUIRE(p.n <= SF_CASE_PICK_MAX);
	FUZZ_REQUIRE(p.def >= -1 && p.def < (int)p.n);
	for (i = 0; i < p.n; i++) {
		FUZZ_REQUIRE(p.value[i][0] != '\0');
		FUZZ_REQUIRE(strlen(p.value[i]) <= SF_CASE_VALUE_MAX);
		FUZZ_REQUIRE(sf_case_chars(p.label[i]) <= 75);
		FUZZ_REQUIRE(clean(p.label[i]));
	}
}

/* The form re-opened with r's problems: JSON within Slack's limits. */
static void
check_form(const struct sf_case_result *r)
{
	struct casefrm_problems	 pr;
	struct json_object	*v, *blocks;
	struct casefrm		 f;
	char			*view;

	casefrm_init(&f);
	sf_case_standard(&f.pri);
	casefrm_map(r, "Acme", &pr);
	FUZZ_REQUIRE(clean(pr.top));
	view = casefrm_view_form(&f, "key", &pr);
	FUZZ_REQUIRE(view != NULL);
	FUZZ_REQUIRE(strlen(view) <= 250 * 1000);
	v = json_tokener_parse(view);
	FUZZ_REQUIRE(v != NULL);
	FUZZ_REQUIRE(json_object_object_get_ex(v, "blocks", &blocks) &&
	    json_object_array_length(blocks) <= 100);
	json_object_put(v);
	free(view);
	/* The message saying so: Salesforce's words escaped everywhere. */
	view = casefrm_message_problems(&pr);
	FUZZ_REQUIRE(view != NULL);
	v = json_tokener_parse(view);
	FUZZ_REQUIRE(v != NULL);
	FUZZ_REQUIRE(json_object_object_get_ex(v, "text", &blocks));
	FUZZ_REQUIRE(strchr(json_object_get_string(blocks), '<') == NULL);
	FUZZ_REQUIRE(fuzz_entities_ok(json_object_get_string(blocks),
	    strlen(json_object_get_string(blocks)), fuzz_slack_entities));
	json_object_put(v);
	free(view);
	casefrm_free(&f);
}

static void
check_composite(const char *s, size_t len, int account)
{
	static const struct sf_case_new plain = { "S", "D", "High", NULL };
	static const struct sf_case_new acct = { "S", "D", "High", "Acme" };
	struct sf_case_result	 r;
	enum sf_result		 rv;
	size_t			 i, k;

	memset(&r, 'X', sizeof(r));
	rv = sf_case_parse_composite(s, len, account ? &acct : &plain, &r);
	FUZZ_REQUIRE(rv == SF_OK || rv == SF_MALFORMED || rv == SF_ERROR);
	if (rv != SF_OK)
		return;
	FUZZ_REQUIRE(r.nerr <= SF_CASE_ERRORS_MAX);
	if (!account)
		FUZZ_REQUIRE(r.accounts == -1 && !r.account_missing);
	if (r.created) {
		FUZZ_REQUIRE(r.nerr == 0 && !r.account_missing);
		FUZZ_REQUIRE((strlen(r.id) == 15 || strlen(r.id) == 18) &&
		    only(r.id, "", 1));
		for (i = 0; r.number[i] != '\0'; i++)
			FUZZ_REQUIRE(r.number[i] > ' ' && r.number[i] <= '~');
		FUZZ_REQUIRE(i > 0);
		if (account)
			FUZZ_REQUIRE(r.accounts >= 1 &&
			    (strlen(r.account_id) == 15 ||
			    strlen(r.account_id) == 18) &&
			    clean(r.account_name));
	} else
		FUZZ_REQUIRE(r.nerr > 0 || r.account_missing);
	for (i = 0; i < r.nerr; i++) {
		FUZZ_REQUIRE(only(r.err[i].code, "_", 0));
		FUZZ_REQUIRE(clean(r.err[i].message));
		FUZZ_REQUIRE(r.err[i].nfields <= SF_CASE_FIELDS_MAX);
		for (k = 0; k < r.err[i].nfields; k++)
			FUZZ_REQUIRE(only(r.err[i].fields[k], "_.", 1));
	}
	check_form(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*body = (const char *)data + 1;

	if (size < 1)
		return 0;
	switch (data[0]) {
	case 'd':
		check_describe(body, size - 1);
		break;
	case 'c':
	case 'a':
		check_composite(body, size - 1, data[0] == 'a');
		break;
	default:
		break;
	}
	return 0;
}

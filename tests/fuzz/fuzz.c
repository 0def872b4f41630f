/*
 * fuzz: helpers and shared properties of the libFuzzer harnesses (see
 * fuzz.h).
 *
 * The message checker is written from Slack's rules, not from render.c:
 * it parses the JSON back with json-c and walks every text in it, so a
 * change in how render.c builds a message cannot make the check agree
 * with a mistake.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fuzz.h"
#include "slack.h"

/* Slack truncates a top-level text past 40,000 characters. */
#define FUZZ_TEXT_MAX	40000

const char *const fuzz_slack_entities[] = { "&amp;", "&lt;", "&gt;", NULL };

void
fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "fuzz: property violated at %s:%d: %s\n", file, line,
	    what);
	abort();
}

char *
fuzz_strndup(const uint8_t *data, size_t n)
{
	char	*s;

	if ((s = malloc(n + 1)) == NULL)
		abort();
	if (n > 0)
		memcpy(s, data, n);
	s[n] = '\0';
	return s;
}

void
fuzz_split(const uint8_t *data, size_t size, char **part, size_t n)
{
	const uint8_t	*nul;
	size_t		 i, len;

	for (i = 0; i < n; i++)
		part[i] = NULL;
	for (i = 0; i < n; i++) {
		nul = i + 1 < n ? memchr(data, '\0', size) : NULL;
		len = nul != NULL ? (size_t)(nul - data) : size;
		part[i] = fuzz_strndup(data, len);
		if (nul == NULL)
			break;
		data = nul + 1;
		size -= len + 1;
	}
}

void
fuzz_free_parts(char **part, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(part[i]);
		part[i] = NULL;
	}
}

/* Returns 1 when the len bytes at s start with one of ents. */
static int
fuzz_entity_at(const char *s, size_t len, const char *const *ents)
{
	size_t	 k, el;

	for (k = 0; ents[k] != NULL; k++) {
		el = strlen(ents[k]);
		if (len >= el && memcmp(s, ents[k], el) == 0)
			return 1;
	}
	return 0;
}

int
fuzz_entities_ok(const char *s, size_t len, const char *const *ents)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (s[i] == '&' && !fuzz_entity_at(s + i, len - i, ents))
			return 0;
	return 1;
}

/* Returns the length of the link prefix of links that s starts with, or
 * 0 when none does. */
static size_t
fuzz_link_prefix(const char *s, size_t len, const char *const *links)
{
	size_t	 k, pl;

	for (k = 0; links != NULL && links[k] != NULL; k++) {
		pl = strlen(links[k]);
		if (len >= pl && memcmp(s, links[k], pl) == 0)
			return pl;
	}
	return 0;
}

/*
 * Checks the link that starts at s[0] == '<' (len bytes left).  Returns
 * its length up to and including the '>'.
 */
static size_t
fuzz_check_link(const char *s, size_t len, const char *const *links)
{
	size_t	 i, bar = 0;
	unsigned char c;

	FUZZ_REQUIRE(fuzz_link_prefix(s + 1, len - 1, links) > 0);
	for (i = 1; i < len && s[i] != '>'; i++) {
		c = (unsigned char)s[i];
		FUZZ_REQUIRE(c != '<');
		if (bar == 0) {
			FUZZ_REQUIRE(c > 0x20 && c != 0x7f);
			if (c == '|')
				bar = i;
		}
	}
	FUZZ_REQUIRE(i < len);		/* the link is closed */
	if (bar > 0)
		FUZZ_REQUIRE(fuzz_entities_ok(s + bar + 1, i - bar - 1,
		    fuzz_slack_entities));
	return i + 1;
}

void
fuzz_check_mrkdwn(const char *s, size_t len, const char *const *links)
{
	size_t	 i;

	for (i = 0; i < len; ) {
		FUZZ_REQUIRE(s[i] != '>');
		if (s[i] == '<') {
			i += fuzz_check_link(s + i, len - i, links);
			continue;
		}
		if (s[i] == '&')
			FUZZ_REQUIRE(fuzz_entity_at(s + i, len - i,
			    fuzz_slack_entities));
		i++;
	}
}

/* Walks a block (or any value inside one) and checks every text
 * object in it. */
static void
fuzz_check_block(struct json_object *v, const char *const *links)
{
	struct json_object	*type, *text;
	size_t			 i, n;

	if (json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		for (i = 0; i < n; i++)
			fuzz_check_block(json_object_array_get_idx(v, i),
			    links);
		return;
	}
	if (!json_object_is_type(v, json_type_object))
		return;
	if (json_object_object_get_ex(v, "type", &type) &&
	    json_object_object_get_ex(v, "text", &text) &&
	    json_object_is_type(text, json_type_string)) {
		FUZZ_REQUIRE(json_object_get_string_len(text) <=
		    SLACK_MAX_TEXT);
		if (strcmp(json_object_get_string(type), "mrkdwn") == 0)
			fuzz_check_mrkdwn(json_object_get_string(text),
			    (size_t)json_object_get_string_len(text), links);
	}
	json_object_object_foreach(v, key, val) {
		(void)key;
		fuzz_check_block(val, links);
	}
}

void
fuzz_check_message(const char *json, const char *const *links)
{
	struct json_tokener	*tok;
	struct json_object	*msg, *v;
	size_t			 len;

	FUZZ_REQUIRE(json != NULL);
	len = strlen(json);
	if ((tok = json_tokener_new()) == NULL)
		abort();
	json_tokener_set_flags(tok,
	    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	msg = json_tokener_parse_ex(tok, json, (int)len);
	FUZZ_REQUIRE(json_tokener_get_error(tok) == json_tokener_success);
	FUZZ_REQUIRE(json_tokener_get_parse_end(tok) == len);
	json_tokener_free(tok);
	FUZZ_REQUIRE(json_object_is_type(msg, json_type_object));
	FUZZ_REQUIRE(json_object_object_get_ex(msg, "response_type", &v) &&
	    strcmp(json_object_get_string(v), "ephemeral") == 0);
	FUZZ_REQUIRE(json_object_object_get_ex(msg, "text", &v) &&
	    json_object_is_type(v, json_type_string));
	FUZZ_REQUIRE(json_object_get_string_len(v) <= FUZZ_TEXT_MAX);
	fuzz_check_mrkdwn(json_object_get_string(v),
	    (size_t)json_object_get_string_len(v), links);
	FUZZ_REQUIRE(json_object_object_get_ex(msg, "blocks", &v) &&
	    json_object_is_type(v, json_type_array));
	FUZZ_REQUIRE(json_object_array_length(v) <= SLACK_MAX_BLOCKS);
	fuzz_check_block(v, links);
	json_object_put(msg);
}

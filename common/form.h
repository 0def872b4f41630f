/*
 * form: application/x-www-form-urlencoded bodies, query strings and
 * Cookie headers, validated at the edge.
 *
 * A program declares the fields it accepts in a table (name, maximum
 * decoded length, validator, required).  form_parse() decodes the whole
 * input strictly: a malformed percent escape or an encoded NUL anywhere
 * rejects the input, because a request we cannot read exactly is a
 * request we must not act on.  Unknown keys are kept but ignored by
 * form_validate(); a declared key that appears twice is rejected, so two
 * layers can never disagree about which value counts.  Handlers read
 * fields only from the field map form_validate() fills.
 */
#ifndef FORCELINK_FORM_H
#define FORCELINK_FORM_H

#include <stddef.h>

/* Most pairs one input may hold; more is rejected (FORM_TOO_MANY). */
#define FORM_MAX_PAIRS	64

enum form_result {
	FORM_OK,
	FORM_BAD_ENCODING,	/* bad %XX, encoded NUL, or a key=value with no key */
	FORM_TOO_MANY,		/* more than FORM_MAX_PAIRS pairs */
	FORM_DUPLICATE,		/* a declared field appears twice */
	FORM_MISSING,		/* a required field is absent or empty */
	FORM_TOO_LONG,		/* a field is longer than its maximum */
	FORM_INVALID,		/* a field fails its validator */
	FORM_NOMEM
};

struct form_pair {
	char	*key;		/* decoded, NUL-terminated */
	char	*val;		/* decoded, NUL-terminated */
	size_t	 vallen;	/* bytes in val (val has no NUL inside) */
};

struct form {
	struct form_pair	*pairs;
	size_t			 npairs;
};

/* Returns 1 when the value (len bytes) is acceptable, else 0. */
typedef int (*form_validator)(const char *, size_t len);

struct form_field {
	const char	*name;
	size_t		 maxlen;	/* longest decoded value accepted */
	form_validator	 valid;		/* NULL: any valid UTF-8 */
	int		 required;	/* 1: absent or empty is FORM_MISSING */
};

/*
 * Decodes len bytes of key=value pairs separated by '&' ('+' is a space,
 * %XX a byte).  Empty segments ("a=1&&b=2") are skipped; a segment with no
 * '=' is a key with an empty value.  On FORM_OK *f holds the pairs (free
 * them with form_free); on any other result *f is empty.
 */
enum form_result form_parse(const char *, size_t len, struct form *f);

/*
 * Checks the pairs against a table of n declared fields.  An empty value
 * of a field that is not required is accepted without calling its
 * validator (enterprise_id is empty outside Enterprise Grid).  On FORM_OK
 * val (when not NULL; n entries) becomes the request's field map, kcgi
 * style: val[i] is the value of table[i], or NULL when it is absent, so
 * that a handler reads its fields by the table's enum (fields.h) and
 * never by name.  On failure every val[i] is NULL and *bad (when not
 * NULL) names the offending field.
 */
enum form_result form_validate(const struct form *,
	    const struct form_field *table, size_t n, const char **val,
	    const char **bad);

/*
 * form_parse() of in (NULL: FORM_BAD_ENCODING), then form_validate()
 * against the table: a query string or body read and checked in one
 * call: val is the field map when it returns FORM_OK, all NULL
 * otherwise.  *f is released with form_free() whatever the result.
 */
enum form_result form_parse_fields(const char *in, struct form *f,
	    const struct form_field *table, size_t n, const char **val,
	    const char **bad);

/* Returns the value of key, or NULL when it is absent.  With duplicates
 * (only possible for undeclared keys) the first one. */
const char	*form_get(const struct form *, const char *key);

/* Releases the pairs; the struct may be reused. */
void		 form_free(struct form *);

/* A short description of a result, for logs and 400 bodies. */
const char	*form_result_str(enum form_result);

/*
 * Finds cookie name in a Cookie header ("a=1; b=2").  Copies its value
 * into out (size outsz) and returns 0; returns -1 when the cookie is
 * absent, appears more than once, or its value does not fit.
 */
int		 form_cookie(const char *header, const char *name, char *out,
		    size_t outsz);

/*
 * Validators for form_field tables.  Each returns 1 when the value (len
 * bytes) is acceptable:
 *  - form_valid_utf8: UTF-8 with no control bytes but tab, LF and CR;
 *  - form_valid_slack_id: 1 to 32 of [A-Z0-9], as Slack ids are;
 *  - form_valid_token: 1 to 128 of the base64url alphabet;
 *  - form_valid_https_url: https://host/... with no user part, spaces,
 *    quotes, angle brackets, backslashes or control bytes;
 *  - form_valid_printable: printable ASCII.
 */
int	 form_valid_utf8(const char *, size_t);
int	 form_valid_slack_id(const char *, size_t);
int	 form_valid_token(const char *, size_t);
int	 form_valid_https_url(const char *, size_t);
int	 form_valid_printable(const char *, size_t);

/* The value of hex digit c (either case), or -1: the one reader of
 * percent escapes, JSON's \u escapes and hex in URLs. */
int	 form_hexval(int c);

/*
 * Returns the length of the well-formed UTF-8 sequence at s (at most len
 * bytes, len > 0), or 0 when there is none: a stray continuation byte, a
 * truncated sequence, an overlong form, a surrogate or a code point past
 * U+10FFFF.  The one UTF-8 reader of the tree.
 */
size_t	 form_utf8_seq(const unsigned char *s, size_t len);

/* Returns 1 when s (len bytes) is well-formed UTF-8 (no overlongs, no
 * surrogates, nothing past U+10FFFF), else 0. */
int	 form_utf8_ok(const char *, size_t len);

/*
 * Percent-encodes s for a URL query or a form body: unreserved characters
 * (A-Z a-z 0-9 - . _ ~) stay, everything else becomes %XX.  Appends to b
 * and returns 0, or -1 past b's ceiling.
 */
struct buf;
int	 form_urlencode(struct buf *b, const char *s);

/*
 * Encodes a SOQL statement for the q= of Salesforce's query resource as
 * its documentation writes it ("q=SELECT+name+from+Account"): a space
 * becomes '+', ',' and '\'' stay (both are sub-delimiters a query may
 * hold), the rest as form_urlencode().  The URL is a third shorter, and
 * libcurl handles it byte by byte several times per transfer.
 */
int	 form_soqlencode(struct buf *b, const char *s);

#endif

/*
 * sf: the Salesforce REST and OAuth client (see sf.h).
 *
 * Owns everything forcelink says to Salesforce and believes from it: the
 * form bodies of the token and revoke calls, the authorize URL, the SOQL
 * of the searches (the user's text with its two layers of escaping; an
 * owner id, a limit and an offset checked and printed as numbers and
 * ids, never text), and the strict
 * reading of every reply.  A reply is trusted only after all of it has
 * been parsed as strict JSON (strict grammar with a depth limit, UTF-8
 * without overlongs or surrogates, no raw control bytes, finite numbers,
 * nothing after the value: sf_j_parse for the replies whose fields are
 * read, json-c in strict mode plus those checks for error replies and
 * sf_json_parse_strict) and every field used has the documented type
 * and a bounded length; anything else is SF_MALFORMED.  Token replies are additionally
 * verified (signature, Salesforce hosts) before the caller stores them.
 * Transport trouble of any kind is SF_TRANSIENT: the user gets a friendly
 * "try again" and the log gets the detail.
 */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>
#include <json-c/json_visit.h>

#include "buf.h"
#include "config.h"
#include "crypto.h"
#include "form.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "sf.h"

#define SF_JSON_DEPTH		16
/* Longest raw member name compared with its escapes decoded: a longer
 * one decodes to more than a sixth of it, 21 bytes, longer than any name
 * we look up. */
#define SF_JKEY_MAX		128
/* Longest strings accepted from a reply. */
#define SF_TOKEN_MAX		4096	/* access and refresh tokens */
#define SF_URL_MAX		1024	/* instance_url, identity URL */
#define SF_ID_MAX		64	/* record, user and org ids */
#define SF_NAME_MAX		512	/* names, titles, e-mail, phones */
#define SF_ISSUED_MAX		32	/* issued_at: milliseconds, digits */
#define SF_SIGNATURE_MAX	128	/* base64 of an HMAC-SHA256 */
#define SF_DATE_MAX		32	/* a date field: YYYY-MM-DD */
/* Longest number read (a longer one is refused: no reply has one). */
#define SF_JNUM_MAX		64
/* Ceilings of what we build. */
#define SF_BODY_MAX		(64 * 1024)	/* form bodies */
#define SF_REQURL_MAX		(64 * 1024)	/* request URLs */
#define SF_SOQL_MAX		(16 * 1024)

#define SF_FORM_TYPE		"application/x-www-form-urlencoded"


/* Host suffixes Salesforce serves instances and identity URLs from; the
 * leading dot makes the match end at a label boundary. */
static const char *const sf_host_suffixes[] = {
	".salesforce.com",
	".force.com",
	".salesforce.mil",
	".cloudforce.com",
	".database.com",
};

/* One string member of a reply object and where it goes. */
struct sf_field {
	const char	*key;
	size_t		 max;		/* longest accepted */
	int		 required;	/* absent, null or "" is malformed */
	int		(*valid)(const char *, size_t);	/* NULL: any */
	size_t		 off;		/* offset of the char * in the struct */
	int		 number;	/* a JSON number, kept as its text */
};

static int	sf_valid_id(const char *, size_t);
static int	sf_valid_opaque(const char *, size_t);
static int	sf_valid_digits(const char *, size_t);
static int	sf_valid_iso(const char *, size_t);

static const struct sf_field sf_token_fields[] = {
	{ "access_token", SF_TOKEN_MAX, 1, sf_valid_opaque,
	    offsetof(struct sf_tokens, access_token), 0 },
	{ "refresh_token", SF_TOKEN_MAX, 0, sf_valid_opaque,
	    offsetof(struct sf_tokens, refresh_token), 0 },
	{ "instance_url", SF_URL_MAX, 1, sf_valid_opaque,
	    offsetof(struct sf_tokens, instance_url), 0 },
	{ "id", SF_URL_MAX, 1, sf_valid_opaque,
	    offsetof(struct sf_tokens, id), 0 },
	{ "issued_at", SF_ISSUED_MAX, 1, sf_valid_digits,
	    offsetof(struct sf_tokens, issued_at), 0 },
	{ "signature", SF_SIGNATURE_MAX, 1, sf_valid_opaque,
	    offsetof(struct sf_tokens, signature), 0 },
};

static const struct sf_field sf_userinfo_fields[] = {
	{ "user_id", SF_ID_MAX, 1, sf_valid_id,
	    offsetof(struct sf_userinfo, user_id), 0 },
	{ "organization_id", SF_ID_MAX, 1, sf_valid_id,
	    offsetof(struct sf_userinfo, org_id), 0 },
	{ "preferred_username", SF_NAME_MAX, 1, NULL,
	    offsetof(struct sf_userinfo, username), 0 },
	{ "name", SF_NAME_MAX, 0, NULL,
	    offsetof(struct sf_userinfo, name), 0 },
	{ "email", SF_NAME_MAX, 0, NULL,
	    offsetof(struct sf_userinfo, email), 0 },
};

#define SF_REC(m)	offsetof(struct sf_record, m)

static const struct sf_field sf_contact_fields[] = {
	{ "Id", SF_ID_MAX, 1, sf_valid_id, SF_REC(id), 0 },
	{ "Name", SF_NAME_MAX, 1, NULL, SF_REC(name), 0 },
	{ "Title", SF_NAME_MAX, 0, NULL, SF_REC(title), 0 },
	{ "Email", SF_NAME_MAX, 0, NULL, SF_REC(email), 0 },
	{ "Phone", SF_NAME_MAX, 0, NULL, SF_REC(phone), 0 },
	{ "MobilePhone", SF_NAME_MAX, 0, NULL, SF_REC(mobile), 0 },
};

static const struct sf_field sf_account_record_fields[] = {
	{ "Id", SF_ID_MAX, 1, sf_valid_id, SF_REC(id), 0 },
	{ "Name", SF_NAME_MAX, 1, NULL, SF_REC(name), 0 },
	{ "Industry", SF_NAME_MAX, 0, NULL, SF_REC(industry), 0 },
	{ "BillingCity", SF_NAME_MAX, 0, NULL, SF_REC(city), 0 },
	{ "Phone", SF_NAME_MAX, 0, NULL, SF_REC(phone), 0 },
	{ "Website", SF_NAME_MAX, 0, NULL, SF_REC(website), 0 },
};

static const struct sf_field sf_opportunity_fields[] = {
	{ "Id", SF_ID_MAX, 1, sf_valid_id, SF_REC(id), 0 },
	{ "Name", SF_NAME_MAX, 1, NULL, SF_REC(name), 0 },
	{ "StageName", SF_NAME_MAX, 0, NULL, SF_REC(stage), 0 },
	{ "CloseDate", SF_DATE_MAX, 0, NULL, SF_REC(close_date), 0 },
	{ "Amount", SF_JNUM_MAX, 0, NULL, SF_REC(amount), 1 },
	{ "CurrencyIsoCode", 3, 0, sf_valid_iso, SF_REC(currency), 0 },
};

/* The Account of a contact or an opportunity. */
static const struct sf_field sf_account_fields[] = {
	{ "Id", SF_ID_MAX, 1, sf_valid_id, SF_REC(account_id), 0 },
	{ "Name", SF_NAME_MAX, 1, NULL, SF_REC(account_name), 0 },
};

/*
 * A kind of search: its SOQL and how its records read.  The select list
 * is head, then (opportunities in a multi-currency org) currency, then
 * tail; the Account relationship is read when account is set.
 */
struct sf_kind_def {
	const char		*name;
	const char		*plural;
	const char		*head;
	const char		*currency;
	const char		*tail;
	const char		*where;		/* up to the needle or owner */
	const char		*order;		/* after the closing quote */
	const struct sf_field	*fields;
	size_t			 nfields;
	int			 account;
	int			 like;		/* a needle, else an owner */
};

#define SF_FIELDS(f)	(f), sizeof(f) / sizeof((f)[0])

static const struct sf_kind_def sf_kinds[SF_KIND__MAX] = {
	[SF_KIND_CONTACT] = { "contact", "contacts",
	    "SELECT Id, Name, Title, Email, Phone, MobilePhone", NULL,
	    ", Account.Id, Account.Name FROM Contact",
	    " WHERE Name LIKE '%", "%' ORDER BY Name, Id",
	    SF_FIELDS(sf_contact_fields), 1, 1 },
	[SF_KIND_ACCOUNT] = { "account", "accounts",
	    "SELECT Id, Name, Industry, BillingCity, Phone, Website", NULL,
	    " FROM Account",
	    " WHERE Name LIKE '%", "%' ORDER BY Name, Id",
	    SF_FIELDS(sf_account_record_fields), 0, 1 },
	[SF_KIND_OPPORTUNITY] = { "opportunity", "opportunities",
	    "SELECT Id, Name, StageName, CloseDate, Amount",
	    ", CurrencyIsoCode", ", Account.Id, Account.Name FROM Opportunity",
	    " WHERE OwnerId = '", "' AND IsClosed = false ORDER BY "
	    "CloseDate, Amount DESC NULLS LAST, Id",
	    SF_FIELDS(sf_opportunity_fields), 1, 0 },
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

const char *
sf_result_str(enum sf_result r)
{
	switch (r) {
	case SF_OK:
		return "ok";
	case SF_EXPIRED:
		return "expired";
	case SF_INVALID_GRANT:
		return "invalid_grant";
	case SF_REFUSED:
		return "refused";
	case SF_TRANSIENT:
		return "transient";
	case SF_MALFORMED:
		return "malformed";
	case SF_ERROR:
		break;
	}
	return "error";
}

const char *
sf_kind_str(enum sf_kind k)
{
	return k >= 0 && k < SF_KIND__MAX ? sf_kinds[k].name : "unknown";
}

const char *
sf_kind_plural(enum sf_kind k)
{
	return k >= 0 && k < SF_KIND__MAX ? sf_kinds[k].plural : "records";
}

int
sf_kind_parse(const char *s, enum sf_kind *k)
{
	int	 i;

	for (i = 0; s != NULL && i < SF_KIND__MAX; i++)
		if (strcmp(s, sf_kinds[i].name) == 0) {
			*k = (enum sf_kind)i;
			return 0;
		}
	return -1;
}

/* ------------------------------------------------------------------ */
/* Validators. */

/* A Salesforce record id: 15 or 18 alphanumeric characters. */
static int
sf_valid_id(const char *s, size_t n)
{
	size_t	 i;

	if (n != 15 && n != 18)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Tokens and URLs: printable ASCII without spaces, so they can go into a
 * header or a URL as they are. */
static int
sf_valid_opaque(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return 0;
	return 1;
}

static int
sf_valid_digits(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return n > 0;
}

/* A currency's ISO 4217 code: three capital letters. */
static int
sf_valid_iso(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (s[i] < 'A' || s[i] > 'Z')
			return 0;
	return n == 3;
}

/* An API version as config.c accepts it: "v" digits "." digits. */
static int
sf_valid_version(const char *s)
{
	size_t	 n;

	if (s == NULL || *s++ != 'v' || (n = strspn(s, "0123456789")) == 0)
		return 0;
	s += n;
	if (*s++ != '.' || (n = strspn(s, "0123456789")) == 0)
		return 0;
	return s[n] == '\0';
}

/* ------------------------------------------------------------------ */
/* JSON. */

static int
sf_json_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Checks what json-c lets through even in strict mode: the input must be
 * well-formed UTF-8 (json-c accepts overlong forms and surrogates), hold
 * no control byte inside a string or outside one (other than white
 * space), and no number may end in a bare "." ("1.").  Returns 1 when
 * the text passes.
 */
static int
sf_json_prescan(const char *s, size_t len)
{
	unsigned char	 c;
	size_t		 i;
	int		 in = 0, esc = 0;

	if (!form_utf8_ok(s, len))
		return 0;
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c < 0x20 && (in || !sf_json_space(c)))
			return 0;
		if (!in) {
			if (c == '.' && (i + 1 == len ||
			    !isdigit((unsigned char)s[i + 1])))
				return 0;
			in = c == '"';
		} else if (esc)
			esc = 0;
		else if (c == '\\')
			esc = 1;
		else if (c == '"')
			in = 0;
	}
	return 1;
}

/* json_c_visit callback: stops at a NaN or infinity, which json-c reads
 * even in strict mode and JSON does not have. */
static int
sf_json_finite(struct json_object *v, int flags, struct json_object *parent,
    const char *key, size_t *idx, void *arg)
{
	(void)parent;
	(void)key;
	(void)idx;
	if (flags != JSON_C_VISIT_SECOND &&
	    json_object_is_type(v, json_type_double) &&
	    !isfinite(json_object_get_double(v))) {
		*(int *)arg = 0;
		return JSON_C_VISIT_RETURN_STOP;
	}
	return JSON_C_VISIT_RETURN_CONTINUE;
}

/*
 * Parses exactly len bytes of JSON: strict grammar, valid UTF-8, at most
 * SF_JSON_DEPTH levels of nesting, finite numbers, nothing but white
 * space after the value.  Returns the value (the caller puts it), or NULL.
 */
static struct json_object *
sf_json_parse(const char *s, size_t len)
{
	struct json_tokener	*tok = NULL;
	struct json_object	*obj = NULL;
	size_t			 end;
	int			 finite = 1;

	if (s == NULL || len == 0 || len > HTTP_RESPONSE_MAX ||
	    !sf_json_prescan(s, len))
		goto out;
	if ((tok = json_tokener_new_ex(SF_JSON_DEPTH)) == NULL)
		goto out;
	json_tokener_set_flags(tok,
	    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, s, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success)
		goto fail;
	for (end = json_tokener_get_parse_end(tok); end < len; end++)
		if (!sf_json_space((unsigned char)s[end]))
			goto fail;
	if (json_c_visit(obj, 0, sf_json_finite, &finite) == -1 || !finite)
		goto fail;
	goto out;
fail:
	json_object_put(obj);
	obj = NULL;
out:
	if (tok != NULL)
		json_tokener_free(tok);
	return obj;
}

/* ------------------------------------------------------------------ */
/*
 * The reader of the replies forcelink reads fields from (tokens,
 * userinfo, the contact search).  One pass over the text checks all of
 * it as sf_json_parse() does (strict grammar, well-formed UTF-8 without
 * overlongs or surrogates, no raw control byte, at most SF_JSON_DEPTH
 * levels, finite numbers, nothing but white space after the value) and
 * records each value as a token: its type and where its text lies, and,
 * for an object or array, where its members end.  Nothing is copied or
 * decoded until a field is read: a string without escapes is copied
 * once, into the caller's struct; one with escapes is decoded into it.
 * A warm /contact spent 290,000 instructions in json-c's tree (parse,
 * checks, copies and frees) where this takes a tenth (bench/profile.sh).
 * Member lookup reads keys as json-c does: escapes decoded, and of two
 * members with the same key the last one counts.
 */

enum sf_jtype {
	SF_JNULL,
	SF_JFALSE,
	SF_JTRUE,
	SF_JNUM,
	SF_JSTR,
	SF_JARR,
	SF_JOBJ
};

struct sf_jtok {
	uint32_t	 off;	/* a string's after its quote */
	uint32_t	 len;	/* a string's text between the quotes */
	uint32_t	 next;	/* the token after this value and its members */
	uint8_t		 type;
	uint8_t		 esc;	/* a string with escapes */
	uint8_t		 isint;	/* a number without fraction or exponent */
};

struct sf_jdoc {
	const char	*s;
	size_t		 len, pos;
	struct sf_jtok	*t;
	size_t		 n, cap;
};


/* Appends a token of type at the current position.  Returns its index,
 * or -1 on memory exhaustion. */
static long
sf_j_push(struct sf_jdoc *d, enum sf_jtype type)
{
	struct sf_jtok	*t;
	size_t		 cap;

	if (d->n == d->cap) {
		cap = d->cap > 0 ? d->cap * 2 : 128;
		if ((t = reallocarray(d->t, cap, sizeof(*t))) == NULL)
			return -1;
		d->t = t;
		d->cap = cap;
	}
	t = &d->t[d->n];
	t->off = (uint32_t)d->pos;
	t->len = 0;
	t->next = (uint32_t)(d->n + 1);
	t->type = (uint8_t)type;
	t->esc = t->isint = 0;
	return (long)d->n++;
}

static void
sf_j_ws(struct sf_jdoc *d)
{
	while (d->pos < d->len && sf_json_space((unsigned char)d->s[d->pos]))
		d->pos++;
}

/* Bytes that stand for themselves in a JSON string. */
static const unsigned char sf_j_plain[256] = {
#define SF_J16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
	SF_J16(0), SF_J16(0),
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x20: '"' */
	SF_J16(1), SF_J16(1),
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,	/* 0x50: '\\' */
	SF_J16(1), SF_J16(1),
#undef SF_J16
};

/* A string; d->pos is at its opening quote.  Returns 0, or -1. */
static int
sf_j_string(struct sf_jdoc *d)
{
	const unsigned char	*s = (const unsigned char *)d->s;
	size_t			 i = d->pos + 1, k;
	long			 t;
	int			 esc = 0;

	for (;;) {
		/* Plain bytes (printable ASCII but the quote and the
		 * backslash) a run at a time. */
		while (i < d->len && sf_j_plain[s[i]])
			i++;
		if (i >= d->len)
			return -1;
		if (s[i] == '"')
			break;
		if (s[i] < 0x20)
			return -1;
		if (s[i] == '\\') {
			if (i + 1 >= d->len)
				return -1;
			esc = 1;
			switch (s[i + 1]) {
			case '"': case '\\': case '/': case 'b': case 'f':
			case 'n': case 'r': case 't':
				i += 2;
				continue;
			case 'u':
				if (i + 6 > d->len)
					return -1;
				for (k = 2; k < 6; k++)
					if (form_hexval(s[i + k]) == -1)
						return -1;
				i += 6;
				continue;
			default:
				return -1;
			}
		}
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((k = form_utf8_seq(s + i, d->len - i)) == 0)
			return -1;
		i += k;
	}
	if ((t = sf_j_push(d, SF_JSTR)) == -1)
		return -1;
	d->t[t].off = (uint32_t)(d->pos + 1);
	d->t[t].len = (uint32_t)(i - d->pos - 1);
	d->t[t].esc = (uint8_t)esc;
	d->pos = i + 1;
	return 0;
}

/* A number (JSON's grammar; a finite double).  Returns 0, or -1. */
static int
sf_j_number(struct sf_jdoc *d)
{
	const char	*s = d->s;
	char		 tmp[SF_JNUM_MAX + 1];
	size_t		 i = d->pos, start = d->pos;
	long		 t;
	int		 isint = 1;

	if (i < d->len && s[i] == '-')
		i++;
	if (i < d->len && s[i] == '0')
		i++;
	else if (i < d->len && s[i] >= '1' && s[i] <= '9')
		while (i < d->len && isdigit((unsigned char)s[i]))
			i++;
	else
		return -1;
	if (i < d->len && s[i] == '.') {
		isint = 0;
		if (++i >= d->len || !isdigit((unsigned char)s[i]))
			return -1;
		while (i < d->len && isdigit((unsigned char)s[i]))
			i++;
	}
	if (i < d->len && (s[i] == 'e' || s[i] == 'E')) {
		isint = 0;
		if (++i < d->len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= d->len || !isdigit((unsigned char)s[i]))
			return -1;
		while (i < d->len && isdigit((unsigned char)s[i]))
			i++;
	}
	if (i - start > SF_JNUM_MAX)
		return -1;
	/* 1e999 is JSON but no finite double. */
	memcpy(tmp, s + start, i - start);
	tmp[i - start] = '\0';
	if (!isint && !isfinite(strtod(tmp, NULL)))
		return -1;
	if ((t = sf_j_push(d, SF_JNUM)) == -1)
		return -1;
	d->t[t].len = (uint32_t)(i - start);
	d->t[t].isint = (uint8_t)isint;
	d->pos = i;
	return 0;
}

/* A literal (true, false, null).  Returns 0, or -1. */
static int
sf_j_literal(struct sf_jdoc *d, const char *word, enum sf_jtype type)
{
	size_t	 n = strlen(word);

	if (d->len - d->pos < n || memcmp(d->s + d->pos, word, n) != 0 ||
	    sf_j_push(d, type) == -1)
		return -1;
	d->pos += n;
	return 0;
}

/* One value, inside depth containers.  Returns 0, or -1. */
static int
sf_j_value(struct sf_jdoc *d, int depth)
{
	long	 t;
	int	 obj;

	sf_j_ws(d);
	if (d->pos >= d->len)
		return -1;
	switch (d->s[d->pos]) {
	case '{':
	case '[':
		break;
	case '"':
		return sf_j_string(d);
	case 't':
		return sf_j_literal(d, "true", SF_JTRUE);
	case 'f':
		return sf_j_literal(d, "false", SF_JFALSE);
	case 'n':
		return sf_j_literal(d, "null", SF_JNULL);
	default:
		return sf_j_number(d);
	}
	obj = d->s[d->pos] == '{';
	if (depth >= SF_JSON_DEPTH ||
	    (t = sf_j_push(d, obj ? SF_JOBJ : SF_JARR)) == -1)
		return -1;
	d->pos++;
	sf_j_ws(d);
	if (d->pos < d->len && d->s[d->pos] == (obj ? '}' : ']')) {
		d->pos++;
		d->t[t].next = (uint32_t)d->n;
		return 0;
	}
	for (;;) {
		if (obj) {
			sf_j_ws(d);
			if (d->pos >= d->len || d->s[d->pos] != '"' ||
			    sf_j_string(d) == -1)
				return -1;
			sf_j_ws(d);
			if (d->pos >= d->len || d->s[d->pos] != ':')
				return -1;
			d->pos++;
		}
		if (sf_j_value(d, depth + 1) == -1)
			return -1;
		sf_j_ws(d);
		if (d->pos >= d->len)
			return -1;
		if (d->s[d->pos] == ',') {
			d->pos++;
			continue;
		}
		if (d->s[d->pos] != (obj ? '}' : ']'))
			return -1;
		d->pos++;
		d->t[t].next = (uint32_t)d->n;
		return 0;
	}
}

/* Reads exactly len bytes of JSON into d (sf_j_free it).  Returns 0, or
 * -1 when the text is not what sf_json_parse() accepts or memory ran
 * out. */
static int
sf_j_parse(struct sf_jdoc *d, const char *s, size_t len)
{
	memset(d, 0, sizeof(*d));
	d->s = s;
	d->len = len;
	if (s == NULL || len == 0 || len > HTTP_RESPONSE_MAX ||
	    sf_j_value(d, 0) == -1)
		return -1;
	sf_j_ws(d);
	return d->pos == len ? 0 : -1;
}

static void
sf_j_free(struct sf_jdoc *d)
{
	free(d->t);
	d->t = NULL;
	d->n = d->cap = 0;
}

/* Decodes string token k into dst (room for its raw length: a decoded
 * string is never longer).  Returns the decoded length.  A surrogate
 * escape that is not half of a pair becomes U+FFFD, as json-c has it. */
static size_t
sf_j_decode(const struct sf_jdoc *d, size_t k, char *dst)
{
	const unsigned char	*s = (const unsigned char *)d->s + d->t[k].off;
	size_t			 n = d->t[k].len, i = 0, o = 0;
	unsigned long		 c, lo;

	while (i < n) {
		if (s[i] != '\\') {
			dst[o++] = (char)s[i++];
			continue;
		}
		switch (s[i + 1]) {
		case 'b': dst[o++] = '\b'; i += 2; continue;
		case 'f': dst[o++] = '\f'; i += 2; continue;
		case 'n': dst[o++] = '\n'; i += 2; continue;
		case 'r': dst[o++] = '\r'; i += 2; continue;
		case 't': dst[o++] = '\t'; i += 2; continue;
		case 'u': break;
		default: dst[o++] = (char)s[i + 1]; i += 2; continue;
		}
		c = (unsigned long)(form_hexval(s[i + 2]) << 12 |
		    form_hexval(s[i + 3]) << 8 | form_hexval(s[i + 4]) << 4 |
		    form_hexval(s[i + 5]));
		i += 6;
		if (c >= 0xd800 && c <= 0xdbff && i + 6 <= n &&
		    s[i] == '\\' && s[i + 1] == 'u') {
			lo = (unsigned long)(form_hexval(s[i + 2]) << 12 |
			    form_hexval(s[i + 3]) << 8 | form_hexval(s[i + 4]) << 4 |
			    form_hexval(s[i + 5]));
			if (lo >= 0xdc00 && lo <= 0xdfff) {
				c = 0x10000 + ((c - 0xd800) << 10) +
				    (lo - 0xdc00);
				i += 6;
			}
		}
		if (c >= 0xd800 && c <= 0xdfff)
			c = 0xfffd;
		/* Six escaped bytes (twelve for a pair) give at most
		 * four: the output never overtakes the input. */
		if (c < 0x80)
			dst[o++] = (char)c;
		else if (c < 0x800) {
			dst[o++] = (char)(0xc0 | c >> 6);
			dst[o++] = (char)(0x80 | (c & 0x3f));
		} else if (c < 0x10000) {
			dst[o++] = (char)(0xe0 | c >> 12);
			dst[o++] = (char)(0x80 | ((c >> 6) & 0x3f));
			dst[o++] = (char)(0x80 | (c & 0x3f));
		} else {
			dst[o++] = (char)(0xf0 | c >> 18);
			dst[o++] = (char)(0x80 | ((c >> 12) & 0x3f));
			dst[o++] = (char)(0x80 | ((c >> 6) & 0x3f));
			dst[o++] = (char)(0x80 | (c & 0x3f));
		}
	}
	return o;
}

/* Returns 1 when string token k, decoded, is key. */
static int
sf_j_keyeq(const struct sf_jdoc *d, size_t k, const char *key)
{
	char	 tmp[SF_JKEY_MAX];
	size_t	 n = strlen(key);

	if (!d->t[k].esc)
		return d->t[k].len == n &&
		    memcmp(d->s + d->t[k].off, key, n) == 0;
	/* Longer, it cannot be one of ours (SF_JKEY_MAX). */
	if (d->t[k].len > sizeof(tmp))
		return 0;
	return sf_j_decode(d, k, tmp) == n && memcmp(tmp, key, n) == 0;
}

/* The value of member key of object token o (the last such member), or
 * -1 when o is no object or has none. */
static long
sf_j_get(const struct sf_jdoc *d, size_t o, const char *key)
{
	size_t	 i;
	long	 found = -1;

	if (d->t[o].type != SF_JOBJ)
		return -1;
	for (i = o + 1; i < d->t[o].next; i = d->t[i + 1].next)
		if (sf_j_keyeq(d, i, key))
			found = (long)i + 1;
	return found;
}

/*
 * Copies string member f->key of object token o into *out (allocated).
 * An optional member that is absent, null or empty leaves *out NULL.
 * Returns SF_OK; SF_MALFORMED when a required member is missing or
 * empty, or the member is not a string, is too long, holds a NUL or
 * fails its validator; SF_ERROR on memory exhaustion.
 */
static enum sf_result
sf_j_field(const struct sf_jdoc *d, size_t o, const struct sf_field *f,
    char **out)
{
	const struct sf_jtok	*v;
	char			*s;
	size_t			 len;
	long			 k;

	*out = NULL;
	if ((k = sf_j_get(d, o, f->key)) == -1 ||
	    d->t[k].type == SF_JNULL)
		return f->required ? SF_MALFORMED : SF_OK;
	v = &d->t[k];
	/* A number is kept as the text the grammar checked (at most
	 * SF_JNUM_MAX bytes, no escapes). */
	if (f->number && v->type == SF_JNUM) {
		if ((*out = strndup(d->s + v->off, v->len)) == NULL)
			return SF_ERROR;
		return SF_OK;
	}
	if (v->type != SF_JSTR || f->number)
		return SF_MALFORMED;
	if (v->len == 0)
		return f->required ? SF_MALFORMED : SF_OK;
	/* Raw text no longer than max decodes no longer either. */
	if (!v->esc && v->len > f->max)
		return SF_MALFORMED;
	if ((s = malloc((size_t)v->len + 1)) == NULL)
		return SF_ERROR;
	if (v->esc)
		len = sf_j_decode(d, (size_t)k, s);
	else {
		memcpy(s, d->s + v->off, v->len);
		len = v->len;
	}
	s[len] = '\0';
	/* An escape may hide a NUL (\u0000). */
	if (len > f->max || memchr(s, '\0', len) != NULL ||
	    (f->valid != NULL && !f->valid(s, len))) {
		crypto_wipe(s, (size_t)v->len);
		free(s);
		return SF_MALFORMED;
	}
	*out = s;
	return SF_OK;
}

/* Fills the char * members of the struct at base from a table of
 * fields.  Returns as sf_j_field; on failure some may be filled. */
static enum sf_result
sf_j_fields(const struct sf_jdoc *d, size_t o, const struct sf_field *f,
    size_t n, void *base)
{
	enum sf_result	 rv;
	size_t		 i;

	if (d->t[o].type != SF_JOBJ)
		return SF_MALFORMED;
	for (i = 0; i < n; i++)
		if ((rv = sf_j_field(d, o, &f[i],
		    (char **)((char *)base + f[i].off))) != SF_OK)
			return rv;
	return SF_OK;
}

/* ------------------------------------------------------------------ */
/* Parsers. */

/*
 * Parses a reply object into the struct at base through a field table.
 * Nothing but the struct's own strings holds a copy of a token.
 * Returns as sf_j_fields; on failure some members may be filled.
 */
static enum sf_result
sf_parse_object(const char *s, size_t len, const struct sf_field *f,
    size_t n, void *base)
{
	struct sf_jdoc	 d;
	enum sf_result	 rv = SF_MALFORMED;

	if (sf_j_parse(&d, s, len) == 0)
		rv = sf_j_fields(&d, 0, f, n, base);
	sf_j_free(&d);
	return rv;
}

enum sf_result
sf_parse_tokens(const char *s, size_t len, struct sf_tokens *out)
{
	struct sf_tokens	 t;
	enum sf_result		 rv;

	memset(&t, 0, sizeof(t));
	rv = sf_parse_object(s, len, sf_token_fields, NELEM(sf_token_fields),
	    &t);
	if (rv == SF_OK)
		*out = t;
	else
		sf_tokens_free(&t);
	return rv;
}

enum sf_result
sf_parse_userinfo(const char *s, size_t len, struct sf_userinfo *out)
{
	struct sf_jdoc		 d;
	struct sf_userinfo	 u;
	enum sf_result		 rv = SF_MALFORMED;
	long			 k;

	memset(&u, 0, sizeof(u));
	if (sf_j_parse(&d, s, len) == 0 &&
	    (rv = sf_j_fields(&d, 0, sf_userinfo_fields,
	    NELEM(sf_userinfo_fields), &u)) == SF_OK) {
		/* The one boolean read: true only when it is the JSON
		 * true. */
		k = sf_j_get(&d, 0, "email_verified");
		u.email_verified = k != -1 && d.t[k].type == SF_JTRUE;
	}
	sf_j_free(&d);
	if (rv == SF_OK)
		*out = u;
	else
		sf_userinfo_free(&u);
	return rv;
}

static void
sf_record_free(struct sf_record *r)
{
	free(r->id);
	free(r->name);
	free(r->title);
	free(r->email);
	free(r->phone);
	free(r->mobile);
	free(r->industry);
	free(r->city);
	free(r->website);
	free(r->stage);
	free(r->close_date);
	free(r->amount);
	free(r->currency);
	free(r->account_id);
	free(r->account_name);
	memset(r, 0, sizeof(*r));
}

/* Reads one record of kind def, token k: its own fields and, for a kind
 * that has it, the Account (an object with Id and Name, or null when the
 * record has none). */
static enum sf_result
sf_parse_record(const struct sf_jdoc *d, size_t k,
    const struct sf_kind_def *def, struct sf_record *r)
{
	enum sf_result	 rv;
	long		 acct;

	if ((rv = sf_j_fields(d, k, def->fields, def->nfields, r)) != SF_OK)
		return rv;
	if (!def->account || (acct = sf_j_get(d, k, "Account")) == -1 ||
	    d->t[acct].type == SF_JNULL)
		return SF_OK;
	return sf_j_fields(d, (size_t)acct, sf_account_fields,
	    NELEM(sf_account_fields), r);
}

/* Reads totalSize (an integer, as json-c would type it) and the records
 * array of a query reply, and counts the records. */
static int
sf_query_shape(const struct sf_jdoc *d, long *records, size_t *n,
    long *total)
{
	const struct sf_jtok	*v;
	long			 k;
	size_t			 i;
	int64_t			 t = 0;
	int			 neg;

	if ((k = sf_j_get(d, 0, "totalSize")) == -1 ||
	    d->t[k].type != SF_JNUM || !d->t[k].isint ||
	    (*records = sf_j_get(d, 0, "records")) == -1 ||
	    d->t[*records].type != SF_JARR)
		return -1;
	v = &d->t[k];
	neg = d->s[v->off] == '-';
	for (i = neg; i < v->len; i++) {
		if (t > (INT64_MAX - 9) / 10)
			return -1;
		t = t * 10 + (d->s[v->off + i] - '0');
	}
	*n = 0;
	for (i = (size_t)*records + 1; i < d->t[*records].next;
	    i = d->t[i].next)
		(*n)++;
	/* A page never holds more records than the total. */
	if ((neg && t != 0) || t > LONG_MAX || (size_t)t < *n)
		return -1;
	*total = (long)t;
	return 0;
}

enum sf_result
sf_parse_records(enum sf_kind kind, int limit, const char *s, size_t len,
    struct sf_records *out)
{
	struct sf_jdoc		 d;
	struct sf_records	 rs;
	enum sf_result		 rv = SF_MALFORMED;
	size_t			 i, n;
	long			 records, total;

	memset(&rs, 0, sizeof(rs));
	memset(&d, 0, sizeof(d));
	rs.kind = kind;
	if (kind < 0 || kind >= SF_KIND__MAX || limit < 1 ||
	    limit > SF_QUERY_LIMIT)
		return SF_ERROR;
	if (sf_j_parse(&d, s, len) == -1 ||
	    sf_query_shape(&d, &records, &n, &total) == -1)
		goto out;
	if (n > (size_t)limit) {
		n = (size_t)limit;
		rs.more = 1;
	}
	if ((rs.v = calloc(n > 0 ? n : 1, sizeof(*rs.v))) == NULL) {
		rv = SF_ERROR;
		goto out;
	}
	for (i = (size_t)records + 1; rs.n < n; i = d.t[i].next, rs.n++)
		if ((rv = sf_parse_record(&d, i, &sf_kinds[kind],
		    &rs.v[rs.n])) != SF_OK) {
			rs.n++;		/* free what it filled */
			goto out;
		}
	*out = rs;
	memset(&rs, 0, sizeof(rs));
	rv = SF_OK;
out:
	sf_j_free(&d);
	sf_records_free(&rs);
	return rv;
}

/* Copies a reply string into a fixed field, truncated, with everything
 * but printable ASCII (and the quote and backslash) replaced, so that it
 * can go into a log line as it is. */
static void
sf_error_copy(char *dst, size_t n, struct json_object *v)
{
	const char	*s;
	size_t		 i;

	dst[0] = '\0';
	if (v == NULL || !json_object_is_type(v, json_type_string))
		return;
	s = json_object_get_string(v);
	for (i = 0; i + 1 < n && s[i] != '\0'; i++)
		dst[i] = (s[i] >= ' ' && s[i] <= '~' && s[i] != '"' &&
		    s[i] != '\\') ? s[i] : '?';
	dst[i] = '\0';
}

/* Fills err from an error reply: the first element of a REST error
 * array, or an OAuth error object.  Returns 1 when a code was found. */
static int
sf_error_fill(struct json_object *root, struct sf_error *err)
{
	struct json_object	*obj = root, *code = NULL, *msg = NULL;
	const char		*ck = "error", *mk = "error_description";

	if (json_object_is_type(root, json_type_array)) {
		if (json_object_array_length(root) == 0)
			return 0;
		obj = json_object_array_get_idx(root, 0);
		ck = "errorCode";
		mk = "message";
	}
	if (!json_object_is_type(obj, json_type_object))
		return 0;
	json_object_object_get_ex(obj, ck, &code);
	json_object_object_get_ex(obj, mk, &msg);
	sf_error_copy(err->code, sizeof(err->code), code);
	sf_error_copy(err->message, sizeof(err->message), msg);
	return err->code[0] != '\0';
}

/*
 * Returns 1 when a 401 error says the access token expired.  Salesforce
 * uses INVALID_SESSION_ID for more than expiry: a session that may not
 * use the REST API at all (an app without the "api" scope, a SOAP login)
 * carries it too, and refreshing cannot help there.
 */
static int
sf_error_expired(const struct sf_error *err)
{
	return strcmp(err->code, "INVALID_SESSION_ID") == 0 &&
	    strstr(err->message, "not valid for use with the REST API") ==
	    NULL;
}

enum sf_result
sf_parse_error(long status, const char *s, size_t len, struct sf_error *err)
{
	struct json_object	*root;
	struct sf_error		 local;
	int			 coded = 0;

	if (err == NULL)
		err = &local;
	err->code[0] = err->message[0] = '\0';
	if ((root = sf_json_parse(s, len)) != NULL)
		coded = sf_error_fill(root, err);
	json_object_put(root);
	/* Only the documented codes change the class of a status. */
	if (status == 401 && coded && sf_error_expired(err))
		return SF_EXPIRED;
	if (status == 400 && coded && strcmp(err->code, "invalid_grant") == 0)
		return SF_INVALID_GRANT;
	if (status >= 400 && status <= 499)
		return SF_REFUSED;
	if (status >= 500 && status <= 599)
		return SF_TRANSIENT;
	return SF_MALFORMED;
}

void
sf_tokens_free(struct sf_tokens *t)
{
	if (t == NULL)
		return;
	crypto_free_secret(t->access_token);
	crypto_free_secret(t->refresh_token);
	free(t->instance_url);
	free(t->id);
	free(t->issued_at);
	free(t->signature);
	free(t->org_id);
	free(t->user_id);
	memset(t, 0, sizeof(*t));
}

void
sf_userinfo_free(struct sf_userinfo *u)
{
	if (u == NULL)
		return;
	free(u->user_id);
	free(u->org_id);
	free(u->username);
	free(u->name);
	free(u->email);
	memset(u, 0, sizeof(*u));
}

void
sf_records_free(struct sf_records *rs)
{
	size_t	 i;

	if (rs == NULL)
		return;
	for (i = 0; i < rs->n; i++)
		sf_record_free(&rs->v[i]);
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
}

/* ------------------------------------------------------------------ */
/* Token verification. */

/*
 * Recomputes the signature of a token reply.  Returns 1 when it matches
 * (compared in constant time), 0 when it does not, -1 on memory
 * exhaustion.
 */
static int
sf_signature_check(const struct sf_org *org, const struct sf_tokens *t)
{
	unsigned char	 mac[32];
	struct buf	 msg;
	char		*want = NULL;
	int		 rc = -1;

	buf_init(&msg, 2 * SF_URL_MAX);
	if (buf_puts(&msg, t->id) == -1 || buf_puts(&msg, t->issued_at) == -1)
		goto out;
	crypto_hmac_sha256(org->client_secret, strlen(org->client_secret),
	    msg.data, msg.len, mac);
	if ((want = crypto_base64(mac, sizeof(mac))) == NULL)
		goto out;
	rc = crypto_str_equal(want, t->signature) ? 1 : 0;
out:
	crypto_wipe(mac, sizeof(mac));
	crypto_free_secret(want);
	buf_free(&msg);
	return rc;
}

/* Returns 1 when host ends in a Salesforce suffix at a label boundary
 * and is a well-formed name (no empty label). */
static int
sf_host_salesforce(const char *host)
{
	size_t	 hl = strlen(host), sl, i;

	if (hl == 0 || host[0] == '.' || host[hl - 1] == '.' ||
	    strstr(host, "..") != NULL)
		return 0;
	for (i = 0; i < NELEM(sf_host_suffixes); i++) {
		sl = strlen(sf_host_suffixes[i]);
		if (hl > sl &&
		    strcasecmp(host + hl - sl, sf_host_suffixes[i]) == 0)
			return 1;
	}
	return 0;
}

/*
 * Checks the start of a URL we are told to trust: "https://", then a
 * Salesforce host without a port, or the login host (with or without
 * one); no user information.  Returns a pointer to what follows the host
 * and port, or NULL.
 */
static const char *
sf_trusted_authority(const struct sf_org *org, const char *url)
{
	const char	*p, *rest;
	char		 host[256];

	if (url == NULL || strncmp(url, "https://", 8) != 0 ||
	    !sf_valid_opaque(url, strlen(url)) ||
	    http_url_host(url, host, sizeof(host)) == -1)
		return NULL;
	p = url + 8;
	rest = p + strcspn(p, "/?#");
	if (org->login_host != NULL && strcasecmp(host, org->login_host) == 0)
		return rest;
	if (memchr(p, ':', (size_t)(rest - p)) != NULL ||
	    !sf_host_salesforce(host))
		return NULL;
	return rest;
}

/*
 * Checks the path of an identity URL: it ends in /id/ORGID/USERID, holds
 * no query or fragment, and both ids are Salesforce ids, copied to org
 * and user.  Returns 0, or -1.
 */
static int
sf_identity_path(const char *path, char org[SF_ID_MAX], char user[SF_ID_MAX])
{
	const char	*u, *o;
	size_t		 len = strlen(path);

	if (path[0] != '/' || strcspn(path, "?#") != len)
		return -1;
	u = strrchr(path, '/') + 1;
	for (o = u - 1; o > path && o[-1] != '/'; o--)
		continue;
	if (o - path < 4 || memcmp(o - 4, "/id/", 4) != 0 ||
	    !sf_valid_id(o, (size_t)(u - 1 - o)) ||
	    !sf_valid_id(u, len - (size_t)(u - path)))
		return -1;
	memcpy(org, o, (size_t)(u - 1 - o));
	org[u - 1 - o] = '\0';
	strcpy(user, u);
	return 0;
}

/* Stores org and user ids in t.  Returns 0, or -1 on memory exhaustion. */
static int
sf_tokens_set_ids(struct sf_tokens *t, const char *org, const char *user)
{
	char	*o, *u;

	if ((o = strdup(org)) == NULL || (u = strdup(user)) == NULL) {
		free(o);
		return -1;
	}
	free(t->org_id);
	free(t->user_id);
	t->org_id = o;
	t->user_id = u;
	return 0;
}

int
sf_tokens_verify(const struct sf_org *org, struct sf_tokens *t,
    const char **why)
{
	char		 oid[SF_ID_MAX], uid[SF_ID_MAX];
	const char	*rest, *dummy;
	int		 sig;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	if (t->access_token == NULL || t->instance_url == NULL ||
	    t->id == NULL || t->issued_at == NULL || t->signature == NULL) {
		*why = "token reply incomplete";
		return -1;
	}
	if ((sig = sf_signature_check(org, t)) != 1) {
		*why = sig == 0 ? "signature mismatch" : "out of memory";
		return sig == 0 ? -1 : -2;
	}
	rest = sf_trusted_authority(org, t->instance_url);
	if (rest == NULL || (rest[0] != '\0' && strcmp(rest, "/") != 0)) {
		*why = "instance_url is not a Salesforce https URL";
		return -1;
	}
	if ((rest = sf_trusted_authority(org, t->id)) == NULL ||
	    sf_identity_path(rest, oid, uid) == -1) {
		*why = "id is not a Salesforce identity URL";
		return -1;
	}
	if (sf_tokens_set_ids(t, oid, uid) == -1) {
		*why = "out of memory";
		return -2;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Building requests. */

/*
 * Appends key=value pairs (kv holds n keys and values, alternating),
 * values percent-encoded, separated by '&'.  Returns 0, or -1 when a
 * value is NULL or past b's ceiling.
 */
static int
sf_pairs(struct buf *b, const char *const *kv, size_t n)
{
	size_t	 i;

	for (i = 0; i + 1 < n; i += 2) {
		if (kv[i + 1] == NULL ||
		    (i > 0 && buf_putc(b, '&') == -1) ||
		    buf_puts(b, kv[i]) == -1 || buf_putc(b, '=') == -1 ||
		    form_urlencode(b, kv[i + 1]) == -1)
			return -1;
	}
	return 0;
}

int
sf_url(struct buf *b, const char *base, const char *path)
{
	size_t	 n;

	if (base == NULL)
		return -1;
	for (n = strlen(base); n > 0 && base[n - 1] == '/'; n--)
		continue;
	return buf_append(b, base, n) == -1 || buf_puts(b, path) == -1 ?
	    -1 : 0;
}

char *
sf_authorize_url(const struct sf_org *org, const char *redirect_uri,
    const char *state, const char *challenge)
{
	return sf_authorize_url_prompt(org, redirect_uri, state, challenge,
	    NULL);
}

char *
sf_authorize_url_prompt(const struct sf_org *org, const char *redirect_uri,
    const char *state, const char *challenge, const char *prompt)
{
	const char *const kv[] = {
		"response_type", "code",
		"client_id", org->client_id,
		"redirect_uri", redirect_uri,
		"state", state,
		"code_challenge", challenge,
		"code_challenge_method", "S256",
		"prompt", prompt,
	};
	struct buf	 b;
	char		*url = NULL;

	buf_init(&b, SF_REQURL_MAX);
	/* Without a prompt, the last pair is left out. */
	if (sf_url(&b, org->login_url, "/services/oauth2/authorize?") == -1 ||
	    sf_pairs(&b, kv, NELEM(kv) - (prompt == NULL ? 2 : 0)) == -1)
		goto out;
	url = buf_detach(&b);
out:
	buf_free(&b);
	return url;
}

/* Cuts b back to its first mark bytes, undoing a partial append. */
static void
sf_cut(struct buf *b, size_t mark)
{
	if (b->data != NULL) {
		b->len = mark;
		b->data[mark] = '\0';
	}
}

int
sf_soql_escape_like(struct buf *b, const char *needle)
{
	const char	*esc, *p;
	char		 one[2] = { 0, 0 };
	size_t		 mark = b->len;

	for (p = needle; *p != '\0'; p++) {
		switch (*p) {
		case '\\': esc = "\\\\"; break;
		case '\'': esc = "\\'"; break;
		case '"': esc = "\\\""; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		/* LIKE wildcards: the user's text is a literal. */
		case '%': esc = "\\%"; break;
		case '_': esc = "\\_"; break;
		default:
			/* SOQL has no escape for other control bytes. */
			if ((unsigned char)*p < 0x20)
				continue;
			one[0] = *p;
			esc = one;
			break;
		}
		if (buf_puts(b, esc) == -1) {
			sf_cut(b, mark);
			return -1;
		}
	}
	return 0;
}

int
sf_soql_search(struct buf *b, const struct sf_search *q)
{
	const struct sf_kind_def	*def;
	size_t				 mark = b->len;
	int				 rc;

	if (q == NULL || q->kind < 0 || q->kind >= SF_KIND__MAX ||
	    q->limit < 1 || q->limit > SF_QUERY_LIMIT || q->offset < 0 ||
	    q->offset > SF_OFFSET_MAX)
		return -1;
	def = &sf_kinds[q->kind];
	/* Only an id goes between the quotes of an owner: nothing to
	 * escape, and nothing else accepted. */
	if (def->like ? q->needle == NULL : (q->owner_id == NULL ||
	    !sf_valid_id(q->owner_id, strlen(q->owner_id))))
		return -1;
	rc = buf_puts(b, def->head) == -1 ||
	    (def->currency != NULL && q->currency &&
	    buf_puts(b, def->currency) == -1) ||
	    buf_puts(b, def->tail) == -1 || buf_puts(b, def->where) == -1 ||
	    (def->like ? sf_soql_escape_like(b, q->needle) :
	    buf_puts(b, q->owner_id)) == -1 ||
	    buf_puts(b, def->order) == -1 ||
	    buf_printf(b, " LIMIT %d", q->limit + 1) == -1 ||
	    (q->offset > 0 && buf_printf(b, " OFFSET %d", q->offset) == -1);
	if (rc) {
		sf_cut(b, mark);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Calls. */

/* Sends one request; a form body goes as SF_FORM_TYPE (see sf_send). */
static enum sf_result
sf_call(struct http *h, const char *what, enum metrics_sf_call call,
    const char *method, const char *url, const char *bearer,
    const char *form, struct http_response *resp)
{
	return sf_send(h, what, call, method, url, bearer, form != NULL ?
	    SF_FORM_TYPE : NULL, form, NULL, resp);
}

enum sf_result
sf_send(struct http *h, const char *what, enum metrics_sf_call call,
    const char *method, const char *url, const char *bearer,
    const char *content_type, const char *body, const char *extra,
    struct http_response *resp)
{
	struct timespec		 t0, t1;
	enum http_result	 hr;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	hr = http_request_extra(h, method, url, bearer, content_type, body,
	    extra, resp);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	metrics_sf(call, (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000LL +
	    (t1.tv_nsec - t0.tv_nsec) / 1000));
	switch (hr) {
	case HTTP_OK:
		return SF_OK;
	case HTTP_TOOBIG:
		log_warn("call=%s msg=\"reply too large\"", what);
		return SF_MALFORMED;
	case HTTP_REFUSED:
		log_error("call=%s msg=\"URL refused\"", what);
		return SF_ERROR;
	default:
		log_warn("call=%s result=%s", what, http_result_str(hr));
		return SF_TRANSIENT;
	}
}

enum sf_result
sf_failed(const char *what, const struct http_response *resp,
    struct sf_error *err,
    enum sf_result (*adjust)(long, const struct sf_error *, enum sf_result))
{
	enum sf_result	 rv;

	rv = sf_parse_error(resp->status, resp->body.data, resp->body.len,
	    err);
	if (adjust != NULL)
		rv = adjust(resp->status, err, rv);
	log_warn("call=%s status=%ld code=\"%s\" result=%s", what,
	    resp->status, err->code, sf_result_str(rv));
	return rv;
}

/* userinfo answers a bad or expired token with 403 (or 401). */
static enum sf_result
sf_adjust_userinfo(long status, const struct sf_error *err, enum sf_result rv)
{
	(void)err;
	return status == 401 || status == 403 ? SF_EXPIRED : rv;
}

/* A token that is revoked or expired already is what revoke wanted. */
static enum sf_result
sf_adjust_revoke(long status, const struct sf_error *err, enum sf_result rv)
{
	return status == 400 && strcmp(err->code, "invalid_token") == 0 ?
	    SF_OK : rv;
}

/* What a 200 reply holds, and so which parser reads it. */
enum sf_reply {
	SF_REPLY_NONE,		/* nothing to read (revoke) */
	SF_REPLY_TOKENS,	/* into a struct sf_tokens */
	SF_REPLY_USERINFO,	/* into a struct sf_userinfo */
	SF_REPLY_RECORDS	/* into a struct sf_records (search says
				   which kind and how many) */
};

/*
 * One call to Salesforce: what to send and how to read the reply.  The
 * URL is base (login or instance URL) followed by path; a NULL path
 * means the call could not be built.  A POST carries form (nform keys
 * and values for sf_pairs); a GET has no form and always a bearer token.
 * adjust (may be NULL) corrects the class of a failed reply for one
 * endpoint; a 200 reply is read into out as reply says.
 */
struct sf_request {
	const char		*what;		/* the call, in log lines */
	enum metrics_sf_call	 call;		/* and in the metrics */
	const char		*base;
	const char		*path;
	const char		*bearer;
	const char *const	*form;
	size_t			 nform;
	enum sf_result		(*adjust)(long, const struct sf_error *,
				    enum sf_result);
	enum sf_reply		 reply;
	void			*out;
	const struct sf_search	*search;	/* SF_REPLY_RECORDS */
};

/* Builds the URL and, for a POST, the form body of rq.  Returns 0, or -1
 * (logged). */
static int
sf_build(const struct sf_request *rq, struct buf *url, struct buf *form)
{
	int	 ok;

	if (rq->form != NULL)
		ok = sf_pairs(form, rq->form, rq->nform) == 0;
	else
		ok = rq->bearer != NULL;
	if (!ok || rq->path == NULL || sf_url(url, rq->base, rq->path) == -1) {
		log_error("call=%s msg=\"cannot build the request\"", rq->what);
		return -1;
	}
	return 0;
}

/* Reads a 200 reply into rq->out.  Returns SF_OK, or what the parser
 * returned (logged). */
static enum sf_result
sf_read(const struct sf_request *rq, const struct http_response *resp)
{
	const char	*s = resp->body.data;
	size_t		 len = resp->body.len;
	enum sf_result	 rv = SF_OK;

	switch (rq->reply) {
	case SF_REPLY_NONE:
		break;
	case SF_REPLY_TOKENS:
		rv = sf_parse_tokens(s, len, rq->out);
		break;
	case SF_REPLY_USERINFO:
		rv = sf_parse_userinfo(s, len, rq->out);
		break;
	case SF_REPLY_RECORDS:
		rv = sf_parse_records(rq->search->kind, rq->search->limit, s,
		    len, rq->out);
		break;
	}
	if (rv != SF_OK)
		log_warn("call=%s msg=\"malformed reply\"", rq->what);
	return rv;
}

/*
 * Makes one call: builds and sends it, then reads a 200 reply into
 * rq->out or classifies any other status into *err (may be NULL; cleared
 * first).  Returns SF_OK; the class of a failed reply; SF_TRANSIENT or
 * SF_MALFORMED as sf_call; SF_MALFORMED (or SF_ERROR) when a 200 reply
 * does not parse; SF_ERROR when the call cannot be built or its URL is
 * refused.  The form body is wiped: it may hold a token or a secret.
 */
static enum sf_result
sf_do(struct http *h, const struct sf_request *rq, struct sf_error *err)
{
	struct http_response	 resp;
	struct sf_error		 local;
	struct buf		 url, form;
	enum sf_result		 rv = SF_ERROR;

	if (err == NULL)
		err = &local;
	err->code[0] = err->message[0] = '\0';
	http_response_init(&resp);
	buf_init(&url, SF_REQURL_MAX);
	buf_init(&form, SF_BODY_MAX);
	if (sf_build(rq, &url, &form) == -1)
		goto out;
	if ((rv = sf_call(h, rq->what, rq->call,
	    rq->form != NULL ? "POST" : "GET",
	    buf_cstr(&url), rq->bearer, rq->form != NULL ? buf_cstr(&form) :
	    NULL, &resp)) != SF_OK)
		goto out;
	if (resp.status == 200)
		rv = sf_read(rq, &resp);
	else
		rv = sf_failed(rq->what, &resp, err, rq->adjust);
out:
	buf_free_secret(&form);
	buf_free(&url);
	http_response_free(&resp);
	return rv;
}

/* Posts a token request (kv: n keys and values) and reads the tokens. */
static enum sf_result
sf_token_post(struct http *h, const struct sf_org *org, const char *what,
    enum metrics_sf_call call, const char *const *kv, size_t n,
    struct sf_tokens *out, struct sf_error *err)
{
	const struct sf_request	 rq = {
		.what = what,
		.call = call,
		.base = org->login_url,
		.path = "/services/oauth2/token",
		.form = kv,
		.nform = n,
		.reply = SF_REPLY_TOKENS,
		.out = out,
	};

	return sf_do(h, &rq, err);
}

enum sf_result
sf_token_code(struct http *h, const struct sf_org *org, const char *code,
    const char *redirect_uri, const char *verifier, struct sf_tokens *out,
    struct sf_error *err)
{
	const char *const kv[] = {
		"grant_type", "authorization_code",
		"code", code,
		"client_id", org->client_id,
		"client_secret", org->client_secret,
		"redirect_uri", redirect_uri,
		"code_verifier", verifier,
	};

	return sf_token_post(h, org, "token_code", METRICS_SF_TOKEN_CODE, kv,
	    NELEM(kv), out, err);
}

enum sf_result
sf_token_refresh(struct http *h, const struct sf_org *org,
    const char *refresh_token, struct sf_tokens *out, struct sf_error *err)
{
	const char *const kv[] = {
		"grant_type", "refresh_token",
		"refresh_token", refresh_token,
		"client_id", org->client_id,
		"client_secret", org->client_secret,
	};

	return sf_token_post(h, org, "token_refresh",
	    METRICS_SF_TOKEN_REFRESH, kv, NELEM(kv), out, err);
}

enum sf_result
sf_token_client(struct http *h, const struct sf_org *org,
    struct sf_tokens *out, struct sf_error *err)
{
	const char *const kv[] = {
		"grant_type", "client_credentials",
		"client_id", org->client_id,
		"client_secret", org->client_secret,
	};

	return sf_token_post(h, org, "token_client",
	    METRICS_SF_TOKEN_CLIENT, kv, NELEM(kv), out, err);
}

enum sf_result
sf_revoke(struct http *h, const struct sf_org *org, const char *token)
{
	const char *const	 kv[] = { "token", token };
	const struct sf_request	 rq = {
		.what = "revoke",
		.call = METRICS_SF_REVOKE,
		.base = org->login_url,
		.path = "/services/oauth2/revoke",
		.form = kv,
		.nform = NELEM(kv),
		.adjust = sf_adjust_revoke,
	};

	return sf_do(h, &rq, NULL);
}

enum sf_result
sf_userinfo(struct http *h, const char *instance_url,
    const char *access_token, struct sf_userinfo *out, struct sf_error *err)
{
	const struct sf_request	 rq = {
		.what = "userinfo",
		.call = METRICS_SF_USERINFO,
		.base = instance_url,
		.path = "/services/oauth2/userinfo",
		.bearer = access_token,
		.adjust = sf_adjust_userinfo,
		.reply = SF_REPLY_USERINFO,
		.out = out,
	};

	return sf_do(h, &rq, err);
}

/* Appends the path and query of a search to path.  Returns 0, or -1. */
static int
sf_query_path(struct buf *path, const struct sf_org *org,
    const struct sf_search *q)
{
	struct buf	 soql;
	int		 rc = -1;

	buf_init(&soql, SF_SOQL_MAX);
	if (!sf_valid_version(org->api_version) ||
	    buf_printf(path, "/services/data/%s/query?q=",
	    org->api_version) == -1 ||
	    sf_soql_search(&soql, q) == -1 ||
	    form_soqlencode(path, buf_cstr(&soql)) == -1)
		goto out;
	rc = 0;
out:
	buf_free(&soql);
	return rc;
}

enum sf_result
sf_query_records(struct http *h, const struct sf_org *org,
    const char *instance_url, const char *access_token,
    const struct sf_search *q, struct sf_records *out, struct sf_error *err)
{
	struct sf_request	 rq = {
		.what = "query",
		.call = METRICS_SF_QUERY,
		.base = instance_url,
		.bearer = access_token,
		.reply = SF_REPLY_RECORDS,
		.out = out,
		.search = q,
	};
	struct buf		 path;
	enum sf_result		 rv;

	buf_init(&path, SF_REQURL_MAX);
	if (sf_query_path(&path, org, q) == 0)
		rq.path = buf_cstr(&path);
	rv = sf_do(h, &rq, err);
	buf_free(&path);
	return rv;
}

/* ------------------------------------------------------------------ */
/* Strict JSON for other clients (see sf.h). */

struct json_object *
sf_json_parse_strict(const char *s, size_t len)
{
	return sf_json_parse(s, len);
}

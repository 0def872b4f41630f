/*
 * form: strict decoding and validation of form bodies, query strings and
 * Cookie headers (see form.h).
 *
 * This is the edge of every program: whatever Slack, a browser or
 * Salesforce sends is decoded here exactly once, and only input that
 * decodes without any guesswork is accepted.  A percent escape that is not
 * two hex digits, an encoded or raw NUL, or a value without a key rejects
 * the whole input rather than being repaired, because a repaired request
 * may mean something else to the next layer.  The validators that the
 * field tables name live here too, so that "what a Slack id looks like"
 * is written down in one place.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "form.h"
#include "slack.h"

/* Longest value form_valid_token() accepts. */
#define FORM_TOKEN_MAX	128

int
form_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes len bytes of one key or value into a new string.  Returns it
 * (the caller frees it) with its length in *outlen, or NULL with *rc set
 * to FORM_BAD_ENCODING or FORM_NOMEM.
 */
static char *
form_decode(const char *s, size_t len, size_t *outlen, enum form_result *rc)
{
	char	*out = NULL;
	size_t	 i, n = 0;
	int	 hi, lo;

	*rc = FORM_NOMEM;
	if ((out = malloc(len + 1)) == NULL)
		goto out;
	*rc = FORM_BAD_ENCODING;
	for (i = 0; i < len; i++) {
		if (s[i] == '\0')
			goto out;
		if (s[i] == '+') {
			out[n++] = ' ';
			continue;
		}
		if (s[i] != '%') {
			out[n++] = s[i];
			continue;
		}
		if (len - i < 3 || (hi = form_hexval(s[i + 1])) == -1 ||
		    (lo = form_hexval(s[i + 2])) == -1 || (hi | lo) == 0)
			goto out;
		out[n++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[n] = '\0';
	*outlen = n;
	*rc = FORM_OK;
out:
	if (*rc != FORM_OK) {
		free(out);
		out = NULL;
	}
	return out;
}

/*
 * Decodes one non-empty segment "key=value" (or "key") into p.  Returns
 * FORM_OK, FORM_BAD_ENCODING or FORM_NOMEM; p is untouched on failure.
 */
static enum form_result
form_segment(const char *s, size_t len, struct form_pair *p)
{
	const char		*eq;
	char			*key = NULL, *val = NULL;
	size_t			 klen, keylen, vallen;
	enum form_result	 rc;

	eq = memchr(s, '=', len);
	klen = eq != NULL ? (size_t)(eq - s) : len;
	rc = FORM_BAD_ENCODING;
	if (klen == 0)
		goto out;
	if ((key = form_decode(s, klen, &keylen, &rc)) == NULL)
		goto out;
	if (eq == NULL)
		val = form_decode("", 0, &vallen, &rc);
	else
		val = form_decode(eq + 1, len - klen - 1, &vallen, &rc);
	if (val == NULL)
		goto out;
	p->key = key;
	p->val = val;
	p->vallen = vallen;
	key = val = NULL;
	rc = FORM_OK;
out:
	free(key);
	free(val);
	return rc;
}

/* Counts the non-empty '&'-separated segments of s. */
static size_t
form_count(const char *s, size_t len)
{
	size_t	 i, n = 0, seglen = 0;

	for (i = 0; i <= len; i++) {
		if (i == len || s[i] == '&') {
			if (seglen > 0)
				n++;
			seglen = 0;
		} else
			seglen++;
	}
	return n;
}

enum form_result
form_parse(const char *s, size_t len, struct form *f)
{
	const char		*seg, *end, *amp;
	size_t			 n;
	enum form_result	 rc = FORM_OK;

	f->pairs = NULL;
	f->npairs = 0;
	if ((n = form_count(s, len)) == 0)
		return FORM_OK;
	if (n > FORM_MAX_PAIRS)
		return FORM_TOO_MANY;
	if ((f->pairs = calloc(n, sizeof(*f->pairs))) == NULL)
		return FORM_NOMEM;
	end = s + len;
	for (seg = s; seg < end; seg = amp + 1) {
		if ((amp = memchr(seg, '&', (size_t)(end - seg))) == NULL)
			amp = end;
		if (amp == seg)
			continue;
		rc = form_segment(seg, (size_t)(amp - seg),
		    &f->pairs[f->npairs]);
		if (rc != FORM_OK)
			goto out;
		f->npairs++;
	}
out:
	if (rc != FORM_OK)
		form_free(f);
	return rc;
}

/* Counts the pairs named key and points *first at the first of them. */
static size_t
form_find(const struct form *f, const char *key,
    const struct form_pair **first)
{
	size_t	 i, n = 0;

	*first = NULL;
	for (i = 0; i < f->npairs; i++) {
		if (strcmp(f->pairs[i].key, key) != 0)
			continue;
		if (n++ == 0)
			*first = &f->pairs[i];
	}
	return n;
}

/* Checks one declared field against the pairs. */
static enum form_result
form_check(const struct form *f, const struct form_field *fd)
{
	const struct form_pair	*p;
	size_t			 n;
	form_validator		 valid;

	n = form_find(f, fd->name, &p);
	if (n > 1)
		return FORM_DUPLICATE;
	if (n == 0 || p->vallen == 0)
		return fd->required ? FORM_MISSING : FORM_OK;
	if (p->vallen > fd->maxlen)
		return FORM_TOO_LONG;
	valid = fd->valid != NULL ? fd->valid : form_valid_utf8;
	return valid(p->val, p->vallen) ? FORM_OK : FORM_INVALID;
}

enum form_result
form_validate(const struct form *f, const struct form_field *table,
    size_t n, const char **val, const char **bad)
{
	const struct form_pair	*p;
	enum form_result	 rc;
	size_t			 i;

	if (bad != NULL)
		*bad = NULL;
	if (val != NULL)
		for (i = 0; i < n; i++)
			val[i] = NULL;
	/* Duplicates first: they are an attack, not a typo. */
	for (i = 0; i < n; i++) {
		if (form_find(f, table[i].name, &p) > 1) {
			if (bad != NULL)
				*bad = table[i].name;
			return FORM_DUPLICATE;
		}
	}
	for (i = 0; i < n; i++) {
		if ((rc = form_check(f, &table[i])) != FORM_OK) {
			if (bad != NULL)
				*bad = table[i].name;
			return rc;
		}
	}
	/* Only a form that passed as a whole fills the field map. */
	for (i = 0; val != NULL && i < n; i++) {
		form_find(f, table[i].name, &p);
		val[i] = p != NULL ? p->val : NULL;
	}
	return FORM_OK;
}

enum form_result
form_parse_fields(const char *in, struct form *f,
    const struct form_field *table, size_t n, const char **val,
    const char **bad)
{
	enum form_result	 rc;
	size_t			 i;

	f->pairs = NULL;
	f->npairs = 0;
	if (bad != NULL)
		*bad = NULL;
	for (i = 0; val != NULL && i < n; i++)
		val[i] = NULL;
	if (in == NULL)
		return FORM_BAD_ENCODING;
	if ((rc = form_parse(in, strlen(in), f)) != FORM_OK)
		return rc;
	return form_validate(f, table, n, val, bad);
}

const char *
form_get(const struct form *f, const char *key)
{
	const struct form_pair	*p;

	form_find(f, key, &p);
	return p != NULL ? p->val : NULL;
}

void
form_free(struct form *f)
{
	size_t	 i;

	for (i = 0; i < f->npairs; i++) {
		free(f->pairs[i].key);
		free(f->pairs[i].val);
	}
	free(f->pairs);
	f->pairs = NULL;
	f->npairs = 0;
}

const char *
form_result_str(enum form_result rc)
{
	switch (rc) {
	case FORM_OK:
		return "ok";
	case FORM_BAD_ENCODING:
		return "malformed encoding";
	case FORM_TOO_MANY:
		return "too many fields";
	case FORM_DUPLICATE:
		return "duplicate field";
	case FORM_MISSING:
		return "missing field";
	case FORM_TOO_LONG:
		return "field too long";
	case FORM_INVALID:
		return "invalid field";
	case FORM_NOMEM:
		return "out of memory";
	}
	return "unknown";
}

/* Optional white space around cookie pairs (RFC 6265 OWS). */
static int
form_ows(int c)
{
	return c == ' ' || c == '\t';
}

/*
 * Looks at one cookie pair, the bytes from s up to end.  Returns 1 and
 * points *val and *vlen at its value when its name is name, else 0.  A
 * value in double quotes is returned without them (RFC 6265 section 4.1.1).
 */
static int
form_cookie_match(const char *s, const char *end, const char *name,
    const char **val, size_t *vlen)
{
	const char	*eq, *nend;

	while (s < end && form_ows(*s))
		s++;
	while (end > s && form_ows(end[-1]))
		end--;
	if ((eq = memchr(s, '=', (size_t)(end - s))) == NULL)
		return 0;
	for (nend = eq; nend > s && form_ows(nend[-1]); nend--)
		continue;
	if ((size_t)(nend - s) != strlen(name) ||
	    memcmp(s, name, (size_t)(nend - s)) != 0)
		return 0;
	for (s = eq + 1; s < end && form_ows(*s); s++)
		continue;
	if (end - s >= 2 && *s == '"' && end[-1] == '"') {
		s++;
		end--;
	}
	*val = s;
	*vlen = (size_t)(end - s);
	return 1;
}

int
form_cookie(const char *header, const char *name, char *out, size_t outsz)
{
	const char	*p, *semi, *v, *val = NULL;
	size_t		 vl, vlen = 0, found = 0;

	if (header == NULL || name == NULL || *name == '\0' || outsz == 0)
		return -1;
	for (p = header; *p != '\0'; p = *semi == ';' ? semi + 1 : semi) {
		if ((semi = strchr(p, ';')) == NULL)
			semi = p + strlen(p);
		if (form_cookie_match(p, semi, name, &v, &vl)) {
			found++;
			val = v;
			vlen = vl;
		}
	}
	/* Two cookies of one name: a sibling domain may have planted one. */
	if (found != 1 || vlen >= outsz)
		return -1;
	memcpy(out, val, vlen);
	out[vlen] = '\0';
	return 0;
}

size_t
form_utf8_seq(const unsigned char *s, size_t len)
{
	size_t	 n, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;	/* continuation byte, C0, C1, F5..FF */
	if (len < n)
		return 0;
	/* The second byte's range is what excludes overlongs, surrogates
	 * and values past U+10FFFF (RFC 3629 section 4). */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

int
form_utf8_ok(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, n;

	for (i = 0; i < len; i += n)
		if ((n = form_utf8_seq(p + i, len - i)) == 0)
			return 0;
	return 1;
}

int
form_valid_utf8(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, n;

	for (i = 0; i < len; i += n) {
		if ((n = form_utf8_seq(p + i, len - i)) == 0)
			return 0;
		if (n == 1 && (p[i] < 0x20 || p[i] == 0x7f) &&
		    p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
			return 0;
		/* C1 controls (U+0080..U+009F) are encoded as C2 80..C2 9F. */
		if (n == 2 && p[i] == 0xc2 && p[i + 1] <= 0x9f)
			return 0;
	}
	return 1;
}

int
form_valid_slack_id(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len > SLACK_ID_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

int
form_valid_token(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len > FORM_TOKEN_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return 0;
	return 1;
}

/* A byte that may appear in a URL we pass on: visible ASCII without the
 * characters that would end an HTML attribute or a Slack link. */
static int
form_url_byte(int c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '<' && c != '>' &&
	    c != '\\';
}

int
form_valid_https_url(const char *s, size_t len)
{
	static const char	 scheme[] = "https://";
	size_t			 i, host;

	if (len <= sizeof(scheme) - 1 ||
	    memcmp(s, scheme, sizeof(scheme) - 1) != 0)
		return 0;
	for (i = 0; i < len; i++)
		if (!form_url_byte((unsigned char)s[i]))
			return 0;
	/*
	 * The authority runs to the first '/', '?' or '#'.  It must start
	 * with a host name, and user information ("https://a@b") is refused
	 * because it makes a URL read as a host it does not go to.
	 */
	for (i = host = sizeof(scheme) - 1; i < len; i++) {
		if (s[i] == '/' || s[i] == '?' || s[i] == '#')
			break;
		if (s[i] == '@')
			return 0;
	}
	return i > host && s[host] != ':';
}

int
form_valid_printable(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/* Percent-encodes s; with soql set, a space becomes '+' and ',' and '\''
 * stay as they are. */
static int
form_encode(struct buf *b, const char *s, int soql)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p;
	char			 esc[3];

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~' ||
		    (soql && (*p == ',' || *p == '\''))) {
			if (buf_putc(b, *p) == -1)
				return -1;
			continue;
		}
		if (soql && *p == ' ') {
			if (buf_putc(b, '+') == -1)
				return -1;
			continue;
		}
		esc[0] = '%';
		esc[1] = hex[*p >> 4];
		esc[2] = hex[*p & 0x0f];
		if (buf_append(b, esc, sizeof(esc)) == -1)
			return -1;
	}
	return 0;
}

int
form_urlencode(struct buf *b, const char *s)
{
	return form_encode(b, s, 0);
}

int
form_soqlencode(struct buf *b, const char *s)
{
	return form_encode(b, s, 1);
}

/*
 * sf_case: the Case describe (its Priority picklist, cached per
 * integration and instance) and the one composite call that creates a
 * Case and reads its CaseNumber (see sf_case.h).  The requests go
 * through http.h like every Salesforce call; replies are read with the
 * strict JSON parser of sf.c and checked field by field.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "buf.h"
#include "form.h"
#include "http.h"
#include "jsonb.h"
#include "log.h"
#include "sf_case.h"

/* Cache entries kept (integrations times instances in use). */
#define SF_CASE_CACHE_N		8
/* Longest instance URL cached. */
#define SF_CASE_URL_MAX		1024
/* Request URL and composite body ceilings. */
#define SF_CASE_REQURL_MAX	(16 * 1024)
#define SF_CASE_BODY_MAX	(256 * 1024)
/* The composite's reference ids. */
#define SF_CASE_REF_ACCOUNT	"account"
#define SF_CASE_REF_CREATE	"newCase"
#define SF_CASE_REF_READ	"readCase"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

struct sf_case_entry {
	char			 integration[CONFIG_ORG_NAME_MAX + 1];
	char			 instance[SF_CASE_URL_MAX + 1];
	struct sf_case_picklist	 p;
	time_t			 fetched;	/* If-Modified-Since */
	unsigned long		 seq;		/* 0: unused */
};

static pthread_mutex_t		 sf_case_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sf_case_entry	 sf_case_cache[SF_CASE_CACHE_N];
static unsigned long		 sf_case_seq;

size_t
sf_case_chars(const char *s)
{
	size_t	 n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

size_t
sf_case_prefix(const char *s, size_t max_chars, size_t max_bytes)
{
	size_t	 i, chars = 0, end = 0;

	for (i = 0; s[i] != '\0'; i++) {
		if (((unsigned char)s[i] & 0xc0) == 0x80)
			continue;
		/* s[i] starts a character: everything before it fits? */
		if (i > max_bytes)
			break;
		end = i;
		if (chars == max_chars)
			return end;
		chars++;
	}
	return i <= max_bytes ? i : end;
}

void
sf_case_standard(struct sf_case_picklist *p)
{
	static const char *const v[] = { "High", "Medium", "Low" };
	size_t	 i;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < NELEM(v); i++) {
		snprintf(p->value[i], sizeof(p->value[i]), "%s", v[i]);
		snprintf(p->label[i], sizeof(p->label[i]), "%s", v[i]);
	}
	p->n = NELEM(v);
	p->def = 1;
}

int
sf_case_picklist_same(const struct sf_case_picklist *a,
    const struct sf_case_picklist *b)
{
	size_t	 i;

	if (a->n != b->n || a->def != b->def)
		return 0;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->value[i], b->value[i]) != 0 ||
		    strcmp(a->label[i], b->label[i]) != 0)
			return 0;
	return 1;
}

int
sf_case_picklist_find(const struct sf_case_picklist *p, const char *value)
{
	size_t	 i;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->value[i], value) == 0)
			return (int)i;
	return -1;
}

/* ------------------------------------------------------------------ */
/* The cache. */

int
sf_case_cache_get(const char *integration, struct sf_case_picklist *out)
{
	const struct sf_case_entry	*best = NULL;
	size_t				 i;

	pthread_mutex_lock(&sf_case_lock);
	for (i = 0; i < SF_CASE_CACHE_N; i++) {
		const struct sf_case_entry *e = &sf_case_cache[i];

		if (e->seq != 0 && strcmp(e->integration, integration) == 0 &&
		    (best == NULL || e->seq > best->seq))
			best = e;
	}
	if (best != NULL)
		*out = best->p;
	pthread_mutex_unlock(&sf_case_lock);
	return best != NULL ? 0 : -1;
}

void
sf_case_cache_clear(void)
{
	pthread_mutex_lock(&sf_case_lock);
	memset(sf_case_cache, 0, sizeof(sf_case_cache));
	pthread_mutex_unlock(&sf_case_lock);
}

/* The entry of (integration, instance), or NULL.  Lock held. */
static struct sf_case_entry *
sf_case_cache_find(const char *integration, const char *instance)
{
	size_t	 i;

	for (i = 0; i < SF_CASE_CACHE_N; i++)
		if (sf_case_cache[i].seq != 0 &&
		    strcmp(sf_case_cache[i].integration, integration) == 0 &&
		    strcmp(sf_case_cache[i].instance, instance) == 0)
			return &sf_case_cache[i];
	return NULL;
}

/* When (integration, instance)'s entry was fetched, 0 when none; copies
 * the entry into *p when there is one. */
static time_t
sf_case_cache_peek(const char *integration, const char *instance,
    struct sf_case_picklist *p)
{
	struct sf_case_entry	*e;
	time_t			 t = 0;

	pthread_mutex_lock(&sf_case_lock);
	if ((e = sf_case_cache_find(integration, instance)) != NULL) {
		*p = e->p;
		t = e->fetched;
	}
	pthread_mutex_unlock(&sf_case_lock);
	return t;
}

/* Keeps p for (integration, instance), fetched at t; a 304 (p NULL)
 * only marks the entry as the latest read.  The oldest entry makes
 * room. */
static void
sf_case_cache_put(const char *integration, const char *instance,
    const struct sf_case_picklist *p, time_t t)
{
	struct sf_case_entry	*e;
	size_t			 i;

	if (strlen(integration) > CONFIG_ORG_NAME_MAX ||
	    strlen(instance) > SF_CASE_URL_MAX)
		return;
	pthread_mutex_lock(&sf_case_lock);
	if ((e = sf_case_cache_find(integration, instance)) == NULL) {
		if (p == NULL)
			goto out;
		e = &sf_case_cache[0];
		for (i = 1; i < SF_CASE_CACHE_N; i++)
			if (sf_case_cache[i].seq < e->seq)
				e = &sf_case_cache[i];
		snprintf(e->integration, sizeof(e->integration), "%s",
		    integration);
		snprintf(e->instance, sizeof(e->instance), "%s", instance);
	}
	if (p != NULL) {
		e->p = *p;
		e->fetched = t;
	}
	e->seq = ++sf_case_seq;
out:
	pthread_mutex_unlock(&sf_case_lock);
}

/* ------------------------------------------------------------------ */
/* Reading replies. */

/* A Salesforce record id: 15 or 18 letters and digits. */
static int
sf_case_valid_id(const char *s)
{
	size_t	 n;

	for (n = 0; s[n] != '\0'; n++)
		if (!((s[n] >= '0' && s[n] <= '9') ||
		    (s[n] >= 'a' && s[n] <= 'z') ||
		    (s[n] >= 'A' && s[n] <= 'Z')))
			return 0;
	return n == 15 || n == 18;
}

/* The member key of o as a string, or NULL (absent, or not a string). */
static const char *
sf_case_str(struct json_object *o, const char *key)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The member key of o when it has type t, else NULL. */
static struct json_object *
sf_case_get(struct json_object *o, const char *key, enum json_type t)
{
	struct json_object	*v;

	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, t))
		return NULL;
	return v;
}

/* Copies s into dst (n bytes), cut on a character boundary at max_chars
 * characters, every control byte made a space. */
static void
sf_case_copy(char *dst, size_t n, const char *s, size_t max_chars)
{
	size_t	 len, i;

	len = sf_case_prefix(s, max_chars, n - 1);
	memcpy(dst, s, len);
	dst[len] = '\0';
	for (i = 0; i < len; i++)
		if ((unsigned char)dst[i] < ' ' || dst[i] == 0x7f)
			dst[i] = ' ';
}

/* One picklistValues entry into p (when active and offerable).
 * Returns 0, or -1 when it is not the documented shape. */
static int
sf_case_pick_value(struct json_object *v, struct sf_case_picklist *p)
{
	struct json_object	*active, *def, *label;
	const char		*value;

	if (!json_object_is_type(v, json_type_object) ||
	    (value = sf_case_str(v, "value")) == NULL ||
	    (active = sf_case_get(v, "active", json_type_boolean)) == NULL ||
	    (def = sf_case_get(v, "defaultValue", json_type_boolean)) == NULL)
		return -1;
	/* label: a string, or null (Salesforce then shows the value). */
	if (json_object_object_get_ex(v, "label", &label) && label != NULL &&
	    !json_object_is_type(label, json_type_string))
		return -1;
	/* Inactive values cannot be chosen; a value Slack cannot carry in
	 * an option, or past the most offered, is not offered. */
	if (!json_object_get_boolean(active) || value[0] == '\0' ||
	    strlen(value) > SF_CASE_VALUE_MAX || p->n == SF_CASE_PICK_MAX)
		return 0;
	snprintf(p->value[p->n], sizeof(p->value[p->n]), "%s", value);
	sf_case_copy(p->label[p->n], sizeof(p->label[p->n]), label != NULL &&
	    json_object_get_string_len(label) > 0 ?
	    json_object_get_string(label) : value, 75);
	if (json_object_get_boolean(def) && p->def == -1)
		p->def = (int)p->n;
	p->n++;
	return 0;
}

enum sf_result
sf_case_parse_describe(const char *s, size_t len, struct sf_case_picklist *out)
{
	struct sf_case_picklist	 p;
	struct json_object	*root, *fields, *f, *vals;
	enum sf_result		 rv = SF_MALFORMED;
	const char		*name;
	size_t			 i, j, n;
	int			 seen = 0;

	memset(&p, 0, sizeof(p));
	p.def = -1;
	if ((root = sf_json_parse_strict(s, len)) == NULL)
		return SF_MALFORMED;
	if ((fields = sf_case_get(root, "fields", json_type_array)) == NULL)
		goto out;
	n = json_object_array_length(fields);
	for (i = 0; i < n; i++) {
		f = json_object_array_get_idx(fields, i);
		if (!json_object_is_type(f, json_type_object) ||
		    (name = sf_case_str(f, "name")) == NULL)
			goto out;
		if (strcmp(name, "Priority") != 0)
			continue;
		if (seen++ ||
		    (vals = sf_case_get(f, "picklistValues",
		    json_type_array)) == NULL)
			goto out;
		for (j = 0; j < json_object_array_length(vals); j++)
			if (sf_case_pick_value(json_object_array_get_idx(vals,
			    j), &p) == -1)
				goto out;
	}
	*out = p;
	rv = SF_OK;
out:
	json_object_put(root);
	return rv;
}

/* One error object of a subrequest into *e.  Returns 0, or -1. */
static int
sf_case_error_read(struct json_object *o, struct sf_case_error *e)
{
	struct json_object	*fields, *f;
	const char		*code, *msg;
	size_t			 i, k;

	memset(e, 0, sizeof(*e));
	if (!json_object_is_type(o, json_type_object) ||
	    (code = sf_case_str(o, "errorCode")) == NULL ||
	    (msg = sf_case_str(o, "message")) == NULL)
		return -1;
	for (i = 0; code[i] != '\0'; i++)
		if (!((code[i] >= 'A' && code[i] <= 'Z') || code[i] == '_' ||
		    (code[i] >= '0' && code[i] <= '9')))
			return -1;
	if (i == 0 || i >= sizeof(e->code))
		return -1;
	memcpy(e->code, code, i + 1);
	sf_case_copy(e->message, sizeof(e->message), msg, 400);
	/* fields: absent, null, or an array of field names. */
	if (!json_object_object_get_ex(o, "fields", &fields) ||
	    fields == NULL)
		return 0;
	if (!json_object_is_type(fields, json_type_array))
		return -1;
	for (i = 0; i < json_object_array_length(fields); i++) {
		f = json_object_array_get_idx(fields, i);
		if (!json_object_is_type(f, json_type_string))
			return -1;
		code = json_object_get_string(f);
		for (k = 0; code[k] != '\0'; k++)
			if (!((code[k] >= 'A' && code[k] <= 'Z') ||
			    (code[k] >= 'a' && code[k] <= 'z') ||
			    (code[k] >= '0' && code[k] <= '9') ||
			    code[k] == '_' || code[k] == '.'))
				return -1;
		if (k == 0 || k >= sizeof(e->fields[0]))
			return -1;
		if (e->nfields < SF_CASE_FIELDS_MAX)
			memcpy(e->fields[e->nfields++], code, k + 1);
	}
	return 0;
}

/* The halt Salesforce reports on the subrequests of a rolled back
 * composite: not a reason of its own. */
static int
sf_case_halted(const struct sf_case_error *e)
{
	return strcmp(e->code, "PROCESSING_HALTED") == 0 &&
	    strstr(e->message, "Invalid reference") == NULL;
}

/* A failed subrequest's errors (its body: a JSON array) into out.
 * Returns 0, or -1 when the body is not an error array. */
static int
sf_case_errors_read(struct json_object *body, int create,
    struct sf_case_result *out)
{
	struct sf_case_error	 e;
	size_t			 i, n;

	if (!json_object_is_type(body, json_type_array) ||
	    (n = json_object_array_length(body)) == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (sf_case_error_read(json_object_array_get_idx(body, i),
		    &e) == -1)
			return -1;
		/* The Account's reference had no value: no such name. */
		if (create && out->accounts != -1 &&
		    strcmp(e.code, "PROCESSING_HALTED") == 0 &&
		    strstr(e.message, SF_CASE_REF_ACCOUNT ".records[0].Id") !=
		    NULL) {
			out->account_missing = 1;
			continue;
		}
		if (out->nerr < SF_CASE_ERRORS_MAX)
			out->err[out->nerr++] = e;
	}
	return 0;
}

/* Reads one compositeResponse entry: *status and *body.  Returns 0, or
 * -1 when it is not the documented shape or answers another
 * referenceId than ref. */
static int
sf_case_entry(struct json_object *entry, const char *ref, long *status,
    struct json_object **body)
{
	struct json_object	*code;
	const char		*r;

	if (!json_object_is_type(entry, json_type_object) ||
	    (r = sf_case_str(entry, "referenceId")) == NULL ||
	    strcmp(r, ref) != 0 ||
	    (code = sf_case_get(entry, "httpStatusCode", json_type_int)) ==
	    NULL || !json_object_object_get_ex(entry, "body", body))
		return -1;
	*status = (long)json_object_get_int64(code);
	return *status >= 100 && *status <= 599 ? 0 : -1;
}

/* The account subrequest's 200 body: how many accounts, and the first. */
static int
sf_case_account_read(struct json_object *body, struct sf_case_result *out)
{
	struct json_object	*total, *recs, *r;
	const char		*id, *name;

	if ((total = sf_case_get(body, "totalSize", json_type_int)) == NULL ||
	    (recs = sf_case_get(body, "records", json_type_array)) == NULL ||
	    json_object_get_int64(total) < 0 ||
	    (size_t)json_object_get_int64(total) <
	    json_object_array_length(recs))
		return -1;
	out->accounts = (long)json_object_get_int64(total);
	if (json_object_array_length(recs) == 0)
		return out->accounts == 0 ? 0 : -1;
	r = json_object_array_get_idx(recs, 0);
	if ((id = sf_case_str(r, "Id")) == NULL || !sf_case_valid_id(id) ||
	    (name = sf_case_str(r, "Name")) == NULL)
		return -1;
	snprintf(out->account_id, sizeof(out->account_id), "%s", id);
	sf_case_copy(out->account_name, sizeof(out->account_name), name, 255);
	return 0;
}

enum sf_result
sf_case_parse_composite(const char *s, size_t len,
    const struct sf_case_new *c, struct sf_case_result *out)
{
	struct sf_case_result	 r;
	struct json_object	*root, *list, *body, *v;
	const char		*refs[3], *id = NULL, *num;
	long			 status[3];
	struct json_object	*bodies[3];
	enum sf_result		 rv = SF_MALFORMED;
	size_t			 i, n = 0, k;
	int			 failed = 0;

	memset(&r, 0, sizeof(r));
	r.accounts = -1;
	if (c->account != NULL && c->account[0] != '\0') {
		refs[n++] = SF_CASE_REF_ACCOUNT;
		r.accounts = 0;
	}
	refs[n++] = SF_CASE_REF_CREATE;
	refs[n++] = SF_CASE_REF_READ;
	if ((root = sf_json_parse_strict(s, len)) == NULL)
		return SF_MALFORMED;
	if ((list = sf_case_get(root, "compositeResponse",
	    json_type_array)) == NULL || json_object_array_length(list) != n)
		goto out;
	for (i = 0; i < n; i++) {
		if (sf_case_entry(json_object_array_get_idx(list, i), refs[i],
		    &status[i], &bodies[i]) == -1)
			goto out;
		if (status[i] >= 300)
			failed = 1;
	}
	if (failed) {
		for (i = 0; i < n; i++)
			/* The create is the one before the read. */
			if (status[i] >= 300 && sf_case_errors_read(bodies[i],
			    i == n - 2, &r) == -1)
				goto out;
		/* The halts of a rolled back composite say nothing; kept
		 * only when there is no other reason. */
		for (i = k = 0; i < r.nerr; i++)
			if (!sf_case_halted(&r.err[i]))
				r.err[k++] = r.err[i];
		if (k > 0 || r.account_missing)
			r.nerr = k;
		if (r.nerr == 0 && !r.account_missing)
			goto out;
		*out = r;
		rv = SF_OK;
		goto out;
	}
	i = 0;
	if (r.accounts != -1 &&
	    (status[i] != 200 || sf_case_account_read(bodies[i++], &r) == -1))
		goto out;
	body = bodies[i];
	if (status[i] != 201 || (id = sf_case_str(body, "id")) == NULL ||
	    !sf_case_valid_id(id) ||
	    (v = sf_case_get(body, "success", json_type_boolean)) == NULL ||
	    !json_object_get_boolean(v))
		goto out;
	body = bodies[++i];
	if (status[i] != 200 || (v = sf_case_get(body, "Id",
	    json_type_string)) == NULL ||
	    strncmp(json_object_get_string(v), id, 15) != 0 ||
	    (num = sf_case_str(body, "CaseNumber")) == NULL)
		goto out;
	for (k = 0; num[k] != '\0'; k++)
		if (num[k] <= ' ' || num[k] > '~')
			goto out;
	if (k == 0 || k >= sizeof(r.number))
		goto out;
	memcpy(r.number, num, k + 1);
	snprintf(r.id, sizeof(r.id), "%s", id);
	r.created = 1;
	*out = r;
	rv = SF_OK;
out:
	json_object_put(root);
	return rv;
}

int
sf_case_reference(const char *s)
{
	const char	*p, *q;

	for (p = s; (p = strstr(p, "@{")) != NULL; p += 2) {
		for (q = p + 2; (*q >= 'A' && *q <= 'Z') ||
		    (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') ||
		    *q == '_'; q++)
			continue;
		if (q > p + 2 && *q == '.' && strchr(q, '}') != NULL)
			return 1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Building requests. */

static int
sf_case_version_ok(const char *v)
{
	return v != NULL && config_api_version_ok(v);
}

/* A subrequest {method, url, referenceId[, body]} appended to arr;
 * body (may be NULL) is taken over.  Returns 0, or -1. */
static int
sf_case_sub(struct json_object *arr, const char *method, const char *url,
    const char *ref, struct json_object *body)
{
	struct json_object	*o;

	if ((o = json_object_new_object()) == NULL) {
		json_object_put(body);
		return -1;
	}
	/* The body first, so that o owns it whatever fails after. */
	if ((body != NULL && jsonb_add(o, "body", body) == -1) ||
	    jsonb_add(o, "method", json_object_new_string(method)) == -1 ||
	    jsonb_add(o, "url", json_object_new_string(url)) == -1 ||
	    jsonb_add(o, "referenceId", json_object_new_string(ref)) == -1) {
		json_object_put(o);
		return -1;
	}
	return jsonb_push(arr, o);
}

/* The account subrequest's URL into u. */
static int
sf_case_account_url(struct buf *u, const char *version, const char *name)
{
	struct buf	 soql;
	int		 rc = -1;

	buf_init(&soql, SF_CASE_REQURL_MAX);
	if (buf_puts(&soql, "SELECT Id, Name FROM Account WHERE Name LIKE "
	    "'") == -1 || sf_soql_escape_like(&soql, name) == -1 ||
	    buf_puts(&soql, "' LIMIT 2") == -1 ||
	    buf_printf(u, "/services/data/%s/query?q=", version) == -1 ||
	    form_urlencode(u, buf_cstr(&soql)) == -1)
		goto out;
	rc = 0;
out:
	buf_free(&soql);
	return rc;
}

int
sf_case_composite_body(struct buf *b, const char *version,
    const struct sf_case_new *c)
{
	struct json_object	*root = NULL, *subs, *fields;
	struct buf		 u;
	char			 url[128], *text = NULL;
	int			 rc = -1, acct;

	buf_init(&u, SF_CASE_REQURL_MAX);
	if (!sf_case_version_ok(version))
		goto out;
	acct = c->account != NULL && c->account[0] != '\0';
	if ((root = json_object_new_object()) == NULL ||
	    jsonb_add(root, "allOrNone", json_object_new_boolean(1)) == -1 ||
	    (subs = json_object_new_array()) == NULL ||
	    jsonb_add(root, "compositeRequest", subs) == -1)
		goto out;
	if (acct && (sf_case_account_url(&u, version, c->account) == -1 ||
	    sf_case_sub(subs, "GET", buf_cstr(&u), SF_CASE_REF_ACCOUNT,
	    NULL) == -1))
		goto out;
	if ((fields = json_object_new_object()) == NULL)
		goto out;
	if ((c->subject != NULL && c->subject[0] != '\0' &&
	    jsonb_add(fields, "Subject",
	    json_object_new_string(c->subject)) == -1) ||
	    (c->description != NULL && c->description[0] != '\0' &&
	    jsonb_add(fields, "Description",
	    json_object_new_string(c->description)) == -1) ||
	    (c->priority != NULL && c->priority[0] != '\0' &&
	    jsonb_add(fields, "Priority",
	    json_object_new_string(c->priority)) == -1) ||
	    (acct && jsonb_add(fields, "AccountId", json_object_new_string(
	    "@{" SF_CASE_REF_ACCOUNT ".records[0].Id}")) == -1)) {
		json_object_put(fields);
		goto out;
	}
	snprintf(url, sizeof(url), "/services/data/%s/sobjects/Case", version);
	if (sf_case_sub(subs, "POST", url, SF_CASE_REF_CREATE, fields) == -1)
		goto out;
	snprintf(url, sizeof(url), "/services/data/%s/sobjects/Case/"
	    "@{" SF_CASE_REF_CREATE ".id}?fields=Id,CaseNumber", version);
	if (sf_case_sub(subs, "GET", url, SF_CASE_REF_READ, NULL) == -1)
		goto out;
	text = jsonb_print(root, SF_CASE_BODY_MAX);
	root = NULL;
	if (text == NULL || buf_puts(b, text) == -1)
		goto out;
	rc = 0;
out:
	free(text);
	json_object_put(root);
	buf_free(&u);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Calls. */

enum sf_result
sf_case_describe(struct http *h, const struct sf_org *org,
    const char *instance_url, const char *access_token,
    struct sf_case_picklist *out, struct sf_error *err)
{
	struct sf_case_picklist	 cached, p;
	struct http_response	 resp;
	struct sf_error		 local;
	struct buf		 url;
	struct tm		 tm;
	enum sf_result		 rv = SF_ERROR;
	time_t			 since, now = time(NULL);
	char			 path[128], extra[64];

	if (err == NULL)
		err = &local;
	err->code[0] = err->message[0] = '\0';
	http_response_init(&resp);
	buf_init(&url, SF_CASE_REQURL_MAX);
	extra[0] = '\0';
	if (!sf_case_version_ok(org->api_version))
		goto out;
	snprintf(path, sizeof(path), "/services/data/%s/sobjects/Case/"
	    "describe", org->api_version);
	if (sf_url(&url, instance_url, path) == -1)
		goto out;
	if ((since = sf_case_cache_peek(org->name, instance_url, &cached)) !=
	    0 && gmtime_r(&since, &tm) != NULL)
		strftime(extra, sizeof(extra), "If-Modified-Since: "
		    "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if ((rv = sf_send(h, "case_describe", METRICS_SF_CASE_DESCRIBE, "GET",
	    buf_cstr(&url), access_token, NULL, NULL, extra[0] != '\0' ?
	    extra : NULL, &resp)) != SF_OK)
		goto out;
	if (resp.status == 304 && extra[0] != '\0') {
		sf_case_cache_put(org->name, instance_url, NULL, 0);
		*out = cached;
		log_event(LOGL_INFO, "sf.case_describe", "outcome=not_modified");
		goto out;
	}
	if (resp.status != 200) {
		rv = sf_failed("case_describe", &resp, err, NULL);
		goto out;
	}
	if ((rv = sf_case_parse_describe(resp.body.data, resp.body.len,
	    &p)) != SF_OK) {
		log_warn("call=case_describe msg=\"malformed reply\"");
		goto out;
	}
	/* The describe's own date when it gives one (the clock that
	 * dates its changes), else when we asked, less a second, so that
	 * a change in that second is not taken for older. */
	sf_case_cache_put(org->name, instance_url, &p,
	    resp.last_modified > 0 ? resp.last_modified : now - 1);
	*out = p;
	log_event(LOGL_INFO, "sf.case_describe", "outcome=read values=%zu",
	    p.n);
out:
	buf_free(&url);
	http_response_free(&resp);
	return rv;
}

enum sf_result
sf_case_create(struct http *h, const struct sf_org *org,
    const char *instance_url, const char *access_token,
    const struct sf_case_new *c, struct sf_case_result *out,
    struct sf_error *err)
{
	struct http_response	 resp;
	struct sf_error		 local;
	struct buf		 url, body;
	enum sf_result		 rv = SF_ERROR;
	char			 path[128];

	if (err == NULL)
		err = &local;
	err->code[0] = err->message[0] = '\0';
	http_response_init(&resp);
	buf_init(&url, SF_CASE_REQURL_MAX);
	buf_init(&body, SF_CASE_BODY_MAX);
	if (!sf_case_version_ok(org->api_version))
		goto out;
	snprintf(path, sizeof(path), "/services/data/%s/composite",
	    org->api_version);
	if (sf_url(&url, instance_url, path) == -1 ||
	    sf_case_composite_body(&body, org->api_version, c) == -1) {
		log_error("call=case_create msg=\"cannot build the request\"");
		goto out;
	}
	if ((rv = sf_send(h, "case_create", METRICS_SF_CASE_CREATE, "POST",
	    buf_cstr(&url), access_token, "application/json", buf_cstr(&body),
	    NULL, &resp)) != SF_OK)
		goto out;
	if (resp.status != 200) {
		rv = sf_failed("case_create", &resp, err, NULL);
		goto out;
	}
	if ((rv = sf_case_parse_composite(resp.body.data, resp.body.len, c,
	    out)) != SF_OK) {
		log_warn("call=case_create msg=\"malformed reply\"");
		goto out;
	}
	log_event(LOGL_INFO, "sf.case_create", "outcome=%s errors=%zu "
	    "first=%s account_missing=%d accounts=%ld",
	    out->created ? "created" : "refused", out->nerr,
	    out->nerr > 0 ? out->err[0].code : "-", out->account_missing,
	    out->accounts);
out:
	buf_free(&url);
	buf_free(&body);
	http_response_free(&resp);
	return rv;
}

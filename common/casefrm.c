/*
 * casefrm: the Case form's views, its checks, its row data and the
 * mapping of Salesforce's refusals onto its inputs (see casefrm.h).
 * Views are built as json-c objects and printed once, so that every
 * string is escaped for JSON by construction; mrkdwn text from outside
 * goes through slack_escape() first.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "casefrm.h"
#include "crypto.h"
#include "jsonb.h"
#include "slack.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Ceilings of the JSON made here: a view (Slack takes 250 kB) and a
 * row's data. */
#define CASEFRM_JSON_MAX	(240 * 1024)
/* The modal's title (Slack: 24 characters at most). */
#define CASEFRM_TITLE		"New Salesforce Case"
/* The longest mrkdwn text of a section (Slack: 3000). */
#define CASEFRM_SECTION_MAX	2900
/* The longest link built (a record's, a login's, a permalink). */
#define CASEFRM_URL_MAX		8192

static const struct {
	const char	*block;
	const char	*action;
	const char	*label;
	const char	*sf_field;	/* the Case field it fills */
} casefrm_inputs[CASEFRM__NBLOCKS] = {
	[CASEFRM_SUBJECT] =	{ "case_subject", "subject", "Subject",
				  "Subject" },
	[CASEFRM_DESCRIPTION] =	{ "case_description", "description",
				  "Description", "Description" },
	[CASEFRM_PRIORITY] =	{ "case_priority", "priority", "Priority",
				  "Priority" },
	[CASEFRM_ACCOUNT] =	{ "case_account", "account", "Account",
				  "AccountId" },
};

const char *
casefrm_block_id(enum casefrm_block b)
{
	return casefrm_inputs[b].block;
}

const char *
casefrm_action_id(enum casefrm_block b)
{
	return casefrm_inputs[b].action;
}

void
casefrm_init(struct casefrm *f)
{
	memset(f, 0, sizeof(*f));
	f->pri.def = -1;
}

void
casefrm_free(struct casefrm *f)
{
	free(f->subject);
	free(f->description);
	free(f->priority);
	free(f->account);
	free(f->permalink);
	crypto_free_secret(f->response_url);
	free(f->case_id);
	free(f->case_number);
	free(f->instance_url);
	free(f->note);
	casefrm_init(f);
}

int
casefrm_set(char **dst, const char *src)
{
	char	*p = NULL;

	if (src != NULL && src[0] != '\0' && (p = strdup(src)) == NULL)
		return -1;
	free(*dst);
	*dst = p;
	return 0;
}

/* casefrm_set() of the first n bytes of src. */
static int
casefrm_setn(char **dst, const char *src, size_t n)
{
	char	*p = NULL;

	if (n > 0 && (p = strndup(src, n)) == NULL)
		return -1;
	free(*dst);
	*dst = p;
	return 0;
}

int
casefrm_has_problems(const struct casefrm_problems *pr)
{
	size_t	 i;

	if (pr->top[0] != '\0')
		return 1;
	for (i = 0; i < CASEFRM__NBLOCKS; i++)
		if (pr->block[i][0] != '\0')
			return 1;
	return 0;
}

/* Appends text to dst (n bytes), after a space when dst is not empty,
 * cut on a character boundary. */
static void
casefrm_say(char *dst, size_t n, const char *text)
{
	size_t	 len = strlen(dst), k;

	if (len > 0 && len + 1 < n) {
		dst[len++] = ' ';
		dst[len] = '\0';
	}
	if (len + 1 >= n)
		return;
	k = sf_case_prefix(text, n, n - len - 1);
	memcpy(dst + len, text, k);
	dst[len + k] = '\0';
}

/* ------------------------------------------------------------------ */
/* Filling and checking. */

/* The bytes of s without the white space around it: *start and the
 * length. */
static size_t
casefrm_trim(const char *s, const char **start)
{
	size_t	 n;

	while (*s != '\0' && isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	*start = s;
	return n;
}

int
casefrm_from_message(struct casefrm *f, const char *text)
{
	struct buf	 b;
	const char	*plain, *p, *line;
	size_t		 n, k;
	int		 rc = -1;

	buf_init(&b, 4 * SLACK_PLAIN_SEQ_MAX + 8 * strlen(text) + 64);
	if (slack_plain(&b, text) == -1)
		goto out;
	plain = buf_cstr(&b);
	/* The first line with something on it is the subject. */
	line = plain;
	n = 0;
	for (p = plain; *p != '\0'; p += k + (p[k] == '\n')) {
		k = strcspn(p, "\n");
		for (line = p, n = k; n > 0 && isspace((unsigned char)*line);
		    line++, n--)
			continue;
		while (n > 0 && isspace((unsigned char)line[n - 1]))
			n--;
		if (n > 0)
			break;
	}
	if (n > 0) {
		n = sf_case_prefix(line, SF_CASE_SUBJECT_MAX, n);
		if (casefrm_setn(&f->subject, line, n) == -1)
			goto out;
	}
	n = casefrm_trim(plain, &line);
	n = sf_case_prefix(line, CASEFRM_DESC_INPUT_MAX, n);
	if (casefrm_setn(&f->description, line, n) == -1)
		goto out;
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

int
casefrm_oneliner(struct casefrm *f, const char *text)
{
	const char	*colon, *s;
	size_t		 n;

	if ((colon = strchr(text, ':')) == NULL)
		return 0;
	n = casefrm_trim(text, &s);
	if (s >= colon)
		return 0;
	for (n = (size_t)(colon - s); n > 0 &&
	    isspace((unsigned char)s[n - 1]); n--)
		continue;
	if (n == 0)
		return 0;
	if (casefrm_setn(&f->subject, s, n) == -1)
		return -1;
	n = casefrm_trim(colon + 1, &s);
	if (casefrm_setn(&f->description, s, n) == -1)
		return -1;
	return 1;
}

/* Checks one text value v of input b: length in characters, control
 * bytes (one_line: any), composite references. */
static void
casefrm_check_text(const char *v, enum casefrm_block b, size_t max,
    int one_line, struct casefrm_problems *pr)
{
	char	 msg[160];
	size_t	 i, n;

	if (v == NULL)
		return;
	if ((n = sf_case_chars(v)) > max) {
		snprintf(msg, sizeof(msg), "At most %zu characters, please "
		    "(this has %zu).", max, n);
		casefrm_say(pr->block[b], sizeof(pr->block[b]), msg);
		return;
	}
	for (i = 0; v[i] != '\0'; i++)
		if ((unsigned char)v[i] < ' ' && (one_line || (v[i] != '\n' &&
		    v[i] != '\t' && v[i] != '\r'))) {
			casefrm_say(pr->block[b], sizeof(pr->block[b]),
			    one_line ? "One line, please." :
			    "Remove the control characters, please.");
			return;
		}
	if (sf_case_reference(v))
		casefrm_say(pr->block[b], sizeof(pr->block[b]), "Salesforce "
		    "would read “@{…}” as a reference to another request: "
		    "please write it another way (e.g. with a space after "
		    "the @).");
}

/* The number of inputs with a problem. */
static int
casefrm_count(const struct casefrm_problems *pr)
{
	int	 i, n = 0;

	for (i = 0; i < CASEFRM__NBLOCKS; i++)
		n += pr->block[i][0] != '\0';
	return n + (pr->top[0] != '\0');
}

int
casefrm_check(const struct casefrm *f, struct casefrm_problems *pr)
{
	memset(pr, 0, sizeof(*pr));
	if (f->subject == NULL)
		casefrm_say(pr->block[CASEFRM_SUBJECT],
		    sizeof(pr->block[0]), "A Case needs a subject.");
	casefrm_check_text(f->subject, CASEFRM_SUBJECT, SF_CASE_SUBJECT_MAX,
	    1, pr);
	casefrm_check_text(f->description, CASEFRM_DESCRIPTION,
	    SF_CASE_DESC_MAX, 0, pr);
	casefrm_check_text(f->account, CASEFRM_ACCOUNT, SF_CASE_ACCOUNT_MAX,
	    1, pr);
	if (f->priority != NULL && sf_case_picklist_find(&f->pri,
	    f->priority) == -1)
		casefrm_say(pr->block[CASEFRM_PRIORITY], sizeof(pr->block[0]),
		    "Choose one of the priorities offered.");
	else if (f->priority == NULL && f->pri.n > 0)
		casefrm_say(pr->block[CASEFRM_PRIORITY], sizeof(pr->block[0]),
		    "Choose a priority.");
	return casefrm_count(pr);
}

int
casefrm_read(struct casefrm *f, const char *const v[CASEFRM__NBLOCKS],
    struct casefrm_problems *pr)
{
	char		**dst[CASEFRM__NBLOCKS] = {
		[CASEFRM_SUBJECT] = &f->subject,
		[CASEFRM_DESCRIPTION] = &f->description,
		[CASEFRM_PRIORITY] = &f->priority,
		[CASEFRM_ACCOUNT] = &f->account,
	};
	const char	 *s;
	size_t		  i, n;

	for (i = 0; i < CASEFRM__NBLOCKS; i++) {
		/* Around a subject or an account name, white space is not
		 * meant; a description keeps its own. */
		s = v[i] != NULL ? v[i] : "";
		n = strlen(s);
		if (i != CASEFRM_DESCRIPTION && i != CASEFRM_PRIORITY)
			n = casefrm_trim(s, &s);
		if (casefrm_setn(dst[i], s, n) == -1)
			return -1;
	}
	return casefrm_check(f, pr);
}

int
casefrm_case(const struct casefrm *f, struct sf_case_new *c, char **desc)
{
	memset(c, 0, sizeof(*c));
	*desc = NULL;
	c->subject = f->subject;
	c->description = f->description;
	c->priority = f->priority;
	c->account = f->account;
	if (f->permalink == NULL)
		return 0;
	if (asprintf(desc, "%s%sFrom Slack: %s", f->description != NULL ?
	    f->description : "", f->description != NULL ? "\n\n" : "",
	    f->permalink) == -1) {
		*desc = NULL;
		return -1;
	}
	c->description = *desc;
	return 0;
}

/* The input a Salesforce field name fills, or -1. */
static int
casefrm_field_block(const char *field)
{
	size_t	 i;

	if (strcmp(field, "Account") == 0)
		return CASEFRM_ACCOUNT;
	for (i = 0; i < CASEFRM__NBLOCKS; i++)
		if (strcmp(field, casefrm_inputs[i].sf_field) == 0)
			return (int)i;
	return -1;
}

/* What to say under an input for Salesforce's error e. */
static void
casefrm_field_text(const struct sf_case_error *e, char *out, size_t n)
{
	const char	*p;
	long		 max;

	if (strcmp(e->code, "STRING_TOO_LONG") == 0 &&
	    (p = strstr(e->message, "(max length=")) != NULL &&
	    sscanf(p, "(max length=%ld)", &max) == 1 && max > 0) {
		snprintf(out, n, "Too long for Salesforce: at most %ld "
		    "characters.", max);
		return;
	}
	if (strcmp(e->code, "REQUIRED_FIELD_MISSING") == 0) {
		snprintf(out, n, "Salesforce requires this field.");
		return;
	}
	if (strcmp(e->code, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST") == 0) {
		snprintf(out, n, "Salesforce does not accept this value (%s).",
		    e->message);
		return;
	}
	snprintf(out, n, "%s", e->message);
	/* snprintf may have cut a character: cut on a boundary. */
	out[sf_case_prefix(out, n, n - 1)] = '\0';
}

void
casefrm_map(const struct sf_case_result *r, const char *account,
    struct casefrm_problems *pr)
{
	char	 text[600];
	size_t	 i, k;
	int	 b, placed;

	memset(pr, 0, sizeof(*pr));
	if (r->account_missing) {
		snprintf(text, sizeof(text), "No Salesforce account is named "
		    "“%.*s”: type the account's exact name, or leave this "
		    "empty.", (int)sf_case_prefix(account != NULL ? account :
		    "", 80, 320), account != NULL ? account : "");
		casefrm_say(pr->block[CASEFRM_ACCOUNT], sizeof(pr->block[0]),
		    text);
	}
	for (i = 0; i < r->nerr; i++) {
		const struct sf_case_error *e = &r->err[i];

		casefrm_field_text(e, text, sizeof(text));
		for (k = placed = 0; k < e->nfields; k++) {
			if ((b = casefrm_field_block(e->fields[k])) == -1)
				continue;
			casefrm_say(pr->block[b], sizeof(pr->block[b]), text);
			placed = 1;
		}
		if (placed)
			continue;
		if (strcmp(e->code, "REQUIRED_FIELD_MISSING") == 0)
			snprintf(text, sizeof(text), "Salesforce requires a "
			    "field this form does not have (%s): ask your "
			    "Salesforce admin.", e->message);
		else
			snprintf(text, sizeof(text), "Salesforce did not "
			    "create the Case: %s", e->message);
		text[sf_case_prefix(text, sizeof(text), sizeof(text) - 1)] =
		    '\0';
		casefrm_say(pr->top, sizeof(pr->top), text);
	}
}

/* ------------------------------------------------------------------ */
/* JSON. */

/* Prints o (and releases it) into an allocated string, or NULL. */
static char *
casefrm_print(struct json_object *o)
{
	return jsonb_print(o, CASEFRM_JSON_MAX);
}

/* mrkdwn from text: escaped, cut to what a section takes.  Returns the
 * text object or NULL. */
static struct json_object *
casefrm_mrkdwn(const char *prefix, const char *text, const char *suffix)
{
	struct json_object	*o = NULL;
	struct buf		 b;
	size_t			 cut, k;

	/* Escaping makes a byte at most five ("&amp;"). */
	buf_init(&b, strlen(prefix) + 5 * strlen(text) + strlen(suffix) + 1);
	if (buf_puts(&b, prefix) == -1 || slack_escape(&b, text) == -1 ||
	    buf_puts(&b, suffix) == -1)
		goto out;
	if (sf_case_chars(buf_cstr(&b)) > CASEFRM_SECTION_MAX) {
		cut = sf_case_prefix(buf_cstr(&b), CASEFRM_SECTION_MAX - 1,
		    b.len);
		/* Not inside an entity: "&am" would show as it is. */
		for (k = cut; k > 0 && cut - k < 5; k--)
			if (b.data[k - 1] == '&') {
				cut = k - 1;
				break;
			} else if (b.data[k - 1] == ';')
				break;
		b.data[cut] = '\0';
	}
	o = jsonb_text("mrkdwn", buf_cstr(&b));
out:
	buf_free(&b);
	return o;
}

/* A block of type with block_id (may be NULL). */
static struct json_object *
casefrm_block(const char *type, const char *block_id)
{
	struct json_object	*o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if (jsonb_add(o, "type", json_object_new_string(type)) == -1 ||
	    (block_id != NULL && jsonb_add(o, "block_id",
	    json_object_new_string(block_id)) == -1)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* A block of type with block_id holding mrkdwn text o (taken over) as
 * "text" (a section) or as its one element (a context). */
static int
casefrm_mrkdwn_block(struct json_object *blocks, const char *type,
    const char *block_id, struct json_object *o)
{
	struct json_object	*blk, *els;

	if (o == NULL || (blk = casefrm_block(type, block_id)) == NULL) {
		json_object_put(o);
		return -1;
	}
	if (strcmp(type, "section") == 0) {
		if (jsonb_add(blk, "text", o) == -1)
			goto fail;
	} else {
		if ((els = json_object_new_array()) == NULL ||
		    jsonb_add(blk, "elements", els) == -1) {
			json_object_put(o);
			goto fail;
		}
		if (jsonb_push(els, o) == -1)
			goto fail;
	}
	return jsonb_push(blocks, blk);
fail:
	json_object_put(blk);
	return -1;
}

/* A section of mrkdwn: prefix (ours), text (escaped here), suffix. */
static int
casefrm_section(struct json_object *blocks, const char *block_id,
    const char *prefix, const char *text, const char *suffix)
{
	return casefrm_mrkdwn_block(blocks, "section", block_id,
	    casefrm_mrkdwn(prefix, text, suffix));
}

/* A context block of one mrkdwn element: prefix + escaped text. */
static int
casefrm_context(struct json_object *blocks, const char *block_id,
    const char *prefix, const char *text)
{
	return casefrm_mrkdwn_block(blocks, "context", block_id,
	    casefrm_mrkdwn(prefix, text, ""));
}

/* A block of type of mrkdwn built here (links included), as it is. */
static int
casefrm_raw(struct json_object *blocks, const char *type,
    const char *block_id, const char *mrkdwn)
{
	return casefrm_mrkdwn_block(blocks, type, block_id,
	    jsonb_text("mrkdwn", mrkdwn));
}

/* An actions block with one link button. */
static int
casefrm_link_button(struct json_object *blocks, const char *block_id,
    const char *action_id, const char *label, const char *url)
{
	struct json_object	*a, *els, *btn;

	if ((a = casefrm_block("actions", block_id)) == NULL)
		return -1;
	if ((els = json_object_new_array()) == NULL ||
	    jsonb_add(a, "elements", els) == -1 ||
	    (btn = casefrm_block("button", NULL)) == NULL ||
	    jsonb_push(els, btn) == -1 ||
	    jsonb_add(btn, "action_id", json_object_new_string(action_id)) ==
	    -1 || jsonb_add(btn, "text", jsonb_text("plain_text",
	    label)) == -1 || jsonb_add(btn, "url",
	    json_object_new_string(url)) == -1 ||
	    jsonb_add(btn, "style", json_object_new_string("primary")) ==
	    -1) {
		json_object_put(a);
		return -1;
	}
	return jsonb_push(blocks, a);
}

/* The modal around blocks (taken over): title, callback_id, key, and a
 * submit button when submit is set. */
static struct json_object *
casefrm_modal(const char *key, struct json_object *blocks, int submit)
{
	struct json_object	*v;

	if ((v = json_object_new_object()) == NULL) {
		json_object_put(blocks);
		return NULL;
	}
	if (jsonb_add(v, "blocks", blocks) == -1 ||
	    jsonb_add(v, "type", json_object_new_string("modal")) == -1 ||
	    jsonb_add(v, "callback_id",
	    json_object_new_string(CASEFRM_CALLBACK)) == -1 ||
	    jsonb_add(v, "title", jsonb_text("plain_text",
	    CASEFRM_TITLE)) == -1 ||
	    jsonb_add(v, "close", jsonb_text("plain_text", submit ?
	    "Cancel" : "Close")) == -1 ||
	    jsonb_add(v, "private_metadata",
	    json_object_new_string(key)) == -1 ||
	    (submit && (jsonb_add(v, "submit", jsonb_text("plain_text",
	    "Create")) == -1 || jsonb_add(v, "notify_on_close",
	    json_object_new_boolean(1)) == -1))) {
		json_object_put(v);
		return NULL;
	}
	return v;
}

/* A plain_text_input element. */
static struct json_object *
casefrm_text_input(enum casefrm_block b, const char *value, int max,
    int multiline)
{
	struct json_object	*el;

	if ((el = casefrm_block("plain_text_input", NULL)) == NULL)
		return NULL;
	if (jsonb_add(el, "action_id",
	    json_object_new_string(casefrm_inputs[b].action)) == -1 ||
	    jsonb_add(el, "max_length", json_object_new_int(max)) == -1 ||
	    (multiline && jsonb_add(el, "multiline",
	    json_object_new_boolean(1)) == -1) ||
	    (value != NULL && jsonb_add(el, "initial_value",
	    json_object_new_string_len(value, (int)sf_case_prefix(value,
	    (size_t)max, strlen(value)))) == -1)) {
		json_object_put(el);
		return NULL;
	}
	return el;
}

/* One static_select option. */
static struct json_object *
casefrm_option(const struct sf_case_picklist *p, size_t i)
{
	struct json_object	*o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if (jsonb_add(o, "text", jsonb_text("plain_text",
	    p->label[i])) == -1 ||
	    jsonb_add(o, "value", json_object_new_string(p->value[i])) ==
	    -1) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* The Priority static_select: f's priority chosen, else the default. */
static struct json_object *
casefrm_select(const struct casefrm *f)
{
	struct json_object	*el, *opts;
	size_t			 i;
	int			 chosen;

	if ((el = casefrm_block("static_select", NULL)) == NULL)
		return NULL;
	chosen = f->priority != NULL ? sf_case_picklist_find(&f->pri,
	    f->priority) : f->pri.def;
	if (jsonb_add(el, "action_id", json_object_new_string(
	    casefrm_inputs[CASEFRM_PRIORITY].action)) == -1 ||
	    jsonb_add(el, "placeholder", jsonb_text("plain_text",
	    "Choose a priority")) == -1 ||
	    (opts = json_object_new_array()) == NULL ||
	    jsonb_add(el, "options", opts) == -1)
		goto fail;
	for (i = 0; i < f->pri.n; i++)
		if (jsonb_push(opts, casefrm_option(&f->pri, i)) == -1)
			goto fail;
	if (chosen >= 0 && jsonb_add(el, "initial_option",
	    casefrm_option(&f->pri, (size_t)chosen)) == -1)
		goto fail;
	return el;
fail:
	json_object_put(el);
	return NULL;
}

/* An input block of b holding element el (taken over), then its
 * problem, when pr has one, in a context block under it. */
static int
casefrm_input(struct json_object *blocks, enum casefrm_block b,
    struct json_object *el, int optional, const char *hint,
    const struct casefrm_problems *pr)
{
	struct json_object	*in;
	char			 id[64];

	if (el == NULL || (in = casefrm_block("input",
	    casefrm_inputs[b].block)) == NULL) {
		json_object_put(el);
		return -1;
	}
	if (jsonb_add(in, "element", el) == -1 ||
	    jsonb_add(in, "label", jsonb_text("plain_text",
	    casefrm_inputs[b].label)) == -1 ||
	    (optional && jsonb_add(in, "optional",
	    json_object_new_boolean(1)) == -1) ||
	    (hint != NULL && jsonb_add(in, "hint", jsonb_text(
	    "plain_text", hint)) == -1) ||
	    jsonb_push(blocks, in) == -1) {
		json_object_put(in);
		return -1;
	}
	if (pr == NULL || pr->block[b][0] == '\0')
		return 0;
	snprintf(id, sizeof(id), "%s_error", casefrm_inputs[b].block);
	return casefrm_context(blocks, id, ":warning: ", pr->block[b]);
}

char *
casefrm_view_form(const struct casefrm *f, const char *key,
    const struct casefrm_problems *pr)
{
	struct json_object	*blocks;
	struct buf		 b;
	char			*out = NULL;

	buf_init(&b, CASEFRM_URL_MAX);
	if ((blocks = json_object_new_array()) == NULL)
		goto out;
	if (pr != NULL && pr->top[0] != '\0' && casefrm_section(blocks,
	    "case_top", ":warning: ", pr->top, "") == -1)
		goto fail;
	if (casefrm_input(blocks, CASEFRM_SUBJECT, casefrm_text_input(
	    CASEFRM_SUBJECT, f->subject, SF_CASE_SUBJECT_MAX, 0), 0, NULL,
	    pr) == -1 ||
	    casefrm_input(blocks, CASEFRM_DESCRIPTION, casefrm_text_input(
	    CASEFRM_DESCRIPTION, f->description, CASEFRM_DESC_INPUT_MAX, 1),
	    1, NULL, pr) == -1)
		goto fail;
	if (f->pri.n > 0 && casefrm_input(blocks, CASEFRM_PRIORITY,
	    casefrm_select(f), 0, NULL, pr) == -1)
		goto fail;
	if (casefrm_input(blocks, CASEFRM_ACCOUNT, casefrm_text_input(
	    CASEFRM_ACCOUNT, f->account, SF_CASE_ACCOUNT_MAX, 0), 1,
	    "The account's exact name in Salesforce.", pr) == -1)
		goto fail;
	if (f->permalink != NULL && (buf_puts(&b, "A link to ") == -1 ||
	    slack_link(&b, f->permalink, "the message") == -1 ||
	    buf_puts(&b, " is added to the description.") == -1 ||
	    casefrm_raw(blocks, "context", "case_source", buf_cstr(&b)) ==
	    -1))
		goto fail;
	out = casefrm_print(casefrm_modal(key, blocks, 1));
	goto out;
fail:
	json_object_put(blocks);
out:
	buf_free(&b);
	return out;
}

char *
casefrm_view_note(const char *key, const char *text)
{
	struct json_object	*blocks;

	if ((blocks = json_object_new_array()) == NULL)
		return NULL;
	if (casefrm_section(blocks, "case_note", "", text, "") == -1) {
		json_object_put(blocks);
		return NULL;
	}
	return casefrm_print(casefrm_modal(key, blocks, 0));
}

/* {instance}/{id} into b. */
static int
casefrm_record_url(struct buf *b, const struct casefrm *f)
{
	size_t	 n;

	if (f->instance_url == NULL || f->case_id == NULL)
		return -1;
	for (n = strlen(f->instance_url); n > 0 &&
	    f->instance_url[n - 1] == '/'; n--)
		continue;
	return buf_append(b, f->instance_url, n) == -1 ||
	    buf_putc(b, '/') == -1 || buf_puts(b, f->case_id) == -1 ? -1 : 0;
}

char *
casefrm_view_created(const struct casefrm *f, const char *key)
{
	struct json_object	*blocks;
	struct buf		 url;
	char			 head[128];
	char			*out = NULL;

	buf_init(&url, CASEFRM_URL_MAX);
	if ((blocks = json_object_new_array()) == NULL)
		goto out;
	snprintf(head, sizeof(head), ":white_check_mark: Case *%s* was "
	    "created: ", f->case_number != NULL ? f->case_number : "?");
	if (casefrm_record_url(&url, f) == -1 ||
	    casefrm_section(blocks, "case_done", head, f->subject != NULL ?
	    f->subject : "", "") == -1 ||
	    casefrm_link_button(blocks, "case_open", "open",
	    "Open in Salesforce", buf_cstr(&url)) == -1 ||
	    (f->note != NULL && casefrm_context(blocks, "case_note", "",
	    f->note) == -1)) {
		json_object_put(blocks);
		goto out;
	}
	out = casefrm_print(casefrm_modal(key, blocks, 0));
out:
	buf_free(&url);
	return out;
}

char *
casefrm_view_login(const char *key, const char *url, const char *reason,
    int kept)
{
	struct json_object	*blocks;
	char			 text[512];

	snprintf(text, sizeof(text), "%s%sTo create this Case as you, "
	    "forcelink needs your Salesforce login first. %s",
	    reason != NULL ? reason : "", reason != NULL ? " " : "",
	    kept ? "Your Case is kept: once you have logged in, it is "
	    "created and shown here." : "Once you have logged in, run "
	    "/case again.");
	if ((blocks = json_object_new_array()) == NULL)
		return NULL;
	if (casefrm_section(blocks, "case_login", "", text, "") == -1 ||
	    casefrm_link_button(blocks, "case_login_link", "open",
	    "Log in to Salesforce", url) == -1) {
		json_object_put(blocks);
		return NULL;
	}
	return casefrm_print(casefrm_modal(key, blocks, 0));
}

char *
casefrm_errors_response(const struct casefrm_problems *pr)
{
	struct json_object	*o, *errs;
	size_t			 i;
	int			 any = 0;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if (jsonb_add(o, "response_action", json_object_new_string(
	    "errors")) == -1 || (errs = json_object_new_object()) == NULL ||
	    jsonb_add(o, "errors", errs) == -1)
		goto fail;
	for (i = 0; i < CASEFRM__NBLOCKS; i++) {
		if (pr->block[i][0] == '\0')
			continue;
		if (jsonb_add(errs, casefrm_inputs[i].block,
		    json_object_new_string(pr->block[i])) == -1)
			goto fail;
		any = 1;
	}
	/* Only inputs can show an error: the top goes under Subject. */
	if (!any && jsonb_add(errs, casefrm_inputs[CASEFRM_SUBJECT].block,
	    json_object_new_string(pr->top)) == -1)
		goto fail;
	return casefrm_print(o);
fail:
	json_object_put(o);
	return NULL;
}

char *
casefrm_update_response(const char *view_json)
{
	struct json_object	*o, *v;

	if (view_json == NULL ||
	    (v = sf_json_parse_strict(view_json, strlen(view_json))) == NULL)
		return NULL;
	if ((o = json_object_new_object()) == NULL) {
		json_object_put(v);
		return NULL;
	}
	if (jsonb_add(o, "response_action", json_object_new_string(
	    "update")) == -1 || jsonb_add(o, "view", v) == -1) {
		json_object_put(o);
		return NULL;
	}
	return casefrm_print(o);
}

/* An ephemeral message of text (a plain fallback) and blocks (taken
 * over). */
static char *
casefrm_message(const char *text, struct json_object *blocks)
{
	struct json_object	*m;

	if ((m = json_object_new_object()) == NULL) {
		json_object_put(blocks);
		return NULL;
	}
	if (jsonb_add(m, "blocks", blocks) == -1 ||
	    jsonb_add(m, "response_type", json_object_new_string(
	    "ephemeral")) == -1 ||
	    jsonb_add(m, "text", json_object_new_string(text)) == -1) {
		json_object_put(m);
		return NULL;
	}
	return casefrm_print(m);
}

char *
casefrm_message_created(const struct casefrm *f)
{
	struct json_object	*blocks;
	struct buf		 url, text, md;
	const char		*subject = f->subject != NULL ? f->subject :
				    "(no subject)";
	const char		*num = f->case_number != NULL ?
				    f->case_number : "?";
	char			*out = NULL;

	buf_init(&url, CASEFRM_URL_MAX);
	buf_init(&text, 4 * CASEFRM_SECTION_MAX);
	buf_init(&md, 4 * CASEFRM_SECTION_MAX);
	if ((blocks = json_object_new_array()) == NULL)
		goto out;
	/* The fallback names the link; the section links the subject. */
	if (casefrm_record_url(&url, f) == -1 ||
	    buf_printf(&text, "Case %s was created: ", num) == -1 ||
	    slack_escape(&text, subject) == -1 ||
	    buf_printf(&text, " (%s)", buf_cstr(&url)) == -1 ||
	    buf_printf(&md, ":white_check_mark: Case *%s* was created: ",
	    num) == -1 || slack_link(&md, buf_cstr(&url), subject) == -1 ||
	    casefrm_raw(blocks, "section", "case_done", buf_cstr(&md)) ==
	    -1 || casefrm_link_button(blocks, "case_open", "open",
	    "Open in Salesforce", buf_cstr(&url)) == -1 ||
	    (f->note != NULL && casefrm_context(blocks, "case_note", "",
	    f->note) == -1)) {
		json_object_put(blocks);
		goto out;
	}
	out = casefrm_message(buf_cstr(&text), blocks);
out:
	buf_free(&url);
	buf_free(&text);
	buf_free(&md);
	return out;
}

char *
casefrm_message_problems(const struct casefrm_problems *pr)
{
	struct json_object	*blocks;
	struct buf		 text, esc;
	char			*out = NULL;
	size_t			 i;

	buf_init(&text, 8192);
	buf_init(&esc, 5 * 8192);
	if (buf_puts(&text, "The Case was not created.") == -1)
		goto out;
	if (pr->top[0] != '\0' && (buf_putc(&text, ' ') == -1 ||
	    buf_puts(&text, pr->top) == -1))
		goto out;
	for (i = 0; i < CASEFRM__NBLOCKS; i++)
		if (pr->block[i][0] != '\0' && buf_printf(&text, " %s: %s",
		    casefrm_inputs[i].label, pr->block[i]) == -1)
			goto out;
	if ((blocks = json_object_new_array()) == NULL)
		goto out;
	if (casefrm_section(blocks, "case_problems", ":warning: ",
	    buf_cstr(&text), "") == -1) {
		json_object_put(blocks);
		goto out;
	}
	/* The fallback text is mrkdwn too: Salesforce's words escaped. */
	if (slack_escape(&esc, buf_cstr(&text)) == -1) {
		json_object_put(blocks);
		goto out;
	}
	out = casefrm_message(buf_cstr(&esc), blocks);
out:
	buf_free(&text);
	buf_free(&esc);
	return out;
}

/* ------------------------------------------------------------------ */
/* Row data. */

static const struct {
	const char	*key;
	size_t		 off;
} casefrm_strings[] = {
	{ "subject", offsetof(struct casefrm, subject) },
	{ "description", offsetof(struct casefrm, description) },
	{ "priority", offsetof(struct casefrm, priority) },
	{ "account", offsetof(struct casefrm, account) },
	{ "permalink", offsetof(struct casefrm, permalink) },
	{ "response_url", offsetof(struct casefrm, response_url) },
	{ "case_id", offsetof(struct casefrm, case_id) },
	{ "case_number", offsetof(struct casefrm, case_number) },
	{ "instance_url", offsetof(struct casefrm, instance_url) },
	{ "note", offsetof(struct casefrm, note) },
};

#define CASEFRM_FIELD(f, i) \
	(*(char **)(void *)((char *)(f) + casefrm_strings[i].off))

char *
casefrm_data(const struct casefrm *f)
{
	struct json_object	*o, *opts, *pair;
	const char		*v;
	size_t			 i;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	for (i = 0; i < NELEM(casefrm_strings); i++)
		if ((v = CASEFRM_FIELD(f, i)) != NULL &&
		    jsonb_add(o, casefrm_strings[i].key,
		    json_object_new_string(v)) == -1)
			goto fail;
	if ((f->creating_at != 0 && jsonb_add(o, "creating_at",
	    json_object_new_int64(f->creating_at)) == -1) ||
	    (opts = json_object_new_array()) == NULL ||
	    jsonb_add(o, "offered", opts) == -1 ||
	    jsonb_add(o, "default", json_object_new_int(f->pri.def)) == -1)
		goto fail;
	for (i = 0; i < f->pri.n; i++) {
		if ((pair = json_object_new_array()) == NULL ||
		    jsonb_push(opts, pair) == -1 ||
		    jsonb_push(pair, json_object_new_string(
		    f->pri.value[i])) == -1 ||
		    jsonb_push(pair, json_object_new_string(
		    f->pri.label[i])) == -1)
			goto fail;
	}
	return casefrm_print(o);
fail:
	json_object_put(o);
	return NULL;
}

/* The offered values of data into p.  Returns 0, or -1. */
static int
casefrm_load_offered(struct json_object *o, struct sf_case_picklist *p)
{
	struct json_object	*opts, *def, *pair, *v, *l;
	size_t			 i;

	if (!json_object_object_get_ex(o, "offered", &opts) ||
	    !json_object_is_type(opts, json_type_array) ||
	    json_object_array_length(opts) > SF_CASE_PICK_MAX ||
	    !json_object_object_get_ex(o, "default", &def) ||
	    !json_object_is_type(def, json_type_int))
		return -1;
	for (i = 0; i < json_object_array_length(opts); i++) {
		pair = json_object_array_get_idx(opts, i);
		if (!json_object_is_type(pair, json_type_array) ||
		    json_object_array_length(pair) != 2 ||
		    !json_object_is_type(v = json_object_array_get_idx(pair,
		    0), json_type_string) ||
		    !json_object_is_type(l = json_object_array_get_idx(pair,
		    1), json_type_string) ||
		    (size_t)json_object_get_string_len(v) > SF_CASE_VALUE_MAX ||
		    (size_t)json_object_get_string_len(l) > SF_CASE_LABEL_MAX)
			return -1;
		memcpy(p->value[i], json_object_get_string(v),
		    (size_t)json_object_get_string_len(v) + 1);
		memcpy(p->label[i], json_object_get_string(l),
		    (size_t)json_object_get_string_len(l) + 1);
	}
	p->n = i;
	p->def = json_object_get_int(def);
	return p->def >= -1 && p->def < (int)p->n ? 0 : -1;
}

int
casefrm_load(const char *data, struct casefrm *f)
{
	struct json_object	*o, *v;
	size_t			 i;
	int			 rc = -1;

	if ((o = sf_json_parse_strict(data, strlen(data))) == NULL)
		return -1;
	if (!json_object_is_type(o, json_type_object))
		goto out;
	for (i = 0; i < NELEM(casefrm_strings); i++) {
		if (!json_object_object_get_ex(o, casefrm_strings[i].key, &v))
			continue;
		if (!json_object_is_type(v, json_type_string) ||
		    casefrm_set(&CASEFRM_FIELD(f, i),
		    json_object_get_string(v)) == -1)
			goto out;
	}
	if (json_object_object_get_ex(o, "creating_at", &v)) {
		if (!json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) <= 0)
			goto out;
		f->creating_at = json_object_get_int64(v);
	}
	rc = casefrm_load_offered(o, &f->pri);
out:
	json_object_put(o);
	return rc;
}

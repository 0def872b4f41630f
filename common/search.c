/*
 * search: one page of a search, from the user's text to the message (see
 * search.h).
 *
 * The page's action row holds JSON that only forcelink writes and reads
 * (sealed by the store):
 *   {"kind":"contact","text":"smith","limit":10,"next":10,
 *    "cards":[["*<url|Name>*\n...","https://.../003..."],...]}
 * next is the OFFSET of the page after, or -1 when there is none (or it
 * would pass SF_OFFSET_MAX, which SOQL refuses); a card's URL is null
 * when the record has none.  It is still read strictly, as any JSON.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "buf.h"
#include "http.h"
#include "log.h"
#include "render.h"
#include "reply.h"
#include "search.h"
#include "sf.h"

/* The slash commands that search, and what their text is. */
static const struct {
	const char	*command;
	enum sf_kind	 kind;
	int		 counted;	/* the text is N, not a name */
} search_commands[] = {
	{ "/contact",	SF_KIND_CONTACT,	0 },
	{ "/account",	SF_KIND_ACCOUNT,	0 },
	{ "/pipeline",	SF_KIND_OPPORTUNITY,	1 },
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Reads a whole number, clamped to 1..SF_QUERY_LIMIT: an optional sign,
 * then digits only (any number of them: a long one is large, never an
 * overflow).  Returns the number, or -1 when text is no number.
 */
static int
search_count(const char *text)
{
	const char	*p = text;
	int		 neg = 0, big = 0, v = 0;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (!isdigit((unsigned char)*p))
		return -1;
	for (; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p))
			return -1;
		if (!big && (v = v * 10 + (*p - '0')) > SF_QUERY_LIMIT)
			big = 1;
	}
	if (neg || v < 1)
		return 1;
	return big ? SF_QUERY_LIMIT : v;
}

enum search_cmd
search_command(const char *command, const char *text,
    struct search_page *page, const char **canonical)
{
	size_t	 i;
	int	 n;

	if (command == NULL)
		command = search_commands[0].command;
	for (i = 0; i < NELEM(search_commands); i++)
		if (strcmp(command, search_commands[i].command) == 0)
			break;
	if (i == NELEM(search_commands))
		return SEARCH_CMD_NONE;
	if (canonical != NULL)
		*canonical = search_commands[i].command;
	memset(page, 0, sizeof(*page));
	page->kind = search_commands[i].kind;
	page->limit = SF_QUERY_LIMIT;
	if (!search_commands[i].counted) {
		page->text = text != NULL ? text : "";
		return SEARCH_CMD_OK;
	}
	if (text == NULL || *text == '\0') {
		page->limit = SEARCH_PIPELINE_DEFAULT;
		return SEARCH_CMD_OK;
	}
	if ((n = search_count(text)) == -1)
		return SEARCH_CMD_USAGE;
	page->limit = n;
	return SEARCH_CMD_OK;
}

/* Appends the JSON string s. */
static int
search_jstr(struct buf *b, const char *s)
{
	return render_json_str(b, s, strlen(s));
}

/* The row's JSON for page (next: -1 or the next OFFSET) and its cards,
 * at most STORE_ACTION_DATA_MAX bytes; NULL when it does not fit or
 * memory is exhausted. */
static char *
search_row_data(const struct search_page *page, int next,
    const struct render_cards *c)
{
	struct buf	 b;
	size_t		 i;

	buf_init(&b, STORE_ACTION_DATA_MAX);
	if (buf_puts(&b, "{\"kind\":") == -1 ||
	    search_jstr(&b, sf_kind_str(page->kind)) == -1 ||
	    buf_puts(&b, ",\"text\":") == -1 ||
	    search_jstr(&b, page->text != NULL ? page->text : "") == -1 ||
	    buf_printf(&b, ",\"limit\":%d,\"next\":%d,\"cards\":[",
	    page->limit, next) == -1)
		goto fail;
	for (i = 0; i < c->n; i++)
		if (buf_puts(&b, i > 0 ? ",[" : "[") == -1 ||
		    search_jstr(&b, c->text[i]) == -1 ||
		    buf_putc(&b, ',') == -1 ||
		    (c->url[i] != NULL ? search_jstr(&b, c->url[i]) :
		    buf_puts(&b, "null")) == -1 ||
		    buf_putc(&b, ']') == -1)
			goto fail;
	if (buf_puts(&b, "]}") == -1)
		goto fail;
	return buf_detach(&b);
fail:
	buf_free(&b);
	return NULL;
}

/*
 * Keeps the page's row (one store write) and returns its key in key, or
 * leaves key "" when it could not be kept (logged: the page is shown
 * without Share and More).
 */
static void
search_keep(struct session *s, const struct slack_user *who,
    const struct search_page *page, int next, const struct render_cards *c,
    char key[STORE_ACTION_KEY_LEN + 1])
{
	enum store_result	 sr = STORE_ERROR;
	char			*data;

	key[0] = '\0';
	if ((data = search_row_data(page, next, c)) != NULL)
		sr = store_action_put(s->st, who, STORE_ACTION_SHARE, data,
		    time(NULL) + SEARCH_ROW_TTL, key);
	if (sr != STORE_OK) {
		key[0] = '\0';
		log_event(LOGL_WARN, "search.row", "outcome=%s",
		    data == NULL ? "too_large_or_nomem" :
		    store_result_str(sr));
	}
	free(data);
}

/* Why /pipeline cannot answer in integration-user mode. */
static char *
search_pipeline_iuser(void)
{
	return render_message("/pipeline shows your own open opportunities, "
	    "but this workspace uses Salesforce as one integration user for "
	    "everyone, so forcelink cannot tell which opportunities are "
	    "yours. Use /account or /contact to look records up, or ask your "
	    "forcelink admin about linking your own Salesforce account.");
}

enum session_result
search_run(struct session *s, const struct slack_user *who,
    const struct search_page *page, struct session_as *as, char **json,
    size_t *found, struct sf_error *err)
{
	struct sf_search	 q;
	struct sf_records	 rs;
	struct sf_error		 local;
	struct render_cards	 cards;
	struct render_page	 pg;
	enum session_result	 res;
	char			*inst = NULL;
	char			 key[STORE_ACTION_KEY_LEN + 1];
	int			 next = -1;

	*json = NULL;
	if (found != NULL)
		*found = 0;
	if (err == NULL)
		err = &local;
	memset(err, 0, sizeof(*err));
	memset(&rs, 0, sizeof(rs));
	memset(&cards, 0, sizeof(cards));
	if (page->kind == SF_KIND_OPPORTUNITY && as != NULL &&
	    as->resolved && as->integration_user)
		return (*json = search_pipeline_iuser()) != NULL ?
		    SESSION_OK : SESSION_ERROR;
	memset(&q, 0, sizeof(q));
	q.kind = page->kind;
	q.needle = page->text;
	q.limit = page->limit;
	q.offset = page->offset;
	res = session_query_as(s, who, &q, &rs, &inst, err, as);
	if (res != SESSION_OK)
		goto out;
	if (found != NULL)
		*found = rs.n;
	if (render_cards(page->kind, inst, &rs, &cards) == -1) {
		res = SESSION_ERROR;
		goto out;
	}
	key[0] = '\0';
	if (rs.more && page->offset + (int)rs.n <= SF_OFFSET_MAX)
		next = page->offset + (int)rs.n;
	if (cards.n > 0)
		search_keep(s, who, page, next, &cards, key);
	memset(&pg, 0, sizeof(pg));
	pg.kind = page->kind;
	pg.query = page->text;
	pg.offset = page->offset;
	pg.more = rs.more;
	pg.key = key[0] != '\0' ? key : NULL;
	pg.more_key = next != -1 ? pg.key : NULL;
	if ((*json = render_results(&pg, &cards)) == NULL)
		res = SESSION_ERROR;
out:
	render_cards_free(&cards);
	sf_records_free(&rs);
	free(inst);
	return res;
}

/* --- Presses ------------------------------------------------------------ */

const char *
search_press_str(enum search_press r)
{
	switch (r) {
	case SEARCH_PRESS_OK:
		return "ok";
	case SEARCH_PRESS_EXPIRED:
		return "expired";
	case SEARCH_PRESS_NOT_YOURS:
		return "not_yours";
	default:
		return "error";
	}
}

char *
search_press_message(enum search_press r)
{
	switch (r) {
	case SEARCH_PRESS_EXPIRED:
		return render_message("This button has expired. Please search "
		    "again.");
	case SEARCH_PRESS_NOT_YOURS:
		return render_message("Only the person who searched can use "
		    "these buttons. Nothing was shared.");
	default:
		return render_message(REPLY_SORRY);
	}
}

/*
 * The row of key for who, its JSON parsed into *root (put it).  Returns
 * SEARCH_PRESS_OK, or what the press comes to.
 */
static enum search_press
search_row(struct session *s, const struct slack_user *who, const char *key,
    struct json_object **root)
{
	struct store_action	 row;
	enum store_result	 sr;
	enum search_press	 r;

	*root = NULL;
	memset(&row, 0, sizeof(row));
	if (strlen(key) != STORE_ACTION_KEY_LEN)
		return SEARCH_PRESS_EXPIRED;
	sr = store_action_get(s->st, who, STORE_ACTION_SHARE, key, time(NULL),
	    &row);
	switch (sr) {
	case STORE_OK:
		*root = sf_json_parse_strict(row.data, strlen(row.data));
		r = *root != NULL && json_object_is_type(*root,
		    json_type_object) ? SEARCH_PRESS_OK : SEARCH_PRESS_ERROR;
		break;
	case STORE_NOTFOUND:
	case STORE_EXPIRED:
		r = SEARCH_PRESS_EXPIRED;
		break;
	case STORE_MISMATCH:
		r = SEARCH_PRESS_NOT_YOURS;
		break;
	default:
		r = SEARCH_PRESS_ERROR;
		break;
	}
	store_action_free(&row);
	if (r != SEARCH_PRESS_OK) {
		json_object_put(*root);
		*root = NULL;
	}
	return r;
}

/* Member key of o when it has type t, else NULL. */
static struct json_object *
search_member(struct json_object *o, const char *key, enum json_type t)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, t))
		return NULL;
	return v;
}

enum search_press
search_share(struct session *s, const struct slack_user *who,
    const char *value, char **json)
{
	struct json_object	*root = NULL, *cards, *card, *text;
	enum search_press	 r;
	const char		*colon;
	char			 key[STORE_ACTION_KEY_LEN + 1];
	size_t			 i = 0;

	*json = NULL;
	/* KEY:i, i one or two digits. */
	if (value == NULL || (colon = strrchr(value, ':')) == NULL ||
	    colon - value != STORE_ACTION_KEY_LEN || colon[1] == '\0' ||
	    strlen(colon + 1) > 2 ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return SEARCH_PRESS_EXPIRED;
	memcpy(key, value, STORE_ACTION_KEY_LEN);
	key[STORE_ACTION_KEY_LEN] = '\0';
	i = (size_t)atoi(colon + 1);
	if ((r = search_row(s, who, key, &root)) != SEARCH_PRESS_OK)
		return r;
	/* An index the row does not have is a forged value. */
	if ((cards = search_member(root, "cards", json_type_array)) == NULL ||
	    i >= json_object_array_length(cards) ||
	    (card = json_object_array_get_idx(cards, i)) == NULL ||
	    !json_object_is_type(card, json_type_array) ||
	    (text = json_object_array_get_idx(card, 0)) == NULL ||
	    !json_object_is_type(text, json_type_string)) {
		r = SEARCH_PRESS_EXPIRED;
		goto out;
	}
	if ((*json = render_shared(json_object_get_string(text),
	    who->user_id)) == NULL)
		r = SEARCH_PRESS_ERROR;
out:
	json_object_put(root);
	return r;
}

enum search_press
search_more(struct session *s, const struct slack_user *who,
    const char *value, struct search_page *page, char **text)
{
	struct json_object	*root = NULL, *v;
	enum search_press	 r;
	int			 limit, next;

	*text = NULL;
	memset(page, 0, sizeof(*page));
	if (value == NULL)
		return SEARCH_PRESS_EXPIRED;
	if ((r = search_row(s, who, value, &root)) != SEARCH_PRESS_OK)
		return r;
	r = SEARCH_PRESS_EXPIRED;
	if ((v = search_member(root, "kind", json_type_string)) == NULL ||
	    sf_kind_parse(json_object_get_string(v), &page->kind) == -1)
		goto out;
	if ((v = search_member(root, "limit", json_type_int)) == NULL ||
	    (limit = json_object_get_int(v)) < 1 || limit > SF_QUERY_LIMIT)
		goto out;
	/* A page with no next has no More button: a press is forged. */
	if ((v = search_member(root, "next", json_type_int)) == NULL ||
	    (next = json_object_get_int(v)) < 1 || next > SF_OFFSET_MAX)
		goto out;
	if ((v = search_member(root, "text", json_type_string)) == NULL)
		goto out;
	if ((*text = strdup(json_object_get_string(v))) == NULL) {
		r = SEARCH_PRESS_ERROR;
		goto out;
	}
	page->text = *text;
	page->limit = limit;
	page->offset = next;
	r = SEARCH_PRESS_OK;
out:
	json_object_put(root);
	return r;
}

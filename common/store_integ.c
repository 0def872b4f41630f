/*
 * store_integ: named Salesforce integrations (sf_integration), the
 * workspaces mapped to them (workspace_integration) and the integration
 * users' tokens (integration_token); sql/004_integrations.sql.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "store_int.h"

/* --- Salesforce integrations (sql/004_integrations.sql) ---------------
 *
 * Named app registrations, the workspace mappings and the integration
 * users' tokens (see store.h).  The sealed values follow the links'
 * rules: sealed inside the write transaction under the key current then,
 * opened with the key the row's key id names, associated data naming the
 * row and the column.
 */

/* Whether name can be an integration's name in the database (what the
 * table's CHECK and our buffers allow; config_org_name_ok() is the
 * admin's stricter rule). */
static int
store_iname_ok(const char *name)
{
	return name != NULL && *name != '\0' &&
	    strlen(name) <= CONFIG_ORG_NAME_MAX;
}

/*
 * Opens the value of integration name's column in blob column col of the
 * row statement id is on, sealed under the key that text column kcol
 * names.  Returns STORE_OK and *out (free with crypto_free_secret),
 * STORE_BADKEY (logged) or STORE_ERROR.
 */
static enum store_result
store_integ_open(struct store *st, enum stmt id, int kcol, int col,
    const char *name, const char *column, char **out)
{
	const struct crypto_key	*k;
	const unsigned char	*ct;
	size_t			 len;

	*out = NULL;
	if ((k = store_key_find(st, id, kcol, "integration")) == NULL)
		return STORE_BADKEY;
	ct = store_col_bytes(st, id, col, &len);
	return store_open_integ(k, ct, len, name, column, out);
}

/* Allocated copy of text column col of statement id, or "" for NULL.
 * NULL (logged) on memory exhaustion. */
static char *
store_col_dup_empty(struct store *st, enum stmt id, int col)
{
	const char	*t;
	char		*p;

	t = store_col_text(st, id, col);
	if ((p = strdup(t != NULL ? t : "")) == NULL)
		log_error("msg=\"out of memory\"");
	return p;
}

/* --- Integrations: the workers' lookups --------------------------------- */

enum store_result
store_workspace_integration(struct store *st, const char *enterprise_id,
    const char *team_id, char name[CONFIG_ORG_NAME_MAX + 1],
    int *integration_user)
{
	enum store_result	 r = STORE_ERROR;
	const char		*t;
	int			 rc;

	name[0] = '\0';
	if (integration_user != NULL)
		*integration_user = 0;
	if (store_bind_text(st, STMT_WS_LOOKUP, 1, enterprise_id) == -1 ||
	    store_bind_text(st, STMT_WS_LOOKUP, 2, team_id) == -1 ||
	    (rc = store_step(st, STMT_WS_LOOKUP)) == -1)
		goto out;
	if (rc == STORE_ROW) {
		t = store_col_text(st, STMT_WS_LOOKUP, 0);
		if (t == NULL || strlen(t) > CONFIG_ORG_NAME_MAX) {
			log_error("msg=\"malformed workspace mapping\"");
			goto out;
		}
		memcpy(name, t, strlen(t) + 1);
		if (integration_user != NULL)
			*integration_user =
			    store_col_int(st, STMT_WS_LOOKUP, 1) != 0;
	}
	r = STORE_OK;
out:
	store_reset(st, STMT_WS_LOOKUP);
	return r;
}

/* Columns of STMT_INTEG_GET. */
enum {
	GICOL_LOGIN_URL,
	GICOL_CLIENT_ID,
	GICOL_KEY_ID,
	GICOL_SECRET_CT,
	GICOL_API_VERSION,
	GICOL_INTEGRATION_USER
};

enum store_result
store_integration_get(struct store *st, const char *name, struct sf_org *out)
{
	enum store_result	 r = STORE_ERROR;
	int			 rc;

	memset(out, 0, sizeof(*out));
	if (!store_iname_ok(name))
		return STORE_NOTFOUND;
	store_keys(st);
	if (store_bind_text(st, STMT_INTEG_GET, 1, name) == -1 ||
	    (rc = store_step(st, STMT_INTEG_GET)) == -1)
		goto out;
	if (rc == STORE_DONE) {
		r = STORE_NOTFOUND;
		goto out;
	}
	if ((r = store_integ_open(st, STMT_INTEG_GET, GICOL_KEY_ID,
	    GICOL_SECRET_CT, name, "client_secret", &out->client_secret)) !=
	    STORE_OK)
		goto out;
	r = STORE_ERROR;
	if ((out->name = strdup(name)) == NULL ||
	    (out->login_url = store_col_dup(st, STMT_INTEG_GET,
	    GICOL_LOGIN_URL)) == NULL ||
	    (out->client_id = store_col_dup(st, STMT_INTEG_GET,
	    GICOL_CLIENT_ID)) == NULL ||
	    (out->api_version = store_col_dup(st, STMT_INTEG_GET,
	    GICOL_API_VERSION)) == NULL)
		goto out;
	out->integration_user = (int)store_col_int(st, STMT_INTEG_GET,
	    GICOL_INTEGRATION_USER);
	r = STORE_OK;
out:
	store_reset(st, STMT_INTEG_GET);
	if (r != STORE_OK)
		config_sf_org_free(out);
	return r;
}

enum store_result
store_link_org(struct store *st, const struct slack_user *who, char **org)
{
	enum store_result	 r = STORE_ERROR;
	int			 rc;

	*org = NULL;
	if (!store_who_ok(who))
		return STORE_ERROR;
	if (store_bind_user(st, STMT_LINK_ORG, who) == -1 ||
	    (rc = store_step(st, STMT_LINK_ORG)) == -1)
		goto out;
	if (rc == STORE_DONE)
		r = STORE_NOTFOUND;
	else if ((*org = store_col_dup_empty(st, STMT_LINK_ORG, 0)) != NULL)
		r = STORE_OK;
out:
	store_reset(st, STMT_LINK_ORG);
	return r;
}

enum store_result
store_state_set_org(struct store *st,
    const unsigned char state_hash[CRYPTO_HASHLEN], const char *org)
{
	enum store_result	 r = STORE_ERROR;

	if (org == NULL)
		return STORE_ERROR;
	store_writer_lock(st);
	if (store_bind_blob(st, STMT_STATE_SET_ORG, 1, state_hash,
	    CRYPTO_HASHLEN) == -1 ||
	    store_bind_text(st, STMT_STATE_SET_ORG, 2, org) == -1 ||
	    store_step(st, STMT_STATE_SET_ORG) == -1)
		goto out;
	r = store_changes(st) == 1 ? STORE_OK : STORE_NOTFOUND;
out:
	store_reset(st, STMT_STATE_SET_ORG);
	store_writer_unlock(st);
	return r;
}

enum store_result
store_state_org(struct store *st,
    const unsigned char state_hash[CRYPTO_HASHLEN], char **org)
{
	enum store_result	 r = STORE_ERROR;
	int			 rc;

	*org = NULL;
	if (store_bind_blob(st, STMT_STATE_ORG, 1, state_hash,
	    CRYPTO_HASHLEN) == -1 ||
	    (rc = store_step(st, STMT_STATE_ORG)) == -1)
		goto out;
	if (rc == STORE_DONE)
		r = STORE_NOTFOUND;
	else if (store_col_null(st, STMT_STATE_ORG, 0))
		r = STORE_OK;
	else if ((*org = store_col_dup_empty(st, STMT_STATE_ORG, 0)) != NULL)
		r = STORE_OK;
out:
	store_reset(st, STMT_STATE_ORG);
	return r;
}

/* --- Integrations: the integration users' tokens ------------------------ */

/* Columns of STMT_ITOKEN_GET. */
enum {
	TCOL_SF_USER_ID,
	TCOL_SF_ORG_ID,
	TCOL_SF_USERNAME,
	TCOL_INSTANCE_URL,
	TCOL_KEY_ID,
	TCOL_ACCESS_CT,
	TCOL_VERSION,
	TCOL_FETCHED_AT
};

void
store_itoken_free(struct store_itoken *t)
{
	if (t == NULL)
		return;
	free(t->sf_user_id);
	free(t->sf_org_id);
	free(t->sf_username);
	free(t->instance_url);
	crypto_free_secret(t->access_token);
	memset(t, 0, sizeof(*t));
}

/* store_itoken_get() and store_itoken_peek(): the token is opened only
 * when open is set. */
static enum store_result
store_itoken_read(struct store *st, const char *name,
    struct store_itoken *out, int open)
{
	enum store_result	 r = STORE_ERROR;
	int			 rc;

	memset(out, 0, sizeof(*out));
	if (!store_iname_ok(name))
		return STORE_NOTFOUND;
	store_keys(st);
	if (store_bind_text(st, STMT_ITOKEN_GET, 1, name) == -1 ||
	    (rc = store_step(st, STMT_ITOKEN_GET)) == -1)
		goto out;
	if (rc == STORE_DONE) {
		r = STORE_NOTFOUND;
		goto out;
	}
	if (open && (r = store_integ_open(st, STMT_ITOKEN_GET, TCOL_KEY_ID,
	    TCOL_ACCESS_CT, name, "access", &out->access_token)) != STORE_OK)
		goto out;
	r = STORE_ERROR;
	if ((out->sf_user_id = store_col_dup(st, STMT_ITOKEN_GET,
	    TCOL_SF_USER_ID)) == NULL ||
	    (out->sf_org_id = store_col_dup(st, STMT_ITOKEN_GET,
	    TCOL_SF_ORG_ID)) == NULL ||
	    (out->sf_username = store_col_dup(st, STMT_ITOKEN_GET,
	    TCOL_SF_USERNAME)) == NULL ||
	    (out->instance_url = store_col_dup(st, STMT_ITOKEN_GET,
	    TCOL_INSTANCE_URL)) == NULL)
		goto out;
	out->version = store_col_int(st, STMT_ITOKEN_GET, TCOL_VERSION);
	out->fetched_at = (time_t)store_col_int(st, STMT_ITOKEN_GET,
	    TCOL_FETCHED_AT);
	r = STORE_OK;
out:
	store_reset(st, STMT_ITOKEN_GET);
	if (r != STORE_OK)
		store_itoken_free(out);
	return r;
}

enum store_result
store_itoken_get(struct store *st, const char *name,
    struct store_itoken *out)
{
	return store_itoken_read(st, name, out, 1);
}

enum store_result
store_itoken_peek(struct store *st, const char *name,
    struct store_itoken *out)
{
	return store_itoken_read(st, name, out, 0);
}

/* Inside a transaction: whether integration name exists.  Returns 1, 0,
 * or -1 (logged). */
static int
store_integ_exists(struct store *st, const char *name)
{
	int	 rc;

	if (store_bind_text(st, STMT_INTEG_EXISTS, 1, name) == -1 ||
	    (rc = store_step(st, STMT_INTEG_EXISTS)) == -1)
		rc = -1;
	else
		rc = rc == STORE_ROW;
	store_reset(st, STMT_INTEG_EXISTS);
	return rc;
}

enum store_result
store_itoken_put(struct store *st, const char *name,
    const struct store_itoken *in, int64_t expect)
{
	struct sealed		 ct = { NULL, 0 };
	const struct crypto_key	*k;
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id;
	int			 began = 0, e;

	if (!store_iname_ok(name) || in == NULL || in->sf_user_id == NULL ||
	    in->sf_org_id == NULL || in->sf_username == NULL ||
	    in->instance_url == NULL || in->access_token == NULL ||
	    expect < 0)
		return STORE_ERROR;
	id = expect == 0 ? STMT_ITOKEN_INS : STMT_ITOKEN_UPD;
	store_keys(st);
	if (store_write_begin(st) == -1)
		goto out;
	began = 1;
	if ((e = store_integ_exists(st, name)) != 1) {
		/* Removed since the caller looked it up: keep no token. */
		r = e == 0 ? STORE_CONFLICT : STORE_ERROR;
		goto out;
	}
	store_keys(st);
	k = store_key_current(st);
	if (store_seal_integ(k, name, "access", in->access_token, &ct) == -1)
		goto out;
	if (store_bind_text(st, id, 1, name) == -1 ||
	    store_bind_text(st, id, 2, in->sf_user_id) == -1 ||
	    store_bind_text(st, id, 3, in->sf_org_id) == -1 ||
	    store_bind_text(st, id, 4, in->sf_username) == -1 ||
	    store_bind_text(st, id, 5, in->instance_url) == -1 ||
	    store_bind_text(st, id, 6, k->id) == -1 ||
	    store_bind_blob(st, id, 7, ct.p, ct.len) == -1 ||
	    store_bind_int(st, id, 8, (int64_t)time(NULL)) == -1 ||
	    store_bind_int(st, id, 9, expect) == -1 ||
	    store_step(st, id) == -1)
		goto out;
	r = store_changes(st) == 1 ? STORE_OK : STORE_CONFLICT;
out:
	store_reset(st, id);
	if (began && store_write_end(st, r == STORE_OK) == -1)
		r = STORE_ERROR;
	free(ct.p);
	return r;
}

/* --- Integrations: administration --------------------------------------- */

enum store_result
store_integration_add(struct store *st, const struct sf_org *in)
{
	struct sealed		 ct = { NULL, 0 };
	const struct crypto_key	*k;
	enum store_result	 r = STORE_ERROR;
	int			 began = 0;

	if (in == NULL || !store_iname_ok(in->name) || in->login_url == NULL ||
	    in->client_id == NULL || in->client_secret == NULL ||
	    in->api_version == NULL)
		return STORE_ERROR;
	st->last_fail = STORE_OK;
	store_keys(st);
	if (store_write_begin(st) == -1)
		goto out;
	began = 1;
	store_keys(st);
	k = store_key_current(st);
	if (store_seal_integ(k, in->name, "client_secret", in->client_secret,
	    &ct) == -1)
		goto out;
	if (store_bind_text(st, STMT_INTEG_ADD, 1, in->name) == -1 ||
	    store_bind_text(st, STMT_INTEG_ADD, 2, in->login_url) == -1 ||
	    store_bind_text(st, STMT_INTEG_ADD, 3, in->client_id) == -1 ||
	    store_bind_text(st, STMT_INTEG_ADD, 4, k->id) == -1 ||
	    store_bind_blob(st, STMT_INTEG_ADD, 5, ct.p, ct.len) == -1 ||
	    store_bind_text(st, STMT_INTEG_ADD, 6, in->api_version) == -1 ||
	    store_bind_int(st, STMT_INTEG_ADD, 7,
	    in->integration_user != 0) == -1 ||
	    store_bind_int(st, STMT_INTEG_ADD, 8, (int64_t)time(NULL)) == -1 ||
	    store_step(st, STMT_INTEG_ADD) == -1)
		goto out;
	r = store_changes(st) == 1 ? STORE_OK : STORE_EXISTS;
out:
	store_reset(st, STMT_INTEG_ADD);
	if (began && store_write_end(st, r == STORE_OK) == -1)
		r = STORE_ERROR;
	free(ct.p);
	return r;
}

enum store_result
store_integration_set_secret(struct store *st, const char *name,
    const char *secret)
{
	struct sealed		 ct = { NULL, 0 };
	const struct crypto_key	*k;
	enum store_result	 r = STORE_ERROR;
	int			 began = 0;

	if (!store_iname_ok(name) || secret == NULL || *secret == '\0')
		return STORE_ERROR;
	st->last_fail = STORE_OK;
	store_keys(st);
	if (store_write_begin(st) == -1)
		goto out;
	began = 1;
	store_keys(st);
	k = store_key_current(st);
	if (store_seal_integ(k, name, "client_secret", secret, &ct) == -1)
		goto out;
	if (store_bind_text(st, STMT_INTEG_SET_SECRET, 1, name) == -1 ||
	    store_bind_text(st, STMT_INTEG_SET_SECRET, 2, k->id) == -1 ||
	    store_bind_blob(st, STMT_INTEG_SET_SECRET, 3, ct.p, ct.len) == -1 ||
	    store_step(st, STMT_INTEG_SET_SECRET) == -1)
		goto out;
	r = store_changes(st) == 1 ? STORE_OK : STORE_NOTFOUND;
out:
	store_reset(st, STMT_INTEG_SET_SECRET);
	if (began && store_write_end(st, r == STORE_OK) == -1)
		r = STORE_ERROR;
	free(ct.p);
	return r;
}

static void
store_integration_info_free(struct store_integration_info *i)
{
	free(i->name);
	free(i->login_url);
	free(i->client_id);
	free(i->api_version);
	free(i->key_id);
	free(i->token_user);
	memset(i, 0, sizeof(*i));
}

void
store_integration_list_free(struct store_integration_list *l)
{
	size_t	 i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		store_integration_info_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Makes room for one more element of size sz in *v (n used, *cap
 * allocated).  Returns 0, or -1 (logged) past STORE_LIST_MAX or on
 * memory exhaustion. */
static int
store_igrow(void **v, size_t n, size_t *cap, size_t sz)
{
	void	*p;
	size_t	 ncap;

	if (n < *cap)
		return 0;
	if (*cap >= STORE_LIST_MAX) {
		log_error("msg=\"list too long\"");
		return -1;
	}
	ncap = *cap == 0 ? 8 : *cap * 2;
	if ((p = reallocarray(*v, ncap, sz)) == NULL) {
		log_error("msg=\"out of memory\"");
		return -1;
	}
	*v = p;
	*cap = ncap;
	return 0;
}

/* Columns of STMT_INTEG_LIST. */
enum {
	ILCOL_NAME,
	ILCOL_LOGIN_URL,
	ILCOL_CLIENT_ID,
	ILCOL_API_VERSION,
	ILCOL_KEY_ID,
	ILCOL_INTEGRATION_USER,
	ILCOL_CREATED_AT,
	ILCOL_WORKSPACES,
	ILCOL_LINKS,
	ILCOL_TOKEN_USER
};

enum store_result
store_integration_list(struct store *st, struct store_integration_list *out)
{
	const enum stmt			 id = STMT_INTEG_LIST;
	struct store_integration_info	*e;
	enum store_result		 r = STORE_ERROR;
	size_t				 cap = 0;
	int				 rc;

	out->v = NULL;
	out->n = 0;
	st->last_fail = STORE_OK;
	while ((rc = store_step(st, id)) == STORE_ROW) {
		if (store_igrow((void **)&out->v, out->n, &cap,
		    sizeof(*out->v)) == -1)
			goto out;
		e = &out->v[out->n++];
		memset(e, 0, sizeof(*e));
		if ((e->name = store_col_dup(st, id, ILCOL_NAME)) == NULL ||
		    (e->login_url = store_col_dup(st, id,
		    ILCOL_LOGIN_URL)) == NULL ||
		    (e->client_id = store_col_dup(st, id,
		    ILCOL_CLIENT_ID)) == NULL ||
		    (e->api_version = store_col_dup(st, id,
		    ILCOL_API_VERSION)) == NULL ||
		    (e->key_id = store_col_dup(st, id, ILCOL_KEY_ID)) == NULL)
			goto out;
		e->integration_user = store_col_int(st, id,
		    ILCOL_INTEGRATION_USER) != 0;
		e->created_at = (time_t)store_col_int(st, id, ILCOL_CREATED_AT);
		e->workspaces = (long)store_col_int(st, id, ILCOL_WORKSPACES);
		e->links = (long)store_col_int(st, id, ILCOL_LINKS);
		if (!store_col_null(st, id, ILCOL_TOKEN_USER) &&
		    (e->token_user = store_col_dup(st, id,
		    ILCOL_TOKEN_USER)) == NULL)
			goto out;
	}
	if (rc == STORE_DONE)
		r = STORE_OK;
out:
	store_reset(st, id);
	if (r != STORE_OK)
		store_integration_list_free(out);
	return r;
}

void
store_workspace_list_free(struct store_workspace_list *l)
{
	size_t	 i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		free(l->v[i].integration);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Columns of STMT_WS_LIST. */
enum {
	WLCOL_KIND,
	WLCOL_SLACK_ID,
	WLCOL_INTEGRATION,
	WLCOL_UPDATED_AT,
	WLCOL_LINKS,
	WLCOL_OTHER
};

/* Lists the mappings (of integration only, when not NULL) into *out.
 * Returns STORE_OK or STORE_ERROR (*out empty). */
static enum store_result
store_workspace_read(struct store *st, const char *integration,
    struct store_workspace_list *out)
{
	const enum stmt		 id = STMT_WS_LIST;
	struct store_workspace	*e;
	enum store_result	 r = STORE_ERROR;
	const char		*kind;
	size_t			 cap = 0;
	int			 rc;

	out->v = NULL;
	out->n = 0;
	if (store_bind_text(st, id, 1, integration) == -1)
		goto out;
	while ((rc = store_step(st, id)) == STORE_ROW) {
		if (store_igrow((void **)&out->v, out->n, &cap,
		    sizeof(*out->v)) == -1)
			goto out;
		e = &out->v[out->n++];
		memset(e, 0, sizeof(*e));
		kind = store_col_text(st, id, WLCOL_KIND);
		e->enterprise = kind != NULL && strcmp(kind, "enterprise") == 0;
		if (store_col_id(st, id, WLCOL_SLACK_ID, e->slack_id,
		    sizeof(e->slack_id)) == -1) {
			log_error("msg=\"malformed workspace mapping\"");
			goto out;
		}
		if ((e->integration = store_col_dup(st, id,
		    WLCOL_INTEGRATION)) == NULL)
			goto out;
		e->updated_at = (time_t)store_col_int(st, id, WLCOL_UPDATED_AT);
		e->links = (long)store_col_int(st, id, WLCOL_LINKS);
		e->other = (long)store_col_int(st, id, WLCOL_OTHER);
	}
	if (rc == STORE_DONE)
		r = STORE_OK;
out:
	store_reset(st, id);
	if (r != STORE_OK)
		store_workspace_list_free(out);
	return r;
}

enum store_result
store_workspace_list(struct store *st, struct store_workspace_list *out)
{
	st->last_fail = STORE_OK;
	return store_workspace_read(st, NULL, out);
}

/* Checks the id of a mapping: a Slack id, not empty, that fits. */
static int
store_slack_id_ok(const char *id)
{
	return id != NULL && *id != '\0' && strlen(id) <= SLACK_ID_MAX;
}

enum store_result
store_workspace_set(struct store *st, int enterprise, const char *slack_id,
    const char *integration, char **previous)
{
	enum store_result	 r = STORE_ERROR;
	const char		*kind = enterprise ? "enterprise" : "team";
	char			*prev = NULL;
	int			 rc, began = 0, e;

	if (previous != NULL)
		*previous = NULL;
	if (!store_slack_id_ok(slack_id) || integration == NULL ||
	    strlen(integration) > CONFIG_ORG_NAME_MAX)
		return STORE_ERROR;
	st->last_fail = STORE_OK;
	if (store_begin(st) == -1)
		goto out;
	began = 1;
	if (*integration != '\0' &&
	    (e = store_integ_exists(st, integration)) != 1) {
		r = e == 0 ? STORE_NOTFOUND : STORE_ERROR;
		goto out;
	}
	if (store_bind_text(st, STMT_WS_GET, 1, kind) == -1 ||
	    store_bind_text(st, STMT_WS_GET, 2, slack_id) == -1 ||
	    (rc = store_step(st, STMT_WS_GET)) == -1)
		goto out;
	if (rc == STORE_ROW &&
	    (prev = store_col_dup_empty(st, STMT_WS_GET, 0)) == NULL)
		goto out;
	store_reset(st, STMT_WS_GET);
	if (store_bind_text(st, STMT_WS_PUT, 1, kind) == -1 ||
	    store_bind_text(st, STMT_WS_PUT, 2, slack_id) == -1 ||
	    store_bind_text(st, STMT_WS_PUT, 3, integration) == -1 ||
	    store_bind_int(st, STMT_WS_PUT, 4, (int64_t)time(NULL)) == -1 ||
	    store_step(st, STMT_WS_PUT) == -1)
		goto out;
	r = STORE_OK;
out:
	store_reset(st, STMT_WS_GET);
	store_reset(st, STMT_WS_PUT);
	if (began && store_end(st, r == STORE_OK) == -1)
		r = STORE_ERROR;
	if (r == STORE_OK && previous != NULL) {
		*previous = prev;
		prev = NULL;
	}
	free(prev);
	return r;
}

enum store_result
store_workspace_unset(struct store *st, int enterprise, const char *slack_id)
{
	enum store_result	 r = STORE_ERROR;

	if (!store_slack_id_ok(slack_id))
		return STORE_ERROR;
	st->last_fail = STORE_OK;
	store_writer_lock(st);
	if (store_bind_text(st, STMT_WS_DEL, 1,
	    enterprise ? "enterprise" : "team") == -1 ||
	    store_bind_text(st, STMT_WS_DEL, 2, slack_id) == -1 ||
	    store_step(st, STMT_WS_DEL) == -1)
		goto out;
	r = store_changes(st) == 1 ? STORE_OK : STORE_NOTFOUND;
out:
	store_reset(st, STMT_WS_DEL);
	store_writer_unlock(st);
	return r;
}

/* Inside store_integration_remove's transaction: the links made with
 * integration name, into *out.  Returns 0 or -1 (logged). */
static int
store_links_by_org(struct store *st, const char *name,
    struct store_link_list *out)
{
	size_t	 cap = 0;
	int	 rc, ret = -1;

	out->v = NULL;
	out->n = 0;
	if (store_bind_text(st, STMT_LINKS_BY_ORG, 1, name) == -1)
		goto out;
	while ((rc = store_step(st, STMT_LINKS_BY_ORG)) == STORE_ROW) {
		if (store_link_list_grow(out, &cap) == -1)
			goto out;
		memset(&out->v[out->n], 0, sizeof(out->v[0]));
		out->n++;
		if (store_link_info_read(st, STMT_LINKS_BY_ORG,
		    &out->v[out->n - 1]) == -1)
			goto out;
	}
	if (rc == STORE_DONE)
		ret = 0;
out:
	store_reset(st, STMT_LINKS_BY_ORG);
	if (ret == -1)
		store_link_list_free(out);
	return ret;
}

/* Runs the one-parameter (name) delete id.  Returns 0 or -1. */
static int
store_idelete(struct store *st, enum stmt id, const char *name)
{
	if (store_bind_text(st, id, 1, name) == -1) {
		store_reset(st, id);
		return -1;
	}
	return store_run(st, id);
}

enum store_result
store_integration_remove(struct store *st, const char *name, int force,
    struct store_workspace_list *unmapped, struct store_link_list *unlinked)
{
	struct store_workspace_list	 ws = { NULL, 0 };
	struct store_link_list		 ll = { NULL, 0 };
	enum store_result		 r = STORE_ERROR;
	int				 began = 0, e;

	if (unmapped != NULL)
		memset(unmapped, 0, sizeof(*unmapped));
	if (unlinked != NULL)
		memset(unlinked, 0, sizeof(*unlinked));
	if (!store_iname_ok(name))
		return STORE_NOTFOUND;
	st->last_fail = STORE_OK;
	if (store_begin(st) == -1) {
		r = store_failure(st);
		goto out;
	}
	began = 1;
	if ((e = store_integ_exists(st, name)) != 1) {
		r = e == 0 ? STORE_NOTFOUND : STORE_ERROR;
		goto out;
	}
	if (store_workspace_read(st, name, &ws) != STORE_OK ||
	    store_links_by_org(st, name, &ll) == -1)
		goto out;
	if ((ws.n > 0 || ll.n > 0) && !force) {
		r = STORE_CONFLICT;
		goto out;
	}
	if (store_idelete(st, STMT_LINKS_DEL_ORG, name) == -1 ||
	    store_idelete(st, STMT_WS_DEL_INTEG, name) == -1 ||
	    store_idelete(st, STMT_ITOKEN_DEL, name) == -1 ||
	    store_idelete(st, STMT_INTEG_DEL, name) == -1)
		goto out;
	r = STORE_OK;
out:
	if (began && store_end(st, r == STORE_OK) == -1)
		r = STORE_ERROR;
	if (r == STORE_ERROR && store_failure(st) == STORE_BUSY)
		r = STORE_BUSY;
	if ((r == STORE_OK || r == STORE_CONFLICT) && unmapped != NULL) {
		*unmapped = ws;
		ws.v = NULL;
		ws.n = 0;
	}
	if ((r == STORE_OK || r == STORE_CONFLICT) && unlinked != NULL) {
		*unlinked = ll;
		ll.v = NULL;
		ll.n = 0;
	}
	store_workspace_list_free(&ws);
	store_link_list_free(&ll);
	return r;
}

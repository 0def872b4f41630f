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

/* The prepared statement id; never NULL on an open connection. */
static sqlite3_stmt *
store_istmt(struct store *st, enum stmt id)
{
	return st->stmt[id];
}

/* Binds text v (NULL binds SQL NULL) to parameter col of s.  Returns 0,
 * or -1 after logging. */
static int
store_ibind_text(struct store *st, sqlite3_stmt *s, int col, const char *v)
{
	int	 rc;

	rc = v == NULL ? sqlite3_bind_null(s, col) :
	    sqlite3_bind_text64(s, col, v, strlen(v), SQLITE_TRANSIENT,
	    SQLITE_UTF8);
	if (rc == SQLITE_OK)
		return 0;
	log_error("col=%d bind msg=\"%s\"", col, sqlite3_errmsg(st->db));
	return -1;
}

static int
store_ibind_blob(struct store *st, sqlite3_stmt *s, int col, const void *p,
    size_t len)
{
	if (sqlite3_bind_blob64(s, col, p, len, SQLITE_TRANSIENT) ==
	    SQLITE_OK)
		return 0;
	log_error("col=%d bind msg=\"%s\"", col, sqlite3_errmsg(st->db));
	return -1;
}

static int
store_ibind_int(struct store *st, sqlite3_stmt *s, int col, int64_t v)
{
	if (sqlite3_bind_int64(s, col, v) == SQLITE_OK)
		return 0;
	log_error("col=%d bind msg=\"%s\"", col, sqlite3_errmsg(st->db));
	return -1;
}

/* Steps s (statement id).  Returns SQLITE_ROW or SQLITE_DONE, or -1
 * after logging. */
static int
store_istep(struct store *st, sqlite3_stmt *s, enum stmt id)
{
	int	 rc;

	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc;
	st->last_rc = rc;
	log_error("stmt=%s msg=\"%s\"", store_stmts[id].name,
	    sqlite3_errmsg(st->db));
	return -1;
}

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
 * Opens the value of integration name's column in blob column col of s,
 * sealed under the key that text column kcol names.  Returns STORE_OK
 * and *out (free with crypto_free_secret), STORE_BADKEY (logged) or
 * STORE_ERROR.
 */
static enum store_result
store_popen_integ(struct store *st, sqlite3_stmt *s, int kcol, int col,
    const char *name, const char *column, char **out)
{
	const struct crypto_key	*k;

	*out = NULL;
	if ((k = store_pkey_find(st, s, kcol, "integration")) == NULL)
		return STORE_BADKEY;
	return store_open_integ(k, sqlite3_column_blob(s, col),
	    (size_t)sqlite3_column_bytes(s, col), name, column, out);
}

/* Allocated copy of text column col, or "" for NULL.  NULL (logged) on
 * memory exhaustion. */
static char *
store_pcol_dup_empty(sqlite3_stmt *s, int col)
{
	const unsigned char	*t;
	char			*p;

	t = sqlite3_column_text(s, col);
	if ((p = strdup(t != NULL ? (const char *)t : "")) == NULL)
		log_error("msg=\"out of memory\"");
	return p;
}

/* --- Integrations: the workers' lookups --------------------------------- */

enum store_result
store_workspace_integration(struct store *st, const char *enterprise_id,
    const char *team_id, char name[CONFIG_ORG_NAME_MAX + 1],
    int *integration_user)
{
	sqlite3_stmt		*s;
	enum store_result	 r = STORE_ERROR;
	const unsigned char	*t;
	int			 rc;

	name[0] = '\0';
	if (integration_user != NULL)
		*integration_user = 0;
	if ((s = store_istmt(st, STMT_WS_LOOKUP)) == NULL)
		return STORE_ERROR;
	if (store_ibind_text(st, s, 1, enterprise_id) == -1 ||
	    store_ibind_text(st, s, 2, team_id) == -1 ||
	    (rc = store_istep(st, s, STMT_WS_LOOKUP)) == -1)
		goto out;
	if (rc == SQLITE_ROW) {
		t = sqlite3_column_text(s, 0);
		if (t == NULL ||
		    strlen((const char *)t) > CONFIG_ORG_NAME_MAX) {
			log_error("msg=\"malformed workspace mapping\"");
			goto out;
		}
		memcpy(name, t, strlen((const char *)t) + 1);
		if (integration_user != NULL)
			*integration_user = sqlite3_column_int(s, 1) != 0;
	}
	r = STORE_OK;
out:
	store_ireset(s);
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
	sqlite3_stmt		*s;
	enum store_result	 r = STORE_ERROR;
	int			 rc;

	memset(out, 0, sizeof(*out));
	if (!store_iname_ok(name))
		return STORE_NOTFOUND;
	if ((s = store_istmt(st, STMT_INTEG_GET)) == NULL)
		return STORE_ERROR;
	store_keys(st);
	if (store_ibind_text(st, s, 1, name) == -1 ||
	    (rc = store_istep(st, s, STMT_INTEG_GET)) == -1)
		goto out;
	if (rc == SQLITE_DONE) {
		r = STORE_NOTFOUND;
		goto out;
	}
	if ((r = store_popen_integ(st, s, GICOL_KEY_ID, GICOL_SECRET_CT, name,
	    "client_secret", &out->client_secret)) != STORE_OK)
		goto out;
	r = STORE_ERROR;
	if ((out->name = strdup(name)) == NULL ||
	    (out->login_url = store_pcol_dup(s, GICOL_LOGIN_URL)) == NULL ||
	    (out->client_id = store_pcol_dup(s, GICOL_CLIENT_ID)) == NULL ||
	    (out->api_version = store_pcol_dup(s, GICOL_API_VERSION)) == NULL)
		goto out;
	out->integration_user = sqlite3_column_int(s, GICOL_INTEGRATION_USER);
	r = STORE_OK;
out:
	store_ireset(s);
	if (r != STORE_OK)
		config_sf_org_free(out);
	return r;
}

enum store_result
store_link_org(struct store *st, const struct slack_user *who, char **org)
{
	sqlite3_stmt		*s;
	enum store_result	 r = STORE_ERROR;
	int			 rc;

	*org = NULL;
	if (!store_who_ok(who) || (s = store_istmt(st, STMT_LINK_ORG)) == NULL)
		return STORE_ERROR;
	if (store_ibind_text(st, s, 1, who->enterprise_id) == -1 ||
	    store_ibind_text(st, s, 2, who->team_id) == -1 ||
	    store_ibind_text(st, s, 3, who->user_id) == -1 ||
	    (rc = store_istep(st, s, STMT_LINK_ORG)) == -1)
		goto out;
	if (rc == SQLITE_DONE)
		r = STORE_NOTFOUND;
	else if ((*org = store_pcol_dup_empty(s, 0)) != NULL)
		r = STORE_OK;
out:
	store_ireset(s);
	return r;
}

enum store_result
store_state_set_org(struct store *st,
    const unsigned char state_hash[CRYPTO_HASHLEN], const char *org)
{
	sqlite3_stmt		*s;
	enum store_result	 r = STORE_ERROR;

	if (org == NULL || (s = store_istmt(st, STMT_STATE_SET_ORG)) == NULL)
		return STORE_ERROR;
	pthread_mutex_lock(&store_writer);
	if (store_ibind_blob(st, s, 1, state_hash, CRYPTO_HASHLEN) == -1 ||
	    store_ibind_text(st, s, 2, org) == -1 ||
	    store_istep(st, s, STMT_STATE_SET_ORG) == -1)
		goto out;
	r = sqlite3_changes(st->db) == 1 ? STORE_OK : STORE_NOTFOUND;
out:
	store_ireset(s);
	pthread_mutex_unlock(&store_writer);
	return r;
}

enum store_result
store_state_org(struct store *st,
    const unsigned char state_hash[CRYPTO_HASHLEN], char **org)
{
	sqlite3_stmt		*s;
	enum store_result	 r = STORE_ERROR;
	int			 rc;

	*org = NULL;
	if ((s = store_istmt(st, STMT_STATE_ORG)) == NULL)
		return STORE_ERROR;
	if (store_ibind_blob(st, s, 1, state_hash, CRYPTO_HASHLEN) == -1 ||
	    (rc = store_istep(st, s, STMT_STATE_ORG)) == -1)
		goto out;
	if (rc == SQLITE_DONE)
		r = STORE_NOTFOUND;
	else if (sqlite3_column_type(s, 0) == SQLITE_NULL)
		r = STORE_OK;
	else if ((*org = store_pcol_dup_empty(s, 0)) != NULL)
		r = STORE_OK;
out:
	store_ireset(s);
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
	sqlite3_stmt		*s;
	enum store_result	 r = STORE_ERROR;
	int			 rc;

	memset(out, 0, sizeof(*out));
	if (!store_iname_ok(name))
		return STORE_NOTFOUND;
	if ((s = store_istmt(st, STMT_ITOKEN_GET)) == NULL)
		return STORE_ERROR;
	store_keys(st);
	if (store_ibind_text(st, s, 1, name) == -1 ||
	    (rc = store_istep(st, s, STMT_ITOKEN_GET)) == -1)
		goto out;
	if (rc == SQLITE_DONE) {
		r = STORE_NOTFOUND;
		goto out;
	}
	if (open && (r = store_popen_integ(st, s, TCOL_KEY_ID, TCOL_ACCESS_CT,
	    name, "access", &out->access_token)) != STORE_OK)
		goto out;
	r = STORE_ERROR;
	if ((out->sf_user_id = store_pcol_dup(s, TCOL_SF_USER_ID)) == NULL ||
	    (out->sf_org_id = store_pcol_dup(s, TCOL_SF_ORG_ID)) == NULL ||
	    (out->sf_username = store_pcol_dup(s, TCOL_SF_USERNAME)) == NULL ||
	    (out->instance_url = store_pcol_dup(s, TCOL_INSTANCE_URL)) == NULL)
		goto out;
	out->version = sqlite3_column_int64(s, TCOL_VERSION);
	out->fetched_at = (time_t)sqlite3_column_int64(s, TCOL_FETCHED_AT);
	r = STORE_OK;
out:
	store_ireset(s);
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
	sqlite3_stmt	*s;
	int		 rc;

	if ((s = store_istmt(st, STMT_INTEG_EXISTS)) == NULL)
		return -1;
	if (store_ibind_text(st, s, 1, name) == -1 ||
	    (rc = store_istep(st, s, STMT_INTEG_EXISTS)) == -1)
		rc = -1;
	else
		rc = rc == SQLITE_ROW;
	store_ireset(s);
	return rc;
}

enum store_result
store_itoken_put(struct store *st, const char *name,
    const struct store_itoken *in, int64_t expect)
{
	struct sealed		 ct = { NULL, 0 };
	const struct crypto_key	*k;
	sqlite3_stmt		*s = NULL;
	enum store_result	 r = STORE_ERROR;
	enum stmt		 id;
	int			 began = 0, e;

	if (!store_iname_ok(name) || in == NULL || in->sf_user_id == NULL ||
	    in->sf_org_id == NULL || in->sf_username == NULL ||
	    in->instance_url == NULL || in->access_token == NULL ||
	    expect < 0)
		goto out;
	id = expect == 0 ? STMT_ITOKEN_INS : STMT_ITOKEN_UPD;
	if ((s = store_istmt(st, id)) == NULL ||
	    store_istmt(st, STMT_INTEG_EXISTS) == NULL)
		goto out;
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
	if (store_ibind_text(st, s, 1, name) == -1 ||
	    store_ibind_text(st, s, 2, in->sf_user_id) == -1 ||
	    store_ibind_text(st, s, 3, in->sf_org_id) == -1 ||
	    store_ibind_text(st, s, 4, in->sf_username) == -1 ||
	    store_ibind_text(st, s, 5, in->instance_url) == -1 ||
	    store_ibind_text(st, s, 6, k->id) == -1 ||
	    store_ibind_blob(st, s, 7, ct.p, ct.len) == -1 ||
	    store_ibind_int(st, s, 8, (int64_t)time(NULL)) == -1 ||
	    store_ibind_int(st, s, 9, expect) == -1 ||
	    store_istep(st, s, id) == -1)
		goto out;
	r = sqlite3_changes(st->db) == 1 ? STORE_OK : STORE_CONFLICT;
out:
	store_ireset(s);
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
	sqlite3_stmt		*s = NULL;
	enum store_result	 r = STORE_ERROR;
	int			 began = 0;

	if (in == NULL || !store_iname_ok(in->name) || in->login_url == NULL ||
	    in->client_id == NULL || in->client_secret == NULL ||
	    in->api_version == NULL)
		goto out;
	if ((s = store_istmt(st, STMT_INTEG_ADD)) == NULL)
		goto out;
	st->last_rc = 0;
	store_keys(st);
	if (store_write_begin(st) == -1)
		goto out;
	began = 1;
	store_keys(st);
	k = store_key_current(st);
	if (store_seal_integ(k, in->name, "client_secret", in->client_secret,
	    &ct) == -1)
		goto out;
	if (store_ibind_text(st, s, 1, in->name) == -1 ||
	    store_ibind_text(st, s, 2, in->login_url) == -1 ||
	    store_ibind_text(st, s, 3, in->client_id) == -1 ||
	    store_ibind_text(st, s, 4, k->id) == -1 ||
	    store_ibind_blob(st, s, 5, ct.p, ct.len) == -1 ||
	    store_ibind_text(st, s, 6, in->api_version) == -1 ||
	    store_ibind_int(st, s, 7, in->integration_user != 0) == -1 ||
	    store_ibind_int(st, s, 8, (int64_t)time(NULL)) == -1 ||
	    store_istep(st, s, STMT_INTEG_ADD) == -1)
		goto out;
	r = sqlite3_changes(st->db) == 1 ? STORE_OK : STORE_EXISTS;
out:
	store_ireset(s);
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
	sqlite3_stmt		*s = store_istmt(st, STMT_INTEG_SET_SECRET);
	enum store_result	 r = STORE_ERROR;
	int			 began = 0;

	if (!store_iname_ok(name) || secret == NULL || *secret == '\0')
		goto out;
	st->last_rc = 0;
	store_keys(st);
	if (store_write_begin(st) == -1)
		goto out;
	began = 1;
	store_keys(st);
	k = store_key_current(st);
	if (store_seal_integ(k, name, "client_secret", secret, &ct) == -1)
		goto out;
	if (store_ibind_text(st, s, 1, name) == -1 ||
	    store_ibind_text(st, s, 2, k->id) == -1 ||
	    store_ibind_blob(st, s, 3, ct.p, ct.len) == -1 ||
	    store_istep(st, s, STMT_INTEG_SET_SECRET) == -1)
		goto out;
	r = sqlite3_changes(st->db) == 1 ? STORE_OK : STORE_NOTFOUND;
out:
	store_ireset(s);
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

enum store_result
store_integration_list(struct store *st, struct store_integration_list *out)
{
	struct store_integration_info	*e;
	sqlite3_stmt			*s;
	enum store_result		 r = STORE_ERROR;
	size_t				 cap = 0;
	int				 rc;

	out->v = NULL;
	out->n = 0;
	st->last_rc = 0;
	if ((s = store_istmt(st, STMT_INTEG_LIST)) == NULL)
		return STORE_ERROR;
	while ((rc = store_istep(st, s, STMT_INTEG_LIST)) == SQLITE_ROW) {
		if (store_igrow((void **)&out->v, out->n, &cap,
		    sizeof(*out->v)) == -1)
			goto out;
		e = &out->v[out->n++];
		memset(e, 0, sizeof(*e));
		if ((e->name = store_pcol_dup(s, 0)) == NULL ||
		    (e->login_url = store_pcol_dup(s, 1)) == NULL ||
		    (e->client_id = store_pcol_dup(s, 2)) == NULL ||
		    (e->api_version = store_pcol_dup(s, 3)) == NULL ||
		    (e->key_id = store_pcol_dup(s, 4)) == NULL)
			goto out;
		e->integration_user = sqlite3_column_int(s, 5) != 0;
		e->created_at = (time_t)sqlite3_column_int64(s, 6);
		e->workspaces = (long)sqlite3_column_int64(s, 7);
		e->links = (long)sqlite3_column_int64(s, 8);
		if (sqlite3_column_type(s, 9) != SQLITE_NULL &&
		    (e->token_user = store_pcol_dup(s, 9)) == NULL)
			goto out;
	}
	if (rc == SQLITE_DONE)
		r = STORE_OK;
out:
	store_ireset(s);
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

/* Lists the mappings (of integration only, when not NULL) into *out.
 * Returns STORE_OK or STORE_ERROR (*out empty). */
static enum store_result
store_workspace_read(struct store *st, const char *integration,
    struct store_workspace_list *out)
{
	struct store_workspace	*e;
	sqlite3_stmt		*s;
	enum store_result	 r = STORE_ERROR;
	const unsigned char	*kind;
	size_t			 cap = 0;
	int			 rc;

	out->v = NULL;
	out->n = 0;
	if ((s = store_istmt(st, STMT_WS_LIST)) == NULL)
		return STORE_ERROR;
	if (store_ibind_text(st, s, 1, integration) == -1)
		goto out;
	while ((rc = store_istep(st, s, STMT_WS_LIST)) == SQLITE_ROW) {
		if (store_igrow((void **)&out->v, out->n, &cap,
		    sizeof(*out->v)) == -1)
			goto out;
		e = &out->v[out->n++];
		memset(e, 0, sizeof(*e));
		kind = sqlite3_column_text(s, 0);
		e->enterprise = kind != NULL &&
		    strcmp((const char *)kind, "enterprise") == 0;
		if (store_pcol_id(s, 1, e->slack_id,
		    sizeof(e->slack_id)) == -1) {
			log_error("msg=\"malformed workspace mapping\"");
			goto out;
		}
		if ((e->integration = store_pcol_dup(s, 2)) == NULL)
			goto out;
		e->updated_at = (time_t)sqlite3_column_int64(s, 3);
		e->links = (long)sqlite3_column_int64(s, 4);
		e->other = (long)sqlite3_column_int64(s, 5);
	}
	if (rc == SQLITE_DONE)
		r = STORE_OK;
out:
	store_ireset(s);
	if (r != STORE_OK)
		store_workspace_list_free(out);
	return r;
}

enum store_result
store_workspace_list(struct store *st, struct store_workspace_list *out)
{
	st->last_rc = 0;
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
	sqlite3_stmt		*get, *put;
	enum store_result	 r = STORE_ERROR;
	const char		*kind = enterprise ? "enterprise" : "team";
	char			*prev = NULL;
	int			 rc, began = 0, e;

	if (previous != NULL)
		*previous = NULL;
	if (!store_slack_id_ok(slack_id) || integration == NULL ||
	    strlen(integration) > CONFIG_ORG_NAME_MAX)
		return STORE_ERROR;
	st->last_rc = 0;
	if ((get = store_istmt(st, STMT_WS_GET)) == NULL ||
	    (put = store_istmt(st, STMT_WS_PUT)) == NULL ||
	    store_istmt(st, STMT_INTEG_EXISTS) == NULL)
		return STORE_ERROR;
	if (store_begin(st) == -1)
		goto out;
	began = 1;
	if (*integration != '\0' &&
	    (e = store_integ_exists(st, integration)) != 1) {
		r = e == 0 ? STORE_NOTFOUND : STORE_ERROR;
		goto out;
	}
	if (store_ibind_text(st, get, 1, kind) == -1 ||
	    store_ibind_text(st, get, 2, slack_id) == -1 ||
	    (rc = store_istep(st, get, STMT_WS_GET)) == -1)
		goto out;
	if (rc == SQLITE_ROW && (prev = store_pcol_dup_empty(get, 0)) == NULL)
		goto out;
	store_ireset(get);
	if (store_ibind_text(st, put, 1, kind) == -1 ||
	    store_ibind_text(st, put, 2, slack_id) == -1 ||
	    store_ibind_text(st, put, 3, integration) == -1 ||
	    store_ibind_int(st, put, 4, (int64_t)time(NULL)) == -1 ||
	    store_istep(st, put, STMT_WS_PUT) == -1)
		goto out;
	r = STORE_OK;
out:
	store_ireset(get);
	store_ireset(put);
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
	sqlite3_stmt		*s;
	enum store_result	 r = STORE_ERROR;

	if (!store_slack_id_ok(slack_id) ||
	    (s = store_istmt(st, STMT_WS_DEL)) == NULL)
		return STORE_ERROR;
	st->last_rc = 0;
	pthread_mutex_lock(&store_writer);
	if (store_ibind_text(st, s, 1, enterprise ? "enterprise" : "team") ==
	    -1 || store_ibind_text(st, s, 2, slack_id) == -1 ||
	    store_istep(st, s, STMT_WS_DEL) == -1)
		goto out;
	r = sqlite3_changes(st->db) == 1 ? STORE_OK : STORE_NOTFOUND;
out:
	store_ireset(s);
	pthread_mutex_unlock(&store_writer);
	return r;
}

/* Inside store_integration_remove's transaction: the links made with
 * integration name, into *out.  Returns 0 or -1 (logged). */
static int
store_links_by_org(struct store *st, const char *name,
    struct store_link_list *out)
{
	sqlite3_stmt	*s;
	size_t		 cap = 0;
	int		 rc, ret = -1;

	out->v = NULL;
	out->n = 0;
	if ((s = store_istmt(st, STMT_LINKS_BY_ORG)) == NULL ||
	    store_ibind_text(st, s, 1, name) == -1)
		goto out;
	while ((rc = store_istep(st, s, STMT_LINKS_BY_ORG)) == SQLITE_ROW) {
		if (store_link_list_grow(out, &cap) == -1)
			goto out;
		memset(&out->v[out->n], 0, sizeof(out->v[0]));
		out->n++;
		if (store_link_info_read(st, STMT_LINKS_BY_ORG,
		    &out->v[out->n - 1]) == -1)
			goto out;
	}
	if (rc == SQLITE_DONE)
		ret = 0;
out:
	store_ireset(s);
	if (ret == -1)
		store_link_list_free(out);
	return ret;
}

/* Runs the one-parameter (name) delete id.  Returns 0 or -1. */
static int
store_idelete(struct store *st, enum stmt id, const char *name)
{
	sqlite3_stmt	*s;
	int		 rc = -1;

	if ((s = store_istmt(st, id)) == NULL)
		return -1;
	if (store_ibind_text(st, s, 1, name) == 0 &&
	    store_istep(st, s, id) != -1)
		rc = 0;
	store_ireset(s);
	return rc;
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
	st->last_rc = 0;
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

/* --- Integrations: key rotation ----------------------------------------- */

/*
 * Adds the integration row s is on (a consumer secret, or an integration
 * user's token when itoken is set) to batch b, re-sealed under the
 * current key, as store_rekey_link() does for links.  Returns 0, or -1
 * on memory exhaustion.
 */
static int
store_irekey_row(struct store *st, sqlite3_stmt *s, int itoken,
    struct store_rekey *b, struct store_rekey_counts *c)
{
	struct store_rekey_row	*row;
	const struct crypto_key	*k, *cur;
	struct store_ad		 ao, an;
	const char		*column = itoken ? "access" : "client_secret";
	int			 bad = 0;

	if ((row = store_rekey_add(b)) == NULL)
		goto nomem;
	/* Columns: rowid, name, key_id, sealed value[, version]. */
	if (store_pcol_id(s, 1, row->name, sizeof(row->name)) == -1 ||
	    row->name[0] == '\0' || store_pcol_blob(s, 3, &row->old_a) == -1) {
		log_error("msg=\"malformed integration row: left as it is\"");
		c->unopenable++;
		goto skip;
	}
	if ((k = store_pkey_find(st, s, 2, "integration")) == NULL) {
		c->unknown_key++;
		goto skip;
	}
	cur = store_key_current(st);
	snprintf(row->old_id, sizeof(row->old_id), "%s", k->id);
	if (itoken)
		row->version = sqlite3_column_int64(s, 4);
	if (store_ad_integ(&ao, row->name, column, k->id) == -1 ||
	    store_ad_integ(&an, row->name, column, cur->id) == -1 ||
	    store_reseal(k, cur, &ao, &an, &row->old_a, &row->new_a,
	    &bad) == -1) {
		if (!bad)
			goto nomem;
		log_error("integration=%s column=%s msg=\"sealed value does "
		    "not open: altered or wrong key; left as it is\"",
		    row->name, column);
		c->unopenable++;
		goto skip;
	}
	b->n++;
	return 0;
skip:
	free(row->old_a.p);
	return 0;
nomem:
	if (row != NULL)
		free(row->old_a.p);
	log_error("msg=\"out of memory\"");
	return -1;
}

enum store_result
store_irekey_read(struct store *st, enum store_rekey_table table,
    int64_t *cursor, int max, struct store_rekey **out,
    struct store_rekey_counts *c)
{
	struct store_rekey	*b = NULL;
	enum stmt		 id;
	sqlite3_stmt		*s;
	enum store_result	 r = STORE_ERROR;
	int			 rc, itoken = table == STORE_REKEY_ITOKENS;

	id = itoken ? STMT_REKEY_ITOKEN : STMT_REKEY_INTEG;
	if (max < 1 || (s = store_istmt(st, id)) == NULL ||
	    (b = calloc(1, sizeof(*b))) == NULL)
		return STORE_ERROR;
	st->last_rc = 0;
	store_keys(st);
	b->table = table;
	snprintf(b->new_id, sizeof(b->new_id), "%s",
	    store_key_current(st)->id);
	if (store_ibind_text(st, s, 1, b->new_id) == -1 ||
	    store_ibind_int(st, s, 2, *cursor) == -1 ||
	    store_ibind_int(st, s, 3, max) == -1)
		goto out;
	while ((rc = store_istep(st, s, id)) == SQLITE_ROW) {
		c->read++;
		*cursor = sqlite3_column_int64(s, 0);
		if (store_irekey_row(st, s, itoken, b, c) == -1)
			goto out;
	}
	if (rc == -1) {
		r = store_failure(st);
		goto out;
	}
	if (strcmp(b->new_id, store_key_current(st)->id) != 0) {
		log_warn("msg=\"keys changed while reading: batch dropped\"");
		c->changed += (long)b->n;
		store_rekey_clear(b);
	}
	*out = b;
	b = NULL;
	r = STORE_OK;
out:
	store_ireset(s);
	store_rekey_free(b);
	return r;
}

int
store_irekey_set(struct store *st, const struct store_rekey *b,
    const struct store_rekey_row *row)
{
	enum stmt	 id;
	sqlite3_stmt	*s;
	int		 rc = -1;

	id = b->table == STORE_REKEY_ITOKENS ? STMT_REKEY_ITOKEN_SET :
	    STMT_REKEY_INTEG_SET;
	if ((s = store_istmt(st, id)) == NULL)
		return -1;
	if (store_ibind_text(st, s, 1, row->name) == -1 ||
	    store_ibind_text(st, s, 2, b->new_id) == -1 ||
	    store_ibind_blob(st, s, 3, row->new_a.p, row->new_a.len) == -1 ||
	    store_ibind_text(st, s, 4, row->old_id) == -1 ||
	    store_ibind_blob(st, s, 5, row->old_a.p, row->old_a.len) == -1 ||
	    (id == STMT_REKEY_ITOKEN_SET &&
	    store_ibind_int(st, s, 6, row->version) == -1) ||
	    store_istep(st, s, id) == -1)
		goto out;
	rc = sqlite3_changes(st->db) == 1;
out:
	store_ireset(s);
	return rc;
}

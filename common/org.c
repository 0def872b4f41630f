/*
 * org: which Salesforce integration serves a request (see org.h).
 *
 * It sits above config (the environment's default integration and the
 * validators) and the store (named integrations and the workspaces'
 * mappings), so that neither of those two needs the other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "org.h"
#include "store.h"

/* Copies src into *out.  Returns 0, or -1 on memory exhaustion (*out is
 * then empty). */
static int
org_copy(const struct sf_org *src, struct sf_org *out)
{
	memset(out, 0, sizeof(*out));
	if ((out->name = strdup(src->name)) == NULL ||
	    (out->login_url = strdup(src->login_url)) == NULL ||
	    (out->login_host = strdup(src->login_host)) == NULL ||
	    (out->client_id = strdup(src->client_id)) == NULL ||
	    (out->client_secret = strdup(src->client_secret)) == NULL ||
	    (out->api_version = strdup(src->api_version)) == NULL) {
		config_sf_org_free(out);
		return -1;
	}
	out->integration_user = src->integration_user;
	return 0;
}

enum org_result
org_find(const struct config *cfg, struct store *st,
    const char *enterprise_id, const char *team_id, const char *org,
    struct sf_org *out)
{
	char			 name[CONFIG_ORG_NAME_MAX + 1], host[256];
	enum store_result	 sr;

	memset(out, 0, sizeof(*out));
	if (org != NULL)
		snprintf(name, sizeof(name), "%s", org);
	else if (st == NULL)
		name[0] = '\0';
	else if (store_workspace_integration(st, enterprise_id != NULL ?
	    enterprise_id : "", team_id != NULL ? team_id : "", name,
	    NULL) != STORE_OK)
		return ORG_ERROR;
	/* A link names its integration, so it can never be refreshed
	 * against another one: a name that is not found is an error, not
	 * the default. */
	if (name[0] == '\0')
		return org_copy(&cfg->sf, out) == 0 ? ORG_OK : ORG_ERROR;
	if (st == NULL || (org != NULL && strlen(org) > CONFIG_ORG_NAME_MAX))
		return ORG_UNKNOWN;
	sr = store_integration_get(st, name, out);
	if (sr != STORE_OK)
		return sr == STORE_NOTFOUND ? ORG_UNKNOWN :
		    sr == STORE_BADKEY ? ORG_BADKEY : ORG_ERROR;
	/* Validated when it was added; checked again, as anything read
	 * back from a file. */
	if (!config_login_url_ok(out->login_url, host, sizeof(host)) ||
	    !config_api_version_ok(out->api_version) ||
	    !config_client_id_ok(out->client_id)) {
		log_error("integration=%s msg=\"stored settings are "
		    "malformed\"", name);
		config_sf_org_free(out);
		return ORG_ERROR;
	}
	config_trim_slash(out->login_url);
	if ((out->login_host = strdup(host)) == NULL) {
		config_sf_org_free(out);
		return ORG_ERROR;
	}
	return ORG_OK;
}

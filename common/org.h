/*
 * org: the one way to a Salesforce integration.
 *
 * The environment's settings are the default integration, named "";
 * named integrations, and which workspace uses which, are kept in the
 * store (forcelink-admin integration, workspace).  org_find() looks them
 * up on every call, so that a change is seen by the next request.
 */
#ifndef FORCELINK_ORG_H
#define FORCELINK_ORG_H

#include "config.h"

struct store;

/* Outcome of org_find(). */
enum org_result {
	ORG_OK,
	ORG_UNKNOWN,	/* no integration of that name (removed) */
	ORG_BADKEY,	/* its secret does not open (wrong key) */
	ORG_ERROR	/* store or memory failure (logged) */
};

/*
 * Finds a Salesforce integration.  With org not NULL: the one of that
 * name, as recorded on a link or a login ("" is the default).  With org
 * NULL: the workspace's, i.e. the mapping of team_id, else of
 * enterprise_id, else the default (store_workspace_integration).  The
 * store is read every time (one or two indexed reads and the opening of
 * one sealed secret); st may be NULL, and then only the default is
 * known.  A stored integration's settings are checked again with
 * config's validators, as anything read back from a file.  On ORG_OK
 * *out holds a copy (release with config_sf_org_free); otherwise *out
 * is empty.
 */
enum org_result	 org_find(const struct config *, struct store *st,
		    const char *enterprise_id, const char *team_id,
		    const char *org, struct sf_org *out);

#endif

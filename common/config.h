/*
 * config: the settings of SPEC §2, read once from the environment.
 *
 * Every secret may also be given as NAME_FILE, the path of a file holding
 * it (one trailing newline is ignored); setting both is an error.  A
 * missing or malformed required setting makes config_load() fail with one
 * line naming the variable, and the program stops before it serves
 * anything.
 *
 * The token-encryption key is a keyring (keyring.h): FORCELINK_KEY_FILE,
 * which the programs follow while they run (a rotation rewrites it), or
 * FORCELINK_KEY, which they read once.
 *
 * Salesforce settings are reached only through config_sf_org(), never as
 * globals: today there is one integration (the environment's), keyed by
 * the empty name; a later step maps workspaces to named integrations
 * there without touching the callers.
 */
#ifndef FORCELINK_CONFIG_H
#define FORCELINK_CONFIG_H

#include <stddef.h>

#include "crypto.h"
#include "keyring.h"

#define CONFIG_DEFAULT_LOGIN_URL	"https://login.salesforce.com"
#define CONFIG_DEFAULT_API_VERSION	"v62.0"
#define CONFIG_DEFAULT_DB		"var/forcelink.db"
#define CONFIG_DEFAULT_RESPONSE_PREFIX	"https://hooks.slack.com/"
#define CONFIG_DEFAULT_SLACK_AUTHORIZE	"https://slack.com/oauth/v2/authorize"
#define CONFIG_DEFAULT_SLACK_API	"https://slack.com/api"

/* One Salesforce app registration (External Client App). */
struct sf_org {
	char	*name;		/* "" for the environment's integration */
	char	*login_url;	/* https://host[:port], no trailing slash */
	char	*login_host;	/* host part of login_url */
	char	*client_id;
	char	*client_secret;	/* secret */
	char	*api_version;	/* "vNN.N" */
};

struct config {
	char			*slack_signing_secret;	/* secret; NULL if unset */
	char			*slack_verification_token; /* secret; NULL if unset */
	char			*public_url;	/* no trailing slash */
	int			 public_https;	/* public_url is https */
	char			*redirect_uri;	/* public_url + /oauth/callback */
	struct keyring		*keyring;	/* FORCELINK_KEY or _FILE */
	char			*db_path;
	char			*ca_file;	/* NULL if unset */
	char			*response_url_prefix;
	struct sf_org		 sf;		/* the default integration */

	/*
	 * Slack app installation ("Add to Slack", OAuth v2).  Configured
	 * only when SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are both set:
	 * slack_client_id is NULL otherwise.
	 */
	char			*slack_client_id;
	char			*slack_client_secret;	/* secret */
	char			*slack_authorize_url;	/* no trailing slash */
	char			*slack_api_url;		/* no trailing slash */
	/* public_url + /slack/oauth_redirect */
	char			*slack_redirect_uri;
	int			 require_install; /* ..._REQUIRE_INSTALL=1 */
};

/*
 * Fills *cfg from the environment.  Returns 0, or -1 with one line in err
 * (size errsz) naming the variable at fault; *cfg is then empty.
 */
int		 config_load(struct config *cfg, char *err, size_t errsz);

/* Releases everything and wipes the secrets. */
void		 config_free(struct config *cfg);

/*
 * Returns the Salesforce integration for a workspace.  The integration
 * named by org (as recorded on a link; NULL or "" for the default) wins;
 * otherwise the workspace's.  Returns NULL when there is none by that
 * name.
 */
const struct sf_org *config_sf_org(const struct config *,
		    const char *enterprise_id, const char *team_id,
		    const char *org);

#endif

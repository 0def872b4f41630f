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
 * Salesforce settings are reached only through org_find() (org.h), never
 * as globals.  The environment's settings are the default integration, named
 * ""; named integrations, and which workspace uses which, are kept in the
 * store (forcelink-admin integration, workspace) and looked up there on
 * every call, so that a change is seen by the next request.
 */
#ifndef FORCELINK_CONFIG_H
#define FORCELINK_CONFIG_H

#include <stddef.h>

#include "crypto.h"
#include "keyring.h"

#define CONFIG_DEFAULT_LOGIN_URL	"https://login.salesforce.com"
#define CONFIG_DEFAULT_API_VERSION	"v62.0"
#define CONFIG_DEFAULT_DB		"var/forcelink.db"
/* Where a host keeps its own files (the metrics, the replay cache) when
 * the store is on a PostgreSQL server: "<prefix>-metrics" and
 * "<prefix>-replay", under the run directory. */
#define CONFIG_LOCAL_PREFIX		"var/forcelink"
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
	int	 integration_user; /* client credentials: commands run as the
				   app's Run-As user, nobody links */
};

/* Longest name of an integration. */
#define CONFIG_ORG_NAME_MAX	64

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

	/*
	 * How a login proves that the person in the browser is the Slack
	 * user the login link was made for (FORCELINK_LINK_PROOF, issue
	 * 11): CONFIG_PROOF_* bits, at least one; every proof set must pass
	 * before a link is stored.  Default: Sign in with Slack when
	 * SLACK_CLIENT_ID is set, else the code typed back in Slack.
	 */
	int			 link_proof;
	/* SLACK_BOT_TOKEN: the bot token of a single workspace without
	 * installation (the email proof, the Web API calls of slackweb.h);
	 * NULL if unset; config_valid_bot_token() holds. */
	char			*slack_bot_token;	/* secret */
};

/* The proofs of FORCELINK_LINK_PROOF. */
#define CONFIG_PROOF_SLACK	0x1	/* Sign in with Slack, first */
#define CONFIG_PROOF_CODE	0x2	/* /contact confirm CODE, after */
#define CONFIG_PROOF_EMAIL	0x4	/* Salesforce email = Slack email */

/*
 * Parses a FORCELINK_LINK_PROOF value: a comma-separated list of
 * "slack", "code" and "email", each at most once, not empty.  Returns the
 * CONFIG_PROOF_* bits, or 0 when s is malformed.
 */
int		 config_link_proof_parse(const char *s);

/*
 * Returns 1 when s has the shape of a Slack bot token: printable ASCII
 * without spaces, "xoxb-" or (with token rotation) "xoxe.xoxb-" and
 * more; else 0 (a user token xoxp-, an app token xapp-, a refresh token
 * xoxe-1-...).  SLACK_BOT_TOKEN must pass, and so must every token the
 * Web API calls of slackweb.h send.
 */
int		 config_valid_bot_token(const char *s);

/*
 * Fills *cfg from the environment.  Returns 0, or -1 with one line in err
 * (size errsz) naming the variable at fault; *cfg is then empty.
 */
int		 config_load(struct config *cfg, char *err, size_t errsz);

/* Releases everything and wipes the secrets. */
void		 config_free(struct config *cfg);

/* Releases an integration's settings and wipes the secret. */
void		 config_sf_org_free(struct sf_org *);

/*
 * Checks shared with forcelink-admin, which validates a new integration
 * the way config_load() validates the environment's.  Each returns 1 when
 * s is acceptable.  config_org_name_ok: 1 to CONFIG_ORG_NAME_MAX of
 * A-Z a-z 0-9 . _ -, starting with a letter or digit, not "default" in
 * any case.  config_login_url_ok: an https URL with a host and no path,
 * query or user information (a trailing "/" is allowed); its host is
 * copied to host (size hostsz).  config_client_id_ok: printable ASCII
 * without spaces, at most 255 bytes.  config_api_version_ok: "v" digits
 * "." digits.  config_my_domain_ok: the login host is not
 * login.salesforce.com or test.salesforce.com, which Salesforce's client
 * credentials flow does not accept (it needs the org's My Domain).
 */
int		 config_org_name_ok(const char *s);
int		 config_login_url_ok(const char *s, char *host, size_t hostsz);
int		 config_client_id_ok(const char *s);
int		 config_api_version_ok(const char *s);
int		 config_my_domain_ok(const char *host);

/* Drops the trailing slashes of a base URL, in place. */
void		 config_trim_slash(char *s);

#endif

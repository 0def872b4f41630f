/*
 * integrations: the commands about Salesforce integrations and which
 * workspace uses which — "integration add|list|remove" and "workspace
 * set-integration|list|unset".
 *
 * An integration is one Salesforce app registration (consumer key and
 * secret, login URL, API version), added under a name; the environment's
 * SF_* settings stay the default one, named "default" on this command
 * line and "" in the database.  The consumer secret is read from a file
 * (never from the command line, where ps would show it), checked and
 * sealed by the store; no command prints it.  A workspace (team id T...)
 * or a whole Enterprise Grid organisation (enterprise id E...) is mapped
 * to an integration; the programs look the mapping up on every request,
 * so a change applies to the next command without a restart.
 *
 * What a change does to existing links is the programs' rule (session.h):
 * a link is only ever used with the integration it was made with, and not
 * at all while its workspace is mapped to another one; workspace
 * set-integration says how many links that leaves waiting for a new
 * login.  integration remove refuses while a mapping or a link uses the
 * integration; --force deletes those mappings and links with it, without
 * revoking anything at Salesforce, and prints each one.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>

#include "admin.h"
#include "buf.h"
#include "config.h"
#include "crypto.h"
#include "log.h"
#include "store.h"

/* Longest consumer secret accepted from a file. */
#define INTEG_SECRET_MAX	1024

enum {
	OPT_JSON = 256,
	OPT_LOGIN_URL,
	OPT_CLIENT_ID,
	OPT_SECRET_FILE,
	OPT_API_VERSION,
	OPT_IUSER,
	OPT_FORCE
};

static const struct option integ_longopts[] = {
	{ "help",		no_argument,		NULL, 'h' },
	{ "json",		no_argument,		NULL, OPT_JSON },
	{ "login-url",		required_argument,	NULL, OPT_LOGIN_URL },
	{ "client-id",		required_argument,	NULL, OPT_CLIENT_ID },
	{ "client-secret-file",	required_argument,	NULL, OPT_SECRET_FILE },
	{ "api-version",	required_argument,	NULL, OPT_API_VERSION },
	{ "integration-user",	no_argument,		NULL, OPT_IUSER },
	{ "force",		no_argument,		NULL, OPT_FORCE },
	{ NULL,			0,			NULL, 0 }
};

static const struct admin_cmd_help integration_help = {
	ADMIN_PROG " integration add|set-secret|list|remove ...",
	"Salesforce integrations: app registrations (External Client Apps)\n"
	"besides the default one of the environment (SF_CLIENT_ID, ...,\n"
	"named \"default\" here).  Each workspace uses one (see\n"
	"\"" ADMIN_PROG " workspace\").\n"
	"\n"
	"  integration add NAME --login-url URL --client-id ID\n"
	"      --client-secret-file FILE [--api-version vNN.N]\n"
	"      [--integration-user]\n"
	"  integration set-secret NAME --client-secret-file FILE\n"
	"  integration list [--json]\n"
	"  integration remove [--force] NAME\n"
	"\n"
	"Run " ADMIN_PROG " integration COMMAND --help for each.\n",
	NULL
};

static const struct admin_cmd_help add_help = {
	ADMIN_PROG " integration add NAME --login-url URL --client-id ID "
	"--client-secret-file FILE [--api-version vNN.N] [--integration-user]",
	"Adds the Salesforce integration NAME (1 to 64 of A-Z a-z 0-9 . _ -,\n"
	"starting with a letter or digit; not \"default\").  The consumer\n"
	"secret is read from FILE (one line; the file may be deleted\n"
	"afterwards) and stored sealed under the current key, like tokens.\n"
	"Nothing is sent to Salesforce.\n"
	"\n"
	"  --login-url URL         https URL of the login host, no path:\n"
	"                          https://login.salesforce.com,\n"
	"                          https://test.salesforce.com or a My Domain\n"
	"                          (https://NAME.my.salesforce.com)\n"
	"  --client-id ID          the app's consumer key\n"
	"  --client-secret-file F  a file holding the consumer secret\n"
	"  --api-version vNN.N     REST API version (default " 
	CONFIG_DEFAULT_API_VERSION ")\n"
	"  --integration-user      integration-user mode: commands run as the\n"
	"                          app's Run-As user (client credentials\n"
	"                          flow); nobody links, and everyone in a\n"
	"                          workspace using it sees what that user\n"
	"                          sees.  Needs the org's My Domain login\n"
	"                          URL.\n"
	"\n"
	"Exit status 1 when NAME exists already, 2 for a bad argument.\n",
	NULL
};

static const struct admin_cmd_help secret_help = {
	ADMIN_PROG " integration set-secret NAME --client-secret-file FILE",
	"Replaces the consumer secret of integration NAME, after it was\n"
	"rotated in Salesforce (the app stays the same, and so do the links\n"
	"made with it).  The programs use the new secret from their next\n"
	"request.  FILE is read as for integration add.\n"
	"\n"
	"  --client-secret-file F  a file holding the new consumer secret\n"
	"\n"
	"Exit status 3 when there is no such integration.\n",
	NULL
};

static const struct admin_cmd_help ilist_help = {
	ADMIN_PROG " integration list [--json]",
	"Lists the integrations, the default one first: name, login URL,\n"
	"consumer key, API version, mode (links, or the integration user and\n"
	"its cached user), the workspace mappings and links that use it, and\n"
	"when it was added.  Never the secret.\n"
	"\n"
	"  --json   a JSON array of objects, one per integration\n",
	NULL
};

static const struct admin_cmd_help remove_help = {
	ADMIN_PROG " integration remove [--force] NAME",
	"Removes integration NAME and its cached integration-user token.\n"
	"While workspaces are mapped to it or links were made with it, it\n"
	"refuses (exit status 1) and lists them.\n"
	"\n"
	"  --force  delete those mappings and links too, printing each one\n"
	"           (their workspaces fall back to their enterprise's\n"
	"           mapping or the default; the users link again).  Nothing\n"
	"           is revoked at Salesforce: the grants stay valid there\n"
	"           until they expire or the app is deleted or its tokens\n"
	"           revoked in Salesforce Setup.\n"
	"\n"
	"Exit status 3 when there is no such integration.\n",
	NULL
};

static const struct admin_cmd_help workspace_help = {
	ADMIN_PROG " workspace set-integration|list|unset ...",
	"Which Salesforce integration a Slack workspace uses: its own\n"
	"mapping (team id T...), else its Enterprise Grid organisation's\n"
	"(enterprise id E...), else the default.\n"
	"\n"
	"  workspace set-integration TEAM NAME\n"
	"  workspace list [--json]\n"
	"  workspace unset TEAM\n"
	"\n"
	"Run " ADMIN_PROG " workspace COMMAND --help for each.\n",
	NULL
};

static const struct admin_cmd_help set_help = {
	ADMIN_PROG " workspace set-integration TEAM NAME",
	"Maps workspace TEAM (a team id, T...), or every workspace of an\n"
	"Enterprise Grid organisation (an enterprise id, E...), to\n"
	"integration NAME (\"default\": the environment's).  The programs use\n"
	"it from their next request.  Links made with another integration\n"
	"are not used while the mapping stands: their users are asked to\n"
	"link again (the new link replaces the old one, whose grant is then\n"
	"revoked with its own integration); mapping back makes them usable\n"
	"again.  Prints how many links that concerns.\n"
	"\n"
	"Exit status 3 when there is no integration NAME.\n",
	NULL
};

static const struct admin_cmd_help wlist_help = {
	ADMIN_PROG " workspace list [--json]",
	"Lists the mappings, workspaces first: id, kind (team or\n"
	"enterprise), integration, links in it, how many of them were made\n"
	"with another integration, and when it was set.  Workspaces not\n"
	"listed use their enterprise's mapping or the default.\n"
	"\n"
	"  --json   a JSON array of objects, one per mapping\n",
	NULL
};

static const struct admin_cmd_help unset_help = {
	ADMIN_PROG " workspace unset TEAM",
	"Removes the mapping of workspace (or enterprise) TEAM: it uses its\n"
	"enterprise's mapping or the default again.\n"
	"\n"
	"Exit status 3 when TEAM has no mapping.\n",
	NULL
};

/* The options of every subcommand. */
struct integ_opts {
	int		 json;
	int		 force;
	int		 iuser;
	const char	*login_url;
	const char	*client_id;
	const char	*secret_file;
	const char	*api_version;
};

/* What a subcommand accepts. */
#define IOPT_JSON	0x01
#define IOPT_ADD	0x02	/* --login-url ... --integration-user */
#define IOPT_FORCE	0x04
#define IOPT_SECRET	0x08	/* --client-secret-file */

struct integ_parse {
	struct integ_opts	*o;
	unsigned int		 allowed;
	const char		*cmd;
	const char		*synopsis;
};

static int
integ_opt(int c, const char *arg, void *v)
{
	struct integ_parse	*p = v;
	unsigned int		 bit;

	bit = c == OPT_JSON ? IOPT_JSON : c == OPT_FORCE ? IOPT_FORCE :
	    c == OPT_SECRET_FILE ? IOPT_SECRET : IOPT_ADD;
	if ((p->allowed & bit) == 0) {
		admin_err("%s: unknown option --%s", p->cmd,
		    integ_longopts[c - OPT_JSON + 1].name);
		return admin_usage(p->synopsis);
	}
	switch (c) {
	case OPT_JSON:
		p->o->json = 1;
		break;
	case OPT_FORCE:
		p->o->force = 1;
		break;
	case OPT_IUSER:
		p->o->iuser = 1;
		break;
	case OPT_LOGIN_URL:
		p->o->login_url = arg;
		break;
	case OPT_CLIENT_ID:
		p->o->client_id = arg;
		break;
	case OPT_SECRET_FILE:
		p->o->secret_file = arg;
		break;
	case OPT_API_VERSION:
		p->o->api_version = arg;
		break;
	}
	return ADMIN_OK;
}

/*
 * Parses a subcommand's options (argv[0] its name) wherever they are
 * among its operands, which end up in ops[0..nargs-1]: exactly nargs of
 * them.  Returns ADMIN_OK, or the exit status to stop with (*done set for
 * --help).
 */
static int
integ_args(int argc, char *argv[], const struct admin_cmd_help *h,
    unsigned int allowed, int nargs, struct integ_opts *o,
    const char **ops, int *done)
{
	struct integ_parse	 p = { o, allowed, argv[0], h->synopsis };
	char			*v[64];
	int			 i, n = 0, lead = 0, first, rc;

	memset(o, 0, sizeof(*o));
	*done = 0;
	if (argc > (int)(sizeof(v) / sizeof(v[0]))) {
		admin_err("%s: too many arguments", argv[0]);
		return admin_usage(h->synopsis);
	}
	/* "add NAME --opt ...": the operands before the first option go
	 * last, so that getopt (which stops at an operand) sees the
	 * options first. */
	v[n++] = argv[0];
	while (1 + lead < argc && argv[1 + lead][0] != '-')
		lead++;
	for (i = 1 + lead; i < argc; i++)
		v[n++] = argv[i];
	for (i = 1; i <= lead; i++)
		v[n++] = argv[i];
	rc = admin_getopt(n, v, "", integ_longopts, h, integ_opt, &p, &first,
	    done);
	if (rc != ADMIN_OK || *done)
		return rc;
	if (n - first != nargs) {
		admin_err("%s: %s", argv[0], nargs == 0 ? "takes no operands" :
		    nargs == 1 ? "needs exactly one operand" :
		    "needs exactly two operands");
		return admin_usage(h->synopsis);
	}
	for (i = 0; i < nargs; i++)
		ops[i] = v[first + i];
	return ADMIN_OK;
}

/*
 * Reads the consumer secret from path: one line (a trailing newline is
 * dropped), printable ASCII without spaces, 1 to INTEG_SECRET_MAX bytes.
 * Returns it (free with crypto_free_secret), or NULL after one line
 * saying why (the secret itself is never quoted).
 */
static char *
integ_read_secret(const char *cmd, const char *path)
{
	struct buf	 b;
	char		 chunk[512], *s = NULL;
	ssize_t		 n;
	size_t		 i;
	int		 fd;

	buf_init(&b, INTEG_SECRET_MAX + 2);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		admin_err("%s: --client-secret-file: cannot read %s: %s", cmd,
		    path, strerror(errno));
		goto out;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(&b, chunk, (size_t)n) == -1) {
			n = -2;
			break;
		}
	crypto_wipe(chunk, sizeof(chunk));
	close(fd);
	if (n < 0) {
		admin_err("%s: --client-secret-file: %s: %s", cmd, path,
		    n == -2 ? "longer than a consumer secret can be" :
		    strerror(errno));
		goto out;
	}
	if (b.len > 0 && b.data[b.len - 1] == '\n')
		b.data[--b.len] = '\0';
	if (b.len > 0 && b.data[b.len - 1] == '\r')
		b.data[--b.len] = '\0';
	for (i = 0; i < b.len; i++)
		if (b.data[i] <= ' ' || b.data[i] > '~')
			break;
	if (b.len == 0 || i < b.len) {
		admin_err("%s: --client-secret-file: %s must hold the "
		    "consumer secret alone, on one line", cmd, path);
		goto out;
	}
	s = buf_detach(&b);
out:
	buf_free_secret(&b);
	return s;
}

/* Checks add's options into *o (login_host filled).  Returns ADMIN_OK
 * or ADMIN_USAGE after one line. */
static int
integ_check_add(const char *name, const struct integ_opts *x,
    struct sf_org *o, char *host, size_t hostsz)
{
	const char	*what = NULL;

	if (!config_org_name_ok(name))
		what = "NAME must be 1 to 64 of A-Z a-z 0-9 . _ -, starting "
		    "with a letter or digit, and not \"default\"";
	else if (x->login_url == NULL || x->client_id == NULL ||
	    x->secret_file == NULL)
		what = "--login-url, --client-id and --client-secret-file are "
		    "required";
	else if (!config_login_url_ok(x->login_url, host, hostsz))
		what = "--login-url must be an https URL without a path, e.g. "
		    "https://acme.my.salesforce.com";
	else if (!config_client_id_ok(x->client_id))
		what = "--client-id must be printable text without spaces";
	else if (x->api_version != NULL &&
	    !config_api_version_ok(x->api_version))
		what = "--api-version must look like "
		    CONFIG_DEFAULT_API_VERSION;
	else if (x->iuser && !config_my_domain_ok(host))
		what = "--integration-user needs the org's My Domain login URL "
		    "(https://NAME.my.salesforce.com, or NAME--SANDBOX.sandbox."
		    "my.salesforce.com): Salesforce's client credentials flow "
		    "does not work with login.salesforce.com or "
		    "test.salesforce.com";
	if (what != NULL) {
		admin_err("integration add: %s", what);
		return admin_usage(add_help.synopsis);
	}
	memset(o, 0, sizeof(*o));
	o->name = (char *)name;
	o->login_url = (char *)x->login_url;
	o->client_id = (char *)x->client_id;
	o->api_version = (char *)(x->api_version != NULL ? x->api_version :
	    CONFIG_DEFAULT_API_VERSION);
	o->integration_user = x->iuser;
	return ADMIN_OK;
}

static int
integ_set_secret(int argc, char *argv[])
{
	struct config		 cfg;
	struct integ_opts	 x;
	struct store		*st = NULL;
	enum store_result	 sr;
	const char		*ops[1];
	char			*secret = NULL;
	int			 rc, done, loaded = 0;

	rc = integ_args(argc, argv, &secret_help, IOPT_SECRET, 1, &x, ops,
	    &done);
	if (rc != ADMIN_OK || done)
		return rc;
	if (x.secret_file == NULL) {
		admin_err("integration set-secret: --client-secret-file is "
		    "required");
		return admin_usage(secret_help.synopsis);
	}
	if (!config_org_name_ok(ops[0])) {
		admin_err("integration set-secret: no integration '%.64s'",
		    ops[0]);
		return ADMIN_NOTFOUND;
	}
	if ((secret = integ_read_secret(argv[0], x.secret_file)) == NULL)
		return ADMIN_USAGE;
	if ((rc = admin_config(&cfg)) != ADMIN_OK)
		goto out;
	loaded = 1;
	if ((rc = admin_open(&cfg, &st)) != ADMIN_OK)
		goto out;
	sr = store_integration_set_secret(st, ops[0], secret);
	if (sr == STORE_NOTFOUND) {
		admin_err("integration set-secret: no integration '%s'",
		    ops[0]);
		rc = ADMIN_NOTFOUND;
		goto out;
	} else if (sr != STORE_OK) {
		rc = admin_store_fail(st, "replacing the secret");
		goto out;
	}
	log_event(LOGL_INFO, "admin.integration", "action=set-secret name=%s",
	    ops[0]);
	printf("replaced the consumer secret of integration %s\n", ops[0]);
	rc = fflush(stdout) == 0 ? ADMIN_OK : ADMIN_FAIL;
out:
	crypto_free_secret(secret);
	store_close(st);
	if (loaded)
		config_free(&cfg);
	return rc;
}

static int
integ_add(int argc, char *argv[])
{
	struct config		 cfg;
	struct integ_opts	 x;
	struct sf_org		 o;
	struct store		*st = NULL;
	enum store_result	 sr;
	const char		*ops[1];
	char			 host[256], *secret = NULL, *url = NULL;
	int			 rc, done, loaded = 0;

	rc = integ_args(argc, argv, &add_help, IOPT_ADD | IOPT_SECRET, 1, &x,
	    ops, &done);
	if (rc != ADMIN_OK || done)
		return rc;
	if ((rc = integ_check_add(ops[0], &x, &o, host, sizeof(host))) !=
	    ADMIN_OK)
		return rc;
	if ((secret = integ_read_secret(argv[0], x.secret_file)) == NULL)
		return ADMIN_USAGE;
	/* Stored without the trailing "/" the URL may have been given
	 * with. */
	if ((url = strdup(x.login_url)) == NULL) {
		admin_err("out of memory");
		rc = ADMIN_FAIL;
		goto out;
	}
	if (url[strlen(url) - 1] == '/')
		url[strlen(url) - 1] = '\0';
	o.login_url = url;
	o.client_secret = secret;
	if ((rc = admin_config(&cfg)) != ADMIN_OK)
		goto out;
	loaded = 1;
	if ((rc = admin_open(&cfg, &st)) != ADMIN_OK)
		goto out;
	sr = store_integration_add(st, &o);
	if (sr == STORE_EXISTS) {
		admin_err("integration add: integration '%s' exists already "
		    "(remove it first)", o.name);
		rc = ADMIN_FAIL;
		goto out;
	} else if (sr != STORE_OK) {
		rc = admin_store_fail(st, "adding the integration");
		goto out;
	}
	log_event(LOGL_INFO, "admin.integration", "action=add name=%s "
	    "login_host=%s integration_user=%d", o.name, host,
	    o.integration_user);
	printf("added integration %s: %s, client id %s, API %s, %s\n",
	    o.name, o.login_url, o.client_id, o.api_version,
	    o.integration_user ? "integration user (client credentials; "
	    "nobody links)" : "each user links their own Salesforce user");
	printf("map workspaces to it with: %s workspace set-integration TEAM "
	    "%s\n", ADMIN_PROG, o.name);
	rc = fflush(stdout) == 0 ? ADMIN_OK : ADMIN_FAIL;
out:
	crypto_free_secret(secret);
	free(url);
	store_close(st);
	if (loaded)
		config_free(&cfg);
	return rc;
}

/* The default integration's counts: explicit mappings to it and links
 * made with it. */
static int
integ_default_counts(struct store *st, long *ws, long *links)
{
	struct store_workspace_list	 wl;
	struct store_link_list		 ll;
	size_t				 i;

	*ws = *links = 0;
	if (store_workspace_list(st, &wl) != STORE_OK)
		return admin_store_fail(st, "reading the mappings");
	for (i = 0; i < wl.n; i++)
		*ws += wl.v[i].integration[0] == '\0';
	store_workspace_list_free(&wl);
	if (store_list_links(st, NULL, NULL, NULL, &ll) != STORE_OK)
		return admin_store_fail(st, "reading the links");
	for (i = 0; i < ll.n; i++)
		*links += ll.v[i].org[0] == '\0';
	store_link_list_free(&ll);
	return ADMIN_OK;
}

static struct json_object *
integ_json_one(const char *name, const char *url, const char *id,
    const char *api, int iuser, const char *token_user, long ws, long links,
    time_t created)
{
	struct json_object	*o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	json_object_object_add(o, "name", admin_json_str(name));
	json_object_object_add(o, "default",
	    json_object_new_boolean(*name == '\0'));
	json_object_object_add(o, "login_url", admin_json_str(url));
	json_object_object_add(o, "client_id", admin_json_str(id));
	json_object_object_add(o, "api_version", admin_json_str(api));
	json_object_object_add(o, "integration_user",
	    json_object_new_boolean(iuser));
	json_object_object_add(o, "integration_username",
	    admin_json_str(token_user));
	json_object_object_add(o, "workspaces", json_object_new_int64(ws));
	json_object_object_add(o, "links", json_object_new_int64(links));
	json_object_object_add(o, "created_at", admin_json_time(created));
	return o;
}

static int
integ_list_json(const struct config *cfg,
    const struct store_integration_list *il, long dws, long dlinks)
{
	const struct store_integration_info	*e;
	struct json_object			*a, *o;
	size_t					 i;

	if ((a = json_object_new_array()) == NULL)
		return admin_json_print(NULL);
	o = integ_json_one("", cfg->sf.login_url, cfg->sf.client_id,
	    cfg->sf.api_version, 0, NULL, dws, dlinks, 0);
	if (o == NULL || json_object_array_add(a, o) != 0)
		goto fail;
	for (i = 0; i < il->n; i++) {
		e = &il->v[i];
		o = integ_json_one(e->name, e->login_url, e->client_id,
		    e->api_version, e->integration_user, e->token_user,
		    e->workspaces, e->links, e->created_at);
		if (o == NULL || json_object_array_add(a, o) != 0)
			goto fail;
	}
	return admin_json_print(a);
fail:
	json_object_put(o);
	json_object_put(a);
	return admin_json_print(NULL);
}

static int
integ_list_table(const struct config *cfg,
    const struct store_integration_list *il, long dws, long dlinks)
{
	static const char *const heads[] = { "NAME", "LOGIN_URL",
	    "CLIENT_ID", "API", "MODE", "WORKSPACES", "LINKS", "ADDED" };
	const struct store_integration_info	*e;
	struct admin_table			*t;
	const char				*cells[8];
	char					 w[24], l[24], added[24];
	char					 mode[300];
	size_t					 i;
	int					 rc = -1;

	if ((t = admin_table_new(8, heads)) == NULL)
		goto out;
	snprintf(w, sizeof(w), "%ld", dws);
	snprintf(l, sizeof(l), "%ld", dlinks);
	cells[0] = "default";
	cells[1] = cfg->sf.login_url;
	cells[2] = cfg->sf.client_id;
	cells[3] = cfg->sf.api_version;
	cells[4] = "links";
	cells[5] = w;
	cells[6] = l;
	cells[7] = "(environment)";
	if (admin_table_add(t, cells) == -1)
		goto out;
	for (i = 0; i < il->n; i++) {
		e = &il->v[i];
		if (!e->integration_user)
			snprintf(mode, sizeof(mode), "links");
		else
			snprintf(mode, sizeof(mode), "integration user%s%.200s",
			    e->token_user != NULL ? " " : "",
			    e->token_user != NULL ? e->token_user : "");
		snprintf(w, sizeof(w), "%ld", e->workspaces);
		snprintf(l, sizeof(l), "%ld", e->links);
		admin_iso8601(e->created_at, added);
		cells[0] = e->name;
		cells[1] = e->login_url;
		cells[2] = e->client_id;
		cells[3] = e->api_version;
		cells[4] = mode;
		cells[5] = w;
		cells[6] = l;
		cells[7] = added;
		if (admin_table_add(t, cells) == -1)
			goto out;
	}
	rc = admin_table_print(t, stdout);
out:
	if (t == NULL || rc == -1)
		admin_err("out of memory or cannot write the output");
	admin_table_free(t);
	return rc;
}

static int
integ_list(int argc, char *argv[])
{
	struct config			 cfg;
	struct integ_opts		 x;
	struct store_integration_list	 il = { NULL, 0 };
	struct store			*st = NULL;
	long				 dws, dlinks;
	int				 rc, done, loaded = 0;

	rc = integ_args(argc, argv, &ilist_help, IOPT_JSON, 0, &x, NULL,
	    &done);
	if (rc != ADMIN_OK || done)
		return rc;
	if ((rc = admin_config(&cfg)) != ADMIN_OK)
		goto out;
	loaded = 1;
	if ((rc = admin_open(&cfg, &st)) != ADMIN_OK ||
	    (rc = integ_default_counts(st, &dws, &dlinks)) != ADMIN_OK)
		goto out;
	if (store_integration_list(st, &il) != STORE_OK) {
		rc = admin_store_fail(st, "reading the integrations");
		goto out;
	}
	if (x.json)
		rc = integ_list_json(&cfg, &il, dws, dlinks) == 0 ? ADMIN_OK :
		    ADMIN_FAIL;
	else
		rc = integ_list_table(&cfg, &il, dws, dlinks) == 0 ? ADMIN_OK :
		    ADMIN_FAIL;
out:
	store_integration_list_free(&il);
	store_close(st);
	if (loaded)
		config_free(&cfg);
	return rc;
}

/* "team T1" or "enterprise E1". */
static const char *
integ_kind(const struct store_workspace *w)
{
	return w->enterprise ? "enterprise" : "team";
}

/* Prints what uses an integration (refused) or what --force deleted. */
static void
integ_print_users(FILE *f, const char *prefix,
    const struct store_workspace_list *wl, const struct store_link_list *ll,
    const char *unmap, const char *unlink)
{
	size_t	 i;
	char	*name;

	for (i = 0; i < wl->n; i++)
		fprintf(f, "%s%s %s %s\n", prefix, unmap,
		    integ_kind(&wl->v[i]), wl->v[i].slack_id);
	for (i = 0; i < ll->n; i++) {
		name = admin_clean(ll->v[i].sf_username);
		fprintf(f, "%s%s team %s user %s%s%s (Salesforce user %s)\n",
		    prefix, unlink, ll->v[i].who.team_id, ll->v[i].who.user_id,
		    ll->v[i].who.enterprise_id[0] != '\0' ? " enterprise " : "",
		    ll->v[i].who.enterprise_id, name != NULL ? name : "?");
		free(name);
	}
}

static int
integ_remove(int argc, char *argv[])
{
	struct config			 cfg;
	struct integ_opts		 x;
	struct store_workspace_list	 wl = { NULL, 0 };
	struct store_link_list		 ll = { NULL, 0 };
	struct store			*st = NULL;
	enum store_result		 sr;
	const char			*ops[1];
	int				 rc, done, loaded = 0;

	rc = integ_args(argc, argv, &remove_help, IOPT_FORCE, 1, &x, ops,
	    &done);
	if (rc != ADMIN_OK || done)
		return rc;
	if (strcasecmp(ops[0], "default") == 0) {
		admin_err("integration remove: the default integration is the "
		    "environment's (SF_CLIENT_ID, ...): it cannot be removed");
		return admin_usage(remove_help.synopsis);
	}
	if ((rc = admin_config(&cfg)) != ADMIN_OK)
		goto out;
	loaded = 1;
	if ((rc = admin_open(&cfg, &st)) != ADMIN_OK)
		goto out;
	sr = store_integration_remove(st, ops[0], x.force, &wl, &ll);
	switch (sr) {
	case STORE_OK:
		break;
	case STORE_NOTFOUND:
		admin_err("integration remove: no integration '%.64s'", ops[0]);
		rc = ADMIN_NOTFOUND;
		goto out;
	case STORE_CONFLICT:
		admin_err("integration remove: integration '%s' is used by %zu "
		    "workspace mapping%s and %zu link%s; nothing was removed.  "
		    "Map them elsewhere (workspace set-integration, workspace "
		    "unset) and unlink the users, or use --force, which "
		    "deletes them", ops[0], wl.n, wl.n == 1 ? "" : "s", ll.n,
		    ll.n == 1 ? "" : "s");
		integ_print_users(stderr, ADMIN_PROG ":   ", &wl, &ll,
		    "mapped:", "linked:");
		rc = ADMIN_FAIL;
		goto out;
	case STORE_BUSY:
		admin_err("integration remove: the database is locked: another "
		    "process held its lock beyond the busy timeout; try again");
		rc = ADMIN_BUSY;
		goto out;
	default:
		rc = admin_store_fail(st, "removing the integration");
		goto out;
	}
	log_event(LOGL_INFO, "admin.integration", "action=remove name=%s "
	    "force=%d unmapped=%zu unlinked=%zu", ops[0], x.force, wl.n, ll.n);
	integ_print_users(stdout, "", &wl, &ll, "unmapped", "unlinked");
	if (ll.n > 0)
		printf("the %zu unlinked grant%s %s not revoked at "
		    "Salesforce\n", ll.n, ll.n == 1 ? "" : "s",
		    ll.n == 1 ? "was" : "were");
	printf("removed integration %s\n", ops[0]);
	rc = fflush(stdout) == 0 ? ADMIN_OK : ADMIN_FAIL;
out:
	store_workspace_list_free(&wl);
	store_link_list_free(&ll);
	store_close(st);
	if (loaded)
		config_free(&cfg);
	return rc;
}

int
cmd_integration(int argc, char *argv[])
{
	static const struct admin_sub	 subs[] = {
		{ "add", "integration add", integ_add },
		{ "set-secret", "integration set-secret", integ_set_secret },
		{ "list", "integration list", integ_list },
		{ "remove", "integration remove", integ_remove },
	};

	return admin_subcommand(argc, argv, "integration", subs,
	    sizeof(subs) / sizeof(subs[0]), &integration_help);
}

/* --- workspace ---------------------------------------------------------- */

/*
 * Checks TEAM: a team id (T...) or an enterprise id (E...).  Returns 1
 * with *enterprise set, or 0 after one line.
 */
static int
ws_target(const char *cmd, const char *id, int *enterprise)
{
	if (!admin_valid_id(id, 0) || (id[0] != 'T' && id[0] != 'E')) {
		admin_err("%s: TEAM must be a Slack team id (T...) or an "
		    "Enterprise Grid id (E...), 1 to %d of A-Z 0-9: %.64s",
		    cmd, SLACK_ID_MAX, id);
		return 0;
	}
	*enterprise = id[0] == 'E';
	return 1;
}

/*
 * Counts the links a mapping of id concerns (in that workspace, or in
 * the enterprise's workspaces) and, of those, the ones that the programs
 * will not use now, because their workspace resolves to another
 * integration than the one they were made with.
 */
static int
ws_count(struct store *st, int enterprise, const char *id, long *links,
    long *waiting)
{
	struct store_link_list	 ll;
	char			 now[CONFIG_ORG_NAME_MAX + 1];
	size_t			 i;

	*links = *waiting = 0;
	if (store_list_links(st, enterprise ? id : NULL, enterprise ? NULL :
	    id, NULL, &ll) != STORE_OK)
		return admin_store_fail(st, "reading the links");
	for (i = 0; i < ll.n; i++) {
		if (store_workspace_integration(st, ll.v[i].who.enterprise_id,
		    ll.v[i].who.team_id, now, NULL) != STORE_OK) {
			store_link_list_free(&ll);
			return admin_store_fail(st, "reading the mappings");
		}
		(*links)++;
		*waiting += strcmp(now, ll.v[i].org) != 0;
	}
	store_link_list_free(&ll);
	return ADMIN_OK;
}

static const char *
ws_name(const char *integration)
{
	return integration == NULL || *integration == '\0' ? "default" :
	    integration;
}

static int
ws_set(int argc, char *argv[])
{
	struct config		 cfg;
	struct integ_opts	 x;
	struct store		*st = NULL;
	enum store_result	 sr;
	const char		*ops[2], *name;
	char			*prev = NULL;
	long			 links, waiting;
	int			 rc, done, ent, loaded = 0;

	rc = integ_args(argc, argv, &set_help, 0, 2, &x, ops, &done);
	if (rc != ADMIN_OK || done)
		return rc;
	if (!ws_target(argv[0], ops[0], &ent))
		return admin_usage(set_help.synopsis);
	name = strcasecmp(ops[1], "default") == 0 ? "" : ops[1];
	if (*name != '\0' && !config_org_name_ok(name)) {
		admin_err("%s: no integration '%.64s'", argv[0], ops[1]);
		return ADMIN_NOTFOUND;
	}
	if ((rc = admin_config(&cfg)) != ADMIN_OK)
		goto out;
	loaded = 1;
	if ((rc = admin_open(&cfg, &st)) != ADMIN_OK)
		goto out;
	sr = store_workspace_set(st, ent, ops[0], name, &prev);
	if (sr == STORE_NOTFOUND) {
		admin_err("%s: no integration '%s' (see %s integration list)",
		    argv[0], name, ADMIN_PROG);
		rc = ADMIN_NOTFOUND;
		goto out;
	} else if (sr != STORE_OK) {
		rc = admin_store_fail(st, "setting the mapping");
		goto out;
	}
	log_event(LOGL_INFO, "admin.workspace", "action=set %s=%s "
	    "integration=\"%s\" previous=\"%s\"", ent ? "enterprise" : "team",
	    ops[0], name, prev != NULL ? prev : "(none)");
	if ((rc = ws_count(st, ent, ops[0], &links, &waiting)) != ADMIN_OK)
		goto out;
	printf("%s %s now uses integration %s (before: %s)\n",
	    ent ? "enterprise" : "workspace", ops[0], ws_name(name),
	    prev != NULL ? ws_name(prev) : "no mapping of its own");
	printf("%ld link%s in it, %ld of them made with another integration: "
	    "%s\n", links, links == 1 ? "" : "s", waiting, waiting == 0 ?
	    "nobody needs to link again" : "those users are asked to link "
	    "again");
	rc = fflush(stdout) == 0 ? ADMIN_OK : ADMIN_FAIL;
out:
	free(prev);
	store_close(st);
	if (loaded)
		config_free(&cfg);
	return rc;
}

static int
ws_list_json(const struct store_workspace_list *wl)
{
	struct json_object	*a, *o;
	size_t			 i;

	if ((a = json_object_new_array()) == NULL)
		return admin_json_print(NULL);
	for (i = 0; i < wl->n; i++) {
		if ((o = json_object_new_object()) == NULL ||
		    json_object_array_add(a, o) != 0) {
			json_object_put(o);
			json_object_put(a);
			return admin_json_print(NULL);
		}
		json_object_object_add(o, "id",
		    admin_json_str(wl->v[i].slack_id));
		json_object_object_add(o, "kind",
		    admin_json_str(integ_kind(&wl->v[i])));
		json_object_object_add(o, "integration",
		    admin_json_str(wl->v[i].integration));
		json_object_object_add(o, "links",
		    json_object_new_int64(wl->v[i].links));
		json_object_object_add(o, "links_other_integration",
		    json_object_new_int64(wl->v[i].other));
		json_object_object_add(o, "updated_at",
		    admin_json_time(wl->v[i].updated_at));
	}
	return admin_json_print(a);
}

static int
ws_list_table(const struct store_workspace_list *wl)
{
	static const char *const heads[] = { "ID", "KIND", "INTEGRATION",
	    "LINKS", "OTHER_INTEGRATION", "SET" };
	struct admin_table	*t;
	const char		*cells[6];
	char			 l[24], o[24], set[24];
	size_t			 i;
	int			 rc = -1;

	if ((t = admin_table_new(6, heads)) == NULL)
		goto out;
	for (i = 0; i < wl->n; i++) {
		snprintf(l, sizeof(l), "%ld", wl->v[i].links);
		snprintf(o, sizeof(o), "%ld", wl->v[i].other);
		admin_iso8601(wl->v[i].updated_at, set);
		cells[0] = wl->v[i].slack_id;
		cells[1] = integ_kind(&wl->v[i]);
		cells[2] = ws_name(wl->v[i].integration);
		cells[3] = l;
		cells[4] = o;
		cells[5] = set;
		if (admin_table_add(t, cells) == -1)
			goto out;
	}
	rc = admin_table_print(t, stdout);
out:
	if (t == NULL || rc == -1)
		admin_err("out of memory or cannot write the output");
	admin_table_free(t);
	return rc;
}

static int
ws_list(int argc, char *argv[])
{
	struct config			 cfg;
	struct integ_opts		 x;
	struct store_workspace_list	 wl = { NULL, 0 };
	struct store			*st = NULL;
	int				 rc, done, loaded = 0;

	rc = integ_args(argc, argv, &wlist_help, IOPT_JSON, 0, &x, NULL,
	    &done);
	if (rc != ADMIN_OK || done)
		return rc;
	if ((rc = admin_config(&cfg)) != ADMIN_OK)
		goto out;
	loaded = 1;
	if ((rc = admin_open(&cfg, &st)) != ADMIN_OK)
		goto out;
	if (store_workspace_list(st, &wl) != STORE_OK) {
		rc = admin_store_fail(st, "reading the mappings");
		goto out;
	}
	if (x.json)
		rc = ws_list_json(&wl) == 0 ? ADMIN_OK : ADMIN_FAIL;
	else if (wl.n == 0) {
		printf("no mappings: every workspace uses the default "
		    "integration\n");
		rc = fflush(stdout) == 0 ? ADMIN_OK : ADMIN_FAIL;
	} else
		rc = ws_list_table(&wl) == 0 ? ADMIN_OK : ADMIN_FAIL;
out:
	store_workspace_list_free(&wl);
	store_close(st);
	if (loaded)
		config_free(&cfg);
	return rc;
}

static int
ws_unset(int argc, char *argv[])
{
	struct config		 cfg;
	struct integ_opts	 x;
	struct store		*st = NULL;
	enum store_result	 sr;
	const char		*ops[1];
	int			 rc, done, ent, loaded = 0;

	rc = integ_args(argc, argv, &unset_help, 0, 1, &x, ops, &done);
	if (rc != ADMIN_OK || done)
		return rc;
	if (!ws_target(argv[0], ops[0], &ent))
		return admin_usage(unset_help.synopsis);
	if ((rc = admin_config(&cfg)) != ADMIN_OK)
		goto out;
	loaded = 1;
	if ((rc = admin_open(&cfg, &st)) != ADMIN_OK)
		goto out;
	sr = store_workspace_unset(st, ent, ops[0]);
	if (sr == STORE_NOTFOUND) {
		admin_err("%s: %s %s has no mapping", argv[0],
		    ent ? "enterprise" : "workspace", ops[0]);
		rc = ADMIN_NOTFOUND;
		goto out;
	} else if (sr != STORE_OK) {
		rc = admin_store_fail(st, "removing the mapping");
		goto out;
	}
	log_event(LOGL_INFO, "admin.workspace", "action=unset %s=%s",
	    ent ? "enterprise" : "team", ops[0]);
	printf("removed the mapping of %s %s: it uses %s\n",
	    ent ? "enterprise" : "workspace", ops[0], ent ? "the default "
	    "integration (or its workspaces' own mappings)" : "its "
	    "enterprise's mapping, or the default integration");
	rc = fflush(stdout) == 0 ? ADMIN_OK : ADMIN_FAIL;
out:
	store_close(st);
	if (loaded)
		config_free(&cfg);
	return rc;
}

int
cmd_workspace(int argc, char *argv[])
{
	static const struct admin_sub	 subs[] = {
		{ "set-integration", "workspace set-integration", ws_set },
		{ "list", "workspace list", ws_list },
		{ "unset", "workspace unset", ws_unset },
	};

	return admin_subcommand(argc, argv, "workspace", subs,
	    sizeof(subs) / sizeof(subs[0]), &workspace_help);
}

/*
 * links: the commands about links — list, show and unlink.
 *
 * A link is keyed (enterprise, team, user); the admin names it by team
 * and user, and --enterprise says which when Enterprise Grid made that
 * pair ambiguous (admin_find_link).  list and show never open a token;
 * show only tells whether the tokens open under the configured key
 * (store_link_get, whose result is freed unread).  unlink --revoke goes
 * through session_logout(), exactly what a user's "/contact logout" does:
 * the refresh token is revoked at Salesforce over verified TLS first, and
 * the link is kept when that fails, so a live grant is never forgotten.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "admin.h"
#include "config.h"
#include "log.h"
#include "session.h"
#include "store.h"

/* Options of list, show and unlink. */
struct links_opts {
	int		 json;
	int		 revoke;
	const char	*team;		/* list --team */
	const char	*enterprise;	/* NULL when absent */
};

enum {
	OPT_JSON = 256,
	OPT_TEAM,
	OPT_ENTERPRISE,
	OPT_REVOKE
};

static const struct admin_cmd_help list_help = {
	ADMIN_PROG " list [--json] [--team TEAM] [--enterprise ENTERPRISE]",
	"Lists the linked Slack users: workspace (team), user, Salesforce\n"
	"username and user id, instance, when linked and when last used\n"
	"(ISO-8601 UTC).  No token is read.\n"
	"\n"
	"  --json                  a JSON array of objects, one per link\n"
	"  --team TEAM             only links in this workspace\n"
	"  --enterprise ENTERPRISE only links in this Enterprise Grid org\n"
	"                          ('' for links outside Enterprise Grid)\n",
	NULL
};

static const struct admin_cmd_help show_help = {
	ADMIN_PROG " show [--json] [--enterprise ENTERPRISE] TEAM USER",
	"Shows every non-secret field of the link of Slack user USER in\n"
	"workspace TEAM, the id of the key its tokens are sealed with, and\n"
	"whether they open under the configured key (nothing of the tokens\n"
	"is printed).  Exit status 3 when there is no such link, 4 when the\n"
	"tokens do not open (wrong key).\n"
	"\n"
	"  --json                  one JSON object\n"
	"  --enterprise ENTERPRISE the Enterprise Grid org, when the same\n"
	"                          TEAM and USER are linked in several\n",
	NULL
};

static const struct admin_cmd_help unlink_help = {
	ADMIN_PROG " unlink [--revoke] [--enterprise ENTERPRISE] TEAM USER",
	"Deletes the link of Slack user USER in workspace TEAM; the user\n"
	"is offered a new login link at their next command.\n"
	"\n"
	"  --revoke                first revoke the refresh token at\n"
	"                          Salesforce (as /contact logout does).  If\n"
	"                          Salesforce cannot be reached or refuses,\n"
	"                          the link is kept and the exit status is 1.\n"
	"                          Needs the key that sealed the link.\n"
	"                          Without --revoke the link is deleted\n"
	"                          whatever key sealed it, and the grant\n"
	"                          stays valid at Salesforce until it expires\n"
	"                          or is revoked there.\n"
	"  --enterprise ENTERPRISE the Enterprise Grid org, when the same\n"
	"                          TEAM and USER are linked in several\n",
	NULL
};

static const struct option links_longopts[] = {
	{ "help",	no_argument,		NULL, 'h' },
	{ "json",	no_argument,		NULL, OPT_JSON },
	{ "team",	required_argument,	NULL, OPT_TEAM },
	{ "enterprise",	required_argument,	NULL, OPT_ENTERPRISE },
	{ "revoke",	no_argument,		NULL, OPT_REVOKE },
	{ NULL,		0,			NULL, 0 }
};

/* The options each command accepts, as bits. */
#define LOPT_JSON	0x1
#define LOPT_TEAM	0x2
#define LOPT_ENT	0x4
#define LOPT_REVOKE	0x8

struct links_parse {
	struct links_opts	*o;
	unsigned int		 allowed;
	const char		*cmd;
	const char		*synopsis;
};

static int
links_opt(int c, const char *arg, void *v)
{
	struct links_parse	*p = v;
	unsigned int		 bit;

	bit = c == OPT_JSON ? LOPT_JSON : c == OPT_TEAM ? LOPT_TEAM :
	    c == OPT_ENTERPRISE ? LOPT_ENT : c == OPT_REVOKE ? LOPT_REVOKE : 0;
	if ((p->allowed & bit) == 0) {
		admin_err("%s: unknown option --%s", p->cmd,
		    links_longopts[c - OPT_JSON + 1].name);
		return admin_usage(p->synopsis);
	}
	switch (c) {
	case OPT_JSON:
		p->o->json = 1;
		break;
	case OPT_REVOKE:
		p->o->revoke = 1;
		break;
	case OPT_TEAM:
		if (!admin_valid_id(arg, 0)) {
			admin_err("%s: --team: not a Slack workspace id "
			    "(1 to %d of A-Z 0-9): %.64s", p->cmd, SLACK_ID_MAX,
			    arg);
			return admin_usage(p->synopsis);
		}
		p->o->team = arg;
		break;
	case OPT_ENTERPRISE:
		if (!admin_valid_id(arg, 1)) {
			admin_err("%s: --enterprise: not an Enterprise Grid "
			    "id (1 to %d of A-Z 0-9, or ''): %.64s", p->cmd,
			    SLACK_ID_MAX, arg);
			return admin_usage(p->synopsis);
		}
		p->o->enterprise = arg;
		break;
	}
	return ADMIN_OK;
}

/*
 * Parses the options of a links command and checks that exactly nargs
 * operands follow.  Returns ADMIN_OK with *first the index of the first
 * operand, or the exit status to stop with (*done set for --help).
 */
static int
links_args(int argc, char *argv[], const struct admin_cmd_help *h,
    unsigned int allowed, int nargs, struct links_opts *o, int *first,
    int *done)
{
	struct links_parse	 p = { o, allowed, argv[0], h->synopsis };
	int			 rc;

	memset(o, 0, sizeof(*o));
	rc = admin_getopt(argc, argv, "", links_longopts, h, links_opt, &p,
	    first, done);
	if (rc != ADMIN_OK || *done)
		return rc;
	if (argc - *first != nargs) {
		admin_err("%s: %s", argv[0], nargs == 0 ?
		    "takes no operands" : "needs TEAM and USER");
		return admin_usage(h->synopsis);
	}
	if (nargs == 2 && (!admin_valid_id(argv[*first], 0) ||
	    !admin_valid_id(argv[*first + 1], 0))) {
		admin_err("%s: TEAM and USER must be Slack ids (1 to %d of "
		    "A-Z 0-9), e.g. T0123ABCD U0123ABCD", argv[0],
		    SLACK_ID_MAX);
		return admin_usage(h->synopsis);
	}
	return ADMIN_OK;
}

/* The JSON object of a link (the fields list and show share). */
static struct json_object *
links_json(const struct store_link_info *l)
{
	struct json_object	*o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	json_object_object_add(o, "enterprise_id",
	    admin_json_str(l->who.enterprise_id));
	json_object_object_add(o, "team_id", admin_json_str(l->who.team_id));
	json_object_object_add(o, "user_id", admin_json_str(l->who.user_id));
	json_object_object_add(o, "sf_username",
	    admin_json_str(l->sf_username));
	json_object_object_add(o, "sf_user_id", admin_json_str(l->sf_user_id));
	json_object_object_add(o, "sf_org_id", admin_json_str(l->sf_org_id));
	json_object_object_add(o, "org", admin_json_str(l->org));
	json_object_object_add(o, "instance_url",
	    admin_json_str(l->instance_url));
	json_object_object_add(o, "key_id", admin_json_str(l->key_id));
	json_object_object_add(o, "created_at", admin_json_time(l->created_at));
	json_object_object_add(o, "updated_at", admin_json_time(l->updated_at));
	json_object_object_add(o, "last_used_at",
	    admin_json_time(l->last_used_at));
	return o;
}

static int
list_json(const struct store_link_list *ll)
{
	struct json_object	*a, *o;
	size_t			 i;

	if ((a = json_object_new_array()) == NULL)
		return admin_json_print(NULL);
	for (i = 0; i < ll->n; i++) {
		if ((o = links_json(&ll->v[i])) == NULL ||
		    json_object_array_add(a, o) != 0) {
			json_object_put(o);
			json_object_put(a);
			return admin_json_print(NULL);
		}
	}
	return admin_json_print(a);
}

static int
list_table(const struct store_link_list *ll)
{
	/* The enterprise column only where Enterprise Grid is in use. */
	static const char *const heads_grid[] = { "TEAM", "USER",
	    "ENTERPRISE", "SF_USERNAME", "SF_USER_ID", "INSTANCE", "CREATED",
	    "LAST_USED" };
	static const char *const heads[] = { "TEAM", "USER", "SF_USERNAME",
	    "SF_USER_ID", "INSTANCE", "CREATED", "LAST_USED" };
	const struct store_link_info *l;
	struct admin_table	*t;
	const char		*cells[8];
	char			 created[24], used[24];
	size_t			 i, n;
	int			 rc = -1, grid = 0;

	for (i = 0; i < ll->n; i++)
		grid |= ll->v[i].who.enterprise_id[0] != '\0';
	if ((t = grid ? admin_table_new(8, heads_grid) :
	    admin_table_new(7, heads)) == NULL)
		goto out;
	for (i = 0; i < ll->n; i++) {
		l = &ll->v[i];
		admin_iso8601(l->created_at, created);
		admin_iso8601(l->last_used_at, used);
		n = 0;
		cells[n++] = l->who.team_id;
		cells[n++] = l->who.user_id;
		if (grid)
			cells[n++] = l->who.enterprise_id[0] != '\0' ?
			    l->who.enterprise_id : "-";
		cells[n++] = l->sf_username;
		cells[n++] = l->sf_user_id;
		cells[n++] = l->instance_url;
		cells[n++] = created;
		cells[n++] = used;
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

int
cmd_list(int argc, char *argv[])
{
	struct config		 cfg;
	struct links_opts	 o;
	struct store_link_list	 ll = { NULL, 0 };
	struct store		*st = NULL;
	int			 rc, first, done, loaded = 0;

	rc = links_args(argc, argv, &list_help, LOPT_JSON | LOPT_TEAM |
	    LOPT_ENT, 0, &o, &first, &done);
	if (rc != ADMIN_OK || done)
		return rc;
	if ((rc = admin_config(&cfg)) != ADMIN_OK)
		goto out;
	loaded = 1;
	if ((rc = admin_open(&cfg, &st)) != ADMIN_OK)
		goto out;
	if (store_list_links(st, o.enterprise, o.team, NULL, &ll) !=
	    STORE_OK) {
		rc = admin_store_fail(st, "reading the links");
		goto out;
	}
	if (o.json)
		rc = list_json(&ll) == 0 ? ADMIN_OK : ADMIN_FAIL;
	else if (ll.n == 0) {
		printf("no links\n");
		rc = fflush(stdout) == 0 ? ADMIN_OK : ADMIN_FAIL;
	} else
		rc = list_table(&ll) == 0 ? ADMIN_OK : ADMIN_FAIL;
out:
	store_link_list_free(&ll);
	store_close(st);
	if (loaded)
		config_free(&cfg);
	return rc;
}

/*
 * Whether the tokens of l open under the configured key: ADMIN_OK when
 * they do (*open = 1), ADMIN_OK with *open = 0 when they do not, or the
 * exit status of a failure (the link vanished meanwhile, SQLite).
 */
static int
show_check(struct store *st, const struct store_link_info *l, int *open)
{
	struct store_link	 full;
	enum store_result	 r;

	*open = 0;
	r = store_link_get(st, &l->who, &full);
	/* Opened only to know that it opens: freed (and wiped) unread. */
	store_link_free(&full);
	switch (r) {
	case STORE_OK:
		*open = 1;
		return ADMIN_OK;
	case STORE_BADKEY:
		return ADMIN_OK;
	case STORE_NOTFOUND:
		admin_err("the link of team %s user %s was deleted meanwhile",
		    l->who.team_id, l->who.user_id);
		return ADMIN_NOTFOUND;
	default:
		return admin_store_fail(st, "reading the link");
	}
}

static int
show_text(const struct store_link_info *l, int known, int open)
{
	char	 c[24], u[24], used[24], v[32];

	admin_iso8601(l->created_at, c);
	admin_iso8601(l->updated_at, u);
	admin_iso8601(l->last_used_at, used);
	snprintf(v, sizeof(v), "%lld", (long long)l->version);
	admin_kv("team", l->who.team_id, NULL);
	admin_kv("user", l->who.user_id, NULL);
	admin_kv("enterprise", l->who.enterprise_id[0] != '\0' ?
	    l->who.enterprise_id : "-", NULL);
	admin_kv("sf_username", l->sf_username, NULL);
	admin_kv("sf_user_id", l->sf_user_id, NULL);
	admin_kv("sf_org_id", l->sf_org_id, NULL);
	admin_kv("org", l->org[0] != '\0' ? l->org : "(default)", NULL);
	admin_kv("instance_url", l->instance_url, NULL);
	admin_kv("created_at", c, NULL);
	admin_kv("updated_at", u, NULL);
	admin_kv("last_used_at", used, NULL);
	admin_kv("version", v, NULL);
	admin_kv("key_id", l->key_id, known ? "(the configured key)" :
	    "(NOT the configured key)");
	admin_kv("tokens", open ? "open under the configured key" :
	    "DO NOT OPEN under the configured key", NULL);
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : -1;
}

static int
show_json(const struct store_link_info *l, int known, int open)
{
	struct json_object	*o;

	if ((o = links_json(l)) == NULL)
		return admin_json_print(NULL);
	json_object_object_add(o, "version", json_object_new_int64(l->version));
	json_object_object_add(o, "key_configured",
	    json_object_new_boolean(known));
	json_object_object_add(o, "tokens_open", json_object_new_boolean(open));
	return admin_json_print(o);
}

int
cmd_show(int argc, char *argv[])
{
	struct config		 cfg;
	struct links_opts	 o;
	struct store_link_list	 ll = { NULL, 0 };
	struct store		*st = NULL;
	const struct store_link_info *l;
	char			 cur[CRYPTO_KEYID_LEN + 1];
	int			 rc, first, done, open, known, loaded = 0;

	rc = links_args(argc, argv, &show_help, LOPT_JSON | LOPT_ENT, 2, &o,
	    &first, &done);
	if (rc != ADMIN_OK || done)
		return rc;
	if ((rc = admin_config(&cfg)) != ADMIN_OK)
		goto out;
	loaded = 1;
	if ((rc = admin_open(&cfg, &st)) != ADMIN_OK ||
	    (rc = admin_find_link(st, o.enterprise, argv[first],
	    argv[first + 1], &ll)) != ADMIN_OK)
		goto out;
	l = &ll.v[0];
	if ((rc = show_check(st, l, &open)) != ADMIN_OK)
		goto out;
	known = admin_key_known(&cfg, l->key_id);
	if ((o.json ? show_json(l, known, open) :
	    show_text(l, known, open)) == -1) {
		rc = ADMIN_FAIL;
		goto out;
	}
	if (!open) {
		admin_current_key_id(&cfg, cur);
		admin_err("the configured key does not open the tokens of "
		    "team %s user %s (sealed under key id %s; the configured "
		    "key's id is %s): wrong key in %s?", l->who.team_id,
		    l->who.user_id, l->key_id, cur, admin_key_setting(&cfg));
		rc = ADMIN_CONFIG;
	}
out:
	store_link_list_free(&ll);
	store_close(st);
	if (loaded)
		config_free(&cfg);
	return rc;
}

/* Prints what unlink did: "WHAT team T user U (Salesforce user
 * NAME)TAIL".  Returns the exit status. */
static int
unlink_said(const char *what, const struct store_link_info *l,
    const char *tail)
{
	char	*name;

	/* The username came from Salesforce: no control bytes. */
	if ((name = admin_clean(l->sf_username)) == NULL) {
		admin_err("out of memory");
		return ADMIN_FAIL;
	}
	printf("%s team %s user %s (Salesforce user %s)%s\n", what,
	    l->who.team_id, l->who.user_id, name, tail);
	free(name);
	return fflush(stdout) == 0 ? ADMIN_OK : ADMIN_FAIL;
}

/* unlink without --revoke: deletes whatever key sealed the link. */
static int
unlink_plain(struct store *st, const struct store_link_info *l)
{
	switch (store_link_remove(st, &l->who)) {
	case STORE_OK:
		log_event(LOGL_INFO, "link.deleted", "reason=admin revoke=no");
		return unlink_said("unlinked", l,
		    "; the grant was not revoked at Salesforce");
	case STORE_NOTFOUND:
		admin_err("the link of team %s user %s was deleted meanwhile",
		    l->who.team_id, l->who.user_id);
		return ADMIN_NOTFOUND;
	default:
		return admin_store_fail(st, "deleting the link");
	}
}

/* unlink --revoke: session_logout(), as /contact logout. */
static int
unlink_revoke(const struct config *cfg, const struct store_link_info *l)
{
	struct session		*s;
	enum session_result	 r;
	int			 rc = ADMIN_FAIL;

	if (admin_lock_file(cfg) != ADMIN_OK)
		return ADMIN_FAIL;
	if ((s = session_new(cfg)) == NULL) {
		admin_err("cannot open the database or the HTTPS client (see "
		    "the line above)");
		return ADMIN_FAIL;
	}
	r = session_logout(s, &l->who);
	switch (r) {
	case SESSION_OK:
		/* session_logout() logged link.deleted. */
		log_event(LOGL_INFO, "admin.unlink", "revoke=yes");
		rc = unlink_said("revoked at Salesforce and unlinked", l, "");
		break;
	case SESSION_UNLINKED:
		admin_err("the link of team %s user %s was deleted meanwhile",
		    l->who.team_id, l->who.user_id);
		rc = ADMIN_NOTFOUND;
		break;
	case SESSION_BADKEY:
		admin_err("the configured key does not open the tokens of team "
		    "%s user %s (sealed under key id %s), so nothing can be "
		    "revoked: nothing was changed.  Fix %s, or unlink "
		    "without --revoke to delete the link anyway",
		    l->who.team_id, l->who.user_id, l->key_id,
		    admin_key_setting(cfg));
		rc = ADMIN_CONFIG;
		break;
	case SESSION_TRANSIENT:
		admin_err("Salesforce (integration %s) could not be reached "
		    "or failed (see the line above): the link of team %s user "
		    "%s is kept; try again", l->org[0] != '\0' ? l->org :
		    "default", l->who.team_id, l->who.user_id);
		break;
	case SESSION_REFUSED:
		admin_err("Salesforce refused to revoke the token: the link "
		    "of team %s user %s is kept", l->who.team_id,
		    l->who.user_id);
		break;
	default:
		rc = admin_store_fail(s->st, "unlink --revoke");
		break;
	}
	session_free(s);
	return rc;
}

int
cmd_unlink(int argc, char *argv[])
{
	struct config		 cfg;
	struct links_opts	 o;
	struct store_link_list	 ll = { NULL, 0 };
	struct store		*st = NULL;
	int			 rc, first, done, loaded = 0;

	rc = links_args(argc, argv, &unlink_help, LOPT_REVOKE | LOPT_ENT, 2,
	    &o, &first, &done);
	if (rc != ADMIN_OK || done)
		return rc;
	if ((rc = admin_config(&cfg)) != ADMIN_OK)
		goto out;
	loaded = 1;
	if ((rc = admin_open(&cfg, &st)) != ADMIN_OK ||
	    (rc = admin_find_link(st, o.enterprise, argv[first],
	    argv[first + 1], &ll)) != ADMIN_OK)
		goto out;
	log_set_user(ll.v[0].who.team_id, ll.v[0].who.user_id);
	rc = o.revoke ? unlink_revoke(&cfg, &ll.v[0]) :
	    unlink_plain(st, &ll.v[0]);
out:
	store_link_list_free(&ll);
	store_close(st);
	if (loaded)
		config_free(&cfg);
	return rc;
}

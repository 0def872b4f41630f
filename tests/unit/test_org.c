/*
 * test_org: org_find(), which Salesforce integration serves a request:
 * the order of the lookups (a link's name, the team's mapping, the
 * enterprise's, the default), what it hands over, and an integration
 * sealed under a key this program does not hold.  Against a real store
 * in a scratch directory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <unistd.h>

#include "config.h"
#include "org.h"
#include "store.h"

#define KEY_B64	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY2_B64 "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="

/* The environment of a configuration whose default integration is
 * login.example.com with client 3MVG9.client. */
static void
org_env(void)
{
	clearenv();
	setenv("SLACK_SIGNING_SECRET", "8f742231b10e8888abcd99yyyzzz85a5", 1);
	setenv("SF_CLIENT_ID", "3MVG9.client", 1);
	setenv("SF_CLIENT_SECRET", "s3cret", 1);
	setenv("FORCELINK_PUBLIC_URL", "https://fl.example.com/", 1);
	setenv("FORCELINK_KEY", KEY_B64, 1);
	setenv("SF_LOGIN_URL", "https://login.example.com", 1);
}

/* A configuration from good_env() and a fresh store sharing its keyring;
 * the database lives in dir (mkdtemp'd). */
static struct store *
integ_open(struct config *cfg, char *dir)
{
	char		 err[256], path[256];
	struct store	*st;

	ck_assert_int_eq(crypto_init(), 0);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	org_env();
	ck_assert_int_eq(config_load(cfg, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/t.db", dir);
	st = store_open_keyring(path, cfg->keyring);
	ck_assert_ptr_nonnull(st);
	return st;
}

static void
integ_close(struct config *cfg, struct store *st, const char *dir)
{
	char	 cmd[300];

	store_close(st);
	config_free(cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
integ_add(struct store *st, const char *name, const char *url,
    const char *id, const char *secret, int iuser)
{
	struct sf_org	 o;

	memset(&o, 0, sizeof(o));
	o.name = (char *)name;
	o.login_url = (char *)url;
	o.client_id = (char *)id;
	o.client_secret = (char *)secret;
	o.api_version = (char *)"v61.0";
	o.integration_user = iuser;
	ck_assert_int_eq(store_integration_add(st, &o), STORE_OK);
}

/* Which integration org_find() gives (its client id), or "?" with
 * the outcome when it gives none. */
static const char *
integ_pick(struct config *cfg, struct store *st, const char *ent,
    const char *team, const char *org, char *buf, size_t n)
{
	struct sf_org	 o;
	enum org_result	 r;

	r = org_find(cfg, st, ent, team, org, &o);
	if (r != ORG_OK) {
		snprintf(buf, n, "?%d", (int)r);
		ck_assert_ptr_null(o.name);
		return buf;
	}
	snprintf(buf, n, "%s", o.client_id);
	config_sf_org_free(&o);
	return buf;
}

/* Lookup order: the team's mapping, else the enterprise's, else the
 * environment's default; a link's recorded name wins over all. */
START_TEST(integ_lookup_order)
{
	struct config	 cfg;
	struct store	*st;
	char		 dir[] = "/tmp/fl-org-XXXXXX", b[64];

	st = integ_open(&cfg, dir);
	integ_add(st, "prod", "https://acme.my.salesforce.com/", "id-prod",
	    "secret-prod", 0);
	integ_add(st, "uat", "https://acme--uat.sandbox.my.salesforce.com",
	    "id-uat", "secret-uat", 0);
	/* Nothing mapped: the default, for anyone. */
	ck_assert_str_eq(integ_pick(&cfg, st, "", "T1", NULL, b, sizeof(b)),
	    "3MVG9.client");
	ck_assert_int_eq(store_workspace_set(st, 1, "E1", "prod", NULL),
	    STORE_OK);
	ck_assert_int_eq(store_workspace_set(st, 0, "T2", "uat", NULL),
	    STORE_OK);
	/* Enterprise mapping for its teams; the team's own wins. */
	ck_assert_str_eq(integ_pick(&cfg, st, "E1", "T1", NULL, b, sizeof(b)),
	    "id-prod");
	ck_assert_str_eq(integ_pick(&cfg, st, "E1", "T2", NULL, b, sizeof(b)),
	    "id-uat");
	ck_assert_str_eq(integ_pick(&cfg, st, "", "T2", NULL, b, sizeof(b)),
	    "id-uat");
	/* Another enterprise, or none: the default. */
	ck_assert_str_eq(integ_pick(&cfg, st, "E9", "T1", NULL, b, sizeof(b)),
	    "3MVG9.client");
	ck_assert_str_eq(integ_pick(&cfg, st, "", "T1", NULL, b, sizeof(b)),
	    "3MVG9.client");
	/* A team mapped to the default explicitly overrides its enterprise. */
	ck_assert_int_eq(store_workspace_set(st, 0, "T3", "", NULL), STORE_OK);
	ck_assert_str_eq(integ_pick(&cfg, st, "E1", "T3", NULL, b, sizeof(b)),
	    "3MVG9.client");
	/* A name (a link's) is taken as it is, whatever the mapping. */
	ck_assert_str_eq(integ_pick(&cfg, st, "E1", "T2", "", b, sizeof(b)),
	    "3MVG9.client");
	ck_assert_str_eq(integ_pick(&cfg, st, "", "T1", "prod", b, sizeof(b)),
	    "id-prod");
	ck_assert_str_eq(integ_pick(&cfg, st, "", "T1", "gone", b, sizeof(b)),
	    "?1");
	/* Without a store only the default exists. */
	ck_assert_str_eq(integ_pick(&cfg, NULL, "E1", "T2", NULL, b,
	    sizeof(b)), "3MVG9.client");
	ck_assert_str_eq(integ_pick(&cfg, NULL, "", "T1", "prod", b,
	    sizeof(b)), "?1");
	integ_close(&cfg, st, dir);
}
END_TEST

/* What org_find() hands over: every field, the login host derived,
 * the secret opened; the default is a copy, not the configuration's. */
START_TEST(integ_fields)
{
	struct config	 cfg;
	struct store	*st;
	struct sf_org	 o;
	char		 dir[] = "/tmp/fl-org-XXXXXX";

	st = integ_open(&cfg, dir);
	integ_add(st, "cc", "https://acme.my.salesforce.com/", "id-cc",
	    "secret-cc", 1);
	ck_assert_int_eq(store_workspace_set(st, 0, "T1", "cc", NULL),
	    STORE_OK);
	ck_assert_int_eq(org_find(&cfg, st, "", "T1", NULL, &o),
	    ORG_OK);
	ck_assert_str_eq(o.name, "cc");
	ck_assert_str_eq(o.login_url, "https://acme.my.salesforce.com");
	ck_assert_str_eq(o.login_host, "acme.my.salesforce.com");
	ck_assert_str_eq(o.client_id, "id-cc");
	ck_assert_str_eq(o.client_secret, "secret-cc");
	ck_assert_str_eq(o.api_version, "v61.0");
	ck_assert_int_eq(o.integration_user, 1);
	config_sf_org_free(&o);
	ck_assert_ptr_null(o.client_secret);

	ck_assert_int_eq(org_find(&cfg, st, "", "T2", NULL, &o),
	    ORG_OK);
	ck_assert_str_eq(o.name, "");
	ck_assert_str_eq(o.login_host, "login.example.com");
	ck_assert_str_eq(o.client_secret, "s3cret");
	ck_assert_int_eq(o.integration_user, 0);
	ck_assert_ptr_ne(o.client_secret, cfg.sf.client_secret);
	config_sf_org_free(&o);
	integ_close(&cfg, st, dir);
}
END_TEST

/* An integration whose secret another key sealed: BADKEY, not a crash
 * and not the default. */
START_TEST(integ_wrong_key)
{
	struct config		 cfg;
	struct store		*st, *other;
	struct crypto_key	 k;
	struct sf_org		 o;
	char			 dir[] = "/tmp/fl-org-XXXXXX", path[300];

	st = integ_open(&cfg, dir);
	ck_assert_int_eq(crypto_key_from_base64(&k, KEY2_B64), 0);
	snprintf(path, sizeof(path), "%s/t.db", dir);
	other = store_open(path, &k);
	ck_assert_ptr_nonnull(other);
	integ_add(other, "prod", "https://acme.my.salesforce.com", "id",
	    "secret", 0);
	store_close(other);
	ck_assert_int_eq(store_workspace_set(st, 0, "T1", "prod", NULL),
	    STORE_OK);
	ck_assert_int_eq(org_find(&cfg, st, "", "T1", NULL, &o),
	    ORG_BADKEY);
	ck_assert_ptr_null(o.client_secret);
	integ_close(&cfg, st, dir);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("org");
	TCase	*tc = tcase_create("lookup");

	tcase_add_test(tc, integ_lookup_order);
	tcase_add_test(tc, integ_fields);
	tcase_add_test(tc, integ_wrong_key);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

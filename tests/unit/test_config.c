/*
 * Unit tests of common/config.c: every required setting, the NAME_FILE
 * forms, and that a bad value names its variable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <unistd.h>

#include "config.h"

#define KEY_B64	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY2_B64 "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="

static const char *const all_vars[] = {
	"SLACK_SIGNING_SECRET", "SLACK_VERIFICATION_TOKEN", "SF_CLIENT_ID",
	"SF_CLIENT_SECRET", "SF_LOGIN_URL", "SF_API_VERSION",
	"FORCELINK_PUBLIC_URL", "FORCELINK_KEY", "FORCELINK_DB",
	"FORCELINK_CA_FILE", "SLACK_RESPONSE_URL_PREFIX",
	"SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_AUTHORIZE_URL",
	"SLACK_API_URL", "FORCELINK_REQUIRE_INSTALL",
};

static void
clear_env(void)
{
	char	 name[128];
	size_t	 i;

	for (i = 0; i < sizeof(all_vars) / sizeof(all_vars[0]); i++) {
		unsetenv(all_vars[i]);
		snprintf(name, sizeof(name), "%s_FILE", all_vars[i]);
		unsetenv(name);
	}
}

/* The current key of cfg's keyring, as a worker thread sees it.  The
 * snapshot is released at once: the keyring holds it too. */
static const struct crypto_key *
current_key(const struct config *cfg)
{
	struct keyring_snap	*snap = NULL;
	const struct crypto_key	*k;

	keyring_update(cfg->keyring, &snap);
	k = keyring_current(snap);
	keyring_release(snap);
	return k;
}

static void
good_env(void)
{
	clear_env();
	setenv("SLACK_SIGNING_SECRET", "8f742231b10e8888abcd99yyyzzz85a5", 1);
	setenv("SF_CLIENT_ID", "3MVG9.client", 1);
	setenv("SF_CLIENT_SECRET", "s3cret", 1);
	setenv("FORCELINK_PUBLIC_URL", "https://fl.example.com/", 1);
	setenv("FORCELINK_KEY", KEY_B64, 1);
}

START_TEST(good_defaults)
{
	struct config	 cfg;
	char		 err[256];

	good_env();
	ck_assert_int_eq(config_load(&cfg, err, sizeof(err)), 0);
	ck_assert_str_eq(cfg.public_url, "https://fl.example.com");
	ck_assert_int_eq(cfg.public_https, 1);
	ck_assert_str_eq(cfg.redirect_uri,
	    "https://fl.example.com/oauth/callback");
	ck_assert_str_eq(cfg.sf.login_url, "https://login.salesforce.com");
	ck_assert_str_eq(cfg.sf.login_host, "login.salesforce.com");
	ck_assert_str_eq(cfg.sf.api_version, CONFIG_DEFAULT_API_VERSION);
	ck_assert_str_eq(cfg.db_path, "var/forcelink.db");
	ck_assert_str_eq(cfg.response_url_prefix, "https://hooks.slack.com/");
	ck_assert_ptr_null(cfg.ca_file);
	ck_assert_ptr_null(cfg.slack_verification_token);
	ck_assert_uint_eq(current_key(&cfg)->key[31], 31);
	ck_assert_ptr_null(keyring_path(cfg.keyring));
	ck_assert_ptr_eq(config_sf_org(&cfg, "", "T1", NULL), &cfg.sf);
	ck_assert_ptr_eq(config_sf_org(&cfg, "", "T1", ""), &cfg.sf);
	ck_assert_ptr_null(config_sf_org(&cfg, "", "T1", "uat"));
	/* No Slack app credentials: installation is not configured. */
	ck_assert_ptr_null(cfg.slack_client_id);
	ck_assert_ptr_null(cfg.slack_client_secret);
	ck_assert_str_eq(cfg.slack_authorize_url,
	    "https://slack.com/oauth/v2/authorize");
	ck_assert_str_eq(cfg.slack_api_url, "https://slack.com/api");
	ck_assert_str_eq(cfg.slack_redirect_uri,
	    "https://fl.example.com/slack/oauth_redirect");
	ck_assert_int_eq(cfg.require_install, 0);
	config_free(&cfg);
}
END_TEST

/* Slack app installation configured, the secret from a file, the URLs
 * pointed elsewhere (as the tests point them at the Slack stand-in). */
START_TEST(slack_install_configured)
{
	struct config	 cfg;
	char		 err[256], path[] = "/tmp/fl-config-XXXXXX";
	FILE		*fp;
	int		 fd;

	good_env();
	fd = mkstemp(path);
	ck_assert_int_ne(fd, -1);
	fp = fdopen(fd, "w");
	fputs("slack-secret\n", fp);
	fclose(fp);
	setenv("SLACK_CLIENT_ID", "1234567890.0987654321", 1);
	setenv("SLACK_CLIENT_SECRET_FILE", path, 1);
	setenv("SLACK_AUTHORIZE_URL",
	    "https://localhost:8444/oauth/v2/authorize/", 1);
	setenv("SLACK_API_URL", "https://localhost:8444/api/", 1);
	setenv("FORCELINK_REQUIRE_INSTALL", "1", 1);
	ck_assert_int_eq(config_load(&cfg, err, sizeof(err)), 0);
	ck_assert_str_eq(cfg.slack_client_id, "1234567890.0987654321");
	ck_assert_str_eq(cfg.slack_client_secret, "slack-secret");
	ck_assert_str_eq(cfg.slack_authorize_url,
	    "https://localhost:8444/oauth/v2/authorize");
	ck_assert_str_eq(cfg.slack_api_url, "https://localhost:8444/api");
	ck_assert_int_eq(cfg.require_install, 1);
	config_free(&cfg);
	setenv("FORCELINK_REQUIRE_INSTALL", "0", 1);
	ck_assert_int_eq(config_load(&cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.require_install, 0);
	config_free(&cfg);
	unlink(path);
}
END_TEST

/* Each case breaks one Slack installation setting; the error must name
 * the variable at fault. */
static const struct {
	const char	*id;		/* SLACK_CLIENT_ID; NULL: unset */
	const char	*secret;	/* SLACK_CLIENT_SECRET; NULL: unset */
	const char	*var;		/* one more to set, or NULL */
	const char	*value;
	const char	*named;
} slack_bad[] = {
	/* One without the other is the clear start-up error. */
	{ "1.2", NULL, NULL, NULL, "SLACK_CLIENT_SECRET" },
	{ NULL, "s", NULL, NULL, "SLACK_CLIENT_ID" },
	{ "has space", "s", NULL, NULL, "SLACK_CLIENT_ID" },
	{ "1.2", "s", "SLACK_AUTHORIZE_URL",
	    "http://slack.com/oauth/v2/authorize", "SLACK_AUTHORIZE_URL" },
	{ "1.2", "s", "SLACK_AUTHORIZE_URL", "https://slack.com/a?b=c",
	    "SLACK_AUTHORIZE_URL" },
	{ "1.2", "s", "SLACK_API_URL", "https://user@slack.com/api",
	    "SLACK_API_URL" },
	{ "1.2", "s", "SLACK_API_URL", "ftp://slack.com/api",
	    "SLACK_API_URL" },
	{ "1.2", "s", "FORCELINK_REQUIRE_INSTALL", "yes",
	    "FORCELINK_REQUIRE_INSTALL" },
	{ "1.2", "s", "FORCELINK_REQUIRE_INSTALL", "2",
	    "FORCELINK_REQUIRE_INSTALL" },
	/* Required, but nothing could ever be installed. */
	{ NULL, NULL, "FORCELINK_REQUIRE_INSTALL", "1",
	    "FORCELINK_REQUIRE_INSTALL" },
};

START_TEST(slack_install_bad)
{
	struct config	 cfg;
	char		 err[256] = "";

	good_env();
	if (slack_bad[_i].id != NULL)
		setenv("SLACK_CLIENT_ID", slack_bad[_i].id, 1);
	if (slack_bad[_i].secret != NULL)
		setenv("SLACK_CLIENT_SECRET", slack_bad[_i].secret, 1);
	if (slack_bad[_i].var != NULL)
		setenv(slack_bad[_i].var, slack_bad[_i].value, 1);
	ck_assert_int_eq(config_load(&cfg, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, slack_bad[_i].named) != NULL,
	    "case %d: error \"%s\" does not name %s", _i, err,
	    slack_bad[_i].named);
	ck_assert_ptr_null(cfg.public_url);
	ck_assert_ptr_null(cfg.slack_client_secret);
}
END_TEST

/* Each case breaks one setting; the error must name the variable. */
static const struct {
	const char	*var;
	const char	*value;	/* NULL: unset */
	const char	*named;
} bad_cases[] = {
	{ "SLACK_SIGNING_SECRET", NULL, "SLACK_SIGNING_SECRET" },
	{ "SF_CLIENT_ID", NULL, "SF_CLIENT_ID" },
	{ "SF_CLIENT_ID", "has space", "SF_CLIENT_ID" },
	{ "SF_CLIENT_SECRET", NULL, "SF_CLIENT_SECRET" },
	{ "FORCELINK_PUBLIC_URL", NULL, "FORCELINK_PUBLIC_URL" },
	{ "FORCELINK_PUBLIC_URL", "ftp://x", "FORCELINK_PUBLIC_URL" },
	{ "FORCELINK_PUBLIC_URL", "https://x/?a=b", "FORCELINK_PUBLIC_URL" },
	{ "FORCELINK_KEY", NULL, "FORCELINK_KEY" },
	{ "FORCELINK_KEY", "c2hvcnQ=", "FORCELINK_KEY" },
	{ "FORCELINK_KEY", "not base64 at all!", "FORCELINK_KEY" },
	{ "FORCELINK_KEY", KEY_B64 "\n" KEY_B64, "FORCELINK_KEY" },
	{ "FORCELINK_KEY", KEY_B64 "\nc2hvcnQ=", "FORCELINK_KEY" },
	{ "SF_LOGIN_URL", "http://login.salesforce.com", "SF_LOGIN_URL" },
	{ "SF_LOGIN_URL", "https://login.salesforce.com/path", "SF_LOGIN_URL" },
	{ "SF_LOGIN_URL", "https://user@evil.com", "SF_LOGIN_URL" },
	{ "SF_API_VERSION", "62.0", "SF_API_VERSION" },
	{ "SF_API_VERSION", "v62", "SF_API_VERSION" },
	{ "SLACK_RESPONSE_URL_PREFIX", "https://hooks.slack.com",
	    "SLACK_RESPONSE_URL_PREFIX" },
	{ "SLACK_RESPONSE_URL_PREFIX", "http://hooks.slack.com/",
	    "SLACK_RESPONSE_URL_PREFIX" },
	{ "FORCELINK_CA_FILE", "/nonexistent/ca.pem", "FORCELINK_CA_FILE" },
};

START_TEST(bad_setting_named)
{
	struct config	 cfg;
	char		 err[256] = "";

	good_env();
	if (bad_cases[_i].value == NULL)
		unsetenv(bad_cases[_i].var);
	else
		setenv(bad_cases[_i].var, bad_cases[_i].value, 1);
	ck_assert_int_eq(config_load(&cfg, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, bad_cases[_i].named) != NULL,
	    "case %d: error \"%s\" does not name %s", _i, err,
	    bad_cases[_i].named);
	ck_assert_ptr_null(cfg.public_url);
}
END_TEST

START_TEST(secret_from_file)
{
	struct config	 cfg;
	char		 err[256], path[] = "/tmp/fl-config-XXXXXX";
	FILE		*fp;
	int		 fd;

	good_env();
	fd = mkstemp(path);
	ck_assert_int_ne(fd, -1);
	fp = fdopen(fd, "w");
	fputs("from-a-file\n", fp);
	fclose(fp);
	unsetenv("SF_CLIENT_SECRET");
	setenv("SF_CLIENT_SECRET_FILE", path, 1);
	ck_assert_int_eq(config_load(&cfg, err, sizeof(err)), 0);
	ck_assert_str_eq(cfg.sf.client_secret, "from-a-file");
	config_free(&cfg);

	/* Both forms at once is ambiguous. */
	setenv("SF_CLIENT_SECRET", "other", 1);
	ck_assert_int_eq(config_load(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "SF_CLIENT_SECRET_FILE"));

	/* An unreadable file names the _FILE variable. */
	unsetenv("SF_CLIENT_SECRET");
	unlink(path);
	ck_assert_int_eq(config_load(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "SF_CLIENT_SECRET_FILE"));
}
END_TEST

/* FORCELINK_KEY may hold a keyring: the first key is the current one. */
START_TEST(keyring_in_env)
{
	struct config		 cfg;
	struct keyring_snap	*snap = NULL;
	char			 err[256];

	good_env();
	setenv("FORCELINK_KEY", " " KEY2_B64 "\n\n  " KEY_B64 "  \n", 1);
	ck_assert_int_eq(config_load(&cfg, err, sizeof(err)), 0);
	keyring_update(cfg.keyring, &snap);
	ck_assert_uint_eq(keyring_count(snap), 2);
	ck_assert_uint_eq(keyring_key(snap, 0)->key[0], 32);
	ck_assert_uint_eq(keyring_key(snap, 1)->key[31], 31);
	keyring_release(snap);
	config_free(&cfg);
}
END_TEST

/* FORCELINK_KEY_FILE is followed: the keyring knows its path. */
START_TEST(keyring_from_key_file)
{
	struct config	 cfg;
	char		 err[256], path[] = "/tmp/fl-config-XXXXXX";
	FILE		*fp;
	int		 fd;

	good_env();
	fd = mkstemp(path);
	ck_assert_int_ne(fd, -1);
	fp = fdopen(fd, "w");
	fputs(KEY_B64 "\n" KEY2_B64 "\n", fp);
	fclose(fp);
	unsetenv("FORCELINK_KEY");
	setenv("FORCELINK_KEY_FILE", path, 1);
	ck_assert_int_eq(config_load(&cfg, err, sizeof(err)), 0);
	ck_assert_str_eq(keyring_path(cfg.keyring), path);
	ck_assert_uint_eq(current_key(&cfg)->key[31], 31);
	config_free(&cfg);

	/* Both forms at once is ambiguous. */
	setenv("FORCELINK_KEY", KEY_B64, 1);
	ck_assert_int_eq(config_load(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "FORCELINK_KEY_FILE"));
	unsetenv("FORCELINK_KEY");

	/* A malformed file names the variable, never the key text. */
	fp = fopen(path, "w");
	fputs(KEY_B64 "\nAAAA" KEY2_B64 "\n", fp);
	fclose(fp);
	ck_assert_int_eq(config_load(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "FORCELINK_KEY_FILE"));
	ck_assert_ptr_nonnull(strstr(err, "line 2"));
	ck_assert_ptr_null(strstr(err, "AAAA"));
	ck_assert_ptr_null(strstr(err, KEY_B64));
	unlink(path);
}
END_TEST

START_TEST(legacy_token_only)
{
	struct config	 cfg;
	char		 err[256];

	good_env();
	unsetenv("SLACK_SIGNING_SECRET");
	setenv("SLACK_VERIFICATION_TOKEN", "legacy", 1);
	setenv("FORCELINK_PUBLIC_URL", "http://127.0.0.1:8080", 1);
	setenv("SF_LOGIN_URL", "https://localhost:8443/", 1);
	ck_assert_int_eq(config_load(&cfg, err, sizeof(err)), 0);
	ck_assert_ptr_null(cfg.slack_signing_secret);
	ck_assert_str_eq(cfg.slack_verification_token, "legacy");
	ck_assert_int_eq(cfg.public_https, 0);
	ck_assert_str_eq(cfg.sf.login_url, "https://localhost:8443");
	ck_assert_str_eq(cfg.sf.login_host, "localhost");
	config_free(&cfg);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc = tcase_create("config");

	tcase_add_test(tc, good_defaults);
	tcase_add_loop_test(tc, bad_setting_named, 0,
	    sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, secret_from_file);
	tcase_add_test(tc, keyring_in_env);
	tcase_add_test(tc, keyring_from_key_file);
	tcase_add_test(tc, legacy_token_only);
	tcase_add_test(tc, slack_install_configured);
	tcase_add_loop_test(tc, slack_install_bad, 0,
	    sizeof(slack_bad) / sizeof(slack_bad[0]));
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

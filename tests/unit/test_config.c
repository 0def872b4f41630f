/*
 * Unit tests of common/config.c: every required setting, the NAME_FILE
 * forms, and that a bad value names its variable, and the validators of
 * an integration's settings that forcelink-admin and org.c share (the
 * lookup of an integration is test_org's).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "testutil.h"

#define KEY_B64	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY2_B64 "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="

static const char *const all_vars[] = {
	"SLACK_SIGNING_SECRET", "SLACK_VERIFICATION_TOKEN", "SF_CLIENT_ID",
	"SF_CLIENT_SECRET", "SF_LOGIN_URL", "SF_API_VERSION",
	"FORCELINK_PUBLIC_URL", "FORCELINK_KEY", "FORCELINK_DB",
	"FORCELINK_CA_FILE", "SLACK_RESPONSE_URL_PREFIX",
	"SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_AUTHORIZE_URL",
	"SLACK_API_URL", "FORCELINK_REQUIRE_INSTALL", "FORCELINK_LINK_PROOF",
	"SLACK_BOT_TOKEN",
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

/* FORCELINK_LINK_PROOF values: a comma list of the three words, each at
 * most once; anything else is 0. */
static const struct {
	const char	*in;
	int		 want;
} proof_cases[] = {
	{ "slack", CONFIG_PROOF_SLACK },
	{ "code", CONFIG_PROOF_CODE },
	{ "email", CONFIG_PROOF_EMAIL },
	{ "slack,email", CONFIG_PROOF_SLACK | CONFIG_PROOF_EMAIL },
	{ "email,code", CONFIG_PROOF_CODE | CONFIG_PROOF_EMAIL },
	{ "code,email,slack", CONFIG_PROOF_SLACK | CONFIG_PROOF_CODE |
	    CONFIG_PROOF_EMAIL },
	{ "", 0 },
	{ ",", 0 },
	{ "slack,", 0 },
	{ ",slack", 0 },
	{ "slack,,code", 0 },
	{ "slack,slack", 0 },
	{ "code,email,code", 0 },
	{ "SLACK", 0 },
	{ "slack, code", 0 },
	{ " slack", 0 },
	{ "slack;code", 0 },
	{ "emails", 0 },
	{ "sla", 0 },
	{ "none", 0 },
};

START_TEST(link_proof_parse_table)
{
	ck_assert_msg(config_link_proof_parse(proof_cases[_i].in) ==
	    proof_cases[_i].want, "\"%s\": %d", proof_cases[_i].in,
	    config_link_proof_parse(proof_cases[_i].in));
}
END_TEST

/* The default follows SLACK_CLIENT_ID; a proof without what it needs
 * stops the start with a line naming FORCELINK_LINK_PROOF. */
START_TEST(link_proof_load)
{
	struct config	 cfg;
	char		 err[256] = "";

	good_env();
	ck_assert_int_eq(config_load(&cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.link_proof, CONFIG_PROOF_CODE);
	config_free(&cfg);
	setenv("FORCELINK_LINK_PROOF", "slack", 1);
	ck_assert_int_eq(config_load(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "FORCELINK_LINK_PROOF"));
	setenv("FORCELINK_LINK_PROOF", "email", 1);
	ck_assert_int_eq(config_load(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "FORCELINK_LINK_PROOF"));
	setenv("SLACK_BOT_TOKEN", "xoxb-1-abc", 1);
	ck_assert_int_eq(config_load(&cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.link_proof, CONFIG_PROOF_EMAIL);
	config_free(&cfg);
	setenv("FORCELINK_LINK_PROOF", "code,code", 1);
	ck_assert_int_eq(config_load(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "FORCELINK_LINK_PROOF"));
	unsetenv("FORCELINK_LINK_PROOF");
	setenv("SLACK_CLIENT_ID", "1234567890.0987654321", 1);
	setenv("SLACK_CLIENT_SECRET", "slack-secret", 1);
	ck_assert_int_eq(config_load(&cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.link_proof, CONFIG_PROOF_SLACK);
	config_free(&cfg);
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

/*
 * A secret file may end in exactly one newline (LF or CRLF), which is not
 * part of the secret; any other whitespace or control byte in a secret,
 * from a file or the environment, stops the program with one line naming
 * the variable.  ok is the secret read, NULL for a refusal.
 */
static const struct {
	const char	*name;
	const char	*var;
	int		 file;
	const char	*content;
	const char	*ok;
} secret_cases[] = {
	{ "no newline", "SF_CLIENT_SECRET", 1, "s3cret", "s3cret" },
	{ "one LF", "SF_CLIENT_SECRET", 1, "s3cret\n", "s3cret" },
	{ "one CRLF", "SF_CLIENT_SECRET", 1, "s3cret\r\n", "s3cret" },
	{ "signing secret, one LF", "SLACK_SIGNING_SECRET", 1,
	    "8f742231b10e8888abcd99yyyzzz85a5\n",
	    "8f742231b10e8888abcd99yyyzzz85a5" },
	{ "two LFs", "SF_CLIENT_SECRET", 1, "s3cret\n\n", NULL },
	{ "LF then CRLF", "SF_CLIENT_SECRET", 1, "s3cret\n\r\n", NULL },
	{ "bare CR", "SF_CLIENT_SECRET", 1, "s3cret\r", NULL },
	{ "trailing space", "SF_CLIENT_SECRET", 1, "s3cret \n", NULL },
	{ "trailing space, no newline", "SF_CLIENT_SECRET", 1, "s3cret ",
	    NULL },
	{ "leading space", "SF_CLIENT_SECRET", 1, " s3cret\n", NULL },
	{ "leading newline", "SF_CLIENT_SECRET", 1, "\ns3cret", NULL },
	{ "inner tab", "SF_CLIENT_SECRET", 1, "s3\tcret\n", NULL },
	{ "inner newline", "SF_CLIENT_SECRET", 1, "s3\ncret\n", NULL },
	{ "trailing tab", "SLACK_SIGNING_SECRET", 1, "abc\t\n", NULL },
	{ "control byte", "SLACK_SIGNING_SECRET", 1, "ab\x01c", NULL },
	{ "DEL", "SLACK_SIGNING_SECRET", 1, "abc\x7f", NULL },
	{ "environment, trailing space", "SF_CLIENT_SECRET", 0, "s3cret ",
	    NULL },
	{ "environment, trailing newline", "SF_CLIENT_SECRET", 0,
	    "s3cret\n", NULL },
	{ "environment, inner tab", "SLACK_SIGNING_SECRET", 0, "a\tb", NULL },
	{ "verification token, space", "SLACK_VERIFICATION_TOKEN", 0,
	    "tok en", NULL },
	{ "Slack client secret, tab", "SLACK_CLIENT_SECRET", 1, "x\ty\n",
	    NULL },
	{ "bot token file, inner tab", "SLACK_BOT_TOKEN", 1, "xoxb-1\t2\n",
	    NULL },
	{ "bot token file, trailing space", "SLACK_BOT_TOKEN", 1,
	    "xoxb-12 \n", NULL },
};

START_TEST(secret_whitespace_table)
{
	struct config	 cfg;
	char		 err[256] = "", path[] = "/tmp/fl-config-XXXXXX";
	char		 fname[128];
	const char	*var = secret_cases[_i].var, *got;
	FILE		*fp;
	int		 fd, rc;

	good_env();
	if (strcmp(var, "SLACK_CLIENT_SECRET") == 0)
		setenv("SLACK_CLIENT_ID", "12345.67890", 1);
	unsetenv(var);
	snprintf(fname, sizeof(fname), "%s_FILE", var);
	if (secret_cases[_i].file) {
		fd = mkstemp(path);
		ck_assert_int_ne(fd, -1);
		fp = fdopen(fd, "w");
		fputs(secret_cases[_i].content, fp);
		fclose(fp);
		setenv(fname, path, 1);
	} else
		setenv(var, secret_cases[_i].content, 1);
	rc = config_load(&cfg, err, sizeof(err));
	if (secret_cases[_i].file)
		unlink(path);
	if (secret_cases[_i].ok == NULL) {
		ck_assert_msg(rc == -1, "%s: accepted", secret_cases[_i].name);
		ck_assert_msg(strstr(err, secret_cases[_i].file ? fname :
		    var) != NULL, "%s: \"%s\" does not name %s",
		    secret_cases[_i].name, err, var);
		ck_assert_msg(strchr(err, '\n') == NULL, "%s: two lines",
		    secret_cases[_i].name);
		/* The line never carries the secret itself. */
		ck_assert_ptr_null(strstr(err, "s3cret"));
		return;
	}
	ck_assert_msg(rc == 0, "%s: refused: %s", secret_cases[_i].name, err);
	got = strcmp(var, "SF_CLIENT_SECRET") == 0 ? cfg.sf.client_secret :
	    cfg.slack_signing_secret;
	ck_assert_str_eq(got, secret_cases[_i].ok);
	config_free(&cfg);
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
	/* ... and says how a key is made. */
	ck_assert_ptr_nonnull(strstr(err, "head -c32 /dev/urandom | base64"));

	/* A file that cannot be read gets the reason alone: the advice on
	 * the format would send the admin the wrong way. */
	unlink(path);
	ck_assert_int_eq(config_load(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "FORCELINK_KEY_FILE: cannot read"));
	ck_assert_ptr_nonnull(strstr(err, "No such file or directory"));
	ck_assert_ptr_null(strstr(err, "base64"));
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

/* --- Integrations' settings ----------------------------------------- */

START_TEST(integ_validators)
{
	char	 host[64], longname[80];

	ck_assert_int_eq(config_org_name_ok("prod"), 1);
	ck_assert_int_eq(config_org_name_ok("Prod-EU_2.uat"), 1);
	ck_assert_int_eq(config_org_name_ok("9lives"), 1);
	ck_assert_int_eq(config_org_name_ok(""), 0);
	ck_assert_int_eq(config_org_name_ok("-x"), 0);
	ck_assert_int_eq(config_org_name_ok(".x"), 0);
	ck_assert_int_eq(config_org_name_ok("a b"), 0);
	ck_assert_int_eq(config_org_name_ok("a/b"), 0);
	ck_assert_int_eq(config_org_name_ok("caf\xc3\xa9"), 0);
	ck_assert_int_eq(config_org_name_ok("default"), 0);
	ck_assert_int_eq(config_org_name_ok("DEFAULT"), 0);
	memset(longname, 'a', sizeof(longname));
	longname[CONFIG_ORG_NAME_MAX] = '\0';
	ck_assert_int_eq(config_org_name_ok(longname), 1);
	longname[CONFIG_ORG_NAME_MAX] = 'a';
	longname[CONFIG_ORG_NAME_MAX + 1] = '\0';
	ck_assert_int_eq(config_org_name_ok(longname), 0);

	ck_assert_int_eq(config_login_url_ok("https://acme.my.salesforce.com",
	    host, sizeof(host)), 1);
	ck_assert_str_eq(host, "acme.my.salesforce.com");
	ck_assert_int_eq(config_login_url_ok("https://localhost:8443/", host,
	    sizeof(host)), 1);
	ck_assert_str_eq(host, "localhost");
	ck_assert_int_eq(config_login_url_ok("http://acme.my.salesforce.com",
	    host, sizeof(host)), 0);
	ck_assert_int_eq(config_login_url_ok("https://a.com/path", host,
	    sizeof(host)), 0);
	ck_assert_int_eq(config_login_url_ok("https://a.com?x", host,
	    sizeof(host)), 0);
	ck_assert_int_eq(config_login_url_ok("https://u@a.com", host,
	    sizeof(host)), 0);
	ck_assert_int_eq(config_login_url_ok("https://", host,
	    sizeof(host)), 0);
	ck_assert_int_eq(config_login_url_ok("https://a.com", host, 3), 0);

	ck_assert_int_eq(config_client_id_ok("3MVG9.abc_DEF"), 1);
	ck_assert_int_eq(config_client_id_ok(""), 0);
	ck_assert_int_eq(config_client_id_ok("a b"), 0);
	ck_assert_int_eq(config_api_version_ok("v62.0"), 1);
	ck_assert_int_eq(config_api_version_ok("v62"), 0);
	ck_assert_int_eq(config_api_version_ok("62.0"), 0);
	ck_assert_int_eq(config_my_domain_ok("acme.my.salesforce.com"), 1);
	ck_assert_int_eq(config_my_domain_ok("login.salesforce.com"), 0);
	ck_assert_int_eq(config_my_domain_ok("TEST.Salesforce.com"), 0);
}
END_TEST

/* --- FORCELINK_LINK_PROOF (issue 11) ---------------------------------- */

/* config_load(): the default follows SLACK_CLIENT_ID; each proof needs
 * what it reads; a bad value stops the load naming its variable. */
static const struct {
	const char	*name;
	const char	*proof;		/* FORCELINK_LINK_PROOF; NULL unset */
	int		 slack_app;	/* SLACK_CLIENT_ID and _SECRET set */
	const char	*bot;		/* SLACK_BOT_TOKEN; NULL unset */
	int		 bits;		/* 0: the load fails */
	const char	*named;		/* what the error names */
} proof_load_cases[] = {
	{ "default without Slack app: code", NULL, 0, NULL,
	    CONFIG_PROOF_CODE, NULL },
	{ "default with Slack app: slack", NULL, 1, NULL, CONFIG_PROOF_SLACK,
	    NULL },
	{ "code with Slack app", "code", 1, NULL, CONFIG_PROOF_CODE, NULL },
	{ "slack with Slack app", "slack", 1, NULL, CONFIG_PROOF_SLACK, NULL },
	{ "slack,email with Slack app", "slack,email", 1, NULL,
	    CONFIG_PROOF_SLACK | CONFIG_PROOF_EMAIL, NULL },
	{ "email with bot token", "email", 0, "xoxb-1-abc",
	    CONFIG_PROOF_EMAIL, NULL },
	{ "code,email with bot token", "code,email", 0, "xoxb-1-abc",
	    CONFIG_PROOF_CODE | CONFIG_PROOF_EMAIL, NULL },
	{ "email with Slack app (installations' bot tokens)", "email", 1,
	    NULL, CONFIG_PROOF_EMAIL, NULL },
	{ "fail: slack without Slack app", "slack", 0, "xoxb-1-abc", 0,
	    "FORCELINK_LINK_PROOF" },
	{ "fail: email without any bot token", "email", 0, NULL, 0,
	    "FORCELINK_LINK_PROOF" },
	{ "fail: code,email without any bot token", "code,email", 0, NULL, 0,
	    "FORCELINK_LINK_PROOF" },
	{ "fail: unknown word", "sms", 1, NULL, 0, "FORCELINK_LINK_PROOF" },
	/* Empty is unset, as for every other setting. */
	{ "empty: the default", "", 1, NULL, CONFIG_PROOF_SLACK, NULL },
	{ "fail: repeated", "slack,slack", 1, NULL, 0,
	    "FORCELINK_LINK_PROOF" },
	{ "fail: bot token with a space", "code", 0, "xoxb-1 abc", 0,
	    "SLACK_BOT_TOKEN" },
};

START_TEST(link_proof_load_table)
{
	struct config	 cfg;
	char		 err[256] = "";
	int		 rc;

	good_env();
	if (proof_load_cases[_i].slack_app) {
		setenv("SLACK_CLIENT_ID", "1234567890.0987654321", 1);
		setenv("SLACK_CLIENT_SECRET", "slack-secret", 1);
	}
	if (proof_load_cases[_i].proof != NULL)
		setenv("FORCELINK_LINK_PROOF", proof_load_cases[_i].proof, 1);
	if (proof_load_cases[_i].bot != NULL)
		setenv("SLACK_BOT_TOKEN", proof_load_cases[_i].bot, 1);
	rc = config_load(&cfg, err, sizeof(err));
	if (proof_load_cases[_i].bits == 0) {
		ck_assert_msg(rc == -1, "%s: loaded", proof_load_cases[_i].name);
		ck_assert_msg(strstr(err, proof_load_cases[_i].named) != NULL,
		    "%s: error \"%s\" does not name %s",
		    proof_load_cases[_i].name, err,
		    proof_load_cases[_i].named);
		ck_assert_ptr_null(cfg.public_url);
		return;
	}
	ck_assert_msg(rc == 0, "%s: %s", proof_load_cases[_i].name, err);
	ck_assert_msg(cfg.link_proof == proof_load_cases[_i].bits,
	    "%s: bits %d", proof_load_cases[_i].name, cfg.link_proof);
	if (proof_load_cases[_i].bot != NULL)
		ck_assert_str_eq(cfg.slack_bot_token, proof_load_cases[_i].bot);
	else
		ck_assert_ptr_null(cfg.slack_bot_token);
	config_free(&cfg);
}
END_TEST

/* The bot token is a secret: SLACK_BOT_TOKEN_FILE works as the other
 * _FILE forms do. */
START_TEST(link_proof_bot_token_file)
{
	struct config	 cfg;
	char		 err[256], path[] = "/tmp/fl-config-XXXXXX";
	FILE		*fp;
	int		 fd;

	good_env();
	fd = mkstemp(path);
	ck_assert_int_ne(fd, -1);
	fp = fdopen(fd, "w");
	fputs("xoxb-from-file\n", fp);
	fclose(fp);
	setenv("FORCELINK_LINK_PROOF", "code,email", 1);
	setenv("SLACK_BOT_TOKEN_FILE", path, 1);
	ck_assert_msg(config_load(&cfg, err, sizeof(err)) == 0, "%s", err);
	unlink(path);
	ck_assert_str_eq(cfg.slack_bot_token, "xoxb-from-file");
	ck_assert_int_eq(cfg.link_proof, CONFIG_PROOF_CODE |
	    CONFIG_PROOF_EMAIL);
	config_free(&cfg);
}
END_TEST

/*
 * SLACK_BOT_TOKEN must have a bot token's shape (issue 15: the Web API
 * calls send it, and a user or app token pasted by mistake would act as
 * a person, or fail on every call).  A refusal names the variable read
 * (SLACK_BOT_TOKEN or SLACK_BOT_TOKEN_FILE) and never the value.  The
 * values are made at run time: no file of the tree holds a token.
 */
static const struct {
	const char	*prefix;	/* then 24 random characters */
	int		 file;
	int		 ok;
} bot_shape_cases[] = {
	{ "xoxb-", 0, 1 },
	{ "xoxb-", 1, 1 },
	{ "xoxe.xoxb-1-", 0, 1 },
	{ "xoxe.xoxb-1-", 1, 1 },
	{ "xoxp-", 0, 0 },		/* a user token */
	{ "xoxp-", 1, 0 },
	{ "xapp-1-", 0, 0 },		/* an app-level token */
	{ "xoxe-1-", 1, 0 },		/* a refresh token */
	{ "xoxe.xoxp-1-", 0, 0 },	/* a rotating user token */
	{ "XOXB-", 0, 0 },
	{ "xoxb", 0, 0 },		/* no dash */
	{ "", 0, 0 },			/* the random part alone */
};

START_TEST(bot_token_shape_table)
{
	struct config	 cfg;
	char		 err[256] = "", path[] = "/tmp/fl-config-XXXXXX";
	char		 tokbuf[TU_TOKEN_MAX], *v;
	FILE		*fp;
	int		 fd, rc;

	good_env();
	tu_token(tokbuf, bot_shape_cases[_i].prefix);
	/* The random part, to look for in the error line. */
	v = tokbuf + strlen(bot_shape_cases[_i].prefix);
	if (bot_shape_cases[_i].file) {
		fd = mkstemp(path);
		ck_assert_int_ne(fd, -1);
		fp = fdopen(fd, "w");
		fprintf(fp, "%s\n", tokbuf);
		fclose(fp);
		setenv("SLACK_BOT_TOKEN_FILE", path, 1);
	} else
		setenv("SLACK_BOT_TOKEN", tokbuf, 1);
	rc = config_load(&cfg, err, sizeof(err));
	if (bot_shape_cases[_i].file)
		unlink(path);
	ck_assert_int_eq(config_valid_bot_token(tokbuf),
	    bot_shape_cases[_i].ok);
	if (bot_shape_cases[_i].ok) {
		ck_assert_msg(rc == 0, "%s", err);
		ck_assert_str_eq(cfg.slack_bot_token, tokbuf);
		config_free(&cfg);
		return;
	}
	ck_assert_int_eq(rc, -1);
	ck_assert_ptr_nonnull(strstr(err, bot_shape_cases[_i].file ?
	    "SLACK_BOT_TOKEN_FILE must be a bot token" :
	    "SLACK_BOT_TOKEN must be a bot token"));
	ck_assert_msg(strstr(err, v) == NULL, "the token is in \"%s\"",
	    err);
}
END_TEST

/* SLACK_BOT_TOKEN and SLACK_BOT_TOKEN_FILE together: refused. */
START_TEST(bot_token_both_set)
{
	struct config	 cfg;
	char		 err[256] = "", tokbuf[TU_TOKEN_MAX];

	good_env();
	tu_token(tokbuf, "xoxb-");
	setenv("SLACK_BOT_TOKEN", tokbuf, 1);
	setenv("SLACK_BOT_TOKEN_FILE", "/nonexistent", 1);
	ck_assert_int_eq(config_load(&cfg, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "SLACK_BOT_TOKEN and SLACK_BOT_TOKEN_FILE are "
	    "both set: set only one");
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc = tcase_create("config");

	/* tu_token() draws random bytes. */
	crypto_init();

	tcase_add_test(tc, good_defaults);
	tcase_add_loop_test(tc, bad_setting_named, 0,
	    sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, secret_from_file);
	tcase_add_loop_test(tc, link_proof_parse_table, 0,
	    sizeof(proof_cases) / sizeof(proof_cases[0]));
	tcase_add_test(tc, link_proof_load);
	tcase_add_loop_test(tc, secret_whitespace_table, 0,
	    sizeof(secret_cases) / sizeof(secret_cases[0]));
	tcase_add_test(tc, keyring_in_env);
	tcase_add_test(tc, keyring_from_key_file);
	tcase_add_test(tc, legacy_token_only);
	tcase_add_test(tc, slack_install_configured);
	tcase_add_loop_test(tc, slack_install_bad, 0,
	    sizeof(slack_bad) / sizeof(slack_bad[0]));
	suite_add_tcase(s, tc);
	tc = tcase_create("link proof");
	tcase_add_loop_test(tc, link_proof_load_table, 0,
	    sizeof(proof_load_cases) / sizeof(proof_load_cases[0]));
	tcase_add_test(tc, link_proof_bot_token_file);
	tcase_add_loop_test(tc, bot_token_shape_table, 0,
	    sizeof(bot_shape_cases) / sizeof(bot_shape_cases[0]));
	tcase_add_test(tc, bot_token_both_set);
	suite_add_tcase(s, tc);

	tc = tcase_create("integrations");
	tcase_add_test(tc, integ_validators);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

/*
 * forcelink-admin: the administrator's command-line tool (see
 * forcelink-admin.8).
 *
 * main() reads the global options (--env-file, --help, --version), then
 * hands the rest of the command line to one command from the table below.
 * The commands read the same environment as the FastCGI programs (SPEC
 * §2), go through the same common/ modules (config, store, crypto, sf,
 * http) and so see exactly what the workers see.  Exit statuses are those
 * of enum admin_exit (admin.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "crypto.h"
#include "http.h"
#include "log.h"
#include "store.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"0"
#endif

static const struct admin_command {
	const char	*name;
	int		(*fn)(int, char *[]);
	const char	*summary;
} commands[] = {
	{ "list", cmd_list, "list the linked Slack users" },
	{ "show", cmd_show, "one link in full, and whether its tokens open" },
	{ "unlink", cmd_unlink,
	    "delete a link (--revoke: revoke its grant at Salesforce first)" },
	{ "rotate-key", cmd_rotate_key,
	    "re-seal every row under a new key" },
	{ "purge", cmd_purge,
	    "delete expired login states and replay entries" },
	{ "stats", cmd_stats,
	    "figures about links, logins, keys and the database" },
	{ "doctor", cmd_doctor,
	    "check configuration, database, modes, key, Salesforce, sockets" },
	{ "integration", cmd_integration,
	    "add, list or remove a Salesforce integration, or replace its "
	    "secret" },
	{ "workspace", cmd_workspace,
	    "map a workspace to an integration, list or unset mappings" },
	{ "backup", cmd_backup,
	    "copy the live database into a checked, checksummed file" },
	{ "restore", cmd_restore,
	    "replace the database with a backup (after a key census)" },
	{ "migrate-store", cmd_migrate_store,
	    "copy the SQLite database into an empty PostgreSQL one" },
};

#define SYNOPSIS	ADMIN_PROG " [--env-file FILE] COMMAND [OPTION]... " \
			"[ARG]...\n       " ADMIN_PROG " --help | --version"

static void
usage_full(void)
{
	size_t	 i;

	printf("usage: %s\n\nCommands:\n", SYNOPSIS);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		printf("  %-13s %s\n", commands[i].name, commands[i].summary);
	printf("\n"
	    "Every command takes --help.  list, show, stats, purge, doctor,\n"
	    "integration list, workspace list, backup and migrate-store take\n"
	    "--json.\n"
	    "\n"
	    "Options:\n"
	    "  --env-file FILE   read KEY=VALUE settings (as the service's\n"
	    "                    systemd EnvironmentFile) before anything\n"
	    "                    else; they replace the environment's.\n"
	    "                    Default: " ADMIN_ENV_DEFAULT "\n"
	    "                    when it exists; /dev/null for none\n"
	    "  --quiet           print nothing but errors (standard output\n"
	    "                    is discarded); the exit status tells the\n"
	    "                    outcome.  For scripts and timers\n"
	    "  --help            this text\n"
	    "  --version         the version and the schema version\n"
	    "\n"
	    "The settings are the programs' (FORCELINK_DB, FORCELINK_KEY or\n"
	    "FORCELINK_KEY_FILE, SF_*, SLACK_*, ...); see forcelink-admin(8).\n"
	    "\n"
	    "Exit status: 0 success, 1 the operation failed, 2 usage error,\n"
	    "3 no such link, integration or mapping, 4 configuration error or\n"
	    "wrong key, 5 database locked beyond the busy timeout.\n");
}

enum {
	OPT_ENV_FILE = 256,
	OPT_QUIET
};

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "env-file",	required_argument, NULL, OPT_ENV_FILE },
		{ "quiet",	no_argument,	   NULL, OPT_QUIET },
		{ "help",	no_argument,	   NULL, 'h' },
		{ "version",	no_argument,	   NULL, 'V' },
		{ NULL,		0,		   NULL, 0 }
	};
	const struct admin_command	*cmd = NULL;
	size_t				 i;
	int				 c;

	log_init(ADMIN_PROG);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_ENV_FILE:
			/* Loaded by the command's option parser, once all
			 * options (which may follow) are read. */
			if (admin_env_file(optarg) != ADMIN_OK)
				return admin_usage(SYNOPSIS);
			break;
		case OPT_QUIET:
			/* Applied by the command's option parser. */
			admin_set_quiet();
			break;
		case 'h':
			usage_full();
			return fflush(stdout) == 0 ? ADMIN_OK : ADMIN_FAIL;
		case 'V':
			printf("%s (forcelink) %s, schema version %d\n",
			    ADMIN_PROG, PACKAGE_VERSION,
			    store_schema_version());
			return fflush(stdout) == 0 ? ADMIN_OK : ADMIN_FAIL;
		case ':':
			admin_err("a value is needed for %.80s",
			    argv[optind - 1]);
			return admin_usage(SYNOPSIS);
		default:
			if (optopt > ' ' && optopt < 127)
				admin_err("unknown option -%c", optopt);
			else
				admin_err("unknown option %.80s",
				    argv[optind - 1]);
			return admin_usage(SYNOPSIS);
		}
	}
	if (optind >= argc) {
		admin_err("no command given");
		return admin_usage(SYNOPSIS);
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			cmd = &commands[i];
	if (cmd == NULL) {
		admin_err("unknown command '%.64s'", argv[optind]);
		return admin_usage(SYNOPSIS);
	}
	if (crypto_init() == -1 || http_init() == -1) {
		admin_err("cannot initialise libsodium or libcurl");
		return ADMIN_FAIL;
	}
	return cmd->fn(argc - optind, argv + optind);
}

/*
 * admin: forcelink-admin, the administrator's tool (see forcelink-admin.8).
 *
 * forcelink-admin.c owns main(), the global options and the table of
 * commands; each command is a function cmd_NAME(argc, argv) with argv[0]
 * the command's name, returning the tool's exit status.  This header
 * holds those declarations and the helpers the commands share (util.c):
 * loading the configuration, opening the database without creating it,
 * option parsing, time stamps, JSON and aligned tables on standard output.
 *
 * Every message for the admin goes to standard error as one line starting
 * "forcelink-admin: "; the store and the Salesforce client also log their
 * key=value lines there.  Nothing here prints a token, key or secret.
 */
#ifndef FORCELINK_ADMIN_H
#define FORCELINK_ADMIN_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include <json-c/json.h>

#include "config.h"
#include "slack.h"
#include "store.h"

/* The exit statuses, documented in forcelink-admin.8 (EXIT STATUS). */
enum admin_exit {
	ADMIN_OK = 0,		/* success */
	ADMIN_FAIL = 1,		/* the operation failed (doctor found a
				   problem, Salesforce refused, I/O) */
	ADMIN_USAGE = 2,	/* unknown command or option, bad argument */
	ADMIN_NOTFOUND = 3,	/* no such link */
	ADMIN_CONFIG = 4,	/* configuration missing or malformed, or
				   the key opens no row (wrong key) */
	ADMIN_BUSY = 5		/* database locked beyond the busy
				   timeout */
};

#define ADMIN_PROG	"forcelink-admin"

/* The commands (argv[0] is the command's name). */
int	 cmd_list(int argc, char *argv[]);
int	 cmd_show(int argc, char *argv[]);
int	 cmd_unlink(int argc, char *argv[]);
int	 cmd_rotate_key(int argc, char *argv[]);	/* rotate_key.c */
int	 cmd_purge(int argc, char *argv[]);
int	 cmd_stats(int argc, char *argv[]);
int	 cmd_doctor(int argc, char *argv[]);
int	 cmd_integration(int argc, char *argv[]);	/* integrations.c */
int	 cmd_workspace(int argc, char *argv[]);		/* integrations.c */
int	 cmd_backup(int argc, char *argv[]);		/* backup.c */
int	 cmd_restore(int argc, char *argv[]);		/* backup.c */
int	 cmd_migrate_store(int argc, char *argv[]);	/* migrate.c */

/*
 * --env-file: reads KEY=VALUE lines (as a systemd EnvironmentFile) from
 * path into the environment (see envfile.c).  Returns 0, or -1 with one
 * line naming the file and line in err; nothing is applied then.
 */
int	 envfile_load(const char *path, char *err, size_t errsz);

/* The values getopt_long returns for the global --env-file and
 * --quiet. */
#define ADMIN_OPT_ENV_FILE	0x7f00
#define ADMIN_OPT_QUIET		0x7f01

/*
 * Records the global --quiet (main's options or any command's).  Once
 * the command's options are read (admin_getopt), standard output goes
 * to /dev/null and log lines below warnings are dropped: only what went
 * wrong is printed, for scripts and timers.
 */
void	 admin_set_quiet(void);

/*
 * Records the path of the global --env-file (main's options or any
 * command's).  Returns ADMIN_OK, or ADMIN_USAGE after one line when one
 * was given already (the caller prints the usage lines).
 */
int	 admin_env_file(const char *path);

/* Where make install puts the services' settings (Makefile.am). */
#ifndef SYSCONFDIR
#define SYSCONFDIR		"/usr/local/etc"
#endif
#define ADMIN_ENV_DEFAULT	SYSCONFDIR "/forcelink/forcelink.env"

/* Loads the recorded --env-file (envfile_load), once; without one,
 * ADMIN_ENV_DEFAULT when it exists.  Returns ADMIN_OK (also when there is
 * neither), or ADMIN_CONFIG after one line. */
int	 admin_env_load(void);

/* Prints "forcelink-admin: " and the message as one line on stderr. */
void	 admin_err(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/* Prints usage (one line per synopsis, then "try ... --help") on stderr
 * and returns ADMIN_USAGE. */
int	 admin_usage(const char *synopsis);

/*
 * A command's options, parsed with getopt_long from argv[1..]: the one
 * option parser of every command.  optstring and longopts as for
 * getopt_long (a leading ":" is added here, so that a missing argument is
 * reported as such).  Options may come before, between or after the
 * operands (argv is permuted so that the operands come last; "--" ends
 * the options), and the global --env-file and --quiet are accepted
 * anywhere too.  An
 * option with a value given twice is a usage error, except h->repeatable;
 * so is a second --env-file, here or before the command.  For each
 * option, fn(c, optarg, arg) is called; it returns 0, or an exit status
 * to stop with.  --help prints help on stdout and stops with ADMIN_OK
 * (*done set).  Once all options are read, --quiet takes effect and
 * the --env-file is loaded (admin_env_load).  Returns ADMIN_OK with *optind_out the first operand,
 * or the exit status to stop with (an unknown or repeated option is
 * ADMIN_USAGE, after the usage lines).
 */
struct admin_cmd_help {
	const char	*synopsis;	/* "forcelink-admin list ..." */
	const char	*help;		/* what follows it */
	const char	*repeatable;	/* NULL, or the one long option with
					 * a value that may be repeated */
};
int	 admin_getopt(int argc, char *argv[], const char *optstring,
	    const struct option *longopts, const struct admin_cmd_help *h,
	    int (*fn)(int c, const char *optarg, void *arg), void *arg,
	    int *optind_out, int *done);

/*
 * A command made of sub-commands ("integration add ..."): the word each
 * one answers to, the name it runs under (argv[0] becomes "integration
 * add", for its messages and usage lines) and its function.
 */
struct admin_sub {
	const char	*word;
	const char	*name;
	int		(*run)(int, char *[]);
};

/*
 * Runs the one of the n subs that argv[1] names.  "cmd --help" (or -h)
 * alone prints h on stdout; no word, or a word none answers to, is a
 * usage error with one line saying which words there are.
 */
int	 admin_subcommand(int argc, char *argv[], const char *cmd,
	    const struct admin_sub *subs, size_t n,
	    const struct admin_cmd_help *h);

/* Reads the configuration (config_load).  Returns ADMIN_OK, or
 * ADMIN_CONFIG after printing the one line naming the variable. */
int	 admin_config(struct config *cfg);

/*
 * Opens the configured database without creating or migrating a missing
 * one: ADMIN_CONFIG when FORCELINK_DB names no file, ADMIN_BUSY when it is
 * locked beyond the busy timeout, ADMIN_FAIL when it is not a database or
 * is newer than this program, each with a clear line; else ADMIN_OK and
 * *st (close with store_close).  An older schema is migrated, as the
 * programs do when they start.
 */
int	 admin_open(const struct config *cfg, struct store **st);

/*
 * Run as root, a file the tool creates next to the database would be
 * root's, and the service, running as the database's owner, could no
 * longer open it.  SQLite gives its -wal and -shm files the database's
 * owner by itself; this does the same for session.c's refresh lock file
 * ($FORCELINK_DB-refresh.lock), creating it now when it is missing.
 * Call before session_new().  Returns ADMIN_OK or ADMIN_FAIL (printed).
 */
int	 admin_lock_file(const struct config *cfg);

/* After a store call on st failed: prints "what: ..." and returns
 * ADMIN_BUSY when a lock held elsewhere was the cause, else ADMIN_FAIL. */
int	 admin_store_fail(struct store *st, const char *what);

/* Parses s, a whole decimal number in [lo, hi], into *out (an option's
 * value).  Returns 0, or -1 for anything else (nothing stored). */
int	 admin_number(const char *s, long lo, long hi, long *out);

/* Whether s is a Slack id (1 to SLACK_ID_MAX of A-Z 0-9); with
 * allow_empty, "" passes too (an enterprise id outside Grid). */
int	 admin_valid_id(const char *s, int allow_empty);

/*
 * Finds the one link of team/user (and enterprise, when not NULL).
 * Returns ADMIN_OK with *out holding exactly that link (release with
 * store_link_list_free); ADMIN_NOTFOUND; ADMIN_USAGE when links of that
 * team and user exist in several enterprises and no --enterprise says
 * which; or the result of admin_store_fail.  Prints a line for each
 * failure.
 */
int	 admin_find_link(struct store *st, const char *enterprise,
	    const char *team, const char *user, struct store_link_list *out);

/* Whether key id id is one the configuration holds.  The one place that
 * knows where the configured keys are (a keyring holds several). */
int	 admin_key_known(const struct config *cfg, const char *id);

/* The setting the configured keys came from, for messages:
 * "FORCELINK_KEY_FILE" or "FORCELINK_KEY". */
const char	*admin_key_setting(const struct config *cfg);

/* The id of the configured keyring's current key (the one new rows are
 * sealed with). */
void	 admin_current_key_id(const struct config *cfg,
	    char out[CRYPTO_KEYID_LEN + 1]);

/* Writes t as ISO-8601 UTC ("2024-05-01T12:00:00Z") into out; t == 0
 * writes "-" (never). */
void	 admin_iso8601(time_t t, char out[24]);

/* An allocated copy of s (NULL: "") with control bytes replaced by '?';
 * NULL on memory exhaustion. */
char	*admin_clean(const char *s);

/* Prints "NAME  VALUE[ NOTE]" (NAME padded to 14) on stdout, with
 * control bytes in VALUE shown as '?'.  note may be NULL. */
void	 admin_kv(const char *name, const char *value, const char *note);

/* JSON helpers: a string, an ISO time (null when 0), and printing an
 * object to stdout (pretty, one trailing newline).  json_object_put()s
 * the object.  Returns 0, or -1 on a write error or out of memory. */
struct json_object *admin_json_str(const char *);
struct json_object *admin_json_time(time_t);
int	 admin_json_print(struct json_object *);

/*
 * An aligned text table for stdout.  Cells are copied; control bytes in
 * them are shown as '?' so a hostile value cannot move the cursor.
 */
struct admin_table;
struct admin_table *admin_table_new(size_t ncols, const char *const *heads);
int	 admin_table_add(struct admin_table *, const char *const *cells);
int	 admin_table_print(struct admin_table *, FILE *);
void	 admin_table_free(struct admin_table *);

#endif

/*
 * util: what the forcelink-admin commands share (see admin.h).
 *
 * Messages, option parsing with --help on every command, loading the
 * configuration and opening the database the way an admin tool must: a
 * typo in FORCELINK_DB must not create an empty database, and a lock held
 * elsewhere must end in its own exit status rather than a generic
 * failure.  Output helpers (JSON, aligned tables, ISO-8601 times) keep
 * every command's output in one format.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "admin.h"
#include "log.h"
#include "config.h"
#include "form.h"
#include "keyring.h"
#include "store.h"

/* Longest message line; longer ones are cut. */
#define ADMIN_MSG_MAX	1024

void
admin_err(const char *fmt, ...)
{
	char	 line[ADMIN_MSG_MAX];
	va_list	 ap;
	size_t	 i;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Arguments and stored values may hold anything: one line, no
	 * terminal escapes. */
	for (i = 0; line[i] != '\0'; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	fprintf(stderr, "%s: %s\n", ADMIN_PROG, line);
}

int
admin_usage(const char *synopsis)
{
	fprintf(stderr, "usage: %s\n", synopsis);
	fprintf(stderr, "Try '%s --help' or '%s COMMAND --help'.\n",
	    ADMIN_PROG, ADMIN_PROG);
	return ADMIN_USAGE;
}

int
admin_subcommand(int argc, char *argv[], const char *cmd,
    const struct admin_sub *subs, size_t n, const struct admin_cmd_help *h)
{
	char	 words[256];
	size_t	 i, len = 0;

	for (i = 0; argc >= 2 && i < n; i++)
		if (strcmp(argv[1], subs[i].word) == 0) {
			argv[1] = (char *)subs[i].name;
			return subs[i].run(argc - 1, argv + 1);
		}
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		printf("usage: %s\n\n%s", h->synopsis, h->help);
		return fflush(stdout) == 0 ? ADMIN_OK : ADMIN_FAIL;
	}
	if (argc >= 2) {
		admin_err("%s: unknown command '%.64s'", cmd, argv[1]);
		return admin_usage(h->synopsis);
	}
	/* "add, set-secret, list or remove" */
	words[0] = '\0';
	for (i = 0; i < n && len < sizeof(words); i++)
		len += (size_t)snprintf(words + len, sizeof(words) - len,
		    "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
		    subs[i].word);
	admin_err("%s: %s?", cmd, words);
	return admin_usage(h->synopsis);
}

/* The global --env-file: recorded where it is met, loaded once every
 * option of the command line is read. */
static const char	*admin_env_path;
static int		 admin_env_loaded;

int
admin_env_file(const char *path)
{
	if (admin_env_path != NULL) {
		admin_err("--env-file given twice");
		return ADMIN_USAGE;
	}
	admin_env_path = path;
	return ADMIN_OK;
}

int
admin_env_load(void)
{
	struct stat	 sb;
	char		 err[512];

	if (admin_env_loaded)
		return ADMIN_OK;
	admin_env_loaded = 1;
	if (admin_env_path == NULL) {
		/* No --env-file: the installed settings, the services'
		 * own, when there are some; a file that is there but
		 * cannot be read is an error, not a silent fallback to
		 * whatever the shell exported. */
		if (stat(ADMIN_ENV_DEFAULT, &sb) == -1 &&
		    (errno == ENOENT || errno == ENOTDIR))
			return ADMIN_OK;
		if (envfile_load(ADMIN_ENV_DEFAULT, err, sizeof(err)) == -1) {
			admin_err("the default settings: %s (name another "
			    "file with --env-file, or --env-file /dev/null "
			    "for none)", err);
			return ADMIN_CONFIG;
		}
	} else if (envfile_load(admin_env_path, err, sizeof(err)) == -1) {
		admin_err("--env-file: %s", err);
		return ADMIN_CONFIG;
	}
	/* FORCELINK_DEBUG may come from the file. */
	log_init(ADMIN_PROG);
	return ADMIN_OK;
}

/* The global --quiet: recorded where it is met, applied once every
 * option of the command line is read (so --help still prints). */
static int		 admin_quiet;

void
admin_set_quiet(void)
{
	admin_quiet = 1;
}

/* Applies --quiet.  Returns ADMIN_OK, or ADMIN_FAIL after one line. */
static int
admin_quiet_apply(void)
{
	int	 fd;

	if (!admin_quiet)
		return ADMIN_OK;
	log_quiet();
	if (fflush(stdout) != 0 ||
	    (fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1) {
		admin_err("--quiet: cannot open /dev/null: %s",
		    strerror(errno));
		return ADMIN_FAIL;
	}
	if (fd != STDOUT_FILENO) {
		if (dup2(fd, STDOUT_FILENO) == -1) {
			admin_err("--quiet: %s", strerror(errno));
			close(fd);
			return ADMIN_FAIL;
		}
		close(fd);
	}
	return ADMIN_OK;
}

/* Most long options of one command. */
#define ADMIN_LONGOPTS_MAX	32

int
admin_getopt(int argc, char *argv[], const char *optstring,
    const struct option *longopts, const struct admin_cmd_help *h,
    int (*fn)(int, const char *, void *), void *arg, int *optind_out,
    int *done)
{
	struct option	 lo[ADMIN_LONGOPTS_MAX + 3];
	unsigned char	 seen[ADMIN_LONGOPTS_MAX + 1];
	char		 os[64];
	size_t		 n;
	int		 c, rc, li;

	*done = 0;
	*optind_out = argc;
	/* ":": report a missing value.  No "+": options may follow the
	 * operands, which getopt moves to the end. */
	if ((size_t)snprintf(os, sizeof(os), ":h%s", optstring) >=
	    sizeof(os))
		return ADMIN_FAIL;
	for (n = 0; longopts[n].name != NULL; n++)
		if (n == ADMIN_LONGOPTS_MAX)
			return ADMIN_FAIL;
	memcpy(lo, longopts, n * sizeof(lo[0]));
	lo[n].name = "env-file";
	lo[n].has_arg = required_argument;
	lo[n].flag = NULL;
	lo[n].val = ADMIN_OPT_ENV_FILE;
	lo[n + 1].name = "quiet";
	lo[n + 1].has_arg = no_argument;
	lo[n + 1].flag = NULL;
	lo[n + 1].val = ADMIN_OPT_QUIET;
	memset(&lo[n + 2], 0, sizeof(lo[0]));
	memset(seen, 0, sizeof(seen));
	optind = 0;	/* glibc: start over, the dispatcher parsed before */
	opterr = 0;
	while ((c = getopt_long(argc, argv, os, lo, &li)) != -1) {
		if (c == 'h') {
			printf("usage: %s\n\n%s", h->synopsis, h->help);
			*done = 1;
			return fflush(stdout) == 0 ? ADMIN_OK : ADMIN_FAIL;
		}
		if (c == '?' || c == ':') {
			/* A long option's optopt is its value (>= 256 here). */
			if (optopt > ' ' && optopt < 127)
				admin_err("%s: %s -%c", argv[0], c == '?' ?
				    "unknown option" : "a value is needed for",
				    optopt);
			else
				admin_err("%s: %s %.80s", argv[0], c == '?' ?
				    "unknown option" : "a value is needed for",
				    argv[optind - 1]);
			return admin_usage(h->synopsis);
		}
		if (c == ADMIN_OPT_ENV_FILE) {
			if (admin_env_file(optarg) != ADMIN_OK)
				return admin_usage(h->synopsis);
			continue;
		}
		if (c == ADMIN_OPT_QUIET) {
			admin_set_quiet();
			continue;
		}
		/* A second value would silently replace the first. */
		if (lo[li].has_arg == required_argument && seen[li] &&
		    (h->repeatable == NULL ||
		    strcmp(h->repeatable, lo[li].name) != 0)) {
			admin_err("%s: --%s given twice", argv[0], lo[li].name);
			return admin_usage(h->synopsis);
		}
		seen[li] = 1;
		if ((rc = fn(c, optarg, arg)) != ADMIN_OK)
			return rc;
	}
	if ((rc = admin_quiet_apply()) != ADMIN_OK ||
	    (rc = admin_env_load()) != ADMIN_OK)
		return rc;
	*optind_out = optind;
	return ADMIN_OK;
}

int
admin_config(struct config *cfg)
{
	char	 err[512];

	if (config_load(cfg, err, sizeof(err)) == -1) {
		admin_err("configuration: %s", err);
		return ADMIN_CONFIG;
	}
	return ADMIN_OK;
}

int
admin_open(const struct config *cfg, struct store **st)
{
	int	 v = 0;

	*st = NULL;
	/* A server's database is never made by us: opening it says whether
	 * it is there, reachable, and of a schema we know. */
	if (store_is_uri(cfg->db_path))
		goto open;
	switch (store_probe(cfg->db_path, &v)) {
	case STORE_PROBE_OK:
		break;
	case STORE_PROBE_MISSING:
		admin_err("database %s does not exist (FORCELINK_DB; the "
		    "programs create it when they first start)", cfg->db_path);
		return ADMIN_CONFIG;
	case STORE_PROBE_BUSY:
		admin_err("database %s is locked: another process held its "
		    "lock beyond the busy timeout; try again", cfg->db_path);
		return ADMIN_BUSY;
	case STORE_PROBE_ERROR:
		admin_err("database %s cannot be read (see the line above)",
		    cfg->db_path);
		return ADMIN_FAIL;
	}
	if (v > store_schema_version()) {
		admin_err("database %s has schema version %d, newer than "
		    "this forcelink-admin knows (%d): use the forcelink that "
		    "wrote it", cfg->db_path, v, store_schema_version());
		return ADMIN_FAIL;
	}
open:
	if ((*st = store_open_keyring(cfg->db_path, cfg->keyring)) == NULL) {
		admin_err("database %s cannot be opened (see the line above)",
		    cfg->db_path);
		return ADMIN_FAIL;
	}
	return ADMIN_OK;
}

int
admin_lock_file(const struct config *cfg)
{
	struct stat	 sb;
	char		*path = NULL;
	int		 fd, rc = ADMIN_FAIL;

	if (geteuid() != 0 || store_is_uri(cfg->db_path) ||
	    stat(cfg->db_path, &sb) == -1 ||
	    (sb.st_uid == 0 && sb.st_gid == 0))
		return ADMIN_OK;
	/* The name session.c gives it. */
	if (asprintf(&path, "%s-refresh.lock", cfg->db_path) == -1) {
		admin_err("out of memory");
		return ADMIN_FAIL;
	}
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1 && errno == EEXIST)
		rc = ADMIN_OK;
	else if (fd == -1)
		admin_err("cannot create %s: %s", path, strerror(errno));
	else if (fchown(fd, sb.st_uid, sb.st_gid) == -1) {
		admin_err("cannot give %s the database's owner: %s", path,
		    strerror(errno));
		(void)unlink(path);
	} else
		rc = ADMIN_OK;
	if (fd != -1)
		close(fd);
	free(path);
	return rc;
}

int
admin_store_fail(struct store *st, const char *what)
{
	if (store_busy_failed(st)) {
		admin_err("%s: the database is locked: another process held "
		    "its lock beyond the busy timeout; try again", what);
		return ADMIN_BUSY;
	}
	admin_err("%s failed (see the line above)", what);
	return ADMIN_FAIL;
}

int
admin_number(const char *s, long lo, long hi, long *out)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int
admin_valid_id(const char *s, int allow_empty)
{
	if (s == NULL)
		return 0;
	if (*s == '\0')
		return allow_empty;
	return form_valid_slack_id(s, strlen(s));
}

int
admin_find_link(struct store *st, const char *enterprise, const char *team,
    const char *user, struct store_link_list *out)
{
	char	 ents[256];
	size_t	 i, n;

	if (store_list_links(st, enterprise, team, user, out) != STORE_OK)
		return admin_store_fail(st, "reading the links");
	if (out->n == 1)
		return ADMIN_OK;
	if (out->n == 0) {
		if (enterprise != NULL)
			admin_err("no link for team %s user %s in enterprise "
			    "'%s'", team, user, enterprise);
		else
			admin_err("no link for team %s user %s", team, user);
		return ADMIN_NOTFOUND;
	}
	ents[0] = '\0';
	for (i = 0, n = 0; i < out->n && n < sizeof(ents); i++)
		n += (size_t)snprintf(ents + n, sizeof(ents) - n, "%s'%s'",
		    i > 0 ? ", " : "", out->v[i].who.enterprise_id);
	admin_err("team %s user %s is linked in %zu Enterprise Grid "
	    "organisations (%s): say which with --enterprise ID", team, user,
	    out->n, ents);
	store_link_list_free(out);
	return ADMIN_USAGE;
}

int
admin_key_known(const struct config *cfg, const char *id)
{
	struct keyring_snap	*snap = NULL;
	int			 known;

	if (id == NULL)
		return 0;
	keyring_update(cfg->keyring, &snap);
	known = keyring_find(snap, id) != NULL;
	keyring_release(snap);
	return known;
}

const char *
admin_key_setting(const struct config *cfg)
{
	/* Only a keyring read from a file follows a path. */
	return keyring_path(cfg->keyring) != NULL ? "FORCELINK_KEY_FILE" :
	    "FORCELINK_KEY";
}

void
admin_current_key_id(const struct config *cfg,
    char out[CRYPTO_KEYID_LEN + 1])
{
	struct keyring_snap	*snap = NULL;

	keyring_update(cfg->keyring, &snap);
	memcpy(out, keyring_current(snap)->id, CRYPTO_KEYID_LEN + 1);
	keyring_release(snap);
}

void
admin_iso8601(time_t t, char out[24])
{
	struct tm	 tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(out, 24, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 24, "-");
}

void
admin_kv(const char *name, const char *value, const char *note)
{
	char	*v;

	if ((v = admin_clean(value)) == NULL) {
		printf("%-14s ?\n", name);
		return;
	}
	printf("%-14s %s%s%s\n", name, v, note != NULL ? " " : "",
	    note != NULL ? note : "");
	free(v);
}

struct json_object *
admin_json_str(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

struct json_object *
admin_json_time(time_t t)
{
	char	 iso[24];

	if (t == 0)
		return NULL;
	admin_iso8601(t, iso);
	return json_object_new_string(iso);
}

int
admin_json_print(struct json_object *o)
{
	const char	*s;
	int		 rc = -1;

	if (o == NULL) {
		admin_err("out of memory");
		return -1;
	}
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s != NULL && fputs(s, stdout) != EOF && putchar('\n') != EOF &&
	    fflush(stdout) == 0)
		rc = 0;
	else
		admin_err("cannot write the output: %s", strerror(errno));
	json_object_put(o);
	return rc;
}

/* --- Tables ----------------------------------------------------------- */

struct admin_table {
	size_t	  ncols;
	size_t	  nrows;	/* rows[0] is the heading */
	size_t	  cap;
	char	**cells;	/* nrows * ncols */
	size_t	 *width;	/* display width of each column */
};

/* Display width of a UTF-8 string: its code points (good enough for the
 * ids, names and URLs shown here). */
static size_t
admin_width(const char *s)
{
	size_t	 n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

char *
admin_clean(const char *s)
{
	char	*p, *q;

	if ((p = strdup(s != NULL ? s : "")) == NULL)
		return NULL;
	for (q = p; *q != '\0'; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			*q = '?';
	return p;
}

struct admin_table *
admin_table_new(size_t ncols, const char *const *heads)
{
	struct admin_table	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->width = calloc(ncols, sizeof(*t->width))) == NULL) {
		free(t);
		return NULL;
	}
	t->ncols = ncols;
	if (admin_table_add(t, heads) == -1) {
		admin_table_free(t);
		return NULL;
	}
	return t;
}

int
admin_table_add(struct admin_table *t, const char *const *cells)
{
	char	**v;
	size_t	  i, w, base;

	if (t->nrows == t->cap) {
		t->cap = t->cap == 0 ? 16 : t->cap * 2;
		if ((v = reallocarray(t->cells, t->cap * t->ncols,
		    sizeof(*v))) == NULL)
			return -1;
		t->cells = v;
	}
	base = t->nrows * t->ncols;
	for (i = 0; i < t->ncols; i++)
		if ((t->cells[base + i] = admin_clean(cells[i])) == NULL) {
			while (i-- > 0)
				free(t->cells[base + i]);
			return -1;
		}
	for (i = 0; i < t->ncols; i++)
		if ((w = admin_width(t->cells[base + i])) > t->width[i])
			t->width[i] = w;
	t->nrows++;
	return 0;
}

int
admin_table_print(struct admin_table *t, FILE *f)
{
	const char	*c;
	size_t		 r, i, pad;

	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			c = t->cells[r * t->ncols + i];
			fputs(c, f);
			if (i + 1 == t->ncols)
				break;
			for (pad = admin_width(c); pad < t->width[i] + 2; pad++)
				fputc(' ', f);
		}
		fputc('\n', f);
	}
	if (fflush(f) != 0 || ferror(f)) {
		admin_err("cannot write the output: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void
admin_table_free(struct admin_table *t)
{
	size_t	 i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->width);
	free(t);
}

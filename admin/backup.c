/*
 * backup: "forcelink-admin backup" and "restore" (see forcelink-admin.8).
 *
 * backup copies the live database with SQLite's online backup API
 * (store_backup: one consistent snapshot while the services write) into
 * a private temporary file in DIR, checks the copy as restore would
 * (opened read-only: integrity, schema version, the newest link opens
 * with the configured keys), and only then gives it its name,
 * forcelink-YYYYMMDDTHHMMSSZ.db, never replacing a file, with the
 * SHA-256 beside it in sha256sum's format.  --keep N then removes the
 * oldest backups past N: only files of that exact name pattern (and
 * their checksums), never the new one.
 *
 * restore checks a backup before it touches anything: its checksum when
 * it has one, that it is a forcelink database no newer than this
 * program, and the key census (every key id a row is sealed under must
 * be configured, or no token in those rows would ever open).  It stages
 * the backup in a private file beside the database, migrates it there,
 * checks its integrity and that every link opens, and then either
 * renames it into place (no database yet) or, with --force, copies it
 * into the live database through the backup API (store_restore): one
 * write transaction under SQLite's lock, so running services see the old
 * content or the new, and the file keeps its owner and mode.  Afterwards
 * every link of the live database is opened once more.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "admin.h"
#include "config.h"
#include "crypto.h"
#include "store.h"

/* forcelink-YYYYMMDDTHHMMSSZ[-N].db: the names backup gives and --keep
 * removes.  N (2 to BK_SEQ_MAX) tells apart backups of one second. */
#define BK_PREFIX	"forcelink-"
#define BK_STAMP_LEN	16
#define BK_SEQ_MAX	99
#define BK_KEEP_MAX	100000
/* Distinct key ids told apart in messages. */
#define BK_CENSUS_MAX	16

enum {
	BK_OPT_KEEP = 256,
	BK_OPT_JSON,
	BK_OPT_FORCE
};

static const struct option backup_longopts[] = {
	{ "help",	no_argument,	   NULL, 'h' },
	{ "keep",	required_argument, NULL, BK_OPT_KEEP },
	{ "json",	no_argument,	   NULL, BK_OPT_JSON },
	{ NULL,		0,		   NULL, 0 }
};

static const struct option restore_longopts[] = {
	{ "help",	no_argument,	   NULL, 'h' },
	{ "force",	no_argument,	   NULL, BK_OPT_FORCE },
	{ NULL,		0,		   NULL, 0 }
};

static const struct admin_cmd_help backup_help = {
	ADMIN_PROG " backup [--keep N] [--json] DIR",
	"Copies the live database (SQLite's online backup: one consistent\n"
	"snapshot while the services keep writing) into\n"
	"DIR/forcelink-YYYYMMDDTHHMMSSZ.db (UTC), mode 0600, never replacing\n"
	"a file, with its SHA-256 in DIR/forcelink-...db.sha256 (sha256sum -c\n"
	"reads it).  The copy is checked before it gets its name: opened\n"
	"read-only, integrity_check, schema version, and the most recently\n"
	"updated link opens with the configured key.  DIR is created (mode\n"
	"0700) when missing; its parent must exist.  Prints the file's name.\n"
	"\n"
	"  --keep N   then remove the oldest backups in DIR beyond the N\n"
	"             newest (only files named as above, and their .sha256;\n"
	"             never the new one)\n"
	"  --json     {\"file\", \"checksum_file\", \"sha256\", \"bytes\",\n"
	"             \"schema_version\", \"links\", \"newest_link_opens\",\n"
	"             \"keys\": [{\"key_id\", \"rows\"}], \"removed\": [...]}\n",
	NULL
};

static const struct admin_cmd_help restore_help = {
	ADMIN_PROG " restore [--force] FILE",
	"Replaces the database (FORCELINK_DB) with the backup FILE.  First\n"
	"checks FILE: its checksum (FILE.sha256, when there is one), that it\n"
	"is a forcelink database no newer than this program, and the key\n"
	"census: every key id a row of FILE is sealed under must be among the\n"
	"configured keys (else nothing is changed; add the old key to the\n"
	"key file as one more line).  Then, in a copy beside the database,\n"
	"migrates it, checks its integrity and that every link opens.\n"
	"Without a database, the copy becomes it (mode 0600, owned like its\n"
	"directory).  An existing database is replaced only with --force, in\n"
	"one transaction, while the services may keep running; it keeps its\n"
	"owner and mode.  Afterwards every link is opened once more.\n"
	"\n"
	"  --force   replace an existing database\n",
	NULL
};

/* --- Helpers ---------------------------------------------------------- */

/*
 * Whether name is one backup gives: forcelink-YYYYMMDDTHHMMSSZ.db or
 * forcelink-YYYYMMDDTHHMMSSZ-N.db.  On a match copies the time stamp
 * into stamp and N (1 without one) into *seq.
 */
static int
bk_name_parse(const char *name, char stamp[BK_STAMP_LEN + 1], int *seq)
{
	const char	*p = name + sizeof(BK_PREFIX) - 1;
	size_t		 i;
	int		 n = 1;

	if (strncmp(name, BK_PREFIX, sizeof(BK_PREFIX) - 1) != 0)
		return 0;
	for (i = 0; i < BK_STAMP_LEN; i++) {
		if (i == 8 ? p[i] != 'T' : i == 15 ? p[i] != 'Z' :
		    (p[i] < '0' || p[i] > '9'))
			return 0;
	}
	memcpy(stamp, p, BK_STAMP_LEN);
	stamp[BK_STAMP_LEN] = '\0';
	p += BK_STAMP_LEN;
	if (*p == '-') {
		p++;
		if (p[0] < '1' || p[0] > '9')
			return 0;
		n = p[0] - '0';
		p++;
		if (*p >= '0' && *p <= '9')
			n = n * 10 + (*p++ - '0');
		if (n < 2)
			return 0;
	}
	if (strcmp(p, ".db") != 0)
		return 0;
	*seq = n;
	return 1;
}

/* Renames from to to unless to exists (errno EEXIST then).  Returns 0 or
 * -1 with errno. */
static int
bk_rename_new(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* A file system without RENAME_NOREPLACE: link(2) never replaces
	 * either. */
	if (link(from, to) == -1)
		return -1;
	(void)unlink(from);
	return 0;
}

/* fsync(2) of a directory, so that a rename in it is durable.  Returns 0
 * or -1 after one line. */
static int
bk_sync_dir(const char *dir)
{
	int	 fd, rc = 0;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(fd) == -1) {
		admin_err("cannot sync directory %s: %s", dir, strerror(errno));
		rc = -1;
	}
	if (fd != -1)
		close(fd);
	return rc;
}

/* The directory part of path (".", "/" or the part before the last
 * slash) into dir. */
static void
bk_dirname(const char *path, char dir[PATH_MAX])
{
	char	*slash;

	snprintf(dir, PATH_MAX, "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, PATH_MAX, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
}

/* bk_sync_dir() of the directory of path. */
static int
bk_sync_dir_of(const char *path)
{
	char	 dir[PATH_MAX];

	bk_dirname(path, dir);
	return bk_sync_dir(dir);
}

/* Removes the files SQLite may have made beside the database at path
 * (only once no connection has it open). */
static void
bk_unlink_sidecars(const char *path)
{
	static const char *const suffix[] = { "-wal", "-shm", "-journal" };
	char	 p[PATH_MAX];
	size_t	 i;

	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++)
		if ((size_t)snprintf(p, sizeof(p), "%s%s", path, suffix[i]) <
		    sizeof(p))
			(void)unlink(p);
}

/* Removes path and the files SQLite may have made beside it. */
static void
bk_unlink_db(const char *path)
{
	(void)unlink(path);
	bk_unlink_sidecars(path);
}

/* The SHA-256 of what fd holds, from its start, as 64 hex digits.
 * Returns 0 or -1 (errno). */
static int
bk_sha256_fd(int fd, char hex[2 * CRYPTO_HASHLEN + 1])
{
	static const char	 digits[] = "0123456789abcdef";
	unsigned char		 h[CRYPTO_HASHLEN];
	size_t			 i;

	if (lseek(fd, 0, SEEK_SET) == -1 || crypto_sha256_fd(fd, h) == -1)
		return -1;
	for (i = 0; i < CRYPTO_HASHLEN; i++) {
		hex[2 * i] = digits[h[i] >> 4];
		hex[2 * i + 1] = digits[h[i] & 0xf];
	}
	hex[2 * CRYPTO_HASHLEN] = '\0';
	return 0;
}

/*
 * The key census of st, whose rows come from what: every key id a row is
 * sealed under must be one the configuration holds.  Fills kc[0..*n-1].
 * Returns ADMIN_OK; ADMIN_CONFIG after one line naming the missing ids;
 * or a store failure (printed).
 */
static int
bk_census(const struct config *cfg, struct store *st, const char *what,
    struct store_key_count *kc, size_t *n)
{
	char			 ids[BK_CENSUS_MAX * (CRYPTO_KEYID_LEN + 2) + 1];
	enum store_result	 sr;
	size_t			 i, len = 0;
	long			 rows = 0, missing = 0;

	if ((sr = store_key_census(st, kc, BK_CENSUS_MAX, n)) != STORE_OK)
		return admin_store_fail(st, "counting the rows by key");
	ids[0] = '\0';
	for (i = 0; i < *n; i++) {
		rows = store_key_count_rows(&kc[i]);
		if (rows == 0 || admin_key_known(cfg, kc[i].key_id))
			continue;
		missing += rows;
		len += (size_t)snprintf(ids + len, sizeof(ids) - len, "%s%s",
		    len > 0 ? ", " : "", kc[i].key_id[0] != '\0' ?
		    kc[i].key_id : "(malformed)");
		if (len >= sizeof(ids))
			len = sizeof(ids) - 1;
	}
	if (missing == 0)
		return ADMIN_OK;
	admin_err("%s: %ld row%s sealed under key id %s, which %s does not "
	    "hold: add each such key to the key file as one more line (the "
	    "programs open a row under any key the file holds; README, "
	    "\"Backups\") and run restore again; nothing was changed", what,
	    missing, missing == 1 ? " is" : "s are", ids,
	    admin_key_setting(cfg));
	return ADMIN_CONFIG;
}

/*
 * Opens the tokens of st's links: every one, or with newest_only the most
 * recently updated one.  *total is the number of links, *opened how many
 * of those tried opened.  Returns ADMIN_OK or a store failure (printed).
 */
static int
bk_open_links(struct store *st, int newest_only, long *total, long *opened)
{
	struct store_link_list	 l;
	struct store_link	 k;
	enum store_result	 r;
	size_t			 i, best = 0;
	int			 rc = ADMIN_OK;

	*total = *opened = 0;
	if (store_list_links(st, NULL, NULL, NULL, &l) != STORE_OK)
		return admin_store_fail(st, "reading the links");
	*total = (long)l.n;
	for (i = 0; i < l.n; i++) {
		if (newest_only) {
			if (l.v[i].updated_at > l.v[best].updated_at)
				best = i;
			if (i + 1 < l.n)
				continue;
		}
		r = store_link_get(st, &l.v[newest_only ? best : i].who, &k);
		if (r == STORE_OK)
			(*opened)++;
		store_link_free(&k);
		if (r == STORE_ERROR) {
			rc = admin_store_fail(st, "opening a link");
			break;
		}
	}
	store_link_list_free(&l);
	return rc;
}

/* --- backup ----------------------------------------------------------- */

struct bk_opts {
	long	 keep;		/* 0: keep every backup */
	int	 json;
};

static int
backup_opt(int c, const char *arg, void *v)
{
	struct bk_opts	*o = v;

	if (c == BK_OPT_JSON)
		o->json = 1;
	else if (c == BK_OPT_KEEP && admin_number(arg, 1, BK_KEEP_MAX,
	    &o->keep) == -1) {
		admin_err("backup: --keep takes a number of backups from 1 to "
		    "%d, not \"%.40s\"", BK_KEEP_MAX, arg);
		return admin_usage(backup_help.synopsis);
	}
	return ADMIN_OK;
}

/* What backup found in the copy, for its report. */
struct bk_report {
	char			 path[PATH_MAX];
	char			 sum_path[PATH_MAX];
	char			 sha256[2 * CRYPTO_HASHLEN + 1];
	long long		 bytes;
	long			 links;
	long			 opened;
	struct store_key_count	 kc[BK_CENSUS_MAX];
	size_t			 nkc;
	char			**removed;
	size_t			 nremoved;
};

/* DIR, created 0700 when missing.  Returns ADMIN_OK or ADMIN_FAIL after
 * one line. */
static int
bk_dir(const char *dir)
{
	struct stat	 sb;

	if (mkdir(dir, 0700) == 0)
		return ADMIN_OK;
	if (errno == EEXIST && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
		return ADMIN_OK;
	if (errno == EEXIST)
		admin_err("backup: %s is not a directory", dir);
	else
		admin_err("backup: cannot create directory %s: %s%s", dir,
		    strerror(errno), errno == ENOENT ? " (its parent must "
		    "exist)" : "");
	return ADMIN_FAIL;
}

/*
 * Checks the copy at tmp as restore would: read-only, integrity, schema
 * version (store_open_readonly), and the most recently updated link
 * opens.  Fills rep's figures.  Returns ADMIN_OK, or ADMIN_FAIL after
 * one line.
 */
static int
bk_verify(const struct config *cfg, const char *tmp, struct bk_report *rep)
{
	struct store	*st;
	char		 msg[256];
	int		 rc = ADMIN_FAIL, ic;

	if ((st = store_open_readonly(tmp, cfg->keyring)) == NULL) {
		admin_err("backup: the copy cannot be opened read-only (see "
		    "the line above)");
		return ADMIN_FAIL;
	}
	if ((ic = store_integrity_check(st, msg, sizeof(msg))) != 0) {
		admin_err("backup: the copy fails SQLite's integrity check: "
		    "%s", msg);
		goto out;
	}
	if (store_key_census(st, rep->kc, BK_CENSUS_MAX, &rep->nkc) !=
	    STORE_OK) {
		admin_err("backup: cannot count the copy's rows by key (see "
		    "the line above)");
		goto out;
	}
	if ((rc = bk_open_links(st, 1, &rep->links, &rep->opened)) !=
	    ADMIN_OK)
		goto out;
	if (rep->links > 0 && rep->opened == 0) {
		admin_err("backup: the newest link of the copy does not open "
		    "with the configured keys (see the line above)");
		rc = ADMIN_FAIL;
	}
out:
	store_close(st);
	return rc;
}

/* Writes "SHA256  NAME\n" (sha256sum's format) into rep->sum_path, by a
 * temporary file in dir renamed over it.  Returns ADMIN_OK or ADMIN_FAIL
 * after one line. */
static int
bk_write_sum(const char *dir, const char *name, struct bk_report *rep)
{
	char	 tmp[PATH_MAX], line[2 * CRYPTO_HASHLEN + NAME_MAX + 8];
	int	 fd, n;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.forcelink-sum-XXXXXX",
	    dir) >= sizeof(tmp))
		return ADMIN_FAIL;
	n = snprintf(line, sizeof(line), "%s  %s\n", rep->sha256, name);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		admin_err("backup: cannot create a file in %s: %s", dir,
		    strerror(errno));
		return ADMIN_FAIL;
	}
	if (fchmod(fd, 0600) == -1 || write(fd, line, (size_t)n) != n ||
	    fsync(fd) == -1 || close(fd) == -1) {
		admin_err("backup: cannot write %s: %s", tmp, strerror(errno));
		(void)unlink(tmp);
		return ADMIN_FAIL;
	}
	if (rename(tmp, rep->sum_path) == -1) {
		admin_err("backup: cannot rename %s to %s: %s", tmp,
		    rep->sum_path, strerror(errno));
		(void)unlink(tmp);
		return ADMIN_FAIL;
	}
	return ADMIN_OK;
}

struct bk_entry {
	char	 stamp[BK_STAMP_LEN + 1];
	int	 seq;
	char	*name;
};

/* Newest first. */
static int
bk_entry_cmp(const void *a, const void *b)
{
	const struct bk_entry	*x = a, *y = b;
	int			 c;

	if ((c = strcmp(y->stamp, x->stamp)) != 0)
		return c;
	return (y->seq > x->seq) - (y->seq < x->seq);
}

/*
 * --keep: removes the backups of dir past the keep newest, except
 * new_name, with their checksum files; records the names removed in rep.
 * Returns ADMIN_OK or ADMIN_FAIL after one line per failure.
 */
static int
bk_retain(const char *dir, long keep, const char *new_name,
    struct bk_report *rep)
{
	struct bk_entry	*v = NULL, *nv;
	struct dirent	*de;
	DIR		*d;
	char		 p[PATH_MAX];
	size_t		 n = 0, cap = 0, i;
	int		 rc = ADMIN_OK;

	if ((d = opendir(dir)) == NULL) {
		admin_err("backup: --keep: cannot read %s: %s", dir,
		    strerror(errno));
		return ADMIN_FAIL;
	}
	while ((de = readdir(d)) != NULL) {
		if (n == cap) {
			cap = cap == 0 ? 32 : cap * 2;
			if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL) {
				rc = ADMIN_FAIL;
				break;
			}
			v = nv;
		}
		if (!bk_name_parse(de->d_name, v[n].stamp, &v[n].seq))
			continue;
		if ((v[n].name = strdup(de->d_name)) == NULL) {
			rc = ADMIN_FAIL;
			break;
		}
		n++;
	}
	closedir(d);
	if (rc != ADMIN_OK) {
		admin_err("backup: --keep: out of memory");
		goto out;
	}
	qsort(v, n, sizeof(*v), bk_entry_cmp);
	if (n > (size_t)keep &&
	    (rep->removed = calloc(n - (size_t)keep, sizeof(char *))) == NULL) {
		admin_err("backup: --keep: out of memory");
		rc = ADMIN_FAIL;
		goto out;
	}
	for (i = (size_t)keep; i < n; i++) {
		if (strcmp(v[i].name, new_name) == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, v[i].name);
		if (unlink(p) == -1 && errno != ENOENT) {
			admin_err("backup: --keep: cannot remove %s: %s", p,
			    strerror(errno));
			rc = ADMIN_FAIL;
			continue;
		}
		snprintf(p, sizeof(p), "%s/%s.sha256", dir, v[i].name);
		(void)unlink(p);
		rep->removed[rep->nremoved++] = v[i].name;
		v[i].name = NULL;
	}
out:
	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	return rc;
}

static int
backup_print(const struct bk_opts *o, const struct bk_report *rep)
{
	struct json_object	*j, *a, *e;
	char			*p, *q = NULL;
	size_t			 i;

	if (!o->json) {
		/* The directory is the admin's argument: no control byte
		 * reaches the terminal. */
		if ((p = admin_clean(rep->path)) == NULL ||
		    (q = admin_clean(rep->sum_path)) == NULL) {
			free(p);
			admin_err("out of memory");
			return ADMIN_FAIL;
		}
		printf("backed up to %s (%lld bytes, %ld link%s%s; SHA-256 in "
		    "%s)", p, rep->bytes, rep->links,
		    rep->links == 1 ? "" : "s", rep->links == 0 ?
		    ", none to open" : ", the newest opens", q);
		free(p);
		free(q);
		if (rep->nremoved > 0)
			printf("; removed %zu older backup%s", rep->nremoved,
			    rep->nremoved == 1 ? "" : "s");
		putchar('\n');
		return fflush(stdout) == 0 && !ferror(stdout) ? ADMIN_OK :
		    ADMIN_FAIL;
	}
	if ((j = json_object_new_object()) == NULL)
		return admin_json_print(NULL) == 0 ? ADMIN_OK : ADMIN_FAIL;
	json_object_object_add(j, "file", admin_json_str(rep->path));
	json_object_object_add(j, "checksum_file",
	    admin_json_str(rep->sum_path));
	json_object_object_add(j, "sha256", admin_json_str(rep->sha256));
	json_object_object_add(j, "bytes", json_object_new_int64(rep->bytes));
	json_object_object_add(j, "schema_version",
	    json_object_new_int(store_schema_version()));
	json_object_object_add(j, "links", json_object_new_int64(rep->links));
	json_object_object_add(j, "newest_link_opens", rep->links == 0 ?
	    NULL : json_object_new_boolean(rep->opened > 0));
	if ((a = json_object_new_array()) != NULL)
		for (i = 0; i < rep->nkc; i++) {
			if ((e = json_object_new_object()) == NULL)
				break;
			json_object_object_add(e, "key_id",
			    admin_json_str(rep->kc[i].key_id));
			json_object_object_add(e, "rows", json_object_new_int64(
			    store_key_count_rows(&rep->kc[i])));
			json_object_array_add(a, e);
		}
	json_object_object_add(j, "keys", a);
	if ((a = json_object_new_array()) != NULL)
		for (i = 0; i < rep->nremoved; i++)
			json_object_array_add(a,
			    admin_json_str(rep->removed[i]));
	json_object_object_add(j, "removed", a);
	return admin_json_print(j) == 0 ? ADMIN_OK : ADMIN_FAIL;
}

/*
 * The first number after every backup of dir with time stamp stamp (1
 * when there is none): a name that --keep freed is not used again, so
 * that the names' order stays the backups' order.
 */
static int
bk_next_seq(const char *dir, const char *stamp)
{
	struct dirent	*de;
	DIR		*d;
	char		 s[BK_STAMP_LEN + 1];
	int		 seq, next = 1;

	if ((d = opendir(dir)) == NULL)
		return 1;
	while ((de = readdir(d)) != NULL)
		if (bk_name_parse(de->d_name, s, &seq) &&
		    strcmp(s, stamp) == 0 && seq >= next)
			next = seq + 1;
	closedir(d);
	return next;
}

/*
 * Copies st's database into dir under the next free name of this
 * second, checks it and writes its checksum.  Fills rep.  Returns
 * ADMIN_OK or the exit status (printed).
 */
static int
bk_make(const struct config *cfg, struct store *st, const char *dir,
    char name[NAME_MAX + 1], struct bk_report *rep)
{
	enum store_result	 sr;
	struct stat		 sb;
	struct tm		 tm;
	time_t			 now;
	char			 tmp[PATH_MAX], stamp[BK_STAMP_LEN + 1];
	int			 fd = -1, rc = ADMIN_FAIL, seq;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.forcelink-backup-XXXXXX",
	    dir) >= sizeof(tmp)) {
		admin_err("backup: %s: name too long", dir);
		return ADMIN_USAGE;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		admin_err("backup: cannot create a file in %s: %s", dir,
		    strerror(errno));
		return ADMIN_FAIL;
	}
	if (fchmod(fd, 0600) == -1) {
		admin_err("backup: chmod %s: %s", tmp, strerror(errno));
		goto out;
	}
	if ((sr = store_backup(st, tmp)) != STORE_OK) {
		if (sr == STORE_BUSY) {
			admin_err("backup: the database is locked: another "
			    "process held its lock beyond the busy timeout; "
			    "try again");
			rc = ADMIN_BUSY;
		} else
			admin_err("backup: copying the database failed (see "
			    "the line above)");
		goto out;
	}
	if (fsync(fd) == -1 || fstat(fd, &sb) == -1) {
		admin_err("backup: cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	rep->bytes = (long long)sb.st_size;
	if ((rc = bk_verify(cfg, tmp, rep)) != ADMIN_OK)
		goto out;
	rc = ADMIN_FAIL;
	if (bk_sha256_fd(fd, rep->sha256) == -1) {
		admin_err("backup: cannot read %s: %s", tmp, strerror(errno));
		goto out;
	}
	now = time(NULL);
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) == 0)
		goto out;
	for (seq = bk_next_seq(dir, stamp); seq <= BK_SEQ_MAX; seq++) {
		if (seq == 1)
			snprintf(name, NAME_MAX + 1, BK_PREFIX "%s.db", stamp);
		else
			snprintf(name, NAME_MAX + 1, BK_PREFIX "%s-%d.db",
			    stamp, seq);
		if ((size_t)snprintf(rep->path, sizeof(rep->path), "%s/%s",
		    dir, name) >= sizeof(rep->path) ||
		    (size_t)snprintf(rep->sum_path, sizeof(rep->sum_path),
		    "%s.sha256", rep->path) >= sizeof(rep->sum_path)) {
			admin_err("backup: %s: name too long", dir);
			goto out;
		}
		if (bk_rename_new(tmp, rep->path) == 0)
			break;
		if (errno != EEXIST) {
			admin_err("backup: cannot rename %s to %s: %s", tmp,
			    rep->path, strerror(errno));
			goto out;
		}
	}
	if (seq > BK_SEQ_MAX) {
		admin_err("backup: %d backups in %s this second already",
		    BK_SEQ_MAX, dir);
		goto out;
	}
	tmp[0] = '\0';		/* renamed: nothing to clean up */
	if (bk_write_sum(dir, name, rep) != ADMIN_OK ||
	    bk_sync_dir(dir) == -1)
		goto out;
	rc = ADMIN_OK;
out:
	if (fd != -1)
		close(fd);
	if (tmp[0] != '\0')
		bk_unlink_db(tmp);
	return rc;
}

/* backup and restore are of a SQLite file: a PostgreSQL store is backed
 * up by its server's tools.  Returns ADMIN_OK or ADMIN_CONFIG (said). */
static int
bk_sqlite_only(const struct config *cfg, const char *what)
{
	if (!store_is_uri(cfg->db_path))
		return ADMIN_OK;
	admin_err("%s: FORCELINK_DB is a PostgreSQL database: back it up "
	    "and restore it with the server's tools (pg_dump and pg_restore, "
	    "or base backups with WAL archiving); the sealed tokens need the "
	    "key file as well, which is never in the database", what);
	return ADMIN_CONFIG;
}

int
cmd_backup(int argc, char *argv[])
{
	struct bk_opts		 o = { 0, 0 };
	struct bk_report	*rep = NULL;
	struct config		 cfg;
	struct store		*st = NULL;
	char			 name[NAME_MAX + 1];
	const char		*dir;
	size_t			 i;
	int			 rc, first, done, loaded = 0;

	rc = admin_getopt(argc, argv, "", backup_longopts, &backup_help,
	    backup_opt, &o, &first, &done);
	if (rc != ADMIN_OK || done)
		return rc;
	if (argc - first != 1) {
		admin_err("backup: %s", argc == first ? "name the directory "
		    "to back up into" : "takes one directory");
		return admin_usage(backup_help.synopsis);
	}
	dir = argv[first];
	if (*dir == '\0') {
		admin_err("backup: the directory name is empty");
		return admin_usage(backup_help.synopsis);
	}
	if ((rep = calloc(1, sizeof(*rep))) == NULL) {
		admin_err("out of memory");
		return ADMIN_FAIL;
	}
	if ((rc = admin_config(&cfg)) != ADMIN_OK)
		goto out;
	loaded = 1;
	if ((rc = bk_sqlite_only(&cfg, "backup")) != ADMIN_OK ||
	    (rc = admin_open(&cfg, &st)) != ADMIN_OK ||
	    (rc = bk_dir(dir)) != ADMIN_OK ||
	    (rc = bk_make(&cfg, st, dir, name, rep)) != ADMIN_OK)
		goto out;
	/* The backup is made; a failure to remove old ones is reported
	 * (exit 1) after it is named. */
	if (o.keep > 0)
		rc = bk_retain(dir, o.keep, name, rep);
	if (backup_print(&o, rep) != ADMIN_OK)
		rc = ADMIN_FAIL;
out:
	store_close(st);
	if (loaded)
		config_free(&cfg);
	for (i = 0; i < rep->nremoved; i++)
		free(rep->removed[i]);
	free(rep->removed);
	free(rep);
	return rc;
}

/* --- restore ---------------------------------------------------------- */

static int
restore_opt(int c, const char *arg, void *v)
{
	(void)arg;
	if (c == BK_OPT_FORCE)
		*(int *)v = 1;
	return ADMIN_OK;
}

/*
 * FILE.sha256, when it exists, must hold FILE's SHA-256 (sha256sum's
 * format: the digest first).  Sets *checked.  Returns ADMIN_OK, or
 * ADMIN_FAIL after one line.
 */
static int
rs_checksum(const char *file, int *checked)
{
	char	 sum[PATH_MAX], buf[256], hex[2 * CRYPTO_HASHLEN + 1];
	ssize_t	 n;
	int	 fd;

	*checked = 0;
	if ((size_t)snprintf(sum, sizeof(sum), "%s.sha256", file) >=
	    sizeof(sum))
		return ADMIN_OK;
	if ((fd = open(sum, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		if (errno == ENOENT)
			return ADMIN_OK;
		admin_err("restore: cannot read %s: %s", sum, strerror(errno));
		return ADMIN_FAIL;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	if (n < 2 * CRYPTO_HASHLEN || strspn(buf, "0123456789abcdef") <
	    2 * CRYPTO_HASHLEN) {
		admin_err("restore: %s does not hold a SHA-256 (64 lowercase "
		    "hex digits first)", sum);
		return ADMIN_FAIL;
	}
	if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1 ||
	    bk_sha256_fd(fd, hex) == -1) {
		admin_err("restore: cannot read %s: %s", file, strerror(errno));
		if (fd != -1)
			close(fd);
		return ADMIN_FAIL;
	}
	close(fd);
	if (memcmp(hex, buf, 2 * CRYPTO_HASHLEN) != 0) {
		admin_err("restore: %s does not match its checksum %s: the "
		    "backup is damaged or was altered; nothing was changed",
		    file, sum);
		return ADMIN_FAIL;
	}
	*checked = 1;
	return ADMIN_OK;
}

/* FILE must be a forcelink database no newer than this program.
 * Returns ADMIN_OK or the exit status (printed). */
static int
rs_probe(const char *file)
{
	int	 v = 0;

	switch (store_probe(file, &v)) {
	case STORE_PROBE_OK:
		break;
	case STORE_PROBE_MISSING:
		admin_err("restore: %s: no such file", file);
		return ADMIN_FAIL;
	case STORE_PROBE_BUSY:
		admin_err("restore: %s is locked by another process", file);
		return ADMIN_BUSY;
	case STORE_PROBE_ERROR:
		admin_err("restore: %s is not a database SQLite can read (see "
		    "the line above); nothing was changed", file);
		return ADMIN_FAIL;
	}
	if (v == 0) {
		admin_err("restore: %s is not a forcelink database (schema "
		    "version 0); nothing was changed", file);
		return ADMIN_FAIL;
	}
	if (v > store_schema_version()) {
		admin_err("restore: %s has schema version %d, newer than this "
		    "forcelink-admin knows (%d): use the forcelink that wrote "
		    "it; nothing was changed", file, v,
		    store_schema_version());
		return ADMIN_FAIL;
	}
	return ADMIN_OK;
}

/*
 * A private file beside the database for the staged copy: mode 0600
 * and, run as root, owned like the directory (so that, renamed into
 * place, the service's user owns the database, and SQLite gives its
 * -wal and -shm that owner too).  Returns the descriptor (path filled),
 * or -1 after one line.
 */
static int
rs_stage_file(const struct config *cfg, char path[PATH_MAX])
{
	struct stat	 sb;
	char		 dir[PATH_MAX];
	int		 fd;

	if ((size_t)snprintf(path, PATH_MAX, "%s.restore-XXXXXX",
	    cfg->db_path) >= PATH_MAX) {
		admin_err("restore: FORCELINK_DB is too long");
		return -1;
	}
	bk_dirname(cfg->db_path, dir);
	if ((fd = mkostemp(path, O_CLOEXEC)) == -1) {
		admin_err("restore: cannot create a file in %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	if (fchmod(fd, 0600) == -1 || stat(dir, &sb) == -1 ||
	    (geteuid() == 0 && (sb.st_uid != 0 || sb.st_gid != 0) &&
	    fchown(fd, sb.st_uid, sb.st_gid) == -1)) {
		admin_err("restore: cannot give %s the mode 0600 and the "
		    "owner of %s: %s", path, dir, strerror(errno));
		close(fd);
		(void)unlink(path);
		return -1;
	}
	return fd;
}

/*
 * The staged copy: file copied into stage (a fresh database), migrated
 * when older, then the census, the integrity check, and every link must
 * open.  Returns ADMIN_OK with *links, or the exit status (printed).
 */
static int
rs_stage(const struct config *cfg, const char *file, const char *stage,
    long *links)
{
	struct store_key_count	 kc[BK_CENSUS_MAX];
	struct store		*st;
	enum store_result	 sr;
	char			 msg[256];
	size_t			 nkc;
	long			 opened;
	int			 rc;

	if ((st = store_open_keyring(stage, cfg->keyring)) == NULL) {
		admin_err("restore: cannot open the copy %s (see the line "
		    "above)", stage);
		return ADMIN_FAIL;
	}
	sr = store_restore(st, file);
	store_close(st);
	if (sr != STORE_OK) {
		admin_err("restore: copying %s failed (see the line above); "
		    "nothing was changed", file);
		return sr == STORE_BUSY ? ADMIN_BUSY : ADMIN_FAIL;
	}
	/* Opened again: an older schema is migrated here, in the copy. */
	if ((st = store_open_keyring(stage, cfg->keyring)) == NULL) {
		admin_err("restore: cannot open or migrate the copy of %s "
		    "(see the line above); nothing was changed", file);
		return ADMIN_FAIL;
	}
	if ((rc = bk_census(cfg, st, file, kc, &nkc)) != ADMIN_OK)
		goto out;
	if (store_integrity_check(st, msg, sizeof(msg)) != 0) {
		admin_err("restore: %s fails SQLite's integrity check: %s; "
		    "nothing was changed", file, msg);
		rc = ADMIN_FAIL;
		goto out;
	}
	if ((rc = bk_open_links(st, 0, links, &opened)) != ADMIN_OK)
		goto out;
	if (opened != *links) {
		admin_err("restore: %ld of the %ld links in %s do not open "
		    "although their keys are configured (altered rows; see "
		    "the lines above); nothing was changed", *links - opened,
		    *links, file);
		rc = ADMIN_FAIL;
	}
out:
	store_close(st);
	return rc;
}

int
cmd_restore(int argc, char *argv[])
{
	struct config	 cfg;
	struct store	*st = NULL;
	struct stat	 sb;
	enum store_result sr;
	char		 stage[PATH_MAX];
	const char	*file;
	char		*p, *q = NULL;
	long		 links = 0, total, opened;
	int		 rc, first, done, force = 0, loaded = 0, fd = -1;
	int		 live, checked;

	stage[0] = '\0';
	rc = admin_getopt(argc, argv, "", restore_longopts, &restore_help,
	    restore_opt, &force, &first, &done);
	if (rc != ADMIN_OK || done)
		return rc;
	if (argc - first != 1 || *argv[first] == '\0') {
		admin_err("restore: %s", argc == first ? "name the backup "
		    "file to restore" : "takes one file");
		return admin_usage(restore_help.synopsis);
	}
	file = argv[first];
	if ((rc = admin_config(&cfg)) != ADMIN_OK)
		goto out;
	loaded = 1;
	if ((rc = bk_sqlite_only(&cfg, "restore")) != ADMIN_OK ||
	    (rc = rs_checksum(file, &checked)) != ADMIN_OK ||
	    (rc = rs_probe(file)) != ADMIN_OK)
		goto out;
	if (stat(cfg.db_path, &sb) == 0)
		live = 1;
	else if (errno == ENOENT)
		live = 0;
	else {
		admin_err("restore: %s: %s", cfg.db_path, strerror(errno));
		rc = ADMIN_FAIL;
		goto out;
	}
	if (live && !force) {
		admin_err("restore: database %s exists: restore replaces it "
		    "only with --force (the services may keep running); "
		    "nothing was changed", cfg.db_path);
		rc = ADMIN_FAIL;
		goto out;
	}
	rc = ADMIN_FAIL;
	if ((fd = rs_stage_file(&cfg, stage)) == -1) {
		stage[0] = '\0';
		goto out;
	}
	if ((rc = rs_stage(&cfg, file, stage, &links)) != ADMIN_OK)
		goto out;
	rc = ADMIN_FAIL;
	if (!live) {
		/* The copy, closed (so checkpointed), becomes the database:
		 * its -wal and -shm go, it is made durable, then renamed,
		 * never over a database that appeared meanwhile. */
		bk_unlink_sidecars(stage);
		if (fsync(fd) == -1) {
			admin_err("restore: cannot write %s: %s", stage,
			    strerror(errno));
			goto out;
		}
		if (bk_rename_new(stage, cfg.db_path) == -1) {
			admin_err("restore: cannot rename %s to %s: %s%s",
			    stage, cfg.db_path, strerror(errno),
			    errno == EEXIST ? " (a database appeared "
			    "meanwhile: run restore again with --force)" : "");
			goto out;
		}
		stage[0] = '\0';
		if (bk_sync_dir_of(cfg.db_path) == -1 ||
		    (rc = admin_lock_file(&cfg)) != ADMIN_OK ||
		    (rc = admin_open(&cfg, &st)) != ADMIN_OK)
			goto out;
	} else {
		/* A file SQLite cannot open is not written into: the man
		 * page says to move it away and restore into none. */
		if ((rc = admin_open(&cfg, &st)) != ADMIN_OK) {
			admin_err("restore: the database was not replaced; if "
			    "it is damaged, stop the services, move it and its "
			    "-wal and -shm away, and restore without --force");
			goto out;
		}
		if ((rc = admin_lock_file(&cfg)) != ADMIN_OK)
			goto out;
		if ((sr = store_restore(st, stage)) != STORE_OK) {
			if (sr == STORE_BUSY)
				rc = admin_store_fail(st,
				    "replacing the database");
			else {
				admin_err("restore: replacing the database "
				    "failed (see the line above); it is as "
				    "it was");
				rc = ADMIN_FAIL;
			}
			goto out;
		}
	}
	/* What the services now read: every link must open. */
	if ((rc = bk_open_links(st, 0, &total, &opened)) != ADMIN_OK)
		goto out;
	if (opened != total) {
		admin_err("restore: %ld of the %ld links of %s do not open "
		    "after the restore (see the lines above)", total - opened,
		    total, cfg.db_path);
		rc = ADMIN_FAIL;
		goto out;
	}
	if ((p = admin_clean(file)) == NULL ||
	    (q = admin_clean(cfg.db_path)) == NULL) {
		free(p);
		admin_err("out of memory");
		rc = ADMIN_FAIL;
		goto out;
	}
	printf("restored %s into %s (%ld link%s, every one opens; %s)\n",
	    p, q, total, total == 1 ? "" : "s", checked ?
	    "checksum verified" : "no checksum file");
	free(p);
	free(q);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		rc = ADMIN_FAIL;
		goto out;
	}
	rc = ADMIN_OK;
out:
	store_close(st);
	if (fd != -1)
		close(fd);
	if (stage[0] != '\0')
		bk_unlink_db(stage);
	if (loaded)
		config_free(&cfg);
	return rc;
}

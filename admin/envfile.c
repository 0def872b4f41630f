/*
 * envfile: the --env-file option, KEY=VALUE lines as in a systemd
 * EnvironmentFile, so an admin runs the tool with exactly the settings
 * the service runs with.
 *
 * Accepted: blank lines; comment lines starting with '#' or ';'; lines
 * KEY=VALUE, where KEY is [A-Za-z_][A-Za-z0-9_]*, white space around KEY,
 * '=' and an unquoted VALUE is dropped, and VALUE may be in single quotes
 * (taken as is) or double quotes (where \" \\ \$ \` and \n mean '"', '\',
 * '$', '`' and a newline).  Anything else is an error naming the file and
 * line, and nothing from the file is applied.
 *
 * The file's settings replace the environment's.  For each NAME the file
 * sets, the environment's NAME_FILE (or, for a NAME_FILE, its NAME) is
 * dropped unless the file sets that too, so "FORCELINK_KEY_FILE" in the
 * file is not refused because the shell happened to export FORCELINK_KEY.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "buf.h"
#include "crypto.h"

/* Largest file accepted, longest name, most settings. */
#define ENV_FILE_MAX	(64 * 1024)
#define ENV_NAME_MAX	128
#define ENV_MAX		256

struct env_entry {
	char	 name[ENV_NAME_MAX + 1];
	char	*value;		/* allocated; may be a secret */
};

struct env_list {
	struct env_entry	 v[ENV_MAX];
	size_t			 n;
};

static void
env_list_free(struct env_list *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		crypto_free_secret(l->v[i].value);
	l->n = 0;
}

/* Reads the whole file into b.  Returns 0, or -1 with err filled. */
static int
env_read(const char *path, struct buf *b, char *err, size_t errsz)
{
	char	 chunk[4096];
	ssize_t	 n;
	int	 fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(b, chunk, (size_t)n) == -1) {
			snprintf(err, errsz, "%s: larger than %d bytes", path,
			    ENV_FILE_MAX);
			goto out;
		}
	if (n == -1) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (b->len > 0 && memchr(b->data, '\0', b->len) != NULL) {
		snprintf(err, errsz, "%s: holds a NUL byte", path);
		goto out;
	}
	rc = 0;
out:
	crypto_wipe(chunk, sizeof(chunk));
	close(fd);
	return rc;
}

static int
env_name_ok(const char *s, size_t n)
{
	size_t	 i;

	if (n == 0 || n > ENV_NAME_MAX || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' &&
		    s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_'))
			return 0;
	return 1;
}

/*
 * Decodes the value part of a line (p to end, no newline) into out,
 * which has room for end - p + 1 bytes.  Returns 0, or -1 with a reason
 * in *why; out is a string either way.
 */
static int
env_value(const char *p, const char *end, char *out, const char **why)
{
	char	 q;
	size_t	 n = 0;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' ||
	    end[-1] == '\r'))
		end--;
	if (p < end && (*p == '"' || *p == '\'')) {
		q = *p++;
		for (; p < end && *p != q; p++) {
			if (q == '"' && *p == '\\' && p + 1 < end) {
				p++;
				if (*p == 'n')
					out[n++] = '\n';
				else if (strchr("\"\\$`", *p) != NULL)
					out[n++] = *p;
				else {
					out[n++] = '\\';
					out[n++] = *p;
				}
			} else
				out[n++] = *p;
		}
		/* Terminated on every path: the caller wipes it as a
		 * string. */
		out[n] = '\0';
		if (p == end) {
			*why = "unterminated quote";
			return -1;
		}
		if (p + 1 != end) {
			*why = "text after the closing quote";
			return -1;
		}
	} else {
		memcpy(out, p, (size_t)(end - p));
		n = (size_t)(end - p);
	}
	out[n] = '\0';
	return 0;
}

/* Parses one line into l.  Returns 0, or -1 with a reason in *why. */
static int
env_line(const char *p, const char *end, struct env_list *l,
    const char **why)
{
	struct env_entry	*e;
	const char		*eq, *ne;
	size_t			 i;
	char			*v;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p == '#' || *p == ';' ||
	    (end - p == 1 && *p == '\r'))
		return 0;
	if ((eq = memchr(p, '=', (size_t)(end - p))) == NULL) {
		*why = "not KEY=VALUE";
		return -1;
	}
	for (ne = eq; ne > p && (ne[-1] == ' ' || ne[-1] == '\t'); ne--)
		;
	if (!env_name_ok(p, (size_t)(ne - p))) {
		*why = "not a variable name before '='";
		return -1;
	}
	if ((v = calloc(1, (size_t)(end - eq) + 2)) == NULL) {
		*why = "out of memory";
		return -1;
	}
	if (env_value(eq + 1, end, v, why) == -1) {
		crypto_free_secret(v);
		return -1;
	}
	/* A name set twice: the last line wins. */
	for (i = 0; i < l->n; i++)
		if (strlen(l->v[i].name) == (size_t)(ne - p) &&
		    memcmp(l->v[i].name, p, (size_t)(ne - p)) == 0)
			break;
	if (i == ENV_MAX) {
		crypto_free_secret(v);
		*why = "too many settings";
		return -1;
	}
	e = &l->v[i];
	if (i == l->n) {
		memcpy(e->name, p, (size_t)(ne - p));
		e->name[ne - p] = '\0';
		e->value = NULL;
		l->n++;
	}
	crypto_free_secret(e->value);
	e->value = v;
	return 0;
}

/* Whether l sets name. */
static int
env_sets(const struct env_list *l, const char *name)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return 1;
	return 0;
}

/* Applies l to the environment (see the top of this file).  Returns 0,
 * or -1 with err filled. */
static int
env_apply(const struct env_list *l, char *err, size_t errsz)
{
	char	 partner[ENV_NAME_MAX + 8];
	size_t	 i, n;

	for (i = 0; i < l->n; i++) {
		n = strlen(l->v[i].name);
		if (n > 5 && strcmp(l->v[i].name + n - 5, "_FILE") == 0)
			snprintf(partner, sizeof(partner), "%.*s", (int)(n - 5),
			    l->v[i].name);
		else
			snprintf(partner, sizeof(partner), "%s_FILE",
			    l->v[i].name);
		if (!env_sets(l, partner))
			(void)unsetenv(partner);
		if (setenv(l->v[i].name, l->v[i].value, 1) == -1) {
			snprintf(err, errsz, "%s: %s", l->v[i].name,
			    strerror(errno));
			return -1;
		}
	}
	return 0;
}

int
envfile_load(const char *path, char *err, size_t errsz)
{
	struct env_list	*l = NULL;
	struct buf	 b;
	const char	*p, *nl, *end, *why = NULL;
	int		 line, rc = -1;

	buf_init(&b, ENV_FILE_MAX);
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	if (env_read(path, &b, err, errsz) == -1)
		goto out;
	p = b.data != NULL ? b.data : "";
	end = p + b.len;
	for (line = 1; p < end; line++, p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (env_line(p, nl, l, &why) == -1) {
			snprintf(err, errsz, "%s:%d: %s", path, line, why);
			goto out;
		}
	}
	rc = env_apply(l, err, errsz);
out:
	if (l != NULL)
		env_list_free(l);
	free(l);
	buf_free_secret(&b);
	return rc;
}

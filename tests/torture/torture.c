/*
 * torture: counted fault injection over forcelink's request paths
 * (issue 3), the method of SQLite's and curl's torture tests.
 *
 * The paths run through the real handlers (handlers.h) against a real
 * HTTPS Salesforce (peer.h) and a real SQLite file:
 *  - link:   GET /oauth/callback replacing an existing link (state and
 *            cookie check, code exchange, userinfo, store, revoke of the
 *            old refresh token, success page);
 *  - search: POST /contact "smith" with an expired access token
 *            (signature, replay cache, query, 401, single-flight refresh
 *            with rotation, store update, query again, answer);
 *  - logout: POST /contact "logout" (revoke, delete, answer);
 *  - confirm: POST /contact "confirm CODE" for a login whose verified
 *            grant waits for its code (FORCELINK_LINK_PROOF=code): the
 *            code checked, the grant taken from its login and stored in
 *            place of the old link in one transaction, the old refresh
 *            token revoked, answer;
 *  - share, more, steal: POST /slack/actions, a button of Alice's
 *            search results (made in the set-up by search_run): Share
 *            (her card posted in the channel at the response_url), More
 *            (the next page at OFFSET 1, its row, the post), and Share
 *            pressed on Mallory's results (refused);
 *  - submit: POST /slack/actions, the view_submission of Alice's Case
 *            form (opened in the set-up by casejob_open): CREATING, the
 *            composite create, CREATED, views.update.
 * For each path and each fault kind (fault.h) the run is repeated with
 * the fault on event N = 1, 2, ... until a run completes without reaching
 * event N.  For the SQLite faults every run starts with the WAL one
 * commit short of SQLite's automatic checkpoint, so that the faults also
 * fall on a checkpoint inside a request.  After every run:
 *  - the handler returned (a crash ends the group: the parent reports
 *    it with the run that crashed);
 *  - everything forcelink allocated in the handler was freed, and after
 *    the session is closed, everything SQLite allocated and every file
 *    descriptor too;
 *  - PRAGMA integrity_check on a fresh connection says "ok";
 *  - the link is exactly the old one, exactly the new one (or, for
 *    logout, gone), never anything in between;
 *  - confirm: the grant is stored (the login no longer holds it) or it
 *    still waits for its code (or, were it dropped, was revoked): never
 *    a live grant that is neither;
 *  - the answer is complete and readable: a success only when the path
 *    succeeded, otherwise an error that neither claims success nor
 *    blames what did not happen (Salesforce refusing, a forged reply, a
 *    wrong key), and no secret in it;
 *  - Salesforce saw what the outcome implies: a kept link's refresh
 *    token was not revoked, a deleted link's was;
 *  - the worker is not poisoned: the next request on the same session,
 *    without faults, succeeds (no transaction left open, no statement
 *    left unreset, no lock held); after a confirm that stored nothing,
 *    that is the same confirm again.
 * At the end of a group no secret may appear in the log it wrote.
 *
 * Each group (path, kind) runs in a child process with its own peer,
 * database and log, so a crash or a sanitizer report ends one group and
 * is reported with the run that caused it.  Output: one line per group,
 * "torture PATH KIND: N runs, F failures", then "torture: P passed, F
 * failed (N runs)".
 *
 * Slack's 3-second rule is switched off here (fiber_set_deadline is
 * wrapped): under valgrind a run may take longer than 2.5 s, and the
 * deferred answer goes to a response_url this test does not serve.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <fcgiapp.h>
#include <json-c/json.h>
#include <sqlite3.h>

#include "casefrm.h"
#include "casejob.h"
#include "config.h"
#include "crypto.h"
#include "fault.h"
#include "fiber.h"
#include "handlers.h"
#include "http.h"
#include "peer.h"
#include "scenario.h"
#include "search.h"
#include "session.h"
#include "store.h"

/* Failures described per group; the rest are only counted. */
#define SHOW_FAILURES	8
#define OUT_MAX		(256 * 1024)
/* SQLite's automatic checkpoint, in WAL frames (its default). */
#define WAL_CHECKPOINT_FRAMES	1000
#define ENV_MAX		12

enum path {
	PATH_LINK,
	PATH_SEARCH,
	PATH_LOGOUT,
	PATH_CONFIRM,
	PATH_SHARE,
	PATH_MORE,
	PATH_STEAL,
	PATH_SUBMIT,
	PATH__MAX
};

static const char *const path_names[PATH__MAX] = {
	"link", "search", "logout", "confirm", "share", "more",
	"steal", "submit"
};

/* The paths of POST /slack/actions: a button pressed in a search's
 * results, answered at the response_url. */
#define PATH_IS_ACTION(p)	((p) == PATH_SHARE || (p) == PATH_MORE || \
				 (p) == PATH_STEAL)
/* The paths answered at the peer's response_url (and Web API). */
#define PATH_SLACK(p)		(PATH_IS_ACTION(p) || (p) == PATH_SUBMIT)

/* What the answer said. */
enum outcome {
	OUT_SUCCESS,		/* the path's success */
	OUT_ERROR,		/* a readable error */
	OUT_UNCHANGED,		/* logout: "your link is unchanged" */
	OUT_NOT_LINKED,		/* logout: "you are not linked" */
	OUT_BAD			/* anything else: a failure of the run */
};

/* The link after a run. */
enum row {
	ROW_ABSENT,
	ROW_OLD,		/* exactly the link the run started with */
	ROW_NEW,		/* exactly the link the code bought */
	ROW_REFRESHED,		/* the old link with the refreshed tokens */
	ROW_BROKEN		/* anything else */
};

static const char *const row_names[] = {
	"absent", "old", "new", "refreshed", "broken"
};

/* A group's progress, shared with the parent through an anonymous
 * mapping so that it survives the child's crash. */
struct progress {
	long	 runs;
	long	 failures;
	long	 current;	/* N of the run under way */
	int	 finished;
};

/* A FastCGI request made of plain memory, with the streams libfcgi's
 * FCGX_GetStr and FCGX_PutStr read and write. */
struct fake {
	FCGX_Request	 req;
	FCGX_Stream	 in, out, err;
	char		*envp[ENV_MAX + 1];
	char		 env[ENV_MAX][512];
	int		 nenv;
	unsigned char	 body[8192];
	size_t		 bodylen;
	unsigned char	 outbuf[OUT_MAX + 1];
	unsigned char	 errbuf[256];
};

static struct config		 cfg;
static struct crypto_key	 cfg_key;
static const struct slack_user	 alice = { "", SC_TEAM, SC_USER };
static const struct slack_user	 mallory = { "", SC_TEAM, SC_MALLORY };
/* The key of Alice's search row, made in the set-up (share, more). */
static char			 alice_key[STORE_ACTION_KEY_LEN + 1];
/* Mallory's (steal: Alice presses his Share button). */
static char			 mallory_key[STORE_ACTION_KEY_LEN + 1];
/* The key of Alice's Case form (submit). */
static char			 case_key[STORE_ACTION_KEY_LEN + 1];
static char			 hook_prefix[80], hook_url[160];
static char			 workdir[256];
static char			 certdir[300];
static char			 dbpath[PATH_MAX];
static char			 logpath[PATH_MAX];
static char			 cafile[PATH_MAX];
static unsigned char		*tmpl, *tmpl_wal;
static size_t			 tmpl_len, tmpl_wal_len;
static struct fake		 fk;
static int			 verbose;
static long			 shown;

/* The secrets no answer and no log line may carry. */
static const char *const secrets[] = {
	SC_AT_OLD, SC_RT_OLD, SC_AT_NEW, SC_RT_NEW, SC_AT_REFRESHED,
	SC_RT_ROTATED, SC_CODE, SC_VERIFIER, SC_NONCE, SC_COOKIE,
	SC_CLIENT_SECRET, SC_SIGNING_SECRET, SC_KEY, SC_CONFIRM_NONCE,
	SC_CONFIRM_COOKIE, SC_CONFIRM_CODE, sc_bot_token
};

/* --- The 3-second rule, switched off ----------------------------------- */

void	__real_fiber_set_deadline(const struct timespec *, void (*)(void *),
	    void *);
void	__wrap_fiber_set_deadline(const struct timespec *, void (*)(void *),
	    void *);

void
__wrap_fiber_set_deadline(const struct timespec *when, void (*fn)(void *),
    void *arg)
{
	(void)when;
	(void)fn;
	(void)arg;
	__real_fiber_set_deadline(NULL, NULL, NULL);
}

/* --- Finishing a request early ----------------------------------------
 *
 * A handler that has sent its answer finishes the request at once (the
 * callback before it sweeps pending logins, /contact before a resumed
 * search).  The fake request (struct fake) is not libfcgi's, whose
 * FCGX_Finish_r would free its streams: here finishing does nothing,
 * the answer being in the fake's output buffer already, where run_one
 * reads it.
 */
void	__wrap_FCGX_Finish_r(FCGX_Request *);

void
__wrap_FCGX_Finish_r(FCGX_Request *r)
{
	(void)r;
}

/* --- Small helpers ---------------------------------------------------- */

static void
say(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static void
unlink_db(void)
{
	char	 p[PATH_MAX + 16];

	unlink(dbpath);
	snprintf(p, sizeof(p), "%s-wal", dbpath);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", dbpath);
	unlink(p);
}

/* Reads the whole file at path.  Returns it (NUL-terminated, allocated)
 * and its length in *len, or NULL. */
static unsigned char *
slurp(const char *path, size_t *len)
{
	struct stat	 sb;
	unsigned char	*p = NULL;
	ssize_t		 r;
	size_t		 got = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &sb) == -1 || (p = malloc((size_t)sb.st_size + 1)) ==
	    NULL)
		goto fail;
	while (got < (size_t)sb.st_size) {
		if ((r = read(fd, p + got, (size_t)sb.st_size - got)) <= 0)
			goto fail;
		got += (size_t)r;
	}
	p[got] = '\0';
	*len = got;
	close(fd);
	return p;
fail:
	free(p);
	close(fd);
	return NULL;
}

/* How many descriptors this process has open. */
static int
fd_count(void)
{
	struct dirent	*e;
	DIR		*d;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* The first secret found in the len bytes at p, or NULL. */
static const char *
find_secret(const void *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		if (memmem(p, len, secrets[i], strlen(secrets[i])) != NULL)
			return secrets[i];
	return NULL;
}

/* --- Setting the scene ------------------------------------------------ */

static int
config_setup(enum path p)
{
	static char	 signing[] = SC_SIGNING_SECRET;
	static char	 public_url[] = "https://forcelink.example.com";
	static char	 redirect[] =
	    "https://forcelink.example.com/oauth/callback";
	static char	 prefix[] = "https://hooks.slack.com/";
	static char	 name[] = "";
	static char	 host[] = "127.0.0.1";
	static char	 client_id[] = SC_CLIENT_ID;
	static char	 client_secret[] = SC_CLIENT_SECRET;
	static char	 api[] = SC_API;
	static char	 login[64], slack_api[80];

	memset(&cfg, 0, sizeof(cfg));
	cfg.slack_signing_secret = signing;
	cfg.public_url = public_url;
	cfg.public_https = 1;
	cfg.redirect_uri = redirect;
	cfg.db_path = dbpath;
	cfg.ca_file = cafile;
	cfg.response_url_prefix = prefix;
	snprintf(login, sizeof(login), "%s", peer_url());
	/* A button's answer goes to its response_url: the peer's. */
	snprintf(hook_prefix, sizeof(hook_prefix), "%s/hooks/", peer_url());
	snprintf(hook_url, sizeof(hook_url), "%s" SC_HOOK, peer_url());
	if (PATH_SLACK(p))
		cfg.response_url_prefix = hook_prefix;
	/* The Case form's views at Slack: the peer, with SLACK_BOT_TOKEN. */
	snprintf(slack_api, sizeof(slack_api), "%s/api", peer_url());
	if (p == PATH_SUBMIT) {
		cfg.slack_api_url = slack_api;
		cfg.slack_bot_token = sc_bot_token;
	}
	cfg.sf.name = name;
	cfg.sf.login_url = login;
	cfg.sf.login_host = host;
	cfg.sf.client_id = client_id;
	cfg.sf.client_secret = client_secret;
	cfg.sf.api_version = api;
	/* The link path is the Salesforce leg of a Sign in with Slack login
	 * (FORCELINK_LINK_PROOF=slack), which stores the link at once. */
	cfg.link_proof = CONFIG_PROOF_SLACK;
	if (crypto_key_from_base64(&cfg_key, SC_KEY) == -1 ||
	    (cfg.keyring = keyring_from_keys(&cfg_key, 1)) == NULL)
		return -1;
	return 0;
}

/*
 * Fills the WAL of db with commits that change nothing (a row rewritten
 * as it is) until one more commit reaches SQLite's automatic checkpoint
 * (WAL_CHECKPOINT_FRAMES, its default, which store.c keeps): the first
 * commit of a run then also copies the WAL back into the database, under
 * the same faults.  Returns 0 or -1.
 */
static int
template_pad_wal(sqlite3 *db)
{
	struct stat	 sb;
	char		 wal[PATH_MAX + 8];
	long		 frames = 0;
	int		 i;

	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	if (sqlite3_exec(db, "PRAGMA wal_autocheckpoint=0; "
	    "PRAGMA synchronous=OFF", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	for (i = 0; frames < WAL_CHECKPOINT_FRAMES - 1; i++) {
		if (i == 2 * WAL_CHECKPOINT_FRAMES || sqlite3_exec(db,
		    "UPDATE login_state SET expires_at = expires_at", NULL,
		    NULL, NULL) != SQLITE_OK || stat(wal, &sb) == -1)
			return -1;
		/* A 32-byte header, then frames of a 24-byte header and a
		 * page (4096 bytes, SQLite's default). */
		frames = ((long)sb.st_size - 32) / (24 + 4096);
	}
	/* Closing must not checkpoint what was just written. */
	return sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1,
	    NULL) == SQLITE_OK ? 0 : -1;
}

/*
 * The confirm path's login: a second login of Alice's as the callback
 * leaves it in code mode (nonce made, Salesforce state taken), with the
 * grant the code buys (the new Salesforce user) held pending until
 * later for SC_CONFIRM_CODE.  Returns 0 or -1.
 */
static int
template_pending(struct store *st, time_t now, time_t later)
{
	struct store_link	 l;
	struct slack_user	 who;
	unsigned char		 nh[CRYPTO_HASHLEN], sh[CRYPTO_HASHLEN];
	unsigned char		 ch[CRYPTO_HASHLEN], code[CRYPTO_HASHLEN];
	char			 norm[CRYPTO_CODE_MAX], *v = NULL;
	int			 rc = -1;

	memset(&l, 0, sizeof(l));
	l.org = "";
	l.sf_user_id = SC_NEW_USER;
	l.sf_org_id = SC_ORG;
	l.sf_username = SC_NEW_NAME;
	l.instance_url = (char *)peer_url();
	l.access_token = SC_AT_NEW;
	l.refresh_token = SC_RT_NEW;
	crypto_sha256(SC_CONFIRM_NONCE, nh);
	crypto_sha256(SC_CONFIRM_STATE, sh);
	crypto_sha256(SC_CONFIRM_COOKIE, ch);
	if (crypto_code_norm(SC_CONFIRM_CODE, norm) == -1)
		return -1;
	crypto_sha256(norm, code);
	if (store_nonce_add(st, &alice, nh, later) == STORE_OK &&
	    store_nonce_start(st, nh, now, sh, ch, SC_VERIFIER, later,
	    &who) == STORE_OK &&
	    store_state_take_leg(st, STORE_LEG_SALESFORCE, sh, ch, now, &who,
	    &v, NULL) == STORE_OK &&
	    store_pending_put(st, sh, &l, code, later) == STORE_OK)
		rc = 0;
	crypto_free_secret(v);
	return rc;
}

/*
 * Finds the value of the first button with action_id id in the message
 * json (a search's results) and copies it into out (n bytes).  Returns 0
 * or -1.
 */
static int
button_value(const char *json, const char *id, char *out, size_t n)
{
	struct json_object	*msg, *blocks, *b, *els, *e, *v;
	size_t			 i, j;
	int			 rc = -1;

	if ((msg = json_tokener_parse(json)) == NULL)
		return -1;
	if (!json_object_object_get_ex(msg, "blocks", &blocks))
		goto out;
	for (i = 0; i < json_object_array_length(blocks); i++) {
		b = json_object_array_get_idx(blocks, i);
		if (!json_object_object_get_ex(b, "elements", &els) &&
		    !json_object_object_get_ex(b, "accessory", &els))
			continue;
		for (j = 0; j < (json_object_is_type(els, json_type_array) ?
		    json_object_array_length(els) : 1); j++) {
			e = json_object_is_type(els, json_type_array) ?
			    json_object_array_get_idx(els, j) : els;
			if (json_object_object_get_ex(e, "action_id", &v) &&
			    strcmp(json_object_get_string(v), id) == 0 &&
			    json_object_object_get_ex(e, "value", &v) &&
			    (size_t)snprintf(out, n, "%s",
			    json_object_get_string(v)) < n) {
				rc = 0;
				goto out;
			}
		}
	}
out:
	json_object_put(msg);
	return rc;
}

/*
 * The buttons' rows: Alice's search "smith", one card a page, run once
 * through the real code (search_run, as /contact runs it: the expired
 * token refreshed, the row kept), its key taken from the More button of
 * the message it rendered into alice_key; and Mallory's row with a card
 * of his own (SC_FOREIGN).  Returns 0 or -1 (printed).
 */
static int
template_search(time_t later)
{
	struct session		*s;
	struct session_as	 as;
	struct search_page	 page;
	char			*json = NULL, *data = NULL, key[80];
	size_t			 found = 0;
	int			 rc = -1;

	memset(&as, 0, sizeof(as));
	memset(&page, 0, sizeof(page));
	page.kind = SF_KIND_CONTACT;
	page.text = SC_QUERY;
	page.limit = 1;
	if ((s = session_new(&cfg)) == NULL)
		return -1;
	if (session_mode(s, &alice, &as) != SESSION_OK ||
	    search_run(s, &alice, &page, &as, &json, &found, NULL) !=
	    SESSION_OK || found != 1 ||
	    button_value(json, "more", alice_key, sizeof(alice_key)) == -1 ||
	    button_value(json, "share", key, sizeof(key)) == -1 ||
	    strncmp(key, alice_key, STORE_ACTION_KEY_LEN) != 0) {
		fprintf(stderr, "torture: the set-up search failed: %s\n",
		    json != NULL ? json : "-");
		goto out;
	}
	if (asprintf(&data, "{\"kind\":\"%s\",\"text\":\"" SC_QUERY "\","
	    "\"limit\":1,\"next\":1,\"cards\":[[\"*" SC_FOREIGN "*\",null]]}",
	    sf_kind_str(SF_KIND_CONTACT)) == -1 ||
	    store_action_put(s->st, &mallory, STORE_ACTION_SHARE, data, later,
	    mallory_key) != STORE_OK) {
		fprintf(stderr, "torture: Mallory's row failed\n");
		goto out;
	}
	rc = 0;
out:
	free(data);
	free(json);
	session_as_free(&as);
	session_free(s);
	return rc;
}

/*
 * Alice's Case form, opened through the real code as /case opens it
 * (casejob_open: the row made, views.open at the peer, the row bound to
 * the view SC_VIEW), with the peer's response_url; its key into
 * case_key.  Returns 0 or -1 (printed).
 */
static int
template_case(void)
{
	struct session		*s;
	struct session_as	 as;
	struct casefrm		 f;
	struct slackweb_view	 v;
	enum slackweb_result	 wr = SLACKWEB_ERROR;

	memset(&as, 0, sizeof(as));
	memset(&v, 0, sizeof(v));
	casefrm_init(&f);
	if ((s = session_new(&cfg)) == NULL)
		return -1;
	if (session_mode(s, &alice, &as) == SESSION_OK &&
	    casefrm_set(&f.response_url, hook_url) == 0)
		wr = casejob_open(s, &alice, &f, as.integration,
		    "13345224609.738474920.8088930838d88f0", sc_bot_token,
		    case_key, &v);
	if (wr != SLACKWEB_OK || strcmp(v.id, SC_VIEW) != 0)
		fprintf(stderr, "torture: the set-up form did not open: %s\n",
		    slackweb_result_str(wr));
	casefrm_free(&f);
	session_as_free(&as);
	session_free(s);
	return wr == SLACKWEB_OK && strcmp(v.id, SC_VIEW) == 0 ? 0 : -1;
}

/*
 * Builds the database every run starts from: Alice linked to the old
 * Salesforce user, and her login in flight (nonce taken, state and
 * cookie recorded with the verifier), valid for a year; for the confirm
 * path, also her login whose grant waits for its code
 * (template_pending).  The file is checkpointed so that the main file
 * alone holds it; with full_wal the WAL is then filled up to the
 * checkpoint (template_pad_wal).  tmpl and tmpl_wal keep copies.
 */
static int
template_build(enum path p, int full_wal)
{
	struct store		*st;
	struct store_link	 l;
	struct slack_user	 who;
	unsigned char		 nh[CRYPTO_HASHLEN], sh[CRYPTO_HASHLEN];
	unsigned char		 ch[CRYPTO_HASHLEN];
	sqlite3			*db = NULL;
	time_t			 now = time(NULL), later = now + 365 * 86400;
	char			 wal[PATH_MAX + 8];
	int			 rc = -1;

	unlink_db();
	if ((st = store_open(dbpath, &cfg_key)) == NULL)
		return -1;
	memset(&l, 0, sizeof(l));
	l.org = "";
	l.sf_user_id = SC_OLD_USER;
	l.sf_org_id = SC_ORG;
	l.sf_username = SC_OLD_NAME;
	l.instance_url = (char *)peer_url();
	l.access_token = SC_AT_OLD;
	l.refresh_token = SC_RT_OLD;
	crypto_sha256(SC_NONCE, nh);
	crypto_sha256(SC_STATE, sh);
	crypto_sha256(SC_COOKIE, ch);
	if (store_link_put(st, &alice, &l, NULL) != STORE_OK ||
	    store_nonce_add(st, &alice, nh, later) != STORE_OK ||
	    store_nonce_start(st, nh, now, sh, ch, SC_VERIFIER, later,
	    &who) != STORE_OK ||
	    (p == PATH_CONFIRM && template_pending(st, now, later) == -1))
		goto out;
	store_close(st);
	st = NULL;
	if (PATH_IS_ACTION(p) && template_search(later) == -1)
		goto out;
	if (p == PATH_SUBMIT && template_case() == -1)
		goto out;
	if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK || sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)",
	    NULL, NULL, NULL) != SQLITE_OK ||
	    (full_wal && template_pad_wal(db) == -1))
		goto out;
	sqlite3_close(db);
	db = NULL;
	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	if ((tmpl = slurp(dbpath, &tmpl_len)) == NULL ||
	    (full_wal && (tmpl_wal = slurp(wal, &tmpl_wal_len)) == NULL))
		goto out;
	rc = 0;
out:
	if (db != NULL)
		sqlite3_close(db);
	store_close(st);
	return rc;
}

/* Writes the len bytes at p as the file path.  Returns 0 or -1. */
static int
spill(const char *path, const unsigned char *p, size_t len)
{
	size_t	 off = 0;
	ssize_t	 w;
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		return -1;
	while (off < len) {
		if ((w = write(fd, p + off, len - off)) <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	return close(fd);
}

/* Puts the template back as the database (and its WAL, if it has one);
 * the first connection rebuilds the WAL index. */
static int
template_restore(void)
{
	char	 wal[PATH_MAX + 8];

	unlink_db();
	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	if (spill(dbpath, tmpl, tmpl_len) == -1 ||
	    (tmpl_wal != NULL && spill(wal, tmpl_wal, tmpl_wal_len) == -1))
		return -1;
	return 0;
}

/* --- The fake FastCGI request ----------------------------------------- */

/*
 * The handlers run in a fiber, as in a worker, so that what only a fiber
 * does is tortured too (store_action_put's group of rows, for one).  The
 * scheduler is made once per group and keeps its ended fiber as a spare:
 * after the first (fault-free) run no request allocates one, and the
 * allocation counts compare like with like.
 */
static struct fiber_sched	*sched;

struct in_fiber_call {
	void			(*fn)(FCGX_Request *, struct session *);
	struct session		*s;
};

static void
in_fiber_main(void *arg)
{
	struct in_fiber_call	*c = arg;

	c->fn(&fk.req, c->s);
}

static void
in_fiber_nothing(void *arg)
{
	(void)arg;
}

static void
in_fiber(void (*fn)(FCGX_Request *, struct session *), struct session *s)
{
	struct in_fiber_call	 c = { fn, s };

	if (sched == NULL || fiber_spawn(sched, in_fiber_main, &c) == -1) {
		fn(&fk.req, s);
		return;
	}
	while (fiber_sched_live(sched) > 0)
		fiber_sched_block(sched);
}

static void
fake_fill(FCGX_Stream *s)
{
	s->isClosed = 1;
}

/* The answer outgrew the buffer: the handler sees a failed write. */
static void
fake_empty(FCGX_Stream *s, int doclose)
{
	(void)doclose;
	s->isClosed = 1;
	s->FCGI_errno = ENOSPC;
}

static void
fake_env(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(fk.env[fk.nenv], sizeof(fk.env[0]), fmt, ap);
	va_end(ap);
	fk.envp[fk.nenv] = fk.env[fk.nenv];
	fk.nenv++;
	fk.envp[fk.nenv] = NULL;
}

/* Readies fk for a request with body (may be NULL). */
static void
fake_init(const char *body)
{
	memset(&fk.req, 0, sizeof(fk.req));
	memset(&fk.in, 0, sizeof(fk.in));
	memset(&fk.out, 0, sizeof(fk.out));
	memset(&fk.err, 0, sizeof(fk.err));
	fk.nenv = 0;
	fk.envp[0] = NULL;
	fk.bodylen = body != NULL ? strlen(body) : 0;
	if (fk.bodylen > 0)
		memcpy(fk.body, body, fk.bodylen);
	fk.in.isReader = 1;
	fk.in.rdNext = fk.in.stopUnget = fk.body;
	fk.in.stop = fk.body + fk.bodylen;
	fk.in.fillBuffProc = fake_fill;
	fk.out.wrNext = fk.outbuf;
	fk.out.stop = fk.outbuf + OUT_MAX;
	fk.out.emptyBuffProc = fake_empty;
	fk.err.wrNext = fk.errbuf;
	fk.err.stop = fk.errbuf + sizeof(fk.errbuf);
	fk.err.emptyBuffProc = fake_empty;
	fk.req.in = &fk.in;
	fk.req.out = &fk.out;
	fk.req.err = &fk.err;
	fk.req.envp = fk.envp;
	fk.req.ipcFd = -1;
}

/* A signed slash command from Alice with text; requests with another
 * trigger (0-9) have another signature, so they are no replay. */
static void
fake_contact(const char *text, int trigger)
{
	unsigned char	 mac[32];
	char		 body[1024], base[1200], hex[65];
	long		 ts = (long)time(NULL);

	snprintf(body, sizeof(body), "token=unused&team_id=" SC_TEAM
	    "&team_domain=torture&channel_id=C0TORTURE&user_id=" SC_USER
	    "&user_name=alice&command=%%2Fcontact&text=%s"
	    "&response_url=https%%3A%%2F%%2Fhooks.slack.com%%2Fcommands%%2F"
	    SC_TEAM "%%2F1%%2Fx&trigger_id=1.2.%d", text, trigger % 10);
	snprintf(base, sizeof(base), "v0:%ld:%s", ts, body);
	crypto_hmac_sha256(SC_SIGNING_SECRET, strlen(SC_SIGNING_SECRET),
	    base, strlen(base), mac);
	crypto_hex(mac, sizeof(mac), hex);
	fake_init(body);
	fake_env("REQUEST_METHOD=POST");
	fake_env("CONTENT_TYPE=application/x-www-form-urlencoded");
	fake_env("CONTENT_LENGTH=%zu", strlen(body));
	fake_env("HTTP_X_SLACK_REQUEST_TIMESTAMP=%ld", ts);
	fake_env("HTTP_X_SLACK_SIGNATURE=v0=%s", hex);
	fake_env("REQUEST_ID=torture");
}

/* Signs body as Slack would and readies fk with it as a POST. */
static void
fake_signed(const char *body)
{
	unsigned char	 mac[32];
	char		 base[sizeof(fk.body) + 64], hex[65];
	long		 ts = (long)time(NULL);

	snprintf(base, sizeof(base), "v0:%ld:%s", ts, body);
	crypto_hmac_sha256(SC_SIGNING_SECRET, strlen(SC_SIGNING_SECRET),
	    base, strlen(base), mac);
	crypto_hex(mac, sizeof(mac), hex);
	fake_init(body);
	fake_env("REQUEST_METHOD=POST");
	fake_env("CONTENT_TYPE=application/x-www-form-urlencoded");
	fake_env("CONTENT_LENGTH=%zu", strlen(body));
	fake_env("HTTP_X_SLACK_REQUEST_TIMESTAMP=%ld", ts);
	fake_env("HTTP_X_SLACK_SIGNATURE=v0=%s", hex);
	fake_env("REQUEST_ID=torture");
}

/* "payload=" and json form-encoded, into out (n bytes, truncated). */
static void
fake_payload_form(const char *json, char *out, size_t n)
{
	static const char	 hexd[] = "0123456789ABCDEF";
	const unsigned char	*p;
	size_t			 o;

	o = (size_t)snprintf(out, n, "payload=");
	for (p = (const unsigned char *)json; *p != '\0' && o + 4 < n; p++)
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL)
			out[o++] = (char)*p;
		else {
			out[o++] = '%';
			out[o++] = hexd[*p >> 4];
			out[o++] = hexd[*p & 15];
		}
	out[o] = '\0';
}

/* Alice pressing the button action_id (value) of her search's results;
 * presses with another trigger (0-9) are no replay. */
static void
fake_press(const char *action_id, const char *value, int trigger)
{
	char	 json[1500], body[sizeof(fk.body)];

	snprintf(json, sizeof(json), "{\"type\":\"block_actions\","
	    "\"user\":{\"id\":\"" SC_USER "\",\"username\":\"alice\","
	    "\"team_id\":\"" SC_TEAM "\"},\"team\":{\"id\":\"" SC_TEAM "\","
	    "\"domain\":\"torture\"},\"api_app_id\":\"A0TORTURE\","
	    "\"trigger_id\":\"13345224609.738474920.808893083%d\","
	    "\"response_url\":\"%s\",\"channel\":{\"id\":\"C0TORTURE\","
	    "\"name\":\"general\"},\"container\":{\"type\":\"message\"},"
	    "\"actions\":[{\"type\":\"button\",\"action_id\":\"%s\","
	    "\"block_id\":\"r1\",\"value\":\"%s\","
	    "\"action_ts\":\"1700000000.00000%d\"}]}", trigger % 10, hook_url,
	    action_id, value, trigger % 10);
	fake_payload_form(json, body, sizeof(body));
	fake_signed(body);
}

/* Alice submitting her Case form (another trigger 0-9: no replay). */
static void
fake_submit(int trigger)
{
	char	 json[2500], body[sizeof(fk.body)];

	snprintf(json, sizeof(json), "{\"type\":\"view_submission\","
	    "\"user\":{\"id\":\"" SC_USER "\",\"username\":\"alice\","
	    "\"team_id\":\"" SC_TEAM "\"},\"team\":{\"id\":\"" SC_TEAM "\","
	    "\"domain\":\"torture\"},\"api_app_id\":\"A0TORTURE\","
	    "\"trigger_id\":\"13345224609.738474920.808893083%d\","
	    "\"view\":{\"id\":\"" SC_VIEW "\",\"type\":\"modal\","
	    "\"callback_id\":\"case\",\"hash\":\"" SC_VIEW_HASH "\","
	    "\"private_metadata\":\"%s\",\"state\":{\"values\":{"
	    "\"case_subject\":{\"subject\":{\"type\":\"plain_text_input\","
	    "\"value\":\"" SC_SUBJECT "\"}},"
	    "\"case_description\":{\"description\":{\"type\":"
	    "\"plain_text_input\",\"value\":\"It smokes.\"}},"
	    "\"case_priority\":{\"priority\":{\"type\":\"static_select\","
	    "\"selected_option\":{\"text\":{\"type\":\"plain_text\","
	    "\"text\":\"High\"},\"value\":\"High\"}}},"
	    "\"case_account\":{\"account\":{\"type\":\"plain_text_input\","
	    "\"value\":null}}}}}}", trigger % 10, case_key);
	fake_payload_form(json, body, sizeof(body));
	fake_signed(body);
}

/* The press of path p: Alice's Share or More, or Mallory's Share. */
static void
fake_action(enum path p, int trigger)
{
	char	 v[STORE_ACTION_KEY_LEN + 8];

	snprintf(v, sizeof(v), "%s%s", p == PATH_STEAL ? mallory_key :
	    alice_key, p == PATH_MORE ? "" : ":0");
	fake_press(p == PATH_MORE ? "more" : "share", v, trigger);
}

/* Salesforce sending Alice's browser back with the code. */
static void
fake_callback(void)
{
	fake_init(NULL);
	fake_env("REQUEST_METHOD=GET");
	fake_env("QUERY_STRING=code=" SC_CODE "&state=" SC_STATE);
	fake_env("HTTP_COOKIE=other=1; " SESSION_COOKIE "=" SC_COOKIE);
	fake_env("REQUEST_ID=torture");
}

/* --- Reading the answer ----------------------------------------------- */

/* The answer split up: status, content type, body. */
struct answer {
	int		 status;
	char		 type[64];
	const char	*body;
	size_t		 bodylen;
};

/*
 * Splits the bytes the handler wrote.  Returns 0, or -1 with why when
 * they are not one complete CGI response.
 */
static int
answer_parse(struct answer *a, const char **why)
{
	const char	*p = (const char *)fk.outbuf, *end = NULL, *h, *eol;
	size_t		 len = (size_t)(fk.out.wrNext - fk.outbuf);
	unsigned long	 cl = 0;
	int		 has_cl = 0;

	fk.outbuf[len] = '\0';
	memset(a, 0, sizeof(*a));
	*why = NULL;
	if (fk.out.isClosed)
		*why = "answer larger than the test's buffer";
	else if (len == 0)
		*why = "no answer at all";
	else if (strncmp(p, "Status: ", 8) != 0 ||
	    sscanf(p + 8, "%3d", &a->status) != 1)
		*why = "answer does not start with a status";
	else if ((end = strstr(p, "\r\n\r\n")) == NULL)
		*why = "answer headers never end";
	if (*why != NULL)
		return -1;
	for (h = p; h < end; h = eol + 2) {
		eol = strstr(h, "\r\n");
		if (strncmp(h, "Content-Type: ", 14) == 0)
			snprintf(a->type, sizeof(a->type), "%.*s",
			    (int)(eol - h - 14), h + 14);
		else if (strncmp(h, "Content-Length: ", 16) == 0) {
			cl = strtoul(h + 16, NULL, 10);
			has_cl = 1;
		}
	}
	a->body = end + 4;
	a->bodylen = len - (size_t)(a->body - p);
	if (has_cl && cl != a->bodylen) {
		*why = "Content-Length does not match the body";
		return -1;
	}
	if (a->type[0] == '\0') {
		*why = "answer without a Content-Type";
		return -1;
	}
	return 0;
}

/* Slack texts of errors that fit any failure of ours or a transport. */
static const char *const generic_errors[] = {
	"Something went wrong on our side. Please try again in a minute.",
	"Something went wrong on our side.",
	("Salesforce did not answer properly just now. Please try again in "
	    "a minute."),
};

static int
generic_error(const char *text)
{
	size_t	 i;

	for (i = 0; i < sizeof(generic_errors) / sizeof(generic_errors[0]);
	    i++)
		if (strcmp(text, generic_errors[i]) == 0)
			return 1;
	return 0;
}

/*
 * Classifies a /contact answer for path p.  A plain 503 (replay cache
 * unavailable) or 500 ("out of memory") is a readable error; a JSON
 * answer must be an ephemeral message with text and blocks.
 */
static enum outcome
contact_outcome(enum path p, const struct answer *a, char *why, size_t n)
{
	struct json_object	*msg = NULL, *v;
	const char		*text, *type;
	enum outcome		 o = OUT_BAD;

	if ((a->status == 503 && strcmp(a->body,
	    "temporarily unavailable\n") == 0) ||
	    (a->status == 500 && (strcmp(a->body, "out of memory\n") == 0 ||
	    strcmp(a->body, "out of memory") == 0)))
		return OUT_ERROR;
	if (a->status != 200 || strcmp(a->type, "application/json") != 0) {
		snprintf(why, n, "answer %d %s: %.80s", a->status, a->type,
		    a->body);
		return OUT_BAD;
	}
	if ((msg = json_tokener_parse(a->body)) == NULL ||
	    !json_object_object_get_ex(msg, "response_type", &v) ||
	    (type = json_object_get_string(v)) == NULL ||
	    strcmp(type, "ephemeral") != 0 ||
	    !json_object_object_get_ex(msg, "blocks", &v) ||
	    json_object_array_length(v) == 0 ||
	    !json_object_object_get_ex(msg, "text", &v) ||
	    (text = json_object_get_string(v)) == NULL || *text == '\0') {
		snprintf(why, n, "not a complete Slack message: %.80s",
		    a->body);
		goto out;
	}
	if (generic_error(text))
		o = OUT_ERROR;
	else if (p == PATH_SEARCH && strncmp(text, "2 contacts matching ",
	    20) == 0 && strstr(text, SC_CONTACT1) != NULL &&
	    strstr(text, SC_CONTACT2) != NULL &&
	    strstr(text, "Acme &amp; Sons") != NULL)
		o = OUT_SUCCESS;
	else if (p == PATH_LOGOUT && strcmp(text, "Logged out: your "
	    "Salesforce link is removed and its token revoked.") == 0)
		o = OUT_SUCCESS;
	else if (p == PATH_LOGOUT && strcmp(text, "Salesforce could not be "
	    "reached to revoke your token, so your link is unchanged. Please "
	    "try again in a minute.") == 0)
		o = OUT_UNCHANGED;
	else if (p == PATH_LOGOUT && strcmp(text, "You are not linked to "
	    "Salesforce.") == 0)
		o = OUT_NOT_LINKED;
	else if (p == PATH_CONFIRM && strcmp(text, "Linked: Salesforce user "
	    SC_NEW_NAME " (org " SC_ORG ") is now linked to you.") == 0)
		o = OUT_SUCCESS;
	else
		snprintf(why, n, "misleading answer: \"%.100s\"", text);
out:
	json_object_put(msg);
	return o;
}

/*
 * Classifies the answer to a press (path p) by what reached Slack: the
 * HTTP answer must be the empty acknowledgement (or, before it, a plain
 * 500 or 503, or the apology of an unavailable replay cache), and what
 * followed at the response_url one message at
 * most: Alice's own card in the channel (share), the next page (more),
 * the refusal of Mallory's button (steal), or an apology.  Another card
 * in the channel, or anything else, is a failure of the run.
 */
static enum outcome
action_outcome(enum path p, const struct answer *a,
    const struct peer_seen *ps, char *why, size_t n)
{
	int	 posts, mine;

	posts = ps->shared_own + ps->shared_bad + ps->next_page +
	    ps->refused + ps->post_error + ps->post_other;
	if (ps->shared_bad > 0) {
		snprintf(why, n, "posted a share that is not Alice's card");
		return OUT_BAD;
	}
	if (ps->post_other > 0) {
		snprintf(why, n, "posted a misleading message: %.100s",
		    peer_last_post());
		return OUT_BAD;
	}
	if ((a->status == 503 && strcmp(a->body,
	    "temporarily unavailable\n") == 0) ||
	    (a->status == 500 && (strcmp(a->body, "out of memory\n") == 0 ||
	    strcmp(a->body, "out of memory") == 0))) {
		if (posts == 0)
			return OUT_ERROR;
		snprintf(why, n, "refused (%d) yet posted", a->status);
		return OUT_BAD;
	}
	/* The replay cache unavailable (before the payload, and so its
	 * response_url, is read): the apology a command gets, which Slack
	 * does not show for a click; a readable error all the same. */
	if (a->status == 200 && strcmp(a->type, "application/json") == 0 &&
	    posts == 0)
		return contact_outcome(p, a, why, n) == OUT_ERROR ? OUT_ERROR :
		    OUT_BAD;
	if (a->status != 200 || a->bodylen != 0 || strcmp(a->type,
	    "text/plain; charset=utf-8") != 0) {
		snprintf(why, n, "not the acknowledgement: %d %s: %.80s",
		    a->status, a->type, a->body);
		return OUT_BAD;
	}
	if (posts > 1) {
		snprintf(why, n, "%d messages posted for one press", posts);
		return OUT_BAD;
	}
	mine = p == PATH_SHARE ? ps->shared_own : p == PATH_MORE ?
	    ps->next_page : ps->refused;
	if (mine + ps->post_error != posts) {
		snprintf(why, n, "posted what another press posts (%d shares, "
		    "%d pages, %d refusals)", ps->shared_own, ps->next_page,
		    ps->refused);
		return OUT_BAD;
	}
	return posts == 1 && ps->post_error == 0 ? OUT_SUCCESS : OUT_ERROR;
}

/*
 * Classifies the answer to a Case form's submission: the form replaced
 * by "Creating your Case" (OUT_SUCCESS: accepted; what it came to is
 * judged from the row and the peer), or a readable error that keeps the
 * form or says nothing was created (or a plain 500 or 503, or the
 * replay cache's apology).  Anything else fails the run.
 */
static enum outcome
submit_outcome(const struct answer *a, char *why, size_t n)
{
	struct json_object	*msg = NULL, *v;
	const char		*act;
	enum outcome		 o = OUT_BAD;

	if ((a->status == 503 && strcmp(a->body,
	    "temporarily unavailable\n") == 0) ||
	    (a->status == 500 && (strcmp(a->body, "out of memory\n") == 0 ||
	    strcmp(a->body, "out of memory") == 0)))
		return OUT_ERROR;
	if (a->status != 200 || strcmp(a->type, "application/json") != 0 ||
	    (msg = json_tokener_parse(a->body)) == NULL) {
		snprintf(why, n, "answer %d %s: %.80s", a->status, a->type,
		    a->body);
		goto out;
	}
	if (!json_object_object_get_ex(msg, "response_action", &v)) {
		if (contact_outcome(PATH_SUBMIT, a, why, n) == OUT_ERROR)
			o = OUT_ERROR;
		goto out;
	}
	act = json_object_get_string(v);
	if (strcmp(act, "update") == 0 && strstr(a->body, "Creating your "
	    "Case in Salesforce") != NULL)
		o = OUT_SUCCESS;
	else if ((strcmp(act, "errors") == 0 || strcmp(act, "update") == 0) &&
	    strstr(a->body, "Something went wrong on our side") != NULL)
		o = OUT_ERROR;
	else
		snprintf(why, n, "misleading answer: %.100s", a->body);
out:
	json_object_put(msg);
	return o;
}

/*
 * Classifies an /oauth/callback answer: the success page naming the new
 * Salesforce user and Alice, or a complete error page whose title does
 * not blame Salesforce or the login for what was our failure, or the
 * plain 500 of a page that could not be built.
 */
static enum outcome
callback_outcome(const struct answer *a, char *why, size_t n)
{
	static const char *const fair[] = {
		"<title>Something went wrong \xc2\xb7",
		"<title>Salesforce did not answer \xc2\xb7",
	};
	size_t	 i;

	if (a->status == 500 && strcmp(a->type, "text/plain; charset=utf-8") ==
	    0 && strcmp(a->body, "internal error\n") == 0)
		return OUT_ERROR;
	if (strcmp(a->type, "text/html; charset=utf-8") != 0 ||
	    strncmp(a->body, "<!doctype html>", 15) != 0 ||
	    a->bodylen < 8 || strcmp(a->body + a->bodylen - 8, "</html>\n") !=
	    0 || strstr(a->body, "</h1>") == NULL) {
		snprintf(why, n, "not a complete page (%d): %.60s ... %.40s",
		    a->status, a->body, a->bodylen > 40 ?
		    a->body + a->bodylen - 40 : a->body);
		return OUT_BAD;
	}
	if (a->status == 200) {
		if (strstr(a->body, "<title>Linked \xc2\xb7") != NULL &&
		    strstr(a->body, SC_NEW_NAME) != NULL &&
		    strstr(a->body, SC_ORG) != NULL &&
		    strstr(a->body, SC_TEAM) != NULL &&
		    strstr(a->body, SC_USER) != NULL)
			return OUT_SUCCESS;
		snprintf(why, n, "200 page that is not the success page");
		return OUT_BAD;
	}
	if (a->status >= 400 && a->status <= 599)
		for (i = 0; i < sizeof(fair) / sizeof(fair[0]); i++)
			if (strstr(a->body, fair[i]) != NULL)
				return OUT_ERROR;
	snprintf(why, n, "misleading page %d: %.60s", a->status,
	    strstr(a->body, "<title>") != NULL ? strstr(a->body, "<title>") :
	    a->body);
	return OUT_BAD;
}

/* --- Reading the database --------------------------------------------- */

/* Whether l is the link of the old or new Salesforce user with tokens
 * access and refresh at version. */
static int
row_is(const struct store_link *l, const char *user, const char *name,
    const char *access, const char *refresh, int64_t version)
{
	return strcmp(l->org, "") == 0 && strcmp(l->sf_org_id, SC_ORG) == 0 &&
	    strcmp(l->sf_user_id, user) == 0 &&
	    strcmp(l->sf_username, name) == 0 &&
	    strcmp(l->instance_url, peer_url()) == 0 &&
	    strcmp(l->access_token, access) == 0 &&
	    strcmp(l->refresh_token, refresh) == 0 && l->version == version;
}

/* The logins holding a pending grant, and the action rows, after a
 * run. */
struct pending {
	int	 held;		/* rows holding a pending grant */
	int	 waiting;	/* ... whole, and waiting for their code */
	int	 alice_rows;	/* action rows of Alice's */
	int	 alice_orig;	/* ... her set-up search's row, state 0 */
	int	 mallory_rows;	/* action rows of Mallory's, state 0 */
	int	 other_rows;	/* rows of anybody else, or moved state */
	/* submit: Alice's Case form row (-1: none) */
	int	 case_state;	/* enum casefrm_state */
	int	 case_numbered;	/* 1: SC_CASE_NUMBER, -1: another, 0: none */
	long long case_creating_at;
	int	 case_no_link;	/* created, but its instance URL lost: it
				   cannot be shown (memory ran out) */
};

/*
 * Counts the pending grants and the action rows into *pd.  A row with
 * half of a pending grant (some pend_ columns cleared, others not) is
 * broken.  Returns 0, or -1 with why.
 */
static int
pending_read(sqlite3 *db, struct pending *pd, char *why, size_t n)
{
	sqlite3_stmt	*s = NULL;
	unsigned char	 h[CRYPTO_HASHLEN];
	int		 rc = -1;

	if (sqlite3_prepare_v2(db, "SELECT "
	    "coalesce(sum(pend_refresh_ct IS NOT NULL), 0), "
	    "coalesce(sum(pend_refresh_ct IS NOT NULL AND "
	    "confirm_hash IS NOT NULL), 0), "
	    "coalesce(sum((pend_refresh_ct IS NULL) <> "
	    "(pend_access_ct IS NULL) OR (pend_refresh_ct IS NULL) <> "
	    "(pend_key_id IS NULL) OR (pend_refresh_ct IS NULL) <> "
	    "(pend_sf_user_id IS NULL)), 0) FROM login_state", -1, &s,
	    NULL) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
		snprintf(why, n, "cannot count pending logins: %s",
		    sqlite3_errmsg(db));
		goto out;
	}
	pd->held = sqlite3_column_int(s, 0);
	pd->waiting = sqlite3_column_int(s, 1);
	if (sqlite3_column_int(s, 2) != 0) {
		snprintf(why, n, "a half-cleared pending login");
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	crypto_sha256(alice_key, h);
	if (sqlite3_prepare_v2(db, "SELECT "
	    "coalesce(sum(user_id = ?1), 0), "
	    "coalesce(sum(user_id = ?1 AND key_hash = ?3 AND state = 0 AND "
	    "kind = 1), 0), "
	    "coalesce(sum(user_id = ?2 AND state = 0 AND kind = 1), 0), "
	    "coalesce(sum(user_id NOT IN (?1, ?2) OR (kind <> 3 AND "
	    "state <> 0) OR team_id <> '" SC_TEAM "'), 0) FROM slack_action",
	    -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(s, 1, SC_USER, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 2, SC_MALLORY, -1, SQLITE_STATIC) !=
	    SQLITE_OK ||
	    sqlite3_bind_blob(s, 3, h, sizeof(h), SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		snprintf(why, n, "cannot count action rows: %s",
		    sqlite3_errmsg(db));
		goto out;
	}
	pd->alice_rows = sqlite3_column_int(s, 0);
	pd->alice_orig = sqlite3_column_int(s, 1);
	pd->mallory_rows = sqlite3_column_int(s, 2);
	pd->other_rows = sqlite3_column_int(s, 3);
	rc = 0;
out:
	sqlite3_finalize(s);
	return rc;
}

/*
 * Reads Alice's Case form row into pd: its state, whether it names the
 * Case, and when it went to CREATING.  Returns 0, or -1 with why.
 */
static int
case_read(struct store *st, struct pending *pd, char *why, size_t n)
{
	struct store_action	 row;
	struct casefrm		 f;
	enum store_result	 sr;
	int			 rc = -1;

	memset(&row, 0, sizeof(row));
	casefrm_init(&f);
	pd->case_state = -1;
	if ((sr = store_action_get(st, &alice, STORE_ACTION_CASE, case_key,
	    time(NULL), &row)) != STORE_OK) {
		snprintf(why, n, "the Case form's row: %s",
		    store_result_str(sr));
		goto out;
	}
	if (casefrm_load(row.data, &f) == -1) {
		snprintf(why, n, "the Case form's row does not load");
		goto out;
	}
	if (strcmp(row.view_id, SC_VIEW) != 0) {
		snprintf(why, n, "the Case form's row left its view");
		goto out;
	}
	pd->case_state = row.state;
	pd->case_numbered = f.case_number == NULL ? 0 :
	    strcmp(f.case_number, SC_CASE_NUMBER) == 0 ? 1 : -1;
	pd->case_creating_at = f.creating_at;
	pd->case_no_link = f.instance_url == NULL;
	rc = 0;
out:
	casefrm_free(&f);
	store_action_free(&row);
	return rc;
}

/*
 * Checks the file on fresh connections: integrity, at most one link,
 * which link it is, and the pending grants (*pd).  Returns the row,
 * ROW_BROKEN with why.
 */
static enum row
row_read(char *why, size_t n, struct pending *pd)
{
	struct store		*st = NULL;
	struct store_link	 l;
	sqlite3			*db = NULL;
	sqlite3_stmt		*s = NULL;
	enum store_result	 sr;
	enum row		 r = ROW_BROKEN;
	const unsigned char	*t;
	int			 rows = 0, links = -1;

	memset(&l, 0, sizeof(l));
	if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK ||
	    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL) !=
	    SQLITE_OK) {
		snprintf(why, n, "cannot open the database: %s",
		    db != NULL ? sqlite3_errmsg(db) : "?");
		goto out;
	}
	while (sqlite3_step(s) == SQLITE_ROW) {
		t = sqlite3_column_text(s, 0);
		if (rows++ == 0 && t != NULL && strcmp((const char *)t, "ok") ==
		    0)
			continue;
		snprintf(why, n, "integrity_check: %s", t != NULL ?
		    (const char *)t : "?");
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (rows != 1 || sqlite3_prepare_v2(db,
	    "SELECT count(*) FROM sf_link", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW ||
	    (links = sqlite3_column_int(s, 0)) > 1) {
		snprintf(why, n, "integrity_check gave %d rows, %d links",
		    rows, links);
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (pending_read(db, pd, why, n) == -1)
		goto out;
	if ((st = store_open(dbpath, &cfg_key)) == NULL) {
		snprintf(why, n, "store_open failed on the result");
		goto out;
	}
	sr = store_link_get(st, &alice, &l);
	if (sr == STORE_NOTFOUND)
		r = ROW_ABSENT;
	else if (sr != STORE_OK)
		snprintf(why, n, "link does not read: %s",
		    store_result_str(sr));
	else if (row_is(&l, SC_OLD_USER, SC_OLD_NAME, SC_AT_OLD, SC_RT_OLD, 1))
		r = ROW_OLD;
	else if (row_is(&l, SC_NEW_USER, SC_NEW_NAME, SC_AT_NEW, SC_RT_NEW, 2))
		r = ROW_NEW;
	else if (row_is(&l, SC_OLD_USER, SC_OLD_NAME, SC_AT_REFRESHED,
	    SC_RT_ROTATED, 2))
		r = ROW_REFRESHED;
	else
		snprintf(why, n, "half-written link: user %s, version %lld",
		    l.sf_user_id, (long long)l.version);
	if (r != ROW_BROKEN && case_key[0] != '\0' &&
	    case_read(st, pd, why, n) == -1)
		r = ROW_BROKEN;
out:
	store_link_free(&l);
	store_close(st);
	sqlite3_finalize(s);
	if (db != NULL)
		sqlite3_close(db);
	return r;
}

/* --- One run ---------------------------------------------------------- */

/*
 * Judges what a confirm left behind: the grant is stored and no longer
 * held, or it is not stored and still waits whole for its code (or, had
 * it been dropped, it was revoked); a stored grant is never revoked, nor
 * a kept link's.  Returns 0, or -1 with why.
 */
static int
judge_confirm(enum outcome o, enum row r, const struct peer_seen *ps,
    const struct pending *pd, char *why, size_t n)
{
	if ((o == OUT_SUCCESS && r != ROW_NEW) ||
	    (r != ROW_OLD && r != ROW_NEW)) {
		snprintf(why, n, "answer says %s but the link is %s",
		    o == OUT_SUCCESS ? "success" : "error", row_names[r]);
		return -1;
	}
	if (r == ROW_OLD && ps->revoked_old > 0) {
		snprintf(why, n, "the kept link's refresh token was revoked");
		return -1;
	}
	if (r == ROW_NEW && (pd->held != 0 || ps->revoked_new > 0)) {
		snprintf(why, n, "stored, yet %d pending and %d revokes of it",
		    pd->held, ps->revoked_new);
		return -1;
	}
	if (r == ROW_OLD && !(pd->held == 1 && pd->waiting == 1 &&
	    ps->revoked_new == 0) && !(pd->held == 0 && ps->revoked_new > 0)) {
		snprintf(why, n, "not stored, %d pending (%d waiting), %d "
		    "revokes: the grant is %s", pd->held, pd->waiting,
		    ps->revoked_new, pd->held == 0 ? "leaked" :
		    "revoked while pending");
		return -1;
	}
	return 0;
}

/*
 * Judges what a press left behind: the link as the set-up left it (the
 * search refreshed it), no token call; the rows of the set-up whole and
 * unmoved (a press changes no state), Mallory's untouched; share asks
 * Salesforce nothing, more one page at the next OFFSET at most; a page
 * posted with buttons has its row stored.  Returns 0, or -1 with why.
 */
static int
judge_action(enum path p, enum outcome o, enum row r,
    const struct peer_seen *ps, const struct pending *pd, char *why,
    size_t n)
{
	if (r != ROW_REFRESHED || ps->refresh_grants > 0 ||
	    ps->revoked_old + ps->revoked_new > 0 || ps->expired > 0) {
		snprintf(why, n, "the link is %s after %d refreshes, %d "
		    "revokes, %d expired", row_names[r], ps->refresh_grants,
		    ps->revoked_old + ps->revoked_new, ps->expired);
		return -1;
	}
	if (pd->alice_orig != 1 || pd->mallory_rows != 1 ||
	    pd->other_rows != 0 || pd->alice_rows < 1 ||
	    pd->alice_rows > (p == PATH_MORE ? 2 : 1)) {
		snprintf(why, n, "action rows: Alice %d (set-up's %d), "
		    "Mallory %d, other or moved %d", pd->alice_rows,
		    pd->alice_orig, pd->mallory_rows, pd->other_rows);
		return -1;
	}
	if (p != PATH_MORE && ps->queries > 0) {
		snprintf(why, n, "%s queried Salesforce", path_names[p]);
		return -1;
	}
	if (p == PATH_MORE && (ps->queries > 1 || ps->paged != ps->queries ||
	    (o == OUT_SUCCESS && ps->queries != 1))) {
		snprintf(why, n, "more: %d queries, %d with OFFSET",
		    ps->queries, ps->paged);
		return -1;
	}
	if (ps->next_keyed > 0 && pd->alice_rows != 2) {
		snprintf(why, n, "a page posted with buttons, but its row was "
		    "not kept");
		return -1;
	}
	return 0;
}

/*
 * Judges what a submission left behind: the link old or refreshed (one
 * refresh at most), the form's row OPEN with no Case, CREATING since a
 * time, or CREATED naming the Case, which then was created in this run;
 * an error answered before the row moved (OPEN, nothing created); a Case
 * shown only when one was created; no other press's message.  Returns
 * 0, or -1 with why.
 */
static int
judge_submit(enum outcome o, enum row r, const struct peer_seen *ps,
    const struct pending *pd, char *why, size_t n)
{
	long long	 now = (long long)time(NULL);

	if ((r != ROW_OLD && r != ROW_REFRESHED) || ps->refresh_grants > 1 ||
	    (r == ROW_REFRESHED && ps->refresh_grants != 1) ||
	    ps->revoked_old + ps->revoked_new > 0 || ps->views_open > 0 ||
	    ps->shared_own + ps->shared_bad + ps->next_page + ps->refused >
	    0) {
		snprintf(why, n, "the link is %s after %d refreshes, %d "
		    "revokes; %d views opened; a press's message", row_names[r],
		    ps->refresh_grants, ps->revoked_old + ps->revoked_new,
		    ps->views_open);
		return -1;
	}
	if (ps->creates > 1) {
		snprintf(why, n, "%d Cases created by one submission",
		    ps->creates);
		return -1;
	}
	switch (pd->case_state) {
	case CASEFRM_OPEN:
		if (pd->case_numbered == 0 && pd->case_creating_at == 0)
			break;
		snprintf(why, n, "an OPEN form with a Case (%d) or a time",
		    pd->case_numbered);
		return -1;
	case CASEFRM_CREATING:
		if (pd->case_creating_at > now - 600 &&
		    pd->case_creating_at <= now && pd->case_numbered == 0)
			break;
		snprintf(why, n, "CREATING without its time (%lld)",
		    pd->case_creating_at);
		return -1;
	case CASEFRM_CREATED:
		if (pd->case_numbered == 1 && ps->creates == 1)
			break;
		snprintf(why, n, "CREATED with case number %d after %d "
		    "creates", pd->case_numbered, ps->creates);
		return -1;
	default:
		snprintf(why, n, "the form's row is in state %d",
		    pd->case_state);
		return -1;
	}
	if (o == OUT_ERROR && (pd->case_state != CASEFRM_OPEN ||
	    ps->creates > 0)) {
		snprintf(why, n, "an error answered, yet the row is in state "
		    "%d after %d creates", pd->case_state, ps->creates);
		return -1;
	}
	if (ps->view_created + ps->post_created > 0 && ps->creates != 1) {
		snprintf(why, n, "a Case shown that was not created");
		return -1;
	}
	return 0;
}

/*
 * Judges what a run left behind for path p: the answer's outcome o, the
 * link row r, the pending grants pd, and what Salesforce saw.  Returns
 * 0, or -1 with why.
 */
static int
judge(enum path p, enum outcome o, enum row r, const struct peer_seen *ps,
    const struct pending *pd, char *why, size_t n)
{
	if (ps->unexpected > 0 || ps->revoked_other > 0) {
		snprintf(why, n, "unexpected call to Salesforce (%d, %d)",
		    ps->unexpected, ps->revoked_other);
		return -1;
	}
	switch (p) {
	case PATH_LINK:
		if ((o == OUT_SUCCESS && r != ROW_NEW) ||
		    (o == OUT_ERROR && r != ROW_OLD && r != ROW_NEW))
			break;
		if (r == ROW_OLD && ps->revoked_old > 0) {
			snprintf(why, n, "the kept link's refresh token was "
			    "revoked");
			return -1;
		}
		/* A new grant that was not stored is revoked (when the
		 * fault lets the revoke through); a stored one never. */
		if (r == ROW_NEW && ps->revoked_new > 0) {
			snprintf(why, n, "the new link's refresh token was "
			    "revoked");
			return -1;
		}
		return 0;
	case PATH_SEARCH:
		if (ps->refresh_grants > 1) {
			snprintf(why, n, "%d refreshes", ps->refresh_grants);
			return -1;
		}
		if ((o == OUT_SUCCESS && r != ROW_REFRESHED) ||
		    (o == OUT_ERROR && r != ROW_OLD && r != ROW_REFRESHED))
			break;
		if (r == ROW_REFRESHED && ps->refresh_grants != 1)
			break;
		return 0;
	case PATH_LOGOUT:
		if (o == OUT_NOT_LINKED) {
			snprintf(why, n, "says not linked; the link is %s",
			    row_names[r]);
			return -1;
		}
		if ((o == OUT_SUCCESS && r != ROW_ABSENT) ||
		    (o == OUT_UNCHANGED && r != ROW_OLD) ||
		    (o == OUT_ERROR && r != ROW_OLD && r != ROW_ABSENT))
			break;
		if (r == ROW_ABSENT && ps->revoked_old == 0) {
			snprintf(why, n, "link deleted but its grant never "
			    "revoked");
			return -1;
		}
		return 0;
	case PATH_CONFIRM:
		return judge_confirm(o, r, ps, pd, why, n);
	case PATH_SHARE:
	case PATH_MORE:
	case PATH_STEAL:
		return judge_action(p, o, r, ps, pd, why, n);
	case PATH_SUBMIT:
		return judge_submit(o, r, ps, pd, why, n);
	default:
		break;
	}
	snprintf(why, n, "answer says %s but the link is %s",
	    o == OUT_SUCCESS ? "success" : o == OUT_UNCHANGED ? "unchanged" :
	    "error", row_names[r]);
	return -1;
}

/* After a press: the same press again, without faults, succeeds.
 * Returns 0, or -1 with why. */
static int
follow_up_action(enum path p, struct session *s, char *why, size_t n)
{
	struct answer		 a;
	struct peer_seen	 ps;
	const char		*perr;
	long			 ours;

	peer_reset();
	fake_action(p, 1);
	ours = fault_live_ours();
	in_fiber(torture_actions, s);
	if (fault_live_ours() != ours) {
		snprintf(why, n, "the next request leaked %ld allocations",
		    fault_live_ours() - ours);
		return -1;
	}
	if (answer_parse(&a, &perr) == -1) {
		snprintf(why, n, "next request: %s", perr);
		return -1;
	}
	peer_get(&ps);
	if (action_outcome(p, &a, &ps, why, n) != OUT_SUCCESS) {
		if (why[0] == '\0')
			snprintf(why, n, "the next %s on this worker failed",
			    path_names[p]);
		return -1;
	}
	return 0;
}

/*
 * After a submission that left the form's row as *pd, with creates
 * Cases created: the same submission again, without faults.  An OPEN
 * form is created now; a CREATING one is still creating; a CREATED one
 * shows its Case; and the Case is never created twice.  Returns 0, or -1
 * with why.
 */
static int
follow_up_submit(struct session *s, const struct pending *pd, int creates,
    char *why, size_t n)
{
	struct answer		 a;
	struct peer_seen	 ps;
	struct pending		 after;
	const char		*perr;
	long			 ours;

	memset(&after, 0, sizeof(after));
	peer_reset();
	fake_submit(1);
	ours = fault_live_ours();
	in_fiber(torture_actions, s);
	if (fault_live_ours() != ours) {
		snprintf(why, n, "the next request leaked %ld allocations",
		    fault_live_ours() - ours);
		return -1;
	}
	if (answer_parse(&a, &perr) == -1) {
		snprintf(why, n, "next request: %s", perr);
		return -1;
	}
	peer_get(&ps);
	if (creates + ps.creates > 1) {
		snprintf(why, n, "the Case was created again by the next "
		    "submission (the form was left %d)", pd->case_state);
		return -1;
	}
	if (row_read(why, n, &after) == ROW_BROKEN)
		return -1;
	if (pd->case_state == CASEFRM_OPEN ? after.case_state !=
	    CASEFRM_CREATED || ps.view_created != 1 :
	    pd->case_state == CASEFRM_CREATING ? after.case_state !=
	    CASEFRM_CREATING || strstr(a.body, "Creating your Case") == NULL :
	    after.case_state != CASEFRM_CREATED ||
	    (strstr(a.body, SC_CASE_NUMBER) == NULL && !(pd->case_no_link &&
	    strstr(a.body, "Something went wrong on our side") != NULL))) {
		snprintf(why, n, "the next submission of a form left %d: "
		    "state %d, %d views updated, answer %.80s", pd->case_state,
		    after.case_state, ps.view_created, a.body);
		return -1;
	}
	return 0;
}

/*
 * After a run of path p that left the link r and the pending grants pd,
 * makes one more request on the same session, without faults, as the
 * worker's next request would: a search after link, search and a
 * confirm that stored (it must find the contacts, refreshing again if
 * the refresh was lost), a logout after logout (it must log out, or say
 * there is no link when there is none), the same confirm again after
 * one that stored nothing (it must link: the grant waited whole).  A
 * failure must not have left the connection in a transaction, a
 * statement unreset or a lock held.  Returns 0, or -1 with why.
 */
static int
follow_up(enum path p, struct session *s, enum row r,
    const struct pending *pd, int creates, char *why, size_t n)
{
	struct answer	 a;
	struct pending	 after;
	enum path	 next = p == PATH_LOGOUT ? PATH_LOGOUT : PATH_SEARCH;
	enum outcome	 o, want = OUT_SUCCESS;
	const char	*perr;
	long		 ours;

	if (PATH_IS_ACTION(p))
		return follow_up_action(p, s, why, n);
	if (p == PATH_SUBMIT)
		return follow_up_submit(s, pd, creates, why, n);
	if (p == PATH_LOGOUT && r == ROW_ABSENT)
		want = OUT_NOT_LINKED;
	if (p == PATH_CONFIRM && r == ROW_OLD && pd->waiting == 1)
		next = PATH_CONFIRM;
	fake_contact(next == PATH_SEARCH ? SC_QUERY : next == PATH_LOGOUT ?
	    "logout" : "confirm+" SC_CONFIRM_CODE, 1);
	ours = fault_live_ours();
	in_fiber(torture_contact, s);
	if (fault_live_ours() != ours) {
		snprintf(why, n, "the next request leaked %ld allocations",
		    fault_live_ours() - ours);
		return -1;
	}
	if (answer_parse(&a, &perr) == -1) {
		snprintf(why, n, "next request: %s", perr);
		return -1;
	}
	if ((o = contact_outcome(next, &a, why, n)) != want) {
		if (o != OUT_BAD)
			snprintf(why, n, "the next %s on this worker failed "
			    "(%d: %.60s)", path_names[next], a.status, a.body);
		return -1;
	}
	if (next == PATH_CONFIRM && ((r = row_read(why, n, &after)) !=
	    ROW_NEW || after.held != 0)) {
		if (r != ROW_BROKEN)
			snprintf(why, n, "the confirm again left the link %s "
			    "and %d pending", row_names[r], after.held);
		return -1;
	}
	return 0;
}

/*
 * Runs path p once with fault kind on event n (kind FAULT_NONE: no
 * fault).  Returns 1 when the fault was injected, 0 when the run never
 * reached event n, and sets *failed (with a line on stdout) when any
 * check failed.
 */
static int
run_one(enum path p, enum fault_kind kind, long n, int *failed)
{
	struct session		*s = NULL;
	struct answer		 a;
	struct peer_seen	 ps;
	struct pending		 pd;
	enum outcome		 o = OUT_BAD;
	enum row		 r = ROW_BROKEN;
	const char		*perr, *sec;
	char			 why[512] = "";
	long			 ours0, ours1, sql0, injected = 0, events = 0;
	int			 fds0;

	*failed = 0;
	memset(&pd, 0, sizeof(pd));
	if (template_restore() == -1) {
		snprintf(why, sizeof(why), "cannot restore the database");
		goto fail;
	}
	peer_reset();
	ours0 = fault_live_ours();
	sql0 = fault_live_sqlite();
	fds0 = fd_count();
	if ((s = session_new(&cfg)) == NULL) {
		snprintf(why, sizeof(why), "session_new failed");
		goto fail;
	}
	if (p == PATH_LINK)
		fake_callback();
	else if (PATH_IS_ACTION(p))
		fake_action(p, 0);
	else if (p == PATH_SUBMIT)
		fake_submit(0);
	else
		fake_contact(p == PATH_SEARCH ? SC_QUERY : p == PATH_LOGOUT ?
		    "logout" : "confirm+" SC_CONFIRM_CODE, 0);
	ours1 = fault_live_ours();
	fault_arm(kind, n);
	if (p == PATH_LINK)
		in_fiber(torture_callback, s);
	else if (PATH_SLACK(p))
		in_fiber(torture_actions, s);
	else
		in_fiber(torture_contact, s);
	events = fault_events();
	injected = fault_disarm();
	if (fault_live_ours() != ours1) {
		snprintf(why, sizeof(why), "the request leaked %ld "
		    "allocations", fault_live_ours() - ours1);
		goto fail;
	}
	if (answer_parse(&a, &perr) == -1) {
		snprintf(why, sizeof(why), "%s", perr);
		goto fail;
	}
	if ((sec = find_secret(fk.outbuf, (size_t)(fk.out.wrNext -
	    fk.outbuf))) != NULL) {
		snprintf(why, sizeof(why), "a secret in the answer");
		goto fail;
	}
	peer_get(&ps);
	o = p == PATH_LINK ? callback_outcome(&a, why, sizeof(why)) :
	    PATH_IS_ACTION(p) ? action_outcome(p, &a, &ps, why, sizeof(why)) :
	    p == PATH_SUBMIT ? submit_outcome(&a, why, sizeof(why)) :
	    contact_outcome(p, &a, why, sizeof(why));
	if (o == OUT_BAD)
		goto fail;
	if ((r = row_read(why, sizeof(why), &pd)) == ROW_BROKEN)
		goto fail;
	if (judge(p, o, r, &ps, &pd, why, sizeof(why)) == -1)
		goto fail;
	/* An accepted submission succeeded when its Case was created, is
	 * recorded and was shown. */
	if (p == PATH_SUBMIT && o == OUT_SUCCESS &&
	    (pd.case_state != CASEFRM_CREATED ||
	    ps.view_created + ps.post_created == 0))
		o = OUT_ERROR;
	if (kind == FAULT_NONE || injected == 0) {
		/* Nothing failed: the path must have succeeded. */
		if (o != OUT_SUCCESS) {
			snprintf(why, sizeof(why), "fault-free run did not "
			    "succeed");
			goto fail;
		}
	}
	if (follow_up(p, s, r, &pd, ps.creates, why, sizeof(why)) == -1)
		goto fail;
	session_free(s);
	s = NULL;
	if (fault_live_ours() != ours0 || fault_live_sqlite() != sql0 ||
	    fd_count() != fds0) {
		snprintf(why, sizeof(why), "leak after close: %ld ours, %ld "
		    "SQLite's, %d descriptors", fault_live_ours() - ours0,
		    fault_live_sqlite() - sql0, fd_count() - fds0);
		goto fail;
	}
	if (verbose)
		say("  run %s %s n=%ld: events=%ld injected=%ld status=%d "
		    "row=%s pending=%d\n", path_names[p], fault_name(kind), n,
		    events, injected, a.status, row_names[r], pd.held);
	return injected > 0;
fail:
	session_free(s);
	*failed = 1;
	/* Answers quoted in why may hold line breaks: one line per failure. */
	for (perr = why; *perr != '\0'; perr++)
		if ((unsigned char)*perr < ' ')
			why[perr - why] = ' ';
	if (shown++ < SHOW_FAILURES)
		say("  FAIL %s %s n=%ld (events=%ld, injected=%ld): %s\n",
		    path_names[p], fault_name(kind), n, events, injected, why);
	return injected > 0;
}

/* --- One group, in a child process ------------------------------------ */

/* Looks for secrets in the group's log.  Returns 0, or -1 (printed). */
static int
log_check(enum path p, enum fault_kind kind)
{
	unsigned char	*log;
	const char	*const keys[] = { alice_key, mallory_key, case_key };
	const char	*sec;
	size_t		 len, i;
	int		 rc = 0;

	if ((log = slurp(logpath, &len)) == NULL) {
		say("  FAIL %s %s: cannot read the log\n", path_names[p],
		    fault_name(kind));
		return -1;
	}
	if ((sec = find_secret(log, len)) != NULL) {
		say("  FAIL %s %s: a secret (%.12s...) in the log %s\n",
		    path_names[p], fault_name(kind), sec, logpath);
		rc = -1;
	}
	/* The keys of the action rows are bearer keys: never logged. */
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i][0] != '\0' && memmem(log, len, keys[i],
		    strlen(keys[i])) != NULL) {
			say("  FAIL %s %s: an action row's key in the log %s\n",
			    path_names[p], fault_name(kind), logpath);
			rc = -1;
		}
	free(log);
	return rc;
}

static void
group_child(enum path p, enum fault_kind kind, long stride, long max,
    struct progress *pr)
{
	long	 n;
	int	 failed, hit = 1, fd;

	signal(SIGPIPE, SIG_IGN);
	snprintf(logpath, sizeof(logpath), "%s/%s-%s.log", workdir,
	    path_names[p], fault_name(kind));
	snprintf(dbpath, sizeof(dbpath), "%s/%s-%s.db", workdir,
	    path_names[p], fault_name(kind));
	if ((fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1 || dup2(fd, 2) == -1)
		_exit(2);
	close(fd);
	if (fault_init() == -1 || crypto_init() == -1 || http_init() == -1 ||
	    peer_start(certdir) == -1 || config_setup(p) == -1 ||
	    template_build(p, kind >= FAULT_SQLMEM) == -1) {
		say("  FAIL %s %s: setup failed (see %s)\n", path_names[p],
		    fault_name(kind), logpath);
		pr->failures++;
		goto out;
	}
	/* A fiber run once before anything is counted: its stack is the
	 * spare every request then runs on. */
	if ((sched = fiber_sched_new(NULL)) == NULL ||
	    fiber_spawn(sched, in_fiber_nothing, NULL) == -1) {
		say("  FAIL %s %s: no fiber scheduler\n", path_names[p],
		    fault_name(kind));
		pr->failures++;
		goto out;
	}
	while (fiber_sched_live(sched) > 0)
		fiber_sched_block(sched);
	/* The fault-free run first: it must succeed. */
	pr->current = 0;
	run_one(p, FAULT_NONE, 0, &failed);
	pr->runs++;
	pr->failures += failed;
	for (n = 1; n <= max && hit; n += stride) {
		pr->current = n;
		hit = run_one(p, kind, n, &failed);
		pr->runs++;
		pr->failures += failed;
	}
	if (hit) {
		say("  FAIL %s %s: still failing at n=%ld (-m %ld)\n",
		    path_names[p], fault_name(kind), n - stride, max);
		pr->failures++;
	}
	if (log_check(p, kind) == -1)
		pr->failures++;
out:
	peer_stop();
	free(tmpl);
	free(tmpl_wal);
	crypto_key_wipe(&cfg_key);
	keyring_free(cfg.keyring);
	cfg.keyring = NULL;
	unlink_db();
	curl_global_cleanup();
	sqlite3_shutdown();
	pr->finished = 1;
	exit(pr->failures > 0 ? 1 : 0);
}

/*
 * Runs group (p, kind) in a child.  Prints its line.  Returns 0 when it
 * passed, -1 when it failed; adds its runs to *runs.
 */
static int
group(enum path p, enum fault_kind kind, long stride, long max, long *runs)
{
	struct progress	*pr;
	pid_t		 pid;
	time_t		 t0 = time(NULL);
	char		 log[PATH_MAX + 256];
	int		 status, rc = -1;

	pr = mmap(NULL, sizeof(*pr), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (pr == MAP_FAILED) {
		perror("torture: mmap");
		return -1;
	}
	memset(pr, 0, sizeof(*pr));
	fflush(stdout);
	if ((pid = fork()) == -1) {
		perror("torture: fork");
		goto out;
	}
	if (pid == 0)
		group_child(p, kind, stride, max, pr);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		continue;
	*runs += pr->runs;
	if (!pr->finished || !WIFEXITED(status) ||
	    (WEXITSTATUS(status) != 0 && pr->failures == 0)) {
		say("  CRASH %s %s at n=%ld (%s %d); log: %s/%s-%s.log\n",
		    path_names[p], fault_name(kind), pr->current,
		    WIFSIGNALED(status) ? "signal" : "exit",
		    WIFSIGNALED(status) ? WTERMSIG(status) :
		    WEXITSTATUS(status), workdir, path_names[p],
		    fault_name(kind));
		/* The sanitizer's verdict first, then how the log ends. */
		snprintf(log, sizeof(log), "f='%s/%s-%s.log'; grep -E -m 6 "
		    "'ERROR: .*Sanitizer|runtime error|^SUMMARY' \"$f\" | "
		    "sed 's/^/    /'; tail -n 15 \"$f\" | sed 's/^/    /'",
		    workdir, path_names[p], fault_name(kind));
		fflush(stdout);
		(void)!system(log);
		pr->failures++;
	}
	say("torture %s %s: %ld runs, %ld failures (%lds)\n", path_names[p],
	    fault_name(kind), pr->runs, pr->failures,
	    (long)(time(NULL) - t0));
	rc = pr->failures == 0 ? 0 : -1;
out:
	munmap(pr, sizeof(*pr));
	return rc;
}

/* --- Main ------------------------------------------------------------- */

static void
usage(void)
{
	fprintf(stderr, "usage: torture [-kv] [-m max] [-s stride] "
	    "[-p path]... [-f fault]...\n"
	    "paths: link search logout confirm share more steal submit\n"
	    "faults: malloc malloc-all sqlite-malloc sqlite-malloc-all io "
	    "io-all disk-full\n");
	exit(2);
}

/* Makes the certificates with tests/standin/mkcerts.sh under $srcdir. */
static int
certs_make(void)
{
	char		 cmd[PATH_MAX * 3];
	const char	*src;

	if ((src = getenv("srcdir")) == NULL)
		src = ".";
	snprintf(certdir, sizeof(certdir), "%s/tls", workdir);
	snprintf(cafile, sizeof(cafile), "%s/ca.pem", certdir);
	snprintf(cmd, sizeof(cmd), "sh '%s/tests/standin/mkcerts.sh' '%s'",
	    src, certdir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(int argc, char *argv[])
{
	int		 paths[PATH__MAX], kinds[FAULT__MAX];
	int		 np = 0, nk = 0, c, i, j, keep = 0;
	int		 any_p = 0, any_k = 0;
	long		 stride = 1, max = 100000, runs = 0;
	long		 passed = 0, bad = 0;
	enum fault_kind	 k;
	char		 cmd[PATH_MAX + 16];

	memset(paths, 0, sizeof(paths));
	memset(kinds, 0, sizeof(kinds));
	while ((c = getopt(argc, argv, "f:km:p:s:v")) != -1) {
		switch (c) {
		case 'f':
			if ((k = fault_by_name(optarg)) == FAULT_NONE)
				usage();
			kinds[k] = any_k = 1;
			break;
		case 'k':
			keep = 1;
			break;
		case 'm':
			if ((max = strtol(optarg, NULL, 10)) < 1)
				usage();
			break;
		case 'p':
			for (i = 0; i < PATH__MAX; i++)
				if (strcmp(optarg, path_names[i]) == 0)
					break;
			if (i == PATH__MAX)
				usage();
			paths[i] = any_p = 1;
			break;
		case 's':
			if ((stride = strtol(optarg, NULL, 10)) < 1)
				usage();
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	for (i = 0; i < PATH__MAX; i++)
		np += paths[i] = !any_p || paths[i];
	for (i = FAULT_NONE + 1; i < FAULT__MAX; i++)
		nk += kinds[i] = !any_k || kinds[i];
	snprintf(workdir, sizeof(workdir), "%s/forcelink-torture.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(workdir) == NULL || certs_make() == -1) {
		fprintf(stderr, "torture: cannot make %s or its "
		    "certificates\n", workdir);
		return 2;
	}
	say("torture: %d paths x %d faults, stride %ld, in %s\n", np, nk,
	    stride, workdir);
	for (i = 0; i < PATH__MAX; i++)
		for (j = FAULT_NONE + 1; j < FAULT__MAX; j++) {
			if (!paths[i] || !kinds[j])
				continue;
			if (group((enum path)i, (enum fault_kind)j, stride,
			    max, &runs) == 0)
				passed++;
			else
				bad++;
		}
	say("torture: %ld passed, %ld failed (%ld runs)\n", passed, bad,
	    runs);
	if (bad == 0 && !keep) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir);
		(void)!system(cmd);
	} else
		say("torture: logs kept in %s\n", workdir);
	return bad == 0 ? 0 : 1;
}

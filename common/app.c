/*
 * app: start-up and per-thread state shared by the programs in cgi/ (see
 * app.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "app.h"
#include "config.h"
#include "crypto.h"
#include "health.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "page.h"
#include "replay.h"
#include "req.h"
#include "serve.h"

static struct config	 app_cfg;
static app_handler	 app_handle;
static const char	*app_name;
static struct http_loop	*app_loop;	/* the worker's */
static struct store	*app_ckpt;	/* the main thread's, SQLite only */

/*
 * In each worker: the loop that runs every outbound call of its fibers,
 * and on SQLite the checkpoints handed to the main thread
 * (store_checkpoint_elsewhere), so that no request waits for one's copy
 * and fsyncs.
 */
static int
app_worker_init(void *global)
{
	const struct config	*cfg = global;

	if ((app_loop = http_loop_start(cfg->ca_file)) == NULL) {
		log_error("msg=\"cannot start the I/O loop; worker exits\"");
		return -1;
	}
	if (!store_is_uri(cfg->db_path))
		store_checkpoint_elsewhere(serve_wake);
	return 0;
}

/*
 * In the worker's main thread: the checkpoint a commit asked for, on a
 * connection of the thread's own.  It is opened at the first checkpoint,
 * not at start, so a worker at rest holds none (about 0.1 MB of PSS);
 * when it cannot be opened, the checkpoints go back to the request
 * threads rather than not run at all.
 */
static void
app_worker_wake(void *global)
{
	const struct config	*cfg = global;

	if (app_ckpt == NULL && (app_ckpt = store_open_keyring(cfg->db_path,
	    cfg->keyring)) == NULL) {
		log_warn("msg=\"no connection for checkpoints; the request "
		    "threads run them\"");
		store_checkpoint_elsewhere(NULL);
		return;
	}
	store_checkpoint(app_ckpt);
}

/* The worker stops: the calls its requests wait on end now, so each
 * answers with an apology instead of being cut off. */
static void
app_worker_stop(void *global)
{
	(void)global;
	if (app_loop != NULL)
		http_loop_abort(app_loop);
}

/* A request thread's session, which its fibers share; the worker's
 * loop runs its transfers. */
static void *
app_thread_init(void *global)
{
	struct session	*s;

	if ((s = session_new_thread(global)) != NULL)
		http_use_loop(s->http, app_loop);
	return s;
}

/*
 * Every request of every program comes here first: /healthz and
 * /metrics are answered for all programs alike (health.h), the rest by
 * the program's handler; each is counted by route and by the status
 * its answer carried (metrics.h).
 */
static void
app_dispatch(FCGX_Request *r, void *ctx)
{
	enum metrics_route	 route;
	const char		*id;

	/* nginx passes its $request_id, so its log and ours can be joined. */
	if ((id = req_param(r, "REQUEST_ID")) != NULL)
		log_set_request(id);
	route = metrics_route_of(req_param(r, "SCRIPT_NAME"));
	req_status_clear();
	if (!health_dispatch(r, ctx, app_name))
		app_handle(r, ctx);
	metrics_request(route, req_status_seen());
}

/* A file of this host's, "$FORCELINK_DB-what" beside a SQLite file or
 * var/forcelink-what under the run directory on PostgreSQL.  Returns it
 * (the caller frees it), or NULL when out of memory. */
static char *
app_local_path(const char *what)
{
	char	*p;

	if (asprintf(&p, "%s-%s", store_is_uri(app_cfg.db_path) ?
	    CONFIG_LOCAL_PREFIX : app_cfg.db_path, what) == -1)
		return NULL;
	return p;
}

/* replay_open()'s history: whether the store holds live replay entries
 * (when it cannot say, as if it did). */
static int
app_replay_history(void *arg)
{
	struct session	*s = arg;

	return store_replay_live(s->st, time(NULL)) != 0;
}

int
app_main(int argc, char *argv[], const char *name, app_handler handle)
{
	struct serve_program	 prog = {
		name, app_worker_init, app_worker_stop, app_thread_init,
		app_dispatch, app_worker_wake
	};
	struct serve_opts	 opts;
	struct session		*probe;
	char			 err[512], *mpath = NULL, *rpath = NULL;
	int			 rc;

	/* The options first: -h and -V answer, and a wrong option is named,
	 * whatever the environment holds. */
	if ((rc = serve_parse(argc, argv, name, &opts)) != 0)
		return rc == 1 ? EXIT_SUCCESS : 2;
	log_init(name);
	if (crypto_init() == -1 || http_init() == -1) {
		fprintf(stderr, "%s: cannot initialise libsodium or libcurl\n",
		    name);
		return EXIT_FAILURE;
	}
	if (config_load(&app_cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", name, err);
		return EXIT_FAILURE;
	}
	page_set_hsts(app_cfg.public_https);
	/* Open the database once before serving: it applies migrations and
	 * proves the path is usable. */
	if ((probe = session_new(&app_cfg)) == NULL) {
		fprintf(stderr, "%s: cannot open the database %s (see the "
		    "log line above)\n", name, app_cfg.db_path);
		config_free(&app_cfg);
		return EXIT_FAILURE;
	}
	/* The counters and the replay cache, shared with the workers forked
	 * below and with the other programs (a failure is logged: they then
	 * count alone, and every signature goes to the store).  Both are
	 * this host's: beside the SQLite file, or under the run directory
	 * when the store is on a PostgreSQL server.  A replay cache made now
	 * asks the store whether signatures predate it. */
	if ((mpath = app_local_path("metrics")) == NULL ||
	    (rpath = app_local_path("replay")) == NULL) {
		fprintf(stderr, "%s: out of memory\n", name);
		free(mpath);
		session_free(probe);
		config_free(&app_cfg);
		return EXIT_FAILURE;
	}
	metrics_open(mpath);
	replay_open(rpath, app_replay_history, probe);
	free(mpath);
	free(rpath);
	session_free(probe);
	app_handle = handle;
	app_name = name;
	rc = serve_main(&opts, &prog, &app_cfg);
	replay_close();
	metrics_close();
	config_free(&app_cfg);
	return rc;
}

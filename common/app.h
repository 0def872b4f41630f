/*
 * app: what the FastCGI programs have in common around their
 * handlers: start-up (settings, libraries, a first database open that
 * applies migrations, so a misconfigured program stops before it serves
 * anything), one struct session per thread, the per-request log
 * context, GET /healthz and GET /metrics (health.h) and the counters
 * behind them (metrics.h, mapped before the workers start).
 */
#ifndef FORCELINK_APP_H
#define FORCELINK_APP_H

#include <fcgiapp.h>

#include "session.h"

/* Handles one request with the calling thread's session. */
typedef void (*app_handler)(FCGX_Request *, struct session *);

/*
 * Runs program name: loads the configuration (exiting with one clear line
 * on error), then serves requests with handle until SIGTERM.  Returns the
 * exit status for main().
 */
int	 app_main(int argc, char *argv[], const char *name, app_handler handle);

#endif

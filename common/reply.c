/*
 * reply: Slack's 3-second rule, kept in one place (see reply.h).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fcgiapp.h>

#include "fiber.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "render.h"
#include "reply.h"
#include "req.h"
#include "session.h"

/*
 * Slack has its answer (deferred: finished; direct: written, and sent as
 * the handler returns): one line with how long it took from when
 * forcelink took the request (ack_ms) and how long the request had waited
 * before (wait_ms).  The 3-second rule is kept here, where forcelink
 * controls it: ack_ms stays within 2.5 s less wait_ms.  Time a busy
 * machine adds before REQUEST_START (nginx reading the request) or after
 * the answer left (nginx, the client) is not ours; the tests report it
 * from nginx's log instead of failing on it.
 */
static void
reply_logged(struct reply *rp, int deferred)
{
	struct timespec	 now;
	long		 ms;

	rp->answered = 1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - rp->taken.tv_sec) * 1000L +
	    (now.tv_nsec - rp->taken.tv_nsec) / 1000000L;
	log_event(LOGL_INFO, "slack.ack", "deferred=%d wait_ms=%ld ack_ms=%ld "
	    "response_url=%s", deferred, rp->wait_ms, ms,
	    rp->response_url != NULL ? "yes" : "missing");
	metrics_ack(ms);
}

/* Writes json as the HTTP response. */
static void
reply_now(struct reply *rp, const char *json)
{
	req_send(rp->fcgi, 200, "application/json", json, strlen(json));
}

/*
 * The deadline passed inside a wait of this fiber: Slack gets the "later"
 * text now, and the answer goes to the response_url when it comes.  A
 * request that has not got that far (no answer can follow) gets an
 * apology, and its handler stops when it sees reply_answered().
 */
static void
reply_deadline(void *arg)
{
	struct reply	*rp = arg;
	char		*json = NULL;

	if (rp->answered)
		return;
	if (rp->later_raw != NULL)
		reply_now(rp, rp->later_raw);
	else if ((json = render_message(rp->later != NULL ? rp->later :
	    REPLY_SORRY)) != NULL)
		reply_now(rp, json);
	else
		reply_plain(rp, 500, "out of memory\n");
	free(json);
	reply_finish(rp);
	reply_logged(rp, 1);
}

void
reply_start(struct reply *rp, FCGX_Request *r, struct session *s)
{
	struct timespec	 now;
	long		 ms = REPLY_ACK_MS, age;

	memset(rp, 0, sizeof(*rp));
	rp->fcgi = r;
	rp->s = s;
	clock_gettime(CLOCK_REALTIME, &now);
	if ((age = req_age_ms(req_param(r, "REQUEST_START"), &now)) > 0)
		ms = age < ms ? ms - age : 0;
	rp->wait_ms = age;
	clock_gettime(CLOCK_MONOTONIC, &rp->taken);
	rp->deadline = rp->taken;
	fiber_add_ms(&rp->deadline, ms);
	fiber_set_deadline(&rp->deadline, reply_deadline, rp);
}

void
reply_later(struct reply *rp, const char *response_url, const char *text)
{
	if (response_url != NULL)
		rp->response_url = response_url;
	rp->later = text;
}

void
reply_later_raw(struct reply *rp, const char *json)
{
	rp->later_raw = json;
}

void
reply_raw(struct reply *rp, const char *json)
{
	if (rp->answered || rp->finished) {
		log_event(LOGL_WARN, "slack.ack", "outcome=dropped why=\"the "
		    "deadline answered first\"");
		return;
	}
	reply_now(rp, json);
	reply_logged(rp, 0);
}

void
reply_ack(struct reply *rp)
{
	if (!rp->answered && !rp->finished) {
		req_send(rp->fcgi, 200, "text/plain; charset=utf-8", "", 0);
		reply_logged(rp, 0);
	}
	reply_finish(rp);
}

int
reply_answered(const struct reply *rp)
{
	return rp->answered;
}

/* POSTs json to the request's response_url, when it is allowed, and
 * counts the outcome. */
static void
reply_post(struct reply *rp, const char *json)
{
	static const enum metrics_deferred	 counted[] = {
		[SESSION_POST_OK] = METRICS_DEFERRED_POSTED,
		[SESSION_POST_FAILED] = METRICS_DEFERRED_FAILED,
		[SESSION_POST_DROPPED] = METRICS_DEFERRED_DROPPED
	};

	metrics_deferred(counted[session_response_post(rp->s,
	    rp->response_url, json, "slack.deferred")]);
}

void
reply_json(struct reply *rp, const char *json)
{
	char	*sorry = NULL;

	/* The answer could not be made (memory ran out): a shorter
	 * apology, else a bare 500. */
	if (json == NULL && (json = sorry = render_message("Something went "
	    "wrong on our side.")) == NULL) {
		reply_plain(rp, 500, "out of memory\n");
		return;
	}
	/* A request finished without an answer (a caller's slip) has no
	 * response left to write into: the answer goes to response_url. */
	if (!rp->answered && !rp->finished) {
		/* It leaves when the request is finished: at once, as
		 * nothing but reply_finish() or the handler's return
		 * follows. */
		reply_now(rp, json);
		reply_logged(rp, 0);
	} else
		reply_post(rp, json);
	free(sorry);
}

void
reply_message(struct reply *rp, const char *text)
{
	char	*json;

	json = render_message(text);
	reply_json(rp, json);
	free(json);
}

void
reply_plain(struct reply *rp, int status, const char *text)
{
	if (rp->answered || rp->finished)
		return;
	rp->answered = 1;
	req_send(rp->fcgi, status, "text/plain; charset=utf-8", text,
	    strlen(text));
}

void
reply_finish(struct reply *rp)
{
	if (rp->finished)
		return;
	rp->finished = 1;
	FCGX_Finish_r(rp->fcgi);
}

void
reply_end(struct reply *rp)
{
	fiber_set_deadline(NULL, NULL, NULL);
	reply_finish(rp);
}

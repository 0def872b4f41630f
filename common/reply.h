/*
 * reply: Slack's 3-second rule, kept in one place (SPEC §4).
 *
 * Slack shows an error unless a command or a click is answered within 3
 * seconds.  A request's reply is started as soon as the request is taken:
 * its deadline is 2.5 s after nginx received the request (REQUEST_START,
 * so that time spent queued counts), and it is armed as the fiber's
 * deadline (fiber.h), so that every wait of the request -- Salesforce,
 * the store, a refresh lock another request holds -- is cut short by it.
 *
 * When the deadline passes inside a wait, reply answers Slack there and
 * then: with the request's "later" text ("Searching Salesforce…") when
 * an answer can follow at the response_url (reply_later), or with an
 * apology when it cannot (the request had not yet got that far); the
 * caller learns of it from reply_answered() and stops.  Otherwise the
 * answer goes in the HTTP response.  Either way reply_json() sends it
 * where it belongs, and the FastCGI request is finished in exactly one
 * place, reply_finish(), which runs at most once.
 *
 * Every answer Slack shows (not a refusal: reply_plain) is logged once
 * ("slack.ack": deferred or not, how long the request waited before it
 * was taken and how long forcelink took) and counted in the metrics.
 */
#ifndef FORCELINK_REPLY_H
#define FORCELINK_REPLY_H

#include <time.h>

#include <fcgiapp.h>

struct session;

/* Answer Slack this long after nginx got the request, at the latest. */
#define REPLY_ACK_MS		2500

/* The apology for a request that cannot be answered properly. */
#define REPLY_SORRY	"Something went wrong on our side. Please try " \
			"again in a minute."

struct reply {
	FCGX_Request		*fcgi;
	struct session		*s;
	const char		*response_url;	/* NULL: none (yet) */
	const char		*later;		/* NULL: no answer can follow */
	const char		*later_raw;	/* the deadline's answer as it is */
	struct timespec		 taken;		/* when forcelink took it */
	struct timespec		 deadline;	/* monotonic */
	long			 wait_ms;	/* queued before; -1: unknown */
	int			 answered;	/* Slack has an answer */
	int			 finished;	/* FCGX_Finish_r has run */
};

/*
 * Starts the reply of request r: computes the deadline and arms it for
 * the calling fiber.  Every request handled with a struct reply ends with
 * reply_end().
 */
void	reply_start(struct reply *, FCGX_Request *r, struct session *);

/*
 * From now on an answer can follow at response_url (checked against
 * FORCELINK_RESPONSE_URL_PREFIX when it is used), and the deadline
 * answers Slack with text meanwhile.  Called again by a sub-command, it
 * only changes the text.  text must outlive the request.
 */
void	reply_later(struct reply *, const char *response_url,
	    const char *text);

/*
 * Interactivity (issue 15).  Slack reads no body from the answer to a
 * click or a message shortcut: reply_ack() answers an empty 200 at once
 * and finishes the request, and every message after goes to the
 * response_url (reply_json).  A view_submission's answer is its body as
 * it is (a response_action, or empty to close the modal): reply_raw()
 * writes it, and reply_later_raw() sets what the deadline writes
 * instead of a message (a "Working on it" view).  json must outlive the
 * request.
 */
void	reply_ack(struct reply *);
void	reply_raw(struct reply *, const char *json);
void	reply_later_raw(struct reply *, const char *json);

/* 1 once Slack has had its answer (by the deadline or reply_json). */
int	reply_answered(const struct reply *);

/*
 * Sends a Slack message (JSON): in the response when Slack has not been
 * answered yet, else POSTed to the response_url (dropped, with a log
 * line, when there is none or it is not allowed).  json NULL (the
 * answer could not be made: memory ran out) sends a shorter apology
 * instead, or answers 500 when even that cannot be made.
 */
void	reply_json(struct reply *, const char *json);

/* reply_json() of a plain text message. */
void	reply_message(struct reply *, const char *text);

/* A plain-text HTTP answer (a refused request: 400, 401, 405 ...);
 * nothing when Slack was already answered or the request finished. */
void	reply_plain(struct reply *, int status, const char *text);

/*
 * Finishes the FastCGI request, so that nginx and Slack have the whole
 * answer now while the handler goes on (a resumed search, a token
 * refresh).  Runs once; later calls do nothing.
 */
void	reply_finish(struct reply *);

/* Disarms the deadline; the request is finished by serve.c after. */
void	reply_end(struct reply *);

#endif

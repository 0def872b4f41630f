/*
 * slackreq: one request from Slack, read, verified and validated in one
 * call (SPEC §4).
 *
 * slackreq_read() takes a request as it arrives -- a slash command now,
 * an interactivity payload later -- and either hands back its fields, in
 * a field map indexed by the table's enum (fields.h), or answers it
 * itself:
 *
 *  - anything but POST: 405;
 *  - a body without a valid length, too large or cut short: 411, 413 or
 *    400 (req.h);
 *  - a bad signature or an old timestamp: 401, before any byte of the
 *    body is decoded; a signature seen before (the replay cache): 401;
 *  - without a signing secret (legacy apps), a wrong verification token
 *    (the form's, or inside an interactivity payload's JSON): 401;
 *  - a malformed body, a field missing, duplicated, too long or of the
 *    wrong shape: 400;
 *  - Slack's ssl_check: 200 and nothing else;
 *  - a store that cannot say whether the signature was seen before: an
 *    apology Slack shows the user (of any status but 200 Slack shows only
 *    an error code), and nothing is done;
 *  - the reply's deadline passing while the store is asked: the apology
 *    reply.c sends.
 *
 * Nothing is logged but the outcome of a refusal; no field value is.
 */
#ifndef FORCELINK_SLACKREQ_H
#define FORCELINK_SLACKREQ_H

#include <stddef.h>

#include "buf.h"
#include "form.h"

struct reply;
struct session;

/* Most fields a table may declare. */
#define SLACKREQ_FIELDS_MAX	32

struct slackreq {
	struct buf	 body;
	struct form	 form;
	/* The field map: field[i] is table[i]'s value, or NULL. */
	const char	*field[SLACKREQ_FIELDS_MAX];
};

/*
 * Reads the request of rp (started with reply_start) against a table of
 * n fields.  Returns 0 with q filled, or -1 when the request has been
 * answered (see above).  Either way q is released with slackreq_free().
 */
int	slackreq_read(struct reply *rp, struct session *,
	    const struct form_field *table, size_t n, struct slackreq *q);

/* slackreq_read() of a body of at most max bytes (slackreq_read: Slack's
 * SLACK_BODY_MAX; an interactivity payload may be larger). */
int	slackreq_read_max(struct reply *rp, struct session *,
	    const struct form_field *table, size_t n, size_t max,
	    struct slackreq *q);

void	slackreq_free(struct slackreq *);

#endif

/*
 * slackreq: one request from Slack, read, verified and validated in one
 * call (see slackreq.h).
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "config.h"
#include "crypto.h"
#include "jsonb.h"
#include "log.h"
#include "reply.h"
#include "req.h"
#include "session.h"
#include "sf.h"
#include "slack.h"
#include "slackreq.h"
#include "store.h"

/*
 * Checks a signed request and that its signature was not seen before.
 * Returns 0, or -1 when the request has been answered.
 */
static int
slackreq_signed(struct reply *rp, struct session *s, const struct buf *body)
{
	enum slack_verdict	 v;
	unsigned char		 h[CRYPTO_HASHLEN];
	enum store_result	 sr;
	const char		*sig, *ts;
	int64_t			 t;
	time_t			 now = time(NULL);

	sig = req_param(rp->fcgi, "HTTP_X_SLACK_SIGNATURE");
	ts = req_param(rp->fcgi, "HTTP_X_SLACK_REQUEST_TIMESTAMP");
	v = slack_verify(s->cfg->slack_signing_secret, ts, sig,
	    buf_cstr(body), body->len, now);
	if (v == SLACK_OK && slack_parse_ts(ts, &t) == -1)
		v = SLACK_BAD_TIMESTAMP;
	if (v != SLACK_OK) {
		log_event(LOGL_WARN, "slack.verify", "outcome=\"%s\"",
		    slack_verdict_str(v));
		reply_plain(rp, 401, "request verification failed\n");
		return -1;
	}
	/* The host's replay cache, then the store when it must decide
	 * (store_replay_check). */
	crypto_sha256(sig, h);
	sr = store_replay_check(s->st, h, t, now);
	/* The deadline answered while the store was asked: nothing more. */
	if (reply_answered(rp))
		return -1;
	if (sr == STORE_EXISTS) {
		log_event(LOGL_WARN, "slack.verify", "outcome=replay");
		reply_plain(rp, 401, "replayed request\n");
		return -1;
	}
	if (sr != STORE_OK) {
		/* A PostgreSQL server restarting, say: nothing is done, and
		 * Slack gets an apology it shows the user. */
		log_event(LOGL_WARN, "slack.verify",
		    "outcome=store_unavailable");
		reply_message(rp, REPLY_SORRY);
		return -1;
	}
	return 0;
}

/*
 * Legacy apps without a signing secret: the token field must match.  An
 * interactivity request carries it inside its payload's JSON instead,
 * and only there; a payload that is not JSON has none.  Returns 0, or -1 after
 * answering.
 */
static int
slackreq_token(struct reply *rp, struct session *s, const struct form *f)
{
	struct json_object	*root = NULL;
	enum slack_verdict	 v;
	const char		*tok = NULL, *payload;
	size_t			 n;

	if (f != NULL && (payload = form_get(f, "payload")) == NULL)
		tok = form_get(f, "token");
	else if (f != NULL && (root = sf_json_parse_strict(payload,
	    strlen(payload))) != NULL &&
	    json_object_is_type(root, json_type_object) &&
	    jsonb_str(root, "token", &tok, &n) != 1)
		tok = NULL;
	v = slack_verify_token(s->cfg->slack_verification_token, tok);
	if (root != NULL)
		json_object_put(root);
	if (v != SLACK_OK) {
		log_event(LOGL_WARN, "slack.verify", "outcome=\"%s\"",
		    slack_verdict_str(v));
		reply_plain(rp, 401, "request verification failed\n");
		return -1;
	}
	return 0;
}

/* Reads the body; returns 0, or -1 after answering. */
static int
slackreq_body(struct reply *rp, size_t max, struct slackreq *q)
{
	enum req_body	 rb;
	const char	*method;

	method = req_param(rp->fcgi, "REQUEST_METHOD");
	if (method == NULL || strcmp(method, "POST") != 0) {
		reply_plain(rp, 405, "POST only\n");
		return -1;
	}
	if ((rb = req_read_body(rp->fcgi, max, &q->body)) !=
	    REQ_BODY_OK) {
		log_event(LOGL_WARN, "request.body", "outcome=\"%s\"",
		    req_body_str(rb));
		reply_plain(rp, req_body_status(rb), req_body_str(rb));
		return -1;
	}
	return 0;
}

/* Checks the parsed form against the table and fills the field map;
 * returns 0, or -1 after answering. */
static int
slackreq_fields(struct reply *rp, enum form_result fr,
    const struct form_field *table, size_t n, struct slackreq *q)
{
	const char	*bad = NULL, *ssl;

	/* Our memory, not the request, failed: no 400 and no 401. */
	if (fr == FORM_NOMEM) {
		reply_plain(rp, 500, "out of memory\n");
		return -1;
	}
	if (fr != FORM_OK) {
		log_event(LOGL_WARN, "request.form", "outcome=\"%s\"",
		    form_result_str(fr));
		reply_plain(rp, 400, "malformed form body\n");
		return -1;
	}
	if ((ssl = form_get(&q->form, "ssl_check")) != NULL &&
	    strcmp(ssl, "1") == 0) {
		reply_plain(rp, 200, "");
		return -1;
	}
	if ((fr = form_validate(&q->form, table, n, q->field, &bad)) !=
	    FORM_OK) {
		log_event(LOGL_WARN, "request.form", "outcome=\"%s\" field=%s",
		    form_result_str(fr), bad != NULL ? bad : "-");
		reply_plain(rp, 400, fr == FORM_MISSING ?
		    "missing team_id or user_id\n" : "invalid form field\n");
		return -1;
	}
	return 0;
}

int
slackreq_read(struct reply *rp, struct session *s,
    const struct form_field *table, size_t n, struct slackreq *q)
{
	return slackreq_read_max(rp, s, table, n, SLACK_BODY_MAX, q);
}

int
slackreq_read_max(struct reply *rp, struct session *s,
    const struct form_field *table, size_t n, size_t max,
    struct slackreq *q)
{
	enum form_result	 fr;

	memset(q, 0, sizeof(*q));
	buf_init(&q->body, max);
	if (n > SLACKREQ_FIELDS_MAX) {
		reply_plain(rp, 500, "internal error\n");
		return -1;
	}
	if (slackreq_body(rp, max, q) == -1)
		return -1;
	/* Nothing in the body is decoded before a signature is checked. */
	if (s->cfg->slack_signing_secret != NULL) {
		if (slackreq_signed(rp, s, &q->body) == -1)
			return -1;
		fr = form_parse(buf_cstr(&q->body), q->body.len, &q->form);
	} else {
		fr = form_parse(buf_cstr(&q->body), q->body.len, &q->form);
		if (fr != FORM_NOMEM && slackreq_token(rp, s, fr == FORM_OK ?
		    &q->form : NULL) == -1)
			return -1;
	}
	return slackreq_fields(rp, fr, table, n, q);
}

void
slackreq_free(struct slackreq *q)
{
	form_free(&q->form);
	buf_free(&q->body);
}

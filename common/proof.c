/*
 * proof: the code proof and the sweep of pending grants (see proof.h).
 *
 * The code is the only secret the person carries from the browser to
 * Slack: 50 random bits, stored as its SHA-256 only, usable once, for
 * PROOF_CODE_TTL seconds, by the Slack user of the login only, and void
 * after PROOF_TRIES wrong codes from that user.  Log lines say what
 * happened, never a code, a token or an email.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "install.h"
#include "log.h"
#include "proof.h"
#include "slackapi.h"

static const char *const proof_confirm_names[] = {
	"linked", "malformed", "other_user", "wrong", "void", "none", "error"
};

const char *
proof_confirm_str(enum proof_confirm r)
{
	return proof_confirm_names[r];
}

enum session_result
proof_hold(struct session *s, const unsigned char state_hash[CRYPTO_HASHLEN],
    const struct store_link *link, char code[CRYPTO_CODE_MAX])
{
	char		 norm[CRYPTO_CODE_MAX];
	unsigned char	 h[CRYPTO_HASHLEN];
	enum store_result sr;

	crypto_code_new(code);
	/* Stored as typed back: without the dash. */
	if (crypto_code_norm(code, norm) == -1)
		return SESSION_ERROR;
	crypto_sha256(norm, h);
	crypto_wipe(norm, sizeof(norm));
	sr = store_pending_put(s->st, state_hash, link, h,
	    time(NULL) + PROOF_CODE_TTL);
	log_event(sr == STORE_OK ? LOGL_INFO : LOGL_ERR, "proof.code",
	    "outcome=%s sf_user=%s", sr == STORE_OK ? "pending" :
	    store_result_str(sr), link->sf_user_id);
	if (sr != STORE_OK) {
		crypto_wipe(code, CRYPTO_CODE_MAX);
		return SESSION_ERROR;
	}
	return SESSION_OK;
}

/*
 * Revokes and drops up to max pending grants due at now, adding to *out.
 * Returns how many were due, or -1 when the store failed (logged).
 */
static int
proof_sweep_some(struct session *s, time_t now, int max,
    struct proof_swept *out)
{
	struct store_pending	*v = NULL;
	size_t			 n = 0, i;
	long			 dropped = 0;

	if (store_pending_due(s->st, now, max, &v, &n) != STORE_OK)
		return -1;
	for (i = 0; i < n; i++) {
		/* Revoked first: a grant is never forgotten while live. */
		if (session_grant_revoke(s, &v[i].who, v[i].link.org,
		    v[i].link.refresh_token, "pending_void") == -1) {
			log_event(LOGL_WARN, "proof.sweep", "outcome=kept "
			    "why=\"revoke failed; next sweep\"");
			out->kept++;
			continue;
		}
		if (store_pending_drop(s->st, &v[i]) == STORE_OK)
			dropped++;
	}
	if (n > 0)
		log_event(LOGL_INFO, "proof.sweep", "due=%zu dropped=%ld", n,
		    dropped);
	out->dropped += dropped;
	store_pending_list_free(v, n);
	return (int)n;
}

int
proof_sweep(struct session *s, time_t now, int max)
{
	struct proof_swept	 sw = { 0, 0 };

	if (proof_sweep_some(s, now, max, &sw) == -1)
		return -1;
	return (int)sw.dropped;
}

int
proof_sweep_all(struct session *s, time_t now, struct proof_swept *out)
{
	struct proof_swept	 batch;
	int			 n;

	out->dropped = out->kept = 0;
	do {
		batch.dropped = batch.kept = 0;
		n = proof_sweep_some(s, now, PROOF_SWEEP_BATCH, &batch);
		out->dropped += batch.dropped;
		/* Kept rows expired first, so each batch starts with those
		 * kept before: the last batch counts them all. */
		out->kept = batch.kept;
		if (n == -1)
			return -1;
		/* A full batch that dropped nothing is all kept rows, which
		 * the next batch would return again. */
	} while (n == PROOF_SWEEP_BATCH && batch.dropped > 0);
	return 0;
}

/* A code that matched no row of who: counts the wrong try. */
static enum proof_confirm
proof_miss(struct session *s, const struct slack_user *who, int *left)
{
	int	 voided;

	if (store_pending_miss(s->st, who, time(NULL), PROOF_TRIES, left,
	    &voided) != STORE_OK)
		return PROOF_CONFIRM_ERROR;
	if (voided > 0) {
		(void)proof_sweep(s, time(NULL), PROOF_SWEEP_SOME);
		return PROOF_CONFIRM_VOID;
	}
	return *left > 0 ? PROOF_CONFIRM_WRONG : PROOF_CONFIRM_NONE;
}

enum proof_confirm
proof_confirm(struct session *s, const struct slack_user *who,
    const char *typed, struct session_linked *out,
    struct store_search *search, int *left)
{
	struct store_pending	 p;
	enum proof_confirm	 r = PROOF_CONFIRM_ERROR;
	enum store_result	 sr;
	char			 norm[CRYPTO_CODE_MAX];
	unsigned char		 h[CRYPTO_HASHLEN];

	memset(&p, 0, sizeof(p));
	memset(out, 0, sizeof(*out));
	memset(search, 0, sizeof(*search));
	*left = 0;
	if (crypto_code_norm(typed, norm) == -1) {
		r = PROOF_CONFIRM_MALFORMED;
		goto out;
	}
	crypto_sha256(norm, h);
	crypto_wipe(norm, sizeof(norm));
	sr = store_pending_confirm(s->st, h, who, time(NULL), &p, search);
	switch (sr) {
	case STORE_OK:
		if (session_grant_store(s, who, &p.link, out) == SESSION_OK) {
			r = PROOF_CONFIRM_LINKED;
			break;
		}
		/* Taken from the row but not stored: revoke it now. */
		(void)session_grant_revoke(s, who, p.link.org,
		    p.link.refresh_token, "not_stored");
		store_search_free(search);
		break;
	case STORE_MISMATCH:
		log_event(LOGL_WARN, "proof.confirm", "outcome=other_user "
		    "login_team=%s login_user=%s", p.who.team_id,
		    p.who.user_id);
		(void)proof_sweep(s, time(NULL), PROOF_SWEEP_SOME);
		r = PROOF_CONFIRM_OTHER;
		break;
	case STORE_NOTFOUND:
		r = proof_miss(s, who, left);
		break;
	default:
		break;
	}
out:
	log_event(r == PROOF_CONFIRM_LINKED ? LOGL_INFO : LOGL_WARN,
	    "proof.confirm", "outcome=%s left=%d", proof_confirm_str(r),
	    *left);
	store_pending_free(&p);
	return r;
}

/* --- The email proof -------------------------------------------------- */

static const char *const proof_email_names[] = {
	"same", "sf_no_verified_email", "slack_no_email", "different",
	"slack_unavailable"
};

const char *
proof_email_str(enum proof_email r)
{
	return proof_email_names[r];
}

/*
 * A bot token that can read who's profile (allocated; free with
 * crypto_free_secret): the one of the installation that authorizes
 * who's workspace, else SLACK_BOT_TOKEN.  NULL when there is neither.
 */
static char *
proof_bot_token(struct session *s, const struct slack_user *who)
{
	struct store_install_ref	 ref;
	enum install_result		 ir;
	char				*tok = NULL;

	if (install_authorize(s, who, &ref) == INSTALL_AUTH_OK) {
		ir = install_bot_token(s, ref.enterprise_id, ref.team_id,
		    &tok);
		if (ir == INSTALL_OK)
			return tok;
		log_event(LOGL_WARN, "proof.email", "bot_token=%s",
		    install_result_str(ir));
	}
	if (s->cfg->slack_bot_token != NULL &&
	    (tok = strdup(s->cfg->slack_bot_token)) == NULL)
		log_error("msg=\"out of memory\"");
	return tok;
}

enum proof_email
proof_email(struct session *s, const struct slack_user *who,
    const struct session_grant *g)
{
	enum proof_email	 r = PROOF_EMAIL_SF_NONE;
	enum slackapi_result	 sl;
	char			*tok = NULL, *email = NULL;

	if (g->email == NULL || *g->email == '\0' || !g->email_verified)
		goto out;
	r = PROOF_EMAIL_SLACK_NONE;
	if ((tok = proof_bot_token(s, who)) == NULL)
		goto out;
	sl = slackapi_user_email(s->http, s->cfg, tok, who->user_id, &email,
	    NULL);
	/* Refused (a missing scope, an unknown user): as good as none. */
	if (sl == SLACKAPI_TRANSIENT || sl == SLACKAPI_MALFORMED ||
	    sl == SLACKAPI_ERROR)
		r = PROOF_EMAIL_UNAVAILABLE;
	if (sl != SLACKAPI_OK || email == NULL || *email == '\0')
		goto out;
	r = strcasecmp(email, g->email) == 0 ? PROOF_EMAIL_SAME :
	    PROOF_EMAIL_DIFFERENT;
out:
	log_event(r == PROOF_EMAIL_SAME ? LOGL_INFO : LOGL_WARN,
	    "proof.email", "outcome=%s", proof_email_str(r));
	crypto_free_secret(tok);
	free(email);
	return r;
}

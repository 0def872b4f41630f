/*
 * proof: a login proves that the person in the browser is the Slack user
 * the login link was made for, before any link is stored (issue 11).
 *
 * FORCELINK_LINK_PROOF (config.h) names the proofs; every one named must
 * pass.  "slack": Sign in with Slack comes before Salesforce, and the
 * Slack user it names must be the link's (cgi/oauth_callback.c runs that
 * leg).  "code": after Salesforce, the verified grant is kept pending on
 * the login's row and the page shows a one-time code; the link is stored
 * only when the link's own Slack user types /contact confirm CODE.
 * "email": the Salesforce user's verified email must be the Slack
 * user's profile email.
 *
 * A pending grant that is refused, void or expired is revoked at
 * Salesforce and only then dropped (proof_sweep()); a revoke that fails
 * for now leaves it for the next sweep, which every confirm and every
 * callback runs on a few rows, and forcelink-admin purge on all.
 */
#ifndef FORCELINK_PROOF_H
#define FORCELINK_PROOF_H

#include "crypto.h"
#include "session.h"
#include "store.h"

/* A code works this long, and this many wrong codes void a login. */
#define PROOF_CODE_TTL		600
#define PROOF_TRIES		5
/* Rows a worker sweeps along the way. */
#define PROOF_SWEEP_SOME	4
/* Rows forcelink-admin purge sweeps at a time. */
#define PROOF_SWEEP_BATCH	64

/*
 * Keeps link (a verified grant) pending on the row of the used state
 * state_hash, with a fresh code (written to code, shown as XXXXX-XXXXX)
 * that works PROOF_CODE_TTL seconds.  SESSION_OK or SESSION_ERROR (the
 * caller revokes the grant then).
 */
enum session_result proof_hold(struct session *,
		    const unsigned char state_hash[CRYPTO_HASHLEN],
		    const struct store_link *link, char code[CRYPTO_CODE_MAX]);

enum proof_confirm {
	PROOF_CONFIRM_LINKED,	/* the link is stored */
	PROOF_CONFIRM_MALFORMED, /* not a code at all: usage */
	PROOF_CONFIRM_OTHER,	/* another Slack user's login: void */
	PROOF_CONFIRM_WRONG,	/* no such code; tries are left */
	PROOF_CONFIRM_VOID,	/* no such code, and that was the last try */
	PROOF_CONFIRM_NONE,	/* no such code, and nothing is waiting */
	PROOF_CONFIRM_ERROR	/* our failure (logged) */
};

const char	*proof_confirm_str(enum proof_confirm);

/*
 * /contact confirm typed by who.  PROOF_CONFIRM_LINKED fills *out (free
 * with session_linked_free) and *search (the search kept with the login;
 * text NULL when none; free with store_search_free).  PROOF_CONFIRM_WRONG
 * sets *left.
 */
enum proof_confirm proof_confirm(struct session *, const struct slack_user *who,
		    const char *typed, struct session_linked *out,
		    struct store_search *search, int *left);

enum proof_email {
	PROOF_EMAIL_SAME,	/* the proof passed */
	PROOF_EMAIL_SF_NONE,	/* Salesforce shows no verified email */
	PROOF_EMAIL_SLACK_NONE,	/* no confirmed Slack email to be read: no
				   bot token, or Slack refused (scopes) or
				   shows none */
	PROOF_EMAIL_DIFFERENT,	/* the two are not the same address */
	PROOF_EMAIL_UNAVAILABLE	/* Slack did not answer properly */
};

const char	*proof_email_str(enum proof_email);

/*
 * The email proof (FORCELINK_LINK_PROOF=email): whether g's Salesforce
 * user has a verified email (userinfo email_verified true) equal, but
 * for case, to the profile email Slack shows for who (users.info with
 * the bot token of who's workspace's installation, else
 * SLACK_BOT_TOKEN).  Anything else refuses.  Logs the outcome word only,
 * never an email.
 */
enum proof_email proof_email(struct session *, const struct slack_user *who,
		    const struct session_grant *g);

/*
 * Revokes and drops up to max pending grants that expired or are void.
 * Returns how many were dropped, or -1 when the store failed (logged).
 */
int		 proof_sweep(struct session *, time_t now, int max);

/* What proof_sweep_all() did. */
struct proof_swept {
	long	 dropped;	/* revoked at Salesforce and dropped */
	long	 kept;		/* the revoke failed for now: kept */
};

/*
 * proof_sweep() of every pending grant due now, in batches, for
 * forcelink-admin purge; *out counts them.  Returns 0, or -1 when the
 * store failed (logged; *out says what was done before).
 */
int		 proof_sweep_all(struct session *, time_t now,
		    struct proof_swept *out);

#endif

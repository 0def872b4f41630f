/*
 * peer: the Salesforce of the torture test, over real HTTPS.
 *
 * A real "openssl s_server" on 127.0.0.1 (port picked by the kernel,
 * certificate from tests/standin/mkcerts.sh) in its plain mode: it
 * prints what a client sends and sends what it reads on its standard
 * input.  A responder thread finds each complete request in that output,
 * answers it as Salesforce would in the scenario (scenario.h), and
 * records what it saw.  The login URL and the instance URL are both this
 * server, so one run of a path rides one TLS connection.
 *
 * The responder allocates nothing, so it never disturbs the counts of
 * fault.c.
 */
#ifndef FORCELINK_PEER_H
#define FORCELINK_PEER_H

#include "crypto.h"

/* What the peer was asked since the last peer_reset(). */
struct peer_seen {
	int	 code_grants;		/* codes exchanged for tokens */
	int	 refresh_grants;	/* refresh tokens exchanged */
	int	 revoked_old;		/* revokes of SC_RT_OLD */
	int	 revoked_new;		/* revokes of SC_RT_NEW: a new grant
					   that was not stored */
	int	 revoked_other;		/* revokes of any other token */
	int	 userinfo;		/* userinfo answered */
	int	 queries;		/* queries answered with contacts */
	int	 expired;		/* queries refused as expired */
	int	 unexpected;		/* requests outside the scenario */
	int	 paged;			/* of queries, with an OFFSET */
	/* POSTs to the response_url (SC_HOOK), by what they carried: */
	int	 shared_own;		/* Alice's card in the channel, shared
					   by Alice */
	int	 shared_bad;		/* anything else in the channel, or
					   SC_FOREIGN anywhere */
	int	 next_page;		/* a new message with SC_CONTACT2 */
	int	 next_keyed;		/* ... of them, with a Share button */
	int	 refused;		/* "only the person who searched" */
	int	 post_error;		/* an apology */
	int	 post_other;		/* anything else (peer_last_post) */
	int	 post_created;		/* a message naming SC_CASE_NUMBER */
	/* Slack's Web API and the Case: */
	int	 views_open;		/* views.open answered */
	int	 view_created;		/* views.update naming SC_CASE_NUMBER */
	int	 view_other;		/* any other views.update */
	int	 creates;		/* composites that created the Case */
};

/*
 * Starts the server with server.pem and server.key from certdir and
 * builds the replies (the token replies name the server as instance and
 * are signed with SC_CLIENT_SECRET).  Returns 0, or -1 (printed on
 * stderr).
 */
int		 peer_start(const char *certdir);

/* The bot token of this run ("xoxb-" and 32 random bytes, base64url),
 * made by peer_start(): the one the peer accepts for Slack's Web API. */
#define SC_BOT_TOKEN_MAX	(5 + CRYPTO_TOKEN_MAX)
extern char	 sc_bot_token[SC_BOT_TOKEN_MAX];
void		 peer_stop(void);

/* "https://127.0.0.1:PORT": both the login and the instance URL. */
const char	*peer_url(void);

void		 peer_reset(void);
void		 peer_get(struct peer_seen *);

/* The start of the last response_url POST counted as post_other. */
const char	*peer_last_post(void);

#endif

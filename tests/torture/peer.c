/*
 * peer: the torture test's Salesforce over HTTPS (see peer.h).
 *
 * Owns the s_server child (through sserver), the responder thread, the
 * canned replies of the scenario and the record of what was asked.
 * s_server serves one connection at a time, which is all a run needs:
 * each run uses one fresh client and closes it before the next starts.
 * Replies stay below 8 KiB, the most s_server reads from its standard
 * input at once, so a reply is never split, and they start with "HTTP",
 * never with one of the letters s_server reads as a command.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "peer.h"
#include "scenario.h"
#include "sserver.h"

#define PEER_REPLY_MAX	8000

static struct sserver	 peer_srv = { -1, -1, -1, 0 };
static pthread_t	 peer_thr;
static int		 peer_thr_started;
static char		 peer_base[64];
char			 sc_bot_token[SC_BOT_TOKEN_MAX];

static pthread_mutex_t	 peer_mu = PTHREAD_MUTEX_INITIALIZER;
static struct peer_seen	 peer_log;

/* Bodies built at start: they name the port and carry signatures. */
static char		 peer_tok_code[1024];
static char		 peer_tok_refresh[1024];
static char		 peer_userinfo[1024];

static const char	 peer_contacts[] =
	"{\"totalSize\":2,\"done\":true,\"records\":["
	"{\"attributes\":{\"type\":\"Contact\",\"url\":"
	"\"/services/data/" SC_API "/sobjects/Contact/003000000000001AAA\"},"
	"\"Id\":\"003000000000001AAA\",\"Name\":\"" SC_CONTACT1 "\","
	"\"Title\":\"CTO\",\"Email\":\"ada@example.com\","
	"\"Phone\":\"+1 555 0100\",\"MobilePhone\":null,"
	"\"Account\":{\"attributes\":{\"type\":\"Account\",\"url\":"
	"\"/services/data/" SC_API "/sobjects/Account/001000000000001AAA\"},"
	"\"Id\":\"001000000000001AAA\",\"Name\":\"Acme & Sons\"}},"
	"{\"attributes\":{\"type\":\"Contact\",\"url\":"
	"\"/services/data/" SC_API "/sobjects/Contact/003000000000002AAA\"},"
	"\"Id\":\"003000000000002AAA\",\"Name\":\"" SC_CONTACT2 "\","
	"\"Title\":null,\"Email\":\"bob@example.com\",\"Phone\":null,"
	"\"MobilePhone\":\"+1 555 0199\",\"Account\":null}]}";
/* The page after the first (an OFFSET): the second contact alone. */
static const char	 peer_contacts_next[] =
	"{\"totalSize\":2,\"done\":true,\"records\":["
	"{\"attributes\":{\"type\":\"Contact\",\"url\":"
	"\"/services/data/" SC_API "/sobjects/Contact/003000000000002AAA\"},"
	"\"Id\":\"003000000000002AAA\",\"Name\":\"" SC_CONTACT2 "\","
	"\"Title\":null,\"Email\":\"bob@example.com\",\"Phone\":null,"
	"\"MobilePhone\":\"+1 555 0199\",\"Account\":null}]}";
static const char	 peer_expired[] =
	"[{\"message\":\"Session expired or invalid\","
	"\"errorCode\":\"INVALID_SESSION_ID\"}]";
static const char	 peer_bad_grant[] =
	"{\"error\":\"invalid_grant\","
	"\"error_description\":\"expired access/refresh token\"}";
static const char	 peer_not_found[] =
	"[{\"errorCode\":\"NOT_FOUND\","
	"\"message\":\"The requested resource does not exist\"}]";

/* The composite create's answer (Salesforce's documented 200 body: the
 * Case created, then read back for its CaseNumber). */
static const char	 peer_composite[] =
	"{\"compositeResponse\":[{\"body\":{\"id\":\"" SC_CASE_ID "\","
	"\"success\":true,\"errors\":[]},\"httpHeaders\":{\"Location\":"
	"\"/services/data/" SC_API "/sobjects/Case/" SC_CASE_ID "\"},"
	"\"httpStatusCode\":201,\"referenceId\":\"newCase\"},"
	"{\"body\":{\"attributes\":{\"type\":\"Case\",\"url\":"
	"\"/services/data/" SC_API "/sobjects/Case/" SC_CASE_ID "\"},"
	"\"Id\":\"" SC_CASE_ID "\",\"CaseNumber\":\"" SC_CASE_NUMBER "\"},"
	"\"httpHeaders\":{},\"httpStatusCode\":200,"
	"\"referenceId\":\"readCase\"}]}";
/* Slack's answer to views.open and views.update. */
static const char	 peer_view[] =
	"{\"ok\":true,\"view\":{\"id\":\"" SC_VIEW "\",\"team_id\":"
	"\"" SC_TEAM "\",\"type\":\"modal\",\"hash\":\"" SC_VIEW_HASH "\","
	"\"callback_id\":\"case\"}}";
static const char	 peer_bad_auth[] = "{\"ok\":false,\"error\":\"invalid_auth\"}";

/* What the last unclassified response_url POST began with. */
static char		 peer_post_text[200];

/* Whether the len bytes at p hold s. */
static int
peer_has(const char *p, size_t len, const char *s)
{
	return memmem(p, len, s, strlen(s)) != NULL;
}

/* Whether the form body (len bytes) holds the pair kv ("key=value"). */
static int
peer_form_has(const char *body, size_t len, const char *kv)
{
	size_t	 n = strlen(kv);
	size_t	 i;

	for (i = 0; i + n <= len; i++)
		if ((i == 0 || body[i - 1] == '&') &&
		    memcmp(body + i, kv, n) == 0 &&
		    (i + n == len || body[i + n] == '&'))
			return 1;
	return 0;
}

/* Whether the request head (len bytes) carries "Bearer token". */
static int
peer_bearer(const char *head, size_t len, const char *token)
{
	char	 h[256];

	snprintf(h, sizeof(h), "\r\nAuthorization: Bearer %s\r\n", token);
	return memmem(head, len, h, strlen(h)) != NULL;
}

/* Sends status with body to s_server. */
static void
peer_send(int status, const char *body)
{
	char	 r[PEER_REPLY_MAX];
	int	 n;

	n = snprintf(r, sizeof(r), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: application/json;charset=UTF-8\r\n"
	    "Content-Length: %zu\r\n\r\n%s", status,
	    status == 200 ? "OK" : status == 400 ? "Bad Request" :
	    status == 401 ? "Unauthorized" : status == 403 ? "Forbidden" :
	    "Not Found", strlen(body), body);
	if (n > 0 && (size_t)n < sizeof(r))
		sserver_write(&peer_srv, r, (size_t)n);
}

/* The token endpoint: a code with its verifier, or the old refresh
 * token; anything else is an invalid grant. */
static void
peer_token(const char *body, size_t len)
{
	int	 code, refresh;

	code = peer_form_has(body, len, "grant_type=authorization_code") &&
	    peer_form_has(body, len, "code=" SC_CODE) &&
	    peer_form_has(body, len, "code_verifier=" SC_VERIFIER) &&
	    peer_form_has(body, len, "client_id=" SC_CLIENT_ID) &&
	    peer_form_has(body, len, "client_secret=" SC_CLIENT_SECRET);
	refresh = peer_form_has(body, len, "grant_type=refresh_token") &&
	    peer_form_has(body, len, "refresh_token=" SC_RT_OLD) &&
	    peer_form_has(body, len, "client_id=" SC_CLIENT_ID) &&
	    peer_form_has(body, len, "client_secret=" SC_CLIENT_SECRET);
	pthread_mutex_lock(&peer_mu);
	if (code)
		peer_log.code_grants++;
	else if (refresh)
		peer_log.refresh_grants++;
	pthread_mutex_unlock(&peer_mu);
	if (code)
		peer_send(200, peer_tok_code);
	else if (refresh)
		peer_send(200, peer_tok_refresh);
	else
		peer_send(400, peer_bad_grant);
}

/* Slack's response_url: counts what was posted, by what it carried. */
static void
peer_hook(const char *body, size_t len)
{
	int	 channel;

	channel = peer_has(body, len, "\"in_channel\"");
	pthread_mutex_lock(&peer_mu);
	if (peer_has(body, len, SC_FOREIGN) || (channel &&
	    !(peer_has(body, len, SC_CONTACT1) &&
	    peer_has(body, len, "Shared by <@" SC_USER ">") &&
	    !peer_has(body, len, SC_CONTACT2))))
		peer_log.shared_bad++;
	else if (channel)
		peer_log.shared_own++;
	else if (peer_has(body, len, SC_CASE_NUMBER))
		peer_log.post_created++;
	else if (peer_has(body, len, SC_CONTACT2) &&
	    peer_has(body, len, "\"replace_original\":false")) {
		peer_log.next_page++;
		peer_log.next_keyed += peer_has(body, len,
		    "\"action_id\":\"share\"");
	}
	else if (peer_has(body, len, "Only the person who searched can use "
	    "these buttons. Nothing was shared."))
		peer_log.refused++;
	else if (peer_has(body, len, "Something went wrong on our side") ||
	    peer_has(body, len, "Salesforce did not answer properly"))
		peer_log.post_error++;
	else {
		peer_log.post_other++;
		snprintf(peer_post_text, sizeof(peer_post_text), "%.*s",
		    (int)(len < sizeof(peer_post_text) - 1 ? len :
		    sizeof(peer_post_text) - 1), body);
	}
	pthread_mutex_unlock(&peer_mu);
	/* Slack answers a response_url POST with a plain "ok". */
	peer_send(200, "ok");
}

/* Slack's Web API: views.open and views.update for the bot token. */
static void
peer_slack(const char *head, size_t headlen, const char *body, size_t len)
{
	int	 open, update, ok;

	open = strncmp(head, "POST /api/views.open ", 21) == 0 &&
	    peer_has(body, len, "\"trigger_id\"");
	update = strncmp(head, "POST /api/views.update ", 23) == 0 &&
	    peer_has(body, len, "\"view_id\":\"" SC_VIEW "\"");
	ok = peer_bearer(head, headlen, sc_bot_token) && (open || update);
	pthread_mutex_lock(&peer_mu);
	if (!ok)
		peer_log.unexpected++;
	else if (open)
		peer_log.views_open++;
	else if (peer_has(body, len, SC_CASE_NUMBER))
		peer_log.view_created++;
	else
		peer_log.view_other++;
	pthread_mutex_unlock(&peer_mu);
	/* Slack answers its Web API with 200, ok or not. */
	peer_send(200, ok ? peer_view : peer_bad_auth);
}

/* Answers one request: method and path in line, headers in head. */
static void
peer_answer(const char *head, size_t headlen, const char *body,
    size_t bodylen)
{
	int	 old, new;

	if (strncmp(head, "POST /services/oauth2/token ", 28) == 0) {
		peer_token(body, bodylen);
		return;
	}
	if (strncmp(head, "POST /services/oauth2/revoke ", 29) == 0) {
		old = peer_form_has(body, bodylen, "token=" SC_RT_OLD);
		new = peer_form_has(body, bodylen, "token=" SC_RT_NEW);
		pthread_mutex_lock(&peer_mu);
		if (old)
			peer_log.revoked_old++;
		else if (new)
			peer_log.revoked_new++;
		else
			peer_log.revoked_other++;
		pthread_mutex_unlock(&peer_mu);
		peer_send(200, "");
		return;
	}
	if (strncmp(head, "GET /services/oauth2/userinfo ", 30) == 0) {
		if (!peer_bearer(head, headlen, SC_AT_NEW)) {
			peer_send(403, "\"Bad_OAuth_Token\"");
			return;
		}
		pthread_mutex_lock(&peer_mu);
		peer_log.userinfo++;
		pthread_mutex_unlock(&peer_mu);
		peer_send(200, peer_userinfo);
		return;
	}
	if (strncmp(head, "GET /services/data/" SC_API "/query?q=",
	    sizeof("GET /services/data/" SC_API "/query?q=") - 1) == 0) {
		old = !peer_bearer(head, headlen, SC_AT_REFRESHED) &&
		    !peer_bearer(head, headlen, SC_AT_NEW);
		/* The request line alone: "OFFSET" in the query string. */
		new = memchr(head, '\r', headlen) != NULL &&
		    peer_has(head, (size_t)((const char *)memchr(head, '\r',
		    headlen) - head), "OFFSET");
		pthread_mutex_lock(&peer_mu);
		if (old)
			peer_log.expired++;
		else
			peer_log.queries++;
		if (!old && new)
			peer_log.paged++;
		pthread_mutex_unlock(&peer_mu);
		peer_send(old ? 401 : 200, old ? peer_expired : new ?
		    peer_contacts_next : peer_contacts);
		return;
	}
	if (strncmp(head, "POST /services/data/" SC_API "/composite ",
	    sizeof("POST /services/data/" SC_API "/composite ") - 1) == 0) {
		old = !peer_bearer(head, headlen, SC_AT_REFRESHED) &&
		    !peer_bearer(head, headlen, SC_AT_NEW);
		new = peer_has(body, bodylen, SC_SUBJECT);
		pthread_mutex_lock(&peer_mu);
		if (old)
			peer_log.expired++;
		else if (new)
			peer_log.creates++;
		else
			peer_log.unexpected++;
		pthread_mutex_unlock(&peer_mu);
		peer_send(old ? 401 : new ? 200 : 400, old ? peer_expired :
		    new ? peer_composite : peer_not_found);
		return;
	}
	if (strncmp(head, "POST /api/views.", 16) == 0) {
		peer_slack(head, headlen, body, bodylen);
		return;
	}
	if (strncmp(head, "POST " SC_HOOK " ", sizeof("POST " SC_HOOK " ") -
	    1) == 0) {
		peer_hook(body, bodylen);
		return;
	}
	pthread_mutex_lock(&peer_mu);
	peer_log.unexpected++;
	pthread_mutex_unlock(&peer_mu);
	peer_send(404, peer_not_found);
}

/* sserver's answer function: one complete request. */
static void
peer_request(void *arg, const char *req, size_t head, size_t n)
{
	(void)arg;
	peer_answer(req, head, req + head, n - head);
}

static void *
peer_responder(void *arg)
{
	(void)arg;
	sserver_serve(&peer_srv, peer_request, NULL);
	return NULL;
}

/* A token reply for user, signed as Salesforce signs it. */
static int
peer_token_reply(char *out, size_t n, const char *access,
    const char *refresh, const char *user, const char *issued)
{
	unsigned char	 mac[32];
	char		 id[256], msg[300], *sig;
	int		 len;

	snprintf(id, sizeof(id), "%s/id/" SC_ORG "/%s", peer_base, user);
	snprintf(msg, sizeof(msg), "%s%s", id, issued);
	crypto_hmac_sha256(SC_CLIENT_SECRET, strlen(SC_CLIENT_SECRET), msg,
	    strlen(msg), mac);
	if ((sig = crypto_base64(mac, sizeof(mac))) == NULL)
		return -1;
	len = snprintf(out, n, "{\"access_token\":\"%s\","
	    "\"refresh_token\":\"%s\",\"signature\":\"%s\","
	    "\"scope\":\"api refresh_token\",\"instance_url\":\"%s\","
	    "\"id\":\"%s\",\"token_type\":\"Bearer\",\"issued_at\":\"%s\"}",
	    access, refresh, sig, peer_base, id, issued);
	free(sig);
	return len > 0 && (size_t)len < n ? 0 : -1;
}

int
peer_start(const char *certdir)
{
	char	 cert[PATH_MAX], key[PATH_MAX], rnd[CRYPTO_TOKEN_MAX];

	crypto_random_token(rnd, 32);
	snprintf(sc_bot_token, SC_BOT_TOKEN_MAX, "xoxb-%s", rnd);
	crypto_wipe(rnd, sizeof(rnd));

	snprintf(cert, sizeof(cert), "%s/server.pem", certdir);
	snprintf(key, sizeof(key), "%s/server.key", certdir);
	if (sserver_start(&peer_srv, cert, key) == -1) {
		fprintf(stderr, "torture: s_server did not start\n");
		return -1;
	}
	snprintf(peer_base, sizeof(peer_base), "https://127.0.0.1:%d",
	    peer_srv.port);
	if (peer_token_reply(peer_tok_code, sizeof(peer_tok_code), SC_AT_NEW,
	    SC_RT_NEW, SC_NEW_USER, "1700000000000") == -1 ||
	    peer_token_reply(peer_tok_refresh, sizeof(peer_tok_refresh),
	    SC_AT_REFRESHED, SC_RT_ROTATED, SC_OLD_USER, "1700000000001") ==
	    -1) {
		fprintf(stderr, "torture: cannot build the token replies\n");
		return -1;
	}
	snprintf(peer_userinfo, sizeof(peer_userinfo),
	    "{\"sub\":\"%s/id/" SC_ORG "/" SC_NEW_USER "\","
	    "\"user_id\":\"" SC_NEW_USER "\","
	    "\"organization_id\":\"" SC_ORG "\","
	    "\"preferred_username\":\"" SC_NEW_NAME "\","
	    "\"name\":\"New User\",\"email\":\"" SC_NEW_NAME "\"}", peer_base);
	if (pthread_create(&peer_thr, NULL, peer_responder, NULL) != 0) {
		fprintf(stderr, "torture: cannot start the responder\n");
		return -1;
	}
	peer_thr_started = 1;
	return 0;
}

void
peer_stop(void)
{
	sserver_stop(&peer_srv);
	if (peer_thr_started)
		pthread_join(peer_thr, NULL);
	sserver_close(&peer_srv);
	peer_thr_started = 0;
}

const char *
peer_url(void)
{
	return peer_base;
}

void
peer_reset(void)
{
	pthread_mutex_lock(&peer_mu);
	memset(&peer_log, 0, sizeof(peer_log));
	pthread_mutex_unlock(&peer_mu);
}

const char *
peer_last_post(void)
{
	return peer_post_text;
}

void
peer_get(struct peer_seen *out)
{
	pthread_mutex_lock(&peer_mu);
	*out = peer_log;
	pthread_mutex_unlock(&peer_mu);
}

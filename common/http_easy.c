/*
 * http_easy: libcurl's global set-up and one easy handle's life, for
 * both ways a transfer runs (see http.h): the driver of http.c and the
 * worker's loop of http_loop.c.
 *
 * A handle is hardened once (http_harden) and never loses those
 * options: the per-request options (method, body, headers, timeouts,
 * where the body goes) are set before each transfer (http_prepare) and
 * cleared after it (http_unprepare), so there is no code path that could
 * turn verification off, and no pointer into a caller's memory stays in
 * a handle between two transfers.
 */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "http.h"
#include "http_int.h"
#include "log.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION		"0"
#endif

#define HTTP_USER_AGENT		"forcelink/" PACKAGE_VERSION
#define HTTP_KEEPIDLE_SECS	60
#define HTTP_KEEPINTVL_SECS	30
/* The system trust store, kept when FORCELINK_CA_FILE adds a CA. */
#define HTTP_SYSTEM_CAPATH	"/etc/ssl/certs"

static pthread_once_t	 http_once = PTHREAD_ONCE_INIT;
static CURLcode		 http_global_rc = CURLE_FAILED_INIT;

static void
http_global_init(void)
{
	http_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int
http_init(void)
{
	if (pthread_once(&http_once, http_global_init) != 0 ||
	    http_global_rc != CURLE_OK) {
		log_error("msg=\"curl_global_init failed\"");
		return -1;
	}
	return 0;
}

/* Hardening options of type long, set once per easy handle. */
static const struct {
	CURLoption	 opt;
	long		 val;
} http_longopts[] = {
	{ CURLOPT_FOLLOWLOCATION,	0 },
	{ CURLOPT_MAXREDIRS,		0 },
	{ CURLOPT_SSL_VERIFYPEER,	1 },
	{ CURLOPT_SSL_VERIFYHOST,	2 },
	{ CURLOPT_SSLVERSION,		CURL_SSLVERSION_TLSv1_2 },
	/* HTTP/2 where the peer offers it (ALPN): a worker's loop then
	 * multiplexes every request to one host over one connection. */
	{ CURLOPT_HTTP_VERSION,		CURL_HTTP_VERSION_2TLS },
	/* A new request to a host waits for a connection being made to
	 * learn whether it multiplexes, instead of opening another. */
	{ CURLOPT_PIPEWAIT,		1 },
	/* Threads: libcurl must not use signals for its timeouts. */
	{ CURLOPT_NOSIGNAL,		1 },
	/* Last-Modified read into a time (a describe's cache date). */
	{ CURLOPT_FILETIME,		1 },
	/*
	 * No low-speed limit: libcurl counts the time a server takes to
	 * start answering as a stall, so "1 byte/s for 10 s" cut off every
	 * Salesforce query that took 10 s to run.  HTTP_TOTAL_MS bounds a
	 * dripping peer as well.
	 */
	{ CURLOPT_TCP_KEEPALIVE,	1 },
	{ CURLOPT_TCP_KEEPIDLE,		HTTP_KEEPIDLE_SECS },
	{ CURLOPT_TCP_KEEPINTVL,	HTTP_KEEPINTVL_SECS },
};

/*
 * Appends what libcurl received to the response body, refusing to go
 * past HTTP_RESPONSE_MAX (or the body's own ceiling, if lower).
 * Returning less than asked makes libcurl abort with CURLE_WRITE_ERROR.
 */
static size_t
http_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct http_xfer	*x = arg;
	size_t			 n = size * nmemb, cap;

	cap = x->sink->max < HTTP_RESPONSE_MAX ? x->sink->max :
	    HTTP_RESPONSE_MAX;
	if (x->sink->len > cap || n > cap - x->sink->len) {
		x->toobig = 1;
		return 0;
	}
	if (buf_append(x->sink, p, n) == -1)
		return 0;
	return n;
}

/*
 * ca_file, when set, is added to the system store rather than replacing
 * it: CAINFO names the extra bundle and CAPATH keeps the hashed system
 * directory.  Too old a libcurl must not silently run without a
 * hardening option, so any refusal fails.
 */
int
http_harden(CURL *c, const char *ca_file)
{
	size_t	 i;
	int	 bad = 0;

	for (i = 0; i < sizeof(http_longopts) / sizeof(http_longopts[0]); i++)
		bad |= curl_easy_setopt(c, http_longopts[i].opt,
		    http_longopts[i].val) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https") !=
	    CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)HTTP_RESPONSE_MAX) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_USERAGENT, HTTP_USER_AGENT) !=
	    CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_write) !=
	    CURLE_OK;
	if (ca_file != NULL) {
		bad |= curl_easy_setopt(c, CURLOPT_CAINFO, ca_file) != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_CAPATH,
		    HTTP_SYSTEM_CAPATH) != CURLE_OK;
	}
	return bad ? -1 : 0;
}

int
http_prepare(CURL *c, struct http_xfer *x)
{
	const char	*body = x->body;
	int		 bad = 0;

	if (strcmp(x->method, "GET") == 0)
		bad |= curl_easy_setopt(c, CURLOPT_HTTPGET, 1L) != CURLE_OK;
	else if (strcmp(x->method, "POST") == 0) {
		if (body == NULL)
			body = "";
		bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)strlen(body)) != CURLE_OK;
		/* Not copied: the body outlives the transfer. */
		bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDS, body) !=
		    CURLE_OK;
	} else {
		log_error("msg=\"unsupported method\"");
		return -1;
	}
	bad |= curl_easy_setopt(c, CURLOPT_URL, x->url) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->hdrs) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, x) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf) !=
	    CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    x->connect_ms) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, x->total_ms) !=
	    CURLE_OK;
	if (bad)
		log_error("msg=\"libcurl refused a request option\"");
	return bad ? -1 : 0;
}

/* Forgets the per-request options, so that no pointer into the caller's
 * memory (body, headers, buffers) stays in the handle. */
void
http_unprepare(CURL *c)
{
	(void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	(void)curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
	(void)curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
	/* Setting POSTFIELDS switched the method to POST: back to GET. */
	(void)curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	(void)curl_easy_setopt(c, CURLOPT_WRITEDATA, NULL);
	(void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	(void)curl_easy_setopt(c, CURLOPT_PREREQFUNCTION, NULL);
	(void)curl_easy_setopt(c, CURLOPT_PREREQDATA, NULL);
}

/*
 * libcurl tells the protocol only with the answer; the loop needs it as
 * soon as the connection is up, so it asks the TLS library (the one
 * libcurl is built with, OpenSSL on Debian) which ALPN protocol the
 * handshake chose.
 */
int
http_alpn_h2(CURL *c)
{
	struct curl_tlssessioninfo	*tsi = NULL;
	const unsigned char		*p = NULL;
	unsigned int			 n = 0;

	if (curl_easy_getinfo(c, CURLINFO_TLS_SSL_PTR, &tsi) != CURLE_OK ||
	    tsi == NULL || tsi->backend != CURLSSLBACKEND_OPENSSL ||
	    tsi->internals == NULL)
		return -1;
	SSL_get0_alpn_selected((const SSL *)tsi->internals, &p, &n);
	return n == 2 && memcmp(p, "h2", 2) == 0;
}

void
http_collect(CURL *c, struct http_xfer *x, CURLcode cc)
{
	curl_off_t	 ra = 0, ft = -1;
	long		 n = 0;

	x->cc = cc;
	x->retry_after = 0;
	x->last_modified = 0;
	if (cc == CURLE_OK && curl_easy_getinfo(c, CURLINFO_FILETIME_T,
	    &ft) == CURLE_OK && ft > 0)
		x->last_modified = (time_t)ft;
	if (cc == CURLE_OK && curl_easy_getinfo(c, CURLINFO_RETRY_AFTER,
	    &ra) == CURLE_OK && ra > 0)
		x->retry_after = ra > LONG_MAX ? LONG_MAX : (long)ra;
	if (curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &n) == CURLE_OK)
		x->connects = n;
	if (cc != CURLE_OK || curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE,
	    &x->status) != CURLE_OK)
		x->status = 0;
}

/*
 * http: the one hardened libcurl wrapper for every outbound call (see
 * http.h).
 *
 * Every easy handle, whoever drives it, is hardened once by
 * http_harden() (http_easy.c) and never loses those options.
 *
 * A transfer goes one of two ways.  In a fiber of a client tied to a
 * worker's loop (http_use_loop), it is handed to the loop and the fiber
 * waits, giving its thread to other requests (http_loop.c).  Anywhere
 * else (forcelink-admin, the tests) the client drives it itself with its
 * own easy and multi handle, waking at least every HTTP_POLL_MS so that
 * a deadline set with fiber_set_deadline() runs in time even when the
 * peer sends nothing at all.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "buf.h"
#include "crypto.h"
#include "fiber.h"
#include "http.h"
#include "http_int.h"
#include "log.h"

/* Longest sleep between two looks at the transfer and the deadline. */
#define HTTP_POLL_MS		50
/* Idle connections a client driving its own transfers keeps (one per
 * Salesforce host it talks to). */
#define HTTP_MAXCONNECTS	4
/* Longest URL and host name accepted. */
#define HTTP_URL_MAX		16384
#define HTTP_HOST_MAX		256

struct http {
	CURL		*easy;		/* the direct way (no loop) */
	CURLM		*multi;
	struct http_loop *loop;		/* NULL: transfers run on the caller */
	long		 connects;	/* connections opened so far */
	long		 connect_ms;	/* timeouts of this client's transfers */
	long		 total_ms;
};

const char *
http_result_str(enum http_result r)
{
	switch (r) {
	case HTTP_OK:
		return "ok";
	case HTTP_TIMEOUT:
		return "timeout";
	case HTTP_CONNECT:
		return "connect";
	case HTTP_TLS:
		return "tls";
	case HTTP_TOOBIG:
		return "toobig";
	case HTTP_REFUSED:
		return "refused";
	case HTTP_ERROR:
		break;
	}
	return "error";
}

struct http *
http_new(const char *ca_file)
{
	struct http	*h = NULL;

	/* Normally done by main() already; a no-op then. */
	if (http_init() == -1)
		goto fail;
	if (ca_file != NULL && access(ca_file, R_OK) == -1) {
		log_error("msg=\"CA file is not readable\"");
		goto fail;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (h->easy = curl_easy_init()) == NULL ||
	    (h->multi = curl_multi_init()) == NULL) {
		log_error("msg=\"out of memory\"");
		goto fail;
	}
	h->connect_ms = HTTP_CONNECT_MS;
	h->total_ms = HTTP_TOTAL_MS;
	if (http_harden(h->easy, ca_file) == -1 ||
	    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS,
	    (long)HTTP_MAXCONNECTS) != CURLM_OK) {
		log_error("msg=\"libcurl refused a hardening option\"");
		goto fail;
	}
	return h;
fail:
	http_free(h);
	return NULL;
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	/* The easy handle is never left in the multi handle. */
	if (h->easy != NULL)
		curl_easy_cleanup(h->easy);
	if (h->multi != NULL)
		curl_multi_cleanup(h->multi);
	free(h);
}

void
http_use_loop(struct http *h, struct http_loop *l)
{
	h->loop = l;
}

void
http_response_init(struct http_response *r)
{
	r->status = 0;
	r->retry_after = 0;
	r->last_modified = 0;
	buf_init(&r->body, HTTP_RESPONSE_MAX);
}

void
http_response_free(struct http_response *r)
{
	/* Token replies pass through here: wipe, whatever the body was. */
	buf_free_secret(&r->body);
	r->status = 0;
}

long
http_connections(const struct http *h)
{
	return h->connects;
}

/* Returns 1 when c may appear in a host name or IPv4 address. */
static int
http_host_char(int c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '.';
}

/* Returns 1 when c may appear inside the brackets of an IPv6 literal. */
static int
http_ipv6_char(int c)
{
	return isxdigit((unsigned char)c) || c == ':' || c == '.';
}

/* Returns 1 when [p, end) is a decimal port 1..65535. */
static int
http_port_ok(const char *p, const char *end)
{
	long	 v = 0;

	if (p == end || end - p > 5)
		return 0;
	for (; p < end; p++) {
		if (!isdigit((unsigned char)*p))
			return 0;
		v = v * 10 + (*p - '0');
	}
	return v >= 1 && v <= 65535;
}

int
http_url_host(const char *url, char *out, size_t n)
{
	const char	*p, *end, *host, *hend, *rest;
	int		(*ok)(int) = http_host_char;

	if (url == NULL || strncasecmp(url, "https://", 8) != 0)
		return -1;
	p = url + 8;
	end = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(end - p)) != NULL)
		return -1;
	if (*p == '[') {
		host = p + 1;
		if ((hend = memchr(host, ']', (size_t)(end - host))) == NULL)
			return -1;
		rest = hend + 1;
		ok = http_ipv6_char;
	} else {
		host = p;
		hend = memchr(p, ':', (size_t)(end - p));
		if (hend == NULL)
			hend = end;
		rest = hend;
	}
	if (hend == host || (size_t)(hend - host) >= n ||
	    hend - host >= HTTP_HOST_MAX)
		return -1;
	for (p = host; p < hend; p++)
		if (!ok(*p))
			return -1;
	if (rest != end && (*rest != ':' || !http_port_ok(rest + 1, end)))
		return -1;
	memcpy(out, host, (size_t)(hend - host));
	out[hend - host] = '\0';
	return 0;
}

int
http_url_as_sent(const char *url)
{
	CURLU	*u = NULL;
	char	*back = NULL;
	int	 same = 0;

	if (url == NULL || (u = curl_url()) == NULL)
		goto out;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &back, 0) != CURLUE_OK)
		goto out;
	same = strcmp(back, url) == 0;
out:
	curl_free(back);
	curl_url_cleanup(u);
	return same;
}

/* Returns 1 when s is a URL we hand to libcurl at all: bounded, printable
 * ASCII, https with a well-formed host. */
static int
http_url_ok(const char *url, char *host, size_t hostsz)
{
	size_t	 i;

	if (url == NULL)
		return 0;
	for (i = 0; url[i] != '\0'; i++)
		if (i >= HTTP_URL_MAX || url[i] <= ' ' || url[i] > '~')
			return 0;
	return http_url_host(url, host, hostsz) == 0;
}

/* Returns 1 when s may be sent as a header value (no CR, LF or other
 * control byte that would end the header). */
static int
http_header_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return 0;
	return 1;
}

/* Frees a header list, wiping it first: it may hold a bearer token. */
static void
http_headers_free(struct curl_slist *list)
{
	struct curl_slist	*l;

	for (l = list; l != NULL; l = l->next)
		if (l->data != NULL)
			crypto_wipe(l->data, strlen(l->data));
	curl_slist_free_all(list);
}

/* Appends the header prefix + value to *list.  Returns 0, or -1 on memory
 * exhaustion (then *list is freed and NULL). */
static int
http_header_add(struct curl_slist **list, const char *prefix,
    const char *value)
{
	struct curl_slist	*l;
	struct buf		 b;
	int			 rc = -1;

	buf_init(&b, HTTP_URL_MAX);
	if (buf_puts(&b, prefix) == -1 || buf_puts(&b, value) == -1)
		goto out;
	if ((l = curl_slist_append(*list, buf_cstr(&b))) == NULL)
		goto out;
	*list = l;
	rc = 0;
out:
	buf_free_secret(&b);
	if (rc == -1) {
		http_headers_free(*list);
		*list = NULL;
	}
	return rc;
}

/*
 * Builds the request headers.  "Expect:" stops libcurl from waiting for
 * a 100 Continue before larger bodies.  Returns the list, or NULL on
 * memory exhaustion.
 */
static struct curl_slist *
http_headers(const char *bearer, const char *content_type, const char *extra)
{
	struct curl_slist	*list = NULL;

	if (http_header_add(&list, "Accept: ", "application/json") == -1 ||
	    http_header_add(&list, "Expect:", "") == -1)
		return NULL;
	if (content_type != NULL &&
	    http_header_add(&list, "Content-Type: ", content_type) == -1)
		return NULL;
	if (bearer != NULL &&
	    http_header_add(&list, "Authorization: Bearer ", bearer) == -1)
		return NULL;
	if (extra != NULL && http_header_add(&list, "", extra) == -1)
		return NULL;
	return list;
}

/*
 * Runs x on the client's own handles to its end, running the fiber
 * deadline when it falls due.
 */
static void
http_drive(struct http *h, struct http_xfer *x)
{
	CURLMsg		*msg;
	CURLMcode	 mc;
	CURLcode	 cc = CURLE_FAILED_INIT;
	int		 running = 1, left;

	if (http_prepare(h->easy, x) == -1) {
		x->cc = CURLE_FAILED_INIT;
		goto out;
	}
	if ((mc = curl_multi_add_handle(h->multi, h->easy)) != CURLM_OK)
		goto fail;
	while (running) {
		(void)fiber_deadline_check();
		if ((mc = curl_multi_perform(h->multi, &running)) != CURLM_OK)
			break;
		if (running && (mc = curl_multi_poll(h->multi, NULL, 0,
		    HTTP_POLL_MS, NULL)) != CURLM_OK)
			break;
	}
	while ((msg = curl_multi_info_read(h->multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == h->easy)
			cc = msg->data.result;
	(void)curl_multi_remove_handle(h->multi, h->easy);
fail:
	if (mc != CURLM_OK)
		log_error("msg=\"%s\"", curl_multi_strerror(mc));
	http_collect(h->easy, x, cc);
out:
	http_unprepare(h->easy);
}

/* Maps a libcurl result to ours. */
static enum http_result
http_map(const struct http_xfer *x)
{
	switch (x->cc) {
	case CURLE_OK:
		return HTTP_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return HTTP_TIMEOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return HTTP_CONNECT;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
		return HTTP_TLS;
	case CURLE_FILESIZE_EXCEEDED:
		return HTTP_TOOBIG;
	case CURLE_WRITE_ERROR:
		return x->toobig ? HTTP_TOOBIG : HTTP_ERROR;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return HTTP_REFUSED;
	default:
		return HTTP_ERROR;
	}
}

/* The outcome of x into resp and the counters; logs a failure with the
 * host only. */
static enum http_result
http_finish(struct http *h, struct http_xfer *x, const char *host,
    struct http_response *resp)
{
	enum http_result	 rv;

	h->connects += x->connects;
	resp->status = x->status;
	resp->retry_after = x->retry_after;
	resp->last_modified = x->last_modified;
	if ((rv = http_map(x)) == HTTP_OK) {
		log_event(LOGL_DEBUG, "http.response", "host=%s status=%ld "
		    "bytes=%zu", host, resp->status, resp->body.len);
		return rv;
	}
	/* libcurl's error text names the host and port, never the path. */
	log_warn("host=%s result=%s curl=%d msg=\"%s\"", host,
	    http_result_str(rv), (int)x->cc, x->errbuf[0] != '\0' ?
	    x->errbuf : curl_easy_strerror(x->cc));
	buf_reset(&resp->body);
	resp->status = 0;
	return rv;
}

enum http_result
http_request(struct http *h, const char *method, const char *url,
    const char *bearer, const char *content_type, const char *body,
    struct http_response *resp)
{
	return http_request_extra(h, method, url, bearer, content_type, body,
	    NULL, resp);
}

/* Whether extra is one header line "Name: value": a token for the name
 * (letters, digits, '-'), then ": ", then a value http_header_ok takes;
 * none of the headers http_headers() sets itself. */
static int
http_extra_ok(const char *extra)
{
	static const char *const own[] = { "accept", "expect",
	    "content-type", "authorization" };
	size_t	 i, n;

	for (n = 0; isalnum((unsigned char)extra[n]) || extra[n] == '-'; n++)
		continue;
	if (n == 0 || extra[n] != ':' || extra[n + 1] != ' ' ||
	    !http_header_ok(extra + n + 2))
		return 0;
	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (strlen(own[i]) == n && strncasecmp(extra, own[i], n) == 0)
			return 0;
	return 1;
}

enum http_result
http_request_extra(struct http *h, const char *method, const char *url,
    const char *bearer, const char *content_type, const char *body,
    const char *extra, struct http_response *resp)
{
	struct http_xfer	 x;
	enum http_result	 rv = HTTP_ERROR;
	char			 host[HTTP_HOST_MAX];

	memset(&x, 0, sizeof(x));
	buf_reset(&resp->body);
	resp->status = 0;
	(void)fiber_deadline_check();
	if (!http_url_ok(url, host, sizeof(host))) {
		log_warn("msg=\"refused a URL that is not plain https\"");
		rv = HTTP_REFUSED;
		goto out;
	}
	if ((bearer != NULL && !http_header_ok(bearer)) ||
	    (content_type != NULL && !http_header_ok(content_type)) ||
	    (extra != NULL && !http_extra_ok(extra))) {
		log_error("host=%s msg=\"a header that may not be sent\"",
		    host);
		goto out;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0) {
		log_error("msg=\"unsupported method\"");
		goto out;
	}
	if ((x.hdrs = http_headers(bearer, content_type, extra)) == NULL) {
		log_error("msg=\"out of memory\"");
		goto out;
	}
	x.method = method;
	x.url = url;
	x.body = body;
	x.sink = &resp->body;
	x.connect_ms = h->connect_ms;
	x.total_ms = h->total_ms;
	if (h->loop != NULL && (x.waiter = fiber_self()) != NULL)
		http_loop_run(h->loop, &x);
	else
		http_drive(h, &x);
	rv = http_finish(h, &x, host, resp);
out:
	http_headers_free(x.hdrs);
	return rv;
}

/* --- Shorter timeouts (forcelink-admin doctor) ------------------------ */

int
http_set_timeouts(struct http *h, long connect_ms, long total_ms)
{
	if (connect_ms < 1 || total_ms < 1)
		return -1;
	if (connect_ms > HTTP_CONNECT_MS)
		connect_ms = HTTP_CONNECT_MS;
	if (total_ms > HTTP_TOTAL_MS)
		total_ms = HTTP_TOTAL_MS;
	h->connect_ms = connect_ms;
	h->total_ms = total_ms;
	return 0;
}

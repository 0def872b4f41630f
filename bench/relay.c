/*
 * relay: the ceiling forcelink is measured against.  The least a program
 * must do to answer /contact from Salesforce: read the request, GET the
 * query from Salesforce over HTTPS on one kept-alive connection (one
 * libcurl easy handle per worker, reused), parse the JSON reply with
 * json-c and render a small Block Kit message.  No signature check, no
 * store, no decryption, no deadline: forcelink's cost over this is the
 * price of doing those things.
 *
 * Settings (environment): BENCH_SF_URL, the full query URL; BENCH_CA_FILE,
 * the CA that signed the server's certificate (verification stays on).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <fcgiapp.h>
#include <json-c/json.h>

#include "prefork.h"

#define RELAY_BODY_MAX		(64 * 1024)
#define RELAY_REPLY_MAX		(1024 * 1024)

static CURL		*relay_curl;
static struct curl_slist *relay_hdrs;
static char		*relay_buf;
static size_t		 relay_len, relay_cap;
static char		 relay_in[RELAY_BODY_MAX];

static size_t
relay_write(char *p, size_t size, size_t nmemb, void *arg)
{
	size_t	 n = size * nmemb;
	char	*nb;

	(void)arg;
	if (relay_len + n + 1 > RELAY_REPLY_MAX)
		return 0;
	if (relay_len + n + 1 > relay_cap) {
		relay_cap = (relay_len + n + 1) * 2;
		if ((nb = realloc(relay_buf, relay_cap)) == NULL)
			return 0;
		relay_buf = nb;
	}
	memcpy(relay_buf + relay_len, p, n);
	relay_len += n;
	relay_buf[relay_len] = '\0';
	return n;
}

/* One handle per worker, set up once: every request reuses its
 * connection. */
static int
relay_init(void)
{
	const char	*url = getenv("BENCH_SF_URL");
	const char	*ca = getenv("BENCH_CA_FILE");

	if (url == NULL || ca == NULL) {
		fprintf(stderr, "relay: BENCH_SF_URL and BENCH_CA_FILE "
		    "are required\n");
		return -1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((relay_curl = curl_easy_init()) == NULL)
		return -1;
	relay_hdrs = curl_slist_append(NULL, "Accept: application/json");
	relay_hdrs = curl_slist_append(relay_hdrs,
	    "Authorization: Bearer 00Dbench!relay-token");
	curl_easy_setopt(relay_curl, CURLOPT_URL, url);
	curl_easy_setopt(relay_curl, CURLOPT_CAINFO, ca);
	curl_easy_setopt(relay_curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(relay_curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(relay_curl, CURLOPT_HTTP_VERSION,
	    (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(relay_curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(relay_curl, CURLOPT_TIMEOUT_MS, 20000L);
	curl_easy_setopt(relay_curl, CURLOPT_USERAGENT, "relay-bench");
	curl_easy_setopt(relay_curl, CURLOPT_HTTPHEADER, relay_hdrs);
	curl_easy_setopt(relay_curl, CURLOPT_WRITEFUNCTION, relay_write);
	return 0;
}

static const char *
relay_str(struct json_object *o, const char *key)
{
	struct json_object	*v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

/* {"response_type":"ephemeral","text":...,"blocks":[one section per
 * contact]} from the query reply; NULL when the reply is not usable. */
static struct json_object *
relay_render(struct json_object *reply)
{
	struct json_object	*records, *rec, *acct, *msg, *blocks, *sec;
	struct json_object	*txt;
	char			 line[1024];
	size_t			 i, n;

	if (!json_object_object_get_ex(reply, "records", &records) ||
	    !json_object_is_type(records, json_type_array))
		return NULL;
	n = json_object_array_length(records);
	msg = json_object_new_object();
	blocks = json_object_new_array();
	snprintf(line, sizeof(line), "%zu contacts", n);
	json_object_object_add(msg, "response_type",
	    json_object_new_string("ephemeral"));
	json_object_object_add(msg, "text", json_object_new_string(line));
	for (i = 0; i < n; i++) {
		rec = json_object_array_get_idx(records, i);
		if (!json_object_object_get_ex(rec, "Account", &acct))
			acct = NULL;
		snprintf(line, sizeof(line), "*%s*\n%s · %s\n%s · %s",
		    relay_str(rec, "Name"), relay_str(rec, "Title"),
		    relay_str(acct, "Name"), relay_str(rec, "Email"),
		    relay_str(rec, "Phone"));
		sec = json_object_new_object();
		txt = json_object_new_object();
		json_object_object_add(txt, "type",
		    json_object_new_string("mrkdwn"));
		json_object_object_add(txt, "text",
		    json_object_new_string(line));
		json_object_object_add(sec, "type",
		    json_object_new_string("section"));
		json_object_object_add(sec, "text", txt);
		json_object_array_add(blocks, sec);
	}
	json_object_object_add(msg, "blocks", blocks);
	return msg;
}

static void
relay_fail(FCGX_Request *r, const char *why)
{
	FCGX_FPrintF(r->out, "Status: 502 Bad Gateway\r\n"
	    "Content-Type: text/plain\r\n\r\n%s\n", why);
}

static void
relay_handle(FCGX_Request *r)
{
	struct json_object	*reply = NULL, *msg = NULL;
	const char		*cl, *out;
	long			 len = 0, status = 0;

	/* Read the request as a real handler must. */
	if ((cl = FCGX_GetParam("CONTENT_LENGTH", r->envp)) != NULL)
		len = strtol(cl, NULL, 10);
	if (len > 0 && len <= RELAY_BODY_MAX)
		FCGX_GetStr(relay_in, (int)len, r->in);
	relay_len = 0;
	if (curl_easy_perform(relay_curl) != CURLE_OK ||
	    curl_easy_getinfo(relay_curl, CURLINFO_RESPONSE_CODE,
	    &status) != CURLE_OK || status != 200 || relay_len == 0) {
		relay_fail(r, "Salesforce call failed");
		return;
	}
	if ((reply = json_tokener_parse(relay_buf)) == NULL ||
	    (msg = relay_render(reply)) == NULL) {
		relay_fail(r, "malformed reply");
		goto out;
	}
	out = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
	FCGX_FPrintF(r->out, "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\n\r\n");
	FCGX_PutStr(out, (int)strlen(out), r->out);
out:
	json_object_put(msg);
	json_object_put(reply);
}

int
main(int argc, char *argv[])
{
	return prefork_main(argc, argv, "relay", relay_init, relay_handle);
}

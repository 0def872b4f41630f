/*
 * test_sf: the Salesforce client without a network.
 *
 * SOQL escaping against a golden table, the authorize URL byte for byte,
 * the strict parsers against good and hostile replies, the classification
 * of error replies, and token verification (signature and hosts).  The
 * calls themselves go to the local "openssl s_server" of tls_server.c
 * (shared with test_http.c), which answers with canned replies, so the
 * exact request lines and form bodies and the classification of each
 * reply are checked on the wire; a few go to refused URLs or a closed
 * local port instead.
 *
 * JSON in the tables is written with single quotes for readability;
 * json() turns them into double quotes (a real apostrophe is \u0027).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "buf.h"
#include "config.h"
#include "crypto.h"
#include "http.h"
#include "sf.h"
#include "testutil.h"
#include "tls_server.h"

#define ORG_ID		"00D000000000001AAA"
#define USER_ID		"005000000000001AAA"
#define ID_URL		"https://login.salesforce.com/id/" ORG_ID "/" USER_ID
#define ISSUED		"1700000000000"
/* base64(HMAC-SHA256("s3cr3t", ID_URL ISSUED)), computed with Python's
 * hmac module, independently of crypto.c. */
#define ID_URL_SIG	"X9oLNrbZCCcoc1FfapYV7L0ZYjmmhkJv3Dknu54H9cs="

static struct sf_org	 org = {
	.name = "",
	.login_url = "https://login.salesforce.com",
	.login_host = "login.salesforce.com",
	.client_id = "3MVG9client.id",
	.client_secret = "s3cr3t",
	.api_version = "v62.0",
};

/* Turns single quotes into double quotes; four results live at once. */
static const char *
json(const char *sq)
{
	static char	 ring[4][8192];
	static int	 next;
	char		*out = ring[next++ % 4];
	size_t		 i;

	ck_assert_uint_lt(strlen(sq), sizeof(ring[0]));
	for (i = 0; sq[i] != '\0'; i++)
		out[i] = sq[i] == '\'' ? '"' : sq[i];
	out[i] = '\0';
	return out;
}

/* Appends n copies of c to b (no assertion per byte: Check records
 * every assertion it passes). */
static void
buf_fill(struct buf *b, int c, size_t n)
{
	int	 rc = 0;

	while (n-- > 0)
		rc |= buf_putc(b, c);
	ck_assert_int_eq(rc, 0);
}

/* ------------------------------------------------------------------ */
/* The contact search as /contact runs it: the first page. */
static enum sf_result
parse_contacts(const char *s, size_t n, struct sf_records *out)
{
	return sf_parse_records(SF_KIND_CONTACT, SF_QUERY_LIMIT, s, n, out);
}

static enum sf_result
query_contacts(struct http *h, const struct sf_org *o, const char *inst,
    const char *tok, const char *needle, struct sf_records *out,
    struct sf_error *err)
{
	struct sf_search	 q = { SF_KIND_CONTACT, needle, NULL,
				    SF_QUERY_LIMIT, 0, 0 };

	return sf_query_records(h, o, inst, tok, &q, out, err);
}

static int
soql_contacts(struct buf *b, const char *needle)
{
	struct sf_search	 q = { SF_KIND_CONTACT, needle, NULL,
				    SF_QUERY_LIMIT, 0, 0 };

	return sf_soql_search(b, &q);
}

/* SOQL */

static const struct {
	const char	*in;
	const char	*out;
} soql_table[] = {
	{ "smith", "smith" },
	{ "", "" },
	{ "O'Brien", "O\\'Brien" },
	{ "50%_off", "50\\%\\_off" },
	{ "back\\slash", "back\\\\slash" },
	{ "\"quoted\"", "\\\"quoted\\\"" },
	{ "a\nb", "a\\nb" },
	{ "a\rb", "a\\rb" },
	{ "a\tb", "a\\tb" },
	{ "a\bb", "a\\bb" },
	{ "a\fb", "a\\fb" },
	/* Backslash first: an escape in the input stays literal. */
	{ "\\'", "\\\\\\'" },
	{ "\\%", "\\\\\\%" },
	{ "\\n", "\\\\n" },
	{ "O'B\\%\n_\"", "O\\'B\\\\\\%\\n\\_\\\"" },
	{ "%%__", "\\%\\%\\_\\_" },
	/* No escape exists for other control bytes: dropped. */
	{ "a\x01" "b\x1f" "c\x0b", "abc" },
	{ "Zo\xc3\xab", "Zo\xc3\xab" },
	{ "\xe5\xb1\xb1\xe7\x94\xb0", "\xe5\xb1\xb1\xe7\x94\xb0" },
	{ "AT&T <x>", "AT&T <x>" },
};

START_TEST(test_soql_escape_table)
{
	struct buf	 b;

	buf_init(&b, 1024);
	ck_assert_int_eq(sf_soql_escape_like(&b, soql_table[_i].in), 0);
	ck_assert_str_eq(buf_cstr(&b), soql_table[_i].out);
	buf_free(&b);
}
END_TEST

START_TEST(test_soql_contacts_exact)
{
	struct buf	 b;

	buf_init(&b, 4096);
	ck_assert_int_eq(soql_contacts(&b, "O'Brien_%"), 0);
	ck_assert_str_eq(buf_cstr(&b),
	    "SELECT Id, Name, Title, Email, Phone, MobilePhone, Account.Id, "
	    "Account.Name FROM Contact WHERE Name LIKE '%O\\'Brien\\_\\%%' "
	    "ORDER BY Name, Id LIMIT 11");
	buf_free(&b);
}
END_TEST

/* The hostile texts of issue 15, as each search kind's SOQL has them:
 * the needle escaped as SPEC §7 says, for contacts and accounts alike. */
static const struct {
	const char	*in;
	const char	*like;
} soql_hostile[] = {
	{ "O'Brien", "O\\'Brien" },
	{ "\\", "\\\\" },
	{ "%", "\\%" },
	{ "_", "\\_" },
	{ "{x}", "{x}" },
	{ "1; DROP", "1; DROP" },
	{ "99999", "99999" },
	{ "", "" },
};

START_TEST(test_soql_kinds_hostile)
{
	struct sf_search	 q = { SF_KIND_CONTACT, NULL, NULL, 10, 0, 0 };
	struct buf		 b;
	char			 want[1024];

	q.needle = soql_hostile[_i].in;
	buf_init(&b, 4096);
	ck_assert_int_eq(sf_soql_search(&b, &q), 0);
	snprintf(want, sizeof(want), "SELECT Id, Name, Title, Email, Phone, "
	    "MobilePhone, Account.Id, Account.Name FROM Contact WHERE Name "
	    "LIKE '%%%s%%' ORDER BY Name, Id LIMIT 11", soql_hostile[_i].like);
	ck_assert_str_eq(buf_cstr(&b), want);
	buf_reset(&b);
	q.kind = SF_KIND_ACCOUNT;
	q.limit = 3;
	q.offset = 30;
	ck_assert_int_eq(sf_soql_search(&b, &q), 0);
	snprintf(want, sizeof(want), "SELECT Id, Name, Industry, BillingCity, "
	    "Phone, Website FROM Account WHERE Name LIKE '%%%s%%' ORDER BY "
	    "Name, Id LIMIT 4 OFFSET 30", soql_hostile[_i].like);
	ck_assert_str_eq(buf_cstr(&b), want);
	/* An opportunity search has no needle: the text never reaches it,
	 * and an owner that is not an id is refused. */
	buf_reset(&b);
	q.kind = SF_KIND_OPPORTUNITY;
	q.owner_id = soql_hostile[_i].in;
	ck_assert_int_eq(sf_soql_search(&b, &q), -1);
	ck_assert_uint_eq(b.len, 0);
	buf_free(&b);
}
END_TEST

START_TEST(test_soql_opportunities)
{
	struct sf_search	 q = { SF_KIND_OPPORTUNITY, "ignored",
				    "0055g00000Ab001AAA", 5, 0, 1 };
	struct buf		 b;

	buf_init(&b, 4096);
	ck_assert_int_eq(sf_soql_search(&b, &q), 0);
	ck_assert_str_eq(buf_cstr(&b), "SELECT Id, Name, StageName, CloseDate, "
	    "Amount, CurrencyIsoCode, Account.Id, Account.Name FROM "
	    "Opportunity WHERE OwnerId = '0055g00000Ab001AAA' AND IsClosed = "
	    "false ORDER BY CloseDate, Amount DESC NULLS LAST, Id LIMIT 6");
	buf_reset(&b);
	q.currency = 0;
	q.owner_id = "0055g00000Ab001";
	q.offset = SF_OFFSET_MAX;
	ck_assert_int_eq(sf_soql_search(&b, &q), 0);
	ck_assert_str_eq(buf_cstr(&b), "SELECT Id, Name, StageName, CloseDate, "
	    "Amount, Account.Id, Account.Name FROM Opportunity WHERE OwnerId "
	    "= '0055g00000Ab001' AND IsClosed = false ORDER BY CloseDate, "
	    "Amount DESC NULLS LAST, Id LIMIT 6 OFFSET 2000");
	buf_free(&b);
}
END_TEST

/* Out of range: refused, the buffer as it was. */
START_TEST(test_soql_bounds)
{
	static const struct sf_search bad[] = {
		{ SF_KIND_CONTACT, "a", NULL, 0, 0, 0 },
		{ SF_KIND_CONTACT, "a", NULL, SF_QUERY_LIMIT + 1, 0, 0 },
		{ SF_KIND_CONTACT, "a", NULL, 1, -1, 0 },
		{ SF_KIND_CONTACT, "a", NULL, 1, SF_OFFSET_MAX + 1, 0 },
		{ SF_KIND_CONTACT, NULL, NULL, 1, 0, 0 },
		{ SF_KIND_OPPORTUNITY, NULL, NULL, 1, 0, 0 },
		{ SF_KIND_OPPORTUNITY, NULL, "0055g00000Ab00", 1, 0, 0 },
		{ SF_KIND_OPPORTUNITY, NULL, "0055g00000Ab001' OR ''='", 1, 0,
		    0 },
		{ SF_KIND__MAX, "a", NULL, 1, 0, 0 },
	};
	struct buf	 b;
	size_t		 i;

	buf_init(&b, 4096);
	ck_assert_int_eq(buf_puts(&b, "keep"), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(sf_soql_search(&b, &bad[i]) == -1, "case %zu", i);
		ck_assert_str_eq(buf_cstr(&b), "keep");
	}
	buf_free(&b);
}
END_TEST

START_TEST(test_parse_opportunities)
{
	struct sf_records	 rs;
	const char		*s = json(
	    "{'totalSize':3,'done':true,'records':["
	    "{'attributes':{'type':'Opportunity'},'Id':'0065g00000Op001AAA',"
	    "'Name':'Acme','StageName':'Qualification','CloseDate':"
	    "'2026-12-15','Amount':8000.5,'CurrencyIsoCode':'EUR','Account':"
	    "{'attributes':{},'Id':'0015g00000Hx001AAA','Name':'Acme Corp'}},"
	    "{'Id':'0065g00000Op002AAA','Name':'Bare','StageName':null,"
	    "'CloseDate':'2027-01-01','Amount':null,'Account':null},"
	    "{'Id':'0065g00000Op003AAA','Name':'Big','Amount':-1.5e3}]}");

	ck_assert_int_eq(sf_parse_records(SF_KIND_OPPORTUNITY, 2, s,
	    strlen(s), &rs), SF_OK);
	ck_assert_uint_eq(rs.n, 2);
	ck_assert_int_eq(rs.more, 1);
	ck_assert_int_eq(rs.kind, SF_KIND_OPPORTUNITY);
	ck_assert_str_eq(rs.v[0].amount, "8000.5");
	ck_assert_str_eq(rs.v[0].currency, "EUR");
	ck_assert_str_eq(rs.v[0].stage, "Qualification");
	ck_assert_str_eq(rs.v[0].close_date, "2026-12-15");
	ck_assert_str_eq(rs.v[0].account_name, "Acme Corp");
	ck_assert_ptr_null(rs.v[1].amount);
	ck_assert_ptr_null(rs.v[1].currency);
	ck_assert_ptr_null(rs.v[1].stage);
	ck_assert_ptr_null(rs.v[1].account_id);
	sf_records_free(&rs);
}
END_TEST

/* A field of the wrong type or shape makes the whole reply malformed. */
static const char *const opportunities_bad[] = {
	"{'totalSize':1,'records':[{'Id':'0065g00000Op001AAA','Name':'x',"
	    "'Amount':'8000'}]}",
	"{'totalSize':1,'records':[{'Id':'0065g00000Op001AAA','Name':'x',"
	    "'CurrencyIsoCode':'eur'}]}",
	"{'totalSize':1,'records':[{'Id':'0065g00000Op001AAA','Name':'x',"
	    "'CurrencyIsoCode':'EURO'}]}",
	"{'totalSize':1,'records':[{'Id':'0065g00000Op001AAA','Name':'x',"
	    "'Amount':true}]}",
	"{'totalSize':1,'records':[{'Id':'0065g00000Op001AAA','Name':'x',"
	    "'Account':{'Id':'bad','Name':'y'}}]}",
};

START_TEST(test_parse_opportunities_bad)
{
	struct sf_records	 rs;
	const char		*s = json(opportunities_bad[_i]);

	ck_assert_int_eq(sf_parse_records(SF_KIND_OPPORTUNITY, 10, s,
	    strlen(s), &rs), SF_MALFORMED);
}
END_TEST

START_TEST(test_parse_accounts)
{
	struct sf_records	 rs;
	const char		*s = json(
	    "{'totalSize':1,'done':true,'records':[{'Id':'0015g00000Hx001AAA',"
	    "'Name':'O\\u0027Brien & Partners','Industry':'Energy',"
	    "'BillingCity':'','Phone':null,'Website':'https://x.example',"
	    "'Account':{'Id':'not read','Name':1}}]}");

	ck_assert_int_eq(sf_parse_records(SF_KIND_ACCOUNT, 10, s, strlen(s),
	    &rs), SF_OK);
	ck_assert_uint_eq(rs.n, 1);
	ck_assert_int_eq(rs.more, 0);
	ck_assert_str_eq(rs.v[0].name, "O'Brien & Partners");
	ck_assert_str_eq(rs.v[0].industry, "Energy");
	ck_assert_ptr_null(rs.v[0].city);
	ck_assert_ptr_null(rs.v[0].phone);
	ck_assert_str_eq(rs.v[0].website, "https://x.example");
	ck_assert_ptr_null(rs.v[0].account_id);
	sf_records_free(&rs);
	/* No limit out of range. */
	ck_assert_int_eq(sf_parse_records(SF_KIND_ACCOUNT, 0, s, strlen(s),
	    &rs), SF_ERROR);
	ck_assert_int_eq(sf_parse_records(SF_KIND_ACCOUNT, 11, s, strlen(s),
	    &rs), SF_ERROR);
}
END_TEST

START_TEST(test_kind_names)
{
	enum sf_kind	 k;
	int		 i;

	for (i = 0; i < SF_KIND__MAX; i++) {
		ck_assert_int_eq(sf_kind_parse(sf_kind_str(i), &k), 0);
		ck_assert_int_eq(k, i);
	}
	ck_assert_int_eq(sf_kind_parse("Contact", &k), -1);
	ck_assert_int_eq(sf_kind_parse(NULL, &k), -1);
	ck_assert_str_eq(sf_kind_plural(SF_KIND_OPPORTUNITY), "opportunities");
}
END_TEST

START_TEST(test_soql_fail_ceiling)
{
	struct buf	 b;

	/* Past the ceiling: -1 and the buffer as it was. */
	buf_init(&b, 100);
	ck_assert_int_eq(buf_puts(&b, "keep"), 0);
	ck_assert_int_eq(soql_contacts(&b, "smith"), -1);
	ck_assert_str_eq(buf_cstr(&b), "keep");
	ck_assert_uint_eq(b.len, 4);
	buf_free(&b);

	buf_init(&b, 6);
	ck_assert_int_eq(buf_puts(&b, "x"), 0);
	ck_assert_int_eq(sf_soql_escape_like(&b, "a'b'c"), -1);
	ck_assert_str_eq(buf_cstr(&b), "x");
	buf_free(&b);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Authorize URL */

START_TEST(test_authorize_url_exact)
{
	char	*url;

	url = sf_authorize_url(&org, "https://fl.example.com/oauth/callback",
	    "st-ate_1~x", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
	ck_assert_ptr_nonnull(url);
	ck_assert_str_eq(url, "https://login.salesforce.com/services/oauth2/"
	    "authorize?response_type=code&client_id=3MVG9client.id"
	    "&redirect_uri=https%3A%2F%2Ffl.example.com%2Foauth%2Fcallback"
	    "&state=st-ate_1~x"
	    "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	    "&code_challenge_method=S256");
	free(url);
}
END_TEST

START_TEST(test_authorize_url_encodes_values)
{
	char	*url;

	url = sf_authorize_url(&org, "https://h/cb?a=1&b=2", "s t&x=y", "c");
	ck_assert_ptr_nonnull(url);
	ck_assert_str_eq(url, "https://login.salesforce.com/services/oauth2/"
	    "authorize?response_type=code&client_id=3MVG9client.id"
	    "&redirect_uri=https%3A%2F%2Fh%2Fcb%3Fa%3D1%26b%3D2"
	    "&state=s%20t%26x%3Dy&code_challenge=c"
	    "&code_challenge_method=S256");
	free(url);
	ck_assert_ptr_null(sf_authorize_url(&org, "https://h/cb", NULL, "c"));
}
END_TEST

/* ------------------------------------------------------------------ */
/* Token replies */

#define TOKENS_GOOD \
	"{'access_token':'00D000000000001!AQ.abc','refresh_token':'5Aep.ref'," \
	"'signature':'" ID_URL_SIG "','scope':'api refresh_token'," \
	"'id_token':'x.y.z','instance_url':'https://na1.my.salesforce.com'," \
	"'id':'" ID_URL "','token_type':'Bearer','issued_at':'" ISSUED "'}"

START_TEST(test_parse_tokens_good)
{
	struct sf_tokens	 t;
	const char		*s = json(TOKENS_GOOD);

	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(sf_parse_tokens(s, strlen(s), &t), SF_OK);
	ck_assert_str_eq(t.access_token, "00D000000000001!AQ.abc");
	ck_assert_str_eq(t.refresh_token, "5Aep.ref");
	ck_assert_str_eq(t.instance_url, "https://na1.my.salesforce.com");
	ck_assert_str_eq(t.id, ID_URL);
	ck_assert_str_eq(t.issued_at, ISSUED);
	ck_assert_str_eq(t.signature, ID_URL_SIG);
	ck_assert_ptr_null(t.org_id);
	ck_assert_ptr_null(t.user_id);
	sf_tokens_free(&t);
	ck_assert_ptr_null(t.access_token);
}
END_TEST

START_TEST(test_parse_tokens_no_refresh_token)
{
	struct sf_tokens	 t;
	const char		*s;

	/* A refresh without rotation: no refresh_token, or null. */
	s = json("{'access_token':'a',"
	    "'instance_url':'https://x.salesforce.com',"
	    "'id':'" ID_URL "','issued_at':'1','signature':'s'}");
	ck_assert_int_eq(sf_parse_tokens(s, strlen(s), &t), SF_OK);
	ck_assert_ptr_null(t.refresh_token);
	sf_tokens_free(&t);
	s = json("{'access_token':'a','refresh_token':null,"
	    "'instance_url':'https://x.salesforce.com','id':'" ID_URL "',"
	    "'issued_at':'1','signature':'s'}  \r\n");
	ck_assert_int_eq(sf_parse_tokens(s, strlen(s), &t), SF_OK);
	ck_assert_ptr_null(t.refresh_token);
	sf_tokens_free(&t);
}
END_TEST

static const char *const tokens_bad[] = {
	/* a required field missing, one at a time */
	"{'instance_url':'https://x.salesforce.com','id':'i','issued_at':'1',"
	    "'signature':'s'}",
	"{'access_token':'a','id':'i','issued_at':'1','signature':'s'}",
	"{'access_token':'a','instance_url':'https://x.salesforce.com',"
	    "'issued_at':'1','signature':'s'}",
	"{'access_token':'a','instance_url':'https://x.salesforce.com',"
	    "'id':'i','signature':'s'}",
	"{'access_token':'a','instance_url':'https://x.salesforce.com',"
	    "'id':'i','issued_at':'1'}",
	/* wrong types */
	"{'access_token':5,'instance_url':'u','id':'i','issued_at':'1',"
	    "'signature':'s'}",
	"{'access_token':'a','instance_url':'u','id':'i','issued_at':1,"
	    "'signature':'s'}",
	"{'access_token':'a','refresh_token':7,'instance_url':'u','id':'i',"
	    "'issued_at':'1','signature':'s'}",
	"{'access_token':['a'],'instance_url':'u','id':'i','issued_at':'1',"
	    "'signature':'s'}",
	"{'access_token':'a','instance_url':null,'id':'i','issued_at':'1',"
	    "'signature':'s'}",
	"{'access_token':'a','instance_url':'u','id':{},'issued_at':'1',"
	    "'signature':'s'}",
	"{'access_token':'a','instance_url':'u','id':'i','issued_at':'1',"
	    "'signature':true}",
	/* bad values */
	"{'access_token':'','instance_url':'u','id':'i','issued_at':'1',"
	    "'signature':'s'}",
	"{'access_token':'a b','instance_url':'u','id':'i','issued_at':'1',"
	    "'signature':'s'}",
	"{'access_token':'a\\r\\nX: y','instance_url':'u','id':'i',"
	    "'issued_at':'1','signature':'s'}",
	"{'access_token':'a\\u0000b','instance_url':'u','id':'i',"
	    "'issued_at':'1','signature':'s'}",
	"{'access_token':'a','instance_url':'u','id':'i','issued_at':'17e3',"
	    "'signature':'s'}",
	"{'access_token':'a','instance_url':'u','id':'i','issued_at':'-1',"
	    "'signature':'s'}",
	/* not an object */
	"[]",
	"'a'",
	"null",
	"42",
	/* not JSON, or not only JSON */
	"",
	"   ",
	"{",
	"{'access_token':'a','instance_url':'u','id':'i','issued_at':'1',"
	    "'signature':'s'} x",
	"{'access_token':'a','instance_url':'u','id':'i','issued_at':'1',"
	    "'signature':'s'}{}",
	"{'access_token':'a','instance_url':'u','id':'i','issued_at':'1',"
	    "'signature':'s',}",
	"<html><body>Bad Gateway</body></html>",
	/* invalid UTF-8 anywhere, even in a field we ignore */
	"{'access_token':'a','instance_url':'u','id':'i','issued_at':'1',"
	    "'signature':'s','scope':'\xff'}",
	"{'access_token':'a','instance_url':'u','id':'i','issued_at':'1',"
	    "'signature':'s','scope':'\xc0\xaf'}",
	"{'access_token':'a','instance_url':'u','id':'i','issued_at':'1',"
	    "'signature':'s','scope':'\xed\xa0\x80'}",
};

START_TEST(test_parse_tokens_fail_table)
{
	struct sf_tokens	 t, before;
	const char		*s = json(tokens_bad[_i]);

	memset(&t, 0x5a, sizeof(t));
	memset(&before, 0x5a, sizeof(before));
	ck_assert_msg(sf_parse_tokens(s, strlen(s), &t) == SF_MALFORMED,
	    "accepted %s", s);
	/* *out untouched on failure. */
	ck_assert_int_eq(memcmp(&t, &before, sizeof(t)), 0);
}
END_TEST

START_TEST(test_parse_tokens_fail_nul_byte)
{
	static const char	 s[] = "{\"access_token\":\"a\0\"}";
	struct sf_tokens	 t;

	ck_assert_int_eq(sf_parse_tokens(s, sizeof(s) - 1, &t), SF_MALFORMED);
	ck_assert_int_eq(sf_parse_tokens(NULL, 0, &t), SF_MALFORMED);
}
END_TEST

/* What lenient JSON parsers accept and a strict one must not (these
 * bypass json(): the single quotes are meant). */
static const char *const lenient_json[] = {
	"{'access_token':'a','instance_url':'u','id':'i','issued_at':'1',"
	    "'signature':'s'}",
	"{\"access_token\":\"a\",\"instance_url\":\"u\",\"id\":\"i\","
	    "\"issued_at\":\"1\",\"signature\":\"s\" /* c */}",
	"{\"access_token\":\"a\",\"instance_url\":\"u\",\"id\":\"i\","
	    "\"issued_at\":\"1\",\"signature\":\"s\"} // c",
	"{\"access_token\":\"a\",\"instance_url\":\"u\",\"id\":\"i\","
	    "\"issued_at\":\"1\",\"signature\":\"s\",\"n\":NaN}",
	"{\"access_token\":\"a\",\"instance_url\":\"u\",\"id\":\"i\","
	    "\"issued_at\":\"1\",\"signature\":\"s\",\"n\":0x10}",
	"{\"access_token\":\"a\",\"instance_url\":\"u\",\"id\":\"i\","
	    "\"issued_at\":\"1\",\"signature\":\"s\",\"n\":[1,]}",
	"{\"access_token\":\"a\",\"instance_url\":\"u\",\"id\":\"i\","
	    "\"issued_at\":\"1\",\"signature\":\"s\",\"n\":\"\t\"}",
	"{access_token:\"a\",\"instance_url\":\"u\",\"id\":\"i\","
	    "\"issued_at\":\"1\",\"signature\":\"s\"}",
	"{\"access_token\":\"a\",\"instance_url\":\"u\",\"id\":\"i\","
	    "\"issued_at\":\"1\",\"signature\":\"s\",\"n\":Infinity}",
	"{\"access_token\":\"a\",\"instance_url\":\"u\",\"id\":\"i\","
	    "\"issued_at\":\"1\",\"signature\":\"s\",\"n\":[-Infinity]}",
	"{\"access_token\":\"a\",\"instance_url\":\"u\",\"id\":\"i\","
	    "\"issued_at\":\"1\",\"signature\":\"s\",\"n\":1.}",
	"{\"access_token\":\"a\",\"instance_url\":\"u\",\"id\":\"i\","
	    "\"issued_at\":\"1\",\"signature\":\"s\",\"n\":\"a\nb\"}",
	"{\"access_token\":\"a\",\"instance_url\":\"u\",\"id\":\"i\","
	    "\"issued_at\":\"1\",\"signature\":\"s\"}\x01",
};

START_TEST(test_parse_tokens_strict_but_valid)
{
	struct sf_tokens	 t;
	const char		*s;

	/* JSON that is valid, however unusual, is read. */
	s = "\r\n\t {\"access_token\":\"a\",\"instance_url\":\"u\","
	    "\"id\":\"i\",\"issued_at\":\"1\",\"signature\":\"s\\/\","
	    "\"n\":[1.5e3,-0,0.25,{\"x\":\"\\ud800\"}],\"s\":\"a.b\"}\n";
	ck_assert_int_eq(sf_parse_tokens(s, strlen(s), &t), SF_OK);
	ck_assert_str_eq(t.signature, "s/");
	sf_tokens_free(&t);
}
END_TEST

START_TEST(test_parse_tokens_fail_lenient_json)
{
	struct sf_tokens	 t;
	const char		*s = lenient_json[_i];

	ck_assert_msg(sf_parse_tokens(s, strlen(s), &t) == SF_MALFORMED,
	    "accepted %s", s);
}
END_TEST

START_TEST(test_parse_tokens_fail_deep_nesting)
{
	const size_t	 depth = 100000;
	struct sf_tokens t;
	char		*s;
	long		 t0;

	ck_assert_ptr_nonnull(s = malloc(2 * depth + 1));
	memset(s, '[', depth);
	memset(s + depth, ']', depth);
	s[2 * depth] = '\0';
	t0 = tu_now_ms();
	ck_assert_int_eq(sf_parse_tokens(s, 2 * depth, &t), SF_MALFORMED);
	/* Objects too. */
	memset(s, '{', depth);
	ck_assert_int_eq(sf_parse_tokens(s, depth, &t), SF_MALFORMED);
	TU_ASSERT_MS_LT(tu_now_ms() - t0, 1000);
	free(s);
}
END_TEST

/* A valid reply with an ignored member nested so that the whole value
 * is levels deep. */
static enum sf_result
parse_nested(int levels)
{
	struct sf_tokens	 t;
	enum sf_result		 rv;
	char			 s[512];
	int			 i, n;

	n = snprintf(s, sizeof(s), "{\"access_token\":\"a\",\"instance_url\":"
	    "\"u\",\"id\":\"i\",\"issued_at\":\"1\",\"signature\":\"s\","
	    "\"n\":");
	for (i = 1; i < levels; i++)
		s[n++] = '[';
	for (i = 1; i < levels; i++)
		s[n++] = ']';
	s[n++] = '}';
	s[n] = '\0';
	if ((rv = sf_parse_tokens(s, (size_t)n, &t)) == SF_OK)
		sf_tokens_free(&t);
	return rv;
}

START_TEST(test_parse_tokens_depth_limit)
{
	ck_assert_int_eq(parse_nested(16), SF_OK);
	ck_assert_int_eq(parse_nested(17), SF_MALFORMED);
}
END_TEST

START_TEST(test_parse_tokens_fail_huge_token)
{
	struct sf_tokens	 t;
	struct buf		 b;

	/* 4096 is the longest token accepted; 4097 is refused. */
	buf_init(&b, 1 << 20);
	ck_assert_int_eq(buf_puts(&b, "{\"access_token\":\""), 0);
	buf_fill(&b, 'a', 17 + 4096 - b.len);
	ck_assert_int_eq(buf_puts(&b, "\",\"instance_url\":\"u\",\"id\":\"i\","
	    "\"issued_at\":\"1\",\"signature\":\"s\"}"), 0);
	ck_assert_int_eq(sf_parse_tokens(b.data, b.len, &t), SF_OK);
	ck_assert_uint_eq(strlen(t.access_token), 4096);
	sf_tokens_free(&t);
	buf_reset(&b);
	ck_assert_int_eq(buf_puts(&b, "{\"access_token\":\""), 0);
	buf_fill(&b, 'a', 17 + 4097 - b.len);
	ck_assert_int_eq(buf_puts(&b, "\",\"instance_url\":\"u\",\"id\":\"i\","
	    "\"issued_at\":\"1\",\"signature\":\"s\"}"), 0);
	ck_assert_int_eq(sf_parse_tokens(b.data, b.len, &t), SF_MALFORMED);

	/* A string of 900 KB: refused as a token, whole reply still read. */
	buf_reset(&b);
	ck_assert_int_eq(buf_puts(&b, "{\"signature\":\""), 0);
	buf_fill(&b, 'A', 900 * 1024 - b.len);
	ck_assert_int_eq(buf_puts(&b, "\"}"), 0);
	ck_assert_int_eq(sf_parse_tokens(b.data, b.len, &t), SF_MALFORMED);
	buf_free(&b);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Contacts */

#define CONTACTS_GOOD \
	"{'totalSize':2,'done':true,'records':[" \
	"{'attributes':{'type':'Contact','url':'/services/data/v62.0/" \
	"sobjects/Contact/003000000000001AAA'},'Id':'003000000000001AAA'," \
	"'Name':'Zo\\u00eb O\\u0027Brien','Title':'CEO'," \
	"'Email':'zoe@example.com','Phone':'+1 555 0100','MobilePhone':null," \
	"'Account':{'attributes':{'type':'Account','url':'/x'}," \
	"'Id':'001000000000001AAA','Name':'Acme & Co <x>'}}," \
	"{'attributes':{'type':'Contact','url':'/y'},'Id':'003000000000002'," \
	"'Name':'No Account','Title':null,'Email':null,'Phone':''," \
	"'MobilePhone':'+1 555 0101','Account':null,'Extra':{'n':[1,2]}}]}"

START_TEST(test_parse_contacts_good)
{
	struct sf_records	 cs;
	const char		*s = json(CONTACTS_GOOD);

	ck_assert_int_eq(parse_contacts(s, strlen(s), &cs), SF_OK);
	ck_assert_uint_eq(cs.n, 2);
	ck_assert_int_eq(cs.more, 0);
	ck_assert_str_eq(cs.v[0].id, "003000000000001AAA");
	ck_assert_str_eq(cs.v[0].name, "Zo\xc3\xab O'Brien");
	ck_assert_str_eq(cs.v[0].title, "CEO");
	ck_assert_str_eq(cs.v[0].email, "zoe@example.com");
	ck_assert_str_eq(cs.v[0].phone, "+1 555 0100");
	ck_assert_ptr_null(cs.v[0].mobile);
	ck_assert_str_eq(cs.v[0].account_id, "001000000000001AAA");
	ck_assert_str_eq(cs.v[0].account_name, "Acme & Co <x>");
	ck_assert_str_eq(cs.v[1].id, "003000000000002");
	ck_assert_str_eq(cs.v[1].name, "No Account");
	ck_assert_ptr_null(cs.v[1].title);
	ck_assert_ptr_null(cs.v[1].email);
	ck_assert_ptr_null(cs.v[1].phone);	/* "" is no phone */
	ck_assert_str_eq(cs.v[1].mobile, "+1 555 0101");
	ck_assert_ptr_null(cs.v[1].account_id);
	ck_assert_ptr_null(cs.v[1].account_name);
	sf_records_free(&cs);
	ck_assert_ptr_null(cs.v);
	ck_assert_uint_eq(cs.n, 0);
}
END_TEST

START_TEST(test_parse_contacts_empty)
{
	struct sf_records	 cs;
	const char		*s;

	s = json("{'totalSize':0,'done':true,'records':[]}");
	ck_assert_int_eq(parse_contacts(s, strlen(s), &cs), SF_OK);
	ck_assert_uint_eq(cs.n, 0);
	ck_assert_int_eq(cs.more, 0);
	sf_records_free(&cs);
}
END_TEST

START_TEST(test_parse_contacts_capped)
{
	struct sf_records	 cs;
	struct buf		 b;
	int			 i;

	/* More records than asked for: the first SF_QUERY_LIMIT count. */
	buf_init(&b, 65536);
	ck_assert_int_eq(buf_puts(&b, "{\"totalSize\":250,\"done\":false,"
	    "\"nextRecordsUrl\":\"/services/data/v62.0/query/01g-2000\","
	    "\"records\":["), 0);
	for (i = 0; i < 12; i++)
		ck_assert_int_eq(buf_printf(&b, "%s{\"Id\":"
		    "\"0030000000000%02d\",\"Name\":\"C%d\",\"Account\":null}",
		    i ? "," : "", i, i), 0);
	ck_assert_int_eq(buf_puts(&b, "]}"), 0);
	ck_assert_int_eq(parse_contacts(b.data, b.len, &cs), SF_OK);
	ck_assert_uint_eq(cs.n, SF_QUERY_LIMIT);
	ck_assert_int_eq(cs.more, 1);
	ck_assert_str_eq(cs.v[9].name, "C9");
	ck_assert_str_eq(cs.v[9].id, "003000000000009");
	sf_records_free(&cs);
	buf_free(&b);
}
END_TEST

#define REC(x) "{'totalSize':1,'done':true,'records':[" x "]}"

static const char *const contacts_bad[] = {
	REC("{'Id':'003000000000001AAA','Account':null}"),	/* no Name */
	REC("{'Id':'003000000000001AAA','Name':null}"),
	REC("{'Id':'003000000000001AAA','Name':''}"),
	REC("{'Id':'003000000000001AAA','Name':5}"),
	REC("{'Name':'x'}"),					/* no Id */
	REC("{'Id':'003x','Name':'x'}"),			/* short */
	REC("{'Id':'00300000000000-AAA','Name':'x'}"),		/* not alnum */
	REC("{'Id':'0030000000000010AAA','Name':'x'}"),		/* 19 */
	REC("{'Id':3,'Name':'x'}"),
	REC("{'Id':'003000000000001AAA','Name':'x','Title':7}"),
	REC("{'Id':'003000000000001AAA','Name':'x','Email':['a']}"),
	REC("{'Id':'003000000000001AAA','Name':'x','Account':'Acme'}"),
	REC("{'Id':'003000000000001AAA','Name':'x','Account':{'Id':"
	    "'001000000000001AAA'}}"),				/* no Name */
	REC("{'Id':'003000000000001AAA','Name':'x','Account':{'Name':'A'}}"),
	REC("{'Id':'003000000000001AAA','Name':'x','Account':{'Id':'bad',"
	    "'Name':'A'}}"),
	REC("'003000000000001AAA'"),				/* not object */
	REC("null"),
	"{'done':true,'records':[]}",				/* no total */
	"{'totalSize':'0','done':true,'records':[]}",
	"{'totalSize':0.5,'done':true,'records':[]}",
	"{'totalSize':-1,'done':true,'records':[]}",
	"{'totalSize':0,'done':true,'records':[{'Id':'003000000000001',"
	    "'Name':'x'}]}",				/* more than total */
	"{'totalSize':0,'done':true}",				/* no records */
	"{'totalSize':0,'done':true,'records':{}}",
	"[{'message':'Session expired or invalid',"
	    "'errorCode':'INVALID_SESSION_ID'}]",
};

START_TEST(test_parse_contacts_fail_table)
{
	struct sf_records	 cs;
	const char		*s = json(contacts_bad[_i]);

	memset(&cs, 0, sizeof(cs));
	ck_assert_msg(parse_contacts(s, strlen(s), &cs) == SF_MALFORMED,
	    "accepted %s", s);
	ck_assert_ptr_null(cs.v);
}
END_TEST

/* The contact search's reader (sf_j_parse, no json-c tree) against what
 * a strict parser must refuse, byte for byte as the token replies'. */
#define ONE_REC	"{\"totalSize\":1,\"done\":true,\"records\":[{\"Id\":" \
	"\"003000000000001AAA\",\"Name\":"

static const char *const contacts_lenient[] = {
	ONE_REC "\"x\"}]} // c",
	ONE_REC "\"x\"}]} /* c */",
	ONE_REC "\"x\",\"n\":NaN}]}",
	ONE_REC "\"x\",\"n\":-Infinity}]}",
	ONE_REC "\"x\",\"n\":0x10}]}",
	ONE_REC "\"x\",\"n\":1.}]}",
	ONE_REC "\"x\",\"n\":.5}]}",
	ONE_REC "\"x\",\"n\":01}]}",
	ONE_REC "\"x\",\"n\":1e999}]}",
	ONE_REC "\"x\",\"n\":[1,]}]}",
	ONE_REC "\"x\",}]}",
	ONE_REC "'x'}]}",
	ONE_REC "\"a\tb\"}]}",			/* raw tab */
	ONE_REC "\"a\\x\"}]}",			/* bad escape */
	ONE_REC "\"a\\u12\"}]}",			/* short \\u */
	ONE_REC "\"a\\u0000b\"}]}",		/* NUL in a field */
	ONE_REC "\"\xc0\xaf\"}]}",			/* overlong */
	ONE_REC "\"\xed\xa0\x80\"}]}",		/* surrogate */
	ONE_REC "\"\xf4\x90\x80\x80\"}]}",	/* past U+10FFFF */
	ONE_REC "\"\xe2\x82\"}]}",			/* cut short */
	ONE_REC "\"x\"}]}\x01",
	ONE_REC "\"x\"}]}]",
	ONE_REC "\"x\"}]",
	ONE_REC "\"x\"}]}{}",
	"{\"totalSize\":1e0,\"done\":true,\"records\":[]}",
	"{\"totalSize\":99999999999999999999,\"records\":[]}",
	"{\"totalSize\":-0.0,\"records\":[]}",
	"",
	" ",
};

START_TEST(test_parse_contacts_fail_lenient_json)
{
	struct sf_records	 cs;
	const char		*s = contacts_lenient[_i];

	memset(&cs, 0, sizeof(cs));
	ck_assert_msg(parse_contacts(s, strlen(s), &cs) == SF_MALFORMED,
	    "accepted %s", s);
	ck_assert_ptr_null(cs.v);
}
END_TEST

START_TEST(test_parse_contacts_unusual_but_valid)
{
	struct sf_records	 cs;
	const char		*s;
	char			*deep;
	size_t			 n;
	int			 i;

	/* Escaped keys and values are read decoded; of two members with
	 * one name the last counts; a lone surrogate escape reads as
	 * U+FFFD; -0 is a total of 0; white space anywhere. */
	s = " {\"totalSize\" : 1 ,\"records\":[ {\"I\\u0064\":"
	    "\"003000000000001AAA\",\"Name\":\"first\",\"Name\":"
	    "\"A\\ud800\\/\\ud83d\\ude00\\u00e9\",\"Title\":\"\\\"T\\\"\","
	    "\"n\":[1.5e3,-0.25E-2,true,false,{}],\"Account\":null} ],"
	    "\"done\":true}\r\n";
	ck_assert_int_eq(parse_contacts(s, strlen(s), &cs), SF_OK);
	ck_assert_uint_eq(cs.n, 1);
	ck_assert_str_eq(cs.v[0].id, "003000000000001AAA");
	ck_assert_str_eq(cs.v[0].name,
	    "A\xef\xbf\xbd/\xf0\x9f\x98\x80\xc3\xa9");
	ck_assert_str_eq(cs.v[0].title, "\"T\"");
	sf_records_free(&cs);
	ck_assert_ptr_null(cs.v);
	/* A number where a string belongs is refused, not skipped. */
	s = ONE_REC "\"x\",\"Phone\":1.5e3}]}";
	ck_assert_int_eq(parse_contacts(s, strlen(s), &cs), SF_MALFORMED);
	s = "{\"totalSize\":-0,\"records\":[]}";
	ck_assert_int_eq(parse_contacts(s, strlen(s), &cs), SF_OK);
	ck_assert_int_eq(cs.more, 0);
	sf_records_free(&cs);

	/* Sixteen levels of nesting are read, seventeen are not. */
	for (i = 16; i <= 17; i++) {
		ck_assert_ptr_nonnull(deep = malloc(256));
		n = (size_t)snprintf(deep, 256, "{\"totalSize\":0,"
		    "\"records\":[],\"x\":");
		memset(deep + n, '[', (size_t)i - 1);
		memset(deep + n + i - 1, ']', (size_t)i - 1);
		n += 2 * ((size_t)i - 1);
		deep[n++] = '}';
		ck_assert_int_eq(parse_contacts(deep, n, &cs),
		    i == 16 ? SF_OK : SF_MALFORMED);
		sf_records_free(&cs);
		free(deep);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* userinfo */

START_TEST(test_parse_userinfo_good)
{
	struct sf_userinfo	 u;
	const char		*s;

	s = json("{'sub':'" ID_URL "','user_id':'" USER_ID "',"
	    "'organization_id':'" ORG_ID "','preferred_username':"
	    "'ada@example.com','nickname':'ada','name':'Ada Lovelace',"
	    "'email':'ada@example.com','email_verified':true,"
	    "'photos':{'picture':'https://x'},'utcOffset':-28800000}");
	ck_assert_int_eq(sf_parse_userinfo(s, strlen(s), &u), SF_OK);
	ck_assert_str_eq(u.user_id, USER_ID);
	ck_assert_str_eq(u.org_id, ORG_ID);
	ck_assert_str_eq(u.username, "ada@example.com");
	ck_assert_str_eq(u.name, "Ada Lovelace");
	ck_assert_str_eq(u.email, "ada@example.com");
	sf_userinfo_free(&u);

	s = json("{'user_id':'" USER_ID "','organization_id':'" ORG_ID "',"
	    "'preferred_username':'ada','name':null}");
	ck_assert_int_eq(sf_parse_userinfo(s, strlen(s), &u), SF_OK);
	ck_assert_ptr_null(u.name);
	ck_assert_ptr_null(u.email);
	sf_userinfo_free(&u);
}
END_TEST

static const char *const userinfo_bad[] = {
	"{'user_id':'" USER_ID "','organization_id':'" ORG_ID "'}",
	"{'user_id':'" USER_ID "','preferred_username':'ada'}",
	"{'organization_id':'" ORG_ID "','preferred_username':'ada'}",
	"{'user_id':'005','organization_id':'" ORG_ID "',"
	    "'preferred_username':'ada'}",
	"{'user_id':'" USER_ID "','organization_id':'" ORG_ID "',"
	    "'preferred_username':1}",
	"{'user_id':'" USER_ID "','organization_id':'" ORG_ID "',"
	    "'preferred_username':'ada','email':false}",
	"[{'errorCode':'INVALID_SESSION_ID','message':'x'}]",
	"Bad_OAuth_Token",
};

START_TEST(test_parse_userinfo_fail_table)
{
	struct sf_userinfo	 u;
	const char		*s = json(userinfo_bad[_i]);

	ck_assert_msg(sf_parse_userinfo(s, strlen(s), &u) == SF_MALFORMED,
	    "accepted %s", s);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Error replies */

static const struct {
	long		 status;
	const char	*body;
	enum sf_result	 want;
	const char	*code;
	const char	*message;
} error_table[] = {
	{ 401, "[{'message':'Session expired or invalid',"
	    "'errorCode':'INVALID_SESSION_ID'}]", SF_EXPIRED,
	    "INVALID_SESSION_ID", "Session expired or invalid" },
	/* Same code, but refreshing cannot help. */
	{ 401, "[{'message':'This session is not valid for use with the "
	    "REST API','errorCode':'INVALID_SESSION_ID'}]", SF_REFUSED,
	    "INVALID_SESSION_ID",
	    "This session is not valid for use with the REST API" },
	{ 401, "[{'message':'Bad','errorCode':'INVALID_AUTH_HEADER'}]",
	    SF_REFUSED, "INVALID_AUTH_HEADER", "Bad" },
	{ 401, "", SF_REFUSED, "", "" },
	{ 401, "<html><body>401</body></html>", SF_REFUSED, "", "" },
	{ 400, "{'error':'invalid_grant','error_description':"
	    "'expired access/refresh token'}", SF_INVALID_GRANT,
	    "invalid_grant", "expired access/refresh token" },
	{ 400, "{'error':'invalid_grant','error_description':"
	    "'authentication failure'}", SF_INVALID_GRANT, "invalid_grant",
	    "authentication failure" },
	{ 400, "{'error':'invalid_client','error_description':"
	    "'invalid client credentials'}", SF_REFUSED, "invalid_client",
	    "invalid client credentials" },
	{ 400, "{'error':'unsupported_grant_type','error_description':"
	    "'grant type not supported'}", SF_REFUSED,
	    "unsupported_grant_type", "grant type not supported" },
	{ 400, "[{'message':'unexpected token: x','errorCode':"
	    "'MALFORMED_QUERY'}]", SF_REFUSED, "MALFORMED_QUERY",
	    "unexpected token: x" },
	{ 400, "[]", SF_REFUSED, "", "" },
	{ 400, "{'error':5}", SF_REFUSED, "", "" },
	{ 403, "[{'message':'TotalRequests Limit exceeded.','errorCode':"
	    "'REQUEST_LIMIT_EXCEEDED'}]", SF_REFUSED,
	    "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded." },
	{ 404, "[{'errorCode':'NOT_FOUND','message':'The requested "
	    "resource does not exist'}]", SF_REFUSED, "NOT_FOUND",
	    "The requested resource does not exist" },
	{ 500, "[{'errorCode':'UNKNOWN_EXCEPTION','message':'An unexpected "
	    "error occurred.'}]", SF_TRANSIENT, "UNKNOWN_EXCEPTION",
	    "An unexpected error occurred." },
	{ 503, "", SF_TRANSIENT, "", "" },
	{ 502, "<html><body>Bad Gateway</body></html>", SF_TRANSIENT, "", "" },
	/* Codes and messages are made safe to log. */
	{ 500, "[{'errorCode':'X\\'\\n\\\\','message':'a\\u0001b\\u00e9'}]",
	    SF_TRANSIENT, "X???", "a?b??" },
	/* Not an error status at all. */
	{ 200, "{}", SF_MALFORMED, "", "" },
	{ 302, "", SF_MALFORMED, "", "" },
};

START_TEST(test_parse_error_table)
{
	struct sf_error	 err;
	const char	*s = json(error_table[_i].body);

	memset(&err, 'z', sizeof(err));
	ck_assert_int_eq(sf_parse_error(error_table[_i].status, s, strlen(s),
	    &err), error_table[_i].want);
	ck_assert_str_eq(err.code, error_table[_i].code);
	ck_assert_str_eq(err.message, error_table[_i].message);
}
END_TEST

START_TEST(test_parse_error_truncates)
{
	struct sf_error	 err;
	struct buf	 b;

	buf_init(&b, 8192);
	ck_assert_int_eq(buf_puts(&b, "[{\"errorCode\":\""), 0);
	buf_fill(&b, 'C', 1000 - b.len);
	ck_assert_int_eq(buf_puts(&b, "\",\"message\":\""), 0);
	buf_fill(&b, 'm', 3000 - b.len);
	ck_assert_int_eq(buf_puts(&b, "\"}]"), 0);
	ck_assert_int_eq(sf_parse_error(500, b.data, b.len, &err),
	    SF_TRANSIENT);
	ck_assert_uint_eq(strlen(err.code), sizeof(err.code) - 1);
	ck_assert_uint_eq(strlen(err.message), sizeof(err.message) - 1);
	/* NULL err is allowed. */
	ck_assert_int_eq(sf_parse_error(503, "", 0, NULL), SF_TRANSIENT);
	buf_free(&b);
}
END_TEST

START_TEST(test_result_str)
{
	ck_assert_str_eq(sf_result_str(SF_OK), "ok");
	ck_assert_str_eq(sf_result_str(SF_EXPIRED), "expired");
	ck_assert_str_eq(sf_result_str(SF_INVALID_GRANT), "invalid_grant");
	ck_assert_str_eq(sf_result_str(SF_REFUSED), "refused");
	ck_assert_str_eq(sf_result_str(SF_TRANSIENT), "transient");
	ck_assert_str_eq(sf_result_str(SF_MALFORMED), "malformed");
	ck_assert_str_eq(sf_result_str(SF_ERROR), "error");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Token verification */

/* Signs id + issued_at the way Salesforce does. */
static char *
sign(const char *secret, const char *id, const char *issued)
{
	unsigned char	 mac[32];
	char		 msg[2048];

	snprintf(msg, sizeof(msg), "%s%s", id, issued);
	crypto_hmac_sha256(secret, strlen(secret), msg, strlen(msg), mac);
	return crypto_base64(mac, sizeof(mac));
}

/* Fills t as a token reply for instance and id, signed with secret. */
static void
tokens_make(struct sf_tokens *t, const char *instance, const char *id,
    const char *secret)
{
	memset(t, 0, sizeof(*t));
	ck_assert_ptr_nonnull(t->access_token = strdup("00D!tok"));
	ck_assert_ptr_nonnull(t->instance_url = strdup(instance));
	ck_assert_ptr_nonnull(t->id = strdup(id));
	ck_assert_ptr_nonnull(t->issued_at = strdup(ISSUED));
	ck_assert_ptr_nonnull(t->signature = sign(secret, id, ISSUED));
}

START_TEST(test_sign_matches_independent_vector)
{
	char	*sig = sign("s3cr3t", ID_URL, ISSUED);

	ck_assert_str_eq(sig, ID_URL_SIG);
	free(sig);
}
END_TEST

START_TEST(test_verify_good)
{
	struct sf_tokens	 t;
	const char		*why = "unset";
	const char		*s = json(TOKENS_GOOD);

	/* The reply as parsed, with the independently computed signature. */
	ck_assert_int_eq(sf_parse_tokens(s, strlen(s), &t), SF_OK);
	ck_assert_int_eq(sf_tokens_verify(&org, &t, &why), 0);
	ck_assert_ptr_null(why);
	ck_assert_str_eq(t.org_id, ORG_ID);
	ck_assert_str_eq(t.user_id, USER_ID);
	/* Verifying twice replaces the ids without leaking. */
	ck_assert_int_eq(sf_tokens_verify(&org, &t, NULL), 0);
	ck_assert_str_eq(t.org_id, ORG_ID);
	sf_tokens_free(&t);
}
END_TEST

static const struct {
	const char	*instance;
	const char	*id;
	const char	*why;	/* NULL: accepted */
} verify_table[] = {
	{ "https://na1.my.salesforce.com", ID_URL, NULL },
	{ "https://na1.my.salesforce.com/", ID_URL, NULL },
	{ "https://acme--sbx.sandbox.my.salesforce.com", ID_URL, NULL },
	{ "https://acme.lightning.force.com", ID_URL, NULL },
	{ "https://x.salesforce.mil", ID_URL, NULL },
	{ "https://x.cloudforce.com", ID_URL, NULL },
	{ "https://x.database.com", ID_URL, NULL },
	{ "https://NA1.SALESFORCE.COM", ID_URL, NULL },
	{ "https://login.salesforce.com", ID_URL, NULL },
	{ "https://na1.salesforce.com",
	    "https://test.salesforce.com/id/00D000000000001/005000000000001",
	    NULL },
	{ "https://na1.salesforce.com",
	    "https://acme.my.salesforce.com/services/id/" ORG_ID "/" USER_ID,
	    NULL },
	/* instance_url not Salesforce's */
#define BAD_INSTANCE	"instance_url is not a Salesforce https URL"
	{ "https://evil.example.com", ID_URL, BAD_INSTANCE },
	{ "http://na1.salesforce.com", ID_URL, BAD_INSTANCE },
	{ "https://evilsalesforce.com", ID_URL, BAD_INSTANCE },
	{ "https://salesforce.com", ID_URL, BAD_INSTANCE },
	{ "https://.salesforce.com", ID_URL, BAD_INSTANCE },
	{ "https://a..salesforce.com", ID_URL, BAD_INSTANCE },
	{ "https://salesforce.com.evil.com", ID_URL, BAD_INSTANCE },
	{ "https://na1.salesforce.com.", ID_URL, BAD_INSTANCE },
	{ "https://x.salesforce.com@evil.com", ID_URL, BAD_INSTANCE },
	{ "https://evil.com#.salesforce.com", ID_URL, BAD_INSTANCE },
	{ "https://evil.com?.salesforce.com", ID_URL, BAD_INSTANCE },
	{ "https://evil.com/.salesforce.com", ID_URL, BAD_INSTANCE },
	{ "https://evil.com\\.salesforce.com", ID_URL, BAD_INSTANCE },
	{ "https://na1.salesforce.com:8443", ID_URL, BAD_INSTANCE },
	{ "https://na1.salesforce.com/path", ID_URL, BAD_INSTANCE },
	{ "https://na1.salesforce.com/?q", ID_URL, BAD_INSTANCE },
	{ "https://na1.salesforce.com//", ID_URL, BAD_INSTANCE },
	{ "https://na1.salesforce.com /", ID_URL, BAD_INSTANCE },
	{ "HTTPS://na1.salesforce.com", ID_URL, BAD_INSTANCE },
	{ "https://", ID_URL, BAD_INSTANCE },
	{ "na1.salesforce.com", ID_URL, BAD_INSTANCE },
	/* id not an identity URL on a Salesforce host */
#define BAD_ID	"id is not a Salesforce identity URL"
	{ "https://na1.salesforce.com",
	    "https://evil.example.com/id/" ORG_ID "/" USER_ID, BAD_ID },
	{ "https://na1.salesforce.com",
	    "http://login.salesforce.com/id/" ORG_ID "/" USER_ID, BAD_ID },
	{ "https://na1.salesforce.com",
	    "https://x.salesforce.com@evil.com/id/" ORG_ID "/" USER_ID,
	    BAD_ID },
	{ "https://na1.salesforce.com",
	    "https://login.salesforce.com/id/" ORG_ID, BAD_ID },
	{ "https://na1.salesforce.com",
	    "https://login.salesforce.com/id/" ORG_ID "/" USER_ID "/",
	    BAD_ID },
	{ "https://na1.salesforce.com",
	    "https://login.salesforce.com/id/" ORG_ID "/" USER_ID "?x=1",
	    BAD_ID },
	{ "https://na1.salesforce.com",
	    "https://login.salesforce.com/ids/" ORG_ID "/" USER_ID, BAD_ID },
	{ "https://na1.salesforce.com",
	    "https://login.salesforce.com/xid/" ORG_ID "/" USER_ID, BAD_ID },
	{ "https://na1.salesforce.com",
	    "https://login.salesforce.com/id/00D1/" USER_ID, BAD_ID },
	{ "https://na1.salesforce.com",
	    "https://login.salesforce.com/id/" ORG_ID "/005-00000000001",
	    BAD_ID },
	{ "https://na1.salesforce.com",
	    "https://na1.salesforce.com:444/id/" ORG_ID "/" USER_ID,
	    BAD_ID },
	{ "https://na1.salesforce.com", "/id/" ORG_ID "/" USER_ID, BAD_ID },
};

START_TEST(test_verify_table)
{
	struct sf_tokens	 t;
	const char		*why = "unset";
	int			 rc;

	tokens_make(&t, verify_table[_i].instance, verify_table[_i].id,
	    "s3cr3t");
	rc = sf_tokens_verify(&org, &t, &why);
	if (verify_table[_i].why == NULL) {
		ck_assert_msg(rc == 0, "refused %s %s: %s",
		    verify_table[_i].instance, verify_table[_i].id, why);
		ck_assert_ptr_null(why);
		ck_assert_ptr_nonnull(t.org_id);
		ck_assert_ptr_nonnull(t.user_id);
	} else {
		ck_assert_msg(rc == -1, "accepted %s %s",
		    verify_table[_i].instance, verify_table[_i].id);
		ck_assert_str_eq(why, verify_table[_i].why);
		ck_assert_ptr_null(t.org_id);
	}
	sf_tokens_free(&t);
}
END_TEST

START_TEST(test_verify_fail_signature)
{
	struct sf_tokens	 t;
	const char		*why;

	/* Signed with another secret. */
	tokens_make(&t, "https://na1.salesforce.com", ID_URL, "other");
	ck_assert_int_eq(sf_tokens_verify(&org, &t, &why), -1);
	ck_assert_str_eq(why, "signature mismatch");
	sf_tokens_free(&t);

	/* One character changed. */
	tokens_make(&t, "https://na1.salesforce.com", ID_URL, "s3cr3t");
	t.signature[3] = t.signature[3] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(sf_tokens_verify(&org, &t, &why), -1);
	ck_assert_str_eq(why, "signature mismatch");
	sf_tokens_free(&t);

	/* Signed for another user: the id was swapped after signing. */
	tokens_make(&t, "https://na1.salesforce.com", ID_URL, "s3cr3t");
	free(t.id);
	ck_assert_ptr_nonnull(t.id = strdup("https://login.salesforce.com/id/"
	    ORG_ID "/005000000000002AAA"));
	ck_assert_int_eq(sf_tokens_verify(&org, &t, &why), -1);
	ck_assert_str_eq(why, "signature mismatch");
	sf_tokens_free(&t);

	/* issued_at changed. */
	tokens_make(&t, "https://na1.salesforce.com", ID_URL, "s3cr3t");
	t.issued_at[0] = '2';
	ck_assert_int_eq(sf_tokens_verify(&org, &t, &why), -1);
	ck_assert_str_eq(why, "signature mismatch");
	sf_tokens_free(&t);

	/* The signature must be there at all. */
	tokens_make(&t, "https://na1.salesforce.com", ID_URL, "s3cr3t");
	free(t.signature);
	t.signature = NULL;
	ck_assert_int_eq(sf_tokens_verify(&org, &t, &why), -1);
	ck_assert_str_eq(why, "token reply incomplete");
	sf_tokens_free(&t);
}
END_TEST

START_TEST(test_verify_login_host)
{
	struct sf_org		 local = org;
	struct sf_tokens	 t;
	const char		*why;

	/* The stand-in: instance and identity URLs on the login host,
	 * port included; the host compares case-insensitively. */
	local.login_url = "https://127.0.0.1:8443";
	local.login_host = "127.0.0.1";
	tokens_make(&t, "https://127.0.0.1:8443",
	    "https://127.0.0.1:8443/id/" ORG_ID "/" USER_ID, "s3cr3t");
	ck_assert_int_eq(sf_tokens_verify(&local, &t, &why), 0);
	ck_assert_str_eq(t.org_id, ORG_ID);
	sf_tokens_free(&t);

	local.login_url = "https://Login.Example.ORG";
	local.login_host = "Login.Example.ORG";
	tokens_make(&t, "https://login.example.org/",
	    "https://LOGIN.example.org:9443/id/" ORG_ID "/" USER_ID, "s3cr3t");
	ck_assert_int_eq(sf_tokens_verify(&local, &t, &why), 0);
	sf_tokens_free(&t);

	/* Another host with a port is not the login host. */
	local.login_url = "https://127.0.0.1:8443";
	local.login_host = "127.0.0.1";
	tokens_make(&t, "https://localhost:8443",
	    "https://127.0.0.1:8443/id/" ORG_ID "/" USER_ID, "s3cr3t");
	ck_assert_int_eq(sf_tokens_verify(&local, &t, &why), -1);
	ck_assert_str_eq(why, BAD_INSTANCE);
	sf_tokens_free(&t);

	/* The login host is no wildcard for subdomains. */
	tokens_make(&t, "https://x.127.0.0.1:8443",
	    "https://127.0.0.1:8443/id/" ORG_ID "/" USER_ID, "s3cr3t");
	ck_assert_int_eq(sf_tokens_verify(&local, &t, &why), -1);
	ck_assert_str_eq(why, BAD_INSTANCE);
	sf_tokens_free(&t);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Calls that never reach a server */

START_TEST(test_calls_fail_locally)
{
	struct sf_org		 bad = org;
	struct sf_userinfo	 u;
	struct sf_records	 cs;
	struct sf_error		 err;
	struct http		*h;

	ck_assert_ptr_nonnull(h = http_new(NULL));
	/* A URL http.c refuses: our error, not Salesforce's. */
	ck_assert_int_eq(sf_userinfo(h, "http://na1.salesforce.com", "tok",
	    &u, &err), SF_ERROR);
	ck_assert_int_eq(query_contacts(h, &org, "http://x", "tok", "a",
	    &cs, &err), SF_ERROR);
	/* An API version that would change the path. */
	bad.api_version = "v62.0/../../x";
	ck_assert_int_eq(query_contacts(h, &bad, "https://127.0.0.1:1",
	    "tok", "a", &cs, &err), SF_ERROR);
	ck_assert_int_eq(query_contacts(h, &org, "https://127.0.0.1:1",
	    "tok", NULL, &cs, &err), SF_ERROR);
	ck_assert_int_eq(http_connections(h), 0);
	http_free(h);
}
END_TEST

START_TEST(test_calls_transport_is_transient)
{
	struct sf_org		 local = org;
	struct sf_tokens	 t;
	struct sf_records	 cs;
	struct http		*h;
	char			 base[64];
	int			 fd, port;

	/* A bound port that does not listen: connection refused. */
	fd = tls_local_socket(0, &port);
	snprintf(base, sizeof(base), "https://127.0.0.1:%d", port);
	local.login_url = base;
	local.login_host = "127.0.0.1";

	ck_assert_ptr_nonnull(h = http_new(NULL));
	ck_assert_int_eq(sf_token_refresh(h, &local, "5Aep.ref", &t, NULL),
	    SF_TRANSIENT);
	ck_assert_int_eq(sf_token_code(h, &local, "code", "https://h/cb",
	    "verifier", &t, NULL), SF_TRANSIENT);
	ck_assert_int_eq(sf_revoke(h, &local, "5Aep.ref"), SF_TRANSIENT);
	ck_assert_int_eq(query_contacts(h, &local, base, "tok", "smith",
	    &cs, NULL), SF_TRANSIENT);
	http_free(h);
	close(fd);
}
END_TEST

/* ------------------------------------------------------------------ */
/* On the wire, against the local TLS server */

/* A local server that gives every request one reply, an org whose login
 * URL it is, and a client that trusts it. */
struct wire {
	struct tls_server	 s;
	struct sf_org		 org;
	struct http		*h;
	char			 base[64];	/* https://127.0.0.1:PORT */
};

/* Starts w; reply must stay alive until wire_stop. */
static void
wire_start(struct wire *w, const char *reply)
{
	tls_start(&w->s, "server", reply, strlen(reply));
	snprintf(w->base, sizeof(w->base), "https://127.0.0.1:%d", w->s.port);
	w->org = org;
	w->org.login_url = w->base;
	w->org.login_host = "127.0.0.1";
	w->h = tls_client("ca.pem");
}

static void
wire_stop(struct wire *w)
{
	http_free(w->h);
	tls_stop(&w->s);
}

/* An HTTP reply with a JSON body. */
static char *
reply_json(const char *status, const char *body)
{
	static char	 r[8192];

	snprintf(r, sizeof(r), "HTTP/1.1 %s\r\nContent-Type: application/json"
	    "\r\nContent-Length: %zu\r\n\r\n%s", status, strlen(body), body);
	return r;
}

/* Asserts the one request began with line and ended with the form body
 * want. */
static void
assert_form(struct wire *w, const char *line, const char *want)
{
	char	 req[4096], *p;
	int	 n;

	tls_last(&w->s, req, sizeof(req), &n);
	ck_assert_int_eq(n, 1);
	ck_assert_msg(strncmp(req, line, strlen(line)) == 0, "request %s", req);
	ck_assert_ptr_nonnull(strstr(req,
	    "\r\nContent-Type: application/x-www-form-urlencoded\r\n"));
	ck_assert_ptr_nonnull(p = strstr(req, "\r\n\r\n"));
	ck_assert_str_eq(p + 4, want);
}

/* Asserts the one request began with line and carried the bearer
 * token. */
static void
assert_get(struct wire *w, const char *line, const char *token)
{
	char	 req[4096], auth[256];
	int	 n;

	tls_last(&w->s, req, sizeof(req), &n);
	ck_assert_int_eq(n, 1);
	ck_assert_ptr_eq(strstr(req, line), req);
	snprintf(auth, sizeof(auth), "\r\nAuthorization: Bearer %s\r\n",
	    token);
	ck_assert_ptr_nonnull(strstr(req, auth));
}

START_TEST(test_wire_token_refresh)
{
	struct wire		 w;
	struct sf_tokens	 t;

	wire_start(&w, reply_json("200 OK", json(TOKENS_GOOD)));
	ck_assert_int_eq(sf_token_refresh(w.h, &w.org, "5Aep.ref/x+y", &t,
	    NULL), SF_OK);
	ck_assert_str_eq(t.access_token, "00D000000000001!AQ.abc");
	ck_assert_str_eq(t.refresh_token, "5Aep.ref");
	assert_form(&w, "POST /services/oauth2/token HTTP/1.1\r\n",
	    "grant_type=refresh_token&refresh_token=5Aep.ref%2Fx%2By"
	    "&client_id=3MVG9client.id&client_secret=s3cr3t");
	sf_tokens_free(&t);
	wire_stop(&w);
}
END_TEST

/* The client credentials flow (integration-user mode): the three fields
 * in the body, none in the URL; a reply with no refresh token (and the
 * token_format member Salesforce adds) parses. */
START_TEST(test_wire_token_client)
{
	struct wire		 w;
	struct sf_tokens	 t;

	wire_start(&w, reply_json("200 OK", json("{'access_token':"
	    "'00D000000000001!AQ.cc','signature':'c2ln','scope':'api',"
	    "'instance_url':'https://acme.my.salesforce.com','id':"
	    "'https://login.salesforce.com/id/00D000000000001AAA/"
	    "005000000000001AAA','token_type':'Bearer','issued_at':"
	    "'1700000000000','token_format':'opaque'}")));
	ck_assert_int_eq(sf_token_client(w.h, &w.org, &t, NULL), SF_OK);
	ck_assert_str_eq(t.access_token, "00D000000000001!AQ.cc");
	ck_assert_ptr_null(t.refresh_token);
	assert_form(&w, "POST /services/oauth2/token HTTP/1.1\r\n",
	    "grant_type=client_credentials&client_id=3MVG9client.id"
	    "&client_secret=s3cr3t");
	sf_tokens_free(&t);
	wire_stop(&w);
}
END_TEST

/* An app without a Run-As user: invalid_grant, as Salesforce says it. */
START_TEST(test_wire_token_client_refused)
{
	struct wire		 w;
	struct sf_tokens	 t;
	struct sf_error		 err;

	wire_start(&w, reply_json("400 Bad Request", json("{'error':"
	    "'invalid_grant','error_description':'no client credentials user "
	    "enabled'}")));
	ck_assert_int_eq(sf_token_client(w.h, &w.org, &t, &err),
	    SF_INVALID_GRANT);
	ck_assert_str_eq(err.code, "invalid_grant");
	ck_assert_str_eq(err.message, "no client credentials user enabled");
	wire_stop(&w);
}
END_TEST

START_TEST(test_wire_token_code_invalid_grant)
{
	struct wire		 w;
	struct sf_tokens	 t;
	struct sf_error		 err;

	wire_start(&w, reply_json("400 Bad Request", json("{'error':"
	    "'invalid_grant','error_description':'authentication failure'}")));
	ck_assert_int_eq(sf_token_code(w.h, &w.org, "aPrx==", "https://fl"
	    ".example.com/oauth/callback", "ver-1_~.", &t, &err),
	    SF_INVALID_GRANT);
	ck_assert_str_eq(err.code, "invalid_grant");
	ck_assert_str_eq(err.message, "authentication failure");
	assert_form(&w, "POST /services/oauth2/token HTTP/1.1\r\n",
	    "grant_type=authorization_code&code=aPrx%3D%3D"
	    "&client_id=3MVG9client.id&client_secret=s3cr3t"
	    "&redirect_uri=https%3A%2F%2Ffl.example.com%2Foauth%2Fcallback"
	    "&code_verifier=ver-1_~.");
	wire_stop(&w);
}
END_TEST

START_TEST(test_wire_token_malformed)
{
	struct wire		 w;
	struct sf_tokens	 t;

	wire_start(&w, reply_json("200 OK", "{\"access_token\":\"a\"}"));
	ck_assert_int_eq(sf_token_refresh(w.h, &w.org, "r", &t, NULL),
	    SF_MALFORMED);
	wire_stop(&w);
}
END_TEST

/* A canned reply and what the call must make of it. */
struct wire_case {
	const char	*reply_status;
	const char	*reply_body;	/* for json() */
	enum sf_result	 want;
};

static const struct wire_case revoke_table[] = {
	{ "200 OK", "", SF_OK },
	/* Gone already: what revoke wanted. */
	{ "400 Bad Request", "{'error':'invalid_token','error_description':"
	    "'invalid token'}", SF_OK },
	{ "400 Bad Request", "{'error':'unsupported_token_type'}",
	    SF_REFUSED },
	{ "503 Service Unavailable", "", SF_TRANSIENT },
};

START_TEST(test_wire_revoke_table)
{
	const struct wire_case	*c = &revoke_table[_i];
	struct wire		 w;

	wire_start(&w, reply_json(c->reply_status, json(c->reply_body)));
	ck_assert_int_eq(sf_revoke(w.h, &w.org, "5Aep.ref="), c->want);
	assert_form(&w, "POST /services/oauth2/revoke HTTP/1.1\r\n",
	    "token=5Aep.ref%3D");
	wire_stop(&w);
}
END_TEST

START_TEST(test_wire_userinfo)
{
	struct wire		 w;
	struct sf_userinfo	 u;
	char			 url[80];

	wire_start(&w, reply_json("200 OK", json("{'user_id':'" USER_ID "',"
	    "'organization_id':'" ORG_ID "','preferred_username':'ada'}")));
	snprintf(url, sizeof(url), "%s/", w.base);
	ck_assert_int_eq(sf_userinfo(w.h, url, "00D!tok", &u, NULL), SF_OK);
	ck_assert_str_eq(u.username, "ada");
	assert_get(&w, "GET /services/oauth2/userinfo HTTP/1.1\r\n",
	    "00D!tok");
	sf_userinfo_free(&u);
	wire_stop(&w);
}
END_TEST

START_TEST(test_wire_userinfo_forbidden_is_expired)
{
	struct wire		 w;
	struct sf_userinfo	 u;
	struct sf_error		 err;

	wire_start(&w, "HTTP/1.1 403 Forbidden\r\n"
	    "Content-Length: 15\r\n\r\nBad_OAuth_Token");
	ck_assert_int_eq(sf_userinfo(w.h, w.base, "00D!tok", &u, &err),
	    SF_EXPIRED);
	ck_assert_str_eq(err.code, "");
	wire_stop(&w);
}
END_TEST

START_TEST(test_wire_query)
{
	struct wire		 w;
	struct sf_records	 cs;
	char			 url[80];

	wire_start(&w, reply_json("200 OK", json(CONTACTS_GOOD)));
	snprintf(url, sizeof(url), "%s/", w.base);
	ck_assert_int_eq(query_contacts(w.h, &org, url, "00D!tok",
	    "O'Brien 5%", &cs, NULL), SF_OK);
	ck_assert_uint_eq(cs.n, 2);
	/* Spaces as '+', ',' and '\'' as they are (the documentation's
	 * "q=SELECT+name+from+Account"); '%' and '\\' encoded. */
	assert_get(&w, "GET /services/data/v62.0/query?q="
	    "SELECT+Id,+Name,+Title,+Email,+Phone,+"
	    "MobilePhone,+Account.Id,+Account.Name+FROM+Contact"
	    "+WHERE+Name+LIKE+'%25O%5C'Brien+5%5C%25%25'+"
	    "ORDER+BY+Name,+Id+LIMIT+11 HTTP/1.1\r\n", "00D!tok");
	sf_records_free(&cs);
	wire_stop(&w);
}
END_TEST

static const struct wire_case query_table[] = {
	{ "401 Unauthorized", "[{'message':'Session expired or invalid',"
	    "'errorCode':'INVALID_SESSION_ID'}]", SF_EXPIRED },
	{ "400 Bad Request", "[{'message':'x','errorCode':'MALFORMED_QUERY'}]",
	    SF_REFUSED },
	{ "403 Forbidden", "[{'message':'x','errorCode':"
	    "'REQUEST_LIMIT_EXCEEDED'}]", SF_REFUSED },
	{ "500 Server Error", "[{'message':'x','errorCode':"
	    "'UNKNOWN_EXCEPTION'}]", SF_TRANSIENT },
	{ "200 OK", "{'totalSize':1,'records':[{'Id':'x'}]}", SF_MALFORMED },
	{ "200 OK", "<html></html>", SF_MALFORMED },
};

START_TEST(test_wire_query_table)
{
	const struct wire_case	*c = &query_table[_i];
	struct wire		 w;
	struct sf_records	 cs;
	struct sf_error		 err;

	wire_start(&w, reply_json(c->reply_status, json(c->reply_body)));
	ck_assert_int_eq(query_contacts(w.h, &org, w.base, "00D!tok", "a",
	    &cs, &err), c->want);
	wire_stop(&w);
}
END_TEST

START_TEST(test_wire_tls_failure_is_transient)
{
	struct wire		 w;
	struct sf_records	 cs;
	struct http		*h;

	/* The server's CA is not trusted by this client. */
	wire_start(&w, "");
	ck_assert_ptr_nonnull(h = http_new(NULL));
	ck_assert_int_eq(query_contacts(h, &org, w.base, "00D!tok", "a",
	    &cs, NULL), SF_TRANSIENT);
	http_free(h);
	wire_stop(&w);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("sf");

	tc = tcase_create("soql");
	tcase_add_loop_test(tc, test_soql_escape_table, 0,
	    sizeof(soql_table) / sizeof(soql_table[0]));
	tcase_add_test(tc, test_soql_contacts_exact);
	tcase_add_loop_test(tc, test_soql_kinds_hostile, 0,
	    sizeof(soql_hostile) / sizeof(soql_hostile[0]));
	tcase_add_test(tc, test_soql_opportunities);
	tcase_add_test(tc, test_soql_bounds);
	tcase_add_test(tc, test_parse_opportunities);
	tcase_add_loop_test(tc, test_parse_opportunities_bad, 0,
	    sizeof(opportunities_bad) / sizeof(opportunities_bad[0]));
	tcase_add_test(tc, test_parse_accounts);
	tcase_add_test(tc, test_kind_names);
	tcase_add_test(tc, test_soql_fail_ceiling);
	tcase_add_test(tc, test_authorize_url_exact);
	tcase_add_test(tc, test_authorize_url_encodes_values);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_test(tc, test_parse_tokens_good);
	tcase_add_test(tc, test_parse_tokens_no_refresh_token);
	tcase_add_loop_test(tc, test_parse_tokens_fail_table, 0,
	    sizeof(tokens_bad) / sizeof(tokens_bad[0]));
	tcase_add_loop_test(tc, test_parse_tokens_fail_lenient_json, 0,
	    sizeof(lenient_json) / sizeof(lenient_json[0]));
	tcase_add_test(tc, test_parse_tokens_strict_but_valid);
	tcase_add_test(tc, test_parse_tokens_fail_nul_byte);
	tcase_add_test(tc, test_parse_tokens_fail_deep_nesting);
	tcase_add_test(tc, test_parse_tokens_depth_limit);
	tcase_add_test(tc, test_parse_tokens_fail_huge_token);
	tcase_add_test(tc, test_parse_contacts_good);
	tcase_add_test(tc, test_parse_contacts_empty);
	tcase_add_test(tc, test_parse_contacts_capped);
	tcase_add_test(tc, test_parse_contacts_unusual_but_valid);
	tcase_add_loop_test(tc, test_parse_contacts_fail_lenient_json, 0,
	    (int)(sizeof(contacts_lenient) / sizeof(contacts_lenient[0])));
	tcase_add_loop_test(tc, test_parse_contacts_fail_table, 0,
	    sizeof(contacts_bad) / sizeof(contacts_bad[0]));
	tcase_add_test(tc, test_parse_userinfo_good);
	tcase_add_loop_test(tc, test_parse_userinfo_fail_table, 0,
	    sizeof(userinfo_bad) / sizeof(userinfo_bad[0]));
	tcase_add_loop_test(tc, test_parse_error_table, 0,
	    sizeof(error_table) / sizeof(error_table[0]));
	tcase_add_test(tc, test_parse_error_truncates);
	tcase_add_test(tc, test_result_str);
	suite_add_tcase(s, tc);

	tc = tcase_create("verify");
	tcase_add_test(tc, test_sign_matches_independent_vector);
	tcase_add_test(tc, test_verify_good);
	tcase_add_loop_test(tc, test_verify_table, 0,
	    sizeof(verify_table) / sizeof(verify_table[0]));
	tcase_add_test(tc, test_verify_fail_signature);
	tcase_add_test(tc, test_verify_login_host);
	suite_add_tcase(s, tc);

	tc = tcase_create("calls");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_calls_fail_locally);
	tcase_add_test(tc, test_calls_transport_is_transient);
	suite_add_tcase(s, tc);

	tc = tcase_create("wire");
	tcase_set_timeout(tc, 15);
	tcase_add_unchecked_fixture(tc, tls_certs_setup, tls_certs_teardown);
	tcase_add_test(tc, test_wire_token_refresh);
	tcase_add_test(tc, test_wire_token_client);
	tcase_add_test(tc, test_wire_token_client_refused);
	tcase_add_test(tc, test_wire_token_code_invalid_grant);
	tcase_add_test(tc, test_wire_token_malformed);
	tcase_add_loop_test(tc, test_wire_revoke_table, 0,
	    sizeof(revoke_table) / sizeof(revoke_table[0]));
	tcase_add_test(tc, test_wire_userinfo);
	tcase_add_test(tc, test_wire_userinfo_forbidden_is_expired);
	tcase_add_test(tc, test_wire_query);
	tcase_add_loop_test(tc, test_wire_query_table, 0,
	    sizeof(query_table) / sizeof(query_table[0]));
	tcase_add_test(tc, test_wire_tls_failure_is_transient);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

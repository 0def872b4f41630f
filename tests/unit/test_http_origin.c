/*
 * Unit tests of common/http_origin.c, the loop's table of hosts: a new
 * host's first transfer is its probe and the others wait for it; what
 * the probe's handshake tells (HTTP/2 or not) routes them and every
 * later transfer; a probe that never connects lets them go on; answers
 * correct what was learned; the table forgets the least recently used
 * host, and never holds a transfer it has no slot for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "http_int.h"

#define NX	64

static struct http_xfer	 xs[NX];
static char		 urls[NX][512];

/* Transfer i to url u. */
static struct http_xfer *
xfer(int i, const char *u)
{
	memset(&xs[i], 0, sizeof(xs[i]));
	snprintf(urls[i], sizeof(urls[i]), "%s", u);
	xs[i].url = urls[i];
	return &xs[i];
}

/* The length of list h (linked by hnext), checking it holds want[0..n)
 * in order. */
static void
assert_list(struct http_xfer *h, struct http_xfer **want, int n)
{
	int	 i;

	for (i = 0; i < n; i++, h = h->hnext) {
		ck_assert_ptr_nonnull(h);
		ck_assert_ptr_eq(h, want[i]);
	}
	ck_assert_ptr_null(h);
}

START_TEST(test_probe_holds_then_multiplexes)
{
	struct http_origins	*t = http_origins_new();
	struct http_xfer	*p, *a, *b, *want[2];

	ck_assert_ptr_nonnull(t);
	p = xfer(0, "https://na1.example.com/services/data/v62.0/query?q=1");
	a = xfer(1, "https://na1.example.com/services/oauth2/userinfo");
	b = xfer(2, "https://NA1.example.com?x");
	ck_assert_int_eq(http_origin_route(t, p, 100), HTTP_ROUTE_PROBE);
	ck_assert_int_eq(p->probe, 1);
	ck_assert_int_eq(http_origin_route(t, a, 110), HTTP_ROUTE_HOLD);
	ck_assert_int_eq(http_origin_route(t, b, 120), HTTP_ROUTE_HOLD);
	ck_assert_int_eq(a->held_ms, 110);
	want[0] = a;
	want[1] = b;
	assert_list(http_origin_learned(t, p, 1), want, 2);
	ck_assert_int_eq(p->probe, 0);
	/* Told once: a second report changes nothing. */
	ck_assert_ptr_null(http_origin_learned(t, p, 0));
	ck_assert_int_eq(http_origin_route(t, xfer(3,
	    "https://na1.example.com/x"), 130), HTTP_ROUTE_MUX);
	/* The probe's own end, with its answer, holds nothing more. */
	ck_assert_ptr_null(http_origin_done(t, p, CURL_HTTP_VERSION_2_0));
	ck_assert_int_eq(http_origin_route(t, xfer(4,
	    "https://na1.example.com/y"), 140), HTTP_ROUTE_MUX);
	http_origins_free(t);
}
END_TEST

START_TEST(test_plain_and_unreadable)
{
	struct http_origins	*t = http_origins_new();
	struct http_xfer	*p, *a, *want[1];

	p = xfer(0, "https://h1.example.com/a");
	a = xfer(1, "https://h1.example.com/b");
	ck_assert_int_eq(http_origin_route(t, p, 0), HTTP_ROUTE_PROBE);
	ck_assert_int_eq(http_origin_route(t, a, 0), HTTP_ROUTE_HOLD);
	want[0] = a;
	assert_list(http_origin_learned(t, p, 0), want, 1);
	ck_assert_int_eq(http_origin_route(t, xfer(2,
	    "https://h1.example.com/c"), 0), HTTP_ROUTE_PLAIN);
	/* A handshake that cannot be read leaves the host unknown: the
	 * next transfer probes again. */
	p = xfer(3, "https://tls.example.com/");
	a = xfer(4, "https://tls.example.com/");
	ck_assert_int_eq(http_origin_route(t, p, 0), HTTP_ROUTE_PROBE);
	ck_assert_int_eq(http_origin_route(t, a, 0), HTTP_ROUTE_HOLD);
	want[0] = a;
	assert_list(http_origin_learned(t, p, -1), want, 1);
	ck_assert_int_eq(http_origin_route(t, xfer(5,
	    "https://tls.example.com/"), 0), HTTP_ROUTE_PROBE);
	http_origins_free(t);
}
END_TEST

START_TEST(test_probe_that_never_connects)
{
	struct http_origins	*t = http_origins_new();
	struct http_xfer	*p, *want[3];
	int			 i;

	p = xfer(0, "https://blackhole.example.com/q");
	ck_assert_int_eq(http_origin_route(t, p, 0), HTTP_ROUTE_PROBE);
	for (i = 0; i < 3; i++) {
		want[i] = xfer(1 + i, "https://blackhole.example.com/q");
		ck_assert_int_eq(http_origin_route(t, want[i], i),
		    HTTP_ROUTE_HOLD);
	}
	/* It timed out (no answer): the three go on, the host is not
	 * known, and a later transfer probes again. */
	assert_list(http_origin_done(t, p, 0), want, 3);
	ck_assert_int_eq(http_origin_route(t, xfer(5,
	    "https://blackhole.example.com/q"), 0), HTTP_ROUTE_PROBE);
	/* Ending a transfer that was never a probe returns nothing. */
	ck_assert_ptr_null(http_origin_done(t, want[0], 0));
	http_origins_free(t);
}
END_TEST

START_TEST(test_answers_correct_what_was_learned)
{
	struct http_origins	*t = http_origins_new();
	struct http_xfer	*p;

	p = xfer(0, "https://moved.example.com/");
	ck_assert_int_eq(http_origin_route(t, p, 0), HTTP_ROUTE_PROBE);
	ck_assert_ptr_null(http_origin_learned(t, p, 1));
	/* The host stopped offering HTTP/2. */
	ck_assert_ptr_null(http_origin_done(t, xfer(1,
	    "https://moved.example.com/z"), CURL_HTTP_VERSION_1_1));
	ck_assert_int_eq(http_origin_route(t, xfer(2,
	    "https://moved.example.com/"), 0), HTTP_ROUTE_PLAIN);
	/* And offers it again. */
	ck_assert_ptr_null(http_origin_done(t, xfer(3,
	    "https://moved.example.com/"), CURL_HTTP_VERSION_2_0));
	ck_assert_int_eq(http_origin_route(t, xfer(4,
	    "https://moved.example.com/"), 0), HTTP_ROUTE_MUX);
	/* A transfer that got no answer says nothing. */
	ck_assert_ptr_null(http_origin_done(t, xfer(5,
	    "https://moved.example.com/"), 0));
	ck_assert_int_eq(http_origin_route(t, xfer(6,
	    "https://moved.example.com/"), 0), HTTP_ROUTE_MUX);
	http_origins_free(t);
}
END_TEST

START_TEST(test_origins_are_scheme_host_and_port)
{
	struct http_origins	*t = http_origins_new();
	char			 u[400];
	struct http_xfer	*p;

	p = xfer(0, "https://a.example.com/");
	ck_assert_int_eq(http_origin_route(t, p, 0), HTTP_ROUTE_PROBE);
	ck_assert_ptr_null(http_origin_learned(t, p, 1));
	/* Another port is another host. */
	ck_assert_int_eq(http_origin_route(t, xfer(1,
	    "https://a.example.com:8443/"), 0), HTTP_ROUTE_PROBE);
	ck_assert_int_eq(http_origin_route(t, xfer(2,
	    "https://A.EXAMPLE.COM#frag"), 0), HTTP_ROUTE_MUX);
	/* What the table cannot key is served as not known, never held. */
	ck_assert_int_eq(http_origin_route(t, xfer(3,
	    "https://user@a.example.com/"), 0), HTTP_ROUTE_PLAIN);
	ck_assert_int_eq(http_origin_route(t, xfer(4, "a.example.com/"), 0),
	    HTTP_ROUTE_PLAIN);
	ck_assert_int_eq(http_origin_route(t, xfer(5, "https:///path"), 0),
	    HTTP_ROUTE_PLAIN);
	memset(u, 'h', sizeof(u));
	memcpy(u, "https://", 8);
	u[sizeof(u) - 1] = '\0';
	ck_assert_int_eq(http_origin_route(t, xfer(6, u), 0),
	    HTTP_ROUTE_PLAIN);
	http_origins_free(t);
}
END_TEST

/* Learns host i (h<i>.example.com) as multiplexing, with transfer k. */
static void
learn_host(struct http_origins *t, int i, int k)
{
	char	 u[64];

	snprintf(u, sizeof(u), "https://h%d.example.com/", i);
	ck_assert_int_eq(http_origin_route(t, xfer(k, u), 0),
	    HTTP_ROUTE_PROBE);
	ck_assert_ptr_null(http_origin_learned(t, &xs[k], 1));
}

START_TEST(test_full_table_forgets_least_recently_used)
{
	struct http_origins	*t = http_origins_new();
	int			 i;

	for (i = 0; i < 32; i++)
		learn_host(t, i, i);
	/* h0 used again: h1 is now the least recently used. */
	ck_assert_int_eq(http_origin_route(t, xfer(40,
	    "https://h0.example.com/"), 0), HTTP_ROUTE_MUX);
	learn_host(t, 32, 41);
	ck_assert_int_eq(http_origin_route(t, xfer(42,
	    "https://h0.example.com/"), 0), HTTP_ROUTE_MUX);
	ck_assert_int_eq(http_origin_route(t, xfer(43,
	    "https://h32.example.com/"), 0), HTTP_ROUTE_MUX);
	ck_assert_int_eq(http_origin_route(t, xfer(44,
	    "https://h2.example.com/"), 0), HTTP_ROUTE_MUX);
	ck_assert_int_eq(http_origin_route(t, xfer(45,
	    "https://h1.example.com/"), 0), HTTP_ROUTE_PROBE);
	http_origins_free(t);
}
END_TEST

START_TEST(test_every_slot_probing_holds_nothing)
{
	struct http_origins	*t = http_origins_new();
	struct http_xfer	*all, *h;
	char			 u[64];
	int			 i, n;

	for (i = 0; i < 32; i++) {
		snprintf(u, sizeof(u), "https://p%d.example.com/", i);
		ck_assert_int_eq(http_origin_route(t, xfer(i, u), 0),
		    HTTP_ROUTE_PROBE);
	}
	ck_assert_int_eq(http_origin_route(t, xfer(32,
	    "https://p0.example.com/"), 0), HTTP_ROUTE_HOLD);
	ck_assert_int_eq(http_origin_route(t, xfer(33,
	    "https://p5.example.com/"), 0), HTTP_ROUTE_HOLD);
	/* No slot for a 33rd host: it goes on unheld. */
	ck_assert_int_eq(http_origin_route(t, xfer(34,
	    "https://new.example.com/"), 0), HTTP_ROUTE_PLAIN);
	/* The loop aborts: every wait ends, nothing is left held. */
	all = http_origin_drain(t);
	for (n = 0, h = all; h != NULL; h = h->hnext)
		n++;
	ck_assert_int_eq(n, 2);
	for (i = 0; i < 32; i++)
		ck_assert_int_eq(xs[i].probe, 0);
	ck_assert_ptr_null(http_origin_drain(t));
	ck_assert_int_eq(http_origin_route(t, xfer(35,
	    "https://new.example.com/"), 0), HTTP_ROUTE_PROBE);
	http_origins_free(t);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("http_origin");
	TCase	*tc = tcase_create("http_origin");

	tcase_add_test(tc, test_probe_holds_then_multiplexes);
	tcase_add_test(tc, test_plain_and_unreadable);
	tcase_add_test(tc, test_probe_that_never_connects);
	tcase_add_test(tc, test_answers_correct_what_was_learned);
	tcase_add_test(tc, test_origins_are_scheme_host_and_port);
	tcase_add_test(tc, test_full_table_forgets_least_recently_used);
	tcase_add_test(tc, test_every_slot_probing_holds_nothing);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"

/* DNS through libunbound (smtp-hook/dns.c) against a real nsd on
 * loopback serving a DNSSEC-signed and an unsigned test zone; run by
 * tests/sts/dns-zones.sh, which sets STS_DNS_ADDR and STS_DNS_TA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <event2/event.h>

#include "dns.h"
#include "mtasts.h"

#define MAXREC 8

typedef struct got {
	int done;
	dns_status status;
	int secure;
	char why[DNS_WHY_MAX];
	size_t n;
	unsigned char data[MAXREC][512];
	size_t len[MAXREC];
} got;

static void on_answer(void *arg, const dns_result *r)
{
	got *g = arg;

	g->done++;
	g->status = r->status;
	g->secure = r->secure;
	snprintf(g->why, sizeof(g->why), "%s", r->why ? r->why : "");
	g->n = r->n > MAXREC ? MAXREC : r->n;
	for (size_t i = 0; i < g->n; i++) {
		g->len[i] = (size_t)r->len[i] > sizeof(g->data[i]) ? sizeof(g->data[i]) : (size_t)r->len[i];
		memcpy(g->data[i], r->data[i], g->len[i]);
	}
}

/* Every test runs twice: libunbound in its own thread (dns_open), then
 * inside a libevent base of the test's (dns_open_event). */
static struct event_base *ev_base;

static dns_ctx *open_test_ctx(const char *forward)
{
	dns_conf c = {forward, NULL, getenv("STS_DNS_TA")};
	dns_ctx *d = NULL;
	char err[256];

	if (c.forward == NULL || c.trust_anchor == NULL)
		fail_msg("run through tests/sts/dns-zones.sh (STS_DNS_ADDR, STS_DNS_TA)");
	if (ev_base ? dns_open_event(&d, &c, ev_base, err, sizeof(err)) != 0 : dns_open(&d, &c, err, sizeof(err)) != 0)
		fail_msg("dns_open: %s", err);
	assert_true(ev_base ? dns_fd(d) == -1 : dns_fd(d) >= 0);
	return d;
}

static got ask(const char *name, int type)
{
	dns_ctx *d = open_test_ctx(getenv("STS_DNS_ADDR"));
	got g;

	memset(&g, 0, sizeof(g));
	assert_int_equal(dns_resolve(d, name, type, dns_now_ms() + 20000, on_answer, &g), 0);
	assert_int_equal(dns_pending(d), 1);
	dns_wait(d);
	assert_int_equal(g.done, 1);
	assert_int_equal(dns_pending(d), 0);
	dns_close(d);
	return g;
}

static void test_txt_secure(void **state)
{
	got g = ask("_mta-sts.enforce.sts.example", DNS_RR_TXT);
	char txt[STS_TXT_MAX + 1], id[STS_ID_MAX + 1];
	const char *recs[1] = {txt}, *err;
	size_t lens[1];

	(void)state;
	assert_int_equal(g.status, DNS_OK);
	assert_int_equal(g.secure, 1);
	assert_int_equal(g.n, 1);
	lens[0] = (size_t)dns_txt_join(txt, sizeof(txt), g.data[0], g.len[0]);
	assert_string_equal(txt, "v=STSv1; id=20240101T000000");
	assert_int_equal(sts_txt_parse(id, recs, lens, 1, &err), STS_TXT_FOUND);
	assert_string_equal(id, "20240101T000000");
}

static void test_txt_split_and_several(void **state)
{
	got g = ask("_mta-sts.split.sts.example", DNS_RR_TXT);
	char txt[MAXREC][STS_TXT_MAX + 1], id[STS_ID_MAX + 1];
	const char *recs[MAXREC], *err;
	size_t lens[MAXREC];

	(void)state;
	assert_int_equal(g.status, DNS_OK);
	assert_int_equal(g.n, 2);
	for (size_t i = 0; i < g.n; i++) {
		long n = dns_txt_join(txt[i], sizeof(txt[i]), g.data[i], g.len[i]);
		assert_true(n >= 0);
		recs[i] = txt[i];
		lens[i] = (size_t)n;
	}
	/* the character strings are joined without a separator */
	assert_int_equal(sts_txt_parse(id, recs, lens, g.n, &err), STS_TXT_FOUND);
	assert_string_equal(id, "split1");

	g = ask("_mta-sts.twice.sts.example", DNS_RR_TXT);
	assert_int_equal(g.n, 2);
	for (size_t i = 0; i < g.n; i++) {
		lens[i] = (size_t)dns_txt_join(txt[i], sizeof(txt[i]), g.data[i], g.len[i]);
		recs[i] = txt[i];
	}
	assert_int_equal(sts_txt_parse(id, recs, lens, g.n, &err), STS_TXT_INVALID);
}

static void test_mx(void **state)
{
	got g = ask("enforce.sts.example", DNS_RR_MX);
	char name[DNS_NAME_MAX + 1], seen[2][DNS_NAME_MAX + 1];
	int pref;

	(void)state;
	assert_int_equal(g.status, DNS_OK);
	assert_int_equal(g.secure, 1);
	assert_int_equal(g.n, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(dns_mx_parse(&pref, name, g.data[i], g.len[i]), 0);
		snprintf(seen[pref == 10 ? 0 : 1], sizeof(seen[0]), "%s", name);
	}
	assert_string_equal(seen[0], "mx1.enforce.sts.example");
	assert_string_equal(seen[1], "a.mx2.enforce.sts.example");

	g = ask("nullmx.sts.example", DNS_RR_MX);
	assert_int_equal(g.status, DNS_OK);
	assert_int_equal(dns_mx_parse(&pref, name, g.data[0], g.len[0]), 0);
	assert_int_equal(pref, 0);
	assert_string_equal(name, "");
}

static void test_tlsa_and_dnssec(void **state)
{
	got g;

	(void)state;
	/* signed TLSA: DANE applies */
	g = ask("_25._tcp.mx.dane.sts.example", DNS_RR_TLSA);
	assert_int_equal(g.status, DNS_OK);
	assert_int_equal(g.secure, 1);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.len[0], 3 + 32);
	assert_int_equal(g.data[0][0], 3);
	/* proven absent */
	g = ask("_25._tcp.mx.notlsa.sts.example", DNS_RR_TLSA);
	assert_int_equal(g.status, DNS_NXDOMAIN);
	assert_int_equal(g.secure, 1);
	g = ask("enforce.sts.example", DNS_RR_TXT);
	assert_int_equal(g.status, DNS_NODATA);
	assert_int_equal(g.secure, 1);
	/* an unsigned zone answers, but insecurely: no DANE from it */
	g = ask("_25._tcp.mx.plain.example", DNS_RR_TLSA);
	assert_int_equal(g.status, DNS_OK);
	assert_int_equal(g.secure, 0);
	/* a record changed after signing: bogus, never data */
	g = ask("tampered.sts.example", DNS_RR_TXT);
	assert_int_equal(g.status, DNS_BOGUS);
	assert_int_equal(g.n, 0);
	assert_non_null(strstr(g.why, "DNSSEC validation failed"));
}

static void test_servfail_is_not_nxdomain(void **state)
{
	/* nsd refuses a zone it does not serve: the resolver has no answer */
	got g = ask("_mta-sts.unserved.org", DNS_RR_TXT);

	(void)state;
	assert_int_equal(g.status, DNS_TEMPFAIL);
	assert_int_not_equal(g.status, DNS_NXDOMAIN);
}

static void test_timeout(void **state)
{
	/* a server that reads queries and never answers */
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	char fwd[64];
	dns_ctx *d;
	got g;

	(void)state;
	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(0x7f000701);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(fwd, sizeof(fwd), "127.0.7.1@%u", ntohs(sa.sin_port));
	d = open_test_ctx(fwd);
	memset(&g, 0, sizeof(g));
	assert_int_equal(dns_resolve(d, "_mta-sts.enforce.sts.example", DNS_RR_TXT, dns_now_ms() + 300, on_answer, &g),
	                 0);
	dns_wait(d);
	assert_int_equal(g.done, 1);
	assert_int_equal(g.status, DNS_TEMPFAIL);
	assert_string_equal(g.why, "timeout");
	/* a query still pending at close gets no callback */
	assert_int_equal(dns_resolve(d, "x.sts.example", DNS_RR_TXT, dns_now_ms() + 60000, on_answer, &g), 0);
	dns_close(d);
	assert_int_equal(g.done, 1);
	close(fd);
}

/* Unbound's own local data (localhost) is answered inside dns_resolve
 * in the event mode: the query record must survive it. */
static void test_local_data(void **state)
{
	dns_ctx *d = open_test_ctx(getenv("STS_DNS_ADDR"));
	got g;

	(void)state;
	memset(&g, 0, sizeof(g));
	assert_int_equal(dns_resolve(d, "localhost", DNS_RR_A, dns_now_ms() + 5000, on_answer, &g), 0);
	dns_wait(d);
	assert_int_equal(g.done, 1);
	assert_int_equal(g.status, DNS_OK);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.len[0], 4);
	assert_memory_equal(g.data[0], "\177\0\0\1", 4);
	assert_int_equal(dns_pending(d), 0);
	dns_close(d);
}

/* dns_wire_answer: the answer section of a DNS message, as the event
 * mode reads libunbound's. */
static void test_wire_answer(void **state)
{
	/* an MX answer for ex.example, the exchange compressed against the question */
	static const unsigned char mx[] = {
	    0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0,
	    2, 'e', 'x', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 15, 0, 1, /* question at 12 */
	    0xc0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 7, 0, 10, 2, 'm', 'x', 0xc0, 12,
	    0xc0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 4, 0, 20, 0xc0, 15, /* "example" */
	};
	/* a CNAME before the A record asked */
	static const unsigned char cname[] = {
	    0, 1, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0,
	    1, 'a', 1, 'b', 0, 0, 1, 0, 1,
	    0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 4, 1, 'c', 0xc0, 14,
	    1, 'c', 0xc0, 14, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 9,
	};
	static const unsigned char nx[] = {0, 1, 0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 16, 0, 1};
	unsigned char bad[sizeof(mx)];
	static dns_wire w;
	char name[DNS_NAME_MAX + 1];
	int pref;

	(void)state;
	assert_int_equal(dns_wire_answer(&w, mx, sizeof(mx), DNS_RR_MX), 0);
	assert_int_equal(w.rcode, 0);
	assert_int_equal(w.n, 2);
	assert_int_equal(dns_mx_parse(&pref, name, w.data[0], (size_t)w.len[0]), 0);
	assert_int_equal(pref, 10);
	assert_string_equal(name, "mx.ex.example");
	assert_int_equal(dns_mx_parse(&pref, name, w.data[1], (size_t)w.len[1]), 0);
	assert_int_equal(pref, 20);
	assert_string_equal(name, "example");
	assert_int_equal(dns_wire_answer(&w, mx, sizeof(mx), DNS_RR_A), 0);
	assert_int_equal(w.n, 0);

	assert_int_equal(dns_wire_answer(&w, cname, sizeof(cname), DNS_RR_A), 0);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.len[0], 4);
	assert_memory_equal(w.data[0], "\177\0\0\11", 4);

	assert_int_equal(dns_wire_answer(&w, nx, sizeof(nx), DNS_RR_TXT), 0);
	assert_int_equal(w.rcode, 3);
	assert_int_equal(w.n, 0);

	/* malformed: cut anywhere, a pointer forward or to itself, a
	 * record past the end: refused as a whole */
	for (size_t cut = 0; cut < sizeof(mx); cut++)
		assert_int_equal(dns_wire_answer(&w, mx, cut, DNS_RR_MX), -1);
	memcpy(bad, mx, sizeof(mx));
	bad[29] = 40; /* the first answer's owner: a pointer forward */
	assert_int_equal(dns_wire_answer(&w, bad, sizeof(bad), DNS_RR_MX), -1);
	memcpy(bad, mx, sizeof(mx));
	bad[47] = 0xc0;
	bad[48] = 47; /* the exchange's pointer to itself */
	assert_int_equal(dns_wire_answer(&w, bad, sizeof(bad), DNS_RR_MX), -1);
	memcpy(bad, mx, sizeof(mx));
	bad[39] = 8; /* rdlength one too long: the name ends before the rdata */
	assert_int_equal(dns_wire_answer(&w, bad, sizeof(bad), DNS_RR_MX), -1);
	memcpy(bad, mx, sizeof(mx));
	bad[7] = 9; /* more answers than there are */
	assert_int_equal(dns_wire_answer(&w, bad, sizeof(bad), DNS_RR_MX), -1);
}

static void test_rdata_decoders(void **state)
{
	char out[16], name[DNS_NAME_MAX + 1];
	int pref;

	(void)state;
	assert_int_equal(dns_txt_join(out, sizeof(out), (const unsigned char *)"\3abc\2de", 7), 5);
	assert_string_equal(out, "abcde");
	assert_int_equal(dns_txt_join(out, sizeof(out), (const unsigned char *)"", 0), 0);
	assert_int_equal(dns_txt_join(out, sizeof(out), (const unsigned char *)"\0", 1), 0);
	assert_int_equal(dns_txt_join(out, sizeof(out), (const unsigned char *)"\5abc", 4), -1);  /* short */
	assert_int_equal(dns_txt_join(out, 4, (const unsigned char *)"\4abcd", 5), -1);          /* too long */
	assert_int_equal(dns_txt_join(out, sizeof(out), (const unsigned char *)"\3a\0c", 4), -1); /* NUL */

	assert_int_equal(dns_mx_parse(&pref, name, (const unsigned char *)"\0\12\2MX\7example\0", 14), 0);
	assert_int_equal(pref, 10);
	assert_string_equal(name, "mx.example");
	assert_int_equal(dns_mx_parse(&pref, name, (const unsigned char *)"\0\12\2mx\7example", 13), -1);
	assert_int_equal(dns_mx_parse(&pref, name, (const unsigned char *)"\0\12\2mx\300\14", 6), -1);
	assert_int_equal(dns_mx_parse(&pref, name, (const unsigned char *)"\0\12\2m.\0", 6), -1);
	assert_int_equal(dns_mx_parse(&pref, name, (const unsigned char *)"\0\12\0x", 4), -1); /* trailing */
	assert_int_equal(dns_mx_parse(&pref, name, (const unsigned char *)"\0\12", 2), -1);
}

/* dns_answer (dns.h): the copy of an answer that outlives its callback,
 * shared by the evaluation job and the shell. */
static void on_answer_copy(void *arg, const dns_result *r)
{
	dns_answer_set(arg, r, 1);
}

static void test_answer_copy(void **state)
{
	dns_ctx *d = open_test_ctx(getenv("STS_DNS_ADDR"));
	static unsigned char big[DNS_ANSWER_DATA_MAX + 1], small[20][3];
	const unsigned char *data[21];
	int len[21];
	dns_answer a;
	dns_result r;

	(void)state;
	memset(&a, 0, sizeof(a));
	/* a real answer: the two TXT records of _mta-sts.split */
	assert_int_equal(dns_resolve(d, "_mta-sts.split.sts.example", DNS_RR_TXT, dns_now_ms() + 20000, on_answer_copy, &a),
	                 0);
	dns_wait(d);
	dns_close(d);
	assert_int_equal(a.done, 1);
	assert_int_equal(a.status, DNS_OK);
	assert_int_equal(a.secure, 1);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.dropped, 0);
	for (size_t i = 0; i < a.n; i++) {
		char txt[600];
		assert_true(dns_txt_join(txt, sizeof(txt), a.data[i], a.len[i]) > 0);
		assert_true(strcmp(txt, "v=STSv1; id=split1") == 0 || strcmp(txt, "v=spf1 -all") == 0);
	}
	/* bounded: one oversized record and more than DNS_ANSWER_KEEP */
	memset(&r, 0, sizeof(r));
	data[0] = big;
	len[0] = (int)sizeof(big);
	for (int i = 0; i < 20; i++) {
		small[i][0] = 2;
		small[i][1] = 'a';
		small[i][2] = (unsigned char)('a' + i);
		data[i + 1] = small[i];
		len[i + 1] = 3;
	}
	r.status = DNS_OK;
	r.n = 21;
	r.data = data;
	r.len = len;
	dns_answer_set(&a, &r, 1);
	assert_int_equal(a.n, DNS_ANSWER_KEEP);
	assert_int_equal(a.dropped, 21 - DNS_ANSWER_KEEP);
	assert_int_equal(a.len[0], 3);
	assert_memory_equal(a.data[DNS_ANSWER_KEEP - 1], small[DNS_ANSWER_KEEP - 1], 3);
	assert_string_equal(a.why, "ok");
	/* status only */
	dns_answer_set(&a, &r, 0);
	assert_int_equal(a.n, 0);
	assert_int_equal(a.status, DNS_OK);
	dns_answer_fail(&a, "cannot start the lookup");
	assert_int_equal(a.status, DNS_TEMPFAIL);
	assert_string_equal(a.why, "cannot start the lookup");
	dns_answer_clear(&a);
	assert_int_equal(a.done, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_txt_secure),      cmocka_unit_test(test_txt_split_and_several),
		cmocka_unit_test(test_mx),              cmocka_unit_test(test_tlsa_and_dnssec),
		cmocka_unit_test(test_servfail_is_not_nxdomain), cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_local_data),      cmocka_unit_test(test_rdata_decoders),
		cmocka_unit_test(test_wire_answer),     cmocka_unit_test(test_answer_copy),
	};
	int r;

	r = cmocka_run_group_tests_name("threaded", tests, NULL, NULL);
	if ((ev_base = event_base_new()) == NULL)
		return 1;
	r |= cmocka_run_group_tests_name("event", tests, NULL, NULL);
	event_base_free(ev_base);
	return r;
}

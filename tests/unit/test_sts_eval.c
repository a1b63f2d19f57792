/* The whole evaluation of a domain (smtp-hook/sts_eval.c): real nsd with
 * signed zones (dns-zones.sh), a real TLS server with a test CA
 * (https-server.sh) and a real database, together. */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sts_eval.h"
#include "sts_fetch.h"
#include "testutil.h"

typedef struct env {
	fixture *fx;
	dns_ctx *dns;
	SSL_CTX *tls;
	sts_eval_conf conf;
	sts_eval_result res;
} env;

static int setup(void **state)
{
	static env e;
	dns_conf dc = {getenv("STS_DNS_ADDR"), NULL, getenv("STS_DNS_TA")};
	char err[256];

	memset(&e, 0, sizeof(e));
	if (dc.forward == NULL || getenv("STS_HTTPS_PORT") == NULL)
		fail_msg("run through tests/sts/dns-zones.sh tests/sts/https-server.sh");
	if (fx_setup((void **)&e.fx) != 0)
		return -1;
	if (dns_open(&e.dns, &dc, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	if ((e.tls = sts_fetch_ssl_ctx(getenv("STS_HTTPS_CA"), err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	e.conf.dns = e.dns;
	e.conf.tls = e.tls;
	e.conf.db = e.fx->db;
	e.conf.https_port = (int)strtol(getenv("STS_HTTPS_PORT"), NULL, 10);
	e.conf.timeout_ms = 10000;
	e.conf.nopolicy_ttl = 600;
	e.conf.failure_ttl = 30;
	*state = &e;
	return 0;
}

static int teardown(void **state)
{
	env *e = *state;
	dns_close(e->dns);
	SSL_CTX_free(e->tls);
	void *fx = e->fx;
	return fx_teardown(&fx);
}

static const sts_account_req PLAIN = {STS_REQ_NONE, 0, 0}, ENC = {STS_REQ_ENCRYPT, 0, 0}, ENC13 = {STS_REQ_ENCRYPT, 1, 0},
                             NONE = {STS_REQ_NONE, 0, 1}; /* tls-policy-none */

static void test_enforce_exact_match_and_cache(void **state)
{
	env *e = *state;
	sts_eval_result r;

	sts_eval(&r, &e->conf, "enforce.sts.example", &PLAIN);
	if (r.kind != STS_EVAL_OK)
		fail_msg("%s", r.why);
	/* a.mx2.enforce.sts.example is two labels under *.enforce.sts.example */
	assert_string_equal(r.answer, "secure match=mx1.enforce.sts.example servername=hostname");
	assert_int_equal(r.from_cache, 0);
	assert_int_equal(r.mode, STS_MODE_ENFORCE);
	assert_string_equal(r.id, "20240101T000000");
	assert_int_equal(r.n_mx, 2);
	assert_int_equal(r.dane, 0);
	/* the second time from the cache, with the account's version added */
	sts_eval(&r, &e->conf, "enforce.sts.example", &ENC13);
	assert_int_equal(r.kind, STS_EVAL_OK);
	assert_int_equal(r.from_cache, 1);
	assert_string_equal(r.answer, "secure match=mx1.enforce.sts.example servername=hostname protocols=>=TLSv1.3");
	/* a restart (a new handle on the file) still has it */
	acct_close(e->fx->db);
	e->fx->db = fx_open(e->fx);
	e->conf.db = e->fx->db;
	sts_eval(&r, &e->conf, "enforce.sts.example", &PLAIN);
	assert_int_equal(r.from_cache, 1);
	assert_int_equal(r.kind, STS_EVAL_OK);
}

static void test_dane_first(void **state)
{
	env *e = *state;
	sts_eval_result r;

	/* an enforce policy exists, but the MX host has signed TLSA records */
	sts_eval(&r, &e->conf, "dane.sts.example", &ENC);
	if (r.kind != STS_EVAL_OK)
		fail_msg("%s", r.why);
	assert_int_equal(r.have_policy, 1);
	assert_int_equal(r.dane, 1);
	assert_string_equal(r.answer, "dane-only protocols=>=TLSv1.2");
	sts_eval(&r, &e->conf, "dane.sts.example", &PLAIN);
	assert_string_equal(r.answer, "dane");
	assert_null(strstr(r.answer, "secure"));
}

static void test_no_policy(void **state)
{
	env *e = *state;
	sts_eval_result r;
	acct_sts_entry *c;

	/* no TXT record: nothing for the plain map, encrypt for an enforcing one */
	sts_eval(&r, &e->conf, "notlsa.sts.example", &PLAIN);
	assert_int_equal(r.kind, STS_EVAL_NOTFOUND);
	assert_int_equal(acct_sts_get(&c, e->fx->db, "notlsa.sts.example"), ACCT_OK);
	assert_int_equal(c->kind, ACCT_STS_NOPOLICY);
	acct_sts_entry_free(c);
	sts_eval(&r, &e->conf, "notlsa.sts.example", &ENC);
	assert_int_equal(r.kind, STS_EVAL_OK);
	assert_string_equal(r.answer, "encrypt protocols=>=TLSv1.2");
	/* a TXT record but no policy server: never had a policy, not deferred */
	sts_eval(&r, &e->conf, "plain.example", &PLAIN);
	assert_int_equal(r.kind, STS_EVAL_NOTFOUND);
	assert_non_null(strstr(r.why, "fetch failed"));
	/* an unsigned zone's TLSA is no DANE */
	assert_int_equal(r.dane, 0);
}

static void test_expired_and_fetch_failure_defers(void **state)
{
	env *e = *state;
	static const char pol[] = "version: STSv1\nmode: enforce\nmx: mx.plain.example\nmax_age: 10\n";
	sts_eval_result r;

	assert_int_equal(acct_sts_put_policy(e->fx->db, "plain.example", "plain1", pol, strlen(pol), "enforce", 10),
	                 ACCT_OK);
	sts_eval(&r, &e->conf, "plain.example", &PLAIN);
	assert_int_equal(r.kind, STS_EVAL_OK);
	assert_string_equal(r.answer, "secure match=mx.plain.example servername=hostname");
	e->fx->now += 11;
	/* expired; the refetch fails (mta-sts.plain.example has no address) */
	sts_eval(&r, &e->conf, "plain.example", &PLAIN);
	assert_int_equal(r.kind, STS_EVAL_TEMP);
	assert_non_null(strstr(r.why, "defer"));
}

/* ---- what an evaluation asks the DNS server: nsd's own counters ----
 * A count that must be 0 is checked exactly; one that must be 1 is
 * checked >= 1, since libunbound resends a query that a loaded server is
 * slow to answer (what matters is which queries go out, and when). */

typedef struct counts {
	long queries, txt, mx, tlsa, a, dnskey;
} counts;

/* nsd-control stats_noreset of the test server (dns-zones.sh). */
static counts server_counts(void)
{
	const char *ctl = getenv("STS_DNS_CONTROL");
	char cmd[4200], line[256];
	counts c = {-1, -1, -1, -1, -1, -1};
	FILE *p;

	if (ctl == NULL)
		fail_msg("STS_DNS_CONTROL is not set (dns-zones.sh)");
	snprintf(cmd, sizeof(cmd), "%s stats_noreset", ctl);
	if ((p = popen(cmd, "r")) == NULL)
		fail_msg("cannot run %s", cmd);
	while (fgets(line, sizeof(line), p)) {
		static const struct {
			const char *key;
			size_t off;
		} keys[] = {{"num.queries=", offsetof(counts, queries)},  {"num.type.TXT=", offsetof(counts, txt)},
		            {"num.type.MX=", offsetof(counts, mx)},       {"num.type.TLSA=", offsetof(counts, tlsa)},
		            {"num.type.A=", offsetof(counts, a)},         {"num.type.DNSKEY=", offsetof(counts, dnskey)}};
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strncmp(line, keys[i].key, strlen(keys[i].key)) == 0)
				*(long *)((char *)&c + keys[i].off) = strtol(line + strlen(keys[i].key), NULL, 10);
	}
	if (pclose(p) != 0 || c.queries < 0 || c.tlsa < 0)
		fail_msg("%s: no statistics", cmd);
	return c;
}

static counts delta(const counts *a, const counts *b)
{
	counts d = {b->queries - a->queries, b->txt - a->txt, b->mx - a->mx, b->tlsa - a->tlsa, b->a - a->a,
	            b->dnskey - a->dnskey};
	return d;
}

/* One evaluation as the daemon runs it (a job, its first step, then
 * driven to the end), its answer for acct in r.  *first_pending: the
 * queries in flight after the first step (the first round trip). */
static void run_job(env *e, const char *domain, const sts_account_req *acct, char *answer, size_t len,
                    sts_eval_kind *kind, int *tlsa_skipped, size_t *first_pending)
{
	sts_job *j;
	sts_state st;
	const char *why;

	assert_int_equal(sts_job_new(&j, &e->conf, domain, STS_JOB_LOOKUP, NULL, NULL), 0);
	if (sts_req_needs_tlsa(acct))
		sts_job_want_tlsa(j);
	assert_int_equal(sts_job_step(j, dns_now_ms()), 0);
	*first_pending = dns_pending(e->dns);
	while (!sts_job_step(j, dns_now_ms())) {
		struct pollfd p = {.fd = dns_fd(e->dns), .events = POLLIN};
		(void)dns_expire(e->dns, dns_now_ms());
		if (poll(&p, 1, 100) > 0)
			dns_process(e->dns);
	}
	sts_facts_state(&st, sts_job_facts(j));
	*kind = sts_state_answer(answer, len, &st, acct, 0, &why);
	*tlsa_skipped = sts_job_facts(j)->tlsa_skipped;
	sts_job_free(j);
}

/* libunbound fetches the signed zone's keys once per context: before the
 * counting, so that only the evaluation's own queries are counted. */
static void warm_keys(env *e)
{
	sts_eval_result r;

	sts_eval(&r, &e->conf, "notlsa.sts.example", &ENC);
	assert_int_equal(r.kind, STS_EVAL_OK);
}

static void test_round_trips_unsigned_no_policy(void **state)
{
	env *e = *state;
	char ans[STS_ANSWER_MAX];
	sts_eval_kind k;
	int skipped;
	size_t first;
	counts a = server_counts(), b, d;

	run_job(e, "nopol.plain.example", &PLAIN, ans, sizeof(ans), &k, &skipped, &first);
	b = server_counts();
	d = delta(&a, &b);
	assert_int_equal(k, STS_EVAL_NOTFOUND);
	/* one round trip: TXT and MX in flight together, nothing after */
	assert_int_equal(first, 2);
	assert_true(d.txt >= 1);
	assert_true(d.mx >= 1);
	assert_int_equal(d.tlsa, 0);
	assert_int_equal(d.queries, d.txt + d.mx);
	/* then cached negatively: asked again, no query at all */
	run_job(e, "nopol.plain.example", &PLAIN, ans, sizeof(ans), &k, &skipped, &first);
	a = server_counts();
	d = delta(&b, &a);
	assert_int_equal(k, STS_EVAL_NOTFOUND);
	assert_int_equal(d.queries, 0);
}

static void test_round_trips_signed_no_policy_plain_map(void **state)
{
	env *e = *state;
	char ans[STS_ANSWER_MAX];
	sts_eval_kind k;
	int skipped;
	size_t first;
	counts a, b, d;

	e->conf.postfix_dane = 1;
	warm_keys(e);
	a = server_counts();
	run_job(e, "danenp.sts.example", &PLAIN, ans, sizeof(ans), &k, &skipped, &first);
	b = server_counts();
	d = delta(&a, &b);
	/* a signed MX set with TLSA, no policy: NOTFOUND, Postfix's dane
	 * level does DANE; no TLSA asked, so one round trip */
	assert_int_equal(k, STS_EVAL_NOTFOUND);
	assert_int_equal(skipped, 1);
	assert_int_equal(first, 2);
	assert_true(d.txt >= 1);
	assert_true(d.mx >= 1);
	assert_int_equal(d.tlsa, 0);
	assert_int_equal(d.queries, d.txt + d.mx);
	/* an enforcing map for the same domain must know DANE: TLSA asked
	 * (the MX from libunbound's cache, the TXT not: the negative entry) */
	run_job(e, "danenp.sts.example", &ENC, ans, sizeof(ans), &k, &skipped, &first);
	a = server_counts();
	d = delta(&b, &a);
	assert_int_equal(k, STS_EVAL_OK);
	assert_string_equal(ans, "dane-only protocols=>=TLSv1.2");
	assert_int_equal(skipped, 0);
	assert_int_equal(d.txt, 0);
	assert_true(d.tlsa >= 1);
	/* an enforce policy with DANE on the plain map still asks TLSA (DANE first) */
	sts_eval(&e->res, &e->conf, "dane.sts.example", &PLAIN);
	assert_int_equal(e->res.kind, STS_EVAL_OK);
	assert_string_equal(e->res.answer, "dane");
	assert_int_equal(e->res.tlsa_skipped, 0);
}

static void test_round_trips_signed_no_policy_postfix_dane_off(void **state)
{
	env *e = *state;
	char ans[STS_ANSWER_MAX];
	sts_eval_kind k;
	int skipped;
	size_t first;
	counts a, b, d;

	/* postfix_dane off (tlspolicy_postfix_dane = no: Postfix's smtp
	 * transport below the dane level): the plain map answers dane itself,
	 * so TLSA is asked */
	warm_keys(e);
	a = server_counts();
	run_job(e, "danenp.sts.example", &PLAIN, ans, sizeof(ans), &k, &skipped, &first);
	b = server_counts();
	d = delta(&a, &b);
	assert_int_equal(k, STS_EVAL_OK);
	assert_string_equal(ans, "dane");
	assert_int_equal(skipped, 0);
	assert_true(d.tlsa >= 1);
}

static void test_none_map_asks_tlsa(void **state)
{
	env *e = *state;
	char ans[STS_ANSWER_MAX];
	sts_eval_kind k;
	int skipped;
	size_t first;
	counts a, b, d;

	/* tls-policy-none (postern-notls, level none: no DANE of its own)
	 * with postfix_dane on: TLSA asked for a signed domain without a
	 * policy, and the answer is dane; the plain map for another domain
	 * on its own MX host asks none */
	e->conf.postfix_dane = 1;
	warm_keys(e);
	a = server_counts();
	run_job(e, "danenp3.sts.example", &NONE, ans, sizeof(ans), &k, &skipped, &first);
	b = server_counts();
	d = delta(&a, &b);
	assert_int_equal(k, STS_EVAL_OK);
	assert_string_equal(ans, "dane");
	assert_int_equal(skipped, 0);
	assert_true(d.tlsa >= 1);
	run_job(e, "danenp.sts.example", &PLAIN, ans, sizeof(ans), &k, &skipped, &first);
	a = server_counts();
	d = delta(&b, &a);
	assert_int_equal(k, STS_EVAL_NOTFOUND);
	assert_int_equal(skipped, 1);
	assert_int_equal(d.tlsa, 0);
	/* no TLSA records (a signed MX set): NOTFOUND, level none applies */
	run_job(e, "notlsa.sts.example", &NONE, ans, sizeof(ans), &k, &skipped, &first);
	assert_int_equal(k, STS_EVAL_NOTFOUND);
	assert_int_equal(skipped, 0);
	/* an unsigned domain without a policy: NOTFOUND */
	run_job(e, "nopol.plain.example", &NONE, ans, sizeof(ans), &k, &skipped, &first);
	assert_int_equal(k, STS_EVAL_NOTFOUND);
}

static void test_tlsa_once_per_host_enforcing(void **state)
{
	env *e = *state;
	char ans[STS_ANSWER_MAX];
	sts_eval_kind k;
	int skipped;
	size_t first;
	counts a, b, d;

	e->conf.postfix_dane = 1;
	warm_keys(e);
	a = server_counts();
	run_job(e, "danenp.sts.example", &ENC, ans, sizeof(ans), &k, &skipped, &first);
	b = server_counts();
	d = delta(&a, &b);
	assert_int_equal(k, STS_EVAL_OK);
	assert_string_equal(ans, "dane-only protocols=>=TLSv1.2");
	assert_true(d.tlsa >= 1);
	/* a second domain with the same MX host: the host's TLSA answer
	 * comes from libunbound's cache (bounded, TTL-bounded), not asked */
	run_job(e, "danenp2.sts.example", &ENC, ans, sizeof(ans), &k, &skipped, &first);
	a = server_counts();
	d = delta(&b, &a);
	assert_int_equal(k, STS_EVAL_OK);
	assert_string_equal(ans, "dane-only protocols=>=TLSv1.2");
	assert_true(d.txt >= 1);
	assert_true(d.mx >= 1);
	assert_int_equal(d.tlsa, 0);
	assert_int_equal(d.queries, d.txt + d.mx);
}

static void test_fetch_failure_cached_briefly(void **state)
{
	env *e = *state;
	sts_eval_result r;
	acct_sts_entry *c;
	counts a, b, d;

	/* TXT present, no policy server (mta-sts.plain.example has no
	 * address), never had a policy: no policy, not TEMP, stored as such
	 * for failure_ttl (30 s here) with the error */
	sts_eval(&r, &e->conf, "plain.example", &PLAIN);
	assert_int_equal(r.kind, STS_EVAL_NOTFOUND);
	assert_non_null(strstr(r.why, "fetch failed"));
	assert_int_equal(acct_sts_get(&c, e->fx->db, "plain.example"), ACCT_OK);
	assert_int_equal(c->kind, ACCT_STS_NOPOLICY);
	assert_int_equal(c->expires, e->fx->now + 30);
	assert_non_null(c->last_error);
	acct_sts_entry_free(c);
	/* meanwhile: answered from the store, no TXT, no fetch */
	a = server_counts();
	sts_eval(&r, &e->conf, "plain.example", &PLAIN);
	b = server_counts();
	d = delta(&a, &b);
	assert_int_equal(r.kind, STS_EVAL_NOTFOUND);
	assert_non_null(strstr(r.why, "cached: no policy"));
	assert_int_equal(d.txt, 0);
	assert_int_equal(d.a, 0);
	/* after it: evaluated again, fetch included (failing again: still no
	 * policy; the DNS answers may come from libunbound's own cache, which
	 * keeps real-time TTLs, so the server is not asked necessarily) */
	e->fx->now += 31;
	sts_eval(&r, &e->conf, "plain.example", &PLAIN);
	assert_int_equal(r.kind, STS_EVAL_NOTFOUND);
	assert_null(strstr(r.why, "cached: no policy"));
	assert_non_null(strstr(r.why, "TXT id=plain1"));
	assert_non_null(strstr(r.why, "fetch failed"));
	/* a domain without a TXT record: the longer nopolicy_ttl */
	sts_eval(&r, &e->conf, "nopol.plain.example", &PLAIN);
	assert_int_equal(acct_sts_get(&c, e->fx->db, "nopol.plain.example"), ACCT_OK);
	assert_int_equal(c->kind, ACCT_STS_NOPOLICY);
	assert_int_equal(c->expires, e->fx->now + 600);
	acct_sts_entry_free(c);
	e->fx->now += 599;
	sts_eval(&r, &e->conf, "nopol.plain.example", &PLAIN);
	assert_non_null(strstr(r.why, "cached: no policy"));
	e->fx->now += 2;
	sts_eval(&r, &e->conf, "nopol.plain.example", &PLAIN);
	assert_int_equal(r.kind, STS_EVAL_NOTFOUND);
	assert_null(strstr(r.why, "cached: no policy"));
	assert_non_null(strstr(r.why, "TXT _mta-sts.nopol.plain.example: NXDOMAIN"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_enforce_exact_match_and_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dane_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_and_fetch_failure_defers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trips_unsigned_no_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trips_signed_no_policy_plain_map, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trips_signed_no_policy_postfix_dane_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_none_map_asks_tlsa, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tlsa_once_per_host_enforcing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_failure_cached_briefly, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

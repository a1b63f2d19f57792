/* The whole evaluation of a domain (smtp-hook/sts_eval.c): real nsd with
 * signed zones (dns-zones.sh), a real TLS server with a test CA
 * (https-server.sh) and a real database, together. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
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

static const sts_account_req PLAIN = {STS_REQ_NONE, 0}, ENC = {STS_REQ_ENCRYPT, 0}, ENC13 = {STS_REQ_ENCRYPT, 1};

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_enforce_exact_match_and_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dane_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_and_fetch_failure_defers, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The MTA-STS policy cache: libaccount's calls on a real database file
 * (libaccount/src/mtasts_cache.c) and the daemon's pure cache decisions
 * (smtp-hook/mtasts.c) driven by what that file holds, across restarts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mtasts.h"
#include "testutil.h"

static const char POLICY[] = "version: STSv1\r\nmode: enforce\r\nmx: *.example.net\r\nmax_age: 86400\r\n";

/* What the daemon derives from the cache for a domain. */
static sts_cached cached(acct_db *db, const char *domain)
{
	sts_cached c;
	acct_sts_entry *e = NULL;
	int r = acct_sts_get(&e, db, domain);

	memset(&c, 0, sizeof(c));
	if (r == ACCT_ENOTFOUND) {
		assert_null(e);
		return c;
	}
	assert_int_equal(r, ACCT_OK);
	c.kind = e->kind == ACCT_STS_POLICY ? STS_CACHED_POLICY : STS_CACHED_NOPOLICY;
	c.expires = e->expires;
	if (e->id)
		snprintf(c.id, sizeof(c.id), "%s", e->id);
	acct_sts_entry_free(e);
	return c;
}

static void put(fixture *fx, const char *domain, const char *id, int64_t max_age)
{
	assert_int_equal(acct_sts_put_policy(fx->db, domain, id, POLICY, strlen(POLICY), "enforce", max_age), ACCT_OK);
}

static void test_restart_loses_nothing(void **state)
{
	fixture *fx = *state;
	acct_sts_entry *e;
	acct_db *again;

	put(fx, "example.com", "20240101T000000", 86400);
	assert_int_equal(acct_sts_touch(fx->db, "example.com", "fetch of https://mta-sts.example.com/ failed"),
	                 ACCT_OK);
	acct_close(fx->db);
	fx->db = NULL;
	fx->now += 3600;
	again = fx_open(fx);
	fx->db = again;
	assert_int_equal(acct_sts_get(&e, again, "example.com"), ACCT_OK);
	assert_string_equal(e->domain, "example.com");
	assert_int_equal(e->kind, ACCT_STS_POLICY);
	assert_string_equal(e->id, "20240101T000000");
	/* the policy file byte for byte, CRLF included */
	assert_int_equal(e->policy_len, strlen(POLICY));
	assert_memory_equal(e->policy, POLICY, strlen(POLICY));
	assert_string_equal(e->mode, "enforce");
	assert_int_equal(e->max_age, 86400);
	assert_int_equal(e->fetched_at, 1800000000);
	assert_int_equal(e->expires, 1800000000 + 86400);
	assert_string_equal(e->last_error, "fetch of https://mta-sts.example.com/ failed");
	assert_int_equal(e->last_error_at, 1800000000);
	acct_sts_entry_free(e);
	/* still fresh after the restart: served without DNS */
	{
		sts_cached c = cached(again, "example.com");
		assert_true(sts_cached_fresh(&c, fx->now));
		assert_int_equal(sts_decide_txt(&c, fx->now, STS_DNS_FOUND, "20240101T000000"), STS_USE_CACHED);
	}
	/* a good check clears the error */
	assert_int_equal(acct_sts_touch(again, "example.com", NULL), ACCT_OK);
	assert_int_equal(acct_sts_get(&e, again, "example.com"), ACCT_OK);
	assert_null(e->last_error);
	assert_int_equal(e->last_error_at, 0);
	assert_int_equal(e->checked_at, fx->now);
	acct_sts_entry_free(e);
}

static void test_id_change_refetches(void **state)
{
	fixture *fx = *state;
	sts_cached c;
	acct_sts_entry *e;

	put(fx, "example.com", "one", 86400);
	c = cached(fx->db, "example.com");
	assert_int_equal(sts_decide_txt(&c, fx->now, STS_DNS_FOUND, "one"), STS_USE_CACHED);
	assert_int_equal(sts_decide_txt(&c, fx->now, STS_DNS_FOUND, "two"), STS_FETCH);
	/* the refetched policy replaces the old one */
	fx->now += 10;
	assert_int_equal(acct_sts_put_policy(fx->db, "example.com", "two", "version: STSv1\nmode: testing\n"
	                                     "mx: mx.example.com\nmax_age: 600\n", 61, "testing", 600), ACCT_OK);
	assert_int_equal(acct_sts_get(&e, fx->db, "example.com"), ACCT_OK);
	assert_string_equal(e->id, "two");
	assert_string_equal(e->mode, "testing");
	assert_int_equal(e->expires, fx->now + 600);
	acct_sts_entry_free(e);
	c = cached(fx->db, "example.com");
	assert_int_equal(sts_decide_txt(&c, fx->now, STS_DNS_FOUND, "two"), STS_USE_CACHED);
}

static void test_expired_and_fetch_failure_defers(void **state)
{
	fixture *fx = *state;
	sts_cached c;
	acct_sts_entry *e;

	put(fx, "example.com", "one", 100);
	fx->now += 50;
	c = cached(fx->db, "example.com");
	/* unexpired: a failed refresh keeps serving it */
	assert_int_equal(sts_decide_fetch_failed(&c, fx->now), STS_USE_CACHED);
	assert_int_equal(sts_decide_txt(&c, fx->now, STS_DNS_TEMPFAIL, NULL), STS_USE_CACHED);
	fx->now += 50; /* exactly max_age later: expired */
	c = cached(fx->db, "example.com");
	assert_false(sts_cached_fresh(&c, fx->now));
	assert_int_equal(sts_decide_txt(&c, fx->now, STS_DNS_FOUND, "one"), STS_FETCH);
	assert_int_equal(sts_decide_fetch_failed(&c, fx->now), STS_DEFER);
	/* a DNS failure with an expired policy defers too */
	assert_int_equal(sts_decide_txt(&c, fx->now, STS_DNS_TEMPFAIL, NULL), STS_DEFER);
	/* the failure is recorded and the expired policy kept */
	assert_int_equal(acct_sts_touch(fx->db, "example.com", "HTTP 503 from mta-sts.example.com"), ACCT_OK);
	assert_int_equal(acct_sts_get(&e, fx->db, "example.com"), ACCT_OK);
	assert_int_equal(e->kind, ACCT_STS_POLICY);
	assert_string_equal(e->last_error, "HTTP 503 from mta-sts.example.com");
	acct_sts_entry_free(e);
}

static void test_txt_gone_keeps_policy(void **state)
{
	fixture *fx = *state;
	sts_cached c;
	acct_sts_entry *e;

	put(fx, "example.com", "one", 1000);
	c = cached(fx->db, "example.com");
	assert_int_equal(sts_decide_txt(&c, fx->now, STS_DNS_ABSENT, NULL), STS_USE_CACHED);
	assert_int_equal(sts_decide_txt(&c, fx->now, STS_DNS_INVALID, NULL), STS_USE_CACHED);
	/* the library refuses to cancel it */
	assert_int_equal(acct_sts_put_nopolicy(fx->db, "example.com", 3600), ACCT_ECONFLICT);
	assert_non_null(strstr(acct_errmsg(fx->db), "unexpired cached MTA-STS policy"));
	assert_int_equal(acct_sts_get(&e, fx->db, "example.com"), ACCT_OK);
	assert_int_equal(e->kind, ACCT_STS_POLICY);
	assert_string_equal(e->id, "one");
	acct_sts_entry_free(e);
	/* once expired, a TXT record still missing means no policy */
	fx->now += 1000;
	c = cached(fx->db, "example.com");
	assert_int_equal(sts_decide_txt(&c, fx->now, STS_DNS_ABSENT, NULL), STS_NO_POLICY);
	assert_int_equal(acct_sts_put_nopolicy(fx->db, "example.com", 3600), ACCT_OK);
	assert_int_equal(acct_sts_get(&e, fx->db, "example.com"), ACCT_OK);
	assert_int_equal(e->kind, ACCT_STS_NOPOLICY);
	assert_null(e->id);
	assert_null(e->policy);
	assert_null(e->mode);
	assert_int_equal(e->expires, fx->now + 3600);
	acct_sts_entry_free(e);
}

static void test_never_had_policy(void **state)
{
	fixture *fx = *state;
	sts_cached c = cached(fx->db, "nopolicy.example");

	assert_int_equal(c.kind, STS_CACHED_NOTHING);
	assert_int_equal(sts_decide_txt(&c, fx->now, STS_DNS_ABSENT, NULL), STS_NO_POLICY);
	assert_int_equal(sts_decide_txt(&c, fx->now, STS_DNS_INVALID, NULL), STS_NO_POLICY);
	/* a transient failure for a domain that never had a policy is no policy */
	assert_int_equal(sts_decide_txt(&c, fx->now, STS_DNS_TEMPFAIL, NULL), STS_NO_POLICY);
	assert_int_equal(sts_decide_txt(&c, fx->now, STS_DNS_FOUND, "x"), STS_FETCH);
	assert_int_equal(sts_decide_fetch_failed(&c, fx->now), STS_NO_POLICY);
	/* the negative cache, bounded */
	assert_int_equal(acct_sts_put_nopolicy(fx->db, "nopolicy.example", 300), ACCT_OK);
	c = cached(fx->db, "nopolicy.example");
	assert_int_equal(c.kind, STS_CACHED_NOPOLICY);
	assert_false(sts_cached_fresh(&c, fx->now));
	assert_int_equal(sts_decide_txt(&c, fx->now, STS_DNS_TEMPFAIL, NULL), STS_NO_POLICY);
	assert_int_equal(sts_decide_fetch_failed(&c, fx->now), STS_NO_POLICY);
	assert_int_equal(acct_sts_put_nopolicy(fx->db, "nopolicy.example", 0), ACCT_EINVAL);
	assert_int_equal(acct_sts_put_nopolicy(fx->db, "nopolicy.example", ACCT_STS_NOPOLICY_TTL_MAX + 1), ACCT_EINVAL);
	assert_string_equal(acct_errmsg(fx->db), "the MTA-STS negative cache time is 1 to 86400 seconds");
	/* a negative entry is replaced by a policy when one appears */
	put(fx, "nopolicy.example", "new", 60);
	c = cached(fx->db, "nopolicy.example");
	assert_int_equal(c.kind, STS_CACHED_POLICY);
	assert_string_equal(c.id, "new");
}

static void test_bad_input(void **state)
{
	fixture *fx = *state;
	acct_sts_entry *e = (acct_sts_entry *)1;
	static char big[ACCT_STS_POLICY_MAX + 2];

	assert_int_equal(acct_sts_put_policy(fx->db, "Example.com", "a", POLICY, 10, "enforce", 1), ACCT_EINVAL);
	assert_non_null(strstr(acct_errmsg(fx->db), "is not a lower-case host name"));
	assert_int_equal(acct_sts_put_policy(fx->db, "example.com.", "a", POLICY, 10, "enforce", 1), ACCT_EINVAL);
	assert_int_equal(acct_sts_put_policy(fx->db, "-a.com", "a", POLICY, 10, "enforce", 1), ACCT_EINVAL);
	assert_int_equal(acct_sts_put_policy(fx->db, "a..com", "a", POLICY, 10, "enforce", 1), ACCT_EINVAL);
	assert_int_equal(acct_sts_put_policy(fx->db, "", "a", POLICY, 10, "enforce", 1), ACCT_EINVAL);
	assert_int_equal(acct_sts_put_policy(fx->db, NULL, "a", POLICY, 10, "enforce", 1), ACCT_EINVAL);
	assert_int_equal(acct_sts_put_policy(fx->db, "a.com", "", POLICY, 10, "enforce", 1), ACCT_EINVAL);
	assert_int_equal(acct_sts_put_policy(fx->db, "a.com", "a-b", POLICY, 10, "enforce", 1), ACCT_EINVAL);
	assert_string_equal(acct_errmsg(fx->db), "an MTA-STS id is 1 to 32 letters and digits");
	assert_int_equal(acct_sts_put_policy(fx->db, "a.com", "0123456789abcdef0123456789abcdefX", POLICY, 10,
	                                     "enforce", 1), ACCT_EINVAL);
	assert_int_equal(acct_sts_put_policy(fx->db, "a.com", "a", POLICY, 0, "enforce", 1), ACCT_EINVAL);
	assert_int_equal(acct_sts_put_policy(fx->db, "a.com", "a", "ab\0cd", 5, "enforce", 1), ACCT_EINVAL);
	memset(big, 'x', sizeof(big));
	assert_int_equal(acct_sts_put_policy(fx->db, "a.com", "a", big, ACCT_STS_POLICY_MAX + 1, "enforce", 1),
	                 ACCT_EINVAL);
	assert_string_equal(acct_errmsg(fx->db), "an MTA-STS policy is 1 byte to 64 KiB of text without NUL");
	assert_int_equal(acct_sts_put_policy(fx->db, "a.com", "a", big, ACCT_STS_POLICY_MAX, "enforce", 1), ACCT_OK);
	assert_int_equal(acct_sts_put_policy(fx->db, "a.com", "a", POLICY, 10, "Enforce", 1), ACCT_EINVAL);
	assert_int_equal(acct_sts_put_policy(fx->db, "a.com", "a", POLICY, 10, "enforce", -1), ACCT_EINVAL);
	assert_int_equal(acct_sts_put_policy(fx->db, "a.com", "a", POLICY, 10, "enforce", 31557601), ACCT_EINVAL);
	assert_string_equal(acct_errmsg(fx->db), "an MTA-STS max_age is 0 to 31557600 seconds");
	assert_int_equal(acct_sts_put_policy(fx->db, "a.com", "a", POLICY, 10, "enforce", 31557600), ACCT_OK);
	assert_int_equal(acct_sts_touch(fx->db, "a.com", ""), ACCT_EINVAL);
	assert_int_equal(acct_sts_touch(fx->db, "a.com", "line\nbreak"), ACCT_EINVAL);
	assert_int_equal(acct_sts_touch(fx->db, "b.com", NULL), ACCT_ENOTFOUND);
	assert_int_equal(acct_sts_get(&e, fx->db, "b.com"), ACCT_ENOTFOUND);
	assert_null(e);
	assert_int_equal(acct_sts_get(NULL, fx->db, "b.com"), ACCT_EINVAL);
	acct_sts_entry_free(NULL);
}

static int collect(const acct_sts_entry *e, void *ctx)
{
	char *buf = ctx;
	size_t n = strlen(buf);
	snprintf(buf + n, 256 - n, "%s%s", n ? "," : "", e->domain);
	return 0;
}

static int stop_at_first(const acct_sts_entry *e, void *ctx)
{
	(void)e;
	(*(int *)ctx)++;
	return 42;
}

static void test_foreach_and_del(void **state)
{
	fixture *fx = *state;
	char buf[256] = "";
	int calls = 0;

	put(fx, "late.example", "a", 5000);
	put(fx, "early.example", "a", 10);
	assert_int_equal(acct_sts_put_nopolicy(fx->db, "middle.example", 600), ACCT_OK);
	assert_int_equal(acct_sts_foreach(fx->db, collect, buf), ACCT_OK);
	assert_string_equal(buf, "early.example,middle.example,late.example");
	assert_int_equal(acct_sts_foreach(fx->db, stop_at_first, &calls), 42);
	assert_int_equal(calls, 1);
	assert_int_equal(acct_sts_del(fx->db, "middle.example"), ACCT_OK);
	assert_int_equal(acct_sts_del(fx->db, "middle.example"), ACCT_ENOTFOUND);
	buf[0] = '\0';
	assert_int_equal(acct_sts_foreach(fx->db, collect, buf), ACCT_OK);
	assert_string_equal(buf, "early.example,late.example");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_restart_loses_nothing, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_id_change_refetches, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_expired_and_fetch_failure_defers, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_txt_gone_keeps_policy, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_never_had_policy, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_foreach_and_del, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

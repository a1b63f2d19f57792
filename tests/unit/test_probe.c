/*
 * The TLS probe's reading of the policy service's answers (cli/probe.c
 * probe_req_set): every answer postern-hookd's TLS policy map gives
 * Postfix (mtasts.c sts_answer, sts_state_answer) becomes the level the
 * verdicts apply, and anything else (an answer Postfix would refuse
 * too) a deferral with the answer in the reason, never a weaker level.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ssl.h>

#include "probe.h"

static void test_answers(void **state)
{
	static probe_req r;
	(void)state;

	assert_int_equal(probe_req_set(&r, 1, NULL, NULL, NULL), 0);
	assert_int_equal(r.level, PROBE_LV_SETTING);

	assert_int_equal(probe_req_set(&r, 0, "encrypt protocols=>=TLSv1.2", "MTA-STS", NULL), 0);
	assert_int_equal(r.level, PROBE_LV_ENCRYPT);
	assert_int_equal(r.min_version, 0);
	assert_string_equal(r.source, "MTA-STS");

	assert_int_equal(probe_req_set(&r, 0, "encrypt protocols=>=TLSv1.3", NULL, NULL), 0);
	assert_int_equal(r.level, PROBE_LV_ENCRYPT);
	assert_int_equal(r.min_version, TLS1_3_VERSION);

	assert_int_equal(probe_req_set(&r, 0, "verify", NULL, NULL), 0);
	assert_int_equal(r.level, PROBE_LV_VERIFY);
	assert_int_equal(probe_req_set(&r, 0, "dane", "DANE", NULL), 0);
	assert_int_equal(r.level, PROBE_LV_DANE);
	assert_int_equal(probe_req_set(&r, 0, "dane-only protocols=>=TLSv1.3", "DANE", NULL), 0);
	assert_int_equal(r.level, PROBE_LV_DANE_ONLY);
	assert_int_equal(r.min_version, TLS1_3_VERSION);

	assert_int_equal(probe_req_set(&r, 0, "secure match=mx1.example.com:mx2.example.net servername=hostname",
	                               "MTA-STS enforce", NULL),
	                 0);
	assert_int_equal(r.level, PROBE_LV_SECURE);
	assert_string_equal(r.match, "mx1.example.com:mx2.example.net");
}

static void test_temp(void **state)
{
	static probe_req r;
	(void)state;

	assert_int_equal(probe_req_set(&r, 2, NULL, NULL, "MTA-STS policy cannot be confirmed"), 0);
	assert_int_equal(r.level, PROBE_LV_DEFER);
	assert_string_equal(r.why, "MTA-STS policy cannot be confirmed");
	assert_int_equal(probe_req_set(&r, 2, NULL, NULL, ""), 0);
	assert_int_equal(r.level, PROBE_LV_DEFER);
	assert_non_null(strstr(r.why, "TEMP"));
}

/* An answer it does not know: DEFER with the answer quoted, as Postfix
 * would fail the delivery on a policy it cannot read. */
static void test_unexpected(void **state)
{
	static const char *bad[] = {
	    "",                                  /* nothing */
	    "   ",                               /* only blanks */
	    "may",                               /* a level the service never answers */
	    "none",
	    "secure",                            /* secure without its host list */
	    "secure servername=hostname",
	    "encrypt protocols=TLSv1.2",         /* not the service's syntax */
	    "encrypt ciphers=high",              /* an attribute it does not know */
	    "dane-only protocols=>=TLSv1.1",
	};
	static probe_req r;
	char big[PROBE_MATCH_MAX + 64];
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(probe_req_set(&r, 0, bad[i], "MTA-STS", NULL), -1);
		assert_int_equal(r.level, PROBE_LV_DEFER);
		assert_non_null(strstr(r.why, "unexpected policy answer"));
		assert_int_equal(r.match[0], '\0');
	}
	assert_int_equal(probe_req_set(&r, 0, NULL, NULL, NULL), -1);
	assert_int_equal(r.level, PROBE_LV_DEFER);
	/* a host list longer than the probe keeps: refused, not cut short */
	memcpy(big, "secure match=", 13);
	memset(big + 13, 'a', sizeof(big) - 14);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(probe_req_set(&r, 0, big, NULL, NULL), -1);
	assert_int_equal(r.level, PROBE_LV_DEFER);
	assert_int_equal(r.match[0], '\0');
	/* kinds other than OK, NOTFOUND, TEMP: a deferral too */
	assert_int_equal(probe_req_set(&r, 7, "encrypt", NULL, "odd"), 0);
	assert_int_equal(r.level, PROBE_LV_DEFER);
}

static void test_lists(void **state)
{
	static probe_req r;
	(void)state;

	assert_int_equal(probe_req_set(&r, 0, "secure match=mx1.example.com:mx2.example.net", NULL, NULL), 0);
	assert_true(probe_req_lists(&r, "mx1.example.com"));
	assert_true(probe_req_lists(&r, "MX1.Example.COM."));
	assert_true(probe_req_lists(&r, "mx2.example.net"));
	assert_false(probe_req_lists(&r, "mx2.example.com"));
	assert_false(probe_req_lists(&r, "x.mx1.example.com"));
	assert_false(probe_req_lists(&r, "mx1.example.co"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_answers),
	    cmocka_unit_test(test_temp),
	    cmocka_unit_test(test_unexpected),
	    cmocka_unit_test(test_lists),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

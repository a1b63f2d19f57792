/* IP allowlists through the library (the parser has test_ipnet). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

static int setup(void **state)
{
	fx_setup(state);
	assert_int_equal(acct_account_add(FX(state)->db, "acme", NULL), ACCT_OK);
	return 0;
}

static void test_empty_list_allows(void **state)
{
	fixture *fx = FX(state);

	assert_int_equal(acct_ip_check(fx->db, "acme", "203.0.113.9"), ACCT_OK);
	assert_int_equal(acct_ip_check(fx->db, "acme", "2001:db8::1"), ACCT_OK);
	assert_int_equal(acct_ip_check(fx->db, "acme", "garbage"), ACCT_EINVAL);
	assert_int_equal(acct_ip_check(fx->db, "acme", ""), ACCT_EINVAL);
	assert_int_equal(acct_ip_check(fx->db, "ghost", "203.0.113.9"), ACCT_ENOTFOUND);
}

static void test_allow_and_check(void **state)
{
	fixture *fx = FX(state);

	assert_int_equal(acct_ip_add(fx->db, "acme", "192.0.2.0/24", "office"), ACCT_OK);
	assert_int_equal(acct_ip_add(fx->db, "acme", "2001:DB8:0:0::/32", NULL), ACCT_OK);
	assert_int_equal(acct_ip_add(fx->db, "acme", "198.51.100.7", "relay"), ACCT_OK);
	assert_int_equal(acct_ip_check(fx->db, "acme", "192.0.2.200"), ACCT_OK);
	assert_int_equal(acct_ip_check(fx->db, "acme", "192.0.3.1"), ACCT_EDENIED);
	assert_string_equal(acct_errmsg(fx->db), "192.0.3.1 is not in the allowlist of 'acme'");
	assert_int_equal(acct_ip_check(fx->db, "acme", "198.51.100.7"), ACCT_OK);
	assert_int_equal(acct_ip_check(fx->db, "acme", "198.51.100.8"), ACCT_EDENIED);
	assert_int_equal(acct_ip_check(fx->db, "acme", "2001:db8:ffff::1"), ACCT_OK);
	assert_int_equal(acct_ip_check(fx->db, "acme", "2001:db9::1"), ACCT_EDENIED);
	/* An IPv4 client seen on an IPv6 socket matches the IPv4 entry. */
	assert_int_equal(acct_ip_check(fx->db, "acme", "::ffff:192.0.2.7"), ACCT_OK);
	assert_int_equal(acct_ip_check(fx->db, "acme", "::ffff:192.0.3.7"), ACCT_EDENIED);
	assert_int_equal(audit_count(fx->db, "ip.allow", "acme"), 3);
}

static void test_bad_and_duplicate(void **state)
{
	fixture *fx = FX(state);

	assert_int_equal(acct_ip_add(fx->db, "acme", "10.1.2.3/8", NULL), ACCT_EINVAL);
	assert_string_equal(acct_errmsg(fx->db), "'10.1.2.3/8' has host bits set; did you mean 10.0.0.0/8?");
	assert_int_equal(acct_ip_add(fx->db, "acme", "10.0.0.0/33", NULL), ACCT_EINVAL);
	assert_int_equal(acct_ip_add(fx->db, "acme", "not-an-ip", NULL), ACCT_EINVAL);
	assert_int_equal(acct_ip_add(fx->db, "acme", "", NULL), ACCT_EINVAL);
	assert_int_equal(acct_ip_add(fx->db, "acme", NULL, NULL), ACCT_EINVAL);
	assert_int_equal(acct_ip_add(fx->db, "acme", "10.0.0.0/8", "bad\nlabel"), ACCT_EINVAL);
	assert_int_equal(acct_ip_add(fx->db, "ghost", "10.0.0.0/8", NULL), ACCT_ENOTFOUND);
	assert_int_equal(acct_ip_add(fx->db, "acme", "10.0.0.0/8", NULL), ACCT_OK);
	/* Another spelling of the same network is the same entry. */
	assert_int_equal(acct_ip_add(fx->db, "acme", "::ffff:10.0.0.0/104", NULL), ACCT_EEXISTS);
	assert_string_equal(acct_errmsg(fx->db), "10.0.0.0/8 is already allowed for 'acme'");
	assert_int_equal(acct_ip_add(fx->db, "acme", "0.0.0.0/0", NULL), ACCT_OK);
	assert_int_equal(acct_ip_add(fx->db, "acme", "::/0", NULL), ACCT_OK);
	assert_int_equal(acct_ip_add(fx->db, "acme", "2001:db8::1/128", NULL), ACCT_OK);
	assert_int_equal(audit_count(fx->db, "ip.allow", NULL), 4);
}

struct list {
	char buf[512];
};

static int collect(const acct_ip *e, void *ctx)
{
	struct list *l = ctx;
	size_t n = strlen(l->buf);

	snprintf(l->buf + n, sizeof(l->buf) - n, "%s%s[%s]", n ? "," : "", e->cidr, e->label);
	return 0;
}

static void test_list_and_remove(void **state)
{
	fixture *fx = FX(state);
	struct list l = {{0}};

	assert_int_equal(acct_ip_add(fx->db, "acme", "192.0.2.1", "one"), ACCT_OK);
	assert_int_equal(acct_ip_add(fx->db, "acme", "2001:db8::/48", NULL), ACCT_OK);
	assert_int_equal(acct_ip_foreach(fx->db, "acme", collect, &l), ACCT_OK);
	assert_string_equal(l.buf, "192.0.2.1/32[one],2001:db8::/48[]");
	assert_int_equal(acct_ip_del(fx->db, "acme", "192.0.2.1/32"), ACCT_OK);
	assert_int_equal(acct_ip_del(fx->db, "acme", "192.0.2.1"), ACCT_ENOTFOUND);
	assert_string_equal(acct_errmsg(fx->db), "192.0.2.1/32 is not in the allowlist of 'acme'");
	assert_int_equal(acct_ip_del(fx->db, "acme", "10.1.2.3/8"), ACCT_EINVAL);
	assert_int_equal(acct_ip_check(fx->db, "acme", "192.0.2.1"), ACCT_EDENIED);
	assert_int_equal(acct_ip_del(fx->db, "acme", "2001:db8::/48"), ACCT_OK);
	/* Back to an empty list: everyone again. */
	assert_int_equal(acct_ip_check(fx->db, "acme", "192.0.2.1"), ACCT_OK);
	assert_int_equal(audit_count(fx->db, "ip.remove", "acme"), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty_list_allows, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_allow_and_check, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_and_duplicate, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_list_and_remove, setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

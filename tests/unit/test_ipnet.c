/* Addresses and networks: parsing, canonical text, containment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ipnet.h"

static void canon(const char *in, const char *want)
{
	char err[256], out[IPNET_TEXT_MAX];
	ipnet n;

	if (ipnet_parse_cidr(&n, in, err, sizeof(err)) != 0)
		fail_msg("%s: %s", in, err);
	assert_int_equal(ipnet_format(out, sizeof(out), &n), 0);
	assert_string_equal(out, want);
}

static void refused(const char *in, const char *msg_part)
{
	char err[256] = "";
	ipnet n;

	assert_int_equal(ipnet_parse_cidr(&n, in, err, sizeof(err)), -1);
	if (strstr(err, msg_part) == NULL)
		fail_msg("'%s': message '%s' lacks '%s'", in ? in : "(null)", err, msg_part);
}

static void test_canonical(void **state)
{
	(void)state;
	canon("192.0.2.0/24", "192.0.2.0/24");
	canon("192.0.2.7", "192.0.2.7/32");
	canon("0.0.0.0/0", "0.0.0.0/0");
	canon("2001:DB8:0:0::/32", "2001:db8::/32");
	canon("2001:db8::1", "2001:db8::1/128");
	canon("::/0", "::/0");
	canon("::ffff:192.0.2.7", "192.0.2.7/32");
	canon("::ffff:10.0.0.0/104", "10.0.0.0/8");
	canon("::ffff:0:0/96", "0.0.0.0/0");
	canon("10.255.255.255/32", "10.255.255.255/32");
}

static void test_host_bits(void **state)
{
	char err[256];
	ipnet n;

	(void)state;
	assert_int_equal(ipnet_parse_cidr(&n, "10.1.2.3/8", err, sizeof(err)), -1);
	assert_string_equal(err, "'10.1.2.3/8' has host bits set; did you mean 10.0.0.0/8?");
	assert_int_equal(ipnet_parse_cidr(&n, "2001:db8::1/64", err, sizeof(err)), -1);
	assert_string_equal(err, "'2001:db8::1/64' has host bits set; did you mean 2001:db8::/64?");
	assert_int_equal(ipnet_parse_cidr(&n, "192.0.2.129/25", err, sizeof(err)), -1);
	assert_string_equal(err, "'192.0.2.129/25' has host bits set; did you mean 192.0.2.128/25?");
	assert_int_equal(ipnet_parse_cidr(&n, "1.0.0.0/0", err, sizeof(err)), -1);
	assert_string_equal(err, "'1.0.0.0/0' has host bits set; did you mean 0.0.0.0/0?");
}

static void test_refused(void **state)
{
	char big[200];

	(void)state;
	refused(NULL, "required");
	refused("", "required");
	refused("300.1.1.1", "is not an IPv4 or IPv6 address");
	refused("10.1", "is not an IPv4 or IPv6 address");
	refused("010.1.1.1", "is not an IPv4 or IPv6 address");
	refused("10.0.0.0/33", "prefix length 33 is out of range for IPv4 (0-32)");
	refused("2001:db8::/129", "prefix length 129 is out of range for IPv6 (0-128)");
	refused("10.0.0.0/", "bad prefix length");
	refused("10.0.0.0/08", "bad prefix length");
	refused("10.0.0.0/+8", "bad prefix length");
	refused("10.0.0.0/8/8", "bad prefix length");
	refused("10.0.0.0/1000", "bad prefix length");
	refused(" 10.0.0.0/8", "white space");
	refused("10.0.0.0/8\n", "white space");
	refused("fe80::1%eth0", "zone");
	refused("::ffff:10.0.0.0/8", "at least /96");
	refused("garbage", "expected e.g. 192.0.2.0/24");
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	refused(big, "longer than 128");
	{
		ipnet n;
		assert_int_equal(ipnet_parse_cidr(&n, "garbage", NULL, 0), -1); /* no message buffer: fine */
	}
}

static void test_addresses(void **state)
{
	char err[256];
	ipnet a;

	(void)state;
	assert_int_equal(ipnet_parse_addr(&a, "192.0.2.1", err, sizeof(err)), 0);
	assert_int_equal(a.family, 4);
	assert_int_equal(a.prefix, 32);
	assert_int_equal(ipnet_parse_addr(&a, "::ffff:192.0.2.1", err, sizeof(err)), 0);
	assert_int_equal(a.family, 4);
	assert_int_equal(ipnet_parse_addr(&a, "::1", err, sizeof(err)), 0);
	assert_int_equal(a.family, 6);
	assert_int_equal(ipnet_parse_addr(&a, "192.0.2.0/24", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is a network, not an address"));
	assert_int_equal(ipnet_parse_addr(&a, "[::1]", err, sizeof(err)), -1);
}

static int has(const char *net, const char *addr)
{
	ipnet n, a;

	assert_int_equal(ipnet_parse_cidr(&n, net, NULL, 0), 0);
	assert_int_equal(ipnet_parse_addr(&a, addr, NULL, 0), 0);
	return ipnet_contains(&n, &a);
}

static void test_contains(void **state)
{
	(void)state;
	assert_true(has("192.0.2.0/24", "192.0.2.0"));
	assert_true(has("192.0.2.0/24", "192.0.2.255"));
	assert_false(has("192.0.2.0/24", "192.0.3.0"));
	assert_false(has("192.0.2.0/24", "192.0.1.255"));
	assert_true(has("192.0.2.128/25", "192.0.2.200"));
	assert_false(has("192.0.2.128/25", "192.0.2.127"));
	assert_true(has("0.0.0.0/0", "203.0.113.5"));
	assert_false(has("0.0.0.0/0", "2001:db8::1"));
	assert_true(has("::/0", "2001:db8::1"));
	assert_false(has("::/0", "203.0.113.5"));
	assert_true(has("192.0.2.7", "192.0.2.7"));
	assert_false(has("192.0.2.7", "192.0.2.8"));
	assert_true(has("2001:db8::/33", "2001:db8:7fff::1"));
	assert_false(has("2001:db8::/33", "2001:db8:8000::1"));
	assert_true(has("2001:db8::1/128", "2001:db8::1"));
	assert_false(has("2001:db8::1/128", "2001:db8::2"));
	assert_true(has("192.0.2.0/24", "::ffff:192.0.2.9"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_host_bits),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_contains),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The policy delegation parser: golden file and limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "golden.h"
#include "proto_policy.h"

static proto_status step(FILE *out, const char *buf, size_t len, size_t *consumed)
{
	pol_request q;
	const char *err;
	proto_status st = pol_parse(&q, buf, len, consumed, &err);

	if (st == PROTO_ERROR) {
		fprintf(out, "ERROR %s (skip %zu)\n", err, *consumed);
		return st;
	}
	if (st == PROTO_NEED_MORE)
		return st;
	fprintf(out, "REQUEST attrs=%d request=%s state=%s method=%s user=", q.nattrs, q.request, q.protocol_state,
	        q.sasl_method);
	golden_str(out, q.sasl_username, strlen(q.sasl_username));
	fprintf(out, " client=%s instance=%s tls=%s rcpt=%s\n", q.client_address, q.instance, q.encryption_protocol,
	        q.recipient);
	return st;
}

static void test_golden(void **state)
{
	(void)state;
	golden_run("policy", 0, step);
}

static void test_limits(void **state)
{
	pol_request q;
	size_t used;
	const char *err;
	char *buf = malloc(POL_REQUEST_MAX + 4096);
	size_t n = 0;

	(void)state;
	assert_non_null(buf);
	/* A value of exactly the kept maximum fits; one more does not. */
	n = (size_t)snprintf(buf, 512, "sasl_username=");
	memset(buf + n, 'u', POL_VALUE_MAX);
	memcpy(buf + n + POL_VALUE_MAX, "\n\n", 2);
	assert_int_equal(pol_parse(&q, buf, n + POL_VALUE_MAX + 2, &used, &err), PROTO_REQUEST);
	assert_int_equal(strlen(q.sasl_username), POL_VALUE_MAX);
	buf[n + POL_VALUE_MAX] = 'u';
	memcpy(buf + n + POL_VALUE_MAX + 1, "\n\n", 2);
	assert_int_equal(pol_parse(&q, buf, n + POL_VALUE_MAX + 3, &used, &err), PROTO_ERROR);
	assert_string_equal(err, "attribute value too long");
	/* Too many attributes. */
	n = 0;
	for (int i = 0; i <= POL_ATTRS_MAX; i++)
		n += (size_t)snprintf(buf + n, 32, "a%d=1\n", i);
	buf[n++] = '\n';
	assert_int_equal(pol_parse(&q, buf, n, &used, &err), PROTO_ERROR);
	assert_string_equal(err, "too many attributes");
	/* A line over the limit, even before its newline arrives. */
	memset(buf, 'x', POL_LINE_MAX + 1);
	buf[0] = 'a';
	buf[1] = '=';
	assert_int_equal(pol_parse(&q, buf, POL_LINE_MAX + 1, &used, &err), PROTO_ERROR);
	assert_string_equal(err, "attribute line too long");
	assert_int_equal(pol_parse(&q, buf, POL_LINE_MAX - 1, &used, &err), PROTO_NEED_MORE);
	/* A request over the limit made of short lines. */
	n = 0;
	while (n < POL_REQUEST_MAX + 10)
		n += (size_t)snprintf(buf + n, 64, "x=%060d\n", 0);
	assert_int_equal(pol_parse(&q, buf, n, &used, &err), PROTO_ERROR);
	assert_string_equal(err, "too many attributes");
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

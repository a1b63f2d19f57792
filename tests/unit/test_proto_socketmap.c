/* The socketmap (netstring) parser and reply encoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "golden.h"
#include "proto_socketmap.h"

static proto_status step(FILE *out, const char *buf, size_t len, size_t *consumed)
{
	static sm_request q;
	const char *err;
	proto_status st = sm_parse(&q, buf, len, consumed, &err);

	if (st == PROTO_ERROR) {
		fprintf(out, "ERROR %s (skip %zu)\n", err, *consumed);
		return st;
	}
	if (st == PROTO_NEED_MORE)
		return st;
	fprintf(out, "REQUEST name=%s key[%zu]=", q.name, q.key_len);
	golden_str(out, q.key, q.key_len);
	fputc('\n', out);
	return st;
}

static void test_golden(void **state)
{
	(void)state;
	golden_run("socketmap", 1, step);
}

static void test_reply(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(sm_reply(buf, sizeof(buf), "NOTFOUND", NULL), 12);
	assert_string_equal(buf, "9:NOTFOUND ,");
	assert_int_equal(sm_reply(buf, sizeof(buf), "OK", "encrypt"), 14);
	assert_string_equal(buf, "10:OK encrypt,");
	assert_int_equal(sm_reply(buf, sizeof(buf), "TEMP", "store unavailable"), 26);
	assert_string_equal(buf, "22:TEMP store unavailable,");
	assert_int_equal(sm_reply(buf, sizeof(buf), "MAYBE", "x"), -1);
	assert_int_equal(sm_reply(buf, sizeof(buf), "OK", "a\nb"), -1);
	assert_int_equal(sm_reply(buf, 10, "OK", "encrypt"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

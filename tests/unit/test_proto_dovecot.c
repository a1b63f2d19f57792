/* The Dovecot auth protocol parser: golden file, base64, PLAIN, LOGIN. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "golden.h"
#include "proto_dovecot.h"

static const char *const cmds[] = {"VERSION", "CPID", "AUTH", "CONT", "OTHER"};

static proto_status step(FILE *out, const char *buf, size_t len, size_t *consumed)
{
	dv_request q;
	const char *err;
	proto_status st = dv_parse(&q, buf, len, consumed, &err);

	if (st == PROTO_ERROR) {
		fprintf(out, "ERROR %s (skip %zu)\n", err, *consumed);
		return st;
	}
	if (st == PROTO_NEED_MORE)
		return st;
	fprintf(out, "%s", cmds[q.cmd]);
	switch (q.cmd) {
	case DV_VERSION: fprintf(out, " major=%lu minor=%lu", q.major, q.minor); break;
	case DV_CPID: fprintf(out, " pid=%lu", q.pid); break;
	case DV_AUTH:
		fprintf(out, " id=%lu mech=", q.id);
		golden_str(out, q.mech, strlen(q.mech));
		fputs(" service=", out);
		golden_str(out, q.service, strlen(q.service));
		fprintf(out, " lip=%s rip=%s secured=%d has_resp=%d data[%zu]=", q.lip, q.rip, q.secured, q.has_resp,
		        q.data_len);
		golden_str(out, q.data, q.data_len);
		break;
	case DV_CONT:
		fprintf(out, " id=%lu data[%zu]=", q.id, q.data_len);
		golden_str(out, q.data, q.data_len);
		break;
	case DV_OTHER: break;
	}
	fputc('\n', out);
	return st;
}

static void test_golden(void **state)
{
	(void)state;
	golden_run("dovecot", 0, step);
}

static void test_base64(void **state)
{
	unsigned char raw[64];
	char enc[64];

	(void)state;
	assert_int_equal(dv_b64_decode(raw, sizeof(raw), "", 0), 0);
	assert_int_equal(dv_b64_decode(raw, sizeof(raw), "Zm9vYmFy", 8), 6);
	assert_memory_equal(raw, "foobar", 6);
	assert_int_equal(dv_b64_decode(raw, sizeof(raw), "Zm9vYg==", 8), 4);
	assert_int_equal(dv_b64_decode(raw, sizeof(raw), "Zm9vYmE=", 8), 5);
	assert_int_equal(dv_b64_decode(raw, sizeof(raw), "Zm9vYh==", 8), -1); /* stray bits */
	assert_int_equal(dv_b64_decode(raw, sizeof(raw), "Zm9vY", 5), -1);
	assert_int_equal(dv_b64_decode(raw, sizeof(raw), "Zm=vYmFy", 8), -1);
	assert_int_equal(dv_b64_decode(raw, sizeof(raw), "Zm9v YmF", 8), -1);
	assert_int_equal(dv_b64_decode(raw, sizeof(raw), "====", 4), -1);
	assert_int_equal(dv_b64_decode(raw, 5, "Zm9vYmFy", 8), -1); /* does not fit */
	assert_int_equal(dv_b64_encode(enc, sizeof(enc), (const unsigned char *)"foob", 4), 8);
	assert_string_equal(enc, "Zm9vYg==");
	assert_int_equal(dv_b64_encode(enc, 8, (const unsigned char *)"foob", 4), -1);
	for (size_t n = 0; n < 40; n++) {
		unsigned char in[40], back[40];
		for (size_t i = 0; i < n; i++)
			in[i] = (unsigned char)(i * 37 + n);
		assert_true(dv_b64_encode(enc, sizeof(enc), in, n) >= 0);
		assert_int_equal(dv_b64_decode(back, sizeof(back), enc, strlen(enc)), (long)n);
		assert_memory_equal(in, back, n);
	}
}

static void test_plain(void **state)
{
	char u[DV_CRED_MAX + 1], p[DV_CRED_MAX + 1];
	char big[DV_CRED_MAX + 20];

	(void)state;
	assert_int_equal(dv_plain(u, p, (const unsigned char *)"\0apikey\0secret", 14), 0);
	assert_string_equal(u, "apikey");
	assert_string_equal(p, "secret");
	assert_int_equal(dv_plain(u, p, (const unsigned char *)"apikey\0apikey\0secret", 20), 0);
	assert_int_equal(dv_plain(u, p, (const unsigned char *)"other\0apikey\0secret", 19), -1); /* proxy authz */
	assert_int_equal(dv_plain(u, p, (const unsigned char *)"\0apikey", 7), -1);
	assert_int_equal(dv_plain(u, p, (const unsigned char *)"\0\0secret", 8), -1);
	assert_int_equal(dv_plain(u, p, (const unsigned char *)"\0apikey\0", 8), -1);
	assert_int_equal(dv_plain(u, p, (const unsigned char *)"\0apikey\0se\0cret", 15), -1);
	memset(big, 'x', sizeof(big));
	big[0] = '\0';
	big[7] = '\0';
	assert_int_equal(dv_plain(u, p, (const unsigned char *)big, 8 + DV_CRED_MAX), 0);
	assert_int_equal(dv_plain(u, p, (const unsigned char *)big, 9 + DV_CRED_MAX), -1);
	assert_int_equal(dv_login_field(u, (const unsigned char *)"apikey", 6), 0);
	assert_string_equal(u, "apikey");
	assert_int_equal(dv_login_field(u, (const unsigned char *)"", 0), -1);
	assert_int_equal(dv_login_field(u, (const unsigned char *)"a\0b", 3), -1);
}

static void test_limits(void **state)
{
	static char line[DV_LINE_MAX + 10];
	dv_request q;
	size_t used;
	const char *err;

	(void)state;
	/* A line just under the limit parses; one at it without a newline fails. */
	memset(line, 'A', sizeof(line));
	memcpy(line, "OTHER\t", 6);
	line[DV_LINE_MAX - 1] = '\n';
	assert_int_equal(dv_parse(&q, line, DV_LINE_MAX, &used, &err), PROTO_REQUEST);
	assert_int_equal(used, DV_LINE_MAX);
	line[DV_LINE_MAX - 1] = 'A';
	assert_int_equal(dv_parse(&q, line, DV_LINE_MAX - 1, &used, &err), PROTO_NEED_MORE);
	assert_int_equal(dv_parse(&q, line, DV_LINE_MAX + 5, &used, &err), PROTO_ERROR);
	assert_string_equal(err, "request line too long");
	/* resp= longer than DV_DATA_MAX */
	memcpy(line, "AUTH\t1\tPLAIN\tresp=", 18);
	memset(line + 18, 'A', DV_DATA_MAX + 1);
	line[18 + DV_DATA_MAX + 1] = '\n';
	assert_int_equal(dv_parse(&q, line, 20 + DV_DATA_MAX, &used, &err), PROTO_ERROR);
	line[18 + DV_DATA_MAX] = '\n';
	assert_int_equal(dv_parse(&q, line, 19 + DV_DATA_MAX, &used, &err), PROTO_REQUEST);
	assert_int_equal(q.data_len, DV_DATA_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

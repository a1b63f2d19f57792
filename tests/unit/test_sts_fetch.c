/* The HTTPS fetch of MTA-STS policies (smtp-hook/sts_fetch.c) against a
 * real TLS server on loopback with a test CA (tests/sts/https-server.sh),
 * and the pure HTTP response checks (sts_http_response in mtasts.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "mtasts.h"
#include "sts_fetch.h"

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct outcome {
	sts_fetch_status st;
	char err[512];
	char body[80000];
	size_t len;
} outcome;

static outcome *fetch(const char *domain, const char *ca, int64_t timeout_ms)
{
	static outcome o;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	const char *addr = getenv("STS_HTTPS_ADDR"), *port = getenv("STS_HTTPS_PORT");
	char err[256];
	SSL_CTX *ctx;
	sts_fetch *f;
	const char *b;

	if (addr == NULL || port == NULL || getenv("STS_HTTPS_CA") == NULL)
		fail_msg("run through tests/sts/https-server.sh");
	memset(&o, 0, sizeof(o));
	assert_int_equal(inet_pton(AF_INET, addr, &sa.sin_addr), 1);
	sa.sin_port = htons((uint16_t)strtoul(port, NULL, 10));
	ctx = sts_fetch_ssl_ctx(ca ? ca : getenv("STS_HTTPS_CA"), err, sizeof(err));
	if (ctx == NULL)
		fail_msg("%s", err);
	if (sts_fetch_start(&f, ctx, domain, (struct sockaddr *)&sa, sizeof(sa), mono_ms() + timeout_ms, err,
	                    sizeof(err)) != 0)
		fail_msg("start: %s", err);
	assert_true(sts_fetch_fd(f) >= 0);
	o.st = sts_fetch_run(f);
	snprintf(o.err, sizeof(o.err), "%s", sts_fetch_error(f));
	if ((b = sts_fetch_body(f, &o.len)) != NULL)
		memcpy(o.body, b, o.len);
	sts_fetch_free(f);
	SSL_CTX_free(ctx);
	return &o;
}

static void test_good(void **state)
{
	static sts_policy p;
	const char *err;
	outcome *o = fetch("good.example", NULL, 10000);

	(void)state;
	if (o->st != STS_FETCH_DONE)
		fail_msg("%s", o->err);
	assert_int_equal(sts_policy_parse(&p, o->body, o->len, &err), 0);
	assert_int_equal(p.mode, STS_MODE_ENFORCE);
	assert_int_equal(p.n_mx, 2);
	assert_string_equal(p.mx[0], "*.enforce.sts.example");
	/* parameters of text/plain, and a body ended by the close */
	o = fetch("charset.example", NULL, 10000);
	assert_int_equal(o->st, STS_FETCH_DONE);
	o = fetch("nolength.example", NULL, 10000);
	if (o->st != STS_FETCH_DONE)
		fail_msg("%s", o->err);
	assert_int_equal(sts_policy_parse(&p, o->body, o->len, &err), 0);
}

static void expect_fail(const char *domain, const char *ca, const char *what)
{
	outcome *o = fetch(domain, ca, 10000);
	if (o->st != STS_FETCH_FAILED)
		fail_msg("%s: fetched", domain);
	if (strstr(o->err, what) == NULL)
		fail_msg("%s: '%s' does not say '%s'", domain, o->err, what);
	assert_non_null(strstr(o->err, "https://mta-sts."));
}

static void test_refused(void **state)
{
	(void)state;
	expect_fail("redirect.example", NULL, "HTTP redirect refused");
	expect_fail("html.example", NULL, "HTTP Content-Type is not text/plain");
	expect_fail("notype.example", NULL, "no Content-Type");
	expect_fail("big.example", NULL, "HTTP body larger than 64 KiB");
	expect_fail("notfound.example", NULL, "HTTP status is not 200");
	/* no Content-Length and no close_notify: possibly truncated */
	expect_fail("truncated.example", NULL, "connection closed without TLS close_notify");
	/* the certificate does not name mta-sts.other.example */
	expect_fail("other.example", NULL, "certificate not valid for mta-sts.other.example");
	/* a CA we do not trust (the system store has no test CA) */
	expect_fail("good.example", "/etc/ssl/certs/ca-certificates.crt", "certificate not valid");
}

static void test_bad_max_age_refused(void **state)
{
	static sts_policy p;
	const char *err;
	outcome *o = fetch("badage.example", NULL, 10000);

	(void)state;
	assert_int_equal(o->st, STS_FETCH_DONE);
	assert_int_equal(sts_policy_parse(&p, o->body, o->len, &err), -1);
	assert_string_equal(err, "policy max_age is not a number of seconds 0..31557600");
}

static void test_timeout(void **state)
{
	(void)state;
	outcome *o = fetch("slow.example", NULL, 500);
	assert_int_equal(o->st, STS_FETCH_FAILED);
	assert_non_null(strstr(o->err, "timeout"));
}

static void test_http_parser(void **state)
{
	size_t off, len;
	const char *err;
	static char big[STS_HTTP_HEAD_MAX + STS_POLICY_MAX + 256];
	int n;

	(void)state;
#define R(s, eof) sts_http_response(s, strlen(s), eof, &off, &len, &err)
	assert_int_equal(R("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc", 0),
	                 STS_HTTP_DONE);
	assert_int_equal(len, 3);
	assert_int_equal(R("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nab", 0),
	                 STS_HTTP_NEED_MORE);
	assert_int_equal(R("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nab", 1),
	                 STS_HTTP_ERROR);
	assert_int_equal(R("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabcd", 0),
	                 STS_HTTP_ERROR);
	assert_int_equal(R("HTTP/1.0 200 OK\nCONTENT-TYPE:TEXT/PLAIN\n\nbody", 0), STS_HTTP_NEED_MORE);
	assert_int_equal(R("HTTP/1.0 200 OK\nCONTENT-TYPE:TEXT/PLAIN\n\nbody", 1), STS_HTTP_DONE);
	assert_int_equal(len, 4);
	assert_int_equal(R("HTTP/1.1 200 OK\r\nContent-Type: text/plainx\r\n\r\n", 1), STS_HTTP_ERROR);
	assert_int_equal(R("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n", 1),
	                 STS_HTTP_ERROR);
	assert_string_equal(err, "HTTP Transfer-Encoding refused (the request is HTTP/1.0)");
	assert_int_equal(R("HTTP/1.1 302 Found\r\nLocation: x\r\n\r\n", 1), STS_HTTP_ERROR);
	assert_int_equal(R("HTTP/1.1 204 No\r\n\r\n", 1), STS_HTTP_ERROR);
	assert_int_equal(R("HTTP/2 200\r\n\r\n", 1), STS_HTTP_ERROR);
	assert_int_equal(R("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: x\r\n\r\n", 1),
	                 STS_HTTP_ERROR);
	assert_int_equal(R("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 99999999999999999\r\n\r\n",
	                   0), STS_HTTP_ERROR);
	assert_string_equal(err, "HTTP body larger than 64 KiB");
	assert_int_equal(R("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n", 0), STS_HTTP_NEED_MORE);
	assert_int_equal(R("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n", 1), STS_HTTP_ERROR);
	/* header block and body limits */
	memset(big, 'a', sizeof(big));
	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	assert_int_equal(sts_http_response(big, STS_HTTP_HEAD_MAX, 0, &off, &len, &err), STS_HTTP_ERROR);
	assert_string_equal(err, "HTTP response header longer than 16 KiB");
	n = snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n");
	assert_int_equal(sts_http_response(big, (size_t)n + STS_POLICY_MAX, 1, &off, &len, &err), STS_HTTP_DONE);
	assert_int_equal(sts_http_response(big, (size_t)n + STS_POLICY_MAX + 1, 1, &off, &len, &err), STS_HTTP_ERROR);
#undef R
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),       cmocka_unit_test(test_refused), cmocka_unit_test(test_bad_max_age_refused),
		cmocka_unit_test(test_timeout),    cmocka_unit_test(test_http_parser),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

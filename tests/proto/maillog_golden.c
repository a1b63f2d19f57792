/*
 * Golden-file test of the maillog parser (smtp-hook/maillog.c), in the
 * manner of Postfix's own *.in / *.ref tests: every line of NAME.in is
 * parsed and described on one line of output; the output must equal
 * NAME.ref byte for byte.
 *   maillog_golden NAME.in NAME.ref      compare (the ctest test)
 *   maillog_golden NAME.in               print the description
 * Lines of NAME.in starting with '#' are comments and are not parsed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maillog.h"

#define OUT_MAX (1u << 20)

static char out[OUT_MAX];
static size_t out_len;

static void put(const char *key, const char *v)
{
	if (!v[0])
		return;
	int n = snprintf(out + out_len, OUT_MAX - out_len, " %s=%s", key, v);
	if (n > 0 && (size_t)n < OUT_MAX - out_len)
		out_len += (size_t)n;
}

static void putn(const char *key, int64_t v)
{
	char b[32];
	snprintf(b, sizeof b, "%lld", (long long)v);
	put(key, b);
}

static void describe(unsigned lineno, const char *line, size_t len)
{
	maillog_rec r;
	int rc = maillog_parse(&r, line, len);
	int n = snprintf(out + out_len, OUT_MAX - out_len, "%u %s", lineno,
	                 rc == ML_REC ? maillog_kind_name(r.kind) : rc == ML_SKIP ? "skip" : "error");
	if (n > 0 && (size_t)n < OUT_MAX - out_len)
		out_len += (size_t)n;
	if (rc < 0)
		put("why", maillog_strerror(rc));
	if (rc == ML_REC) {
		int64_t t;
		if (maillog_time_unix(&t, &r.time, 1796170000 /* 2026-12-02 */, 0) == 0)
			putn("time", t);
		putn("pid", r.pid);
		put("syslog_name", r.syslog_name);
		put("program", r.program);
		put("qid", r.qid);
		if (r.kind == ML_QMGR_FROM || r.kind == ML_QMGR_EXPIRED || r.kind == ML_DELIVERY)
			put("addr", r.addr[0] ? r.addr : "<>");
		put("orig_to", r.orig_to);
		put("host", r.host);
		put("sasl_method", r.sasl_method);
		put("sasl_username", r.sasl_username);
		put("dsn", r.dsn);
		if (r.status)
			put("status", maillog_status_name(r.status));
		if (r.kind == ML_TLS_ESTABLISHED)
			put("trust", maillog_trust_name(r.trust));
		put("protocol", r.protocol);
		put("cipher", r.cipher);
		if (r.size >= 0)
			putn("size", r.size);
		if (r.nrcpt >= 0)
			putn("nrcpt", r.nrcpt);
		if (r.tls_refusal)
			put("tls_refusal", "yes");
		put("text", r.text);
	}
	if (out_len < OUT_MAX - 1)
		out[out_len++] = '\n';
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return NULL;
	}
	char *buf = malloc(OUT_MAX);
	size_t n = buf ? fread(buf, 1, OUT_MAX, f) : 0;
	fclose(f);
	*len = n;
	return buf;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s NAME.in [NAME.ref]\n", argv[0]);
		return 64;
	}
	size_t len;
	char *in = slurp(argv[1], &len);
	if (!in)
		return 1;
	unsigned lineno = 0;
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(in + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (in + i)) : len - i;
		lineno++;
		if (n > 0 && in[i] != '#')
			describe(lineno, in + i, n);
		i += n + 1;
	}
	free(in);
	if (argc == 2) {
		fwrite(out, 1, out_len, stdout);
		return 0;
	}
	size_t rlen;
	char *ref = slurp(argv[2], &rlen);
	if (!ref)
		return 1;
	int rc = 0;
	if (rlen != out_len || memcmp(ref, out, out_len) != 0) {
		size_t i = 0;
		while (i < rlen && i < out_len && ref[i] == out[i])
			i++;
		size_t ls = i;
		while (ls > 0 && out[ls - 1] != '\n')
			ls--;
		const char *e = memchr(out + ls, '\n', out_len - ls);
		fprintf(stderr, "%s: differs from %s at byte %zu; got:\n%.*s\n", argv[1], argv[2], i,
		        (int)((e ? e : out + out_len) - (out + ls)), out + ls);
		rc = 1;
	}
	free(ref);
	return rc;
}

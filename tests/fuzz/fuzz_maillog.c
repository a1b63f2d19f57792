/*
 * Fuzz target of the Postfix log-line parser (smtp-hook/maillog.c): any
 * bytes, split into lines as the follower splits them, must parse to a
 * record, a skip or an error without reading out of bounds, and every
 * record's strings must be terminated within their buffers.
 */
#include <stdint.h>
#include <string.h>

#include "maillog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_str(const char *s, size_t cap)
{
	if (memchr(s, '\0', cap) == NULL)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		maillog_rec r;
		int rc = maillog_parse(&r, p, n);
		if (rc == ML_REC) {
			check_str(r.qid, sizeof r.qid);
			check_str(r.addr, sizeof r.addr);
			check_str(r.host, sizeof r.host);
			check_str(r.text, sizeof r.text);
			check_str(r.cipher, sizeof r.cipher);
			if (r.kind == ML_NONE)
				__builtin_trap();
			int64_t t;
			(void)maillog_time_unix(&t, &r.time, 1796170000, 60);
			(void)maillog_is_tls_refusal(r.dsn, r.text);
		} else if (rc != ML_SKIP && rc != ML_ETOOLONG && rc != ML_EMALFORMED) {
			__builtin_trap();
		}
		p += n;
	}
	return 0;
}

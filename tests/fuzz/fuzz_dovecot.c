/* Fuzz target: the Dovecot auth protocol parser, driven as the daemon
 * drives it (requests back to back in one buffer), plus the decoders a
 * request's data goes through (base64, then PLAIN or LOGIN). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "proto_dovecot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static dv_request q;
	const char *buf = (const char *)data, *err;
	size_t off = 0;

	while (off < size) {
		size_t used = 0;
		proto_status st = dv_parse(&q, buf + off, size - off, &used, &err);
		unsigned char raw[DV_DATA_MAX];
		char u[DV_CRED_MAX + 1], p[DV_CRED_MAX + 1], enc[DV_DATA_MAX + 8];
		long n;

		if (st == PROTO_NEED_MORE)
			break;
		if (used == 0 || used > size - off)
			__builtin_trap(); /* the parser must always make progress */
		off += used;
		if (st == PROTO_ERROR) {
			if (err == NULL)
				__builtin_trap();
			break;
		}
		if (q.data_len != strlen(q.data) && memchr(q.data, '\0', q.data_len) == NULL)
			__builtin_trap();
		n = dv_b64_decode(raw, sizeof(raw), q.data, q.data_len);
		if (n >= 0) {
			(void)dv_plain(u, p, raw, (size_t)n);
			(void)dv_login_field(u, raw, (size_t)n);
			/* What decodes re-encodes to the same text. */
			if (n <= 3000 && (dv_b64_encode(enc, sizeof(enc), raw, (size_t)n) < 0 ||
			                  strlen(enc) != q.data_len || memcmp(enc, q.data, q.data_len) != 0))
				__builtin_trap();
		}
	}
	return 0;
}

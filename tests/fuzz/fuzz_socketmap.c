/* Fuzz target: the socketmap netstring parser and the reply encoder. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "proto_socketmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static sm_request q;
	static char out[SM_REQUEST_MAX + 16];
	const char *buf = (const char *)data, *err;
	size_t off = 0;

	while (off < size) {
		size_t used = 0;
		proto_status st = sm_parse(&q, buf + off, size - off, &used, &err);
		long n;

		if (st == PROTO_NEED_MORE)
			break;
		if (used == 0 || used > size - off)
			__builtin_trap();
		off += used;
		if (st == PROTO_ERROR) {
			if (err == NULL)
				__builtin_trap();
			break;
		}
		if (q.key_len == 0 || strlen(q.key) != q.key_len || q.name[0] == '\0')
			__builtin_trap();
		/* Echoing a key back is either refused or a well-formed netstring. */
		n = sm_reply(out, sizeof(out), "OK", q.key);
		if (n >= 0) {
			sm_request back;
			size_t bused;
			if (sm_parse(&back, out, (size_t)n, &bused, &err) != PROTO_REQUEST || bused != (size_t)n ||
			    strcmp(back.name, "OK") != 0 || strcmp(back.key, q.key) != 0)
				__builtin_trap();
		}
	}
	return 0;
}

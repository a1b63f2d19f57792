/* Fuzz target: the policy delegation parser, requests back to back. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "proto_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data, *err;
	size_t off = 0;
	pol_request q;

	while (off < size) {
		size_t used = 0;
		proto_status st = pol_parse(&q, buf + off, size - off, &used, &err);

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
		/* What we keep is NUL-terminated within its buffer. */
		if (strlen(q.sasl_username) >= sizeof(q.sasl_username) || strlen(q.instance) >= sizeof(q.instance) ||
		    q.nattrs < 1 || q.nattrs > POL_ATTRS_MAX)
			__builtin_trap();
	}
	return 0;
}

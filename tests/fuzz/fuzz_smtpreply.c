/* Fuzz target: the SMTP reply parser of the TLS probe (cli/smtpreply.c). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "smtpreply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data, *why;
	size_t off = 0;

	/* replies one after the other, as the probe reads them */
	while (off <= size) {
		smtp_reply r;
		smtp_reply_status s = smtp_reply_parse(&r, buf + off, size - off, &why);
		if (s == SMTP_REPLY_BAD && why == NULL)
			__builtin_trap();
		if (s != SMTP_REPLY_DONE)
			break;
		if (r.used == 0 || r.used > size - off || r.code < 200 || r.code > 599 || r.lines == 0 ||
		    r.lines > SMTP_REPLY_LINES || strlen(r.text) >= SMTP_TEXT_MAX)
			__builtin_trap();
		off += r.used;
	}
	return 0;
}

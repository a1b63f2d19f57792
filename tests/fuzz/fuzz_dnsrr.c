/* Fuzz target: the TXT and MX rdata decoders of smtp-hook/dns.c. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dns.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char txt[4097], name[DNS_NAME_MAX + 1];
	int pref;
	long n = dns_txt_join(txt, sizeof(txt), data, size);

	if (n >= 0 && (strlen(txt) != (size_t)n || (size_t)n > size))
		__builtin_trap();
	if (dns_mx_parse(&pref, name, data, size) == 0) {
		size_t l = strlen(name);
		if (l > DNS_NAME_MAX || pref < 0 || pref > 65535 || (l > 0 && (name[0] == '.' || name[l - 1] == '.')))
			__builtin_trap();
	}
	return 0;
}

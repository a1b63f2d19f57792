/* Fuzz target: the DNS decoders of smtp-hook/dns.c: the TXT and MX
 * rdata decoders, and the answer section of a whole DNS message
 * (dns_wire_answer, the event mode's reading of libunbound's answers). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dns.h"
#include "fuzz.h"

static void wire(const uint8_t *data, size_t size, int type)
{
	static dns_wire w;
	char name[DNS_NAME_MAX + 1];
	int pref;

	if (dns_wire_answer(&w, data, size, type) != 0)
		return;
	if (w.n > DNS_WIRE_RR_MAX || w.rcode < 0 || w.rcode > 15)
		__builtin_trap();
	for (size_t i = 0; i < w.n; i++) {
		const uint8_t *p = w.data[i];
		size_t l = (size_t)w.len[i];
		int in_msg = p >= data && p + l <= data + size;
		const uint8_t *mx0 = (const uint8_t *)w.mx, *mx1 = mx0 + sizeof(w.mx);
		int in_mx = p >= mx0 && p + l <= mx1;
		if (w.len[i] < 0 || !(in_msg || in_mx) || (type == DNS_RR_MX) != in_mx)
			__builtin_trap();
		if (type == DNS_RR_MX && (l < 3 || l > 2 + 255))
			__builtin_trap();
		(void)dns_mx_parse(&pref, name, p, l);
	}
}

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
	wire(data, size, DNS_RR_MX);
	wire(data, size, DNS_RR_A);
	wire(data, size, DNS_RR_TXT);
	return 0;
}

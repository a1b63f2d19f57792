/*
 * IP networks (see ipnet.h).  inet_pton does the address syntax (it
 * refuses IPv4 leading zeros and short forms such as "10.1"); the rest
 * — prefix digits, host bits, IPv4-mapped IPv6 — is checked here, and
 * every refusal says what would have been accepted.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "ipnet.h"

#define ERR(...)                                        \
	do {                                            \
		if (err)                                \
			snprintf(err, errlen, __VA_ARGS__); \
		return -1;                              \
	} while (0)

#define EXPECTED "expected e.g. 192.0.2.0/24 or 2001:db8::/32"

static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Parse the address part (no '/'); on success *out has family and addr. */
static int parse_address(ipnet *out, const char *s, const char *whole, char *err, size_t errlen)
{
	unsigned char buf[16];

	memset(out, 0, sizeof(*out));
	if (strchr(s, '%'))
		ERR("'%s': zone indexes ('%%eth0') are not accepted; %s", whole, EXPECTED);
	if (inet_pton(AF_INET, s, buf) == 1) {
		out->family = 4;
		memcpy(out->addr, buf, 4);
		out->prefix = 32;
		return 0;
	}
	if (inet_pton(AF_INET6, s, buf) == 1) {
		if (memcmp(buf, v4mapped, sizeof(v4mapped)) == 0) {
			out->family = 4;
			memcpy(out->addr, buf + 12, 4);
			out->prefix = 32;
			return 1; /* mapped */
		}
		out->family = 6;
		memcpy(out->addr, buf, 16);
		out->prefix = 128;
		return 0;
	}
	ERR("'%s' is not an IPv4 or IPv6 address; %s", whole, EXPECTED);
}

static int check_input(const char *text, char *err, size_t errlen)
{
	size_t n;

	if (text == NULL || *text == '\0')
		ERR("an address is required; %s", EXPECTED);
	n = strnlen(text, IPNET_INPUT_MAX + 1);
	if (n > IPNET_INPUT_MAX)
		ERR("the address is longer than %d characters; %s", IPNET_INPUT_MAX, EXPECTED);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)text[i] <= ' ' || (unsigned char)text[i] >= 0x7f)
			ERR("'%.*s' contains white space or a control character; %s", 64, text, EXPECTED);
	return 0;
}

int ipnet_parse_addr(ipnet *out, const char *text, char *err, size_t errlen)
{
	if (check_input(text, err, errlen) != 0)
		return -1;
	if (strchr(text, '/'))
		ERR("'%s' is a network, not an address", text);
	return parse_address(out, text, text, err, errlen) < 0 ? -1 : 0;
}

static void mask_host_bits(ipnet *n)
{
	size_t len = n->family == 4 ? 4 : 16;

	for (size_t i = 0; i < len; i++) {
		unsigned int bit = (unsigned int)i * 8;

		if (bit >= n->prefix)
			n->addr[i] = 0;
		else if (bit + 8 > n->prefix)
			n->addr[i] &= (unsigned char)(0xff << (8 - (n->prefix - bit)));
	}
}

int ipnet_parse_cidr(ipnet *out, const char *text, char *err, size_t errlen)
{
	char addr[IPNET_INPUT_MAX + 1], canon[IPNET_TEXT_MAX];
	const char *slash;
	unsigned int prefix = 0, max;
	size_t alen, plen;
	int mapped;
	ipnet masked;

	if (check_input(text, err, errlen) != 0)
		return -1;
	slash = strchr(text, '/');
	alen = slash ? (size_t)(slash - text) : strlen(text);
	memcpy(addr, text, alen);
	addr[alen] = '\0';
	if ((mapped = parse_address(out, addr, text, err, errlen)) < 0)
		return -1;
	if (slash == NULL)
		return 0;

	plen = strlen(slash + 1);
	if (plen == 0 || plen > 3 || (plen > 1 && slash[1] == '0'))
		ERR("'%s' has a bad prefix length; write it as /0 to /32 (IPv4) or /0 to /128 (IPv6)", text);
	for (size_t i = 1; i <= plen; i++) {
		if (slash[i] < '0' || slash[i] > '9')
			ERR("'%s' has a bad prefix length; write it as /0 to /32 (IPv4) or /0 to /128 (IPv6)", text);
		prefix = prefix * 10 + (unsigned int)(slash[i] - '0');
	}
	max = (mapped || out->family == 6) ? 128 : 32;
	if (prefix > max)
		ERR("prefix length %u is out of range for %s (0-%u)", prefix, max == 32 ? "IPv4" : "IPv6", max);
	if (mapped) {
		if (prefix < 96)
			ERR("'%s': an IPv4-mapped network needs a prefix of at least /96", text);
		prefix -= 96;
	}
	out->prefix = prefix;
	masked = *out;
	mask_host_bits(&masked);
	if (memcmp(masked.addr, out->addr, sizeof(out->addr)) != 0) {
		ipnet_format(canon, sizeof(canon), &masked);
		ERR("'%s' has host bits set; did you mean %s?", text, canon);
	}
	return 0;
}

int ipnet_format(char *buf, size_t buflen, const ipnet *net)
{
	char a[INET6_ADDRSTRLEN];
	int w;

	if (inet_ntop(net->family == 4 ? AF_INET : AF_INET6, net->addr, a, sizeof(a)) == NULL)
		return -1;
	w = snprintf(buf, buflen, "%s/%u", a, net->prefix);
	return w < 0 || (size_t)w >= buflen ? -1 : 0;
}

int ipnet_contains(const ipnet *net, const ipnet *addr)
{
	unsigned int full, rest;

	if (net->family != addr->family)
		return 0;
	full = net->prefix / 8;
	rest = net->prefix % 8;
	if (memcmp(net->addr, addr->addr, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((net->addr[full] ^ addr->addr[full]) & (unsigned char)(0xff << (8 - rest))) == 0;
}

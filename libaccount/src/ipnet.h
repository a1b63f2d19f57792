/*
 * IP networks for allowlists: strict parsing of addresses and CIDR
 * blocks, canonical text, and containment.  IPv4-mapped IPv6
 * (::ffff:a.b.c.d) is turned into IPv4, so a client seen on an IPv6
 * socket matches the IPv4 entries an administrator wrote.
 */
#ifndef ACCT_IPNET_H
#define ACCT_IPNET_H

#include <stddef.h>

typedef struct ipnet {
	int family;             /* 4 or 6 */
	unsigned char addr[16]; /* network byte order; IPv4 uses the first 4 bytes */
	unsigned int prefix;    /* 0..32 or 0..128 */
} ipnet;

#define IPNET_TEXT_MAX 64
#define IPNET_INPUT_MAX 128

int ipnet_parse_addr(ipnet *out, const char *text, char *err, size_t errlen);
int ipnet_parse_cidr(ipnet *out, const char *text, char *err, size_t errlen);
int ipnet_format(char *buf, size_t buflen, const ipnet *net);
int ipnet_contains(const ipnet *net, const ipnet *addr);

#endif

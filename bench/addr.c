/*
 * Loopback-only addresses for the bench programs (see addr.h).
 */
#include "addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

static int fail(char *err, size_t errlen, const char *what, const char *text)
{
	snprintf(err, errlen, "'%s': %s", text, what);
	return -1;
}

int bench_addr_parse(bench_addr *out, const char *text, int allow_port0, char *err, size_t errlen)
{
	const char *a = text, *colon, *p;
	char host[64];
	size_t hl;
	unsigned long port = 0;

	memset(out, 0, sizeof(*out));
	if (strncmp(a, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)&out->sa;
		const char *path = a + 5;

		if (path[0] != '/' || strlen(path) >= sizeof(un->sun_path))
			return fail(err, errlen, "a unix socket needs an absolute path shorter than 108 bytes", text);
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, path, strlen(path) + 1);
		out->len = (socklen_t)sizeof(*un);
		return 0;
	}
	if (strncmp(a, "inet:", 5) == 0)
		a += 5;
	if (a[0] == '[') {
		const char *close = strchr(a, ']');

		if (close == NULL || close[1] != ':')
			return fail(err, errlen, "expected [::1]:PORT", text);
		hl = (size_t)(close - a - 1);
		p = a + 1;
		colon = close + 1;
	} else {
		if ((colon = strrchr(a, ':')) == NULL)
			return fail(err, errlen, "expected 127.0.0.1:PORT, [::1]:PORT or unix:/path", text);
		hl = (size_t)(colon - a);
		p = a;
	}
	if (hl == 0 || hl >= sizeof(host))
		return fail(err, errlen, "expected 127.0.0.1:PORT, [::1]:PORT or unix:/path", text);
	memcpy(host, p, hl);
	host[hl] = '\0';
	if (colon[1] == '\0')
		return fail(err, errlen, "the port is missing", text);
	for (p = colon + 1; *p; p++) {
		if (*p < '0' || *p > '9' || port > 65535)
			return fail(err, errlen, "the port must be a number 1..65535", text);
		port = port * 10 + (unsigned long)(*p - '0');
	}
	if (port > 65535 || (port == 0 && !allow_port0))
		return fail(err, errlen, "the port must be a number 1..65535", text);
	if (strcmp(host, "localhost") == 0)
		memcpy(host, "127.0.0.1", 10);
	{
		struct sockaddr_in *in = (struct sockaddr_in *)&out->sa;
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->sa;

		if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
			if ((ntohl(in->sin_addr.s_addr) >> 24) != 127)
				return fail(err, errlen, "refused: only loopback addresses (127.0.0.0/8, ::1) are allowed",
				            text);
			in->sin_family = AF_INET;
			in->sin_port = htons((uint16_t)port);
			out->len = (socklen_t)sizeof(*in);
		} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
			if (!IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
				return fail(err, errlen, "refused: only loopback addresses (127.0.0.0/8, ::1) are allowed",
				            text);
			in6->sin6_family = AF_INET6;
			in6->sin6_port = htons((uint16_t)port);
			out->len = (socklen_t)sizeof(*in6);
		} else {
			return fail(err, errlen, "not an IP literal (names are not resolved; use 127.0.0.1 or ::1)", text);
		}
	}
	return 0;
}

void bench_addr_format(const bench_addr *a, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (a->sa.ss_family == AF_UNIX) {
		snprintf(buf, len, "unix:%s", ((const struct sockaddr_un *)&a->sa)->sun_path);
	} else if (a->sa.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&a->sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, (unsigned)ntohs(in->sin_port));
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, (unsigned)ntohs(in6->sin6_port));
	}
}

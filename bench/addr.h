/*
 * Loopback-only socket addresses for the bench programs:
 * 127.0.0.1:PORT (any of 127.0.0.0/8), [::1]:PORT, localhost:PORT, or
 * unix:/absolute/path.  Names are never resolved and every other
 * address is refused, so no bench traffic can leave the machine.
 */
#ifndef BENCH_ADDR_H
#define BENCH_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

typedef struct bench_addr {
	struct sockaddr_storage sa;
	socklen_t len;
} bench_addr;

/* 0, or -1 with a message in err.  allow_port0: a listener may ask the
 * kernel for a free port. */
int bench_addr_parse(bench_addr *out, const char *text, int allow_port0, char *err, size_t errlen);

/* "127.0.0.1:31001", "[::1]:31001" or "unix:/path" of a bound socket. */
void bench_addr_format(const bench_addr *a, char *buf, size_t len);

#endif

/*
 * dnscpu: the CPU one DNS query costs the client through smtp-hook/dns.c,
 * in its two modes: libunbound in its own thread (dns_open: the daemon)
 * and inside the caller's libevent base (dns_open_event: `postern tls
 * survey`), for docs/performance.md (bench/survey_bench.sh runs it).
 *
 *   dnscpu ADDR@PORT ZONE COUNT CONCURRENCY
 *
 * Each mode, in a context of its own (nothing cached), asks the TXT
 * records of _mta-sts.dK.ZONE for K = 0..COUNT-1, CONCURRENCY at a time,
 * and prints "MODE queries seconds queries/s cpu_us_per_query": the
 * process's CPU (every thread's, getrusage) over the queries.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/resource.h>

#include <event2/event.h>

#include "dns.h"
#include "num.h"

static unsigned long inflight, done;

static void on_answer(void *arg, const dns_result *r)
{
	(void)arg;
	(void)r;
	inflight--;
	done++;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

static int run(const char *mode, const char *fwd, const char *zone, unsigned long n, unsigned long conc)
{
	dns_conf dc = {fwd, NULL, NULL};
	struct event_base *eb = NULL;
	dns_ctx *d;
	char err[256];
	unsigned long next = 0;
	int64_t t0;
	double c0;

	if (strcmp(mode, "event") == 0) {
		if ((eb = event_base_new()) == NULL || dns_open_event(&d, &dc, eb, err, sizeof(err)) != 0) {
			fprintf(stderr, "dnscpu: %s\n", eb ? err : "no event base");
			return 1;
		}
	} else if (dns_open(&d, &dc, err, sizeof(err)) != 0) {
		fprintf(stderr, "dnscpu: %s\n", err);
		return 1;
	}
	inflight = done = 0;
	c0 = cpu_s();
	t0 = dns_now_ms();
	while (done < n) {
		while (inflight < conc && next < n) {
			char name[DNS_NAME_MAX + 1];
			snprintf(name, sizeof(name), "_mta-sts.d%lu.%s", next++, zone);
			if (dns_resolve(d, name, DNS_RR_TXT, dns_now_ms() + 5000, on_answer, NULL) != 0) {
				fprintf(stderr, "dnscpu: cannot start a query\n");
				return 1;
			}
			inflight++;
		}
		(void)dns_expire(d, dns_now_ms());
		if (eb) {
			event_base_loop(eb, EVLOOP_ONCE);
		} else {
			struct pollfd p = {.fd = dns_fd(d), .events = POLLIN};
			if (poll(&p, 1, 100) > 0)
				dns_process(d);
		}
	}
	{
		double s = (double)(dns_now_ms() - t0) / 1000.0, c = cpu_s() - c0;
		printf("%s %lu %.3f %.0f %.1f\n", mode, n, s, (double)n / s, c / (double)n * 1e6);
	}
	dns_close(d);
	if (eb)
		event_base_free(eb);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long n, conc;

	if (argc != 5 || parse_ulong(argv[3], 1, 10000000, &n) != 0 || parse_ulong(argv[4], 1, 10000, &conc) != 0) {
		fprintf(stderr, "usage: dnscpu ADDR@PORT ZONE COUNT CONCURRENCY\n");
		return 64;
	}
	return run("threaded", argv[1], argv[2], n, conc) || run("event", argv[1], argv[2], n, conc);
}

/*
 * dnsrtt: the DNS round trip as postern-hookd sees it, for the cache-miss
 * figure of the TLS-policy benchmark (bench/sts_bench.sh): the same
 * client code (smtp-hook/dns.c, libunbound, DNSSEC validation against the
 * same trust anchor), one query at a time.
 *
 *   dnsrtt -f ADDR[@PORT] [-a TRUST_ANCHOR_FILE] [-T TYPE] -k NAMES [-w NAME]
 *
 * Resolves every name of the file NAMES (one a line) once, in order, as
 * TYPE (TXT by default, or MX), after one warm-up query for -w NAME (so
 * the zone's keys are in libunbound's cache, as they are in a running
 * daemon), and prints one line: queries= p50_us= p99_us= max_us= and the
 * count of each status (NXDOMAIN, NODATA, OK, ...).  The names should be
 * fresh: each one costs a round trip to the server only if nobody asked
 * for it before.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"

#define MAX_NAMES 100000
#define MAX_STATUS 8

static struct {
	int done;
	dns_status status;
} Q;

static void on_answer(void *arg, const dns_result *r)
{
	(void)arg;
	Q.done = 1;
	Q.status = r->status;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* One query, waited for; its status. */
static dns_status ask(dns_ctx *d, const char *name, int type)
{
	Q.done = 0;
	if (dns_resolve(d, name, type, dns_now_ms() + 5000, on_answer, NULL) != 0)
		return DNS_TEMPFAIL;
	dns_wait(d);
	return Q.done ? Q.status : DNS_TEMPFAIL;
}

static void usage(void)
{
	fprintf(stderr, "usage: dnsrtt -f ADDR[@PORT] [-a TRUST_ANCHOR_FILE] [-T TXT|MX] -k NAMES [-w NAME]\n");
	exit(64);
}

int main(int argc, char **argv)
{
	dns_conf conf = {NULL, NULL, NULL};
	const char *names = NULL, *warm = NULL;
	char err[256], line[DNS_NAME_MAX + 2];
	unsigned long counts[MAX_STATUS] = {0}, n = 0;
	uint64_t *lat;
	int type = DNS_RR_TXT, opt;
	dns_ctx *d;
	FILE *f;

	while ((opt = getopt(argc, argv, "f:a:T:k:w:")) != -1) {
		switch (opt) {
		case 'f': conf.forward = optarg; break;
		case 'a': conf.trust_anchor_file = optarg; break;
		case 'T':
			if (strcmp(optarg, "TXT") == 0)
				type = DNS_RR_TXT;
			else if (strcmp(optarg, "MX") == 0)
				type = DNS_RR_MX;
			else
				usage();
			break;
		case 'k': names = optarg; break;
		case 'w': warm = optarg; break;
		default: usage();
		}
	}
	if (optind != argc || conf.forward == NULL || names == NULL)
		usage();
	if ((f = fopen(names, "r")) == NULL) {
		perror(names);
		return 66;
	}
	if ((lat = malloc(MAX_NAMES * sizeof(*lat))) == NULL)
		return 71;
	if (dns_open(&d, &conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "dnsrtt: %s\n", err);
		return 69;
	}
	if (warm != NULL)
		(void)ask(d, warm, DNS_RR_MX);
	while (fgets(line, sizeof(line), f) != NULL && n < MAX_NAMES) {
		size_t len = strcspn(line, "\n");
		uint64_t t;
		dns_status s;

		line[len] = '\0';
		if (len == 0)
			continue;
		t = now_ns();
		s = ask(d, line, type);
		lat[n++] = now_ns() - t;
		counts[(unsigned)s < MAX_STATUS ? (unsigned)s : MAX_STATUS - 1]++;
	}
	fclose(f);
	dns_close(d);
	if (n == 0) {
		fprintf(stderr, "dnsrtt: %s: no names\n", names);
		return 65;
	}
	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("queries=%lu p50_us=%.1f p99_us=%.1f max_us=%.1f status=", n, (double)lat[(n - 1) / 2] / 1e3,
	       (double)lat[(n * 99 + 99) / 100 - 1] / 1e3, (double)lat[n - 1] / 1e3);
	for (int i = 0, first = 1; i < MAX_STATUS; i++)
		if (counts[i]) {
			printf("%s%s:%lu", first ? "" : ",", dns_status_name((dns_status)i), counts[i]);
			first = 0;
		}
	printf("\n");
	free(lat);
	return 0;
}

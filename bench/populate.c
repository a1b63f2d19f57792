/*
 * populate: fills a fresh Postern database for the benchmarks through
 * libaccount's public API only (postern/account.h), one transaction
 * per acct_* call as the API works, and writes the keys it made to a
 * credential file for the load generator.
 *
 *   populate -d DATABASE -a ACCOUNTS [-k KEYS] [-i EVERY] -o KEYFILE
 *
 * Accounts are named acct000001, acct000002, ...; each gets KEYS API
 * keys (default 1) with the mail.send scope; every EVERY-th account
 * (default 2; 0 = none) gets an IP allowlist of one /24 inside
 * 127.0.0.0/8.  KEYFILE (created 0600: it holds the keys) gets one line
 * per key in loadgen's format:
 *     apikey <tab> KEY <tab> ACCOUNT <tab> CLIENT_ADDRESS
 * with an address the account's allowlist admits, so that every AUTH
 * and every policy request of a run should be allowed.  The database
 * must not exist yet; on any failure both files are removed.  Progress
 * and the time taken go to stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "postern/account.h"
#include "num.h"

#define MAX_ACCOUNTS 1000000UL
#define MAX_KEYS 100UL

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: populate -d DATABASE -a ACCOUNTS [-k KEYS] [-i EVERY] -o KEYFILE\n"
	                "  -a ACCOUNTS  1..%lu accounts\n"
	                "  -k KEYS      API keys per account, 1..%lu (default 1)\n"
	                "  -i EVERY     every EVERY-th account gets an IP allowlist (default 2, 0 = none)\n",
	        MAX_ACCOUNTS, MAX_KEYS);
	exit(64);
}

static int fail(acct_db *db, const char *what, int r)
{
	fprintf(stderr, "populate: %s: %s (%s)\n", what, acct_errmsg(db), acct_strerror(r));
	return 1;
}

int main(int argc, char **argv)
{
	const char *dbpath = NULL, *keypath = NULL;
	unsigned long naccounts = 0, nkeys = 1, every = 2, a, k, done = 0, nips = 0;
	double t0, t_acct = 0, t_key = 0, t_ip = 0, t;
	acct_db *db = NULL;
	FILE *out;
	int fd, opt, r, status = 1;

	while ((opt = getopt(argc, argv, "d:a:k:i:o:")) != -1) {
		switch (opt) {
		case 'd': dbpath = optarg; break;
		case 'o': keypath = optarg; break;
		case 'a':
			if (parse_ulong(optarg, 1, MAX_ACCOUNTS, &naccounts) != 0)
				usage();
			break;
		case 'k':
			if (parse_ulong(optarg, 1, MAX_KEYS, &nkeys) != 0)
				usage();
			break;
		case 'i':
			if (parse_ulong(optarg, 0, MAX_ACCOUNTS, &every) != 0)
				usage();
			break;
		default: usage();
		}
	}
	if (optind != argc || dbpath == NULL || keypath == NULL || naccounts == 0)
		usage();
	if (access(dbpath, F_OK) == 0) {
		fprintf(stderr, "populate: %s exists; give the path of a new database\n", dbpath);
		return 1;
	}
	if ((fd = open(keypath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0 ||
	    fchmod(fd, 0600) != 0 || (out = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "populate: %s: %s\n", keypath, strerror(errno));
		return 1;
	}
	if ((r = acct_open(&db, dbpath, NULL)) != ACCT_OK) {
		fail(db, dbpath, r);
		goto out;
	}
	(void)acct_set_actor(db, "bench:populate");
	t0 = now_s();
	for (a = 1; a <= naccounts; a++) {
		char name[ACCT_NAME_MAX + 1], cidr[32], addr[32];
		int allow = every != 0 && a % every == 0;

		snprintf(name, sizeof(name), "acct%06lu", a);
		t = now_s();
		if ((r = acct_account_add(db, name, NULL)) != ACCT_OK) {
			fail(db, "acct_account_add", r);
			goto out;
		}
		t_acct += now_s() - t;
		if (allow) {
			snprintf(cidr, sizeof(cidr), "127.%lu.%lu.0/24", (a >> 8) & 255, a & 255);
			t = now_s();
			if ((r = acct_ip_add(db, name, cidr, "bench")) != ACCT_OK) {
				fail(db, "acct_ip_add", r);
				goto out;
			}
			t_ip += now_s() - t;
			nips++;
		}
		for (k = 0; k < nkeys; k++) {
			char key[ACCT_KEY_MAX + 1], kname[32];

			snprintf(kname, sizeof(kname), "bench-%lu", k);
			t = now_s();
			if ((r = acct_apikey_add(NULL, key, db, name, kname, ACCT_SCOPE_MAIL_SEND, 0)) != ACCT_OK) {
				fail(db, "acct_apikey_add", r);
				goto out;
			}
			t_key += now_s() - t;
			if (allow)
				snprintf(addr, sizeof(addr), "127.%lu.%lu.%lu", (a >> 8) & 255, a & 255, 1 + k % 250);
			else
				snprintf(addr, sizeof(addr), "127.0.0.1");
			fprintf(out, "apikey\t%s\t%s\t%s\n", key, name, addr);
			acct_wipe(key, sizeof(key));
			done++;
		}
		if (naccounts >= 1000 && a % (naccounts / 10) == 0)
			fprintf(stderr, "populate: %lu accounts, %lu keys, %.1f s\n", a, done, now_s() - t0);
	}
	if (fflush(out) != 0 || fsync(fileno(out)) != 0) {
		fprintf(stderr, "populate: %s: %s\n", keypath, strerror(errno));
		goto out;
	}
	t = now_s() - t0;
	fprintf(stderr,
	        "populate: %lu accounts, %lu keys, %lu allowlists in %.1f s "
	        "(per call: account_add %.0f us, apikey_add %.0f us, ip_add %.0f us)\n",
	        naccounts, done, nips, t, t_acct / (double)naccounts * 1e6, t_key / (double)done * 1e6,
	        nips ? t_ip / (double)nips * 1e6 : 0.0);
	status = 0;
out:
	if (fclose(out) != 0 && status == 0) {
		fprintf(stderr, "populate: %s: %s\n", keypath, strerror(errno));
		status = 1;
	}
	acct_close(db);
	if (status != 0) {
		/* nothing half-made: the database did not exist before, the key file is ours */
		char side[4096];

		(void)unlink(keypath);
		(void)unlink(dbpath);
		snprintf(side, sizeof(side), "%s-wal", dbpath);
		(void)unlink(side);
		snprintf(side, sizeof(side), "%s-shm", dbpath);
		(void)unlink(side);
		fprintf(stderr, "populate: nothing kept\n");
	}
	return status;
}

/*
 * A test helper: run the log follower (smtp-hook/maillog_follow.c) once
 * over a log file into a database, as postern-hookd will, and print its
 * counters.  The shell's events tests fill their database with it from
 * the recorded Postfix log.
 *   maillog_feed DB LOG [NOW]     NOW dates syslog lines (default: the clock)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "maillog_follow.h"

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: %s DB LOG [NOW]\n", argv[0]);
		return 64;
	}
	int64_t now = (int64_t)time(NULL);
	if (argc == 4) {
		char *end;
		errno = 0;
		long long v = strtoll(argv[3], &end, 10);
		if (errno || end == argv[3] || *end || v < 0) {
			fprintf(stderr, "NOW is seconds since 1970, not '%s'\n", argv[3]);
			return 64;
		}
		now = (int64_t)v;
	}
	acct_open_options o = ACCT_OPEN_OPTIONS_INIT;
	acct_db *db = NULL;
	o.actor = "maillog";
	if (acct_open(&db, argv[1], &o) != ACCT_OK) {
		fprintf(stderr, "%s: %s\n", argv[1], acct_errmsg(db));
		acct_close(db);
		return 1;
	}
	mlf *f;
	char err[512];
	if (mlf_open(&f, db, argv[2], NULL, err, sizeof err) != ACCT_OK) {
		fprintf(stderr, "%s\n", err);
		acct_close(db);
		return 1;
	}
	int r = mlf_poll(f, now);
	mlf_stats st;
	mlf_get_stats(f, &st);
	printf("lines=%llu records=%llu events=%llu malformed=%llu lost=%llu\n", (unsigned long long)st.lines,
	       (unsigned long long)st.records, (unsigned long long)st.events, (unsigned long long)st.malformed,
	       (unsigned long long)st.lost);
	if (r != ACCT_OK)
		fprintf(stderr, "%s: %s\n", argv[2], acct_errmsg(db));
	mlf_close(f);
	acct_close(db);
	return r == ACCT_OK ? 0 : 1;
}

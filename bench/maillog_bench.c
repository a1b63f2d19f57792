/*
 * maillog_bench: how fast the delivery-events pipeline goes on a large
 * log made from the Postfix 3.7 log recorded from the e2e instance
 * (tests/proto/maillog-postfix37.in): COPIES copies of it, each with its
 * queue ids made unique, so every copy is a new set of messages.  Three
 * stages, each over the whole file: the parser alone, parser and
 * correlator, the follower into a fresh database (parse, correlate,
 * commit events, messages in flight and position every 2000 lines), and
 * the follower as postern-hookd runs it on a backlog: SLICE lines per
 * poll (each slice committed), with the longest poll, i.e. the longest
 * the daemon's answers wait for it.
 *   maillog_bench RECORDED_LOG COPIES WORKDIR
 * Prints lines/s and events/s per stage.  A benchmark, not a test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "maillog.h"
#include "maillog_follow.h"
#include "maillog_track.h"

#define NOW 1796170000 /* 2026-12-02, the recording's date */
#define MAXQ 256
#define SLICE 500 /* smtp-hook/main.c FOLLOW_SLICE_LINES */

static double secs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	if (b)
		b[n] = '\0';
	*len = (size_t)n;
	return b;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static uint64_t emitted;

static int count_out(const mlt_output *o, void *ctx)
{
	(void)ctx;
	emitted += o->kind == MLT_EVENT;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s RECORDED_LOG COPIES WORKDIR\n", argv[0]);
		return 64;
	}
	char *end;
	long copies = strtol(argv[2], &end, 10);
	if (*end || copies < 1 || copies > 100000) {
		fprintf(stderr, "COPIES is 1 to 100000\n");
		return 64;
	}
	size_t len;
	char *rec = slurp(argv[1], &len);
	if (!rec) {
		perror(argv[1]);
		return 1;
	}
	/* the queue ids of the recording */
	static char qids[MAXQ][ML_QID_MAX + 1];
	size_t nq = 0;
	for (char *p = rec; *p;) {
		char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		maillog_rec r;
		if (maillog_parse(&r, p, n) == ML_REC) {
			const char *cand[2] = {r.qid, r.kind == ML_BOUNCE_NOTICE ? r.text : ""};
			for (int k = 0; k < 2; k++) {
				size_t i;
				if (!cand[k][0])
					continue;
				for (i = 0; i < nq && strcmp(qids[i], cand[k]); i++)
					;
				if (i == nq && nq < MAXQ)
					memcpy(qids[nq++], cand[k], strlen(cand[k]) + 1);
			}
		}
		p += n + (nl ? 1 : 0);
	}
	/* the big log */
	char path[4096], dbpath[4096];
	snprintf(path, sizeof path, "%s/maillog", argv[3]);
	snprintf(dbpath, sizeof dbpath, "%s/bench.db", argv[3]);
	unlink(path);
	unlink(dbpath);
	FILE *out = fopen(path, "w");
	if (!out) {
		perror(path);
		return 1;
	}
	uint64_t lines = 0;
	for (long c = 0; c < copies; c++) {
		char suffix[8];
		snprintf(suffix, sizeof suffix, "%06lX", (unsigned long)c);
		for (char *p = rec; *p;) {
			char *nl = strchr(p, '\n');
			size_t n = nl ? (size_t)(nl - p) : strlen(p);
			if (*p != '#' && n > 0) {
				/* copy the line, each queue id followed by the suffix */
				for (size_t i = 0; i < n;) {
					size_t hit = 0;
					for (size_t q = 0; q < nq; q++) {
						size_t ql = strlen(qids[q]);
						if (i + ql <= n && !memcmp(p + i, qids[q], ql) &&
						    (i + ql == n || p[i + ql] == ':' || p[i + ql] == ' ' || p[i + ql] == '@' ||
						     p[i + ql] == '>')) {
							hit = ql;
							break;
						}
					}
					if (hit) {
						fwrite(p + i, 1, hit, out);
						fputs(suffix, out);
						i += hit;
					} else {
						fputc(p[i++], out);
					}
				}
				fputc('\n', out);
				lines++;
			}
			p += n + (nl ? 1 : 0);
		}
	}
	fclose(out);
	size_t blen;
	char *big = slurp(path, &blen);
	if (!big) {
		perror(path);
		return 1;
	}
	printf("log: %llu lines, %.1f MB, %zu queue ids per copy, %ld copies\n", (unsigned long long)lines,
	       (double)blen / 1e6, nq, copies);

	/* 1: the parser */
	double t0 = secs();
	uint64_t recs = 0;
	for (char *p = big; *p;) {
		char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		maillog_rec r;
		recs += maillog_parse(&r, p, n) == ML_REC;
		p += n + (nl ? 1 : 0);
	}
	double t1 = secs();
	printf("parse:            %10.0f lines/s (%llu records)\n", (double)lines / (t1 - t0),
	       (unsigned long long)recs);

	/* 2: parser and correlator */
	mlt *t = mlt_new(0, count_out, NULL);
	mlt_set_clock(t, NOW, 0);
	t0 = secs();
	for (char *p = big; *p;) {
		char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		maillog_rec r;
		if (maillog_parse(&r, p, n) == ML_REC)
			mlt_feed(t, &r);
		p += n + (nl ? 1 : 0);
	}
	t1 = secs();
	printf("parse+correlate:  %10.0f lines/s %10.0f events/s (%llu events)\n", (double)lines / (t1 - t0),
	       (double)emitted / (t1 - t0), (unsigned long long)emitted);
	mlt_free(t);

	/* 3: the follower into a fresh database */
	acct_open_options o = ACCT_OPEN_OPTIONS_INIT;
	acct_db *db = NULL;
	o.actor = "bench";
	if (acct_open(&db, dbpath, &o) != ACCT_OK) {
		fprintf(stderr, "%s: %s\n", dbpath, acct_errmsg(db));
		return 1;
	}
	mlf *f;
	char err[512];
	if (mlf_open(&f, db, path, NULL, err, sizeof err) != ACCT_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	t0 = secs();
	int r = mlf_poll(f, NOW);
	t1 = secs();
	mlf_stats st;
	mlf_get_stats(f, &st);
	if (r != ACCT_OK) {
		fprintf(stderr, "follower: %s\n", acct_errmsg(db));
		return 1;
	}
	printf("follower (store): %10.0f lines/s %10.0f events/s (%llu events, %llu commits, %llu lost)\n",
	       (double)st.lines / (t1 - t0), (double)st.events / (t1 - t0), (unsigned long long)st.events,
	       (unsigned long long)st.commits, (unsigned long long)st.lost);
	mlf_close(f);
	acct_close(db);

	/* 4: the same in slices, as the daemon reads a backlog */
	snprintf(dbpath, sizeof dbpath, "%s/bench-sliced.db", argv[3]);
	unlink(dbpath);
	if (acct_open(&db, dbpath, &o) != ACCT_OK) {
		fprintf(stderr, "%s: %s\n", dbpath, acct_errmsg(db));
		return 1;
	}
	mlf_options mo = MLF_OPTIONS_INIT;
	mo.max_lines = SLICE;
	if (mlf_open(&f, db, path, &mo, err, sizeof err) != ACCT_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	size_t polls = 0, pcap = lines / SLICE + 16;
	double *took = malloc(pcap * sizeof *took);
	if (!took)
		return 1;
	t0 = secs();
	do {
		double p0 = secs();
		if ((r = mlf_poll(f, NOW)) != ACCT_OK) {
			fprintf(stderr, "follower: %s\n", acct_errmsg(db));
			return 1;
		}
		if (polls < pcap)
			took[polls++] = secs() - p0;
	} while (mlf_more(f));
	t1 = secs();
	qsort(took, polls, sizeof *took, cmp_double);
	mlf_get_stats(f, &st);
	printf("follower, %d-line slices: %6.0f lines/s %10.0f events/s (%llu events, %zu polls of p50 %.1f ms, "
	       "p99 %.1f ms, max %.1f ms)\n",
	       SLICE, (double)st.lines / (t1 - t0), (double)st.events / (t1 - t0), (unsigned long long)st.events, polls,
	       took[polls / 2] * 1e3, took[polls * 99 / 100] * 1e3, took[polls - 1] * 1e3);
	free(took);
	mlf_close(f);
	acct_close(db);
	unlink(dbpath);
	free(big);
	free(rec);
	unlink(path);
	return 0;
}

/*
 * Unit tests of the correlator (smtp-hook/maillog_track.c), fed with the
 * Postfix 3.7 log recorded from the e2e instance (maillog-postfix37.in:
 * opportunistic mail to sinks without TLS, with TLS 1.2 and 1.3, with an
 * untrusted and a verified certificate; enforced, verify and TLS 1.3
 * accounts blocked; one message to five recipients with mixed outcomes)
 * and with hand-written lines for what the recording lacks (expiry,
 * eviction, a restart).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "maillog_track.h"

#define MAX_OUT 256

typedef struct copy_ev {
	mlt_kind kind;
	acct_event_type type;
	char qid[32], account[128], sender[128], rcpt[128], relay[128], reason[600], proto[32], cipher[128],
	    transport[128], msgid[128];
	acct_tls_trust trust;
	int tls_refused, lost, has_sender;
	int64_t time, submitted_at;
} copy_ev;

/* an MLT_TLS output: what a slot holds now */
typedef struct copy_tls {
	int64_t pid, time; /* pid 0 = emptied */
	char host[320], proto[32], cipher[128], verr[600];
	int established;
	acct_tls_trust trust;
} copy_tls;

typedef struct sink {
	copy_ev out[MAX_OUT];
	size_t n;
	copy_tls tls[MLT_PIDS]; /* per slot, the last MLT_TLS output */
	size_t n_tls;           /* MLT_TLS outputs (not in out[]) */
	acct_pending_msg open[MAX_OUT]; /* only counted */
	size_t n_open, n_close;
	int stop_at; /* return 7 at this output number (1-based); 0 = never */
} sink;

static void cp(char *dst, size_t cap, const char *s)
{
	snprintf(dst, cap, "%s", s ? s : "");
}

static int on_out(const mlt_output *o, void *ctx)
{
	sink *s = ctx;
	if (o->kind == MLT_TLS) {
		assert_true(o->slot < MLT_PIDS);
		copy_tls *c = &s->tls[o->slot];
		memset(c, 0, sizeof *c);
		s->n_tls++;
		if (o->tls) {
			assert_true(o->tls->pid > 0 && (uint64_t)o->tls->pid % MLT_PIDS == o->slot);
			c->pid = o->tls->pid;
			c->time = o->tls->time;
			cp(c->host, sizeof c->host, o->tls->host);
			cp(c->proto, sizeof c->proto, o->tls->protocol);
			cp(c->cipher, sizeof c->cipher, o->tls->cipher);
			cp(c->verr, sizeof c->verr, o->tls->verify_error);
			c->established = o->tls->established;
			c->trust = o->tls->tls_trust;
		}
		return 0;
	}
	assert_true(s->n < MAX_OUT);
	copy_ev *c = &s->out[s->n++];
	memset(c, 0, sizeof *c);
	c->kind = o->kind;
	if (o->kind == MLT_EVENT) {
		const acct_event *e = o->event;
		c->type = e->type;
		cp(c->qid, sizeof c->qid, e->queue_id);
		cp(c->account, sizeof c->account, e->account);
		cp(c->sender, sizeof c->sender, e->sender);
		c->has_sender = e->sender != NULL;
		cp(c->rcpt, sizeof c->rcpt, e->recipient);
		cp(c->relay, sizeof c->relay, e->relay);
		cp(c->reason, sizeof c->reason, e->reason);
		cp(c->proto, sizeof c->proto, e->tls_protocol);
		cp(c->cipher, sizeof c->cipher, e->tls_cipher);
		cp(c->transport, sizeof c->transport, e->transport);
		cp(c->msgid, sizeof c->msgid, e->message_id);
		c->trust = e->tls_trust;
		c->tls_refused = e->tls_refused;
		c->time = e->time;
		c->submitted_at = e->submitted_at;
	} else if (o->kind == MLT_EXPIRED) {
		cp(c->qid, sizeof c->qid, o->expiry->queue_id);
		c->time = o->expiry->time;
		c->submitted_at = o->expiry->submitted_at;
	} else {
		cp(c->qid, sizeof c->qid, o->msg->queue_id);
		cp(c->account, sizeof c->account, o->msg->account);
		c->lost = o->lost;
		c->submitted_at = o->msg->submitted_at;
		if (o->kind == MLT_OPEN)
			s->n_open++;
		else
			s->n_close++;
	}
	if (s->stop_at && (int)s->n == s->stop_at)
		return 7;
	return 0;
}

static int feed_line(mlt *t, const char *line)
{
	maillog_rec r;
	int rc = maillog_parse(&r, line, strlen(line));
	if (rc != ML_REC)
		return 0;
	return mlt_feed(t, &r);
}

/* Feed lines [from, to) of a file (1-based line numbers; to 0 = end). */
static void feed_file(mlt *t, const char *name, unsigned from, unsigned to)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", SRC_DIR, name);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[ML_LINE_MAX + 2];
	unsigned n = 0;
	while (fgets(line, sizeof line, f)) {
		n++;
		if (n < from || (to && n >= to))
			continue;
		assert_int_equal(feed_line(t, line), 0);
	}
	fclose(f);
}

static const copy_ev *find_ev(const sink *s, const char *rcpt, acct_event_type type, int nth)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->out[i].kind == MLT_EVENT && strcmp(s->out[i].rcpt, rcpt) == 0 && s->out[i].type == type &&
		    nth-- == 0)
			return &s->out[i];
	return NULL;
}

/* the event, which must exist */
static const copy_ev *get_ev(const sink *s, const char *rcpt, acct_event_type type, int nth)
{
	const copy_ev *e = find_ev(s, rcpt, type, nth);
	if (!e) {
		fail_msg("no event %d for %s", (int)type, rcpt);
		abort();
	}
	return e;
}

static size_t count_kind(const sink *s, mlt_kind k)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++)
		n += s->out[i].kind == k;
	return n;
}

static mlt *new_tracker(sink *s, size_t cap)
{
	memset(s, 0, sizeof *s);
	mlt *t = mlt_new(cap, on_out, s);
	assert_non_null(t);
	mlt_set_clock(t, 1796170000, 0); /* 2026-12-02, the recording's date */
	return t;
}

static void test_recorded_log(void **state)
{
	(void)state;
	sink *s = malloc(sizeof *s);
	mlt *t = new_tracker(s, 0);
	feed_file(t, "maillog-postfix37.in", 1, 0);

	/* 5 opportunistic + 3 blocked + 4 recipients of the mixed message,
	 * one of them deferred three times; the bounces (null sender, no
	 * SASL) are not an account's */
	assert_int_equal(count_kind(s, MLT_EVENT), 14);

	const copy_ev *e = get_ev(s, "bob@clear.test", ACCT_EVENT_DELIVERED, 0);
	assert_non_null(e);
	assert_string_equal(e->account, "alice");
	assert_string_equal(e->qid, "808FFA72273");
	assert_string_equal(e->sender, "alice@clear.test");
	assert_string_equal(e->msgid, "20261202001421.009547@vm");
	assert_string_equal(e->relay, "127.0.0.1[127.0.0.1]:20025");
	assert_string_equal(e->proto, ""); /* in the clear */
	assert_int_equal(e->trust, ACCT_TRUST_NONE);
	assert_string_equal(e->transport, "postfix/smtp");

	e = get_ev(s, "bob@tls.test", ACCT_EVENT_DELIVERED, 0);
	assert_non_null(e);
	assert_string_equal(e->proto, "TLSv1.2");
	assert_string_equal(e->cipher, "ECDHE-ECDSA-AES256-GCM-SHA384");
	assert_int_equal(e->trust, ACCT_TRUST_TRUSTED);

	e = get_ev(s, "bob@tls13.test", ACCT_EVENT_DELIVERED, 0);
	assert_non_null(e);
	assert_string_equal(e->proto, "TLSv1.3");
	assert_string_equal(e->cipher, "TLS_AES_256_GCM_SHA384");

	e = get_ev(s, "bob@untrusted.test", ACCT_EVENT_DELIVERED, 0);
	assert_non_null(e);
	assert_int_equal(e->trust, ACCT_TRUST_UNTRUSTED);

	e = get_ev(s, "bob@verified.test", ACCT_EVENT_DELIVERED, 0);
	assert_non_null(e);
	assert_int_equal(e->trust, ACCT_TRUST_VERIFIED);
	assert_string_equal(e->proto, "TLSv1.3");

	/* enforced account to the sink without STARTTLS */
	e = get_ev(s, "carol@clear.test", ACCT_EVENT_BLOCKED, 0);
	assert_non_null(e);
	assert_string_equal(e->account, "enforced");
	assert_string_equal(e->relay, "127.0.0.1[127.0.0.1]:20025");
	assert_non_null(strstr(e->reason, "TLS required but not supported"));
	assert_int_equal(e->tls_refused, 1);
	assert_string_equal(e->proto, "");
	assert_string_equal(e->transport, "postfix/postern-tls-encrypt/smtp");

	/* verify account to a self-signed certificate: the precise reason */
	e = get_ev(s, "dave@untrusted.test", ACCT_EVENT_BLOCKED, 0);
	assert_non_null(e);
	assert_string_equal(e->reason,
	                    "TLS required but not supported: Server certificate not verified (self-signed certificate)");
	assert_int_equal(e->trust, ACCT_TRUST_UNTRUSTED);

	e = get_ev(s, "erin@tls.test", ACCT_EVENT_BLOCKED, 0);
	assert_non_null(e);
	assert_non_null(strstr(e->reason, "Cannot start TLS: handshake failure"));

	/* mixed outcomes under one queue id */
	const char *mixed[] = {"a@clear.test", "b@tls13.test", "e@discard.test"};
	for (size_t i = 0; i < 3; i++) {
		e = get_ev(s, mixed[i], ACCT_EVENT_DELIVERED, 0);
		assert_non_null(e);
		assert_string_equal(e->qid, "53771A72273");
	}
	assert_string_equal(get_ev(s, "b@tls13.test", ACCT_EVENT_DELIVERED, 0)->proto, "TLSv1.3");
	assert_string_equal(get_ev(s, "a@clear.test", ACCT_EVENT_DELIVERED, 0)->proto, "");
	assert_string_equal(get_ev(s, "e@discard.test", ACCT_EVENT_DELIVERED, 0)->relay, "none");
	for (int i = 0; i < 3; i++) {
		e = get_ev(s, "c@down.test", ACCT_EVENT_DEFERRED, i);
		assert_non_null(e);
		assert_string_equal(e->reason, "connect to 127.0.0.1[127.0.0.1]:20099: Connection refused");
		assert_int_equal(e->tls_refused, 0);
	}
	assert_null(find_ev(s, "enf@clear.test", ACCT_EVENT_DELIVERED, 0)); /* the bounce itself */

	/* every message of an account opened; all but the deferred one closed */
	mlt_stats st;
	mlt_get_stats(t, &st);
	assert_int_equal(st.tracked, 1);
	assert_int_equal(st.lost, 0);
	assert_int_equal(s->n_close, 8);
	mlt_free(t);
	free(s);
}

static const char *expiry_lines[] = {
    "Dec  2 09:00:00 mx postfix/submission/smtpd[10]: 1111AAAA11: client=c[192.0.2.1], sasl_method=PLAIN, "
    "sasl_username=acme",
    "Dec  2 09:00:00 mx postfix/qmgr[11]: 1111AAAA11: from=<s@acme.example>, size=10, nrcpt=2 (queue active)",
    "Dec  2 09:00:01 mx postfix/postern-tls-encrypt/smtp[12]: 1111AAAA11: to=<p@plain.example>, "
    "relay=plain.example[192.0.2.50]:25, delay=1, delays=0/0/1/0, dsn=4.7.4, status=deferred (TLS is required, "
    "but was not offered by host plain.example[192.0.2.50])",
    "Dec  2 10:00:00 mx postfix/qmgr[11]: 1111AAAA11: from=<s@acme.example>, status=expired, returned to sender",
    "Dec  2 10:00:00 mx postfix/qmgr[11]: 1111AAAA11: removed",
    NULL};

static void test_expiry(void **state)
{
	(void)state;
	sink *s = malloc(sizeof *s);
	mlt *t = new_tracker(s, 0);
	for (size_t i = 0; expiry_lines[i]; i++)
		assert_int_equal(feed_line(t, expiry_lines[i]), 0);
	const copy_ev *e = get_ev(s, "p@plain.example", ACCT_EVENT_DEFERRED, 0);
	assert_non_null(e);
	assert_int_equal(e->tls_refused, 1);
	assert_int_equal(count_kind(s, MLT_EXPIRED), 1);
	for (size_t i = 0; i < s->n; i++)
		if (s->out[i].kind == MLT_EXPIRED) {
			assert_string_equal(s->out[i].qid, "1111AAAA11");
			assert_int_equal(s->out[i].time, e->time + 3599);
			assert_int_equal(s->out[i].submitted_at, e->submitted_at);
		}
	mlt_free(t);
	free(s);
}

static void test_unauthenticated_ignored(void **state)
{
	(void)state;
	sink *s = malloc(sizeof *s);
	mlt *t = new_tracker(s, 0);
	assert_int_equal(feed_line(t, "Dec  2 09:00:00 mx postfix/smtpd[10]: 2222BBBB22: client=c[192.0.2.1]"), 0);
	assert_int_equal(feed_line(t, "Dec  2 09:00:01 mx postfix/smtp[12]: 2222BBBB22: to=<x@y.example>, "
	                              "relay=y[192.0.2.2]:25, delay=1, dsn=2.0.0, status=sent (ok)"),
	                 0);
	assert_int_equal(s->n, 0);
	mlt_stats st;
	mlt_get_stats(t, &st);
	assert_int_equal(st.unknown, 1);
	mlt_free(t);
	free(s);
}

static void open_msg(mlt *t, const char *qid, const char *user)
{
	char line[256];
	snprintf(line, sizeof line,
	         "Dec  2 09:00:00 mx postfix/submission/smtpd[10]: %s: client=c[192.0.2.1], sasl_method=PLAIN, "
	         "sasl_username=%s",
	         qid, user);
	assert_int_equal(feed_line(t, line), 0);
}

static void deliver(mlt *t, int pid, const char *qid, const char *rcpt, const char *host)
{
	char line[512];
	snprintf(line, sizeof line,
	         "Dec  2 09:00:05 mx postfix/smtp[%d]: %s: to=<%s>, relay=%s, delay=1, dsn=2.0.0, status=sent (ok)", pid,
	         qid, rcpt, host);
	assert_int_equal(feed_line(t, line), 0);
}

static void test_eviction_bounded(void **state)
{
	(void)state;
	sink *s = malloc(sizeof *s);
	mlt *t = new_tracker(s, 2);
	open_msg(t, "AAAA000001", "a1");
	open_msg(t, "AAAA000002", "a2");
	open_msg(t, "AAAA000003", "a3"); /* evicts the oldest */
	mlt_stats st;
	mlt_get_stats(t, &st);
	assert_int_equal(st.tracked, 2);
	assert_int_equal(st.lost, 1);
	const copy_ev *c = NULL;
	for (size_t i = 0; i < s->n; i++)
		if (s->out[i].kind == MLT_CLOSE)
			c = &s->out[i];
	assert_non_null(c);
	assert_string_equal(c->qid, "AAAA000001");
	assert_int_equal(c->lost, 1);
	size_t before = s->n;
	deliver(t, 20, "AAAA000001", "x@lost.example", "h[192.0.2.9]:25");
	assert_int_equal(s->n, before); /* its delivery has no account any more */
	deliver(t, 20, "AAAA000003", "x@kept.example", "h[192.0.2.9]:25");
	assert_non_null(find_ev(s, "x@kept.example", ACCT_EVENT_DELIVERED, 0));
	assert_string_equal(get_ev(s, "x@kept.example", ACCT_EVENT_DELIVERED, 0)->account, "a3");
	/* many more than the cap: memory stays at the cap */
	for (int i = 0; i < 1000; i++) {
		char q[16];
		snprintf(q, sizeof q, "BBBB%06d", i);
		s->n = 0;
		open_msg(t, q, "many");
	}
	mlt_get_stats(t, &st);
	assert_int_equal(st.tracked, 2);
	assert_int_equal(st.lost, 1001);
	mlt_free(t);
	free(s);
}

static void test_tls_state_per_connection(void **state)
{
	(void)state;
	sink *s = malloc(sizeof *s);
	mlt *t = new_tracker(s, 0);
	open_msg(t, "CCCC000001", "acme");
	assert_int_equal(feed_line(t, "Dec  2 09:00:04 mx postfix/smtp[30]: Verified TLS connection established to "
	                              "a.example[192.0.2.10]:25: TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits)"),
	                 0);
	deliver(t, 30, "CCCC000001", "r1@a.example", "a.example[192.0.2.10]:25");
	deliver(t, 30, "CCCC000001", "r2@a.example", "a.example[192.0.2.10]:25"); /* same connection */
	deliver(t, 30, "CCCC000001", "r3@b.example", "b.example[192.0.2.11]:25"); /* new one, in the clear */
	deliver(t, 30, "CCCC000001", "r4@a.example", "a.example[192.0.2.10]:25"); /* TLS state was dropped */
	deliver(t, 31, "CCCC000001", "r5@a.example", "a.example[192.0.2.10]:25"); /* another process */
	assert_string_equal(get_ev(s, "r1@a.example", ACCT_EVENT_DELIVERED, 0)->proto, "TLSv1.3");
	assert_string_equal(get_ev(s, "r2@a.example", ACCT_EVENT_DELIVERED, 0)->proto, "TLSv1.3");
	assert_int_equal(get_ev(s, "r2@a.example", ACCT_EVENT_DELIVERED, 0)->trust, ACCT_TRUST_VERIFIED);
	assert_string_equal(get_ev(s, "r3@b.example", ACCT_EVENT_DELIVERED, 0)->proto, "");
	assert_string_equal(get_ev(s, "r4@a.example", ACCT_EVENT_DELIVERED, 0)->proto, "");
	assert_string_equal(get_ev(s, "r5@a.example", ACCT_EVENT_DELIVERED, 0)->proto, "");
	mlt_free(t);
	free(s);
}

/* log time (Unix) of a syslog stamp, as the tracker reads it */
static int64_t stamp(const char *hms)
{
	char line[256];
	maillog_rec r;
	int64_t v;
	snprintf(line, sizeof line, "Dec  2 %s mx postfix/qmgr[11]: FFFF000001: removed", hms);
	assert_int_equal(maillog_parse(&r, line, strlen(line)), ML_REC);
	assert_int_equal(maillog_time_unix(&v, &r.time, 1796170000, 0), 0);
	return v;
}

static void deliver_at(mlt *t, const char *hms, int pid, const char *qid, const char *rcpt, const char *host)
{
	char line[512];
	snprintf(line, sizeof line,
	         "Dec  2 %s mx postfix/smtp[%d]: %s: to=<%s>, relay=%s, delay=1, dsn=2.0.0, status=sent (ok)", hms, pid,
	         qid, rcpt, host);
	assert_int_equal(feed_line(t, line), 0);
}

/* Every change of an smtp process's TLS state is an MLT_TLS output (what
 * its slot holds now), which a new tracker takes back (mlt_restore_tls):
 * the newer of two processes sharing a slot stays; a state older than
 * MLT_TLS_MAX_AGE is not used, and the sweep empties such slots. */
static void test_tls_outputs_and_restore(void **state)
{
	(void)state;
	sink *s = malloc(sizeof *s);
	mlt *t = new_tracker(s, 0);
	const char *A = "a.example[192.0.2.10]:25", *B = "b.example[192.0.2.11]:25";
	int64_t t4 = stamp("09:00:04");
	open_msg(t, "CCCC000001", "acme");
	assert_int_equal(feed_line(t, "Dec  2 09:00:04 mx postfix/smtp[30]: Verified TLS connection established to "
	                              "a.example[192.0.2.10]:25: TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits)"),
	                 0);
	assert_int_equal(s->n_tls, 1);
	const copy_tls *c = &s->tls[30];
	assert_int_equal(c->pid, 30);
	assert_int_equal(c->time, t4);
	assert_string_equal(c->host, A);
	assert_int_equal(c->established, 1);
	assert_string_equal(c->proto, "TLSv1.3");
	assert_string_equal(c->cipher, "TLS_AES_128_GCM_SHA256");
	assert_int_equal(c->trust, ACCT_TRUST_VERIFIED);
	deliver(t, 30, "CCCC000001", "r1@a.example", A); /* same connection: no change */
	assert_int_equal(s->n_tls, 1);
	deliver(t, 30, "CCCC000001", "r2@b.example", B); /* another host: emptied */
	assert_int_equal(s->n_tls, 2);
	assert_int_equal(s->tls[30].pid, 0);
	/* a verification failure alone is a state too (its reason for a refusal) */
	assert_int_equal(feed_line(t, "Dec  2 09:00:04 mx postfix/smtp[31]: certificate verification failed for "
	                              "b.example[192.0.2.11]:25: self-signed certificate"),
	                 0);
	assert_int_equal(s->tls[31].pid, 31);
	assert_int_equal(s->tls[31].established, 0);
	assert_string_equal(s->tls[31].proto, "");
	assert_string_equal(s->tls[31].verr, "self-signed certificate");
	assert_int_equal(s->tls[31].trust, ACCT_TRUST_NONE);
	/* pid 542 takes the slot of 30 */
	assert_int_equal(feed_line(t, "Dec  2 09:00:04 mx postfix/smtp[542]: Untrusted TLS connection established to "
	                              "b.example[192.0.2.11]:25: TLSv1.2 with cipher ECDHE-RSA-AES128-GCM-SHA256 (128/128 bits)"),
	                 0);
	assert_int_equal(s->tls[30].pid, 542);
	mlt_free(t);

	/* restored: the state holds for the process's next delivery there */
	t = new_tracker(s, 0);
	open_msg(t, "CCCC000002", "acme");
	acct_smtp_tls x = {.pid = 30, .time = t4, .host = A, .established = 1, .protocol = "TLSv1.3",
	                   .cipher = "TLS_AES_128_GCM_SHA256", .tls_trust = ACCT_TRUST_VERIFIED};
	int64_t gone = -1;
	assert_int_equal(mlt_restore_tls(t, &x, &gone), 0);
	assert_int_equal(gone, 0);
	acct_smtp_tls older = x, newer = x;
	older.pid = newer.pid = 542;
	older.time = t4 - 10;
	newer.time = t4 + 1;
	newer.host = B;
	assert_int_equal(mlt_restore_tls(t, &older, &gone), 0);
	assert_int_equal(gone, 542); /* older than the slot's: not kept */
	deliver(t, 30, "CCCC000002", "r1@a.example", A);
	const copy_ev *e = get_ev(s, "r1@a.example", ACCT_EVENT_DELIVERED, 0);
	assert_string_equal(e->proto, "TLSv1.3");
	assert_string_equal(e->cipher, "TLS_AES_128_GCM_SHA256");
	assert_int_equal(e->trust, ACCT_TRUST_VERIFIED);
	assert_int_equal(mlt_restore_tls(t, &newer, &gone), 0);
	assert_int_equal(gone, 30); /* the newer takes the slot */
	deliver(t, 30, "CCCC000002", "r2@a.example", A);
	assert_string_equal(get_ev(s, "r2@a.example", ACCT_EVENT_DELIVERED, 0)->proto, "");
	deliver(t, 542, "CCCC000002", "r3@b.example", B);
	assert_string_equal(get_ev(s, "r3@b.example", ACCT_EVENT_DELIVERED, 0)->proto, "TLSv1.3");
	/* refused: no pid, no host, a field too long */
	acct_smtp_tls bad = x;
	bad.pid = 0;
	assert_int_equal(mlt_restore_tls(t, &bad, &gone), -1);
	assert_int_equal(gone, 0);
	bad = x;
	bad.host = NULL;
	assert_int_equal(mlt_restore_tls(t, &bad, &gone), -1);
	assert_int_equal(gone, 30);
	char big[600];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	bad = x;
	bad.verify_error = big;
	bad.pid = 40;
	assert_int_equal(mlt_restore_tls(t, &bad, NULL), -1);
	mlt_free(t);

	/* by age: an hour and a second after its line, a state is not used */
	t = new_tracker(s, 0);
	open_msg(t, "CCCC000003", "acme");
	x.pid = 50;
	assert_int_equal(mlt_restore_tls(t, &x, NULL), 0);
	x.pid = 51;
	assert_int_equal(mlt_restore_tls(t, &x, NULL), 0);
	x.pid = 52;
	x.time = stamp("09:40:00");
	assert_int_equal(mlt_restore_tls(t, &x, NULL), 0);
	s->n_tls = 0;
	deliver_at(t, "10:00:05", 50, "CCCC000003", "r1@a.example", A);
	assert_string_equal(get_ev(s, "r1@a.example", ACCT_EVENT_DELIVERED, 0)->proto, "");
	/* and the sweep emptied the other stale slot (51), not the recent one */
	assert_int_equal(s->n_tls, 2);
	assert_int_equal(s->tls[50].pid, 0);
	assert_int_equal(s->tls[51].pid, 0);
	deliver_at(t, "10:00:06", 52, "CCCC000003", "r2@a.example", A);
	assert_string_equal(get_ev(s, "r2@a.example", ACCT_EVENT_DELIVERED, 0)->proto, "TLSv1.3");
	mlt_free(t);
	free(s);
}

/* A follower that restarts restores its messages in flight from the
 * store: the account of a message opened before the restart is known
 * after it. */
static void test_restore_after_restart(void **state)
{
	(void)state;
	sink *s = malloc(sizeof *s);
	mlt *t = new_tracker(s, 0);
	/* up to and including the mixed message's qmgr line (line 92) */
	feed_file(t, "maillog-postfix37.in", 1, 93);
	/* the messages still open, as the store would hold them */
	static char qid[8][32], acc[8][128], snd[8][128];
	acct_pending_msg keep[8];
	size_t nk = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (s->out[i].kind == MLT_OPEN) {
			size_t j;
			for (j = 0; j < nk; j++)
				if (strcmp(qid[j], s->out[i].qid) == 0)
					break;
			if (j == nk) {
				assert_true(nk < 8);
				nk++;
			}
			cp(qid[j], sizeof qid[j], s->out[i].qid);
			cp(acc[j], sizeof acc[j], s->out[i].account);
			keep[j].queue_id = qid[j];
			keep[j].account = acc[j];
			keep[j].sender = NULL;
			keep[j].message_id = NULL;
			keep[j].client = NULL;
			keep[j].submitted_at = s->out[i].submitted_at;
		} else if (s->out[i].kind == MLT_CLOSE) {
			for (size_t j = 0; j < nk; j++)
				if (strcmp(qid[j], s->out[i].qid) == 0) {
					keep[j] = keep[nk - 1];
					memcpy(qid[j], qid[nk - 1], sizeof qid[j]);
					memcpy(acc[j], acc[nk - 1], sizeof acc[j]);
					keep[j].queue_id = qid[j];
					keep[j].account = acc[j];
					nk--;
					break;
				}
		}
	}
	(void)snd;
	assert_int_equal(nk, 1);
	assert_string_equal(keep[0].queue_id, "53771A72273");
	mlt_free(t);

	t = new_tracker(s, 0);
	assert_int_equal(mlt_restore(t, &keep[0]), 0);
	feed_file(t, "maillog-postfix37.in", 93, 0);
	const copy_ev *e = get_ev(s, "a@clear.test", ACCT_EVENT_DELIVERED, 0);
	assert_non_null(e);
	assert_string_equal(e->account, "alice");
	assert_int_equal(e->submitted_at, keep[0].submitted_at);
	assert_non_null(find_ev(s, "e@discard.test", ACCT_EVENT_DELIVERED, 0));
	assert_non_null(find_ev(s, "c@down.test", ACCT_EVENT_DEFERRED, 2));
	/* a pending message with a field too long is refused */
	char big[600];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	acct_pending_msg bad = {"DDDD000001", big, NULL, NULL, NULL, 0};
	assert_int_equal(mlt_restore(t, &bad), -1);
	mlt_free(t);
	free(s);
}

static void test_callback_stops(void **state)
{
	(void)state;
	sink *s = malloc(sizeof *s);
	mlt *t = new_tracker(s, 0);
	s->stop_at = 1;
	maillog_rec r;
	const char *l = "Dec  2 09:00:00 mx postfix/submission/smtpd[10]: EEEE000001: client=c[192.0.2.1], "
	                "sasl_method=PLAIN, sasl_username=acme";
	assert_int_equal(maillog_parse(&r, l, strlen(l)), ML_REC);
	assert_int_equal(mlt_feed(t, &r), 7);
	mlt_free(t);
	mlt_free(NULL);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_recorded_log),
	    cmocka_unit_test(test_expiry),
	    cmocka_unit_test(test_unauthenticated_ignored),
	    cmocka_unit_test(test_eviction_bounded),
	    cmocka_unit_test(test_tls_state_per_connection),
	    cmocka_unit_test(test_tls_outputs_and_restore),
	    cmocka_unit_test(test_restore_after_restart),
	    cmocka_unit_test(test_callback_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

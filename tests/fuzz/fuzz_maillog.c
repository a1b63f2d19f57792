/*
 * Fuzz target of the Postfix log-line parser (smtp-hook/maillog.c): any
 * bytes, split into lines as the follower splits them, must parse to a
 * record, a skip or an error without reading out of bounds, and every
 * record's strings must be terminated within their buffers.  The
 * records then go through the correlator (maillog_track.c) with a table
 * of 4 messages, so that eviction, reused queue ids and the TLS state
 * per process are exercised too; every event it emits must be complete.
 */
#include <stdint.h>
#include <string.h>

#include "maillog.h"
#include "maillog_track.h"

static int check_output(const mlt_output *o, void *ctx)
{
	(void)ctx;
	if (o->kind == MLT_EVENT) {
		const acct_event *e = o->event;
		if (!e->queue_id || !e->queue_id[0] || !e->account || !e->account[0] || !e->recipient ||
		    e->type < ACCT_EVENT_DELIVERED || e->type > ACCT_EVENT_BLOCKED)
			__builtin_trap();
		if (strlen(e->queue_id) > ACCT_QUEUE_ID_MAX || strlen(e->recipient) > ACCT_EVENT_ADDR_MAX ||
		    (e->reason && strlen(e->reason) > ACCT_EVENT_TEXT_MAX))
			__builtin_trap();
	} else if (o->kind == MLT_TLS) {
		/* a slot's state: its own pid, a host, strings that fit the store */
		const acct_smtp_tls *t = o->tls;
		if (o->slot >= MLT_PIDS)
			__builtin_trap();
		if (t && (t->pid <= 0 || (uint64_t)t->pid % MLT_PIDS != o->slot || !t->host || !t->host[0] ||
		          strlen(t->host) > ACCT_EVENT_ADDR_MAX || (t->protocol && strlen(t->protocol) > 31) ||
		          (t->cipher && strlen(t->cipher) > 127) ||
		          (t->verify_error && strlen(t->verify_error) > ACCT_EVENT_TEXT_MAX) ||
		          (!t->established && t->protocol)))
			__builtin_trap();
	} else if (!((o->kind == MLT_EXPIRED && o->expiry->queue_id) || (o->kind != MLT_EXPIRED && o->msg->queue_id))) {
		__builtin_trap();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_str(const char *s, size_t cap)
{
	if (memchr(s, '\0', cap) == NULL)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	mlt *trk = mlt_new(4, check_output, NULL);
	if (!trk)
		return 0;
	mlt_set_clock(trk, 1796170000, 0);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		maillog_rec r;
		int rc = maillog_parse(&r, p, n);
		if (rc == ML_REC) {
			check_str(r.qid, sizeof r.qid);
			check_str(r.addr, sizeof r.addr);
			check_str(r.host, sizeof r.host);
			check_str(r.text, sizeof r.text);
			check_str(r.cipher, sizeof r.cipher);
			if (r.kind == ML_NONE)
				__builtin_trap();
			int64_t t;
			(void)maillog_time_unix(&t, &r.time, 1796170000, 60);
			(void)maillog_is_tls_refusal(r.dsn, r.text);
			(void)mlt_feed(trk, &r);
		} else if (rc != ML_SKIP && rc != ML_ETOOLONG && rc != ML_EMALFORMED) {
			__builtin_trap();
		}
		p += n;
	}
	mlt_free(trk);
	return 0;
}

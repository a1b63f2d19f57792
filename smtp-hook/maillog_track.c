/*
 * maillog_track: the correlator (see maillog_track.h for what it joins
 * and emits).  Messages in flight live in one array of max_messages
 * slots, found by queue id through a chained hash table and kept in
 * arrival order on a doubly linked list, so that the oldest is evicted
 * in O(1) when the array is full.  The smtp processes' TLS state is a
 * direct-mapped table indexed by pid; every change of a slot is emitted
 * (MLT_TLS) so that the follower can persist it, and the table is swept
 * of states older than MLT_TLS_MAX_AGE every TLS_SWEEP seconds of log.
 */
#include "maillog_track.h"

#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX
#define TLS_SWEEP 600 /* seconds of log time between two sweeps of stale TLS state */

typedef struct msg {
	char qid[ML_QID_MAX + 1];
	char account[ML_NAME_MAX + 1];
	char sender[ML_ADDR_MAX + 1];
	char message_id[ML_TEXT_MAX + 1];
	char client[ML_HOST_MAX + 1];
	int64_t submitted_at;
	int have_sender;
	uint32_t hnext;       /* hash chain */
	uint32_t older, newer; /* age list */
	int used;
} msg;

typedef struct pidtls {
	int64_t pid; /* 0 = empty */
	int64_t time; /* of the line that set it */
	char host[ML_HOST_MAX + 1];
	char protocol[32];
	char cipher[ML_NAME_MAX + 1];
	ml_trust trust;
	int established;
	char verify_error[ML_TEXT_MAX + 1];
} pidtls;

struct mlt {
	mlt_emit_fn emit;
	void *ctx;
	size_t cap;
	msg *msgs;
	uint32_t *buckets;
	size_t nbuckets;
	uint32_t oldest, newest, free_head;
	int64_t now;
	int local_offset_min;
	mlt_stats stats;
	pidtls pids[MLT_PIDS];
	int64_t swept; /* log time of the last sweep of stale TLS state */
	char reason[ML_TEXT_MAX + 1]; /* scratch for an event's reason */
	char transport[2 * ML_NAME_MAX + 2];
};

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

mlt *mlt_new(size_t max_messages, mlt_emit_fn emit, void *ctx)
{
	if (max_messages == 0)
		max_messages = MLT_DEFAULT_MAX_MESSAGES;
	if (max_messages >= NIL / 2)
		return NULL;
	mlt *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->cap = max_messages;
	t->nbuckets = 1;
	while (t->nbuckets < max_messages * 2)
		t->nbuckets <<= 1;
	t->msgs = calloc(max_messages, sizeof *t->msgs);
	t->buckets = malloc(t->nbuckets * sizeof *t->buckets);
	if (!t->msgs || !t->buckets) {
		mlt_free(t);
		return NULL;
	}
	for (size_t i = 0; i < t->nbuckets; i++)
		t->buckets[i] = NIL;
	for (size_t i = 0; i < max_messages; i++)
		t->msgs[i].hnext = i + 1 < max_messages ? (uint32_t)(i + 1) : NIL;
	t->free_head = 0;
	t->oldest = t->newest = NIL;
	t->emit = emit;
	t->ctx = ctx;
	return t;
}

void mlt_free(mlt *t)
{
	if (!t)
		return;
	free(t->msgs);
	free(t->buckets);
	free(t);
}

void mlt_set_clock(mlt *t, int64_t now, int local_offset_min)
{
	t->now = now;
	t->local_offset_min = local_offset_min;
}

void mlt_get_stats(const mlt *t, mlt_stats *out) { *out = t->stats; }

static uint32_t lookup(const mlt *t, const char *qid)
{
	uint32_t i = t->buckets[hash(qid) & (t->nbuckets - 1)];
	while (i != NIL && strcmp(t->msgs[i].qid, qid) != 0)
		i = t->msgs[i].hnext;
	return i;
}

static void unlink_msg(mlt *t, uint32_t i)
{
	msg *m = &t->msgs[i];
	uint32_t *pp = &t->buckets[hash(m->qid) & (t->nbuckets - 1)];
	while (*pp != i)
		pp = &t->msgs[*pp].hnext;
	*pp = m->hnext;
	if (m->older != NIL)
		t->msgs[m->older].newer = m->newer;
	else
		t->oldest = m->newer;
	if (m->newer != NIL)
		t->msgs[m->newer].older = m->older;
	else
		t->newest = m->older;
	memset(m, 0, sizeof *m);
	m->hnext = t->free_head;
	t->free_head = i;
	t->stats.tracked--;
}

static void fill_pending(const msg *m, acct_pending_msg *p)
{
	p->queue_id = m->qid;
	p->account = m->account;
	p->sender = m->have_sender ? m->sender : NULL;
	p->message_id = m->message_id[0] ? m->message_id : NULL;
	p->client = m->client[0] ? m->client : NULL;
	p->submitted_at = m->submitted_at;
}

static int emit_close(mlt *t, const msg *m, int lost)
{
	acct_pending_msg p = {0};
	p.queue_id = m->qid;
	p.submitted_at = m->submitted_at;
	mlt_output o = {.kind = MLT_CLOSE, .msg = &p, .lost = lost};
	return t->emit(&o, t->ctx);
}

static int emit_open(mlt *t, const msg *m)
{
	acct_pending_msg p;
	fill_pending(m, &p);
	mlt_output o = {.kind = MLT_OPEN, .msg = &p};
	return t->emit(&o, t->ctx);
}

/* a new slot (evicting the oldest when full); *rc the callback's result */
static uint32_t insert(mlt *t, const char *qid, int *rc, int quiet)
{
	*rc = 0;
	if (t->free_head == NIL) {
		uint32_t old = t->oldest;
		msg victim = t->msgs[old];
		unlink_msg(t, old);
		t->stats.lost++;
		if (!quiet)
			*rc = emit_close(t, &victim, 1);
	}
	uint32_t i = t->free_head;
	msg *m = &t->msgs[i];
	t->free_head = m->hnext;
	memset(m, 0, sizeof *m);
	m->used = 1;
	memcpy(m->qid, qid, strlen(qid) + 1);
	uint32_t *b = &t->buckets[hash(qid) & (t->nbuckets - 1)];
	m->hnext = *b;
	*b = i;
	m->older = t->newest;
	m->newer = NIL;
	if (t->newest != NIL)
		t->msgs[t->newest].newer = i;
	else
		t->oldest = i;
	t->newest = i;
	t->stats.tracked++;
	return i;
}

static int64_t rec_time(const mlt *t, const maillog_rec *r)
{
	int64_t v;
	if (maillog_time_unix(&v, &r->time, t->now, t->local_offset_min) != 0)
		return t->now;
	return v;
}

static int copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	if (n >= cap)
		return -1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

int mlt_restore(mlt *t, const acct_pending_msg *p)
{
	msg tmp;
	memset(&tmp, 0, sizeof tmp);
	if (!p->queue_id || !p->queue_id[0] || !p->account || copy_str(tmp.qid, sizeof tmp.qid, p->queue_id) ||
	    copy_str(tmp.account, sizeof tmp.account, p->account) ||
	    copy_str(tmp.sender, sizeof tmp.sender, p->sender) ||
	    copy_str(tmp.message_id, sizeof tmp.message_id, p->message_id) ||
	    copy_str(tmp.client, sizeof tmp.client, p->client))
		return -1;
	uint32_t i = lookup(t, tmp.qid);
	if (i != NIL)
		unlink_msg(t, i);
	int rc;
	/* a restore beyond the cap evicts the oldest, counted, without output */
	i = insert(t, tmp.qid, &rc, 1);
	msg *m = &t->msgs[i];
	memcpy(m->account, tmp.account, sizeof m->account);
	memcpy(m->sender, tmp.sender, sizeof m->sender);
	memcpy(m->message_id, tmp.message_id, sizeof m->message_id);
	memcpy(m->client, tmp.client, sizeof m->client);
	m->have_sender = p->sender != NULL;
	m->submitted_at = p->submitted_at;
	return 0;
}

static unsigned int pid_index(int64_t pid)
{
	return (unsigned int)((uint64_t)pid % MLT_PIDS);
}

static pidtls *pid_slot(mlt *t, int64_t pid)
{
	return &t->pids[pid_index(pid)];
}

static acct_tls_trust trust_of(ml_trust t)
{
	switch (t) {
	case ML_TRUST_ANONYMOUS: return ACCT_TRUST_ANONYMOUS;
	case ML_TRUST_UNTRUSTED: return ACCT_TRUST_UNTRUSTED;
	case ML_TRUST_TRUSTED: return ACCT_TRUST_TRUSTED;
	case ML_TRUST_VERIFIED: return ACCT_TRUST_VERIFIED;
	case ML_TRUST_UNKNOWN: break;
	}
	return ACCT_TRUST_UNKNOWN;
}

static ml_trust ml_trust_of(acct_tls_trust t)
{
	switch (t) {
	case ACCT_TRUST_ANONYMOUS: return ML_TRUST_ANONYMOUS;
	case ACCT_TRUST_UNTRUSTED: return ML_TRUST_UNTRUSTED;
	case ACCT_TRUST_TRUSTED: return ML_TRUST_TRUSTED;
	case ACCT_TRUST_VERIFIED: return ML_TRUST_VERIFIED;
	case ACCT_TRUST_NONE:
	case ACCT_TRUST_UNKNOWN: break;
	}
	return ML_TRUST_UNKNOWN;
}

/* Tell the follower what slot `i` holds now. */
static int emit_tls(mlt *t, unsigned int i)
{
	const pidtls *s = &t->pids[i];
	acct_smtp_tls x;
	mlt_output o = {.kind = MLT_TLS, .slot = i};
	if (s->pid != 0) {
		memset(&x, 0, sizeof x);
		x.pid = s->pid;
		x.time = s->time;
		x.host = s->host;
		x.established = s->established;
		x.protocol = s->established ? s->protocol : NULL;
		x.cipher = s->established && s->cipher[0] ? s->cipher : NULL;
		x.tls_trust = s->established ? trust_of(s->trust) : ACCT_TRUST_NONE;
		x.verify_error = s->verify_error[0] ? s->verify_error : NULL;
		o.tls = &x;
	}
	return t->emit(&o, t->ctx);
}

static int drop_tls(mlt *t, pidtls *s)
{
	memset(s, 0, sizeof *s);
	return emit_tls(t, (unsigned int)(s - t->pids));
}

/* At most every TLS_SWEEP seconds of log: empty the slots of processes
 * that logged nothing for MLT_TLS_MAX_AGE (exited long ago; their pid
 * may come back as another process), so that neither this table nor the
 * store keeps them. */
static int sweep_tls(mlt *t, int64_t now)
{
	if (now < t->swept) /* the log's clock went back: start again from here */
		t->swept = now;
	if (now - t->swept < TLS_SWEEP)
		return 0;
	t->swept = now;
	for (unsigned int i = 0; i < MLT_PIDS; i++) {
		pidtls *s = &t->pids[i];
		int rc;
		if (s->pid != 0 && now - s->time > MLT_TLS_MAX_AGE && (rc = drop_tls(t, s)) != 0)
			return rc;
	}
	return 0;
}

int mlt_restore_tls(mlt *t, const acct_smtp_tls *x, int64_t *displaced)
{
	pidtls tmp;
	int64_t gone = 0;
	memset(&tmp, 0, sizeof tmp);
	if (displaced)
		*displaced = x->pid;
	if (x->pid <= 0 || !x->host || !x->host[0] || copy_str(tmp.host, sizeof tmp.host, x->host) ||
	    copy_str(tmp.protocol, sizeof tmp.protocol, x->protocol) ||
	    copy_str(tmp.cipher, sizeof tmp.cipher, x->cipher) ||
	    copy_str(tmp.verify_error, sizeof tmp.verify_error, x->verify_error))
		return -1;
	tmp.pid = x->pid;
	tmp.time = x->time;
	tmp.established = x->established != 0;
	tmp.trust = ml_trust_of(x->tls_trust);
	pidtls *s = pid_slot(t, x->pid);
	if (s->pid != 0 && s->pid != x->pid) {
		if (s->time > x->time) { /* the slot's is newer: this one goes */
			if (displaced)
				*displaced = x->pid;
			return 0;
		}
		gone = s->pid;
	}
	*s = tmp;
	if (displaced)
		*displaced = gone;
	return 0;
}

static int on_tls(mlt *t, const maillog_rec *r)
{
	pidtls *s = pid_slot(t, r->pid);
	int64_t now = rec_time(t, r);
	int same = s->pid == r->pid && strcmp(s->host, r->host) == 0;
	char verr[sizeof s->verify_error];
	memcpy(verr, s->verify_error, sizeof verr);
	memset(s, 0, sizeof *s);
	s->pid = r->pid;
	s->time = now;
	memcpy(s->host, r->host, sizeof s->host);
	if (r->kind == ML_TLS_VERIFY_FAILED) {
		memcpy(s->verify_error, r->text, sizeof s->verify_error);
	} else {
		if (same) /* "verification failed" comes just before "established" */
			memcpy(s->verify_error, verr, sizeof s->verify_error);
		s->established = 1;
		s->trust = r->trust;
		memcpy(s->protocol, r->protocol, sizeof s->protocol);
		memcpy(s->cipher, r->cipher, sizeof s->cipher);
	}
	int rc = emit_tls(t, pid_index(r->pid));
	return rc ? rc : sweep_tls(t, now);
}

static int on_delivery(mlt *t, const maillog_rec *r)
{
	if (r->status == ML_ST_DELIVERABLE || r->status == ML_ST_UNDELIVERABLE || r->status == ML_ST_NONE)
		return 0; /* address verification probes */
	pidtls *s = pid_slot(t, r->pid);
	int64_t now = rec_time(t, r);
	int tls = 0, rc;
	if (s->pid == r->pid) {
		/* another host: another connection; too old: another process */
		if (strcmp(s->host, r->host) != 0 || now - s->time > MLT_TLS_MAX_AGE) {
			if ((rc = drop_tls(t, s)) != 0)
				return rc;
		} else {
			tls = s->established;
		}
	}
	if ((rc = sweep_tls(t, now)) != 0)
		return rc;
	uint32_t i = lookup(t, r->qid);
	if (i == NIL) {
		t->stats.unknown++;
		return 0;
	}
	const msg *m = &t->msgs[i];
	acct_event ev;
	memset(&ev, 0, sizeof ev);
	ev.time = now;
	ev.submitted_at = m->submitted_at;
	ev.queue_id = m->qid;
	ev.account = m->account;
	ev.sender = m->have_sender ? m->sender : NULL;
	ev.recipient = r->addr;
	ev.message_id = m->message_id[0] ? m->message_id : NULL;
	ev.client = m->client[0] ? m->client : NULL;
	ev.dsn = r->dsn[0] ? r->dsn : NULL;
	ev.relay = r->host[0] ? r->host : NULL;
	ev.tls_refused = r->tls_refusal;
	switch (r->status) {
	case ML_ST_SENT: ev.type = ACCT_EVENT_DELIVERED; break;
	case ML_ST_DEFERRED: ev.type = ACCT_EVENT_DEFERRED; break;
	default: ev.type = r->tls_refusal ? ACCT_EVENT_BLOCKED : ACCT_EVENT_BOUNCED; break;
	}
	/* the precise certificate reason, when the smtp client logged one */
	if (r->tls_refusal && s->pid == r->pid && s->verify_error[0] && strcmp(s->host, r->host) == 0) {
		size_t a = strlen(r->text), b = strlen(s->verify_error);
		if (a + b + 3 < sizeof t->reason) {
			memcpy(t->reason, r->text, a);
			memcpy(t->reason + a, " (", 2);
			memcpy(t->reason + a + 2, s->verify_error, b);
			t->reason[a + 2 + b] = ')';
			t->reason[a + 3 + b] = '\0';
		} else {
			memcpy(t->reason, r->text, a + 1);
		}
		ev.reason = t->reason;
	} else {
		ev.reason = r->text[0] ? r->text : NULL;
	}
	size_t sn = strlen(r->syslog_name), pn = strlen(r->program);
	memcpy(t->transport, r->syslog_name, sn);
	t->transport[sn] = '/';
	memcpy(t->transport + sn + 1, r->program, pn + 1);
	ev.transport = t->transport;
	if (tls) {
		ev.tls_protocol = s->protocol;
		ev.tls_cipher = s->cipher[0] ? s->cipher : NULL;
		ev.tls_trust = trust_of(s->trust);
	}
	t->stats.events++;
	mlt_output o = {.kind = MLT_EVENT, .event = &ev};
	return t->emit(&o, t->ctx);
}

int mlt_feed(mlt *t, const maillog_rec *r)
{
	t->stats.records++;
	uint32_t i;
	int rc = 0;
	switch (r->kind) {
	case ML_SMTPD_CLIENT:
		if (!r->sasl_username[0])
			return 0;
		i = lookup(t, r->qid);
		if (i != NIL) /* a queue id reused: the old message is gone */
			unlink_msg(t, i);
		i = insert(t, r->qid, &rc, 0);
		if (rc)
			return rc;
		memcpy(t->msgs[i].account, r->sasl_username, sizeof t->msgs[i].account);
		memcpy(t->msgs[i].client, r->host, sizeof t->msgs[i].client);
		t->msgs[i].submitted_at = rec_time(t, r);
		return emit_open(t, &t->msgs[i]);
	case ML_CLEANUP_MSGID:
		i = lookup(t, r->qid);
		if (i == NIL || strcmp(t->msgs[i].message_id, r->text) == 0)
			return 0;
		memcpy(t->msgs[i].message_id, r->text, sizeof t->msgs[i].message_id);
		return emit_open(t, &t->msgs[i]);
	case ML_QMGR_FROM:
		i = lookup(t, r->qid);
		if (i == NIL || (t->msgs[i].have_sender && strcmp(t->msgs[i].sender, r->addr) == 0))
			return 0;
		memcpy(t->msgs[i].sender, r->addr, sizeof t->msgs[i].sender);
		t->msgs[i].have_sender = 1;
		return emit_open(t, &t->msgs[i]);
	case ML_DELIVERY:
		return on_delivery(t, r);
	case ML_TLS_ESTABLISHED:
	case ML_TLS_VERIFY_FAILED:
		return on_tls(t, r);
	case ML_QMGR_EXPIRED: {
		i = lookup(t, r->qid);
		if (i == NIL)
			return 0;
		acct_event_expiry x = {t->msgs[i].qid, t->msgs[i].submitted_at, rec_time(t, r)};
		mlt_output o = {.kind = MLT_EXPIRED, .expiry = &x};
		return t->emit(&o, t->ctx);
	}
	case ML_QMGR_REMOVED: {
		i = lookup(t, r->qid);
		if (i == NIL)
			return 0;
		msg gone = t->msgs[i];
		unlink_msg(t, i);
		return emit_close(t, &gone, 0);
	}
	case ML_BOUNCE_NOTICE:
	case ML_NONE:
		break;
	}
	return 0;
}

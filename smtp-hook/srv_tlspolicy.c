/*
 * The TLS policy socketmap (see srv_tlspolicy.h, docs/mta-sts.md).
 *
 * A request `NAME KEY`: NAME says what the asking transport requires
 * (sts_map_parse), KEY is Postfix's next hop (sts_key_parse).  For a
 * domain the answer is computed from the domain's facts (sts_state:
 * policy mode, the MX hosts matching it, DANE), kept in memory for
 * tlspolicy_cache_ttl seconds (never past the policy's expiry), and the
 * map's requirement: a cached answer touches neither DNS nor the store.
 * With tlspolicy_postfix_dane (the default) the plain map `tls-policy`
 * leaves DANE to Postfix's dane level for a domain without an enforced
 * policy, so its misses ask no TLSA; every other map (the enforcing ones,
 * and tls-policy-none of postern-notls at level none) always has DANE
 * known (sts_req_needs_tlsa).
 *
 * A miss holds the connection (conn_hold) and joins the domain's job:
 * one evaluation (sts_job) per domain, however many lookups wait for it,
 * at most tlspolicy_max_jobs in flight (beyond: TEMP).  Jobs are driven
 * from the loop: libunbound's fd and each fetch's socket are watched, a
 * DNS answer wakes its job (queued, stepped after dns_process returns,
 * never inside libunbound's callback), and the loop's timer hook expires
 * DNS deadlines and fetch deadlines.
 *
 * The tick refreshes in the background: a cached domain that was used
 * is re-evaluated (TXT always asked: a new id is fetched) when 80% of its
 * time in memory has passed (at least two seconds before it expires), and keeps being answered from memory until
 * the new facts replace it; once a minute the store's policies near
 * their max_age are fetched again, whether or not they are in memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <time.h>

#include "log.h"
#include "proto_socketmap.h"
#include "srv.h"
#include "srv_tlspolicy.h"
#include "sts_eval.h"
#include "sts_fetch.h"

#define BUCKETS_MAX (1u << 20)
#define SCAN_EVERY 60          /* seconds between scans of the store for policies due */
#define SCAN_MAX 64            /* domains taken per scan */
#define RECHECK_AFTER 300      /* a stored policy is checked at most this often in the background */

typedef struct tp_job tp_job;

typedef struct tp_waiter {
	struct tp_waiter *next, **prevp;
	tp_job *job; /* NULL when not waiting */
	conn *c;
	sts_account_req acct;
	char map[SM_NAME_MAX + 1];
} tp_waiter;

struct tp_job {
	tp_job *next, *prev; /* all jobs */
	tp_job *qnext;       /* the run queue */
	int queued;
	tlspolicy *tp;
	sts_job *j;
	tp_waiter *waiters;
	loop_watch *fw; /* the fetch socket */
	int fw_fd;
	int64_t fetch_deadline;
};

typedef struct tp_entry {
	struct tp_entry *hnext;
	struct tp_entry *prev, *next; /* oldest first */
	int64_t expires_ms, refresh_ms;
	int used;
	int want_tlsa; /* an enforcing map asked: its refresh asks TLSA too */
	sts_state st;
	char domain[STS_NAME_MAX + 1];
	char names[]; /* the matched MX hosts, st.match points here */
} tp_entry;

struct tlspolicy {
	hookd *h;
	loop *l;
	dns_ctx *dns;
	loop_watch *dw;
	SSL_CTX *tls;
	sts_eval_conf ec;
	/* what the contexts were opened with, to notice a change at reload */
	char forward[CONF_PATH_MAX], ta[CONF_PATH_MAX], ca[CONF_PATH_MAX];
	tp_job *jobs, *runq;
	size_t n_jobs;
	tp_entry **buckets;
	size_t n_buckets, n_entries;
	tp_entry *oldest, *newest;
	time_t last_scan, last_stats;
	struct {
		unsigned long lookups, hits, misses, temp, testing, busy, evals, refreshes, fetches;
	} n;
};

static const sts_account_req PLAIN = {STS_REQ_NONE, 0, 0};

/* ---- the in-memory cache ---- */

static size_t hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static tp_entry *mcache_find(tlspolicy *tp, const char *domain)
{
	tp_entry *e;

	if (tp->buckets == NULL)
		return NULL;
	for (e = tp->buckets[hash(domain) & (tp->n_buckets - 1)]; e; e = e->hnext)
		if (strcmp(e->domain, domain) == 0)
			return e;
	return NULL;
}

static void mcache_del(tlspolicy *tp, tp_entry *e)
{
	tp_entry **pp = &tp->buckets[hash(e->domain) & (tp->n_buckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->prev)
		e->prev->next = e->next;
	else
		tp->oldest = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		tp->newest = e->prev;
	tp->n_entries--;
	free(e);
}

static void mcache_clear(tlspolicy *tp)
{
	while (tp->oldest)
		mcache_del(tp, tp->oldest);
}

static int mcache_setup(tlspolicy *tp)
{
	size_t n = 64;

	while (n < (size_t)tp->h->conf.tlspolicy_cache_size && n < BUCKETS_MAX)
		n *= 2;
	mcache_clear(tp);
	free(tp->buckets);
	tp->n_buckets = n;
	return (tp->buckets = calloc(n, sizeof(*tp->buckets))) == NULL ? -1 : 0;
}

/* Keep the facts of a finished evaluation (not when they say TEMP). */
static void mcache_put(tlspolicy *tp, const char *domain, const sts_facts *f, int want_tlsa)
{
	const hookd_conf *conf = &tp->h->conf;
	int64_t ttl = conf->tlspolicy_cache_ttl * 1000, now = dns_now_ms();
	sts_state st;
	size_t names = 0, off = 0;
	tp_entry *e, **b;

	sts_facts_state(&st, f);
	if (st.temp || st.mx_temp || tp->buckets == NULL)
		return;
	if (f->have_policy) {
		int64_t left = (f->policy_expires - (tp->ec.db ? acct_now(tp->ec.db) : (int64_t)time(NULL))) * 1000;
		if (left < ttl)
			ttl = left;
	} else {
		/* as long as the store says "no policy" (shorter after a failure) */
		int64_t neg = f->nopolicy_ttl > 0 && f->nopolicy_ttl < conf->mtasts_nopolicy_ttl ? f->nopolicy_ttl
		                                                                                 : conf->mtasts_nopolicy_ttl;
		if (neg * 1000 < ttl)
			ttl = neg * 1000;
	}
	if ((e = mcache_find(tp, domain)) != NULL)
		mcache_del(tp, e);
	if (ttl <= 0)
		return;
	while (tp->n_entries >= (size_t)conf->tlspolicy_cache_size && tp->oldest)
		mcache_del(tp, tp->oldest);
	for (size_t i = 0; i < st.n_match; i++)
		names += strlen(st.match[i]) + 1;
	if ((e = calloc(1, sizeof(*e) + names)) == NULL)
		return;
	e->st = st;
	for (size_t i = 0; i < st.n_match; i++) {
		size_t n = strlen(st.match[i]) + 1;
		memcpy(e->names + off, st.match[i], n);
		e->st.match[i] = e->names + off;
		off += n;
	}
	snprintf(e->domain, sizeof(e->domain), "%s", domain);
	e->want_tlsa = want_tlsa;
	e->expires_ms = now + ttl;
	/* re-evaluated in the background once 80% of its time has passed, or
	 * at least two ticks before it expires */
	e->refresh_ms = e->expires_ms - (ttl / 5 > 2000 ? ttl / 5 : 2000);
	b = &tp->buckets[hash(domain) & (tp->n_buckets - 1)];
	e->hnext = *b;
	*b = e;
	e->prev = tp->newest;
	if (tp->newest)
		tp->newest->next = e;
	else
		tp->oldest = e;
	tp->newest = e;
	tp->n_entries++;
}

/* ---- answers ---- */

static int reply(conn *c, const char *status, const char *data)
{
	char buf[STS_ANSWER_MAX + 64];
	long n = sm_reply(buf, sizeof(buf), status, data);

	if (n < 0) {
		n = sm_reply(buf, sizeof(buf), "TEMP", "answer does not fit the socketmap protocol");
		if (n < 0)
			return -1;
	}
	return conn_write(c, buf, (size_t)n);
}

/* Answer one map from a domain's state; counts what it answers. */
static int answer_state(tlspolicy *tp, conn *c, const char *map, const sts_account_req *acct, const char *domain,
                        const sts_state *st, int cached)
{
	char out[STS_ANSWER_MAX], why[STS_NAME_MAX + 128];
	const char *what;
	int strict = (int)tp->h->conf.mtasts_strict_testing;
	sts_eval_kind k = sts_state_answer(out, sizeof(out), st, acct, strict, &what);

	if (sts_state_testing_unenforced(st, strict))
		tp->n.testing++;
	hlog(LOG_DEBUG, "tlspolicy: %s %s: %s%s: %s", map, domain, cached ? "cached, " : "", what,
	     k == STS_EVAL_OK ? out : k == STS_EVAL_NOTFOUND ? "NOTFOUND" : "TEMP");
	switch (k) {
	case STS_EVAL_OK:
		return reply(c, "OK", out);
	case STS_EVAL_NOTFOUND:
		return reply(c, "NOTFOUND", NULL);
	case STS_EVAL_TEMP:
		break;
	}
	tp->n.temp++;
	snprintf(why, sizeof(why), "%s: %s", domain, what);
	return reply(c, "TEMP", why);
}

/* ---- jobs ---- */

static void job_wake(void *arg)
{
	tp_job *tj = arg;

	if (tj->queued)
		return;
	tj->queued = 1;
	tj->qnext = tj->tp->runq;
	tj->tp->runq = tj;
}

static void on_fetch_ready(void *arg, unsigned ready)
{
	tp_job *tj = arg;

	(void)ready;
	job_wake(tj);
}

static void run_queue(tlspolicy *tp);

static void on_dns_ready(void *arg, unsigned ready)
{
	tlspolicy *tp = arg;

	(void)ready;
	if (dns_process(tp->dns) != 0)
		hlog(LOG_WARNING, "tlspolicy: libunbound: cannot process answers");
	run_queue(tp);
}

static void job_watch(tp_job *tj)
{
	short ev;
	int64_t dl;
	int fd = sts_job_fd(tj->j, &ev, &dl);
	unsigned want = (ev & POLLIN ? LOOP_READ : 0) | (ev & POLLOUT ? LOOP_WRITE : 0);

	tj->fetch_deadline = fd >= 0 ? dl : -1;
	if (fd != tj->fw_fd) {
		loop_watch_del(tj->fw);
		tj->fw = NULL;
		tj->fw_fd = -1;
		if (fd >= 0 && (tj->fw = loop_watch_add(tj->tp->l, fd, want, on_fetch_ready, tj)) != NULL)
			tj->fw_fd = fd;
		/* without a watch the timer still steps it at its deadline */
	} else if (tj->fw) {
		(void)loop_watch_set(tj->fw, want);
	}
}

static void job_unlink(tlspolicy *tp, tp_job *tj)
{
	if (tj->prev)
		tj->prev->next = tj->next;
	else
		tp->jobs = tj->next;
	if (tj->next)
		tj->next->prev = tj->prev;
	tp->n_jobs--;
	if (tj->queued) {
		tp_job **pp = &tp->runq;
		while (*pp != tj)
			pp = &(*pp)->qnext;
		*pp = tj->qnext;
	}
	loop_watch_del(tj->fw);
	sts_job_free(tj->j);
	free(tj);
}

static void waiter_detach(tp_waiter *w)
{
	if (w->job == NULL)
		return;
	*w->prevp = w->next;
	if (w->next)
		w->next->prevp = w->prevp;
	w->job = NULL;
	w->next = NULL;
}

static const char *kind_name(sts_job_kind k)
{
	return k == STS_JOB_LOOKUP ? "lookup" : k == STS_JOB_REFRESH ? "refresh" : "policy refresh";
}

/* A job finished: log the decision, keep the facts, answer the waiters. */
static void job_done(tlspolicy *tp, tp_job *tj)
{
	const sts_facts *f = sts_job_facts(tj->j);
	const char *domain = sts_job_domain(tj->j), *what;
	sts_job_kind kind = sts_job_get_kind(tj->j);
	char out[STS_ANSWER_MAX];
	sts_state st;
	sts_eval_kind k;

	sts_facts_state(&st, f);
	k = sts_state_answer(out, sizeof(out), &st, &PLAIN, (int)tp->h->conf.mtasts_strict_testing, &what);
	if (f->fetched)
		tp->n.fetches++;
	if (kind == STS_JOB_POLICY) {
		hlog(f->temp ? LOG_WARNING : LOG_INFO, "tlspolicy: %s: %s: %s", domain, kind_name(kind), f->why);
	} else {
		hlog(st.temp || (st.mx_temp && k == STS_EVAL_TEMP) ? LOG_WARNING : LOG_INFO,
		     "tlspolicy: %s: %s: %s (%s)%s; %s", domain, kind_name(kind),
		     k == STS_EVAL_OK ? out : k == STS_EVAL_NOTFOUND ? "NOTFOUND" : "TEMP", what,
		     sts_state_testing_unenforced(&st, (int)tp->h->conf.mtasts_strict_testing)
		         ? ", mode testing: not enforced"
		         : "",
		     f->why);
		if (kind == STS_JOB_LOOKUP || !(st.temp || st.mx_temp))
			mcache_put(tp, domain, f, sts_job_wants_tlsa(tj->j));
		else
			hlog(LOG_WARNING, "tlspolicy: %s: refresh failed: answering from memory until it expires", domain);
	}
	while (tj->waiters) {
		tp_waiter *w = tj->waiters;
		conn *c = w->c;

		waiter_detach(w);
		if (answer_state(tp, c, w->map, &w->acct, domain, &st, 0) != 0)
			hlog(LOG_WARNING, "tlspolicy: %s: cannot queue the answer", conn_peer(c));
		conn_resume(c);
	}
	job_unlink(tp, tj);
}

static void run_queue(tlspolicy *tp)
{
	while (tp->runq) {
		tp_job *tj = tp->runq;

		tp->runq = tj->qnext;
		tj->queued = 0;
		tp->ec.db = hookd_db(tp->h);
		if (sts_job_step(tj->j, dns_now_ms()))
			job_done(tp, tj);
		else
			job_watch(tj);
	}
}

static tp_job *job_find(tlspolicy *tp, const char *domain)
{
	for (tp_job *tj = tp->jobs; tj; tj = tj->next)
		if (strcmp(sts_job_domain(tj->j), domain) == 0)
			return tj;
	return NULL;
}

/* A job a lookup can wait for: not a policy-only refresh, whose facts
 * have no MX hosts and no DANE to answer from. */
static tp_job *job_find_answering(tlspolicy *tp, const char *domain)
{
	for (tp_job *tj = tp->jobs; tj; tj = tj->next)
		if (sts_job_get_kind(tj->j) != STS_JOB_POLICY && strcmp(sts_job_domain(tj->j), domain) == 0)
			return tj;
	return NULL;
}

/* Start an evaluation; its first step runs at once (the lookups go out),
 * the rest from the loop.  NULL when out of memory. */
static tp_job *job_start(tlspolicy *tp, const char *domain, sts_job_kind kind)
{
	tp_job *tj = calloc(1, sizeof(*tj));

	if (tj == NULL)
		return NULL;
	tj->tp = tp;
	tj->fw_fd = -1;
	tj->fetch_deadline = -1;
	if (sts_job_new(&tj->j, &tp->ec, domain, kind, job_wake, tj) != 0) {
		free(tj);
		return NULL;
	}
	tj->next = tp->jobs;
	if (tp->jobs)
		tp->jobs->prev = tj;
	tp->jobs = tj;
	tp->n_jobs++;
	if (kind == STS_JOB_LOOKUP)
		tp->n.evals++;
	else
		tp->n.refreshes++;
	job_wake(tj);
	return tj;
}

/* Before each wait of the loop: DNS deadlines, fetch deadlines. */
static int tp_timer(void *ctx)
{
	tlspolicy *tp = ctx;
	int64_t now = dns_now_ms(), next = tp->dns ? dns_expire(tp->dns, now) : -1;

	for (tp_job *tj = tp->jobs; tj; tj = tj->next) {
		if (tj->fetch_deadline < 0)
			continue;
		if (tj->fetch_deadline <= now)
			job_wake(tj);
		else if (next < 0 || tj->fetch_deadline < next)
			next = tj->fetch_deadline;
	}
	run_queue(tp);
	if (tp->runq)
		return 0;
	return next < 0 ? -1 : (int)(next - now < 0 ? 0 : next - now > 1000 ? 1000 : next - now);
}

/* ---- the protocol ---- */

static int on_domain(tlspolicy *tp, conn *c, tp_waiter *w, const char *map, const sts_account_req *acct,
                     const char *domain)
{
	tp_entry *e = mcache_find(tp, domain);
	tp_job *tj;
	int strict = (int)tp->h->conf.mtasts_strict_testing;

	tp->n.lookups++;
	/* facts without DANE (TLSA left to Postfix on the plain map) answer
	 * an enforcing map only after a new evaluation that asks TLSA: its
	 * MX answer comes from libunbound's cache, the TXT is not asked
	 * while the store's negative entry lasts */
	if (e && dns_now_ms() < e->expires_ms && !sts_state_needs_tlsa(&e->st, acct, strict)) {
		tp->n.hits++;
		e->used = 1;
		if (sts_req_needs_tlsa(acct))
			e->want_tlsa = 1;
		return answer_state(tp, c, map, acct, domain, &e->st, 1);
	}
	tp->n.misses++;
	if ((tj = job_find_answering(tp, domain)) == NULL) {
		if (tp->n_jobs >= (size_t)tp->h->conf.tlspolicy_max_jobs || (tj = job_start(tp, domain, STS_JOB_LOOKUP)) == NULL) {
			tp->n.busy++;
			tp->n.temp++;
			hlog(LOG_WARNING, "tlspolicy: %s: %zu evaluations in flight: temporary failure", domain, tp->n_jobs);
			return reply(c, "TEMP", "too many TLS policy lookups in flight");
		}
	}
	if (sts_req_needs_tlsa(acct) && !sts_job_wants_tlsa(tj->j))
		sts_job_want_tlsa(tj->j); /* wakes it: run from the loop */
	w->c = c;
	w->acct = *acct;
	snprintf(w->map, sizeof(w->map), "%s", map);
	w->job = tj;
	w->next = tj->waiters;
	w->prevp = &tj->waiters;
	if (tj->waiters)
		tj->waiters->prevp = &w->next;
	tj->waiters = w;
	conn_hold(c);
	return 0;
}

static ssize_t tp_data(conn *c, const char *buf, size_t len)
{
	tlspolicy *tp = conn_ctx(c);
	tp_waiter *w = conn_state(c);
	size_t used = 0;

	while (used < len && w->job == NULL) {
		static sm_request q;
		char domain[STS_NAME_MAX + 1], out[STS_ANSWER_MAX];
		sts_account_req acct;
		const char *err;
		size_t n = 0;
		proto_status st = sm_parse(&q, buf + used, len - used, &n, &err);
		int r;

		if (st == PROTO_NEED_MORE)
			break;
		used += n;
		if (st == PROTO_ERROR) {
			hlog(LOG_WARNING, "tlspolicy: %s: malformed request (%s): closing", conn_peer(c), err);
			return -1;
		}
		if (sts_map_parse(&acct, q.name) != 0) {
			hlog(LOG_WARNING, "tlspolicy: %s: unknown map name %s", conn_peer(c), q.name);
			r = reply(c, "PERM",
			          "unknown map name; accepted: tls-policy tls-policy-none tls-policy-encrypt "
			          "tls-policy-encrypt13 tls-policy-verify tls-policy-verify13");
		} else {
			switch (sts_key_parse(domain, q.key)) {
			case STS_KEY_DOMAIN:
				r = on_domain(tp, c, w, q.name, &acct, domain);
				break;
			case STS_KEY_PARENT:
				r = reply(c, "NOTFOUND", NULL);
				break;
			case STS_KEY_LITERAL:
				/* no MX lookup, no MTA-STS: the account's own level */
				r = sts_answer(out, sizeof(out), &acct, 0, NULL, NULL, 0) == STS_ANSWER_OK ? reply(c, "OK", out)
				                                                                          : reply(c, "NOTFOUND", NULL);
				break;
			default:
				r = reply(c, "PERM", "not a domain name or next-hop");
				break;
			}
		}
		if (r != 0)
			return -1;
	}
	return (ssize_t)used;
}

static void tp_close(conn *c)
{
	waiter_detach(conn_state(c)); /* its job finishes without it */
}

const proto tlspolicy_proto = {"tlspolicy", SM_REQUEST_MAX + 16, sizeof(tp_waiter), NULL, tp_data, tp_close};

/* ---- set-up, reload, tick ---- */

static void opt_copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src);
}

/* Open the DNS and TLS contexts from h->conf; on failure nothing changes. */
static int contexts_open(tlspolicy *tp, char *err, size_t errlen)
{
	const hookd_conf *c = &tp->h->conf;
	dns_conf dc = {c->dns_forward[0] ? c->dns_forward : NULL,
	               c->dns_trust_anchor_file[0] ? c->dns_trust_anchor_file : NULL, NULL};
	dns_ctx *dns = NULL;
	SSL_CTX *tls;
	loop_watch *dw;

	FILE *f;

	/* libunbound reads it at the first lookup: a missing file would only
	 * show then, as every lookup failing */
	if (c->dns_trust_anchor_file[0]) {
		if ((f = fopen(c->dns_trust_anchor_file, "r")) == NULL) {
			snprintf(err, errlen, "dns_trust_anchor_file %s: %s (Debian's root key is in dns-root-data)",
			         c->dns_trust_anchor_file, strerror(errno));
			return -1;
		}
		fclose(f);
	}
	if ((tls = sts_fetch_ssl_ctx(c->mtasts_ca_file[0] ? c->mtasts_ca_file : NULL, err, errlen)) == NULL)
		return -1;
	if (dns_open(&dns, &dc, err, errlen) != 0) {
		SSL_CTX_free(tls);
		return -1;
	}
	if ((dw = loop_watch_add(tp->l, dns_fd(dns), LOOP_READ, on_dns_ready, tp)) == NULL) {
		snprintf(err, errlen, "cannot watch the DNS context");
		dns_close(dns);
		SSL_CTX_free(tls);
		return -1;
	}
	loop_watch_del(tp->dw);
	dns_close(tp->dns); /* cancels without callbacks: the jobs were failed before */
	SSL_CTX_free(tp->tls);
	tp->dns = dns;
	tp->dw = dw;
	tp->tls = tls;
	tp->ec.dns = dns;
	tp->ec.tls = tls;
	opt_copy(tp->forward, sizeof(tp->forward), c->dns_forward);
	opt_copy(tp->ta, sizeof(tp->ta), c->dns_trust_anchor_file);
	opt_copy(tp->ca, sizeof(tp->ca), c->mtasts_ca_file);
	return 0;
}

static void conf_apply(tlspolicy *tp)
{
	const hookd_conf *c = &tp->h->conf;

	tp->ec.https_port = (int)c->mtasts_https_port;
	tp->ec.strict_testing = (int)c->mtasts_strict_testing;
	tp->ec.timeout_ms = (int)c->mtasts_timeout;
	tp->ec.nopolicy_ttl = c->mtasts_nopolicy_ttl;
	tp->ec.failure_ttl = c->mtasts_failure_ttl;
	tp->ec.postfix_dane = (int)c->tlspolicy_postfix_dane;
}

int tlspolicy_new(tlspolicy **out, loop *l, hookd *h, char *err, size_t errlen)
{
	tlspolicy *tp = calloc(1, sizeof(*tp));

	*out = NULL;
	if (tp == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	tp->h = h;
	tp->l = l;
	tp->last_scan = tp->last_stats = time(NULL);
	conf_apply(tp);
	if (mcache_setup(tp) != 0) {
		snprintf(err, errlen, "out of memory");
		free(tp);
		return -1;
	}
	if (contexts_open(tp, err, errlen) != 0) {
		free(tp->buckets);
		free(tp);
		return -1;
	}
	loop_set_timer(l, tp_timer, tp);
	*out = tp;
	return 0;
}

/* Fail every evaluation in flight (TEMP to whoever waits). */
static void jobs_abort(tlspolicy *tp, const char *why)
{
	while (tp->jobs) {
		tp_job *tj = tp->jobs;

		while (tj->waiters) {
			tp_waiter *w = tj->waiters;
			waiter_detach(w);
			tp->n.temp++;
			(void)reply(w->c, "TEMP", why);
			conn_resume(w->c);
		}
		job_unlink(tp, tj);
	}
	tp->runq = NULL;
	dns_cancel_all(tp->dns); /* no answer may reach a job freed here */
}

void tlspolicy_reload(tlspolicy *tp)
{
	const hookd_conf *c = &tp->h->conf;
	char err[512];

	conf_apply(tp);
	if (strcmp(c->dns_forward, tp->forward) != 0 || strcmp(c->dns_trust_anchor_file, tp->ta) != 0 ||
	    strcmp(c->mtasts_ca_file, tp->ca) != 0) {
		jobs_abort(tp, "TLS policy service reloading");
		if (contexts_open(tp, err, sizeof(err)) != 0)
			hlog(LOG_ERR, "tlspolicy: reload: %s (keeping the DNS and TLS settings in use)", err);
		else
			hlog(LOG_INFO, "tlspolicy: DNS and TLS contexts reopened");
	}
	if (mcache_setup(tp) != 0)
		hlog(LOG_ERR, "tlspolicy: out of memory: no in-memory cache");
}

typedef struct scan {
	int64_t now;
	size_t n;
	char domains[SCAN_MAX][STS_NAME_MAX + 1];
} scan;

static int scan_one(const acct_sts_entry *e, void *ctx)
{
	scan *s = ctx;
	int64_t window = e->max_age / 4;

	if (window > 86400)
		window = 86400;
	if (e->expires > s->now + 86400 || s->n == SCAN_MAX)
		return 1; /* soonest first: nothing later is due */
	if (e->kind == ACCT_STS_POLICY && e->expires - s->now <= window && e->checked_at + RECHECK_AFTER <= s->now &&
	    e->expires > s->now - 86400)
		snprintf(s->domains[s->n++], sizeof(s->domains[0]), "%s", e->domain);
	return 0;
}

/* The store's policies near their max_age, fetched again in the background. */
static void scan_store(tlspolicy *tp)
{
	static scan s;
	acct_db *db = hookd_db(tp->h);

	if (db == NULL)
		return;
	s.now = acct_now(db);
	s.n = 0;
	(void)acct_sts_foreach(db, scan_one, &s);
	for (size_t i = 0; i < s.n; i++) {
		if (tp->n_jobs >= (size_t)tp->h->conf.tlspolicy_max_jobs / 4 + 1)
			break;
		if (job_find(tp, s.domains[i]) == NULL)
			(void)job_start(tp, s.domains[i], STS_JOB_POLICY);
	}
}

void tlspolicy_stats(tlspolicy *tp)
{
	hlog(LOG_INFO,
	     "tlspolicy: stats: lookups=%lu hits=%lu misses=%lu temp=%lu testing-not-enforced=%lu busy=%lu "
	     "evaluations=%lu refreshes=%lu fetches=%lu in-flight=%zu cached=%zu",
	     tp->n.lookups, tp->n.hits, tp->n.misses, tp->n.temp, tp->n.testing, tp->n.busy, tp->n.evals,
	     tp->n.refreshes, tp->n.fetches, tp->n_jobs, tp->n_entries);
}

void tlspolicy_tick(tlspolicy *tp)
{
	int64_t now = dns_now_ms();
	time_t t = time(NULL);
	tp_entry *e, *next;
	size_t room = (size_t)tp->h->conf.tlspolicy_max_jobs / 2 + 1;

	for (e = tp->oldest; e; e = next) {
		next = e->next;
		if (now >= e->expires_ms) {
			mcache_del(tp, e);
			continue;
		}
		if (e->used && now >= e->refresh_ms && tp->n_jobs < room && job_find(tp, e->domain) == NULL) {
			tp_job *tj;
			e->refresh_ms = e->expires_ms; /* one refresh per entry */
			if ((tj = job_start(tp, e->domain, STS_JOB_REFRESH)) != NULL && e->want_tlsa)
				sts_job_want_tlsa(tj->j);
		}
	}
	if (t >= tp->last_scan + SCAN_EVERY) {
		tp->last_scan = t;
		scan_store(tp);
	}
	if (tp->h->conf.tlspolicy_stats_interval > 0 && t >= tp->last_stats + tp->h->conf.tlspolicy_stats_interval) {
		tp->last_stats = t;
		tlspolicy_stats(tp);
	}
	run_queue(tp);
}

void tlspolicy_free(tlspolicy *tp)
{
	if (tp == NULL)
		return;
	loop_set_timer(tp->l, NULL, NULL);
	/* close DNS first: no callback may reach a job freed below */
	loop_watch_del(tp->dw);
	dns_close(tp->dns);
	tp->dns = NULL;
	while (tp->jobs) {
		tp_job *tj = tp->jobs;
		while (tj->waiters)
			waiter_detach(tj->waiters); /* the connections are closed by the loop */
		job_unlink(tp, tj);
	}
	mcache_clear(tp);
	free(tp->buckets);
	SSL_CTX_free(tp->tls);
	free(tp);
}

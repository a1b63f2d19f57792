/*
 * The evaluation of a domain as a job (see sts_eval.h).  Two halves run
 * side by side, each a small state machine:
 *
 *   the policy:  P_START  the cache (a LOOKUP uses an unexpired policy or
 *                         negative entry as it is);
 *                P_TXT    the TXT record, and sts_decide_txt();
 *                P_ADDR   the A record of mta-sts.DOMAIN;
 *                P_FETCH  the HTTPS fetch; the result stored, or
 *                         sts_decide_fetch_failed();
 *   the hosts:   M_MX     the MX hosts (no MX: the domain itself, RFC
 *                         5321 section 5.1);
 *                M_TLSA   DANE: a DNSSEC-secure MX set and secure TLSA
 *                         records for one of its hosts.
 *
 * Both start in the first step, so the TXT and MX lookups are in flight
 * together.  DNS callbacks only record their answer (and wake the
 * driver); every decision is taken in sts_job_step(), outside libunbound.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "sts_eval.h"
#include "sts_fetch.h"

/* One lookup of the job: its answer, copied (dns.h dns_answer). */
typedef struct lookup {
	struct sts_job *job;
	int started, keep;
	dns_answer a;
} lookup;

enum pstate { P_START, P_TXT, P_ADDR, P_FETCH, P_DONE };
enum mstate { M_START, M_MX, M_DECIDE, M_TLSA, M_DONE };

struct sts_job {
	const sts_eval_conf *c;
	sts_job_kind kind;
	char domain[STS_NAME_MAX + 1];
	void (*wake)(void *);
	void *wake_arg;
	enum pstate ps;
	enum mstate ms;
	int want_tlsa; /* an answer needs DANE known (an enforcing map) */
	sts_cached cached;
	char *cached_policy;
	size_t cached_len;
	int64_t cached_fetched_at, cached_max_age;
	char txt_id[STS_ID_MAX + 1];
	lookup txt, addr, mx, tlsa[STS_EVAL_MX_MAX];
	sts_fetch *fetch;
	int64_t fetch_deadline;
	sts_policy pol;
	sts_facts f;
};

#define WHY(...) \
	snprintf(j->f.why + strlen(j->f.why), sizeof(j->f.why) - strlen(j->f.why), __VA_ARGS__)

static void lookup_clear(lookup *l)
{
	dns_answer_clear(&l->a);
}

static void on_answer(void *arg, const dns_result *r)
{
	lookup *l = arg;

	dns_answer_set(&l->a, r, l->keep);
	if (l->job->wake)
		l->job->wake(l->job->wake_arg);
}

static void ask(sts_job *j, lookup *l, const char *name, int type, int keep)
{
	lookup_clear(l);
	l->job = j;
	l->keep = keep;
	l->started = 1;
	if (dns_resolve(j->c->dns, name, type, dns_now_ms() + j->c->timeout_ms, on_answer, l) != 0)
		dns_answer_fail(&l->a, "cannot start the lookup");
}

static int64_t wall(const sts_job *j)
{
	return j->c->db ? acct_now(j->c->db) : (int64_t)time(NULL);
}

/* ---- the policy half ---- */

static void use_policy(sts_job *j, const char *body, size_t len, const char *what)
{
	const char *perr;

	if (body == NULL || sts_policy_parse(&j->pol, body, len, &perr) != 0) {
		j->f.temp = 1;
		WHY("%s policy unreadable; ", what);
		return;
	}
	j->f.have_policy = 1;
	j->f.mode = j->pol.mode;
}

static void use_cached(sts_job *j, int64_t now)
{
	use_policy(j, j->cached_policy, j->cached_len, "cached");
	if (!j->f.have_policy)
		return;
	snprintf(j->f.id, sizeof(j->f.id), "%s", j->cached.id);
	j->f.policy_expires = j->cached.expires;
	j->f.policy_max_age = j->cached_max_age;
	WHY("cached policy id=%s, %lld s old; ", j->cached.id, (long long)(now - j->cached_fetched_at));
}

static void policy_start(sts_job *j, int64_t now)
{
	acct_sts_entry *e = NULL;
	char name[DNS_NAME_MAX + 16];

	if (j->c->db == NULL) {
		j->f.temp = 1;
		WHY("the store is unavailable; ");
		j->ps = P_DONE;
		return;
	}
	if (acct_sts_get(&e, j->c->db, j->domain) == ACCT_OK) {
		j->cached.kind = e->kind == ACCT_STS_POLICY ? STS_CACHED_POLICY : STS_CACHED_NOPOLICY;
		j->cached.expires = e->expires;
		j->cached_fetched_at = e->fetched_at;
		j->cached_max_age = e->max_age;
		if (e->id)
			snprintf(j->cached.id, sizeof(j->cached.id), "%s", e->id);
		if (e->policy && (j->cached_policy = malloc(e->policy_len + 1)) != NULL) {
			memcpy(j->cached_policy, e->policy, e->policy_len);
			j->cached_len = e->policy_len;
		}
	}
	acct_sts_entry_free(e);
	if (j->kind == STS_JOB_LOOKUP && sts_cached_fresh(&j->cached, now)) {
		j->f.from_cache = 1;
		use_cached(j, now);
		j->ps = P_DONE;
		return;
	}
	if (j->kind == STS_JOB_LOOKUP && j->cached.kind == STS_CACHED_NOPOLICY && now < j->cached.expires) {
		WHY("cached: no policy; ");
		j->f.nopolicy_ttl = j->cached.expires - now;
		j->ps = P_DONE;
		return;
	}
	snprintf(name, sizeof(name), "_mta-sts.%s", j->domain);
	ask(j, &j->txt, name, DNS_RR_TXT, 1);
	j->ps = P_TXT;
}

static sts_dns txt_result(sts_job *j)
{
	char txt[DNS_ANSWER_KEEP][STS_TXT_MAX + 1];
	const char *recs[DNS_ANSWER_KEEP], *err = NULL;
	size_t lens[DNS_ANSWER_KEEP], n = 0;
	lookup *l = &j->txt;

	if (l->a.status == DNS_TEMPFAIL || l->a.status == DNS_BOGUS) {
		WHY("TXT _mta-sts.%s: %s; ", j->domain, l->a.why);
		return STS_DNS_TEMPFAIL;
	}
	if (l->a.status != DNS_OK) {
		WHY("TXT _mta-sts.%s: %s; ", j->domain, dns_status_name(l->a.status));
		return STS_DNS_ABSENT;
	}
	for (size_t i = 0; i < l->a.n; i++) {
		long k = dns_txt_join(txt[n], sizeof(txt[n]), l->a.data[i], l->a.len[i]);
		if (k < 0)
			continue;
		recs[n] = txt[n];
		lens[n++] = (size_t)k;
	}
	switch (sts_txt_parse(j->txt_id, recs, lens, n, &err)) {
	case STS_TXT_FOUND:
		WHY("TXT id=%s; ", j->txt_id);
		return STS_DNS_FOUND;
	case STS_TXT_INVALID:
		WHY("TXT _mta-sts.%s invalid: %s; ", j->domain, err);
		return STS_DNS_INVALID;
	case STS_TXT_ABSENT:
		break;
	}
	WHY("TXT _mta-sts.%s: no v=STSv1 record; ", j->domain);
	return STS_DNS_ABSENT;
}

/* The cached policy is in the last quarter of its max_age (at most a day
 * before it expires): a refresh fetches it again, even for the same id. */
static int due_for_refetch(const sts_job *j, int64_t now)
{
	int64_t window = j->cached_max_age / 4;

	if (window > 86400)
		window = 86400;
	return j->cached.kind == STS_CACHED_POLICY && j->cached.expires - now <= window;
}

/* No policy, because of a failure (the TXT lookup, the fetch) for a
 * domain that never had one: not TEMP (RFC 8461: such a domain is not
 * deferred), stored as no policy for the short failure_ttl (at most
 * nopolicy_ttl), so that the lookups meanwhile do not fetch again and a
 * repaired policy server is seen soon.  err is kept as the entry's last
 * error. */
static void no_policy_after_failure(sts_job *j, const char *err)
{
	int64_t ttl = j->c->failure_ttl > 0 && j->c->failure_ttl < j->c->nopolicy_ttl ? j->c->failure_ttl
	                                                                               : j->c->nopolicy_ttl;

	if (ttl < 1)
		ttl = 1;
	j->f.nopolicy_ttl = ttl;
	if (j->c->db == NULL)
		return;
	if (acct_sts_put_nopolicy(j->c->db, j->domain, ttl) != ACCT_OK) {
		WHY("(not cached: %s) ", acct_errmsg(j->c->db));
		return;
	}
	WHY("no policy for %lld s; ", (long long)ttl);
	(void)acct_sts_touch(j->c->db, j->domain, err);
}

static void fetch_failed(sts_job *j, int64_t now, const char *err)
{
	sts_action act = sts_decide_fetch_failed(&j->cached, now);

	WHY("fetch failed: %s; ", err);
	if (j->c->db && act != STS_NO_POLICY)
		(void)acct_sts_touch(j->c->db, j->domain, err);
	switch (act) {
	case STS_USE_CACHED:
		use_cached(j, now);
		break;
	case STS_DEFER:
		j->f.temp = 1;
		WHY("expired policy cannot be refreshed; ");
		break;
	default: /* never had a policy: none, for a short time */
		no_policy_after_failure(j, err);
		break;
	}
	j->ps = P_DONE;
}

static void policy_txt(sts_job *j, int64_t now)
{
	sts_dns t = txt_result(j);
	sts_action act = sts_decide_txt(&j->cached, now, t, j->txt_id);
	char name[DNS_NAME_MAX + 16];

	if (act == STS_USE_CACHED && t == STS_DNS_FOUND && due_for_refetch(j, now)) {
		WHY("policy due for refresh; ");
		act = STS_FETCH;
	}
	switch (act) {
	case STS_FETCH:
		snprintf(name, sizeof(name), "mta-sts.%s", j->domain);
		ask(j, &j->addr, name, DNS_RR_A, 1);
		j->ps = P_ADDR;
		return;
	case STS_USE_CACHED:
		if (j->c->db)
			(void)acct_sts_touch(j->c->db, j->domain, t == STS_DNS_TEMPFAIL ? j->txt.a.why : NULL);
		use_cached(j, now);
		break;
	case STS_NO_POLICY:
		if (t == STS_DNS_TEMPFAIL) { /* never had a policy, and DNS failed */
			no_policy_after_failure(j, j->txt.a.why);
			break;
		}
		j->f.nopolicy_ttl = j->c->nopolicy_ttl;
		if (j->c->db && acct_sts_put_nopolicy(j->c->db, j->domain, j->c->nopolicy_ttl) != ACCT_OK)
			WHY("(not cached: %s) ", acct_errmsg(j->c->db));
		break;
	case STS_DEFER:
		j->f.temp = 1;
		WHY("expired policy cannot be confirmed; ");
		break;
	}
	j->ps = P_DONE;
}

static void policy_addr(sts_job *j, int64_t now)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char err[1200];

	if (j->addr.a.status != DNS_OK || j->addr.a.n == 0 || j->addr.a.len[0] != 4) {
		snprintf(err, sizeof(err), "A mta-sts.%s: %s", j->domain,
		         j->addr.a.status == DNS_OK ? "malformed" : j->addr.a.why);
		fetch_failed(j, now, err);
		return;
	}
	memcpy(&sa.sin_addr, j->addr.a.data[0], 4);
	sa.sin_port = htons((uint16_t)j->c->https_port);
	j->fetch_deadline = dns_now_ms() + j->c->timeout_ms;
	if (sts_fetch_start(&j->fetch, j->c->tls, j->domain, (struct sockaddr *)&sa, sizeof(sa), j->fetch_deadline, err,
	                    sizeof(err)) != 0) {
		fetch_failed(j, now, err);
		return;
	}
	j->ps = P_FETCH;
}

static void policy_fetch(sts_job *j, int64_t now, int64_t now_ms)
{
	const char *body, *perr;
	char err[1200];
	size_t len;

	switch (sts_fetch_step(j->fetch, now_ms)) {
	case STS_FETCH_MORE:
		return;
	case STS_FETCH_FAILED:
		snprintf(err, sizeof(err), "%s", sts_fetch_error(j->fetch));
		break;
	case STS_FETCH_DONE:
		body = sts_fetch_body(j->fetch, &len);
		if (sts_policy_parse(&j->pol, body, len, &perr) != 0) {
			snprintf(err, sizeof(err), "policy of %s refused: %s", j->domain, perr);
			break;
		}
		if (j->c->db && acct_sts_put_policy(j->c->db, j->domain, j->txt_id, body, len, sts_mode_name(j->pol.mode),
		                                    j->pol.max_age) != ACCT_OK)
			WHY("(not cached: %s) ", acct_errmsg(j->c->db));
		WHY("fetched policy mode %s max_age %u; ", sts_mode_name(j->pol.mode), j->pol.max_age);
		j->f.have_policy = 1;
		j->f.fetched = 1;
		j->f.mode = j->pol.mode;
		snprintf(j->f.id, sizeof(j->f.id), "%s", j->txt_id);
		j->f.policy_expires = now + j->pol.max_age;
		j->f.policy_max_age = j->pol.max_age;
		sts_fetch_free(j->fetch);
		j->fetch = NULL;
		j->ps = P_DONE;
		return;
	}
	sts_fetch_free(j->fetch);
	j->fetch = NULL;
	fetch_failed(j, now, err);
}

/* ---- the hosts half ---- */

static void hosts_mx(sts_job *j)
{
	lookup *l = &j->mx;

	j->f.n_mx = 0;
	if (l->a.status == DNS_OK) {
		for (size_t i = 0; i < l->a.n && j->f.n_mx < STS_EVAL_MX_MAX; i++) {
			int pref;
			char name[DNS_NAME_MAX + 1];
			if (dns_mx_parse(&pref, name, l->a.data[i], l->a.len[i]) == 0 && name[0] != '\0')
				snprintf(j->f.mx[j->f.n_mx++], sizeof(j->f.mx[0]), "%s", name);
		}
	} else if (l->a.status == DNS_NODATA) {
		snprintf(j->f.mx[j->f.n_mx++], sizeof(j->f.mx[0]), "%s", j->domain);
	} else if (l->a.status == DNS_TEMPFAIL || l->a.status == DNS_BOGUS) {
		j->f.mx_temp = 1;
		WHY("MX %s: %s; ", j->domain, l->a.why);
	}
	if (l->a.status != DNS_OK || !l->a.secure || j->f.n_mx == 0) {
		WHY("MX not DNSSEC-secure: no DANE; ");
		j->ms = M_DONE;
		return;
	}
	j->ms = M_DECIDE;
}

/* Is the domain's MTA-STS policy, as far as it is known, one an answer
 * enforces?  -1 while the TXT record (or the cache) has not told yet. */
static int policy_enforced(const sts_job *j)
{
	switch (j->ps) {
	case P_START:
	case P_TXT:
		return -1;
	case P_ADDR:
	case P_FETCH:
		return 1; /* a policy is being fetched: take it as one (TLSA in parallel) */
	case P_DONE:
		break;
	}
	return !j->f.temp && j->f.have_policy &&
	       (j->f.mode == STS_MODE_ENFORCE || (j->f.mode == STS_MODE_TESTING && j->c->strict_testing));
}

/* A DNSSEC-secure MX set: ask the TLSA records, unless no answer needs
 * them.  The plain map's transport runs at Postfix's `dane` level
 * (conf postfix_dane), which looks TLSA up and does DANE itself: without
 * an enforced policy the answer there is NOTFOUND whatever TLSA says, so
 * asking would only cost a second round trip.  An enforced policy needs
 * them (DANE first: `dane`, never `secure`), and so does any enforcing
 * map (`dane-only` or `encrypt`): sts_job_want_tlsa(). */
static void hosts_decide(sts_job *j)
{
	int need = j->want_tlsa || !j->c->postfix_dane;

	if (!need) {
		int e = policy_enforced(j);
		if (e < 0)
			return; /* wait for the TXT answer */
		need = e;
	}
	if (!need) {
		j->f.tlsa_skipped = 1;
		WHY("TLSA not asked: no enforced policy, DANE left to Postfix's dane level; ");
		j->ms = M_DONE;
		return;
	}
	j->f.tlsa_skipped = 0;
	for (size_t i = 0; i < j->f.n_mx; i++) {
		char name[DNS_NAME_MAX + 16];
		snprintf(name, sizeof(name), "_25._tcp.%s", j->f.mx[i]);
		ask(j, &j->tlsa[i], name, DNS_RR_TLSA, 0);
	}
	j->ms = M_TLSA;
}

static void hosts_tlsa(sts_job *j)
{
	for (size_t i = 0; i < j->f.n_mx; i++)
		if (!j->tlsa[i].a.done)
			return;
	for (size_t i = 0; i < j->f.n_mx; i++) {
		if (j->tlsa[i].a.status == DNS_OK && j->tlsa[i].a.secure) {
			WHY("DANE: secure TLSA for %s; ", j->f.mx[i]);
			j->f.dane = 1;
			break;
		}
	}
	if (!j->f.dane)
		WHY("no secure TLSA for the MX hosts; ");
	j->ms = M_DONE;
}

/* ---- the job ---- */

int sts_job_new(sts_job **out, const sts_eval_conf *conf, const char *domain, sts_job_kind kind,
                void (*wake)(void *arg), void *arg)
{
	sts_job *j = calloc(1, sizeof(*j));

	*out = NULL;
	if (j == NULL)
		return -1;
	j->c = conf;
	j->kind = kind;
	snprintf(j->domain, sizeof(j->domain), "%s", domain);
	j->wake = wake;
	j->wake_arg = arg;
	j->ms = kind == STS_JOB_POLICY ? M_DONE : M_START;
	j->f.postfix_dane = conf->postfix_dane;
	*out = j;
	return 0;
}

void sts_job_set_mx(sts_job *j, const dns_result *r)
{
	if (j->ms != M_START)
		return;
	lookup_clear(&j->mx);
	j->mx.job = j;
	j->mx.keep = 1;
	j->mx.started = 1;
	dns_answer_set(&j->mx.a, r, 1);
	j->ms = M_MX;
}

static void finish(sts_job *j)
{
	j->f.match = 0;
	if (!j->f.have_policy)
		return;
	for (size_t i = 0; i < j->f.n_mx; i++)
		for (size_t k = 0; k < j->pol.n_mx; k++)
			if (sts_mx_match(j->pol.mx[k], j->f.mx[i])) {
				j->f.match |= 1u << i;
				break;
			}
}

int sts_job_step(sts_job *j, int64_t now_ms)
{
	int64_t now = wall(j);
	int progress = 1;

	while (progress) {
		enum pstate ps = j->ps;
		enum mstate ms = j->ms;

		if (j->ms == M_START) {
			ask(j, &j->mx, j->domain, DNS_RR_MX, 1);
			j->ms = M_MX;
		}
		switch (j->ps) {
		case P_START:
			policy_start(j, now);
			break;
		case P_TXT:
			if (j->txt.a.done)
				policy_txt(j, now);
			break;
		case P_ADDR:
			if (j->addr.a.done)
				policy_addr(j, now);
			break;
		case P_FETCH:
			policy_fetch(j, now, now_ms);
			break;
		case P_DONE:
			break;
		}
		if (j->ms == M_MX && j->mx.a.done)
			hosts_mx(j);
		else if (j->ms == M_DECIDE)
			hosts_decide(j);
		else if (j->ms == M_TLSA)
			hosts_tlsa(j);
		progress = j->ps != ps || j->ms != ms;
	}
	if (j->ps != P_DONE || j->ms != M_DONE)
		return 0;
	finish(j);
	return 1;
}

int sts_job_fd(const sts_job *j, short *events, int64_t *deadline_ms)
{
	*events = 0;
	*deadline_ms = -1;
	if (j->ps != P_FETCH || j->fetch == NULL)
		return -1;
	*events = sts_fetch_events(j->fetch);
	*deadline_ms = j->fetch_deadline;
	return sts_fetch_fd(j->fetch);
}

void sts_job_want_tlsa(sts_job *j)
{
	j->want_tlsa = 1;
	if (j->ms == M_DONE && j->f.tlsa_skipped) {
		j->f.tlsa_skipped = 0;
		j->ms = M_DECIDE;
	}
	if (j->wake)
		j->wake(j->wake_arg);
}

int sts_job_wants_tlsa(const sts_job *j)
{
	return j->want_tlsa;
}

const char *sts_job_domain(const sts_job *j)
{
	return j->domain;
}

sts_job_kind sts_job_get_kind(const sts_job *j)
{
	return j->kind;
}

const sts_facts *sts_job_facts(const sts_job *j)
{
	return &j->f;
}

void sts_job_free(sts_job *j)
{
	if (j == NULL)
		return;
	lookup_clear(&j->txt);
	lookup_clear(&j->addr);
	lookup_clear(&j->mx);
	for (size_t i = 0; i < STS_EVAL_MX_MAX; i++)
		lookup_clear(&j->tlsa[i]);
	sts_fetch_free(j->fetch);
	free(j->cached_policy);
	free(j);
}

/* ---- answering from the facts ---- */

void sts_facts_state(sts_state *out, const sts_facts *f)
{
	memset(out, 0, sizeof(*out));
	out->temp = f->temp;
	out->have_policy = f->have_policy;
	out->mode = f->mode;
	out->dane = f->dane;
	out->tlsa_skipped = f->tlsa_skipped;
	out->postfix_dane = f->postfix_dane;
	out->mx_temp = f->mx_temp;
	for (size_t i = 0; i < f->n_mx; i++)
		if (f->match & (1u << i))
			out->match[out->n_match++] = f->mx[i];
}

static int enforced(const sts_state *s, int strict_testing)
{
	return s->have_policy && (s->mode == STS_MODE_ENFORCE || (s->mode == STS_MODE_TESTING && strict_testing));
}

int sts_state_needs_tlsa(const sts_state *s, const sts_account_req *acct, int strict_testing)
{
	return s->tlsa_skipped && (sts_req_needs_tlsa(acct) || enforced(s, strict_testing));
}

int sts_state_testing_unenforced(const sts_state *s, int strict_testing)
{
	return s->have_policy && s->mode == STS_MODE_TESTING && !strict_testing;
}

sts_eval_kind sts_state_answer(char *out, size_t outlen, const sts_state *s, const sts_account_req *acct,
                               int strict_testing, const char **why)
{
	static sts_policy pol; /* the matched hosts as exact patterns: same answer, no copy of the policy kept */
	int enforce = enforced(s, strict_testing), left;

	out[0] = '\0';
	if (s->temp) {
		*why = "MTA-STS policy cannot be confirmed: defer";
		return STS_EVAL_TEMP;
	}
	if (s->mx_temp && (enforce || acct->tls != STS_REQ_NONE)) {
		*why = "MX lookup failed: defer";
		return STS_EVAL_TEMP;
	}
	if (sts_state_needs_tlsa(s, acct, strict_testing)) {
		/* never guess DANE: the caller evaluates again with TLSA */
		*why = "DANE not known (TLSA not asked): defer";
		return STS_EVAL_TEMP;
	}
	if (enforce) {
		pol.mode = STS_MODE_ENFORCE;
		pol.n_mx = s->n_match;
		for (size_t i = 0; i < s->n_match; i++)
			snprintf(pol.mx[i], sizeof(pol.mx[i]), "%s", s->match[i]);
	}
	/* the plain map's transport at Postfix's dane level: without an
	 * enforced policy the same answer whether TLSA was asked or not
	 * (not tls-policy-none: its transport, at level none, does no DANE) */
	left = s->postfix_dane && !sts_req_needs_tlsa(acct) && !enforce;
	switch (sts_answer(out, outlen, acct, s->dane && !left, enforce ? &pol : NULL, s->match, s->n_match)) {
	case STS_ANSWER_OK:
		*why = s->dane ? "DANE" : enforce ? "MTA-STS enforced" : "the account's requirement";
		return STS_EVAL_OK;
	case STS_ANSWER_NOTFOUND:
		*why = left && (s->tlsa_skipped || s->dane) ? "no requirement (DANE left to Postfix's dane level)"
		                                             : "no requirement";
		return STS_EVAL_NOTFOUND;
	case STS_ANSWER_NOMATCH:
		*why = "no MX host matches the policy: defer";
		return STS_EVAL_TEMP;
	case STS_ANSWER_TOOLONG:
		break;
	}
	*why = "answer too long: defer";
	return STS_EVAL_TEMP;
}

/* ---- the blocking driver ---- */

void sts_eval(sts_eval_result *out, const sts_eval_conf *c, const char *domain, const sts_account_req *acct)
{
	const sts_facts *f;
	sts_state st;
	sts_job *j;
	const char *why;

	memset(out, 0, sizeof(*out));
	if (sts_job_new(&j, c, domain, STS_JOB_LOOKUP, NULL, NULL) != 0) {
		out->kind = STS_EVAL_TEMP;
		snprintf(out->why, sizeof(out->why), "out of memory: defer");
		return;
	}
	if (sts_req_needs_tlsa(acct))
		sts_job_want_tlsa(j);
	while (!sts_job_step(j, dns_now_ms())) {
		struct pollfd p[2] = {{.fd = dns_fd(c->dns), .events = POLLIN}, {.fd = -1}};
		int64_t now = dns_now_ms(), next = dns_expire(c->dns, now), fdl;
		int ms = 1000;

		p[1].fd = sts_job_fd(j, &p[1].events, &fdl);
		if (next >= 0 && next - now < ms)
			ms = (int)(next - now);
		if (p[1].fd >= 0 && fdl - now < ms)
			ms = (int)(fdl - now);
		if (ms < 0)
			ms = 0;
		if (poll(p, 2, ms) > 0 && (p[0].revents & POLLIN))
			dns_process(c->dns);
	}
	f = sts_job_facts(j);
	sts_facts_state(&st, f);
	out->kind = sts_state_answer(out->answer, sizeof(out->answer), &st, acct, c->strict_testing, &why);
	snprintf(out->why, sizeof(out->why), "%s", f->why);
	if (sts_state_testing_unenforced(&st, c->strict_testing))
		snprintf(out->why + strlen(out->why), sizeof(out->why) - strlen(out->why), "mode testing: not enforced; ");
	snprintf(out->why + strlen(out->why), sizeof(out->why) - strlen(out->why), "%s%s%s", why,
	         out->kind == STS_EVAL_OK ? ": " : "", out->kind == STS_EVAL_OK ? out->answer : "");
	out->from_cache = f->from_cache;
	out->have_policy = f->have_policy;
	out->mode = f->have_policy ? f->mode : STS_MODE_NONE;
	snprintf(out->id, sizeof(out->id), "%s", f->id);
	out->dane = f->dane;
	out->tlsa_skipped = f->tlsa_skipped;
	out->n_mx = f->n_mx;
	memcpy(out->mx, f->mx, sizeof(out->mx));
	sts_job_free(j);
}

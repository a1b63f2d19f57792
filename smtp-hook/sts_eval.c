/*
 * The whole evaluation of a domain (see sts_eval.h), step by step:
 *   1. the cache: an unexpired policy is used as it is;
 *   2. otherwise the TXT record, and sts_decide_txt();
 *   3. a fetch when that says so (A of mta-sts.DOMAIN, then HTTPS), the
 *      result stored, or sts_decide_fetch_failed();
 *   4. the MX hosts (no MX: the domain itself, RFC 5321 section 5.1);
 *   5. DANE: a DNSSEC-secure MX set and secure TLSA records for a host;
 *   6. sts_answer().
 */
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "sts_eval.h"
#include "sts_fetch.h"

#define RR_KEEP 16

typedef struct lookup {
	int done;
	dns_status status;
	int secure;
	char why[DNS_WHY_MAX];
	size_t n;
	unsigned char data[RR_KEEP][600];
	size_t len[RR_KEEP];
} lookup;

static void on_answer(void *arg, const dns_result *r)
{
	lookup *l = arg;

	l->done = 1;
	l->status = r->status;
	l->secure = r->secure;
	snprintf(l->why, sizeof(l->why), "%s", r->why ? r->why : dns_status_name(r->status));
	l->n = 0;
	for (size_t i = 0; i < r->n && l->n < RR_KEEP; i++) {
		if ((size_t)r->len[i] > sizeof(l->data[0]))
			continue;
		memcpy(l->data[l->n], r->data[i], (size_t)r->len[i]);
		l->len[l->n++] = (size_t)r->len[i];
	}
}

static void ask(lookup *l, const sts_eval_conf *c, const char *name, int type)
{
	memset(l, 0, sizeof(*l));
	if (dns_resolve(c->dns, name, type, dns_now_ms() + c->timeout_ms, on_answer, l) != 0) {
		l->status = DNS_TEMPFAIL;
		snprintf(l->why, sizeof(l->why), "cannot start the lookup");
		return;
	}
	dns_wait(c->dns);
	if (!l->done) {
		l->status = DNS_TEMPFAIL;
		snprintf(l->why, sizeof(l->why), "no answer");
	}
}

#define WHY(...) snprintf(out->why + strlen(out->why), sizeof(out->why) - strlen(out->why), __VA_ARGS__)

static sts_dns txt_lookup(sts_eval_result *out, const sts_eval_conf *c, const char *domain, char id[STS_ID_MAX + 1])
{
	char name[DNS_NAME_MAX + 16], txt[RR_KEEP][STS_TXT_MAX + 1];
	const char *recs[RR_KEEP], *err = NULL;
	size_t lens[RR_KEEP], n = 0;
	lookup l;

	snprintf(name, sizeof(name), "_mta-sts.%s", domain);
	ask(&l, c, name, DNS_RR_TXT);
	if (l.status == DNS_TEMPFAIL || l.status == DNS_BOGUS) {
		WHY("TXT %s: %s; ", name, l.why);
		return STS_DNS_TEMPFAIL;
	}
	if (l.status != DNS_OK) {
		WHY("TXT %s: %s; ", name, dns_status_name(l.status));
		return STS_DNS_ABSENT;
	}
	for (size_t i = 0; i < l.n; i++) {
		long k = dns_txt_join(txt[n], sizeof(txt[n]), l.data[i], l.len[i]);
		if (k < 0)
			continue;
		recs[n] = txt[n];
		lens[n++] = (size_t)k;
	}
	switch (sts_txt_parse(id, recs, lens, n, &err)) {
	case STS_TXT_FOUND:
		WHY("TXT id=%s; ", id);
		return STS_DNS_FOUND;
	case STS_TXT_INVALID:
		WHY("TXT %s invalid: %s; ", name, err);
		return STS_DNS_INVALID;
	case STS_TXT_ABSENT:
		break;
	}
	WHY("TXT %s: no v=STSv1 record; ", name);
	return STS_DNS_ABSENT;
}

/* Fetch and parse; on success the policy is in *p and stored. 0 or -1. */
static int fetch_policy(sts_eval_result *out, const sts_eval_conf *c, const char *domain, const char *id,
                        sts_policy *p)
{
	char host[DNS_NAME_MAX + 16], err[1200];
	struct sockaddr_in sa = {.sin_family = AF_INET};
	const char *body, *perr;
	size_t len;
	sts_fetch *f;
	lookup l;
	int r = -1;

	snprintf(host, sizeof(host), "mta-sts.%s", domain);
	ask(&l, c, host, DNS_RR_A);
	if (l.status != DNS_OK || l.len[0] != 4) {
		snprintf(err, sizeof(err), "A %s: %s", host, l.status == DNS_OK ? "malformed" : l.why);
		goto fail;
	}
	memcpy(&sa.sin_addr, l.data[0], 4);
	sa.sin_port = htons((uint16_t)c->https_port);
	if (sts_fetch_start(&f, c->tls, domain, (struct sockaddr *)&sa, sizeof(sa), dns_now_ms() + c->timeout_ms, err,
	                    sizeof(err)) != 0)
		goto fail;
	if (sts_fetch_run(f) != STS_FETCH_DONE) {
		snprintf(err, sizeof(err), "%s", sts_fetch_error(f));
		sts_fetch_free(f);
		goto fail;
	}
	body = sts_fetch_body(f, &len);
	if (sts_policy_parse(p, body, len, &perr) != 0) {
		snprintf(err, sizeof(err), "policy of %s refused: %s", domain, perr);
		sts_fetch_free(f);
		goto fail;
	}
	if (acct_sts_put_policy(c->db, domain, id, body, len, sts_mode_name(p->mode), p->max_age) != ACCT_OK)
		WHY("(not cached: %s) ", acct_errmsg(c->db));
	WHY("fetched policy mode %s max_age %u; ", sts_mode_name(p->mode), p->max_age);
	sts_fetch_free(f);
	return 0;
fail:
	WHY("fetch failed: %s; ", err);
	(void)acct_sts_touch(c->db, domain, err);
	(void)r;
	return -1;
}

static void resolve_mx(sts_eval_result *out, const sts_eval_conf *c, const char *domain, lookup *l)
{
	ask(l, c, domain, DNS_RR_MX);
	out->n_mx = 0;
	if (l->status == DNS_OK) {
		for (size_t i = 0; i < l->n && out->n_mx < STS_EVAL_MX_MAX; i++) {
			int pref;
			char name[DNS_NAME_MAX + 1];
			if (dns_mx_parse(&pref, name, l->data[i], l->len[i]) == 0 && name[0] != '\0')
				snprintf(out->mx[out->n_mx++], sizeof(out->mx[0]), "%s", name);
		}
	} else if (l->status == DNS_NODATA) {
		snprintf(out->mx[out->n_mx++], sizeof(out->mx[0]), "%s", domain);
	}
}

static int dane_applies(sts_eval_result *out, const sts_eval_conf *c, const lookup *mx)
{
	if (mx->status != DNS_OK || !mx->secure) {
		WHY("MX not DNSSEC-secure: no DANE; ");
		return 0;
	}
	for (size_t i = 0; i < out->n_mx; i++) {
		char name[DNS_NAME_MAX + 16];
		lookup l;
		snprintf(name, sizeof(name), "_25._tcp.%s", out->mx[i]);
		ask(&l, c, name, DNS_RR_TLSA);
		if (l.status == DNS_OK && l.secure) {
			WHY("DANE: secure TLSA for %s; ", out->mx[i]);
			return 1;
		}
	}
	WHY("no secure TLSA for the MX hosts; ");
	return 0;
}

void sts_eval(sts_eval_result *out, const sts_eval_conf *c, const char *domain, const sts_account_req *acct)
{
	static sts_policy pol;
	acct_sts_entry *e = NULL;
	sts_cached cached;
	const char *mx[STS_EVAL_MX_MAX];
	const char *perr;
	char id[STS_ID_MAX + 1] = "";
	int64_t now = acct_now(c->db);
	sts_action act;
	lookup mxl;
	int enforce;

	memset(out, 0, sizeof(*out));
	memset(&cached, 0, sizeof(cached));
	memset(&pol, 0, sizeof(pol));
	if (acct_sts_get(&e, c->db, domain) == ACCT_OK) {
		cached.kind = e->kind == ACCT_STS_POLICY ? STS_CACHED_POLICY : STS_CACHED_NOPOLICY;
		cached.expires = e->expires;
		if (e->id)
			snprintf(cached.id, sizeof(cached.id), "%s", e->id);
	}
	if (sts_cached_fresh(&cached, now)) {
		act = STS_USE_CACHED;
		out->from_cache = 1;
		WHY("cached policy id=%s, %lld s old; ", cached.id, (long long)(now - e->fetched_at));
	} else if (cached.kind == STS_CACHED_NOPOLICY && now < cached.expires) {
		act = STS_NO_POLICY;
		WHY("cached: no policy; ");
	} else {
		sts_dns t = txt_lookup(out, c, domain, id);
		act = sts_decide_txt(&cached, now, t, id);
		if (act == STS_FETCH) {
			act = fetch_policy(out, c, domain, id, &pol) == 0 ? STS_FETCH : sts_decide_fetch_failed(&cached, now);
		} else if (act == STS_NO_POLICY) {
			if (acct_sts_put_nopolicy(c->db, domain, c->nopolicy_ttl) != ACCT_OK)
				WHY("(not cached: %s) ", acct_errmsg(c->db));
		}
	}
	if (act == STS_USE_CACHED && (e == NULL || e->policy == NULL ||
	                              sts_policy_parse(&pol, e->policy, e->policy_len, &perr) != 0)) {
		act = STS_DEFER;
		WHY("cached policy unreadable; ");
	}
	if (act == STS_USE_CACHED)
		snprintf(id, sizeof(id), "%s", cached.id);
	acct_sts_entry_free(e);
	if (act == STS_DEFER) {
		out->kind = STS_EVAL_TEMP;
		WHY("MTA-STS policy cannot be confirmed: defer");
		return;
	}
	out->have_policy = act == STS_USE_CACHED || act == STS_FETCH;
	out->mode = out->have_policy ? pol.mode : STS_MODE_NONE;
	snprintf(out->id, sizeof(out->id), "%s", out->have_policy ? id : "");
	enforce = out->have_policy && (pol.mode == STS_MODE_ENFORCE || (pol.mode == STS_MODE_TESTING && c->strict_testing));
	if (out->have_policy && pol.mode == STS_MODE_TESTING && !enforce)
		WHY("mode testing: not enforced; ");

	resolve_mx(out, c, domain, &mxl);
	if (mxl.status == DNS_TEMPFAIL || mxl.status == DNS_BOGUS) {
		WHY("MX %s: %s; ", domain, mxl.why);
		if (enforce || acct->tls != STS_REQ_NONE) {
			out->kind = STS_EVAL_TEMP;
			WHY("defer");
			return;
		}
	}
	out->dane = dane_applies(out, c, &mxl);
	for (size_t i = 0; i < out->n_mx; i++)
		mx[i] = out->mx[i];
	switch (sts_answer(out->answer, sizeof(out->answer), acct, out->dane, enforce ? &pol : NULL, mx, out->n_mx)) {
	case STS_ANSWER_OK:
		out->kind = STS_EVAL_OK;
		WHY("answer: %s", out->answer);
		break;
	case STS_ANSWER_NOTFOUND:
		out->kind = STS_EVAL_NOTFOUND;
		WHY("no requirement: NOTFOUND");
		break;
	case STS_ANSWER_NOMATCH:
		out->kind = STS_EVAL_TEMP;
		WHY("no MX host matches the policy: defer");
		break;
	case STS_ANSWER_TOOLONG:
		out->kind = STS_EVAL_TEMP;
		WHY("answer too long: defer");
		break;
	}
}

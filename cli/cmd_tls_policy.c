/*
 * tls policy DOMAIN: what postern-hookd's TLS policy service would
 * answer Postfix for a recipient domain, and why.
 *
 * It runs the service's own evaluation (smtp-hook/sts_eval.c, the
 * blocking reference flow) with the DNS, CA and MTA-STS settings of
 * postern-hookd's configuration file (smtp-hook/conf.c), on the shell's
 * database, which holds the policy cache: like the service, it fetches a
 * policy that is not cached (or whose TXT id changed) and stores it.
 * Shown: the `_mta-sts` TXT record, the policy, the cache entry before
 * (and after, if the evaluation changed it), the MX hosts and the
 * patterns they match, DANE, and the answer of each map name (or of the
 * one given with --map) with its reason.
 *
 * Exit status: 0; 64 for a bad domain or map name; 66 for a domain that
 * does not exist (NXDOMAIN) or a configuration file that cannot be read;
 * 69 when DNS does not answer (the answers are printed first: TEMP).
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "dns.h"
#include "mtasts.h"
#include "sts_eval.h"
#include "sts_fetch.h"

static const char *const map_names[] = {"tls-policy", "tls-policy-none", "tls-policy-encrypt", "tls-policy-encrypt13",
                                        "tls-policy-verify", "tls-policy-verify13"};
#define NMAPS (sizeof(map_names) / sizeof(map_names[0]))

/* One DNS lookup run to the end, its records kept (dns.h dns_answer). */
typedef dns_answer lookup;

static void on_answer(void *arg, const dns_result *r)
{
	dns_answer_set(arg, r, 1);
}

static void ask(lookup *l, dns_ctx *d, const char *name, int type, int timeout_ms)
{
	dns_answer_clear(l);
	if (dns_resolve(d, name, type, dns_now_ms() + timeout_ms, on_answer, l) != 0) {
		dns_answer_fail(l, "cannot start the lookup");
		return;
	}
	dns_wait(d);
	if (!l->done)
		dns_answer_fail(l, "no answer");
}

static int dns_failed(const lookup *l)
{
	return l->status == DNS_TEMPFAIL || l->status == DNS_BOGUS;
}

/* ---- what was found, for printing ---- */

typedef struct report {
	const char *domain;
	lookup txt, mx;
	char txt_recs[DNS_ANSWER_KEEP][STS_TXT_MAX + 1];
	size_t n_txt;
	sts_txt_result txt_result;
	char txt_id[STS_ID_MAX + 1];
	const char *txt_err;
	acct_sts_entry *before, *after;
	sts_policy policy; /* parsed from the cache entry, when there is one */
	int have_policy;
	size_t n_maps;
	const char *maps[NMAPS];
	sts_eval_result res[NMAPS];
	int64_t now;
	char dns_error[DNS_WHY_MAX + DNS_NAME_MAX + 32]; /* "" when DNS answered */
} report;

static const char *kind_name(sts_eval_kind k)
{
	return k == STS_EVAL_OK ? "OK" : k == STS_EVAL_NOTFOUND ? "NOTFOUND" : "TEMP";
}

static void txt_report(report *rp)
{
	const char *recs[DNS_ANSWER_KEEP];
	size_t lens[DNS_ANSWER_KEEP];

	rp->n_txt = 0;
	rp->txt_result = STS_TXT_ABSENT;
	if (rp->txt.status != DNS_OK)
		return;
	for (size_t i = 0; i < rp->txt.n; i++) {
		long k = dns_txt_join(rp->txt_recs[rp->n_txt], sizeof(rp->txt_recs[0]), rp->txt.data[i], rp->txt.len[i]);
		if (k < 0)
			continue;
		recs[rp->n_txt] = rp->txt_recs[rp->n_txt];
		lens[rp->n_txt++] = (size_t)k;
	}
	rp->txt_result = sts_txt_parse(rp->txt_id, recs, lens, rp->n_txt, &rp->txt_err);
}

/* The policy pattern host matches, or NULL. */
static const char *matching(const report *rp, const char *host)
{
	if (!rp->have_policy)
		return NULL;
	for (size_t i = 0; i < rp->policy.n_mx; i++)
		if (sts_mx_match(rp->policy.mx[i], host))
			return rp->policy.mx[i];
	return NULL;
}

static void cache_text(char *buf, size_t len, const acct_sts_entry *e, int64_t now)
{
	char t[32];

	if (e == NULL) {
		snprintf(buf, len, "nothing cached");
		return;
	}
	if (e->kind == ACCT_STS_NOPOLICY) {
		snprintf(buf, len, "no policy, found %lld s ago; %s %s", (long long)(now - e->fetched_at),
		         now < e->expires ? "asked again after" : "expired at", cli_time(t, e->expires));
		return;
	}
	snprintf(buf, len, "policy id=%s mode %s, fetched %lld s ago; %s %s (%lld s)%s%s", e->id ? e->id : "?",
	         e->mode ? e->mode : "?", (long long)(now - e->fetched_at), now < e->expires ? "expires" : "expired",
	         cli_time(t, e->expires), (long long)(e->expires - now), e->last_error ? "; last error: " : "",
	         e->last_error ? e->last_error : "");
}

static json_t *cache_json(const acct_sts_entry *e, int64_t now)
{
	if (e == NULL)
		return json_null();
	return json_pack("{s:s, s:s?, s:s?, s:I, s:o, s:o, s:I, s:b, s:s?}", "kind",
	                 e->kind == ACCT_STS_POLICY ? "policy" : "nopolicy", "id", e->id, "mode", e->mode, "max_age",
	                 (json_int_t)e->max_age, "fetched_at", cli_json_time(e->fetched_at), "expires",
	                 cli_json_time(e->expires), "age", (json_int_t)(now - e->fetched_at), "expired",
	                 now >= e->expires, "last_error", e->last_error);
}

static int same_entry(const acct_sts_entry *a, const acct_sts_entry *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return a->kind == b->kind && a->fetched_at == b->fetched_at && a->expires == b->expires;
}

static const char *txt_status(const report *rp, char *buf, size_t len)
{
	if (dns_failed(&rp->txt))
		snprintf(buf, len, "DNS failure: %s", rp->txt.why);
	else if (rp->txt.status != DNS_OK)
		snprintf(buf, len, "none (%s)", dns_status_name(rp->txt.status));
	else if (rp->txt_result == STS_TXT_FOUND)
		snprintf(buf, len, "id=%s", rp->txt_id);
	else if (rp->txt_result == STS_TXT_INVALID)
		snprintf(buf, len, "invalid: %s (taken as no policy)", rp->txt_err ? rp->txt_err : "?");
	else
		snprintf(buf, len, "no v=STSv1 record");
	return buf;
}

static int print_json(cli *c, const report *rp)
{
	json_t *txt = json_array(), *mx = json_array(), *ans = json_array(), *pol = json_null();
	char st[512];

	for (size_t i = 0; i < rp->n_txt; i++)
		json_array_append_new(txt, json_string(rp->txt_recs[i]));
	for (size_t i = 0; i < rp->res[0].n_mx; i++)
		json_array_append_new(mx, json_pack("{s:s, s:s?}", "host", rp->res[0].mx[i], "matches",
		                                    matching(rp, rp->res[0].mx[i])));
	if (rp->have_policy) {
		json_t *pats = json_array();
		for (size_t i = 0; i < rp->policy.n_mx; i++)
			json_array_append_new(pats, json_string(rp->policy.mx[i]));
		json_decref(pol);
		pol = json_pack("{s:s, s:I, s:o}", "mode", sts_mode_name(rp->policy.mode), "max_age",
		                (json_int_t)rp->policy.max_age, "mx", pats);
	}
	for (size_t i = 0; i < rp->n_maps; i++) {
		const sts_eval_result *r = &rp->res[i];
		json_array_append_new(ans, json_pack("{s:s, s:s, s:s?, s:s, s:b}", "map", rp->maps[i], "result",
		                                     kind_name(r->kind), "answer", r->kind == STS_EVAL_OK ? r->answer : NULL,
		                                     "why", r->why, "tlsa_asked", !r->tlsa_skipped));
	}
	return cli_json(c, json_pack("{s:s, s:{s:s, s:s?, s:o}, s:o, s:o, s:o, s:o, s:b, s:o, s:s?}", "domain", rp->domain,
	                             "txt", "status", txt_status(rp, st, sizeof(st)), "id",
	                             rp->txt_result == STS_TXT_FOUND ? rp->txt_id : NULL, "records", txt, "policy", pol,
	                             "cache_before", cache_json(rp->before, rp->now), "cache", cache_json(rp->after, rp->now),
	                             "mx", mx, "dane", rp->res[0].dane, "answers", ans, "dns_unavailable",
	                             rp->dns_error[0] ? rp->dns_error : NULL));
}

static void print_text(const report *rp)
{
	const sts_eval_result *r0 = &rp->res[0];
	char buf[1200];

	printf("domain:   %s\n", rp->domain);
	printf("TXT:      _mta-sts.%s: %s\n", rp->domain, txt_status(rp, buf, sizeof(buf)));
	for (size_t i = 0; i < rp->n_txt; i++)
		printf("          \"%s\"\n", rp->txt_recs[i]);
	if (rp->have_policy) {
		printf("policy:   mode %s, max_age %u", sts_mode_name(rp->policy.mode), rp->policy.max_age);
		for (size_t i = 0; i < rp->policy.n_mx; i++)
			printf("%s%s", i ? ", " : ", mx ", rp->policy.mx[i]);
		printf("%s\n", rp->policy.mode == STS_MODE_TESTING ? " (testing: reported, not enforced)" : "");
	} else {
		printf("policy:   none\n");
	}
	cache_text(buf, sizeof(buf), rp->before, rp->now);
	printf("cache:    %s\n", buf);
	if (!same_entry(rp->before, rp->after)) {
		cache_text(buf, sizeof(buf), rp->after, rp->now);
		printf("          now: %s\n", buf);
	}
	if (dns_failed(&rp->mx))
		printf("MX:       DNS failure: %s\n", rp->mx.why);
	else if (r0->n_mx == 0)
		printf("MX:       none (null MX: the domain accepts no mail)\n");
	for (size_t i = 0; i < r0->n_mx; i++) {
		const char *p = matching(rp, r0->mx[i]);
		printf("%s%s", i ? "          " : "MX:       ", r0->mx[i]);
		if (rp->have_policy && rp->policy.mode != STS_MODE_NONE)
			printf(p ? " (matches %s)" : " (matches no mx pattern: never used under enforce)", p);
		printf("%s\n", rp->mx.status == DNS_NODATA ? " (no MX record: the domain itself)" : "");
	}
	{
		/* the DANE status of the first map that asked TLSA (the plain
		 * map may leave it to Postfix's dane level) */
		const sts_eval_result *rd = r0;
		for (size_t i = 0; i < rp->n_maps && rd->tlsa_skipped; i++)
			rd = &rp->res[i];
		if (rd->tlsa_skipped)
			printf("DANE:     not asked: no enforced policy, Postfix's dane level looks up TLSA itself "
			       "(tlspolicy_postfix_dane = yes)\n");
		else
			printf("DANE:     %s\n", rd->dane ? "yes: DNSSEC-validated TLSA records for an MX host (DANE comes "
			                                    "before MTA-STS)"
			                       : rp->mx.secure ? "no TLSA records for the MX hosts"
			                                       : "no: the MX records are not DNSSEC-signed");
		for (size_t i = 0; i < rp->n_maps && rd != r0; i++)
			if (rp->res[i].tlsa_skipped)
				printf("          (TLSA not asked for %s: left to Postfix's dane level)\n", rp->maps[i]);
	}
	printf("answers:\n");
	for (size_t i = 0; i < rp->n_maps; i++) {
		const sts_eval_result *r = &rp->res[i];
		printf("  %-20s %s%s%s\n", rp->maps[i], kind_name(r->kind), r->kind == STS_EVAL_OK ? " " : "",
		       r->kind == STS_EVAL_OK ? r->answer : "");
	}
	for (size_t i = 0; i < rp->n_maps; i++)
		printf("why (%s): %s\n", rp->maps[i], rp->res[i].why);
}

/* postern-hookd's configuration: the file given, else the default one if
 * it exists, else the defaults.  0 or the exit status.  (Also for tls
 * check and tls survey.) */
int cli_hookd_conf(cli *c, hookd_conf *hc, const char *path);

int cli_hookd_conf(cli *c, hookd_conf *hc, const char *path)
{
	char err[1024];
	struct stat st;

	conf_defaults(hc);
	if (path == NULL) {
		if (stat(HOOKD_DEFAULT_CONFIG, &st) != 0 && errno == ENOENT)
			return 0;
		path = HOOKD_DEFAULT_CONFIG;
	}
	if (conf_load(hc, path, err, sizeof(err)) != 0)
		return cli_fail(c, EX_NOINPUT, "postern-hookd's configuration: %s", err);
	return 0;
}

int cli_cmd_tls_policy(cli *c, int argc, char **argv);

int cli_cmd_tls_policy(cli *c, int argc, char **argv)
{
	const char *pos[1], *map = NULL, *conf_path = NULL;
	const cli_opt opts[] = {{"--map", 1, &map, NULL}, {"--hookd-config", 1, &conf_path, NULL}, {NULL, 0, NULL, NULL}};
	static report rp; /* large: the records and five results */
	static hookd_conf hc;
	char domain[STS_NAME_MAX + 1], err[512], name[DNS_NAME_MAX + 16];
	const char *perr;
	dns_conf dc = {NULL, NULL, NULL};
	sts_eval_conf ec;
	dns_ctx *dns = NULL;
	SSL_CTX *tls = NULL;
	int r;

	if ((r = cli_parse(c, argc, argv, opts, pos, 1, 1)) != 0)
		return r;
	if (sts_key_parse(domain, pos[0]) != STS_KEY_DOMAIN)
		return cli_fail(c, EX_USAGE, "'%.80s' is not a domain name (as in example.com; no brackets, port or "
		                             "leading dot)", pos[0]);
	memset(&rp, 0, sizeof(rp));
	if (map) {
		sts_account_req req;
		if (sts_map_parse(&req, map) != 0)
			return cli_fail(c, EX_USAGE, "--map takes tls-policy, tls-policy-none, tls-policy-encrypt, "
			                             "tls-policy-encrypt13, tls-policy-verify or tls-policy-verify13, not '%.40s'",
			                map);
		rp.maps[rp.n_maps++] = map;
	} else {
		for (size_t i = 0; i < NMAPS; i++)
			rp.maps[rp.n_maps++] = map_names[i];
	}
	if ((r = cli_hookd_conf(c, &hc, conf_path)) != 0)
		return r;
	dc.forward = hc.dns_forward[0] ? hc.dns_forward : NULL;
	dc.trust_anchor_file = hc.dns_trust_anchor_file[0] ? hc.dns_trust_anchor_file : NULL;
	/* libunbound would fail every lookup with a missing anchor: say it once. */
	if (dc.trust_anchor_file && access(dc.trust_anchor_file, R_OK) != 0)
		return cli_fail(c, EX_UNAVAILABLE, "DNS unavailable: the trust anchor %.300s (dns_trust_anchor_file) cannot "
		                                   "be read: %s", dc.trust_anchor_file, strerror(errno));
	if (dns_open(&dns, &dc, err, sizeof(err)) != 0)
		return cli_fail(c, EX_UNAVAILABLE, "DNS unavailable: %s", err);
	if ((tls = sts_fetch_ssl_ctx(hc.mtasts_ca_file[0] ? hc.mtasts_ca_file : NULL, err, sizeof(err))) == NULL) {
		dns_close(dns);
		return cli_fail(c, EX_SOFTWARE, "TLS: %s", err);
	}
	memset(&ec, 0, sizeof(ec));
	ec.dns = dns;
	ec.tls = tls;
	ec.db = c->db;
	ec.https_port = (int)hc.mtasts_https_port;
	ec.strict_testing = hc.mtasts_strict_testing != 0;
	ec.timeout_ms = (int)hc.mtasts_timeout;
	ec.nopolicy_ttl = (int64_t)hc.mtasts_nopolicy_ttl;
	ec.failure_ttl = (int64_t)hc.mtasts_failure_ttl;
	ec.postfix_dane = hc.tlspolicy_postfix_dane != 0;

	rp.domain = domain;
	rp.now = acct_now(c->db);
	if ((r = acct_sts_get(&rp.before, c->db, domain)) != ACCT_OK && r != ACCT_ENOTFOUND) {
		r = cli_acct_fail(c, r);
		goto out;
	}
	snprintf(name, sizeof(name), "_mta-sts.%s", domain);
	ask(&rp.txt, dns, name, DNS_RR_TXT, ec.timeout_ms);
	ask(&rp.mx, dns, domain, DNS_RR_MX, ec.timeout_ms);
	if (rp.mx.status == DNS_NXDOMAIN) {
		r = cli_fail(c, EX_NOINPUT, "no such domain: %s does not exist in DNS (NXDOMAIN)", domain);
		goto out;
	}
	txt_report(&rp);
	for (size_t i = 0; i < rp.n_maps; i++) {
		sts_account_req req;
		(void)sts_map_parse(&req, rp.maps[i]);
		sts_eval(&rp.res[i], &ec, domain, &req);
	}
	if ((r = acct_sts_get(&rp.after, c->db, domain)) != ACCT_OK && r != ACCT_ENOTFOUND) {
		r = cli_acct_fail(c, r);
		goto out;
	}
	rp.have_policy = rp.res[0].have_policy && rp.after && rp.after->kind == ACCT_STS_POLICY && rp.after->policy &&
	                 sts_policy_parse(&rp.policy, rp.after->policy, rp.after->policy_len, &perr) == 0;
	if (dns_failed(&rp.txt) || dns_failed(&rp.mx))
		snprintf(rp.dns_error, sizeof(rp.dns_error), "%s %s: %s", dns_failed(&rp.txt) ? "TXT" : "MX",
		         dns_failed(&rp.txt) ? name : domain, dns_failed(&rp.txt) ? rp.txt.why : rp.mx.why);
	if (c->json) {
		/* one document: the failure is in it ("dns_unavailable") */
		r = print_json(c, &rp);
		if (r == 0 && rp.dns_error[0])
			r = EX_UNAVAILABLE;
	} else {
		print_text(&rp);
		r = 0;
		if (rp.dns_error[0])
			r = cli_fail(c, EX_UNAVAILABLE, "DNS unavailable: %s", rp.dns_error);
	}
out:
	acct_sts_entry_free(rp.before);
	acct_sts_entry_free(rp.after);
	rp.before = rp.after = NULL;
	dns_answer_clear(&rp.txt);
	dns_answer_clear(&rp.mx);
	SSL_CTX_free(tls);
	dns_close(dns);
	return r;
}

/*
 * tls check / tls survey: know which recipients an account's TLS
 * setting would block before turning it on.  Both run the probe engine
 * (probe.h) — MX lookup, SMTP, STARTTLS, the handshake, the
 * certificate's verdict — `check` for one domain with every host's
 * details, the MTA-STS/DANE status (the policy service's own
 * evaluation, sts_eval.h) and the verdict of each TLS setting; `survey`
 * for a list of domains (a file, or the recipient domains of an
 * account's delivery events) with a summary in the shape of SendGrid's
 * 2014 survey: hosts offering STARTTLS, trusted TLS, failures by
 * category.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "probe.h"
#include "sts_eval.h"
#include "sts_fetch.h"

#define ROOT_KEY "/usr/share/dns/root.key"

typedef struct net_opts {
	const char *port, *dns, *ta, *ca, *timeout, *concurrency, *helo;
	int json;
} net_opts;

/* The options both commands take, into a probe_conf.  0 or the status. */
static int net_conf(cli *c, const net_opts *o, probe_conf *pc, int def_timeout_s)
{
	char *end;
	long v;

	memset(pc, 0, sizeof(*pc));
	pc->port = 25;
	pc->timeout_ms = def_timeout_s * 1000;
	pc->concurrency = 1;
	pc->helo = o->helo;
	if (o->port) {
		v = strtol(o->port, &end, 10);
		if (*o->port == '\0' || *end || v < 1 || v > 65535)
			return cli_fail(c, EX_USAGE, "--port takes a port number 1..65535, not '%.40s'", o->port);
		pc->port = (int)v;
	}
	if (o->timeout) {
		double t = strtod(o->timeout, &end);
		if (*o->timeout == '\0' || *end || !(t >= 0.05 && t <= 300))
			return cli_fail(c, EX_USAGE, "--timeout takes seconds, 0.05 to 300 (each step), not '%.40s'", o->timeout);
		pc->timeout_ms = (int)(t * 1000);
	}
	if (o->concurrency) {
		v = strtol(o->concurrency, &end, 10);
		if (*o->concurrency == '\0' || *end || v < 1 || v > 10000)
			return cli_fail(c, EX_USAGE, "--concurrency takes 1..10000 connections, not '%.40s'", o->concurrency);
		pc->concurrency = (int)v;
	}
	pc->dns_forward = o->dns;
	if (o->ta == NULL)
		pc->trust_anchor_file = access(ROOT_KEY, R_OK) == 0 ? ROOT_KEY : NULL;
	else if (strcmp(o->ta, "none") != 0)
		pc->trust_anchor_file = o->ta;
	pc->ca_file = o->ca;
	return 0;
}

/* A domain as typed: lower case, no final dot, LDH labels (A-labels for
 * IDNs), two labels at least.  0, or -1 with *why. */
static int domain_norm(char out[DNS_NAME_MAX + 1], const char *in, const char **why)
{
	size_t n = strlen(in), label = 0, labels = 1;

	if (n > 0 && in[n - 1] == '.')
		n--;
	if (n == 0 || n > DNS_NAME_MAX) {
		*why = n ? "longer than 253 characters" : "empty";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char ch = in[i];
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if (ch == '.') {
			if (label == 0 || out[i - 1] == '-') {
				*why = "an empty label, or one ending in '-'";
				return -1;
			}
			label = 0;
			labels++;
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || (ch == '-' && label > 0) ||
		           (ch == '_' && label == 0)) {
			if (++label > 63) {
				*why = "a label longer than 63 characters";
				return -1;
			}
		} else {
			*why = "only letters, digits, '-' and '.' (IDNs in their xn-- form)";
			return -1;
		}
		out[i] = ch;
	}
	out[n] = '\0';
	if (label == 0 || out[n - 1] == '-' || labels < 2) {
		*why = labels < 2 ? "a single label: give the whole domain" : "an empty label, or one ending in '-'";
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* tls check */

static json_t *host_json(const probe_host *h, int pref)
{
	json_t *o = json_object(), *names = json_array();
	char buf[PROBE_NAMES_MAX];
	char *save = NULL;

	probe_fmt(buf, sizeof(buf), "%s", h->names);
	for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
		json_array_append_new(names, json_string(t));
	json_object_set_new(o, "name", json_string(h->name));
	json_object_set_new(o, "preference", json_integer(pref));
	json_object_set_new(o, "address", h->addr[0] ? json_string(h->addr) : json_null());
	json_object_set_new(o, "reached", json_boolean(h->reached));
	json_object_set_new(o, "starttls", json_boolean(h->starttls));
	json_object_set_new(o, "tls", h->tls ? json_pack("{s:s, s:s}", "version", h->version, "cipher", h->cipher)
	                                     : json_null());
	if (h->tls)
		json_object_set_new(o, "certificate", json_pack("{s:o, s:b, s:b}", "names", names, "verified", h->verified,
		                                                "name_match", h->name_ok));
	else {
		json_decref(names);
		json_object_set_new(o, "certificate", json_null());
	}
	json_object_set_new(o, "category", json_string(probe_cat_key(h->cat)));
	json_object_set_new(o, "error", h->error[0] ? json_string(h->error) : json_null());
	json_object_set_new(o, "ms", json_integer(h->ms));
	return o;
}

static const char *dstatus_key(probe_dstatus s)
{
	switch (s) {
	case PROBE_D_MX:
		return "mx";
	case PROBE_D_NULLMX:
		return "null_mx";
	case PROBE_D_NXDOMAIN:
		return "nxdomain";
	case PROBE_D_DNSFAIL:
		return "dns_failure";
	case PROBE_D_PENDING:
		break;
	}
	return "pending";
}

static void print_host(cli *c, const probe_host *h, int pref)
{
	const char *b = c->color ? "\033[1m" : "", *e = c->color ? "\033[0m" : "";

	printf("  %s%s%s%s%s%s (preference %d)\n", b, h->name, e, h->addr[0] ? " [" : "", h->addr, h->addr[0] ? "]" : "",
	       pref);
	if (h->reached)
		printf("    banner:      %s\n", h->banner);
	printf("    STARTTLS:    %s\n", h->starttls ? "offered" : h->reached ? "not offered" : "-");
	if (h->tls) {
		printf("    TLS:         %s, %s\n", h->version, h->cipher);
		printf("    certificate: %s, %s; names: %s\n", h->verified ? "chain verified" : "chain not verified",
		       h->name_ok ? "name matches" : "name does not match", h->names[0] ? h->names : "none");
	}
	printf("    verdict:     %s%s%s\n", probe_cat_name(h->cat), h->error[0] ? ": " : "", h->error);
}

static int cmd_tls_check(cli *c, int argc, char **argv)
{
	const char *pos[1], *why;
	net_opts no = {0};
	const cli_opt opts[] = {{"--port", 1, &no.port, NULL},       {"--dns", 1, &no.dns, NULL},
	                        {"--trust-anchor", 1, &no.ta, NULL}, {"--ca-file", 1, &no.ca, NULL},
	                        {"--timeout", 1, &no.timeout, NULL}, {"--helo", 1, &no.helo, NULL},
	                        {"--json", 0, NULL, &no.json},       {NULL, 0, NULL, NULL}};
	char domain[DNS_NAME_MAX + 1], err[512];
	probe_conf pc;
	probe *p;
	const probe_domain *d;
	probe_verdict v[PROBE_SET_COUNT];
	sts_eval_result sr;
	int r, have_sts = 0;

	if ((r = cli_parse(c, argc, argv, opts, pos, 1, 1)) != 0)
		return r;
	if (no.json)
		c->json = 1;
	if (domain_norm(domain, pos[0], &why) != 0)
		return cli_fail(c, EX_USAGE, "'%.80s' is not a domain name: %s", pos[0], why);
	if ((r = net_conf(c, &no, &pc, 10)) != 0)
		return r;
	pc.concurrency = 16;
	if ((p = probe_new(&pc, err, sizeof(err))) == NULL)
		return cli_fail(c, EX_UNAVAILABLE, "%s", err);
	if (probe_add(p, domain) < 0 || probe_run(p, err, sizeof(err)) != 0) {
		probe_free(p);
		return cli_fail(c, EX_UNAVAILABLE, "%s", err[0] ? err : "out of memory");
	}
	d = probe_domain_at(p, 0);
	for (int s = 0; s < PROBE_SET_COUNT; s++)
		probe_verdict_of(&v[s], p, d, (probe_setting)s);

	/* MTA-STS and DANE, as the policy service evaluates them (its cache included) */
	memset(&sr, 0, sizeof(sr));
	if (d->status == PROBE_D_MX && cli_db(c) == 0) {
		dns_conf dc = {pc.dns_forward, pc.trust_anchor_file, NULL};
		sts_eval_conf ec = {0};
		static const sts_account_req plain = {STS_REQ_NONE, 0};
		char e2[256];
		ec.https_port = 443;
		ec.timeout_ms = pc.timeout_ms;
		ec.nopolicy_ttl = 3600;
		ec.db = c->db;
		if (dns_open(&ec.dns, &dc, e2, sizeof(e2)) == 0 && (ec.tls = sts_fetch_ssl_ctx(NULL, e2, sizeof(e2))) != NULL) {
			sts_eval(&sr, &ec, domain, &plain);
			have_sts = 1;
		} else {
			probe_fmt(sr.why, sizeof(sr.why), "not evaluated: %s", e2);
		}
		SSL_CTX_free(ec.tls);
		dns_close(ec.dns);
	}

	if (c->json) {
		json_t *doc = json_object(), *hosts = json_array(), *set = json_object(), *sts;
		json_object_set_new(doc, "domain", json_string(domain));
		json_object_set_new(doc, "status", json_string(dstatus_key(d->status)));
		json_object_set_new(doc, "implicit_mx", json_boolean(d->implicit));
		json_object_set_new(doc, "error", d->error[0] ? json_string(d->error) : json_null());
		for (size_t i = 0; i < d->n_mx; i++)
			json_array_append_new(hosts, host_json(probe_host_at(p, d->mx[i]), d->pref[i]));
		json_object_set_new(doc, "hosts", hosts);
		if (have_sts) {
			sts = json_pack("{s:b, s:s, s:s, s:b, s:s, s:s}", "policy", sr.have_policy, "mode",
			                sr.have_policy ? sts_mode_name(sr.mode) : "none", "id", sr.have_policy ? sr.id : "",
			                "dane", sr.dane, "answer", sr.kind == STS_EVAL_OK ? sr.answer : "", "why", sr.why);
		} else {
			sts = json_null();
		}
		json_object_set_new(doc, "mta_sts", sts);
		for (int s = 0; s < PROBE_SET_COUNT; s++)
			json_object_set_new(set, probe_setting_key((probe_setting)s),
			                    json_pack("{s:s, s:s, s:o}", "outcome", probe_outcome_name(v[s].out), "reason",
			                              v[s].why, "host", v[s].via ? json_string(v[s].via->name) : json_null()));
		json_object_set_new(doc, "settings", set);
		cli_json(c, doc);
	} else {
		if (d->status == PROBE_D_MX)
			printf("%s: %zu MX host%s%s\n", domain, d->n_mx, d->n_mx == 1 ? "" : "s",
			       d->implicit ? " (no MX record: the domain itself, RFC 5321 section 5.1)" : "");
		else
			printf("%s: %s\n", domain, d->error);
		for (size_t i = 0; i < d->n_mx; i++)
			print_host(c, probe_host_at(p, d->mx[i]), d->pref[i]);
		if (have_sts) {
			if (sr.have_policy)
				printf("MTA-STS:   %s (id %s)\n", sts_mode_name(sr.mode), sr.id);
			else
				printf("MTA-STS:   no policy\n");
			printf("DANE:      %s\n", sr.dane ? "DNSSEC-validated TLSA records" : "no (no DNSSEC-validated TLSA records)");
			if (sr.kind == STS_EVAL_OK)
				printf("policy:    %s\n", sr.answer);
			printf("           (%s)\n", sr.why);
		}
		printf("settings:\n");
		for (int s = 0; s < PROBE_SET_COUNT; s++)
			printf("  %-30s %-11s %s\n", probe_setting_name((probe_setting)s), probe_outcome_name(v[s].out), v[s].why);
	}
	r = d->status == PROBE_D_DNSFAIL ? EX_UNAVAILABLE : v[PROBE_SET_VERIFY].out == PROBE_OUT_DELIVERED ? 0 : CLI_NO;
	if (r == EX_UNAVAILABLE && !c->json)
		fprintf(stderr, "error: %s\n", d->error);
	probe_free(p);
	return r;
}

/* ---------------------------------------------------------------- */
/* tls survey */

static volatile int survey_stop;

static void on_sigint(int sig)
{
	(void)sig;
	survey_stop = 1;
}

typedef struct bar {
	int on;
	int64_t last;
} bar;

static void on_progress(void *arg, size_t dd, size_t dn, size_t hd, size_t hn)
{
	bar *b = arg;
	int64_t now = dns_now_ms();
	int w = 30, k;

	if (!b->on || (now - b->last < 100 && dd < dn))
		return;
	b->last = now;
	k = dn ? (int)((double)dd / (double)dn * w) : w;
	fprintf(stderr, "\r[%.*s%*s] %zu/%zu domains, %zu/%zu MX hosts ", k, "##############################", w - k, "",
	        dd, dn, hd, hn);
	fflush(stderr);
}

/* The recipient domains of an account's delivery events. */
typedef struct from_events {
	probe *p;
	long bad;
} from_events;

static int add_event_domain(const acct_event *ev, void *arg)
{
	from_events *fe = arg;
	const char *at = ev->recipient ? strrchr(ev->recipient, '@') : NULL, *why;
	char d[DNS_NAME_MAX + 1];

	if (at == NULL || domain_norm(d, at + 1, &why) != 0) {
		fe->bad++;
		return 0;
	}
	return probe_add(fe->p, d) < 0 ? ACCT_ENOMEM : 0;
}

/* Domains from a file, one a line: # comments and blank lines allowed. */
static int read_domains(cli *c, probe *p, const char *path, long *nbad)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	char line[1100];
	long lineno = 0;

	if (f == NULL)
		return cli_fail(c, errno == ENOENT ? EX_NOINPUT : EX_NOPERM, "cannot open %s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);
		char *s = line, *e, d[DNS_NAME_MAX + 1];
		const char *why;
		lineno++;
		if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
			int ch;
			while ((ch = fgetc(f)) != EOF && ch != '\n')
				;
			fprintf(stderr, "warning: %s:%ld: line longer than 1024 characters, skipped\n", path, lineno);
			(*nbad)++;
			continue;
		}
		if ((e = strchr(s, '#')) != NULL)
			*e = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strlen(s);
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
			*--e = '\0';
		if (*s == '\0')
			continue;
		if (strpbrk(s, " \t") != NULL || domain_norm(d, s, &why) != 0) {
			fprintf(stderr, "warning: %s:%ld: not a domain name, skipped: '%.80s'%s%s\n", path, lineno, s,
			        strpbrk(s, " \t") ? " (one domain a line)" : ": ", strpbrk(s, " \t") ? "" : why);
			(*nbad)++;
			continue;
		}
		if (probe_add(p, d) < 0) {
			if (f != stdin)
				fclose(f);
			return cli_fail(c, EX_OSERR, "out of memory");
		}
	}
	if (f != stdin)
		fclose(f);
	return 0;
}

typedef struct summary {
	size_t domains, total, mx, implicit, nullmx, nxdomain, dnsfail;
	size_t hosts, starttls, no_starttls, unreachable, trusted, failed;
	size_t cat[PROBE_CAT_COUNT];
	size_t v13, v12, vold;
	size_t out[PROBE_SET_COUNT][PROBE_OUT_UNREACHABLE + 1];
} summary;

static void summarize(summary *sm, const probe *p)
{
	memset(sm, 0, sizeof(*sm));
	sm->total = probe_n_domains(p);
	for (size_t i = 0; i < probe_n_domains(p); i++) {
		const probe_domain *d = probe_domain_at(p, i);
		if (!d->done)
			continue;
		sm->domains++;
		sm->mx += d->status == PROBE_D_MX;
		sm->implicit += d->implicit != 0;
		sm->nullmx += d->status == PROBE_D_NULLMX;
		sm->nxdomain += d->status == PROBE_D_NXDOMAIN;
		sm->dnsfail += d->status == PROBE_D_DNSFAIL;
		for (int s = 0; s < PROBE_SET_COUNT; s++) {
			probe_verdict v;
			probe_verdict_of(&v, p, d, (probe_setting)s);
			sm->out[s][v.out]++;
		}
	}
	for (size_t i = 0; i < probe_n_hosts(p); i++) {
		const probe_host *h = probe_host_at(p, i);
		if (!h->done)
			continue;
		sm->hosts++;
		if (h->starttls) {
			sm->starttls++;
			if (h->cat == PROBE_TRUSTED)
				sm->trusted++;
			else {
				sm->failed++;
				sm->cat[h->cat]++;
			}
		} else if (h->cat == PROBE_NO_STARTTLS) {
			sm->no_starttls++;
		} else {
			sm->unreachable++;
		}
		if (h->tls) {
			if (h->tls_version >= TLS1_3_VERSION)
				sm->v13++;
			else if (h->tls_version == TLS1_2_VERSION)
				sm->v12++;
			else
				sm->vold++;
		}
	}
}

static double pct(size_t n, size_t of)
{
	return of ? 100.0 * (double)n / (double)of : 0.0;
}

static void row(const char *label, size_t n, size_t of, const char *ofwhat)
{
	if (ofwhat)
		printf("  %-40s %8zu  %5.1f%% of %s\n", label, n, pct(n, of), ofwhat);
	else
		printf("  %-40s %8zu\n", label, n);
}

static void print_summary(cli *c, const summary *sm, int interrupted)
{
	static const probe_cat fails[] = {PROBE_NAME_MISMATCH, PROBE_UNKNOWN_CA, PROBE_EXPIRED,
	                                  PROBE_WEAK,          PROBE_HANDSHAKE,  PROBE_CONNECT};
	if (c->json) {
		json_t *doc = json_object(), *f = json_object(), *set = json_object();
		json_object_set_new(doc, "domains", json_integer((json_int_t)sm->domains));
		json_object_set_new(doc, "domains_total", json_integer((json_int_t)sm->total));
		json_object_set_new(doc, "interrupted", json_boolean(interrupted));
		json_object_set_new(doc, "with_mx", json_integer((json_int_t)sm->mx));
		json_object_set_new(doc, "implicit_mx", json_integer((json_int_t)sm->implicit));
		json_object_set_new(doc, "null_mx", json_integer((json_int_t)sm->nullmx));
		json_object_set_new(doc, "nxdomain", json_integer((json_int_t)sm->nxdomain));
		json_object_set_new(doc, "dns_failure", json_integer((json_int_t)sm->dnsfail));
		json_object_set_new(doc, "hosts", json_integer((json_int_t)sm->hosts));
		json_object_set_new(doc, "starttls", json_integer((json_int_t)sm->starttls));
		json_object_set_new(doc, "no_starttls", json_integer((json_int_t)sm->no_starttls));
		json_object_set_new(doc, "unreachable", json_integer((json_int_t)sm->unreachable));
		json_object_set_new(doc, "trusted", json_integer((json_int_t)sm->trusted));
		json_object_set_new(doc, "failed", json_integer((json_int_t)sm->failed));
		for (size_t i = 0; i < sizeof(fails) / sizeof(fails[0]); i++)
			json_object_set_new(f, probe_cat_key(fails[i]), json_integer((json_int_t)sm->cat[fails[i]]));
		json_object_set_new(doc, "failures", f);
		json_object_set_new(doc, "versions", json_pack("{s:I, s:I, s:I}", "TLSv1.3", (json_int_t)sm->v13, "TLSv1.2",
		                                               (json_int_t)sm->v12, "older", (json_int_t)sm->vold));
		for (int s = 0; s < PROBE_SET_COUNT; s++) {
			json_t *o = json_object();
			for (int k = 0; k <= PROBE_OUT_UNREACHABLE; k++)
				if (sm->out[s][k] || (s == 0 ? k <= PROBE_OUT_CLEAR : (k == PROBE_OUT_DELIVERED || k == PROBE_OUT_BLOCKED)))
					json_object_set_new(o, probe_outcome_name((probe_outcome)k), json_integer((json_int_t)sm->out[s][k]));
			json_object_set_new(set, probe_setting_key((probe_setting)s), o);
		}
		json_object_set_new(doc, "settings", set);
		cli_json(c, doc);
		return;
	}
	if (interrupted)
		printf("interrupted: %zu of %zu domains done\n", sm->domains, sm->total);
	row("domains", sm->domains, 0, NULL);
	if (sm->implicit)
		row("  no MX record (the domain itself)", sm->implicit, sm->domains, "domains");
	if (sm->nullmx)
		row("  null MX (accept no mail)", sm->nullmx, sm->domains, "domains");
	if (sm->nxdomain)
		row("  no such domain", sm->nxdomain, sm->domains, "domains");
	if (sm->dnsfail)
		row("  MX lookup failed", sm->dnsfail, sm->domains, "domains");
	row("unique MX hosts", sm->hosts, 0, NULL);
	row("  offer STARTTLS", sm->starttls, sm->hosts, "hosts");
	row("  do not offer STARTTLS", sm->no_starttls, sm->hosts, "hosts");
	row("  no SMTP session (connection failure)", sm->unreachable, sm->hosts, "hosts");
	row("trusted TLS", sm->trusted, sm->starttls, "STARTTLS hosts");
	row("no trusted TLS", sm->failed, sm->starttls, "STARTTLS hosts");
	for (size_t i = 0; i < sizeof(fails) / sizeof(fails[0]); i++)
		row(probe_cat_name(fails[i]), sm->cat[fails[i]], sm->failed, "failures");
	if (sm->v13 + sm->v12 + sm->vold) {
		printf("TLS versions\n");
		row("TLSv1.3", sm->v13, sm->v13 + sm->v12 + sm->vold, "TLS hosts");
		row("TLSv1.2", sm->v12, sm->v13 + sm->v12 + sm->vold, "TLS hosts");
		row("older", sm->vold, sm->v13 + sm->v12 + sm->vold, "TLS hosts");
	}
	printf("domains with mail, by setting\n");
	row("opportunistic: encrypted", sm->out[0][PROBE_OUT_ENCRYPTED], sm->mx, "domains with MX");
	row("opportunistic: clear", sm->out[0][PROBE_OUT_CLEAR], sm->mx, "domains with MX");
	for (int s = 1; s < PROBE_SET_COUNT; s++) {
		char l[64];
		probe_fmt(l, sizeof(l), "%s: blocked", probe_setting_name((probe_setting)s));
		row(l, sm->out[s][PROBE_OUT_BLOCKED], sm->mx, "domains with MX");
	}
	row("unreachable (deferred whatever the setting)", sm->out[0][PROBE_OUT_UNREACHABLE] - sm->dnsfail, sm->mx,
	    "domains with MX");
}

/* A CSV field: quoted when it needs to be (RFC 4180). */
static void csv(FILE *f, const char *s, int last)
{
	if (strpbrk(s, ",\"\r\n")) {
		fputc('"', f);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', f);
			fputc(*s, f);
		}
		fputc('"', f);
	} else {
		fputs(s, f);
	}
	fputc(last ? '\n' : ',', f);
}

static int write_csv(cli *c, const probe *p, const char *path)
{
	FILE *f;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		return cli_fail(c, EX_CANTCREAT, "cannot write %s: %s", path, strerror(errno));
	}
	fputs("domain,status,host,preference,address,starttls,tls_version,cipher,category,error,names,"
	      "opportunistic,enforced,enforced_valid_cert,min_tls13\n",
	      f);
	for (size_t i = 0; i < probe_n_domains(p); i++) {
		const probe_domain *d = probe_domain_at(p, i);
		probe_verdict v[PROBE_SET_COUNT];
		if (!d->done)
			continue;
		for (int s = 0; s < PROBE_SET_COUNT; s++)
			probe_verdict_of(&v[s], p, d, (probe_setting)s);
		for (size_t k = 0; k < (d->n_mx ? d->n_mx : 1); k++) {
			const probe_host *h = d->n_mx ? probe_host_at(p, d->mx[k]) : NULL;
			char pref[16];
			probe_fmt(pref, sizeof(pref), "%d", d->n_mx ? d->pref[k] : 0);
			csv(f, d->name, 0);
			csv(f, dstatus_key(d->status), 0);
			csv(f, h ? h->name : "", 0);
			csv(f, h ? pref : "", 0);
			csv(f, h ? h->addr : "", 0);
			csv(f, h ? (h->starttls ? "yes" : "no") : "", 0);
			csv(f, h ? h->version : "", 0);
			csv(f, h ? h->cipher : "", 0);
			csv(f, h ? probe_cat_key(h->cat) : "", 0);
			csv(f, h ? h->error : d->error, 0);
			csv(f, h ? h->names : "", 0);
			for (int s = 0; s < PROBE_SET_COUNT; s++)
				csv(f, probe_outcome_name(v[s].out), s == PROBE_SET_COUNT - 1);
		}
	}
	if (fclose(f) != 0)
		return cli_fail(c, EX_IOERR, "cannot write %s: %s", path, strerror(errno));
	return 0;
}

static int cmd_tls_survey(cli *c, int argc, char **argv)
{
	const char *pos[1], *account = NULL, *csvout = NULL;
	net_opts no = {0};
	const cli_opt opts[] = {{"--account", 1, &account, NULL},   {"--concurrency", 1, &no.concurrency, NULL},
	                        {"--csv", 1, &csvout, NULL},         {"--port", 1, &no.port, NULL},
	                        {"--dns", 1, &no.dns, NULL},         {"--trust-anchor", 1, &no.ta, NULL},
	                        {"--ca-file", 1, &no.ca, NULL},      {"--timeout", 1, &no.timeout, NULL},
	                        {"--helo", 1, &no.helo, NULL},       {"--json", 0, NULL, &no.json},
	                        {NULL, 0, NULL, NULL}};
	char err[512];
	probe_conf pc;
	probe *p;
	long nbad = 0;
	int r;
	bar b = {0, 0};
	summary sm;
	struct sigaction sa, prev;

	if ((r = cli_parse(c, argc, argv, opts, pos, 0, 1)) != 0)
		return r;
	if (no.json)
		c->json = 1;
	if ((pos[0] == NULL) == (account == NULL))
		return cli_fail(c, EX_USAGE, "give a FILE of domains (one a line, - for standard input) or --account ACCOUNT");
	if (csvout && c->json)
		return cli_fail(c, EX_USAGE, "--csv and --json: choose one");
	if ((r = net_conf(c, &no, &pc, 10)) != 0)
		return r;
	if (no.concurrency == NULL)
		pc.concurrency = 100;
	pc.progress = on_progress;
	pc.progress_arg = &b;
	pc.stop = &survey_stop;
	b.on = isatty(STDERR_FILENO) && !c->json;
	if ((p = probe_new(&pc, err, sizeof(err))) == NULL)
		return cli_fail(c, EX_UNAVAILABLE, "%s", err);
	if (account) {
		acct_event_query q = {account, 0, 0, ACCT_EVENT_ANY, 0};
		from_events fe = {p, 0};
		acct_account *a = NULL;
		if ((r = cli_db(c)) != 0 || (r = cli_scope_account(c, account)) != 0) {
			probe_free(p);
			return r;
		}
		if ((r = acct_account_get(&a, c->db, account)) != ACCT_OK ||
		    (r = acct_event_foreach(c->db, &q, add_event_domain, &fe)) != ACCT_OK) {
			acct_account_free(a);
			probe_free(p);
			return cli_acct_fail(c, r);
		}
		acct_account_free(a);
	} else if ((r = read_domains(c, p, pos[0], &nbad)) != 0) {
		probe_free(p);
		return r;
	}
	if (probe_n_domains(p) == 0) {
		probe_free(p);
		if (account)
			return cli_fail(c, EX_DATAERR, "account '%s' has no delivery events: no domains to survey", account);
		return cli_fail(c, EX_DATAERR, "%s holds no domain%s", pos[0], nbad ? " (only bad lines)" : "");
	}
	/* Ctrl-C: stop and print what is known */
	survey_stop = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &prev);
	r = probe_run(p, err, sizeof(err));
	sigaction(SIGINT, &prev, NULL);
	if (b.on)
		fputs("\r\033[K", stderr);
	if (r != 0) {
		probe_free(p);
		return cli_fail(c, EX_UNAVAILABLE, "%s", err);
	}
	summarize(&sm, p);
	r = csvout ? write_csv(c, p, csvout) : 0;
	print_summary(c, &sm, survey_stop);
	probe_free(p);
	if (r != 0)
		return r;
	return survey_stop ? 130 : 0;
}

int cli_cmd_tls_check(cli *c, int argc, char **argv);
int cli_cmd_tls_survey(cli *c, int argc, char **argv);

int cli_cmd_tls_check(cli *c, int argc, char **argv)
{
	return cmd_tls_check(c, argc, argv);
}

int cli_cmd_tls_survey(cli *c, int argc, char **argv)
{
	return cmd_tls_survey(c, argc, argv);
}

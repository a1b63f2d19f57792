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
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sys/epoll.h>

#include <openssl/ssl.h>

#include "conf.h"
#include "probe.h"
#include "sts_eval.h"
#include "sts_fetch.h"

int cli_hookd_conf(cli *c, hookd_conf *hc, const char *path); /* cmd_tls_policy.c */

#define ROOT_KEY "/usr/share/dns/root.key"

typedef struct net_opts {
	const char *port, *dns, *ta, *ca, *timeout, *concurrency, *threads, *helo, *hookd;
	int json, no_policy;
} net_opts;

/* The options both commands take, into a probe_conf.  0 or the status. */
static int net_conf(cli *c, const net_opts *o, const hookd_conf *hc, probe_conf *pc, int def_timeout_s)
{
	char *end;
	long v;

	memset(pc, 0, sizeof(*pc));
	pc->port = 25;
	pc->timeout_ms = def_timeout_s * 1000;
	pc->concurrency = 1;
	pc->threads = -1;
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
	if (o->threads) {
		v = strtol(o->threads, &end, 10);
		if (*o->threads == '\0' || *end || v < 0 || v > PROBE_THREADS_MAX)
			return cli_fail(c, EX_USAGE, "--threads takes 0..%d TLS handshake threads (0: none), not '%.40s'",
			                PROBE_THREADS_MAX, o->threads);
		pc->threads = (int)v;
	}
	/* the resolver: the options, else postern-hookd's (hc), else the root */
	pc->dns_forward = o->dns ? o->dns : hc && hc->dns_forward[0] ? hc->dns_forward : NULL;
	if (o->ta == NULL && hc && hc->dns_trust_anchor_file[0] &&
	    (o->hookd || access(hc->dns_trust_anchor_file, R_OK) == 0))
		pc->trust_anchor_file = hc->dns_trust_anchor_file;
	else if (o->ta == NULL)
		pc->trust_anchor_file = access(ROOT_KEY, R_OK) == 0 ? ROOT_KEY : NULL;
	else if (strcmp(o->ta, "none") != 0)
		pc->trust_anchor_file = o->ta;
	if (pc->trust_anchor_file && access(pc->trust_anchor_file, R_OK) != 0)
		return cli_fail(c, EX_NOINPUT, "the DNS trust anchor %.300s cannot be read: %s", pc->trust_anchor_file,
		                strerror(errno));
	pc->ca_file = o->ca;
	return 0;
}

/* ---------------------------------------------------------------- */
/* The domains' own requirement (MTA-STS, DANE): postern-hookd's TLS
 * policy evaluation (sts_eval.h, the daemon's code), one job per domain,
 * jobs side by side, and for each setting the answer the policy service
 * would give Postfix (sts_state_answer): the verdicts follow it. */

static const sts_account_req set_req[PROBE_SET_COUNT] = {
	{STS_REQ_NONE, 0, 0}, {STS_REQ_ENCRYPT, 0, 0}, {STS_REQ_VERIFY, 0, 0}, {STS_REQ_ENCRYPT, 1, 0}};

typedef struct dom_pol {
	int done; /* evaluated */
	int temp, have_policy, dane, mx_temp, testing_unenforced;
	sts_mode mode;
	char id[STS_ID_MAX + 1];
	unsigned match; /* bit k: the domain's k-th MX host (probe order) matches the policy */
	int kind[PROBE_SET_COUNT];
	const char *src[PROBE_SET_COUNT];
	char *answer[PROBE_SET_COUNT];
	char *why;
} dom_pol;

struct pol_run;
typedef struct pol_wk {
	struct pol_run *pr;
	size_t d;
} pol_wk;

/* The evaluation runs inside the probe's loop (probe_side), through its
 * resolver: a domain's job starts when the probe has its MX answer, and
 * is given that answer (sts_job_set_mx) instead of asking again; its
 * TXT, address and TLSA lookups go with the probe's, its HTTPS fetch
 * socket is watched through an epoll set of its own that the probe's
 * loop waits for. */
typedef struct pol_run {
	sts_eval_conf ec;
	dom_pol *dp;          /* one per probe domain; NULL: not evaluated (--no-policy) */
	size_t n;
	const probe *p;
	sts_job **job;        /* per domain, while its evaluation runs */
	pol_wk *wk;           /* per domain: its jobs' wake argument */
	unsigned char *flags; /* per domain: POL_RUN (on the run list), POL_FETCH (on the fetch list) */
	size_t *run, n_run;   /* domains to step before the next wait */
	size_t *fetch, n_fetch; /* domains whose job waits for its HTTPS fetch */
	int efd;              /* the epoll set of the fetch sockets (-1: none yet) */
	size_t live;          /* jobs running */
	int oom;
} pol_run;

#define POL_RUN 1
#define POL_FETCH 2

/* Nothing allocated, no descriptor: what pol_free leaves too. */
static void pol_init(pol_run *pr)
{
	memset(pr, 0, sizeof(*pr));
	pr->efd = -1;
}

static void pol_free(pol_run *pr)
{
	/* jobs still running (a stop): their lookups cancelled first, so
	 * that no answer arrives for a freed job */
	if (pr->live > 0 && pr->ec.dns)
		dns_cancel_all(pr->ec.dns);
	for (size_t i = 0; pr->job && i < pr->n; i++)
		sts_job_free(pr->job[i]);
	for (size_t i = 0; pr->dp && i < pr->n; i++) {
		for (int s = 0; s < PROBE_SET_COUNT; s++)
			free(pr->dp[i].answer[s]);
		free(pr->dp[i].why);
	}
	free(pr->dp);
	free(pr->job);
	free(pr->wk);
	free(pr->flags);
	free(pr->run);
	free(pr->fetch);
	if (pr->efd >= 0)
		close(pr->efd);
	SSL_CTX_free(pr->ec.tls);
	pol_init(pr);
}

/* The DNS, TLS and MTA-STS settings of postern-hookd (hc) for the
 * evaluation, and the database (its policy cache).  0 or the status. */
static int pol_open(cli *c, pol_run *pr, const hookd_conf *hc)
{
	char err[512];
	int r;

	pol_init(pr);
	/* the policy cache: without the database there is no evaluation, and
	 * a verdict without it would be wrong for every MTA-STS domain */
	if ((r = cli_db(c)) != 0)
		return r;
	if ((pr->ec.tls = sts_fetch_ssl_ctx(hc->mtasts_ca_file[0] ? hc->mtasts_ca_file : NULL, err, sizeof(err))) == NULL)
		return cli_fail(c, EX_SOFTWARE, "TLS: %s", err);
	pr->ec.db = c->db;
	pr->ec.https_port = (int)hc->mtasts_https_port;
	pr->ec.strict_testing = hc->mtasts_strict_testing != 0;
	pr->ec.timeout_ms = (int)hc->mtasts_timeout;
	pr->ec.nopolicy_ttl = (int64_t)hc->mtasts_nopolicy_ttl;
	pr->ec.failure_ttl = (int64_t)hc->mtasts_failure_ttl;
	/* postfix_dane stays off: TLSA always asked, so that the plain map
	 * answers `dane` itself; with tlspolicy_postfix_dane the service
	 * leaves that to Postfix's dane level, which does the same */
	return 0;
}

static const char *source_of(const char *why)
{
	if (strcmp(why, "DANE") == 0)
		return "DANE";
	if (strcmp(why, "MTA-STS enforced") == 0)
		return "MTA-STS enforce";
	return strstr(why, "MTA-STS") || strstr(why, "no MX host matches") ? "MTA-STS" : NULL;
}

static int pol_collect(dom_pol *dp, const sts_job *j, const probe *p, const probe_domain *d, int strict)
{
	const sts_facts *f = sts_job_facts(j);
	sts_state st;
	static char ans[STS_ANSWER_MAX];

	sts_facts_state(&st, f);
	dp->done = 1;
	dp->temp = f->temp;
	dp->have_policy = f->have_policy;
	dp->mode = f->have_policy ? f->mode : STS_MODE_NONE;
	probe_fmt(dp->id, sizeof(dp->id), "%s", f->id);
	dp->dane = f->dane;
	dp->mx_temp = f->mx_temp;
	dp->testing_unenforced = sts_state_testing_unenforced(&st, strict);
	for (size_t k = 0; k < d->n_mx; k++)
		for (size_t i = 0; i < f->n_mx; i++)
			if ((f->match & (1u << i)) && strcasecmp(f->mx[i], probe_host_at(p, d->mx[k])->name) == 0)
				dp->match |= 1u << k;
	for (int s = 0; s < PROBE_SET_COUNT; s++) {
		const char *why = "";
		dp->kind[s] = (int)sts_state_answer(ans, sizeof(ans), &st, &set_req[s], strict, &why);
		dp->src[s] = dp->kind[s] == STS_EVAL_NOTFOUND ? NULL : source_of(why);
		if ((dp->answer[s] = strdup(dp->kind[s] == STS_EVAL_TEMP ? why : ans)) == NULL)
			return -1;
	}
	return (dp->why = strdup(f->why)) == NULL ? -1 : 0;
}

/* A job has something to do: on the run list (once). */
static void pol_wake(void *arg)
{
	pol_wk *w = arg;
	pol_run *pr = w->pr;

	if (!(pr->flags[w->d] & POL_RUN)) {
		pr->flags[w->d] |= POL_RUN;
		pr->run[pr->n_run++] = w->d;
	}
}

/* probe_side.mx: the probe has domain d's MX answer; its job starts. */
static void pol_side_mx(void *arg, size_t d, const dns_result *r)
{
	pol_run *pr = arg;

	if (d >= pr->n || pr->job[d] || pr->dp[d].done)
		return;
	if (sts_job_new(&pr->job[d], &pr->ec, probe_domain_at(pr->p, d)->name, STS_JOB_LOOKUP, pol_wake, &pr->wk[d]) != 0) {
		pr->oom = 1;
		return;
	}
	sts_job_set_mx(pr->job[d], r);
	pr->live++;
	pol_wake(&pr->wk[d]);
}

/* Watch job d's fetch socket (once: EPOLLONESHOT, armed again after each step). */
static void pol_watch(pol_run *pr, size_t d)
{
	short events;
	int64_t dl;
	int fd = sts_job_fd(pr->job[d], &events, &dl);

	if (fd < 0) {
		pr->flags[d] &= (unsigned char)~POL_FETCH; /* (off the fetch list at its next compaction) */
		return;
	}
	if (!(pr->flags[d] & POL_FETCH)) {
		pr->flags[d] |= POL_FETCH;
		pr->fetch[pr->n_fetch++] = d;
	}
	struct epoll_event ev = {.events = EPOLLONESHOT | ((events & POLLIN) ? EPOLLIN : 0u) |
	                                   ((events & POLLOUT) ? EPOLLOUT : 0u),
	                         .data.u64 = d};
	/* a closed socket left the set by itself: a new one (any number) is added */
	if (epoll_ctl(pr->efd, EPOLL_CTL_MOD, fd, &ev) != 0 && epoll_ctl(pr->efd, EPOLL_CTL_ADD, fd, &ev) != 0)
		return; /* not watched: the fetch's deadline still steps it */
}

/* probe_side.run: the fetch sockets that are ready and the fetches past
 * their deadline woken, every woken job stepped; a job that is done is
 * collected and freed.  The earliest fetch deadline, or -1. */
static int64_t pol_side_run(void *arg, int64_t now_ms)
{
	pol_run *pr = arg;
	int64_t next = -1;

	if (pr->n_fetch > 0) {
		struct epoll_event ev[64];
		int k;
		while ((k = epoll_wait(pr->efd, ev, 64, 0)) > 0)
			for (int i = 0; i < k; i++)
				if (ev[i].data.u64 < pr->n && pr->job[ev[i].data.u64])
					pol_wake(&pr->wk[ev[i].data.u64]);
		for (size_t i = 0; i < pr->n_fetch; i++) {
			short events;
			int64_t dl;
			size_t d = pr->fetch[i];
			if (pr->job[d] && sts_job_fd(pr->job[d], &events, &dl) >= 0 && dl >= 0 && dl <= now_ms)
				pol_wake(&pr->wk[d]);
		}
	}
	for (size_t i = 0; i < pr->n_run; i++) {
		size_t d = pr->run[i];
		sts_job *j = pr->job[d];
		pr->flags[d] &= (unsigned char)~POL_RUN;
		if (j == NULL)
			continue;
		if (!sts_job_step(j, now_ms)) {
			pol_watch(pr, d);
			continue;
		}
		if (pol_collect(&pr->dp[d], j, pr->p, probe_domain_at(pr->p, d), pr->ec.strict_testing) != 0)
			pr->oom = 1;
		sts_job_free(j);
		pr->job[d] = NULL;
		pr->live--;
		pr->flags[d] &= (unsigned char)~POL_FETCH;
	}
	pr->n_run = 0;
	/* the fetch list without the jobs that left it; the earliest deadline */
	size_t w = 0;
	for (size_t i = 0; i < pr->n_fetch; i++) {
		short events;
		int64_t dl;
		size_t d = pr->fetch[i];
		if (!(pr->flags[d] & POL_FETCH) || pr->job[d] == NULL) {
			pr->flags[d] &= (unsigned char)~POL_FETCH;
			continue;
		}
		pr->fetch[w++] = d;
		if (sts_job_fd(pr->job[d], &events, &dl) >= 0 && dl >= 0 && (next < 0 || dl < next))
			next = dl;
	}
	pr->n_fetch = w;
	return next;
}

static size_t pol_side_busy(void *arg)
{
	return ((pol_run *)arg)->live;
}

/* Every domain of p evaluated as the probe runs (probe_set_side). 0 or the status. */
static int pol_start(cli *c, pol_run *pr, probe *p)
{
	size_t n = probe_n_domains(p), m = n ? n : 1;
	probe_side side = {pol_side_mx, pol_side_run, pol_side_busy, -1, pr};

	pr->p = p;
	pr->n = n;
	pr->ec.dns = probe_dns(p);
	pr->dp = calloc(m, sizeof(*pr->dp));
	pr->job = calloc(m, sizeof(*pr->job));
	pr->wk = calloc(m, sizeof(*pr->wk));
	pr->flags = calloc(m, 1);
	pr->run = calloc(m, sizeof(*pr->run));
	pr->fetch = calloc(m, sizeof(*pr->fetch));
	if (pr->dp == NULL || pr->job == NULL || pr->wk == NULL || pr->flags == NULL || pr->run == NULL ||
	    pr->fetch == NULL)
		return cli_fail(c, EX_OSERR, "out of memory");
	if ((pr->efd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return cli_fail(c, EX_OSERR, "epoll: %s", strerror(errno));
	for (size_t i = 0; i < n; i++) {
		pr->wk[i].pr = pr;
		pr->wk[i].d = i;
	}
	side.fd = pr->efd;
	probe_set_side(p, &side);
	return 0;
}

/* DANE: the TLSA records of the MX hosts of the domains that have DANE
 * (of every host with `all`), and each certificate checked against them. */
typedef struct tlsa_q {
	probe *p;
	size_t host;
} tlsa_q;

static void on_tlsa(void *arg, const dns_result *r)
{
	tlsa_q *q = arg;
	probe_dane_check(q->p, q->host, r);
}

static int pol_dane(cli *c, pol_run *pr, probe *p, int all)
{
	size_t nh = probe_n_hosts(p), nq = 0;
	tlsa_q *q;
	unsigned char *want;

	if (pr->ec.dns == NULL || pr->dp == NULL)
		return 0;
	q = calloc(nh ? nh : 1, sizeof(*q));
	want = calloc(nh ? nh : 1, 1);
	if (q == NULL || want == NULL) {
		free(q);
		free(want);
		return cli_fail(c, EX_OSERR, "out of memory");
	}
	for (size_t i = 0; i < pr->n; i++) {
		const probe_domain *d = probe_domain_at(p, i);
		if (!pr->dp[i].done || !(pr->dp[i].dane || all))
			continue;
		for (size_t k = 0; k < d->n_mx; k++)
			want[d->mx[k]] = 1;
	}
	for (size_t h = 0; h < nh; h++) {
		char name[DNS_NAME_MAX + 16];
		if (!want[h])
			continue;
		q[nq].p = p;
		q[nq].host = h;
		probe_fmt(name, sizeof(name), "_25._tcp.%s", probe_host_at(p, h)->name);
		if (dns_resolve(pr->ec.dns, name, DNS_RR_TLSA, dns_now_ms() + pr->ec.timeout_ms, on_tlsa, &q[nq]) == 0)
			nq++;
	}
	if (nq)
		dns_wait(pr->ec.dns);
	free(q);
	free(want);
	return 0;
}

/* The verdict of each setting for domain i, under its requirement. */
static void verdicts(probe_verdict v[PROBE_SET_COUNT], const probe *p, size_t i, const pol_run *pr)
{
	const dom_pol *dp = pr && pr->dp && i < pr->n && pr->dp[i].done ? &pr->dp[i] : NULL;
	static probe_req req;

	for (int s = 0; s < PROBE_SET_COUNT; s++) {
		if (dp)
			(void)probe_req_set(&req, dp->kind[s], dp->kind[s] == STS_EVAL_OK ? dp->answer[s] : NULL, dp->src[s],
			                    dp->answer[s]);
		probe_verdict_of(&v[s], p, probe_domain_at(p, i), (probe_setting)s, dp ? &req : NULL);
	}
}

static const char *sts_status(const dom_pol *dp)
{
	if (dp == NULL || !dp->done)
		return "not evaluated";
	if (dp->temp)
		return "cannot be confirmed";
	if (!dp->have_policy)
		return "none";
	return sts_mode_name(dp->mode);
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

/* The MTA-STS policy's mx patterns, from the cache entry the evaluation
 * left (as `tls policy` shows them): the pattern a host matches, or NULL. */
typedef struct patterns {
	int have;
	sts_policy pol;
} patterns;

static void patterns_load(patterns *pt, cli *c, const char *domain, const dom_pol *dp)
{
	acct_sts_entry *e = NULL;
	const char *perr;

	memset(pt, 0, sizeof(*pt));
	if (dp == NULL || !dp->have_policy || acct_sts_get(&e, c->db, domain) != ACCT_OK)
		return;
	pt->have = e->kind == ACCT_STS_POLICY && e->policy &&
	           sts_policy_parse(&pt->pol, e->policy, e->policy_len, &perr) == 0;
	acct_sts_entry_free(e);
}

static const char *pattern_of(const patterns *pt, const char *host)
{
	for (size_t i = 0; pt->have && i < pt->pol.n_mx; i++)
		if (sts_mx_match(pt->pol.mx[i], host))
			return pt->pol.mx[i];
	return NULL;
}

static json_t *host_json(const probe_host *h, int pref, const dom_pol *dp, int matched, const char *pattern)
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
	/* the MTA-STS policy: the mx pattern this host matches (null: none, or no policy) */
	json_object_set_new(o, "matches",
	                    dp && dp->have_policy && matched ? json_string(pattern ? pattern : "?") : json_null());
	json_object_set_new(o, "tlsa", json_pack("{s:s, s:s}", "status", probe_tlsa_key((probe_tlsa)h->tlsa), "detail",
	                                         h->tlsa_text[0] ? h->tlsa_text : "not looked up"));
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

static void print_host(cli *c, const probe_host *h, int pref, const dom_pol *dp, int matched, const char *pattern)
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
	if (dp && dp->have_policy) {
		if (matched)
			printf("    MTA-STS:     matches %s\n", pattern ? pattern : "the policy");
		else
			printf("    MTA-STS:     matches no mx pattern of the policy%s\n",
			       dp->mode == STS_MODE_ENFORCE ? ": not used (enforce)" : "");
	}
	printf("    TLSA:        %s\n", h->tlsa_text[0] ? h->tlsa_text : "not looked up");
	printf("    verdict:     %s%s%s\n", probe_cat_name(h->cat), h->error[0] ? ": " : "", h->error);
}

static int cmd_tls_check(cli *c, int argc, char **argv)
{
	const char *pos[1], *why;
	net_opts no = {0};
	const cli_opt opts[] = {{"--port", 1, &no.port, NULL},         {"--dns", 1, &no.dns, NULL},
	                        {"--trust-anchor", 1, &no.ta, NULL},   {"--ca-file", 1, &no.ca, NULL},
	                        {"--timeout", 1, &no.timeout, NULL},   {"--helo", 1, &no.helo, NULL},
	                        {"--hookd-config", 1, &no.hookd, NULL}, {"--no-policy", 0, NULL, &no.no_policy},
	                        {"--json", 0, NULL, &no.json},         {NULL, 0, NULL, NULL}};
	char domain[DNS_NAME_MAX + 1], err[512];
	static hookd_conf hc;
	probe_conf pc;
	probe *p;
	const probe_domain *d;
	probe_verdict v[PROBE_SET_COUNT];
	pol_run pr;
	const dom_pol *dp = NULL;
	static patterns pt;
	int r;

	pol_init(&pr);
	if ((r = cli_parse(c, argc, argv, opts, pos, 1, 1)) != 0)
		return r;
	if (no.json)
		c->json = 1;
	if (domain_norm(domain, pos[0], &why) != 0)
		return cli_fail(c, EX_USAGE, "'%.80s' is not a domain name: %s", pos[0], why);
	if (no.no_policy && no.hookd)
		return cli_fail(c, EX_USAGE, "--no-policy and --hookd-config: choose one");
	if (no.no_policy)
		conf_defaults(&hc);
	else if ((r = cli_hookd_conf(c, &hc, no.hookd)) != 0)
		return r;
	if ((r = net_conf(c, &no, &hc, &pc, 10)) != 0)
		return r;
	pc.concurrency = 16;
	/* the database first: the policy cache (a clear error, not a verdict without MTA-STS) */
	if (!no.no_policy && (r = pol_open(c, &pr, &hc)) != 0)
		return r;
	if ((p = probe_new(&pc, err, sizeof(err))) == NULL) {
		pol_free(&pr);
		return cli_fail(c, EX_UNAVAILABLE, "%s", err);
	}
	err[0] = '\0';
	/* MTA-STS and DANE, as the policy service evaluates them (its cache
	 * included), while the hosts are probed; then each host's TLSA */
	if (probe_add(p, domain) < 0 || (!no.no_policy && (r = pol_start(c, &pr, p)) != 0) ||
	    probe_run(p, err, sizeof(err)) != 0 || pr.oom || (!no.no_policy && (r = pol_dane(c, &pr, p, 1)) != 0)) {
		pol_free(&pr);
		probe_free(p);
		return r ? r : cli_fail(c, EX_UNAVAILABLE, "%s", err[0] ? err : "out of memory");
	}
	d = probe_domain_at(p, 0);
	if (!no.no_policy)
		dp = pr.dp[0].done ? &pr.dp[0] : NULL;
	patterns_load(&pt, c, domain, dp);
	verdicts(v, p, 0, no.no_policy ? NULL : &pr);

	if (c->json) {
		json_t *doc = json_object(), *hosts = json_array(), *set = json_object(), *sts;
		json_object_set_new(doc, "domain", json_string(domain));
		json_object_set_new(doc, "status", json_string(dstatus_key(d->status)));
		json_object_set_new(doc, "implicit_mx", json_boolean(d->implicit));
		json_object_set_new(doc, "error", d->error[0] ? json_string(d->error) : json_null());
		for (size_t i = 0; i < d->n_mx; i++) {
			const probe_host *h = probe_host_at(p, d->mx[i]);
			json_array_append_new(hosts, host_json(h, d->pref[i], dp, dp && (dp->match & (1u << i)),
			                                       pattern_of(&pt, h->name)));
		}
		json_object_set_new(doc, "hosts", hosts);
		if (dp) {
			sts = json_pack("{s:b, s:s, s:s, s:b, s:b, s:b, s:s, s:s}", "policy", dp->have_policy, "mode",
			                sts_status(dp), "id", dp->have_policy ? dp->id : "", "enforced",
			                dp->have_policy && dp->mode != STS_MODE_NONE && !dp->testing_unenforced, "dane", dp->dane,
			                "temp", dp->temp, "answer", dp->kind[0] == STS_EVAL_OK ? dp->answer[0] : "", "why",
			                dp->why);
		} else {
			sts = json_null();
		}
		json_object_set_new(doc, "mta_sts", sts);
		for (int s = 0; s < PROBE_SET_COUNT; s++) {
			json_t *o = json_pack("{s:s, s:s, s:o}", "outcome", probe_outcome_name(v[s].out), "reason", v[s].why,
			                      "host", v[s].via ? json_string(v[s].via->name) : json_null());
			json_object_set_new(o, "policy", dp ? json_pack("{s:s, s:s}", "result",
			                                               dp->kind[s] == STS_EVAL_OK ? "OK"
			                                               : dp->kind[s] == STS_EVAL_NOTFOUND ? "NOTFOUND" : "TEMP",
			                                               "answer", dp->answer[s])
			                                    : json_null());
			json_object_set_new(set, probe_setting_key((probe_setting)s), o);
		}
		json_object_set_new(doc, "settings", set);
		cli_json(c, doc);
	} else {
		if (d->status == PROBE_D_MX)
			printf("%s: %zu MX host%s%s\n", domain, d->n_mx, d->n_mx == 1 ? "" : "s",
			       d->implicit ? " (no MX record: the domain itself, RFC 5321 section 5.1)" : "");
		else
			printf("%s: %s\n", domain, d->error);
		for (size_t i = 0; i < d->n_mx; i++) {
			const probe_host *h = probe_host_at(p, d->mx[i]);
			print_host(c, h, d->pref[i], dp, dp && (dp->match & (1u << i)), pattern_of(&pt, h->name));
		}
		if (dp) {
			if (dp->temp)
				printf("MTA-STS:   a policy exists and cannot be confirmed now (the policy service answers TEMP)\n");
			else if (dp->have_policy)
				printf("MTA-STS:   %s (id %s)%s\n", sts_mode_name(dp->mode), dp->id,
				       dp->testing_unenforced ? ": reported, not enforced" : "");
			else
				printf("MTA-STS:   no policy\n");
			printf("DANE:      %s\n", dp->dane ? "yes: DNSSEC-validated TLSA records (dane-only when TLS is enforced)"
			                                   : "no (no DNSSEC-validated TLSA records)");
			printf("           (%s)\n", dp->why);
		} else if (no.no_policy) {
			printf("MTA-STS:   not evaluated (--no-policy)\n");
		}
		printf("settings:\n");
		for (int s = 0; s < PROBE_SET_COUNT; s++) {
			printf("  %-30s %-11s %s\n", probe_setting_name((probe_setting)s), probe_outcome_name(v[s].out), v[s].why);
			if (dp && dp->kind[s] != STS_EVAL_NOTFOUND && (dp->src[s] || dp->kind[s] == STS_EVAL_TEMP))
				printf("  %-30s policy: %s %s\n", "", dp->kind[s] == STS_EVAL_OK ? "OK" : "TEMP", dp->answer[s]);
		}
	}
	r = d->status == PROBE_D_DNSFAIL ? EX_UNAVAILABLE : v[PROBE_SET_VERIFY].out == PROBE_OUT_DELIVERED ? 0 : CLI_NO;
	if (r == EX_UNAVAILABLE && !c->json)
		fprintf(stderr, "error: %s\n", d->error);
	pol_free(&pr);
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
	int policy;                                /* the MTA-STS/DANE evaluation ran */
	size_t sts_enforce, sts_testing, sts_none, sts_nopolicy, sts_temp, sts_pending, dane, tlsa_match, tlsa_nomatch;
} summary;

static void summarize(summary *sm, const probe *p, const pol_run *pr)
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
		{
			probe_verdict v[PROBE_SET_COUNT];
			verdicts(v, p, i, pr);
			for (int s = 0; s < PROBE_SET_COUNT; s++)
				sm->out[s][v[s].out]++;
		}
		if (pr && pr->dp && pr->dp[i].done) {
			const dom_pol *dp = &pr->dp[i];
			if (dp->temp)
				sm->sts_temp++;
			else if (!dp->have_policy)
				sm->sts_nopolicy++;
			else if (dp->mode == STS_MODE_ENFORCE)
				sm->sts_enforce++;
			else if (dp->mode == STS_MODE_TESTING)
				sm->sts_testing++;
			else
				sm->sts_none++;
			sm->dane += dp->dane != 0;
		} else if (pr && pr->dp && d->status == PROBE_D_MX) {
			sm->sts_pending++; /* interrupted before its evaluation: judged by the setting alone */
		}
	}
	sm->policy = pr && pr->dp;
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
		sm->tlsa_match += h->tlsa == PROBE_TLSA_MATCH;
		sm->tlsa_nomatch += h->tlsa == PROBE_TLSA_NOMATCH;
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
		if (sm->policy) {
			json_object_set_new(doc, "mta_sts",
			                    json_pack("{s:I, s:I, s:I, s:I, s:I}", "enforce", (json_int_t)sm->sts_enforce, "testing",
			                              (json_int_t)sm->sts_testing, "none", (json_int_t)sm->sts_none, "no_policy",
			                              (json_int_t)sm->sts_nopolicy, "cannot_confirm", (json_int_t)sm->sts_temp));
			if (sm->sts_pending)
				json_object_set_new(json_object_get(doc, "mta_sts"), "not_evaluated",
				                    json_integer((json_int_t)sm->sts_pending));
		} else {
			json_object_set_new(doc, "mta_sts", json_null());
		}
		json_object_set_new(doc, "dane",
		                    sm->policy ? json_pack("{s:I, s:I, s:I}", "domains", (json_int_t)sm->dane, "hosts_tlsa_match",
		                                           (json_int_t)sm->tlsa_match, "hosts_tlsa_nomatch",
		                                           (json_int_t)sm->tlsa_nomatch)
		                               : json_null());
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
	if (sm->policy) {
		printf("MTA-STS and DANE (postern-hookd's TLS policy)\n");
		row("MTA-STS enforce", sm->sts_enforce, sm->mx, "domains with MX");
		row("MTA-STS testing", sm->sts_testing, sm->mx, "domains with MX");
		row("MTA-STS none", sm->sts_none, sm->mx, "domains with MX");
		row("no MTA-STS policy", sm->sts_nopolicy, sm->mx, "domains with MX");
		if (sm->sts_temp)
			row("MTA-STS cannot be confirmed (deferred)", sm->sts_temp, sm->mx, "domains with MX");
		if (sm->sts_pending)
			row("not evaluated (interrupted): setting alone", sm->sts_pending, sm->mx, "domains with MX");
		row("DANE (DNSSEC-validated TLSA)", sm->dane, sm->mx, "domains with MX");
		if (sm->tlsa_match + sm->tlsa_nomatch) {
			row("  hosts matching their TLSA records", sm->tlsa_match, sm->tlsa_match + sm->tlsa_nomatch, "DANE hosts");
			row("  hosts not matching them", sm->tlsa_nomatch, sm->tlsa_match + sm->tlsa_nomatch, "DANE hosts");
		}
	} else {
		printf("MTA-STS and DANE: not evaluated (--no-policy)\n");
	}
	printf("domains with mail, by setting\n");
	row("opportunistic: encrypted", sm->out[0][PROBE_OUT_ENCRYPTED], sm->mx, "domains with MX");
	row("opportunistic: clear", sm->out[0][PROBE_OUT_CLEAR], sm->mx, "domains with MX");
	if (sm->out[0][PROBE_OUT_BLOCKED])
		row("opportunistic: blocked (MTA-STS/DANE)", sm->out[0][PROBE_OUT_BLOCKED], sm->mx, "domains with MX");
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

static int write_csv(cli *c, const probe *p, const pol_run *pr, const char *path)
{
	FILE *f;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		return cli_fail(c, EX_CANTCREAT, "cannot write %s: %s", path, strerror(errno));
	}
	fputs("domain,status,host,preference,address,starttls,tls_version,cipher,category,error,names,"
	      "mta_sts,policy_match,dane,tlsa,opportunistic,enforced,enforced_valid_cert,min_tls13\n",
	      f);
	for (size_t i = 0; i < probe_n_domains(p); i++) {
		const probe_domain *d = probe_domain_at(p, i);
		probe_verdict v[PROBE_SET_COUNT];
		const dom_pol *dp = pr && pr->dp && pr->dp[i].done ? &pr->dp[i] : NULL;
		if (!d->done)
			continue;
		verdicts(v, p, i, pr);
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
			csv(f, dp ? sts_status(dp) : "", 0);
			csv(f, dp && dp->have_policy && h ? (dp->match & (1u << k) ? "yes" : "no") : "", 0);
			csv(f, dp ? (dp->dane ? "yes" : "no") : "", 0);
			csv(f, h && dp ? probe_tlsa_key((probe_tlsa)h->tlsa) : "", 0);
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
	                        {"--threads", 1, &no.threads, NULL},
	                        {"--csv", 1, &csvout, NULL},         {"--port", 1, &no.port, NULL},
	                        {"--dns", 1, &no.dns, NULL},         {"--trust-anchor", 1, &no.ta, NULL},
	                        {"--ca-file", 1, &no.ca, NULL},      {"--timeout", 1, &no.timeout, NULL},
	                        {"--helo", 1, &no.helo, NULL},       {"--json", 0, NULL, &no.json},
	                        {"--hookd-config", 1, &no.hookd, NULL}, {"--no-policy", 0, NULL, &no.no_policy},
	                        {NULL, 0, NULL, NULL}};
	static hookd_conf hc;
	pol_run pr;
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
	if (no.no_policy && no.hookd)
		return cli_fail(c, EX_USAGE, "--no-policy and --hookd-config: choose one");
	pol_init(&pr);
	if (no.no_policy)
		conf_defaults(&hc);
	else if ((r = cli_hookd_conf(c, &hc, no.hookd)) != 0)
		return r;
	if ((r = net_conf(c, &no, &hc, &pc, 10)) != 0)
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
	/* the policy cache (a clear error, not a survey without MTA-STS);
	 * each domain's MTA-STS/DANE requirement evaluated as the probe goes */
	if (!no.no_policy && ((r = pol_open(c, &pr, &hc)) != 0 || (r = pol_start(c, &pr, p)) != 0)) {
		pol_free(&pr);
		probe_free(p);
		return r;
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
	if (r != 0 || pr.oom) {
		pol_free(&pr);
		probe_free(p);
		return cli_fail(c, EX_UNAVAILABLE, "%s", r ? err : "out of memory");
	}
	/* the TLSA records of the DANE domains' hosts (not after a stop) */
	if (!no.no_policy && !survey_stop && (r = pol_dane(c, &pr, p, 0)) != 0) {
		pol_free(&pr);
		probe_free(p);
		return r;
	}
	summarize(&sm, p, no.no_policy ? NULL : &pr);
	r = csvout ? write_csv(c, p, no.no_policy ? NULL : &pr, csvout) : 0;
	print_summary(c, &sm, survey_stop);
	pol_free(&pr);
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

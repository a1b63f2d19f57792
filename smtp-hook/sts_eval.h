/*
 * One whole evaluation of a recipient domain's TLS requirement: the
 * cache, the `_mta-sts` TXT record, the policy fetch, the MX hosts and
 * their TLSA records, combined into the answer of the TLS policy map
 * (mtasts.h sts_answer) with the reason for it.
 *
 * The evaluation is a job (sts_job): a state machine that starts its
 * DNS lookups and its HTTPS fetch and never waits for them.  Whoever
 * drives it calls sts_job_step() when something it waits for happened
 * (a DNS answer: the job's wake callback runs; its fetch socket is
 * ready; a deadline passed).  The daemon's TLS policy service
 * (srv_tlspolicy.c) drives jobs from its event loop; sts_eval() drives
 * one with poll() to the end, for the shell's `postern tls policy` and
 * the tests.  One copy of the logic for both.
 *
 * The TXT and MX lookups start together, so a domain without a policy
 * costs one DNS round trip.  The TLSA lookups follow only when the MX
 * answer is DNSSEC-secure and an answer needs them: an enforced policy
 * (DANE first), an enforcing map (sts_job_want_tlsa), or a plain map
 * whose transport does not run at Postfix's dane level (postfix_dane
 * off).  Otherwise the plain map answers NOTFOUND and Postfix's dane
 * level does the TLSA lookup and DANE itself (docs/mta-sts.md).
 */
#ifndef HOOKD_STS_EVAL_H
#define HOOKD_STS_EVAL_H

#include <openssl/ssl.h>

#include "dns.h"
#include "mtasts.h"
#include "postern/account.h"

#define STS_EVAL_MX_MAX 16
#define STS_EVAL_WHY_MAX 1024

typedef struct sts_eval_conf {
	dns_ctx *dns;
	SSL_CTX *tls;       /* sts_fetch_ssl_ctx() */
	acct_db *db;        /* the policy cache; NULL = unavailable (a job then answers TEMP) */
	int https_port;     /* 443; another only in tests */
	int strict_testing; /* enforce mode: testing policies too */
	int timeout_ms;     /* each DNS lookup and the fetch */
	int64_t nopolicy_ttl;
	int64_t failure_ttl; /* no policy after a failure (never had one): at most nopolicy_ttl; 0 = nopolicy_ttl */
	int postfix_dane;    /* the plain map's transport runs at Postfix's dane level: no TLSA without an enforced policy */
} sts_eval_conf;

typedef enum sts_eval_kind { STS_EVAL_OK = 0, STS_EVAL_NOTFOUND = 1, STS_EVAL_TEMP = 2 } sts_eval_kind;

typedef struct sts_eval_result {
	sts_eval_kind kind;
	char answer[STS_ANSWER_MAX];   /* OK: the policy for Postfix */
	char why[STS_EVAL_WHY_MAX];    /* the reason, for the log and the shell */
	int from_cache;                /* the policy was served from an unexpired cache entry */
	int have_policy;
	sts_mode mode;
	char id[STS_ID_MAX + 1];
	int dane;                      /* DNSSEC-validated TLSA records for an MX host */
	int tlsa_skipped;              /* secure MX set, TLSA not asked (left to Postfix's dane level) */
	size_t n_mx;
	char mx[STS_EVAL_MX_MAX][DNS_NAME_MAX + 1];
} sts_eval_result;

/* Evaluate `domain` (lower case) for a transport with requirement acct,
 * to the end (poll); conf->db may be NULL only if the answer may be TEMP. */
void sts_eval(sts_eval_result *out, const sts_eval_conf *conf, const char *domain, const sts_account_req *acct);

/* ---- the facts an evaluation establishes about a domain ---- */

typedef struct sts_facts {
	int temp;                 /* an MTA-STS policy existed and cannot be confirmed now (or no store): TEMP */
	int have_policy;          /* a valid policy (mode below) */
	sts_mode mode;
	char id[STS_ID_MAX + 1];
	int64_t policy_expires;   /* have_policy: when it expires (the store's clock) */
	int64_t policy_max_age;
	int from_cache;           /* the policy came from an unexpired cache entry */
	int fetched;              /* a policy was fetched in this evaluation */
	int mx_temp;              /* the MX lookup failed temporarily (or was bogus) */
	int dane;                 /* DNSSEC-secure MX set with secure TLSA records for a host */
	int tlsa_skipped;         /* DNSSEC-secure MX set, TLSA not asked: dane unknown (see hosts_decide) */
	int postfix_dane;         /* evaluated with conf postfix_dane */
	int64_t nopolicy_ttl;     /* no policy: seconds that may be kept as such (0: not known) */
	size_t n_mx;
	char mx[STS_EVAL_MX_MAX][DNS_NAME_MAX + 1]; /* as resolved (no MX: the domain itself) */
	unsigned match;           /* bit i: mx[i] matches a pattern of the policy */
	char why[STS_EVAL_WHY_MAX];
} sts_facts;

/* Everything needed to answer any map for a domain: the facts, reduced
 * (the daemon keeps this much per domain in memory). */
typedef struct sts_state {
	int temp, have_policy, dane, mx_temp;
	int tlsa_skipped; /* DANE not known: only the plain map without an enforced policy can be answered */
	int postfix_dane; /* the plain map without an enforced policy answers NOTFOUND, DANE or not */
	sts_mode mode;
	size_t n_match;
	const char *match[STS_EVAL_MX_MAX]; /* the MX hosts matching the policy, in MX order (borrowed) */
} sts_state;

void sts_facts_state(sts_state *out, const sts_facts *f);

/* The answer for one map: the account's requirement acct, and
 * strict_testing (enforce testing policies).  OK with the policy in out,
 * NOTFOUND, or TEMP; *why a static phrase for the log. */
sts_eval_kind sts_state_answer(char *out, size_t outlen, const sts_state *s, const sts_account_req *acct,
                               int strict_testing, const char **why);

/* Does answering map acct need the TLSA records this state lacks
 * (tlsa_skipped)?  Then sts_state_answer says TEMP: evaluate again with
 * sts_job_want_tlsa().  1 or 0. */
int sts_state_needs_tlsa(const sts_state *s, const sts_account_req *acct, int strict_testing);

/* Is a testing-mode policy going unenforced for this state? 1 or 0. */
int sts_state_testing_unenforced(const sts_state *s, int strict_testing);

/* ---- the job ---- */

typedef enum sts_job_kind {
	STS_JOB_LOOKUP = 0,  /* a lookup: an unexpired cached policy or negative entry is used without asking for TXT */
	STS_JOB_REFRESH = 1, /* in the background: TXT always asked; a new id, or a policy in the last quarter of
	                        its max_age (at most a day before it expires), is fetched again */
	STS_JOB_POLICY = 2   /* REFRESH for the policy alone: no MX or TLSA lookups */
} sts_job_kind;

typedef struct sts_job sts_job;

/* Start evaluating `domain` (lower case).  conf is borrowed for the
 * job's life (its db may change between steps: the daemon's handle can
 * be reopened).  wake(arg) runs, from dns_process/dns_expire, when a DNS
 * answer for the job arrived: then call sts_job_step (not from inside
 * wake).  wake may be NULL.  0, or -1 when out of memory. */
int sts_job_new(sts_job **out, const sts_eval_conf *conf, const char *domain, sts_job_kind kind,
                void (*wake)(void *arg), void *arg);

/* The domain's MX answer is known already: its caller asked for it,
 * through the same resolver (`postern tls survey`, whose probe needs the
 * MX hosts too).  The job keeps a copy of r instead of asking again.
 * Only before the job's first sts_job_step; ignored after it. */
void sts_job_set_mx(sts_job *j, const dns_result *r);

/* An answer waiting for this job needs DANE known (an enforcing map):
 * ask the TLSA records of a DNSSEC-secure MX set even without an
 * enforced policy, also if the hosts half had already skipped them.
 * Wakes the job (call sts_job_step after). */
void sts_job_want_tlsa(sts_job *j);
int sts_job_wants_tlsa(const sts_job *j);

/* Make what progress can be made now; 1 when done (sts_job_facts),
 * 0 while waiting. */
int sts_job_step(sts_job *j, int64_t now_ms);

/* What else the job waits for: its fetch socket (-1: none) with
 * *events POLLIN/POLLOUT, and *deadline_ms the fetch's deadline. */
int sts_job_fd(const sts_job *j, short *events, int64_t *deadline_ms);

const char *sts_job_domain(const sts_job *j);
sts_job_kind sts_job_get_kind(const sts_job *j);
const sts_facts *sts_job_facts(const sts_job *j);

/* Free a job that is done, or any job after its dns_ctx was closed (no
 * DNS answer may arrive for it later). */
void sts_job_free(sts_job *j);

#endif

/*
 * One whole evaluation of a recipient domain's TLS requirement: the
 * cache, the `_mta-sts` TXT record, the policy fetch, the MX hosts and
 * their TLSA records, combined into the answer of the TLS policy map
 * (mtasts.h sts_answer) with the reason for it.
 *
 * This is the reference flow, run to the end with poll() (dns_wait,
 * sts_fetch_run): for the shell's `postern tls policy DOMAIN` and the
 * tests.  The daemon's service runs the same steps from its event loop.
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
	acct_db *db;        /* the policy cache */
	int https_port;     /* 443; another only in tests */
	int strict_testing; /* enforce mode: testing policies too */
	int timeout_ms;     /* each DNS lookup and the fetch */
	int64_t nopolicy_ttl;
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
	size_t n_mx;
	char mx[STS_EVAL_MX_MAX][DNS_NAME_MAX + 1];
} sts_eval_result;

/* Evaluate `domain` (lower case) for a transport with requirement acct. */
void sts_eval(sts_eval_result *out, const sts_eval_conf *conf, const char *domain, const sts_account_req *acct);

#endif

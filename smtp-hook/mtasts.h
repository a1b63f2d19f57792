/*
 * MTA-STS (RFC 8461) and the TLS policy answers built from it: pure
 * functions, bytes in, result out, no system calls, every input bounded.
 *
 *   sts_txt_parse()     the `_mta-sts.DOMAIN` TXT records -> the policy id
 *   sts_policy_parse()  the policy file -> mode, max_age, mx patterns
 *   sts_mx_match()      RFC 8461 section 4.1 pattern matching
 *   sts_key_parse()     a Postfix TLS policy lookup key -> what kind it is
 *   sts_map_parse()     a socketmap name -> the account's requirement
 *   sts_answer()        requirement + domain state -> the Postfix policy
 *
 * The answer never widens a policy: Postfix's `match=.example.net`
 * matches any depth while RFC 8461's `*.example.net` matches exactly one
 * label, so sts_answer() lists in `match=` exactly the resolved MX
 * hosts that match a pattern, by name.
 */
#ifndef HOOKD_MTASTS_H
#define HOOKD_MTASTS_H

#include <stddef.h>
#include <stdint.h>

#define STS_ID_MAX 32              /* sts-id = 1*32(ALPHA / DIGIT) */
#define STS_TXT_MAX 4096           /* one TXT record, strings concatenated */
#define STS_POLICY_MAX 65536       /* policy file body (the limit) */
#define STS_LINE_MAX 1024          /* one policy line */
#define STS_MX_MAX 64              /* mx patterns in one policy */
#define STS_NAME_MAX 253           /* a domain name, without the final dot */
#define STS_MAX_AGE_MAX 31557600u  /* RFC 8461 section 3.2 */
#define STS_ANSWER_MAX 4096        /* one answer, fits a socketmap reply */

typedef enum sts_mode { STS_MODE_NONE = 0, STS_MODE_TESTING = 1, STS_MODE_ENFORCE = 2 } sts_mode;

typedef enum sts_txt_result {
	STS_TXT_INVALID = -1, /* an STS record that is malformed, or several */
	STS_TXT_ABSENT = 0,   /* no record starting with v=STSv1 */
	STS_TXT_FOUND = 1     /* exactly one valid record; id set */
} sts_txt_result;

/*
 * The TXT records of `_mta-sts.DOMAIN`, each given as its character
 * strings already concatenated (RFC 8461 section 3.1).  Records that do
 * not start with `v=STSv1` followed by `;` are discarded; exactly one may
 * remain, with exactly one `id=` of 1..32 letters and digits; unknown
 * extension fields are checked for syntax and ignored.  id_out gets the
 * id (NUL-terminated) when STS_TXT_FOUND; *err a static reason when
 * STS_TXT_INVALID (RFC: then assume no policy is available).
 */
sts_txt_result sts_txt_parse(char id_out[STS_ID_MAX + 1], const char *const *recs, const size_t *lens, size_t n,
                             const char **err);

typedef struct sts_policy {
	sts_mode mode;
	uint32_t max_age;
	size_t n_mx;
	char mx[STS_MX_MAX][STS_NAME_MAX + 3]; /* lower case, "*." prefix kept */
} sts_policy;

/*
 * The policy file (RFC 8461 section 3.2): `key: value` lines ended by LF
 * or CRLF.  version must be STSv1, mode testing/enforce/none, max_age
 * 0..31557600 (at most 10 digits), mx `[*.]domain` (required unless mode
 * is none, at most STS_MX_MAX).  Unknown fields with a valid name are
 * ignored; a repeated field other than mx keeps its first value (both as
 * the RFC says).  Empty lines are skipped.  Returns 0, or -1 with *err
 * saying what was wrong (out is then zeroed).
 */
int sts_policy_parse(sts_policy *out, const char *buf, size_t len, const char **err);

/*
 * Does host (a name from DNS, trailing dot allowed, any case) match the
 * policy pattern?  `*.example.net` matches exactly one extra label:
 * mx.example.net yes; example.net and a.mx.example.net no.  1 or 0.
 */
int sts_mx_match(const char *pattern, const char *host);

typedef enum sts_key_kind {
	STS_KEY_INVALID = -1,
	STS_KEY_DOMAIN = 0,  /* a bare domain: evaluated */
	STS_KEY_PARENT = 1,  /* `.parent` probe: NOTFOUND (our answer for the domain is whole) */
	STS_KEY_LITERAL = 2  /* `[host]`, `[host]:port`, `host:port`: no MX lookup, no MTA-STS */
} sts_key_kind;

/* Classify a Postfix TLS policy lookup key; for STS_KEY_DOMAIN, domain_out
 * gets it in lower case without a trailing dot. */
sts_key_kind sts_key_parse(char domain_out[STS_NAME_MAX + 1], const char *key);

/* What the transport asking through this map name requires of TLS. */
typedef enum sts_tls_req { STS_REQ_NONE = 0, STS_REQ_ENCRYPT = 1, STS_REQ_VERIFY = 2 } sts_tls_req;

typedef struct sts_account_req {
	sts_tls_req tls;
	int tls13;     /* minimum protocol TLSv1.3 (else TLSv1.2 when tls != NONE) */
	int dane_here; /* the transport does no DANE itself (level none): the answer must carry it */
} sts_account_req;

/*
 * The map names the service answers (docs/mta-sts.md):
 *   tls-policy               the domain's requirement alone (the default
 *                            smtp transport, opportunistic accounts); may
 *                            leave DANE to Postfix's dane level
 *                            (tlspolicy_postfix_dane)
 *   tls-policy-none          the same for a transport at level none
 *                            (postern-notls): DANE always answered here
 *                            (dane_here), TLSA always asked
 *   tls-policy-encrypt       at least encrypt, TLSv1.2+
 *   tls-policy-encrypt13     at least encrypt, TLSv1.3
 *   tls-policy-verify        at least verify, TLSv1.2+
 *   tls-policy-verify13      at least verify, TLSv1.3
 * Returns 0, or -1 for any other name.
 */
int sts_map_parse(sts_account_req *out, const char *name);

/* Does an answer on this map need DANE known whatever the domain's
 * MTA-STS policy (an enforcing map, or tls-policy-none)?  1 or 0. */
int sts_req_needs_tlsa(const sts_account_req *acct);

typedef enum sts_answer_result {
	STS_ANSWER_TOOLONG = -2, /* does not fit outlen */
	STS_ANSWER_NOMATCH = -1, /* enforce, but no MX host matches: defer (TEMP) */
	STS_ANSWER_NOTFOUND = 0, /* nothing to add: the transport's own level */
	STS_ANSWER_OK = 1        /* out holds the policy */
} sts_answer_result;

/*
 * The Postfix smtp_tls_policy_maps value for one domain.
 *   dane: the MX hosts have DNSSEC-validated TLSA records (DANE first,
 *         RFC 8461 section 2): `dane-only` on an enforcing map, `dane`
 *         on the plain one; never `secure`.
 *   pol:  the policy to enforce, or NULL (mode none, testing without
 *         strict-testing, no policy): the caller decides the mode.
 *   mx:   the domain's MX host names as resolved.
 * With a policy: `secure match=H1:H2 servername=hostname` listing every
 * host of mx that matches a pattern (in mx order, no duplicates).  The
 * account's requirement is added: `protocols=>=TLSv1.3` or
 * `protocols=>=TLSv1.2`; with no domain requirement an enforcing map
 * gets `encrypt`/`verify` with its protocols, the plain map NOTFOUND.
 */
sts_answer_result sts_answer(char *out, size_t outlen, const sts_account_req *acct, int dane, const sts_policy *pol,
                             const char *const *mx, size_t n_mx);

const char *sts_mode_name(sts_mode m);

/* ---- the HTTPS response (RFC 8461 section 3.3) ---- */

#define STS_HTTP_HEAD_MAX 16384

typedef enum sts_http_result {
	STS_HTTP_ERROR = -1,    /* refused: *err says why */
	STS_HTTP_NEED_MORE = 0, /* not complete yet (eof = 0) */
	STS_HTTP_DONE = 1       /* *body_off, *body_len set */
} sts_http_result;

/*
 * An HTTP/1.0 or 1.1 response to the policy GET, as received so far (eof:
 * the server closed the connection).  Accepted: status 200 only (a
 * redirect is refused, never followed), a Content-Type of text/plain
 * (parameters allowed), no Transfer-Encoding, a body of at most 64 KiB
 * (by Content-Length when given, else up to the close), a header block
 * of at most 16 KiB.
 */
sts_http_result sts_http_response(const char *buf, size_t len, int eof, size_t *body_off, size_t *body_len,
                                  const char **err);

/* ---- cache decisions (the rules of RFC 8461 section 3.3 and issue 7) ---- */

typedef enum sts_cached_kind { STS_CACHED_NOTHING = 0, STS_CACHED_NOPOLICY = 1, STS_CACHED_POLICY = 2 } sts_cached_kind;

/* What the cache holds for a domain. */
typedef struct sts_cached {
	sts_cached_kind kind;
	char id[STS_ID_MAX + 1]; /* POLICY: the TXT id it was fetched for */
	int64_t expires;
} sts_cached;

/* What DNS said about `_mta-sts.DOMAIN`. */
typedef enum sts_dns {
	STS_DNS_FOUND = 0,   /* exactly one valid STS record, with an id */
	STS_DNS_ABSENT = 1,  /* NXDOMAIN, no data, or no STS record among the TXT */
	STS_DNS_INVALID = 2, /* STS records that are malformed, or several */
	STS_DNS_TEMPFAIL = 3 /* SERVFAIL, timeout, bogus DNSSEC: no answer to go by */
} sts_dns;

typedef enum sts_action {
	STS_USE_CACHED = 0, /* serve the cached policy */
	STS_FETCH = 1,      /* fetch the policy file (none cached, id changed, or expired) */
	STS_NO_POLICY = 2,  /* the domain has no policy: answer as for none */
	STS_DEFER = 3       /* TEMP: a policy existed and cannot be confirmed now */
} sts_action;

/* An unexpired cached policy: served at once, DNS and HTTPS only in the
 * background.  1 or 0. */
int sts_cached_fresh(const sts_cached *c, int64_t now);

/*
 * After the TXT lookup.  With a cached policy: the same id and unexpired
 * -> USE_CACHED; another id, or expired -> FETCH; TXT gone or invalid ->
 * USE_CACHED while unexpired (a missing record does not cancel a
 * policy), NO_POLICY once expired; DNS failure -> USE_CACHED while
 * unexpired, DEFER once expired.  Without one: FOUND -> FETCH, anything
 * else -> NO_POLICY (a domain that never had a policy is not deferred).
 */
sts_action sts_decide_txt(const sts_cached *c, int64_t now, sts_dns txt, const char *txt_id);

/* After a failed fetch (network, TLS, HTTP, or a policy that does not
 * parse): USE_CACHED while a cached policy is unexpired, DEFER once it
 * has expired, NO_POLICY if the domain never had one. */
sts_action sts_decide_fetch_failed(const sts_cached *c, int64_t now);


#endif

/*
 * DNS for the TLS policy service: asynchronous, DNSSEC-validating
 * lookups through libunbound (Debian's libunbound-dev).
 *
 * Why libunbound rather than a local resolver's AD bit: DANE must not
 * trust an AD bit that crossed a network, and the daemon must not depend
 * on how the machine's resolver is configured.  libunbound validates
 * itself against the configured trust anchor (the root key from
 * dns-root-data in production, a test zone's key in the tests).
 *
 * One context per daemon.  libunbound resolves in its own thread
 * (ub_ctx_async(ctx, 1)); the daemon's event loop watches dns_fd() and
 * calls dns_process() when it is readable, which runs the callbacks.  A
 * query that passes its deadline is cancelled by dns_expire() and
 * reported as DNS_TEMPFAIL "timeout": libunbound's own retries can take
 * minutes, Postfix will not wait that long.
 *
 * Also here, pure and fuzzable: the rdata decoders for TXT and MX.
 */
#ifndef HOOKD_DNS_H
#define HOOKD_DNS_H

#include <stddef.h>
#include <stdint.h>

#define DNS_RR_A 1
#define DNS_RR_MX 15
#define DNS_RR_TXT 16
#define DNS_RR_AAAA 28
#define DNS_RR_TLSA 52
#define DNS_NAME_MAX 253
#define DNS_WHY_MAX 256

typedef enum dns_status {
	DNS_OK = 0,       /* data */
	DNS_NODATA = 1,   /* the name exists, not this type */
	DNS_NXDOMAIN = 2, /* the name does not exist */
	DNS_TEMPFAIL = 3, /* SERVFAIL, REFUSED, timeout, no server: no answer to go by */
	DNS_BOGUS = 4     /* DNSSEC validation failed: treated as a failure, never as data */
} dns_status;

typedef struct dns_result {
	dns_status status;
	int secure;       /* DNSSEC-validated: the data, or its absence */
	int rcode;
	const char *why;  /* TEMPFAIL/BOGUS: what went wrong */
	size_t n;         /* rdata items (DNS_OK) */
	const unsigned char *const *data;
	const int *len;
} dns_result;

typedef struct dns_conf {
	/* "ADDR[@PORT]" of the servers to ask (recursive resolvers, or in
	 * the tests an authoritative server); NULL = iterate from the root */
	const char *forward;
	const char *trust_anchor_file; /* zone-file DS or DNSKEY records; NULL = none (nothing is secure) */
	const char *trust_anchor;      /* one record as text, in addition; NULL = none */
} dns_conf;

typedef struct dns_ctx dns_ctx;

/* The result is valid during the callback only. */
typedef void (*dns_cb)(void *arg, const dns_result *r);

/* 0, or -1 with a message in err. */
int dns_open(dns_ctx **out, const dns_conf *conf, char *err, size_t errlen);

/* The same without a thread (`postern tls survey`, whose loop does
 * little else than wait): libunbound resolves inside the caller's
 * libevent event base (ub_ctx_create_event; the libevent libunbound
 * itself uses), and its answers arrive while the caller runs that base.
 * dns_fd() is then -1 and dns_process() does nothing; dns_wait() runs
 * the base; a query given up (dns_expire, dns_cancel_all) is left to
 * finish unseen, not cancelled (libunbound's event mode does not take a
 * cancel back safely).  The answers are read from DNS messages
 * (dns_wire_answer).  Each query costs about half the CPU of the
 * threaded mode's (docs/performance.md). */
struct event_base;
int dns_open_event(dns_ctx **out, const dns_conf *conf, struct event_base *base, char *err, size_t errlen);
void dns_close(dns_ctx *d); /* cancels what is pending, without callbacks */
void dns_cancel_all(dns_ctx *d); /* cancels what is pending, without callbacks; the context stays */

int dns_fd(const dns_ctx *d);
/* Run the callbacks of the answers that arrived. 0 or -1. */
int dns_process(dns_ctx *d);
/* Cancel the queries whose deadline (CLOCK_MONOTONIC ms) is <= now_ms,
 * calling their callbacks with DNS_TEMPFAIL "timeout"; returns the
 * earliest remaining deadline, or -1 if none is pending. */
int64_t dns_expire(dns_ctx *d, int64_t now_ms);
size_t dns_pending(const dns_ctx *d);

/* Start a lookup; the callback runs from dns_process or dns_expire (or,
 * if the query cannot even start, never: -1 is returned instead). */
int dns_resolve(dns_ctx *d, const char *name, int rrtype, int64_t deadline_ms, dns_cb cb, void *arg);

/* ---- an answer kept past its callback ---- */

#define DNS_ANSWER_KEEP 16      /* records kept of one answer */
#define DNS_ANSWER_DATA_MAX 4100 /* bytes of one record: a TXT record of RFC 8461's size, an MX, a TLSA */

/* A copy of a dns_result, for whoever decides after the callback
 * returned (the evaluation job, the shell's report).  Records beyond
 * DNS_ANSWER_KEEP, or longer than DNS_ANSWER_DATA_MAX, are left out
 * (`dropped` counts them).  Zero-initialised = empty. */
typedef struct dns_answer {
	int done;
	dns_status status;
	int secure;
	char why[DNS_WHY_MAX]; /* the failure, or the status's name */
	size_t n, dropped;
	unsigned char *data[DNS_ANSWER_KEEP]; /* each NUL-terminated after len[i] bytes */
	size_t len[DNS_ANSWER_KEEP];
} dns_answer;

/* Copy r into a (cleared first); keep_data = 0 keeps the status only.
 * A record that cannot be allocated is dropped like an oversized one. */
void dns_answer_set(dns_answer *a, const dns_result *r, int keep_data);
/* Mark a as failed without an answer (DNS_TEMPFAIL, why). */
void dns_answer_fail(dns_answer *a, const char *why);
/* Free the records; a is empty again. */
void dns_answer_clear(dns_answer *a);

/* Wait (poll) until nothing is pending or the deadlines pass: for the
 * shell and the tests, never the daemon. */
void dns_wait(dns_ctx *d);

int64_t dns_now_ms(void);
const char *dns_status_name(dns_status s);

/* ---- pure rdata decoders ---- */

/* A TXT record's character strings, concatenated (RFC 8461 section 3.1).
 * Returns the length written (NUL-terminated), -1 if malformed or too long. */
long dns_txt_join(char *out, size_t outlen, const unsigned char *rd, size_t len);

/* The answer section of a DNS message (RFC 1035 section 4.1): its
 * rcode, and the rdata of the records of type rrtype (class IN; a CNAME
 * chain before them skipped), pointing into msg, except an MX record's,
 * written out with its exchange uncompressed (as dns_mx_parse reads it)
 * into w.  Records past DNS_WIRE_RR_MAX are left out.  0, or -1 if the
 * message is malformed (then nothing of it is to be used). */
#define DNS_WIRE_RR_MAX 32
typedef struct dns_wire {
	int rcode;
	size_t n;
	const unsigned char *data[DNS_WIRE_RR_MAX];
	int len[DNS_WIRE_RR_MAX];
	unsigned char mx[DNS_WIRE_RR_MAX][2 + 255];
} dns_wire;
int dns_wire_answer(dns_wire *w, const unsigned char *msg, size_t len, int rrtype);

/* An MX record: preference and exchange (lower case, no final dot;
 * "" for the null MX "."). 0 or -1. */
int dns_mx_parse(int *pref, char name[DNS_NAME_MAX + 1], const unsigned char *rd, size_t len);

#endif

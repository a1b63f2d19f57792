/*
 * The TLS probe behind `postern tls check` and `postern tls survey`:
 * for a set of recipient domains, the MX hosts (RFC 5321 section 5.1:
 * no MX means the domain itself; RFC 7505: the null MX "." means the
 * domain accepts no mail), and for each host, once however many domains
 * share it: connect to port 25, the banner, EHLO, STARTTLS if offered,
 * a TLS handshake with SNI, the certificate's verdict, QUIT.
 *
 * One event loop: non-blocking sockets and OpenSSL
 * (SSL_connect/SSL_read/SSL_write retried on WANT_READ/WANT_WRITE) in an
 * epoll set, and DNS through libunbound in the same thread, in a libevent
 * base the loop runs with the epoll set inside it (smtp-hook/dns.h
 * dns_open_event: no resolver thread).  The TLS handshake steps, the
 * CPU of a probe, can go to worker threads (probe_conf.threads).  At most `concurrency` connections are open at a time;
 * every step (DNS, connect, each reply, the handshake) has its own
 * deadline.  The SMTP replies are parsed by the pure smtpreply.c.
 *
 * The client accepts everything it can (TLSv1.0 and up, security level
 * 0) so that it sees what a server does, and judges afterwards: a
 * handshake Postfix would refuse is reported as what it is.
 */
#ifndef POSTERN_PROBE_H
#define POSTERN_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "dns.h"

/* Why a host does or does not give a trusted TLS connection. */
typedef enum probe_cat {
	PROBE_TRUSTED = 0,     /* TLS, the chain verifies, the name matches, nothing weak */
	PROBE_NO_STARTTLS,     /* EHLO does not offer STARTTLS */
	PROBE_NAME_MISMATCH,   /* the certificate is for other names */
	PROBE_UNKNOWN_CA,      /* unknown authority or self-signed */
	PROBE_EXPIRED,         /* expired or not yet valid */
	PROBE_WEAK,            /* weak or malformed: negative serial, small key, SHA-1/MD5 signature, TLS < 1.2 */
	PROBE_HANDSHAKE,       /* STARTTLS refused or the TLS handshake failed */
	PROBE_CONNECT,         /* no address, connection refused or timed out, no or a bad SMTP reply */
	PROBE_CAT_COUNT
} probe_cat;

/* snprintf for messages, where cutting a long name short is intended
 * (no -Wformat-truncation complaint at the call sites). */
int probe_fmt(char *out, size_t len, const char *f, ...) __attribute__((format(printf, 3, 4)));

const char *probe_cat_name(probe_cat c);  /* "name mismatch" */
const char *probe_cat_key(probe_cat c);   /* "name_mismatch", for JSON and CSV */

#define PROBE_NAMES_MAX 512
#define PROBE_ERR_MAX 256

/* A host's DANE TLSA status (probe_dane_check). */
typedef enum probe_tlsa {
	PROBE_TLSA_UNKNOWN = 0, /* not looked up (the domain's MX records are not DNSSEC-validated) */
	PROBE_TLSA_NONE,        /* no DNSSEC-validated TLSA records */
	PROBE_TLSA_UNUSABLE,    /* records, none usable (PKIX-TA/PKIX-EE, unknown parameters): as if none */
	PROBE_TLSA_MATCH,       /* usable records, and the certificate chain matches one */
	PROBE_TLSA_NOMATCH,     /* usable records, and nothing matches (or no TLS to check) */
	PROBE_TLSA_FAIL         /* the lookup failed (SERVFAIL, bogus): DANE cannot be confirmed */
} probe_tlsa;

const char *probe_tlsa_key(probe_tlsa t); /* "match", "nomatch", "none", ... for JSON and CSV */

typedef struct probe_host {
	char name[DNS_NAME_MAX + 1];
	char addr[48];            /* the address probed last, "" if none */
	probe_cat cat;
	int done;
	int reached;              /* an SMTP greeting was read */
	int starttls;             /* EHLO offered STARTTLS */
	int tls;                  /* the handshake completed */
	int tls_version;          /* TLS1_VERSION..TLS1_3_VERSION, 0 if none */
	char version[16];         /* "TLSv1.3" */
	char cipher[64];
	int verified;             /* the chain verifies against the trusted CAs */
	int name_ok;              /* X509_check_host with the one-label wildcard rule */
	char names[PROBE_NAMES_MAX]; /* the names the certificate holds (DNS SANs, else the CN), comma-separated */
	char error[PROBE_ERR_MAX];   /* what went wrong, for the category; "" when trusted */
	char banner[96];
	int64_t ms;               /* time from the first connect to the result */
	/* DANE (RFC 7672): the certificate against the host's TLSA records,
	 * set by probe_dane_check() after the run */
	int tlsa;                 /* probe_tlsa */
	char tlsa_text[PROBE_ERR_MAX]; /* what was found, for the report */
	/* engine state */
	unsigned char *chain;     /* the peer's chain as it was sent, DER certificates one after another */
	size_t chain_len;
	int dns_left;
	int aaaa_asked;           /* the AAAA lookup started (only once the IPv4 addresses are used up) */
	size_t n_addr, next_addr;
	unsigned char addrs[8][17]; /* family byte (4 or 6) and address */
	int queued;
} probe_host;

typedef enum probe_dstatus {
	PROBE_D_PENDING = 0,
	PROBE_D_MX,        /* MX hosts found (or the implicit MX) */
	PROBE_D_NULLMX,    /* null MX: does not accept mail */
	PROBE_D_NXDOMAIN,  /* no such domain */
	PROBE_D_DNSFAIL    /* the MX lookup failed (tempfail, bogus) */
} probe_dstatus;

#define PROBE_DOMAIN_MX 16

typedef struct probe_domain {
	char name[DNS_NAME_MAX + 1];
	probe_dstatus status;
	int implicit;              /* no MX: the domain itself is the host */
	char error[PROBE_ERR_MAX];
	size_t n_mx;
	size_t mx[PROBE_DOMAIN_MX]; /* host indexes, by preference */
	int pref[PROBE_DOMAIN_MX];
	int done;                   /* status known and every host done */
} probe_domain;

#define PROBE_THREADS_MAX 64

typedef struct probe_conf {
	const char *dns_forward;       /* dns_conf.forward */
	const char *trust_anchor_file; /* NULL = none */
	const char *ca_file;           /* NULL = the system's store */
	int port;                      /* 25 */
	int timeout_ms;                /* each step */
	int concurrency;               /* connections open at a time */
	int threads;                   /* TLS handshake worker threads: 0 none (the loop does them),
	                                * -1 one per online CPU (none on one CPU); at most PROBE_THREADS_MAX */
	const char *helo;              /* the EHLO name */
	/* called when a domain is done (survey progress); may be NULL */
	void (*progress)(void *arg, size_t domains_done, size_t domains, size_t hosts_done, size_t hosts);
	void *progress_arg;
	volatile int *stop;            /* set (by a signal handler) to stop early */
} probe_conf;

typedef struct probe probe;

/* NULL with a message in err. */
probe *probe_new(const probe_conf *conf, char *err, size_t errlen);
void probe_free(probe *p);

/* Add a domain (lower case, validated by the caller).  Its index, or -1
 * (out of memory).  A domain added twice is kept once: the same index. */
long probe_add(probe *p, const char *domain);

/* Another user of the probe's loop and resolver: `tls survey`'s MTA-STS
 * and DANE evaluation, which runs while the hosts are probed, through
 * the same libunbound context (probe_dns), and is given each domain's
 * MX answer rather than asking it again. */
typedef struct probe_side {
	/* a domain's MX answer, for a domain with MX hosts (the implicit MX
	 * included), once its hosts are known; from the DNS callback: it may
	 * start lookups, not wait for them */
	void (*mx)(void *arg, size_t domain, const dns_result *r);
	/* before each wait: what can be done now; the side's next deadline
	 * (dns_now_ms() clock), or -1 */
	int64_t (*run)(void *arg, int64_t now_ms);
	/* work in flight: probe_run returns only when it is 0 (or on a stop) */
	size_t (*busy)(void *arg);
	int fd;    /* -1, or a descriptor the loop waits for (input) with its own */
	void *arg;
} probe_side;

/* Set before probe_run; s is copied. */
void probe_set_side(probe *p, const probe_side *s);

/* The probe's DNS context, for its side (the evaluation's lookups). */
dns_ctx *probe_dns(probe *p);

/* Run until every domain is done or *conf->stop is set.  0, or -1 with
 * a message in err (the event loop failed). */
int probe_run(probe *p, char *err, size_t errlen);

size_t probe_n_domains(const probe *p);
const probe_domain *probe_domain_at(const probe *p, size_t i);
size_t probe_n_hosts(const probe *p);
const probe_host *probe_host_at(const probe *p, size_t i);

/* The verdict of each TLS setting for a domain, from its hosts in MX
 * preference order, as Postfix would deliver. */
typedef enum probe_setting {
	PROBE_SET_OPPORTUNISTIC = 0, /* encrypted or clear */
	PROBE_SET_ENFORCED,          /* TLS required (TLSv1.2+) */
	PROBE_SET_VERIFY,            /* enforced + require a valid certificate */
	PROBE_SET_TLS13,             /* enforced, minimum TLSv1.3 */
	PROBE_SET_COUNT
} probe_setting;

typedef enum probe_outcome {
	PROBE_OUT_ENCRYPTED = 0, /* opportunistic: over TLS */
	PROBE_OUT_CLEAR,         /* opportunistic: in the clear */
	PROBE_OUT_DELIVERED,     /* enforcing settings */
	PROBE_OUT_BLOCKED,
	PROBE_OUT_NOMAIL,        /* null MX or no such domain: nothing is delivered anyway */
	PROBE_OUT_UNREACHABLE    /* no host answered: deferred whatever the setting */
} probe_outcome;

typedef struct probe_verdict {
	probe_outcome out;
	const probe_host *via;    /* the host delivered to, or the first host that decided */
	char why[PROBE_ERR_MAX + 64];
} probe_verdict;

/* A domain's own requirement for one setting: what postern-hookd's TLS
 * policy service answers Postfix for it (sts_state_answer), read back
 * by probe_req_set.  The effective requirement is the stronger of the
 * setting and this; all zero (PROBE_LV_SETTING) = the setting alone. */
typedef enum probe_level {
	PROBE_LV_SETTING = 0, /* NOTFOUND: the setting's own level */
	PROBE_LV_ENCRYPT,     /* encrypt */
	PROBE_LV_VERIFY,      /* verify: a trusted chain for the host's name */
	PROBE_LV_SECURE,      /* secure match=H1:H2 (MTA-STS): only the listed hosts, trusted, for their name */
	PROBE_LV_DANE,        /* dane: a host with usable TLSA must match them; one without is opportunistic */
	PROBE_LV_DANE_ONLY,   /* dane-only: every host must match its TLSA records */
	PROBE_LV_DEFER        /* TEMP: Postfix defers the mail whatever the hosts do */
} probe_level;

#define PROBE_MATCH_MAX 1200

typedef struct probe_req {
	probe_level level;
	int min_version;               /* protocols=>=TLSv1.3: TLS1_3_VERSION; 0 = TLSv1.2 */
	char match[PROBE_MATCH_MAX];   /* SECURE: the host names, colon-separated */
	char source[64];               /* where it comes from: "MTA-STS enforced", "DANE" */
	char why[PROBE_ERR_MAX];       /* DEFER: the reason */
} probe_req;

/* From the policy service's answer: kind 0 (OK, answer is the Postfix
 * policy), 1 (NOTFOUND) or 2 (TEMP: why is the reason); source is the
 * service's phrase for the answer ("MTA-STS enforced", "DANE").  0, or
 * -1 for an answer it does not know (then DEFER, as Postfix would fail). */
int probe_req_set(probe_req *out, int kind, const char *answer, const char *source, const char *why);

/* Is host (a name, any case, a final dot allowed) in a SECURE match list? */
int probe_req_lists(const probe_req *r, const char *host);

/* Check host i's certificate chain against its TLSA records: the rdata
 * of a DNS answer (secure: DNSSEC-validated; status a dns_status) as
 * OpenSSL's DANE verifier does it for Postfix (SSL_dane_enable,
 * SSL_dane_tlsa_add; DANE-TA(2) and DANE-EE(3) usable, PKIX-TA(0) and
 * PKIX-EE(1) not, RFC 7672 section 3.1.3; no name check for DANE-EE).
 * Sets the host's tlsa and tlsa_text. */
void probe_dane_check(probe *p, size_t i, const dns_result *tlsa);

const char *probe_setting_name(probe_setting s); /* "opportunistic" */
const char *probe_setting_key(probe_setting s);  /* "opportunistic", "enforced", "enforced_valid_cert", "min_tls13" */
const char *probe_outcome_name(probe_outcome o); /* "encrypted", "blocked" */
/* req: the domain's requirement for the setting (probe_req_set), or
 * NULL for none. */
void probe_verdict_of(probe_verdict *v, const probe *p, const probe_domain *d, probe_setting s, const probe_req *req);

#endif

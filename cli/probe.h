/*
 * The TLS probe behind `postern tls check` and `postern tls survey`:
 * for a set of recipient domains, the MX hosts (RFC 5321 section 5.1:
 * no MX means the domain itself; RFC 7505: the null MX "." means the
 * domain accepts no mail), and for each host, once however many domains
 * share it: connect to port 25, the banner, EHLO, STARTTLS if offered,
 * a TLS handshake with SNI, the certificate's verdict, QUIT.
 *
 * One thread, one poll() loop: non-blocking sockets and OpenSSL
 * (SSL_connect/SSL_read/SSL_write retried on WANT_READ/WANT_WRITE), DNS
 * through libunbound's asynchronous interface (smtp-hook/dns.h) on the
 * same loop.  At most `concurrency` connections are open at a time;
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
	/* engine state */
	int dns_left;
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

typedef struct probe_conf {
	const char *dns_forward;       /* dns_conf.forward */
	const char *trust_anchor_file; /* NULL = none */
	const char *ca_file;           /* NULL = the system's store */
	int port;                      /* 25 */
	int timeout_ms;                /* each step */
	int concurrency;               /* connections open at a time */
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

/* Run until every domain is done or *conf->stop is set.  0, or -1 with
 * a message in err (the DNS context failed). */
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

const char *probe_setting_name(probe_setting s); /* "opportunistic" */
const char *probe_setting_key(probe_setting s);  /* "opportunistic", "enforced", "enforced_valid_cert", "min_tls13" */
const char *probe_outcome_name(probe_outcome o); /* "encrypted", "blocked" */
void probe_verdict_of(probe_verdict *v, const probe *p, const probe_domain *d, probe_setting s);

#endif

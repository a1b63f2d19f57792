/*
 * The TLS probe engine (see probe.h).
 *
 * Data: the domains and the hosts are arrays addressed by index (they
 * grow, so nothing keeps a pointer into them), each with a hash table
 * on the name so that a host shared by many domains is probed once.
 * A host remembers the domains waiting for it; a domain counts the hosts
 * it still waits for.
 *
 * Flow: a domain's MX lookup -> its hosts (new ones: the A lookup; the
 * AAAA one only when no IPv4 address is left to try: none, or every one
 * failed to connect, since IPv4 goes first) -> the run queue -> a connection slot (at most `concurrency`) -> the
 * SMTP/TLS state machine below -> the host's result -> the domains that
 * waited for it.  DNS lookups in flight are bounded too.
 *
 * A connection: CONNECT (non-blocking connect, then SO_ERROR) -> BANNER
 * (220) -> EHLO (250, STARTTLS offered?) -> STARTTLS (220) -> HANDSHAKE
 * (SSL_connect until done) -> the verdict -> QUIT (its reply awaited
 * until the step's deadline, then closed whatever it says).
 */
#include "probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "smtpreply.h"

int probe_fmt(char *out, size_t len, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(out, len, f, ap);
	va_end(ap);
	return n;
}

/* ---------------------------------------------------------------- */
/* Names */

const char *probe_cat_name(probe_cat c)
{
	switch (c) {
	case PROBE_TRUSTED:
		return "trusted TLS";
	case PROBE_NO_STARTTLS:
		return "STARTTLS not offered";
	case PROBE_NAME_MISMATCH:
		return "name mismatch";
	case PROBE_UNKNOWN_CA:
		return "unknown authority / self-signed";
	case PROBE_EXPIRED:
		return "expired / not yet valid";
	case PROBE_WEAK:
		return "weak or malformed";
	case PROBE_HANDSHAKE:
		return "handshake failure";
	case PROBE_CONNECT:
		return "connection failure";
	case PROBE_CAT_COUNT:
		break;
	}
	return "?";
}

const char *probe_cat_key(probe_cat c)
{
	static const char *const k[PROBE_CAT_COUNT] = {"trusted",         "no_starttls", "name_mismatch", "unknown_authority",
	                                               "expired",         "weak",        "handshake",     "connection"};
	return (unsigned)c < PROBE_CAT_COUNT ? k[c] : "?";
}

const char *probe_setting_name(probe_setting s)
{
	static const char *const n[PROBE_SET_COUNT] = {"opportunistic", "enforced", "enforced + valid certificate",
	                                               "minimum TLSv1.3"};
	return (unsigned)s < PROBE_SET_COUNT ? n[s] : "?";
}

const char *probe_setting_key(probe_setting s)
{
	static const char *const n[PROBE_SET_COUNT] = {"opportunistic", "enforced", "enforced_valid_cert", "min_tls13"};
	return (unsigned)s < PROBE_SET_COUNT ? n[s] : "?";
}

const char *probe_outcome_name(probe_outcome o)
{
	switch (o) {
	case PROBE_OUT_ENCRYPTED:
		return "encrypted";
	case PROBE_OUT_CLEAR:
		return "clear";
	case PROBE_OUT_DELIVERED:
		return "delivered";
	case PROBE_OUT_BLOCKED:
		return "blocked";
	case PROBE_OUT_NOMAIL:
		return "no mail";
	case PROBE_OUT_UNREACHABLE:
		return "unreachable";
	}
	return "?";
}

/* ---------------------------------------------------------------- */
/* State */

enum cstate { C_FREE = 0, C_CONNECT, C_BANNER, C_EHLO, C_STARTTLS, C_HANDSHAKE, C_QUIT };

typedef struct conn {
	enum cstate state;
	size_t host;
	int fd;
	SSL *ssl;
	short want;      /* POLLIN / POLLOUT */
	short reg;       /* what epoll watches for (0: not registered) */
	int in_free;     /* on the free-slot stack */
	int busy;        /* with a handshake worker: nothing else touches it */
	int unreg;       /* taken out of the epoll set while busy */
	int hs_rr, hs_e; /* the worker's SSL_connect result and SSL_get_error */
	char hs_why[220]; /* a failed handshake's error, read in the worker's thread */
	int64_t deadline;
	int64_t start;
	char in[4096];
	size_t inlen;
	char out[DNS_NAME_MAX + 16];
	size_t outlen, outoff;
	/* verification errors seen (verify callback) */
	int v_unknown, v_selfsigned, v_expired, v_notyet, v_other;
	char v_other_text[96];
} conn;

/* A DNS lookup in flight: its callback argument, freed with the probe. */
typedef struct qarg {
	struct qarg *next;
	probe *p;
	size_t idx;
	int kind; /* 'M' MX of a domain, 'A' / '6' of a host */
} qarg;

typedef struct idxvec {
	size_t *v;
	size_t n, cap;
} idxvec;

struct probe {
	probe_conf conf;
	dns_ctx *dns;
	SSL_CTX *ssl;
	probe_domain *dom;
	size_t n_dom, cap_dom, next_dom, dom_done;
	size_t *dom_left;     /* hosts each domain still waits for */
	probe_host *host;
	idxvec *host_waiters; /* domains waiting for each host */
	size_t n_host, cap_host, host_done;
	size_t *dtab, dtab_cap; /* hash tables: index + 1, 0 = empty */
	size_t *htab, htab_cap;
	idxvec runq;
	size_t runq_head;
	conn *conns;
	int n_conns, active;
	qarg *qargs;
	int conn_ex; /* SSL ex_data index of the conn */
	SSL_CTX *dane_ssl; /* probe_dane_check's, made when first needed */
	int epfd;    /* the loop's epoll set: the DNS fd and every open connection */
	int *freel;  /* free connection slots, a stack (entries may have been reused since: checked) */
	int n_free;
	int64_t scan_at; /* no connection's deadline is earlier: the timeout scan waits until then */
	/* Handshake workers: the TLS handshake steps (the CPU of a probe)
	 * on other cores.  A connection in C_HANDSHAKE goes to a worker
	 * whole (busy, out of the epoll set); the worker runs SSL_connect
	 * once and puts it on the done list, which wakes the loop through
	 * an eventfd.  The mutex orders every hand-over. */
	pthread_t *thr;
	int n_thr;
	pthread_mutex_t mu;
	pthread_cond_t work, idle;
	int pool_ok;       /* mu and the conds are set up */
	int *q_in;         /* ring of connection slots waiting for a worker */
	size_t in_head, in_n;
	int *q_done, *q_tmp; /* slots a worker is done with; the loop's copy */
	size_t done_n;
	int running;       /* slots a worker is in SSL_connect with */
	int quit;
	int efd;           /* eventfd: the done list is not empty */
	probe_side side;   /* another user of the loop (side.run NULL: none) */
	/* DNS: libunbound in this libevent base (dns_open_event), which the
	 * loop runs with the epoll set inside it as one more descriptor */
	struct event_base *eb;
	struct event *ev_ep, *ev_tmo;
	int ep_ready;
};

static int push(idxvec *v, size_t x)
{
	if (v->n == v->cap) {
		size_t nc = v->cap ? v->cap * 2 : 4;
		size_t *nv = realloc(v->v, nc * sizeof(*nv));
		if (nv == NULL)
			return -1;
		v->v = nv;
		v->cap = nc;
	}
	v->v[v->n++] = x;
	return 0;
}

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

/* Find name in a table (tab holds index + 1); the slot for it in *slot. */
static size_t *lookup_slot(size_t *tab, size_t cap, const char *name, const char *(*name_of)(const probe *, size_t),
                           const probe *p)
{
	size_t i = (size_t)(hash(name) & (cap - 1));
	for (;;) {
		if (tab[i] == 0 || !strcmp(name_of(p, tab[i] - 1), name))
			return &tab[i];
		i = (i + 1) & (cap - 1);
	}
}

static const char *dom_name(const probe *p, size_t i)
{
	return p->dom[i].name;
}

static const char *host_name(const probe *p, size_t i)
{
	return p->host[i].name;
}

/* Grow a hash table to hold n + 1 entries at most half full. */
static int rehash(size_t **tab, size_t *cap, size_t n, const char *(*name_of)(const probe *, size_t), const probe *p)
{
	size_t nc, *nt;

	if ((n + 1) * 2 <= *cap)
		return 0;
	nc = *cap ? *cap * 2 : 64;
	while ((n + 1) * 2 > nc)
		nc *= 2;
	if ((nt = calloc(nc, sizeof(*nt))) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		*lookup_slot(nt, nc, name_of(p, i), name_of, p) = i + 1;
	free(*tab);
	*tab = nt;
	*cap = nc;
	return 0;
}

/* ---------------------------------------------------------------- */
/* Setup */

static int verify_cb(int ok, X509_STORE_CTX *x);
static void on_ep(evutil_socket_t fd, short what, void *arg);
static void on_tmo(evutil_socket_t fd, short what, void *arg);
static int pool_start(probe *p, char *err, size_t errlen);
static void pool_stop(probe *p);
static int conn_ex_index = -1;

probe *probe_new(const probe_conf *conf, char *err, size_t errlen)
{
	probe *p = calloc(1, sizeof(*p));
	dns_conf dc = {conf->dns_forward, conf->trust_anchor_file, NULL};

	if (p == NULL) {
		probe_fmt(err, errlen, "out of memory");
		return NULL;
	}
	p->epfd = -1;
	p->efd = -1;
	p->side.fd = -1;
	p->conf = *conf;
	if (p->conf.concurrency < 1)
		p->conf.concurrency = 1;
	if (p->conf.timeout_ms < 1)
		p->conf.timeout_ms = 1;
	if (p->conf.port < 1)
		p->conf.port = 25;
	if (p->conf.helo == NULL)
		p->conf.helo = "localhost";
	if ((p->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		probe_fmt(err, errlen, "epoll: %s", strerror(errno));
		goto bad;
	}
	if ((p->eb = event_base_new()) == NULL || (p->ev_ep = event_new(p->eb, p->epfd, EV_READ | EV_PERSIST, on_ep, p)) == NULL ||
	    (p->ev_tmo = evtimer_new(p->eb, on_tmo, p)) == NULL) {
		probe_fmt(err, errlen, "cannot set up the event loop");
		goto bad;
	}
	if (dns_open_event(&p->dns, &dc, p->eb, err, errlen) != 0)
		goto bad;
	if ((p->ssl = SSL_CTX_new(TLS_client_method())) == NULL) {
		probe_fmt(err, errlen, "cannot create a TLS context");
		goto bad;
	}
	/* See what the server does: every version and cipher, then judge. */
	SSL_CTX_set_security_level(p->ssl, 0);
	SSL_CTX_set_min_proto_version(p->ssl, TLS1_VERSION);
	SSL_CTX_set_cipher_list(p->ssl, "DEFAULT:@SECLEVEL=0");
	SSL_CTX_set_options(p->ssl, SSL_OP_LEGACY_SERVER_CONNECT | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(p->ssl, SSL_SESS_CACHE_OFF);
	/* read whatever has arrived at once, not each record's header and
	 * then its body: a server's flight in one read() */
	SSL_CTX_set_read_ahead(p->ssl, 1);
	SSL_CTX_set_verify(p->ssl, SSL_VERIFY_PEER, verify_cb);
	if (conf->ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(p->ssl, conf->ca_file, NULL) != 1) {
			probe_fmt(err, errlen, "cannot read the CA certificates in %s", conf->ca_file);
			goto bad;
		}
	} else if (SSL_CTX_set_default_verify_paths(p->ssl) != 1) {
		probe_fmt(err, errlen, "cannot load the system's CA certificates");
		goto bad;
	}
	if (conn_ex_index < 0)
		conn_ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	p->conn_ex = conn_ex_index;
	p->n_conns = p->conf.concurrency;
	if ((p->conns = calloc((size_t)p->n_conns, sizeof(*p->conns))) == NULL) {
		probe_fmt(err, errlen, "out of memory");
		goto bad;
	}
	if ((p->freel = calloc((size_t)p->n_conns, sizeof(*p->freel))) == NULL) {
		probe_fmt(err, errlen, "out of memory");
		goto bad;
	}
	for (int i = 0; i < p->n_conns; i++) {
		p->conns[i].fd = -1;
		p->conns[i].in_free = 1;
		p->freel[p->n_free++] = p->n_conns - 1 - i; /* slot 0 on top */
	}
	if (pool_start(p, err, errlen) != 0)
		goto bad;
	return p;
bad:
	ERR_clear_error();
	probe_free(p);
	return NULL;
}

static void conn_close(probe *p, conn *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->fd = -1; /* (closing it took it out of the epoll set) */
	c->reg = 0;
	c->unreg = 0;
	if (c->state != C_FREE)
		p->active--;
	c->state = C_FREE;
	if (!c->in_free && p->freel) {
		c->in_free = 1;
		p->freel[p->n_free++] = (int)(c - p->conns);
	}
}

void probe_free(probe *p)
{
	if (p == NULL)
		return;
	pool_stop(p); /* no worker holds a connection after this */
	for (int i = 0; p->conns && i < p->n_conns; i++)
		conn_close(p, &p->conns[i]);
	dns_close(p->dns);
	if (p->ev_ep)
		event_free(p->ev_ep);
	if (p->ev_tmo)
		event_free(p->ev_tmo);
	if (p->eb)
		event_base_free(p->eb);
	while (p->qargs) {
		qarg *q = p->qargs;
		p->qargs = q->next;
		free(q);
	}
	SSL_CTX_free(p->ssl);
	SSL_CTX_free(p->dane_ssl);
	for (size_t i = 0; i < p->n_host; i++)
		free(p->host[i].chain);
	if (p->epfd >= 0)
		close(p->epfd);
	free(p->freel);
	for (size_t i = 0; i < p->n_host; i++)
		free(p->host_waiters[i].v);
	free(p->host_waiters);
	free(p->host);
	free(p->dom);
	free(p->dom_left);
	free(p->dtab);
	free(p->htab);
	free(p->runq.v);
	free(p->conns);
	free(p);
}

long probe_add(probe *p, const char *domain)
{
	size_t *slot;

	if (rehash(&p->dtab, &p->dtab_cap, p->n_dom, dom_name, p) != 0)
		return -1;
	slot = lookup_slot(p->dtab, p->dtab_cap, domain, dom_name, p);
	if (*slot)
		return (long)(*slot - 1);
	if (p->n_dom == p->cap_dom) {
		size_t nc = p->cap_dom ? p->cap_dom * 2 : 16;
		probe_domain *nd = realloc(p->dom, nc * sizeof(*nd));
		size_t *nl;
		if (nd == NULL)
			return -1;
		p->dom = nd;
		if ((nl = realloc(p->dom_left, nc * sizeof(*nl))) == NULL)
			return -1;
		p->dom_left = nl;
		p->cap_dom = nc;
	}
	memset(&p->dom[p->n_dom], 0, sizeof(p->dom[0]));
	probe_fmt(p->dom[p->n_dom].name, sizeof(p->dom[0].name), "%s", domain);
	p->dom_left[p->n_dom] = 0;
	*slot = p->n_dom + 1;
	return (long)p->n_dom++;
}

size_t probe_n_domains(const probe *p)
{
	return p->n_dom;
}

const probe_domain *probe_domain_at(const probe *p, size_t i)
{
	return i < p->n_dom ? &p->dom[i] : NULL;
}

size_t probe_n_hosts(const probe *p)
{
	return p->n_host;
}

const probe_host *probe_host_at(const probe *p, size_t i)
{
	return i < p->n_host ? &p->host[i] : NULL;
}

/* ---------------------------------------------------------------- */
/* Completion */

static void progress(probe *p)
{
	if (p->conf.progress)
		p->conf.progress(p->conf.progress_arg, p->dom_done, p->n_dom, p->host_done, p->n_host);
}

static void domain_check_done(probe *p, size_t d)
{
	if (p->dom[d].done || p->dom[d].status == PROBE_D_PENDING || p->dom_left[d] > 0)
		return;
	p->dom[d].done = 1;
	p->dom_done++;
	progress(p);
}

static void host_finish(probe *p, size_t h)
{
	probe_host *ho = &p->host[h];
	idxvec *w = &p->host_waiters[h];

	if (ho->done)
		return;
	ho->done = 1;
	p->host_done++;
	for (size_t i = 0; i < w->n; i++) {
		p->dom_left[w->v[i]]--;
		domain_check_done(p, w->v[i]);
	}
	free(w->v);
	memset(w, 0, sizeof(*w));
}

static void host_fail(probe *p, size_t h, probe_cat cat, const char *fmt, ...) __attribute__((format(printf, 4, 5)));


static void host_fail(probe *p, size_t h, probe_cat cat, const char *fmt, ...)
{
	va_list ap;

	p->host[h].cat = cat;
	va_start(ap, fmt);
	vsnprintf(p->host[h].error, sizeof(p->host[h].error), fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------- */
/* DNS */

static void on_dns(void *arg, const dns_result *r);

static int ask(probe *p, size_t idx, int kind, const char *name, int type)
{
	qarg *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return -1;
	q->p = p;
	q->idx = idx;
	q->kind = kind;
	q->next = p->qargs;
	p->qargs = q;
	return dns_resolve(p->dns, name, type, dns_now_ms() + p->conf.timeout_ms, on_dns, q);
}

static long host_get(probe *p, const char *name, size_t dom)
{
	size_t *slot, h;

	if (rehash(&p->htab, &p->htab_cap, p->n_host, host_name, p) != 0)
		return -1;
	slot = lookup_slot(p->htab, p->htab_cap, name, host_name, p);
	if (*slot) {
		h = *slot - 1;
	} else {
		if (p->n_host == p->cap_host) {
			size_t nc = p->cap_host ? p->cap_host * 2 : 16;
			probe_host *nh = realloc(p->host, nc * sizeof(*nh));
			idxvec *nw;
			if (nh == NULL)
				return -1;
			p->host = nh;
			if ((nw = realloc(p->host_waiters, nc * sizeof(*nw))) == NULL)
				return -1;
			p->host_waiters = nw;
			p->cap_host = nc;
		}
		h = p->n_host++;
		memset(&p->host[h], 0, sizeof(p->host[h]));
		memset(&p->host_waiters[h], 0, sizeof(p->host_waiters[h]));
		probe_fmt(p->host[h].name, sizeof(p->host[h].name), "%s", name);
		*slot = h + 1;
		/* IPv4 first, as the connections go: AAAA later, if needed */
		p->host[h].dns_left = 1;
		if (ask(p, h, 'A', name, DNS_RR_A) != 0) {
			p->host[h].dns_left = 0;
			host_fail(p, h, PROBE_CONNECT, "cannot start the address lookup");
			host_finish(p, h);
		}
	}
	if (!p->host[h].done) {
		if (push(&p->host_waiters[h], dom) != 0)
			return -1;
		p->dom_left[dom]++;
	}
	return (long)h;
}

/* No address left to try for host h: look up its AAAA records if not
 * done yet (the IPv6 addresses are tried after the IPv4 ones, so they are
 * asked for only now: one query fewer for every host reached over IPv4),
 * else the host is done with what it has. */
static void host_exhausted(probe *p, size_t h)
{
	probe_host *ho = &p->host[h];

	if (!ho->aaaa_asked && !ho->done) {
		ho->aaaa_asked = 1;
		ho->dns_left = 1;
		if (ask(p, h, '6', ho->name, DNS_RR_AAAA) == 0)
			return;
		ho->dns_left = 0;
		if (ho->n_addr == 0 && ho->error[0] == '\0')
			host_fail(p, h, PROBE_CONNECT, "cannot start the address lookup");
	}
	host_finish(p, h);
}

static void host_addresses_known(probe *p, size_t h)
{
	probe_host *ho = &p->host[h];

	if (ho->done)
		return;
	if (ho->next_addr >= ho->n_addr && !ho->aaaa_asked) {
		host_exhausted(p, h); /* no A record: AAAA */
		return;
	}
	if (ho->next_addr > 0 && ho->next_addr >= ho->n_addr) {
		host_finish(p, h); /* the IPv4 addresses failed, no IPv6 one: their error stands */
		return;
	}
	if (ho->n_addr == 0) {
		if (ho->error[0] == '\0')
			host_fail(p, h, PROBE_CONNECT, "no address (no A or AAAA record)");
		else
			ho->cat = PROBE_CONNECT;
		host_finish(p, h);
		return;
	}
	if (ho->next_addr == 0)
		ho->error[0] = '\0'; /* a failed lookup beside addresses is no result */
	if (push(&p->runq, h) != 0) {
		host_fail(p, h, PROBE_CONNECT, "out of memory");
		host_finish(p, h);
	}
}

static void on_host_addr(probe *p, size_t h, int kind, const dns_result *r)
{
	probe_host *ho = &p->host[h];
	size_t want = kind == 'A' ? 4 : 16;

	if (r->status == DNS_OK) {
		for (size_t i = 0; i < r->n && ho->n_addr < 8; i++) {
			if ((size_t)r->len[i] != want)
				continue;
			ho->addrs[ho->n_addr][0] = kind == 'A' ? 4 : 6;
			memcpy(&ho->addrs[ho->n_addr][1], r->data[i], want);
			ho->n_addr++;
		}
	} else if (r->status != DNS_NODATA && ho->error[0] == '\0') {
		probe_fmt(ho->error, sizeof(ho->error), "%s %s: %s", kind == 'A' ? "A" : "AAAA", ho->name,
		         r->why ? r->why : dns_status_name(r->status));
	}
	/* IPv4 first: keep the A records ahead of the AAAA ones */
	if (kind == 'A' && ho->n_addr > 0 && ho->addrs[0][0] == 6) {
		unsigned char tmp[8][17];
		size_t n4 = 0, n = 0;
		for (size_t i = 0; i < ho->n_addr; i++)
			if (ho->addrs[i][0] == 4)
				memcpy(tmp[n4++], ho->addrs[i], 17);
		n = n4;
		for (size_t i = 0; i < ho->n_addr; i++)
			if (ho->addrs[i][0] == 6)
				memcpy(tmp[n++], ho->addrs[i], 17);
		memcpy(ho->addrs, tmp, sizeof(tmp));
	}
	if (--ho->dns_left == 0)
		host_addresses_known(p, h);
}

static void on_mx(probe *p, size_t d, const dns_result *r)
{
	probe_domain *dm = &p->dom[d];
	struct {
		int pref;
		char name[DNS_NAME_MAX + 1];
	} mx[PROBE_DOMAIN_MX];
	size_t n = 0, nulls = 0;

	switch (r->status) {
	case DNS_NXDOMAIN:
		dm->status = PROBE_D_NXDOMAIN;
		probe_fmt(dm->error, sizeof(dm->error), "no such domain (NXDOMAIN)");
		break;
	case DNS_NODATA:
		/* RFC 5321 section 5.1: the domain itself is the implicit MX */
		dm->status = PROBE_D_MX;
		dm->implicit = 1;
		probe_fmt(mx[0].name, sizeof(mx[0].name), "%s", dm->name);
		mx[0].pref = 0;
		n = 1;
		break;
	case DNS_TEMPFAIL:
	case DNS_BOGUS:
		dm->status = PROBE_D_DNSFAIL;
		probe_fmt(dm->error, sizeof(dm->error), "MX %s: %s", dm->name, r->why ? r->why : dns_status_name(r->status));
		break;
	case DNS_OK:
		for (size_t i = 0; i < r->n; i++) {
			int pref, dup = 0;
			char name[DNS_NAME_MAX + 1];
			if (dns_mx_parse(&pref, name, r->data[i], (size_t)r->len[i]) != 0)
				continue;
			if (name[0] == '\0') {
				nulls++;
				continue;
			}
			for (size_t k = 0; k < n; k++)
				dup |= !strcmp(mx[k].name, name);
			if (dup || n == PROBE_DOMAIN_MX)
				continue;
			/* insertion by preference, stable */
			size_t at = n;
			while (at > 0 && mx[at - 1].pref > pref) {
				mx[at] = mx[at - 1];
				at--;
			}
			mx[at].pref = pref;
			memcpy(mx[at].name, name, sizeof(name));
			n++;
		}
		if (n == 0 && nulls > 0) {
			/* RFC 7505 */
			dm->status = PROBE_D_NULLMX;
			probe_fmt(dm->error, sizeof(dm->error), "does not accept mail (null MX, RFC 7505)");
		} else if (n == 0) {
			dm->status = PROBE_D_DNSFAIL;
			probe_fmt(dm->error, sizeof(dm->error), "MX %s: no usable record", dm->name);
		} else {
			dm->status = PROBE_D_MX;
		}
		break;
	}
	for (size_t i = 0; i < n; i++) {
		long h = host_get(p, mx[i].name, d);
		dm = &p->dom[d];
		if (h < 0)
			continue;
		dm->mx[dm->n_mx] = (size_t)h;
		dm->pref[dm->n_mx++] = mx[i].pref;
	}
	if (p->side.mx && dm->status == PROBE_D_MX)
		p->side.mx(p->side.arg, d, r);
	domain_check_done(p, d);
}

static void on_dns(void *arg, const dns_result *r)
{
	qarg *q = arg;

	if (q->kind == 'M')
		on_mx(q->p, q->idx, r);
	else
		on_host_addr(q->p, q->idx, q->kind, r);
}

/* ---------------------------------------------------------------- */
/* Connections */

static int verify_cb(int ok, X509_STORE_CTX *x)
{
	SSL *s = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	conn *c = s ? SSL_get_ex_data(s, conn_ex_index) : NULL;
	int e = X509_STORE_CTX_get_error(x);

	if (ok || c == NULL)
		return 1;
	switch (e) {
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		c->v_selfsigned = 1;
		break;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_UNTRUSTED:
		c->v_unknown = 1;
		break;
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CRL_HAS_EXPIRED:
		c->v_expired = 1;
		break;
	case X509_V_ERR_CERT_NOT_YET_VALID:
	case X509_V_ERR_CRL_NOT_YET_VALID:
		c->v_notyet = 1;
		break;
	default:
		if (!c->v_other) {
			c->v_other = 1;
			probe_fmt(c->v_other_text, sizeof(c->v_other_text), "%s", X509_verify_cert_error_string(e));
		}
		break;
	}
	return 1; /* go on: the verdict is ours */
}

static void send_line(conn *c, const char *line)
{
	int n = probe_fmt(c->out, sizeof(c->out), "%s\r\n", line);
	c->outlen = n > 0 && (size_t)n < sizeof(c->out) ? (size_t)n : 0;
	c->outoff = 0;
}

static void step_deadline(probe *p, conn *c)
{
	c->deadline = dns_now_ms() + p->conf.timeout_ms;
}

static void addr_text(char *out, size_t len, const unsigned char *a)
{
	if (a[0] == 4)
		inet_ntop(AF_INET, a + 1, out, (socklen_t)len);
	else
		inet_ntop(AF_INET6, a + 1, out, (socklen_t)len);
}

/* Start connecting host h's next address in slot c: 0, or -1 (the host failed). */
static int conn_start(probe *p, conn *c, size_t h)
{
	probe_host *ho = &p->host[h];

	while (ho->next_addr < ho->n_addr) {
		const unsigned char *a = ho->addrs[ho->next_addr++];
		struct sockaddr_storage ss;
		socklen_t sl;
		int fd;

		memset(&ss, 0, sizeof(ss));
		addr_text(ho->addr, sizeof(ho->addr), a);
		if (a[0] == 4) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			s4->sin_family = AF_INET;
			s4->sin_port = htons((uint16_t)p->conf.port);
			memcpy(&s4->sin_addr, a + 1, 4);
			sl = sizeof(*s4);
		} else {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((uint16_t)p->conf.port);
			memcpy(&s6->sin6_addr, a + 1, 16);
			sl = sizeof(*s6);
		}
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			host_fail(p, h, PROBE_CONNECT, "socket: %s", strerror(errno));
			return -1; /* out of descriptors: no point trying the next address */
		}
		/* no Nagle: the client's Finished and the QUIT that follows it
		 * would otherwise wait for the delayed ACK of a server that
		 * sends nothing after the handshake (no session tickets, TLS 1.2) */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
		if (connect(fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS) {
			host_fail(p, h, PROBE_CONNECT, "connect to %s port %d: %s", ho->addr, p->conf.port, strerror(errno));
			close(fd);
			continue;
		}
		{
			struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)(c - p->conns)};
			if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
				host_fail(p, h, PROBE_CONNECT, "epoll: %s", strerror(errno));
				close(fd);
				return -1;
			}
		}
		{
			int in_free = c->in_free;
			memset(c, 0, sizeof(*c));
			c->in_free = in_free;
		}
		c->fd = fd;
		c->host = h;
		c->state = C_CONNECT;
		c->want = POLLOUT;
		c->reg = POLLOUT;
		c->start = dns_now_ms();
		step_deadline(p, c);
		p->active++;
		return 0;
	}
	return -1;
}

/* Cipher, version and the certificate's verdict, after the handshake. */
static void judge_tls(probe *p, conn *c)
{
	probe_host *ho = &p->host[c->host];
	X509 *cert = SSL_get1_peer_certificate(c->ssl);
	const char *cipher = SSL_get_cipher_name(c->ssl);
	char problems[PROBE_ERR_MAX] = "", weak[128] = "";
	probe_cat cat = PROBE_TRUSTED;
	size_t o = 0;

	ho->tls = 1;
	ho->tls_version = SSL_version(c->ssl);
	probe_fmt(ho->version, sizeof(ho->version), "%s", SSL_get_version(c->ssl));
	probe_fmt(ho->cipher, sizeof(ho->cipher), "%s", cipher ? cipher : "?");
	if (cert == NULL) {
		host_fail(p, c->host, PROBE_UNKNOWN_CA, "no certificate (anonymous cipher %s)", ho->cipher);
		return;
	}
	/* the names it holds: the DNS SANs, else the subject CN */
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_DNS)
			continue;
		const unsigned char *s = ASN1_STRING_get0_data(g->d.dNSName);
		int n = ASN1_STRING_length(g->d.dNSName);
		for (int k = 0; k < n && o + 3 < sizeof(ho->names); k++) {
			if (k == 0 && o > 0) {
				ho->names[o++] = ',';
				ho->names[o++] = ' ';
			}
			ho->names[o++] = (s[k] >= 0x21 && s[k] < 0x7f) ? (char)s[k] : '?';
		}
	}
	GENERAL_NAMES_free(gens);
	ho->names[o] = '\0';
	if (o == 0) {
		char cn[256];
		if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn)) > 0)
			for (size_t k = 0; cn[k] && o + 1 < sizeof(ho->names); k++)
				ho->names[o++] = ((unsigned char)cn[k] >= 0x20 && (unsigned char)cn[k] < 0x7f) ? cn[k] : '?';
		ho->names[o] = '\0';
	}
	/* the chain as sent, for the DANE check afterwards (probe_dane_check) */
	{
		STACK_OF(X509) *sk = SSL_get_peer_cert_chain(c->ssl);
		size_t total = 0;
		for (int i = 0; sk && i < sk_X509_num(sk); i++) {
			int n = i2d_X509(sk_X509_value(sk, i), NULL);
			total += n > 0 ? (size_t)n : 0;
		}
		free(ho->chain);
		ho->chain_len = 0;
		if (total > 0 && (ho->chain = malloc(total)) != NULL) {
			for (int i = 0; i < sk_X509_num(sk); i++) {
				unsigned char *w = ho->chain + ho->chain_len;
				int n = i2d_X509(sk_X509_value(sk, i), &w);
				if (n > 0 && ho->chain_len + (size_t)n <= total)
					ho->chain_len += (size_t)n;
			}
		}
	}
	/* RFC 6125 as OpenSSL applies it: a wildcard stands for one whole label */
	ho->name_ok = X509_check_host(cert, ho->name, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;

	/* weak or malformed */
	{
		const ASN1_INTEGER *serial = X509_get0_serialNumber(cert);
		EVP_PKEY *pk = X509_get0_pubkey(cert);
		int md = 0, pkn = 0, bits = pk ? EVP_PKEY_get_bits(pk) : 0, id = pk ? EVP_PKEY_get_base_id(pk) : 0;
		size_t w = 0;
#define WEAK(...) w += (size_t)probe_fmt(weak + w, w < sizeof(weak) ? sizeof(weak) - w : 0, __VA_ARGS__)
		if (serial && ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER)
			WEAK("%snegative serial number", w ? ", " : "");
		if (pk == NULL)
			WEAK("%sunreadable public key", w ? ", " : "");
		else if (((id == EVP_PKEY_RSA || id == EVP_PKEY_DSA || id == EVP_PKEY_DH) && bits < 2048) ||
		         (id == EVP_PKEY_EC && bits < 224))
			WEAK("%s%d-bit %s key", w ? ", " : "", bits, OBJ_nid2sn(id));
		if (OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md, &pkn) &&
		    (md == NID_sha1 || md == NID_md5 || md == NID_md4 || md == NID_md2))
			WEAK("%s%s signature", w ? ", " : "", OBJ_nid2sn(md));
		if (ho->tls_version < TLS1_2_VERSION)
			WEAK("%s%s only (below TLSv1.2)", w ? ", " : "", ho->version);
		if (w >= sizeof(weak))
			weak[sizeof(weak) - 1] = '\0';
#undef WEAK
	}
	ho->verified = !(c->v_unknown || c->v_selfsigned || c->v_expired || c->v_notyet || c->v_other) &&
	               SSL_get_verify_result(c->ssl) == X509_V_OK;

	/* the category: the first problem in this order; the text lists them all */
	o = 0;
#define PROB(k, ...)                                                                          \
	do {                                                                                  \
		if (cat == PROBE_TRUSTED)                                                     \
			cat = (k);                                                            \
		o += (size_t)probe_fmt(problems + o, o < sizeof(problems) ? sizeof(problems) - o : 0, \
		                      "%s", o ? "; " : "");                                    \
		o += (size_t)probe_fmt(problems + o, o < sizeof(problems) ? sizeof(problems) - o : 0, \
		                      __VA_ARGS__);                                           \
	} while (0)
	if (c->v_selfsigned)
		PROB(PROBE_UNKNOWN_CA, "self-signed certificate");
	else if (c->v_unknown)
		PROB(PROBE_UNKNOWN_CA, "signed by an unknown authority");
	if (c->v_expired)
		PROB(PROBE_EXPIRED, "certificate expired");
	if (c->v_notyet)
		PROB(PROBE_EXPIRED, "certificate not yet valid");
	if (!ho->name_ok)
		PROB(PROBE_NAME_MISMATCH, "certificate not for %s (it holds: %s)", ho->name,
		     ho->names[0] ? ho->names : "no names");
	if (weak[0])
		PROB(PROBE_WEAK, "%s", weak);
	if (c->v_other)
		PROB(PROBE_WEAK, "certificate invalid: %s", c->v_other_text);
#undef PROB
	if (o >= sizeof(problems))
		problems[sizeof(problems) - 1] = '\0';
	ho->cat = cat;
	probe_fmt(ho->error, sizeof(ho->error), "%s", problems);
	X509_free(cert);
}

static void tls_error_text(char *out, size_t len, int sslerr)
{
	unsigned long e = ERR_peek_last_error();
	char buf[200];

	if (e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		probe_fmt(out, len, "%s", buf);
	} else if (sslerr == SSL_ERROR_SYSCALL) {
		probe_fmt(out, len, "%s", errno ? strerror(errno) : "connection closed during the handshake");
	} else if (sslerr == SSL_ERROR_ZERO_RETURN) {
		probe_fmt(out, len, "connection closed during the handshake");
	} else {
		probe_fmt(out, len, "TLS error %d", sslerr);
	}
	ERR_clear_error();
}

/* ---------------------------------------------------------------- */
/* Handshake workers */

/* One SSL_connect step, in whichever thread holds the connection.
 * OpenSSL's error queue and errno are the thread's own, so a failure's
 * text is taken here. */
static void hs_once(conn *c)
{
	ERR_clear_error();
	errno = 0;
	c->hs_rr = SSL_connect(c->ssl);
	c->hs_e = c->hs_rr == 1 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, c->hs_rr);
	c->hs_why[0] = '\0';
	if (c->hs_rr != 1 && c->hs_e != SSL_ERROR_WANT_READ && c->hs_e != SSL_ERROR_WANT_WRITE)
		tls_error_text(c->hs_why, sizeof(c->hs_why), c->hs_e);
	ERR_clear_error();
}

static void *hs_worker(void *arg)
{
	probe *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->quit && p->in_n == 0)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->quit)
			break;
		int i = p->q_in[p->in_head];
		p->in_head = (p->in_head + 1) % (size_t)p->n_conns;
		p->in_n--;
		p->running++;
		pthread_mutex_unlock(&p->mu);
		hs_once(&p->conns[i]);
		pthread_mutex_lock(&p->mu);
		p->running--;
		p->q_done[p->done_n++] = i;
		if (p->done_n == 1) {
			uint64_t one = 1;
			ssize_t w = write(p->efd, &one, sizeof(one));
			(void)w; /* (a full counter is still readable: the loop wakes) */
		}
		pthread_cond_broadcast(&p->idle);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* The workers: conf.threads of them (-1: one per online CPU: the loop
 * itself needs about a third of a core, and a worker that waits on its
 * core for a woken server or the loop leaves it to them, so one fewer
 * left a core idle a quarter of the time, docs/performance.md); none
 * for a single connection or a single CPU. */
static int pool_start(probe *p, char *err, size_t errlen)
{
	int want = p->conf.threads;

	if (want < 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		want = n > 1 ? (int)(n > 64 ? 64 : n) : 0;
	}
	if (want > PROBE_THREADS_MAX)
		want = PROBE_THREADS_MAX;
	if (want > p->n_conns)
		want = p->n_conns;
	if (want <= 0 || p->n_conns < 2)
		return 0;
	if (pthread_mutex_init(&p->mu, NULL) != 0)
		goto nomem;
	if (pthread_cond_init(&p->work, NULL) != 0) {
		pthread_mutex_destroy(&p->mu);
		goto nomem;
	}
	if (pthread_cond_init(&p->idle, NULL) != 0) {
		pthread_cond_destroy(&p->work);
		pthread_mutex_destroy(&p->mu);
		goto nomem;
	}
	p->pool_ok = 1;
	if ((p->q_in = calloc((size_t)p->n_conns, sizeof(int))) == NULL ||
	    (p->q_done = calloc((size_t)p->n_conns, sizeof(int))) == NULL ||
	    (p->q_tmp = calloc((size_t)p->n_conns, sizeof(int))) == NULL ||
	    (p->thr = calloc((size_t)want, sizeof(pthread_t))) == NULL)
		goto nomem;
	if ((p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		probe_fmt(err, errlen, "eventfd: %s", strerror(errno));
		return -1;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = UINT32_MAX - 1};
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->efd, &ev) != 0) {
		probe_fmt(err, errlen, "epoll: %s", strerror(errno));
		return -1;
	}
	for (int i = 0; i < want; i++) {
		if (pthread_create(&p->thr[i], NULL, hs_worker, p) != 0)
			break; /* fewer workers (none: the loop does the handshakes) */
		p->n_thr++;
	}
	return 0;
nomem:
	probe_fmt(err, errlen, "out of memory");
	return -1;
}

/* Every worker joined; nothing waiting for one is left busy. */
static void pool_stop(probe *p)
{
	if (!p->pool_ok)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->n_thr; i++)
		pthread_join(p->thr[i], NULL);
	p->n_thr = 0;
	for (int i = 0; p->conns && i < p->n_conns; i++)
		p->conns[i].busy = 0;
	pthread_cond_destroy(&p->idle);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->mu);
	p->pool_ok = 0;
	if (p->efd >= 0)
		close(p->efd);
	p->efd = -1;
	free(p->thr);
	free(p->q_in);
	free(p->q_done);
	free(p->q_tmp);
	p->thr = NULL;
	p->q_in = p->q_done = p->q_tmp = NULL;
}

/* Hand a connection in C_HANDSHAKE to a worker: out of the epoll set
 * (a hang-up would be reported even with no events asked), busy. */
static void hs_hand(probe *p, conn *c)
{
	int i = (int)(c - p->conns);

	if (c->reg != 0 && epoll_ctl(p->epfd, EPOLL_CTL_DEL, c->fd, NULL) == 0) {
		c->reg = 0;
		c->unreg = 1;
	}
	c->busy = 1;
	pthread_mutex_lock(&p->mu);
	p->q_in[(p->in_head + p->in_n) % (size_t)p->n_conns] = i;
	p->in_n++;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
}

static int hs_result(probe *p, conn *c);
static void conn_step(probe *p, conn *c);
static void conn_sync(probe *p, conn *c);

/* The loop's side: the connections the workers are done with go on. */
static void hs_collect(probe *p)
{
	uint64_t v;
	size_t n;

	if (read(p->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&p->mu);
	n = p->done_n;
	memcpy(p->q_tmp, p->q_done, n * sizeof(int));
	p->done_n = 0;
	pthread_mutex_unlock(&p->mu);
	for (size_t k = 0; k < n; k++) {
		conn *c = &p->conns[p->q_tmp[k]];
		c->busy = 0;
		if (hs_result(p, c) > 0)
			conn_step(p, c);
		conn_sync(p, c);
	}
}

/* A stop with connections still with the workers: those not started
 * are taken back, the loop waits for the others' current step. */
static void hs_drain(probe *p)
{
	if (p->n_thr == 0)
		return;
	pthread_mutex_lock(&p->mu);
	while (p->in_n > 0) {
		p->conns[p->q_in[p->in_head]].busy = 0;
		p->in_head = (p->in_head + 1) % (size_t)p->n_conns;
		p->in_n--;
	}
	while (p->running > 0)
		pthread_cond_wait(&p->idle, &p->mu);
	for (size_t k = 0; k < p->done_n; k++)
		p->conns[p->q_done[k]].busy = 0;
	p->done_n = 0;
	pthread_mutex_unlock(&p->mu);
}

/* The host's result is known: say QUIT (over TLS if up) and close after its reply. */
static void conn_quit(probe *p, conn *c)
{
	p->host[c->host].ms = dns_now_ms() - c->start;
	host_finish(p, c->host);
	c->inlen = 0;
	send_line(c, "QUIT");
	c->state = C_QUIT;
	c->want = POLLOUT;
	step_deadline(p, c);
}

/* A failure before the result: the host's category, and the connection closed. */
static void conn_fail(probe *p, conn *c, probe_cat cat, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void conn_fail(probe *p, conn *c, probe_cat cat, const char *fmt, ...)
{
	va_list ap;
	probe_host *ho = &p->host[c->host];

	ho->cat = cat;
	va_start(ap, fmt);
	vsnprintf(ho->error, sizeof(ho->error), fmt, ap);
	va_end(ap);
	ho->ms = dns_now_ms() - c->start;
	host_finish(p, c->host);
	conn_close(p, c);
}

/* Write what is pending: 1 done, 0 wait, -1 error. */
static int conn_flush(conn *c)
{
	while (c->outoff < c->outlen) {
		if (c->ssl) {
			size_t w = 0;
			int r = SSL_write_ex(c->ssl, c->out + c->outoff, c->outlen - c->outoff, &w);
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
					c->want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
					return 0;
				}
				ERR_clear_error();
				return -1;
			}
			c->outoff += w;
		} else {
			ssize_t w = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
					c->want = POLLOUT;
					return 0;
				}
				return -1;
			}
			c->outoff += (size_t)w;
		}
	}
	return 1;
}

/* Read more: >0 bytes, 0 wait, -1 closed or error (errno or TLS). */
static int conn_fill(conn *c)
{
	size_t room = sizeof(c->in) - c->inlen;

	if (room == 0) {
		errno = EMSGSIZE; /* a reply longer than the buffer */
		return -1;
	}
	if (c->ssl) {
		size_t n = 0;
		int r = SSL_read_ex(c->ssl, c->in + c->inlen, room, &n);
		if (r <= 0) {
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				c->want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
				return 0;
			}
			ERR_clear_error();
			return -1;
		}
		c->inlen += n;
		return (int)n;
	} else {
		ssize_t n = recv(c->fd, c->in + c->inlen, room, 0);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			c->want = POLLIN;
			return 0;
		}
		if (n <= 0) {
			if (n == 0)
				errno = 0;
			return -1;
		}
		c->inlen += (size_t)n;
		return (int)n;
	}
}

static const char *step_name(enum cstate s)
{
	switch (s) {
	case C_CONNECT:
		return "connect";
	case C_BANNER:
		return "the greeting";
	case C_EHLO:
		return "the EHLO reply";
	case C_STARTTLS:
		return "the STARTTLS reply";
	case C_HANDSHAKE:
		return "the TLS handshake";
	case C_QUIT:
		return "the QUIT reply";
	case C_FREE:
		break;
	}
	return "?";
}

/* Failure category of a connection lost in a step. */
static probe_cat lost_cat(const conn *c)
{
	return c->state == C_HANDSHAKE ? PROBE_HANDSHAKE : PROBE_CONNECT;
}

/* Read one whole reply: 1 (in *r), 0 wait, -1 failed (the connection is closed). */
static int conn_reply(probe *p, conn *c, smtp_reply *r)
{
	for (;;) {
		const char *why;
		smtp_reply_status s = smtp_reply_parse(r, c->in, c->inlen, &why);
		if (s == SMTP_REPLY_DONE) {
			memmove(c->in, c->in + r->used, c->inlen - r->used);
			c->inlen -= r->used;
			return 1;
		}
		if (s == SMTP_REPLY_BAD) {
			if (c->state == C_QUIT) {
				conn_close(p, c);
				return -1;
			}
			conn_fail(p, c, lost_cat(c), "bad reply in %s: %s", step_name(c->state), why);
			return -1;
		}
		int n = conn_fill(c);
		if (n == 0)
			return 0;
		if (n < 0) {
			if (c->state == C_QUIT) {
				conn_close(p, c);
				return -1;
			}
			conn_fail(p, c, lost_cat(c), "connection closed in %s%s%s", step_name(c->state), errno ? ": " : "",
			          errno ? strerror(errno) : "");
			return -1;
		}
	}
}

/* After an SSL_connect step: 1 the handshake is done and judged (QUIT
 * next), 0 it waits for the socket (c->want), -1 it failed (closed). */
static int hs_result(probe *p, conn *c)
{
	if (c->hs_rr != 1) {
		if (c->hs_e == SSL_ERROR_WANT_READ || c->hs_e == SSL_ERROR_WANT_WRITE) {
			c->want = c->hs_e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
			return 0;
		}
		conn_fail(p, c, PROBE_HANDSHAKE, "TLS handshake failed: %s", c->hs_why);
		return -1;
	}
	judge_tls(p, c);
	conn_quit(p, c);
	return 1;
}

static void conn_step(probe *p, conn *c)
{
	probe_host *ho = &p->host[c->host];
	smtp_reply r;
	int k;

	if (c->busy)
		return; /* a stale event: a worker has it */

	for (;;) {
		switch (c->state) {
		case C_FREE:
			return;
		case C_CONNECT: {
			int err = 0;
			socklen_t el = sizeof(err);
			struct pollfd pf = {.fd = c->fd, .events = POLLOUT};
			if (poll(&pf, 1, 0) <= 0)
				return;
			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
				err = errno;
			if (err != 0) {
				size_t h = c->host;
				host_fail(p, h, PROBE_CONNECT, "connect to %s port %d: %s", ho->addr, p->conf.port,
				          strerror(err));
				conn_close(p, c);
				if (conn_start(p, c, h) != 0) {
					p->host[h].ms = 0;
					host_exhausted(p, h);
					return;
				}
				continue;
			}
			c->state = C_BANNER;
			c->want = POLLIN;
			step_deadline(p, c);
			break;
		}
		case C_BANNER:
			if ((k = conn_reply(p, c, &r)) <= 0)
				return;
			ho->reached = 1;
			probe_fmt(ho->banner, sizeof(ho->banner), "%s", r.text);
			if (r.code != 220) {
				conn_fail(p, c, PROBE_CONNECT, "greeting %d %s", r.code, r.text);
				return;
			}
			{
				char ehlo[DNS_NAME_MAX + 8];
				probe_fmt(ehlo, sizeof(ehlo), "EHLO %s", p->conf.helo);
				send_line(c, ehlo);
			}
			c->state = C_EHLO;
			step_deadline(p, c);
			break;
		case C_EHLO:
			if ((k = conn_flush(c)) < 0) {
				conn_fail(p, c, PROBE_CONNECT, "connection lost sending EHLO: %s", strerror(errno));
				return;
			}
			if (k == 0)
				return;
			if ((k = conn_reply(p, c, &r)) <= 0)
				return;
			if (r.code != 250 || !r.starttls) {
				ho->cat = PROBE_NO_STARTTLS;
				if (r.code != 250)
					probe_fmt(ho->error, sizeof(ho->error), "EHLO refused: %d %s", r.code, r.text);
				else
					ho->error[0] = '\0';
				conn_quit(p, c);
				break;
			}
			ho->starttls = 1;
			send_line(c, "STARTTLS");
			c->state = C_STARTTLS;
			step_deadline(p, c);
			break;
		case C_STARTTLS:
			if ((k = conn_flush(c)) < 0) {
				conn_fail(p, c, PROBE_CONNECT, "connection lost sending STARTTLS: %s", strerror(errno));
				return;
			}
			if (k == 0)
				return;
			if ((k = conn_reply(p, c, &r)) <= 0)
				return;
			if (r.code != 220) {
				ho->cat = PROBE_HANDSHAKE;
				probe_fmt(ho->error, sizeof(ho->error), "STARTTLS refused: %d %s", r.code, r.text);
				conn_quit(p, c);
				break;
			}
			if (c->inlen > 0) {
				/* RFC 3207 section 5: nothing may follow the 220 in the clear */
				conn_fail(p, c, PROBE_HANDSHAKE, "data after the STARTTLS reply, before the handshake");
				return;
			}
			if ((c->ssl = SSL_new(p->ssl)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1 ||
			    SSL_set_ex_data(c->ssl, p->conn_ex, c) != 1 || SSL_set_tlsext_host_name(c->ssl, ho->name) != 1) {
				ERR_clear_error();
				conn_fail(p, c, PROBE_HANDSHAKE, "cannot set up TLS");
				return;
			}
			c->state = C_HANDSHAKE;
			step_deadline(p, c);
			break;
		case C_HANDSHAKE:
			if (p->n_thr > 0) {
				hs_hand(p, c); /* back through hs_collect */
				return;
			}
			hs_once(c);
			if (hs_result(p, c) <= 0)
				return;
			break;
		case C_QUIT:
			if ((k = conn_flush(c)) < 0) {
				conn_close(p, c);
				return;
			}
			if (k == 0)
				return;
			if ((k = conn_reply(p, c, &r)) <= 0)
				return;
			conn_close(p, c);
			return;
		}
	}
}

/* After a step: epoll watches for what the connection now waits for. */
static void conn_sync(probe *p, conn *c)
{
	if (c->busy || c->state == C_FREE || c->fd < 0 || c->want == c->reg)
		return;
	struct epoll_event ev = {.events = c->want == POLLOUT ? EPOLLOUT : EPOLLIN,
	                         .data.u32 = (uint32_t)(c - p->conns)};
	if (epoll_ctl(p->epfd, c->unreg ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &ev) != 0) {
		conn_fail(p, c, PROBE_CONNECT, "epoll: %s", strerror(errno));
		return;
	}
	c->unreg = 0;
	c->reg = c->want;
}

static void conn_timeout(probe *p, conn *c)
{
	if (c->state == C_QUIT) {
		conn_close(p, c);
		return;
	}
	conn_fail(p, c, lost_cat(c), "timeout (%d ms) waiting for %s", p->conf.timeout_ms, step_name(c->state));
}

/* ---------------------------------------------------------------- */
/* The loop */

void probe_set_side(probe *p, const probe_side *s)
{
	p->side = *s;
}

dns_ctx *probe_dns(probe *p)
{
	return p->dns;
}

static size_t side_busy(probe *p)
{
	return p->side.busy ? p->side.busy(p->side.arg) : 0;
}

static void start_work(probe *p)
{
	size_t dns_limit = (size_t)p->conf.concurrency * 2 + 16;

	/* new domains while DNS has room (the side's lookups count) and the
	 * side's work waiting for something else is bounded too */
	while (p->next_dom < p->n_dom && dns_pending(p->dns) < dns_limit && side_busy(p) < 4 * dns_limit) {
		size_t d = p->next_dom++;
		if (ask(p, d, 'M', p->dom[d].name, DNS_RR_MX) != 0) {
			p->dom[d].status = PROBE_D_DNSFAIL;
			probe_fmt(p->dom[d].error, sizeof(p->dom[d].error), "cannot start the MX lookup");
			domain_check_done(p, d);
		}
	}
	/* queued hosts into free slots */
	/* (on loopback a whole session can finish inside conn_step: the
	 * slot is then free again at once and takes the next host) */
	while (p->n_free > 0 && p->runq_head < p->runq.n) {
		conn *c = &p->conns[p->freel[p->n_free - 1]];
		if (c->state != C_FREE) { /* taken again since it was freed */
			c->in_free = 0;
			p->n_free--;
			continue;
		}
		size_t h = p->runq.v[p->runq_head++];
		if (conn_start(p, c, h) == 0) {
			c->in_free = 0;
			p->n_free--;
			conn_step(p, c); /* (may free the slot again: back on the stack) */
			conn_sync(p, c);
		} else {
			host_exhausted(p, h);
		}
	}
}

static void on_ep(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	((probe *)arg)->ep_ready = 1;
}

static void on_tmo(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Wait up to ms for the connections (the epoll set, itself a descriptor
 * in the event base) or libunbound's sockets (in the event base: their
 * answers' callbacks run in here).  The ready connections, as epoll_wait. */
static int loop_wait(probe *p, struct epoll_event *evs, int maxev, int ms)
{
	p->ep_ready = 0;
	if (ms > 0) {
		struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
		if (evtimer_add(p->ev_tmo, &tv) != 0 || event_base_loop(p->eb, EVLOOP_ONCE) < 0)
			return -1;
		evtimer_del(p->ev_tmo);
	} else if (event_base_loop(p->eb, EVLOOP_NONBLOCK) < 0) {
		return -1;
	}
	return p->ep_ready ? epoll_wait(p->epfd, evs, maxev, 0) : 0;
}

int probe_run(probe *p, char *err, size_t errlen)
{
	int maxev = p->n_conns + 1;
	struct epoll_event *evs = calloc((size_t)maxev, sizeof(*evs));
	int rc = 0;

	if (evs == NULL) {
		probe_fmt(err, errlen, "out of memory");
		return -1;
	}
	/* the epoll set in the event base while the loop runs (a dns_wait()
	 * after it, for the TLSA records, waits for the DNS alone) */
	if (event_add(p->ev_ep, NULL) != 0) {
		probe_fmt(err, errlen, "cannot set up the event loop");
		free(evs);
		return -1;
	}
	if (p->side.fd >= 0 && p->side.run) {
		struct epoll_event sev = {.events = EPOLLIN, .data.u32 = UINT32_MAX - 2};
		if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->side.fd, &sev) != 0 && errno != EEXIST) {
			probe_fmt(err, errlen, "epoll: %s", strerror(errno));
			free(evs);
			return -1;
		}
	}
	progress(p);
	p->scan_at = 0;
	for (;;) {
		int64_t now, next, side_next = -1;
		int n, ms, freed = 0;

		if (p->conf.stop && *p->conf.stop)
			break;
		start_work(p);
		if (p->side.run)
			side_next = p->side.run(p->side.arg, dns_now_ms());
		if (p->dom_done == p->n_dom && p->active == 0 && dns_pending(p->dns) == 0 && side_busy(p) == 0)
			break;
		if (p->active == 0 && dns_pending(p->dns) == 0 && p->runq_head >= p->runq.n && p->next_dom >= p->n_dom &&
		    side_busy(p) == 0)
			break; /* nothing in flight, nothing left to start: all is done */
		now = dns_now_ms();
		next = dns_expire(p->dns, now);
		if (side_next >= 0 && (next < 0 || side_next < next))
			next = side_next;
		/* Timeouts: every deadline is set to "now + timeout", so none is
		 * earlier than the earliest seen at the last scan, nor than
		 * "then + timeout" for a connection opened since. */
		if (now >= p->scan_at) {
			p->scan_at = now + p->conf.timeout_ms;
			for (int i = 0; i < p->n_conns; i++) {
				conn *c = &p->conns[i];
				if (c->state == C_FREE || c->busy)
					continue;
				if (c->deadline <= now) {
					conn_timeout(p, c);
					freed = 1;
				} else if (c->deadline < p->scan_at) {
					p->scan_at = c->deadline;
				}
			}
		}
		if (next < 0 || p->scan_at < next)
			next = p->scan_at;
		ms = (int)(next - now);
		if (ms < 0 || freed)
			ms = 0; /* a slot freed by a timeout takes the next host at once */
		if (ms > 1000)
			ms = 1000;
		if ((n = loop_wait(p, evs, maxev, ms)) < 0) {
			if (errno == EINTR)
				continue;
			probe_fmt(err, errlen, "the event loop: %s", strerror(errno));
			rc = -1;
			break;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u32 == UINT32_MAX - 1) {
				hs_collect(p);
			} else if (evs[i].data.u32 == UINT32_MAX - 2) {
				/* the side's descriptor: its run() before the next wait looks */
			} else if (evs[i].data.u32 < (uint32_t)p->n_conns) {
				conn *c = &p->conns[evs[i].data.u32];
				conn_step(p, c); /* (a stale event for a reused slot: a step that finds nothing to do) */
				conn_sync(p, c);
			}
		}
	}
	hs_drain(p); /* (a stop: the workers give every connection back) */
	event_del(p->ev_ep);
	free(evs);
	return rc;
}

/* ---------------------------------------------------------------- */
/* Verdicts */

const char *probe_tlsa_key(probe_tlsa t)
{
	switch (t) {
	case PROBE_TLSA_NONE:
		return "none";
	case PROBE_TLSA_UNUSABLE:
		return "unusable";
	case PROBE_TLSA_MATCH:
		return "match";
	case PROBE_TLSA_NOMATCH:
		return "nomatch";
	case PROBE_TLSA_FAIL:
		return "dns_failure";
	case PROBE_TLSA_UNKNOWN:
		break;
	}
	return "not_looked_up";
}

/* The policy service's answer, a Postfix TLS policy ("secure
 * match=a:b servername=hostname protocols=>=TLSv1.3"): the level
 * first, then name=value attributes. */
int probe_req_set(probe_req *out, int kind, const char *answer, const char *source, const char *why)
{
	char buf[PROBE_MATCH_MAX + 200], *save = NULL, *t;
	int first = 1;

	memset(out, 0, sizeof(*out));
	probe_fmt(out->source, sizeof(out->source), "%s", source ? source : "");
	if (kind == 1)
		return 0;
	if (kind != 0) {
		out->level = PROBE_LV_DEFER;
		probe_fmt(out->why, sizeof(out->why), "%s", why && why[0] ? why : "the TLS policy service answers TEMP");
		return 0;
	}
	if (probe_fmt(buf, sizeof(buf), "%s", answer ? answer : "") >= (int)sizeof(buf))
		goto bad;
	for (t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save), first = 0) {
		if (first) {
			if (strcmp(t, "encrypt") == 0)
				out->level = PROBE_LV_ENCRYPT;
			else if (strcmp(t, "verify") == 0)
				out->level = PROBE_LV_VERIFY;
			else if (strcmp(t, "secure") == 0)
				out->level = PROBE_LV_SECURE;
			else if (strcmp(t, "dane") == 0)
				out->level = PROBE_LV_DANE;
			else if (strcmp(t, "dane-only") == 0)
				out->level = PROBE_LV_DANE_ONLY;
			else
				goto bad;
		} else if (strncmp(t, "match=", 6) == 0) {
			if (probe_fmt(out->match, sizeof(out->match), "%s", t + 6) >= (int)sizeof(out->match))
				goto bad;
		} else if (strcmp(t, "protocols=>=TLSv1.3") == 0) {
			out->min_version = TLS1_3_VERSION;
		} else if (strcmp(t, "protocols=>=TLSv1.2") != 0 && strcmp(t, "servername=hostname") != 0) {
			goto bad;
		}
	}
	if (first || (out->level == PROBE_LV_SECURE && out->match[0] == '\0'))
		goto bad;
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	out->level = PROBE_LV_DEFER;
	probe_fmt(out->why, sizeof(out->why), "unexpected policy answer '%.100s'", answer ? answer : "");
	return -1;
}

int probe_req_lists(const probe_req *r, const char *host)
{
	size_t hl = strlen(host);
	const char *s = r->match;

	if (hl > 0 && host[hl - 1] == '.')
		hl--;
	while (*s) {
		const char *e = strchr(s, ':');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n == hl && strncasecmp(s, host, n) == 0)
			return 1;
		if (e == NULL)
			break;
		s = e + 1;
	}
	return 0;
}

void probe_dane_check(probe *p, size_t i, const dns_result *r)
{
	probe_host *h = &p->host[i];
	SSL *ssl = NULL;
	X509_STORE_CTX *xs = NULL;
	STACK_OF(X509) *chain = NULL;
	X509 *leaf = NULL;
	const unsigned char *der;
	int usable = 0, total = 0;

	h->tlsa = PROBE_TLSA_NONE;
	if (r->status == DNS_TEMPFAIL || r->status == DNS_BOGUS) {
		h->tlsa = PROBE_TLSA_FAIL;
		probe_fmt(h->tlsa_text, sizeof(h->tlsa_text), "TLSA lookup failed: %s", r->why ? r->why : "?");
		return;
	}
	if (r->status != DNS_OK || r->n == 0) {
		probe_fmt(h->tlsa_text, sizeof(h->tlsa_text), "no TLSA records%s", r->secure ? "" : " (not DNSSEC-validated)");
		return;
	}
	if (!r->secure) {
		probe_fmt(h->tlsa_text, sizeof(h->tlsa_text), "%zu TLSA record%s, not DNSSEC-validated: not used", r->n,
		          r->n == 1 ? "" : "s");
		return;
	}
	if (p->dane_ssl == NULL) {
		if ((p->dane_ssl = SSL_CTX_new(TLS_client_method())) == NULL || SSL_CTX_dane_enable(p->dane_ssl) <= 0) {
			SSL_CTX_free(p->dane_ssl);
			p->dane_ssl = NULL;
			goto fail;
		}
	}
	if ((ssl = SSL_new(p->dane_ssl)) == NULL || SSL_dane_enable(ssl, h->name) <= 0)
		goto fail;
	/* as Postfix: the names of a DANE-EE certificate are not checked */
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	for (size_t k = 0; k < r->n; k++) {
		const unsigned char *d = r->data[k];
		total++;
		if (r->len[k] < 4 || d[0] < 2) /* PKIX-TA(0), PKIX-EE(1): unusable for SMTP */
			continue;
		if (SSL_dane_tlsa_add(ssl, d[0], d[1], d[2], d + 3, (size_t)r->len[k] - 3) > 0)
			usable++;
	}
	ERR_clear_error();
	if (usable == 0) {
		h->tlsa = PROBE_TLSA_UNUSABLE;
		probe_fmt(h->tlsa_text, sizeof(h->tlsa_text), "%d TLSA record%s, none usable (as if none)", total,
		          total == 1 ? "" : "s");
		goto out;
	}
	h->tlsa = PROBE_TLSA_NOMATCH;
	if (!h->tls || h->chain_len == 0) {
		probe_fmt(h->tlsa_text, sizeof(h->tlsa_text), "%d usable TLSA record%s, no certificate to match (%s)", usable,
		          usable == 1 ? "" : "s", h->tls ? "none sent" : "no TLS");
		goto out;
	}
	if ((chain = sk_X509_new_null()) == NULL)
		goto fail;
	der = h->chain;
	while (der < h->chain + h->chain_len) {
		X509 *x = d2i_X509(NULL, &der, (long)(h->chain + h->chain_len - der));
		if (x == NULL || !sk_X509_push(chain, x)) {
			X509_free(x);
			goto fail;
		}
	}
	leaf = sk_X509_value(chain, 0);
	if ((xs = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(xs, SSL_CTX_get_cert_store(p->dane_ssl), leaf, chain) != 1)
		goto fail;
	X509_STORE_CTX_set_default(xs, "ssl_server");
	X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(xs), SSL_get0_param(ssl));
	X509_STORE_CTX_set0_dane(xs, SSL_get0_dane(ssl));
	if (X509_verify_cert(xs) == 1) {
		h->tlsa = PROBE_TLSA_MATCH;
		probe_fmt(h->tlsa_text, sizeof(h->tlsa_text), "%d usable TLSA record%s, the certificate matches", usable,
		          usable == 1 ? "" : "s");
	} else {
		probe_fmt(h->tlsa_text, sizeof(h->tlsa_text), "%d usable TLSA record%s, the certificate matches none (%s)",
		          usable, usable == 1 ? "" : "s", X509_verify_cert_error_string(X509_STORE_CTX_get_error(xs)));
	}
	goto out;
fail:
	h->tlsa = PROBE_TLSA_FAIL;
	probe_fmt(h->tlsa_text, sizeof(h->tlsa_text), "the DANE check could not be made (out of memory or a bad chain)");
out:
	ERR_clear_error();
	X509_STORE_CTX_free(xs);
	sk_X509_pop_free(chain, X509_free);
	SSL_free(ssl);
}

/* What one host must give for a setting under a domain requirement:
 * 0 = nothing (opportunistic: it takes the mail, over TLS if it can),
 * 1 = mandatory TLS, 2 = also a trusted certificate for its name,
 * 3 = also a TLSA match, 4 = not usable at all (SECURE: not listed). */
enum { NEED_MAY = 0, NEED_TLS, NEED_TRUSTED, NEED_TLSA, NEED_UNLISTED };

static int need_of(const probe_host *h, probe_setting s, const probe_req *r, int *minv)
{
	int need = s == PROBE_SET_OPPORTUNISTIC ? NEED_MAY : s == PROBE_SET_VERIFY ? NEED_TRUSTED : NEED_TLS;
	int dane = h->tlsa == PROBE_TLSA_MATCH || h->tlsa == PROBE_TLSA_NOMATCH || h->tlsa == PROBE_TLSA_FAIL;

	*minv = s == PROBE_SET_TLS13 ? TLS1_3_VERSION : TLS1_2_VERSION;
	if (r == NULL)
		return need;
	if (r->min_version > *minv)
		*minv = r->min_version;
	switch (r->level) {
	case PROBE_LV_SETTING:
	case PROBE_LV_DEFER:
		break;
	case PROBE_LV_ENCRYPT:
		need = need > NEED_TLS ? need : NEED_TLS;
		break;
	case PROBE_LV_VERIFY:
		need = NEED_TRUSTED;
		break;
	case PROBE_LV_SECURE:
		need = probe_req_lists(r, h->name) ? NEED_TRUSTED : NEED_UNLISTED;
		break;
	case PROBE_LV_DANE:
		/* usable TLSA: authenticated by them; only unusable ones: encrypt
		 * (as Postfix); none: the setting's own level */
		if (dane)
			need = NEED_TLSA;
		else if (h->tlsa == PROBE_TLSA_UNUSABLE && need < NEED_TLS)
			need = NEED_TLS;
		break;
	case PROBE_LV_DANE_ONLY:
		need = NEED_TLSA;
		break;
	}
	return need;
}

static int gives(const probe_host *h, int need, int minv)
{
	switch (need) {
	case NEED_MAY:
		return h->tls && h->tls_version >= TLS1_2_VERSION;
	case NEED_TLS:
		return h->tls && h->tls_version >= minv;
	case NEED_TRUSTED:
		return h->tls && h->tls_version >= minv && h->cat == PROBE_TRUSTED;
	case NEED_TLSA:
		return h->tls && h->tls_version >= minv && h->tlsa == PROBE_TLSA_MATCH;
	}
	return 0;
}

static void why_not(char *out, size_t len, const probe_host *h, int need, int minv)
{
	if (need == NEED_UNLISTED)
		probe_fmt(out, len, "%s matches no mx pattern of the MTA-STS policy: not used", h->name);
	else if (!h->starttls)
		probe_fmt(out, len, "TLS required but not supported: %s %s", h->name,
		         h->error[0] ? h->error : "does not offer STARTTLS");
	else if (!h->tls)
		probe_fmt(out, len, "%s: %s", h->name, h->error);
	else if (h->tls_version < TLS1_2_VERSION)
		probe_fmt(out, len, "%s offers only %s, below the minimum TLSv1.2", h->name, h->version);
	else if (h->tls_version < minv)
		probe_fmt(out, len, "%s offers %s, below the minimum TLSv1.3", h->name, h->version);
	else if (need == NEED_TLSA)
		probe_fmt(out, len, "%s: %s", h->name,
		          h->tlsa == PROBE_TLSA_NONE || h->tlsa == PROBE_TLSA_UNUSABLE || h->tlsa == PROBE_TLSA_UNKNOWN
		              ? "no usable TLSA records (dane-only)"
		              : h->tlsa_text);
	else
		probe_fmt(out, len, "%s: %s: %s", h->name, probe_cat_name(h->cat), h->error);
}

void probe_verdict_of(probe_verdict *v, const probe *p, const probe_domain *d, probe_setting s, const probe_req *req)
{
	const probe_host *first = NULL, *deciding = NULL;
	int dneed = 0, dminv = 0;
	const char *src = req && req->level != PROBE_LV_SETTING && req->source[0] ? req->source : NULL;
	char why[sizeof(v->why)];

	memset(v, 0, sizeof(*v));
	if (d->status == PROBE_D_NULLMX || d->status == PROBE_D_NXDOMAIN) {
		v->out = PROBE_OUT_NOMAIL;
		probe_fmt(v->why, sizeof(v->why), "%s", d->error);
		return;
	}
	if (d->status != PROBE_D_MX) {
		v->out = PROBE_OUT_UNREACHABLE;
		probe_fmt(v->why, sizeof(v->why), "%s", d->error[0] ? d->error : "not probed");
		return;
	}
	if (req && req->level == PROBE_LV_DEFER) {
		v->out = PROBE_OUT_BLOCKED;
		probe_fmt(v->why, sizeof(v->why), "deferred by the TLS policy: %s", req->why);
		return;
	}
	/* Postfix tries the hosts in preference order; one that does not
	 * answer (or, when TLS is required of it, does not give what is
	 * required) passes the mail on to the next.  One of which nothing
	 * is required takes the mail: over TLS if it can, else in the clear. */
	for (size_t i = 0; i < d->n_mx; i++) {
		const probe_host *h = &p->host[d->mx[i]];
		int minv, need;
		if (!h->done || !h->reached) {
			if (first == NULL)
				first = h;
			continue;
		}
		need = need_of(h, s, req, &minv);
		if (need == NEED_MAY) {
			v->via = h;
			if (gives(h, need, minv)) {
				v->out = PROBE_OUT_ENCRYPTED;
				probe_fmt(v->why, sizeof(v->why), "%s, %s %s", h->name, h->version, h->cipher);
			} else {
				v->out = PROBE_OUT_CLEAR;
				if (!h->starttls)
					probe_fmt(v->why, sizeof(v->why), "%s does not offer STARTTLS", h->name);
				else if (h->tls)
					probe_fmt(v->why, sizeof(v->why), "%s offers only %s, which OpenSSL refuses by default",
					         h->name, h->version);
				else
					probe_fmt(v->why, sizeof(v->why), "%s: %s; sent in the clear instead", h->name, h->error);
			}
			return;
		}
		if (need != NEED_UNLISTED && gives(h, need, minv)) {
			v->out = s == PROBE_SET_OPPORTUNISTIC ? PROBE_OUT_ENCRYPTED : PROBE_OUT_DELIVERED;
			v->via = h;
			probe_fmt(v->why, sizeof(v->why), "%s, %s %s%s%s%s", h->name, h->version, h->cipher,
			         need == NEED_TLSA ? ", DANE TLSA matched" : need == NEED_TRUSTED ? ", certificate verified" : "",
			         src ? " (" : "", src ? src : "");
			if (src)
				probe_fmt(v->why + strlen(v->why), sizeof(v->why) - strlen(v->why), ")");
			return;
		}
		/* the first host that could have taken the mail decides the reason */
		if (deciding == NULL || (dneed == NEED_UNLISTED && need != NEED_UNLISTED)) {
			deciding = h;
			dneed = need;
			dminv = minv;
		}
	}
	if (deciding) {
		v->out = PROBE_OUT_BLOCKED;
		v->via = deciding;
		why_not(why, sizeof(why), deciding, dneed, dminv);
		probe_fmt(v->why, sizeof(v->why), "%s%s%s", src ? src : "", src ? ": " : "", why);
		return;
	}
	v->out = PROBE_OUT_UNREACHABLE;
	v->via = first;
	probe_fmt(v->why, sizeof(v->why), "no MX host answered%s%s%s%s", first ? ": " : "", first ? first->name : "",
	         first ? " " : "", first ? first->error : "");
}

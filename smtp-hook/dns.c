/*
 * DNS through libunbound (see dns.h).  The queries in flight are a list
 * of small records, each handed to libunbound as its callback argument
 * and freed when its answer is delivered, its deadline passes (then
 * ub_cancel guarantees no later callback) or the context is closed.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <unbound-event.h>
#include <unbound.h>

#include "dns.h"

typedef struct dns_query {
	struct dns_query *next, **prevp;
	dns_ctx *ctx;
	int async_id;
	int rrtype;
	int zombie; /* event mode: given up (timeout, cancel); libunbound's answer still to come, then freed */
	int in_call, answered; /* event mode: inside ub_resolve_event; answered there (local data) */
	int64_t deadline;
	dns_cb cb;
	void *arg;
} dns_query;

struct dns_ctx {
	struct ub_ctx *ub;
	dns_query *pending;
	size_t n_pending;
	/* event mode (dns_open_event): no thread; the caller's event base */
	struct event_base *eb;
	struct event *tmo;   /* dns_wait's timer */
	dns_query *zombies;
};

int64_t dns_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *dns_status_name(dns_status s)
{
	switch (s) {
	case DNS_OK:
		return "ok";
	case DNS_NODATA:
		return "no data";
	case DNS_NXDOMAIN:
		return "NXDOMAIN";
	case DNS_TEMPFAIL:
		return "temporary failure";
	case DNS_BOGUS:
		return "DNSSEC bogus";
	}
	return "?";
}

static int setopt(struct ub_ctx *ub, const char *opt, const char *val, char *err, size_t errlen)
{
	int r = ub_ctx_set_option(ub, opt, val);
	if (r != 0)
		snprintf(err, errlen, "libunbound option %s %s: %s", opt, val, ub_strerror(r));
	return r == 0 ? 0 : -1;
}

static int configure(dns_ctx *d, const dns_conf *conf, char *err, size_t errlen)
{
	int r;

	/* Loopback resolvers are allowed (a local validating cache, the tests). */
	if (setopt(d->ub, "do-not-query-localhost:", "no", err, errlen) != 0 ||
	    setopt(d->ub, "harden-dnssec-stripped:", "yes", err, errlen) != 0)
		return -1;
	if (conf->forward != NULL) {
		const char *p = conf->forward;
		while (*p) {
			char addr[128];
			size_t n = strcspn(p, " ,");
			if (n > 0) {
				if (n >= sizeof(addr)) {
					snprintf(err, errlen, "DNS server address too long");
					return -1;
				}
				memcpy(addr, p, n);
				addr[n] = '\0';
				if ((r = ub_ctx_set_fwd(d->ub, addr)) != 0) {
					snprintf(err, errlen, "DNS server %s: %s", addr, ub_strerror(r));
					return -1;
				}
			}
			p += n;
			p += strspn(p, " ,");
		}
	}
	if (conf->trust_anchor_file != NULL && (r = ub_ctx_add_ta_file(d->ub, conf->trust_anchor_file)) != 0) {
		snprintf(err, errlen, "DNSSEC trust anchor file %s: %s", conf->trust_anchor_file, ub_strerror(r));
		return -1;
	}
	if (conf->trust_anchor != NULL && (r = ub_ctx_add_ta(d->ub, conf->trust_anchor)) != 0) {
		snprintf(err, errlen, "DNSSEC trust anchor: %s", ub_strerror(r));
		return -1;
	}
	return 0;
}

static void ctx_free(dns_ctx *d)
{
	if (d->ub)
		ub_ctx_delete(d->ub);
	if (d->tmo)
		event_free(d->tmo);
	free(d);
}

int dns_open(dns_ctx **out, const dns_conf *conf, char *err, size_t errlen)
{
	dns_ctx *d;
	int r;

	*out = NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL || (d->ub = ub_ctx_create()) == NULL) {
		snprintf(err, errlen, "cannot create a libunbound context");
		free(d);
		return -1;
	}
	/* Resolve in a thread of ours, not a forked process. */
	if ((r = ub_ctx_async(d->ub, 1)) != 0) {
		snprintf(err, errlen, "libunbound async: %s", ub_strerror(r));
		ctx_free(d);
		return -1;
	}
	if (configure(d, conf, err, errlen) != 0) {
		ctx_free(d);
		return -1;
	}
	*out = d;
	return 0;
}

static void on_tmo(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

int dns_open_event(dns_ctx **out, const dns_conf *conf, struct event_base *base, char *err, size_t errlen)
{
	dns_ctx *d;

	*out = NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL || (d->ub = ub_ctx_create_event(base)) == NULL ||
	    (d->tmo = evtimer_new(base, on_tmo, d)) == NULL) {
		snprintf(err, errlen, "cannot create a libunbound context");
		if (d)
			ctx_free(d);
		return -1;
	}
	d->eb = base;
	if (configure(d, conf, err, errlen) != 0) {
		ctx_free(d);
		return -1;
	}
	*out = d;
	return 0;
}

static void unlink_query(dns_query *q)
{
	*q->prevp = q->next;
	if (q->next)
		q->next->prevp = q->prevp;
	q->ctx->n_pending--;
}

/* Event mode: a query given up before its answer.  ub_cancel is not
 * used there (libunbound's own event mode frees the query it still
 * works on); the record waits for the answer, which frees it unseen. */
static void to_zombie(dns_query *q)
{
	dns_ctx *d = q->ctx;

	unlink_query(q);
	q->zombie = 1;
	q->prevp = &d->zombies;
	q->next = d->zombies;
	if (d->zombies)
		d->zombies->prevp = &q->next;
	d->zombies = q;
}

static void drop_zombie(dns_query *q)
{
	*q->prevp = q->next;
	if (q->next)
		q->next->prevp = q->prevp;
	free(q);
}

/* A query given up (its deadline, a cancel): no callback from
 * libunbound after this.  Threaded, cancelled and freed; in the event
 * mode, left to finish unseen (to_zombie). */
static void give_up(dns_query *q)
{
	if (q->ctx->eb) {
		to_zombie(q);
		return;
	}
	ub_cancel(q->ctx->ub, q->async_id);
	unlink_query(q);
	free(q);
}

void dns_cancel_all(dns_ctx *d)
{
	while (d->pending)
		give_up(d->pending);
}

void dns_close(dns_ctx *d)
{
	if (d == NULL)
		return;
	dns_cancel_all(d);
	ub_ctx_delete(d->ub); /* (no answer is delivered after this) */
	d->ub = NULL;
	while (d->zombies)
		drop_zombie(d->zombies);
	ctx_free(d);
}

int dns_fd(const dns_ctx *d)
{
	return d->eb ? -1 : ub_fd(d->ub);
}

size_t dns_pending(const dns_ctx *d)
{
	return d->n_pending;
}

/* The reason texts both modes give (static: valid during the callback). */
static const char *why_rcode(int rcode)
{
	static char why[DNS_WHY_MAX];
	snprintf(why, sizeof(why), "DNS rcode %d%s", rcode, rcode == 2 ? " (SERVFAIL)" : "");
	return why;
}

static const char *why_bogus(const char *detail)
{
	static char why[DNS_WHY_MAX];
	snprintf(why, sizeof(why), "DNSSEC validation failed%s%s", detail ? ": " : "", detail ? detail : "");
	return why;
}

static void on_result(void *arg, int err, struct ub_result *res)
{
	dns_query *q = arg;
	dns_result r;
	static char why[DNS_WHY_MAX];

	memset(&r, 0, sizeof(r));
	if (err != 0 || res == NULL) {
		r.status = DNS_TEMPFAIL;
		snprintf(why, sizeof(why), "resolver: %s", ub_strerror(err));
		r.why = why;
	} else {
		r.rcode = res->rcode;
		r.secure = res->secure;
		if (res->bogus) {
			r.status = DNS_BOGUS;
			r.why = why_bogus(res->why_bogus);
		} else if (res->havedata) {
			size_t n = 0;
			while (res->data[n])
				n++;
			r.status = DNS_OK;
			r.n = n;
			r.data = (const unsigned char *const *)res->data;
			r.len = res->len;
		} else if (res->nxdomain) {
			r.status = DNS_NXDOMAIN;
		} else if (res->rcode == 0) {
			r.status = DNS_NODATA;
		} else {
			r.status = DNS_TEMPFAIL;
			r.why = why_rcode(res->rcode);
		}
	}
	unlink_query(q);
	q->cb(q->arg, &r);
	free(q);
	ub_resolve_free(res);
}

/* Event mode: an answer, as a DNS message (dns_wire_answer). */
static void on_event(void *arg, int rcode, void *pkt, int len, int sec, char *bogus, int ratelimited)
{
	dns_query *q = arg;
	dns_wire w;
	dns_result r;

	(void)ratelimited;
	if (q->zombie) {
		drop_zombie(q);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.secure = sec == 2;
	r.rcode = rcode;
	if (rcode == 3) {
		r.status = DNS_NXDOMAIN;
	} else if (rcode != 0 || pkt == NULL) {
		r.status = DNS_TEMPFAIL;
		r.why = why_rcode(rcode);
	} else if (sec == 1) {
		r.status = DNS_BOGUS;
		r.why = why_bogus(bogus);
	} else if (len < 0 || dns_wire_answer(&w, pkt, (size_t)len, q->rrtype) != 0) {
		r.status = DNS_TEMPFAIL;
		r.why = "malformed DNS answer";
	} else if ((r.rcode = w.rcode) == 3) {
		r.status = DNS_NXDOMAIN;
	} else if (w.rcode != 0) {
		r.status = DNS_TEMPFAIL;
		r.why = why_rcode(w.rcode);
	} else if (w.n == 0) {
		r.status = DNS_NODATA;
	} else {
		r.status = DNS_OK;
		r.n = w.n;
		r.data = w.data;
		r.len = w.len;
	}
	unlink_query(q);
	q->cb(q->arg, &r);
	if (q->in_call)
		q->answered = 1; /* (inside ub_resolve_event: dns_resolve frees it) */
	else
		free(q);
}

int dns_process(dns_ctx *d)
{
	if (d->eb)
		return 0;
	return ub_process(d->ub) == 0 ? 0 : -1;
}

int64_t dns_expire(dns_ctx *d, int64_t now_ms)
{
	int64_t next = -1;
	dns_query *q = d->pending;

	while (q) {
		dns_query *nq = q->next;
		if (q->deadline <= now_ms) {
			dns_result r;
			dns_cb cb = q->cb;
			void *arg = q->arg;
			memset(&r, 0, sizeof(r));
			r.status = DNS_TEMPFAIL;
			r.why = "timeout";
			give_up(q);
			cb(arg, &r);
			/* the callback may have added queries: start over */
			q = d->pending;
			next = -1;
			continue;
		}
		if (next < 0 || q->deadline < next)
			next = q->deadline;
		q = nq;
	}
	return next;
}

int dns_resolve(dns_ctx *d, const char *name, int rrtype, int64_t deadline_ms, dns_cb cb, void *arg)
{
	dns_query *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return -1;
	q->ctx = d;
	q->rrtype = rrtype;
	q->deadline = deadline_ms;
	q->cb = cb;
	q->arg = arg;
	q->next = d->pending;
	q->prevp = &d->pending;
	if (d->pending)
		d->pending->prevp = &q->next;
	d->pending = q;
	d->n_pending++;
	if (d->eb) {
		/* An answer from local data (unbound's own zones: localhost,
		 * test., invalid., ...) arrives inside this call, before it
		 * writes the id: the record lives until the call returns. */
		int id = 0, rc;
		q->in_call = 1;
		rc = ub_resolve_event(d->ub, name, rrtype, 1, q, on_event, &id);
		if (q->answered) {
			free(q);
			return 0;
		}
		q->in_call = 0;
		q->async_id = id;
		if (rc != 0) {
			unlink_query(q);
			free(q);
			return -1;
		}
		return 0;
	}
	if (ub_resolve_async(d->ub, name, rrtype, 1, q, on_result, &q->async_id) != 0) {
		unlink_query(q);
		free(q);
		return -1;
	}
	return 0;
}

void dns_wait(dns_ctx *d)
{
	while (d->n_pending > 0) {
		int64_t now = dns_now_ms(), next = dns_expire(d, now);
		struct pollfd p = {.fd = dns_fd(d), .events = POLLIN};
		int ms;

		if (next < 0)
			break;
		ms = next - now > 1000 ? 1000 : (int)(next - now);
		if (d->eb) {
			struct timeval tv = {ms < 0 ? 0 : ms / 1000, ms < 0 ? 0 : (ms % 1000) * 1000};
			evtimer_add(d->tmo, &tv);
			event_base_loop(d->eb, EVLOOP_ONCE);
			evtimer_del(d->tmo);
			continue;
		}
		if (poll(&p, 1, ms < 0 ? 0 : ms) > 0)
			dns_process(d);
	}
}

/* ---- an answer kept past its callback ---- */

void dns_answer_clear(dns_answer *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->data[i]);
	memset(a, 0, sizeof(*a));
}

void dns_answer_fail(dns_answer *a, const char *why)
{
	dns_answer_clear(a);
	a->done = 1;
	a->status = DNS_TEMPFAIL;
	snprintf(a->why, sizeof(a->why), "%s", why);
}

void dns_answer_set(dns_answer *a, const dns_result *r, int keep_data)
{
	dns_answer_clear(a);
	a->done = 1;
	a->status = r->status;
	a->secure = r->secure;
	snprintf(a->why, sizeof(a->why), "%s", r->why ? r->why : dns_status_name(r->status));
	for (size_t i = 0; keep_data && i < r->n; i++) {
		size_t len = r->len[i] < 0 ? 0 : (size_t)r->len[i];
		if (a->n == DNS_ANSWER_KEEP || len > DNS_ANSWER_DATA_MAX || (a->data[a->n] = malloc(len + 1)) == NULL) {
			a->dropped++;
			continue;
		}
		memcpy(a->data[a->n], r->data[i], len);
		a->data[a->n][len] = '\0';
		a->len[a->n++] = len;
	}
}

/* ---- pure rdata decoders ---- */

long dns_txt_join(char *out, size_t outlen, const unsigned char *rd, size_t len)
{
	size_t i = 0, o = 0;

	if (outlen == 0)
		return -1;
	while (i < len) {
		size_t n = rd[i++];
		if (n > len - i || n >= outlen - o)
			return -1;
		memcpy(out + o, rd + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	/* a NUL inside would truncate the record silently */
	return memchr(out, '\0', o) ? -1 : (long)o;
}

int dns_mx_parse(int *pref, char name[DNS_NAME_MAX + 1], const unsigned char *rd, size_t len)
{
	size_t i = 2, o = 0;

	name[0] = '\0';
	if (len < 3)
		return -1;
	*pref = (rd[0] << 8) | rd[1];
	for (;;) {
		size_t n;
		if (i >= len)
			return -1;
		n = rd[i++];
		if (n == 0)
			break;
		/* names in libunbound's rdata are uncompressed: a pointer is malformed */
		if (n > 63 || n > len - i || o + n + (o ? 1 : 0) > DNS_NAME_MAX)
			return -1;
		if (o)
			name[o++] = '.';
		for (size_t k = 0; k < n; k++) {
			unsigned char c = rd[i + k];
			if (c >= 'A' && c <= 'Z')
				c = (unsigned char)(c + ('a' - 'A'));
			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
				return -1;
			name[o++] = (char)c;
		}
		i += n;
	}
	name[o] = '\0';
	return i == len ? 0 : -1;
}

/* ---- DNS messages (event mode) ---- */

/* The name at msg[*off], skipped (*off just past it, or past its first
 * compression pointer); with out, written uncompressed in wire format
 * (at most 255 bytes, *outlen).  A pointer must point back, before
 * itself: no loop.  0, or -1 if malformed. */
static int wire_name(const unsigned char *m, size_t len, size_t *off, unsigned char *out, size_t *outlen)
{
	size_t p = *off, o = 0, end = 0;
	int jumped = 0;

	for (;;) {
		unsigned c;
		if (p >= len)
			return -1;
		c = m[p];
		if (c == 0) {
			p++;
			break;
		}
		if ((c & 0xC0) == 0xC0) {
			size_t t;
			if (p + 1 >= len)
				return -1;
			t = ((size_t)(c & 0x3F) << 8) | m[p + 1];
			if (t >= p)
				return -1;
			if (!jumped)
				end = p + 2;
			jumped = 1;
			p = t;
			continue;
		}
		if (c & 0xC0) /* extended label types (RFC 6891): not in a name we read */
			return -1;
		if (c > len - p - 1 || o + 1 + c > 254)
			return -1;
		if (out) {
			out[o] = (unsigned char)c;
			memcpy(out + o + 1, m + p + 1, c);
		}
		o += 1 + c;
		p += 1 + c;
	}
	if (out)
		out[o] = 0;
	if (outlen)
		*outlen = o + 1;
	*off = jumped ? end : p;
	return 0;
}

int dns_wire_answer(dns_wire *w, const unsigned char *m, size_t len, int rrtype)
{
	size_t off = 12;
	unsigned qd, an;

	w->n = 0;
	w->rcode = -1;
	if (len < 12)
		return -1;
	w->rcode = m[3] & 0x0F;
	qd = (unsigned)(m[4] << 8 | m[5]);
	an = (unsigned)(m[6] << 8 | m[7]);
	for (unsigned i = 0; i < qd; i++) {
		if (wire_name(m, len, &off, NULL, NULL) != 0 || len - off < 4)
			return -1;
		off += 4;
	}
	for (unsigned i = 0; i < an; i++) {
		unsigned type, cls;
		size_t rdlen;
		if (wire_name(m, len, &off, NULL, NULL) != 0 || len - off < 10)
			return -1;
		type = (unsigned)(m[off] << 8 | m[off + 1]);
		cls = (unsigned)(m[off + 2] << 8 | m[off + 3]);
		rdlen = (size_t)(m[off + 8] << 8 | m[off + 9]);
		off += 10;
		if (rdlen > len - off)
			return -1;
		/* the records of the type asked (a CNAME chain before them skipped) */
		if (type == (unsigned)rrtype && cls == 1 && w->n < DNS_WIRE_RR_MAX) {
			if (type == DNS_RR_MX) {
				/* its exchange may be compressed: written out whole */
				unsigned char *o = w->mx[w->n];
				size_t noff = off + 2, nl = 0;
				if (rdlen < 3 || wire_name(m, len, &noff, o + 2, &nl) != 0 || noff != off + rdlen)
					return -1;
				o[0] = m[off];
				o[1] = m[off + 1];
				w->data[w->n] = o;
				w->len[w->n] = (int)(2 + nl);
			} else {
				w->data[w->n] = m + off;
				w->len[w->n] = (int)rdlen;
			}
			w->n++;
		}
		off += rdlen;
	}
	return 0;
}

/*
 * maillog: the pure Postfix log-line parser (see maillog.h for the
 * formats).  A line is read left to right through a bounded cursor:
 * timestamp, host, TAG[PID]:, then the program's text.  Nothing here
 * reads past `len`, relies on a terminating NUL, allocates or calls the
 * system: the fuzz target (tests/fuzz/fuzz_maillog.c) holds it to that.
 */
#include "maillog.h"

#include <string.h>

typedef struct cur {
	const char *p;
	const char *end;
} cur;

static size_t left(const cur *c) { return (size_t)(c->end - c->p); }

static int eat(cur *c, const char *lit)
{
	size_t n = strlen(lit);
	if (left(c) < n || memcmp(c->p, lit, n) != 0)
		return 0;
	c->p += n;
	return 1;
}

static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }

/* exactly n digits */
static int digits(cur *c, int n, int *out)
{
	int v = 0;
	if (left(c) < (size_t)n)
		return 0;
	for (int i = 0; i < n; i++) {
		if (!is_digit(c->p[i]))
			return 0;
		v = v * 10 + (c->p[i] - '0');
	}
	c->p += n;
	*out = v;
	return 1;
}

/* 1..18 digits */
static int number(cur *c, int64_t *out)
{
	int64_t v = 0;
	int n = 0;
	while (c->p < c->end && is_digit(*c->p) && n < 18) {
		v = v * 10 + (*c->p - '0');
		c->p++;
		n++;
	}
	if (n == 0 || (c->p < c->end && is_digit(*c->p)))
		return 0;
	*out = v;
	return 1;
}

/* Find `lit` at or after c->p; returns its start or NULL. */
static const char *find(const cur *c, const char *lit)
{
	size_t n = strlen(lit);
	for (const char *q = c->p; (size_t)(c->end - q) >= n; q++)
		if (*q == lit[0] && memcmp(q, lit, n) == 0)
			return q;
	return NULL;
}

/* Copy [b, e) into dst (cap = sizeof dst); 0 if it does not fit. */
static int copy(char *dst, size_t cap, const char *b, const char *e)
{
	size_t n = (size_t)(e - b);
	if (n >= cap)
		return 0;
	memcpy(dst, b, n);
	dst[n] = '\0';
	return 1;
}

/* Copy, cutting at the buffer size (free text only). */
static void copy_cut(char *dst, size_t cap, const char *b, const char *e)
{
	size_t n = (size_t)(e - b);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, b, n);
	dst[n] = '\0';
}

/* ---- the header ---- */

static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int hms(cur *c, ml_time *t)
{
	return digits(c, 2, &t->hour) && eat(c, ":") && digits(c, 2, &t->min) && eat(c, ":") &&
	       digits(c, 2, &t->sec) && t->hour < 24 && t->min < 60 && t->sec < 61;
}

static int syslog_time(cur *c, ml_time *t)
{
	int m;
	for (m = 0; m < 12; m++)
		if (eat(c, months[m]))
			break;
	if (m == 12 || !eat(c, " "))
		return 0;
	t->mon = m + 1;
	if (eat(c, " ")) { /* "Dec  2" */
		if (!digits(c, 1, &t->mday))
			return 0;
	} else if (!digits(c, 2, &t->mday)) {
		return 0;
	}
	return t->mday >= 1 && t->mday <= 31 && eat(c, " ") && hms(c, t);
}

static int iso_time(cur *c, ml_time *t)
{
	if (!(digits(c, 4, &t->year) && eat(c, "-") && digits(c, 2, &t->mon) && eat(c, "-") &&
	      digits(c, 2, &t->mday) && eat(c, "T") && hms(c, t)))
		return 0;
	if (t->mon < 1 || t->mon > 12 || t->mday < 1 || t->mday > 31)
		return 0;
	if (eat(c, ".") || eat(c, ",")) {
		int n = 0;
		while (c->p < c->end && is_digit(*c->p) && n < 9) {
			c->p++;
			n++;
		}
		if (n == 0)
			return 0;
	}
	if (eat(c, "Z")) {
		t->has_offset = 1;
		return 1;
	}
	if (c->p < c->end && (*c->p == '+' || *c->p == '-')) {
		int sign = *c->p == '-' ? -1 : 1, oh, om;
		c->p++;
		if (!digits(c, 2, &oh))
			return 0;
		eat(c, ":");
		if (!digits(c, 2, &om) || oh > 23 || om > 59)
			return 0;
		t->has_offset = 1;
		t->offset_min = sign * (oh * 60 + om);
		return 1;
	}
	return 1; /* local time */
}

/* TAG[PID]: with TAG = name/.../program */
static int tag(cur *c, maillog_rec *r)
{
	const char *b = c->p, *slash = NULL;
	while (c->p < c->end && *c->p != '[' && *c->p != ' ' && *c->p != ':') {
		if (*c->p == '/')
			slash = c->p;
		c->p++;
	}
	if (!slash || slash == b || slash + 1 == c->p || !eat(c, "["))
		return 0;
	if (!copy(r->syslog_name, sizeof r->syslog_name, b, slash) ||
	    !copy(r->program, sizeof r->program, slash + 1, c->p - 1))
		return 0;
	return number(c, &r->pid) && eat(c, "]: ");
}

/* ---- queue ids ---- */

static int qid_char_short(char ch) { return is_digit(ch) || (ch >= 'A' && ch <= 'F'); }

static int qid_char_long(char ch)
{
	if (is_digit(ch))
		return 1;
	if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')))
		return 0;
	return strchr("AEIOUaeiou", ch) == NULL;
}

/* "QID: " at the cursor */
static int qid(cur *c, maillog_rec *r)
{
	const char *b = c->p, *q = c->p;
	int all_short = 1, all_long = 1;
	while (q < c->end && *q != ':' && q - b <= ML_QID_MAX) {
		all_short &= qid_char_short(*q);
		all_long &= qid_char_long(*q);
		q++;
	}
	size_t n = (size_t)(q - b);
	if (q >= c->end || *q != ':' || n > ML_QID_MAX)
		return 0;
	if (!((all_short && n >= 5) || (all_long && n >= 10)))
		return 0;
	c->p = q;
	if (!eat(c, ": "))
		return 0;
	return copy(r->qid, sizeof r->qid, b, q);
}

/* ---- fields ---- */

/* "<addr>" followed by `stop` (or the end when stop is NULL) */
static int angle_addr(cur *c, char *dst, size_t cap, const char *stop)
{
	if (!eat(c, "<"))
		return 0;
	const char *e;
	if (stop) {
		char pat[32];
		size_t sn = strlen(stop);
		if (sn + 2 > sizeof pat)
			return 0;
		pat[0] = '>';
		memcpy(pat + 1, stop, sn + 1);
		e = find(c, pat);
	} else {
		e = c->end > c->p && c->end[-1] == '>' ? c->end - 1 : NULL;
	}
	if (!e || !copy(dst, cap, c->p, e))
		return 0;
	c->p = e + 1;
	return 1;
}

/* a value up to ", " or the end */
static const char *value_end(const cur *c)
{
	const char *e = find(c, ", ");
	return e ? e : c->end;
}

/* "NAME[ADDR]" or "NAME[ADDR]:PORT" (ADDR may hold colons) up to `term`
 * (": " for the TLS lines) or a value end */
static int hostspec(cur *c, char *dst, size_t cap, const char *term)
{
	const char *b = c->p;
	const char *lb = NULL;
	for (const char *q = c->p; q < c->end && *q != ' ' && *q != ','; q++)
		if (*q == '[') {
			lb = q;
			break;
		}
	const char *e;
	if (lb) {
		cur t = {lb, c->end};
		const char *rb = find(&t, "]");
		if (!rb)
			return 0;
		e = rb + 1;
		if (e < c->end && *e == ':' && e + 1 < c->end && is_digit(e[1])) {
			e++;
			while (e < c->end && is_digit(*e))
				e++;
		}
		if (term) {
			size_t tn = strlen(term);
			if ((size_t)(c->end - e) < tn || memcmp(e, term, tn) != 0)
				return 0;
		}
	} else if (term) {
		cur t = *c;
		e = find(&t, term);
		if (!e)
			return 0;
	} else {
		e = value_end(c);
	}
	if (e == b || !copy(dst, cap, b, e))
		return 0;
	c->p = e;
	return 1;
}

/* ---- per program ---- */

static int parse_smtpd(cur *c, maillog_rec *r)
{
	if (!eat(c, "client="))
		return ML_SKIP;
	r->kind = ML_SMTPD_CLIENT;
	if (!hostspec(c, r->host, sizeof r->host, NULL))
		return ML_EMALFORMED;
	while (eat(c, ", ")) {
		if (eat(c, "sasl_method=")) {
			const char *e = value_end(c);
			if (!copy(r->sasl_method, sizeof r->sasl_method, c->p, e))
				return ML_EMALFORMED;
			c->p = e;
		} else if (eat(c, "sasl_username=")) {
			/* up to the next known field: a user name may hold ", " */
			const char *e = find(c, ", sasl_sender=");
			const char *o = find(c, ", orig_");
			if (!e || (o && o < e))
				e = o;
			if (!e)
				e = c->end;
			if (!copy(r->sasl_username, sizeof r->sasl_username, c->p, e))
				return ML_EMALFORMED;
			c->p = e;
		} else {
			c->p = value_end(c); /* sasl_sender=, orig_queue_id=, ... */
		}
	}
	return ML_REC;
}

static int parse_cleanup(cur *c, maillog_rec *r)
{
	if (!eat(c, "message-id="))
		return ML_SKIP;
	r->kind = ML_CLEANUP_MSGID;
	const char *b = c->p, *e = c->end;
	if (e > b && *b == '<' && e[-1] == '>') {
		b++;
		e--;
	}
	copy_cut(r->text, sizeof r->text, b, e);
	return ML_REC;
}

static ml_status status_word(cur *c)
{
	static const struct {
		const char *w;
		ml_status s;
	} words[] = {{"sent", ML_ST_SENT},           {"deferred", ML_ST_DEFERRED},
	             {"bounced", ML_ST_BOUNCED},     {"expired", ML_ST_EXPIRED},
	             {"deliverable", ML_ST_DELIVERABLE}, {"undeliverable", ML_ST_UNDELIVERABLE}};
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		size_t n = strlen(words[i].w);
		if (left(c) >= n && memcmp(c->p, words[i].w, n) == 0 &&
		    (left(c) == n || c->p[n] == ' ' || c->p[n] == ',')) {
			c->p += n;
			return words[i].s;
		}
	}
	return ML_ST_NONE;
}

static int parse_delivery(cur *c, maillog_rec *r)
{
	r->kind = ML_DELIVERY;
	if (!angle_addr(c, r->addr, sizeof r->addr, ", "))
		return ML_EMALFORMED;
	while (eat(c, ", ")) {
		if (eat(c, "orig_to=")) {
			if (!angle_addr(c, r->orig_to, sizeof r->orig_to, ", "))
				return ML_EMALFORMED;
		} else if (eat(c, "relay=")) {
			if (!hostspec(c, r->host, sizeof r->host, NULL))
				return ML_EMALFORMED;
		} else if (eat(c, "dsn=")) {
			const char *e = value_end(c);
			if (!copy(r->dsn, sizeof r->dsn, c->p, e))
				return ML_EMALFORMED;
			c->p = e;
		} else if (eat(c, "status=")) {
			r->status = status_word(c);
			if (r->status == ML_ST_NONE)
				return ML_EMALFORMED;
			if (eat(c, " (")) {
				const char *e = c->end;
				if (e > c->p && e[-1] == ')')
					e--;
				copy_cut(r->text, sizeof r->text, c->p, e);
			}
			r->tls_refusal = r->status != ML_ST_SENT && maillog_is_tls_refusal(r->dsn, r->text);
			return ML_REC;
		} else {
			c->p = value_end(c); /* delay=, delays=, conn_use= */
		}
	}
	return ML_EMALFORMED; /* no status= */
}

static int parse_qmgr(cur *c, maillog_rec *r)
{
	if (eat(c, "removed")) {
		r->kind = ML_QMGR_REMOVED;
		return left(c) == 0 ? ML_REC : ML_SKIP;
	}
	if (eat(c, "to="))
		return parse_delivery(c, r);
	if (!eat(c, "from="))
		return ML_SKIP;
	r->kind = ML_QMGR_FROM;
	if (!angle_addr(c, r->addr, sizeof r->addr, ", "))
		return ML_EMALFORMED;
	while (eat(c, ", ")) {
		if (eat(c, "size=")) {
			if (!number(c, &r->size))
				return ML_EMALFORMED;
		} else if (eat(c, "nrcpt=")) {
			if (!number(c, &r->nrcpt))
				return ML_EMALFORMED;
			return ML_REC; /* " (queue active)" follows */
		} else if (eat(c, "status=expired")) {
			r->kind = ML_QMGR_EXPIRED;
			r->status = ML_ST_EXPIRED;
			return ML_REC;
		} else {
			c->p = value_end(c);
		}
	}
	return ML_EMALFORMED;
}

static int parse_tls(cur *c, maillog_rec *r)
{
	static const struct {
		const char *w;
		ml_trust t;
	} trusts[] = {{"Anonymous ", ML_TRUST_ANONYMOUS},
	              {"Untrusted ", ML_TRUST_UNTRUSTED},
	              {"Trusted ", ML_TRUST_TRUSTED},
	              {"Verified ", ML_TRUST_VERIFIED}};
	if (eat(c, "certificate verification failed for ") ||
	    eat(c, "server certificate verification failed for ")) {
		r->kind = ML_TLS_VERIFY_FAILED;
		if (!hostspec(c, r->host, sizeof r->host, ": ") || !eat(c, ": "))
			return ML_EMALFORMED;
		copy_cut(r->text, sizeof r->text, c->p, c->end);
		return ML_REC;
	}
	cur save = *c;
	for (size_t i = 0; i < sizeof trusts / sizeof trusts[0]; i++)
		if (eat(c, trusts[i].w)) {
			r->trust = trusts[i].t;
			break;
		}
	if (!eat(c, "TLS connection ")) {
		*c = save;
		return ML_SKIP;
	}
	if (!eat(c, "established to ") && !eat(c, "reused to ")) {
		*c = save; /* "established from" is the server side: not ours */
		r->trust = ML_TRUST_UNKNOWN;
		return ML_SKIP;
	}
	r->kind = ML_TLS_ESTABLISHED;
	if (!hostspec(c, r->host, sizeof r->host, ": ") || !eat(c, ": "))
		return ML_EMALFORMED;
	const char *sp = find(c, " with cipher ");
	if (!sp || !copy(r->protocol, sizeof r->protocol, c->p, sp))
		return ML_EMALFORMED;
	c->p = sp + strlen(" with cipher ");
	const char *e = c->p;
	while (e < c->end && *e != ' ')
		e++;
	if (e == c->p || !copy(r->cipher, sizeof r->cipher, c->p, e))
		return ML_EMALFORMED;
	c->p = e;
	return ML_REC;
}

static int parse_bounce(cur *c, maillog_rec *r)
{
	static const struct {
		const char *w;
		ml_notice n;
	} notices[] = {{"sender non-delivery notification: ", ML_NOTICE_NON_DELIVERY},
	               {"sender delay notification: ", ML_NOTICE_DELAY},
	               {"sender delivery status notification: ", ML_NOTICE_SUCCESS},
	               {"postmaster non-delivery notification: ", ML_NOTICE_POSTMASTER}};
	for (size_t i = 0; i < sizeof notices / sizeof notices[0]; i++)
		if (eat(c, notices[i].w)) {
			r->kind = ML_BOUNCE_NOTICE;
			r->notice = notices[i].n;
			if (!copy(r->text, sizeof r->text, c->p, c->end) || r->text[0] == '\0')
				return ML_EMALFORMED;
			return ML_REC;
		}
	return ML_SKIP;
}

static int is_agent(const char *p)
{
	static const char *const agents[] = {"smtp", "lmtp",  "local", "virtual", "pipe",
	                                     "error", "retry", "discard", NULL};
	for (size_t i = 0; agents[i]; i++)
		if (strcmp(p, agents[i]) == 0)
			return 1;
	return 0;
}

static int body(cur *c, maillog_rec *r)
{
	const char *p = r->program;
	int is_smtp = strcmp(p, "smtp") == 0 || strcmp(p, "lmtp") == 0;
	if (is_smtp) {
		int rc = parse_tls(c, r);
		if (rc != ML_SKIP)
			return rc;
	}
	if (!qid(c, r))
		return ML_SKIP;
	if (strcmp(p, "smtpd") == 0)
		return parse_smtpd(c, r);
	if (strcmp(p, "cleanup") == 0)
		return parse_cleanup(c, r);
	if (strcmp(p, "qmgr") == 0 || strcmp(p, "nqmgr") == 0 || strcmp(p, "oqmgr") == 0)
		return parse_qmgr(c, r);
	if (strcmp(p, "bounce") == 0)
		return parse_bounce(c, r);
	if (is_agent(p))
		return eat(c, "to=") ? parse_delivery(c, r) : ML_SKIP;
	return ML_SKIP;
}

int maillog_parse(maillog_rec *out, const char *line, size_t len)
{
	memset(out, 0, sizeof *out);
	out->size = out->nrcpt = -1;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > ML_LINE_MAX)
		return ML_ETOOLONG;
	if (len == 0 || memchr(line, '\0', len) || memchr(line, '\n', len))
		return ML_SKIP;
	cur c = {line, line + len};
	int ok = is_digit(*line) ? iso_time(&c, &out->time) : syslog_time(&c, &out->time);
	if (!ok || !eat(&c, " "))
		return ML_SKIP;
	while (c.p < c.end && *c.p != ' ') /* the host name */
		c.p++;
	if (!eat(&c, " ") || !tag(&c, out)) {
		memset(out, 0, sizeof *out);
		out->size = out->nrcpt = -1;
		return ML_SKIP;
	}
	int rc = body(&c, out);
	if (rc != ML_REC) {
		ml_time t = out->time;
		memset(out, 0, sizeof *out);
		out->size = out->nrcpt = -1;
		out->time = t;
	}
	return rc;
}

const char *maillog_strerror(int code)
{
	switch (code) {
	case ML_REC: return "record";
	case ML_SKIP: return "not a delivery log line";
	case ML_ETOOLONG: return "line longer than 8192 bytes";
	case ML_EMALFORMED: return "malformed Postfix log line";
	default: return "unknown result";
	}
}

/* case-insensitive substring, bounded by the NUL of both */
static int contains(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++) {
		size_t i = 0;
		while (i < n && hay[i]) {
			char a = hay[i], b = needle[i];
			if (a >= 'A' && a <= 'Z')
				a = (char)(a - 'A' + 'a');
			if (b >= 'A' && b <= 'Z')
				b = (char)(b - 'A' + 'a');
			if (a != b)
				break;
			i++;
		}
		if (i == n)
			return 1;
	}
	return 0;
}

int maillog_is_tls_refusal(const char *dsn, const char *text)
{
	static const char *const phrases[] = {
	    "TLS is required, but", "Cannot start TLS", "Server certificate not verified",
	    "Server certificate not trusted", "certificate verification failed",
	    "TLS protocol version", "unsupported protocol", NULL};
	if (contains(text, "TLS required but not supported"))
		return 1;
	if (!((dsn[0] == '4' || dsn[0] == '5') && strncmp(dsn + 1, ".7.", 3) == 0))
		return 0;
	for (size_t i = 0; phrases[i]; i++)
		if (contains(text, phrases[i]))
			return 1;
	return 0;
}

const char *maillog_trust_name(ml_trust t)
{
	switch (t) {
	case ML_TRUST_ANONYMOUS: return "anonymous";
	case ML_TRUST_UNTRUSTED: return "untrusted";
	case ML_TRUST_TRUSTED: return "trusted";
	case ML_TRUST_VERIFIED: return "verified";
	case ML_TRUST_UNKNOWN: break;
	}
	return "unknown";
}

const char *maillog_status_name(ml_status s)
{
	switch (s) {
	case ML_ST_SENT: return "sent";
	case ML_ST_DEFERRED: return "deferred";
	case ML_ST_BOUNCED: return "bounced";
	case ML_ST_EXPIRED: return "expired";
	case ML_ST_DELIVERABLE: return "deliverable";
	case ML_ST_UNDELIVERABLE: return "undeliverable";
	case ML_ST_NONE: break;
	}
	return "none";
}

const char *maillog_kind_name(ml_kind k)
{
	switch (k) {
	case ML_SMTPD_CLIENT: return "smtpd-client";
	case ML_CLEANUP_MSGID: return "cleanup-message-id";
	case ML_QMGR_FROM: return "qmgr-from";
	case ML_QMGR_EXPIRED: return "qmgr-expired";
	case ML_QMGR_REMOVED: return "qmgr-removed";
	case ML_DELIVERY: return "delivery";
	case ML_TLS_ESTABLISHED: return "tls-established";
	case ML_TLS_VERIFY_FAILED: return "tls-verify-failed";
	case ML_BOUNCE_NOTICE: return "bounce-notice";
	case ML_NONE: break;
	}
	return "none";
}

/* days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil) */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int64_t y, int m)
{
	static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

static int64_t civil_unix(int64_t y, const ml_time *t, int off_min)
{
	return days_from_civil(y, t->mon, t->mday) * 86400 + t->hour * 3600 + t->min * 60 + t->sec -
	       (int64_t)off_min * 60;
}

int maillog_time_unix(int64_t *out, const ml_time *t, int64_t now, int local_offset_min)
{
	*out = 0;
	if (t->mon < 1 || t->mon > 12 || t->mday < 1)
		return -1;
	int off = t->has_offset ? t->offset_min : local_offset_min;
	if (t->year) {
		if (t->mday > days_in_month(t->year, t->mon))
			return -1;
		*out = civil_unix(t->year, t, off);
		return 0;
	}
	/* the year of `now` (in the log's zone), or the one before when that
	 * would put the line more than a day ahead (a Feb 29 line takes the
	 * nearest earlier leap year) */
	int64_t local_now = now + (int64_t)off * 60;
	int64_t days = local_now >= 0 ? local_now / 86400 : (local_now - 86399) / 86400;
	int64_t y = 1970 + days / 366; /* never above the year of `days` */
	while (days_from_civil(y + 1, 1, 1) <= days)
		y++;
	while (days_from_civil(y, 1, 1) > days)
		y--;
	for (int tries = 0; tries < 8; tries++, y--) {
		if (t->mday > days_in_month(y, t->mon))
			continue;
		int64_t v = civil_unix(y, t, off);
		if (v <= now + 86400) {
			*out = v;
			return 0;
		}
	}
	return -1;
}

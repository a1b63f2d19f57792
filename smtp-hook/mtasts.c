/*
 * MTA-STS parsers, matcher and answer builder (see mtasts.h).  The
 * grammar is RFC 8461's ABNF (sections 3.1 and 3.2), applied strictly to
 * the fields this code acts on: a policy that cannot be read exactly is
 * no policy.  The only leniencies are the RFC's own (unknown fields
 * ignored, the first of a repeated field kept) and empty lines, which
 * the ABNF does not allow but which cost nothing to skip and would
 * otherwise silently turn an operator's enforce policy into none.
 */
#include <stdio.h>
#include <string.h>

#include "mtasts.h"

static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int is_alnum(int c)
{
	return is_alpha(c) || is_digit(c);
}

static int is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

static int lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".") */
static int valid_ext_name(const char *s, size_t n)
{
	if (n == 0 || n > 32 || !is_alnum((unsigned char)s[0]))
		return 0;
	for (size_t i = 1; i < n; i++) {
		int c = (unsigned char)s[i];
		if (!is_alnum(c) && c != '_' && c != '-' && c != '.')
			return 0;
	}
	return 1;
}

/*
 * RFC 5321 Domain: labels of letters, digits and hyphens, not starting or
 * ending with a hyphen, 1..63 bytes each, 253 in all, no final dot.
 */
static int valid_domain(const char *s, size_t n)
{
	size_t lab = 0;

	if (n == 0 || n > STS_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '.') {
			if (lab == 0 || s[i - 1] == '-')
				return 0;
			lab = 0;
			continue;
		}
		if (!is_alnum(c) && c != '-')
			return 0;
		if (lab == 0 && c == '-')
			return 0;
		if (++lab > 63)
			return 0;
	}
	return lab != 0 && s[n - 1] != '-';
}

/* ---- TXT record (section 3.1) ---- */

/*
 * One record: 1 = a valid STS record (id set), 0 = not an STS record
 * (discarded), -1 = starts as one but is malformed.
 *   sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
 *   sts-field-delim = *WSP ";" *WSP
 */
static int txt_record(char id[STS_ID_MAX + 1], const char *s, size_t n, const char **err)
{
	static const char ver[] = "v=STSv1";
	size_t i = sizeof(ver) - 1, have_id = 0;

	if (n < i || memcmp(s, ver, i) != 0)
		return 0;
	/* "v=STSv10" or "v=STSv1x" is another version: discard it. */
	{
		size_t j = i;
		while (j < n && is_wsp((unsigned char)s[j]))
			j++;
		if (j < n && s[j] != ';')
			return 0;
		if (j == n) {
			*err = "TXT record v=STSv1 has no id field";
			return -1;
		}
	}
	if (n > STS_TXT_MAX) {
		*err = "TXT record longer than 4096 bytes";
		return -1;
	}
	for (;;) {
		size_t start, eq, end;

		/* a delimiter */
		while (i < n && is_wsp((unsigned char)s[i]))
			i++;
		if (i == n)
			break;
		if (s[i] != ';') {
			*err = "TXT record: fields must be separated by ';'";
			return -1;
		}
		i++;
		while (i < n && is_wsp((unsigned char)s[i]))
			i++;
		if (i == n)
			break; /* the optional final delimiter */
		/* a field: name=value, value without ';', '=', space or controls */
		start = i;
		while (i < n && s[i] != '=' && s[i] != ';' && !is_wsp((unsigned char)s[i]))
			i++;
		if (i == n || s[i] != '=') {
			*err = "TXT record: a field is not name=value";
			return -1;
		}
		eq = i++;
		while (i < n && s[i] != ';' && !is_wsp((unsigned char)s[i])) {
			int c = (unsigned char)s[i];
			if (c < 0x21 || c > 0x7e || c == '=') {
				*err = "TXT record: a field value has a character outside %x21-3A / %x3C / %x3E-7E";
				return -1;
			}
			i++;
		}
		end = i;
		if (end == eq + 1) {
			*err = "TXT record: a field has an empty value";
			return -1;
		}
		if (eq - start == 2 && memcmp(s + start, "id", 2) == 0) {
			size_t len = end - eq - 1;
			if (have_id) {
				*err = "TXT record has more than one id field";
				return -1;
			}
			if (len > STS_ID_MAX) {
				*err = "TXT record id is longer than 32 characters";
				return -1;
			}
			for (size_t k = eq + 1; k < end; k++) {
				if (!is_alnum((unsigned char)s[k])) {
					*err = "TXT record id is not letters and digits only";
					return -1;
				}
			}
			memcpy(id, s + eq + 1, len);
			id[len] = '\0';
			have_id = 1;
		} else if (!valid_ext_name(s + start, eq - start)) {
			*err = "TXT record: a field name is not [A-Za-z0-9][A-Za-z0-9_.-]{0,31}";
			return -1;
		}
	}
	if (!have_id) {
		*err = "TXT record v=STSv1 has no id field";
		return -1;
	}
	return 1;
}

sts_txt_result sts_txt_parse(char id_out[STS_ID_MAX + 1], const char *const *recs, const size_t *lens, size_t n,
                             const char **err)
{
	size_t found = 0;
	char id[STS_ID_MAX + 1];
	int bad = 0;

	*err = NULL;
	id_out[0] = '\0';
	for (size_t k = 0; k < n; k++) {
		const char *e = NULL;
		int r = txt_record(id, recs[k], lens[k], &e);
		if (r == 0)
			continue;
		found++;
		if (r < 0) {
			bad = 1;
			*err = e;
		} else if (found == 1) {
			memcpy(id_out, id, sizeof(id));
		}
	}
	if (found == 0)
		return STS_TXT_ABSENT;
	if (found > 1) {
		id_out[0] = '\0';
		*err = "more than one v=STSv1 TXT record";
		return STS_TXT_INVALID;
	}
	if (bad) {
		id_out[0] = '\0';
		return STS_TXT_INVALID;
	}
	return STS_TXT_FOUND;
}

/* ---- policy file (section 3.2) ---- */

enum { F_VERSION = 1, F_MODE = 2, F_MAXAGE = 4 };

static int parse_max_age(uint32_t *out, const char *v, size_t n)
{
	uint64_t x = 0;

	if (n == 0 || n > 10)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit((unsigned char)v[i]))
			return -1;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (x > STS_MAX_AGE_MAX)
		return -1;
	*out = (uint32_t)x;
	return 0;
}

static int policy_line(sts_policy *p, unsigned *seen, const char *s, size_t n, const char **err)
{
	size_t colon, v;

	for (colon = 0; colon < n && s[colon] != ':'; colon++)
		;
	if (colon == n) {
		*err = "policy line is not 'name: value'";
		return -1;
	}
	if (!valid_ext_name(s, colon)) {
		*err = "policy field name is not [A-Za-z0-9][A-Za-z0-9_.-]{0,31}";
		return -1;
	}
	v = colon + 1;
	while (v < n && is_wsp((unsigned char)s[v]))
		v++;
	/* the field may be followed by *WSP */
	while (n > v && is_wsp((unsigned char)s[n - 1]))
		n--;
	for (size_t i = v; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f) {
			*err = "policy value has a control character";
			return -1;
		}
	}
	if (v == n) {
		*err = "policy field has an empty value";
		return -1;
	}
	const char *val = s + v;
	size_t vl = n - v;

#define FIELD(lit) (colon == sizeof(lit) - 1 && memcmp(s, lit, colon) == 0)
	if (FIELD("version")) {
		if (*seen & F_VERSION)
			return 0;
		if (vl != 5 || memcmp(val, "STSv1", 5) != 0) {
			*err = "policy version is not STSv1";
			return -1;
		}
		*seen |= F_VERSION;
	} else if (FIELD("mode")) {
		if (*seen & F_MODE)
			return 0;
		if (vl == 7 && memcmp(val, "enforce", 7) == 0)
			p->mode = STS_MODE_ENFORCE;
		else if (vl == 7 && memcmp(val, "testing", 7) == 0)
			p->mode = STS_MODE_TESTING;
		else if (vl == 4 && memcmp(val, "none", 4) == 0)
			p->mode = STS_MODE_NONE;
		else {
			*err = "policy mode is not enforce, testing or none";
			return -1;
		}
		*seen |= F_MODE;
	} else if (FIELD("max_age")) {
		if (*seen & F_MAXAGE)
			return 0;
		if (parse_max_age(&p->max_age, val, vl) != 0) {
			*err = "policy max_age is not a number of seconds 0..31557600";
			return -1;
		}
		*seen |= F_MAXAGE;
	} else if (FIELD("mx")) {
		const char *d = val;
		size_t dl = vl;
		if (dl >= 2 && d[0] == '*' && d[1] == '.') {
			d += 2;
			dl -= 2;
		}
		if (!valid_domain(d, dl)) {
			*err = "policy mx is not a host name or *.domain";
			return -1;
		}
		if (p->n_mx == STS_MX_MAX) {
			*err = "policy has more than 64 mx fields";
			return -1;
		}
		for (size_t i = 0; i < vl; i++)
			p->mx[p->n_mx][i] = (char)lower((unsigned char)val[i]);
		p->mx[p->n_mx][vl] = '\0';
		p->n_mx++;
	}
#undef FIELD
	/* any other valid field name: an extension, ignored */
	return 0;
}

int sts_policy_parse(sts_policy *out, const char *buf, size_t len, const char **err)
{
	unsigned seen = 0;
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	*err = NULL;
	if (len > STS_POLICY_MAX) {
		*err = "policy longer than 64 KiB";
		return -1;
	}
	while (i < len) {
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - buf) : len, n = end - i;

		if (n > 0 && buf[i + n - 1] == '\r')
			n--;
		if (n > STS_LINE_MAX) {
			*err = "policy line longer than 1024 bytes";
			goto bad;
		}
		if (memchr(buf + i, '\r', n) != NULL || memchr(buf + i, '\0', n) != NULL) {
			*err = "policy has a CR not followed by LF, or a NUL byte";
			goto bad;
		}
		if (n > 0 && policy_line(out, &seen, buf + i, n, err) != 0)
			goto bad;
		i = end + 1;
	}
	if (!(seen & F_VERSION)) {
		*err = "policy has no version field";
		goto bad;
	}
	if (!(seen & F_MODE)) {
		*err = "policy has no mode field";
		goto bad;
	}
	if (!(seen & F_MAXAGE)) {
		*err = "policy has no max_age field";
		goto bad;
	}
	if (out->mode != STS_MODE_NONE && out->n_mx == 0) {
		*err = "policy in mode enforce or testing has no mx field";
		goto bad;
	}
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return -1;
}

/* ---- matching (section 4.1) ---- */

static int name_eq(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return 0;
	for (size_t i = 0; i < an; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return 0;
	return 1;
}

int sts_mx_match(const char *pattern, const char *host)
{
	size_t pl = strlen(pattern), hl = strlen(host);

	if (hl > 0 && host[hl - 1] == '.')
		hl--;
	if (pl == 0 || hl == 0)
		return 0;
	if (pl >= 2 && pattern[0] == '*' && pattern[1] == '.') {
		const char *dot = memchr(host, '.', hl);
		size_t first;
		if (dot == NULL)
			return 0;
		first = (size_t)(dot - host);
		if (first == 0)
			return 0;
		/* exactly one label in front: the rest must equal the suffix */
		return name_eq(dot + 1, hl - first - 1, pattern + 2, pl - 2);
	}
	return name_eq(pattern, pl, host, hl);
}

/* ---- lookup keys and map names ---- */

sts_key_kind sts_key_parse(char domain_out[STS_NAME_MAX + 1], const char *key)
{
	size_t n = strlen(key);

	domain_out[0] = '\0';
	if (n == 0)
		return STS_KEY_INVALID;
	if (key[0] == '.')
		return STS_KEY_PARENT;
	if (key[0] == '[' || memchr(key, ':', n) != NULL)
		return STS_KEY_LITERAL;
	if (key[n - 1] == '.')
		n--;
	if (!valid_domain(key, n))
		return STS_KEY_INVALID;
	for (size_t i = 0; i < n; i++)
		domain_out[i] = (char)lower((unsigned char)key[i]);
	domain_out[n] = '\0';
	return STS_KEY_DOMAIN;
}

int sts_map_parse(sts_account_req *out, const char *name)
{
	static const struct {
		const char *name;
		sts_tls_req tls;
		int tls13, dane_here;
	} maps[] = {
		{"tls-policy", STS_REQ_NONE, 0, 0},
		{"tls-policy-none", STS_REQ_NONE, 0, 1},
		{"tls-policy-encrypt", STS_REQ_ENCRYPT, 0, 0},
		{"tls-policy-encrypt13", STS_REQ_ENCRYPT, 1, 0},
		{"tls-policy-verify", STS_REQ_VERIFY, 0, 0},
		{"tls-policy-verify13", STS_REQ_VERIFY, 1, 0},
	};

	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		if (strcmp(name, maps[i].name) == 0) {
			out->tls = maps[i].tls;
			out->tls13 = maps[i].tls13;
			out->dane_here = maps[i].dane_here;
			return 0;
		}
	}
	return -1;
}

int sts_req_needs_tlsa(const sts_account_req *acct)
{
	return acct->tls != STS_REQ_NONE || acct->dane_here;
}

/* ---- the answer ---- */

typedef struct abuf {
	char *p;
	size_t len, cap;
	int over;
} abuf;

static void put(abuf *b, const char *s)
{
	size_t n = strlen(s);
	if (b->over || n >= b->cap - b->len) {
		b->over = 1;
		return;
	}
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
}

static void put_protocols(abuf *b, const sts_account_req *acct)
{
	if (acct->tls == STS_REQ_NONE)
		return;
	put(b, acct->tls13 ? " protocols=>=TLSv1.3" : " protocols=>=TLSv1.2");
}

sts_answer_result sts_answer(char *out, size_t outlen, const sts_account_req *acct, int dane, const sts_policy *pol,
                             const char *const *mx, size_t n_mx)
{
	abuf b = {out, 0, outlen, 0};
	size_t listed = 0;

	if (outlen == 0)
		return STS_ANSWER_TOOLONG;
	out[0] = '\0';
	if (dane) {
		put(&b, acct->tls == STS_REQ_NONE ? "dane" : "dane-only");
		put_protocols(&b, acct);
	} else if (pol != NULL && pol->mode != STS_MODE_NONE) {
		put(&b, "secure match=");
		for (size_t i = 0; i < n_mx; i++) {
			char host[STS_NAME_MAX + 1];
			size_t hl = strlen(mx[i]), j, dup = 0;
			if (hl > 0 && mx[i][hl - 1] == '.')
				hl--;
			if (hl == 0 || hl > STS_NAME_MAX || !valid_domain(mx[i], hl))
				continue;
			for (j = 0; j < hl; j++)
				host[j] = (char)lower((unsigned char)mx[i][j]);
			host[hl] = '\0';
			for (j = 0; j < pol->n_mx && !sts_mx_match(pol->mx[j], host); j++)
				;
			if (j == pol->n_mx)
				continue;
			for (j = 0; j < i && !dup; j++) {
				size_t ol = strlen(mx[j]);
				if (ol > 0 && mx[j][ol - 1] == '.')
					ol--;
				dup = (size_t)name_eq(mx[j], ol, host, hl);
			}
			if (dup)
				continue;
			if (listed++)
				put(&b, ":");
			put(&b, host);
		}
		if (listed == 0) {
			out[0] = '\0';
			return STS_ANSWER_NOMATCH;
		}
		put(&b, " servername=hostname");
		put_protocols(&b, acct);
	} else if (acct->tls != STS_REQ_NONE) {
		put(&b, acct->tls == STS_REQ_VERIFY ? "verify" : "encrypt");
		put_protocols(&b, acct);
	} else {
		return STS_ANSWER_NOTFOUND;
	}
	if (b.over) {
		out[0] = '\0';
		return STS_ANSWER_TOOLONG;
	}
	return STS_ANSWER_OK;
}

const char *sts_mode_name(sts_mode m)
{
	switch (m) {
	case STS_MODE_ENFORCE:
		return "enforce";
	case STS_MODE_TESTING:
		return "testing";
	case STS_MODE_NONE:
		break;
	}
	return "none";
}

/* ---- cache decisions ---- */

int sts_cached_fresh(const sts_cached *c, int64_t now)
{
	return c->kind == STS_CACHED_POLICY && now < c->expires;
}

sts_action sts_decide_txt(const sts_cached *c, int64_t now, sts_dns txt, const char *txt_id)
{
	int fresh = sts_cached_fresh(c, now);

	if (c->kind != STS_CACHED_POLICY)
		return txt == STS_DNS_FOUND ? STS_FETCH : STS_NO_POLICY;
	switch (txt) {
	case STS_DNS_FOUND:
		return (fresh && txt_id != NULL && strcmp(txt_id, c->id) == 0) ? STS_USE_CACHED : STS_FETCH;
	case STS_DNS_ABSENT:
	case STS_DNS_INVALID:
		return fresh ? STS_USE_CACHED : STS_NO_POLICY;
	case STS_DNS_TEMPFAIL:
		break;
	}
	return fresh ? STS_USE_CACHED : STS_DEFER;
}

sts_action sts_decide_fetch_failed(const sts_cached *c, int64_t now)
{
	if (c->kind != STS_CACHED_POLICY)
		return STS_NO_POLICY;
	return sts_cached_fresh(c, now) ? STS_USE_CACHED : STS_DEFER;
}

/* ---- the HTTPS response ---- */

static int ci_prefix(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	if (n < l)
		return 0;
	for (size_t i = 0; i < l; i++)
		if (lower((unsigned char)s[i]) != lit[i])
			return 0;
	return 1;
}

sts_http_result sts_http_response(const char *buf, size_t len, int eof, size_t *body_off, size_t *body_len,
                                  const char **err)
{
	size_t i = 0, head_end = 0, clen = 0;
	int have_len = 0, have_type = 0, status;

	*err = NULL;
	*body_off = *body_len = 0;
	/* the end of the header block: an empty line (CRLF or LF) */
	for (size_t k = 0; k < len && k < STS_HTTP_HEAD_MAX; k++) {
		if (buf[k] != '\n')
			continue;
		if (k + 1 < len && buf[k + 1] == '\n') {
			head_end = k + 2;
			break;
		}
		if (k + 2 < len && buf[k + 1] == '\r' && buf[k + 2] == '\n') {
			head_end = k + 3;
			break;
		}
	}
	if (head_end == 0) {
		if (len >= STS_HTTP_HEAD_MAX) {
			*err = "HTTP response header longer than 16 KiB";
			return STS_HTTP_ERROR;
		}
		if (eof) {
			*err = "connection closed before the end of the HTTP response header";
			return STS_HTTP_ERROR;
		}
		return STS_HTTP_NEED_MORE;
	}
	/* status line: HTTP/1.x SP 3DIGIT */
	if (head_end < 13 || memcmp(buf, "HTTP/1.", 7) != 0 || (buf[7] != '0' && buf[7] != '1') || buf[8] != ' ' ||
	    !is_digit((unsigned char)buf[9]) || !is_digit((unsigned char)buf[10]) ||
	    !is_digit((unsigned char)buf[11]) || (buf[12] != ' ' && buf[12] != '\r' && buf[12] != '\n')) {
		*err = "not an HTTP/1.0 or HTTP/1.1 response";
		return STS_HTTP_ERROR;
	}
	status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if (status >= 300 && status < 400) {
		*err = "HTTP redirect refused (RFC 8461: redirects are not followed)";
		return STS_HTTP_ERROR;
	}
	if (status != 200) {
		*err = "HTTP status is not 200";
		return STS_HTTP_ERROR;
	}
	/* header fields */
	i = (size_t)((const char *)memchr(buf, '\n', head_end) - buf) + 1;
	while (i < head_end) {
		const char *nl = memchr(buf + i, '\n', head_end - i);
		size_t n = (size_t)(nl - (buf + i)), v;
		const char *h = buf + i;

		if (n > 0 && h[n - 1] == '\r')
			n--;
		i += (size_t)(nl - h) + 1;
		if (n == 0)
			break;
		if (ci_prefix(h, n, "content-type:")) {
			v = 13;
			while (v < n && is_wsp((unsigned char)h[v]))
				v++;
			if (!ci_prefix(h + v, n - v, "text/plain") ||
			    (n - v > 10 && h[v + 10] != ';' && !is_wsp((unsigned char)h[v + 10]))) {
				*err = "HTTP Content-Type is not text/plain";
				return STS_HTTP_ERROR;
			}
			have_type = 1;
		} else if (ci_prefix(h, n, "transfer-encoding:")) {
			*err = "HTTP Transfer-Encoding refused (the request is HTTP/1.0)";
			return STS_HTTP_ERROR;
		} else if (ci_prefix(h, n, "content-length:")) {
			size_t digits = 0;
			v = 15;
			while (v < n && is_wsp((unsigned char)h[v]))
				v++;
			clen = 0;
			for (; v < n && is_digit((unsigned char)h[v]); v++, digits++) {
				if (clen > STS_POLICY_MAX) {
					break;
				}
				clen = clen * 10 + (size_t)(h[v] - '0');
			}
			while (v < n && is_wsp((unsigned char)h[v]))
				v++;
			if (clen > STS_POLICY_MAX) {
				*err = "HTTP body larger than 64 KiB";
				return STS_HTTP_ERROR;
			}
			if (digits == 0 || v != n) {
				*err = "HTTP Content-Length is not a number";
				return STS_HTTP_ERROR;
			}
			have_len = 1;
		}
	}
	if (!have_type) {
		*err = "HTTP response has no Content-Type (text/plain is required)";
		return STS_HTTP_ERROR;
	}
	if (len - head_end > STS_POLICY_MAX) {
		*err = "HTTP body larger than 64 KiB";
		return STS_HTTP_ERROR;
	}
	if (have_len) {
		if (len - head_end > clen) {
			*err = "HTTP body longer than its Content-Length";
			return STS_HTTP_ERROR;
		}
		if (len - head_end < clen) {
			if (eof) {
				*err = "connection closed before the end of the HTTP body";
				return STS_HTTP_ERROR;
			}
			return STS_HTTP_NEED_MORE;
		}
	} else if (!eof) {
		return STS_HTTP_NEED_MORE;
	}
	*body_off = head_end;
	*body_len = len - head_end;
	return STS_HTTP_DONE;
}

/*
 * The Dovecot authentication protocol parser (see proto_dovecot.h).
 *
 * A request is one line of TAB-separated fields.  Values may carry
 * Dovecot's escapes (\001 followed by 1, t, r or n for \001, TAB, CR,
 * LF), which are undone here.  Unknown commands parse as DV_OTHER and
 * unknown AUTH parameters are skipped, as Dovecot itself does, so a
 * newer Postfix adding one does not break logins; but every field we
 * use is checked against its limit and its syntax.
 */
#include <string.h>

#include "proto_dovecot.h"

/* Strict decimal: digits only, no sign, no leading zeros, <= max. */
static int parse_ulong(const char *s, size_t n, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (n == 0 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (max - (unsigned long)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Copy field [s, s+n) unescaped into out[cap]; -1 if it does not fit or
 * has a bad escape or a NUL. */
static int copy_field(char *out, size_t cap, const char *s, size_t n, size_t *outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '\0')
			return -1;
		if (ch == '\001') {
			if (++i >= n)
				return -1;
			switch (s[i]) {
			case '1': ch = '\001'; break;
			case 't': ch = '\t'; break;
			case 'r': ch = '\r'; break;
			case 'n': ch = '\n'; break;
			default: return -1;
			}
		}
		if (o + 1 >= cap)
			return -1;
		out[o++] = ch;
	}
	out[o] = '\0';
	if (outlen)
		*outlen = o;
	return 0;
}

#define FIELDS_MAX 64

proto_status dv_parse(dv_request *out, const char *buf, size_t len, size_t *consumed, const char **err)
{
	const char *nl = memchr(buf, '\n', len < DV_LINE_MAX ? len : DV_LINE_MAX);
	const char *f[FIELDS_MAX];
	size_t fl[FIELDS_MAX], n = 0, linelen, p, start;
	unsigned long num;

	memset(out, 0, offsetof(dv_request, data));
	out->data[0] = '\0';
	out->data_len = 0;
	*err = NULL;
	if (nl == NULL) {
		if (len < DV_LINE_MAX)
			return PROTO_NEED_MORE;
		*consumed = len;
		*err = "request line too long";
		return PROTO_ERROR;
	}
	*consumed = (size_t)(nl - buf) + 1;
	linelen = (size_t)(nl - buf);
	if (linelen > 0 && buf[linelen - 1] == '\r')
		linelen--;
	for (p = start = 0; p <= linelen; p++) {
		if (p == linelen || buf[p] == '\t') {
			if (n == FIELDS_MAX) {
				*err = "too many fields";
				return PROTO_ERROR;
			}
			f[n] = buf + start;
			fl[n++] = p - start;
			start = p + 1;
		}
	}
#define IS(i, lit) (fl[i] == sizeof(lit) - 1 && memcmp(f[i], lit, sizeof(lit) - 1) == 0)
	if (IS(0, "VERSION")) {
		out->cmd = DV_VERSION;
		if (n < 3 || parse_ulong(f[1], fl[1], 1000, &out->major) != 0 ||
		    parse_ulong(f[2], fl[2], 1000, &out->minor) != 0) {
			*err = "VERSION needs a major and a minor number";
			return PROTO_ERROR;
		}
		return PROTO_REQUEST;
	}
	if (IS(0, "CPID")) {
		out->cmd = DV_CPID;
		if (n < 2 || parse_ulong(f[1], fl[1], 0xffffffffUL, &out->pid) != 0) {
			*err = "CPID needs a process id";
			return PROTO_ERROR;
		}
		return PROTO_REQUEST;
	}
	if (IS(0, "CONT")) {
		out->cmd = DV_CONT;
		if (n != 3 || parse_ulong(f[1], fl[1], 0xffffffffUL, &out->id) != 0) {
			*err = "CONT needs an id and one data field";
			return PROTO_ERROR;
		}
		if (copy_field(out->data, sizeof(out->data), f[2], fl[2], &out->data_len) != 0) {
			*err = "CONT data too long or badly escaped";
			return PROTO_ERROR;
		}
		return PROTO_REQUEST;
	}
	if (!IS(0, "AUTH")) {
		out->cmd = DV_OTHER;
		return PROTO_REQUEST;
	}
	out->cmd = DV_AUTH;
	if (n < 3 || parse_ulong(f[1], fl[1], 0xffffffffUL, &num) != 0) {
		*err = "AUTH needs an id and a mechanism";
		return PROTO_ERROR;
	}
	out->id = num;
	if (fl[2] == 0 || copy_field(out->mech, sizeof(out->mech), f[2], fl[2], NULL) != 0) {
		*err = "AUTH mechanism name missing or too long";
		return PROTO_ERROR;
	}
	for (size_t i = 3; i < n; i++) {
		const char *eq = memchr(f[i], '=', fl[i]);
		size_t kl = eq ? (size_t)(eq - f[i]) : fl[i];
		const char *v = eq ? eq + 1 : f[i] + fl[i];
		size_t vl = fl[i] - kl - (eq ? 1 : 0);
		int bad = 0;

#define KEY(lit) (kl == sizeof(lit) - 1 && memcmp(f[i], lit, sizeof(lit) - 1) == 0)
		if (KEY("service"))
			bad = copy_field(out->service, sizeof(out->service), v, vl, NULL);
		else if (KEY("lip"))
			bad = copy_field(out->lip, sizeof(out->lip), v, vl, NULL);
		else if (KEY("rip"))
			bad = copy_field(out->rip, sizeof(out->rip), v, vl, NULL);
		else if (KEY("secured"))
			out->secured = 1;
		else if (KEY("resp")) {
			out->has_resp = 1;
			bad = copy_field(out->data, sizeof(out->data), v, vl, &out->data_len);
		}
		if (bad) {
			*err = "AUTH parameter too long or badly escaped";
			return PROTO_ERROR;
		}
#undef KEY
	}
#undef IS
	return PROTO_REQUEST;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long dv_b64_decode(unsigned char *out, size_t outlen, const char *in, size_t inlen)
{
	size_t o = 0;

	if (inlen % 4 != 0)
		return -1;
	for (size_t i = 0; i < inlen; i += 4) {
		int v[4], pad = 0;
		unsigned long w;

		for (int j = 0; j < 4; j++) {
			unsigned char c = (unsigned char)in[i + (size_t)j];

			if (c == '=' && i + 4 == inlen && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			if (pad || (v[j] = b64_value(c)) < 0)
				return -1; /* data after padding, or not base64 */
		}
		w = ((unsigned long)v[0] << 18) | ((unsigned long)v[1] << 12) | ((unsigned long)v[2] << 6) |
		    (unsigned long)v[3];
		/* Non-canonical encodings (stray bits under the padding) are refused. */
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			return -1;
		for (int j = 0; j < 3 - pad; j++) {
			if (o >= outlen)
				return -1;
			out[o++] = (unsigned char)(w >> (16 - 8 * j));
		}
	}
	return (long)o;
}

long dv_b64_encode(char *out, size_t outlen, const unsigned char *in, size_t inlen)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	if (outlen == 0 || (inlen + 2) / 3 * 4 >= outlen)
		return -1;
	for (size_t i = 0; i < inlen; i += 3) {
		unsigned long w = (unsigned long)in[i] << 16;
		size_t rest = inlen - i;

		if (rest > 1)
			w |= (unsigned long)in[i + 1] << 8;
		if (rest > 2)
			w |= in[i + 2];
		out[o++] = tab[(w >> 18) & 63];
		out[o++] = tab[(w >> 12) & 63];
		out[o++] = rest > 1 ? tab[(w >> 6) & 63] : '=';
		out[o++] = rest > 2 ? tab[w & 63] : '=';
	}
	out[o] = '\0';
	return (long)o;
}

int dv_login_field(char out[DV_CRED_MAX + 1], const unsigned char *msg, size_t len)
{
	if (len == 0 || len > DV_CRED_MAX || memchr(msg, '\0', len) != NULL)
		return -1;
	memcpy(out, msg, len);
	out[len] = '\0';
	return 0;
}

int dv_plain(char user[DV_CRED_MAX + 1], char pass[DV_CRED_MAX + 1], const unsigned char *msg, size_t len)
{
	const unsigned char *a = memchr(msg, '\0', len), *b;
	size_t zl, ul, pl;

	if (a == NULL || (b = memchr(a + 1, '\0', len - (size_t)(a + 1 - msg))) == NULL)
		return -1;
	zl = (size_t)(a - msg);
	ul = (size_t)(b - (a + 1));
	pl = len - (size_t)(b + 1 - msg);
	if (ul == 0 || ul > DV_CRED_MAX || pl == 0 || pl > DV_CRED_MAX || memchr(b + 1, '\0', pl) != NULL)
		return -1;
	/* No proxy authorization: an authzid must name the same identity. */
	if (zl != 0 && (zl != ul || memcmp(msg, a + 1, ul) != 0))
		return -1;
	memcpy(user, a + 1, ul);
	user[ul] = '\0';
	memcpy(pass, b + 1, pl);
	pass[pl] = '\0';
	return 0;
}

/*
 * The policy delegation parser (see proto_policy.h).  Lines end in LF
 * (a CR before it is dropped).  Names are [a-z0-9_]; values may be
 * anything but NUL and LF.  The attributes we keep are copied into
 * fixed buffers; a value that does not fit is an error rather than a
 * silent truncation, since a truncated username could name another
 * account.
 */
#include <string.h>

#include "proto_policy.h"

struct kept {
	const char *name;
	size_t offset, size;
};

#define K(f) {#f, offsetof(pol_request, f), sizeof(((pol_request *)0)->f)}
static const struct kept kept[] = {
	K(request),  K(protocol_state), K(sasl_method),         K(sasl_username),
	K(client_address), K(instance), K(encryption_protocol), K(recipient),
};
#define NKEPT (sizeof(kept) / sizeof(kept[0]))

proto_status pol_parse(pol_request *out, const char *buf, size_t len, size_t *consumed, const char **err)
{
	unsigned char seen[NKEPT] = {0};
	size_t p = 0;

	memset(out, 0, sizeof(*out));
	*err = NULL;
	*consumed = 0;
	for (;;) {
		size_t avail = len - p, ll, nl_at, nlen;
		const char *line = buf + p, *nl, *eq;
		size_t i;

		if (p >= POL_REQUEST_MAX) {
			*err = "request too long";
			*consumed = len;
			return PROTO_ERROR;
		}
		nl = memchr(line, '\n', avail < POL_LINE_MAX ? avail : POL_LINE_MAX);
		if (nl == NULL) {
			if (avail < POL_LINE_MAX && len < POL_REQUEST_MAX)
				return PROTO_NEED_MORE;
			*err = avail >= POL_LINE_MAX ? "attribute line too long" : "request too long";
			*consumed = len;
			return PROTO_ERROR;
		}
		nl_at = (size_t)(nl - line);
		ll = nl_at;
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		p += nl_at + 1;
		if (ll == 0) {
			*consumed = p;
			if (out->nattrs == 0) {
				*err = "empty request";
				return PROTO_ERROR;
			}
			return PROTO_REQUEST;
		}
		if (memchr(line, '\0', ll) != NULL) {
			*err = "NUL byte in an attribute";
			*consumed = p;
			return PROTO_ERROR;
		}
		eq = memchr(line, '=', ll);
		nlen = eq ? (size_t)(eq - line) : 0;
		if (eq == NULL || nlen == 0) {
			*err = "attribute line is not name=value";
			*consumed = p;
			return PROTO_ERROR;
		}
		for (i = 0; i < nlen; i++) {
			char c = line[i];
			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
				*err = "attribute name is not [a-z0-9_]";
				*consumed = p;
				return PROTO_ERROR;
			}
		}
		if (++out->nattrs > POL_ATTRS_MAX) {
			*err = "too many attributes";
			*consumed = p;
			return PROTO_ERROR;
		}
		for (i = 0; i < NKEPT; i++) {
			size_t vl = ll - nlen - 1;
			char *dst;

			if (strlen(kept[i].name) != nlen || memcmp(kept[i].name, line, nlen) != 0)
				continue;
			if (seen[i]++) {
				*err = "attribute repeated";
				*consumed = p;
				return PROTO_ERROR;
			}
			if (vl >= kept[i].size) {
				*err = "attribute value too long";
				*consumed = p;
				return PROTO_ERROR;
			}
			dst = (char *)out + kept[i].offset;
			memcpy(dst, eq + 1, vl);
			dst[vl] = '\0';
			break;
		}
	}
}

/*
 * The socketmap parser (see proto_socketmap.h), after Postfix's
 * netstring.c: the length is at most 5 decimal digits without a leading
 * zero, bounded by SM_REQUEST_MAX, and the payload must be followed by
 * ','.  The payload is `NAME KEY`: NAME is [A-Za-z0-9_.-], KEY is one
 * or more bytes other than NUL (Postfix never looks up an empty key).
 */
#include <stdio.h>
#include <string.h>

#include "proto_socketmap.h"

proto_status sm_parse(sm_request *out, const char *buf, size_t len, size_t *consumed, const char **err)
{
	size_t n = 0, i, nl;
	const char *payload, *sp;

	out->name[0] = '\0';
	out->key[0] = '\0';
	out->key_len = 0;
	*err = NULL;
	*consumed = 0;
	for (i = 0; i < len && buf[i] != ':'; i++) {
		if (buf[i] < '0' || buf[i] > '9' || i >= 5 || (i == 1 && buf[0] == '0')) {
			*err = "netstring length is not a number of at most 5 digits";
			*consumed = len;
			return PROTO_ERROR;
		}
		n = n * 10 + (size_t)(buf[i] - '0');
	}
	if (i == len)
		return PROTO_NEED_MORE;
	if (i == 0) {
		*err = "netstring without a length";
		*consumed = len;
		return PROTO_ERROR;
	}
	if (n > SM_REQUEST_MAX) {
		*err = "request too long";
		*consumed = len;
		return PROTO_ERROR;
	}
	if (len - i - 1 < n + 1)
		return PROTO_NEED_MORE;
	payload = buf + i + 1;
	if (payload[n] != ',') {
		*err = "netstring not terminated by ','";
		*consumed = len;
		return PROTO_ERROR;
	}
	*consumed = i + 1 + n + 1;
	sp = memchr(payload, ' ', n);
	nl = sp ? (size_t)(sp - payload) : 0;
	if (sp == NULL || nl == 0 || nl > SM_NAME_MAX) {
		*err = "request is not 'NAME KEY'";
		return PROTO_ERROR;
	}
	for (i = 0; i < nl; i++) {
		char c = payload[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '-' || c == '.')) {
			*err = "map name is not [A-Za-z0-9_.-]";
			return PROTO_ERROR;
		}
	}
	out->key_len = n - nl - 1;
	if (out->key_len == 0 || memchr(sp + 1, '\0', out->key_len) != NULL) {
		*err = "empty key or NUL byte in the key";
		return PROTO_ERROR;
	}
	memcpy(out->name, payload, nl);
	out->name[nl] = '\0';
	memcpy(out->key, sp + 1, out->key_len);
	out->key[out->key_len] = '\0';
	return PROTO_REQUEST;
}

long sm_reply(char *out, size_t outlen, const char *status, const char *data)
{
	size_t sl = strlen(status), dl = data ? strlen(data) : 0, n;
	int w;

	if (strcmp(status, "OK") != 0 && strcmp(status, "NOTFOUND") != 0 && strcmp(status, "TEMP") != 0 &&
	    strcmp(status, "PERM") != 0)
		return -1;
	if (data && strpbrk(data, "\r\n") != NULL)
		return -1;
	n = sl + 1 + dl; /* "NOTFOUND " keeps its space even without data */
	if (n > SM_REQUEST_MAX)
		return -1;
	w = snprintf(out, outlen, "%zu:%s %s,", n, status, data ? data : "");
	if (w < 0 || (size_t)w >= outlen)
		return -1;
	return w;
}

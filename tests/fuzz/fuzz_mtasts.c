/* Fuzz target: the MTA-STS TXT record and policy file parsers, the MX
 * pattern matcher and the answer builder (smtp-hook/mtasts.c).  The input
 * is parsed whole as a policy file, as an HTTP response (at every
 * length, open and closed) and, split at LF, as a set of TXT records;
 * the invariants the daemon relies on are checked. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "mtasts.h"

#define RECS_MAX 16

static void check_txt(const char *buf, size_t size)
{
	const char *recs[RECS_MAX], *err;
	size_t lens[RECS_MAX], n = 0, off = 0;
	char id[STS_ID_MAX + 1];

	while (off <= size && n < RECS_MAX) {
		const char *nl = memchr(buf + off, '\n', size - off);
		size_t end = nl ? (size_t)(nl - buf) : size;
		recs[n] = buf + off;
		lens[n++] = end - off;
		off = end + 1;
	}
	switch (sts_txt_parse(id, recs, lens, n, &err)) {
	case STS_TXT_FOUND:
		if (id[0] == '\0' || strlen(id) > STS_ID_MAX)
			__builtin_trap();
		break;
	case STS_TXT_INVALID:
		if (err == NULL || id[0] != '\0')
			__builtin_trap();
		break;
	case STS_TXT_ABSENT:
		if (id[0] != '\0')
			__builtin_trap();
		break;
	}
}

static void check_policy(const char *buf, size_t size)
{
	static sts_policy p;
	static char hosts[STS_MX_MAX][STS_NAME_MAX + 8];
	const char *mx[STS_MX_MAX], *err;
	char out[STS_ANSWER_MAX];
	const sts_account_req acct = {STS_REQ_ENCRYPT, 1, 0};

	if (sts_policy_parse(&p, buf, size, &err) != 0) {
		if (err == NULL || p.n_mx != 0)
			__builtin_trap();
		return;
	}
	if (p.max_age > STS_MAX_AGE_MAX || p.n_mx > STS_MX_MAX || (p.mode != STS_MODE_NONE && p.n_mx == 0))
		__builtin_trap();
	for (size_t i = 0; i < p.n_mx; i++) {
		const char *pat = p.mx[i];
		int wild = pat[0] == '*';
		size_t len = strlen(pat);
		/* a host one label under a wildcard matches; two labels never */
		memcpy(hosts[i], wild ? "h" : "", wild ? 1 : 0);
		memcpy(hosts[i] + (wild ? 1 : 0), wild ? pat + 1 : pat, (wild ? len - 1 : len) + 1);
		if (!sts_mx_match(pat, hosts[i]))
			__builtin_trap();
		if (wild) {
			char deep[STS_NAME_MAX + 16] = "a.";
			memcpy(deep + 2, hosts[i], strlen(hosts[i]) + 1);
			if (sts_mx_match(pat, deep) || sts_mx_match(pat, pat + 2))
				__builtin_trap();
		}
		mx[i] = hosts[i];
	}
	switch (sts_answer(out, sizeof(out), &acct, 0, &p, mx, p.n_mx)) {
	case STS_ANSWER_OK:
		/* never Postfix's any-depth ".domain" form */
		if (strstr(out, "=.") != NULL || strstr(out, ":.") != NULL)
			__builtin_trap();
		if (p.mode != STS_MODE_NONE && strncmp(out, "secure match=", 13) != 0)
			__builtin_trap();
		break;
	case STS_ANSWER_NOMATCH:
		__builtin_trap(); /* every host was built to match */
	case STS_ANSWER_NOTFOUND:
	case STS_ANSWER_TOOLONG:
		break;
	}
}

static void check_http(const char *buf, size_t size)
{
	size_t off, len;
	const char *err;

	for (int eof = 0; eof < 2; eof++) {
		switch (sts_http_response(buf, size, eof, &off, &len, &err)) {
		case STS_HTTP_DONE:
			if (off > size || len != size - off || len > STS_POLICY_MAX)
				__builtin_trap();
			break;
		case STS_HTTP_ERROR:
			if (err == NULL)
				__builtin_trap();
			break;
		case STS_HTTP_NEED_MORE:
			if (eof)
				__builtin_trap(); /* a closed connection is always decided */
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;

	check_http(buf, size);
	check_txt(buf, size);
	check_policy(buf, size);
	return 0;
}

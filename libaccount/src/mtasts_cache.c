/*
 * The MTA-STS policy cache (account.h "MTA-STS policy cache",
 * db/0004_mtasts.sql): the checks of what the daemon hands in, the
 * rules that keep an unexpired policy from being cancelled, and copies
 * for the caller.  The SQL is in store_sqlite.c.
 */
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

static int check_domain(acct_db *db, const char *d)
{
	size_t n, lab = 0;

	if (d == NULL || (n = strlen(d)) == 0 || n > ACCT_STS_DOMAIN_MAX)
		return acct__err(db, ACCT_EINVAL, "an MTA-STS domain is a host name of 1 to 253 bytes");
	for (size_t i = 0; i < n; i++) {
		char c = d[i];
		if (c == '.') {
			if (lab == 0 || d[i - 1] == '-')
				goto bad;
			lab = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && lab > 0)) {
			if (++lab > 63)
				goto bad;
		} else {
			goto bad;
		}
	}
	if (lab == 0 || d[n - 1] == '-')
		goto bad;
	return ACCT_OK;
bad:
	return acct__err(db, ACCT_EINVAL,
	                 "MTA-STS domain '%.253s' is not a lower-case host name (labels of a-z, 0-9 and '-', "
	                 "no final dot)", d);
}

static int check_error_text(acct_db *db, const char *e)
{
	size_t n = strlen(e);

	if (n == 0 || n > ACCT_STS_ERROR_MAX)
		return acct__err(db, ACCT_EINVAL, "an MTA-STS error text is 1 to 511 bytes");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)e[i] < 0x20 || e[i] == 0x7f)
			return acct__err(db, ACCT_EINVAL, "an MTA-STS error text contains a control character");
	return ACCT_OK;
}

int acct_sts_put_policy(acct_db *db, const char *domain, const char *id, const char *policy, size_t policy_len,
                        const char *mode, int64_t max_age)
{
	acct_sts_entry e;
	size_t idl;
	int r;

	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if ((r = check_domain(db, domain)) != ACCT_OK)
		return r;
	if (id == NULL || (idl = strlen(id)) == 0 || idl > ACCT_STS_ID_MAX)
		return acct__err(db, ACCT_EINVAL, "an MTA-STS id is 1 to 32 letters and digits");
	for (size_t i = 0; i < idl; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			return acct__err(db, ACCT_EINVAL, "an MTA-STS id is 1 to 32 letters and digits");
	}
	if (policy == NULL || policy_len == 0 || policy_len > ACCT_STS_POLICY_MAX ||
	    memchr(policy, '\0', policy_len) != NULL)
		return acct__err(db, ACCT_EINVAL, "an MTA-STS policy is 1 byte to 64 KiB of text without NUL");
	if (mode == NULL || (strcmp(mode, "enforce") != 0 && strcmp(mode, "testing") != 0 && strcmp(mode, "none") != 0))
		return acct__err(db, ACCT_EINVAL, "an MTA-STS mode is enforce, testing or none");
	if (max_age < 0 || max_age > ACCT_STS_MAX_AGE_MAX)
		return acct__err(db, ACCT_EINVAL, "an MTA-STS max_age is 0 to 31557600 seconds");
	memset(&e, 0, sizeof(e));
	e.domain = domain;
	e.kind = ACCT_STS_POLICY;
	e.id = id;
	e.policy = policy;
	e.policy_len = policy_len;
	e.mode = mode;
	e.max_age = max_age;
	e.fetched_at = e.checked_at = acct_now(db);
	e.expires = e.fetched_at + max_age;
	r = STORE(db)->sts_put(db->st, &e);
	return r == ACCT_OK ? r : acct__store_err(db, r);
}

typedef struct expiry {
	acct_sts_kind kind;
	int64_t expires;
} expiry;

static int take_expiry(const acct_sts_entry *e, void *ctx)
{
	expiry *x = ctx;
	x->kind = e->kind;
	x->expires = e->expires;
	return 0;
}

int acct_sts_put_nopolicy(acct_db *db, const char *domain, int64_t ttl)
{
	acct_sts_entry e;
	expiry x = {0, 0};
	int64_t now;
	int r;

	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if ((r = check_domain(db, domain)) != ACCT_OK)
		return r;
	if (ttl < 1 || ttl > ACCT_STS_NOPOLICY_TTL_MAX)
		return acct__err(db, ACCT_EINVAL, "the MTA-STS negative cache time is 1 to 86400 seconds");
	if ((r = acct__begin(db)) != ACCT_OK)
		return r;
	now = acct_now(db);
	r = STORE(db)->sts_get(db->st, domain, take_expiry, &x);
	if (r == ACCT_ENOTFOUND)
		r = ACCT_OK;
	else if (r != ACCT_OK)
		r = acct__store_err(db, r);
	else if (x.kind == ACCT_STS_POLICY && x.expires > now)
		r = acct__err(db, ACCT_ECONFLICT,
		              "%s has an unexpired cached MTA-STS policy: a missing TXT record does not cancel it", domain);
	if (r == ACCT_OK) {
		memset(&e, 0, sizeof(e));
		e.domain = domain;
		e.kind = ACCT_STS_NOPOLICY;
		e.fetched_at = e.checked_at = now;
		e.expires = now + ttl;
		if ((r = STORE(db)->sts_put(db->st, &e)) != ACCT_OK)
			r = acct__store_err(db, r);
	}
	return acct__end(db, r);
}

int acct_sts_touch(acct_db *db, const char *domain, const char *error)
{
	int r;

	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if ((r = check_domain(db, domain)) != ACCT_OK)
		return r;
	if (error != NULL && (r = check_error_text(db, error)) != ACCT_OK)
		return r;
	r = STORE(db)->sts_touch(db->st, domain, error, acct_now(db));
	return r == ACCT_OK ? r : acct__store_err(db, r);
}

/* A copy in one allocation: the struct, then its strings. */
static int copy_entry(const acct_sts_entry *e, void *ctx)
{
	acct_sts_entry **out = ctx, *c;
	const char *src[5] = {e->domain, e->id, e->policy, e->mode, e->last_error};
	size_t len[5], total = sizeof(*c);
	char *p;

	for (int i = 0; i < 5; i++) {
		len[i] = src[i] ? (i == 2 ? e->policy_len : strlen(src[i])) : 0;
		total += src[i] ? len[i] + 1 : 0;
	}
	if ((c = malloc(total)) == NULL)
		return ACCT_ENOMEM;
	*c = *e;
	p = (char *)(c + 1);
	const char **dst[5] = {&c->domain, &c->id, &c->policy, &c->mode, &c->last_error};
	for (int i = 0; i < 5; i++) {
		if (src[i] == NULL) {
			*dst[i] = NULL;
			continue;
		}
		memcpy(p, src[i], len[i]);
		p[len[i]] = '\0';
		*dst[i] = p;
		p += len[i] + 1;
	}
	*out = c;
	return 0;
}

int acct_sts_get(acct_sts_entry **out, acct_db *db, const char *domain)
{
	int r;

	if (out == NULL)
		return ACCT_EINVAL;
	*out = NULL;
	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if ((r = check_domain(db, domain)) != ACCT_OK)
		return r;
	r = STORE(db)->sts_get(db->st, domain, copy_entry, out);
	if (r == ACCT_ENOMEM)
		return acct__err(db, r, "out of memory");
	return r == ACCT_OK ? r : acct__store_err(db, r);
}

void acct_sts_entry_free(acct_sts_entry *entry)
{
	free(entry);
}

int acct_sts_foreach(acct_db *db, acct_sts_cb cb, void *ctx)
{
	int r;

	if (db == NULL || cb == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	r = STORE(db)->sts_foreach(db->st, cb, ctx);
	return (r == ACCT_OK || r > 0) ? r : acct__store_err(db, r);
}

int acct_sts_del(acct_db *db, const char *domain)
{
	int r;

	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if ((r = check_domain(db, domain)) != ACCT_OK)
		return r;
	r = STORE(db)->sts_del(db->st, domain);
	return r == ACCT_OK ? r : acct__store_err(db, r);
}

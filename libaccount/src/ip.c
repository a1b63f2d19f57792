/*
 * IP allowlists: which networks may act for an account.  Entries are
 * validated and stored in canonical form (ipnet.c), so that the same
 * network cannot be listed twice under two spellings and an operator
 * reading the list sees what is matched.  An empty list allows every
 * address, as SendGrid's IP Access Management does before its first
 * entry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "ipnet.h"
#include "validate.h"

static int parse_cidr(acct_db *db, char canon[IPNET_TEXT_MAX], const char *text)
{
	ipnet net;
	char msg[256];

	if (text == NULL || *text == '\0')
		return acct__err(db, ACCT_EINVAL, "a network is required, e.g. 192.0.2.0/24 or 2001:db8::/32");
	if (ipnet_parse_cidr(&net, text, msg, sizeof(msg)) != 0)
		return acct__err(db, ACCT_EINVAL, "%s", msg);
	if (ipnet_format(canon, IPNET_TEXT_MAX, &net) != 0)
		return acct__err(db, ACCT_EINTERNAL, "formatting the network failed");
	return ACCT_OK;
}

int acct_ip_add(acct_db *db, const char *account, const char *cidr, const char *label)
{
	rec_account a;
	rec_ip e;
	char msg[256];
	int r;

	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	memset(&e, 0, sizeof(e));
	if ((r = parse_cidr(db, e.cidr, cidr)) != ACCT_OK)
		return r;
	if (label && *label) {
		if (validate_label(label, REC_LABEL_MAX, msg, sizeof(msg)) != 0)
			return acct__err(db, ACCT_EINVAL, "label: %s", msg);
		memcpy(e.label, label, strlen(label) + 1);
	}
	e.created_at = acct_now(db);
	if ((r = acct__begin(db)) != ACCT_OK)
		return r;
	if ((r = acct__account_load(db, account, &a)) != ACCT_OK)
		goto out;
	e.account_id = a.id;
	r = STORE(db)->ip_insert(db->st, &e);
	if (r == ACCT_EEXISTS) {
		r = acct__err(db, r, "%s is already allowed for '%s'", e.cidr, a.name);
		goto out;
	}
	if (r != ACCT_OK) {
		r = acct__store_err(db, r);
		goto out;
	}
	r = acct__audit(db, "ip.allow", a.name, e.cidr, e.label[0] ? e.label : NULL, NULL);
out:
	return acct__end(db, r);
}

int acct_ip_del(acct_db *db, const char *account, const char *cidr)
{
	char canon[IPNET_TEXT_MAX];
	rec_account a;
	int r;

	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if ((r = parse_cidr(db, canon, cidr)) != ACCT_OK)
		return r;
	if ((r = acct__begin(db)) != ACCT_OK)
		return r;
	if ((r = acct__account_load(db, account, &a)) != ACCT_OK)
		goto out;
	r = STORE(db)->ip_delete(db->st, a.id, canon);
	if (r == ACCT_ENOTFOUND) {
		r = acct__err(db, r, "%s is not in the allowlist of '%s'", canon, a.name);
		goto out;
	}
	if (r != ACCT_OK) {
		r = acct__store_err(db, r);
		goto out;
	}
	r = acct__audit(db, "ip.remove", a.name, canon, NULL, NULL);
out:
	return acct__end(db, r);
}

struct ip_walk {
	acct_ip_cb cb;
	void *ctx;
};

static int ip_walk_one(const rec_ip *rec, void *ctx)
{
	struct ip_walk *w = ctx;
	acct_ip e;

	/* Borrowed strings: valid for the callback only, as documented. */
	e.cidr = rec->cidr;
	e.label = rec->label;
	e.created_at = rec->created_at;
	return w->cb(&e, w->ctx);
}

int acct_ip_foreach(acct_db *db, const char *account, acct_ip_cb cb, void *ctx)
{
	struct ip_walk w = {cb, ctx};
	rec_account a;
	int r;

	if (db == NULL || cb == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if ((r = acct__account_load(db, account, &a)) != ACCT_OK)
		return r;
	r = STORE(db)->ip_foreach(db->st, a.id, ip_walk_one, &w);
	if (r < 0 && db->st->err[0])
		return acct__store_err(db, r);
	return r;
}

struct ip_match {
	ipnet addr;
	int entries;
	int matched;
};

static int ip_match_one(const rec_ip *rec, void *ctx)
{
	struct ip_match *m = ctx;
	ipnet net;

	m->entries++;
	/* A stored entry that no longer parses matches nothing. */
	if (ipnet_parse_cidr(&net, rec->cidr, NULL, 0) == 0 && ipnet_contains(&net, &m->addr)) {
		m->matched = 1;
		return 1;
	}
	return 0;
}

int acct__ip_allowed(acct_db *db, int64_t account_id, const char *address, int *allowed)
{
	struct ip_match m;
	char msg[256];
	int r;

	memset(&m, 0, sizeof(m));
	*allowed = 0;
	if (ipnet_parse_addr(&m.addr, address, msg, sizeof(msg)) != 0)
		return acct__err(db, ACCT_EINVAL, "%s", msg);
	r = STORE(db)->ip_foreach(db->st, account_id, ip_match_one, &m);
	if (r < 0)
		return acct__store_err(db, r);
	*allowed = m.entries == 0 || m.matched;
	return ACCT_OK;
}

int acct_ip_check(acct_db *db, const char *account, const char *address)
{
	rec_account a;
	int r, allowed;

	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if (address == NULL || *address == '\0')
		return acct__err(db, ACCT_EINVAL, "an IP address is required");
	if ((r = acct__account_load(db, account, &a)) != ACCT_OK)
		return r;
	if ((r = acct__ip_allowed(db, a.id, address, &allowed)) != ACCT_OK)
		return r;
	if (!allowed)
		return acct__err(db, ACCT_EDENIED, "%s is not in the allowlist of '%s'", address, a.name);
	return ACCT_OK;
}

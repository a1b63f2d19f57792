/*
 * The audit log: every change the library makes and every security
 * event, appended in the same transaction as the change it records.
 * The table refuses UPDATE and DELETE (triggers in db/0001_init.sql).
 */
#include <string.h>

#include "db_internal.h"

int acct_audit_foreach(acct_db *db, const acct_audit_query *query, acct_audit_cb cb, void *ctx)
{
	acct_audit_query all = {NULL, 0, 0, 0};
	int r;

	if (db == NULL || cb == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if (query == NULL)
		query = &all;
	if (query->limit < 0 || query->since < 0 || query->until < 0)
		return acct__err(db, ACCT_EINVAL, "limit, since and until cannot be negative");
	r = STORE(db)->audit_foreach(db->st, query, cb, ctx);
	if (r < 0 && db->st->err[0])
		return acct__store_err(db, r);
	return r;
}

static int check_field(acct_db *db, const char *what, const char *v, size_t max)
{
	size_t n;

	if (v == NULL)
		return ACCT_OK;
	if ((n = strlen(v)) > max)
		return acct__err(db, ACCT_EINVAL, "audit %s is longer than %zu bytes", what, max);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return acct__err(db, ACCT_EINVAL, "audit %s contains a control character", what);
	return ACCT_OK;
}

int acct_audit_add(acct_db *db, const char *action, const char *account, const char *target, const char *detail,
                   const char *address)
{
	int r;

	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if (action == NULL || *action == '\0')
		return acct__err(db, ACCT_EINVAL, "an audit action is required");
	for (const char *p = action; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_'))
			return acct__err(db, ACCT_EINVAL, "an audit action is lowercase letters, digits, '.' and '_'");
	if ((r = check_field(db, "action", action, 64)) != ACCT_OK ||
	    (r = check_field(db, "account", account, ACCT_NAME_MAX)) != ACCT_OK ||
	    (r = check_field(db, "target", target, 256)) != ACCT_OK ||
	    (r = check_field(db, "detail", detail, 1024)) != ACCT_OK ||
	    (r = check_field(db, "address", address, 64)) != ACCT_OK)
		return r;
	if ((r = acct__begin(db)) != ACCT_OK)
		return r;
	r = acct__audit(db, action, account, target, detail, address);
	return acct__end(db, r);
}

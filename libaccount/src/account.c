/*
 * Accounts and subaccounts, and each account's TLS requirement.
 *
 * A subaccount has separate credentials and settings but is switched
 * off with its parent; one level only (as SendGrid's subusers), which
 * keeps "is the parent active?" one join away on the hot path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "validate.h"

static char *dup_or_null(const char *s)
{
	return (s && *s) ? strdup(s) : NULL;
}

static acct_account *account_from_rec(const rec_account *a)
{
	acct_account *out = calloc(1, sizeof(*out));

	if (out == NULL)
		return NULL;
	out->id = a->id;
	out->name = strdup(a->name);
	out->parent = dup_or_null(a->parent);
	out->disabled = a->disabled;
	out->require_2fa = a->require_2fa;
	out->smtp_password_auth = a->smtp_password_auth;
	out->tls.mode = (acct_tls_mode)a->tls_mode;
	out->tls.require_valid_cert = a->tls_require_valid_cert;
	out->tls.min_version = a->tls_min_version;
	out->created_at = a->created_at;
	if (out->name == NULL || (a->parent[0] && out->parent == NULL)) {
		acct_account_free(out);
		return NULL;
	}
	return out;
}

void acct_account_free(acct_account *acct)
{
	if (acct == NULL)
		return;
	free(acct->name);
	free(acct->parent);
	free(acct);
}

static int check_name(acct_db *db, const char *name)
{
	char msg[256];

	if (validate_account_name(name, msg, sizeof(msg)) != 0)
		return acct__err(db, ACCT_EINVAL, "%s", msg);
	return ACCT_OK;
}

int acct_account_add(acct_db *db, const char *name, const acct_account_opts *opts)
{
	rec_account a, parent;
	char detail[160];
	int r;

	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if ((r = check_name(db, name)) != ACCT_OK)
		return r;
	memset(&a, 0, sizeof(a));
	memcpy(a.name, name, strlen(name) + 1);
	a.require_2fa = opts && opts->require_2fa ? 1 : 0;
	a.smtp_password_auth = opts && opts->smtp_password_auth ? 1 : 0;
	a.tls_mode = ACCT_TLS_OPPORTUNISTIC;
	a.tls_min_version = 12;
	a.created_at = acct_now(db);

	if ((r = acct__begin(db)) != ACCT_OK)
		return r;
	if (opts && opts->parent && *opts->parent) {
		if ((r = acct__account_load(db, opts->parent, &parent)) != ACCT_OK)
			goto out;
		if (parent.parent_id != 0) {
			r = acct__err(db, ACCT_EINVAL,
			              "'%s' is itself a subaccount of '%s'; a parent must be a top-level account",
			              parent.name, parent.parent);
			goto out;
		}
		a.parent_id = parent.id;
		/* A subaccount starts with its parent's TLS requirement: the
		 * safe choice when the parent enforces TLS. */
		a.tls_mode = parent.tls_mode;
		a.tls_require_valid_cert = parent.tls_require_valid_cert;
		a.tls_min_version = parent.tls_min_version;
	}
	r = STORE(db)->account_insert(db->st, &a);
	if (r == ACCT_EEXISTS) {
		r = acct__err(db, r, "an account named '%s' already exists", name);
		goto out;
	}
	if (r != ACCT_OK) {
		r = acct__store_err(db, r);
		goto out;
	}
	snprintf(detail, sizeof(detail), "parent=%s require_2fa=%s", a.parent_id ? opts->parent : "-",
	         a.require_2fa ? "on" : "off");
	r = acct__audit(db, "account.add", name, NULL, detail, NULL);
out:
	return acct__end(db, r);
}

int acct_account_get(acct_account **out, acct_db *db, const char *name)
{
	rec_account a;
	int r;

	if (out == NULL || db == NULL)
		return ACCT_EINVAL;
	*out = NULL;
	acct__clear(db);
	if ((r = acct__account_load(db, name, &a)) != ACCT_OK)
		return r;
	if ((*out = account_from_rec(&a)) == NULL)
		return acct__err(db, ACCT_ENOMEM, "out of memory");
	return ACCT_OK;
}

struct account_walk {
	acct_account_cb cb;
	void *ctx;
	int oom;
};

static int account_walk_one(const rec_account *rec, void *ctx)
{
	struct account_walk *w = ctx;
	acct_account *a = account_from_rec(rec);
	int r;

	if (a == NULL) {
		w->oom = 1;
		return ACCT_ENOMEM;
	}
	r = w->cb(a, w->ctx);
	acct_account_free(a);
	return r;
}

int acct_account_foreach(acct_db *db, const char *parent, acct_account_cb cb, void *ctx)
{
	struct account_walk w = {cb, ctx, 0};
	rec_account p;
	int64_t pid = -1;
	int r;

	if (db == NULL || cb == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if (parent) {
		if ((r = acct__account_load(db, parent, &p)) != ACCT_OK)
			return r;
		pid = p.id;
	}
	r = STORE(db)->account_foreach(db->st, pid, account_walk_one, &w);
	if (w.oom)
		return acct__err(db, ACCT_ENOMEM, "out of memory");
	if (r < 0 && db->st->err[0])
		return acct__store_err(db, r);
	return r;
}

static const char *flag_name(acct_account_flag flag)
{
	switch (flag) {
	case ACCT_ACCOUNT_DISABLED: return "disabled";
	case ACCT_ACCOUNT_REQUIRE_2FA: return "require_2fa";
	case ACCT_ACCOUNT_SMTP_PASSWORD_AUTH: return "smtp_password_auth";
	}
	return NULL;
}

int acct_account_set_flag(acct_db *db, const char *name, acct_account_flag flag, int on)
{
	rec_account a;
	const char *fname = flag_name(flag);
	int *field, before, r;
	char detail[96];

	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if (fname == NULL)
		return acct__err(db, ACCT_EINVAL, "unknown account flag %d", (int)flag);
	if ((r = acct__begin(db)) != ACCT_OK)
		return r;
	if ((r = acct__account_load(db, name, &a)) != ACCT_OK)
		goto out;
	field = flag == ACCT_ACCOUNT_DISABLED ? &a.disabled
	        : flag == ACCT_ACCOUNT_REQUIRE_2FA ? &a.require_2fa
	                                           : &a.smtp_password_auth;
	before = *field;
	*field = on ? 1 : 0;
	if (before == *field)
		goto out; /* nothing changes, nothing to audit */
	if ((r = STORE(db)->account_update(db->st, &a)) != ACCT_OK) {
		r = acct__store_err(db, r);
		goto out;
	}
	snprintf(detail, sizeof(detail), "%s: %s -> %s", fname, before ? "on" : "off", on ? "on" : "off");
	r = acct__audit(db, flag == ACCT_ACCOUNT_DISABLED ? (on ? "account.disable" : "account.enable") : "account.set",
	                a.name, NULL, detail, NULL);
out:
	return acct__end(db, r);
}

int acct_account_del(acct_db *db, const char *name)
{
	rec_account a;
	int64_t children = 0;
	int r;

	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if ((r = acct__begin(db)) != ACCT_OK)
		return r;
	if ((r = acct__account_load(db, name, &a)) != ACCT_OK)
		goto out;
	if ((r = STORE(db)->account_count_children(db->st, a.id, &children)) != ACCT_OK) {
		r = acct__store_err(db, r);
		goto out;
	}
	if (children > 0) {
		r = acct__err(db, ACCT_ECONFLICT, "'%s' has %lld subaccount%s; delete %s first", a.name,
		              (long long)children, children == 1 ? "" : "s", children == 1 ? "it" : "them");
		goto out;
	}
	if ((r = STORE(db)->account_delete(db->st, a.id)) != ACCT_OK) {
		r = acct__store_err(db, r);
		goto out;
	}
	r = acct__audit(db, "account.delete", a.name, NULL, NULL, NULL);
out:
	return acct__end(db, r);
}

/* ---------------------------------------------------------------- */
/* TLS requirement */

const char *acct_tls_mode_name(acct_tls_mode mode)
{
	switch (mode) {
	case ACCT_TLS_OPPORTUNISTIC: return "opportunistic";
	case ACCT_TLS_ENFORCED: return "enforced";
	case ACCT_TLS_NONE: return "none";
	}
	return "unknown";
}

int acct_tls_mode_parse(acct_tls_mode *out, const char *text)
{
	static const acct_tls_mode modes[] = {ACCT_TLS_OPPORTUNISTIC, ACCT_TLS_ENFORCED, ACCT_TLS_NONE};

	if (out == NULL || text == NULL)
		return ACCT_EINVAL;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(text, acct_tls_mode_name(modes[i])) == 0) {
			*out = modes[i];
			return ACCT_OK;
		}
	}
	return ACCT_EINVAL;
}

int acct_tls_get(acct_tls *out, acct_db *db, const char *account)
{
	rec_account a;
	int r;

	if (out == NULL || db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if ((r = acct__account_load(db, account, &a)) != ACCT_OK)
		return r;
	out->mode = (acct_tls_mode)a.tls_mode;
	out->require_valid_cert = a.tls_require_valid_cert;
	out->min_version = a.tls_min_version;
	return ACCT_OK;
}

static void tls_describe(char *buf, size_t len, int mode, int rvc, int minv)
{
	snprintf(buf, len, "mode=%s require_valid_cert=%s min_version=1.%d", acct_tls_mode_name((acct_tls_mode)mode),
	         rvc ? "on" : "off", minv - 10);
}

int acct_tls_set(acct_db *db, const char *account, const acct_tls *tls)
{
	rec_account a;
	char before[96], after[96], detail[200];
	int r;

	if (db == NULL || tls == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if (tls->mode != ACCT_TLS_OPPORTUNISTIC && tls->mode != ACCT_TLS_ENFORCED && tls->mode != ACCT_TLS_NONE)
		return acct__err(db, ACCT_EINVAL, "TLS mode must be opportunistic, enforced or none");
	if (tls->min_version != 12 && tls->min_version != 13)
		return acct__err(db, ACCT_EINVAL, "minimum TLS version must be 1.2 or 1.3");
	if (tls->require_valid_cert != 0 && tls->require_valid_cert != 1)
		return acct__err(db, ACCT_EINVAL, "require_valid_cert must be 0 or 1");
	if (tls->mode == ACCT_TLS_NONE && tls->require_valid_cert)
		return acct__err(db, ACCT_EINVAL,
		                 "require-valid-cert needs TLS; it cannot be on with mode none (use enforced)");

	if ((r = acct__begin(db)) != ACCT_OK)
		return r;
	if ((r = acct__account_load(db, account, &a)) != ACCT_OK)
		goto out;
	tls_describe(before, sizeof(before), a.tls_mode, a.tls_require_valid_cert, a.tls_min_version);
	a.tls_mode = (int)tls->mode;
	a.tls_require_valid_cert = tls->require_valid_cert;
	a.tls_min_version = tls->min_version;
	tls_describe(after, sizeof(after), a.tls_mode, a.tls_require_valid_cert, a.tls_min_version);
	if (strcmp(before, after) == 0)
		goto out;
	if ((r = STORE(db)->account_update(db->st, &a)) != ACCT_OK) {
		r = acct__store_err(db, r);
		goto out;
	}
	snprintf(detail, sizeof(detail), "%s -> %s", before, after);
	r = acct__audit(db, "tls.set", a.name, NULL, detail, NULL);
out:
	return acct__end(db, r);
}

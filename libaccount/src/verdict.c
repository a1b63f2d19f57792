/*
 * The one decision the sending path asks for, written once here so
 * that every adapter (Dovecot SASL, the policy service, the shell's
 * "apikey check") gives the same answer for the same facts.
 *
 * The client of an SMTP server sees a generic refusal; the audit log
 * gets the precise reason.  A store that cannot answer is a temporary
 * failure, never a deny: a locked or missing database must not bounce
 * a customer's mail.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "db_internal.h"
#include "keyfmt.h"
#include "passwd.h"
#include "validate.h"

/* How stale last_used_at may get before an AUTH writes it again: one
 * write per key per minute instead of one per AUTH. */
#define LAST_USED_GRANULARITY 60

static const struct {
	const char *code;
	const char *text;
} reasons[] = {
	[ACCT_R_OK] = {"ok", "allowed"},
	[ACCT_R_MALFORMED_KEY] = {"malformed_key", "not a Postern API key"},
	[ACCT_R_BAD_CHECKSUM] = {"bad_checksum", "API key checksum mismatch (mistyped key)"},
	[ACCT_R_UNKNOWN_KEY] = {"unknown_key", "no such API key"},
	[ACCT_R_WRONG_SECRET] = {"wrong_secret", "API key secret does not match"},
	[ACCT_R_REVOKED] = {"revoked", "API key revoked"},
	[ACCT_R_EXPIRED] = {"expired", "API key expired"},
	[ACCT_R_MISSING_SCOPE] = {"missing_scope", "API key lacks the mail.send scope"},
	[ACCT_R_ACCOUNT_DISABLED] = {"account_disabled", "account disabled"},
	[ACCT_R_PARENT_DISABLED] = {"parent_disabled", "parent account disabled"},
	[ACCT_R_IP_NOT_ALLOWED] = {"ip_not_allowed", "client address not in the account's IP allowlist"},
	[ACCT_R_UNKNOWN_ACCOUNT] = {"unknown_account", "no such account"},
	[ACCT_R_UNKNOWN_USER] = {"unknown_user", "no such user"},
	[ACCT_R_BAD_PASSWORD] = {"bad_password", "wrong password"},
	[ACCT_R_USER_DISABLED] = {"user_disabled", "user disabled"},
	[ACCT_R_PASSWORD_AUTH_OFF] = {"password_auth_off", "SMTP password logins are off for this account; use an API key"},
	[ACCT_R_2FA_REQUIRED] = {"2fa_required", "account requires 2FA: SMTP needs an API key"},
	[ACCT_R_BAD_ADDRESS] = {"bad_address", "client address not understood"},
	[ACCT_R_STORE_UNAVAILABLE] = {"store_unavailable", "account store unavailable"},
	[ACCT_R_2FA_NOT_ENROLLED] = {"2fa_not_enrolled", "the account requires 2FA and the user has not enrolled"},
	[ACCT_R_CODE_REQUIRED] = {"code_required", "a 2FA code is required"},
	[ACCT_R_BAD_CODE] = {"bad_code", "wrong 2FA code"},
	[ACCT_R_CODE_REPLAYED] = {"code_replayed", "2FA code already used"},
	[ACCT_R_LOCKED_OUT] = {"locked_out", "too many failed 2FA attempts; locked out for now"},
	[ACCT_R_2FA_NOT_ENABLED] = {"2fa_not_enabled", "2FA is not enabled for this user"},
	[ACCT_R_KEY_FILE] = {"key_file", "the 2FA master key file is missing or wrong"},
};

const char *acct_reason_text(acct_reason reason)
{
	if ((size_t)reason >= sizeof(reasons) / sizeof(reasons[0]) || reasons[reason].text == NULL)
		return "unknown reason";
	return reasons[reason].text;
}

const char *acct_reason_code(acct_reason reason)
{
	if ((size_t)reason >= sizeof(reasons) / sizeof(reasons[0]) || reasons[reason].code == NULL)
		return "unknown";
	return reasons[reason].code;
}

static int tempfail(acct_verdict *out)
{
	out->kind = ACCT_TEMPFAIL;
	out->reason = ACCT_R_STORE_UNAVAILABLE;
	return ACCT_OK;
}

/* Deny, and record why.  The audit write is best effort: if the store
 * fails now, the deny still stands. */
static int deny(acct_db *db, acct_verdict *out, acct_reason reason, const char *action, const char *account,
                const char *target, const char *address)
{
	out->kind = ACCT_DENY;
	out->reason = reason;
	if (action == NULL) /* a check, not an attempt: nothing to record */
		return ACCT_OK;
	if (acct__begin(db) == ACCT_OK)
		(void)acct__end(db, acct__audit(db, action, account && *account ? account : NULL,
		                                target && *target ? target : NULL, acct_reason_code(reason),
		                                address && *address ? address : NULL));
	return ACCT_OK;
}

/* Account-level checks shared by every kind of login and by RCPT. */
static int account_checks(acct_db *db, acct_verdict *out, const rec_account *a, const char *address,
                          const char *action, const char *target)
{
	int allowed, r;

	if (a->disabled)
		return deny(db, out, ACCT_R_ACCOUNT_DISABLED, action, a->name, target, address);
	if (a->parent_id && a->parent_disabled)
		return deny(db, out, ACCT_R_PARENT_DISABLED, action, a->name, target, address);
	if (address && *address) {
		r = acct__ip_allowed(db, a->id, address, &allowed);
		if (r == ACCT_EINVAL)
			return deny(db, out, ACCT_R_BAD_ADDRESS, action, a->name, target, address);
		if (r != ACCT_OK)
			return tempfail(out);
		if (!allowed)
			return deny(db, out, ACCT_R_IP_NOT_ALLOWED, action, a->name, target, address);
	}
	out->kind = ACCT_ALLOW;
	out->reason = ACCT_R_OK;
	memcpy(out->account, a->name, sizeof(out->account));
	return ACCT_OK;
}

/* `action` is the audit action for denies, or NULL for a check that
 * records nothing and changes nothing (acct_apikey_verify). */
static int decide_key(acct_verdict *out, acct_db *db, const char *key, const char *address, const char *action)
{
	unsigned char hash[KEY_HASH_LEN];
	char id[KEY_ID_LEN + 1] = "";
	unsigned int scopes = 0;
	rec_account a;
	rec_key k;
	int r, shape;

	shape = keyfmt_parse(key, strlen(key), id, hash);
	if (shape == KEYFMT_MALFORMED || shape == KEYFMT_ERROR)
		return deny(db, out, ACCT_R_MALFORMED_KEY, action, NULL, NULL, address);
	if (shape == KEYFMT_BAD_CHECKSUM)
		return deny(db, out, ACCT_R_BAD_CHECKSUM, action, NULL, id, address);
	memcpy(out->key_id, id, sizeof(out->key_id));

	r = STORE(db)->key_get(db->st, id, &k);
	if (r == ACCT_ENOTFOUND) {
		r = deny(db, out, ACCT_R_UNKNOWN_KEY, action, NULL, id, address);
		goto out;
	}
	if (r != ACCT_OK) {
		r = tempfail(out);
		goto out;
	}
	if (CRYPTO_memcmp(hash, k.secret_hash, sizeof(hash)) != 0) {
		r = deny(db, out, ACCT_R_WRONG_SECRET, action, k.account, id, address);
		goto out;
	}
	if (k.revoked_at != 0) {
		r = deny(db, out, ACCT_R_REVOKED, action, k.account, id, address);
		goto out;
	}
	if (k.expires_at != 0 && acct_now(db) >= k.expires_at) {
		r = deny(db, out, ACCT_R_EXPIRED, action, k.account, id, address);
		goto out;
	}
	if (validate_scopes(&scopes, k.scopes, NULL, 0) != 0 || !(scopes & ACCT_SCOPE_MAIL_SEND)) {
		r = deny(db, out, ACCT_R_MISSING_SCOPE, action, k.account, id, address);
		goto out;
	}
	r = STORE(db)->account_get(db->st, k.account, &a);
	if (r != ACCT_OK) {
		/* The key row joins its account: a miss now is a race with a delete. */
		r = r == ACCT_ENOTFOUND ? deny(db, out, ACCT_R_UNKNOWN_KEY, action, NULL, id, address)
		                        : tempfail(out);
		goto out;
	}
	if ((r = account_checks(db, out, &a, address, action, id)) != ACCT_OK || out->kind != ACCT_ALLOW)
		goto out;
	if (action != NULL && acct_now(db) - k.last_used_at >= LAST_USED_GRANULARITY) {
		/* Best effort: a busy store must not fail a good login. */
		(void)acct__key_used(db, k.id, acct_now(db));
	}
out:
	acct_wipe(hash, sizeof(hash));
	acct_wipe(k.secret_hash, sizeof(k.secret_hash));
	return r;
}

static int decide_password(acct_verdict *out, acct_db *db, const char *email, const char *password,
                           const char *address)
{
	rec_account a;
	rec_user u;
	int r, known;

	r = acct__password_check(db, email, password, &u, &known);
	acct_wipe(u.password_hash, sizeof(u.password_hash));
	if (r == ACCT_EDENIED) {
		if (!known)
			return deny(db, out, ACCT_R_UNKNOWN_USER, "auth.deny", NULL, NULL, address);
		return deny(db, out, ACCT_R_BAD_PASSWORD, "auth.deny", u.account, u.email, address);
	}
	if (r != ACCT_OK)
		return tempfail(out);
	if (u.disabled)
		return deny(db, out, ACCT_R_USER_DISABLED, "auth.deny", u.account, u.email, address);
	r = STORE(db)->account_get(db->st, u.account, &a);
	if (r != ACCT_OK)
		return r == ACCT_ENOTFOUND ? deny(db, out, ACCT_R_UNKNOWN_USER, "auth.deny", NULL, u.email, address)
		                           : tempfail(out);
	if (a.require_2fa)
		return deny(db, out, ACCT_R_2FA_REQUIRED, "auth.deny", a.name, u.email, address);
	if (!a.smtp_password_auth)
		return deny(db, out, ACCT_R_PASSWORD_AUTH_OFF, "auth.deny", a.name, u.email, address);
	return account_checks(db, out, &a, address, "auth.deny", u.email);
}

int acct_auth_decide(acct_verdict *out, acct_db *db, const char *username, const char *password,
                     const char *client_address)
{
	if (out == NULL)
		return ACCT_EINVAL;
	memset(out, 0, sizeof(*out));
	if (db == NULL || username == NULL || password == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if (db->st == NULL || db->st->ops == NULL)
		return tempfail(out);
	if (strcasecmp(username, "apikey") == 0)
		return decide_key(out, db, password, client_address, "auth.deny");
	return decide_password(out, db, username, password, client_address);
}

int acct_apikey_verify(acct_verdict *out, acct_db *db, const char *key)
{
	if (out == NULL)
		return ACCT_EINVAL;
	memset(out, 0, sizeof(*out));
	if (db == NULL || key == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	return decide_key(out, db, key, NULL, NULL);
}

int acct_account_check(acct_verdict *out, acct_db *db, const char *account, const char *client_address)
{
	rec_account a;
	int r;

	if (out == NULL)
		return ACCT_EINVAL;
	memset(out, 0, sizeof(*out));
	if (db == NULL || account == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if (db->st == NULL || db->st->ops == NULL)
		return tempfail(out);
	r = STORE(db)->account_get(db->st, account, &a);
	if (r == ACCT_ENOTFOUND)
		return deny(db, out, ACCT_R_UNKNOWN_ACCOUNT, "rcpt.deny", NULL, account, client_address);
	if (r != ACCT_OK)
		return tempfail(out);
	return account_checks(db, out, &a, client_address, "rcpt.deny", NULL);
}

/* ---- for acct_login_check (totp.c) ---- */

int acct__account_checks(acct_db *db, acct_verdict *out, const rec_account *a, const char *address,
                         const char *action, const char *target)
{
	return account_checks(db, out, a, address, action, target);
}

int acct__deny(acct_db *db, acct_verdict *out, acct_reason reason, const char *action, const char *account,
               const char *target, const char *address)
{
	return deny(db, out, reason, action, account, target, address);
}

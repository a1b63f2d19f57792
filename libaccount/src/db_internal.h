/*
 * The handle behind acct_db and the helpers every module of the
 * library shares: error messages, transactions, the audit record.
 */
#ifndef ACCT_DB_INTERNAL_H
#define ACCT_DB_INTERNAL_H

#include <stdarg.h>

#include "postern/account.h"
#include "store.h"

#define ACCT_ERR_MAX 512
#define ACCT_ACTOR_MAX 128
#define ACCT_KEY_FILE_MAX 1023
#define ACCT_TOTP_ISSUER_MAX 64

struct acct_db {
	store *st;
	unsigned int warnings;
	unsigned int scrypt_ln;
	int schema_version;
	acct_clock_fn clock;
	void *clock_ctx;
	char actor[ACCT_ACTOR_MAX + 1];
	char err[ACCT_ERR_MAX];
	/* two-factor authentication (totp.c), from acct_open_options */
	char key_file[ACCT_KEY_FILE_MAX + 1];
	char totp_issuer[ACCT_TOTP_ISSUER_MAX + 1];
	int totp_digits;
	int totp_period;
	int totp_window;
	/* deferred last_used_at writes (touch.c); NULL = write at once */
	struct acct__touches *touch;
};

#if defined(__GNUC__)
#define ACCT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ACCT_PRINTF(a, b)
#endif

/* Set the handle's message; returns `code` so callers can `return acct__err(...)`. */
int acct__err(acct_db *db, int code, const char *fmt, ...) ACCT_PRINTF(3, 4);
/* Take the store's message for a failed store operation; returns code. */
int acct__store_err(acct_db *db, int code);
void acct__clear(acct_db *db);

/* A write transaction.  acct__end commits when r == 0 and rolls back
 * otherwise, returning the final status. */
int acct__begin(acct_db *db);
int acct__end(acct_db *db, int r);

/* Append to the audit log inside the current transaction. */
int acct__audit(acct_db *db, const char *action, const char *account, const char *target, const char *detail,
                const char *address);

/* Load an account by name with a "no such account" message. */
int acct__account_load(acct_db *db, const char *name, rec_account *out);

/* A store failure means the store cannot answer now. */
int acct__is_unavailable(int code);

/* Load a user by email (normalised) with a "no user" message. */
int acct__user_load(acct_db *db, const char *email, rec_user *out);
/* Check a password, in equal time for every kind of no; `u` is filled
 * and *known set when the user exists.  ACCT_OK, ACCT_EDENIED or a
 * store failure. */
int acct__password_check(acct_db *db, const char *email, const char *password, rec_user *u, int *known);

/* Is `address` allowed for the account (an empty list allows all)?
 * ACCT_OK with *allowed set, ACCT_EINVAL for a bad address, or a store failure. */
int acct__ip_allowed(acct_db *db, int64_t account_id, const char *address, int *allowed);

/* For tests that build databases of an older schema: open without
 * migrating, then migrate up to a given version. */
int acct__open_raw(acct_db **out, const char *path, const acct_open_options *opts, int run_migrations);
int acct__migrate_to(acct_db *db, int version);

#define STORE(db) ((db)->st->ops)

/* touch.c: record that key `id` was used at `when`, at once or deferred
 * (acct_set_deferred_writes); best effort.  acct__touch_fini flushes
 * and frees the deferred table, at close. */
int acct__key_used(acct_db *db, int64_t id, int64_t when);
void acct__touch_fini(acct_db *db);

/* ---- two-factor authentication ---- */

/* verdict.c: the account checks and the audited deny, for acct_login_check. */
int acct__account_checks(acct_db *db, acct_verdict *out, const rec_account *a, const char *address,
                         const char *action, const char *target);
int acct__deny(acct_db *db, acct_verdict *out, acct_reason reason, const char *action, const char *account,
               const char *target, const char *address);

/* totp.c: read and check the 2FA settings of acct_open_options (NULL
 * fields mean defaults; the key file path falls back to
 * $POSTERN_KEY_FILE, then ACCT_DEFAULT_KEY_FILE). */
int acct__2fa_configure(acct_db *db, const acct_open_options *opts);

/* totp.c, for tests: is `code` (already normalised: exactly `digits`
 * ASCII digits) valid at `now` within +-window steps?  1 with *step set,
 * 0 if not, -1 on error. */
int acct__totp_match(const unsigned char *secret, size_t len, int digits, int period, int window, int64_t now,
                     const char *code, int64_t *step);

/* totp.c, for tests: replace a user's stored TOTP secret (sealed as any
 * other) keeping its state; ACCT_ENOTFOUND if the user has no 2FA. */
int acct__2fa_set_secret(acct_db *db, const char *email, const unsigned char *secret, size_t len);

#endif

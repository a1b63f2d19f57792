/*
 * libaccount: the account store of Postern.
 *
 * This header is the whole public API and its specification.  It stores
 * accounts and their subaccounts, the users who log in to them, API keys
 * with scopes, IP allowlists, each account's TLS requirement, and an
 * append-only audit log; and it owns the one decision the SMTP hook asks
 * for ("may this username/password send from this address?").
 *
 * Conventions, once for the whole header:
 *  - Every public name starts with acct_ (types, functions) or ACCT_
 *    (macros and constants).
 *  - Every function returns ACCT_OK (0) or a negative ACCT_E... code.
 *    acct_errmsg(db) gives a one-line human-readable message for the
 *    last failure on that handle; it never contains a secret.
 *  - Objects returned through an `out` pointer belong to the caller,
 *    who releases them with the matching acct_..._free(); on failure
 *    *out is set to NULL.  Every free function accepts NULL.
 *    Pointers passed to foreach callbacks are borrowed and valid only
 *    during the call.
 *  - Every mutation runs in one transaction: on failure the database
 *    is unchanged.  Every mutation is recorded in the audit log with
 *    the handle's actor (acct_set_actor).
 *  - The library never prints, never exits and never aborts on bad
 *    input.  A handle is not thread-safe: use one per thread.
 *  - Times are seconds since the Unix epoch (UTC), as int64_t.
 */
#ifndef POSTERN_ACCOUNT_H
#define POSTERN_ACCOUNT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(ACCT_BUILDING) && defined(__GNUC__)
#define ACCT_API __attribute__((visibility("default")))
#else
#define ACCT_API
#endif

#define ACCT_VERSION_STRING "0.1.0"

/* ---------------------------------------------------------------- */
/* Status codes                                                      */

enum {
	ACCT_OK = 0,
	ACCT_EINVAL = -1,    /* bad input: the message says what is accepted */
	ACCT_ENOTFOUND = -2, /* no such account, user, key or entry */
	ACCT_EEXISTS = -3,   /* the name, email or entry is already taken */
	ACCT_ECONFLICT = -4, /* refused by the current state (e.g. an account
	                        that still has subaccounts cannot be deleted) */
	ACCT_EDENIED = -5,   /* a credential or check said no */
	ACCT_EBUSY = -6,     /* the database stayed locked past the timeout */
	ACCT_EUNAVAIL = -7,  /* the store cannot be used: I/O error, corrupt
	                        or not a database, disk full */
	ACCT_EPERM = -8,     /* permission denied on the database file */
	ACCT_EVERSION = -9,  /* the database was written by a newer Postern */
	ACCT_ENOMEM = -10,
	ACCT_EINTERNAL = -11
};

/* A static English name for a status code ("not found", ...). */
ACCT_API const char *acct_strerror(int code);

/* ---------------------------------------------------------------- */
/* Opening a database                                                */

typedef struct acct_db acct_db;

/* A clock the library reads instead of time(2); tests set one. */
typedef int64_t (*acct_clock_fn)(void *ctx);

#define ACCT_OPEN_OPTIONS_VERSION 1

typedef struct acct_open_options {
	unsigned int version;     /* ACCT_OPEN_OPTIONS_VERSION */
	int readonly;             /* open without writing or migrating */
	int no_create;            /* refuse to create a missing file */
	int busy_timeout_ms;      /* how long to wait for a lock; 0 = 5000 */
	unsigned int scrypt_ln;   /* password hash cost, log2(N); 0 = 15 */
	acct_clock_fn clock;      /* NULL = time(2) */
	void *clock_ctx;
	const char *actor;        /* audit actor; NULL = "library" */
	/* Two-factor authentication (see "Two-factor authentication" below) */
	const char *key_file;     /* master key for TOTP secrets; NULL = $POSTERN_KEY_FILE,
	                             else ACCT_DEFAULT_KEY_FILE */
	const char *totp_issuer;  /* shown in authenticator apps; NULL = "Postern" */
	int totp_digits;          /* 6 or 8; 0 = 6 */
	int totp_period;          /* seconds, 15..300; 0 = 30 */
	int totp_window;          /* steps accepted either side of now, 0..5; -1 = default 1 */
} acct_open_options;

#define ACCT_OPEN_OPTIONS_INIT { ACCT_OPEN_OPTIONS_VERSION, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, 0, 0, -1 }

/* Where the TOTP master key lives when nothing else says. */
#define ACCT_DEFAULT_KEY_FILE "/etc/postern/master.key"

/*
 * Open (and create, mode 0600) the database at `path`, then apply the
 * schema migrations it is missing, each in its own transaction.
 * `opts` may be NULL for the defaults.
 *
 * Returns ACCT_OK, ACCT_EVERSION (database newer than this code),
 * ACCT_EPERM, ACCT_EUNAVAIL (not a database, corrupt, unreadable),
 * ACCT_ENOTFOUND (no_create and no file), ACCT_EBUSY, ACCT_ENOMEM.
 * On failure *out is still set when a handle could be made, so that
 * acct_errmsg(*out) explains the failure; close it either way.
 */
ACCT_API int acct_open(acct_db **out, const char *path, const acct_open_options *opts);

/* Close the handle; NULL is accepted. */
ACCT_API void acct_close(acct_db *db);

/* The message of the last failure on this handle ("" if none). */
ACCT_API const char *acct_errmsg(const acct_db *db);

/* Warnings found when opening: a bitmask of ACCT_WARN_... */
#define ACCT_WARN_FILE_MODE 0x1 /* the file is readable or writable by group/others */
ACCT_API unsigned int acct_warnings(const acct_db *db);

/* The schema version of the open database and the newest this code knows. */
ACCT_API int acct_schema_version(const acct_db *db);
ACCT_API int acct_schema_latest(void);

/* A number that changes whenever another handle, in this process or
 * another, has committed a change to the database since this handle
 * last looked; this handle's own changes leave it alone.  Cheap (no
 * query of the tables): a long-running reader such as the hook daemon
 * calls it before each use of what it cached, so that a change made
 * in the shell takes effect on its very next request.  ACCT_OK, or
 * ACCT_EBUSY / ACCT_EUNAVAIL when the store cannot answer. */
ACCT_API int acct_data_version(int64_t *out, acct_db *db);

/* Who the audit log names for this handle's changes, e.g. "os:alice"
 * or "user:bob@example.com".  Copied.  ACCT_EINVAL if empty or > 128 bytes. */
ACCT_API int acct_set_actor(acct_db *db, const char *actor);

/* Replace the clock (NULL restores time(2)). */
ACCT_API void acct_set_clock(acct_db *db, acct_clock_fn clock, void *ctx);
ACCT_API int64_t acct_now(const acct_db *db);

/* ---------------------------------------------------------------- */
/* Accounts                                                          */

#define ACCT_NAME_MAX 63 /* lowercase [a-z0-9][a-z0-9._-]{0,62} */

typedef enum acct_tls_mode {
	ACCT_TLS_OPPORTUNISTIC = 0, /* encrypt when the recipient offers it */
	ACCT_TLS_ENFORCED = 1,      /* never send in the clear: block instead */
	ACCT_TLS_NONE = 2           /* never ask for TLS */
} acct_tls_mode;

typedef struct acct_tls {
	acct_tls_mode mode;
	int require_valid_cert; /* with ENFORCED: the certificate must verify */
	int min_version;        /* 12 (TLS 1.2, default) or 13 (TLS 1.3) */
} acct_tls;

typedef struct acct_account {
	int64_t id;
	char *name;
	char *parent;           /* NULL for a top-level account */
	int disabled;
	int require_2fa;        /* users must have 2FA enabled to log in */
	int smtp_password_auth; /* users may AUTH with their password (default off) */
	acct_tls tls;
	int64_t created_at;
} acct_account;

typedef struct acct_account_opts {
	const char *parent; /* a top-level account, or NULL */
	int require_2fa;
	int smtp_password_auth;
} acct_account_opts;

/* Create an account.  ACCT_EINVAL (bad name, parent is itself a
 * subaccount), ACCT_ENOTFOUND (no such parent), ACCT_EEXISTS. */
ACCT_API int acct_account_add(acct_db *db, const char *name, const acct_account_opts *opts);

/* Look one up by name; free with acct_account_free. */
ACCT_API int acct_account_get(acct_account **out, acct_db *db, const char *name);
ACCT_API void acct_account_free(acct_account *acct);

typedef int (*acct_account_cb)(const acct_account *acct, void *ctx);

/* Every account (parent == NULL) or the subaccounts of `parent`, by
 * name.  A callback returning non-zero stops the walk and that value
 * is returned.  (As for every foreach: the callback must not use the
 * same handle; collect what it needs and act after the walk.) */
ACCT_API int acct_account_foreach(acct_db *db, const char *parent, acct_account_cb cb, void *ctx);

typedef enum acct_account_flag {
	ACCT_ACCOUNT_DISABLED,
	ACCT_ACCOUNT_REQUIRE_2FA,
	ACCT_ACCOUNT_SMTP_PASSWORD_AUTH
} acct_account_flag;

ACCT_API int acct_account_set_flag(acct_db *db, const char *name, acct_account_flag flag, int on);

/* Delete an account with its users, keys, allowlist and settings.
 * ACCT_ECONFLICT while it has subaccounts.  The audit log keeps its
 * history. */
ACCT_API int acct_account_del(acct_db *db, const char *name);

/* ---------------------------------------------------------------- */
/* TLS requirement of an account                                     */

ACCT_API int acct_tls_get(acct_tls *out, acct_db *db, const char *account);
ACCT_API int acct_tls_set(acct_db *db, const char *account, const acct_tls *tls);
ACCT_API const char *acct_tls_mode_name(acct_tls_mode mode);
/* "opportunistic" | "enforced" | "none" -> mode; ACCT_EINVAL otherwise */
ACCT_API int acct_tls_mode_parse(acct_tls_mode *out, const char *text);

/* ---------------------------------------------------------------- */
/* Users                                                             */

#define ACCT_EMAIL_MAX 254

typedef struct acct_user {
	int64_t id;
	char *email;
	char *account;
	int disabled;
	int has_password;
	int64_t created_at;
	int64_t password_changed_at; /* 0 if never set */
} acct_user;

/* Add a user to an account.  `password` may be NULL (no password until
 * acct_user_set_password).  Passwords are 10..1024 bytes of UTF-8
 * without control characters and are stored only as scrypt hashes. */
ACCT_API int acct_user_add(acct_db *db, const char *account, const char *email, const char *password);
ACCT_API int acct_user_get(acct_user **out, acct_db *db, const char *email);
ACCT_API void acct_user_free(acct_user *user);

typedef int (*acct_user_cb)(const acct_user *user, void *ctx);
ACCT_API int acct_user_foreach(acct_db *db, const char *account, acct_user_cb cb, void *ctx);

ACCT_API int acct_user_set_password(acct_db *db, const char *email, const char *password);
ACCT_API int acct_user_set_disabled(acct_db *db, const char *email, int disabled);
ACCT_API int acct_user_del(acct_db *db, const char *email);

/*
 * Check a password.  ACCT_OK on a match (a hash made with older cost
 * parameters is upgraded on the way), ACCT_EDENIED for a wrong
 * password, an unknown user, or a user without a password (the three
 * take the same time).  Does not look at 2FA or the disabled flags:
 * acct_auth_decide and acct_login_check do.
 */
ACCT_API int acct_user_verify_password(acct_db *db, const char *email, const char *password);

/* ---------------------------------------------------------------- */
/* API keys                                                          */

#define ACCT_SCOPE_MAIL_SEND      (1u << 0) /* "mail.send": SMTP AUTH */
#define ACCT_SCOPE_ACCOUNTS_READ  (1u << 1) /* "accounts.read" */
#define ACCT_SCOPE_ACCOUNTS_WRITE (1u << 2) /* "accounts.write" */
#define ACCT_SCOPE_KEYS_READ      (1u << 3) /* "keys.read" */
#define ACCT_SCOPE_KEYS_WRITE     (1u << 4) /* "keys.write" */
#define ACCT_SCOPE_SETTINGS_READ  (1u << 5) /* "settings.read": IP allowlist, TLS */
#define ACCT_SCOPE_SETTINGS_WRITE (1u << 6) /* "settings.write" */
#define ACCT_SCOPE_ALL            0x7fu

#define ACCT_KEY_ID_MAX 12 /* the public id: 12 base62 characters */
#define ACCT_KEY_MAX 68    /* a whole key: pstn_<id>_<secret><checksum> */

typedef struct acct_apikey {
	char id[ACCT_KEY_ID_MAX + 1];
	char *account;
	char *name;
	unsigned int scopes;
	int64_t created_at;
	int64_t expires_at;   /* 0 = never */
	int64_t last_used_at; /* 0 = never */
	int64_t revoked_at;   /* 0 = not revoked */
} acct_apikey;

/*
 * Create a key for `account` with `scopes` (ACCT_SCOPE_ bits, at
 * least one) and an expiry (0 = never; otherwise in the future).
 * The whole key is written to `key_out` (ACCT_KEY_MAX + 1 bytes) and is
 * never seen again: the store keeps only its id and a hash.  Wipe it
 * with acct_wipe() after showing it.  *out (may be NULL) gets the
 * key's record.
 */
ACCT_API int acct_apikey_add(acct_apikey **out, char key_out[ACCT_KEY_MAX + 1], acct_db *db,
                             const char *account, const char *name, unsigned int scopes,
                             int64_t expires_at);
/* `id` is the 12-character id, with or without the "pstn_" prefix. */
ACCT_API int acct_apikey_get(acct_apikey **out, acct_db *db, const char *id);
ACCT_API void acct_apikey_free(acct_apikey *key);

typedef int (*acct_apikey_cb)(const acct_apikey *key, void *ctx);
ACCT_API int acct_apikey_foreach(acct_db *db, const char *account, acct_apikey_cb cb, void *ctx);

/* Revoke a key; ACCT_ECONFLICT if it already is. */
ACCT_API int acct_apikey_revoke(acct_db *db, const char *id);

/* Scopes: "mail.send,keys.write" <-> bits.  The format form writes
 * the canonical order into buf. */
ACCT_API int acct_scopes_parse(unsigned int *out, acct_db *db, const char *text);
ACCT_API int acct_scopes_format(char *buf, size_t buflen, unsigned int scopes);

/* Expiry text "90d", "12h", "4w", "2027-01-31" (valid through that
 * day, UTC), "2027-01-31T12:00:00Z", "never" -> time (0 = never). */
ACCT_API int acct_expiry_parse(int64_t *out, acct_db *db, const char *text);
/* "2026-11-01", "2026-11-01T08:00:00Z" or "7d"/"12h"/"30m"/"2w" ago. */
ACCT_API int acct_since_parse(int64_t *out, acct_db *db, const char *text);

/* ---------------------------------------------------------------- */
/* IP allowlists                                                     */

typedef struct acct_ip {
	const char *cidr;  /* canonical, e.g. "192.0.2.0/24", "2001:db8::/32" */
	const char *label; /* may be "" */
	int64_t created_at;
} acct_ip;

/* Allow a network (or a single address) for an account.  Host bits
 * set is ACCT_EINVAL with a suggestion; an IPv4-mapped IPv6 network is
 * stored as IPv4.  ACCT_EEXISTS when that network is already listed. */
ACCT_API int acct_ip_add(acct_db *db, const char *account, const char *cidr, const char *label);
ACCT_API int acct_ip_del(acct_db *db, const char *account, const char *cidr);

typedef int (*acct_ip_cb)(const acct_ip *entry, void *ctx);
ACCT_API int acct_ip_foreach(acct_db *db, const char *account, acct_ip_cb cb, void *ctx);

/* ACCT_OK if `address` may act for the account (an empty list allows
 * every address), ACCT_EDENIED if not, ACCT_EINVAL for a bad address. */
ACCT_API int acct_ip_check(acct_db *db, const char *account, const char *address);

/* ---------------------------------------------------------------- */
/* The audit log                                                     */

typedef struct acct_audit_entry {
	int64_t id;
	int64_t time;
	const char *actor;   /* "os:root", "user:a@example.com", "apikey:ID", "smtp" */
	const char *action;  /* "account.add", "auth.deny", ... */
	const char *account; /* may be NULL */
	const char *target;  /* what was acted on: email, key id, CIDR; may be NULL */
	const char *detail;  /* reason or before/after; never a secret; may be NULL */
	const char *address; /* client address for security events; may be NULL */
} acct_audit_entry;

typedef struct acct_audit_query {
	const char *account; /* NULL = every account */
	int64_t since;       /* 0 = from the beginning */
	int64_t until;       /* 0 = up to now */
	int limit;           /* 0 = no limit; the newest `limit` entries */
} acct_audit_query;

typedef int (*acct_audit_cb)(const acct_audit_entry *entry, void *ctx);

/* Entries oldest first (within the limit of the newest). */
ACCT_API int acct_audit_foreach(acct_db *db, const acct_audit_query *query, acct_audit_cb cb, void *ctx);

/* Record a security event from outside the library (e.g. the shell's
 * refused self-service login).  `action` is lowercase dotted, e.g.
 * "login.deny"; the others may be NULL. */
ACCT_API int acct_audit_add(acct_db *db, const char *action, const char *account, const char *target,
                            const char *detail, const char *address);

/* ---------------------------------------------------------------- */
/* The SMTP AUTH decision                                            */

typedef enum acct_reason {
	ACCT_R_OK = 0,
	ACCT_R_MALFORMED_KEY,      /* not shaped like a Postern key */
	ACCT_R_BAD_CHECKSUM,       /* shaped like one, checksum wrong: mistyped */
	ACCT_R_UNKNOWN_KEY,        /* no key with that id */
	ACCT_R_WRONG_SECRET,       /* id known, secret wrong */
	ACCT_R_REVOKED,
	ACCT_R_EXPIRED,
	ACCT_R_MISSING_SCOPE,      /* key lacks mail.send */
	ACCT_R_ACCOUNT_DISABLED,
	ACCT_R_PARENT_DISABLED,
	ACCT_R_IP_NOT_ALLOWED,
	ACCT_R_UNKNOWN_ACCOUNT,
	ACCT_R_UNKNOWN_USER,
	ACCT_R_BAD_PASSWORD,
	ACCT_R_USER_DISABLED,
	ACCT_R_PASSWORD_AUTH_OFF,  /* the account does not allow SMTP password logins */
	ACCT_R_2FA_REQUIRED,       /* the account requires 2FA: no SMTP password logins */
	ACCT_R_BAD_ADDRESS,        /* the client address could not be parsed */
	ACCT_R_STORE_UNAVAILABLE,
	/* two-factor authentication */
	ACCT_R_2FA_NOT_ENROLLED,   /* the account requires 2FA and the user has none */
	ACCT_R_CODE_REQUIRED,      /* the user has 2FA: a code is needed */
	ACCT_R_BAD_CODE,           /* wrong or malformed TOTP or recovery code */
	ACCT_R_CODE_REPLAYED,      /* a code of a time step already used */
	ACCT_R_LOCKED_OUT,         /* too many failures: wait */
	ACCT_R_2FA_NOT_ENABLED,    /* the user has no confirmed 2FA */
	ACCT_R_KEY_FILE            /* the master key file is missing or wrong */
} acct_reason;

/* A short fixed English text for a reason ("key revoked"). */
ACCT_API const char *acct_reason_text(acct_reason reason);
/* A stable token for logs and JSON ("revoked"). */
ACCT_API const char *acct_reason_code(acct_reason reason);

typedef enum acct_verdict_kind {
	ACCT_ALLOW = 0,
	ACCT_DENY = 1,
	ACCT_TEMPFAIL = 2 /* the store is unavailable: the client should retry */
} acct_verdict_kind;

typedef struct acct_verdict {
	acct_verdict_kind kind;
	acct_reason reason;
	char account[ACCT_NAME_MAX + 1];   /* with ACCT_ALLOW: who sends */
	char key_id[ACCT_KEY_ID_MAX + 1];  /* the key used, if any */
} acct_verdict;

/*
 * Decide an SMTP AUTH: username "apikey" with an API key as the
 * password, or a user's email with their password where the account
 * allows it; `client_address` is the SMTP client's IP address (NULL or
 * "" skips the allowlist, for callers without one).
 * Every deny is recorded in the audit log with its precise reason.
 * Returns ACCT_OK whenever *out holds a verdict (allow, deny or
 * tempfail); a negative code only for bad arguments.
 */
ACCT_API int acct_auth_decide(acct_verdict *out, acct_db *db, const char *username, const char *password,
                              const char *client_address);

/* What an administrator's "apikey check" asks: would this key be
 * accepted for SMTP (shape, checksum, existence, secret, revocation,
 * expiry, mail.send scope, account and parent active)?  The IP
 * allowlist is not consulted, nothing is recorded and nothing changes.
 * Returns ACCT_OK whenever *out holds a verdict. */
ACCT_API int acct_apikey_verify(acct_verdict *out, acct_db *db, const char *key);

/*
 * Deferred writes, for a daemon on the request path: with `on`, the
 * last_used_at updates acct_auth_decide makes are kept on the handle
 * and written together, in one transaction, by acct_flush (call it
 * about once a second), when the handle's table of 3072 keys fills,
 * and by acct_close; off flushes first.  The audit log, revocations and
 * every other write are never deferred.  acct_flush returns ACCT_OK or
 * a store failure (ACCT_EBUSY, ACCT_EUNAVAIL ...), keeping what it could
 * not write for the next call.
 */
ACCT_API int acct_set_deferred_writes(acct_db *db, int on);
ACCT_API int acct_flush(acct_db *db);

/* Re-check an already authenticated account (the policy service, at
 * RCPT): active, parent active, client address allowed. */
ACCT_API int acct_account_check(acct_verdict *out, acct_db *db, const char *account, const char *client_address);

/* ---------------------------------------------------------------- */
/* Two-factor authentication (TOTP, RFC 6238, through liboath)       */
/*
 * A user's 2FA is NONE, PENDING (enrolled, not yet confirmed with a
 * code) or ENABLED.  The TOTP secret is stored encrypted with
 * AES-256-GCM under a master key kept outside the database, in the key
 * file (created 0600 on first use); the database alone reveals no
 * secret.  Codes may contain spaces ("123 456", as apps show them).
 * Verification accepts the current step and `totp_window` steps either
 * side, refuses a step not newer than the last accepted one (replay),
 * and after 5 consecutive failures locks the user out for a time that
 * doubles with each further failure (30 s, 60 s, ... up to 1 hour).
 * Every failure, lockout, recovery-code use and change is audited.
 */

typedef enum acct_2fa_state {
	ACCT_2FA_NONE = 0,
	ACCT_2FA_PENDING = 1,
	ACCT_2FA_ENABLED = 2
} acct_2fa_state;

typedef struct acct_2fa_enrollment {
	char *secret;  /* base32, for typing into an app */
	char *uri;     /* otpauth://totp/ISSUER:EMAIL?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30 */
	char *qr;      /* the URI as a QR code for a terminal, lines ending in '\n' */
} acct_2fa_enrollment;

/* Wipes the secret and frees; NULL is accepted. */
ACCT_API void acct_2fa_enrollment_free(acct_2fa_enrollment *e);

#define ACCT_QR_ASCII 0x1 /* plain ASCII ("##" and "  ") instead of UTF-8 half blocks */

/*
 * Start (or restart) enrollment: a fresh 160-bit secret, state PENDING.
 * Replacing an ENABLED secret needs `proof`, a valid current code or an
 * unused recovery code (ACCT_EDENIED otherwise); NULL is fine for NONE
 * or PENDING.  Needs the key file (ACCT_EPERM / ACCT_EUNAVAIL with a
 * message if it cannot be read or created).
 */
ACCT_API int acct_2fa_enroll(acct_2fa_enrollment **out, acct_db *db, const char *email, const char *proof,
                             unsigned int flags);

#define ACCT_RECOVERY_CODES 10
#define ACCT_RECOVERY_CODE_LEN 11 /* "xxxxx-xxxxx", lowercase base32 */

typedef struct acct_recovery_codes {
	char code[ACCT_RECOVERY_CODES][ACCT_RECOVERY_CODE_LEN + 1];
} acct_recovery_codes;

/* PENDING -> ENABLED with a valid current code; only then are the 10
 * single-use recovery codes made and returned (they are stored hashed
 * and never shown again: wipe *out with acct_wipe after showing it).
 * ACCT_EDENIED with *why for a wrong code, ACCT_ECONFLICT if not PENDING. */
ACCT_API int acct_2fa_confirm(acct_recovery_codes *out, acct_reason *why, acct_db *db, const char *email,
                              const char *code);

/* Check a TOTP code of an ENABLED user.  ACCT_OK, or ACCT_EDENIED with
 * *why: BAD_CODE, CODE_REPLAYED, LOCKED_OUT, 2FA_NOT_ENABLED, KEY_FILE. */
ACCT_API int acct_2fa_verify(acct_reason *why, acct_db *db, const char *email, const char *code);

/* Use a recovery code (once).  Same returns as acct_2fa_verify. */
ACCT_API int acct_2fa_recover(acct_reason *why, acct_db *db, const char *email, const char *recovery_code);

typedef struct acct_2fa_info {
	acct_2fa_state state;
	int64_t enabled_at;      /* 0 unless ENABLED */
	int recovery_codes_left;
	int failures;            /* consecutive */
	int64_t locked_until;    /* 0 = not locked */
} acct_2fa_info;

ACCT_API int acct_2fa_status(acct_2fa_info *out, acct_db *db, const char *email);

/* New recovery codes (the old ones stop working); needs `proof` as for
 * re-enrolling, or NULL from an administrator (audited as such). */
ACCT_API int acct_2fa_recovery_regenerate(acct_recovery_codes *out, acct_db *db, const char *email,
                                          const char *proof);

/* Turn 2FA off for a user: with `proof` (the user) or NULL (an
 * administrator's reset).  Audited either way. */
ACCT_API int acct_2fa_disable(acct_db *db, const char *email, const char *proof);

/* Re-encrypt every TOTP secret under a new master key, in one
 * transaction, and make it the key file's current key. */
ACCT_API int acct_2fa_rotate_key(acct_db *db);

/*
 * The whole interactive login of a user: password, then a TOTP code or
 * a recovery code (`code`, may be NULL when the user has no 2FA), then
 * the account's state and the client address (may be NULL).  An
 * account with require_2fa refuses users without ENABLED 2FA
 * (ACCT_R_2FA_NOT_ENROLLED).  Returns ACCT_OK whenever *out holds a
 * verdict; every deny is audited as "login.deny".
 */
ACCT_API int acct_login_check(acct_verdict *out, acct_db *db, const char *email, const char *password,
                              const char *code, const char *client_address);

/* ---------------------------------------------------------------- */
/* Delivery events and the TLS report                                */

/*
 * What happened to each recipient of each message an account submitted,
 * learned from Postfix's log (smtp-hook/maillog_follow.c; schema in
 * db/README.md).  One row per (queue id, recipient, submission time):
 * a deferral is recorded with its reason and replaced by the final
 * outcome; a final outcome is never replaced by a later deferral, so
 * recording the same lines twice changes nothing.  Events are not
 * audited (they are not changes made by anyone); pruning them is.
 */
typedef enum acct_event_type {
	ACCT_EVENT_ANY = 0,       /* in queries only */
	ACCT_EVENT_DELIVERED = 1,
	ACCT_EVENT_DEFERRED = 2,
	ACCT_EVENT_BOUNCED = 3,
	ACCT_EVENT_BLOCKED = 4    /* an enforcing transport refused to send
	                             without the required TLS */
} acct_event_type;

/* What Postfix's smtp client said of the remote certificate. */
typedef enum acct_tls_trust {
	ACCT_TRUST_NONE = 0,      /* not over TLS (or not known to be) */
	ACCT_TRUST_UNKNOWN = 1,   /* TLS; the log gave no trust level (Postfix < 2.5) */
	ACCT_TRUST_ANONYMOUS = 2, /* no certificate (anonymous cipher) */
	ACCT_TRUST_UNTRUSTED = 3, /* certificate chain not trusted */
	ACCT_TRUST_TRUSTED = 4,   /* chain trusted, name not checked or not matched */
	ACCT_TRUST_VERIFIED = 5   /* chain trusted and name matched */
} acct_tls_trust;

#define ACCT_QUEUE_ID_MAX 31
#define ACCT_EVENT_ADDR_MAX 511
#define ACCT_EVENT_TEXT_MAX 511

typedef struct acct_event {
	int64_t id;               /* set by the store; ignored by acct_event_add */
	int64_t time;             /* of this outcome */
	int64_t submitted_at;     /* when smtpd accepted the message */
	const char *queue_id;     /* Postfix's, short or long form */
	const char *account;      /* the SASL user name: an account, or a
	                             user's email (stored as that user's account) */
	const char *sender;       /* envelope sender, "" = null sender; may be NULL */
	const char *recipient;
	const char *message_id;   /* may be NULL */
	const char *client;       /* submitting client "name[addr]"; may be NULL */
	acct_event_type type;
	const char *dsn;          /* "5.7.4"; may be NULL */
	const char *reason;       /* Postfix's text; may be NULL */
	const char *relay;        /* "mx.example.com[192.0.2.1]:25" or "none"; may be NULL */
	const char *transport;    /* "postfix/postern-tls-encrypt/smtp"; may be NULL */
	const char *tls_protocol; /* "TLSv1.3"; NULL = not over TLS */
	const char *tls_cipher;   /* may be NULL */
	acct_tls_trust tls_trust;
	int tls_refused;          /* deferred or blocked for want of TLS */
} acct_event;

/* A message qmgr gave up on: its recipients still deferred become
 * ACCT_EVENT_BLOCKED (deferred for want of TLS) or ACCT_EVENT_BOUNCED. */
typedef struct acct_event_expiry {
	const char *queue_id;
	int64_t submitted_at;
	int64_t time;
} acct_event_expiry;

/* A message of an account still in Postfix's queue, as the follower
 * remembers it across its restarts. */
typedef struct acct_pending_msg {
	const char *queue_id;
	const char *account;
	const char *sender;     /* may be NULL (not yet seen) */
	const char *message_id; /* may be NULL */
	const char *client;     /* may be NULL */
	int64_t submitted_at;
} acct_pending_msg;

/* The TLS state of one of Postfix's smtp processes, as the follower
 * remembers it across its restarts (schema 6): the "... TLS connection
 * established to HOST" line (or "certificate verification failed for
 * HOST") that process logged last, which its following delivery lines to
 * the same host inherit, since they carry no TLS details of their own.
 * One per process id; the follower keeps at most a fixed number (its
 * table of smtp processes, 512) and deletes them as it drops them. */
typedef struct acct_smtp_tls {
	int64_t pid;              /* > 0 */
	int64_t time;             /* of the log line that set it */
	const char *host;         /* as logged: "mx.example.com[192.0.2.1]:25" */
	int established;          /* a connection is established (else only
	                             a verification failure was seen) */
	const char *protocol;     /* "TLSv1.3"; may be NULL when not established */
	const char *cipher;       /* may be NULL */
	acct_tls_trust tls_trust;
	const char *verify_error; /* the certificate error logged just before; may be NULL */
} acct_smtp_tls;

#define ACCT_LOG_FINGERPRINT_MAX 64

/* Where a log follower is: the file's identity and the offset after
 * the last line it has taken into account.  The fingerprint is the
 * follower's own (opaque to the store, schema 5): how it recognises the
 * file once renamed and compressed; fingerprint_len 0 = none. */
typedef struct acct_log_pos {
	int64_t device;
	int64_t inode;
	int64_t offset;
	int64_t updated_at; /* set by the store */
	size_t fingerprint_len; /* 0..ACCT_LOG_FINGERPRINT_MAX */
	unsigned char fingerprint[ACCT_LOG_FINGERPRINT_MAX];
} acct_log_pos;

/* Everything a follower learned from a stretch of log, recorded in ONE
 * transaction together with its new position, so that a crash either
 * keeps both or neither.  Any count may be 0; pos NULL = unchanged. */
typedef struct acct_event_batch {
	const acct_event *events;
	size_t n_events;
	const acct_event_expiry *expired;
	size_t n_expired;
	const acct_pending_msg *opened;  /* inserted or replaced */
	size_t n_opened;
	const acct_pending_msg *closed;  /* queue_id and submitted_at only */
	size_t n_closed;
	const char *log_name;            /* the followed file's path; needed with pos */
	const acct_log_pos *pos;
	/* smtp processes' TLS state (schema 6): the pids in tls_dropped are
	 * deleted first, then each of tls_set inserted or replaced (by pid) */
	const int64_t *tls_dropped;
	size_t n_tls_dropped;
	const acct_smtp_tls *tls_set;
	size_t n_tls_set;
} acct_event_batch;

/* Record a batch.  ACCT_EINVAL (nothing written) if an event lacks a
 * queue id, account or recipient, has an unknown type, or a string is
 * longer than its maximum (queue id ACCT_QUEUE_ID_MAX, addresses
 * ACCT_EVENT_ADDR_MAX, texts ACCT_EVENT_TEXT_MAX), or a TLS state has a
 * pid <= 0, no host, an unknown trust or a string too long (host
 * ACCT_EVENT_ADDR_MAX, protocol 31, cipher 127, verify_error
 * ACCT_EVENT_TEXT_MAX). */
ACCT_API int acct_event_add(acct_db *db, const acct_event_batch *batch);

/* The saved position of the follower of `log_name`; ACCT_ENOTFOUND if
 * it never saved one. */
ACCT_API int acct_logpos_get(acct_db *db, const char *log_name, acct_log_pos *out);

typedef int (*acct_pending_cb)(const acct_pending_msg *msg, void *ctx);

/* The messages in flight, oldest first. */
ACCT_API int acct_pending_foreach(acct_db *db, acct_pending_cb cb, void *ctx);

typedef int (*acct_smtp_tls_cb)(const acct_smtp_tls *tls, void *ctx);

/* The smtp processes' TLS state the follower saved, oldest first
 * (borrowed strings, valid during the callback).  A callback returning
 * non-zero stops the iteration, whose result that is. */
ACCT_API int acct_smtp_tls_foreach(acct_db *db, acct_smtp_tls_cb cb, void *ctx);

typedef struct acct_event_query {
	const char *account;  /* NULL = every account */
	int64_t since;        /* 0 = from the beginning (by event time) */
	int64_t until;        /* 0 = up to now */
	acct_event_type type; /* ACCT_EVENT_ANY = every type */
	int limit;            /* 0 = no limit: the newest `limit` events */
} acct_event_query;

typedef int (*acct_event_cb)(const acct_event *event, void *ctx);

/* Events oldest first (within the limit of the newest).  A callback
 * returning non-zero stops the iteration, whose result that is. */
ACCT_API int acct_event_foreach(acct_db *db, const acct_event_query *query, acct_event_cb cb, void *ctx);

#define ACCT_TLS_REPORT_PROTOCOLS 8

/* An account's TLS posture over the final outcomes since a time. */
typedef struct acct_tls_report {
	int64_t delivered;       /* recipients delivered */
	int64_t delivered_tls;   /* ... over TLS */
	int64_t delivered_clear; /* ... in the clear */
	int64_t verified;        /* delivered over TLS with ACCT_TRUST_VERIFIED */
	int64_t unverified;      /* delivered over TLS, any other trust level */
	int64_t blocked;
	int64_t bounced;
	int64_t deferred;        /* still deferred (not final) */
	size_t n_protocols;      /* delivered over TLS, by protocol, most used first */
	struct {
		char protocol[32];
		int64_t count;
	} protocols[ACCT_TLS_REPORT_PROTOCOLS]; /* beyond 8 versions: "other" */
} acct_tls_report;

/* The report of `account` (NULL = every account) since `since` (0 =
 * all).  The share over TLS is delivered_tls / delivered. */
ACCT_API int acct_tls_report_get(acct_tls_report *out, acct_db *db, const char *account, int64_t since);

typedef int (*acct_domain_cb)(const char *domain, int64_t count, void *ctx);

/* The recipient domains that received mail of `account` in the clear
 * since `since`, most recipients first: the ones to look at before
 * turning on enforced TLS. */
ACCT_API int acct_tls_cleardomain_foreach(acct_db *db, const char *account, int64_t since,
                                          acct_domain_cb cb, void *ctx);

/* Delete events older than `before` (by event time; deferred ones of
 * messages still in flight are kept) and report how many; audited as
 * "event.prune" when it deleted any.  The audit log is not touched. */
ACCT_API int acct_event_del_before(acct_db *db, int64_t before, int64_t *deleted);

/* ---- MTA-STS policy cache (db/0004_mtasts.sql) ----
 *
 * The policies postern-hookd's TLS policy service fetched (RFC 8461),
 * kept in the database so that a restart loses none, and the negative
 * cache of domains that had none.  The library stores what it is given
 * and checks its form; parsing a policy file is the daemon's
 * (smtp-hook/mtasts.c).  Times come from the handle's clock.  Nothing
 * here is audited: these are observations of DNS, not changes made by
 * anyone. */

#define ACCT_STS_DOMAIN_MAX 253
#define ACCT_STS_ID_MAX 32
#define ACCT_STS_POLICY_MAX 65536
#define ACCT_STS_ERROR_MAX 511
#define ACCT_STS_MAX_AGE_MAX 31557600
#define ACCT_STS_NOPOLICY_TTL_MAX 86400

typedef enum acct_sts_kind {
	ACCT_STS_POLICY = 1,  /* a fetched policy (possibly expired) */
	ACCT_STS_NOPOLICY = 2 /* negative entry: no policy when checked */
} acct_sts_kind;

/* One cached domain.  From acct_sts_get: owned by the caller, freed
 * with acct_sts_entry_free; in acct_sts_foreach: borrowed for the
 * callback's duration. */
typedef struct acct_sts_entry {
	const char *domain;     /* lower case, no final dot */
	acct_sts_kind kind;
	const char *id;         /* POLICY: the TXT id it was fetched for; else NULL */
	const char *policy;     /* POLICY: the policy file as fetched; else NULL */
	size_t policy_len;
	const char *mode;       /* POLICY: "enforce", "testing" or "none"; else NULL */
	int64_t max_age;        /* POLICY: seconds; else 0 */
	int64_t fetched_at;     /* when fetched (POLICY) or found absent (NOPOLICY) */
	int64_t expires;        /* POLICY: fetched_at + max_age; NOPOLICY: end of the negative TTL */
	int64_t checked_at;     /* last time DNS was asked about the domain */
	const char *last_error; /* the last failed check or refetch; NULL = none since */
	int64_t last_error_at;  /* 0 = none */
} acct_sts_entry;

/* Store a freshly fetched policy for `domain` (insert or replace,
 * replacing a negative entry too): fetched_at and checked_at are now,
 * expires now + max_age, the last error cleared.  ACCT_EINVAL (nothing
 * written) unless domain is a lower-case host name of at most 253 bytes,
 * id 1..32 letters and digits, policy at most 64 KiB without NUL,
 * mode one of the three and max_age 0..31557600. */
ACCT_API int acct_sts_put_policy(acct_db *db, const char *domain, const char *id, const char *policy,
                                 size_t policy_len, const char *mode, int64_t max_age);

/* Record that `domain` has no policy, for `ttl` seconds (1..86400).  An
 * unexpired cached policy is kept: ACCT_ECONFLICT, nothing written (a
 * missing TXT record does not cancel it, RFC 8461 section 3.2); an
 * expired one is replaced. */
ACCT_API int acct_sts_put_nopolicy(acct_db *db, const char *domain, int64_t ttl);

/* Record a check of `domain` that changed nothing (error NULL: the TXT id
 * was unchanged) or that failed (error: what went wrong, at most 511
 * bytes, never a secret).  ACCT_ENOTFOUND if the domain is not cached. */
ACCT_API int acct_sts_touch(acct_db *db, const char *domain, const char *error);

/* The cached entry of `domain` (lower case), or ACCT_ENOTFOUND. */
ACCT_API int acct_sts_get(acct_sts_entry **out, acct_db *db, const char *domain);
ACCT_API void acct_sts_entry_free(acct_sts_entry *entry);

typedef int (*acct_sts_cb)(const acct_sts_entry *entry, void *ctx);

/* Every cached entry, soonest to expire first.  A callback returning
 * non-zero stops the iteration, whose result that is. */
ACCT_API int acct_sts_foreach(acct_db *db, acct_sts_cb cb, void *ctx);

/* Forget a cached domain; ACCT_ENOTFOUND if it was not cached. */
ACCT_API int acct_sts_del(acct_db *db, const char *domain);

/* Overwrite a secret in memory (OPENSSL_cleanse). */
ACCT_API void acct_wipe(void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* POSTERN_ACCOUNT_H */

/*
 * The store layer: the only code that talks to a database engine.
 *
 * Everything above it (accounts, users, keys, the verdict) works on the
 * plain records below and calls the operations through a struct of
 * function pointers, so a second backend (PostgreSQL for fleets of MTAs
 * sharing one store) is a new store_<name>.c and a line in the
 * registry, with no change to any caller.  Operations return ACCT_OK or
 * an ACCT_E... code and leave a message in store->err.
 */
#ifndef ACCT_STORE_H
#define ACCT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "postern/account.h"

#define STORE_ERR_MAX 512
#define REC_LABEL_MAX 128
#define REC_HASH_MAX 160
#define REC_SCOPES_MAX 160
#define REC_CIDR_MAX 64

typedef struct rec_account {
	int64_t id;
	int64_t parent_id; /* 0 = none */
	int64_t created_at;
	char name[ACCT_NAME_MAX + 1];
	char parent[ACCT_NAME_MAX + 1]; /* "" = none (read only) */
	int parent_disabled;            /* read only */
	int disabled;
	int require_2fa;
	int smtp_password_auth;
	int tls_mode;               /* acct_tls_mode */
	int tls_require_valid_cert;
	int tls_min_version;        /* 12 or 13 */
} rec_account;

typedef struct rec_user {
	int64_t id;
	int64_t account_id;
	int64_t created_at;
	int64_t password_changed_at;
	char email[ACCT_EMAIL_MAX + 1];
	char account[ACCT_NAME_MAX + 1]; /* read only */
	char password_hash[REC_HASH_MAX];/* "" = none */
	int disabled;
} rec_user;

typedef struct rec_key {
	int64_t id;
	int64_t account_id;
	int64_t created_at;
	int64_t expires_at;
	int64_t last_used_at;
	int64_t revoked_at;
	char public_id[ACCT_KEY_ID_MAX + 1];
	char account[ACCT_NAME_MAX + 1]; /* read only */
	char name[REC_LABEL_MAX + 1];
	char scopes[REC_SCOPES_MAX];
	unsigned char secret_hash[32];
} rec_key;

typedef struct rec_ip {
	int64_t id;
	int64_t account_id;
	int64_t created_at;
	char cidr[REC_CIDR_MAX];
	char label[REC_LABEL_MAX + 1];
} rec_ip;

/* ---- two-factor authentication (totp.c, db/0002_totp.sql) ---- */

#define REC_TOTP_CT_MAX 80   /* ciphertext + GCM tag */
#define REC_TOTP_NONCE_LEN 12
#define REC_TOTP_KEY_ID_MAX 32
#define REC_RECOVERY_HASH_LEN 32

typedef struct rec_totp {
	int64_t user_id;
	int state;                    /* ACCT_2FA_PENDING or ACCT_2FA_ENABLED */
	unsigned char secret[REC_TOTP_CT_MAX]; /* AES-256-GCM ciphertext || tag */
	size_t secret_len;
	unsigned char nonce[REC_TOTP_NONCE_LEN];
	char key_id[REC_TOTP_KEY_ID_MAX + 1];
	int digits;
	int period;
	int64_t last_step;            /* -1 = no code accepted yet */
	int64_t failures;             /* consecutive */
	int64_t locked_until;         /* 0 = not locked */
	int64_t created_at;
	int64_t enabled_at;           /* 0 = not enabled */
} rec_totp;

typedef struct rec_recovery {
	int64_t id;
	int64_t user_id;
	unsigned char code_hash[REC_RECOVERY_HASH_LEN];
} rec_recovery;

typedef int (*rec_totp_cb)(const rec_totp *rec, void *ctx);
typedef int (*rec_recovery_cb)(const rec_recovery *rec, void *ctx);

typedef struct store store;

typedef struct store_open_args {
	int readonly;
	int no_create;
	int busy_timeout_ms;
} store_open_args;

typedef int (*rec_account_cb)(const rec_account *rec, void *ctx);
typedef int (*rec_user_cb)(const rec_user *rec, void *ctx);
typedef int (*rec_key_cb)(const rec_key *rec, void *ctx);
typedef int (*rec_ip_cb)(const rec_ip *rec, void *ctx);

typedef struct store_ops {
	const char *name;
	/* *out is set even on failure when there is a message to read */
	int (*open)(store **out, const char *location, const store_open_args *args);
	void (*close)(store *st);
	/* file mode warnings etc.: ACCT_WARN_ bits */
	unsigned int (*warnings)(store *st);

	int (*schema_version)(store *st, int *out);
	/* run one migration and set the version, in one transaction */
	int (*migrate)(store *st, int version, const char *sql);
	int (*check_application)(store *st);

	int (*begin)(store *st); /* a write transaction */
	int (*commit)(store *st);
	void (*rollback)(store *st);

	int (*account_insert)(store *st, rec_account *rec); /* sets rec->id */
	int (*account_get)(store *st, const char *name, rec_account *out);
	/* parent_id < 0: every account; 0: top-level ones; > 0: children of */
	int (*account_foreach)(store *st, int64_t parent_id, rec_account_cb cb, void *ctx);
	int (*account_count_children)(store *st, int64_t id, int64_t *out);
	int (*account_update)(store *st, const rec_account *rec);
	int (*account_delete)(store *st, int64_t id);

	int (*user_insert)(store *st, rec_user *rec);
	int (*user_get)(store *st, const char *email, rec_user *out);
	int (*user_foreach)(store *st, int64_t account_id, rec_user_cb cb, void *ctx);
	int (*user_update)(store *st, const rec_user *rec);
	int (*user_delete)(store *st, int64_t id);

	int (*key_insert)(store *st, rec_key *rec);
	int (*key_get)(store *st, const char *public_id, rec_key *out);
	int (*key_foreach)(store *st, int64_t account_id, rec_key_cb cb, void *ctx);
	int (*key_update)(store *st, const rec_key *rec); /* revoked_at, last_used_at */
	/* last_used_at alone, and never moved back: an AUTH that read the key
	 * before a concurrent revoke must not write the old revoked_at back. */
	int (*key_touch)(store *st, int64_t id, int64_t when);

	int (*ip_insert)(store *st, rec_ip *rec);
	int (*ip_delete)(store *st, int64_t account_id, const char *cidr); /* ACCT_ENOTFOUND if none */
	int (*ip_foreach)(store *st, int64_t account_id, rec_ip_cb cb, void *ctx);

	int (*audit_insert)(store *st, int64_t time, const char *actor, const char *action, const char *account,
	                    const char *target, const char *detail, const char *address);
	int (*audit_foreach)(store *st, const acct_audit_query *q, acct_audit_cb cb, void *ctx);
	/* ---- two-factor authentication ---- */
	int (*totp_get)(store *st, int64_t user_id, rec_totp *out); /* ACCT_ENOTFOUND if none */
	int (*totp_put)(store *st, const rec_totp *rec);            /* insert or replace */
	int (*totp_delete)(store *st, int64_t user_id);             /* no row is fine */
	int (*totp_foreach)(store *st, rec_totp_cb cb, void *ctx);  /* every row, by user id */
	int (*recovery_insert)(store *st, int64_t user_id, const unsigned char hash[REC_RECOVERY_HASH_LEN],
	                       int64_t created_at);
	int (*recovery_delete)(store *st, int64_t user_id);         /* the user's whole set */
	/* the unused codes of a user */
	int (*recovery_foreach)(store *st, int64_t user_id, rec_recovery_cb cb, void *ctx);
	int (*recovery_use)(store *st, int64_t id, int64_t used_at); /* ACCT_ENOTFOUND if used or gone */
	int (*recovery_count)(store *st, int64_t user_id, int64_t *out); /* unused ones */
	/* ---- delivery events (events.c, db/0003_events.sql) ---- */
	/* insert, or replace as acct_event_add documents; e->account already
	 * resolved; login = the SASL name; network = by the smtp client */
	int (*event_put)(store *st, const acct_event *e, const char *login, const char *domain, int network);
	int (*event_expire)(store *st, const acct_event_expiry *x);
	int (*pending_put)(store *st, const acct_pending_msg *m);            /* insert or replace */
	int (*pending_del)(store *st, const char *queue_id, int64_t submitted_at); /* none is fine */
	int (*pending_foreach)(store *st, acct_pending_cb cb, void *ctx);
	int (*logpos_put)(store *st, const char *name, const acct_log_pos *p, int64_t now);
	int (*logpos_get)(store *st, const char *name, acct_log_pos *out);  /* ACCT_ENOTFOUND if none */
	/* smtp processes' TLS state (db/0006_smtp_tls.sql) */
	int (*smtptls_put)(store *st, const acct_smtp_tls *t);  /* insert or replace, by pid */
	int (*smtptls_del)(store *st, int64_t pid);              /* none is fine */
	int (*smtptls_foreach)(store *st, acct_smtp_tls_cb cb, void *ctx); /* by time */
	int (*event_foreach)(store *st, const acct_event_query *q, acct_event_cb cb, void *ctx);
	int (*tls_report)(store *st, const char *account, int64_t since, acct_tls_report *out);
	int (*cleardomain_foreach)(store *st, const char *account, int64_t since, acct_domain_cb cb, void *ctx);
	int (*event_prune)(store *st, int64_t before, int64_t *deleted);
	/* changes whenever another connection has committed (acct_data_version) */
	int (*data_version)(store *st, int64_t *out);
	/* ---- MTA-STS policy cache (mtasts_cache.c, db/0004_mtasts.sql) ---- */
	int (*sts_put)(store *st, const acct_sts_entry *e);        /* insert or replace */
	/* one call of cb with a borrowed entry; ACCT_ENOTFOUND if none */
	int (*sts_get)(store *st, const char *domain, acct_sts_cb cb, void *ctx);
	int (*sts_foreach)(store *st, acct_sts_cb cb, void *ctx);  /* by expires */
	/* checked_at = at; last_error = error (NULL clears); ACCT_ENOTFOUND if none */
	int (*sts_touch)(store *st, const char *domain, const char *error, int64_t at);
	int (*sts_del)(store *st, const char *domain);             /* ACCT_ENOTFOUND if none */
} store_ops;

/* What every backend's handle starts with. */
struct store {
	const store_ops *ops;
	char err[STORE_ERR_MAX];
};

/* NULL-terminated registry; the first is the default. */
extern const store_ops *const store_backends[];
extern const store_ops store_sqlite;

#endif

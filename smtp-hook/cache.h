/*
 * The daemon's answer cache: the allows of recent AUTH and RCPT
 * decisions, so that the steady stream of identical questions from
 * Postfix does not cost three SQLite queries each.
 *
 * It can never answer stale: before the first use in each batch of
 * requests (everything the event loop read after one wake-up, see
 * hookd_batch) the daemon asks the store whether anyone else committed
 * anything (acct_data_version, one cheap PRAGMA) and forgets everything
 * if so, so a revoked key, a disabled account or a removed network
 * takes effect on the very next request.
 * Only allows are kept (every deny goes to the library, which audits
 * it); an entry lives at most CACHE_TTL seconds (so the library still
 * records a key's last use) and never past its key's expiry.  Entries
 * are keyed by a salted SHA-256 of the question, never by the secret.
 */
#ifndef HOOKD_CACHE_H
#define HOOKD_CACHE_H

#include <postern/account.h>
#include <stddef.h>
#include <stdint.h>

#define CACHE_SLOTS 8192 /* per kind; a power of two */
#define CACHE_WAYS 4     /* entries a question may take (set-associative) */
#define CACHE_TTL 30

typedef struct cache cache;

cache *cache_new(void);
void cache_free(cache *c); /* wipes; NULL is fine */

/* Forget everything (the store handle changed, the configuration was reloaded). */
void cache_clear(cache *c);

/* Check the store's data version; clear on change.  ACCT_OK or the
 * store's error (then the caller answers with a temporary failure). */
int cache_sync(cache *c, acct_db *db);

/* AUTH: an allow for (key, client address)?  1 with *out filled, or 0. */
int cache_auth_get(cache *c, acct_verdict *out, const char *key, const char *address, int64_t now);
void cache_auth_put(cache *c, const acct_verdict *v, const char *key, const char *address, int64_t expires_at,
                    int64_t now);

/* RCPT: the allowed account's TLS requirement for (account, address)? */
int cache_rcpt_get(cache *c, acct_tls *out, const char *account, const char *address, int64_t now);
void cache_rcpt_put(cache *c, const acct_tls *tls, const char *account, const char *address, int64_t now);

#endif

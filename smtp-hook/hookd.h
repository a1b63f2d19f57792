/*
 * The daemon's shared state: the effective configuration and the
 * handle on the store.  The handle is opened lazily and reopened after
 * a failure, so a store that is briefly unavailable (being restored,
 * locked, on a slow disk) gives temporary failures, never a crash and
 * never a permanent refusal.
 */
#ifndef HOOKD_H
#define HOOKD_H

#include <postern/account.h>
#include <sys/types.h>
#include <time.h>

#include "cache.h"
#include "conf.h"

typedef struct hookd {
	hookd_conf conf;
	acct_db *db;
	cache *cache;  /* allows, validated against the store before each use */
	dev_t db_dev; /* the file we have open, to notice a replaced one */
	ino_t db_ino;
	time_t retry_at;  /* when to try opening the store again */
	time_t warned_at; /* last "cannot open" message, to keep the log readable */
	unsigned long db_opens; /* handles opened so far: a borrower of `db` sees a new one */
	int db_checked;    /* the file was checked in this batch of requests (hookd_batch) */
	int cache_checked; /* the cache was validated in this batch */
} hookd;

/* Set up and tear down (the cache); 0 or -1 when out of memory. */
int hookd_init(hookd *h);
void hookd_fini(hookd *h);

/* A new batch of requests begins (the event loop's batch hook, once per
 * wake-up): the next hookd_db checks the file again and the next
 * hookd_cache_sync asks the store for its data version again.  Every
 * request of one batch was sent before the loop woke up, so a change
 * committed before a request was sent is seen by that request, at the
 * cost of one check per batch instead of one per request. */
void hookd_batch(hookd *h);

/* The store, or NULL when it cannot be used now (fail closed).  The
 * file is checked (stat) once per batch. */
acct_db *hookd_db(hookd *h);

/* Validate the cache against the store (cache_sync), once per batch;
 * ACCT_OK or the store's error. */
int hookd_cache_sync(hookd *h, acct_db *db);

/* A store operation failed in a way that may be the handle's: drop it,
 * so the next request reopens the file. */
void hookd_db_failed(hookd *h);

/* Write the deferred last_used_at updates (once a second); a busy store
 * keeps them for the next call. */
void hookd_flush(hookd *h);

/* Drop the handle and retry at once (after SIGHUP). */
void hookd_reset(hookd *h);

/* The AUTH decision: acct_auth_decide on the open store, or the cache's
 * answer when nothing changed since it was made. */
int hookd_auth(hookd *h, acct_verdict *out, const char *user, const char *pass, const char *client_address);

/* Policy delegation decision for one RCPT (see policy.c).  `action`
 * receives the whole action text, e.g. "FILTER postern-tls-verify:". */
typedef struct policy_facts {
	const char *sasl_username;  /* "" for unauthenticated sessions */
	const char *client_address;
	const char *instance;       /* same for every RCPT of one message */
} policy_facts;

typedef struct policy_memo {
	char instance[64];
	char action[128];
} policy_memo;

void policy_decide(hookd *h, policy_memo *memo, const policy_facts *f, char *action, size_t len);

#endif

/*
 * The daemon's handle on the store (see hookd.h).  The store is opened
 * lazily, never created, and reopened when it failed or when the file
 * at the configured path is no longer the one we have open (restored
 * from a backup, moved away, deleted): one stat(2) per batch of
 * requests (every request the event loop read after one wake-up), so
 * the daemon never answers from a file the administrator replaced.
 * (Changes made in the file, by the shell, are seen on the very next
 * request too: the cache is validated once per batch, see cache.h.)
 */
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "hookd.h"
#include "log.h"

static void db_close(hookd *h)
{
	acct_close(h->db);
	h->db = NULL;
	h->db_checked = 0;
	h->cache_checked = 0;
	if (h->cache)
		cache_clear(h->cache); /* a new handle's data version means nothing to the old entries */
}

int hookd_init(hookd *h)
{
	return (h->cache = cache_new()) == NULL ? -1 : 0;
}

void hookd_fini(hookd *h)
{
	db_close(h);
	cache_free(h->cache);
	h->cache = NULL;
}

acct_db *hookd_db(hookd *h)
{
	acct_open_options o = ACCT_OPEN_OPTIONS_INIT;
	struct stat sb;
	time_t now;
	int r;

	if (h->db) {
		if (h->db_checked)
			return h->db;
		if (stat(h->conf.database, &sb) == 0 && sb.st_ino == h->db_ino && sb.st_dev == h->db_dev) {
			h->db_checked = 1;
			return h->db;
		}
		hlog(LOG_WARNING, "the store %s was replaced or removed: reopening", h->conf.database);
		db_close(h);
		h->retry_at = 0;
	}
	now = time(NULL);
	if (now < h->retry_at)
		return NULL;
	o.no_create = 1; /* the daemon never creates a store: the shell does */
	o.busy_timeout_ms = (int)h->conf.busy_timeout_ms;
	o.key_file = h->conf.key_file;
	o.actor = "smtp";
	if (stat(h->conf.database, &sb) != 0)
		memset(&sb, 0, sizeof(sb));
	r = acct_open(&h->db, h->conf.database, &o);
	if (r != ACCT_OK) {
		if (now >= h->warned_at + 60) {
			hlog(LOG_ERR, "cannot open the store %s: %s (answering with temporary failures)",
			     h->conf.database, acct_errmsg(h->db));
			h->warned_at = now;
		}
		db_close(h);
		h->retry_at = now + 1;
		return NULL;
	}
	h->db_ino = sb.st_ino;
	h->db_dev = sb.st_dev;
	h->db_opens++;
	h->db_checked = 1;
	h->warned_at = 0;
	/* A good AUTH's last_used_at is written once a second for every key
	 * (hookd_flush), not inside the request. */
	if (acct_set_deferred_writes(h->db, 1) != ACCT_OK)
		hlog(LOG_WARNING, "recording key use at once: %s", acct_errmsg(h->db));
	if (acct_warnings(h->db) & ACCT_WARN_FILE_MODE)
		hlog(LOG_WARNING, "%s is readable or writable by group or others", h->conf.database);
	hlog(LOG_INFO, "store %s open (schema %d)", h->conf.database, acct_schema_version(h->db));
	return h->db;
}

void hookd_batch(hookd *h)
{
	h->db_checked = 0;
	h->cache_checked = 0;
}

int hookd_cache_sync(hookd *h, acct_db *db)
{
	int r;

	if (h->cache_checked)
		return ACCT_OK;
	if ((r = cache_sync(h->cache, db)) == ACCT_OK)
		h->cache_checked = 1;
	return r;
}

void hookd_flush(hookd *h)
{
	if (h->db != NULL && acct_flush(h->db) != ACCT_OK)
		hlog(LOG_DEBUG, "recording key use deferred: %s", acct_errmsg(h->db));
}

void hookd_db_failed(hookd *h)
{
	db_close(h);
}

void hookd_reset(hookd *h)
{
	db_close(h);
	h->retry_at = 0;
}

int hookd_auth(hookd *h, acct_verdict *out, const char *user, const char *pass, const char *client_address)
{
	acct_apikey *k = NULL;
	int64_t now;
	int r;

	/* Only API-key logins are cached: password logins are rare and their
	 * scrypt cost is the point. */
	if (strcasecmp(user, "apikey") != 0)
		return acct_auth_decide(out, h->db, user, pass, client_address);
	if (hookd_cache_sync(h, h->db) != ACCT_OK) {
		memset(out, 0, sizeof(*out));
		out->kind = ACCT_TEMPFAIL;
		out->reason = ACCT_R_STORE_UNAVAILABLE;
		return ACCT_OK;
	}
	now = acct_now(h->db);
	if (cache_auth_get(h->cache, out, pass, client_address, now))
		return ACCT_OK;
	r = acct_auth_decide(out, h->db, user, pass, client_address);
	if (r == ACCT_OK && out->kind == ACCT_ALLOW && acct_apikey_get(&k, h->db, out->key_id) == ACCT_OK)
		cache_auth_put(h->cache, out, pass, client_address, k->expires_at, now);
	acct_apikey_free(k);
	return r;
}

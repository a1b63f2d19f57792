/*
 * The daemon's handle on the store (see hookd.h).  The store is opened
 * lazily, never created, and reopened when it failed or when the file
 * at the configured path is no longer the one we have open (restored
 * from a backup, moved away, deleted): a stat(2) per request, so the
 * daemon never keeps answering from a file the administrator replaced.
 */
#include <string.h>
#include <sys/stat.h>

#include "hookd.h"
#include "log.h"

static void db_close(hookd *h)
{
	acct_close(h->db);
	h->db = NULL;
}

acct_db *hookd_db(hookd *h)
{
	acct_open_options o = ACCT_OPEN_OPTIONS_INIT;
	struct stat sb;
	time_t now;
	int r;

	if (h->db) {
		if (stat(h->conf.database, &sb) == 0 && sb.st_ino == h->db_ino && sb.st_dev == h->db_dev)
			return h->db;
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
	h->warned_at = 0;
	if (acct_warnings(h->db) & ACCT_WARN_FILE_MODE)
		hlog(LOG_WARNING, "%s is readable or writable by group or others", h->conf.database);
	hlog(LOG_INFO, "store %s open (schema %d)", h->conf.database, acct_schema_version(h->db));
	return h->db;
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
	return acct_auth_decide(out, h->db, user, pass, client_address);
}
